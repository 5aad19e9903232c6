//! A sync log and directory reads in the JSONL interchange format (SPEC §2), written
//! through the store, give exactly the hand-computed numbers of SPEC §9; the JSON
//! document and `Insights.xlsx` (read back with calamine) say the same.

#![allow(clippy::unwrap_used)]

mod access_support;

use std::io::{Cursor, Read};

use access_support::*;
use calamine::{Data, Reader, Xlsx};
use serde_json::{json, Value as Json};
use tally_core::access_sheets::{self, insights_sheet_names, INSIGHTS_NAME};
use tally_core::export::ExportOptions;
use tally_core::insights_export::{
    insights_json_bytes, insights_workbook_bytes, insights_workbook_bytes_with, write_insights,
};
use tally_core::report::access::AccessInsights;
use tally_core::Record;

/// Read with `Store::write_all` as the jsonl connector would feed it.
const RECORDS: &str = r#"
{"kind":"account","system":"Jira","at":"2026-10-31T06:00:00Z","id":"j-ann","email":"ann.lee@corp.example","display_name":"Ann Lee","status":"active","billable":true,"product":"Jira Software","last_active":"2026-10-28T09:12:00Z","two_step":"enabled","sso":true}
{"kind":"account","system":"Jira","at":"2026-10-31T06:00:00Z","id":"j-bob","email":"bob@partner.example","display_name":"Bob Ray","status":"active","last_active":"2026-06-01T08:00:00Z","two_step":"disabled"}
{"kind":"account","system":"Jira","at":"2026-10-31T06:00:00Z","id":"j-app","display_name":"Automation for Jira","status":"active","billable":false,"service_account":true}
{"kind":"account","system":"Jira","at":"2026-09-01T06:00:00Z","id":"j-cy","email":"cy@corp.example","status":"active"}
{"kind":"account","system":"Jira","at":"2026-10-31T06:00:00Z","id":"j-cy","email":"cy@corp.example","status":"disabled"}
{"kind":"account","system":"Jira","at":"2026-11-02T06:00:00Z","id":"j-dee","email":"dee@corp.example","status":"active"}
{"kind":"account","system":"Azure DevOps","at":"2026-10-31T06:00:00Z","id":"a-ann","email":"Ann.Lee@corp.example","display_name":"Ann Lee","status":"active","product":"Basic"}
{"kind":"account","system":"Azure DevOps","at":"2026-10-31T06:00:00Z","id":"a-sh","email":"sam@corp.example","display_name":"Sam Stake","status":"active","billable":false,"product":"Stakeholder"}
{"kind":"account","system":"Azure DevOps","at":"2026-10-31T06:00:00Z","id":"a-eve","email":"eve@contractor.example","display_name":"Eve Cole","status":"active","product":"Basic","last_active":"2026-10-30T12:00:00Z","sso":false}
{"kind":"user","system":"Jira","at":"2026-10-30T15:00:00Z","email":"ann.lee@corp.example","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-17"}
{"kind":"user","system":"Azure DevOps","at":"2026-07-01T10:00:00Z","email":"Ann.Lee@corp.example","interaction":"updater","project":"Fabrikam"}
{"kind":"user","system":"Jira","at":"2026-10-15T09:00:00Z","email":"zoe@corp.example","interaction":"mention"}
{"kind":"user","system":"Azure DevOps","at":"2026-10-20T09:00:00Z","email":"bob@partner.example","interaction":"mapped_user_field"}
{"kind":"user","system":"Jira","at":"2026-10-20T09:00:00Z","username":"exalate","interaction":"updater","service_account":true}
{"kind":"user","system":"Jira","at":"2025-10-01T09:00:00Z","email":"old@corp.example","interaction":"updater"}
"#;

