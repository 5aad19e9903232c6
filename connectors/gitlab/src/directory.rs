//! The user directory: `account` records (SPEC §2), and who the people behind user ids
//! and `@username`s are.
//!
//! With an administrator's token, `GET /users` lists every account of the instance with
//! its state, e-mail, bot flag, two-factor state, identities and licence seat (keyset
//! pages by id). Otherwise the members of the configured groups and projects
//! (`…/members/all`, inherited members included) are what the token may see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tally_http::{CancellationToken, HttpError};
use tally_model::{Account, AccountStatus, TwoStep};

use crate::api::{encode_id, Api, DirectoryUser, Member, UserRef};

/// Who a GitLab user is, as far as this token may see.
pub use tally_http::Person;

use tally_http::people::non_empty as clean;

/// Usernames GitLab gives to non-human accounts it creates itself: the bot user of a
/// project or group access token (`project_<id>_bot_<suffix>`, `group_<id>_bot_<suffix>`)
/// and service accounts (`service_account_…`, GitLab 16.1 and later).
pub fn is_generated_bot(username: &str) -> bool {
    let u = username.to_ascii_lowercase();
    if u.starts_with("service_account_") {
        return true;
    }
    let Some(rest) = u
        .strip_prefix("project_")
        .or_else(|| u.strip_prefix("group_"))
    else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return false;
    }
    let after = &rest[digits..];
    after == "_bot" || after.starts_with("_bot_")
}

/// User ids and usernames resolved to people, from the directory and from what issues
/// and notes show.
#[derive(Debug, Default)]
pub struct People {
    by_id: HashMap<u64, Person>,
    by_username: HashMap<String, Person>,
    /// The whole instance's users were read (administrator): a username nobody has is not
    /// a person (`@ops-team` is a group).
    complete: bool,
}

impl People {
    fn insert(&mut self, id: u64, p: Person) {
        if let Some(u) = &p.username {
            self.by_username.insert(u.to_lowercase(), p.clone());
        }
        self.by_id.insert(id, p);
    }

    /// The person behind a user reference, with what the directory knows added.
    pub fn of_ref(&self, r: &UserRef) -> Option<Person> {
        let known = self.by_id.get(&r.id);
        let username = clean(r.username.as_deref()).or_else(|| known?.username.clone());
        let display_name = clean(r.name.as_deref()).or_else(|| known?.display_name.clone());
        // Contributions of deleted users move to GitLab's Ghost User: nobody to count.
        if username.as_deref() == Some("ghost") && display_name.as_deref() == Some("Ghost User") {
            return None;
        }
        if username.is_none() && display_name.is_none() {
            return None;
        }
        let email = clean(r.email.as_deref()).or_else(|| known?.email.clone());
        let service_account = r.bot == Some(true)
            || known.is_some_and(|k| k.service_account)
            || username.as_deref().is_some_and(is_generated_bot);
        Some(Person {
            id: None,
            username,
            email,
            display_name,
            service_account,
        })
    }

    /// The person an `@username` names: known from the directory, or, when the
    /// directory is not the whole instance, just the username.
    pub fn of_username(&self, username: &str) -> Option<Person> {
        if let Some(p) = self.by_username.get(&username.to_lowercase()) {
            return Some(p.clone());
        }
        (!self.complete).then(|| Person {
            id: None,
            username: Some(username.to_string()),
            service_account: is_generated_bot(username),
            ..Person::default()
        })
    }
}

/// GitLab's "Access level" of an account in the Admin Area.
fn user_product(u: &DirectoryUser) -> &'static str {
    if u.is_admin == Some(true) {
        "Administrator"
    } else if u.is_auditor == Some(true) {
        "Auditor"
    } else if u.external == Some(true) {
        "External"
    } else {
        "Regular"
    }
}

/// The role name of a membership's `access_level`.
fn role(level: u32) -> Option<&'static str> {
    Some(match level {
        5 => "Minimal Access",
        10 => "Guest",
        15 => "Planner",
        20 => "Reporter",
        30 => "Developer",
        40 => "Maintainer",
        50 => "Owner",
        _ => return None,
    })
}

pub fn account_of_user(system: &str, at: DateTime<Utc>, u: &DirectoryUser) -> Account {
    let username = clean(u.username.as_deref());
    let service_account = u.bot == Some(true) || username.as_deref().is_some_and(is_generated_bot);
    let last_active = [
        u.last_activity_day(),
        u.current_sign_in_at,
        u.last_sign_in_at,
    ]
    .into_iter()
    .flatten()
    .max();
    Account {
        system: system.to_string(),
        at,
        id: u.id.to_string(),
        email: clean(u.email.as_deref()).or_else(|| clean(u.public_email.as_deref())),
        username,
        display_name: clean(u.name.as_deref()),
        // `blocked`, `deactivated`, `banned`, `ldap_blocked`, `blocked_pending_approval`:
        // listed, but cannot sign in.
        status: if u.state.as_deref() == Some("active") {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        },
        billable: u.using_license_seat.unwrap_or(true),
        product: Some(user_product(u).to_string()),
        last_active,
        two_step: u.two_factor_enabled.map(|on| {
            if on {
                TwoStep::Enabled
            } else {
                TwoStep::Disabled
            }
        }),
        // An identity is an external sign-in (SAML, LDAP, OpenID Connect, OAuth) linked
        // to the account.
        sso: u.identities.as_ref().map(|ids| {
            ids.iter()
                .any(|i| i.provider.as_deref().is_some_and(|p| !p.trim().is_empty()))
        }),
        service_account,
    }
}

