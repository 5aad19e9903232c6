//! The Insights view (observations only): monthly activity, users by email domain, who was
//! seen recently per system, identifier rules, service accounts, sync outcomes and the
//! largest merged users. Where account data exists these figures are "seen", not
//! "active": activity of accounts is the Access view's (SPEC §9).

use chrono::{DateTime, Datelike, Utc};
use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Bar, BarChart, BarGroup, Paragraph, Sparkline};
use ratatui::Frame;
use tally_core::report::insights::{Insights, ACTIVE_DAYS};
use tally_core::report::{MonthlyActive, WindowReport};

use super::{
    draw_waiting, max_scroll, page_columns, render_page, scroll_key, titled, Cmd, View, SCROLL_KEYS,
};
use crate::ui::state::{Built, Shared};
use crate::ui::theme::Theme;
use crate::ui::widgets::{fit, heading, share, stacked, thousands, width_of};

/// From this height the chart has room for bars; below it is one sparkline row.
const CHART_BARS: u16 = 6;

#[derive(Debug, Default)]
pub struct InsightsView {
    offset: usize,
    max: usize,
    page: usize,
}

pub fn computed(built: &Built) -> String {
    format!(
        "computed {} UTC",
        built.computed_at.format("%Y-%m-%d %H:%M:%S")
    )
}

/// The chart and the page below it.
fn areas(body: Rect) -> (Rect, Rect) {
    let chart = if body.height >= 20 { 10 } else { 8 };
    let [c, t] = Layout::vertical([Constraint::Length(chart), Constraint::Min(1)]).areas(body);
    (c, t)
}

/// The page's inner area (inside its border).
fn page_inner(body: Rect) -> Rect {
    let (_, text) = areas(body);
    ratatui::widgets::Block::bordered().inner(text)
}

/// Whether `month` (`yyyy-mm`) is the month of `as_of`, so only partly behind us.
pub fn is_partial(month: &str, as_of: DateTime<Utc>) -> bool {
    month == format!("{:04}-{:02}", as_of.year(), as_of.month())
}

/// What the chart calls the people it counts.
fn who(shared: &Shared) -> &'static str {
    if shared.access().is_some() {
        "Users seen per month"
    } else {
        "Monthly active users"
    }
}

/// Monthly activity as bars (or one sparkline row when short), the current month marked
/// `*` partial.
pub fn monthly_chart(
    frame: &mut Frame,
    area: Rect,
    months: &[MonthlyActive],
    shared: &Shared,
    note: &str,
) {
    let t = &shared.theme;
    let partial = months
        .last()
        .is_some_and(|m| is_partial(&m.month, shared.as_of));
    let mut title = format!(" {} · {} ", who(shared), shared.window.label());
    if partial {
        title.push_str("· * month in progress ");
    }
    if !note.is_empty() {
        title.push_str(&format!("· {note} "));
    }
    let block = titled(
        fit(&title, usize::from(area.width).saturating_sub(2)),
        shared,
    );
    if months.is_empty() {
        frame.render_widget(
            Paragraph::new("no activity in this window").block(block),
            area,
        );
        return;
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if area.height < CHART_BARS {
        // One row: the sparkline between the first and last month, numbers at the ends.
        let first = &months[0];
        let last = &months[months.len() - 1];
        let left = format!("{} {} ", first.month, thousands(first.users));
        let right = format!(
            " {} {}{}",
            last.month,
            thousands(last.users),
            if partial { "*" } else { "" }
        );
        let spark_width = usize::from(inner.width)
            .saturating_sub(width_of(&left) + width_of(&right))
            .min(months.len() * 4);
        let [l, s, r, _] = Layout::horizontal([
            Constraint::Length(width_of(&left) as u16),
            Constraint::Length(spark_width as u16),
            Constraint::Length(width_of(&right) as u16),
            Constraint::Min(0),
        ])
        .areas(inner);
        let data: Vec<u64> = months
            .iter()
            .flat_map(|m| std::iter::repeat_n(m.users, (spark_width / months.len()).max(1)))
            .collect();
        frame.render_widget(Paragraph::new(Span::styled(left, t.dim)), l);
        frame.render_widget(Sparkline::default().data(&data).style(t.fill), s);
        frame.render_widget(Paragraph::new(Span::styled(right, t.dim)), r);
        return;
    }
    let n = months.len() as u16;
    // As wide as the area allows, one column of gap; at least 3 so values fit.
    let bar_width = (inner.width.saturating_sub(n) / n.max(1)).clamp(3, 24);
    let bars: Vec<Bar> = months
        .iter()
        .map(|m| {
            let star = if is_partial(&m.month, shared.as_of) {
                "*"
            } else {
                ""
            };
            // `yyyy-mm`, else `mm/yy`, else `mm`: whichever fits the bar with its mark.
            let label = if usize::from(bar_width) > width_of(&m.month) {
                m.month.clone()
            } else if bar_width >= 6 {
                format!(
                    "{}/{}",
                    m.month.get(5..7).unwrap_or(""),
                    m.month.get(2..4).unwrap_or("")
                )
            } else {
                m.month.get(5..7).unwrap_or("").to_owned()
            };
            let value = thousands(m.users);
            let value = if width_of(&value) <= usize::from(bar_width) {
                value
            } else {
                String::new()
            };
            Bar::default()
                .value(m.users)
                .label(Line::raw(format!("{label}{star}")))
                .text_value(value)
                .style(if star.is_empty() { t.fill } else { t.fill2 })
        })
        .collect();
    let chart = BarChart::default()
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_width)
        .bar_gap(1)
        .bar_set(ratatui::symbols::bar::NINE_LEVELS)
        .value_style(t.selected)
        .label_style(t.dim);
    frame.render_widget(chart, inner);
}

