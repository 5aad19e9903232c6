//! What an administrator would notice about the demo data set.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use chrono::{Months, TimeDelta, TimeZone};
use tally_model::{
    Emit, Envelope, Integration, IntegrationStatus, Interaction, SyncRecord, SyncStatus,
    UserObservation,
};
use tokio::sync::mpsc;

use super::*;
use crate::org::{Org, COMPANY_DOMAIN};

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 31, 17, 45, 12).unwrap()
}

/// The data set at `end()`, generated once for all tests.
fn data() -> &'static [Tagged] {
    static DATA: OnceLock<Vec<Tagged>> = OnceLock::new();
    DATA.get_or_init(|| TaggedRecords::new(end()).collect())
}

fn users() -> impl Iterator<Item = (Option<u32>, &'static UserObservation)> {
    data().iter().filter_map(|(p, r)| match r {
        Record::User(u) => Some((*p, u)),
        _ => None,
    })
}

fn syncs() -> impl Iterator<Item = &'static SyncRecord> {
    data().iter().filter_map(|(_, r)| match r {
        Record::Sync(s) => Some(s),
        _ => None,
    })
}

fn integrations() -> Vec<&'static Integration> {
    data()
        .iter()
        .filter_map(|(_, r)| match r {
            Record::Integration(i) => Some(i),
            _ => None,
        })
        .collect()
}

fn times(record: &Record) -> DateTime<Utc> {
    match record {
        Record::User(u) => u.at,
        Record::Sync(s) => s.at,
        Record::Integration(i) => i.updated_at,
        Record::Account(a) => a.at,
    }
}

fn shifted(record: &Record, by: TimeDelta) -> Record {
    let mut r = record.clone();
    match &mut r {
        Record::User(u) => u.at += by,
        Record::Sync(s) => s.at += by,
        Record::Integration(i) => i.updated_at += by,
        Record::Account(a) => {
            a.at += by;
            if let Some(t) = a.last_active.as_mut() {
                *t += by;
            }
        }
    }
    r
}

#[test]
fn same_end_same_records() {
    let again: Vec<Record> = records(end()).collect();
    assert_eq!(again.len(), data().len());
    assert!(data().iter().map(|(_, r)| r).eq(again.iter()));
}

#[test]
fn a_later_end_slides_the_same_data_set() {
    // Whole weeks keep weekdays and hours: every record moves by exactly that much.
    let week = TimeDelta::days(7);
    let later: Vec<Record> = records(end() + week).collect();
    assert_eq!(later.len(), data().len());
    for ((_, a), b) in data().iter().zip(&later) {
        assert_eq!(&shifted(a, week), b);
    }

    // Any other shift: the same people doing the same things, at about the same time
    // relative to the end (kept in working hours, so it moves by up to a few days).
    let by = TimeDelta::days(3) + TimeDelta::hours(5) + TimeDelta::minutes(7);
    let other: Vec<Record> = records(end() + by).collect();
    assert_eq!(other.len(), data().len());
    let mut moved = 0;
    for ((_, a), b) in data().iter().zip(&other) {
        let diff = times(b) - times(a) - by;
        // Up to two days back to a Friday plus less than a day within the day.
        assert!(
            diff.abs() < TimeDelta::days(3) + TimeDelta::hours(12),
            "{a:?} vs {b:?}"
        );
        if times(a) != times(b) {
            moved += 1;
        }
        let (mut a, mut b) = (a.clone(), b.clone());
        // A sign-in time follows the observations before each read, and which ones fall
        // before a read moves with the working-hours nudge: only the whole-week shift
        // above keeps it exactly.
        if let (Record::Account(x), Record::Account(y)) = (&mut a, &mut b) {
            if x.last_active.is_some() && y.last_active.is_some() {
                (x.last_active, y.last_active) = (None, None);
            }
        }
        for r in [&mut a, &mut b] {
            *r = shifted(r, -(times(r) - DateTime::<Utc>::UNIX_EPOCH));
        }
        assert_eq!(a, b);
    }
    assert_eq!(moved, data().len());
}

