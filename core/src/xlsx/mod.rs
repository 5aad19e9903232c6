//! The workbooks' own writer: table sheets of text, counts and date-times streamed
//! straight into the `.xlsx` zip, with the few features tally's sheets use (a bold
//! header, two number formats, column widths, a frozen header, an autofilter, landscape
//! printing one page wide with the header repeated, document properties).
//!
//! Why not rust_xlsxwriter, which wrote them before: each of its cells cost about 2,300
//! instructions (a `String`, an `Arc<str>`, a `BTreeMap` insert, `write!` formatting,
//! a hash of the whole `Format` per formatted cell), two thirds of the access insights'
//! time for 100,000 accounts, and its constant-memory mode wrote every sheet to a
//! temporary file before deflating it (bench/RESULTS-insights.md). Here a cell is a few
//! byte copies into a buffer, and full buffers go to a thread that deflates them into the
//! zip while the next one fills.
//!
//! The parts are the ones rust_xlsxwriter wrote for these sheets (the same styles,
//! theme, page setup and defined names), so Excel, LibreOffice and calamine read the
//! same workbook; `theme1.xml` is the standard Office theme as rust_xlsxwriter ships it
//! (MIT / Apache-2.0). Strings are inline (`t="inlineStr"`), so the sheets stream,
//! except those of columns that hold a few texts over and over (a user's rule, the
//! interaction types, whether a service account): these go once into a shared-string
//! table written after the sheets, and a cell names one by number (`t="s"`). In the
//! Detailed User Report such cells were two fifths of the XML.

use std::io::{Cursor, Seek, Write};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use zip::result::{ZipError, ZipResult};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const STYLES: &str = include_str!("styles.xml");
const THEME: &str = include_str!("theme1.xml");
const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";

/// A cell's style: its index in `styles.xml`'s `cellXfs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain = 0,
    /// Bold with a thin bottom border.
    Header = 1,
    /// `#,##0`.
    Count = 2,
    /// `yyyy-mm-dd hh:mm`.
    Time = 3,
}

/// What a sheet's XML says before its cells.
pub(crate) struct SheetSpec<'a> {
    pub name: &'a str,
    /// Column widths in characters, from column A.
    pub widths: &'a [usize],
    /// The last row and column that hold a cell (0-based), for the sheet's dimension
    /// and autofilter.
    pub last_row: u32,
    pub last_col: u16,
    pub autofilter: bool,
    /// The sheet's XML may pass 4 GiB (ZIP64 for this part only).
    pub large: bool,
}

struct SheetMeta {
    name: String,
    /// The autofilter's last row and column.
    filter: Option<(u32, u16)>,
}

/// What the zip thread is asked to do.
enum Job {
    /// Start the part `name` (ZIP64 if `large`).
    Start { name: String, large: bool },
    /// Append these bytes to the current part.
    Data(Vec<u8>),
}

/// One workbook being written into `W`. The parts are deflated on a thread of their own
/// that owns the zip, so the sheets' XML is made while the last chunk is compressed
/// (deflate is two thirds of writing a sheet).
pub(crate) struct Book {
    jobs: Option<std::sync::mpsc::SyncSender<Job>>,
    /// Chunks the zip thread is done with, for reuse.
    spent: std::sync::mpsc::Receiver<Vec<u8>>,
    zipper: Option<std::thread::JoinHandle<ZipResult<Cursor<Vec<u8>>>>>,
    sheets: Vec<SheetMeta>,
    title: String,
    created: DateTime<Utc>,
    shared: SharedStrings,
}

/// The workbook's shared-string table, in order of first use.
#[derive(Default)]
struct SharedStrings {
    index: rustc_hash::FxHashMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    /// Cells naming one.
    uses: u64,
}

impl SharedStrings {
    fn number(&mut self, text: &str) -> u32 {
        self.uses += 1;
        if let Some(&n) = self.index.get(text) {
            return n;
        }
        let n = u32::try_from(self.texts.len()).unwrap_or(u32::MAX);
        self.texts.push(text.into());
        self.index.insert(text.into(), n);
        n
    }

