//! The detail pane of the Detailed User Report: every identifier, each system with its
//! last-seen time, interactions, why the observations are one user, duplicates.

use ratatui::text::{Line, Span};
use tally_core::identity::Rule;
use tally_core::report::{UserRow, WindowReport};

use crate::ui::theme::Theme;
use crate::ui::widgets::minute;

/// Why these observations are one user, in words.
pub fn why_merged(u: &UserRow) -> String {
    let mut why = match u.identified_by {
        Rule::UsernamesOrEmails if u.shared_handles.is_empty() => {
            "Usernames or Emails (observations carrying a username and an email)".to_owned()
        }
        Rule::UsernamesOrEmails => format!(
            "Usernames or Emails (observations share the handle{} {})",
            if u.shared_handles.len() > 1 { "s" } else { "" },
            u.shared_handles.join(", ")
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

/// `compact` (narrow terminals) puts the systems on one wrapped line.
pub fn detail(u: &UserRow, _: &WindowReport, compact: bool, theme: &Theme) -> Vec<Line<'static>> {
    let seen: Vec<String> = u
        .observed_in
        .iter()
        .map(|(system, at)| format!("{system} {}", minute(*at)))
        .collect();
    let mut lines = vec![
        field("Emails", u.emails.join(", "), theme),
        field("Usernames", u.usernames.join(", "), theme),
        field("Display names", u.display_names.join(", "), theme),
    ];
    if compact {
        lines.push(field("Seen in (UTC)", seen.join(" · "), theme));
    }
    lines.extend([
        field("Identified by", why_merged(u), theme),
        field(
            "Interactions",
            u.interactions
                .iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            theme,
        ),
        field(
            "Service account",
            if u.service_account { "Yes" } else { "No" }.to_owned(),
            theme,
        ),
        field(
            "Duplicates",
            u.duplicates
                .iter()
                .map(|(name, system)| format!("{name} ({system})"))
                .collect::<Vec<_>>()
                .join(", "),
            theme,
        ),
    ]);
    if !compact {
        lines.push(Line::styled("Seen in (last seen, UTC):", theme.header));
        lines.extend(seen.into_iter().map(|s| Line::raw(format!("  {s}"))));
    }
    lines
}
