//! The ServiceNow connector against a mock server replaying the record shapes of
//! ServiceNow's published Table API reference (see `tests/fixtures/README.md`: which
//! examples are copied unchanged, and how the tables without an example are built from
//! the documented record format).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_http::testing::{fast, run, Run};
use tally_http::HttpOptions;
use tally_model::{AccountStatus, Interaction, Record, TwoStep};
use tally_servicenow::{ServiceNowConnector, Settings};
use wiremock::matchers::{basic_auth, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "sn-mock-password-0123456789";

const ABEL: &str = "62826bf03710200044e0bfc8bcbe5df1";
const BETH: &str = "46d44a23a9fe19810012d100cca80666";
const INTEGRATION: &str = "5137153cc611227c000bbd1bd8cd2005";
const OLD: &str = "9ee1b13dc6112271007f9d0efdb69cd0";

const INC1: &str = "9c573169c611228700193229fff72400";
const INC2: &str = "9d385017c611228701d22104cc95c371";
const INC3: &str = "e8caedcbc0a80164017df472f39eaed1";

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/servicenow-docs")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "result": result }))
}

/// The documented problem record as an incident.
fn incident(
    sys_id: &str,
    number: &str,
    created_by: &str,
    updated_by: &str,
    updated: &str,
) -> Value {
    let mut r = fixture("table_get_problem.json")["result"][0].clone();
    r["sys_id"] = json!(sys_id);
    r["number"] = json!(number);
    r["sys_class_name"] = json!("incident");
    r["sys_created_by"] = json!(created_by);
    r["sys_created_on"] = json!("2026-09-01 08:00:00");
    r["sys_updated_by"] = json!(updated_by);
    r["sys_updated_on"] = json!(updated);
    r["opened_by"] = json!("");
    r["caller_id"] = json!("");
    r
}

/// A `sys_user` row in the Table API record format, from the documented record's shape.
/// The first incident most tests collect: INC0010001, opened and last updated by
/// abel.tuter on 2026-10-01 10:00.
fn abel_incident() -> Value {
    incident(
        INC1,
        "INC0010001",
        "abel.tuter",
        "abel.tuter",
        "2026-10-01 10:00:00",
    )
}

fn user(sys_id: &str, user_name: &str, name: &str, email: &str) -> Value {
    json!({
        "sys_id": sys_id, "user_name": user_name, "name": name, "email": email,
        "first_name": name.split(' ').next().unwrap(), "last_name": name.split(' ').nth(1).unwrap_or(""),
        "active": "true", "locked_out": "false", "last_login_time": "",
        "enable_multifactor_authn": "false", "source": "",
        "web_service_access_only": "false", "internal_integration_user": "false"
    })
}

fn directory() -> Value {
    let mut abel = user(ABEL, "abel.tuter", "Abel Tuter", "abel.tuter@example.com");
    abel["enable_multifactor_authn"] = json!("true");
    abel["source"] = json!("ldap:CN=Abel Tuter,OU=Users,DC=corp,DC=example");
    abel["last_login_time"] = json!("2026-09-28 07:30:00");
    let beth = user(
        BETH,
        "beth.anglin",
        "Beth Anglin",
        "beth.anglin@example.com",
    );
    let mut integration = user(INTEGRATION, "sn.integration", "Integration User", "");
    integration["web_service_access_only"] = json!("true");
    let mut old = user(OLD, "old.user", "Old User", "old.user@example.com");
    old["active"] = json!("false");
    json!([abel, beth, integration, old])
}

fn settings(server: &MockServer, var: &str, extra: &str) -> Settings {
    std::env::set_var(var, PASSWORD);
    toml::from_str(&format!(
        r#"
        url = "{}"
        user = "svc.tally"
        token_env = "{var}"
        tables = ["incident"]
        page_size = 2
        lookback_days = 36500
        system = "ServiceNow"
        {extra}
        "#,
        server.uri()
    ))
    .unwrap()
}

fn connector(
    server: &MockServer,
    var: &str,
    extra: &str,
    options: HttpOptions,
) -> ServiceNowConnector {
    ServiceNowConnector::new("servicenow-main", settings(server, var, extra), options).unwrap()
}

