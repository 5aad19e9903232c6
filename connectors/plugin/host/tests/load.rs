//! The example plugin and the broken ones, built as real shared libraries and loaded
//! through tally's real loader, then collected into a real store.

mod support;

use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use tally_core::collect::{self, ConnectorState};
use tally_core::connector::CancellationToken;
use tally_core::store::Store;
use tally_core::Connector;
use tally_plugin_host::{self as plugin, PluginError, UnavailableConnector};

use support::*;

fn sample() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../example/sample/issues.csv").to_owned()
}

/// Every stored identity as "system/email/username/display_name".
fn identities(store: &Path) -> Vec<String> {
    let store = Store::open(store).expect("store opens");
    let mut out = Vec::new();
    store
        .for_each_identity(|_, i| {
            out.push(format!(
                "{}/{}/{}/{}{}",
                i.system,
                i.email,
                i.username,
                i.display_name,
                if i.service_account { " (service)" } else { "" }
            ))
        })
        .expect("read");
    out.sort();
    out
}

#[tokio::test]
async fn the_example_plugin_loads_and_its_records_are_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let installed = install(EXAMPLE, &dir.path().join("plugins"));
    let set = plugin::load_dirs(&[dir.path().join("plugins")], &["jsonl", "demo"]);
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    assert_eq!(set.libraries.len(), 1);
    let library = set.find("csv-tracker").expect("kind csv-tracker");
    assert_eq!(library.path(), installed);
    assert_eq!(library.version(), env!("CARGO_PKG_VERSION"));
    assert!(library.description().contains("CSV"));

    let connector = library
        .create(
            "tracker",
            json!({"path": sample(), "service_accounts": ["ci-bot"]}),
            dir.path(),
        )
        .expect("settings accepted");
    assert_eq!(connector.kind(), "csv-tracker");
    let store = dir.path().join("tally.db");
    let connectors: Vec<Arc<dyn Connector>> = vec![Arc::new(connector)];
    let summary = collect::collect(
        store.clone(),
        connectors.clone(),
        CancellationToken::new(),
        None,
    )
    .await
    .expect("collects");
    let outcome = &summary.connectors[0];
    assert_eq!(outcome.state, ConnectorState::Done, "{outcome:?}");
    assert_eq!((outcome.received, outcome.skipped), (7, 1), "{outcome:?}");
    assert_eq!(
        identities(&store),
        [
            "Tracker//alee/",
            "Tracker//ci-bot/Deploy Bot [bot] (service)",
            "Tracker/ann.lee@corp.example/alee/Ann Lee",
            "Tracker/bob@corp.example//",
            "Tracker/bob@corp.example/bob/Bob Ray",
            "Tracker/cara.diaz@partner.example//",
            "Tracker/cara.diaz@partner.example//Cara Diaz",
        ]
    );
    let cursor = Store::open(&store)
        .expect("store")
        .cursor("tracker")
        .expect("cursor");
    assert_eq!(cursor.as_deref(), Some("2026-10-03T06:15:00+00:00"));

    // The same instance runs again with its cursor: only rows from then on are read.
    let summary = collect::collect(store.clone(), connectors, CancellationToken::new(), None)
        .await
        .expect("collects again");
    let outcome = &summary.connectors[0];
    assert_eq!(outcome.state, ConnectorState::Done);
    assert_eq!(outcome.received, 2, "{outcome:?}");
    assert_eq!(outcome.new.total(), 0, "nothing counted twice");
}

#[test]
fn rejected_settings_name_the_plugin_its_path_and_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let path = install(EXAMPLE, &dir.path().join("p"));
    let library = plugin::PluginLibrary::load(&path).expect("loads");
    let err = library
        .create(
            "tracker",
            json!({"path": "x.csv", "sytem": "Typo"}),
            dir.path(),
        )
        .map(|_| ())
        .expect_err("rejected");
    let message = err.to_string();
    assert!(matches!(err, PluginError::Create { .. }));
    assert!(message.contains("`csv-tracker`"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("connector `tracker`"), "{message}");
    assert!(message.contains("unknown field `sytem`"), "{message}");
    // A constructor's own refusal comes through too.
    let err = library
        .create(
            "tracker",
            json!({"path": "x.csv", "system": " "}),
            dir.path(),
        )
        .map(|_| ())
        .expect_err("rejected")
        .to_string();
    assert!(err.contains("`system` must name the end system"), "{err}");
}

#[test]
fn broken_libraries_are_refused_by_path_with_the_reason() {
    let dir = tempfile::tempdir().expect("dir");
    let plugins = dir.path().join("plugins");
    let abi2 = install(ABI2, &plugins);
    let nosym = install(NOSYMBOL, &plugins);
    let junk = install_junk(&plugins);
    let good = install(EXAMPLE, &plugins);
    let set = plugin::load_dirs(std::slice::from_ref(&plugins), &[]);
    // The good one is loaded whatever its neighbours are.
    assert_eq!(set.libraries.len(), 1);
    assert_eq!(set.libraries[0].path(), good);
    let problem = |path: &Path| {
        set.problems
            .iter()
            .find(|p| p.path() == path)
            .unwrap_or_else(|| panic!("no problem reported for {}", path.display()))
            .to_string()
    };
    assert_eq!(
        problem(&abi2),
        format!(
            "plugin {} was built for plugin ABI 2, this tally speaks 1: rebuild it against tally-plugin-sdk 0.1",
            abi2.display()
        )
    );
    let m = problem(&nosym);
    assert!(
        m.contains("no entry symbol `tally_connector_plugin`"),
        "{m}"
    );
    let m = problem(&junk);
    assert!(m.contains("not a loadable shared library"), "{m}");
    assert_eq!(set.problems.len(), 3, "{:?}", set.problems);
}