    /// `xl/sharedStrings.xml`.
    fn xml(&self) -> String {
        let mut x = String::from(XML_DECLARATION);
        x.push_str(&format!(
            "<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             count=\"{}\" uniqueCount=\"{}\">",
            self.uses,
            self.texts.len()
        ));
        let mut text = Vec::new();
        for t in &self.texts {
            x.push_str("<si><t");
            if needs_preserve(t) {
                x.push_str(" xml:space=\"preserve\"");
            }
            x.push('>');
            text.clear();
            push_cell_text(&mut text, t);
            x.push_str(&String::from_utf8_lossy(&text));
            x.push_str("</t></si>");
        }
        x.push_str("</sst>");
        x
    }
}

/// Leading or trailing white space that XML would otherwise let a reader drop.
fn needs_preserve(text: &str) -> bool {
    text.starts_with(['\t', '\n', ' ']) || text.ends_with(['\t', '\n', ' '])
}

/// Flush a sheet's buffer to the zip thread at this size.
const BUFFER: usize = 256 * 1024;

/// Chunks in flight to the zip thread (each about [`BUFFER`] bytes).
const CHUNKS_IN_FLIGHT: usize = 4;

fn options(level: i64, large: bool) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(level))
        .unix_permissions(0o600)
        .last_modified_time(zip::DateTime::default())
        .large_file(large)
}

/// The zip thread: runs the jobs until the book hangs up, then ends the zip.
fn zip_jobs<W: Write + Seek>(
    writer: W,
    level: i64,
    jobs: &std::sync::mpsc::Receiver<Job>,
    spent: &std::sync::mpsc::Sender<Vec<u8>>,
) -> ZipResult<W> {
    let mut zip = ZipWriter::new(writer);
    for job in jobs {
        match job {
            Job::Start { name, large } => zip.start_file(name, options(level, large))?,
            Job::Data(chunk) => {
                zip.write_all(&chunk).map_err(ZipError::Io)?;
                // The book may be gone already; then the chunk is simply dropped.
                let _ = spent.send(chunk);
            }
        }
    }
    zip.finish()
}

impl Book {
    /// A workbook titled `title`, created at `created` (also its modification time, so the
    /// same content gives the same bytes), its parts deflated at `level`.
    pub(crate) fn new(title: String, created: DateTime<Utc>, level: i64) -> Self {
        let writer = Cursor::new(Vec::new());
        let (jobs, inbox) = std::sync::mpsc::sync_channel::<Job>(CHUNKS_IN_FLIGHT);
        let (spent_tx, spent) = std::sync::mpsc::channel();
        let zipper = std::thread::Builder::new()
            .name("tally-xlsx".to_owned())
            .spawn(move || zip_jobs(writer, level, &inbox, &spent_tx));
        let (jobs, zipper) = match zipper {
            Ok(handle) => (Some(jobs), Some(handle)),
            // No thread: the first job reports it.
            Err(_) => (None, None),
        };
        Book {
            jobs,
            spent,
            zipper,
            sheets: Vec::new(),
            title,
            created,
            shared: SharedStrings::default(),
        }
    }