fn assert_no_secret(run: &Run) {
    let all = format!("{:?} {:?}", run.emits, run.result);
    assert!(!all.contains(PASSWORD), "the password leaked: {all}");
}

async fn mount_directory(server: &MockServer) {
    // Pages of two, as `page_size = 2` asks.
    let users = directory();
    for (offset, page) in [
        ("0", json!([users[0], users[1]])),
        ("2", json!([users[2], users[3]])),
        ("4", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/now/table/sys_user"))
            .and(query_param("sysparm_query", "ORDERBYsys_id"))
            .and(query_param("sysparm_offset", offset))
            .and(basic_auth("svc.tally", PASSWORD))
            .respond_with(ok(page))
            .mount(server)
            .await;
    }
    // Look-ups of names the directory does not have (`system`): nobody.
    Mock::given(method("GET"))
        .and(path("/api/now/table/sys_user"))
        .respond_with(ok(json!([])))
        .with_priority(10)
        .mount(server)
        .await;
}

/// `incident` since `since`: the first page (any query) and the listing again from
/// `restart`'s second.
async fn mount_incidents(server: &MockServer, first: Value, restart: Option<(&str, Value)>) {
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .respond_with(ok(first))
        .with_priority(5)
        .mount(server)
        .await;
    if let Some((since, rows)) = restart {
        Mock::given(method("GET"))
            .and(path("/api/now/table/incident"))
            .and(query_param(
                "sysparm_query",
                format!("sys_updated_on>={since}^ORDERBYsys_updated_on^ORDERBYsys_id"),
            ))
            .and(query_param("sysparm_offset", "0"))
            .respond_with(ok(rows))
            .with_priority(1)
            .mount(server)
            .await;
    }
}

/// `rows` on the first page of a related table, and an empty page after it.
async fn mount_related(server: &MockServer, table: &str, rows: Value) {
    Mock::given(method("GET"))
        .and(path(format!("/api/now/table/{table}")))
        .and(query_param("sysparm_offset", "0"))
        .respond_with(ok(rows))
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/api/now/table/{table}")))
        .respond_with(ok(json!([])))
        .with_priority(6)
        .mount(server)
        .await;
}

/// (entity, username, interaction, time, email, service account)
type Seen = (String, String, &'static str, String, Option<String>, bool);

fn observed(run: &Run) -> BTreeSet<Seen> {
    run.users()
        .into_iter()
        .map(|u| {
            (
                u.entity_id.clone().unwrap_or_default(),
                u.username.clone().unwrap_or_default(),
                u.interaction.as_str(),
                u.at.format("%m-%d %H:%M").to_string(),
                u.email.clone(),
                u.service_account,
            )
        })
        .collect()
}

fn row(e: &str, who: &str, i: Interaction, at: &str, email: Option<&str>, bot: bool) -> Seen {
    (
        e.into(),
        who.into(),
        i.as_str(),
        at.into(),
        email.map(String::from),
        bot,
    )
}

#[tokio::test]
async fn a_full_run_then_a_second_run_that_reads_only_what_changed() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    mount_directory(&server).await;
    let mut i1 = incident(
        INC1,
        "INC0010001",
        "abel.tuter",
        "beth.anglin",
        "2026-10-01 10:00:00",
    );
    // A reference with its link, as the documented record sends `opened_by`; and plain
    // sys_ids, as `sysparm_exclude_reference_link=true` sends them.
    i1["opened_by"] = json!({"link": format!("https://instance.service-now.com/api/now/table/sys_user/{ABEL}"), "value": ABEL});
    i1["assigned_to"] = json!(BETH);
    i1["caller_id"] = json!(OLD);
    i1["correlation_id"] = json!("OPS-17");
    i1["correlation_display"] = json!("Jira");
    let i2 = incident(
        INC2,
        "INC0010002",
        "sn.integration",
        "system",
        "2026-10-02 10:00:00",
    );
    mount_incidents(
        &server,
        json!([i1, i2.clone()]),
        Some(("2026-10-02 10:00:00", json!([i2.clone()]))),
    )
    .await;
    mount_related(
        &server,
        "sys_journal_field",
        json!([
            {"sys_id": "j1", "element_id": INC1, "element": "comments", "name": "incident",
             "value": "Restarted the switch", "sys_created_on": "2026-10-01 09:30:00", "sys_created_by": "beth.anglin"},
            {"sys_id": "j2", "element_id": INC2, "element": "work_notes", "name": "incident",
             "value": "Vendor ticket opened", "sys_created_on": "2026-10-02 09:30:00", "sys_created_by": "abel.tuter"}
        ]),
    )
    .await;
    let mut att = fixture("attachment_get.json")["result"][0].clone();
    att["table_name"] = json!("incident");
    att["table_sys_id"] = json!(INC1);
    att["sys_created_by"] = json!("abel.tuter");
    att["sys_created_on"] = json!("2026-10-01 09:40:00");
    mount_related(&server, "sys_attachment", json!([att])).await;
    mount_related(
        &server,
        "sys_audit",
        json!([
            {"sys_id": "a1", "tablename": "incident", "documentkey": INC1, "fieldname": "assigned_to",
             "oldvalue": "", "newvalue": BETH, "user": "abel.tuter", "sys_created_on": "2026-10-01 09:00:00"},
            {"sys_id": "a2", "tablename": "incident", "documentkey": INC1, "fieldname": "state",
             "oldvalue": "1", "newvalue": "2", "user": "system", "sys_created_on": "2026-10-01 09:05:00"}
        ]),
    )
    .await;

    let c = connector(&server, "TALLY_TEST_SN_FULL", "", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.warnings());
    assert!(out.warnings().is_empty(), "{:?}", out.warnings());
    assert_no_secret(&out);

    let abel = Some("abel.tuter@example.com");
    let beth = Some("beth.anglin@example.com");
    let e1 = "INC0010001";
    let e2 = "INC0010002";
    let expected: BTreeSet<_> = [
        row(
            e1,
            "abel.tuter",
            Interaction::Updater,
            "09-01 08:00",
            abel,
            false,
        ),
        row(
            e1,
            "beth.anglin",
            Interaction::Updater,
            "10-01 10:00",
            beth,
            false,
        ),
        row(
            e1,
            "abel.tuter",
            Interaction::MappedUserField,
            "10-01 10:00",
            abel,
            false,
        ),
        row(
            e1,
            "beth.anglin",
            Interaction::MappedUserField,
            "10-01 10:00",
            beth,
            false,
        ),
        row(
            e1,
            "old.user",
            Interaction::MappedUserField,
            "10-01 10:00",
            Some("old.user@example.com"),
            false,
        ),
        row(
            e1,
            "beth.anglin",
            Interaction::CommentAuthor,
            "10-01 09:30",
            beth,
            false,
        ),
        row(
            e1,
            "abel.tuter",
            Interaction::AttachmentAuthor,
            "10-01 09:40",
            abel,
            false,
        ),
        // The audit: abel assigned the incident to beth at 09:00; `system` is nobody.
        row(
            e1,
            "abel.tuter",
            Interaction::Updater,
            "10-01 09:00",
            abel,
            false,
        ),
        row(
            e1,
            "beth.anglin",
            Interaction::MappedUserField,
            "10-01 09:00",
            beth,
            false,
        ),
        row(
            e2,
            "sn.integration",
            Interaction::Updater,
            "09-01 08:00",
            None,
            true,
        ),
        row(
            e2,
            "abel.tuter",
            Interaction::CommentAuthor,
            "10-02 09:30",
            abel,
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(observed(&out), expected);
    let u = out.users();
    let first = u
        .iter()
        .find(|o| o.entity_id.as_deref() == Some(e1))
        .unwrap();
    assert_eq!(
        (
            first.project.as_deref(),
            first.entity_type.as_deref(),
            first.system.as_str()
        ),
        (Some("incident"), Some("Incident"), "ServiceNow")
    );
    assert_eq!(first.display_name.as_deref(), Some("Abel Tuter"));

    let records = out.records();
    let syncs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1);
    assert_eq!(
        (
            syncs[0].source.entity_id.as_str(),
            syncs[0].target.system.as_str(),
            syncs[0].target.entity_id.as_str(),
            syncs[0].target.project.as_deref()
        ),
        ("INC0010001", "Jira", "OPS-17", Some("OPS"))
    );

    let accounts: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(accounts.len(), 4);
    let by = |u: &str| {
        accounts
            .iter()
            .find(|a| a.username.as_deref() == Some(u))
            .unwrap()
    };
    let a = by("abel.tuter");
    assert_eq!(
        (a.id.as_str(), a.status, a.two_step, a.sso),
        (
            ABEL,
            AccountStatus::Active,
            Some(TwoStep::Enabled),
            Some(true)
        )
    );
    assert_eq!(
        a.last_active.unwrap().to_rfc3339(),
        "2026-09-28T07:30:00+00:00"
    );
    let b = by("beth.anglin");
    assert_eq!((b.two_step, b.sso), (Some(TwoStep::Disabled), Some(false)));
    assert!(by("sn.integration").service_account);
    assert_eq!(by("old.user").status, AccountStatus::Disabled);

    assert_eq!(out.records_after_last_checkpoint(), 0);
    let cursor: Value = serde_json::from_str(out.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor["tables"]["incident"],
        json!({"at": "2026-10-02T10:00:00Z", "ids": [INC2]})
    );

    // Second run: only INC3 is new, and only its journal, attachments and audit are asked
    // for, from the mark on.
    server.reset().await;
    mount_directory(&server).await;
    let i3 = incident(
        INC3,
        "INC0010003",
        "beth.anglin",
        "beth.anglin",
        "2026-10-05 12:00:00",
    );
    mount_incidents(
        &server,
        json!([]),
        Some(("2026-10-02 10:00:00", json!([i2, i3]))),
    )
    .await;
    let since = "sys_created_on>=2026-10-02 10:00:00^ORDERBYsys_created_on^ORDERBYsys_id";
    Mock::given(path("/api/now/table/sys_journal_field"))
        .and(query_param(
            "sysparm_query",
            format!("name=incident^element_idIN{INC3}^elementINcomments,work_notes^{since}"),
        ))
        .respond_with(ok(json!([
            {"sys_id": "j3", "element_id": INC3, "element": "comments", "name": "incident",
             "value": "Fixed", "sys_created_on": "2026-10-05 11:00:00", "sys_created_by": "abel.tuter"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/sys_attachment"))
        .and(query_param(
            "sysparm_query",
            format!("table_name=incident^table_sys_idIN{INC3}^{since}"),
        ))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/sys_audit"))
        .and(query_param(
            "sysparm_query",
            format!("tablename=incident^documentkeyIN{INC3}^{since}"),
        ))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/live_mention"))
        .and(query_param(
            "sysparm_query",
            format!("table=incident^documentIN{INC3}^{since}"),
        ))
        .respond_with(ok(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let again = run(&c, out.checkpoints().last().cloned()).await;
    assert_eq!(again.result, Some(Ok(())), "{:?}", again.result);
    let e3 = "INC0010003";
    let expected: BTreeSet<_> = [
        row(
            e3,
            "beth.anglin",
            Interaction::Updater,
            "09-01 08:00",
            beth,
            false,
        ),
        row(
            e3,
            "beth.anglin",
            Interaction::Updater,
            "10-05 12:00",
            beth,
            false,
        ),
        row(
            e3,
            "abel.tuter",
            Interaction::CommentAuthor,
            "10-05 11:00",
            abel,
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(observed(&again), expected);
    let cursor: Value = serde_json::from_str(again.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor["tables"]["incident"],
        json!({"at": "2026-10-05T12:00:00Z", "ids": [INC3]})
    );
}

async fn mount_quiet_related(server: &MockServer) {
    for t in ["sys_journal_field", "sys_attachment", "sys_audit"] {
        mount_related(server, t, json!([])).await;
    }
}

#[tokio::test]
async fn wrong_credentials_fail_the_run_with_the_variable_named_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure"
        })))
        .mount(&server)
        .await;
    let c = connector(&server, "TALLY_TEST_SN_401", "", fast());
    let out = run(&c, None).await;
    let e = out.error();
    assert!(
        e.contains("servicenow-main") && e.contains("HTTP 401") && e.contains("TALLY_TEST_SN_401"),
        "{e}"
    );
    assert_no_secret(&out);
    assert!(out.records().is_empty());
}

#[tokio::test]
async fn unreadable_directory_and_audit_are_warnings_and_the_rest_is_collected() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    let denied = || {
        ResponseTemplate::new(403).set_body_json(json!({
            "error": {"message": "User Not Authorized", "detail": "ACL Exception Read Failed"},
            "status": "failure"
        }))
    };
    Mock::given(path("/api/now/table/sys_user"))
        .respond_with(denied())
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/sys_audit"))
        .respond_with(denied())
        .expect(1)
        .mount(&server)
        .await;
    mount_related(&server, "sys_journal_field", json!([])).await;
    mount_related(&server, "sys_attachment", json!([])).await;
    let i1 = abel_incident();
    mount_incidents(&server, json!([i1]), None).await;
    let c = connector(&server, "TALLY_TEST_SN_403", "", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert_no_secret(&out);
    let w = out.warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("sys_user could not be read") && w.contains("HTTP 403")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains("sys_audit cannot be read")),
        "{w:?}"
    );
    assert!(!out
        .records()
        .iter()
        .any(|r| matches!(r, Record::Account(_))));
    // Without sys_user, the user name is what there is.
    let users = out.users();
    assert_eq!(users.len(), 2);
    assert!(users
        .iter()
        .all(|u| u.username.as_deref() == Some("abel.tuter") && u.email.is_none()));
}

#[tokio::test]
async fn a_table_the_user_may_not_read_is_named() {
    let server = MockServer::start().await;
    Mock::given(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let c = connector(&server, "TALLY_TEST_SN_TABLE", "directory = false", fast());
    let out = run(&c, None).await;
    let e = out.error();
    assert!(e.contains("table 'incident' cannot be read"), "{e}");
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    mount_quiet_related(&server).await;
    // A 429 with only X-RateLimit-Reset (two seconds ahead), then one with Retry-After.
    let reset = (chrono::Utc::now().timestamp() + 2).to_string();
    Mock::given(path("/api/now/table/incident"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-RateLimit-Limit", "100")
                .insert_header("X-RateLimit-Reset", reset.as_str())
                .set_body_json(
                    json!({"error": {"message": "Rate limit exceeded"}, "status": "failure"}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    let i1 = abel_incident();
    mount_incidents(&server, json!([i1]), None).await;
    let c = connector(
        &server,
        "TALLY_TEST_SN_429",
        "directory = false",
        HttpOptions {
            max_attempts: 3,
            ..fast()
        },
    );
    let started = Instant::now();
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    // Created and last updated by abel.
    assert_eq!(out.users().len(), 2);
}

#[tokio::test]
async fn a_malformed_page_keeps_what_was_collected() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    mount_quiet_related(&server).await;
    let i1 = abel_incident();
    let i2 = incident(
        INC2,
        "INC0010002",
        "abel.tuter",
        "abel.tuter",
        "2026-10-02 10:00:00",
    );
    mount_incidents(&server, json!([i1, i2]), None).await;
    Mock::given(path("/api/now/table/incident"))
        .and(query_param(
            "sysparm_query",
            "sys_updated_on>=2026-10-02 10:00:00^ORDERBYsys_updated_on^ORDERBYsys_id",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"result":[{"sys_id":"x","#),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = connector(&server, "TALLY_TEST_SN_BROKEN", "directory = false", fast());
    let out = run(&c, None).await;
    let e = out.error();
    assert!(
        e.contains("not the expected JSON") && e.contains("/api/now/table/incident?"),
        "{e}"
    );
    assert_no_secret(&out);
    // Both incidents of the first page: created and updated by abel.
    assert_eq!(out.users().len(), 4);
    assert_eq!(out.records_after_last_checkpoint(), 0);
    let cursor: Value = serde_json::from_str(out.checkpoints().last().unwrap()).unwrap();
    assert_eq!(cursor["tables"]["incident"]["ids"], json!([INC2]));
}

#[tokio::test]
async fn a_timeout_keeps_what_was_collected() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    mount_quiet_related(&server).await;
    let i1 = abel_incident();
    let i2 = incident(
        INC2,
        "INC0010002",
        "abel.tuter",
        "abel.tuter",
        "2026-10-02 10:00:00",
    );
    // The restart page answers too late.
    mount_incidents(&server, json!([i1, i2]), None).await;
    Mock::given(path("/api/now/table/incident"))
        .and(query_param(
            "sysparm_query",
            "sys_updated_on>=2026-10-02 10:00:00^ORDERBYsys_updated_on^ORDERBYsys_id",
        ))
        .respond_with(ok(json!([])).set_delay(Duration::from_secs(4)))
        .with_priority(1)
        .mount(&server)
        .await;
    let opts = HttpOptions {
        request_timeout: Duration::from_millis(500),
        ..fast()
    };
    let c = connector(&server, "TALLY_TEST_SN_SLOW", "directory = false", opts);
    let out = run(&c, None).await;
    let e = out.error();
    assert!(e.contains("timed out"), "{e}");
    assert_eq!(out.users().len(), 4);
    assert_eq!(out.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn without_the_directory_people_are_looked_up_in_sys_user() {
    let server = MockServer::start().await;
    // No mentions here (the mention test reads them).
    mount_related(&server, "live_mention", json!([])).await;
    mount_quiet_related(&server).await;
    let mut i1 = incident(
        INC1,
        "INC0010001",
        "abel.tuter",
        "abel.tuter",
        "2026-10-01 10:00:00",
    );
    i1["assigned_to"] = json!(BETH);
    mount_incidents(&server, json!([i1]), None).await;
    let users = directory();
    Mock::given(path("/api/now/table/sys_user"))
        .and(query_param("sysparm_query", format!("sys_idIN{BETH}")))
        .respond_with(ok(json!([users[1]])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/now/table/sys_user"))
        .and(query_param("sysparm_query", "user_nameINabel.tuter"))
        .respond_with(ok(json!([users[0]])))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, "TALLY_TEST_SN_LOOKUP", "directory = false", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert!(!out
        .records()
        .iter()
        .any(|r| matches!(r, Record::Account(_))));
    let expected: BTreeSet<_> = [
        row(
            "INC0010001",
            "abel.tuter",
            Interaction::Updater,
            "09-01 08:00",
            Some("abel.tuter@example.com"),
            false,
        ),
        row(
            "INC0010001",
            "abel.tuter",
            Interaction::Updater,
            "10-01 10:00",
            Some("abel.tuter@example.com"),
            false,
        ),
        row(
            "INC0010001",
            "beth.anglin",
            Interaction::MappedUserField,
            "10-01 10:00",
            Some("beth.anglin@example.com"),
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(observed(&out), expected);
}

/// A `live_mention` row. ServiceNow's reference publishes no example response for this
/// table; the row is built in the Table API's documented record format (every value a
/// string, references as `sys_id`s) with the fields ServiceNow documents for the record
/// kept per `@` mention: `table` and `document` (the record the mention is in) and `user`
/// (the mentioned user), see docs/connectors/servicenow.md, "@ mentions", for the sources
/// and the caveat.
fn mention(sys_id: &str, document: &str, user: &str, at: &str) -> Value {
    json!({
        "sys_id": sys_id, "table": "incident", "document": document, "user": user,
        "sys_created_on": at, "sys_created_by": "abel.tuter"
    })
}

#[tokio::test]
async fn mentions_of_the_collected_records_are_mention_observations() {
    let server = MockServer::start().await;
    mount_directory(&server).await;
    mount_quiet_related(&server).await;
    let i1 = abel_incident();
    let i2 = incident(
        INC2,
        "INC0010002",
        "abel.tuter",
        "abel.tuter",
        "2026-10-02 10:00:00",
    );
    mount_incidents(
        &server,
        json!([i1, i2.clone()]),
        Some(("2026-10-02 10:00:00", json!([i2]))),
    )
    .await;
    mount_related(
        &server,
        "live_mention",
        json!([
            mention("m1", INC1, BETH, "2026-10-01 09:31:00"),
            mention("m2", INC2, ABEL, "2026-10-02 09:35:00"),
            // A record this run did not collect: nothing to say about it here.
            mention("m3", INC3, BETH, "2026-10-03 09:00:00"),
        ]),
    )
    .await;
    let c = connector(&server, "TALLY_TEST_SN_MENTION", "", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert!(out.warnings().is_empty(), "{:?}", out.warnings());
    let mentions: BTreeSet<_> = observed(&out)
        .into_iter()
        .filter(|s| s.2 == Interaction::Mention.as_str())
        .collect();
    let expected: BTreeSet<_> = [
        row(
            "INC0010001",
            "beth.anglin",
            Interaction::Mention,
            "10-01 09:31",
            Some("beth.anglin@example.com"),
            false,
        ),
        row(
            "INC0010002",
            "abel.tuter",
            Interaction::Mention,
            "10-02 09:35",
            Some("abel.tuter@example.com"),
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(mentions, expected);
    // Asked for the page's records of this table only.
    let asked: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|q| q.url.path() == "/api/now/table/live_mention")
        .filter_map(|q| {
            q.url
                .query_pairs()
                .find(|(k, _)| k == "sysparm_query")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert!(
        asked
            .iter()
            .all(|q| q.starts_with(&format!("table=incident^documentIN{INC1},{INC2}^"))),
        "{asked:?}"
    );
    assert!(!asked.is_empty());
}

#[tokio::test]
async fn an_unreadable_mention_table_is_a_warning_and_the_rest_is_collected() {
    let server = MockServer::start().await;
    mount_directory(&server).await;
    mount_quiet_related(&server).await;
    Mock::given(path("/api/now/table/live_mention"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": {"message": "User Not Authorized", "detail": "ACL Exception Read Failed"},
            "status": "failure"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let i1 = incident(
        INC1,
        "INC0010001",
        "abel.tuter",
        "beth.anglin",
        "2026-10-01 10:00:00",
    );
    mount_incidents(&server, json!([i1]), None).await;
    let c = connector(&server, "TALLY_TEST_SN_MENTION_403", "", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    let w = out.warnings();
    assert!(
        w.iter()
            .any(|w| w.contains("live_mention cannot be read") && w.contains("HTTP 403")),
        "{w:?}"
    );
    let who: BTreeSet<_> = out
        .users()
        .iter()
        .map(|u| (u.username.clone().unwrap_or_default(), u.interaction))
        .collect();
    assert_eq!(
        who,
        [
            ("abel.tuter".to_string(), Interaction::Updater),
            ("beth.anglin".to_string(), Interaction::Updater),
        ]
        .into_iter()
        .collect()
    );
    assert_no_secret(&out);
}

#[tokio::test]
async fn mentions_can_be_left_out_or_read_from_another_table() {
    let server = MockServer::start().await;
    mount_directory(&server).await;
    mount_quiet_related(&server).await;
    let i1 = abel_incident();
    mount_incidents(&server, json!([i1]), None).await;
    // `mentions = false`: no mention table is asked for (there is no mock for one).
    let c = connector(
        &server,
        "TALLY_TEST_SN_NO_MENTION",
        "mentions = false",
        fast(),
    );
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    // `mention_table`: the same record shape read from the table named.
    mount_related(
        &server,
        "live_notification",
        json!([mention("n1", INC1, BETH, "2026-10-01 09:31:00")]),
    )
    .await;
    let c = connector(
        &server,
        "TALLY_TEST_SN_NOTIFICATION",
        r#"mention_table = "live_notification""#,
        fast(),
    );
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert!(out
        .users()
        .iter()
        .any(|u| u.interaction == Interaction::Mention
            && u.username.as_deref() == Some("beth.anglin")));
    let bad = toml::from_str::<Settings>(&format!(
        "url = \"{}\"\ntoken_env = \"X\"\nmention_table = \"live mention\"",
        server.uri()
    ))
    .unwrap();
    let e = ServiceNowConnector::new("sn", bad, fast())
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(
            "connector 'sn': mention_table: \"live mention\" is not a ServiceNow table name"
        ),
        "{e}"
    );
}
