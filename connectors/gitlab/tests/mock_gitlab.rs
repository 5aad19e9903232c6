//! The GitLab connector against a mock server that replays the response shapes of
//! GitLab's published REST API documentation (`doc/api/*.md`, copied unchanged into
//! `tests/fixtures/gitlab-docs/`, see its README for where each comes from and the
//! licence). Each scenario takes those documented objects and changes only values (ids,
//! names, times, bodies) so that they tell one consistent story.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_gitlab::{GitLabConnector, Settings};
use tally_http::testing::{fast, run, Run};
use tally_http::HttpOptions;
use tally_model::{AccountStatus, Interaction, Record, TwoStep};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "glpat-mock-0123456789abcdef";

fn fixture(name: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gitlab-docs")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn first(name: &str) -> Value {
    fixture(name)[0].clone()
}

/// A documented user reference (the `author` of the documented issue) for another person.
fn user_ref(id: u64, username: &str, name: &str) -> Value {
    let mut u = first("issues_list.json")["author"].clone();
    u["id"] = json!(id);
    u["username"] = json!(username);
    u["name"] = json!(name);
    u["web_url"] = json!(format!("https://gitlab.example.com/{username}"));
    u
}

fn john() -> Value {
    user_ref(1, "john_smith", "John Smith")
}
fn jack() -> Value {
    user_ref(2, "jack_smith", "Jack Smith")
}
fn eileen() -> Value {
    user_ref(18, "eileen.lowe", "Alexandra Bashirian")
}
fn bot() -> Value {
    user_ref(30, "project_1_bot_5f2a9c", "ops-sync token")
}

/// The documented issue as issue `iid` of `my-group/my-project`.
fn issue(id: u64, iid: u64, updated_at: &str, author: Value) -> Value {
    let mut i = first("issues_list.json");
    i["id"] = json!(id);
    i["iid"] = json!(iid);
    i["project_id"] = json!(1);
    i["author"] = author;
    i["assignees"] = json!([]);
    i["assignee"] = Value::Null;
    i["created_at"] = json!("2026-09-01T08:00:00.000Z");
    i["updated_at"] = json!(updated_at);
    i["references"]["full"] = json!(format!("my-group/my-project#{iid}"));
    i["labels"] = json!(["bug"]);
    i
}

fn note(id: u64, author: Value, body: &str, created_at: &str, system: bool) -> Value {
    let mut n = first("notes_list.json");
    n["id"] = json!(id);
    n["author"] = author;
    n["body"] = json!(body);
    n["created_at"] = json!(created_at);
    n["updated_at"] = json!(created_at);
    n["system"] = json!(system);
    n
}

fn directory_user(id: u64, username: &str, name: &str, email: &str) -> Value {
    let mut u = first("users_admin_list.json");
    u["id"] = json!(id);
    u["username"] = json!(username);
    u["name"] = json!(name);
    u["email"] = json!(email);
    // Documented for Premium and Ultimate ("also see … using_license_seat").
    u["using_license_seat"] = json!(true);
    u["is_auditor"] = json!(false);
    u
}

fn settings(server: &MockServer, var: &str, extra: &str) -> Settings {
    std::env::set_var(var, TOKEN);
    toml::from_str(&format!(
        r#"
        url = "{}"
        token_env = "{var}"
        groups = ["my-group"]
        page_size = 2
        lookback_days = 36500
        system = "GitLab"
        link_label_prefix = "Jira::"
        link_system = "Jira"
        {extra}
        "#,
        server.uri()
    ))
    .unwrap()
}

fn connector(server: &MockServer, var: &str, extra: &str, options: HttpOptions) -> GitLabConnector {
    GitLabConnector::new("gitlab-main", settings(server, var, extra), options).unwrap()
}

