//! SPEC §4: windows and counts -> `Report`.

mod types;

pub use types::*;
