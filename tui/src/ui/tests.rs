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
use tally_core::store::{CollectionRecord, Store, WriteCounts};

use super::app::{update, Action, App, Built, Collection, Command, ConnectorRow, Export};
use super::draw::draw;
use super::theme::Theme;
use super::views::TableInfo;
use tally_core::access_sheets::DORMANT_SEATS;
use tally_core::model::{AccountStatus, TwoStep};
use tally_core::report::access::{
    AccessInsights, AccountRow, DomainAccess, DormantSeat, PeopleCounts, SystemAccess,
    TwoStepCounts,
};
use tally_core::sheets::{self, thousands};

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
            // How the two connectors of `app()` last went: demo well, sync-log failed after
            // a good collection two days before.
            let outcome = |name: &str, kind: &str, failure: Option<&str>, ended: DateTime<Utc>| {
                CollectionRecord {
                    connector: name.into(),
                    kind: kind.into(),
                    failure: failure.map(Into::into),
                    started_at: ended - chrono::Duration::seconds(3),
                    ended_at: ended,
                    received: 12,
                    last_ok_at: None,
                }
            };
            let morning = as_of() - chrono::Duration::hours(2);
            store
                .record_collections(&[outcome(
                    "sync-log",
                    "jsonl",
                    None,
                    morning - chrono::Duration::days(2),
                )])
                .expect("recorded");
            store
                .record_collections(&[
                    outcome("demo", "demo", None, morning),
                    outcome(
                        "sync-log",
                        "jsonl",
                        Some("records/log.jsonl: No such file or directory"),
                        morning,
                    ),
                ])
                .expect("recorded");
            drop(store);
            let sources = crate::service::SourcesSpec {
                configured: vec![
                    ("demo".to_owned(), "demo".to_owned()),
                    ("sync-log".to_owned(), "jsonl".to_owned()),
                ],
                demo: true,
            };
            let mut built = super::build(
                &path,
                &ReportOptions::new(as_of()),
                &["northwind.example".to_owned()],
                &sources,
            )
            .expect("report builds");
            // Fixed (as long as a real one), so the snapshots do not change with the version.
            if let Some(p) = built.report.provenance.as_mut() {
                p.version = "9.9.9".to_owned();
            }
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
    app.shared.demo = Some("--demo: the built-in demo data set".into());
    // Fixed, whatever NO_COLOR says where the tests run.
    app.shared.theme = Theme::color();
    app
}

/// An app after a finished collection with the demo report loaded: one connector done,
/// one failed, so both show.
fn loaded(width: u16, height: u16) -> App {
    let mut app = app();
    update(&mut app, Action::Resize(width, height));
    let received = demo_records();
    let connectors = &mut app.shared.connectors;
    connectors[0].state = ConnectorState::Done;
    connectors[0].received = received;
    connectors[0].new = received;
    connectors[0].elapsed = Duration::from_millis(2500);
    connectors[1].state =
        ConnectorState::Failed("records/log.jsonl: No such file or directory".into());
    app.shared.collection = Collection::Finished {
        took: Duration::from_millis(2600),
    };
    app.stale = false;
    app.last_build = Some(app.shared.now);
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

/// The view on screen's table.
fn table(app: &App) -> TableInfo<'_> {
    app.view().table().expect("a table view")
}

fn go(app: &mut App, title: &str) {
    let i = app.find(title).unwrap_or_else(|| panic!("no view {title}"));
    app.current = i;
}

fn title(app: &App) -> &'static str {
    app.view().title()
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 12, 0, 0)
        .single()
        .expect("valid date")
}

fn account(system: &str, id: &str, person: usize, email: &str) -> AccountRow {
    AccountRow {
        system: system.into(),
        id: id.into(),
        email: Some(email.into()),
        username: Some(id.into()),
        display_name: None,
        person_email: Some(email.into()),
        person: Some(person),
        status: AccountStatus::Active,
        product: None,
        billable: true,
        two_step: Some(TwoStep::Enabled),
        sso: None,
        service_account: false,
        last_activity: Some(at(2026, 10, 20)),
        active: true,
        seat: true,
        dormant: false,
    }
}

