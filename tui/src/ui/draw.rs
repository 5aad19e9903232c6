//! `draw(&App, &mut Frame)`: the screen as a function of the state. Nothing here mutates
//! the app or computes a number the report does not already hold.
//!
//! Readable without colour: the selection is reversed and marked with `▶`, states carry
//! `✓`/`✗`/`…` markers, sort columns `▲`/`▼`, bars are drawn with `█`/`░` characters.

use chrono::{DateTime, Utc};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, BarGroup, Block, Cell, Clear, Paragraph, Row, Table, TableState, Wrap,
};
use ratatui::Frame;
use tally_core::collect::ConnectorState;
use tally_core::identity::Rule;
use tally_core::report::insights::{Insights, ACTIVE_DAYS};
use tally_core::report::{SummaryValue, UserRow, WindowReport};

use super::app::{App, Built, Collection, Export, Nav, View};

/// From this width the Detailed User Report puts its detail pane beside the table.
pub const WIDE: u16 = 120;
/// Rows of the Summary view (as the Summary sheet).
pub const SUMMARY_ROWS: usize = 14;

const BOLD: Style = Style::new().add_modifier(Modifier::BOLD);
const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
const DIM: Style = Style::new().add_modifier(Modifier::DIM);

pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A text bar: readable in monochrome and in a captured pane.
pub fn bar(fraction: f64, width: usize) -> String {
    let fraction = fraction.clamp(0.0, 1.0);
    let full = (fraction * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(full),
        "░".repeat(width - full.min(width))
    )
}

/// [`bar`] of `part` out of `whole` (empty when `whole` is 0).
fn share_bar(part: u64, whole: u64, width: usize) -> String {
    bar(part as f64 / whole.max(1) as f64, width)
}

fn spinner(ticks: u64) -> &'static str {
    ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"][(ticks % 10) as usize]
}

fn computed(built: &Built) -> String {
    format!(
        "computed {} UTC",
        built.computed_at.format("%Y-%m-%d %H:%M:%S")
    )
}

/// The dashboard says how long a build took: how stale the numbers can be while collecting.
fn computed_in(built: &Built) -> String {
    format!("{} in {:.1}s", computed(built), built.took.as_secs_f64())
}

