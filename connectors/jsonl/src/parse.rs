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

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;
use tally_model::{
    Account, AccountStatus, EntityView, Integration, Interaction, Record, RecordBlock, SyncStatus,
    SyncView, TwoStep, UserView,
};

#[derive(Deserialize, Default)]
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

#[derive(Deserialize, Default)]
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

/// The common line read without serde: a flat object whose values are strings without
/// escapes, `true`, `false` or `null`, plus the `source` and `target` objects of such
/// values. Anything else (an escape, a number, an array, a duplicate field, a syntax
/// error) returns `None` and the line goes to serde, which decides as before; so this
/// only ever agrees with serde (tested on both paths). It parses in about half the
/// instructions of serde's generic visitor (README-performance "jsonl").
///
/// `line` starts empty and is filled in place: moving a struct of twenty fields out of a
/// function was nearly half of the reader's copying (callgrind: `memcpy` 289 M → 160 M
/// instructions over 200,000 lines).
fn fast_line<'a>(text: &'a str, line: &mut Line<'a>) -> Option<()> {
    let mut s = Scan {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut seen = 0u32;
    s.object(|s, key| {
        let (bit, slot): (u32, Slot<'_, '_>) = match key {
            "kind" => (0, Slot::Str(&mut line.kind)),
            "system" => (1, Slot::Str(&mut line.system)),
            "at" => (2, Slot::Str(&mut line.at)),
            "email" => (3, Slot::Str(&mut line.email)),
            "username" => (4, Slot::Str(&mut line.username)),
            "display_name" => (5, Slot::Str(&mut line.display_name)),
            "interaction" => (6, Slot::Str(&mut line.interaction)),
            "project" => (7, Slot::Str(&mut line.project)),
            "entity_type" => (8, Slot::Str(&mut line.entity_type)),
            "entity_id" => (9, Slot::Str(&mut line.entity_id)),
            "service_account" => (10, Slot::Bool(&mut line.service_account)),
            "status" => (11, Slot::Str(&mut line.status)),
            "source" => (12, Slot::End(&mut line.source)),
            "target" => (13, Slot::End(&mut line.target)),
            "id" => (14, Slot::Str(&mut line.id)),
            "billable" => (15, Slot::Bool(&mut line.billable)),
            "product" => (16, Slot::Str(&mut line.product)),
            "last_active" => (17, Slot::Str(&mut line.last_active)),
            "two_step" => (18, Slot::Str(&mut line.two_step)),
            "sso" => (19, Slot::Bool(&mut line.sso)),
            _ => return s.ignored_value(),
        };
        // serde refuses a field given twice (even as null); let it say so.
        if seen & (1 << bit) != 0 {
            return None;
        }
        seen |= 1 << bit;
        match slot {
            Slot::Str(v) => *v = s.string_or_null()?.map(Cow::Borrowed),
            Slot::Bool(v) => *v = s.bool_or_null()?,
            Slot::End(v) => *v = s.end()?,
        }
        Some(())
    })?;
    s.ws();
    (s.at == s.bytes.len()).then_some(())
}

enum Slot<'l, 'a> {
    Str(&'l mut Option<Cow<'a, str>>),
    Bool(&'l mut Option<bool>),
    End(&'l mut Option<End<'a>>),
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.bytes.get(self.at) == Some(&b)).then(|| self.at += 1)
    }

    /// `{ "key": value, … }`, calling `field` with each key (positioned at its value).
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            field(self, key)?;
            self.ws();
            match self.bytes.get(self.at)? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string without escapes or raw control characters (serde refuses those).
    fn string(&mut self) -> Option<&'a str> {
        if self.bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let len = string_end(&self.bytes[start..])?;
        let end = start + len;
        if self.bytes[end] != b'"' {
            return None;
        }
        self.at = end + 1;
        // Both ends are ASCII quotes, so these are character boundaries.
        self.text.get(start..end)
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    fn string_or_null(&mut self) -> Option<Option<&'a str>> {
        if self.literal(b"null") {
            return Some(None);
        }
        self.string().map(Some)
    }

    fn bool_or_null(&mut self) -> Option<Option<bool>> {
        if self.literal(b"true") {
            Some(Some(true))
        } else if self.literal(b"false") {
            Some(Some(false))
        } else if self.literal(b"null") {
            Some(None)
        } else {
            None
        }
    }

    /// The value of a field serde ignores: only the simple kinds, else serde's turn.
    fn ignored_value(&mut self) -> Option<()> {
        if self.bool_or_null().is_some() {
            return Some(());
        }
        self.string().map(|_| ())
    }

    fn end(&mut self) -> Option<Option<End<'a>>> {
        if self.literal(b"null") {
            return Some(None);
        }
        let mut end = End {
            system: None,
            project: None,
            entity_type: None,
            entity_id: None,
        };
        let mut seen = 0u8;
        self.object(|s, key| {
            let (bit, slot) = match key {
                "system" => (0, &mut end.system),
                "project" => (1, &mut end.project),
                "entity_type" => (2, &mut end.entity_type),
                "entity_id" => (3, &mut end.entity_id),
                _ => return s.ignored_value(),
            };
            if seen & (1 << bit) != 0 {
                return None;
            }
            seen |= 1 << bit;
            *slot = s.string_or_null()?.map(Cow::Borrowed);
            Some(())
        })?;
        Some(Some(end))
    }
}