/// Access insights made by hand (the engine is not the UI's): three systems, a person with
/// a dormant seat in Jira and an active account in GitHub.
fn hand_made_access() -> AccessInsights {
    let mut accounts = vec![
        account("GitHub", "dora-gh", 0, "dora@northwind.example"),
        account("Jira", "acc-17", 0, "dora@northwind.example"),
        account("Jira", "acc-22", 1, "ext@partners.example"),
        account("ServiceNow", "sn-5", 2, "sam@northwind.example"),
    ];
    for i in [1, 2] {
        accounts[i].active = false;
        accounts[i].dormant = true;
        accounts[i].last_activity = None;
    }
    accounts[1].last_activity = Some(at(2026, 3, 2));
    let system = |name: &str, accounts: u64, seats: u64, active: u64, dormant: u64| SystemAccess {
        system: name.into(),
        accounts,
        seats,
        active,
        dormant,
        two_step: TwoStepCounts {
            enabled: accounts.saturating_sub(1),
            disabled: 1.min(accounts),
            unknown: 0,
        },
        sso: 1,
        managed: accounts.saturating_sub(1),
        external: 1.min(accounts),
        unknown: 0,
        service_accounts: 2,
        seen_without_account: 3,
        ..SystemAccess::default()
    };
    AccessInsights {
        as_of: as_of(),
        active_days: 30,
        dormant_days: 90,
        people: PeopleCounts {
            with_access: 1_234,
            managed: 1_000,
            external: 200,
            unknown: 34,
            active: 987,
            seats_in_several_systems: 321,
        },
        systems: vec![
            system("GitHub", 640, 600, 580, 12),
            system("Jira", 1_150, 1_100, 700, 245),
            system("ServiceNow", 90, 80, 40, 30),
        ],
        domains: vec![
            DomainAccess {
                domain: "northwind.example".into(),
                managed: true,
                people: 1_000,
            },
            DomainAccess {
                domain: "partners.example".into(),
                managed: false,
                people: 200,
            },
        ],
        dormant_seats: vec![
            DormantSeat {
                system: "Jira".into(),
                id: "acc-17".into(),
                email: Some("dora@northwind.example".into()),
                username: Some("acc-17".into()),
                display_name: Some("Dora Lindqvist".into()),
                product: Some("Jira Software".into()),
                last_activity: Some(at(2026, 3, 2)),
                account: 1,
            },
            DormantSeat {
                system: "Jira".into(),
                id: "acc-22".into(),
                email: Some("ext@partners.example".into()),
                username: Some("acc-22".into()),
                display_name: Some("Erik External".into()),
                product: None,
                last_activity: None,
                account: 2,
            },
        ],
        accounts,
    }
}

/// [`loaded`] with the hand-made access insights in the build.
/// The demo as a store without any `account` record would show it.
fn without_access(width: u16, height: u16) -> App {
    let mut app = loaded(width, height);
    let mut built = Built::clone(&demo());
    built.access = None;
    update(&mut app, Action::ReportBuilt(Box::new(built)));
    app
}

fn with_access(width: u16, height: u16) -> App {
    let mut app = loaded(width, height);
    let mut built = Built::clone(&demo());
    built.access = Some(hand_made_access());
    update(&mut app, Action::ReportBuilt(Box::new(built)));
    app
}

// ---- update: keys and messages change the state ----------------------------------

#[test]
fn number_keys_and_tab_switch_views() {
    let mut app = loaded(80, 24);
    assert_eq!(title(&app), "Dashboard");
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(title(&app), sheets::DETAILED_USER_REPORT.name);
    key(&mut app, KeyCode::Tab);
    assert_eq!(title(&app), "Insights");
    key(&mut app, KeyCode::Char('0'));
    assert_eq!(title(&app), DORMANT_SEATS.name, "0 is the tenth view");
    key(&mut app, KeyCode::Tab);
    assert_eq!(title(&app), "Dashboard", "Tab wraps around");
    key(&mut app, KeyCode::BackTab);
    assert_eq!(title(&app), DORMANT_SEATS.name);
    key(&mut app, KeyCode::Char('2'));
    assert_eq!(title(&app), sheets::SUMMARY);
    assert!(screen(&app).contains("Total Unique Users"));
}

#[test]
fn typing_a_filter_narrows_users_and_esc_clears_it() {
    let mut app = loaded(80, 24);
    let all = demo().report.six_months.users.len();
    // `/` from any view jumps to the Detailed User Report.
    key(&mut app, KeyCode::Char('/'));
    assert_eq!(title(&app), sheets::DETAILED_USER_REPORT.name);
    assert_eq!(table(&app).order.len(), all);
    assert!(app.view().typing());
    // Keys that are commands elsewhere are text while filtering.
    typed(&mut app, "partners.example");
    assert_eq!(
        title(&app),
        sheets::DETAILED_USER_REPORT.name,
        "letters do not switch views"
    );
    let matching = table(&app).order.to_vec();
    assert!(
        !matching.is_empty() && matching.len() < all,
        "{}",
        matching.len()
    );
    let w = &demo().report.six_months;
    assert!(matching.iter().all(|&i| w.users[i]
        .emails()
        .iter()
        .any(|e| e.contains("partners.example"))));
    assert!(screen(&app).contains(&format!(
        "{} of {} users",
        thousands(matching.len() as u64),
        thousands(all as u64)
    )));
    key(&mut app, KeyCode::Enter);
    assert!(
        !app.view().typing(),
        "Enter keeps the filter and leaves typing"
    );
    assert_eq!(table(&app).order, matching);
    key(&mut app, KeyCode::Esc);
    assert!(table(&app).filter.is_empty());
    assert_eq!(table(&app).order.len(), all);
}

#[test]
fn a_filter_matching_nothing_says_so() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "no-such-person-zzz");
    assert!(table(&app).order.is_empty());
    assert!(screen(&app).contains("Nothing matches the filter."));
}