pub fn draw(app: &App, frame: &mut Frame) {
    let [title, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_title(app, frame, title);
    draw_tabs(app, frame, tabs);
    match app.view {
        View::Dashboard => draw_dashboard(app, frame, body),
        View::Summary => draw_summary(app, frame, body),
        View::Users => draw_users(app, frame, body),
        View::Insights => draw_insights(app, frame, body),
        view => draw_sheet(app, frame, body, view),
    }
    draw_footer(app, frame, footer);
    if app.help {
        draw_help(app, frame);
    }
    match &app.export {
        Export::Prompt { path, error } => draw_export_prompt(app, frame, path, error.as_deref()),
        Export::Failed(e) => draw_message(frame, "Export failed", e, "any key closes this"),
        _ => {}
    }
}

fn draw_title(app: &App, frame: &mut Frame, area: Rect) {
    let style = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    let right = format!(" {} · as of {} UTC ", app.window.label(), time(app.as_of));
    let left = match (&app.demo, &app.config_path) {
        (Some(reason), _) => format!(" tally · DEMO DATA ({reason})"),
        (None, Some(p)) => format!(" tally · {}", p.display()),
        (None, None) => " tally".to_owned(),
    };
    let width = usize::from(area.width);
    let room = width.saturating_sub(right.chars().count());
    let left = fit(&left, room);
    let pad = room.saturating_sub(left.chars().count());
    let line = Line::from(vec![
        Span::raw(left),
        Span::raw(" ".repeat(pad)),
        Span::raw(right),
    ])
    .style(style);
    frame.render_widget(Paragraph::new(line), area);
}

/// Cuts `s` to `width` characters, ending in `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let long = area.width >= 150;
    let mut spans = Vec::new();
    for (i, view) in View::ALL.iter().enumerate() {
        let name = if long { view.title() } else { view.short() };
        let text = format!("{} {}", i + 1, name);
        if *view == app.view {
            spans.push(Span::styled(
                format!("[{text}]"),
                SELECTED.add_modifier(Modifier::BOLD),
            ));
        } else {
            spans.push(Span::raw(format!(" {text} ")));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(app: &App, frame: &mut Frame, area: Rect) {
    let mut spans = vec![];
    let status = match &app.collection {
        Collection::NotStarted => "collection not started".to_owned(),
        Collection::Running { .. } => {
            let done = app
                .connectors
                .iter()
                .filter(|c| matches!(c.state, ConnectorState::Done | ConnectorState::Failed(_)))
                .count();
            format!(
                "{} collecting {done}/{} connectors",
                spinner(app.ticks),
                app.connectors.len()
            )
        }
        Collection::Finished { .. } => {
            let failed = app
                .connectors
                .iter()
                .filter(|c| matches!(c.state, ConnectorState::Failed(_)))
                .count();
            if failed == 0 {
                "✓ collection done".to_owned()
            } else {
                format!("✗ collection done, {failed} failed")
            }
        }
        Collection::Failed(_) => "✗ collection failed".to_owned(),
    };
    spans.push(Span::raw(format!(" {status}")));
    if app.building {
        spans.push(Span::raw(" · rebuilding report"));
    }
    match &app.export {
        Export::Running { dest, since } => {
            let name = dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            spans.push(Span::styled(
                format!(
                    " · {} exporting {name} {:.1}s",
                    spinner(app.ticks),
                    app.now.saturating_duration_since(*since).as_secs_f64()
                ),
                BOLD,
            ));
        }
        Export::Done(p) => {
            spans.push(Span::styled(
                format!(" · ✓ Exported to {}", p.display()),
                BOLD,
            ));
        }
        _ => {}
    }
    let hint = " ? help  q quit ";
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let width = usize::from(area.width);
    if used + hint.len() <= width {
        spans.push(Span::raw(" ".repeat(width - used - hint.len())));
        spans.push(Span::styled(hint, DIM));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn headline_lines(app: &App) -> Vec<Line<'static>> {
    let Some(w) = app.current() else {
        let text = match (&app.report_error, app.building) {
            (Some(e), _) => format!("✗ report failed: {e}"),
            (None, true) => "building the first report…".to_owned(),
            (None, false) => "no report yet".to_owned(),
        };
        return vec![Line::raw(text)];
    };
    w.summary
        .headline()
        .into_iter()
        .enumerate()
        .map(|(i, (label, value))| {
            // The total in bold, its four rules indented under it.
            if i == 0 {
                Line::styled(format!("{label:<28}{value:>10}"), BOLD)
            } else if i <= Rule::ALL.len() {
                Line::raw(format!("{:<28}{value:>10}", format!("  {label}")))
            } else {
                Line::raw(format!("{label:<28}{value:>10}"))
            }
        })
        .collect()
}

fn draw_dashboard(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::bordered().title(Line::styled(" Dashboard ", BOLD));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let source = match (&app.demo, &app.config_path) {
        (Some(reason), _) => format!("Source: demo data — {reason}"),
        (None, Some(p)) => format!("Source: configuration {}", p.display()),
        (None, None) => "Source: —".to_owned(),
    };
    let fractions: Vec<f64> = app
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
    let records: u64 = app.connectors.iter().map(|c| c.received).sum();
    let collection = match &app.collection {
        Collection::NotStarted => "Collection: not started (r starts it)".to_owned(),
        Collection::Running { since } => format!(
            "Collection: {} running {:.1}s · {records} records  {} {:>3.0}%",
            spinner(app.ticks),
            app.now.saturating_duration_since(*since).as_secs_f64(),
            bar(overall, 16),
            overall * 100.0
        ),
        Collection::Finished { took } => format!(
            "Collection: ✓ done in {:.1}s · {records} records (r collects again)",
            took.as_secs_f64()
        ),
        Collection::Failed(e) => format!("Collection: ✗ failed: {e}"),
    };

    let problems: Vec<Line> = app
        .connectors
        .iter()
        .filter_map(|c| match &c.state {
            ConnectorState::Failed(reason) => Some(Line::styled(
                format!("✗ {} failed: {reason}", c.name),
                BOLD.fg(Color::Red),
            )),
            _ => c.last_problem.as_ref().map(|p| {
                Line::raw(format!(
                    "! {}: {} warning(s), {} skipped; last: {p}",
                    c.name, c.warnings, c.skipped
                ))
            }),
        })
        .collect();

    let table_height =
        (app.connectors.len() as u16 + 3).min(inner.height.saturating_sub(13).max(4));
    let [info, table_area, headline_area, problems_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(table_height),
        Constraint::Length(11),
        Constraint::Min(0),
    ])
    .areas(inner);

    frame.render_widget(
        Paragraph::new(vec![Line::raw(source), Line::raw(collection)]),
        info,
    );

    let header =
        Row::new(["Connector", "Kind", "State", "Records", "Rate", "Progress"]).style(BOLD);
    let rows: Vec<Row> = app
        .connectors
        .iter()
        .map(|c| {
            let (state, style) = match &c.state {
                ConnectorState::Waiting => ("· waiting".to_owned(), Style::new()),
                ConnectorState::Running => {
                    (format!("{} running", spinner(app.ticks)), Style::new())
                }
                ConnectorState::Done => ("✓ done".to_owned(), Style::new().fg(Color::Green)),
                ConnectorState::Failed(_) => ("✗ FAILED".to_owned(), BOLD.fg(Color::Red)),
            };
            let rate = c.rate().map(|r| format!("{r:.0}/s")).unwrap_or_default();
            let progress = match c.fraction() {
                Some(f) => format!("{} {:>3.0}%", bar(f, 10), f * 100.0),
                None if matches!(c.state, ConnectorState::Running) => {
                    format!("{} …", bar(0.0, 10))
                }
                None => String::new(),
            };
            Row::new([
                Cell::from(c.name.clone()),
                Cell::from(c.kind.clone()),
                Cell::from(state).style(style),
                Cell::from(format!("{:>9}", c.received)),
                Cell::from(format!("{rate:>9}")),
                Cell::from(progress),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Fill(2),
            Constraint::Fill(1),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(15),
        ],
    )
    .header(header)
    .block(Block::bordered().title(" Connectors "));
    let mut state = TableState::default().with_offset(app.nav().offset);
    frame.render_stateful_widget(table, table_area, &mut state);

    let title = match &app.built {
        Some(b) => format!(" {} · {} ", app.window.label(), computed_in(b)),
        None => format!(" {} ", app.window.label()),
    };
    frame.render_widget(
        Paragraph::new(headline_lines(app)).block(Block::bordered().title(title)),
        headline_area,
    );
    // What is left below shows users per system, live: the Unique User Count sheet.
    let problem_rows = u16::try_from(problems.len()).unwrap_or(u16::MAX);
    let [problems_area, systems_area] =
        Layout::vertical([Constraint::Length(problem_rows), Constraint::Min(0)])
            .areas(problems_area);
    frame.render_widget(
        Paragraph::new(problems).wrap(Wrap { trim: false }),
        problems_area,
    );
    if let Some(w) = app.current() {
        if systems_area.height >= 4 && !w.user_counts.is_empty() {
            let top = w.user_counts.iter().map(|c| c.count).max().unwrap_or(0);
            let bar_width = usize::from(systems_area.width).saturating_sub(34).min(40);
            let lines: Vec<Line> = w
                .user_counts
                .iter()
                .map(|c| {
                    Line::raw(format!(
                        "{:<20} {:>9} {}",
                        fit(&c.system, 20),
                        c.count,
                        share_bar(c.count, top, bar_width)
                    ))
                })
                .collect();
            frame.render_widget(
                Paragraph::new(lines).block(Block::bordered().title(" Unique users per system ")),
                systems_area,
            );
        }
    }
}

fn draw_summary(app: &App, frame: &mut Frame, area: Rect) {
    let title = format!(" Summary · {} ", app.window.label());
    let Some(w) = app.current() else {
        return draw_no_report(app, frame, area, &title);
    };
    let rows: Vec<(&str, String)> = w
        .summary_rows(app.as_of)
        .into_iter()
        .map(|(label, v)| match v {
            SummaryValue::Count(n) => (label, n.to_string()),
            SummaryValue::Time(t) => (label, time(t)),
        })
        .collect();
    debug_assert_eq!(rows.len(), SUMMARY_ROWS);
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(l, v)| Row::new([Cell::from(l), Cell::from(format!("{v:>16}"))]))
        .collect();
    let table = Table::new(rows, [Constraint::Length(28), Constraint::Length(16)])
        .header(Row::new(["Metric", "Value"]).style(BOLD));
    render_table(frame, area, table, title, app.nav(), true);
}

/// A table with a selection: bordered with `title`, the selected row reversed and marked
/// `▶`, scrolled and selected as `nav` says (`select: false` selects nothing).
fn render_table(
    frame: &mut Frame,
    area: Rect,
    table: Table<'_>,
    title: String,
    nav: &Nav,
    select: bool,
) {
    let table = table
        .block(Block::bordered().title(title))
        .row_highlight_style(SELECTED)
        .highlight_symbol("▶ ");
    let mut state = TableState::default()
        .with_offset(nav.offset)
        .with_selected(select.then_some(nav.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_no_report(app: &App, frame: &mut Frame, area: Rect, title: &str) {
    frame.render_widget(
        Paragraph::new(headline_lines(app)).block(Block::bordered().title(title.to_owned())),
        area,
    );
}

/// Shorter headers where the sheet's own would be cut to ambiguity in a narrow terminal.
fn short_columns(view: View) -> &'static [&'static str] {
    match view {
        View::UserCount => &[
            "System",
            "Count",
            "Usr or Email",
            "Emails",
            "Display N.",
            "Usernames",
        ],
        View::EntityTypes => &["Pairs", "System", "Entity Type", "Status", "Last Synced"],
        View::Projects => &[
            "System 1",
            "Project 1",
            "System 2",
            "Project 2",
            "Status",
            "Updated",
            "Synced",
        ],
        View::Synced => &["System 1", "System 2", "Entities Synced", "Last Synced"],
        _ => view.columns(),
    }
}

fn header_row(app: &App, view: View, narrow: bool) -> Row<'static> {
    let nav = app.nav[view.index()];
    let names = if narrow {
        short_columns(view)
    } else {
        view.columns()
    };
    Row::new(
        names
            .iter()
            .enumerate()
            .map(|(i, name)| header_cell(name, &nav, i)),
    )
}

/// A column header, marked `▲`/`▼` when the table is sorted by `column`.
fn header_cell(name: &str, nav: &Nav, column: usize) -> Cell<'static> {
    if nav.sort == Some(column) {
        let arrow = if nav.reverse { "▼" } else { "▲" };
        Cell::from(format!("{name} {arrow}")).style(BOLD.add_modifier(Modifier::UNDERLINED))
    } else {
        Cell::from(name.to_owned()).style(BOLD)
    }
}

fn sort_hint(app: &App, view: View) -> String {
    let nav = app.nav[view.index()];
    match nav.sort {
        None if nav.reverse => "report order, reversed".to_owned(),
        None => "report order".to_owned(),
        Some(c) => format!(
            "sorted by {}{}",
            view.columns()[c],
            if nav.reverse { ", reversed" } else { "" }
        ),
    }
}

/// The four plain table sheets.
fn draw_sheet(app: &App, frame: &mut Frame, area: Rect, view: View) {
    let title = format!(" {} · {} ", view.title(), app.window.label());
    let Some(w) = app.current() else {
        return draw_no_report(app, frame, area, &title);
    };
    let order = &app.order[view.index()];
    // Narrow terminals get dates without the time, so the names keep their room.
    let narrow = area.width < WIDE;
    let time = |t: DateTime<Utc>| {
        if narrow {
            t.format("%Y-%m-%d").to_string()
        } else {
            time(t)
        }
    };
    let opt_time = |t: Option<DateTime<Utc>>| t.map(time).unwrap_or_default();
    let stamp = Constraint::Length(if narrow { 10 } else { 16 });
    let (rows, widths): (Vec<Row>, Vec<Constraint>) = match view {
        View::UserCount => {
            let row = |c: &tally_core::report::SystemUserCount| {
                let mut cells = vec![c.system.clone(), format!("{:>7}", c.count)];
                cells.extend(c.by_rule.iter().map(|n| format!("{n:>7}")));
                cells
            };
            let mut rows: Vec<Row> = order
                .iter()
                .map(|&i| Row::new(row(&w.user_counts[i])))
                .collect();
            // The de-duplicated total stays last, whatever the sort.
            rows.push(Row::new(row(&w.all_systems)).style(BOLD));
            (
                rows,
                vec![
                    Constraint::Fill(2),
                    Constraint::Length(7),
                    Constraint::Fill(1),
                    Constraint::Fill(1),
                    Constraint::Fill(1),
                    Constraint::Fill(1),
                ],
            )
        }
        View::EntityTypes => (
            order
                .iter()
                .map(|&i| {
                    let r = &w.entity_types[i];
                    Row::new([
                        r.system_pairs.join(", "),
                        r.system.clone(),
                        r.entity_type.clone(),
                        r.status.label().to_owned(),
                        time(r.last_synced),
                    ])
                })
                .collect(),
            vec![
                Constraint::Fill(3),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(14),
                stamp,
            ],
        ),
        View::Projects => (
            order
                .iter()
                .map(|&i| {
                    let r = &w.projects[i];
                    Row::new([
                        r.system1.clone(),
                        r.project1.clone(),
                        r.system2.clone(),
                        r.project2.clone(),
                        r.status.label().to_owned(),
                        opt_time(r.last_updated),
                        opt_time(r.last_synced),
                    ])
                })
                .collect(),
            vec![
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(8),
                stamp,
                stamp,
            ],
        ),
        _ => (
            order
                .iter()
                .map(|&i| {
                    let r = &w.synced[i];
                    Row::new([
                        r.system1.clone(),
                        r.system2.clone(),
                        format!("{:>12}", r.entities),
                        time(r.last_synced),
                    ])
                })
                .collect(),
            vec![
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(if narrow { 15 } else { 27 }),
                stamp,
            ],
        ),
    };
    let title = format!(
        " {} · {} · {} ",
        view.title(),
        app.window.label(),
        sort_hint(app, view)
    );
    let table = Table::new(rows, widths).header(header_row(app, view, narrow));
    render_table(frame, area, table, title, app.nav(), true);
}

/// Which of `View::Users.columns()` the table shows at this width; the detail pane
/// shows the rest.
fn user_columns(width: u16) -> &'static [usize] {
    if width >= 170 {
        &[0, 1, 2, 3, 4, 5]
    } else if width >= 100 {
        &[0, 1, 2, 4, 5]
    } else {
        &[0, 1, 2, 4]
    }
}

fn draw_users(app: &App, frame: &mut Frame, area: Rect) {
    let title = format!(" Detailed User Report · {} ", app.window.label());
    let Some(w) = app.current() else {
        return draw_no_report(app, frame, area, &title);
    };
    let [filter_area, rest] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let wide = area.width >= WIDE;
    let (table_area, detail_area) = if wide {
        let detail = (rest.width * 2 / 5).min(60);
        let [a, b] =
            Layout::horizontal([Constraint::Min(40), Constraint::Length(detail)]).areas(rest);
        (a, b)
    } else {
        let [a, b] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(rest);
        (a, b)
    };

    let order = &app.order[View::Users.index()];
    let matching = format!("{} of {} users", order.len(), w.users.len());
    let filter_line = if app.filter_editing {
        Line::from(vec![
            Span::styled(" Filter: ", BOLD),
            Span::raw(app.filter.clone()),
            Span::styled("▏", BOLD),
            Span::styled(format!("  {matching} match · Enter keep · Esc clear"), DIM),
        ])
    } else if app.filter.is_empty() {
        Line::from(vec![
            Span::raw(format!(" {matching} · ")),
            Span::styled("/ filter by email, username or name", DIM),
        ])
    } else {
        Line::from(vec![
            Span::styled(" Filter: ", BOLD),
            Span::raw(app.filter.clone()),
            Span::raw(format!("  {matching} match · Esc clears")),
        ])
    };
    frame.render_widget(Paragraph::new(filter_line), filter_area);

    let columns = user_columns(table_area.width);
    let narrow = !columns.contains(&3);
    let cell = |u: &UserRow, c: usize| -> String {
        match c {
            0 => u.emails.first().cloned().unwrap_or_default(),
            1 => u.usernames.first().cloned().unwrap_or_default(),
            2 => u.display_names.first().cloned().unwrap_or_default(),
            3 => u.identified_by.label().to_owned(),
            4 if narrow => if u.service_account { "SA" } else { "" }.to_owned(),
            4 => if u.service_account { "Yes" } else { "No" }.to_owned(),
            _ => time(u.last_seen),
        }
    };
    let rows: Vec<Row> = order
        .iter()
        .map(|&i| Row::new(columns.iter().map(|&c| cell(&w.users[i], c))))
        .collect();
    let widths: Vec<Constraint> = columns
        .iter()
        .map(|&c| match c {
            0 => Constraint::Fill(3),
            1 | 2 => Constraint::Fill(2),
            3 => Constraint::Length(19),
            4 if narrow => Constraint::Length(2),
            4 => Constraint::Length(7),
            _ => Constraint::Length(16),
        })
        .collect();
    let nav = app.nav[View::Users.index()];
    let header = Row::new(columns.iter().map(|&c| {
        let name = if c == 4 && narrow {
            "SA"
        } else {
            View::Users.columns()[c]
        };
        header_cell(name, &nav, c)
    }));
    let title = format!(
        " Detailed User Report · {} · {} ",
        app.window.label(),
        sort_hint(app, View::Users)
    );
    let table = Table::new(rows, widths).header(header);
    render_table(frame, table_area, table, title, &nav, !order.is_empty());

    let detail = match app.selected_user() {
        Some(u) => user_detail(u, !wide),
        None => vec![Line::raw("No user matches the filter.")],
    };
    frame.render_widget(
        Paragraph::new(detail)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Selected user ")),
        detail_area,
    );
}

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

/// Every identifier, each system with its last-seen time, interactions, why merged and
/// duplicates. `compact` (narrow terminals) puts the systems on one wrapped line.
fn user_detail(u: &UserRow, compact: bool) -> Vec<Line<'static>> {
    let field = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label}: "), BOLD),
            Span::raw(if value.is_empty() {
                "—".to_owned()
            } else {
                value
            }),
        ])
    };
    let seen: Vec<String> = u
        .observed_in
        .iter()
        .map(|(system, at)| format!("{system} {}", time(*at)))
        .collect();
    let mut lines = vec![
        field("Emails", u.emails.join(", ")),
        field("Usernames", u.usernames.join(", ")),
        field("Display names", u.display_names.join(", ")),
    ];
    if compact {
        lines.push(field("Seen in (UTC)", seen.join(" · ")));
    }
    lines.extend([
        field("Identified by", why_merged(u)),
        field(
            "Interactions",
            u.interactions
                .iter()
                .map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        field(
            "Service account",
            if u.service_account { "Yes" } else { "No" }.to_owned(),
        ),
        field(
            "Duplicates",
            u.duplicates
                .iter()
                .map(|(name, system)| format!("{name} ({system})"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]);
    if !compact {
        lines.push(Line::styled("Seen in (last seen, UTC):", BOLD));
        lines.extend(seen.into_iter().map(|s| Line::raw(format!("  {s}"))));
    }
    lines
}

fn draw_insights(app: &App, frame: &mut Frame, area: Rect) {
    let title = format!(" Insights · {} ", app.window.label());
    let Some(built) = &app.built else {
        return draw_no_report(app, frame, area, &title);
    };
    let w = built.window(app.window);
    let ins = built.insights(app.window);
    let stamp = computed(built);
    let chart_height = if area.height >= 20 { 10 } else { 8 };
    let [chart_area, text_area] =
        Layout::vertical([Constraint::Length(chart_height), Constraint::Min(1)]).areas(area);
    draw_monthly_chart(frame, chart_area, ins, &stamp);
    let block = Block::bordered().title(format!("{title}· j/k scroll "));
    let inner = block.inner(text_area);
    frame.render_widget(block, text_area);
    let scroll = app.nav[View::Insights.index()].offset;
    // Wide terminals show the sections in two columns, so more fits without scrolling.
    let columns: Vec<(Rect, Vec<usize>)> = if inner.width >= 100 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .spacing(2)
                .areas(inner);
        vec![(left, vec![0, 2, 3]), (right, vec![1, 4, 5])]
    } else {
        vec![(inner, (0..6).collect())]
    };
    for (area, wanted) in columns {
        let sections = insight_sections(w, ins, &stamp, usize::from(area.width));
        let mut lines: Vec<Line> = Vec::new();
        for (i, section) in sections.into_iter().enumerate() {
            if wanted.contains(&i) {
                if !lines.is_empty() {
                    lines.push(Line::raw(""));
                }
                lines.extend(section);
            }
        }
        let max_scroll = lines.len().saturating_sub(usize::from(area.height));
        let scroll = u16::try_from(scroll.min(max_scroll)).unwrap_or(u16::MAX);
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
    }
}

fn draw_monthly_chart(frame: &mut Frame, area: Rect, ins: &Insights, stamp: &str) {
    let block = Block::bordered().title(format!(" Monthly active users · {stamp} "));
    if ins.monthly_active.is_empty() {
        frame.render_widget(
            Paragraph::new("no activity in this window").block(block),
            area,
        );
        return;
    }
    let n = ins.monthly_active.len() as u16;
    let inner_width = area.width.saturating_sub(2);
    // As wide as the area allows, one column of gap; at least 3 so values fit.
    let bar_width = (inner_width.saturating_sub(n) / n.max(1)).clamp(3, 16);
    let bars: Vec<Bar> = ins
        .monthly_active
        .iter()
        .map(|m| {
            // `yyyy-mm` -> `mm/yy` fits narrow bars.
            let label = if bar_width >= 7 {
                m.month.clone()
            } else {
                format!(
                    "{}/{}",
                    &m.month[5.min(m.month.len())..],
                    &m.month[2.min(m.month.len())..4.min(m.month.len())]
                )
            };
            Bar::default()
                .value(m.users)
                .label(Line::raw(label))
                .text_value(m.users.to_string())
        })
        .collect();
    let chart = BarChart::default()
        .block(block)
        .data(BarGroup::default().bars(&bars))
        .bar_width(bar_width)
        .bar_gap(1)
        .bar_set(ratatui::symbols::bar::NINE_LEVELS)
        .value_style(SELECTED);
    frame.render_widget(chart, area);
}

fn section(title: &str, stamp: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("■ {title}"), BOLD),
        Span::styled(format!(" · {stamp}"), DIM),
    ])
}

