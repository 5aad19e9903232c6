//! The terminal UI end to end: the real binary in a real terminal (tmux), driven with
//! keys, read back from the screen, and its export read back with an xlsx reader.

mod common;

use std::path::Path;

use common::tmux::*;
use common::*;

const AS_OF: &str = "2026-11-01T00:00:00Z";

/// The number on the line that carries `label` (the first after the label; the screen
/// writes thousands separators).
fn number_after(screen: &str, label: &str) -> u64 {
    let (line, rest) = screen
        .lines()
        .find_map(|l| l.split_once(label).map(|(_, rest)| (l, rest)))
        .unwrap_or_else(|| panic!("no {label} on screen:\n{screen}"));
    rest.split(|c: char| !(c.is_ascii_digit() || c == ','))
        .map(|t| t.trim_matches(','))
        .find(|t| !t.is_empty())
        .and_then(|t| t.replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no number after {label}: {line}"))
}

/// The SGR parameters in `raw` that set a colour (30–37, 38, 40–47, 48, 90–97, 100–107);
/// 39 and 49 (back to the default) are not colours.
fn colour_codes(raw: &str) -> Vec<String> {
    let mut found = Vec::new();
    for part in raw.split("\x1b[").skip(1) {
        let Some(end) = part.find('m') else { continue };
        let params = &part[..end];
        if !params.chars().all(|c| c.is_ascii_digit() || c == ';') {
            continue;
        }
        for p in params.split(';').filter_map(|p| p.parse::<u32>().ok()) {
            if matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107) {
                found.push(params.to_owned());
            }
        }
    }
    found
}

/// tally on the demo data in a private tmux server, `width`×`height`, `env` added.
fn start(home: &Path, width: u16, height: u16, env: &str) -> Tmux {
    let tmux = Tmux {
        socket: home.join("tmux.sock"),
    };
    let command = format!(
        "cd {home} && env HOME={home} XDG_CONFIG_HOME={home}/.config XDG_STATE_HOME={home}/state TERM=xterm-256color {env} {bin} --demo --as-of {AS_OF}; echo TALLY-EXITED-$?; sleep 60",
        home = quote(home),
        bin = quote(Path::new(BIN)),
    );
    let (w, h) = (width.to_string(), height.to_string());
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tally",
        "-x",
        &w,
        "-y",
        &h,
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {}", stderr(&out));
    tmux
}

#[test]
fn a_small_terminal_shows_every_view_without_colour() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let tmux = start(dir.path(), 80, 24, "NO_COLOR=1");
    let screen = tmux.wait("collection to finish", 180, |s| {
        s.contains("✓ collection done") && !s.contains("rebuilding report")
    });
    let total = number_after(&screen, "Total Unique Users");
    assert!(total >= 1000, "{screen}");
    assert!(
        screen.contains(&format!("{},", total / 1000)),
        "thousands separators: {screen}"
    );
    // Every tab, by its number: each view draws something of its own.
    for (key, marker) in [
        ("2", "Window Start (UTC)"),
        ("3", "All Systems"),
        ("6", "Synced Data Count"),
        ("7", "Selected user"),
        ("8", "Users by email domain"),
        ("9", "Access ·"),
        ("0", "Dormant Seats ·"),
    ] {
        tmux.keys(&[key]);
        let screen = tmux.wait(marker, 10, |s| s.contains(marker));
        assert!(
            screen.lines().all(|l| l.chars().count() <= 80),
            "nothing drawn past the edge:\n{screen}"
        );
    }
    // NO_COLOR: the pane holds no colour escape (bold/reverse/dim only).
    let raw = String::from_utf8_lossy(
        &tmux
            .run(&["capture-pane", "-e", "-p", "-t", "tally"])
            .stdout,
    )
    .into_owned();
    let colours = colour_codes(&raw);
    assert!(
        colours.is_empty(),
        "colour {colours:?} with NO_COLOR:\n{raw:?}"
    );
    tmux.keys(&["q"]);
    let screen = tmux.wait("tally to exit", 20, |s| s.contains("TALLY-EXITED-"));
    assert!(screen.contains("TALLY-EXITED-0"), "{screen}");
}

