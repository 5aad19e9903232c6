//! Builds [`AccessInsights`] (SPEC §9): the account states at `as_of`, one streaming pass
//! over the Last 1 Year observations aggregated per identity tuple (its latest time), and
//! one identity resolution over the pool of both.
//!
//! [`access_insights_from`] is the whole computation over in-memory inputs; the store
//! reader [`access_insights`] only gathers those inputs, so tests can feed the same
//! computation directly and compare it with a literal reading of SPEC §9.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::identity::{self, IdentityInput, IdentityRules, ServiceAccountPatterns};
use crate::model::{Account, AccountStatus, TwoStep};
use crate::store::{from_millis, to_millis, Store, StoreError};

use super::access::*;
use super::build::{non_empty, window, CompactIdentity, ReportOptions};
use super::insights::ManagedDomains;
use super::types::WindowKind;

/// What the access insights are computed with, besides the stored records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessOptions {
    pub as_of: DateTime<Utc>,
    /// `[insights] active_days`: an account is active when its activity is at most this
    /// many days before `as_of`.
    pub active_days: u32,
    /// `[insights] dormant_days`: a seat is dormant when its activity is older than this
    /// many days before `as_of`, or there is none.
    pub dormant_days: u32,
    /// `[identity] managed_domains` (compared case-insensitively, a leading `@` ignored).
    pub managed_domains: Vec<String>,
    /// `[identity]` generic handles and forced merges, as for the Usage Reports.
    pub rules: IdentityRules,
    /// Service-account patterns, as for the Usage Reports.
    pub service_account_patterns: Vec<String>,
}

impl AccessOptions {
    /// Defaults of SPEC §9 (30 and 90 days), no managed domain, plain identity rules.
    pub fn new(as_of: DateTime<Utc>) -> Self {
        AccessOptions {
            as_of,
            active_days: DEFAULT_ACTIVE_DAYS,
            dormant_days: DEFAULT_DORMANT_DAYS,
            managed_domains: Vec::new(),
            rules: IdentityRules::default(),
            service_account_patterns: Vec::new(),
        }
    }

    /// The same `as_of`, identity rules and service-account patterns as a Usage Report,
    /// so both resolve people alike; the `[insights]` days stay at their defaults.
    pub fn from_report(report: &ReportOptions, managed_domains: &[String]) -> Self {
        AccessOptions {
            as_of: report.as_of,
            active_days: report.active_days,
            dormant_days: report.dormant_days,
            managed_domains: managed_domains.to_vec(),
            rules: report.rules.clone(),
            service_account_patterns: report.service_account_patterns.clone(),
        }
    }
}

/// One distinct identity tuple of the `user` observations, with its latest observation
/// inside the Last 1 Year window ending at `as_of`. Tuples whose `last_seen` lies outside
/// that window are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObservedIdentity<'a> {
    pub system: &'a str,
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub service_account: bool,
    pub last_seen: DateTime<Utc>,
}

/// Opens the store at `path` and computes the access insights: what every front end does.
pub fn read_access_insights(
    path: &std::path::Path,
    opts: &AccessOptions,
) -> Result<AccessInsights, StoreError> {
    access_insights(&Store::open(path)?, opts)
}

/// SQLite's page cache per connection for these reads: each page of the observations is
/// read once, and the accounts' seeks go to neighbouring leaves, so a large cache only
/// costs fresh memory (100,000 accounts' insights: 0.9–3.6 thousand page faults with
/// 1 MiB instead of 4.5–6.7 thousand with 8 MiB on each of the two connections, and
/// 1.40–1.76 s instead of 1.38–1.99 s; bench/RESULTS-insights.md).
const READ_CACHE_KIB: u32 = 1024;

/// An observed identity tuple with its latest time in the window.
struct Tuple {
    identity: CompactIdentity,
    last: i64,
}

