//! `tally`: the terminal UI, the headless export and the Admin API over the same core.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod headless;
mod registry;
mod serve;
mod service;
mod setup;
mod ui;

use service::one_line;

/// How integrations are used: distinct people, projects, entity types and synced data
/// across end systems.
///
/// Without a subcommand: the terminal UI, or headless with --export/--insights.
#[derive(Debug, Parser)]
#[command(
    name = "tally",
    version,
    about,
    long_about = None
)]
// `--export`, `--insights`, `--as-of` and `--demo` are not global: they belong to the
// run without a subcommand, so `serve --help` does not list them and `tally serve --demo`
// is refused by the parser (`tally --demo serve` by `run`).
struct Cli {
    /// Configuration file (default: ./tally.toml, then the user's config directory).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Only problems on stderr: no progress lines.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Every progress step on stderr.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Headless: collect, then write Usage Reports.zip to PATH (a directory means
    /// PATH/Usage Reports.zip; `-` writes the zip to standard output).
    #[arg(long, value_name = "PATH")]
    export: Option<PathBuf>,
    /// Headless: collect, then write the access insights to PATH (a directory means
    /// PATH/Insights.xlsx). Not built yet: reports so and writes nothing.
    #[arg(long, value_name = "PATH")]
    insights: Option<PathBuf>,
    /// Report end time: a date (midnight UTC) or an RFC 3339 time; default now.
    #[arg(long, value_name = "DATE|RFC3339")]
    as_of: Option<String>,
    /// Use the built-in demo data set instead of a configuration.
    #[arg(long)]
    demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List every connector kind available, built in or from a plugin.
    Connectors,
    /// Run the Admin API (docs/admin-api.md): GET /export/usage-reports and more.
    Serve(serve::ServeArgs),
    /// Manage the Admin API's bearer tokens.
    Token {
        #[command(subcommand)]
        command: serve::TokenCommand,
    },
    /// Print a shell completion script: `tally completions bash > /etc/bash_completion.d/tally`.
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff): `tally man > tally.1; man ./tally.1`.
    Man,
}

/// The shells `tally completions` writes for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Exit statuses a scheduler can tell apart.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    allocator::configure();
    let cli = Cli::parse();
    headless::set_verbosity(if cli.quiet {
        headless::Verbosity::Quiet
    } else if cli.verbose {
        headless::Verbosity::Verbose
    } else {
        headless::Verbosity::Normal
    });
    // These only print; no runtime needed.
    match &cli.command {
        Some(Command::Completions { shell }) => return completions(*shell),
        Some(Command::Man) => return man(),
        _ => {}
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tally: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let code = runtime.block_on(run(cli));
    // Dropping the runtime would wait for every blocking thread, and a plugin stuck in
    // blocking I/O after cancellation holds one: give them a moment, not forever.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    code
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error worth a status.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally: writing to standard output: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn completions(shell: CompletionShell) -> ExitCode {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut bytes = Vec::new();
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "tally", &mut bytes);
    print_bytes(&bytes)
}

fn man() -> ExitCode {
    use clap::CommandFactory;
    let mut bytes = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut bytes) {
        eprintln!("tally: cannot render the manual page: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    print_bytes(&bytes)
}

async fn run(cli: Cli) -> ExitCode {
    if let Some(command) = &cli.command {
        let given: Vec<&str> = [
            (cli.export.is_some(), "--export"),
            (cli.insights.is_some(), "--insights"),
            (cli.as_of.is_some(), "--as-of"),
            (cli.demo, "--demo"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect();
        if !given.is_empty() {
            let name = match command {
                Command::Connectors => "connectors",
                Command::Serve(_) => "serve",
                Command::Token { .. } => "token",
                Command::Completions { .. } => "completions",
                Command::Man => "man",
            };
            eprintln!(
                "tally: {} {} not apply to `tally {name}` (only to tally without a subcommand){}",
                given.join(" and "),
                if given.len() == 1 { "does" } else { "do" },
                if name == "serve" {
                    "; the Admin API takes ?as_of= per request"
                } else {
                    ""
                }
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    match cli.command {
        Some(Command::Connectors) => {
            // A plugin that cannot be loaded is reported and left out; the rest is listed.
            let (kinds, problems) = registry::available_kinds(cli.config.as_deref());
            for p in problems {
                eprintln!("tally: {p}");
            }
            for k in kinds {
                println!("{}\t{}\t{}\t{}", k.kind, k.version, k.origin, k.description);
            }
            ExitCode::SUCCESS
        }
        Some(Command::Serve(args)) => serve::main(cli.config, args).await,
        Some(Command::Token { command }) => serve::token_main(command),
        // Handled before the runtime started.
        Some(Command::Completions { .. } | Command::Man) => ExitCode::SUCCESS,
        None if cli.export.is_some() || cli.insights.is_some() => {
            let targets = Targets {
                export: cli.export,
                insights: cli.insights,
            };
            headless_main(cli.config, cli.as_of, cli.demo, targets).await
        }
        None => ui::launch(cli.config.as_deref(), cli.as_of.as_deref(), cli.demo).await,
    }
}

struct Targets {
    export: Option<PathBuf>,
    insights: Option<PathBuf>,
}

async fn headless_main(
    config: Option<PathBuf>,
    as_of: Option<String>,
    demo: bool,
    targets: Targets,
) -> ExitCode {
    let as_of = match setup::parse_as_of(as_of.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tally: {}", one_line(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let setup = match setup::setup(config.as_deref(), demo, as_of, setup::Fallback::Fail) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tally: {}", one_line(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let setup::Source::Demo(reason) = &setup.source {
        eprintln!("tally: {reason}");
    }
    let targets = headless::Targets {
        export: targets.export.as_deref(),
        insights: targets.insights.as_deref(),
    };
    match headless::run(&setup, targets).await {
        Ok(outcome) if outcome.failed.is_empty() => ExitCode::SUCCESS,
        Ok(outcome) => {
            let written: Vec<String> = outcome
                .written
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            let reasons: Vec<String> = outcome
                .failed
                .iter()
                .map(|f| format!("{}: {}", f.name, f.reason))
                .collect();
            let holds: Vec<String> = outcome.failed.iter().map(service::Failed::holds).collect();
            eprintln!(
                "tally: wrote {}, but {} failed ({}); it holds {}",
                written.join(" and "),
                headless::counted(outcome.failed.len() as u64, "connector", "connectors"),
                reasons.join("; "),
                holds.join("; ")
            );
            ExitCode::from(EXIT_PARTIAL)
        }
        Err(e) => {
            eprintln!("tally: {}", one_line(&e));
            ExitCode::from(if headless::is_usage(&e) {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            })
        }
    }
}
