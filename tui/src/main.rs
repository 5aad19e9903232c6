//! `tally`: the terminal UI, the headless export and the Admin API over the same core.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod headless;
mod registry;
mod serve;
mod setup;
mod ui;

/// How integrations are used: distinct people, projects, entity types and synced data
/// across end systems.
#[derive(Debug, Parser)]
#[command(name = "tally", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: ./tally.toml, then the user's config directory).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Headless: collect, then write Usage Reports.zip to PATH (a directory means
    /// PATH/Usage Reports.zip).
    #[arg(long, value_name = "PATH")]
    export: Option<PathBuf>,
    /// Report end time (RFC 3339), default now.
    #[arg(long, global = true, value_name = "RFC3339")]
    as_of: Option<String>,
    /// Use the built-in demo data set instead of a configuration.
    #[arg(long, global = true)]
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
}

/// Exit statuses a scheduler can tell apart.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_PARTIAL: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
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

fn one_line(e: &anyhow::Error) -> String {
    // The chain joined on one line: the scheduler's log keeps the whole reason.
    let parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if !out.iter().any(|o| o.contains(&p)) {
            out.push(p);
        }
    }
    out.join(": ").replace('\n', " ")
}

async fn run(cli: Cli) -> ExitCode {
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
        Some(Command::Serve(args)) => serve::main(cli.config, cli.demo, cli.as_of, args).await,
        Some(Command::Token { command }) => serve::token_main(command),
        None => match cli.export {
            Some(dest) => export(cli.config, cli.as_of, cli.demo, dest).await,
            None => ui::launch(cli.config.as_deref(), cli.as_of.as_deref(), cli.demo).await,
        },
    }
}

async fn export(
    config: Option<PathBuf>,
    as_of: Option<String>,
    demo: bool,
    dest: PathBuf,
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
    match headless::export(&setup, &dest).await {
        Ok(outcome) if outcome.failed.is_empty() => ExitCode::SUCCESS,
        Ok(outcome) => {
            eprintln!(
                "tally: wrote {}, but {} connector(s) failed, so it lacks their data: {}",
                outcome.path.display(),
                outcome.failed.len(),
                outcome.failed.join("; ")
            );
            ExitCode::from(EXIT_PARTIAL)
        }
        Err(e) => {
            eprintln!("tally: {}", one_line(&e));
            ExitCode::from(EXIT_FAILED)
        }
    }
}
