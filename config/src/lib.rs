//! tally's configuration (SPEC §6): a TOML file, strictly checked. Every error names the
//! file, the line and the key, and says what to do; secrets are never read from the file,
//! only from environment variables it names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use tally_core::identity::IdentityRules;
use toml::de::{DeTable, DeValue};

mod locate;
use locate::Step;

/// The file name looked for in the working directory and the user's config directory.
pub const FILE_NAME: &str = "tally.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `line` and `column` (1-based) are those of the offending key or value;
    /// `message` starts with its dotted path (`connector[2].lookback_days`) and says
    /// what was expected and what was given.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("environment variable {var} (named by `{key}` of connector `{connector}`) is not set or empty; export it with the secret before running tally")]
    MissingSecret {
        connector: String,
        key: String,
        var: String,
    },
}

/// `[store]`
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Relative paths are relative to the configuration file.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
}

fn default_store_path() -> PathBuf {
    PathBuf::from("tally.db")
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: default_store_path(),
        }
    }
}

/// `[[identity.merge]]`: identifiers (emails, usernames, display names) of one person.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForcedMerge {
    pub identifiers: Vec<String>,
}

/// `[identity]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Handles such as `admin` that must not link people (SPEC §3).
    #[serde(default)]
    pub generic_handles: Vec<String>,
    /// Glob patterns (`*`) marking service accounts, e.g. `"svc-*"`, `"*[bot]"`.
    #[serde(default)]
    pub service_accounts: Vec<String>,
    /// The organisation's own email domains (managed vs external in the insights).
    #[serde(default)]
    pub managed_domains: Vec<String>,
    #[serde(default)]
    pub merge: Vec<ForcedMerge>,
}

impl IdentitySection {
    pub fn rules(&self) -> IdentityRules {
        IdentityRules {
            generic_handles: self.generic_handles.clone(),
            forced_merges: self.merge.iter().map(|m| m.identifiers.clone()).collect(),
        }
    }
}

/// `[plugins]`
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginsSection {
    /// Directories searched for connector plugins, relative to the configuration file.
    #[serde(default)]
    pub dirs: Vec<PathBuf>,
}

/// `[[api.token]]`: a bearer token of the Admin API, stored as its SHA-256 hash.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiToken {
    pub name: String,
    /// The SHA-256 of the token, 64 hex digits, lower-cased on load. The token itself
    /// never appears in the file (`tally token new NAME` prints both).
    #[serde(deserialize_with = "sha256_hex")]
    pub sha256: String,
    pub role: String,
    #[serde(default)]
    pub permissions: Vec<String>,
}

/// The collection interval of `tally serve` when `collect_every` is not set.
pub const DEFAULT_COLLECT_EVERY: Duration = Duration::from_secs(24 * 3600);

/// `[api]`: the Admin API of `tally serve`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    pub listen: Option<String>,
    /// How often `tally serve` collects, written `"30m"`, `"24h"`, `"7d"` (also `s`);
    /// [`ApiSection::collect_interval`] applies the default.
    #[serde(default, deserialize_with = "duration_opt")]
    pub collect_every: Option<Duration>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    #[serde(default)]
    pub token: Vec<ApiToken>,
}

impl ApiSection {
    /// `collect_every`, or [`DEFAULT_COLLECT_EVERY`].
    pub fn collect_interval(&self) -> Duration {
        self.collect_every.unwrap_or(DEFAULT_COLLECT_EVERY)
    }
}

/// Parses `30m`, `24h`, `7d`, `90s`: a positive whole number and one unit. One unit only,
/// so that a value reads the same to everyone (no `1h30m` vs `90m` debates in reviews).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let hint = "write a whole number and a unit: s, m, h or d, e.g. \"30m\", \"24h\", \"7d\"";
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?} is not a duration; {hint}")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration; {hint}"))?;
    if n == 0 {
        return Err(format!("{text:?} must be longer than zero; {hint}"));
    }
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

fn duration_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(d)?;
    parse_duration(&text)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

fn sha256_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let t = text.trim();
    // The value is a hash, not a secret, so it may be quoted back in the error.
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(serde::de::Error::custom(format!(
            "expected the 64 hex digits of the token's SHA-256, found {} characters; `tally token new NAME` prints the line to paste",
            t.chars().count()
        )))
    }
}

