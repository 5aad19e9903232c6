//! `draw(&App, &mut Frame)`: the screen as a function of the state. Nothing here mutates
//! the app or computes a number the report does not already hold. The title bar, the tabs,
//! the status bar and help are drawn here; the body is the view's own `draw`.
//!
//! Readable without colour: the selection is reversed and marked with `▶`, states carry
//! `✓`/`✗`/`…` markers, sort columns `▲`/`▼`, bars are drawn with `█`/`▒`/`░` characters.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;
use tally_core::collect::ConnectorState;

use super::app::{digit_for, App, Export};
use super::layout;
use super::state::Collection;
use super::views::Cmd;
use super::widgets::{centered, fit, minute, spinner, thousands, width_of};

pub fn draw(app: &App, frame: &mut Frame) {
    let screen = layout::screen(frame.area());
    draw_title(app, frame, screen.title);
    draw_tabs(app, frame, screen.tabs);
    app.view().draw(frame, screen.body, &app.shared);
    draw_footer(app, frame, screen.footer);
    if app.help {
        draw_help(app, frame);
    }
    match &app.export {
        Export::Prompt { path, error } => draw_export_prompt(app, frame, path, error.as_deref()),
        Export::Failed(e) => draw_message(app, frame, "Export failed", e, "any key closes this"),
        _ => {}
    }
}

fn draw_title(app: &App, frame: &mut Frame, area: Rect) {
    let s = &app.shared;
    let width = usize::from(area.width);
    let place = match (&s.demo, &s.config_path) {
        (Some(reason), _) => format!(" · {reason}"),
        (None, Some(p)) => format!(" · {}", p.display()),
        (None, None) => String::new(),
    };
    // The facts come before the file name, and when room runs out the name is cut first,
    // then the window and the facts are said more shortly, so the facts stay whole.
    let when = minute(s.as_of);
    let long = title_facts(app, "DEMO DATA");
    let short = title_facts(app, "DEMO");
    let candidates = [
        (
            long.clone(),
            format!(" {} · as of {when} UTC ", s.window.label()),
        ),
        (
            long,
            format!(" {} · as of {when} UTC ", window_short(s.window)),
        ),
        (
            short.clone(),
            format!(" {} · as of {when} UTC ", window_short(s.window)),
        ),
    ];
    let (facts, right) = candidates
        .iter()
        .find(|(f, r)| width_of(f) + width_of(r) <= width)
        .cloned()
        .unwrap_or((short, format!(" {} · {when} ", window_short(s.window))));
    let left = format!("{facts}{place}");
    let room = width.saturating_sub(width_of(&right));
    let left = fit(&left, room);
    let pad = room.saturating_sub(width_of(&left));
    let line = Line::from(vec![
        Span::raw(left),
        Span::raw(" ".repeat(pad)),
        Span::raw(fit(&right, width)),
    ])
    .style(s.theme.bar_top);
    frame.render_widget(Paragraph::new(line), area);
}

fn window_short(kind: tally_core::report::WindowKind) -> &'static str {
    match kind {
        tally_core::report::WindowKind::SixMonths => "6m",
        tally_core::report::WindowKind::OneYear => "1y",
    }
}

/// The provenance in a few words, as the Summary sheet says it at length: the version,
/// demo data, how many connectors and how many failed in their last collection (from the
/// report's provenance once one is built, from this run's connectors before).
fn title_facts(app: &App, demo: &str) -> String {
    let s = &app.shared;
    let provenance = s.built.as_ref().and_then(|b| b.report.provenance.as_ref());
    let version = provenance.map_or(crate::service::VERSION, |p| p.version.as_str());
    let mut out = format!(" tally {version}");
    if s.demo.is_some() {
        out.push_str(" · ");
        out.push_str(demo);
    }
    let (configured, failed) = match provenance {
        Some(p) => (p.configured(), p.failed()),
        None => (
            s.connectors.len(),
            s.connectors
                .iter()
                .filter(|c| matches!(c.state, ConnectorState::Failed(_)))
                .count(),
        ),
    };
    out.push_str(&format!(
        " · {configured} {}",
        if configured == 1 {
            "connector"
        } else {
            "connectors"
        }
    ));
    if failed > 0 {
        out.push_str(&format!(", {failed} failed"));
    }
    out
}

