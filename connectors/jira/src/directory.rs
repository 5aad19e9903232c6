//! The user directory, yielded as SPEC §2 `account` records.
//!
//! - **Cloud**: `GET /rest/api/3/users/search` (`startAt`/`maxResults`, a bare JSON array;
//!   pages may come back shorter than asked, because Atlassian filters them after
//!   paging, so the listing ends at an empty page). `active` → status, `accountType: app`
//!   → service account, `customer` (Service Management portal customers, who need no
//!   Jira licence) → not billable. Hidden e-mail addresses stay hidden.
//! - **Cloud with the organization API** (`org_id`, `org_token_env`): `GET
//!   /admin/v1/orgs/{orgId}/users` on `api.atlassian.com` (cursor paging through
//!   `links.next`) adds, for managed accounts, `account_status`, `access_billable`,
//!   `last_active` and `product_access`. An account is disabled when either listing says
//!   it is not active; its product is the names of its Jira products (`jira-*`) and its
//!   last activity the latest Jira product's `last_active` (else the account's).
//!   Organization accounts the site did not list are added when they hold a Jira product.
//! - **Data Center**: `GET /rest/api/2/user/search?username=.` with inactive users
//!   included; the id is the user key (stable across renames), the username the login.
//!
//! None of these listings can be asked for changes since a time, so every run reads the
//! whole directory; the store keeps only what changed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tally_http::{CancellationToken, HttpClient, HttpError};
use tally_model::{Account, AccountStatus, ConnectorContext, ConnectorError, Record};

use crate::people::text;
use crate::{time, Flavor};

/// Why a directory read stopped: the server (a warning; observations go on) or the run.
#[derive(Debug)]
pub(crate) enum DirectoryError {
    Http(HttpError),
    Connector(ConnectorError),
}

impl From<HttpError> for DirectoryError {
    fn from(e: HttpError) -> Self {
        DirectoryError::Http(e)
    }
}

impl From<ConnectorError> for DirectoryError {
    fn from(e: ConnectorError) -> Self {
        DirectoryError::Connector(e)
    }
}

/// One managed account from the organization API.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgUser {
    pub account_id: String,
    pub account_type: Option<String>,
    pub active: bool,
    pub email: Option<String>,
    pub name: Option<String>,
    pub billable: Option<bool>,
    pub last_active: Option<DateTime<Utc>>,
    /// Names of the Jira products the account may use, and the latest activity in them.
    pub jira_products: Vec<String>,
    pub jira_last_active: Option<DateTime<Utc>>,
}

fn when(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(time::parse).map(|t| t.with_timezone(&Utc))
}

impl OrgUser {
    pub fn parse(v: &Value) -> Option<OrgUser> {
        let account_id = text(v, "account_id")?;
        let mut jira_products = Vec::new();
        let mut jira_last_active: Option<DateTime<Utc>> = None;
        for p in v
            .get("product_access")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = text(p, "key").unwrap_or_default();
            if !key.starts_with("jira") {
                continue;
            }
            let name = text(p, "name").unwrap_or(key);
            if !jira_products.contains(&name) {
                jira_products.push(name);
            }
            if let Some(t) = when(p.get("last_active")) {
                jira_last_active = Some(jira_last_active.map_or(t, |l| l.max(t)));
            }
        }
        Some(OrgUser {
            account_id,
            account_type: text(v, "account_type"),
            active: text(v, "account_status").as_deref() == Some("active"),
            email: text(v, "email"),
            name: text(v, "name"),
            billable: v.get("access_billable").and_then(Value::as_bool),
            last_active: when(v.get("last_active")),
            jira_products,
            jira_last_active,
        })
    }
}

