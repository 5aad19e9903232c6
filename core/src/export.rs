//! Report -> two workbooks -> `Usage Reports.zip` (SPEC §5).
//!
//! Shape of the work, and why:
//! - Each window's workbook is built on its own thread (`std::thread::scope`): the two
//!   are independent and the big one (Detailed User Report, up to ~1M rows) dominates.
//! - Sheets stream through `crate::xlsx` into the workbook's zip as they are written,
//!   so a million users cost a deflater's buffer, not a million rows of cells in RAM.
//!   A sheet's column widths come before its cells in the XML, so each table is read
//!   twice: once to measure, once to write.
//! - The `.xlsx` files are zip archives already; the outer zip stores them (`Stored`).
//! - The file is written next to the destination under a dot-name, fsynced and renamed
//!   into place, so a failed export never leaves a partial `Usage Reports.zip`.

use std::borrow::Cow;
use std::io::{Cursor, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use zip::result::ZipResult;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::destination;
use crate::report::{Provenance, Report, WindowKind, WindowReport};
use crate::sheets::{self, push_minute, Kind, Sheet, Value};
use crate::xlsx::{excel_can_show, Book, SheetOut, SheetSpec, Style};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A destination refused by [`crate::destination`] (a special file); other
    /// destination errors arrive as [`ExportError::Io`].
    #[error(transparent)]
    Destination(crate::destination::DestinationError),
}

/// The file name used when the destination is a directory.
pub const ZIP_NAME: &str = "Usage Reports.zip";

/// Excel's row limit per worksheet, header row included.
pub const EXCEL_MAX_ROWS: usize = 1_048_576;

/// Excel's limit on the text of one cell, in UTF-16 code units (what Excel counts).
pub const MAX_CELL_UTF16: usize = 32_767;

/// Appended to a cut cell. U+2026 is one UTF-16 unit.
const ELLIPSIS: char = '…';

/// Knobs of the export; the defaults are what Excel allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// Rows per worksheet including the header row; a longer table continues on
    /// `<Sheet Name> (2)`, `(3)`, … Clamped to `2..=EXCEL_MAX_ROWS` (a sheet needs room
    /// for its header and at least one row, and Excel cannot open more).
    pub max_rows_per_sheet: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            max_rows_per_sheet: EXCEL_MAX_ROWS,
        }
    }
}

/// Writes `Usage Reports.zip` to `dest` (a directory means `dest/Usage Reports.zip`)
/// through a temporary file renamed into place; returns the final path.
pub fn write_usage_reports(report: &Report, dest: &Path) -> Result<PathBuf, ExportError> {
    write_usage_reports_with(report, dest, &ExportOptions::default())
}

/// [`write_usage_reports`] with explicit options.
pub fn write_usage_reports_with(
    report: &Report,
    dest: &Path,
    options: &ExportOptions,
) -> Result<PathBuf, ExportError> {
    // Resolve and check the destination before the expensive part, so a typo in the
    // path fails at once rather than after the workbooks were built.
    let target = destination::resolve(dest, ZIP_NAME)?;
    let books = build_workbooks(report, options)?;
    destination::write_atomically(&target, |w| write_zip(w, report, &books))
}

/// The zip as bytes (for the Admin API).
pub fn usage_reports_bytes(report: &Report) -> Result<Vec<u8>, ExportError> {
    usage_reports_bytes_with(report, &ExportOptions::default())
}

/// [`usage_reports_bytes`] with explicit options.
pub fn usage_reports_bytes_with(
    report: &Report,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let books = build_workbooks(report, options)?;
    let total: usize = books.iter().map(|(_, b)| b.len()).sum();
    // Stored entries: the archive is the workbooks plus a few hundred bytes of headers.
    let cursor = Cursor::new(Vec::with_capacity(total + 1024));
    let cursor = write_zip(cursor, report, &books)?;
    Ok(cursor.into_inner())
}

// ---------------------------------------------------------------------------------
// The outer zip
// ---------------------------------------------------------------------------------

