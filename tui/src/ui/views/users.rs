//! The detail pane of the Detailed User Report: every column of the sheet (the ones off
//! screen too), then why the observations are one user.

use ratatui::text::{Line, Span};
use tally_core::identity::Rule;
use tally_core::report::{UserRow, WindowReport};

use tally_core::sheets::DETAILED_USER_REPORT;

use super::table::column_lines;
use crate::ui::theme::Theme;

/// Why these observations are one user, in words.
pub fn why_merged(u: &UserRow) -> String {
    let mut why = match u.identified_by {
        Rule::UsernamesOrEmails if u.shared_handles().is_empty() => {
            "Usernames or Emails (observations carrying a username and an email)".to_owned()
        }
        Rule::UsernamesOrEmails => format!(
            "Usernames or Emails (observations share the handle{} {})",
            if u.shared_handles().len() > 1 {
                "s"
            } else {
                ""
            },
            u.shared_handles().to_vec().join(", ")
        ),
        Rule::Emails => "Emails (observations grouped by the same email)".to_owned(),
        Rule::DisplayNames => "Display Names (observations grouped by display name)".to_owned(),
        Rule::Usernames => "Usernames (observations grouped by username)".to_owned(),
    };
    if u.forced_merge {
        why.push_str(", joined by a forced merge in the configuration");
    }
    why
}

pub fn field(label: &str, value: String, theme: &Theme) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{label}: "), theme.header),
        Span::raw(if value.is_empty() {
            "—".to_owned()
        } else {
            value
        }),
    ])
}

/// The user's every column (the sheet's headers), then why they are one user.
pub fn detail(u: &UserRow, _: &WindowReport, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = column_lines(&DETAILED_USER_REPORT, u, theme);
    lines.push(field("Why one user", why_merged(u), theme));
    lines
}
