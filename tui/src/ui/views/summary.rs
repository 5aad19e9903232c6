//! The Summary sheet: its rows as the workbook writes them (`WindowReport::summary_rows`).

use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Row, Table};
use ratatui::Frame;
use tally_core::report::SummaryValue;
use tally_core::sheets::{SUMMARY, SUMMARY_HEADERS};

use super::{draw_waiting, scroll_key, titled, Cmd, View, SCROLL_KEYS};
use crate::ui::state::Shared;
use crate::ui::widgets::{cell_right, minute, thousands, width_of};

#[derive(Debug, Default)]
pub struct Summary {
    offset: usize,
    rows: usize,
}

impl Summary {
    fn page(body: Rect) -> usize {
        usize::from(body.height).saturating_sub(3).max(1)
    }
}

impl View for Summary {
    fn title(&self) -> &'static str {
        SUMMARY
    }

    fn short(&self) -> &'static str {
        SUMMARY
    }

    fn commands(&self) -> Vec<Cmd> {
        SCROLL_KEYS.to_vec()
    }

    fn on_key(&mut self, key: KeyEvent, _shared: &Shared, body: Rect) -> bool {
        let page = Self::page(body);
        scroll_key(key, &mut self.offset, self.rows.saturating_sub(page), page)
    }

    fn refresh(&mut self, shared: &Shared, body: Rect) {
        self.rows = shared
            .current()
            .map_or(0, |w| w.summary_rows(shared.as_of).len());
        self.offset = self.offset.min(self.rows.saturating_sub(Self::page(body)));
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let title = format!(" {SUMMARY} · {} ", shared.window.label());
        let Some(w) = shared.current() else {
            return draw_waiting(frame, body, title, shared);
        };
        let rows: Vec<(&str, String)> = w
            .summary_rows(shared.as_of)
            .into_iter()
            .map(|(label, v)| match v {
                SummaryValue::Count(n) => (label, thousands(n)),
                SummaryValue::Time(t) => (label, minute(t)),
            })
            .collect();
        let label_width = rows
            .iter()
            .map(|(l, _)| width_of(l))
            .chain([width_of(SUMMARY_HEADERS[0])])
            .max()
            .unwrap_or(0);
        let value_width = rows
            .iter()
            .map(|(_, v)| width_of(v))
            .chain([width_of(SUMMARY_HEADERS[1])])
            .max()
            .unwrap_or(0);
        let table_rows: Vec<Row> = rows
            .into_iter()
            .skip(self.offset)
            .map(|(l, v)| Row::new([Cell::from(l), Cell::from(cell_right(&v, value_width))]))
            .collect();
        let header = Row::new([
            Cell::from(SUMMARY_HEADERS[0]),
            Cell::from(cell_right(SUMMARY_HEADERS[1], value_width)),
        ])
        .style(shared.theme.header);
        let widths = [
            Constraint::Length(u16::try_from(label_width).unwrap_or(u16::MAX)),
            Constraint::Length(u16::try_from(value_width).unwrap_or(u16::MAX)),
        ];
        let table = Table::new(table_rows, widths)
            .header(header)
            .column_spacing(3)
            .block(titled(title, shared));
        frame.render_widget(table, body);
    }
}
