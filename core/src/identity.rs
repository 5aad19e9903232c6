//! Identity resolution (SPEC §3): pure functions over identity tuples.
//!
//! Everything works on indices into the caller's slice, so the store can resolve millions
//! of distinct tuples without copying observations; the caller maps members back to its
//! own records.

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::hash_table::{self, HashTable};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// The identifier rule that identified a user, in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Rule {
    UsernamesOrEmails,
    Emails,
    DisplayNames,
    Usernames,
}

impl Rule {
    pub const ALL: [Rule; 4] = [
        Rule::UsernamesOrEmails,
        Rule::Emails,
        Rule::DisplayNames,
        Rule::Usernames,
    ];

    /// The exact label used in the workbooks and in `identity-cases.json`.
    pub const fn label(self) -> &'static str {
        match self {
            Rule::UsernamesOrEmails => "Usernames or Emails",
            Rule::Emails => "Emails",
            Rule::DisplayNames => "Display Names",
            Rule::Usernames => "Usernames",
        }
    }

    /// 0..4, the index into `[u64; 4]` breakdowns; lower is higher priority.
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// One identity tuple as observed (raw; `resolve` normalises).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct IdentityInput<'a> {
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
}

/// Configuration that changes how identities resolve (`[identity]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityRules {
    /// Handles that link nothing (compared lower-cased).
    pub generic_handles: Vec<String>,
    /// Each list names identifiers (emails, usernames or display names) of one person.
    pub forced_merges: Vec<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// Indices into the `inputs` slice, ascending.
    pub members: Vec<usize>,
    pub rule: Rule,
    /// The rule-1 handles of this user (sorted), empty for other rules.
    pub shared_handles: Vec<String>,
    /// A configured forced merge joined two or more users into this one.
    pub forced_merge: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Sorted by their smallest member index.
    pub users: Vec<ResolvedUser>,
    /// Inputs with no identifier at all, ascending.
    pub unidentified: Vec<usize>,
    /// Inputs whose email was present but not `local@domain`, ascending.
    pub invalid_emails: Vec<usize>,
}

/// Why an email field did not yield an email; the difference matters because only a
/// present-but-malformed value is a data-quality warning. `Valid` holds the trimmed value,
/// not yet lower-cased.
enum EmailField<'a> {
    Absent,
    Invalid,
    Valid(&'a str),
}

fn parse_email(raw: &str) -> EmailField<'_> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return EmailField::Absent;
    }
    // A byte scan: `@` is ASCII, and emails are too short for `memchr` to pay off.
    let mut ats = trimmed.bytes().enumerate().filter(|&(_, b)| b == b'@');
    match (ats.next(), ats.next()) {
        (Some((at, _)), None) if at > 0 && at + 1 < trimmed.len() => EmailField::Valid(trimmed),
        _ => EmailField::Invalid,
    }
}

/// The outcome of normalising into a caller's buffer: most values are already normal and
/// can be borrowed, so only the others cost buffer space. One implementation serves both
/// the public `Cow` helpers and `resolve`, which keeps them in agreement.
enum Normal<'a> {
    /// Normalisation changed nothing; this is a slice of the input.
    Same(&'a str),
    /// The normal form was appended to the buffer.
    Written,
}

fn lowercase_into<'a>(s: &'a str, out: &mut String) -> Normal<'a> {
    if s.is_ascii() {
        if !s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Normal::Same(s);
        }
        let start = out.len();
        out.push_str(s);
        if let Some(written) = out.get_mut(start..) {
            written.make_ascii_lowercase();
        }
    } else {
        out.push_str(&s.to_lowercase());
    }
    Normal::Written
}

fn collapse_into<'a>(raw: &'a str, out: &mut String) -> Option<Normal<'a>> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut prev_space = false;
    let needs_collapse = if trimmed.is_ascii() {
        // The ASCII members of `char::is_whitespace`, byte by byte.
        trimmed.bytes().any(|b| {
            let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r');
            let bad = ws && (b != b' ' || prev_space);
            prev_space = ws;
            bad
        })
    } else {
        trimmed.chars().any(|c| {
            let ws = c.is_whitespace();
            let bad = ws && (c != ' ' || prev_space);
            prev_space = ws;
            bad
        })
    };
    if !needs_collapse {
        return Some(Normal::Same(trimmed));
    }
    for (k, word) in trimmed.split_whitespace().enumerate() {
        if k > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    Some(Normal::Written)
}

