//! The UI's state and its only way of changing: `update(&mut App, Action) -> Vec<Command>`.
//!
//! Everything here is plain data and runs without a terminal, so key handling, sorting,
//! filtering and the collection/rebuild schedule are tested directly. Work that takes time
//! (collecting, building the report, exporting) is asked for with a [`Command`]; the run
//! loop starts it in the background and its result comes back as another [`Action`].

use std::cmp::Ordering;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use tally_core::collect::{CollectEvent, CollectSummary, ConnectorState};
use tally_core::report::insights::Insights;
use tally_core::report::{Report, UserRow, WindowKind, WindowReport};

/// How often the report is rebuilt from the store while records arrive. Often enough to
/// watch the numbers move, rare enough that a large store is not re-read constantly.
pub const REBUILD_EVERY: Duration = Duration::from_millis(1500);

/// The views, in tab order; `1`–`8` select them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Dashboard,
    Summary,
    UserCount,
    EntityTypes,
    Projects,
    Synced,
    Users,
    Insights,
}

impl View {
    pub const ALL: [View; 8] = [
        View::Dashboard,
        View::Summary,
        View::UserCount,
        View::EntityTypes,
        View::Projects,
        View::Synced,
        View::Users,
        View::Insights,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The sheet names of SPEC §5 where the view is a sheet.
    pub fn title(self) -> &'static str {
        match self {
            View::Dashboard => "Dashboard",
            View::Summary => "Summary",
            View::UserCount => "Unique User Count",
            View::EntityTypes => "Entity Type Count",
            View::Projects => "Integrated Project Count",
            View::Synced => "Synced Data Count",
            View::Users => "Detailed User Report",
            View::Insights => "Insights",
        }
    }

    /// For the tab bar of a narrow terminal.
    pub fn short(self) -> &'static str {
        match self {
            View::Dashboard => "Dash",
            View::Summary => "Summary",
            View::UserCount => "Users#",
            View::EntityTypes => "Types",
            View::Projects => "Projects",
            View::Synced => "Synced",
            View::Users => "Users",
            View::Insights => "Insights",
        }
    }

    /// Column headers of the view's table (empty: not a sortable table).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            View::Dashboard | View::Summary | View::Insights => &[],
            View::UserCount => &[
                "System / Source",
                "Count",
                "Usernames or Emails",
                "Emails",
                "Display Names",
                "Usernames",
            ],
            View::EntityTypes => &[
                "System Pairs",
                "End System",
                "Entity Types",
                "Status",
                "Last Synced (UTC)",
            ],
            View::Projects => &[
                "End System 1",
                "End System 1 Project",
                "End System 2",
                "End System 2 Project",
                "Status",
                "Last Updated (UTC)",
                "Last Synced (UTC)",
            ],
            View::Synced => &[
                "End System 1",
                "End System 2",
                "Counts Based on System Pair",
                "Last Synced (UTC)",
            ],
            View::Users => &[
                "Email",
                "Username",
                "Display Name",
                "Identified By",
                "Service Account",
                "Last Seen (UTC)",
            ],
        }
    }
}

/// A report and its insights, built together off the UI task.
#[derive(Debug, Clone)]
pub struct Built {
    pub report: Report,
    /// Indexed like `WindowKind::ALL`.
    pub insights: [Insights; 2],
    /// Wall-clock time the report was read from the store.
    pub computed_at: DateTime<Utc>,
    pub took: Duration,
}

impl Built {
    pub fn window(&self, kind: WindowKind) -> &WindowReport {
        self.report.window(kind)
    }

    pub fn insights(&self, kind: WindowKind) -> &Insights {
        match kind {
            WindowKind::SixMonths => &self.insights[0],
            WindowKind::OneYear => &self.insights[1],
        }
    }
}

/// One connector as the dashboard shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorRow {
    pub name: String,
    pub kind: String,
    pub state: ConnectorState,
    pub received: u64,
    pub new: u64,
    /// `(done, total)` when the connector reports progress.
    pub progress: Option<(u64, Option<u64>)>,
    pub warnings: u64,
    pub skipped: u64,
    pub last_problem: Option<String>,
    pub started: Option<Instant>,
    /// Running time so far (frozen when the connector ends): the rate's denominator.
    pub elapsed: Duration,
}

