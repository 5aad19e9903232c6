//! The RT connector against a real Request Tracker 5 (Debian's package, fresh SQLite
//! database, Starlet on loopback). One test function with phases, so the server starts once
//! (~10 s) and is stopped at the end even when an assertion fails.
//!
//! Run: `bash .ci/rt.sh` (once, as root), then `cargo test -p tally-rt --test real_rt`.
//! Without RT installed it is skipped, except under CI where it fails.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{rt_available, Api, Rt, PASSWORD};
use tally_http::testing::{run, Run};
use tally_model::{Account, AccountStatus, Interaction, Record, SyncStatus};
use tally_rt::{build, Settings, KIND};

/// (username, email, display name, interaction) of every user observation.
type Seen = BTreeSet<(String, Option<String>, Option<String>, &'static str)>;

/// (username, email, display name, status, billable) of every account.
type Accounts = BTreeSet<(String, Option<String>, Option<String>, AccountStatus, bool)>;

fn seen_on(out: &Run, ticket: &str) -> Seen {
    out.users()
        .into_iter()
        .filter(|u| u.entity_id.as_deref() == Some(ticket))
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
    mail: &str,
    name: &str,
    how: &[Interaction],
) -> Vec<(String, Option<String>, Option<String>, &'static str)> {
    how.iter()
        .map(|i| {
            (
                login.to_string(),
                Some(mail.to_string()),
                Some(name.to_string()),
                i.as_str(),
            )
        })
        .collect()
}

fn accounts(out: &Run) -> Vec<Account> {
    out.records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn settings(url: &str, extra: serde_json::Value) -> Settings {
    let mut v = json!({ "url": url });
    if let (Some(obj), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(extra.clone());
    }
    serde_json::from_value(v).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_from_a_real_rt() {
    if !rt_available() {
        return;
    }
    let started = Instant::now();
    let rt = tokio::task::spawn_blocking(Rt::start).await.unwrap();
    let api = Api::new(&rt.url);

    // ---- The organisation: staff, a customer, an idle and a disabled user. ----
    for (login, mail, name, privileged, disabled) in [
        ("alee", "Ann.Lee@corp.example", "Ann Lee", 1, 0),
        ("bob", "bob@corp.example", "Bob Stone", 1, 0),
        ("carol", "carol@corp.example", "Carol Diaz", 1, 0),
        ("ivy", "ivy@corp.example", "Ivy Idle", 1, 0),
        ("gus", "gus@corp.example", "Gus Gone", 1, 1),
        ("cust", "customer@outside.example", "Cus Tomer", 0, 0),
    ] {
        api.post(
            "root",
            "/user",
            json!({"Name": login, "EmailAddress": mail, "RealName": name,
                   "Privileged": privileged, "Disabled": disabled, "Password": PASSWORD}),
        )
        .await;
    }
    for queue in ["Support", "Internal"] {
        api.post("root", "/queue", json!({"Name": queue})).await;
    }

    // Ticket A: Ann opens it for the customer, Bob owns it and writes, Carol watches.
    let a = api
        .post(
            "alee",
            "/ticket",
            json!({"Queue": "Support", "Subject": "Printer on fire",
                   "Requestor": "customer@outside.example", "Owner": "bob",
                   "AdminCc": "carol", "Content": "It burns.", "ContentType": "text/plain"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.post(
        "bob",
        &format!("/ticket/{a}/comment"),
        json!({"Content": "Internal: toner is flammable.", "ContentType": "text/plain"}),
    )
    .await;
    api.post(
        "bob",
        &format!("/ticket/{a}/correspond"),
        json!({"Content": "We are on it, log attached.", "ContentType": "text/plain",
               "Attachments": [{"FileName": "printer.log", "FileType": "text/plain",
                                "FileContent": "cGFwZXIgamFtLCB0aGVuIGZpcmU="}]}),
    )
    .await;
    // A second apart, so the incremental run below can tell old transactions from new.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.put(
        "alee",
        &format!("/ticket/{a}"),
        json!({"Subject": "Printer on fire (again)"}),
    )
    .await;
    // Transactions in the cursor's own second are sent again by the next run (the store
    // keeps each observation once); a second apart, phase 3 can assert exactly what is new.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Ticket B: linked to Jira, nobody owns it.
    let b = api
        .post(
            "alee",
            "/ticket",
            json!({"Queue": "Support", "Subject": "Order toner",
                   "Requestor": "cust", "CustomFields": {"Jira key": "OPS-17"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Ticket C: another queue.
    let c = api
        .post(
            "bob",
            "/ticket",
            json!({"Queue": "Internal", "Subject": "Rotate keys", "Owner": "bob"}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    eprintln!(
        "rt: test data created after {:.1}s",
        started.elapsed().as_secs_f32()
    );

    // ---- Phase 1: root's auth token, queue Support only, one ticket a page. ----
    std::env::set_var("TALLY_TEST_RT_TOKEN", &rt.root_token);
    let connector = build(
        "rt-main",
        settings(
            &rt.url,
            json!({"token_env": "TALLY_TEST_RT_TOKEN", "queues": ["Support"],
                   "link_field": "Jira key", "link_system": "Jira", "system": "RT",
                   "page_size": 1}),
        ),
    )
    .unwrap();
    assert_eq!(connector.kind(), KIND);
    let first = run(connector.as_ref(), None).await;
    assert_eq!(first.result, Some(Ok(())), "{:?}", first.warnings());
    assert!(first.warnings().is_empty(), "{:?}", first.warnings());

    use Interaction::*;
    let ann = ("alee", "Ann.Lee@corp.example", "Ann Lee");
    let bob = ("bob", "bob@corp.example", "Bob Stone");
    let carol = ("carol", "carol@corp.example", "Carol Diaz");
    let cust = ("cust", "customer@outside.example", "Cus Tomer");
    let mut expected = Seen::new();
    // Ann created the ticket and changed its subject.
    expected.extend(person(ann.0, ann.1, ann.2, &[Updater]));
    // Bob commented, corresponded with a file, and owns it.
    expected.extend(person(
        bob.0,
        bob.1,
        bob.2,
        &[CommentAuthor, AttachmentAuthor, MappedUserField],
    ));
    expected.extend(person(carol.0, carol.1, carol.2, &[MappedUserField]));
    expected.extend(person(cust.0, cust.1, cust.2, &[MappedUserField]));
    assert_eq!(seen_on(&first, &a), expected, "{}", rt.server_log());
    let mut expected_b = Seen::new();
    expected_b.extend(person(ann.0, ann.1, ann.2, &[Updater]));
    expected_b.extend(person(cust.0, cust.1, cust.2, &[MappedUserField]));
    assert_eq!(seen_on(&first, &b), expected_b);
    // Queue Internal was not asked for.
    assert!(seen_on(&first, &c).is_empty());
    // RT's own users are never people.
    for u in first.users() {
        let login = u.username.clone().unwrap_or_default();
        assert!(
            !["RT_System", "Nobody", "root"].contains(&login.as_str()),
            "{u:?}"
        );
        assert_eq!(u.system, "RT");
        assert_eq!(u.project.as_deref(), Some("Support"));
        assert_eq!(u.entity_type.as_deref(), Some("ticket"));
        assert!(!u.service_account);
    }
    // Both creations and the subject change, each at its own time.
    let ann_updates: BTreeSet<_> = first
        .users()
        .into_iter()
        .filter(|u| u.username.as_deref() == Some("alee") && u.interaction == Updater)
        .map(|u| (u.entity_id.clone(), u.at))
        .collect();
    assert_eq!(ann_updates.len(), 3, "{ann_updates:?}");
    // No observation twice.
    let mut keys = BTreeSet::new();
    for u in first.users() {
        assert!(
            keys.insert((u.entity_id.clone(), u.username.clone(), u.interaction, u.at)),
            "duplicate observation {u:?}"
        );
    }
    let syncs: Vec<_> = first
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(syncs[0].status, SyncStatus::Success);
    assert_eq!(syncs[0].source.entity_id, b);
    assert_eq!(syncs[0].source.project.as_deref(), Some("Support"));
    assert_eq!(syncs[0].target.system, "Jira");
    assert_eq!(syncs[0].target.project.as_deref(), Some("OPS"));
    assert_eq!(syncs[0].target.entity_id, "OPS-17");
    // One page a ticket: the cursor moved after each.
    assert_eq!(first.checkpoints().len(), 2, "{:?}", first.checkpoints());

    // The directory: every person, the disabled one disabled, the customer no seat.
    let got: Accounts = accounts(&first)
        .into_iter()
        .map(|a| {
            assert_eq!(a.system, "RT");
            assert!(a.id.bytes().all(|b| b.is_ascii_digit()), "{a:?}");
            (
                a.username.unwrap_or_default(),
                a.email,
                a.display_name,
                a.status,
                a.billable,
            )
        })
        .collect();
    let account = |l: &str, m: &str, n: &str, s: AccountStatus, billable: bool| {
        (
            l.to_string(),
            Some(m.to_string()),
            Some(n.to_string()),
            s,
            billable,
        )
    };
    use AccountStatus::{Active, Disabled};
    let expected_accounts: Accounts = [
        account("alee", "Ann.Lee@corp.example", "Ann Lee", Active, true),
        account("bob", "bob@corp.example", "Bob Stone", Active, true),
        account("carol", "carol@corp.example", "Carol Diaz", Active, true),
        account("ivy", "ivy@corp.example", "Ivy Idle", Active, true),
        account("gus", "gus@corp.example", "Gus Gone", Disabled, true),
        account(
            "cust",
            "customer@outside.example",
            "Cus Tomer",
            Active,
            false,
        ),
        account("root", "root@localhost", "Enoch Root", Active, true),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected_accounts);
    // The idle user has an account and no observation; the disabled one acted nowhere.
    assert!(first
        .users()
        .iter()
        .all(|u| !matches!(u.username.as_deref(), Some("ivy" | "gus"))));
    let cursor = first.checkpoints().last().cloned().unwrap();

    // ---- Phase 2: again from the saved cursor: nothing new. ----
    let second = run(connector.as_ref(), Some(cursor.clone())).await;
    assert_eq!(second.result, Some(Ok(())));
    assert!(second.users().is_empty(), "{:?}", second.users());
    assert!(
        second.checkpoints().is_empty(),
        "{:?}",
        second.checkpoints()
    );
    // The directory is read every run: a snapshot at the time of reading.
    assert_eq!(accounts(&second).len(), expected_accounts.len());

    // ---- Phase 3: Carol comments; the next run reads only what changed. ----
    tokio::time::sleep(Duration::from_millis(1100)).await;
    api.post(
        "carol",
        &format!("/ticket/{a}/comment"),
        json!({"Content": "The fire is out.", "ContentType": "text/plain"}),
    )
    .await;
    let third = run(connector.as_ref(), Some(cursor.clone())).await;
    assert_eq!(third.result, Some(Ok(())));
    let mut expected = Seen::new();
    // Roles are read from the ticket as it is now; earlier transactions are not sent again.
    expected.extend(person(bob.0, bob.1, bob.2, &[MappedUserField]));
    expected.extend(person(
        carol.0,
        carol.1,
        carol.2,
        &[MappedUserField, CommentAuthor],
    ));
    expected.extend(person(cust.0, cust.1, cust.2, &[MappedUserField]));
    assert_eq!(seen_on(&third, &a), expected);
    assert!(third
        .users()
        .iter()
        .all(|u| u.entity_id.as_deref() == Some(a.as_str())));
    assert_ne!(third.checkpoints().last().unwrap(), &cursor);

    // ---- Phase 4: a staff member's password (no AdminUsers): all queues, no directory. ----
    std::env::set_var("TALLY_TEST_RT_BOB_PASSWORD", PASSWORD);
    let as_bob = build(
        "rt-bob",
        settings(
            &rt.url,
            json!({"user": "bob", "token_env": "TALLY_TEST_RT_BOB_PASSWORD"}),
        ),
    )
    .unwrap();
    let fourth = run(as_bob.as_ref(), None).await;
    assert_eq!(fourth.result, Some(Ok(())), "{:?}", fourth.warnings());
    let warnings = fourth.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("AdminUsers"), "{}", warnings[0]);
    assert!(accounts(&fourth).is_empty());
    // RT's user summaries still carry name and address.
    let mut expected_c = Seen::new();
    expected_c.extend(person(bob.0, bob.1, bob.2, &[Updater, MappedUserField]));
    assert_eq!(seen_on(&fourth, &c), expected_c);
    assert!(fourth
        .users()
        .iter()
        .any(|u| u.entity_id.as_deref() == Some(c.as_str())
            && u.project.as_deref() == Some("Internal")));
    assert!(fourth.users().iter().all(|u| u.system == "rt-bob"));
    // Everything already seen on A is there too (the comment included).
    assert!(seen_on(&fourth, &a).is_superset(&seen_on(&third, &a)));

    // ---- Phase 5: what an administrator sees when something is wrong. ----
    std::env::set_var("TALLY_TEST_RT_BAD_PASSWORD", "not-the-password-x1");
    let bad = build(
        "rt-bad",
        settings(
            &rt.url,
            json!({"user": "bob", "token_env": "TALLY_TEST_RT_BAD_PASSWORD"}),
        ),
    )
    .unwrap();
    let failed = run(bad.as_ref(), None).await;
    let msg = failed.error();
    assert!(msg.contains("rt-bad") && msg.contains("HTTP 401"), "{msg}");
    assert!(msg.contains("TALLY_TEST_RT_BAD_PASSWORD"), "{msg}");
    assert!(!msg.contains("not-the-password"), "{msg}");
    assert!(failed.records().is_empty() && failed.checkpoints().is_empty());

    let missing_queue = build(
        "rt-main",
        settings(
            &rt.url,
            json!({"token_env": "TALLY_TEST_RT_TOKEN", "queues": ["Nope"]}),
        ),
    )
    .unwrap();
    let msg = run(missing_queue.as_ref(), None).await.error();
    assert!(msg.contains("queue 'Nope'"), "{msg}");

    eprintln!(
        "rt: all phases done after {:.1}s",
        started.elapsed().as_secs_f32()
    );
    drop(rt);
}
