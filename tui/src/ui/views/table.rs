//! One table component for every sheet (`tally_core::sheets::Sheet<R, S>`): headers and
//! short headers, alignment, sorting (`Value::sort_cmp`) and filtering (`Value::contains`)
//! all come from the sheet's description, so no view keeps a header list of its own.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, HighlightSpacing, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use tally_core::report::WindowReport;
use tally_core::sheets::{
    Column, Kind, Sheet, Value, DETAILED_USER_REPORT, ENTITY_TYPE_COUNT, INTEGRATED_PROJECT_COUNT,
    SYNCED_DATA_COUNT, UNIQUE_USER_COUNT,
};

use super::{draw_waiting, titled, Cmd, TableInfo, View};
use crate::ui::layout::WIDE;
use crate::ui::state::Shared;
use crate::ui::theme::Theme;
use crate::ui::widgets::{cell_left, cell_right, fit, thousands, width_of};

/// Where a sheet's rows come from in what the UI holds.
pub type Source<S> = for<'a> fn(&'a Shared) -> Option<&'a S>;
/// The detail pane of the selected row.
pub type Detail<R, S> = fn(&R, &S, &Theme) -> Vec<Line<'static>>;
/// What the view says when its source is missing though a report exists.
pub type Missing = fn(&Shared) -> Vec<Line<'static>>;

/// Text columns are measured on this many rows: enough to size them to what is there,
/// few enough that a million-row report does not stall a key press.
const MEASURE_ROWS: usize = 2_000;
/// A text column squeezed for room keeps at least this many characters.
const MIN_TEXT: usize = 10;
/// A time squeezed for room shows its date only.
const DATE_ONLY: usize = 10;
const MINUTE: usize = 16;
/// Borders and the selection marker `▶ `.
const CHROME: usize = 4;

pub struct SheetTable<R: 'static, S: 'static> {
    sheet: &'static Sheet<R, S>,
    short: &'static str,
    source: Source<S>,
    /// The last row (a total) stays last and bold whatever the sort or filter.
    totals_last: bool,
    /// What the filter line counts (`users`), `None` when the table has no filter.
    filter_noun: Option<&'static str>,
    detail: Option<(&'static str, Detail<R, S>)>,
    missing: Option<Missing>,
    /// `Shared` → what the title says the rows are of (a window, an as-of).
    scope: fn(&Shared) -> String,

    order: Vec<usize>,
    total: usize,
    selected: usize,
    offset: usize,
    sort: Option<usize>,
    reverse: bool,
    filter: String,
    editing: bool,
    /// Per column: the widest content (text capped at its width hint).
    content: Vec<usize>,
}

fn window_source(shared: &Shared) -> Option<&WindowReport> {
    shared.current()
}

fn window_scope(shared: &Shared) -> String {
    shared.window.label().to_owned()
}

impl<R, S> SheetTable<R, S> {
    pub fn new(sheet: &'static Sheet<R, S>, short: &'static str, source: Source<S>) -> Self {
        SheetTable {
            sheet,
            short,
            source,
            totals_last: false,
            filter_noun: None,
            detail: None,
            missing: None,
            scope: window_scope,
            order: Vec::new(),
            total: 0,
            selected: 0,
            offset: 0,
            sort: None,
            reverse: false,
            filter: String::new(),
            editing: false,
            content: sheet.columns.iter().map(|c| width_of(c.short)).collect(),
        }
    }

    pub fn totals_last(mut self) -> Self {
        self.totals_last = true;
        self
    }

    pub fn filtered(mut self, noun: &'static str) -> Self {
        self.filter_noun = Some(noun);
        self
    }

    pub fn detail(mut self, title: &'static str, detail: Detail<R, S>) -> Self {
        self.detail = Some((title, detail));
        self
    }

    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = Some(missing);
        self
    }

    pub fn scope(mut self, scope: fn(&Shared) -> String) -> Self {
        self.scope = scope;
        self
    }