impl ConnectorRow {
    pub fn new(name: &str, kind: &str) -> ConnectorRow {
        ConnectorRow {
            name: name.to_owned(),
            kind: kind.to_owned(),
            state: ConnectorState::Waiting,
            received: 0,
            new: 0,
            progress: None,
            warnings: 0,
            skipped: 0,
            last_problem: None,
            started: None,
            elapsed: Duration::ZERO,
        }
    }

    /// Records per second over the connector's running time.
    pub fn rate(&self) -> Option<f64> {
        let secs = self.elapsed.as_secs_f64();
        (secs > 0.05 && self.received > 0).then(|| self.received as f64 / secs)
    }

    /// 0.0–1.0 when known: done connectors are complete, reported progress otherwise.
    pub fn fraction(&self) -> Option<f64> {
        match (&self.state, self.progress) {
            (ConnectorState::Done, _) => Some(1.0),
            (_, Some((done, Some(total)))) if total > 0 => {
                Some((done as f64 / total as f64).min(1.0))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Collection {
    NotStarted,
    Running {
        since: Instant,
    },
    Finished {
        took: Duration,
    },
    /// The collector itself failed (the store, not one connector).
    Failed(String),
}

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

/// Where a table stands: selection, scroll and sort.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nav {
    pub selected: usize,
    pub offset: usize,
    /// Column index into `View::columns`; `None` keeps the report's order.
    pub sort: Option<usize>,
    pub reverse: bool,
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
    /// `Some(reason)` when showing the demo data set.
    pub demo: Option<String>,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    pub as_of: DateTime<Utc>,
    pub log_path: PathBuf,
    pub connectors: Vec<ConnectorRow>,
    pub collection: Collection,
    pub built: Option<Arc<Built>>,
    pub building: bool,
    /// The store changed since the last build started.
    pub stale: bool,
    pub last_build: Option<Instant>,
    pub report_error: Option<String>,
    pub window: WindowKind,
    pub view: View,
    pub nav: [Nav; 8],
    /// Row order per view after sort and (users) filter: indexes into the report's rows.
    pub order: [Vec<usize>; 8],
    pub filter: String,
    pub filter_editing: bool,
    pub help: bool,
    pub export: Export,
    pub width: u16,
    pub height: u16,
    pub now: Instant,
    pub ticks: u64,
    pub quit: bool,
}

impl App {
    pub fn new(connectors: Vec<ConnectorRow>, as_of: DateTime<Utc>, log_path: PathBuf) -> App {
        App {
            demo: None,
            config_path: None,
            as_of,
            log_path,
            connectors,
            collection: Collection::NotStarted,
            built: None,
            building: false,
            // Build once at start: a configured store may hold data from earlier runs.
            stale: true,
            last_build: None,
            report_error: None,
            window: WindowKind::SixMonths,
            view: View::Dashboard,
            nav: [Nav::default(); 8],
            order: Default::default(),
            filter: String::new(),
            filter_editing: false,
            help: false,
            export: Export::Idle,
            width: 80,
            height: 24,
            now: Instant::now(),
            ticks: 0,
            quit: false,
        }
    }

    pub fn collecting(&self) -> bool {
        matches!(self.collection, Collection::Running { .. })
    }

    /// The current window's report, once one is built.
    pub fn current(&self) -> Option<&WindowReport> {
        self.built.as_ref().map(|b| b.window(self.window))
    }

    pub fn nav(&self) -> &Nav {
        &self.nav[self.view.index()]
    }

    /// The user under the cursor in the Detailed User Report.
    pub fn selected_user(&self) -> Option<&UserRow> {
        let w = self.current()?;
        let i = *self.order[View::Users.index()].get(self.nav[View::Users.index()].selected)?;
        w.users.get(i)
    }

    /// Rows a view's table shows, so scrolling can keep the selection in sight. Mirrors
    /// the layout in `draw` (title, tabs, footer, borders, header, filter line, detail pane).
    pub fn visible_rows(&self, view: View) -> usize {
        let body = usize::from(self.height).saturating_sub(3);
        let rows = match view {
            View::Dashboard => {
                // As `draw_dashboard` sizes the connectors table inside its block.
                let inner = body.saturating_sub(2);
                (self.connectors.len() + 3).min(inner.saturating_sub(13).max(4))
            }
            View::Users if self.width < super::draw::WIDE => body.saturating_sub(1) * 45 / 100,
            View::Users => body.saturating_sub(1),
            _ => body,
        };
        rows.saturating_sub(3).max(1)
    }

    fn row_count(&self, view: View) -> usize {
        match view {
            View::Dashboard => self.connectors.len(),
            View::Summary => super::draw::SUMMARY_ROWS,
            View::Insights => usize::MAX / 2,
            _ => self.order[view.index()].len(),
        }
    }

    /// Recomputes every view's row order from the report, the sorts and the filter.
    pub fn refresh(&mut self) {
        let Some(built) = self.built.clone() else {
            self.order = Default::default();
            return;
        };
        let w = built.window(self.window);
        let needle = self.filter.trim().to_lowercase();
        for view in [
            View::UserCount,
            View::EntityTypes,
            View::Projects,
            View::Synced,
            View::Users,
        ] {
            let len = match view {
                View::UserCount => w.user_counts.len(),
                View::EntityTypes => w.entity_types.len(),
                View::Projects => w.projects.len(),
                View::Synced => w.synced.len(),
                _ => w.users.len(),
            };
            let mut rows: Vec<usize> = if view == View::Users && !needle.is_empty() {
                (0..len)
                    .filter(|&i| user_matches(&w.users[i], &needle))
                    .collect()
            } else {
                (0..len).collect()
            };
            let nav = self.nav[view.index()];
            if let Some(col) = nav.sort {
                // Stable: equal keys keep the report's order.
                rows.sort_by(|&a, &b| compare(w, view, col, a, b));
            }
            if nav.reverse {
                rows.reverse();
            }
            self.order[view.index()] = rows;
        }
        for view in View::ALL {
            self.clamp(view);
        }
    }

    fn clamp(&mut self, view: View) {
        let count = self.row_count(view);
        let page = self.visible_rows(view);
        let nav = &mut self.nav[view.index()];
        if view == View::Insights {
            return;
        }
        nav.selected = nav.selected.min(count.saturating_sub(1));
        if nav.selected < nav.offset {
            nav.offset = nav.selected;
        } else if nav.selected >= nav.offset + page {
            nav.offset = nav.selected + 1 - page;
        }
        nav.offset = nav.offset.min(count.saturating_sub(1));
    }

    /// Lines of the insights page in one column, blank lines between sections included.
    fn insights_lines(&self) -> usize {
        let Some(built) = &self.built else {
            return 0;
        };
        let sections = super::draw::insight_sections(
            built.window(self.window),
            built.insights(self.window),
            "",
            usize::from(self.width),
        );
        sections.iter().map(Vec::len).sum::<usize>() + sections.len().saturating_sub(1)
    }

    fn move_by(&mut self, delta: isize) {
        let view = self.view;
        if view == View::Insights {
            // The insights page scrolls as a whole, no further than its last lines.
            let max = self.insights_lines().saturating_sub(5);
            let nav = &mut self.nav[view.index()];
            nav.offset = nav.offset.saturating_add_signed(delta).min(max);
            return;
        }
        if view == View::Dashboard {
            // The connectors table has no selection: it scrolls.
            let max = self
                .connectors
                .len()
                .saturating_sub(self.visible_rows(view));
            let nav = &mut self.nav[view.index()];
            nav.offset = nav.offset.saturating_add_signed(delta).min(max);
            return;
        }
        let nav = &mut self.nav[view.index()];
        nav.selected = nav.selected.saturating_add_signed(delta);
        self.clamp(view);
    }

    fn show(&mut self, view: View) {
        self.view = view;
        self.help = false;
        self.clamp(view);
    }

    fn start_collection(&mut self) -> Vec<Command> {
        if self.collecting() {
            return vec![];
        }
        for c in &mut self.connectors {
            let fresh = ConnectorRow::new(&c.name, &c.kind);
            *c = fresh;
        }
        self.collection = Collection::Running { since: self.now };
        vec![Command::Collect]
    }

    fn on_collect_event(&mut self, event: CollectEvent) {
        let now = self.now;
        match event {
            CollectEvent::Started { connector } => {
                if let Some(c) = self.connectors.get_mut(connector) {
                    c.state = ConnectorState::Running;
                    c.started = Some(now);
                }
            }
            CollectEvent::Stored {
                connector,
                received,
                new,
            } => {
                if let Some(c) = self.connectors.get_mut(connector) {
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
                if let Some(c) = self.connectors.get_mut(connector) {
                    c.progress = Some((done, total));
                }
            }
            CollectEvent::Warning { connector, message } => {
                if let Some(c) = self.connectors.get_mut(connector) {
                    c.warnings += 1;
                    c.last_problem = Some(message);
                }
            }
            CollectEvent::Skipped { connector, message } => {
                if let Some(c) = self.connectors.get_mut(connector) {
                    c.skipped += 1;
                    c.last_problem = Some(format!("skipped {message}"));
                }
            }
            CollectEvent::Finished { connector, state } => {
                if let Some(c) = self.connectors.get_mut(connector) {
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
        let took = self.built.as_ref().map_or(Duration::ZERO, |b| b.took);
        let gap = REBUILD_EVERY.max(took * 3);
        let due = match self.last_build {
            None => true,
            Some(t) => !self.collecting() || self.now.saturating_duration_since(t) >= gap,
        };
        if self.stale && !self.building && due {
            self.stale = false;
            self.building = true;
            self.last_build = Some(self.now);
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
        if self.filter_editing {
            match key.code {
                KeyCode::Esc => {
                    self.filter.clear();
                    self.filter_editing = false;
                    self.filter_changed();
                }
                KeyCode::Enter => self.filter_editing = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                    self.filter_changed();
                }
                KeyCode::Char('u') if ctrl => {
                    self.filter.clear();
                    self.filter_changed();
                }
                KeyCode::Char(c) if !ctrl => {
                    self.filter.push(c);
                    self.filter_changed();
                }
                KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => {
                    self.navigate(key.code)
                }
                _ => {}
            }
            return vec![];
        }
        match key.code {
            KeyCode::Char('q') => return self.quit(),
            KeyCode::Char('?') | KeyCode::F(1) => self.help = true,
            KeyCode::Tab => self.show(View::ALL[(self.view.index() + 1) % View::ALL.len()]),
            KeyCode::BackTab => {
                self.show(View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()])
            }
            KeyCode::Char(c @ '1'..='8') => {
                let i = usize::from(c as u8 - b'1');
                self.show(View::ALL[i]);
            }
            KeyCode::Char('w') => {
                self.window = match self.window {
                    WindowKind::SixMonths => WindowKind::OneYear,
                    WindowKind::OneYear => WindowKind::SixMonths,
                };
                self.refresh();
            }
            KeyCode::Char('r') => return self.start_collection(),
            KeyCode::Char('e') => self.open_export(),
            KeyCode::Char('/') => {
                self.show(View::Users);
                self.filter_editing = true;
            }
            KeyCode::Esc if self.view == View::Users && !self.filter.is_empty() => {
                self.filter.clear();
                self.filter_changed();
            }
            KeyCode::Char('s') => self.cycle_sort(),
            KeyCode::Char('S') => {
                if !self.view.columns().is_empty() {
                    let nav = &mut self.nav[self.view.index()];
                    nav.reverse = !nav.reverse;
                    self.refresh();
                }
            }
            code => self.navigate(code),
        }
        vec![]
    }

    fn navigate(&mut self, code: KeyCode) {
        let page = self.visible_rows(self.view) as isize;
        match code {
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Home | KeyCode::Char('g') => {
                let nav = &mut self.nav[self.view.index()];
                nav.selected = 0;
                nav.offset = 0;
            }
            KeyCode::End | KeyCode::Char('G') if self.view != View::Insights => {
                self.nav[self.view.index()].selected = usize::MAX / 2;
                self.clamp(self.view);
            }
            _ => {}
        }
    }

    fn cycle_sort(&mut self) {
        let n = self.view.columns().len();
        if n == 0 {
            return;
        }
        let nav = &mut self.nav[self.view.index()];
        nav.sort = match nav.sort {
            None => Some(0),
            Some(c) if c + 1 < n => Some(c + 1),
            Some(_) => None,
        };
        self.refresh();
    }

    fn filter_changed(&mut self) {
        // A new filter starts at its first match.
        self.nav[View::Users.index()].selected = 0;
        self.nav[View::Users.index()].offset = 0;
        self.refresh();
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
        let Some(built) = self.built.clone() else {
            return fail(
                self,
                "no report yet: wait for the first numbers, then export",
            );
        };
        let dest = resolve_path(&typed);
        self.export = Export::Running {
            dest: dest.clone(),
            since: self.now,
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

fn user_matches(u: &UserRow, needle: &str) -> bool {
    u.emails.iter().any(|e| e.contains(needle))
        || u.usernames.iter().any(|n| n.contains(needle))
        || u.display_names
            .iter()
            .any(|d| d.to_lowercase().contains(needle))
}

/// Sort key of a list column: its first value, case-insensitive, with users that have
/// none last (sorting by email should show emails, not a screen of blanks).
fn text_key(v: &[String]) -> (bool, String) {
    match v.first() {
        Some(s) => (false, s.to_lowercase()),
        None => (true, String::new()),
    }
}

fn compare(w: &WindowReport, view: View, col: usize, a: usize, b: usize) -> Ordering {
    match view {
        View::UserCount => {
            let (x, y) = (&w.user_counts[a], &w.user_counts[b]);
            match col {
                0 => x.system.cmp(&y.system),
                // Counts sort largest first: what an administrator looks for.
                1 => y.count.cmp(&x.count),
                c => y.by_rule[c - 2].cmp(&x.by_rule[c - 2]),
            }
        }
        View::EntityTypes => {
            let (x, y) = (&w.entity_types[a], &w.entity_types[b]);
            match col {
                0 => x.system_pairs.cmp(&y.system_pairs),
                1 => x.system.cmp(&y.system),
                2 => x.entity_type.cmp(&y.entity_type),
                3 => x.status.cmp(&y.status),
                _ => y.last_synced.cmp(&x.last_synced),
            }
        }
        View::Projects => {
            let (x, y) = (&w.projects[a], &w.projects[b]);
            match col {
                0 => x.system1.cmp(&y.system1),
                1 => x.project1.cmp(&y.project1),
                2 => x.system2.cmp(&y.system2),
                3 => x.project2.cmp(&y.project2),
                4 => x.status.cmp(&y.status),
                5 => y.last_updated.cmp(&x.last_updated),
                _ => y.last_synced.cmp(&x.last_synced),
            }
        }
        View::Synced => {
            let (x, y) = (&w.synced[a], &w.synced[b]);
            match col {
                0 => x.system1.cmp(&y.system1),
                1 => x.system2.cmp(&y.system2),
                2 => y.entities.cmp(&x.entities),
                _ => y.last_synced.cmp(&x.last_synced),
            }
        }
        View::Users => {
            let (x, y) = (&w.users[a], &w.users[b]);
            match col {
                0 => text_key(&x.emails).cmp(&text_key(&y.emails)),
                1 => text_key(&x.usernames).cmp(&text_key(&y.usernames)),
                2 => text_key(&x.display_names).cmp(&text_key(&y.display_names)),
                3 => x.identified_by.index().cmp(&y.identified_by.index()),
                // Service accounts first when sorting by the flag.
                4 => y.service_account.cmp(&x.service_account),
                _ => y.last_seen.cmp(&x.last_seen),
            }
        }
        _ => Ordering::Equal,
    }
}

/// The only place the state changes.
pub fn update(app: &mut App, action: Action) -> Vec<Command> {
    match action {
        Action::Key(key) => app.on_key(key),
        Action::Resize(w, h) => {
            app.width = w;
            app.height = h;
            for view in View::ALL {
                app.clamp(view);
            }
            vec![]
        }
        Action::Tick(now) => {
            app.now = now;
            app.ticks = app.ticks.wrapping_add(1);
            for c in &mut app.connectors {
                if let (ConnectorState::Running, Some(started)) = (&c.state, c.started) {
                    c.elapsed = now.saturating_duration_since(started);
                }
            }
            app.maybe_build()
        }
        Action::Collect => app.start_collection(),
        Action::Collected(event) => {
            app.on_collect_event(event);
            vec![]
        }
        Action::CollectFinished(result) => {
            let took = match &app.collection {
                Collection::Running { since } => app.now.saturating_duration_since(*since),
                _ => Duration::ZERO,
            };
            match result {
                Ok(summary) => {
                    // The summary is the authority on how each connector ended.
                    for (row, outcome) in app.connectors.iter_mut().zip(&summary.connectors) {
                        row.state = outcome.state.clone();
                        row.received = outcome.received;
                        row.new = outcome.new.total();
                        row.warnings = outcome.warnings;
                        row.skipped = outcome.skipped;
                    }
                    app.collection = Collection::Finished { took };
                }
                Err(e) => app.collection = Collection::Failed(e),
            }
            app.stale = true;
            app.maybe_build()
        }
        Action::ReportBuilt(built) => {
            app.building = false;
            app.report_error = None;
            // The shown as-of is the report's: without --as-of it moves with each rebuild.
            app.as_of = built.report.as_of;
            app.built = Some(Arc::from(built));
            app.refresh();
            app.maybe_build()
        }
        Action::ReportFailed(e) => {
            app.building = false;
            app.report_error = Some(e);
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
