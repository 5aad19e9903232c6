//! What every HTTP connector's `Settings` shares: the defaults of the common keys, their
//! checks, and the error naming a setting that cannot work.
//!
//! Each connector keeps its own strict `Settings` struct (serde's `deny_unknown_fields`
//! does not work through `flatten`) with the fields `url`, `user`, `token_env`,
//! `lookback_days`, `max_concurrency` and `timeout_secs`, and points their serde defaults
//! here, e.g. `#[serde(default = "tally_http::settings::default_lookback_days")]`.

use std::time::Duration;

use tally_core::ConnectorError;

use crate::{parse_base_url, HttpOptions};

/// How far back a first run reaches: 365 days.
pub fn default_lookback_days() -> u32 {
    365
}

/// Items per listing page: 100.
pub fn default_page_size() -> u32 {
    100
}

/// Requests in flight at once: 4.
pub fn default_max_concurrency() -> usize {
    4
}

/// Seconds allowed for one request: 60.
pub fn default_timeout_secs() -> u64 {
    60
}

/// A setting that cannot work, named with its connector and key.
#[derive(Debug, thiserror::Error)]
#[error("connector '{connector}': {key}: {reason}")]
pub struct SettingsError {
    pub connector: String,
    pub key: &'static str,
    pub reason: String,
}

impl From<SettingsError> for ConnectorError {
    fn from(e: SettingsError) -> Self {
        ConnectorError::Config(e.to_string())
    }
}

/// The common keys of one connector's settings, for [`validate_common`].
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    pub url: &'a str,
    pub token_env: &'a str,
    /// What `token_env` holds, for the error when it is empty: "API token",
    /// "personal access token".
    pub secret: &'a str,
    pub lookback_days: u32,
    /// The connector's `page_size` (1–100), when it has one.
    pub page_size: Option<u32>,
    pub max_concurrency: usize,
    pub timeout_secs: u64,
}

/// Checks the common keys in this order, and fails on the first that cannot work: `url`
/// (with [`parse_base_url`]), `token_env` not empty, `lookback_days` at least 1,
/// `page_size` between 1 and 100, `max_concurrency` between 1 and 32, `timeout_secs` at
/// least 1.
pub fn validate_common(connector: &str, s: &Common<'_>) -> Result<(), ConnectorError> {
    let bad = |key: &'static str, reason: String| {
        Err(SettingsError {
            connector: connector.to_string(),
            key,
            reason,
        }
        .into())
    };
    parse_base_url(connector, s.url)?;
    if s.token_env.trim().is_empty() {
        return bad(
            "token_env",
            format!(
                "empty: name the environment variable that holds the {}",
                s.secret
            ),
        );
    }
    if s.lookback_days == 0 {
        return bad("lookback_days", "must be at least 1".to_string());
    }
    if s.page_size.is_some_and(|p| !(1..=100).contains(&p)) {
        return bad("page_size", "must be between 1 and 100".to_string());
    }
    if !(1..=32).contains(&s.max_concurrency) {
        return bad("max_concurrency", "must be between 1 and 32".to_string());
    }
    if s.timeout_secs == 0 {
        return bad("timeout_secs", "must be at least 1".to_string());
    }
    Ok(())
}

/// The default [`HttpOptions`] with a connector's `timeout_secs` and `max_concurrency`.
pub fn http_options(timeout_secs: u64, max_concurrency: usize) -> HttpOptions {
    HttpOptions {
        request_timeout: Duration::from_secs(timeout_secs),
        max_concurrency,
        ..HttpOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common() -> Common<'static> {
        Common {
            url: "https://tracker.example",
            token_env: "TOKEN",
            secret: "API token",
            lookback_days: default_lookback_days(),
            page_size: Some(default_page_size()),
            max_concurrency: default_max_concurrency(),
            timeout_secs: default_timeout_secs(),
        }
    }

    fn error(s: Common<'_>) -> String {
        match validate_common("t", &s) {
            Err(e) => e.to_string(),
            Ok(()) => panic!("expected {s:?} to fail"),
        }
    }

    #[test]
    fn the_defaults_pass_and_each_bad_key_is_named() {
        assert!(validate_common("t", &common()).is_ok());
        assert!(validate_common(
            "t",
            &Common {
                page_size: None,
                ..common()
            }
        )
        .is_ok());
        let cases = [
            (
                Common {
                    url: "not a url",
                    ..common()
                },
                "url",
            ),
            (
                Common {
                    token_env: " ",
                    ..common()
                },
                "connector 't': token_env: empty: name the environment variable that holds \
                 the API token",
            ),
            (
                Common {
                    lookback_days: 0,
                    ..common()
                },
                "connector 't': lookback_days: must be at least 1",
            ),
            (
                Common {
                    page_size: Some(101),
                    ..common()
                },
                "connector 't': page_size: must be between 1 and 100",
            ),
            (
                Common {
                    max_concurrency: 33,
                    ..common()
                },
                "connector 't': max_concurrency: must be between 1 and 32",
            ),
            (
                Common {
                    timeout_secs: 0,
                    ..common()
                },
                "connector 't': timeout_secs: must be at least 1",
            ),
        ];
        for (s, expect) in cases {
            let e = error(s);
            assert!(e.contains(expect), "{e}");
        }
    }
}