#[test]
fn s_cycles_the_sort_column_and_shift_s_reverses() {
    let mut app = loaded(120, 40);
    key(&mut app, KeyCode::Char('3'));
    let w = &demo().report.six_months;
    // The last row is the All Systems total, kept last whatever the sort.
    let names = |app: &App| -> Vec<String> {
        let order = table(app).order;
        order[..order.len() - 1]
            .iter()
            .map(|&i| w.user_counts[i].system.clone())
            .collect()
    };
    let counts = |app: &App| -> Vec<u64> {
        let order = table(app).order;
        order[..order.len() - 1]
            .iter()
            .map(|&i| w.user_counts[i].count)
            .collect()
    };
    key(&mut app, KeyCode::Char('s'));
    let mut sorted = names(&app);
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(names(&app), sorted, "first column: by system name");
    key(&mut app, KeyCode::Char('s'));
    let c = counts(&app);
    assert!(
        c.windows(2).all(|p| p[0] >= p[1]),
        "Count: largest first {c:?}"
    );
    assert_eq!(
        *table(&app).order.last().expect("rows"),
        w.user_counts.len()
    );
    let text = screen(&app);
    assert!(text.contains("Count ▲"), "{text}");
    assert!(text.contains("sorted by Count"), "{text}");
    key(&mut app, KeyCode::Char('S'));
    let c = counts(&app);
    assert!(c.windows(2).all(|p| p[0] <= p[1]), "reversed {c:?}");
    assert!(screen(&app).contains("Count ▼"));
    for _ in 0..sheets::UNIQUE_USER_COUNT.columns.len() - 1 {
        key(&mut app, KeyCode::Char('s'));
    }
    assert_eq!(
        table(&app).sort,
        None,
        "past the last column: back to report order"
    );
}

#[test]
fn s_sorts_only_by_columns_on_screen() {
    // At 80 columns the Detailed User Report cannot show every on-screen column.
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('7'));
    let text = screen(&app);
    let mut reached = Vec::new();
    loop {
        key(&mut app, KeyCode::Char('s'));
        match table(&app).sort {
            Some((header, _)) => reached.push(header),
            None => break,
        }
        let text = screen(&app);
        assert!(text.contains('▲'), "the sorted column is marked:\n{text}");
        assert!(!text.contains("off screen"), "{text}");
    }
    let shown: Vec<&str> = sheets::DETAILED_USER_REPORT
        .columns
        .iter()
        .filter(|c| c.on_screen)
        .filter(|c| text.contains(c.short) || text.contains(c.header))
        .map(|c| c.header)
        .collect();
    assert!(!reached.is_empty());
    assert!(
        reached.iter().all(|h| shown.contains(h)),
        "{reached:?} vs {shown:?}"
    );
    assert!(
        !reached.contains(&"Observed In"),
        "off-screen columns are not sort keys"
    );
    // A sort column that a resize pushes off screen is named, not hidden.
    let mut app = loaded(200, 50);
    key(&mut app, KeyCode::Char('7'));
    let last = sheets::DETAILED_USER_REPORT
        .columns
        .iter()
        .rfind(|c| c.on_screen)
        .expect("a column");
    while table(&app).sort.map(|s| s.0) != Some(last.header) {
        key(&mut app, KeyCode::Char('s'));
        assert!(
            table(&app).sort.is_some(),
            "{} is a sort key at 200",
            last.header
        );
    }
    update(&mut app, Action::Resize(60, 24));
    let text = screen(&app);
    let header = text
        .lines()
        .find(|l| l.contains("│  "))
        .expect("a header row");
    assert!(!header.contains(last.short), "{text}");
    assert!(
        text.contains(&format!("sorted by {} (off screen)", last.short)),
        "{text}"
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
    let total = |app: &App| {
        app.shared
            .current()
            .expect("report")
            .summary
            .total_unique_users
    };
    assert_eq!(total(&app), report.six_months.summary.total_unique_users);
    key(&mut app, KeyCode::Char('w'));
    assert_eq!(app.shared.window, WindowKind::OneYear);
    assert_eq!(total(&app), report.one_year.summary.total_unique_users);
    assert!(screen(&app).contains("Last 1 Year"));
    key(&mut app, KeyCode::Char('7'));
    assert_eq!(table(&app).order.len(), report.one_year.users.len());
    key(&mut app, KeyCode::Char('w'));
    assert_eq!(app.shared.window, WindowKind::SixMonths);
}

#[test]
fn moving_past_the_page_scrolls_and_keeps_the_selection_on_screen() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('7'));
    let users = &demo().report.six_months.users;
    for _ in 0..30 {
        key(&mut app, KeyCode::Char('j'));
    }
    let info = table(&app);
    assert_eq!(info.selected, 30);
    assert!(info.offset > 0 && info.offset <= 30, "{info:?}");
    let selected = &users[info.order[30]];
    let name = selected
        .display_names()
        .first()
        .or(selected.usernames().first())
        .expect("a name");
    let shown: String = name.chars().take(10).collect();
    let text = screen(&app);
    let marked = text.lines().find(|l| l.contains('▶')).expect("a selection");
    assert!(marked.contains(&shown), "{marked}\n{text}");
    key(&mut app, KeyCode::End);
    assert_eq!(table(&app).selected, users.len() - 1);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(table(&app).selected, users.len() - 1);
    key(&mut app, KeyCode::Home);
    assert_eq!(table(&app).selected, 0);
    key(&mut app, KeyCode::Up);
    assert_eq!(table(&app).selected, 0);
}

