//! Routes of the Admin API, the token check and the request log.
//!
//! | route                          | token | answer                                   |
//! |--------------------------------|-------|------------------------------------------|
//! | `GET /health`                  | no    | JSON: up, and how collection stands      |
//! | `GET /export/usage-reports`    | yes   | `Usage Reports.zip`, `?as_of=RFC3339`    |
//! | `GET /api/summary?window=6m\|1y` | yes | JSON: the Summary sheet's numbers and sources |
//! | `GET /api/report?window=6m\|1y`  | yes | JSON: one window, every sheet (SPEC §6)  |
//! | `GET /api/insights`            | yes | JSON: the access insights (SPEC §9)      |
//!
//! Every answer to a bad request is a status and a one-line plain-text reason.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tally_core::identity::Rule;
use tally_core::report::WindowKind;

use super::auth::{Caller, Refusal, Tokens};
use super::jobs::{Jobs, Kind};
use super::schedule::{Status, StatusView};

#[derive(Clone)]
pub struct AppState {
    pub jobs: Arc<Jobs>,
    pub tokens: Arc<Tokens>,
    pub status: Arc<Status>,
}

/// The report's end time, on every report answer, so a script that asked for "now" knows
/// which moment it got.
const AS_OF_HEADER: HeaderName = HeaderName::from_static("x-tally-as-of");

/// Longest path written to the log: a path is the client's to choose.
const LOGGED_PATH_MAX: usize = 200;

pub fn router(state: AppState) -> Router {
    // The token is checked on the GET/HEAD handlers only (a method router's
    // `route_layer`), so an unknown path is a 404 and a wrong method a 405 whether or not
    // a token came with it.
    let auth = middleware::from_fn_with_state(state.clone(), require_token);
    Router::new()
        .route("/health", get(health))
        .route(
            "/export/usage-reports",
            get(export).route_layer(auth.clone()),
        )
        .route("/api/summary", get(summary).route_layer(auth.clone()))
        .route("/api/report", get(report_window).route_layer(auth.clone()))
        .route("/api/insights", get(insights).route_layer(auth))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn(log_request))
}

/// One line per request: who (the token's configured name, never the token), what, the
/// status and how long it took.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let mut path = req.uri().path().to_owned();
    if path.len() > LOGGED_PATH_MAX {
        let mut cut = LOGGED_PATH_MAX;
        while !path.is_char_boundary(cut) {
            cut -= 1;
        }
        path.truncate(cut);
        path.push('…');
    }
    let mut res = next.run(req).await;
    let caller = res.extensions_mut().remove::<Caller>();
    tracing::info!(
        token = caller.as_ref().map_or("-", |c| c.0.as_str()),
        %method,
        route = %path,
        status = res.status().as_u16(),
        duration_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    res
}

/// Lets only a token that may read reports through; the caller's name goes on the
/// response (also of a 403) for [`log_request`].
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (caller, mut res) = match state.tokens.authorize(req.headers()) {
        Ok(caller) => (Some(caller), next.run(req).await),
        Err(Refusal::Forbidden(name)) => (
            Some(Caller(name.clone())),
            Refusal::Forbidden(name).into_response(),
        ),
        Err(refusal) => (None, refusal.into_response()),
    };
    if let Some(caller) = caller {
        res.extensions_mut().insert(caller);
    }
    res
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(flatten)]
    collection: StatusView,
}

async fn health(State(state): State<AppState>) -> Response {
    (
        [(CACHE_CONTROL, "no-store")],
        Json(Health {
            status: "ok",
            collection: state.status.view(),
        }),
    )
        .into_response()
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "404 Not Found: the routes are GET /health, GET /export/usage-reports, GET /api/summary?window=6m|1y, GET /api/report?window=6m|1y and GET /api/insights\n",
    )
        .into_response()
}

async fn method_not_allowed() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        "405 Method Not Allowed: the Admin API answers GET and HEAD only\n",
    )
        .into_response()
}

fn bad_request(reason: impl std::fmt::Display) -> Response {
    (
        StatusCode::BAD_REQUEST,
        format!("400 Bad Request: {reason}\n"),
    )
        .into_response()
}

fn failed(e: super::jobs::Failed) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("500 Internal Server Error: {e}\n"),
    )
        .into_response()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `as_of` of a query; `None` means now.