    /// Hands `job` to the zip thread; if that has stopped, its error.
    fn send(&mut self, job: Job) -> ZipResult<()> {
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_ok() {
                return Ok(());
            }
        }
        Err(self.join().err().unwrap_or_else(|| {
            ZipError::Io(std::io::Error::other("the workbook's zip thread stopped"))
        }))
    }

    /// Hangs up and waits for the zip thread's end.
    fn join(&mut self) -> ZipResult<Cursor<Vec<u8>>> {
        self.jobs = None;
        match self.zipper.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            // A panic is a bug, not an export error: let it surface as one.
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => Err(ZipError::Io(std::io::Error::other(
                "cannot start the workbook's zip thread",
            ))),
        }
    }

    /// A buffer for the next chunk, reusing a spent one.
    fn chunk(&self) -> Vec<u8> {
        let mut buf = self
            .spent
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BUFFER + 4096));
        buf.clear();
        buf
    }

    fn part(&mut self, name: &str, text: &str) -> ZipResult<()> {
        self.send(Job::Start {
            name: name.to_owned(),
            large: false,
        })?;
        self.send(Job::Data(text.as_bytes().to_vec()))
    }

    /// Starts the next sheet; its cells follow through the returned [`SheetOut`], which
    /// must be ended before the next sheet starts.
    pub(crate) fn sheet(&mut self, spec: &SheetSpec<'_>) -> ZipResult<SheetOut<'_>> {
        let first = self.sheets.is_empty();
        self.sheets.push(SheetMeta {
            name: spec.name.to_owned(),
            filter: spec.autofilter.then_some((spec.last_row, spec.last_col)),
        });
        let name = format!("xl/worksheets/sheet{}.xml", self.sheets.len());
        self.send(Job::Start {
            name,
            large: spec.large,
        })?;
        let mut x = String::with_capacity(4096);
        x.push_str(XML_DECLARATION);
        x.push_str(
            "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
             <sheetPr><pageSetUpPr fitToPage=\"1\"/></sheetPr><dimension ref=\"",
        );
        push_cell_name(&mut x, 0, 0);
        if (spec.last_row, spec.last_col) != (0, 0) {
            x.push(':');
            push_cell_name(&mut x, spec.last_row, spec.last_col);
        }
        x.push_str("\"/><sheetViews><sheetView ");
        if first {
            x.push_str("tabSelected=\"1\" ");
        }
        x.push_str(
            "workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" \
             state=\"frozen\"/><selection pane=\"bottomLeft\"/></sheetView></sheetViews>\
             <sheetFormatPr defaultRowHeight=\"15\"/>",
        );
        push_cols(&mut x, spec.widths);
        x.push_str("<sheetData>");
        let mut buf = self.chunk();
        buf.extend_from_slice(x.as_bytes());
        Ok(SheetOut {
            book: self,
            buf,
            row: None,
            next_col: 0,
        })
    }

    /// Writes the workbook's other parts and ends the zip: the `.xlsx` file's bytes.
    pub(crate) fn finish(mut self) -> ZipResult<Vec<u8>> {
        let names: Vec<String> = self.sheets.iter().map(|s| s.name.clone()).collect();
        let n = names.len();
        // Defined names as rust_xlsxwriter (and Excel) order them: by name, then by
        // reference, ignoring case.
        let mut defined: Vec<(&str, usize, String, bool)> = Vec::new();
        for (i, s) in self.sheets.iter().enumerate() {
            let quoted = quote_sheet_name(&s.name);
            if let Some((row, col)) = s.filter {
                let mut r = format!("{quoted}!$A$1:$");
                push_col_name(&mut r, col);
                r.push('$');
                r.push_str(&(row + 1).to_string());
                defined.push(("_xlnm._FilterDatabase", i, r, true));
            }
            defined.push(("_xlnm.Print_Titles", i, format!("{quoted}!$1:$1"), false));
        }
        defined.sort_by_cached_key(|d| (d.0.to_lowercase(), d.2.to_lowercase()));

        let mut workbook = String::from(XML_DECLARATION);
        workbook.push_str(
            "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
             xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
             <fileVersion appName=\"xl\" lastEdited=\"4\" lowestEdited=\"4\" rupBuild=\"4505\"/>\
             <workbookPr defaultThemeVersion=\"124226\"/><bookViews><workbookView xWindow=\"240\" \
             yWindow=\"15\" windowWidth=\"16095\" windowHeight=\"9660\"/></bookViews><sheets>",
        );
        for (i, name) in names.iter().enumerate() {
            workbook.push_str("<sheet name=\"");
            push_escaped(&mut workbook, name, true);
            workbook.push_str(&format!("\" sheetId=\"{}\" r:id=\"rId{}\"/>", i + 1, i + 1));
        }
        workbook.push_str("</sheets><definedNames>");
        for (name, sheet, reference, hidden) in &defined {
            workbook.push_str(&format!(
                "<definedName name=\"{name}\" localSheetId=\"{sheet}\""
            ));
            if *hidden {
                workbook.push_str(" hidden=\"1\"");
            }
            workbook.push('>');
            push_escaped(&mut workbook, reference, false);
            workbook.push_str("</definedName>");
        }
        workbook
            .push_str("</definedNames><calcPr calcId=\"124519\" fullCalcOnLoad=\"1\"/></workbook>");

        let mut rels = String::from(XML_DECLARATION);
        rels.push_str(
            "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">",
        );
        const OFFICE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        for i in 1..=n {
            rels.push_str(&format!(
                "<Relationship Id=\"rId{i}\" Type=\"{OFFICE}/worksheet\" \
                 Target=\"worksheets/sheet{i}.xml\"/>"
            ));
        }
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" Type=\"{OFFICE}/theme\" Target=\"theme/theme1.xml\"/>\
             <Relationship Id=\"rId{}\" Type=\"{OFFICE}/styles\" Target=\"styles.xml\"/>",
            n + 1,
            n + 2
        ));
        let shared = !self.shared.texts.is_empty();
        if shared {
            rels.push_str(&format!(
                "<Relationship Id=\"rId{}\" Type=\"{OFFICE}/sharedStrings\" \
                 Target=\"sharedStrings.xml\"/>",
                n + 3
            ));
        }
        rels.push_str("</Relationships>");

        const SHEET_TYPE: &str =
            "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml";
        let mut types = String::from(XML_DECLARATION);
        types.push_str(
            "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" \
             ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/docProps/app.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>\
             <Override PartName=\"/docProps/core.xml\" \
             ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>\
             <Override PartName=\"/xl/styles.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
             <Override PartName=\"/xl/theme/theme1.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.theme+xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" \
             ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
        );
        for i in 1..=n {
            types.push_str(&format!(
                "<Override PartName=\"/xl/worksheets/sheet{i}.xml\" ContentType=\"{SHEET_TYPE}\"/>"
            ));
        }
        if shared {
            types.push_str(
                "<Override PartName=\"/xl/sharedStrings.xml\" \
                 ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/>",
            );
        }
        types.push_str("</Types>");

        let mut root = String::from(XML_DECLARATION);
        root.push_str(&format!(
            "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
             <Relationship Id=\"rId1\" Type=\"{OFFICE}/officeDocument\" Target=\"xl/workbook.xml\"/>\
             <Relationship Id=\"rId2\" \
             Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" \
             Target=\"docProps/core.xml\"/>\
             <Relationship Id=\"rId3\" Type=\"{OFFICE}/extended-properties\" \
             Target=\"docProps/app.xml\"/></Relationships>"
        ));

        let titles: Vec<String> = defined
            .iter()
            .filter(|d| !d.3)
            .map(|d| d.2.replace("$1:$1", "Print_Titles"))
            .collect();
        let mut app = String::from(XML_DECLARATION);
        app.push_str(&format!(
            "<Properties xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" \
             xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">\
             <Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity>\
             <ScaleCrop>false</ScaleCrop><HeadingPairs><vt:vector size=\"4\" baseType=\"variant\">\
             <vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{n}</vt:i4>\
             </vt:variant><vt:variant><vt:lpstr>Named Ranges</vt:lpstr></vt:variant><vt:variant>\
             <vt:i4>{}</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts>\
             <vt:vector size=\"{}\" baseType=\"lpstr\">",
            titles.len(),
            n + titles.len()
        ));
        for t in names.iter().chain(&titles) {
            app.push_str("<vt:lpstr>");
            push_escaped(&mut app, t, false);
            app.push_str("</vt:lpstr>");
        }
        app.push_str(
            "</vt:vector></TitlesOfParts><Company></Company><LinksUpToDate>false</LinksUpToDate>\
             <SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>\
             <AppVersion>12.0000</AppVersion></Properties>",
        );

        let when = self.created.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut core = String::from(XML_DECLARATION);
        core.push_str(
            "<cp:coreProperties \
             xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
             xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:dcterms=\"http://purl.org/dc/terms/\" \
             xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><dc:title>",
        );
        push_escaped(&mut core, &self.title, false);
        core.push_str(&format!(
            "</dc:title><dc:creator>tally</dc:creator><cp:lastModifiedBy>tally</cp:lastModifiedBy>\
             <dcterms:created xsi:type=\"dcterms:W3CDTF\">{when}</dcterms:created>\
             <dcterms:modified xsi:type=\"dcterms:W3CDTF\">{when}</dcterms:modified>\
             </cp:coreProperties>"
        ));

        self.part("[Content_Types].xml", &types)?;
        self.part("_rels/.rels", &root)?;
        self.part("docProps/app.xml", &app)?;
        self.part("docProps/core.xml", &core)?;
        self.part("xl/_rels/workbook.xml.rels", &rels)?;
        self.part("xl/styles.xml", STYLES)?;
        self.part("xl/theme/theme1.xml", THEME)?;
        self.part("xl/workbook.xml", &workbook)?;
        if shared {
            let table = self.shared.xml();
            self.part("xl/sharedStrings.xml", &table)?;
        }
        Ok(self.join()?.into_inner())
    }
}

