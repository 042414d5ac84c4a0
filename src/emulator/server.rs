//! Serving the emulator over HTTP/1.1 with hyper.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tower_service::Service;

use super::service::Emulator;

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

    /// Graceful shutdown: stops accepting connections, lets in-flight requests
    /// finish for up to the emulator's shutdown timeout (see
    /// [`EmulatorBuilder::shutdown_timeout`](super::EmulatorBuilder::shutdown_timeout)),
    /// then closes whatever is left.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

pub(crate) async fn serve(emulator: Emulator, addr: SocketAddr) -> io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let grace = emulator.inner.shutdown_timeout;
    let task = tokio::spawn(accept_loop(emulator, listener, rx, grace));
    Ok(Server {
        local_addr,
        shutdown: tx,
        task,
    })
}

async fn accept_loop(
    emulator: Emulator,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
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
                let emulator = emulator.clone();
                let mut shutdown = shutdown.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let mut emulator = emulator.clone();
                        emulator.call(req)
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        res = conn.as_mut() => {
                            if let Err(e) = res {
                                tracing::debug!(%peer, error = %e, "emulator connection ended");
                            }
                        }
                        _ = signalled(&mut shutdown) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            _ = signalled(&mut shutdown) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::debug!("emulator shutdown timeout: closing remaining connections");
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}

/// Resolves once shutdown is requested; never if the [`Server`] was dropped.
async fn signalled(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
