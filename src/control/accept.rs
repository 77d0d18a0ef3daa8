//! The control port's accept loop, in place of a bare `axum::serve`: every
//! connection must send a complete request header within the header
//! timeout (of opening, or of its previous answer: hyper restarts the timer
//! whenever the connection goes idle, so it is also the keep-alive idle
//! timeout), and the listener holds at most a capped number of connections
//! so a flood of idle sockets cannot exhaust the daemon's file descriptors.
//!
//! At the cap the newcomer is never refused while some connection is idle:
//! the oldest connection that has not completed a request yet is closed
//! (else the oldest idle keep-alive one), so the daemon's own clients always
//! get in. A connection with a request in flight (including a streaming
//! answer) and an established WebSocket are never evicted; they count
//! against the cap for as long as their socket lives.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};

/// File descriptors kept free of connections for the daemon's own use: the
/// store and its WAL, logs, the Codex app-server's pipes and link, signals.
pub const FD_HEADROOM: u64 = 64;

/// What the accept loop enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections held at once (WebSockets included).
    pub max_connections: usize,
    /// Time allowed for a complete request header, from the connection's
    /// opening or its previous answer.
    pub header_timeout: Duration,
}

impl Limits {
    /// `max_connections` lowered to fit under a soft file-descriptor limit
    /// of `fd_limit`, keeping [`FD_HEADROOM`] free (at least one).
    pub fn fit_fd_limit(self, fd_limit: u64) -> Self {
        let room = usize::try_from(fd_limit.saturating_sub(FD_HEADROOM)).unwrap_or(usize::MAX);
        Self {
            max_connections: self.max_connections.min(room).max(1),
            ..self
        }
    }
}

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit; returns the
/// soft limit in force afterwards.
pub fn raise_fd_limit() -> io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    if soft >= hard {
        return Ok(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Ok(hard),
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}");
            Ok(soft)
        }
    }
}

/// What the loop knows about one connection.
#[derive(Debug, Default)]
struct ConnState {
    /// Requests whose answer has not been fully sent yet.
    in_flight: AtomicUsize,
    /// Whether a request has been answered on it.
    served: AtomicBool,
    /// Whether it became a WebSocket (answered 101 past the guard).
    upgraded: AtomicBool,
    evict: Notify,
}

impl ConnState {
    fn evictable(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.upgraded.load(Ordering::Acquire)
    }
}

