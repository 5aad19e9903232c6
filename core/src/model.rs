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

/// Any of the three records, tagged by `kind` as in the JSONL format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    User(UserObservation),
    Sync(SyncRecord),
    Integration(Integration),
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
