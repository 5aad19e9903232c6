//! The connector kinds this tally knows, and how a `[[connector]]` table becomes a
//! running connector. The only place that knows every built-in connector crate.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use std::marker::PhantomData;
use tally_config::{Config, ConfigError, ConnectorEntry};

use tally_core::{BuildContext, Connector, ConnectorFactory};
use tally_plugin_host::{self as plugin, PluginSet, UnavailableConnector};

/// A connector kind as `tally connectors` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindInfo {
    pub kind: String,
    pub version: String,
    /// `built-in`, or the path of the plugin library.
    pub origin: String,
    pub description: String,
}

/// A built-in kind as the registry holds it: a [`ConnectorFactory`] behind an object-safe
/// face, so one list can hold every connector crate's factory.
trait BuiltinKind: Sync {
    fn kind(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn build(
        &self,
        config: &Config,
        entry: &ConnectorEntry,
        as_of: DateTime<Utc>,
    ) -> Result<Arc<dyn Connector>, BuildError>;
}

struct Builtin<F>(PhantomData<fn() -> F>);

impl<F: ConnectorFactory> BuiltinKind for Builtin<F> {
    fn kind(&self) -> &'static str {
        F::KIND
    }

    fn description(&self) -> &'static str {
        F::DESCRIPTION
    }

    fn build(
        &self,
        config: &Config,
        entry: &ConnectorEntry,
        as_of: DateTime<Utc>,
    ) -> Result<Arc<dyn Connector>, BuildError> {
        let settings: F::Settings = config.settings(entry)?;
        let ctx = BuildContext {
            name: &entry.name,
            base_dir: &config.base_dir,
            as_of,
        };
        F::build(settings, &ctx).map_err(|e| config.connector_error(entry, e.to_string()).into())
    }
}

/// Names a connector crate's factory in [`BUILTIN`].
const fn builtin<F: ConnectorFactory>() -> &'static dyn BuiltinKind {
    &Builtin::<F>(PhantomData)
}

/// Every built-in connector kind: a new connector crate is one line here.
static BUILTIN: &[&dyn BuiltinKind] = &[
    builtin::<tally_jsonl::Factory>(),
    builtin::<tally_demo::Factory>(),
    builtin::<tally_redmine::Factory>(),
    builtin::<tally_jira::Factory>(),
    builtin::<tally_azure_devops::Factory>(),
    builtin::<tally_github::Factory>(),
    builtin::<tally_rt::Factory>(),
    builtin::<tally_gitlab::Factory>(),
    builtin::<tally_servicenow::Factory>(),
];

/// The built-in kinds.
pub fn builtin_kinds() -> Vec<KindInfo> {
    let v = env!("CARGO_PKG_VERSION");
    BUILTIN
        .iter()
        .map(|k| KindInfo {
            kind: k.kind().to_owned(),
            version: v.to_owned(),
            origin: "built-in".to_owned(),
            description: k.description().to_owned(),
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
    match BUILTIN.iter().find(|k| k.kind() == entry.kind) {
        Some(kind) => kind.build(config, entry, as_of),
        // Not built in: a plugin's kind, or unknown.
        None => build_plugin(config, entry),
    }
}

/// The error for a kind nobody provides: a configuration error (most likely a typo).
fn unknown_kind(config: &Config, entry: &ConnectorEntry, plugin_kinds: &[KindInfo]) -> BuildError {
    let known: Vec<String> = builtin_kinds()
        .into_iter()
        .chain(plugin_kinds.iter().cloned())
        .map(|k| k.kind)
        .collect();
    config
        .connector_error(
            entry,
            format!(
                "unknown kind `{}`; known kinds: {} (see `tally connectors`)",
                entry.kind,
                known.join(", ")
            ),
        )
        .into()
}

// ---- Plugins (SPEC §7): kinds from shared libraries in the plugin directories. ----

/// The plugin directories: the configuration's `[plugins] dirs`, then the default one in
/// the user's data directory when it exists (a missing default is normal; a missing
/// configured one is reported).
pub fn plugin_dirs(config: Option<&Config>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config.map(|c| c.plugin_dirs.clone()).unwrap_or_default();
    if let Some(default) = plugin::default_plugin_dir() {
        // Named in the configuration too? `load_dirs` searches a directory once.
        if default.is_dir() {
            dirs.push(default);
        }
    }
    dirs
}

/// The plugins of `config` (or of the default directory alone), loaded once per process
/// and set of directories: libraries are never unloaded, and the terminal UI, the
/// headless export and the Admin API all build connectors from the same loaded set.
pub fn plugins(config: Option<&Config>) -> Arc<PluginSet> {
    static LOADED: Mutex<Vec<(Vec<PathBuf>, Arc<PluginSet>)>> = Mutex::new(Vec::new());
    let dirs = plugin_dirs(config);
    let reserved: Vec<String> = builtin_kinds().into_iter().map(|k| k.kind).collect();
    let reserved: Vec<&str> = reserved.iter().map(String::as_str).collect();
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, set)) = loaded.iter().find(|(d, _)| *d == dirs) {
        return Arc::clone(set);
    }
    let set = Arc::new(plugin::load_dirs(&dirs, &reserved));
    for problem in &set.problems {
        tracing::warn!(path = %problem.path().display(), "{problem}");
    }
    loaded.push((dirs, Arc::clone(&set)));
    set
}

