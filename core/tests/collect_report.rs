//! Collection into the store and the report built from it: what an administrator would
//! notice — window edges, cursors, failing connectors, duplicates, service accounts.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tally_core::collect::{collect, CollectEvent, ConnectorState};
use tally_core::connector::CancellationToken;
use tally_core::identity::Rule;
use tally_core::report::{build_report, ReportOptions, WindowKind};
use tally_core::store::Store;
use tally_core::{
    Connector, ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord,
    SyncStatus, UserObservation,
};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn user(system: &str, at: DateTime<Utc>, email: &str, username: &str, display: &str) -> Record {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Record::User(UserObservation {
        system: system.into(),
        at,
        email: opt(email),
        username: opt(username),
        display_name: opt(display),
        interaction: Interaction::Updater,
        project: None,
        entity_type: None,
        entity_id: None,
        service_account: false,
    })
}

/// A connector that sends fixed records, checkpoints, then ends as told.
struct Scripted {
    name: String,
    records: Vec<Record>,
    checkpoint_after: Option<usize>,
    end: End,
}

#[derive(Clone, Copy)]
enum End {
    Ok,
    Fail,
    Panic,
}

#[async_trait]
impl Connector for Scripted {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> &str {
        "scripted"
    }
    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        for (i, r) in self.records.iter().enumerate() {
            ctx.send(r.clone()).await?;
            if self.checkpoint_after == Some(i + 1) {
                ctx.checkpoint(format!("after-{}", i + 1)).await?;
            }
        }
        match self.end {
            End::Ok => Ok(()),
            End::Fail => Err(ConnectorError::Source("the end system said no".into())),
            End::Panic => panic!("connector bug"),
        }
    }
}

fn scripted(
    name: &str,
    records: Vec<Record>,
    checkpoint_after: Option<usize>,
    end: End,
) -> Arc<dyn Connector> {
    Arc::new(Scripted {
        name: name.into(),
        records,
        checkpoint_after,
        end,
    })
}

#[tokio::test]
async fn failing_and_panicking_connectors_end_alone_and_keep_what_they_sent() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("t.db");
    let now = t("2026-10-01T00:00:00Z");
    let good = scripted(
        "good",
        vec![user("A", now, "a@x.example", "a", "")],
        None,
        End::Ok,
    );
    let failing = scripted(
        "failing",
        vec![
            user("B", now, "b@x.example", "b", ""),
            user("B", now, "c@x.example", "c", ""),
        ],
        Some(1),
        End::Fail,
    );
    let panicking = scripted(
        "panicking",
        vec![user("C", now, "", "d", "")],
        None,
        End::Panic,
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let summary = collect(
        db.clone(),
        vec![good, failing, panicking],
        CancellationToken::new(),
        Some(tx),
    )
    .await
    .expect("collect");
    assert_eq!(summary.connectors[0].state, ConnectorState::Done);
    assert!(
        matches!(&summary.connectors[1].state, ConnectorState::Failed(e) if e.contains("the end system said no"))
    );
    assert!(
        matches!(&summary.connectors[2].state, ConnectorState::Failed(e) if e.contains("panicked: connector bug"))
    );
    let mut finished = 0;
    while let Ok(e) = rx.try_recv() {
        if matches!(e, CollectEvent::Finished { .. }) {
            finished += 1;
        }
    }
    assert_eq!(finished, 3);

    let store = Store::open(&db).expect("open");
    // Everything sent is stored, the failing connector's cursor is its last checkpoint.
    assert_eq!(store.counts().expect("counts").1, 4);
    assert_eq!(
        store.cursor("failing").expect("c").as_deref(),
        Some("after-1")
    );
    assert_eq!(store.cursor("good").expect("c"), None);
    let report =
        build_report(&store, &ReportOptions::new(t("2026-11-01T00:00:00Z"))).expect("report");
    assert_eq!(report.six_months.summary.total_unique_users, 4);
}

#[tokio::test]
async fn the_saved_cursor_is_handed_to_the_next_run() {
    struct Echo;
    #[async_trait]
    impl Connector for Echo {
        fn name(&self) -> &str {
            "echo"
        }
        fn kind(&self) -> &str {
            "echo"
        }
        async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
            let n: u32 = ctx.cursor().map(|c| c.parse().unwrap_or(0)).unwrap_or(0);
            ctx.checkpoint((n + 1).to_string()).await
        }
    }
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("t.db");
    for _ in 0..3 {
        collect(
            db.clone(),
            vec![Arc::new(Echo)],
            CancellationToken::new(),
            None,
        )
        .await
        .expect("collect");
    }
    let store = Store::open(&db).expect("open");
    assert_eq!(store.cursor("echo").expect("c").as_deref(), Some("3"));
}

fn store_with(records: &[Record]) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("t.db")).expect("open");
    store
        .writer()
        .expect("w")
        .write_all(records)
        .expect("write");
    (dir, store)
}

