//! Every table tally shows, described once (DESIGN "sheets"): its name and its columns —
//! header, short header for narrow screens, kind of cell, width hint, and how to read the
//! cell from a row of the report. The xlsx writer, the terminal UI's tables (headers,
//! sorting, filtering, narrow layouts), JSON listings and the tests' expected headers all
//! read these descriptions, so adding a column is one edit here.
//!
//! A cell is read as a borrowed [`Value`]: no allocation per cell, which matters for a
//! Detailed User Report of a million rows. How a value looks as text ([`Value::write_text`])
//! and how two values sort ([`Value::sort_cmp`]) are decided here too, so every front end
//! shows and orders a column alike.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};

use crate::identity::Rule;
use crate::report::{
    EntityTypeRow, ProjectRow, Provenance, Source, SyncedRow, SystemUserCount, Texts, UserRow,
    WindowReport,
};

/// Several values in one cell are joined with this (SPEC §5).
pub const SEP: &str = ", ";

/// What a column holds: decides alignment, number formats and widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text; `width` is the most characters the column grows to.
    Text,
    /// A whole number, right-aligned, with thousands separators.
    Count,
    /// A date-time in UTC, shown `yyyy-mm-dd hh:mm`.
    Time,
}

/// One cell, borrowed from the row it describes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Text(&'a str),
    /// A text with a rank that orders it (e.g. identifier rules in priority order).
    Ranked(&'a str, usize),
    /// Several values joined with [`SEP`].
    List(Texts<'a>),
    /// A user's interaction types, joined.
    Interactions(&'a UserRow),
    /// `System (yyyy-mm-dd hh:mm)` per system a user was seen in.
    SeenIn(&'a UserRow),
    /// `name (system)` per duplicate of a user.
    NamedIn(&'a UserRow),
    Count(u64),
    Time(Option<DateTime<Utc>>),
    /// `Yes` or `No`.
    YesNo(bool),
}

/// Appends `yyyy-mm-dd hh:mm` (UTC) without going through chrono's format parser, which
/// would be parsed again for every one of millions of cells.
pub fn push_minute(buf: &mut String, t: &DateTime<Utc>) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Writing to a String cannot fail.
        let _ = write!(
            buf,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            year,
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        );
        return;
    }
    // Digits by hand: `write!` goes through the formatting machinery for every field of
    // every one of millions of cells.
    let digit = |n: u32| char::from(b'0' + (n % 10) as u8);
    let year = year.unsigned_abs();
    let two = |buf: &mut String, n: u32| {
        buf.push(digit(n / 10));
        buf.push(digit(n));
    };
    two(buf, year / 100);
    two(buf, year);
    buf.push('-');
    two(buf, t.month());
    buf.push('-');
    two(buf, t.day());
    buf.push(' ');
    two(buf, t.hour());
    buf.push(':');
    two(buf, t.minute());
}

/// `n` with thousands separators: `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a cell's text goes, piece by piece: a `String`, or a [`Measure`] of what it
/// would hold. One description of each value's text ([`Value::write_into`]) serves both.
trait TextSink {
    fn add(&mut self, s: &str);
    /// Bytes so far.
    fn written(&self) -> usize;
    fn count(&mut self, n: u64);
    /// `yyyy-mm-dd hh:mm`, as [`push_minute`] writes it.
    fn minute(&mut self, t: &DateTime<Utc>);
    /// [`TextSink::minute`] of a time in milliseconds since the epoch.
    fn minute_ms(&mut self, at: i64) {
        self.minute(&crate::store::from_millis(at));
    }
}

impl TextSink for String {
    fn add(&mut self, s: &str) {
        self.push_str(s);
    }

    fn written(&self) -> usize {
        self.len()
    }

    fn count(&mut self, n: u64) {
        // Writing to a String cannot fail.
        let _ = write!(self, "{n}");
    }

    fn minute(&mut self, t: &DateTime<Utc>) {
        push_minute(self, t);
    }
}

/// The times (milliseconds since the epoch) of the years 0000 to 9999, which
/// [`push_minute`] writes in 16 characters.
const FOUR_DIGIT_YEARS_MS: std::ops::Range<i64> = -62_167_219_200_000..253_402_300_800_000;

/// The length of a text being measured ([`Value::measure_text`]): chars up to
/// `max_chars`, and bytes.
struct Measure {
    chars: usize,
    bytes: usize,
    max_chars: usize,
}

impl TextSink for Measure {
    fn add(&mut self, s: &str) {
        self.bytes += s.len();
        if self.chars < self.max_chars {
            self.chars += s.chars().take(self.max_chars - self.chars).count();
        }
    }

    fn written(&self) -> usize {
        self.bytes
    }

    fn count(&mut self, n: u64) {
        self.ascii(n.checked_ilog10().map_or(1, |d| d as usize + 1));
    }

    fn minute(&mut self, t: &DateTime<Utc>) {
        match (0..=9999).contains(&t.year()) {
            true => self.ascii(MINUTE_LEN),
            false => self.built(|text| push_minute(text, t)),
        }
    }

    /// Without making a date of the time.
    fn minute_ms(&mut self, at: i64) {
        match FOUR_DIGIT_YEARS_MS.contains(&at) {
            true => self.ascii(MINUTE_LEN),
            false => self.built(|text| text.minute_ms(at)),
        }
    }
}

/// `yyyy-mm-dd hh:mm` of a four-digit year.
const MINUTE_LEN: usize = 16;

impl Measure {
    /// `len` ASCII characters.
    fn ascii(&mut self, len: usize) {
        self.bytes += len;
        self.chars = (self.chars + len).min(self.max_chars);
    }

    /// What `write` writes, built to be measured (the rare cells not measured directly).
    fn built(&mut self, write: impl FnOnce(&mut String)) {
        let mut text = String::new();
        write(&mut text);
        self.add(&text);
    }
}

/// `items` joined with [`SEP`]; past `budget` bytes no more items, so a user with a
/// million values does not cost a megabyte string (the cell is certain to be cut).
fn join<S: TextSink, T>(
    sink: &mut S,
    items: impl Iterator<Item = T>,
    budget: usize,
    mut push: impl FnMut(&mut S, T),
) {
    for (i, item) in items.enumerate() {
        if sink.written() > budget {
            break;
        }
        if i > 0 {
            sink.add(SEP);
        }
        push(sink, item);
    }
}

fn yes_no(yes: bool) -> &'static str {
    if yes {
        "Yes"
    } else {
        "No"
    }
}

impl Value<'_> {
    /// Appends the cell as text, as every front end shows it. Counts have no separators
    /// here (the workbook formats them itself; see [`thousands`] for screens). Joined
    /// values stop once `budget` bytes are written.
    pub fn write_text(&self, buf: &mut String, budget: usize) {
        self.write_into(buf, budget);
    }

    /// What [`Value::write_text`] would write, measured without writing it: its length
    /// in chars, counted up to `max_chars`, and in bytes, exact up to `max_bytes` and
    /// past it some larger number. Measuring a million users' joined cells by building
    /// them was about a fifth of a 10 M export's workbooks (the measuring pass 0.52–0.66
    /// s of each workbook's 2.3–3.1 s).
    pub fn measure_text(&self, max_chars: usize, max_bytes: usize) -> (usize, usize) {
        let mut m = Measure {
            chars: 0,
            bytes: 0,
            max_chars,
        };
        self.write_into(&mut m, max_bytes);
        (m.chars, m.bytes)
    }

    fn write_into<S: TextSink>(&self, sink: &mut S, budget: usize) {
        match *self {
            Value::Text(s) | Value::Ranked(s, _) => sink.add(s),
            Value::List(v) => join(sink, v.iter(), budget, |b, s| b.add(s)),
            Value::Interactions(u) => {
                join(sink, u.interactions(), budget, |b, i| b.add(i.as_str()))
            }
            Value::SeenIn(u) => join(sink, u.observed_in_ms(), budget, |b, (system, at)| {
                b.add(system);
                b.add(" (");
                b.minute_ms(at);
                b.add(")");
            }),
            Value::NamedIn(u) => join(sink, u.duplicates(), budget, |b, (name, system)| {
                b.add(name);
                b.add(" (");
                b.add(system);
                b.add(")");
            }),
            Value::Count(n) => sink.count(n),
            Value::Time(Some(t)) => sink.minute(&t),
            Value::Time(None) => {}
            Value::YesNo(b) => sink.add(yes_no(b)),
        }
    }

    /// The cell as text (see [`Value::write_text`]), without a budget.
    pub fn text(&self) -> String {
        let mut s = String::new();
        self.write_text(&mut s, usize::MAX);
        s
    }

    /// Whether the cell shows nothing.
    pub fn is_blank(&self) -> bool {
        match *self {
            Value::Text(s) | Value::Ranked(s, _) => s.is_empty(),
            Value::List(v) => v.is_empty(),
            Value::Interactions(u) => u.interactions().next().is_none(),
            Value::SeenIn(u) => u.observed_in().len() == 0,
            Value::NamedIn(u) => u.duplicates().len() == 0,
            Value::Time(t) => t.is_none(),
            Value::Count(_) | Value::YesNo(_) => false,
        }
    }

    /// How a column sorts when an administrator asks for it: text A→Z ignoring case,
    /// counts and times largest/newest first (what one looks for), `Yes` first; blanks
    /// always last, so sorting by email shows emails rather than a screen of blanks.
    pub fn sort_cmp(&self, other: &Value<'_>) -> Ordering {
        match (self.is_blank(), other.is_blank()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        match (*self, *other) {
            (Value::Count(a), Value::Count(b)) => b.cmp(&a),
            (Value::Time(a), Value::Time(b)) => b.cmp(&a),
            (Value::YesNo(a), Value::YesNo(b)) => b.cmp(&a),
            (Value::Ranked(_, a), Value::Ranked(_, b)) => a.cmp(&b),
            (a, b) => cmp_text(&a.first_text(), &b.first_text()),
        }
    }

    /// The text a text-like cell sorts by: its first value.
    fn first_text(&self) -> String {
        match *self {
            Value::List(v) => v.first().unwrap_or_default().to_owned(),
            Value::SeenIn(u) => u
                .observed_in()
                .next()
                .map(|(s, _)| s.to_owned())
                .unwrap_or_default(),
            Value::NamedIn(u) => u
                .duplicates()
                .next()
                .map(|(s, _)| s.to_owned())
                .unwrap_or_default(),
            other => other.text(),
        }
    }

    /// Whether the cell's text contains `needle` (already lower-cased), for filtering.
    pub fn contains(&self, needle: &str) -> bool {
        match *self {
            Value::Text(s) | Value::Ranked(s, _) => s.to_lowercase().contains(needle),
            Value::List(v) => v.iter().any(|s| s.to_lowercase().contains(needle)),
            other => other.text().to_lowercase().contains(needle),
        }
    }

    /// The cell in a JSON document: counts as numbers, times RFC 3339 UTC or null, the
    /// rest as the text the workbook shows.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Value::Count(n) => serde_json::Value::from(n),
            Value::Time(Some(t)) => {
                serde_json::Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            Value::Time(None) => serde_json::Value::Null,
            other => serde_json::Value::from(other.text()),
        }
    }
}

