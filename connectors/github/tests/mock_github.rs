//! The GitHub connector against a mock api.github.com replaying GitHub's published OpenAPI
//! examples and octokit's recorded responses (see `tests/fixtures/README.md` for where
//! each body comes from and what the `patched_*` helpers change).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tally_github::{GithubConnector, Settings};
use tally_http::testing::{fast, run, Run};
use tally_model::{Account, AccountStatus, Interaction, Record, TwoStep, UserObservation};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "ghp_mockTokenThatMustNeverBeShown0123456789";
const REPO: &str = "octocat/Hello-World";

fn fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// The last recorded page of octokit's paginate-issues scenario: issue #1.
fn octokit_last_issue_page() -> Value {
    fixture("octokit/paginate-issues.json")[4]["response"].clone()
}

fn rename(user: &mut Value, login: &str, id: u64) {
    user["login"] = json!(login);
    user["id"] = json!(id);
}

/// The list_issues example (#1347, a pull request by octocat), assigned to monalisa, its
/// body mentioning @hubot, linking an upload and naming a Jira issue.
fn patched_issues() -> Value {
    let mut issues = fixture("openapi/list_issues.json");
    let issue = &mut issues[0];
    rename(&mut issue["assignee"], "monalisa", 2);
    for a in issue["assignees"].as_array_mut().unwrap() {
        rename(a, "monalisa", 2);
    }
    issue["body"] = json!(
        "I'm having a problem with this. cc @hubot\n\n\
         ![trace](https://github.com/user-attachments/assets/6e8b1b1e-2c1a-4d8e-9b0a-1234567890ab)\n\
         Jira: OPS-17"
    );
    issues
}

/// The issue comment example, plus the same comment written by a GitHub App's bot.
fn patched_comments() -> Value {
    let mut comments = fixture("openapi/list_issue_comments.json");
    let mut bot = comments[0].clone();
    rename(&mut bot["user"], "github-actions[bot]", 41898282);
    bot["user"]["type"] = json!("Bot");
    bot["id"] = json!(2);
    bot["performed_via_github_app"] =
        json!({"id": 15368, "slug": "github-actions", "name": "GitHub Actions"});
    comments.as_array_mut().unwrap().push(bot);
    comments
}

/// The timeline example, plus two `reviewed` entries: the list-reviews example's review
/// with `"event": "reviewed"` added (the timeline-reviewed-event schema is that review
/// object with `event`), and the same review approved by monalisa without a body.
fn patched_timeline() -> Value {
    let mut timeline = fixture("openapi/timeline.json");
    let mut review = fixture("openapi/list_reviews.json")[0].clone();
    review["event"] = json!("reviewed");
    let mut approval = review.clone();
    rename(&mut approval["user"], "monalisa", 2);
    approval["body"] = json!("");
    approval["submitted_at"] = json!("2019-11-18T08:00:00Z");
    let list = timeline.as_array_mut().unwrap();
    list.push(review);
    list.push(approval);
    timeline
}

fn profile(login: &str, id: u64, name: Option<&str>, email: Option<&str>) -> Value {
    let mut p = fixture("openapi/user.json");
    rename(&mut p, login, id);
    p["name"] = json!(name);
    p["email"] = json!(email);
    p
}

fn json_response(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", "4999")
        .insert_header(
            "x-ratelimit-reset",
            (chrono::Utc::now().timestamp() + 3600).to_string(),
        )
}

async fn get(server: &MockServer, p: &str, body: Value) {
    Mock::given(method("GET"))
        .and(path(p))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(body))
        .mount(server)
        .await;
}

