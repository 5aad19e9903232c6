//! The user directory as `account` records, against a mock server replaying the published
//! shapes:
//!
//! - `cloud_users_search_page*.json`: `GET /rest/api/3/users/search` is a bare array of
//!   Atlassian's `User` object, each as in the OpenAPI example `atlassian/user_example.json`
//!   (`accountId`, `accountType`, `emailAddress` only when visible, `displayName`,
//!   `active`); `accountType` takes the documented values `atlassian`, `app`, `customer`.
//! - `org_users_page*.json`: `GET /admin/v1/orgs/{orgId}/users` as Atlassian's
//!   organization REST API reference documents its 200 response (`data[]` with
//!   `account_id`, `account_type`, `account_status`, `name`, `picture`, `email`,
//!   `access_billable`, `last_active`, `product_access[]` of `key`/`name`/`url`/
//!   `last_active`, `links.self`; page `links` with `self`, `prev`, `next`, the cursor).
//! - `dc_user_search.json`: Data Center `GET /rest/api/2/user/search`, an array of the v2
//!   `User` (`self`, `key`, `name`, `emailAddress`, `displayName`, `active`, `deleted`).
#![allow(clippy::unwrap_used)]

mod common;

use common::{fast, fixture, run, set_secret, SECRET};
use serde_json::json;
use tally_jira::{JiraConnector, Settings};
use tally_model::{Account, AccountStatus, Record};
use wiremock::matchers::query_param_is_missing;
use wiremock::matchers::{basic_auth, bearer_token, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TALLY_TEST_JIRA_DIRECTORY_TOKEN";
const ORG_VAR: &str = "TALLY_TEST_JIRA_ORG_KEY";
const ORG_KEY: &str = "atl-org-key-3c9d1f";
const ORG: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

fn cloud(server: &MockServer, org: bool) -> JiraConnector {
    set_secret(VAR);
    std::env::set_var(ORG_VAR, ORG_KEY);
    let org = if org {
        format!(
            "org_id = \"{ORG}\"\norg_token_env = \"{ORG_VAR}\"\norg_api_url = \"{}/atl\"",
            server.uri()
        )
    } else {
        String::new()
    };
    let s: Settings = toml::from_str(&format!(
        r#"
        url = "{}"
        user = "svc-tally@corp.example"
        token_env = "{VAR}"
        system = "Jira"
        page_size = 5
        {org}
        "#,
        server.uri()
    ))
    .unwrap();
    JiraConnector::new("jira-cloud", s, fast()).unwrap()
}

async fn mount_no_issues(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true})),
        )
        .mount(server)
        .await;
}

async fn mount_users_search(server: &MockServer) {
    for (start, body) in [
        ("0", fixture("cloud_users_search_page1.json")),
        ("5", fixture("cloud_users_search_page2.json")),
        ("6", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path("/rest/api/3/users/search"))
            .and(query_param("startAt", start))
            .and(query_param("maxResults", "5"))
            .and(basic_auth("svc-tally@corp.example", SECRET))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(server)
            .await;
    }
}

