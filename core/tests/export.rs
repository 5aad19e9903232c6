//! `Usage Reports.zip` read back with real readers (zip, calamine): names, sheets,
//! headers, every number, real date cells, overflow, long cells, atomic writes.

// The helpers below are test code too; clippy's `allow-unwrap-in-tests` only covers
// `#[test]` functions themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::path::Path;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, TimeZone, Utc};
use tally_core::export::{
    usage_reports_bytes, usage_reports_bytes_with, write_usage_reports, write_usage_reports_with,
    ExportError, ExportOptions, ZIP_NAME,
};
use tally_core::identity::Rule;
use tally_core::report::{
    CoverageStatus, EntityTypeRow, ProjectRow, Report, Summary, SyncedRow, SystemUserCount,
    UserRow, UserRowParts, Window, WindowKind, WindowReport,
};
use tally_core::Interaction;

// ---------------------------------------------------------------------------------
// Building reports by hand
// ---------------------------------------------------------------------------------

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn as_of() -> DateTime<Utc> {
    at(2026, 10, 15, 9, 30, 0)
}

#[allow(clippy::too_many_arguments)]
fn user(
    emails: &[&str],
    usernames: &[&str],
    display_names: &[&str],
    rule: Rule,
    interactions: &[Interaction],
    observed_in: &[(&str, DateTime<Utc>)],
    service_account: bool,
    duplicates: &[(&str, &str)],
) -> UserRow {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    UserRowParts {
        emails: strings(emails),
        usernames: strings(usernames),
        display_names: strings(display_names),
        identified_by: rule,
        interactions: interactions.to_vec(),
        observed_in: observed_in
            .iter()
            .map(|(s, t)| (s.to_string(), *t))
            .collect(),
        service_account,
        last_seen: observed_in.iter().map(|(_, t)| *t).max().unwrap(),
        duplicates: duplicates
            .iter()
            .map(|(u, s)| (u.to_string(), s.to_string()))
            .collect(),
        shared_handles: Vec::new(),
        forced_merge: false,
    }
    .into()
}

/// Changes one part of `row`.
fn edit(row: &mut UserRow, change: impl FnOnce(&mut UserRowParts)) {
    let mut parts = row.to_parts();
    change(&mut parts);
    *row = parts.into();
}

/// Derives every count from the user rows, so the report is consistent the way the
/// real report builder's is: Summary == All Systems == non-service rows.
fn window_report(
    kind: WindowKind,
    users: Vec<UserRow>,
    entity_types: Vec<EntityTypeRow>,
    projects: Vec<ProjectRow>,
    synced: Vec<SyncedRow>,
) -> WindowReport {
    let people: Vec<&UserRow> = users.iter().filter(|u| !u.service_account).collect();
    let mut by_rule = [0u64; 4];
    for u in &people {
        by_rule[u.identified_by.index()] += 1;
    }
    let systems: BTreeSet<&str> = people
        .iter()
        .flat_map(|u| u.observed_in().map(|(s, _)| s))
        .collect();
    let user_counts = systems
        .iter()
        .map(|system| {
            let mut by_rule = [0u64; 4];
            let mut count = 0;
            for u in people
                .iter()
                .filter(|u| u.observed_in().any(|(s, _)| s == *system))
            {
                by_rule[u.identified_by.index()] += 1;
                count += 1;
            }
            SystemUserCount {
                system: system.to_string(),
                count,
                by_rule,
            }
        })
        .collect();
    let project_pairs: BTreeSet<(&str, &str)> = projects
        .iter()
        .flat_map(|p| {
            [
                (p.system1.as_str(), p.project1.as_str()),
                (p.system2.as_str(), p.project2.as_str()),
            ]
        })
        .collect();
    let summary = Summary {
        total_unique_users: people.len() as u64,
        by_rule,
        service_accounts: users.iter().filter(|u| u.service_account).count() as u64,
        unique_entity_types: entity_types.len() as u64,
        unique_projects: project_pairs.len() as u64,
        entities_synced: synced.iter().map(|s| s.entities).sum(),
        // Not derivable from the rows; different per window so that a Summary written
        // from the wrong window shows (6 months: 3 and 1, 1 year: 6 and 2).
        unidentified_observations: u64::from(kind.months()) / 2,
        invalid_emails: u64::from(kind.months()) / 6,
    };
    let months = kind.months();
    WindowReport {
        window: Window {
            kind,
            start: as_of()
                .checked_sub_months(chrono::Months::new(months))
                .unwrap(),
            end: as_of(),
        },
        summary,
        user_counts,
        all_systems: SystemUserCount {
            system: "All Systems".to_string(),
            count: people.len() as u64,
            by_rule,
        },
        entity_types,
        projects,
        synced,
        users,
        // Terminal UI insights; not part of the workbooks.
        monthly_active: Vec::new(),
        sync_outcomes: Vec::new(),
    }
}

