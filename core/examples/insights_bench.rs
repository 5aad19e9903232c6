//! Access-insights benchmark (issue 11 item 5, the insights half): 100,000 accounts in
//! five directories read daily for 30 days (their `last_active` moving as people sign in)
//! plus 1,000,000 observations in a store, then `access_insights` and `Insights.xlsx`
//! timed on their own. Each phase is its own process, so that `/usr/bin/time -v` reports
//! the insights' peak memory without the generator's:
//!
//! ```sh
//! cargo build --release -p tally-core --example insights_bench
//! target/release/examples/insights_bench prepare /tmp/ins.db [accounts] [observations] [days]
//! /usr/bin/time -v target/release/examples/insights_bench run /tmp/ins.db /tmp/out
//! target/release/examples/insights_bench phases /tmp/ins.db /tmp/out   # CPU per phase
//! ```
//!
//! Figures and what they mean: bench/RESULTS-insights.md.

/// The binary's allocator and its options, so that the figures are the binary's.
#[path = "../../tui/src/allocator.rs"]
mod allocator;

use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use tally_core::insights_export::write_insights;
use tally_core::report::{read_access_insights, AccessOptions};
use tally_core::store::Store;
use tally_core::{Account, AccountStatus, Interaction, Record, TwoStep, UserObservation};

const SYSTEMS: [&str; 5] = ["Jira", "Azure DevOps", "ServiceNow", "GitHub", "GitLab"];

fn as_of() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().unwrap_or_default()
}

/// A small deterministic generator (xorshift): the same arguments give the same store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Person `p`'s identifiers as system `s` shows them: some systems hide the email, some
/// have logins of their own, as the real directories do.
fn ids(p: u64, s: usize) -> (Option<String>, Option<String>, Option<String>) {
    let domain = if p.is_multiple_of(7) {
        "contractor.example"
    } else {
        "corp.example"
    };
    let email = format!("user{p}@{domain}");
    let name = format!("User {p}");
    match s {
        0 => ((!p.is_multiple_of(5)).then_some(email), None, Some(name)),
        1 => (Some(email), None, Some(name)),
        2 => (Some(email), Some(format!("user{p}")), Some(name)),
        3 => (None, Some(format!("gh-user{p}")), Some(name)),
        _ => (Some(email), Some(format!("user{p}")), Some(name)),
    }
}

/// How an account signs in: the directory's `last_active` moves on each sign-in, so a
/// daily user's account changes on every daily read, a dormant one never.
#[derive(Clone, Copy)]
enum Signs {
    /// Every `period` days, the last time `offset` days before `as_of`.
    Every { period: i64, offset: i64 },
    /// Not within the reads: `last_active` stays at this many days before `as_of`, or none.
    Fixed(Option<i64>),
}

impl Signs {
    /// `last_active` as a read at `read_at` shows it.
    fn last_active(self, read_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Signs::Every { period, offset } => {
                let last = as_of() - Duration::days(offset);
                if last <= read_at {
                    return Some(last);
                }
                let behind = (last - read_at).num_days() / period + 1;
                Some(last - Duration::days(behind * period))
            }
            Signs::Fixed(days) => days.map(|d| as_of() - Duration::days(d)),
        }
    }
}

