//! The UI without a terminal: `update` driven by keys and background messages, and every
//! view rendered into ratatui's `TestBackend` on the demo data at a fixed `as_of`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use tally_core::collect::{CollectEvent, CollectSummary, ConnectorOutcome, ConnectorState};
use tally_core::report::{ReportOptions, WindowKind};
use tally_core::store::{Store, WriteCounts};

use super::app::{update, Action, App, Built, Collection, Command, ConnectorRow, Export, View};
use super::draw::draw;

fn as_of() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("valid date")
}

/// The demo data set's report, built once per test run (it is the slow part).
fn demo() -> Arc<Built> {
    static BUILT: OnceLock<Arc<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("demo.db");
            let records: Vec<_> = tally_demo::records(as_of()).collect();
            let mut store = Store::open(&path).expect("store opens");
            store
                .writer()
                .expect("writer")
                .write_all(&records)
                .expect("records stored");
            drop(store);
            let mut built = super::build(
                &path,
                &ReportOptions::new(as_of()),
                &["northwind.example".to_owned()],
            )
            .expect("report builds");
            // Fixed, so the snapshots do not change with the clock.
            built.computed_at = Utc
                .with_ymd_and_hms(2026, 11, 1, 9, 30, 0)
                .single()
                .expect("valid date");
            built.took = Duration::from_millis(420);
            Arc::new(built)
        })
        .clone()
}

fn app() -> App {
    let mut app = App::new(
        vec![
            ConnectorRow::new("demo", "demo"),
            ConnectorRow::new("sync-log", "jsonl"),
        ],
        as_of(),
        PathBuf::from("/home/admin/.local/state/tally/tally.log"),
    );
    app.demo = Some("--demo: the built-in demo data set".into());
    app
}

/// An app after a finished collection with the demo report loaded: one connector done,
/// one failed, so both show.
fn loaded(width: u16, height: u16) -> App {
    let mut app = app();
    update(&mut app, Action::Resize(width, height));
    let received = demo_records();
    app.connectors[0].state = ConnectorState::Done;
    app.connectors[0].received = received;
    app.connectors[0].new = received;
    app.connectors[0].elapsed = Duration::from_millis(2500);
    app.connectors[1].state =
        ConnectorState::Failed("records/log.jsonl: No such file or directory".into());
    app.collection = Collection::Finished {
        took: Duration::from_millis(2600),
    };
    app.stale = false;
    app.last_build = Some(app.now);
    let built = demo();
    update(
        &mut app,
        Action::ReportBuilt(Box::new(Built::clone(&built))),
    );
    app
}

fn demo_records() -> u64 {
    static N: OnceLock<u64> = OnceLock::new();
    *N.get_or_init(|| tally_demo::records(as_of()).count() as u64)
}

fn key(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

/// The app drawn once into a terminal of its size.
fn rendered(app: &App) -> Terminal<TestBackend> {
    let mut terminal =
        Terminal::new(TestBackend::new(app.width, app.height)).expect("test terminal");
    terminal.draw(|f| draw(app, f)).expect("draws");
    terminal
}

fn screen(app: &App) -> String {
    let terminal = rendered(app);
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn snapshot(name: &str, app: &App) {
    insta::assert_snapshot!(name, rendered(app).backend());
}

// ---- update: keys and messages change the state ----------------------------------

#[test]
fn number_keys_and_tab_switch_views() {
    let mut app = loaded(80, 24);
    assert_eq!(app.view, View::Dashboard);
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(app.view, View::Users);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Insights);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Dashboard, "Tab wraps around");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.view, View::Insights);
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(app.view, View::Summary);
    assert!(screen(&app).contains("Total Unique Users"));
}

