//! Builds the [`Report`] from the store: one streaming pass over observations (both
//! windows at once, aggregated per distinct identity tuple), one over syncs, then
//! identity resolution on the aggregated tuples.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasher;

use chrono::{DateTime, Months, Utc};
use hashbrown::hash_table::{self, HashTable};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::identity::{self, IdentityInput, IdentityRules, ServiceAccountPatterns};
use crate::model::{Integration, IntegrationStatus};
use crate::store::{from_millis, to_millis, Store, StoreError};

/// An identity tuple in one allocation: the report holds up to millions of them at once
/// (the access insights hundreds of thousands).
pub(super) struct CompactIdentity {
    /// system, email, username and display name, in that order.
    text: Box<str>,
    /// Where email, username and display name start in `text`.
    cuts: [u32; 3],
    pub(super) service_account: bool,
}

impl CompactIdentity {
    /// From system, email, username and display name.
    pub(super) fn new(parts: [&str; 4], service_account: bool) -> Self {
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut cuts = [0u32; 3];
        text.push_str(parts[0]);
        for (cut, part) in cuts.iter_mut().zip(&parts[1..]) {
            *cut = u32::try_from(text.len()).unwrap_or(u32::MAX);
            text.push_str(part);
        }
        CompactIdentity {
            text: text.into_boxed_str(),
            cuts,
            service_account,
        }
    }

    fn part(&self, n: usize) -> &str {
        let start = if n == 0 { 0 } else { self.cuts[n - 1] as usize };
        let end = self.cuts.get(n).map_or(self.text.len(), |c| *c as usize);
        self.text.get(start..end).unwrap_or("")
    }

    pub(super) fn system(&self) -> &str {
        self.part(0)
    }

    pub(super) fn email(&self) -> &str {
        self.part(1)
    }

    pub(super) fn username(&self) -> &str {
        self.part(2)
    }

    pub(super) fn display_name(&self) -> &str {
        self.part(3)
    }
}

use super::types::*;
use super::{RowBuilder, RowFlags, Texts, UserRow};

/// What a report is computed with, besides the stored records.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub as_of: DateTime<Utc>,
    pub rules: IdentityRules,
    /// Glob patterns (`*` wildcard) for service accounts, tested against every email,
    /// username and display name of a user.
    pub service_account_patterns: Vec<String>,
    /// `[insights] active_days` and `dormant_days` (SPEC §9), for the access insights
    /// built next to this report.
    pub active_days: u32,
    pub dormant_days: u32,
}

impl ReportOptions {
    pub fn new(as_of: DateTime<Utc>) -> Self {
        ReportOptions {
            as_of,
            rules: IdentityRules::default(),
            service_account_patterns: Vec::new(),
            active_days: crate::report::access::DEFAULT_ACTIVE_DAYS,
            dormant_days: crate::report::access::DEFAULT_DORMANT_DAYS,
        }
    }
}

/// The window `kind` ending at `as_of`: calendar months back, both ends inclusive.
pub fn window(kind: WindowKind, as_of: DateTime<Utc>) -> Window {
    let start = as_of
        .checked_sub_months(Months::new(kind.months()))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Window {
        kind,
        start,
        end: as_of,
    }
}

/// Per identity tuple and window: how often, when last, and how it was seen.
#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    count: u64,
    last: i64,
    interactions: u8,
    /// Bit m: seen in calendar month m of the window's month list.
    months: u32,
}

impl Agg {
    fn add(&mut self, at: i64, interaction: u8, month: usize) {
        self.count += 1;
        self.last = self.last.max(at);
        if interaction < 8 {
            self.interactions |= 1 << interaction;
        }
        if month < 32 {
            self.months |= 1 << month;
        }
    }
}