fn write_zip<W: Write + Seek>(
    writer: W,
    report: &Report,
    books: &[(WindowKind, Vec<u8>)],
) -> Result<W, ExportError> {
    let mut zip = ZipWriter::new(writer);
    // Entry times are the report's `as_of` rather than the wall clock, so the same
    // report gives the same archive.
    let when = zip_time(report.as_of);
    for (kind, bytes) in books {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(when)
            .unix_permissions(0o644)
            .large_file(u64::try_from(bytes.len()).unwrap_or(u64::MAX) >= u64::from(u32::MAX));
        zip.start_file(kind.workbook_name(), options)?;
        zip.write_all(bytes)
            .map_err(|e| ExportError::Zip(zip::result::ZipError::Io(e)))?;
    }
    Ok(zip.finish()?)
}

/// Zip (MS-DOS) time of `t`; zip can only say 1980..=2107, so outside that the format's
/// default (1980-01-01) is used.
fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let fields = (
        u16::try_from(t.year()),
        u8::try_from(t.month()),
        u8::try_from(t.day()),
        u8::try_from(t.hour()),
        u8::try_from(t.minute()),
        u8::try_from(t.second()),
    );
    match fields {
        (Ok(y), Ok(mo), Ok(d), Ok(h), Ok(mi), Ok(s)) => {
            zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap_or_default()
        }
        _ => zip::DateTime::default(),
    }
}

// ---------------------------------------------------------------------------------
// Workbooks
// ---------------------------------------------------------------------------------