#[test]
fn many_connectors_scroll_on_the_dashboard() {
    let rows = (1..=9)
        .map(|i| ConnectorRow::new(&format!("jira-{i}"), "jira"))
        .collect();
    let mut app = App::new(rows, as_of(), PathBuf::from("/tmp/tally.log"));
    update(&mut app, Action::Resize(80, 24));
    update(
        &mut app,
        Action::ReportBuilt(Box::new(Built::clone(&demo()))),
    );
    let text = screen(&app);
    assert!(
        text.contains("jira-1 ") && !text.contains("jira-9"),
        "{text}"
    );
    assert!(text.contains("j/k scroll"), "says it scrolls:\n{text}");
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
    let shown: String = last.chars().take(14).collect();
    assert!(
        bottom.contains(&shown),
        "the last line is reachable:\n{bottom}"
    );
    assert!(!bottom.contains("Users by email domain"));
    let mut back = 0;
    while screen(&app) != top {
        key(&mut app, KeyCode::Char('k'));
        back += 1;
        assert!(back < 200, "k scrolls back to the top");
    }
    assert!(back > 1, "{back}");
    // One more k at the top changes nothing; j leaves it again.
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(screen(&app), top);
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
    assert!(app.shared.building);
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
    assert_eq!(app.shared.connectors[0].state, ConnectorState::Running);
    assert_eq!(app.shared.connectors[0].received, 1200);
    // Too soon after the last build: records wait for the next slot.
    let soon = update(&mut app, Action::Tick(t0 + Duration::from_millis(500)));
    assert!(soon.is_empty(), "{soon:?}");
    let due = update(&mut app, Action::Tick(t0 + Duration::from_millis(1600)));
    assert!(matches!(due.as_slice(), [Command::BuildReport]), "{due:?}");
    assert!(
        update(&mut app, Action::Tick(t0 + Duration::from_millis(3200))).is_empty(),
        "no second build while one runs"
    );
    assert!(app.shared.connectors[0].rate().is_some());
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
    assert!(text.contains("1,200"), "records with separators:\n{text}");

    // The end of collection asks for a final build once the running one is in.
    let after = finish_then_build(&mut app);
    assert!(
        matches!(after.as_slice(), [Command::BuildReport]),
        "{after:?}"
    );
    assert_eq!(app.shared.connectors[0].received, 5000);
    assert!(matches!(app.shared.collection, Collection::Finished { .. }));
    assert!(matches!(
        key(&mut app, KeyCode::Char('r')).as_slice(),
        [Command::Collect]
    ));
    assert_eq!(
        app.shared.connectors[0].received, 0,
        "a new run starts from zero"
    );
}

/// An app whose first tick asked for a build of what the store held and whose
/// collection has started; the time of that tick.
fn collecting() -> (App, Instant) {
    let mut app = app();
    let t0 = Instant::now();
    update(&mut app, Action::Tick(t0));
    update(&mut app, Action::Collect);
    (app, t0)
}

