//! Running a connector in a test and looking at what it emitted: for connector tests and
//! plugin authors.

use crate::connector::{CancellationToken, Connector, ConnectorContext, ConnectorError, Emit};
use crate::record::{Record, UserObservation};
use tokio::sync::mpsc;

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
                Emit::Block(b) => out.extend(b.to_records()),
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
                Emit::Block(b) => b.len(),
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

/// Runs `connector` from `cursor` to its end, then takes what it emitted. The channel holds
/// 10,000 emits; a run that emits more waits for ever, so keep test data below that.
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
