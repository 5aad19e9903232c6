//! The terminal UI (`tally` with no `--export` and no subcommand).
//!
//! The Elm shape of DESIGN.md: one event task (crossterm's `EventStream` and a tick in
//! `tokio::select!`, stopped by a cancellation token) feeds one channel of [`Action`]s;
//! background work (collection, report builds, the export) sends its results into the
//! same channel and never touches UI state; the loop drains what is pending, applies each
//! action with [`update`], starts the [`Command`]s it returns, and draws once, at most
//! [`FRAME`] apart.

mod app;
mod draw;
mod layout;
mod state;
#[cfg(test)]
mod tests;
mod theme;
mod views;
mod widgets;

use std::io::{self, Stdout};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{Event, EventStream};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tally_core::report::insights::insights;
use tally_core::report::{self, ReportOptions, WindowKind};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio_util::sync::CancellationToken;

pub use app::{update, Action, App, Command};
use app::{Built, ConnectorRow};

use crate::setup::{self, Fallback, Setup, Source};

/// Ticks drive spinners, running times and the rebuild schedule.
const TICK: Duration = Duration::from_millis(100);
/// At most ~30 frames a second, however fast events arrive.
const FRAME: Duration = Duration::from_millis(33);

/// `tally` without `--export`: the terminal UI. Errors are printed after the terminal is
/// restored.
pub async fn launch(config: Option<&Path>, as_of: Option<&str>, demo: bool) -> ExitCode {
    let log_path = init_logging();
    let result = async {
        let as_of = setup::parse_as_of(as_of)?;
        let setup = setup::setup(config, demo, as_of, Fallback::Demo)?;
        run(setup, log_path.clone()).await
    }
    .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("tally: {e:#}");
            eprintln!("tally: the log is at {}", log_path.display());
            ExitCode::FAILURE
        }
    }
}

/// The log file: `$XDG_STATE_HOME/tally/tally.log`, else `~/.local/state/tally/tally.log`,
/// else the temporary directory. Never the screen: it would tear the UI.
pub fn log_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        });
    match state {
        Some(dir) => dir.join("tally").join("tally.log"),
        None => std::env::temp_dir().join("tally.log"),
    }
}

fn init_logging() -> PathBuf {
    let mut path = log_path();
    let open = |p: &Path| -> io::Result<std::fs::File> {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
    };
    let file = match open(&path) {
        Ok(f) => f,
        Err(_) => {
            path = std::env::temp_dir().join("tally.log");
            match open(&path) {
                Ok(f) => f,
                Err(_) => return path,
            }
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
    path
}

type Tui = Terminal<CrosstermBackend<Stdout>>;

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

/// Restores the terminal when dropped: on quit, on an error (`?`) and while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn enter_terminal() -> anyhow::Result<(Tui, TerminalGuard)> {
    // The hook runs before unwinding reaches the guard, so the panic message lands on a
    // restored terminal instead of the alternate screen that is about to vanish.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!("panic: {info}");
        previous(info);
    }));
    enable_raw_mode().context("cannot switch the terminal to raw mode (is this a terminal?)")?;
    let guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen).context("cannot enter the alternate screen")?;
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    Ok((terminal, guard))
}

/// Turns terminal events and ticks into actions until cancelled.
fn spawn_events(tx: UnboundedSender<Action>, stop: CancellationToken) {
    tokio::spawn(async move {
        let mut events = EventStream::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let action = tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => Action::Tick(Instant::now()),
                event = events.next() => match event {
                    Some(Ok(Event::Key(key))) => Action::Key(key),
                    Some(Ok(Event::Resize(w, h))) => Action::Resize(w, h),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        tracing::error!("terminal events: {e}");
                        break;
                    }
                    None => break,
                },
            };
            if tx.send(action).is_err() {
                break;
            }
        }
    });
}

/// Background work, started on behalf of `update`.
struct Runner {
    tx: UnboundedSender<Action>,
    stop: CancellationToken,
    setup: Arc<Setup>,
    managed_domains: Vec<String>,
    sources: crate::service::SourcesSpec,
}

impl Runner {
    fn start(&self, command: Command) {
        match command {
            Command::Collect => self.collect(),
            Command::BuildReport => self.build_report(),
            Command::Export { built, dest } => self.export(built, dest),
            Command::Shutdown => self.stop.cancel(),
        }
    }

