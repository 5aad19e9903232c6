//! SPEC §4: windows and counts -> `Report`; SPEC §9: accounts -> `AccessInsights`.

pub mod access;
mod access_build;
mod build;
pub mod insights;
mod provenance;
mod types;
mod user_row;

pub use access_build::{
    access_insights, access_insights_from, read_access_insights, AccessOptions, ObservedIdentity,
};
pub use build::{build_report, read_report, window, ReportOptions};
pub use provenance::{Provenance, Source};
pub use types::*;
pub(crate) use user_row::{RowBuilder, RowFlags};
pub use user_row::{Texts, TextsIter, UserRow, UserRowParts};