fn display_key_into<'a>(raw: &'a str, out: &mut String) -> Option<Normal<'a>> {
    let start = out.len();
    match collapse_into(raw, out)? {
        Normal::Same(collapsed) => Some(lowercase_into(collapsed, out)),
        Normal::Written => {
            let unicode = out
                .get(start..)
                .filter(|w| !w.is_ascii())
                .map(str::to_lowercase);
            match unicode {
                Some(lower) => {
                    out.truncate(start);
                    out.push_str(&lower);
                }
                None => {
                    if let Some(written) = out.get_mut(start..) {
                        written.make_ascii_lowercase();
                    }
                }
            }
            Some(Normal::Written)
        }
    }
}

fn email_into<'a>(field: &EmailField<'a>, out: &mut String) -> Option<Normal<'a>> {
    match *field {
        EmailField::Valid(trimmed) => Some(lowercase_into(trimmed, out)),
        EmailField::Absent | EmailField::Invalid => None,
    }
}

fn username_into<'a>(raw: &'a str, out: &mut String) -> Option<Normal<'a>> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| lowercase_into(trimmed, out))
}

fn to_cow<'a>(normalise: impl FnOnce(&mut String) -> Option<Normal<'a>>) -> Option<Cow<'a, str>> {
    let mut out = String::new();
    Some(match normalise(&mut out)? {
        Normal::Same(s) => Cow::Borrowed(s),
        Normal::Written => Cow::Owned(out),
    })
}

/// The email as SPEC §3 compares it (trimmed, lower-cased), or `None` when the value is
/// empty or not `local@domain`. Callers that show or count emails per user should use this
/// so that they agree with how users were formed.
pub fn normalize_email(raw: &str) -> Option<Cow<'_, str>> {
    to_cow(|out| email_into(&parse_email(raw), out))
}

/// The part before `@` of a normalised email; it is one of the email's handles.
pub fn email_local(email: &str) -> &str {
    match email.bytes().position(|b| b == b'@') {
        Some(at) => email.get(..at).unwrap_or(email),
        None => email,
    }
}

/// The username as SPEC §3 compares it (trimmed, lower-cased), `None` when empty.
pub fn normalize_username(raw: &str) -> Option<Cow<'_, str>> {
    to_cow(|out| username_into(raw, out))
}

/// A display name with inner white space collapsed but its case kept, for showing it;
/// `None` when empty.
pub fn normalize_display_name(raw: &str) -> Option<Cow<'_, str>> {
    to_cow(|out| collapse_into(raw, out))
}

/// The key display names are compared by (collapsed, Unicode lower-case), so that
/// "Ann  Lee" and "ann lee" are the same name; `None` when empty.
pub fn display_name_key(raw: &str) -> Option<Cow<'_, str>> {
    to_cow(|out| display_key_into(raw, out))
}

/// Where a normalised value lives: in the caller's input when normalisation changed
/// nothing, else in one shared buffer, so that a million tuples do not cost a million
/// live allocations. 16 bytes (the pointer's niche tells the two apart), where an enum
/// with a third variant for "absent" and `usize` offsets was 24: at 10 M observations
/// that was 43 MB of the report's peak.
#[derive(Clone, Copy)]
enum Span<'a> {
    Input(&'a str),
    /// `Normalised::buffer[start..end]`; `start == end` when the field has no value (a
    /// normal form is never empty), and
    /// `start == SPILLED` for `Normalised::spilled[end]`, a value written past the first
    /// 4 GiB.
    Buffer(u32, u32),
}

const ABSENT: Span<'static> = Span::Buffer(0, 0);
const SPILLED: u32 = u32::MAX;

impl<'a> Span<'a> {
    fn store(
        buffer: &mut String,
        spilled: &mut Vec<Box<str>>,
        normalise: impl FnOnce(&mut String) -> Option<Normal<'a>>,
    ) -> Self {
        let start = buffer.len();
        match normalise(buffer) {
            None => ABSENT,
            Some(Normal::Same(s)) => Span::Input(s),
            Some(Normal::Written) => match (u32::try_from(start), u32::try_from(buffer.len())) {
                (Ok(from), Ok(to)) if from != SPILLED => Span::Buffer(from, to),
                _ => {
                    spilled.push(buffer.split_off(start).into_boxed_str());
                    Span::Buffer(SPILLED, u32::try_from(spilled.len() - 1).unwrap_or(0))
                }
            },
        }
    }

    fn is_absent(&self) -> bool {
        matches!(*self, Span::Buffer(start, end) if start == end)
    }
}

const EMAIL: usize = 0;
const USERNAME: usize = 1;
const DISPLAY: usize = 2;

