//! The records every connector yields (SPEC §2). Their serde form is the JSONL interchange
//! format, so the same types parse a sync log and serialise across the plugin boundary.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a person touched integrated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interaction {
    MappedUserField,
    CommentAuthor,
    AttachmentAuthor,
    Mention,
    Updater,
}

impl Interaction {
    pub const ALL: [Interaction; 5] = [
        Interaction::MappedUserField,
        Interaction::CommentAuthor,
        Interaction::AttachmentAuthor,
        Interaction::Mention,
        Interaction::Updater,
    ];

    /// The wire name, also shown in the Detailed User Report.
    pub fn as_str(self) -> &'static str {
        match self {
            Interaction::MappedUserField => "mapped_user_field",
            Interaction::CommentAuthor => "comment_author",
            Interaction::AttachmentAuthor => "attachment_author",
            Interaction::Mention => "mention",
            Interaction::Updater => "updater",
        }
    }

    /// A stable small integer, used as a bit position in the store and the report.
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Interaction> {
        Interaction::ALL.get(usize::from(code)).copied()
    }
}

/// One observation of a person in one end system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserObservation {
    pub system: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub interaction: Interaction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service_account: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Success,
    Failed,
}

/// One end of a synchronisation: an entity in an end system.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntityRef {
    pub system: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    pub entity_id: String,
}

/// One synchronisation of an entity from a source to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRecord {
    pub at: DateTime<Utc>,
    pub status: SyncStatus,
    pub source: EntityRef,
    pub target: EntityRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationStatus {
    Active,
    Inactive,
}

impl IntegrationStatus {
    pub fn label(self) -> &'static str {
        match self {
            IntegrationStatus::Active => "Active",
            IntegrationStatus::Inactive => "Inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationEnd {
    pub system: String,
    pub project: String,
    #[serde(default)]
    pub entity_types: Vec<String>,
}

/// A configured project pair. Exactly two ends: the array type makes any other count a
/// parse error, reported like any other bad line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    pub name: String,
    pub status: IntegrationStatus,
    pub updated_at: DateTime<Utc>,
    pub ends: [IntegrationEnd; 2],
}

/// Whether an account can use the product (`active`: it has access) or is listed but
/// locked, suspended, blocked or deactivated (`disabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Disabled,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
        }
    }
}

/// Two-step verification of an account, where the directory tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoStep {
    Enabled,
    Disabled,
}

impl TwoStep {
    pub fn as_str(self) -> &'static str {
        match self {
            TwoStep::Enabled => "enabled",
            TwoStep::Disabled => "disabled",
        }
    }
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One account of a person in one end system, as the system's user directory showed it
/// at `at` (SPEC §2). The natural key is (`system`, `id`, `at`); the state of an account
/// at a time T is its record with the latest `at` not after T.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub system: String,
    pub at: DateTime<Utc>,
    /// The system's own account id, unique within the system.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub status: AccountStatus,
    /// Consumes a paid licence or seat (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub billable: bool,
    /// The product or licence tier shown to the administrator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The system's own last activity or sign-in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_active: Option<DateTime<Utc>>,
    /// Absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_step: Option<TwoStep>,
    /// Signs in through single sign-on; absent means unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service_account: bool,
}

/// Any of the four records, tagged by `kind` as in the JSONL format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    User(UserObservation),
    Sync(SyncRecord),
    Integration(Integration),
    Account(Account),
}

impl From<UserObservation> for Record {
    fn from(value: UserObservation) -> Self {
        Record::User(value)
    }
}

impl From<SyncRecord> for Record {
    fn from(value: SyncRecord) -> Self {
        Record::Sync(value)
    }
}

impl From<Account> for Record {
    fn from(value: Account) -> Self {
        Record::Account(value)
    }
}

impl From<Integration> for Record {
    fn from(value: Integration) -> Self {
        Record::Integration(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples_parse() {
        let lines = [
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","email":"Ann.Lee@corp.example","username":"alee","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-17","service_account":false}"#,
            r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-17"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"4211"}}"#,
            r#"{"kind":"integration","name":"OPS <-> Fabrikam","status":"active","updated_at":"2026-09-30T08:00:00Z","ends":[{"system":"Jira","project":"OPS","entity_types":["Bug","Story"]},{"system":"Azure DevOps","project":"Fabrikam","entity_types":["Bug","User Story"]}]}"#,
        ];
        let account = r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00Z","id":"5b10ac8d82e05b22cc7d4ef5","email":"ann.lee@corp.example","display_name":"Ann Lee","status":"active","billable":true,"product":"Jira Software","last_active":"2026-10-28T09:12:00Z","two_step":"enabled","sso":true}"#;
        let Record::Account(a) = serde_json::from_str(account).expect("account parses") else {
            panic!("account")
        };
        assert_eq!(a.status, AccountStatus::Active);
        assert_eq!(a.two_step, Some(TwoStep::Enabled));
        assert_eq!(a.sso, Some(true));
        assert!(a.billable);
        let minimal = r#"{"kind":"account","system":"GitHub","at":"2026-11-01T06:00:00Z","id":"42","status":"disabled"}"#;
        let Record::Account(m) = serde_json::from_str(minimal).expect("minimal account") else {
            panic!("account")
        };
        assert!(m.billable, "billable defaults to true");
        assert_eq!((m.two_step, m.sso, m.service_account), (None, None, false));
        let parsed: Vec<Record> = lines
            .iter()
            .map(|l| serde_json::from_str(l).expect("spec example parses"))
            .collect();
        match &parsed[0] {
            Record::User(u) => {
                assert_eq!(u.username.as_deref(), Some("alee"));
                assert_eq!(u.interaction, Interaction::CommentAuthor);
            }
            other => panic!("expected user, got {other:?}"),
        }
        assert!(matches!(&parsed[1], Record::Sync(s) if s.target.entity_id == "4211"));
        assert!(matches!(&parsed[2], Record::Integration(i) if i.ends[1].entity_types.len() == 2));
    }

    #[test]
    fn null_identifiers_and_unknown_fields_are_accepted() {
        let line = r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00+02:00","email":null,"interaction":"mention","whatever":1}"#;
        let r: Record = serde_json::from_str(line).expect("parses");
        let Record::User(u) = r else { panic!("user") };
        assert_eq!(u.email, None);
        assert_eq!(u.at.to_rfc3339(), "2026-10-01T10:00:00+00:00");
    }

    #[test]
    fn integration_needs_exactly_two_ends() {
        let line = r#"{"kind":"integration","name":"x","status":"active","updated_at":"2026-09-30T08:00:00Z","ends":[{"system":"Jira","project":"OPS"}]}"#;
        assert!(serde_json::from_str::<Record>(line).is_err());
    }

    #[test]
    fn missing_required_field_is_an_error() {
        let line = r#"{"kind":"user","system":"Jira","interaction":"mention"}"#;
        assert!(serde_json::from_str::<Record>(line).is_err());
    }
}