/// The insights as sections, each a list of lines headed by its title.
pub fn sections(
    w: &WindowReport,
    ins: &Insights,
    width: usize,
    accounts: bool,
    t: &Theme,
) -> Vec<Vec<Line<'static>>> {
    // A bar takes what its line's text leaves, within reason.
    let bars = |text: usize| width.saturating_sub(text).clamp(4, 40);
    let mut sections = Vec::new();
    let mut out = Vec::new();
    let total = w.summary.total_unique_users;

    out.push(heading("Users by email domain", "", t));
    if ins.managed_domains_configured {
        out.push(Line::raw(format!(
            "  managed {} · external {} · no email {}",
            thousands(ins.managed_users),
            thousands(ins.external_users),
            thousands(ins.users_without_email)
        )));
    } else {
        out.push(Line::raw(fit(
            &format!(
                "  {} with an email, {} without",
                thousands(ins.managed_users + ins.external_users),
                thousands(ins.users_without_email)
            ),
            width,
        )));
        out.push(Line::styled(
            fit(
                "  set [identity] managed_domains to split managed / external",
                width,
            ),
            t.dim,
        ));
    }
    let top = ins.domains.first().map(|d| d.users).unwrap_or(0);
    for d in ins.domains.iter().take(8) {
        let mark = match (ins.managed_domains_configured, d.managed) {
            (false, _) => "",
            (true, true) => "managed ",
            (true, false) => "external",
        };
        let mut spans = vec![Span::raw(format!(
            "  {:<26} {:>7} ",
            fit(&d.domain, 26),
            thousands(d.users)
        ))];
        spans.extend(share(d.users, top, bars(47), t));
        spans.push(Span::styled(format!(" {mark}"), t.dim));
        out.push(Line::from(spans));
    }
    if ins.domains.len() > 8 {
        out.push(Line::styled(
            format!(
                "  … and {} more domains",
                thousands(ins.domains.len() as u64 - 8)
            ),
            t.dim,
        ));
    }
    sections.push(std::mem::take(&mut out));

    if accounts {
        out.push(heading(
            &format!("Seen in the last {ACTIVE_DAYS} days, per system"),
            "observations",
            t,
        ));
        out.push(Line::styled(
            fit("  active accounts and seats: see the Access view", width),
            t.dim,
        ));
    } else {
        out.push(heading("Active users per system", "", t));
    }
    out.push(Line::styled(
        fit(
            &format!("  █ seen in the {ACTIVE_DAYS} days before as of, ░ not"),
            width,
        ),
        t.dim,
    ));
    for s in &ins.active_by_system {
        let mut spans = vec![Span::raw(format!(
            "  {:<18} {:>7} seen {:>7} not ",
            fit(&s.system, 18),
            thousands(s.active),
            thousands(s.inactive),
        ))];
        spans.extend(share(s.active, s.active + s.inactive, bars(46), t));
        out.push(Line::from(spans));
    }
    sections.push(std::mem::take(&mut out));

    out.push(heading("How users were identified", "", t));
    for r in &ins.by_rule {
        let mut spans = vec![Span::raw(format!(
            "  {:<20} {:>7} {:>5.1}% ",
            r.rule.label(),
            thousands(r.users),
            r.percent
        ))];
        spans.extend(share((r.percent * 10.0) as u64, 1000, bars(40), t));
        out.push(Line::from(spans));
    }
    out.push(Line::styled(
        format!("  of {} users", thousands(total)),
        t.dim,
    ));
    sections.push(std::mem::take(&mut out));

    out.push(heading("Service accounts per system", "", t));
    if ins.service_accounts_by_system.is_empty() {
        out.push(Line::raw("  none"));
    }
    for (system, n) in &ins.service_accounts_by_system {
        out.push(Line::raw(format!(
            "  {:<18} {:>7}",
            fit(system, 18),
            thousands(*n)
        )));
    }
    sections.push(std::mem::take(&mut out));

    out.push(heading("Sync outcomes per system pair", "", t));
    out.push(Line::styled("  sync records: █ succeeded, ▒ failed", t.dim));
    if ins.sync_outcomes.is_empty() {
        out.push(Line::raw("  no syncs in this window"));
    }
    for s in &ins.sync_outcomes {
        let mut spans = vec![Span::raw(format!(
            "  {:<28} {:>8} ok {:>6} failed ",
            fit(&format!("{} ↔ {}", s.system1, s.system2), 28),
            thousands(s.succeeded),
            thousands(s.failed),
        ))];
        spans.extend(stacked(
            &[(s.succeeded, t.done, '█'), (s.failed, t.failed, '▒')],
            s.succeeded + s.failed,
            bars(58).min(12),
            t,
        ));
        out.push(Line::from(spans));
    }
    sections.push(std::mem::take(&mut out));

    out.push(heading("Largest merged users", "", t));
    // The label gets what the numbers leave.
    let label_width = width.saturating_sub(34).clamp(16, 32);
    let why_width = width.saturating_sub(label_width + 28).max(8);
    if ins.largest_merged.is_empty() {
        out.push(Line::raw("  no user has more than one email or username"));
    } else {
        out.push(Line::styled(
            format!(
                "  {:<label_width$} Emails Usernames Systems  Identified by",
                "where over-merging would show"
            ),
            t.dim,
        ));
    }
    for m in &ins.largest_merged {
        let mut why = m.identified_by.label().to_owned();
        if !m.shared_handles.is_empty() {
            why.push_str(&format!(" via {}", m.shared_handles.join(", ")));
        }
        if m.forced_merge {
            why.push_str(", forced merge");
        }
        if m.service_account {
            why.push_str(", service account");
        }
        out.push(Line::raw(format!(
            "  {:<label_width$} {:>6} {:>9} {:>7}  {}",
            fit(&m.label, label_width),
            thousands(m.emails as u64),
            thousands(m.usernames as u64),
            thousands(m.systems as u64),
            fit(&why, why_width)
        )));
    }
    sections.push(out);
    sections
}