/// Where a string's text ends: the first `"`, `\` or byte below 0x20 in `bytes`. Eight
/// bytes at a time, each tested for all three at once (the byte-wise search was the
/// reader thread's second-largest cost).
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte's high bit is set where it is zero (`x - 1` borrows and `x` had no high
    // bit); bits above the first such byte may be wrong, the first one never is.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let below_space = v.wrapping_sub(ONES * 0x20) & !v;
        let found = (zero(v ^ (ONES * u64::from(b'"')))
            | zero(v ^ (ONES * u64::from(b'\\')))
            | below_space)
            & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|p| i + p)
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

/// Takes the control characters out of a line's texts. A line the fast reader took has
/// no byte below 0x20 inside a string (it leaves those to serde), so when the whole line
/// has no DEL and no 0xC2 either, one search of it (`memchr2`) stands for a scan of every
/// text.
#[derive(Clone, Copy)]
struct Cleaner {
    may_hold_control: bool,
}

impl Cleaner {
    fn of(text: &str, fast: bool) -> Cleaner {
        Cleaner {
            may_hold_control: !fast || memchr::memchr2(0x7f, 0xc2, text.as_bytes()).is_some(),
        }
    }

    /// `text` without control characters.
    fn clean<'a>(self, text: Cow<'a, str>) -> Cow<'a, str> {
        if self.may_hold_control && may_hold_control(&text) && text.chars().any(char::is_control) {
            Cow::Owned(text.chars().filter(|c| !c.is_control()).collect())
        } else {
            text
        }
    }

    fn optional(self, text: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
        text.map(|t| self.clean(t))
    }

    fn required<'a>(self, text: Option<Cow<'a, str>>, field: &str) -> Result<Cow<'a, str>, String> {
        match text.map(|t| self.clean(t)) {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(format!("field \"{field}\" is empty")),
            None => Err(format!("missing field \"{field}\"")),
        }
    }

    /// `source` or `target`; `fields` names its field, its system and its entity id.
    fn entity<'a>(self, end: Option<End<'a>>, fields: [&str; 3]) -> Result<EndLine<'a>, String> {
        let end = end.ok_or_else(|| format!("missing field \"{}\"", fields[0]))?;
        Ok(EndLine {
            system: self.required(end.system, fields[1])?,
            project: self.optional(end.project),
            entity_type: self.optional(end.entity_type),
            entity_id: self.required(end.entity_id, fields[2])?,
        })
    }
}

/// The common RFC 3339 shape, `YYYY-MM-DDTHH:MM:SS` then `Z` or `±HH:MM`, read without
/// chrono's general parser (a tenth of the reader thread): the year as written and the
/// time in UTC. Anything else (fractions, a leap second, another separator) or a value
/// that is no real time gives `None`, and chrono decides as before.
fn fast_rfc3339(text: &str) -> Option<(i32, DateTime<Utc>)> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        b.get(from..to)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(digits(0, 4)?).ok()?;
    let offset: i64 = match &b[19..] {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (digits(20, 22)?, digits(23, 25)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' {
                -seconds
            } else {
                seconds
            }
        }
        _ => return None,
    };
    let local = NaiveDate::from_ymd_opt(year, digits(5, 7)?, digits(8, 10)?)?.and_hms_opt(
        digits(11, 13)?,
        digits(14, 16)?,
        digits(17, 19)?,
    )?;
    let utc = local.checked_sub_signed(TimeDelta::seconds(offset))?;
    Some((year, utc.and_utc()))
}

