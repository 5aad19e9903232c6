//! Rate-limit headers of the `X-RateLimit-*` family (GitHub, and many APIs modelled on it):
//! how long a refused request must wait, and a gate that waits out an exhausted quota
//! before the next request instead of running into the refusal.
//!
//! - `x-ratelimit-remaining`: requests left in the current window;
//! - `x-ratelimit-reset`: when the window resets, in UTC epoch seconds;
//! - `retry-after`: on a 403 or 429, the seconds to wait (GitHub's secondary limits).
//!
//! GitHub's secondary limits do not always say how long to wait: "If the `retry-after`
//! response header is present, you should not retry your request until after that many
//! seconds has elapsed. If the `x-ratelimit-remaining` header is `0`, [wait for]
//! `x-ratelimit-reset`. Otherwise, wait for at least one minute before retrying. If your
//! request continues to fail due to a secondary rate limit, wait for an exponentially
//! increasing amount of time between retries" (docs.github.com, "Rate limits for the REST
//! API", "Exceeding the rate limit"). Such a refusal is told from a plain "no permission"
//! 403 by its body ([`is_secondary_limit`]); the client then waits
//! `HttpOptions::secondary_limit_wait`, doubling.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use crate::client::retry_after;

pub const REMAINING: &str = "x-ratelimit-remaining";
pub const RESET: &str = "x-ratelimit-reset";

/// The quota a response reported: requests left and when the window resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub remaining: u64,
    pub reset: DateTime<Utc>,
}

impl Quota {
    /// The quota in `headers`, when both headers are present and readable.
    pub fn from_headers(headers: &HeaderMap) -> Option<Quota> {
        let number =
            |name: &str| -> Option<i64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let remaining = u64::try_from(number(REMAINING)?).ok()?;
        let reset = Utc.timestamp_opt(number(RESET)?, 0).single()?;
        Some(Quota { remaining, reset })
    }
}

/// How long a refused request must wait before it is tried again, when the refusal is a
/// rate limit: a 403 or 429 with `Retry-After`, or one that says the quota is used up
/// (`x-ratelimit-remaining: 0`), which lasts until `x-ratelimit-reset` (plus a second, as
/// the reset is given in whole seconds). `None`: not a rate limit the headers describe.
pub fn refusal_wait(
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    if let Some(wait) = retry_after(headers, now) {
        return Some(wait);
    }
    let quota = Quota::from_headers(headers)?;
    (quota.remaining == 0).then(|| until(quota.reset, now))
}

