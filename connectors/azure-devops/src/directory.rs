//! The organization's users, from the User Entitlements API
//! (`GET https://vsaex.dev.azure.com/{org}/_apis/userentitlements?api-version=7.1`, paged
//! by `continuationToken`), yielded as SPEC §2 `account` records.
//!
//! Mapping (also in `docs/connectors/azure-devops.md`): `accessLevel.status` `active` or
//! `pending` (assigned, not signed in yet: the seat is taken) → `active`, anything else
//! (`disabled`, `deleted`, `expired`, `pendingDisabled`, `none`) → `disabled`;
//! `accessLevel.accountLicenseType` `stakeholder` → not billable (Stakeholder access is
//! free); `accessLevel.licenseDisplayName` → product; `lastAccessedDate` → last activity
//! (`0001-01-01…`, never, is none); `user.origin` `aad` (signs in through the
//! organization's Entra ID) → single sign-on, `msa` (a personal Microsoft account) → not.
//! Two-step verification is Entra ID's business and not shown: unknown.
//!
//! The API has no "changed since" filter, so every run reads the whole list; the store
//! keeps only what changed. Azure DevOps Server has no such API.

use chrono::{DateTime, Datelike, Utc};
use serde_json::Value;
use tally_http::{CancellationToken, HttpClient, HttpError, Url};
use tally_model::{Account, AccountStatus, ConnectorContext, ConnectorError, Record};

use crate::identity::{classify_unique, person, NameRules, Person};

/// The User Entitlements API version (generally available since 7.1).
pub const API_VERSION: &str = "7.1";

/// Where the User Entitlements API lives for an organization URL: the `vsaex` host on
/// Azure DevOps Services; `None` on Server, which has no such API.
pub fn entitlements_base(url: &Url) -> Option<String> {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if host == "dev.azure.com" {
        let org = url.path_segments().and_then(|mut s| s.next()).unwrap_or("");
        return (!org.is_empty()).then(|| format!("https://vsaex.dev.azure.com/{org}/"));
    }
    let org = host.strip_suffix(".visualstudio.com")?;
    (!org.contains('.')).then(|| format!("https://{org}.vsaex.visualstudio.com/"))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// One `UserEntitlement` as an account read at `at`.
pub fn account(system: &str, at: DateTime<Utc>, v: &Value, rules: NameRules) -> Option<Account> {
    let id = text(v, "id")?;
    let user = v.get("user").unwrap_or(&Value::Null);
    // The same rules as for identities on work items, so both name a person alike.
    let mut p = person(user, rules).unwrap_or_default();
    if let Some(principal) = text(user, "principalName") {
        let mut q = Person::default();
        classify_unique(&principal, rules, &mut q);
        p.email = p.email.or(q.email);
        p.username = p.username.or(q.username);
        p.service_account |= q.service_account;
    }
    if let Some(mail) = text(user, "mailAddress") {
        p.email = Some(mail);
    }
    let access = v.get("accessLevel").unwrap_or(&Value::Null);
    let status = match text(access, "status").as_deref() {
        Some("active" | "pending") => AccountStatus::Active,
        _ => AccountStatus::Disabled,
    };
    let license = text(access, "accountLicenseType");
    let last_active = v
        .get("lastAccessedDate")
        .and_then(Value::as_str)
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        // .NET's DateTime.MinValue: never signed in.
        .filter(|t| t.year() > 1);
    let sso = match text(user, "origin").as_deref() {
        Some("aad") => Some(true),
        Some("msa") => Some(false),
        _ => None,
    };
    Some(Account {
        system: system.to_string(),
        at,
        id,
        email: p.email,
        username: p.username,
        display_name: p.display_name.or_else(|| text(user, "displayName")),
        status,
        billable: !license
            .as_deref()
            .is_some_and(|l| l.eq_ignore_ascii_case("stakeholder")),
        product: text(access, "licenseDisplayName"),
        last_active,
        two_step: None,
        sso,
        service_account: p.service_account,
    })
}

/// Why the read stopped: the server (a warning) or the run (passed on).
#[derive(Debug)]
pub(crate) enum DirectoryError {
    Http(HttpError),
    Connector(ConnectorError),
}

/// Reads every page, sending each page's accounts as it arrives.
pub(crate) async fn read(
    client: &HttpClient,
    ctx: &ConnectorContext,
    cancel: &CancellationToken,
    system: &str,
    rules: NameRules,
) -> Result<u64, DirectoryError> {
    let at = Utc::now();
    let mut token: Option<String> = None;
    let mut sent = 0u64;
    loop {
        let mut query = vec![("api-version", API_VERSION)];
        if let Some(t) = &token {
            query.push(("continuationToken", t.as_str()));
        }
        let page: Value = client
            .get_json(cancel, "_apis/userentitlements", &query)
            .await
            .map_err(DirectoryError::Http)?;
        // The service answers `members`; the 7.1 reference names the array `items`.
        let items = page
            .get("members")
            .or_else(|| page.get("items"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let records: Vec<Record> = items
            .iter()
            .filter_map(|m| account(system, at, m, rules))
            .map(Record::Account)
            .collect();
        sent += records.len() as u64;
        ctx.send_batch(records)
            .await
            .map_err(DirectoryError::Connector)?;
        let next = text(&page, "continuationToken");
        // An empty page or a repeated token ends it: a server bug must not loop forever.
        if items.is_empty() || next.is_none() || next == token {
            return Ok(sent);
        }
        token = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            entitlements_base(&u("https://dev.azure.com/fabrikam/")).as_deref(),
            Some("https://vsaex.dev.azure.com/fabrikam/")
        );
        assert_eq!(
            entitlements_base(&u("https://fabrikam.visualstudio.com/")).as_deref(),
            Some("https://fabrikam.vsaex.visualstudio.com/")
        );
        assert_eq!(
            entitlements_base(&u("https://tfs.corp.example/tfs/DefaultCollection/")),
            None
        );
    }
}