impl InsightsView {
    fn columns(shared: &Shared, body: Rect) -> Option<Vec<(Rect, Vec<Line<'static>>)>> {
        let built = shared.built.as_ref()?;
        let inner = page_inner(body);
        // Each column's sections are laid out for that column's width.
        let width = usize::from(crate::ui::layout::page_columns(inner)[0].width);
        let sections = sections(
            built.window(shared.window),
            built.insights(shared.window),
            width,
            shared.access().is_some(),
            &shared.theme,
        );
        Some(page_columns(inner, sections))
    }
}

impl View for InsightsView {
    fn title(&self) -> &'static str {
        "Insights"
    }

    fn short(&self) -> &'static str {
        "Insights"
    }

    fn commands(&self) -> Vec<Cmd> {
        SCROLL_KEYS.to_vec()
    }

    fn on_key(&mut self, key: KeyEvent, _shared: &Shared, _body: Rect) -> bool {
        scroll_key(key, &mut self.offset, self.max, self.page)
    }

    fn refresh(&mut self, shared: &Shared, body: Rect) {
        self.max = Self::columns(shared, body).map_or(0, |c| max_scroll(&c));
        self.page = usize::from(page_inner(body).height);
        self.offset = self.offset.min(self.max);
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let title = format!(" Insights · {} ", shared.window.label());
        let (Some(built), Some(columns)) = (&shared.built, Self::columns(shared, body)) else {
            return draw_waiting(frame, body, title, shared);
        };
        let (chart, text) = areas(body);
        monthly_chart(
            frame,
            chart,
            &built.insights(shared.window).monthly_active,
            shared,
            &computed(built),
        );
        let block = titled(
            format!("{title}· {} · j/k scroll ", computed(built)),
            shared,
        );
        frame.render_widget(block, text);
        render_page(frame, columns, self.offset);
    }
}
