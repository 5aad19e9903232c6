//! The Azure DevOps connector: who touched which work items, on Azure DevOps Services
//! (`https://dev.azure.com/<org>`) and Azure DevOps Server (`https://host/tfs/<collection>`).
//!
//! It walks the reporting work item revisions API (`_apis/wit/reporting/workitemrevisions`)
//! from its saved continuation token (the watermark), so each run reads only revisions made
//! since the last one; a first run starts at `startDateTime` = now − `lookback_days`. Each
//! revision gives its changer (and, for revision 1, the creator) as `updater` and the
//! configured identity fields (default `System.AssignedTo`) as `mapped_user_field`. For the
//! work items changed, the `updates` API gives attachment authors and hyperlinks, and the
//! comments API gives comment authors and @mentions (resolved to profiles once per run).
//! A work item linked to another system by `link_field` or by a hyperlink under
//! `link_url_prefix` yields a `sync` record. On Services it also reads the User
//! Entitlements API into `account` records (SPEC §2). See `docs/connectors/azure-devops.md`.

mod collect;
mod directory;
mod identity;

use std::sync::Arc;

use async_trait::async_trait;
use tally_http::settings::HttpSettings;
use tally_http::{Auth, Configured, HttpClient, HttpOptions, Url};
use tally_model::{Connector, ConnectorContext, ConnectorError};

pub use directory::{account, entitlements_base};
pub use identity::{html_mentions, person, NameRules, Person};
pub use tally_http::settings::SettingsError;

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "azure-devops";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "Azure DevOps Services and Server work items over REST";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_model::Connector>, tally_model::ConnectorError> {
        build(ctx.name, settings)
    }
}

tally_http::http_settings! {
    mapped_fields = "default_mapped_fields", "Identity fields whose people are `mapped_user_field` \
        observations (reference names, e.g. `System.AssignedTo`, \
        `Microsoft.VSTS.Common.ActivatedBy`, `Custom.Reviewer`). \
        `System.CreatedBy`/`System.ChangedBy` are always `updater`.";
    link_field = "A field (reference name) holding the linked entity's key in another system, e.g. \
        `Custom.JiraKey`.";
    directory = "Read the organization's users (User Entitlements API, Services only) into \
        `account` records at every run (default true). The token needs the scope Member \
        Entitlement Management (Read) `vso.memberentitlementmanagement`.";
    /// `[[connector]] kind = "azure-devops"`, without `name` and `kind` (the config layer
    /// removes them). Unknown keys are errors.
    ///
    /// `url`: The organization or collection URL: `https://dev.azure.com/fabrikam`,
    /// `https://fabrikam.visualstudio.com`, or
    /// `https://tfs.corp.example/tfs/DefaultCollection`. `user`: For basic auth with a
    /// password (Server with NTLM-less basic auth). Usually unset: a personal access token
    /// in `token_env` is sent with an empty user name. `token_env`: The environment
    /// variable holding the personal access token (scope Work Items: Read, `vso.work`).
    pub struct Settings {
        /// Project names to read. Empty: every project of the organization/collection.
        #[serde(default)]
        pub projects: Vec<String>,
        /// Read each changed work item's comments (comment authors, @mentions). One request
        /// per changed work item.
        #[serde(default = "default_true")]
        pub comments: bool,
        /// Read each changed work item's updates (attachment authors, hyperlinks for
        /// `link_url_prefix`). One request per changed work item.
        #[serde(default = "default_true")]
        pub updates: bool,
        /// Server: report `DOMAIN\login` sign-in names as `domain\login` instead of `login`.
        #[serde(default)]
        pub keep_domain: bool,
        /// Hyperlinks (`Hyperlink`, and remote links `System.LinkTypes.Remote.*`) whose URL
        /// starts with this prefix link the work item to the entity named by the rest of the
        /// URL, e.g. `https://corp.atlassian.net/browse/` + `OPS-17`.
        #[serde(default)]
        pub link_url_prefix: Option<String>,
        /// Where the User Entitlements API is; default: `https://vsaex.dev.azure.com/<org>`
        /// for `url`.
        #[serde(default)]
        pub directory_url: Option<String>,
        /// The REST API version: `7.1` (Services, Server 2022) by default; `6.0` for Server
        /// 2020, `5.0` for Server 2019.
        #[serde(default = "default_api_version")]
        pub api_version: String,
    }
}

