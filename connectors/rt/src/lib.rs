//! The Request Tracker connector: who touched which tickets, read over RT 5's REST 2 API.
//!
//! It lists tickets changed since its cursor (TicketSQL on `LastUpdated`), reads each
//! ticket, its transactions and its attachments, and yields one `user` observation per
//! person and interaction (SPEC §2): the creator of the Create transaction and of field
//! changes (`updater`), the authors of comments and correspondence (`comment_author`),
//! uploaders of attachments (`attachment_author`), and Requestor / Owner / Cc / AdminCc
//! (`mapped_user_field`). Logins are resolved to profiles once per run. RT's own
//! `RT_System` and `Nobody` are not people and are never counted. Tickets whose link custom
//! field holds another system's key yield a `sync` record. The user directory gives one
//! `account` per user: `Disabled` -> disabled, unprivileged users (RT's end users, who have
//! no access to the staff interface) -> not billable. See `docs/connectors/rt.md`.

mod api;
mod collect;

use std::sync::Arc;

use async_trait::async_trait;
use tally_http::settings::{link_pair, HttpSettings};
use tally_http::{Auth, Configured, HttpClient, HttpOptions, Secret};
use tally_model::{Connector, ConnectorContext, ConnectorError};

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "rt";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str =
        "Request Tracker 5 tickets, transactions, attachments and users over REST 2";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        build(ctx.name, settings)
    }
}

/// Where REST 2 lives below the RT root.
const REST2: &str = "REST/2.0/";

tally_http::http_settings! {
    page_size = "Items per listing page (default 100, RT's cap).";
    mapped_fields = "default_mapped_fields", "Ticket roles whose people are `mapped_user_field` \
        observations: any of `Requestor`, `Owner`, `Cc`, `AdminCc`.";
    link_field = "The name of a ticket custom field holding the linked entity's key in another \
        system (e.g. `\"Jira key\"`); a ticket with a value yields a `sync` record.";
    directory = "Read the user directory into `account` records (default true; needs the \
        AdminUsers right).";
    /// `[[connector]] kind = "rt"`, without `name` and `kind` (the config layer removes
    /// them). Unknown keys are errors. `url` is the RT root, e.g. `https://rt.example.org` or
    /// `https://host/rt` (the connector adds `/REST/2.0/`; a URL already ending in it is
    /// accepted too). With `user`, `token_env` holds that login's password; without it, an
    /// RT auth token sent as `Authorization: token …` (recommended).
    pub struct Settings {
        /// Queue names to read. Empty: every queue the account can see.
        #[serde(default)]
        pub queues: Vec<String>,
    }
}

/// The ticket roles RT has for people.
pub const ROLES: [&str; 4] = ["Requestor", "Owner", "Cc", "AdminCc"];

fn default_mapped_fields() -> Vec<String> {
    ROLES.iter().map(|r| r.to_string()).collect()
}

impl Settings {
    fn validate(&self, name: &str) -> Result<(), ConnectorError> {
        let config = |msg: String| ConnectorError::Config(format!("connector '{name}': {msg}"));
        self.checked(
            name,
            "RT auth token (or, with user, the password)",
            Some(self.page_size),
        )?;
        if let Some(f) = self
            .mapped_fields
            .iter()
            .find(|f| !ROLES.iter().any(|r| r.eq_ignore_ascii_case(f.trim())))
        {
            return Err(config(format!(
                "mapped_fields: {f:?} is not a ticket role; use any of Requestor, Owner, Cc, \
                 AdminCc"
            )));
        }
        if let Some(q) = self.queues.iter().find(|q| q.trim().is_empty()) {
            return Err(config(format!(
                "queues contains an empty queue name ({q:?})"
            )));
        }
        link_pair(
            name,
            "link_field",
            self.link_field.is_some(),
            self.link_system.as_deref(),
            "name the ticket custom field holding the other side's key",
        )
    }
}

/// Checks `settings` and makes the connector. The secret is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(RtConnector::new(name, settings, options)?))
}

pub struct RtConnector(Configured<Settings>);

impl RtConnector {
    /// Like [`build`], with the HTTP client's timeouts and retries given (tests shorten
    /// them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Ok(RtConnector(Configured::new(
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

    /// The REST 2 base: the configured root with `REST/2.0/` added unless already there.
    fn api_base(&self) -> String {
        let root = self.0.settings.url.trim().trim_end_matches('/');
        if root.ends_with("/REST/2.0") {
            format!("{root}/")
        } else {
            format!("{root}/{REST2}")
        }
    }

    fn client(&self) -> Result<HttpClient, ConnectorError> {
        // RT reads auth tokens from `Authorization: token <string>`; the whole header value
        // is the secret, so it is scrubbed from errors like any other.
        self.0.client(&self.api_base(), |t| Auth::Header {
            name: "Authorization",
            secret: Secret::new(format!("token {}", t.expose())),
        })
    }
}

#[async_trait]
impl Connector for RtConnector {
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

    fn parse(v: serde_json::Value) -> Result<Settings, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_unknown_keys() {
        let s = parse(serde_json::json!({"url": "https://rt.example", "token_env": "RT_TOKEN"}))
            .unwrap();
        assert_eq!(s.lookback_days, 365);
        assert_eq!(s.mapped_fields, vec!["Requestor", "Owner", "Cc", "AdminCc"]);
        assert_eq!(s.page_size, 100);
        assert!(s.directory);
        assert!(s.queues.is_empty());
        let e = parse(
            serde_json::json!({"url": "https://rt.example", "token_env": "T",
            "queue": ["General"]}),
        )
        .unwrap_err();
        assert!(e.contains("queue"), "{e}");
    }

    #[test]
    fn build_checks_settings() {
        let ok =
            parse(serde_json::json!({"url": "https://rt.example/rt", "token_env": "T"})).unwrap();
        let c = build("rt-main", ok).unwrap();
        assert_eq!((c.kind(), c.name()), ("rt", "rt-main"));

        for (extra, expect) in [
            (
                serde_json::json!({"mapped_fields": ["Watchers"]}),
                "mapped_fields: \"Watchers\" is not a ticket role",
            ),
            (
                serde_json::json!({"queues": [" "]}),
                "queues contains an empty",
            ),
            (
                serde_json::json!({"link_field": "Jira key"}),
                "link_field needs link_system",
            ),
            (
                serde_json::json!({"link_system": "Jira"}),
                "link_system is set without link_field",
            ),
            (serde_json::json!({"url": "rt.example"}), "url"),
            (serde_json::json!({"page_size": 101}), "page_size"),
            (serde_json::json!({"lookback_days": 0}), "lookback_days"),
            (serde_json::json!({"token_env": ""}), "token_env"),
        ] {
            let mut v = serde_json::json!({"url": "https://rt.example", "token_env": "T"});
            for (k, val) in extra.as_object().unwrap() {
                v[k] = val.clone();
            }
            let e = build("r", parse(v).unwrap()).err().unwrap().to_string();
            assert!(e.contains("connector 'r'") && e.contains(expect), "{e}");
        }
    }

    #[test]
    fn the_api_base_is_added_once() {
        for (url, base) in [
            ("https://rt.example", "https://rt.example/REST/2.0/"),
            ("https://host/rt/", "https://host/rt/REST/2.0/"),
            ("https://host/rt/REST/2.0", "https://host/rt/REST/2.0/"),
        ] {
            let s = parse(serde_json::json!({"url": url, "token_env": "T"})).unwrap();
            let c = RtConnector::new("r", s, HttpOptions::default()).unwrap();
            assert_eq!(c.api_base(), base);
        }
    }
}