/// Everything a first run of `octo-org` reads, the second issues page excepted.
async fn mount_org(server: &MockServer) {
    get(
        server,
        "/orgs/octo-org/repos",
        fixture("openapi/org_repos.json"),
    )
    .await;
    // Page 1 of the issues names page 2 in its Link header, as GitHub does.
    let next = format!(
        "{}/repositories/1296269/issues?per_page=100&page=2",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(format!("/repos/{REPO}/issues")))
        .and(query_param("state", "all"))
        .and(query_param("sort", "updated"))
        .and(query_param("direction", "asc"))
        .respond_with(json_response(patched_issues()).insert_header(
            "link",
            format!("<{next}>; rel=\"next\", <{next}>; rel=\"last\"").as_str(),
        ))
        .mount(server)
        .await;
    get(
        server,
        &format!("/repos/{REPO}/issues/1347/timeline"),
        patched_timeline(),
    )
    .await;
    get(
        server,
        &format!("/repos/{REPO}/issues/1/timeline"),
        json!([]),
    )
    .await;
    get(
        server,
        &format!("/repos/{REPO}/pulls/1347/requested_reviewers"),
        fixture("openapi/requested_reviewers.json"),
    )
    .await;
    get(
        server,
        &format!("/repos/{REPO}/issues/comments"),
        patched_comments(),
    )
    .await;
    get(
        server,
        &format!("/repos/{REPO}/pulls/comments"),
        fixture("openapi/list_review_comments.json"),
    )
    .await;
    get(server, "/users/octocat", fixture("openapi/user.json")).await;
    get(server, "/users/hubot", profile("hubot", 3, None, None)).await;
    get(
        server,
        "/users/monalisa",
        profile("monalisa", 2, Some("Mona Lisa"), None),
    )
    .await;
    // Directory: members (nobody without two-factor), outside collaborators (whose
    // two-factor filter is refused), the enterprise's licences.
    Mock::given(method("GET"))
        .and(path("/orgs/octo-org/members"))
        .and(query_param("filter", "2fa_disabled"))
        .respond_with(json_response(json!([])))
        .with_priority(1)
        .mount(server)
        .await;
    get(
        server,
        "/orgs/octo-org/members",
        fixture("openapi/org_members.json"),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/orgs/octo-org/outside_collaborators"))
        .and(query_param("filter", "2fa_disabled"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "message": "Resource not accessible by personal access token",
            "documentation_url": "https://docs.github.com/rest/orgs/outside-collaborators#list-outside-collaborators-for-an-organization",
            "status": "403"
        })))
        .with_priority(1)
        .mount(server)
        .await;
    let mut outside = fixture("openapi/outside_collaborators.json");
    rename(&mut outside[0], "outside-bob", 7);
    get(server, "/orgs/octo-org/outside_collaborators", outside).await;
    let mut licences = fixture("openapi/consumed_licenses.json");
    licences["users"][0]["github_com_login"] = json!("octocat");
    get(
        server,
        "/enterprises/octo-enterprise/consumed-licenses",
        licences,
    )
    .await;
}

async fn mount_issues_page2(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/repositories/1296269/issues"))
        .and(query_param("page", "2"))
        .respond_with(response)
        .mount(server)
        .await;
}

fn settings(server: &MockServer, env: &str, extra: Value) -> Settings {
    let mut v = json!({
        "url": server.uri(), "token_env": env, "org": "octo-org", "enterprise": "octo-enterprise",
        "system": "GitHub", "lookback_days": 9000,
        "link_prefix": "Jira:", "link_system": "Jira",
    });
    for (k, val) in extra.as_object().unwrap() {
        v[k] = val.clone();
    }
    serde_json::from_value(v).unwrap()
}

fn connector(server: &MockServer, env: &str) -> GithubConnector {
    std::env::set_var(env, TOKEN);
    GithubConnector::new("github-main", settings(server, env, json!({})), fast()).unwrap()
}

/// (login, interaction, entity, at) of every observation, for exact comparisons.
fn seen(users: &[UserObservation]) -> BTreeSet<(String, Interaction, String, String)> {
    users
        .iter()
        .map(|u| {
            (
                u.username.clone().unwrap_or_default(),
                u.interaction,
                format!(
                    "{} {} {}",
                    u.project.as_deref().unwrap_or(""),
                    u.entity_type.as_deref().unwrap_or(""),
                    u.entity_id.as_deref().unwrap_or("")
                ),
                u.at.to_rfc3339(),
            )
        })
        .collect()
}

fn obs(
    login: &str,
    how: Interaction,
    entity: &str,
    at: &str,
) -> (String, Interaction, String, String) {
    (
        login.to_string(),
        how,
        format!("{REPO} {entity}"),
        chrono::DateTime::parse_from_rfc3339(at)
            .unwrap()
            .to_rfc3339(),
    )
}