fn records() -> Vec<Record> {
    RECORDS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn computed() -> AccessInsights {
    insights_of(
        &records(),
        &managed("2026-11-01T00:00:00Z", &["corp.example"]),
    )
}

/// Worked out by hand from SPEC §9 (as_of 2026-11-01: active since 2026-10-02, dormant
/// before 2026-08-03; the Last 1 Year window starts 2025-11-01).
fn expected() -> Json {
    json!({
        "as_of": "2026-11-01T00:00:00Z", "active_days": 30, "dormant_days": 90,
        // Ann (ADO + Jira, one email), Eve, Sam (a Stakeholder has access), Bob. Not the
        // Jira app (service account), not Cy (disabled), not Dee (read after as_of).
        "people": {"with_access": 4, "managed": 2, "external": 2, "unknown": 0, "active": 2,
                   "seats_in_several_systems": 1},
        "systems": [
            // Ann: seat, last seen in ADO 2026-07-01 -> dormant; Eve: active seat;
            // Sam: no seat. Bob was seen in ADO without an ADO account.
            {"system": "Azure DevOps", "accounts": 3, "seats": 2, "active": 1, "dormant": 1,
             "two_step": {"enabled": 0, "disabled": 0, "unknown": 3}, "sso": 0,
             "managed": 2, "external": 1, "unknown": 0, "service_accounts": 0,
             "seen_without_account": 1,
             // Ann and Sam managed, Eve external; no directory says two-step, Eve's
             // `sso: false` is not SSO.
             "sign_in": {
                 "managed": {"two_step": {"enabled": 0, "disabled": 0, "unknown": 2}, "sso": 0},
                 "external": {"two_step": {"enabled": 0, "disabled": 0, "unknown": 1}, "sso": 0},
                 "unknown": {"two_step": {"enabled": 0, "disabled": 0, "unknown": 0}, "sso": 0}}},
            // Ann: active (seen 2026-10-30, later than her last_active); Bob: dormant
            // (2026-06-01). Zoe seen without an account; exalate is a service account;
            // old@ is outside the window.
            {"system": "Jira", "accounts": 2, "seats": 2, "active": 1, "dormant": 1,
             "two_step": {"enabled": 1, "disabled": 1, "unknown": 0}, "sso": 1,
             "managed": 1, "external": 1, "unknown": 0, "service_accounts": 1,
             "seen_without_account": 1,
             // Ann (managed) with two-step and SSO, Bob (external) without two-step.
             "sign_in": {
                 "managed": {"two_step": {"enabled": 1, "disabled": 0, "unknown": 0}, "sso": 1},
                 "external": {"two_step": {"enabled": 0, "disabled": 1, "unknown": 0}, "sso": 0},
                 "unknown": {"two_step": {"enabled": 0, "disabled": 0, "unknown": 0}, "sso": 0}}}
        ],
        "domains": [
            {"domain": "corp.example", "managed": true, "people": 2},
            {"domain": "contractor.example", "managed": false, "people": 1},
            {"domain": "partner.example", "managed": false, "people": 1}
        ],
        "dormant_seats": [
            {"system": "Azure DevOps", "id": "a-ann", "email": "Ann.Lee@corp.example",
             "username": null, "display_name": "Ann Lee", "product": "Basic",
             "last_activity": "2026-07-01T10:00:00Z"},
            {"system": "Jira", "id": "j-bob", "email": "bob@partner.example",
             "username": null, "display_name": "Bob Ray", "product": null,
             "last_activity": "2026-06-01T08:00:00Z"}
        ]
    })
}

#[test]
fn a_jsonl_set_gives_exactly_the_hand_computed_numbers() {
    let document: Json =
        serde_json::from_slice(&insights_json_bytes(&computed()).unwrap()).unwrap();
    let expected = expected();
    for (member, value) in expected.as_object().unwrap() {
        assert_eq!(&document[member], value, "member {member}");
    }
    // Every account at as_of, one row each, with its person.
    let accounts: Vec<(String, String, Json, Json)> = document["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["system"].as_str().unwrap().to_owned(),
                a["id"].as_str().unwrap().to_owned(),
                a["person_email"].clone(),
                a["status"].clone(),
            )
        })
        .collect();
    let row = |s: &str, i: &str, p: Json, st: &str| (s.to_owned(), i.to_owned(), p, json!(st));
    assert_eq!(
        accounts,
        vec![
            row(
                "Azure DevOps",
                "a-ann",
                json!("ann.lee@corp.example"),
                "active"
            ),
            row(
                "Azure DevOps",
                "a-eve",
                json!("eve@contractor.example"),
                "active"
            ),
            row("Azure DevOps", "a-sh", json!("sam@corp.example"), "active"),
            row("Jira", "j-ann", json!("ann.lee@corp.example"), "active"),
            row("Jira", "j-app", Json::Null, "active"),
            row("Jira", "j-bob", json!("bob@partner.example"), "active"),
            row("Jira", "j-cy", Json::Null, "disabled"),
        ]
    );
    let i = computed();
    assert_eq!(
        i.accounts[0].person, i.accounts[3].person,
        "Ann's two accounts"
    );
}

