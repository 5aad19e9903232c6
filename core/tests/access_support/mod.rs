//! Builders shared by the access-insights tests: accounts and observations as a directory
//! and a sync log would give them, and a store they are written to.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use tally_core::report::access::AccessInsights;
use tally_core::report::{access_insights, AccessOptions};
use tally_core::store::Store;
use tally_core::{Account, AccountStatus, Interaction, Record, TwoStep, UserObservation};

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 time")
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// An active, billable account read at `at`, with the given identifiers ("" = absent).
pub fn account(
    system: &str,
    id: &str,
    at: &str,
    email: &str,
    username: &str,
    display: &str,
) -> Account {
    Account {
        system: system.into(),
        at: t(at),
        id: id.into(),
        email: opt(email),
        username: opt(username),
        display_name: opt(display),
        status: AccountStatus::Active,
        billable: true,
        product: None,
        last_active: None,
        two_step: None,
        sso: None,
        service_account: false,
    }
}

/// Field setters, so a case reads as what is special about it.
pub trait AccountExt {
    fn disabled(self) -> Self;
    fn not_billable(self) -> Self;
    fn product(self, p: &str) -> Self;
    fn last_active(self, at: &str) -> Self;
    fn two_step(self, on: bool) -> Self;
    fn sso(self, on: bool) -> Self;
    fn service(self) -> Self;
    fn rec(self) -> Record;
}

impl AccountExt for Account {
    fn disabled(mut self) -> Self {
        self.status = AccountStatus::Disabled;
        self
    }
    fn not_billable(mut self) -> Self {
        self.billable = false;
        self
    }
    fn product(mut self, p: &str) -> Self {
        self.product = Some(p.into());
        self
    }
    fn last_active(mut self, at: &str) -> Self {
        self.last_active = Some(t(at));
        self
    }
    fn two_step(mut self, on: bool) -> Self {
        self.two_step = Some(if on {
            TwoStep::Enabled
        } else {
            TwoStep::Disabled
        });
        self
    }
    fn sso(mut self, on: bool) -> Self {
        self.sso = Some(on);
        self
    }
    fn service(mut self) -> Self {
        self.service_account = true;
        self
    }
    fn rec(self) -> Record {
        Record::Account(self)
    }
}

/// One `user` observation ("" = absent).
pub fn seen(system: &str, at: &str, email: &str, username: &str, display: &str) -> Record {
    Record::User(UserObservation {
        system: system.into(),
        at: t(at),
        email: opt(email),
        username: opt(username),
        display_name: opt(display),
        interaction: Interaction::Updater,
        project: Some("OPS".into()),
        entity_type: Some("Bug".into()),
        entity_id: Some("OPS-1".into()),
        service_account: false,
    })
}

/// A flagged service-account observation.
pub fn seen_service(system: &str, at: &str, username: &str) -> Record {
    let Record::User(mut u) = seen(system, at, "", username, "") else {
        unreachable!("seen builds a user record")
    };
    u.service_account = true;
    Record::User(u)
}

pub fn store_with(records: &[Record]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(&dir.path().join("tally.db")).expect("open store");
    write(&mut store, records);
    (dir, store)
}

/// Writes `records` through the store's writer, in one transaction.
pub fn write(store: &mut Store, records: &[Record]) {
    store
        .writer()
        .expect("store writer")
        .write_all(records)
        .expect("write records");
}

/// The insights of `records` written through the store, as every front end reads them.
pub fn insights_of(records: &[Record], opts: &AccessOptions) -> AccessInsights {
    let (_dir, store) = store_with(records);
    access_insights(&store, opts).expect("access insights")
}

pub fn opts(as_of: &str) -> AccessOptions {
    AccessOptions::new(t(as_of))
}

pub fn managed(as_of: &str, domains: &[&str]) -> AccessOptions {
    let mut o = opts(as_of);
    o.managed_domains = domains.iter().map(|d| d.to_string()).collect();
    o
}
