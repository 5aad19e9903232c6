//! Runs connectors concurrently into the store and reports progress.
//!
//! Connectors send records over one bounded channel to a single writer, which stages
//! them in batches on one thread and commits each batch in a transaction on another. A
//! checkpoint is saved in the same transaction as the records before it, so a cursor
//! never runs ahead of what is stored; a failing or panicking connector ends alone and
//! what it sent so far stays stored.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::connector::{Connector, ConnectorContext, Emit, Envelope};
use crate::store::{Interner, SqlWriter, Staged, Store, StoreError, WriteCounts};

/// Records per transaction: at least the first, at most the second, and in between as many
/// as this run has stored so far. Each commit writes its rows in key order, touching every
/// B-tree page it changes once; growing batches keep the pages rewritten over a run near
/// twice the final table instead of once per fixed-size batch, while the first numbers
/// are committed early. The cap bounds the staged rows (16 bytes an observation) in
/// memory; two batches are alive at once (one written, the next staged), hence 1 M, not
/// 2 M (2 M was slower too: bench/RESULTS.md, "The WAL's size").
const MIN_BATCH_RECORDS: usize = 50_000;
const MAX_BATCH_RECORDS: usize = 1_000_000;
/// A transaction is committed after this long even if small, so stored counts move on.
const MAX_BATCH_TIME: Duration = Duration::from_secs(3);
/// Envelopes in flight between connectors and the writer (bounded: back pressure). An
/// envelope may hold a batch of thousands of records (2,000 from jsonl), so this stays
/// small (16 instead of 32: see `WRITER_CACHE_KIB` in the store).
const CHANNEL_CAPACITY: usize = 16;
/// How often progress events are sent at the most, per writer.
const EVENT_INTERVAL: Duration = Duration::from_millis(100);

/// Where a connector stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectorState {
    Waiting,
    Running,
    Done,
    Failed(String),
}

/// What the collector tells a front end while it runs. `connector` indexes the list of
/// connectors passed to [`collect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectEvent {
    Started {
        connector: usize,
    },
    /// Records received and committed so far.
    Stored {
        connector: usize,
        received: u64,
        new: u64,
    },
    Progress {
        connector: usize,
        done: u64,
        total: Option<u64>,
    },
    Warning {
        connector: usize,
        message: String,
    },
    Skipped {
        connector: usize,
        message: String,
    },
    /// The connector ended; everything it sent is committed.
    Finished {
        connector: usize,
        state: ConnectorState,
    },
}

/// How one connector's run went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorOutcome {
    pub name: String,
    pub kind: String,
    /// Records the connector sent.
    pub received: u64,
    /// Rows that were new to the store (the rest were stored already).
    pub new: WriteCounts,
    pub warnings: u64,
    /// Input items skipped as bad (e.g. lines of a JSONL file).
    pub skipped: u64,
    pub state: ConnectorState,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectSummary {
    pub connectors: Vec<ConnectorOutcome>,
}

impl CollectSummary {
    pub fn failed(&self) -> impl Iterator<Item = &ConnectorOutcome> {
        self.connectors
            .iter()
            .filter(|c| matches!(c.state, ConnectorState::Failed(_)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store writer stopped unexpectedly: {0}")]
    Writer(String),
}

/// Collects from every connector into the store at `store_path` and returns when all
/// have ended. Events go to `events` (if given) as they happen.
pub async fn collect(
    store_path: PathBuf,
    connectors: Vec<Arc<dyn Connector>>,
    shutdown: CancellationToken,
    events: Option<mpsc::UnboundedSender<CollectEvent>>,
) -> Result<CollectSummary, CollectError> {
    let names: Vec<String> = connectors.iter().map(|c| c.name().to_owned()).collect();
    let (store, cursors) = {
        let path = store_path.clone();
        let names = names.clone();
        tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
            let store = Store::open(&path)?;
            let cursors = names
                .iter()
                .map(|n| store.cursor(n))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((store, cursors))
        })
        .await
        .map_err(|e| CollectError::Writer(e.to_string()))??
    };

    let outcomes: Vec<ConnectorOutcome> = connectors
        .iter()
        .map(|c| ConnectorOutcome {
            name: c.name().to_owned(),
            kind: c.kind().to_owned(),
            received: 0,
            new: WriteCounts::default(),
            warnings: 0,
            skipped: 0,
            state: ConnectorState::Running,
        })
        .collect();

    let (tx, rx) = mpsc::channel::<Envelope>(CHANNEL_CAPACITY);
    let writer_events = events.clone();
    let writer = tokio::task::spawn_blocking(move || {
        write_loop(store, rx, outcomes, writer_events.as_ref())
    });

    for (index, (connector, cursor)) in connectors.into_iter().zip(cursors).enumerate() {
        let ctx = ConnectorContext::new(
            index,
            connector.name(),
            cursor,
            tx.clone(),
            shutdown.clone(),
        );
        let done_tx = tx.clone();
        if let Some(ev) = &events {
            let _ = ev.send(CollectEvent::Started { connector: index });
        }
        tokio::spawn(async move {
            // A panic inside a connector is caught here and reported as its failure.
            let result = tokio::spawn(async move { connector.run(ctx).await }).await;
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(join) if join.is_panic() => {
                    Some(format!("panicked: {}", panic_message(&join.into_panic())))
                }
                Err(join) => Some(join.to_string()),
            };
            let _ = done_tx
                .send(Envelope {
                    connector: index,
                    emit: Emit::Finished(error),
                })
                .await;
        });
    }
    drop(tx);