/// One `[[connector]]` table: name and kind checked here, the rest handed to the
/// connector's own strict settings type.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorEntry {
    pub name: String,
    pub kind: String,
    /// The table without `name` and `kind`.
    pub settings: toml::Table,
    /// 1-based line of the `[[connector]]` table in the file.
    pub line: usize,
    /// 0-based position among the `[[connector]]` tables (`connector[index + 1]` in
    /// error messages).
    pub index: usize,
}

/// One end of a configured integration (`[[integration]] ends`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntegrationEndSection {
    pub system: String,
    pub project: String,
    #[serde(default)]
    pub entity_types: Vec<String>,
}

/// `[[integration]]`: a project pair the integration platform keeps in sync, for systems
/// whose connectors cannot see the platform's own configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSection {
    pub name: String,
    /// `active` (default) or `inactive`.
    #[serde(default = "default_integration_status")]
    pub status: tally_core::IntegrationStatus,
    /// RFC 3339; default: when the configuration file was last modified.
    pub updated_at: Option<String>,
    pub ends: [IntegrationEndSection; 2],
}

fn default_integration_status() -> tally_core::IntegrationStatus {
    tally_core::IntegrationStatus::Active
}

/// `[insights]` (SPEC §9): the activity thresholds of the access insights, in days.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InsightsSection {
    /// An account is active when its activity is within this many days before `as_of`.
    #[serde(default = "default_active_days")]
    pub active_days: u32,
    /// A seat is dormant when its activity is older than this many days, or none.
    #[serde(default = "default_dormant_days")]
    pub dormant_days: u32,
}

/// The bounds of both `[insights]` thresholds.
pub const INSIGHTS_DAYS: std::ops::RangeInclusive<u32> = 1..=365;

fn default_active_days() -> u32 {
    30
}

fn default_dormant_days() -> u32 {
    90
}

impl Default for InsightsSection {
    fn default() -> Self {
        InsightsSection {
            active_days: default_active_days(),
            dormant_days: default_dormant_days(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    insights: InsightsSection,
    #[serde(default)]
    store: StoreSection,
    #[serde(default)]
    identity: IdentitySection,
    #[serde(default)]
    plugins: PluginsSection,
    #[serde(default)]
    api: ApiSection,
    #[serde(default)]
    connector: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    integration: Vec<toml::Spanned<IntegrationSection>>,
}

/// A loaded configuration. Paths inside are already resolved against its directory.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The file's directory: relative paths in it resolve against this.
    pub base_dir: PathBuf,
    pub store_path: PathBuf,
    pub identity: IdentitySection,
    pub plugin_dirs: Vec<PathBuf>,
    pub api: ApiSection,
    pub connectors: Vec<ConnectorEntry>,
    /// `[[integration]]` tables as records, fed to the store like any connector's.
    pub integrations: Vec<tally_core::Integration>,
    /// `[insights]`, checked: both in 1..=365 and `active_days <= dormant_days`.
    pub insights: InsightsSection,
    /// The file's text, so that errors found later (a connector's own settings) point at
    /// the key.
    text: Arc<str>,
}

/// Turns spans of the configuration text into [`ConfigError::Invalid`] at the key.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
    /// The parsed document; `None` when the text is not TOML at all.
    root: Option<DeTable<'a>>,
}

impl<'a> Locator<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Locator {
            path,
            text,
            root: DeTable::parse(text).ok().map(|t| t.into_inner()),
        }
    }

    /// An error at byte `span`, its message prefixed with the dotted path found there
    /// (unless the message already starts with it).
    fn at(&self, span: Option<Range<usize>>, message: &str) -> ConfigError {
        let offset = span.as_ref().map_or(0, |s| s.start);
        let (line, column) = locate::line_col(self.text, offset);
        let message = locate::plain_message(message).replace('\n', "; ");
        let key = span
            .and(self.root.as_ref())
            .and_then(|root| locate::key_path(root, offset));
        let message = match key {
            Some(k) if !message.starts_with(&k) => format!("{k}: {message}"),
            _ => message,
        };
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// An error at the value found at `steps` (or, failing that, at `fallback`).
    fn at_value(
        &self,
        steps: &[Step<'_>],
        fallback: Option<Range<usize>>,
        message: &str,
    ) -> ConfigError {
        let span = self
            .root
            .as_ref()
            .and_then(|r| locate::span_at(r, steps))
            .or(fallback);
        self.at(span, message)
    }

    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        self.at(e.span(), e.message())
    }
}

