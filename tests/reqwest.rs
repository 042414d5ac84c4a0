//! The `reqwest` feature with a real reqwest client (rustls, no native TLS)
//! against the emulator served on 127.0.0.1.
#![cfg(all(feature = "reqwest", feature = "emulator"))]

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