#[test]
fn typing_a_filter_narrows_users_and_esc_clears_it() {
    let mut app = loaded(80, 24);
    let all = demo().report.six_months.users.len();
    assert_eq!(app.order[View::Users.index()].len(), all);
    // `/` from any view jumps to the Detailed User Report.
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(app.view, View::Users);
    assert!(app.filter_editing);
    // Keys that are commands elsewhere are text while filtering.
    typed(&mut app, "partners.example");
    assert_eq!(app.view, View::Users, "letters do not switch views");
    let matching = app.order[View::Users.index()].clone();
    assert!(
        !matching.is_empty() && matching.len() < all,
        "{}",
        matching.len()
    );
    let w = &demo().report.six_months;
    assert!(matching.iter().all(|&i| w.users[i]
        .emails
        .iter()
        .any(|e| e.contains("partners.example"))));
    let user = app.selected_user().expect("a user is selected");
    assert!(user.emails.iter().any(|e| e.contains("partners.example")));
    assert!(screen(&app).contains(&format!("{} of {all} users", matching.len())));
    key(&mut app, KeyCode::Enter);
    assert!(
        !app.filter_editing,
        "Enter keeps the filter and leaves typing"
    );
    assert_eq!(app.order[View::Users.index()], matching);
    key(&mut app, KeyCode::Esc);
    assert!(app.filter.is_empty());
    assert_eq!(app.order[View::Users.index()].len(), all);
}

#[test]
fn a_filter_matching_nothing_says_so() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "no-such-person-zzz");
    assert!(app.order[View::Users.index()].is_empty());
    assert!(app.selected_user().is_none());
    assert!(screen(&app).contains("No user matches the filter."));
}

#[test]
fn s_cycles_the_sort_column_and_shift_s_reverses() {
    let mut app = loaded(120, 40);
    key(&mut app, KeyCode::Char('3'));
    let w = &demo().report.six_months;
    let names = |app: &App| -> Vec<String> {
        app.order[View::UserCount.index()]
            .iter()
            .map(|&i| w.user_counts[i].system.clone())
            .collect()
    };
    let counts = |app: &App| -> Vec<u64> {
        app.order[View::UserCount.index()]
            .iter()
            .map(|&i| w.user_counts[i].count)
            .collect()
    };
    key(&mut app, KeyCode::Char('s'));
    let mut sorted = names(&app);
    sorted.sort();
    assert_eq!(names(&app), sorted, "first column: by system name");
    key(&mut app, KeyCode::Char('s'));
    let c = counts(&app);
    assert!(
        c.windows(2).all(|p| p[0] >= p[1]),
        "Count: largest first {c:?}"
    );
    assert!(screen(&app).contains("Count ▲"));
    key(&mut app, KeyCode::Char('S'));
    let c = counts(&app);
    assert!(c.windows(2).all(|p| p[0] <= p[1]), "reversed {c:?}");
    assert!(screen(&app).contains("Count ▼"));
    for _ in 0..5 {
        key(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(
        app.nav().sort,
        None,
        "past the last column: back to report order"
    );
}

#[test]
fn w_switches_every_view_to_the_other_window() {
    let mut app = loaded(80, 24);
    let report = &demo().report;
    assert_ne!(
        report.six_months.summary.total_unique_users, report.one_year.summary.total_unique_users,
        "the demo data differs between windows"
    );
    let total = |app: &App| app.current().expect("report").summary.total_unique_users;
    assert_eq!(total(&app), report.six_months.summary.total_unique_users);
    key(&mut app, KeyCode::Char('w'));
    assert_eq!(app.window, WindowKind::OneYear);
    assert_eq!(total(&app), report.one_year.summary.total_unique_users);
    assert!(screen(&app).contains("Last 1 Year"));
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(
        app.order[View::Users.index()].len(),
        report.one_year.users.len()
    );
    key(&mut app, KeyCode::Char('w'));
    assert_eq!(app.window, WindowKind::SixMonths);
}

#[test]
fn moving_past_the_page_scrolls_and_stays_in_range() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('7'));
    let page = app.visible_rows(View::Users);
    for _ in 0..page + 3 {
        key(&mut app, KeyCode::Char('j'));
    }
    let nav = *app.nav();
    assert_eq!(nav.selected, page + 3);
    assert!(
        nav.offset > 0 && nav.selected < nav.offset + page,
        "{nav:?}"
    );
    key(&mut app, KeyCode::End);
    assert_eq!(app.nav().selected, demo().report.six_months.users.len() - 1);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.nav().selected, demo().report.six_months.users.len() - 1);
    key(&mut app, KeyCode::Home);
    assert_eq!(app.nav().selected, 0);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.nav().selected, 0);
}

