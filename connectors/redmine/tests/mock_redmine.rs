//! The Redmine connector against a mock server, for what a real Redmine will not do on
//! request: rate limiting, a broken page in the middle of a run.

// Helpers outside #[test] functions unwrap too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::run_connector;
use serde_json::json;
use tally_model::Record;
use tally_redmine::{build, Settings};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "mock-redmine-key-0123456789";

async fn redmine_basics(server: &MockServer) {
    Mock::given(path("/users/current.json"))
        .and(header("X-Redmine-API-Key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": 1, "login": "admin", "admin": true, "firstname": "Redmine",
                     "lastname": "Admin", "mail": "admin@corp.example"}
        })))
        .mount(server)
        .await;
    Mock::given(path("/users/5.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "user": {"id": 5, "login": "alee", "firstname": "Ann", "lastname": "Lee",
                     "mail": "ann.lee@corp.example"}
        })))
        .expect(1) // resolved once per run, however often Ann appears
        .mount(server)
        .await;
    Mock::given(path("/projects/1.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "project": {"id": 1, "identifier": "ops", "name": "Operations"}
        })))
        .mount(server)
        .await;
}

fn issue(id: u64, updated_on: &str) -> serde_json::Value {
    json!({
        "id": id, "project": {"id": 1, "name": "Operations"},
        "tracker": {"id": 1, "name": "Bug"}, "author": {"id": 5, "name": "Ann Lee"},
        "description": "", "created_on": "2026-03-01T10:00:00Z", "updated_on": updated_on,
        "journals": [], "attachments": [], "watchers": []
    })
}

