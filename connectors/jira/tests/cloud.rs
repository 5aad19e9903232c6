//! The Jira Cloud flavor against a mock server replaying Atlassian's response shapes.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::{fast, fixture, run, set_secret, SECRET};
use serde_json::json;
use tally_jira::{JiraConnector, Settings};
use tally_model::{Interaction, Record};
use wiremock::matchers::{basic_auth, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TALLY_TEST_JIRA_CLOUD_TOKEN";
const SEARCH: &str = "/rest/api/3/search/jql";

fn settings(server: &MockServer) -> Settings {
    set_secret(VAR);
    toml::from_str(&format!(
        r#"
        url = "{}"
        user = "svc-tally@corp.example"
        token_env = "{VAR}"
        projects = ["OPS"]
        mapped_fields = ["assignee", "reporter"]
        link_field = "customfield_10050"
        link_system = "Azure DevOps"
        link_project = "Fabrikam"
        system = "Jira"
        # The directory has its own tests (directory.rs).
        directory = false
        "#,
        server.uri()
    ))
    .unwrap()
}

fn connector(server: &MockServer) -> JiraConnector {
    JiraConnector::new("jira-cloud", settings(server), fast()).unwrap()
}

/// The first page answers only the first request (no token), the second only the token.
async fn mount_pages(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param_is_missing("nextPageToken"))
        .and(query_param("expand", "changelog"))
        .and(basic_auth("svc-tally@corp.example", SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cloud_search_page1.json")))
        .mount(server)
        .await;
}

async fn mount_page2(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("nextPageToken", "CAEaAggD"))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn mount_profiles(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user"))
        .and(query_param("accountId", "5b10ac8d82e05b22cc7d4ef5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cloud_user_emma.json")))
        // Emma is mentioned three times on two pages: her profile is read once.
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user"))
        .and(query_param("accountId", "5b10a0effa615349cb016cd8"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errorMessages": ["Specified user does not exist or you do not have required permissions"],
            "errors": {}
        })))
        .expect(1)
        .mount(server)
        .await;
}

type Seen = (
    &'static str,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    bool,
);

fn seen(run: &common::Run) -> BTreeSet<Seen> {
    run.users()
        .into_iter()
        .map(|u| {
            assert_eq!(u.system, "Jira");
            assert_eq!(u.project.as_deref(), Some("OPS"));
            (
                u.interaction.as_str(),
                u.email,
                u.username,
                u.display_name,
                u.entity_id.unwrap(),
                u.service_account,
            )
        })
        .collect()
}

fn obs(i: Interaction, email: Option<&str>, name: &str, issue: &str, service: bool) -> Seen {
    (
        i.as_str(),
        email.map(str::to_string),
        None,
        Some(name.to_string()),
        issue.to_string(),
        service,
    )
}

const MIA: Option<&str> = Some("mia@example.com");

#[tokio::test]
async fn two_pages_yield_every_interaction_and_a_sync_record() {
    let server = MockServer::start().await;
    mount_pages(&server).await;
    mount_page2(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("cloud_search_page2.json")),
    )
    .await;
    mount_profiles(&server).await;

    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));

    use Interaction::*;
    let emma = Some("emma.richards@corp.example");
    let expected: BTreeSet<Seen> = [
        // OPS-1: created by Mia, who changed it, attached a file and commented, mentioning
        // Emma (resolved to her profile: her email is hidden on the issue itself) and a
        // deleted account (kept by the name the mention shows).
        obs(Updater, MIA, "Mia Krystof", "OPS-1", false),
        obs(AttachmentAuthor, MIA, "Mia Krystof", "OPS-1", false),
        obs(CommentAuthor, MIA, "Mia Krystof", "OPS-1", false),
        obs(Mention, emma, "Emma Richards", "OPS-1", false),
        obs(Mention, None, "Former Employee", "OPS-1", false),
        obs(MappedUserField, MIA, "Mia Krystof", "OPS-1", false),
        obs(MappedUserField, None, "Emma Richards", "OPS-1", false),
        // OPS-2: the automation app changed it (a service account); its description
        // mentions Emma.
        obs(Updater, MIA, "Mia Krystof", "OPS-2", false),
        obs(Updater, None, "Automation for Jira", "OPS-2", true),
        obs(MappedUserField, MIA, "Mia Krystof", "OPS-2", false),
        obs(Mention, emma, "Emma Richards", "OPS-2", false),
        // OPS-3, on the second page.
        obs(Updater, None, "Emma Richards", "OPS-3", false),
        obs(CommentAuthor, None, "Emma Richards", "OPS-3", false),
        obs(Mention, emma, "Emma Richards", "OPS-3", false),
        obs(MappedUserField, MIA, "Mia Krystof", "OPS-3", false),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen(&r), expected);
    // Emma's comment from 2024, before the 365-day look-back, is left out.
    assert!(r
        .users()
        .iter()
        .all(|u| u.at.format("%Y").to_string() == "2026"));
    // An accountId is never reported as a username.
    assert!(r.users().iter().all(|u| u.username.is_none()));

    let syncs: Vec<_> = r
        .records()
        .into_iter()
        .filter_map(|x| match x {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1);
    let s = &syncs[0];
    assert_eq!(
        (s.source.system.as_str(), s.source.entity_id.as_str()),
        ("Jira", "OPS-1")
    );
    assert_eq!(s.source.entity_type.as_deref(), Some("Bug"));
    assert_eq!(
        (
            s.target.system.as_str(),
            s.target.project.as_deref(),
            s.target.entity_id.as_str()
        ),
        ("Azure DevOps", Some("Fabrikam"), "4211")
    );
    assert_eq!(s.at.to_rfc3339(), "2026-09-01T08:00:00+00:00");

    // One checkpoint per page, the last at the last issue's `updated`.
    let cps = r.checkpoints();
    assert_eq!(cps.len(), 2);
    assert!(
        cps[0].contains("2026-09-02T09:30:00.000+0200"),
        "{}",
        cps[0]
    );
    assert!(
        cps[1].contains("2026-09-03T08:00:15.000+0200") && cps[1].contains("OPS-3"),
        "{}",
        cps[1]
    );
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn first_run_jql_reaches_back_by_lookback_and_orders_by_updated() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true})),
        )
        .mount(&server)
        .await;
    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let requests = server.received_requests().await.unwrap();
    let jql: String = requests[0]
        .url
        .query_pairs()
        .find(|(k, _)| k == "jql")
        .unwrap()
        .1
        .into_owned();
    let since = (chrono::Utc::now() - chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    assert!(
        jql.starts_with(&format!("project in (\"OPS\") AND updated >= \"{since} ")),
        "{jql}"
    );
    assert!(jql.ends_with(" ORDER BY updated ASC"), "{jql}");
    // Nothing found: no cursor to save.
    assert!(r.checkpoints().is_empty());
}

