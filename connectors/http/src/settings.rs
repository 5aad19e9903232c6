//! What every HTTP connector's `Settings` shares: the common keys declared once
//! ([`http_settings!`](crate::http_settings)), their defaults, their checks, and the error
//! naming a setting that cannot work.
//!
//! serde's `deny_unknown_fields` does not work through `flatten`, so the common keys cannot
//! live in a struct of their own that each connector flattens in. Instead a connector
//! declares its own keys inside `tally_http::http_settings! { … }`, which writes the one
//! strict struct with the common keys added: an unknown key is still an error at its line,
//! and a common key is declared, documented and defaulted in one place.

use std::time::Duration;

use tally_model::ConnectorError;

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

/// On unless switched off: `directory` and the like.
pub fn default_true() -> bool {
    true
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

/// Declares a connector's strict `Settings` struct: the keys given, plus the common keys
/// every HTTP connector takes (SPEC §6), with their defaults:
///
/// | key | type | default |
/// |---|---|---|
/// | `url` | the end system's base URL | required, or the `url_default` given |
/// | `user` | a login for HTTP basic auth (then `token_env` holds the password) | none |
/// | `token_env` | the environment variable holding the secret | required |
/// | `lookback_days` | how far back a first run reaches | 365 |
/// | `max_concurrency` | requests in flight at once | 4 |
/// | `timeout_secs` | seconds allowed for one request | 60 |
/// | `system` | the system name shown in reports | the connector's name |
/// | `link_system` | the other side's system name, for `sync` records | none |
/// | `link_project` | the other side's project (else taken from a key like `OPS-17`) | none |
///
/// What says where an item holds its link (`link_field`, `link_prefix`, …) differs by
/// system, so each connector declares that key itself and checks it with [`link_pair`].
/// `page_size` too is the connector's own (not every API pages by a size), given to
/// [`HttpSettings::checked`].
///
/// Before the struct, in this order, a connector may ask for keys several connectors share
/// but not all have, each with its own doc text:
///
/// - `url_default = "fn_name";`: `url` defaults to `fn_name()` (GitHub's public API,
///   gitlab.com);
/// - `page_size = "doc";`: `page_size: u32`, default 100 (check it with
///   [`HttpSettings::checked`]);
/// - `mapped_fields = "default_fn", "doc";`: `mapped_fields: Vec<String>`, the fields
///   whose people are `mapped_user_field` observations;
/// - `link_field = "doc";`: `link_field: Option<String>`, where an item holds the other
///   side's key (check it with [`link_pair`]);
/// - `directory = "doc";`: `directory: bool`, default true, whether the directory is
///   read into `account` records.
///
/// The struct implements [`HttpSettings`], so [`HttpSettings::common`] gives the common
/// keys to [`validate_common`] and the client.
#[macro_export]
macro_rules! http_settings {
    (
        $(url_default = $url_default:literal;)?
        $(page_size = $page_size_doc:literal;)?
        $(mapped_fields = $mapped_default:literal, $mapped_doc:literal;)?
        $(link_field = $link_field_doc:literal;)?
        $(directory = $directory_doc:literal;)?
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// The end system's base URL.
            $(#[serde(default = $url_default)])?
            pub url: String,
            /// A login for HTTP basic auth; then `token_env` holds the password.
            #[serde(default)]
            pub user: Option<String>,
            /// The environment variable holding the secret.
            pub token_env: String,
            /// How far back the first run reaches, in days.
            #[serde(default = "tally_http::settings::default_lookback_days")]
            pub lookback_days: u32,
            /// Requests in flight at once (default 4).
            #[serde(default = "tally_http::settings::default_max_concurrency")]
            pub max_concurrency: usize,
            /// Seconds allowed for one request (default 60).
            #[serde(default = "tally_http::settings::default_timeout_secs")]
            pub timeout_secs: u64,
            /// The system name shown in reports; default: the connector's name.
            #[serde(default)]
            pub system: Option<String>,
            /// The system name of the other side of a link, as shown in reports (e.g.
            /// `"Jira"`).
            #[serde(default)]
            pub link_system: Option<String>,
            /// The other side's project. Without it, a key like `OPS-17` gives `OPS`.
            #[serde(default)]
            pub link_project: Option<String>,
            $(
                #[doc = $page_size_doc]
                #[serde(default = "tally_http::settings::default_page_size")]
                pub page_size: u32,
            )?
            $(
                #[doc = $mapped_doc]
                #[serde(default = $mapped_default)]
                pub mapped_fields: Vec<String>,
            )?
            $(
                #[doc = $link_field_doc]
                #[serde(default)]
                pub link_field: Option<String>,
            )?
            $(
                #[doc = $directory_doc]
                #[serde(default = "tally_http::settings::default_true")]
                pub directory: bool,
            )?
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $crate::settings::HttpSettings for $name {
            fn common(&self) -> $crate::settings::CommonKeys<'_> {
                $crate::settings::CommonKeys {
                    url: &self.url,
                    user: self.user.as_deref(),
                    token_env: &self.token_env,
                    lookback_days: self.lookback_days,
                    max_concurrency: self.max_concurrency,
                    timeout_secs: self.timeout_secs,
                    system: self.system.as_deref(),
                    link_system: self.link_system.as_deref(),
                    link_project: self.link_project.as_deref(),
                }
            }
        }
    };
}

/// The common keys of a settings struct declared with [`http_settings!`](crate::http_settings).
#[derive(Debug, Clone, Copy)]
pub struct CommonKeys<'a> {
    pub url: &'a str,
    pub user: Option<&'a str>,
    pub token_env: &'a str,
    pub lookback_days: u32,
    pub max_concurrency: usize,
    pub timeout_secs: u64,
    pub system: Option<&'a str>,
    pub link_system: Option<&'a str>,
    pub link_project: Option<&'a str>,
}

