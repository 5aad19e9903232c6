//! The Summary sheet: its rows as the workbook writes them (`WindowReport::summary_rows`),
//! then, as in the workbook, where the numbers come from (`sheets::SOURCES` and
//! `sheets::provenance_facts`; the file's `Written At` row is left out: nothing is written).

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use tally_core::report::SummaryValue;
use tally_core::sheets::{self, Fact, Kind, SOURCES, SUMMARY, SUMMARY_HEADERS};

use super::{draw_waiting, scroll_key, titled, Cmd, View, SCROLL_KEYS};
use crate::ui::state::Shared;
use crate::ui::widgets::{cell_left, cell_right, fit, minute, thousands, width_of};

/// Space between columns.
const GAP: &str = "   ";

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

/// Words of `text` in lines of at most `width` characters (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && width_of(&line) + 1 + width_of(word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines.into_iter().map(|l| fit(&l, width)).collect()
}

/// The header line and the body lines of the view, for a box `inner` characters wide.
fn lines(shared: &Shared, inner: usize) -> Option<(Line<'static>, Vec<Line<'static>>)> {
    let w = shared.current()?;
    let t = &shared.theme;
    let counts: Vec<(&str, String)> = w
        .summary_rows(shared.as_of)
        .into_iter()
        .map(|(label, v)| match v {
            SummaryValue::Count(n) => (label, thousands(n)),
            SummaryValue::Time(t) => (label, minute(t)),
        })
        .collect();
    let provenance = shared
        .built
        .as_ref()
        .and_then(|b| b.report.provenance.as_ref());
    // Facts without `Written At`: the screen is not a file.
    let facts: Vec<(&str, Fact)> = provenance
        .map(|p| sheets::provenance_facts(p, shared.as_of))
        .unwrap_or_default()
        .into_iter()
        .filter(|(label, _)| *label != sheets::WRITTEN_AT)
        .collect();
    let label_width = counts
        .iter()
        .map(|(l, _)| width_of(l))
        .chain(facts.iter().map(|(l, _)| width_of(l)))
        .chain([width_of(SUMMARY_HEADERS[0])])
        .max()
        .unwrap_or(0);
    let value_width = counts
        .iter()
        .map(|(_, v)| width_of(v))
        .chain([width_of(SUMMARY_HEADERS[1])])
        .max()
        .unwrap_or(0);
    let header = Line::styled(
        format!(
            "{}{GAP}{}",
            cell_left(SUMMARY_HEADERS[0], label_width),
            cell_right(SUMMARY_HEADERS[1], value_width)
        ),
        t.header,
    );
    let mut body: Vec<Line<'static>> = counts
        .iter()
        .map(|(l, v)| {
            Line::raw(format!(
                "{}{GAP}{}",
                cell_left(l, label_width),
                cell_right(v, value_width)
            ))
        })
        .collect();
    let Some(p) = provenance else {
        return Some((header, body));
    };
    body.push(Line::raw(""));

    // The Sources table: every column as wide as it needs, but the outcome, which takes
    // what is left and is cut with `…`.
    let columns = SOURCES.columns;
    let rows: Vec<Vec<String>> = (SOURCES.rows)(p)
        .into_iter()
        .map(|s| {
            columns
                .iter()
                .map(|c| match (c.value)(s) {
                    tally_core::sheets::Value::Count(n) => thousands(n),
                    tally_core::sheets::Value::Time(Some(t)) => minute(t),
                    other => other.text(),
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| width_of(&r[i]))
                .chain([width_of(c.short)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    const OUTCOME: usize = 2;
    let others: usize = widths
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != OUTCOME)
        .map(|(_, w)| w + 1)
        .sum();
    widths[OUTCOME] = widths[OUTCOME].min(inner.saturating_sub(others)).max(6);
    let cells = |texts: &[String]| -> String {
        texts
            .iter()
            .zip(&widths)
            .zip(columns)
            .map(|((text, w), c)| match c.kind {
                Kind::Count => cell_right(text, *w),
                _ => cell_left(text, *w),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let headers: Vec<String> = columns.iter().map(|c| c.short.to_owned()).collect();
    body.push(Line::styled(fit(&cells(&headers), inner), t.header));
    for (source, texts) in (SOURCES.rows)(p).into_iter().zip(&rows) {
        let style = if source.incomplete() {
            t.failed
        } else if source.configured {
            t.done
        } else {
            t.dim
        };
        body.push(Line::styled(fit(&cells(texts), inner), style));
    }
    for (label, fact) in facts {
        let text = match fact {
            Fact::Text(s) => s,
            Fact::Time(t) => minute(t),
        };
        let room = inner.saturating_sub(label_width + GAP.len());
        let style = if label == sheets::PARTIAL_REPORT {
            t.failed
        } else {
            ratatui::style::Style::default()
        };
        for (i, part) in wrap(&text, room).into_iter().enumerate() {
            let label = if i == 0 { label } else { "" };
            body.push(Line::from(vec![
                Span::raw(format!("{}{GAP}", cell_left(label, label_width))),
                Span::styled(part, style),
            ]));
        }
    }
    Some((header, body))
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
        let inner = usize::from(body.width).saturating_sub(2);
        self.rows = lines(shared, inner).map_or(0, |(_, b)| b.len());
        self.offset = self.offset.min(self.rows.saturating_sub(Self::page(body)));
    }

    fn draw(&self, frame: &mut Frame, body: Rect, shared: &Shared) {
        let title = format!(" {SUMMARY} · {} ", shared.window.label());
        let inner = usize::from(body.width).saturating_sub(2);
        let Some((header, rows)) = lines(shared, inner) else {
            return draw_waiting(frame, body, title, shared);
        };
        let shown: Vec<Line> = std::iter::once(header)
            .chain(rows.into_iter().skip(self.offset))
            .collect();
        frame.render_widget(Paragraph::new(shown).block(titled(title, shared)), body);
    }
}