fn default_mapped_fields() -> Vec<String> {
    vec!["System.AssignedTo".to_string()]
}

fn default_true() -> bool {
    true
}

fn default_api_version() -> String {
    "7.1".to_string()
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
        self.checked(connector, "personal access token", None)?;
        let version_ok = {
            let mut parts = self.api_version.split('.');
            let (major, minor) = (parts.next(), parts.next());
            major.is_some_and(|m| m.parse::<u32>().is_ok_and(|m| m >= 5))
                && minor.is_some_and(|m| m.parse::<u32>().is_ok())
                && parts.next().is_none()
        };
        if !version_ok {
            return bad(
                "api_version",
                "must be a version like \"7.1\" (Server 2019 and later: 5.0 or higher)",
            );
        }
        // A project name goes into the URL path; Azure DevOps forbids these characters in
        // project names anyway.
        if let Some(p) = self
            .projects
            .iter()
            .find(|p| p.trim().is_empty() || p.contains(['/', '\\', '?', '#', '%']))
        {
            return bad(
                "projects",
                &format!("{p:?} is not a project name (like \"Fabrikam-Fiber-Git\")"),
            );
        }
        if let Some(f) = self.mapped_fields.iter().find(|f| f.trim().is_empty()) {
            return bad(
                "mapped_fields",
                &format!("{f:?} is not a field reference name"),
            );
        }
        let links = self.link_field.is_some() || self.link_url_prefix.is_some();
        if links && self.link_system.is_none() {
            return bad(
                "link_system",
                "is needed with link_field or link_url_prefix: the name of the other system \
                 as shown in reports (e.g. \"Jira\")",
            );
        }
        if !links && self.link_system.is_some() {
            return bad(
                "link_system",
                "is set without link_field or link_url_prefix: say how a work item names \
                 the other side's key",
            );
        }
        if let Some(u) = &self.directory_url {
            if let Err(e) = tally_http::parse_base_url(connector, u) {
                return bad("directory_url", &e.to_string());
            }
        }
        if self.link_url_prefix.is_some() && !self.updates {
            return bad(
                "link_url_prefix",
                "needs updates = true: hyperlinks are read from the work item updates",
            );
        }
        Ok(())
    }
}

/// Checks `settings` and makes the connector. The token is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(AzureDevOpsConnector::new(
        name, settings, options,
    )?))
}

pub struct AzureDevOpsConnector(Configured<Settings>);

impl AzureDevOpsConnector {
    /// Like [`build`], with the HTTP client's timeouts and retries given (tests shorten
    /// them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Ok(AzureDevOpsConnector(Configured::new(
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

    fn client(&self, base: &str) -> Result<HttpClient, ConnectorError> {
        // A PAT goes as basic auth with an empty user name, as Azure DevOps documents.
        self.0.client(base, |t| Auth::Basic {
            user: String::new(),
            secret: t,
        })
    }
}