/// A directory entry of the site (`users/search`, `user/search`) as an account.
pub fn site_account(system: &str, at: DateTime<Utc>, v: &Value, flavor: Flavor) -> Option<Account> {
    let (id, username) = match flavor {
        Flavor::Cloud => (text(v, "accountId")?, None),
        Flavor::DataCenter => {
            let name = text(v, "name");
            (text(v, "key").or_else(|| name.clone())?, name)
        }
    };
    let account_type = text(v, "accountType");
    let active = v.get("active").and_then(Value::as_bool).unwrap_or(false)
        && !v.get("deleted").and_then(Value::as_bool).unwrap_or(false);
    Some(Account {
        system: system.to_string(),
        at,
        id,
        email: text(v, "emailAddress"),
        username,
        display_name: text(v, "displayName"),
        status: if active {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        },
        billable: account_type.as_deref() != Some("customer"),
        product: None,
        last_active: None,
        two_step: None,
        sso: None,
        service_account: account_type.as_deref() == Some("app"),
    })
}

/// The account with what the organization API knows about it.
pub fn enrich(mut a: Account, org: &OrgUser) -> Account {
    let has_jira = !org.jira_products.is_empty();
    // Not from `product_access`: Atlassian leaves it empty for a product never opened,
    // which is exactly the idle seat this should find.
    if !org.active {
        a.status = AccountStatus::Disabled;
    }
    if a.email.is_none() {
        a.email = org.email.clone();
    }
    if a.display_name.is_none() {
        a.display_name = org.name.clone();
    }
    if let Some(b) = org.billable {
        a.billable = b;
    }
    if has_jira {
        a.product = Some(org.jira_products.join(", "));
    }
    a.last_active = org.jira_last_active.or(org.last_active);
    a.service_account |= org.account_type.as_deref() == Some("app");
    a
}

/// An organization account the site listing did not show (e.g. the site listing was
/// refused), when it holds a Jira product.
fn org_only(system: &str, at: DateTime<Utc>, org: &OrgUser) -> Option<Account> {
    if org.jira_products.is_empty() {
        return None;
    }
    let base = Account {
        system: system.to_string(),
        at,
        id: org.account_id.clone(),
        email: None,
        username: None,
        display_name: None,
        status: AccountStatus::Active,
        billable: org.account_type.as_deref() != Some("customer"),
        product: None,
        last_active: None,
        two_step: None,
        sso: None,
        service_account: false,
    };
    Some(enrich(base, org))
}

