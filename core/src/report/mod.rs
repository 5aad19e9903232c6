//! SPEC §4: windows and counts -> `Report`.

mod build;
pub mod insights;
mod types;

pub use build::{build_report, read_report, window, ReportOptions};
pub use types::*;