fn accounts(r: &Run) -> Vec<Account> {
    r.records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Account(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn assert_no_secret(r: &Run) {
    let shown = format!("{:?}", r.emits) + &format!("{:?}", r.result);
    assert!(!shown.contains(TOKEN), "the token leaked: {shown}");
}

#[tokio::test]
async fn a_first_run_reads_activity_and_directory() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_1"), None).await;
    assert_eq!(r.result, Some(Ok(())), "{:?}", r.warnings());
    assert_no_secret(&r);

    use Interaction::*;
    let pr = "Pull request 1347";
    let expected: BTreeSet<_> = [
        // The pull request: its author, upload, mention, assignee, requested reviewer.
        obs("octocat", Updater, pr, "2011-04-22T13:33:48Z"),
        obs("octocat", AttachmentAuthor, pr, "2011-04-22T13:33:48Z"),
        obs("hubot", Mention, pr, "2011-04-22T13:33:48Z"),
        obs("monalisa", MappedUserField, pr, "2011-04-22T13:33:48Z"),
        obs("octocat", MappedUserField, pr, "2011-04-22T13:33:48Z"),
        // Its timeline: `labeled` and `renamed` by a person; `locked` by an organisation
        // and `commented` (read from the comment listing) are not changers.
        obs(
            "github-product-roadmap",
            Updater,
            pr,
            "2022-04-13T20:49:34Z",
        ),
        obs(
            "github-product-roadmap",
            Updater,
            pr,
            "2022-05-18T19:29:01Z",
        ),
        // Reviews: one with a body (a comment), one approval without (a change).
        obs("octocat", CommentAuthor, pr, "2019-11-17T17:43:43Z"),
        obs("monalisa", Updater, pr, "2019-11-18T08:00:00Z"),
        // Page 2 (octokit's recorded issue #1).
        obs(
            "octokit-fixture-user-a",
            Updater,
            "Issue 1",
            "2017-10-10T16:00:00Z",
        ),
        // Comments on #1347 (a pull request, as the listing said) and a review comment.
        obs("octocat", CommentAuthor, pr, "2011-04-14T16:00:49Z"),
        obs(
            "github-actions[bot]",
            CommentAuthor,
            pr,
            "2011-04-14T16:00:49Z",
        ),
        obs(
            "octocat",
            CommentAuthor,
            "Pull request 1",
            "2011-04-14T16:00:49Z",
        ),
    ]
    .into_iter()
    .collect();
    let users = r.users();
    assert_eq!(seen(&users), expected);
    assert_eq!(users.len(), expected.len(), "one observation each");

    let octocat = users
        .iter()
        .find(|u| u.username.as_deref() == Some("octocat"))
        .unwrap();
    assert_eq!(octocat.email.as_deref(), Some("octocat@github.com"));
    assert_eq!(octocat.display_name.as_deref(), Some("monalisa octocat"));
    assert_eq!(octocat.system, "GitHub");
    let bot = users
        .iter()
        .find(|u| u.username.as_deref() == Some("github-actions[bot]"))
        .unwrap();
    assert!(bot.service_account);
    assert!(users
        .iter()
        .filter(|u| !u.username.as_deref().unwrap().contains("[bot]"))
        .all(|u| !u.service_account));
    // Nobody without a profile gets an invented name.
    let roadmap = users
        .iter()
        .find(|u| u.username.as_deref() == Some("github-product-roadmap"))
        .unwrap();
    assert_eq!(
        (roadmap.email.as_deref(), roadmap.display_name.as_deref()),
        (None, None)
    );

    let syncs: Vec<_> = r
        .records()
        .into_iter()
        .filter_map(|r| match r {
            Record::Sync(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(syncs.len(), 1);
    assert_eq!(syncs[0].source.entity_id, "1347");
    assert_eq!(
        (
            syncs[0].target.system.as_str(),
            syncs[0].target.entity_id.as_str()
        ),
        ("Jira", "OPS-17")
    );
    assert_eq!(syncs[0].target.project.as_deref(), Some("OPS"));

    let mut accts = accounts(&r);
    accts.sort_by(|a, b| a.id.cmp(&b.id));
    let summary: Vec<_> = accts
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.username.as_deref(),
                a.email.as_deref(),
                a.status,
                a.billable,
                a.product.as_deref(),
                a.two_step,
                a.sso,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            // A member with an enterprise licence: its verified e-mail, SAML identity and
            // two-factor state.
            (
                "1",
                Some("octocat"),
                Some("monalisa@github.com"),
                AccountStatus::Active,
                true,
                Some("enterprise"),
                Some(TwoStep::Enabled),
                Some(true)
            ),
            // An outside collaborator without a licence: no seat; two-factor unknown.
            (
                "7",
                Some("outside-bob"),
                None,
                AccountStatus::Active,
                false,
                Some("Outside collaborator"),
                None,
                None
            ),
            // An Enterprise Server-only licence.
            (
                "example_host_name:123",
                None,
                Some("hubot@example.com"),
                AccountStatus::Active,
                true,
                Some("enterprise"),
                None,
                None
            ),
        ]
    );
    assert!(accts.iter().all(|a| a.system == "GitHub"));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("two-factor") && w[0].contains("outside collaborator"),
        "{w:?}"
    );

    // The cursor moved with each page: the last one holds every listing's latest time.
    let last = r.checkpoints().last().cloned().unwrap();
    let c: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(c["repos"][REPO]["issues"], "2017-10-10T16:00:00Z");
    assert_eq!(c["repos"][REPO]["comments"], "2011-04-14T16:00:49Z");
    assert_eq!(c["repos"][REPO]["review_comments"], "2011-04-14T16:00:49Z");
    assert_eq!(r.records_after_last_checkpoint(), 0);
}

#[tokio::test]
async fn a_second_run_asks_only_for_what_changed() {
    let server = MockServer::start().await;
    let cursor = json!({"repos": {REPO: {
        "issues": "2017-10-10T16:00:00Z",
        "comments": "2011-04-14T16:00:49Z",
        "review_comments": "2011-04-14T16:00:49Z"
    }}})
    .to_string();
    get(
        &server,
        "/orgs/octo-org/repos",
        fixture("openapi/org_repos.json"),
    )
    .await;
    // Only listings asked from the cursor's times answer; anything else is a 404 and
    // fails the run.
    for (p, since, body) in [
        ("issues", "2017-10-10T16:00:00Z", json!([])),
        ("issues/comments", "2011-04-14T16:00:49Z", {
            let mut c = fixture("openapi/list_issue_comments.json");
            c[0]["created_at"] = json!("2017-11-01T09:00:00Z");
            c[0]["updated_at"] = json!("2017-11-01T09:00:00Z");
            c
        }),
        ("pulls/comments", "2011-04-14T16:00:49Z", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/{p}")))
            .and(query_param("since", since))
            .respond_with(json_response(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    get(&server, "/users/octocat", fixture("openapi/user.json")).await;
    std::env::set_var("TALLY_MOCK_GH_2", TOKEN);
    let s = settings(&server, "TALLY_MOCK_GH_2", json!({"enterprise": null}));
    let c = GithubConnector::new("github-main", s, fast()).unwrap();
    let r = run(&c, Some(cursor)).await;
    assert_eq!(r.result, Some(Ok(())));
    assert_eq!(
        seen(&r.users()),
        [obs(
            "octocat",
            Interaction::CommentAuthor,
            "Issue 1347",
            "2017-11-01T09:00:00Z"
        )]
        .into_iter()
        .collect()
    );
    let last: Value = serde_json::from_str(r.checkpoints().last().unwrap()).unwrap();
    assert_eq!(last["repos"][REPO]["comments"], "2017-11-01T09:00:00Z");
    assert_eq!(last["repos"][REPO]["issues"], "2017-10-10T16:00:00Z");
}

#[tokio::test]
async fn bad_credentials_fail_with_the_variable_named_and_the_token_hidden() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"
        })))
        .mount(&server)
        .await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_3"), None).await;
    let e = r.error();
    assert!(
        e.contains("github-main") && e.contains("HTTP 401") && e.contains("TALLY_MOCK_GH_3"),
        "{e}"
    );
    assert!(e.contains("Bad credentials"), "{e}");
    assert!(r.records().is_empty() && r.checkpoints().is_empty());
    assert_no_secret(&r);
}

