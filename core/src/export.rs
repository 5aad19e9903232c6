//! Report -> two workbooks -> `Usage Reports.zip` (SPEC §5).
//!
//! Shape of the work, and why:
//! - Each window's workbook is built on its own thread (`std::thread::scope`): the two
//!   are independent and the big one (Detailed User Report, up to ~1M rows) dominates.
//! - Table sheets use rust_xlsxwriter's constant-memory mode, so a million users cost a
//!   temporary file, not a million rows of cells in RAM. That mode silently drops a
//!   write to an already flushed row, so every table goes through [`SheetWriter`], which
//!   can only move left to right and downwards.
//! - The `.xlsx` files are zip archives already; the outer zip stores them (`Stored`).
//! - The file is written next to the destination under a dot-name, fsynced and renamed
//!   into place, so a failed export never leaves a partial `Usage Reports.zip`.

use std::borrow::Cow;
use std::io::{Cursor, Seek, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use rust_xlsxwriter::{
    ColNum, DocProperties, Format, FormatBorder, RowNum, Workbook, Worksheet, XlsxError,
};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::destination;
use crate::report::{Provenance, Report, WindowKind, WindowReport};
use crate::sheets::{self, push_minute, Kind, Sheet, Value};

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
    /// A destination refused by [`crate::destination`] (a special file); other
    /// destination errors arrive as [`ExportError::Io`].
    #[error(transparent)]
    Destination(crate::destination::DestinationError),
}

/// The file name used when the destination is a directory.
pub const ZIP_NAME: &str = "Usage Reports.zip";

/// Excel's row limit per worksheet, header row included.
pub const EXCEL_MAX_ROWS: usize = 1_048_576;

/// Excel's limit on the text of one cell, in UTF-16 code units (what Excel and
/// rust_xlsxwriter count).
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

/// The cell formats of one workbook.
pub(crate) struct Formats {
    header: Format,
    count: Format,
    time: Format,
}