#[test]
fn many_connectors_scroll_on_the_dashboard() {
    let rows = (1..=9)
        .map(|i| ConnectorRow::new(&format!("jira-{i}"), "jira"))
        .collect();
    let mut app = App::new(rows, as_of(), PathBuf::from("/tmp/tally.log"));
    update(&mut app, Action::Resize(80, 24));
    let text = screen(&app);
    assert!(
        text.contains("jira-1 ") && !text.contains("jira-9"),
        "{text}"
    );
    for _ in 0..20 {
        key(&mut app, KeyCode::Char('j'));
    }
    let text = screen(&app);
    assert!(
        text.contains("jira-9") && !text.contains("jira-1 "),
        "{text}"
    );
    key(&mut app, KeyCode::Char('k'));
    assert!(
        !screen(&app).contains("jira-9"),
        "one k scrolls back at once"
    );
}

#[test]
fn insights_scroll_stops_at_the_end_and_comes_back() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('8'));
    let top = screen(&app);
    assert!(top.contains("Users by email domain"), "{top}");
    for _ in 0..200 {
        key(&mut app, KeyCode::Char('j'));
    }
    let bottom = screen(&app);
    let last = demo().insights[0]
        .largest_merged
        .last()
        .map(|m| m.label.clone())
        .expect("the demo data has merged users");
    let shown: String = last.chars().take(24).collect();
    assert!(
        bottom.contains(&shown),
        "the last line is reachable:\n{bottom}"
    );
    assert!(!bottom.contains("Users by email domain"));
    let offset = app.nav().offset;
    assert!(offset < 200, "scrolling stops at the end: {offset}");
    for _ in 0..offset {
        key(&mut app, KeyCode::Char('k'));
    }
    assert_eq!(
        screen(&app),
        top,
        "as many k as it took to get there scroll back up"
    );
}

