//! The boundary between tally (the host) and a connector plugin (a shared library).
//!
//! Only `#[repr(C)]` types and constants live here. Nothing Rust-specific crosses the
//! boundary: host and plugin may be built by different compiler versions, with different
//! versions of tokio, serde or tally-core, so the only things they share are C layouts,
//! plain integers and byte buffers holding versioned JSON (the DTOs described below).
//!
//! # The handshake
//!
//! A plugin exports one symbol, [`ENTRY_SYMBOL`], an `extern "C" fn() -> *const
//! PluginVTable` ([`EntryFn`]). The vtable it returns lives as long as the library (a
//! `static`). The host reads the [`AbiHeader`] first: if [`AbiHeader::abi_version`] is not
//! [`ABI_VERSION`], or [`AbiHeader::struct_size`] is not the size of this version's
//! [`PluginVTable`], the host reads nothing else and refuses the library with a message
//! naming both versions.
//!
//! # Compatibility promise
//!
//! [`ABI_VERSION`] changes whenever anything in this crate changes layout or meaning, or
//! when the JSON DTOs change incompatibly. A plugin built against `tally-plugin-sdk` 0.1
//! speaks ABI 1 and works with every tally that speaks ABI 1. Adding optional fields to a
//! JSON DTO is not a change (both sides ignore unknown fields and default missing ones).
//!
//! # Memory
//!
//! Whoever allocates frees. Buffers the plugin hands out ([`FfiBuf`]) are returned to the
//! plugin through [`PluginVTable::free_buf`]; buffers the host passes in ([`FfiStr`]) are
//! borrowed for the duration of the call only. Handles are freed with
//! [`PluginVTable::destroy`]. Libraries are never unloaded.
//!
//! # Errors and panics
//!
//! Every function but `free_buf` and `destroy` (which cannot fail) returns a status
//! ([`STATUS_OK`] or an error code below); on error the plugin writes a UTF-8 message into
//! the `error` out-parameter. No panic ever unwinds
//! across the boundary: both sides catch panics in every exported function and callback.

use std::ffi::c_void;

/// The version of this ABI. See the crate documentation for the compatibility promise.
pub const ABI_VERSION: u32 = 1;

/// The `tally-plugin-sdk` release series that speaks this ABI, for "rebuild it" messages.
pub const SDK_SERIES: &str = "0.1";

/// The name of the entry symbol every plugin exports (without the trailing NUL).
///
/// The name carries no version on purpose: a plugin built for another ABI version must be
/// found and then refused with "built for plugin ABI N", not reported as missing.
pub const ENTRY_SYMBOL: &str = "tally_connector_plugin";

/// The entry point's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginVTable;

/// Status codes returned by every function across the boundary.
pub type Status = i32;
/// Success.
pub const STATUS_OK: Status = 0;
/// The connector's settings were rejected (unknown key, wrong type, unusable value).
pub const STATUS_CONFIG: Status = 1;
/// The connector failed while running (the end system failed, a file is unreadable, …).
pub const STATUS_FAILED: Status = 2;
/// A panic was caught; the message says where.
pub const STATUS_PANIC: Status = 3;
/// Collection was cancelled by the host.
pub const STATUS_CANCELLED: Status = 4;
/// The host no longer accepts records (its store stopped, or it rejected a payload).
pub const STATUS_REJECTED: Status = 5;
/// The other side sent something that does not follow this ABI (bad JSON, null pointer).
pub const STATUS_PROTOCOL: Status = 6;

/// A human name for a status, for messages.
pub fn status_name(status: Status) -> &'static str {
    match status {
        STATUS_OK => "ok",
        STATUS_CONFIG => "configuration rejected",
        STATUS_FAILED => "failed",
        STATUS_PANIC => "panicked",
        STATUS_CANCELLED => "cancelled",
        STATUS_REJECTED => "rejected by the host",
        STATUS_PROTOCOL => "protocol error",
        _ => "unknown status",
    }
}

/// A borrowed byte slice, valid only during the call it is passed to. `ptr` may be null
/// only when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FfiStr {
    pub ptr: *const u8,
    pub len: usize,
}

impl FfiStr {
    /// A view of `bytes`; the caller keeps `bytes` alive for the call.
    pub fn new(bytes: &[u8]) -> FfiStr {
        FfiStr {
            ptr: bytes.as_ptr(),
            len: bytes.len(),
        }
    }

    pub const fn empty() -> FfiStr {
        FfiStr {
            ptr: std::ptr::null(),
            len: 0,
        }
    }

