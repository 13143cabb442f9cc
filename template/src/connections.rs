//! The HTTP/1.1 accept loop, with the limits `axum::serve` does not offer: a cap on open
//! connections, a deadline for each request head, an idle keep-alive timeout, and a graceful
//! drain on shutdown.
//!
//! Hand-written on hyper's connection API (as `axum::serve` itself is) because hyper's only
//! timer, `header_read_timeout`, also runs while a keep-alive connection sits idle, so it cannot
//! tell a slow client (a short deadline) from an idle pooled connection of a reverse proxy (a
//! long one); and `axum::serve` sets no timer at all.
//!
//! hyper answers requests it cannot parse (400, 431 for oversized heads) itself, with an empty
//! body and no hook to shape it: those are the only error answers without a problem document.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// Limits applied to every client connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time a client has to send a complete request head once it starts one (and a new
    /// connection to start its first one).
    pub header_read_timeout: Duration,
    /// Time an idle keep-alive connection (no request in flight) stays open.
    pub keep_alive_timeout: Duration,
    /// Connections open at once; more wait in the listen backlog.
    pub max_connections: u32,
}

/// Serves `router` on `listener` until `signal` completes, then stops accepting, lets every
/// open connection finish its in-flight request, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop_sender, stop) = watch::channel(false);
    let mut signal = pin!(signal);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut signal => break,
        };
        // The semaphore is never closed.
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut signal => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Typically EMFILE (out of file descriptors): retrying at once would spin.
                tracing::error!(%error, "accept failed; retrying in 1 s");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = &mut signal => break,
                }
            }
        };
        let router = router.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(stream, remote, router, limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_sender.send(true);
    // Every connection holds a slot until it closes: all slots back means all closed.
    let _all_closed = slots.acquire_many(limits.max_connections).await;
    Ok(())
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    // Small responses must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        activity: activity.clone(),
    });
    let service_activity = activity.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let in_flight = InFlight::start(service_activity.clone());
        request.extensions_mut().insert(ConnectInfo(remote));
        let response = router.clone().oneshot(request.map(axum::body::Body::new));
        async move {
            let response: Result<Response, Infallible> = response.await;
            drop(in_flight);
            response
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // Our own deadlines (below) replace hyper's header timer.
    builder.header_read_timeout(None);
    let mut connection = pin!(builder.serve_connection(io, service).with_upgrades());
    let mut expired = pin!(activity.clone().expiry(limits));
    let mut draining = *stop.borrow();
    if draining {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %remote, "connection ended with an error");
                }
                break;
            }
            () = expired.as_mut() => {
                // Nothing in flight: dropping the connection just closes the socket.
                tracing::debug!(%remote, "closing an idle or slow connection");
                break;
            }
            changed = stop.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What a connection is doing, for its deadlines.
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    in_flight: usize,
    /// Bytes of a new request head arrived while nothing was in flight.
    head_started: bool,
    served_any: bool,
    /// Start of the current phase (connection opened, head started, last response sent).
    since: Instant,
}

impl Activity {
    fn new() -> Self {
        Activity {
            state: Mutex::new(ActivityState {
                in_flight: 0,
                head_started: false,
                served_any: false,
                since: Instant::now(),
            }),
        }
    }

    fn update<T>(&self, change: impl FnOnce(&mut ActivityState) -> T) -> T {
        // The state stays consistent whatever panicked while holding the lock.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut state)
    }

    fn bytes_read(&self) {
        self.update(|state| {
            if state.in_flight == 0 && !state.head_started {
                state.head_started = true;
                state.since = Instant::now();
            }
        });
    }

    /// When the connection should be closed if nothing changes; `None` while a request runs
    /// (the request timeout bounds it).
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        self.update(|state| {
            if state.in_flight > 0 {
                None
            } else if state.head_started || !state.served_any {
                Some(state.since + limits.header_read_timeout)
            } else {
                Some(state.since + limits.keep_alive_timeout)
            }
        })
    }

    /// Completes when a deadline passes with nothing in flight.
    async fn expiry(self: Arc<Self>, limits: ConnectionLimits) {
        let recheck = limits
            .header_read_timeout
            .min(limits.keep_alive_timeout)
            .max(Duration::from_millis(100));
        loop {
            match self.deadline(&limits) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => tokio::time::sleep(recheck).await,
            }
        }
    }
}

/// Marks a request in flight on its connection until dropped.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.update(|state| {
            state.in_flight += 1;
            state.head_started = false;
        });
        InFlight(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.in_flight = state.in_flight.saturating_sub(1);
            state.served_any = true;
            state.since = Instant::now();
        });
    }
}

/// The client socket, reporting reads to the connection's [`Activity`].
struct WatchedStream {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