#[test]
fn nothing_after_end_or_before_eighteen_months() {
    let check = |end: DateTime<Utc>, recs: &mut dyn Iterator<Item = Record>| {
        let floor = end.checked_sub_months(Months::new(18)).unwrap();
        let (mut first, mut last) = (end, floor);
        for r in recs {
            let t = times(&r);
            assert!(t <= end, "{r:?} is after {end}");
            assert!(t >= floor, "{r:?} is before {floor}");
            first = first.min(t);
            last = last.max(t);
        }
        // Spread over the whole span, not bunched at one end.
        assert!(first - floor < TimeDelta::days(10), "first record {first}");
        assert!(end - last < TimeDelta::days(1), "last record {last}");
    };
    check(end(), &mut data().iter().map(|(_, r)| r.clone()));
    for end in [
        Utc.with_ymd_and_hms(2025, 8, 31, 23, 59, 59).unwrap(),
        Utc.with_ymd_and_hms(2024, 2, 29, 0, 0, 0).unwrap() + TimeDelta::nanoseconds(123_456_789),
    ] {
        check(end, &mut records(end));
    }
}

#[test]
fn every_calendar_month_has_activity_and_recent_months_are_busier() {
    let mut per_month: BTreeMap<(i32, u32), usize> = BTreeMap::new();
    for (_, u) in users() {
        use chrono::Datelike;
        *per_month.entry((u.at.year(), u.at.month())).or_default() += 1;
    }
    // 18 months plus the partial month at each end.
    assert!(per_month.len() >= 18, "{per_month:?}");
    let counts: Vec<usize> = per_month.values().copied().collect();
    let full = &counts[1..counts.len() - 1];
    let (early, late) = (
        full[..6].iter().sum::<usize>(),
        full[full.len() - 6..].iter().sum::<usize>(),
    );
    assert!(late > early, "early {early}, late {late}");
    assert!(full.iter().all(|&c| c > 3_000), "{per_month:?}");
}

#[test]
fn size_is_a_couple_of_hundred_thousand_records() {
    let n = data().len();
    assert!((150_000..=300_000).contains(&n), "{n} records");
}

#[test]
fn every_system_is_present() {
    let seen: BTreeSet<&str> = users().map(|(_, u)| u.system.as_str()).collect();
    let synced: BTreeSet<&str> = syncs()
        .flat_map(|s| [s.source.system.as_str(), s.target.system.as_str()])
        .collect();
    let integrated: BTreeSet<&str> = integrations()
        .iter()
        .flat_map(|i| i.ends.iter().map(|e| e.system.as_str()))
        .collect();
    let all: BTreeSet<&str> = SYSTEMS.into_iter().collect();
    assert_eq!(seen, all);
    assert_eq!(synced, all);
    assert_eq!(integrated, all);
}

#[test]
fn identities_look_like_each_systems_api() {
    let mut people: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with_email: BTreeMap<&str, usize> = BTreeMap::new();
    let mut jira_people_hiding = HashSet::new();
    let mut jira_people = HashSet::new();
    for (p, u) in users() {
        if u.service_account || p.is_none() {
            continue;
        }
        let sys = u.system.as_str();
        *people.entry(sys).or_default() += 1;
        if u.email.is_some() {
            *with_email.entry(sys).or_default() += 1;
        }
        match sys {
            "Jira" => {
                assert!(u.username.is_none(), "Jira has no usernames: {u:?}");
                assert!(u.display_name.is_some());
                if u.display_name.as_deref() != Some("Former user") {
                    jira_people.insert(p);
                    if u.email.is_none() {
                        jira_people_hiding.insert(p);
                    }
                }
            }
            "Azure DevOps" => {
                assert!(u.username.is_none(), "{u:?}");
                assert!(u.email.as_deref().is_some_and(|e| e.contains('@')), "{u:?}");
                assert!(u.display_name.is_some());
            }
            "ServiceNow" => {
                assert!(u.username.is_some() && u.email.is_some() && u.display_name.is_some());
            }
            "GitHub" | "GitLab" => assert!(u.username.is_some(), "{u:?}"),
            other => panic!("unexpected system {other}"),
        }
    }
    let share = |sys: &str| with_email[sys] as f64 / people[sys] as f64;
    let hiding = jira_people_hiding.len() as f64 / jira_people.len() as f64;
    assert!(
        (0.3..0.5).contains(&hiding),
        "Jira hides {hiding:.2} of emails"
    );
    assert!(
        share("GitHub") < 0.35,
        "GitHub emails {:.2}",
        share("GitHub")
    );
    assert!(
        (0.5..0.85).contains(&share("GitLab")),
        "GitLab emails {:.2}",
        share("GitLab")
    );
    // Jira for most, the code hosts for the developers.
    let mut distinct: BTreeMap<&str, HashSet<u32>> = BTreeMap::new();
    for (p, u) in users() {
        if let Some(p) = p {
            distinct.entry(u.system.as_str()).or_default().insert(p);
        }
    }
    let n = |s: &str| distinct[s].len();
    assert!(n("Jira") > n("Azure DevOps"));
    assert!(n("Azure DevOps") > n("GitHub"));
    assert!(n("ServiceNow") > n("GitLab"));
    assert!(n("Jira") > 1_500, "{distinct:?}");
}