    /// The areas of the view in `body`: filter line, table, detail pane.
    fn areas(&self, body: Rect) -> Areas {
        let (filter, rest) = if self.filter_noun.is_some() {
            let [f, r] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(body);
            (Some(f), r)
        } else {
            (None, body)
        };
        match self.detail {
            None => Areas {
                filter,
                table: rest,
                detail: None,
            },
            Some(_) if body.width >= WIDE => {
                let pane = (rest.width * 2 / 5).min(60);
                let [t, d] =
                    Layout::horizontal([Constraint::Min(40), Constraint::Length(pane)]).areas(rest);
                Areas {
                    filter,
                    table: t,
                    detail: Some(d),
                }
            }
            Some(_) => {
                let [t, d] =
                    Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)])
                        .areas(rest);
                Areas {
                    filter,
                    table: t,
                    detail: Some(d),
                }
            }
        }
    }

    /// Rows the table shows at once in `body`.
    fn page(&self, body: Rect) -> usize {
        // Borders and the header row.
        usize::from(self.areas(body).table.height)
            .saturating_sub(3)
            .max(1)
    }

    /// The columns on screen in a table `width` wide.
    fn plan(&self, width: u16) -> Vec<Planned> {
        let specs: Vec<Spec> = self
            .sheet
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.on_screen)
            .map(|(i, c)| {
                // The sorted column's header has room for its ` ▲`.
                let arrow = if self.sort == Some(i) { 2 } else { 0 };
                Spec {
                    column: i,
                    kind: c.kind,
                    content: self.content[i],
                    long: width_of(c.header) + arrow,
                    short: width_of(c.short) + arrow,
                }
            })
            .collect();
        plan_columns(&specs, usize::from(width).saturating_sub(CHROME))
    }

    fn rows<'a>(&self, source: &'a S) -> Vec<&'a R> {
        (self.sheet.rows)(source)
    }

    fn clamp(&mut self, body: Rect) {
        let count = self.order.len();
        let page = self.page(body);
        self.selected = self.selected.min(count.saturating_sub(1));
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + page {
            self.offset = self.selected + 1 - page;
        }
        self.offset = self.offset.min(count.saturating_sub(1));
    }

    fn move_by(&mut self, delta: isize, body: Rect) {
        self.selected = self.selected.saturating_add_signed(delta);
        self.clamp(body);
    }

    /// `s`: the next column on screen, after the last back to the report's order.
    fn next_sort(&mut self, body: Rect) {
        let on_screen: Vec<usize> = self
            .plan(self.areas(body).table.width)
            .iter()
            .map(|p| p.column)
            .collect();
        self.sort = match self.sort {
            None => on_screen.first().copied(),
            Some(c) => on_screen.iter().copied().find(|&o| o > c),
        };
    }

    /// `short`: the column's short header, for a narrow title.
    fn sort_hint(&self, on_screen: &[Planned], short: bool) -> String {
        let reversed = if self.reverse { ", reversed" } else { "" };
        match self.sort {
            None => format!("report order{reversed}"),
            Some(c) => {
                let column = &self.sheet.columns[c];
                let header = if short { column.short } else { column.header };
                let hidden = if on_screen.iter().any(|p| p.column == c) {
                    ""
                } else {
                    " (off screen)"
                };
                format!("sorted by {header}{reversed}{hidden}")
            }
        }
    }

    /// The table's title: what, of what, in which order — the sort hint kept when room
    /// runs out, the scope given up first.
    fn title(&self, plan: &[Planned], scope: &str, width: usize) -> String {
        let name = self.sheet.name;
        let candidates = [
            format!(" {name} · {scope} · {} ", self.sort_hint(plan, false)),
            format!(" {name} · {} ", self.sort_hint(plan, false)),
            format!(" {name} · {} ", self.sort_hint(plan, true)),
        ];
        let fitting = candidates.iter().find(|t| width_of(t) <= width);
        fit(fitting.unwrap_or(&candidates[2]), width)
    }

    fn filter_line(&self, shared: &Shared, noun: &str) -> Line<'static> {
        let t = &shared.theme;
        let shown = self.order.len() - usize::from(self.totals_last && !self.order.is_empty());
        let matching = format!(
            "{} of {} {noun}",
            thousands(shown as u64),
            thousands(self.total as u64)
        );
        if self.editing {
            Line::from(vec![
                Span::styled(" Filter: ", t.header),
                Span::raw(self.filter.clone()),
                Span::styled("▏", t.bold),
                Span::styled(
                    format!("  {matching} match · Enter keep · Esc clear"),
                    t.dim,
                ),
            ])
        } else if self.filter.is_empty() {
            Line::from(vec![
                Span::raw(format!(" {matching} · ")),
                Span::styled("/ filter the columns on screen", t.dim),
            ])
        } else {
            Line::from(vec![
                Span::styled(" Filter: ", t.header),
                Span::raw(self.filter.clone()),
                Span::raw(format!("  {matching} match · Esc clears")),
            ])
        }
    }

    fn filter_key(&mut self, key: KeyEvent, shared: &Shared, body: Rect) -> bool {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.filter.clear();
                self.editing = false;
            }
            KeyCode::Enter => {
                self.editing = false;
                return true;
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char('u') if ctrl => self.filter.clear(),
            KeyCode::Char(c) if !ctrl => self.filter.push(c),
            KeyCode::Up => {
                self.move_by(-1, body);
                return true;
            }
            KeyCode::Down => {
                self.move_by(1, body);
                return true;
            }
            KeyCode::PageUp | KeyCode::PageDown => {
                let page = self.page(body) as isize;
                self.move_by(
                    if key.code == KeyCode::PageUp {
                        -page
                    } else {
                        page
                    },
                    body,
                );
                return true;
            }
            _ => return true,
        }
        // A new filter starts at its first match.
        self.selected = 0;
        self.offset = 0;
        self.refresh(shared, body);
        true
    }
}

