//! The Azure DevOps connector against a mock server replaying Microsoft's published API
//! examples (`tests/fixtures/`, copied from `../shared/fixtures/azure-devops/`).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use common::{example, fast, run, set_secret, SECRET};
use serde_json::{json, Value};
use tally_azure_devops::{AzureDevOpsConnector, Settings};
use tally_model::{Interaction, Record};
use wiremock::matchers::{
    basic_auth, method, path, path_regex, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TALLY_TEST_ADO_PAT";
const REVISIONS: &str = "/fabrikam/Fabrikam-Fiber-Git/_apis/wit/reporting/workitemrevisions";
const REVISIONS_1: &str = "wit_workItemRevisions_GET__wit_reporting_workItemRevisions.json";
const REVISIONS_2: &str =
    "wit_workItemRevisions_GET__wit_reporting_workItemRevisions_includeIdentityRef-true_watermark-794.json";
const JAMAL_ID: &str = "d291b0c4-a05c-4ea6-8df1-4b41d5f39eff";
const JAMAL: Option<&str> = Some("fabrikamfiber4@hotmail.com");
const NORMAL: Option<&str> = Some("fabrikamfiber16@hotmail.com");

/// Every fixture copied here must still be the file Microsoft published (as kept in
/// `../shared`), so the tests replay real shapes and not edited ones.
#[test]
fn fixtures_equal_the_shared_copies() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/azure-devops");
    if !shared.is_dir() {
        eprintln!("{} not found; nothing to compare", shared.display());
        return;
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(&here).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap();
        let original = std::fs::read(shared.join(name)).unwrap();
        assert!(
            std::fs::read(&p).unwrap() == original,
            "{} differs from ../shared",
            p.display()
        );
        compared += 1;
    }
    assert!(compared >= 8, "compared {compared}");
}

fn settings(server: &MockServer) -> Settings {
    set_secret(VAR);
    toml::from_str(&format!(
        r#"
        url = "{}/fabrikam"
        token_env = "{VAR}"
        projects = ["Fabrikam-Fiber-Git"]
        link_url_prefix = "https://corp.atlassian.net/browse/"
        link_system = "Jira"
        system = "Azure DevOps"
        # The directory has its own tests (directory.rs).
        directory = false
        "#,
        server.uri()
    ))
    .unwrap()
}

fn connector(server: &MockServer) -> AzureDevOpsConnector {
    AzureDevOpsConnector::new("ado-fabrikam", settings(server), fast()).unwrap()
}

/// The first page: Microsoft's first example (work items 1 and 2, identities as text).
/// Its `nextLink` carries the continuation token `3;2;1`; it is marked not last here so that
/// the walk goes on to the second example.
fn page1() -> Value {
    let mut body = example(REVISIONS_1);
    body["isLastBatch"] = json!(false);
    body
}

async fn mount_page1(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .and(query_param_is_missing("continuationToken"))
        .and(query_param("includeIdentityRef", "true"))
        // A PAT goes as basic auth with an empty user name.
        .and(basic_auth("", SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1()))
        .mount(server)
        .await;
}

async fn mount_page2(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .and(query_param("continuationToken", "3;2;1"))
        .respond_with(response)
        .mount(server)
        .await;
}

fn page2() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(example(REVISIONS_2))
}

/// A comment in the comments API's shape (from Microsoft's example), by `by`, with `text`.
fn comment(id: u64, by: Value, text: &str, created: &str) -> Value {
    let mut c =
        example("wit_comments_GET__wit_workitems__issueId__comments_1.json")["comments"][0].clone();
    c["workItemId"] = json!(2);
    c["commentId"] = json!(id);
    c["createdBy"] = by;
    c["text"] = json!(text);
    c["createdDate"] = json!(created);
    c
}

