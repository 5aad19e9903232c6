//! The users directory: every Redmine account as `/users.json` lists it to an
//! administrator, yielded as SPEC §2 `account` records.
//!
//! The listing is read once per status (`status=1`, `2`, `3`): `/users.json` does not say
//! a user's status in every Redmine version, and `status=*` is not understood before the
//! query-based user list of Redmine 5.1 (5.0 turns `*` into status 0 and lists nobody).
//! Asking per status tells it on every version.
//!
//! Mapping (written down in `docs/connectors/redmine.md`): 1 active → `active`; 3 locked →
//! `disabled`; 2 registered (signed up, but the account was never activated, so it cannot
//! sign in) → `disabled`. `last_login_on` → `last_active`; `twofa_scheme` → `two_step`
//! (null: disabled; missing: unknown); `admin` → product `Administrator`. Redmine has no
//! paid seats of its own, so every account counts as billable (a seat that can be
//! reclaimed), and no bot accounts.

use chrono::{DateTime, Utc};
use tally_http::{CancellationToken, HttpClient, HttpError, OffsetPager, OffsetPaging};
use tally_model::{Account, AccountStatus, ConnectorContext, ConnectorError, Record, TwoStep};

use crate::api::User;

/// Redmine's user statuses and what they mean for access.
const STATUSES: [(&str, AccountStatus); 3] = [
    ("1", AccountStatus::Active),
    ("2", AccountStatus::Disabled),
    ("3", AccountStatus::Disabled),
];

/// The product shown for administrators; other users have none (Redmine has no tiers).
pub const ADMINISTRATOR: &str = "Administrator";

/// One directory entry as an `account` record read at `at`, or `None` for an entry
/// without a login (nobody can sign in as it).
pub(crate) fn account(
    system: &str,
    at: DateTime<Utc>,
    user: &User,
    status: AccountStatus,
) -> Option<Account> {
    let login = user
        .login
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())?;
    let display = format!(
        "{} {}",
        user.firstname.as_deref().unwrap_or("").trim(),
        user.lastname.as_deref().unwrap_or("").trim()
    )
    .trim()
    .to_string();
    Some(Account {
        system: system.to_string(),
        at,
        id: user.id.to_string(),
        email: user
            .mail
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string),
        username: Some(login.to_string()),
        display_name: Some(display).filter(|d| !d.is_empty()),
        status,
        billable: true,
        product: (user.admin == Some(true)).then(|| ADMINISTRATOR.to_string()),
        last_active: user.last_login_on,
        two_step: user
            .twofa_scheme
            .as_ref()
            .map(|scheme| match scheme.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => TwoStep::Enabled,
                _ => TwoStep::Disabled,
            }),
        sso: None,
        service_account: false,
    })
}

/// Reads the whole directory, sending each page's accounts as it arrives, and returns the
/// users it listed (for resolving `@login` mentions).
pub(crate) async fn read(
    client: &HttpClient,
    ctx: &ConnectorContext,
    cancel: &CancellationToken,
    system: &str,
    page_size: u32,
) -> Result<Vec<User>, DirectoryError> {
    let at = Utc::now();
    let mut users = Vec::new();
    for (status, access) in STATUSES {
        let mut pager = OffsetPager::new(
            client,
            "users.json",
            &[("status", status)],
            OffsetPaging {
                page_size,
                ..OffsetPaging::redmine("users")
            },
        );
        while let Some(page) = pager
            .next_page::<User>(cancel)
            .await
            .map_err(DirectoryError::Http)?
        {
            let records: Vec<Record> = page
                .items
                .iter()
                .filter_map(|u| account(system, at, u, access))
                .map(Record::Account)
                .collect();
            ctx.send_batch(records)
                .await
                .map_err(DirectoryError::Connector)?;
            users.extend(page.items);
        }
    }
    Ok(users)
}

/// Why the directory read stopped: the server (reported as a warning, the rest of the run
/// goes on) or the run itself (cancelled, store closed: passed on).
#[derive(Debug)]
pub(crate) enum DirectoryError {
    Http(HttpError),
    Connector(ConnectorError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(json: serde_json::Value) -> User {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn maps_a_directory_entry() {
        let at: DateTime<Utc> = "2026-11-30T06:00:00Z".parse().unwrap();
        let u = user(serde_json::json!({
            "id": 7, "login": "alee", "admin": true, "firstname": "Ann", "lastname": "Lee",
            "mail": "Ann.Lee@corp.example", "last_login_on": "2026-11-20T08:00:00Z",
            "twofa_scheme": "totp"
        }));
        let a = account("Redmine", at, &u, AccountStatus::Active).unwrap();
        assert_eq!(a.id, "7");
        assert_eq!(a.username.as_deref(), Some("alee"));
        assert_eq!(a.display_name.as_deref(), Some("Ann Lee"));
        assert_eq!(a.email.as_deref(), Some("Ann.Lee@corp.example"));
        assert_eq!(a.product.as_deref(), Some(ADMINISTRATOR));
        assert_eq!(a.two_step, Some(TwoStep::Enabled));
        assert_eq!(a.last_active, Some("2026-11-20T08:00:00Z".parse().unwrap()));

        let plain = user(serde_json::json!({
            "id": 8, "login": "bob", "firstname": "Bob", "lastname": "", "twofa_scheme": null
        }));
        let b = account("Redmine", at, &plain, AccountStatus::Disabled).unwrap();
        assert_eq!(b.two_step, Some(TwoStep::Disabled));
        assert_eq!(b.product, None);
        assert_eq!(b.display_name.as_deref(), Some("Bob"));
        assert_eq!(b.status, AccountStatus::Disabled);

        // An older Redmine without the field: unknown, not "disabled".
        let old = user(serde_json::json!({"id": 9, "login": "carol"}));
        assert_eq!(
            account("Redmine", at, &old, AccountStatus::Active)
                .unwrap()
                .two_step,
            None
        );
        assert!(account(
            "Redmine",
            at,
            &user(serde_json::json!({"id": 2})),
            AccountStatus::Active
        )
        .is_none());
    }
}
