//! The embedded database (SQLite): idempotent upserts on natural keys, cursors per
//! connector.
//!
//! Observations are stored against interned identity tuples (and projects), syncs against
//! interned entities, so the report reads a small table of distinct identities and streams
//! the narrow observation rows once instead of holding them in memory.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use rustc_hash::FxHashMap;

use crate::model::{Account, Integration, IntegrationEnd, IntegrationStatus, Record, SyncStatus};
use tally_model::{EntityView, RecordBlock, RecordView, SyncView, UserView};

/// 1: identities, projects and entities with unique text indexes, ids from SQLite.
/// 2: no unique text indexes (the writer assigns ids from its key map under the write
///    lock); accounts as runs of equal reads (`account_keys`, `account_runs`) instead
///    of one row per read.
const SCHEMA_VERSION: i64 = 2;

/// The page size of a new store, SQLite's largest. A batch's rows go into the B-trees in
/// key order; with 64 KiB pages there are a sixteenth as many pages to find, split and
/// write per row than with 4 KiB: a 10 M collection took 24.7 s instead of 30–31 s, a
/// 1 M one 2.1–2.4 s instead of 2.8–3.0 s, and the export was as fast, to identical
/// workbooks (bench/RESULTS.md, "The writer on two threads"). A store made with another
/// page size keeps it.
const PAGE_SIZE: u32 = 65_536;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    email TEXT NOT NULL,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    service_account INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    project TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    project TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS observations (
    identity INTEGER NOT NULL,
    at INTEGER NOT NULL,
    interaction INTEGER NOT NULL,
    project INTEGER NOT NULL,
    PRIMARY KEY (identity, at, interaction, project)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS syncs (
    source INTEGER NOT NULL,
    target INTEGER NOT NULL,
    at INTEGER NOT NULL,
    success INTEGER NOT NULL,
    PRIMARY KEY (source, target, at, success)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS integrations (
    name TEXT PRIMARY KEY,
    active INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    ends TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_keys (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    account_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS account_runs (
    account INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (account, first_at)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    connector TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    saved_at INTEGER NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("store {path}: created by a newer tally (schema {found}, this tally knows {SCHEMA_VERSION}); use a newer tally or another store path")]
    Schema { path: PathBuf, found: i64 },
    #[error("store {path}: an SQLite database that is not a tally store (it holds {tables}); tally leaves it untouched: choose another store path")]
    NotTally { path: PathBuf, tables: String },
    #[error("store {path}: unknown schema version {found:?} in its meta table; this tally knows versions 1 and {SCHEMA_VERSION}: choose another store path")]
    UnknownSchema { path: PathBuf, found: String },
    #[error("store {path}: cannot take the writer lock: {source}; check that the store's directory is writable")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store {path}: another program wrote to table {table} during this collection (an older tally?); nothing of this batch was written: run the collection again when it is done")]
    Concurrent { path: PathBuf, table: &'static str },
    #[error("store {path}: corrupt value in table {table}: {detail}")]
    Corrupt {
        path: PathBuf,
        table: &'static str,
        detail: String,
    },
}

/// Milliseconds since the Unix epoch: the stored form of every timestamp.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// An open store. One connection; the collector's writer and the report each open their
/// own (SQLite's WAL lets the report read while collection writes).
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// A distinct identity tuple as stored (empty string = absent).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredIdentity {
    pub system: String,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub service_account: bool,
}

/// One stored sync: its ends by entity id ([`Store::for_each_entity_ref`] reads them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredSync {
    pub source_id: i64,
    pub target_id: i64,
    pub at: i64,
    pub success: bool,
}

/// One stored entity, borrowed from the row being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredEntityRef<'a> {
    pub system: &'a str,
    pub project: &'a str,
    pub entity_type: &'a str,
    pub entity_id: &'a str,
}

/// How many rows a batch really added (the rest were already stored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub observations: u64,
    pub syncs: u64,
    pub integrations: u64,
    pub accounts: u64,
}

impl WriteCounts {
    pub fn total(&self) -> u64 {
        self.observations + self.syncs + self.integrations + self.accounts
    }

    pub fn add(&mut self, other: WriteCounts) {
        self.observations += other.observations;
        self.syncs += other.syncs;
        self.integrations += other.integrations;
        self.accounts += other.accounts;
    }
}

/// The schema of the database in `conn`: `None` for an empty database (a new store),
/// `Some(version)` for a tally store this tally can open; anything else is an error that
/// names the file and what to do.
fn inspect(conn: &Connection, path: &Path) -> Result<Option<i64>, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(err)?;
    if tables.is_empty() {
        return Ok(None);
    }
    let version: Option<String> = if tables.iter().any(|t| t == "meta") {
        conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(err)?
    } else {
        None
    };
    let Some(version) = version else {
        return Err(StoreError::NotTally {
            path: path.to_path_buf(),
            tables: tables.into_iter().take(5).collect::<Vec<_>>().join(", "),
        });
    };
    match version.trim().parse::<i64>() {
        Ok(v) if v > SCHEMA_VERSION => Err(StoreError::Schema {
            path: path.to_path_buf(),
            found: v,
        }),
        Ok(v) if v == 1 || v == SCHEMA_VERSION => Ok(Some(v)),
        _ => Err(StoreError::UnknownSchema {
            path: path.to_path_buf(),
            found: version,
        }),
    }
}

/// Schema 1 to 2: the key tables lose their unique text indexes (SQLite drops such an
/// index only with its table, so each is copied). Runs inside the caller's transaction.
fn migrate_from_1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE identities_2 (
             id INTEGER PRIMARY KEY, system TEXT NOT NULL, email TEXT NOT NULL,
             username TEXT NOT NULL, display_name TEXT NOT NULL,
             service_account INTEGER NOT NULL);
         INSERT INTO identities_2 SELECT id, system, email, username, display_name,
             service_account FROM identities;
         DROP TABLE identities;
         ALTER TABLE identities_2 RENAME TO identities;
         CREATE TABLE entities_2 (
             id INTEGER PRIMARY KEY, system TEXT NOT NULL, project TEXT NOT NULL,
             entity_type TEXT NOT NULL, entity_id TEXT NOT NULL);
         INSERT INTO entities_2 SELECT id, system, project, entity_type, entity_id
             FROM entities;
         DROP TABLE entities;
         ALTER TABLE entities_2 RENAME TO entities;
         CREATE TABLE projects_2 (
             id INTEGER PRIMARY KEY, system TEXT NOT NULL, project TEXT NOT NULL);
         INSERT INTO projects_2 SELECT id, system, project FROM projects;
         DROP TABLE projects;
         ALTER TABLE projects_2 RENAME TO projects;
         UPDATE meta SET value = '2' WHERE key = 'schema';",
    )?;
    conn.execute_batch(SCHEMA)?;
    // One row per read becomes one run per stretch of equal reads.
    let mut read =
        conn.prepare("SELECT system, id, at, state FROM accounts ORDER BY system, id, at")?;
    let mut rows = read.query([])?;
    let mut current: Option<(String, String, i64)> = None;
    let mut next_id = 0i64;
    let mut run: Option<Run> = None;
    let write_run = |account: i64, run: &Run| {
        conn.prepare_cached(INSERT_RUN)?
            .execute(params![account, run.first, run.last, run.state])
            .map(|_| ())
    };
    while let Some(r) = rows.next()? {
        let (system, id, at, json): (String, String, i64, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        let Ok(account) = serde_json::from_str::<Account>(&json) else {
            continue;
        };
        let state = serde_json::to_string(&AccountState::of(&account))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let same_account = current
            .as_ref()
            .is_some_and(|(s, i, _)| *s == system && *i == id);
        if !same_account {
            if let (Some((_, _, key)), Some(run)) = (&current, run.take()) {
                write_run(*key, &run)?;
            }
            next_id += 1;
            conn.prepare_cached(INSERT_ACCOUNT_KEY)?
                .execute(params![next_id, system, id])?;
            current = Some((system, id, next_id));
        }
        match &mut run {
            Some(open) if open.state == state => open.last = at,
            _ => {
                if let Some(done) = run.take() {
                    write_run(next_id, &done)?;
                }
                run = Some(Run {
                    first: at,
                    last: at,
                    state,
                });
            }
        }
    }
    if let (Some((_, _, key)), Some(run)) = (&current, run.take()) {
        write_run(*key, &run)?;
    }
    drop(rows);
    drop(read);
    conn.execute_batch("DROP TABLE accounts;")
}

/// How long a connection waits for another one's lock before it gives up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `PRAGMA journal_mode = WAL`, waiting as long as the busy timeout while another
/// connection holds the lock. SQLite answers this pragma "database is locked" at once,
/// without its busy handler, when another connection is switching the same new file at
/// that moment: the TUI's first report and the demo's collection open the scratch store
/// together, and one of them failed so now and then.
fn switch_to_wal(conn: &Connection) -> rusqlite::Result<()> {
    let pause = std::time::Duration::from_millis(5);
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(pause)
            }
            other => return other.map(|_| ()),
        }
    }
}

fn opt(value: Option<&str>) -> &str {
    value.map(trim).unwrap_or("")
}