#[test]
fn reading_the_directories_again_changes_nothing() {
    let (_dir, mut store) = store_with(&records());
    let o = managed("2026-11-01T00:00:00Z", &["corp.example"]);
    let first = tally_core::report::access_insights(&store, &o).unwrap();
    write(&mut store, &records());
    assert_eq!(
        tally_core::report::access_insights(&store, &o).unwrap(),
        first
    );
    // A later read of the same directory (the read of 2026-10-31 06:00 again at 18:00,
    // still before as_of): new `at`, same content.
    let again: Vec<Record> = records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(mut a) if a.at == t("2026-10-31T06:00:00Z") => {
                a.at = t("2026-10-31T18:00:00Z");
                Some(Record::Account(a))
            }
            _ => None,
        })
        .collect();
    write(&mut store, &again);
    assert_eq!(
        tally_core::report::access_insights(&store, &o).unwrap(),
        first
    );
}

// ---------------------------------------------------------------------------------
// The workbook read back
// ---------------------------------------------------------------------------------

struct Book {
    names: Vec<String>,
    sheets: Vec<Vec<Vec<Data>>>,
    raw: Vec<u8>,
}

impl Book {
    fn open(bytes: Vec<u8>) -> Book {
        let mut xlsx: Xlsx<_> = Xlsx::new(Cursor::new(bytes.clone())).unwrap();
        let names = xlsx.sheet_names();
        let sheets = names
            .iter()
            .map(|n| {
                let range = xlsx.worksheet_range(n).unwrap();
                assert_eq!(range.start(), Some((0, 0)), "{n} starts at A1");
                range.rows().map(|r| r.to_vec()).collect()
            })
            .collect();
        Book {
            names,
            sheets,
            raw: bytes,
        }
    }

    fn sheet(&self, name: &str) -> &Vec<Vec<Data>> {
        let i = self.names.iter().position(|n| n == name).unwrap();
        &self.sheets[i]
    }

    /// The rows of `name` as JSON objects keyed by its header, times as RFC 3339.
    fn objects(&self, name: &str) -> Vec<serde_json::Map<String, Json>> {
        let rows = self.sheet(name);
        let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
        rows[1..]
            .iter()
            .map(|r| {
                header
                    .iter()
                    .zip(r)
                    .map(|(h, c)| (h.clone(), cell_json(c)))
                    .collect()
            })
            .collect()
    }

    fn xml(&self, part: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(self.raw.clone())).unwrap();
        let mut s = String::new();
        zip.by_name(part).unwrap().read_to_string(&mut s).unwrap();
        s
    }
}