fn cmp_text(a: &str, b: &str) -> Ordering {
    a.to_lowercase()
        .cmp(&b.to_lowercase())
        .then_with(|| a.cmp(b))
}

/// One column of a sheet.
pub struct Column<R: 'static> {
    /// The header text, exactly as SPEC §5 writes it.
    pub header: &'static str,
    /// For narrow screens.
    pub short: &'static str,
    pub kind: Kind,
    /// For text: the most characters the column grows to; otherwise ignored.
    pub width: usize,
    /// Shown in the terminal UI's table (the workbook shows every column).
    pub on_screen: bool,
    /// Holds a few texts over and over: the workbook keeps each once, in its
    /// shared-string table, and a cell names it by number.
    pub repeats: bool,
    pub value: for<'a> fn(&'a R) -> Value<'a>,
}

impl<R> std::fmt::Debug for Column<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Column")
            .field("header", &self.header)
            .field("kind", &self.kind)
            .finish()
    }
}

/// A table sheet: its name and columns, and where its rows come from in a report.
pub struct Sheet<R: 'static, S: 'static = WindowReport> {
    pub name: &'static str,
    pub columns: &'static [Column<R>],
    pub rows: for<'a> fn(&'a S) -> Vec<&'a R>,
}

impl<R, S> std::fmt::Debug for Sheet<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sheet").field("name", &self.name).finish()
    }
}

