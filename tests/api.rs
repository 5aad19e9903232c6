//! `tally serve` end to end: the real binary on a free loopback port, a real HTTP client,
//! the zip read back with a real xlsx reader and compared with `tally --export`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use reqwest::blocking::Client;
use reqwest::StatusCode;

const AS_OF: &str = "2026-11-01T00:00:00Z";

/// The small organisation of `export_cli.rs`, whose numbers are known.
const SMALL: &[&str] = &[
    r#"{"kind":"user","system":"Jira","at":"2026-10-01T10:00:00Z","email":"Ann@corp.example","username":"ann","display_name":"Ann Lee","interaction":"comment_author","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"}"#,
    r#"{"kind":"user","system":"GitHub","at":"2026-09-01T10:00:00Z","username":"ANN","interaction":"updater"}"#,
    r#"{"kind":"user","system":"Azure DevOps","at":"2026-10-02T10:00:00Z","email":"bob@corp.example","display_name":"Bob Ray","interaction":"mapped_user_field"}"#,
    r#"{"kind":"user","system":"Jira","at":"2026-03-01T10:00:00Z","display_name":"Cara  Diaz","interaction":"mention"}"#,
    r#"{"kind":"user","system":"GitHub","at":"2026-10-03T10:00:00Z","username":"dependabot[bot]","interaction":"updater","service_account":true}"#,
    r#"{"kind":"user","system":"GitLab","at":"2025-06-01T10:00:00Z","username":"zed","interaction":"updater"}"#,
    r#"{"kind":"sync","at":"2026-10-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"11"}}"#,
    r#"{"kind":"sync","at":"2026-10-05T12:00:05Z","status":"success","source":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"Bug","entity_id":"11"},"target":{"system":"Jira","project":"OPS","entity_type":"Bug","entity_id":"OPS-1"}}"#,
    r#"{"kind":"sync","at":"2026-02-01T12:00:05Z","status":"success","source":{"system":"Jira","project":"OPS","entity_type":"Story","entity_id":"OPS-3"},"target":{"system":"Azure DevOps","project":"Fabrikam","entity_type":"User Story","entity_id":"13"}}"#,
    r#"{"kind":"integration","name":"OPS <-> Fabrikam","status":"active","updated_at":"2026-01-01T08:00:00Z","ends":[{"system":"Jira","project":"OPS","entity_types":["Bug","Story"]},{"system":"Azure DevOps","project":"Fabrikam","entity_types":["Bug","User Story"]}]}"#,
];

/// Enough people that building the report and workbooks takes a noticeable moment (about
/// a second in a debug build), so requests can be made while it runs.
fn big_records() -> Vec<String> {
    let systems = ["Jira", "GitHub", "Azure DevOps", "ServiceNow"];
    let mut out = Vec::new();
    for i in 0..60_000u32 {
        let s = systems[(i % 4) as usize];
        let month = 1 + i % 10;
        let day = 1 + i % 28;
        out.push(format!(
            r#"{{"kind":"user","system":"{s}","at":"2026-{month:02}-{day:02}T10:00:00Z","email":"person{i}@corp.example","username":"p{i}","display_name":"Person {i}","interaction":"updater","project":"P{}","entity_type":"Bug","entity_id":"E{i}"}}"#,
            i % 50
        ));
        if i % 3 == 0 {
            out.push(format!(
                r#"{{"kind":"sync","at":"2026-{month:02}-01T12:00:00Z","status":"success","source":{{"system":"{s}","project":"P{}","entity_type":"Bug","entity_id":"E{i}"}},"target":{{"system":"Jira","project":"T","entity_type":"Bug","entity_id":"J{i}"}}}}"#,
                i % 50
            ));
        }
    }
    out
}

/// A token printed by `tally token new`, and the lines to paste.
struct NewToken {
    token: String,
    paste: String,
}

fn token_new(dir: &Path, args: &[&str]) -> NewToken {
    let mut all = vec!["token", "new"];
    all.extend_from_slice(args);
    let out = tally(dir, &all);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let token = lines
        .iter()
        .find(|l| l.starts_with("tally_"))
        .expect("a token line")
        .to_string();
    let start = lines
        .iter()
        .position(|l| *l == "[[api.token]]")
        .expect("paste lines");
    NewToken {
        token,
        paste: lines[start..].join("\n") + "\n",
    }
}

