//! The collection and export benchmark (README "Performance"). Each phase is its own
//! process so `/usr/bin/time -v` reports its peak memory alone; `bench/run.sh` runs them.
//!
//! ```text
//! bench generate N FILE     N synthetic observations (+ N/10 syncs) as JSONL
//! bench collect FILE DB     the jsonl connector -> the store
//! bench export DB OUT       report + both workbooks + zip
//! bench accounts N DAYS DB  N accounts read daily for DAYS days (1 % change a day)
//! ```

/// The binary's allocator and its options, so that the figures are the binary's.
#[path = "../src/allocator.rs"]
mod allocator;

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, Utc};
use tally_core::collect;
use tally_core::report::{build_report, ReportOptions};
use tally_core::store::Store;
use tokio_util::sync::CancellationToken;

const AS_OF: &str = "2026-11-01T00:00:00Z";
const SYSTEMS: [&str; 5] = ["Jira", "Azure DevOps", "ServiceNow", "GitHub", "GitLab"];
const INTERACTIONS: [&str; 5] = [
    "mapped_user_field",
    "comment_author",
    "attachment_author",
    "mention",
    "updater",
];

/// splitmix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn generate(n: u64, file: PathBuf) -> anyhow::Result<()> {
    let as_of: DateTime<Utc> = AS_OF.parse()?;
    let people = (n / 20).max(10);
    let span = Duration::days(540).num_seconds() as u64;
    let mut rng = Rng(42);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&file)?);
    for i in 0..n {
        let p = rng.below(people);
        let s = (p + rng.below(2)) as usize % SYSTEMS.len();
        let system = SYSTEMS[s];
        let at = (as_of - Duration::seconds(rng.below(span) as i64)).to_rfc3339();
        let interaction = INTERACTIONS[rng.below(5) as usize];
        // The identity shape each system really gives.
        let ident = match system {
            "Jira" if p.is_multiple_of(3) => format!(r#""display_name":"Person {p}""#),
            "Jira" => format!(r#""email":"p{p}@corp.example","display_name":"Person {p}""#),
            "Azure DevOps" => format!(r#""email":"p{p}@corp.example","display_name":"Person {p}""#),
            "ServiceNow" => format!(
                r#""email":"p{p}@corp.example","username":"p{p}","display_name":"Person {p}""#
            ),
            "GitHub" => format!(r#""username":"p{p}-gh""#),
            _ => format!(r#""username":"p{p}","email":"p{p}@corp.example""#),
        };
        writeln!(
            out,
            r#"{{"kind":"user","system":"{system}","at":"{at}",{ident},"interaction":"{interaction}","project":"P{}","entity_type":"Bug","entity_id":"E{}"}}"#,
            p % 40,
            i % 100_000
        )?;
        if i.is_multiple_of(10) {
            let e = rng.below(n / 20 + 1);
            let t = (s + 1) % SYSTEMS.len();
            let status = if rng.below(25) == 0 {
                "failed"
            } else {
                "success"
            };
            writeln!(
                out,
                r#"{{"kind":"sync","at":"{at}","status":"{status}","source":{{"system":"{system}","project":"P{}","entity_type":"Bug","entity_id":"S{e}"}},"target":{{"system":"{}","project":"Q{}","entity_type":"Task","entity_id":"T{e}"}}}}"#,
                e % 40,
                SYSTEMS[t],
                e % 40
            )?;
        }
    }
    out.flush()?;
    eprintln!(
        "generated {n} observations for {people} people into {}",
        file.display()
    );
    Ok(())
}

async fn collect_file(file: PathBuf, db: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let connector = Arc::new(tally_jsonl::JsonlConnector::new("bench", file));
    let summary = collect::collect(db, vec![connector], CancellationToken::new(), None).await?;
    let c = &summary.connectors[0];
    eprintln!(
        "collect: {} records ({} new) in {:.2}s, state {:?}",
        c.received,
        c.new.total(),
        started.elapsed().as_secs_f64(),
        c.state
    );
    Ok(())
}

fn export(db: PathBuf, out: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = Store::open(&db)?;
    let report = build_report(&store, &ReportOptions::new(AS_OF.parse()?))?;
    let built = started.elapsed();
    eprintln!("export: after the report: {}", peak_memory());
    let path = tally_core::export::write_usage_reports(&report, &out)?;
    let written = started.elapsed();
    eprintln!(
        "export: report {:.2}s, total {:.2}s; 1 year: {} users, {} Detailed User Report rows -> {}",
        built.as_secs_f64(),
        written.as_secs_f64(),
        report.one_year.summary.total_unique_users,
        report.one_year.users.len(),
        path.display()
    );
    eprintln!("export: after the workbooks: {}", peak_memory());
    // Freeing a million users' rows and closing the store are part of the process's time
    // too: shown apart, so the split is visible.
    drop(report);
    let freed = started.elapsed();
    drop(store);
    eprintln!(
        "export: report freed in {:.2}s, store closed in {:.2}s",
        (freed - written).as_secs_f64(),
        (started.elapsed() - freed).as_secs_f64()
    );
    Ok(())
}

/// A directory of `n` accounts read once a day for `days` days, 1 % of them changing
/// (status or product) each day, written through the store's writer one read a
/// transaction; prints the time and the store's size after the first and the last read.
fn accounts(n: u64, days: i64, db: PathBuf) -> anyhow::Result<()> {
    use tally_core::{Account, AccountStatus, Record};
    let start: DateTime<Utc> = "2026-10-01T06:00:00Z".parse()?;
    let size = |db: &PathBuf| -> u64 {
        ["", "-wal"]
            .iter()
            .filter_map(|ext| std::fs::metadata(format!("{}{ext}", db.display())).ok())
            .map(|m| m.len())
            .sum()
    };
    let before = size(&db);
    let mut rng = Rng(7);
    let mut products = vec![0u8; n as usize];
    let mut disabled = vec![false; n as usize];
    let started = Instant::now();
    let mut first = 0;
    for day in 0..days {
        for _ in 0..n / 100 {
            let i = rng.below(n) as usize;
            if rng.below(2) == 0 {
                disabled[i] = !disabled[i];
            } else {
                products[i] = (products[i] + 1) % 3;
            }
        }
        let at = start + Duration::days(day);
        let records: Vec<Record> = (0..n as usize)
            .map(|i| {
                Record::Account(Account {
                    system: SYSTEMS[i % 3].into(),
                    at,
                    id: format!("acct-{i:07}"),
                    email: Some(format!("p{i}@corp.example")),
                    username: Some(format!("p{i}")),
                    display_name: Some(format!("Person {i}")),
                    status: if disabled[i] {
                        AccountStatus::Disabled
                    } else {
                        AccountStatus::Active
                    },
                    billable: true,
                    product: Some(["Standard", "Premium", "Free"][usize::from(products[i])].into()),
                    last_active: None,
                    two_step: None,
                    sso: Some(true),
                    service_account: false,
                })
            })
            .collect();
        let day_started = Instant::now();
        let mut store = Store::open(&db)?;
        let new = store.writer()?.write_all(&records)?.accounts;
        drop(store);
        let grown = size(&db) - before;
        if day == 0 {
            first = grown;
        }
        eprintln!(
            "accounts: day {day}: {new} new reads stored in {:.2}s; store +{grown} bytes",
            day_started.elapsed().as_secs_f64()
        );
    }
    let grown = size(&db) - before;
    eprintln!(
        "accounts: {n} accounts x {days} reads in {:.2}s; store grew {first} bytes for the first read, {grown} bytes for all ({:+.1} %)",
        started.elapsed().as_secs_f64(),
        (grown as f64 - first as f64) * 100.0 / first.max(1) as f64
    );
    Ok(())
}

/// Current and peak resident memory, from /proc (Linux), to see which phase peaks.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() -> anyhow::Result<()> {
    allocator::configure();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> anyhow::Result<&String> {
        args.get(i).with_context(|| {
            "usage: bench generate N FILE | collect FILE DB | export DB OUT | accounts N DAYS DB"
        })
    };
    match arg(0)?.as_str() {
        "generate" => generate(arg(1)?.parse()?, arg(2)?.into()),
        "collect" => {
            tokio::runtime::Runtime::new()?.block_on(collect_file(arg(1)?.into(), arg(2)?.into()))
        }
        "export" => export(arg(1)?.into(), arg(2)?.into()),
        "accounts" => accounts(arg(1)?.parse()?, arg(2)?.parse()?, arg(3)?.into()),
        other => bail!("unknown phase {other}"),
    }
}