    let connectors = writer
        .await
        .map_err(|e| CollectError::Writer(e.to_string()))??;
    Ok(CollectSummary { connectors })
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// What the connectors said while one batch was staged, per connector.
#[derive(Debug, Clone, Copy, Default)]
struct News {
    /// Whether the connector sent anything at all.
    heard: bool,
    received: u64,
    warnings: u64,
    skipped: u64,
}

/// One transaction, as the stager hands it to the SQL side: the staged rows, what each
/// connector said meanwhile, and who finished.
struct Step {
    staged: Staged,
    news: Vec<News>,
    finished: Vec<(usize, ConnectorState)>,
}

fn send_event(events: Option<&mpsc::UnboundedSender<CollectEvent>>, e: CollectEvent) {
    if let Some(ev) = events {
        let _ = ev.send(e);
    }
}

/// Stores what arrives until every connector has hung up, keeping each connector's
/// outcome up to date; returns the outcomes.
///
/// Two threads: the stager turns envelopes into staged batches (ids from the key maps,
/// rows in memory), this one writes each batch in a transaction. While one batch is
/// being written, the next is staged, so neither SQLite nor the key maps wait for the
/// other (a third of a collection's wall time when they took turns on one thread).
fn write_loop(
    mut store: Store,
    mut rx: mpsc::Receiver<Envelope>,
    mut stats: Vec<ConnectorOutcome>,
    events: Option<&mpsc::UnboundedSender<CollectEvent>>,
) -> Result<Vec<ConnectorOutcome>, CollectError> {
    let names: Vec<String> = stats.iter().map(|s| s.name.clone()).collect();
    let mut writer = store.writer()?;
    let (interner, sql) = writer.split();
    let runtime = tokio::runtime::Handle::current();
    let stop = AtomicBool::new(false);
    let (to_sql, steps) = std::sync::mpsc::sync_channel::<Step>(0);
    // Written batches go back to the stager, whose next batch reuses their memory: two
    // batches' buffers serve a whole run instead of fresh ones (and fresh pages) for each.
    let (spent_tx, spent) = std::sync::mpsc::channel::<Staged>();
    std::thread::scope(|scope| {
        let names = &names;
        let stop = &stop;
        let stager = std::thread::Builder::new()
            .name("tally-stager".to_owned())
            .spawn_scoped(scope, move || {
                let link = Link {
                    to_sql: &to_sql,
                    spent: &spent,
                    stop,
                };
                stage_loop(interner, &mut rx, &link, names, events, &runtime)
            })
            .map_err(|e| CollectError::Writer(format!("cannot start the stager thread: {e}")))?;
        let written = write_steps(sql, &steps, &spent_tx, &mut stats, events);
        // The stager stops at its next envelope or hand-over once this side is gone.
        stop.store(true, Ordering::Relaxed);
        drop(steps);
        let staged = stager
            .join()
            .map_err(|_| CollectError::Writer("the stager thread panicked".to_owned()))?;
        written?;
        staged.map_err(CollectError::from)
    })?;
    Ok(stats)
}

/// The SQL side of [`write_loop`]: writes each step, then announces what it committed.
fn write_steps(
    sql: &mut SqlWriter<'_>,
    steps: &std::sync::mpsc::Receiver<Step>,
    spent: &std::sync::mpsc::Sender<Staged>,
    stats: &mut [ConnectorOutcome],
    events: Option<&mpsc::UnboundedSender<CollectEvent>>,
) -> Result<(), StoreError> {
    // Connectors with news since the last `Stored` event.
    let mut dirty = vec![false; stats.len()];
    let mut last_event = Instant::now();
    for mut step in steps {
        let (_, new_by) = sql.write(&mut step.staged)?;
        // The stager may be gone already; then the buffers are simply dropped.
        let _ = spent.send(step.staged);
        for (stat, new) in stats.iter_mut().zip(new_by) {
            stat.new.add(new);
        }
        for ((stat, news), dirty) in stats.iter_mut().zip(&step.news).zip(dirty.iter_mut()) {
            if news.heard {
                let n = news;
                stat.received += n.received;
                stat.warnings += n.warnings;
                stat.skipped += n.skipped;
                *dirty = true;
            }
        }
        // Announce only what is committed.
        let due = last_event.elapsed() >= EVENT_INTERVAL || !step.finished.is_empty();
        if due {
            last_event = Instant::now();
            for (i, stat) in stats.iter().enumerate() {
                if std::mem::take(&mut dirty[i]) {
                    send_event(
                        events,
                        CollectEvent::Stored {
                            connector: i,
                            received: stat.received,
                            new: stat.new.total(),
                        },
                    );
                }
            }
        }
        for (i, state) in step.finished {
            match &state {
                ConnectorState::Failed(e) => {
                    tracing::error!(connector = %stats[i].name, "failed: {e}")
                }
                _ => {
                    tracing::info!(connector = %stats[i].name, received = stats[i].received, "done")
                }
            }
            stats[i].state = state.clone();
            send_event(
                events,
                CollectEvent::Finished {
                    connector: i,
                    state,
                },
            );
        }
    }
    Ok(())
}

/// The stager's ends of its channels to the SQL side.
struct Link<'a> {
    to_sql: &'a std::sync::mpsc::SyncSender<Step>,
    /// Batches written, to be reused.
    spent: &'a std::sync::mpsc::Receiver<Staged>,
    /// Set when the SQL side has stopped.
    stop: &'a AtomicBool,
}

