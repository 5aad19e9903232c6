//! The report as plain data (SPEC §4): every front end — workbooks, terminal UI, Admin
//! API — reads these values and computes no number of its own.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::UserRow;
use crate::identity::Rule;

/// Which report window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum WindowKind {
    SixMonths,
    OneYear,
}

impl WindowKind {
    pub const ALL: [WindowKind; 2] = [WindowKind::SixMonths, WindowKind::OneYear];

    pub fn months(self) -> u32 {
        match self {
            WindowKind::SixMonths => 6,
            WindowKind::OneYear => 12,
        }
    }

    /// As in the workbook names: `Last 6 Months`, `Last 1 Year`.
    pub fn label(self) -> &'static str {
        match self {
            WindowKind::SixMonths => "Last 6 Months",
            WindowKind::OneYear => "Last 1 Year",
        }
    }

    /// The workbook file name inside `Usage Reports.zip`.
    pub fn workbook_name(self) -> &'static str {
        match self {
            WindowKind::SixMonths => "Usage Report (Last 6 Months).xlsx",
            WindowKind::OneYear => "Usage Report (Last 1 Year).xlsx",
        }
    }
}

/// `[start, end]`, both inclusive; `end` is the report's `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub kind: WindowKind,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// The Summary sheet's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Resolved users across all systems, service accounts left out.
    pub total_unique_users: u64,
    /// Total Unique Users split by the rule that identified each user, indexed by
    /// `Rule::index()`.
    pub by_rule: [u64; 4],
    pub service_accounts: u64,
    pub unique_entity_types: u64,
    pub unique_projects: u64,
    pub entities_synced: u64,
    /// Observations with no identifier at all (not users).
    pub unidentified_observations: u64,
    /// Distinct email values that were not `local@domain` and were treated as absent.
    pub invalid_emails: u64,
}

impl Summary {
    /// The headline counts with their SPEC labels, in the Summary sheet's order: Total
    /// Unique Users, its four identifier breakdowns, then the other totals.
    pub fn headline(&self) -> Vec<(&'static str, u64)> {
        let mut counts = vec![("Total Unique Users", self.total_unique_users)];
        counts.extend(Rule::ALL.map(|rule| (rule.label(), self.by_rule[rule.index()])));
        counts.extend([
            ("Service Accounts", self.service_accounts),
            ("Total Unique Entity Types", self.unique_entity_types),
            ("Total Unique Projects", self.unique_projects),
            ("Total Entities Synced", self.entities_synced),
        ]);
        counts
    }
}

/// A value of the Summary sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryValue {
    Count(u64),
    Time(DateTime<Utc>),
}

/// A row of the Unique User Count sheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemUserCount {
    pub system: String,
    pub count: u64,
    pub by_rule: [u64; 4],
}

/// How the integrations that cover an entity type or a project pair stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum CoverageStatus {
    /// At least one covering integration is active.
    Active,
    /// Covering integrations exist and all are inactive.
    Inactive,
    /// Successful syncs were seen but no integration record covers them.
    NotConfigured,
}

impl CoverageStatus {
    pub fn label(self) -> &'static str {
        match self {
            CoverageStatus::Active => "Active",
            CoverageStatus::Inactive => "Inactive",
            CoverageStatus::NotConfigured => "Not configured",
        }
    }
}

/// A row of the Entity Type Count sheet: one per distinct (end system, entity type) in
/// the window's successful syncs, so the row count is Total Unique Entity Types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityTypeRow {
    /// The unordered system pairs this type was synced in, each `A <-> B` (sorted).
    pub system_pairs: Vec<String>,
    pub system: String,
    pub entity_type: String,
    pub status: CoverageStatus,
    pub last_synced: DateTime<Utc>,
}

/// A row of the Integrated Project Count sheet: an integration in the window, or a
/// project pair seen only in successful syncs (status `NotConfigured`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRow {
    pub system1: String,
    pub project1: String,
    pub system2: String,
    pub project2: String,
    pub status: CoverageStatus,
    pub last_updated: Option<DateTime<Utc>>,
    pub last_synced: Option<DateTime<Utc>>,
}

/// A row of the Synced Data Count sheet: one per unordered system pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncedRow {
    pub system1: String,
    pub system2: String,
    /// Distinct unordered entity pairs with a successful sync in the window.
    pub entities: u64,
    pub last_synced: DateTime<Utc>,
}

/// Users active in one calendar month of the window (service accounts left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyActive {
    /// `yyyy-mm`
    pub month: String,
    pub users: u64,
}

/// Sync records (not distinct entities) per unordered system pair, by outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncOutcome {
    pub system1: String,
    pub system2: String,
    pub succeeded: u64,
    pub failed: u64,
}

/// Everything one window shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowReport {
    pub window: Window,
    pub summary: Summary,
    /// One row per system, sorted by system name.
    pub user_counts: Vec<SystemUserCount>,
    /// The de-duplicated totals (`All Systems`).
    pub all_systems: SystemUserCount,
    pub entity_types: Vec<EntityTypeRow>,
    pub projects: Vec<ProjectRow>,
    pub synced: Vec<SyncedRow>,
    /// The best-identified first: by first email, then username, then display name
    /// (lower-cased), an empty value after every present one.
    pub users: Vec<UserRow>,
    /// For the insights: active users per calendar month touching the window, oldest first.
    pub monthly_active: Vec<MonthlyActive>,
    /// For the insights: sync successes and failures per system pair.
    pub sync_outcomes: Vec<SyncOutcome>,
}

impl WindowReport {
    /// Every row of the Summary sheet, label and value, in order: the workbook and the
    /// terminal UI show exactly these.
    pub fn summary_rows(&self, as_of: DateTime<Utc>) -> Vec<(&'static str, SummaryValue)> {
        let s = &self.summary;
        let mut rows: Vec<(&'static str, SummaryValue)> = s
            .headline()
            .into_iter()
            .map(|(label, n)| (label, SummaryValue::Count(n)))
            .collect();
        rows.extend([
            ("Window Start (UTC)", SummaryValue::Time(self.window.start)),
            ("Window End (UTC)", SummaryValue::Time(self.window.end)),
            ("As Of (UTC)", SummaryValue::Time(as_of)),
            (
                "Unidentified Observations",
                SummaryValue::Count(s.unidentified_observations),
            ),
            ("Invalid Emails", SummaryValue::Count(s.invalid_emails)),
        ]);
        rows
    }
}

/// Both windows at one `as_of`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub as_of: DateTime<Utc>,
    pub six_months: WindowReport,
    pub one_year: WindowReport,
    /// Where the numbers come from; the front ends add it to what the store gave
    /// (`None` for a report built outside a tally run).
    pub provenance: Option<super::Provenance>,
}

impl Report {
    pub fn window(&self, kind: WindowKind) -> &WindowReport {
        match kind {
            WindowKind::SixMonths => &self.six_months,
            WindowKind::OneYear => &self.one_year,
        }
    }
}
