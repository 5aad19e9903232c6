//! `tally serve`: the Admin API (SPEC §8), and `tally token new`.
//!
//! The server hands out the same `Usage Reports.zip` as `tally --export`: it collects with
//! [`headless::collect`] at start and then every `collect_every`, and builds reports with
//! the same core functions, computed from the store when asked.
//!
//! - `routes`: the router, handlers, request log.
//! - `auth`: bearer tokens (stored as SHA-256), roles and permissions.
//! - `jobs`: report and export computations, one at a time, shared by equal requests.
//! - `schedule`: the periodic collection.
//! - `tls`: optional HTTPS with rustls.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use tokio_util::sync::CancellationToken;

use crate::setup;

mod auth;
mod http;
mod jobs;
mod routes;
mod schedule;
mod tls;

pub use auth::{token_main, TokenCommand};

/// Where `tally serve` listens without `--listen` or `[api] listen`: loopback only, so a
/// fresh install is not reachable from the network by accident.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default: `[api] listen`, else 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

/// `tally serve`: runs until Ctrl-C or SIGTERM; exit status 0 after a clean shutdown.
pub async fn main(config: Option<PathBuf>, args: ServeArgs) -> ExitCode {
    init_logging();
    match run(config, args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally serve: {}", crate::service::one_line(&e));
            ExitCode::from(if e.is::<UsageError>() { 2 } else { 1 })
        }
    }
}

/// A problem with the command line or the configuration (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

fn init_logging() {
    // Another front end may have set a subscriber already; then that one wins.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn run(config: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    // `--demo` and `--as-of` are refused by the parser (they belong to the run without a
    // subcommand): the Admin API needs a configuration, and takes `?as_of=` per request.
    // Connectors are built once; their own `as_of` only matters for the demo data set.
    let setup = setup::setup(config.as_deref(), false, None, setup::Fallback::Fail)
        .map_err(|e| UsageError(crate::service::one_line(&e)))?;
    let Some(cfg) = setup.config.clone() else {
        bail!(UsageError(
            "`tally serve` needs a configuration file".into()
        ));
    };
    let api = &cfg.api;
    let tokens = auth::Tokens::from_config(&api.token)
        .map_err(|e| UsageError(format!("{}: {e}", cfg.path.display())))?;
    if tokens.is_empty() {
        bail!(UsageError(format!(
            "{}: no [[api.token]] is configured, so nobody could fetch a report; create one with `tally token new NAME` and paste its lines into the file",
            cfg.path.display()
        )));
    }
    let listen = args
        .listen
        .or_else(|| api.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let tls = match (&api.tls_cert, &api.tls_key) {
        (Some(cert), Some(key)) => Some(
            tls::server_config(&cfg.base_dir.join(cert), &cfg.base_dir.join(key))
                .map_err(|e| UsageError(crate::service::one_line(&e)))?,
        ),
        (None, None) => None,
        _ => bail!(UsageError(format!(
            "{}: [api] needs both `tls_cert` and `tls_key` for HTTPS, or neither",
            cfg.path.display()
        ))),
    };
    let every = api.collect_interval();

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {listen}: {e}")))?;
    let local: SocketAddr = listener
        .local_addr()
        .context("the listening socket has no address")?;

    let setup = Arc::new(setup);
    let shutdown = CancellationToken::new();
    let status = Arc::new(schedule::Status::default());
    let state = routes::AppState {
        jobs: Arc::new(jobs::Jobs::new(Arc::clone(&setup))),
        tokens: Arc::new(tokens),
        status: Arc::clone(&status),
    };
    let collector = tokio::spawn(schedule::run(
        Arc::clone(&setup),
        every,
        Arc::clone(&status),
        shutdown.clone(),
    ));

    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        address = %local,
        %scheme,
        tokens = state.tokens.len(),
        collect_every_secs = every.as_secs(),
        "tally serve listening"
    );
    // Scripts and tests read this line to learn the port when listening on port 0.
    eprintln!("tally serve: listening on {scheme}://{local}");

    let app = routes::router(state);
    tokio::spawn(shutdown_signal(shutdown.clone()));
    let limits = http::limits_from_env();
    match tls {
        Some(config) => {
            http::serve(
                tls::TlsListener::new(listener, config),
                app,
                shutdown.clone(),
                limits,
            )
            .await
        }
        None => http::serve(listener, app, shutdown.clone(), limits).await,
    }
    // The collector stops at the cancellation; waiting for it lets a collection that
    // was running store what it has and checkpoint its cursors before the process ends.
    shutdown.cancel();
    if let Err(e) = collector.await {
        tracing::warn!("the collection task ended abnormally: {e}");
    }
    tracing::info!("tally serve stopped");
    Ok(())
}

/// Resolves on the first Ctrl-C or SIGTERM; after that, requests in flight are finished and
/// no new ones are accepted. A second signal ends the process at once, for an operator who
/// does not want to wait for a long export.
async fn shutdown_signal(shutdown: CancellationToken) {
    wait_for_signal().await;
    tracing::info!("shutting down: finishing requests in flight (signal again to stop now)");
    shutdown.cancel();
    tokio::spawn(async {
        wait_for_signal().await;
        eprintln!("tally serve: stopped by a second signal");
        std::process::exit(130);
    });
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a Ctrl-C handler, SIGTERM (below) is the only way to stop.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