#[test]
fn a_slow_report_build_spaces_out_the_rebuilds_while_collecting() {
    let (mut app, t0) = collecting();
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

/// A collection whose first build found an empty store after `took`, then its first
/// commit; returns the commands of the tick 100 ms later.
fn zeros_then_first_records(took: Duration) -> (App, Instant, Vec<Command>) {
    let (mut app, t0) = collecting();
    let mut empty = Built::clone(&demo());
    empty.report.six_months.summary = Default::default();
    empty.report.one_year.summary = Default::default();
    empty.took = took;
    update(&mut app, Action::ReportBuilt(Box::new(empty)));
    update(
        &mut app,
        Action::Collected(CollectEvent::Stored {
            connector: 0,
            received: 50_000,
            new: 50_000,
        }),
    );
    let at_once = update(&mut app, Action::Tick(t0 + Duration::from_millis(100)));
    (app, t0, at_once)
}

#[test]
fn a_slow_build_of_zeros_does_not_hold_back_the_first_numbers() {
    // Both cores busy collecting: even the build of an empty store was slow.
    let (_, _, at_once) = zeros_then_first_records(Duration::from_millis(1_300));
    assert!(
        matches!(at_once.as_slice(), [Command::BuildReport]),
        "the first records are built at once, not 3.9 s later: {at_once:?}"
    );
}

#[test]
fn the_first_records_replace_a_screen_of_zeros_at_once() {
    let (mut app, t0, at_once) = zeros_then_first_records(Duration::from_millis(10));
    assert!(
        matches!(at_once.as_slice(), [Command::BuildReport]),
        "no wait for the rebuild slot while the screen shows zeros: {at_once:?}"
    );
    // With numbers on screen the rebuilds are spaced again.
    let mut numbers = Built::clone(&demo());
    numbers.took = Duration::from_millis(10);
    update(&mut app, Action::ReportBuilt(Box::new(numbers)));
    update(
        &mut app,
        Action::Collected(CollectEvent::Stored {
            connector: 0,
            received: 100_000,
            new: 100_000,
        }),
    );
    let soon = update(&mut app, Action::Tick(t0 + Duration::from_millis(300)));
    assert!(soon.is_empty(), "{soon:?}");
}

/// A collection 3.2 s in with numbers on screen from a build of 0.3 s over 100,000
/// records, now at 400,000 records and `percent` of its input (the other connector done).
/// Returns the commands of the tick when the next rebuild is due.
fn numbers_shown_then_progress(percent: u64) -> Vec<Command> {
    let (mut app, t0) = collecting();
    update(
        &mut app,
        Action::Collected(CollectEvent::Started { connector: 0 }),
    );
    app.shared.connectors[0].started = Some(t0);
    app.shared.connectors[1].state = ConnectorState::Done;
    let stored = |app: &mut App, received: u64| {
        update(
            app,
            Action::Collected(CollectEvent::Stored {
                connector: 0,
                received,
                new: received,
            }),
        );
    };
    let mut numbers = Built::clone(&demo());
    numbers.took = Duration::from_millis(300);
    update(&mut app, Action::ReportBuilt(Box::new(numbers.clone())));
    stored(&mut app, 100_000);
    let second = update(&mut app, Action::Tick(t0 + Duration::from_millis(1_600)));
    assert!(
        matches!(second.as_slice(), [Command::BuildReport]),
        "{second:?}"
    );
    update(&mut app, Action::ReportBuilt(Box::new(numbers)));
    stored(&mut app, 400_000);
    update(
        &mut app,
        Action::Collected(CollectEvent::Progress {
            connector: 0,
            done: percent,
            total: Some(100),
        }),
    );
    update(&mut app, Action::Tick(t0 + Duration::from_millis(3_200)))
}

#[test]
fn no_rebuild_starts_that_the_end_of_the_collection_would_overtake() {
    // 90 % in 3.2 s: 0.36 s left, and a build of 4× the records takes about 1.2 s.
    let late = numbers_shown_then_progress(90);
    assert!(late.is_empty(), "{late:?}");
    // 40 % in 3.2 s: 4.8 s left, time for a build before the final one.
    let early = numbers_shown_then_progress(40);
    assert!(
        matches!(early.as_slice(), [Command::BuildReport]),
        "{early:?}"
    );
}

#[test]
fn the_final_build_starts_when_the_last_connector_ends_and_is_not_repeated() {
    let (mut app, _) = collecting();
    update(
        &mut app,
        Action::ReportBuilt(Box::new(Built::clone(&demo()))),
    );
    update(
        &mut app,
        Action::Collected(CollectEvent::Finished {
            connector: 1,
            state: ConnectorState::Failed("HTTP 401".into()),
        }),
    );
    update(
        &mut app,
        Action::Collected(CollectEvent::Stored {
            connector: 0,
            received: 5000,
            new: 5000,
        }),
    );
    // Well inside the rebuild gap, the collection still running: the last end starts it.
    let at_end = update(
        &mut app,
        Action::Collected(CollectEvent::Finished {
            connector: 0,
            state: ConnectorState::Done,
        }),
    );
    assert!(
        matches!(at_end.as_slice(), [Command::BuildReport]),
        "{at_end:?}"
    );
    let after = finish_then_build(&mut app);
    assert!(after.is_empty(), "no second final build: {after:?}");
    assert!(matches!(app.shared.collection, Collection::Finished { .. }));
}

/// The collection of [`app`]'s two connectors ends (demo done with 5,000 records, the
/// other failed), which asks for nothing while a build runs; then that build comes in.
/// Returns what its arrival asks for.
fn finish_then_build(app: &mut App) -> Vec<Command> {
    let summary = CollectSummary {
        connectors: vec![
            outcome("demo", 5000, ConnectorState::Done),
            outcome("sync-log", 0, ConnectorState::Failed("HTTP 401".into())),
        ],
    };
    assert!(update(app, Action::CollectFinished(Ok(summary))).is_empty());
    update(app, Action::ReportBuilt(Box::new(Built::clone(&demo()))))
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
        title(&app),
        "Dashboard",
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
    let later = app.shared.now + Duration::from_millis(1300);
    update(&mut app, Action::Tick(later));
    assert!(
        screen(&app).contains("exporting q.zip 1.3s"),
        "progress shows"
    );
    // Browsing goes on while it runs.
    key(&mut app, KeyCode::Char('3'));
    assert_eq!(title(&app), sheets::UNIQUE_USER_COUNT.name);
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
fn help_lists_the_app_keys_and_the_views_own_and_q_quits() {
    let mut app = loaded(100, 40);
    key(&mut app, KeyCode::Char('7'));
    key(&mut app, KeyCode::Char('?'));
    let text = screen(&app);
    for k in ["Tab", "1 … 9 0", "j k", "PgUp", "w", "r", "e", "q"] {
        assert!(text.contains(k), "help lacks {k}:\n{text}");
    }
    // Built from the view's own commands: what its keys do.
    for c in app.view().commands() {
        assert!(text.contains(c.keys), "help lacks {}:\n{text}", c.keys);
    }
    assert!(text.contains("sort by the next column on screen"), "{text}");
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
fn the_status_bar_shows_the_views_keys() {
    let mut app = loaded(120, 30);
    key(&mut app, KeyCode::Char('7'));
    let text = screen(&app);
    let footer = text.lines().last().expect("a footer");
    assert!(
        footer.contains("s sort") && footer.contains("/ filter"),
        "{footer}"
    );
    key(&mut app, KeyCode::Char('8'));
    let text = screen(&app);
    let footer = text.lines().last().expect("a footer");
    assert!(
        !footer.contains("s sort") && footer.contains("scroll"),
        "{footer}"
    );
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
    assert!(line.contains(&thousands(s.total_unique_users)), "{line}");
    assert!(s.total_unique_users >= 1000, "the demo shows a separator");
    assert!(
        text.lines().next().is_some_and(|t| t.contains("· DEMO ·")),
        "title says demo data"
    );
}

#[test]
fn every_table_takes_its_headers_from_the_sheet() {
    // Wide: full headers; narrow: the short ones. Either way the sheet's, not a copy.
    for (width, height) in [(200, 50), (80, 24)] {
        let mut app = loaded(width, height);
        for name in [
            sheets::UNIQUE_USER_COUNT.name,
            sheets::ENTITY_TYPE_COUNT.name,
            sheets::INTEGRATED_PROJECT_COUNT.name,
            sheets::SYNCED_DATA_COUNT.name,
        ] {
            go(&mut app, name);
            let text = screen(&app);
            let header_line = text
                .lines()
                .find(|l| l.contains("│  "))
                .expect("a header row");
            let columns = match name {
                n if n == sheets::UNIQUE_USER_COUNT.name => sheets::UNIQUE_USER_COUNT.headers(),
                n if n == sheets::ENTITY_TYPE_COUNT.name => sheets::ENTITY_TYPE_COUNT.headers(),
                n if n == sheets::INTEGRATED_PROJECT_COUNT.name => {
                    sheets::INTEGRATED_PROJECT_COUNT.headers()
                }
                _ => sheets::SYNCED_DATA_COUNT.headers(),
            };
            if width == 200 {
                for h in columns {
                    assert!(header_line.contains(h), "{name} lacks {h}: {header_line}");
                }
            }
            assert!(!header_line.contains('…') || width < 200, "{header_line}");
        }
    }
}

#[test]
fn no_header_text_is_kept_in_the_ui_sources() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tui/src/ui");
    let mut sources = String::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("ui dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "snapshots") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                sources.push_str(&std::fs::read_to_string(&path).expect("source"));
            }
        }
    }
    let mut headers = Vec::new();
    headers.extend(sheets::UNIQUE_USER_COUNT.headers());
    headers.extend(sheets::ENTITY_TYPE_COUNT.headers());
    headers.extend(sheets::INTEGRATED_PROJECT_COUNT.headers());
    headers.extend(sheets::SYNCED_DATA_COUNT.headers());
    headers.extend(sheets::DETAILED_USER_REPORT.headers());
    headers.extend(DORMANT_SEATS.headers());
    for h in headers {
        assert!(
            !sources.contains(&format!("\"{h}\"")),
            "the header {h:?} is written in the UI; read it from the sheet"
        );
    }
}