#[test]
fn service_accounts_in_every_system() {
    let mut flagged: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (_, u) in users().filter(|(_, u)| u.service_account) {
        let label = u
            .username
            .clone()
            .or_else(|| u.display_name.clone())
            .unwrap_or_default();
        flagged.entry(u.system.as_str()).or_default().insert(label);
    }
    let has = |sys: &str, name: &str| flagged.get(sys).is_some_and(|s| s.contains(name));
    for name in [
        "Automation for Jira",
        "Exalate",
        "Jira Service Management Widget",
    ] {
        assert!(has("Jira", name), "{name}: {flagged:?}");
    }
    assert!(has("GitHub", "dependabot[bot]") && has("GitHub", "github-actions[bot]"));
    assert!(has("ServiceNow", "svc.integration"));
    assert!(flagged["GitLab"]
        .iter()
        .any(|u| u.starts_with("project_") && u.contains("_bot")));
    assert!(has(
        "Azure DevOps",
        "Project Collection Build Service (northwind)"
    ));
    // Jira apps have no username and no email, only a name.
    for (_, u) in users().filter(|(_, u)| u.service_account && u.system == "Jira") {
        assert!(u.username.is_none() && u.email.is_none(), "{u:?}");
    }
    // No person is ever flagged.
    assert!(users().all(|(p, u)| p.is_none() || !u.service_account));
}

#[test]
fn about_three_thousand_company_people_and_some_contractors() {
    let org = Org::build(generate::SEED);
    let observed: HashSet<u32> = users().filter_map(|(p, _)| p).collect();
    let company = observed
        .iter()
        .filter(|&&p| !org.people[p as usize].external)
        .count();
    let external = observed.len() - company;
    assert!(
        (2_500..=3_500).contains(&company),
        "{company} company people"
    );
    assert!((150..=400).contains(&external), "{external} contractors");

    // The same shows in the data: distinct company email addresses, wherever visible.
    let emails: HashSet<String> = users()
        .filter_map(|(_, u)| u.email.as_deref())
        .map(|e| e.trim().to_lowercase())
        .filter(|e| e.ends_with(&format!("@{COMPANY_DOMAIN}")))
        .collect();
    assert!((2_000..=3_500).contains(&emails.len()), "{}", emails.len());
    let other_domains: BTreeSet<&str> = users()
        .filter_map(|(_, u)| u.email.as_deref()?.rsplit_once('@').map(|(_, d)| d))
        .filter(|d| !d.eq_ignore_ascii_case(COMPANY_DOMAIN))
        .collect();
    assert!(other_domains.len() >= 5, "{other_domains:?}");
}

#[test]
fn six_months_and_one_year_differ() {
    let six = end().checked_sub_months(Months::new(6)).unwrap();
    let year = end().checked_sub_months(Months::new(12)).unwrap();
    let people_since = |from: DateTime<Utc>| {
        users()
            .filter(|(_, u)| u.at >= from)
            .filter_map(|(p, _)| p)
            .collect::<HashSet<u32>>()
            .len()
    };
    let (in_six, in_year, all) = (
        people_since(six),
        people_since(year),
        people_since(end() - TimeDelta::days(10_000)),
    );
    assert!(
        in_six < in_year && in_year < all,
        "{in_six} {in_year} {all}"
    );
    assert!(in_six * 100 / in_year <= 95, "{in_six} of {in_year}");
    assert!(in_year * 100 / all <= 97, "{in_year} of {all}");
    assert!(in_six * 100 / all >= 70, "{in_six} of {all}");
}

