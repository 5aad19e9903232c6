//! The RT connector against a mock server, for what a real RT will not do on request:
//! rate limiting, a broken or slow page in the middle of a run, a forbidden directory.
//!
//! Every response body is a REST 2 answer recorded from a real RT 5.0.3 (Debian's
//! `request-tracker5` 5.0.3+dfsg-3~deb12u7) serving test data on loopback; see
//! `tests/fixtures/README.md` for the requests that produced each file.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_http::testing::{fast, run, Run};
use tally_model::{AccountStatus, Interaction, Record};
use tally_rt::{RtConnector, Settings};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "1-14-8fced5a7e9f9fc0804f29740edf3dddc";
/// The cursor of an earlier run, before every recorded ticket changed.
const EARLIER: &str = "2026-12-01T00:00:00Z";

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn ok(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture(name))
}

async fn get(server: &MockServer, p: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/REST/2.0/{p}")))
        .and(header("Authorization", format!("token {TOKEN}").as_str()))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn page(server: &MockServer, n: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/REST/2.0/tickets"))
        .and(query_param("page", n))
        .and(query_param("fields", "LastUpdated"))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Everything but the ticket listing.
async fn rt_basics(server: &MockServer) {
    get(server, "rt", ok("rt.json")).await;
    get(server, "queue/3", ok("queue_3.json")).await;
    for t in ["1", "2"] {
        get(
            server,
            &format!("ticket/{t}"),
            ok(&format!("ticket_{t}.json")),
        )
        .await;
        for part in ["history", "attachments"] {
            get(
                server,
                &format!("ticket/{t}/{part}"),
                ok(&format!("ticket_{t}_{part}.json")),
            )
            .await;
        }
    }
    for u in ["alee", "bob", "cust", "gone", "root", "alee@corp.example"] {
        let encoded = u.replace('@', "%40");
        get(
            server,
            &format!("user/{encoded}"),
            ok(&format!("user_{u}.json")),
        )
        .await;
    }
}

fn connector(server: &MockServer, var: &str, extra: Value) -> RtConnector {
    std::env::set_var(var, TOKEN);
    let mut v = json!({"url": server.uri(), "token_env": var, "system": "RT", "page_size": 1});
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    let s: Settings = serde_json::from_value(v).unwrap();
    RtConnector::new("rt-mock", s, fast()).unwrap()
}

type Seen = BTreeSet<(String, Option<String>, &'static str)>;

fn seen_on(r: &Run, ticket: &str) -> Seen {
    r.users()
        .into_iter()
        .filter(|u| u.entity_id.as_deref() == Some(ticket))
        .map(|u| {
            (
                u.username.clone().unwrap(),
                u.email.clone(),
                u.interaction.as_str(),
            )
        })
        .collect()
}

fn who(login: &str, mail: &str, how: &[Interaction]) -> Seen {
    how.iter()
        .map(|i| (login.to_string(), Some(mail.to_string()), i.as_str()))
        .collect()
}

/// What the recorded ticket 1 says: Ann created it and changed its subject, Bob commented
/// and corresponded with `log.txt`, owns it and is AdminCc; the customer is Requestor, and
/// Ann's second address (an unprivileged user RT made for it) is Cc.
fn ticket_1() -> Seen {
    use Interaction::*;
    let mut s = who("alee", "Ann.Lee@corp.example", &[Updater]);
    s.extend(who(
        "bob",
        "bob@corp.example",
        &[CommentAuthor, AttachmentAuthor, MappedUserField],
    ));
    s.extend(who("cust", "customer@outside.example", &[MappedUserField]));
    s.extend(who(
        "alee@corp.example",
        "alee@corp.example",
        &[MappedUserField],
    ));
    s
}

fn assert_first_page_kept(r: &Run) {
    assert_eq!(seen_on(r, "1"), ticket_1());
    assert!(seen_on(r, "2").is_empty());
    let cursor: Value = serde_json::from_str(r.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor,
        json!({"last_updated": "2026-12-01T09:54:55Z", "ids": ["1"]})
    );
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn reads_every_page_and_the_directory() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    get(&server, "users", ok("users.json")).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(&server, "2", ok("tickets_page2.json")).await;
    let r = run(&connector(&server, "TALLY_MOCK_RT_1", json!({})), None).await;
    assert_eq!(r.result, Some(Ok(())), "{:?}", r.warnings());
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());

    assert_eq!(seen_on(&r, "1"), ticket_1());
    // Ticket 2 was made by root with its auth token, without requestor; Nobody owns it,
    // and Nobody is not a person.
    assert_eq!(
        seen_on(&r, "2"),
        who("root", "root@localhost", &[Interaction::Updater])
    );
    assert!(r
        .users()
        .iter()
        .all(|u| u.project.as_deref() == Some("Support") && u.system == "RT"));
    assert_eq!(r.checkpoints().len(), 2);

    let accounts: BTreeSet<(String, String, AccountStatus, bool)> = r
        .records()
        .into_iter()
        .filter_map(|rec| match rec {
            Record::Account(a) => Some((a.id, a.username.unwrap(), a.status, a.billable)),
            _ => None,
        })
        .collect();
    use AccountStatus::{Active, Disabled};
    let expected: BTreeSet<_> = [
        ("14", "root", Active, true),
        ("27", "alee", Active, true),
        ("29", "bob", Active, true),
        ("31", "cust", Active, false),
        ("33", "gone", Disabled, true),
        ("39", "alee@corp.example", Active, false),
    ]
    .into_iter()
    .map(|(i, l, s, b)| (i.to_string(), l.to_string(), s, b))
    .collect();
    assert_eq!(accounts, expected);
}

#[tokio::test]
async fn a_broken_second_page_keeps_the_first_and_names_the_url() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(
        &server,
        "2",
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(r#"{"total":2,"per_page":1,"page":2,"items":[{"type":"ticket","#),
    )
    .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_2", json!({})),
        Some(EARLIER.into()),
    )
    .await;
    let e = r.error();
    assert!(
        e.contains("rt-mock") && e.contains("/REST/2.0/tickets?"),
        "{e}"
    );
    assert!(e.contains("not the expected JSON"), "{e}");
    assert!(!e.contains(TOKEN), "{e}");
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn a_timeout_on_the_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(
        &server,
        "2",
        ok("tickets_page2.json").set_delay(Duration::from_secs(10)),
    )
    .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_3", json!({})),
        Some(EARLIER.into()),
    )
    .await;
    let e = r.error();
    assert!(e.contains("rt-mock") && e.contains("timed out"), "{e}");
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn rate_limiting_is_waited_out() {
    let server = MockServer::start().await;
    // Mounted first, so it answers the first request for ticket 1.
    Mock::given(path("/REST/2.0/ticket/1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    rt_basics(&server).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(&server, "2", ok("tickets_page2.json")).await;
    let started = Instant::now();
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_4", json!({"directory": false})),
        Some(EARLIER.into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(seen_on(&r, "1"), ticket_1());
}

#[tokio::test]
async fn a_rejected_token_fails_naming_the_variable_not_the_secret() {
    let server = MockServer::start().await;
    Mock::given(path("/REST/2.0/rt"))
        .respond_with(ResponseTemplate::new(401).set_body_json(fixture("unauthorized.json")))
        .mount(&server)
        .await;
    let r = run(&connector(&server, "TALLY_MOCK_RT_5", json!({})), None).await;
    let e = r.error();
    assert!(e.contains("rt-mock") && e.contains("HTTP 401"), "{e}");
    assert!(e.contains("TALLY_MOCK_RT_5"), "{e}");
    assert!(!e.contains(TOKEN) && !e.contains("8fced5a7"), "{e}");
    assert!(r.records().is_empty() && r.checkpoints().is_empty());
    let shown = format!("{:?}", r.emits);
    assert!(!shown.contains("8fced5a7"), "{shown}");
}

#[tokio::test]
async fn a_forbidden_directory_is_a_warning_and_the_observations_stand() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(&server, "2", ok("tickets_page2.json")).await;
    Mock::given(path("/REST/2.0/users"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .mount(&server)
        .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_6", json!({})),
        Some(EARLIER.into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("AdminUsers") && w[0].contains("403"),
        "{}",
        w[0]
    );
    assert_eq!(seen_on(&r, "1"), ticket_1());
    assert!(!r
        .records()
        .iter()
        .any(|rec| matches!(rec, Record::Account(_))));
}

#[tokio::test]
async fn a_second_run_reads_only_what_changed() {
    let server = MockServer::start().await;
    get(&server, "rt", ok("rt.json")).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(&server, "2", ok("tickets_page2.json")).await;
    // Ticket 1 is older than the cursor, ticket 2 was sent at the cursor's second.
    for t in ["ticket/1", "ticket/2"] {
        Mock::given(path(format!("/REST/2.0/{t}")))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
    }
    let cursor = json!({"last_updated": "2026-12-01T09:56:38Z", "ids": ["2"]}).to_string();
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_7", json!({"directory": false})),
        Some(cursor),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(r.records().is_empty(), "{:?}", r.records());
    assert!(r.checkpoints().is_empty());
    // The query reaches back from the cursor, relative to RT's clock.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|q| q.url.path() == "/REST/2.0/tickets")
        .filter_map(|q| {
            q.url
                .query_pairs()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert!(!asked.is_empty());
    for q in asked {
        assert!(
            q.starts_with("LastUpdated >= '-") && q.ends_with(" seconds'"),
            "{q}"
        );
    }
}

/// A recorded listing page with its one item changed: `id` and `LastUpdated` as given.
fn page_with(name: &str, id: &str, last_updated: &str) -> ResponseTemplate {
    let mut body = fixture(name);
    body["items"][0]["id"] = json!(id);
    body["items"][0]["LastUpdated"] = json!(last_updated);
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn a_ticket_updated_while_paging_does_not_hide_its_neighbour() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    // First pass: ticket 1 on page 1; then someone updates it, it moves to the end, and
    // ticket 2 slides back onto page 1, already read: page 2 shows ticket 1 again.
    Mock::given(path("/REST/2.0/tickets"))
        .and(query_param("page", "1"))
        .respond_with(ok("tickets_page1.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    page(
        &server,
        "1",
        page_with("tickets_page1.json", "2", "2026-12-01T09:56:38Z"),
    )
    .await;
    page(
        &server,
        "2",
        page_with("tickets_page2.json", "1", "2026-12-01T09:58:00Z"),
    )
    .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_8", json!({"directory": false})),
        Some(EARLIER.into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    // The second pass found ticket 2.
    assert_eq!(
        seen_on(&r, "2"),
        who("root", "root@localhost", &[Interaction::Updater])
    );
    assert_eq!(seen_on(&r, "1"), ticket_1());
    let cursor: Value = serde_json::from_str(r.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor,
        json!({"last_updated": "2026-12-01T09:58:00Z", "ids": ["1"]})
    );
}

#[tokio::test]
async fn a_failing_directory_is_a_warning_and_the_cursor_stands() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    page(&server, "1", ok("tickets_page1.json")).await;
    page(&server, "2", ok("tickets_page2.json")).await;
    Mock::given(path("/REST/2.0/users"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_9", json!({})),
        Some(EARLIER.into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("directory could not be read") && w[0].contains("HTTP 500"),
        "{}",
        w[0]
    );
    assert_eq!(seen_on(&r, "1"), ticket_1());
    assert_eq!(r.checkpoints().len(), 2);
}

#[tokio::test]
async fn tickets_hidden_from_the_account_do_not_end_the_listing() {
    let server = MockServer::start().await;
    rt_basics(&server).await;
    // RT lists a ticket the account may not see as null, without total (recorded page 1
    // with its item hidden, as RT's Collection serialiser does).
    let mut hidden = fixture("tickets_page1.json");
    hidden["items"][0] = Value::Null;
    hidden["total"] = Value::Null;
    page(
        &server,
        "1",
        ResponseTemplate::new(200).set_body_json(hidden),
    )
    .await;
    let mut last = fixture("tickets_page2.json");
    last["total"] = Value::Null;
    page(&server, "2", ResponseTemplate::new(200).set_body_json(last)).await;
    let mut empty = fixture("tickets_page2.json");
    empty["items"] = json!([]);
    empty["total"] = Value::Null;
    page(
        &server,
        "3",
        ResponseTemplate::new(200).set_body_json(empty),
    )
    .await;
    let r = run(
        &connector(&server, "TALLY_MOCK_RT_10", json!({"directory": false})),
        Some(EARLIER.into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(seen_on(&r, "1").is_empty());
    assert_eq!(
        seen_on(&r, "2"),
        who("root", "root@localhost", &[Interaction::Updater])
    );
}