/// Updates and comments of the four work items; Jamal is mentioned twice on work item 2.
async fn mount_details(server: &MockServer) {
    let updates = |id: u64, body: Value| {
        Mock::given(method("GET"))
            .and(path(format!("/fabrikam/_apis/wit/workItems/{id}/updates")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
    };
    updates(1, example("wit_updates_GET__list_of_workitem_updates.json"))
        .expect(1)
        .mount(server)
        .await;
    // Work item 2 got a hyperlink to its Jira issue: an update in the shape of Microsoft's
    // paged example, with a Hyperlink relation as work items carry them.
    let mut linked = example("wit_updates_GET__list_of_workitem_updates_paged.json");
    linked["value"][1]["workItemId"] = json!(2);
    linked["value"][1]["relations"]["added"][0] = json!({
        "rel": "Hyperlink",
        "url": "https://corp.atlassian.net/browse/OPS-17",
        "attributes": {"authorizedDate": "2014-03-18T17:17:06.01Z", "id": 65275, "comment": "synced by the integration"}
    });
    updates(2, linked).mount(server).await;
    for id in [3, 350] {
        updates(id, json!({"count": 0, "value": []}))
            .mount(server)
            .await;
    }

    let comments = |id: u64| {
        Mock::given(method("GET")).and(path(format!(
            "/fabrikam/Fabrikam-Fiber-Git/_apis/wit/workItems/{id}/comments"
        )))
    };
    for id in [1, 3] {
        comments(id)
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"totalCount": 0, "count": 0, "comments": []})),
            )
            .mount(server)
            .await;
    }
    let normal = example(REVISIONS_2)["values"][0]["fields"]["System.ChangedBy"].clone();
    let mention = |id: &str, name: &str| {
        format!(r##"<a href="#" data-vss-mention="version:2.0,{id}">@{name}</a>"##)
    };
    comments(2)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalCount": 3, "count": 3, "comments": [
                comment(3, normal.clone(), &format!("<div>{} can you check?</div>", mention(JAMAL_ID, "Jamal Hartnett")), "2014-03-18T17:18:00Z"),
                comment(2, normal.clone(), &format!("<div>{} and {}</div>", mention(JAMAL_ID, "Jamal Hartnett"), mention("0000aaaa-1111-2222-3333-444455556666", "Former Colleague")), "2014-03-18T17:19:00Z"),
                // Before this work item's first revision in the page: read by an earlier run.
                comment(1, json!({"displayName": "Old Timer", "uniqueName": "old.timer@fabrikam.example"}), "<div>old</div>", "2013-01-01T00:00:00Z"),
            ]
        })))
        .mount(server)
        .await;
    // Work item 350: Microsoft's two comment pages, joined by their continuation token.
    comments(350)
        .and(query_param_is_missing("continuationToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example(
            "wit_comments_GET__wit_workitems__issueId__comments_1.json",
        )))
        .mount(server)
        .await;
    comments(350)
        .and(query_param("continuationToken", "DFkODYtNTYxYS03ZDdiLWJj"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example(
            "wit_comments_GET__wit_workitems__issueId__comments_2.json",
        )))
        .expect(1)
        .mount(server)
        .await;

    // Mentioned identities: Jamal is read once however often he is mentioned.
    Mock::given(method("GET"))
        .and(path("/fabrikam/_apis/identities"))
        .and(query_param("identityIds", JAMAL_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 1, "value": [{
            "id": JAMAL_ID,
            "descriptor": "Microsoft.IdentityModel.Claims.ClaimsIdentity;fabrikam\\fabrikamfiber4@hotmail.com",
            "subjectDescriptor": "aad.YTkzODFkODYtNTYxYS03ZDdiLWJjM2QtZDUzMjllMjM5OTAz",
            "providerDisplayName": "Jamal Hartnett",
            "isActive": true, "isContainer": false, "members": [], "memberOf": [],
            "properties": {
                "Account": {"$type": "System.String", "$value": "fabrikamfiber4@hotmail.com"},
                "Mail": {"$type": "System.String", "$value": "fabrikamfiber4@hotmail.com"},
                "SchemaClassName": {"$type": "System.String", "$value": "User"}
            }
        }]})))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fabrikam/_apis/identities"))
        .and(query_param(
            "identityIds",
            "0000aaaa-1111-2222-3333-444455556666",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 0, "value": []})))
        .expect(1)
        .mount(server)
        .await;
}

/// Empty updates and comments for any work item, for tests about the revision walk.
async fn mount_quiet_details(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"/_apis/wit/workItems/\d+/updates$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"count": 0, "value": []})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/_apis/wit/workItems/\d+/comments$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totalCount": 0, "count": 0, "comments": []})),
        )
        .mount(server)
        .await;
}