#[test]
fn counts_are_right_aligned_with_separators() {
    let mut app = loaded(200, 50);
    key(&mut app, KeyCode::Char('6'));
    let w = &demo().report.six_months;
    let big = w
        .synced
        .iter()
        .map(|r| r.entities)
        .max()
        .expect("synced rows");
    assert!(big >= 1000, "the demo has a four-digit pair: {big}");
    let text = screen(&app);
    let line = text
        .lines()
        .find(|l| l.contains(&format!(" {} ", thousands(big))))
        .unwrap_or_else(|| panic!("{} not shown:\n{text}", thousands(big)));
    let header = text
        .lines()
        .find(|l| l.contains("Counts Based on System Pair"))
        .expect("header");
    let end = |l: &str, s: &str| {
        l.find(s)
            .map(|i| l[..i].chars().count() + s.chars().count())
    };
    assert_eq!(
        end(line, &thousands(big)),
        end(header, "Counts Based on System Pair"),
        "the number ends where its header does:\n{header}\n{line}"
    );
}

#[test]
fn a_failed_connectors_reason_stays_visible_at_120x30() {
    let mut app = loaded(120, 30);
    app.shared.connectors[1].state = ConnectorState::Failed(
        "GET https://jira.example.com/rest/api/3/search?jql=updated%3E%3D-180d failed: HTTP 401 \
         Unauthorized — check JIRA_TOKEN (an API token of an administrator) and the base URL"
            .into(),
    );
    let text = screen(&app);
    assert!(text.contains("check JIRA_TOKEN"), "{text}");
    assert!(
        text.contains("and the base URL"),
        "the whole reason shows:\n{text}"
    );
}