impl Formats {
    pub(crate) fn new() -> Self {
        Formats {
            header: Format::new()
                .set_bold()
                .set_border_bottom(FormatBorder::Thin),
            count: Format::new().set_num_format("#,##0"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
        }
    }
}

/// The deflate level of the workbooks' parts.
const ZIP_LEVEL: u8 = 2;

/// Width of a `yyyy-mm-dd hh:mm` cell, with a little air.
const TIME_WIDTH: usize = 17;

fn build_workbook(
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<(&Provenance, DateTime<Utc>)>,
    options: &ExportOptions,
) -> Result<Vec<u8>, XlsxError> {
    let started = std::time::Instant::now();
    let mut wb = Workbook::new();
    // Level 2: the Detailed User Report's deflate was the largest single cost of writing
    // it at level 3; level 1 (zlib-rs's "quick", static Huffman codes) was faster still
    // but 35 % larger (bench/RESULTS.md, "Export, this round").
    wb.set_zip_compression_level(ZIP_LEVEL);
    // Creation time = as_of: the document describes the report at that moment, and the
    // same report then gives the same bytes.
    wb.set_properties(
        &DocProperties::new()
            .set_title(format!("Usage Report ({})", w.window.kind.label()))
            .set_author("tally")
            .set_creation_datetime(&as_of),
    );
    let fmt = Formats::new();
    let rows_per_sheet = options.max_rows_per_sheet.clamp(2, EXCEL_MAX_ROWS);
    let mut largest_sheet = 0u64;

    write_summary(&mut wb, &fmt, w, as_of, provenance)?;

    // Every table sheet as core/src/sheets.rs describes it, in SPEC §5 order.
    largest_sheet = largest_sheet.max(write_sheet(
        &mut wb,
        &fmt,
        &sheets::UNIQUE_USER_COUNT,
        w,
        rows_per_sheet,
    )?);
    largest_sheet = largest_sheet.max(write_sheet(
        &mut wb,
        &fmt,
        &sheets::ENTITY_TYPE_COUNT,
        w,
        rows_per_sheet,
    )?);
    largest_sheet = largest_sheet.max(write_sheet(
        &mut wb,
        &fmt,
        &sheets::INTEGRATED_PROJECT_COUNT,
        w,
        rows_per_sheet,
    )?);
    largest_sheet = largest_sheet.max(write_sheet(
        &mut wb,
        &fmt,
        &sheets::SYNCED_DATA_COUNT,
        w,
        rows_per_sheet,
    )?);
    largest_sheet = largest_sheet.max(write_sheet(
        &mut wb,
        &fmt,
        &sheets::DETAILED_USER_REPORT,
        w,
        rows_per_sheet,
    )?);

    // ZIP64 only when a sheet's XML might pass 4 GiB: some readers other than Excel
    // dislike ZIP64 headers, so they are not added to ordinary files.
    wb.use_zip_large_file(largest_sheet >= u64::from(u32::MAX));

    let bytes = wb.save_to_buffer()?;
    tracing::debug!(
        window = w.window.kind.label(),
        users = w.users.len(),
        bytes = bytes.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "workbook built"
    );
    Ok(bytes)
}

/// The Summary sheet: a short label/value list, so an ordinary (in-memory) worksheet.
fn write_summary(
    wb: &mut Workbook,
    fmt: &Formats,
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<(&Provenance, DateTime<Utc>)>,
) -> Result<(), XlsxError> {
    use crate::report::SummaryValue as V;
    let rows = w.summary_rows(as_of);

    let ws = wb.add_worksheet();
    let [metric, value_header] = sheets::SUMMARY_HEADERS;
    ws.set_name(sheets::SUMMARY)?;
    ws.write_string_with_format(0, 0, metric, &fmt.header)?;
    ws.write_string_with_format(0, 1, value_header, &fmt.header)?;
    let mut label_width = metric.len();
    let mut row: RowNum = 0;
    for (label, value) in rows {
        row += 1;
        label_width = label_width.max(label.len());
        ws.write_string(row, 0, label)?;
        match value {
            V::Count(n) => write_count(ws, row, 1, n, &fmt.count)?,
            V::Time(t) => write_time(ws, row, 1, t, &fmt.time)?,
        };
    }
    let mut value_width = TIME_WIDTH;
    if let Some((p, written_at)) = provenance {
        let widths = write_sources(ws, fmt, row + 2, p, written_at)?;
        label_width = label_width.max(widths[0]);
        value_width = value_width.max(widths[1]);
        for (col, width) in (2..).zip(&widths[2..]) {
            ws.set_column_width(col, col_width(*width))?;
        }
    }
    ws.set_column_width(0, col_width(label_width + 2))?;
    ws.set_column_width(1, col_width(value_width))?;
    // Frozen header like every sheet; no autofilter: filtering a label/value list
    // serves no one.
    ws.set_freeze_panes(1, 0)?;
    print_setup(ws)?;
    Ok(())
}

/// The Summary sheet's provenance block from row `first` down ([`sheets::SOURCES`] as a
/// small table with a bold header, then [`sheets::provenance_facts`] as label/value rows).
/// Returns the widths its columns want.
fn write_sources(
    ws: &mut Worksheet,
    fmt: &Formats,
    first: RowNum,
    p: &Provenance,
    written_at: DateTime<Utc>,
) -> Result<Vec<usize>, XlsxError> {
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
        ws.write_string_with_format(row, col, column.header, &fmt.header)?;
    }
    for source in (sheets::SOURCES.rows)(p) {
        row += 1;
        for ((col, column), width) in (0..).zip(columns).zip(widths.iter_mut()) {
            match (column.value)(source) {
                Value::Count(n) => write_count(ws, row, col, n, &fmt.count)?,
                Value::Time(Some(t)) => write_time(ws, row, col, t, &fmt.time)?,
                Value::Time(None) => {}
                other => {
                    let text = other.text();
                    *width = (*width).max(measure(&text).min(column.width));
                    if !text.is_empty() {
                        ws.write_string(row, col, fit_cell(&text).as_ref())?;
                    }
                }
            }
        }
    }
    for (label, fact) in sheets::provenance_facts(p, written_at) {
        row += 1;
        widths[0] = widths[0].max(label.len());
        ws.write_string(row, 0, label)?;
        match fact {
            // Long sentences spill over the empty cells to their right, as in Excel.
            sheets::Fact::Text(text) => {
                ws.write_string(row, 1, fit_cell(&text).as_ref())?;
            }
            sheets::Fact::Time(t) => write_time(ws, row, 1, t, &fmt.time)?,
        }
    }
    Ok(widths)
}

