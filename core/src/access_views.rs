//! The dormant seats of SPEC §9 described as a sheet, the way `sheets` describes the Usage
//! Report's tables, so the terminal UI's list (headers, sorting, filtering) reads it. Kept
//! apart from `sheets.rs` until the access-insights sheets land there; then this moves.

use crate::report::access::{AccessInsights, DormantSeat};
use crate::sheets::{Column, Kind, Sheet, Value};

fn opt(s: &Option<String>) -> Value<'_> {
    Value::Text(s.as_deref().unwrap_or(""))
}

const fn text<R>(
    header: &'static str,
    short: &'static str,
    width: usize,
    value: for<'a> fn(&'a R) -> Value<'a>,
) -> Column<R> {
    Column {
        header,
        short,
        kind: Kind::Text,
        width,
        on_screen: true,
        value,
    }
}

/// `Dormant Seats`: every seat (access, billable, not a service account) with no activity
/// within `dormant_days` before `as_of`, ordered by system, then id.
pub static DORMANT_SEATS: Sheet<DormantSeat, AccessInsights> = Sheet {
    name: "Dormant Seats",
    columns: &[
        text("System", "System", 24, |r| Value::Text(&r.system)),
        Column {
            on_screen: false,
            ..text("Account ID", "ID", 40, |r| Value::Text(&r.id))
        },
        text("Email", "Email", 50, |r| opt(&r.email)),
        text("Username", "User", 30, |r| opt(&r.username)),
        text("Display Name", "Name", 30, |r| opt(&r.display_name)),
        text("Product", "Product", 30, |r| opt(&r.product)),
        Column {
            header: "Last Activity (UTC)",
            short: "Activity",
            kind: Kind::Time,
            width: 0,
            on_screen: true,
            value: |r| Value::Time(r.last_activity),
        },
    ],
    rows: |a| a.dormant_seats.iter().collect(),
};