/// Both workbooks, built in parallel, in `WindowKind::ALL` order.
fn build_workbooks(
    report: &Report,
    options: &ExportOptions,
) -> Result<Vec<(WindowKind, Vec<u8>)>, ExportError> {
    // One moment for both workbooks: they are one file to the reader.
    let provenance = report
        .provenance
        .as_ref()
        .map(|p| (p, p.written_at_or_now()));
    std::thread::scope(|scope| {
        let handles = WindowKind::ALL.map(|kind| {
            (
                kind,
                scope.spawn(move || {
                    build_workbook(report.window(kind), report.as_of, provenance, options)
                }),
            )
        });
        let mut books = Vec::with_capacity(handles.len());
        for (kind, handle) in handles {
            match handle.join() {
                Ok(result) => books.push((kind, result?)),
                // A panic is a bug, not an export error: let it surface as one.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(books)
    })
}

/// The deflate level of the workbooks' parts.
pub(crate) const ZIP_LEVEL: i64 = 2;

/// Width of a `yyyy-mm-dd hh:mm` cell, with a little air.
const TIME_WIDTH: usize = 17;

fn build_workbook(
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<(&Provenance, DateTime<Utc>)>,
    options: &ExportOptions,
) -> Result<Vec<u8>, ExportError> {
    let started = std::time::Instant::now();
    // Level 2: the Detailed User Report's deflate was the largest single cost of writing
    // it at level 3; level 1 (zlib-rs's "quick", static Huffman codes) was faster still
    // but 35 % larger (bench/RESULTS.md, "Export, this round"). Creation time = as_of:
    // the document describes the report at that moment, and the same report then gives
    // the same bytes.
    let mut book = Book::new(
        format!("Usage Report ({})", w.window.kind.label()),
        as_of,
        ZIP_LEVEL,
    );
    let rows_per_sheet = options.max_rows_per_sheet.clamp(2, EXCEL_MAX_ROWS);

    write_summary(&mut book, w, as_of, provenance)?;

    // Every table sheet as core/src/sheets.rs describes it, in SPEC §5 order.
    write_sheet(&mut book, &sheets::UNIQUE_USER_COUNT, w, rows_per_sheet)?;
    write_sheet(&mut book, &sheets::ENTITY_TYPE_COUNT, w, rows_per_sheet)?;
    write_sheet(
        &mut book,
        &sheets::INTEGRATED_PROJECT_COUNT,
        w,
        rows_per_sheet,
    )?;
    write_sheet(&mut book, &sheets::SYNCED_DATA_COUNT, w, rows_per_sheet)?;
    write_sheet(&mut book, &sheets::DETAILED_USER_REPORT, w, rows_per_sheet)?;

    let bytes = book.finish()?;
    tracing::debug!(
        window = w.window.kind.label(),
        users = w.users.len(),
        bytes = bytes.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "workbook built"
    );
    Ok(bytes)
}

/// A cell of a small sheet, kept until the sheet's widths are known.
enum Cell {
    Text(String, Style),
    Count(u64),
    Time(DateTime<Utc>),
}

/// A small sheet's cells in writing order: rows downwards, columns left to right.
#[derive(Default)]
struct Grid {
    cells: Vec<(u32, u16, Cell)>,
}

impl Grid {
    fn text(&mut self, row: u32, col: u16, text: &str, style: Style) {
        let text = fit_cell(text).into_owned();
        if !text.is_empty() {
            self.cells.push((row, col, Cell::Text(text, style)));
        }
    }

    fn count(&mut self, row: u32, col: u16, n: u64) {
        self.cells.push((row, col, Cell::Count(n)));
    }

    fn time(&mut self, row: u32, col: u16, t: DateTime<Utc>) {
        self.cells.push((row, col, Cell::Time(t)));
    }

    /// Writes the grid as the sheet `name` (frozen header, no autofilter).
    fn write(&self, book: &mut Book, name: &str, widths: &[usize]) -> ZipResult<()> {
        let last_row = self.cells.iter().map(|c| c.0).max().unwrap_or(0);
        let last_col = self.cells.iter().map(|c| c.1).max().unwrap_or(0);
        let mut out = book.sheet(&SheetSpec {
            name,
            widths,
            last_row,
            last_col,
            autofilter: false,
            large: false,
        })?;
        for (row, col, cell) in &self.cells {
            match cell {
                Cell::Text(text, style) => out.text(*row, *col, text, *style)?,
                Cell::Count(n) => out.count(*row, *col, *n, Style::Count)?,
                Cell::Time(t) => write_time(&mut out, *row, *col, *t)?,
            }
        }
        out.end()
    }
}

/// The Summary sheet: a short label/value list, then the provenance block.
fn write_summary(
    book: &mut Book,
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<(&Provenance, DateTime<Utc>)>,
) -> ZipResult<()> {
    use crate::report::SummaryValue as V;
    let rows = w.summary_rows(as_of);

    let mut grid = Grid::default();
    let [metric, value_header] = sheets::SUMMARY_HEADERS;
    grid.text(0, 0, metric, Style::Header);
    grid.text(0, 1, value_header, Style::Header);
    let mut label_width = metric.len();
    let mut row: u32 = 0;
    for (label, value) in rows {
        row += 1;
        label_width = label_width.max(label.len());
        grid.text(row, 0, label, Style::Plain);
        match value {
            V::Count(n) => grid.count(row, 1, n),
            V::Time(t) => grid.time(row, 1, t),
        };
    }
    let mut value_width = TIME_WIDTH;
    let mut widths = Vec::new();
    if let Some((p, written_at)) = provenance {
        widths = write_sources(&mut grid, row + 2, p, written_at);
        label_width = label_width.max(widths[0]);
        value_width = value_width.max(widths[1]);
    }
    widths.resize(widths.len().max(2), 0);
    widths[0] = label_width + 2;
    widths[1] = value_width;
    // Frozen header like every sheet; no autofilter: filtering a label/value list
    // serves no one.
    grid.write(book, sheets::SUMMARY, &widths)
}

/// The Summary sheet's provenance block from row `first` down ([`sheets::SOURCES`] as a
/// small table with a bold header, then [`sheets::provenance_facts`] as label/value rows).
/// Returns the widths its columns want.
fn write_sources(
    grid: &mut Grid,
    first: u32,
    p: &Provenance,
    written_at: DateTime<Utc>,
) -> Vec<usize> {
    let columns = sheets::SOURCES.columns;
    let mut widths: Vec<usize> = columns
        .iter()
        .map(|c| match c.kind {
            Kind::Time => TIME_WIDTH.max(c.header.len()),
            _ => c.header.chars().count(),
        })
        .collect();
    let mut row = first;
    for (col, column) in (0..).zip(columns) {
        grid.text(row, col, column.header, Style::Header);
    }
    for source in (sheets::SOURCES.rows)(p) {
        row += 1;
        for ((col, column), width) in (0..).zip(columns).zip(widths.iter_mut()) {
            match (column.value)(source) {
                Value::Count(n) => grid.count(row, col, n),
                Value::Time(Some(t)) => grid.time(row, col, t),
                Value::Time(None) => {}
                other => {
                    let text = other.text();
                    *width = (*width).max(measure(&text).min(column.width));
                    grid.text(row, col, &text, Style::Plain);
                }
            }
        }
    }
    for (label, fact) in sheets::provenance_facts(p, written_at) {
        row += 1;
        widths[0] = widths[0].max(label.len());
        grid.text(row, 0, label, Style::Plain);
        match fact {
            // Long sentences spill over the empty cells to their right, as in Excel.
            sheets::Fact::Text(text) => grid.text(row, 1, &text, Style::Plain),
            sheets::Fact::Time(t) => grid.time(row, 1, t),
        }
    }
    widths
}

/// Writes the rows of `sheet` from `source` as a table sheet, continuing on `name (2)`,
/// `name (3)`, … when a sheet would pass `rows_per_sheet` rows (header included). Each
/// sheet gets its own header, bold and frozen, an autofilter over it and column widths
/// from the content; every sheet prints landscape, one page wide, with the header row
/// repeated on each page.
pub(crate) fn write_sheet<R, S>(
    book: &mut Book,
    sheet: &Sheet<R, S>,
    source: &S,
    rows_per_sheet: usize,
) -> ZipResult<()> {
    let rows = (sheet.rows)(source);
    let columns = sheet.columns;
    let name = sheet.name;
    let data_per_sheet = rows_per_sheet.saturating_sub(1).max(1);
    // An empty table is still a sheet with its header.
    let empty: &[&R] = &[];
    let mut pages: Vec<&[&R]> = rows.chunks(data_per_sheet).collect();
    if pages.is_empty() {
        pages.push(empty);
    }
    let last_col = u16::try_from(columns.len().saturating_sub(1)).unwrap_or(u16::MAX);

    let mut scratch = String::new();
    for (i, page) in pages.into_iter().enumerate() {
        let name: Cow<'_, str> = if i == 0 {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{name} ({})", i + 1))
        };
        // The first reading: the widest content per column and a pessimistic size of
        // the sheet's XML (to decide on ZIP64).
        let mut content = vec![0usize; columns.len()];
        let mut xml_bytes = 0u64;
        for row in page {
            for (column, widest) in columns.iter().zip(content.iter_mut()) {
                let (width, bytes) = measure_value((column.value)(row));
                *widest = (*widest).max(width);
                xml_bytes = xml_bytes.saturating_add(
                    CELL_XML_OVERHEAD
                        + XML_ESCAPE_FACTOR * u64::try_from(bytes).unwrap_or(u64::MAX / 8),
                );
            }
        }
        let widths: Vec<usize> = columns
            .iter()
            .zip(&content)
            .map(|(column, content)| {
                // +3 leaves room for the autofilter button next to the header text.
                let header_width = column.header.chars().count() + 3;
                match column.kind {
                    Kind::Text => (*content + 1).min(column.width).max(header_width),
                    Kind::Count => (*content + 1).max(header_width),
                    Kind::Time => TIME_WIDTH.max(header_width),
                }
            })
            .collect();
        let last_row = u32::try_from(page.len()).unwrap_or(u32::MAX);
        let mut out = book.sheet(&SheetSpec {
            name: &name,
            widths: &widths,
            last_row,
            last_col,
            autofilter: true,
            // ZIP64 only when a sheet's XML might pass 4 GiB: some readers other than
            // Excel dislike ZIP64 headers, so they are not added to ordinary files.
            large: xml_bytes >= u64::from(u32::MAX),
        })?;
        for (col, column) in (0..).zip(columns) {
            out.text(0, col, column.header, Style::Header)?;
        }
        for (row, values) in (1..).zip(page) {
            for (col, column) in (0..).zip(columns) {
                let value = (column.value)(values);
                write_value(&mut out, row, col, value, column.repeats, &mut scratch)?;
            }
        }
        out.end()?;
    }
    Ok(())
}

/// Per-cell XML overhead in the estimate (`<c r="AB1048576" s="12" t="inlineStr">…`).
const CELL_XML_OVERHEAD: u64 = 64;
/// Worst-case growth of text in XML (`"` becomes `&quot;`).
const XML_ESCAPE_FACTOR: u64 = 6;
/// Measure widths only up to this many characters; wider cells are capped anyway.
const MEASURE_LIMIT: usize = 256;
/// Bytes that surely hold [`MEASURE_LIMIT`] characters.
const MEASURE_BUDGET: usize = 4 * MEASURE_LIMIT;

/// The text of a joined value, built into `buf` and cut to fit a cell.
fn joined_text(value: &Value<'_>, buf: &mut String) {
    buf.clear();
    value.write_text(buf, BUILD_BUDGET);
    cut_in_place(buf);
}

/// The width (in characters) and size (in bytes) a value takes in its cell.
fn measure_value(value: Value<'_>) -> (usize, usize) {
    match value {
        Value::Count(n) => (count_width(n), 24),
        Value::Time(_) => (TIME_WIDTH, 24),
        // A cut keeps the first characters, so the width is that of the whole text, and
        // the whole text's length is an upper bound of the cell's.
        Value::Text(s) | Value::Ranked(s, _) => (measure(s), s.len()),
        joined => {
            // The width counts MEASURE_LIMIT characters at most: measure no further (a
            // user with thousands of emails would be measured whole). Past the budget the
            // cell may be as long as any built cell.
            let (width, bytes) = joined.measure_text(MEASURE_LIMIT, MEASURE_BUDGET);
            let bytes = if bytes > MEASURE_BUDGET {
                BUILD_BUDGET
            } else {
                bytes
            };
            (width, bytes)
        }
    }
}

/// One cell: counts and times as numbers, everything else as text cut to fit a cell if
/// needed, the text of a column that `repeats` through the workbook's shared-string
/// table. An empty value is a blank cell.
fn write_value(
    out: &mut SheetOut<'_>,
    row: u32,
    col: u16,
    value: Value<'_>,
    repeats: bool,
    scratch: &mut String,
) -> ZipResult<()> {
    let text = |out: &mut SheetOut<'_>, text: &str| match repeats {
        true => out.shared_text(row, col, text, Style::Plain),
        false => out.text(row, col, text, Style::Plain),
    };
    match value {
        Value::Count(n) => out.count(row, col, n, Style::Count),
        Value::Time(Some(t)) => write_time(out, row, col, t),
        Value::Time(None) => Ok(()),
        Value::Text(s) | Value::Ranked(s, _) => text(out, &fit_cell(s)),
        joined => {
            joined_text(&joined, scratch);
            text(out, scratch)
        }
    }
}

