//! The ServiceNow connector: who touched which task records (incidents, problems, change
//! requests, …), and who holds an account, read over ServiceNow's Table API.
//!
//! For each configured table it walks the records changed since its cursor
//! (`sys_updated_on`), page by page (`sysparm_offset`/`sysparm_limit`), and reads for each
//! page the records' journal entries (`sys_journal_field`: comments and work notes),
//! attachments (`sys_attachment`) and audit history (`sys_audit`). It yields one `user`
//! observation per person and interaction (SPEC §2): creators, updaters and auditors of
//! changes (`updater`), journal writers (`comment_author`), attachment creators
//! (`attachment_author`), and the users in reference fields and assignment moves
//! (`mapped_user_field`). `sys_user` gives e-mail addresses, names, the service-account
//! flags, and the `account` records of the directory. Records with a `correlation_id`
//! yield `sync` records. See `docs/connectors/servicenow.md`.

mod collect;
mod people;

use std::sync::Arc;

use async_trait::async_trait;
use tally_http::settings::HttpSettings;
use tally_http::{Auth, Configured, HttpClient, HttpOptions};
use tally_model::{Connector, ConnectorContext, ConnectorError};

/// The `kind` of this connector in the configuration.
pub const KIND: &str = "servicenow";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str =
        "ServiceNow task tables, journal, attachments, audit and sys_user over the Table API";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        build(ctx.name, settings)
    }
}

tally_http::http_settings! {
    page_size = "Records per page (`sysparm_limit`, 1–100; default 100).";
    mapped_fields = "default_mapped_fields", "Reference fields to `sys_user` whose people are \
        `mapped_user_field` observations.";
    directory = "Read `sys_user` into `account` records (default true).";
    /// `[[connector]] kind = "servicenow"`, without `name` and `kind` (the config layer
    /// removes them). Unknown keys are errors.
    ///
    /// `url`: The instance URL, e.g. `https://acme.service-now.com`. `user`: The
    /// integration user for HTTP basic auth; then `token_env` holds its password. Without
    /// it, `token_env` holds an OAuth access token sent as a bearer token. `token_env`: The
    /// environment variable holding the password (or OAuth token).
    pub struct Settings {
        /// The tables to read: `incident`, `problem`, `change_request`, or any other table
        /// extending `task`.
        #[serde(default = "default_tables")]
        pub tables: Vec<String>,
        /// The field holding the linked entity's id in the other system.
        #[serde(default = "default_link_field")]
        pub link_field: String,
        /// The field naming the other system (`correlation_display`); its value is the
        /// system name in reports unless `link_system` is set.
        #[serde(default = "default_link_system_field")]
        pub link_system_field: String,
        /// Read comments and work notes (`sys_journal_field`; default true).
        #[serde(default = "yes")]
        pub journal: bool,
        /// Read attachments (`sys_attachment`; default true).
        #[serde(default = "yes")]
        pub attachments: bool,
        /// Read the audit history (`sys_audit`; default true).
        #[serde(default = "yes")]
        pub audit: bool,
        /// Read `@` mentions of the collected records from `mention_table` (default true);
        /// a table the integration user may not read is a warning.
        #[serde(default = "yes")]
        pub mentions: bool,
        /// The table with one record per `@` mention: `document` (the mentioning record's
        /// `sys_id`), `table`, `user` (the mentioned `sys_user`), `sys_created_on`
        /// (default `live_mention`).
        #[serde(default = "default_mention_table")]
        pub mention_table: String,
    }
}

fn default_tables() -> Vec<String> {
    ["incident", "problem", "change_request"]
        .map(String::from)
        .to_vec()
}

fn default_mapped_fields() -> Vec<String> {
    ["assigned_to", "opened_by", "caller_id"]
        .map(String::from)
        .to_vec()
}

fn default_link_field() -> String {
    "correlation_id".to_string()
}

fn default_mention_table() -> String {
    "live_mention".to_string()
}

fn default_link_system_field() -> String {
    "correlation_display".to_string()
}