#[test]
fn the_dashboard_shows_systems_by_count_and_the_partial_month() {
    let app = loaded(120, 30);
    let text = screen(&app);
    let w = &demo().report.six_months;
    let mut by_count = w.user_counts.clone();
    by_count.sort_by_key(|c| std::cmp::Reverse(c.count));
    let rows: Vec<usize> = by_count
        .iter()
        .map(|c| {
            text.lines()
                .position(|l| {
                    l.contains(&format!("{} ", c.system)) && l.contains(&thousands(c.count))
                })
                .unwrap_or_else(|| panic!("{} not on the dashboard:\n{text}", c.system))
        })
        .collect();
    assert!(
        rows.windows(2).all(|p| p[0] < p[1]),
        "largest first {rows:?}:\n{text}"
    );
    // The demo holds account data, so observation-only figures are not called "active".
    assert!(text.contains("Users seen per month"), "{text}");
    assert!(
        text.contains("2026-11*"),
        "the month of as of is marked:\n{text}"
    );
    assert!(text.contains("month in progress"), "{text}");
}

#[test]
fn no_color_switches_to_the_monochrome_theme() {
    assert_eq!(Theme::pick(Some(std::ffi::OsStr::new("1"))), Theme::mono());
    assert_eq!(Theme::pick(Some(std::ffi::OsStr::new(""))), Theme::color());
    assert_eq!(Theme::pick(None), Theme::color());
    let mut app = loaded(80, 24);
    app.shared.theme = Theme::mono();
    let terminal = rendered(&app);
    let buffer = terminal.backend().buffer();
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset),
        "no colour with NO_COLOR"
    );
}

#[test]
fn the_title_shows_the_as_of_of_the_report_on_screen() {
    // Without --as-of each rebuild ends "now": the title must follow the report, not the
    // launch time.
    let mut app = app();
    let mut later = Built::clone(&demo());
    later.report.as_of = as_of() + chrono::Duration::minutes(5);
    update(&mut app, Action::ReportBuilt(Box::new(later)));
    assert_eq!(app.shared.as_of, as_of() + chrono::Duration::minutes(5));
    let title = screen(&app).lines().next().unwrap_or_default().to_owned();
    assert!(title.contains("as of 2026-11-01 00:05 UTC"), "{title}");
}

// ---- access views ---------------------------------------------------------------------

#[test]
fn without_account_data_the_access_views_say_how_to_get_it() {
    let mut app = without_access(120, 30);
    for name in ["Access", DORMANT_SEATS.name] {
        go(&mut app, name);
        let text = screen(&app);
        assert!(text.contains("No account data"), "{text}");
        assert!(text.contains("tally --demo"), "{text}");
    }
    key(&mut app, KeyCode::Char('8'));
    let text = screen(&app);
    assert!(text.contains("Active users per system"), "{text}");
}

#[test]
fn the_access_view_shows_the_numbers_of_the_insights() {
    let mut app = with_access(200, 50);
    go(&mut app, "Access");
    let text = screen(&app);
    let a = hand_made_access();
    for n in [
        a.people.with_access,
        a.people.managed,
        a.people.external,
        a.people.unknown,
        a.people.active,
        a.people.seats_in_several_systems,
    ] {
        assert!(
            text.contains(&thousands(n)),
            "{} missing:\n{text}",
            thousands(n)
        );
    }
    for s in &a.systems {
        let line = text
            .lines()
            .find(|l| l.contains(&s.system) && l.contains(&thousands(s.accounts)))
            .unwrap_or_else(|| panic!("{} missing:\n{text}", s.system));
        for n in [s.seats, s.active, s.dormant] {
            assert!(line.contains(&thousands(n)), "{line}");
        }
    }
    assert!(text.contains("northwind.example") && text.contains("partners.example"));
    assert!(text.contains("Sign-in per system"), "{text}");
}

#[test]
fn with_account_data_insights_stop_calling_observations_active() {
    let mut app = with_access(120, 30);
    key(&mut app, KeyCode::Char('8'));
    let text = screen(&app);
    assert!(!text.contains("Active users"), "{text}");
    assert!(!text.contains("Monthly active users"), "{text}");
    assert!(text.contains("Seen in the last 30 days"), "{text}");
}