/// The live connections of one listener, by accept order.
#[derive(Debug, Default)]
struct Registry {
    conns: Mutex<BTreeMap<u64, Arc<ConnState>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ConnState>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self) -> usize {
        self.lock().len()
    }

    /// Close the oldest connection that never completed a request, else the
    /// oldest idle one; false when every connection is busy or a WebSocket.
    fn evict_one(&self) -> bool {
        let mut conns = self.lock();
        let victim = conns
            .iter()
            .filter(|(_, c)| c.evictable())
            .min_by_key(|(id, c)| (c.served.load(Ordering::Acquire), **id))
            .map(|(id, _)| *id);
        match victim.and_then(|id| conns.remove(&id)) {
            Some(conn) => {
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in the registry, given up when its socket closes
/// (after an upgrade the socket lives on inside the WebSocket).
struct Slot {
    registry: Arc<Registry>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// The accepted socket, carrying its [`Slot`].
struct Tracked {
    tcp: TcpStream,
    _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Marks a request in flight until its answer's body is dropped.
struct Busy(Arc<ConnState>);

impl Busy {
    fn start(conn: &Arc<ConnState>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        Self(Arc::clone(conn))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.served.store(true, Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An answer's body that keeps its request in flight while it streams.
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The router as one connection's hyper service.
#[derive(Clone)]
struct Service {
    router: Router,
    conn: Arc<ConnState>,
}

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let busy = Busy::start(&self.conn);
        // axum's router is always ready; it needs no poll_ready.
        let call = tower_service::Service::call(&mut self.router.clone(), req.map(Body::new));
        Box::pin(async move {
            let resp = match call.await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
                // Only an authenticated request reaches the upgrade.
                busy.0.upgraded.store(true, Ordering::Release);
            }
            Ok(resp.map(|inner| Body::new(BusyBody { inner, _busy: busy })))
        })
    }
}

/// Serve `router` on `listener` until `stop` turns true, then stop
/// accepting, let requests in flight finish, and return once every HTTP
/// connection has closed (WebSockets end on the same signal by themselves).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let registry = Arc::new(Registry::default());
    // Each connection task holds a sender; all gone = all closed.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut next_id = 0u64;
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => break,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors or memory: free an idle connection's
                // and retry shortly; other errors concern one connection.
                if matches!(
                    e.raw_os_error(),
                    Some(
                        nix::libc::EMFILE
                            | nix::libc::ENFILE
                            | nix::libc::ENOBUFS
                            | nix::libc::ENOMEM
                    )
                ) {
                    let freed = registry.evict_one();
                    tracing::warn!("accept failed: {e} (closed an idle connection: {freed})");
                    tokio::time::sleep(Duration::from_millis(if freed { 5 } else { 100 })).await;
                } else {
                    tracing::debug!("accept failed: {e}");
                }
                continue;
            }
        };
        if registry.len() >= limits.max_connections && !registry.evict_one() {
            tracing::warn!(
                "refused a connection: all {} connections have a request in flight or are WebSockets",
                limits.max_connections
            );
            continue;
        }
        // Small frames both ways (deliveries, acks): no Nagle delay on them.
        let _ = tcp.set_nodelay(true);
        next_id += 1;
        let conn = Arc::new(ConnState::default());
        registry.lock().insert(next_id, Arc::clone(&conn));
        let io = Tracked {
            tcp,
            _slot: Slot {
                registry: Arc::clone(&registry),
                id: next_id,
            },
        };
        tokio::spawn(serve_connection(
            io,
            Service {
                router: router.clone(),
                conn,
            },
            limits.header_timeout,
            stop.clone(),
            open_tx.clone(),
        ));
    }
    drop(listener);
    drop(open_tx);
    let _ = open_rx.recv().await;
}

async fn serve_connection(
    io: Tracked,
    service: Service,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
) {
    let conn = Arc::clone(&service.conn);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let http = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(http);
    let mut stopping = false;
    loop {
        tokio::select! {
            r = http.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            () = conn.evict.notified() => {
                if conn.evictable() {
                    tracing::debug!("closed an idle connection to admit a new one");
                    return;
                }
                // A request arrived since it was picked: serve it (the
                // connection no longer counts against the cap).
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                if conn.evictable() {
                    // Nothing to finish (at most half a request header).
                    return;
                }
                http.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(states: &[(bool, usize, bool)]) -> (Registry, Vec<Arc<ConnState>>) {
        let reg = Registry::default();
        let mut all = Vec::new();
        for (i, (served, in_flight, upgraded)) in states.iter().enumerate() {
            let c = Arc::new(ConnState::default());
            c.served.store(*served, Ordering::Release);
            c.in_flight.store(*in_flight, Ordering::Release);
            c.upgraded.store(*upgraded, Ordering::Release);
            reg.lock().insert(i as u64 + 1, Arc::clone(&c));
            all.push(c);
        }
        (reg, all)
    }

    fn ids(reg: &Registry) -> Vec<u64> {
        reg.lock().keys().copied().collect()
    }

    #[test]
    fn eviction_prefers_the_oldest_connection_without_a_request() {
        // 1: WebSocket, 2: request in flight, 3: idle after a request,
        // 4: never sent a request, 5: never sent a request.
        let (reg, _) = registry(&[
            (true, 0, true),
            (false, 1, false),
            (true, 0, false),
            (false, 0, false),
            (false, 0, false),
        ]);
        assert!(reg.evict_one());
        assert_eq!(ids(&reg), [1, 2, 3, 5]);
        assert!(reg.evict_one());
        assert_eq!(ids(&reg), [1, 2, 3]);
        assert!(reg.evict_one(), "then the idle keep-alive one");
        assert_eq!(ids(&reg), [1, 2]);
        assert!(!reg.evict_one(), "never a WebSocket or a request in flight");
        assert_eq!(ids(&reg), [1, 2]);
    }

    #[test]
    fn the_cap_fits_under_the_fd_limit() {
        let l = Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
        };
        assert_eq!(l.fit_fd_limit(1024).max_connections, 256);
        assert_eq!(l.fit_fd_limit(128).max_connections, 64);
        assert_eq!(l.fit_fd_limit(10).max_connections, 1);
    }
}
