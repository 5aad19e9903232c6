//! The parts of GitHub's REST API the connector reads. Fields the connector does not need
//! are ignored; fields GitHub leaves out or nulls for some objects are optional.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

/// A "simple user" as GitHub embeds it everywhere (`user`, `actor`, `assignees`, …).
#[derive(Debug, Clone, Deserialize)]
pub struct SimpleUser {
    pub login: String,
    #[serde(default)]
    pub id: Option<u64>,
    /// `User`, `Bot` or `Organization`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Present (and often null) on some embeddings; set when the account shows it.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

impl SimpleUser {
    pub fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("Bot")
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Repo {
    pub full_name: String,
}

/// An issue or pull request from `GET /repos/{owner}/{repo}/issues`.
#[derive(Debug, Clone, Deserialize)]
pub struct Issue {
    pub number: u64,
    #[serde(default)]
    pub user: Option<SimpleUser>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub assignee: Option<SimpleUser>,
    #[serde(default)]
    pub assignees: Option<Vec<SimpleUser>>,
    /// Labels are objects, or bare names in some older answers.
    #[serde(default)]
    pub labels: Vec<Value>,
    /// Present for pull requests only.
    #[serde(default)]
    pub pull_request: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub performed_via_github_app: Option<Value>,
}

impl Issue {
    pub fn is_pull_request(&self) -> bool {
        self.pull_request.as_ref().is_some_and(|v| !v.is_null())
    }

    pub fn label_names(&self) -> Vec<&str> {
        self.labels
            .iter()
            .filter_map(|l| match l {
                Value::String(s) => Some(s.as_str()),
                Value::Object(o) => o.get("name").and_then(Value::as_str),
                _ => None,
            })
            .collect()
    }
}

/// An issue comment (`GET /repos/{owner}/{repo}/issues/comments`).
#[derive(Debug, Clone, Deserialize)]
pub struct IssueComment {
    #[serde(default)]
    pub user: Option<SimpleUser>,
    #[serde(default)]
    pub body: Option<String>,
    /// `https://github.com/o/r/issues/7#issuecomment-1`, `…/pull/7#…` for a pull request.
    #[serde(default)]
    pub html_url: Option<String>,
    pub issue_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub performed_via_github_app: Option<Value>,
}

/// A pull-request review comment (`GET /repos/{owner}/{repo}/pulls/comments`).
#[derive(Debug, Clone, Deserialize)]
pub struct ReviewComment {
    #[serde(default)]
    pub user: Option<SimpleUser>,
    #[serde(default)]
    pub body: Option<String>,
    pub pull_request_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of an issue's timeline (`GET /repos/{owner}/{repo}/issues/{n}/timeline`).
/// Entries differ by `event`: most have `actor` and `created_at`; `reviewed` has `user`
/// and `submitted_at`; `committed` has git identities only.
#[derive(Debug, Clone, Deserialize)]
pub struct TimelineEvent {
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub actor: Option<SimpleUser>,
    #[serde(default)]
    pub user: Option<SimpleUser>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub performed_via_github_app: Option<Value>,
}

/// `GET /repos/{owner}/{repo}/pulls/{n}/requested_reviewers`.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestedReviewers {
    #[serde(default)]
    pub users: Vec<SimpleUser>,
}

/// `GET /users/{login}`: the public profile.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One user of `GET /enterprises/{enterprise}/consumed-licenses` (GitHub Enterprise
/// Cloud). Several fields are `""` rather than null when unknown, and
/// `github_com_two_factor_auth` is a boolean or `""`.
#[derive(Debug, Clone, Deserialize)]
pub struct LicenseUser {
    #[serde(default)]
    pub github_com_login: Option<String>,
    #[serde(default)]
    pub github_com_name: Option<String>,
    #[serde(default)]
    pub enterprise_server_user_ids: Vec<String>,
    #[serde(default)]
    pub license_type: Option<String>,
    #[serde(default)]
    pub github_com_verified_domain_emails: Vec<String>,
    #[serde(default)]
    pub enterprise_server_emails: Vec<String>,
    #[serde(default)]
    pub github_com_saml_name_id: Option<String>,
    #[serde(default)]
    pub github_com_two_factor_auth: Value,
}