/// Nothing the run emitted holds the token.
fn assert_no_secret(run: &Run) {
    let all = format!("{:?} {:?}", run.emits, run.result);
    assert!(!all.contains(TOKEN), "the token leaked: {all}");
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn mount_me(server: &MockServer, admin: bool) {
    let mut me = directory_user(1, "john_smith", "John Smith", "john@example.com");
    me["is_admin"] = json!(admin);
    if !admin {
        me.as_object_mut().unwrap().remove("is_admin");
    }
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .and(header("PRIVATE-TOKEN", TOKEN))
        .respond_with(ok(me))
        .mount(server)
        .await;
}

/// `GET /users` in keyset pages of two: the second page is reached only through the
/// first page's `Link` header, and has none itself.
async fn mount_directory(server: &MockServer) {
    let mut john = directory_user(1, "john_smith", "John Smith", "john@example.com");
    john["last_activity_on"] = json!("2026-09-20");
    john["current_sign_in_at"] = json!("2026-09-19T08:00:00Z");
    let mut jack = directory_user(2, "jack_smith", "Jack Smith", "jack@example.com");
    jack["state"] = json!("blocked");
    let mut eileen = directory_user(
        18,
        "eileen.lowe",
        "Alexandra Bashirian",
        "eileen.lowe@corp.example",
    );
    eileen["two_factor_enabled"] = json!(false);
    eileen["identities"] = json!([]);
    let mut bot = directory_user(
        30,
        "project_1_bot_5f2a9c",
        "ops-sync token",
        "project1_bot@noreply.gitlab.example.com",
    );
    // `bot` as the single-user example documents it.
    bot["bot"] = json!(true);
    bot["using_license_seat"] = json!(false);
    bot["two_factor_enabled"] = json!(false);
    bot["identities"] = json!([]);
    let next = format!(
        "{}/api/v4/users?pagination=keyset&per_page=2&order_by=id&sort=asc&id_after=2",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .and(query_param("pagination", "keyset"))
        .and(query_param("order_by", "id"))
        .respond_with(
            ok(json!([john, jack]))
                .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
        )
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .and(query_param("id_after", "2"))
        .respond_with(ok(json!([eileen, bot])))
        .with_priority(1)
        .mount(server)
        .await;
}

async fn mount_group_projects(server: &MockServer) {
    // `simple=true` projects carry `id` and `path_with_namespace` among their fields.
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/projects"))
        .and(query_param("include_subgroups", "true"))
        .respond_with(ok(json!([{
            "id": 1, "description": null, "name": "My Project",
            "name_with_namespace": "My Group / My Project", "path": "my-project",
            "path_with_namespace": "my-group/my-project",
            "created_at": "2026-01-04T15:31:39.996Z", "default_branch": "main",
            "web_url": "http://example.com/my-group/my-project"
        }])))
        .mount(server)
        .await;
}

async fn mount_notes(server: &MockServer, kind: &str, iid: u64, notes: Value, expect: Option<u64>) {
    let m = Mock::given(method("GET"))
        .and(path(format!("/api/v4/projects/1/{kind}/{iid}/notes")))
        .respond_with(ok(notes));
    match expect {
        Some(n) => m.expect(n).mount(server).await,
        None => m.mount(server).await,
    }
}

fn observed(run: &Run) -> BTreeSet<(String, String, &'static str, Option<String>, bool)> {
    run.users()
        .into_iter()
        .map(|u| {
            (
                u.entity_id.clone().unwrap_or_else(|| {
                    format!("project {}", u.project.clone().unwrap_or_default())
                }),
                u.username.clone().unwrap_or_default(),
                u.interaction.as_str(),
                u.email.clone(),
                u.service_account,
            )
        })
        .collect()
}

fn row(
    entity: &str,
    username: &str,
    interaction: Interaction,
    email: Option<&str>,
    bot: bool,
) -> (String, String, &'static str, Option<String>, bool) {
    (
        entity.to_string(),
        username.to_string(),
        interaction.as_str(),
        email.map(str::to_string),
        bot,
    )
}

#[tokio::test]
async fn a_full_run_then_a_second_run_that_reads_only_what_changed() {
    let server = MockServer::start().await;
    mount_me(&server, true).await;
    mount_directory(&server).await;
    mount_group_projects(&server).await;

    let t6 = "2026-10-01T10:00:00.000Z";
    let t7 = "2026-10-02T10:00:00.000Z";
    let mut i6 = issue(76, 6, t6, eileen());
    i6["assignees"] = json!([john()]);
    i6["labels"] = json!(["Jira::OPS-17", "bug"]);
    i6["description"] = json!(
        "Ratione dolores corrupti. cc @john_smith and @ops-team/oncall, mail ann@corp.example"
    );
    let mut i7 = issue(77, 7, t7, john());
    i7["closed_by"] = eileen();
    i7["closed_at"] = json!("2026-10-02T09:00:00.000Z");
    i7["state"] = json!("closed");
    let i7_again = i7.clone();
    // Page 1 of the first listing, then the listing again from i7's `updated_at`, where
    // only i7 (already read) is left.
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("order_by", "updated_at"))
        .and(query_param("sort", "asc"))
        .respond_with(
            ok(json!([i6, i7]))
                .insert_header("x-next-page", "2")
                .insert_header("x-page", "1"),
        )
        .with_priority(5)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("updated_after", t7))
        .respond_with(
            ok(json!([i7]))
                .insert_header("x-next-page", "")
                .insert_header("x-page", "1"),
        )
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_notes(
        &server,
        "issues",
        6,
        json!([
            note(302, john(), "assigned to @eileen.lowe", "2026-10-01T09:00:00.000Z", true),
            note(305, eileen(), "Text of the comment, @jack_smith: ![log](/uploads/66dbcd21ec5d24ed6ea225176098d52b/log.png)", "2026-10-01T09:30:00.000Z", false),
        ]),
        None,
    )
    .await;
    mount_notes(
        &server,
        "issues",
        7,
        json!([note(
            310,
            bot(),
            "Synced to OPS-18",
            "2026-10-02T09:30:00.000Z",
            false
        )]),
        Some(1),
    )
    .await;

    let mut mr = first("merge_requests_list.json");
    mr["project_id"] = json!(1);
    mr["author"] = john();
    mr["assignees"] = json!([john()]);
    mr["reviewers"] = json!([eileen()]);
    mr["merge_user"] = jack();
    mr["merged_by"] = jack();
    mr["merged_at"] = json!("2026-10-03T00:00:00.000Z");
    mr["created_at"] = json!("2026-09-30T08:00:00.000Z");
    mr["updated_at"] = json!("2026-10-03T00:00:00.000Z");
    mr["references"]["full"] = json!("my-group/my-project!1");
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/merge_requests"))
        .respond_with(ok(json!([mr])))
        .mount(&server)
        .await;
    mount_notes(&server, "merge_requests", 1, json!([]), Some(1)).await;

    let mut uploads = fixture("uploads_list.json");
    uploads[0]["created_at"] = json!("2026-10-01T08:00:00.000Z");
    uploads[1]["created_at"] = json!("2026-09-30T08:00:00.000Z");
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/1/uploads"))
        .respond_with(ok(uploads.clone()))
        .mount(&server)
        .await;

    let c = connector(&server, "TALLY_TEST_GITLAB_FULL", "", fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.warnings());
    assert_no_secret(&out);
    assert!(out.warnings().is_empty(), "{:?}", out.warnings());

    let john_mail = Some("john@example.com");
    let jack_mail = Some("jack@example.com");
    let eileen_mail = Some("eileen.lowe@corp.example");
    let i6 = "my-group/my-project#6";
    let i7 = "my-group/my-project#7";
    let mr1 = "my-group/my-project!1";
    let expected: BTreeSet<_> = [
        row(i6, "eileen.lowe", Interaction::Updater, eileen_mail, false),
        row(i6, "john_smith", Interaction::Mention, john_mail, false),
        row(
            i6,
            "john_smith",
            Interaction::MappedUserField,
            john_mail,
            false,
        ),
        row(i6, "john_smith", Interaction::Updater, john_mail, false),
        row(
            i6,
            "eileen.lowe",
            Interaction::CommentAuthor,
            eileen_mail,
            false,
        ),
        row(
            i6,
            "eileen.lowe",
            Interaction::AttachmentAuthor,
            eileen_mail,
            false,
        ),
        row(i6, "jack_smith", Interaction::Mention, jack_mail, false),
        row(i7, "john_smith", Interaction::Updater, john_mail, false),
        row(i7, "eileen.lowe", Interaction::Updater, eileen_mail, false),
        row(
            i7,
            "project_1_bot_5f2a9c",
            Interaction::CommentAuthor,
            Some("project1_bot@noreply.gitlab.example.com"),
            true,
        ),
        row(mr1, "john_smith", Interaction::Updater, john_mail, false),
        row(
            mr1,
            "john_smith",
            Interaction::MappedUserField,
            john_mail,
            false,
        ),
        row(
            mr1,
            "eileen.lowe",
            Interaction::MappedUserField,
            eileen_mail,
            false,
        ),
        row(mr1, "jack_smith", Interaction::Updater, jack_mail, false),
        row(
            "project my-group/my-project",
            "eileen.lowe",
            Interaction::AttachmentAuthor,
            eileen_mail,
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(observed(&out), expected);
    // The system note's "@eileen.lowe" is GitLab's wording, not a mention.
    let users = out.users();
    assert!(!users
        .iter()
        .any(|u| u.interaction == Interaction::Mention
            && u.username.as_deref() == Some("eileen.lowe")));
    let closer = users
        .iter()
        .find(|u| {
            u.entity_id.as_deref() == Some(i7) && u.username.as_deref() == Some("eileen.lowe")
        })
        .unwrap();
    assert_eq!(closer.at.to_rfc3339(), "2026-10-02T09:00:00+00:00");
    assert_eq!(closer.project.as_deref(), Some("my-group/my-project"));
    assert_eq!(closer.entity_type.as_deref(), Some("Issue"));
    assert_eq!(closer.display_name.as_deref(), Some("Alexandra Bashirian"));
    assert!(users.iter().any(|u| u.entity_id.as_deref() == Some(mr1)
        && u.entity_type.as_deref() == Some("Merge Request")));

    let records = out.records();
    let syncs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].source.entity_id, i6);
    assert_eq!(syncs[0].target.system, "Jira");
    assert_eq!(syncs[0].target.entity_id, "OPS-17");
    assert_eq!(syncs[0].target.project.as_deref(), Some("OPS"));

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
    let j = by("john_smith");
    assert_eq!(
        (j.id.as_str(), j.status, j.billable),
        ("1", AccountStatus::Active, true)
    );
    assert_eq!((j.two_step, j.sso), (Some(TwoStep::Enabled), Some(true)));
    assert_eq!(j.email.as_deref(), john_mail);
    assert_eq!(j.product.as_deref(), Some("Regular"));
    assert_eq!(
        j.last_active.unwrap().to_rfc3339(),
        "2026-09-20T00:00:00+00:00"
    );
    assert_eq!(by("jack_smith").status, AccountStatus::Disabled);
    let e = by("eileen.lowe");
    assert_eq!((e.two_step, e.sso), (Some(TwoStep::Disabled), Some(false)));
    let b = by("project_1_bot_5f2a9c");
    assert!(b.service_account && !b.billable);
    assert!(accounts.iter().all(|a| a.system == "GitLab"));

    assert_eq!(out.records_after_last_checkpoint(), 0);
    let cursor: Value = serde_json::from_str(out.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor["streams"]["issues:groups:my-group"],
        json!({"at": "2026-10-02T10:00:00Z", "ids": [77]})
    );
    assert_eq!(
        cursor["streams"]["merge_requests:groups:my-group"],
        json!({"at": "2026-10-03T00:00:00Z", "ids": [1]})
    );
    assert_eq!(
        cursor["streams"]["uploads:1"],
        json!({"at": "2026-10-01T08:00:00Z", "ids": [1]})
    );

    // Second run: GitLab answers from the saved marks; only issue 8 is new.
    server.reset().await;
    mount_me(&server, true).await;
    mount_directory(&server).await;
    mount_group_projects(&server).await;
    let i8 = issue(78, 8, "2026-10-05T12:00:00.000Z", jack());
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("updated_after", t7))
        .respond_with(ok(json!([i7_again, i8])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("updated_after", "2026-10-05T12:00:00.000Z"))
        .respond_with(ok(json!([])))
        .mount(&server)
        .await;
    mount_notes(&server, "issues", 7, json!([]), Some(0)).await;
    mount_notes(
        &server,
        "issues",
        8,
        json!([
            note(
                320,
                john(),
                "an old comment, sent before",
                "2026-10-01T09:00:00.000Z",
                false
            ),
            note(
                321,
                eileen(),
                "looks good",
                "2026-10-05T11:00:00.000Z",
                false
            ),
        ]),
        Some(1),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/merge_requests"))
        .and(query_param("updated_after", "2026-10-03T00:00:00.000Z"))
        .respond_with(ok(json!([mr])))
        .mount(&server)
        .await;
    mount_notes(&server, "merge_requests", 1, json!([]), Some(0)).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/1/uploads"))
        .respond_with(ok(uploads))
        .mount(&server)
        .await;

    let again = run(&c, out.checkpoints().last().cloned()).await;
    assert_eq!(again.result, Some(Ok(())));
    let i8 = "my-group/my-project#8";
    let expected: BTreeSet<_> = [
        row(i8, "jack_smith", Interaction::Updater, jack_mail, false),
        row(
            i8,
            "eileen.lowe",
            Interaction::CommentAuthor,
            eileen_mail,
            false,
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(observed(&again), expected);
    let cursor: Value = serde_json::from_str(again.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor["streams"]["issues:groups:my-group"],
        json!({"at": "2026-10-05T12:00:00Z", "ids": [78]})
    );
    assert_eq!(
        cursor["streams"]["uploads:1"],
        json!({"at": "2026-10-01T08:00:00Z", "ids": [1]})
    );
}

/// Issues of `my-group`: one issue, then an empty restart page.
async fn mount_one_issue(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .respond_with(ok(json!([issue(
            76,
            6,
            "2026-10-01T10:00:00.000Z",
            eileen()
        )])))
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("updated_after", "2026-10-01T10:00:00.000Z"))
        .respond_with(ok(json!([])))
        .with_priority(1)
        .mount(server)
        .await;
    mount_notes(server, "issues", 6, json!([]), None).await;
}

const QUIET: &str = "merge_requests = false\nuploads = false";

#[tokio::test]
async fn without_admin_rights_the_members_are_the_directory() {
    let server = MockServer::start().await;
    mount_me(&server, false).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/members/all"))
        .respond_with(ok(fixture("members_list.json")))
        .mount(&server)
        .await;
    mount_one_issue(&server).await;
    let c = connector(&server, "TALLY_TEST_GITLAB_MEMBERS", QUIET, fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())));
    assert_no_secret(&out);
    let warnings = out.warnings();
    assert!(
        warnings.len() == 1
            && warnings[0].contains("'john_smith', who is not a GitLab administrator"),
        "{warnings:?}"
    );
    let accounts: Vec<_> = out
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(accounts.len(), 2);
    let raymond = &accounts[0];
    assert_eq!(raymond.username.as_deref(), Some("raymond_smith"));
    assert_eq!(
        (raymond.sso, raymond.two_step, raymond.email.as_deref()),
        (None, None, None)
    );
    assert_eq!(raymond.product.as_deref(), Some("Developer"));
    let john = &accounts[1];
    assert_eq!(
        (john.email.as_deref(), john.sso),
        (Some("john@example.com"), Some(true))
    );
    // Without the whole directory, the author keeps what the issue shows.
    let users = out.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username.as_deref(), Some("eileen.lowe"));
    assert_eq!(users[0].email, None);
}