async fn mount_issue(server: &MockServer, id: u64, updated_on: &str) {
    Mock::given(path(format!("/issues/{id}.json")))
        .and(query_param("include", "journals,attachments,watchers"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issue": issue(id, updated_on)})),
        )
        .mount(server)
        .await;
}

fn settings(url: &str, env: &str) -> Settings {
    serde_json::from_value(json!({"url": url, "token_env": env, "page_size": 2})).unwrap()
}

#[tokio::test]
async fn a_broken_page_keeps_what_was_collected_and_names_the_url() {
    let server = MockServer::start().await;
    redmine_basics(&server).await;
    let t1 = "2026-03-02T10:00:00Z";
    let t2 = "2026-03-03T10:00:00Z";
    Mock::given(method("GET"))
        .and(path("/issues.json"))
        .and(query_param("v[updated_on][]", "2026-03-01T00:00:00Z"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": 1, "updated_on": t1}, {"id": 2, "updated_on": t2}],
            "total_count": 3, "offset": 0, "limit": 2
        })))
        .mount(&server)
        .await;
    // The next page (keyset: from the last updated_on seen) is cut off mid-way.
    Mock::given(method("GET"))
        .and(path("/issues.json"))
        .and(query_param("v[updated_on][]", t2))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(
                    r#"{"issues":[{"id":2,"updated_on":"2026-03-03T10:00:00Z"},{"id":3,"#,
                ),
        )
        .mount(&server)
        .await;
    mount_issue(&server, 1, t1).await;
    mount_issue(&server, 2, t2).await;

    std::env::set_var("TALLY_MOCK_REDMINE_KEY_1", KEY);
    let connector = build(
        "redmine-main",
        settings(&server.uri(), "TALLY_MOCK_REDMINE_KEY_1"),
    )
    .unwrap();
    let out = run_connector(connector.as_ref(), Some("2026-03-01T00:00:00Z".into())).await;

    let msg = out.result.clone().unwrap().unwrap_err();
    assert!(msg.contains("redmine-main"), "{msg}");
    assert!(msg.contains("/issues.json?"), "{msg}");
    assert!(msg.contains("not the expected JSON"), "{msg}");
    assert!(!msg.contains(KEY), "{msg}");
    // The first page's issues were sent, and the cursor saved after them.
    let ids: Vec<_> = out
        .records
        .iter()
        .filter_map(|r| match r {
            Record::User(u) => u.entity_id.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec!["1", "2"]);
    let cursor: serde_json::Value = serde_json::from_str(out.checkpoints.last().unwrap()).unwrap();
    assert_eq!(cursor, json!({"updated_on": t2, "ids": [2]}));
    // Resumed from that cursor, issue 2 is not read again.
    server.reset().await;
    redmine_basics(&server).await;
    Mock::given(path("/issues.json"))
        .and(query_param("v[updated_on][]", t2))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": 2, "updated_on": t2}, {"id": 3, "updated_on": t2}],
            "total_count": 2
        })))
        .mount(&server)
        .await;
    mount_issue(&server, 3, t2).await;
    Mock::given(path("/issues/2.json"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let out = run_connector(connector.as_ref(), out.checkpoints.last().cloned()).await;
    assert_eq!(out.result, Some(Ok(())));
    let cursor: serde_json::Value = serde_json::from_str(out.checkpoints.last().unwrap()).unwrap();
    assert_eq!(cursor, json!({"updated_on": t2, "ids": [2, 3]}));
    assert!(out
        .records
        .iter()
        .all(|r| matches!(r, Record::User(u) if u.entity_id.as_deref() == Some("3"))));
}

#[tokio::test]
async fn rate_limiting_is_waited_out() {
    let server = MockServer::start().await;
    redmine_basics(&server).await;
    let t1 = "2026-03-02T10:00:00Z";
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": 1, "updated_on": t1}], "total_count": 1
        })))
        .mount(&server)
        .await;
    Mock::given(path("/issues/1.json"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_issue(&server, 1, t1).await;
    std::env::set_var("TALLY_MOCK_REDMINE_KEY_2", KEY);
    let connector = build(
        "redmine-main",
        settings(&server.uri(), "TALLY_MOCK_REDMINE_KEY_2"),
    )
    .unwrap();
    let started = Instant::now();
    let out = run_connector(connector.as_ref(), Some("2026-03-01T00:00:00Z".into())).await;
    assert_eq!(out.result, Some(Ok(())));
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(out.records.len(), 1);
}

#[tokio::test]
async fn a_missing_key_variable_fails_this_connector_with_its_name() {
    let connector = build(
        "redmine-main",
        settings(
            "https://redmine.example.org",
            "TALLY_MOCK_REDMINE_NEVER_SET",
        ),
    )
    .unwrap();
    let out = run_connector(connector.as_ref(), None).await;
    let msg = out.result.unwrap().unwrap_err();
    assert!(
        msg.contains("TALLY_MOCK_REDMINE_NEVER_SET") && msg.contains("redmine-main"),
        "{msg}"
    );
}

/// An administrator's key whose users listing is refused (a proxy rule, a plugin): the
/// observations are still collected, and the warning says what is missing.
#[tokio::test]
async fn a_refused_users_directory_is_a_warning_and_observations_go_on() {
    let server = MockServer::start().await;
    redmine_basics(&server).await;
    let t1 = "2026-03-02T10:00:00Z";
    Mock::given(path("/users.json"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issues": [{"id": 1, "updated_on": t1}], "total_count": 1
        })))
        .mount(&server)
        .await;
    mount_issue(&server, 1, t1).await;
    std::env::set_var("TALLY_MOCK_REDMINE_KEY_3", KEY);
    let connector = build(
        "redmine-main",
        settings(&server.uri(), "TALLY_MOCK_REDMINE_KEY_3"),
    )
    .unwrap();
    let out = run_connector(connector.as_ref(), Some("2026-03-01T00:00:00Z".into())).await;
    assert_eq!(out.result, Some(Ok(())));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = &out.warnings[0];
    assert!(
        w.contains("users directory") && w.contains("HTTP 403") && w.contains("administrator"),
        "{w}"
    );
    assert!(!w.contains(KEY), "{w}");
    assert!(out.records.iter().all(|r| matches!(r, Record::User(_))));
    assert_eq!(out.records.len(), 1);
}