/// A real Excel date-time in UTC. Excel cannot show dates before 1900 or after 9999;
/// such a value (only from bad input) is written as text in the same shape rather than
/// as a wrong date.
fn write_time(out: &mut SheetOut<'_>, row: u32, col: u16, t: DateTime<Utc>) -> ZipResult<()> {
    if excel_can_show(t) {
        out.time(row, col, t, Style::Time)
    } else {
        let mut text = String::with_capacity(16);
        push_minute(&mut text, &t);
        out.text(row, col, &text, Style::Plain)
    }
}

/// Characters of `n` shown as `#,##0`.
fn count_width(n: u64) -> usize {
    let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    digits + (digits - 1) / 3
}

/// Display width of a cell's text in characters, stopping early for long text.
fn measure(s: &str) -> usize {
    s.chars().take(MEASURE_LIMIT).count()
}

/// A joined cell longer than this many bytes has more than [`MAX_CELL_UTF16`] UTF-16
/// units (a char is at most 3 bytes per UTF-16 unit), so it will be cut, and the cut
/// falls inside these bytes: building beyond them is wasted work.
const BUILD_BUDGET: usize = 3 * MAX_CELL_UTF16 + 4;

/// `s` as it fits in one cell: unchanged if it is at most [`MAX_CELL_UTF16`] UTF-16
/// units, else cut on a char boundary so that the rest plus `…` is exactly within it.
fn fit_cell(s: &str) -> Cow<'_, str> {
    match cut_point(s) {
        None => Cow::Borrowed(s),
        Some(at) => {
            let mut cut = String::with_capacity(at + ELLIPSIS.len_utf8());
            cut.push_str(&s[..at]);
            cut.push(ELLIPSIS);
            Cow::Owned(cut)
        }
    }
}

