//! `tally --export PATH`: collect from every connector, then write the zip. Progress and
//! problems go to stderr, one line each; the exit status says whether all went well.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use anyhow::Context;

use tally_core::collect::{CollectEvent, ConnectorState};
use tally_core::destination::{self, DestinationError};
use tally_core::export;
use tally_core::report::Report;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::service::{
    self, build_report, prepare_destination, write_insights, Failed, INSIGHTS_NAME,
};
use crate::setup::Setup;

/// How an export ended, for the exit status.
pub struct Outcome {
    /// What was written: a file, or `-` for standard output.
    pub written: Vec<PathBuf>,
    pub failed: Vec<Failed>,
}

/// A problem with the command line or the configuration (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// How much goes to stderr: `-q` only problems, `-v` every progress step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static VERBOSITY: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

/// Sets the verbosity for the rest of the run (from `-q`/`-v`).
pub fn set_verbosity(v: Verbosity) {
    VERBOSITY.store(v as u8, Ordering::Relaxed);
}

fn verbosity() -> Verbosity {
    match VERBOSITY.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// One line on stderr. Unlike `eprintln!`, never panics when stderr is gone (a
/// scheduler may close it).
fn write_stderr(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// A progress line: not shown with `-q`.
fn say(line: &str) {
    if verbosity() >= Verbosity::Normal {
        write_stderr(line);
    }
}

/// A problem (a skipped line, a warning, a failed connector): shown even with `-q`.
fn warn(line: &str) {
    write_stderr(line);
}

pub use tally_core::sheets::thousands;

/// `1 connector`, `2 connectors`, `1,024 records`: the count with separators and the
/// right form of the noun.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

/// Collects into the store ([`service::collect`]), with progress on stderr.
pub async fn collect(setup: &Setup, shutdown: CancellationToken) -> anyhow::Result<Vec<Failed>> {
    let names: Vec<String> = setup
        .connectors
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = service::collect(setup, shutdown, Some(tx));
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
                } if verbosity() == Verbosity::Verbose || last_print.elapsed().as_secs() >= 1 => {
                    last_print = Instant::now();
                    say(&format!(
                        "{}: {} so far ({} new)",
                        names[connector],
                        counted(received, "record", "records"),
                        thousands(new)
                    ));
                }
                CollectEvent::Skipped { connector, message } => {
                    warn(&format!("{}: skipped {message}", names[connector]))
                }
                CollectEvent::Warning { connector, message } => {
                    warn(&format!("{}: warning: {message}", names[connector]))
                }
                _ => {}
            }
        }
    };
    let (summary, ()) = tokio::join!(run, printer);
    let summary = summary?;
    let mut failed = Vec::new();
    for c in &summary.connectors {
        let skipped = if c.skipped > 0 {
            format!(
                ", {} skipped",
                counted(c.skipped, "bad input line", "bad input lines")
            )
        } else {
            String::new()
        };
        match &c.state {
            ConnectorState::Failed(reason) => {
                warn(&format!(
                    "{}: FAILED after {}: {reason}{skipped}",
                    c.name,
                    counted(c.received, "record", "records")
                ));
                failed.push(Failed {
                    name: c.name.clone(),
                    reason: reason.to_string(),
                    last_saved: None,
                });
            }
            _ => say(&format!(
                "{}: done, {} ({} new){skipped}",
                c.name,
                counted(c.received, "record", "records"),
                thousands(c.new.total())
            )),
        }
    }
    service::when_last_saved(setup, &mut failed).await;
    Ok(failed)
}

/// `-` as a destination: the zip goes to standard output.
fn is_stdout(dest: &Path) -> bool {
    dest.as_os_str() == "-"
}

