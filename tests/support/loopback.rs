//! A fake endpoint over loopback TCP: hyper's HTTP/1.1 server on
//! 127.0.0.1, port 0.

use std::future::Future;
use std::sync::Mutex;

use http_body_util::BodyExt;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// Serves `answer` for every request, on tasks of the current runtime;
/// returns the endpoint URL, `http://127.0.0.1:PORT`. An `Err` answer
/// closes the connection without a response.
pub async fn serve<F, Fut, B, E>(answer: F) -> String
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<B>, E>> + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// Reads `req` whole and records its `X-Amzn-SageMaker-Inference-Id` (empty
/// without one: tests name their callers by it) in `requests`; returns how
/// many requests have been recorded, this one included.
pub async fn record_caller(req: http::Request<Incoming>, requests: &Mutex<Vec<String>>) -> usize {
    let id = req
        .headers()
        .get("x-amzn-sagemaker-inference-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let _ = req.into_body().collect().await;
    let mut requests = requests.lock().unwrap();
    requests.push(id);
    requests.len()
}
