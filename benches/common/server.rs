//! Servers on loopback for the benchmarks that make whole calls.

use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;

/// A server on its own thread and current-thread runtime; its address.
pub fn on_own_thread<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(std::sync::mpsc::Sender<SocketAddr>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(serve(tx));
    });
    rx.recv().unwrap()
}

/// A minimal hyper HTTP/1.1 server on its own thread: 200 `8.0` to every
/// request.
pub fn minimal_server() -> SocketAddr {
    on_own_thread(|tx| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(b"8.0"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}
