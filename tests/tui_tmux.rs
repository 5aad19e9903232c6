//! The terminal UI end to end: the real binary in a real terminal (tmux), driven with
//! keys, read back from the screen, and its export read back with an xlsx reader.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;

const AS_OF: &str = "2026-11-01T00:00:00Z";

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A private tmux server (its own socket), killed when dropped.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tally"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {}", stderr(&out));
    }

    fn text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "tally", "-l", text]);
        assert!(
            out.status.success(),
            "send-keys -l {text}: {}",
            stderr(&out)
        );
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tally"]).stdout)
            .into_owned()
    }

    /// Polls the screen until `done` holds on a settled screen (two captures alike: a
    /// capture can land halfway through a redraw); fails with the last screen after `secs`.
    fn wait(&self, what: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                std::thread::sleep(Duration::from_millis(150));
                if self.screen() == screen {
                    return screen;
                }
                continue;
            }
            if start.elapsed() > Duration::from_secs(secs) {
                panic!("waited {secs}s for {what}; the screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The number on the line that carries `label` (the first after the label).
fn number_after(screen: &str, label: &str) -> u64 {
    let (line, rest) = screen
        .lines()
        .find_map(|l| l.split_once(label).map(|(_, rest)| (l, rest)))
        .unwrap_or_else(|| panic!("no {label} on screen:\n{screen}"));
    rest.split(|c: char| !c.is_ascii_digit())
        .find(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label}: {line}"))
}

#[test]
fn browse_filter_and_export_in_a_real_terminal() {
    if !tmux_available() {
        if std::env::var_os("CI").is_some() {
            panic!("tmux is missing; CI installs it with .ci/tui.sh");
        }
        eprintln!("skipped: tmux is not installed (CI installs it with .ci/tui.sh)");
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path();
    let tmux = Tmux {
        socket: home.join("tmux.sock"),
    };
    let zip = home.join("exports").join("from the ui.zip");
    std::fs::create_dir_all(home.join("exports")).expect("mkdir");
    // The shell line after tally keeps the pane open to show how it ended.
    let command = format!(
        "cd {home} && env HOME={home} XDG_CONFIG_HOME={home}/.config XDG_STATE_HOME={home}/state TERM=xterm-256color {bin} --demo --as-of {AS_OF}; echo TALLY-EXITED-$?; sleep 60",
        home = quote(home),
        bin = quote(Path::new(BIN)),
    );
    let out = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "tally",
        "-x",
        "120",
        "-y",
        "40",
        &command,
    ]);
    assert!(out.status.success(), "tmux new-session: {}", stderr(&out));

    // Launch on the demo data: collection starts by itself and the title says demo.
    let screen = tmux.wait("collection to finish", 180, |s| {
        s.contains("✓ collection done") && s.contains("computed")
    });
    assert!(screen.contains("DEMO DATA"), "{screen}");
    assert!(screen.contains("✓ done"), "{screen}");
    // The final rebuild may still be in flight when the footer turns: wait it out.
    let screen = tmux.wait("the final report", 60, |s| !s.contains("rebuilding report"));
    let dashboard_total = number_after(&screen, "Total Unique Users");
    assert!(dashboard_total > 0, "{screen}");

    // The Summary sheet's view agrees with the dashboard.
    tmux.keys(&["2"]);
    let screen = tmux.wait("the Summary view", 10, |s| s.contains("Window Start (UTC)"));
    assert_eq!(number_after(&screen, "Total Unique Users"), dashboard_total);

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
    let counts: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|t| t.parse().ok())
        .collect();
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