/// Computes the access insights at `opts.as_of` from the store: the accounts at `as_of`
/// and the observations of the Last 1 Year window, streamed once. Memory grows with the
/// accounts and the distinct identity tuples, not with the observations.
pub fn access_insights(store: &Store, opts: &AccessOptions) -> Result<AccessInsights, StoreError> {
    store.set_cache_kib(READ_CACHE_KIB)?;
    // Without an account every figure of SPEC §9 is zero or empty, whatever was observed
    // (observations count only against systems with accounts): the observation read,
    // half a second on a million observations, is skipped. The terminal UI asks for the
    // insights on every rebuild, during the collection of a store that may hold none.
    if !store.has_accounts_at(opts.as_of)? {
        return Ok(access_insights_from(&[], &[], opts));
    }
    // The account states and the observations are independent reads of about the same
    // cost: on a second connection they take one core each instead of one after the
    // other (issue 11's 2 s for 100,000 accounts and 1 M observations). Each statement
    // reads its own snapshot, as the reads on one connection did.
    let path = store.path().to_path_buf();
    let as_of = opts.as_of;
    std::thread::scope(|scope| {
        let accounts = scope.spawn(move || -> Result<Vec<Account>, StoreError> {
            let other = Store::open(&path)?;
            other.set_cache_kib(READ_CACHE_KIB)?;
            other.accounts_at(as_of)
        });
        let observed = observed_tuples(store, opts.as_of);
        let accounts = match accounts.join() {
            Ok(Ok(accounts)) => accounts,
            // A second connection may be refused (a store opened where another cannot
            // be): read the accounts on this one instead.
            Ok(Err(_)) | Err(_) => store.accounts_at(opts.as_of)?,
        };
        let tuples = observed?;
        let observed: Vec<ObservedIdentity<'_>> = tuples
            .iter()
            .map(|t| ObservedIdentity {
                system: t.identity.system(),
                email: non_empty(t.identity.email()),
                username: non_empty(t.identity.username()),
                display_name: non_empty(t.identity.display_name()),
                service_account: t.identity.service_account,
                last_seen: from_millis(t.last),
            })
            .collect();
        Ok(access_insights_from(&accounts, &observed, opts))
    })
}

/// The distinct identity tuples observed in the Last 1 Year window ending at `as_of`,
/// each with its latest observation there, streamed once.
fn observed_tuples(store: &Store, as_of: DateTime<Utc>) -> Result<Vec<Tuple>, StoreError> {
    let year = window(WindowKind::OneYear, as_of);
    let max_id = usize::try_from(store.max_identity_id()?).unwrap_or(0);
    let mut last = vec![i64::MIN; max_id + 1];
    store.for_each_observation(to_millis(year.start), to_millis(as_of), |id, at, _| {
        if let Some(slot) = usize::try_from(id).ok().and_then(|i| last.get_mut(i)) {
            *slot = (*slot).max(at);
        }
    })?;
    let mut tuples = Vec::new();
    let seen_at = |id: i64| {
        usize::try_from(id)
            .ok()
            .and_then(|k| last.get(k).copied())
            .filter(|&t| t != i64::MIN)
    };
    // Identities not observed in the window are skipped before their text is read.
    store.for_each_identity_ref(
        |id| seen_at(id).is_some(),
        |id, parts, service_account| {
            let Some(seen) = seen_at(id) else {
                return;
            };
            tuples.push(Tuple {
                identity: CompactIdentity::new(parts, service_account),
                last: seen,
            });
        },
    )?;
    Ok(tuples)
}

fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map_or("", |(_, d)| d)
}

/// `as_of` minus `days`, or the earliest time when that is out of range.
fn days_before(as_of: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    as_of
        .checked_sub_signed(Duration::days(i64::from(days)))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// An account at `as_of`, its fields trimmed and its email normalised once.
struct Held<'a> {
    account: &'a Account,
    system: &'a str,
    id: &'a str,
    /// The SPEC §3 form of its email (lower-cased), when it is one.
    email: Option<String>,
    service_account: bool,
    has_access: bool,
}

/// A user holding an account with access that is not a service account.
#[derive(Clone, Copy, Default)]
struct Holder<'a> {
    /// Any of those accounts active.
    active: bool,
    /// The first system where it holds a seat.
    seat_system: Option<&'a str>,
    /// Seats in at least two systems.
    several_systems: bool,
}

impl<'a> Holder<'a> {
    fn seat_in(&mut self, system: &'a str) {
        match self.seat_system {
            None => self.seat_system = Some(system),
            Some(first) => self.several_systems |= first != system,
        }
    }
}

/// How an email sorts into managed / external / unknown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Managed,
    External,
    Unknown,
}

fn class_of(email: Option<&str>, managed: &ManagedDomains) -> Class {
    match email {
        Some(e) if managed.contains(domain_of(e)) => Class::Managed,
        Some(_) => Class::External,
        None => Class::Unknown,
    }
}

