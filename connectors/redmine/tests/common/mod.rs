//! Running a connector in a test and collecting everything it emits.

use tally_core::{ConnectorContext, Emit, Record};
use tally_http::CancellationToken;
use tokio::sync::mpsc;

/// What one connector run emitted.
#[derive(Debug, Default)]
pub struct Outcome {
    pub records: Vec<Record>,
    pub checkpoints: Vec<String>,
    pub warnings: Vec<String>,
    pub result: Option<Result<(), String>>,
}

/// Runs `connector` with `cursor` and collects everything it emits.
pub async fn run_connector(
    connector: &dyn tally_core::Connector,
    cursor: Option<String>,
) -> Outcome {
    let (tx, mut rx) = mpsc::channel(64);
    let ctx = ConnectorContext::new(0, connector.name(), cursor, tx, CancellationToken::new());
    let run = connector.run(ctx);
    let drain = async {
        let mut out = Outcome::default();
        while let Some(env) = rx.recv().await {
            match env.emit {
                Emit::Record(r) => out.records.push(r),
                Emit::Batch(rs) => out.records.extend(rs),
                Emit::Checkpoint(c) => out.checkpoints.push(c),
                Emit::Warning(w) => out.warnings.push(w),
                // Progress, and whatever the collector adds that a connector test ignores.
                _ => {}
            }
        }
        out
    };
    let (result, mut out) = tokio::join!(
        async {
            let r = run.await;
            r.map_err(|e| e.to_string())
        },
        drain
    );
    out.result = Some(result);
    out
}
