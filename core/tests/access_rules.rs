//! SPEC §9 rule by rule, on hand-made accounts and observations written through the
//! store: what an administrator reading the access insights would notice.

mod access_support;

use access_support::*;
use tally_core::identity::IdentityRules;
use tally_core::report::access::{AccessInsights, SystemAccess};
use tally_core::report::{build_report, ReportOptions};
use tally_core::{AccountStatus, Record};

const AS_OF: &str = "2026-11-01T00:00:00Z";

fn system<'a>(i: &'a AccessInsights, name: &str) -> &'a SystemAccess {
    i.systems
        .iter()
        .find(|s| s.system == name)
        .unwrap_or_else(|| panic!("no system {name} in {:?}", i.systems))
}

fn row<'a>(
    i: &'a AccessInsights,
    system: &str,
    id: &str,
) -> &'a tally_core::report::access::AccountRow {
    i.accounts
        .iter()
        .find(|a| a.system == system && a.id == id)
        .unwrap_or_else(|| panic!("no account {system}/{id}"))
}

fn ids(i: &AccessInsights) -> Vec<(String, String, AccountStatus)> {
    i.accounts
        .iter()
        .map(|a| (a.system.clone(), a.id.clone(), a.status))
        .collect()
}

#[test]
fn the_state_at_as_of_is_the_latest_read_not_after_it() {
    let records = vec![
        account(
            "Jira",
            "1",
            "2026-09-01T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .rec(),
        account(
            "Jira",
            "1",
            "2026-10-01T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .disabled()
        .rec(),
        // Re-enabled after as_of: not yet true at as_of.
        account(
            "Jira",
            "1",
            "2026-12-01T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .rec(),
        // First read after as_of: the account did not exist yet, as far as tally knows.
        account(
            "Jira",
            "2",
            "2026-11-15T06:00:00Z",
            "bob@corp.example",
            "",
            "",
        )
        .rec(),
        account(
            "Jira",
            "3",
            "2026-10-01T06:00:00Z",
            "cy@corp.example",
            "",
            "",
        )
        .rec(),
    ];
    let (_dir, store) = store_with(&records);
    let at =
        |as_of: &str| tally_core::report::access_insights(&store, &opts(as_of)).expect("insights");

    let now = at(AS_OF);
    assert_eq!(
        ids(&now),
        vec![
            ("Jira".into(), "1".into(), AccountStatus::Disabled),
            ("Jira".into(), "3".into(), AccountStatus::Active),
        ]
    );
    assert_eq!(
        system(&now, "Jira").accounts,
        1,
        "a disabled account has no access"
    );
    assert_eq!(now.people.with_access, 1);

    let before = at("2026-09-15T00:00:00Z");
    assert_eq!(
        ids(&before),
        vec![("Jira".into(), "1".into(), AccountStatus::Active)]
    );
    assert_eq!(before.people.with_access, 1);

    let later = at("2026-12-02T00:00:00Z");
    assert_eq!(later.accounts.len(), 3);
    assert_eq!(system(&later, "Jira").accounts, 3);

    // Before any read there is no system at all.
    let none = at("2026-08-01T00:00:00Z");
    assert!(none.systems.is_empty() && none.accounts.is_empty());
}

#[test]
fn activity_is_the_later_of_last_active_and_the_persons_observations_in_that_system() {
    let records = vec![
        account(
            "Jira",
            "ann",
            "2026-10-31T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .last_active("2026-10-20T00:00:00Z")
        .rec(),
        seen("Jira", "2026-10-25T10:00:00Z", "ann@corp.example", "", ""),
        account(
            "Jira",
            "bob",
            "2026-10-31T06:00:00Z",
            "bob@corp.example",
            "",
            "",
        )
        .last_active("2026-10-28T00:00:00Z")
        .rec(),
        seen("Jira", "2026-09-01T10:00:00Z", "bob@corp.example", "", ""),
        // last_active after as_of is ignored; activity in another system does not count,
        // nor before the Last 1 Year window.
        account(
            "Jira",
            "cy",
            "2026-10-31T06:00:00Z",
            "cy@corp.example",
            "",
            "",
        )
        .last_active("2026-11-05T00:00:00Z")
        .rec(),
        seen("GitHub", "2026-10-30T10:00:00Z", "cy@corp.example", "", ""),
        seen("Jira", "2025-10-01T10:00:00Z", "cy@corp.example", "", ""),
        // An observation after as_of does not count either.
        seen("Jira", "2026-11-02T10:00:00Z", "cy@corp.example", "", ""),
        // The observation carries only a username; identity resolution over the pool
        // makes it Eve's (her account has username and email).
        account(
            "Jira",
            "eve",
            "2026-10-31T06:00:00Z",
            "eve@corp.example",
            "eve",
            "Eve",
        )
        .rec(),
        seen("Jira", "2026-10-15T10:00:00Z", "", "EVE", ""),
    ];
    let i = insights_of(&records, &opts(AS_OF));
    let activity = |id: &str| row(&i, "Jira", id).last_activity;
    assert_eq!(activity("ann"), Some(t("2026-10-25T10:00:00Z")));
    assert_eq!(activity("bob"), Some(t("2026-10-28T00:00:00Z")));
    assert_eq!(activity("cy"), None);
    assert_eq!(activity("eve"), Some(t("2026-10-15T10:00:00Z")));
    assert!(row(&i, "Jira", "ann").active && row(&i, "Jira", "eve").active);
    assert!(!row(&i, "Jira", "cy").active);
    assert!(
        row(&i, "Jira", "cy").dormant,
        "a seat without activity is dormant"
    );
    assert_eq!(system(&i, "Jira").active, 3);
    assert_eq!(system(&i, "Jira").dormant, 1);
    assert_eq!(i.people.active, 3);
}

#[test]
fn the_edges_of_active_days_and_dormant_days() {
    // 30 days before as_of is 2026-10-02T00:00Z, 90 days before is 2026-08-03T00:00Z.
    let a = |id: &str, last: &str| {
        account(
            "Jira",
            id,
            "2026-10-31T06:00:00Z",
            &format!("{id}@corp.example"),
            "",
            "",
        )
        .last_active(last)
        .rec()
    };
    let records = vec![
        a("at-active-edge", "2026-10-02T00:00:00Z"),
        a("just-before-active-edge", "2026-10-01T23:59:59Z"),
        a("at-dormant-edge", "2026-08-03T00:00:00Z"),
        a("just-before-dormant-edge", "2026-08-02T23:59:59Z"),
        account(
            "Jira",
            "never",
            "2026-10-31T06:00:00Z",
            "never@corp.example",
            "",
            "",
        )
        .rec(),
    ];
    let i = insights_of(&records, &opts(AS_OF));
    let flags = |id: &str| {
        let r = row(&i, "Jira", id);
        (r.active, r.dormant)
    };
    assert_eq!(flags("at-active-edge"), (true, false));
    assert_eq!(flags("just-before-active-edge"), (false, false));
    assert_eq!(flags("at-dormant-edge"), (false, false));
    assert_eq!(flags("just-before-dormant-edge"), (false, true));
    assert_eq!(flags("never"), (false, true));
    let dormant: Vec<&str> = i.dormant_seats.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(dormant, vec!["just-before-dormant-edge", "never"]);

    // Other days move the edges.
    let mut o = opts(AS_OF);
    o.active_days = 7;
    o.dormant_days = 30;
    let i = insights_of(&records, &o);
    assert!(!row(&i, "Jira", "at-active-edge").active);
    assert!(
        !row(&i, "Jira", "at-active-edge").dormant,
        "exactly 30 days: not older"
    );
    assert!(row(&i, "Jira", "just-before-active-edge").dormant);
    assert_eq!(system(&i, "Jira").dormant, 4);
    assert_eq!((i.active_days, i.dormant_days), (7, 30));
}

#[test]
fn a_stakeholder_or_a_disabled_account_is_not_a_seat() {
    let records = vec![
        account(
            "Azure DevOps",
            "sh",
            "2026-10-31T06:00:00Z",
            "sam@corp.example",
            "",
            "Sam",
        )
        .not_billable()
        .product("Stakeholder")
        .rec(),
        account(
            "Azure DevOps",
            "basic",
            "2026-10-31T06:00:00Z",
            "bo@corp.example",
            "",
            "Bo",
        )
        .product("Basic")
        .rec(),
        account(
            "Azure DevOps",
            "gone",
            "2026-10-31T06:00:00Z",
            "gus@corp.example",
            "",
            "",
        )
        .disabled()
        .product("Basic")
        .rec(),
    ];
    let i = insights_of(&records, &opts(AS_OF));
    let ado = system(&i, "Azure DevOps");
    assert_eq!((ado.accounts, ado.seats, ado.dormant), (2, 1, 1));
    let sh = row(&i, "Azure DevOps", "sh");
    assert!(!sh.seat && !sh.dormant && !sh.billable);
    assert!(!row(&i, "Azure DevOps", "gone").seat);
    assert_eq!(i.dormant_seats.len(), 1);
    assert_eq!(i.dormant_seats[0].id, "basic");
    assert_eq!(i.dormant_seats[0].product.as_deref(), Some("Basic"));
    // Both with access are people with access; the Stakeholder holds no seat.
    assert_eq!(i.people.with_access, 2);
}

#[test]
fn app_and_service_accounts_are_counted_apart() {
    let records = vec![
        account(
            "Jira",
            "app",
            "2026-10-31T06:00:00Z",
            "",
            "",
            "Automation for Jira",
        )
        .service()
        .not_billable()
        .rec(),
        // Not flagged by the system, caught by a configured pattern.
        account(
            "Jira",
            "sync",
            "2026-10-31T06:00:00Z",
            "svc-sync@corp.example",
            "svc-sync",
            "",
        )
        .rec(),
        account("Jira", "old-app", "2026-10-31T06:00:00Z", "", "", "Old App")
            .service()
            .disabled()
            .rec(),
        account(
            "Jira",
            "ann",
            "2026-10-31T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .rec(),
        // A bot seen in Jira without an account is not "seen without an account".
        seen_service("Jira", "2026-10-20T00:00:00Z", "deploy-bot"),
        seen("Jira", "2026-10-20T00:00:00Z", "", "svc-other", ""),
    ];
    let mut o = opts(AS_OF);
    o.service_account_patterns = vec!["svc-*".into()];
    let i = insights_of(&records, &o);
    let jira = system(&i, "Jira");
    assert_eq!(jira.service_accounts, 2, "{jira:?}");
    assert_eq!((jira.accounts, jira.seats, jira.dormant), (1, 1, 1));
    assert_eq!(jira.seen_without_account, 0);
    assert!(row(&i, "Jira", "sync").service_account && !row(&i, "Jira", "sync").seat);
    assert_eq!(i.people.with_access, 1);
    assert_eq!(
        i.dormant_seats
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        vec!["ann"]
    );

    // Without the pattern the sync user is an ordinary seat, and `svc-other` a person
    // seen in Jira without an account.
    let i = insights_of(&records, &opts(AS_OF));
    let jira = system(&i, "Jira");
    assert_eq!(
        (jira.service_accounts, jira.accounts, jira.seats),
        (1, 2, 2)
    );
    assert_eq!(jira.seen_without_account, 1);
}

#[test]
fn the_primary_email_is_the_smallest_managed_one_of_accounts_with_access() {
    let records = vec![
        // One person through the shared username `pat`.
        account(
            "Jira",
            "p1",
            "2026-10-31T06:00:00Z",
            "zed@corp.example",
            "pat",
            "",
        )
        .rec(),
        account(
            "GitHub",
            "p2",
            "2026-10-31T06:00:00Z",
            "pat@aaa.example",
            "pat",
            "",
        )
        .rec(),
        // Smaller, managed, but disabled or a service account: not considered.
        account(
            "ServiceNow",
            "p3",
            "2026-10-31T06:00:00Z",
            "aaa@corp.example",
            "pat",
            "",
        )
        .disabled()
        .rec(),
        account(
            "GitLab",
            "p4",
            "2026-10-31T06:00:00Z",
            "aab@corp.example",
            "pat",
            "",
        )
        .service()
        .rec(),
        // No email at all: unknown.
        account("GitHub", "q1", "2026-10-31T06:00:00Z", "", "quinn", "").rec(),
        // Only a disabled account: not a person with access.
        account(
            "Jira",
            "r1",
            "2026-10-31T06:00:00Z",
            "rae@corp.example",
            "",
            "",
        )
        .disabled()
        .rec(),
        // A subdomain is not "one of" the managed domains (SPEC §9).
        account(
            "Jira",
            "s1",
            "2026-10-31T06:00:00Z",
            "sue@eu.corp.example",
            "",
            "",
        )
        .rec(),
    ];
    let i = insights_of(&records, &managed(AS_OF, &["Corp.Example"]));
    let pat = row(&i, "Jira", "p1");
    assert_eq!(pat.person_email.as_deref(), Some("zed@corp.example"));
    for id in [("GitHub", "p2"), ("ServiceNow", "p3"), ("GitLab", "p4")] {
        let r = row(&i, id.0, id.1);
        assert_eq!(r.person, pat.person, "{id:?} is Pat's");
        assert_eq!(r.person_email.as_deref(), Some("zed@corp.example"));
    }
    assert_eq!(row(&i, "GitHub", "q1").person_email, None);
    assert_eq!(row(&i, "Jira", "r1").person_email, None);
    assert_ne!(row(&i, "GitHub", "q1").person, pat.person);
    let p = &i.people;
    assert_eq!(
        (p.with_access, p.managed, p.external, p.unknown),
        (3, 1, 1, 1),
        "{p:?}"
    );
    assert_eq!(
        p.seats_in_several_systems, 1,
        "Pat holds seats in Jira and GitHub"
    );
    let domains: Vec<(&str, bool, u64)> = i
        .domains
        .iter()
        .map(|d| (d.domain.as_str(), d.managed, d.people))
        .collect();
    assert_eq!(
        domains,
        vec![("corp.example", true, 1), ("eu.corp.example", false, 1)]
    );
    // Per system, by the account's own email.
    let github = system(&i, "GitHub");
    assert_eq!((github.managed, github.external, github.unknown), (0, 1, 1));

    // Without managed domains the smallest email wins, and every email is external.
    let i = insights_of(&records, &opts(AS_OF));
    assert_eq!(
        row(&i, "Jira", "p1").person_email.as_deref(),
        Some("pat@aaa.example")
    );
    assert_eq!((i.people.managed, i.people.external), (0, 2));
}

#[test]
fn seen_without_an_account_counts_users_of_the_pool_per_system_with_accounts() {
    let records = vec![
        account(
            "Jira",
            "ann",
            "2026-10-31T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .rec(),
        account(
            "GitHub",
            "bob",
            "2026-10-31T06:00:00Z",
            "bob@corp.example",
            "",
            "",
        )
        .rec(),
        account(
            "Jira",
            "di",
            "2026-10-31T06:00:00Z",
            "di@corp.example",
            "",
            "",
        )
        .disabled()
        .rec(),
        seen("Jira", "2026-10-20T00:00:00Z", "ann@corp.example", "", ""),
        // Bob holds a GitHub account, not a Jira one.
        seen("Jira", "2026-10-20T00:00:00Z", "bob@corp.example", "", ""),
        seen(
            "Jira",
            "2026-10-21T00:00:00Z",
            "BOB@corp.example",
            "",
            "Bob",
        ),
        // Cy holds no account anywhere.
        seen("Jira", "2026-10-20T00:00:00Z", "cy@corp.example", "", ""),
        // Di holds a disabled Jira account: an account "of any status".
        seen("Jira", "2026-10-20T00:00:00Z", "di@corp.example", "", ""),
        // Ann in GitHub, where she holds no account.
        seen("GitHub", "2026-10-20T00:00:00Z", "ann@corp.example", "", ""),
        // ServiceNow has no accounts at as_of: no row.
        seen(
            "ServiceNow",
            "2026-10-20T00:00:00Z",
            "ann@corp.example",
            "",
            "",
        ),
        // Outside the Last 1 Year window, before and after.
        seen("Jira", "2025-10-31T23:59:59Z", "ed@corp.example", "", ""),
        seen("Jira", "2026-11-01T00:00:01Z", "fay@corp.example", "", ""),
        // The first moment of the window counts.
        seen("GitHub", "2025-11-01T00:00:00Z", "gil@corp.example", "", ""),
    ];
    let i = insights_of(&records, &opts(AS_OF));
    let names: Vec<&str> = i.systems.iter().map(|s| s.system.as_str()).collect();
    assert_eq!(names, vec!["GitHub", "Jira"]);
    assert_eq!(system(&i, "Jira").seen_without_account, 2, "Bob and Cy");
    assert_eq!(system(&i, "GitHub").seen_without_account, 2, "Ann and Gil");
}

#[test]
fn generic_handles_and_forced_merges_shape_the_people() {
    let records = vec![
        account(
            "Jira",
            "a1",
            "2026-10-31T06:00:00Z",
            "admin@corp.example",
            "admin",
            "",
        )
        .rec(),
        account(
            "ServiceNow",
            "a2",
            "2026-10-31T06:00:00Z",
            "servicenow-admin@corp.example",
            "admin",
            "",
        )
        .rec(),
        account(
            "Jira",
            "ann",
            "2026-10-31T06:00:00Z",
            "ann@corp.example",
            "",
            "",
        )
        .rec(),
        account(
            "GitHub",
            "annie",
            "2026-10-31T06:00:00Z",
            "annie@home.example",
            "",
            "",
        )
        .rec(),
    ];
    let plain = insights_of(&records, &opts(AS_OF));
    assert_eq!(
        plain.people.with_access, 3,
        "`admin` links both admin accounts"
    );
    assert_eq!(plain.people.seats_in_several_systems, 1);

    let mut o = opts(AS_OF);
    o.rules = IdentityRules {
        generic_handles: vec!["admin".into()],
        forced_merges: vec![vec!["ann@corp.example".into(), "annie@home.example".into()]],
    };
    let configured = insights_of(&records, &o);
    assert_eq!(configured.people.with_access, 3, "admins apart, Ann merged");
    assert_eq!(configured.people.seats_in_several_systems, 1);
    assert_eq!(
        row(&configured, "Jira", "ann").person,
        row(&configured, "GitHub", "annie").person
    );
    assert_ne!(
        row(&configured, "Jira", "a1").person,
        row(&configured, "ServiceNow", "a2").person
    );
}

#[test]
fn an_account_without_identifiers_counts_in_its_system_but_is_nobodys() {
    let records = vec![account("GitHub", "4242", "2026-10-31T06:00:00Z", "", "", "").rec()];
    let i = insights_of(&records, &opts(AS_OF));
    assert_eq!(system(&i, "GitHub").accounts, 1);
    assert_eq!(system(&i, "GitHub").unknown, 1);
    assert_eq!(i.accounts[0].person, None);
    assert_eq!(i.people.with_access, 0);
    assert_eq!(i.dormant_seats.len(), 1);
}

#[test]
fn accounts_change_no_usage_report_number() {
    let observations = vec![
        seen(
            "Jira",
            "2026-10-20T00:00:00Z",
            "ann@corp.example",
            "alee",
            "Ann Lee",
        ),
        seen("GitHub", "2026-06-20T00:00:00Z", "", "alee", ""),
        seen(
            "Jira",
            "2026-03-20T00:00:00Z",
            "bob@corp.example",
            "",
            "Bob",
        ),
        seen("ServiceNow", "2026-10-01T00:00:00Z", "", "", "Cy Young"),
    ];
    let mut with_accounts = observations.clone();
    with_accounts.extend([
        account(
            "Jira",
            "1",
            "2026-10-31T06:00:00Z",
            "ann@corp.example",
            "",
            "Ann Lee",
        )
        .rec(),
        // Identifiers that would merge Bob and Cy if accounts took part in the report.
        account(
            "Jira",
            "2",
            "2026-10-31T06:00:00Z",
            "bob@corp.example",
            "cy",
            "Cy Young",
        )
        .rec(),
        account(
            "GitHub",
            "3",
            "2026-10-31T06:00:00Z",
            "dee@corp.example",
            "dee",
            "",
        )
        .rec(),
    ]);
    let report = |records: &[Record]| {
        let (_dir, store) = store_with(records);
        build_report(&store, &ReportOptions::new(t(AS_OF))).expect("report")
    };
    let without = report(&observations);
    assert_eq!(without.one_year.summary.total_unique_users, 3);
    assert_eq!(report(&with_accounts), without);
}

#[test]
fn sign_in_is_split_by_the_accounts_own_email() {
    let at = "2026-10-31T06:00:00Z";
    let records = vec![
        // Managed: two-step on with SSO, two-step off, and not reported.
        account("Jira", "1", at, "ann@corp.example", "", "")
            .two_step(true)
            .sso(true)
            .rec(),
        account("Jira", "2", at, "bob@CORP.example", "", "")
            .two_step(false)
            .rec(),
        account("Jira", "3", at, "cy@corp.example", "", "").rec(),
        // A subdomain is not the managed domain (SPEC §9: exactly one of them).
        account("Jira", "4", at, "di@eu.corp.example", "", "")
            .two_step(true)
            .rec(),
        // External, without two-step but through SSO.
        account("Jira", "5", at, "ed@partner.example", "", "")
            .two_step(false)
            .sso(true)
            .rec(),
        // No email at all: unknown, whatever the person's other accounts say.
        account("Jira", "6", at, "", "fay", "").two_step(true).rec(),
        // Not counted: a disabled account and a service account.
        account("Jira", "7", at, "gus@corp.example", "", "")
            .two_step(true)
            .disabled()
            .rec(),
        account("Jira", "8", at, "bot@corp.example", "", "")
            .two_step(false)
            .service()
            .rec(),
    ];
    let i = insights_of(&records, &managed(AS_OF, &["corp.example"]));
    let s = system(&i, "Jira");
    let split = |g: &tally_core::report::access::SignIn| {
        (
            g.two_step.enabled,
            g.two_step.disabled,
            g.two_step.unknown,
            g.sso,
        )
    };
    assert_eq!(split(&s.sign_in.managed), (1, 1, 1, 1), "{s:?}");
    assert_eq!(split(&s.sign_in.external), (1, 1, 0, 1), "{s:?}");
    assert_eq!(split(&s.sign_in.unknown), (1, 0, 0, 0), "{s:?}");
    // The groups are the system's own counts, split.
    assert_eq!((s.managed, s.external, s.unknown), (3, 2, 1));
    assert_eq!(
        (
            s.two_step.enabled,
            s.two_step.disabled,
            s.two_step.unknown,
            s.sso
        ),
        (3, 2, 1, 2)
    );
    // The JSON document carries the split as an added member, the old ones unchanged.
    let json: serde_json::Value =
        serde_json::from_slice(&tally_core::insights_export::insights_json_bytes(&i).unwrap())
            .unwrap();
    let jira = &json["systems"][0];
    assert_eq!(jira["two_step"]["enabled"], 3);
    assert_eq!(jira["sso"], 2);
    assert_eq!(jira["sign_in"]["managed"]["two_step"]["unknown"], 1);
    assert_eq!(jira["sign_in"]["external"]["sso"], 1);
    assert_eq!(jira["sign_in"]["unknown"]["two_step"]["enabled"], 1);
}
