//! Where tally writes a file, and how (SPEC §5): one place for every writer (`--export`,
//! `--insights`, the terminal UI's `e`, JSON files).
//!
//! The rules, and why:
//! - Only regular files are replaced. A device, FIFO or socket is refused and left
//!   untouched: renaming a file over `/dev/null` (as root) breaks the machine, and
//!   opening a FIFO with no reader hangs.
//! - A symbolic link is followed: the file it points to is replaced and the link stays,
//!   as an administrator who linked `latest.zip` to a dated file expects.
//! - The new content goes to `.<name>.tmp-<pid>-<n>` next to the file, is fsynced and
//!   renamed into place, so a failed write (full disk, read-only directory) leaves the
//!   old file as it was and no temporary file behind. A replaced file keeps its
//!   permissions.
//! - Temporaries of that naming left by a process that is gone (killed between writing
//!   and renaming) are removed before the next write to the same file.
//! - The first I/O error is the one reported, once: after it, writes are absorbed so
//!   that a library finalising its output on drop (the zip writer) does not print a
//!   second, garbled reason to stderr.

use std::cell::RefCell;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a destination cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    /// An existing special file: refused and left untouched.
    #[error("{path}: is {what}, not a regular file; tally only replaces regular files (name a file or a directory instead)")]
    Special { path: PathBuf, what: &'static str },
    /// The path cannot name a file tally could write (missing directory, a parent that
    /// is a file, a symlink loop, no file name).
    #[error("{path}: {reason}")]
    BadPath { path: PathBuf, reason: String },
    /// Writing failed; the old file, if any, is intact.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DestinationError {
    /// A mistake in the path the user gave (status 2 at the command line), rather than
    /// a failure while writing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            DestinationError::Special { .. } | DestinationError::BadPath { .. }
        )
    }

    fn io(path: &Path, source: io::Error) -> Self {
        DestinationError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    fn bad(path: &Path, reason: impl Into<String>) -> Self {
        DestinationError::BadPath {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

impl From<DestinationError> for crate::export::ExportError {
    fn from(e: DestinationError) -> Self {
        use crate::export::ExportError;
        match e {
            DestinationError::Io { path, source } => ExportError::Io { path, source },
            DestinationError::BadPath { path, reason } => ExportError::Io {
                path,
                source: io::Error::other(reason),
            },
            special @ DestinationError::Special { .. } => ExportError::Destination(special),
        }
    }
}

/// How many symbolic links are followed before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// Whether `dest` asks for JSON rather than a workbook: a path (not a directory) ending
/// in `.json`, in any case.
pub fn wants_json(dest: &Path) -> bool {
    !dest.is_dir()
        && dest
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

/// `dest` as the regular file to write: an existing directory gets `default_name`
/// inside it, a symbolic link is followed to the file it names, and a special file is
/// refused. A path ending in a separator must be an existing directory; otherwise the
/// file's directory must exist. Nothing is created or changed.
pub fn resolve(dest: &Path, default_name: &str) -> Result<PathBuf, DestinationError> {
    if dest.as_os_str().is_empty() {
        return Err(DestinationError::bad(dest, "empty path"));
    }
    if dest.is_dir() {
        return resolve_file(&dest.join(default_name));
    }
    // `out/` that does not exist was meant as a directory; writing a file called `out`
    // would surprise.
    let text = dest.as_os_str().to_string_lossy();
    if text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR) {
        return Err(DestinationError::bad(dest, "directory does not exist"));
    }
    resolve_file(dest)
}

/// `file` with symbolic links followed, checked to be a regular file or nothing yet in
/// an existing directory.
pub fn resolve_file(file: &Path) -> Result<PathBuf, DestinationError> {
    let mut current = file.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current).map_err(|e| DestinationError::io(file, e))?;
                current = if link.is_absolute() {
                    link
                } else {
                    parent_dir(&current).join(link)
                };
            }
            Ok(meta) => {
                if let Some(what) = special_kind(&meta.file_type()) {
                    return Err(DestinationError::Special {
                        path: current,
                        what,
                    });
                }
                if meta.is_dir() {
                    return Err(DestinationError::bad(
                        &current,
                        "is a directory where a file is to be written",
                    ));
                }
                return Ok(current);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                check_parent(&current)?;
                return Ok(current);
            }
            Err(e) => return Err(DestinationError::io(file, e)),
        }
    }
    Err(DestinationError::bad(
        file,
        format!("more than {MAX_LINKS} symbolic links (a loop?)"),
    ))
}