pub fn account_of_member(system: &str, at: DateTime<Utc>, m: &Member) -> Account {
    let username = clean(m.username.as_deref());
    let active = m.state.as_deref() == Some("active")
        && m.membership_state.as_deref().is_none_or(|s| s == "active");
    Account {
        system: system.to_string(),
        at,
        id: m.id.to_string(),
        email: clean(m.email.as_deref()),
        service_account: username.as_deref().is_some_and(is_generated_bot),
        username,
        display_name: clean(m.name.as_deref()),
        status: if active {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        },
        billable: m.is_using_seat.unwrap_or(true),
        product: m.access_level.and_then(role).map(str::to_string),
        last_active: None,
        two_step: None,
        // A group SAML identity says the member signs in through the group's SAML; its
        // absence says nothing (the instance's own sign-in methods are not visible here).
        sso: m
            .group_saml_identity
            .as_ref()
            .filter(|v| !v.is_null())
            .map(|_| true),
    }
}

/// Where the directory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Instance,
    Members,
}

/// Reads the directory: the instance's users for an administrator, else the members of
/// the configured groups and projects, as accounts seen at `at`.
pub struct Scope<'a> {
    pub system: &'a str,
    pub at: DateTime<Utc>,
    pub admin: bool,
    pub groups: &'a [String],
    pub projects: &'a [String],
    pub page_size: u32,
}

pub async fn read(
    api: &Api,
    cancel: &CancellationToken,
    scope: &Scope<'_>,
    people: &mut People,
) -> Result<(Source, Vec<Account>), HttpError> {
    let Scope {
        system,
        at,
        admin,
        groups,
        projects,
        page_size,
    } = *scope;
    let mut accounts = Vec::new();
    let per_page = page_size.to_string();
    if admin {
        let mut next = Some(api.url(
            "users",
            &[
                ("pagination", "keyset"),
                ("order_by", "id"),
                ("sort", "asc"),
                ("per_page", &per_page),
            ],
        )?);
        while let Some(url) = next {
            let page = api.page::<DirectoryUser>(cancel, &url).await?;
            for u in &page.items {
                people.insert(
                    u.id,
                    Person {
                        id: None,
                        username: clean(u.username.as_deref()),
                        email: clean(u.email.as_deref())
                            .or_else(|| clean(u.public_email.as_deref())),
                        display_name: clean(u.name.as_deref()),
                        service_account: u.bot == Some(true)
                            || u.username.as_deref().is_some_and(is_generated_bot),
                    },
                );
            }
            accounts.extend(page.items.iter().map(|u| account_of_user(system, at, u)));
            next = page.next;
        }
        people.complete = true;
        return Ok((Source::Instance, accounts));
    }
    let mut members: Vec<Member> = Vec::new();
    let scopes = groups
        .iter()
        .map(|g| ("groups", g))
        .chain(projects.iter().map(|p| ("projects", p)));
    for (kind, id) in scopes {
        let url = api.url(
            &format!("{kind}/{}/members/all", encode_id(id)),
            &[("per_page", &per_page)],
        )?;
        for m in api.all::<Member>(cancel, url).await? {
            match members.iter_mut().find(|k| k.id == m.id) {
                // One account per user: keep the highest role seen.
                Some(known) => {
                    if m.access_level > known.access_level {
                        *known = m;
                    }
                }
                None => members.push(m),
            }
        }
    }
    for m in &members {
        people.insert(
            m.id,
            Person {
                id: None,
                username: clean(m.username.as_deref()),
                email: clean(m.email.as_deref()),
                display_name: clean(m.name.as_deref()),
                service_account: m.username.as_deref().is_some_and(is_generated_bot),
            },
        );
    }
    accounts.extend(members.iter().map(|m| account_of_member(system, at, m)));
    Ok((Source::Members, accounts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_bots() {
        assert!(is_generated_bot("project_278964_bot_2a3d4e5f"));
        assert!(is_generated_bot("group_9_bot"));
        assert!(is_generated_bot("service_account_group_3_7c1d"));
        assert!(!is_generated_bot("project_manager"));
        assert!(!is_generated_bot("group_12_botany"));
        assert!(!is_generated_bot("alee"));
    }
}
