//! tally-core: the domain of tally — identity resolution, the store, collection, the
//! reports, the sheets and the exports. No terminal, no command line, no HTTP client, and
//! nothing from `connectors/`: the records and the `Connector` trait come from `tally-model`.

pub mod access_sheets;
pub mod collect;
pub mod destination;
pub mod export;
pub mod identity;
pub mod insights_export;
pub mod report;
pub mod report_json;
pub mod sheets;
pub mod store;
mod xlsx;

/// What connectors build on lives in `tally-model`; re-exported so the domain reads as one.
pub use tally_model::{connector, model, testing, wire};
pub use tally_model::{
    Account, AccountStatus, BuildContext, Connector, ConnectorContext, ConnectorError,
    ConnectorFactory, Emit, EntityRef, Envelope, Integration, IntegrationEnd, IntegrationStatus,
    Interaction, Record, SyncRecord, SyncStatus, TwoStep, UserObservation,
};
