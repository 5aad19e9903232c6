//! `tally --export PATH`: collect from every connector, then write the zip. Progress and
//! problems go to stderr, one line each; the exit status says whether all went well.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use tally_core::collect::{self, CollectEvent, ConnectorState};
use tally_core::export;
use tally_core::report::{self, Report};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::setup::Setup;

/// How an export ended, for the exit status.
pub struct Outcome {
    pub path: PathBuf,
    /// `name: reason` of every connector that failed.
    pub failed: Vec<String>,
}

/// One line on stderr. Unlike `eprintln!`, never panics when stderr is gone (a
/// scheduler may close it).
fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Collects into the store, with progress on stderr.
pub async fn collect(setup: &Setup, shutdown: CancellationToken) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> = setup
        .connectors
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = collect::collect(
        setup.store_path.clone(),
        setup.connectors.clone(),
        shutdown,
        Some(tx),
    );
    let printer = async {
        let mut last_print = Instant::now();
        while let Some(event) = rx.recv().await {
            match event {
                CollectEvent::Started { connector } => {
                    say(&format!("{}: collecting", names[connector]))
                }
                CollectEvent::Stored {
                    connector,
                    received,
                    new,
                } if last_print.elapsed().as_secs() >= 1 => {
                    last_print = Instant::now();
                    say(&format!(
                        "{}: {received} records so far ({new} new)",
                        names[connector]
                    ));
                }
                CollectEvent::Skipped { connector, message } => {
                    say(&format!("{}: skipped {message}", names[connector]))
                }
                CollectEvent::Warning { connector, message } => {
                    say(&format!("{}: warning: {message}", names[connector]))
                }
                _ => {}
            }
        }
    };
    let (summary, ()) = tokio::join!(run, printer);
    let summary = summary.context("collection failed")?;
    let mut failed = Vec::new();
    for c in &summary.connectors {
        let skipped = if c.skipped > 0 {
            format!(", {} bad input lines skipped", c.skipped)
        } else {
            String::new()
        };
        match &c.state {
            ConnectorState::Failed(reason) => {
                say(&format!(
                    "{}: FAILED after {} records: {reason}{skipped}",
                    c.name, c.received
                ));
                failed.push(format!("{}: {reason}", c.name));
            }
            _ => say(&format!(
                "{}: done, {} records ({} new){skipped}",
                c.name,
                c.received,
                c.new.total()
            )),
        }
    }
    Ok(failed)
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

pub async fn export(setup: &Setup, dest: &Path) -> anyhow::Result<Outcome> {
    // Before collecting: a destination that cannot exist should not cost a collection.
    prepare_destination(dest)
        .with_context(|| format!("cannot create the directory {}", dest.display()))?;
    let started = Instant::now();
    let failed = collect(setup, CancellationToken::new()).await?;
    let collected = started.elapsed();
    let report = build_report(setup).await?;
    let dest = dest.to_path_buf();
    let (report, path) = tokio::task::spawn_blocking(move || {
        let path = export::write_usage_reports(&report, &dest);
        (report, path)
    })
    .await
    .context("export task stopped")?;
    let path = path?;
    for w in [&report.six_months, &report.one_year] {
        let s = &w.summary;
        say(&format!(
            "{}: {} unique users ({} service accounts), {} entity types, {} projects, {} entities synced",
            w.window.kind.label(),
            s.total_unique_users,
            s.service_accounts,
            s.unique_entity_types,
            s.unique_projects,
            s.entities_synced
        ));
    }
    say(&format!(
        "wrote {} (collected in {:.1}s, total {:.1}s)",
        path.display(),
        collected.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    Ok(Outcome { path, failed })
}
