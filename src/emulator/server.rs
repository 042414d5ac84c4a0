//! Serving the emulator over HTTP/1.1 with hyper, as a server others can
//! share: idle and slow connections are closed, connections are capped, and
//! shutdown is bounded. It serves any service shaped like the emulator.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{watch, AcquireError, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tower_service::Service;

use super::config::Limits;
use super::connection::{Connection, Phase, Tracked};

/// What the server serves: the emulator, as hyper hands it requests.
pub(super) trait Serves:
    Service<
        Request<Incoming>,
        Response = Response<Full<Bytes>>,
        Error = io::Error,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> Serves for S where
    S: Service<
            Request<Incoming>,
            Response = Response<Full<Bytes>>,
            Error = io::Error,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// Connections the system may hold for the server beyond its connection
/// cap, before it has accepted them (the system may lower it: on Linux,
/// `net.core.somaxconn`). Clients past a full queue wait on the system's
/// handshake retries: with tokio's 1,024, 2,000 callers at once on the
/// default cap had some answered only after 70 s.
const LISTEN_BACKLOG: u32 = 4096;

/// A running HTTP/1.1 emulator, from [`Emulator::serve`](super::Emulator::serve).
///
/// Dropping it without calling [`Server::shutdown`] leaves it running in the
/// background until the runtime stops.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://IP:PORT`, the endpoint URL to give a client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Graceful shutdown: stops accepting connections, closes idle ones, lets
    /// requests in progress finish for up to the emulator's shutdown timeout
    /// (see [`EmulatorBuilder::shutdown_timeout`](super::EmulatorBuilder::shutdown_timeout)),
    /// then closes whatever is left, stalled clients included.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Serves `service` on `addr` within `limits`.
pub(super) async fn serve(
    service: impl Serves,
    limits: Limits,
    addr: SocketAddr,
) -> io::Result<Server> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does, so a restarted server gets its port back.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(LISTEN_BACKLOG)?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(service, limits, listener, rx));
    Ok(Server {
        local_addr,
        shutdown: tx,
        task,
    })
}

async fn accept_loop(
    service: impl Serves,
    limits: Limits,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let went_idle = Arc::new(Notify::new());
    let mut open: Vec<Weak<Connection>> = Vec::new();
    let mut conns = JoinSet::new();
    loop {
        // A slot first: at the cap, an idle connection makes room.
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => tokio::select! {
                slot = make_room(&slots, &mut open, &went_idle) => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                _ = signalled(&mut shutdown) => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            },
        };
        tokio::select! {
            res = listener.accept() => {
                let (stream, peer) = match res {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "emulator accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn = Arc::new(Connection::new(went_idle.clone()));
                open.retain(|c| c.strong_count() > 0);
                open.push(Arc::downgrade(&conn));
                let service = service.clone();
                let shutdown = shutdown.clone();
                let limits = limits.clone();
                conns.spawn(async move {
                    serve_connection(service, stream, peer, conn, limits, shutdown).await;
                    drop(slot);
                });
            }
            _ = signalled(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let grace = limits.shutdown_timeout;
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::debug!("emulator shutdown timeout: closing remaining connections");
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// How long a connection must have been idle before it is closed to make
/// room: its client may be sending a request on a connection it has just
/// opened, or just got an answer on.
const EVICTION_GRACE: Duration = Duration::from_millis(100);

/// At the cap: closes the longest-idle connection once it has been idle for
/// the grace, or the first to go idle when none is, and waits for the slot
/// that frees (or any other).
async fn make_room(
    slots: &Arc<Semaphore>,
    open: &mut Vec<Weak<Connection>>,
    went_idle: &Notify,
) -> Result<OwnedSemaphorePermit, AcquireError> {
    loop {
        // Made before looking, so a connection that goes idle meanwhile is not missed.
        let idle = went_idle.notified();
        let wake = match longest_idle(open) {
            Some((since, conn)) if since + EVICTION_GRACE <= Instant::now() => {
                if conn.evict() {
                    tracing::debug!(
                        "emulator at its connection cap: closing the longest-idle connection"
                    );
                    return slots.clone().acquire_owned().await;
                }
                // It has just become busy: look again.
                continue;
            }
            Some((since, _)) => Either::Left(tokio::time::sleep_until(since + EVICTION_GRACE)),
            None => Either::Right(idle),
        };
        tokio::select! {
            slot = slots.clone().acquire_owned() => return slot,
            () = wake => {}
        }
    }
}

/// The connection idle for the longest time, and since when.
fn longest_idle(open: &mut Vec<Weak<Connection>>) -> Option<(Instant, Arc<Connection>)> {
    open.retain(|c| c.strong_count() > 0);
    open.iter()
        .filter_map(Weak::upgrade)
        .filter_map(|c| match c.phase() {
            (Phase::Idle, since) => Some((since, c)),
            _ => None,
        })
        .min_by_key(|(since, _)| *since)
}

/// Why a connection's watcher ends it.
enum Ending {
    /// Idle too long, or evicted: close it gracefully.
    Idle,
    /// Sending a request head too slowly: cut it off.
    SlowHead,
}

async fn serve_connection(
    service: impl Serves,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    conn: Arc<Connection>,
    limits: Limits,
    mut shutdown: watch::Receiver<bool>,
) {
    let tracked = Tracked::new(stream, conn.clone());
    let in_service = conn.clone();
    let svc = hyper::service::service_fn(move |req| {
        let mut service = service.clone();
        let request = in_service.start_request();
        let future = service.call(req);
        async move {
            let res = future.await;
            drop(request);
            res
        }
    });
    let http = http1::Builder::new().serve_connection(TokioIo::new(tracked), svc);
    tokio::pin!(http);
    let ending = tokio::select! {
        res = http.as_mut() => {
            if let Err(e) = res {
                tracing::debug!(%peer, error = %e, "emulator connection ended");
            }
            return;
        }
        ending = watch_connection(&conn, &limits) => ending,
        _ = signalled(&mut shutdown) => Ending::Idle,
    };
    match ending {
        Ending::Idle => {
            // Closes at once when idle; otherwise after the request in progress
            // (shutdown bounds that wait with its own grace period).
            http.as_mut().graceful_shutdown();
            let _ = http.await;
        }
        Ending::SlowHead => {
            tracing::debug!(%peer, "emulator closed a connection slow to send its request head");
        }
    }
}

/// Resolves when the connection has been idle, or reading a head, for too
/// long, or was asked to make room.
async fn watch_connection(conn: &Connection, limits: &Limits) -> Ending {
    let mut changes = conn.subscribe();
    loop {
        let (phase, since) = *changes.borrow_and_update();
        let limit = match phase {
            Phase::Idle => Some((limits.idle_timeout, Ending::Idle)),
            Phase::Head => Some((limits.header_read_timeout, Ending::SlowHead)),
            Phase::Busy => None,
            Phase::Evicted => return Ending::Idle,
        };
        match limit {
            // A limit too large for the clock never ends: wait for a change only.
            Some((limit, ending)) if since.checked_add(limit).is_some() => {
                let until = since + limit;
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => return ending,
                    changed = changes.changed() => if changed.is_err() { return Ending::Idle },
                }
            }
            _ => {
                if changes.changed().await.is_err() {
                    return Ending::Idle;
                }
            }
        }
    }
}

/// Resolves once shutdown is requested; never if the [`Server`] was dropped.
async fn signalled(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
