//! tally-model: what a connector builds on. The records every connector yields (SPEC §2),
//! the `Connector` trait and the context it runs in, the JSON types that cross the plugin
//! boundary, and a harness to run a connector in a test. It knows no SQLite, xlsx, zip or
//! HTTP, so a plugin built on it compiles none of them.

pub mod block;
pub mod connector;
pub mod record;
pub mod testing;
pub mod wire;

/// The records under their historical module name (`tally_core::model`).
pub use record as model;

pub use block::{EntityView, RecordBlock, RecordView, SyncView, UserView};
pub use connector::{
    BuildContext, CancellationToken, Connector, ConnectorContext, ConnectorError, ConnectorFactory,
    Emit, Envelope,
};
pub use record::{
    Account, AccountStatus, EntityRef, Integration, IntegrationEnd, IntegrationStatus, Interaction,
    Record, SyncRecord, SyncStatus, TwoStep, UserObservation,
};
