//! [`AccessInsights`] -> `Insights.xlsx` or the JSON document of SPEC §9, written
//! atomically like `Usage Reports.zip` (a temporary file renamed into place), with the
//! conventions of SPEC §5: real date-times, `(UTC)` headers, frozen headers, autofilters.

use std::path::{Path, PathBuf};

use crate::access_sheets::{self as sheets, people_metrics, INSIGHTS_NAME};
use crate::destination;
use crate::export::{write_sheet, ExportError, ExportOptions, EXCEL_MAX_ROWS, ZIP_LEVEL};
use crate::report::access::AccessInsights;
use crate::xlsx::Book;

/// Writes the access insights to `dest`: JSON when it ends in `.json`, else the workbook
/// (a directory means `dest/Insights.xlsx`). Returns the path written.
pub fn write_insights(insights: &AccessInsights, dest: &Path) -> Result<PathBuf, ExportError> {
    write_insights_with(insights, dest, &ExportOptions::default())
}

/// [`write_insights`] with explicit options (rows per sheet).
pub fn write_insights_with(
    insights: &AccessInsights,
    dest: &Path,
    options: &ExportOptions,
) -> Result<PathBuf, ExportError> {
    let target = destination::resolve(dest, INSIGHTS_NAME)?;
    let bytes = if destination::wants_json(dest) {
        insights_json_bytes(insights).map_err(|e| ExportError::Io {
            path: target.clone(),
            source: e.into(),
        })?
    } else {
        insights_workbook_bytes_with(insights, options)?
    };
    Ok(destination::write_bytes(&target, &bytes)?)
}

/// The JSON document of SPEC §9 (`--insights x.json`, `GET /api/insights`).
pub fn insights_json_bytes(insights: &AccessInsights) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec_pretty(insights)
}

/// `Insights.xlsx` as bytes.
pub fn insights_workbook_bytes(insights: &AccessInsights) -> Result<Vec<u8>, ExportError> {
    insights_workbook_bytes_with(insights, &ExportOptions::default())
}

/// [`insights_workbook_bytes`] with explicit options.
pub fn insights_workbook_bytes_with(
    insights: &AccessInsights,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    // Creation time = as_of, so the same insights give the same bytes.
    let mut book = Book::new("Access Insights".to_owned(), insights.as_of, ZIP_LEVEL);
    let rows = options.max_rows_per_sheet.clamp(2, EXCEL_MAX_ROWS);
    let metrics = people_metrics(insights);
    write_sheet(&mut book, &sheets::PEOPLE_WITH_ACCESS, &metrics, rows)?;
    write_sheet(&mut book, &sheets::SYSTEMS, insights, rows)?;
    write_sheet(&mut book, &sheets::DOMAINS, insights, rows)?;
    write_sheet(&mut book, &sheets::DORMANT_SEATS, insights, rows)?;
    write_sheet(&mut book, &sheets::ACCOUNTS, insights, rows)?;
    Ok(book.finish()?)
}