impl<R, S> Sheet<R, S> {
    pub fn headers(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.header).collect()
    }

    /// Every row as a JSON object keyed by the exact header texts, in column order.
    pub fn json_rows(&self, source: &S) -> serde_json::Value {
        let rows = (self.rows)(source)
            .into_iter()
            .map(|row| {
                let object: serde_json::Map<String, serde_json::Value> = self
                    .columns
                    .iter()
                    .map(|c| (c.header.to_owned(), (c.value)(row).to_json()))
                    .collect();
                serde_json::Value::Object(object)
            })
            .collect();
        serde_json::Value::Array(rows)
    }
}

pub(crate) const fn text<R>(
    header: &'static str,
    short: &'static str,
    width: usize,
    value: for<'a> fn(&'a R) -> Value<'a>,
) -> Column<R> {
    Column {
        header,
        short,
        kind: Kind::Text,
        width,
        on_screen: true,
        repeats: false,
        value,
    }
}

pub(crate) const fn count<R>(
    header: &'static str,
    short: &'static str,
    value: for<'a> fn(&'a R) -> Value<'a>,
) -> Column<R> {
    Column {
        header,
        short,
        kind: Kind::Count,
        width: 0,
        on_screen: true,
        repeats: false,
        value,
    }
}

pub(crate) const fn time<R>(
    header: &'static str,
    short: &'static str,
    value: for<'a> fn(&'a R) -> Value<'a>,
) -> Column<R> {
    Column {
        header,
        short,
        kind: Kind::Time,
        width: 0,
        on_screen: true,
        repeats: false,
        value,
    }
}

