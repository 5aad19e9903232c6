//! The Jira connector: who touched which issues, read over Jira's REST API.
//!
//! Two flavors: **Cloud** (REST v3, `/rest/api/3/search/jql` with `nextPageToken`, rich text
//! in Atlassian Document Format, people identified by `accountId`) and **Data Center**
//! (REST v2, `/rest/api/2/search` with `startAt`, wiki markup, people identified by login).
//!
//! It searches issues with `updated >= <cursor>` ordered by `updated`, with their changelog,
//! and yields one `user` observation per person and interaction (SPEC §2): creators and
//! changelog authors (`updater`), comment authors, attachment authors, people @mentioned in
//! descriptions and comments (`mention`, accountIds resolved to profiles once per run) and
//! the configured user fields (`mapped_user_field`). An issue whose `link_field` holds the
//! other side's key yields a `sync` record. It also reads the user directory into `account`
//! records (SPEC §2), enriched from the Atlassian organization API where `org_id` is set.
//! See `docs/connectors/jira.md`.

mod collect;
mod directory;
mod people;
mod time;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tally_http::settings::HttpSettings;
use tally_http::{auth_from_settings, Auth, Configured, HttpClient, HttpOptions};
use tally_model::{Connector, ConnectorContext, ConnectorError};

pub use directory::{enrich, site_account, OrgUser};
pub use people::{mentions, person, Mention, Person};
pub use tally_http::settings::SettingsError;

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "jira";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "Jira Cloud and Data Center issues over REST";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_model::Connector>, tally_model::ConnectorError> {
        build(ctx.name, settings)
    }
}

/// Which Jira: Atlassian's Cloud, or a self-hosted Data Center / Server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    #[default]
    Cloud,
    DataCenter,
}

impl Flavor {
    /// The REST API version the connector speaks: v3 on Cloud (ADF bodies, `search/jql`),
    /// v2 on Data Center (the only one it has).
    pub fn api(self) -> &'static str {
        match self {
            Flavor::Cloud => "3",
            Flavor::DataCenter => "2",
        }
    }
}

tally_http::http_settings! {
    page_size = "Issues (and directory users) per page (1–100, default 100).";
    mapped_fields = "default_mapped_fields", "Field ids whose people are `mapped_user_field` \
        observations: `assignee`, `reporter`, or a user-picker custom field such as \
        `customfield_10042` (single or multi user).";
    link_field = "The id of the field holding the linked entity's key in another system, e.g. \
        `customfield_10050`; an issue with a value yields a `sync` record.";
    directory = "Read the user directory (Cloud `users/search`, Data Center `user/search`) into \
        `account` records at every run (default true). Needs the global permission \"Browse \
        users and groups\".";
    /// `[[connector]] kind = "jira"`, without `name` and `kind` (the config layer removes
    /// them). Unknown keys are errors.
    ///
    /// `url`: The site root, e.g. `https://corp.atlassian.net` or
    /// `https://jira.corp.example/jira`. `user`: Cloud: the account's email, with an API
    /// token in `token_env` (basic auth). Data Center: a login with its password; without
    /// `user`, `token_env` holds a personal access token sent as a bearer token
    /// (recommended). `token_env`: The environment variable holding the API token, PAT or
    /// password.
    pub struct Settings {
        /// `cloud` (default) or `data-center`.
        #[serde(default)]
        pub flavor: Flavor,
        /// Project keys to read (`OPS`, `WEB`). Empty: every project the account can browse.
        #[serde(default)]
        pub projects: Vec<String>,
        /// An extra JQL condition, ANDed with the project and time conditions (no `ORDER BY`).
        #[serde(default)]
        pub jql: Option<String>,
        /// When the link field holds a URL, the prefix before the other side's key, e.g.
        /// `"https://dev.azure.com/fabrikam/_workitems/edit/"`.
        #[serde(default)]
        pub link_url_prefix: Option<String>,
        /// Cloud: the Atlassian organization id (admin.atlassian.com/o/<orgId>/…). With
        /// `org_token_env`, the organization API adds account status, billing, last activity
        /// and products for managed accounts.
        #[serde(default)]
        pub org_id: Option<String>,
        /// The environment variable holding an organization API key (sent as a bearer token).
        #[serde(default)]
        pub org_token_env: Option<String>,
        /// Where the organization API is (default `https://api.atlassian.com`).
        #[serde(default = "default_org_api_url")]
        pub org_api_url: String,
    }
}

fn default_org_api_url() -> String {
    "https://api.atlassian.com".to_string()
}

fn default_mapped_fields() -> Vec<String> {
    vec!["assignee".to_string(), "reporter".to_string()]
}

