//! People as Azure DevOps shows them.
//!
//! An identity field is an `IdentityRef` object (`displayName`, `uniqueName`, `descriptor`,
//! `isContainer`, …) when asked with `includeIdentityRef=true`, and older APIs answer with
//! the text `Display Name <uniqueName>`; both are read. `uniqueName` is the sign-in name: an
//! email on Azure DevOps Services (Entra ID / Microsoft accounts), `DOMAIN\login` on
//! Azure DevOps Server with Active Directory. It is classified by its form, not by the
//! flavor, so a Server backed by Entra ID (emails) works too.

use serde_json::Value;

pub use tally_http::Person;

/// How a `DOMAIN\login` sign-in name becomes a username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRules {
    /// Keep `domain\login` (lower-cased by identity resolution) instead of `login`. Off by
    /// default: other systems (Jira, GitLab via LDAP) know the same person as `login`.
    pub keep_domain: bool,
}

fn clean(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).and_then(clean)
}

/// Splits `Display Name <unique>` into its parts; a text without `<…>` is a unique name.
fn split_display(s: &str) -> (Option<String>, Option<String>) {
    let s = s.trim();
    if let (Some(open), true) = (s.rfind('<'), s.ends_with('>')) {
        let display = clean(&s[..open]);
        let unique = clean(&s[open + 1..s.len() - 1]);
        return (display, unique);
    }
    (None, clean(s))
}

/// Windows' built-in accounts and Azure DevOps' own service identities. They act on work
/// items (builds, release pipelines, rules) without being people.
const SERVICE_DOMAINS: [&str; 4] = ["nt authority", "local authority", "build", "agentpool"];

/// Descriptor prefixes (subject types) of non-human identities: `svc` Azure DevOps service
/// identities (build service, TeamFoundationService), `s2s` service-to-service principals,
/// `aadsp` Entra ID service principals and managed identities.
const SERVICE_DESCRIPTORS: [&str; 3] = ["svc.", "s2s.", "aadsp."];

fn is_service_display_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    // "Project Collection Build Service (fabrikam)", "Fabrikam Build Service (fabrikam)".
    lower.contains("build service (")
        || lower.starts_with("project collection service accounts")
        || lower == "microsoft.teamfoundation.system"
        || lower.starts_with("teamfoundationservice")
        || lower == "azure boards"
}

/// An identity field's value as a person. Groups (`isContainer`) are not people.
pub fn person(v: &Value, rules: NameRules) -> Option<Person> {
    let (display, unique, descriptor) = match v {
        Value::String(s) => {
            let (d, u) = split_display(s);
            (d, u, None)
        }
        Value::Object(_) => {
            if v.get("isContainer").and_then(Value::as_bool) == Some(true) {
                return None;
            }
            // Some answers carry `uniqueName` as `Display <unique>` too.
            let (inner_display, unique) = field(v, "uniqueName")
                .map(|u| split_display(&u))
                .unwrap_or((None, None));
            (
                field(v, "displayName").or(inner_display),
                unique,
                field(v, "descriptor"),
            )
        }
        _ => return None,
    };
    let mut p = Person {
        display_name: display,
        ..Person::default()
    };
    if let Some(u) = unique {
        classify_unique(&u, rules, &mut p);
    }
    if descriptor
        .as_deref()
        .is_some_and(|d| SERVICE_DESCRIPTORS.iter().any(|s| d.starts_with(s)))
        || p.display_name
            .as_deref()
            .is_some_and(is_service_display_name)
    {
        p.service_account = true;
    }
    (p.email.is_some() || p.username.is_some() || p.display_name.is_some()).then_some(p)
}

/// Sorts a sign-in name into email or username (and service account, for built-in
/// domains).
pub fn classify_unique(u: &str, rules: NameRules, p: &mut Person) {
    if let Some((domain, login)) = u.split_once('\\') {
        if SERVICE_DOMAINS.contains(&domain.trim().to_lowercase().as_str()) {
            p.service_account = true;
        }
        let name = if rules.keep_domain { u } else { login };
        p.username = clean(name);
    } else if u.matches('@').count() == 1 && !u.starts_with('@') && !u.ends_with('@') {
        p.email = clean(u);
    } else {
        p.username = clean(u);
    }
}

/// A person from the Identities API (`_apis/identities?identityIds=`), used to resolve
/// mentions: `properties.Mail`, `properties.Account` (+ `Domain`), display names.
pub fn from_identity(v: &Value, rules: NameRules) -> Option<Person> {
    let prop = |k: &str| {
        v.get("properties")
            .and_then(|p| p.get(k))
            .and_then(|p| p.get("$value"))
            .and_then(Value::as_str)
            .and_then(clean)
    };
    if v.get("isContainer").and_then(Value::as_bool) == Some(true)
        || prop("SchemaClassName").as_deref() == Some("Group")
    {
        return None;
    }
    let mut p = Person {
        display_name: field(v, "customDisplayName").or_else(|| field(v, "providerDisplayName")),
        ..Person::default()
    };
    if let Some(account) = prop("Account") {
        let unique = match prop("Domain") {
            Some(d) if !account.contains('@') && !account.contains('\\') => {
                format!("{d}\\{account}")
            }
            _ => account,
        };
        classify_unique(&unique, rules, &mut p);
    }
    if p.email.is_none() {
        p.email = prop("Mail").filter(|m| m.contains('@'));
    }
    if field(v, "descriptor").is_some_and(|d| SERVICE_DESCRIPTORS.iter().any(|s| d.starts_with(s)))
        || p.display_name
            .as_deref()
            .is_some_and(is_service_display_name)
    {
        p.service_account = true;
    }
    (p.email.is_some() || p.username.is_some() || p.display_name.is_some()).then_some(p)
}

