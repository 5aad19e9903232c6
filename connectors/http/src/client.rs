//! The client every HTTP connector shares: one reqwest client per connector instance with
//! its base URL, credentials, timeouts, retries and concurrency limit.

use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::auth::{secret_from_env, Auth, Secret};
use crate::error::{status_hint, HttpError};
use crate::redact::{redact_url, redact_url_str, scrub};

/// Timeouts, retries and concurrency of one connector's client. The defaults suit a
/// production server across a WAN; tests shorten them.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Time allowed to open a TCP + TLS connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, body included.
    pub request_timeout: Duration,
    /// Attempts per request, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// The first backoff; it doubles with each retry.
    pub initial_backoff: Duration,
    /// The longest backoff between two attempts (before jitter).
    pub max_backoff: Duration,
    /// The longest wait a server's `Retry-After` can impose. A server asking for an hour
    /// would otherwise stall collection silently.
    pub max_retry_after: Duration,
    /// The first wait after a rate-limit refusal whose headers name no wait but whose body
    /// says it is a secondary rate limit (GitHub: "wait for at least one minute before
    /// retrying", then exponentially longer). It doubles with each retry, up to
    /// `max_retry_after` (but never below this first wait).
    pub secondary_limit_wait: Duration,
    /// Requests in flight at once for this connector.
    pub max_concurrency: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
            secondary_limit_wait: Duration::from_secs(60),
            max_concurrency: 4,
        }
    }
}

/// Checks a configured base URL: absolute http(s), no credentials in it (they belong in
/// the environment variable named by `token_env`). Connectors call it from `build` so a bad
/// URL is reported when the configuration is loaded.
pub fn parse_base_url(connector: &str, url: &str) -> Result<Url, HttpError> {
    let invalid = |reason: &str| HttpError::InvalidUrl {
        connector: connector.to_string(),
        url: redact_url_str(url.trim()),
        reason: reason.to_string(),
    };
    let mut parsed = Url::parse(url.trim()).map_err(|e| {
        invalid(&format!(
            "not an absolute URL ({e}); write it like https://host/path"
        ))
    })?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(invalid("only http:// and https:// URLs are supported"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "the URL holds credentials; remove them and put the secret in the environment \
             variable named by token_env (and the account in user)",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host"));
    }
    parsed.set_query(None);
    parsed.set_fragment(None);
    // A base URL without a trailing slash would lose its last path segment when joined
    // (`https://host/redmine` + `issues.json` = `https://host/issues.json`).
    if !parsed.path().ends_with('/') {
        let path = format!("{}/", parsed.path());
        parsed.set_path(&path);
    }
    Ok(parsed)
}

/// Credentials from the three common keys of every HTTP connector (`url` is checked by
/// [`parse_base_url`]): no `token_env` means anonymous access; with `user` the secret is a
/// password or API token for basic auth; without `user`, `without_user` says how the
/// system takes a lone token (e.g. [`Auth::Bearer`] or an API-key header).
pub fn auth_from_settings(
    connector: &str,
    user: Option<&str>,
    token_env: Option<&str>,
    without_user: impl FnOnce(Secret) -> Auth,
) -> Result<Auth, HttpError> {
    let Some(var) = token_env else {
        return Ok(Auth::None);
    };
    let secret = secret_from_env(connector, var)?;
    Ok(match user.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => Auth::Basic {
            user: u.to_string(),
            secret,
        },
        None => without_user(secret),
    })
}

