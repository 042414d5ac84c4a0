//! Tests of `tower_sagemaker::emulator`, in-process on tokio's paused clock and served over HTTP/1.1.
#![cfg(feature = "emulator")]

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;
use tower::ServiceExt;
use tower_sagemaker::emulator::{Emulator, Fault, FaultScope, ModelSpec};
use tower_sagemaker::ErrorCode;

const URI: &str = "http://localhost:8080/endpoints/demo/invocations";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn request(model: Option<&str>, content_type: &str, body: &str) -> Request<Full<Bytes>> {
    let mut b = Request::post(URI).header("content-type", content_type);
    if let Some(m) = model {
        b = b.header("x-amzn-sagemaker-target-model", m);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

fn csv(model: &str, body: &str) -> Request<Full<Bytes>> {
    request(Some(model), "text/csv", body)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn code(&self) -> String {
        ErrorCode::from_headers(&self.headers)
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        assert_eq!(self.headers["content-type"], "application/json");
        serde_json::from_slice(&self.body).unwrap()
    }

    fn message(&self) -> String {
        self.json()["message"].as_str().unwrap().to_owned()
    }
}

async fn call(emu: &Emulator, req: Request<Full<Bytes>>) -> Answer {
    let res = emu.clone().oneshot(req).await.expect("service error");
    let (parts, body) = res.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn emulator() -> Emulator {
    Emulator::builder()
        .model("fast", ModelSpec::new(Duration::ZERO))
        .model("slow", ModelSpec::new(secs(90)))
        .build()
}

#[tokio::test(start_paused = true)]
async fn csv_inference() {
    let emu = emulator();
    let a = call(&emu, csv("fast", "1.0,2.0,5.0\n1,2\n\n-1.5,0.25")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, "8.0\n3.0\n-1.25");
    assert_eq!(a.headers["content-type"], "text/csv");
    assert_eq!(a.headers["x-amzn-invoked-production-variant"], "AllTraffic");
    assert!(!a.headers["x-amzn-requestid"].is_empty());
    let s = emu.stats("fast").unwrap();
    assert_eq!(
        (s.invocations, s.loads, s.evictions, s.not_ready),
        (1, 1, 0, 0)
    );
    assert!(emu.is_loaded("fast"));
    assert!(emu.stats("nope").is_none());
}

#[tokio::test(start_paused = true)]
async fn json_inference_and_accept() {
    let emu = emulator();
    let body = r#"{"instances": [[1, 2, 5], [0.5, 0.25]]}"#;
    let a = call(&emu, request(Some("fast"), "application/json", body)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "application/json");
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v, serde_json::json!({"predictions": [8.0, 0.75]}));

    let mut req = request(Some("fast"), "application/json", body);
    req.headers_mut()
        .insert("accept", "text/csv".parse().unwrap());
    let a = call(&emu, req).await;
    assert_eq!(a.body, "8.0\n0.75");
    assert_eq!(a.headers["content-type"], "text/csv");

    let mut req = csv("fast", "1,2");
    req.headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    let a = call(&emu, req).await;
    assert_eq!(a.body, r#"{"predictions":[3.0]}"#);
}

#[tokio::test(start_paused = true)]
async fn model_errors() {
    let emu = emulator();
    let a = call(&emu, csv("fast", "1.0,abc")).await;
    assert_eq!(a.status, 424);
    assert_eq!(a.code(), "ModelError");
    let v = a.json();
    assert_eq!(v["OriginalStatusCode"], 400);
    assert!(v["OriginalMessage"].as_str().unwrap().contains("abc"));
    assert!(v["LogStreamArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:logs:"));
    let a = call(
        &emu,
        request(
            Some("fast"),
            "application/json",
            r#"{"instances": [["x"]]}"#,
        ),
    )
    .await;
    assert_eq!(a.status, 424);
    assert_eq!(emu.stats("fast").unwrap().invocations, 2);
}

#[tokio::test(start_paused = true)]
async fn request_errors() {
    let emu = emulator();

    let a = call(&emu, {
        let mut r = csv("fast", "1");
        *r.uri_mut() = "/endpoints/other/invocations".parse().unwrap();
        r
    })
    .await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (400, "ValidationError")
    );
    assert_eq!(
        a.message(),
        "Endpoint other of account 123456789012 not found."
    );
    assert!(a.headers["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .starts_with("ValidationError:http://internal.amazon.com/coral/"));

    let mut r = csv("fast", "1");
    *r.uri_mut() = "/endpoints/bad_name/invocations".parse().unwrap();
    let a = call(&emu, r).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (400, "ValidationError")
    );
    assert!(a.message().contains("endpointName"), "{}", a.message());

    let a = call(&emu, request(None, "text/csv", "1")).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (400, "ValidationError")
    );
    assert!(a.message().contains("target model"), "{}", a.message());

    let a = call(&emu, csv(" leading-space-is-stripped-by-http", "1")).await;
    assert_eq!(a.status, 400, "{}", a.message());
    let mut r = csv("fast", "1");
    r.headers_mut().insert(
        "x-amzn-sagemaker-target-model",
        http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
    );
    let a = call(&emu, r).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (400, "ValidationError")
    );
    assert!(a.message().contains("targetModel"));

    let a = call(&emu, csv("missing.tar.gz", "1")).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (400, "ValidationError")
    );
    assert!(
        a.message().contains("Could not find model data"),
        "{}",
        a.message()
    );

    let big = "1,".repeat(tower_sagemaker::sagemaker::MAX_PAYLOAD_BYTES / 2) + "1";
    let a = call(&emu, csv("fast", &big)).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (413, "ValidationError")
    );
    let mut r = csv("fast", "1");
    r.headers_mut()
        .insert("content-length", "7000000".parse().unwrap());
    let a = call(&emu, r).await;
    assert_eq!(a.status, 413);

    let mut r = csv("fast", "1");
    *r.uri_mut() = "/endpoints/demo/other".parse().unwrap();
    let a = call(&emu, r).await;
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (404, "UnknownOperationException")
    );
    a.message();

    let mut r = csv("fast", "1");
    *r.method_mut() = http::Method::GET;
    let a = call(&emu, r).await;
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "POST");
    a.message();

    assert_eq!(emu.stats("fast").unwrap().invocations, 0);
}