fn accounts(r: &common::Run) -> Vec<Account> {
    let mut out: Vec<Account> = r
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// (id, email, display name, status, billable, product, last activity, service account)
type Row = (
    String,
    Option<String>,
    Option<String>,
    AccountStatus,
    bool,
    Option<String>,
    Option<String>,
    bool,
);

fn rows(list: &[Account]) -> Vec<Row> {
    list.iter()
        .map(|a| {
            (
                a.id.clone(),
                a.email.clone(),
                a.display_name.clone(),
                a.status,
                a.billable,
                a.product.clone(),
                a.last_active.map(|t| t.to_rfc3339()),
                a.service_account,
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn row(
    id: &str,
    email: Option<&str>,
    name: &str,
    status: AccountStatus,
    billable: bool,
    product: Option<&str>,
    last: Option<&str>,
    service: bool,
) -> Row {
    (
        id.into(),
        email.map(Into::into),
        Some(name.into()),
        status,
        billable,
        product.map(Into::into),
        last.map(Into::into),
        service,
    )
}

#[tokio::test]
async fn cloud_directory_with_the_organization_api() {
    let server = MockServer::start().await;
    mount_no_issues(&server).await;
    mount_users_search(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("/atl/admin/v1/orgs/{ORG}/users")))
        .and(query_param_is_missing("cursor"))
        .and(bearer_token(ORG_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("org_users_page1.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/atl/admin/v1/orgs/{ORG}/users")))
        .and(query_param("cursor", "eyJsYXN0IjoiNWIxMGFjOGQifQ"))
        .and(bearer_token(ORG_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("org_users_page2.json")))
        .expect(1)
        .mount(&server)
        .await;

    let r = run(&cloud(&server, true), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    let got = accounts(&r);
    assert!(got
        .iter()
        .all(|a| a.system == "Jira" && a.username.is_none()));
    assert!(got.iter().all(|a| a.at == got[0].at));
    use AccountStatus::{Active, Disabled};
    let expected = vec![
        row(
            "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
            None,
            "Automation for Jira",
            Active,
            true,
            None,
            None,
            true,
        ),
        // Jira's own last activity, not Confluence's later one.
        row(
            "5b10a2844c20165700ede21g",
            Some("mia@corp.example"),
            "Mia Krystof",
            Active,
            true,
            Some("Jira Software"),
            Some("2026-11-25T16:40:00+00:00"),
            false,
        ),
        // The site hides Emma's address; the organization knows it. No product opened yet:
        // the account's own last activity.
        row(
            "5b10ac8d82e05b22cc7d4ef5",
            Some("emma.richards@corp.example"),
            "Emma Richards",
            Active,
            true,
            None,
            Some("2026-06-02T08:00:00+00:00"),
            false,
        ),
        row(
            "5d53f3cbc6b9320d9ea5bdc2",
            None,
            "Former Employee",
            Disabled,
            true,
            None,
            None,
            false,
        ),
        // Active on the site, deactivated in the organization; no longer billed.
        row(
            "63f1b2c4d5e6f70123456789",
            Some("raj@partner.example"),
            "Raj Contractor",
            Disabled,
            false,
            Some("Jira Software"),
            Some("2026-09-01T12:00:00+00:00"),
            false,
        ),
        // Only the organization lists her, with two Jira products and no activity yet.
        row(
            "70121:0c2d7e8a-5b7c-4a9e-8f3d-1e2a3b4c5d6e",
            Some("olga@corp.example"),
            "Olga Newhire",
            Active,
            true,
            Some("Jira Software, Jira Service Management"),
            None,
            false,
        ),
        // A Service Management portal customer needs no Jira licence.
        row(
            "qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3ec-7bbc-4c68-9b2e-6a5c7b6b2c0d",
            Some("pat@customer.example"),
            "Pat Portal",
            Active,
            false,
            None,
            None,
            false,
        ),
    ];
    assert_eq!(rows(&got), expected);
}

#[tokio::test]
async fn a_refused_directory_is_a_warning_and_issues_are_still_read() {
    let server = MockServer::start().await;
    let mut page = fixture("cloud_search_page1.json");
    page["isLast"] = json!(true);
    page.as_object_mut().unwrap().remove("nextPageToken");
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .mount(&server)
        .await;
    // What Jira Cloud answers a user without "Browse users and groups".
    Mock::given(method("GET"))
        .and(path("/rest/api/3/users/search"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errorMessages": ["You do not have permission to access this resource."],
            "errors": {}
        })))
        .mount(&server)
        .await;
    // And an organization key that was revoked.
    Mock::given(method("GET"))
        .and(path(format!("/atl/admin/v1/orgs/{ORG}/users")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "code": 401, "message": "Unauthorized"
        })))
        .mount(&server)
        .await;
    let r = run(&cloud(&server, true), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let warnings = r.warnings();
    assert!(
        warnings.iter().any(|w| w.contains("organization API")
            && w.contains("HTTP 401")
            && w.contains("read:accounts:admin")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("/rest/api/3/users/search")
                && w.contains("HTTP 403")
                && w.contains("Browse users and groups")),
        "{warnings:?}"
    );
    assert!(warnings
        .iter()
        .all(|w| !w.contains(SECRET) && !w.contains(ORG_KEY)));
    assert!(accounts(&r).is_empty());
    // The observations are collected all the same.
    assert!(!r.users().is_empty());
}

#[tokio::test]
async fn data_center_directory_includes_inactive_users() {
    let server = MockServer::start().await;
    set_secret("TALLY_TEST_JIRA_DC_DIRECTORY_PAT");
    Mock::given(method("GET"))
        .and(path("/jira/rest/api/2/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "startAt": 0, "maxResults": 50, "total": 0, "issues": []
        })))
        .mount(&server)
        .await;
    for (start, body) in [("0", fixture("dc_user_search.json")), ("3", json!([]))] {
        Mock::given(method("GET"))
            .and(path("/jira/rest/api/2/user/search"))
            .and(query_param("username", "."))
            .and(query_param("includeInactive", "true"))
            .and(query_param("includeActive", "true"))
            .and(query_param("startAt", start))
            .and(bearer_token(SECRET))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let s: Settings = toml::from_str(&format!(
        r#"
        url = "{}/jira"
        token_env = "TALLY_TEST_JIRA_DC_DIRECTORY_PAT"
        flavor = "data-center"
        system = "Jira DC"
        "#,
        server.uri()
    ))
    .unwrap();
    let r = run(&JiraConnector::new("jira-dc", s, fast()).unwrap(), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    let got: Vec<(String, Option<String>, Option<String>, AccountStatus)> = accounts(&r)
        .into_iter()
        .map(|a| (a.id, a.username, a.email, a.status))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        got,
        vec![
            (
                "JIRAUSER10100".into(),
                s("alee"),
                s("ann.lee@corp.example"),
                AccountStatus::Active
            ),
            (
                "JIRAUSER10101".into(),
                s("bob"),
                s("bob@corp.example"),
                AccountStatus::Disabled
            ),
            (
                "JIRAUSER10102".into(),
                s("jira-automation"),
                s("jira-automation@corp.example"),
                AccountStatus::Active
            ),
        ]
    );
}

#[test]
fn organization_settings_are_checked() {
    let base = "url = 'https://corp.atlassian.net'\ntoken_env = 'T'";
    for (extra, key) in [
        ("org_id = 'abc'", "org_id"),
        ("org_token_env = 'K'", "org_token_env"),
        ("org_id = 'a/b'\norg_token_env = 'K'", "org_id"),
        (
            "org_id = 'abc'\norg_token_env = 'K'\nflavor = 'data-center'",
            "org_id",
        ),
        (
            "org_id = 'abc'\norg_token_env = 'K'\norg_api_url = 'nope'",
            "org_api_url",
        ),
    ] {
        let s: Settings = toml::from_str(&format!("{base}\n{extra}")).unwrap();
        let e = s.validate("jira-x").unwrap_err().to_string();
        assert!(e.contains(key) && e.contains("jira-x"), "{extra}: {e}");
    }
    let e = toml::from_str::<Settings>(&format!("{base}\norg_idd = 'x'"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("org_idd"), "{e}");
}
