//! The `jsonl` connector: SPEC §2 records, one JSON object a line, from a file or a
//! directory of `*.jsonl` files. Every installation has it, so any system can be fed to
//! tally as a file.
//!
//! A bad line (not JSON, a required field missing, an unknown `kind`) is reported with
//! its file and line number and skipped; the lines around it are kept. A FIFO or other
//! special file is never opened (it could block forever); in a directory, entries that
//! are not read (special files, broken links, `*.JSONL` in another case) are reported.

mod parse;

pub use parse::{parse_line, parse_line_into};

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tally_model::{Connector, ConnectorContext, ConnectorError, RecordBlock};

pub const KIND: &str = "jsonl";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "SPEC records from a .jsonl file or directory";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_model::Connector>, tally_model::ConnectorError> {
        build(ctx.name, settings, ctx.base_dir)
    }
}

/// Records sent to the store at once.
const BATCH: usize = 2_000;

/// `[[connector]] kind = "jsonl"` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// A `.jsonl` file, or a directory whose `*.jsonl` files are read in name order.
    /// Relative paths are relative to the configuration file.
    pub path: PathBuf,
    /// Read `path` even when it is a FIFO (named pipe), for records streamed by another
    /// process. Off by default: a FIFO nobody writes to would block collection forever.
    #[serde(default)]
    pub allow_fifo: bool,
}

pub struct JsonlConnector {
    name: String,
    path: PathBuf,
    allow_fifo: bool,
}

/// Builds the connector; `base_dir` resolves a relative `path`.
pub fn build(
    name: &str,
    settings: Settings,
    base_dir: &Path,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    let mut connector = JsonlConnector::new(name, base_dir.join(settings.path));
    connector.allow_fifo = settings.allow_fifo;
    Ok(Arc::new(connector))
}

impl JsonlConnector {
    pub fn new(name: &str, path: PathBuf) -> Self {
        JsonlConnector {
            name: name.to_owned(),
            path,
            allow_fifo: false,
        }
    }

    /// The files to read: the path itself, or the directory's `*.jsonl` sorted by name;
    /// plus a warning for each directory entry that is not read but looks meant to be.
    fn files(&self) -> Result<(Vec<PathBuf>, Vec<String>), ConnectorError> {
        let io = |source| ConnectorError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(io)?;
        if !meta.is_dir() {
            let allowed_fifo = {
                use std::os::unix::fs::FileTypeExt;
                self.allow_fifo && meta.file_type().is_fifo()
            };
            if let Some(what) = special(&meta).filter(|_| !allowed_fifo) {
                return Err(ConnectorError::Source(format!(
                    "{}: is {what}, not a file: give a .jsonl file or a directory of them",
                    self.path.display()
                )));
            }
            return Ok((vec![self.path.clone()], Vec::new()));
        }
        let mut files = Vec::new();
        let mut warnings = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(io)? {
            let p = entry.map_err(io)?.path();
            let Some(ext) = p.extension() else { continue };
            if !ext.eq_ignore_ascii_case("jsonl") {
                continue;
            }
            let shown = p.display();
            match std::fs::metadata(&p) {
                Err(e) => warnings.push(format!("{shown}: not read: {e}")),
                Ok(m) if m.is_dir() => {}
                Ok(m) => match special(&m) {
                    Some(what) => warnings.push(format!("{shown}: not read: it is {what}")),
                    None if ext != "jsonl" => warnings.push(format!(
                        "{shown}: not read: only names ending in lower-case \".jsonl\" are read; rename it"
                    )),
                    None => files.push(p),
                },
            }
        }
        files.sort();
        warnings.sort();
        Ok((files, warnings))
    }
}

/// What a special (not regular) file is, in words; `None` for a regular file.
fn special(meta: &std::fs::Metadata) -> Option<&'static str> {
    if meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
    }
    Some("not a regular file")
}

/// Calls `each` with every line of `reader` (without its `\n`) and the bytes it took,
/// its end included; `io` names the file in a read error. A line is handed out of the
/// reader's buffer where it lies whole in it, else gathered in `spill`: nearly every line
/// is never copied.
fn for_each_line(
    reader: &mut impl BufRead,
    spill: &mut Vec<u8>,
    io: impl Fn(std::io::Error) -> ConnectorError,
    mut each: impl FnMut(&[u8], u64) -> Result<(), ConnectorError>,
) -> Result<(), ConnectorError> {
    spill.clear();
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if buf.is_empty() {
            break;
        }
        let taken = match memchr::memchr(b'\n', buf) {
            Some(i) if spill.is_empty() => {
                each(&buf[..i], i as u64 + 1)?;
                i + 1
            }
            Some(i) => {
                spill.extend_from_slice(&buf[..i]);
                each(spill, spill.len() as u64 + 1)?;
                spill.clear();
                i + 1
            }
            None => {
                spill.extend_from_slice(buf);
                buf.len()
            }
        };
        reader.consume(taken);
    }
    if spill.is_empty() {
        return Ok(());
    }
    each(spill, spill.len() as u64)
}

