//! The five sheets of `Insights.xlsx` (SPEC §9), described once like the Usage Report's
//! tables in [`crate::sheets`]: the workbook writer, the terminal UI's access views and
//! the tests read these descriptions, so every front end shows the same columns.

use chrono::{DateTime, Utc};

use crate::model::TwoStep;
use crate::report::access::{AccessInsights, AccountRow, DomainAccess, DormantSeat, SystemAccess};
use crate::sheets::{count, off_screen, text, time, Sheet, Value};

/// The workbook's file name, also used when the destination is a directory.
pub const INSIGHTS_NAME: &str = "Insights.xlsx";

/// One line of the `People with Access` sheet: a label and its number (or time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub label: &'static str,
    pub value: MetricValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricValue {
    Count(u64),
    Time(DateTime<Utc>),
}

/// The labels of the `People with Access` sheet, in order.
pub mod labels {
    pub const AS_OF: &str = "As Of (UTC)";
    pub const ACTIVE_DAYS: &str = "Active Days";
    pub const DORMANT_DAYS: &str = "Dormant Days";
    pub const WITH_ACCESS: &str = "People with Access";
    pub const MANAGED: &str = "Managed";
    pub const EXTERNAL: &str = "External";
    pub const UNKNOWN: &str = "Unknown";
    pub const ACTIVE: &str = "Active";
    pub const SEATS_IN_SEVERAL_SYSTEMS: &str = "Seats in Several Systems";
}

/// The `People with Access` lines of `insights`: the figures of SPEC §9's `people`, and
/// the time and days they were computed with.
pub fn people_metrics(insights: &AccessInsights) -> Vec<Metric> {
    let p = &insights.people;
    let c = |label, n| Metric {
        label,
        value: MetricValue::Count(n),
    };
    vec![
        c(labels::WITH_ACCESS, p.with_access),
        c(labels::MANAGED, p.managed),
        c(labels::EXTERNAL, p.external),
        c(labels::UNKNOWN, p.unknown),
        c(labels::ACTIVE, p.active),
        c(labels::SEATS_IN_SEVERAL_SYSTEMS, p.seats_in_several_systems),
        Metric {
            label: labels::AS_OF,
            value: MetricValue::Time(insights.as_of),
        },
        c(labels::ACTIVE_DAYS, u64::from(insights.active_days)),
        c(labels::DORMANT_DAYS, u64::from(insights.dormant_days)),
    ]
}

/// Header of the `People with Access` sheet's values, like Summary's.
pub const METRIC_HEADERS: [&str; 2] = ["Metric", "Value"];

pub static PEOPLE_WITH_ACCESS: Sheet<Metric, Vec<Metric>> = Sheet {
    name: "People with Access",
    columns: &[
        text(METRIC_HEADERS[0], "Metric", 40, |m| Value::Text(m.label)),
        count(METRIC_HEADERS[1], "Value", |m| match m.value {
            MetricValue::Count(n) => Value::Count(n),
            MetricValue::Time(t) => Value::Time(Some(t)),
        }),
    ],
    rows: |v| v.iter().collect(),
};

pub static SYSTEMS: Sheet<SystemAccess, AccessInsights> = Sheet {
    name: "Systems",
    columns: &[
        text("System", "System", 30, |s| Value::Text(&s.system)),
        count("Accounts with Access", "Access", |s| {
            Value::Count(s.accounts)
        }),
        count("Seats", "Seats", |s| Value::Count(s.seats)),
        count("Active", "Active", |s| Value::Count(s.active)),
        count("Dormant Seats", "Dormant", |s| Value::Count(s.dormant)),
        count("Two-Step Enabled", "2FA on", |s| {
            Value::Count(s.two_step.enabled)
        }),
        count("Two-Step Disabled", "2FA off", |s| {
            Value::Count(s.two_step.disabled)
        }),
        count("Two-Step Unknown", "2FA ?", |s| {
            Value::Count(s.two_step.unknown)
        }),
        count("SSO", "SSO", |s| Value::Count(s.sso)),
        count("Managed", "Managed", |s| Value::Count(s.managed)),
        count("External", "External", |s| Value::Count(s.external)),
        count("Unknown", "Unknown", |s| Value::Count(s.unknown)),
        count("Service Accounts", "Service", |s| {
            Value::Count(s.service_accounts)
        }),
        count("Seen Without Account", "No account", |s| {
            Value::Count(s.seen_without_account)
        }),
        // Sign-in split by the account's own email, after the columns of SPEC §9 so
        // those keep their places.
        count("Managed Two-Step Enabled", "Mgd 2FA on", |s| {
            Value::Count(s.sign_in.managed.two_step.enabled)
        }),
        count("Managed Two-Step Disabled", "Mgd 2FA off", |s| {
            Value::Count(s.sign_in.managed.two_step.disabled)
        }),
        count("Managed Two-Step Unknown", "Mgd 2FA ?", |s| {
            Value::Count(s.sign_in.managed.two_step.unknown)
        }),
        count("Managed SSO", "Mgd SSO", |s| {
            Value::Count(s.sign_in.managed.sso)
        }),
        count("External Two-Step Enabled", "Ext 2FA on", |s| {
            Value::Count(s.sign_in.external.two_step.enabled)
        }),
        count("External Two-Step Disabled", "Ext 2FA off", |s| {
            Value::Count(s.sign_in.external.two_step.disabled)
        }),
        count("External Two-Step Unknown", "Ext 2FA ?", |s| {
            Value::Count(s.sign_in.external.two_step.unknown)
        }),
        count("External SSO", "Ext SSO", |s| {
            Value::Count(s.sign_in.external.sso)
        }),
        count("Unknown Two-Step Enabled", "Unk 2FA on", |s| {
            Value::Count(s.sign_in.unknown.two_step.enabled)
        }),
        count("Unknown Two-Step Disabled", "Unk 2FA off", |s| {
            Value::Count(s.sign_in.unknown.two_step.disabled)
        }),
        count("Unknown Two-Step Unknown", "Unk 2FA ?", |s| {
            Value::Count(s.sign_in.unknown.two_step.unknown)
        }),
        count("Unknown SSO", "Unk SSO", |s| {
            Value::Count(s.sign_in.unknown.sso)
        }),
    ],
    rows: |i| i.systems.iter().collect(),
};

