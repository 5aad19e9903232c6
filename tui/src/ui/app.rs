//! The UI's state and its only way of changing: `update(&mut App, Action) -> Vec<Command>`.
//!
//! Everything here is plain data and runs without a terminal, so key handling, sorting,
//! filtering and the collection/rebuild schedule are tested directly. Work that takes time
//! (collecting, building the report, exporting) is asked for with a [`Command`]; the run
//! loop starts it in the background and its result comes back as another [`Action`].
//! The app's own keys are [`App::commands`]; every other key goes to the view on screen.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;
use tally_core::collect::{CollectEvent, CollectSummary, ConnectorState};
use tally_core::report::{Summary, WindowKind};

use super::layout;
pub use super::state::{Built, Collection, ConnectorRow, Shared};
use super::theme::Theme;
use super::views::{self, Cmd, View};

/// How often the report is rebuilt from the store while records arrive. Often enough to
/// watch the numbers move, rare enough that a large store is not re-read constantly.
pub const REBUILD_EVERY: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, PartialEq)]
pub enum Export {
    Idle,
    /// Asking for the destination; `error` is why the last attempt could not start.
    Prompt {
        path: String,
        error: Option<String>,
    },
    Running {
        dest: PathBuf,
        since: Instant,
    },
    Done(PathBuf),
    Failed(String),
}

/// Everything that can happen to the UI.
#[derive(Debug)]
pub enum Action {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(Instant),
    /// Start (or restart) collection: on launch and on `r`.
    Collect,
    Collected(CollectEvent),
    CollectFinished(Result<CollectSummary, String>),
    ReportBuilt(Box<Built>),
    ReportFailed(String),
    ExportFinished(Result<PathBuf, String>),
}

/// Work `update` asks the run loop to start in the background.
#[derive(Debug)]
pub enum Command {
    Collect,
    BuildReport,
    Export {
        built: Arc<Built>,
        dest: PathBuf,
    },
    /// Stop background work: the user quit.
    Shutdown,
}

pub struct App {
    pub shared: Shared,
    /// Every view, in tab order (`views::all`).
    pub views: Vec<Box<dyn View>>,
    /// Index into `views` of the one on screen.
    pub current: usize,
    /// The store changed since the last build started.
    pub stale: bool,
    pub last_build: Option<Instant>,
    /// Records received in this collection when the last build started: a build's time
    /// grows with them.
    pub last_build_records: u64,
    pub help: bool,
    pub export: Export,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
}

/// The digit that selects view `index` (`1`–`9`, then `0`), if any.
pub fn digit_for(index: usize) -> Option<char> {
    match index {
        0..=8 => char::from_digit(index as u32 + 1, 10),
        9 => Some('0'),
        _ => None,
    }
}

fn view_for_digit(c: char) -> Option<usize> {
    match c.to_digit(10)? {
        0 => Some(9),
        d => Some(d as usize - 1),
    }
}

impl App {
    pub fn new(connectors: Vec<ConnectorRow>, as_of: DateTime<Utc>, log_path: PathBuf) -> App {
        App {
            shared: Shared {
                demo: None,
                config_path: None,
                notice: None,
                as_of,
                log_path,
                connectors,
                collection: Collection::NotStarted,
                built: None,
                building: false,
                report_error: None,
                window: WindowKind::SixMonths,
                theme: Theme::from_env(),
                now: Instant::now(),
                ticks: 0,
            },
            views: views::all(),
            current: 0,
            // Build once at start: a configured store may hold data from earlier runs.
            stale: true,
            last_build: None,
            last_build_records: 0,
            help: false,
            export: Export::Idle,
            width: 80,
            height: 24,
            quit: false,
        }
    }