#[test]
fn collection_events_fill_the_connector_rows_and_schedule_rebuilds() {
    let mut app = app();
    let t0 = Instant::now();
    // The first tick builds from whatever the store holds already.
    let first = update(&mut app, Action::Tick(t0));
    assert!(
        matches!(first.as_slice(), [Command::BuildReport]),
        "{first:?}"
    );
    assert!(app.building);
    assert!(matches!(
        update(&mut app, Action::Collect).as_slice(),
        [Command::Collect]
    ));
    let commands = update(
        &mut app,
        Action::ReportBuilt(Box::new(Built::clone(&demo()))),
    );
    assert!(commands.is_empty());
    assert!(
        key(&mut app, KeyCode::Char('r')).is_empty(),
        "r while collecting does not start a second collection"
    );
    update(
        &mut app,
        Action::Collected(CollectEvent::Started { connector: 0 }),
    );
    update(
        &mut app,
        Action::Collected(CollectEvent::Stored {
            connector: 0,
            received: 1200,
            new: 1200,
        }),
    );
    update(
        &mut app,
        Action::Collected(CollectEvent::Finished {
            connector: 1,
            state: ConnectorState::Failed("HTTP 401 from https://jira.example".into()),
        }),
    );
    assert_eq!(app.connectors[0].state, ConnectorState::Running);
    assert_eq!(app.connectors[0].received, 1200);
    // Too soon after the last build: records wait for the next slot.
    let soon = update(&mut app, Action::Tick(t0 + Duration::from_millis(500)));
    assert!(soon.is_empty(), "{soon:?}");
    let due = update(&mut app, Action::Tick(t0 + Duration::from_millis(1600)));
    assert!(matches!(due.as_slice(), [Command::BuildReport]), "{due:?}");
    assert!(
        update(&mut app, Action::Tick(t0 + Duration::from_millis(3200))).is_empty(),
        "no second build while one runs"
    );
    assert!(app.connectors[0].rate().is_some());
    let text = {
        update(&mut app, Action::Resize(100, 30));
        screen(&app)
    };
    assert!(text.contains("✗ FAILED"), "{text}");
    assert!(
        text.contains("HTTP 401 from https://jira.example"),
        "{text}"
    );
    assert!(text.contains("running"), "{text}");

    // The end of collection asks for a final build once the running one is in.
    let summary = CollectSummary {
        connectors: vec![
            outcome("demo", 5000, ConnectorState::Done),
            outcome("sync-log", 0, ConnectorState::Failed("HTTP 401".into())),
        ],
    };
    assert!(update(&mut app, Action::CollectFinished(Ok(summary))).is_empty());
    let after = update(
        &mut app,
        Action::ReportBuilt(Box::new(Built::clone(&demo()))),
    );
    assert!(
        matches!(after.as_slice(), [Command::BuildReport]),
        "{after:?}"
    );
    assert_eq!(app.connectors[0].received, 5000);
    assert!(matches!(app.collection, Collection::Finished { .. }));
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Command::Collect]
    ));
    assert_eq!(app.connectors[0].received, 0, "a new run starts from zero");
}

#[test]
fn a_slow_report_build_spaces_out_the_rebuilds_while_collecting() {
    let mut app = app();
    let t0 = Instant::now();
    update(&mut app, Action::Tick(t0));
    update(&mut app, Action::Collect);
    let mut slow = Built::clone(&demo());
    slow.took = Duration::from_secs(4);
    update(&mut app, Action::ReportBuilt(Box::new(slow)));
    update(
        &mut app,
        Action::Collected(CollectEvent::Stored {
            connector: 0,
            received: 10,
            new: 10,
        }),
    );
    let early = update(&mut app, Action::Tick(t0 + Duration::from_secs(5)));
    assert!(early.is_empty(), "a 4 s build waits 12 s: {early:?}");
    let due = update(&mut app, Action::Tick(t0 + Duration::from_secs(12)));
    assert!(matches!(due.as_slice(), [Command::BuildReport]), "{due:?}");
}

fn outcome(name: &str, received: u64, state: ConnectorState) -> ConnectorOutcome {
    ConnectorOutcome {
        name: name.into(),
        kind: "demo".into(),
        received,
        new: WriteCounts::default(),
        warnings: 0,
        skipped: 0,
        state,
    }
}

#[test]
fn export_asks_for_a_path_and_exports_the_report_on_screen() {
    let mut app = app();
    key(&mut app, KeyCode::Char('e'));
    assert!(matches!(&app.export, Export::Prompt { path, .. } if path == "Usage Reports.zip"));
    // No report yet: the prompt stays and says why.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(
        matches!(&app.export, Export::Prompt { error: Some(e), .. } if e.contains("no report yet"))
    );
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.export, Export::Idle);

    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('e'));
    update(
        &mut app,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    typed(&mut app, "/tmp/out/q.zip");
    assert_eq!(
        app.view,
        View::Dashboard,
        "q is text in the prompt, not quit"
    );
    assert!(!app.quit);
    let commands = key(&mut app, KeyCode::Enter);
    match commands.as_slice() {
        [Command::Export { built, dest }] => {
            assert_eq!(dest, &PathBuf::from("/tmp/out/q.zip"));
            assert_eq!(
                built.report.six_months.summary,
                demo().report.six_months.summary
            );
        }
        other => panic!("expected an export, got {other:?}"),
    }
    assert!(matches!(app.export, Export::Running { .. }));
    let later = app.now + Duration::from_millis(1300);
    update(&mut app, Action::Tick(later));
    assert!(
        screen(&app).contains("exporting q.zip 1.3s"),
        "progress shows"
    );
    // Browsing goes on while it runs.
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(app.view, View::UserCount);
    update(
        &mut app,
        Action::ExportFinished(Ok(PathBuf::from("/tmp/out/q.zip"))),
    );
    assert!(screen(&app).contains("Exported to /tmp/out/q.zip"));
    update(
        &mut app,
        Action::ExportFinished(Err("/nope/x.zip: Permission denied".into())),
    );
    assert!(screen(&app).contains("Permission denied"));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.export, Export::Idle);
}