struct Areas {
    filter: Option<Rect>,
    table: Rect,
    detail: Option<Rect>,
}

/// A column as [`plan_columns`] weighs it: character counts only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub column: usize,
    pub kind: Kind,
    /// Widest content (text already capped at its width hint).
    pub content: usize,
    pub long: usize,
    pub short: usize,
}

/// A column on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub column: usize,
    pub width: usize,
    /// Headed by its short header.
    pub short: bool,
}

/// Fits `specs` into `avail` characters (one between columns): full headers at full width
/// if they fit, else short headers, then text squeezed to [`MIN_TEXT`], then times to their
/// date, then columns dropped from the right. Pure, so tests and `s` see what draw shows.
pub fn plan_columns(specs: &[Spec], avail: usize) -> Vec<Planned> {
    let mut specs = specs.to_vec();
    loop {
        // (short headers, squeeze text, dates only), each step giving up a little more.
        for (short, squeeze, date_only) in [
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (true, true, true),
        ] {
            if let Some(p) = try_plan(&specs, avail, short, squeeze, date_only) {
                return p;
            }
        }
        if specs.len() <= 1 {
            // One column squeezed to what there is; its text ends in `…`.
            return specs
                .iter()
                .map(|s| Planned {
                    column: s.column,
                    width: avail,
                    short: true,
                })
                .collect();
        }
        specs.pop();
    }
}

fn try_plan(
    specs: &[Spec],
    avail: usize,
    short: bool,
    squeeze: bool,
    date_only: bool,
) -> Option<Vec<Planned>> {
    let header = |s: &Spec| if short { s.short } else { s.long };
    let natural = |s: &Spec| match s.kind {
        Kind::Time if date_only => DATE_ONLY.max(header(s).min(DATE_ONLY)),
        Kind::Time => MINUTE.max(header(s)),
        _ => s.content.max(header(s)),
    };
    let least = |s: &Spec| match s.kind {
        Kind::Text if squeeze => natural(s).min(MIN_TEXT),
        // Numbers and times are never cut: their header is (with `…`) if it must be.
        Kind::Count if squeeze => s.content.max(1),
        Kind::Time if squeeze => {
            if date_only {
                DATE_ONLY
            } else {
                MINUTE
            }
        }
        _ => natural(s),
    };
    let gaps = specs.len().saturating_sub(1);
    let least_sum: usize = specs.iter().map(least).sum::<usize>() + gaps;
    if least_sum > avail {
        return None;
    }
    let mut spare = avail - least_sum;
    let mut widths: Vec<usize> = specs.iter().map(least).collect();
    // What is left goes to the squeezed columns, up to their natural width.
    let want: usize = specs.iter().zip(&widths).map(|(s, w)| natural(s) - w).sum();
    if want > 0 {
        let budget = spare.min(want);
        for (s, w) in specs.iter().zip(widths.iter_mut()) {
            let more = (natural(s) - *w) * budget / want;
            *w += more;
            spare -= more;
        }
        // Rounding leftovers, left to right.
        for (s, w) in specs.iter().zip(widths.iter_mut()) {
            let more = (natural(s) - *w).min(spare);
            *w += more;
            spare -= more;
        }
    }
    Some(
        specs
            .iter()
            .zip(widths)
            .map(|(s, width)| Planned {
                column: s.column,
                width,
                short,
            })
            .collect(),
    )
}

