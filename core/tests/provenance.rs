//! Provenance (SPEC §5): the store's record of each connector's last collection, and the
//! Summary sheet's Sources block below the counts, read back with calamine.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use tally_core::export::usage_reports_bytes;
use tally_core::report::{build_report, Provenance, ReportOptions, WindowKind};
use tally_core::report_json::report_json;
use tally_core::store::{CollectionRecord, Store};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn outcome(name: &str, failure: Option<&str>, ended: &str, received: u64) -> CollectionRecord {
    CollectionRecord {
        connector: name.into(),
        kind: "jsonl".into(),
        failure: failure.map(Into::into),
        started_at: t(ended) - chrono::Duration::seconds(30),
        ended_at: t(ended),
        received,
        last_ok_at: None,
    }
}

#[test]
fn the_last_good_collection_is_kept_through_failures() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("t.db")).expect("store");
    assert!(store.collections().expect("read").is_empty());
    store
        .record_collections(&[outcome("log", None, "2026-10-30T06:00:00Z", 10)])
        .expect("first");
    store
        .record_collections(&[
            outcome("log", Some("log.jsonl: gone"), "2026-11-01T06:00:00Z", 0),
            outcome("never-ok", Some("401"), "2026-11-01T06:00:00Z", 0),
        ])
        .expect("second");
    let got = store.collections().expect("read");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].connector, "log");
    assert_eq!(got[0].failure.as_deref(), Some("log.jsonl: gone"));
    assert_eq!(got[0].ended_at, t("2026-11-01T06:00:00Z"));
    assert_eq!(got[0].last_ok_at, Some(t("2026-10-30T06:00:00Z")));
    assert_eq!(got[1].last_ok_at, None);
    store
        .record_collections(&[outcome("log", None, "2026-11-02T06:00:00Z", 3)])
        .expect("third");
    let got = store.collections().expect("read");
    assert_eq!(got[0].failure, None);
    assert_eq!(got[0].last_ok_at, Some(t("2026-11-02T06:00:00Z")));
    assert_eq!(got[0].received, 3);
}

/// A store made before the table existed opens as before and gets it on first use.
#[test]
fn a_store_without_the_table_is_still_a_tally_store() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("old.db");
    drop(Store::open(&path).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch("DROP TABLE IF EXISTS collections")
        .expect("drop");
    drop(conn);
    let store = Store::open(&path).expect("an older tally store still opens");
    assert!(store.collections().expect("read").is_empty());
    store
        .record_collections(&[outcome("log", None, "2026-10-30T06:00:00Z", 1)])
        .expect("the table is created when first needed");
    assert_eq!(store.collections().expect("read").len(), 1);
}

fn summary_rows(zip: &[u8], kind: WindowKind) -> Vec<Vec<Data>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).expect("zip");
    let mut entry = archive.by_name(kind.workbook_name()).expect("workbook");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read");
    let mut xlsx: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("xlsx");
    let range = xlsx.worksheet_range("Summary").expect("Summary");
    range.rows().map(<[Data]>::to_vec).collect()
}

fn text(d: &Data) -> String {
    d.to_string()
}

fn is_time(d: &Data, expected: DateTime<Utc>) -> bool {
    matches!(d, Data::DateTime(dt) if dt.as_datetime() == Some(expected.naive_utc()))
}

