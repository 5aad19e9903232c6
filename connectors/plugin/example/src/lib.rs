//! `csv-tracker`: an example tally connector plugin. It reads the CSV export of an issue
//! tracker and reports who touched which issue. It is the template for new plugins
//! (see `docs/writing-a-connector.md`): the connector is an ordinary
//! [`tally_model::Connector`]; the last line of this file makes it a plugin.
//!
//! # Input format
//!
//! A CSV file (comma separated, RFC 4180 quoting, UTF-8) with a header row. Columns are
//! found by name (case and surrounding spaces ignored, any order, extra columns ignored):
//!
//! | column          | required | meaning |
//! |-----------------|----------|---------|
//! | `Issue key`     | yes      | the issue's id, e.g. `TRK-101` |
//! | `Project`       | no       | the project the issue belongs to |
//! | `Issue type`    | no       | `Bug`, `Story`, … |
//! | `Author email`  | no       | the last updater's email |
//! | `Author login`  | no       | the last updater's login |
//! | `Author name`   | no       | the last updater's display name |
//! | `Commenters`    | no       | `;`-separated: an entry with `@` is an email, else a login |
//! | `Updated`       | yes      | RFC 3339, or `YYYY-MM-DD HH:MM[:SS]` taken as UTC |
//!
//! Each row yields one `updater` observation for its author (if any identifier is
//! given) and one `comment_author` observation per commenter, all at `Updated`. A row
//! without a key or with an unreadable time is skipped and reported with file and line.
//!
//! # Settings
//!
//! ```toml
//! [[connector]]
//! name = "tracker"
//! kind = "csv-tracker"
//! path = "issues.csv"            # relative to the configuration file
//! system = "Tracker"             # the end system's name in the report (default "Tracker")
//! service_accounts = ["ci-bot"]  # logins the tracker marks as bots (default none)
//! ```
//!
//! The cursor is the latest `Updated` time read: the next run skips rows updated before
//! it (reading them again would not count twice, it would only take longer).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use tally_model::{
    Connector, ConnectorContext, ConnectorError, Interaction, Record, UserObservation,
};
use tally_plugin_sdk::{async_trait, Instance};

pub const KIND: &str = "csv-tracker";

/// Records sent to tally at once.
const BATCH: usize = 1_000;

/// `[[connector]] kind = "csv-tracker"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub path: PathBuf,
    #[serde(default = "default_system")]
    pub system: String,
    #[serde(default)]
    pub service_accounts: Vec<String>,
}

fn default_system() -> String {
    "Tracker".to_owned()
}

pub struct CsvTracker {
    name: String,
    path: PathBuf,
    system: String,
    service_accounts: Vec<String>,
}

impl CsvTracker {
    /// The constructor the plugin exports: settings in, connector out.
    pub fn from_settings(settings: Settings, instance: &Instance) -> Result<Self, ConnectorError> {
        if settings.system.trim().is_empty() {
            return Err(ConnectorError::Config(
                "`system` must name the end system, e.g. \"Tracker\"".to_owned(),
            ));
        }
        Ok(CsvTracker {
            name: instance.name().to_owned(),
            path: instance.resolve(&settings.path),
            system: settings.system,
            service_accounts: settings.service_accounts,
        })
    }
}

/// One row's worth of records, or why the row was skipped.
pub type RowResult = Result<(DateTime<Utc>, Vec<Record>), String>;

/// The column positions in a file.
struct Columns {
    key: usize,
    updated: usize,
    project: Option<usize>,
    entity_type: Option<usize>,
    email: Option<usize>,
    login: Option<usize>,
    name: Option<usize>,
    commenters: Option<usize>,
}