pub static DOMAINS: Sheet<DomainAccess, AccessInsights> = Sheet {
    name: "Domains",
    columns: &[
        text("Domain", "Domain", 50, |d| Value::Text(&d.domain)),
        text("Managed", "Managed", 10, |d| Value::YesNo(d.managed)),
        count("People", "People", |d| Value::Count(d.people)),
    ],
    rows: |i| i.domains.iter().collect(),
};

fn opt(v: &Option<String>) -> Value<'_> {
    Value::Text(v.as_deref().unwrap_or(""))
}

fn two_step(t: Option<TwoStep>) -> Value<'static> {
    Value::Text(t.map_or("unknown", TwoStep::as_str))
}

fn sso(s: Option<bool>) -> Value<'static> {
    Value::Text(match s {
        Some(true) => "Yes",
        Some(false) => "No",
        None => "unknown",
    })
}

pub static DORMANT_SEATS: Sheet<DormantSeat, AccessInsights> = Sheet {
    name: "Dormant Seats",
    columns: &[
        text("System", "System", 30, |d| Value::Text(&d.system)),
        text("Account ID", "ID", 40, |d| Value::Text(&d.id)),
        text("Email", "Email", 50, |d| opt(&d.email)),
        text("Username", "User", 40, |d| opt(&d.username)),
        text("Display Name", "Name", 40, |d| opt(&d.display_name)),
        text("Product", "Product", 30, |d| opt(&d.product)),
        time("Last Activity (UTC)", "Last active", |d| {
            Value::Time(d.last_activity)
        }),
    ],
    rows: |i| i.dormant_seats.iter().collect(),
};

pub static ACCOUNTS: Sheet<AccountRow, AccessInsights> = Sheet {
    name: "Accounts",
    columns: &[
        text("System", "System", 30, |a| Value::Text(&a.system)),
        text("Account ID", "ID", 40, |a| Value::Text(&a.id)),
        text("Email", "Email", 50, |a| opt(&a.email)),
        off_screen(text("Username", "User", 40, |a| opt(&a.username))),
        text("Display Name", "Name", 40, |a| opt(&a.display_name)),
        off_screen(text(
            "Primary Email",
            "Person",
            50,
            |a| opt(&a.person_email),
        )),
        text("Status", "Status", 10, |a| Value::Text(a.status.as_str())),
        off_screen(text("Product", "Product", 30, |a| opt(&a.product))),
        off_screen(text("Billable", "Billable", 10, |a| {
            Value::YesNo(a.billable)
        })),
        off_screen(text("Two-Step", "2FA", 10, |a| two_step(a.two_step))),
        off_screen(text("SSO", "SSO", 10, |a| sso(a.sso))),
        text("Service Account", "Svc", 16, |a| {
            Value::YesNo(a.service_account)
        }),
        time("Last Activity (UTC)", "Last active", |a| {
            Value::Time(a.last_activity)
        }),
        text("Active", "Active", 8, |a| Value::YesNo(a.active)),
        off_screen(text("Seat", "Seat", 8, |a| Value::YesNo(a.seat))),
        text("Dormant", "Dormant", 8, |a| Value::YesNo(a.dormant)),
    ],
    rows: |i| i.accounts.iter().collect(),
};

/// The names of `Insights.xlsx`'s sheets, in order (SPEC §9).
pub fn insights_sheet_names() -> [&'static str; 5] {
    [
        PEOPLE_WITH_ACCESS.name,
        SYSTEMS.name,
        DOMAINS.name,
        DORMANT_SEATS.name,
        ACCOUNTS.name,
    ]
}
