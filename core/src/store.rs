//! The embedded database (SQLite): idempotent upserts on natural keys, cursors per
//! connector.
//!
//! Observations are stored against interned identity tuples and entities, so the report
//! reads a small table of distinct identities and streams the narrow observation rows
//! once instead of holding them in memory.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use rustc_hash::FxHashMap;

use crate::model::{
    EntityRef, Integration, IntegrationEnd, IntegrationStatus, Record, SyncRecord, SyncStatus,
    UserObservation,
};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identities (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    email TEXT NOT NULL,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    service_account INTEGER NOT NULL,
    UNIQUE (system, email, username, display_name, service_account)
);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    project TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    UNIQUE (system, project, entity_type, entity_id)
);
CREATE TABLE IF NOT EXISTS observations (
    identity INTEGER NOT NULL,
    at INTEGER NOT NULL,
    interaction INTEGER NOT NULL,
    entity INTEGER NOT NULL,
    PRIMARY KEY (identity, at, interaction, entity)
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

/// One end of a stored sync, as the report reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoredEntity {
    pub system: String,
    pub project: String,
    pub entity_type: String,
    pub entity_id: String,
}

/// How many rows a batch really added (the rest were already stored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteCounts {
    pub observations: u64,
    pub syncs: u64,
    pub integrations: u64,
}

impl WriteCounts {
    pub fn total(&self) -> u64 {
        self.observations + self.syncs + self.integrations
    }

    pub fn add(&mut self, other: WriteCounts) {
        self.observations += other.observations;
        self.syncs += other.syncs;
        self.integrations += other.integrations;
    }
}

type IdentityKey = (String, String, String, String, bool);
type EntityKey = (String, String, String, String);

fn opt(value: &Option<String>) -> &str {
    value.as_deref().map(str::trim).unwrap_or("")
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = 10000;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -131072;",
        )
        .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let found: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        match found.and_then(|v| v.parse::<i64>().ok()) {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::Schema {
                    path: path.to_path_buf(),
                    found: v,
                })
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(err)?;
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

    /// A writer that interns identities and entities in memory across batches.
    pub fn writer(&mut self) -> Result<Writer<'_>, StoreError> {
        let mut identities = FxHashMap::default();
        let mut entities = FxHashMap::default();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT id, system, email, username, display_name, service_account FROM identities")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        (
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, bool>(5)?,
                        ),
                        r.get::<_, i64>(0)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (k, v) = row.map_err(|e| self.err(e))?;
                identities.insert(k, v);
            }
            let mut stmt = self
                .conn
                .prepare("SELECT id, system, project, entity_type, entity_id FROM entities")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        (
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                        ),
                        r.get::<_, i64>(0)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (k, v) = row.map_err(|e| self.err(e))?;
                entities.insert(k, v);
            }
        }
        Ok(Writer {
            store: self,
            identities,
            entities,
        })
    }

    /// Runs `f` over every stored identity tuple, by id.
    pub fn for_each_identity(
        &self,
        mut f: impl FnMut(i64, StoredIdentity),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, system, email, username, display_name, service_account FROM identities ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, StoredIdentity)> {
                Ok((
                    r.get(0)?,
                    StoredIdentity {
                        system: r.get(1)?,
                        email: r.get(2)?,
                        username: r.get(3)?,
                        display_name: r.get(4)?,
                        service_account: r.get(5)?,
                    },
                ))
            };
            let (id, identity) = get(r).map_err(|e| self.err(e))?;
            f(id, identity);
        }
        Ok(())
    }

    pub fn max_identity_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM identities", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Streams `(identity, at_millis, interaction_code)` of observations with `at` in
    /// `[from, to]` (milliseconds, inclusive).
    pub fn for_each_observation(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(i64, i64, u8),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT identity, at, interaction FROM observations WHERE at BETWEEN ?1 AND ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([from, to]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = r.get(0).map_err(|e| self.err(e))?;
            let at: i64 = r.get(1).map_err(|e| self.err(e))?;
            let code: i64 = r.get(2).map_err(|e| self.err(e))?;
            f(id, at, u8::try_from(code).unwrap_or(u8::MAX));
        }
        Ok(())
    }

    /// Every stored entity by id.
    pub fn entities(&self) -> Result<FxHashMap<i64, StoredEntity>, StoreError> {
        let mut out = FxHashMap::default();
        let mut stmt = self
            .conn
            .prepare("SELECT id, system, project, entity_type, entity_id FROM entities")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, StoredEntity)> {
                Ok((
                    r.get(0)?,
                    StoredEntity {
                        system: r.get(1)?,
                        project: r.get(2)?,
                        entity_type: r.get(3)?,
                        entity_id: r.get(4)?,
                    },
                ))
            };
            let (id, e) = get(r).map_err(|e| self.err(e))?;
            out.insert(id, e);
        }
        Ok(out)
    }

    /// Streams `(source, target, at_millis, success)` of syncs with `at` in `[from, to]`.
    pub fn for_each_sync(
        &self,
        from: i64,
        to: i64,
        mut f: impl FnMut(i64, i64, i64, bool),
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT source, target, at, success FROM syncs WHERE at BETWEEN ?1 AND ?2")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([from, to]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let get = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, i64, i64, bool)> {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            };
            let (s, t, at, ok) = get(r).map_err(|e| self.err(e))?;
            f(s, t, at, ok);
        }
        Ok(())
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

