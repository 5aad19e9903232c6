//! Report -> two workbooks -> `Usage Reports.zip` (SPEC §5).
//!
//! STUB: the API below is fixed; the implementation is being written.

use std::path::{Path, PathBuf};

use crate::report::Report;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing zip: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// The file name used when the destination is a directory.
pub const ZIP_NAME: &str = "Usage Reports.zip";

/// Writes `Usage Reports.zip` to `dest` (a directory means `dest/Usage Reports.zip`)
/// through a temporary file renamed into place; returns the final path.
pub fn write_usage_reports(_report: &Report, _dest: &Path) -> Result<PathBuf, ExportError> {
    Err(ExportError::Io {
        path: PathBuf::new(),
        source: std::io::Error::other("not built yet"),
    })
}

/// The zip as bytes (for the Admin API).
pub fn usage_reports_bytes(_report: &Report) -> Result<Vec<u8>, ExportError> {
    Ok(Vec::new())
}