#[test]
fn all_interaction_kinds_in_believable_proportions() {
    let mut kinds: BTreeMap<Interaction, usize> = BTreeMap::new();
    for (_, u) in users() {
        *kinds.entry(u.interaction).or_default() += 1;
    }
    let total: usize = kinds.values().sum();
    let pct = |i: Interaction| kinds.get(&i).copied().unwrap_or(0) * 100 / total;
    for i in Interaction::ALL {
        assert!(pct(i) >= 2, "{i:?}: {kinds:?}");
    }
    assert!(pct(Interaction::Updater) > pct(Interaction::CommentAuthor));
    assert!(pct(Interaction::CommentAuthor) > pct(Interaction::AttachmentAuthor));
    assert!(pct(Interaction::MappedUserField) > pct(Interaction::Mention));
}

#[test]
fn observations_point_at_integrated_items() {
    let ends: BTreeSet<(String, String, String)> = integrations()
        .iter()
        .flat_map(|i| i.ends.iter())
        .flat_map(|e| {
            e.entity_types
                .iter()
                .map(|t| (e.system.clone(), e.project.clone(), t.clone()))
        })
        .collect();
    for (_, u) in users() {
        let key = (
            u.system.clone(),
            u.project.clone().unwrap_or_default(),
            u.entity_type.clone().unwrap_or_default(),
        );
        assert!(ends.contains(&key), "{u:?}");
        assert!(u.entity_id.is_some());
    }
    for s in syncs() {
        for e in [&s.source, &s.target] {
            let key = (
                e.system.clone(),
                e.project.clone().unwrap_or_default(),
                e.entity_type.clone().unwrap_or_default(),
            );
            assert!(ends.contains(&key), "{s:?}");
        }
    }
    let ids: BTreeSet<&str> = users()
        .filter_map(|(_, u)| u.entity_id.as_deref())
        .collect();
    for example in [
        "OPS-",
        "WEB-",
        "INC00",
        "CHG00",
        "northwind/web-portal#",
        "platform/billing!",
    ] {
        assert!(ids.iter().any(|id| id.starts_with(example)), "{example}");
    }
}

#[test]
fn syncs_repeat_and_some_fail() {
    let total = syncs().count();
    let failed = syncs().filter(|s| s.status == SyncStatus::Failed).count();
    let pct = failed as f64 * 100.0 / total as f64;
    assert!((3.0..=5.0).contains(&pct), "{failed} of {total} failed");

    let mut per_pair: BTreeMap<(&str, &str, &str, &str), usize> = BTreeMap::new();
    for s in syncs().filter(|s| s.status == SyncStatus::Success) {
        let (a, b) = (&s.source, &s.target);
        let key = if (a.system.as_str(), a.entity_id.as_str())
            <= (b.system.as_str(), b.entity_id.as_str())
        {
            (
                a.system.as_str(),
                a.entity_id.as_str(),
                b.system.as_str(),
                b.entity_id.as_str(),
            )
        } else {
            (
                b.system.as_str(),
                b.entity_id.as_str(),
                a.system.as_str(),
                a.entity_id.as_str(),
            )
        };
        *per_pair.entry(key).or_default() += 1;
    }
    let pairs = per_pair.len();
    let several = per_pair.values().filter(|&&n| n >= 3).count();
    assert!(
        total as f64 / pairs as f64 >= 2.5,
        "{total} syncs for {pairs} pairs"
    );
    assert!(
        several * 100 / pairs >= 30,
        "{several} of {pairs} synced 3+ times"
    );
    // An entity belongs to one pair: ids are unique per system.
    let mut partner: BTreeMap<(&str, &str), (&str, &str)> = BTreeMap::new();
    for (a_sys, a_id, b_sys, b_id) in per_pair.keys() {
        assert_eq!(
            *partner.entry((a_sys, a_id)).or_insert((b_sys, b_id)),
            (*b_sys, *b_id)
        );
    }
}

