//! A small colour theme (DESIGN "The terminal UI"): titles, headers, selection, connector
//! states and dim secondary text. `NO_COLOR` (https://no-color.org) switches colour off;
//! everything stays readable through bold, reversed and dim alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Block titles and the application name.
    pub title: Style,
    /// The top bar.
    pub bar_top: Style,
    pub header: Style,
    pub selected: Style,
    /// Connector done, share of something good.
    pub done: Style,
    pub running: Style,
    pub failed: Style,
    /// Secondary text: legends, hints, timestamps.
    pub dim: Style,
    /// The filled part of a bar.
    pub fill: Style,
    /// A second filled part (e.g. dormant beside active).
    pub fill2: Style,
    pub bold: Style,
}

impl Theme {
    pub fn color() -> Theme {
        Theme {
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            bar_top: Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            header: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new()
                .bg(Color::DarkGray)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD),
            done: Style::new().fg(Color::Green),
            running: Style::new().fg(Color::Yellow),
            failed: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            dim: Style::new().fg(Color::DarkGray),
            fill: Style::new().fg(Color::Cyan),
            fill2: Style::new().fg(Color::Yellow),
            bold: Style::new().add_modifier(Modifier::BOLD),
        }
    }

    pub fn mono() -> Theme {
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Theme {
            title: bold,
            bar_top: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            header: bold,
            selected: Style::new().add_modifier(Modifier::REVERSED),
            done: Style::new(),
            running: Style::new(),
            failed: bold,
            dim: Style::new().add_modifier(Modifier::DIM),
            fill: Style::new(),
            fill2: Style::new(),
            bold,
        }
    }

    /// Colour unless `NO_COLOR` is set to anything non-empty.
    pub fn from_env() -> Theme {
        Theme::pick(std::env::var_os("NO_COLOR").as_deref())
    }

    pub fn pick(no_color: Option<&std::ffi::OsStr>) -> Theme {
        match no_color {
            Some(v) if !v.is_empty() => Theme::mono(),
            _ => Theme::color(),
        }
    }
}
