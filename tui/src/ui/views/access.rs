//! The access views of SPEC §9, drawn from `AccessInsights` (no number computed here):
//! people with access, accounts and seats per system, how they sign in, domains with
//! access — and the dormant seats as a list whose detail shows the person's other accounts.

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;
use tally_core::access_sheets::DORMANT_SEATS;
use tally_core::model::AccountStatus;
use tally_core::report::access::{AccessInsights, DormantSeat};

use super::table::{column_lines, SheetTable};
use super::users::field;
use super::{
    draw_waiting, max_scroll, page_columns, render_page, scroll_key, titled, Cmd, View, SCROLL_KEYS,
};
use crate::ui::state::Shared;
use crate::ui::theme::Theme;
use crate::ui::widgets::{cell_left, cell_right, fit, heading, stacked, thousands};

/// Domains listed before "… and N more".
const DOMAINS: usize = 12;

fn access_source(shared: &Shared) -> Option<&AccessInsights> {
    shared.access()
}

fn as_of_scope(shared: &Shared) -> String {
    format!("as of {}", crate::ui::widgets::minute(shared.as_of))
}

/// What the access views say when there are no account records.
pub fn no_accounts(_shared: &Shared) -> Vec<Line<'static>> {
    vec![
        Line::raw("No account data: tally holds no account records yet."),
        Line::raw(""),
        Line::raw(
            "Who has access, seats and dormant seats come from each system's user directory, \
             not from the activity the Usage Reports count.",
        ),
        Line::raw(""),
        Line::raw("To get them:"),
        Line::raw(
            "  · configure a connector that reads its directory (redmine with an administrator's \
             key, jira, azure-devops with a token that may read users), then press r;",
        ),
        Line::raw("  · or give a jsonl file with `account` lines (SPEC §2);"),
        Line::raw("  · or try it on the demo organisation: tally --demo"),
    ]
}

#[derive(Debug, Default)]
pub struct AccessView {
    offset: usize,
    max: usize,
    page: usize,
}

fn inner(body: Rect) -> Rect {
    Block::bordered().inner(body)
}