fn check_parent(file: &Path) -> Result<(), DestinationError> {
    if file.file_name().is_none() {
        return Err(DestinationError::bad(file, "not a file name"));
    }
    let parent = parent_dir(file);
    match fs::metadata(parent) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(DestinationError::bad(
            file,
            format!("{} is not a directory", parent.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(DestinationError::bad(
            file,
            format!("directory {} does not exist", parent.display()),
        )),
        Err(e) => Err(DestinationError::io(
            file,
            io::Error::new(e.kind(), format!("directory {}: {e}", parent.display())),
        )),
    }
}

/// What kind of special file this is, if it is one.
fn special_kind(t: &fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    if t.is_file() || t.is_dir() || t.is_symlink() {
        None
    } else {
        Some("a special file")
    }
}

/// The directory holding `file`; `.` for a bare file name.
fn parent_dir(file: &Path) -> &Path {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Distinguishes temporary files of concurrent writes in one process (the Admin API
/// and the terminal UI may export at the same time).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `.<name>.tmp-`: the prefix of tally's temporary files for `name`.
fn temp_prefix(name: &OsStr) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    prefix
}

/// Whether process `pid` exists. Where that cannot be told, it is assumed alive, so
/// that nothing another process may still be writing is removed.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc_root = Path::new("/proc/self");
    if proc_root.exists() {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Removes `.<name of target>.tmp-<pid>-<n>` files next to `target` whose process is
/// gone; returns how many. Best effort: a file that cannot be removed is left.
pub fn clean_stale_temporaries(target: &Path) -> usize {
    let Some(name) = target.file_name() else {
        return 0;
    };
    let prefix = temp_prefix(name);
    let prefix = prefix.to_string_lossy();
    let Ok(entries) = fs::read_dir(parent_dir(target)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let Some(rest) = file_name.strip_prefix(prefix.as_ref()) else {
            continue;
        };
        let Some((pid, n)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), true) = (
            pid.parse::<u32>(),
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        ) else {
            continue;
        };
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if is_file && !process_alive(pid) && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Removes the temporary file unless the rename went through.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the write already failed with the error that matters.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates `.<target name>.tmp-<pid>-<n>` in `dir`. `create_new` so that nothing we did
/// not create is ever overwritten; a name already taken moves on to the next `n`.
fn create_temp_file(dir: &Path, target: &Path) -> Result<(File, TempFile), DestinationError> {
    const ATTEMPTS: usize = 100;
    let name = target
        .file_name()
        .ok_or_else(|| DestinationError::bad(target, "not a file name"))?;
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let mut temp_name = temp_prefix(name);
        temp_name.push(format!(
            "{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let path = dir.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((file, TempFile { path, armed: true })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(DestinationError::io(target, e)),
        }
    }
    Err(DestinationError::io(
        target,
        last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")),
    ))
}

/// The writer handed to [`write_atomically`]'s closure: buffered, seekable, and keeping
/// the first I/O error. After that error every write and seek succeeds without touching
/// the file, so that whatever the closure's libraries do while unwinding stays quiet;
/// [`write_atomically`] reports the kept error.
pub struct Sink {
    inner: BufWriter<File>,
    failed: Rc<RefCell<Option<io::Error>>>,
    /// Position and length as the closure sees them, kept also after a failure so that
    /// offsets computed from them stay consistent.
    pos: u64,
    len: u64,
}

impl Sink {
    fn fail(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        let mut slot = self.failed.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
        copy
    }

    fn has_failed(&self) -> bool {
        self.failed.borrow().is_some()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = if self.has_failed() {
            buf.len()
        } else {
            match self.inner.write(buf) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(e)),
            }
        };
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.has_failed() {
            return Ok(());
        }
        self.inner.flush().map_err(|e| self.fail(e))
    }
}

impl Seek for Sink {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        if self.has_failed() {
            let base = match to {
                SeekFrom::Start(n) => {
                    self.pos = n;
                    return Ok(n);
                }
                SeekFrom::Current(d) => (self.pos, d),
                SeekFrom::End(d) => (self.len, d),
            };
            self.pos = base.0.saturating_add_signed(base.1);
            return Ok(self.pos);
        }
        match self.inner.seek(to) {
            Ok(p) => {
                self.pos = p;
                Ok(p)
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

/// Writes `target` (resolved with [`resolve_file`] again, so a link is followed and a
/// special file refused) through a temporary file that is fsynced and renamed into
/// place. On any error the temporary file is removed and an existing file is left as it
/// was; the error names `target`. An existing file's permissions are kept.
pub fn write_atomically<F, E>(target: &Path, write: F) -> Result<PathBuf, E>
where
    F: FnOnce(Sink) -> Result<Sink, E>,
    E: From<DestinationError>,
{
    let target = resolve_file(target)?;
    let dir = parent_dir(&target);
    clean_stale_temporaries(&target);
    let (file, mut temp) = create_temp_file(dir, &target)?;
    if let Ok(meta) = fs::metadata(&target) {
        file.set_permissions(meta.permissions())
            .map_err(|e| DestinationError::io(&target, e))?;
    }
    let failed = Rc::new(RefCell::new(None));
    let sink = Sink {
        inner: BufWriter::with_capacity(1 << 20, file),
        failed: Rc::clone(&failed),
        pos: 0,
        len: 0,
    };
    let result = write(sink);
    if let Some(e) = failed.borrow_mut().take() {
        return Err(DestinationError::io(&target, e).into());
    }
    let sink = result?;
    let file = sink
        .inner
        .into_inner()
        .map_err(|e| DestinationError::io(&target, e.into_error()))?;
    file.sync_all()
        .map_err(|e| DestinationError::io(&target, e))?;
    drop(file);

    fs::rename(&temp.path, &target).map_err(|e| DestinationError::io(&target, e))?;
    temp.armed = false;

    // Make the rename itself durable. The file is complete and in place already, so a
    // failure here is not a write failure.
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(target)
}

/// [`write_atomically`] for content already in memory (JSON documents).
pub fn write_bytes(target: &Path, bytes: &[u8]) -> Result<PathBuf, DestinationError> {
    write_atomically(target, |mut sink| {
        sink.write_all(bytes)
            .map_err(|e| DestinationError::io(target, e))?;
        Ok(sink)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &Path) -> String {
        fs::read_to_string(p).expect("read")
    }

    #[test]
    fn directory_gets_the_default_name_and_missing_directory_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            resolve(dir.path(), "R.zip").expect("dir"),
            dir.path().join("R.zip")
        );
        let err = resolve(&dir.path().join("nope/"), "R.zip").expect_err("missing dir");
        assert!(err.is_usage(), "{err}");
        let err = resolve(&dir.path().join("nope/x.zip"), "R.zip").expect_err("missing dir");
        assert!(err.to_string().contains("does not exist"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn fifo_and_socket_are_refused_and_left_alone() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(status.success());
        let err = write_bytes(&fifo, b"x").expect_err("fifo refused");
        assert!(err.is_usage());
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(fs::symlink_metadata(&fifo)
            .expect("still there")
            .file_type()
            .is_fifo());

        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let err = resolve(&sock, "R.zip").expect_err("socket refused");
        assert!(err.to_string().contains("socket"), "{err}");

        let err = resolve(Path::new("/dev/null"), "R.zip").expect_err("device refused");
        assert!(err.to_string().contains("character device"), "{err}");
        // No temporary was left anywhere.
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn symlink_is_followed_and_permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let real = dir.path().join("2026-12-01.zip");
        fs::write(&real, "old").expect("write");
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).expect("chmod");
        let link = dir.path().join("latest.zip");
        std::os::unix::fs::symlink("2026-12-01.zip", &link).expect("symlink");

        let written = write_bytes(&link, b"new").expect("write through link");
        assert_eq!(written, real);
        assert!(fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink());
        assert_eq!(read(&real), "new");
        let mode = fs::metadata(&real).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).expect("symlink");
        std::os::unix::fs::symlink(&a, &b).expect("symlink");
        let err = write_bytes(&a, b"x").expect_err("loop");
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn read_only_directory_keeps_the_old_file_and_leaves_no_temporary() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("ro");
        fs::create_dir(&sub).expect("mkdir");
        let target = sub.join("R.zip");
        fs::write(&target, "old").expect("write");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o555)).expect("chmod");
        let probe = sub.join("probe");
        if fs::write(&probe, "x").is_ok() {
            // root ignores directory permissions; the full-disk test covers root.
            let _ = fs::remove_file(&probe);
            fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).expect("chmod");
            eprintln!("skipped: running as root, a read-only directory is writable");
            return;
        }
        let err = write_bytes(&target, b"new").expect_err("read-only");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(err.to_string().contains("R.zip"), "{err}");
        assert_eq!(read(&target), "old");
        assert_eq!(fs::read_dir(&sub).expect("ls").count(), 1);
    }

    #[test]
    fn a_failing_closure_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("R.zip");
        fs::write(&target, "old").expect("write");
        let result: Result<PathBuf, DestinationError> = write_atomically(&target, |mut s| {
            s.write_all(b"partial").expect("buffered");
            Err(DestinationError::bad(&target, "builder failed"))
        });
        assert!(result.is_err());
        assert_eq!(read(&target), "old");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed_others_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("Usage Reports.zip");
        // pid 4194304 is above Linux's pid_max limit, so surely not running.
        let stale = dir.path().join(".Usage Reports.zip.tmp-4194304-0");
        let mine = dir
            .path()
            .join(format!(".Usage Reports.zip.tmp-{}-999", std::process::id()));
        let foreign = dir.path().join(".Usage Reports.zip.tmp-notes");
        for p in [&stale, &mine, &foreign] {
            fs::write(p, "x").expect("write");
        }
        write_bytes(&target, b"new").expect("write");
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists(), "stale temporary removed");
        }
        assert!(mine.exists(), "a live process's temporary is kept");
        assert!(foreign.exists(), "a file not of tally's naming is kept");
        assert_eq!(read(&target), "new");
    }

    /// A full filesystem: a 64 KiB tmpfs mounted for the test (root only).
    #[cfg(target_os = "linux")]
    #[test]
    fn full_disk_keeps_the_old_file_with_one_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mnt = dir.path().join("small");
        fs::create_dir(&mnt).expect("mkdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(&mnt)
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !mounted {
            eprintln!("skipped: cannot mount a small tmpfs (needs root and CAP_SYS_ADMIN)");
            return;
        }
        let target = mnt.join("R.zip");
        fs::write(&target, "old").expect("write");
        let big = vec![7u8; 256 * 1024];
        let err = write_bytes(&target, &big).expect_err("disk full");
        let text = err.to_string();
        let old = read(&target);
        let left = fs::read_dir(&mnt).expect("ls").count();
        let _ = std::process::Command::new("umount").arg(&mnt).status();
        assert_eq!(old, "old");
        assert_eq!(left, 1, "no temporary left");
        assert!(text.contains("No space left"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}
