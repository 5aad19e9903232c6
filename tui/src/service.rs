//! The application layer under the three front ends (the headless export, the terminal
//! UI, the Admin API): collecting with a typed outcome, reading the reports, writing
//! files, and error text. None of it prints; each front end presents it its own way.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tally_core::collect::{self, CollectEvent, CollectSummary, ConnectorState};
use tally_core::report::{self, Provenance, Report, ReportOptions};
use tally_core::store::{CollectionRecord, Store, StoreError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::setup::{Setup, Source};

/// The version of tally written into every file (the Summary sheet's `Tally Version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What a report's provenance takes from the run rather than the store: the configured
/// connectors (name, kind) in order, and whether they are the demo data set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcesSpec {
    pub configured: Vec<(String, String)>,
    pub demo: bool,
}

impl SourcesSpec {
    pub fn of(setup: &Setup) -> SourcesSpec {
        SourcesSpec {
            configured: setup
                .connectors
                .iter()
                .map(|c| (c.name().to_owned(), c.kind().to_owned()))
                .collect(),
            demo: matches!(setup.source, Source::Demo(_)),
        }
    }
}

/// Opens the store and builds the report with its provenance (blocking work: call it off
/// the async executor). What every front end reads.
pub fn read_report(
    path: &Path,
    options: &ReportOptions,
    spec: &SourcesSpec,
) -> Result<Report, StoreError> {
    let store = Store::open(path)?;
    // Read before the counts: a collection ending meanwhile is then reported as it was
    // when the counts began, never as better than what they hold.
    let mut recorded = store.collections()?;
    // A connector that never finished well may still have stored records in a run that
    // failed later (its cursor moved): the report holds those, collected up to then.
    for c in recorded.iter_mut().filter(|c| c.last_ok_at.is_none()) {
        c.last_ok_at = store.cursor_saved_at(&c.connector)?;
    }
    let mut report = report::build_report(&store, options)?;
    report.provenance = Some(Provenance::new(
        &spec.configured,
        recorded,
        spec.demo,
        VERSION,
    ));
    Ok(report)
}

/// A connector whose collection failed this run.
pub struct Failed {
    pub name: String,
    pub reason: String,
    /// When the store last saved this connector's progress (its cursor): what the file
    /// holds of it was collected up to then.
    pub last_saved: Option<DateTime<Utc>>,
}