/// Every column of `row`, `header: text`, for a detail pane (off-screen columns too).
pub fn column_lines<R, S>(sheet: &Sheet<R, S>, row: &R, theme: &Theme) -> Vec<Line<'static>> {
    sheet
        .columns
        .iter()
        .map(|c| {
            let value = (c.value)(row);
            let text = match value {
                Value::Count(n) => thousands(n),
                v if v.is_blank() => "—".to_owned(),
                v => v.text(),
            };
            Line::from(vec![
                Span::styled(format!("{}: ", c.header), theme.header),
                Span::raw(text),
            ])
        })
        .collect()
}

/// A cell as text exactly `width` wide: counts with thousands separators on the right,
/// times to the minute (or the date when narrow), text cut with `…`.
fn cell_text<R>(column: &Column<R>, row: &R, width: usize, buf: &mut String) -> String {
    buf.clear();
    let value = (column.value)(row);
    match (column.kind, value) {
        (Kind::Count, Value::Count(n)) => cell_right(&thousands(n), width),
        (Kind::Time, v) => {
            v.write_text(buf, MINUTE);
            if width < MINUTE {
                buf.truncate(DATE_ONLY);
            }
            cell_left(buf, width)
        }
        (_, v) => {
            v.write_text(buf, width * 4 + 16);
            cell_left(buf, width)
        }
    }
}