#[test]
fn browse_filter_and_export_in_a_real_terminal() {
    if !have_tmux() {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path();
    let zip = home.join("exports").join("from the ui.zip");
    std::fs::create_dir_all(home.join("exports")).expect("mkdir");
    let tmux = start(home, 120, 40, "");

    // Launch on the demo data: collection starts by itself and the title says demo.
    let screen = tmux.wait("collection to finish", 180, |s| {
        s.contains("✓ collection done") && s.contains("computed")
    });
    assert!(screen.contains("DEMO DATA"), "{screen}");
    assert!(screen.contains("✓ done"), "{screen}");
    // The title says, in short, where the numbers come from.
    let title = screen.lines().next().unwrap_or_default();
    assert!(
        title.contains(&format!(
            "tally {} · DEMO DATA · 1 connector",
            env!("CARGO_PKG_VERSION")
        )),
        "{title}"
    );
    // Without NO_COLOR the theme colours the screen (so the NO_COLOR test means something).
    let raw = String::from_utf8_lossy(
        &tmux
            .run(&["capture-pane", "-e", "-p", "-t", "tally"])
            .stdout,
    )
    .into_owned();
    assert!(!colour_codes(&raw).is_empty(), "no colour:\n{raw:?}");
    // The final rebuild may still be in flight when the footer turns: wait it out.
    let screen = tmux.wait("the final report", 60, |s| !s.contains("rebuilding report"));
    let dashboard_total = number_after(&screen, "Total Unique Users");
    assert!(dashboard_total > 0, "{screen}");

    // The Summary sheet's view agrees with the dashboard.
    tmux.keys(&["2"]);
    let screen = tmux.wait("the Summary view", 10, |s| s.contains("Window Start (UTC)"));
    assert_eq!(number_after(&screen, "Total Unique Users"), dashboard_total);
    // Below the counts, as in the workbook: the connector, its last collection, demo data.
    assert!(
        screen
            .lines()
            .any(|l| l.contains("│demo ") && l.contains(" ok ")),
        "{screen}"
    );
    assert!(screen.contains("Demo data"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("Tally Version") && l.contains(env!("CARGO_PKG_VERSION"))),
        "{screen}"
    );

    // Find a user by typing part of an email. Sorting by Email puts users with one first.
    tmux.keys(&["7"]);
    tmux.wait("the Detailed User Report", 10, |s| {
        s.contains("Selected user")
    });
    tmux.keys(&["s"]);
    let screen = tmux.wait("the sort by Email", 10, |s| s.contains("sorted by Email"));
    let email = screen
        .split(|c: char| c.is_whitespace() || c == '│')
        .find(|t| t.contains('@') && t.contains('.') && !t.contains('…'))
        .unwrap_or_else(|| panic!("no email on screen:\n{screen}"))
        .to_owned();
    let part = &email[..email.find('@').expect("an email")];
    tmux.keys(&["/"]);
    tmux.text(part);
    let screen = tmux.wait("the filter to apply", 10, |s| {
        s.contains(&format!("Filter: {part}")) && s.contains("match")
    });
    assert!(screen.contains(&email), "the user is listed:\n{screen}");
    let line = screen
        .lines()
        .find(|l| l.contains("users") && l.contains("match"))
        .expect("match count");
    let counts = numbers(line);
    assert!(
        counts.len() >= 2 && counts[counts.len() - 2] < counts[counts.len() - 1],
        "the filter narrows the list: {line}"
    );
    tmux.keys(&["Enter"]);

    // Export from the UI to a path typed into the prompt.
    tmux.keys(&["e"]);
    tmux.wait("the export prompt", 10, |s| s.contains("Usage Reports.zip"));
    tmux.keys(&["C-u"]);
    tmux.text(&zip.display().to_string());
    tmux.keys(&["Enter"]);
    let screen = tmux.wait("the export to finish", 120, |s| {
        s.contains("Exported to") || s.contains("Export failed")
    });
    assert!(screen.contains("Exported to"), "{screen}");
    assert!(zip.is_file(), "the zip exists at {}", zip.display());

    let (_, books) = read_zip(&zip);
    assert_eq!(
        books[SIX].summary("Total Unique Users") as u64,
        dashboard_total,
        "the screen and the zip's Summary agree"
    );
    // The file exported from the UI says where its numbers come from too.
    let summary = books[SIX].sheet("Summary");
    let first = |label: &str| {
        summary
            .iter()
            .find(|r| text(&r[0]) == label)
            .unwrap_or_else(|| panic!("no {label} in {summary:?}"))
    };
    assert_eq!(text(&first("demo")[2]), "ok");
    assert!(text(&first("Demo data")[1]).starts_with("Yes"));
    assert_eq!(text(&first("Tally Version")[1]), env!("CARGO_PKG_VERSION"));

    // The other window, on the dashboard, agrees with the other workbook.
    tmux.keys(&["w", "1"]);
    let screen = tmux.wait("the 1-year window", 10, |s| {
        s.contains("Last 1 Year") && s.contains("Connectors")
    });
    assert_eq!(
        number_after(&screen, "Total Unique Users"),
        books[YEAR].summary("Total Unique Users") as u64
    );

    // q quits cleanly: exit status 0 and the shell's own screen back.
    tmux.keys(&["q"]);
    let screen = tmux.wait("tally to exit", 20, |s| s.contains("TALLY-EXITED-"));
    assert!(screen.contains("TALLY-EXITED-0"), "{screen}");
    assert!(
        !screen.contains("Connectors"),
        "left the alternate screen:\n{screen}"
    );
    let log = std::fs::read_to_string(home.join("state/tally/tally.log")).expect("log file");
    assert!(
        log.contains("exported"),
        "the log file records the export:\n{log}"
    );
}
