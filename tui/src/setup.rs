//! From the command line to what a run needs: the configuration (or the demo data set),
//! the store, the connectors and the report options. Shared by the terminal UI, the
//! headless export and the Admin API, so they all count the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use tally_config::Config;
use tally_core::report::ReportOptions;
use tally_core::Connector;

use crate::registry;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A configuration file.
    Config(PathBuf),
    /// The built-in demo data set; the reason is shown to the user.
    Demo(String),
}

pub struct Setup {
    pub source: Source,
    pub config: Option<Config>,
    pub store_path: PathBuf,
    pub connectors: Vec<Arc<dyn Connector>>,
    /// Report options; their `as_of` is the run's start unless `--as-of` fixed it. Reports
    /// take theirs from [`Setup::options_now`].
    pub options: ReportOptions,
    /// `--as-of`, when given.
    pub fixed_as_of: Option<DateTime<Utc>>,
    /// Deletes the demo's scratch store when the run ends.
    _scratch: Option<ScratchStore>,
}

/// A store file that lives as long as the run (the demo data set is rebuilt every time).
struct ScratchStore(PathBuf);

impl Drop for ScratchStore {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

impl Setup {
    /// The options for a report built now: without `--as-of` it ends now, after whatever
    /// was collected meanwhile, so records stamped during collection count.
    pub fn options_now(&self) -> ReportOptions {
        let mut options = self.options.clone();
        options.as_of = self.fixed_as_of.unwrap_or_else(Utc::now);
        options
    }
}

/// Parses `--as-of` (absent: `None`), naming the flag in the error.
pub fn parse_as_of(value: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    match value {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .with_context(|| {
                format!("--as-of {v:?} is not an RFC 3339 time; write e.g. 2026-11-01T00:00:00Z")
            }),
    }
}

/// The connector name under which `[[integration]]` tables are collected (brackets: no
/// `[[connector]]` name can be mistaken for it in progress lines).
pub const INTEGRATIONS_NAME: &str = "[[integration]]";

/// What to do when no configuration is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Use the demo data set and say so (the terminal UI).
    Demo,
    /// Fail: a scheduled export must not silently report demo data.
    Fail,
}

pub fn setup(
    config_flag: Option<&Path>,
    demo: bool,
    fixed_as_of: Option<DateTime<Utc>>,
    fallback: Fallback,
) -> anyhow::Result<Setup> {
    let as_of = fixed_as_of.unwrap_or_else(Utc::now);
    if demo {
        return Ok(demo_setup(
            "--demo: the built-in demo data set".into(),
            as_of,
            fixed_as_of,
        ));
    }
    let path = match config_flag {
        Some(p) => Some(p.to_path_buf()),
        None => tally_config::discover(),
    };
    let Some(path) = path else {
        let looked: Vec<String> = tally_config::default_locations()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return match fallback {
            Fallback::Demo => Ok(demo_setup(
                format!("no configuration found ({}): showing the built-in demo data", looked.join(", ")),
                as_of,
                fixed_as_of,
            )),
            Fallback::Fail => bail!(
                "no configuration found (looked for {}); pass --config FILE, or --demo for the demo data set",
                looked.join(", ")
            ),
        };
    };
    let config = Config::load(&path)?;
    // Plugins that cannot be loaded are reported and skipped; tally goes on without them.
    for problem in &registry::plugins(Some(&config)).problems {
        eprintln!("tally: {problem}");
    }
    let mut connectors = Vec::with_capacity(config.connectors.len());
    for entry in &config.connectors {
        connectors.push(registry::build(&config, entry, as_of)?);
    }
    if !config.integrations.is_empty() {
        let records = config
            .integrations
            .iter()
            .cloned()
            .map(tally_core::Record::Integration)
            .collect();
        connectors.push(Arc::new(tally_core::connector::StaticRecords::new(
            INTEGRATIONS_NAME,
            "config",
            records,
        )));
    }
    let options = ReportOptions {
        as_of,
        rules: config.identity.rules(),
        service_account_patterns: config.identity.service_accounts.clone(),
        ..ReportOptions::new(as_of)
    };
    Ok(Setup {
        source: Source::Config(path),
        store_path: config.store_path.clone(),
        connectors,
        options,
        fixed_as_of,
        config: Some(config),
        _scratch: None,
    })
}

fn demo_setup(reason: String, as_of: DateTime<Utc>, fixed_as_of: Option<DateTime<Utc>>) -> Setup {
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let store_path =
        std::env::temp_dir().join(format!("tally-demo-{}-{nanos}.db", std::process::id()));
    Setup {
        source: Source::Demo(reason),
        config: None,
        connectors: vec![Arc::new(tally_demo::DemoConnector::new("demo", as_of))],
        options: ReportOptions::new(as_of),
        fixed_as_of,
        _scratch: Some(ScratchStore(store_path.clone())),
        store_path,
    }
}