#[test]
fn the_summary_sheet_says_where_its_numbers_come_from() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("t.db")).expect("store");
    store
        .record_collections(&[outcome("jira-main", None, "2026-10-30T06:00:00Z", 7)])
        .expect("ok run");
    store
        .record_collections(&[
            outcome(
                "jira-main",
                Some("HTTP 401 from https://jira.example"),
                "2026-11-01T06:00:00Z",
                0,
            ),
            outcome("sync-log", None, "2026-11-01T06:00:10Z", 42),
        ])
        .expect("failed run");
    let mut report =
        build_report(&store, &ReportOptions::new(t("2026-11-01T07:00:00Z"))).expect("report");
    let configured = [
        ("sync-log".to_owned(), "jsonl".to_owned()),
        ("jira-main".to_owned(), "jira".to_owned()),
    ];
    let mut provenance = Provenance::new(
        &configured,
        store.collections().expect("read"),
        false,
        "9.8.7",
    );
    provenance.written_at = Some(t("2026-11-01T07:05:00Z"));
    report.provenance = Some(provenance);

    let zip = usage_reports_bytes(&report).expect("zip");
    for kind in WindowKind::ALL {
        let rows = summary_rows(&zip, kind);
        let at = |label: &str| {
            rows.iter()
                .position(|r| text(&r[0]) == label)
                .unwrap_or_else(|| panic!("{kind:?}: no row {label}: {rows:?}"))
        };
        let invalid = at("Invalid Emails");
        // A blank row, then the Sources table with its header.
        assert!(
            rows[invalid + 1].iter().all(|c| c == &Data::Empty),
            "blank row"
        );
        let header: Vec<String> = rows[invalid + 2].iter().map(text).collect();
        assert_eq!(
            header[..6],
            [
                "Sources",
                "Kind",
                "Last Collection",
                "Collected At (UTC)",
                "Records Received",
                "Last Good Collection (UTC)"
            ]
        );
        let log = &rows[invalid + 3];
        assert_eq!(text(&log[0]), "sync-log", "configuration order");
        assert_eq!(text(&log[1]), "jsonl");
        assert_eq!(text(&log[2]), "ok");
        assert!(is_time(&log[3], t("2026-11-01T06:00:10Z")), "{log:?}");
        assert_eq!(log[4], Data::Float(42.0));
        let jira = &rows[invalid + 4];
        assert_eq!(text(&jira[0]), "jira-main");
        assert_eq!(text(&jira[2]), "failed: HTTP 401 from https://jira.example");
        assert!(is_time(&jira[3], t("2026-11-01T06:00:00Z")), "{jira:?}");
        assert!(is_time(&jira[5], t("2026-10-30T06:00:00Z")), "{jira:?}");
        // The report says it is partial, and what it holds of the failed connector.
        let partial = text(&rows[at("Partial Report")][1]);
        assert!(
            partial.contains("jira-main")
                && partial.contains(
                    "records from earlier collections, last collected at 2026-10-30 06:00 UTC"
                ),
            "{partial}"
        );
        assert!(!rows.iter().any(|r| text(&r[0]) == "Demo data"));
        assert_eq!(text(&rows[at("Tally Version")][1]), "9.8.7");
        assert!(is_time(
            &rows[at("Written At (UTC)")][1],
            t("2026-11-01T07:05:00Z")
        ));
    }

    // The JSON says the same.
    let doc = report_json(&report);
    let p = &doc["windows"]["6m"]["provenance"];
    assert_eq!(p["tally_version"], "9.8.7");
    assert_eq!(p["written_at"], "2026-11-01T07:05:00Z");
    assert_eq!(p["demo_data"], false);
    assert_eq!(p["sources"][1]["Sources"], "jira-main");
    assert_eq!(
        p["sources"][1]["Last Good Collection (UTC)"],
        "2026-10-30T06:00:00Z"
    );
    assert_eq!(p["sources"][0]["Records Received"], 42);
    assert_eq!(p["partial"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_complete_demo_report_says_demo_data_and_no_partial_row() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("t.db")).expect("store");
    store
        .record_collections(&[outcome("demo", None, "2026-11-01T06:00:00Z", 5)])
        .expect("ok run");
    let mut report =
        build_report(&store, &ReportOptions::new(t("2026-11-01T07:00:00Z"))).expect("report");
    let configured = [("demo".to_owned(), "demo".to_owned())];
    report.provenance = Some(Provenance::new(
        &configured,
        store.collections().expect("read"),
        true,
        "1.2.3",
    ));
    let rows = summary_rows(
        &usage_reports_bytes(&report).expect("zip"),
        WindowKind::OneYear,
    );
    let labels: Vec<String> = rows.iter().map(|r| text(&r[0])).collect();
    assert!(labels.contains(&"Demo data".to_owned()), "{labels:?}");
    assert!(!labels.contains(&"Partial Report".to_owned()), "{labels:?}");
    let written = rows
        .iter()
        .find(|r| text(&r[0]) == "Written At (UTC)")
        .expect("written at");
    assert!(
        matches!(written[1], Data::DateTime(_)),
        "a date cell: {written:?}"
    );
}