type Seen = (&'static str, Option<String>, Option<String>, String);

fn o(i: Interaction, email: Option<&str>, name: &str, item: &str) -> Seen {
    (
        i.as_str(),
        email.map(str::to_string),
        Some(name.to_string()),
        item.to_string(),
    )
}

#[tokio::test]
async fn revisions_updates_and_comments_yield_every_interaction() {
    let server = MockServer::start().await;
    mount_page1(&server).await;
    mount_page2(&server, page2()).await;
    mount_details(&server).await;

    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let seen: BTreeSet<Seen> = r
        .users()
        .into_iter()
        .map(|u| {
            assert_eq!(u.system, "Azure DevOps");
            assert_eq!(u.project.as_deref(), Some("Fabrikam-Fiber-Git"));
            assert_eq!(u.username, None, "uniqueName is an email on Services");
            assert!(!u.service_account);
            (
                u.interaction.as_str(),
                u.email,
                u.display_name,
                u.entity_id.unwrap(),
            )
        })
        .collect();
    use Interaction::*;
    let expected: BTreeSet<Seen> = [
        // Page 1: Jamal created and changed work items 1 and 2 ("Name <email>" text form),
        // and attached two files to work item 1 (its updates).
        o(Updater, JAMAL, "Jamal Hartnett", "1"),
        o(AttachmentAuthor, JAMAL, "Jamal Hartnett", "1"),
        o(Updater, JAMAL, "Jamal Hartnett", "2"),
        // Normal commented on work item 2, mentioning Jamal (resolved) and someone the
        // identity service no longer knows (kept by the name shown).
        o(CommentAuthor, NORMAL, "Normal Paulk", "2"),
        o(Mention, JAMAL, "Jamal Hartnett", "2"),
        (
            Mention.as_str(),
            None,
            Some("Former Colleague".into()),
            "2".into(),
        ),
        // Page 2 (IdentityRef objects): Normal changed work item 3; Jamal created 350 and
        // wrote its four comments (two comment pages).
        o(Updater, NORMAL, "Normal Paulk", "3"),
        o(Updater, JAMAL, "Jamal Hartnett", "350"),
        o(CommentAuthor, JAMAL, "Jamal Hartnett", "350"),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected);
    let comments_350 = r
        .users()
        .iter()
        .filter(|u| u.interaction == CommentAuthor && u.entity_id.as_deref() == Some("350"))
        .count();
    assert_eq!(comments_350, 4);
    let attachments = r
        .users()
        .iter()
        .filter(|u| u.interaction == AttachmentAuthor)
        .count();
    assert_eq!(attachments, 2);

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
        (
            s.source.system.as_str(),
            s.source.entity_id.as_str(),
            s.source.entity_type.as_deref()
        ),
        ("Azure DevOps", "2", Some("Product Backlog Item"))
    );
    assert_eq!(
        (
            s.target.system.as_str(),
            s.target.project.as_deref(),
            s.target.entity_id.as_str()
        ),
        ("Jira", Some("OPS"), "OPS-17")
    );

    // A checkpoint per page: the token of page 1, then the watermark of the last page.
    let cps = r.checkpoints();
    assert_eq!(cps.len(), 2);
    assert!(cps[0].contains("3;2;1"), "{}", cps[0]);
    assert!(cps[1].contains("813;350;1"), "{}", cps[1]);
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn first_run_starts_at_the_lookback() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"values": [], "isLastBatch": true})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let req = &server.received_requests().await.unwrap()[0];
    let start = req
        .url
        .query_pairs()
        .find(|(k, _)| k == "startDateTime")
        .unwrap()
        .1
        .into_owned();
    let expected = (chrono::Utc::now() - chrono::Duration::days(365))
        .format("%Y-%m-%d")
        .to_string();
    assert!(start.starts_with(&expected), "{start}");
}

#[tokio::test]
async fn second_run_from_the_watermark_fetches_nothing_new() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .and(query_param("continuationToken", "813;350;1"))
        .and(query_param_is_missing("startDateTime"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "values": [],
            "nextLink": format!("{}/fabrikam/_apis/wit/reporting/workItemRevisions?continuationToken=813;350;1&api-version=7.1", server.uri()),
            "continuationToken": "813;350;1",
            "isLastBatch": true
        })))
        .expect(1)
        .mount(&server)
        .await;
    let cursor = r#"{"tokens":{"Fabrikam-Fiber-Git":"813;350;1"}}"#.to_string();
    let r = run(&connector(&server), Some(cursor.clone())).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(r.records().is_empty());
    // No work item was read, and the watermark stays.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(r.checkpoints(), vec![cursor]);
}

#[tokio::test]
async fn rate_limited_page_is_fetched_after_retry_after() {
    let server = MockServer::start().await;
    mount_page1(&server).await;
    mount_quiet_details(&server).await;
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .and(query_param("continuationToken", "3;2;1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_page2(&server, page2()).await;
    let started = Instant::now();
    let r = run(&connector(&server), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(started.elapsed().as_millis() >= 950);
    assert!(r
        .users()
        .iter()
        .any(|u| u.entity_id.as_deref() == Some("350")));
    assert!(r.checkpoints().last().unwrap().contains("813;350;1"));
}

#[tokio::test]
async fn unauthorized_names_the_connector_and_the_token_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REVISIONS))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("Content-Type", "text/plain")
                .set_body_string("Access Denied: The Personal Access Token used has expired."),
        )
        .mount(&server)
        .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(e.contains("ado-fabrikam") && e.contains("401"), "{e}");
    assert!(
        e.contains("check the credentials") && e.contains(VAR),
        "{e}"
    );
    assert!(!e.contains(SECRET), "{e}");
    assert!(r.records().is_empty() && r.checkpoints().is_empty());
}