/// The same column, its few texts kept once in the workbook ([`Column::repeats`]).
pub(crate) const fn repeating<R>(mut column: Column<R>) -> Column<R> {
    column.repeats = true;
    column
}

/// The same column, left out of the terminal UI's table (it stays in the workbook and
/// the detail pane).
pub(crate) const fn off_screen<R>(mut column: Column<R>) -> Column<R> {
    column.on_screen = false;
    column
}

/// The label of the totals row of the Unique User Count sheet.
pub const ALL_SYSTEMS: &str = "All Systems";

pub static UNIQUE_USER_COUNT: Sheet<SystemUserCount> = Sheet {
    name: "Unique User Count",
    columns: &[
        text("System / Source", "System", 40, |r| Value::Text(&r.system)),
        count("Count", "Count", |r| Value::Count(r.count)),
        count(Rule::UsernamesOrEmails.label(), "User/Email", |r| {
            Value::Count(r.by_rule[Rule::UsernamesOrEmails.index()])
        }),
        count(Rule::Emails.label(), "Email", |r| {
            Value::Count(r.by_rule[Rule::Emails.index()])
        }),
        count(Rule::DisplayNames.label(), "Name", |r| {
            Value::Count(r.by_rule[Rule::DisplayNames.index()])
        }),
        count(Rule::Usernames.label(), "User", |r| {
            Value::Count(r.by_rule[Rule::Usernames.index()])
        }),
    ],
    rows: |w| {
        w.user_counts
            .iter()
            .chain(std::iter::once(&w.all_systems))
            .collect()
    },
};

pub static ENTITY_TYPE_COUNT: Sheet<EntityTypeRow> = Sheet {
    name: "Entity Type Count",
    columns: &[
        text("System Pairs", "Pairs", 60, |r| {
            Value::List(Texts::Strings(&r.system_pairs))
        }),
        text("End System", "System", 30, |r| Value::Text(&r.system)),
        text("Entity Types", "Type", 30, |r| Value::Text(&r.entity_type)),
        text("Status", "Status", 16, |r| {
            Value::Ranked(r.status.label(), r.status as usize)
        }),
        time("Last Synced (UTC)", "Synced", |r| {
            Value::Time(Some(r.last_synced))
        }),
    ],
    rows: |w| w.entity_types.iter().collect(),
};

