//! Connector plugins: shared libraries loaded at start (DESIGN "Plugins (libloading)",
//! SPEC §7).
//!
//! A plugin exports the C ABI of `tally-plugin-abi`. This module finds plugin libraries
//! in the plugin directories, checks each one (entry symbol, ABI version, vtable size)
//! before using anything else in it, and wraps every configured instance in
//! [`PluginConnector`], an ordinary [`Connector`]: collection, store, report and export
//! never know a plugin from a built-in connector.
//!
//! Only bytes cross: the JSON DTOs in [`wire`] and SPEC §2 records as JSON. Libraries are
//! never unloaded (their code may still be referenced by threads or statics inside them),
//! so every [`libloading::Library`] is leaked on purpose.
//!
//! Failures stay contained: a library that cannot be loaded is reported with its path
//! and skipped; an instance whose settings are rejected becomes an
//! [`UnavailableConnector`] that fails alone when collection runs; a plugin that fails or
//! panics mid-run fails that connector alone, with its kind and path in the message.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tally_plugin_abi as abi;

use tally_model::wire;
use tally_model::{Connector, ConnectorContext, ConnectorError, Record};

/// How long a plugin gets to stop after collection is cancelled before its connector is
/// reported as cancelled and its thread left to finish on its own.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// Why a plugin library or instance cannot be used. Every message names the library.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("plugin {path}: not a loadable shared library: {reason}")]
    NotALibrary { path: PathBuf, reason: String },
    /// An ELF file whose headers, segments or sections reach past its end (cut short
    /// while copying): the dynamic loader would map pages past the end and crash the
    /// process with SIGBUS, so it is never handed to it.
    #[error("plugin {path}: not a complete library ({reason}); copy or build it again")]
    Incomplete { path: PathBuf, reason: String },
    #[error("plugin {path}: has no entry symbol `{symbol}`, so it is not a tally connector plugin; build it with tally-plugin-sdk {sdk} and its export_connector! macro", symbol = abi::ENTRY_SYMBOL, sdk = abi::SDK_SERIES)]
    MissingSymbol { path: PathBuf },
    #[error("plugin {path}: its entry point returned no vtable")]
    NullVTable { path: PathBuf },
    #[error("plugin {path} was built for plugin ABI {found}, this tally speaks {expected}: rebuild it against tally-plugin-sdk {sdk}", expected = abi::ABI_VERSION, sdk = abi::SDK_SERIES)]
    AbiVersion { path: PathBuf, found: u32 },
    #[error("plugin {path}: its vtable is {found} bytes where plugin ABI {version} has {expected}; the library is damaged or built against a modified tally-plugin-abi: rebuild it against tally-plugin-sdk {sdk}", version = abi::ABI_VERSION, expected = abi::PLUGIN_VTABLE_SIZE, sdk = abi::SDK_SERIES)]
    VTableSize { path: PathBuf, found: u32 },
    #[error("plugin {path}: cannot describe itself: {message}")]
    Describe { path: PathBuf, message: String },
    #[error(
        "plugin {path}: kind `{kind}` is already provided by {other}; this library is ignored"
    )]
    DuplicateKind {
        path: PathBuf,
        kind: String,
        other: String,
    },
    #[error("plugin `{kind}` ({path}) rejected connector `{name}`: {message}")]
    Create {
        kind: String,
        path: PathBuf,
        name: String,
        message: String,
    },
}

impl PluginError {
    /// The library (or directory) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            PluginError::Dir { path, .. }
            | PluginError::NotALibrary { path, .. }
            | PluginError::Incomplete { path, .. }
            | PluginError::MissingSymbol { path }
            | PluginError::NullVTable { path }
            | PluginError::AbiVersion { path, .. }
            | PluginError::VTableSize { path, .. }
            | PluginError::Describe { path, .. }
            | PluginError::DuplicateKind { path, .. }
            | PluginError::Create { path, .. } => path,
        }
    }
}

