//! The JSON outputs and `--insights` end to end: the real binary on the demo data, the
//! files read back (workbooks with calamine), every number equal between them.

mod common;

use calamine::{Reader, Xlsx};
use common::*;

const AS_OF: &str = "2026-11-01";

fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("json file")).expect("valid JSON")
}

#[test]
fn export_json_holds_the_same_numbers_as_the_zip() {
    let dir = tempfile::tempdir().expect("dir");
    for dest in ["r.zip", "r.json"] {
        let out = tally(dir.path(), &["--demo", "--as-of", AS_OF, "--export", dest]);
        assert!(out.status.success(), "{dest}: {}", stderr(&out));
    }
    let (_, books) = read_zip(&dir.path().join("r.zip"));
    let doc = json(&dir.path().join("r.json"));
    assert_eq!(doc["as_of"], "2026-11-01T00:00:00Z");
    for (key, book) in [("6m", SIX), ("1y", YEAR)] {
        let w = &doc["windows"][key];
        let book = &books[book];
        for label in [
            "Total Unique Users",
            "Usernames or Emails",
            "Emails",
            "Display Names",
            "Usernames",
            "Service Accounts",
            "Total Unique Entity Types",
            "Total Unique Projects",
            "Total Entities Synced",
        ] {
            assert_eq!(
                w["Summary"][label].as_f64(),
                Some(book.summary(label)),
                "{key} {label}"
            );
        }
        // Every sheet: as many rows as the workbook (header left out), keyed by its headers.
        for (name, rows) in w["sheets"].as_object().expect("sheets") {
            let sheet = book.sheet(name);
            let rows = rows.as_array().expect("rows");
            assert_eq!(rows.len(), sheet.len() - 1, "{key} {name}");
            let headers: Vec<String> = sheet[0].iter().map(text).collect();
            if let Some(first) = rows.first() {
                let mut keys: Vec<&String> = first.as_object().expect("row").keys().collect();
                let mut want: Vec<&String> = headers.iter().collect();
                keys.sort();
                want.sort();
                assert_eq!(keys, want, "{key} {name}");
            }
        }
        // Where the numbers come from: the same connectors, outcomes and version (the
        // moments differ: each run collected and wrote at its own time).
        let summary = book.sheet("Summary");
        let header = summary
            .iter()
            .position(|r| text(&r[0]) == "Sources")
            .expect("a Sources block");
        let p = &w["provenance"];
        let sources = p["sources"].as_array().expect("sources");
        assert!(!sources.is_empty(), "{key}: {p}");
        for (i, s) in sources.iter().enumerate() {
            let row = &summary[header + 1 + i];
            for (col, field) in ["Sources", "Kind", "Last Collection"].iter().enumerate() {
                assert_eq!(
                    s[field].as_str(),
                    Some(text(&row[col]).as_str()),
                    "{key} {field}"
                );
            }
            assert!(s["Collected At (UTC)"].is_string(), "{key}: {s}");
        }
        let version = summary
            .iter()
            .find(|r| text(&r[0]) == "Tally Version")
            .map(|r| text(&r[1]))
            .expect("Tally Version");
        assert_eq!(p["tally_version"].as_str(), Some(version.as_str()));
        assert_eq!(p["demo_data"], true);
        assert!(summary.iter().any(|r| text(&r[0]) == "Demo data"));
        assert!(p["written_at"].is_string(), "{p}");
        assert_eq!(
            w["sheets"]["Detailed User Report"].as_array().map(Vec::len),
            Some(book.sheet("Detailed User Report").len() - 1)
        );
        // The best-identified first: every user with an email before the first without.
        let emails: Vec<bool> = book.sheet("Detailed User Report")[1..]
            .iter()
            .map(|r| !text(&r[0]).is_empty())
            .collect();
        let first_blank = emails
            .iter()
            .position(|has| !has)
            .expect("the demo has users without email");
        assert!(first_blank > 0, "{key}: the first row has an email");
        assert!(
            emails[first_blank..].iter().all(|has| !has),
            "{key}: blanks last"
        );
    }
}

#[test]
fn insights_workbook_and_json_agree_and_export_collects_once_for_both() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tally(
        dir.path(),
        &[
            "--demo",
            "--as-of",
            AS_OF,
            "--insights",
            "out/",
            "--export",
            "out/",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("out/Usage Reports.zip").is_file());
    let js = tally(
        dir.path(),
        &["--demo", "--as-of", AS_OF, "--insights", "i.json"],
    );
    assert!(js.status.success(), "{}", stderr(&js));
    let doc = json(&dir.path().join("i.json"));

    let mut xlsx: Xlsx<_> =
        calamine::open_workbook(dir.path().join("out/Insights.xlsx")).expect("Insights.xlsx");
    let people = xlsx.worksheet_range("People with Access").expect("sheet");
    let metric = |label: &str| -> f64 {
        people
            .rows()
            .find(|r| r.first().map(text).as_deref() == Some(label))
            .map(|r| number(&r[1]))
            .unwrap_or_else(|| panic!("no {label}"))
    };
    let p = &doc["people"];
    assert!(
        p["with_access"].as_u64().expect("count") > 0,
        "the demo has access data"
    );
    assert!(
        p["managed"].as_u64().expect("count") > 0,
        "the demo's own domain is managed"
    );
    for (label, key) in PEOPLE_METRICS {
        assert_eq!(Some(metric(label)), p[key].as_f64(), "{label}");
    }
    let systems = xlsx.worksheet_range("Systems").expect("Systems");
    let rows: Vec<_> = systems.rows().skip(1).collect();
    let json_systems = doc["systems"].as_array().expect("systems");
    assert_eq!(rows.len(), json_systems.len());
    for (row, s) in rows.iter().zip(json_systems) {
        assert_eq!(text(&row[0]), s["system"].as_str().expect("name"));
        assert_eq!(number(&row[1]), s["accounts"].as_f64().expect("accounts"));
        assert_eq!(number(&row[2]), s["seats"].as_f64().expect("seats"));
        assert_eq!(number(&row[4]), s["dormant"].as_f64().expect("dormant"));
    }
    let dormant = xlsx
        .worksheet_range("Dormant Seats")
        .expect("Dormant Seats");
    assert_eq!(
        dormant.rows().count() - 1,
        doc["dormant_seats"].as_array().map(Vec::len).expect("list")
    );
}
