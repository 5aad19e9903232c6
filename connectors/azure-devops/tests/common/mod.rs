//! Running a connector against a mock server and looking at what it emitted.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use tally_core::connector::CancellationToken;
use tally_core::{Connector, ConnectorContext, ConnectorError, Emit, Record, UserObservation};
use tally_http::HttpOptions;
use tokio::sync::mpsc;

pub const SECRET: &str = "ado-test-pat-3b9d7f21c4e8";

/// What one run emitted, in order.
#[derive(Debug, Default)]
pub struct Run {
    pub result: Option<Result<(), String>>,
    pub emits: Vec<Emit>,
}

impl Run {
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for e in &self.emits {
            match e {
                Emit::Record(r) => out.push(r.clone()),
                Emit::Batch(b) => out.extend(b.iter().cloned()),
                _ => {}
            }
        }
        out
    }

    pub fn users(&self) -> Vec<UserObservation> {
        self.records()
            .into_iter()
            .filter_map(|r| match r {
                Record::User(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    pub fn checkpoints(&self) -> Vec<String> {
        self.emits
            .iter()
            .filter_map(|e| match e {
                Emit::Checkpoint(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn warnings(&self) -> Vec<String> {
        self.emits
            .iter()
            .filter_map(|e| match e {
                Emit::Warning(w) => Some(w.clone()),
                _ => None,
            })
            .collect()
    }

    /// Records emitted after the last checkpoint: lost if the store honours checkpoints
    /// only (they are not, since the store keeps every record; but the cursor must not
    /// have passed them).
    pub fn records_after_last_checkpoint(&self) -> usize {
        let last = self
            .emits
            .iter()
            .rposition(|e| matches!(e, Emit::Checkpoint(_)));
        self.emits[last.map_or(0, |i| i + 1)..]
            .iter()
            .map(|e| match e {
                Emit::Record(_) => 1,
                Emit::Batch(b) => b.len(),
                _ => 0,
            })
            .sum()
    }

    pub fn error(&self) -> String {
        match &self.result {
            Some(Err(e)) => e.clone(),
            other => panic!("expected the run to fail, got {other:?}"),
        }
    }
}

pub async fn run(connector: &dyn Connector, cursor: Option<String>) -> Run {
    let (tx, mut rx) = mpsc::channel(10_000);
    let ctx = ConnectorContext::new(0, connector.name(), cursor, tx, CancellationToken::new());
    let result = connector
        .run(ctx)
        .await
        .map_err(|e: ConnectorError| e.to_string());
    let mut emits = Vec::new();
    while let Ok(env) = rx.try_recv() {
        emits.push(env.emit);
    }
    Run {
        result: Some(result),
        emits,
    }
}

/// Short timeouts and backoffs, so failure tests end quickly.
pub fn fast() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        max_attempts: 2,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        max_concurrency: 4,
    }
}

/// The response body of a Microsoft example (`responses.200.body`).
pub fn example(name: &str) -> serde_json::Value {
    fixture(name)["responses"]["200"]["body"].clone()
}

pub fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Sets the test secret in `var` (every test uses the same value, so parallel tests agree).
pub fn set_secret(var: &str) {
    std::env::set_var(var, SECRET);
}