/// The plugin directory in the user's data directory: `$XDG_DATA_HOME/tally/plugins`,
/// else `~/.local/share/tally/plugins`.
pub fn default_plugin_dir() -> Option<PathBuf> {
    plugin_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_plugin_dir`] from the two variables' values.
fn plugin_dir_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let data_home = xdg_data_home
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data_home.join("tally").join("plugins"))
}

/// Whether `path` has this platform's shared-library extension (`so`, `dylib`, `dll`).
fn is_library_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

/// Refuses an ELF file that is not complete before it reaches the dynamic loader. Files
/// that are not ELF are left to the loader, which reports them (and to other platforms'
/// formats).
fn check_elf_file(path: &Path) -> Result<(), PluginError> {
    let bytes = std::fs::read(path).map_err(|e| PluginError::NotALibrary {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    check_elf(&bytes).map_err(|reason| PluginError::Incomplete {
        path: path.to_path_buf(),
        reason,
    })
}

/// Checks that an ELF image's header, program headers with their segments, and section
/// headers with their sections lie inside `bytes`. Not ELF: `Ok` (not ours to judge).
fn check_elf(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(b"\x7fELF") {
        return Ok(());
    }
    let len = bytes.len() as u64;
    let wide = match bytes.get(4) {
        Some(1) => false,
        Some(2) => true,
        Some(c) => return Err(format!("unknown ELF class {c}")),
        None => return Err(format!("the ELF header is cut off at byte {len}")),
    };
    let big = match bytes.get(5) {
        Some(1) => false,
        Some(2) => true,
        Some(d) => return Err(format!("unknown ELF byte order {d}")),
        None => return Err(format!("the ELF header is cut off at byte {len}")),
    };
    let header_size: u64 = if wide { 64 } else { 52 };
    if len < header_size {
        return Err(format!(
            "the ELF header needs {header_size} bytes, the file has {len}"
        ));
    }
    let read = |at: u64, size: usize| -> Result<u64, String> {
        let start = usize::try_from(at).map_err(|_| format!("offset {at} is too large"))?;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| {
                format!("a header field at byte {at} lies past the end ({len} bytes)")
            })?;
        let field = &bytes[start..end];
        let mut value: u64 = 0;
        for i in 0..size {
            let b = if big { field[i] } else { field[size - 1 - i] };
            value = (value << 8) | u64::from(b);
        }
        Ok(value)
    };
    let word = if wide { 8 } else { 4 };
    // Offsets of e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum.
    let (phoff, shoff, rest) = if wide { (32, 40, 54) } else { (28, 32, 42) };
    let phoff = read(phoff, word)?;
    let shoff = read(shoff, word)?;
    let phentsize = read(rest, 2)?;
    let phnum = read(rest + 2, 2)?;
    let shentsize = read(rest + 4, 2)?;
    let shnum = read(rest + 6, 2)?;

    let within = |what: &str, offset: u64, size: u64| -> Result<(), String> {
        match offset.checked_add(size) {
            Some(end) if end <= len => Ok(()),
            _ => Err(format!(
                "{what} ends at byte {}, the file has {len}",
                offset.saturating_add(size)
            )),
        }
    };
    within(
        "the program header table",
        phoff,
        phentsize.saturating_mul(phnum),
    )?;
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        // p_offset and p_filesz: (8, 32) in ELF64, (4, 16) in ELF32.
        let (offset, filesz) = if wide {
            (read(at + 8, 8)?, read(at + 32, 8)?)
        } else {
            (read(at + 4, 4)?, read(at + 16, 4)?)
        };
        within(&format!("segment {i}"), offset, filesz)?;
    }
    if shoff != 0 {
        within(
            "the section header table",
            shoff,
            shentsize.saturating_mul(shnum),
        )?;
        const SHT_NOBITS: u64 = 8;
        for i in 0..shnum {
            let at = shoff + i * shentsize;
            // sh_type, sh_offset, sh_size: (4, 24, 32) in ELF64, (4, 16, 20) in ELF32.
            let kind = read(at + 4, 4)?;
            let (offset, size) = if wide {
                (read(at + 24, 8)?, read(at + 32, 8)?)
            } else {
                (read(at + 16, 4)?, read(at + 20, 4)?)
            };
            if kind != SHT_NOBITS {
                within(&format!("section {i}"), offset, size)?;
            }
        }
    }
    Ok(())
}

/// A loaded, checked plugin library. Lives as long as the process.
pub struct PluginLibrary {
    path: PathBuf,
    describe: wire::Describe,
    vtable: &'static abi::PluginVTable,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("path", &self.path)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

impl PluginLibrary {
    /// Loads and checks the library at `path`. The library is never unloaded, even when
    /// it is refused (its initialisers have run; unloading could leave dangling code).
    pub fn load(path: &Path) -> Result<Arc<PluginLibrary>, PluginError> {
        let path = path.to_path_buf();
        check_elf_file(&path)?;
        // SAFETY: loading runs the library's initialisers. Plugin directories are chosen
        // by the administrator, and a plugin's code is trusted exactly as much as its
        // initialisers; there is no way to check a library without loading it.
        let library =
            unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::NotALibrary {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        // Never unloaded: threads and statics inside the plugin may outlive any use.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is fixed by the ABI (`EntryFn`); a library exporting
        // this name with another type is not a tally plugin and is outside what we can
        // check. The function pointer is valid as long as the (leaked) library.
        let entry: abi::EntryFn = unsafe {
            match library.get::<abi::EntryFn>(abi::ENTRY_SYMBOL.as_bytes()) {
                Ok(symbol) => *symbol,
                Err(_) => return Err(PluginError::MissingSymbol { path }),
            }
        };
        // SAFETY: `EntryFn` takes nothing and returns a pointer to a static vtable (or
        // null, checked below). It cannot unwind into us: the SDK's entry catches panics
        // and returns null, and a panic escaping any `extern "C"` function aborts.
        let table = unsafe { entry() };
        if table.is_null() {
            return Err(PluginError::NullVTable { path });
        }
        // SAFETY: every ABI version starts with `AbiHeader`, so reading just the header
        // is valid whatever version the plugin speaks; nothing else is read before both
        // header fields are checked.
        let header = unsafe { *table.cast::<abi::AbiHeader>() };
        if header.abi_version != abi::ABI_VERSION {
            return Err(PluginError::AbiVersion {
                path,
                found: header.abi_version,
            });
        }
        if header.struct_size != abi::PLUGIN_VTABLE_SIZE {
            return Err(PluginError::VTableSize {
                path,
                found: header.struct_size,
            });
        }
        // SAFETY: version and size match this crate's `PluginVTable`; the table is a
        // static inside a library that is never unloaded.
        let vtable: &'static abi::PluginVTable = unsafe { &*table };
        let describe = describe(vtable).map_err(|message| PluginError::Describe {
            path: path.clone(),
            message,
        })?;
        Ok(Arc::new(PluginLibrary {
            path,
            describe,
            vtable,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn kind(&self) -> &str {
        &self.describe.kind
    }

    pub fn version(&self) -> &str {
        &self.describe.version
    }

    pub fn description(&self) -> &str {
        &self.describe.description
    }

    /// Builds the connector instance `name` from its settings (the `[[connector]]` table
    /// without name and kind, as JSON). `base_dir` is the configuration file's directory.
    pub fn create(
        self: &Arc<Self>,
        name: &str,
        settings: serde_json::Value,
        base_dir: &Path,
    ) -> Result<PluginConnector, PluginError> {
        let failed = |message: String| PluginError::Create {
            kind: self.kind().to_owned(),
            path: self.path.clone(),
            name: name.to_owned(),
            message,
        };
        let request = serde_json::to_vec(&wire::Create {
            abi: abi::ABI_VERSION,
            name: name.to_owned(),
            base_dir: base_dir.to_path_buf(),
            settings,
        })
        .map_err(|e| failed(format!("cannot encode the settings: {e}")))?;
        let mut handle: abi::Handle = std::ptr::null_mut();
        let mut error = abi::FfiBuf::empty();
        // SAFETY: `request` outlives the call; `handle` and `error` are valid out
        // pointers. The vtable was checked in `load`.
        let status =
            unsafe { (self.vtable.create)(abi::FfiStr::new(&request), &mut handle, &mut error) };
        let message = take_buf(self.vtable, error);
        if status != abi::STATUS_OK {
            return Err(failed(status_message(status, &message)));
        }
        if handle.is_null() {
            return Err(failed("create returned no instance".to_owned()));
        }
        Ok(PluginConnector {
            name: name.to_owned(),
            instance: Arc::new(Instance {
                library: Arc::clone(self),
                handle,
            }),
        })
    }
}

/// Copies a plugin-allocated buffer and gives it back to the plugin to free.
fn take_buf(vtable: &abi::PluginVTable, buf: abi::FfiBuf) -> Vec<u8> {
    if buf.ptr.is_null() {
        return Vec::new();
    }
    // SAFETY: the plugin filled `buf` and has not freed it; we copy before freeing.
    let bytes = unsafe { buf.as_bytes() }.to_vec();
    // SAFETY: the buffer came from this plugin and is given back exactly once.
    unsafe { (vtable.free_buf)(buf) };
    bytes
}

fn status_message(status: abi::Status, message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let text = text.trim();
    match status {
        abi::STATUS_CONFIG | abi::STATUS_FAILED if !text.is_empty() => text.to_owned(),
        // The SDK's panic text already reads "panicked at file:line:col: message".
        abi::STATUS_PANIC if text.starts_with("panicked") => text.to_owned(),
        _ if text.is_empty() => abi::status_name(status).to_owned(),
        _ => format!("{}: {text}", abi::status_name(status)),
    }
}

fn describe(vtable: &abi::PluginVTable) -> Result<wire::Describe, String> {
    let mut out = abi::FfiBuf::empty();
    let mut error = abi::FfiBuf::empty();
    // SAFETY: valid out pointers; the vtable was checked by the caller.
    let status = unsafe { (vtable.describe)(&mut out, &mut error) };
    let out = take_buf(vtable, out);
    let error = take_buf(vtable, error);
    if status != abi::STATUS_OK {
        return Err(status_message(status, &error));
    }
    let d: wire::Describe = serde_json::from_slice(&out)
        .map_err(|e| format!("its description is not valid JSON: {e}"))?;
    if d.abi != abi::ABI_VERSION {
        return Err(format!(
            "its description follows plugin ABI {}, this tally speaks {}",
            d.abi,
            abi::ABI_VERSION
        ));
    }
    if d.kind.trim().is_empty() {
        return Err("it declares an empty kind".to_owned());
    }
    Ok(d)
}

/// The libraries found in the plugin directories, and what went wrong with the others.
#[derive(Debug, Default)]
pub struct PluginSet {
    pub libraries: Vec<Arc<PluginLibrary>>,
    pub problems: Vec<PluginError>,
}

impl PluginSet {
    /// The library providing `kind`, if any.
    pub fn find(&self, kind: &str) -> Option<&Arc<PluginLibrary>> {
        self.libraries.iter().find(|l| l.kind() == kind)
    }
}

/// Loads every shared library in `dirs` (in order; files in name order). A directory in
/// `dirs` that does not exist is a problem; callers leave out optional ones (the default
/// directory) when absent. A directory named twice (`plugins` and the same directory
/// spelt absolutely) is searched once. `reserved` are kinds already taken (the built-in
/// ones): a plugin claiming one, or a kind an earlier plugin claimed, is refused.
pub fn load_dirs(dirs: &[PathBuf], reserved: &[&str]) -> PluginSet {
    let mut set = PluginSet::default();
    let mut searched: Vec<PathBuf> = Vec::new();
    for dir in dirs {
        // Absolute, so every message and `tally connectors` name the library wherever
        // tally was started (symlinks are kept as the administrator wrote them).
        let dir = &std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        if searched.contains(dir) {
            continue;
        }
        searched.push(dir.clone());
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) => {
                set.problems.push(PluginError::Dir {
                    path: dir.to_path_buf(),
                    source,
                });
                continue;
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_library_name(p) && p.is_file())
            .collect();
        files.sort();
        for path in files {
            match PluginLibrary::load(&path) {
                Ok(library) => {
                    let kind = library.kind().to_owned();
                    let other = if reserved.contains(&kind.as_str()) {
                        Some("a built-in connector".to_owned())
                    } else {
                        set.find(&kind).map(|l| l.path().display().to_string())
                    };
                    match other {
                        Some(other) => {
                            set.problems
                                .push(PluginError::DuplicateKind { path, kind, other })
                        }
                        None => set.libraries.push(library),
                    }
                }
                Err(e) => set.problems.push(e),
            }
        }
    }
    set
}

/// A plugin connector instance inside its library; destroyed when the last user drops it
/// (never while it runs: a run holds a clone).
struct Instance {
    library: Arc<PluginLibrary>,
    handle: abi::Handle,
}

// SAFETY: the handle is only ever passed back to the plugin's own functions. The SDK
// builds instances from `Connector` values, which are `Send + Sync`, and the ABI allows
// `run` on any thread; `destroy` runs once, when no run holds the instance.
unsafe impl Send for Instance {}
// SAFETY: see `Send`: the plugin side is `Sync` by construction.
unsafe impl Sync for Instance {}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the handle came from this library's `create` and is destroyed once.
        unsafe { (self.library.vtable.destroy)(self.handle) };
    }
}

/// A connector that lives in a plugin library: an ordinary [`Connector`] to the rest of
/// tally.
pub struct PluginConnector {
    name: String,
    instance: Arc<Instance>,
}

impl PluginConnector {
    /// The library the connector comes from.
    pub fn library(&self) -> &Arc<PluginLibrary> {
        &self.instance.library
    }
}

/// The host's side of one `run`: what the sink callbacks need.
struct Sink {
    ctx: ConnectorContext,
    runtime: tokio::runtime::Handle,
    /// Why the host refused a message, if it did; reported instead of the plugin's echo.
    refused: Mutex<Option<ConnectorError>>,
}

impl Sink {
    fn refuse(&self, error: ConnectorError) -> abi::Status {
        let status = match error {
            ConnectorError::Cancelled => abi::STATUS_CANCELLED,
            ConnectorError::Source(_) => abi::STATUS_PROTOCOL,
            _ => abi::STATUS_REJECTED,
        };
        if let Ok(mut slot) = self.refused.lock() {
            slot.get_or_insert(error);
        }
        status
    }

    fn emit(&self, kind: abi::EmitKind, payload: &[u8]) -> abi::Status {
        let text = || String::from_utf8_lossy(payload).into_owned();
        let ctx = &self.ctx;
        let result = match kind {
            abi::EMIT_BATCH => match serde_json::from_slice::<Vec<Record>>(payload) {
                Ok(records) => self.runtime.block_on(ctx.send_batch(records)),
                Err(e) => Err(ConnectorError::Source(format!(
                    "sent a record batch that is not SPEC records: {e}"
                ))),
            },
            abi::EMIT_CHECKPOINT => self.runtime.block_on(ctx.checkpoint(text())),
            abi::EMIT_WARNING => self.runtime.block_on(ctx.warn(text())),
            abi::EMIT_SKIPPED => self.runtime.block_on(ctx.skipped(text())),
            abi::EMIT_PROGRESS => match serde_json::from_slice::<wire::Progress>(payload) {
                Ok(p) => self.runtime.block_on(ctx.progress(p.done, p.total)),
                Err(e) => Err(ConnectorError::Source(format!(
                    "sent progress that is not valid: {e}"
                ))),
            },
            other => Err(ConnectorError::Source(format!(
                "sent a message of unknown kind {other}"
            ))),
        };
        match result {
            Ok(()) => abi::STATUS_OK,
            Err(e) => self.refuse(e),
        }
    }
}

unsafe extern "C" fn sink_emit(
    ctx: *const c_void,
    kind: abi::EmitKind,
    payload: abi::FfiStr,
) -> abi::Status {
    // A panic must not unwind into the plugin: caught and turned into a refusal.
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `ctx` is the `Sink` that `run_blocking` passed with this callback; it
        // lives on that function's stack until the plugin's `run` returned.
        let sink = unsafe { &*ctx.cast::<Sink>() };
        // SAFETY: the ABI makes `payload` valid for the duration of this call.
        let bytes = unsafe { payload.as_bytes() };
        sink.emit(kind, bytes)
    }))
    .unwrap_or(abi::STATUS_REJECTED)
}

unsafe extern "C" fn sink_is_cancelled(ctx: *const c_void) -> u8 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `sink_emit`.
        let sink = unsafe { &*ctx.cast::<Sink>() };
        u8::from(sink.ctx.is_cancelled())
    }))
    .unwrap_or(1)
}

impl Instance {
    /// Runs the plugin on this (blocking) thread until it returns.
    fn run_blocking(
        &self,
        ctx: ConnectorContext,
        runtime: tokio::runtime::Handle,
    ) -> Result<(), ConnectorError> {
        let cursor = ctx.cursor().map(str::to_owned);
        let sink = Sink {
            ctx,
            runtime,
            refused: Mutex::new(None),
        };
        let host = abi::HostSink {
            header: abi::AbiHeader {
                abi_version: abi::ABI_VERSION,
                struct_size: abi::HOST_SINK_SIZE,
            },
            ctx: std::ptr::from_ref(&sink).cast::<c_void>(),
            emit: sink_emit,
            is_cancelled: sink_is_cancelled,
        };
        let vtable = self.library.vtable;
        let mut error = abi::FfiBuf::empty();
        let (has_cursor, cursor_bytes) = match &cursor {
            Some(c) => (1u8, abi::FfiStr::new(c.as_bytes())),
            None => (0u8, abi::FfiStr::empty()),
        };
        // SAFETY: `sink`, `host` and `cursor` outlive the call (the ABI forbids keeping
        // them after `run` returns); the handle is alive (we hold the instance).
        let status =
            unsafe { (vtable.run)(self.handle, has_cursor, cursor_bytes, &host, &mut error) };
        let message = take_buf(vtable, error);
        let refused = sink.refused.lock().ok().and_then(|mut r| r.take());
        let library = &self.library;
        let describe = |what: String| {
            ConnectorError::Source(format!(
                "plugin `{}` ({}): {what}",
                library.kind(),
                library.path().display()
            ))
        };
        match (status, refused) {
            (abi::STATUS_OK, None) => Ok(()),
            // The plugin reported success although the host refused something: what was
            // refused is lost, so this is not a success.
            (abi::STATUS_OK, Some(e)) | (_, Some(e @ ConnectorError::Source(_))) => {
                Err(describe(e.to_string()))
            }
            (_, Some(e)) => Err(e),
            (abi::STATUS_CANCELLED, None) => Err(ConnectorError::Cancelled),
            (status, None) => Err(describe(status_message(status, &message))),
        }
    }
}

#[async_trait]
impl Connector for PluginConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        self.instance.library.kind()
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        let instance = Arc::clone(&self.instance);
        let runtime = tokio::runtime::Handle::current();
        let shutdown = ctx.shutdown().clone();
        // The plugin blocks the calling thread for the whole run (it drives its own
        // runtime), so it gets a blocking thread of ours.
        let mut task = tokio::task::spawn_blocking(move || instance.run_blocking(ctx, runtime));
        let joined = tokio::select! {
            joined = &mut task => joined,
            () = shutdown.cancelled() => {
                // The plugin sees the flag and its sends fail; if it still does not
                // return, it is left running on its own thread and reported cancelled.
                match tokio::time::timeout(CANCEL_GRACE, &mut task).await {
                    Ok(joined) => joined,
                    Err(_) => return Err(ConnectorError::Cancelled),
                }
            }
        };
        joined.map_err(|e| ConnectorError::Source(format!("plugin thread ended: {e}")))?
    }
}

/// A configured connector that cannot run: its plugin failed to load, or rejected its
/// settings. It fails alone when collection runs, so the other connectors go on and the
/// administrator sees why next to its name.
pub struct UnavailableConnector {
    name: String,
    kind: String,
    reason: String,
}

impl UnavailableConnector {
    pub fn new(name: &str, kind: &str, reason: impl Into<String>) -> Self {
        UnavailableConnector {
            name: name.to_owned(),
            kind: kind.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

#[async_trait]
impl Connector for UnavailableConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        &self.kind
    }

    async fn run(&self, _ctx: ConnectorContext) -> Result<(), ConnectorError> {
        Err(ConnectorError::Source(self.reason.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_a_library_is_reported_by_path() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir
            .path()
            .join(format!("libjunk.{}", std::env::consts::DLL_EXTENSION));
        std::fs::write(&path, "this is not a shared library\n").expect("write");
        std::fs::write(dir.path().join("README.txt"), "ignored").expect("write");
        let set = load_dirs(&[dir.path().to_path_buf()], &[]);
        assert!(set.libraries.is_empty());
        assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
        let message = set.problems[0].to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("not a loadable shared library"),
            "{message}"
        );
    }

    /// This test binary is an ELF file of the host: complete it passes, cut short at
    /// 8 KiB (what a truncated copy of a plugin looks like) it is refused, by path,
    /// without being handed to the dynamic loader.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_truncated_library_is_refused_before_loading() {
        let me = std::env::current_exe().expect("test binary");
        let bytes = std::fs::read(&me).expect("read");
        assert!(bytes.starts_with(b"\x7fELF"));
        assert_eq!(check_elf(&bytes), Ok(()));
        let reason = check_elf(&bytes[..8192]).expect_err("cut short");
        assert!(reason.contains("the file has 8192"), "{reason}");
        assert!(check_elf(&bytes[..40]).is_err());
        assert_eq!(check_elf(b"not elf at all"), Ok(()));

        let dir = tempfile::tempdir().expect("dir");
        let path = dir
            .path()
            .join(format!("libcut.{}", std::env::consts::DLL_EXTENSION));
        std::fs::write(&path, &bytes[..8192]).expect("write");
        let set = load_dirs(&[dir.path().to_path_buf()], &[]);
        assert!(set.libraries.is_empty());
        let message = set.problems[0].to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("not a complete library"), "{message}");
    }

    #[test]
    fn a_directory_named_twice_is_searched_once() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir
            .path()
            .join(format!("libjunk.{}", std::env::consts::DLL_EXTENSION));
        std::fs::write(&path, "this is not a shared library\n").expect("write");
        // The same directory as the configuration and the default directory may spell it.
        let set = load_dirs(&[dir.path().to_path_buf(), dir.path().join(".")], &[]);
        assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    }

    #[test]
    fn a_missing_directory_is_reported() {
        let set = load_dirs(&[PathBuf::from("/nonexistent/tally-plugins")], &[]);
        assert_eq!(set.problems.len(), 1);
        assert!(set.problems[0]
            .to_string()
            .starts_with("plugin directory /nonexistent/tally-plugins: "));
    }

    #[test]
    fn the_default_directory_follows_xdg() {
        let dir = |xdg: Option<&str>, home: Option<&str>| {
            plugin_dir_from(xdg.map(Into::into), home.map(Into::into))
        };
        assert_eq!(
            dir(Some("/data"), Some("/home/ann")),
            Some(PathBuf::from("/data/tally/plugins"))
        );
        // Unset or empty XDG_DATA_HOME: ~/.local/share.
        for xdg in [None, Some("")] {
            assert_eq!(
                dir(xdg, Some("/home/ann")),
                Some(PathBuf::from("/home/ann/.local/share/tally/plugins"))
            );
        }
        assert_eq!(dir(None, None), None);
    }

    #[test]
    fn version_mismatch_message_says_what_to_do() {
        let e = PluginError::AbiVersion {
            path: PathBuf::from("/x/libfoo.so"),
            found: 2,
        };
        assert_eq!(
            e.to_string(),
            "plugin /x/libfoo.so was built for plugin ABI 2, this tally speaks 1: rebuild it against tally-plugin-sdk 0.1"
        );
    }

    #[tokio::test]
    async fn an_unavailable_connector_fails_alone_with_its_reason() {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        let ctx = ConnectorContext::new(0, "x", None, tx, Default::default());
        let c = UnavailableConnector::new("x", "csv", "plugin /p/libcsv.so: broken");
        let err = c.run(ctx).await.expect_err("fails").to_string();
        assert_eq!(err, "plugin /p/libcsv.so: broken");
    }
}