fn sample_users(year: bool) -> Vec<UserRow> {
    use Interaction::*;
    let mut users = vec![
        user(
            &["ann.lee@corp.example"],
            &["alee", "ann.lee"],
            &["Ann Lee"],
            Rule::UsernamesOrEmails,
            &[MappedUserField, CommentAuthor],
            &[
                ("Azure DevOps", at(2026, 10, 1, 12, 0, 5)),
                ("Jira", at(2026, 10, 1, 12, 0, 0)),
            ],
            false,
            &[("alee", "Jira"), ("ann.lee", "Azure DevOps")],
        ),
        user(
            &["bob@corp.example"],
            &[],
            &["Bob Stone"],
            Rule::Emails,
            &[Updater],
            &[("ServiceNow", at(2026, 9, 20, 8, 15, 0))],
            false,
            &[],
        ),
        user(
            &[],
            &[],
            &["Carol Diaz"],
            Rule::DisplayNames,
            &[Mention],
            &[("Jira", at(2026, 7, 2, 23, 59, 0))],
            false,
            &[],
        ),
        user(
            &[],
            &["dave"],
            &[],
            Rule::Usernames,
            &[AttachmentAuthor, Updater],
            &[("GitHub", at(2026, 5, 30, 0, 1, 0))],
            false,
            &[],
        ),
        user(
            &["sync-bot@corp.example"],
            &["sync-bot"],
            &["Sync Bot"],
            Rule::UsernamesOrEmails,
            &[Updater],
            &[
                ("Azure DevOps", at(2026, 10, 15, 9, 0, 0)),
                ("Jira", at(2026, 10, 15, 9, 0, 1)),
            ],
            true,
            &[],
        ),
    ];
    if year {
        users.push(user(
            &["erin@corp.example", "erin.old@corp.example"],
            &["erin"],
            &["Erin Park"],
            Rule::UsernamesOrEmails,
            &[CommentAuthor],
            &[("Jira", at(2025, 11, 3, 14, 45, 0))],
            false,
            &[],
        ));
    }
    users
}

fn sample_window(kind: WindowKind) -> WindowReport {
    let year = kind == WindowKind::OneYear;
    let entity_types = vec![
        EntityTypeRow {
            system_pairs: vec!["Azure DevOps <-> Jira".into(), "Jira <-> ServiceNow".into()],
            system: "Jira".into(),
            entity_type: "Bug".into(),
            status: CoverageStatus::Active,
            last_synced: at(2026, 10, 1, 12, 0, 5),
        },
        EntityTypeRow {
            system_pairs: vec!["Azure DevOps <-> Jira".into()],
            system: "Azure DevOps".into(),
            entity_type: "Bug".into(),
            status: CoverageStatus::Active,
            last_synced: at(2026, 10, 1, 12, 0, 5),
        },
        EntityTypeRow {
            system_pairs: vec!["Jira <-> ServiceNow".into()],
            system: "ServiceNow".into(),
            entity_type: "Incident".into(),
            status: CoverageStatus::NotConfigured,
            last_synced: at(2026, 9, 2, 6, 7, 0),
        },
    ];
    let mut projects = vec![
        ProjectRow {
            system1: "Jira".into(),
            project1: "OPS".into(),
            system2: "Azure DevOps".into(),
            project2: "Fabrikam".into(),
            status: CoverageStatus::Active,
            last_updated: Some(at(2026, 9, 30, 8, 0, 0)),
            last_synced: Some(at(2026, 10, 1, 12, 0, 5)),
        },
        ProjectRow {
            system1: "Jira".into(),
            project1: "HR".into(),
            system2: "ServiceNow".into(),
            project2: "Incidents".into(),
            status: CoverageStatus::Inactive,
            last_updated: Some(at(2026, 4, 30, 8, 0, 0)),
            last_synced: None,
        },
    ];
    if year {
        projects.push(ProjectRow {
            system1: "GitHub".into(),
            project1: "corp/app".into(),
            system2: "Jira".into(),
            project2: "APP".into(),
            status: CoverageStatus::NotConfigured,
            last_updated: None,
            last_synced: Some(at(2025, 12, 24, 18, 30, 0)),
        });
    }
    let synced = vec![
        SyncedRow {
            system1: "Azure DevOps".into(),
            system2: "Jira".into(),
            entities: if year { 12_345 } else { 4_321 },
            last_synced: at(2026, 10, 1, 12, 0, 5),
        },
        SyncedRow {
            system1: "Jira".into(),
            system2: "ServiceNow".into(),
            entities: 7,
            last_synced: at(2026, 9, 2, 6, 7, 0),
        },
    ];
    window_report(kind, sample_users(year), entity_types, projects, synced)
}

