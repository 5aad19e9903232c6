//! A private tmux server for the terminal UI's end-to-end tests: the real binary in a real
//! terminal, driven with keys and read back from the screen.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::stderr;

/// A private tmux server (its own socket), killed when dropped.
pub struct Tmux {
    pub socket: PathBuf,
}

impl Tmux {
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "tally"];
        args.extend_from_slice(keys);
        let out = self.run(&args);
        assert!(out.status.success(), "send-keys {keys:?}: {}", stderr(&out));
    }

    pub fn text(&self, text: &str) {
        let out = self.run(&["send-keys", "-t", "tally", "-l", text]);
        assert!(
            out.status.success(),
            "send-keys -l {text}: {}",
            stderr(&out)
        );
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "tally"]).stdout)
            .into_owned()
    }

    /// Polls the screen until `done` holds on a settled screen (two captures alike: a
    /// capture can land halfway through a redraw); fails with the last screen after `secs`.
    pub fn wait(&self, what: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
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

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `false` (and a note) when tmux is missing outside CI.
pub fn have_tmux() -> bool {
    if tmux_available() {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("tmux is missing; CI installs it with .ci/tui.sh");
    }
    eprintln!("skipped: tmux is not installed (CI installs it with .ci/tui.sh)");
    false
}

/// `p` quoted for a shell command line.
pub fn quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// Numbers in `line` as the screen writes them (`1,234` is one number).
pub fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !(c.is_ascii_digit() || c == ','))
        .map(|t| t.trim_matches(',').replace(',', ""))
        .filter_map(|t| t.parse().ok())
        .collect()
}