#[tokio::test]
async fn a_directory_that_cannot_be_read_is_a_warning_and_activity_is_still_collected() {
    let server = MockServer::start().await;
    mount_me(&server, true).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/users"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "403 Forbidden"})))
        .mount(&server)
        .await;
    mount_one_issue(&server).await;
    let c = connector(&server, "TALLY_TEST_GITLAB_DIR403", QUIET, fast());
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())));
    assert_no_secret(&out);
    let warnings = out.warnings();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("user directory could not be read") && w.contains("HTTP 403")),
        "{warnings:?}"
    );
    assert!(!out
        .records()
        .iter()
        .any(|r| matches!(r, Record::Account(_))));
    assert_eq!(out.users().len(), 1);
}

#[tokio::test]
async fn rate_limits_are_waited_out() {
    let server = MockServer::start().await;
    // The last request of the window: wait for RateLimit-Reset before the next one.
    let reset = (chrono::Utc::now().timestamp() + 2).to_string();
    let mut me = directory_user(1, "john_smith", "John Smith", "john@example.com");
    me["is_admin"] = json!(false);
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(
            ok(me)
                .insert_header("RateLimit-Limit", "2000")
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", reset.as_str()),
        )
        .mount(&server)
        .await;
    // A 429 with Retry-After, then one without it (backed off), then the page.
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"message": "Retry later"})))
        .up_to_n_times(1)
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    mount_one_issue(&server).await;
    let opts = HttpOptions {
        max_attempts: 3,
        ..fast()
    };
    let c = connector(
        &server,
        "TALLY_TEST_GITLAB_RATE",
        &format!("{QUIET}\ndirectory = false"),
        opts,
    );
    let started = Instant::now();
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    // At least a second to the reset, and Retry-After's second.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.users().len(), 1);
}