/// The access insights as sections of a page.
pub fn sections(a: &AccessInsights, width: usize, t: &Theme) -> Vec<Vec<Line<'static>>> {
    let bars = |text: usize| width.saturating_sub(text).clamp(4, 40);
    let mut sections = Vec::new();
    let p = &a.people;

    let mut out = vec![heading("People with access", "not service accounts", t)];
    out.push(Line::from(vec![
        Span::styled(format!("  {:<22}", "with access"), t.bold),
        Span::styled(format!("{:>9}", thousands(p.with_access)), t.bold),
    ]));
    for (label, n, style, symbol) in [
        ("managed", p.managed, t.fill, '█'),
        ("external", p.external, t.fill2, '▒'),
        ("unknown (no email)", p.unknown, t.dim, '▓'),
    ] {
        let mut spans = vec![Span::raw(format!("    {label:<20}{:>9} ", thousands(n)))];
        spans.extend(stacked(&[(n, style, symbol)], p.with_access, bars(36), t));
        out.push(Line::from(spans));
    }
    let mut spans = vec![Span::raw(format!(
        "  {:<22}{:>9} ",
        format!("active ({} days)", a.active_days),
        thousands(p.active)
    ))];
    spans.extend(stacked(
        &[(p.active, t.done, '█')],
        p.with_access,
        bars(36),
        t,
    ));
    out.push(Line::from(spans));
    out.push(Line::raw(format!(
        "  {:<22}{:>9}",
        "seats in 2+ systems",
        thousands(p.seats_in_several_systems)
    )));
    sections.push(out);

    let name = a
        .systems
        .iter()
        .map(|s| s.system.chars().count())
        .max()
        .unwrap_or(6)
        .clamp(6, 16);
    let mut out = vec![heading(
        "Accounts per system",
        "with access, not service accounts",
        t,
    )];
    out.push(Line::styled(
        format!(
            "  {} {:>8} {:>7} {:>7} {:>7}",
            cell_left("system", name),
            "accounts",
            "seats",
            "active",
            "dormant"
        ),
        t.dim,
    ));
    for s in &a.systems {
        let mut spans = vec![Span::raw(format!(
            "  {} {:>8} {:>7} {:>7} {:>7}  ",
            cell_left(&s.system, name),
            thousands(s.accounts),
            thousands(s.seats),
            thousands(s.active),
            thousands(s.dormant)
        ))];
        spans.extend(stacked(
            &[(s.active, t.done, '█'), (s.dormant, t.fill2, '▒')],
            s.accounts,
            bars(name + 38),
            t,
        ));
        out.push(Line::from(spans));
    }
    out.push(Line::styled(
        "  of the accounts: █ active ▒ dormant seats ░ the rest",
        t.dim,
    ));
    out.push(Line::raw(""));
    out.push(Line::styled(
        format!(
            "  {} {:>8} {:>13}",
            cell_left("system", name),
            "service",
            "seen, no acct"
        ),
        t.dim,
    ));
    for s in &a.systems {
        out.push(Line::raw(format!(
            "  {} {:>8} {:>13}",
            cell_left(&s.system, name),
            thousands(s.service_accounts),
            thousands(s.seen_without_account),
        )));
    }
    out.push(Line::styled(
        "  service accounts with access; people seen there without an account",
        t.dim,
    ));
    sections.push(out);

    let mut out = vec![heading(
        "Sign-in per system",
        "two-step verification and SSO",
        t,
    )];
    out.push(Line::styled(
        format!(
            "  {} {:>7} {:>7} {:>7} {:>7}",
            cell_left("system", name),
            "2-step",
            "off",
            "unknown",
            "SSO"
        ),
        t.dim,
    ));
    for s in &a.systems {
        let two = &s.two_step;
        let mut spans = vec![Span::raw(format!(
            "  {} {:>7} {:>7} {:>7} {:>7}  ",
            cell_left(&s.system, name),
            thousands(two.enabled),
            thousands(two.disabled),
            thousands(two.unknown),
            thousands(s.sso)
        ))];
        spans.extend(stacked(
            &[(two.enabled, t.done, '█'), (two.disabled, t.failed, '▒')],
            two.enabled + two.disabled + two.unknown,
            bars(name + 36),
            t,
        ));
        out.push(Line::from(spans));
    }
    out.push(Line::styled("  two-step: █ on ▒ off ░ unknown", t.dim));
    out.push(Line::raw(""));
    // Each system on a line of its own, its accounts by email below it: the table stays
    // as narrow as the one above, for the half-width page of a wide terminal.
    let class_width = name.max(10);
    out.push(Line::styled(
        format!(
            "  {} {:>7} {:>7} {:>7} {:>7} {:>7}",
            cell_left("system", class_width),
            "accts",
            "2-step",
            "off",
            "unknown",
            "SSO"
        ),
        t.dim,
    ));
    for s in &a.systems {
        out.push(Line::raw(format!("  {}", s.system)));
        for (label, accounts, g) in [
            ("managed", s.managed, &s.sign_in.managed),
            ("external", s.external, &s.sign_in.external),
            ("unknown", s.unknown, &s.sign_in.unknown),
        ] {
            out.push(Line::raw(format!(
                "  {} {:>7} {:>7} {:>7} {:>7} {:>7}",
                cell_left(&format!("  {label}"), class_width),
                thousands(accounts),
                thousands(g.two_step.enabled),
                thousands(g.two_step.disabled),
                thousands(g.two_step.unknown),
                thousands(g.sso)
            )));
        }
    }
    out.push(Line::styled(
        "  split by the account's own email: managed, external, none (unknown)",
        t.dim,
    ));
    sections.push(out);

    let mut out = vec![heading("Domains with access", "people by primary email", t)];
    let top = a.domains.first().map_or(0, |d| d.people);
    let domain = width.saturating_sub(30).clamp(12, 28);
    for d in a.domains.iter().take(DOMAINS) {
        let mut spans = vec![Span::raw(format!(
            "  {} {} ",
            cell_left(&d.domain, domain),
            cell_right(&thousands(d.people), 7)
        ))];
        let (style, symbol) = if d.managed {
            (t.fill, '█')
        } else {
            (t.fill2, '▒')
        };
        spans.extend(stacked(
            &[(d.people, style, symbol)],
            top,
            bars(domain + 22),
            t,
        ));
        spans.push(Span::styled(
            if d.managed { " managed" } else { " external" },
            t.dim,
        ));
        out.push(Line::from(spans));
    }
    if a.domains.len() > DOMAINS {
        out.push(Line::styled(
            format!(
                "  … and {} more domains",
                thousands((a.domains.len() - DOMAINS) as u64)
            ),
            t.dim,
        ));
    }
    sections.push(out);
    sections
}

