//! The GitLab connector: who touched which issues and merge requests, and who holds an
//! account, read over GitLab's REST API v4 (GitLab.com and self-managed).
//!
//! For each configured group and project it walks issues and merge requests changed
//! since its cursor (`updated_after`), reads their notes, and yields one `user`
//! observation per person and interaction (SPEC §2): authors, closers, mergers and the
//! writers of system notes (`updater`), writers of other notes (`comment_author`),
//! assignees and reviewers (`mapped_user_field`), `@username` mentions (`mention`), and
//! uploaders (`attachment_author`) from the project uploads list and from upload links in
//! the text. The directory (`GET /users` for an administrator's token, else the members of
//! the configured groups and projects) gives `account` records and the e-mail addresses
//! and bot flags of the people observed. Issues and merge requests with a link label
//! (`link_label_prefix`) yield `sync` records. See `docs/connectors/gitlab.md`.

mod api;
mod collect;
mod directory;
mod mentions;

use std::sync::Arc;

use async_trait::async_trait;
use tally_http::settings::{link_pair, HttpSettings};
use tally_http::{parse_base_url, Auth, Configured, HttpClient, HttpOptions};
use tally_model::{Connector, ConnectorContext, ConnectorError};

pub use mentions::{links_upload, mentioned_usernames};

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "gitlab";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "GitLab issues, merge requests, notes, uploads and users over REST v4 (GitLab.com and self-managed)";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        build(ctx.name, settings)
    }
}

/// The header GitLab reads a personal, group or project access token from.
pub const TOKEN_HEADER: &str = "PRIVATE-TOKEN";

/// The user fields `mapped_fields` may name.
pub const MAPPED_FIELDS: [&str; 3] = ["assignees", "reviewers", "author"];

tally_http::http_settings! {
    url_default = "default_url";
    page_size = "Items per listing page (`per_page`, 1–100; default 100, GitLab's maximum).";
    mapped_fields = "default_mapped_fields", "User fields whose people are `mapped_user_field` \
        observations: `assignees`, `reviewers`, `author`.";
    directory = "Read the user directory into `account` records (default true).";
    /// `[[connector]] kind = "gitlab"`, without `name` and `kind` (the config layer removes
    /// them). Unknown keys are errors.
    ///
    /// `url`: The GitLab root, e.g. `https://gitlab.com` (the default) or
    /// `https://gitlab.example.com`; `/api/v4` is added unless the URL already ends in it.
    /// `user`: Not used by GitLab, which takes a token alone; accepted only to say so
    /// clearly. `token_env`: The environment variable holding a personal, group or project
    /// access token (scope `read_api`).
    pub struct Settings {
        /// Group paths or ids (`my-group`, `my-group/sub`); subgroups are included.
        #[serde(default)]
        pub groups: Vec<String>,
        /// Project paths or ids (`my-group/my-project`).
        #[serde(default)]
        pub projects: Vec<String>,
        /// Read merge requests as well as issues (default true).
        #[serde(default = "yes")]
        pub merge_requests: bool,
        /// Read the projects' uploads lists (`GET /projects/:id/uploads`, Maintainer role,
        /// GitLab 17.2 and later; default true).
        #[serde(default = "yes")]
        pub uploads: bool,
        /// Labels starting with this prefix name the linked entity in another system, e.g.
        /// `"Jira::"` for the scoped label `Jira::OPS-17`; each yields a `sync` record.
        #[serde(default)]
        pub link_label_prefix: Option<String>,
    }
}

fn default_url() -> String {
    "https://gitlab.com".to_string()
}

fn default_mapped_fields() -> Vec<String> {
    vec!["assignees".to_string(), "reviewers".to_string()]
}

fn yes() -> bool {
    true
}

/// The REST root under the configured URL: `…/api/v4/`.
fn api_root(name: &str, url: &str) -> Result<String, ConnectorError> {
    let base = parse_base_url(name, url)?;
    let path = base.path().trim_end_matches('/');
    if path.ends_with("/api/v4") {
        return Ok(base.to_string());
    }
    Ok(format!("{base}api/v4/"))
}

/// Checks `settings` and makes the connector. The token is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(GitLabConnector::new(name, settings, options)?))
}

impl GitLabConnector {
    /// [`build`] with the client's timeouts and retries given (tests shorten them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<GitLabConnector, ConnectorError> {
        let base = Configured::new(name, settings, options, |s| check(name, s))?;
        let api_url = api_root(name, &base.settings.url)?;
        Ok(GitLabConnector { base, api_url })
    }
}

