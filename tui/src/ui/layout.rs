//! The screen's areas, computed in one place: `update` asks it for the body a view has
//! (to size pages and scrolling) and `draw` renders into exactly the same areas.

use ratatui::layout::{Constraint, Layout, Rect};

/// From this width tables put their detail pane beside the table, and pages use two
/// columns.
pub const WIDE: u16 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub title: Rect,
    pub tabs: Rect,
    pub body: Rect,
    pub footer: Rect,
}

pub fn screen(area: Rect) -> Screen {
    let [title, tabs, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Screen {
        title,
        tabs,
        body,
        footer,
    }
}

/// The body of a terminal `width`×`height`.
pub fn body(width: u16, height: u16) -> Rect {
    screen(Rect::new(0, 0, width, height)).body
}

/// A scrolling page: its columns (two on wide screens) inside a bordered block.
pub fn page_columns(inner: Rect) -> Vec<Rect> {
    if inner.width >= 100 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .spacing(2)
                .areas(inner);
        vec![left, right]
    } else {
        vec![inner]
    }
}