/// Reads every file, sending blocks of records through `ctx` from a blocking thread.
fn read_all(
    files: Vec<PathBuf>,
    ctx: ConnectorContext,
    handle: tokio::runtime::Handle,
) -> Result<(), ConnectorError> {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut done_bytes = 0u64;
    // A block's texts are about half its lines' bytes; room for that saves the regrowth.
    let new_block = || RecordBlock::with_capacity(BATCH, BATCH * 128);
    let mut block = new_block();
    let mut spill = Vec::new();
    for file in files {
        let io = |source| ConnectorError::Io {
            path: file.clone(),
            source,
        };
        let mut reader =
            std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&file).map_err(io)?);
        let mut number = 0u64;
        for_each_line(&mut reader, &mut spill, io, |line, bytes| {
            number += 1;
            done_bytes += bytes;
            let mut text = line.trim_ascii();
            if number == 1 {
                // A UTF-8 byte order mark, as some Windows tools write.
                text = text
                    .strip_prefix(b"\xEF\xBB\xBF")
                    .unwrap_or(text)
                    .trim_ascii();
            }
            if text.is_empty() {
                return Ok(());
            }
            if let Err(reason) = parse_line_into(text, &mut block) {
                let message = format!("{}:{number}: {reason}", file.display());
                handle.block_on(ctx.skipped(message))?;
            }
            if block.len() >= BATCH {
                let full = std::mem::replace(&mut block, new_block());
                handle.block_on(async {
                    ctx.send_block(full).await?;
                    ctx.progress(done_bytes, Some(total)).await
                })?;
            }
            Ok(())
        })?;
    }
    handle.block_on(async {
        ctx.send_block(block).await?;
        ctx.progress(total, Some(total)).await
    })
}