/// The calendar months touching `window`, as labels and the start of each (ms).
fn months_of(window: &Window) -> Vec<(String, i64)> {
    use chrono::{Datelike, TimeZone};
    let mut out = Vec::new();
    let (mut y, mut m) = (window.start.year(), window.start.month());
    while let Some(first) = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single() {
        if first > window.end || out.len() >= 32 {
            break;
        }
        out.push((format!("{y:04}-{m:02}"), to_millis(first)));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Index of the month `at` falls in (`starts` ascending; `at` is inside the window).
fn month_index(starts: &[i64], at: i64) -> usize {
    starts.partition_point(|&s| s <= at).saturating_sub(1)
}

/// Below this many identities per half, a second connection costs more than it saves.
const PARALLEL_SCAN_MIN_IDENTITIES: usize = 20_000;

/// The page cache of a report's connections, in KiB.
const REPORT_CACHE_KIB: u32 = 8 * 1024;

/// Another connection to `store`'s file, for a read on another thread beside this one's
/// (a connection serves one thread at a time); `None` when it cannot be opened, and the
/// caller reads on `store` instead.
fn second_connection(store: &Store) -> Option<Store> {
    let second = Store::open(store.path()).ok()?;
    second.set_cache_kib(REPORT_CACHE_KIB).ok()?;
    Some(second)
}

/// Opens the store at `path` and builds the report: what every front end does.
pub fn read_report(path: &std::path::Path, opts: &ReportOptions) -> Result<Report, StoreError> {
    build_report(&Store::open(path)?, opts)
}

/// Builds both windows' report at `opts.as_of`.
pub fn build_report(store: &Store, opts: &ReportOptions) -> Result<Report, StoreError> {
    store.set_cache_kib(REPORT_CACHE_KIB)?;
    let windows = [
        window(WindowKind::SixMonths, opts.as_of),
        window(WindowKind::OneYear, opts.as_of),
    ];
    let starts = [to_millis(windows[0].start), to_millis(windows[1].start)];
    let end = to_millis(opts.as_of);
    let from = starts[0].min(starts[1]);

    let months = [months_of(&windows[0]), months_of(&windows[1])];
    let month_starts: [Vec<i64>; 2] = [
        months[0].iter().map(|m| m.1).collect(),
        months[1].iter().map(|m| m.1).collect(),
    ];
    // The sync facts share nothing with the identities: read on a connection of their
    // own, beside the scan and the resolution (2.5–3 s of a core at 10 M observations).
    let sync_reader = SyncReader::start(store, starts, end)?;
    let max_id = usize::try_from(store.max_identity_id()?).unwrap_or(0);
    let mut aggs: Vec<[Agg; 2]> = vec![[Agg::default(); 2]; max_id + 1];
    let scan = |store: &Store, ids: std::ops::Range<usize>, aggs: &mut [[Agg; 2]]| {
        let first = ids.start;
        let range = i64::try_from(ids.start).unwrap_or(i64::MAX)
            ..=i64::try_from(ids.end).map_or(i64::MAX, |end| end - 1);
        store.for_each_observation_of(range, from, end, |id, at, interaction| {
            let slot = usize::try_from(id)
                .ok()
                .and_then(|i| i.checked_sub(first))
                .and_then(|i| aggs.get_mut(i));
            if let Some(slot) = slot {
                for w in 0..2 {
                    if at >= starts[w] {
                        slot[w].add(at, interaction, month_index(&month_starts[w], at));
                    }
                }
            }
        })
    };
    // Two connections read the two halves of the identities at once (observations are
    // keyed by identity first), each into its own part of `aggs`. Small stores, or a
    // second connection that cannot be opened, are read on this one alone.
    let mid = aggs.len() / 2;
    let second = (mid >= PARALLEL_SCAN_MIN_IDENTITIES)
        .then(|| second_connection(store))
        .flatten();
    match second {
        Some(second) => {
            let (low, high) = aggs.split_at_mut(mid);
            let len = low.len() + high.len();
            let scan = &scan;
            std::thread::scope(|scope| {
                let other = scope.spawn(move || scan(&second, mid..len, high));
                let here = scan(store, 0..mid, low);
                match other.join() {
                    Ok(there) => here.and(there),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            })?;
        }
        None => {
            let len = aggs.len();
            scan(store, 0..len, &mut aggs)?;
        }
    }

    // Only tuples seen in some window are kept in memory.
    let mut identities: Vec<Option<CompactIdentity>> = Vec::new();
    identities.resize_with(aggs.len(), || None);
    let seen = |i: usize| aggs[i][0].count > 0 || aggs[i][1].count > 0;
    store.for_each_identity_ref(
        |id| usize::try_from(id).is_ok_and(|i| i < aggs.len() && seen(i)),
        |id, parts, service_account| {
            if let Some(slot) = usize::try_from(id).ok().and_then(|i| identities.get_mut(i)) {
                *slot = Some(CompactIdentity::new(parts, service_account));
            }
        },
    )?;

    let patterns = ServiceAccountPatterns::new(&opts.service_account_patterns);
    let make = |w: usize, turn: Turn| {
        let (summary, user_counts, all_systems, users, active_months) =
            users_for_window(&aggs, w, &identities, &opts.rules, &patterns, turn);
        let monthly_active = months[w]
            .iter()
            .zip(active_months)
            .map(|((month, _), users)| MonthlyActive {
                month: month.clone(),
                users,
            })
            .collect();
        WindowReport {
            window: windows[w],
            summary,
            user_counts,
            all_systems,
            entity_types: Vec::new(),
            projects: Vec::new(),
            synced: Vec::new(),
            users,
            monthly_active,
            sync_outcomes: Vec::new(),
        }
    };
    // The windows share only read-only inputs: one on each core, resolving in turn where
    // memory counts.
    let in_turn = identities.iter().flatten().count() >= TURN_MIN_IDENTITIES;
    let (mut six_months, mut one_year) = std::thread::scope(|scope| {
        let (done, wait) = std::sync::mpsc::channel();
        let (first, after) = match in_turn {
            true => (Turn::First(done), Turn::After(wait)),
            false => (Turn::Free, Turn::Free),
        };
        let six_months = scope.spawn(move || make(0, after));
        let one_year = make(1, first);
        match six_months.join() {
            Ok(six_months) => (six_months, one_year),
            // A panic is a bug: let it surface as one.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    // The per-identity data is done with: freed before the sync facts are waited for
    // (when read on this connection, before they are read).
    drop(identities);
    drop(aggs);

    let syncs = sync_reader.finish(store)?;
    let integrations = store.integrations()?;
    syncs.fill(0, &windows[0], &integrations, &mut six_months);
    syncs.fill(1, &windows[1], &integrations, &mut one_year);
    Ok(Report {
        as_of: opts.as_of,
        six_months,
        one_year,
        provenance: None,
    })
}

/// `s` trimmed, or `None` when nothing is left.
pub(super) fn non_empty(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Which window resolves its identities first. Resolving holds about 120 MB per window at
/// 10 M observations besides the inputs; one after the other, the first window builds
/// its rows while the second resolves, and the report's peak stays under 512 MiB, where
/// the two at once went over it now and then. The larger window (one year) goes first:
/// the smaller then waits for it but finishes its shorter rest sooner.
enum Turn {
    First(std::sync::mpsc::Sender<()>),
    After(std::sync::mpsc::Receiver<()>),
    /// Both at once: below [`TURN_MIN_IDENTITIES`] the resolutions' maps, which grow
    /// with the identity tuples, are under two fifths of the 10 M store's, and waiting
    /// cost a 1 M report a fifth of its time (0.54–0.73 s against 0.40–0.62 s).
    Free,
}

/// Identity tuples from which the windows resolve in turn (the bench's 10 M store has
/// 999,951; its 1 M store 99,995).
const TURN_MIN_IDENTITIES: usize = 400_000;

type UserParts = (
    Summary,
    Vec<SystemUserCount>,
    SystemUserCount,
    Vec<UserRow>,
    [u64; 32],
);

fn users_for_window(
    aggs: &[[Agg; 2]],
    w: usize,
    identities: &[Option<CompactIdentity>],
    rules: &IdentityRules,
    patterns: &ServiceAccountPatterns,
    turn: Turn,
) -> UserParts {
    let ids: Vec<usize> = identities
        .iter()
        .enumerate()
        .filter(|&(i, t)| t.is_some() && aggs[i][w].count > 0)
        .map(|(i, _)| i)
        .collect();
    // `ids` holds only identities that are there.
    let tuple = |k: usize| identities[ids[k]].as_ref();
    let inputs = (0..ids.len()).map(|k| match tuple(k) {
        Some(t) => IdentityInput {
            email: non_empty(t.email()),
            username: non_empty(t.username()),
            display_name: non_empty(t.display_name()),
        },
        None => IdentityInput::default(),
    });
    if let Turn::After(first) = &turn {
        // Err: the other window ended without resolving (a panic): nothing to wait for.
        let _ = first.recv();
    }
    let resolution = identity::resolve_each(inputs, rules);
    if let Turn::First(done) = turn {
        let _ = done.send(());
    }

    let mut summary = Summary {
        unidentified_observations: resolution
            .unidentified
            .iter()
            .map(|&k| aggs[ids[k]][w].count)
            .sum(),
        invalid_emails: resolution
            .invalid_emails
            .iter()
            .filter_map(|&k| Some(tuple(k)?.email().trim().to_lowercase()))
            .collect::<FxHashSet<String>>()
            .len() as u64,
        ..Summary::default()
    };

    let mut per_system: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    let mut active_months = [0u64; 32];
    let mut users = Vec::with_capacity(resolution.users.len());
    // Consumed as the rows are built, so each user's parts are freed as its row appears.
    let mut builder = RowBuilder::default();
    for user in resolution.users {
        let row = user_row(&mut builder, &user, &ids, identities, aggs, w, patterns);
        if row.service_account {
            summary.service_accounts += 1;
        } else {
            let months = user
                .members
                .iter()
                .fold(0u32, |m, &k| m | aggs[ids[k]][w].months);
            for (bit, slot) in active_months.iter_mut().enumerate() {
                if months & (1 << bit) != 0 {
                    *slot += 1;
                }
            }
            let r = row.identified_by.index();
            summary.total_unique_users += 1;
            summary.by_rule[r] += 1;
            for (system, _) in row.observed_in() {
                match per_system.get_mut(system) {
                    Some(counts) => counts[r] += 1,
                    None => {
                        let mut counts = [0; 4];
                        counts[r] = 1;
                        per_system.insert(system.to_owned(), counts);
                    }
                }
            }
        }
        users.push(row);
    }
    sort_users(&mut users);

    let user_counts = per_system
        .into_iter()
        .map(|(system, by_rule)| SystemUserCount {
            system,
            count: by_rule.iter().sum(),
            by_rule,
        })
        .collect();
    let all_systems = SystemUserCount {
        system: "All Systems".into(),
        count: summary.total_unique_users,
        by_rule: summary.by_rule,
    };
    (summary, user_counts, all_systems, users, active_months)
}

/// Sorts `users` by [`user_order`]. Comparing rows directly chases several pointers per
/// comparison (a cache miss each at a million rows), so the rows are sorted as small
/// (prefix key, index) pairs, the full comparison only breaking ties of the prefix, and
/// then moved into place in place, since a second vector of rows would cost memory at the
/// peak.
fn sort_users(users: &mut [UserRow]) {
    let mut order: Vec<(u64, u32)> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (order_prefix(u), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    if order.len() != users.len() || users.len() > u32::MAX as usize {
        users.sort_unstable_by(user_order);
        return;
    }
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| user_order(&users[a.1 as usize], &users[b.1 as usize]))
    });
    // Position i receives the row that was at order[i].1; follow each cycle of the
    // permutation with swaps, marking finished positions with their own index.
    let mut perm: Vec<u32> = order.into_iter().map(|(_, i)| i).collect();
    for start in 0..perm.len() {
        let mut j = start;
        loop {
            let k = perm[j] as usize;
            perm[j] = u32::try_from(j).unwrap_or(u32::MAX);
            if k == start || k == j {
                break;
            }
            users.swap(j, k);
            j = k;
        }
    }
}

/// A number whose order agrees with [`user_order`] wherever two numbers differ: the top
/// byte says which field decides (email present; else username; else display name; else
/// nothing), the other seven bytes are that field's first bytes (as compared there),
/// padded with zeros, which order like the strings they start.
fn order_prefix(u: &UserRow) -> u64 {
    fn prefix(bytes: impl Iterator<Item = u8>) -> u64 {
        let mut key = [0u8; 8];
        for (slot, b) in key[1..].iter_mut().zip(bytes) {
            *slot = b;
        }
        u64::from_be_bytes(key)
    }
    let (class, rest) = if let Some(e) = u.emails().first() {
        (0u64, prefix(e.bytes()))
    } else if let Some(n) = u.usernames().first() {
        (1, prefix(n.bytes()))
    } else if let Some(d) = u.display_names().first() {
        // Lower-cased char by char, as `user_order` compares display names.
        let mut key = [0u8; 7];
        let mut len = 0;
        for c in d.chars().flat_map(char::to_lowercase) {
            let mut utf8 = [0u8; 4];
            for &b in c.encode_utf8(&mut utf8).as_bytes() {
                if let Some(slot) = key.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            }
            if len >= key.len() {
                break;
            }
        }
        (2, prefix(key.into_iter()))
    } else {
        (3, 0)
    };
    (class << 56) | rest
}

/// Users by first email, then username, then display name, case-insensitively; compared
/// without building keys, since a key per user would cost memory at the peak.
/// The Detailed User Report's order: the best-identified first — by first email, then
/// username, then display name, and within each an empty value after every present one —
/// so the first screen and the first printed page show people with emails, not blanks.
fn user_order(a: &UserRow, b: &UserRow) -> std::cmp::Ordering {
    fn first(v: Texts<'_>) -> impl Iterator<Item = char> + '_ {
        v.first().unwrap_or("").chars().flat_map(char::to_lowercase)
    }
    let (ae, be) = (a.emails(), b.emails());
    let (au, bu) = (a.usernames(), b.usernames());
    let (ad, bd) = (a.display_names(), b.display_names());
    // Emails and usernames are stored lower-cased already. `is_empty` first: false
    // (present) sorts before true (blank).
    (ae.is_empty(), ae.first())
        .cmp(&(be.is_empty(), be.first()))
        .then_with(|| (au.is_empty(), au.first()).cmp(&(bu.is_empty(), bu.first())))
        .then_with(|| {
            ad.is_empty()
                .cmp(&bd.is_empty())
                .then_with(|| first(ad).cmp(first(bd)))
        })
}

fn user_row(
    row: &mut RowBuilder,
    user: &identity::ResolvedUser,
    ids: &[usize],
    identities: &[Option<CompactIdentity>],
    aggs: &[[Agg; 2]],
    w: usize,
    patterns: &ServiceAccountPatterns,
) -> UserRow {
    // Gathered borrowed (normalised values are almost always the stored text itself), then
    // sorted and deduplicated: a user has a handful of members, and only the values the
    // row keeps are allocated.
    let n = user.members.len();
    let mut emails: Vec<Cow<'_, str>> = Vec::with_capacity(n);
    let mut usernames: Vec<Cow<'_, str>> = Vec::with_capacity(n);
    // (comparison key, spelling shown): display names compare case-insensitively; the
    // first spelling in sorted order is shown.
    let mut display_names: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(n);
    let mut systems: Vec<(&str, i64)> = Vec::with_capacity(n);
    let mut named: Vec<(Cow<'_, str>, Cow<'_, str>, &str)> = Vec::new();
    let mut interactions = 0u8;
    let mut service_account = false;
    let mut last = i64::MIN;
    for &k in &user.members {
        let Some(t) = identities[ids[k]].as_ref() else {
            continue;
        };
        let agg = aggs[ids[k]][w];
        let email = identity::normalize_email(t.email());
        let username = identity::normalize_username(t.username());
        // Grouped by the same key identity resolution compares display names by.
        if let (Some(d), Some(key)) = (
            identity::normalize_display_name(t.display_name()),
            identity::display_name_key(t.display_name()),
        ) {
            display_names.push((key, d));
        }
        if let (Some(e), Some(u)) = (&email, &username) {
            named.push((e.clone(), u.clone(), t.system()));
        }
        if let Some(e) = email {
            emails.push(e);
        }
        if let Some(u) = username {
            usernames.push(u);
        }
        systems.push((t.system(), agg.last));
        interactions |= agg.interactions;
        service_account |= t.service_account;
        last = last.max(agg.last);
    }
    emails.sort_unstable();
    emails.dedup();
    usernames.sort_unstable();
    usernames.dedup();
    display_names.sort_unstable();
    display_names.dedup_by(|later, first| later.0 == first.0);
    // By system, the latest time first, so the first of each run is the one kept.
    systems.sort_unstable_by(|a, b| a.0.cmp(b.0).then(b.1.cmp(&a.1)));
    systems.dedup_by(|later, first| later.0 == first.0);
    if !service_account && !patterns.is_empty() {
        service_account = emails
            .iter()
            .chain(usernames.iter())
            .chain(display_names.iter().map(|(_, shown)| shown))
            .any(|v| patterns.matches(v));
    }
    for e in &emails {
        row.email(e);
    }
    for u in &usernames {
        row.username(u);
    }
    for (_, shown) in &display_names {
        row.display_name(shown);
    }
    for &(system, at) in &systems {
        row.system(system, at);
    }
    // One email carrying different usernames in different systems: every (username,
    // system) pair of that email, sorted.
    if usernames.len() > 1 && systems.len() > 1 {
        named.sort_unstable();
        named.dedup();
        for group in named.chunk_by(|a, b| a.0 == b.0) {
            let many_users = group.iter().any(|p| p.1 != group[0].1);
            let many_systems = group.iter().any(|p| p.2 != group[0].2);
            if many_users && many_systems {
                for (_, username, system) in group {
                    row.duplicate(username, system);
                }
            }
        }
    }
    for handle in &user.shared_handles {
        row.shared_handle(handle);
    }
    row.finish(RowFlags {
        identified_by: user.rule,
        interactions,
        service_account,
        last_seen: last,
        forced_merge: user.forced_merge,
    })
}

/// An unordered pair of (system, project).
type ProjectPair = ((String, String), (String, String));
/// Distinct unordered entity pairs, and the last successful sync among them.
type EntityPairs = (FxHashSet<(u32, u32)>, i64);

/// Stored entities from which the [`SyncFacts`] are read on a second connection, on a
/// thread of their own (opening it costs more than reading a small store's syncs).
const PARALLEL_SYNCS_MIN_ENTITIES: i64 = 20_000;

/// The sync facts being read beside the rest of the report, or to be read at its end.
enum SyncReader {
    Beside(std::thread::JoinHandle<Result<SyncFacts, StoreError>>),
    /// A small store, or a second connection that could not be opened or a thread that
    /// could not be started: read on the report's connection when they are needed.
    Later {
        starts: [i64; 2],
        end: i64,
    },
}

impl SyncReader {
    fn start(store: &Store, starts: [i64; 2], end: i64) -> Result<SyncReader, StoreError> {
        let later = SyncReader::Later { starts, end };
        if store.max_entity_id()? < PARALLEL_SYNCS_MIN_ENTITIES {
            return Ok(later);
        }
        let Some(second) = second_connection(store) else {
            return Ok(later);
        };
        let reading = std::thread::Builder::new()
            .name("report-syncs".into())
            .spawn(move || SyncFacts::read(&second, starts, end));
        Ok(reading.map_or(later, SyncReader::Beside))
    }

    fn finish(self, store: &Store) -> Result<SyncFacts, StoreError> {
        match self {
            SyncReader::Beside(reading) => match reading.join() {
                Ok(facts) => facts,
                // A panic is a bug: let it surface as one.
                Err(panic) => std::panic::resume_unwind(panic),
            },
            SyncReader::Later { starts, end } => SyncFacts::read(store, starts, end),
        }
    }
}

/// Successful syncs in the windows, aggregated: what the entity type, project and synced
/// data sheets need.
struct SyncFacts {
    windows: [SyncWindow; 2],
}

#[derive(Default)]
struct SyncWindow {
    /// (system, entity type) -> (system pairs, last synced)
    entity_types: BTreeMap<(String, String), (BTreeSet<String>, i64)>,
    /// unordered ((system, project), (system, project)) -> last synced
    project_pairs: BTreeMap<ProjectPair, i64>,
    /// unordered (system, system) -> (distinct entity pairs, last synced)
    system_pairs: BTreeMap<(String, String), (u64, i64)>,
    /// unordered (system, system) -> (successful, failed) sync records
    outcomes: BTreeMap<(String, String), (u64, u64)>,
}

fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn pair_label(a: &str, b: &str) -> String {
    let (a, b) = ordered(a, b);
    format!("{a} <-> {b}")
}

/// Distinct strings numbered in order of first sight, so the per-sync work compares and
/// hashes small integers instead of cloning text.
#[derive(Default)]
struct Interner {
    ids: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }

    /// `(a, b)` in the order of their text, as [`ordered`] orders the strings.
    fn pair(&self, a: u32, b: u32) -> (u32, u32) {
        if self.name(a) <= self.name(b) {
            (a, b)
        } else {
            (b, a)
        }
    }
}

/// One entity as the sync aggregation needs it: interned parts and its canonical number.
#[derive(Clone, Copy)]
struct EntityInfo {
    system: u32,
    project: u32,
    entity_type: u32,
    /// The same number for every stored entity with this (system, entity_id).
    key: u32,
}

/// The entities the syncs name, decoded from their rows once, by stored id.
#[derive(Default)]
struct SyncEntities {
    systems: Interner,
    projects: Interner,
    types: Interner,
    /// An entity is (system, entity_id): project and type do not make another entity.
    canonical: EntityKeys,
}

impl SyncEntities {
    fn info(&mut self, e: crate::store::StoredEntityRef<'_>) -> EntityInfo {
        let system = self.systems.id(e.system);
        EntityInfo {
            system,
            project: self.projects.id(e.project),
            entity_type: self.types.id(e.entity_type),
            key: self.canonical.key(system, e.entity_id),
        }
    }
}

/// (system, entity id) numbered in order of first sight, the ids' texts in one buffer
/// and the table holding only numbers. The sync pass runs beside the identities'
/// resolution, so its memory adds to the report's peak: at 10 M observations (1.65 M
/// synced entities) this took the pass's own peak from 212 to 190 MiB and what it holds
/// at its end from 206 to 100 MiB.
#[derive(Default)]
struct EntityKeys {
    table: HashTable<u32>,
    /// Per number: its system and where its id ends in `text`.
    ends: Vec<(u32, usize)>,
    text: String,
}

impl EntityKeys {
    fn with_capacity(keys: usize) -> Self {
        EntityKeys {
            table: HashTable::with_capacity(keys),
            ends: Vec::with_capacity(keys),
            text: String::new(),
        }
    }

    fn key(&mut self, system: u32, entity_id: &str) -> u32 {
        let EntityKeys { table, ends, text } = self;
        let get = |k: u32| -> (u32, &str) {
            let k = k as usize;
            let start = k.checked_sub(1).map_or(0, |p| ends[p].1);
            (ends[k].0, text.get(start..ends[k].1).unwrap_or(""))
        };
        let hash = |(system, id): (u32, &str)| rustc_hash::FxBuildHasher.hash_one((system, id));
        let entry = table.entry(
            hash((system, entity_id)),
            |&k| get(k) == (system, entity_id),
            |&k| hash(get(k)),
        );
        match entry {
            hash_table::Entry::Occupied(found) => *found.get(),
            hash_table::Entry::Vacant(slot) => {
                let next = u32::try_from(ends.len()).unwrap_or(u32::MAX);
                text.push_str(entity_id);
                ends.push((system, text.len()));
                slot.insert(next);
                next
            }
        }
    }
}

/// Two interned ids.
type IdPair = (u32, u32);

/// [`SyncWindow`] over interned ids; turned into text keys once at the end.
#[derive(Default)]
struct IdWindow {
    /// (system, entity type) -> (system pairs, last synced)
    entity_types: FxHashMap<IdPair, (FxHashSet<IdPair>, i64)>,
    /// ((system, project), (system, project)) -> last synced
    project_pairs: FxHashMap<(IdPair, IdPair), i64>,
    system_pairs: FxHashMap<(u32, u32), EntityPairs>,
    outcomes: FxHashMap<(u32, u32), (u64, u64)>,
}

impl SyncFacts {
    fn read(store: &Store, starts: [i64; 2], end: i64) -> Result<SyncFacts, StoreError> {
        let from = starts[0].min(starts[1]);
        // The syncs are read twice, first for the entities they name, then to aggregate
        // them: holding them in between (32 bytes each) made the pass's peak 190 MiB
        // instead of 144 at 10 M observations (1 M syncs), and it runs beside the
        // identities' resolution.
        let slot = |id: i64| usize::try_from(id).ok();
        let mut infos: Vec<Option<EntityInfo>> =
            vec![None; slot(store.max_entity_id()?).map_or(0, |max| max + 1)];
        let mut needed = vec![false; infos.len()];
        store.for_each_sync(from, end, |sync| {
            for id in [sync.source_id, sync.target_id] {
                if let Some(flag) = slot(id).and_then(|i| needed.get_mut(i)) {
                    *flag = true;
                }
            }
        })?;
        // Each synced entity read once, in one pass over the entities in id order; the
        // keys' table made at its size at once, not grown by rehashing (hash tables
        // growing were 2.1 % of a 10 M export's samples, all on this pass's thread).
        let mut ents = SyncEntities {
            canonical: EntityKeys::with_capacity(needed.iter().filter(|&&n| n).count()),
            ..SyncEntities::default()
        };
        store.for_each_entity_ref(
            |id| {
                slot(id)
                    .and_then(|i| needed.get(i))
                    .copied()
                    .unwrap_or(false)
            },
            |id, e| {
                let info = ents.info(e);
                if let Some(place) = slot(id).and_then(|i| infos.get_mut(i)) {
                    *place = Some(info);
                }
                Ok(())
            },
        )?;
        drop(needed);
        let info = |id: i64| slot(id).and_then(|i| infos.get(i).copied().flatten());
        let mut windows = [IdWindow::default(), IdWindow::default()];
        store.for_each_sync(from, end, |sync| {
            let at = sync.at;
            // A sync whose entity row is gone (or came after the first pass) is left out,
            // as the join that read them before left it out.
            let (Some(s), Some(t)) = (info(sync.source_id), info(sync.target_id)) else {
                return;
            };
            let SyncEntities {
                systems,
                projects,
                types,
                ..
            } = &ents;
            let systems_pair = systems.pair(s.system, t.system);
            for (w, win) in windows.iter_mut().enumerate() {
                if at < starts[w] {
                    continue;
                }
                let slot = win.outcomes.entry(systems_pair).or_default();
                if !sync.success {
                    slot.1 += 1;
                    continue;
                }
                slot.0 += 1;
                for e in [s, t] {
                    if types.name(e.entity_type).is_empty() {
                        continue;
                    }
                    let slot = win
                        .entity_types
                        .entry((e.system, e.entity_type))
                        .or_insert_with(|| (FxHashSet::default(), i64::MIN));
                    slot.0.insert(systems_pair);
                    slot.1 = slot.1.max(at);
                }
                if !projects.name(s.project).is_empty() && !projects.name(t.project).is_empty() {
                    let (a, b) = ((s.system, s.project), (t.system, t.project));
                    let text = |(system, project): (u32, u32)| {
                        (systems.name(system), projects.name(project))
                    };
                    let key = if text(a) <= text(b) { (a, b) } else { (b, a) };
                    let slot = win.project_pairs.entry(key).or_insert(i64::MIN);
                    *slot = (*slot).max(at);
                }
                let slot = win
                    .system_pairs
                    .entry(systems_pair)
                    .or_insert_with(|| (FxHashSet::default(), i64::MIN));
                slot.0.insert(ordered(s.key, t.key));
                slot.1 = slot.1.max(at);
            }
        })?;
        drop(infos);
        let SyncEntities {
            systems,
            projects,
            types,
            ..
        } = ents;
        let text_pair =
            |(a, b): (u32, u32)| (systems.name(a).to_owned(), systems.name(b).to_owned());
        let windows = windows.map(|win| SyncWindow {
            entity_types: win
                .entity_types
                .into_iter()
                .map(|((system, entity_type), (pairs, at))| {
                    let labels = pairs
                        .into_iter()
                        .map(|(a, b)| pair_label(systems.name(a), systems.name(b)))
                        .collect();
                    (
                        (
                            systems.name(system).to_owned(),
                            types.name(entity_type).to_owned(),
                        ),
                        (labels, at),
                    )
                })
                .collect(),
            project_pairs: win
                .project_pairs
                .into_iter()
                .map(|((a, b), at)| {
                    let text = |(system, project): (u32, u32)| {
                        (
                            systems.name(system).to_owned(),
                            projects.name(project).to_owned(),
                        )
                    };
                    ((text(a), text(b)), at)
                })
                .collect(),
            system_pairs: win
                .system_pairs
                .into_iter()
                .map(|(pair, (pairs, at))| (text_pair(pair), (pairs.len() as u64, at)))
                .collect(),
            outcomes: win
                .outcomes
                .into_iter()
                .map(|(pair, counts)| (text_pair(pair), counts))
                .collect(),
        });
        Ok(SyncFacts { windows })
    }

    fn fill(
        &self,
        w: usize,
        window: &Window,
        integrations: &[Integration],
        report: &mut WindowReport,
    ) {
        let facts = &self.windows[w];
        let start = to_millis(window.start);
        let end = to_millis(window.end);

        let project_key = |i: &Integration| {
            ordered(
                (i.ends[0].system.clone(), i.ends[0].project.clone()),
                (i.ends[1].system.clone(), i.ends[1].project.clone()),
            )
        };
        let in_window: Vec<&Integration> = integrations
            .iter()
            .filter(|i| {
                let updated = to_millis(i.updated_at);
                i.status == IntegrationStatus::Active
                    || (updated >= start && updated <= end)
                    || facts.project_pairs.contains_key(&project_key(i))
            })
            .collect();

        let mut covered = BTreeSet::new();
        for i in &in_window {
            let key = project_key(i);
            report.projects.push(ProjectRow {
                system1: i.ends[0].system.clone(),
                project1: i.ends[0].project.clone(),
                system2: i.ends[1].system.clone(),
                project2: i.ends[1].project.clone(),
                status: match i.status {
                    IntegrationStatus::Active => CoverageStatus::Active,
                    IntegrationStatus::Inactive => CoverageStatus::Inactive,
                },
                last_updated: Some(i.updated_at),
                last_synced: facts.project_pairs.get(&key).copied().map(from_millis),
            });
            covered.insert(key);
        }
        for (key, at) in &facts.project_pairs {
            if covered.contains(key) {
                continue;
            }
            report.projects.push(ProjectRow {
                system1: key.0 .0.clone(),
                project1: key.0 .1.clone(),
                system2: key.1 .0.clone(),
                project2: key.1 .1.clone(),
                status: CoverageStatus::NotConfigured,
                last_updated: None,
                last_synced: Some(from_millis(*at)),
            });
        }
        report.projects.sort_by(|a, b| {
            (&a.system1, &a.project1, &a.system2, &a.project2).cmp(&(
                &b.system1,
                &b.project1,
                &b.system2,
                &b.project2,
            ))
        });
        let projects: BTreeSet<(&str, &str)> = report
            .projects
            .iter()
            .flat_map(|p| {
                [
                    (p.system1.as_str(), p.project1.as_str()),
                    (p.system2.as_str(), p.project2.as_str()),
                ]
            })
            .collect();
        report.summary.unique_projects = projects.len() as u64;

        for ((system, entity_type), (pairs, at)) in &facts.entity_types {
            let covering = in_window.iter().filter(|i| {
                i.ends
                    .iter()
                    .any(|e| &e.system == system && e.entity_types.iter().any(|t| t == entity_type))
            });
            let mut status = CoverageStatus::NotConfigured;
            for i in covering {
                status = match (status, i.status) {
                    (_, IntegrationStatus::Active) | (CoverageStatus::Active, _) => {
                        CoverageStatus::Active
                    }
                    _ => CoverageStatus::Inactive,
                };
            }
            report.entity_types.push(EntityTypeRow {
                system_pairs: pairs.iter().cloned().collect(),
                system: system.clone(),
                entity_type: entity_type.clone(),
                status,
                last_synced: from_millis(*at),
            });
        }
        report.summary.unique_entity_types = report.entity_types.len() as u64;

        for ((a, b), (entities, at)) in &facts.system_pairs {
            report.synced.push(SyncedRow {
                system1: a.clone(),
                system2: b.clone(),
                entities: *entities,
                last_synced: from_millis(*at),
            });
        }
        report.summary.entities_synced = report.synced.iter().map(|r| r.entities).sum();
        report.sync_outcomes = facts
            .outcomes
            .iter()
            .map(|((a, b), (succeeded, failed))| SyncOutcome {
                system1: a.clone(),
                system2: b.clone(),
                succeeded: *succeeded,
                failed: *failed,
            })
            .collect();
    }
}