#[test]
fn dormant_seats_filter_sort_and_show_the_persons_other_accounts() {
    let mut app = with_access(120, 30);
    go(&mut app, DORMANT_SEATS.name);
    assert_eq!(table(&app).order, [0, 1]);
    let text = screen(&app);
    assert!(text.contains("dora@northwind.example"), "{text}");
    // The detail pane: the other account of the same person, with its activity.
    assert!(text.contains("GitHub · dora-gh"), "{text}");
    assert!(text.contains("2026-10-20 12:00"), "{text}");
    // Sort by the last column on screen (Last Activity): the seat never used goes last.
    while table(&app).sort.map(|s| s.0) != Some("Last Activity (UTC)") {
        key(&mut app, KeyCode::Char('s'));
        assert!(table(&app).sort.is_some(), "Last Activity is a sort key");
    }
    assert_eq!(table(&app).order, [0, 1]);
    key(&mut app, KeyCode::Char('S'));
    assert_eq!(table(&app).order, [1, 0]);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "partners");
    assert_eq!(table(&app).order, [1]);
    let text = screen(&app);
    assert!(text.contains("1 of 2 dormant seats"), "{text}");
    assert!(text.contains("none: this is their only account"), "{text}");
}

// ---- snapshots -----------------------------------------------------------------------

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 30), (200, 50)];

#[test]
fn snapshot_every_view_at_three_sizes() {
    for (w, h) in SIZES {
        let mut app = with_access(w, h);
        for i in 0..app.views.len() {
            app.current = i;
            let name = app.view().short().to_lowercase().replace('#', "_count");
            snapshot(&format!("{name}_{w}x{h}"), &app);
        }
    }
}

#[test]
fn snapshot_without_account_data_and_filtered() {
    let mut app = without_access(120, 30);
    go(&mut app, "Access");
    snapshot("access_no_accounts_120x30", &app);
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "contoso");
    snapshot("users_filtered_120x30", &app);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Char('w'));
    key(&mut app, KeyCode::Char('4'));
    snapshot("types_one_year_120x30", &app);
}

#[test]
fn snapshot_help_and_export_prompt() {
    let mut app = loaded(80, 24);
    key(&mut app, KeyCode::Char('7'));
    key(&mut app, KeyCode::Char('?'));
    snapshot("help_80x24", &app);
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Char('e'));
    snapshot("export_prompt_80x24", &app);
}

// ---- provenance and the no-connector notice ------------------------------------------

#[test]
fn the_title_says_version_demo_data_and_failed_connectors_at_80_columns() {
    let app = loaded(80, 24);
    let title = screen(&app).lines().next().unwrap_or_default().to_owned();
    assert!(
        title.contains("tally 9.9.9 · DEMO · 2 connectors, 1 failed"),
        "{title}"
    );
    assert!(
        title.contains("as of 2026-11-01 00:00 UTC"),
        "as of stays: {title}"
    );
}

#[test]
fn a_failed_connector_says_when_it_was_last_collected() {
    let app = loaded(120, 30);
    let text = screen(&app);
    assert!(
        text.contains(
            "✗ sync-log failed (last collected at 2026-10-29 22:00 UTC): records/log.jsonl"
        ),
        "{text}"
    );
}

#[test]
fn the_summary_view_lists_the_sources_and_says_the_report_is_partial() {
    let mut app = loaded(120, 30);
    go(&mut app, "Summary");
    let text = screen(&app);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle}:\n{text}"))
            .to_owned()
    };
    let demo = line("│demo ");
    assert!(
        demo.contains("ok") && demo.contains("2026-10-31 22:00"),
        "{demo}"
    );
    let log = line("│sync-log");
    assert!(
        log.contains("failed: records/log.jsonl") && log.contains("2026-10-29 22:00"),
        "{log}"
    );
    assert!(line("Partial Report").contains("sync-log's last collection failed"));
    assert!(line("Demo data").contains("Yes"));
    assert!(line("Tally Version").contains("9.9.9"));
    assert!(!text.contains("Written At"), "nothing is written on screen");
}

#[test]
fn with_no_connector_the_ui_shows_a_notice_not_an_empty_dashboard() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("tally.toml");
    std::fs::write(&config, "[store]\npath = \"t.db\"\n").expect("config");
    let setup = crate::setup::setup(
        Some(&config),
        false,
        Some(as_of()),
        crate::setup::Fallback::Fail,
    )
    .expect("an empty configuration loads");
    let mut app = super::app_for(&setup, PathBuf::from("/tmp/tally.log"));
    update(&mut app, Action::Resize(80, 24));
    let text = screen(&app);
    assert!(text.contains("No connector"), "{text}");
    assert!(text.contains("Nothing to collect"), "{text}");
    assert!(text.contains("--demo"), "says how to go on:\n{text}");
    assert!(
        !text.contains("Total Unique Users"),
        "no dashboard of zeros:\n{text}"
    );
}

#[test]
fn at_120_columns_the_title_says_demo_data_in_full() {
    let app = loaded(120, 30);
    let title = screen(&app).lines().next().unwrap_or_default().to_owned();
    assert!(
        title.contains("tally 9.9.9 · DEMO DATA · 2 connectors, 1 failed · --demo"),
        "{title}"
    );
    assert!(
        title.contains("Last 6 Months · as of 2026-11-01 00:00 UTC"),
        "{title}"
    );
}