    /// The bytes.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that stay valid and unchanged for `'a`
    /// (or be null with `len` 0). Values passed across this ABI satisfy this for the
    /// duration of the call.
    pub unsafe fn as_bytes<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr` points to `len` readable bytes alive
            // for 'a; null and empty were handled above.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// A byte buffer allocated by the plugin and owned by whoever received it until it is
/// given back to [`PluginVTable::free_buf`]. The empty buffer has a null `ptr`.
#[repr(C)]
#[derive(Debug)]
pub struct FfiBuf {
    pub ptr: *mut u8,
    pub len: usize,
    /// The allocation's capacity, so the allocator that made it can rebuild it.
    pub cap: usize,
}

impl FfiBuf {
    pub const fn empty() -> FfiBuf {
        FfiBuf {
            ptr: std::ptr::null_mut(),
            len: 0,
            cap: 0,
        }
    }

    /// Hands `bytes` over. Must be given back to the allocating side's `free_buf`.
    pub fn from_vec(bytes: Vec<u8>) -> FfiBuf {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        FfiBuf {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        }
    }

    /// Takes the allocation back.
    ///
    /// # Safety
    /// Only the side that made the buffer with [`FfiBuf::from_vec`] (same allocator) may
    /// call this, once per buffer.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            Vec::new()
        } else {
            // SAFETY: the caller guarantees the buffer came from `from_vec` in this very
            // library, so ptr/len/cap describe a live Vec allocation of its allocator.
            unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
        }
    }

    /// The bytes, borrowed.
    ///
    /// # Safety
    /// The buffer must not have been freed yet.
    pub unsafe fn as_bytes(&self) -> &[u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: a live buffer from `from_vec`: `len` initialised bytes at `ptr`.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// The first two fields of every version of [`PluginVTable`]. The host reads only this
/// until both fields are checked.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiHeader {
    /// The [`ABI_VERSION`] the plugin was built for.
    pub abi_version: u32,
    /// `size_of::<PluginVTable>()` as the plugin sees it.
    pub struct_size: u32,
}

/// An opaque connector instance inside the plugin.
pub type Handle = *mut c_void;

/// What a plugin offers. Returned by the entry point; lives as long as the library.
#[repr(C)]
pub struct PluginVTable {
    pub header: AbiHeader,
    /// Writes the plugin's description (JSON DTO `Describe`: `{"abi":1,"kind":…,
    /// "version":…,"description":…}`) into `out`.
    pub describe: unsafe extern "C" fn(out: *mut FfiBuf, error: *mut FfiBuf) -> Status,
    /// Builds a connector instance from the JSON DTO `Create` (`{"abi":1,"name":…,
    /// "base_dir":…,"settings":{…}}`). On success writes a handle to `out`, to be freed
    /// with `destroy`.
    pub create:
        unsafe extern "C" fn(request: FfiStr, out: *mut Handle, error: *mut FfiBuf) -> Status,
    /// Runs the instance to the end, blocking the calling thread. `cursor` is the saved
    /// cursor (UTF-8) or `has_cursor` 0 for none. Everything the connector yields goes
    /// through `sink`, in order; `run` returns only after the last callback returned.
    pub run: unsafe extern "C" fn(
        handle: Handle,
        has_cursor: u8,
        cursor: FfiStr,
        sink: *const HostSink,
        error: *mut FfiBuf,
    ) -> Status,
    /// Gives a buffer the plugin allocated back to it.
    pub free_buf: unsafe extern "C" fn(buf: FfiBuf),
    /// Frees an instance made by `create`. Never called while `run` is running on it.
    pub destroy: unsafe extern "C" fn(handle: Handle),
}

/// The kinds of message a plugin sends through [`HostSink::emit`].
pub type EmitKind = u32;
/// A JSON array of SPEC §2 records (the JSONL record objects).
pub const EMIT_BATCH: EmitKind = 1;
/// A cursor (UTF-8): saved once everything sent before it is stored.
pub const EMIT_CHECKPOINT: EmitKind = 2;
/// A warning (UTF-8) for the administrator.
pub const EMIT_WARNING: EmitKind = 3;
/// A skipped input item (UTF-8): counted in the run's summary.
pub const EMIT_SKIPPED: EmitKind = 4;
/// Progress, JSON DTO `Progress`: `{"done":N,"total":M|null}`.
pub const EMIT_PROGRESS: EmitKind = 5;

/// The callbacks the host hands to `run`. Valid until `run` returns.
#[repr(C)]
pub struct HostSink {
    pub header: AbiHeader,
    /// The host's state, passed back to every callback.
    pub ctx: *const c_void,
    /// Delivers one message. Blocks until the host has accepted it (back pressure): a
    /// record batch is acknowledged only when the host's collector has taken it. Returns
    /// [`STATUS_OK`], [`STATUS_CANCELLED`] or [`STATUS_REJECTED`]; after any error the
    /// plugin stops sending and returns from `run`.
    pub emit: unsafe extern "C" fn(ctx: *const c_void, kind: EmitKind, payload: FfiStr) -> Status,
    /// The cancellation flag: 1 once the host wants collection to stop.
    pub is_cancelled: unsafe extern "C" fn(ctx: *const c_void) -> u8,
}

/// `size_of::<PluginVTable>()` as a header field.
pub const PLUGIN_VTABLE_SIZE: u32 = std::mem::size_of::<PluginVTable>() as u32;
/// `size_of::<HostSink>()` as a header field.
pub const HOST_SINK_SIZE: u32 = std::mem::size_of::<HostSink>() as u32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_at_the_start_of_both_tables() {
        assert_eq!(std::mem::offset_of!(PluginVTable, header), 0);
        assert_eq!(std::mem::offset_of!(HostSink, header), 0);
        assert_eq!(std::mem::size_of::<AbiHeader>(), 8);
    }

    #[test]
    fn buffers_round_trip() {
        let buf = FfiBuf::from_vec(b"hello".to_vec());
        // SAFETY: made just above, freed once.
        let back = unsafe { buf.into_vec() };
        assert_eq!(back, b"hello");
        // SAFETY: the empty buffer owns nothing.
        assert!(unsafe { FfiBuf::empty().into_vec() }.is_empty());
    }
}