/// The whole of SPEC §9 over in-memory inputs. `accounts` may hold every read of every
/// account: the state of each (system, id) at `as_of` is its record with the latest `at`
/// not after `as_of` (for two records with the same key and `at`, the first given wins,
/// as the store keeps the first stored). `observed` are the distinct identity tuples of
/// the Last 1 Year window with their latest observation in it.
pub fn access_insights_from<'a>(
    accounts: &'a [Account],
    observed: &[ObservedIdentity<'a>],
    opts: &AccessOptions,
) -> AccessInsights {
    let as_of = opts.as_of;
    let year_start = window(WindowKind::OneYear, as_of).start;
    let active_since = days_before(as_of, opts.active_days);
    let dormant_before = days_before(as_of, opts.dormant_days);
    let managed = ManagedDomains::new(&opts.managed_domains);
    let patterns = ServiceAccountPatterns::new(&opts.service_account_patterns);
    let matches = |email: Option<&str>, username: Option<&str>, display: Option<&str>| {
        !patterns.is_empty()
            && [email, username, display]
                .into_iter()
                .flatten()
                .any(|v| patterns.matches(v))
    };

    // Accounts at `as_of`, ordered by system then id: the order every list is shown in.
    let mut states: Vec<(usize, &Account)> = accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.at <= as_of)
        .collect();
    let key =
        |&(i, a): &(usize, &'a Account)| (a.system.trim(), a.id.trim(), std::cmp::Reverse(a.at), i);
    // The store gives one state per account in this order already: checking is cheaper
    // than sorting 100,000 keys again.
    if !states.is_sorted_by(|x, y| key(x) <= key(y)) {
        states.sort_by_cached_key(key);
    }
    states.dedup_by(|later, first| {
        (later.1.system.trim(), later.1.id.trim()) == (first.1.system.trim(), first.1.id.trim())
    });
    let held: Vec<Held<'_>> = states
        .into_iter()
        .map(|(_, a)| {
            let email = a
                .email
                .as_deref()
                .and_then(identity::normalize_email)
                .map(|e| e.into_owned());
            Held {
                account: a,
                system: a.system.trim(),
                id: a.id.trim(),
                service_account: a.service_account
                    || matches(
                        email.as_deref(),
                        a.username.as_deref(),
                        a.display_name.as_deref(),
                    ),
                email,
                has_access: a.status == AccountStatus::Active,
            }
        })
        .collect();
    let observed: Vec<&ObservedIdentity<'_>> = observed
        .iter()
        .filter(|o| o.last_seen >= year_start && o.last_seen <= as_of)
        .collect();

    // One identity pass over the pool: every account at `as_of`, then every tuple. Equal
    // identifier triples (the same person's tuple in several systems, an account and its
    // owner's observations) always resolve alike, so each is resolved once.
    let pool = held
        .iter()
        .map(|h| IdentityInput {
            email: h.account.email.as_deref(),
            username: h.account.username.as_deref(),
            display_name: h.account.display_name.as_deref(),
        })
        .chain(observed.iter().map(|o| IdentityInput {
            email: o.email,
            username: o.username,
            display_name: o.display_name,
        }));
    // Sized up front: growing it rehashes three strings per entry each time.
    let mut distinct: FxHashMap<IdentityInput<'_>, u32> =
        FxHashMap::with_capacity_and_hasher(held.len() + observed.len(), Default::default());
    let mut inputs: Vec<IdentityInput<'_>> = Vec::new();
    let input_of: Vec<u32> = pool
        .map(|i| {
            *distinct.entry(i).or_insert_with(|| {
                inputs.push(i);
                u32::try_from(inputs.len() - 1).unwrap_or(u32::MAX)
            })
        })
        .collect();
    drop(distinct);
    let resolution = identity::resolve(&inputs, &opts.rules);
    let distinct_inputs = inputs.len();
    drop(inputs);
    let users = resolution.users.len();
    let mut user_of_input = vec![u32::MAX; distinct_inputs];
    for (u, user) in resolution.users.iter().enumerate() {
        let code = u32::try_from(u).unwrap_or(u32::MAX);
        for &m in &user.members {
            user_of_input[m] = code;
        }
    }
    drop(resolution);
    let user_of: Vec<u32> = input_of
        .iter()
        .map(|&i| user_of_input.get(i as usize).copied().unwrap_or(u32::MAX))
        .collect();
    drop((input_of, user_of_input));
    // A user is a service account when any of its observations or accounts says so, or
    // any of their identifiers matches a pattern (SPEC §3 applied to the pool).
    let mut user_service = vec![false; users];
    for (m, &u) in user_of.iter().enumerate() {
        let Some(slot) = user_service.get_mut(u as usize) else {
            continue;
        };
        *slot |= match m.checked_sub(held.len()) {
            None => held[m].service_account,
            Some(k) => {
                let o = observed[k];
                o.service_account
                    || (!patterns.is_empty()
                        && matches(
                            o.email.and_then(identity::normalize_email).as_deref(),
                            o.username,
                            o.display_name,
                        ))
            }
        };
    }
    let user_at = |m: usize| -> Option<usize> {
        let u = user_of[m];
        (u != u32::MAX).then_some(u as usize)
    };

    // Systems by number, so that (user, system) pairs are one integer: hashing a name
    // for each of hundreds of thousands of pairs is what this loop would otherwise cost.
    let mut system_ids: FxHashMap<&str, u64> = FxHashMap::default();
    let mut system_names: Vec<&str> = Vec::new();
    let mut system_id = |name: &'a str| -> u64 {
        *system_ids.entry(name).or_insert_with(|| {
            system_names.push(name);
            system_names.len() as u64 - 1
        })
    };
    let pair = |u: usize, system: u64| ((u as u64) << 32) | system;
    let held_systems: Vec<u64> = held.iter().map(|h| system_id(h.system)).collect();
    // The latest observation of each user in each system.
    let mut seen: FxHashMap<u64, DateTime<Utc>> =
        FxHashMap::with_capacity_and_hasher(observed.len(), Default::default());
    for (k, o) in observed.iter().enumerate() {
        if let Some(u) = user_at(held.len() + k) {
            let slot = seen
                .entry(pair(u, system_id(o.system.trim())))
                .or_insert(o.last_seen);
            *slot = (*slot).max(o.last_seen);
        }
    }

    // Per user: the primary email (SPEC §9) from its accounts with access that are not
    // service accounts: the smallest managed one, else the smallest.
    let mut primary: Vec<(Option<&str>, Option<&str>)> = vec![(None, None); users];
    for (i, h) in held.iter().enumerate() {
        let (Some(u), Some(email), true, false) = (
            user_at(i),
            h.email.as_deref(),
            h.has_access,
            h.service_account,
        ) else {
            continue;
        };
        let slot = &mut primary[u];
        if class_of(Some(email), &managed) == Class::Managed {
            slot.0 = Some(slot.0.map_or(email, |c| c.min(email)));
        }
        slot.1 = Some(slot.1.map_or(email, |c| c.min(email)));
    }
    let primary_of = |u: usize| primary[u].0.or(primary[u].1);

    // Persons numbered by their first account in (system, id) order, so the numbers do
    // not depend on the order of the inputs.
    let mut person_of_user = vec![usize::MAX; users];
    let mut persons = 0usize;
    let mut rows = Vec::with_capacity(held.len());
    let mut dormant_seats = Vec::new();
    let mut systems: BTreeMap<&str, SystemAccess> = BTreeMap::new();
    let mut has_account: FxHashSet<u64> =
        FxHashSet::with_capacity_and_hasher(held.len(), Default::default());
    // Per user holding an account with access that is not a service account: any of them
    // active, and where it holds seats.
    let mut people: Vec<Option<Holder<'_>>> = vec![None; users];
    for (i, h) in held.iter().enumerate() {
        let a = h.account;
        let user = user_at(i);
        let person = user.map(|u| {
            if person_of_user[u] == usize::MAX {
                person_of_user[u] = persons;
                persons += 1;
            }
            person_of_user[u]
        });
        if let Some(u) = user {
            has_account.insert(pair(u, held_systems[i]));
        }
        let observed_at = user.and_then(|u| seen.get(&pair(u, held_systems[i])).copied());
        let last_activity = a.last_active.filter(|t| *t <= as_of).max(observed_at);
        let active = last_activity.is_some_and(|t| t >= active_since);
        let seat = h.has_access && a.billable && !h.service_account;
        let dormant = seat && last_activity.is_none_or(|t| t < dormant_before);

        let sys = systems.entry(h.system).or_insert_with(|| SystemAccess {
            system: h.system.to_owned(),
            ..SystemAccess::default()
        });
        if h.has_access && h.service_account {
            sys.service_accounts += 1;
        }
        if h.has_access && !h.service_account {
            sys.accounts += 1;
            sys.seats += u64::from(seat);
            sys.active += u64::from(active);
            sys.dormant += u64::from(dormant);
            let class = class_of(h.email.as_deref(), &managed);
            let (count, group) = match class {
                Class::Managed => (&mut sys.managed, &mut sys.sign_in.managed),
                Class::External => (&mut sys.external, &mut sys.sign_in.external),
                Class::Unknown => (&mut sys.unknown, &mut sys.sign_in.unknown),
            };
            *count += 1;
            let sso = u64::from(a.sso == Some(true));
            group.sso += sso;
            sys.sso += sso;
            for two_step in [&mut sys.two_step, &mut group.two_step] {
                match a.two_step {
                    Some(TwoStep::Enabled) => two_step.enabled += 1,
                    Some(TwoStep::Disabled) => two_step.disabled += 1,
                    None => two_step.unknown += 1,
                }
            }
            if let Some(entry) = user.and_then(|u| people.get_mut(u)) {
                let entry = entry.get_or_insert_default();
                entry.active |= active;
                if seat {
                    entry.seat_in(h.system);
                }
            }
        }

        let text = |v: &Option<String>| v.as_deref().and_then(non_empty).map(str::to_owned);
        if dormant {
            dormant_seats.push(DormantSeat {
                system: h.system.to_owned(),
                id: h.id.to_owned(),
                email: text(&a.email),
                username: text(&a.username),
                display_name: text(&a.display_name),
                product: text(&a.product),
                last_activity,
                account: rows.len(),
            });
        }
        rows.push(AccountRow {
            system: h.system.to_owned(),
            id: h.id.to_owned(),
            email: text(&a.email),
            username: text(&a.username),
            display_name: text(&a.display_name),
            person_email: user.and_then(primary_of).map(str::to_owned),
            person,
            status: a.status,
            product: text(&a.product),
            billable: a.billable,
            two_step: a.two_step,
            sso: a.sso,
            service_account: h.service_account,
            last_activity,
            active,
            seat,
            dormant,
        });
    }

    // Seen without an account: users observed in a system that has accounts, holding
    // none there, and not service accounts.
    // Each key of `seen` is one (user, system) pair already.
    let mut without: Vec<u64> = vec![0; system_names.len()];
    for &key in seen.keys() {
        let u = (key >> 32) as usize;
        if !user_service[u] && !has_account.contains(&key) {
            if let Some(n) = without.get_mut((key & 0xffff_ffff) as usize) {
                *n += 1;
            }
        }
    }
    for (name, n) in system_names.iter().zip(without) {
        // Only a system with accounts at `as_of` has a row.
        if let Some(sys) = systems.get_mut(name) {
            sys.seen_without_account = n;
        }
    }

    let mut counts = PeopleCounts::default();
    let mut domains: BTreeMap<&str, (u64, bool)> = BTreeMap::new();
    for (u, holder) in people.iter().enumerate() {
        let Some(holder) = holder else {
            continue;
        };
        counts.with_access += 1;
        let email = primary_of(u);
        match class_of(email, &managed) {
            Class::Managed => counts.managed += 1,
            Class::External => counts.external += 1,
            Class::Unknown => counts.unknown += 1,
        }
        counts.active += u64::from(holder.active);
        counts.seats_in_several_systems += u64::from(holder.several_systems);
        if let Some(e) = email {
            let domain = domain_of(e);
            domains
                .entry(domain)
                .or_insert((0, managed.contains(domain)))
                .0 += 1;
        }
    }
    let mut domains: Vec<DomainAccess> = domains
        .into_iter()
        .map(|(domain, (people, managed))| DomainAccess {
            domain: domain.to_owned(),
            managed,
            people,
        })
        .collect();
    domains.sort_by(|a, b| {
        b.people
            .cmp(&a.people)
            .then_with(|| a.domain.cmp(&b.domain))
    });

    AccessInsights {
        as_of,
        active_days: opts.active_days,
        dormant_days: opts.dormant_days,
        people: counts,
        systems: systems.into_values().collect(),
        domains,
        dormant_seats,
        accounts: rows,
    }
}