impl Failed {
    /// What the written file holds of this connector, for the final message.
    pub fn holds(&self) -> String {
        match self.last_saved {
            Some(t) => format!(
                "{}'s records from earlier collections, last collected at {}",
                self.name,
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            None => format!(
                "of {} only what this run stored before it failed, if anything (no earlier collection is recorded)",
                self.name
            ),
        }
    }
}

/// Collects every connector of `setup` into its store; `events` (if any) receives the
/// progress of each connector as it happens. How each connector's collection went is
/// recorded in the store as it finishes (the provenance of later reports), and once more
/// for all of them at the end, should a write have met a busy store.
pub async fn collect(
    setup: &Setup,
    shutdown: CancellationToken,
    events: Option<mpsc::UnboundedSender<CollectEvent>>,
) -> anyhow::Result<CollectSummary> {
    let kinds: Vec<(String, String)> = SourcesSpec::of(setup).configured;
    let count = kinds.len();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = collect::collect(
        setup.store_path.clone(),
        setup.connectors.clone(),
        shutdown.clone(),
        Some(tx),
    );
    let run_started = Utc::now();
    let store_path = setup.store_path.clone();
    let forward = async {
        let mut started: Vec<Option<DateTime<Utc>>> = vec![None; count];
        let mut ended: Vec<Option<DateTime<Utc>>> = vec![None; count];
        let mut received = vec![0u64; count];
        let mut writes = Vec::new();
        while let Some(event) = rx.recv().await {
            match &event {
                CollectEvent::Started { connector } => {
                    if let Some(s) = started.get_mut(*connector) {
                        *s = Some(Utc::now());
                    }
                }
                CollectEvent::Stored {
                    connector,
                    received: r,
                    ..
                } => {
                    if let Some(n) = received.get_mut(*connector) {
                        *n = *r;
                    }
                }
                CollectEvent::Finished { connector, state } => {
                    let now = Utc::now();
                    if let (Some(e), Some((name, kind))) =
                        (ended.get_mut(*connector), kinds.get(*connector))
                    {
                        *e = Some(now);
                        let record = CollectionRecord {
                            connector: name.clone(),
                            kind: kind.clone(),
                            failure: failure_of(state, &shutdown),
                            started_at: started[*connector].unwrap_or(run_started),
                            ended_at: now,
                            received: received[*connector],
                            last_ok_at: None,
                        };
                        // Not awaited here: the store may be busy with the collection's
                        // own transaction, and progress must keep flowing meanwhile.
                        let path = store_path.clone();
                        writes.push(tokio::task::spawn_blocking(move || {
                            record_outcomes(&path, &[record])
                        }));
                        // Once the last connector has ended, every outcome is in the store
                        // before anyone hears of that end: a front end may then build the
                        // final report without waiting for the writer to close.
                        if ended.iter().all(Option::is_some) {
                            for w in writes.drain(..) {
                                let _ = w.await;
                            }
                        }
                    }
                }
                _ => {}
            }
            if let Some(out) = &events {
                let _ = out.send(event);
            }
        }
        for w in writes {
            let _ = w.await;
        }
        (started, ended)
    };
    let (summary, (started, ended)) = tokio::join!(run, forward);
    let summary = summary.context("collection failed")?;
    let run_ended = Utc::now();
    // A connector that announced its end is recorded already (with the same state,
    // count and times the summary holds); the rest (stopped before they ended, or never
    // started) are recorded here.
    let records: Vec<CollectionRecord> = summary
        .connectors
        .iter()
        .enumerate()
        .filter(|(i, _)| ended.get(*i).copied().flatten().is_none())
        .map(|(i, c)| CollectionRecord {
            connector: c.name.clone(),
            kind: c.kind.clone(),
            failure: failure_of(&c.state, &shutdown),
            started_at: started.get(i).copied().flatten().unwrap_or(run_started),
            ended_at: run_ended,
            received: c.received,
            last_ok_at: None,
        })
        .collect();
    if !records.is_empty() {
        let path = setup.store_path.clone();
        let _ = tokio::task::spawn_blocking(move || record_outcomes(&path, &records)).await;
    }
    Ok(summary)
}

/// How a connector's collection went, for the store: `None` when it finished well.
fn failure_of(state: &ConnectorState, shutdown: &CancellationToken) -> Option<String> {
    match state {
        ConnectorState::Failed(reason) => Some(reason.clone()),
        // Stopped early (the UI closed, the server shutting down): whatever it returned,
        // it did not read everything.
        _ if shutdown.is_cancelled() => {
            Some("interrupted: tally stopped before the collection ended".to_owned())
        }
        ConnectorState::Done => None,
        ConnectorState::Waiting | ConnectorState::Running => Some("did not finish".to_owned()),
    }
}

/// Best effort: a report without this record only knows less about where its numbers
/// come from, so a failure is logged, not raised.
fn record_outcomes(path: &Path, records: &[CollectionRecord]) {
    let result = Store::open(path).and_then(|store| store.record_collections(records));
    if let Err(e) = result {
        tracing::warn!("cannot record how the collection went: {e}");
    }
}

/// The connectors of `summary` that failed, with when each last saved its progress.
pub async fn failed_of(setup: &Setup, summary: &CollectSummary) -> Vec<Failed> {
    let mut failed: Vec<Failed> = summary
        .connectors
        .iter()
        .filter_map(|c| match &c.state {
            ConnectorState::Failed(reason) => Some(Failed {
                name: c.name.clone(),
                reason: reason.to_string(),
                last_saved: None,
            }),
            _ => None,
        })
        .collect();
    when_last_saved(setup, &mut failed).await;
    failed
}

/// Fills in when each failed connector was last collected: the end of its last good
/// collection, else when the store last saved its cursor (records stored by a run that
/// failed later) — what the Summary sheet's `Partial Report` row says too. What a file
/// written now still holds of it.
pub async fn when_last_saved(setup: &Setup, failed: &mut [Failed]) {
    if failed.is_empty() {
        return;
    }
    let path = setup.store_path.clone();
    let names: Vec<String> = failed.iter().map(|f| f.name.clone()).collect();
    // Best effort: without the times the message is only less precise.
    let saved = tokio::task::spawn_blocking(move || {
        let store = Store::open(&path).ok()?;
        let recorded = store.collections().unwrap_or_default();
        Some(
            names
                .iter()
                .map(|n| {
                    recorded
                        .iter()
                        .find(|c| &c.connector == n)
                        .and_then(|c| c.last_ok_at)
                        .or_else(|| store.cursor_saved_at(n).ok().flatten())
                })
                .collect::<Vec<_>>(),
        )
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default();
    for (f, t) in failed.iter_mut().zip(saved) {
        f.last_saved = t;
    }
}

/// Builds the report with its provenance from the store (off the async executor), at
/// [`Setup::options_now`].
pub async fn build_report(setup: &Setup) -> anyhow::Result<Report> {
    let path = setup.store_path.clone();
    let options = setup.options_now();
    let spec = SourcesSpec::of(setup);
    tokio::task::spawn_blocking(move || read_report(&path, &options, &spec))
        .await
        .context("report task stopped")?
        .map_err(Into::into)
}

/// A destination ending in a separator names a directory: created if missing, so that
/// `--export out/` works on a fresh machine (the export itself writes into existing
/// directories only).
pub fn prepare_destination(dest: &Path) -> std::io::Result<()> {
    let text = dest.as_os_str().to_string_lossy();
    if text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        std::fs::create_dir_all(dest)?;
    }
    Ok(())
}

/// The file name of the insights workbook when `--insights` names a directory.
pub const INSIGHTS_NAME: &str = "Insights.xlsx";

/// Writes the access insights of SPEC §9 to `dest` (a directory means
/// `dest/Insights.xlsx`; a `.json` path the JSON of `GET /api/insights`), from the
/// store at [`Setup::options_now`], after the collection; returns the path written.
pub async fn write_insights(setup: &Setup, dest: &Path) -> anyhow::Result<PathBuf> {
    let path = setup.store_path.clone();
    let options =
        report::AccessOptions::from_report(&setup.options_now(), &setup.managed_domains());
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || -> anyhow::Result<PathBuf> {
        let insights = report::read_access_insights(&path, &options)?;
        Ok(tally_core::insights_export::write_insights(
            &insights, &dest,
        )?)
    })
    .await
    .context("insights task stopped")?
}

/// An error's chain on one line, each cause once: what every front end shows or logs.
pub fn one_line(e: &anyhow::Error) -> String {
    let parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if !out.iter().any(|o| o.contains(&p)) {
            out.push(p);
        }
    }
    out.join(": ").replace('\n', " ")
}
