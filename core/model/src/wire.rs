//! The JSON DTOs that cross the boundary, shared by the plugin host and the plugin SDK.
//! Both sides ignore unknown fields and default missing optional ones, so adding an
//! optional field is compatible; anything else needs a new plugin ABI version (`tally_plugin_abi::ABI_VERSION`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What `describe` returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Describe {
    /// The ABI version the DTOs follow.
    pub abi: u32,
    pub kind: String,
    pub version: String,
    #[serde(default)]
    pub description: String,
}

/// What `create` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Create {
    pub abi: u32,
    /// The instance name (`[[connector]] name`).
    pub name: String,
    /// The configuration file's directory: relative paths in settings resolve here.
    pub base_dir: PathBuf,
    /// The `[[connector]]` table without `name` and `kind`, as JSON.
    pub settings: serde_json::Value,
}

/// The payload of `EMIT_PROGRESS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub done: u64,
    #[serde(default)]
    pub total: Option<u64>,
}
