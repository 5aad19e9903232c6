//! One JSONL line to one [`Record`], with reasons an administrator can act on.
//!
//! The line is read into one flat struct of borrowed fields (all kinds at once) and the
//! record is built from it. This is about twice as fast as serde's `kind`-tagged enum,
//! which first copies every line into an intermediate tree to find the tag, and it lets
//! each reason name the field: `field "at": not an RFC 3339 time: "yesterday"`,
//! `missing field "system"`, `unknown kind "usr"`.
//!
//! Decisions (README "jsonl"):
//! - Times must be RFC 3339 with a year in 1900..=9999; anything else is a bad line.
//! - Control characters (U+0000..U+001F, U+007F..U+009F) in identifiers and names are
//!   removed: they cannot be shown in a workbook cell and no directory means them, and
//!   dropping the whole observation would lose a real person's activity. A required
//!   field that is left empty by this is reported as missing.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;
use tally_model::{
    Account, AccountStatus, EntityRef, Integration, Interaction, Record, SyncRecord, SyncStatus,
    TwoStep, UserObservation,
};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    email: Option<Cow<'a, str>>,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    display_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    interaction: Option<Cow<'a, str>>,
    #[serde(borrow)]
    project: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entity_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entity_id: Option<Cow<'a, str>>,
    service_account: Option<bool>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    source: Option<End<'a>>,
    #[serde(borrow)]
    target: Option<End<'a>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    billable: Option<bool>,
    #[serde(borrow)]
    product: Option<Cow<'a, str>>,
    #[serde(borrow)]
    last_active: Option<Cow<'a, str>>,
    #[serde(borrow)]
    two_step: Option<Cow<'a, str>>,
    sso: Option<bool>,
}

#[derive(Deserialize)]
struct End<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    project: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entity_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entity_id: Option<Cow<'a, str>>,
}

/// A serde_json message in plain words: without its "at line 1 column N" (each line is
/// parsed on its own, so the line would mislead), with the column where it is known, and
/// field names in double quotes as in the JSON itself.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let message = message.replace('`', "\"");
    let message = match e.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("not JSON: {message}")
        }
        _ => message,
    };
    if e.column() > 0 {
        format!("{message} (column {})", e.column())
    } else {
        message
    }
}

/// Whether `text` may hold a control character: a byte below 0x20, DEL, or 0xC2 (the
/// lead byte of U+0080..U+009F). A byte scan; most text has none, and decoding every
/// character to ask `char::is_control` took a twentieth of the reader thread.
fn may_hold_control(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2)
}

/// `text` without control characters.
fn clean(text: Cow<'_, str>) -> String {
    if may_hold_control(&text) && text.chars().any(char::is_control) {
        text.chars().filter(|c| !c.is_control()).collect()
    } else {
        text.into_owned()
    }
}

fn optional(text: Option<Cow<'_, str>>) -> Option<String> {
    text.map(clean)
}

fn required(text: Option<Cow<'_, str>>, field: &str) -> Result<String, String> {
    match text.map(clean) {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(format!("field \"{field}\" is empty")),
        None => Err(format!("missing field \"{field}\"")),
    }
}

/// An RFC 3339 time with a year in 1900..=9999.
fn time(text: &str, field: &str) -> Result<DateTime<Utc>, String> {
    let at = DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("field \"{field}\": not an RFC 3339 time: {text:?}"))?;
    if !(1900..=9999).contains(&at.year()) {
        return Err(format!(
            "field \"{field}\": year {} is outside 1900..=9999: {text:?}",
            at.year()
        ));
    }
    Ok(at.with_timezone(&Utc))
}

fn required_time(text: Option<Cow<'_, str>>, field: &str) -> Result<DateTime<Utc>, String> {
    match text {
        Some(t) => time(&t, field),
        None => Err(format!("missing field \"{field}\"")),
    }
}

/// One of `choices` (wire name, value) by its wire name.
fn choice<T: Copy>(
    text: Option<Cow<'_, str>>,
    field: &str,
    choices: &[(&str, T)],
) -> Result<T, String> {
    let Some(text) = text else {
        return Err(format!("missing field \"{field}\""));
    };
    choices
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            format!(
                "field \"{field}\": unknown value {:?} (expected {})",
                &*text,
                names.join(", ")
            )
        })
}