impl Config {
    /// Reads and checks the configuration at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(chrono::DateTime::<chrono::Utc>::from);
        Config::parse_modified(&text, path, modified)
    }

    /// Checks `text` as if read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        Config::parse_modified(text, path, None)
    }

    /// Checks `text` as if read from `path`, last modified at `modified` (the default
    /// `updated_at` of configured integrations).
    pub fn parse_modified(
        text: &str,
        path: &Path,
        modified: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Config, ConfigError> {
        let loc = Locator::new(path, text);
        let raw: RawConfig = toml::from_str(text).map_err(|e| loc.toml_error(&e))?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base_dir = if base_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base_dir
        };

        let insights = raw.insights;
        for (key, value) in [
            ("active_days", insights.active_days),
            ("dormant_days", insights.dormant_days),
        ] {
            if !INSIGHTS_DAYS.contains(&value) {
                return Err(loc.at_value(
                    &[Step::Key("insights"), Step::Key(key)],
                    None,
                    &format!(
                        "expected a number of days from {} to {}, found {value}",
                        INSIGHTS_DAYS.start(),
                        INSIGHTS_DAYS.end()
                    ),
                ));
            }
        }
        if insights.active_days > insights.dormant_days {
            return Err(loc.at_value(
                &[Step::Key("insights"), Step::Key("active_days")],
                None,
                &format!(
                    "expected at most `dormant_days` ({}), found {}: an active account cannot be dormant",
                    insights.dormant_days, insights.active_days
                ),
            ));
        }

        let mut names = BTreeSet::new();
        let mut connectors = Vec::new();
        for (index, spanned) in raw.connector.into_iter().enumerate() {
            let table_span = spanned.span();
            let line = locate::line_col(text, table_span.start).0;
            let mut table = spanned.into_inner();
            let at_key = |key: &str, message: &str| {
                loc.at_value(
                    &[Step::Key("connector"), Step::Index(index), Step::Key(key)],
                    Some(table_span.clone()),
                    message,
                )
            };
            let mut take_string = |key: &str| -> Result<String, ConfigError> {
                match table.remove(key) {
                    Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                    Some(v) => Err(at_key(
                        key,
                        &format!("expected a non-empty string, found {}", describe(&v)),
                    )),
                    None => Err(loc.at(
                        Some(table_span.clone()),
                        &format!("connector[{}]: missing the key `{key}`", index + 1),
                    )),
                }
            };
            let name = take_string("name")?;
            let kind = take_string("kind")?;
            if !names.insert(name.clone()) {
                return Err(at_key(
                    "name",
                    &format!("\"{name}\" is used twice; connector names must be unique"),
                ));
            }
            connectors.push(ConnectorEntry {
                name,
                kind,
                settings: table,
                line,
                index,
            });
        }

        let mut integration_names = BTreeSet::new();
        let mut integrations = Vec::new();
        for (index, spanned) in raw.integration.into_iter().enumerate() {
            let table_span = spanned.span();
            let at_key = |key: &str, message: &str| {
                loc.at_value(
                    &[Step::Key("integration"), Step::Index(index), Step::Key(key)],
                    Some(table_span.clone()),
                    message,
                )
            };
            let i = spanned.into_inner();
            if i.name.trim().is_empty() || !integration_names.insert(i.name.trim().to_owned()) {
                return Err(at_key(
                    "name",
                    &format!(
                        "{:?} is empty or used twice; [[integration]] names must be unique",
                        i.name
                    ),
                ));
            }
            let updated_at = match (&i.updated_at, modified) {
                (Some(t), _) => chrono::DateTime::parse_from_rfc3339(t.trim())
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        at_key(
                            "updated_at",
                            &format!(
                                "expected an RFC 3339 time such as \"2026-09-30T08:00:00Z\", found {t:?}"
                            ),
                        )
                    })?,
                (None, Some(m)) => m,
                (None, None) => {
                    return Err(loc.at(
                        Some(table_span.clone()),
                        &format!("integration[{}]: set `updated_at`", index + 1),
                    ))
                }
            };
            let end = |e: IntegrationEndSection| tally_core::IntegrationEnd {
                system: e.system,
                project: e.project,
                entity_types: e.entity_types,
            };
            let [a, b] = i.ends;
            integrations.push(tally_core::Integration {
                name: i.name.trim().to_owned(),
                status: i.status,
                updated_at,
                ends: [end(a), end(b)],
            });
        }

        for (i, m) in raw.identity.merge.iter().enumerate() {
            if m.identifiers.len() < 2 {
                return Err(loc.at_value(
                    &[
                        Step::Key("identity"),
                        Step::Key("merge"),
                        Step::Index(i),
                        Step::Key("identifiers"),
                    ],
                    None,
                    &format!(
                        "expected at least two identifiers of one person, found {}",
                        m.identifiers.len()
                    ),
                ));
            }
        }

        let mut token_names = BTreeSet::new();
        for (i, t) in raw.api.token.iter().enumerate() {
            // Names are what the request log shows; two alike would hide who called.
            if t.name.trim().is_empty() || !token_names.insert(t.name.as_str()) {
                return Err(loc.at_value(
                    &[
                        Step::Key("api"),
                        Step::Key("token"),
                        Step::Index(i),
                        Step::Key("name"),
                    ],
                    None,
                    &format!(
                        "{:?} is empty or used twice; [[api.token]] names must be unique",
                        t.name
                    ),
                ));
            }
        }

        Ok(Config {
            path: path.to_path_buf(),
            store_path: base_dir.join(&raw.store.path),
            plugin_dirs: raw.plugins.dirs.iter().map(|d| base_dir.join(d)).collect(),
            base_dir,
            identity: raw.identity,
            api: raw.api,
            connectors,
            integrations,
            insights,
            text: Arc::from(text),
        })
    }

    /// Deserialises a connector's own settings strictly. An error names the file, the
    /// line and column of the offending key or value, its dotted path, and the
    /// connector.
    pub fn settings<T: serde::de::DeserializeOwned>(
        &self,
        entry: &ConnectorEntry,
    ) -> Result<T, ConfigError> {
        let loc = Locator::new(&self.path, &self.text);
        let context = format!("connector `{}` (kind {})", entry.name, entry.kind);
        let spanned = loc
            .root
            .as_ref()
            .and_then(|root| match root.get("connector") {
                Some(v) => match v.get_ref() {
                    DeValue::Array(items) => items.get(entry.index).cloned(),
                    _ => None,
                },
                None => None,
            });
        let Some(spanned) = spanned else {
            // Not from this text (built by hand): no positions to give.
            return toml::Value::Table(entry.settings.clone())
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    path: self.path.clone(),
                    line: entry.line,
                    column: 1,
                    message: format!("{context}: {}", locate::plain_message(e.message())),
                });
        };
        let span = spanned.span();
        let mut value = spanned.into_inner();
        if let DeValue::Table(t) = &mut value {
            t.remove("name");
            t.remove("kind");
        }
        let de = toml::de::ValueDeserializer::from(toml::Spanned::new(span, value));
        T::deserialize(de).map_err(|e| {
            let ConfigError::Invalid {
                path,
                line,
                column,
                message,
            } = loc.toml_error(&e)
            else {
                return loc.toml_error(&e);
            };
            ConfigError::Invalid {
                path,
                line,
                column,
                message: format!("{context}: {message}"),
            }
        })
    }

    /// An error about `entry`, with file and line.
    pub fn connector_error(
        &self,
        entry: &ConnectorEntry,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.clone(),
            line: entry.line,
            column: 1,
            message: format!(
                "connector `{}` (kind {}): {}",
                entry.name,
                entry.kind,
                message.into()
            ),
        }
    }

    /// Checks that every environment variable a connector names for a secret
    /// (`token_env`, and any other key ending in `_env`) is set and not empty, before
    /// anything is collected. The error points at the key and names the connector and
    /// the variable, never a value.
    pub fn check_secrets(&self) -> Result<(), ConfigError> {
        let loc = Locator::new(&self.path, &self.text);
        for entry in &self.connectors {
            for (key, value) in &entry.settings {
                let toml::Value::String(var) = value else {
                    continue;
                };
                if !key.ends_with("_env") {
                    continue;
                }
                let set = std::env::var_os(var.trim())
                    .is_some_and(|v| !v.to_string_lossy().trim().is_empty());
                if !set {
                    return Err(loc.at_value(
                        &[
                            Step::Key("connector"),
                            Step::Index(entry.index),
                            Step::Key(key),
                        ],
                        None,
                        &format!(
                            "environment variable {} (the secret of connector `{}`) is not set or empty; export it before running tally",
                            var.trim(),
                            entry.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A TOML value's type and, for short scalars, the value, as errors quote what was given.
fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("string {s:?}"),
        toml::Value::Integer(i) => format!("integer {i}"),
        toml::Value::Float(f) => format!("float {f}"),
        toml::Value::Boolean(b) => format!("boolean {b}"),
        toml::Value::Datetime(d) => format!("datetime {d}"),
        toml::Value::Array(_) => "an array".to_owned(),
        toml::Value::Table(_) => "a table".to_owned(),
    }
}

/// Reads a secret from the environment variable `var` that the configuration named.
pub fn secret_from_env(connector: &str, key: &str, var: &str) -> Result<String, ConfigError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::MissingSecret {
            connector: connector.to_owned(),
            key: key.to_owned(),
            var: var.to_owned(),
        }),
    }
}

/// Where the configuration is looked for, in order, when `--config` is not given:
/// `./tally.toml`, then the user's config directory (`$XDG_CONFIG_HOME/tally/tally.toml`,
/// else `~/.config/tally/tally.toml`).
pub fn default_locations() -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(FILE_NAME)];
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config_home {
        out.push(dir.join("tally").join(FILE_NAME));
    }
    out
}