fn cell_json(c: &Data) -> Json {
    match c {
        Data::Empty => Json::Null,
        Data::String(s) => json!(s),
        Data::Float(f) => json!(*f as u64),
        Data::Int(i) => json!(*i),
        Data::DateTime(d) => {
            let t = d.as_datetime().unwrap().and_utc();
            json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
        other => panic!("unexpected cell {other:?}"),
    }
}

#[test]
fn every_number_of_the_workbook_equals_the_json() {
    let i = computed();
    let doc: Json = serde_json::from_slice(&insights_json_bytes(&i).unwrap()).unwrap();
    let book = Book::open(insights_workbook_bytes(&i).unwrap());
    assert_eq!(book.names, insights_sheet_names().to_vec());

    let people: Vec<(String, Json)> = book.sheet("People with Access")[1..]
        .iter()
        .map(|r| (r[0].to_string(), cell_json(&r[1])))
        .collect();
    assert_eq!(
        book.sheet("People with Access")[0],
        vec![Data::String("Metric".into()), Data::String("Value".into())]
    );
    let p = &doc["people"];
    assert_eq!(
        people,
        vec![
            ("People with Access".into(), p["with_access"].clone()),
            ("Managed".into(), p["managed"].clone()),
            ("External".into(), p["external"].clone()),
            ("Unknown".into(), p["unknown"].clone()),
            ("Active".into(), p["active"].clone()),
            (
                "Seats in Several Systems".into(),
                p["seats_in_several_systems"].clone()
            ),
            ("As Of (UTC)".into(), doc["as_of"].clone()),
            ("Active Days".into(), doc["active_days"].clone()),
            ("Dormant Days".into(), doc["dormant_days"].clone()),
        ]
    );

    let systems = book.objects("Systems");
    let json_systems = doc["systems"].as_array().unwrap();
    assert_eq!(systems.len(), json_systems.len());
    for (row, s) in systems.iter().zip(json_systems) {
        let pairs = [
            ("System", &s["system"]),
            ("Accounts with Access", &s["accounts"]),
            ("Seats", &s["seats"]),
            ("Active", &s["active"]),
            ("Dormant Seats", &s["dormant"]),
            ("Two-Step Enabled", &s["two_step"]["enabled"]),
            ("Two-Step Disabled", &s["two_step"]["disabled"]),
            ("Two-Step Unknown", &s["two_step"]["unknown"]),
            ("SSO", &s["sso"]),
            ("Managed", &s["managed"]),
            ("External", &s["external"]),
            ("Unknown", &s["unknown"]),
            ("Service Accounts", &s["service_accounts"]),
            ("Seen Without Account", &s["seen_without_account"]),
        ];
        let by_email: Vec<(String, &Json)> = ["managed", "external", "unknown"]
            .into_iter()
            .flat_map(|class| {
                let g = &s["sign_in"][class];
                let c = format!("{}{}", class[..1].to_uppercase(), &class[1..]);
                [
                    (format!("{c} Two-Step Enabled"), &g["two_step"]["enabled"]),
                    (format!("{c} Two-Step Disabled"), &g["two_step"]["disabled"]),
                    (format!("{c} Two-Step Unknown"), &g["two_step"]["unknown"]),
                    (format!("{c} SSO"), &g["sso"]),
                ]
            })
            .collect();
        let pairs: Vec<(&str, &Json)> = pairs
            .into_iter()
            .chain(by_email.iter().map(|(h, v)| (h.as_str(), *v)))
            .collect();
        assert_eq!(row.len(), pairs.len());
        for (header, value) in pairs {
            assert_eq!(&row[header], value, "Systems/{header} of {}", s["system"]);
        }
    }

    let domains = book.objects("Domains");
    let json_domains = doc["domains"].as_array().unwrap();
    assert_eq!(domains.len(), json_domains.len());
    for (row, d) in domains.iter().zip(json_domains) {
        assert_eq!(row["Domain"], d["domain"]);
        assert_eq!(row["People"], d["people"]);
        let yes = if d["managed"] == json!(true) {
            "Yes"
        } else {
            "No"
        };
        assert_eq!(row["Managed"], json!(yes));
    }

    let dormant = book.objects("Dormant Seats");
    let json_dormant = doc["dormant_seats"].as_array().unwrap();
    assert_eq!(dormant.len(), json_dormant.len());
    for (row, d) in dormant.iter().zip(json_dormant) {
        for (header, key) in [
            ("System", "system"),
            ("Account ID", "id"),
            ("Email", "email"),
            ("Username", "username"),
            ("Display Name", "display_name"),
            ("Product", "product"),
            ("Last Activity (UTC)", "last_activity"),
        ] {
            assert_eq!(row[header], d[key], "Dormant Seats/{header}");
        }
    }

    let accounts = book.objects("Accounts");
    let json_accounts = doc["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), json_accounts.len());
    let yes_no = |v: &Json| json!(if v == &json!(true) { "Yes" } else { "No" });
    for (row, a) in accounts.iter().zip(json_accounts) {
        assert_eq!(row["System"], a["system"]);
        assert_eq!(row["Account ID"], a["id"]);
        assert_eq!(row["Email"], a["email"]);
        assert_eq!(row["Primary Email"], a["person_email"]);
        assert_eq!(row["Status"], a["status"]);
        assert_eq!(row["Product"], a["product"]);
        assert_eq!(row["Billable"], yes_no(&a["billable"]));
        let two_step = if a["two_step"].is_null() {
            json!("unknown")
        } else {
            a["two_step"].clone()
        };
        assert_eq!(row["Two-Step"], two_step);
        let sso = match a["sso"].as_bool() {
            Some(true) => "Yes",
            Some(false) => "No",
            None => "unknown",
        };
        assert_eq!(row["SSO"], json!(sso));
        assert_eq!(row["Service Account"], yes_no(&a["service_account"]));
        assert_eq!(row["Last Activity (UTC)"], a["last_activity"]);
        assert_eq!(row["Active"], yes_no(&a["active"]));
        assert_eq!(row["Seat"], yes_no(&a["seat"]));
        assert_eq!(row["Dormant"], yes_no(&a["dormant"]));
    }
}

#[test]
fn the_workbook_follows_the_usage_report_conventions() {
    let i = computed();
    let book = Book::open(insights_workbook_bytes(&i).unwrap());
    // Real date-times, not text.
    let dormant = book.sheet("Dormant Seats");
    assert!(
        matches!(dormant[1][6], Data::DateTime(_)),
        "{:?}",
        dormant[1][6]
    );
    // Every header naming a time says (UTC).
    for (name, rows) in book.names.iter().zip(&book.sheets) {
        for h in &rows[0] {
            let h = h.to_string();
            if h.contains("Activity") || h.contains("As Of") {
                assert!(h.ends_with("(UTC)"), "{name}: {h}");
            }
        }
    }
    // Frozen header row and an autofilter on every sheet.
    for n in 1..=book.names.len() {
        let xml = book.xml(&format!("xl/worksheets/sheet{n}.xml"));
        assert!(xml.contains(r#"state="frozen""#), "sheet {n} header frozen");
        assert!(xml.contains("<autoFilter"), "sheet {n} has an autofilter");
    }
    // The headers every front end reads come from one description.
    assert_eq!(
        book.sheet("Accounts")[0]
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>(),
        access_sheets::ACCOUNTS.headers()
    );
}

#[test]
fn a_long_account_list_continues_on_a_second_sheet() {
    let i = computed();
    let book = Book::open(
        insights_workbook_bytes_with(
            &i,
            &ExportOptions {
                max_rows_per_sheet: 5,
            },
        )
        .unwrap(),
    );
    assert_eq!(book.sheet("Accounts").len(), 5);
    assert_eq!(book.sheet("Accounts (2)").len(), 1 + i.accounts.len() - 4);
}

#[test]
fn write_insights_picks_the_format_and_the_file_name() {
    let i = computed();
    let dir = tempfile::tempdir().unwrap();
    let written = write_insights(&i, dir.path()).unwrap();
    assert_eq!(written, dir.path().join(INSIGHTS_NAME));
    let book = Book::open(std::fs::read(&written).unwrap());
    assert_eq!(book.names, insights_sheet_names().to_vec());

    let json_path = dir.path().join("insights.json");
    assert_eq!(write_insights(&i, &json_path).unwrap(), json_path);
    let doc: Json = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(doc["people"], expected()["people"]);

    let named = dir.path().join("access.xlsx");
    write_insights(&i, &named).unwrap();
    assert!(Book::open(std::fs::read(&named).unwrap()).names.len() == 5);

    // A directory that does not exist is refused, and nothing is left behind.
    let missing = dir.path().join("nope").join("x.json");
    let err = write_insights(&i, &missing).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, vec!["Insights.xlsx", "access.xlsx", "insights.json"]);
}
