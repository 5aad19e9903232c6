//! Several parts of tally open the same new store at once (the TUI's first report and
//! the collection, on the demo's fresh scratch file): every one of them must succeed.

use std::sync::{Arc, Barrier};
use tally_core::store::Store;

#[test]
fn readers_and_the_writer_opening_a_new_store_at_once_all_succeed() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..200 {
        let path = dir.path().join(format!("race-{round}.db"));
        let start = Arc::new(Barrier::new(3));
        let opens: Vec<_> = (0..3)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    Store::open(&path).map(|s| s.cursor("demo").map(|_| ()))
                })
            })
            .collect();
        for open in opens {
            let result = open.join().expect("thread");
            assert!(
                matches!(result, Ok(Ok(()))),
                "round {round}: {:?}",
                result
                    .map(|r| r.map_err(|e| e.to_string()))
                    .map_err(|e| e.to_string())
            );
        }
    }
}