/// All inputs after normalisation: per input its email, username and display-name key.
struct Normalised<'a> {
    spans: Vec<[Span<'a>; 3]>,
    buffer: String,
    spilled: Vec<Box<str>>,
    invalid_emails: Vec<usize>,
    /// How many inputs have an email, and a username: sizes for the grouping maps.
    with_email: usize,
    with_username: usize,
}

impl<'a> Normalised<'a> {
    fn new(inputs: impl ExactSizeIterator<Item = IdentityInput<'a>>) -> Self {
        let mut buffer = String::new();
        let mut spilled = Vec::new();
        let mut invalid_emails = Vec::new();
        let mut spans = Vec::with_capacity(inputs.len());
        let (mut with_email, mut with_username) = (0, 0);
        for (i, input) in inputs.enumerate() {
            let email = input.email.map_or(EmailField::Absent, parse_email);
            if matches!(email, EmailField::Invalid) {
                invalid_emails.push(i);
            }
            let username = input.username;
            let display = input.display_name;
            let fields = [
                Span::store(&mut buffer, &mut spilled, |out| email_into(&email, out)),
                Span::store(&mut buffer, &mut spilled, |out| {
                    username.and_then(|u| username_into(u, out))
                }),
                Span::store(&mut buffer, &mut spilled, |out| {
                    display.and_then(|d| display_key_into(d, out))
                }),
            ];
            with_email += usize::from(!fields[EMAIL].is_absent());
            with_username += usize::from(!fields[USERNAME].is_absent());
            spans.push(fields);
        }
        Normalised {
            spans,
            buffer,
            spilled,
            invalid_emails,
            with_email,
            with_username,
        }
    }

    fn field(&self, i: usize, which: usize) -> Option<&str> {
        match self.spans[i][which] {
            Span::Input(s) => Some(s),
            Span::Buffer(start, end) if start == end => None,
            Span::Buffer(SPILLED, index) => self.spilled.get(index as usize).map(|s| &**s),
            Span::Buffer(start, end) => self.buffer.get(start as usize..end as usize),
        }
    }

    fn email(&self, i: usize) -> Option<&str> {
        self.field(i, EMAIL)
    }

    fn username(&self, i: usize) -> Option<&str> {
        self.field(i, USERNAME)
    }

    fn display(&self, i: usize) -> Option<&str> {
        self.field(i, DISPLAY)
    }

    fn is_unidentified(&self, i: usize) -> bool {
        self.spans[i].iter().all(Span::is_absent)
    }
}

/// Disjoint sets over input indices; users are its classes, so joining is one `union`.
struct UnionFind {
    parent: Vec<usize>,
    rank: Vec<u8>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
            rank: vec![0; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            let grandparent = self.parent[self.parent[x]];
            self.parent[x] = grandparent;
            x = grandparent;
        }
        x
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        match self.rank[ra].cmp(&self.rank[rb]) {
            std::cmp::Ordering::Less => self.parent[ra] = rb,
            std::cmp::Ordering::Greater => self.parent[rb] = ra,
            std::cmp::Ordering::Equal => {
                self.parent[rb] = ra;
                self.rank[ra] = self.rank[ra].saturating_add(1);
            }
        }
    }
}

/// Inputs grouped by a text each of them has, the first member found being the group's
/// anchor. A slot holds only a number (8 bytes, against 24 for a `&str` key and its
/// value): the key's text is found again through `norm` when two are compared. At 10 M
/// observations the maps of the two windows' resolutions were 220 MB of the report's
/// peak.
struct Groups<'n, 'a> {
    table: HashTable<usize>,
    norm: &'n Normalised<'a>,
    /// The key of a stored number.
    key: fn(&'n Normalised<'a>, usize) -> Option<&'n str>,
    /// A stored number's input.
    input: fn(usize) -> usize,
}

