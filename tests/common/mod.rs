//! A scripted in-memory inner service for the layer tests.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::time::Instant;
use tower::BoxError;

pub type Req = http::Request<Full<Bytes>>;
pub type Res = http::Response<Full<Bytes>>;

/// What the scripted endpoint does for one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer this status, with `X-Amzn-ErrorType: code` when given.
    Respond(u16, Option<&'static str>),
    /// Fail with an I/O error of this kind (a transport error).
    Io(std::io::ErrorKind),
    /// Fail with an error that is not a transport error.
    Other(&'static str),
    /// Wait, then do the step.
    After(Duration, Box<Step>),
    /// Never answer.
    Hang,
}

pub fn respond(status: u16) -> Step {
    Step::Respond(status, None)
}

pub fn error_code(status: u16, code: &'static str) -> Step {
    Step::Respond(status, Some(code))
}

/// A call the endpoint saw.
#[derive(Debug, Clone)]
pub struct Call {
    pub at: Instant,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    pub extensions_deadline: Option<tower_sagemaker::deadline::Deadline>,
}

#[derive(Clone, Default)]
pub struct Scripted {
    steps: Arc<Mutex<VecDeque<Step>>>,
    pub calls: Arc<Mutex<Vec<Call>>>,
    pub dropped: Arc<std::sync::atomic::AtomicU32>,
}

impl Scripted {
    /// Plays `steps` in order; once they run out, answers 200.
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            steps: Arc::new(Mutex::new(steps.into_iter().collect())),
            ..Default::default()
        }
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn call_count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

/// Counts futures dropped before they finished.
struct DropGuard(Arc<std::sync::atomic::AtomicU32>, bool);
impl Drop for DropGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn play(step: Step) -> Pin<Box<dyn Future<Output = Result<Res, BoxError>> + Send>> {
    Box::pin(async move {
        match step {
            Step::Respond(status, code) => {
                let mut res = http::Response::builder().status(status);
                if let Some(code) = code {
                    res = res.header("x-amzn-errortype", code);
                }
                Ok(res.body(Full::new(Bytes::from(format!("body of {status}"))))?)
            }
            Step::Io(kind) => Err(std::io::Error::new(kind, "scripted transport error").into()),
            Step::Other(msg) => Err(msg.into()),
            Step::After(d, step) => {
                tokio::time::sleep(d).await;
                play(*step).await
            }
            Step::Hang => std::future::pending().await,
        }
    })
}

impl tower::Service<Req> for Scripted {
    type Response = Res;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Res, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(respond(200));
        let body = {
            use http_body_util::BodyExt;
            let body = req.body().clone();
            futures_util::FutureExt::now_or_never(body.collect())
                .map(|r| r.map(|c| c.to_bytes()).unwrap_or_default())
                .unwrap_or_default()
        };
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            headers: req.headers().clone(),
            body,
            extensions_deadline: req
                .extensions()
                .get::<tower_sagemaker::deadline::Deadline>()
                .copied(),
        });
        let dropped = self.dropped.clone();
        Box::pin(async move {
            let mut guard = DropGuard(dropped, false);
            let out = play(step).await;
            guard.1 = true;
            out
        })
    }
}

pub fn request(body: &'static str) -> Req {
    http::Request::post("http://localhost/endpoints/demo/invocations")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}