fn check(name: &str, settings: &Settings) -> Result<(), ConnectorError> {
    let config = |msg: String| ConnectorError::Config(format!("connector '{name}': {msg}"));
    settings.checked(name, "GitLab access token", Some(settings.page_size))?;
    if settings.user.is_some() {
        return Err(config(
            "user: GitLab's API takes an access token alone; remove `user` and keep the \
             token in the variable named by token_env"
                .into(),
        ));
    }
    if settings.groups.is_empty() && settings.projects.is_empty() {
        return Err(config(
            "groups, projects: name at least one group (`groups = [\"my-group\"]`) or \
             project (`projects = [\"my-group/my-project\"]`) to read"
                .into(),
        ));
    }
    for (key, list) in [
        ("groups", &settings.groups),
        ("projects", &settings.projects),
    ] {
        if let Some(p) = list.iter().find(|p| p.trim().is_empty()) {
            return Err(config(format!("{key} contains an empty path ({p:?})")));
        }
    }
    if let Some(f) = settings
        .mapped_fields
        .iter()
        .find(|f| !MAPPED_FIELDS.iter().any(|m| m.eq_ignore_ascii_case(f)))
    {
        return Err(config(format!(
            "mapped_fields: unknown field {f:?}; use any of {}",
            MAPPED_FIELDS.join(", ")
        )));
    }
    if settings
        .link_label_prefix
        .as_ref()
        .is_some_and(|p| p.trim().is_empty())
    {
        return Err(config(
            "link_label_prefix is empty: every label would be a link".into(),
        ));
    }
    link_pair(
        name,
        "link_label_prefix",
        settings.link_label_prefix.is_some(),
        settings.link_system.as_deref(),
        "name the label prefix that holds the other side's key (e.g. \"Jira::\")",
    )
}

pub struct GitLabConnector {
    base: Configured<Settings>,
    api_url: String,
}

impl GitLabConnector {
    /// The system name in reports.
    pub fn system(&self) -> &str {
        &self.base.system
    }

    fn client(&self) -> Result<HttpClient, ConnectorError> {
        // `check` refused `user`, so the token always goes in GitLab's own header.
        self.base.client(&self.api_url, |secret| Auth::Header {
            name: TOKEN_HEADER,
            secret,
        })
    }
}

#[async_trait]
impl Connector for GitLabConnector {
    fn name(&self) -> &str {
        &self.base.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client()?;
        collect::Collector::new(
            api::Api::new(client),
            self.system().to_string(),
            &self.base.settings,
        )
        .run(&ctx)
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Settings, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let s = parse(serde_json::json!({"token_env": "GL", "groups": ["ops"]})).unwrap();
        assert_eq!(s.url, "https://gitlab.com");
        assert_eq!(s.lookback_days, 365);
        assert_eq!(s.page_size, 100);
        assert_eq!(s.mapped_fields, vec!["assignees", "reviewers"]);
        assert!(s.merge_requests && s.uploads && s.directory);
        let e = parse(serde_json::json!({"token_env": "GL", "group": ["ops"]})).unwrap_err();
        assert!(e.contains("group"), "{e}");
    }

    #[test]
    fn api_root_is_added_once() {
        assert_eq!(
            api_root("g", "https://gitlab.example.com").unwrap(),
            "https://gitlab.example.com/api/v4/"
        );
        assert_eq!(
            api_root("g", "https://host.example/gitlab/").unwrap(),
            "https://host.example/gitlab/api/v4/"
        );
        assert_eq!(
            api_root("g", "https://gitlab.com/api/v4").unwrap(),
            "https://gitlab.com/api/v4/"
        );
    }

    #[test]
    fn build_checks_settings() {
        let ok = parse(serde_json::json!({"token_env": "GL", "projects": ["a/b"]})).unwrap();
        let c = build("gitlab-main", ok).unwrap();
        assert_eq!((c.kind(), c.name()), ("gitlab", "gitlab-main"));

        let cases = [
            (serde_json::json!({"token_env": "GL"}), "groups, projects"),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "user": "bob"}),
                "user:",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": [" "]}),
                "groups contains an empty path",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "mapped_fields": ["watchers"]}),
                "mapped_fields: unknown field \"watchers\"",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "link_label_prefix": "Jira::"}),
                "link_label_prefix needs link_system",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "link_system": "Jira"}),
                "link_system is set without link_label_prefix",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "page_size": 0}),
                "connector 'g': page_size",
            ),
            (
                serde_json::json!({"token_env": "GL", "groups": ["a"], "url": "gitlab.com"}),
                "url",
            ),
        ];
        for (v, expect) in cases {
            let e = build("g", parse(v).unwrap()).err().unwrap().to_string();
            assert!(e.contains(expect), "{e} should contain {expect}");
            assert!(e.contains("'g'"), "{e}");
        }
    }
}
