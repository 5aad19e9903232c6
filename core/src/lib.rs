//! tally-core: the domain of tally — records, the connector trait, identity resolution,
//! the store, the report and the export. No terminal, no command line, no HTTP client.

pub mod collect;
pub mod connector;
pub mod destination;
pub mod export;
pub mod identity;
pub mod model;
pub mod plugin;
pub mod report;
pub mod store;

pub use connector::{Connector, ConnectorContext, ConnectorError, Emit, Envelope};
pub use model::{
    Account, AccountStatus, EntityRef, Integration, IntegrationEnd, IntegrationStatus, Interaction,
    Record, SyncRecord, SyncStatus, TwoStep, UserObservation,
};