#[test]
fn integrations_active_inactive_and_one_only_in_the_year() {
    let all = integrations();
    assert!(
        all.iter()
            .filter(|i| i.status == IntegrationStatus::Active)
            .count()
            >= 5
    );
    let inactive: Vec<&&Integration> = all
        .iter()
        .filter(|i| i.status == IntegrationStatus::Inactive)
        .collect();
    assert_eq!(inactive.len(), 2);
    let six = end().checked_sub_months(Months::new(6)).unwrap();
    let year = end().checked_sub_months(Months::new(12)).unwrap();
    let last_sync = |i: &Integration| {
        syncs()
            .filter(|s| {
                i.ends.iter().any(|e| {
                    e.system == s.source.system && Some(&e.project) == s.source.project.as_ref()
                }) && i.ends.iter().any(|e| {
                    e.system == s.target.system && Some(&e.project) == s.target.project.as_ref()
                })
            })
            .map(|s| s.at)
            .max()
    };
    for i in &inactive {
        let last = last_sync(i).expect("an inactive integration synced before");
        assert!(
            last < i.updated_at,
            "{} synced after it was switched off",
            i.name
        );
    }
    let only_in_year: Vec<_> = inactive
        .iter()
        .filter(|i| i.updated_at < six && i.updated_at > year)
        .collect();
    assert_eq!(only_in_year.len(), 1, "{inactive:?}");
    // And an active one that has not changed for more than a year.
    assert!(all
        .iter()
        .any(|i| i.status == IntegrationStatus::Active && i.updated_at < year));
    for i in &all {
        assert!(last_sync(i).is_some(), "{} never synced", i.name);
    }
}

#[test]
fn identity_edge_cases_are_there() {
    let obs: Vec<&UserObservation> = users().map(|(_, u)| u).collect();
    let has = |f: &dyn Fn(&UserObservation) -> bool| obs.iter().any(|u| f(u));
    let is = |v: &Option<String>, s: &str| v.as_deref() == Some(s);

    // Rule-1 chain: alee (ServiceNow) — ann.lee@ — annlee-dev (GitHub); alee (GitLab).
    assert!(has(&|u| u.system == "ServiceNow"
        && is(&u.username, "alee")
        && is(&u.email, "ann.lee@northwind.example")));
    assert!(has(&|u| u.system == "GitHub"
        && is(&u.username, "annlee-dev")
        && is(&u.email, "ann.lee@northwind.example")));
    assert!(has(&|u| u.system == "GitLab"
        && is(&u.username, "alee")
        && u.email.is_none()));
    // One email, different usernames in different systems (Duplicates).
    let mut usernames_of: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for u in &obs {
        if let (Some(e), Some(n)) = (&u.email, &u.username) {
            usernames_of
                .entry(e.trim().to_lowercase())
                .or_default()
                .insert((n.trim().to_lowercase(), u.system.clone()));
        }
    }
    let duplicates = usernames_of
        .values()
        .filter(|s| s.iter().map(|(n, _)| n).collect::<BTreeSet<_>>().len() > 1)
        .count();
    assert!(duplicates >= 1);
    assert!(usernames_of["priya.patel@northwind.example"].len() == 3);
    // Namesakes: one display name, several emails.
    let mut emails_of_name: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for u in &obs {
        if let (Some(d), Some(e)) = (&u.display_name, &u.email) {
            emails_of_name
                .entry(d.as_str())
                .or_default()
                .insert(e.trim().to_lowercase());
        }
    }
    for name in ["Chris Johnson", "Wei Zhang", "María García"] {
        assert!(
            emails_of_name[name].len() >= 2,
            "{name}: {:?}",
            emails_of_name[name]
        );
    }
    // Mixed case, surrounding white space, malformed emails, nothing at all.
    assert!(has(&|u| u
        .email
        .as_deref()
        .is_some_and(|e| e != e.to_lowercase())));
    assert!(has(&|u| u
        .username
        .as_deref()
        .is_some_and(|n| n != n.to_lowercase())));
    let padded = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty() && s != s.trim());
    assert!(has(&|u| padded(&u.email)) && has(&|u| padded(&u.display_name)));
    // Malformed as identity resolution judges them: present, yet no email.
    let malformed =
        |e: &str| !e.trim().is_empty() && tally_core::identity::normalize_email(e).is_none();
    let invalid: BTreeSet<&str> = obs
        .iter()
        .filter_map(|u| u.email.as_deref())
        .filter(|e| malformed(e))
        .collect();
    assert!((3..=20).contains(&invalid.len()), "{invalid:?}");
    // Seven ServiceNow people, as the module documentation says (eight accounts are
    // spoiled, one of them never shows up), and nowhere else.
    let spoiled: BTreeSet<(Option<u32>, &str)> = users()
        .filter(|(_, u)| u.email.as_deref().is_some_and(malformed))
        .map(|(p, u)| (p, u.system.as_str()))
        .collect();
    assert_eq!(spoiled.len(), 7, "{spoiled:?}");
    assert!(spoiled
        .iter()
        .all(|(p, system)| p.is_some() && *system == "ServiceNow"));
    let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
    let anonymous = obs
        .iter()
        .filter(|u| blank(&u.email) && blank(&u.username) && blank(&u.display_name))
        .count();
    assert!((50..=2_000).contains(&anonymous), "{anonymous}");
    assert!(has(&|u| is(&u.display_name, "Former user")));
}

