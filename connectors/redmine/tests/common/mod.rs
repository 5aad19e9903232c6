//! Running a connector in a test and collecting everything it emits, in the shape these
//! tests read (on top of `tally_http::testing::run`).

// Each test binary reads part of it.
#![allow(dead_code)]

use tally_model::Record;

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
    connector: &dyn tally_model::Connector,
    cursor: Option<String>,
) -> Outcome {
    let run = tally_http::testing::run(connector, cursor).await;
    Outcome {
        records: run.records(),
        checkpoints: run.checkpoints(),
        warnings: run.warnings(),
        result: run.result,
    }
}