#[test]
fn a_kind_claimed_twice_keeps_the_first() {
    let dir = tempfile::tempdir().expect("dir");
    let first = install(EXAMPLE, &dir.path().join("a"));
    let second = install(EXAMPLE, &dir.path().join("b"));
    let set = plugin::load_dirs(&[dir.path().join("a"), dir.path().join("b")], &[]);
    assert_eq!(set.libraries.len(), 1);
    assert_eq!(set.libraries[0].path(), first);
    assert_eq!(set.problems.len(), 1);
    assert_eq!(set.problems[0].path(), second);
    let set = plugin::load_dirs(&[dir.path().join("a")], &["csv-tracker"]);
    assert!(set.problems[0].to_string().contains("a built-in connector"));
}

#[test]
fn a_panic_in_create_is_caught_and_reported() {
    let dir = tempfile::tempdir().expect("dir");
    let path = install(PANICKY, &dir.path().join("p"));
    let library = plugin::PluginLibrary::load(&path).expect("loads");
    let err = library
        .create("bad", json!({"mode": "panic-in-create"}), dir.path())
        .map(|_| ())
        .expect_err("fails")
        .to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert!(err.contains("deliberate panic in create"), "{err}");
    // Still usable afterwards: the panic did not poison the library.
    library
        .create("good", json!({"mode": "ok"}), dir.path())
        .expect("creates");
}

#[tokio::test]
async fn a_plugin_failing_mid_run_fails_alone_and_keeps_what_it_sent() {
    let dir = tempfile::tempdir().expect("dir");
    let panicky = install(PANICKY, &dir.path().join("plugins"));
    install(EXAMPLE, &dir.path().join("plugins"));
    let set = plugin::load_dirs(&[dir.path().join("plugins")], &[]);
    assert!(set.problems.is_empty(), "{:?}", set.problems);
    let broken = set.find("broken-panicky").expect("loaded");
    let tracker = set.find("csv-tracker").expect("loaded");
    let connectors: Vec<Arc<dyn Connector>> = vec![
        Arc::new(
            broken
                .create("panics", json!({"mode": "panic-mid-run"}), dir.path())
                .expect("ok"),
        ),
        Arc::new(
            tracker
                .create("tracker", json!({"path": sample()}), dir.path())
                .expect("ok"),
        ),
        Arc::new(
            broken
                .create("fails", json!({"mode": "fail-mid-run"}), dir.path())
                .expect("ok"),
        ),
        Arc::new(UnavailableConnector::new(
            "gone",
            "nowhere",
            "plugin /x/libgone.so was built for plugin ABI 2",
        )),
    ];
    let store = dir.path().join("tally.db");
    let summary = collect::collect(store.clone(), connectors, CancellationToken::new(), None)
        .await
        .expect("collection itself succeeds");
    let c = &summary.connectors;
    let ConnectorState::Failed(reason) = &c[0].state else {
        panic!("panicking plugin must fail: {:?}", c[0]);
    };
    assert!(reason.contains("plugin `broken-panicky`"), "{reason}");
    assert!(reason.contains(&panicky.display().to_string()), "{reason}");
    assert!(reason.contains("panicked"), "{reason}");
    assert!(reason.contains("deliberate panic mid-run"), "{reason}");
    assert_eq!(c[0].received, 1, "what it sent before the panic is kept");
    assert_eq!(c[1].state, ConnectorState::Done, "{:?}", c[1]);
    assert_eq!(c[1].received, 7);
    let ConnectorState::Failed(reason) = &c[2].state else {
        panic!("failing plugin must fail: {:?}", c[2]);
    };
    assert!(reason.contains("answered 500"), "{reason}");
    assert!(reason.contains(&panicky.display().to_string()), "{reason}");
    assert!(matches!(&c[3].state, ConnectorState::Failed(r) if r.contains("libgone.so")));
    let ids = identities(&store);
    assert!(
        ids.iter().any(|i| i.contains("early@broken.example")),
        "{ids:?}"
    );
    assert!(
        ids.iter().any(|i| i.contains("bob@corp.example")),
        "{ids:?}"
    );
}

#[tokio::test]
async fn cancellation_reaches_the_plugin() {
    let dir = tempfile::tempdir().expect("dir");
    let path = install(EXAMPLE, &dir.path().join("p"));
    let library = plugin::PluginLibrary::load(&path).expect("loads");
    let connector = library
        .create("tracker", json!({"path": sample()}), dir.path())
        .expect("ok");
    let shutdown = CancellationToken::new();
    shutdown.cancel();
    let summary = collect::collect(
        dir.path().join("tally.db"),
        vec![Arc::new(connector) as Arc<dyn Connector>],
        shutdown,
        None,
    )
    .await
    .expect("collects");
    assert!(
        matches!(&summary.connectors[0].state, ConnectorState::Failed(r) if r.contains("cancelled")),
        "{:?}",
        summary.connectors[0]
    );
}
