//! Helpers for end-to-end tests: run the real binary, read the real zip back with a real
//! xlsx reader.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::{Command, Output};

use calamine::{Data, Reader, Xlsx};

pub mod tmux;

pub const BIN: &str = env!("CARGO_BIN_EXE_tally");

/// Runs tally with `args` in `dir`, with HOME and XDG_CONFIG_HOME pointed inside it so no
/// configuration of the machine is found by accident.
pub fn tally(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env_remove("RUST_LOG")
        .output()
        .expect("tally runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One sheet as rows of cells.
pub type Sheet = Vec<Vec<Data>>;

/// A workbook: sheet names in order, and each sheet.
pub struct Workbook {
    pub names: Vec<String>,
    pub sheets: BTreeMap<String, Sheet>,
}

impl Workbook {
    pub fn sheet(&self, name: &str) -> &Sheet {
        self.sheets
            .get(name)
            .unwrap_or_else(|| panic!("sheet {name} missing; have {:?}", self.names))
    }

    /// The Summary sheet's value for `label` as a number.
    pub fn summary(&self, label: &str) -> f64 {
        let row = self
            .sheet("Summary")
            .iter()
            .find(|r| r.first().map(|c| c.to_string()) == Some(label.to_owned()))
            .unwrap_or_else(|| panic!("Summary has no row {label}"));
        number(&row[1])
    }
}

pub fn number(d: &Data) -> f64 {
    match d {
        Data::Int(i) => *i as f64,
        Data::Float(f) => *f,
        other => panic!("not a number: {other:?}"),
    }
}

pub fn text(d: &Data) -> String {
    d.to_string()
}

/// Reads `Usage Reports.zip`: entry names in order and both workbooks.
pub fn read_zip(path: &Path) -> (Vec<String>, BTreeMap<String, Workbook>) {
    let file = std::fs::File::open(path).expect("zip opens");
    let mut zip = zip::ZipArchive::new(file).expect("is a zip");
    let mut names = Vec::new();
    let mut books = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read entry");
        let xlsx: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("is xlsx");
        names.push(name.clone());
        books.insert(name, workbook(xlsx));
    }
    (names, books)
}

/// Reads one workbook file (`Insights.xlsx`).
pub fn read_xlsx(path: &Path) -> Workbook {
    let xlsx: Xlsx<_> =
        calamine::open_workbook(path).unwrap_or_else(|e| panic!("{} opens: {e}", path.display()));
    workbook(xlsx)
}

fn workbook<R: std::io::Read + std::io::Seek>(mut xlsx: Xlsx<R>) -> Workbook {
    let names = xlsx.sheet_names().to_vec();
    let mut sheets = BTreeMap::new();
    for s in &names {
        let range = xlsx.worksheet_range(s).expect("sheet reads");
        sheets.insert(s.clone(), range.rows().map(|r| r.to_vec()).collect());
    }
    Workbook { names, sheets }
}

/// The People with Access sheet's metric labels (SPEC §9) and the members of the JSON
/// document's `people` object that hold the same numbers.
pub const PEOPLE_METRICS: [(&str, &str); 6] = [
    ("People with Access", "with_access"),
    ("Managed", "managed"),
    ("External", "external"),
    ("Unknown", "unknown"),
    ("Active", "active"),
    ("Seats in Several Systems", "seats_in_several_systems"),
];

pub const SIX: &str = "Usage Report (Last 6 Months).xlsx";
pub const YEAR: &str = "Usage Report (Last 1 Year).xlsx";

/// Checks the agreements SPEC §4 demands inside one workbook, returning Total Unique Users.
pub fn check_agreement(book: &Workbook) -> f64 {
    let total = book.summary("Total Unique Users");
    let breakdown: f64 = [
        "Usernames or Emails",
        "Emails",
        "Display Names",
        "Usernames",
    ]
    .iter()
    .map(|l| book.summary(l))
    .sum();
    assert_eq!(total, breakdown, "breakdown adds up to the total");
    let counts = book.sheet("Unique User Count");
    let all = counts
        .iter()
        .find(|r| text(&r[0]) == "All Systems")
        .expect("All Systems row");
    assert_eq!(number(&all[1]), total, "All Systems row equals Summary");
    let users = book.sheet("Detailed User Report");
    let non_service = users[1..].iter().filter(|r| text(&r[6]) == "No").count() as f64;
    let service = users[1..].iter().filter(|r| text(&r[6]) == "Yes").count() as f64;
    assert_eq!(non_service, total, "Detailed User Report lists every user");
    assert_eq!(service, book.summary("Service Accounts"));
    let synced: f64 = book.sheet("Synced Data Count")[1..]
        .iter()
        .map(|r| number(&r[2]))
        .sum();
    assert_eq!(synced, book.summary("Total Entities Synced"));
    let types = book.sheet("Entity Type Count").len() as f64 - 1.0;
    assert_eq!(types, book.summary("Total Unique Entity Types"));
    let projects: std::collections::BTreeSet<(String, String)> = book
        .sheet("Integrated Project Count")[1..]
        .iter()
        .flat_map(|r| [(text(&r[0]), text(&r[1])), (text(&r[2]), text(&r[3]))])
        .collect();
    assert_eq!(projects.len() as f64, book.summary("Total Unique Projects"));
    total
}

/// A sheet without what depends on the run rather than the data: the Summary's
/// `Written At (UTC)` row, the Sources rows' times and records received (per collection),
/// and its `Partial Report` texts (which name a time). Two runs on the same data differ
/// only there; any other sheet is returned as it is.
pub fn without_moments(sheet: &Sheet) -> Sheet {
    let mut in_sources = false;
    sheet
        .iter()
        .filter(|r| r.first().map(text).as_deref() != Some("Written At (UTC)"))
        .map(|r| {
            let label = r.first().map(text).unwrap_or_default();
            if label == "Sources" {
                in_sources = true;
                return r.clone();
            }
            if !in_sources || matches!(label.as_str(), "Demo data" | "Tally Version") {
                return r.clone();
            }
            if label == "Partial Report" {
                return vec![r[0].clone()];
            }
            // A connector's row: its name, kind and outcome stay.
            r.iter()
                .enumerate()
                .map(|(i, c)| if i < 3 { c.clone() } else { Data::Empty })
                .collect()
        })
        .collect()
}

/// Every sheet of two workbooks equal but for [`without_moments`].
pub fn assert_same_but_moments(a: &Workbook, b: &Workbook, what: &str) {
    assert_eq!(a.names, b.names, "{what}: sheets");
    for (sheet, rows) in &a.sheets {
        assert_eq!(
            without_moments(rows),
            without_moments(b.sheet(sheet)),
            "{what} / {sheet}"
        );
    }
}