    /// The app's own keys (help lists them before the view's).
    pub fn commands(&self) -> Vec<Cmd> {
        let last = self.views.len().saturating_sub(1);
        let digits: &'static str = match (digit_for(0), digit_for(last)) {
            (Some(_), Some('0')) => "1 … 9 0",
            _ => "1 … 9",
        };
        vec![
            Cmd::new("Tab  Shift-Tab", "next / previous view"),
            Cmd::new(digits, "go to a view (the number in its tab)"),
            Cmd::new("w", "switch window: Last 6 Months / Last 1 Year"),
            Cmd::new("r", "collect again from every connector"),
            Cmd::bar("e", "export Usage Reports.zip (Ctrl-U clears the path)"),
            Cmd::new("/", "filter (from any view: the Detailed User Report)"),
            Cmd::bar("?", "help (any key closes it)"),
            Cmd::bar("q  Ctrl-C", "quit"),
        ]
    }

    pub fn view(&self) -> &dyn View {
        self.views[self.current].as_ref()
    }

    /// The index of the view titled `title`.
    #[cfg(test)]
    pub fn find(&self, title: &str) -> Option<usize> {
        self.views.iter().position(|v| v.title() == title)
    }

    pub fn collecting(&self) -> bool {
        self.shared.collecting()
    }

    /// The body the views draw into at the current size.
    pub fn body(&self) -> Rect {
        layout::body(self.width, self.height)
    }

    /// Every view re-reads the report, window and size.
    pub fn refresh(&mut self) {
        let body = self.body();
        for view in &mut self.views {
            view.refresh(&self.shared, body);
        }
    }

    fn show(&mut self, index: usize) {
        if index < self.views.len() {
            self.current = index;
            self.help = false;
        }
    }

    fn start_collection(&mut self) -> Vec<Command> {
        if self.collecting() {
            return vec![];
        }
        for c in &mut self.shared.connectors {
            let fresh = ConnectorRow::new(&c.name, &c.kind);
            *c = fresh;
        }
        self.shared.collection = Collection::Running {
            since: self.shared.now,
        };
        vec![Command::Collect]
    }

    fn on_collect_event(&mut self, event: CollectEvent) {
        let now = self.shared.now;
        let connectors = &mut self.shared.connectors;
        match event {
            CollectEvent::Started { connector } => {
                if let Some(c) = connectors.get_mut(connector) {
                    c.state = ConnectorState::Running;
                    c.started = Some(now);
                }
            }
            CollectEvent::Stored {
                connector,
                received,
                new,
            } => {
                if let Some(c) = connectors.get_mut(connector) {
                    c.received = received;
                    c.new = new;
                }
                self.stale = true;
            }
            CollectEvent::Progress {
                connector,
                done,
                total,
            } => {
                if let Some(c) = connectors.get_mut(connector) {
                    c.progress = Some((done, total));
                }
            }
            CollectEvent::Warning { connector, message } => {
                if let Some(c) = connectors.get_mut(connector) {
                    c.warnings += 1;
                    c.last_problem = Some(message);
                }
            }
            CollectEvent::Skipped { connector, message } => {
                if let Some(c) = connectors.get_mut(connector) {
                    c.skipped += 1;
                    c.last_problem = Some(format!("skipped {message}"));
                }
            }
            CollectEvent::Finished { connector, state } => {
                if let Some(c) = connectors.get_mut(connector) {
                    if let Some(started) = c.started {
                        c.elapsed = now.saturating_duration_since(started);
                    }
                    c.state = state;
                }
                self.stale = true;
            }
        }
    }

    /// Starts a rebuild when the store changed and the last one is old enough (or
    /// collection has ended, so the final numbers are not held back).
    fn maybe_build(&mut self) -> Vec<Command> {
        // A large store takes a while to read: leave the writer at least twice that long
        // between builds, so rebuilding never takes most of the machine while collecting.
        let took = self
            .shared
            .built
            .as_ref()
            .map_or(Duration::ZERO, |b| b.took);
        // A screen of zeros (a fresh store's first build) is worth replacing as soon as
        // the first records are committed, when the user waits for numbers most: then
        // only the build's own cost spaces the rebuilds out (one build at a time). Even
        // a build of an empty store can take a second while the collection's threads
        // hold both cores, and three times that kept the first numbers back for 4 s once.
        let nothing_shown = self
            .shared
            .built
            .as_ref()
            .is_none_or(|b| b.report.one_year.summary == Summary::default());
        let gap = if nothing_shown {
            Duration::ZERO
        } else {
            REBUILD_EVERY.max(took * 3)
        };
        let now = self.shared.now;
        // With every connector ended the store holds the final numbers already.
        let collecting = self.collecting() && !self.shared.connectors_ended();
        let due = match self.last_build {
            None => true,
            Some(t) => !collecting || now.saturating_duration_since(t) >= gap,
        };
        // A build that would still run when the collection ends shows nothing new for
        // long: the final build waits for it, and meanwhile it takes a core from the
        // collection. With numbers on screen, leave the rest to the final build.
        let records = self.shared.received();
        let outlived = || {
            let growth = match self.last_build_records {
                // Built from what the store held before this collection: growth unknown.
                0 => 1.0,
                then => (records as f64 / then as f64).max(1.0),
            };
            let next_build = took.mul_f64(growth);
            self.shared
                .collection_left()
                .is_some_and(|left| left < next_build)
        };
        let start = self.stale
            && !self.shared.building
            && due
            && !(collecting && !nothing_shown && outlived());
        if start {
            self.stale = false;
            self.shared.building = true;
            self.last_build = Some(now);
            self.last_build_records = records;
            vec![Command::BuildReport]
        } else {
            vec![]
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind == KeyEventKind::Release {
            return vec![];
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return self.quit();
        }
        // A modal takes the keys first.
        match &mut self.export {
            Export::Prompt { path, error } => {
                match key.code {
                    KeyCode::Esc => self.export = Export::Idle,
                    KeyCode::Enter => return self.start_export(),
                    KeyCode::Backspace => {
                        path.pop();
                        *error = None;
                    }
                    KeyCode::Char('u') if ctrl => path.clear(),
                    KeyCode::Char(c) if !ctrl => {
                        path.push(c);
                        *error = None;
                    }
                    _ => {}
                }
                return vec![];
            }
            Export::Failed(_) => {
                // The error stays until a key acknowledges it, so it cannot be missed.
                self.export = Export::Idle;
                return vec![];
            }
            _ => {}
        }
        if self.help {
            match key.code {
                KeyCode::Char('q') => return self.quit(),
                _ => self.help = false,
            }
            return vec![];
        }
        let body = self.body();
        if self.views[self.current].typing() {
            self.views[self.current].on_key(key, &self.shared, body);
            return vec![];
        }
        let count = self.views.len();
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Tab => self.show((self.current + 1) % count),
            KeyCode::BackTab => self.show((self.current + count - 1) % count),
            KeyCode::Char(c) if c.is_ascii_digit() => {
                if let Some(i) = view_for_digit(c) {
                    self.show(i);
                }
            }
            KeyCode::Char('w') => {
                self.shared.window = match self.shared.window {
                    WindowKind::SixMonths => WindowKind::OneYear,
                    WindowKind::OneYear => WindowKind::SixMonths,
                };
                self.refresh();
            }
            KeyCode::Char('r') => return self.start_collection(),
            KeyCode::Char('e') => self.open_export(),
            KeyCode::Char('/') => {
                // The view on screen filters if it can; else the first view that can.
                if !self.views[self.current].start_filter(&self.shared, body) {
                    if let Some(i) =
                        (0..count).find(|&i| self.views[i].start_filter(&self.shared, body))
                    {
                        self.current = i;
                    }
                }
            }
            _ => {
                self.views[self.current].on_key(key, &self.shared, body);
            }
        }
        vec![]
    }

    fn open_export(&mut self) {
        if matches!(self.export, Export::Running { .. }) {
            return;
        }
        self.export = Export::Prompt {
            path: tally_core::export::ZIP_NAME.to_owned(),
            error: None,
        };
    }

    fn start_export(&mut self) -> Vec<Command> {
        let Export::Prompt { path, .. } = &self.export else {
            return vec![];
        };
        let typed = path.trim().to_owned();
        let fail = |app: &mut App, why: &str| {
            app.export = Export::Prompt {
                path: typed.clone(),
                error: Some(why.to_owned()),
            };
            vec![]
        };
        if typed.is_empty() {
            return fail(self, "type a file or directory name");
        }
        let Some(built) = self.shared.built.clone() else {
            return fail(
                self,
                "no report yet: wait for the first numbers, then export",
            );
        };
        let dest = resolve_path(&typed);
        self.export = Export::Running {
            dest: dest.clone(),
            since: self.shared.now,
        };
        vec![Command::Export { built, dest }]
    }

    fn quit(&mut self) -> Vec<Command> {
        self.quit = true;
        vec![Command::Shutdown]
    }
}

