//! The dashboard: collection as it happens (every connector's state, records, rate and
//! progress, and why one failed), the headline numbers, unique users per system and the
//! monthly activity — the whole screen, each part sized to what it holds.

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;
use tally_core::collect::ConnectorState;
use tally_core::identity::Rule;

use super::insights::{computed, monthly_chart};
use super::{scroll_key, titled, waiting_lines, Cmd, View};
use crate::ui::state::{Collection, ConnectorRow, Shared};
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    cell_left, cell_right, fit, minute, share, spinner, stacked, thousands, width_of,
};

/// Width of the progress bar in the connectors table.
const PROGRESS_BAR: usize = 10;
/// The headline box: label and number columns, plus borders.
const HEADLINE_LABEL: usize = 28;
const HEADLINE_WIDTH: u16 = 42;
/// Rows a failure's reason may wrap onto before it is cut with `…`.
const PROBLEM_ROWS: usize = 3;

#[derive(Debug, Default)]
pub struct Dashboard {
    /// The connectors table scrolls when there are more than fit.
    offset: usize,
}

/// The dashboard's areas in `body`: one pure function for `update` (how far the
/// connectors scroll) and `draw`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub status: Rect,
    pub connectors: Rect,
    pub problems: Rect,
    pub headline: Rect,
    pub systems: Rect,
    pub chart: Rect,
}

/// Each connector's warning or failure as one line of text. A failure says, before its
/// reason (which may be cut), when the connector was last collected well: the report
/// still holds those records.
fn problems(shared: &Shared) -> Vec<(String, bool)> {
    let provenance = shared
        .built
        .as_ref()
        .and_then(|b| b.report.provenance.as_ref());
    shared
        .connectors
        .iter()
        .filter_map(|c| match &c.state {
            ConnectorState::Failed(reason) => {
                let source = provenance.and_then(|p| p.sources.iter().find(|s| s.name == c.name));
                let earlier = match source.and_then(|s| s.last_ok_at()) {
                    Some(t) => format!(" (last collected at {} UTC)", minute(t)),
                    None if source.is_some() => " (no earlier collection)".to_owned(),
                    None => String::new(),
                };
                Some((format!("✗ {} failed{earlier}: {reason}", c.name), true))
            }
            _ => c.last_problem.as_ref().map(|p| {
                (
                    format!(
                        "! {}: {} warning(s), {} skipped; last: {p}",
                        c.name,
                        thousands(c.warnings),
                        thousands(c.skipped)
                    ),
                    false,
                )
            }),
        })
        .collect()
}

/// Rows a problem line takes when wrapped at word boundaries at `width` (as the
/// paragraph wraps it; a word longer than a row is broken).
fn rows_of(text: &str, width: u16) -> usize {
    let width = usize::from(width.max(1));
    let mut rows = 1;
    let mut used = 0;
    for word in text.split(' ') {
        let w = width_of(word);
        let need = if used == 0 { w } else { used + 1 + w };
        if need <= width {
            used = need;
        } else {
            rows += usize::from(used > 0) + w.saturating_sub(1) / width;
            used = if w > width { w % width } else { w };
        }
    }
    rows.clamp(1, PROBLEM_ROWS)
}

pub fn areas(body: Rect, shared: &Shared) -> Areas {
    let problem_rows: usize = problems(shared)
        .iter()
        .map(|(p, _)| rows_of(p, body.width))
        .sum();
    let problem_rows = u16::try_from(problem_rows).unwrap_or(u16::MAX);
    let headline = shared.current().map_or(1, |w| w.summary.headline().len()) as u16 + 2;
    let systems = shared.current().map_or(0, |w| w.user_counts.len()) as u16 + 2;
    let middle = headline.max(systems);
    // The table holds every connector if it can; it never squeezes the headline out.
    let table_want = shared.connectors.len() as u16 + 3;
    let table = table_want.min(body.height.saturating_sub(1 + problem_rows + middle).max(4));
    let [status, connectors, problems, middle_area, chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table),
        Constraint::Length(problem_rows),
        Constraint::Length(middle),
        Constraint::Min(0),
    ])
    .areas(body);
    let (headline, systems) = if middle_area.width >= HEADLINE_WIDTH * 2 - 10 {
        let [h, s] = Layout::horizontal([Constraint::Length(HEADLINE_WIDTH), Constraint::Min(0)])
            .areas(middle_area);
        (h, s)
    } else {
        (middle_area, Rect::default())
    };
    Areas {
        status,
        connectors,
        problems,
        headline,
        systems,
        chart,
    }
}

fn page(body: Rect, shared: &Shared) -> usize {
    usize::from(areas(body, shared).connectors.height)
        .saturating_sub(3)
        .max(1)
}

fn state_cell(c: &ConnectorRow, ticks: u64, t: &Theme) -> (String, ratatui::style::Style) {
    match &c.state {
        ConnectorState::Waiting => ("· waiting".to_owned(), t.dim),
        ConnectorState::Running => (format!("{} running", spinner(ticks)), t.running),
        ConnectorState::Done => ("✓ done".to_owned(), t.done),
        ConnectorState::Failed(_) => ("✗ FAILED".to_owned(), t.failed),
    }
}