/// How long the stager waits for an envelope before it looks whether the SQL side has
/// stopped.
const STAGER_POLL: Duration = Duration::from_millis(200);

/// The stager of [`write_loop`]: stages envelopes into batches and hands each over;
/// returns when every connector has hung up or the SQL side has stopped.
fn stage_loop(
    interner: &mut Interner,
    rx: &mut mpsc::Receiver<Envelope>,
    link: &Link<'_>,
    names: &[String],
    events: Option<&mpsc::UnboundedSender<CollectEvent>>,
    runtime: &tokio::runtime::Handle,
) -> Result<(), StoreError> {
    // The timeouts below need the runtime's timer.
    let _runtime = runtime.enter();
    let mut stored_this_run = 0usize;
    loop {
        let first = loop {
            if link.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            match runtime.block_on(tokio::time::timeout(STAGER_POLL, rx.recv())) {
                Ok(Some(env)) => break env,
                Ok(None) => return Ok(()),
                Err(_) => {}
            }
        };
        let mut batch = interner.begin(link.spent.try_recv().unwrap_or_default());
        let mut news = vec![News::default(); names.len()];
        let mut finished = Vec::new();
        let started = Instant::now();
        let limit = stored_this_run.clamp(MIN_BATCH_RECORDS, MAX_BATCH_RECORDS);
        let mut in_batch = 0usize;
        let mut next = Some(first);
        while let Some(env) = next.take() {
            let i = env.connector;
            batch.set_tag(i);
            let n = &mut news[i];
            n.heard = true;
            match env.emit {
                Emit::Record(r) => {
                    batch.record(&r)?;
                    n.received += 1;
                    in_batch += 1;
                }
                Emit::Batch(rs) => {
                    for r in &rs {
                        batch.record(r)?;
                    }
                    n.received += rs.len() as u64;
                    in_batch += rs.len();
                }
                Emit::Block(block) => {
                    batch.block(&block)?;
                    n.received += block.len() as u64;
                    in_batch += block.len();
                }
                Emit::Checkpoint(cursor) => batch.save_cursor(&names[i], &cursor)?,
                Emit::Warning(message) => {
                    tracing::warn!(connector = %names[i], "{message}");
                    n.warnings += 1;
                    send_event(
                        events,
                        CollectEvent::Warning {
                            connector: i,
                            message,
                        },
                    );
                }
                Emit::Skipped(message) => {
                    tracing::warn!(connector = %names[i], "skipped: {message}");
                    n.skipped += 1;
                    send_event(
                        events,
                        CollectEvent::Skipped {
                            connector: i,
                            message,
                        },
                    );
                }
                Emit::Progress { done, total } => send_event(
                    events,
                    CollectEvent::Progress {
                        connector: i,
                        done,
                        total,
                    },
                ),
                Emit::Finished(error) => {
                    let state = match error {
                        None => ConnectorState::Done,
                        Some(e) => ConnectorState::Failed(e),
                    };
                    finished.push((i, state));
                }
            }
            // A finished connector is announced only once its records are committed, so
            // commit now rather than wait for more.
            if in_batch >= limit || !finished.is_empty() {
                break;
            }
            next = match rx.try_recv() {
                Ok(env) => Some(env),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // The connectors are slower than the writer: wait for more rather
                    // than commit a small transaction, up to the batch's time limit.
                    let left = MAX_BATCH_TIME.saturating_sub(started.elapsed());
                    runtime
                        .block_on(tokio::time::timeout(left, rx.recv()))
                        .ok()
                        .flatten()
                }
            };
        }
        stored_this_run += in_batch;
        let step = Step {
            staged: batch.finish(),
            news,
            finished,
        };
        if link.to_sql.send(step).is_err() {
            // The SQL side stopped; it reports why.
            return Ok(());
        }
    }
}