fn parse_as_of(value: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    match value {
        None => Ok(None),
        Some(v) => DateTime::parse_from_rfc3339(v.trim())
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| {
                format!(
                    "as_of {v:?} is not an RFC 3339 time; write e.g. as_of=2026-11-01T00:00:00Z (a `+` offset must be sent as %2B)"
                )
            }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    as_of: Option<String>,
}

async fn export(
    State(state): State<AppState>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let as_of = match parse_as_of(query.as_of.as_deref()) {
        Ok(t) => t,
        Err(reason) => return bad_request(reason),
    };
    let computed = match state.jobs.get(Kind::Zip, as_of).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let Some(zip) = computed.zip.clone() else {
        tracing::error!("an export computation returned no zip");
        return failed(super::jobs::Failed);
    };
    (
        [
            (CONTENT_TYPE, "application/zip".to_owned()),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"Usage Reports.zip\"".to_owned(),
            ),
            // The workbooks list people's emails: no cache on the way may keep a copy.
            (CACHE_CONTROL, "no-store".to_owned()),
            (AS_OF_HEADER, rfc3339(computed.report.as_of)),
        ],
        zip,
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    window: Option<String>,
    as_of: Option<String>,
}

/// The Summary sheet of one window, field for field (labels in the comments).
#[derive(Serialize)]
struct SummaryJson {
    window: &'static str,
    label: &'static str,
    /// `As Of (UTC)`, `Window Start (UTC)`, `Window End (UTC)`
    as_of: String,
    window_start: String,
    window_end: String,
    /// `Total Unique Users`
    total_unique_users: u64,
    /// `Usernames or Emails`, `Emails`, `Display Names`, `Usernames`
    usernames_or_emails: u64,
    emails: u64,
    display_names: u64,
    usernames: u64,
    /// `Service Accounts`
    service_accounts: u64,
    /// `Total Unique Entity Types`
    total_unique_entity_types: u64,
    /// `Total Unique Projects`
    total_unique_projects: u64,
    /// `Total Entities Synced`
    total_entities_synced: u64,
    /// `Unidentified Observations`
    unidentified_observations: u64,
    /// `Invalid Emails`
    invalid_emails: u64,
    /// The Sources block below the counts: each connector and its last collection, the
    /// `Partial Report` texts, `Demo data`, the tally version, when this answer was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    provenance: Option<serde_json::Value>,
}

/// The window and `as_of` of a `?window=6m|1y&as_of=…` query, or the reason for a 400.
fn window_query(
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<(&'static str, WindowKind, Option<DateTime<Utc>>), String> {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return Err(e.body_text()),
    };
    let (window, kind) = match query.window.as_deref().map(str::trim) {
        Some("6m") => ("6m", WindowKind::SixMonths),
        Some("1y") => ("1y", WindowKind::OneYear),
        Some(other) => {
            return Err(format!(
                "window {other:?} is not a report window; use window=6m or window=1y"
            ))
        }
        None => return Err("add window=6m or window=1y".to_owned()),
    };
    let as_of = parse_as_of(query.as_of.as_deref())?;
    Ok((window, kind, as_of))
}

/// A JSON answer with the report's `as_of` on it.
fn json_answer(as_of: DateTime<Utc>, body: impl Serialize) -> Response {
    (
        [
            (CACHE_CONTROL, "no-store".to_owned()),
            (AS_OF_HEADER, rfc3339(as_of)),
        ],
        Json(body),
    )
        .into_response()
}

/// One window of the Usage Report as the JSON document of SPEC §6.
async fn report_window(
    State(state): State<AppState>,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Response {
    let (_, kind, as_of) = match window_query(query) {
        Ok(q) => q,
        Err(reason) => return bad_request(reason),
    };
    let computed = match state.jobs.get(Kind::Report, as_of).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let report = &computed.report;
    json_answer(
        report.as_of,
        tally_core::report_json::window_json(
            report.window(kind),
            report.as_of,
            report.provenance.as_ref(),
        ),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AsOfQuery {
    as_of: Option<String>,
}

/// The access insights of SPEC §9.
async fn insights(
    State(state): State<AppState>,
    query: Result<Query<AsOfQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return bad_request(e.body_text()),
    };
    let as_of = match parse_as_of(query.as_of.as_deref()) {
        Ok(t) => t,
        Err(reason) => return bad_request(reason),
    };
    let computed = match state.jobs.get(Kind::Insights, as_of).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    match &computed.insights {
        Some(insights) => json_answer(insights.as_of, insights),
        None => failed(super::jobs::Failed),
    }
}

async fn summary(
    State(state): State<AppState>,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Response {
    let (window, kind, as_of) = match window_query(query) {
        Ok(q) => q,
        Err(reason) => return bad_request(reason),
    };
    let computed = match state.jobs.get(Kind::Report, as_of).await {
        Ok(c) => c,
        Err(e) => return failed(e),
    };
    let report = &computed.report;
    let w = report.window(kind);
    let s = &w.summary;
    let body = SummaryJson {
        window,
        label: kind.label(),
        as_of: rfc3339(report.as_of),
        window_start: rfc3339(w.window.start),
        window_end: rfc3339(w.window.end),
        total_unique_users: s.total_unique_users,
        usernames_or_emails: s.by_rule[Rule::UsernamesOrEmails.index()],
        emails: s.by_rule[Rule::Emails.index()],
        display_names: s.by_rule[Rule::DisplayNames.index()],
        usernames: s.by_rule[Rule::Usernames.index()],
        service_accounts: s.service_accounts,
        total_unique_entity_types: s.unique_entity_types,
        total_unique_projects: s.unique_projects,
        total_entities_synced: s.entities_synced,
        unidentified_observations: s.unidentified_observations,
        invalid_emails: s.invalid_emails,
        provenance: report
            .provenance
            .as_ref()
            .map(|p| tally_core::sheets::provenance_json(p, p.written_at_or_now())),
    };
    json_answer(report.as_of, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_is_rfc3339_or_a_reason() {
        assert_eq!(parse_as_of(None), Ok(None));
        let t = parse_as_of(Some("2026-11-01T01:00:00+01:00"))
            .expect("valid")
            .expect("some");
        assert_eq!(rfc3339(t), "2026-11-01T00:00:00Z");
        let err = parse_as_of(Some("yesterday")).expect_err("bad");
        assert!(
            err.contains("\"yesterday\"") && err.contains("RFC 3339"),
            "{err}"
        );
    }
}