/// The insights as sections (domains, activity, rules, service accounts, sync outcomes,
/// largest merged), each a list of lines headed by its title and when it was computed.
pub fn insight_sections(
    w: &WindowReport,
    ins: &Insights,
    stamp: &str,
    width: usize,
) -> Vec<Vec<Line<'static>>> {
    // A bar takes what its line's text leaves, within reason.
    let bars = |text: usize| width.saturating_sub(text).clamp(4, 30);
    let mut sections = Vec::new();
    let mut out = Vec::new();
    let total = w.summary.total_unique_users;

    out.push(section("Users by email domain", stamp));
    if ins.managed_domains_configured {
        out.push(Line::raw(format!(
            "  managed {} · external {} · no email {}",
            ins.managed_users, ins.external_users, ins.users_without_email
        )));
    } else {
        out.push(Line::raw(format!(
            "  {} with an email, {} without · set [identity] managed_domains to split managed/external",
            ins.managed_users + ins.external_users,
            ins.users_without_email
        )));
    }
    let top = ins.domains.first().map(|d| d.users).unwrap_or(0);
    for d in ins.domains.iter().take(8) {
        let mark = if d.managed { "managed " } else { "external" };
        let mark = if ins.managed_domains_configured {
            mark
        } else {
            ""
        };
        out.push(Line::raw(format!(
            "  {:<26} {:>7} {} {mark}",
            fit(&d.domain, 26),
            d.users,
            share_bar(d.users, top, bars(46))
        )));
    }
    if ins.domains.len() > 8 {
        out.push(Line::styled(
            format!("  … and {} more domains", ins.domains.len() - 8),
            DIM,
        ));
    }
    sections.push(std::mem::take(&mut out));

    out.push(section("Active users per system", stamp));
    out.push(Line::styled(
        format!("  █ seen in the {ACTIVE_DAYS} days before as of, ░ not"),
        DIM,
    ));
    for s in &ins.active_by_system {
        out.push(Line::raw(format!(
            "  {:<18} {:>7} active {:>7} not  {}",
            fit(&s.system, 18),
            s.active,
            s.inactive,
            share_bar(s.active, s.active + s.inactive, bars(49))
        )));
    }
    sections.push(std::mem::take(&mut out));

    out.push(section("How users were identified", stamp));
    for r in &ins.by_rule {
        out.push(Line::raw(format!(
            "  {:<20} {:>7} {:>5.1}% {}",
            r.rule.label(),
            r.users,
            r.percent,
            bar(r.percent / 100.0, bars(38))
        )));
    }
    out.push(Line::raw(format!("  of {total} users")));
    sections.push(std::mem::take(&mut out));

    out.push(section("Service accounts per system", stamp));
    if ins.service_accounts_by_system.is_empty() {
        out.push(Line::raw("  none"));
    }
    for (system, n) in &ins.service_accounts_by_system {
        out.push(Line::raw(format!("  {:<18} {n:>7}", fit(system, 18))));
    }
    sections.push(std::mem::take(&mut out));

    out.push(section("Sync outcomes per system pair", stamp));
    out.push(Line::styled("  sync records: █ succeeded, ░ failed", DIM));
    if ins.sync_outcomes.is_empty() {
        out.push(Line::raw("  no syncs in this window"));
    }
    for s in &ins.sync_outcomes {
        out.push(Line::raw(format!(
            "  {:<28} {:>8} ok {:>6} failed {}",
            fit(&format!("{} <-> {}", s.system1, s.system2), 28),
            s.succeeded,
            s.failed,
            share_bar(s.succeeded, s.succeeded + s.failed, bars(57).min(12))
        )));
    }
    sections.push(std::mem::take(&mut out));

    out.push(section("Largest merged users", stamp));
    // The label gets what the numbers leave; the reason may run off a narrow screen.
    let label_width = width.saturating_sub(34).clamp(16, 32);
    if ins.largest_merged.is_empty() {
        out.push(Line::raw("  no user has more than one email or username"));
    } else {
        out.push(Line::styled(
            format!(
                "  {:<label_width$} Emails Usernames Systems  Identified by",
                "where over-merging would show"
            ),
            DIM,
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
            "  {:<label_width$} {:>6} {:>9} {:>7}  {why}",
            fit(&m.label, label_width),
            m.emails,
            m.usernames,
            m.systems
        )));
    }
    sections.push(out);
    sections
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