/// The tab texts: full titles if they fit, else short names, else numbers only but for
/// the current view.
fn tab_texts(app: &App, width: usize) -> Vec<String> {
    let label = |i: usize, name: &str| match digit_for(i) {
        Some(d) => format!("{d} {name}"),
        None => name.to_owned(),
    };
    let fits = |texts: &[String]| texts.iter().map(|t| width_of(t) + 2).sum::<usize>() <= width;
    let long: Vec<String> = app
        .views
        .iter()
        .enumerate()
        .map(|(i, v)| label(i, v.title()))
        .collect();
    if fits(&long) {
        return long;
    }
    let short: Vec<String> = app
        .views
        .iter()
        .enumerate()
        .map(|(i, v)| label(i, v.short()))
        .collect();
    if fits(&short) {
        return short;
    }
    // The current tab whole, the others sharing what is left, cut with `…`.
    let current = width_of(&short[app.current]) + 2;
    let others = app.views.len().saturating_sub(1).max(1);
    let each = (width.saturating_sub(current) / others)
        .saturating_sub(2)
        .max(1);
    short
        .iter()
        .enumerate()
        .map(|(i, text)| {
            if i == app.current {
                text.clone()
            } else {
                fit(text, each)
            }
        })
        .collect()
}

fn draw_tabs(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.shared.theme;
    let mut spans = Vec::new();
    for (i, text) in tab_texts(app, usize::from(area.width))
        .into_iter()
        .enumerate()
    {
        if i == app.current {
            spans.push(Span::styled(format!("[{text}]"), t.selected));
        } else {
            spans.push(Span::styled(format!(" {text} "), t.dim));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn collection_status(app: &App) -> (String, ratatui::style::Style) {
    let s = &app.shared;
    let t = &s.theme;
    match &s.collection {
        Collection::NotStarted => ("collection not started".to_owned(), t.dim),
        Collection::Running { .. } => {
            let done = s
                .connectors
                .iter()
                .filter(|c| matches!(c.state, ConnectorState::Done | ConnectorState::Failed(_)))
                .count();
            (
                format!(
                    "{} collecting {done}/{} connectors",
                    spinner(s.ticks),
                    s.connectors.len()
                ),
                t.running,
            )
        }
        Collection::Finished { .. } => {
            let failed = s
                .connectors
                .iter()
                .filter(|c| matches!(c.state, ConnectorState::Failed(_)))
                .count();
            if failed == 0 {
                ("✓ collection done".to_owned(), t.done)
            } else {
                (format!("✗ collection done, {failed} failed"), t.failed)
            }
        }
        Collection::Failed(_) => ("✗ collection failed".to_owned(), t.failed),
    }
}

/// `keys what` pairs of the commands worth the status bar: help, the view's, the app's.
fn bar_hints(app: &App) -> Vec<String> {
    // Help first: when room runs out, the key that lists all the others stays.
    let (help, rest): (Vec<Cmd>, Vec<Cmd>) =
        app.commands().into_iter().partition(|c| c.keys == "?");
    help.into_iter()
        .chain(app.view().commands())
        .chain(rest)
        .filter(|c| c.bar)
        .map(|c| {
            let what = c.what.split([' ', '(']).next().unwrap_or(c.what);
            let key = c.keys.split("  ").next().unwrap_or(c.keys);
            format!("{key} {what}")
        })
        .collect()
}

fn draw_footer(app: &App, frame: &mut Frame, area: Rect) {
    let s = &app.shared;
    let t = &s.theme;
    let (status, style) = collection_status(app);
    let mut spans = vec![Span::styled(format!(" {status}"), style)];
    if let Some(table) = app.view().table().filter(|t| !t.order.is_empty()) {
        spans.push(Span::styled(
            format!(
                " · row {} of {}",
                thousands(table.selected as u64 + 1),
                thousands(table.order.len() as u64)
            ),
            t.dim,
        ));
    }
    if s.building {
        spans.push(Span::styled(" · rebuilding report", t.dim));
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
                    spinner(s.ticks),
                    s.now.saturating_duration_since(*since).as_secs_f64()
                ),
                t.running,
            ));
        }
        Export::Done(p) => {
            spans.push(Span::styled(
                format!(" · ✓ Exported to {}", p.display()),
                t.done,
            ));
        }
        _ => {}
    }
    let used: usize = spans.iter().map(|s| width_of(&s.content)).sum();
    let width = usize::from(area.width);
    // As many hints as fit, from the right end, the view's first.
    let mut hints = String::new();
    for hint in bar_hints(app) {
        let candidate = if hints.is_empty() {
            format!("{hint} ")
        } else {
            format!("{hints} {hint} ")
        };
        if used + width_of(&candidate) + 2 > width {
            break;
        }
        hints = candidate.trim_end().to_owned();
        hints.push(' ');
    }
    if !hints.is_empty() {
        spans.push(Span::raw(" ".repeat(width - used - width_of(&hints))));
        spans.push(Span::styled(hints, t.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn help_line(app: &App, c: &Cmd) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {:<16}", c.keys), app.shared.theme.header),
        Span::raw(c.what.to_owned()),
    ])
}

