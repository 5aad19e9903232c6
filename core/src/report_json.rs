//! The Usage Report as one JSON document (SPEC §6: `--export PATH.json`; SPEC §8:
//! `GET /api/report?window=6m|1y` gives one window of it). Every sheet is an array of rows
//! keyed by its exact header texts, read from the same descriptions the workbook is
//! written from ([`crate::sheets`]); times are RFC 3339 UTC, counts are numbers. Object keys
//! come out sorted and rows in the workbook's order, so two documents diff cleanly with
//! `jq` or `diff`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value as Json};

use crate::report::{Provenance, Report, SummaryValue, WindowKind, WindowReport};
use crate::sheets;

fn time(t: DateTime<Utc>) -> Json {
    Json::from(t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// The short name of a window in URLs and documents: `6m`, `1y`.
pub fn window_key(kind: WindowKind) -> &'static str {
    match kind {
        WindowKind::SixMonths => "6m",
        WindowKind::OneYear => "1y",
    }
}

/// One window: its bounds, the Summary sheet's rows (label -> value), every table sheet,
/// and where the numbers come from (`provenance`, when the report carries it; see
/// [`sheets::provenance_json`]; `written_at` is now unless the provenance fixes it).
pub fn window_json(
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<&Provenance>,
) -> Json {
    window_json_at(w, as_of, provenance.map(|p| (p, p.written_at_or_now())))
}

fn window_json_at(
    w: &WindowReport,
    as_of: DateTime<Utc>,
    provenance: Option<(&Provenance, DateTime<Utc>)>,
) -> Json {
    let mut summary = Map::new();
    for (label, value) in w.summary_rows(as_of) {
        let v = match value {
            SummaryValue::Count(n) => Json::from(n),
            SummaryValue::Time(t) => time(t),
        };
        summary.insert(label.to_owned(), v);
    }
    let mut tables = Map::new();
    tables.insert(
        sheets::UNIQUE_USER_COUNT.name.to_owned(),
        sheets::UNIQUE_USER_COUNT.json_rows(w),
    );
    tables.insert(
        sheets::ENTITY_TYPE_COUNT.name.to_owned(),
        sheets::ENTITY_TYPE_COUNT.json_rows(w),
    );
    tables.insert(
        sheets::INTEGRATED_PROJECT_COUNT.name.to_owned(),
        sheets::INTEGRATED_PROJECT_COUNT.json_rows(w),
    );
    tables.insert(
        sheets::SYNCED_DATA_COUNT.name.to_owned(),
        sheets::SYNCED_DATA_COUNT.json_rows(w),
    );
    tables.insert(
        sheets::DETAILED_USER_REPORT.name.to_owned(),
        sheets::DETAILED_USER_REPORT.json_rows(w),
    );
    let mut out = Map::new();
    out.insert("window".into(), Json::from(window_key(w.window.kind)));
    out.insert("label".into(), Json::from(w.window.kind.label()));
    out.insert("as_of".into(), time(as_of));
    out.insert("start".into(), time(w.window.start));
    out.insert("end".into(), time(w.window.end));
    out.insert(sheets::SUMMARY.into(), Json::Object(summary));
    out.insert("sheets".into(), Json::Object(tables));
    if let Some((p, written_at)) = provenance {
        out.insert("provenance".into(), sheets::provenance_json(p, written_at));
    }
    Json::Object(out)
}

/// Both windows: `{"as_of": …, "windows": {"6m": …, "1y": …}}`, each window with the
/// report's provenance.
pub fn report_json(report: &Report) -> Json {
    // One moment for both windows: they are one document.
    let provenance = report
        .provenance
        .as_ref()
        .map(|p| (p, p.written_at_or_now()));
    let mut windows = Map::new();
    for kind in WindowKind::ALL {
        windows.insert(
            window_key(kind).to_owned(),
            window_json_at(report.window(kind), report.as_of, provenance),
        );
    }
    let mut out = Map::new();
    out.insert("as_of".into(), time(report.as_of));
    out.insert("windows".into(), Json::Object(windows));
    Json::Object(out)
}

/// [`report_json`] as pretty-printed bytes, ending in a newline.
pub fn report_json_bytes(report: &Report) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&report_json(report)).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}