/// An RFC 3339 time with a year in 1900..=9999.
fn time(text: &str, field: &str) -> Result<DateTime<Utc>, String> {
    if let Some((year, at)) = fast_rfc3339(text) {
        if (1900..=9999).contains(&year) {
            return Ok(at);
        }
    }
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

/// An observation as read from a line: its texts borrowed from the line, owned only where
/// serde unescaped one or a control character was removed.
struct UserLine<'a> {
    system: Cow<'a, str>,
    at: DateTime<Utc>,
    email: Option<Cow<'a, str>>,
    username: Option<Cow<'a, str>>,
    display_name: Option<Cow<'a, str>>,
    interaction: Interaction,
    project: Option<Cow<'a, str>>,
    entity_type: Option<Cow<'a, str>>,
    entity_id: Option<Cow<'a, str>>,
    service_account: bool,
}

impl UserLine<'_> {
    fn view(&self) -> UserView<'_> {
        UserView {
            system: &self.system,
            at: self.at,
            email: self.email.as_deref(),
            username: self.username.as_deref(),
            display_name: self.display_name.as_deref(),
            interaction: self.interaction,
            project: self.project.as_deref(),
            entity_type: self.entity_type.as_deref(),
            entity_id: self.entity_id.as_deref(),
            service_account: self.service_account,
        }
    }
}

struct EndLine<'a> {
    system: Cow<'a, str>,
    project: Option<Cow<'a, str>>,
    entity_type: Option<Cow<'a, str>>,
    entity_id: Cow<'a, str>,
}

impl EndLine<'_> {
    fn view(&self) -> EntityView<'_> {
        EntityView {
            system: &self.system,
            project: self.project.as_deref(),
            entity_type: self.entity_type.as_deref(),
            entity_id: &self.entity_id,
        }
    }
}

struct SyncLine<'a> {
    at: DateTime<Utc>,
    status: SyncStatus,
    source: EndLine<'a>,
    target: EndLine<'a>,
}

impl SyncLine<'_> {
    fn view(&self) -> SyncView<'_> {
        SyncView {
            at: self.at,
            status: self.status,
            source: self.source.view(),
            target: self.target.view(),
        }
    }
}

/// A line read: observations and syncs (nearly every line) borrowed, so that a block
/// copies their texts into its buffer without a string each; the rare kinds as records.
enum Parsed<'a> {
    User(UserLine<'a>),
    Sync(SyncLine<'a>),
    Record(Record),
}

impl Parsed<'_> {
    fn into_record(self) -> Record {
        match self {
            Parsed::User(u) => Record::User(u.view().to_owned()),
            Parsed::Sync(s) => Record::Sync(s.view().to_owned()),
            Parsed::Record(r) => r,
        }
    }
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
    parsed(utf8(text)?, true).map(Parsed::into_record)
}

/// [`parse_line`] into `block`: the same records and the same reasons, without a string
/// per text.
pub fn parse_line_into(text: &[u8], block: &mut RecordBlock) -> Result<(), String> {
    match parsed(utf8(text)?, true)? {
        Parsed::User(u) => block.push_user(&u.view()),
        Parsed::Sync(s) => block.push_sync(&s.view()),
        Parsed::Record(r) => block.push(r),
    }
    Ok(())
}

fn utf8(text: &[u8]) -> Result<&str, String> {
    // One check of the whole line: serde_json's byte-slice reader validates every string
    // on its own, which cost more than the parsing (README-performance "jsonl").
    std::str::from_utf8(text).map_err(|e| {
        format!(
            "not UTF-8 text: byte {} is not part of a UTF-8 character; save the file as UTF-8",
            e.valid_up_to() + 1
        )
    })
}

#[cfg(test)]
fn parse_str(text: &str, fast: bool) -> Result<Record, String> {
    parsed(text, fast).map(Parsed::into_record)
}