/// Every sheet prints landscape, one page wide (as many pages tall as it needs), with the
/// header row repeated on each page.
pub(crate) fn print_setup(ws: &mut Worksheet) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(0, 0)?;
    Ok(())
}

/// Writes the rows of `sheet` from `source` as a table sheet, continuing on `name (2)`,
/// `name (3)`, … when a sheet would pass `rows_per_sheet` rows (header included). Each
/// sheet gets its own header, bold and frozen, an autofilter over it and column widths
/// from the content. Returns a (pessimistic) estimate of the largest sheet's XML size in
/// bytes.
pub(crate) fn write_sheet<R, S>(
    wb: &mut Workbook,
    fmt: &Formats,
    sheet: &Sheet<R, S>,
    source: &S,
    rows_per_sheet: usize,
) -> Result<u64, XlsxError> {
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
    let last_col = ColNum::try_from(columns.len().saturating_sub(1))
        .map_err(|_| XlsxError::ParameterError("too many columns".to_string()))?;

    let mut largest = 0u64;
    let mut scratch = String::new();
    for (i, page) in pages.into_iter().enumerate() {
        let ws = wb.add_worksheet_with_constant_memory()?;
        if i == 0 {
            ws.set_name(name)?;
        } else {
            ws.set_name(format!("{name} ({})", i + 1))?;
        }
        let mut s = SheetWriter {
            ws,
            fmt,
            row: 0,
            col: 0,
            widths: columns.iter().map(|_| 0).collect(),
            xml_bytes: 0,
            scratch: std::mem::take(&mut scratch),
        };
        for column in columns {
            s.header(column.header)?;
        }
        for row in page {
            s.next_row();
            for column in columns {
                s.value((column.value)(row))?;
            }
        }

        let last_row = s.row;
        for (col, (column, content)) in columns.iter().zip(&s.widths).enumerate() {
            // +3 leaves room for the autofilter button next to the header text.
            let header_width = column.header.chars().count() + 3;
            let width = match column.kind {
                Kind::Text => (*content + 1).min(column.width).max(header_width),
                Kind::Count => (*content + 1).max(header_width),
                Kind::Time => TIME_WIDTH.max(header_width),
            };
            let col = ColNum::try_from(col)
                .map_err(|_| XlsxError::ParameterError("too many columns".to_string()))?;
            s.ws.set_column_width(col, col_width(width))?;
        }
        s.ws.set_freeze_panes(1, 0)?;
        s.ws.autofilter(0, 0, last_row, last_col)?;
        print_setup(s.ws)?;
        largest = largest.max(s.xml_bytes);
        scratch = s.scratch;
    }
    Ok(largest)
}

#[allow(clippy::cast_precision_loss)] // widths are small
fn col_width(chars: usize) -> f64 {
    chars as f64
}

/// Writes the cells of one table sheet strictly left to right and top to bottom: the
/// only order constant-memory mode keeps.
struct SheetWriter<'a> {
    ws: &'a mut Worksheet,
    fmt: &'a Formats,
    row: RowNum,
    col: ColNum,
    /// The widest content seen per column, in characters (capped when measured).
    widths: Vec<usize>,
    /// Pessimistic size of the sheet's XML, to decide on ZIP64.
    xml_bytes: u64,
    /// Reused for cells joined from several values, so a cell costs one exact-size
    /// copy instead of a growing string.
    scratch: String,
}