#[tokio::test]
async fn a_directory_the_token_may_not_read_is_a_warning() {
    let server = MockServer::start().await;
    let refused = ResponseTemplate::new(403).set_body_json(json!({
        "message": "Resource not accessible by personal access token",
        "documentation_url": "https://docs.github.com/rest/orgs/members#list-organization-members",
        "status": "403"
    }));
    for p in [
        "/orgs/octo-org/members",
        "/orgs/octo-org/outside_collaborators",
        "/enterprises/octo-enterprise/consumed-licenses",
    ] {
        Mock::given(path(p))
            .respond_with(refused.clone())
            .with_priority(1)
            .mount(&server)
            .await;
    }
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_4"), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(accounts(&r).is_empty());
    let w = r.warnings();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(
        w.iter().any(|w| w.contains("organisation 'octo-org'")
            && w.contains("HTTP 403")
            && w.contains("read:org")),
        "{w:?}"
    );
    assert!(
        w.iter().any(|w| w.contains("enterprise 'octo-enterprise'")),
        "{w:?}"
    );
    assert_eq!(
        r.users().len(),
        13,
        "the activity is collected all the same"
    );
    assert_no_secret(&r);
}

/// What the first issues page held is sent and checkpointed; nothing of the second is.
fn assert_first_page_kept(r: &Run) {
    let entities: BTreeSet<String> = r.users().into_iter().filter_map(|u| u.entity_id).collect();
    assert_eq!(entities, ["1347".to_string()].into_iter().collect());
    let last: Value = serde_json::from_str(r.checkpoints().last().unwrap()).unwrap();
    assert_eq!(last["repos"][REPO]["issues"], "2011-04-22T13:33:48Z");
    assert_eq!(r.records_after_last_checkpoint(), 0);
    assert_eq!(accounts(r).len(), 3, "the directory was read first");
    assert_no_secret(r);
}