fn sample_report() -> Report {
    Report {
        as_of: as_of(),
        six_months: sample_window(WindowKind::SixMonths),
        one_year: sample_window(WindowKind::OneYear),
        provenance: None,
    }
}

/// A report whose windows have `n` users each (every tenth a service account).
fn many_users_report(n: usize) -> Report {
    let users = |n: usize| {
        (0..n)
            .map(|i| {
                let email = format!("user{i:05}@corp.example");
                let name = format!("user{i:05}");
                user(
                    &[&email],
                    &[&name],
                    &[],
                    Rule::UsernamesOrEmails,
                    &[Interaction::Updater],
                    &[(
                        "Jira",
                        at(2026, 10, 1, 0, 0, 0) + chrono::Duration::minutes(i as i64),
                    )],
                    i % 10 == 9,
                    &[],
                )
            })
            .collect::<Vec<_>>()
    };
    Report {
        as_of: as_of(),
        six_months: window_report(WindowKind::SixMonths, users(n), vec![], vec![], vec![]),
        one_year: window_report(WindowKind::OneYear, users(n), vec![], vec![], vec![]),
        provenance: None,
    }
}

// ---------------------------------------------------------------------------------
// Reading back
// ---------------------------------------------------------------------------------

const SHEETS: [&str; 6] = [
    "Summary",
    "Unique User Count",
    "Entity Type Count",
    "Integrated Project Count",
    "Synced Data Count",
    "Detailed User Report",
];

const SUMMARY_LABELS: [&str; 14] = [
    "Total Unique Users",
    "Usernames or Emails",
    "Emails",
    "Display Names",
    "Usernames",
    "Service Accounts",
    "Total Unique Entity Types",
    "Total Unique Projects",
    "Total Entities Synced",
    "Window Start (UTC)",
    "Window End (UTC)",
    "As Of (UTC)",
    "Unidentified Observations",
    "Invalid Emails",
];

fn headers(sheet: &str) -> &'static [&'static str] {
    match sheet {
        "Summary" => &["Metric", "Value"],
        "Unique User Count" => &[
            "System / Source",
            "Count",
            "Usernames or Emails",
            "Emails",
            "Display Names",
            "Usernames",
        ],
        "Entity Type Count" => &[
            "System Pairs",
            "End System",
            "Entity Types",
            "Status",
            "Last Synced (UTC)",
        ],
        "Integrated Project Count" => &[
            "End System 1",
            "End System 1 Project",
            "End System 2",
            "End System 2 Project",
            "Status",
            "Last Updated (UTC)",
            "Last Synced (UTC)",
        ],
        "Synced Data Count" => &[
            "End System 1",
            "End System 2",
            "Counts Based on System Pair",
            "Last Synced (UTC)",
        ],
        "Detailed User Report" => &[
            "Email",
            "Username",
            "Display Name",
            "Identified By",
            "Interaction Types",
            "Observed In",
            "Service Account",
            "Last Seen (UTC)",
            "Duplicates",
        ],
        other => panic!("unknown sheet {other}"),
    }
}

/// The zip's entries in archive order: (name, compression method, bytes).
fn unzip(bytes: &[u8]) -> Vec<(String, zip::CompressionMethod, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            (entry.name().unwrap().to_string(), entry.compression(), data)
        })
        .collect()
}

/// A workbook as sheet name -> rows of cells (all rows padded to the sheet's width).
struct Book {
    names: Vec<String>,
    sheets: Vec<Vec<Vec<Data>>>,
}

impl Book {
    fn open(bytes: Vec<u8>) -> Book {
        let mut xlsx: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
        let names = xlsx.sheet_names();
        let sheets = names
            .iter()
            .map(|name| {
                let range = xlsx.worksheet_range(name).unwrap();
                // Every sheet starts with its header in A1.
                assert_eq!(range.start(), Some((0, 0)), "{name} does not start at A1");
                range.rows().map(|r| r.to_vec()).collect()
            })
            .collect();
        Book { names, sheets }
    }

    fn sheet(&self, name: &str) -> &Vec<Vec<Data>> {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no sheet {name} in {:?}", self.names));
        &self.sheets[i]
    }
}