/// Whether a 403 or 429 body is GitHub's secondary rate limit: its `message` says "secondary
/// rate limit" ("You have exceeded a secondary rate limit. Please wait a few minutes before
/// you try again.", also "…and have been temporarily blocked from content creation…"), or
/// its `documentation_url` points at `#about-secondary-rate-limits`.
pub fn is_secondary_limit(status: StatusCode, body: &[u8]) -> bool {
    if status != StatusCode::FORBIDDEN && status != StatusCode::TOO_MANY_REQUESTS {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let text = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    text("message").contains("secondary rate limit")
        || text("documentation_url").contains("#about-secondary-rate-limits")
}

fn until(reset: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (reset - now).to_std().unwrap_or(Duration::ZERO) + Duration::from_secs(1)
}

/// Waits out an exhausted quota before the next request. Shared by every request of one
/// connector instance (clones share the state): each response's headers go to
/// [`RateLimitGate::observe`], and [`RateLimitGate::wait`] runs before each request.
#[derive(Debug, Clone, Default)]
pub struct RateLimitGate {
    closed_until: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl RateLimitGate {
    pub fn new() -> Self {
        RateLimitGate::default()
    }

    /// Notes the quota a response reported: with none left, requests wait for the reset.
    pub fn observe(&self, headers: &HeaderMap) {
        let Some(quota) = Quota::from_headers(headers) else {
            return;
        };
        let mut closed = self.closed_until.lock().unwrap_or_else(|p| p.into_inner());
        if quota.remaining == 0 {
            *closed = Some(closed.map_or(quota.reset, |c| c.max(quota.reset)));
        } else if closed.is_some_and(|c| c <= quota.reset) {
            // A later response with quota left means a new window has begun.
            *closed = None;
        }
    }

    /// The wait the next request faces now, if any.
    pub fn pending(&self, now: DateTime<Utc>) -> Option<Duration> {
        let closed = *self.closed_until.lock().unwrap_or_else(|p| p.into_inner());
        closed
            .filter(|c| *c > now - chrono::Duration::seconds(1))
            .map(|c| until(c, now))
    }

    /// Sleeps until the quota resets, when it is used up; ends early on `cancel` (returns
    /// false then).
    pub async fn wait(&self, cancel: &CancellationToken) -> bool {
        let Some(wait) = self.pending(Utc::now()) else {
            return true;
        };
        tracing::warn!(
            wait_secs = wait.as_secs(),
            "the API's rate limit is used up; waiting for it to reset"
        );
        let done = tokio::select! {
            biased;
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        };
        if done {
            let mut closed = self.closed_until.lock().unwrap_or_else(|p| p.into_inner());
            if closed.is_some_and(|c| c <= Utc::now()) {
                *closed = None;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn refusals_that_are_rate_limits() {
        let now = at("2026-10-01T12:00:00Z");
        let reset = (now.timestamp() + 30).to_string();
        let secondary = headers(&[("retry-after", "60")]);
        assert_eq!(
            refusal_wait(StatusCode::FORBIDDEN, &secondary, now),
            Some(Duration::from_secs(60))
        );
        let primary = headers(&[(REMAINING, "0"), (RESET, &reset)]);
        assert_eq!(
            refusal_wait(StatusCode::FORBIDDEN, &primary, now),
            Some(Duration::from_secs(31))
        );
        // A plain permission refusal (quota left, no Retry-After) is not retried.
        let plain = headers(&[(REMAINING, "4999"), (RESET, &reset)]);
        assert_eq!(refusal_wait(StatusCode::FORBIDDEN, &plain, now), None);
        assert_eq!(refusal_wait(StatusCode::NOT_FOUND, &secondary, now), None);
    }

    #[test]
    fn secondary_limits_are_told_by_their_body() {
        // GitHub's documented error body for a secondary limit.
        let secondary = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;
        assert!(is_secondary_limit(StatusCode::FORBIDDEN, secondary));
        assert!(is_secondary_limit(StatusCode::TOO_MANY_REQUESTS, secondary));
        assert!(!is_secondary_limit(StatusCode::NOT_FOUND, secondary));
        // A plain refusal of permission is not one.
        let plain = br#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/issues/issues#list-repository-issues","status":"403"}"#;
        assert!(!is_secondary_limit(StatusCode::FORBIDDEN, plain));
        assert!(!is_secondary_limit(
            StatusCode::FORBIDDEN,
            b"<html>Forbidden</html>"
        ));
    }

    #[test]
    fn the_gate_closes_on_an_empty_quota_and_opens_on_a_new_window() {
        let gate = RateLimitGate::new();
        let now = Utc::now();
        assert_eq!(gate.pending(now), None);
        let reset = (now.timestamp() + 20).to_string();
        gate.observe(&headers(&[(REMAINING, "3"), (RESET, &reset)]));
        assert_eq!(gate.pending(now), None);
        gate.observe(&headers(&[(REMAINING, "0"), (RESET, &reset)]));
        let wait = gate.pending(now).unwrap();
        assert!(
            wait >= Duration::from_secs(19) && wait <= Duration::from_secs(21),
            "{wait:?}"
        );
        let next = (now.timestamp() + 3600).to_string();
        gate.observe(&headers(&[(REMAINING, "5000"), (RESET, &next)]));
        assert_eq!(gate.pending(now), None);
    }
}
