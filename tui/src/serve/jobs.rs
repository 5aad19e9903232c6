//! Report and export computations for the API.
//!
//! Building a report of a large organisation takes seconds to minutes of CPU and memory,
//! so:
//! - the work runs on the blocking pool, never on the executor threads that answer
//!   `/health` and the other requests;
//! - at most one computation runs at a time (a one-permit semaphore). The permit moves
//!   into the blocking closure, so it is held until the work really ends, even if every
//!   client that asked has gone away;
//! - requests for the same thing (kind and `as_of`) while it is being computed wait for
//!   that one computation instead of starting another (single flight). Nothing is kept
//!   once it is done: a later request reads the store again, as SPEC §8 asks.
//!
//! A request without `as_of` means "now", taken when its computation starts, so a request
//! that joins a running computation gets a report a few moments older than itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use tally_core::export;
use tally_core::report::access::AccessInsights;
use tally_core::report::{self, Report};
use tokio::sync::{watch, Semaphore};

use crate::setup::Setup;

/// What to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The report only (for `/api/summary`).
    Report,
    /// The report and `Usage Reports.zip`.
    Zip,
    /// The access insights of SPEC §9 (for `/api/insights`).
    Insights,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    kind: Kind,
    /// `None`: now.
    as_of: Option<DateTime<Utc>>,
}

/// A finished computation.
pub struct Computed {
    pub report: Report,
    /// Present for [`Kind::Zip`].
    pub zip: Option<Bytes>,
    /// Present for [`Kind::Insights`].
    pub insights: Option<AccessInsights>,
}

/// Why a computation failed; the reason is logged where it happened, not sent to clients.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the report could not be computed; the server log says why")]
pub struct Failed;

type Outcome = Result<Arc<Computed>, Failed>;

pub struct Jobs {
    setup: Arc<Setup>,
    gate: Arc<Semaphore>,
    running: Mutex<HashMap<Key, watch::Receiver<Option<Outcome>>>>,
}

impl Jobs {
    pub fn new(setup: Arc<Setup>) -> Jobs {
        Jobs {
            setup,
            gate: Arc::new(Semaphore::new(1)),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// The report (and zip, for [`Kind::Zip`]) at `as_of`, computing it or joining the
    /// computation already running for the same request.
    pub async fn get(self: &Arc<Self>, kind: Kind, as_of: Option<DateTime<Utc>>) -> Outcome {
        let key = Key { kind, as_of };
        let mut rx = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            match running.get(&key) {
                Some(rx) => {
                    tracing::debug!(?kind, ?as_of, "joining a computation in progress");
                    rx.clone()
                }
                None => {
                    let (tx, rx) = watch::channel(None);
                    running.insert(key, rx.clone());
                    // A task of its own, not the request's future: a client that hangs up
                    // must not cancel the work others are waiting for.
                    tokio::spawn(Arc::clone(self).compute(key, tx));
                    rx
                }
            }
        };
        // A binding, not a tail expression: the `watch::Ref` must be dropped before `rx`.
        let answer = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().unwrap_or(Err(Failed)),
            // The computing task ended without an answer (it panicked).
            Err(_) => Err(Failed),
        };
        answer
    }

    async fn compute(self: Arc<Self>, key: Key, tx: watch::Sender<Option<Outcome>>) {
        // Removes the entry however this task ends, so a panic cannot leave a key that
        // every later request would wait on in vain.
        let done = Done {
            jobs: Arc::clone(&self),
            key,
        };
        let outcome = self.run(key).await;
        // The entry goes before the answer is published: a request arriving after that
        // starts a computation of its own instead of being handed a finished one.
        drop(done);
        tx.send_replace(Some(outcome));
    }

    async fn run(&self, key: Key) -> Outcome {
        let Ok(permit) = Arc::clone(&self.gate).acquire_owned().await else {
            tracing::error!("the computation gate is closed");
            return Err(Failed);
        };
        tracing::info!(kind = ?key.kind, as_of = ?key.as_of, "computation started");
        let mut options = self.setup.options_now();
        if let Some(as_of) = key.as_of {
            options.as_of = as_of;
        }
        let store_path = self.setup.store_path.clone();
        let spec = crate::service::SourcesSpec::of(&self.setup);
        let managed = self.setup.managed_domains();
        let as_of = options.as_of;
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let started = Instant::now();
            let report = crate::service::read_report(&store_path, &options, &spec)
                .map_err(|e| format!("cannot build the report: {e}"))?;
            let built = started.elapsed();
            let insights = match key.kind {
                Kind::Insights => Some(
                    report::read_access_insights(
                        &store_path,
                        &report::AccessOptions::from_report(&options, &managed),
                    )
                    .map_err(|e| format!("cannot build the access insights: {e}"))?,
                ),
                _ => None,
            };
            let zip = match key.kind {
                Kind::Report | Kind::Insights => None,
                Kind::Zip => Some(Bytes::from(
                    export::usage_reports_bytes(&report)
                        .map_err(|e| format!("cannot write the workbooks: {e}"))?,
                )),
            };
            tracing::info!(
                kind = ?key.kind,
                %as_of,
                report_ms = built.as_millis() as u64,
                total_ms = started.elapsed().as_millis() as u64,
                zip_bytes = zip.as_ref().map(Bytes::len),
                "computed"
            );
            Ok::<_, String>(Computed {
                report,
                zip,
                insights,
            })
        })
        .await;
        match joined {
            Ok(Ok(c)) => Ok(Arc::new(c)),
            Ok(Err(reason)) => {
                tracing::error!(kind = ?key.kind, %as_of, "{reason}");
                Err(Failed)
            }
            Err(e) => {
                tracing::error!(kind = ?key.kind, %as_of, "the computation stopped: {e}");
                Err(Failed)
            }
        }
    }
}

struct Done {
    jobs: Arc<Jobs>,
    key: Key,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.jobs
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.key);
    }
}
