//! The command line a user can trust (issue 10): destinations that are never damaged,
//! configuration errors at the key, refusals before anything is collected, and the
//! conventions people expect (`--as-of DATE`, `--export -`, `-q`, completions, man).
//! Every case runs the real binary; the workbooks are the demo data set's.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

const AS_OF: &str = "2026-11-01";

fn demo_export(dir: &Path, dest: &str) -> std::process::Output {
    tally(dir, &["--demo", "--export", dest, "--as-of", AS_OF])
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[cfg(unix)]
#[test]
fn a_fifo_destination_is_refused_with_status_2_and_left_alone() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("pipe.zip");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo")
        .success());
    let out = demo_export(dir.path(), "pipe.zip");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pipe.zip: is a FIFO"), "{err}");
    // Refused before collecting: nothing was collected.
    assert!(!err.contains("collecting"), "{err}");
    let meta = std::fs::symlink_metadata(&fifo).expect("still there");
    assert!(meta.file_type().is_fifo());
    assert_eq!(entries(dir.path()), ["pipe.zip"]);
}

#[cfg(unix)]
#[test]
fn dev_null_is_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().expect("dir");
    let out = demo_export(dir.path(), "/dev/null");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("character device"),
        "{}",
        stderr(&out)
    );
    let meta = std::fs::symlink_metadata("/dev/null").expect("/dev/null");
    assert!(meta.file_type().is_char_device());
}

#[cfg(unix)]
#[test]
fn a_symlink_is_followed_and_a_replaced_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    let real = dir.path().join("dated.zip");
    std::fs::write(&real, "old").expect("write");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    std::os::unix::fs::symlink("dated.zip", dir.path().join("link.zip")).expect("symlink");
    let out = demo_export(dir.path(), "link.zip");
    assert!(out.status.success(), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.path().join("link.zip")).expect("link");
    assert!(link.file_type().is_symlink(), "the link stays a link");
    let (names, _) = read_zip(&real);
    assert_eq!(names, [SIX, YEAR], "the target holds the export");
    let mode = std::fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_eq!(entries(dir.path()), ["dated.zip", "link.zip"]);
}

/// A full filesystem: a small tmpfs mounted for the test (root only, else skipped).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_keeps_the_old_file_and_says_one_thing() {
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=128k", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a small tmpfs (needs root and CAP_SYS_ADMIN)");
        return;
    }
    let target = mnt.join("Usage Reports.zip");
    std::fs::write(&target, "the previous export").expect("write");
    let out = demo_export(dir.path(), "small/");
    let old = std::fs::read_to_string(&target);
    let left = entries(&mnt);
    let _ = Command::new("umount").arg(&mnt).status();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(old.expect("still readable"), "the previous export");
    assert_eq!(left, ["Usage Reports.zip"], "no temporary left");
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    assert!(last.contains("No space left on device"), "{err}");
    assert!(!err.contains("ZipWriter"), "one reason only: {err}");
}

#[test]
fn a_stale_temporary_of_a_killed_export_is_cleaned_up() {
    let dir = tempfile::tempdir().expect("dir");
    // pid 4194304 is above Linux's largest pid: that export is surely gone.
    let stale = dir.path().join(".Usage Reports.zip.tmp-4194304-0");
    std::fs::write(&stale, vec![0u8; 4096]).expect("write");
    let out = demo_export(dir.path(), ".");
    assert!(out.status.success(), "{}", stderr(&out));
    if Path::new("/proc/self").exists() {
        assert_eq!(entries(dir.path()), ["Usage Reports.zip"]);
    }
}

#[test]
fn export_dash_writes_the_zip_to_standard_output() {
    let dir = tempfile::tempdir().expect("dir");
    let out = demo_export(dir.path(), "-");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(&out.stdout[..4], b"PK\x03\x04", "a zip on stdout");
    std::fs::write(dir.path().join("from-stdout.zip"), &out.stdout).expect("write");
    let (names, books) = read_zip(&dir.path().join("from-stdout.zip"));
    assert_eq!(names, [SIX, YEAR]);
    assert!(books[SIX].summary("Total Unique Users") > 0.0);
    // Progress stayed on stderr, and no file called `-` appeared.
    assert!(stderr(&out).contains("collecting"), "{}", stderr(&out));
    assert_eq!(entries(dir.path()), ["from-stdout.zip"]);
}