impl<R, S> View for SheetTable<R, S> {
    fn title(&self) -> &'static str {
        self.sheet.name
    }

    fn short(&self) -> &'static str {
        self.short
    }

    fn commands(&self) -> Vec<Cmd> {
        let mut cmds = vec![
            Cmd::new("↑ ↓  j k", "move the selection"),
            Cmd::new("PgUp PgDn", "a page up / down"),
            Cmd::new("Home End  g G", "first / last row"),
            Cmd::bar("s", "sort by the next column on screen (then report order)"),
            Cmd::bar("S", "reverse the sort"),
        ];
        if self.filter_noun.is_some() {
            cmds.push(Cmd::bar(
                "/",
                "filter as you type (Enter keeps it, Esc clears it)",
            ));
        }
        cmds
    }

    fn typing(&self) -> bool {
        self.editing
    }

    fn start_filter(&mut self, _shared: &Shared, _body: Rect) -> bool {
        if self.filter_noun.is_some() {
            self.editing = true;
        }
        self.filter_noun.is_some()
    }

    fn table(&self) -> Option<TableInfo<'_>> {
        Some(TableInfo {
            order: &self.order,
            selected: self.selected,
            offset: self.offset,
            sort: self
                .sort
                .map(|c| (self.sheet.columns[c].header, self.reverse)),
            filter: &self.filter,
        })
    }

    fn on_key(&mut self, key: KeyEvent, shared: &Shared, body: Rect) -> bool {
        if self.editing {
            return self.filter_key(key, shared, body);
        }
        let page = self.page(body) as isize;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1, body),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1, body),
            KeyCode::PageUp => self.move_by(-page, body),
            KeyCode::PageDown => self.move_by(page, body),
            KeyCode::Home | KeyCode::Char('g') => {
                self.selected = 0;
                self.offset = 0;
            }
            KeyCode::End | KeyCode::Char('G') => {
                self.selected = self.order.len().saturating_sub(1);
                self.clamp(body);
            }
            KeyCode::Char('s') => {
                self.next_sort(body);
                self.refresh(shared, body);
            }
            KeyCode::Char('S') => {
                self.reverse = !self.reverse;
                self.refresh(shared, body);
            }
            KeyCode::Esc if self.filter_noun.is_some() && !self.filter.is_empty() => {
                self.filter.clear();
                self.selected = 0;
                self.offset = 0;
                self.refresh(shared, body);
            }
            _ => return false,
        }
        true
    }

    fn refresh(&mut self, shared: &Shared, body: Rect) {
        let Some(source) = (self.source)(shared) else {
            self.order.clear();
            self.total = 0;
            return;
        };
        let rows = self.rows(source);
        let pinned = if self.totals_last {
            rows.len().checked_sub(1)
        } else {
            None
        };
        let body_rows = pinned.unwrap_or(rows.len());
        self.total = body_rows;
        let columns = self.sheet.columns;
        let needle = self.filter.trim().to_lowercase();
        let mut order: Vec<usize> = if needle.is_empty() {
            (0..body_rows).collect()
        } else {
            (0..body_rows)
                .filter(|&i| {
                    columns
                        .iter()
                        .filter(|c| c.on_screen)
                        .any(|c| (c.value)(rows[i]).contains(&needle))
                })
                .collect()
        };
        if let Some(c) = self.sort {
            let value = columns[c].value;
            // Stable: equal keys keep the report's order.
            order.sort_by(|&a, &b| value(rows[a]).sort_cmp(&value(rows[b])));
        }
        if self.reverse {
            order.reverse();
        }
        order.extend(pinned);

        let mut buf = String::new();
        self.content = columns
            .iter()
            .map(|c| match c.kind {
                Kind::Count => order
                    .iter()
                    .filter_map(|&i| match (c.value)(rows[i]) {
                        Value::Count(n) => Some(n),
                        _ => None,
                    })
                    .max()
                    .map_or(1, |n| width_of(&thousands(n))),
                Kind::Time => MINUTE,
                Kind::Text => order
                    .iter()
                    .take(MEASURE_ROWS)
                    .map(|&i| {
                        buf.clear();
                        (c.value)(rows[i]).write_text(&mut buf, c.width * 4);
                        width_of(&buf).min(c.width)
                    })
                    .max()
                    .unwrap_or(0)
                    .max(1),
            })
            .collect();
        self.order = order;
        self.clamp(body);
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let t = &shared.theme;
        let scope = (self.scope)(shared);
        let Some(source) = (self.source)(shared) else {
            let title = format!(" {} · {scope} ", self.sheet.name);
            match (self.missing, shared.built.is_some()) {
                (Some(missing), true) => frame.render_widget(
                    Paragraph::new(missing(shared))
                        .wrap(Wrap { trim: false })
                        .block(titled(title, shared)),
                    body,
                ),
                _ => draw_waiting(frame, body, title, shared),
            }
            return;
        };
        let rows = self.rows(source);
        let areas = self.areas(body);
        if let (Some(area), Some(noun)) = (areas.filter, self.filter_noun) {
            frame.render_widget(Paragraph::new(self.filter_line(shared, noun)), area);
        }
        let plan = self.plan(areas.table.width);
        let header = Row::new(plan.iter().map(|p| {
            let c = &self.sheet.columns[p.column];
            let name = if p.short { c.short } else { c.header };
            let text = match self.sort {
                Some(s) if s == p.column => {
                    let arrow = if self.reverse { "▼" } else { "▲" };
                    format!("{} {arrow}", fit(name, p.width.saturating_sub(2)))
                }
                _ => fit(name, p.width),
            };
            let text = if c.kind == Kind::Count {
                cell_right(&text, p.width)
            } else {
                text
            };
            let style = if self.sort == Some(p.column) {
                t.header.add_modifier(Modifier::UNDERLINED)
            } else {
                t.header
            };
            Cell::from(text).style(style)
        }));
        let page = self.page(body);
        let mut buf = String::new();
        let last = self.order.len().saturating_sub(1);
        let visible: Vec<Row> = self
            .order
            .iter()
            .enumerate()
            .skip(self.offset)
            .take(page)
            .map(|(n, &i)| {
                let row = Row::new(plan.iter().map(|p| {
                    Cell::from(cell_text(
                        &self.sheet.columns[p.column],
                        rows[i],
                        p.width,
                        &mut buf,
                    ))
                }));
                if self.totals_last && n == last {
                    row.style(t.bold)
                } else {
                    row
                }
            })
            .collect();
        let title = self.title(
            &plan,
            &scope,
            usize::from(areas.table.width).saturating_sub(2),
        );
        let widths: Vec<Constraint> = plan
            .iter()
            .map(|p| Constraint::Length(u16::try_from(p.width).unwrap_or(u16::MAX)))
            .collect();
        let table = Table::new(visible, widths)
            .header(header)
            .block(titled(title, shared))
            .row_highlight_style(t.selected)
            .highlight_symbol("▶ ")
            .highlight_spacing(HighlightSpacing::Always);
        let selected = (!self.order.is_empty()).then(|| self.selected - self.offset);
        let mut state = TableState::default().with_selected(selected);
        frame.render_stateful_widget(table, areas.table, &mut state);

        if let (Some(area), Some((title, detail))) = (areas.detail, self.detail) {
            let lines = match self.order.get(self.selected) {
                Some(&i) => detail(rows[i], source, t),
                None => vec![Line::raw("Nothing matches the filter.")],
            };
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(titled(title.to_owned(), shared)),
                area,
            );
        }
    }
}

