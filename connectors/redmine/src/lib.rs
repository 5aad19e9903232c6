//! The Redmine connector: who touched which issues, read over Redmine's REST API.
//!
//! It walks issues changed since its cursor (`updated_on`), fetches each with its journals,
//! attachments and watchers, and yields one `user` observation per person and interaction
//! (SPEC §2): issue authors and journal users with changes (`updater`), journal users with
//! notes (`comment_author`), attachment authors, assignees, watchers and configured user
//! custom fields (`mapped_user_field`), and `@login` mentions in notes and descriptions
//! (`mention`). User ids are resolved to profiles once per run. Issues whose link field
//! holds another system's key yield a `sync` record. With an administrator's key it also
//! reads the users directory and yields one `account` record per user (SPEC §2). See
//! `docs/connectors/redmine.md`.

mod api;
mod collect;
mod directory;
mod mentions;

use std::sync::Arc;

use async_trait::async_trait;
use tally_http::settings::{link_pair, HttpSettings};
use tally_http::{Auth, Configured, HttpClient};
use tally_model::{Connector, ConnectorContext, ConnectorError};

pub use directory::ADMINISTRATOR;
pub use mentions::mentioned_logins;

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "redmine";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str =
        "Redmine issues, journals, attachments and watchers over REST";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_model::Connector>, tally_model::ConnectorError> {
        build(ctx.name, settings)
    }
}

/// The header Redmine reads an API key from (the key never goes into a URL, where proxies
/// and server logs would keep it).
pub const API_KEY_HEADER: &str = "X-Redmine-API-Key";

tally_http::http_settings! {
    page_size = "Issues (and directory users) per listing page (default 100, Redmine's usual \
        cap).";
    mapped_fields = "default_mapped_fields", "User fields whose people are `mapped_user_field` \
        observations: `assignee`, `watchers`, `author`, or the name of a custom field of \
        format \"User\".";
    link_field = "The name of an issue custom field holding the linked entity's key in another \
        system (e.g. `\"Jira key\"`); an issue with a value yields a `sync` record.";
    directory = "Read the users directory (`/users.json`, administrators only) and yield one \
        `account` record per user at every run (default true).";
    /// `[[connector]] kind = "redmine"`, without `name` and `kind` (the config layer removes
    /// them). Unknown keys are errors. `url` is the Redmine root, e.g.
    /// `https://redmine.example.org` or `https://host/redmine`; with `user`, `token_env`
    /// holds that login's password, without it an API key sent as `X-Redmine-API-Key`
    /// (recommended).
    pub struct Settings {
        /// Project identifiers to read (as in `/projects/<identifier>`), subprojects
        /// included. Empty: every project the account can see.
        #[serde(default)]
        pub projects: Vec<String>,
    }
}

fn default_mapped_fields() -> Vec<String> {
    vec!["assignee".to_string(), "watchers".to_string()]
}

impl Settings {
    fn validate(&self, name: &str) -> Result<(), ConnectorError> {
        self.checked(name, "API key", Some(self.page_size))?;
        link_pair(
            name,
            "link_field",
            self.link_field.is_some(),
            self.link_system.as_deref(),
            "name the custom field holding the other side's key",
        )?;
        if let Some(p) = self.projects.iter().find(|p| p.trim().is_empty()) {
            return Err(ConnectorError::Config(format!(
                "connector '{name}': projects contains an empty identifier ({p:?})"
            )));
        }
        Ok(())
    }
}

/// Checks `settings` and makes the connector. The API key is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(RedmineConnector(Configured::new(
        name,
        settings,
        options,
        |s| s.validate(name),
    )?)))
}

pub struct RedmineConnector(Configured<Settings>);

impl RedmineConnector {
    /// The system name in reports.
    pub fn system(&self) -> &str {
        &self.0.system
    }

    fn client(&self) -> Result<HttpClient, ConnectorError> {
        self.0.client(&self.0.settings.url, |secret| Auth::Header {
            name: API_KEY_HEADER,
            secret,
        })
    }
}

#[async_trait]
impl Connector for RedmineConnector {
    fn name(&self) -> &str {
        &self.0.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let client = self.client()?;
        collect::Collector::new(client, self.system().to_string(), &self.0.settings)
            .run(&ctx)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Settings, String> {
        let v: serde_json::Value = toml_like(toml_text);
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    // The config crate turns TOML into these values; JSON stands in for it here.
    fn toml_like(s: &str) -> serde_json::Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let s = parse(r#"{"url":"https://r.example","token_env":"RK"}"#).unwrap();
        assert_eq!(s.lookback_days, 365);
        assert_eq!(s.mapped_fields, vec!["assignee", "watchers"]);
        assert_eq!(s.max_concurrency, 4);
        let e =
            parse(r#"{"url":"https://r.example","token_env":"RK","projet":["x"]}"#).unwrap_err();
        assert!(e.contains("projet"), "{e}");
    }

    #[test]
    fn build_checks_settings() {
        let ok = parse(r#"{"url":"https://r.example/redmine","token_env":"RK"}"#).unwrap();
        let c = build("redmine-main", ok).unwrap();
        assert_eq!(c.kind(), "redmine");
        assert_eq!(c.name(), "redmine-main");

        let bad = parse(r#"{"url":"https://r.example","token_env":"RK","link_field":"Jira key"}"#)
            .unwrap();
        let e = build("r", bad).err().unwrap().to_string();
        assert!(e.contains("link_system"), "{e}");

        let bad = parse(r#"{"url":"not a url","token_env":"RK"}"#).unwrap();
        let e = build("r", bad).err().unwrap().to_string();
        assert!(e.contains("url"), "{e}");

        for (key, value) in [
            ("page_size", serde_json::json!(101)),
            ("lookback_days", serde_json::json!(0)),
            ("max_concurrency", serde_json::json!(0)),
            ("timeout_secs", serde_json::json!(0)),
            ("token_env", serde_json::json!(" ")),
        ] {
            let mut v = serde_json::json!({"url": "https://r.example", "token_env": "RK"});
            v[key] = value;
            let s: Settings = serde_json::from_value(v).unwrap();
            let e = build("r", s).err().unwrap().to_string();
            assert!(e.contains(&format!("connector 'r': {key}")), "{e}");
        }
    }
}