/// Installs rustls' ring provider as the process default once. reqwest is built without a
/// provider of its own (aws-lc needs cmake and a C toolchain); if another part of the
/// program installed one first, that one is kept.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// One connector's HTTP client. Cheap to clone; clones share the connection pool and the
/// concurrency limit.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    connector: String,
    base: Url,
    auth: Auth,
    secret_var: Option<String>,
    http: reqwest::Client,
    limit: Semaphore,
    opts: HttpOptions,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("connector", &self.inner.connector)
            .field("base", &redact_url(&self.inner.base))
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client for `connector` talking to `base_url`. `secret_var` is the name of the
    /// environment variable the secret came from, quoted in 401 hints.
    pub fn new(
        connector: &str,
        base_url: &str,
        auth: Auth,
        secret_var: Option<&str>,
        opts: HttpOptions,
    ) -> Result<Self, HttpError> {
        install_crypto_provider();
        let base = parse_base_url(connector, base_url)?;
        let client_err = |detail: String| HttpError::Client {
            connector: connector.to_string(),
            detail,
        };
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        match &auth {
            Auth::None | Auth::Basic { .. } => {}
            Auth::Bearer(secret) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", secret.expose())).map_err(
                    |_| client_err("the token holds characters a header cannot carry".into()),
                )?;
                v.set_sensitive(true);
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
            Auth::Header { name, secret } => {
                let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| {
                    client_err("the key holds characters a header cannot carry".into())
                })?;
                v.set_sensitive(true);
                headers.insert(*name, v);
            }
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(opts.connect_timeout)
            .timeout(opts.request_timeout)
            // Redirects could carry the API-key header to another host; APIs answer in place.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| client_err(error_chain(&e.without_url(), auth.secret())))?;
        let max_concurrency = opts.max_concurrency.max(1);
        Ok(HttpClient {
            inner: Arc::new(Inner {
                connector: connector.to_string(),
                base,
                secret_var: secret_var.map(str::to_string),
                http,
                limit: Semaphore::new(max_concurrency),
                opts,
                auth,
            }),
        })
    }

    pub fn connector(&self) -> &str {
        &self.inner.connector
    }

    /// The base URL, always ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub fn options(&self) -> &HttpOptions {
        &self.inner.opts
    }

    /// `path` resolved against the base URL with `query` appended. A `path` that is an
    /// absolute URL (a server's `nextLink`) is accepted only on the base URL's origin, so
    /// credentials are never sent to another host.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, HttpError> {
        let base = &self.inner.base;
        let mut url = if path.starts_with("http://") || path.starts_with("https://") {
            let u = Url::parse(path).map_err(|e| self.invalid_url(path, &e.to_string()))?;
            if u.origin() != base.origin() {
                return Err(self.invalid_url(
                    path,
                    "the server pointed at another host; not following it with credentials",
                ));
            }
            u
        } else {
            base.join(path.trim_start_matches('/'))
                .map_err(|e| self.invalid_url(path, &e.to_string()))?
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    fn invalid_url(&self, url: &str, reason: &str) -> HttpError {
        HttpError::InvalidUrl {
            connector: self.inner.connector.clone(),
            url: redact_url_str(url),
            reason: reason.to_string(),
        }
    }

    /// GET `path` (relative to the base URL) and parse the JSON body as `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, HttpError> {
        let url = self.url(path, query)?;
        self.get_json_url(cancel, url).await
    }

    /// GET an already built URL and parse the JSON body as `T`.
    pub async fn get_json_url<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        url: Url,
    ) -> Result<T, HttpError> {
        let body = self.execute(cancel, Method::GET, &url, None).await?;
        self.parse_json(&url, &body)
    }

    /// POST `body` as JSON and parse the JSON answer: for query endpoints that take their
    /// query in the body (Jira's JQL search, Azure DevOps' WIQL). Such queries read only,
    /// so they are retried like GETs.
    pub async fn post_json<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        cancel: &CancellationToken,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
    ) -> Result<T, HttpError> {
        let url = self.url(path, query)?;
        let bytes = serde_json::to_vec(body).map_err(|e| HttpError::Json {
            connector: self.inner.connector.clone(),
            url: redact_url(&url),
            detail: format!("cannot encode the request body: {e}"),
        })?;
        let answer = self
            .execute(cancel, Method::POST, &url, Some(bytes))
            .await?;
        self.parse_json(&url, &answer)
    }

    pub(crate) fn parse_json<T: DeserializeOwned>(
        &self,
        url: &Url,
        body: &[u8],
    ) -> Result<T, HttpError> {
        serde_json::from_slice(body).map_err(|e| HttpError::Json {
            connector: self.inner.connector.clone(),
            url: redact_url(url),
            detail: scrub(&e.to_string(), self.inner.auth.secret()),
        })
    }

    /// Sends one request with retries; returns the body of a success. Retries 429, 5xx
    /// (but 501/505, which will not change), timeouts and connection failures, waiting as
    /// the server's `Retry-After` says or with exponential backoff and jitter. Every wait and
    /// every request in flight ends early on `cancel`.
    pub async fn execute(
        &self,
        cancel: &CancellationToken,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, HttpError> {
        Ok(self.execute_full(cancel, method, url, body).await?.1)
    }

    /// [`HttpClient::execute`], also returning the response headers of the success (for
    /// continuation tokens sent as headers).
    pub async fn execute_full(
        &self,
        cancel: &CancellationToken,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<(HeaderMap, Vec<u8>), HttpError> {
        let inner = &*self.inner;
        let max_attempts = inner.opts.max_attempts.max(1);
        let method_name = method_name(&method);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(self.cancelled()),
                outcome = self.send_once(method.clone(), url, body.clone()) => outcome,
            };
            let (wait, error) = match outcome {
                Ok((status, headers, bytes)) if status.is_success() => return Ok((headers, bytes)),
                Ok((status, headers, bytes)) => {
                    let error = HttpError::Status {
                        connector: inner.connector.clone(),
                        method: method_name,
                        url: redact_url(url),
                        status: status.as_u16(),
                        attempts: attempt,
                        detail: error_detail(&headers, &bytes, inner.auth.secret()),
                        hint: status_hint(status.as_u16(), inner.secret_var.as_deref()),
                    };
                    // A 403 is retried only when its headers say it is a rate limit, or, when
                    // they name no wait, its body says it is a secondary limit.
                    let limited = crate::rate_limit::refusal_wait(status, &headers, Utc::now());
                    let secondary = (limited.is_none()
                        && crate::rate_limit::is_secondary_limit(status, &bytes))
                    .then(|| self.secondary_wait(attempt));
                    if !retryable_status(status) && limited.is_none() && secondary.is_none() {
                        return Err(error);
                    }
                    let now = Utc::now();
                    let wait = limited
                        .or_else(|| retry_after(&headers, now))
                        .or_else(|| {
                            (status == StatusCode::TOO_MANY_REQUESTS)
                                .then(|| rate_limit_reset(&headers, now))
                                .flatten()
                        })
                        .map(|d| d.min(inner.opts.max_retry_after))
                        .or(secondary)
                        .unwrap_or_else(|| self.backoff(attempt));
                    (wait, error)
                }
                Err(e) => {
                    let wait = self.backoff(attempt);
                    let error = if e.is_timeout() {
                        HttpError::Timeout {
                            connector: inner.connector.clone(),
                            method: method_name,
                            url: redact_url(url),
                            timeout: inner.opts.request_timeout,
                            attempts: attempt,
                        }
                    } else {
                        HttpError::Connect {
                            connector: inner.connector.clone(),
                            method: method_name,
                            url: redact_url(url),
                            detail: error_chain(&e.without_url(), inner.auth.secret()),
                            attempts: attempt,
                        }
                    };
                    (wait, error)
                }
            };
            if attempt >= max_attempts {
                return Err(error);
            }
            tracing::warn!(
                connector = %inner.connector,
                attempt,
                max_attempts,
                wait_ms = wait.as_millis() as u64,
                "{error}; retrying"
            );
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(self.cancelled()),
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt, holding a concurrency permit while the request and its body are in
    /// flight (not while backing off, so a waiting request does not block others).
    async fn send_once(
        &self,
        method: Method,
        url: &Url,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, HeaderMap, Vec<u8>), reqwest::Error> {
        let inner = &*self.inner;
        // The semaphore is never closed, so acquire cannot fail; without a permit the
        // request simply goes ahead rather than failing the run.
        let _permit = inner.limit.acquire().await.ok();
        let mut request = inner.http.request(method, url.clone());
        if let Auth::Basic { user, secret } = &inner.auth {
            request = request.basic_auth(user, Some(secret.expose()));
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok((status, headers, bytes.to_vec()))
    }

    /// The wait before retry `attempt` after a secondary rate limit that named no wait:
    /// `secondary_limit_wait`, doubling with each attempt, at most the larger of it and
    /// `max_retry_after`.
    fn secondary_wait(&self, attempt: u32) -> Duration {
        let opts = &self.inner.opts;
        let exp = attempt.saturating_sub(1).min(16);
        opts.secondary_limit_wait
            .saturating_mul(1u32 << exp)
            .min(opts.max_retry_after.max(opts.secondary_limit_wait))
    }

    /// Exponential backoff with "equal jitter": half the delay fixed, half random, so
    /// connectors that failed together do not retry in lockstep.
    fn backoff(&self, attempt: u32) -> Duration {
        let opts = &self.inner.opts;
        let exp = attempt.saturating_sub(1).min(16);
        let full = opts
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(opts.max_backoff);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }

    fn cancelled(&self) -> HttpError {
        HttpError::Cancelled {
            connector: self.inner.connector.clone(),
        }
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        _ => "request",
    }
}

fn retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || (status.is_server_error()
            && status != StatusCode::NOT_IMPLEMENTED
            && status != StatusCode::HTTP_VERSION_NOT_SUPPORTED)
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date (RFC 9110
/// §10.2.3). A date in the past means "now".
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is a subset of RFC 2822.
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The wait a 429 without `Retry-After` asks for through `X-RateLimit-Reset`, a Unix time
/// (ServiceNow, GitHub): when the rate limit window opens again.
pub(crate) fn rate_limit_reset(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let reset: i64 = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let at = DateTime::from_timestamp(reset, 0)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A short, single-line, scrubbed excerpt of an error body, when it is JSON or text (an
/// HTML error page says nothing useful in one line).
fn error_detail(headers: &HeaderMap, body: &[u8], secret: Option<&str>) -> Option<String> {
    const MAX: usize = 300;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !(content_type.contains("json") || content_type.starts_with("text/plain")) {
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.is_empty() {
        return None;
    }
    let mut shown: String = one_line.chars().take(MAX).collect();
    if one_line.chars().count() > MAX {
        shown.push('…');
    }
    Some(scrub(&shown, secret))
}

/// An error and its causes on one line, scrubbed ("connection refused" hides two levels
/// down in hyper's error chain).
fn error_chain(e: &(dyn std::error::Error + 'static), secret: Option<&str>) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    scrub(&parts.join(": "), secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-10-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Oct 2026 12:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(30)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Thu, 01 Oct 2026 11:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        let mut r = HeaderMap::new();
        r.insert("x-ratelimit-reset", HeaderValue::from_static("1790856010"));
        assert_eq!(retry_after(&r, now), None);
        assert_eq!(
            rate_limit_reset(&r, DateTime::from_timestamp(1_790_856_000, 0).unwrap()),
            Some(Duration::from_secs(10))
        );
    }

    #[test]
    fn base_url_rules() {
        let u = parse_base_url("r", "https://host.example/redmine").unwrap();
        assert_eq!(u.as_str(), "https://host.example/redmine/");
        assert_eq!(
            u.join("issues.json").unwrap().as_str(),
            "https://host.example/redmine/issues.json"
        );
        let e = parse_base_url("r", "https://bob:pw-secret@host.example/").unwrap_err();
        assert!(!e.to_string().contains("pw-secret"), "{e}");
        assert!(parse_base_url("r", "ftp://host.example").is_err());
        assert!(parse_base_url("r", "host.example").is_err());
    }

    #[test]
    fn other_origins_are_refused() {
        let c = HttpClient::new(
            "c",
            "https://a.example/api",
            Auth::None,
            None,
            HttpOptions::default(),
        )
        .unwrap();
        assert!(c.url("https://evil.example/x", &[]).is_err());
        let same = c.url("https://a.example/api/next?page=2", &[]).unwrap();
        assert_eq!(same.as_str(), "https://a.example/api/next?page=2");
        let rel = c.url("/issues.json", &[("offset", "25")]).unwrap();
        assert_eq!(rel.as_str(), "https://a.example/api/issues.json?offset=25");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let opts = HttpOptions {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..HttpOptions::default()
        };
        let c = HttpClient::new("c", "https://a.example", Auth::None, None, opts).unwrap();
        for _ in 0..20 {
            let b1 = c.backoff(1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b3 = c.backoff(3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            let b10 = c.backoff(10);
            assert!(b10 >= Duration::from_millis(500) && b10 <= Duration::from_millis(1000));
        }
    }
}