#[tokio::test]
async fn second_run_with_the_saved_cursor_sends_nothing_new() {
    let server = MockServer::start().await;
    mount_pages(&server).await;
    mount_page2(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("cloud_search_page2.json")),
    )
    .await;
    mount_profiles(&server).await;
    let c = connector(&server);
    let first = run(&c, None).await;
    let cursor = first.checkpoints().pop().unwrap();

    // Nothing changed: Jira answers the minute of the cursor with the last issue again.
    let again = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param(
            "jql",
            "project in (\"OPS\") AND updated >= \"2026-09-03 08:00\" ORDER BY updated ASC",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("cloud_search_page2.json")))
        .expect(1)
        .mount(&again)
        .await;
    let second = run(&connector(&again), Some(cursor.clone())).await;
    assert_eq!(second.result, Some(Ok(())));
    assert!(second.records().is_empty(), "{:?}", second.records());
    // No profile was looked up, and the cursor stays where it was.
    assert_eq!(again.received_requests().await.unwrap().len(), 1);
    assert_eq!(second.checkpoints(), vec![cursor]);
}

#[tokio::test]
async fn rate_limited_page_is_fetched_after_retry_after() {
    let server = MockServer::start().await;
    mount_pages(&server).await;
    mount_profiles(&server).await;
    // The second page is rate-limited once, then served.
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .and(query_param("nextPageToken", "CAEaAggD"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_page2(
        &server,
        ResponseTemplate::new(200).set_body_json(fixture("cloud_search_page2.json")),
    )
    .await;
    let started = Instant::now();
    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    // The server asked for a second's pause, and got it.
    assert!(started.elapsed().as_millis() >= 950);
    assert!(r
        .users()
        .iter()
        .any(|u| u.entity_id.as_deref() == Some("OPS-3")));
}

#[tokio::test]
async fn unauthorized_names_the_connector_and_the_credentials_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorMessages": ["You are not authenticated. Authentication required to perform this operation."],
            "errors": {}
        })))
        .mount(&server)
        .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(e.contains("jira-cloud"), "{e}");
    assert!(
        e.contains("401") && e.contains("check the credentials"),
        "{e}"
    );
    assert!(e.contains(VAR), "{e}");
    assert!(!e.contains(SECRET), "{e}");
    assert!(r.records().is_empty());
    assert!(r.checkpoints().is_empty());
}

#[tokio::test]
async fn timeout_on_the_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_pages(&server).await;
    mount_profiles(&server).await;
    mount_page2(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(fixture("cloud_search_page2.json"))
            .set_delay(std::time::Duration::from_secs(10)),
    )
    .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(e.contains("jira-cloud") && e.contains("timed out"), "{e}");
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn malformed_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_pages(&server).await;
    mount_profiles(&server).await;
    mount_page2(
        &server,
        ResponseTemplate::new(200).set_body_raw(
            r#"{"issues": [{"key": "OPS-3", "fields": {"#,
            "application/json",
        ),
    )
    .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(
        e.contains("jira-cloud") && e.contains("not the expected JSON"),
        "{e}"
    );
    assert_first_page_kept(&r);
}

/// What the first page held is sent and checkpointed; nothing of the second is.
fn assert_first_page_kept(r: &common::Run) {
    let issues: BTreeSet<String> = r.users().into_iter().filter_map(|u| u.entity_id).collect();
    assert_eq!(
        issues,
        ["OPS-1", "OPS-2"].map(String::from).into_iter().collect()
    );
    let cps = r.checkpoints();
    assert_eq!(cps.len(), 1);
    assert!(
        cps[0].contains("2026-09-02T09:30:00.000+0200"),
        "{}",
        cps[0]
    );
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn a_missing_secret_fails_this_connector_with_the_variable_named() {
    let server = MockServer::start().await;
    let mut s = settings(&server);
    s.token_env = "TALLY_TEST_JIRA_SURELY_UNSET".into();
    let r = run(&JiraConnector::new("jira-cloud", s, fast()).unwrap(), None).await;
    let e = r.error();
    assert!(
        e.contains("TALLY_TEST_JIRA_SURELY_UNSET") && e.contains("jira-cloud"),
        "{e}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
