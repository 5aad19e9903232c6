//! Where a report's numbers come from (SPEC §5, the Summary sheet below the counts): each
//! connector and how its last collection went, whether the data is the demo set, the
//! tally version that wrote the file and when. Plain data like the rest of the report;
//! `crate::sheets` describes how it is shown.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::CollectionRecord;

/// One connector the report's numbers may come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub name: String,
    pub kind: String,
    /// In the configuration now. A connector that is not any more still has its records in
    /// the store, and they still count.
    pub configured: bool,
    /// Its last recorded collection; `None` if it was never collected into this store.
    pub last: Option<CollectionRecord>,
    /// How the last collection went, as every front end shows it: `ok`, `failed: …`,
    /// `not collected yet`, with `(no longer configured)` after it where so.
    pub outcome: String,
}

impl Source {
    pub fn new(name: &str, kind: &str, configured: bool, last: Option<CollectionRecord>) -> Source {
        let mut outcome = match &last {
            None => "not collected yet".to_owned(),
            Some(c) => match &c.failure {
                None => "ok".to_owned(),
                Some(reason) => format!("failed: {}", one_line(reason)),
            },
        };
        if !configured {
            outcome.push_str(" (no longer configured)");
        }
        Source {
            name: name.to_owned(),
            kind: kind.to_owned(),
            configured,
            last,
            outcome,
        }
    }

    /// Whether what the report holds of this connector may be incomplete: its last
    /// collection failed, or it was never collected.
    pub fn incomplete(&self) -> bool {
        self.configured && self.last.as_ref().is_none_or(|c| c.failure.is_some())
    }

    /// When its last collection ended.
    pub fn collected_at(&self) -> Option<DateTime<Utc>> {
        self.last.as_ref().map(|c| c.ended_at)
    }

    /// When its last good collection ended.
    pub fn last_ok_at(&self) -> Option<DateTime<Utc>> {
        self.last.as_ref().and_then(|c| c.last_ok_at)
    }

    /// What the report holds of an incomplete connector, in words (the Summary sheet's
    /// `Partial Report` row, the JSON, the headless final line).
    pub fn holds(&self) -> String {
        match (&self.last, self.last_ok_at()) {
            (None, _) => format!(
                "{} has not been collected yet: the report holds none of its records",
                self.name
            ),
            (Some(_), Some(t)) => format!(
                "{}'s last collection failed, so its data may be incomplete: the report holds its records from earlier collections, last collected at {}",
                self.name,
                t.format("%Y-%m-%d %H:%M UTC")
            ),
            (Some(_), None) => format!(
                "{}'s last collection failed, so its data may be incomplete: the report holds of it only what was stored before it failed, if anything (no earlier collection is recorded)",
                self.name
            ),
        }
    }
}

/// A reason on one line and of a length a cell can show whole.
fn one_line(reason: &str) -> String {
    const MAX_CHARS: usize = 500;
    let flat = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// The provenance of a report. A report built outside a tally run (tests, benchmarks)
/// has none, and its Summary sheet then ends with the counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The configured connectors in configuration order, then those of the store that are
    /// configured no more, by name.
    pub sources: Vec<Source>,
    /// The numbers come from the built-in demo data set.
    pub demo: bool,
    /// The version of tally that built the report.
    pub version: String,
    /// When the file was written; `None` means "when it is written": the writers stamp
    /// the moment they write.
    pub written_at: Option<DateTime<Utc>>,
}

impl Provenance {
    /// The provenance of a store's data: `configured` (name, kind) in configuration order,
    /// `recorded` what the store says of each connector's last collection.
    pub fn new(
        configured: &[(String, String)],
        recorded: Vec<CollectionRecord>,
        demo: bool,
        version: &str,
    ) -> Provenance {
        let mut recorded = recorded;
        let mut sources: Vec<Source> = configured
            .iter()
            .map(|(name, kind)| {
                let last = recorded
                    .iter()
                    .position(|c| &c.connector == name)
                    .map(|i| recorded.swap_remove(i));
                Source::new(name, kind, true, last)
            })
            .collect();
        recorded.sort_by(|a, b| a.connector.cmp(&b.connector));
        sources.extend(
            recorded
                .into_iter()
                .map(|c| Source::new(&c.connector.clone(), &c.kind.clone(), false, Some(c))),
        );
        Provenance {
            sources,
            demo,
            version: version.to_owned(),
            written_at: None,
        }
    }

    /// The configured connectors whose data may be incomplete: the report is partial.
    pub fn incomplete(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.incomplete())
    }

    /// Configured connectors whose last collection failed.
    pub fn failed(&self) -> usize {
        self.sources
            .iter()
            .filter(|s| s.configured && s.last.as_ref().is_some_and(|c| c.failure.is_some()))
            .count()
    }

    /// Connectors in the configuration.
    pub fn configured(&self) -> usize {
        self.sources.iter().filter(|s| s.configured).count()
    }

    /// The moment a writer stamps on the file: [`Provenance::written_at`] if fixed, else
    /// now.
    pub fn written_at_or_now(&self) -> DateTime<Utc> {
        self.written_at.unwrap_or_else(Utc::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn record(name: &str, failure: Option<&str>, last_ok: Option<&str>) -> CollectionRecord {
        CollectionRecord {
            connector: name.into(),
            kind: "jsonl".into(),
            failure: failure.map(Into::into),
            started_at: t("2026-11-01T06:00:00Z"),
            ended_at: t("2026-11-01T06:01:00Z"),
            received: 12,
            last_ok_at: last_ok.map(t),
        }
    }

    #[test]
    fn sources_follow_the_configuration_then_the_store() {
        let configured = vec![
            ("b".to_owned(), "jsonl".to_owned()),
            ("a".to_owned(), "jira".to_owned()),
            ("new".to_owned(), "github".to_owned()),
        ];
        let recorded = vec![
            record("old", None, Some("2026-10-01T00:00:00Z")),
            record(
                "a",
                Some("401 Unauthorized\n  check the token"),
                Some("2026-10-30T06:00:00Z"),
            ),
            record("b", None, Some("2026-11-01T06:01:00Z")),
        ];
        let p = Provenance::new(&configured, recorded, false, "0.1.0");
        let names: Vec<&str> = p.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "new", "old"]);
        let outcomes: Vec<&str> = p.sources.iter().map(|s| s.outcome.as_str()).collect();
        assert_eq!(
            outcomes,
            [
                "ok",
                "failed: 401 Unauthorized check the token",
                "not collected yet",
                "ok (no longer configured)"
            ]
        );
        assert_eq!(p.failed(), 1);
        assert_eq!(p.configured(), 3);
        let incomplete: Vec<&str> = p.incomplete().map(|s| s.name.as_str()).collect();
        assert_eq!(incomplete, ["a", "new"]);
        assert!(
            p.sources[1]
                .holds()
                .contains("last collected at 2026-10-30 06:00 UTC"),
            "{}",
            p.sources[1].holds()
        );
        assert!(p.sources[2].holds().contains("none of its records"));
    }

    #[test]
    fn a_long_reason_is_cut_for_its_cell() {
        let long = "x".repeat(2_000);
        let s = Source::new("a", "jsonl", true, Some(record("a", Some(&long), None)));
        assert_eq!(s.outcome.chars().count(), "failed: ".len() + 500);
        assert!(s.outcome.ends_with('…'));
    }
}