fn hash_text(s: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl<'n, 'a> Groups<'n, 'a> {
    fn new(
        norm: &'n Normalised<'a>,
        capacity: usize,
        key: fn(&'n Normalised<'a>, usize) -> Option<&'n str>,
        input: fn(usize) -> usize,
    ) -> Self {
        Groups {
            table: HashTable::with_capacity(capacity),
            norm,
            key,
            input,
        }
    }

    /// The anchor of the group of `key`.
    fn get(&self, key: &str) -> Option<usize> {
        let (norm, key_of) = (self.norm, self.key);
        self.table
            .find(hash_text(key), |&v| key_of(norm, v) == Some(key))
            .map(|&v| (self.input)(v))
    }

    /// Puts `v` (whose key is `key`) in its group: joined to the anchor in `uf`, or the
    /// anchor of a new group.
    fn group(&mut self, key: &str, v: usize, uf: &mut UnionFind) {
        let (norm, key_of) = (self.norm, self.key);
        let rehash = |&w: &usize| key_of(norm, w).map_or(0, hash_text);
        match self
            .table
            .entry(hash_text(key), |&w| key_of(norm, w) == Some(key), rehash)
        {
            hash_table::Entry::Occupied(anchor) => {
                uf.union((self.input)(v), (self.input)(*anchor.get()))
            }
            hash_table::Entry::Vacant(slot) => {
                slot.insert(v);
            }
        }
    }
}

/// A rule-1 handle of input `i` as one number: its username (even) or its email's local
/// part (odd).
fn handle_of<'n>(norm: &'n Normalised<'_>, v: usize) -> Option<&'n str> {
    let i = v / 2;
    if v.is_multiple_of(2) {
        norm.username(i)
    } else {
        norm.email(i).map(email_local)
    }
}

/// A display-name carrier slot: the input whose display key is the key, and the one
/// rules-1–2 user carrying it, or [`MANY`] when several do.
type Carrier = (usize, usize);

/// More than one user carries the display name: none may absorb it (rule 3).
const MANY: usize = usize::MAX;

fn map_with_capacity<K, V>(n: usize) -> FxHashMap<K, V> {
    FxHashMap::with_capacity_and_hasher(n, Default::default())
}

/// Resolves identity tuples into users by SPEC §3, then applies configured forced merges.
///
/// Every decision is made over the whole input (handle components, unique display-name
/// carriers, grouping keys), never first-come, so the partition and each user's rule do
/// not depend on input order.
pub fn resolve(inputs: &[IdentityInput<'_>], rules: &IdentityRules) -> Resolution {
    resolve_each(inputs.iter().copied(), rules)
}

/// [`resolve`] over inputs made one at a time, so that a caller with a million of them
/// need not hold them all at once (48 bytes each, per window, at the report's peak).
pub fn resolve_each<'a>(
    inputs: impl ExactSizeIterator<Item = IdentityInput<'a>>,
    rules: &IdentityRules,
) -> Resolution {
    let n = inputs.len();
    let generic: FxHashSet<String> = rules
        .generic_handles
        .iter()
        .filter_map(|h| normalize_username(h).map(Cow::into_owned))
        .collect();
    let is_generic = |h: &str| !generic.is_empty() && generic.contains(h);

    let norm = Normalised::new(inputs);
    let (with_email, with_username) = (norm.with_email, norm.with_username);

    let mut uf = UnionFind::new(n);
    // The rule of the group an observation formed; `None` for observations that joined an
    // existing user, because joining never changes the user's rule.
    let mut forming: Vec<Option<Rule>> = vec![None; n];

    // Rule 1: observations with username and email link through their non-generic handles.
    let mut handle_owner = Groups::new(&norm, 2 * with_username, handle_of, |v| v / 2);
    for (i, formed) in forming.iter_mut().enumerate() {
        let (Some(email), Some(username)) = (norm.email(i), norm.username(i)) else {
            continue;
        };
        for (kind, handle) in [username, email_local(email)].into_iter().enumerate() {
            if is_generic(handle) {
                continue;
            }
            *formed = Some(Rule::UsernamesOrEmails);
            handle_owner.group(handle, 2 * i + kind, &mut uf);
        }
    }

    // Rule 2: email-only observations, and rule-1 candidates whose handles are all generic,
    // join through their local part or else group by whole email. Generic handles never
    // entered `handle_owner`, so they cannot join anything here.
    let mut by_email = Groups::new(&norm, with_email, Normalised::email, |i| i);
    for (i, formed) in forming.iter_mut().enumerate() {
        let Some(email) = norm.email(i) else {
            continue;
        };
        if formed.is_some() {
            continue;
        }
        if let Some(owner) = handle_owner.get(email_local(email)) {
            uf.union(i, owner);
        } else {
            *formed = Some(Rule::Emails);
            by_email.group(email, i, &mut uf);
        }
    }

    // Display names carried by rules-1–2 users, decided over all of them before rule 3 so
    // that "exactly one user" cannot depend on which observation came first.
    let mut carriers: HashTable<Carrier> = HashTable::with_capacity(with_email);
    fn same_display<'k>(norm: &'k Normalised<'_>, key: &'k str) -> impl Fn(&Carrier) -> bool + 'k {
        move |&(k, _)| norm.display(k) == Some(key)
    }
    for i in 0..n {
        let (Some(_), Some(key)) = (norm.email(i), norm.display(i)) else {
            continue;
        };
        let root = uf.find(i);
        let rehash = |&(k, _): &Carrier| norm.display(k).map_or(0, hash_text);
        match carriers.entry(hash_text(key), same_display(&norm, key), rehash) {
            hash_table::Entry::Vacant(slot) => {
                slot.insert((i, root));
            }
            hash_table::Entry::Occupied(mut seen) => {
                let carrier = &mut seen.get_mut().1;
                if *carrier != root {
                    *carrier = MANY;
                }
            }
        }
    }

    // Rules 3 and 4: observations without an email.
    let without_email = n - with_email;
    let mut by_display = Groups::new(&norm, without_email, Normalised::display, |i| i);
    let mut by_username = Groups::new(&norm, without_email, Normalised::username, |i| i);
    for (i, formed) in forming.iter_mut().enumerate() {
        if norm.email(i).is_some() {
            continue;
        }
        let username = norm.username(i);
        if let Some(owner) = username.and_then(|u| handle_owner.get(u)) {
            uf.union(i, owner);
        } else if let Some(key) = norm.display(i) {
            match carriers.find(hash_text(key), same_display(&norm, key)) {
                Some(&(_, root)) if root != MANY => uf.union(i, root),
                _ => {
                    *formed = Some(Rule::DisplayNames);
                    by_display.group(key, i, &mut uf);
                }
            }
        } else if let Some(username) = username {
            *formed = Some(Rule::Usernames);
            by_username.group(username, i, &mut uf);
        }
        // Otherwise the observation has no identifier: it is collected as unidentified
        // below.
    }
    drop((handle_owner, by_email, carriers, by_display, by_username));

    let pre_merge_roots = (!rules.forced_merges.is_empty()).then(|| {
        let roots: Vec<usize> = (0..n).map(|i| uf.find(i)).collect();
        apply_forced_merges(&norm, &rules.forced_merges, &mut uf);
        roots
    });

    // Users in order of their smallest member; iterating indices ascending also keeps
    // each user's members ascending.
    // Counted first, so the users and each one's members are allocated at their exact
    // size: grown by doubling they were a third larger, at the report's peak.
    let mut sizes = vec![0u32; n];
    for i in (0..n).filter(|&i| !norm.is_unidentified(i)) {
        let root = uf.find(i);
        sizes[root] = sizes[root].saturating_add(1);
    }
    let mut users: Vec<ResolvedUser> =
        Vec::with_capacity(sizes.iter().filter(|&&size| size > 0).count());
    let mut user_of_root = vec![usize::MAX; n];
    let mut unidentified = Vec::new();
    for (i, &formed) in forming.iter().enumerate() {
        if norm.is_unidentified(i) {
            unidentified.push(i);
            continue;
        }
        let root = uf.find(i);
        let slot = &mut user_of_root[root];
        if *slot == usize::MAX {
            *slot = users.len();
            users.push(ResolvedUser {
                members: Vec::with_capacity(sizes[root] as usize),
                // Lowest priority until a forming member says otherwise; every user has
                // at least one forming member, because joins only target formed users.
                rule: Rule::Usernames,
                shared_handles: Vec::new(),
                forced_merge: false,
            });
        }
        let user = &mut users[*slot];
        user.members.push(i);
        if let Some(rule) = formed {
            user.rule = user.rule.min(rule);
        }
    }

    drop(sizes);
    let mut handles: Vec<&str> = Vec::new();
    for user in &mut users {
        if let (Some(roots), Some(&first)) = (&pre_merge_roots, user.members.first()) {
            user.forced_merge = user.members.iter().any(|&m| roots[m] != roots[first]);
        }
        if user.rule == Rule::UsernamesOrEmails {
            handles.clear();
            for &m in &user.members {
                if forming[m] != Some(Rule::UsernamesOrEmails) {
                    continue;
                }
                let candidates = [norm.username(m), norm.email(m).map(email_local)];
                handles.extend(candidates.into_iter().flatten().filter(|h| !is_generic(h)));
            }
            handles.sort_unstable();
            handles.dedup();
            user.shared_handles = handles.iter().map(|h| (*h).to_owned()).collect();
        }
    }

    Resolution {
        users,
        unidentified,
        invalid_emails: norm.invalid_emails,
    }
}