/// The kinds the loaded plugins provide; origin is the library's path.
pub fn plugin_kinds(set: &PluginSet) -> Vec<KindInfo> {
    set.libraries
        .iter()
        .map(|l| KindInfo {
            kind: l.kind().to_owned(),
            version: l.version().to_owned(),
            origin: l.path().display().to_string(),
            description: l.description().to_owned(),
        })
        .collect()
}

/// Every kind for `tally connectors`: built in, then plugins. The second list says what
/// went wrong (configuration unreadable, plugins refused), one line each, for stderr.
pub fn available_kinds(config_flag: Option<&Path>) -> (Vec<KindInfo>, Vec<String>) {
    let mut problems = Vec::new();
    let config = match config_flag
        .map(Path::to_path_buf)
        .or_else(tally_config::discover)
    {
        Some(path) => match Config::load(&path) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(format!(
                    "{e}; listing the plugins of the default directory only"
                ));
                None
            }
        },
        None => None,
    };
    let set = plugins(config.as_ref());
    problems.extend(set.problems.iter().map(ToString::to_string));
    let mut kinds = builtin_kinds();
    kinds.extend(plugin_kinds(&set));
    (kinds, problems)
}

/// A `[[connector]]` whose kind is not built in: built by its plugin. A plugin that
/// rejects the settings, or a kind that may belong to a plugin that failed to load,
/// gives a connector that fails alone when collection runs, so the others go on.
fn build_plugin(config: &Config, entry: &ConnectorEntry) -> Result<Arc<dyn Connector>, BuildError> {
    let set = plugins(Some(config));
    let unavailable = |reason: String| -> Arc<dyn Connector> {
        Arc::new(UnavailableConnector::new(&entry.name, &entry.kind, reason))
    };
    if let Some(library) = set.find(&entry.kind) {
        let settings = toml_to_json(toml::Value::Table(entry.settings.clone()));
        return Ok(
            match library.create(&entry.name, settings, &config.base_dir) {
                Ok(connector) => Arc::new(connector),
                Err(e) => unavailable(format!("{}:{}: {e}", config.path.display(), entry.line)),
            },
        );
    }
    if set.problems.is_empty() {
        return Err(unknown_kind(config, entry, &plugin_kinds(&set)));
    }
    let refused: Vec<String> = set.problems.iter().map(ToString::to_string).collect();
    Ok(unavailable(format!(
        "{}:{}: no connector of kind `{}`; plugins that failed to load: {}",
        config.path.display(),
        entry.line,
        entry.kind,
        refused.join("; ")
    )))
}

/// Settings as the plugin receives them: JSON, with TOML dates as RFC 3339 strings.
fn toml_to_json(value: toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        toml::Value::String(s) => J::String(s),
        toml::Value::Integer(i) => J::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        toml::Value::Boolean(b) => J::Bool(b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => {
            J::Object(t.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect())
        }
    }
}