/// Checks a destination before collecting (a path that cannot be written should not cost
/// a collection): creates `out/` when asked for a directory, refuses special files and
/// missing directories, and a terminal as standard output.
pub fn check_destination(dest: &Path, default_name: &str) -> anyhow::Result<()> {
    if is_stdout(dest) {
        if std::io::stdout().is_terminal() {
            return Err(UsageError(
                "--export -: standard output is a terminal; redirect it to a file or a pipe (`> report.zip`)".into(),
            )
            .into());
        }
        return Ok(());
    }
    prepare_destination(dest)
        .with_context(|| format!("cannot create the directory {}", dest.display()))?;
    match destination::resolve(dest, default_name) {
        Ok(_) => Ok(()),
        Err(e) if e.is_usage() => Err(UsageError(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// What `tally --export` and `--insights` were asked to write.
pub struct Targets<'a> {
    pub export: Option<&'a Path>,
    pub insights: Option<&'a Path>,
}

/// Collects once, then writes every target asked for.
pub async fn run(setup: &Setup, targets: Targets<'_>) -> anyhow::Result<Outcome> {
    if let Some(dest) = targets.export {
        check_destination(dest, export::ZIP_NAME)?;
    }
    if let Some(dest) = targets.insights {
        check_destination(dest, INSIGHTS_NAME)?;
    }
    if let Some(notice) = crate::setup::no_connector_notice(setup) {
        return Err(UsageError(notice).into());
    }
    let started = Instant::now();
    let failed = collect(setup, CancellationToken::new()).await?;
    let collected = started.elapsed();
    let mut written = Vec::new();
    if let Some(dest) = targets.export {
        let then = if targets.insights.is_some() {
            AfterExport::Continue
        } else {
            AfterExport::Exit
        };
        written.push(export_report(setup, dest, then).await?);
    }
    if let Some(dest) = targets.insights {
        written.push(write_insights(setup, dest).await?);
    }
    for path in &written {
        say(&format!(
            "wrote {} (collected in {:.1}s, total {:.1}s)",
            if is_stdout(path) {
                "the zip to standard output".to_owned()
            } else {
                path.display().to_string()
            },
            collected.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(Outcome { written, failed })
}

/// What the headless run does after the export.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AfterExport {
    /// More work follows (the insights): the report is freed first, so that the two do
    /// not share the peak memory.
    Continue,
    /// The process ends: the report is left for the exit to take back.
    Exit,
}

/// Builds the report and writes `Usage Reports.zip` to `dest` (`-`: standard output; a
/// `.json` path: the report as one JSON document).
async fn export_report(setup: &Setup, dest: &Path, then: AfterExport) -> anyhow::Result<PathBuf> {
    let report = build_report(setup).await?;
    let dest = dest.to_path_buf();
    let (report, path) = tokio::task::spawn_blocking(move || {
        let path = if is_stdout(&dest) {
            write_stdout(&report).map(|()| dest)
        } else if tally_core::destination::wants_json(&dest) {
            tally_core::destination::write_bytes(
                &dest,
                &tally_core::report_json::report_json_bytes(&report),
            )
            .map_err(anyhow::Error::from)
        } else {
            export::write_usage_reports(&report, &dest).map_err(anyhow::Error::from)
        };
        (report, path)
    })
    .await
    .context("export task stopped")?;
    let path = path?;
    for w in [&report.six_months, &report.one_year] {
        let s = &w.summary;
        say(&format!(
            "{}: {} ({}), {}, {}, {} synced",
            w.window.kind.label(),
            counted(s.total_unique_users, "unique user", "unique users"),
            counted(s.service_accounts, "service account", "service accounts"),
            counted(s.unique_entity_types, "entity type", "entity types"),
            counted(s.unique_projects, "project", "projects"),
            counted(s.entities_synced, "entity", "entities"),
        ));
    }
    if then == AfterExport::Exit {
        // Freeing a report of a million users allocation by allocation takes seconds
        // (2.2 s of a 10 M export, bench/RESULTS.md) that nobody waits for: the process
        // ends right after this and the system takes the memory back at once.
        std::mem::forget(report);
    }
    Ok(path)
}

fn write_stdout(report: &Report) -> anyhow::Result<()> {
    let bytes = export::usage_reports_bytes(report)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)
        .and_then(|()| out.flush())
        .context("writing the zip to standard output")?;
    Ok(())
}

/// Whether `e` is a usage problem (exit status 2) rather than a failure.
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.is::<UsageError>()
        || e.downcast_ref::<DestinationError>()
            .is_some_and(DestinationError::is_usage)
        || e.downcast_ref::<export::ExportError>()
            .is_some_and(|x| matches!(x, export::ExportError::Destination(d) if d.is_usage()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators_and_the_right_plural() {
        assert_eq!(counted(1, "connector", "connectors"), "1 connector");
        assert_eq!(counted(2, "connector", "connectors"), "2 connectors");
        assert_eq!(counted(0, "record", "records"), "0 records");
        assert_eq!(counted(1_234_567, "record", "records"), "1,234,567 records");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
    }
}