fn draw_help(app: &App, frame: &mut Frame) {
    let t = &app.shared.theme;
    let mut lines: Vec<Line> = app.commands().iter().map(|c| help_line(app, c)).collect();
    let views: Vec<String> = app
        .views
        .iter()
        .enumerate()
        .map(|(i, v)| match digit_for(i) {
            Some(d) => format!("{d} {}", v.title()),
            None => v.title().to_owned(),
        })
        .collect();
    lines.push(Line::styled(
        format!(" Views: {}", views.join(" · ")),
        t.dim,
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(format!(" {}", app.view().title()), t.title));
    lines.extend(app.view().commands().iter().map(|c| help_line(app, c)));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        format!(" Log file: {}", app.shared.log_path.display()),
        t.dim,
    ));
    lines.push(Line::styled(
        format!(
            " Numbers are the report the export writes, as of {} UTC.",
            minute(app.shared.as_of)
        ),
        t.dim,
    ));
    let area = centered(
        frame.area(),
        90,
        u16::try_from(lines.len() + 4).unwrap_or(u16::MAX),
    );
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(Line::styled(" Keys ", t.title))),
        area,
    );
}

fn draw_export_prompt(app: &App, frame: &mut Frame, path: &str, error: Option<&str>) {
    let t = &app.shared.theme;
    let area = centered(frame.area(), 76, 9);
    let mut lines = vec![
        Line::raw("Write Usage Reports.zip to (a directory ending in / gets the file inside):"),
        Line::from(vec![
            Span::styled("> ", t.bold),
            Span::raw(path.to_owned()),
            Span::styled("▏", t.bold),
        ]),
        Line::raw(""),
    ];
    if let Some(e) = error {
        lines.push(Line::styled(format!("✗ {e}"), t.failed));
    } else if app.collecting() {
        lines.push(Line::styled(
            "! collection is still running: the zip holds the numbers on screen now",
            t.running,
        ));
    } else {
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Enter: export · Esc: cancel · Ctrl-U: clear",
        t.dim,
    ));
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(Line::styled(" Export ", t.title))),
        area,
    );
}

fn draw_message(app: &App, frame: &mut Frame, title: &str, text: &str, hint: &str) {
    let t = &app.shared.theme;
    let area = centered(frame.area(), 76, 8);
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(vec![
            Line::styled(format!("✗ {text}"), t.failed),
            Line::raw(""),
            Line::styled(hint.to_owned(), t.dim),
        ])
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(Line::styled(format!(" {title} "), t.title))),
        area,
    );
}
