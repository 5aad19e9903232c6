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
use tally_http::settings::{link_pair, HttpSettings};
use tally_http::{Auth, Configured, HttpClient, HttpOptions};
use tally_model::{BuildContext, Connector, ConnectorContext, ConnectorError, ConnectorFactory};

pub use text::{mentioned_logins, Uploads};

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "github";

/// The REST API of github.com (and of GitHub Enterprise Cloud).
pub const PUBLIC_API: &str = "https://api.github.com";

tally_http::http_settings! {
    url_default = "default_url";
    page_size = "Items per listing page (`per_page`, 1–100, default 100).";
    /// `[[connector]] kind = "github"`, without `name` and `kind` (the config layer removes
    /// them). Unknown keys are errors.
    ///
    /// `url`: The REST API root: `https://api.github.com` (default) or, for GitHub
    /// Enterprise Server, `https://HOST/api/v3`. `user`: A login for HTTP basic auth (then
    /// `token_env` holds that user's token). Without it, the token is sent as
    /// `Authorization: Bearer` (recommended). `token_env`: The environment variable holding
    /// the personal access token (or app token).
    pub struct Settings {
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
        /// Look up each person's profile (`GET /users/{login}`) once per run for their name and
        /// public e-mail, and to tell `@mentions` of real accounts from other `@words`.
        #[serde(default = "yes")]
        pub profiles: bool,
        /// An issue body line starting with this text (case-insensitive), or a label starting
        /// with it, holds the linked entity's key in another system (e.g. `"Jira:"` for a line
        /// `Jira: OPS-17` or a label `Jira:OPS-17`); such an issue yields a `sync` record.
        #[serde(default)]
        pub link_prefix: Option<String>,
    }
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
        self.checked(name, "personal access token", Some(self.page_size))?;
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
        if self
            .link_prefix
            .as_ref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(config(
                "link_prefix is empty: write the text that starts a link line, e.g. \"Jira:\""
                    .into(),
            ));
        }
        link_pair(
            name,
            "link_prefix",
            self.link_prefix.is_some(),
            self.link_system.as_deref(),
            "name the text that starts a link line or label (e.g. \"Jira:\")",
        )
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
    let options = settings.http_options();
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

pub struct GithubConnector(Configured<Settings>);

impl GithubConnector {
    /// Like [`build`], with the HTTP client's timeouts and retries given (tests shorten
    /// them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Ok(GithubConnector(Configured::new(
            name,
            settings,
            options,
            |s| s.validate(name),
        )?))
    }

    /// The system name in reports.
    pub fn system(&self) -> &str {
        &self.0.system
    }

    fn client(&self) -> Result<HttpClient, ConnectorError> {
        self.0.client(&self.0.settings.url, Auth::Bearer)
    }
}

#[async_trait]
impl Connector for GithubConnector {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client()?;
        collect::Collector::new(
            client,
            self.system().to_string(),
            &self.0.settings,
            self.0.settings.web_host(),
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