fn parsed(text: &str, fast: bool) -> Result<Parsed<'_>, String> {
    let mut line = Line::default();
    let fast = fast && fast_line(text, &mut line).is_some();
    if !fast {
        line = serde_json::from_str(text).map_err(|e| describe(&e))?;
    }
    let c = Cleaner::of(text, fast);
    match line.kind.as_deref().unwrap_or_default() {
        "user" => Ok(Parsed::User(UserLine {
            system: c.required(line.system, "system")?,
            at: required_time(line.at, "at")?,
            email: c.optional(line.email),
            username: c.optional(line.username),
            display_name: c.optional(line.display_name),
            interaction: choice(line.interaction, "interaction", &INTERACTIONS)?,
            project: c.optional(line.project),
            entity_type: c.optional(line.entity_type),
            entity_id: c.optional(line.entity_id),
            service_account: line.service_account.unwrap_or(false),
        })),
        "sync" => Ok(Parsed::Sync(SyncLine {
            at: required_time(line.at, "at")?,
            status: choice(
                line.status,
                "status",
                &[
                    ("success", SyncStatus::Success),
                    ("failed", SyncStatus::Failed),
                ],
            )?,
            source: c.entity(line.source, ["source", "source.system", "source.entity_id"])?,
            target: c.entity(line.target, ["target", "target.system", "target.entity_id"])?,
        })),
        "account" => Ok(Parsed::Record(Record::Account(Account {
            system: c.required(line.system, "system")?.into_owned(),
            at: required_time(line.at, "at")?,
            id: c.required(line.id, "id")?.into_owned(),
            email: c.optional(line.email).map(Cow::into_owned),
            username: c.optional(line.username).map(Cow::into_owned),
            display_name: c.optional(line.display_name).map(Cow::into_owned),
            status: choice(
                line.status,
                "status",
                &[
                    ("active", AccountStatus::Active),
                    ("disabled", AccountStatus::Disabled),
                ],
            )?,
            billable: line.billable.unwrap_or(true),
            product: c.optional(line.product).map(Cow::into_owned),
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
        }))),
        // Rare (one per configured project pair) and nested: serde's own form suffices.
        "integration" => {
            let i: Integration = serde_json::from_str(text).map_err(|e| describe(&e))?;
            if !(1900..=9999).contains(&i.updated_at.year()) {
                return Err(format!(
                    "field \"updated_at\": year {} is outside 1900..=9999",
                    i.updated_at.year()
                ));
            }
            Ok(Parsed::Record(Record::Integration(i)))
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
    fn the_fast_reader_agrees_with_serde_on_every_line() {
        let lines = [
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","email":"Ann.Lee@corp.example","username":"alee","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-17","service_account":false}"#,
            r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-17"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"4711"}}"#,
            r#"{"kind":"account","system":"Jira","at":"2026-11-01T06:00:00Z","id":"5b10","status":"active","billable":false,"sso":null,"two_step":"enabled","last_active":"2026-10-28T09:12:00Z"}"#,
            r#" { "kind" : "user" , "system":"Jira" ,"at":"2026-10-01T12:00:00Z","interaction":"updater","email":null, "extra": true, "more": "x" } "#,
            "{\"kind\":\"user\",\r\n\t\"system\":\"Jira\",\"at\":\"2026-10-01T12:00:00Z\",\"interaction\":\"updater\"}",
            r#"{"kind":"user","system":"J\u0069ra","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater","n":12}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater","n":[1,{"a":2}]}"#,
            r#"{"kind":"user","system":"Jira","system":"GitHub","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#,
            r#"{"kind":"user","system":null,"system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater"}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater",}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater"} x"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater""#,
            r#"{"kind":"user","system":true,"at":"2026-10-01T12:00:00Z","interaction":"updater"}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater","service_account":"yes"}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater","service_account":nul}"#,
            r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"failed","source":{"system":"Jira","entity_id":"1","entity_id":"2"},"target":{"system":"ADO","entity_id":"3","x":null}}"#,
            r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"failed","source":null,"target":{}}"#,
            r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","interaction":"updater","display_name":"Zoë Ünal 山田"}"#,
            "{\"kind\":\"user\",\"system\":\"Ji\u{1}ra\",\"at\":\"2026-10-01T12:00:00Z\",\"interaction\":\"updater\"}",
            r#"{}"#,
            r#"[]"#,
            r#""user""#,
            r#"{"kind":"user" "system":"Jira"}"#,
            r#"{"kind":"integration","name":"A","status":"active","updated_at":"2026-09-30T08:00:00Z","ends":[{"system":"Jira","project":"OPS"},{"system":"ADO","project":"F"}]}"#,
            // DEL and a C1 control inside values: the fast reader takes the line, and the
            // line-wide search must still send its texts through the cleaning.
            "{\"kind\":\"user\",\"system\":\"Ji\u{7f}ra\",\"at\":\"2026-10-01T12:00:00Z\",\"interaction\":\"updater\",\"email\":\"a\u{85}@b.example\"}",
            "{\"kind\":\"sync\",\"at\":\"2026-10-01T12:00:05Z\",\"status\":\"success\",\"source\":{\"system\":\"Jira\",\"entity_id\":\"1\u{9f}\"},\"target\":{\"system\":\"ADO\",\"entity_id\":\"\u{7f}3\"}}",
        ];
        for line in lines {
            let fast = parse_str(line, true);
            assert_eq!(fast, parse_str(line, false), "{line}");
            // A block holds the same record, or the line is refused for the same reason.
            let mut block = RecordBlock::default();
            let into = parse_line_into(line.as_bytes(), &mut block).map(|()| block.to_records());
            assert_eq!(into, fast.map(|r| vec![r]), "{line}");
        }
        let Ok(Record::User(u)) = parse_str(lines[lines.len() - 2], true) else {
            panic!("user")
        };
        assert_eq!(
            (u.system.as_str(), u.email.as_deref()),
            ("Jira", Some("a@b.example"))
        );
        // The common shapes really take the fast path.
        let fast = |l| fast_line(l, &mut Line::default()).is_some();
        assert!(fast(lines[0]) && fast(lines[1]) && fast(lines[3]) && !fast(lines[5]));
        assert!(lines[lines.len() - 2..].iter().all(|l| fast(l)));
    }

    #[test]
    fn the_word_wise_string_end_finds_the_first_quote_backslash_or_control() {
        let naive = |b: &[u8]| b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        let alphabet = [
            b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc2, 0xff, b'!',
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| {
                    // Mostly plain letters, so the first hit lands anywhere in a word.
                    let r = (x >> (i % 60)) as usize;
                    if r.is_multiple_of(9) {
                        alphabet[r / 9 % alphabet.len()]
                    } else {
                        b'a' + (r % 26) as u8
                    }
                })
                .collect();
            assert_eq!(string_end(&bytes), naive(&bytes), "{bytes:?}");
        }
    }

    #[test]
    fn the_fast_time_reader_agrees_with_chrono() {
        for text in [
            "2026-10-01T12:00:00Z",
            "2025-12-22T21:35:42+00:00",
            "2025-12-22T21:35:42-00:00",
            "2026-01-01T00:30:00+05:30",
            "2026-01-01T23:59:59-11:45",
            "1900-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-02-29T12:00:00Z",
            "2026-02-29T12:00:00Z",
            "2026-13-01T12:00:00Z",
            "2026-10-01T24:00:00Z",
            "2026-10-01T12:00:60Z",
            "2026-10-01T12:00:00.5Z",
            "2026-10-01t12:00:00z",
            "2026-10-01 12:00:00Z",
            "2026-10-01T12:00:00+24:00",
            "2026-10-01T12:00:00+0100",
            "2026-10-01T12:00:00",
            "2026-1-01T12:00:00Z",
            "+026-10-01T12:00:00Z",
            "2026-10-01T12:00:00Z ",
        ] {
            let chrono = DateTime::parse_from_rfc3339(text).ok();
            if let Some((year, at)) = fast_rfc3339(text) {
                let c = chrono.unwrap_or_else(|| panic!("{text}: chrono refuses it"));
                assert_eq!((year, at), (c.year(), c.with_timezone(&Utc)), "{text}");
            }
            assert_eq!(
                time(text, "at").ok(),
                chrono
                    .filter(|c| (1900..=9999).contains(&c.year()))
                    .map(|c| c.with_timezone(&Utc)),
                "{text}"
            );
        }
        assert!(fast_rfc3339("2025-12-22T21:35:42+00:00").is_some());
        assert!(fast_rfc3339("2026-10-01T12:00:00Z").is_some());
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
