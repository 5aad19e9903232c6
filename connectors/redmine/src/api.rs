//! The parts of Redmine's REST API (JSON) the connector reads. Fields the connector does
//! not need are ignored; fields Redmine leaves out for some accounts are optional.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// `{"id": 5, "name": "Ann Lee"}`: how Redmine refers to users, projects, trackers.
#[derive(Debug, Clone, Deserialize)]
pub struct Ref {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
}

/// An issue as listed by `/issues.json`: enough to page and to decide what to fetch.
#[derive(Debug, Clone, Deserialize)]
pub struct IssueSummary {
    pub id: u64,
    pub updated_on: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct IssueList {
    #[serde(default)]
    pub issues: Vec<IssueSummary>,
    #[serde(default)]
    pub total_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct IssueEnvelope {
    pub issue: Issue,
}

/// One issue from `/issues/:id.json?include=journals,attachments,watchers`.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub id: u64,
    pub project: Ref,
    #[serde(default)]
    pub tracker: Option<Ref>,
    #[serde(default)]
    pub author: Option<Ref>,
    #[serde(default)]
    pub assigned_to: Option<Ref>,
    #[serde(default)]
    pub description: Option<String>,
    pub created_on: DateTime<Utc>,
    pub updated_on: DateTime<Utc>,
    #[serde(default)]
    pub custom_fields: Vec<CustomFieldValue>,
    #[serde(default)]
    pub journals: Vec<Journal>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub watchers: Vec<Ref>,
}

/// A custom field on an issue. `value` is a string, an array of strings (fields with
/// `multiple`), or null.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomFieldValue {
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

impl CustomFieldValue {
    /// The non-empty values, whether the field holds one or many.
    pub fn values(&self) -> Vec<&str> {
        match &self.value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Journal {
    #[serde(default)]
    pub user: Option<Ref>,
    #[serde(default)]
    pub notes: Option<String>,
    pub created_on: DateTime<Utc>,
    #[serde(default)]
    pub details: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Attachment {
    #[serde(default)]
    pub author: Option<Ref>,
    pub created_on: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct UserEnvelope {
    pub user: User,
}

/// A user profile from `/users/:id.json` or `/users.json`. `mail` is present only for
/// administrators' keys (or users who show their address).
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: u64,
    #[serde(default)]
    pub login: Option<String>,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub lastname: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    /// Shown for the current user (and to administrators).
    #[serde(default)]
    pub admin: Option<bool>,
    /// The last sign-in through the web (API key use does not count); administrators only.
    #[serde(default)]
    pub last_login_on: Option<DateTime<Utc>>,
    /// Redmine 4.2+, administrators only: `Some(None)` is a user without two-factor
    /// authentication, `None` a Redmine that does not tell.
    #[serde(default, deserialize_with = "present")]
    pub twofa_scheme: Option<Option<String>>,
}

/// Tells a field that is there but null from one that is missing.
fn present<'de, D>(d: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
pub struct ProjectEnvelope {
    pub project: Project,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    pub id: u64,
    pub identifier: String,
}