/// Per-cell XML overhead in the estimate (`<c r="AB1048576" s="12" t="inlineStr">…`).
const CELL_XML_OVERHEAD: u64 = 64;
/// Worst-case growth of text in XML (`"` becomes `&quot;`).
const XML_ESCAPE_FACTOR: u64 = 6;
/// Measure widths only up to this many characters; wider cells are capped anyway.
const MEASURE_LIMIT: usize = 256;

impl SheetWriter<'_> {
    fn header(&mut self, text: &str) -> Result<(), XlsxError> {
        self.ws
            .write_string_with_format(0, self.col, text, &self.fmt.header)?;
        self.col += 1;
        Ok(())
    }

    fn next_row(&mut self) {
        self.row += 1;
        self.col = 0;
    }

    fn done_cell(&mut self, width: usize, bytes: usize) {
        if let Some(w) = self.widths.get_mut(usize::from(self.col)) {
            *w = (*w).max(width);
        }
        self.xml_bytes = self.xml_bytes.saturating_add(
            CELL_XML_OVERHEAD + XML_ESCAPE_FACTOR * u64::try_from(bytes).unwrap_or(u64::MAX / 8),
        );
        self.col += 1;
    }

    /// One cell: counts and times as numbers, everything else as text cut to fit a cell
    /// if needed. An empty value is a blank cell.
    fn value(&mut self, value: Value<'_>) -> Result<(), XlsxError> {
        match value {
            Value::Count(n) => self.count(n),
            Value::Time(t) => self.time(t),
            Value::Text(s) | Value::Ranked(s, _) => self.text(s),
            joined => {
                let mut buf = std::mem::take(&mut self.scratch);
                buf.clear();
                joined.write_text(&mut buf, BUILD_BUDGET);
                cut_in_place(&mut buf);
                let (width, bytes) = (measure(&buf), buf.len());
                let result = if buf.is_empty() {
                    Ok(())
                } else {
                    self.ws
                        .write_string(self.row, self.col, buf.as_str())
                        .map(|_| ())
                };
                self.scratch = buf;
                result?;
                self.done_cell(width, bytes);
                Ok(())
            }
        }
    }

    fn text(&mut self, value: &str) -> Result<(), XlsxError> {
        let value = fit_cell(value);
        let (width, bytes) = (measure(&value), value.len());
        if !value.is_empty() {
            self.ws.write_string(self.row, self.col, value)?;
        }
        self.done_cell(width, bytes);
        Ok(())
    }

    fn count(&mut self, n: u64) -> Result<(), XlsxError> {
        write_count(self.ws, self.row, self.col, n, &self.fmt.count)?;
        self.done_cell(count_width(n), 24);
        Ok(())
    }

    /// A date-time cell; `None` is a blank cell.
    fn time(&mut self, t: Option<DateTime<Utc>>) -> Result<(), XlsxError> {
        if let Some(t) = t {
            write_time(self.ws, self.row, self.col, t, &self.fmt.time)?;
        }
        self.done_cell(TIME_WIDTH, 24);
        Ok(())
    }
}

#[allow(clippy::cast_precision_loss)] // counts beyond 2^53 do not occur
fn write_count(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    n: u64,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.write_number_with_format(row, col, n as f64, format)?;
    Ok(())
}

/// A real Excel date-time in UTC. Excel cannot show dates before 1900 or after 9999;
/// such a value (only from bad input) is written as text in the same shape rather than
/// as a wrong date.
fn write_time(
    ws: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    t: DateTime<Utc>,
    format: &Format,
) -> Result<(), XlsxError> {
    if (1900..=9999).contains(&t.year()) {
        ws.write_datetime_with_format(row, col, t.naive_utc(), format)?;
    } else {
        let mut text = String::with_capacity(16);
        push_minute(&mut text, &t);
        ws.write_string(row, col, text)?;
    }
    Ok(())
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
