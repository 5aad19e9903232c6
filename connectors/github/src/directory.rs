//! The directory: an organisation's members and outside collaborators, and an
//! enterprise's consumed licences, as SPEC §2 `account` records.
//!
//! A directory the token may not read is a warning; the activity is collected anyway.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::Value;
use tally_http::link_paging::LinkPager;
use tally_http::people::non_empty;
use tally_http::rate_limit::RateLimitGate;
use tally_http::{CancellationToken, HttpClient, HttpError};
use tally_model::{Account, AccountStatus, ConnectorContext, ConnectorError, Record, TwoStep};

use crate::api::{LicenseUser, SimpleUser};
use crate::Settings;

pub(crate) async fn collect(
    ctx: &ConnectorContext,
    client: &HttpClient,
    gate: &RateLimitGate,
    system: &str,
    settings: &Settings,
) -> Result<(), ConnectorError> {
    let cancel = ctx.shutdown().clone();
    let at = Utc::now();
    let mut dir = Directory {
        client,
        gate,
        per_page: settings.page_size.to_string(),
        accounts: BTreeMap::new(),
    };
    if let Some(org) = settings.org.as_deref().map(str::trim) {
        for (path, product) in [
            (format!("orgs/{org}/members"), "Organization member"),
            (
                format!("orgs/{org}/outside_collaborators"),
                "Outside collaborator",
            ),
        ] {
            match dir.list(&cancel, &path, product, at).await {
                Ok(()) => {}
                Err(e) if fatal(&e) => return Err(e.into()),
                Err(e) => {
                    ctx.warn(format!(
                        "the directory of organisation '{org}' is incomplete: {e}; {product}s \
                         are not listed as accounts (the token needs the read:org scope, or \
                         organisation Members read access for a fine-grained token)"
                    ))
                    .await?;
                    continue;
                }
            }
            // Only organisation owners may filter by two-factor state; for the others it is
            // left unknown.
            match dir.two_factor(&cancel, &path).await {
                Ok(()) => {}
                Err(e) if fatal(&e) => return Err(e.into()),
                Err(e) => {
                    ctx.warn(format!(
                        "two-factor state of the {}s of '{org}' is unknown: {e}; only \
                         organisation owners may list members with two-factor authentication \
                         disabled",
                        product.to_lowercase()
                    ))
                    .await?;
                }
            }
        }
    }
    if let Some(enterprise) = settings.enterprise.as_deref().map(str::trim) {
        match dir.licenses(&cancel, enterprise, at).await {
            Ok(()) => {}
            Err(e) if fatal(&e) => return Err(e.into()),
            Err(e) => {
                ctx.warn(format!(
                    "the consumed licences of enterprise '{enterprise}' could not be read: {e}; \
                     seats, verified e-mails and SSO are unknown (this needs an enterprise \
                     owner's or billing manager's token with the manage_billing:enterprise or \
                     read:enterprise scope, on GitHub Enterprise Cloud)"
                ))
                .await?;
            }
        }
    }
    let records: Vec<Record> = dir
        .accounts
        .into_values()
        .map(|e| {
            Record::Account(Account {
                system: system.to_string(),
                ..e.account
            })
        })
        .collect();
    if !records.is_empty() {
        ctx.send_batch(records).await?;
    }
    Ok(())
}

/// Errors that end the run rather than leaving the directory incomplete: a bad token stops
/// everything else too, and cancellation is cancellation.
fn fatal(e: &HttpError) -> bool {
    e.is_cancelled() || e.status() == Some(401)
}

struct Entry {
    account: Account,
    /// The list the account came from, for its two-factor state.
    list: String,
}

struct Directory<'a> {
    client: &'a HttpClient,
    gate: &'a RateLimitGate,
    per_page: String,
    /// Lower-cased login (or, for an Enterprise Server-only licence, its first id) ->
    /// account.
    accounts: BTreeMap<String, Entry>,
}