/// The tokens every test server has.
struct Tokens {
    admin: String,
    viewer: String,
    no_permission: String,
}

/// Writes records and a configuration with three tokens (an administrator, a viewer and
/// an administrator without the permission) into `dir`.
fn write_setup(dir: &Path, records: &[impl AsRef<str>], api_extra: &str) -> Tokens {
    std::fs::create_dir_all(dir.join("records")).expect("mkdir");
    let text: Vec<&str> = records.iter().map(AsRef::as_ref).collect();
    std::fs::write(dir.join("records/log.jsonl"), text.join("\n")).expect("write");
    let admin = token_new(dir, &["ops-bot"]);
    let viewer = token_new(dir, &["viewer", "--role", "Viewer"]);
    let no_permission = token_new(dir, &["half-admin", "--permission", "other:read"]);
    assert!(
        no_permission.paste.contains("role = \"Administrator\""),
        "{}",
        no_permission.paste
    );
    std::fs::write(
        dir.join("tally.toml"),
        format!(
            "[store]\npath = \"tally.db\"\n\n[[connector]]\nname = \"sync-log\"\nkind = \"jsonl\"\npath = \"records\"\n\n[api]\n{api_extra}\n{}\n{}\n{}",
            admin.paste, viewer.paste, no_permission.paste
        ),
    )
    .expect("write config");
    Tokens {
        admin: admin.token,
        viewer: viewer.token,
        no_permission: no_permission.token,
    }
}