    fn collect(&self) {
        let tx = self.tx.clone();
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        let setup = Arc::clone(&self.setup);
        let stop = self.stop.clone();
        tokio::spawn(async move {
            // The service records each connector's outcome in the store, for the report's
            // provenance.
            let run = crate::service::collect(&setup, stop, Some(events_tx));
            let forward = async {
                while let Some(event) = events_rx.recv().await {
                    let _ = tx.send(Action::Collected(event));
                }
            };
            let (result, ()) = tokio::join!(run, forward);
            let result = result.map_err(|e| crate::service::one_line(&e));
            if let Err(e) = &result {
                tracing::error!("collection failed: {e}");
            }
            let _ = tx.send(Action::CollectFinished(result));
        });
    }

    fn build_report(&self) {
        let tx = self.tx.clone();
        let path = self.setup.store_path.clone();
        let options = self.setup.options_now();
        let managed = self.managed_domains.clone();
        let sources = self.sources.clone();
        tokio::spawn(async move {
            // Reading the store is blocking work: never on the UI task.
            let result =
                tokio::task::spawn_blocking(move || build(&path, &options, &managed, &sources))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r);
            let _ = tx.send(match result {
                Ok(built) => Action::ReportBuilt(Box::new(built)),
                Err(e) => {
                    tracing::error!("report failed: {e}");
                    Action::ReportFailed(e)
                }
            });
        });
    }

    fn export(&self, built: Arc<Built>, dest: PathBuf) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                crate::service::prepare_destination(&dest)
                    .map_err(|e| format!("cannot create {}: {e}", dest.display()))?;
                tally_core::export::write_usage_reports(&built.report, &dest)
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r);
            match &result {
                Ok(p) => tracing::info!("exported {}", p.display()),
                Err(e) => tracing::error!("export failed: {e}"),
            }
            let _ = tx.send(Action::ExportFinished(result));
        });
    }
}

/// The report (with its provenance) and both windows' insights, read from the store.
pub fn build(
    path: &Path,
    options: &ReportOptions,
    managed: &[String],
    sources: &crate::service::SourcesSpec,
) -> Result<Built, String> {
    let started = Instant::now();
    let computed_at = chrono::Utc::now();
    let report = crate::service::read_report(path, options, sources).map_err(|e| e.to_string())?;
    // The two windows' insights at once: a tenth of a build of 1 M observations each.
    let insights = std::thread::scope(|s| {
        let [first, second] = WindowKind::ALL;
        let report = &report;
        let other = s.spawn(move || insights(report.window(second), managed));
        let first = insights(report.window(first), managed);
        let second = other
            .join()
            .unwrap_or_else(|_| insights(report.window(second), managed));
        [first, second]
    });
    Ok(Built {
        report,
        insights,
        access: Some(
            report::read_access_insights(
                path,
                &report::AccessOptions::from_report(options, managed),
            )
            .map_err(|e| e.to_string())?,
        ),
        computed_at,
        took: started.elapsed(),
    })
}

/// The app for a setup, before anything has run.
pub fn app_for(setup: &Setup, log_path: PathBuf) -> App {
    let rows = setup
        .connectors
        .iter()
        .map(|c| ConnectorRow::new(c.name(), c.kind()))
        .collect();
    let mut app = App::new(rows, setup.options.as_of, log_path);
    match &setup.source {
        Source::Demo(reason) => app.shared.demo = Some(reason.clone()),
        Source::Config(p) => app.shared.config_path = Some(p.clone()),
    }
    // Nothing to collect: say so rather than show a dashboard of zeros.
    app.shared.notice = setup::no_connector_notice(setup);
    app
}

async fn run(setup: Setup, log_path: PathBuf) -> anyhow::Result<()> {
    tracing::info!(store = %setup.store_path.display(), "terminal UI starting");
    let mut app = app_for(&setup, log_path);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let managed_domains = setup.managed_domains();
    let sources = crate::service::SourcesSpec::of(&setup);
    let runner = Runner {
        tx: tx.clone(),
        stop: stop.clone(),
        setup: Arc::new(setup),
        managed_domains,
        sources,
    };

    let (mut terminal, _guard) = enter_terminal()?;
    let size = terminal.size()?;
    update(&mut app, Action::Resize(size.width, size.height));
    spawn_events(tx.clone(), stop.clone());
    // Collection starts on launch.
    let _ = tx.send(Action::Collect);

    let mut last_draw: Option<Instant> = None;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(action) = next.take() {
            for command in update(&mut app, action) {
                runner.start(command);
            }
            next = rx.try_recv().ok();
        }
        if app.quit {
            break;
        }
        // Skipped frames are not lost: the next tick (at most TICK away) draws.
        if last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            terminal.draw(|frame| draw::draw(&app, frame))?;
            last_draw = Some(Instant::now());
        }
    }
    stop.cancel();
    tracing::info!("terminal UI closed");
    Ok(())
}
