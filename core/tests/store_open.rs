//! Opening a store: someone else's SQLite file is refused untouched, naming it; a store
//! of schema 1 (identities with unique text indexes, one account row per read) is
//! migrated with everything in it.

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use tally_core::store::Store;
use tally_core::{Interaction, Record, UserObservation};

#[test]
fn an_sqlite_file_that_is_not_a_tally_store_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("foo.db");
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch("CREATE TABLE foo (x INTEGER); INSERT INTO foo VALUES (1);")
        .expect("foo");
    drop(conn);
    let before = std::fs::read(&path).expect("read");
    let err = Store::open(&path).err().expect("refused").to_string();
    assert!(
        err.contains("foo.db") && err.contains("not a tally store") && err.contains("foo"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "not a byte changed"
    );
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

#[test]
fn a_schema_1_store_is_migrated_with_its_observations_and_accounts() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("old.db");
    let conn = Connection::open(&path).expect("open");
    // The schema-1 tables as main wrote them.
    conn.execute_batch(
        r#"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE identities (id INTEGER PRIMARY KEY, system TEXT NOT NULL, email TEXT NOT NULL,
            username TEXT NOT NULL, display_name TEXT NOT NULL, service_account INTEGER NOT NULL,
            UNIQUE (system, email, username, display_name, service_account));
        CREATE TABLE entities (id INTEGER PRIMARY KEY, system TEXT NOT NULL, project TEXT NOT NULL,
            entity_type TEXT NOT NULL, entity_id TEXT NOT NULL,
            UNIQUE (system, project, entity_type, entity_id));
        CREATE TABLE projects (id INTEGER PRIMARY KEY, system TEXT NOT NULL, project TEXT NOT NULL,
            UNIQUE (system, project));
        CREATE TABLE observations (identity INTEGER NOT NULL, at INTEGER NOT NULL,
            interaction INTEGER NOT NULL, project INTEGER NOT NULL,
            PRIMARY KEY (identity, at, interaction, project)) WITHOUT ROWID;
        CREATE TABLE syncs (source INTEGER NOT NULL, target INTEGER NOT NULL, at INTEGER NOT NULL,
            success INTEGER NOT NULL, PRIMARY KEY (source, target, at, success)) WITHOUT ROWID;
        CREATE TABLE integrations (name TEXT PRIMARY KEY, active INTEGER NOT NULL,
            updated_at INTEGER NOT NULL, ends TEXT NOT NULL);
        CREATE TABLE accounts (system TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL,
            state TEXT NOT NULL, PRIMARY KEY (system, id, at)) WITHOUT ROWID;
        CREATE TABLE cursors (connector TEXT PRIMARY KEY, cursor TEXT NOT NULL, saved_at INTEGER NOT NULL);
        INSERT INTO identities VALUES (1, 'Jira', 'ann@corp.example', '', 'Ann', 0);
        INSERT INTO projects VALUES (1, 'Jira', 'OPS');
        INSERT INTO observations VALUES (1, 1790000000000, 1, 1);
        INSERT INTO accounts VALUES ('Jira', 'a1', 1790000000000,
            '{"system":"Jira","at":"2026-09-21T14:13:20Z","id":"a1","status":"active"}');
        INSERT INTO accounts VALUES ('Jira', 'a1', 1790086400000,
            '{"system":"Jira","at":"2026-09-22T14:13:20Z","id":"a1","status":"active"}');
        INSERT INTO accounts VALUES ('Jira', 'a1', 1790172800000,
            '{"system":"Jira","at":"2026-09-23T14:13:20Z","id":"a1","status":"disabled"}');"#,
    )
    .expect("schema 1");
    drop(conn);

    let mut store = Store::open(&path).expect("migrated");
    let (identities, observations, _, _) = store.counts().expect("counts");
    assert_eq!((identities, observations), (1, 1));
    let at = |s| store.accounts_at(t(s)).expect("accounts");
    assert_eq!(
        at("2026-09-22T20:00:00Z")[0].status,
        tally_core::AccountStatus::Active
    );
    assert_eq!(
        at("2026-09-24T00:00:00Z")[0].status,
        tally_core::AccountStatus::Disabled
    );
    assert!(at("2026-09-20T00:00:00Z").is_empty());
    // The same observation again is known; a new person gets a new id.
    let obs = |email: &str| {
        Record::User(UserObservation {
            system: "Jira".into(),
            at: tally_core::store::from_millis(1_790_000_000_000),
            email: Some(email.into()),
            username: None,
            display_name: Some("Ann".into()),
            interaction: Interaction::CommentAuthor,
            project: Some("OPS".into()),
            entity_type: None,
            entity_id: None,
            service_account: false,
        })
    };
    let counts = store
        .writer()
        .expect("writer")
        .write_all(&[obs("ann@corp.example"), obs("bob@corp.example")])
        .expect("write");
    assert_eq!(
        counts.observations, 1,
        "Ann's observation was stored already"
    );
    assert_eq!(store.counts().expect("counts").0, 2);
}