/// Both workbooks of an exported zip, in `WindowKind::ALL` order.
fn books(zip_bytes: &[u8]) -> Vec<(WindowKind, Book)> {
    let entries = unzip(zip_bytes);
    WindowKind::ALL
        .iter()
        .map(|kind| {
            let (_, _, data) = entries
                .iter()
                .find(|(n, _, _)| n == kind.workbook_name())
                .unwrap_or_else(|| panic!("no {}", kind.workbook_name()));
            (*kind, Book::open(data.clone()))
        })
        .collect()
}

fn s(text: &str) -> Data {
    Data::String(text.to_string())
}

fn n(value: u64) -> Data {
    Data::Float(value as f64)
}

fn assert_time(cell: &Data, expected: DateTime<Utc>, what: &str) {
    match cell {
        Data::DateTime(dt) => assert_eq!(
            dt.as_datetime(),
            Some(expected.naive_utc()),
            "{what}: wrong date-time"
        ),
        other => panic!("{what}: expected a date-time cell, got {other:?}"),
    }
}

fn assert_opt_time(cell: &Data, expected: Option<DateTime<Utc>>, what: &str) {
    match expected {
        Some(t) => assert_time(cell, t, what),
        None => assert_eq!(cell, &Data::Empty, "{what}: expected an empty cell"),
    }
}