/// Reads every page of the organization's users.
pub(crate) async fn read_org(
    client: &HttpClient,
    cancel: &CancellationToken,
    org_id: &str,
) -> Result<HashMap<String, OrgUser>, HttpError> {
    let path = format!("admin/v1/orgs/{org_id}/users");
    let mut url = client.url(&path, &[])?;
    let mut users = HashMap::new();
    // A repeated cursor would loop forever; the listing has at most as many pages as users.
    let mut seen = std::collections::HashSet::new();
    loop {
        let page: Value = client.get_json_url(cancel, url.clone()).await?;
        for v in page
            .get("data")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(u) = OrgUser::parse(v) {
                users.insert(u.account_id.clone(), u);
            }
        }
        let next = page
            .get("links")
            .and_then(|l| l.get("next"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let Some(next) = next else { break };
        if !seen.insert(next.to_string()) {
            break;
        }
        // Atlassian documents `next` as the cursor of the next page; a full link is
        // followed too (on the same host only).
        url = if next.starts_with("https://") || next.starts_with("http://") {
            client.url(next, &[])?
        } else {
            client.url(&path, &[("cursor", next)])?
        };
    }
    Ok(users)
}

/// Reads the site's directory page by page, sends each page's accounts (enriched from
/// `org` where it knows them), then the organization's Jira accounts the listing did not
/// show. Returns how many accounts were sent.
pub(crate) async fn read_site(
    client: &HttpClient,
    ctx: &ConnectorContext,
    flavor: Flavor,
    system: &str,
    page_size: u32,
    org: Option<&HashMap<String, OrgUser>>,
    at: DateTime<Utc>,
) -> Result<u64, DirectoryError> {
    let cancel = ctx.shutdown();
    let size = page_size.to_string();
    let mut sent = 0u64;
    let mut start = 0u64;
    let mut done_ids = std::collections::HashSet::new();
    let outcome: Result<(), DirectoryError> = async {
        loop {
            let start_text = start.to_string();
            let mut query: Vec<(&str, &str)> =
                vec![("startAt", &start_text), ("maxResults", &size)];
            let path = match flavor {
                Flavor::Cloud => "rest/api/3/users/search",
                Flavor::DataCenter => {
                    query.extend([
                        ("username", "."),
                        ("includeActive", "true"),
                        ("includeInactive", "true"),
                    ]);
                    "rest/api/2/user/search"
                }
            };
            let page: Vec<Value> = client.get_json(cancel, path, &query).await?;
            if page.is_empty() {
                return Ok(());
            }
            start += page.len() as u64;
            let mut records = Vec::new();
            for v in &page {
                let Some(mut a) = site_account(system, at, v, flavor) else {
                    continue;
                };
                if !done_ids.insert(a.id.clone()) {
                    continue;
                }
                if let Some(o) = org.and_then(|o| o.get(&a.id)) {
                    a = enrich(a, o);
                }
                records.push(Record::Account(a));
            }
            sent += records.len() as u64;
            ctx.send_batch(records).await?;
        }
    }
    .await;
    // What the organization knows is sent even when the site listing failed half-way.
    if let Some(org) = org {
        let mut rest: Vec<&OrgUser> = org
            .values()
            .filter(|o| !done_ids.contains(&o.account_id))
            .collect();
        rest.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        let records: Vec<Record> = rest
            .into_iter()
            .filter_map(|o| org_only(system, at, o))
            .map(Record::Account)
            .collect();
        sent += records.len() as u64;
        ctx.send_batch(records).await?;
    }
    outcome.map(|()| sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn org_user_keeps_only_jira_products() {
        let o = OrgUser::parse(&json!({
            "account_id": "a1", "account_type": "atlassian", "account_status": "active",
            "name": "Ann Lee", "email": "ann@corp.example", "access_billable": true,
            "last_active": "2026-11-02T10:00:00Z",
            "product_access": [
                {"key": "confluence", "name": "Confluence", "last_active": "2026-11-20T10:00:00Z"},
                {"key": "jira-software", "name": "Jira Software", "last_active": "2026-11-01T10:00:00Z"}
            ]
        }))
        .unwrap();
        assert_eq!(o.jira_products, ["Jira Software"]);
        assert_eq!(
            o.jira_last_active,
            Some("2026-11-01T10:00:00Z".parse().unwrap())
        );
        let at = "2026-11-30T00:00:00Z".parse().unwrap();
        let site = site_account(
            "Jira",
            at,
            &json!({"accountId": "a1", "accountType": "atlassian", "active": true,
                    "displayName": "Ann Lee"}),
            Flavor::Cloud,
        )
        .unwrap();
        let a = enrich(site, &o);
        assert_eq!(a.status, AccountStatus::Active);
        assert_eq!(a.product.as_deref(), Some("Jira Software"));
        assert_eq!(a.email.as_deref(), Some("ann@corp.example"));
        // Jira's own activity, not Confluence's.
        assert_eq!(a.last_active, o.jira_last_active);

        let confluence_only = OrgUser {
            jira_products: Vec::new(),
            ..o
        };
        let site = site_account(
            "Jira",
            at,
            &json!({"accountId": "a1", "active": true}),
            Flavor::Cloud,
        )
        .unwrap();
        // Access is the account's status; an empty product list is a product never opened.
        let idle = enrich(site.clone(), &confluence_only);
        assert_eq!(idle.status, AccountStatus::Active);
        assert_eq!(idle.product, None);
        let closed = OrgUser {
            active: false,
            ..confluence_only.clone()
        };
        assert_eq!(enrich(site, &closed).status, AccountStatus::Disabled);
        assert!(org_only("Jira", at, &confluence_only).is_none());
    }
}