fn prepare(
    db: &Path,
    accounts: u64,
    observations: u64,
    days: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut store = Store::open(db)?;
    // Every person holds accounts in two systems on average.
    let people = accounts / 2;
    let mut records = Vec::with_capacity(100_000);
    let flush =
        |records: &mut Vec<Record>, store: &mut Store| -> Result<(), Box<dyn std::error::Error>> {
            store.writer()?.write_all(records)?;
            records.clear();
            Ok(())
        };
    // What each account is, fixed over the reads: a fifth sign in daily, a fifth weekly,
    // a fifth monthly, the rest not during the reads (older or never).
    let mut rng = Rng(0x5eed_1234_abcd);
    let accounts_of: Vec<(Account, Signs, Option<u64>)> = (0..accounts)
        .map(|n| {
            let p = n / 2;
            let s = ((n % 2) * 2 + p % 3) as usize % SYSTEMS.len();
            let (email, username, display_name) = ids(p, s);
            let signs = match rng.below(5) {
                0 => Signs::Every {
                    period: 1,
                    offset: 0,
                },
                1 => Signs::Every {
                    period: 7,
                    offset: rng.below(7) as i64,
                },
                2 => Signs::Every {
                    period: 30,
                    offset: rng.below(30) as i64,
                },
                _ => {
                    let last = rng.below(200) as i64;
                    Signs::Fixed((last < 170).then_some(30 + last))
                }
            };
            // One in 200 is locked during the month, on the read of that day.
            let locked_on = (rng.below(200) == 0).then(|| rng.below(days.max(1)));
            let account = Account {
                system: SYSTEMS[s].into(),
                at: as_of(),
                id: format!("{s}-{n}"),
                email,
                username,
                display_name,
                status: if rng.below(20) == 0 {
                    AccountStatus::Disabled
                } else {
                    AccountStatus::Active
                },
                billable: !(s == 1 && rng.below(5) == 0),
                product: Some(if s == 1 { "Basic" } else { "Standard" }.into()),
                last_active: None,
                two_step: match rng.below(3) {
                    0 => Some(TwoStep::Enabled),
                    1 => Some(TwoStep::Disabled),
                    _ => None,
                },
                sso: (s != 3).then(|| rng.below(2) == 0),
                service_account: rng.below(100) == 0,
            };
            (account, signs, locked_on)
        })
        .collect();
    // The directories read once a day, the last read 6 hours before `as_of`.
    for day in (0..days.max(1)).rev() {
        let read_at = as_of() - Duration::days(day as i64) - Duration::hours(6);
        for (account, signs, locked_on) in &accounts_of {
            let mut a = account.clone();
            a.at = read_at;
            a.last_active = signs.last_active(read_at);
            if locked_on.is_some_and(|d| day <= d) {
                a.status = AccountStatus::Disabled;
            }
            records.push(Record::Account(a));
            if records.len() == records.capacity() {
                flush(&mut records, &mut store)?;
            }
        }
        flush(&mut records, &mut store)?;
    }
    drop(accounts_of);
    // A tenth of the observers hold no account (seen without an account).
    let observers = people + people / 10;
    for _ in 0..observations {
        let p = rng.below(observers);
        let s = rng.below(SYSTEMS.len() as u64) as usize;
        let (email, username, display_name) = ids(p, s);
        let minutes = rng.below(18 * 30 * 24 * 60) as i64;
        records.push(Record::User(UserObservation {
            system: SYSTEMS[s].into(),
            at: as_of() - Duration::minutes(minutes),
            email,
            username,
            display_name,
            interaction: Interaction::Updater,
            project: Some(format!("P{}", p % 40)),
            entity_type: None,
            entity_id: None,
            service_account: false,
        }));
        if records.len() == records.capacity() {
            flush(&mut records, &mut store)?;
        }
    }
    flush(&mut records, &mut store)?;
    eprintln!(
        "prepare: {accounts} accounts read daily for {days} days, {observations} observations in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn run(db: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut opts = AccessOptions::new(as_of());
    opts.managed_domains = vec!["corp.example".into()];
    let started = Instant::now();
    let insights = read_access_insights(db, &opts)?;
    let computed = started.elapsed();
    let path = write_insights(&insights, out)?;
    let total = started.elapsed();
    eprintln!(
        "insights: {} accounts, {} people with access, {} dormant seats; computed in {:.2} s, {} written in {:.2} s, total {:.2} s",
        insights.accounts.len(),
        insights.people.with_access,
        insights.dormant_seats.len(),
        computed.as_secs_f64(),
        path.display(),
        (total - computed).as_secs_f64(),
        total.as_secs_f64()
    );
    Ok(())
}

/// CPU time of this thread so far (Linux `/proc/thread-self/schedstat`, ns), so that the
/// phases can be told apart on a loaded machine; 0 where unavailable.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Where the time goes: each phase on its own, in CPU seconds of this thread.
fn phases(db: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(db)?;
    let mut opts = AccessOptions::new(as_of());
    opts.managed_domains = vec!["corp.example".into()];
    let c = cpu_s();
    let accounts = store.accounts_at(as_of())?;
    eprintln!(
        "accounts_at: {} accounts, {:.2} s CPU",
        accounts.len(),
        cpu_s() - c
    );
    let c = cpu_s();
    let insights = tally_core::report::access_insights(&store, &opts)?;
    eprintln!(
        "access_insights: {:.2} s CPU of this thread (the accounts are read on a second one)",
        cpu_s() - c
    );
    std::fs::create_dir_all(out)?;
    let c = cpu_s();
    write_insights(&insights, out)?;
    eprintln!("write_insights: {:.2} s CPU", cpu_s() - c);
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.get(1).map(String::as_str) {
        Some("prepare") if args.len() >= 3 => {
            prepare(
                Path::new(&args[2]),
                num(3, 100_000),
                num(4, 1_000_000),
                num(5, 30),
            )
        }
        Some("phases") if args.len() >= 4 => phases(Path::new(&args[2]), Path::new(&args[3])),
        Some("run") if args.len() >= 4 => run(Path::new(&args[2]), Path::new(&args[3])),
        _ => Err(
            "usage: insights_bench prepare DB [accounts] [observations] [days] | run DB OUT_DIR | phases DB OUT_DIR".into(),
        ),
    }
}