#[tokio::test]
async fn a_malformed_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    mount_issues_page2(
        &server,
        ResponseTemplate::new(200).set_body_raw(
            r#"[{"url": "https://api.github.com/repos/o"#,
            "application/json",
        ),
    )
    .await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_5"), None).await;
    let e = r.error();
    assert!(
        e.contains("github-main")
            && e.contains("not the expected JSON")
            && e.contains("/repositories/1296269/issues"),
        "{e}"
    );
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn a_timeout_on_the_second_page_keeps_the_first() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    mount_issues_page2(
        &server,
        json_response(octokit_last_issue_page()).set_delay(Duration::from_secs(10)),
    )
    .await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_6"), None).await;
    let e = r.error();
    assert!(e.contains("github-main") && e.contains("timed out"), "{e}");
    assert_first_page_kept(&r);
}

#[tokio::test]
async fn secondary_rate_limits_are_waited_out() {
    let server = MockServer::start().await;
    // GitHub's secondary limit: 403 (or 429) with Retry-After, once each.
    Mock::given(path("/orgs/octo-org/repos"))
        .respond_with(ResponseTemplate::new(403).insert_header("retry-after", "1").set_body_json(json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path(format!("/repos/{REPO}/issues/comments")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    let started = Instant::now();
    let r = run(&connector(&server, "TALLY_MOCK_GH_7"), None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "both Retry-After waits were honoured"
    );
    assert_eq!(r.users().len(), 13);
}

/// GitHub's error body for a secondary limit, as its REST docs ("Rate limits for the REST
/// API") describe it and as clients record it (e.g. go-github's `AbuseRateLimitError`):
/// `message` plus a `documentation_url` to `#about-secondary-rate-limits`.
fn secondary_limit_body() -> Value {
    json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID E198:4063:33BD6:375FF:652AAB04.",
        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
    })
}

/// A refusal with quota left and no `retry-after`: only its body tells what it is.
/// How many requests the mock server received for `path`.
async fn requests_to(server: &MockServer, path: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|q| q.url.path() == path)
        .count()
}

fn refusal(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(403)
        .set_body_json(body)
        .insert_header("x-ratelimit-limit", "5000")
        .insert_header("x-ratelimit-remaining", "4990")
        .insert_header(
            "x-ratelimit-reset",
            (chrono::Utc::now().timestamp() + 3600).to_string(),
        )
}