pub fn user_count() -> SheetTable<tally_core::report::SystemUserCount, WindowReport> {
    SheetTable::new(&UNIQUE_USER_COUNT, "Users#", window_source).totals_last()
}

pub fn entity_types() -> SheetTable<tally_core::report::EntityTypeRow, WindowReport> {
    SheetTable::new(&ENTITY_TYPE_COUNT, "Types", window_source)
}

pub fn projects() -> SheetTable<tally_core::report::ProjectRow, WindowReport> {
    SheetTable::new(&INTEGRATED_PROJECT_COUNT, "Projects", window_source)
}

pub fn synced() -> SheetTable<tally_core::report::SyncedRow, WindowReport> {
    SheetTable::new(&SYNCED_DATA_COUNT, "Synced", window_source)
}

pub fn users() -> SheetTable<tally_core::report::UserRow, WindowReport> {
    SheetTable::new(&DETAILED_USER_REPORT, "Users", window_source)
        .filtered("users")
        .detail(" Selected user ", super::users::detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(column: usize, kind: Kind, content: usize, long: usize, short: usize) -> Spec {
        Spec {
            column,
            kind,
            content,
            long,
            short,
        }
    }

    #[test]
    fn wide_enough_keeps_full_headers_and_widths() {
        let specs = [
            spec(0, Kind::Text, 20, 5, 3),
            spec(1, Kind::Count, 5, 12, 5),
        ];
        let p = plan_columns(&specs, 80);
        assert_eq!(p.iter().map(|p| p.width).collect::<Vec<_>>(), [20, 12]);
        assert!(p.iter().all(|p| !p.short));
    }

    #[test]
    fn narrow_uses_short_headers_then_squeezes_then_drops_from_the_right() {
        let specs = [
            spec(0, Kind::Text, 40, 5, 5),
            spec(1, Kind::Count, 5, 27, 8),
            spec(2, Kind::Time, 16, 17, 6),
        ];
        let p = plan_columns(&specs, 40);
        assert!(p.iter().all(|p| p.short), "{p:?}");
        assert_eq!(p.len(), 3);
        assert_eq!(p.iter().map(|p| p.width).sum::<usize>() + 2, 40, "{p:?}");
        let p = plan_columns(&specs, 20);
        assert_eq!(p.iter().map(|p| p.column).collect::<Vec<_>>(), [0, 1]);
    }
}
