//! The application layer under the three front ends (the headless export, the terminal
//! UI, the Admin API): collecting with a typed outcome, reading the reports, writing
//! files, and error text. None of it prints; each front end presents it its own way.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tally_core::collect::{self, CollectEvent, CollectSummary, ConnectorState};
use tally_core::report::{self, Report};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::setup::Setup;

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
/// progress of each connector as it happens.
pub async fn collect(
    setup: &Setup,
    shutdown: CancellationToken,
    events: Option<mpsc::UnboundedSender<CollectEvent>>,
) -> anyhow::Result<CollectSummary> {
    collect::collect(
        setup.store_path.clone(),
        setup.connectors.clone(),
        shutdown,
        events,
    )
    .await
    .context("collection failed")
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

/// Fills in when the store last saved each failed connector's cursor: what a file written
/// now still holds of it.
pub async fn when_last_saved(setup: &Setup, failed: &mut [Failed]) {
    if failed.is_empty() {
        return;
    }
    let path = setup.store_path.clone();
    let names: Vec<String> = failed.iter().map(|f| f.name.clone()).collect();
    // Best effort: without the times the message is only less precise.
    let saved = tokio::task::spawn_blocking(move || {
        let store = tally_core::store::Store::open(&path).ok()?;
        Some(
            names
                .iter()
                .map(|n| store.cursor_saved_at(n).ok().flatten())
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

/// Builds the report from the store (off the async executor), at [`Setup::options_now`].
pub async fn build_report(setup: &Setup) -> anyhow::Result<Report> {
    let path = setup.store_path.clone();
    let options = setup.options_now();
    tokio::task::spawn_blocking(move || report::read_report(&path, &options))
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
