//! People as Jira shows them, and the mentions inside rich text.
//!
//! Cloud users carry `accountId`, `displayName`, `emailAddress` (absent when the person's
//! profile visibility hides it) and `accountType` (`atlassian`, `app`, `customer`); they have
//! no username: an accountId is an opaque id, never a login, so it is not reported as one.
//! Data Center users carry `name` (the login), `key` (an internal id such as `JIRAUSER10100`,
//! not reported), `emailAddress` and `displayName`.

use serde_json::Value;

use crate::Flavor;

pub(crate) use tally_http::people::text;
pub use tally_http::Person;

/// A user object as Jira returns it (author, assignee, a user-picker value, a profile).
pub fn person(v: &Value, flavor: Flavor) -> Option<Person> {
    if !v.is_object() {
        return None;
    }
    let p = match flavor {
        Flavor::Cloud => Person {
            id: None,
            email: text(v, "emailAddress"),
            username: None,
            display_name: text(v, "displayName"),
            // Forge/Connect apps and automation act as `app` accounts.
            service_account: text(v, "accountType").as_deref() == Some("app"),
        },
        Flavor::DataCenter => Person {
            id: None,
            email: text(v, "emailAddress"),
            username: text(v, "name"),
            display_name: text(v, "displayName"),
            service_account: false,
        },
    };
    p.is_identified().then_some(p)
}

/// A mention found in rich text, before it is resolved to a profile.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Mention {
    /// A Cloud accountId, with the `@Name` text the editor stored (used when the profile
    /// cannot be read).
    AccountId { id: String, text: Option<String> },
    /// A Data Center login from `[~login]`.
    Username(String),
}

/// Mentions in a body: an Atlassian Document Format tree (Cloud, REST v3) or wiki markup
/// (Data Center, REST v2; also Cloud v2 renderings `[~accountid:...]`).
pub fn mentions(body: &Value) -> Vec<Mention> {
    let mut out = Vec::new();
    match body {
        Value::String(s) => wiki_mentions(s, &mut out),
        Value::Object(_) => adf_mentions(body, &mut out),
        _ => {}
    }
    out
}

/// ADF: `{"type":"mention","attrs":{"id":"<accountId>","text":"@Name","accessLevel":""}}`
/// anywhere in the `content` tree.
fn adf_mentions(node: &Value, out: &mut Vec<Mention>) {
    // Iterative, so a hostile deeply nested document cannot overflow the stack.
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.get("type").and_then(Value::as_str) == Some("mention") {
            if let Some(attrs) = n.get("attrs") {
                if let Some(id) = text(attrs, "id") {
                    let label = text(attrs, "text")
                        .map(|t| t.trim_start_matches('@').trim().to_string())
                        .filter(|t| !t.is_empty());
                    out.push(Mention::AccountId { id, text: label });
                }
            }
        }
        if let Some(children) = n.get("content").and_then(Value::as_array) {
            stack.extend(children.iter().rev());
        }
    }
}

/// Wiki markup: `[~login]` and `[~accountid:<id>]`.
fn wiki_mentions(s: &str, out: &mut Vec<Mention>) {
    let mut rest = s;
    while let Some(start) = rest.find("[~") {
        let after = &rest[start + 2..];
        let Some(end) = after.find(']') else { break };
        let inner = after[..end].trim();
        if let Some(id) = inner.strip_prefix("accountid:") {
            let id = id.trim();
            if !id.is_empty() {
                out.push(Mention::AccountId {
                    id: id.to_string(),
                    text: None,
                });
            }
        } else if !inner.is_empty() && !inner.contains(char::is_whitespace) {
            out.push(Mention::Username(inner.to_string()));
        }
        rest = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloud_user_has_no_username_and_app_is_a_service_account() {
        let u = json!({"accountId":"5b10a2844c20165700ede21g","displayName":"Mia Krystof",
                       "emailAddress":"mia@example.com","accountType":"atlassian"});
        let p = person(&u, Flavor::Cloud).unwrap();
        assert_eq!(p.username, None);
        assert_eq!(p.email.as_deref(), Some("mia@example.com"));
        assert!(!p.service_account);
        let app = json!({"accountId":"557058:abc","displayName":"Automation for Jira","accountType":"app"});
        assert!(person(&app, Flavor::Cloud).unwrap().service_account);
        // Hidden email: only the display name is left.
        let hidden = json!({"accountId":"x","displayName":"Mia Krystof","emailAddress":""});
        assert_eq!(
            person(&hidden, Flavor::Cloud).unwrap(),
            Person {
                display_name: Some("Mia Krystof".into()),
                ..Person::default()
            }
        );
    }

    #[test]
    fn data_center_user_uses_name_not_key() {
        let u = json!({"name":"alee","key":"JIRAUSER10100","emailAddress":"ann.lee@corp.example","displayName":"Ann Lee"});
        let p = person(&u, Flavor::DataCenter).unwrap();
        assert_eq!(p.username.as_deref(), Some("alee"));
        assert!(person(&json!(null), Flavor::DataCenter).is_none());
    }

    #[test]
    fn adf_mentions_are_found_at_any_depth() {
        let doc = json!({"type":"doc","version":1,"content":[
            {"type":"paragraph","content":[
                {"type":"text","text":"ping "},
                {"type":"mention","attrs":{"id":"5b10a2844c20165700ede21g","text":"@Mia Krystof","accessLevel":""}}
            ]},
            {"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[
                {"type":"mention","attrs":{"id":"5b10ac8d82e05b22cc7d4ef5","text":"@Emma Richards","accessLevel":""}}
            ]}]}]}
        ]});
        assert_eq!(
            mentions(&doc),
            vec![
                Mention::AccountId {
                    id: "5b10a2844c20165700ede21g".into(),
                    text: Some("Mia Krystof".into())
                },
                Mention::AccountId {
                    id: "5b10ac8d82e05b22cc7d4ef5".into(),
                    text: Some("Emma Richards".into())
                },
            ]
        );
    }

    #[test]
    fn wiki_mentions() {
        let body = json!("Hi [~alee] and [~accountid:5b10a2844c20165700ede21g], see [link|http://x] [~ ] [~broken");
        assert_eq!(
            mentions(&body),
            vec![
                Mention::Username("alee".into()),
                Mention::AccountId {
                    id: "5b10a2844c20165700ede21g".into(),
                    text: None
                },
            ]
        );
    }
}
