//! `sys_user`: who a `user_name` or a user `sys_id` is, and the directory's `account`
//! records (SPEC §2).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use tally_http::{CancellationToken, HttpClient, HttpError};
use tally_model::{Account, AccountStatus, TwoStep};

/// One Table API record: every field a string (with `sysparm_display_value=false` and
/// `sysparm_exclude_reference_link=true`; a reference is the referenced `sys_id`).
pub type Row = Map<String, Value>;

#[derive(Debug, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub result: Vec<Row>,
}

/// A field's value, trimmed, when not empty. A reference sent with its link
/// (`{"link": …, "value": …}`) gives its `value`.
pub fn field<'r>(row: &'r Row, name: &str) -> Option<&'r str> {
    let v = match row.get(name)? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("value")?.as_str()?,
        _ => return None,
    };
    let v = v.trim();
    (!v.is_empty()).then_some(v)
}

fn flag(row: &Row, name: &str) -> Option<bool> {
    match field(row, name)? {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// A Table API time: `2016-01-19 04:52:04` in UTC (the API's internal format with
/// `sysparm_display_value=false`), or RFC 3339.
pub fn time(row: &Row, name: &str) -> Option<DateTime<Utc>> {
    let v = field(row, name)?;
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S") {
        return Some(t.and_utc());
    }
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The `sys_user` fields the connector reads.
pub const USER_FIELDS: &str = "sys_id,user_name,email,name,first_name,last_name,active,\
    locked_out,last_login_time,enable_multifactor_authn,source,web_service_access_only,\
    internal_integration_user";

pub use tally_http::Person;

fn is_service_account(row: &Row) -> bool {
    flag(row, "web_service_access_only") == Some(true)
        || flag(row, "internal_integration_user") == Some(true)
}

fn person_of(row: &Row) -> Person {
    let name = field(row, "name").map(str::to_string).or_else(|| {
        let full = format!(
            "{} {}",
            field(row, "first_name").unwrap_or(""),
            field(row, "last_name").unwrap_or("")
        );
        let full = full.trim();
        (!full.is_empty()).then(|| full.to_string())
    });
    Person {
        id: field(row, "sys_id").map(str::to_string),
        username: field(row, "user_name").map(str::to_string),
        email: field(row, "email").map(str::to_string),
        display_name: name,
        service_account: is_service_account(row),
    }
}

/// The directory entry of one `sys_user` record, read at `at`.
pub fn account_of(system: &str, at: DateTime<Utc>, row: &Row) -> Option<Account> {
    let id = field(row, "sys_id")?.to_string();
    let p = person_of(row);
    let active = flag(row, "active") != Some(false) && flag(row, "locked_out") != Some(true);
    Some(Account {
        system: system.to_string(),
        at,
        id,
        email: p.email,
        username: p.username,
        display_name: p.display_name,
        status: if active {
            AccountStatus::Active
        } else {
            AccountStatus::Disabled
        },
        billable: true,
        product: None,
        last_active: time(row, "last_login_time"),
        two_step: flag(row, "enable_multifactor_authn").map(|on| {
            if on {
                TwoStep::Enabled
            } else {
                TwoStep::Disabled
            }
        }),
        // `source` names the directory a user was imported from (an LDAP DN, an SSO or
        // SCIM source); local accounts have none.
        sso: row
            .contains_key("source")
            .then(|| field(row, "source").is_some()),
        service_account: p.service_account,
    })
}

/// Users ServiceNow names as actors that are no person: background jobs run as
/// `system`, unauthenticated requests as `guest`.
fn is_platform_actor(user_name: &str) -> bool {
    matches!(user_name.to_ascii_lowercase().as_str(), "system" | "guest")
}

/// People by `sys_id` and by `user_name`, each looked up at most once per run.
#[derive(Debug, Default)]
pub struct People {
    by_id: HashMap<String, Option<Person>>,
    by_name: HashMap<String, Option<Person>>,
    /// `sys_user` answered 401/403/404 to a lookup: names are kept as they are.
    unreadable: bool,
}

impl People {
    pub fn remember(&mut self, row: &Row) {
        let p = person_of(row);
        if let Some(u) = &p.username {
            self.by_name.insert(u.to_lowercase(), Some(p.clone()));
        }
        if let Some(id) = field(row, "sys_id") {
            self.by_id.insert(id.to_string(), Some(p));
        }
    }

    /// The person behind a reference (`sys_id`); None when `sys_user` has nobody there
    /// (or could not be read: a `sys_id` alone identifies nobody in other systems).
    pub fn by_id(&self, id: &str) -> Option<Person> {
        self.by_id.get(id).cloned().flatten()
    }

    /// The person behind a `user_name` (`sys_created_by`, `sys_audit.user`): from
    /// `sys_user`, else the user name alone.
    pub fn by_name(&self, user_name: &str) -> Option<Person> {
        if let Some(known) = self.by_name.get(&user_name.to_lowercase()) {
            return known.clone().or_else(|| {
                (!is_platform_actor(user_name)).then(|| Person {
                    username: Some(user_name.to_string()),
                    ..Person::default()
                })
            });
        }
        (!is_platform_actor(user_name)).then(|| Person {
            username: Some(user_name.to_string()),
            ..Person::default()
        })
    }

    /// Looks up in `sys_user` the ids and user names not seen yet, 50 at a time.
    pub async fn resolve(
        &mut self,
        client: &HttpClient,
        cancel: &CancellationToken,
        ids: &[String],
        names: &[String],
    ) -> Result<(), HttpError> {
        if self.unreadable {
            return Ok(());
        }
        let mut new_ids: Vec<&String> = ids
            .iter()
            .filter(|i| !self.by_id.contains_key(*i))
            .collect();
        new_ids.sort();
        new_ids.dedup();
        let mut new_names: Vec<String> = names
            .iter()
            .map(|n| n.to_lowercase())
            .filter(|n| !self.by_name.contains_key(n))
            .collect();
        new_names.sort();
        new_names.dedup();
        let queries = new_ids
            .chunks(50)
            .map(|c| format!("sys_idIN{}", join(c.iter().map(|s| s.as_str()))))
            .chain(
                new_names
                    .chunks(50)
                    .map(|c| format!("user_nameIN{}", join(c.iter().map(String::as_str)))),
            )
            .collect::<Vec<_>>();
        for query in queries {
            let got = client
                .get_json::<Envelope>(
                    cancel,
                    "api/now/table/sys_user",
                    &[
                        ("sysparm_query", &query),
                        ("sysparm_fields", USER_FIELDS),
                        ("sysparm_display_value", "false"),
                        ("sysparm_exclude_reference_link", "true"),
                        ("sysparm_limit", "50"),
                    ],
                )
                .await;
            match got {
                Ok(env) => {
                    for row in &env.result {
                        self.remember(row);
                    }
                }
                Err(e) if matches!(e.status(), Some(401 | 403 | 404)) => {
                    self.unreadable = true;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        // Asked for and not there: deleted users, or references to other tables.
        for id in new_ids {
            self.by_id.entry(id.clone()).or_insert(None);
        }
        for name in new_names {
            self.by_name.entry(name).or_insert(None);
        }
        Ok(())
    }
}

/// Values for an `IN` condition of an encoded query: comma-separated, without the
/// characters that would end the condition.
pub fn join<'a>(values: impl Iterator<Item = &'a str>) -> String {
    values
        .filter(|v| !v.contains(['^', ',']))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_times_and_actors() {
        let row: Row = serde_json::from_value(serde_json::json!({
            "opened_by": {"link": "https://x/api/now/table/sys_user/abc", "value": "abc"},
            "assigned_to": " ", "sys_updated_on": "2016-01-19 04:52:04"
        }))
        .unwrap();
        assert_eq!(field(&row, "opened_by"), Some("abc"));
        assert_eq!(field(&row, "assigned_to"), None);
        assert_eq!(
            time(&row, "sys_updated_on").unwrap().to_rfc3339(),
            "2016-01-19T04:52:04+00:00"
        );
        let people = People::default();
        assert_eq!(people.by_name("system"), None);
        assert_eq!(
            people.by_name("abel.tuter").unwrap().username.as_deref(),
            Some("abel.tuter")
        );
        assert_eq!(join(["a", "b^ORx", "c"].into_iter()), "a,c");
    }
}