/// `str::trim`, with a shortcut for the usual value, which starts and ends with a
/// visible ASCII character and so has nothing to trim (`trim`'s Unicode test per end
/// took 3 % of the stager's time).
#[inline]
fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`. A store of schema 1 is migrated
    /// in place; a newer one, or an SQLite file that is not a tally store, is refused
    /// untouched.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // Look before changing anything: journal_mode = WAL alone would rewrite the
        // header of someone else's database.
        let state = inspect(&conn, path)?;
        if state.is_none() {
            // Before anything is written: the page size of a database is fixed then.
            conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
                .map_err(err)?;
        }
        switch_to_wal(&conn).map_err(err)?;
        conn.execute_batch(&format!(
            "PRAGMA synchronous = NORMAL;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -{STORE_CACHE_KIB};",
        ))
        .map_err(err)?;
        if state != Some(SCHEMA_VERSION) {
            // Create or migrate under the write lock, looking again: another process may
            // have done it meanwhile.
            conn.execute_batch("BEGIN IMMEDIATE").map_err(err)?;
            let done = inspect(&conn, path).and_then(|state| match state {
                None => conn
                    .execute_batch(SCHEMA)
                    .and_then(|()| {
                        conn.execute(
                            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?1)",
                            [SCHEMA_VERSION.to_string()],
                        )
                    })
                    .map(|_| ())
                    .map_err(err),
                Some(1) => migrate_from_1(&conn).map_err(err),
                Some(_) => Ok(()),
            });
            match done {
                Ok(()) => conn.execute_batch("COMMIT").map_err(err)?,
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    return Err(e);
                }
            }
        }
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The largest id in `table` (one of tally's own), 0 when it is empty.
    fn max_id(&self, table: &str) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT COALESCE(MAX(id), 0) FROM {table}"),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Column `i` of row `r` as text borrowed from the row.
    fn text_at<'r>(&self, r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, StoreError> {
        r.get_ref(i)
            .and_then(|v| {
                v.as_str().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(i, v.data_type(), Box::new(e))
                })
            })
            .map_err(|e| self.err(e))
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The saved cursor of connector `name`.
    pub fn cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT cursor FROM cursors WHERE connector = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// When connector `name` last saved its cursor (the end of its last collection that
    /// got anywhere), if ever.
    pub fn cursor_saved_at(&self, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.conn
            .query_row(
                "SELECT saved_at FROM cursors WHERE connector = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|ms| ms.map(from_millis))
            .map_err(|e| self.err(e))
    }

    /// Sets SQLite's page cache of this connection to `kib` KiB. A report streams each
    /// table once, so a large cache would only hold pages it never reads again.
    pub fn set_cache_kib(&self, kib: u32) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!("PRAGMA cache_size = -{kib};"))
            .map_err(|e| self.err(e))
    }

    /// Runs `f` over every stored identity tuple, by id, owned (for callers that keep
    /// them; [`Store::for_each_identity_ref`] reads without allocating).
    pub fn for_each_identity(
        &self,
        mut f: impl FnMut(i64, StoredIdentity),
    ) -> Result<(), StoreError> {
        self.for_each_identity_ref(
            |_| true,
            |id, [system, email, username, display_name], service_account| {
                f(
                    id,
                    StoredIdentity {
                        system: system.to_owned(),
                        email: email.to_owned(),
                        username: username.to_owned(),
                        display_name: display_name.to_owned(),
                        service_account,
                    },
                );
            },
        )
    }

    /// Every stored identity tuple with the text borrowed from the row and `keep(id)`
    /// asked first, so identities the caller skips cost no decoding and none allocates:
    /// `f(id, system, email, username, display_name, service_account)`.
    pub fn for_each_identity_ref(
        &self,
        keep: impl FnMut(i64) -> bool,
        mut f: impl FnMut(i64, [&str; 4], bool),
    ) -> Result<(), StoreError> {
        self.for_each_kept(
            "SELECT id, system, email, username, display_name, service_account FROM identities ORDER BY id",
            keep,
            |id, r| {
                let text = |i: usize| self.text_at(r, i);
                let parts = [text(1)?, text(2)?, text(3)?, text(4)?];
                let service_account: bool = r.get(5).map_err(|e| self.err(e))?;
                f(id, parts, service_account);
                Ok(())
            },
        )
    }

    /// Runs `f(id, row)` over the rows of `sql` (id first) whose id `keep` takes.
    fn for_each_kept(
        &self,
        sql: &str,
        mut keep: impl FnMut(i64) -> bool,
        mut f: impl FnMut(i64, &rusqlite::Row<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = r.get(0).map_err(|e| self.err(e))?;
            if keep(id) {
                f(id, r)?;
            }
        }
        Ok(())
    }

    /// Whether any account was read at or before `as_of` (the access insights have
    /// nothing to say otherwise).
    pub fn has_accounts_at(&self, as_of: DateTime<Utc>) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM account_runs WHERE first_at <= ?1)",
                [to_millis(as_of)],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    pub fn max_identity_id(&self) -> Result<i64, StoreError> {
        self.max_id("identities")
    }

    /// Streams `(identity, at_millis, interaction_code)` of observations with `at` in
    /// `[from, to]` (milliseconds, inclusive).
    pub fn for_each_observation(
        &self,
        from: i64,
        to: i64,
        f: impl FnMut(i64, i64, u8),
    ) -> Result<(), StoreError> {
        self.for_each_observation_of(i64::MIN..=i64::MAX, from, to, f)
    }

    /// [`Store::for_each_observation`] for the identity ids in `identities` only: a range
    /// of the primary key, so two connections can read disjoint halves at once.
    pub fn for_each_observation_of(
        &self,
        identities: std::ops::RangeInclusive<i64>,
        from: i64,
        to: i64,
        mut f: impl FnMut(i64, i64, u8),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT identity, at, interaction FROM observations
                 WHERE identity BETWEEN ?1 AND ?2 AND at BETWEEN ?3 AND ?4",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query([*identities.start(), *identities.end(), from, to])
            .map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, i64)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            };
            let (id, at, code) = get(r).map_err(|e| self.err(e))?;
            f(id, at, u8::try_from(code).unwrap_or(u8::MAX));
        }
        Ok(())
    }

    /// Streams the syncs with `at` in `[from, to]` (milliseconds, inclusive). The ends
    /// are ids: joining each sync to its two entities cost a random B-tree lookup per
    /// end (2.7 s of a 10 M export, mostly page reads); a reader collects the ids and
    /// reads the entities in one pass in id order ([`Store::for_each_entity_ref`]).
    pub fn for_each_sync(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(StoredSync),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, target, at, success FROM syncs WHERE at BETWEEN ?1 AND ?2")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([from, to]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<StoredSync> {
                Ok(StoredSync {
                    source_id: r.get(0)?,
                    target_id: r.get(1)?,
                    at: r.get(2)?,
                    success: r.get(3)?,
                })
            };
            f(get(r).map_err(|e| self.err(e))?);
        }
        Ok(())
    }

    pub fn max_entity_id(&self) -> Result<i64, StoreError> {
        self.max_id("entities")
    }

    /// Every stored entity in id order with `keep(id)` asked first, its text borrowed from
    /// the row, so an entity the caller skips costs no decoding. The first error `f`
    /// returns stops the read and is returned.
    pub fn for_each_entity_ref(
        &self,
        keep: impl FnMut(i64) -> bool,
        mut f: impl FnMut(i64, StoredEntityRef<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.for_each_kept(
            "SELECT id, system, project, entity_type, entity_id FROM entities ORDER BY id",
            keep,
            |id, r| {
                let text = |i: usize| self.text_at(r, i);
                f(
                    id,
                    StoredEntityRef {
                        system: text(1)?,
                        project: text(2)?,
                        entity_type: text(3)?,
                        entity_id: text(4)?,
                    },
                )
            },
        )
    }

    /// The state of every account at `as_of`: for each (system, id), its record with the
    /// latest `at` not after `as_of` (SPEC §2), ordered by system, then id. Its `at` is
    /// that of the read, except inside a run of equal reads whose end is after `as_of`:
    /// there it is the run's first read (the state is the same; which of the collapsed
    /// reads was last before `as_of` is not kept).
    pub fn accounts_at(&self, as_of: DateTime<Utc>) -> Result<Vec<Account>, StoreError> {
        let t = to_millis(as_of);
        let mut stmt = self.conn.prepare(NEWEST_RUNS).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([t]).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(String, String, i64, i64)> {
                Ok((r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            };
            let (system, id, first, last) = get(r).map_err(|e| self.err(e))?;
            let state = self.text_at(r, 5)?;
            let state: AccountState =
                serde_json::from_str(state).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    table: "account_runs",
                    detail: format!("account {system}/{id}: {e}"),
                })?;
            let at = if t >= last { last } else { first };
            out.push(state.into_account(system, id, at));
        }
        // Keys are unique, so an unstable sort gives the one order.
        out.sort_unstable_by(|a, b| (&a.system, &a.id).cmp(&(&b.system, &b.id)));
        Ok(out)
    }

    /// Every stored integration.
    pub fn integrations(&self) -> Result<Vec<Integration>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, active, updated_at, ends FROM integrations ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (name, active, updated_at, ends) = row.map_err(|e| self.err(e))?;
            let ends: [IntegrationEnd; 2] =
                serde_json::from_str(&ends).map_err(|e| StoreError::Corrupt {
                    path: self.path.clone(),
                    table: "integrations",
                    detail: format!("{name}: {e}"),
                })?;
            out.push(Integration {
                name,
                status: if active {
                    IntegrationStatus::Active
                } else {
                    IntegrationStatus::Inactive
                },
                updated_at: from_millis(updated_at),
                ends,
            });
        }
        Ok(out)
    }

    /// Row counts of the main tables: (identities, observations, syncs, integrations).
    pub fn counts(&self) -> Result<(u64, u64, u64, u64), StoreError> {
        let n = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
        };
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM identities), (SELECT COUNT(*) FROM observations),
                        (SELECT COUNT(*) FROM syncs), (SELECT COUNT(*) FROM integrations)",
                [],
                |r| Ok((n(r, 0)?, n(r, 1)?, n(r, 2)?, n(r, 3)?)),
            )
            .map_err(|e| self.err(e))
    }
}

/// What an account record says besides its key (`system`, `id`) and `at`: two reads with
/// equal states are one run in `account_runs`.
#[derive(serde::Serialize, serde::Deserialize)]
struct AccountState {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    status: crate::model::AccountStatus,
    billable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_active: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    two_step: Option<crate::model::TwoStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sso: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    service_account: bool,
}

impl AccountState {
    fn of(a: &Account) -> AccountState {
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        AccountState {
            email: trimmed(&a.email),
            username: trimmed(&a.username),
            display_name: trimmed(&a.display_name),
            status: a.status,
            billable: a.billable,
            product: trimmed(&a.product),
            last_active: a.last_active.map(to_millis),
            two_step: a.two_step,
            sso: a.sso,
            service_account: a.service_account,
        }
    }

    fn into_account(self, system: String, id: String, at: i64) -> Account {
        Account {
            system,
            at: from_millis(at),
            id,
            email: self.email,
            username: self.username,
            display_name: self.display_name,
            status: self.status,
            billable: self.billable,
            product: self.product,
            last_active: self.last_active.map(from_millis),
            two_step: self.two_step,
            sso: self.sso,
            service_account: self.service_account,
        }
    }
}

/// One stored run of equal reads of an account: every read with `at` in
/// `[first, last]` had this state.
#[derive(Clone)]
struct Run {
    first: i64,
    last: i64,
    state: String,
}

/// The newest run of an account as the writer last wrote or read it; `dirty`: its
/// `last` moved on and is written at commit (one UPDATE per account and transaction,
/// not one per read).
struct LatestRun {
    first: i64,
    last: i64,
    digest: u128,
    dirty: bool,
}

const RUN_AT_OR_BEFORE: &str = "SELECT first_at, last_at, state FROM account_runs
     WHERE account = ?1 AND first_at <= ?2 ORDER BY first_at DESC LIMIT 1";
const RUN_AFTER: &str = "SELECT first_at, last_at, state FROM account_runs
     WHERE account = ?1 AND first_at > ?2 ORDER BY first_at LIMIT 1";
const INSERT_RUN: &str =
    "INSERT INTO account_runs (account, first_at, last_at, state) VALUES (?1, ?2, ?3, ?4)";
const SET_RUN_LAST: &str =
    "UPDATE account_runs SET last_at = ?3 WHERE account = ?1 AND first_at = ?2";
const DELETE_RUN: &str = "DELETE FROM account_runs WHERE account = ?1 AND first_at = ?2";

fn run_query(conn: &Connection, sql: &str, account: i64, at: i64) -> rusqlite::Result<Option<Run>> {
    conn.prepare_cached(sql)?
        .query_row(params![account, at], |r| {
            Ok(Run {
                first: r.get(0)?,
                last: r.get(1)?,
                state: r.get(2)?,
            })
        })
        .optional()
}

/// Adds the read (`account`, `at`, `state`) to the runs in the database, whatever its
/// order relative to the reads already stored. Returns whether anything changed (false:
/// the read was stored already).
///
/// A read inside a run of another state splits it: the run keeps its first read, and
/// its last read becomes a run of its own. The reads collapsed between those two are
/// not known any more, so between the new read and the old run's last one the new state
/// is taken to last (README-performance "accounts").
fn add_read(conn: &Connection, account: i64, at: i64, state: &str) -> rusqlite::Result<bool> {
    let before = run_query(conn, RUN_AT_OR_BEFORE, account, at)?;
    if let Some(p) = &before {
        if at <= p.last {
            // A read already stored (at a run's end, or inside a run of its state), or
            // another state for a stored (system, id, at): the first one stays.
            if p.state == state || at == p.first || at == p.last {
                return Ok(false);
            }
            conn.prepare_cached(SET_RUN_LAST)?
                .execute(params![account, p.first, p.first])?;
            conn.prepare_cached(INSERT_RUN)?
                .execute(params![account, at, at, state])?;
            conn.prepare_cached(INSERT_RUN)?
                .execute(params![account, p.last, p.last, p.state])?;
            return Ok(true);
        }
    }
    let after = run_query(conn, RUN_AFTER, account, at)?;
    let same_before = before.as_ref().filter(|p| p.state == state);
    let same_after = after.as_ref().filter(|n| n.state == state);
    match (same_before, same_after) {
        (Some(p), Some(n)) => {
            conn.prepare_cached(SET_RUN_LAST)?
                .execute(params![account, p.first, n.last])?;
            conn.prepare_cached(DELETE_RUN)?
                .execute(params![account, n.first])?;
        }
        (Some(p), None) => {
            conn.prepare_cached(SET_RUN_LAST)?
                .execute(params![account, p.first, at])?;
        }
        (None, Some(n)) => {
            conn.prepare_cached(DELETE_RUN)?
                .execute(params![account, n.first])?;
            conn.prepare_cached(INSERT_RUN)?
                .execute(params![account, at, n.last, state])?;
        }
        (None, None) => {
            conn.prepare_cached(INSERT_RUN)?
                .execute(params![account, at, at, state])?;
        }
    }
    Ok(true)
}

impl LatestRun {
    fn of(run: &Run) -> LatestRun {
        LatestRun {
            first: run.first,
            last: run.last,
            digest: key_digest(&[&run.state], false),
            dirty: false,
        }
    }
}

/// The newest run of every stored account.
/// Per account key (`id`, `system`, `account_id`), its newest run begun by `?1`
/// (`first_at`, `last_at`, `state`): two seeks in the primary key (the max() of a key
/// prefix is one seek), so the older runs of a store of daily reads are never read.
/// Scanning every run with `GROUP BY account` read them all, about a third more time on
/// 30 daily reads of 100,000 accounts (bench/RESULTS-insights.md). CROSS JOIN keeps the
/// keys as the outer loop.
const NEWEST_RUNS: &str = "SELECT k.id, k.system, k.account_id, r.first_at, r.last_at, r.state
     FROM account_keys k CROSS JOIN account_runs r
     ON r.account = k.id AND r.first_at = (
         SELECT max(first_at) FROM account_runs WHERE account = k.id AND first_at <= ?1)";

fn load_latest_runs(
    conn: &Connection,
    into: &mut FxHashMap<i64, LatestRun>,
) -> rusqlite::Result<()> {
    into.clear();
    let mut stmt = conn.prepare(NEWEST_RUNS)?;
    let mut rows = stmt.query([i64::MAX])?;
    while let Some(r) = rows.next()? {
        let run = Run {
            first: r.get(3)?,
            last: r.get(4)?,
            state: r.get(5)?,
        };
        into.insert(r.get(0)?, LatestRun::of(&run));
    }
    Ok(())
}

fn write_latest(conn: &Connection, account: i64, latest: &mut LatestRun) -> rusqlite::Result<()> {
    if latest.dirty {
        conn.prepare_cached(SET_RUN_LAST)?
            .execute(params![account, latest.first, latest.last])?;
        latest.dirty = false;
    }
    Ok(())
}

/// Maps keys made of string parts (plus a flag) to row ids, holding only a 128-bit digest
/// of each key, so the writer's memory is about 32 bytes per distinct identity, project
/// or entity whatever the length of its names.
///
/// The digest is two 64-bit lanes with different secrets (see [`key_digest`]); two
/// different keys are taken for one only if both lanes collide at once (about 2^-128 per
/// pair, far below the chance of a disk error). Digests are never stored on disk, so the
/// function may change between versions: the map is rebuilt from the tables on open.
///
/// Entries are 20 bytes (the digest as four `u32`, the id as `u32`) instead of 32 for
/// `(u128, i64)`, whose 16-byte alignment padded each entry: at 10 M observations the
/// maps hold about 2.6 M keys (README-performance "key maps").
///
/// The table is open addressing with linear probing, an entry's home slot taken from
/// its digest's low 32 bits scaled to the table (the digest is already uniform, so
/// nothing is hashed again), and it grows by half, not double: a power-of-two table
/// just past a threshold took a 10 M collection from 272 to 319 MiB. It is split by the
/// digest's top bits into [`KEY_MAP_SHARDS`] tables that grow one at a time, so growing
/// holds an old and a new copy of a sixteenth of the map, not of all of it.
/// A lookup costs one cache miss where a `HashMap`'s control bytes and entries cost two:
/// the misses were four fifths of the stager's interning (README-performance "key maps").
#[derive(Default)]
struct KeyMap {
    shards: Vec<Shard>,
    /// The next id to hand out (ids are assigned here, not by SQLite).
    next: i64,
}

const KEY_MAP_SHARDS: usize = 16;

/// The shard of `key` in a [`KeyMap`], by its top four bits.
fn shard_of(key: &[u32; 4]) -> usize {
    (key[3] >> 28) as usize
}

impl KeyMap {
    fn get(&self, digest: u128) -> Option<i64> {
        let key = packed(digest);
        self.shards.get(shard_of(&key))?.get(&key)
    }

    /// Asks the processor to fetch the slot where looking `digest` up begins, so that a
    /// lookup a few records later finds it in the cache.
    fn prefetch(&self, digest: u128) {
        let key = packed(digest);
        if let Some(shard) = self.shards.get(shard_of(&key)) {
            if let Some(slot) = shard.slots.get(shard.home(&key)) {
                prefetch(slot);
            }
        }
    }

    /// Maps `digest` to `id` and returns the id as stored (a `u32`); fails only past
    /// 4,294,967,294 keys in one table.
    fn insert(&mut self, digest: u128, id: i64) -> Result<u32, String> {
        let stored = id
            .checked_add(1)
            .and_then(|i| u32::try_from(i).ok())
            .ok_or_else(|| format!("key id {id} is out of range"))?;
        if self.shards.is_empty() {
            self.shards = (0..KEY_MAP_SHARDS).map(|_| Shard::default()).collect();
        }
        let key = packed(digest);
        if let Some(shard) = self.shards.get_mut(shard_of(&key)) {
            shard.insert(key, stored);
        }
        Ok(stored - 1)
    }

    fn remove(&mut self, digest: u128) {
        let key = packed(digest);
        if let Some(shard) = self.shards.get_mut(shard_of(&key)) {
            shard.remove(&key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len).sum()
    }
}

/// One table of a [`KeyMap`].
#[derive(Default)]
struct Shard {
    /// `[digest…, id + 1]`; an id of 0 marks an empty slot.
    slots: Vec<[u32; 5]>,
    len: usize,
}

/// Slots filled at most to this fraction (in eighths): linear probing stays short.
const KEY_MAP_LOAD_EIGHTHS: usize = 6;

impl Shard {
    /// Where probing for `key` starts: its low 32 bits scaled to the table's length.
    fn home(&self, key: &[u32; 4]) -> usize {
        ((u64::from(key[0]) * self.slots.len() as u64) >> 32) as usize
    }

    fn after(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: &[u32; 4]) -> usize {
        let mut i = self.home(key);
        loop {
            let s = &self.slots[i];
            if s[4] == 0 || s[..4] == key[..] {
                return i;
            }
            i = self.after(i);
        }
    }

    fn get(&self, key: &[u32; 4]) -> Option<i64> {
        if self.slots.is_empty() {
            return None;
        }
        let s = &self.slots[self.slot(key)];
        (s[4] != 0).then(|| i64::from(s[4] - 1))
    }

    /// `stored`: the id + 1.
    fn insert(&mut self, key: [u32; 4], stored: u32) {
        if (self.len + 1) * 8 > self.slots.len() * KEY_MAP_LOAD_EIGHTHS {
            self.grow();
        }
        let i = self.slot(&key);
        if self.slots[i][4] == 0 {
            self.len += 1;
        }
        self.slots[i] = [key[0], key[1], key[2], key[3], stored];
    }

    fn grow(&mut self) {
        let size = (self.slots.len() / 2 * 3).max(256);
        let old = std::mem::replace(&mut self.slots, vec![[0; 5]; size]);
        for entry in old.into_iter().filter(|e| e[4] != 0) {
            let key = [entry[0], entry[1], entry[2], entry[3]];
            let i = self.slot(&key);
            self.slots[i] = entry;
        }
    }

    /// Removes `key`'s entry, moving back the entries after it that would otherwise no
    /// longer be found (linear probing's deletion, no tombstones).
    fn remove(&mut self, key: &[u32; 4]) {
        if self.slots.is_empty() {
            return;
        }
        let mut hole = self.slot(key);
        if self.slots[hole][4] == 0 {
            return;
        }
        let mut j = hole;
        loop {
            j = self.after(j);
            if self.slots[j][4] == 0 {
                break;
            }
            let s = self.slots[j];
            let home = self.home(&[s[0], s[1], s[2], s[3]]);
            // The entry at `j` stays only if its home lies after the hole, up to `j`.
            let stays = if hole <= j {
                hole < home && home <= j
            } else {
                hole < home || home <= j
            };
            if !stays {
                self.slots[hole] = self.slots[j];
                hole = j;
            }
        }
        self.slots[hole] = [0; 5];
        self.len -= 1;
    }
}

/// How many records ahead [`Batch::block`] prefetches an identity's slot: about the
/// records staged while one fetch from memory is under way.
const PREFETCH_AHEAD: usize = 8;

/// The parts of a user record's identity key, as the identities table holds them.
fn identity_key<'a>(u: &UserView<'a>) -> [&'a str; 4] {
    [
        trim(u.system),
        opt(u.email),
        opt(u.username),
        opt(u.display_name),
    ]
}

fn identity_digest(u: &UserView<'_>) -> u128 {
    key_digest(&identity_key(u), u.service_account)
}

/// A hint only: it reads nothing and cannot fault, whatever the address.
#[cfg(target_arch = "x86_64")]
fn prefetch<T>(at: &T) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: SSE, which the instruction needs, is part of every x86_64 processor; a
    // prefetch touches no memory architecturally, so any address is fine.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(at).cast::<i8>()) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch<T>(_: &T) {}

fn packed(digest: u128) -> [u32; 4] {
    [
        digest as u32,
        (digest >> 32) as u32,
        (digest >> 64) as u32,
        (digest >> 96) as u32,
    ]
}

/// The 64x64 -> 128 bit product folded to 64 bits (wyhash's "mum"): every output bit
/// depends on every input bit of both factors.
#[inline(always)]
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// wyhash's secrets (odd, balanced bit counts); lane B uses the other two.
const SECRET: [u64; 4] = [
    0xa076_1d64_78bd_642f,
    0xe703_7ed1_a0b4_28db,
    0x8ebc_6af0_9c88_c6e3,
    0x5899_65cc_7537_4cc3,
];

/// A 128-bit digest of the key `parts` + `flag`: each part's length and its bytes, eight
/// at a time, go through two independent wyhash-style lanes. It replaced SipHash-1-3 +
/// FxHash, which took an eighth of the writer thread (README-performance "digest").
fn key_digest(parts: &[&str], flag: bool) -> u128 {
    let mut a = SECRET[0] ^ u64::from(flag);
    let mut b = SECRET[2] ^ u64::from(flag);
    for p in parts {
        let bytes = p.as_bytes();
        let len = bytes.len() as u64;
        a = mum(a ^ len, SECRET[1]);
        b = mum(b ^ len, SECRET[3]);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            let w = u64::from_le_bytes(w);
            a = mum(a ^ w, SECRET[1]);
            b = mum(b ^ w, SECRET[3]);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            let w = u64::from_le_bytes(w);
            a = mum(a ^ w, SECRET[1]);
            b = mum(b ^ w, SECRET[3]);
        }
    }
    a = mum(a ^ SECRET[2], SECRET[1] ^ (parts.len() as u64));
    b = mum(b ^ SECRET[0], SECRET[3] ^ (parts.len() as u64));
    (u128::from(a) << 64) | u128::from(b)
}

#[derive(Clone, Copy)]
enum Table {
    Identity,
    Project,
    Entity,
    Account,
}

impl Table {
    const ALL: [Table; 4] = [
        Table::Identity,
        Table::Project,
        Table::Entity,
        Table::Account,
    ];

    fn name(self) -> &'static str {
        match self {
            Table::Identity => "identities",
            Table::Project => "projects",
            Table::Entity => "entities",
            Table::Account => "account_keys",
        }
    }

    /// The key columns (text), and whether the key has the service-account flag.
    fn select_from(self) -> &'static str {
        match self {
            Table::Identity => "SELECT id, system, email, username, display_name, service_account FROM identities WHERE id >= ?1",
            Table::Project => "SELECT id, system, project FROM projects WHERE id >= ?1",
            Table::Entity => "SELECT id, system, project, entity_type, entity_id FROM entities WHERE id >= ?1",
            Table::Account => "SELECT id, system, account_id FROM account_keys WHERE id >= ?1",
        }
    }

    fn parts(self) -> (usize, bool) {
        match self {
            Table::Identity => (4, true),
            Table::Project => (2, false),
            Table::Entity => (4, false),
            Table::Account => (2, false),
        }
    }
}

const INSERT_IDENTITY: &str =
    "INSERT INTO identities (id, system, email, username, display_name, service_account)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_PROJECT: &str = "INSERT INTO projects (id, system, project) VALUES (?1, ?2, ?3)";
const INSERT_ENTITY: &str =
    "INSERT INTO entities (id, system, project, entity_type, entity_id) VALUES (?1, ?2, ?3, ?4, ?5)";
const INSERT_ACCOUNT_KEY: &str =
    "INSERT INTO account_keys (id, system, account_id) VALUES (?1, ?2, ?3)";
const INSERT_OBSERVATION: &str =
    "INSERT OR IGNORE INTO observations (identity, at, interaction, project) VALUES (?1, ?2, ?3, ?4)";
const INSERT_SYNC: &str =
    "INSERT OR IGNORE INTO syncs (source, target, at, success) VALUES (?1, ?2, ?3, ?4)";
/// The latest configuration of an integration wins (by `updated_at`), whichever order the
/// records arrive in; equal times are broken by content so the result is still unique.
const UPSERT_INTEGRATION: &str =
    "INSERT INTO integrations (name, active, updated_at, ends) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (name) DO UPDATE SET active = excluded.active,
         updated_at = excluded.updated_at, ends = excluded.ends
     WHERE excluded.updated_at > integrations.updated_at
        OR (excluded.updated_at = integrations.updated_at
            AND (excluded.active, excluded.ends) > (integrations.active, integrations.ends))";
const SAVE_CURSOR: &str = "INSERT INTO cursors (connector, cursor, saved_at) VALUES (?1, ?2, ?3)
     ON CONFLICT (connector) DO UPDATE SET cursor = excluded.cursor, saved_at = excluded.saved_at";

/// Rows bound to one multi-row `INSERT` (4 columns each: 256 parameters, far below
/// SQLite's limit). One statement per 64 rows instead of per row saves the per-statement
/// work (bind, step, reset, halt), a sixth of the writer thread.
const ROWS_PER_INSERT: usize = 64;

/// `INSERT OR IGNORE INTO {table} ({columns}) VALUES (?,?,?,?), …` for
/// [`ROWS_PER_INSERT`] rows.
fn multi_row_insert(table: &str, columns: &str) -> String {
    let row = "(?,?,?,?)";
    let values = vec![row; ROWS_PER_INSERT].join(",");
    format!("INSERT OR IGNORE INTO {table} ({columns}) VALUES {values}")
}

/// Inserts sorted, distinct `rows` (4 integer columns), [`ROWS_PER_INSERT`] at a time
/// where a chunk belongs to one tag, else one by one; `added(tag, n)` gets the rows
/// really added.
fn insert_rows<T>(
    rows: &[T],
    many: &mut rusqlite::Statement<'_>,
    one: &mut rusqlite::Statement<'_>,
    columns: impl Fn(&T) -> [i64; 4],
    tag: impl Fn(&T) -> u16,
    mut added: impl FnMut(u16, u64),
) -> rusqlite::Result<()> {
    let mut chunks = rows.chunks_exact(ROWS_PER_INSERT);
    for chunk in &mut chunks {
        let first = tag(&chunk[0]);
        if chunk.iter().all(|r| tag(r) == first) {
            for (i, r) in chunk.iter().enumerate() {
                for (j, v) in columns(r).into_iter().enumerate() {
                    many.raw_bind_parameter(i * 4 + j + 1, v)?;
                }
            }
            added(first, many.raw_execute()? as u64);
        } else {
            for r in chunk {
                added(tag(r), one.execute(columns(r))? as u64);
            }
        }
    }
    for r in chunks.remainder() {
        added(tag(r), one.execute(columns(r))? as u64);
    }
    Ok(())
}

/// An observation staged in a batch, inserted in key order at commit: one number whose
/// order is the table's key order, the identity in the top 32 bits, then the time (sign
/// flipped), the interaction (3 bits) and the project ([`PROJECT_BITS`]). 16 bytes where
/// a struct with its tag took 24; whose it is, is the list it is in (see
/// [`Staged::observations`]). A 10 M collection holds two batches of 1 M.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StagedObservation(u128);

/// Project ids an observation can be staged with: below 2^29, some 500 million.
const PROJECT_BITS: u32 = 29;

impl StagedObservation {
    fn new(identity: u32, at: i64, interaction: u8, project: u32) -> Option<StagedObservation> {
        if project >> PROJECT_BITS != 0 || interaction >= 8 {
            return None;
        }
        let at = (at as u64) ^ (1 << 63);
        Some(StagedObservation(
            (u128::from(identity) << 96)
                | (u128::from(at) << 32)
                | (u128::from(interaction) << PROJECT_BITS)
                | u128::from(project),
        ))
    }

    /// identity, at, interaction, project
    fn columns(self) -> [i64; 4] {
        let v = self.0;
        [
            (v >> 96) as i64,
            (((v >> 32) as u64) ^ (1 << 63)) as i64,
            ((v >> PROJECT_BITS) & 0b111) as i64,
            (v & ((1 << PROJECT_BITS) - 1)) as i64,
        ]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct StagedSync {
    source: i64,
    target: i64,
    at: i64,
    success: bool,
    tag: u16,
}

/// Writes batches of records in transactions. Its key maps ([`Interner`]) and its SQL
/// side ([`SqlWriter`]) live as long as the writer, so memory grows with distinct
/// identities, projects and synced entities, not with observations. The two halves can
/// work on two threads at once (see [`Writer::split`]): one stages the next batch while
/// the other writes the last one.
pub struct Writer<'s> {
    interner: Interner,
    sql: SqlWriter<'s>,
}

/// The key maps of a writer: they hand out the ids of identities, projects, entities and
/// accounts, in memory and without SQLite, so a batch can be staged while another is
/// being written.
pub struct Interner {
    path: PathBuf,
    keys: [KeyMap; 4],
}

/// The SQL half of a writer: writes [`Staged`] batches, one transaction each, in the
/// order they were staged.
pub struct SqlWriter<'s> {
    conn: &'s Connection,
    path: &'s Path,
    insert_key: [rusqlite::Statement<'s>; 4],
    /// The newest run of each account read so far (see [`LatestRun`]).
    accounts: FxHashMap<i64, LatestRun>,
    /// Whether `accounts` holds the newest run of every stored account (read in one
    /// pass when the first account arrives, instead of one query per account).
    accounts_loaded: bool,
    /// SQLite's `data_version` at the last transaction: when another connection has
    /// committed since, what this writer holds of the account runs may be stale.
    data_version: i64,
    insert_observation: rusqlite::Statement<'s>,
    insert_sync: rusqlite::Statement<'s>,
    insert_observations: rusqlite::Statement<'s>,
    insert_syncs: rusqlite::Statement<'s>,
    upsert_integration: rusqlite::Statement<'s>,
    save_cursor: rusqlite::Statement<'s>,
    /// Held while the writer lives (see [`lock_writer`]).
    _lock: std::fs::File,
    wal: WalFlusher,
}

/// Writes the WAL out to disk on a thread of its own after each commit. Commits do not
/// sync (`synchronous = NORMAL`) but a checkpoint syncs the WAL before copying it into
/// the database, and a collection's WAL is several times the store (every transaction
/// rewrites most pages of the observations): a 10 M collection left about 2 GB in the
/// page cache, and the checkpoints waited 4–6 s for the disk while both cores idled.
/// Syncing as it goes keeps the disk busy while the cores parse. It only adds
/// durability: nothing waits for it, and a nudge while a sync runs is folded into the
/// next one.
struct WalFlusher {
    nudge: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WalFlusher {
    fn start(store: &Path) -> WalFlusher {
        let mut wal = store.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let (nudge, nudged) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("tally-wal-sync".into())
            .spawn(move || {
                let mut file = None;
                while nudged.recv().is_ok() {
                    if file.is_none() {
                        file = std::fs::File::open(&wal).ok();
                    }
                    if let Some(f) = &file {
                        if let Err(e) = f.sync_data() {
                            tracing::debug!(wal = %wal.display(), "WAL sync: {e}");
                        }
                    }
                }
            });
        match thread {
            Ok(thread) => WalFlusher {
                nudge: Some(nudge),
                thread: Some(thread),
            },
            // Without the thread the checkpoints sync everything, as SQLite alone does.
            Err(_) => WalFlusher {
                nudge: None,
                thread: None,
            },
        }
    }

    fn nudge(&self) {
        if let Some(n) = &self.nudge {
            let _ = n.try_send(());
        }
    }
}

impl Drop for WalFlusher {
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A new key staged in a batch. Keys are staged one after another into `Staged::text`:
/// a key's parts are `text[start..ends[0]]`, `[ends[0]..ends[1]]`, … where `start` is
/// where the key before it ended (24 bytes a key besides its text).
struct StagedKey {
    id: u32,
    ends: [u32; 4],
    table: Table,
    flag: bool,
}

struct StagedIntegration {
    tag: u16,
    name: String,
    active: bool,
    updated_at: i64,
    ends: String,
}

struct StagedAccount {
    tag: u16,
    account: i64,
    at: i64,
    state: String,
}

/// One transaction's writes, staged in memory by a [`Batch`] and written by
/// [`SqlWriter::write`].
#[derive(Default)]
pub struct Staged {
    /// Each key map's `next` when the batch began: every id below was stored before it.
    next_at_begin: [i64; 4],
    keys: Vec<StagedKey>,
    text: String,
    /// By tag: the observations of tag `t` are `observations[t]`.
    observations: Vec<Vec<StagedObservation>>,
    syncs: Vec<StagedSync>,
    integrations: Vec<StagedIntegration>,
    accounts: Vec<StagedAccount>,
    cursors: Vec<(String, String, i64)>,
    /// One more than the largest tag used.
    tags: usize,
}

impl Staged {
    /// Records staged (observations and syncs).
    fn len(&self) -> usize {
        self.observations.iter().map(Vec::len).sum::<usize>() + self.syncs.len()
    }

    /// The staged keys with their parts, in the order staged.
    fn key_rows(&self) -> impl Iterator<Item = (&StagedKey, [&str; 4])> + '_ {
        let mut start = 0usize;
        self.keys.iter().map(move |key| {
            let mut parts = [""; 4];
            for (part, &end) in parts.iter_mut().zip(&key.ends) {
                let end = end as usize;
                *part = self.text.get(start..end).unwrap_or("");
                start = end;
            }
            (key, parts)
        })
    }

    /// Puts the rows in key order and drops repeats, as [`SqlWriter::write`] takes
    /// them. Done by whoever stages the batch: in a collection that is the stager's
    /// thread, not the SQL thread, which sets the pace at 10 M observations.
    fn sort(&mut self) {
        for observations in &mut self.observations {
            observations.sort_unstable();
            observations.dedup();
        }
        self.syncs.sort_unstable();
        self.syncs
            .dedup_by_key(|s| (s.source, s.target, s.at, s.success));
    }

    /// Empties the batch for reuse, keeping its buffers.
    fn clear(&mut self, next_at_begin: [i64; 4]) {
        self.next_at_begin = next_at_begin;
        self.keys.clear();
        self.text.clear();
        for tagged in &mut self.observations {
            tagged.clear();
        }
        self.syncs.clear();
        self.integrations.clear();
        self.accounts.clear();
        self.cursors.clear();
        self.tags = 1;
    }
}

/// One batch of a writer: records are staged in memory, nothing touches the database
/// until [`Batch::commit`] (or [`Batch::finish`] and [`SqlWriter::write`]). Dropped
/// uncommitted, it leaves nothing behind, not even the ids it handed out.
///
/// Observations and syncs are written in key order: the table is a B-tree on that key,
/// and rows in key order touch each of its pages once per transaction instead of once
/// per row.
pub struct Batch<'i, 's> {
    interner: &'i mut Interner,
    /// Where [`Batch::commit`] writes (none for a batch of [`Interner::begin`]).
    sql: Option<&'i mut SqlWriter<'s>>,
    /// Keys this batch added to the maps: undone if it is dropped uncommitted, so no
    /// later batch refers to an id that was never stored.
    interned: Vec<(Table, u128)>,
    staged: Staged,
    tag: u16,
    open: bool,
}

/// Takes the store's writer lock: one writer at a time per store, across processes, so
/// that ids handed out in memory stay unique while a batch is staged outside SQLite's
/// write lock. The lock is an advisory lock on `<store>-writer` (released by the system
/// when the process ends, however it ends); a second collection waits for the first.
fn lock_writer(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-writer");
    let lock_path = PathBuf::from(name);
    let err = |source| StoreError::Lock {
        path: lock_path.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(err)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                store = %path.display(),
                "another tally is writing to this store; waiting for it to finish"
            );
            file.lock().map_err(err)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(err(e)),
    }
    Ok(file)
}

impl Store {
    /// Adds to `map` every key of `table` with an id of at least `map.next` (all of them
    /// for a fresh map): what this process has not written itself.
    fn load_keys(&self, table: Table, map: &mut KeyMap) -> Result<(), StoreError> {
        load_keys(&self.conn, &self.path, table, map)
    }

    /// A writer over this store; what was interned earlier is read back from disk. Waits
    /// while another writer (of this or another process) holds the store.
    pub fn writer(&mut self) -> Result<Writer<'_>, StoreError> {
        let lock = lock_writer(&self.path)?;
        let mut keys: [KeyMap; 4] = Default::default();
        for (table, map) in Table::ALL.into_iter().zip(keys.iter_mut()) {
            map.next = 1;
            self.load_keys(table, map)?;
        }
        let conn = &self.conn;
        let err = |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        };
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(err)?;
        let checkpoint_pages = WRITER_AUTOCHECKPOINT_BYTES / page_size.max(512);
        conn.execute_batch(&format!(
            "PRAGMA wal_autocheckpoint = {checkpoint_pages};
             PRAGMA cache_size = -{WRITER_CACHE_KIB};"
        ))
        .map_err(err)?;
        let sql = SqlWriter {
            conn,
            path: &self.path,
            insert_key: [
                conn.prepare(INSERT_IDENTITY).map_err(err)?,
                conn.prepare(INSERT_PROJECT).map_err(err)?,
                conn.prepare(INSERT_ENTITY).map_err(err)?,
                conn.prepare(INSERT_ACCOUNT_KEY).map_err(err)?,
            ],
            accounts: FxHashMap::default(),
            accounts_loaded: false,
            data_version: 0,
            insert_observation: conn.prepare(INSERT_OBSERVATION).map_err(err)?,
            insert_sync: conn.prepare(INSERT_SYNC).map_err(err)?,
            insert_observations: conn
                .prepare(&multi_row_insert(
                    "observations",
                    "identity, at, interaction, project",
                ))
                .map_err(err)?,
            insert_syncs: conn
                .prepare(&multi_row_insert("syncs", "source, target, at, success"))
                .map_err(err)?,
            upsert_integration: conn.prepare(UPSERT_INTEGRATION).map_err(err)?,
            save_cursor: conn.prepare(SAVE_CURSOR).map_err(err)?,
            _lock: lock,
            wal: WalFlusher::start(&self.path),
        };
        Ok(Writer {
            interner: Interner {
                path: self.path.clone(),
                keys,
            },
            sql,
        })
    }
}

fn load_keys(
    conn: &Connection,
    path: &Path,
    table: Table,
    map: &mut KeyMap,
) -> Result<(), StoreError> {
    let err = |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        source,
    };
    let (parts, flagged) = table.parts();
    let mut stmt = conn.prepare_cached(table.select_from()).map_err(err)?;
    let mut rows = stmt.query([map.next]).map_err(err)?;
    let mut owned: Vec<String> = Vec::with_capacity(parts);
    while let Some(r) = rows.next().map_err(err)? {
        owned.clear();
        let id: i64 = r.get(0).map_err(err)?;
        for i in 0..parts {
            owned.push(r.get(i + 1).map_err(err)?);
        }
        let flag: bool = if flagged {
            r.get(parts + 1).map_err(err)?
        } else {
            false
        };
        let borrowed: Vec<&str> = owned.iter().map(String::as_str).collect();
        map.insert(key_digest(&borrowed, flag), id)
            .map_err(|detail| StoreError::Corrupt {
                path: path.to_path_buf(),
                table: table.name(),
                detail,
            })?;
        map.next = map.next.max(id + 1);
    }
    Ok(())
}

impl<'s> Writer<'s> {
    /// A batch committed on this thread by [`Batch::commit`].
    pub fn begin(&mut self) -> Result<Batch<'_, 's>, StoreError> {
        Ok(self.interner.batch(Some(&mut self.sql), Staged::default()))
    }

    /// The key maps and the SQL side apart, to stage batches on one thread
    /// ([`Interner::begin`], [`Batch::finish`]) and write them on another
    /// ([`SqlWriter::write`]), in the order staged.
    pub fn split(&mut self) -> (&mut Interner, &mut SqlWriter<'s>) {
        (&mut self.interner, &mut self.sql)
    }

    /// Convenience: writes `records` in one transaction.
    pub fn write_all(&mut self, records: &[Record]) -> Result<WriteCounts, StoreError> {
        let mut batch = self.begin()?;
        for r in records {
            batch.record(r)?;
        }
        batch.commit()
    }
}

impl Interner {
    /// A batch to stage and then hand over with [`Batch::finish`]. The ids it hands out
    /// are final once it is finished: every staged batch must be written, in order, or
    /// the writer dropped.
    /// `buffers`: a batch already written (by [`SqlWriter::write`]), whose memory is
    /// reused, or [`Staged::default`].
    pub fn begin<'s>(&mut self, buffers: Staged) -> Batch<'_, 's> {
        self.batch(None, buffers)
    }

    fn batch<'i, 's>(
        &'i mut self,
        sql: Option<&'i mut SqlWriter<'s>>,
        mut staged: Staged,
    ) -> Batch<'i, 's> {
        let next_at_begin = [
            self.keys[0].next,
            self.keys[1].next,
            self.keys[2].next,
            self.keys[3].next,
        ];
        staged.clear(next_at_begin);
        Batch {
            interner: self,
            sql,
            interned: Vec::new(),
            staged,
            tag: 0,
            open: true,
        }
    }
}

/// WAL size after which a commit of the writer checkpoints (SQLite's default is 1,000
/// pages). A collection's transactions each rewrite most pages of the observation table,
/// so at the default every commit copied the whole table from the WAL into the database
/// once more (and synced it); the writer also checkpoints when it is dropped. The bound
/// is 256 MiB, not more: a checkpointed WAL is written again from its start, into pages
/// the kernel already holds, while a WAL that only grows takes fresh pages and blocks
/// for each frame. A 10 M collection took 10.7–13.8 s with 1 GiB (one checkpoint, at
/// 1.17 GB of WAL), 8.6–11.9 s with 256 MiB and 15.2 s with 4 GiB (none); at 1 M, whose
/// WAL stays under 256 MiB, nothing changes (bench/RESULTS.md, "The WAL's size").
const WRITER_AUTOCHECKPOINT_BYTES: i64 = 1 << 28;

/// The page cache of a store's connection, in KiB: room for the upper levels of every
/// B-tree a report walks.
const STORE_CACHE_KIB: u32 = 65_536;

/// The page cache while a writer lives, in KiB. A batch's rows go in key order, touching
/// each leaf page once, so a larger cache holds pages that are not needed again in the
/// transaction: 16 MiB instead of 64 took a 10 M collection's peak memory from 368 to
/// 314 MiB at the same speed, and 8 MiB (with a channel of 16 envelopes) from 274 to
/// 259 MiB (bench/RESULTS.md, "The writer on two threads").
const WRITER_CACHE_KIB: u32 = 8_192;

impl Drop for SqlWriter<'_> {
    fn drop(&mut self) {
        // A failure here loses nothing: the committed frames stay in the WAL and the
        // next checkpoint (or open) copies them.
        let _ = self.conn.execute_batch(&format!(
            "PRAGMA wal_checkpoint(PASSIVE); PRAGMA wal_autocheckpoint = 1000;
             PRAGMA cache_size = -{STORE_CACHE_KIB};"
        ));
    }
}

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            self.forget_interned();
        }
    }
}

impl Batch<'_, '_> {
    fn forget_interned(&mut self) {
        for (table, digest) in self.interned.drain(..) {
            self.interner.keys[table as usize].remove(digest);
        }
        for (map, next) in self.interner.keys.iter_mut().zip(self.staged.next_at_begin) {
            map.next = next;
        }
    }

    /// Attributes the rows written from now on to `tag` (e.g. a connector's index), for
    /// [`Batch::commit_by_tag`].
    pub fn set_tag(&mut self, tag: usize) {
        self.tag = u16::try_from(tag).unwrap_or(u16::MAX);
        self.staged.tags = self.staged.tags.max(usize::from(self.tag) + 1);
    }

    /// Records staged so far in this batch (observations and syncs).
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn record(&mut self, record: &Record) -> Result<(), StoreError> {
        self.record_view(record.view())
    }

    pub fn record_view(&mut self, record: RecordView<'_>) -> Result<(), StoreError> {
        match record {
            RecordView::User(u) => self.observation(&u),
            RecordView::Sync(s) => self.sync(&s),
            RecordView::Other(Record::User(u)) => self.observation(&u.view()),
            RecordView::Other(Record::Sync(s)) => self.sync(&s.view()),
            RecordView::Other(Record::Integration(i)) => self.integration(i),
            RecordView::Other(Record::Account(a)) => self.account(a),
        }
    }

    /// Stages every record of `block`, as [`Batch::record_view`] each. Finding an
    /// identity in a key map of a million is a cache miss (20 MB of slots), the most of
    /// the stager's time at 10 M observations; so each user record's key is digested and
    /// its slot prefetched [`PREFETCH_AHEAD`] records before it is looked up.
    pub fn block(&mut self, block: &RecordBlock) -> Result<(), StoreError> {
        let mut records = block.iter();
        // The records taken from the block but not staged yet, each with its identity's
        // digest (user records) once its slot is prefetched.
        let mut ahead = std::collections::VecDeque::with_capacity(PREFETCH_AHEAD + 1);
        loop {
            while ahead.len() <= PREFETCH_AHEAD {
                let Some(record) = records.next() else { break };
                let digest = match &record {
                    RecordView::User(u) => {
                        let digest = identity_digest(u);
                        self.interner.keys[Table::Identity as usize].prefetch(digest);
                        Some(digest)
                    }
                    _ => None,
                };
                ahead.push_back((record, digest));
            }
            match ahead.pop_front() {
                Some((RecordView::User(u), Some(digest))) => self.observation_of(&u, digest)?,
                Some((record, _)) => self.record_view(record)?,
                None => return Ok(()),
            }
        }
    }

    fn corrupt(&self, table: &'static str, detail: String) -> StoreError {
        StoreError::Corrupt {
            path: self.interner.path.clone(),
            table,
            detail,
        }
    }

    /// The id of `parts` in `table`, staging the row the first time.
    fn intern(&mut self, table: Table, parts: &[&str], flag: bool) -> Result<i64, StoreError> {
        self.intern_digested(table, parts, flag, key_digest(parts, flag))
    }

    /// [`Batch::intern`] with `digest` = `key_digest(parts, flag)`.
    fn intern_digested(
        &mut self,
        table: Table,
        parts: &[&str],
        flag: bool,
        digest: u128,
    ) -> Result<i64, StoreError> {
        let map = &mut self.interner.keys[table as usize];
        if let Some(id) = map.get(digest) {
            return Ok(id);
        }
        let id = map.next;
        let staged_id = match map.insert(digest, id) {
            Ok(i) => i,
            Err(detail) => return Err(self.corrupt(table.name(), detail)),
        };
        map.next = id + 1;
        self.interned.push((table, digest));
        let staged = &mut self.staged;
        // Parts a table does not have end where the last one did.
        let mut ends = [0u32; 4];
        let mut end = 0u32;
        for (i, slot) in ends.iter_mut().enumerate() {
            if let Some(part) = parts.get(i) {
                staged.text.push_str(part);
                end = match u32::try_from(staged.text.len()) {
                    Ok(e) => e,
                    Err(_) => {
                        return Err(self.corrupt(
                            table.name(),
                            "a batch's new keys hold over 4 GiB of text".to_owned(),
                        ))
                    }
                };
            }
            *slot = end;
        }
        staged.keys.push(StagedKey {
            id: staged_id,
            ends,
            table,
            flag,
        });
        Ok(id)
    }

    fn observation(&mut self, u: &UserView<'_>) -> Result<(), StoreError> {
        self.observation_of(u, identity_digest(u))
    }

    /// [`Batch::observation`] with the identity's key digested already.
    fn observation_of(&mut self, u: &UserView<'_>, identity: u128) -> Result<(), StoreError> {
        let key = identity_key(u);
        let system = key[0];
        let identity = self.intern_digested(Table::Identity, &key, u.service_account, identity)?;
        // Observations keep their project, not their entity: no count depends on the
        // entity, and interning every work item ever touched would cost memory per item.
        let project = match opt(u.project) {
            "" => 0,
            p => self.intern(Table::Project, &[system, p], false)?,
        };
        let project = u32::try_from(project).map_err(|_| {
            self.corrupt("projects", format!("project id {project} is out of range"))
        })?;
        let staged = u32::try_from(identity)
            .ok()
            .and_then(|i| StagedObservation::new(i, to_millis(u.at), u.interaction.code(), project))
            .ok_or_else(|| {
                self.corrupt(
                    "observations",
                    format!("identity {identity} or project {project} is out of range"),
                )
            })?;
        let by_tag = &mut self.staged.observations;
        let tag = usize::from(self.tag);
        if by_tag.len() <= tag {
            by_tag.resize_with(tag + 1, Vec::new);
        }
        by_tag[tag].push(staged);
        Ok(())
    }

    fn entity_ref(&mut self, e: &EntityView<'_>) -> Result<i64, StoreError> {
        self.intern(
            Table::Entity,
            &[
                trim(e.system),
                opt(e.project),
                opt(e.entity_type),
                trim(e.entity_id),
            ],
            false,
        )
    }

    fn sync(&mut self, s: &SyncView<'_>) -> Result<(), StoreError> {
        let source = self.entity_ref(&s.source)?;
        let target = self.entity_ref(&s.target)?;
        self.staged.syncs.push(StagedSync {
            source,
            target,
            at: to_millis(s.at),
            success: s.status == SyncStatus::Success,
            tag: self.tag,
        });
        Ok(())
    }

    fn integration(&mut self, i: &Integration) -> Result<(), StoreError> {
        let ends = serde_json::to_string(&i.ends)
            .map_err(|e| self.corrupt("integrations", e.to_string()))?;
        self.staged.integrations.push(StagedIntegration {
            tag: self.tag,
            name: i.name.trim().to_owned(),
            active: i.status == IntegrationStatus::Active,
            updated_at: to_millis(i.updated_at),
            ends,
        });
        Ok(())
    }

    fn account(&mut self, a: &Account) -> Result<(), StoreError> {
        let account = self.intern(Table::Account, &[trim(&a.system), trim(&a.id)], false)?;
        let state = serde_json::to_string(&AccountState::of(a))
            .map_err(|e| self.corrupt("account_runs", e.to_string()))?;
        self.staged.accounts.push(StagedAccount {
            tag: self.tag,
            account,
            at: to_millis(a.at),
            state,
        });
        Ok(())
    }

    /// Saves a connector's cursor in this batch's transaction, so it lands with its
    /// records.
    pub fn save_cursor(&mut self, connector: &str, cursor: &str) -> Result<(), StoreError> {
        self.staged.cursors.push((
            connector.to_owned(),
            cursor.to_owned(),
            to_millis(Utc::now()),
        ));
        Ok(())
    }

    /// The staged batch, to be written by [`SqlWriter::write`]; its ids stay handed out.
    pub fn finish(mut self) -> Staged {
        self.open = false;
        self.staged.sort();
        std::mem::take(&mut self.staged)
    }

    pub fn commit(self) -> Result<WriteCounts, StoreError> {
        Ok(self.commit_by_tag()?.0)
    }

    /// Writes the batch in one transaction (of the writer of [`Writer::begin`]); returns
    /// the rows really added, in total and per tag (index = tag). On failure nothing is
    /// written and the ids it handed out are taken back.
    pub fn commit_by_tag(mut self) -> Result<(WriteCounts, Vec<WriteCounts>), StoreError> {
        let Some(sql) = self.sql.take() else {
            return Err(self.corrupt(
                "batch",
                "a batch of Interner::begin is written with SqlWriter::write".to_owned(),
            ));
        };
        // On failure `Drop` forgets what this batch interned (from `staged.next_at_begin`,
        // which the write leaves as it was).
        self.staged.sort();
        let done = sql.write(&mut self.staged)?;
        self.open = false;
        Ok(done)
    }
}

impl SqlWriter<'_> {
    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    /// Writes `staged` (as [`Batch::finish`] left it: sorted) in one transaction; returns
    /// the rows really added, in total and per tag (index = tag). On failure the
    /// transaction is rolled back; the batches staged after this one refer to its ids, so
    /// the writer should then be dropped.
    pub fn write(
        &mut self,
        staged: &mut Staged,
    ) -> Result<(WriteCounts, Vec<WriteCounts>), StoreError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.err(e))?;
        let mut counts = WriteCounts::default();
        let mut by_tag = vec![WriteCounts::default(); staged.tags];
        let written = self
            .write_in_transaction(staged, &mut counts, &mut by_tag)
            .and_then(|()| self.conn.execute_batch("COMMIT").map_err(|e| self.err(e)));
        match written {
            Ok(()) => {
                self.wal.nudge();
                Ok((counts, by_tag))
            }
            Err(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                // The runs may have moved on in memory only.
                self.accounts.clear();
                self.accounts_loaded = false;
                Err(e)
            }
        }
    }

    fn write_in_transaction(
        &mut self,
        staged: &mut Staged,
        counts: &mut WriteCounts,
        by_tag: &mut [WriteCounts],
    ) -> Result<(), StoreError> {
        // Ids are handed out in memory; the writer lock keeps other tallies out, and this
        // check catches a writer that does not take it (an older tally).
        for (table, next) in Table::ALL.into_iter().zip(staged.next_at_begin) {
            let stored: i64 = self
                .conn
                .query_row(
                    &format!("SELECT COALESCE(MAX(id), 0) FROM {}", table.name()),
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if stored >= next {
                return Err(StoreError::Concurrent {
                    path: self.path.to_path_buf(),
                    table: table.name(),
                });
            }
        }
        let version: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version != self.data_version {
            self.accounts.clear();
            self.accounts_loaded = false;
            self.data_version = version;
        }
        for (key, p) in staged.key_rows() {
            let stmt = &mut self.insert_key[key.table as usize];
            let result = match key.table {
                Table::Identity => stmt.execute(params![key.id, p[0], p[1], p[2], p[3], key.flag]),
                Table::Project | Table::Account => stmt.execute(params![key.id, p[0], p[1]]),
                Table::Entity => stmt.execute(params![key.id, p[0], p[1], p[2], p[3]]),
            };
            result.map_err(|e| self.err(e))?;
        }
        for i in &staged.integrations {
            let n = self
                .upsert_integration
                .execute(params![i.name, i.active, i.updated_at, i.ends])
                .map_err(|e| self.err(e))? as u64;
            counts.integrations += n;
            by_tag[usize::from(i.tag)].integrations += n;
        }
        for a in &staged.accounts {
            let n = u64::from(self.account(a)?);
            counts.accounts += n;
            by_tag[usize::from(a.tag)].accounts += n;
        }
        for (connector, cursor, at) in &staged.cursors {
            self.save_cursor
                .execute(params![connector, cursor, at])
                .map_err(|e| self.err(e))?;
        }
        self.flush(staged, counts, by_tag)
    }

    /// Adds one read of an account; returns whether it changed anything.
    fn account(&mut self, a: &StagedAccount) -> Result<bool, StoreError> {
        let (account, at, state) = (a.account, a.at, a.state.as_str());
        let digest = key_digest(&[state], false);
        let err = |source| StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        };
        let conn = self.conn;
        if !self.accounts_loaded {
            load_latest_runs(conn, &mut self.accounts).map_err(err)?;
            self.accounts_loaded = true;
        }
        // The common case, a newer read of an account: in memory only.
        let added = match self.accounts.get_mut(&account) {
            Some(latest) if at > latest.last && latest.digest == digest => {
                latest.last = at;
                latest.dirty = true;
                true
            }
            Some(latest) if at >= latest.first && latest.digest == digest => false,
            Some(latest) if at > latest.last => {
                write_latest(conn, account, latest).map_err(err)?;
                conn.prepare_cached(INSERT_RUN)
                    .and_then(|mut s| s.execute(params![account, at, at, state]))
                    .map_err(err)?;
                *latest = LatestRun {
                    first: at,
                    last: at,
                    digest,
                    dirty: false,
                };
                true
            }
            Some(latest) => {
                // An older read: the general case, in the database.
                write_latest(conn, account, latest).map_err(err)?;
                let added = add_read(conn, account, at, state).map_err(err)?;
                match run_query(conn, RUN_AT_OR_BEFORE, account, i64::MAX).map_err(err)? {
                    Some(run) => *latest = LatestRun::of(&run),
                    None => {
                        self.accounts.remove(&account);
                    }
                }
                added
            }
            None => {
                conn.prepare_cached(INSERT_RUN)
                    .and_then(|mut s| s.execute(params![account, at, at, state]))
                    .map_err(err)?;
                self.accounts.insert(
                    account,
                    LatestRun {
                        first: at,
                        last: at,
                        digest,
                        dirty: false,
                    },
                );
                true
            }
        };
        Ok(added)
    }

    /// Writes the staged rows in key order (an exact duplicate within the batch is
    /// written once).
    fn flush(
        &mut self,
        staged: &mut Staged,
        counts: &mut WriteCounts,
        by_tag: &mut [WriteCounts],
    ) -> Result<(), StoreError> {
        let err = |source| StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        };
        // In key order, like the rows below: in the map's order every update went to
        // another page, and with the writer's small cache each one read its page again
        // (a 5-day read of 100,000 accounts spent 9.5 s of system time copying pages).
        let mut dirty: Vec<(i64, &mut LatestRun)> = self
            .accounts
            .iter_mut()
            .filter(|(_, l)| l.dirty)
            .map(|(a, l)| (*a, l))
            .collect();
        dirty.sort_unstable_by_key(|(a, _)| *a);
        for (account, latest) in dirty {
            write_latest(self.conn, account, latest).map_err(err)?;
        }
        // Sorted by `Staged::sort`. Tag by tag, the smallest first: of equal observations
        // of two tags, the first one's is added and the other's ignored, as in one sorted
        // list.
        for (tag, observations) in staged.observations.iter().enumerate() {
            let tag = u16::try_from(tag).unwrap_or(u16::MAX);
            insert_rows(
                observations,
                &mut self.insert_observations,
                &mut self.insert_observation,
                |o| o.columns(),
                |_| tag,
                |tag, n| {
                    counts.observations += n;
                    by_tag[usize::from(tag)].observations += n;
                },
            )
            .map_err(err)?;
        }
        insert_rows(
            &staged.syncs,
            &mut self.insert_syncs,
            &mut self.insert_sync,
            |s| [s.source, s.target, s.at, i64::from(s.success)],
            |s| s.tag,
            |tag, n| {
                counts.syncs += n;
                by_tag[usize::from(tag)].syncs += n;
            },
        )
        .map_err(err)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Collection outcomes (the provenance of a report: which connector last collected how)
// ---------------------------------------------------------------------------------

/// The `collections` table, created when an outcome is first recorded (in a new store and
/// in one made before the table existed alike): a new table needs no schema version.
const COLLECTIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS collections (
    connector TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    failure TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    received INTEGER NOT NULL,
    last_ok_at INTEGER
);";

/// How one connector's last collection went, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CollectionRecord {
    pub connector: String,
    pub kind: String,
    /// `None` when the collection went well, else why it failed (the connector's error,
    /// which never holds a secret).
    pub failure: Option<String>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// Records the connector sent in that collection.
    pub received: u64,
    /// The end of its last collection that went well, this one or an earlier one.
    pub last_ok_at: Option<DateTime<Utc>>,
}

impl Store {
    /// Records how each connector's last collection went, replacing what was recorded of
    /// it before; the end of its last good collection is kept through failures. One
    /// transaction: a reader sees all of them or none.
    pub fn record_collections(&self, outcomes: &[CollectionRecord]) -> Result<(), StoreError> {
        let run = || -> rusqlite::Result<()> {
            self.conn.execute_batch(COLLECTIONS_TABLE)?;
            let tx = self.conn.unchecked_transaction()?;
            {
                let mut stmt = tx.prepare(
                    "INSERT INTO collections
                         (connector, kind, failure, started_at, ended_at, received, last_ok_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?3 IS NULL THEN ?5 ELSE ?7 END)
                     ON CONFLICT (connector) DO UPDATE SET
                         kind = excluded.kind,
                         failure = excluded.failure,
                         started_at = excluded.started_at,
                         ended_at = excluded.ended_at,
                         received = excluded.received,
                         last_ok_at = CASE WHEN excluded.failure IS NULL
                             THEN excluded.ended_at
                             ELSE coalesce(collections.last_ok_at, excluded.last_ok_at) END",
                )?;
                for o in outcomes {
                    stmt.execute(params![
                        o.connector,
                        o.kind,
                        o.failure,
                        to_millis(o.started_at),
                        to_millis(o.ended_at),
                        i64::try_from(o.received).unwrap_or(i64::MAX),
                        o.last_ok_at.map(to_millis),
                    ])?;
                }
            }
            tx.commit()
        };
        run().map_err(|e| self.err(e))
    }

    /// Every recorded collection outcome, by connector name; none in a store that never
    /// recorded one.
    pub fn collections(&self) -> Result<Vec<CollectionRecord>, StoreError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'collections'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))?;
        if !exists {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT connector, kind, failure, started_at, ended_at, received, last_ok_at
                 FROM collections ORDER BY connector",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CollectionRecord {
                    connector: r.get(0)?,
                    kind: r.get(1)?,
                    failure: r.get(2)?,
                    started_at: from_millis(r.get(3)?),
                    ended_at: from_millis(r.get(4)?),
                    received: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                    last_ok_at: r.get::<_, Option<i64>>(6)?.map(from_millis),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Interaction, UserObservation};

    fn obs(email: &str, at: &str) -> Record {
        Record::User(UserObservation {
            system: "Jira".into(),
            at: at.parse().expect("time"),
            email: Some(email.into()),
            username: None,
            display_name: Some("Ann".into()),
            interaction: Interaction::CommentAuthor,
            project: Some("OPS".into()),
            entity_type: Some("Bug".into()),
            entity_id: Some("OPS-1".into()),
            service_account: false,
        })
    }

    fn integration(active: bool, updated: &str) -> Record {
        Record::Integration(Integration {
            name: "A <-> B".into(),
            status: if active {
                IntegrationStatus::Active
            } else {
                IntegrationStatus::Inactive
            },
            updated_at: updated.parse().expect("time"),
            ends: [
                IntegrationEnd {
                    system: "Jira".into(),
                    project: "OPS".into(),
                    entity_types: vec!["Bug".into()],
                },
                IntegrationEnd {
                    system: "ADO".into(),
                    project: "F".into(),
                    entity_types: vec![],
                },
            ],
        })
    }

    #[test]
    fn the_key_map_finds_what_a_hash_map_finds_through_inserts_and_removals() {
        // Digests crowded onto few home slots (the low 32 bits near 0 and near the top),
        // so probes run long and wrap around.
        let digest = |k: u64| -> u128 {
            let low = if k.is_multiple_of(2) {
                k % 61
            } else {
                u64::from(u32::MAX) - k % 61
            };
            // The top bits pick one of the shards.
            (u128::from(k % 5) << 124)
                | (u128::from(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 32)
                | u128::from(low)
        };
        let mut map = KeyMap::default();
        let mut reference = std::collections::HashMap::new();
        let mut x = 1u64;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 3_000;
            if x.is_multiple_of(3) {
                map.remove(digest(k));
                reference.remove(&k);
            } else {
                map.insert(digest(k), step as i64).expect("insert");
                reference.insert(k, step as i64);
            }
            if step.is_multiple_of(1_000) {
                for k in 0..3_000 {
                    assert_eq!(map.get(digest(k)), reference.get(&k).copied(), "key {k}");
                }
            }
        }
        assert_eq!(map.len(), reference.len());
        // Ids stored as id + 1: the largest id that fits, and the first that does not.
        assert!(map.insert(1, i64::from(u32::MAX) - 1).is_ok());
        assert_eq!(map.get(1), Some(i64::from(u32::MAX) - 1));
        assert!(map.insert(2, i64::from(u32::MAX)).is_err());
    }

    #[test]
    fn a_staged_observation_keeps_its_columns_and_sorts_in_key_order() {
        let times = [
            i64::MIN,
            to_millis("1900-01-01T00:00:00Z".parse().expect("t")),
            -1,
            0,
            1,
            to_millis("9999-12-31T23:59:59Z".parse().expect("t")),
            i64::MAX,
        ];
        let mut rows = Vec::new();
        for identity in [0u32, 1, 7, u32::MAX] {
            for &at in &times {
                for interaction in [0u8, 4] {
                    for project in [0u32, 1, (1 << PROJECT_BITS) - 1] {
                        let o = StagedObservation::new(identity, at, interaction, project)
                            .expect("in range");
                        let columns = [
                            i64::from(identity),
                            at,
                            i64::from(interaction),
                            i64::from(project),
                        ];
                        assert_eq!(o.columns(), columns);
                        rows.push((columns, o));
                    }
                }
            }
        }
        let mut by_number = rows.clone();
        by_number.sort_by_key(|(_, o)| *o);
        rows.sort_by_key(|(c, _)| *c);
        assert!(rows == by_number, "the number's order is the key's order");
        assert!(StagedObservation::new(1, 0, 0, 1 << PROJECT_BITS).is_none());
        assert!(StagedObservation::new(1, 0, 8, 0).is_none());
    }

    #[test]
    fn the_trim_shortcut_trims_what_str_trim_trims() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{b}a",
            "a\u{b}",
            "a\u{a0}",
            "\u{3000}a",
            "é",
            " é ",
            "a\u{85}",
            "\u{1c}a",
            "a b",
            "\ta\n",
            "~x~",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn keys_that_differ_anywhere_have_different_digests() {
        // Moving text between parts, padding to a word boundary, the flag, the number
        // of parts: each must change the key.
        let keys: Vec<(Vec<&str>, bool)> = vec![
            (vec!["ab", "c"], false),
            (vec!["a", "bc"], false),
            (vec!["abc", ""], false),
            (vec!["", "abc"], false),
            (vec!["abc"], false),
            (vec!["abc", "", ""], false),
            (vec!["abc", ""], true),
            (vec!["abcdefgh", ""], false),
            (vec!["abcdefgh\0", ""], false),
            (vec!["abcdefghi", ""], false),
            (vec!["", ""], false),
            (vec![], false),
        ];
        let mut seen = std::collections::HashSet::new();
        for (parts, flag) in &keys {
            assert!(seen.insert(key_digest(parts, *flag)), "{parts:?} {flag}");
        }
        let mut many = std::collections::HashSet::new();
        for i in 0..200_000u32 {
            let email = format!("p{i}@corp.example");
            assert!(many.insert(key_digest(&["Jira", &email, "", "Person"], false)));
        }
    }

    #[test]
    fn rows_added_are_counted_per_tag_across_multi_row_inserts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("t.db")).expect("open");
        let at = |i: u32| format!("2026-01-01T00:{:02}:{:02}Z", i / 60, i % 60);
        let mut w = store.writer().expect("w");
        let mut b = w.begin().expect("begin");
        // Tag 0: 150 rows (two full chunks of one tag); tag 1: 100 rows, 30 of them
        // sharing a chunk with tag 0 rows, 10 duplicates of tag 0's rows.
        for i in 0..150 {
            b.set_tag(0);
            b.record(&obs("a@x.example", &at(i))).expect("rec");
        }
        for i in 140..240 {
            b.set_tag(1);
            b.record(&obs(
                if i < 170 {
                    "a@x.example"
                } else {
                    "b@x.example"
                },
                &at(i),
            ))
            .expect("rec");
        }
        let (total, by_tag) = b.commit_by_tag().expect("commit");
        assert_eq!(total.observations, 240);
        assert_eq!((by_tag[0].observations, by_tag[1].observations), (150, 90));
        let mut b = w.begin().expect("begin");
        for i in 0..240 {
            b.record(&obs("a@x.example", &at(i))).expect("rec");
        }
        assert_eq!(
            b.commit().expect("commit").observations,
            70,
            "only a@'s new times"
        );
        drop(w);
        assert_eq!(store.counts().expect("counts").1, 310);
    }

    #[test]
    fn a_block_is_stored_as_its_records_one_by_one() {
        use crate::model::{EntityRef, SyncRecord};
        // People new to the store, seen again within and beyond the prefetch's reach,
        // between syncs and an integration (which `Batch::block` hands on as they are).
        let mut records = Vec::new();
        for i in 0..300u32 {
            let who = format!("p{}@x.example", (i * 7) % 23);
            records.push(obs(
                &who,
                &format!("2026-01-01T{:02}:{:02}:00Z", i / 60, i % 60),
            ));
            if i % 9 == 0 {
                let entity = |system: &str, id: String| EntityRef {
                    system: system.into(),
                    project: Some("OPS".into()),
                    entity_type: Some("Bug".into()),
                    entity_id: id,
                };
                records.push(Record::Sync(SyncRecord {
                    at: "2026-01-02T00:00:00Z".parse().expect("time"),
                    status: SyncStatus::Success,
                    source: entity("Jira", format!("OPS-{}", i % 5)),
                    target: entity("ADO", format!("{}", i % 5)),
                }));
            }
            if i == 150 {
                records.push(integration(true, "2026-01-01T00:00:00Z"));
            }
        }
        let mut block = RecordBlock::with_capacity(records.len(), 1 << 16);
        for r in &records {
            block.push(r.clone());
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let stored = |name: &str, as_block: bool| {
            let mut store = Store::open(&dir.path().join(name)).expect("open");
            let mut w = store.writer().expect("writer");
            let mut b = w.begin().expect("begin");
            if as_block {
                b.block(&block).expect("block");
            } else {
                for r in &records {
                    b.record(r).expect("record");
                }
            }
            let counts = b.commit().expect("commit");
            drop(w);
            let mut identities = Vec::new();
            store
                .for_each_identity_ref(
                    |_| true,
                    |id, parts, _| identities.push((id, parts[1].to_owned())),
                )
                .expect("identities");
            let mut observations = Vec::new();
            store
                .for_each_observation(i64::MIN, i64::MAX, |id, at, i| {
                    observations.push((id, at, i))
                })
                .expect("observations");
            (
                counts.observations,
                counts.syncs,
                store.counts().expect("counts"),
                identities,
                observations,
            )
        };
        let one_by_one = stored("records.db", false);
        let as_block = stored("block.db", true);
        assert_eq!(
            one_by_one.2,
            (23, 300, 5, 1),
            "identities, observations, syncs, integrations"
        );
        assert_eq!(as_block, one_by_one);
    }

    #[test]
    fn writing_the_same_records_twice_adds_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let records = vec![
            obs("a@x.example", "2026-01-01T00:00:00Z"),
            obs("a@x.example", "2026-01-02T00:00:00Z"),
            obs("b@x.example", "2026-01-01T00:00:00Z"),
        ];
        let mut store = Store::open(&path).expect("open");
        let first = store.writer().expect("w").write_all(&records).expect("w");
        assert_eq!(first.observations, 3);
        drop(store);
        // A fresh writer re-reads the interned ids from disk.
        let mut store = Store::open(&path).expect("open");
        let second = store.writer().expect("w").write_all(&records).expect("w");
        assert_eq!(second.total(), 0);
        let (identities, observations, _, _) = store.counts().expect("counts");
        assert_eq!((identities, observations), (2, 3));
    }

    #[test]
    fn newest_integration_configuration_wins_in_any_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("t.db")).expect("open");
        let newer = integration(false, "2026-02-01T00:00:00Z");
        let older = integration(true, "2026-01-01T00:00:00Z");
        store
            .writer()
            .expect("w")
            .write_all(&[newer.clone(), older.clone()])
            .expect("write");
        let got = store.integrations().expect("read");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].status, IntegrationStatus::Inactive);
        store
            .writer()
            .expect("w")
            .write_all(&[older, newer])
            .expect("write");
        assert_eq!(
            store.integrations().expect("read")[0].status,
            IntegrationStatus::Inactive
        );
    }

    #[test]
    fn a_rolled_back_batch_leaves_nothing_and_no_cursor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("t.db")).expect("open");
        {
            let mut w = store.writer().expect("w");
            {
                let mut b = w.begin().expect("begin");
                b.record(&obs("a@x.example", "2026-01-01T00:00:00Z"))
                    .expect("rec");
                b.save_cursor("c", "42").expect("cursor");
                // dropped without commit
            }
            // The same writer must not reuse the identity id the rollback discarded.
            let counts = w
                .write_all(&[obs("a@x.example", "2026-01-03T00:00:00Z")])
                .expect("write after rollback");
            assert_eq!(counts.observations, 1);
        }
        assert_eq!(store.cursor("c").expect("cursor"), None);
        let (identities, observations, _, _) = store.counts().expect("counts");
        assert_eq!((identities, observations), (1, 1));
        let mut seen = Vec::new();
        store
            .for_each_identity(|id, i| seen.push((id, i.email)))
            .expect("identities");
        let mut joined = 0;
        store
            .for_each_observation(i64::MIN, i64::MAX, |id, _, _| {
                joined += usize::from(seen.iter().any(|(s, _)| *s == id));
            })
            .expect("observations");
        assert_eq!(joined, 1, "the observation points at a stored identity");
    }

    #[test]
    fn a_second_writer_waits_until_the_first_is_done() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut store = Store::open(&path).expect("open");
        let mut first = store.writer().expect("first writer");
        first
            .write_all(&[obs("a@x.example", "2026-01-01T00:00:00Z")])
            .expect("write");
        let (got, waiting) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let mut store = Store::open(&path).expect("open again");
            let mut second = store.writer().expect("second writer");
            let _ = got.send(());
            second
                .write_all(&[obs("b@x.example", "2026-01-02T00:00:00Z")])
                .expect("second write")
        });
        assert!(
            waiting
                .recv_timeout(std::time::Duration::from_millis(300))
                .is_err(),
            "the second writer must not start while the first holds the store"
        );
        drop(first);
        waiting
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the second writer starts once the first is gone");
        let counts = other.join().expect("join");
        assert_eq!(counts.observations, 1);
        let (identities, observations, _, _) = store.counts().expect("counts");
        assert_eq!((identities, observations), (2, 2));
    }

    #[test]
    fn a_batch_whose_ids_another_program_took_is_refused_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let mut store = Store::open(&path).expect("open");
        let mut w = store.writer().expect("w");
        let mut b = w.begin().expect("begin");
        b.record(&obs("a@x.example", "2026-01-01T00:00:00Z"))
            .expect("rec");
        b.save_cursor("c", "1").expect("cursor");
        // A program that ignores the writer lock takes identity id 1 meanwhile.
        let raw = Connection::open(&path).expect("raw");
        raw.execute(
            "INSERT INTO identities (id, system, email, username, display_name, service_account)
             VALUES (1, 'Jira', 'other@x.example', '', '', 0)",
            [],
        )
        .expect("foreign row");
        let e = b.commit().expect_err("refused");
        assert!(
            matches!(
                e,
                StoreError::Concurrent {
                    table: "identities",
                    ..
                }
            ),
            "{e}"
        );
        drop(w);
        assert_eq!(store.cursor("c").expect("cursor"), None);
        let (identities, observations, _, _) = store.counts().expect("counts");
        assert_eq!((identities, observations), (1, 0));
    }
}