/// The cells of one sheet, row by row and left to right within a row.
pub(crate) struct SheetOut<'b> {
    book: &'b mut Book,
    buf: Vec<u8>,
    /// The open `<row>`, 0-based.
    row: Option<u32>,
    /// The column after the last cell written in the open row: a cell there needs no
    /// reference.
    next_col: u16,
}

impl SheetOut<'_> {
    fn cell(&mut self, row: u32, col: u16, style: Style) {
        if self.row != Some(row) {
            if self.row.is_some() {
                self.buf.extend_from_slice(b"</row>");
            }
            self.buf.extend_from_slice(b"<row r=\"");
            push_u64(&mut self.buf, u64::from(row) + 1);
            self.buf.extend_from_slice(b"\">");
            self.row = Some(row);
            self.next_col = 0;
        }
        // A cell without its reference (`r`, optional in ECMA-376 §18.3.1.4) is in the
        // column after the previous one, as Excel, LibreOffice, Google Sheets and calamine
        // read it; only a cell after a gap names its place. The row numbers in every
        // reference made the 10 M export's zip 86 MB instead of 58 and its deflate and
        // cells a sixth of the workbooks' time more (bench/RESULTS.md).
        if col == self.next_col {
            self.buf.extend_from_slice(b"<c");
        } else {
            self.buf.extend_from_slice(b"<c r=\"");
            push_col_bytes(&mut self.buf, col);
            push_u64(&mut self.buf, u64::from(row) + 1);
            self.buf.push(b'"');
        }
        self.next_col = col.saturating_add(1);
        if style != Style::Plain {
            self.buf.extend_from_slice(b" s=\"");
            push_u64(&mut self.buf, style as u64);
            self.buf.push(b'"');
        }
    }

    fn flush_if_full(&mut self) -> ZipResult<()> {
        if self.buf.len() >= BUFFER {
            let next = self.book.chunk();
            let full = std::mem::replace(&mut self.buf, next);
            self.book.send(Job::Data(full))?;
        }
        Ok(())
    }

    /// A text cell; an empty text is no cell (Excel ignores it too). The caller keeps the
    /// text within Excel's 32,767 UTF-16 units per cell.
    pub(crate) fn text(&mut self, row: u32, col: u16, text: &str, style: Style) -> ZipResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        self.cell(row, col, style);
        self.buf.extend_from_slice(b" t=\"inlineStr\"><is><t");
        if needs_preserve(text) {
            self.buf.extend_from_slice(b" xml:space=\"preserve\"");
        }
        self.buf.push(b'>');
        push_cell_text(&mut self.buf, text);
        self.buf.extend_from_slice(b"</t></is></c>");
        self.flush_if_full()
    }

    /// A text cell naming its text in the workbook's shared-string table; an empty text
    /// is no cell, as in [`SheetOut::text`].
    pub(crate) fn shared_text(
        &mut self,
        row: u32,
        col: u16,
        text: &str,
        style: Style,
    ) -> ZipResult<()> {
        if text.is_empty() {
            return Ok(());
        }
        let n = self.book.shared.number(text);
        self.cell(row, col, style);
        self.buf.extend_from_slice(b" t=\"s\"><v>");
        push_u64(&mut self.buf, u64::from(n));
        self.buf.extend_from_slice(b"</v></c>");
        self.flush_if_full()
    }

    /// A whole number.
    pub(crate) fn count(&mut self, row: u32, col: u16, n: u64, style: Style) -> ZipResult<()> {
        self.cell(row, col, style);
        self.buf.extend_from_slice(b"><v>");
        push_u64(&mut self.buf, n);
        self.buf.extend_from_slice(b"</v></c>");
        self.flush_if_full()
    }

    /// A date-time as Excel's serial number (days since 1899-12-31, counting Excel's
    /// 29 February 1900); the caller keeps it within 1900..=9999.
    pub(crate) fn time(
        &mut self,
        row: u32,
        col: u16,
        t: DateTime<Utc>,
        style: Style,
    ) -> ZipResult<()> {
        self.cell(row, col, style);
        self.buf.extend_from_slice(b"><v>");
        push_serial(&mut self.buf, excel_serial(t));
        self.buf.extend_from_slice(b"</v></c>");
        self.flush_if_full()
    }

    /// Ends the sheet: its autofilter and page setup.
    pub(crate) fn end(mut self) -> ZipResult<()> {
        if self.row.is_some() {
            self.buf.extend_from_slice(b"</row>");
        }
        self.buf.extend_from_slice(b"</sheetData>");
        if let Some((row, col)) = self.book.sheets.last().and_then(|s| s.filter) {
            let mut r = String::from("<autoFilter ref=\"A1:");
            push_cell_name(&mut r, row, col);
            r.push_str("\"/>");
            self.buf.extend_from_slice(r.as_bytes());
        }
        self.buf.extend_from_slice(
            b"<pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" \
              footer=\"0.3\"/><pageSetup fitToHeight=\"0\" orientation=\"landscape\" \
              horizontalDpi=\"200\" verticalDpi=\"200\"/></worksheet>",
        );
        let last = std::mem::take(&mut self.buf);
        self.book.send(Job::Data(last))
    }
}