#[test]
fn settings_take_an_end_or_nothing() {
    use serde::de::value::{Error, MapDeserializer};
    let parse = |entries: Vec<(&'static str, &'static str)>| {
        Settings::deserialize(MapDeserializer::<_, Error>::new(entries.into_iter()))
    };
    let none = parse(vec![]).unwrap();
    assert_eq!(none.end, None);
    assert_eq!(none.end_or(end()), end());
    let some = parse(vec![("end", "2025-06-30T12:00:00+02:00")]).unwrap();
    let want = Utc.with_ymd_and_hms(2025, 6, 30, 10, 0, 0).unwrap();
    assert_eq!(some.end, Some(want));
    assert_eq!(some.end_or(end()), want);
    let err = parse(vec![("end", "2025-06-30")]).unwrap_err().to_string();
    assert!(err.contains("RFC 3339"), "{err}");
    let err = parse(vec![("ends", "2025-06-30T12:00:00Z")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field"), "{err}");
    // An unquoted TOML date-time reaches serde as a one-entry table.
    let toml_form = MapDeserializer::<_, Error>::new(
        vec![("$__toml_private_datetime", "2025-06-30T10:00:00Z")].into_iter(),
    );
    assert_eq!(deserialize_end(toml_form).unwrap(), Some(want));
}

/// Runs the connector into a channel and returns what it emitted, and how it ended.
async fn run_connector(
    end: DateTime<Utc>,
    cancel_after: Option<usize>,
) -> (Vec<Emit>, Result<(), ConnectorError>) {
    let (tx, mut rx) = mpsc::channel::<Envelope>(8);
    let ctx = ConnectorContext::new(3, "demo-main", None, tx, Default::default());
    let stop = ctx.shutdown().clone();
    let connector = DemoConnector::new("demo-main", end);
    assert_eq!(connector.name(), "demo-main");
    assert_eq!(connector.kind(), "demo");
    let task = tokio::spawn(async move { connector.run(ctx).await });
    let mut emitted = Vec::new();
    let mut batches = 0;
    while let Some(envelope) = rx.recv().await {
        assert_eq!(envelope.connector, 3);
        if matches!(envelope.emit, Emit::Batch(_)) {
            batches += 1;
            if Some(batches) == cancel_after {
                stop.cancel();
            }
        }
        emitted.push(envelope.emit);
    }
    (emitted, task.await.unwrap())
}

#[tokio::test]
async fn connector_sends_exactly_the_data_set() {
    let (emitted, result) = run_connector(end(), None).await;
    result.unwrap();
    let mut sent = Vec::new();
    let mut progress = Vec::new();
    for emit in emitted {
        match emit {
            Emit::Batch(b) => {
                assert!(!b.is_empty() && b.len() <= 1_000);
                sent.extend(b);
            }
            Emit::Progress { done, total } => progress.push((done, total)),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(sent.len(), data().len());
    assert!(data().iter().map(|(_, r)| r).eq(sent.iter()));
    let n = sent.len() as u64;
    assert!(progress.len() > 5);
    assert!(progress.iter().all(|&(d, t)| t == Some(n) && d <= n));
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(progress.last(), Some(&(n, Some(n))));
}

#[tokio::test]
async fn connector_stops_when_cancelled() {
    let (emitted, result) = run_connector(end(), Some(3)).await;
    assert!(
        matches!(result, Err(ConnectorError::Cancelled)),
        "{result:?}"
    );
    let sent: usize = emitted
        .iter()
        .map(|e| match e {
            Emit::Batch(b) => b.len(),
            _ => 0,
        })
        .sum();
    assert!(
        sent < data().len() / 10,
        "{sent} records sent after cancelling"
    );
}

#[test]
fn the_organisation_is_the_same_every_time() {
    let (a, b) = (Org::build(generate::SEED), Org::build(generate::SEED));
    assert_eq!(a.people.len(), b.people.len());
    for (x, y) in a.people.iter().zip(&b.people) {
        assert_eq!(x.ids, y.ids);
    }
}

/// A fingerprint of everything but the accounts: the observations, syncs and integrations
/// the Usage Reports are computed from.
fn usage_fingerprint() -> (usize, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut n = 0;
    for (_, r) in data() {
        if matches!(r, Record::Account(_)) {
            continue;
        }
        n += 1;
        for b in format!("{r:?}").bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (n, h)
}

#[test]
fn accounts_leave_the_usage_records_as_they_were() {
    // Taken from the data set before it had directories (commit c7a83fd): the records the
    // Usage Reports count are exactly the same, in the same order.
    assert_eq!(usage_fingerprint(), (207_876, 4_617_270_830_306_054_692));
    // And the accounts come after them all.
    let first = data()
        .iter()
        .position(|(_, r)| matches!(r, Record::Account(_)))
        .unwrap();
    assert!(data()[first..]
        .iter()
        .all(|(_, r)| matches!(r, Record::Account(_))));
}

fn accounts() -> impl Iterator<Item = (Option<u32>, &'static tally_model::Account)> {
    data().iter().filter_map(|(p, r)| match r {
        Record::Account(a) => Some((*p, a)),
        _ => None,
    })
}

/// Each account's state at `as_of`, with its person (SPEC §2: the latest read not after).
fn accounts_at(
    as_of: DateTime<Utc>,
) -> BTreeMap<(String, String), (Option<u32>, &'static tally_model::Account)> {
    let mut out: BTreeMap<(String, String), (Option<u32>, &'static tally_model::Account)> =
        BTreeMap::new();
    for (p, a) in accounts().filter(|(_, a)| a.at <= as_of) {
        let key = (a.system.clone(), a.id.clone());
        if out.get(&key).is_none_or(|(_, b)| b.at <= a.at) {
            out.insert(key, (p, a));
        }
    }
    out
}

/// Per system at `as_of`: (seats, dormant seats), activity as SPEC §9 has it (the later of
/// the directory's last activity and the person's last observation there, in the year).
fn seats_and_dormant(as_of: DateTime<Utc>) -> BTreeMap<String, (usize, usize)> {
    let year = as_of.checked_sub_months(Months::new(12)).unwrap();
    let mut last_seen: BTreeMap<(u32, &str), DateTime<Utc>> = BTreeMap::new();
    for (p, u) in users() {
        if let Some(p) = p {
            if u.at >= year && u.at <= as_of {
                let e = last_seen.entry((p, u.system.as_str())).or_insert(u.at);
                *e = (*e).max(u.at);
            }
        }
    }
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (p, a) in accounts_at(as_of).into_values() {
        if a.status != tally_model::AccountStatus::Active || !a.billable || a.service_account {
            continue;
        }
        let seen = p.and_then(|p| last_seen.get(&(p, a.system.as_str())).copied());
        let activity = a.last_active.filter(|t| *t <= as_of).max(seen);
        let dormant = activity.is_none_or(|t| t < as_of - TimeDelta::days(90));
        let e = out.entry(a.system.clone()).or_default();
        e.0 += 1;
        e.1 += usize::from(dormant);
    }
    out
}

#[test]
fn directories_have_dormant_seats_in_every_system_and_a_believable_share() {
    let stats = seats_and_dormant(end());
    assert_eq!(
        stats.keys().map(String::as_str).collect::<Vec<_>>().len(),
        5,
        "{stats:?}"
    );
    for (system, (seats, dormant)) in &stats {
        assert!(
            *seats > 300 && *dormant > 0 && dormant < seats,
            "{system}: {stats:?}"
        );
    }
    let (seats, dormant) = stats
        .values()
        .fold((0, 0), |(s, d), (s2, d2)| (s + s2, d + d2));
    let share = dormant as f64 / seats as f64;
    assert!((0.10..=0.20).contains(&share), "{dormant} of {seats}");
}

#[test]
fn directories_look_like_each_systems_api() {
    use tally_model::{AccountStatus::*, TwoStep};
    let now = accounts_at(end());
    let of = |system: &'static str| {
        now.values()
            .map(|(_, a)| *a)
            .filter(move |a| a.system == system)
    };
    // Jira: app accounts, hidden emails, no usernames, free portal customers.
    assert!(of("Jira").any(|a| a.service_account
        && a.display_name.as_deref() == Some("Automation for Jira")
        && !a.billable));
    assert!(of("Jira").filter(|a| a.email.is_none()).count() > 300);
    assert!(of("Jira").all(|a| a.username.is_none()));
    assert!(of("Jira").any(|a| !a.billable && !a.service_account));
    // GitHub: logins, mostly no email, no sign-in times, two-factor for most.
    assert!(of("GitHub").all(|a| a.username.is_some() && a.last_active.is_none()));
    assert!(of("GitHub").filter(|a| a.email.is_none()).count() * 2 > of("GitHub").count());
    // Azure DevOps: free Stakeholders beside Basic seats; Entra ID sign-in.
    assert!(of("Azure DevOps").any(|a| a.product.as_deref() == Some("Stakeholder")));
    assert!(of("Azure DevOps").all(|a| (a.product.as_deref() == Some("Stakeholder")) != a.billable));
    assert!(of("Azure DevOps").any(|a| a.sso == Some(false)));
    // GitLab bots use no seat; ServiceNow integration users are service accounts.
    assert!(of("GitLab").any(|a| a.service_account
        && a.username.as_deref() == Some("project_118_bot")
        && !a.billable));
    assert!(of("ServiceNow")
        .any(|a| a.service_account && a.username.as_deref() == Some("svc.integration")));
    // Two-step verification: known in three systems, missing for a share of people.
    let known: Vec<_> = now.values().filter_map(|(_, a)| a.two_step).collect();
    let off = known.iter().filter(|t| **t == TwoStep::Disabled).count();
    assert!(
        off * 10 > known.len() && off * 2 < known.len(),
        "{off} of {}",
        known.len()
    );
    // Disabled accounts, and contractors on their own domains.
    assert!(now.values().filter(|(_, a)| a.status == Disabled).count() > 100);
    assert!(now.values().any(|(_, a)| a.status == Active
        && a.email
            .as_deref()
            .is_some_and(|e| e.ends_with("@contoso-consulting.example"))));
}

#[test]
fn some_act_without_an_account_and_some_hold_one_without_acting() {
    let now = accounts_at(end());
    let holders: BTreeSet<(u32, &str)> = now
        .values()
        .filter_map(|(p, a)| p.map(|p| (p, a.system.as_str())))
        .collect();
    let actors: BTreeSet<(u32, &str)> = users()
        .filter_map(|(p, u)| p.map(|p| (p, u.system.as_str())))
        .collect();
    let without: Vec<_> = actors.difference(&holders).collect();
    assert!(
        !without.is_empty() && without.len() < 150,
        "{}",
        without.len()
    );
    assert!(without.iter().all(|(_, s)| *s == "GitHub"));
    assert!(holders.difference(&actors).count() > 100);
}

#[test]
fn directories_are_read_at_a_few_times_and_change_between_reads() {
    let reads: BTreeSet<DateTime<Utc>> = accounts().map(|(_, a)| a.at).collect();
    assert_eq!(reads.len(), directory::READ_DAYS.len(), "{reads:?}");
    // The last read is on the last working day.
    assert!(reads
        .last()
        .is_some_and(|r| *r <= end() && *r > end() - TimeDelta::days(4)));
    assert!(accounts().all(|(_, a)| a.last_active.is_none_or(|t| t <= a.at)));
    let first = *reads.first().unwrap();
    assert!(accounts_at(first - TimeDelta::seconds(1)).is_empty());
    let month_ago = accounts_at(end() - TimeDelta::days(28));
    let now = accounts_at(end());
    let changed = now
        .iter()
        .filter(|(k, (_, a))| month_ago.get(*k).is_none_or(|(_, b)| b.status != a.status))
        .count();
    assert!(changed > 10, "{changed}");
    // Moderate: a fraction of the observations.
    let n = accounts().count();
    assert!((10_000..=40_000).contains(&n), "{n}");
}
