//! A real Redmine for the tests: Debian's `redmine` package, a fresh instance with its own
//! SQLite database in a temporary directory, served by WEBrick on a free loopback port.
//! Installed by `.ci/redmine.sh`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const REDMINE_ROOT: &str = "/usr/share/redmine";

/// Whether Debian's Redmine, its SQLite adapter and WEBrick are installed. When they are
/// not: under CI (`CI` set) the test fails, telling how to install them; elsewhere it is
/// skipped with a note.
pub fn redmine_available() -> bool {
    let app = Path::new(REDMINE_ROOT).join("config/application.rb");
    let gems_ok = Command::new("ruby")
        .args(["-e", "require 'webrick'; require 'sqlite3'"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if app.exists() && gems_ok {
        return true;
    }
    let why = "Debian's redmine, redmine-sqlite and ruby-webrick are not installed; run \
               `bash .ci/redmine.sh` (as root) to install them";
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED real-Redmine test: {why}");
    false
}

/// A running Redmine; the server is stopped and its directory removed when dropped.
pub struct Redmine {
    pub url: String,
    pub admin_key: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Redmine {
    fn drop(&mut self) {
        // WEBrick serves in-process: ending the one process stops the server.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(dir: &Path, app: &Path, what: &str, program: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let out = rails_env(Command::new(program), dir)
        .args(args)
        .current_dir(app)
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!(
        "redmine: {what} took {:.1}s",
        started.elapsed().as_secs_f32()
    );
    stdout
}

fn rails_env(mut cmd: Command, dir: &Path) -> Command {
    cmd.env("RAILS_ENV", "production")
        .env("REDMINE_INSTANCE", INSTANCE)
        .env("BUNDLE_GEMFILE", dir.join("Gemfile"))
        .env("REDMINE_LANG", "en")
        // Keep the caller's bundler settings (e.g. a deployment path) out of it.
        .env_remove("BUNDLE_PATH")
        .env_remove("RUBYOPT");
    cmd
}

/// Debian's name for this instance's configuration, database and logs.
const INSTANCE: &str = "tally-test";

/// The WEBrick server's output, in the instance's temporary directory.
const SERVER_LOG: &str = "server.log";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Redmine {
    /// Builds a fresh instance and starts it. Blocking: takes ~15 s.
    pub fn start() -> Redmine {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let app = root.join("app");
        // A private copy of the application (15 MB), so the instance, its database, logs,
        // pid and cache files never touch the system's Redmine.
        let status = Command::new("cp")
            .args(["-a", REDMINE_ROOT])
            .arg(&app)
            .status()
            .expect("cp");
        assert!(status.success(), "copying {REDMINE_ROOT} failed");
        // Debian points these at /var/lib/redmine and /etc/redmine; this instance has its
        // own.
        for link in ["instances", "config/database.yml", "Gemfile.lock"] {
            let _ = std::fs::remove_file(app.join(link));
        }
        let instance = app.join("instances").join(INSTANCE);
        for sub in ["config", "files", "log", "tmp/cache", "tmp/pids"] {
            std::fs::create_dir_all(instance.join(sub)).expect("instance dirs");
        }
        let database = format!(
            "production:\n  adapter: sqlite3\n  database: {}\n  timeout: 5000\n",
            root.join("redmine.sqlite3").display()
        );
        std::fs::write(instance.join("config/database.yml"), &database).expect("database.yml");
        std::fs::write(app.join("config/database.yml"), &database).expect("database.yml");
        std::fs::write(
            instance.join("config/secret_key.txt"),
            format!("tally-test-{}-{}", std::process::id(), free_port()).repeat(3),
        )
        .expect("secret key");
        // Debian's Gemfile has no web server, and adds the SQLite adapter only when a
        // system instance is configured for it.
        std::fs::write(
            root.join("Gemfile"),
            format!(
                "eval_gemfile \"{REDMINE_ROOT}/Gemfile\"\n\
                 gem \"sqlite3\" unless dependencies.any? {{ |d| d.name == \"sqlite3\" }}\n\
                 gem \"webrick\"\n"
            ),
        )
        .expect("Gemfile");

        // Two invocations: in one, the default data silently fails to load.
        run(root, &app, "rake db:migrate", "bin/rake", &["db:migrate"]);
        run(
            root,
            &app,
            "rake redmine:load_default_data",
            "bin/rake",
            &["redmine:load_default_data"],
        );
        // The REST API is off by default, admin must change its password before the API
        // lets it in, and the custom fields the tests use have no REST API.
        let out = run(
            root,
            &app,
            "rails runner (settings, admin key, custom fields)",
            "bin/rails",
            &[
                "runner",
                r#"
                Setting.rest_api_enabled = "1"
                Setting.text_formatting = "common_mark"
                admin = User.find_by_login!("admin")
                admin.must_change_passwd = false
                admin.save!
                trackers = Tracker.all.to_a
                IssueCustomField.create!(name: "Jira key", field_format: "string",
                  is_for_all: true, trackers: trackers, visible: true)
                IssueCustomField.create!(name: "Reviewer", field_format: "user",
                  is_for_all: true, trackers: trackers, visible: true)
                puts "ADMIN_KEY=#{admin.api_key}"
                "#,
            ],
        );
        let admin_key = out
            .lines()
            .find_map(|l| l.strip_prefix("ADMIN_KEY="))
            .expect("the runner prints the admin API key")
            .trim()
            .to_string();

        let port = free_port();
        let log = std::fs::File::create(root.join(SERVER_LOG)).expect("server log");
        let mut cmd = rails_env(Command::new("bin/rails"), root);
        use std::os::unix::process::CommandExt;
        let child = cmd
            .args(["server", "-b", "127.0.0.1", "-p", &port.to_string(), "-P"])
            .arg(root.join("server.pid"))
            .current_dir(&app)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // Its own process group: a Ctrl-C meant for the test runner is not sent to it
            // twice, and it never takes the caller's terminal.
            .process_group(0)
            .spawn()
            .expect("start rails server");
        let mut redmine = Redmine {
            url: format!("http://127.0.0.1:{port}"),
            admin_key,
            child,
            dir,
        };
        redmine.wait_until_up();
        eprintln!(
            "redmine: up at {} after {:.1}s",
            redmine.url,
            started.elapsed().as_secs_f32()
        );
        redmine
    }

    /// Runs a Ruby script in the instance (`rails runner`), for what the REST API cannot
    /// set (sign-in times, two-factor schemes). Blocking: takes a few seconds.
    pub fn runner(&self, what: &str, script: &str) -> String {
        let root = self.dir.path();
        run(
            root,
            &root.join("app"),
            what,
            "bin/rails",
            &["runner", script],
        )
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(SERVER_LOG)).unwrap_or_default()
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let addr = self.url.trim_start_matches("http://").to_string();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("redmine server exited ({status}):\n{}", self.server_log());
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!("GET /login HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                    && answer.contains(" 200 ")
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("redmine did not answer within 90s:\n{}", self.server_log());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A REST client for setting up test data, acting as admin or, with `as_user`, as another
/// user (`X-Redmine-Switch-User`), so authors and journal users are real.
pub struct Api {
    pub url: String,
    key: String,
    http: reqwest::Client,
    /// The instance's Rails logs, whose end a failed request shows: a 500 says nothing
    /// of its cause in the response.
    logs: Vec<PathBuf>,
}

impl Api {
    pub fn new(url: &str, key: &str) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            url: url.to_string(),
            key: key.to_string(),
            http: reqwest::Client::new(),
            logs: Vec::new(),
        }
    }

    /// This instance's API, a failed request showing the end of its logs: Rails writes
    /// to the instance's (`REDMINE_INSTANCE`), WEBrick to the server log.
    pub fn of(redmine: &Redmine) -> Api {
        let root = redmine.dir.path();
        Api {
            logs: vec![
                root.join("app/instances")
                    .join(INSTANCE)
                    .join("log/production.log"),
                root.join(SERVER_LOG),
            ],
            ..Api::new(&redmine.url, &redmine.admin_key)
        }
    }

    /// The last lines of every log there is.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for log in &self.logs {
            let Ok(text) = std::fs::read_to_string(log) else {
                continue;
            };
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            out.push_str(&format!(
                "\n--- {} (last 60 lines) ---\n{tail}",
                log.display()
            ));
        }
        out
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        as_user: Option<&str>,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .header("X-Redmine-API-Key", &self.key);
        if let Some(login) = as_user {
            req = req.header("X-Redmine-Switch-User", login);
        }
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("request to redmine");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert!(
            status.is_success(),
            "{method} {path} as {as_user:?}: HTTP {status}: {text}{}",
            self.log_tails()
        );
        if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).expect("json")
        }
    }

    pub async fn post(&self, path: &str, as_user: Option<&str>, body: Value) -> Value {
        self.send(reqwest::Method::POST, path, as_user, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, as_user: Option<&str>, body: Value) {
        self.send(reqwest::Method::PUT, path, as_user, Some(body))
            .await;
    }

    pub async fn get(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    /// Creates a user; returns (id, API key).
    pub async fn user(&self, login: &str, first: &str, last: &str, mail: &str) -> (u64, String) {
        let u = self
            .post(
                "/users.json",
                None,
                json!({"user": {"login": login, "firstname": first, "lastname": last,
                    "mail": mail, "password": "a-long-test-password"}}),
            )
            .await;
        (
            u["user"]["id"].as_u64().expect("user id"),
            u["user"]["api_key"].as_str().expect("api key").to_string(),
        )
    }

    /// Uploads a file as `as_user`; returns the upload token.
    pub async fn upload(&self, as_user: &str, filename: &str, bytes: &[u8]) -> String {
        let resp = self
            .http
            .post(format!("{}/uploads.json?filename={filename}", self.url))
            .header("X-Redmine-API-Key", &self.key)
            .header("X-Redmine-Switch-User", as_user)
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload");
        assert!(resp.status().is_success(), "upload: {}", resp.status());
        let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
        v["upload"]["token"].as_str().expect("token").to_string()
    }
}