/// Joins every user that carries any identifier of a configured list. An identifier is
/// matched against emails, usernames and display names alike, because administrators
/// write what they see without saying which field it came from.
fn apply_forced_merges(norm: &Normalised<'_>, lists: &[Vec<String>], uf: &mut UnionFind) {
    let mut lists_of: FxHashMap<String, Vec<usize>> = map_with_capacity(0);
    for (list, identifiers) in lists.iter().enumerate() {
        for identifier in identifiers {
            let keys = [normalize_username(identifier), display_name_key(identifier)];
            for key in keys.into_iter().flatten() {
                let entry = lists_of.entry(key.into_owned()).or_default();
                if entry.last() != Some(&list) {
                    entry.push(list);
                }
            }
        }
    }
    if lists_of.is_empty() {
        return;
    }
    let mut anchor: Vec<Option<usize>> = vec![None; lists.len()];
    for i in 0..norm.spans.len() {
        let fields = [norm.email(i), norm.username(i), norm.display(i)];
        for field in fields.into_iter().flatten() {
            for &list in lists_of.get(field).map_or(&[][..], Vec::as_slice) {
                match anchor[list] {
                    Some(a) => uf.union(i, a),
                    None => anchor[list] = Some(i),
                }
            }
        }
    }
}

/// Configured service-account patterns (`*` is the only wildcard), compared the way
/// display names are (trimmed, white space collapsed, Unicode lower-case) so that a pattern
/// catches an account however a system happens to spell it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAccountPatterns {
    /// Each pattern split at `*`: the literal pieces in order, so `len() - 1` wildcards.
    globs: Vec<Vec<String>>,
}