impl Columns {
    fn find(header: &csv::StringRecord) -> Result<Columns, String> {
        let position = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let required = |name: &str| {
            position(name).ok_or_else(|| {
                format!(
                    "the header has no `{name}` column (found: {})",
                    header.iter().collect::<Vec<_>>().join(", ")
                )
            })
        };
        Ok(Columns {
            key: required("Issue key")?,
            updated: required("Updated")?,
            project: position("Project"),
            entity_type: position("Issue type"),
            email: position("Author email"),
            login: position("Author login"),
            name: position("Author name"),
            commenters: position("Commenters"),
        })
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

impl CsvTracker {
    /// Parses a whole export. `Err` only when the file as a whole is unusable.
    pub fn parse(&self, bytes: &[u8]) -> Result<Vec<RowResult>, String> {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let header = reader
            .headers()
            .map_err(|e| format!("cannot read the header row: {e}"))?
            .clone();
        let cols = Columns::find(&header)?;
        let mut rows = Vec::new();
        for row in reader.records() {
            rows.push(match row {
                Ok(row) => self.row(&cols, &row),
                Err(e) => Err(e.to_string()),
            });
        }
        Ok(rows)
    }

    fn row(&self, cols: &Columns, row: &csv::StringRecord) -> RowResult {
        let line = row.position().map_or(0, |p| p.line());
        let cell = |i: Option<usize>| {
            i.and_then(|i| row.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let key = cell(Some(cols.key)).ok_or_else(|| format!("line {line}: no issue key"))?;
        let raw_time = cell(Some(cols.updated)).unwrap_or_default();
        let at = parse_time(&raw_time).ok_or_else(|| {
            format!("line {line}: `Updated` {raw_time:?} is not a time (write RFC 3339 or YYYY-MM-DD HH:MM)")
        })?;
        let project = cell(cols.project);
        let entity_type = cell(cols.entity_type);
        let observation = |interaction, email, username: Option<String>, display_name| {
            let service_account = username.as_ref().is_some_and(|u| {
                self.service_accounts
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(u))
            });
            Record::User(UserObservation {
                system: self.system.clone(),
                at,
                email,
                username,
                display_name,
                interaction,
                project: project.clone(),
                entity_type: entity_type.clone(),
                entity_id: Some(key.clone()),
                service_account,
            })
        };
        let mut records = Vec::new();
        let (email, login, name) = (cell(cols.email), cell(cols.login), cell(cols.name));
        if email.is_some() || login.is_some() || name.is_some() {
            records.push(observation(Interaction::Updater, email, login, name));
        }
        for who in cell(cols.commenters).iter().flat_map(|c| c.split(';')) {
            let who = who.trim();
            if who.is_empty() {
                continue;
            }
            let record = if who.contains('@') {
                observation(Interaction::CommentAuthor, Some(who.to_owned()), None, None)
            } else {
                observation(Interaction::CommentAuthor, None, Some(who.to_owned()), None)
            };
            records.push(record);
        }
        Ok((at, records))
    }
}

#[async_trait]
impl Connector for CsvTracker {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let bytes = tokio::fs::read(&self.path)
            .await
            .map_err(|source| ConnectorError::Io {
                path: self.path.clone(),
                source,
            })?;
        let file = self.path.display().to_string();
        let rows = self
            .parse(&bytes)
            .map_err(|e| ConnectorError::Source(format!("{file}: {e}")))?;
        let since = ctx
            .cursor()
            .and_then(|c| DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.with_timezone(&Utc));
        let total = rows.len() as u64;
        let mut latest = since;
        let mut batch = Vec::with_capacity(BATCH);
        for (done, row) in rows.into_iter().enumerate() {
            match row {
                Ok((at, records)) => {
                    if since.is_some_and(|s| at < s) {
                        continue;
                    }
                    latest = latest.max(Some(at));
                    batch.extend(records);
                }
                Err(e) => ctx.skipped(format!("{file}: {e}")).await?,
            }
            if batch.len() >= BATCH {
                ctx.send_batch(std::mem::take(&mut batch)).await?;
                ctx.progress(done as u64 + 1, Some(total)).await?;
            }
        }
        ctx.send_batch(batch).await?;
        ctx.progress(total, Some(total)).await?;
        if let Some(latest) = latest {
            // Saved only once everything above is stored.
            ctx.checkpoint(latest.to_rfc3339()).await?;
        }
        Ok(())
    }
}

tally_plugin_sdk::export_connector!(
    kind = KIND,
    version = env!("CARGO_PKG_VERSION"),
    description = "issues from an issue tracker's CSV export",
    CsvTracker::from_settings
);

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> CsvTracker {
        let settings = Settings {
            path: PathBuf::from("issues.csv"),
            system: "Tracker".into(),
            service_accounts: vec!["ci-bot".into()],
        };
        CsvTracker::from_settings(settings, &Instance::new("t", "/data")).expect("valid")
    }

    #[test]
    fn the_sample_parses_as_documented() {
        let t = tracker();
        assert_eq!(t.path, PathBuf::from("/data/issues.csv"));
        let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/sample/issues.csv"))
            .expect("sample");
        let rows = t.parse(&bytes).expect("parses");
        assert_eq!(rows.len(), 5);
        let (at, records) = rows[0].as_ref().expect("row 1");
        assert_eq!(at.to_rfc3339(), "2026-10-01T12:00:00+00:00");
        assert_eq!(records.len(), 3, "author and two commenters");
        let Record::User(author) = &records[0] else {
            panic!("user")
        };
        assert_eq!(author.username.as_deref(), Some("alee"));
        assert_eq!(author.interaction, Interaction::Updater);
        assert_eq!(author.entity_id.as_deref(), Some("TRK-101"));
        // Local time without zone is UTC; an offset is honoured.
        assert_eq!(
            rows[1].as_ref().expect("row 2").0.to_rfc3339(),
            "2026-10-02T09:30:00+00:00"
        );
        let (at, records) = rows[2].as_ref().expect("row 3");
        assert_eq!(at.to_rfc3339(), "2026-10-03T06:15:00+00:00");
        assert!(matches!(&records[0], Record::User(u) if u.service_account));
        assert!(
            matches!(&records[1], Record::User(u) if u.username.as_deref() == Some("alee") && !u.service_account)
        );
        let bad = rows[3].as_ref().expect_err("row 4 has no time");
        assert!(bad.starts_with("line 5: "), "{bad}");
    }

    #[test]
    fn a_missing_required_column_is_named() {
        let Err(err) = tracker().parse(b"Key,Updated\nA-1,2026-01-01T00:00:00Z\n") else {
            panic!("must fail")
        };
        assert!(err.contains("`Issue key`"), "{err}");
    }

    #[test]
    fn settings_are_strict() {
        let result = tally_plugin_sdk::create_with(
            CsvTracker::from_settings,
            serde_json::json!({"path": "x.csv", "sytem": "Typo"}),
            &Instance::new("t", "/"),
        );
        let Err(tally_plugin_sdk::CreateError::Settings(message)) = result else {
            panic!("settings error")
        };
        assert!(message.contains("unknown field `sytem`"), "{message}");
    }
}