#[async_trait]
impl Connector for JsonlConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let (files, warnings) = self.files()?;
        for w in warnings {
            ctx.warn(w).await?;
        }
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || read_all(files, ctx, handle))
            .await
            .map_err(|e| ConnectorError::Source(format!("reader stopped: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_model::connector::CancellationToken;
    use tally_model::{Emit, Record};
    use tokio::sync::mpsc;

    async fn run(path: PathBuf) -> (Result<(), ConnectorError>, Vec<Record>, Vec<String>) {
        let (tx, mut rx) = mpsc::channel(16);
        let ctx = ConnectorContext::new(0, "t", None, tx, CancellationToken::new());
        let c = JsonlConnector::new("t", path);
        let task = tokio::spawn(async move { c.run(ctx).await });
        let mut records = Vec::new();
        let mut skipped = Vec::new();
        while let Some(env) = rx.recv().await {
            match env.emit {
                Emit::Record(r) => records.push(r),
                Emit::Batch(rs) => records.extend(rs),
                Emit::Block(b) => records.extend(b.to_records()),
                Emit::Skipped(m) | Emit::Warning(m) => skipped.push(m),
                _ => {}
            }
        }
        (task.await.expect("join"), records, skipped)
    }

    const GOOD: &str = r#"{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","username":"a","interaction":"updater"}"#;

    #[tokio::test]
    async fn bad_lines_are_reported_with_file_and_line_and_the_rest_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("log.jsonl");
        let text = format!(
            "{GOOD}\nnot json\n\n{}\n{GOOD}\n{}\n",
            r#"{"kind":"user","system":"Jira","interaction":"updater"}"#, r#"{"kind":"bogus"}"#
        );
        std::fs::write(&file, text).expect("write");
        let (result, records, skipped) = run(file.clone()).await;
        result.expect("run ok");
        assert_eq!(records.len(), 2);
        assert_eq!(skipped.len(), 3, "{skipped:?}");
        let shown = file.display().to_string();
        assert!(
            skipped[0].starts_with(&format!("{shown}:2: ")),
            "{}",
            skipped[0]
        );
        assert!(skipped[1].starts_with(&format!("{shown}:4: ")));
        assert!(
            skipped[1].ends_with(r#"missing field "at""#),
            "{}",
            skipped[1]
        );
        assert!(skipped[2].starts_with(&format!("{shown}:6: ")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn files_of_several_mib_keep_their_order_and_line_numbers() {
        let dir = tempfile::tempdir().expect("dir");
        // Over three blocks in each of two files, a bad line now and then, CRLF ends.
        let mut expected_bad = Vec::new();
        let mut expected_users = Vec::new();
        for name in ["a.jsonl", "b.jsonl"] {
            let mut text = String::new();
            let mut n = 0u64;
            while text.len() < 3 * (1 << 20) + 1000 {
                n += 1;
                if n.is_multiple_of(9_999) {
                    text.push_str("{broken\r\n");
                    expected_bad.push(format!("{name}:{n}: "));
                } else {
                    let user = format!("{name}-{n}");
                    text.push_str(&format!(
                        r#"{{"kind":"user","system":"Jira","at":"2026-10-01T12:00:00Z","username":"{user}","interaction":"updater"}}"#
                    ));
                    text.push_str("\r\n");
                    expected_users.push(user);
                }
            }
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let (result, records, skipped) = run(dir.path().to_path_buf()).await;
        result.expect("ok");
        let users: Vec<String> = records
            .iter()
            .map(|r| match r {
                Record::User(u) => u.username.clone().unwrap_or_default(),
                _ => String::new(),
            })
            .collect();
        assert!(users == expected_users, "records out of order or lost");
        assert_eq!(skipped.len(), expected_bad.len());
        for (got, want) in skipped.iter().zip(&expected_bad) {
            let shown = format!("{}/", dir.path().display());
            assert!(
                got.strip_prefix(&shown)
                    .is_some_and(|g| g.starts_with(want)),
                "{got} / {want}"
            );
        }
    }

    #[tokio::test]
    async fn a_directory_reads_its_jsonl_files_only() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("b.jsonl"), format!("{GOOD}\n")).expect("w");
        std::fs::write(dir.path().join("a.jsonl"), format!("{GOOD}\n{GOOD}")).expect("w");
        std::fs::write(dir.path().join("notes.txt"), "not json\n").expect("w");
        let (result, records, skipped) = run(dir.path().to_path_buf()).await;
        result.expect("ok");
        assert_eq!((records.len(), skipped.len()), (3, 0));
    }

    #[tokio::test]
    async fn a_missing_path_fails_naming_it() {
        let (result, _, _) = run(PathBuf::from("/nonexistent/x.jsonl")).await;
        let err = result.expect_err("must fail").to_string();
        assert!(err.contains("/nonexistent/x.jsonl"), "{err}");
    }

    #[cfg(unix)]
    fn mkfifo(path: &Path) {
        let ok = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo runs");
        assert!(ok.success());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_fifo_as_path_is_refused_by_name_without_waiting_for_a_writer() {
        let dir = tempfile::tempdir().expect("dir");
        let fifo = dir.path().join("pipe.jsonl");
        mkfifo(&fifo);
        let run = tokio::time::timeout(std::time::Duration::from_secs(10), run(fifo.clone()));
        let (result, _, _) = run.await.expect("does not hang");
        let err = result.expect_err("refused").to_string();
        assert!(
            err.contains(&fifo.display().to_string()) && err.contains("FIFO"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn entries_of_a_directory_that_are_not_read_are_reported_by_name() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("a.jsonl"), format!("\u{feff}{GOOD}\n")).expect("w");
        std::fs::write(dir.path().join("B.JSONL"), format!("{GOOD}\n")).expect("w");
        mkfifo(&dir.path().join("c.jsonl"));
        std::os::unix::fs::symlink("loop.jsonl", dir.path().join("loop.jsonl")).expect("ln");
        let (result, records, reported) = run(dir.path().to_path_buf()).await;
        result.expect("ok");
        assert_eq!(
            records.len(),
            1,
            "a.jsonl, its byte order mark accepted: {reported:?}"
        );
        assert_eq!(reported.len(), 3, "{reported:?}");
        for (name, why) in [
            ("B.JSONL", "lower-case"),
            ("c.jsonl", "FIFO"),
            ("loop.jsonl", "not read"),
        ] {
            assert!(
                reported.iter().any(|m| m.contains(name) && m.contains(why)),
                "{name}: {reported:?}"
            );
        }
    }
}