/// `~/` is the home directory; a relative path is relative to the working directory, made
/// absolute so the message after the export names the file unambiguously.
fn resolve_path(typed: &str) -> PathBuf {
    let expanded = match typed.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(rest),
            None => PathBuf::from(typed),
        },
        None => PathBuf::from(typed),
    };
    if expanded.is_absolute() {
        return expanded;
    }
    let absolute = std::env::current_dir()
        .map(|d| d.join(&expanded))
        .unwrap_or(expanded);
    // Keep a trailing slash: it tells the exporter to create the directory.
    if typed.ends_with('/') {
        let mut s = absolute.into_os_string();
        s.push("/");
        PathBuf::from(s)
    } else {
        absolute
    }
}

/// The only place the state changes.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Key(key) => app.on_key(key),
        Action::Resize(w, h) => {
            app.width = w;
            app.height = h;
            app.refresh();
            vec![]
        }
        Action::Tick(now) => {
            app.shared.now = now;
            app.shared.ticks = app.shared.ticks.wrapping_add(1);
            for c in &mut app.shared.connectors {
                if let (ConnectorState::Running, Some(started)) = (&c.state, c.started) {
                    c.elapsed = now.saturating_duration_since(started);
                }
            }
            app.maybe_build()
        }
        Action::Collect => app.start_collection(),
        Action::Collected(event) => {
            app.on_collect_event(event);
            if app.shared.connectors_ended() {
                // The last one: the final build need not wait for the next tick.
                app.maybe_build()
            } else {
                vec![]
            }
        }
        Action::CollectFinished(result) => {
            // The final build started when the last connector ended (see `maybe_build`),
            // and nothing was stored since.
            let built_at_end = app.shared.connectors_ended() && !app.stale;
            let took = match &app.shared.collection {
                Collection::Running { since } => app.shared.now.saturating_duration_since(*since),
                _ => Duration::ZERO,
            };
            match result {
                Ok(summary) => {
                    // The summary is the authority on how each connector ended.
                    for (row, outcome) in app.shared.connectors.iter_mut().zip(&summary.connectors)
                    {
                        row.state = outcome.state.clone();
                        row.received = outcome.received;
                        row.new = outcome.new.total();
                        row.warnings = outcome.warnings;
                        row.skipped = outcome.skipped;
                    }
                    app.shared.collection = Collection::Finished { took };
                }
                Err(e) => app.shared.collection = Collection::Failed(e),
            }
            let failed = matches!(app.shared.collection, Collection::Failed(_));
            app.stale = app.stale || failed || !built_at_end;
            app.maybe_build()
        }
        Action::ReportBuilt(built) => {
            app.shared.building = false;
            app.shared.report_error = None;
            // The shown as-of is the report's: without --as-of it moves with each rebuild.
            app.shared.as_of = built.report.as_of;
            app.shared.built = Some(Arc::from(built));
            app.refresh();
            app.maybe_build()
        }
        Action::ReportFailed(e) => {
            app.shared.building = false;
            app.shared.report_error = Some(e);
            vec![]
        }
        Action::ExportFinished(result) => {
            app.export = match result {
                Ok(path) => Export::Done(path),
                Err(e) => Export::Failed(e),
            };
            vec![]
        }
    }
}
