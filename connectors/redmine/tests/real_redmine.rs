//! The Redmine connector against a real Redmine 5 (Debian's package, fresh SQLite
//! database, WEBrick on loopback). One test function with phases, so the server starts
//! once (~15 s) and is stopped at the end even when an assertion fails.
//!
//! Run: `bash .ci/redmine.sh` (once, as root), then `cargo test -p tally-redmine --test
//! real_redmine`. Without Redmine installed it is skipped, except under CI where it fails.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{run_connector, Outcome};
use serde_json::json;
use support::{redmine_available, Api, Redmine};
use tally_model::{
    Account, AccountStatus, Interaction, Record, SyncStatus, TwoStep, UserObservation,
};
use tally_redmine::{build, Settings, ADMINISTRATOR, KIND};

/// (username, email, display name, interaction) of every user observation.
type Seen = BTreeSet<(String, Option<String>, Option<String>, &'static str)>;

fn users(out: &Outcome) -> Vec<&UserObservation> {
    out.records
        .iter()
        .filter_map(|r| match r {
            Record::User(u) => Some(u),
            _ => None,
        })
        .collect()
}

fn accounts(out: &Outcome) -> Vec<&Account> {
    out.records
        .iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// An account as the directory should show it, read at `at`.
#[allow(clippy::too_many_arguments)]
fn expect_account(
    at: DateTime<Utc>,
    id: u64,
    login: &str,
    mail: &str,
    name: &str,
    status: AccountStatus,
    admin: bool,
    last_active: Option<&str>,
    two_step: TwoStep,
) -> Account {
    Account {
        system: "Redmine".into(),
        at,
        id: id.to_string(),
        email: Some(mail.into()),
        username: Some(login.into()),
        display_name: Some(name.into()),
        status,
        billable: true,
        product: admin.then(|| ADMINISTRATOR.to_string()),
        last_active: last_active.map(|t| t.parse().unwrap()),
        two_step: Some(two_step),
        sso: None,
        service_account: false,
    }
}

fn seen_on(out: &Outcome, entity_id: &str) -> Seen {
    users(out)
        .into_iter()
        .filter(|u| u.entity_id.as_deref() == Some(entity_id))
        .map(|u| {
            (
                u.username.clone().unwrap_or_default(),
                u.email.clone(),
                u.display_name.clone(),
                u.interaction.as_str(),
            )
        })
        .collect()
}

fn person(
    login: &str,
    mail: Option<&str>,
    name: Option<&str>,
    how: &[Interaction],
) -> Vec<(String, Option<String>, Option<String>, &'static str)> {
    how.iter()
        .map(|i| {
            (
                login.to_string(),
                mail.map(str::to_string),
                name.map(str::to_string),
                i.as_str(),
            )
        })
        .collect()
}

fn settings(url: &str, token_env: &str, extra: serde_json::Value) -> Settings {
    let mut v = json!({ "url": url, "token_env": token_env });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(extra.clone());
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_from_a_real_redmine() {
    if !redmine_available() {
        return;
    }
    let started = Instant::now();
    let redmine = tokio::task::spawn_blocking(Redmine::start).await.unwrap();
    let api = Api::of(&redmine);

    // ---- The organisation: five people, two projects, one linked issue. ----
    let (alee, alee_key) = api.user("alee", "Ann", "Lee", "Ann.Lee@corp.example").await;
    let (bob, _) = api.user("bob", "Bob", "Stone", "bob@corp.example").await;
    let (carol, _) = api
        .user("carol", "Carol", "Diaz", "carol@corp.example")
        .await;
    let (dave, _) = api.user("dave", "Dave", "Quinn", "dave@corp.example").await;
    let (eve, _) = api.user("eve", "Eve", "Adams", "eve@corp.example").await;
    // A seat nobody uses: an account that never signs in and never touches an issue.
    let (idle, _) = api
        .user("idle", "Ida", "Idle", "ida.idle@corp.example")
        .await;
    // A locked account: listed, but without access.
    let (gone, _) = api
        .user("gone", "Gus", "Gone", "gus@contractor.example")
        .await;
    api.put(
        &format!("/users/{gone}.json"),
        None,
        json!({"user": {"status": 3}}),
    )
    .await;
    // What the REST API cannot set: Ann signed in once and uses two-factor authentication.
    tokio::task::block_in_place(|| {
        redmine.runner(
            "rails runner (sign-in time, two-factor)",
            r#"User.find_by_login!("alee").update_columns(
                 last_login_on: Time.utc(2026, 11, 20, 8, 0, 0), twofa_scheme: "totp")"#,
        )
    });
    let me = api.get("/users/current.json").await["user"].clone();
    api.post(
        "/projects.json",
        None,
        json!({"project": {"name": "Operations", "identifier": "ops"}}),
    )
    .await;
    api.post(
        "/projects.json",
        None,
        json!({"project": {"name": "Website", "identifier": "web"}}),
    )
    .await;
    let roles = api.get("/roles.json").await;
    let developer = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Developer")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    // Assignees and user-field values must be project members.
    for (project, user) in [("ops", alee), ("ops", bob), ("ops", carol), ("web", dave)] {
        api.post(
            &format!("/projects/{project}/memberships.json"),
            None,
            json!({"membership": {"user_id": user, "role_ids": [developer]}}),
        )
        .await;
    }
    let fields = api.get("/custom_fields.json").await;
    let field_id = |name: &str| {
        fields["custom_fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let (jira_key, reviewer) = (field_id("Jira key"), field_id("Reviewer"));

    let issue = api
        .post(
            "/issues.json",
            Some("alee"),
            json!({"issue": {
                "project_id": "ops", "tracker_id": 1, "subject": "Printer on fire",
                "description": "The printer is on fire, please look @bob (not @nobody).",
                "assigned_to_id": bob,
                "custom_fields": [
                    {"id": jira_key, "value": "OPS-17"},
                    {"id": reviewer, "value": carol.to_string()}
                ]
            }}),
        )
        .await;
    let issue_id = issue["issue"]["id"].as_u64().unwrap();
    let issue_path = format!("/issues/{issue_id}.json");
    api.post(
        &format!("/issues/{issue_id}/watchers.json"),
        None,
        json!({"user_id": carol}),
    )
    .await;
    let token = api
        .upload("bob", "printer.log", b"paper jam, then fire")
        .await;
    api.put(
        &issue_path,
        Some("bob"),
        json!({"issue": {
            "notes": "Looking into it, cc @alee and @eve. Mail me at bob@corp.example",
            "uploads": [{"token": token, "filename": "printer.log", "content_type": "text/plain"}]
        }}),
    )
    .await;
    // A second apart, so the incremental run below can tell old journals from new.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.put(
        &issue_path,
        Some("alee"),
        json!({"issue": {"status_id": 2}}),
    )
    .await;
    // More issues, so the listing below takes several pages.
    let mut extra_ids = Vec::new();
    for n in 1..=3 {
        let extra = api
            .post(
                "/issues.json",
                Some("carol"),
                json!({"issue": {"project_id": "ops", "tracker_id": 2,
                    "subject": format!("Order toner #{n}")}}),
            )
            .await;
        extra_ids.push(extra["issue"]["id"].as_u64().unwrap().to_string());
    }
    let other = api
        .post(
            "/issues.json",
            Some("dave"),
            json!({"issue": {"project_id": "web", "tracker_id": 1, "subject": "Website down"}}),
        )
        .await;
    let other_id = other["issue"]["id"].as_u64().unwrap().to_string();
    let created_on = api.get(&issue_path).await["issue"]["created_on"]
        .as_str()
        .unwrap()
        .to_string();
    let entity = issue_id.to_string();
    eprintln!(
        "redmine: test data created after {:.1}s",
        started.elapsed().as_secs_f32()
    );

    // ---- Phase 1: first run with an administrator's key, project "ops" only. ----
    std::env::set_var("TALLY_TEST_REDMINE_ADMIN_KEY", &redmine.admin_key);
    let connector = build(
        "redmine-main",
        settings(
            &redmine.url,
            "TALLY_TEST_REDMINE_ADMIN_KEY",
            json!({
                "projects": ["ops"],
                "mapped_fields": ["assignee", "watchers", "Reviewer"],
                "link_field": "Jira key",
                "link_system": "Jira",
                "system": "Redmine",
                "page_size": 2
            }),
        ),
    )
    .unwrap();
    assert_eq!(connector.kind(), KIND);
    let before = Utc::now();
    let first = run_connector(connector.as_ref(), None).await;
    let after = Utc::now();
    assert_eq!(first.result, Some(Ok(())), "{:?}", first.warnings);
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);

    // The directory: every account, read at one moment, with what Redmine says of it.
    let listed = accounts(&first);
    let at = listed.first().expect("the directory was read").at;
    assert!(before <= at && at <= after, "{at}");
    use AccountStatus::{Active, Disabled};
    let mut expected_accounts = vec![
        expect_account(
            at,
            me["id"].as_u64().unwrap(),
            "admin",
            me["mail"].as_str().unwrap(),
            &format!(
                "{} {}",
                me["firstname"].as_str().unwrap(),
                me["lastname"].as_str().unwrap()
            ),
            Active,
            true,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            alee,
            "alee",
            "Ann.Lee@corp.example",
            "Ann Lee",
            Active,
            false,
            Some("2026-11-20T08:00:00Z"),
            TwoStep::Enabled,
        ),
        expect_account(
            at,
            bob,
            "bob",
            "bob@corp.example",
            "Bob Stone",
            Active,
            false,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            carol,
            "carol",
            "carol@corp.example",
            "Carol Diaz",
            Active,
            false,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            dave,
            "dave",
            "dave@corp.example",
            "Dave Quinn",
            Active,
            false,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            eve,
            "eve",
            "eve@corp.example",
            "Eve Adams",
            Active,
            false,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            idle,
            "idle",
            "ida.idle@corp.example",
            "Ida Idle",
            Active,
            false,
            None,
            TwoStep::Disabled,
        ),
        expect_account(
            at,
            gone,
            "gone",
            "gus@contractor.example",
            "Gus Gone",
            Disabled,
            false,
            None,
            TwoStep::Disabled,
        ),
    ];
    let mut got_accounts: Vec<Account> = listed.into_iter().cloned().collect();
    got_accounts.sort_by(|a, b| a.id.cmp(&b.id));
    expected_accounts.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(got_accounts, expected_accounts);
    // The idle seat did nothing, the locked one neither: no observation of them.
    assert!(users(&first)
        .iter()
        .all(|u| !matches!(u.username.as_deref(), Some("idle" | "gone"))));

    use Interaction::*;
    let mut expected = Seen::new();
    expected.extend(person(
        "alee",
        Some("Ann.Lee@corp.example"),
        Some("Ann Lee"),
        &[Updater, Mention],
    ));
    expected.extend(person(
        "bob",
        Some("bob@corp.example"),
        Some("Bob Stone"),
        &[
            Mention,
            CommentAuthor,
            Updater,
            AttachmentAuthor,
            MappedUserField,
        ],
    ));
    expected.extend(person(
        "eve",
        Some("eve@corp.example"),
        Some("Eve Adams"),
        &[Mention],
    ));
    expected.extend(person(
        "carol",
        Some("carol@corp.example"),
        Some("Carol Diaz"),
        &[MappedUserField],
    ));
    assert_eq!(seen_on(&first, &entity), expected);
    // Every page was read, and the cursor moved after each page.
    for id in &extra_ids {
        let carol = person(
            "carol",
            Some("carol@corp.example"),
            Some("Carol Diaz"),
            &[Updater],
        );
        assert_eq!(seen_on(&first, id), carol.into_iter().collect::<Seen>());
    }
    assert!(first.checkpoints.len() >= 2, "{:?}", first.checkpoints);
    // Only "ops" was asked for: Dave's issue in "web" is not read.
    assert!(seen_on(&first, &other_id).is_empty());
    for u in users(&first) {
        assert_eq!(u.system, "Redmine");
        assert_eq!(u.project.as_deref(), Some("ops"));
        let tracker = if u.entity_id.as_deref() == Some(entity.as_str()) {
            "Bug"
        } else {
            "Feature"
        };
        assert_eq!(u.entity_type.as_deref(), Some(tracker));
        assert!(!u.service_account);
    }
    // The author created the issue when the issue was created.
    assert!(users(&first)
        .iter()
        .any(|u| u.username.as_deref() == Some("alee")
            && u.interaction == Updater
            && u.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true) == created_on));
    // No observation twice.
    let mut keys = BTreeSet::new();
    for u in users(&first) {
        assert!(
            keys.insert((u.entity_id.clone(), u.username.clone(), u.interaction, u.at)),
            "duplicate observation {u:?}"
        );
    }
    let syncs: Vec<_> = first
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(syncs[0].status, SyncStatus::Success);
    assert_eq!(syncs[0].source.system, "Redmine");
    assert_eq!(syncs[0].source.project.as_deref(), Some("ops"));
    assert_eq!(syncs[0].source.entity_id, entity);
    assert_eq!(syncs[0].target.system, "Jira");
    assert_eq!(syncs[0].target.project.as_deref(), Some("OPS"));
    assert_eq!(syncs[0].target.entity_id, "OPS-17");
    let cursor = first.checkpoints.last().cloned().expect("a checkpoint");

    // ---- Phase 2: the same run again from the saved cursor: nothing new. ----
    let second = run_connector(connector.as_ref(), Some(cursor.clone())).await;
    assert_eq!(second.result, Some(Ok(())));
    // The directory is read again (the store keeps only what changed); nothing else.
    assert!(users(&second).is_empty(), "{:?}", second.records);
    assert_eq!(accounts(&second).len(), expected_accounts.len());
    assert!(accounts(&second).iter().all(|a| a.at > at));
    assert_eq!(accounts(&second).len(), second.records.len());
    assert!(second.checkpoints.is_empty(), "{:?}", second.checkpoints);

    // ---- Phase 3: a new comment; the next run reads only what changed. ----
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.put(
        &issue_path,
        Some("carol"),
        json!({"issue": {"notes": "Ping @dave, the fire is out."}}),
    )
    .await;
    let third = run_connector(connector.as_ref(), Some(cursor.clone())).await;
    assert_eq!(third.result, Some(Ok(())));
    let mut expected = Seen::new();
    // Issue-level people are read from the issue as it is now...
    expected.extend(person(
        "alee",
        Some("Ann.Lee@corp.example"),
        Some("Ann Lee"),
        &[Updater],
    ));
    expected.extend(person(
        "bob",
        Some("bob@corp.example"),
        Some("Bob Stone"),
        &[Mention, MappedUserField],
    ));
    // ...journals older than the cursor are not sent again; the new one is.
    expected.extend(person(
        "carol",
        Some("carol@corp.example"),
        Some("Carol Diaz"),
        &[MappedUserField, CommentAuthor],
    ));
    expected.extend(person(
        "dave",
        Some("dave@corp.example"),
        Some("Dave Quinn"),
        &[Mention],
    ));
    assert_eq!(seen_on(&third, &entity), expected);
    assert!(users(&third)
        .iter()
        .all(|u| u.entity_id.as_deref() == Some(entity.as_str())));
    let newer = third.checkpoints.last().expect("the cursor moves");
    assert_ne!(newer, &cursor);

    // ---- Phase 3b: `directory = false` reads no accounts. ----
    let no_directory = build(
        "redmine-main",
        settings(
            &redmine.url,
            "TALLY_TEST_REDMINE_ADMIN_KEY",
            json!({"projects": ["ops"], "directory": false, "system": "Redmine"}),
        ),
    )
    .unwrap();
    let quiet = run_connector(no_directory.as_ref(), Some(newer.clone())).await;
    assert_eq!(quiet.result, Some(Ok(())));
    assert!(quiet.records.is_empty(), "{:?}", quiet.records);

    // ---- Phase 4: a non-administrator's key: no emails (and a warning), all projects. ----
    std::env::set_var("TALLY_TEST_REDMINE_USER_KEY", &alee_key);
    let as_member = build(
        "redmine-member",
        settings(&redmine.url, "TALLY_TEST_REDMINE_USER_KEY", json!({})),
    )
    .unwrap();
    let fourth = run_connector(as_member.as_ref(), None).await;
    assert_eq!(fourth.result, Some(Ok(())));
    assert_eq!(fourth.warnings.len(), 1, "{:?}", fourth.warnings);
    assert!(
        fourth.warnings[0].contains("administrator")
            && fourth.warnings[0].contains("no accounts are read"),
        "{}",
        fourth.warnings[0]
    );
    assert!(accounts(&fourth).is_empty());
    let seen = seen_on(&fourth, &entity);
    // Other people's addresses are hidden from a member; logins and names are not.
    assert!(seen.contains(&(
        "bob".into(),
        None,
        Some("Bob Stone".into()),
        "comment_author"
    )));
    assert!(seen.contains(&(
        "carol".into(),
        None,
        Some("Carol Diaz".into()),
        "comment_author"
    )));
    // Without the users directory (administrators only), a mention keeps just the login:
    // tally cannot tell @nobody is not a user.
    assert!(seen.contains(&("eve".into(), None, None, "mention")));
    assert!(seen.contains(&("nobody".into(), None, None, "mention")));
    // Public project "web" is visible to the member, so Dave's issue is read this time.
    assert!(seen_on(&fourth, &other_id).contains(&(
        "dave".into(),
        None,
        Some("Dave Quinn".into()),
        "updater"
    )));
    // Without `system`, reports show the connector's name.
    assert!(users(&fourth).iter().all(|u| u.system == "redmine-member"));

    // ---- Phase 5: what an administrator sees when something is wrong. ----
    std::env::set_var("TALLY_TEST_REDMINE_BAD_KEY", "0123456789abcdef-wrong-key");
    let bad = build(
        "redmine-bad",
        settings(&redmine.url, "TALLY_TEST_REDMINE_BAD_KEY", json!({})),
    )
    .unwrap();
    let failed = run_connector(bad.as_ref(), None).await;
    let msg = failed.result.unwrap().unwrap_err();
    assert!(
        msg.contains("redmine-bad") && msg.contains("HTTP 401"),
        "{msg}"
    );
    assert!(msg.contains("TALLY_TEST_REDMINE_BAD_KEY"), "{msg}");
    assert!(!msg.contains("wrong-key"), "{msg}");
    assert!(failed.records.is_empty() && failed.checkpoints.is_empty());

    let missing_project = build(
        "redmine-main",
        settings(
            &redmine.url,
            "TALLY_TEST_REDMINE_ADMIN_KEY",
            json!({"projects": ["nope"]}),
        ),
    )
    .unwrap();
    let msg = run_connector(missing_project.as_ref(), None)
        .await
        .result
        .unwrap()
        .unwrap_err();
    assert!(msg.contains("project 'nope'"), "{msg}");

    eprintln!(
        "redmine: all phases done after {:.1}s",
        started.elapsed().as_secs_f32()
    );
    drop(redmine);
}
