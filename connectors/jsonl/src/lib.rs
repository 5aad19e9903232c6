//! The `jsonl` connector: SPEC §2 records, one JSON object a line, from a file or a
//! directory of `*.jsonl` files. Every installation has it, so any system can be fed to
//! tally as a file.
//!
//! A bad line (not JSON, a required field missing, an unknown `kind`) is reported with
//! its file and line number and skipped; the lines around it are kept.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use tally_core::{Connector, ConnectorContext, ConnectorError, Record};

pub const KIND: &str = "jsonl";

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_core::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "SPEC records from a .jsonl file or directory";

    fn build(
        settings: Settings,
        ctx: &tally_core::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_core::Connector>, tally_core::ConnectorError> {
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
}

pub struct JsonlConnector {
    name: String,
    path: PathBuf,
}

/// Builds the connector; `base_dir` resolves a relative `path`.
pub fn build(
    name: &str,
    settings: Settings,
    base_dir: &Path,
) -> Result<Arc<dyn Connector>, ConnectorError> {
    Ok(Arc::new(JsonlConnector::new(
        name,
        base_dir.join(settings.path),
    )))
}

impl JsonlConnector {
    pub fn new(name: &str, path: PathBuf) -> Self {
        JsonlConnector {
            name: name.to_owned(),
            path,
        }
    }

    /// The files to read: the path itself, or the directory's `*.jsonl` sorted by name.
    fn files(&self) -> Result<Vec<PathBuf>, ConnectorError> {
        let io = |source| ConnectorError::Io {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(io)?;
        if !meta.is_dir() {
            return Ok(vec![self.path.clone()]);
        }
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.path).map_err(io)? {
            let p = entry.map_err(io)?.path();
            if p.extension().is_some_and(|e| e == "jsonl") && p.is_file() {
                files.push(p);
            }
        }
        files.sort();
        Ok(files)
    }
}

/// A serde_json message without its own "at line 1 column N" (each line is parsed on its
/// own, so that position would mislead); the column is kept.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    format!("{message} (column {})", e.column())
}

/// Reads every file, sending batches through `ctx` from a blocking thread.
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
    let mut batch = Vec::with_capacity(BATCH);
    let mut line = Vec::new();
    for file in files {
        let io = |source| ConnectorError::Io {
            path: file.clone(),
            source,
        };
        let mut reader =
            std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&file).map_err(io)?);
        let mut number = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(io)?;
            if n == 0 {
                break;
            }
            number += 1;
            done_bytes += n as u64;
            let text = line.trim_ascii();
            if text.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Record>(text) {
                Ok(record) => batch.push(record),
                Err(e) => {
                    let message = format!("{}:{number}: {}", file.display(), describe(&e));
                    handle.block_on(ctx.skipped(message))?;
                }
            }
            if batch.len() >= BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                handle.block_on(async {
                    ctx.send_batch(full).await?;
                    ctx.progress(done_bytes, Some(total)).await
                })?;
            }
        }
    }
    handle.block_on(async {
        ctx.send_batch(batch).await?;
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
        let files = self.files()?;
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || read_all(files, ctx, handle))
            .await
            .map_err(|e| ConnectorError::Source(format!("reader stopped: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tally_core::connector::CancellationToken;
    use tally_core::Emit;
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
                Emit::Skipped(m) => skipped.push(m),
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
        assert!(skipped[1].contains("missing field `at`"), "{}", skipped[1]);
        assert!(skipped[2].starts_with(&format!("{shown}:6: ")));
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
}