fn text_or_empty(text: String) -> Data {
    if text.is_empty() {
        Data::Empty
    } else {
        Data::String(text)
    }
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The Detailed User Report's text cells for one user, as the spec words them.
fn expected_user_cells(u: &UserRow) -> Vec<Data> {
    vec![
        text_or_empty(u.emails().to_vec().join(", ")),
        text_or_empty(u.usernames().to_vec().join(", ")),
        text_or_empty(u.display_names().to_vec().join(", ")),
        s(u.identified_by.label()),
        text_or_empty(
            u.interactions()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        text_or_empty(
            u.observed_in()
                .map(|(sys, t)| format!("{sys} ({})", minute(t)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        s(if u.service_account { "Yes" } else { "No" }),
    ]
}

fn assert_user_row(row: &[Data], u: &UserRow, what: &str) {
    assert_eq!(row.len(), 9, "{what}: width");
    assert_eq!(&row[..7], &expected_user_cells(u)[..], "{what}");
    assert_time(&row[7], u.last_seen(), what);
    let dups = u
        .duplicates()
        .map(|(name, sys)| format!("{name} ({sys})"))
        .collect::<Vec<_>>()
        .join(", ");
    assert_eq!(row[8], text_or_empty(dups), "{what}: duplicates");
}

fn header_row(sheet: &str) -> Vec<Data> {
    headers(sheet).iter().map(|h| s(h)).collect()
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

#[test]
fn zip_holds_exactly_the_two_workbooks_stored() {
    let bytes = usage_reports_bytes(&sample_report()).unwrap();
    let entries = unzip(&bytes);
    let names: Vec<&str> = entries.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Usage Report (Last 6 Months).xlsx",
            "Usage Report (Last 1 Year).xlsx"
        ]
    );
    for (name, method, data) in &entries {
        // Workbooks are compressed already; the outer zip stores them as they are.
        assert_eq!(*method, zip::CompressionMethod::Stored, "{name}");
        assert!(data.starts_with(b"PK"), "{name} is not an xlsx (zip)");
    }
}

#[test]
fn sheets_in_order_with_exact_headers() {
    let bytes = usage_reports_bytes(&sample_report()).unwrap();
    for (kind, book) in books(&bytes) {
        assert_eq!(book.names, SHEETS, "{kind:?}");
        for sheet in SHEETS {
            assert_eq!(
                book.sheet(sheet)[0],
                header_row(sheet),
                "{kind:?} {sheet} header"
            );
        }
    }
}

#[test]
fn summary_values_match_the_report() {
    let report = sample_report();
    let bytes = usage_reports_bytes(&report).unwrap();
    for (kind, book) in books(&bytes) {
        let w = report.window(kind);
        let rows = book.sheet("Summary");
        let labels: Vec<&Data> = rows[1..].iter().map(|r| &r[0]).collect();
        let expected_labels: Vec<Data> = SUMMARY_LABELS.iter().map(|l| s(l)).collect();
        assert_eq!(
            labels,
            expected_labels.iter().collect::<Vec<_>>(),
            "{kind:?}"
        );

        let value = |label: &str| {
            let i = SUMMARY_LABELS.iter().position(|l| *l == label).unwrap();
            &rows[i + 1][1]
        };
        let sm = &w.summary;
        assert_eq!(value("Total Unique Users"), &n(sm.total_unique_users));
        for rule in Rule::ALL {
            assert_eq!(
                value(rule.label()),
                &n(sm.by_rule[rule.index()]),
                "{rule:?}"
            );
        }
        assert_eq!(value("Service Accounts"), &n(sm.service_accounts));
        assert_eq!(
            value("Total Unique Entity Types"),
            &n(sm.unique_entity_types)
        );
        assert_eq!(value("Total Unique Projects"), &n(sm.unique_projects));
        assert_eq!(value("Total Entities Synced"), &n(sm.entities_synced));
        assert_eq!(
            value("Unidentified Observations"),
            &n(sm.unidentified_observations)
        );
        assert_eq!(value("Invalid Emails"), &n(sm.invalid_emails));
        assert_time(value("Window Start (UTC)"), w.window.start, "window start");
        assert_time(value("Window End (UTC)"), w.window.end, "window end");
        assert_time(value("As Of (UTC)"), report.as_of, "as of");
    }
}

#[test]
fn table_sheets_match_the_report_cell_for_cell() {
    let report = sample_report();
    let bytes = usage_reports_bytes(&report).unwrap();
    for (kind, book) in books(&bytes) {
        let w = report.window(kind);

        let rows = book.sheet("Unique User Count");
        assert_eq!(rows.len(), 1 + w.user_counts.len() + 1, "{kind:?}");
        for (row, c) in rows[1..]
            .iter()
            .zip(w.user_counts.iter().chain([&w.all_systems]))
        {
            let label = if std::ptr::eq(c, &w.all_systems) {
                "All Systems"
            } else {
                c.system.as_str()
            };
            let mut expected = vec![s(label), n(c.count)];
            expected.extend(c.by_rule.iter().map(|v| n(*v)));
            assert_eq!(row, &expected, "{kind:?} Unique User Count");
        }

        let rows = book.sheet("Entity Type Count");
        assert_eq!(rows.len(), 1 + w.entity_types.len());
        for (row, e) in rows[1..].iter().zip(&w.entity_types) {
            assert_eq!(
                &row[..4],
                &[
                    s(&e.system_pairs.join(", ")),
                    s(&e.system),
                    s(&e.entity_type),
                    s(e.status.label())
                ]
            );
            assert_time(&row[4], e.last_synced, "entity type last synced");
        }

        let rows = book.sheet("Integrated Project Count");
        assert_eq!(rows.len(), 1 + w.projects.len());
        for (row, p) in rows[1..].iter().zip(&w.projects) {
            assert_eq!(
                &row[..5],
                &[
                    s(&p.system1),
                    s(&p.project1),
                    s(&p.system2),
                    s(&p.project2),
                    s(p.status.label())
                ]
            );
            assert_opt_time(&row[5], p.last_updated, "project last updated");
            assert_opt_time(&row[6], p.last_synced, "project last synced");
        }

        let rows = book.sheet("Synced Data Count");
        assert_eq!(rows.len(), 1 + w.synced.len());
        for (row, r) in rows[1..].iter().zip(&w.synced) {
            assert_eq!(&row[..3], &[s(&r.system1), s(&r.system2), n(r.entities)]);
            assert_time(&row[3], r.last_synced, "synced last synced");
        }

        let rows = book.sheet("Detailed User Report");
        assert_eq!(rows.len(), 1 + w.users.len());
        for (i, (row, u)) in rows[1..].iter().zip(&w.users).enumerate() {
            assert_user_row(row, u, &format!("{kind:?} user row {i}"));
        }
    }
}

#[test]
fn spot_check_the_wording_of_user_cells() {
    let bytes = usage_reports_bytes(&sample_report()).unwrap();
    let books = books(&bytes);
    let rows = books[0].1.sheet("Detailed User Report");
    assert_eq!(
        rows[1][..7],
        [
            s("ann.lee@corp.example"),
            s("alee, ann.lee"),
            s("Ann Lee"),
            s("Usernames or Emails"),
            s("mapped_user_field, comment_author"),
            s("Azure DevOps (2026-10-01 12:00), Jira (2026-10-01 12:00)"),
            s("No"),
        ]
    );
    assert_eq!(rows[1][8], s("alee (Jira), ann.lee (Azure DevOps)"));
    // Carol has no email or username: blank cells, not empty strings.
    assert_eq!(rows[3][0], Data::Empty);
    assert_eq!(rows[3][1], Data::Empty);
    // The service account is listed and flagged.
    assert_eq!(rows[5][6], s("Yes"));
}

#[test]
fn totals_agree_across_sheets() {
    let report = sample_report();
    let bytes = usage_reports_bytes(&report).unwrap();
    for (kind, book) in books(&bytes) {
        let summary = book.sheet("Summary");
        let total = &summary[1][1];
        let counts = book.sheet("Unique User Count");
        let all = counts.last().unwrap();
        assert_eq!(all[0], s("All Systems"));
        assert_eq!(&all[1], total, "{kind:?}: Summary vs All Systems");
        // The four breakdowns, too.
        for (i, rule) in Rule::ALL.iter().enumerate() {
            assert_eq!(all[2 + i], summary[2 + i][1], "{kind:?} {rule:?}");
        }
        let people = book.sheet("Detailed User Report")[1..]
            .iter()
            .filter(|r| r[6] == s("No"))
            .count();
        assert_eq!(total, &n(people as u64), "{kind:?}: Summary vs user rows");
        let services = book.sheet("Detailed User Report")[1..]
            .iter()
            .filter(|r| r[6] == s("Yes"))
            .count();
        assert_eq!(summary[6][1], n(services as u64));
    }
}

#[test]
fn long_table_continues_on_numbered_sheets_with_headers() {
    let report = many_users_report(25);
    let options = ExportOptions {
        max_rows_per_sheet: 10,
    };
    let bytes = usage_reports_bytes_with(&report, &options).unwrap();
    for (kind, book) in books(&bytes) {
        let users = &report.window(kind).users;
        assert_eq!(
            book.names,
            [
                "Summary",
                "Unique User Count",
                "Entity Type Count",
                "Integrated Project Count",
                "Synced Data Count",
                "Detailed User Report",
                "Detailed User Report (2)",
                "Detailed User Report (3)",
            ]
        );
        let mut read = Vec::new();
        for name in [
            "Detailed User Report",
            "Detailed User Report (2)",
            "Detailed User Report (3)",
        ] {
            let rows = book.sheet(name);
            assert!(rows.len() <= 10, "{name} has {} rows", rows.len());
            assert_eq!(rows[0], header_row("Detailed User Report"), "{name} header");
            read.extend(rows[1..].iter().cloned());
        }
        assert_eq!(read.len(), users.len(), "rows lost or duplicated");
        for (i, (row, u)) in read.iter().zip(users).enumerate() {
            assert_user_row(row, u, &format!("{kind:?} user {i}"));
        }
    }
}

#[test]
fn overflow_boundary_exactly_full_sheet_does_not_add_a_sheet() {
    // 9 users + header = 10 rows: fits exactly.
    let report = many_users_report(9);
    let options = ExportOptions {
        max_rows_per_sheet: 10,
    };
    let bytes = usage_reports_bytes_with(&report, &options).unwrap();
    for (_, book) in books(&bytes) {
        assert_eq!(book.names, SHEETS);
        assert_eq!(book.sheet("Detailed User Report").len(), 10);
    }
}

#[test]
fn small_tables_overflow_too() {
    // Unique User Count has its systems plus `All Systems`; with 2 rows per sheet
    // every row gets its own sheet.
    let report = sample_report();
    let options = ExportOptions {
        max_rows_per_sheet: 2,
    };
    let bytes = usage_reports_bytes_with(&report, &options).unwrap();
    let books = books(&bytes);
    let book = &books[0].1;
    let w = &report.six_months;
    let pages = w.user_counts.len() + 1;
    let mut last_cells = Vec::new();
    for p in 0..pages {
        let name = if p == 0 {
            "Unique User Count".to_string()
        } else {
            format!("Unique User Count ({})", p + 1)
        };
        let rows = book.sheet(&name);
        assert_eq!(rows.len(), 2, "{name}");
        assert_eq!(rows[0], header_row("Unique User Count"));
        last_cells.push(rows[1][0].clone());
    }
    assert_eq!(last_cells.last(), Some(&s("All Systems")));
    assert_eq!(
        book.names
            .iter()
            .filter(|n| n.starts_with("Detailed User Report"))
            .count(),
        w.users.len()
    );
}

#[test]
fn over_long_cell_is_cut_with_ellipsis() {
    let mut report = sample_report();
    // 40,000 characters, some outside the BMP (two UTF-16 units each).
    let long_name: String = "Ann 😀 Lee ".repeat(4_000);
    assert_eq!(long_name.chars().count(), 40_000);
    edit(&mut report.six_months.users[0], |u| {
        u.display_names = vec![long_name.clone()]
    });
    // Many short values that only together pass the limit.
    edit(&mut report.six_months.users[1], |u| {
        u.emails = (0..5_000)
            .map(|i| format!("bob{i:04}@corp.example"))
            .collect()
    });

    let bytes = usage_reports_bytes(&report).unwrap();
    let books = books(&bytes);
    let rows = books[0].1.sheet("Detailed User Report");
    for (cell, full) in [
        (&rows[1][2], long_name),
        (
            &rows[2][0],
            report.six_months.users[1].emails().to_vec().join(", "),
        ),
    ] {
        let Data::String(text) = cell else {
            panic!("expected text, got {cell:?}")
        };
        assert!(text.ends_with('…'), "cut text ends with an ellipsis");
        let units = text.encode_utf16().count();
        assert!(units <= 32_767, "{units} UTF-16 units");
        assert!(units >= 32_766, "cut no more than needed: {units}");
        let kept = text.strip_suffix('…').unwrap();
        assert!(full.starts_with(kept), "the cut keeps the beginning");
    }
}

/// Text that XML or Excel treat specially comes back as it was written: markup
/// characters, quotes, leading and trailing spaces, a tab, non-ASCII, and a literal
/// `_x0041_` (which Excel would otherwise read as the escape of `A`).
#[test]
fn special_text_reads_back_unchanged() {
    let mut report = sample_report();
    let names = [
        "<b>Ann & \"Bo\"</b>",
        "  padded  ",
        "tab\there",
        "Zoë Ünal 😀",
        "_x0041_ stays",
    ];
    for (user, name) in report.six_months.users.iter_mut().zip(names) {
        edit(user, |u| u.display_names = vec![name.to_owned()]);
    }
    let bytes = usage_reports_bytes(&report).unwrap();
    let books = books(&bytes);
    let rows = books[0].1.sheet("Detailed User Report");
    for (row, name) in rows[1..].iter().zip(names) {
        assert_eq!(row[2], s(name), "{name:?}");
    }
}

#[test]
fn empty_report_has_headers_only() {
    let empty = |kind| window_report(kind, vec![], vec![], vec![], vec![]);
    let report = Report {
        as_of: as_of(),
        six_months: empty(WindowKind::SixMonths),
        one_year: empty(WindowKind::OneYear),
        provenance: None,
    };
    let bytes = usage_reports_bytes(&report).unwrap();
    for (kind, book) in books(&bytes) {
        assert_eq!(book.names, SHEETS);
        for sheet in &SHEETS[2..] {
            assert_eq!(book.sheet(sheet).len(), 1, "{kind:?} {sheet}");
        }
        // Only All Systems, with zeros.
        assert_eq!(
            book.sheet("Unique User Count")[1],
            [s("All Systems"), n(0), n(0), n(0), n(0), n(0)]
        );
        assert_eq!(book.sheet("Summary")[1][1], n(0));
    }
}

#[test]
fn same_report_exports_identically() {
    let report = sample_report();
    let first = usage_reports_bytes(&report).unwrap();
    let second = usage_reports_bytes(&report).unwrap();
    let (a, b) = (books(&first), books(&second));
    for ((kind, x), (_, y)) in a.iter().zip(&b) {
        assert_eq!(x.names, y.names, "{kind:?}");
        assert_eq!(x.sheets, y.sheets, "{kind:?}");
    }
    // Timestamps inside come from the report's as_of, not the clock.
    assert_eq!(first, second, "byte-identical archives");
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn writes_the_file_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("report.zip");
    let written = write_usage_reports(&sample_report(), &dest).unwrap();
    assert_eq!(written, dest);
    assert_eq!(dir_entries(dir.path()), ["report.zip"]);
    let bytes = std::fs::read(&dest).unwrap();
    assert_eq!(bytes, usage_reports_bytes(&sample_report()).unwrap());
}

#[test]
fn directory_destination_gets_the_standard_name() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_usage_reports(&sample_report(), dir.path()).unwrap();
    assert_eq!(written, dir.path().join(ZIP_NAME));
    assert_eq!(dir_entries(dir.path()), [ZIP_NAME]);
    assert_eq!(books(&std::fs::read(&written).unwrap()).len(), 2);
}

#[test]
fn missing_parent_is_an_io_error_naming_the_path_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("no such dir").join("out.zip");
    let err = write_usage_reports(&sample_report(), &dest).unwrap_err();
    match &err {
        ExportError::Io { path, .. } => assert_eq!(path, &dest),
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert!(err.to_string().contains("out.zip"), "{err}");
    assert!(dir_entries(dir.path()).is_empty());

    // A trailing separator on a missing path means a directory that is not there.
    let missing_dir = format!("{}/", dir.path().join("not here").display());
    let err = write_usage_reports(&sample_report(), Path::new(&missing_dir)).unwrap_err();
    assert!(matches!(err, ExportError::Io { .. }), "{err:?}");
    assert!(dir_entries(dir.path()).is_empty());
}

#[test]
fn failed_write_removes_the_temporary_and_keeps_what_was_there() {
    // The destination `Usage Reports.zip` is a non-empty directory here, so the final
    // rename fails after the whole zip was written and synced: the failure comes as
    // late as it can.
    let dir = tempfile::tempdir().unwrap();
    let in_the_way = dir.path().join(ZIP_NAME);
    std::fs::create_dir(&in_the_way).unwrap();
    std::fs::write(in_the_way.join("keep"), b"x").unwrap();
    let err = write_usage_reports(&sample_report(), dir.path()).unwrap_err();
    match &err {
        ExportError::Io { path, .. } => assert_eq!(path, &in_the_way),
        other => panic!("expected an Io error, got {other:?}"),
    }
    assert_eq!(dir_entries(dir.path()), [ZIP_NAME]);
    assert_eq!(dir_entries(&in_the_way), ["keep"]);
}

#[test]
fn export_over_an_existing_file_replaces_it() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join(ZIP_NAME);
    std::fs::write(&dest, b"an older, shorter or longer export").unwrap();
    let written = write_usage_reports(&sample_report(), dir.path()).unwrap();
    assert_eq!(written, dest);
    assert_eq!(dir_entries(dir.path()), [ZIP_NAME]);
    let bytes = std::fs::read(&dest).unwrap();
    assert_eq!(unzip(&bytes).len(), 2);
    assert_eq!(bytes, usage_reports_bytes(&sample_report()).unwrap());
}

#[test]
fn small_sheet_limit_is_clamped_to_header_plus_one_row() {
    let report = many_users_report(3);
    let options = ExportOptions {
        max_rows_per_sheet: 0,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_usage_reports_with(&report, dir.path(), &options).unwrap();
    let bytes = std::fs::read(path).unwrap();
    for (_, book) in books(&bytes) {
        for name in [
            "Detailed User Report",
            "Detailed User Report (2)",
            "Detailed User Report (3)",
        ] {
            assert_eq!(book.sheet(name).len(), 2, "{name}");
        }
    }
}

/// The sheet descriptions every front end reads (workbook, terminal UI, JSON) carry
/// exactly the SPEC §5 names, order and headers pinned above.
#[test]
fn the_sheet_descriptions_carry_the_spec_headers() {
    use tally_core::sheets;
    let described: Vec<(&str, Vec<&str>)> = vec![
        (sheets::SUMMARY, sheets::SUMMARY_HEADERS.to_vec()),
        (
            sheets::UNIQUE_USER_COUNT.name,
            sheets::UNIQUE_USER_COUNT.headers(),
        ),
        (
            sheets::ENTITY_TYPE_COUNT.name,
            sheets::ENTITY_TYPE_COUNT.headers(),
        ),
        (
            sheets::INTEGRATED_PROJECT_COUNT.name,
            sheets::INTEGRATED_PROJECT_COUNT.headers(),
        ),
        (
            sheets::SYNCED_DATA_COUNT.name,
            sheets::SYNCED_DATA_COUNT.headers(),
        ),
        (
            sheets::DETAILED_USER_REPORT.name,
            sheets::DETAILED_USER_REPORT.headers(),
        ),
    ];
    let names: Vec<&str> = described.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, sheets::usage_report_sheet_names());
    assert_eq!(names, SHEETS);
    for (name, got) in described {
        assert_eq!(got, headers(name), "{name}");
    }
}

/// Every sheet prints landscape, one page wide, with its header row repeated.
#[test]
fn every_sheet_prints_landscape_one_page_wide_with_the_header_repeated() {
    let bytes = usage_reports_bytes(&sample_report()).unwrap();
    for (name, _, book) in unzip(&bytes) {
        let mut xlsx = zip::ZipArchive::new(Cursor::new(book)).unwrap();
        let sheets: Vec<String> = (0..xlsx.len())
            .map(|i| xlsx.by_index(i).unwrap().name().unwrap().to_string())
            .filter(|n| n.starts_with("xl/worksheets/sheet"))
            .collect();
        assert_eq!(sheets.len(), 6, "{name}");
        for sheet in &sheets {
            let mut xml = String::new();
            xlsx.by_name(sheet)
                .unwrap()
                .read_to_string(&mut xml)
                .unwrap();
            assert!(xml.contains("orientation=\"landscape\""), "{name} {sheet}");
            assert!(xml.contains("fitToPage=\"1\""), "{name} {sheet}");
            assert!(xml.contains("fitToHeight=\"0\""), "{name} {sheet}");
        }
        let mut workbook = String::new();
        xlsx.by_name("xl/workbook.xml")
            .unwrap()
            .read_to_string(&mut workbook)
            .unwrap();
        assert_eq!(workbook.matches("_xlnm.Print_Titles").count(), 6, "{name}");
    }
}
