//! The identity parts a connector learns about a person, and the `user` observation
//! (SPEC §2) made of them, the same in every connector.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tally_model::{EntityRef, Interaction, Record, UserObservation};

/// Who a person is, as far as the connector's account may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// The end system's own id (a number, a `sys_id`), when it has one; not an identity
    /// tally resolves, but what the connector looks people up by.
    pub id: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// The end system marks the account as non-human (a bot, an app, an integration user).
    pub service_account: bool,
}

impl Person {
    /// Whether anything identifies this person (the store counts the rest as unidentified).
    pub fn is_identified(&self) -> bool {
        self.email.is_some() || self.username.is_some() || self.display_name.is_some()
    }

    /// Who this is for telling repeats apart: the lower-cased username, else the display
    /// name.
    pub fn key(&self) -> String {
        self.username
            .as_deref()
            .or(self.display_name.as_deref())
            .unwrap_or_default()
            .to_lowercase()
    }
}

/// `s` trimmed, or `None` when nothing is left.
pub fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The string field `key` of a JSON object, trimmed; `None` when absent or empty.
pub fn text(v: &Value, key: &str) -> Option<String> {
    non_empty(v.get(key).and_then(Value::as_str))
}

/// `person`'s `interaction` with `entity` at `at`, in `entity`'s system.
pub fn observation(
    entity: &EntityRef,
    person: Person,
    interaction: Interaction,
    at: DateTime<Utc>,
) -> UserObservation {
    UserObservation {
        system: entity.system.clone(),
        at,
        email: person.email,
        username: person.username,
        display_name: person.display_name,
        interaction,
        project: entity.project.clone(),
        entity_type: entity.entity_type.clone(),
        entity_id: Some(entity.entity_id.clone()),
        service_account: person.service_account,
    }
}

/// The observations of one entity, each person, interaction and moment once: someone
/// assigned and watching at once is one `mapped_user_field` observation, not two.
#[derive(Debug)]
pub struct Observations<'a> {
    entity: &'a EntityRef,
    seen: HashSet<(String, Interaction, DateTime<Utc>)>,
    records: Vec<Record>,
}

impl<'a> Observations<'a> {
    pub fn new(entity: &'a EntityRef) -> Self {
        Observations {
            entity,
            seen: HashSet::new(),
            records: Vec::new(),
        }
    }

    /// Adds the observation unless this person, interaction and moment came already.
    pub fn push(&mut self, person: Person, interaction: Interaction, at: DateTime<Utc>) {
        if self.seen.insert((person.key(), interaction, at)) {
            self.records.push(Record::User(observation(
                self.entity,
                person,
                interaction,
                at,
            )));
        }
    }

    /// [`Observations::push`] for a person who may not be known.
    pub fn push_some(
        &mut self,
        person: Option<Person>,
        interaction: Interaction,
        at: DateTime<Utc>,
    ) {
        if let Some(p) = person {
            self.push(p, interaction, at);
        }
    }

    /// The observations, in the order they were first pushed.
    pub fn into_records(self) -> Vec<Record> {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity() -> EntityRef {
        EntityRef {
            system: "Tracker".into(),
            project: Some("OPS".into()),
            entity_type: Some("issue".into()),
            entity_id: "OPS-1".into(),
        }
    }

    fn person(username: &str) -> Person {
        Person {
            username: Some(username.into()),
            email: Some(format!("{username}@example.com")),
            ..Person::default()
        }
    }

    #[test]
    fn an_observation_carries_the_person_and_the_entity() {
        let at = "2026-10-01T12:00:00Z".parse().unwrap();
        let o = observation(
            &entity(),
            Person {
                service_account: true,
                display_name: Some("Build Bot".into()),
                ..person("bot")
            },
            Interaction::Updater,
            at,
        );
        assert_eq!(o.system, "Tracker");
        assert_eq!(o.username.as_deref(), Some("bot"));
        assert_eq!(o.email.as_deref(), Some("bot@example.com"));
        assert_eq!(o.display_name.as_deref(), Some("Build Bot"));
        assert_eq!(o.project.as_deref(), Some("OPS"));
        assert_eq!(o.entity_type.as_deref(), Some("issue"));
        assert_eq!(o.entity_id.as_deref(), Some("OPS-1"));
        assert!(o.service_account);
        assert_eq!(o.at, at);
    }

    #[test]
    fn the_same_person_interaction_and_moment_count_once() {
        let e = entity();
        let at: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
        let later = at + chrono::Duration::seconds(1);
        let mut obs = Observations::new(&e);
        obs.push(person("ann"), Interaction::MappedUserField, at);
        // The same login in other case is the same person.
        obs.push(person("ANN"), Interaction::MappedUserField, at);
        obs.push(person("ann"), Interaction::CommentAuthor, at);
        obs.push(person("ann"), Interaction::MappedUserField, later);
        obs.push(person("bob"), Interaction::MappedUserField, at);
        obs.push_some(None, Interaction::MappedUserField, at);
        assert_eq!(obs.into_records().len(), 4);
    }

    #[test]
    fn blank_text_is_no_identity() {
        let v = serde_json::json!({"a": "  ann ", "b": " ", "c": 3});
        assert_eq!(text(&v, "a").as_deref(), Some("ann"));
        assert_eq!(text(&v, "b"), None);
        assert_eq!(text(&v, "c"), None);
        assert!(!Person::default().is_identified());
        assert!(person("x").is_identified());
    }
}
