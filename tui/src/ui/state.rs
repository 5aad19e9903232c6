//! What every view reads: the report and insights built off the UI task, the connectors'
//! progress, the window and the theme. Plain data, changed only by `app::update`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tally_core::collect::ConnectorState;
use tally_core::report::access::AccessInsights;
use tally_core::report::insights::Insights;
use tally_core::report::{Report, WindowKind, WindowReport};

use super::theme::Theme;

/// A report and its insights, built together off the UI task.
#[derive(Debug, Clone)]
pub struct Built {
    pub report: Report,
    /// Indexed like `WindowKind::ALL`.
    pub insights: [Insights; 2],
    /// SPEC §9 at the report's `as_of`; `None` until the build computes it.
    pub access: Option<AccessInsights>,
    /// Wall-clock time the report was read from the store.
    pub computed_at: DateTime<Utc>,
    pub took: Duration,
}

impl Built {
    pub fn window(&self, kind: WindowKind) -> &WindowReport {
        self.report.window(kind)
    }

    pub fn insights(&self, kind: WindowKind) -> &Insights {
        match kind {
            WindowKind::SixMonths => &self.insights[0],
            WindowKind::OneYear => &self.insights[1],
        }
    }
}

/// One connector as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorRow {
    pub name: String,
    pub kind: String,
    pub state: ConnectorState,
    pub received: u64,
    pub new: u64,
    /// `(done, total)` when the connector reports progress.
    pub progress: Option<(u64, Option<u64>)>,
    pub warnings: u64,
    pub skipped: u64,
    pub last_problem: Option<String>,
    pub started: Option<Instant>,
    /// Running time so far (frozen when the connector ends): the rate's denominator.
    pub elapsed: Duration,
}

impl ConnectorRow {
    pub fn new(name: &str, kind: &str) -> ConnectorRow {
        ConnectorRow {
            name: name.to_owned(),
            kind: kind.to_owned(),
            state: ConnectorState::Waiting,
            received: 0,
            new: 0,
            progress: None,
            warnings: 0,
            skipped: 0,
            last_problem: None,
            started: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Records per second over the connector's running time.
    pub fn rate(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.05 && self.received > 0).then(|| self.received as f64 / secs)
    }

    /// How much longer this connector will run, at its pace so far: zero once it has
    /// ended, `None` while it has not started or does not say how far it is.
    pub fn time_left(&self, now: Instant) -> Option<Duration> {
        if matches!(self.state, ConnectorState::Done | ConnectorState::Failed(_)) {
            return Some(Duration::ZERO);
        }
        let fraction = self.fraction().filter(|f| *f > 0.0)?;
        let elapsed = now.saturating_duration_since(self.started?);
        Some(elapsed.mul_f64((1.0 - fraction) / fraction))
    }

    /// 0.0–1.0 when known: done connectors are complete, reported progress otherwise.
    pub fn fraction(&self) -> Option<f64> {
        match (&self.state, self.progress) {
            (ConnectorState::Done, _) => Some(1.0),
            (_, Some((done, Some(total)))) if total > 0 => {
                Some((done as f64 / total as f64).min(1.0))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Collection {
    NotStarted,
    Running {
        since: Instant,
    },
    Finished {
        took: Duration,
    },
    /// The collector itself failed (the store, not one connector).
    Failed(String),
}

/// The state every view reads and none changes.
#[derive(Debug)]
pub struct Shared {
    /// `Some(reason)` when showing the demo data set.
    pub demo: Option<String>,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    /// Shown instead of the dashboard when there is nothing to collect (no connector).
    pub notice: Option<String>,
    pub as_of: DateTime<Utc>,
    pub log_path: PathBuf,
    pub connectors: Vec<ConnectorRow>,
    pub collection: Collection,
    pub built: Option<Arc<Built>>,
    pub building: bool,
    pub report_error: Option<String>,
    pub window: WindowKind,
    pub theme: Theme,
    pub now: Instant,
    pub ticks: u64,
}

impl Shared {
    pub fn collecting(&self) -> bool {
        matches!(self.collection, Collection::Running { .. })
    }

    /// How much longer the collection will run: its slowest connector's time left, when
    /// every connector says how far it is.
    pub fn collection_left(&self) -> Option<Duration> {
        self.connectors
            .iter()
            .map(|c| c.time_left(self.now))
            .try_fold(Duration::ZERO, |most, left| Some(most.max(left?)))
    }

    /// Every connector of the running collection has ended: its records and outcomes are
    /// stored, and only the writer's closing is left.
    pub fn connectors_ended(&self) -> bool {
        self.collecting()
            && self
                .connectors
                .iter()
                .all(|c| matches!(c.state, ConnectorState::Done | ConnectorState::Failed(_)))
    }

    /// Records received so far in this collection, from every connector.
    pub fn received(&self) -> u64 {
        self.connectors.iter().map(|c| c.received).sum()
    }

    /// The current window's report, once one is built.
    pub fn current(&self) -> Option<&WindowReport> {
        self.built.as_ref().map(|b| b.window(self.window))
    }

    /// The access insights, when the last build has account data to show.
    pub fn access(&self) -> Option<&AccessInsights> {
        self.built
            .as_ref()
            .and_then(|b| b.access.as_ref())
            .filter(|a| !a.accounts.is_empty())
    }
}