/// Excel's serial number of `t` (UTC), as rust_xlsxwriter computed it: whole days since
/// 1899-12-31 (one more from March 1900, for Excel's 29 February 1900) plus the
/// milliseconds of the day over a day's.
#[allow(clippy::cast_precision_loss)] // days and milliseconds are far below 2^53
pub(crate) fn excel_serial(t: DateTime<Utc>) -> f64 {
    let naive = t.naive_utc();
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 31).unwrap_or_default();
    let mut days = (naive.date() - epoch).num_days() as f64;
    if days > 59.0 {
        days += 1.0;
    }
    let time = naive.time();
    let ms = i64::from(time.num_seconds_from_midnight()) * 1000
        + i64::from(time.nanosecond() / 1_000_000);
    days + ms as f64 / (24.0 * 60.0 * 60.0 * 1000.0)
}

/// `serial`'s shortest exact form, as `{}` writes an f64 (and rust_xlsxwriter wrote
/// it): `zmij` finds the same digits with fewer instructions (a 1 M export's time cells
/// took 196 M with `{}`, 76 M with it, callgrind), and writes a whole number with `.0`,
/// which `{}` leaves off. A serial of 1900..=9999 is never written with an exponent by
/// either.
fn push_serial(buf: &mut Vec<u8>, serial: f64) {
    let mut digits = zmij::Buffer::new();
    let text = digits.format(serial);
    buf.extend_from_slice(text.strip_suffix(".0").unwrap_or(text).as_bytes());
}

