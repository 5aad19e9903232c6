//! The parts of GitLab's REST API v4 the connector reads, and how it walks GitLab's
//! listings: keyset pages by the `Link: <…>; rel="next"` header where the resource offers
//! them, offset pages by `x-next-page` otherwise, and the `RateLimit-*` headers waited out
//! before the limit is hit (a 429 is retried by `tally_http`, honouring `Retry-After`).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use tally_http::{redact_url, CancellationToken, HttpClient, HttpError, Method, Url};

/// How GitLab refers to a user on issues, merge requests, notes and uploads. `email` is
/// there only for administrators' tokens (and not everywhere); `bot` only on some
/// endpoints.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRef {
    pub id: u64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub bot: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct References {
    pub full: String,
}

/// An issue from `GET /groups/:id/issues` or `GET /projects/:id/issues`.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default)]
    pub assignees: Vec<UserRef>,
    #[serde(default)]
    pub closed_by: Option<UserRef>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Names, or objects with a `name` when `with_labels_details` is set.
    #[serde(default)]
    pub labels: Vec<Value>,
    #[serde(default)]
    pub references: Option<References>,
    /// `issue`, `incident`, `test_case`, `task` (GitLab 13.x and later).
    #[serde(default)]
    pub issue_type: Option<String>,
}

/// A merge request from `GET /groups/:id/merge_requests` or `/projects/:id/merge_requests`.
#[derive(Debug, Clone, Deserialize)]
pub struct MergeRequest {
    pub id: u64,
    pub iid: u64,
    pub project_id: u64,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub author: Option<UserRef>,
    #[serde(default)]
    pub assignees: Vec<UserRef>,
    #[serde(default)]
    pub reviewers: Vec<UserRef>,
    /// Who merged it (GitLab 14.7 and later); `merged_by` on older servers.
    #[serde(default)]
    pub merge_user: Option<UserRef>,
    #[serde(default)]
    pub merged_by: Option<UserRef>,
    #[serde(default)]
    pub merged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_by: Option<UserRef>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub labels: Vec<Value>,
    #[serde(default)]
    pub references: Option<References>,
}

/// A note on an issue or merge request. `system: true` notes are GitLab's record of a
/// change (assigned, labelled, closed …), written by the person who made it.
#[derive(Debug, Clone, Deserialize)]
pub struct Note {
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub author: Option<UserRef>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub system: bool,
}

/// An upload from `GET /projects/:id/uploads` (GitLab 17.2 and later, Maintainer role).
#[derive(Debug, Clone, Deserialize)]
pub struct Upload {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub uploaded_by: Option<UserRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
}

/// `GET /user`: whose token this is. `is_admin` is shown to administrators only.
#[derive(Debug, Clone, Deserialize)]
pub struct CurrentUser {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub is_admin: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Identity {
    #[serde(default)]
    pub provider: Option<String>,
}

/// A user from `GET /users` as an administrator sees it.
#[derive(Debug, Clone, Deserialize)]
pub struct DirectoryUser {
    pub id: u64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub public_email: Option<String>,
    #[serde(default)]
    pub bot: Option<bool>,
    #[serde(default)]
    pub external: Option<bool>,
    #[serde(default)]
    pub is_admin: Option<bool>,
    #[serde(default)]
    pub is_auditor: Option<bool>,
    #[serde(default)]
    pub two_factor_enabled: Option<bool>,
    #[serde(default)]
    pub identities: Option<Vec<Identity>>,
    /// A date (`2012-05-23`); GitLab sends `""` or null for users never active.
    #[serde(default)]
    pub last_activity_on: Option<String>,
    #[serde(default)]
    pub current_sign_in_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// Premium and Ultimate only.
    #[serde(default)]
    pub using_license_seat: Option<bool>,
}

impl DirectoryUser {
    pub fn last_activity_day(&self) -> Option<DateTime<Utc>> {
        let day = self.last_activity_on.as_deref()?.trim();
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
        Some(date.and_hms_opt(0, 0, 0)?.and_utc())
    }
}

/// A member from `GET /groups/:id/members/all` or `/projects/:id/members/all`. `email`
/// is shown for enterprise users to group owners on GitLab.com; `is_using_seat` on the
/// billable-members views.
#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub id: u64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub access_level: Option<u32>,
    #[serde(default)]
    pub group_saml_identity: Option<Value>,
    #[serde(default)]
    pub is_using_seat: Option<bool>,
    #[serde(default)]
    pub membership_state: Option<String>,
}

/// The label names of an issue or merge request, whichever form GitLab sent.
pub fn label_names(labels: &[Value]) -> Vec<&str> {
    labels
        .iter()
        .filter_map(|l| match l {
            Value::String(s) => Some(s.as_str()),
            Value::Object(o) => o.get("name").and_then(Value::as_str),
            _ => None,
        })
        .collect()
}

/// A group or project id or path as one path segment: `my-group/my-project` becomes
/// `my-group%2Fmy-project`, as GitLab wants namespaced paths.
pub fn encode_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.trim().bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One page of a listing and where the next one is.
pub struct Listing<T> {
    pub items: Vec<T>,
    /// The next page: the `Link` header's `rel="next"` (keyset pages), else this URL with
    /// `page` set to `x-next-page`. None at the end.
    pub next: Option<Url>,
}

/// The connector's view of GitLab: the shared client plus GitLab's paging and limits.
#[derive(Clone)]
pub struct Api {
    client: HttpClient,
}

