//! Small drawing helpers shared by the views: text that ends in `…` when it does not fit,
//! bars readable without colour (`█`/`▒`/`░`), times, and centred popups.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::theme::Theme;

pub use tally_core::sheets::thousands;

/// `yyyy-mm-dd hh:mm`, as the sheets write times.
pub fn minute(t: DateTime<Utc>) -> String {
    let mut s = String::with_capacity(16);
    tally_core::sheets::push_minute(&mut s, &t);
    s
}

/// Characters `s` takes on screen (the UI's texts are one column per character).
pub fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// Cuts `s` to `width` characters, ending in `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if width_of(s) <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// A line cut to `width`, ending in `…` when cut; its spans keep their styles.
pub fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    let total: usize = line.spans.iter().map(|s| width_of(&s.content)).sum();
    if total <= width {
        return line;
    }
    let Line {
        spans,
        style,
        alignment,
    } = line;
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = width_of(&span.content);
        let room = width - used;
        if w < room {
            used += w;
            out.push(span);
            continue;
        }
        if room > 0 {
            let mut cut: String = span.content.chars().take(room - 1).collect();
            cut.push('…');
            out.push(Span::styled(cut, span.style));
        }
        break;
    }
    Line {
        spans: out,
        style,
        alignment,
    }
}

/// [`fit`], then padded to exactly `width` (left-aligned text).
pub fn cell_left(s: &str, width: usize) -> String {
    let s = fit(s, width);
    let pad = width.saturating_sub(width_of(&s));
    format!("{s}{}", " ".repeat(pad))
}

/// [`fit`], then padded on the left to exactly `width` (numbers).
pub fn cell_right(s: &str, width: usize) -> String {
    let s = fit(s, width);
    let pad = width.saturating_sub(width_of(&s));
    format!("{}{s}", " ".repeat(pad))
}

pub fn spinner(ticks: u64) -> &'static str {
    const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
    FRAMES[(ticks % FRAMES.len() as u64) as usize]
}

/// A bar of `parts` (count, style, symbol) out of `whole`, `width` cells, the rest `░`.
/// Rounds so that a non-zero part never vanishes and the parts never exceed the width.
pub fn stacked(
    parts: &[(u64, Style, char)],
    whole: u64,
    width: usize,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let whole = whole.max(1) as f64;
    let mut spans = Vec::new();
    let mut used = 0;
    for &(n, style, symbol) in parts {
        let mut cells = ((n as f64 / whole) * width as f64).round() as usize;
        if n > 0 && cells == 0 {
            cells = 1;
        }
        let cells = cells.min(width - used.min(width));
        used += cells;
        if cells > 0 {
            spans.push(Span::styled(symbol.to_string().repeat(cells), style));
        }
    }
    if used < width {
        spans.push(Span::styled("░".repeat(width - used), theme.dim));
    }
    spans
}

/// One part of a whole as a bar.
pub fn share(part: u64, whole: u64, width: usize, theme: &Theme) -> Vec<Span<'static>> {
    stacked(&[(part, theme.fill, '█')], whole, width, theme)
}

/// A section heading of a scrolling page.
pub fn heading(title: &str, note: &str, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("■ {title}"), theme.title)];
    if !note.is_empty() {
        spans.push(Span::styled(format!(" · {note}"), theme.dim));
    }
    Line::from(spans)
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_ends_in_an_ellipsis() {
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(cell_right("12", 4), "  12");
        let line = fit_line(Line::from(vec![Span::raw("ab"), Span::raw("cdef")]), 4);
        let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "abc…");
    }

    #[test]
    fn a_small_part_still_shows_and_parts_fit() {
        let t = Theme::mono();
        let spans = stacked(&[(1, t.fill, '█'), (999, t.fill, '▒')], 1000, 10, &t);
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(width_of(&text), 10);
        assert!(text.starts_with('█'), "{text}");
    }
}
