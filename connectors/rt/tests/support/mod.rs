//! A real Request Tracker for the tests: Debian's `request-tracker5` with a fresh SQLite
//! database and its own `RT_SiteConfig.pm` in a temporary directory (the package's
//! `/etc/request-tracker5` snippets are skipped), served by Starlet on a free loopback port.
//! Installed by `.ci/rt.sh`.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const RT_LIB: &str = "/usr/share/request-tracker5/lib";
const RT_SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";
const SETUP_DATABASE: &str = "/usr/sbin/rt-setup-database-5";

/// Whether Debian's RT 5, its SQLite driver and the standalone server are installed. When
/// they are not: under CI (`CI` set) the test fails, telling how to install them; elsewhere
/// it is skipped with a note.
pub fn rt_available() -> bool {
    let driver_ok = Command::new("perl")
        .args(["-MDBD::SQLite", "-MStarlet", "-e", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if Path::new(RT_SERVER).exists() && Path::new(SETUP_DATABASE).exists() && driver_ok {
        return true;
    }
    let why = "Debian's request-tracker5, rt5-db-sqlite and rt5-standalone are not installed; \
               run `bash .ci/rt.sh` (as root) to install them";
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED real-RT test: {why}");
    false
}

/// A running RT; the server is stopped and its directory removed when dropped.
pub struct Rt {
    /// The RT root, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// An RT auth token of `root`, made by RT itself.
    pub root_token: String,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Rt {
    fn drop(&mut self) {
        // Starlet forks workers: end the whole process group it leads.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        // A killed rt-server can linger as a zombie until reaped; the port closing is what
        // tells it is gone.
        while Instant::now() < deadline {
            let _ = self.child.try_wait();
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn rt_env(mut cmd: Command, dir: &Path) -> Command {
    cmd.env("RT_SITE_CONFIG", dir.join("RT_SiteConfig.pm"))
        .env("RT_SITE_CONFIG_DIR", dir.join("RT_SiteConfig.d"))
        .env_remove("PERL5LIB");
    cmd
}

fn run(dir: &Path, what: &str, program: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let out = rt_env(Command::new(program), dir)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
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
    eprintln!("rt: {what} took {:.1}s", started.elapsed().as_secs_f32());
    stdout
}

/// Rights for the test organisation, a ticket custom field for links, and an auth token for
/// root: REST 2 in RT 5.0 can do none of these, so RT's own Perl API does them before the
/// server starts.
const SETUP_PL: &str = r#"
use strict; use warnings;
use RT; RT::LoadConfig(); RT::Init();
my %rights = (
  Privileged => [qw(SeeQueue ShowTicket CreateTicket ReplyToTicket CommentOnTicket
                    ModifyTicket OwnTicket ShowTicketComments Watch WatchAsAdminCc
                    SeeCustomField ModifyCustomField)],
  Everyone => [qw(CreateTicket ReplyToTicket)],
);
for my $name (sort keys %rights) {
  my $g = RT::Group->new(RT->SystemUser);
  $g->LoadSystemInternalGroup($name) or die "no group $name";
  for my $r (@{$rights{$name}}) {
    my ($ok, $msg) = $g->PrincipalObj->GrantRight(Right => $r, Object => $RT::System);
    die "grant $r to $name: $msg" unless $ok;
  }
}
my $cf = RT::CustomField->new(RT->SystemUser);
my ($ok, $msg) = $cf->Create(Name => 'Jira key', Type => 'FreeformSingle',
                             LookupType => 'RT::Queue-RT::Ticket');
die "custom field: $msg" unless $ok;
($ok, $msg) = $cf->AddToObject(RT::Queue->new(RT->SystemUser));
die "apply custom field: $msg" unless $ok;
my $root = RT::User->new(RT->SystemUser);
$root->Load('root') or die "no root";
my $token = RT::AuthToken->new(RT->SystemUser);
my ($tok, $tmsg, $auth) = $token->Create(Owner => $root->id, Description => 'tally tests');
die "token: $tmsg" unless $tok;
print "TOKEN=$auth\n";
"#;

impl Rt {
    /// Builds a fresh instance and starts it. Blocking: takes ~10 s.
    pub fn start() -> Rt {
        let started = Instant::now();
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for sub in ["RT_SiteConfig.d", "mason", "sessions"] {
            std::fs::create_dir_all(root.join(sub)).expect("rt dirs");
        }
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        // BcryptCost 4: RT checks the password on every basic-auth request, at ~0.35 s with
        // the default cost. A time zone other than UTC (RT's default, made explicit), so the
        // test shows the ticket query does not depend on it. Mail goes nowhere.
        std::fs::write(
            root.join("RT_SiteConfig.pm"),
            format!(
                r#"Set($rtname, 'tally.test');
Set($Organization, 'tally.test');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{db}');
Set($WebPath, '');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebBaseURL, '{url}');
Set($LogToSTDERR, 'error');
Set($LogToSyslog, undef);
Set($MailCommand, sub {{ 1 }});
Set($BcryptCost, 4);
Set($Timezone, 'US/Eastern');
$RT::MasonDataDir = '{mason}';
$RT::MasonSessionDir = '{sessions}';
1;
"#,
                db = root.join("rt.sqlite").display(),
                mason = root.join("mason").display(),
                sessions = root.join("sessions").display(),
            ),
        )
        .expect("RT_SiteConfig.pm");
        run(
            root,
            "rt-setup-database --action init",
            SETUP_DATABASE,
            &["--action", "init", "--skip-create"],
        );
        std::fs::write(root.join("setup.pl"), SETUP_PL).expect("setup.pl");
        let out = run(
            root,
            "rights, custom field, auth token",
            "perl",
            &["-I", RT_LIB, "setup.pl"],
        );
        let root_token = out
            .lines()
            .find_map(|l| l.strip_prefix("TOKEN="))
            .expect("the setup prints root's auth token")
            .trim()
            .to_string();

        let log = std::fs::File::create(root.join("server.log")).expect("server log");
        use std::os::unix::process::CommandExt;
        let child = rt_env(Command::new(RT_SERVER), root)
            .args(["--server", "Starlet", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // Its own process group: stopped as a whole when dropped, and a Ctrl-C meant
            // for the test runner is not sent to it twice.
            .process_group(0)
            .spawn()
            .expect("start rt-server");
        let mut rt = Rt {
            url,
            root_token,
            child,
            port,
            dir,
        };
        rt.wait_until_up();
        eprintln!(
            "rt: up at {} after {:.1}s",
            rt.url,
            started.elapsed().as_secs_f32()
        );
        rt
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn wait_until_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let addr = format!("127.0.0.1:{}", self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("rt-server exited ({status}):\n{}", self.server_log());
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(&addr) {
                use std::io::{Read, Write};
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                // Unauthenticated, REST 2 answers 401: RT is up and REST 2 is mounted.
                let request = format!("GET /REST/2.0/rt HTTP/1.0\r\nHost: {addr}\r\n\r\n");
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.")
                    && answer.contains(" 401 ")
                {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("rt did not answer within 90s:\n{}", self.server_log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A REST 2 client for setting up test data, acting as a given user by basic auth, so
/// creators of tickets and transactions are real.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
}

pub const PASSWORD: &str = "a-long-test-password";

impl Api {
    pub fn new(url: &str) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            base: format!("{url}/REST/2.0"),
            http: reqwest::Client::new(),
        }
    }

    /// Sends as `user` (`root` has RT's default password `password`); returns the JSON.
    pub async fn send(
        &self,
        method: reqwest::Method,
        user: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let password = if user == "root" { "password" } else { PASSWORD };
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .basic_auth(user, Some(password));
        if let Some(body) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("request to rt");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert!(
            status.is_success(),
            "{method} {path} as {user}: HTTP {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    pub async fn post(&self, user: &str, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::POST, user, path, Some(body))
            .await
    }

    pub async fn put(&self, user: &str, path: &str, body: Value) -> Value {
        self.send(reqwest::Method::PUT, user, path, Some(body))
            .await
    }
}
