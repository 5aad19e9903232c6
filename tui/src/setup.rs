//! From the command line to what a run needs: the configuration (or the demo data set),
//! the store, the connectors and the report options. Shared by the terminal UI, the
//! headless export and the Admin API, so they all count the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::bail;
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
    /// The organisation's own email domains: `[identity] managed_domains`, or the demo
    /// organisation's.
    pub fn managed_domains(&self) -> Vec<String> {
        match (&self.config, &self.source) {
            (Some(c), _) => c.identity.managed_domains.clone(),
            (None, Source::Demo(_)) => tally_demo::MANAGED_DOMAINS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
            (None, _) => Vec::new(),
        }
    }

    pub fn options_now(&self) -> ReportOptions {
        let mut options = self.options.clone();
        options.as_of = self.fixed_as_of.unwrap_or_else(Utc::now);
        options
    }
}

/// Parses `--as-of` (absent: `None`): an RFC 3339 time, or a date `YYYY-MM-DD` meaning
/// midnight UTC at its start. The error names the flag and both forms.
pub fn parse_as_of(value: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let Some(v) = value else {
        return Ok(None);
    };
    let t = v.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(t) {
        return Ok(Some(time.with_timezone(&Utc)));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(Some(midnight.and_utc()));
        }
    }
    bail!(
        "--as-of {v:?} is neither a date nor an RFC 3339 time; write e.g. 2026-11-01 (midnight UTC) or 2026-11-01T08:00:00Z"
    )
}

/// What to tell the user when the configuration has no `[[connector]]` at all: the
/// reports would be all zeros (or old store data). `--export`/`--insights` refuse to run;
/// the terminal UI shows it as a notice.
pub fn no_connector_notice(setup: &Setup) -> Option<String> {
    let config = setup.config.as_ref()?;
    if !config.connectors.is_empty() {
        return None;
    }
    Some(format!(
        "{}: no [[connector]] is configured, so there is nothing to collect; add a [[connector]] table with `name`, `kind` and its settings (`tally connectors` lists the kinds; docs/cli.md has examples), or run with --demo for the demo data set",
        config.path.display()
    ))
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
    // A secret that is not there fails now, before anything is collected, rather than
    // half-way through as a failed connector.
    config.check_secrets()?;
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
        active_days: config.insights.active_days,
        dormant_days: config.insights.dormant_days,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_takes_a_date_as_midnight_utc_or_an_rfc3339_time() {
        let midnight: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("time");
        assert_eq!(
            parse_as_of(Some("2026-11-01")).expect("date"),
            Some(midnight)
        );
        assert_eq!(
            parse_as_of(Some("2026-11-01T01:00:00+01:00")).expect("time"),
            Some(midnight)
        );
        assert_eq!(parse_as_of(None).expect("none"), None);
        let err = parse_as_of(Some("yesterday")).expect_err("bad").to_string();
        assert!(
            err.contains("--as-of") && err.contains("2026-11-01"),
            "{err}"
        );
        assert!(parse_as_of(Some("2026-02-30")).is_err());
    }
}
