//! `tally --export` end to end: real files in, the real binary, the zip read back.

mod common;

use std::path::Path;

use calamine::Data;
use common::*;

const AS_OF: &str = "2026-11-01T00:00:00Z";

/// A small organisation whose every number can be worked out by hand from SPEC §3–4.
fn write_records(dir: &Path) {
    let lines = [
        // Ann: username + email in Jira (rule 1), seen again in GitHub by login only.
        r#"{"kind":"user","system":"Jira","at":"2026-10-01T10:00:00Z","email":"Ann@corp.example","username":"ann","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"}"#,
        r#"{"kind":"user","system":"GitHub","at":"2026-09-01T10:00:00Z","username":"ANN","interaction":"updater"}"#,
        // Bob: email only (rule 2).
        r#"{"kind":"user","system":"Azure DevOps","at":"2026-10-02T10:00:00Z","email":"bob@corp.example","display_name":"Bob Ray","interaction":"mapped_user_field"}"#,
        // Cara: display name only, and only inside the 1-year window.
        r#"{"kind":"user","system":"Jira","at":"2026-03-01T10:00:00Z","display_name":"Cara  Diaz","interaction":"mention"}"#,
        // A bot the system flags as such.
        r#"{"kind":"user","system":"GitHub","at":"2026-10-03T10:00:00Z","username":"dependabot[bot]","interaction":"updater","service_account":true}"#,
        // Outside both windows.
        r#"{"kind":"user","system":"GitLab","at":"2025-06-01T10:00:00Z","username":"zed","interaction":"updater"}"#,
        // Not JSON at all: skipped, reported with its line number (7).
        r#"this line is not json"#,
        // Synced twice: one entity pair.
        r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"11"}}"#,
        r#"{"kind":"sync","at":"2026-10-05T12:00:05Z","status":"success","source":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"11"},"target":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"}}"#,
        // Failed: not counted.
        r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"failed","source":{"system":"Jira","project":"OPS","entity_type":"Task","entity_id":"OPS-2"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Task","entity_id":"12"}}"#,
        // Only in the 1-year window.
        r#"{"kind":"sync","at":"2026-02-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Story","entity_id":"OPS-3"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"User Story","entity_id":"13"}}"#,
        r#"{"kind":"integration","name":"OPS <-> Fabrikam","status":"active","updated_at":"2026-01-01T08:00:00Z","ends":[{"system":"Jira","project":"OPS","entity_types":["Bug","Story"]},{"system":"Azure DevOps","project":"Fabrikam","entity_types":["Bug","User Story"]}]}"#,
        r#"{"kind":"integration","name":"HELP <-> SUP","status":"inactive","updated_at":"2025-12-01T08:00:00Z","ends":[{"system":"Jira","project":"HELP","entity_types":["Bug"]},{"system":"ServiceNow","project":"SUP","entity_types":["incident"]}]}"#,
    ];
    std::fs::create_dir_all(dir.join("records")).expect("mkdir");
    std::fs::write(dir.join("records/log.jsonl"), lines.join("\n")).expect("write");
    std::fs::write(
        dir.join("tally.toml"),
        "[store]\npath = \"tally.db\"\n\n[[connector]]\nname = \"sync-log\"\nkind = \"jsonl\"\npath = \"records\"\n",
    )
    .expect("write config");
}

