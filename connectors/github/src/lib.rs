//! The GitHub connector: who touched which issues and pull requests, and who holds a seat,
//! read over GitHub's REST API (github.com, GitHub Enterprise Cloud and Enterprise Server).
//!
//! Per repository it walks issues and pull requests changed since its cursor
//! (`since`, `state=all`), their timelines (changers) and requested reviewers, issue
//! comments and pull-request review comments (`since`), and yields one `user` observation
//! per person and interaction (SPEC §2): creators and changers (`updater`), commenters and
//! reviewers (`comment_author`), authors of bodies with uploads (`attachment_author`),
//! assignees and requested reviewers (`mapped_user_field`) and `@login` mentions
//! (`mention`). With `org`, the organisation's members and outside collaborators are
//! `account` records; with `enterprise`, the enterprise's consumed licences add seats,
//! verified e-mails, SSO and two-factor state. See `docs/connectors/github.md`.

mod api;
mod collect;
mod directory;
mod text;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tally_http::settings::{http_options, validate_common, Common};
use tally_http::{auth_from_settings, Auth, HttpClient, HttpOptions};
use tally_model::{BuildContext, Connector, ConnectorContext, ConnectorError, ConnectorFactory};

pub use text::{mentioned_logins, Uploads};

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "github";

/// The REST API of github.com (and of GitHub Enterprise Cloud).
pub const PUBLIC_API: &str = "https://api.github.com";

/// `[[connector]] kind = "github"`, without `name` and `kind` (the config layer removes
/// them). Unknown keys are errors.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The REST API root: `https://api.github.com` (default) or, for GitHub Enterprise
    /// Server, `https://HOST/api/v3`.
    #[serde(default = "default_url")]
    pub url: String,
    /// A login for HTTP basic auth (then `token_env` holds that user's token). Without it,
    /// the token is sent as `Authorization: Bearer` (recommended).
    #[serde(default)]
    pub user: Option<String>,
    /// The environment variable holding the personal access token (or app token).
    pub token_env: String,
    /// An organisation: every repository it has that the token can see, and its members
    /// and outside collaborators as the directory.
    #[serde(default)]
    pub org: Option<String>,
    /// Repositories as `owner/name`, in addition to (or instead of) `org`'s.
    #[serde(default)]
    pub repos: Vec<String>,
    /// An enterprise slug: its consumed licences (`GET /enterprises/{enterprise}/
    /// consumed-licenses`) complete the directory. Needs an enterprise owner's or billing
    /// manager's token.
    #[serde(default)]
    pub enterprise: Option<String>,
    /// How far back the first run reaches, in days of `updated_at`.
    #[serde(default = "tally_http::settings::default_lookback_days")]
    pub lookback_days: u32,
    /// Items per listing page (`per_page`, 1–100, default 100).
    #[serde(default = "tally_http::settings::default_page_size")]
    pub page_size: u32,
    /// Look up each person's profile (`GET /users/{login}`) once per run for their name and
    /// public e-mail, and to tell `@mentions` of real accounts from other `@words`.
    #[serde(default = "yes")]
    pub profiles: bool,
    /// An issue body line starting with this text (case-insensitive), or a label starting
    /// with it, holds the linked entity's key in another system (e.g. `"Jira:"` for a line
    /// `Jira: OPS-17` or a label `Jira:OPS-17`); such an issue yields a `sync` record.
    #[serde(default)]
    pub link_prefix: Option<String>,
    /// The system name of the other side, as shown in reports (e.g. `"Jira"`). Required
    /// with `link_prefix`.
    #[serde(default)]
    pub link_system: Option<String>,
    /// The other side's project. Without it, a key like `OPS-17` gives project `OPS`.
    #[serde(default)]
    pub link_project: Option<String>,
    /// Requests in flight at once (default 4). The connector itself asks one thing at a
    /// time, as GitHub asks integrations to, so this only bounds the client.
    #[serde(default = "tally_http::settings::default_max_concurrency")]
    pub max_concurrency: usize,
    /// Seconds allowed for one request (default 60).
    #[serde(default = "tally_http::settings::default_timeout_secs")]
    pub timeout_secs: u64,
    /// The system name shown in reports; default: the connector's name.
    #[serde(default)]
    pub system: Option<String>,
}

fn default_url() -> String {
    PUBLIC_API.to_string()
}

fn yes() -> bool {
    true
}

