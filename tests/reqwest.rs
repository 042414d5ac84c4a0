//! The `reqwest` feature with a real reqwest client (rustls, no native TLS)
//! against the emulator served on 127.0.0.1: the reqwest-middleware pieces,
//! then (module `signed`) signed calls with the emulator verifying SigV4,
//! over `ReqwestService` beneath the tower stack and over the
//! reqwest-middleware stack, and (module `deadline_on_a_paused_clock`) the
//! deadline middleware without network on tokio's paused clock. Loopback
//! tests use real time with budgets of a few hundred milliseconds.
#![cfg(all(feature = "reqwest", feature = "emulator"))]

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Extensions, StatusCode};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use reqwest_retry::RetryTransientMiddleware;
use tower_sagemaker::emulator::{Emulator, EmulatorBuilder, Fault, FaultScope, ModelSpec, Server};
use tower_sagemaker::reqwest::{
    LegacyBackoffPolicy, LegacyRetryableStrategy, TargetModelMiddleware,
};
use tower_sagemaker::retry::LegacyRetries;
use tower_sagemaker::target_model::TargetModel;

/// Counts the attempts that reach the network (it runs after the retries).
#[derive(Clone, Default)]
struct CountAttempts(Arc<AtomicU32>);

#[async_trait::async_trait]
impl Middleware for CountAttempts {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        self.0.fetch_add(1, Ordering::SeqCst);
        next.run(req, extensions).await
    }
}

async fn serve(builder: EmulatorBuilder) -> (Emulator, Server) {
    let emulator = builder.build();
    let server = emulator.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    (emulator, server)
}

fn client(max_retries: u32, attempts: &CountAttempts) -> ClientWithMiddleware {
    let http = reqwest::Client::builder().build().unwrap();
    let retries = LegacyRetries::new()
        .max_retries(max_retries)
        .base_delay(Duration::from_millis(20));
    reqwest_middleware::ClientBuilder::new(http)
        .with(TargetModelMiddleware::new(
            TargetModel::new("m.tar.gz").unwrap(),
        ))
        .with(RetryTransientMiddleware::new_with_policy_and_strategy(
            LegacyBackoffPolicy::new(&retries),
            LegacyRetryableStrategy::new(&retries),
        ))
        .with(attempts.clone())
        .build()
}

async fn call(
    client: &ClientWithMiddleware,
    server: &Server,
    body: &'static str,
) -> (StatusCode, String) {
    let res = client
        .post(format!(
            "{}/endpoints/demo/invocations",
            server.endpoint_url()
        ))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn a_cold_start_is_ridden_through() {
    let (emulator, server) = serve(
        Emulator::builder()
            .model("m.tar.gz", ModelSpec::new(Duration::from_millis(600)))
            .hold_timeout(Duration::from_millis(150)),
    )
    .await;
    let attempts = CountAttempts::default();
    let start = Instant::now();
    let (status, body) = call(&client(8, &attempts), &server, "1.0,2.0,5.0").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "8.0"));
    assert!(start.elapsed() >= Duration::from_millis(600));
    let stats = emulator.stats("m.tar.gz").unwrap();
    assert_eq!(stats.loads, 1);
    assert!(stats.not_ready >= 1, "{stats:?}");
    assert_eq!(
        u64::from(attempts.0.load(Ordering::SeqCst)),
        stats.not_ready + 1
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_model_error_is_not_retried() {
    let (emulator, server) =
        serve(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO))).await;
    let attempts = CountAttempts::default();
    let (status, body) = call(&client(4, &attempts), &server, "not,numbers").await;
    assert_eq!(status, StatusCode::FAILED_DEPENDENCY, "{body}");
    assert_eq!(attempts.0.load(Ordering::SeqCst), 1);
    assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 1);
    server.shutdown().await;
}

fn service_unavailable() -> Fault {
    Fault::Status {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "ServiceUnavailable".into(),
        message: "try again".into(),
    }
}

#[tokio::test]
async fn a_503_is_retried_and_max_retries_is_respected() {
    let (emulator, server) =
        serve(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO))).await;

    emulator.inject(service_unavailable(), FaultScope::Any, 2);
    let attempts = CountAttempts::default();
    let (status, body) = call(&client(4, &attempts), &server, "1,2").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3.0"));
    assert_eq!(attempts.0.load(Ordering::SeqCst), 3);

    emulator.inject(service_unavailable(), FaultScope::Any, 10);
    let attempts = CountAttempts::default();
    let (status, _) = call(&client(2, &attempts), &server, "1,2").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        attempts.0.load(Ordering::SeqCst),
        3,
        "2 retries: 3 attempts"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_picks_its_own_model() {
    let (emulator, server) = serve(
        Emulator::builder()
            .model("m.tar.gz", ModelSpec::new(Duration::ZERO))
            .model("other.tar.gz", ModelSpec::new(Duration::ZERO)),
    )
    .await;
    let attempts = CountAttempts::default();
    let res = client(0, &attempts)
        .post(format!(
            "{}/endpoints/demo/invocations",
            server.endpoint_url()
        ))
        .with_extension(TargetModel::new("other.tar.gz").unwrap())
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(emulator.stats("other.tar.gz").unwrap().invocations, 1);
    assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 0);

    // A header of the request's own that the service would reject gives way
    // to the middleware's model, as with TargetModelLayer.
    let res = client(0, &attempts)
        .post(format!(
            "{}/endpoints/demo/invocations",
            server.endpoint_url()
        ))
        .header("x-amzn-sagemaker-target-model", "caf\u{e9}")
        .body("1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 1);
    server.shutdown().await;
}

/// The whole promise over reqwest, with the emulator checking every
/// signature: reqwest beneath the tower stack (`ReqwestService`) and the
/// reqwest-middleware stack (`ClientBuilderExt`, `SigV4Middleware`).
#[cfg(all(
    feature = "sigv4",
    feature = "deadline",
    feature = "read-timeout",
    feature = "collect-body"
))]
mod signed {
    use std::future::Future;
    use std::sync::Mutex;

    use aws_credential_types::Credentials;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::util::BoxCloneService;
    use tower::{BoxError, ServiceBuilder, ServiceExt};
    use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
    use tower_sagemaker::reqwest::{ClientBuilderExt, ReqwestService, SigV4Middleware};
    use tower_sagemaker::retry::{
        Attempts, ColdStarts, Decision, ModelNotReadyRetryLayer, RetryClassifier, RetryEvent,
        RetryReason,
    };
    use tower_sagemaker::sigv4::SigV4Layer;

    use super::*;

    const ACCESS_KEY: &str = "AKIDREQWEST";
    const SECRET_KEY: &str = "reqwest-secret";
    const REGION: &str = "eu-west-1";

    fn credentials() -> Credentials {
        Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test")
    }

    async fn serve_signed(builder: EmulatorBuilder) -> (Emulator, Server) {
        serve(
            builder
                .credentials(ACCESS_KEY, SECRET_KEY)
                .region(REGION)
                .shutdown_timeout(Duration::from_millis(100)),
        )
        .await
    }

    fn url(server: &Server) -> String {
        format!("{}/endpoints/demo/invocations", server.endpoint_url())
    }

    type Svc = BoxCloneService<
        http::Request<Full<Bytes>>,
        http::Response<tower_sagemaker::deadline::DeadlineBody<reqwest::Body>>,
        BoxError,
    >;

