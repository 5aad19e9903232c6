//! The Jira Data Center flavor: REST v2, logins, wiki-markup mentions, offset pages.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{fast, fixture, run, set_secret, SECRET};
use serde_json::json;
use tally_jira::{JiraConnector, Settings};
use tally_model::Interaction;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TALLY_TEST_JIRA_DC_PAT";

fn connector(server: &MockServer) -> JiraConnector {
    set_secret(VAR);
    let s: Settings = toml::from_str(&format!(
        r#"
        url = "{}/jira"
        token_env = "{VAR}"
        flavor = "data-center"
        projects = ["WEB"]
        page_size = 1
        # The directory has its own tests (directory.rs).
        directory = false
        "#,
        server.uri()
    ))
    .unwrap();
    JiraConnector::new("jira-dc", s, fast()).unwrap()
}

#[tokio::test]
async fn offset_pages_logins_and_wiki_mentions() {
    let server = MockServer::start().await;
    for (start, page) in [("0", "dc_search_page1.json"), ("1", "dc_search_page2.json")] {
        Mock::given(method("GET"))
            .and(path("/jira/rest/api/2/search"))
            .and(query_param("startAt", start))
            .and(query_param("maxResults", "1"))
            // A personal access token goes as a bearer token.
            .and(header("Authorization", format!("Bearer {SECRET}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(page)))
            .expect(1)
            .mount(&server)
            .await;
    }
    // WEB-1 has two comments; the search returned one, so the list is read whole.
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/issue/WEB-1/comment"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dc_comments_WEB-1.json")))
        .expect(1)
        .mount(&server)
        .await;
    // `alee` is mentioned twice, `bkovacs` once, `ghost` no longer exists.
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/user"))
        .and(query_param("username", "alee"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dc_user_alee.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/user"))
        .and(query_param("username", "bkovacs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "name": "bkovacs", "key": "JIRAUSER10101", "displayName": "Bob Kovacs",
            "emailAddress": "bob.kovacs@corp.example", "active": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/user"))
        .and(query_param("username", "ghost"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errorMessages": ["The user named 'ghost' does not exist"], "errors": {}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let got: BTreeSet<(&str, Option<String>, Option<String>, String)> = r
        .users()
        .into_iter()
        .map(|u| {
            assert_eq!(
                u.system, "jira-dc",
                "the system defaults to the connector name"
            );
            assert!(!u.service_account);
            (
                u.interaction.as_str(),
                u.username,
                u.email,
                u.entity_id.unwrap(),
            )
        })
        .collect();
    let o = |i: Interaction, login: &str, email: Option<&str>, issue: &str| {
        (
            i.as_str(),
            Some(login.to_string()),
            email.map(str::to_string),
            issue.to_string(),
        )
    };
    let ann = Some("ann.lee@corp.example");
    let bob = Some("bob.kovacs@corp.example");
    use Interaction::*;
    let expected: BTreeSet<_> = [
        o(Updater, "alee", ann, "WEB-1"),
        o(MappedUserField, "alee", ann, "WEB-1"),
        o(MappedUserField, "bkovacs", bob, "WEB-1"),
        o(Updater, "bkovacs", bob, "WEB-1"),
        o(CommentAuthor, "bkovacs", bob, "WEB-1"),
        o(CommentAuthor, "alee", ann, "WEB-1"),
        o(Mention, "alee", ann, "WEB-1"),
        o(Mention, "bkovacs", bob, "WEB-1"),
        o(Mention, "ghost", None, "WEB-1"),
        o(Updater, "bkovacs", bob, "WEB-2"),
        o(MappedUserField, "bkovacs", bob, "WEB-2"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
    // The `key` (JIRAUSER…) is an internal id, never a username.
    assert!(r
        .users()
        .iter()
        .all(|u| !u.username.as_deref().unwrap_or("").starts_with("JIRAUSER")));
    let cps = r.checkpoints();
    assert_eq!(cps.len(), 2);
    assert!(
        cps[1].contains("2026-10-06T09:15:00.000+0200"),
        "{}",
        cps[1]
    );
    // The total is known on Data Center: progress says 2 of 2.
    assert!(r.emits.iter().any(|e| matches!(
        e,
        tally_model::Emit::Progress {
            done: 2,
            total: Some(2)
        }
    )));
}

#[tokio::test]
async fn forbidden_profiles_fall_back_to_the_login_and_warn_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/search"))
        .and(query_param("startAt", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dc_search_page1.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/search"))
        .and(query_param("startAt", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dc_search_page2.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/issue/WEB-1/comment"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("dc_comments_WEB-1.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/user"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let mentioned: BTreeSet<String> = r
        .users()
        .into_iter()
        .filter(|u| u.interaction == Interaction::Mention)
        .filter_map(|u| u.username)
        .collect();
    assert_eq!(
        mentioned,
        ["alee", "bkovacs", "ghost"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let warnings = r.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("Browse users and groups"),
        "{}",
        warnings[0]
    );
}