/// A GitHub login or organisation name: letters, digits and single hyphens inside, at
/// most 39 characters.
fn valid_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A repository name: letters, digits, `-`, `_` and `.`, not `.` or `..`.
fn valid_repo_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Settings {
    fn validate(&self, name: &str) -> Result<(), ConnectorError> {
        let config = |msg: String| ConnectorError::Config(format!("connector '{name}': {msg}"));
        validate_common(
            name,
            &Common {
                url: &self.url,
                token_env: &self.token_env,
                secret: "personal access token",
                lookback_days: self.lookback_days,
                page_size: Some(self.page_size),
                max_concurrency: self.max_concurrency,
                timeout_secs: self.timeout_secs,
            },
        )?;
        if let Some(org) = &self.org {
            if !valid_login(org.trim()) {
                return Err(config(format!(
                    "org {org:?} is not an organisation name (letters, digits and '-', as in \
                     https://github.com/<org>)"
                )));
            }
        }
        for repo in &self.repos {
            let ok = repo
                .trim()
                .split_once('/')
                .is_some_and(|(o, r)| valid_login(o) && valid_repo_name(r));
            if !ok {
                return Err(config(format!(
                    "repos: {repo:?} is not a repository; write it as \"owner/name\" (as in \
                     https://github.com/owner/name)"
                )));
            }
        }
        if self.org.is_none() && self.repos.is_empty() && self.enterprise.is_none() {
            return Err(config(
                "nothing to read: set org = \"…\" (every repository of an organisation) or \
                 repos = [\"owner/name\", …], and optionally enterprise = \"…\""
                    .into(),
            ));
        }
        if let Some(e) = &self.enterprise {
            let ok = !e.trim().is_empty()
                && e.trim()
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
            if !ok {
                return Err(config(format!(
                    "enterprise {e:?} is not an enterprise slug (as in \
                     https://github.com/enterprises/<slug>)"
                )));
            }
        }
        match (&self.link_prefix, &self.link_system) {
            (Some(p), _) if p.trim().is_empty() => Err(config(
                "link_prefix is empty: write the text that starts a link line, e.g. \"Jira:\""
                    .into(),
            )),
            (Some(_), None) => Err(config(
                "link_prefix needs link_system: the name of the other system as shown in \
                 reports (e.g. \"Jira\")"
                    .into(),
            )),
            (None, Some(_)) => Err(config(
                "link_system is set without link_prefix: name the text that starts a link \
                 line or label (e.g. \"Jira:\")"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// The web host uploads are served from: `github.com` for the public API, the server
    /// itself for Enterprise Server (`https://HOST/api/v3`).
    fn web_host(&self) -> String {
        let host = tally_http::Url::parse(self.url.trim())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        match host.as_str() {
            "api.github.com" => "github.com".to_string(),
            other => other.strip_prefix("api.").unwrap_or(other).to_string(),
        }
    }
}

/// Checks `settings` and makes the connector. The token is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = http_options(settings.timeout_secs, settings.max_concurrency);
    Ok(Arc::new(GithubConnector::new(name, settings, options)?))
}

/// The `github` kind in tally's connector registry.
pub struct Factory;

impl ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str =
        "GitHub issues, pull requests, comments, reviews and the org/enterprise directory over REST";

    fn build(
        settings: Settings,
        ctx: &BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        build(ctx.name, settings)
    }
}

pub struct GithubConnector {
    name: String,
    settings: Settings,
    options: HttpOptions,
}

impl GithubConnector {
    /// Like [`build`], with the HTTP client's timeouts and retries given (tests shorten
    /// them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        settings.validate(name)?;
        Ok(GithubConnector {
            name: name.to_string(),
            settings,
            options,
        })
    }

    /// The system name in reports.
    pub fn system(&self) -> &str {
        self.settings.system.as_deref().unwrap_or(&self.name)
    }

    fn client(&self) -> Result<HttpClient, ConnectorError> {
        let s = &self.settings;
        let auth = auth_from_settings(&self.name, s.user.as_deref(), Some(&s.token_env), |t| {
            Auth::Bearer(t)
        })?;
        Ok(HttpClient::new(
            &self.name,
            &s.url,
            auth,
            Some(&s.token_env),
            self.options.clone(),
        )?)
    }
}

#[async_trait]
impl Connector for GithubConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client()?;
        collect::Collector::new(
            client,
            self.system().to_string(),
            &self.settings,
            self.settings.web_host(),
        )
        .run(&ctx)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(v: serde_json::Value) -> Result<Settings, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let s = settings(json!({"token_env": "GH", "org": "octo-org"})).unwrap();
        assert_eq!(s.url, "https://api.github.com");
        assert_eq!(s.lookback_days, 365);
        assert_eq!(s.page_size, 100);
        assert!(s.profiles);
        assert_eq!(s.web_host(), "github.com");
        let e = settings(json!({"token_env": "GH", "orgs": ["x"]})).unwrap_err();
        assert!(e.contains("orgs"), "{e}");
        let ghes = settings(
            json!({"token_env": "GH", "org": "o", "url": "https://ghe.corp.example/api/v3"}),
        )
        .unwrap();
        assert_eq!(ghes.web_host(), "ghe.corp.example");
    }

    #[test]
    fn build_checks_settings() {
        let ok = settings(json!({"token_env": "GH", "repos": ["octocat/Hello-World"]})).unwrap();
        let c = build("github-main", ok).unwrap();
        assert_eq!((c.kind(), c.name()), ("github", "github-main"));

        let cases = [
            (json!({"token_env": "GH"}), "nothing to read"),
            (
                json!({"token_env": "GH", "repos": ["Hello-World"]}),
                "\"owner/name\"",
            ),
            (json!({"token_env": "GH", "org": "not an org"}), "org"),
            (
                json!({"token_env": "GH", "org": "o", "enterprise": "a b"}),
                "enterprise",
            ),
            (
                json!({"token_env": "GH", "org": "o", "link_prefix": "Jira:"}),
                "link_system",
            ),
            (
                json!({"token_env": "GH", "org": "o", "link_system": "Jira"}),
                "link_prefix",
            ),
            (
                json!({"token_env": "GH", "org": "o", "page_size": 101}),
                "page_size",
            ),
            (json!({"token_env": " ", "org": "o"}), "token_env"),
            (
                json!({"token_env": "GH", "org": "o", "url": "api.github.com"}),
                "url",
            ),
        ];
        for (v, expect) in cases {
            let e = build("g", settings(v.clone()).unwrap())
                .err()
                .unwrap()
                .to_string();
            assert!(
                e.contains("connector 'g'") && e.contains(expect),
                "{v}: {e}"
            );
        }
    }
}