#[test]
fn help_lists_every_key_and_the_log_file_and_q_quits() {
    let mut app = loaded(100, 30);
    key(&mut app, KeyCode::Char('?'));
    let text = screen(&app);
    for k in [
        "Tab", "1 … 8", "j k", "PgUp", "s / S", "/", "w", "r", "e", "q",
    ] {
        assert!(text.contains(k), "help lacks {k}:\n{text}");
    }
    assert!(text.contains("/home/admin/.local/state/tally/tally.log"));
    key(&mut app, KeyCode::Char('j'));
    assert!(!app.help, "any key closes help");
    assert!(matches!(
        key(&mut app, KeyCode::Char('q')).as_slice(),
        [Command::Shutdown]
    ));
    assert!(app.quit);
}

#[test]
fn the_screen_shows_the_numbers_the_report_holds() {
    let app = loaded(80, 24);
    let s = &demo().report.six_months.summary;
    let text = screen(&app);
    let line = text
        .lines()
        .find(|l| l.contains("Total Unique Users"))
        .expect("headline shown");
    assert!(line.contains(&s.total_unique_users.to_string()), "{line}");
    assert!(text.contains("DEMO DATA"), "title says demo data");
}

// ---- snapshots -----------------------------------------------------------------------

#[test]
fn snapshot_every_view_at_80x24() {
    let mut app = loaded(80, 24);
    snapshot("dashboard_80x24", &app);
    for (n, name) in [
        ('2', "summary_80x24"),
        ('3', "user_count_80x24"),
        ('4', "entity_types_80x24"),
        ('5', "projects_80x24"),
        ('6', "synced_80x24"),
        ('7', "users_80x24"),
        ('8', "insights_80x24"),
    ] {
        key(&mut app, KeyCode::Char(n));
        snapshot(name, &app);
    }
}

#[test]
fn snapshot_larger_terminal() {
    let mut app = loaded(140, 40);
    snapshot("dashboard_140x40", &app);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "contoso");
    snapshot("users_filtered_140x40", &app);
    // Enter ends typing, so `8` is a key again, not text in the filter.
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.filter, "contoso");
    key(&mut app, KeyCode::Char('8'));
    assert_eq!(app.view, View::Insights);
    snapshot("insights_140x40", &app);
    key(&mut app, KeyCode::Char('w'));
    key(&mut app, KeyCode::Char('4'));
    snapshot("entity_types_one_year_140x40", &app);
}

#[test]
fn snapshot_help_and_export_prompt() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('?'));
    snapshot("help_80x24", &app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('e'));
    snapshot("export_prompt_80x24", &app);
}

#[test]
fn the_title_shows_the_as_of_of_the_report_on_screen() {
    // Without --as-of each rebuild ends "now": the title must follow the report, not the
    // launch time.
    let mut app = app();
    let mut later = Built::clone(&demo());
    later.report.as_of = as_of() + chrono::Duration::minutes(5);
    update(&mut app, Action::ReportBuilt(Box::new(later)));
    assert_eq!(app.as_of, as_of() + chrono::Duration::minutes(5));
    let title = screen(&app).lines().next().unwrap_or_default().to_owned();
    assert!(title.contains("as of 2026-11-01 00:05 UTC"), "{title}");
}