#[tokio::test]
async fn a_rejected_token_fails_with_the_variable_named_and_never_shown() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/user"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "401 Unauthorized"})),
        )
        .mount(&server)
        .await;
    let c = connector(&server, "TALLY_TEST_GITLAB_401", "", fast());
    let out = run(&c, None).await;
    let e = out.error();
    assert!(e.contains("gitlab-main") && e.contains("HTTP 401"), "{e}");
    assert!(e.contains("TALLY_TEST_GITLAB_401"), "{e}");
    assert_no_secret(&out);
    assert!(out.records().is_empty());
}

#[tokio::test]
async fn a_group_the_token_may_not_read_is_named() {
    let server = MockServer::start().await;
    mount_me(&server, false).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "403 Forbidden"})))
        .mount(&server)
        .await;
    let c = connector(
        &server,
        "TALLY_TEST_GITLAB_403",
        &format!("{QUIET}\ndirectory = false"),
        fast(),
    );
    let out = run(&c, None).await;
    let e = out.error();
    assert!(
        e.contains("group 'my-group' was not found or is not visible"),
        "{e}"
    );
    assert_no_secret(&out);
}

/// Page 1 holds issue 6; the listing from its `updated_at` on answers with `second`.
async fn mount_two_pages(server: &MockServer, second: ResponseTemplate) {
    let t = "2026-10-01T10:00:00.000Z";
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .respond_with(ok(json!([issue(76, 6, t, eileen())])).insert_header("x-next-page", "2"))
        .with_priority(5)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/my-group/issues"))
        .and(query_param("updated_after", t))
        .respond_with(second)
        .with_priority(1)
        .mount(server)
        .await;
    mount_notes(server, "issues", 6, json!([]), None).await;
}