#[test]
fn export_from_a_config_gives_the_numbers_the_rules_say() {
    let dir = tempfile::tempdir().expect("dir");
    write_records(dir.path());
    let out = tally(
        dir.path(),
        &[
            "--config",
            "tally.toml",
            "--export",
            "out.zip",
            "--as-of",
            AS_OF,
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("log.jsonl:7: "), "bad line reported: {err}");
    assert!(err.contains("1 bad input line skipped"), "{err}");

    let (names, books) = read_zip(&dir.path().join("out.zip"));
    assert_eq!(names, vec![SIX.to_owned(), YEAR.to_owned()]);
    let six = &books[SIX];
    assert_eq!(
        six.names,
        [
            "Summary",
            "Unique User Count",
            "Entity Type Count",
            "Integrated Project Count",
            "Synced Data Count",
            "Detailed User Report"
        ]
    );
    assert_eq!(check_agreement(six), 2.0);
    assert_eq!(six.summary("Usernames or Emails"), 1.0);
    assert_eq!(six.summary("Emails"), 1.0);
    assert_eq!(six.summary("Service Accounts"), 1.0);
    assert_eq!(six.summary("Total Unique Entity Types"), 2.0);
    assert_eq!(six.summary("Total Unique Projects"), 2.0);
    assert_eq!(six.summary("Total Entities Synced"), 1.0);
    let per_system: Vec<(String, f64)> = six.sheet("Unique User Count")[1..]
        .iter()
        .map(|r| (text(&r[0]), number(&r[1])))
        .collect();
    assert_eq!(
        per_system,
        [
            ("Azure DevOps".to_owned(), 1.0),
            ("GitHub".to_owned(), 1.0),
            ("Jira".to_owned(), 1.0),
            ("All Systems".to_owned(), 2.0)
        ]
    );
    let ann = six.sheet("Detailed User Report")[1..]
        .iter()
        .find(|r| text(&r[0]) == "ann@corp.example")
        .expect("Ann's row");
    assert_eq!(text(&ann[3]), "Usernames or Emails");
    assert_eq!(
        text(&ann[5]),
        "GitHub (2026-09-01 10:00), Jira (2026-10-01 10:00)"
    );

    let year = &books[YEAR];
    assert_eq!(check_agreement(year), 3.0);
    assert_eq!(year.summary("Display Names"), 1.0);
    assert_eq!(year.summary("Total Unique Entity Types"), 4.0);
    assert_eq!(year.summary("Total Unique Projects"), 4.0);
    assert_eq!(year.summary("Total Entities Synced"), 2.0);
}

#[test]
fn exporting_twice_gives_the_same_numbers_and_stores_nothing_twice() {
    let dir = tempfile::tempdir().expect("dir");
    write_records(dir.path());
    let args = ["--config", "tally.toml", "--export", ".", "--as-of", AS_OF];
    let first = tally(dir.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let zip = dir.path().join("Usage Reports.zip");
    let (_, a) = read_zip(&zip);
    let second = tally(dir.path(), &args);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).contains("(0 new)"), "{}", stderr(&second));
    let (_, b) = read_zip(&zip);
    for name in [SIX, YEAR] {
        for (sheet, rows) in &a[name].sheets {
            assert_eq!(
                without_moments(rows),
                without_moments(b[name].sheet(sheet)),
                "{name} / {sheet} identical but for when it was collected and written"
            );
        }
    }
}

/// The Summary sheet's rows from its Sources header down, as found by label.
struct Sources<'a>(&'a [Vec<Data>]);

impl Sources<'_> {
    fn of(book: &Workbook) -> Sources<'_> {
        let rows = book.sheet("Summary");
        let start = rows
            .iter()
            .position(|r| text(&r[0]) == "Sources")
            .unwrap_or_else(|| panic!("no Sources block: {rows:?}"));
        // Below the counts, after one blank row.
        assert!(
            rows[start - 1].iter().all(|c| c == &Data::Empty),
            "a blank row before the Sources block"
        );
        Sources(&rows[start..])
    }

    fn row(&self, first: &str) -> &Vec<Data> {
        self.0
            .iter()
            .find(|r| text(&r[0]) == first)
            .unwrap_or_else(|| panic!("no row {first}: {:?}", self.0))
    }

    fn header(&self) -> Vec<String> {
        self.0[0]
            .iter()
            .map(text)
            .filter(|t| !t.is_empty())
            .collect()
    }
}

fn minute(d: &Data) -> String {
    match d {
        Data::DateTime(dt) => dt
            .as_datetime()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| panic!("not a date: {d:?}")),
        other => panic!("a date-time cell, not {other:?}"),
    }
}

