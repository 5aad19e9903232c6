//! The `Connector` trait and the context it runs in (DESIGN "Connectors").
//!
//! A connector streams records into its context; the collector stores them. The trait is
//! object safe, `Send + Sync` and has no generic methods, so a connector loaded from a
//! shared library can implement it through an adapter.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::mpsc;
pub use tokio_util::sync::CancellationToken;

use crate::block::RecordBlock;
use crate::record::Record;

/// Why a connector stopped early. The message is shown to the administrator next to the
/// connector's name, so it says what to check; it never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connector's settings cannot work (missing key, unreadable path, …).
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The end system answered with something the connector cannot use.
    #[error("{0}")]
    Source(String),
    /// Collection was cancelled (shutdown, quit) before the connector finished.
    #[error("collection was cancelled")]
    Cancelled,
    /// The store stopped taking records (it failed, or collection ended).
    #[error("the store stopped accepting records")]
    StoreClosed,
}

/// What a connector hands to the collector, in order.
#[derive(Debug)]
pub enum Emit {
    Record(Record),
    Batch(Vec<Record>),
    /// Many records in compact form (see [`RecordBlock`]).
    Block(RecordBlock),
    /// Everything emitted before this is stored before the cursor is saved.
    Checkpoint(String),
    /// A problem worth telling the administrator that did not stop the connector
    /// (e.g. a bad line that was skipped).
    Warning(String),
    /// An input item (e.g. a line of a file) was bad and skipped; counted in the summary.
    Skipped(String),
    /// Progress of this connector: work done of total, where the total is known.
    Progress {
        done: u64,
        total: Option<u64>,
    },
    /// Sent by the collector, never by a connector: `run` returned (with the error, if
    /// any). It travels behind the connector's records so it is announced after them.
    #[doc(hidden)]
    Finished(Option<String>),
}

/// One message on the shared channel from connectors to the store writer.
#[derive(Debug)]
pub struct Envelope {
    pub connector: usize,
    pub emit: Emit,
}

/// A connector's view of the collection run: where records go, its resumable cursor,
/// and the shutdown signal.
#[derive(Clone)]
pub struct ConnectorContext {
    index: usize,
    name: Arc<str>,
    cursor: Option<String>,
    tx: mpsc::Sender<Envelope>,
    shutdown: CancellationToken,
}

impl ConnectorContext {
    pub fn new(
        index: usize,
        name: &str,
        cursor: Option<String>,
        tx: mpsc::Sender<Envelope>,
        shutdown: CancellationToken,
    ) -> Self {
        ConnectorContext {
            index,
            name: Arc::from(name),
            cursor,
            tx,
            shutdown,
        }
    }

    /// The instance name from the configuration.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cursor saved after the last successful checkpoint of this connector, if any.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    /// Cancelled when collection is being stopped; long waits should `select!` on it.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    pub fn is_cancelled(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    async fn emit(&self, emit: Emit) -> Result<(), ConnectorError> {
        if self.shutdown.is_cancelled() {
            return Err(ConnectorError::Cancelled);
        }
        self.tx
            .send(Envelope {
                connector: self.index,
                emit,
            })
            .await
            .map_err(|_| ConnectorError::StoreClosed)
    }

    pub async fn send(&self, record: impl Into<Record>) -> Result<(), ConnectorError> {
        self.emit(Emit::Record(record.into())).await
    }

    /// Sends many records at once; cheaper per record than `send` for bulk sources.
    pub async fn send_batch(&self, records: Vec<Record>) -> Result<(), ConnectorError> {
        if records.is_empty() {
            return Ok(());
        }
        self.emit(Emit::Batch(records)).await
    }

    /// Sends many records in compact form: for sources of millions of records, which
    /// then allocate per block instead of per text.
    pub async fn send_block(&self, block: RecordBlock) -> Result<(), ConnectorError> {
        if block.is_empty() {
            return Ok(());
        }
        self.emit(Emit::Block(block)).await
    }

    /// Saves `cursor` once every record sent before it is committed.
    pub async fn checkpoint(&self, cursor: impl Into<String>) -> Result<(), ConnectorError> {
        self.emit(Emit::Checkpoint(cursor.into())).await
    }

    pub async fn warn(&self, message: impl Into<String>) -> Result<(), ConnectorError> {
        self.emit(Emit::Warning(message.into())).await
    }

    /// Reports an input item that was skipped (bad line, unparseable entity).
    pub async fn skipped(&self, message: impl Into<String>) -> Result<(), ConnectorError> {
        self.emit(Emit::Skipped(message.into())).await
    }

    pub async fn progress(&self, done: u64, total: Option<u64>) -> Result<(), ConnectorError> {
        self.emit(Emit::Progress { done, total }).await
    }
}

/// An end system's connector: one configured instance, ready to run.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The unique instance name from the configuration (`[[connector]] name`).
    fn name(&self) -> &str;
    /// The connector kind (`jsonl`, `demo`, `redmine`, …).
    fn kind(&self) -> &str;
    /// Streams records into `ctx` until done, failed or cancelled.
    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError>;
}

/// What building a connector may use besides its own settings.
#[derive(Debug, Clone, Copy)]
pub struct BuildContext<'a> {
    /// The instance name (`[[connector]] name`).
    pub name: &'a str,
    /// The configuration file's directory: relative paths in settings resolve here.
    pub base_dir: &'a std::path::Path,
    /// The report's end time; the demo data set is anchored to it.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

/// A built-in connector kind (vector's `SourceConfig`): its name in the configuration,
/// the line `tally connectors` shows, its strict settings, and how settings become a
/// running connector. A connector crate implements this once; the application's registry
/// lists each implementation on one line.
pub trait ConnectorFactory: 'static {
    /// `[[connector]]` keys other than `name` and `kind`; unknown keys must be errors
    /// (`#[serde(deny_unknown_fields)]`).
    type Settings: serde::de::DeserializeOwned;
    /// The `kind` in the configuration.
    const KIND: &'static str;
    /// One line for `tally connectors`.
    const DESCRIPTION: &'static str;
    /// Settings that parse but cannot work (an empty `token_env`, a bad URL) are a
    /// [`ConnectorError::Config`] naming the key.
    fn build(
        settings: Self::Settings,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, ConnectorError>;
}

/// A connector that sends a fixed list of records: what the configuration itself declares
/// (`[[integration]]` tables) goes through the same collector and store as everything else.
pub struct StaticRecords {
    name: String,
    kind: String,
    records: Vec<Record>,
}

impl StaticRecords {
    pub fn new(name: &str, kind: &str, records: Vec<Record>) -> Self {
        StaticRecords {
            name: name.to_owned(),
            kind: kind.to_owned(),
            records,
        }
    }
}

#[async_trait]
impl Connector for StaticRecords {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        &self.kind
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        ctx.send_batch(self.records.clone()).await
    }
}