#[test]
fn window_edges_are_inclusive_and_calendar_months() {
    let as_of = t("2026-08-31T12:00:00Z");
    // 6 calendar months before Aug 31 is Feb 28 (2026 is no leap year).
    let start = t("2026-02-28T12:00:00Z");
    let (_d, store) = store_with(&[
        user("A", start, "", "at-start", ""),
        user("A", as_of, "", "at-end", ""),
        user(
            "A",
            start - Duration::milliseconds(1),
            "",
            "just-before",
            "",
        ),
        user("A", as_of + Duration::milliseconds(1), "", "just-after", ""),
    ]);
    let report = build_report(&store, &ReportOptions::new(as_of)).expect("report");
    let w = report.window(WindowKind::SixMonths);
    assert_eq!(w.window.start, start);
    let names: Vec<&str> = w
        .users
        .iter()
        .map(|u| u.usernames().first().unwrap_or_default())
        .collect();
    assert_eq!(names, ["at-end", "at-start"]);
    assert_eq!(report.one_year.summary.total_unique_users, 3);
}

#[test]
fn duplicates_service_accounts_and_monthly_activity() {
    let as_of = t("2026-11-01T00:00:00Z");
    let (_d, store) = store_with(&[
        user(
            "Jira",
            t("2026-10-01T00:00:00Z"),
            "ann@corp.example",
            "ann",
            "Ann Lee",
        ),
        user(
            "GitLab",
            t("2026-09-01T00:00:00Z"),
            "ann@corp.example",
            "annl",
            "Ann Lee",
        ),
        user("GitLab", t("2026-09-02T00:00:00Z"), "", "svc-build", ""),
        user(
            "Jira",
            t("2026-06-15T00:00:00Z"),
            "bob@corp.example",
            "",
            "",
        ),
    ]);
    let mut options = ReportOptions::new(as_of);
    options.service_account_patterns = vec!["svc-*".into()];
    let report = build_report(&store, &options).expect("report");
    let w = &report.six_months;
    assert_eq!(w.summary.total_unique_users, 2);
    assert_eq!(w.summary.service_accounts, 1);
    assert_eq!(w.summary.by_rule[Rule::UsernamesOrEmails.index()], 1);
    assert_eq!(w.summary.by_rule[Rule::Emails.index()], 1);
    let ann = w
        .users
        .iter()
        .find(|u| u.emails() == ["ann@corp.example"])
        .expect("ann");
    assert_eq!(
        ann.duplicates().collect::<Vec<_>>(),
        [("ann", "Jira"), ("annl", "GitLab")]
    );
    assert_eq!(ann.observed_in().len(), 2);
    let gitlab = w
        .user_counts
        .iter()
        .find(|c| c.system == "GitLab")
        .expect("gitlab");
    assert_eq!(gitlab.count, 1, "the service account is not counted");
    let months: Vec<(&str, u64)> = w
        .monthly_active
        .iter()
        .map(|m| (m.month.as_str(), m.users))
        .collect();
    assert_eq!(
        months,
        [
            ("2026-05", 0),
            ("2026-06", 1),
            ("2026-07", 0),
            ("2026-08", 0),
            ("2026-09", 1),
            ("2026-10", 1),
            ("2026-11", 0)
        ]
    );
}

#[test]
fn an_entity_synced_many_times_counts_once_and_failures_only_in_outcomes() {
    let e = |system: &str, id: &str| EntityRef {
        system: system.into(),
        project: Some("P".into()),
        entity_type: Some("Bug".into()),
        entity_id: id.into(),
    };
    let sync = |at: &str, a: EntityRef, b: EntityRef, ok: bool| {
        Record::Sync(SyncRecord {
            at: t(at),
            status: if ok {
                SyncStatus::Success
            } else {
                SyncStatus::Failed
            },
            source: a,
            target: b,
        })
    };
    let mut records = Vec::new();
    for day in 1..=9 {
        let at = format!("2026-10-0{day}T00:00:00Z");
        // Both directions: the same unordered pair.
        records.push(sync(&at, e("Jira", "J-1"), e("ADO", "1"), true));
        records.push(sync(&at, e("ADO", "1"), e("Jira", "J-1"), true));
    }
    records.push(sync(
        "2026-10-01T00:00:00Z",
        e("Jira", "J-2"),
        e("ADO", "2"),
        false,
    ));
    let (_d, store) = store_with(&records);
    let report =
        build_report(&store, &ReportOptions::new(t("2026-11-01T00:00:00Z"))).expect("report");
    let w = &report.six_months;
    assert_eq!(w.summary.entities_synced, 1);
    assert_eq!(w.synced[0].last_synced, t("2026-10-09T00:00:00Z"));
    assert_eq!(w.summary.unique_entity_types, 2);
    assert_eq!(w.sync_outcomes[0].succeeded, 18);
    assert_eq!(w.sync_outcomes[0].failed, 1);
    assert_eq!(
        w.projects.len(),
        1,
        "a synced project pair without an integration is listed"
    );
    assert_eq!(w.projects[0].status.label(), "Not configured");
}