#[tokio::test(start_paused = true)]
async fn content_type_and_accept_are_checked_as_the_service_checks_them() {
    let emu = emulator();
    let long = format!("text/csv;x={}", "a".repeat(1020));
    for (header, member) in [("content-type", "contentType"), ("accept", "accept")] {
        let mut r = csv("fast", "1");
        r.headers_mut().insert(header, long.parse().unwrap());
        let a = call(&emu, r).await;
        assert_eq!(
            (a.status.as_u16(), a.code().as_str()),
            (400, "ValidationError"),
            "{header}"
        );
        assert!(a.message().contains(member), "{}", a.message());
        let mut r = csv("fast", "1");
        r.headers_mut().insert(
            header,
            http::HeaderValue::from_bytes(b"text/caf\xe9").unwrap(),
        );
        let a = call(&emu, r).await;
        assert_eq!(a.status, 400, "{header}: {}", a.message());
    }
    // At the limit, and the usual values, pass.
    let mut r = csv("fast", "1");
    r.headers_mut()
        .insert("accept", "a".repeat(1024).parse().unwrap());
    assert_eq!(call(&emu, r).await.status, 200);
    assert_eq!(emu.stats("fast").unwrap().invocations, 1);
}

#[tokio::test(start_paused = true)]
async fn times_beyond_the_clock_mean_never_and_panic_nowhere() {
    let emu = Emulator::builder()
        .model("never", ModelSpec::new(Duration::MAX))
        .hold_timeout(Duration::MAX)
        .max_load_time(Duration::MAX)
        .request_body_timeout(Duration::MAX)
        .build();
    // Held "for ever": still held after a year.
    let call = tokio::spawn(async move { call(&emu, csv("never", "1")).await });
    tokio::time::sleep(Duration::from_secs(365 * 86_400)).await;
    assert!(!call.is_finished());
    call.abort();
}

