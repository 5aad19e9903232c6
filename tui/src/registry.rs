//! The connector kinds this tally knows, and how a `[[connector]]` table becomes a
//! running connector. The only place that knows every built-in connector crate.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tally_config::{Config, ConfigError, ConnectorEntry};
use tally_core::Connector;

/// A connector kind as `tally connectors` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: String,
    pub version: String,
    /// `built-in`, or the path of the plugin library.
    pub origin: String,
    pub description: String,
}

/// The built-in kinds.
pub fn builtin_kinds() -> Vec<KindInfo> {
    let v = env!("CARGO_PKG_VERSION");
    [
        (tally_jsonl::KIND, "SPEC records from a .jsonl file or directory"),
        ("demo", "the built-in synthetic demo organisation"),
        (tally_jira::KIND, "Jira Cloud and Data Center issues over REST"),
        (tally_azure_devops::KIND, "Azure DevOps Services and Server work items over REST"),
    ]
    .into_iter()
    .map(|(kind, description)| KindInfo {
        kind: kind.to_owned(),
        version: v.to_owned(),
        origin: "built-in".to_owned(),
        description: description.to_owned(),
    })
    .collect()
}

/// What building a connector can end in: a bad configuration stops the run (the
/// administrator must fix the file); anything else fails that connector alone.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Builds the connector for `entry`. `as_of` anchors the demo data set.
pub fn build(
    config: &Config,
    entry: &ConnectorEntry,
    as_of: DateTime<Utc>,
) -> Result<Arc<dyn Connector>, BuildError> {
    let failed = |e: tally_core::ConnectorError| config.connector_error(entry, e.to_string());
    match entry.kind.as_str() {
        tally_jsonl::KIND => {
            let settings = config.settings(entry)?;
            Ok(tally_jsonl::build(&entry.name, settings, &config.base_dir).map_err(failed)?)
        }
        tally_jira::KIND => {
            let settings = config.settings(entry)?;
            Ok(tally_jira::build(&entry.name, settings).map_err(failed)?)
        }
        tally_azure_devops::KIND => {
            let settings = config.settings(entry)?;
            Ok(tally_azure_devops::build(&entry.name, settings).map_err(failed)?)
        }
        "demo" => {
            let settings: tally_demo::Settings = config.settings(entry)?;
            Ok(Arc::new(tally_demo::DemoConnector::new(
                &entry.name,
                settings.end.unwrap_or(as_of),
            )))
        }
        other => {
            let known: Vec<String> = builtin_kinds().into_iter().map(|k| k.kind).collect();
            Err(config
                .connector_error(
                    entry,
                    format!(
                        "unknown kind `{other}`; known kinds: {} (see `tally connectors`)",
                        known.join(", ")
                    ),
                )
                .into())
        }
    }
}
