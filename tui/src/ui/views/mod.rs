//! The views, each a component (DESIGN "The terminal UI"; gitui's `components/`): it owns
//! its state and its keys, draws itself from `&self`, and lists its commands, from which
//! the help screen and the status bar are built. Views read [`Shared`] and never the app,
//! so nothing here imports `app` or `draw`.

pub mod access;
pub mod dashboard;
pub mod insights;
pub mod summary;
pub mod table;
pub mod users;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::layout;
use super::state::Shared;
use super::widgets::fit_line;

/// A key a view (or the app) understands, as help and the status bar show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmd {
    pub keys: &'static str,
    pub what: &'static str,
    /// Worth a place in the status bar (help shows every command).
    pub bar: bool,
}

impl Cmd {
    pub const fn new(keys: &'static str, what: &'static str) -> Cmd {
        Cmd {
            keys,
            what,
            bar: false,
        }
    }

    pub const fn bar(keys: &'static str, what: &'static str) -> Cmd {
        Cmd {
            keys,
            what,
            bar: true,
        }
    }
}

/// Where a table stands, for the status line and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo<'a> {
    /// Indexes into the sheet's rows, in the order shown.
    pub order: &'a [usize],
    pub selected: usize,
    pub offset: usize,
    /// The sorted column's header and whether reversed.
    pub sort: Option<(&'static str, bool)>,
    pub filter: &'a str,
}

pub trait View {
    /// The tab's name: the sheet's name where the view is a sheet.
    fn title(&self) -> &'static str;
    /// For the tab bar of a narrow terminal.
    fn short(&self) -> &'static str;
    /// Every key this view handles, for help and the status bar.
    fn commands(&self) -> Vec<Cmd>;
    /// A key the app did not take; `false` when the view has no use for it.
    fn on_key(&mut self, key: KeyEvent, shared: &Shared, body: Rect) -> bool;
    /// The report, the window or the screen size changed.
    fn refresh(&mut self, shared: &Shared, body: Rect);
    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared);
    /// Typing text: every key goes to the view first.
    fn typing(&self) -> bool {
        false
    }
    /// Starts typing a filter, where the view has one.
    fn start_filter(&mut self, _shared: &Shared, _body: Rect) -> bool {
        false
    }
    fn table(&self) -> Option<TableInfo<'_>> {
        None
    }
}

/// Every view, in tab order.
pub fn all() -> Vec<Box<dyn View>> {
    vec![
        Box::new(dashboard::Dashboard::default()),
        Box::new(summary::Summary::default()),
        Box::new(table::user_count()),
        Box::new(table::entity_types()),
        Box::new(table::projects()),
        Box::new(table::synced()),
        Box::new(table::users()),
        Box::new(insights::InsightsView::default()),
        Box::new(access::AccessView::default()),
        Box::new(access::dormant_seats()),
    ]
}

/// Until the first report: what is happening instead.
pub fn waiting_lines(shared: &Shared) -> Vec<Line<'static>> {
    let text = match (&shared.report_error, shared.building) {
        (Some(e), _) => format!("✗ report failed: {e}"),
        (None, true) => "building the first report…".to_owned(),
        (None, false) => "no report yet".to_owned(),
    };
    vec![Line::raw(text)]
}

pub fn draw_waiting(frame: &mut Frame, area: Rect, title: String, shared: &Shared) {
    frame.render_widget(
        Paragraph::new(waiting_lines(shared)).block(titled(title, shared)),
        area,
    );
}

/// A bordered block with a themed title.
pub fn titled(title: String, shared: &Shared) -> Block<'static> {
    Block::bordered().title(Line::styled(title, shared.theme.title))
}

/// A page of sections that scrolls as a whole: its columns and their lines, sections
/// spread over the columns so they end about level.
pub fn page_columns(
    inner: Rect,
    sections: Vec<Vec<Line<'static>>>,
) -> Vec<(Rect, Vec<Line<'static>>)> {
    let areas = layout::page_columns(inner);
    let mut columns: Vec<(Rect, Vec<Line<'static>>)> =
        areas.into_iter().map(|a| (a, Vec::new())).collect();
    for section in sections {
        let Some(target) = columns.iter_mut().min_by_key(|(_, lines)| lines.len()) else {
            break;
        };
        if !target.1.is_empty() {
            target.1.push(Line::raw(""));
        }
        target.1.extend(section);
    }
    columns
}

/// How far a page of `lines` scrolls in `height` rows.
pub fn max_scroll(columns: &[(Rect, Vec<Line<'static>>)]) -> usize {
    columns
        .iter()
        .map(|(area, lines)| lines.len().saturating_sub(usize::from(area.height)))
        .max()
        .unwrap_or(0)
}

/// The scrolling keys of a page; `true` when taken.
pub fn scroll_key(key: KeyEvent, offset: &mut usize, max: usize, page: usize) -> bool {
    let page = page.max(1);
    *offset = match key.code {
        KeyCode::Up | KeyCode::Char('k') => offset.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => offset.saturating_add(1),
        KeyCode::PageUp => offset.saturating_sub(page),
        KeyCode::PageDown => offset.saturating_add(page),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => max,
        _ => return false,
    }
    .min(max);
    true
}

pub const SCROLL_KEYS: [Cmd; 3] = [
    Cmd::bar("j k ↑ ↓", "scroll"),
    Cmd::new("PgUp PgDn", "a page up / down"),
    Cmd::new("Home End g G", "top / bottom"),
];

/// Draws the columns of a page, scrolled by `offset` (clamped to the page's end).
pub fn render_page(frame: &mut Frame, columns: Vec<(Rect, Vec<Line<'static>>)>, offset: usize) {
    for (area, lines) in columns {
        let end = lines.len().saturating_sub(usize::from(area.height));
        let scroll = u16::try_from(offset.min(end)).unwrap_or(u16::MAX);
        // Never clipped silently: what is wider than its column ends in `…`.
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| fit_line(l, usize::from(area.width)))
            .collect();
        frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), area);
    }
}
