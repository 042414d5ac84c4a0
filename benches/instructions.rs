//! Runs one stack for a given number of requests, for an instruction
//! counter to measure: `benches/instructions.sh` runs it under
//! `valgrind --tool=callgrind`, which counts the same total for the same
//! binary whatever else the machine is doing.
//!
//! `cargo bench --bench instructions -- <stack> <requests>`, where `<stack>`
//! is one of a, b, c, m, c1, c2, c3 (the rows of the other benchmarks), or,
//! built with feature `sigv4`, s: `SigV4Layer` alone around the bare endpoint.
//!
//! aw, bw, cw: calls that wait, as over a network: around an endpoint whose
//! head and each of three body frames come one poll late, (aw) the endpoint
//! alone, (bw) tower's parts (`SetRequestHeaderLayer`, `Retry` with a policy
//! that never retries, a 70 s `Timeout`), (cw) the recommended stack
//! (`ServiceBuilderExt::multi_model_endpoint`); the body is read. Every
//! timer a layer would arm for a pending head or frame is armed.
//!
//! a32, b32, c32: whole calls over loopback TCP, 32 callers at once as in
//! `benches/e2e.rs`'s concurrent rows, against a minimal hyper server on its
//! own thread: (a32) the bare hyper-util client, (b32) tower's parts, (c32)
//! the recommended stack, (r32) `TargetModelLayer` + `ModelNotReadyRetryLayer`
//! (the stack less the layers that time the body), (rn32) the same without
//! the attempt headers. The server's instructions are counted too: the same
//! for every stack but for the attempt headers it parses.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body::Frame;
use http_body_util::BodyExt;
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
use tower_sagemaker::ServiceBuilderExt;

/// Pending once (waking its task at once), then ready.
#[derive(Default)]
struct OnePollLate(bool);

impl Future for OnePollLate {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A body of three frames, each one poll late.
#[derive(Default)]
struct LateFrames {
    sent: u8,
    polled: bool,
}

impl http_body::Body for LateFrames {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.sent == 3 {
            return Poll::Ready(None);
        }
        if !self.polled {
            self.polled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.polled = false;
        self.sent += 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"8.0")))))
    }
}

type WaitingRes = http::Response<LateFrames>;

/// The endpoint of aw, bw, cw: 200, the head and each frame one poll late.
fn waiting() -> impl Service<Req, Response = WaitingRes, Error = BoxError> + Clone {
    service_fn(|_req: Req| async {
        OnePollLate::default().await;
        Ok::<_, BoxError>(http::Response::new(LateFrames::default()))
    })
}

/// One call that waits: the head, then the whole body.
async fn call_and_read<S, B>(svc: &mut S)
where
    S: Service<Req, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 9);
}

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo bench` passes nothing
    // else, and then there is nothing to count: say how, and succeed.
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let usage = "usage: instructions <a|b|c|m|c1|c2|c3|s|aw|bw|cw|a32|b32|c32|r32|rn32> <requests>";
    let (Some(stack), Some(requests)) = (args.next(), args.next()) else {
        println!("{usage} (benches/instructions.sh runs it under callgrind)");
        return;
    };
    let Ok(requests) = requests.parse::<u64>() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    if let Some(wire) = stack.strip_suffix("32") {
        return over_loopback(wire, requests);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async move {
        macro_rules! run {
            ($svc:expr) => {{
                let mut svc = $svc;
                for _ in 0..requests {
                    call(&mut svc).await;
                }
            }};
        }
        macro_rules! run_and_read {
            ($svc:expr) => {{
                let mut svc = $svc;
                for _ in 0..requests {
                    call_and_read(&mut svc).await;
                }
            }};
        }
        match stack.as_str() {
            "aw" => run_and_read!(waiting()),
            "bw" => run_and_read!(ServiceBuilder::new()
                .layer(
                    tower_http::set_header::SetRequestHeaderLayer::if_not_present(
                        tower_sagemaker::sagemaker::TARGET_MODEL_HEADER,
                        http::HeaderValue::from_static(MODEL),
                    )
                )
                .layer(tower::retry::RetryLayer::new(NeverRetry))
                .layer(tower::timeout::TimeoutLayer::new(Duration::from_secs(70)))
                .service(waiting())),
            "cw" => run_and_read!(ServiceBuilder::new()
                .multi_model_endpoint(TargetModel::from_static(MODEL).unwrap())
                .service(waiting())),
            "a" => run!(bare()),
            "b" => run!(tower_parts(bare())),
            "c" => run!(this_crate(bare())),
            "m" => run!(required_extensions_only(bare())),
            "c1" => run!(only_target_model(bare())),
            "c2" => run!(only_deadline(bare())),
            "c3" => run!(only_retry(bare())),
            #[cfg(feature = "sigv4")]
            "s" => run!(tower::ServiceBuilder::new()
                .layer(tower_sagemaker::sigv4::SigV4Layer::new(
                    aws_credential_types::Credentials::new(
                        "AKIDBENCH",
                        "bench-secret",
                        None,
                        None,
                        "bench"
                    ),
                    "us-east-1",
                ))
                .service(bare())),
            _ => {
                eprintln!("{usage}");
                std::process::exit(2);
            }
        }
    });
}

/// `requests` calls over loopback, 32 callers at once, each reading the body.
fn over_loopback(stack: &str, requests: u64) {
    const CALLERS: u64 = 32;
    let addr = common::server::minimal_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<Bytes>>();
    let uri: http::Uri = format!("http://{addr}/endpoints/demo/invocations")
        .parse()
        .unwrap();
    macro_rules! callers {
        ($svc:expr) => {{
            let svc = $svc;
            let callers = (0..CALLERS).map(|i| {
                let mut svc = svc.clone();
                let uri = uri.clone();
                let n = requests / CALLERS + u64::from(i < requests % CALLERS);
                async move {
                    for _ in 0..n {
                        let mut req = request();
                        *req.uri_mut() = uri.clone();
                        let res = svc.ready().await.unwrap().call(req).await.unwrap();
                        assert_eq!(res.status(), 200);
                        let body = res.into_body().collect().await.unwrap().to_bytes();
                        assert_eq!(&body[..], b"8.0");
                    }
                }
            });
            rt.block_on(futures_util::future::join_all(callers));
        }};
    }
    match stack {
        "a" => callers!(client),
        "b" => callers!(tower_parts(client)),
        "c" => callers!(ServiceBuilder::new()
            .multi_model_endpoint(TargetModel::from_static(MODEL).unwrap())
            .service(client)),
        // The recommended stack less the layers that time the body, with and
        // without the attempt headers.
        "r" => callers!(ServiceBuilder::new()
            .layer(TargetModelLayer::new(
                TargetModel::from_static(MODEL).unwrap()
            ))
            .layer(ModelNotReadyRetryLayer::legacy())
            .service(client)),
        "rn" => callers!(ServiceBuilder::new()
            .layer(TargetModelLayer::new(
                TargetModel::from_static(MODEL).unwrap()
            ))
            .layer(ModelNotReadyRetryLayer::new(
                LegacyRetries::new().attempt_headers(false)
            ))
            .service(client)),
        _ => {
            eprintln!("usage: instructions <a32|b32|c32|r32|rn32> <requests>");
            std::process::exit(2);
        }
    }
}