fn entity(end: Option<End<'_>>, field: &str) -> Result<EntityRef, String> {
    let end = end.ok_or_else(|| format!("missing field \"{field}\""))?;
    Ok(EntityRef {
        system: required(end.system, &format!("{field}.system"))?,
        project: optional(end.project),
        entity_type: optional(end.entity_type),
        entity_id: required(end.entity_id, &format!("{field}.entity_id"))?,
    })
}

const INTERACTIONS: [(&str, Interaction); 5] = [
    ("mapped_user_field", Interaction::MappedUserField),
    ("comment_author", Interaction::CommentAuthor),
    ("attachment_author", Interaction::AttachmentAuthor),
    ("mention", Interaction::Mention),
    ("updater", Interaction::Updater),
];

/// Parses one line (without its line break) into a record, or says why not.
pub fn parse_line(text: &[u8]) -> Result<Record, String> {
    // One check of the whole line: serde_json's byte-slice reader validates every string
    // on its own, which cost more than the parsing (README-performance "jsonl").
    let text = std::str::from_utf8(text).map_err(|e| {
        format!(
            "not UTF-8 text: byte {} is not part of a UTF-8 character; save the file as UTF-8",
            e.valid_up_to() + 1
        )
    })?;
    let line: Line<'_> = serde_json::from_str(text).map_err(|e| describe(&e))?;
    let kind = line.kind.as_deref().unwrap_or_default().to_owned();
    match kind.as_str() {
        "user" => Ok(Record::User(UserObservation {
            system: required(line.system, "system")?,
            at: required_time(line.at, "at")?,
            email: optional(line.email),
            username: optional(line.username),
            display_name: optional(line.display_name),
            interaction: choice(line.interaction, "interaction", &INTERACTIONS)?,
            project: optional(line.project),
            entity_type: optional(line.entity_type),
            entity_id: optional(line.entity_id),
            service_account: line.service_account.unwrap_or(false),
        })),
        "sync" => Ok(Record::Sync(SyncRecord {
            at: required_time(line.at, "at")?,
            status: choice(
                line.status,
                "status",
                &[
                    ("success", SyncStatus::Success),
                    ("failed", SyncStatus::Failed),
                ],
            )?,
            source: entity(line.source, "source")?,
            target: entity(line.target, "target")?,
        })),
        "account" => Ok(Record::Account(Account {
            system: required(line.system, "system")?,
            at: required_time(line.at, "at")?,
            id: required(line.id, "id")?,
            email: optional(line.email),
            username: optional(line.username),
            display_name: optional(line.display_name),
            status: choice(
                line.status,
                "status",
                &[
                    ("active", AccountStatus::Active),
                    ("disabled", AccountStatus::Disabled),
                ],
            )?,
            billable: line.billable.unwrap_or(true),
            product: optional(line.product),
            last_active: line
                .last_active
                .map(|t| time(&t, "last_active"))
                .transpose()?,
            two_step: line
                .two_step
                .map(|t| {
                    choice(
                        Some(t),
                        "two_step",
                        &[
                            ("enabled", TwoStep::Enabled),
                            ("disabled", TwoStep::Disabled),
                        ],
                    )
                })
                .transpose()?,
            sso: line.sso,
            service_account: line.service_account.unwrap_or(false),
        })),
        // Rare (one per configured project pair) and nested: serde's own form suffices.
        "integration" => {
            let i: Integration = serde_json::from_str(text).map_err(|e| describe(&e))?;
            if !(1900..=9999).contains(&i.updated_at.year()) {
                return Err(format!(
                    "field \"updated_at\": year {} is outside 1900..=9999",
                    i.updated_at.year()
                ));
            }
            Ok(Record::Integration(i))
        }
        "" if line.kind.is_none() => Err("missing field \"kind\"".to_owned()),
        other => Err(format!(
            "unknown kind {other:?} (expected user, sync, integration or account)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        parse_line(line.as_bytes()).expect_err("must be refused")
    }

    #[test]
    fn the_spec_examples_parse_as_serde_reads_them() {
        let lines = [
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","email":"Ann.Lee@corp.example","username":"alee","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-17","service_account":false}"#,
            r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-17"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"4711"}}"#,
            r#"{"kind":"integration","name":"Jira OPS <-> ADO Fabrikam","status":"active","updated_at":"2026-09-30T08:00:00Z","ends":[{"system":"Jira","project":"OPS","entity_types":["Bug"]},{"system":"Azure DevOps","project":"Fabrikam","entity_types":["Bug"]}]}"#,
            r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00Z","id":"5b10ac8d82e05b22cc7d4ef5","email":"ann.lee@corp.example","display_name":"Ann Lee","status":"active","billable":true,"product":"Jira Software","last_active":"2026-10-28T09:12:00Z","two_step":"enabled","sso":true}"#,
            r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00+02:00","id":"x","status":"disabled"}"#,
        ];
        for line in lines {
            let ours = parse_line(line.as_bytes()).expect(line);
            let serde: Record = serde_json::from_str(line).expect(line);
            assert_eq!(ours, serde, "{line}");
        }
    }

    #[test]
    fn reasons_name_the_field_in_plain_words() {
        assert_eq!(
            err(r#"{"kind":"user","system":"Jira","at":"yesterday","interaction":"updater"}"#),
            r#"field "at": not an RFC 3339 time: "yesterday""#
        );
        assert_eq!(
            err(r#"{"kind":"user","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#),
            r#"missing field "system""#
        );
        assert_eq!(
            err(r#"{"kind":"usr","system":"Jira"}"#),
            r#"unknown kind "usr" (expected user, sync, integration or account)"#
        );
        assert_eq!(err(r#"{"system":"Jira"}"#), r#"missing field "kind""#);
        let not_json = err("not json");
        assert!(not_json.starts_with("not JSON: "), "{not_json}");
        assert!(
            !not_json.contains("column 0") && !not_json.contains("line 1"),
            "{not_json}"
        );
        assert_eq!(
            err(
                r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00Z","id":"a","status":"locked"}"#
            ),
            r#"field "status": unknown value "locked" (expected active, disabled)"#
        );
        assert_eq!(
            err(
                r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00Z","status":"active"}"#
            ),
            r#"missing field "id""#
        );
    }

    #[test]
    fn years_outside_1900_to_9999_are_refused() {
        for at in [
            "+99999-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "1899-12-31T23:59:59Z",
        ] {
            let line =
                format!(r#"{{"kind":"user","system":"Jira","at":"{at}","interaction":"updater"}}"#);
            let reason = err(&line);
            assert!(reason.starts_with("field \"at\": "), "{at}: {reason}");
        }
        let ok = r#"{"kind":"user","system":"Jira","at":"9999-12-31T23:59:59Z","interaction":"updater"}"#;
        assert!(parse_line(ok.as_bytes()).is_ok());
    }

    #[test]
    fn a_line_that_is_not_utf8_is_refused_naming_the_byte() {
        let mut line = br#"{"kind":"user","system":"Ji"#.to_vec();
        line.push(0xff);
        line.extend_from_slice(br#"ra","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#);
        let reason = parse_line(&line).expect_err("refused");
        assert!(reason.starts_with("not UTF-8 text: byte 28 "), "{reason}");
    }

    #[test]
    fn c1_controls_are_removed_and_other_two_byte_characters_kept() {
        let line = r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","display_name":"Ren\u00e9e\u0085 M\u00fcller","interaction":"updater"}"#;
        let Record::User(u) = parse_line(line.as_bytes()).expect("parses") else {
            panic!("not a user record");
        };
        assert_eq!(u.display_name.as_deref(), Some("Renée Müller"));
    }

    #[test]
    fn control_characters_are_removed_from_identifiers() {
        let line = r#"{"kind":"user","system":"Ji\u0000ra","at":"2026-10-01T12:00:00Z","username":"a\u001fb","interaction":"updater"}"#;
        let Record::User(u) = parse_line(line.as_bytes()).expect("parses") else {
            panic!("not a user record");
        };
        assert_eq!(
            (u.system.as_str(), u.username.as_deref()),
            ("Jira", Some("ab"))
        );
        let only_control = r#"{"kind":"user","system":"\u0000","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#;
        assert_eq!(err(only_control), r#"field "system" is empty"#);
    }
}
