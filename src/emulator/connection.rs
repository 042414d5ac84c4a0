//! What the server knows about each connection: whether a request is in
//! progress, a request head is arriving, or nothing is happening, and since
//! when. The server's watcher closes connections idle or slow for too long;
//! at its connection cap, the server closes idle ones, told of each
//! connection that goes idle.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No request in progress, nothing arriving.
    Idle,
    /// The first bytes of a request have come, its head is not complete.
    Head,
    /// A request is in the service (its body, the model, the answer).
    Busy,
    /// Asked to close to make room for a new connection.
    Evicted,
}

/// One served connection's phase, and when it began.
#[derive(Debug)]
pub(super) struct Connection {
    phase: watch::Sender<(Phase, Instant)>,
    in_service: AtomicUsize,
    /// Told each time a request ends and leaves this connection idle.
    went_idle: Arc<Notify>,
}

impl Connection {
    pub(super) fn new(went_idle: Arc<Notify>) -> Self {
        Self {
            phase: watch::Sender::new((Phase::Idle, Instant::now())),
            in_service: AtomicUsize::new(0),
            went_idle,
        }
    }

    /// The phase and since when.
    pub(super) fn phase(&self) -> (Phase, Instant) {
        *self.phase.borrow()
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<(Phase, Instant)> {
        self.phase.subscribe()
    }

    /// Asks an idle connection to close; whether it was idle.
    pub(super) fn evict(&self) -> bool {
        self.phase.send_if_modified(|state| {
            let evict = state.0 == Phase::Idle;
            if evict {
                *state = (Phase::Evicted, Instant::now());
            }
            evict
        })
    }

    /// Bytes came in: on an idle connection, a request head begins.
    fn on_read(&self) {
        // Most reads come while a request is in progress: look before taking
        // the write lock.
        if self.phase.borrow().0 != Phase::Idle {
            return;
        }
        self.phase.send_if_modified(|state| {
            let begins = state.0 == Phase::Idle;
            if begins {
                *state = (Phase::Head, Instant::now());
            }
            begins
        });
    }

    /// A request entered the service; it leaves when the guard drops.
    ///
    /// An evicted connection stays evicted: a request that came in before
    /// it closed is served, then the connection closes, and the slot it was
    /// evicted for frees. (Marked busy, the eviction would be lost, and the
    /// server would wait for that slot until the connection's idle timeout.)
    pub(super) fn start_request(self: &Arc<Self>) -> InService {
        self.in_service.fetch_add(1, Ordering::SeqCst);
        self.phase.send_if_modified(|state| {
            let busy = !matches!(state.0, Phase::Busy | Phase::Evicted);
            if busy {
                *state = (Phase::Busy, Instant::now());
            }
            busy
        });
        InService(self.clone())
    }
}

/// A request in the service.
pub(super) struct InService(Arc<Connection>);

impl Drop for InService {
    fn drop(&mut self) {
        let conn = &self.0;
        if conn.in_service.fetch_sub(1, Ordering::SeqCst) == 1 {
            let idle = conn.phase.send_if_modified(|state| {
                let idle = state.0 == Phase::Busy;
                if idle {
                    *state = (Phase::Idle, Instant::now());
                }
                idle
            });
            if idle {
                conn.went_idle.notify_one();
            }
        }
    }
}

/// A TCP stream that reports incoming bytes to its [`Connection`].
pub(super) struct Tracked {
    stream: TcpStream,
    conn: Arc<Connection>,
}

impl Tracked {
    pub(super) fn new(stream: TcpStream, conn: Arc<Connection>) -> Self {
        Self { stream, conn }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.on_read();
        }
        poll
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_evicted_connection_stays_evicted_through_a_request_that_came_in_meanwhile() {
        let conn = Arc::new(Connection::new(Arc::new(Notify::new())));
        assert!(conn.evict());
        let request = conn.start_request();
        assert_eq!(conn.phase().0, Phase::Evicted);
        drop(request);
        assert_eq!(conn.phase().0, Phase::Evicted);
        assert!(!conn.evict(), "evicted once");
    }

    #[tokio::test]
    async fn a_request_makes_an_idle_connection_busy_then_idle_again() {
        let conn = Arc::new(Connection::new(Arc::new(Notify::new())));
        let request = conn.start_request();
        assert_eq!(conn.phase().0, Phase::Busy);
        assert!(!conn.evict(), "a busy connection is not evicted");
        drop(request);
        assert_eq!(conn.phase().0, Phase::Idle);
    }
}