/// Implemented by every struct [`http_settings!`](crate::http_settings) declares.
pub trait HttpSettings {
    fn common(&self) -> CommonKeys<'_>;

    /// The system name shown in reports: `system`, else the connector's name.
    fn system_name(&self, connector: &str) -> String {
        self.common()
            .system
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .unwrap_or(connector)
            .to_owned()
    }

    /// The [`HttpOptions`] of `timeout_secs` and `max_concurrency`.
    fn http_options(&self) -> HttpOptions {
        let c = self.common();
        http_options(c.timeout_secs, c.max_concurrency)
    }

    /// [`validate_common`] of the common keys, with the connector's `page_size` if it has
    /// one and the name of what `token_env` holds.
    fn checked(
        &self,
        connector: &str,
        secret: &str,
        page_size: Option<u32>,
    ) -> Result<(), ConnectorError> {
        let c = self.common();
        validate_common(
            connector,
            &Common {
                url: c.url,
                token_env: c.token_env,
                secret,
                lookback_days: c.lookback_days,
                page_size,
                max_concurrency: c.max_concurrency,
                timeout_secs: c.timeout_secs,
            },
        )
    }
}

/// Checks that a connector's link key (`link_field`, `link_prefix`, …) and `link_system`
/// come together: `connector 'x': link_field needs link_system: …` when only the key is
/// set, `connector 'x': link_system is set without link_field: {hint}` when only the
/// system is.
pub fn link_pair(
    connector: &str,
    link_key: &str,
    key_set: bool,
    link_system: Option<&str>,
    hint: &str,
) -> Result<(), ConnectorError> {
    let config = |msg: String| ConnectorError::Config(format!("connector '{connector}': {msg}"));
    match (key_set, link_system.is_some()) {
        (true, false) => Err(config(format!(
            "{link_key} needs link_system: the name of the other system as shown in reports \
             (e.g. \"Jira\")"
        ))),
        (false, true) => Err(config(format!(
            "link_system is set without {link_key}: {hint}"
        ))),
        _ => Ok(()),
    }
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