#[test]
fn as_of_takes_a_date_and_quiet_silences_progress() {
    let dir = tempfile::tempdir().expect("dir");
    let quiet = tally(
        dir.path(),
        &["--demo", "-q", "--export", "q.zip", "--as-of", "2026-11-01"],
    );
    assert!(quiet.status.success(), "{}", stderr(&quiet));
    let err = stderr(&quiet);
    assert!(
        !err.contains("collecting") && !err.contains("wrote"),
        "{err}"
    );
    let exact = tally(
        dir.path(),
        &[
            "--demo",
            "--export",
            "e.zip",
            "--as-of",
            "2026-11-01T00:00:00Z",
        ],
    );
    assert!(exact.status.success(), "{}", stderr(&exact));
    let err = stderr(&exact);
    assert!(err.contains("wrote e.zip"), "{err}");
    // Counts with separators and plurals.
    assert!(err.contains("demo: done, 238,755 records"), "{err}");
    let (_, q) = read_zip(&dir.path().join("q.zip"));
    let (_, e) = read_zip(&dir.path().join("e.zip"));
    assert_same_but_moments(&q[SIX], &e[SIX], "a date means midnight UTC");
}

#[test]
fn a_configuration_without_connectors_is_refused_for_export() {
    let dir = tempfile::tempdir().expect("dir");
    for text in ["", "[store]\npath = \"t.db\"\n"] {
        std::fs::write(dir.path().join("tally.toml"), text).expect("write");
        let out = tally(dir.path(), &["--export", "out.zip"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("no [[connector]]") && err.contains("--demo"),
            "{err}"
        );
        assert!(!dir.path().join("out.zip").exists());
    }
}

#[test]
fn an_unset_token_env_is_a_configuration_error_before_collecting() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("tally.toml"),
        "[[connector]]\nname = \"redmine-main\"\nkind = \"redmine\"\nurl = \"https://redmine.example.org\"\ntoken_env = \"TALLY_TEST_UNSET_REDMINE_KEY\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["--export", "out.zip"])
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join(".config"))
        .env_remove("TALLY_TEST_UNSET_REDMINE_KEY")
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("tally.toml:5:13: connector[1].token_env: environment variable TALLY_TEST_UNSET_REDMINE_KEY (the secret of connector `redmine-main`) is not set or empty"),
        "{err}"
    );
    assert!(!err.contains("collecting"), "{err}");
    assert!(!dir.path().join("out.zip").exists());
    assert!(!dir.path().join("tally.db").exists(), "nothing collected");
}

#[test]
fn after_a_failed_connector_the_message_says_what_the_file_holds() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("ok.jsonl"),
        r#"{"kind":"user","system":"Jira","at":"2026-10-01T10:00:00Z","username":"ann","interaction":"updater"}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("tally.toml"),
        "[store]\npath = \"tally.db\"\n\n[[connector]]\nname = \"ok\"\nkind = \"jsonl\"\npath = \"ok.jsonl\"\n\n[[connector]]\nname = \"gone\"\nkind = \"jsonl\"\npath = \"gone.jsonl\"\n",
    )
    .expect("write");
    let out = tally(dir.path(), &["--export", "out.zip", "--as-of", AS_OF]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("tally: wrote out.zip, but 1 connector failed (gone: "),
        "{last}"
    );
    assert!(last.contains("no earlier collection is recorded"), "{last}");

    // A connector that saved progress in an earlier run: the file holds that.
    {
        let mut store =
            tally_core::store::Store::open(&dir.path().join("tally.db")).expect("store");
        let mut writer = store.writer().expect("writer");
        let mut batch = writer.begin().expect("batch");
        batch.save_cursor("gone", "earlier").expect("cursor");
        batch.commit().expect("commit");
    }
    let out = tally(dir.path(), &["--export", "out.zip", "--as-of", AS_OF]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let last = err.trim().lines().last().unwrap_or_default().to_owned();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        last.contains(&format!(
            "gone's records from earlier collections, last collected at {today}"
        )),
        "{last}"
    );
}

#[test]
fn serve_help_lists_only_what_applies_to_serve() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tally(dir.path(), &["serve", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--listen") && help.contains("--config"),
        "{help}"
    );
    assert!(
        !help.contains("--demo") && !help.contains("--as-of"),
        "{help}"
    );
    assert!(!help.contains("--export"), "{help}");
    let out = tally(dir.path(), &["serve", "--demo"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tally(dir.path(), &["--demo", "--as-of", "2026-11-01", "serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--as-of and --demo do not apply to `tally serve`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    let dir = tempfile::tempdir().expect("dir");
    for shell in ["bash", "zsh", "fish"] {
        let out = tally(dir.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("export") && script.contains("serve"),
            "{shell}"
        );
    }
    let out = tally(dir.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let out = tally(dir.path(), &["man"]);
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH tally 1"), "{page}");
    assert!(page.contains("\\-\\-export"), "{page}");
}