impl AccessView {
    fn columns(shared: &Shared, body: Rect) -> Option<Vec<(Rect, Vec<Line<'static>>)>> {
        let a = shared.access()?;
        let inner = inner(body);
        let width = usize::from(crate::ui::layout::page_columns(inner)[0].width);
        Some(page_columns(inner, sections(a, width, &shared.theme)))
    }
}

impl View for AccessView {
    fn title(&self) -> &'static str {
        "Access"
    }

    fn short(&self) -> &'static str {
        "Access"
    }

    fn commands(&self) -> Vec<Cmd> {
        SCROLL_KEYS.to_vec()
    }

    fn on_key(&mut self, key: KeyEvent, _shared: &Shared, _body: Rect) -> bool {
        scroll_key(key, &mut self.offset, self.max, self.page)
    }

    fn refresh(&mut self, shared: &Shared, body: Rect) {
        self.max = Self::columns(shared, body).map_or(0, |c| max_scroll(&c));
        self.page = usize::from(inner(body).height);
        self.offset = self.offset.min(self.max);
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let title = format!(" Access · {} ", as_of_scope(shared));
        let Some(a) = shared.access() else {
            if shared.built.is_none() {
                return draw_waiting(frame, body, title, shared);
            }
            frame.render_widget(
                Paragraph::new(no_accounts(shared))
                    .wrap(Wrap { trim: false })
                    .block(titled(title, shared)),
                body,
            );
            return;
        };
        let title = format!(
            "{title}· active: {} days · dormant: over {} days · j/k scroll ",
            a.active_days, a.dormant_days
        );
        frame.render_widget(
            titled(
                fit(&title, usize::from(body.width).saturating_sub(2)),
                shared,
            ),
            body,
        );
        if let Some(columns) = Self::columns(shared, body) {
            render_page(frame, columns, self.offset);
        }
    }
}

/// The selected dormant seat, and every other account of its person with its activity.
fn dormant_detail(seat: &DormantSeat, a: &AccessInsights, t: &Theme) -> Vec<Line<'static>> {
    let never = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or("never".to_owned(), crate::ui::widgets::minute)
    };
    let mut lines = column_lines(&DORMANT_SEATS, seat, t);
    lines.push(Line::styled(
        format!(
            "A seat with no activity in the {} days before as of.",
            a.dormant_days
        ),
        t.dim,
    ));
    lines.push(Line::raw(""));
    let Some(own) = a.accounts.get(seat.account) else {
        return lines;
    };
    if let Some(email) = &own.person_email {
        lines.push(field("Person", email.clone(), t));
    }
    let others: Vec<_> = a
        .accounts
        .iter()
        .enumerate()
        .filter(|(i, acc)| own.person.is_some() && acc.person == own.person && *i != seat.account)
        .map(|(_, acc)| acc)
        .collect();
    lines.push(Line::styled("Other accounts of this person:", t.header));
    if others.is_empty() {
        lines.push(Line::raw("  none: this is their only account"));
    }
    for acc in others {
        let what = match (acc.seat, acc.dormant, acc.active) {
            (true, true, _) => "dormant seat",
            (true, false, true) => "active seat",
            (true, false, false) => "seat",
            (false, _, true) => "active, no seat",
            (false, _, false) => "no seat",
        };
        let disabled = match acc.status {
            AccountStatus::Active => "",
            AccountStatus::Disabled => ", disabled",
        };
        let name = acc
            .username
            .clone()
            .or_else(|| acc.email.clone())
            .unwrap_or_else(|| acc.id.clone());
        lines.push(Line::raw(format!(
            "  {} · {name} · {what}{disabled} · last {}",
            acc.system,
            never(acc.last_activity)
        )));
    }
    lines
}

pub fn dormant_seats() -> SheetTable<DormantSeat, AccessInsights> {
    SheetTable::new(&DORMANT_SEATS, "Dormant", access_source)
        .filtered("dormant seats")
        .detail(" Selected seat ", dormant_detail)
        .missing(no_accounts)
        .scope(as_of_scope)
}
