//! SPEC §9: the access insights as plain data — who has access, in which systems, on which
//! domains, how they sign in, who is active, and which paid seats nobody uses. The
//! workbook `Insights.xlsx`, the JSON document (`--insights x.json`, `GET /api/insights`)
//! and the terminal UI's access views all read this and compute no number of their own.
//! Its serde form is the JSON document of SPEC §9.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::{AccountStatus, TwoStep};

/// `[insights] active_days` default (SPEC §9).
pub const DEFAULT_ACTIVE_DAYS: u32 = 30;
/// `[insights] dormant_days` default (SPEC §9).
pub const DEFAULT_DORMANT_DAYS: u32 = 90;

/// People holding at least one account with access that is not a service account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PeopleCounts {
    pub with_access: u64,
    pub managed: u64,
    pub external: u64,
    pub unknown: u64,
    /// At least one such account is active.
    pub active: u64,
    /// Holding seats in two or more systems.
    pub seats_in_several_systems: u64,
}

/// Two-step verification of accounts with access that are not service accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TwoStepCounts {
    pub enabled: u64,
    pub disabled: u64,
    pub unknown: u64,
}

/// How one group of accounts with access that are not service accounts signs in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignIn {
    pub two_step: TwoStepCounts,
    /// Signing in through single sign-on.
    pub sso: u64,
}

/// [`SignIn`] split by the account's own email: managed, external, or none (unknown).
/// Each group's two-step counts add up to that group's accounts, and the three groups
/// add up to the system's `two_step` and `sso`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignInByEmail {
    pub managed: SignIn,
    pub external: SignIn,
    pub unknown: SignIn,
}

/// One system's accounts at `as_of` (accounts with access that are not service accounts,
/// unless a field says otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SystemAccess {
    pub system: String,
    pub accounts: u64,
    pub seats: u64,
    pub active: u64,
    /// Dormant seats.
    pub dormant: u64,
    pub two_step: TwoStepCounts,
    /// Signing in through single sign-on.
    pub sso: u64,
    /// By the account's own email.
    pub managed: u64,
    pub external: u64,
    pub unknown: u64,
    /// Service accounts with access.
    pub service_accounts: u64,
    /// Resolved users of the pool observed in this system in the Last 1 Year window who
    /// hold no account there (of any status) and are not service accounts.
    pub seen_without_account: u64,
    /// Two-step verification and SSO split by the account's own email (a member added
    /// to SPEC §9's document, which asks for "at least" its members).
    pub sign_in: SignInByEmail,
}

/// People with access by the domain of their primary email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainAccess {
    pub domain: String,
    pub managed: bool,
    pub people: u64,
}

/// A seat (an account with access, billable, not a service account) whose activity is
/// older than `dormant_days` before `as_of`, or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DormantSeat {
    pub system: String,
    pub id: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub product: Option<String>,
    pub last_activity: Option<DateTime<Utc>>,
    /// Index into [`AccessInsights::accounts`] of this seat's account (to find the
    /// person's other accounts).
    #[serde(skip)]
    pub account: usize,
}

/// Every account at `as_of`, one row each (the `Accounts` sheet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountRow {
    pub system: String,
    pub id: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub display_name: Option<String>,
    /// The primary email of the account's person (SPEC §9), if any.
    pub person_email: Option<String>,
    /// The account's person: rows with the same value are one person, numbered from 0 in
    /// the order of their first account. Only within one `AccessInsights`. `None` for an
    /// account without any email, username or display name: SPEC §3 resolves no user from
    /// it, so it counts in its system's figures but is nobody's account.
    pub person: Option<usize>,
    pub status: AccountStatus,
    pub product: Option<String>,
    pub billable: bool,
    pub two_step: Option<TwoStep>,
    pub sso: Option<bool>,
    pub service_account: bool,
    /// The later of the account's `last_active` (not after `as_of`) and its person's
    /// latest observation in the account's system (Last 1 Year window).
    pub last_activity: Option<DateTime<Utc>>,
    /// Activity within `active_days` before `as_of`.
    pub active: bool,
    /// A seat (access, billable, not a service account).
    pub seat: bool,
    /// A dormant seat.
    pub dormant: bool,
}

/// The access insights at one `as_of` (SPEC §9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessInsights {
    pub as_of: DateTime<Utc>,
    pub active_days: u32,
    pub dormant_days: u32,
    pub people: PeopleCounts,
    /// Sorted by system.
    pub systems: Vec<SystemAccess>,
    /// Most people first, then by domain.
    pub domains: Vec<DomainAccess>,
    /// Ordered by system, then id.
    pub dormant_seats: Vec<DormantSeat>,
    /// Ordered by system, then id.
    pub accounts: Vec<AccountRow>,
}
