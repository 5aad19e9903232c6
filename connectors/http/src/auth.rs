//! Credentials: read from the environment variable the configuration names, held in a type
//! that never prints its value.

use std::fmt;

use crate::error::HttpError;

/// A secret value. `Debug` and `Display` print `***`, so a secret cannot leak through a
/// `{:?}` in a log line or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building a request header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads the secret of connector `connector` from the environment variable `var`.
/// Surrounding white space is dropped (a trailing newline from `export X=$(cat file)` is a
/// classic cause of 401s); an unset or empty variable is an error naming the variable.
pub fn secret_from_env(connector: &str, var: &str) -> Result<Secret, HttpError> {
    let name = var.trim();
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(HttpError::BadSecretName {
            connector: connector.to_string(),
            var: var.to_string(),
        });
    }
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret(v.trim().to_string())),
        // Not unicode: treated like unset rather than echoing bytes of a secret.
        _ => Err(HttpError::MissingSecret {
            connector: connector.to_string(),
            var: name.to_string(),
        }),
    }
}

/// How requests authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// No credentials (a public server).
    None,
    /// HTTP basic: user plus password or API token (Jira Cloud: email + API token; Azure
    /// DevOps: any user + PAT; Redmine: login + password).
    Basic { user: String, secret: Secret },
    /// `Authorization: Bearer <token>` (Jira Data Center personal access tokens).
    Bearer(Secret),
    /// A custom header carrying the key, e.g. Redmine's `X-Redmine-API-Key`.
    Header { name: &'static str, secret: Secret },
}

impl Auth {
    /// The secret in use, for scrubbing text that leaves this crate.
    pub(crate) fn secret(&self) -> Option<&str> {
        match self {
            Auth::None => None,
            Auth::Basic { secret, .. } | Auth::Bearer(secret) | Auth::Header { secret, .. } => {
                Some(secret.expose())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let a = Auth::Basic {
            user: "svc".into(),
            secret: Secret::new("hunter2-long"),
        };
        let shown = format!("{a:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("svc"));
    }

    #[test]
    fn missing_and_empty_variables_are_named() {
        let e = secret_from_env("redmine-main", "TALLY_TEST_SURELY_UNSET_VAR").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("TALLY_TEST_SURELY_UNSET_VAR"), "{msg}");
        assert!(msg.contains("redmine-main"), "{msg}");
        let e = secret_from_env("x", "").unwrap_err();
        assert!(matches!(e, HttpError::BadSecretName { .. }));
    }
}