fn yes() -> bool {
    true
}

/// A table or field name as ServiceNow spells them: letters, digits and `_`. Anything
/// else would change the meaning of an encoded query.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Checks `settings` and makes the connector. The secret is read when the connector runs,
/// so a missing variable fails this connector alone, with a message naming it.
pub fn build(name: &str, settings: Settings) -> Result<Arc<dyn Connector>, ConnectorError> {
    let options = settings.http_options();
    Ok(Arc::new(ServiceNowConnector::new(name, settings, options)?))
}

pub struct ServiceNowConnector(Configured<Settings>);

impl ServiceNowConnector {
    /// [`build`] with the client's timeouts and retries given (tests shorten them).
    pub fn new(
        name: &str,
        settings: Settings,
        options: HttpOptions,
    ) -> Result<ServiceNowConnector, ConnectorError> {
        Ok(ServiceNowConnector(Configured::new(
            name,
            settings,
            options,
            |s| check(name, s),
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

fn check(name: &str, settings: &Settings) -> Result<(), ConnectorError> {
    let config = |msg: String| ConnectorError::Config(format!("connector '{name}': {msg}"));
    settings.checked(name, "password (or OAuth token)", Some(settings.page_size))?;
    if settings.tables.is_empty() {
        return Err(config(
            "tables is empty: name the tables to read (default incident, problem, \
                 change_request)"
                .into(),
        ));
    }
    for (key, list) in [
        ("tables", &settings.tables),
        ("mapped_fields", &settings.mapped_fields),
    ] {
        if let Some(bad) = list.iter().find(|t| !is_name(t.trim())) {
            return Err(config(format!(
                "{key}: {bad:?} is not a ServiceNow name (letters, digits and _ only, \
                     e.g. \"change_request\")"
            )));
        }
    }
    for (key, value) in [
        ("link_field", &settings.link_field),
        ("link_system_field", &settings.link_system_field),
    ] {
        if !is_name(value.trim()) {
            return Err(config(format!(
                "{key}: {value:?} is not a ServiceNow field name"
            )));
        }
    }
    if !is_name(settings.mention_table.trim()) {
        return Err(config(format!(
            "mention_table: {:?} is not a ServiceNow table name (letters, digits and _ only, \
             e.g. \"live_mention\")",
            settings.mention_table
        )));
    }
    Ok(())
}

#[async_trait]
impl Connector for ServiceNowConnector {
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

    fn parse(v: serde_json::Value) -> Settings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_unknown_keys_and_checks() {
        let s =
            parse(serde_json::json!({"url": "https://acme.service-now.com", "token_env": "SN"}));
        assert_eq!(s.tables, ["incident", "problem", "change_request"]);
        assert_eq!(s.mapped_fields, ["assigned_to", "opened_by", "caller_id"]);
        assert_eq!(
            (s.link_field.as_str(), s.page_size),
            ("correlation_id", 100)
        );
        let e = serde_json::from_value::<Settings>(
            serde_json::json!({"url": "https://a.example", "token_env": "SN", "table": ["x"]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("table"), "{e}");
        assert!(build("sn", s).is_ok());

        let cases = [
            (serde_json::json!({"tables": []}), "tables is empty"),
            (
                serde_json::json!({"tables": ["incident^ORactive=true"]}),
                "tables: \"incident^ORactive=true\" is not a ServiceNow name",
            ),
            (
                serde_json::json!({"mapped_fields": ["assigned to"]}),
                "mapped_fields:",
            ),
            (serde_json::json!({"link_field": ""}), "link_field"),
            (serde_json::json!({"page_size": 500}), "page_size"),
        ];
        for (extra, expect) in cases {
            let mut v = serde_json::json!({"url": "https://a.example", "token_env": "SN"});
            for (k, x) in extra.as_object().unwrap() {
                v[k] = x.clone();
            }
            let e = build("sn", parse(v)).err().unwrap().to_string();
            assert!(e.contains("connector 'sn'") && e.contains(expect), "{e}");
        }
    }
}
