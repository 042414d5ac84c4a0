//! The `invoke_endpoint` example's stack (hyper client, TargetModelLayer,
//! DeadlineLayer, ModelNotReadyRetryLayer, SigV4Layer) against the emulator
//! served on 127.0.0.1 with SigV4 verification on: real sockets, real clocks,
//! short load and hold times.
#![cfg(all(
    feature = "emulator",
    feature = "sigv4",
    feature = "retry",
    feature = "deadline",
    feature = "target-model",
    feature = "read-timeout",
    feature = "collect-body",
))]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneService;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::collect_body::CollectBodyLayer;
use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::emulator::{Emulator, EmulatorBuilder, Fault, FaultScope, ModelSpec, Server};
use tower_sagemaker::read_timeout::ReadTimeoutLayer;
use tower_sagemaker::retry::{Attempts, LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::sagemaker::{MAX_PAYLOAD_BYTES, TARGET_MODEL_HEADER};
use tower_sagemaker::sigv4::SigV4Layer;
use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
use tower_sagemaker::ErrorCode;

const ACCESS_KEY: &str = "AKIDTESTEXAMPLE";
const SECRET_KEY: &str = "test-secret-key";
const REGION: &str = "us-east-1";

type Svc = BoxCloneService<http::Request<Full<Bytes>>, http::Response<Bytes>, BoxError>;

struct Served {
    emulator: Emulator,
    server: Server,
}

impl Served {
    async fn start(builder: EmulatorBuilder) -> Self {
        let emulator = builder
            .credentials(ACCESS_KEY, SECRET_KEY)
            .region(REGION)
            .shutdown_timeout(Duration::from_millis(100))
            .build();
        let server = emulator
            .serve(([127, 0, 0, 1], 0).into())
            .await
            .expect("serve the emulator");
        Self { emulator, server }
    }

    fn url(&self) -> String {
        self.server.endpoint_url()
    }

    fn stats(&self, model: &str) -> tower_sagemaker::emulator::ModelStats {
        self.emulator.stats(model).unwrap_or_default()
    }
}

fn credentials(secret: &str) -> Credentials {
    Credentials::new(ACCESS_KEY, secret, None, None, "test")
}

/// The example's stack, in its order; retries tuned for fast tests. The
/// caller's last step reads the body (in memory already, or a final retried
/// error's body), within the deadline.
fn stack(deadline: Duration, max_retries: u32, secret: &str) -> Svc {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let svc = ServiceBuilder::new()
        .and_then(|res: http::Response<_>| async move {
            let (parts, body) = res.into_parts();
            let body = BodyExt::collect(body).await?.to_bytes();
            Ok::<_, BoxError>(http::Response::from_parts(parts, body))
        })
        .layer(TargetModelLayer::per_request())
        .layer(DeadlineLayer::new(deadline))
        .layer(
            ModelNotReadyRetryLayer::new(
                LegacyRetries::new()
                    .max_retries(max_retries)
                    .base_delay(Duration::from_millis(20)),
            )
            .attempt_timeout(Duration::from_secs(5)),
        )
        .layer(CollectBodyLayer::new(MAX_PAYLOAD_BYTES))
        .layer(ReadTimeoutLayer::new(Duration::from_secs(5)))
        .layer(SigV4Layer::new(credentials(secret), REGION))
        .service(client);
    BoxCloneService::new(svc)
}

fn request(url: &str, model: &str, body: &'static str) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::post(format!("{url}/endpoints/demo/invocations"))
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    req.extensions_mut()
        .insert(TargetModel::new(model).unwrap());
    req
}

fn attempts<B>(res: &http::Response<B>) -> u32 {
    res.extensions()
        .get::<Attempts>()
        .map_or(0, Attempts::count)
}

fn error_code<B>(res: &http::Response<B>) -> String {
    ErrorCode::from_headers(res.headers())
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn rides_through_a_cold_start() {
    let served = Served::start(
        Emulator::builder()
            .model("cold.tar.gz", ModelSpec::new(ms(700)))
            .hold_timeout(ms(200)),
    )
    .await;
    let svc = stack(Duration::from_secs(10), 8, SECRET_KEY);
    let start = Instant::now();
    let res = svc
        .oneshot(request(&served.url(), "cold.tar.gz", "1.0,2.0,5.0"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
    assert_eq!(res.body(), "8.0");
    assert!(attempts(&res) >= 2, "attempts: {}", attempts(&res));
    assert!(start.elapsed() >= ms(700), "{:?}", start.elapsed());
    let stats = served.stats("cold.tar.gz");
    assert_eq!(stats.loads, 1);
    assert!(stats.not_ready >= 1, "{stats:?}");
    assert_eq!(stats.not_ready, u64::from(attempts(&res) - 1));
    served.server.shutdown().await;
}

/// Over loopback, with SigV4 verification on: every attempt carries one
/// `amz-sdk-invocation-id` and its own `amz-sdk-request`, signed, and the
/// emulator accepts the signatures.
#[tokio::test]
async fn the_attempt_headers_go_out_signed() {
    let served = Served::start(
        Emulator::builder()
            .model("cold.tar.gz", ModelSpec::new(ms(500)))
            .hold_timeout(ms(200)),
    )
    .await;
    // What goes on the wire, after signing.
    let sent = Arc::new(Mutex::new(Vec::new()));
    let record = sent.clone();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let wire = tower::service_fn(move |req: http::Request<Full<Bytes>>| {
        record.lock().unwrap().push(req.headers().clone());
        client.request(req)
    });
    let svc = ServiceBuilder::new()
        .layer(TargetModelLayer::per_request())
        .layer(DeadlineLayer::new(Duration::from_secs(10)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new()
                .max_retries(8)
                .base_delay(Duration::from_millis(20)),
        ))
        .layer(SigV4Layer::new(credentials(SECRET_KEY), REGION))
        .service(wire);
    let res = svc
        .oneshot(request(&served.url(), "cold.tar.gz", "1.0,2.0,5.0"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let n = attempts(&res);
    assert!(n >= 2, "attempts: {n}");
    assert_eq!(served.stats("cold.tar.gz").not_ready, u64::from(n - 1));
    served.server.shutdown().await;

    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len() as u32, n);
    let header = |h: &http::HeaderMap, name: &str| h[name].to_str().unwrap().to_owned();
    let id = header(&sent[0], "amz-sdk-invocation-id");
    assert_eq!(id.len(), 36, "{id}");
    for (i, h) in sent.iter().enumerate() {
        assert_eq!(header(h, "amz-sdk-invocation-id"), id);
        assert_eq!(
            header(h, "amz-sdk-request"),
            format!("attempt={}; max=9", i + 1)
        );
        let auth = header(h, "authorization");
        let signed = auth.split("SignedHeaders=").nth(1).unwrap();
        let signed: Vec<_> = signed.split(',').next().unwrap().split(';').collect();
        assert!(signed.contains(&"amz-sdk-invocation-id"), "{auth}");
        assert!(signed.contains(&"amz-sdk-request"), "{auth}");
    }
}

#[tokio::test]
async fn cold_starts_again_after_an_eviction() {
    // Memory for one model at a time: alternating models evicts each time.
    let served = Served::start(
        Emulator::builder()
            .model("a.tar.gz", ModelSpec::new(ms(150)).size(100))
            .model("b.tar.gz", ModelSpec::new(ms(150)).size(100))
            .memory(150)
            .hold_timeout(ms(100)),
    )
    .await;
    let svc = stack(Duration::from_secs(10), 8, SECRET_KEY);
    for (model, body, want) in [
        ("a.tar.gz", "1,2", "3.0"),
        ("b.tar.gz", "2,2", "4.0"),
        ("a.tar.gz", "3,2", "5.0"),
    ] {
        let res = svc
            .clone()
            .oneshot(request(&served.url(), model, body))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{model}: {:?}", res.body());
        assert_eq!(res.body(), want);
        // Each call was a cold start longer than the hold: at least one 429.
        assert!(attempts(&res) >= 2, "{model}: {} attempts", attempts(&res));
    }
    let (a, b) = (served.stats("a.tar.gz"), served.stats("b.tar.gz"));
    assert_eq!((a.loads, a.evictions, a.invocations), (2, 1, 2), "{a:?}");
    assert_eq!((b.loads, b.evictions, b.invocations), (1, 1, 1), "{b:?}");
    served.server.shutdown().await;
}

#[tokio::test]
async fn retries_injected_500_and_503() {
    let served = Served::start(Emulator::builder().model("m.tar.gz", ModelSpec::new(ms(20)))).await;
    let status = |status: u16, code: &str| Fault::Status {
        status: StatusCode::from_u16(status).unwrap(),
        code: code.into(),
        message: format!("injected {code}"),
    };
    served
        .emulator
        .inject(status(500, "InternalFailure"), FaultScope::Any, 1);
    served.emulator.inject(
        status(503, "ServiceUnavailable"),
        FaultScope::Model("m.tar.gz".into()),
        1,
    );
    let svc = stack(Duration::from_secs(10), 4, SECRET_KEY);
    let res = svc
        .oneshot(request(&served.url(), "m.tar.gz", "1,1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
    assert_eq!(res.body(), "2.0");
    assert_eq!(attempts(&res), 3);
    served.server.shutdown().await;
}

#[tokio::test]
async fn retries_a_dropped_connection() {
    let served = Served::start(Emulator::builder().model("m.tar.gz", ModelSpec::new(ms(20)))).await;
    served
        .emulator
        .inject(Fault::DropConnection, FaultScope::Any, 1);
    let svc = stack(Duration::from_secs(10), 4, SECRET_KEY);
    let res = svc
        .oneshot(request(&served.url(), "m.tar.gz", "4"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.body());
    assert_eq!(res.body(), "4.0");
    assert_eq!(attempts(&res), 2);
    served.server.shutdown().await;
}

#[tokio::test]
async fn only_the_deadline_ends_a_stall() {
    let served = Served::start(Emulator::builder().model("m.tar.gz", ModelSpec::new(ms(20)))).await;
    served.emulator.inject(Fault::Stall, FaultScope::Any, 10);
    // Attempt timeout 5 s: only the 400 ms deadline can end the stall.
    let svc = stack(ms(400), 4, SECRET_KEY);
    let start = Instant::now();
    let err = svc
        .oneshot(request(&served.url(), "m.tar.gz", "1"))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    let exceeded = err
        .downcast_ref::<DeadlineExceeded>()
        .unwrap_or_else(|| panic!("not DeadlineExceeded: {err}"));
    assert_eq!(exceeded.budget(), ms(400));
    assert!(elapsed >= ms(400) && elapsed < ms(1500), "{elapsed:?}");
    served.server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_secret_is_rejected_with_403() {
    let served = Served::start(Emulator::builder().model("m.tar.gz", ModelSpec::new(ms(20)))).await;
    let svc = stack(Duration::from_secs(10), 4, "not-the-secret");
    let res = svc
        .oneshot(request(&served.url(), "m.tar.gz", "1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(&res), "InvalidSignatureException");
    assert_eq!(attempts(&res), 1, "403 is not retried");
    assert_eq!(served.stats("m.tar.gz").loads, 0);
    served.server.shutdown().await;
}

/// Records the `SignedHeaders` of each request that reaches the client.
fn signed_headers_probe(
    seen: Arc<Mutex<Vec<String>>>,
) -> impl Fn(http::Request<Full<Bytes>>) -> http::Request<Full<Bytes>> + Clone {
    move |req| {
        let auth = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let signed = auth
            .split(", ")
            .find_map(|p| p.strip_prefix("SignedHeaders="))
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push(signed);
        req
    }
}

#[tokio::test]
async fn the_target_model_header_is_signed_and_tampering_is_rejected() {
    let served = Served::start(
        Emulator::builder()
            .model("m.tar.gz", ModelSpec::new(ms(20)))
            .model("other.tar.gz", ModelSpec::new(ms(20))),
    )
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Right order, then something below the signer swaps the model.
    let svc = ServiceBuilder::new()
        .layer(TargetModelLayer::new(TargetModel::new("m.tar.gz").unwrap()))
        .layer(DeadlineLayer::new(Duration::from_secs(10)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().base_delay(ms(20)),
        ))
        .layer(SigV4Layer::new(credentials(SECRET_KEY), REGION))
        .map_request(signed_headers_probe(seen.clone()))
        .map_request(|mut req: http::Request<Full<Bytes>>| {
            req.headers_mut().insert(
                TARGET_MODEL_HEADER,
                http::HeaderValue::from_static("other.tar.gz"),
            );
            req
        })
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let req = http::Request::post(format!("{}/endpoints/demo/invocations", served.url()))
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(b"1")))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert!(
        seen.lock().unwrap()[0].contains("x-amzn-sagemaker-target-model"),
        "{seen:?}"
    );
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{:?}", res.body());
    assert_eq!(error_code(&res), "InvalidSignatureException");
    assert_eq!(served.stats("other.tar.gz").invocations, 0);
    served.server.shutdown().await;
}

#[tokio::test]
async fn signing_outside_the_target_model_layer_fails_verification() {
    let served = Served::start(Emulator::builder().model("m.tar.gz", ModelSpec::new(ms(20)))).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // Wrong order: the signature is made before TargetModelLayer adds
    // X-Amzn-SageMaker-Target-Model, so the header goes out unsigned and the
    // emulator's verification rejects the call.
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(10)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().base_delay(ms(20)),
        ))
        .layer(SigV4Layer::new(credentials(SECRET_KEY), REGION))
        .layer(TargetModelLayer::new(TargetModel::new("m.tar.gz").unwrap()))
        .map_request(signed_headers_probe(seen.clone()))
        .service(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let req = http::Request::post(format!("{}/endpoints/demo/invocations", served.url()))
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(b"1")))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    let signed = seen.lock().unwrap()[0].clone();
    assert!(
        signed.contains("host") && !signed.contains("x-amzn-sagemaker-target-model"),
        "{signed}"
    );
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "{:?}", res.body());
    let code = res.headers()["x-amzn-errortype"].to_str().unwrap();
    assert!(code.starts_with("InvalidSignatureException"), "{code}");
    assert_eq!(served.stats("m.tar.gz").invocations, 0);
    served.server.shutdown().await;
}

/// The emulator answers 413 to a body over 6 MiB, and the client must read
/// it: were the connection reset under its feet while it still writes, the
/// client would see a broken pipe and try again. Client and server on two
/// threads, as in the CLI: the race shows there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_its_413_in_one_attempt_every_time() {
    let served =
        Served::start(Emulator::builder().model("m", ModelSpec::new(Duration::ZERO))).await;
    let svc = stack(Duration::from_secs(30), 4, SECRET_KEY);
    for size in [MAX_PAYLOAD_BYTES + 1, 7 << 20] {
        let body = Bytes::from(vec![b'1'; size]);
        for round in 0..10 {
            let url = format!("{}/endpoints/demo/invocations", served.url());
            let mut req = http::Request::post(url)
                .header("content-type", "text/csv")
                .body(Full::new(body.clone()))
                .unwrap();
            req.extensions_mut().insert(TargetModel::new("m").unwrap());
            let res = svc
                .clone()
                .oneshot(req)
                .await
                .unwrap_or_else(|e| panic!("{size} bytes, round {round}: {e}"));
            let at = format!("{size} bytes, round {round}");
            assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE, "{at}");
            assert_eq!(error_code(&res), "ValidationError", "{at}");
            assert_eq!(attempts(&res), 1, "{at}");
        }
    }
    served.server.shutdown().await;
}
