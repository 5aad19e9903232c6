//! The parts of RT 5's REST 2 API (JSON) the connector reads, in the shapes RT 5.0.3
//! answers (recorded in `tests/fixtures`). RT is loose with types: ids come as strings or
//! numbers, flags as `1`, `"1"`, `"0"` or `""`; these types accept all of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string or a number, as a string (`"id": "42"` and `"id": 42` both occur).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

/// RT's flags: `1`, `"1"`, `true` are set; `0`, `"0"`, `""`, `null` are not.
pub fn flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
        Value::String(s) => !matches!(s.trim(), "" | "0"),
        _ => false,
    }
}

/// `{"type": "user", "id": "alee", "_url": "…"}`: how REST 2 refers to records.
#[derive(Debug, Clone, Deserialize)]
pub struct Ref {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
}

impl Ref {
    pub fn is_user(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "user")
    }
}

/// A listing page: `{"count", "page", "per_page", "total", "pages", "items", "next_page"}`.
/// `total` (and with it `pages`, `next_page`) is null when the account may not see every
/// item; items it may not see come as null.
#[derive(Debug, Deserialize)]
#[serde(bound = "T: Deserialize<'de>")]
pub struct Collection<T> {
    #[serde(default)]
    pub items: Vec<Option<T>>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// A ticket as listed by `/tickets?fields=LastUpdated`.
#[derive(Debug, Clone, Deserialize)]
pub struct TicketSummary {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(rename = "LastUpdated")]
    pub last_updated: DateTime<Utc>,
}

/// One ticket from `/ticket/:id`.
#[derive(Debug, Clone, Deserialize)]
pub struct Ticket {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(rename = "Queue")]
    pub queue: Ref,
    #[serde(rename = "Type", default)]
    pub kind: Option<String>,
    #[serde(rename = "LastUpdated")]
    pub last_updated: DateTime<Utc>,
    #[serde(rename = "Owner", default)]
    pub owner: Option<Ref>,
    #[serde(rename = "Requestor", default)]
    pub requestor: Vec<Ref>,
    #[serde(rename = "Cc", default)]
    pub cc: Vec<Ref>,
    #[serde(rename = "AdminCc", default)]
    pub admin_cc: Vec<Ref>,
    #[serde(rename = "CustomFields", default)]
    pub custom_fields: Vec<CustomFieldValue>,
}

/// `{"name": "Jira key", "values": ["OPS-17"], "id": "2", "type": "customfield"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomFieldValue {
    pub name: String,
    #[serde(default)]
    pub values: Vec<Value>,
}

/// A transaction from `/ticket/:id/history?fields=Type,Creator,Created`.
#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Creator", default)]
    pub creator: Option<Ref>,
    #[serde(rename = "Created")]
    pub created: DateTime<Utc>,
}

/// A MIME part from `/ticket/:id/attachments?fields=Filename,Creator,Created`: message
/// bodies have no file name, uploaded files do.
#[derive(Debug, Clone, Deserialize)]
pub struct Attachment {
    #[serde(rename = "Filename", default)]
    pub filename: Option<String>,
    #[serde(rename = "Creator", default)]
    pub creator: Option<Ref>,
    #[serde(rename = "Created")]
    pub created: DateTime<Utc>,
}

/// A user from `/user/:id`. Without the AdminUsers right RT answers a summary: no
/// `Disabled`, and only the fields of `$UserSummaryExtraInfo`.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub id: Option<String>,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    #[serde(rename = "EmailAddress", default)]
    pub email: Option<String>,
    #[serde(rename = "RealName", default)]
    pub real_name: Option<String>,
    #[serde(rename = "Privileged", default)]
    pub privileged: Value,
    #[serde(rename = "Disabled", default)]
    pub disabled: Option<Value>,
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, got {other}"
        ))),
    }
}

/// A user as listed by `/users?fields=Name`: `id` is the login there.
#[derive(Debug, Clone, Deserialize)]
pub struct UserSummary {
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

/// A queue from `/queue/:id`.
#[derive(Debug, Clone, Deserialize)]
pub struct Queue {
    #[serde(rename = "Name")]
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_every_shape_rt_uses() {
        for (v, set) in [
            (serde_json::json!(1), true),
            (serde_json::json!("1"), true),
            (serde_json::json!(true), true),
            (serde_json::json!(0), false),
            (serde_json::json!("0"), false),
            (serde_json::json!(""), false),
            (Value::Null, false),
        ] {
            assert_eq!(flag(&v), set, "{v}");
        }
    }
}
