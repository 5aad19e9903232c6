//! tally-http against a local mock server: pagination, retries, timeouts, error messages.
// Helpers outside #[test] functions unwrap too; clippy.toml only covers the tests themselves.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;
use tally_http::{
    auth_from_settings, Auth, CancellationToken, HttpClient, HttpError, HttpOptions, OffsetPager,
    OffsetPaging, Secret, TokenPager, TokenPaging, TokenSource,
};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "s3cr3t-api-key-0123456789";

fn fast() -> HttpOptions {
    HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
        secondary_limit_wait: Duration::from_millis(200),
        max_concurrency: 4,
    }
}

fn client(server: &MockServer, opts: HttpOptions) -> HttpClient {
    HttpClient::new(
        "redmine-main",
        &server.uri(),
        Auth::Header {
            name: "X-Redmine-API-Key",
            secret: Secret::new(SECRET),
        },
        Some("REDMINE_KEY"),
        opts,
    )
    .unwrap()
}

/// Every error a user can see must name the connector and must not carry the secret.
fn assert_safe(e: &HttpError) -> String {
    let msg = e.to_string();
    eprintln!("{msg}");
    assert!(!msg.contains(SECRET), "secret leaked: {msg}");
    assert!(
        !format!("{e:?}").contains(SECRET),
        "secret leaked in Debug: {e:?}"
    );
    assert!(msg.contains("redmine-main"), "connector not named: {msg}");
    msg
}

#[derive(Debug, Deserialize, PartialEq)]
struct Issue {
    id: u64,
}

#[tokio::test]
async fn offset_pagination_walks_to_total_and_sends_the_key() {
    let server = MockServer::start().await;
    for (offset, ids) in [(0, vec![1, 2]), (2, vec![3, 4]), (4, vec![5])] {
        let issues: Vec<_> = ids.iter().map(|i| json!({"id": i})).collect();
        Mock::given(method("GET"))
            .and(path("/issues.json"))
            .and(header("X-Redmine-API-Key", SECRET))
            .and(query_param("status_id", "*"))
            .and(query_param("offset", offset.to_string()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issues": issues, "total_count": 5, "offset": offset, "limit": 2
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = client(&server, fast());
    let mut paging = OffsetPaging::redmine("issues");
    paging.page_size = 2;
    let mut pager = OffsetPager::new(&c, "/issues.json", &[("status_id", "*")], paging);
    let cancel = CancellationToken::new();
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(page) = pager.next_page::<Issue>(&cancel).await.unwrap() {
        pages += 1;
        assert_eq!(page.rest.get("total_count"), Some(&json!(5)));
        seen.extend(page.items.into_iter().map(|i| i.id));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    assert_eq!(pages, 3);
    assert_eq!(pager.total(), Some(5));
    assert!(pager.next_page::<Issue>(&cancel).await.unwrap().is_none());
}

#[tokio::test]
async fn offset_pagination_follows_a_server_that_caps_the_page_size() {
    // Asked for 100, the server gives 2 at a time: the pager must advance by 2, not 100.
    let server = MockServer::start().await;
    for (offset, ids) in [(0, vec![1, 2]), (2, vec![3])] {
        let issues: Vec<_> = ids.iter().map(|i| json!({"id": i})).collect();
        Mock::given(method("GET"))
            .and(path("/issues.json"))
            .and(query_param("offset", offset.to_string()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"issues": issues, "total_count": 3})),
            )
            .mount(&server)
            .await;
    }
    let c = client(&server, fast());
    let mut pager = OffsetPager::new(&c, "issues.json", &[], OffsetPaging::redmine("issues"));
    let cancel = CancellationToken::new();
    let mut seen = Vec::new();
    while let Some(page) = pager.next_page::<Issue>(&cancel).await.unwrap() {
        seen.extend(page.items.into_iter().map(|i| i.id));
    }
    assert_eq!(seen, vec![1, 2, 3]);
}

#[tokio::test]
async fn token_pagination_from_body_keeps_the_final_watermark() {
    let server = MockServer::start().await;
    Mock::given(path("/revisions"))
        .and(query_param_is_missing("continuationToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "values": [{"id": 1}, {"id": 2}], "continuationToken": "t1", "isLastBatch": false
        })))
        .mount(&server)
        .await;
    Mock::given(path("/revisions"))
        .and(query_param("continuationToken", "t1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "values": [{"id": 3}], "continuationToken": "t2", "isLastBatch": true
        })))
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let paging = TokenPaging {
        token_param: "continuationToken",
        source: TokenSource::BodyField("continuationToken"),
        items_key: "values",
        last_flag: Some("isLastBatch"),
    };
    let mut pager = TokenPager::new(&c, "revisions", &[], paging, None);
    let cancel = CancellationToken::new();
    let mut seen = Vec::new();
    while let Some(page) = pager.next_page::<Issue>(&cancel).await.unwrap() {
        seen.extend(page.items.into_iter().map(|i| i.id));
    }
    assert_eq!(seen, vec![1, 2, 3]);
    assert_eq!(pager.token(), Some("t2"), "the watermark for the next run");
}