#[tokio::test]
async fn a_secondary_limit_that_names_no_wait_is_waited_out_and_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/orgs/octo-org/repos"))
        .respond_with(refusal(secondary_limit_body()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    std::env::set_var("TALLY_MOCK_GH_11", TOKEN);
    // GitHub asks for at least a minute; the test shortens the wait.
    let options = tally_http::HttpOptions {
        secondary_limit_wait: Duration::from_millis(700),
        ..fast()
    };
    let c = GithubConnector::new(
        "github-main",
        settings(&server, "TALLY_MOCK_GH_11", json!({})),
        options,
    )
    .unwrap();
    let started = Instant::now();
    let r = run(&c, None).await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(
        started.elapsed() >= Duration::from_millis(700),
        "the secondary limit's wait was honoured"
    );
    let repo_lists = requests_to(&server, "/orgs/octo-org/repos").await;
    assert_eq!(repo_lists, 2, "refused once, then asked again");
    assert_eq!(r.users().len(), 13);
}

#[tokio::test]
async fn a_plain_refusal_fails_at_once_and_says_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(path("/orgs/octo-org/repos"))
        .respond_with(refusal(json!({
            "message": "Resource not accessible by personal access token",
            "documentation_url": "https://docs.github.com/rest/repos/repos#list-organization-repositories",
            "status": "403"
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    mount_org(&server).await;
    let r = run(&connector(&server, "TALLY_MOCK_GH_12"), None).await;
    let e = r.error();
    assert!(
        e.contains("HTTP 403") && e.contains("check the permissions"),
        "{e}"
    );
    assert!(e.contains("Resource not accessible"), "{e}");
    let repo_lists = requests_to(&server, "/orgs/octo-org/repos").await;
    assert_eq!(repo_lists, 1, "a refusal of permission is not retried");
    assert_no_secret(&r);
}

#[tokio::test]
async fn a_used_up_quota_is_waited_out_before_the_next_request() {
    let server = MockServer::start().await;
    // The repository list uses the last request of the window; it resets in 3 s.
    let reset = chrono::Utc::now().timestamp() + 3;
    Mock::given(path("/orgs/octo-org/repos"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("openapi/org_repos.json"))
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string()),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    let started = Instant::now();
    let r = run(&connector(&server, "TALLY_MOCK_GH_8"), None).await;
    assert_eq!(r.result, Some(Ok(())));
    // The requests after the repository list waited for the reset instead of being
    // refused (a refusal would have no mock and fail the run).
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the quota's reset was waited for"
    );
    assert_eq!(r.users().len(), 13);
}

#[tokio::test]
async fn enterprise_server_paths_and_a_missing_repository() {
    // GitHub Enterprise Server serves the same API under /api/v3.
    let server = MockServer::start().await;
    let api = format!("{}/api/v3", server.uri());
    let repo = |p: &str| format!("/api/v3/repos/{REPO}/{p}");
    get(&server, &repo("issues"), patched_issues()).await;
    get(&server, &repo("issues/1347/timeline"), json!([])).await;
    get(
        &server,
        &repo("pulls/1347/requested_reviewers"),
        fixture("openapi/requested_reviewers.json"),
    )
    .await;
    get(&server, &repo("issues/comments"), json!([])).await;
    get(&server, &repo("pulls/comments"), json!([])).await;
    Mock::given(path("/api/v3/repos/octocat/gone/issues"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"
        })))
        .mount(&server)
        .await;
    std::env::set_var("TALLY_MOCK_GH_9", TOKEN);
    let s: Settings = serde_json::from_value(json!({
        "url": api, "token_env": "TALLY_MOCK_GH_9", "repos": ["octocat/gone", REPO],
        "lookback_days": 9000, "profiles": false,
    }))
    .unwrap();
    let r = run(&GithubConnector::new("ghes", s, fast()).unwrap(), None).await;
    assert_eq!(r.result, Some(Ok(())));
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("'octocat/gone' was skipped") && w[0].contains("HTTP 404"),
        "{w:?}"
    );
    // Without profiles: logins only, and the mention kept as written.
    let users = r.users();
    assert!(users
        .iter()
        .all(|u| u.email.is_none() && u.display_name.is_none()));
    assert!(users
        .iter()
        .any(|u| u.username.as_deref() == Some("hubot") && u.interaction == Interaction::Mention));
    assert_eq!(
        users
            .iter()
            .filter(|u| u.entity_id.as_deref() == Some("1347"))
            .count(),
        users.len()
    );
    assert!(
        users.iter().all(|u| u.system == "ghes"),
        "system defaults to the connector's name"
    );
    assert_no_secret(&r);
}

#[tokio::test]
async fn an_unreadable_cursor_reads_the_look_back_again() {
    let server = MockServer::start().await;
    mount_org(&server).await;
    mount_issues_page2(&server, json_response(octokit_last_issue_page())).await;
    let r = run(
        &connector(&server, "TALLY_MOCK_GH_10"),
        Some("not a cursor".into()),
    )
    .await;
    assert_eq!(r.result, Some(Ok(())));
    assert!(
        r.warnings()
            .iter()
            .any(|w| w.contains("not readable") && w.contains("9000 days")),
        "{:?}",
        r.warnings()
    );
    assert_eq!(r.users().len(), 13);
}
