//! A row of the Detailed User Report in a compact form. A report holds one row per resolved
//! user and window (1.33 million at 10 M observations): as a struct of vectors of strings
//! a row was about 600 bytes in 12–15 allocations, 790 MB for the report; here every text
//! of a row is one string, and its list lengths, value offsets and times one array of
//! numbers: about 190 bytes in two allocations with the struct.

use chrono::{DateTime, Utc};

use crate::identity::Rule;
use crate::model::Interaction;
use crate::store::{from_millis, to_millis};

/// The lists a row's text holds, in the order they are stored.
#[derive(Debug, Clone, Copy)]
enum Group {
    Emails,
    Usernames,
    DisplayNames,
    /// The systems of `observed_in`; their times follow the offsets in `UserRow::data`.
    Systems,
    /// `(username, system)` pairs, two values each.
    Duplicates,
    SharedHandles,
}

const GROUPS: usize = 6;

/// A row of the Detailed User Report: one resolved user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Every value of every list, one after the other.
    text: Box<str>,
    /// In one allocation: how many values the lists up to and including each [`Group`]
    /// hold (`GROUPS` numbers); where each value ends in `text`; the last time (ms) in
    /// each system of the `Systems` list, in its order, as two numbers (low, high).
    /// Three boxes of their own made a row 40 bytes larger and cost an allocation more.
    data: Box<[u32]>,
    last_seen: i64,
    pub identified_by: Rule,
    /// Bit `Interaction::code()`.
    interactions: u8,
    pub service_account: bool,
    /// Whether a configured forced merge joined parts of this user.
    pub forced_merge: bool,
}

/// Several texts of one row (or plain strings elsewhere), read like a slice of them.
#[derive(Debug, Clone, Copy)]
pub enum Texts<'a> {
    Strings(&'a [String]),
    Packed {
        text: &'a str,
        ends: &'a [u32],
        /// The first value's index in `ends`.
        first: usize,
        len: usize,
    },
}

impl<'a> Texts<'a> {
    pub fn len(&self) -> usize {
        match *self {
            Texts::Strings(v) => v.len(),
            Texts::Packed { len, .. } => len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: usize) -> Option<&'a str> {
        match *self {
            Texts::Strings(v) => v.get(i).map(String::as_str),
            Texts::Packed {
                text,
                ends,
                first,
                len,
            } => {
                if i >= len {
                    return None;
                }
                let k = first + i;
                let start = if k == 0 {
                    0
                } else {
                    *ends.get(k - 1)? as usize
                };
                text.get(start..*ends.get(k)? as usize)
            }
        }
    }

    pub fn first(&self) -> Option<&'a str> {
        self.get(0)
    }

    pub fn iter(&self) -> TextsIter<'a> {
        TextsIter {
            texts: *self,
            next: 0,
            end: self.len(),
        }
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl<'a> IntoIterator for Texts<'a> {
    type Item = &'a str;
    type IntoIter = TextsIter<'a>;

    fn into_iter(self) -> TextsIter<'a> {
        self.iter()
    }
}

/// The values of a [`Texts`], in order.
#[derive(Debug, Clone)]
pub struct TextsIter<'a> {
    texts: Texts<'a>,
    next: usize,
    end: usize,
}

impl<'a> Iterator for TextsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.next >= self.end {
            return None;
        }
        self.next += 1;
        Some(self.texts.get(self.next - 1).unwrap_or(""))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end.saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for TextsIter<'_> {}

impl DoubleEndedIterator for TextsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        self.end -= 1;
        Some(self.texts.get(self.end).unwrap_or(""))
    }
}