fn rate(c: &ConnectorRow) -> String {
    c.rate()
        .map(|r| format!("{}/s", thousands(r.round() as u64)))
        .unwrap_or_default()
}

fn status_line(shared: &Shared) -> Line<'static> {
    let t = &shared.theme;
    let records: u64 = shared.connectors.iter().map(|c| c.received).sum();
    let records = thousands(records);
    match &shared.collection {
        Collection::NotStarted => Line::raw(" Collection: not started (r starts it)"),
        Collection::Running { since } => {
            let fractions: Vec<f64> = shared
                .connectors
                .iter()
                .map(|c| match c.state {
                    ConnectorState::Failed(_) => 1.0,
                    _ => c.fraction().unwrap_or(0.0),
                })
                .collect();
            let overall = if fractions.is_empty() {
                1.0
            } else {
                fractions.iter().sum::<f64>() / fractions.len() as f64
            };
            let mut spans = vec![Span::styled(
                format!(
                    " Collection: {} running {:.1}s · {records} records  ",
                    spinner(shared.ticks),
                    shared.now.saturating_duration_since(*since).as_secs_f64(),
                ),
                t.running,
            )];
            spans.extend(share((overall * 1000.0) as u64, 1000, 16, t));
            spans.push(Span::raw(format!(" {:>3.0}%", overall * 100.0)));
            Line::from(spans)
        }
        Collection::Finished { took } => Line::from(vec![
            Span::raw(" Collection: "),
            Span::styled("✓ done", t.done),
            Span::raw(format!(
                " in {:.1}s · {records} records ",
                took.as_secs_f64()
            )),
            Span::styled("(r collects again)", t.dim),
        ]),
        Collection::Failed(e) => Line::styled(format!(" Collection: ✗ failed: {e}"), t.failed),
    }
}

impl Dashboard {
    fn draw_connectors(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = &shared.theme;
        let rows: Vec<[String; 6]> = shared
            .connectors
            .iter()
            .map(|c| {
                let progress = match c.fraction() {
                    Some(f) => format!("{:>3.0}%", f * 100.0),
                    None if matches!(c.state, ConnectorState::Running) => "…".to_owned(),
                    None => String::new(),
                };
                [
                    c.name.clone(),
                    c.kind.clone(),
                    state_cell(c, shared.ticks, t).0,
                    thousands(c.received),
                    rate(c),
                    progress,
                ]
            })
            .collect();
        let headers = ["Connector", "Kind", "State", "Records", "Rate", "Progress"];
        // Every column as wide as its widest cell; the name takes what is left over.
        let mut widths: Vec<usize> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                rows.iter()
                    .map(|r| width_of(&r[i]))
                    .chain([width_of(h)])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        widths[5] = widths[5].max(PROGRESS_BAR + 5);
        let inner = usize::from(area.width).saturating_sub(2);
        let fixed: usize = widths[1..].iter().sum::<usize>() + widths.len() - 1;
        widths[0] = widths[0].min(inner.saturating_sub(fixed)).max(4);
        let header = Row::new(headers.iter().enumerate().map(|(i, h)| {
            let text = if (3..5).contains(&i) {
                cell_right(h, widths[i])
            } else {
                cell_left(h, widths[i])
            };
            Cell::from(text)
        }))
        .style(t.header);
        let body: Vec<Row> = shared
            .connectors
            .iter()
            .zip(&rows)
            .skip(self.offset)
            .map(|(c, r)| {
                let (_, style) = state_cell(c, shared.ticks, t);
                let mut progress = Vec::new();
                if let Some(f) = c.fraction() {
                    progress.extend(share((f * 1000.0) as u64, 1000, PROGRESS_BAR, t));
                    progress.push(Span::raw(format!(" {}", r[5])));
                } else if !r[5].is_empty() {
                    progress.extend(share(0, 1, PROGRESS_BAR, t));
                    progress.push(Span::raw(format!(" {}", r[5])));
                }
                Row::new([
                    Cell::from(cell_left(&r[0], widths[0])),
                    Cell::from(Span::styled(cell_left(&r[1], widths[1]), t.dim)),
                    Cell::from(Span::styled(r[2].clone(), style)),
                    Cell::from(cell_right(&r[3], widths[3])),
                    Cell::from(cell_right(&r[4], widths[4])),
                    Cell::from(Line::from(progress)),
                ])
            })
            .collect();
        let constraints: Vec<Constraint> = widths
            .iter()
            .map(|w| Constraint::Length(u16::try_from(*w).unwrap_or(u16::MAX)))
            .collect();
        let shown = usize::from(area.height).saturating_sub(3);
        let mut title = format!(" Connectors · {} ", shared.connectors.len());
        if shared.connectors.len() > shown {
            title.push_str(&format!(
                "· {}–{} · j/k scroll ",
                self.offset + 1,
                (self.offset + shown).min(shared.connectors.len())
            ));
        }
        frame.render_widget(
            Table::new(body, constraints)
                .header(header)
                .block(titled(title, shared)),
            area,
        );
    }

