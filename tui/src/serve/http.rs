//! The accept loop of `tally serve`, with the limits `axum::serve` does not have:
//!
//! - a header-read timeout: a client that does not send a complete request head within
//!   [`Limits::header_read_timeout`] is disconnected. hyper runs this timer also while a
//!   kept-alive connection waits for its next request, so it bounds idle connections too;
//! - at most [`Limits::max_connections`] connections at once: beyond that, new ones wait
//!   in the kernel's backlog instead of costing memory and tasks;
//! - shutdown that ends within [`Limits::grace`] whatever clients do: a request being
//!   answered (its handler running, or its response still being written) gets that long
//!   to finish; a connection doing neither (idle, or holding a half-sent request) is
//!   closed at once.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::Listener;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            grace: Duration::from_secs(60),
        }
    }
}

/// `TALLY_SERVE_HEADER_TIMEOUT_MS` and `TALLY_SERVE_GRACE_MS` shorten the limits (for
/// tests and for operators who want them tighter); other values are ignored.
pub fn limits_from_env() -> Limits {
    let ms = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&n| n > 0)
            .map(Duration::from_millis)
    };
    let mut limits = Limits::default();
    if let Some(d) = ms("TALLY_SERVE_HEADER_TIMEOUT_MS") {
        limits.header_read_timeout = d;
    }
    if let Some(d) = ms("TALLY_SERVE_GRACE_MS") {
        limits.grace = d;
    }
    limits
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then stops accepting, lets
/// connections finish for at most `limits.grace`, and returns.
pub async fn serve<L>(mut listener: L, app: Router, shutdown: CancellationToken, limits: Limits)
where
    L: Listener,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut tasks = JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let (io, _addr) = tokio::select! {
            conn = listener.accept() => conn,
            () = shutdown.cancelled() => break,
        };
        // Finished connections are reaped here, so the set holds only live ones.
        while tasks.try_join_next().is_some() {}
        let activity = Arc::new(Activity::default());
        let inner = TowerToHyperService::new(app.clone());
        let counted = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |req| {
            let answer = hyper::service::Service::call(&inner, req);
            let busy = Busy::new(&counted);
            async move {
                let _busy = busy;
                answer.await
            }
        });
        let io = Tracked {
            inner: io,
            activity: Arc::clone(&activity),
        };
        let shutdown = shutdown.clone();
        tasks.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                    return;
                }
                () = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
            let deadline = tokio::time::Instant::now() + limits.grace;
            let mut written = activity.written.load(Ordering::Relaxed);
            loop {
                tokio::select! {
                    _ = conn.as_mut() => return,
                    () = tokio::time::sleep(QUIET_CHECK) => {}
                }
                let now_written = activity.written.load(Ordering::Relaxed);
                let answering = activity.busy.load(Ordering::Relaxed) > 0 || now_written != written;
                written = now_written;
                if !answering {
                    // Idle or a half-sent request: nothing of value is lost.
                    return;
                }
                if tokio::time::Instant::now() >= deadline {
                    tracing::info!("a request did not finish within the grace period; its connection is closed");
                    return;
                }
            }
        });
    }
    drop(listener);
    // Every connection task ends within `grace` of the cancellation; the margin covers
    // the scheduling of those tasks.
    let all_done = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.grace + Duration::from_secs(1), all_done)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period; stopping anyway");
        tasks.abort_all();
    }
}

/// How often a connection is checked for progress after shutdown began.
const QUIET_CHECK: Duration = Duration::from_millis(300);

/// What a connection is doing, as far as shutdown cares.
#[derive(Default)]
struct Activity {
    /// Requests whose handler is running.
    busy: AtomicUsize,
    /// Bytes written to the client so far.
    written: AtomicU64,
}

/// Counts a running handler for as long as it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: &Arc<Activity>) -> Busy {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection's stream, counting the bytes written (a response still going out).
struct Tracked<I> {
    inner: I,
    activity: Arc<Activity>,
}

impl<I: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &result {
            self.activity
                .written
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &result {
            self.activity
                .written
                .fetch_add(*n as u64, Ordering::Relaxed);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