pub static INTEGRATED_PROJECT_COUNT: Sheet<ProjectRow> = Sheet {
    name: "Integrated Project Count",
    columns: &[
        text("End System 1", "System 1", 30, |r| Value::Text(&r.system1)),
        text("End System 1 Project", "Project 1", 40, |r| {
            Value::Text(&r.project1)
        }),
        text("End System 2", "System 2", 30, |r| Value::Text(&r.system2)),
        text("End System 2 Project", "Project 2", 40, |r| {
            Value::Text(&r.project2)
        }),
        text("Status", "Status", 16, |r| {
            Value::Ranked(r.status.label(), r.status as usize)
        }),
        time("Last Updated (UTC)", "Updated", |r| {
            Value::Time(r.last_updated)
        }),
        time("Last Synced (UTC)", "Synced", |r| {
            Value::Time(r.last_synced)
        }),
    ],
    rows: |w| w.projects.iter().collect(),
};

pub static SYNCED_DATA_COUNT: Sheet<SyncedRow> = Sheet {
    name: "Synced Data Count",
    columns: &[
        text("End System 1", "System 1", 30, |r| Value::Text(&r.system1)),
        text("End System 2", "System 2", 30, |r| Value::Text(&r.system2)),
        count("Counts Based on System Pair", "Entities", |r| {
            Value::Count(r.entities)
        }),
        time("Last Synced (UTC)", "Synced", |r| {
            Value::Time(Some(r.last_synced))
        }),
    ],
    rows: |w| w.synced.iter().collect(),
};

pub static DETAILED_USER_REPORT: Sheet<UserRow> = Sheet {
    name: "Detailed User Report",
    columns: &[
        text("Email", "Email", 50, |u| Value::List(u.emails())),
        text("Username", "User", 40, |u| Value::List(u.usernames())),
        text("Display Name", "Name", 40, |u| {
            Value::List(u.display_names())
        }),
        repeating(text("Identified By", "By", 20, |u| {
            Value::Ranked(u.identified_by.label(), u.identified_by.index())
        })),
        off_screen(repeating(text(
            "Interaction Types",
            "Interactions",
            60,
            |u| Value::Interactions(u),
        ))),
        off_screen(text("Observed In", "Seen in", 80, |u| Value::SeenIn(u))),
        repeating(text("Service Account", "Svc", 16, |u| {
            Value::YesNo(u.service_account)
        })),
        time("Last Seen (UTC)", "Last seen", |u| {
            Value::Time(Some(u.last_seen()))
        }),
        off_screen(text("Duplicates", "Duplicates", 60, |u| Value::NamedIn(u))),
    ],
    rows: |w| w.users.iter().collect(),
};

/// The Summary sheet's name; its rows are `WindowReport::summary_rows`.
pub const SUMMARY: &str = "Summary";
/// The Summary sheet's two headers.
pub const SUMMARY_HEADERS: [&str; 2] = ["Metric", "Value"];

/// The Summary sheet's provenance block (SPEC §5), below the counts and a blank row: a
/// table of the connectors the numbers come from, with this header row, then
/// [`provenance_facts`]. The workbook, the terminal UI's Summary view and the JSON's
/// `provenance.sources` read this description.
pub static SOURCES: Sheet<Source, Provenance> = Sheet {
    name: "Sources",
    columns: &[
        text("Sources", "Source", 30, |s| Value::Text(&s.name)),
        text("Kind", "Kind", 16, |s| Value::Text(&s.kind)),
        text("Last Collection", "Last collection", 60, |s| {
            Value::Text(&s.outcome)
        }),
        time("Collected At (UTC)", "Collected", |s| {
            Value::Time(s.collected_at())
        }),
        count("Records Received", "Records", |s| {
            Value::Count(s.last.as_ref().map_or(0, |c| c.received))
        }),
        time("Last Good Collection (UTC)", "Last ok", |s| {
            Value::Time(s.last_ok_at())
        }),
    ],
    rows: |p| p.sources.iter().collect(),
};

/// Labels of the facts below the Sources table.
pub const PARTIAL_REPORT: &str = "Partial Report";
pub const DEMO_DATA: &str = "Demo data";
pub const TALLY_VERSION: &str = "Tally Version";
pub const WRITTEN_AT: &str = "Written At (UTC)";