    fn draw_headline(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        let t = &shared.theme;
        let title = match &shared.built {
            Some(b) => format!(
                " {} · built in {:.1}s ",
                shared.window.label(),
                b.took.as_secs_f64()
            ),
            None => format!(" {} ", shared.window.label()),
        };
        let number = usize::from(area.width).saturating_sub(2 + HEADLINE_LABEL);
        let lines = match shared.current() {
            None => waiting_lines(shared),
            Some(w) => w
                .summary
                .headline()
                .into_iter()
                .enumerate()
                .map(|(i, (label, value))| {
                    let value = cell_right(&thousands(value), number);
                    // The total in bold, its four rules indented under it.
                    if i == 0 {
                        Line::styled(
                            format!("{}{value}", cell_left(label, HEADLINE_LABEL)),
                            t.bold,
                        )
                    } else if i <= Rule::ALL.len() {
                        Line::from(vec![
                            Span::styled(cell_left(&format!("  {label}"), HEADLINE_LABEL), t.dim),
                            Span::raw(value),
                        ])
                    } else {
                        Line::raw(format!("{}{value}", cell_left(label, HEADLINE_LABEL)))
                    }
                })
                .collect(),
        };
        frame.render_widget(Paragraph::new(lines).block(titled(title, shared)), area);
    }

    fn draw_systems(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        if area.width < 20 || area.height < 3 {
            return;
        }
        let t = &shared.theme;
        let Some(w) = shared.current() else {
            frame.render_widget(titled(" Unique users per system ".to_owned(), shared), area);
            return;
        };
        let mut counts: Vec<(&str, u64)> = w
            .user_counts
            .iter()
            .map(|c| (c.system.as_str(), c.count))
            .collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let top = counts.first().map_or(0, |c| c.1);
        let inner = usize::from(area.width).saturating_sub(2);
        let name = counts
            .iter()
            .map(|c| width_of(c.0))
            .max()
            .unwrap_or(0)
            .min(inner / 3);
        let number = counts
            .iter()
            .map(|c| width_of(&thousands(c.1)))
            .max()
            .unwrap_or(1);
        let bar = inner.saturating_sub(name + number + 2);
        let lines: Vec<Line> = counts
            .iter()
            .map(|(system, n)| {
                let mut spans = vec![Span::raw(format!(
                    "{} {} ",
                    cell_left(system, name),
                    cell_right(&thousands(*n), number)
                ))];
                spans.extend(stacked(&[(*n, t.fill, '█')], top, bar, t));
                Line::from(spans)
            })
            .collect();
        let title = fit(
            &format!(" Unique users per system · {} ", shared.window.label()),
            inner,
        );
        frame.render_widget(Paragraph::new(lines).block(titled(title, shared)), area);
    }
}

impl View for Dashboard {
    fn title(&self) -> &'static str {
        "Dashboard"
    }

    fn short(&self) -> &'static str {
        "Dash"
    }

    fn commands(&self) -> Vec<Cmd> {
        vec![Cmd::new(
            "j k ↑ ↓",
            "scroll the connectors (when more than fit)",
        )]
    }

    fn on_key(&mut self, key: KeyEvent, shared: &Shared, body: Rect) -> bool {
        let page = page(body, shared);
        let max = shared.connectors.len().saturating_sub(page);
        scroll_key(key, &mut self.offset, max, page)
    }

    fn refresh(&mut self, shared: &Shared, body: Rect) {
        let max = shared.connectors.len().saturating_sub(page(body, shared));
        self.offset = self.offset.min(max);
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let t = &shared.theme;
        if let Some(notice) = &shared.notice {
            let lines = vec![
                Line::styled("Nothing to collect", t.failed),
                Line::raw(""),
                Line::raw(notice.clone()),
            ];
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(titled(" No connector ".to_owned(), shared)),
                body,
            );
            return;
        }
        let a = areas(body, shared);
        frame.render_widget(Paragraph::new(status_line(shared)), a.status);
        self.draw_connectors(frame, a.connectors, shared);
        let lines: Vec<Line> = problems(shared)
            .into_iter()
            .map(|(text, failed)| {
                // What does not fit its rows ends in `…` rather than vanishing.
                let room = usize::from(body.width) * PROBLEM_ROWS;
                let text = fit(&text, room);
                Line::styled(text, if failed { t.failed } else { t.running })
            })
            .collect();
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), a.problems);
        self.draw_headline(frame, a.headline, shared);
        self.draw_systems(frame, a.systems, shared);
        if a.chart.height >= 3 {
            if let Some(built) = &shared.built {
                monthly_chart(
                    frame,
                    a.chart,
                    &built.insights(shared.window).monthly_active,
                    shared,
                    &computed(built),
                );
            }
        }
    }
}