impl AzureDevOpsConnector {
    /// Reads the User Entitlements API. What the server refuses is a warning naming the
    /// scope that is missing: the work items are read all the same.
    async fn read_directory(
        &self,
        ctx: &ConnectorContext,
        url: &Url,
    ) -> Result<(), ConnectorError> {
        let base = match self
            .0
            .settings
            .directory_url
            .clone()
            .or_else(|| entitlements_base(url))
        {
            Some(b) => b,
            None => {
                return ctx
                    .warn(
                        "Azure DevOps Server has no User Entitlements API, so no accounts are \
                         read; set directory = false to leave it out, or directory_url where \
                         the API is",
                    )
                    .await
            }
        };
        let client = self.client(&base)?;
        let rules = NameRules {
            keep_domain: self.0.settings.keep_domain,
        };
        let cancel = ctx.shutdown().clone();
        match directory::read(&client, ctx, &cancel, self.system(), rules).await {
            Ok(_) => Ok(()),
            Err(directory::DirectoryError::Connector(e)) => Err(e),
            Err(directory::DirectoryError::Http(e)) if e.is_cancelled() => {
                Err(ConnectorError::Cancelled)
            }
            Err(directory::DirectoryError::Http(e)) => {
                ctx.warn(format!(
                    "the organization's users (User Entitlements API) could not be read \
                     completely ({e}); the accounts read before are kept and work items are \
                     still collected; the token needs the scope Member Entitlement \
                     Management (Read) and a user with at least Basic access"
                ))
                .await
            }
        }
    }
}

/// Where the Identities API lives: on Services it is a separate host (`vssps`), on Server
/// it is part of the collection.
pub fn identities_base(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "dev.azure.com" {
        let org = url.path_segments().and_then(|mut s| s.next()).unwrap_or("");
        return format!("https://vssps.dev.azure.com/{org}/");
    }
    if let Some(org) = host.strip_suffix(".visualstudio.com") {
        if !org.contains('.') {
            return format!("https://{org}.vssps.visualstudio.com/");
        }
    }
    url.to_string()
}

#[async_trait]
impl Connector for AzureDevOpsConnector {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client(&self.0.settings.url)?;
        if self.0.settings.directory {
            self.read_directory(&ctx, client.base_url()).await?;
        }
        let identities = self.client(&identities_base(client.base_url()))?;
        collect::Collector::new(
            client,
            identities,
            self.system().to_string(),
            &self.0.settings,
        )
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
        let s = parse("url = 'https://dev.azure.com/fabrikam'\ntoken_env = 'ADO_PAT'").unwrap();
        assert_eq!(s.mapped_fields, ["System.AssignedTo"]);
        assert_eq!(s.lookback_days, 365);
        assert!(s.comments && s.updates && !s.keep_domain);
        assert!(s.validate("ado").is_ok());
        let e = parse("url = 'https://x'\ntoken_env = 'T'\nproject = ['A']").unwrap_err();
        assert!(e.contains("project"), "{e}");
    }

    #[test]
    fn validation_names_the_key() {
        let base = "url = 'https://dev.azure.com/fabrikam'\ntoken_env = 'ADO_PAT'";
        let cases = [
            ("link_field = 'Custom.JiraKey'", "link_system"),
            ("link_url_prefix = 'https://x/browse/'", "link_system"),
            ("projects = ['a/b']", "projects"),
            ("api_version = 'latest'", "api_version"),
            (
                "link_url_prefix = 'https://x/'\nlink_system = 'Jira'\nupdates = false",
                "updates",
            ),
        ];
        for (extra, expect) in cases {
            let s = parse(&format!("{base}\n{extra}")).unwrap();
            let e = s.validate("ado-main").unwrap_err().to_string();
            assert!(e.contains(expect) && e.contains("ado-main"), "{extra}: {e}");
        }
    }

    #[test]
    fn identities_host() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            identities_base(&u("https://dev.azure.com/fabrikam/")),
            "https://vssps.dev.azure.com/fabrikam/"
        );
        assert_eq!(
            identities_base(&u("https://fabrikam.visualstudio.com/")),
            "https://fabrikam.vssps.visualstudio.com/"
        );
        assert_eq!(
            identities_base(&u("https://tfs.corp.example/tfs/DefaultCollection/")),
            "https://tfs.corp.example/tfs/DefaultCollection/"
        );
    }
}
