//! tally's configuration (SPEC §6): a TOML file, strictly checked. Every error names the
//! file, the line and the key, and says what to do; secrets are never read from the file,
//! only from environment variables it names.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tally_core::identity::IdentityRules;

/// The file name looked for in the working directory and the user's config directory.
pub const FILE_NAME: &str = "tally.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `line` is 1-based; `message` names the key.
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
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
        .map_err(|m| serde::de::Error::custom(format!("`collect_every`: {m}")))
}

fn sha256_hex<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let text = String::deserialize(d)?;
    let t = text.trim();
    // The value is a hash, not a secret, so it may be quoted back in the error.
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(t.to_ascii_lowercase())
    } else {
        Err(serde::de::Error::custom(format!(
            "`sha256` must be the 64 hex digits of the token's SHA-256 (got {} characters); `tally token new NAME` prints the line to paste",
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
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
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset.min(text.len()))
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of the last `key = "value"` in `text`, or 1: for checks made after parsing,
/// where the span is gone.
fn line_of_key(text: &str, key: &str, value: &str) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let mut parts = l.splitn(2, '=');
            parts.next().map(str::trim) == Some(key)
                && parts.next().map(|v| v.trim().trim_matches('"')) == Some(value)
        })
        .map(|(i, _)| i + 1)
        .last()
        .unwrap_or(1)
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
        let invalid = |line: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            invalid(line, e.message().trim().to_owned())
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base_dir = if base_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base_dir
        };

        let mut names = BTreeSet::new();
        let mut connectors = Vec::new();
        for spanned in raw.connector {
            let line = line_of(text, spanned.span().start);
            let mut table = spanned.into_inner();
            let mut take_string = |key: &str| -> Result<String, ConfigError> {
                match table.remove(key) {
                    Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                    Some(_) => Err(invalid(
                        line,
                        format!("connector key `{key}` must be a non-empty string"),
                    )),
                    None => Err(invalid(
                        line,
                        format!("connector is missing the key `{key}`"),
                    )),
                }
            };
            let name = take_string("name")?;
            let kind = take_string("kind")?;
            if !names.insert(name.clone()) {
                return Err(invalid(
                    line,
                    format!("connector `name` \"{name}\" is used twice; names must be unique"),
                ));
            }
            connectors.push(ConnectorEntry {
                name,
                kind,
                settings: table,
                line,
            });
        }

        let mut integration_names = BTreeSet::new();
        let mut integrations = Vec::new();
        for spanned in raw.integration {
            let line = line_of(text, spanned.span().start);
            let i = spanned.into_inner();
            if i.name.trim().is_empty() || !integration_names.insert(i.name.trim().to_owned()) {
                return Err(invalid(
                    line,
                    format!(
                        "[[integration]] `name` {:?} is empty or used twice; names must be unique",
                        i.name
                    ),
                ));
            }
            let updated_at = match (&i.updated_at, modified) {
                (Some(t), _) => chrono::DateTime::parse_from_rfc3339(t.trim())
                    .map(|t| t.with_timezone(&chrono::Utc))
                    .map_err(|_| {
                        invalid(
                            line,
                            format!(
                                "[[integration]] {:?}: `updated_at` {t:?} is not an RFC 3339 time; write e.g. \"2026-09-30T08:00:00Z\"",
                                i.name
                            ),
                        )
                    })?,
                (None, Some(m)) => m,
                (None, None) => {
                    return Err(invalid(
                        line,
                        format!("[[integration]] {:?}: set `updated_at`", i.name),
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
                return Err(invalid(
                    1,
                    format!("[[identity.merge]] number {}: `identifiers` needs at least two identifiers of one person", i + 1),
                ));
            }
        }

        let mut token_names = BTreeSet::new();
        for t in &raw.api.token {
            // Names are what the request log shows; two alike would hide who called.
            if t.name.trim().is_empty() || !token_names.insert(t.name.as_str()) {
                return Err(invalid(
                    line_of_key(text, "name", &t.name),
                    format!(
                        "[[api.token]] `name` {:?} is empty or used twice; names must be unique",
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
        })
    }

    /// Deserialises a connector's own settings strictly, naming file, line and key on
    /// error.
    pub fn settings<T: serde::de::DeserializeOwned>(
        &self,
        entry: &ConnectorEntry,
    ) -> Result<T, ConfigError> {
        toml::Value::Table(entry.settings.clone())
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: self.path.clone(),
                line: entry.line,
                message: format!(
                    "connector `{}` (kind {}): {}",
                    entry.name,
                    entry.kind,
                    e.message().trim()
                ),
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
            message: format!(
                "connector `{}` (kind {}): {}",
                entry.name,
                entry.kind,
                message.into()
            ),
        }
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
        assert!(err.starts_with("/etc/tally/tally.toml:4: "), "{err}");
        assert!(err.contains("`stor`"), "{err}");
    }

    #[test]
    fn unknown_key_in_section_names_it() {
        let err = parse("[identity]\ngeneric_handle = []\n")
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains(":2: "), "{err}");
        assert!(err.contains("generic_handle"), "{err}");
    }

    #[test]
    fn bad_value_names_line() {
        let err = parse("[store]\npath = 3\n").expect_err("bad").to_string();
        assert!(err.starts_with("/etc/tally/tally.toml:2: "), "{err}");
    }

    #[test]
    fn duplicate_and_missing_connector_keys() {
        let err = parse("[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\n\n[[connector]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"y\"\n")
            .expect_err("dup").to_string();
        assert!(err.contains(":6: ") && err.contains("used twice"), "{err}");
        let err = parse("[[connector]]\nkind = \"jsonl\"\n")
            .expect_err("missing")
            .to_string();
        assert!(err.contains(":1: ") && err.contains("`name`"), "{err}");
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
        assert!(
            err.starts_with("/etc/tally/tally.toml:2: connector `log` (kind jsonl): "),
            "{err}"
        );
        assert!(err.contains("paht"), "{err}");
    }

    #[test]
    fn missing_secret_names_the_variable_but_no_value() {
        let err = secret_from_env("redmine-main", "token_env", "TALLY_TEST_SURELY_UNSET_VAR")
            .expect_err("unset")
            .to_string();
        assert!(err.contains("TALLY_TEST_SURELY_UNSET_VAR") && err.contains("redmine-main"));
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
                err.starts_with("/etc/tally/tally.toml:3: `collect_every`"),
                "{err}"
            );
            assert!(err.contains("24h"), "says how to write it: {err}");
        }
        let err =
            parse("[[api.token]]\nname = \"a\"\nsha256 = \"abc\"\nrole = \"Administrator\"\n")
                .expect_err("short hash")
                .to_string();
        assert!(err.contains(":3: ") && err.contains("`sha256`"), "{err}");
        let err = parse(&format!("[[api.token]]\nname = \"a\"\nsha256 = \"{HASH}\"\nrole = \"r\"\n\n[[api.token]]\nname = \"a\"\nsha256 = \"{HASH}\"\nrole = \"r\"\n"))
            .expect_err("duplicate name")
            .to_string();
        assert!(err.contains(":7: ") && err.contains("used twice"), "{err}");
        let err = parse("[api]\nlisen = \"x\"\n")
            .expect_err("unknown")
            .to_string();
        assert!(err.contains(":2: ") && err.contains("lisen"), "{err}");
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
        assert!(err.starts_with("/etc/tally/tally.toml:3: "), "{err}");
        assert!(err.contains("updated_at"), "{err}");
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