impl Settings {
    /// Checks what serde cannot: values that parse but cannot work.
    pub fn validate(&self, connector: &str) -> Result<(), ConnectorError> {
        let bad = |key: &'static str, reason: &str| {
            Err(SettingsError {
                connector: connector.to_string(),
                key,
                reason: reason.to_string(),
            }
            .into())
        };
        self.checked(connector, "API token", Some(self.page_size))?;
        // A key goes into JQL between quotes; a quote or backslash would break out of it.
        if let Some(p) = self
            .projects
            .iter()
            .find(|p| p.trim().is_empty() || p.contains(['"', '\\']))
        {
            return bad(
                "projects",
                &format!("{p:?} is not a project key (like \"OPS\")"),
            );
        }
        if let Some(j) = &self.jql {
            if j.to_ascii_lowercase().contains("order by") {
                return bad(
                    "jql",
                    "must not have ORDER BY: the connector orders by updated itself",
                );
            }
        }
        if let Some(f) = self.mapped_fields.iter().find(|f| f.trim().is_empty()) {
            return bad("mapped_fields", &format!("{f:?} is not a field id"));
        }
        match (&self.org_id, &self.org_token_env) {
            (Some(_), None) => {
                return bad(
                    "org_id",
                    "needs org_token_env: the environment variable holding an organization \
                     API key",
                )
            }
            (None, Some(_)) => {
                return bad(
                    "org_token_env",
                    "needs org_id: the organization id from admin.atlassian.com/o/<orgId>",
                )
            }
            (Some(id), Some(env)) => {
                if self.flavor != Flavor::Cloud {
                    return bad(
                        "org_id",
                        "the organization API is Atlassian Cloud's; Data Center has none",
                    );
                }
                if id.trim().is_empty()
                    || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return bad("org_id", &format!("{id:?} is not an organization id"));
                }
                if env.trim().is_empty() {
                    return bad(
                        "org_token_env",
                        "empty: name the environment variable that holds the API key",
                    );
                }
                if let Err(e) = tally_http::parse_base_url(connector, &self.org_api_url) {
                    return bad("org_api_url", &e.to_string());
                }
            }
            (None, None) => {}
        }
        match (&self.link_field, &self.link_system) {
            (Some(_), None) => bad(
                "link_field",
                "needs link_system: the name of the other system as shown in reports \
                 (e.g. \"Azure DevOps\")",
            ),
            (None, Some(_)) => bad(
                "link_system",
                "is set without link_field: name the field holding the other side's key \
                 (e.g. \"customfield_10050\")",
            ),
            _ => Ok(()),
        }
    }
}

/// Checks `settings` and makes the connector. The secret is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(JiraConnector::new(name, settings, options)?))
}

pub struct JiraConnector(Configured<Settings>);

impl JiraConnector {
    /// Like [`build`], with the HTTP client's timeouts and retries given (tests shorten
    /// them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Ok(JiraConnector(Configured::new(
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
        // Data Center personal access tokens are bearer tokens; Cloud API tokens need the
        // account's email as `user` (a lone Cloud token as bearer is an OAuth access token).
        self.0.client(&self.0.settings.url, Auth::Bearer)
    }
}

impl JiraConnector {
    /// The organization API client, when `org_id` is configured.
    fn org_client(&self) -> Result<Option<HttpClient>, ConnectorError> {
        let (s, name) = (&self.0.settings, &self.0.name);
        let (Some(_), Some(env)) = (&s.org_id, &s.org_token_env) else {
            return Ok(None);
        };
        let auth = auth_from_settings(name, None, Some(env), Auth::Bearer)?;
        Ok(Some(HttpClient::new(
            name,
            &s.org_api_url,
            auth,
            Some(env),
            self.0.options.clone(),
        )?))
    }
}

#[async_trait]
impl Connector for JiraConnector {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client()?;
        if self.0.settings.directory {
            // A missing organization key loses billing and activity, not the run.
            let org = match self.org_client() {
                Ok(org) => org,
                Err(e) => {
                    ctx.warn(format!(
                        "the Atlassian organization API is not read: {e}; accounts come from \
                         the site's user list alone"
                    ))
                    .await?;
                    None
                }
            };
            collect::read_directory(&ctx, &client, org.as_ref(), self.system(), &self.0.settings)
                .await?;
        }
        collect::Collector::new(client, self.system().to_string(), &self.0.settings)
            .run(&ctx)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_strictness() {
        let s = parse(
            "url = 'https://corp.atlassian.net'\nuser = 'svc@corp.example'\ntoken_env = 'JIRA_TOKEN'",
        )
        .unwrap();
        assert_eq!(s.flavor, Flavor::Cloud);
        assert_eq!(s.lookback_days, 365);
        assert_eq!(s.mapped_fields, ["assignee", "reporter"]);
        assert!(s.validate("jira").is_ok());
        let e = parse("url = 'https://x'\ntoken_env = 'T'\nprojetcs = ['OPS']").unwrap_err();
        assert!(e.contains("projetcs"), "{e}");
        let dc = parse("url = 'https://x'\ntoken_env = 'T'\nflavor = 'data-center'").unwrap();
        assert_eq!(dc.flavor, Flavor::DataCenter);
    }

    #[test]
    fn validation_names_the_key() {
        let base = "url = 'https://corp.atlassian.net'\ntoken_env = 'JIRA_TOKEN'";
        let cases = [
            ("link_field = 'customfield_10050'", "link_system"),
            (r#"projects = ['OPS" OR 1=1']"#, "projects"),
            ("jql = 'type = Bug ORDER BY key'", "ORDER BY"),
            ("page_size = 500", "page_size"),
            ("lookback_days = 0", "lookback_days"),
        ];
        for (extra, expect) in cases {
            let s = parse(&format!("{base}\n{extra}")).unwrap();
            let e = s.validate("jira-cloud").unwrap_err().to_string();
            assert!(
                e.contains(expect) && e.contains("jira-cloud"),
                "{extra}: {e}"
            );
        }
    }
}
