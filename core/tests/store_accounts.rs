//! Accounts in the store (SPEC §2 `account`): the state at T is the read with the latest
//! `at` not after T, reads are idempotent, and the store grows with changes of accounts,
//! not with how often the directory is read.

use chrono::{DateTime, Duration, Utc};
use tally_core::store::Store;
use tally_core::{Account, AccountStatus, Record};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn account(id: &str, at: DateTime<Utc>, status: AccountStatus, product: &str) -> Record {
    Record::Account(Account {
        system: "Jira".into(),
        at,
        id: id.into(),
        email: Some(format!("{id}@corp.example")),
        username: None,
        display_name: Some(format!("Person {id}")),
        status,
        billable: true,
        product: Some(product.into()),
        last_active: None,
        two_step: None,
        sso: Some(true),
        service_account: false,
    })
}

fn write(store: &mut Store, records: &[Record]) -> u64 {
    store
        .writer()
        .expect("writer")
        .write_all(records)
        .expect("write")
        .accounts
}

/// (id, status, product) of every account at `at`.
fn states(store: &Store, at: DateTime<Utc>) -> Vec<(String, AccountStatus, String)> {
    store
        .accounts_at(at)
        .expect("accounts")
        .into_iter()
        .map(|a| (a.id, a.status, a.product.unwrap_or_default()))
        .collect()
}

/// One account's history: active on days 0..10, disabled on days 10..20, active again
/// with another product from day 20 on; read daily for 30 days.
fn history(start: DateTime<Utc>) -> Vec<Record> {
    (0..30)
        .map(|day| {
            let (status, product) = match day {
                0..=9 => (AccountStatus::Active, "Jira Software"),
                10..=19 => (AccountStatus::Disabled, "Jira Software"),
                _ => (AccountStatus::Active, "Jira Service Management"),
            };
            account("a1", start + Duration::days(day), status, product)
        })
        .collect()
}

fn expected_on(day: i64) -> Option<(AccountStatus, &'static str)> {
    match day {
        ..0 => None,
        0..=9 => Some((AccountStatus::Active, "Jira Software")),
        10..=19 => Some((AccountStatus::Disabled, "Jira Software")),
        _ => Some((AccountStatus::Active, "Jira Service Management")),
    }
}

fn check_every_day(store: &Store, start: DateTime<Utc>, how: &str) {
    for day in -1..32 {
        // Mid-day, and exactly at the read.
        for at in [
            start + Duration::days(day),
            start + Duration::days(day) + Duration::hours(12),
        ] {
            let got = states(store, at);
            let want: Vec<_> = expected_on(day)
                .into_iter()
                .map(|(s, p)| ("a1".to_owned(), s, p.to_owned()))
                .collect();
            assert_eq!(got, want, "{how}: state at {at}");
        }
    }
}

#[test]
fn the_state_at_a_time_is_the_latest_read_not_after_it_in_any_arrival_order() {
    let start = t("2026-10-01T06:00:00Z");
    let reads = history(start);

    let dir = tempfile::tempdir().expect("dir");
    let mut in_order = Store::open(&dir.path().join("a.db")).expect("open");
    assert_eq!(write(&mut in_order, &reads), 30, "every read is news once");
    check_every_day(&in_order, start, "in order");

    let mut reversed = Store::open(&dir.path().join("b.db")).expect("open");
    let mut backwards = reads.clone();
    backwards.reverse();
    write(&mut reversed, &backwards);
    check_every_day(&reversed, start, "newest first");

    // Even days first, then the odd ones in between: every odd read lands inside or
    // between runs of the even ones.
    let mut interleaved = Store::open(&dir.path().join("c.db")).expect("open");
    let (even, odd): (Vec<_>, Vec<_>) = reads
        .iter()
        .cloned()
        .enumerate()
        .partition(|(i, _)| i % 2 == 0);
    let even: Vec<Record> = even.into_iter().map(|(_, r)| r).collect();
    let odd: Vec<Record> = odd.into_iter().map(|(_, r)| r).collect();
    write(&mut interleaved, &even);
    write(&mut interleaved, &odd);
    check_every_day(&interleaved, start, "even days, then odd days");
}

#[test]
fn reading_the_same_accounts_again_changes_nothing() {
    let start = t("2026-10-01T06:00:00Z");
    let reads = history(start);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.db");
    let mut store = Store::open(&path).expect("open");
    write(&mut store, &reads);
    drop(store);
    let mut store = Store::open(&path).expect("reopen");
    assert_eq!(
        write(&mut store, &reads),
        0,
        "a fresh writer, the same reads"
    );
    assert_eq!(write(&mut store, &reads[5..12]), 0, "a part of them again");
    check_every_day(&store, start, "after reading twice");
}

#[test]
fn a_changed_read_for_a_stored_time_keeps_the_first() {
    let at = t("2026-10-01T06:00:00Z");
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("t.db")).expect("open");
    write(&mut store, &[account("a1", at, AccountStatus::Active, "X")]);
    assert_eq!(
        write(
            &mut store,
            &[account("a1", at, AccountStatus::Disabled, "X")]
        ),
        0
    );
    assert_eq!(states(&store, at)[0].1, AccountStatus::Active);
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).expect("size").len()
}

#[test]
fn thirty_daily_reads_of_an_unchanged_directory_grow_the_store_by_less_than_a_tenth() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("t.db");
    let start = t("2026-10-01T06:00:00Z");
    let read = |day: i64| -> Vec<Record> {
        (0..2_000)
            .map(|i| {
                account(
                    &format!("acc-{i:05}"),
                    start + Duration::days(day),
                    AccountStatus::Active,
                    "Jira Software",
                )
            })
            .collect()
    };
    let mut store = Store::open(&path).expect("open");
    write(&mut store, &read(0));
    // Closing the last connection folds the write-ahead log into the file.
    drop(store);
    let first = file_size(&path);
    for day in 1..30 {
        let mut store = Store::open(&path).expect("open");
        write(&mut store, &read(day));
    }
    let after = file_size(&path);
    assert!(
        after * 10 < first * 11,
        "30 reads: {after} bytes, one read: {first} bytes"
    );
    let store = Store::open(&path).expect("open");
    let now = store
        .accounts_at(start + Duration::days(40))
        .expect("accounts");
    assert_eq!(now.len(), 2_000);
    assert_eq!(
        now[0].at,
        start + Duration::days(29),
        "the last read is kept"
    );
    assert_eq!(
        store
            .accounts_at(start - Duration::days(1))
            .expect("accounts")
            .len(),
        0
    );
}