#[tokio::test]
async fn timeout_on_the_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_page1(&server).await;
    mount_quiet_details(&server).await;
    mount_page2(
        &server,
        page2().set_delay(std::time::Duration::from_secs(10)),
    )
    .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(e.contains("ado-fabrikam") && e.contains("timed out"), "{e}");
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn malformed_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_page1(&server).await;
    mount_quiet_details(&server).await;
    mount_page2(
        &server,
        ResponseTemplate::new(200).set_body_raw(
            r#"{"values": [{"id": 3, "rev": 8, "fields": "#,
            "application/json",
        ),
    )
    .await;
    let r = run(&connector(&server), None).await;
    let e = r.error();
    assert!(
        e.contains("ado-fabrikam") && e.contains("not the expected JSON"),
        "{e}"
    );
    assert_first_page_kept(&r);
}

fn assert_first_page_kept(r: &common::Run) {
    let items: BTreeSet<String> = r.users().into_iter().filter_map(|u| u.entity_id).collect();
    assert_eq!(items, ["1", "2"].map(String::from).into_iter().collect());
    let cps = r.checkpoints();
    assert_eq!(cps.len(), 1);
    assert!(cps[0].contains("3;2;1"), "{}", cps[0]);
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn server_logins_drop_the_domain_and_build_identities_are_service_accounts() {
    let server = MockServer::start().await;
    // Microsoft's second example, with identities as an Active Directory-backed Server
    // gives them, and an assignee.
    let mut body = example(REVISIONS_2);
    body["values"][0]["fields"]["System.ChangedBy"] = json!({
        "displayName": "Normal Paulk", "uniqueName": "FABRIKAM\\npaulk",
        "id": "d6245f20-2af8-44f4-9451-8107cb2767db", "descriptor": "win.Uy0xLTUtMjEtMzkwNjM2Mjc5"
    });
    body["values"][0]["fields"]["System.AssignedTo"] = json!({
        "displayName": "Jamal Hartnett", "uniqueName": "FABRIKAM\\jhartnett",
        "id": "d291b0c4-a05c-4ea6-8df1-4b41d5f39eff"
    });
    body["values"][1]["fields"]["System.ChangedBy"] = json!({
        "displayName": "Project Collection Build Service (DefaultCollection)",
        "uniqueName": "Build\\2f9dd3c4-8e4e-4ab5-a1fd-0a1bb7e8ee29",
        "descriptor": "svc.MmY5ZGQzYzQtOGU0ZS00YWI1LWExZmQtMGExYmI3ZThlZTI5"
    });
    Mock::given(method("GET"))
        .and(path(
            "/tfs/DefaultCollection/_apis/wit/reporting/workitemrevisions",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    set_secret(VAR);
    let s: Settings = toml::from_str(&format!(
        "url = '{}/tfs/DefaultCollection'\ntoken_env = '{VAR}'\napi_version = '6.0'\ncomments = false\nupdates = false",
        server.uri()
    ))
    .unwrap();
    let c = AzureDevOpsConnector::new("ado-server", s, fast()).unwrap();
    let r = run(&c, None).await;
    assert_eq!(r.result, Some(Ok(())));
    type ServerSeen = (&'static str, Option<String>, Option<String>, bool, String);
    let seen: BTreeSet<ServerSeen> = r
        .users()
        .into_iter()
        .map(|u| {
            (
                u.interaction.as_str(),
                u.username,
                u.display_name,
                u.service_account,
                u.entity_id.unwrap(),
            )
        })
        .collect();
    let name = |s: &str| Some(s.to_string());
    let expected: BTreeSet<_> = [
        (
            "updater",
            name("npaulk"),
            name("Normal Paulk"),
            false,
            "3".to_string(),
        ),
        (
            "mapped_user_field",
            name("jhartnett"),
            name("Jamal Hartnett"),
            false,
            "3".to_string(),
        ),
        (
            "updater",
            None,
            name("Jamal Hartnett"),
            false,
            "350".to_string(),
        ),
        (
            "updater",
            name("2f9dd3c4-8e4e-4ab5-a1fd-0a1bb7e8ee29"),
            name("Project Collection Build Service (DefaultCollection)"),
            true,
            "350".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, expected);
    // Only the revision walk was asked: comments and updates are off.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