/// Whether `t` is a date Excel can show (1900..=9999).
pub(crate) fn excel_can_show(t: DateTime<Utc>) -> bool {
    (1900..=9999).contains(&t.year())
}

fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Column letters of the 0-based `col` (`A`, …, `Z`, `AA`, …).
fn push_col_bytes(buf: &mut Vec<u8>, col: u16) {
    let mut letters = [0u8; 4];
    let mut i = letters.len();
    let mut n = u32::from(col) + 1;
    while n > 0 {
        i -= 1;
        letters[i] = b'A' + ((n - 1) % 26) as u8;
        n = (n - 1) / 26;
    }
    buf.extend_from_slice(&letters[i..]);
}

fn push_col_name(s: &mut String, col: u16) {
    let mut b = Vec::with_capacity(4);
    push_col_bytes(&mut b, col);
    s.extend(b.iter().map(|&c| char::from(c)));
}

fn push_cell_name(s: &mut String, row: u32, col: u16) {
    push_col_name(s, col);
    s.push_str(&(u64::from(row) + 1).to_string());
}

/// `<cols>`: runs of equal widths as one `<col>`, each width in Excel's units for
/// Calibri 11 (7-pixel digits, 5 pixels of padding), as rust_xlsxwriter converted them.
fn push_cols(x: &mut String, widths: &[usize]) {
    if widths.is_empty() {
        return;
    }
    x.push_str("<cols>");
    let mut start = 0;
    while start < widths.len() {
        let mut end = start;
        while end + 1 < widths.len() && widths[end + 1] == widths[start] {
            end += 1;
        }
        x.push_str(&format!(
            "<col min=\"{}\" max=\"{}\" width=\"{}\" customWidth=\"1\"/>",
            start + 1,
            end + 1,
            excel_width(widths[start])
        ));
        start = end + 1;
    }
    x.push_str("</cols>");
}

#[allow(clippy::cast_precision_loss)] // widths are small
fn excel_width(chars: usize) -> f64 {
    const DIGIT: f64 = 7.0;
    const PADDING: f64 = 5.0;
    let w = chars as f64;
    let pixels = if w < 1.0 {
        (w * (DIGIT + PADDING)).round()
    } else {
        (w * DIGIT).round() + PADDING
    };
    (pixels / DIGIT * 256.0).floor() / 256.0
}