/// A running `tally serve`; killed if a test fails before it shuts it down.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
    client: Client,
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server::start_with(dir, "http")
    }

    fn start_with(dir: &Path, scheme: &str) -> Server {
        Server::start_env(dir, scheme, &[])
    }

    fn start_env(dir: &Path, scheme: &str, envs: &[(&str, &str)]) -> Server {
        let mut child = Command::new(BIN)
            .args(["--config", "tally.toml", "serve", "--listen", "127.0.0.1:0"])
            .envs(envs.iter().copied())
            .current_dir(dir)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir.join(".config"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tally serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            // Reads to the end, so the server never blocks on a full pipe.
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("tally serve: listening on ") {
                    let _ = tx.send(addr.to_owned());
                }
                let mut log = sink.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "server did not start: {}",
                    log.lock().expect("log").as_str()
                );
            }
        };
        assert!(
            base.starts_with(&format!("{scheme}://127.0.0.1:")),
            "{base}"
        );
        // reqwest is built without a TLS provider of its own (see the workspace manifest).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(Duration::from_secs(120))
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        let server = Server {
            child,
            base,
            log,
            client,
        };
        server.wait_for_collection();
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> String {
        self.log.lock().expect("log").clone()
    }

    /// Waits until the collection at start has finished, as `/health` tells.
    fn wait_for_collection(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let health: serde_json::Value = self
                .client
                .get(self.url("/health"))
                .send()
                .expect("health")
                .text()
                .map(|t| parse_json(&t))
                .expect("body");
            if health["collections"].as_u64().unwrap_or(0) >= 1 {
                assert_eq!(health["last_collection"]["ok"], true, "{health}");
                return;
            }
            assert!(Instant::now() < deadline, "no collection: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> reqwest::blocking::Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().expect("request")
    }

    /// Waits until `needle` appears `count` times in the server's log.
    fn wait_for_log(&self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.log().matches(needle).count() < count {
            assert!(
                Instant::now() < deadline,
                "never logged {needle:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        // A guard against a hang, not a speed check: the server first finishes the export
        // in flight, which in a debug build on a shared 2-core machine, beside the other
        // tests' servers, can take more than a minute.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn write_zip(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write zip");
    path
}

/// `tally --export` with the same records and `--as-of`, in a directory of its own.
fn headless_export(records: &[impl AsRef<str>]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("dir");
    write_setup(dir.path(), records, "");
    let out = tally(
        dir.path(),
        &[
            "--config",
            "tally.toml",
            "--export",
            "headless.zip",
            "--as-of",
            AS_OF,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.path().join("headless.zip");
    (dir, path)
}

const SUMMARY_FIELDS: &[(&str, &str)] = &[
    ("total_unique_users", "Total Unique Users"),
    ("usernames_or_emails", "Usernames or Emails"),
    ("emails", "Emails"),
    ("display_names", "Display Names"),
    ("usernames", "Usernames"),
    ("service_accounts", "Service Accounts"),
    ("total_unique_entity_types", "Total Unique Entity Types"),
    ("total_unique_projects", "Total Unique Projects"),
    ("total_entities_synced", "Total Entities Synced"),
    ("unidentified_observations", "Unidentified Observations"),
    ("invalid_emails", "Invalid Emails"),
];

/// The Summary sheet's label column value for `label`, as text.
fn summary_text(book: &Workbook, label: &str) -> String {
    book.sheet("Summary")
        .iter()
        .find(|r| r.first().map(text).as_deref() == Some(label))
        .map(|r| text(&r[1]))
        .unwrap_or_else(|| panic!("Summary has no row {label}"))
}

/// The rows of the Summary sheet's Sources table (its header left out).
fn sources_of(book: &Workbook) -> Vec<Vec<calamine::Data>> {
    let rows = book.sheet("Summary");
    let start = rows
        .iter()
        .position(|r| r.first().map(text).as_deref() == Some("Sources"))
        .expect("a Sources block");
    rows[start + 1..]
        .iter()
        .take_while(|r| r.get(1).is_some_and(|kind| !text(kind).is_empty()))
        .filter(|r| {
            !matches!(
                text(&r[0]).as_str(),
                "Partial Report" | "Demo data" | "Tally Version" | "Written At (UTC)"
            )
        })
        .cloned()
        .collect()
}

/// The JSON of one window without its moments (as [`without_moments`]).
fn json_without_moments(mut doc: serde_json::Value) -> serde_json::Value {
    if let Some(p) = doc.get_mut("provenance").and_then(|p| p.as_object_mut()) {
        p.remove("written_at");
        p.remove("partial");
        if let Some(rows) = p.get_mut("sources").and_then(|s| s.as_array_mut()) {
            for row in rows.iter_mut().filter_map(|r| r.as_object_mut()) {
                row.remove("Collected At (UTC)");
                row.remove("Last Good Collection (UTC)");
            }
        }
    }
    doc
}

#[test]
fn the_export_matches_tally_export_and_the_summary_matches_the_zip() {
    let dir = tempfile::tempdir().expect("dir");
    let tokens = write_setup(dir.path(), SMALL, "");
    let server = Server::start(dir.path());

    let res = server.get(
        &format!("/export/usage-reports?as_of={AS_OF}"),
        Some(&tokens.admin),
    );
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "application/zip");
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"Usage Reports.zip\""
    );
    assert_eq!(header("x-tally-as-of"), AS_OF);
    let bytes = res.bytes().expect("body");
    let served = write_zip(dir.path(), "served.zip", &bytes);

    let (_headless_dir, headless) = headless_export(SMALL);
    let (served_names, served_books) = read_zip(&served);
    let (headless_names, headless_books) = read_zip(&headless);
    assert_eq!(served_names, vec![SIX.to_owned(), YEAR.to_owned()]);
    assert_eq!(served_names, headless_names);
    for name in &served_names {
        let (a, b) = (&served_books[name], &headless_books[name]);
        assert_eq!(a.names, b.names, "{name}: sheets");
        for sheet in &a.names {
            // The Summary sheets differ only where they say when things happened: each
            // process collected and wrote at its own moment.
            assert_eq!(
                without_moments(a.sheet(sheet)),
                without_moments(b.sheet(sheet)),
                "{name} / {sheet}"
            );
        }
        // Which connector fed the numbers, and how its collection went.
        let sources = sources_of(&served_books[name]);
        assert_eq!(sources.len(), 1, "{sources:?}");
        assert_eq!(
            [
                text(&sources[0][0]),
                text(&sources[0][1]),
                text(&sources[0][2])
            ],
            ["sync-log", "jsonl", "ok"]
        );
        assert!(matches!(sources[0][3], calamine::Data::DateTime(_)));
    }
    assert_eq!(check_agreement(&served_books[SIX]), 2.0);

    for (window, book) in [("6m", SIX), ("1y", YEAR)] {
        let res = server.get(
            &format!("/api/summary?window={window}&as_of={AS_OF}"),
            Some(&tokens.admin),
        );
        assert_eq!(res.status(), StatusCode::OK);
        let json: serde_json::Value = parse_json(&res.text().expect("body"));
        let book = &served_books[book];
        for (field, label) in SUMMARY_FIELDS {
            assert_eq!(
                json[field].as_f64(),
                Some(book.summary(label)),
                "{window}: {field} vs {label}: {json}"
            );
        }
        assert_eq!(json["as_of"], AS_OF);
        // The same provenance as the workbook's Summary sheet.
        let p = &json["provenance"];
        assert_eq!(p["sources"][0]["Sources"], "sync-log", "{json}");
        assert_eq!(p["sources"][0]["Last Collection"], "ok", "{json}");
        assert_eq!(
            p["tally_version"].as_str(),
            Some(summary_text(book, "Tally Version").as_str())
        );
        assert_eq!(p["demo_data"], false);
        assert_eq!(p["partial"], serde_json::json!([]));
        assert!(p["written_at"].as_str().is_some_and(|t| t > AS_OF), "{p}");
    }

    // Without as_of, the report ends now.
    let res = server.get("/export/usage-reports", Some(&tokens.admin));
    assert_eq!(res.status(), StatusCode::OK);
    let as_of = res
        .headers()
        .get("x-tally-as-of")
        .and_then(|v| v.to_str().ok())
        .expect("as-of header")
        .to_owned();
    assert!(as_of.as_str() > AS_OF, "{as_of}");

    let log = server.log();
    assert!(
        log.contains("token=\"ops-bot\"") || log.contains("token=ops-bot"),
        "{log}"
    );
    for secret in [&tokens.admin, &tokens.viewer, &tokens.no_permission] {
        assert!(!log.contains(secret.as_str()), "a token was logged");
    }
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn unauthorised_and_malformed_requests_get_the_right_status() {
    let dir = tempfile::tempdir().expect("dir");
    let tokens = write_setup(dir.path(), SMALL, "");
    let server = Server::start(dir.path());
    let export = "/export/usage-reports";

    for (token, why) in [
        (None, "no token"),
        (Some("tally_not-a-configured-token"), "unknown token"),
        (Some(""), "empty token"),
    ] {
        for path in [export, "/api/summary?window=6m"] {
            let res = server.get(path, token);
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why} {path}");
            let challenge = res
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                challenge.starts_with("Bearer realm=\"tally\""),
                "{why}: {challenge:?}"
            );
            assert_eq!(
                challenge.contains("error=\"invalid_token\""),
                token.is_some(),
                "{why}: {challenge:?}"
            );
            let body = res.text().expect("body");
            assert!(body.starts_with("401 Unauthorized: "), "{why}: {body:?}");
        }
    }
    // Another scheme.
    let res = server
        .client
        .get(server.url(export))
        .header("Authorization", format!("Basic {}", tokens.admin))
        .send()
        .expect("request");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    for (token, who) in [
        (&tokens.viewer, "a non-administrator"),
        (
            &tokens.no_permission,
            "an administrator without the permission",
        ),
    ] {
        for path in [export, "/api/summary?window=1y"] {
            let res = server.get(path, Some(token));
            assert_eq!(res.status(), StatusCode::FORBIDDEN, "{who} {path}");
        }
    }

    let admin = Some(tokens.admin.as_str());
    for (path, status) in [
        ("/nope", StatusCode::NOT_FOUND),
        ("/export", StatusCode::NOT_FOUND),
        ("/export/usage-reports/x", StatusCode::NOT_FOUND),
        (
            "/export/usage-reports?as_of=yesterday",
            StatusCode::BAD_REQUEST,
        ),
        ("/export/usage-reports?as_of=", StatusCode::BAD_REQUEST),
        (
            "/export/usage-reports?asof=2026-11-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/summary", StatusCode::BAD_REQUEST),
        ("/api/summary?window=3m", StatusCode::BAD_REQUEST),
        (
            "/api/summary?window=6m&as_of=2026-13-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = server.get(path, admin);
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().expect("body");
        if status == StatusCode::BAD_REQUEST {
            assert!(body.starts_with("400 Bad Request: "), "{path}: {body}");
        }
    }
    let res = server.get("/export/usage-reports?as_of=yesterday", admin);
    assert!(res.text().expect("body").contains("RFC 3339"));
    // An offset with `+` sent encoded is a valid time.
    let res = server.get(
        "/api/summary?window=6m&as_of=2026-11-01T01:00:00%2B01:00",
        admin,
    );
    assert_eq!(res.status(), StatusCode::OK);
    let json: serde_json::Value = parse_json(&res.text().expect("body"));
    assert_eq!(json["as_of"], AS_OF);

    // A wrong method is a 405 with or without a token.
    for path in [export, "/api/summary", "/health"] {
        for method in [
            reqwest::Method::POST,
            reqwest::Method::DELETE,
            reqwest::Method::PUT,
        ] {
            for token in [Some(tokens.admin.as_str()), None] {
                let mut req = server.client.request(method.clone(), server.url(path));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                let res = req.send().expect("request");
                assert_eq!(
                    res.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} token: {}",
                    token.is_some()
                );
                assert_eq!(
                    res.headers().get("allow").and_then(|v| v.to_str().ok()),
                    Some("GET,HEAD"),
                    "{method} {path}"
                );
                let body = res.text().expect("body");
                assert!(body.starts_with("405 Method Not Allowed: "), "{body:?}");
            }
        }
    }

    // /health needs no token.
    let res = server.get("/health", None);
    assert_eq!(res.status(), StatusCode::OK);
    let json: serde_json::Value = parse_json(&res.text().expect("body"));
    assert_eq!(json["status"], "ok");

    // Too many headers, and bytes that are not HTTP: refused by the server, which goes on.
    let mut req = server.client.get(server.url("/health"));
    for i in 0..200 {
        req = req.header(format!("x-filler-{i}"), "x");
    }
    match req.send() {
        Ok(res) => assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    let huge = "x".repeat(1 << 20);
    match server
        .client
        .get(server.url("/health"))
        .header("x-huge", huge)
        .send()
    {
        Ok(res) => assert!(res.status().is_client_error(), "{}", res.status()),
        Err(e) => assert!(!e.is_timeout(), "{e}"),
    }
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut raw = TcpStream::connect(&addr).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    raw.write_all(b"NOT HTTP AT ALL\r\n\x00\x01\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    let _ = raw.read_to_string(&mut answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 400"),
        "{answer:?}"
    );
    assert_eq!(server.get("/health", None).status(), StatusCode::OK);

    let log = server.log();
    assert!(!log.contains("panicked"), "{log}");
    for secret in [&tokens.admin, &tokens.viewer, &tokens.no_permission] {
        assert!(!log.contains(secret.as_str()), "a token was logged");
    }
    // 403s are logged with the token's name (on the request line itself: the name also
    // appears in the warning at start about the token's role).
    assert!(
        log.lines()
            .any(|l| l.contains("request token=\"viewer\"") && l.contains("status=403")),
        "{log}"
    );
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn concurrent_requests_share_one_computation_and_health_answers_meanwhile() {
    let dir = tempfile::tempdir().expect("dir");
    let tokens = write_setup(dir.path(), &big_records(), "");
    let server = Arc::new(Server::start(dir.path()));
    let path = format!("/export/usage-reports?as_of={AS_OF}");

    let fetch = |server: &Arc<Server>| {
        let server = Arc::clone(server);
        let path = path.clone();
        let token = tokens.admin.clone();
        std::thread::spawn(move || {
            let res = server.get(&path, Some(&token));
            let status = res.status();
            let bytes = res.bytes().expect("body");
            (status, bytes, Instant::now())
        })
    };
    let first = fetch(&server);
    server.wait_for_log("computation started kind=Zip", 1);
    // These arrive while the first is being computed, so they join it.
    let others: Vec<_> = (0..5).map(|_| fetch(&server)).collect();

    let asked = Instant::now();
    let health = server.get("/health", None);
    let health_done = Instant::now();
    assert_eq!(health.status(), StatusCode::OK);

    let (status, bytes, first_done) = first.join().expect("first");
    assert_eq!(status, StatusCode::OK);
    assert!(
        health_done < first_done,
        "/health answered in {:?}, after the export",
        health_done - asked
    );
    for t in others {
        let (s, b, _) = t.join().expect("thread");
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b, bytes, "every caller gets the same zip");
    }
    let log = server.log();
    assert_eq!(
        log.matches("computation started kind=Zip").count(),
        1,
        "six requests, one computation: {log}"
    );
    let served = write_zip(dir.path(), "served.zip", &bytes);
    let (names, books) = read_zip(&served);
    assert_eq!(names, vec![SIX.to_owned(), YEAR.to_owned()]);
    assert!(check_agreement(&books[YEAR]) > 1000.0);

    // A later request reads the store again: a computation of its own.
    assert_eq!(
        server.get(&path, Some(&tokens.admin)).status(),
        StatusCode::OK
    );
    assert_eq!(
        server.log().matches("computation started kind=Zip").count(),
        2
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().expect("dir");
    let tokens = write_setup(dir.path(), &big_records(), "collect_every = \"1d\"");
    // The export in flight must be finished, however long the loaded test machine takes
    // over it: a grace period longer than any such export (the grace period itself is
    // tested below).
    let server = Server::start_env(dir.path(), "http", &[("TALLY_SERVE_GRACE_MS", "240000")]);
    let url = server.url(&format!("/export/usage-reports?as_of={AS_OF}"));
    let client = server.client.clone();
    let token = tokens.admin.clone();
    let in_flight = std::thread::spawn(move || {
        let res = client.get(url).bearer_auth(token).send().expect("answered");
        (res.status(), res.bytes().expect("whole body").len())
    });
    server.wait_for_log("computation started kind=Zip", 1);
    let base = server.base.clone();
    let log = Arc::clone(&server.log);
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    let (code, len) = in_flight.join().expect("request thread");
    assert_eq!(code, StatusCode::OK);
    assert!(len > 10_000, "a whole zip: {len} bytes");
    let log = log.lock().expect("log").clone();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("tally serve stopped"), "{log}");
    // Nothing listens any more.
    assert!(TcpStream::connect(base.trim_start_matches("http://")).is_err());
}

#[test]
fn serve_refuses_to_start_without_tokens_or_with_bad_settings() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("tally.toml"),
        "[[connector]]\nname = \"log\"\nkind = \"jsonl\"\npath = \"x.jsonl\"\n",
    )
    .expect("write");
    let out = tally(dir.path(), &["--config", "tally.toml", "serve"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("tally token new"), "{}", stderr(&out));

    std::fs::write(
        dir.path().join("tally.toml"),
        "[api]\ncollect_every = \"daily\"\n",
    )
    .expect("write");
    let out = tally(dir.path(), &["--config", "tally.toml", "serve"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("tally.toml:2:17: api.collect_every: \"daily\" is not a duration"),
        "{err}"
    );

    let out = tally(dir.path(), &["token", "new", "bad\"name"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn https_with_a_certificate_from_the_configuration() {
    let dir = tempfile::tempdir().expect("dir");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: the openssl command is not available to make a test certificate");
        return;
    }
    let tokens = write_setup(
        dir.path(),
        SMALL,
        "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"",
    );
    let server = Server::start_with(dir.path(), "https");
    let res = server.get(
        &format!("/export/usage-reports?as_of={AS_OF}"),
        Some(&tokens.admin),
    );
    assert_eq!(res.status(), StatusCode::OK);
    let served = write_zip(dir.path(), "served.zip", &res.bytes().expect("body"));
    let (_, books) = read_zip(&served);
    assert_eq!(check_agreement(&books[SIX]), 2.0);
    assert_eq!(server.get("/health", None).status(), StatusCode::OK);
    // Plain HTTP to the HTTPS port gets no answer.
    let plain = server.base.replace("https://", "http://");
    assert!(server.client.get(format!("{plain}/health")).send().is_err());
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

/// Issue 10 item 8: a client holding a half-sent request kept `tally serve` from
/// exiting on SIGTERM, and was never timed out.
#[test]
fn sigterm_ends_the_server_within_the_grace_period_despite_half_sent_requests() {
    let dir = tempfile::tempdir().expect("dir");
    write_setup(dir.path(), SMALL, "");
    // The default grace period (60 s) is for requests being answered; a half-sent
    // request is not one.
    let server = Server::start(dir.path());
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut holders = Vec::new();
    for _ in 0..3 {
        let mut raw = TcpStream::connect(&addr).expect("connect");
        raw.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .expect("write");
        holders.push(raw);
    }
    // A request in flight has been read up to where the client stopped.
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let status = server.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(10),
        "stopped after {took:?}: half-sent requests held the shutdown"
    );
}

#[test]
fn a_client_that_never_finishes_its_request_head_is_disconnected() {
    let dir = tempfile::tempdir().expect("dir");
    write_setup(dir.path(), SMALL, "");
    let server = Server::start_env(
        dir.path(),
        "http",
        &[("TALLY_SERVE_HEADER_TIMEOUT_MS", "1000")],
    );
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut raw = TcpStream::connect(&addr).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    raw.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    let started = Instant::now();
    let mut answer = Vec::new();
    let read = raw.read_to_end(&mut answer);
    assert!(read.is_ok(), "the server closed the connection: {read:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "closed after {:?}",
        started.elapsed()
    );
    // An idle kept-alive connection is closed the same way.
    let mut idle = TcpStream::connect(&addr).expect("connect");
    idle.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut all = Vec::new();
    assert!(
        idle.read_to_end(&mut all).is_ok(),
        "closed, not timed out on our side"
    );
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert_eq!(server.get("/health", None).status(), StatusCode::OK);
}

/// `GET /api/report` is one window of `--export x.json`, and `GET /api/insights` the JSON
/// of `--insights x.json`, with the same tokens and statuses as every report route.
#[test]
fn report_and_insights_json_match_the_headless_documents() {
    let accounts = [
        r#"{"kind":"account","system":"Jira","at":"2026-10-20T06:00:00Z","id":"a1","email":"ann@corp.example","username":"ann","status":"active","product":"Jira Software"}"#,
        r#"{"kind":"account","system":"Jira","at":"2026-10-20T06:00:00Z","id":"z9","email":"zoe@partner.example","status":"active"}"#,
        r#"{"kind":"account","system":"Jira","at":"2026-10-20T06:00:00Z","id":"x0","email":"old@corp.example","status":"disabled"}"#,
    ];
    let records: Vec<&str> = SMALL.iter().copied().chain(accounts).collect();
    let dir = tempfile::tempdir().expect("dir");
    let tokens = write_setup(dir.path(), &records, "");
    let server = Server::start(dir.path());

    for (path, kind) in [
        (format!("/api/report?window=6m&as_of={AS_OF}"), "report"),
        (format!("/api/insights?as_of={AS_OF}"), "insights"),
    ] {
        assert_eq!(
            server.get(&path, None).status(),
            StatusCode::UNAUTHORIZED,
            "{kind}"
        );
        assert_eq!(
            server.get(&path, Some(&tokens.viewer)).status(),
            StatusCode::FORBIDDEN,
            "{kind}"
        );
    }
    let bad = server.get("/api/report?window=2y", Some(&tokens.admin));
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let res = server.get(
        &format!("/api/report?window=6m&as_of={AS_OF}"),
        Some(&tokens.admin),
    );
    assert_eq!(res.status(), StatusCode::OK);
    let served = parse_json(&res.text().expect("body"));
    let res = server.get(&format!("/api/insights?as_of={AS_OF}"), Some(&tokens.admin));
    assert_eq!(res.status(), StatusCode::OK);
    let insights = parse_json(&res.text().expect("body"));

    // The same documents written headless from the same records.
    let cli = tempfile::tempdir().expect("dir");
    write_setup(cli.path(), &records, "");
    let out = tally(
        cli.path(),
        &[
            "--as-of",
            AS_OF,
            "--export",
            "r.json",
            "--insights",
            "i.json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let read =
        |name: &str| parse_json(&std::fs::read_to_string(cli.path().join(name)).expect(name));
    assert_eq!(
        json_without_moments(served),
        json_without_moments(read("r.json")["windows"]["6m"].clone())
    );
    assert_eq!(insights, read("i.json"));
    // Ann and Zoe have access; the disabled account is no one's access.
    assert_eq!(insights["people"]["with_access"], 2);
    assert_eq!(insights["systems"][0]["seats"], 2);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}