pub const KEYS: &[(&str, &str)] = &[
    ("Tab  Shift-Tab", "next / previous view"),
    ("1 … 8", "Dashboard, Summary, Unique User Count,"),
    ("", "Entity Type Count, Integrated Project Count,"),
    ("", "Synced Data Count, Detailed User Report, Insights"),
    ("↑ ↓  j k", "move the selection (Insights: scroll)"),
    ("PgUp PgDn", "a page up / down"),
    ("Home End  g G", "first / last row"),
    ("s / S", "sort by the next column / reverse the sort"),
    (
        "/",
        "filter users as you type (Enter keeps it, Esc clears it)",
    ),
    ("w", "switch window: Last 6 Months / Last 1 Year"),
    ("r", "collect again from every connector"),
    ("e", "export Usage Reports.zip (Ctrl-U clears the path)"),
    ("?", "this help (any key closes it)"),
    ("q  Ctrl-C", "quit"),
];

fn draw_help(app: &App, frame: &mut Frame) {
    let area = centered(frame.area(), 86, 22);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<16}"), BOLD),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(" Log file: {}", app.log_path.display())));
    lines.push(Line::raw(format!(
        " Numbers are the report the export writes, as of {} UTC.",
        time(app.as_of)
    )));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(Line::styled(" Keys ", BOLD))),
        area,
    );
}

fn draw_export_prompt(app: &App, frame: &mut Frame, path: &str, error: Option<&str>) {
    let area = centered(frame.area(), 76, 9);
    let mut lines = vec![
        Line::raw("Write Usage Reports.zip to (a directory ending in / gets the file inside):"),
        Line::from(vec![
            Span::styled("> ", BOLD),
            Span::raw(path.to_owned()),
            Span::styled("▏", BOLD),
        ]),
        Line::raw(""),
    ];
    if let Some(e) = error {
        lines.push(Line::styled(format!("✗ {e}"), BOLD.fg(Color::Red)));
    } else if app.collecting() {
        lines.push(Line::raw(
            "! collection is still running: the zip holds the numbers on screen now",
        ));
    } else {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Enter: export · Esc: cancel · Ctrl-U: clear",
        DIM,
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(Line::styled(" Export ", BOLD))),
        area,
    );
}

fn draw_message(frame: &mut Frame, title: &str, text: &str, hint: &str) {
    let area = centered(frame.area(), 76, 8);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(format!("✗ {text}"), BOLD.fg(Color::Red)),
            Line::raw(""),
            Line::styled(hint.to_owned(), DIM),
        ])
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(Line::styled(format!(" {title} "), BOLD))),
        area,
    );
}