/// A sheet name as a reference needs it: in single quotes (inner quotes doubled) unless
/// it is letters, digits, `_` and `.` not starting with a digit.
fn quote_sheet_name(name: &str) -> String {
    let plain = name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_owned()
    } else {
        format!("'{}'", name.replace('\'', "''"))
    }
}

/// `text` with `&`, `<`, `>` escaped, and `"` too when it goes into an attribute.
fn push_escaped(s: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' if attribute => s.push_str("&quot;"),
            _ => s.push(c),
        }
    }
}

/// A cell's text as SpreadsheetML wants it: `&`, `<`, `>` escaped; control characters
/// other than tab and newline, and U+FFFE / U+FFFF, as `_xHHHH_`; and a literal `_xHHHH_`
/// kept literal by escaping its underscore (`_x005F_xHHHH_`), as Excel does.
fn push_cell_text(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // `_` matters only before `x`; 0xEF leads U+FFFE and U+FFFF.
    let special = |(i, &b): (usize, &u8)| {
        matches!(b, b'&' | b'<' | b'>' | 0xEF)
            || (b < 0x20 && b != b'\t' && b != b'\n')
            || (b == b'_' && bytes.get(i + 1) == Some(&b'x'))
    };
    if !bytes.iter().enumerate().any(special) {
        buf.extend_from_slice(bytes);
        return;
    }
    for (i, c) in text.char_indices() {
        match c {
            '&' => buf.extend_from_slice(b"&amp;"),
            '<' => buf.extend_from_slice(b"&lt;"),
            '>' => buf.extend_from_slice(b"&gt;"),
            '\t' | '\n' => buf.push(c as u8),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {
                buf.extend_from_slice(format!("_x{:04X}_", u32::from(c)).as_bytes());
            }
            '_' if is_escape_at(&text[i..]) => buf.extend_from_slice(b"_x005F_"),
            _ => {
                let mut utf8 = [0u8; 4];
                buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
}

/// Whether `s` starts with `_xHHHH_` (four hex digits).
fn is_escape_at(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 7 && b[1] == b'x' && b[2..6].iter().all(u8::is_ascii_hexdigit) && b[6] == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut b = Vec::new();
        push_cell_text(&mut b, s);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn cell_text_is_escaped_as_excel_does() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a<b & c>d"), "a&lt;b &amp; c&gt;d");
        assert_eq!(text("tab\tnew\nline"), "tab\tnew\nline");
        assert_eq!(text("bell\u{7}"), "bell_x0007_");
        assert_eq!(text("_x0041_ and _x12"), "_x005F_x0041_ and _x12");
        assert_eq!(text("snake_case_x"), "snake_case_x");
        assert_eq!(text("\u{fffe}é"), "_xFFFE_é");
    }

    #[test]
    fn only_a_cell_after_a_gap_names_its_place() {
        let mut book = Book::new("t".into(), DateTime::<Utc>::UNIX_EPOCH, 1);
        let widths = [10; 4];
        let mut out = book
            .sheet(&SheetSpec {
                name: "S",
                widths: &widths,
                last_row: 1,
                last_col: 3,
                autofilter: false,
                large: false,
            })
            .unwrap();
        out.text(0, 0, "a", Style::Plain).unwrap();
        out.text(0, 1, "", Style::Plain).unwrap();
        out.count(0, 2, 7, Style::Plain).unwrap();
        out.text(0, 3, "d", Style::Plain).unwrap();
        out.text(1, 1, "b", Style::Plain).unwrap();
        let xml = String::from_utf8_lossy(&out.buf).into_owned();
        let cells = &xml[xml.find("<sheetData>").unwrap()..];
        assert_eq!(
            cells,
            "<sheetData><row r=\"1\"><c t=\"inlineStr\"><is><t>a</t></is></c>\
             <c r=\"C1\"><v>7</v></c><c t=\"inlineStr\"><is><t>d</t></is></c></row>\
             <row r=\"2\"><c r=\"B2\" t=\"inlineStr\"><is><t>b</t></is></c>"
        );
    }

    #[test]
    fn repeated_texts_are_kept_once_in_the_shared_string_table() {
        let parts = |shared: bool| {
            let mut book = Book::new("t".into(), DateTime::<Utc>::UNIX_EPOCH, 1);
            let widths = [10; 2];
            let spec = SheetSpec {
                name: "S",
                widths: &widths,
                last_row: 2,
                last_col: 1,
                autofilter: false,
                large: false,
            };
            let mut out = book.sheet(&spec).unwrap();
            for row in 0..3 {
                out.text(row, 0, &format!("user {row}"), Style::Plain)
                    .unwrap();
                if shared {
                    let text = if row == 1 { " No" } else { "Yes & more" };
                    out.shared_text(row, 1, text, Style::Plain).unwrap();
                }
            }
            out.end().unwrap();
            let bytes = book.finish().unwrap();
            let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
            let mut read = |name: &str| -> Option<String> {
                let mut part = zip.by_name(name).ok()?;
                let mut text = String::new();
                std::io::Read::read_to_string(&mut part, &mut text).unwrap();
                Some(text)
            };
            (
                read("xl/worksheets/sheet1.xml").unwrap(),
                read("xl/sharedStrings.xml"),
                read("xl/_rels/workbook.xml.rels").unwrap(),
                read("[Content_Types].xml").unwrap(),
            )
        };
        let (sheet, table, rels, types) = parts(true);
        assert!(sheet.contains(
            "<row r=\"1\"><c t=\"inlineStr\"><is><t>user 0</t></is></c><c t=\"s\"><v>0</v></c></row>\
             <row r=\"2\"><c t=\"inlineStr\"><is><t>user 1</t></is></c><c t=\"s\"><v>1</v></c></row>\
             <row r=\"3\"><c t=\"inlineStr\"><is><t>user 2</t></is></c><c t=\"s\"><v>0</v></c></row>"
        ));
        assert!(table.unwrap().ends_with(
            "count=\"3\" uniqueCount=\"2\"><si><t>Yes &amp; more</t></si>\
             <si><t xml:space=\"preserve\"> No</t></si></sst>"
        ));
        assert!(rels.contains("/sharedStrings\" Target=\"sharedStrings.xml\"/>"));
        assert!(types.contains("<Override PartName=\"/xl/sharedStrings.xml\""));
        // A workbook that shares nothing has no table, and names none.
        let (_, table, rels, types) = parts(false);
        assert_eq!(table, None);
        assert!(!rels.contains("sharedStrings") && !types.contains("sharedStrings"));
    }

    #[test]
    fn serials_are_written_as_rust_writes_them() {
        let last_ms = 2_958_465.0 + 86_399_999.0 / 86_400_000.0;
        let mut serials = vec![1.0, 59.0, 60.0, 61.0, 2_958_465.0, last_ms];
        // Every millisecond pattern that matters: whole days, minutes, odd milliseconds,
        // over the years Excel shows.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let days = 1 + x % 2_958_465;
            let ms = (x >> 24) % 86_400_000;
            let ms = match x % 3 {
                0 => ms - ms % 60_000,
                1 => ms - ms % 1000,
                _ => ms,
            };
            serials.push(days as f64 + ms as f64 / 86_400_000.0);
        }
        for serial in serials {
            let mut ours = Vec::new();
            push_serial(&mut ours, serial);
            assert_eq!(String::from_utf8(ours).unwrap(), format!("{serial}"));
        }
    }

    #[test]
    fn column_names_and_widths() {
        let name = |c| {
            let mut s = String::new();
            push_col_name(&mut s, c);
            s
        };
        assert_eq!(name(0), "A");
        assert_eq!(name(25), "Z");
        assert_eq!(name(26), "AA");
        assert_eq!(name(16383), "XFD");
        assert_eq!(excel_width(13), 13.7109375);
        assert_eq!(excel_width(40), 40.7109375);
    }

    #[test]
    fn serials_follow_excels_calendar() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(excel_serial(t("1900-01-01T00:00:00Z")), 1.0);
        assert_eq!(excel_serial(t("1900-02-28T00:00:00Z")), 59.0);
        assert_eq!(excel_serial(t("1900-03-01T00:00:00Z")), 61.0);
        assert_eq!(excel_serial(t("2026-11-01T00:00:00Z")), 46327.0);
        assert_eq!(excel_serial(t("2026-10-05T15:57:49Z")), 46300.66515046296);
    }
}