/// Equal when they hold the same values, however stored.
impl PartialEq for Texts<'_> {
    fn eq(&self, other: &Texts<'_>) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Texts<'_> {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl UserRow {
    fn group_end(&self, g: usize) -> usize {
        self.data.get(g).map_or(0, |&n| n as usize)
    }

    fn ends(&self) -> &[u32] {
        let n = self.group_end(GROUPS - 1);
        self.data.get(GROUPS..GROUPS + n).unwrap_or(&[])
    }

    /// The last time (ms) in the `i`th system.
    fn seen(&self, i: usize) -> Option<i64> {
        let at = GROUPS + self.group_end(GROUPS - 1) + 2 * i;
        let (low, high) = (*self.data.get(at)?, *self.data.get(at + 1)?);
        Some(((u64::from(high) << 32) | u64::from(low)) as i64)
    }

    fn texts(&self, group: Group) -> Texts<'_> {
        let g = group as usize;
        let first = if g == 0 { 0 } else { self.group_end(g - 1) };
        let end = self.group_end(g);
        Texts::Packed {
            text: &self.text,
            ends: self.ends(),
            first,
            len: end.saturating_sub(first),
        }
    }

    /// Distinct normalised emails, sorted.
    pub fn emails(&self) -> Texts<'_> {
        self.texts(Group::Emails)
    }

    /// Distinct normalised usernames, sorted.
    pub fn usernames(&self) -> Texts<'_> {
        self.texts(Group::Usernames)
    }

    /// Distinct display names as first seen (compared case-insensitively), sorted.
    pub fn display_names(&self) -> Texts<'_> {
        self.texts(Group::DisplayNames)
    }

    /// The rule-1 handles that tied this user's observations together (for explanations).
    pub fn shared_handles(&self) -> Texts<'_> {
        self.texts(Group::SharedHandles)
    }

    /// Each system the user was seen in with the last time, sorted by system.
    pub fn observed_in(&self) -> impl ExactSizeIterator<Item = (&str, DateTime<Utc>)> + '_ {
        self.observed_in_ms()
            .map(|(system, at)| (system, from_millis(at)))
    }

    /// [`UserRow::observed_in`] with the times as stored (milliseconds since the epoch),
    /// for who needs no date of them.
    pub fn observed_in_ms(&self) -> impl ExactSizeIterator<Item = (&str, i64)> + '_ {
        let systems = self.texts(Group::Systems);
        (0..systems.len()).map(move |i| {
            (
                systems.get(i).unwrap_or(""),
                self.seen(i).unwrap_or(self.last_seen),
            )
        })
    }

    /// `(username, system)` pairs where one email carries different usernames in
    /// different systems.
    pub fn duplicates(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let values = self.texts(Group::Duplicates);
        (0..values.len() / 2).map(move |i| {
            (
                values.get(2 * i).unwrap_or(""),
                values.get(2 * i + 1).unwrap_or(""),
            )
        })
    }

    /// The kinds of interaction seen, in `Interaction::ALL` order.
    pub fn interactions(&self) -> impl Iterator<Item = Interaction> + '_ {
        Interaction::ALL
            .into_iter()
            .filter(|i| self.interactions & (1 << i.code()) != 0)
    }

    pub fn last_seen(&self) -> DateTime<Utc> {
        from_millis(self.last_seen)
    }

    /// The same row with its parts owned, e.g. to change one in a test.
    pub fn to_parts(&self) -> UserRowParts {
        UserRowParts {
            emails: self.emails().to_vec(),
            usernames: self.usernames().to_vec(),
            display_names: self.display_names().to_vec(),
            identified_by: self.identified_by,
            interactions: self.interactions().collect(),
            observed_in: self
                .observed_in()
                .map(|(s, at)| (s.to_owned(), at))
                .collect(),
            service_account: self.service_account,
            last_seen: self.last_seen(),
            duplicates: self
                .duplicates()
                .map(|(u, s)| (u.to_owned(), s.to_owned()))
                .collect(),
            shared_handles: self.shared_handles().to_vec(),
            forced_merge: self.forced_merge,
        }
    }
}

/// A [`UserRow`] with every part owned: how tests and small callers write one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRowParts {
    pub emails: Vec<String>,
    pub usernames: Vec<String>,
    pub display_names: Vec<String>,
    pub identified_by: Rule,
    pub interactions: Vec<Interaction>,
    pub observed_in: Vec<(String, DateTime<Utc>)>,
    pub service_account: bool,
    pub last_seen: DateTime<Utc>,
    pub duplicates: Vec<(String, String)>,
    pub shared_handles: Vec<String>,
    pub forced_merge: bool,
}

impl From<UserRowParts> for UserRow {
    fn from(p: UserRowParts) -> UserRow {
        let mut b = RowBuilder::default();
        for e in &p.emails {
            b.email(e);
        }
        for u in &p.usernames {
            b.username(u);
        }
        for d in &p.display_names {
            b.display_name(d);
        }
        for (system, at) in &p.observed_in {
            b.system(system, to_millis(*at));
        }
        for (name, system) in &p.duplicates {
            b.duplicate(name, system);
        }
        for h in &p.shared_handles {
            b.shared_handle(h);
        }
        b.finish(RowFlags {
            identified_by: p.identified_by,
            interactions: p
                .interactions
                .iter()
                .fold(0, |bits, i| bits | (1u8 << i.code())),
            service_account: p.service_account,
            last_seen: to_millis(p.last_seen),
            forced_merge: p.forced_merge,
        })
    }
}

