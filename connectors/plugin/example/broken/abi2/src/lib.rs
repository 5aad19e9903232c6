//! Test fixture: a library exporting the plugin entry point with a header that claims a
//! future plugin ABI (2) and a larger table. The host must read the header only and refuse
//! it with "built for plugin ABI 2".

use tally_plugin_abi::{AbiHeader, PluginVTable};

/// What an ABI 2 table might look like: the same header, then things this host does not
/// know. The host must not read past the header.
#[repr(C)]
pub struct FutureVTable {
    pub header: AbiHeader,
    pub reserved: [usize; 16],
}

static TABLE: FutureVTable = FutureVTable {
    header: AbiHeader {
        abi_version: 2,
        struct_size: std::mem::size_of::<FutureVTable>() as u32,
    },
    reserved: [0; 16],
};

/// The entry point, as a plugin built for ABI 2 would export it.
#[no_mangle]
pub extern "C" fn tally_connector_plugin() -> *const PluginVTable {
    std::ptr::from_ref(&TABLE).cast()
}
