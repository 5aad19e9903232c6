//! Link-header paging and `X-RateLimit-*` rate limits against a local mock server. The
//! headers and refusals are those GitHub documents (REST API "Rate limits" and
//! "Troubleshooting"); the Link header is as octokit/fixtures recorded it.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;
use tally_http::link_paging::LinkPager;
use tally_http::rate_limit::RateLimitGate;
use tally_http::{Auth, CancellationToken, HttpClient, HttpOptions, Secret};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "ghp_rateLimitTestToken0123456789";

fn client(server: &MockServer) -> HttpClient {
    let opts = HttpOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
        secondary_limit_wait: Duration::from_millis(200),
        max_concurrency: 4,
    };
    HttpClient::new(
        "github-main",
        &server.uri(),
        Auth::Bearer(Secret::new(SECRET)),
        Some("GITHUB_TOKEN"),
        opts,
    )
    .unwrap()
}

#[tokio::test]
async fn pages_follow_the_next_link_until_there_is_none() {
    let server = MockServer::start().await;
    let page = |n: u32| {
        format!(
            "{}/repositories/1000/issues?per_page=2&page={n}",
            server.uri()
        )
    };
    Mock::given(path("/repos/o/r/issues"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"number": 1}, {"number": 2}]))
                .insert_header(
                    "link",
                    format!("<{}>; rel=\"next\", <{}>; rel=\"last\"", page(2), page(2)).as_str(),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/repositories/1000/issues"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"number": 3}]))
                .insert_header("link", format!("<{}>; rel=\"first\"", page(1)).as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let mut pager = LinkPager::new(&c, "repos/o/r/issues", &[("per_page", "2")]).unwrap();
    let cancel = CancellationToken::new();
    let mut numbers = Vec::new();
    while let Some(p) = pager.next_page::<serde_json::Value>(&cancel).await.unwrap() {
        numbers.extend(p.items.iter().map(|i| i["number"].as_u64().unwrap()));
    }
    assert_eq!(numbers, [1, 2, 3]);
    assert_eq!(pager.pages(), 2);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([1]))
                .insert_header("link", "<https://evil.example/items?page=2>; rel=\"next\""),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    let mut pager = LinkPager::new(&c, "items", &[]).unwrap();
    let e = pager
        .next_page::<u32>(&CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("another host") && !e.contains(SECRET), "{e}");
}

#[tokio::test]
async fn a_403_is_retried_only_when_it_is_a_rate_limit() {
    let server = MockServer::start().await;
    let reset = (chrono::Utc::now().timestamp() + 1).to_string();
    // Secondary limit: Retry-After. Primary limit: no quota left until the reset.
    Mock::given(path("/secondary"))
        .respond_with(ResponseTemplate::new(403).insert_header("retry-after", "1").set_body_json(json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/primary"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(json!({"message": "API rate limit exceeded for user ID 1."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    for p in ["/secondary", "/primary"] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
    }
    // A permission refusal: no rate-limit headers; asked once.
    Mock::given(path("/forbidden"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"message": "Resource not accessible by personal access token"}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server);
    let cancel = CancellationToken::new();
    for p in ["secondary", "primary"] {
        let started = Instant::now();
        let got: Vec<u32> = c.get_json(&cancel, p, &[]).await.unwrap();
        assert!(got.is_empty());
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{p}: the wait was honoured"
        );
    }
    let e = c
        .get_json::<Vec<u32>>(&cancel, "forbidden", &[])
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("Resource not accessible"), "{e}");
}

#[tokio::test]
async fn a_used_up_quota_closes_the_gate_until_the_reset() {
    let server = MockServer::start().await;
    let reset = chrono::Utc::now().timestamp() + 2;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    let gate = RateLimitGate::new();
    let cancel = CancellationToken::new();
    let mut first = LinkPager::new(&c, "a", &[])
        .unwrap()
        .with_gate(gate.clone());
    first.next_page::<u32>(&cancel).await.unwrap();
    assert!(gate.pending(chrono::Utc::now()).is_some());
    // Cancelling ends the wait at once.
    let stop = CancellationToken::new();
    stop.cancel();
    let mut cancelled = LinkPager::new(&c, "b", &[])
        .unwrap()
        .with_gate(gate.clone());
    assert!(cancelled
        .next_page::<u32>(&stop)
        .await
        .unwrap_err()
        .is_cancelled());
    let started = Instant::now();
    let mut second = LinkPager::new(&c, "b", &[])
        .unwrap()
        .with_gate(gate.clone());
    second.next_page::<u32>(&cancel).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the second request waited for the reset"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