impl ServiceAccountPatterns {
    pub fn new(patterns: &[String]) -> Self {
        let globs = patterns
            .iter()
            .filter_map(|p| display_name_key(p))
            .map(|p| p.split('*').map(str::to_owned).collect())
            .collect();
        ServiceAccountPatterns { globs }
    }

    /// No patterns configured: callers can skip testing every identifier.
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    pub fn matches(&self, value: &str) -> bool {
        if self.globs.is_empty() {
            return false;
        }
        let Some(value) = display_name_key(value) else {
            return false;
        };
        self.globs.iter().any(|glob| glob_matches(glob, &value))
    }
}

/// Anchored `*`-only glob match. Taking the leftmost occurrence of each middle piece is
/// enough: with no other wildcard, an earlier match never rules out a later piece.
fn glob_matches(pieces: &[String], value: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return value == first;
    };
    let Some(body) = value
        .strip_prefix(first.as_str())
        .and_then(|v| v.strip_suffix(last.as_str()))
    else {
        return false;
    };
    let mut body = body;
    for piece in middle {
        match body.find(piece.as_str()) {
            Some(at) => body = &body[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs<'a>(email: &'a str, username: &'a str, display: &'a str) -> IdentityInput<'a> {
        let some = |s: &'a str| (!s.is_empty()).then_some(s);
        IdentityInput {
            email: some(email),
            username: some(username),
            display_name: some(display),
        }
    }

    fn generic(handles: &[&str]) -> IdentityRules {
        IdentityRules {
            generic_handles: handles.iter().map(|h| h.to_string()).collect(),
            forced_merges: Vec::new(),
        }
    }

    fn forced(lists: &[&[&str]]) -> IdentityRules {
        IdentityRules {
            generic_handles: Vec::new(),
            forced_merges: lists
                .iter()
                .map(|l| l.iter().map(|s| s.to_string()).collect())
                .collect(),
        }
    }

    /// (members, rule) per user, in output order.
    fn shape(r: &Resolution) -> Vec<(Vec<usize>, Rule)> {
        r.users
            .iter()
            .map(|u| (u.members.clone(), u.rule))
            .collect()
    }

    #[test]
    fn a_generic_username_chains_people_only_when_not_configured() {
        let inputs = [
            obs("ann@corp.example", "admin", ""),
            obs("bob@corp.example", "admin", ""),
        ];
        let plain = resolve(&inputs, &IdentityRules::default());
        assert_eq!(shape(&plain), vec![(vec![0, 1], Rule::UsernamesOrEmails)]);
        assert_eq!(plain.users[0].shared_handles, ["admin", "ann", "bob"]);

        let with_list = resolve(&inputs, &generic(&[" Admin "]));
        assert_eq!(
            shape(&with_list),
            vec![
                (vec![0], Rule::UsernamesOrEmails),
                (vec![1], Rule::UsernamesOrEmails)
            ]
        );
        assert_eq!(with_list.users[0].shared_handles, ["ann"]);
        assert_eq!(with_list.users[1].shared_handles, ["bob"]);
    }

    #[test]
    fn all_generic_handles_match_by_whole_email() {
        let inputs = [
            obs("support@corp.example", "support", ""),
            obs("support@other.example", "support", ""),
            obs("support@corp.example", "", ""),
            // A real rule-1 user that happens to own the handle `support` without the list.
            obs("kim@corp.example", "support", ""),
        ];
        let with_list = resolve(&inputs, &generic(&["support"]));
        assert_eq!(
            shape(&with_list),
            vec![
                (vec![0, 2], Rule::Emails),
                (vec![1], Rule::Emails),
                (vec![3], Rule::UsernamesOrEmails),
            ]
        );
        assert!(with_list.users[0].shared_handles.is_empty());

        let plain = resolve(&inputs, &IdentityRules::default());
        assert_eq!(
            shape(&plain),
            vec![(vec![0, 1, 2, 3], Rule::UsernamesOrEmails)]
        );
    }

    #[test]
    fn generic_handles_do_not_join_later_rules_to_rule_one_users() {
        let inputs = [
            obs("ann@corp.example", "admin", ""),
            obs("", "admin", ""),
            obs("", "admin", "Someone"),
            obs("admin@else.example", "", ""),
        ];
        let plain = resolve(&inputs, &IdentityRules::default());
        assert_eq!(
            shape(&plain),
            vec![(vec![0, 1, 2, 3], Rule::UsernamesOrEmails)]
        );

        let with_list = resolve(&inputs, &generic(&["ADMIN"]));
        assert_eq!(
            shape(&with_list),
            vec![
                (vec![0], Rule::UsernamesOrEmails),
                (vec![1], Rule::Usernames),
                (vec![2], Rule::DisplayNames),
                (vec![3], Rule::Emails),
            ]
        );
    }

    #[test]
    fn forced_merge_keeps_the_highest_priority_rule() {
        let inputs = [
            obs("", "octo", ""),
            obs("", "", "Ann Lee"),
            obs("kim@corp.example", "", ""),
            obs("bob@corp.example", "bob", ""),
        ];
        let r = resolve(
            &inputs,
            &forced(&[&["OCTO", "  ann   lee ", "Kim@Corp.Example"]]),
        );
        assert_eq!(
            shape(&r),
            vec![
                (vec![0, 1, 2], Rule::Emails),
                (vec![3], Rule::UsernamesOrEmails)
            ]
        );
        assert!(r.users[0].forced_merge);
        assert!(!r.users[1].forced_merge);

        let r = resolve(&inputs, &forced(&[&["octo", "bob"]]));
        assert_eq!(
            shape(&r),
            vec![
                (vec![0, 3], Rule::UsernamesOrEmails),
                (vec![1], Rule::DisplayNames),
                (vec![2], Rule::Emails)
            ]
        );
        assert_eq!(r.users[0].shared_handles, ["bob"]);
    }

    #[test]
    fn forced_merge_within_one_user_or_of_unknown_identifiers_is_not_flagged() {
        let inputs = [
            obs("ann@corp.example", "ann", "Ann Lee"),
            obs("", "", "Bob"),
        ];
        let r = resolve(&inputs, &forced(&[&["ann", "Ann Lee", "nobody@x.example"]]));
        assert_eq!(r.users.len(), 2);
        assert!(r.users.iter().all(|u| !u.forced_merge));
    }

    #[test]
    fn overlapping_forced_merge_lists_join_transitively() {
        let inputs = [obs("", "a", ""), obs("", "b", ""), obs("", "c", "")];
        let r = resolve(&inputs, &forced(&[&["a", "b"], &["b", "c"]]));
        assert_eq!(shape(&r), vec![(vec![0, 1, 2], Rule::Usernames)]);
    }

    #[test]
    fn invalid_emails_are_reported_and_treated_as_absent() {
        let inputs = [
            obs("a@b@c", "zed", ""),
            obs("@corp.example", "", ""),
            obs("ann@", "", "Ann"),
            obs("no-at-sign", "", ""),
            obs("  ", "", ""),
            obs("ok@corp.example", "", ""),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(r.invalid_emails, [0, 1, 2, 3]);
        assert_eq!(r.unidentified, [1, 3, 4]);
        assert_eq!(
            shape(&r),
            vec![
                (vec![0], Rule::Usernames),
                (vec![2], Rule::DisplayNames),
                (vec![5], Rule::Emails)
            ]
        );
        assert_eq!(
            resolve(&[obs(" x@y@z ", "", "")], &IdentityRules::default()).invalid_emails,
            [0]
        );
        assert_eq!(
            normalize_email(" Ann@Corp.Example ").as_deref(),
            Some("ann@corp.example")
        );
    }

    #[test]
    fn display_names_compare_collapsed_and_case_insensitively() {
        let inputs = [
            obs("", "", "Ann\t  Lee"),
            obs("", "", " ann lee "),
            obs("", "", "ÉMILE ZOLA"),
            obs("", "", "émile  zola"),
            obs("", "", "Ann Leeds"),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(
            shape(&r),
            vec![
                (vec![0, 1], Rule::DisplayNames),
                (vec![2, 3], Rule::DisplayNames),
                (vec![4], Rule::DisplayNames)
            ]
        );
        assert_eq!(display_name_key(" Ann \n Lee ").as_deref(), Some("ann lee"));
        assert_eq!(
            normalize_display_name(" Ann \n Lee ").as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(display_name_key(" \t "), None);
        for spelling in [
            "Ann\u{0B}Lee",
            "Ann\u{0C} Lee",
            "Ann\u{A0}Lee",
            "ANN\r\nLEE",
        ] {
            assert_eq!(
                display_name_key(spelling).as_deref(),
                Some("ann lee"),
                "{spelling:?}"
            );
        }
    }

    #[test]
    fn display_name_joins_a_carrier_spelled_differently() {
        let inputs = [
            obs("ann@corp.example", "ann", "Ann   Lee"),
            obs("", "", "ANN LEE"),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(shape(&r), vec![(vec![0, 1], Rule::UsernamesOrEmails)]);
    }

    #[test]
    fn one_user_carrying_a_name_twice_is_still_a_unique_carrier() {
        let inputs = [
            obs("", "", "Ann Lee"),
            obs("ann@corp.example", "ann", "Ann Lee"),
            obs("ann@other.example", "", "Ann Lee"),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(shape(&r), vec![(vec![0, 1, 2], Rule::UsernamesOrEmails)]);
    }

    #[test]
    fn a_name_carried_by_two_email_users_is_ambiguous_whatever_the_order() {
        let base = [
            obs("", "", "Kim Diaz"),
            obs("kim@a.example", "", "Kim Diaz"),
            obs("kim@b.example", "", "Kim Diaz"),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let inputs = order.map(|k| base[k]);
            let r = resolve(&inputs, &IdentityRules::default());
            let mut users: Vec<(Vec<usize>, Rule)> = r
                .users
                .iter()
                .map(|u| (u.members.iter().map(|&m| order[m]).collect(), u.rule))
                .collect();
            users.sort();
            assert_eq!(
                users,
                vec![
                    (vec![0], Rule::DisplayNames),
                    (vec![1], Rule::Emails),
                    (vec![2], Rule::Emails)
                ],
                "order {order:?}"
            );
        }
    }

    #[test]
    fn username_with_unknown_display_name_groups_by_display_name() {
        let inputs = [
            obs("", "octo", "Octo Cat"),
            obs("", "octo", ""),
            obs("", "other", "octo cat"),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(
            shape(&r),
            vec![(vec![0, 2], Rule::DisplayNames), (vec![1], Rule::Usernames)]
        );
    }

    #[test]
    fn shared_handles_list_each_handle_once_for_rule_one_only() {
        let inputs = [
            obs("p@corp.example", "q", ""),
            obs("q@corp.example", "p", ""),
            obs("", "q", ""),
            obs("solo@corp.example", "", ""),
        ];
        let r = resolve(&inputs, &IdentityRules::default());
        assert_eq!(r.users[0].shared_handles, ["p", "q"]);
        assert!(r.users[1].shared_handles.is_empty());
    }

    #[test]
    fn service_account_patterns_match_whole_values_case_insensitively() {
        let patterns = ServiceAccountPatterns::new(&[
            "*-bot".to_string(),
            "svc-*".to_string(),
            "Jenkins@*".to_string(),
            "*sync*agent*".to_string(),
            "robot".to_string(),
            "a*a".to_string(),
            "   ".to_string(),
        ]);
        for yes in [
            "deploy-bot",
            "Deploy-BOT",
            "-bot",
            "svc-backup",
            "SVC-",
            "jenkins@corp.example",
            " JENKINS@ci ",
            "exalate sync agent 2",
            "syncagent",
            "Robot",
            "aa",
            "aXa",
        ] {
            assert!(patterns.matches(yes), "{yes} should match");
        }
        for no in [
            "bot-deploy",
            "deploy-bots",
            "my-svc-backup",
            "ci-jenkins@corp.example",
            "agent sync",
            "robots",
            "a",
            "",
        ] {
            assert!(!patterns.matches(no), "{no} should not match");
        }
        assert!(!ServiceAccountPatterns::new(&[]).matches("anything"));
        assert!(ServiceAccountPatterns::new(&[" ".to_string()]).is_empty());
        assert!(ServiceAccountPatterns::new(&["*".to_string()]).matches("anyone"));
    }
}
