//! What connectors share for `sync` records: the keys a link field holds, and the other
//! side's entity a key names.

use tally_model::EntityRef;

/// Adds the keys in a link field's text to `out`: one, or several separated by `,`, `;`
/// or line breaks; blanks are skipped.
pub fn split_keys(text: &str, out: &mut Vec<String>) {
    out.extend(
        text.split([',', ';', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    );
}

/// `OPS` of a Jira-style key `OPS-17`: a project key starts with a letter and holds
/// letters, digits and `_`; the number is digits.
pub fn project_of_key(key: &str) -> Option<&str> {
    let (project, number) = key.rsplit_once('-')?;
    (project.starts_with(|c: char| c.is_ascii_alphabetic())
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(project)
}

/// The entity `key` in the other `system`: in `project` when one is configured, else in
/// the project a Jira-style key names (`OPS-17` -> `OPS`).
pub fn link_target(system: &str, project: Option<&str>, key: &str) -> EntityRef {
    EntityRef {
        system: system.to_string(),
        project: project.or_else(|| project_of_key(key)).map(str::to_string),
        entity_type: None,
        entity_id: key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_their_projects() {
        let mut v = Vec::new();
        split_keys("OPS-17; OPS-18,\n ,WEB_2-3", &mut v);
        assert_eq!(v, ["OPS-17", "OPS-18", "WEB_2-3"]);
        assert_eq!(project_of_key("OPS-17"), Some("OPS"));
        assert_eq!(project_of_key("WEB_2-3"), Some("WEB_2"));
        assert_eq!(project_of_key("OPS-"), None);
        assert_eq!(project_of_key("-17"), None);
        assert_eq!(project_of_key("4211"), None);
        assert_eq!(project_of_key("a.b-1"), None);
        assert_eq!(project_of_key("OPS-x"), None);
        assert_eq!(project_of_key("2OPS-1"), None);
        let t = link_target("Jira", None, "OPS-17");
        assert_eq!(
            (t.system.as_str(), t.project.as_deref()),
            ("Jira", Some("OPS"))
        );
        assert_eq!(t.entity_id, "OPS-17");
        assert_eq!(
            link_target("Jira", Some("Ops"), "OPS-17")
                .project
                .as_deref(),
            Some("Ops")
        );
        assert_eq!(link_target("Jira", None, "4211").project, None);
    }
}
