//! The User Entitlements API as `account` records, against a mock server replaying
//! Microsoft's published `UserEntitlement` objects (`tests/entitlements/`, see its
//! README): page 1 is the two entitlements of the published listing example, unchanged
//! (a Stakeholder who never signed in, a Basic user last seen in 2017); page 2 is the
//! published single-entitlement example twice, with the fields named below changed for
//! the cases a directory has (a disabled contractor with a Microsoft account, an invited
//! user not signed in yet). Pages follow the 7.1 shape: `members` and `continuationToken`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{example, fast, run, set_secret, SECRET};
use serde_json::{json, Value};
use tally_azure_devops::{AzureDevOpsConnector, Settings};
use tally_model::{AccountStatus, Record};
use wiremock::matchers::{basic_auth, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VAR: &str = "TALLY_TEST_ADO_DIRECTORY_PAT";
const ENTITLEMENTS: &str = "/vsaex/fabrikam/_apis/userentitlements";
const TOKEN: &str = "eyJvIjoiZmFicmlrYW0iLCJwIjoyfQ";

fn published(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/entitlements")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).unwrap();
    v["responses"]["200"]["body"].clone()
}

fn page1() -> Value {
    let listing =
        published("memberEntitlementManagement_4.1_UserEntitlements_GET__UserEntitlements.json");
    json!({"members": listing["value"], "continuationToken": TOKEN, "totalCount": 4})
}

fn page2() -> Value {
    let one =
        published("memberEntitlementManagement_UserEntitlements_GET__UserEntitlementById.json");
    let mut contractor = one.clone();
    contractor["id"] = json!("0b7c3a52-6f0e-4a4e-9c1b-2d3e4f5a6b7c");
    contractor["user"]["principalName"] = json!("raj@partner.example");
    contractor["user"]["mailAddress"] = json!("raj@partner.example");
    contractor["user"]["displayName"] = json!("Raj Contractor");
    contractor["user"]["origin"] = json!("msa");
    contractor["accessLevel"]["accountLicenseType"] = json!("express");
    contractor["accessLevel"]["licenseDisplayName"] = json!("Basic");
    contractor["accessLevel"]["status"] = json!("disabled");
    contractor["lastAccessedDate"] = json!("2026-08-14T07:30:00Z");
    let mut invited = one;
    invited["id"] = json!("5c9d8e7f-1a2b-4c3d-8e9f-0a1b2c3d4e5f");
    invited["user"]["principalName"] = json!("olga@fabrikam.com");
    invited["user"]["mailAddress"] = json!("olga@fabrikam.com");
    invited["user"]["displayName"] = json!("Olga Newhire");
    invited["accessLevel"]["accountLicenseType"] = json!("express");
    invited["accessLevel"]["licenseDisplayName"] = json!("Basic");
    invited["accessLevel"]["status"] = json!("pending");
    json!({"members": [contractor, invited], "totalCount": 4})
}

fn connector(server: &MockServer, directory_url: &str) -> AzureDevOpsConnector {
    set_secret(VAR);
    let s: Settings = toml::from_str(&format!(
        r#"
        url = "{uri}/fabrikam"
        token_env = "{VAR}"
        directory_url = "{uri}{directory_url}"
        comments = false
        updates = false
        system = "Azure DevOps"
        "#,
        uri = server.uri()
    ))
    .unwrap();
    AzureDevOpsConnector::new("ado-fabrikam", s, fast()).unwrap()
}

/// The work item revisions: Microsoft's first example, as the last batch.
async fn mount_revisions(server: &MockServer) {
    let mut body = example("wit_workItemRevisions_GET__wit_reporting_workItemRevisions.json");
    body["isLastBatch"] = json!(true);
    Mock::given(method("GET"))
        .and(path("/fabrikam/_apis/wit/reporting/workitemrevisions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

type Row = (
    String,
    Option<String>,
    Option<String>,
    AccountStatus,
    bool,
    Option<String>,
    Option<String>,
    Option<bool>,
);

#[tokio::test]
async fn entitlements_become_accounts_page_by_page() {
    let server = MockServer::start().await;
    mount_revisions(&server).await;
    Mock::given(method("GET"))
        .and(path(ENTITLEMENTS))
        .and(query_param("api-version", "7.1"))
        .and(query_param_is_missing("continuationToken"))
        .and(basic_auth("", SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(ENTITLEMENTS))
        .and(query_param("continuationToken", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2()))
        .expect(1)
        .mount(&server)
        .await;
    let r = run(&connector(&server, "/vsaex/fabrikam"), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(r.warnings().is_empty(), "{:?}", r.warnings());
    let accounts: Vec<_> = r
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect();
    assert!(accounts
        .iter()
        .all(|a| a.system == "Azure DevOps" && a.at == accounts[0].at && a.two_step.is_none()));
    let rows: Vec<Row> = accounts
        .iter()
        .map(|a| {
            (
                a.id.clone(),
                a.email.clone(),
                a.display_name.clone(),
                a.status,
                a.billable,
                a.product.clone(),
                a.last_active.map(|t| t.to_rfc3339()),
                a.sso,
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        rows,
        vec![
            // Stakeholder access is free; 0001-01-01 means never.
            (
                "fe2f1bdb-9779-491a-a6f6-c6e9322cfb00".into(),
                s("user1@fabrikam.com"),
                s("User 1"),
                AccountStatus::Active,
                false,
                s("Stakeholder"),
                None,
                Some(true)
            ),
            (
                "f3157dda-522a-45c5-9bbd-f7da438b4660".into(),
                s("user2@fabrikam.com"),
                s("User 2"),
                AccountStatus::Active,
                true,
                s("Basic"),
                s("2017-10-02T16:34:16.860+00:00"),
                Some(true)
            ),
            (
                "0b7c3a52-6f0e-4a4e-9c1b-2d3e4f5a6b7c".into(),
                s("raj@partner.example"),
                s("Raj Contractor"),
                AccountStatus::Disabled,
                true,
                s("Basic"),
                s("2026-08-14T07:30:00+00:00"),
                Some(false)
            ),
            // Invited, not signed in yet: the seat is taken.
            (
                "5c9d8e7f-1a2b-4c3d-8e9f-0a1b2c3d4e5f".into(),
                s("olga@fabrikam.com"),
                s("Olga Newhire"),
                AccountStatus::Active,
                true,
                s("Basic"),
                None,
                Some(true)
            ),
        ]
    );
    // Work items were read too.
    assert!(!r.users().is_empty());
}

#[tokio::test]
async fn a_token_without_the_entitlements_scope_is_a_warning() {
    let server = MockServer::start().await;
    mount_revisions(&server).await;
    // What Azure DevOps answers a PAT without vso.memberentitlementmanagement.
    Mock::given(method("GET"))
        .and(path(ENTITLEMENTS))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "$id": "1", "innerException": null,
            "message": "TF400813: The user 'aaaa' is not authorized to access this resource.",
            "typeName": "Microsoft.TeamFoundation.Framework.Server.UnauthorizedRequestException, Microsoft.TeamFoundation.Framework.Server",
            "typeKey": "UnauthorizedRequestException", "errorCode": 0, "eventId": 3000
        })))
        .mount(&server)
        .await;
    let r = run(&connector(&server, "/vsaex/fabrikam"), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("User Entitlements")
            && w[0].contains("HTTP 401")
            && w[0].contains("Member Entitlement Management"),
        "{}",
        w[0]
    );
    assert!(!w[0].contains(SECRET));
    assert!(r
        .records()
        .iter()
        .all(|r| matches!(r, Record::User(_) | Record::Sync(_))));
    assert!(!r.users().is_empty());
}

#[test]
fn settings_are_strict() {
    let base = "url = 'https://dev.azure.com/fabrikam'\ntoken_env = 'T'";
    let s: Settings = toml::from_str(&format!("{base}\ndirectory_url = 'nope'")).unwrap();
    let e = s.validate("ado").unwrap_err().to_string();
    assert!(e.contains("directory_url") && e.contains("ado"), "{e}");
    let e = toml::from_str::<Settings>(&format!("{base}\ndirectroy = false"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("directroy"), "{e}");
}