#[tokio::test(start_paused = true)]
async fn cold_start_holds_then_429_then_loads() {
    let emu = emulator();
    let start = Instant::now();
    let a = call(&emu, csv("slow", "1,2")).await;
    assert_eq!(start.elapsed(), secs(60));
    assert_eq!(
        (a.status.as_u16(), a.code().as_str()),
        (429, "ModelNotReadyException")
    );
    assert_eq!(
        a.message(),
        "Model slow is not ready yet, please retry after some time"
    );
    assert!(!emu.is_loaded("slow"));
    assert_eq!(emu.stats("slow").unwrap().not_ready, 1);

    // The load went on: the retry is held until it completes at t = 90 s.
    let a = call(&emu, csv("slow", "1,2")).await;
    assert_eq!(a.status, 200);
    assert_eq!(start.elapsed(), secs(90));
    assert_eq!(a.body, "3.0");

    // Warm now.
    let t = Instant::now();
    assert_eq!(call(&emu, csv("slow", "1")).await.status, 200);
    assert_eq!(t.elapsed(), Duration::ZERO);
    let s = emu.stats("slow").unwrap();
    assert_eq!((s.invocations, s.loads, s.not_ready), (2, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn configurable_hold() {
    let emu = Emulator::builder()
        .hold_timeout(secs(5))
        .model("m", ModelSpec::new(secs(12)))
        .build();
    let start = Instant::now();
    assert_eq!(call(&emu, csv("m", "1")).await.status, 429);
    assert_eq!(call(&emu, csv("m", "1")).await.status, 429);
    assert_eq!(start.elapsed(), secs(10));
    assert_eq!(call(&emu, csv("m", "1")).await.status, 200);
    assert_eq!(start.elapsed(), secs(12));
}

#[tokio::test(start_paused = true)]
async fn concurrent_calls_share_one_load() {
    let emu = Emulator::builder()
        .model("m", ModelSpec::new(secs(5)))
        .build();
    let start = Instant::now();
    let calls = (0..10).map(|i| {
        let emu = emu.clone();
        async move { call(&emu, csv("m", &format!("{i},1"))).await }
    });
    let answers = futures_util::future::join_all(calls).await;
    for (i, a) in answers.iter().enumerate() {
        assert_eq!(a.status, 200);
        assert_eq!(a.body, format!("{}.0", i + 1));
    }
    assert_eq!(start.elapsed(), secs(5));
    let s = emu.stats("m").unwrap();
    assert_eq!((s.loads, s.invocations), (1, 10));
}

#[tokio::test(start_paused = true)]
async fn lru_eviction() {
    let spec = ModelSpec::new(secs(1)).size(100);
    let emu = Emulator::builder()
        .memory(200)
        .model("a", spec.clone())
        .model("b", spec.clone())
        .model("c", spec)
        .build();
    for m in ["a", "b", "a"] {
        assert_eq!(call(&emu, csv(m, "1")).await.status, 200);
    }
    assert_eq!(emu.memory_used(), 200);
    let t = Instant::now();
    assert_eq!(call(&emu, csv("c", "1")).await.status, 200);
    assert_eq!(t.elapsed(), secs(1));
    assert!(emu.is_loaded("a"));
    assert!(!emu.is_loaded("b"));
    assert!(emu.is_loaded("c"));
    assert_eq!(emu.stats("b").unwrap().evictions, 1);
    assert_eq!(emu.stats("a").unwrap().evictions, 0);

    // b cold-starts again, evicting a (now the least recently used).
    let t = Instant::now();
    assert_eq!(call(&emu, csv("b", "1")).await.status, 200);
    assert_eq!(t.elapsed(), secs(1));
    assert_eq!(emu.stats("b").unwrap().loads, 2);
    assert!(!emu.is_loaded("a"));
    assert_eq!(emu.stats("a").unwrap().evictions, 1);
}

/// A model that has just loaded for a caller that got 429 (and will retry)
/// is the most recently used, not the least: a model used long before is
/// evicted first.
#[tokio::test(start_paused = true)]
async fn a_model_just_loaded_counts_as_just_used() {
    let emu = Emulator::builder()
        .memory(200)
        .model("x", ModelSpec::new(secs(0)).size(100))
        .model("a", ModelSpec::new(secs(70)).size(100))
        .model("b", ModelSpec::new(secs(0)).size(100))
        .build();
    assert_eq!(call(&emu, csv("x", "1")).await.status, 200);
    // Held 60 s, then 429; the load ends at 70 s.
    assert_eq!(call(&emu, csv("a", "1")).await.status, 429);
    tokio::time::sleep(secs(11)).await;
    assert!(emu.is_loaded("a"));
    assert_eq!(call(&emu, csv("b", "1")).await.status, 200);
    assert!(emu.is_loaded("a"), "the retry's model stays");
    assert!(!emu.is_loaded("x"));
    assert_eq!(emu.stats("x").unwrap().evictions, 1);
    assert_eq!(emu.stats("a").unwrap().evictions, 0);
}

/// Calls held for a model's load keep it from being evicted once it has
/// loaded, also when another model's call comes in at that instant, before
/// they run again.
#[tokio::test(start_paused = true)]
async fn a_model_loaded_for_held_calls_is_not_evicted_before_they_get_it() {
    let emu = Emulator::builder()
        .memory(100)
        .model("a", ModelSpec::new(secs(5)).size(100))
        .model("b", ModelSpec::new(secs(0)).size(100))
        .build();
    let held = {
        let emu = emu.clone();
        tokio::spawn(async move { call(&emu, csv("a", "1")).await })
    };
    tokio::task::yield_now().await;
    // The load ends at 5 s; this call comes then, before the held one runs.
    tokio::time::sleep(secs(5)).await;
    let other = call(&emu, csv("b", "1")).await;
    let held = held.await.unwrap();
    assert_eq!(held.status, 200, "{}", String::from_utf8_lossy(&held.body));
    assert_eq!(emu.stats("a").unwrap().loads, 1);
    assert_eq!(emu.stats("a").unwrap().evictions, 0);
    // No room for b while calls wait for a: b's call is refused for lack
    // of memory, as when a model is in use.
    assert_eq!(
        other.status,
        424,
        "{}",
        String::from_utf8_lossy(&other.body)
    );
    assert!(String::from_utf8_lossy(&other.body).contains("Insufficient memory"));
}

#[tokio::test(start_paused = true)]
async fn busy_models_are_not_evicted() {
    let emu = Emulator::builder()
        .memory(100)
        .model(
            "a",
            ModelSpec::new(Duration::ZERO).size(100).latency(secs(10)),
        )
        .model("b", ModelSpec::new(Duration::ZERO).size(100))
        .model("huge", ModelSpec::new(Duration::ZERO).size(1000))
        .build();
    let start = Instant::now();
    let busy = {
        let emu = emu.clone();
        tokio::spawn(async move { call(&emu, csv("a", "1")).await.status })
    };
    tokio::time::sleep(secs(1)).await;
    // "a" is busy: "b" cannot be loaded.
    let a = call(&emu, csv("b", "1")).await;
    assert_eq!((a.status.as_u16(), a.code().as_str()), (424, "ModelError"));
    assert_eq!(a.json()["OriginalStatusCode"], 507);
    assert_eq!(emu.stats("b").unwrap().loads, 0);
    assert_eq!(busy.await.unwrap(), 200);
    assert_eq!(start.elapsed(), secs(10));
    // Idle now: "a" is evicted for "b".
    assert_eq!(call(&emu, csv("b", "1")).await.status, 200);
    assert!(!emu.is_loaded("a"));
    assert_eq!(emu.stats("a").unwrap().evictions, 1);

    // Larger than the whole memory.
    let a = call(&emu, csv("huge", "1")).await;
    assert_eq!(a.status, 424);
    assert_eq!(a.json()["OriginalStatusCode"], 507);
    assert_eq!(emu.stats("huge").unwrap().loads, 0);
}

#[tokio::test(start_paused = true)]
async fn load_past_max_load_time_fails_then_restarts() {
    let emu = Emulator::builder()
        .max_load_time(secs(360))
        .model("m", ModelSpec::new(secs(400)))
        .build();
    let start = Instant::now();
    for _ in 0..5 {
        assert_eq!(call(&emu, csv("m", "1")).await.status, 429);
    }
    assert_eq!(start.elapsed(), secs(300));
    // The load fails at 360 s: the call held then gets the error...
    let a = call(&emu, csv("m", "1")).await;
    assert_eq!((a.status.as_u16(), a.code().as_str()), (424, "ModelError"));
    assert!(a.json()["OriginalMessage"]
        .as_str()
        .unwrap()
        .contains("maximum load time"));
    assert_eq!(start.elapsed(), secs(360));
    // ...and the one after starts a fresh load.
    assert_eq!(call(&emu, csv("m", "1")).await.status, 429);
    assert_eq!(start.elapsed(), secs(420));
    let s = emu.stats("m").unwrap();
    assert_eq!((s.loads, s.not_ready, s.invocations), (2, 6, 0));

    // With no call held when it fails, the next call gets the error.
    tokio::time::sleep(secs(600)).await;
    assert_eq!(call(&emu, csv("m", "1")).await.status, 424);
    assert_eq!(call(&emu, csv("m", "1")).await.status, 429);
    assert_eq!(emu.stats("m").unwrap().loads, 3);
}

#[tokio::test(start_paused = true)]
async fn model_errors_name_the_emulator_region() {
    let emu = Emulator::builder()
        .region("eu-west-1")
        .model("m", ModelSpec::new(secs(0)))
        .build();
    let a = call(&emu, csv("m", "not a number")).await;
    assert_eq!(a.status, 424);
    let v = a.json();
    let arn = v["LogStreamArn"].as_str().unwrap();
    assert!(
        arn.starts_with("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/demo:log-stream:AllTraffic/m"),
        "{arn}"
    );
    let message = v["message"].as_str().unwrap();
    assert!(
        message
            .contains("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#"),
        "{message}"
    );
    assert!(!message.contains("us-east-1"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn failing_load() {
    let emu = Emulator::builder()
        .model("m", ModelSpec::new(secs(5)).fail_load(true))
        .build();
    let start = Instant::now();
    let (a, b) = tokio::join!(call(&emu, csv("m", "1")), call(&emu, csv("m", "1")));
    assert_eq!(start.elapsed(), secs(5));
    assert_eq!(
        (a.status, b.status),
        (StatusCode::FAILED_DEPENDENCY, StatusCode::FAILED_DEPENDENCY)
    );
    assert_eq!(emu.stats("m").unwrap().loads, 1);
    // A later call loads again (and fails again).
    assert_eq!(call(&emu, csv("m", "1")).await.status, 424);
    assert_eq!(emu.stats("m").unwrap().loads, 2);
}

#[tokio::test(start_paused = true)]
async fn status_faults_then_normal() {
    let emu = emulator();
    emu.inject(
        Fault::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable".into(),
            message: "try later".into(),
        },
        FaultScope::Any,
        2,
    );
    for _ in 0..2 {
        let a = call(&emu, csv("fast", "1")).await;
        assert_eq!(
            (a.status.as_u16(), a.code().as_str()),
            (503, "ServiceUnavailable")
        );
        assert_eq!(a.message(), "try later");
    }
    assert_eq!(call(&emu, csv("fast", "1")).await.status, 200);

    emu.inject(
        Fault::Status {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "ModelNotReadyException".into(),
            message: "x".into(),
        },
        FaultScope::Model("slow".into()),
        1,
    );
    assert_eq!(call(&emu, csv("fast", "1")).await.status, 200);
    let t = Instant::now();
    assert_eq!(call(&emu, csv("slow", "1")).await.status, 429);
    assert_eq!(t.elapsed(), Duration::ZERO);
    assert_eq!(emu.stats("slow").unwrap().loads, 0);
}

#[tokio::test(start_paused = true)]
async fn drop_and_stall_faults() {
    let emu = emulator();
    emu.inject(Fault::DropConnection, FaultScope::Any, 1);
    let err = emu.clone().oneshot(csv("fast", "1")).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);

    emu.inject(Fault::Stall, FaultScope::Any, 1);
    let stalled = tokio::time::timeout(secs(3600), emu.clone().oneshot(csv("fast", "1"))).await;
    assert!(stalled.is_err());
    assert_eq!(call(&emu, csv("fast", "1")).await.status, 200);
}

// ---- SigV4 ----

const AK: &str = "AKIDEXAMPLE";
const SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn signed(
    req: Request<Full<Bytes>>,
    body: &[u8],
    secret: &str,
    time: SystemTime,
) -> Request<Full<Bytes>> {
    signed_with(req, body, secret, time, SigningSettings::default())
}

fn signed_with(
    mut req: Request<Full<Bytes>>,
    body: &[u8],
    secret: &str,
    time: SystemTime,
    settings: SigningSettings,
) -> Request<Full<Bytes>> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let identity = Credentials::new(AK, secret, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sagemaker")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn secured() -> Emulator {
    Emulator::builder()
        .credentials(AK, SK)
        .model("fast", ModelSpec::new(Duration::ZERO))
        .build()
}

#[tokio::test(start_paused = true)]
async fn sigv4_accepts_signed_requests() {
    let emu = secured();
    let req = signed(csv("fast", "1,2"), b"1,2", SK, SystemTime::now());
    let a = call(&emu, req).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body, "3.0");

    // An unsigned header added after signing does not matter.
    let mut req = signed(csv("fast", "1,2"), b"1,2", SK, SystemTime::now());
    req.headers_mut()
        .insert("x-extra", "whatever".parse().unwrap());
    req.headers_mut()
        .insert("user-agent", "test/1.0".parse().unwrap());
    assert_eq!(call(&emu, req).await.status, 200);

    // Origin-form URI with a Host header, as a server sees it.
    let mut req = request(Some("fast"), "text/csv", "1");
    req.headers_mut()
        .insert("host", "localhost:8080".parse().unwrap());
    let mut req = signed(req, b"1", SK, SystemTime::now());
    *req.uri_mut() = "/endpoints/demo/invocations".parse().unwrap();
    assert_eq!(call(&emu, req).await.status, 200);
}

#[tokio::test(start_paused = true)]
async fn sigv4_rejections() {
    let emu = secured();
    let expect = |a: Answer, status: u16, code: &str| {
        assert_eq!(
            (a.status.as_u16(), a.code().as_str()),
            (status, code),
            "{:?}",
            a.body
        );
        a.message()
    };

    let mut with_hash = SigningSettings::default();
    with_hash.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    let req = signed_with(
        csv("fast", "1,2"),
        b"1,2",
        SK,
        SystemTime::now(),
        with_hash.clone(),
    );
    assert!(req.headers().contains_key("x-amz-content-sha256"));
    assert_eq!(call(&emu, req).await.status, 200);
    let req = signed_with(csv("fast", "9"), b"1,2", SK, SystemTime::now(), with_hash);
    let m = expect(call(&emu, req).await, 403, "InvalidSignatureException");
    assert!(m.contains("x-amz-content-sha256"), "{m}");

    let m = expect(
        call(&emu, csv("fast", "1")).await,
        403,
        "MissingAuthenticationTokenException",
    );
    assert_eq!(m, "Missing Authentication Token");

    let req = signed(csv("fast", "1"), b"1", "wrong-secret", SystemTime::now());
    let m = expect(call(&emu, req).await, 403, "InvalidSignatureException");
    assert!(m.starts_with("The request signature we calculated does not match"));

    let mut req = signed(csv("fast", "1"), b"1", SK, SystemTime::now());
    req.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    expect(call(&emu, req).await, 403, "InvalidSignatureException");

    let mut req = signed(csv("fast", "1"), b"1", SK, SystemTime::now());
    req.headers_mut()
        .insert("x-amzn-sagemaker-target-model", "other".parse().unwrap());
    expect(call(&emu, req).await, 403, "InvalidSignatureException");

    // The body is signed too.
    let req = signed(csv("fast", "2"), b"1", SK, SystemTime::now());
    expect(call(&emu, req).await, 403, "InvalidSignatureException");

    // A request must arrive within five minutes of its time stamp, either way.
    let stale = SystemTime::now() - Duration::from_secs(6 * 60);
    let req = signed(csv("fast", "1"), b"1", SK, stale);
    let m = expect(call(&emu, req).await, 403, "InvalidSignatureException");
    assert!(m.starts_with("Signature expired: "), "{m}");
    assert!(m.ends_with(" - 5 min.)"), "{m}");
    let ahead = SystemTime::now() + Duration::from_secs(6 * 60);
    let req = signed(csv("fast", "1"), b"1", SK, ahead);
    let m = expect(call(&emu, req).await, 403, "InvalidSignatureException");
    assert!(m.starts_with("Signature not yet current: "), "{m}");
    for within in [
        SystemTime::now() - Duration::from_secs(4 * 60),
        SystemTime::now() + Duration::from_secs(4 * 60),
    ] {
        let req = signed(csv("fast", "1"), b"1", SK, within);
        assert_eq!(call(&emu, req).await.status, 200);
    }

    let mut req = signed(csv("fast", "1"), b"1", SK, SystemTime::now());
    let auth = req.headers()["authorization"]
        .to_str()
        .unwrap()
        .replace(AK, "AKIDOTHER");
    req.headers_mut()
        .insert("authorization", auth.parse().unwrap());
    expect(call(&emu, req).await, 403, "UnrecognizedClientException");

    let mut req = signed(csv("fast", "1"), b"1", SK, SystemTime::now());
    req.headers_mut().insert(
        "authorization",
        "AWS4-HMAC-SHA256 Signature=00".parse().unwrap(),
    );
    expect(call(&emu, req).await, 400, "IncompleteSignatureException");

    // A target without a path (authority-form): refused, not a panic in
    // the signer.
    let mut req = signed(csv("fast", "1"), b"1", SK, SystemTime::now());
    *req.method_mut() = http::Method::CONNECT;
    *req.uri_mut() = "example.com:443".parse().unwrap();
    expect(call(&emu, req).await, 403, "InvalidSignatureException");
    // The first call, and the two within five minutes of their time stamps.
    assert_eq!(emu.stats("fast").unwrap().invocations, 3);
}

// ---- Served over HTTP/1.1 (real clock: network I/O) ----

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn served_roundtrip_faults_and_shutdown() {
    let emu = Emulator::builder()
        .credentials(AK, SK)
        .model("fast", ModelSpec::new(Duration::ZERO))
        .build();
    let server = emu.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.endpoint_url();
    assert_eq!(
        url,
        format!("http://127.0.0.1:{}", server.local_addr().port())
    );
    let client = client();

    let invoke = |body: &'static str| {
        let req = Request::post(format!("{url}/endpoints/demo/invocations"))
            .header("content-type", "text/csv")
            .header("x-amzn-sagemaker-target-model", "fast")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        signed(req, body.as_bytes(), SK, SystemTime::now())
    };

    let res = client.request(invoke("1.0,2.0,5.0")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["x-amzn-invoked-production-variant"],
        "AllTraffic"
    );
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");

    let res = client.request(invoke_unsigned(&url)).await.unwrap();
    assert_eq!(res.status(), 403);

    emu.inject(Fault::DropConnection, FaultScope::Any, 1);
    let err = client.request(invoke("1")).await.unwrap_err();
    assert!(
        err.is_connect() || std::error::Error::source(&err).is_some(),
        "{err:?}"
    );
    let res = client.request(invoke("1")).await.unwrap();
    assert_eq!(res.status(), 200);

    tokio::time::timeout(secs(15), server.shutdown())
        .await
        .expect("shutdown hangs");
    let after = Request::post(format!("{url}/endpoints/demo/invocations"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert!(client.request(after).await.is_err());
}

fn invoke_unsigned(url: &str) -> Request<Full<Bytes>> {
    Request::post(format!("{url}/endpoints/demo/invocations"))
        .header("x-amzn-sagemaker-target-model", "fast")
        .body(Full::new(Bytes::from("1")))
        .unwrap()
}

#[tokio::test]
async fn served_shutdown_is_bounded_with_a_stalled_call() {
    let emu = Emulator::builder()
        .shutdown_timeout(Duration::from_millis(200))
        .model("fast", ModelSpec::new(Duration::ZERO))
        .build();
    let server = emu.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = server.endpoint_url();
    emu.inject(Fault::Stall, FaultScope::Any, 1);
    let client = client();
    let pending = tokio::spawn(async move { client.request(invoke_unsigned(&url)).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = std::time::Instant::now();
    tokio::time::timeout(secs(5), server.shutdown())
        .await
        .expect("shutdown hangs");
    assert!(t.elapsed() < secs(2));
    assert!(pending.await.unwrap().is_err());
}

#[tokio::test]
async fn served_aws_sdk_for_rust_requests_verify() {
    use aws_sdk_sagemakerruntime::config::{BehaviorVersion, Region};
    use aws_sdk_sagemakerruntime::error::ProvideErrorMetadata;
    use aws_sdk_sagemakerruntime::primitives::Blob;

    let emu = Emulator::builder()
        .credentials(AK, SK)
        .model("model-1.tar.gz", ModelSpec::new(Duration::ZERO))
        .build();
    let server = emu.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let client_with = |secret: &str| {
        let config = aws_sdk_sagemakerruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(server.endpoint_url())
            .credentials_provider(Credentials::new(AK, secret, None, None, "test"))
            .build();
        aws_sdk_sagemakerruntime::Client::from_conf(config)
    };
    let client = client_with(SK);
    let out = client
        .invoke_endpoint()
        .endpoint_name("demo")
        .target_model("model-1.tar.gz")
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .send()
        .await
        .expect("signed by the AWS SDK for Rust");
    assert_eq!(out.body().unwrap().as_ref(), b"8.0");
    assert_eq!(out.content_type(), Some("text/csv"));
    assert_eq!(out.invoked_production_variant(), Some("AllTraffic"));

    let err = client
        .invoke_endpoint()
        .endpoint_name("demo")
        .target_model("model-1.tar.gz")
        .content_type("text/csv")
        .body(Blob::new("x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_model_error(), "{err:?}");

    let err = client_with("wrong")
        .invoke_endpoint()
        .endpoint_name("demo")
        .target_model("model-1.tar.gz")
        .body(Blob::new("1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    server.shutdown().await;
}