#[tokio::test]
async fn token_pagination_from_header_ends_without_token() {
    let server = MockServer::start().await;
    Mock::given(path("/items"))
        .and(query_param_is_missing("continuationToken"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-continuationtoken", "abc")
                .set_body_json(json!({"value": [{"id": 10}]})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/items"))
        .and(query_param("continuationToken", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": 11}]})))
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let paging = TokenPaging {
        token_param: "continuationToken",
        source: TokenSource::Header("x-ms-continuationtoken"),
        items_key: "value",
        last_flag: None,
    };
    let mut pager = TokenPager::new(&c, "items", &[], paging, None);
    let cancel = CancellationToken::new();
    let mut seen = Vec::new();
    while let Some(page) = pager.next_page::<Issue>(&cancel).await.unwrap() {
        seen.extend(page.items.into_iter().map(|i| i.id));
    }
    assert_eq!(seen, vec![10, 11]);
}

#[tokio::test]
async fn rate_limit_with_retry_after_is_waited_out_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let started = Instant::now();
    let issue: Issue = c
        .get_json(&CancellationToken::new(), "issues.json", &[])
        .await
        .unwrap();
    assert_eq!(issue, Issue { id: 7 });
    // The server asked for a second; the backoff alone would have been ~20 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After not honoured: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_is_capped() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    let opts = HttpOptions {
        max_retry_after: Duration::from_millis(200),
        ..fast()
    };
    let c = client(&server, opts);
    let started = Instant::now();
    let _: Issue = c
        .get_json(&CancellationToken::new(), "x", &[])
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn server_errors_are_retried_until_attempts_run_out() {
    let server = MockServer::start().await;
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>down</html>"))
        .expect(3)
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let e = c
        .get_json::<Issue>(&CancellationToken::new(), "issues.json", &[("key", SECRET)])
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert_eq!(e.status(), Some(503));
    assert!(msg.contains("HTTP 503"), "{msg}");
    assert!(msg.contains("after 3 attempts"), "{msg}");
    assert!(msg.contains("/issues.json?key=***"), "{msg}");
    assert!(msg.contains("try again later"), "{msg}");
}

#[tokio::test]
async fn unauthorized_is_not_retried_and_says_to_check_credentials() {
    let server = MockServer::start().await;
    Mock::given(path("/issues.json"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errors": [format!("Invalid API key {SECRET}")]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let e = c
        .get_json::<Issue>(&CancellationToken::new(), "issues.json", &[])
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert!(msg.contains("HTTP 401"), "{msg}");
    assert!(
        msg.contains(&format!("{}/issues.json", server.uri())),
        "{msg}"
    );
    assert!(msg.contains("check the credentials"), "{msg}");
    assert!(msg.contains("REDMINE_KEY"), "names the variable: {msg}");
    // The server's own words are kept, with the echoed key blanked out.
    assert!(msg.contains("Invalid API key ***"), "{msg}");
}

#[tokio::test]
async fn forbidden_and_not_found_say_what_to_check() {
    let server = MockServer::start().await;
    Mock::given(path("/forbidden"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(path("/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let cancel = CancellationToken::new();
    let e = c
        .get_json::<Issue>(&cancel, "forbidden", &[])
        .await
        .unwrap_err();
    assert!(assert_safe(&e).contains("check the permissions"));
    let e = c
        .get_json::<Issue>(&cancel, "missing", &[])
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert!(
        msg.contains("HTTP 404") && msg.contains("check the url"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out_with_a_reachability_hint() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 1}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    let opts = HttpOptions {
        request_timeout: Duration::from_millis(200),
        max_attempts: 2,
        ..fast()
    };
    let c = client(&server, opts);
    let started = Instant::now();
    let e = c
        .get_json::<Issue>(&CancellationToken::new(), "slow", &[])
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    let msg = assert_safe(&e);
    assert!(matches!(e, HttpError::Timeout { attempts: 2, .. }), "{e:?}");
    assert!(
        msg.contains("timed out") && msg.contains("reachable"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_reported_with_the_url() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let opts = HttpOptions {
        max_attempts: 1,
        ..fast()
    };
    let c = HttpClient::new(
        "redmine-main",
        &format!("http://127.0.0.1:{port}/redmine"),
        Auth::Bearer(Secret::new(SECRET)),
        None,
        opts,
    )
    .unwrap();
    let e = c
        .get_json::<Issue>(&CancellationToken::new(), "issues.json", &[])
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert!(matches!(e, HttpError::Connect { .. }), "{e:?}");
    assert!(
        msg.contains(&format!("127.0.0.1:{port}/redmine/issues.json")),
        "{msg}"
    );
}

#[tokio::test]
async fn malformed_json_names_the_url() {
    let server = MockServer::start().await;
    Mock::given(path("/issues.json"))
        .and(query_param("offset", "0"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"issues": [{"id": 1}, "#),
        )
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let mut pager = OffsetPager::new(&c, "issues.json", &[], OffsetPaging::redmine("issues"));
    let e = pager
        .next_page::<Issue>(&CancellationToken::new())
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert!(matches!(e, HttpError::Json { .. }), "{e:?}");
    assert!(msg.contains("/issues.json?offset=0&limit=100"), "{msg}");
    assert!(msg.contains("not the expected JSON"), "{msg}");
}

#[tokio::test]
async fn an_item_of_the_wrong_shape_names_the_url_and_item() {
    let server = MockServer::start().await;
    Mock::given(path("/issues.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issues": [{"id": 1}, {"id": "x"}], "total_count": 2})),
        )
        .mount(&server)
        .await;
    let c = client(&server, fast());
    let mut pager = OffsetPager::new(&c, "issues.json", &[], OffsetPaging::redmine("issues"));
    let e = pager
        .next_page::<Issue>(&CancellationToken::new())
        .await
        .unwrap_err();
    let msg = assert_safe(&e);
    assert!(msg.contains("item 1 of \"issues\""), "{msg}");
}

#[tokio::test]
async fn shutdown_ends_a_retry_wait_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "60"))
        .mount(&server)
        .await;
    let opts = HttpOptions {
        max_retry_after: Duration::from_secs(60),
        ..fast()
    };
    let c = client(&server, opts);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let e = c.get_json::<Issue>(&cancel, "x", &[]).await.unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(matches!(
        tally_model::ConnectorError::from(e),
        tally_model::ConnectorError::Cancelled
    ));
}

#[tokio::test]
async fn concurrency_is_limited_per_connector() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 1}))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(6)
        .mount(&server)
        .await;
    let opts = HttpOptions {
        max_concurrency: 2,
        ..fast()
    };
    let c = Arc::new(client(&server, opts));
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let c = c.clone();
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(async move {
            c.get_json::<Issue>(&cancel, "x", &[]).await.unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Six 300 ms requests two at a time take at least three rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(880),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn basic_and_bearer_auth_are_sent() {
    let server = MockServer::start().await;
    // base64("svc-tally:" + SECRET)
    let basic = format!(
        "Basic {}",
        base64_encode(format!("svc-tally:{SECRET}").as_bytes())
    );
    Mock::given(path("/basic"))
        .and(header("authorization", basic.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(path("/bearer"))
        .and(header("authorization", format!("Bearer {SECRET}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 2})))
        .mount(&server)
        .await;
    let cancel = CancellationToken::new();
    std::env::set_var("TALLY_HTTP_TEST_SECRET", format!("  {SECRET}\n"));
    let auth = auth_from_settings(
        "jira",
        Some("svc-tally"),
        Some("TALLY_HTTP_TEST_SECRET"),
        Auth::Bearer,
    )
    .unwrap();
    let c = HttpClient::new("jira", &server.uri(), auth, None, fast()).unwrap();
    let i: Issue = c.get_json(&cancel, "basic", &[]).await.unwrap();
    assert_eq!(i.id, 1);
    let auth =
        auth_from_settings("jira", None, Some("TALLY_HTTP_TEST_SECRET"), Auth::Bearer).unwrap();
    let c = HttpClient::new("jira", &server.uri(), auth, None, fast()).unwrap();
    let i: Issue = c.get_json(&cancel, "bearer", &[]).await.unwrap();
    assert_eq!(i.id, 2);
}

#[test]
fn a_missing_secret_names_variable_and_connector() {
    let e = auth_from_settings(
        "jira-cloud",
        Some("a@b.example"),
        Some("TALLY_HTTP_TEST_NEVER_SET"),
        Auth::Bearer,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("TALLY_HTTP_TEST_NEVER_SET"), "{msg}");
    assert!(msg.contains("jira-cloud"), "{msg}");
    assert!(matches!(
        tally_model::ConnectorError::from(e),
        tally_model::ConnectorError::Config(_)
    ));
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