/// Mentions in a comment's HTML as the web editor stores them:
/// `<a href="#" data-vss-mention="version:2.0,{identity id}">@Display Name</a>`. Returns the
/// identity id and the display name shown.
pub fn html_mentions(html: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("data-vss-mention=\"") {
        let after = &rest[at + "data-vss-mention=\"".len()..];
        let Some(end) = after.find('"') else { break };
        let spec = &after[..end];
        // "version:2.0,<guid>"; version 1 put the guid first.
        let id = spec
            .split(',')
            .map(str::trim)
            .find(|part| !part.starts_with("version:") && !part.is_empty())
            .map(str::to_string);
        let tail = &after[end..];
        let label = tail
            .find('>')
            .and_then(|gt| {
                let text = &tail[gt + 1..];
                text.find("</a>").map(|close| &text[..close])
            })
            .map(|t| t.trim().trim_start_matches('@').trim().to_string())
            .filter(|t| !t.is_empty() && !t.contains('<'));
        if let Some(id) = id {
            out.push((id, label));
        }
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STRIP: NameRules = NameRules { keep_domain: false };

    #[test]
    fn services_unique_name_is_an_email() {
        let v = json!({"displayName":"Jamal Hartnett","uniqueName":"fabrikamfiber4@hotmail.com",
                       "descriptor":"aad.YTkzODFkODYtNTYxYS03ZDdiLWJjM2QtZDUzMjllMjM5OTAz"});
        let p = person(&v, STRIP).unwrap();
        assert_eq!(p.email.as_deref(), Some("fabrikamfiber4@hotmail.com"));
        assert_eq!(p.username, None);
        assert!(!p.service_account);
    }

    #[test]
    fn server_domain_login_keeps_or_drops_the_domain() {
        let v = json!({"displayName":"Ann Lee","uniqueName":"CORP\\alee"});
        assert_eq!(person(&v, STRIP).unwrap().username.as_deref(), Some("alee"));
        let kept = person(&v, NameRules { keep_domain: true }).unwrap();
        assert_eq!(kept.username.as_deref(), Some("CORP\\alee"));
        assert_eq!(kept.email, None);
    }

    #[test]
    fn text_form_and_nested_unique_names() {
        let p = person(&json!("Jamal Hartnett <fabrikamfiber4@hotmail.com>"), STRIP).unwrap();
        assert_eq!(p.display_name.as_deref(), Some("Jamal Hartnett"));
        assert_eq!(p.email.as_deref(), Some("fabrikamfiber4@hotmail.com"));
        let p = person(
            &json!({"id":"d291b0c4","uniqueName":"Jamal Hartnett <fabrikamfiber4@hotmail.com>"}),
            STRIP,
        )
        .unwrap();
        assert_eq!(p.display_name.as_deref(), Some("Jamal Hartnett"));
        assert_eq!(p.email.as_deref(), Some("fabrikamfiber4@hotmail.com"));
    }

    #[test]
    fn service_identities_and_groups() {
        let build = json!({"displayName":"Project Collection Build Service (fabrikam)",
                           "uniqueName":"Build\\6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c",
                           "descriptor":"svc.NmNlOTU0YjEtY2UxZi00NWQxLWI5NGQtZTZiZjI0NjRiYTJj"});
        assert!(person(&build, STRIP).unwrap().service_account);
        let nt = json!("NETWORK SERVICE <NT AUTHORITY\\NETWORK SERVICE>");
        assert!(person(&nt, STRIP).unwrap().service_account);
        let group = json!({"displayName":"[Fabrikam]\\Contributors","isContainer":true});
        assert!(person(&group, STRIP).is_none());
    }

    #[test]
    fn mentions_in_comment_html() {
        let html = r##"<div><a href="#" data-vss-mention="version:2.0,d291b0c4-a05c-4ea6-8df1-4b41d5f39eff">@Jamal Hartnett</a> please look, cc <a data-vss-mention="version:2.0,8c8c7d32-6b1b-47f4-b2e9-30b477b5ab3d" href="#">@Normal Paulk</a></div>"##;
        assert_eq!(
            html_mentions(html),
            vec![
                (
                    "d291b0c4-a05c-4ea6-8df1-4b41d5f39eff".to_string(),
                    Some("Jamal Hartnett".to_string())
                ),
                (
                    "8c8c7d32-6b1b-47f4-b2e9-30b477b5ab3d".to_string(),
                    Some("Normal Paulk".to_string())
                ),
            ]
        );
    }

    #[test]
    fn identities_api_profiles() {
        let v = json!({"id":"d291b0c4","providerDisplayName":"Ann Lee","isContainer":false,
            "descriptor":"System.Security.Principal.WindowsIdentity;S-1-5-21",
            "properties":{"Account":{"$type":"System.String","$value":"alee"},
                          "Domain":{"$type":"System.String","$value":"CORP"},
                          "Mail":{"$type":"System.String","$value":"ann.lee@corp.example"},
                          "SchemaClassName":{"$type":"System.String","$value":"User"}}});
        let p = from_identity(&v, STRIP).unwrap();
        assert_eq!(p.username.as_deref(), Some("alee"));
        assert_eq!(p.email.as_deref(), Some("ann.lee@corp.example"));
        let aad = json!({"providerDisplayName":"Jamal Hartnett","properties":{
            "Account":{"$value":"fabrikamfiber4@hotmail.com"},"Domain":{"$value":"AzureDirectory"},
            "Mail":{"$value":"fabrikamfiber4@hotmail.com"}}});
        let p = from_identity(&aad, STRIP).unwrap();
        assert_eq!(p.email.as_deref(), Some("fabrikamfiber4@hotmail.com"));
        assert_eq!(p.username, None);
    }
}