    /// reqwest beneath the tower stack; retries tuned for fast tests, their
    /// reasons recorded from the retry events.
    fn tower_stack(
        budget: Duration,
        max_retries: u32,
        reasons: Arc<Mutex<Vec<RetryReason>>>,
    ) -> Svc {
        let retries = LegacyRetries::new()
            .max_retries(max_retries)
            .base_delay(Duration::from_millis(20))
            .on_event(move |event| {
                if let RetryEvent::Outcome(outcome) = event {
                    if let (Decision::Retry { .. }, Some(reason)) =
                        (&outcome.decision, outcome.reason)
                    {
                        reasons.lock().unwrap().push(reason);
                    }
                }
            });
        let svc = ServiceBuilder::new()
            .layer(tower_sagemaker::target_model::TargetModelLayer::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .layer(DeadlineLayer::new(budget))
            .layer(ModelNotReadyRetryLayer::new(retries).attempt_timeout(Duration::from_secs(5)))
            .layer(SigV4Layer::new(credentials(), REGION))
            .service(ReqwestService::new(reqwest::Client::new()));
        BoxCloneService::new(svc)
    }

    fn request(url: &str, body: &'static str) -> http::Request<Full<Bytes>> {
        http::Request::post(url)
            .header("content-type", "text/csv")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    }

    /// The recommended reqwest-middleware stack, retries tuned for fast
    /// tests, an attempt counter and the signer last.
    fn middleware_client(
        budget: Duration,
        max_retries: u32,
        attempts: &CountAttempts,
    ) -> ClientWithMiddleware {
        let retries = LegacyRetries::new()
            .max_retries(max_retries)
            .base_delay(Duration::from_millis(20));
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .multi_model_endpoint_with(TargetModel::new("m.tar.gz").unwrap(), &retries, budget)
            .with(attempts.clone())
            .with(SigV4Middleware::new(credentials(), REGION))
            .build()
    }

    async fn send(
        client: &ClientWithMiddleware,
        server: &Server,
        body: &'static str,
    ) -> reqwest::Response {
        client
            .post(url(server))
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    fn cold(load: u64) -> EmulatorBuilder {
        Emulator::builder()
            .model("m.tar.gz", ModelSpec::new(Duration::from_millis(load)))
            .hold_timeout(Duration::from_millis(150))
    }

    #[tokio::test]
    async fn tower_over_reqwest_rides_through_a_cold_start() {
        let (emulator, server) = serve_signed(cold(600)).await;
        let reasons = Arc::default();
        let svc = tower_stack(Duration::from_secs(10), 8, Arc::clone(&reasons));
        let res = svc
            .oneshot(request(&url(&server), "1.0,2.0,5.0"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let attempts = res.extensions().get::<Attempts>().unwrap().count();
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");
        let stats = emulator.stats("m.tar.gz").unwrap();
        assert_eq!(stats.loads, 1);
        assert!(stats.not_ready >= 1, "{stats:?}");
        assert_eq!(u64::from(attempts), stats.not_ready + 1);
        let reasons = reasons.lock().unwrap().clone();
        assert_eq!(reasons.len() as u64, stats.not_ready);
        assert!(
            reasons.iter().all(|r| *r == RetryReason::ModelNotReady),
            "{reasons:?}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn tower_over_reqwest_coalesces_a_cold_start() {
        let (emulator, server) = serve_signed(cold(600)).await;
        let n = 10;
        let retries = LegacyRetries::new()
            .max_retries(8)
            .base_delay(Duration::from_millis(20))
            .coalesce_cold_starts(ColdStarts::new());
        let svc = ServiceBuilder::new()
            .layer(tower_sagemaker::target_model::TargetModelLayer::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .layer(DeadlineLayer::new(Duration::from_secs(10)))
            .layer(ModelNotReadyRetryLayer::new(retries))
            .layer(SigV4Layer::new(credentials(), REGION))
            .service(ReqwestService::new(reqwest::Client::new()));
        let calls = (0..n).map(|_| svc.clone().oneshot(request(&url(&server), "1,2")));
        let results = futures_util::future::join_all(calls).await;
        for res in results {
            assert_eq!(res.unwrap().status(), StatusCode::OK);
        }
        let stats = emulator.stats("m.tar.gz").unwrap();
        assert_eq!(stats.loads, 1);
        // One caller at a time asks while the model loads: each 429 is the
        // probe's; without coalescing every caller gets one per hold.
        assert!(stats.not_ready >= 1 && stats.not_ready <= 6, "{stats:?}");
        assert_eq!(stats.invocations, n, "{stats:?}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn middleware_rides_through_a_cold_start_signing_each_attempt() {
        let (emulator, server) = serve_signed(cold(600)).await;
        let attempts = CountAttempts::default();
        let res = send(
            &middleware_client(Duration::from_secs(10), 8, &attempts),
            &server,
            "1.0,2.0,5.0",
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "8.0");
        let stats = emulator.stats("m.tar.gz").unwrap();
        assert_eq!(stats.loads, 1);
        assert!(stats.not_ready >= 1, "{stats:?}");
        // Every attempt passed verification: the 429s came from the model.
        assert_eq!(
            u64::from(attempts.0.load(Ordering::SeqCst)),
            stats.not_ready + 1
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_model_error_is_not_retried_on_either_path() {
        let (emulator, server) =
            serve_signed(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO)))
                .await;

        let reasons = Arc::default();
        let svc = tower_stack(Duration::from_secs(10), 4, Arc::clone(&reasons));
        let res = svc
            .oneshot(request(&url(&server), "not,numbers"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FAILED_DEPENDENCY);
        assert_eq!(
            res.headers()["x-amzn-errortype"]
                .to_str()
                .unwrap()
                .split(':')
                .next(),
            Some("ModelError")
        );
        assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
        assert!(reasons.lock().unwrap().is_empty());

        let attempts = CountAttempts::default();
        let res = send(
            &middleware_client(Duration::from_secs(10), 4, &attempts),
            &server,
            "not,numbers",
        )
        .await;
        assert_eq!(res.status(), StatusCode::FAILED_DEPENDENCY);
        assert_eq!(attempts.0.load(Ordering::SeqCst), 1);

        assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 2);
        server.shutdown().await;
    }

    /// A server that answers every request with a 200 head and the first
    /// bytes of a body it never finishes.
    async fn stalled_body_server() -> (String, impl Future<Output = ()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/endpoints/demo/invocations",
            listener.local_addr().unwrap()
        );
        let serve = async move {
            let mut open = Vec::new();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut buf = [0; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: 100\r\n\r\n8.")
                    .await;
                open.push(stream);
            }
        };
        (url, serve)
    }

    #[tokio::test]
    async fn a_stalled_body_ends_at_the_deadline_on_the_tower_path() {
        let (url, serve) = stalled_body_server().await;
        let server = tokio::spawn(serve);
        let svc = ServiceBuilder::new()
            .layer(DeadlineLayer::new(Duration::from_millis(300)))
            .service(ReqwestService::new(reqwest::Client::new()));
        let start = Instant::now();
        let res = svc.oneshot(request(&url, "1")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let err = res.into_body().collect().await.unwrap_err();
        let elapsed = start.elapsed();
        assert!(err.downcast_ref::<DeadlineExceeded>().is_some(), "{err:?}");
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_stalled_body_ends_at_the_deadline_on_the_middleware_path() {
        let (url, serve) = stalled_body_server().await;
        let server = tokio::spawn(serve);
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .multi_model_endpoint_with(
                TargetModel::new("m.tar.gz").unwrap(),
                &LegacyRetries::new(),
                Duration::from_millis(300),
            )
            .build();
        let start = Instant::now();
        let res = client.post(&url).body("1").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let err = res.bytes().await.unwrap_err();
        let elapsed = start.elapsed();
        assert!(err.is_timeout(), "{err:?}");
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        server.abort();
    }

    #[tokio::test]
    async fn a_stalled_answer_ends_at_the_deadline_on_the_middleware_path() {
        let (emulator, server) =
            serve_signed(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO)))
                .await;
        emulator.inject(Fault::Stall, FaultScope::Any, 10);
        let attempts = CountAttempts::default();
        let client = middleware_client(Duration::from_millis(300), 4, &attempts);
        let start = Instant::now();
        let err = client
            .post(url(&server))
            .body("1")
            .send()
            .await
            .unwrap_err();
        let elapsed = start.elapsed();
        let reqwest_middleware::Error::Middleware(err) = err else {
            panic!("{err:?}")
        };
        let exceeded = err.downcast_ref::<DeadlineExceeded>().unwrap();
        assert_eq!(exceeded.budget(), Duration::from_millis(300));
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn signing_before_the_target_model_is_set_is_caught() {
        let (emulator, server) =
            serve_signed(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO)))
                .await;
        // Wrong order: SigV4Middleware runs before TargetModelMiddleware,
        // so X-Amzn-SageMaker-Target-Model goes out unsigned.
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(SigV4Middleware::new(credentials(), REGION))
            .with(TargetModelMiddleware::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .build();
        let res = send(&client, &server, "1").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        let code = res.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(code.starts_with("InvalidSignatureException"), "{code}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("not signed: x-amzn-sagemaker-target-model"),
            "{body}"
        );
        assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 0);

        // The right order passes.
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(TargetModelMiddleware::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .with(SigV4Middleware::new(credentials(), REGION))
            .build();
        assert_eq!(send(&client, &server, "1").await.status(), StatusCode::OK);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_streaming_body_cannot_be_signed() {
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(SigV4Middleware::new(credentials(), REGION))
            .build();
        let body = reqwest::Body::wrap(Full::new(Bytes::from_static(b"1")));
        let err = client
            .post("http://127.0.0.1:9/endpoints/demo/invocations")
            .body(body)
            .send()
            .await
            .unwrap_err();
        let reqwest_middleware::Error::Middleware(err) = err else {
            panic!("{err:?}")
        };
        let err = err
            .downcast_ref::<tower_sagemaker::sigv4::SigningError>()
            .unwrap();
        assert!(err.is_body(), "{err}");
    }

    #[tokio::test]
    async fn reqwest_errors_are_classified_as_transport_errors() {
        let (emulator, server) =
            serve_signed(Emulator::builder().model("m.tar.gz", ModelSpec::new(Duration::ZERO)))
                .await;
        let classifier = RetryClassifier::legacy();

        // A connection closed without a response, through ReqwestService.
        emulator.inject(Fault::DropConnection, FaultScope::Any, 1);
        let svc = ServiceBuilder::new()
            .layer(tower_sagemaker::target_model::TargetModelLayer::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .layer(SigV4Layer::new(credentials(), REGION))
            .service(ReqwestService::new(reqwest::Client::new()));
        let err = svc
            .clone()
            .oneshot(request(&url(&server), "1"))
            .await
            .unwrap_err();
        assert!(err.downcast_ref::<reqwest::Error>().is_some(), "{err:?}");
        assert_eq!(
            classifier.classify_error(&*err),
            Some(RetryReason::Transport),
            "{err:?}"
        );

        // reqwest's own timeout.
        emulator.inject(Fault::Stall, FaultScope::Any, 1);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        let svc = ServiceBuilder::new()
            .layer(tower_sagemaker::target_model::TargetModelLayer::new(
                TargetModel::new("m.tar.gz").unwrap(),
            ))
            .layer(SigV4Layer::new(credentials(), REGION))
            .service(ReqwestService::new(client));
        let err = svc.oneshot(request(&url(&server), "1")).await.unwrap_err();
        assert!(
            err.downcast_ref::<reqwest::Error>().unwrap().is_timeout(),
            "{err:?}"
        );
        assert_eq!(
            classifier.classify_error(&*err),
            Some(RetryReason::Transport),
            "{err:?}"
        );

        // A connection refused.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let svc = ReqwestService::new(reqwest::Client::new());
        let err = svc
            .oneshot(request(
                &format!("http://{addr}/endpoints/demo/invocations"),
                "1",
            ))
            .await
            .unwrap_err();
        assert_eq!(
            classifier.classify_error(&*err),
            Some(RetryReason::Transport),
            "{err:?}"
        );
        server.shutdown().await;
    }

    /// The rest of the promise on the reqwest-middleware path: cold-start
    /// coalescing, the attempt headers and the other `InvokeEndpoint`
    /// headers, each attempt signed and verified by the emulator.
    mod whole_promise {
        use http::HeaderMap;
        use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
        use tower_sagemaker::reqwest::InvokeHeadersMiddleware;
        use tower_sagemaker::sagemaker::{
            InvalidHeaderValue, CUSTOM_ATTRIBUTES_HEADER, INFERENCE_ID_HEADER,
            INVOCATION_ID_HEADER, SDK_REQUEST_HEADER, TARGET_VARIANT_HEADER,
        };

        use super::*;

        /// The emulator served through a hyper server of the test's own that
        /// records the headers of every request it receives.
        async fn serve_recording(emulator: Emulator) -> (String, Arc<Mutex<Vec<HeaderMap>>>) {
            let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
            let log = Arc::clone(&seen);
            let url = support::loopback::serve(move |req: http::Request<hyper::body::Incoming>| {
                log.lock().unwrap().push(req.headers().clone());
                emulator.clone().oneshot(req)
            })
            .await;
            (format!("{url}/endpoints/demo/invocations"), seen)
        }

        fn signed_emulator(load: u64) -> Emulator {
            cold(load)
                .credentials(ACCESS_KEY, SECRET_KEY)
                .region(REGION)
                .build()
        }

        fn header(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
            Some(headers.get(name)?.to_str().unwrap().to_owned())
        }

        /// The one-call setup with `retries`, an attempt counter and the
        /// signer last.
        fn client_with(retries: &LegacyRetries, attempts: &CountAttempts) -> ClientWithMiddleware {
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .multi_model_endpoint_with(
                    TargetModel::new("m.tar.gz").unwrap(),
                    retries,
                    Duration::from_secs(10),
                )
                .with(attempts.clone())
                .with(SigV4Middleware::new(credentials(), REGION))
                .build()
        }

        /// `n` callers at once on the cold model; the requests the endpoint
        /// received.
        async fn callers(n: u64, retries: LegacyRetries) -> u64 {
            let (emulator, server) = serve_signed(cold(600)).await;
            let attempts = CountAttempts::default();
            let client = client_with(&retries, &attempts);
            let calls = (0..n).map(|_| send(&client, &server, "1.0,2.0,5.0"));
            for res in futures_util::future::join_all(calls).await {
                assert_eq!(res.status(), StatusCode::OK);
                assert_eq!(res.text().await.unwrap(), "8.0");
            }
            let stats = emulator.stats("m.tar.gz").unwrap();
            assert_eq!(stats.loads, 1);
            assert_eq!(stats.invocations, n, "{stats:?}");
            let sent = u64::from(attempts.0.load(Ordering::SeqCst));
            // Every request passed verification: the 429s came from the model.
            assert_eq!(sent, stats.invocations + stats.not_ready, "{stats:?}");
            server.shutdown().await;
            sent
        }

        fn fast(max_retries: u32) -> LegacyRetries {
            LegacyRetries::new()
                .max_retries(max_retries)
                .base_delay(Duration::from_millis(20))
        }

        #[tokio::test]
        async fn callers_on_one_cold_model_coalesce() {
            let n = 20;
            // A 600 ms load, the endpoint holding each request 150 ms: about
            // four 429s per probe, one probe at a time.
            let with = callers(n, fast(8).coalesce_cold_starts(ColdStarts::new())).await;
            assert!(with <= n + 6, "{with} requests for {n} callers");
            let without = callers(n, fast(8)).await;
            assert!(without >= 2 * n, "{without} requests for {n} callers");
            println!("{n} callers: {with} requests with coalescing, {without} without");
        }

        #[tokio::test]
        async fn a_waiting_call_counts_the_probes_it_waited_through() {
            // Two retries: the prober's three attempts all fail (the model
            // loads for 600 ms, 150 ms per 429); the waiter, having waited
            // through two failed probes, sends its one attempt left and ends
            // with its 429, as without coalescing it would have after three.
            let (emulator, server) = serve_signed(cold(600)).await;
            let attempts = CountAttempts::default();
            let client = client_with(&fast(2).coalesce_cold_starts(ColdStarts::new()), &attempts);
            let (a, b) = tokio::join!(send(&client, &server, "1"), send(&client, &server, "1"));
            assert_eq!(a.status(), StatusCode::TOO_MANY_REQUESTS);
            assert_eq!(b.status(), StatusCode::TOO_MANY_REQUESTS);
            let sent = attempts.0.load(Ordering::SeqCst);
            // Without coalescing: 3 each.
            assert!(sent <= 4, "{sent} requests");
            assert_eq!(
                u64::from(sent),
                emulator.stats("m.tar.gz").unwrap().not_ready
            );
            server.shutdown().await;
        }

        #[tokio::test]
        async fn every_attempt_carries_signed_attempt_headers() {
            let emulator = signed_emulator(600);
            let (url, log) = serve_recording(emulator.clone()).await;
            let seen = || log.lock().unwrap().clone();
            let client = client_with(&fast(8), &CountAttempts::default());
            let res = client.post(&url).body("1.0,2.0,5.0").send().await.unwrap();
            // The emulator verified every attempt's signature.
            assert_eq!(res.status(), StatusCode::OK);
            let first = seen();
            let stats = emulator.stats("m.tar.gz").unwrap();
            assert_eq!(first.len() as u64, stats.not_ready + 1, "{stats:?}");
            assert!(first.len() >= 2);
            let ids: Vec<_> = first
                .iter()
                .map(|h| header(h, &INVOCATION_ID_HEADER).unwrap())
                .collect();
            assert_eq!(ids[0].len(), 36, "{ids:?}");
            assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
            for (i, headers) in first.iter().enumerate() {
                let expected = format!("attempt={}; max=9", i + 1);
                assert_eq!(header(headers, &SDK_REQUEST_HEADER), Some(expected));
                let auth = header(headers, &http::header::AUTHORIZATION).unwrap();
                let signed = auth.split("SignedHeaders=").nth(1).unwrap();
                let signed: Vec<_> = signed.split(',').next().unwrap().split(';').collect();
                assert!(
                    signed.contains(&"amz-sdk-invocation-id")
                        && signed.contains(&"amz-sdk-request"),
                    "{auth}"
                );
            }

            // A second call: another id. A request's own id is kept.
            let res = client.post(&url).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let res = client
                .post(&url)
                .header(INVOCATION_ID_HEADER, "my-own-invocation")
                .body("1")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let all = seen();
            let n = all.len();
            assert_eq!(n, first.len() + 2);
            assert_ne!(header(&all[n - 2], &INVOCATION_ID_HEADER).unwrap(), ids[0]);
            assert_eq!(
                header(&all[n - 2], &SDK_REQUEST_HEADER).unwrap(),
                "attempt=1; max=9"
            );
            assert_eq!(
                header(&all[n - 1], &INVOCATION_ID_HEADER).unwrap(),
                "my-own-invocation"
            );

            // Off with one setting.
            let off = client_with(&fast(8).attempt_headers(false), &CountAttempts::default());
            let res = off.post(&url).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let last = seen().pop().unwrap();
            assert!(header(&last, &INVOCATION_ID_HEADER).is_none());
            assert!(header(&last, &SDK_REQUEST_HEADER).is_none());
        }

        #[tokio::test]
        async fn invoke_headers_are_set_signed_and_checked_before_sending() {
            let emulator = signed_emulator(0);
            let (url, log) = serve_recording(emulator.clone()).await;
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(InvokeHeadersMiddleware::new(
                    InvokeHeaders::new().with(InvokeHeader::inference_id("default-id").unwrap()),
                ))
                .multi_model_endpoint_with(
                    TargetModel::new("m.tar.gz").unwrap(),
                    &fast(2),
                    Duration::from_secs(10),
                )
                .with(SigV4Middleware::new(credentials(), REGION))
                .build();

            // The default, and a request's own (custom attributes).
            let res = client
                .post(&url)
                .with_extension(
                    InvokeHeaders::new()
                        .with(InvokeHeader::custom_attributes("trace=abc").unwrap()),
                )
                .body("1.0,2.0,5.0")
                .send()
                .await
                .unwrap();
            // The emulator refuses an unsigned X-Amzn-SageMaker-* header.
            assert_eq!(res.status(), StatusCode::OK);
            let seen = log.lock().unwrap().clone();
            assert_eq!(seen.len(), 1);
            assert_eq!(
                header(&seen[0], &INFERENCE_ID_HEADER).unwrap(),
                "default-id"
            );
            assert_eq!(
                header(&seen[0], &CUSTOM_ATTRIBUTES_HEADER).unwrap(),
                "trace=abc"
            );

            // An invalid value cannot be made...
            assert!(InvokeHeader::target_variant("-blue").is_err());
            // ...and one set by hand is refused before anything is sent.
            let err = client
                .post(&url)
                .header(TARGET_VARIANT_HEADER, "-blue")
                .body("1")
                .send()
                .await
                .unwrap_err();
            let reqwest_middleware::Error::Middleware(err) = err else {
                panic!("{err:?}")
            };
            let invalid = err.downcast_ref::<InvalidHeaderValue>().unwrap();
            assert_eq!(invalid.header(), "X-Amzn-SageMaker-Target-Variant");
            assert_eq!(log.lock().unwrap().len(), 1);
            assert_eq!(emulator.stats("m.tar.gz").unwrap().invocations, 1);
        }
    }
}

/// The deadline middleware on tokio's paused clock, with an endpoint made of
/// middleware (no network): every attempt takes `latency` and answers 503.
mod deadline_on_a_paused_clock {
    use std::sync::Mutex;

    use tower_sagemaker::deadline::DeadlineExceeded;
    use tower_sagemaker::reqwest::{AttemptDeadlineMiddleware, DeadlineMiddleware};

    use super::*;

    #[derive(Clone)]
    struct SlowUnavailable {
        latency: Duration,
        timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
    }

    #[async_trait::async_trait]
    impl Middleware for SlowUnavailable {
        async fn handle(
            &self,
            req: reqwest::Request,
            _: &mut Extensions,
            _: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            self.timeouts.lock().unwrap().push(req.timeout().copied());
            tokio::time::sleep(self.latency).await;
            let res = http::Response::builder()
                .status(503)
                .header("x-amzn-errortype", "ServiceUnavailable")
                .body("")
                .unwrap();
            Ok(res.into())
        }
    }

    fn client(budget: Duration, latency: Duration) -> (ClientWithMiddleware, SlowUnavailable) {
        let endpoint = SlowUnavailable {
            latency,
            timeouts: Arc::default(),
        };
        let retries = LegacyRetries::new()
            .max_retries(10)
            .base_delay(Duration::from_millis(1));
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(DeadlineMiddleware::new(budget))
            .with(RetryTransientMiddleware::new_with_policy_and_strategy(
                LegacyBackoffPolicy::new(&retries),
                LegacyRetryableStrategy::new(&retries),
            ))
            .with(AttemptDeadlineMiddleware::new().attempt_timeout(Duration::from_secs(70)))
            .with(endpoint.clone())
            .build();
        (client, endpoint)
    }

    fn exceeded(err: reqwest_middleware::Error) -> DeadlineExceeded {
        match err {
            reqwest_middleware::Error::Middleware(err) => *err
                .downcast_ref::<DeadlineExceeded>()
                .unwrap_or_else(|| panic!("{err:?}")),
            err => panic!("{err:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_ends_the_attempt_in_flight() {
        let (client, endpoint) = client(Duration::from_secs(100), Duration::from_secs(40));
        let start = tokio::time::Instant::now();
        let err = client
            .post("http://127.0.0.1:9/endpoints/demo/invocations")
            .body("1")
            .send()
            .await
            .unwrap_err();
        let exceeded = exceeded(err);
        assert_eq!(start.elapsed(), Duration::from_secs(100));
        assert_eq!(exceeded.budget(), Duration::from_secs(100));
        // Each attempt's reqwest timeout: the attempt timeout, then what is
        // left of the budget (the third attempt starts at about 80 s).
        let timeouts = endpoint.timeouts.lock().unwrap().clone();
        assert_eq!(timeouts.len(), 3, "{timeouts:?}");
        assert_eq!(timeouts[0], Some(Duration::from_secs(70)));
        let left = |t: Option<Duration>| t.unwrap().as_secs_f64();
        assert!((59.9..=60.0).contains(&left(timeouts[1])), "{timeouts:?}");
        assert!((19.9..=20.0).contains(&left(timeouts[2])), "{timeouts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_callers_earlier_deadline_stands() {
        let (client, _) = client(Duration::from_secs(100), Duration::from_secs(40));
        let start = tokio::time::Instant::now();
        let err = client
            .post("http://127.0.0.1:9/endpoints/demo/invocations")
            .with_extension(tower_sagemaker::deadline::Deadline::after(
                Duration::from_secs(10),
            ))
            .body("1")
            .send()
            .await
            .unwrap_err();
        assert_eq!(exceeded(err).budget(), Duration::from_secs(10));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }
}

/// Inference components that scale to zero, over reqwest: a small fake
/// endpoint on 127.0.0.1 (the emulator does not host components yet) that
/// answers 400 `ValidationError` with the service's no-capacity message
/// until a component's copy is ready, then 200. Loopback tests run on real
/// time with a fast scale-out pacing (50 to 150 ms); the default pacing
/// (10 to 30 s) and the deadline of the recommended stack are checked on
/// tokio's paused clock with an endpoint made of middleware (module
/// `on_a_paused_clock`), as `deadline_on_a_paused_clock` does.
#[cfg(feature = "scale-from-zero")]
mod scale_from_zero {
    use std::sync::Mutex;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full, StreamBody};
    use tower::{BoxError, ServiceBuilder, ServiceExt};
    use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
    use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
    use tower_sagemaker::reqwest::{ClientBuilderExt, ReqwestService};
    use tower_sagemaker::retry::{
        Attempts, ColdStarts, Decision, LegacyBackoff, ModelNotReadyRetryLayer, RetryEvent,
        RetryReason,
    };
    use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;
    use tower_sagemaker::scale_from_zero::NoCapacityLayer;

    use super::*;

    const ERROR_TYPE: &str =
        "ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/";
    /// The fake's answer for a component it does not host (its own
    /// wording): a `ValidationError` that must never be retried.
    const NOT_FOUND: &str = r#"{"message":"Inference Component ic-missing was not found."}"#;

    fn no_capacity_body() -> String {
        format!(r#"{{"message":"{NO_CAPACITY_MESSAGE}"}}"#)
    }

    /// A 400 `ValidationError` body of about 4 KiB whose message is not the
    /// no-capacity one (beyond the first KiB it even repeats it).
    fn big_body() -> String {
        let filler = "x".repeat(1500);
        format!(r#"{{"message":"Too long: {filler}","detail":"{NO_CAPACITY_MESSAGE} {filler}"}}"#)
    }

    /// What the fake endpoint saw.
    #[derive(Default)]
    struct Seen {
        /// When each request to `ic-1` came.
        arrivals: Vec<Instant>,
        no_capacity: u32,
        ready_at: Option<Instant>,
    }

    /// Serves components on 127.0.0.1: `ic-1` has no copy until
    /// `scale_out` after the first call to it; `ic-missing` does not exist;
    /// `ic-big` answers [`big_body`] with a content length and
    /// `ic-big-chunked` the same in chunks of 512 bytes, without one.
    async fn fake_endpoint(scale_out: Duration) -> (String, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let log = Arc::clone(&seen);
        let url = support::loopback::serve(move |req: http::Request<hyper::body::Incoming>| {
            let res = answer(&req, scale_out, &log);
            async move { Ok::<_, std::convert::Infallible>(res) }
        })
        .await;
        (format!("{url}/endpoints/demo/invocations"), seen)
    }

    type FakeBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

    fn answer<B>(
        req: &http::Request<B>,
        scale_out: Duration,
        seen: &Mutex<Seen>,
    ) -> http::Response<FakeBody> {
        let component = req
            .headers()
            .get("x-amzn-sagemaker-inference-component")
            .map(|v| v.to_str().unwrap().to_owned());
        let error = |body: FakeBody| {
            http::Response::builder()
                .status(400)
                .header("x-amzn-errortype", ERROR_TYPE)
                .header("content-type", "application/json")
                .body(body)
                .unwrap()
        };
        let full = |s: String| Full::new(Bytes::from(s)).boxed();
        match component.as_deref() {
            Some("ic-1") => {
                let mut seen = seen.lock().unwrap();
                let now = Instant::now();
                seen.arrivals.push(now);
                let ready_at = *seen.ready_at.get_or_insert(now + scale_out);
                if now < ready_at {
                    seen.no_capacity += 1;
                    return error(full(no_capacity_body()));
                }
                http::Response::new(full("8.0".to_owned()))
            }
            Some("ic-big") => error(full(big_body())),
            Some("ic-big-chunked") => {
                let body = Bytes::from(big_body());
                let frames: Vec<_> = body
                    .chunks(512)
                    .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
                    .collect();
                error(StreamBody::new(futures_util::stream::iter(frames)).boxed())
            }
            _ => error(full(NOT_FOUND.to_owned())),
        }
    }

    fn component(name: &str) -> InvokeHeaders {
        InvokeHeaders::new().with(InvokeHeader::inference_component(name).unwrap())
    }

    /// Scale-out retries 50 to 150 ms apart (the default is 10 to 30 s).
    fn fast_pacing() -> LegacyBackoff {
        LegacyBackoff::new()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(150))
            .min_delay(Duration::from_millis(50))
    }

    /// One retry for botocore's reasons: the no-capacity retries are not
    /// counted against it.
    fn fast() -> LegacyRetries {
        LegacyRetries::new()
            .max_retries(1)
            .base_delay(Duration::from_millis(20))
            .scale_out_backoff(fast_pacing())
    }

    type Events = Arc<
        Mutex<
            Vec<(
                Option<RetryReason>,
                Decision,
                Option<String>,
                Option<Duration>,
            )>,
        >,
    >;

    fn recording(retries: LegacyRetries, events: &Events) -> LegacyRetries {
        let events = Arc::clone(events);
        retries.on_event(move |event| {
            if let RetryEvent::Outcome(o) = event {
                events.lock().unwrap().push((
                    o.reason,
                    o.decision,
                    o.inference_component.map(str::to_owned),
                    o.since_first_no_capacity,
                ));
            }
        })
    }

    fn tower_stack(
        retries: LegacyRetries,
        budget: Duration,
    ) -> impl tower::Service<
        http::Request<Full<Bytes>>,
        Response = http::Response<impl http_body::Body<Data = Bytes, Error = BoxError>>,
        Error = BoxError,
    > + Clone {
        ServiceBuilder::new()
            .layer(DeadlineLayer::new(budget))
            .layer(ModelNotReadyRetryLayer::new(retries.scale_from_zero()))
            .layer(NoCapacityLayer::new())
            .service(ReqwestService::new(reqwest::Client::new()))
    }

    fn request(url: &str, component: &str) -> http::Request<Full<Bytes>> {
        http::Request::post(url)
            .header("content-type", "text/csv")
            .header("x-amzn-sagemaker-inference-component", component)
            .body(Full::new(Bytes::from_static(b"1.0,2.0,5.0")))
            .unwrap()
    }

    fn middleware_client(
        retries: &LegacyRetries,
        name: &str,
        budget: Duration,
        attempts: &CountAttempts,
    ) -> ClientWithMiddleware {
        reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .inference_component_with(component(name), retries, budget)
            .with(attempts.clone())
            .build()
    }

    /// The gaps between the requests `ic-1` got.
    fn gaps(seen: &Mutex<Seen>) -> Vec<Duration> {
        let arrivals = seen.lock().unwrap().arrivals.clone();
        arrivals.windows(2).map(|w| w[1] - w[0]).collect()
    }

    fn check_ridden_through(events: &Events, seen: &Mutex<Seen>, scale_out: Duration) {
        let no_capacity = seen.lock().unwrap().no_capacity;
        // More than botocore's 2 attempts: the no-capacity retries are paced
        // outside max_retries.
        assert!(no_capacity >= 3, "{no_capacity} no-capacity answers");
        for gap in gaps(seen) {
            assert!(gap >= Duration::from_millis(50), "paced: {gap:?}");
        }
        let events = events.lock().unwrap().clone();
        let retries: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.1, Decision::Retry { .. }))
            .collect();
        assert_eq!(retries.len() as u32, no_capacity, "{events:?}");
        for (reason, _, component, since) in &retries {
            assert_eq!(*reason, Some(RetryReason::NoCapacity));
            assert_eq!(component.as_deref(), Some("ic-1"));
            assert!(since.is_some());
        }
        let (reason, decision, component, since) = events.last().unwrap().clone();
        assert_eq!((reason, decision), (None, Decision::Return));
        assert_eq!(component.as_deref(), Some("ic-1"));
        // The wait the scale-out cost, from the first no-capacity answer.
        let since = since.unwrap();
        assert!(since >= scale_out && since < scale_out * 3, "{since:?}");
    }

    #[tokio::test]
    async fn tower_over_reqwest_rides_a_scale_out_through_paced() {
        let scale_out = Duration::from_millis(600);
        let (url, seen) = fake_endpoint(scale_out).await;
        let events = Events::default();
        let svc = tower_stack(recording(fast(), &events), Duration::from_secs(10));
        let res = svc.oneshot(request(&url, "ic-1")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let attempts = res.extensions().get::<Attempts>().unwrap().count();
        assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");
        assert_eq!(attempts, seen.lock().unwrap().no_capacity + 1);
        check_ridden_through(&events, &seen, scale_out);
    }

    #[tokio::test]
    async fn middleware_rides_a_scale_out_through_paced() {
        let scale_out = Duration::from_millis(600);
        let (url, seen) = fake_endpoint(scale_out).await;
        let events = Events::default();
        let attempts = CountAttempts::default();
        let client = middleware_client(
            &recording(fast(), &events),
            "ic-1",
            Duration::from_secs(10),
            &attempts,
        );
        let res = client.post(&url).body("1.0,2.0,5.0").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.text().await.unwrap(), "8.0");
        assert_eq!(
            attempts.0.load(Ordering::SeqCst),
            seen.lock().unwrap().no_capacity + 1
        );
        check_ridden_through(&events, &seen, scale_out);
    }

    #[tokio::test]
    async fn a_plain_validation_error_is_never_retried_and_keeps_its_body() {
        let (url, _) = fake_endpoint(Duration::from_secs(600)).await;

        let svc = tower_stack(fast(), Duration::from_secs(10));
        let res = svc.oneshot(request(&url, "ic-missing")).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
        assert_eq!(
            res.into_body().collect().await.unwrap().to_bytes(),
            NOT_FOUND
        );

        let attempts = CountAttempts::default();
        let client = middleware_client(&fast(), "ic-missing", Duration::from_secs(10), &attempts);
        let res = client.post(&url).body("1").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()["x-amzn-errortype"], ERROR_TYPE);
        assert_eq!(res.url().as_str(), url);
        assert_eq!(res.text().await.unwrap(), NOT_FOUND);
        assert_eq!(attempts.0.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn the_body_of_a_long_validation_error_is_delivered_whole() {
        let (url, _) = fake_endpoint(Duration::from_secs(600)).await;
        for name in ["ic-big", "ic-big-chunked"] {
            let svc = tower_stack(fast(), Duration::from_secs(10));
            let res = svc.oneshot(request(&url, name)).await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, big_body(), "{name}");

            let attempts = CountAttempts::default();
            let client = middleware_client(&fast(), name, Duration::from_secs(10), &attempts);
            let res = client.post(&url).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert_eq!(res.text().await.unwrap(), big_body(), "{name}");
            assert_eq!(attempts.0.load(Ordering::SeqCst), 1, "{name}");
        }
    }

    #[tokio::test]
    async fn the_deadline_ends_a_scale_out() {
        // Real time on a loaded machine: the call ends by the deadline, with
        // the last answer (no retry would start before it) or, when that
        // answer is late, with `DeadlineExceeded`. The paced-clock test
        // below checks the exact ending.
        let budget = Duration::from_millis(700);
        let by_the_deadline = budget + Duration::from_millis(100);
        let (url, seen) = fake_endpoint(Duration::from_secs(600)).await;

        let start = Instant::now();
        let svc = tower_stack(fast(), budget);
        match svc.oneshot(request(&url, "ic-1")).await {
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::BAD_REQUEST);
                let attempts = res.extensions().get::<Attempts>().unwrap().count();
                assert!(attempts >= 3, "{attempts} attempts");
                // A head that came just before the deadline leaves its body
                // to be cut by it.
                match res.into_body().collect().await {
                    Ok(body) => assert_eq!(body.to_bytes(), no_capacity_body()),
                    Err(err) => assert!(err.is::<DeadlineExceeded>(), "{err:?}"),
                }
            }
            Err(err) => assert!(err.is::<DeadlineExceeded>(), "{err:?}"),
        }
        assert!(start.elapsed() < by_the_deadline, "{:?}", start.elapsed());

        let attempts = CountAttempts::default();
        let client = middleware_client(&fast(), "ic-1", budget, &attempts);
        let start = Instant::now();
        match client.post(&url).body("1").send().await {
            Ok(res) => {
                assert_eq!(res.status(), StatusCode::BAD_REQUEST);
                assert_eq!(res.text().await.unwrap(), no_capacity_body());
            }
            Err(reqwest_middleware::Error::Middleware(err)) => {
                assert!(err.is::<DeadlineExceeded>(), "{err:?}")
            }
            Err(err) => panic!("{err:?}"),
        }
        let elapsed = start.elapsed();
        assert!(elapsed < by_the_deadline, "{elapsed:?}");
        let sent = attempts.0.load(Ordering::SeqCst);
        // Paced (at least 50 ms apart) and past botocore's 2 attempts.
        assert!(sent >= 3, "{sent} attempts");
        assert!(
            elapsed >= Duration::from_millis(50) * (sent - 1),
            "{elapsed:?}"
        );
        assert!(seen.lock().unwrap().no_capacity >= 6);
    }

    /// `n` callers on `ic-1` at once; the requests the endpoint received.
    async fn callers(n: u32, retries: LegacyRetries) -> u32 {
        let (url, seen) = fake_endpoint(Duration::from_millis(600)).await;
        let attempts = CountAttempts::default();
        let client = middleware_client(&retries, "ic-1", Duration::from_secs(10), &attempts);
        let calls = (0..n).map(|_| client.post(&url).body("1").send());
        for res in futures_util::future::join_all(calls).await {
            let res = res.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.text().await.unwrap(), "8.0");
        }
        let sent = attempts.0.load(Ordering::SeqCst);
        assert_eq!(sent, seen.lock().unwrap().arrivals.len() as u32);
        sent
    }

    #[tokio::test]
    async fn callers_on_one_component_coalesce() {
        let n = 10;
        // A 600 ms scale-out, one probe every 50 to 150 ms: with coalescing
        // about a dozen no-capacity answers in all, without it that many
        // per caller.
        let with = callers(n, fast().coalesce_cold_starts(ColdStarts::new())).await;
        let without = callers(n, fast()).await;
        assert!(with <= n + 16, "{with} requests for {n} callers");
        assert!(without >= 4 * n, "{without} requests for {n} callers");
        println!("{n} callers: {with} requests with coalescing, {without} without");
    }

    /// The recommended stack's defaults on tokio's paused clock: an
    /// endpoint made of middleware whose component gets its copy 240 s after
    /// the first call.
    mod on_a_paused_clock {
        use tokio::time::Instant;
        use tower_sagemaker::reqwest::{
            ColdStartsMiddleware, LegacyBackoffPolicy, LegacyRetryableStrategy,
            NoCapacityMiddleware,
        };
        use tower_sagemaker::sagemaker::SCALE_FROM_ZERO_BUDGET;

        use super::*;

        #[derive(Clone)]
        struct AtZero {
            ready_after: Duration,
            arrivals: Arc<Mutex<Vec<Instant>>>,
            // Each arrival's `amz-sdk-request`.
            attempt_headers: Arc<Mutex<Vec<String>>>,
        }

        #[async_trait::async_trait]
        impl Middleware for AtZero {
            async fn handle(
                &self,
                req: reqwest::Request,
                _: &mut Extensions,
                _: Next<'_>,
            ) -> reqwest_middleware::Result<reqwest::Response> {
                assert_eq!(
                    req.headers()["x-amzn-sagemaker-inference-component"],
                    "ic-1"
                );
                let mut arrivals = self.arrivals.lock().unwrap();
                arrivals.push(Instant::now());
                if let Some(value) = req.headers().get("amz-sdk-request") {
                    let value = value.to_str().unwrap().to_owned();
                    self.attempt_headers.lock().unwrap().push(value);
                }
                let res = match arrivals[0].elapsed() < self.ready_after {
                    true => http::Response::builder()
                        .status(400)
                        .header("x-amzn-errortype", ERROR_TYPE)
                        .body(no_capacity_body())
                        .unwrap(),
                    false => http::Response::new("8.0".to_owned()),
                };
                Ok(res.into())
            }
        }

        fn at_zero(ready_after: Duration) -> AtZero {
            AtZero {
                ready_after,
                arrivals: Arc::default(),
                attempt_headers: Arc::default(),
            }
        }

        fn gaps(endpoint: &AtZero) -> Vec<Duration> {
            let arrivals = endpoint.arrivals.lock().unwrap().clone();
            arrivals.windows(2).map(|w| w[1] - w[0]).collect()
        }

        const URL: &str = "http://127.0.0.1:9/endpoints/demo/invocations";

        #[tokio::test(start_paused = true)]
        async fn the_recommended_stack_paces_retries_10_to_30_s_apart() {
            let endpoint = at_zero(Duration::from_secs(240));
            let events = Events::default();
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .inference_component_with(
                    component("ic-1"),
                    &recording(LegacyRetries::new(), &events),
                    SCALE_FROM_ZERO_BUDGET,
                )
                .with(endpoint.clone())
                .build();
            let start = Instant::now();
            let res = client.post(URL).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(res.text().await.unwrap(), "8.0");
            let elapsed = start.elapsed();
            assert!(
                elapsed >= Duration::from_secs(240) && elapsed < Duration::from_secs(270),
                "{elapsed:?}"
            );
            let gaps = gaps(&endpoint);
            // Far more than botocore's 5 attempts, none counted against them.
            assert!(gaps.len() >= 8, "{gaps:?}");
            assert!(gaps[0] >= Duration::from_secs(10) && gaps[0] < Duration::from_secs(20));
            for gap in &gaps {
                assert!(
                    *gap >= Duration::from_secs(10) && *gap < Duration::from_secs(30),
                    "{gaps:?}"
                );
            }
            let events = events.lock().unwrap().clone();
            assert_eq!(events.len(), gaps.len() + 1, "{events:?}");
            let (reason, decision, component, since) = events.last().unwrap().clone();
            assert_eq!((reason, decision), (None, Decision::Return));
            assert_eq!(component.as_deref(), Some("ic-1"));
            let since = since.unwrap();
            assert!(
                since >= Duration::from_secs(240) && since <= elapsed,
                "{since:?}"
            );
        }

        #[tokio::test(start_paused = true)]
        async fn the_attempt_headers_max_grows_with_each_paced_answer() {
            let endpoint = at_zero(Duration::from_secs(100));
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .inference_component(component("ic-1"))
                .with(endpoint.clone())
                .build();
            let res = client.post(URL).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let seen = endpoint.attempt_headers.lock().unwrap().clone();
            // Paced retries 10 to 30 s apart: at least 4 before 100 s.
            assert!(seen.len() >= 5, "{seen:?}");
            let expected: Vec<String> = (1..=seen.len())
                .map(|n| format!("attempt={n}; max={}", 4 + n))
                .collect();
            assert_eq!(seen, expected);
        }

        #[tokio::test(start_paused = true)]
        async fn the_deadline_ends_a_scale_out_on_a_paused_clock() {
            let endpoint = at_zero(Duration::MAX);
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .inference_component(component("ic-1"))
                .with(endpoint.clone())
                .build();
            let start = Instant::now();
            let res = client.post(URL).body("1").send().await.unwrap();
            let elapsed = start.elapsed();
            // No retry that would start after the 600 s budget: the caller
            // gets the last answer, whole, before the deadline.
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert_eq!(res.text().await.unwrap(), no_capacity_body());
            assert!(
                elapsed >= SCALE_FROM_ZERO_BUDGET - Duration::from_secs(30)
                    && elapsed < SCALE_FROM_ZERO_BUDGET,
                "{elapsed:?}"
            );
            let sent = endpoint.arrivals.lock().unwrap().len();
            assert!((20..=60).contains(&sent), "{sent} attempts");
        }

        #[tokio::test(start_paused = true)]
        async fn without_a_deadline_no_capacity_counts_against_max_retries() {
            let endpoint = at_zero(Duration::MAX);
            let retries = LegacyRetries::new().scale_from_zero();
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(RetryTransientMiddleware::new_with_policy_and_strategy(
                    LegacyBackoffPolicy::new(&retries),
                    LegacyRetryableStrategy::new(&retries),
                ))
                .with(ColdStartsMiddleware::new(&retries))
                .with(NoCapacityMiddleware::new())
                .with(endpoint.clone())
                .build();
            let res = client
                .post(URL)
                .header("x-amzn-sagemaker-inference-component", "ic-1")
                .body("1")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            let gaps = gaps(&endpoint);
            // botocore's 5 attempts and its backoff: under 1, 2, 4, 8 s.
            assert_eq!(gaps.len(), 4, "{gaps:?}");
            for (k, gap) in gaps.iter().enumerate() {
                assert!(*gap < Duration::from_secs(1 << k), "{gaps:?}");
            }
        }

        #[tokio::test(start_paused = true)]
        async fn a_plain_validation_error_is_not_retried_by_the_middleware() {
            #[derive(Clone)]
            struct Invalid(Arc<AtomicU32>);

            #[async_trait::async_trait]
            impl Middleware for Invalid {
                async fn handle(
                    &self,
                    _: reqwest::Request,
                    _: &mut Extensions,
                    _: Next<'_>,
                ) -> reqwest_middleware::Result<reqwest::Response> {
                    self.0.fetch_add(1, Ordering::SeqCst);
                    let res = http::Response::builder()
                        .status(400)
                        .header("x-amzn-errortype", ERROR_TYPE)
                        .body(NOT_FOUND)
                        .unwrap();
                    Ok(res.into())
                }
            }

            let endpoint = Invalid(Arc::default());
            let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .inference_component(component("ic-missing"))
                .with(endpoint.clone())
                .build();
            let res = client.post(URL).body("1").send().await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST);
            assert_eq!(res.text().await.unwrap(), NOT_FOUND);
            assert_eq!(endpoint.0.load(Ordering::SeqCst), 1);
        }

        /// Components at zero, each ready `ready_after(name)` after its
        /// first call; records each component's arrivals.
        #[derive(Clone)]
        struct Components {
            ready_after: fn(&str) -> Duration,
            arrivals: Arc<Mutex<std::collections::HashMap<String, Vec<Instant>>>>,
        }

        #[async_trait::async_trait]
        impl Middleware for Components {
            async fn handle(
                &self,
                req: reqwest::Request,
                _: &mut Extensions,
                _: Next<'_>,
            ) -> reqwest_middleware::Result<reqwest::Response> {
                let name = req.headers()["x-amzn-sagemaker-inference-component"]
                    .to_str()
                    .unwrap()
                    .to_owned();
                let mut all = self.arrivals.lock().unwrap();
                let arrivals = all.entry(name.clone()).or_default();
                arrivals.push(Instant::now());
                let res = match arrivals[0].elapsed() < (self.ready_after)(&name) {
                    true => http::Response::builder()
                        .status(400)
                        .header("x-amzn-errortype", ERROR_TYPE)
                        .body(no_capacity_body())
                        .unwrap(),
                    false => http::Response::new("8.0".to_owned()),
                };
                Ok(res.into())
            }
        }

        impl Components {
            fn arrivals(&self, name: &str) -> Vec<Instant> {
                self.arrivals
                    .lock()
                    .unwrap()
                    .get(name)
                    .cloned()
                    .unwrap_or_default()
            }
        }

        /// A coalescing client for any component (named per request).
        fn shared_client(endpoint: &Components) -> reqwest_middleware::ClientWithMiddleware {
            let retries = LegacyRetries::new().coalesce_cold_starts(ColdStarts::new());
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .inference_component_with(InvokeHeaders::new(), &retries, SCALE_FROM_ZERO_BUDGET)
                .with(endpoint.clone())
                .build()
        }

        fn call(
            client: &reqwest_middleware::ClientWithMiddleware,
            name: &'static str,
        ) -> tokio::task::JoinHandle<(StatusCode, Instant)> {
            let request = client
                .post(URL)
                .header("x-amzn-sagemaker-inference-component", name)
                .body("1");
            tokio::spawn(async move {
                let res = request.send().await.unwrap();
                (res.status(), Instant::now())
            })
        }

        #[tokio::test(start_paused = true)]
        async fn two_components_at_once_each_have_their_own_probe() {
            let endpoint = Components {
                ready_after: |name| match name {
                    "ic-fast" => Duration::from_secs(60),
                    _ => Duration::from_secs(240),
                },
                arrivals: Arc::default(),
            };
            let client = shared_client(&endpoint);
            let start = Instant::now();
            let calls: Vec<_> = (0..20)
                .map(|i| (i % 2, call(&client, ["ic-fast", "ic-slow"][i % 2])))
                .collect();
            for (i, task) in calls {
                let (status, end) = task.await.unwrap();
                assert_eq!(status, StatusCode::OK);
                let ready = [60, 240][i];
                let after = (end - start).as_secs_f64() - ready as f64;
                assert!((0.0..30.0).contains(&after), "{after} s after ready");
            }
            for (name, scale_out) in [("ic-fast", 60), ("ic-slow", 240)] {
                let arrivals = endpoint.arrivals(name);
                // One probe per 10 to 30 s until ready, then the ten callers.
                assert!(
                    arrivals.len() <= 10 + scale_out / 10 + 1,
                    "{name}: {}",
                    arrivals.len()
                );
                let before: Vec<_> = arrivals
                    .iter()
                    .filter(|t| (**t - start).as_secs() < scale_out as u64)
                    .collect();
                for gap in before.windows(2).map(|w| *w[1] - *w[0]) {
                    assert!(
                        gap < Duration::from_secs(30),
                        "{name}: {gap:?} without a probe"
                    );
                }
            }
        }

        #[tokio::test(start_paused = true)]
        async fn a_dropped_prober_hands_over() {
            let endpoint = Components {
                ready_after: |_| Duration::from_secs(240),
                arrivals: Arc::default(),
            };
            let client = shared_client(&endpoint);
            let prober = call(&client, "ic-1");
            tokio::time::sleep(Duration::from_millis(1)).await;
            let waiter = call(&client, "ic-1");
            tokio::time::sleep(Duration::from_secs(5)).await;
            assert_eq!(endpoint.arrivals("ic-1").len(), 1, "the waiter waits");
            prober.abort();
            tokio::time::sleep(Duration::from_millis(1)).await;
            let arrivals = endpoint.arrivals("ic-1");
            assert_eq!(arrivals.len(), 2, "the waiter probes at once");
            let (status, _) = waiter.await.unwrap();
            assert_eq!(status, StatusCode::OK);
        }
    }
}

/// A call's state lives in its middleware extensions; a caller that owns
/// them (`execute_with_extensions`) gets them back as they were.
mod call_state {
    use std::sync::Mutex;

    use tower_sagemaker::deadline::Deadline;
    use tower_sagemaker::reqwest::ClientBuilderExt;
    use tower_sagemaker::retry::ColdStarts;

    use super::*;

    /// An endpoint made of middleware whose model never loads.
    #[derive(Clone, Default)]
    struct AlwaysLoading(Arc<Mutex<u32>>);

    #[async_trait::async_trait]
    impl Middleware for AlwaysLoading {
        async fn handle(
            &self,
            _: reqwest::Request,
            _: &mut Extensions,
            _: Next<'_>,
        ) -> reqwest_middleware::Result<reqwest::Response> {
            *self.0.lock().unwrap() += 1;
            let res = http::Response::builder()
                .status(429)
                .header("x-amzn-errortype", "ModelNotReadyException")
                .body("")
                .unwrap();
            Ok(res.into())
        }
    }

    const URL: &str = "http://127.0.0.1:9/endpoints/demo/invocations";

    #[tokio::test(start_paused = true)]
    async fn a_finished_call_leaves_nothing_in_extensions_the_caller_keeps() {
        let cold = ColdStarts::new();
        let retries = LegacyRetries::new()
            .max_retries(1)
            .base_delay(Duration::from_millis(20))
            .coalesce_cold_starts(cold.clone());
        let endpoint = AlwaysLoading::default();
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .multi_model_endpoint_with(
                TargetModel::new("m.tar.gz").unwrap(),
                &retries,
                Duration::from_secs(5),
            )
            .with(endpoint.clone())
            .build();
        let mut kept = Extensions::new();
        let callers = Deadline::after(Duration::from_secs(60));
        kept.insert(callers);
        let req = client.post(URL).body("1").build().unwrap();
        let res = client
            .execute_with_extensions(req, &mut kept)
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
        assert_eq!(*endpoint.0.lock().unwrap(), 2);
        // Its ticket left the model's key: no call is held up by it.
        assert!(cold.is_empty(), "{cold:?}");
        // The caller's map is as it was: its own deadline, nothing else.
        assert_eq!(kept.len(), 1);
        assert_eq!(kept.get::<Deadline>(), Some(&callers));

        // Another call for the model goes out at once, and so does one on
        // the kept map, each making its own attempts.
        let start = tokio::time::Instant::now();
        let res = client.post(URL).body("1").send().await.unwrap();
        assert_eq!(res.status(), 429);
        let req = client.post(URL).body("1").build().unwrap();
        let res = client
            .execute_with_extensions(req, &mut kept)
            .await
            .unwrap();
        assert_eq!(res.status(), 429);
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(*endpoint.0.lock().unwrap(), 6);
        assert!(cold.is_empty(), "{cold:?}");
    }
}

/// With coalescing, a call that waited through other calls' failed probes
/// has spent those attempts: its next failure ends it, also one without a
/// response, as with the tower layer.
mod coalescing_budget {
    use std::sync::Mutex;

    use bytes::Bytes;
    use http_body_util::Full;
    use tower_sagemaker::reqwest::{ClientBuilderExt, NoRetriesLeft};
    use tower_sagemaker::retry::ColdStarts;

    use super::*;

    /// The first two requests get 429 `ModelNotReadyException` after a
    /// 300 ms hold; the connection of each later one closes unanswered.
    /// Records each request's inference id (which caller sent it).
    async fn serve(requests: Arc<Mutex<Vec<String>>>) -> String {
        let url = support::loopback::serve(move |req: http::Request<hyper::body::Incoming>| {
            let requests = requests.clone();
            async move {
                let n = support::loopback::record_caller(req, &requests).await;
                if n > 2 {
                    return Err(std::io::Error::other("dropped"));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok(http::Response::builder()
                    .status(429)
                    .header("x-amzn-errortype", "ModelNotReadyException")
                    .body(Full::new(Bytes::from_static(b"{}")))
                    .unwrap())
            }
        })
        .await;
        format!("{url}/endpoints/demo/invocations")
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_waited_through_the_probes_ends_after_its_last_attempt() {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let url = serve(requests.clone()).await;
        let retries = LegacyRetries::new()
            .max_retries(2)
            .base_delay(Duration::from_millis(20))
            .coalesce_cold_starts(ColdStarts::new());
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .multi_model_endpoint_with(
                TargetModel::new("m.tar.gz").unwrap(),
                &retries,
                Duration::from_secs(30),
            )
            .build();
        let call = |id: &'static str| {
            let client = client.clone();
            let url = url.clone();
            async move {
                client
                    .post(&url)
                    .header("x-amzn-sagemaker-inference-id", id)
                    .body("1")
                    .send()
                    .await
            }
        };
        let a = tokio::spawn(call("A"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let b = tokio::spawn(call("B"));
        let a = a.await.unwrap().unwrap_err();
        let b = b.await.unwrap().unwrap_err();
        let requests = requests.lock().unwrap().clone();
        let by = |id: &str| requests.iter().filter(|r| *r == id).count();
        assert_eq!((by("A"), by("B")), (3, 1), "{requests:?}");
        // B ended with its own attempt's error, marked: no retries left
        // (reqwest-retry hands the final error on in its `RetryError`).
        let retry_error = |err: &reqwest_middleware::Error| match err {
            reqwest_middleware::Error::Middleware(e) => e
                .downcast_ref::<reqwest_retry::RetryError>()
                .map(|e| format!("{e:?}"))
                .unwrap_or_else(|| panic!("{e:?}")),
            e => panic!("{e:?}"),
        };
        let reqwest_middleware::Error::Middleware(outer) = &b else {
            panic!("{b:?}")
        };
        let Some(reqwest_retry::RetryError::Error(reqwest_middleware::Error::Middleware(inner))) =
            outer.downcast_ref::<reqwest_retry::RetryError>()
        else {
            panic!("{b:?}")
        };
        let spent = inner
            .downcast_ref::<NoRetriesLeft>()
            .unwrap_or_else(|| panic!("{b:?}"));
        assert!(
            matches!(spent.get_ref(), reqwest_middleware::Error::Reqwest(_)),
            "{spent:?}"
        );
        // A made its own three attempts; reqwest-retry gave up on the last.
        assert!(
            retry_error(&a).starts_with("WithRetries { retries: 2"),
            "{a:?}"
        );
    }
}