fn cut_in_place(s: &mut String) {
    if let Some(at) = cut_point(s) {
        s.truncate(at);
        s.push(ELLIPSIS);
    }
}

/// The byte index to cut `s` at (before appending `…`), or `None` if `s` fits.
fn cut_point(s: &str) -> Option<usize> {
    // UTF-16 units never outnumber UTF-8 bytes: a short string fits without counting.
    if s.len() <= MAX_CELL_UTF16 {
        return None;
    }
    let room = MAX_CELL_UTF16 - ELLIPSIS.len_utf16();
    let mut units = 0usize;
    let mut cut = None;
    for (i, c) in s.char_indices() {
        let next = units + c.len_utf16();
        if next > room && cut.is_none() {
            cut = Some(i);
        }
        if next > MAX_CELL_UTF16 {
            return cut;
        }
        units = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn short_text_is_kept() {
        assert!(matches!(fit_cell("abc"), Cow::Borrowed("abc")));
        let exact = "x".repeat(MAX_CELL_UTF16);
        assert_eq!(fit_cell(&exact).as_ref(), exact);
    }

    #[test]
    fn exactly_at_limit_in_utf16_is_kept_even_when_bytes_exceed() {
        // 3-byte chars: 32,767 of them are 98,301 bytes but 32,767 units.
        let s = "€".repeat(MAX_CELL_UTF16);
        assert_eq!(fit_cell(&s).as_ref(), s);
    }

    #[test]
    fn long_text_is_cut_with_ellipsis() {
        let s = "y".repeat(MAX_CELL_UTF16 + 1);
        let cut = fit_cell(&s);
        assert!(cut.ends_with('…'));
        assert_eq!(utf16(&cut), MAX_CELL_UTF16);
    }

    #[test]
    fn surrogate_pairs_are_not_split() {
        // Each emoji is 2 UTF-16 units; 32,766 units of room is an odd split point
        // after an odd prefix.
        let s = format!("a{}", "😀".repeat(20_000));
        let cut = fit_cell(&s);
        assert!(cut.ends_with('…'));
        assert!(utf16(&cut) <= MAX_CELL_UTF16);
        assert!(utf16(&cut) >= MAX_CELL_UTF16 - 1);
    }

    #[test]
    fn in_place_cut_matches() {
        let s = "ab😀".repeat(20_000);
        let mut t = s.clone();
        cut_in_place(&mut t);
        assert_eq!(t, fit_cell(&s));
    }

    #[test]
    fn count_widths() {
        assert_eq!(count_width(0), 1);
        assert_eq!(count_width(999), 3);
        assert_eq!(count_width(1000), 5);
        assert_eq!(count_width(1_000_000), 9);
    }
}