/// What a row holds besides its lists.
pub(crate) struct RowFlags {
    pub identified_by: Rule,
    /// Bit `Interaction::code()`.
    pub interactions: u8,
    pub service_account: bool,
    /// ms
    pub last_seen: i64,
    pub forced_merge: bool,
}

/// Gathers one row's values, list by list in [`Group`] order; kept across rows so its
/// buffers are allocated once, and each row gets boxes of exactly its length.
#[derive(Default)]
pub(crate) struct RowBuilder {
    text: String,
    ends: Vec<u32>,
    group_ends: [u32; GROUPS],
    seen: Vec<i64>,
}

impl RowBuilder {
    fn push(&mut self, group: Group, value: &str) {
        self.text.push_str(value);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        let n = u32::try_from(self.ends.len()).unwrap_or(u32::MAX);
        // This list and every later one end here for now.
        for end in &mut self.group_ends[group as usize..] {
            *end = n;
        }
    }

    pub fn email(&mut self, value: &str) {
        self.push(Group::Emails, value)
    }

    pub fn username(&mut self, value: &str) {
        self.push(Group::Usernames, value)
    }

    pub fn display_name(&mut self, value: &str) {
        self.push(Group::DisplayNames, value)
    }

    /// A system the user was seen in, last at `at` (ms).
    pub fn system(&mut self, system: &str, at: i64) {
        self.push(Group::Systems, system);
        self.seen.push(at);
    }

    pub fn duplicate(&mut self, username: &str, system: &str) {
        self.push(Group::Duplicates, username);
        self.push(Group::Duplicates, system);
    }

    pub fn shared_handle(&mut self, value: &str) {
        self.push(Group::SharedHandles, value)
    }

    /// The row, leaving the builder empty for the next one.
    pub fn finish(&mut self, flags: RowFlags) -> UserRow {
        let mut data = Vec::with_capacity(GROUPS + self.ends.len() + 2 * self.seen.len());
        data.extend_from_slice(&self.group_ends);
        data.extend_from_slice(&self.ends);
        for &at in &self.seen {
            let bits = at as u64;
            data.extend([bits as u32, (bits >> 32) as u32]);
        }
        let row = UserRow {
            text: self.text.as_str().into(),
            data: data.into_boxed_slice(),
            last_seen: flags.last_seen,
            identified_by: flags.identified_by,
            interactions: flags.interactions,
            service_account: flags.service_account,
            forced_merge: flags.forced_merge,
        };
        self.text.clear();
        self.ends.clear();
        self.seen.clear();
        self.group_ends = [0; GROUPS];
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    #[test]
    fn every_part_reads_back_as_it_went_in() {
        let parts = UserRowParts {
            emails: vec!["ann@example.com".into(), "ann@other.example".into()],
            usernames: vec![],
            display_names: vec!["Ann Ä".into()],
            identified_by: Rule::Emails,
            interactions: vec![Interaction::ALL[0], Interaction::ALL[3]],
            observed_in: vec![
                ("GitLab".into(), at("2026-10-01T12:34:56Z")),
                ("Jira".into(), at("2026-09-01T00:00:00Z")),
                // Before 1970: a negative time, split into two numbers and joined again.
                ("Redmine".into(), at("1960-02-29T23:59:59Z")),
            ],
            service_account: false,
            last_seen: at("2026-10-01T12:34:56Z"),
            duplicates: vec![
                ("ann".into(), "GitLab".into()),
                ("a.b".into(), "Jira".into()),
            ],
            shared_handles: vec!["".into(), "ann".into()],
            forced_merge: true,
        };
        let row = UserRow::from(parts.clone());
        assert_eq!(row.to_parts(), parts);
        assert_eq!(row.emails().first(), Some("ann@example.com"));
        assert!(row.usernames().is_empty() && row.usernames().first().is_none());
        assert_eq!(row.display_names(), ["Ann Ä"]);
        assert_eq!(row.shared_handles(), ["", "ann"]);
        assert_eq!(row.observed_in().len(), 3);
        assert_eq!(row.duplicates().nth(1), Some(("a.b", "Jira")));
    }

    #[test]
    fn an_empty_row_has_empty_lists() {
        let row = RowBuilder::default().finish(RowFlags {
            identified_by: Rule::DisplayNames,
            interactions: 0,
            service_account: true,
            last_seen: 0,
            forced_merge: false,
        });
        assert!(row.emails().is_empty() && row.shared_handles().is_empty());
        assert_eq!(row.observed_in().count(), 0);
        assert_eq!(row.interactions().count(), 0);
        assert!(row.service_account);
    }
}