/// The first existing default location, if any.
pub fn discover() -> Option<PathBuf> {
    default_locations().into_iter().find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/tally/tally.toml"))
    }

    #[test]
    fn spec_example_parses_and_resolves_paths_against_the_file() {
        let c = parse(
            r#"
[store]
path = "tally.db"

[[connector]]
name = "sync-log"
kind = "jsonl"
path = "records.jsonl"
"#,
        )
        .expect("valid");
        assert_eq!(c.store_path, PathBuf::from("/etc/tally/tally.db"));
        assert_eq!(c.connectors.len(), 1);
        assert_eq!(c.connectors[0].name, "sync-log");
        assert_eq!(c.connectors[0].line, 5);
        assert!(c.connectors[0].settings.contains_key("path"));
        assert!(!c.connectors[0].settings.contains_key("kind"));
    }

    #[test]
    fn unknown_top_level_key_names_line_and_key() {
        let err = parse("[store]\npath = \"x.db\"\n\n[stor]\npath = 1\n")
            .expect_err("unknown key")
            .to_string();
        assert!(
            err.starts_with("/etc/tally/tally.toml:4:2: stor: "),
            "{err}"
        );
        assert!(err.contains("unknown field `stor`"), "{err}");
    }

    #[test]
    fn unknown_key_in_section_names_it() {
        let err = parse("[identity]\ngeneric_handle = []\n")
            .expect_err("unknown key")
            .to_string();
        assert!(
            err.starts_with("/etc/tally/tally.toml:2:1: identity.generic_handle: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn bad_value_names_line() {
        let err = parse("[store]\npath = 3\n").expect_err("bad").to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:2:8: store.path: expected path string, found integer `3`"
        );
    }

    #[test]
    fn duplicate_and_missing_connector_keys() {
        let err = parse("[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\n\n[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"y\"\n")
            .expect_err("dup").to_string();
        assert!(
            err.starts_with("/etc/tally/tally.toml:7:8: connector[2].name: \"a\" is used twice"),
            "{err}"
        );
        let err = parse("[[connector]]\nkind = \"jsonl\"\n")
            .expect_err("missing")
            .to_string();
        assert!(
            err.contains(":1:1: connector[1]: missing the key `name`"),
            "{err}"
        );
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Strict {
        path: String,
    }

    #[test]
    fn connector_settings_are_strict_and_errors_name_the_connector() {
        let c =
            parse("\n[[connector]]\nname = \"log\"\nkind = \"jsonl\"\npaht = \"x\"\n").expect("ok");
        let err = c
            .settings::<Strict>(&c.connectors[0])
            .expect_err("unknown key")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:5:1: connector `log` (kind jsonl): connector[1].paht: unknown field `paht`, expected `path`"
        );
    }

    #[test]
    fn missing_secret_names_the_variable_but_no_value() {
        let err = secret_from_env("redmine-main", "token_env", "TALLY_TEST_SURELY_UNSET_VAR")
            .expect_err("unset")
            .to_string();
        assert!(err.contains("TALLY_TEST_SURELY_UNSET_VAR") && err.contains("redmine-main"));
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct WithLookback {
        path: String,
        #[serde(default)]
        lookback_days: u32,
    }

    /// The cases of issue 10 item 3: the key's line and column, not the table's.
    #[test]
    fn connector_setting_errors_point_at_the_key_with_its_path() {
        let text = "[store]\npath = \"t.db\"\n\n[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"a.jsonl\"\n\n[[connector]]\nname = \"b\"\nkind = \"jsonl\"\npath = \"b.jsonl\"\n  lookback = 90\n";
        let c = parse(text).expect("valid at the top level");
        assert!(c.settings::<WithLookback>(&c.connectors[0]).is_ok());
        let err = c
            .settings::<WithLookback>(&c.connectors[1])
            .expect_err("unknown key")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:13:3: connector `b` (kind jsonl): connector[2].lookback: unknown field `lookback`, expected `path` or `lookback_days`"
        );

        let text = "[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"a\"\nlookback_days = \"ninety\"\n";
        let c = parse(text).expect("valid at the top level");
        let err = c
            .settings::<WithLookback>(&c.connectors[0])
            .expect_err("wrong type")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:5:17: connector `a` (kind jsonl): connector[1].lookback_days: expected u32, found string \"ninety\""
        );
    }

    #[test]
    fn wrong_type_in_a_section_names_the_key_expected_and_given() {
        let err = parse("[identity]\ngeneric_handles = \"admin\"\n")
            .expect_err("not a list")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:2:19: identity.generic_handles: expected a sequence, found string \"admin\""
        );
        let err = parse("[[connector]]\nname = 3\nkind = \"jsonl\"\n")
            .expect_err("name not a string")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:2:8: connector[1].name: expected a non-empty string, found integer 3"
        );
        let err = parse("not toml at all\n").expect_err("syntax").to_string();
        assert!(err.starts_with("/etc/tally/tally.toml:1:"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
    }

    #[test]
    fn insights_thresholds_default_and_are_checked_at_the_key() {
        let c = parse("").expect("empty");
        assert_eq!((c.insights.active_days, c.insights.dormant_days), (30, 90));
        let c = parse("[insights]\nactive_days = 14\ndormant_days = 180\n").expect("valid");
        assert_eq!((c.insights.active_days, c.insights.dormant_days), (14, 180));
        let err = parse("[insights]\ndormant_days = 400\n")
            .expect_err("too long")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:2:16: insights.dormant_days: expected a number of days from 1 to 365, found 400"
        );
        let err = parse("[insights]\nactive_days = 0\n")
            .expect_err("zero")
            .to_string();
        assert!(
            err.starts_with("/etc/tally/tally.toml:2:15: insights.active_days: "),
            "{err}"
        );
        let err = parse("[insights]\nactive_days = 100\ndormant_days = 60\n")
            .expect_err("active after dormant")
            .to_string();
        assert!(
            err.starts_with("/etc/tally/tally.toml:2:15: insights.active_days: expected at most `dormant_days` (60), found 100"),
            "{err}"
        );
        let err = parse("[insights]\nactive = 3\n")
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains(":2:1: insights.active: unknown field"),
            "{err}"
        );
    }

    #[test]
    fn unset_token_env_is_an_error_at_the_key_naming_connector_and_variable() {
        let text = "[[connector]]\nname = \"redmine-main\"\nkind = \"redmine\"\nurl = \"https://r.example\"\ntoken_env = \"TALLY_TEST_SURELY_UNSET_VAR_2\"\n";
        let err = parse(text)
            .expect("parses")
            .check_secrets()
            .expect_err("unset")
            .to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:5:13: connector[1].token_env: environment variable TALLY_TEST_SURELY_UNSET_VAR_2 (the secret of connector `redmine-main`) is not set or empty; export it before running tally"
        );
        // PATH is set in every test environment; its value must not be quoted.
        let c = parse(&text.replace("TALLY_TEST_SURELY_UNSET_VAR_2", "PATH")).expect("parses");
        assert!(c.check_secrets().is_ok());
    }

    const HASH: &str = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";

    #[test]
    fn api_section_parses_durations_and_normalises_hashes() {
        let c = parse(&format!(
            "[api]\nlisten = \"127.0.0.1:9000\"\ncollect_every = \"30m\"\n\n[[api.token]]\nname = \"ops\"\nsha256 = \"{HASH}\"\nrole = \"Administrator\"\npermissions = [\"server_management:read\"]\n"
        ))
        .expect("valid");
        assert_eq!(c.api.collect_interval(), Duration::from_secs(1800));
        assert_eq!(c.api.token[0].sha256, HASH.to_ascii_lowercase());
        assert_eq!(
            parse("").expect("empty").api.collect_interval(),
            DEFAULT_COLLECT_EVERY
        );
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
    }

    #[test]
    fn bad_api_values_name_line_and_key() {
        for bad in ["\"1x\"", "\"0h\"", "\"h\"", "\"1h30m\"", "\"-1d\""] {
            let err = parse(&format!("[api]\n\ncollect_every = {bad}\n"))
                .expect_err("bad duration")
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "/etc/tally/tally.toml:3:17: api.collect_every: {bad} is not a duration"
                )) || err.contains("must be longer than zero"),
                "{err}"
            );
            assert!(err.contains("24h"), "says how to write it: {err}");
        }
        let err =
            parse("[[api.token]]\nname = \"a\"\nsha256 = \"abc\"\nrole = \"Administrator\"\n")
                .expect_err("short hash")
                .to_string();
        assert!(
            err.contains(":3:10: api.token[1].sha256: expected the 64 hex digits"),
            "{err}"
        );
        let err = parse(&format!("[[api.token]]\nname = \"a\"\nsha256 = \"{HASH}\"\nrole = \"r\"\n\n[[api.token]]\nname = \"a\"\nsha256 = \"{HASH}\"\nrole = \"r\"\n"))
            .expect_err("duplicate name")
            .to_string();
        assert!(
            err.contains(":7:8: api.token[2].name: \"a\" is empty or used twice"),
            "{err}"
        );
        let err = parse("[api]\nlisen = \"x\"\n")
            .expect_err("unknown")
            .to_string();
        assert!(
            err.contains(":2:1: api.lisen: unknown field `lisen`"),
            "{err}"
        );
    }

    #[test]
    fn integrations_from_the_configuration() {
        let text = r#"
[[integration]]
name = "OPS <-> Fabrikam"
updated_at = "2026-09-30T08:00:00Z"
ends = [
  { system = "Jira", project = "OPS", entity_types = ["Bug"] },
  { system = "Azure DevOps", project = "Fabrikam" },
]

[[integration]]
name = "HELP <-> SUP"
status = "inactive"
ends = [{ system = "Jira", project = "HELP" }, { system = "ServiceNow", project = "SUP" }]
"#;
        let modified = "2026-10-01T00:00:00Z".parse().ok();
        let c = Config::parse_modified(text, Path::new("/etc/tally/tally.toml"), modified)
            .expect("valid");
        assert_eq!(c.integrations.len(), 2);
        assert_eq!(c.integrations[0].ends[0].entity_types, ["Bug"]);
        assert_eq!(
            c.integrations[0].status,
            tally_core::IntegrationStatus::Active
        );
        assert_eq!(
            c.integrations[1].status,
            tally_core::IntegrationStatus::Inactive
        );
        assert_eq!(Some(c.integrations[1].updated_at), modified);

        let one_end =
            "\n[[integration]]\nname = \"x\"\nends = [{ system = \"Jira\", project = \"OPS\" }]\n";
        let err = parse(one_end).expect_err("two ends needed").to_string();
        assert!(err.contains("tally.toml:"), "{err}");
        let bad_time = "\n\n[[integration]]\nname = \"x\"\nupdated_at = \"yesterday\"\nends = [{ system = \"A\", project = \"a\" }, { system = \"B\", project = \"b\" }]\n";
        let err = parse(bad_time).expect_err("bad time").to_string();
        assert_eq!(
            err,
            "/etc/tally/tally.toml:5:14: integration[1].updated_at: expected an RFC 3339 time such as \"2026-09-30T08:00:00Z\", found \"yesterday\""
        );
    }

    #[test]
    fn forced_merge_needs_two_identifiers() {
        assert!(parse("[[identity.merge]]\nidentifiers = [\"a\"]\n").is_err());
        let c = parse("[[identity.merge]]\nidentifiers = [\"a@x.example\", \"al\"]\n").expect("ok");
        assert_eq!(c.identity.rules().forced_merges.len(), 1);
    }
}

#[cfg(test)]
mod examples {
    use super::*;

    /// Every sample configuration shipped in `config/examples/` must load.
    #[test]
    fn every_example_configuration_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("examples dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") {
                let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(
                    !c.connectors.is_empty(),
                    "{} has connectors",
                    path.display()
                );
                seen += 1;
            }
        }
        assert!(seen >= 2, "examples found: {seen}");
    }
}
