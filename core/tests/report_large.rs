//! A store large enough that the report reads its observations on two connections at once
//! (each half of the identity ids): every person must still get exactly their own last
//! time and systems, and none may be lost or counted twice at the split.

use chrono::{DateTime, Duration, Utc};
use tally_core::report::{build_report, ReportOptions};
use tally_core::store::Store;
use tally_core::{Interaction, Record, UserObservation};

const PEOPLE: usize = 45_000;

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
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("large.db");
    Store::open(&path)
        .expect("store")
        .writer()
        .expect("writer")
        .write_all(&records)
        .expect("write");

    let store = Store::open(&path).expect("store");
    let report = build_report(&store, &ReportOptions::new(as_of)).expect("report");
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