/// Writes batches of records in transactions. Interning maps live as long as the writer,
/// so memory grows with distinct identities and entities, not with observations.
pub struct Writer<'s> {
    store: &'s mut Store,
    identities: FxHashMap<IdentityKey, i64>,
    entities: FxHashMap<EntityKey, i64>,
}

/// One transaction of a writer; commit with [`Batch::commit`], dropped means rolled back.
pub struct Batch<'w, 's> {
    tx: Option<Transaction<'w>>,
    /// Keys interned by this transaction: forgotten again if it rolls back, so no later
    /// batch refers to an id that was never committed.
    new_identities: Vec<IdentityKey>,
    new_entities: Vec<EntityKey>,
    identities: &'w mut FxHashMap<IdentityKey, i64>,
    entities: &'w mut FxHashMap<EntityKey, i64>,
    path: &'s Path,
    pub counts: WriteCounts,
}

impl<'s> Writer<'s> {
    pub fn begin(&mut self) -> Result<Batch<'_, '_>, StoreError> {
        let path = self.store.path.as_path();
        let tx = self
            .store
            .conn
            .transaction()
            .map_err(|source| StoreError::Sqlite {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Batch {
            tx: Some(tx),
            new_identities: Vec::new(),
            new_entities: Vec::new(),
            identities: &mut self.identities,
            entities: &mut self.entities,
            path,
            counts: WriteCounts::default(),
        })
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

impl Drop for Batch<'_, '_> {
    fn drop(&mut self) {
        if self.tx.is_some() {
            for k in &self.new_identities {
                self.identities.remove(k);
            }
            for k in &self.new_entities {
                self.entities.remove(k);
            }
        }
    }
}

impl Batch<'_, '_> {
    fn tx(&self) -> Result<&Transaction<'_>, StoreError> {
        self.tx.as_ref().ok_or_else(|| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            table: "-",
            detail: "batch used after commit".into(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_path_buf(),
            source,
        }
    }

    pub fn record(&mut self, record: &Record) -> Result<(), StoreError> {
        match record {
            Record::User(u) => self.observation(u),
            Record::Sync(s) => self.sync(s),
            Record::Integration(i) => self.integration(i),
        }
    }

    fn identity_id(&mut self, u: &UserObservation) -> Result<i64, StoreError> {
        let key: IdentityKey = (
            u.system.trim().to_owned(),
            opt(&u.email).to_owned(),
            opt(&u.username).to_owned(),
            opt(&u.display_name).to_owned(),
            u.service_account,
        );
        if let Some(id) = self.identities.get(&key) {
            return Ok(*id);
        }
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT INTO identities (system, email, username, display_name, service_account)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO UPDATE SET system = excluded.system
                 RETURNING id",
            )
            .map_err(|e| self.err(e))?;
        let id: i64 = stmt
            .query_row(params![key.0, key.1, key.2, key.3, key.4], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        drop(stmt);
        self.new_identities.push(key.clone());
        self.identities.insert(key, id);
        Ok(id)
    }

    fn entity_id(
        &mut self,
        system: &str,
        project: &str,
        entity_type: &str,
        entity_id: &str,
    ) -> Result<i64, StoreError> {
        // Lookup by borrowed parts would need a custom key type; entities are few compared
        // to observations carrying them, and most lookups hit.
        let key: EntityKey = (
            system.trim().to_owned(),
            project.trim().to_owned(),
            entity_type.trim().to_owned(),
            entity_id.trim().to_owned(),
        );
        if let Some(id) = self.entities.get(&key) {
            return Ok(*id);
        }
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT INTO entities (system, project, entity_type, entity_id)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO UPDATE SET system = excluded.system
                 RETURNING id",
            )
            .map_err(|e| self.err(e))?;
        let id: i64 = stmt
            .query_row(params![key.0, key.1, key.2, key.3], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        drop(stmt);
        self.new_entities.push(key.clone());
        self.entities.insert(key, id);
        Ok(id)
    }

    fn observation(&mut self, u: &UserObservation) -> Result<(), StoreError> {
        let identity = self.identity_id(u)?;
        let entity = if u.project.is_some() || u.entity_type.is_some() || u.entity_id.is_some() {
            self.entity_id(
                &u.system,
                opt(&u.project),
                opt(&u.entity_type),
                opt(&u.entity_id),
            )?
        } else {
            0
        };
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT OR IGNORE INTO observations (identity, at, interaction, entity)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.err(e))?;
        let n = stmt
            .execute(params![
                identity,
                to_millis(u.at),
                u.interaction.code(),
                entity
            ])
            .map_err(|e| self.err(e))?;
        drop(stmt);
        self.counts.observations += n as u64;
        Ok(())
    }

    fn entity_ref(&mut self, e: &EntityRef) -> Result<i64, StoreError> {
        self.entity_id(
            &e.system,
            opt(&e.project),
            opt(&e.entity_type),
            &e.entity_id,
        )
    }

    fn sync(&mut self, s: &SyncRecord) -> Result<(), StoreError> {
        let source = self.entity_ref(&s.source)?;
        let target = self.entity_ref(&s.target)?;
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT OR IGNORE INTO syncs (source, target, at, success) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(|e| self.err(e))?;
        let n = stmt
            .execute(params![
                source,
                target,
                to_millis(s.at),
                s.status == SyncStatus::Success
            ])
            .map_err(|e| self.err(e))?;
        drop(stmt);
        self.counts.syncs += n as u64;
        Ok(())
    }

    /// The latest configuration of an integration wins (by `updated_at`), whichever order
    /// the records arrive in.
    fn integration(&mut self, i: &Integration) -> Result<(), StoreError> {
        let ends = serde_json::to_string(&i.ends).map_err(|e| StoreError::Corrupt {
            path: self.path.to_path_buf(),
            table: "integrations",
            detail: e.to_string(),
        })?;
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT INTO integrations (name, active, updated_at, ends) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET active = excluded.active,
                     updated_at = excluded.updated_at, ends = excluded.ends
                 WHERE excluded.updated_at > integrations.updated_at
                    OR (excluded.updated_at = integrations.updated_at
                        AND (excluded.active, excluded.ends) > (integrations.active, integrations.ends))",
            )
            .map_err(|e| self.err(e))?;
        let n = stmt
            .execute(params![
                i.name.trim(),
                i.status == IntegrationStatus::Active,
                to_millis(i.updated_at),
                ends
            ])
            .map_err(|e| self.err(e))?;
        drop(stmt);
        self.counts.integrations += n as u64;
        Ok(())
    }

    /// Saves a connector's cursor inside this transaction, so it lands with its records.
    pub fn save_cursor(&mut self, connector: &str, cursor: &str) -> Result<(), StoreError> {
        let mut stmt = self
            .tx()?
            .prepare_cached(
                "INSERT INTO cursors (connector, cursor, saved_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (connector) DO UPDATE SET cursor = excluded.cursor, saved_at = excluded.saved_at",
            )
            .map_err(|e| self.err(e))?;
        stmt.execute(params![connector, cursor, to_millis(Utc::now())])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn commit(mut self) -> Result<WriteCounts, StoreError> {
        let counts = self.counts;
        let path = self.path.to_path_buf();
        if let Some(tx) = self.tx.take() {
            // On failure SQLite rolled back: forget what this batch interned.
            if let Err(source) = tx.commit() {
                self.tx = None;
                for k in &self.new_identities {
                    self.identities.remove(k);
                }
                for k in &self.new_entities {
                    self.entities.remove(k);
                }
                return Err(StoreError::Sqlite { path, source });
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Interaction;

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
}
