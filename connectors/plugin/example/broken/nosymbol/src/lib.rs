//! Test fixture: a valid shared library that exports something, but not the plugin entry
//! symbol (like a library dropped into the plugin directory by mistake).

/// Not the entry point.
#[no_mangle]
pub extern "C" fn tally_something_else() -> u32 {
    42
}