/// A value of [`provenance_facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    Text(String),
    Time(DateTime<Utc>),
}

/// The rows below the Sources table, label and value, in order: a `Partial Report` row
/// per connector whose data may be incomplete (saying what the report holds of it),
/// `Demo data` when the numbers come from the demo data set, the tally version and when
/// the file was written (`written_at`: the writer's moment).
pub fn provenance_facts(p: &Provenance, written_at: DateTime<Utc>) -> Vec<(&'static str, Fact)> {
    let mut facts: Vec<(&'static str, Fact)> = p
        .incomplete()
        .map(|s| (PARTIAL_REPORT, Fact::Text(s.holds())))
        .collect();
    if p.demo {
        facts.push((
            DEMO_DATA,
            Fact::Text("Yes: the built-in demo data set, not your systems".to_owned()),
        ));
    }
    facts.push((TALLY_VERSION, Fact::Text(p.version.clone())));
    facts.push((WRITTEN_AT, Fact::Time(written_at)));
    facts
}

/// The provenance as JSON: `sources` (rows keyed by [`SOURCES`]' headers), `partial`
/// (the texts of the `Partial Report` rows; empty when the report is complete),
/// `demo_data`, `tally_version` and `written_at`.
pub fn provenance_json(p: &Provenance, written_at: DateTime<Utc>) -> serde_json::Value {
    let partial: Vec<serde_json::Value> = p
        .incomplete()
        .map(|s| serde_json::Value::from(s.holds()))
        .collect();
    serde_json::json!({
        "sources": SOURCES.json_rows(p),
        "partial": partial,
        "demo_data": p.demo,
        "tally_version": p.version,
        "written_at": Value::Time(Some(written_at)).to_json(),
    })
}

/// The names of a Usage Report workbook's sheets, in order (SPEC §5).
pub fn usage_report_sheet_names() -> [&'static str; 6] {
    [
        SUMMARY,
        UNIQUE_USER_COUNT.name,
        ENTITY_TYPE_COUNT.name,
        INTEGRATED_PROJECT_COUNT.name,
        SYNCED_DATA_COUNT.name,
        DETAILED_USER_REPORT.name,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn blanks_sort_last_counts_and_times_first_largest() {
        let blank = Value::List(Texts::Strings(&[]));
        let names = ["b".to_string()];
        let named = Value::List(Texts::Strings(&names));
        assert_eq!(blank.sort_cmp(&named), Ordering::Greater);
        assert_eq!(named.sort_cmp(&blank), Ordering::Less);
        assert_eq!(
            Value::Count(3).sort_cmp(&Value::Count(5)),
            Ordering::Greater
        );
        assert_eq!(
            Value::Text("B").sort_cmp(&Value::Text("a")),
            Ordering::Greater
        );
        assert_eq!(
            Value::YesNo(true).sort_cmp(&Value::YesNo(false)),
            Ordering::Less
        );
    }

    #[test]
    fn measuring_a_cell_gives_what_writing_it_would() {
        use crate::report::UserRowParts;
        use crate::Interaction;
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let long: Vec<String> = (0..400)
            .map(|i| format!("ünïcödé{i}@corp.example"))
            .collect();
        let parts = |observed_in: Vec<(String, DateTime<Utc>)>| UserRowParts {
            emails: long.clone(),
            usernames: vec!["ann".into(), "ann.lee".into()],
            display_names: vec!["Ann Lée 李".into()],
            identified_by: Rule::UsernamesOrEmails,
            interactions: vec![Interaction::Mention, Interaction::Updater],
            observed_in,
            service_account: false,
            last_seen: t("2026-10-01T12:00:00Z"),
            duplicates: vec![
                ("ann".into(), "Jira".into()),
                ("a.lee".into(), "GitHub".into()),
            ],
            shared_handles: Vec::new(),
            forced_merge: false,
        };
        let rows: Vec<UserRow> = [
            parts(vec![
                ("Azure DevOps".into(), t("2026-09-30T08:15:00Z")),
                ("Jira".into(), t("2026-10-01T12:00:00Z")),
            ]),
            // Years outside 0..=9999 are written another way; the bounds of those inside.
            parts(vec![("Jira".into(), t("+10000-01-01T00:00:00Z"))]),
            parts(vec![("Jira".into(), t("9999-12-31T23:59:59.999Z"))]),
            parts(vec![("Jira".into(), t("0000-01-01T00:00:00Z"))]),
            parts(vec![("Jira".into(), t("-0001-12-31T23:59:59.999Z"))]),
            parts(Vec::new()),
        ]
        .into_iter()
        .map(UserRow::from)
        .collect();
        let names = vec!["x".to_string(); 600];
        for row in &rows {
            let values = [
                Value::List(row.emails()),
                Value::List(row.usernames()),
                Value::List(row.display_names()),
                Value::List(Texts::Strings(&names)),
                Value::List(Texts::Strings(&[])),
                Value::Interactions(row),
                Value::SeenIn(row),
                Value::NamedIn(row),
                Value::Text("plain é"),
                Value::Ranked("Emails", 1),
                Value::Count(1234),
                Value::Count(0),
                Value::Count(u64::MAX),
                Value::Time(Some(row.last_seen())),
                Value::Time(Some(t("+10000-01-01T00:00:00Z"))),
                Value::Time(None),
                Value::YesNo(true),
            ];
            for value in values {
                for (max_chars, max_bytes) in [(256, 1024), (3, 5), (10_000, 100_000)] {
                    let mut text = String::new();
                    value.write_text(&mut text, max_bytes);
                    let (chars, bytes) = value.measure_text(max_chars, max_bytes);
                    let what = format!("{value:?} at {max_chars}/{max_bytes}");
                    assert_eq!(chars, text.chars().take(max_chars).count(), "{what}");
                    match text.len() > max_bytes {
                        true => assert!(bytes > max_bytes, "{what}"),
                        false => assert_eq!(bytes, text.len(), "{what}"),
                    }
                }
            }
        }
    }

    #[test]
    fn minutes_as_written_before() {
        use chrono::TimeZone;
        for (y, mo, d, h, mi) in [
            (2026, 10, 1, 12, 34),
            (1999, 12, 31, 23, 59),
            (5, 1, 2, 3, 4),
            (999, 7, 8, 0, 0),
            (9999, 12, 31, 23, 59),
            (-44, 3, 15, 9, 5),
            (10_000, 1, 1, 0, 0),
        ] {
            let t = Utc
                .with_ymd_and_hms(y, mo, d, h, mi, 56)
                .single()
                .expect("valid time");
            let mut buf = String::from("x");
            push_minute(&mut buf, &t);
            // What the cells showed before the digits were written by hand.
            let before = format!(
                "x{:04}-{:02}-{:02} {:02}:{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute()
            );
            assert_eq!(buf, before, "{t:?}");
        }
    }

    #[test]
    fn joined_cells_and_json() {
        let seen = [(
            "Jira".to_string(),
            DateTime::parse_from_rfc3339("2026-10-01T12:34:56Z")
                .map(|t| t.with_timezone(&Utc))
                .expect("time"),
        )];
        let user = UserRow::from(crate::report::UserRowParts {
            emails: vec![],
            usernames: vec!["ann".into()],
            display_names: vec![],
            identified_by: Rule::Usernames,
            interactions: vec![],
            observed_in: seen.to_vec(),
            service_account: false,
            last_seen: seen[0].1,
            duplicates: vec![
                ("ann".into(), "Jira".into()),
                ("al".into(), "GitLab".into()),
            ],
            shared_handles: vec![],
            forced_merge: false,
        });
        assert_eq!(Value::SeenIn(&user).text(), "Jira (2026-10-01 12:34)");
        assert_eq!(Value::NamedIn(&user).text(), "ann (Jira), al (GitLab)");
        assert!(Value::Interactions(&user).is_blank());
        assert_eq!(Value::Count(7).to_json(), serde_json::json!(7));
        assert_eq!(
            Value::Time(Some(seen[0].1)).to_json(),
            serde_json::json!("2026-10-01T12:34:56Z")
        );
        assert_eq!(Value::Time(None).to_json(), serde_json::Value::Null);
    }
}
