//! `kill -9` during collection loses nothing: a store whose collection was killed at
//! several points and then run to the end gives the same workbooks as a clean run.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::*;

const AS_OF: &str = "2026-11-01T00:00:00Z";

/// A sync log large enough that collecting it takes a while: observations of 2,000
/// people across systems and 18 months, syncs, a duplicate of every 7th line, an
/// integration and a bad line.
fn write_input(dir: &Path, lines: u64) {
    std::fs::create_dir_all(dir.join("records")).expect("mkdir");
    let file = std::fs::File::create(dir.join("records/log.jsonl")).expect("create");
    let mut out = std::io::BufWriter::new(file);
    let systems = ["Jira", "GitHub", "Azure DevOps"];
    let kinds = ["comment_author", "updater", "mention"];
    let mut state = 7u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        state >> 33
    };
    writeln!(out, r#"{{"kind":"integration","name":"OPS <-> Fabrikam","status":"active","updated_at":"2026-01-01T08:00:00Z","ends":[{{"system":"Jira","project":"OPS","entity_types":["Bug"]}},{{"system":"Azure DevOps","project":"Fabrikam","entity_types":["Bug"]}}]}}"#).expect("w");
    writeln!(out, "not json").expect("w");
    let mut previous = String::new();
    for i in 0..lines {
        let p = next() % 2_000;
        let system = systems[(next() % 3) as usize];
        let day = next() % 540;
        let second = next() % 86_400;
        let at = chrono::DateTime::parse_from_rfc3339(AS_OF).expect("as of")
            - chrono::Duration::days(day as i64)
            - chrono::Duration::seconds(second as i64);
        let at = at.to_rfc3339();
        let line = if i % 10 == 9 {
            format!(
                r#"{{"kind":"sync","at":"{at}","status":"success","source":{{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-{p}"}},"target":{{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"{p}"}}}}"#
            )
        } else {
            format!(
                r#"{{"kind":"user","system":"{system}","at":"{at}","email":"p{p}@corp.example","username":"p{p}","display_name":"Person {p}","interaction":"{}","project":"P{}"}}"#,
                kinds[(next() % 3) as usize],
                p % 7
            )
        };
        writeln!(out, "{line}").expect("w");
        if i % 7 == 0 && !previous.is_empty() {
            writeln!(out, "{previous}").expect("w");
        }
        previous = line;
    }
    out.flush().expect("flush");
    std::fs::write(
        dir.join("tally.toml"),
        "[store]\npath = \"tally.db\"\n\n[[connector]]\nname = \"log\"\nkind = \"jsonl\"\npath = \"records\"\n",
    )
    .expect("config");
}

fn export_args(zip: &str) -> Vec<&str> {
    vec!["--config", "tally.toml", "--export", zip, "--as-of", AS_OF]
}

#[test]
fn a_collection_killed_at_several_points_then_finished_reports_like_a_clean_run() {
    let lines = 150_000;
    let clean = tempfile::tempdir().expect("dir");
    write_input(clean.path(), lines);
    let started = Instant::now();
    let out = tally(clean.path(), &export_args("clean.zip"));
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, expected) = read_zip(&clean.path().join("clean.zip"));

    let killed = tempfile::tempdir().expect("dir");
    write_input(killed.path(), lines);
    let mut hit_running = 0;
    // Fractions of a clean run: opening the store, early, middle and late collection.
    for fraction in [0.02, 0.15, 0.35, 0.6, 0.85] {
        let mut child = Command::new(BIN)
            .args(export_args("killed.zip"))
            .current_dir(killed.path())
            .env("HOME", killed.path())
            .env("XDG_CONFIG_HOME", killed.path().join(".config"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tally starts");
        std::thread::sleep(took.mul_f64(fraction));
        if child.try_wait().expect("wait").is_none() {
            hit_running += 1;
        }
        // SIGKILL: no destructor, no rollback, no flush runs.
        child.kill().expect("kill -9");
        child.wait().expect("reaped");
    }
    assert!(
        hit_running >= 3,
        "only {hit_running} kills landed while tally ran (clean run took {took:?})"
    );
    let _ = std::fs::remove_file(killed.path().join("killed.zip"));
    let out = tally(killed.path(), &export_args("killed.zip"));
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, got) = read_zip(&killed.path().join("killed.zip"));

    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, book) in &expected {
        let other = &got[name];
        assert_eq!(other.names, book.names, "{name}");
        for (sheet, rows) in &book.sheets {
            // Only the Summary's collection and writing times may differ.
            assert_eq!(
                without_moments(&other.sheets[sheet]),
                without_moments(rows),
                "{name} / {sheet}"
            );
        }
    }
    assert!(
        expected[SIX].summary("Total Unique Users") > 100.0,
        "the input has people to count"
    );
}
