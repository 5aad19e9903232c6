//! The errors of HTTP connectors. Each message names the connector and the URL (without
//! secrets) and says what to check, because it is shown as is to the administrator.

use std::time::Duration;

use tally_model::ConnectorError;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The environment variable named by `token_env` is unset or empty.
    #[error(
        "connector '{connector}': environment variable {var} (named by token_env) is not set or \
         is empty; set it to the connector's secret before running tally"
    )]
    MissingSecret { connector: String, var: String },

    /// `token_env` names something that cannot be an environment variable.
    #[error("connector '{connector}': token_env {var:?} is not a valid environment variable name")]
    BadSecretName { connector: String, var: String },

    /// The configured URL cannot be used.
    #[error("connector '{connector}': url {url}: {reason}")]
    InvalidUrl {
        connector: String,
        /// Already redacted.
        url: String,
        reason: String,
    },

    /// The HTTP client could not be built (TLS set-up, bad header value, …).
    #[error("connector '{connector}': cannot set up the HTTP client: {detail}")]
    Client { connector: String, detail: String },

    /// The server answered with a status that is not success, after any retries.
    #[error(
        "connector '{connector}': {method} {url} returned HTTP {status}{after}{detail}: {hint}",
        after = attempts_note(*attempts),
        detail = detail_note(detail)
    )]
    Status {
        connector: String,
        method: &'static str,
        /// Already redacted.
        url: String,
        status: u16,
        attempts: u32,
        /// What the server said, when it said it as text or JSON (scrubbed, shortened).
        detail: Option<String>,
        hint: String,
    },

    /// No answer within the request timeout.
    #[error(
        "connector '{connector}': {method} {url} timed out after {secs}s{after}: check that the \
         host is reachable from this machine (proxy, firewall, VPN) and responsive, or raise \
         timeout_secs",
        secs = timeout.as_secs_f32(),
        after = attempts_note(*attempts)
    )]
    Timeout {
        connector: String,
        method: &'static str,
        url: String,
        timeout: Duration,
        attempts: u32,
    },

    /// The connection failed (DNS, refused, TLS, reset).
    #[error(
        "connector '{connector}': {method} {url} failed{after}: {detail}: check the url and that \
         the host is reachable from this machine",
        after = attempts_note(*attempts)
    )]
    Connect {
        connector: String,
        method: &'static str,
        url: String,
        detail: String,
        attempts: u32,
    },

    /// The body was not the JSON the connector expects.
    #[error(
        "connector '{connector}': {url} returned a response that is not the expected JSON: \
         {detail}; check that url points at the API root (not a login or proxy page)"
    )]
    Json {
        connector: String,
        url: String,
        detail: String,
    },

    /// Collection is shutting down.
    #[error("connector '{connector}': cancelled")]
    Cancelled { connector: String },
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

fn detail_note(detail: &Option<String>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!(" ({d})"),
        _ => String::new(),
    }
}

impl HttpError {
    /// The HTTP status, for errors that have one: lets a connector treat e.g. a 404 for one
    /// user profile as "gone" rather than as a failure of the whole run.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, HttpError::Cancelled { .. })
    }
}

/// What to check for a failing status. `var` is the environment variable that holds the
/// secret (its name, never its value).
pub(crate) fn status_hint(status: u16, var: Option<&str>) -> String {
    let secret = match var {
        Some(v) => format!("the secret in environment variable {v}"),
        None => "the credentials".to_string(),
    };
    match status {
        401 => format!(
            "check the credentials: {secret} (and user, where set) is missing, wrong or expired, \
             or the API is disabled on the server"
        ),
        403 => "check the permissions: the account is authenticated but may not read this \
                (project membership, role, or an administrator-only API)"
            .to_string(),
        404 => "check the url and the project keys/ids in the configuration: the server does \
                not know this resource (or hides it from this account)"
            .to_string(),
        407 => "check the proxy credentials (HTTPS_PROXY)".to_string(),
        429 => {
            "the server kept rate-limiting: lower max_concurrency or run again later".to_string()
        }
        500..=599 => "the server kept failing: check its health and try again later".to_string(),
        _ => "unexpected answer: check the url and the server's API version".to_string(),
    }
}

impl From<HttpError> for ConnectorError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Cancelled { .. } => ConnectorError::Cancelled,
            HttpError::MissingSecret { .. }
            | HttpError::BadSecretName { .. }
            | HttpError::InvalidUrl { .. }
            | HttpError::Client { .. } => ConnectorError::Config(e.to_string()),
            other => ConnectorError::Source(other.to_string()),
        }
    }
}