impl Directory<'_> {
    fn pager(&self, path: &str, extra: &[(&str, &str)]) -> Result<LinkPager, HttpError> {
        let mut query = vec![("per_page", self.per_page.as_str())];
        query.extend_from_slice(extra);
        Ok(LinkPager::new(self.client, path, &query)?.with_gate(self.gate.clone()))
    }

    async fn list(
        &mut self,
        cancel: &CancellationToken,
        path: &str,
        product: &str,
        at: DateTime<Utc>,
    ) -> Result<(), HttpError> {
        let mut pager = self.pager(path, &[])?;
        while let Some(page) = pager.next_page::<SimpleUser>(cancel).await? {
            for u in page.items {
                let key = u.login.to_lowercase();
                // A member is not also an outside collaborator; the first list wins.
                if self.accounts.contains_key(&key) {
                    continue;
                }
                self.accounts.insert(
                    key,
                    Entry {
                        account: Account {
                            system: String::new(),
                            at,
                            id: u.id.map_or_else(|| u.login.clone(), |id| id.to_string()),
                            email: None,
                            username: Some(u.login.clone()),
                            display_name: None,
                            status: AccountStatus::Active,
                            billable: true,
                            product: Some(product.to_string()),
                            last_active: None,
                            two_step: None,
                            sso: None,
                            service_account: u.is_bot(),
                        },
                        list: path.to_string(),
                    },
                );
            }
        }
        Ok(())
    }

    /// `filter=2fa_disabled` on the list at `path`: those listed have two-factor
    /// authentication off, the others of that list on.
    async fn two_factor(
        &mut self,
        cancel: &CancellationToken,
        path: &str,
    ) -> Result<(), HttpError> {
        let mut disabled = HashSet::new();
        let mut pager = self.pager(path, &[("filter", "2fa_disabled")])?;
        while let Some(page) = pager.next_page::<SimpleUser>(cancel).await? {
            disabled.extend(page.items.into_iter().map(|u| u.login.to_lowercase()));
        }
        for (key, entry) in self.accounts.iter_mut().filter(|(_, e)| e.list == path) {
            entry.account.two_step = Some(if disabled.contains(key) {
                TwoStep::Disabled
            } else {
                TwoStep::Enabled
            });
        }
        Ok(())
    }

    /// The enterprise's consumed licences: each is a seat. They add the verified-domain
    /// e-mail, the name, SAML (SSO), two-factor state and licence type to the accounts of
    /// the organisation lists; an organisation account without a licence takes no seat.
    async fn licenses(
        &mut self,
        cancel: &CancellationToken,
        enterprise: &str,
        at: DateTime<Utc>,
    ) -> Result<(), HttpError> {
        let path = format!("enterprises/{enterprise}/consumed-licenses");
        let mut pager = self.pager(&path, &[])?.items_under("users");
        let mut licensed = HashSet::new();
        while let Some(page) = pager.next_page::<LicenseUser>(cancel).await? {
            for u in page.items {
                let login = non_empty(u.github_com_login.as_deref());
                let Some(key) = login
                    .as_ref()
                    .map(|l| l.to_lowercase())
                    .or_else(|| {
                        u.enterprise_server_user_ids
                            .first()
                            .map(|id| format!("server:{id}"))
                    })
                    .or_else(|| {
                        u.enterprise_server_emails
                            .first()
                            .map(|e| format!("server:{}", e.to_lowercase()))
                    })
                else {
                    continue;
                };
                licensed.insert(key.clone());
                let entry = self.accounts.entry(key.clone()).or_insert_with(|| Entry {
                    account: Account {
                        system: String::new(),
                        at,
                        id: login
                            .clone()
                            .unwrap_or_else(|| key.trim_start_matches("server:").to_string()),
                        email: None,
                        username: login.clone(),
                        display_name: None,
                        status: AccountStatus::Active,
                        billable: true,
                        product: None,
                        last_active: None,
                        two_step: None,
                        sso: None,
                        service_account: false,
                    },
                    list: path.clone(),
                });
                let a = &mut entry.account;
                a.email = u
                    .github_com_verified_domain_emails
                    .iter()
                    .chain(&u.enterprise_server_emails)
                    .find_map(|e| non_empty(Some(e)))
                    .or(a.email.take());
                a.display_name = non_empty(u.github_com_name.as_deref()).or(a.display_name.take());
                if let Some(t) = non_empty(u.license_type.as_deref()) {
                    a.product = Some(t);
                }
                if login.is_some() {
                    a.sso = Some(non_empty(u.github_com_saml_name_id.as_deref()).is_some());
                }
                if let Value::Bool(on) = u.github_com_two_factor_auth {
                    a.two_step = Some(if on {
                        TwoStep::Enabled
                    } else {
                        TwoStep::Disabled
                    });
                }
            }
        }
        for (key, entry) in &mut self.accounts {
            entry.account.billable = licensed.contains(key);
        }
        Ok(())
    }
}