#[test]
fn a_demo_export_says_so_with_its_connector_and_version() {
    let dir = tempfile::tempdir().expect("dir");
    let before = chrono::Utc::now() - chrono::Duration::minutes(1);
    let out = tally(
        dir.path(),
        &["--demo", "--export", "out.zip", "--as-of", AS_OF],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    for name in [SIX, YEAR] {
        let sources = Sources::of(&books[name]);
        assert_eq!(
            sources.header(),
            [
                "Sources",
                "Kind",
                "Last Collection",
                "Collected At (UTC)",
                "Records Received",
                "Last Good Collection (UTC)"
            ]
        );
        let demo = sources.row("demo");
        assert_eq!(text(&demo[1]), "demo");
        assert_eq!(text(&demo[2]), "ok");
        assert!(minute(&demo[3]) >= before.format("%Y-%m-%d %H:%M").to_string());
        assert!(number(&demo[4]) > 100_000.0, "records received: {demo:?}");
        assert!(text(&sources.row("Demo data")[1]).starts_with("Yes"));
        assert_eq!(
            text(&sources.row("Tally Version")[1]),
            env!("CARGO_PKG_VERSION")
        );
        let written = minute(&sources.row("Written At (UTC)")[1]);
        assert!(written >= minute(&demo[3]), "written after collecting");
        assert!(
            !sources.0.iter().any(|r| text(&r[0]) == "Partial Report"),
            "a complete report"
        );
    }
    // The JSON export says the same.
    let out = tally(
        dir.path(),
        &["--demo", "--export", "out.json", "--as-of", AS_OF],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).expect("json"))
            .expect("valid");
    let p = &doc["windows"]["1y"]["provenance"];
    assert_eq!(p["demo_data"], true);
    assert_eq!(p["tally_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(p["sources"][0]["Sources"], "demo");
    assert_eq!(p["sources"][0]["Last Collection"], "ok");
}

#[test]
fn a_failed_connector_is_named_in_the_file_with_its_earlier_collection() {
    let dir = tempfile::tempdir().expect("dir");
    write_records(dir.path());
    std::fs::write(
        dir.path().join("tally.toml"),
        "[store]\npath = \"tally.db\"\n\n[[connector]]\nname = \"sync-log\"\nkind = \"jsonl\"\npath = \"records\"\n\n[[connector]]\nname = \"second\"\nkind = \"jsonl\"\npath = \"second.jsonl\"\n",
    )
    .expect("config");
    std::fs::write(
        dir.path().join("second.jsonl"),
        r#"{"kind":"user","system":"Redmine","at":"2026-10-01T10:00:00Z","username":"dora","interaction":"updater"}"#,
    )
    .expect("records");
    let args = ["--export", "out.zip", "--as-of", AS_OF];
    let first = tally(dir.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    let earlier = minute(&Sources::of(&books[SIX]).row("second")[3]);

    // The file goes away: the next collection of `second` fails.
    std::fs::remove_file(dir.path().join("second.jsonl")).expect("remove");
    let second = tally(dir.path(), &args);
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(3), "{err}");
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    for name in [SIX, YEAR] {
        let sources = Sources::of(&books[name]);
        let ok = sources.row("sync-log");
        assert_eq!(text(&ok[2]), "ok");
        let failed = sources.row("second");
        assert_eq!(text(&failed[1]), "jsonl");
        let outcome = text(&failed[2]);
        assert!(
            outcome.starts_with("failed: ") && outcome.contains("second.jsonl"),
            "{outcome}"
        );
        assert!(minute(&failed[3]) >= earlier, "when it failed");
        assert_eq!(minute(&failed[5]), earlier, "its last good collection");
        let partial = text(&sources.row("Partial Report")[1]);
        assert!(
            partial.contains("second's last collection failed")
                && partial.contains(&format!(
                    "records from earlier collections, last collected at {earlier} UTC"
                )),
            "{partial}"
        );
        assert!(!partial.contains("sync-log"), "{partial}");
    }
    // The earlier records still count, and the final line says the same as the file.
    assert_eq!(books[SIX].summary("Total Unique Users"), 3.0);
    assert!(
        err.contains(&format!("last collected at {earlier} UTC")),
        "{err}"
    );
}

#[test]
fn a_bad_configuration_names_file_line_and_key() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("tally.toml"),
        "[store]\npath = \"t.db\"\n\n[[connector]]\nname = \"log\"\nkind = \"jsonl\"\npaht = \"x.jsonl\"\n",
    )
    .expect("write");
    let out = tally(dir.path(), &["--export", "out.zip"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    // The key's line and column, not the table's; its dotted path; what was expected.
    assert!(
        err.contains("tally.toml:7:1: connector `log` (kind jsonl): connector[1].paht: unknown field `paht`, expected"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!dir.path().join("out.zip").exists());
}

#[test]
fn no_configuration_and_no_demo_flag_is_refused_for_export() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tally(dir.path(), &["--export", "out.zip"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--demo"), "{}", stderr(&out));
}

#[test]
fn a_bad_as_of_is_refused_with_an_example() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tally(
        dir.path(),
        &["--demo", "--export", "x.zip", "--as-of", "yesterday"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
}

#[test]
fn a_failed_connector_does_not_stop_the_others() {
    let dir = tempfile::tempdir().expect("dir");
    write_records(dir.path());
    std::fs::write(
        dir.path().join("tally.toml"),
        "[[connector]]\nname = \"sync-log\"\nkind = \"jsonl\"\npath = \"records\"\n\n[[connector]]\nname = \"gone\"\nkind = \"jsonl\"\npath = \"missing.jsonl\"\n",
    )
    .expect("write");
    let out = tally(dir.path(), &["--export", "out.zip", "--as-of", AS_OF]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "partial export: {err}");
    assert!(err.contains("gone: FAILED"), "{err}");
    assert!(err.contains("missing.jsonl"), "{err}");
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    assert_eq!(books[SIX].summary("Total Unique Users"), 2.0);
}

#[test]
fn the_demo_data_set_exports_a_believable_report() {
    let dir = tempfile::tempdir().expect("dir");
    // A path ending in a separator is a directory, created if missing.
    let out = tally(
        dir.path(),
        &["--demo", "--export", "out/", "--as-of", AS_OF],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, books) = read_zip(&dir.path().join("out/Usage Reports.zip"));
    let six = check_agreement(&books[SIX]);
    let year = check_agreement(&books[YEAR]);
    assert!((1500.0..=3500.0).contains(&six), "6 months: {six}");
    assert!(year >= six && year <= 3600.0, "1 year: {year}");
    assert!(books[YEAR].summary("Service Accounts") >= 5.0);
    assert!(books[YEAR].summary("Total Entities Synced") > 100.0);
    for label in [
        "Usernames or Emails",
        "Emails",
        "Display Names",
        "Usernames",
    ] {
        assert!(
            books[YEAR].summary(label) > 0.0,
            "{label} present in the demo"
        );
    }
}

/// Without `--as-of` the report ends when it is built, after collection: a record stamped
/// while collection ran still counts. A FIFO lets the test write a record after tally
/// started, deterministically.
#[test]
fn without_as_of_records_stamped_during_collection_count() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("live.jsonl");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::fs::write(
        dir.path().join("tally.toml"),
        "[[connector]]\nname = \"live\"\nkind = \"jsonl\"\npath = \"live.jsonl\"\nallow_fifo = true\n",
    )
    .expect("config");
    let child = std::process::Command::new(BIN)
        .args(["--export", "out.zip"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("tally starts");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut pipe = std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    writeln!(
        pipe,
        r#"{{"kind":"user","system":"Live","at":"{at}","username":"late","interaction":"updater"}}"#
    )
    .expect("write");
    drop(pipe);
    let out = child.wait_with_output().expect("tally ends");
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    assert_eq!(books[SIX].summary("Total Unique Users"), 1.0);
}

/// Integrations declared in the configuration reach the report like logged ones: the
/// synced project pair is covered (Active), not "Not configured".
#[test]
fn integrations_declared_in_the_configuration_cover_their_syncs() {
    let dir = tempfile::tempdir().expect("dir");
    let sync = r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"WEB","entity_type":"Story","entity_id":"WEB-1"},"target":{"system":"GitHub","project":"web-app","entity_type":"Issue","entity_id":"77"}}"#;
    std::fs::write(dir.path().join("syncs.jsonl"), sync).expect("records");
    std::fs::write(
        dir.path().join("tally.toml"),
        r#"
[[connector]]
name = "log"
kind = "jsonl"
path = "syncs.jsonl"

[[integration]]
name = "WEB <-> web-app"
updated_at = "2026-09-01T00:00:00Z"
ends = [
  { system = "Jira", project = "WEB", entity_types = ["Story"] },
  { system = "GitHub", project = "web-app", entity_types = ["Issue"] },
]
"#,
    )
    .expect("config");
    let out = tally(dir.path(), &["--export", "out.zip", "--as-of", AS_OF]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[[integration]]: done, 1 record ("),
        "{}",
        stderr(&out)
    );
    let (_, books) = read_zip(&dir.path().join("out.zip"));
    let projects = books[SIX].sheet("Integrated Project Count");
    assert_eq!(projects.len(), 2, "header and one row: {projects:?}");
    assert_eq!(text(&projects[1][4]), "Active");
    let types = books[SIX].sheet("Entity Type Count");
    assert!(
        types[1..].iter().all(|r| text(&r[3]) == "Active"),
        "{types:?}"
    );
}
