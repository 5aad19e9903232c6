//! "Largest merged users" on the demo organisation: its own over-merges — Jane and John
//! Smith sharing `jsmith`, the shared `admin` with two emails — must head the list, ahead
//! of people who merely have a login per system.

use chrono::{DateTime, Utc};
use tally_core::identity::IdentityRules;
use tally_core::report::insights::insights;
use tally_core::report::{build_report, ReportOptions};
use tally_core::store::Store;
use tally_core::Record;

fn end() -> DateTime<Utc> {
    "2026-11-01T00:00:00Z".parse().expect("time")
}

fn demo_store() -> (tempfile::TempDir, Store) {
    let records: Vec<Record> = tally_demo::records(end()).collect();
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("demo.db")).expect("store");
    store
        .writer()
        .expect("writer")
        .write_all(&records)
        .expect("write");
    (dir, store)
}

fn report(store: &Store, rules: IdentityRules) -> tally_core::report::Report {
    let mut opts = ReportOptions::new(end());
    opts.rules = rules;
    build_report(store, &opts).expect("report")
}

#[test]
fn the_demo_over_merges_come_first() {
    let (_dir, store) = demo_store();
    let report = report(&store, IdentityRules::default());
    for window in [&report.six_months, &report.one_year] {
        let list = insights(window, &[]).largest_merged;
        let top: Vec<&str> = list.iter().take(2).map(|m| m.label.as_str()).collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            vec!["admin@northwind.example", "jane.smith@northwind.example"],
            "{:?}: {list:#?}",
            window.window.kind
        );
        let smiths = list
            .iter()
            .find(|m| m.label == "jane.smith@northwind.example")
            .expect("the Smiths");
        assert_eq!((smiths.emails, smiths.display_names), (2, 2));
        assert!(smiths.shared_handles.contains(&"jsmith".to_string()));
        // Priya Patel: one email, several usernames, one person — listed, but later.
        if let Some(p) = list
            .iter()
            .position(|m| m.label.starts_with("priya.patel@"))
        {
            assert!(p >= 2, "{list:#?}");
        }
    }

    // With `admin` a generic handle the shared admin falls apart into its two accounts;
    // the Smiths still lead.
    let generic = self::report(
        &store,
        IdentityRules {
            generic_handles: vec!["admin".into()],
            forced_merges: Vec::new(),
        },
    );
    let list = insights(&generic.six_months, &[]).largest_merged;
    assert_eq!(list[0].label, "jane.smith@northwind.example", "{list:#?}");
    assert!(
        list.iter().all(|m| m.label != "admin@northwind.example"),
        "{list:#?}"
    );
}
