//! Stores large enough that the report reads them on more than one connection at once:
//! the observations in two halves of the identity ids, the syncs beside them. Every
//! person must still get exactly their own last time and systems, none may be lost or
//! counted twice at the split, and the syncs read beside must count as they do alone.

use chrono::{DateTime, Duration, Utc};
use tally_core::report::{build_report, Report, ReportOptions};
use tally_core::store::Store;
use tally_core::{EntityRef, Interaction, Record, SyncRecord, SyncStatus, UserObservation};

const PEOPLE: usize = 45_000;

/// The report at `as_of` of a fresh store holding `records`.
fn report_of(records: &[Record], as_of: DateTime<Utc>) -> Report {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("large.db");
    Store::open(&path)
        .expect("store")
        .writer()
        .expect("writer")
        .write_all(records)
        .expect("write");
    let store = Store::open(&path).expect("store");
    build_report(&store, &ReportOptions::new(as_of)).expect("report")
}

fn observation(system: &str, at: DateTime<Utc>, i: usize, interaction: Interaction) -> Record {
    Record::User(UserObservation {
        system: system.into(),
        at,
        email: Some(format!("p{i}@corp.example")),
        username: None,
        display_name: None,
        interaction,
        project: None,
        entity_type: None,
        entity_id: None,
        service_account: false,
    })
}

#[test]
fn every_person_keeps_their_own_numbers_across_the_split_read() {
    let as_of: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("time");
    let base = as_of - Duration::days(100);
    let mut records = Vec::with_capacity(PEOPLE * 2);
    for i in 0..PEOPLE {
        // Person i is last seen i minutes after `base`, in Jira; every third also in
        // GitHub one minute earlier, and a mention there.
        let at = base + Duration::minutes(i as i64);
        records.push(observation("Jira", at, i, Interaction::Updater));
        if i.is_multiple_of(3) {
            records.push(observation(
                "GitHub",
                at - Duration::minutes(1),
                i,
                Interaction::Mention,
            ));
        }
    }
    let report = report_of(&records, as_of);
    for window in [&report.six_months, &report.one_year] {
        assert_eq!(window.summary.total_unique_users, PEOPLE as u64);
        assert_eq!(window.users.len(), PEOPLE);
        for user in &window.users {
            let email = user.emails().first().expect("an email");
            let i: usize = email
                .strip_prefix('p')
                .and_then(|rest| rest.strip_suffix("@corp.example"))
                .and_then(|n| n.parse().ok())
                .expect("p<i>@corp.example");
            let at = base + Duration::minutes(i as i64);
            assert_eq!(user.last_seen(), at, "{email}");
            let systems: Vec<&str> = user.observed_in().map(|(s, _)| s).collect();
            let interactions: Vec<Interaction> = user.interactions().collect();
            if i.is_multiple_of(3) {
                assert_eq!(systems, ["GitHub", "Jira"], "{email}");
                assert_eq!(
                    user.observed_in().next().map(|(_, t)| t),
                    Some(at - Duration::minutes(1)),
                    "{email}"
                );
                assert!(interactions.contains(&Interaction::Mention), "{email}");
            } else {
                assert_eq!(systems, ["Jira"], "{email}");
                assert_eq!(interactions, [Interaction::Updater], "{email}");
            }
        }
        let jira = window
            .user_counts
            .iter()
            .find(|c| c.system == "Jira")
            .expect("Jira");
        assert_eq!(jira.count, PEOPLE as u64);
    }
}

/// Entity pairs synced; twice as many entities, over the 20,000 from which the syncs are
/// read on a connection of their own.
const PAIRS: usize = 15_000;
/// Pairs from this one on were synced only nine months ago: in the year, not the six months.
const RECENT_PAIRS: usize = 12_000;

#[test]
fn syncs_read_beside_the_identities_count_each_entity_pair_once() {
    let as_of: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().expect("time");
    let entity = |system: &str, project: &str, kind: &str, id: String| EntityRef {
        system: system.into(),
        project: Some(project.into()),
        entity_type: Some(kind.into()),
        entity_id: id,
    };
    let sync = |at: DateTime<Utc>, source: EntityRef, target: EntityRef, ok: bool| {
        Record::Sync(SyncRecord {
            at,
            status: if ok {
                SyncStatus::Success
            } else {
                SyncStatus::Failed
            },
            source,
            target,
        })
    };
    let mut records = Vec::new();
    for i in 0..PAIRS {
        let at = match i < RECENT_PAIRS {
            true => as_of - Duration::days(30) + Duration::seconds(i as i64),
            false => as_of - Duration::days(270),
        };
        let jira = entity("Jira", "PROJ", "Bug", format!("J-{i}"));
        let github = entity("GitHub", "org/repo", "Issue", format!("{i}"));
        // Both directions are one unordered pair.
        records.push(sync(at, jira.clone(), github.clone(), true));
        records.push(sync(at, github.clone(), jira.clone(), true));
        if i.is_multiple_of(5) {
            // The same Jira issue seen under another project is the same entity.
            let moved = entity("Jira", "OTHER", "Bug", format!("J-{i}"));
            records.push(sync(at, moved, github.clone(), true));
        }
        if i.is_multiple_of(7) {
            records.push(sync(at, jira, github, false));
        }
    }
    let report = report_of(&records, as_of);
    for (window, pairs) in [
        (&report.six_months, RECENT_PAIRS),
        (&report.one_year, PAIRS),
    ] {
        let label = window.window.kind.label();
        assert_eq!(window.synced.len(), 1, "{label}");
        let synced = &window.synced[0];
        assert_eq!(
            (synced.system1.as_str(), synced.system2.as_str()),
            ("GitHub", "Jira"),
            "{label}"
        );
        assert_eq!(synced.entities, pairs as u64, "{label}");
        assert_eq!(window.summary.entities_synced, pairs as u64, "{label}");
        assert_eq!(
            synced.last_synced,
            as_of - Duration::days(30) + Duration::seconds(RECENT_PAIRS as i64 - 1),
            "{label}"
        );
        let moved = (0..pairs).filter(|i| i.is_multiple_of(5)).count() as u64;
        let failed = (0..pairs).filter(|i| i.is_multiple_of(7)).count() as u64;
        let outcome = &window.sync_outcomes[0];
        assert_eq!(outcome.succeeded, 2 * pairs as u64 + moved, "{label}");
        assert_eq!(outcome.failed, failed, "{label}");
        let types: Vec<(&str, &str)> = window
            .entity_types
            .iter()
            .map(|t| (t.system.as_str(), t.entity_type.as_str()))
            .collect();
        assert_eq!(types, [("GitHub", "Issue"), ("Jira", "Bug")], "{label}");
        let projects: Vec<(&str, &str)> = window
            .projects
            .iter()
            .map(|p| (p.project1.as_str(), p.project2.as_str()))
            .collect();
        assert_eq!(
            projects,
            [("org/repo", "OTHER"), ("org/repo", "PROJ")],
            "{label}"
        );
    }
}