impl Api {
    pub fn new(client: HttpClient) -> Self {
        Api { client }
    }

    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, HttpError> {
        self.client.url(path, query)
    }

    /// GET one JSON object.
    pub async fn get<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, HttpError> {
        let url = self.client.url(path, query)?;
        let (headers, body) = self
            .client
            .execute_full(cancel, Method::GET, &url, None)
            .await?;
        self.respect_rate_limit(cancel, &headers).await?;
        self.parse(&url, &body)
    }

    /// GET one page of a listing (a JSON array).
    pub async fn page<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        url: &Url,
    ) -> Result<Listing<T>, HttpError> {
        let (headers, body) = self
            .client
            .execute_full(cancel, Method::GET, url, None)
            .await?;
        self.respect_rate_limit(cancel, &headers).await?;
        let items: Vec<T> = self.parse(url, &body)?;
        let next = match next_link(&headers) {
            Some(link) => Some(self.client.url(&link, &[])?),
            None => header_str(&headers, "x-next-page")
                .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .map(|p| with_page(url, p)),
        };
        // A server that answers an empty page with a next page would loop forever.
        let next = next.filter(|n| !items.is_empty() && n != url);
        Ok(Listing { items, next })
    }

    /// Every item of a listing, page by page (for small listings: members, projects).
    pub async fn all<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        first: Url,
    ) -> Result<Vec<T>, HttpError> {
        let mut out = Vec::new();
        let mut next = Some(first);
        while let Some(url) = next {
            let page: Listing<T> = self.page(cancel, &url).await?;
            out.extend(page.items);
            next = page.next;
        }
        Ok(out)
    }

    fn parse<T: DeserializeOwned>(&self, url: &Url, body: &[u8]) -> Result<T, HttpError> {
        serde_json::from_slice(body).map_err(|e| HttpError::Json {
            connector: self.client.connector().to_string(),
            url: redact_url(url),
            detail: e.to_string(),
        })
    }

    /// When GitLab says no request is left in this window (`RateLimit-Remaining: 0`), waits
    /// until `RateLimit-Reset` (a Unix time) rather than run into 429s; at most the
    /// client's `max_retry_after`, and never past shutdown.
    async fn respect_rate_limit(
        &self,
        cancel: &CancellationToken,
        headers: &HeaderMap,
    ) -> Result<(), HttpError> {
        let Some(wait) = rate_limit_wait(headers, Utc::now()) else {
            return Ok(());
        };
        let wait = wait.min(self.client.options().max_retry_after);
        tracing::info!(
            connector = %self.client.connector(),
            wait_ms = wait.as_millis() as u64,
            "GitLab rate limit reached; waiting for its reset"
        );
        tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(HttpError::Cancelled {
                connector: self.client.connector().to_string(),
            }),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The wait `RateLimit-Remaining: 0` asks for: until `RateLimit-Reset` (GitLab sends a
/// Unix time, not the IETF draft's delta), else `RateLimit-ResetTime` (an HTTP date).
pub(crate) fn rate_limit_wait(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let remaining: u64 = header_str(headers, "ratelimit-remaining")?.parse().ok()?;
    if remaining > 0 {
        return None;
    }
    let at = match header_str(headers, "ratelimit-reset").and_then(|r| r.parse::<i64>().ok()) {
        Some(reset) => DateTime::from_timestamp(reset, 0)?,
        None => DateTime::parse_from_rfc2822(header_str(headers, "ratelimit-resettime")?)
            .ok()?
            .with_timezone(&Utc),
    };
    (at - now).to_std().ok()
}

/// The `rel="next"` target of a `Link` header.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all("link") {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let target = pieces.next()?.trim();
            let is_next = pieces.any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            if is_next {
                let target = target.trim_start_matches('<').trim_end_matches('>');
                return Some(target.to_string());
            }
        }
    }
    None
}

/// `url` with its `page` parameter set to `page`.
fn with_page(url: &Url, page: &str) -> Url {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "page")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut next = url.clone();
    next.query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("page", page);
    next
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn links_pages_and_limits() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_static(
                "<https://gitlab.example.com/api/v4/users?pagination=keyset&id_after=42>; \
                 rel=\"next\", <https://gitlab.example.com/api/v4/users?x=1>; rel=\"first\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://gitlab.example.com/api/v4/users?pagination=keyset&id_after=42")
        );
        let u = Url::parse("https://g.example/api/v4/groups/1/issues?page=1&per_page=2").unwrap();
        assert_eq!(
            with_page(&u, "3").as_str(),
            "https://g.example/api/v4/groups/1/issues?per_page=2&page=3"
        );
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let mut r = HeaderMap::new();
        r.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        r.insert("ratelimit-reset", HeaderValue::from_static("1700000003"));
        assert_eq!(rate_limit_wait(&r, now), Some(Duration::from_secs(3)));
        r.insert("ratelimit-remaining", HeaderValue::from_static("5"));
        assert_eq!(rate_limit_wait(&r, now), None);
        let mut t = HeaderMap::new();
        t.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        // 1700000000 is Tue, 14 Nov 2023 22:13:20 GMT.
        t.insert(
            "ratelimit-resettime",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:30 GMT"),
        );
        assert_eq!(rate_limit_wait(&t, now), Some(Duration::from_secs(10)));
        assert_eq!(encode_id("my-group/my project"), "my-group%2Fmy%20project");
    }
}
