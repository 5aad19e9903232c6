//! The periodic collection of `tally serve`: at start, then `collect_every` after each
//! collection ends (measured from the end, so a slow collection never overlaps the next).
//! It is the same [`service::collect`] as `tally --export`; what happened goes to the
//! log, not to a terminal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::service;
use crate::setup::Setup;

/// What `/health` tells about collection. Counts and times only: connector failure reasons
/// can name internal hosts, and `/health` answers without a token.
#[derive(Default)]
pub struct Status {
    collecting: AtomicBool,
    collections: AtomicU64,
    last: Mutex<Option<LastCollection>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastCollection {
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Whether the collection and every connector finished.
    pub ok: bool,
    pub failed_connectors: usize,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub collecting: bool,
    /// Collections finished since the server started.
    pub collections: u64,
    pub last_collection: Option<LastCollection>,
}

impl Status {
    pub fn view(&self) -> StatusView {
        StatusView {
            collecting: self.collecting.load(Ordering::Relaxed),
            collections: self.collections.load(Ordering::Relaxed),
            last_collection: self
                .last
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

pub async fn run(
    setup: Arc<Setup>,
    every: Duration,
    status: Arc<Status>,
    shutdown: CancellationToken,
) {
    loop {
        status.collecting.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tracing::info!("collection started");
        let result = match service::collect(&setup, shutdown.clone(), None).await {
            Ok(summary) => Ok(service::failed_of(&setup, &summary).await),
            Err(e) => Err(e),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let (ok, failed_connectors) = match &result {
            Ok(failed) if failed.is_empty() => {
                tracing::info!(duration_ms, "collection finished");
                (true, 0)
            }
            Ok(failed) => {
                tracing::warn!(
                    duration_ms,
                    failed = failed.len(),
                    "collection finished, but connectors failed: {}",
                    failed
                        .iter()
                        .map(|f| format!("{}: {}", f.name, f.reason))
                        .collect::<Vec<_>>()
                        .join("; ")
                );
                (false, failed.len())
            }
            // The collection as a whole failed (e.g. the store): no connector's data came in.
            Err(e) => {
                tracing::error!(duration_ms, "collection failed: {}", service::one_line(e));
                (false, setup.connectors.len())
            }
        };
        *status.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(LastCollection {
            finished_at: Utc::now(),
            duration_ms,
            ok,
            failed_connectors,
        });
        status.collections.fetch_add(1, Ordering::Relaxed);
        status.collecting.store(false, Ordering::Relaxed);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
