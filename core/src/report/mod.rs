//! SPEC §4: windows and counts -> `Report`; SPEC §9: accounts -> `AccessInsights`.

pub mod access;
mod build;
pub mod insights;
mod types;

pub use build::{build_report, read_report, window, ReportOptions};
pub use types::*;