#[tokio::test]
async fn a_malformed_page_keeps_what_was_collected_and_names_the_url() {
    let server = MockServer::start().await;
    mount_me(&server, false).await;
    mount_two_pages(
        &server,
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .set_body_string(r#"[{"id":77,"iid":7,"project_id":1,"#),
    )
    .await;
    let c = connector(
        &server,
        "TALLY_TEST_GITLAB_BROKEN",
        &format!("{QUIET}\ndirectory = false"),
        fast(),
    );
    let out = run(&c, None).await;
    let e = out.error();
    assert!(
        e.contains("not the expected JSON") && e.contains("/api/v4/groups/my-group/issues?"),
        "{e}"
    );
    assert_no_secret(&out);
    assert_eq!(out.users().len(), 1);
    assert_eq!(out.records_after_last_checkpoint(), 0);
    let cursor: Value = serde_json::from_str(out.checkpoints().last().unwrap()).unwrap();
    assert_eq!(
        cursor["streams"]["issues:groups:my-group"]["ids"],
        json!([76])
    );
}

#[tokio::test]
async fn a_timeout_keeps_what_was_collected() {
    let server = MockServer::start().await;
    mount_me(&server, false).await;
    mount_two_pages(&server, ok(json!([])).set_delay(Duration::from_secs(4))).await;
    let opts = HttpOptions {
        request_timeout: Duration::from_millis(500),
        ..fast()
    };
    let c = connector(
        &server,
        "TALLY_TEST_GITLAB_SLOW",
        &format!("{QUIET}\ndirectory = false"),
        opts,
    );
    let out = run(&c, None).await;
    let e = out.error();
    assert!(e.contains("timed out"), "{e}");
    assert_no_secret(&out);
    assert_eq!(out.users().len(), 1);
    assert_eq!(out.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn projects_are_read_by_their_encoded_path() {
    let server = MockServer::start().await;
    mount_me(&server, false).await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/my-group%2Fmy-project/issues"))
        .respond_with(ok(json!([issue(
            76,
            6,
            "2026-10-01T10:00:00.000Z",
            eileen()
        )])))
        .mount(&server)
        .await;
    mount_notes(&server, "issues", 6, json!([]), None).await;
    std::env::set_var("TALLY_TEST_GITLAB_PROJECT", TOKEN);
    let s: Settings = toml::from_str(&format!(
        "url = \"{}\"\ntoken_env = \"TALLY_TEST_GITLAB_PROJECT\"\nprojects = [\"my-group/my-project\"]\nlookback_days = 36500\n{QUIET}\ndirectory = false",
        server.uri()
    ))
    .unwrap();
    let c = GitLabConnector::new("gitlab-main", s, fast()).unwrap();
    let out = run(&c, None).await;
    assert_eq!(out.result, Some(Ok(())), "{:?}", out.result);
    assert_eq!(out.users().len(), 1);
    // Without `system`, the connector's name is the system.
    assert_eq!(out.users()[0].system, "gitlab-main");
}
