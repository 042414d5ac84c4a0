//! The real `aws-sdk-sagemakerruntime` client against the emulator served on
//! 127.0.0.1, with and without `tower_sagemaker::sdk`. Real clocks: load times
//! of about 1 s, holds of 200-300 ms and a 50 ms backoff base keep each test to
//! a few seconds.
#![cfg(all(feature = "aws-sdk-sagemakerruntime", feature = "emulator"))]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sagemakerruntime::config::interceptors::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_sagemakerruntime::config::{
    BehaviorVersion, Builder, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_sagemakerruntime::error::{BoxError, SdkError};
use aws_sdk_sagemakerruntime::operation::invoke_endpoint::{
    InvokeEndpointError, InvokeEndpointOutput,
};
use aws_sdk_sagemakerruntime::primitives::Blob;
use aws_sdk_sagemakerruntime::Client;
use http::StatusCode;
use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
use tower_sagemaker::emulator::{Emulator, Fault, FaultScope, ModelSpec, Server};
use tower_sagemaker::retry::{ColdStarts, Decision, LegacyRetries, RetryEvent};
use tower_sagemaker::target_model::TargetModel;

const MODEL: &str = "m.tar.gz";
const AKID: &str = "AKID";
const SECRET: &str = "SECRET";
const HOLD: Duration = Duration::from_millis(300);
const LOAD: Duration = Duration::from_millis(1000);

fn retries(max_retries: u32) -> LegacyRetries {
    LegacyRetries::new()
        .max_retries(max_retries)
        .base_delay(Duration::from_millis(50))
}

fn model() -> TargetModel {
    TargetModel::new(MODEL).unwrap()
}

/// When an attempt was sent and when it ended.
type Span = (Instant, Option<Instant>);

/// Start and end of each attempt the client makes (transmit to attempt end).
#[derive(Debug, Clone, Default)]
struct Attempts(Arc<Mutex<Vec<Span>>>);

impl Attempts {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The sleeps between the end of an attempt and the start of the next.
    fn gaps(&self) -> Vec<Duration> {
        let a = self.0.lock().unwrap();
        a.windows(2)
            .map(|w| {
                w[1].0
                    .saturating_duration_since(w[0].1.expect("attempt ended"))
            })
            .collect()
    }
}

impl Intercept for Attempts {
    fn name(&self) -> &'static str {
        "test::Attempts"
    }

    fn read_before_transmit(
        &self,
        _ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap().push((Instant::now(), None));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            last.1.get_or_insert_with(Instant::now);
        }
        Ok(())
    }
}

fn emulator(spec: ModelSpec, hold: Duration) -> Emulator {
    Emulator::builder()
        .endpoint("demo")
        .model(MODEL, spec)
        .model("other.tar.gz", ModelSpec::new(Duration::from_millis(100)))
        .hold_timeout(hold)
        .credentials(AKID, SECRET)
        .region("us-east-1")
        .build()
}

async fn serve(emulator: &Emulator) -> Server {
    emulator
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .expect("serve the emulator")
}

/// A plain SDK config for the emulator: what an application has without this crate.
fn plain_config(server: &Server, attempts: &Attempts) -> Builder {
    aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(server.endpoint_url())
        .credentials_provider(Credentials::new(AKID, SECRET, None, None, "test"))
        .interceptor(attempts.clone())
}

/// A client of `server` with the crate's `settings`, attempts not counted.
fn crate_client(server: &Server, settings: MultiModelEndpoint) -> Client {
    let config = plain_config(server, &Attempts::default());
    Client::from_conf(config.multi_model_endpoint_with(settings).build())
}

/// A client of the endpoint at `url` with the crate's `settings`.
fn client_at(url: &str, settings: MultiModelEndpoint) -> Client {
    let config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(Credentials::new(AKID, SECRET, None, None, "test"))
        .multi_model_endpoint_with(settings)
        .build();
    Client::from_conf(config)
}

fn with_crate(server: &Server, attempts: &Attempts, max_retries: u32) -> Client {
    let config = plain_config(server, attempts)
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .retries(retries(max_retries))
                .target_model(model()),
        )
        .build();
    Client::from_conf(config)
}

async fn invoke(client: &Client) -> Result<InvokeEndpointOutput, SdkError<InvokeEndpointError>> {
    client
        .invoke_endpoint()
        .endpoint_name("demo")
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .send()
        .await
}

fn service_error(err: &SdkError<InvokeEndpointError>) -> &InvokeEndpointError {
    err.as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {err:?}"))
}

/// (1) The gap: the SDK alone (retries on, BehaviorVersion::latest) fails at once
/// on a cold model with ModelNotReadyException, after one attempt.
#[tokio::test]
async fn without_this_crate_a_cold_model_fails_at_once() {
    let emu = emulator(ModelSpec::new(LOAD), HOLD);
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = Client::from_conf(plain_config(&server, &attempts).build());

    let start = Instant::now();
    let err = client
        .invoke_endpoint()
        .endpoint_name("demo")
        .target_model(MODEL)
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .send()
        .await
        .expect_err("the SDK does not retry ModelNotReadyException");
    assert!(
        service_error(&err).is_model_not_ready_exception(),
        "{err:?}"
    );
    assert_eq!(attempts.count(), 1);
    assert!(
        start.elapsed() < LOAD,
        "failed after the hold, not the load"
    );
    let stats = emu.stats(MODEL).unwrap();
    assert_eq!((stats.not_ready, stats.invocations, stats.loads), (1, 0, 1));
    server.shutdown().await;
}

/// (2) With the crate the same call rides through the cold start: every attempt
/// but the last got 429, one load, one invocation, and the sleeps between
/// attempts stay below the legacy ceilings (50 ms, 100 ms, 200 ms, ...).
#[tokio::test]
async fn with_this_crate_the_call_rides_through_a_cold_start() {
    let emu = emulator(ModelSpec::new(LOAD), HOLD);
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = with_crate(&server, &attempts, 8);

    let start = Instant::now();
    let out = invoke(&client).await.expect("rides through the cold start");
    let elapsed = start.elapsed();
    assert_eq!(out.body().unwrap().as_ref(), b"8.0");
    assert!(elapsed >= LOAD, "{elapsed:?}");

    let stats = emu.stats(MODEL).unwrap();
    let n = attempts.count();
    assert!(n >= 2, "{n} attempts");
    assert_eq!(stats.not_ready as usize, n - 1, "{stats:?}");
    assert_eq!((stats.invocations, stats.loads), (1, 1));
    let slack = Duration::from_millis(40);
    for (i, gap) in attempts.gaps().into_iter().enumerate() {
        let ceiling = retries(0).get_backoff().ceiling(i as u32 + 1);
        assert!(
            gap < ceiling + slack,
            "sleep {} was {gap:?}, ceiling {ceiling:?}",
            i + 1
        );
    }
    server.shutdown().await;
}

/// (2) The same through a per-call config override on a plain client.
#[tokio::test]
async fn a_config_override_rides_through_a_cold_start_for_one_call() {
    let emu = emulator(ModelSpec::new(LOAD), HOLD);
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = Client::from_conf(plain_config(&server, &attempts).build());

    let out = client
        .invoke_endpoint()
        .endpoint_name("demo")
        .content_type("text/csv")
        .body(Blob::new("1.0,2.0,5.0"))
        .customize()
        .config_override(
            MultiModelEndpoint::new()
                .retries(retries(8))
                .target_model(model())
                .config_override(),
        )
        .send()
        .await
        .expect("rides through the cold start");
    assert_eq!(out.body().unwrap().as_ref(), b"8.0");
    let stats = emu.stats(MODEL).unwrap();
    assert_eq!(stats.not_ready as usize, attempts.count() - 1);
    assert_eq!(stats.invocations, 1);
    server.shutdown().await;
}

/// (2) `max_retries(0)`: one attempt, the SDK's typed error.
#[tokio::test]
async fn zero_retries_surface_model_not_ready() {
    let emu = emulator(ModelSpec::new(LOAD), Duration::from_millis(200));
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = with_crate(&server, &attempts, 0);

    let err = invoke(&client).await.expect_err("no retry");
    assert!(matches!(
        service_error(&err),
        InvokeEndpointError::ModelNotReadyException(_)
    ));
    assert_eq!(attempts.count(), 1);
    assert_eq!(emu.stats(MODEL).unwrap().not_ready, 1);
    server.shutdown().await;
}

/// (2) Exhaustion: `max_retries` retries, then the SDK's typed error.
#[tokio::test]
async fn exhausted_retries_surface_model_not_ready() {
    let emu = emulator(
        ModelSpec::new(Duration::from_secs(30)),
        Duration::from_millis(200),
    );
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = with_crate(&server, &attempts, 3);

    let start = Instant::now();
    let err = invoke(&client)
        .await
        .expect_err("the model is not ready in time");
    assert!(matches!(
        service_error(&err),
        InvokeEndpointError::ModelNotReadyException(_)
    ));
    assert_eq!(attempts.count(), 4);
    let stats = emu.stats(MODEL).unwrap();
    assert_eq!((stats.not_ready, stats.invocations, stats.loads), (4, 0, 1));
    // 4 holds of 200 ms and sleeps below 50 + 100 + 200 ms.
    assert!(
        start.elapsed() < Duration::from_millis(800 + 350 + 400),
        "{:?}",
        start.elapsed()
    );
    server.shutdown().await;
}

/// (2) 424 ModelError and 400 ValidationError are not retried; 503 is.
#[tokio::test]
async fn model_error_and_validation_error_are_not_retried() {
    let emu = emulator(ModelSpec::new(Duration::from_millis(100)), HOLD);
    let server = serve(&emu).await;

    for (status, code) in [(424, "ModelError"), (400, "ValidationError")] {
        let attempts = Attempts::default();
        let client = with_crate(&server, &attempts, 4);
        emu.inject(
            Fault::Status {
                status: StatusCode::from_u16(status).unwrap(),
                code: code.into(),
                message: "injected".into(),
            },
            FaultScope::Any,
            1,
        );
        let err = invoke(&client).await.expect_err(code);
        let e = service_error(&err);
        match code {
            "ModelError" => assert!(e.is_model_error(), "{e:?}"),
            _ => assert!(e.is_validation_error(), "{e:?}"),
        }
        assert_eq!(attempts.count(), 1, "{code} was retried");
    }

    // 503 twice, then success: retried with legacy sleeps.
    let attempts = Attempts::default();
    let client = with_crate(&server, &attempts, 4);
    emu.inject(
        Fault::Status {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "ServiceUnavailable".into(),
            message: "injected".into(),
        },
        FaultScope::Any,
        2,
    );
    invoke(&client).await.expect("503 is retried");
    assert_eq!(attempts.count(), 3);
    let gaps = attempts.gaps();
    let slack = Duration::from_millis(40);
    assert!(
        gaps[0] < retries(0).get_backoff().ceiling(1) + slack,
        "{gaps:?}"
    );
    assert!(
        gaps[1] < retries(0).get_backoff().ceiling(2) + slack,
        "{gaps:?}"
    );
    server.shutdown().await;
}

/// (3) The emulator verifies SigV4 with the same credentials: the SDK's
/// requests pass, with the interceptor's header (it is signed); wrong
/// credentials do not. The operation's own target model wins over the
/// interceptor's, and a per-call override's interceptor over the client's.
#[tokio::test]
async fn sigv4_accepts_the_sdk_requests_and_the_interceptor_header() {
    let emu = emulator(ModelSpec::new(Duration::from_millis(100)), HOLD);
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let client = with_crate(&server, &attempts, 4);

    // The interceptor's model.
    invoke(&client).await.expect("signed with the header");
    assert_eq!(emu.stats(MODEL).unwrap().invocations, 1);

    // The operation's own target model wins.
    client
        .invoke_endpoint()
        .endpoint_name("demo")
        .target_model("other.tar.gz")
        .body(Blob::new("1.0"))
        .send()
        .await
        .expect("operation target model");
    assert_eq!(emu.stats("other.tar.gz").unwrap().invocations, 1);
    assert_eq!(emu.stats(MODEL).unwrap().invocations, 1);

    // A per-call override's interceptor wins over the client's.
    client
        .invoke_endpoint()
        .endpoint_name("demo")
        .body(Blob::new("1.0"))
        .customize()
        .config_override(
            MultiModelEndpoint::new()
                .target_model(TargetModel::new("other.tar.gz").unwrap())
                .config_override(),
        )
        .send()
        .await
        .expect("override target model");
    assert_eq!(emu.stats("other.tar.gz").unwrap().invocations, 2);
    assert_eq!(emu.stats(MODEL).unwrap().invocations, 1);

    // Wrong secret: rejected (403), not retried.
    let bad = Client::from_conf(
        plain_config(&server, &Attempts::default())
            .credentials_provider(Credentials::new(AKID, "WRONG", None, None, "test"))
            .multi_model_endpoint(model())
            .build(),
    );
    let err = invoke(&bad).await.expect_err("bad signature");
    let raw = err.raw_response().expect("a response");
    assert_eq!(raw.status().as_u16(), 403, "{err:?}");
    server.shutdown().await;
}

/// (4) The operation timeout ends a call to a model that never becomes ready,
/// at the configured budget.
#[tokio::test]
async fn operation_timeout_ends_a_call_to_a_model_that_never_loads() {
    let emu = emulator(
        ModelSpec::new(Duration::from_secs(3600)),
        Duration::from_millis(200),
    );
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let budget = Duration::from_secs(2);
    let config = plain_config(&server, &attempts)
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .retries(retries(100))
                .target_model(model())
                .timeouts(budget, Duration::from_secs(1)),
        )
        .build();
    let client = Client::from_conf(config);

    let start = Instant::now();
    let err = invoke(&client).await.expect_err("never ready");
    let elapsed = start.elapsed();
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    assert!(elapsed >= budget, "{elapsed:?}");
    assert!(elapsed < budget + Duration::from_millis(500), "{elapsed:?}");
    assert!(attempts.count() >= 3, "{} attempts", attempts.count());
    server.shutdown().await;
}

/// (2) Transport failures are retried too: a dropped connection (I/O error)
/// and an attempt that never answers (attempt timeout).
#[tokio::test]
async fn dropped_connections_and_attempt_timeouts_are_retried() {
    let emu = emulator(ModelSpec::new(Duration::from_millis(100)), HOLD);
    let server = serve(&emu).await;
    let attempts = Attempts::default();
    let config = plain_config(&server, &attempts)
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .retries(retries(4))
                .target_model(model())
                .timeouts(Duration::from_secs(10), Duration::from_millis(500)),
        )
        .build();
    let client = Client::from_conf(config);

    emu.inject(Fault::DropConnection, FaultScope::Any, 1);
    emu.inject(Fault::Stall, FaultScope::Any, 1);
    let start = Instant::now();
    let out = invoke(&client).await.expect("retried");
    assert_eq!(out.body().unwrap().as_ref(), b"8.0");
    assert_eq!(attempts.count(), 3);
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(emu.stats(MODEL).unwrap().invocations, 1);
    server.shutdown().await;
}

/// The events of `LegacyRetries::on_event`, as lines.
#[derive(Debug, Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl Events {
    fn retries(&self, max_retries: u32) -> LegacyRetries {
        let into = self.clone();
        retries(max_retries).on_event(move |event| {
            let line = match event {
                RetryEvent::Attempt { attempt, remaining } => {
                    assert!(remaining.is_some(), "operation timeout set");
                    format!("attempt {attempt}")
                }
                RetryEvent::Outcome(o) => {
                    assert_eq!(o.target_model, Some(MODEL));
                    let decision = match o.decision {
                        Decision::Retry { .. } => "retry",
                        Decision::Return => "return",
                        Decision::RetriesExhausted => "exhausted",
                        Decision::WaitForModel => "wait",
                        Decision::DeadlineExceeded => "deadline",
                        _ => "other",
                    };
                    let final_ = if o.decision.is_final() { " final" } else { "" };
                    let waited = match (o.decision, o.since_first_429) {
                        (Decision::Return, Some(_)) => " after 429",
                        _ => "",
                    };
                    format!(
                        "{} {} {:?} {decision}{final_}{waited}",
                        o.attempt,
                        o.status.map_or(0, |s| s.as_u16()),
                        o.error_code.as_ref().map(|c| c.as_str().to_owned()),
                    )
                }
                _ => "other".into(),
            };
            into.0.lock().unwrap().push(line);
        })
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// (events) An SDK call that rides through a cold start reports each
/// attempt and its outcome, the SDK's decisions, and one final outcome, last.
#[tokio::test]
async fn events_of_a_cold_start_ridden_through() {
    let emu = emulator(ModelSpec::new(LOAD), HOLD);
    let server = serve(&emu).await;
    let events = Events::default();
    let client = crate_client(
        &server,
        MultiModelEndpoint::new()
            .retries(events.retries(8))
            .target_model(model()),
    );
    invoke(&client).await.expect("rides through the cold start");

    let lines = events.lines();
    let n = emu.stats(MODEL).unwrap().not_ready as usize + 1;
    assert_eq!(lines.len(), 2 * n, "{lines:#?}");
    for k in 1..n {
        assert_eq!(lines[2 * k - 2], format!("attempt {k}"), "{lines:#?}");
        assert_eq!(
            lines[2 * k - 1],
            format!("{k} 429 Some(\"ModelNotReadyException\") retry"),
            "{lines:#?}"
        );
    }
    assert_eq!(lines[2 * n - 2], format!("attempt {n}"));
    assert_eq!(
        lines[2 * n - 1],
        format!("{n} 200 None return final after 429")
    );
    assert_eq!(lines.iter().filter(|l| l.contains("final")).count(), 1);
    server.shutdown().await;
}

/// (events) Retries exhausted: the last 429 is the final outcome; the
/// operation timeout: one final `DeadlineExceeded`.
#[tokio::test]
async fn events_of_exhausted_retries_and_of_the_operation_timeout() {
    let emu = emulator(
        ModelSpec::new(Duration::from_secs(3600)),
        Duration::from_millis(200),
    );
    let server = serve(&emu).await;
    let events = Events::default();
    let client = crate_client(
        &server,
        MultiModelEndpoint::new()
            .retries(events.retries(2))
            .target_model(model()),
    );
    invoke(&client).await.expect_err("never ready");
    let lines = events.lines();
    assert_eq!(
        lines.last().unwrap(),
        "3 429 Some(\"ModelNotReadyException\") exhausted final",
        "{lines:#?}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("final")).count(), 1);

    let events = Events::default();
    let client = crate_client(
        &server,
        MultiModelEndpoint::new()
            .retries(events.retries(100))
            .target_model(model())
            .timeouts(Duration::from_millis(700), Duration::from_secs(1)),
    );
    let err = invoke(&client).await.expect_err("never ready");
    assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
    let lines = events.lines();
    assert!(
        lines.last().unwrap().ends_with("deadline final"),
        "{lines:#?}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains("final")).count(), 1);
    server.shutdown().await;
}

/// With coalescing, the SDK's stalled-stream protection is off for uploads
/// (a call waiting for another call's probe has not started its upload) and
/// kept for downloads, with a grace period the builder set; protection the
/// builder turned off stays off; without coalescing, nothing changes.
#[test]
fn coalescing_turns_off_the_upload_stall_check_only() {
    use aws_sdk_sagemakerruntime::config::StalledStreamProtectionConfig as Ssp;
    let built = |set: Option<Ssp>, coalesce: bool| {
        let mut retries = LegacyRetries::new();
        if coalesce {
            retries = retries.coalesce_cold_starts(ColdStarts::new());
        }
        let mut builder = aws_sdk_sagemakerruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"));
        if let Some(set) = set {
            builder = builder.stalled_stream_protection(set);
        }
        let config = builder
            .multi_model_endpoint_with(MultiModelEndpoint::new().retries(retries))
            .build();
        config.stalled_stream_protection().cloned()
    };
    let default = built(None, true).expect("set");
    assert!(!default.upload_enabled() && default.download_enabled());
    let grace = Ssp::enabled().grace_period(Duration::from_secs(9)).build();
    let kept = built(Some(grace), true).expect("set");
    assert!(!kept.upload_enabled() && kept.download_enabled());
    assert_eq!(kept.grace_period(), Duration::from_secs(9));
    let downloads_off = Ssp::enabled().download_enabled(false).build();
    let both_off = built(Some(downloads_off), true).expect("set");
    assert!(!both_off.is_enabled());
    assert!(!built(Some(Ssp::disabled()), true)
        .expect("set")
        .is_enabled());
    assert!(built(None, false).is_none());
}

/// (metrics) `RetryMetrics` counts the retries and the give-up of an SDK call.
#[cfg(feature = "metrics")]
#[test]
fn retry_metrics_count_an_sdk_give_up() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower_sagemaker::retry::RetryMetrics;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let emu = emulator(
                ModelSpec::new(Duration::from_secs(3600)),
                Duration::from_millis(100),
            );
            let server = serve(&emu).await;
            let metrics = RetryMetrics::new();
            let client = crate_client(
                &server,
                MultiModelEndpoint::new()
                    .retries(retries(2).on_event(move |e| metrics.record(e)))
                    .target_model(model()),
            );
            invoke(&client).await.expect_err("never ready");
            server.shutdown().await;
        });
    });
    // A snapshot resets the counters: one for all.
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, label: (&str, &str)| {
        snapshot.iter().find_map(|(key, _, _, value)| {
            let key = key.key();
            let hit = key.name() == name
                && key
                    .labels()
                    .any(|l| l.key() == label.0 && l.value() == label.1);
            match (hit, value) {
                (true, DebugValue::Counter(n)) => Some(*n),
                _ => None,
            }
        })
    };
    assert_eq!(
        counter(
            "tower_sagemaker_give_ups_total",
            ("why", "retries_exhausted")
        ),
        Some(1)
    );
    assert_eq!(
        counter(
            "tower_sagemaker_retries_total",
            ("reason", "model_not_ready")
        ),
        Some(2)
    );
    assert_eq!(
        counter(
            "tower_sagemaker_attempts_total",
            ("outcome", "error_status")
        ),
        Some(3)
    );
}

/// (coalescing) N SDK callers at once on one cold model: with coalescing
/// the endpoint gets about N requests, not one per caller per hold; every
/// caller succeeds, with and without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalescing_bounds_the_requests_of_n_sdk_callers() {
    const N: usize = 50;
    for coalesce in [false, true] {
        let emu = emulator(ModelSpec::new(LOAD), HOLD);
        let server = serve(&emu).await;
        let mut settings = retries(8);
        if coalesce {
            settings = settings.coalesce_cold_starts(ColdStarts::new());
        }
        let client = crate_client(
            &server,
            MultiModelEndpoint::new()
                .retries(settings)
                .target_model(model()),
        );
        let calls: Vec<_> = (0..N)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move { invoke(&client).await.map(|_| ()) })
            })
            .collect();
        let mut failed = 0;
        for call in calls {
            if call.await.unwrap().is_err() {
                failed += 1;
            }
        }
        let stats = emu.stats(MODEL).unwrap();
        let received = stats.not_ready + stats.invocations;
        eprintln!("coalesce {coalesce}: {N} callers, {received} requests, {stats:?}");
        assert_eq!(failed, 0, "coalesce {coalesce}: {stats:?}");
        assert_eq!(stats.invocations as usize, N, "{stats:?}");
        if coalesce {
            assert!(
                received as usize <= N + 10,
                "{received} requests: {stats:?}"
            );
        } else {
            assert!(received as usize >= 2 * N, "{received} requests: {stats:?}");
        }
        server.shutdown().await;
    }
}

// ---------------------------------------------------------------------------
// Inference components scaling from zero, against a small fake endpoint on
// 127.0.0.1 (the emulator does not host components yet), on tokio's paused
// clock: the SDK sleeps with tokio's timer (`default_async_sleep`), and its
// `operation_timeout` too.
// ---------------------------------------------------------------------------

mod scale_from_zero {
    use super::*;

    use aws_sdk_sagemakerruntime::config::timeout::TimeoutConfig;
    use aws_sdk_sagemakerruntime::error::ProvideErrorMetadata;
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_types::body::SdkBody;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tokio::time::Instant as TokioInstant;
    use tower_sagemaker::retry::{LegacyBackoff, RetryReason};
    use tower_sagemaker::sagemaker::{NO_CAPACITY_MESSAGE, SCALE_OUT_TIME};

    const COMPONENT: &str = "ic-llama";
    const COMPONENT_HEADER: &str = "x-amzn-sagemaker-inference-component";
    const SECOND: &str = "ic-mistral";
    const ERROR_TYPE: &str =
        "ValidationError:http://internal.amazon.com/coral/com.amazon.sagemaker/";

    /// One component behind a fake endpoint: 400 `ValidationError` with
    /// `message` until `ready_at`, then `then` (200 unless set).
    struct Fake {
        ready_at: Option<TokioInstant>,
        // When `SECOND` is ready (never with `None`).
        second_ready_at: Option<TokioInstant>,
        message: &'static str,
        then: u16,
        // When each request came, and its inference component header.
        requests: Mutex<Vec<(TokioInstant, Option<String>)>>,
    }

    impl Fake {
        fn requests(&self) -> Vec<(TokioInstant, Option<String>)> {
            self.requests.lock().unwrap().clone()
        }

        /// The times of the requests answered with no capacity.
        fn failed(&self) -> Vec<TokioInstant> {
            self.requests()
                .into_iter()
                .filter(|(_, c)| c.as_deref() != Some(SECOND))
                .map(|(t, _)| t)
                .filter(|t| self.ready_at.is_none_or(|r| *t < r))
                .collect()
        }
    }

    impl Fake {
        /// Records a request for `component` and answers it: status,
        /// error type (on a no-capacity answer) and body.
        fn answer(&self, component: Option<String>) -> (u16, Option<&'static str>, Bytes) {
            let now = TokioInstant::now();
            self.requests.lock().unwrap().push((now, component.clone()));
            let ready_at = match component.as_deref() {
                Some(SECOND) => self.second_ready_at,
                _ => self.ready_at,
            };
            if ready_at.is_some_and(|r| now >= r) {
                return (self.then, None, Bytes::from_static(b"8.0"));
            }
            let body = serde_json::json!({ "message": self.message });
            (400, Some(ERROR_TYPE), Bytes::from(body.to_string()))
        }
    }

    /// Serves `fake` on 127.0.0.1, port 0; returns its endpoint URL.
    async fn serve(fake: Arc<Fake>) -> String {
        support::loopback::serve(move |req: http::Request<hyper::body::Incoming>| {
            let fake = fake.clone();
            async move {
                let component = req
                    .headers()
                    .get(COMPONENT_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let _ = req.into_body().collect().await;
                let (status, error_type, body) = fake.answer(component);
                let mut response = http::Response::builder().status(status);
                response = match error_type {
                    Some(error_type) => response
                        .header("x-amzn-errortype", error_type)
                        .header("content-type", "application/json"),
                    None => response.header("content-type", "text/csv"),
                };
                Ok::<_, std::io::Error>(response.body(Full::new(body)).unwrap())
            }
        })
        .await
    }

    /// `fake`'s answer to an SDK request.
    fn sdk_answer(fake: &Fake, request: &HttpRequest) -> HttpResponse {
        let component = request.headers().get(COMPONENT_HEADER).map(str::to_owned);
        let (status, error_type, body) = fake.answer(component);
        let mut response = HttpResponse::new(status.try_into().unwrap(), SdkBody::from(body));
        let headers = response.headers_mut();
        match error_type {
            Some(error_type) => {
                headers.insert("x-amzn-errortype", error_type);
                headers.insert("content-type", "application/json");
            }
            None => {
                headers.insert("content-type", "text/csv");
            }
        }
        response
    }

    /// A client of `fake`, answering in memory on the paused clock (see
    /// `support::sdk`), with the crate's settings.
    fn client_in_memory(fake: &Arc<Fake>, settings: MultiModelEndpoint) -> Client {
        let answering = fake.clone();
        let config = aws_sdk_sagemakerruntime::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .time_source(support::sdk::PausedClock::new())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://fake.invalid")
            .credentials_provider(Credentials::new(AKID, SECRET, None, None, "test"))
            .http_client(support::sdk::InMemory::new(move |req| {
                sdk_answer(&answering, req)
            }))
            .multi_model_endpoint_with(settings)
            .build();
        Client::from_conf(config)
    }

    /// A component that is ready `after` from now (never with `None`).
    async fn component(after: Option<Duration>, message: &'static str) -> (Arc<Fake>, String) {
        failing_after(after, message, 200).await
    }

    /// A component that answers `then` `after` from now.
    async fn failing_after(
        after: Option<Duration>,
        message: &'static str,
        then: u16,
    ) -> (Arc<Fake>, String) {
        let fake = Arc::new(Fake {
            ready_at: after.map(|a| TokioInstant::now() + a),
            second_ready_at: None,
            message,
            then,
            requests: Mutex::default(),
        });
        let url = serve(fake.clone()).await;
        (fake, url)
    }

    async fn call(client: &Client) -> Result<InvokeEndpointOutput, SdkError<InvokeEndpointError>> {
        client
            .invoke_endpoint()
            .endpoint_name("demo")
            .inference_component_name(COMPONENT)
            .content_type("text/csv")
            .body(Blob::new("1.0,2.0,5.0"))
            .send()
            .await
    }

    /// The outcomes of the calls' attempts, as events say: reason, decision
    /// and the time since the call's first no-capacity answer.
    type Outcome = (Option<RetryReason>, Decision, Option<Duration>);

    #[derive(Debug, Clone, Default)]
    struct Outcomes(Arc<Mutex<Vec<Outcome>>>);

    impl Outcomes {
        fn retries(&self, retries: LegacyRetries) -> LegacyRetries {
            let into = self.clone();
            retries.on_event(move |event| {
                if let RetryEvent::Outcome(o) = event {
                    assert_eq!(o.inference_component, Some(COMPONENT));
                    assert_eq!(o.target_model, None);
                    let outcome = (o.reason, o.decision, o.since_first_no_capacity);
                    into.0.lock().unwrap().push(outcome);
                }
            })
        }

        fn all(&self) -> Vec<Outcome> {
            self.0.lock().unwrap().clone()
        }

        fn finals(&self) -> Vec<Outcome> {
            self.all()
                .into_iter()
                .filter(|(_, d, _)| d.is_final())
                .collect()
        }
    }

    /// Without the rule the SDK fails at once: a 400 `ValidationError` is final.
    #[tokio::test(start_paused = true)]
    async fn without_scale_from_zero_the_no_capacity_answer_is_final() {
        let (fake, url) = component(Some(SCALE_OUT_TIME), NO_CAPACITY_MESSAGE).await;
        let client = client_at(&url, MultiModelEndpoint::new());
        let err = call(&client).await.expect_err("not retried");
        let err = service_error(&err);
        assert!(err.is_validation_error(), "{err:?}");
        assert_eq!(err.message(), Some(NO_CAPACITY_MESSAGE));
        assert_eq!(fake.requests().len(), 1);
    }

    /// The call rides a 4-minute scale-out through: far more than botocore's
    /// 5 attempts (the SDK's `max_attempts` stays 5: each no-capacity answer
    /// raises it for its call), 10 to 30 s apart (the first retry 10 to 20 s),
    /// every request naming the component and no target model; the events
    /// say `NoCapacity`, the component, and the wait the scale-out cost, with
    /// one final outcome.
    #[tokio::test(start_paused = true)]
    async fn a_call_rides_a_scale_out_through_paced_10_to_30_s_apart() {
        let (fake, url) = component(Some(SCALE_OUT_TIME), NO_CAPACITY_MESSAGE).await;
        let outcomes = Outcomes::default();
        let settings = MultiModelEndpoint::new()
            .retries(outcomes.retries(LegacyRetries::new().scale_from_zero()));
        assert_eq!(
            settings.get_timeout_config().operation_timeout(),
            Some(tower_sagemaker::sagemaker::SCALE_FROM_ZERO_BUDGET)
        );
        let client = client_at(&url, settings);
        let start = TokioInstant::now();
        let out = call(&client).await.expect("rides the scale-out through");
        assert_eq!(out.body().unwrap().as_ref(), b"8.0");
        let elapsed = start.elapsed();

        let requests = fake.requests();
        assert!(requests.len() > 5, "{} requests", requests.len());
        assert!(requests
            .iter()
            .all(|(_, c)| c.as_deref() == Some(COMPONENT)));
        let times: Vec<_> = requests.iter().map(|(t, _)| *t).collect();
        let gaps: Vec<_> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps[0] >= Duration::from_secs(10) && gaps[0] < Duration::from_secs(20),
            "{gaps:?}"
        );
        for gap in &gaps {
            assert!(
                *gap >= Duration::from_secs(10) && *gap < Duration::from_secs(30),
                "{gaps:?}"
            );
        }
        // Ready at most one interval after the copy is.
        assert!(
            elapsed >= SCALE_OUT_TIME && elapsed < SCALE_OUT_TIME + Duration::from_secs(30),
            "{elapsed:?}"
        );

        let all = outcomes.all();
        assert_eq!(all.len(), requests.len(), "{all:?}");
        assert!(
            all[..all.len() - 1].iter().all(|(r, d, w)| {
                *r == Some(RetryReason::NoCapacity)
                    && w.is_some()
                    && matches!(d, Decision::Retry { delay } if *delay >= Duration::from_secs(10))
            }),
            "{all:?}"
        );
        let finals = outcomes.finals();
        assert_eq!(finals.len(), 1, "{all:?}");
        let (_, decision, waited) = finals[0];
        assert_eq!(decision, Decision::Return);
        let waited = waited.expect("the wait the scale-out cost");
        assert!(
            waited <= elapsed && waited + Duration::from_secs(1) >= elapsed,
            "{waited:?} {elapsed:?}"
        );
    }

    /// A `ValidationError` for another reason is never retried, with the rule on.
    #[tokio::test(start_paused = true)]
    async fn a_plain_validation_error_is_never_retried() {
        const MESSAGE: &str = "Inference Component Name header is required for endpoints to which you plan to deploy inference components.";
        let (fake, url) = component(None, MESSAGE).await;
        let outcomes = Outcomes::default();
        let client = client_at(
            &url,
            MultiModelEndpoint::new()
                .retries(outcomes.retries(LegacyRetries::new().scale_from_zero())),
        );
        let err = call(&client).await.expect_err("not retried");
        let err = service_error(&err);
        assert!(err.is_validation_error(), "{err:?}");
        assert_eq!(err.message(), Some(MESSAGE));
        assert_eq!(fake.requests().len(), 1);
        assert_eq!(outcomes.all(), vec![(None, Decision::Return, None)]);
    }

    /// The `operation_timeout` ends the ride: no retry whose backoff would end
    /// after it, so the call ends before it with the no-capacity answer
    /// (the final event `DeadlineWouldPass`).
    #[tokio::test(start_paused = true)]
    async fn the_operation_timeout_ends_the_ride() {
        let (fake, url) = component(None, NO_CAPACITY_MESSAGE).await;
        let outcomes = Outcomes::default();
        let budget = Duration::from_secs(90);
        let client = client_at(
            &url,
            MultiModelEndpoint::new()
                .retries(outcomes.retries(LegacyRetries::new().scale_from_zero()))
                .timeouts(budget, Duration::from_secs(70)),
        );
        let start = TokioInstant::now();
        let err = call(&client).await.expect_err("never ready");
        assert!(start.elapsed() < budget, "{:?}", start.elapsed());
        let err = service_error(&err);
        assert_eq!(err.message(), Some(NO_CAPACITY_MESSAGE));
        let n = fake.requests().len();
        assert!((4..=10).contains(&n), "{n} requests in 90 s");
        let finals = outcomes.finals();
        assert_eq!(finals.len(), 1, "{:?}", outcomes.all());
        assert_eq!(finals[0].1, Decision::DeadlineWouldPass);
        assert_eq!(outcomes.all().len(), n);
    }

    /// Without an `operation_timeout` no-capacity answers keep botocore's
    /// budget and backoff: 5 attempts.
    #[tokio::test(start_paused = true)]
    async fn without_an_operation_timeout_botocores_budget_applies() {
        let (fake, url) = component(None, NO_CAPACITY_MESSAGE).await;
        let client = client_at(
            &url,
            MultiModelEndpoint::inference_components().timeout_config(
                TimeoutConfig::builder()
                    .disable_operation_timeout()
                    .read_timeout(Duration::from_secs(70))
                    .build(),
            ),
        );
        let start = TokioInstant::now();
        call(&client).await.expect_err("never ready");
        assert_eq!(fake.requests().len(), 5);
        // rand * (1 + 2 + 4 + 8) s at most.
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }

    /// The legacy reasons keep their budget and backoff after a scale-out:
    /// no-capacity answers for 150 s (at least six: paced retries come at most
    /// 20, then 30 s apart), then 503 for good: the 503s get
    /// botocore's 4 retries (5 requests), rand * 1, 2, 4, 8 s apart, though the
    /// call has made far more than 5 attempts by then. The same for a call
    /// whose `config_override` repeats the client's settings (both sets of
    /// interceptors run; each answer is counted, and reported, once).
    #[tokio::test(start_paused = true)]
    async fn legacy_reasons_keep_their_budget_after_a_scale_out() {
        for per_call in [false, true] {
            let (fake, url) =
                failing_after(Some(Duration::from_secs(150)), NO_CAPACITY_MESSAGE, 503).await;
            let outcomes = Outcomes::default();
            let settings = MultiModelEndpoint::new()
                .retries(outcomes.retries(LegacyRetries::new().scale_from_zero()));
            let client = client_at(&url, settings.clone());
            let err = match per_call {
                false => call(&client).await,
                true => {
                    client
                        .invoke_endpoint()
                        .endpoint_name("demo")
                        .inference_component_name(COMPONENT)
                        .content_type("text/csv")
                        .body(Blob::new("1.0,2.0,5.0"))
                        .customize()
                        .config_override(settings.config_override())
                        .send()
                        .await
                }
            }
            .expect_err("503 for good");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
            let failed = fake.failed().len();
            let requests = fake.requests();
            assert!(failed > 5, "{failed} no-capacity answers");
            assert_eq!(requests.len(), failed + 5, "per call {per_call}");
            let times: Vec<_> = requests[failed..].iter().map(|(t, _)| *t).collect();
            for (k, w) in times.windows(2).enumerate() {
                let gap = w[1] - w[0];
                assert!(
                    gap < Duration::from_secs(1 << k),
                    "retry {}: {gap:?}",
                    k + 1
                );
            }
            let finals = outcomes.finals();
            // One call, one final outcome: the override's interceptor
            // reports it, the client's stands aside.
            assert_eq!(finals.len(), 1, "{:?}", outcomes.all());
            assert_eq!(outcomes.all().len(), requests.len());
            assert!(finals.iter().all(|f| f.1 == Decision::RetriesExhausted));
        }
    }

    /// With coalescing, N callers on a component scaling out: every caller
    /// succeeds; the endpoint gets at most N requests plus one per probe
    /// interval (10 s at least), one at least every 30 s during the scale-out
    /// (the alarm that scales it out counts them); without, each caller keeps
    /// probing.
    #[tokio::test(start_paused = true)]
    async fn coalescing_n_callers_make_at_most_n_plus_one_request_per_probe_interval() {
        const N: usize = 20;
        for coalesce in [false, true] {
            let (fake, _) = component(Some(SCALE_OUT_TIME), NO_CAPACITY_MESSAGE).await;
            let outcomes = Outcomes::default();
            let mut retries = outcomes.retries(LegacyRetries::new().scale_from_zero());
            if coalesce {
                retries = retries.coalesce_cold_starts(ColdStarts::new());
            }
            let client = client_in_memory(&fake, MultiModelEndpoint::new().retries(retries));
            let start = TokioInstant::now();
            let calls: Vec<_> = (0..N)
                .map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move { call(&client).await.map(|_| ()) })
                })
                .collect();
            for c in calls {
                c.await.unwrap().expect("every caller succeeds");
            }
            let elapsed = start.elapsed();
            let received = fake.requests().len();
            let failed = fake.failed();
            eprintln!(
                "coalesce {coalesce}: {N} callers, {received} requests, {} no-capacity, {elapsed:?}",
                failed.len()
            );
            let finals = outcomes.finals();
            assert_eq!(finals.len(), N);
            assert!(finals.iter().all(|(_, d, _)| *d == Decision::Return));
            // No wait was taken for a stalled upload (the SDK's stalled-stream
            // protection, which `MultiModelEndpoint` turns off for uploads).
            let all = outcomes.all();
            assert!(
                all.iter().all(|o| o.0 != Some(RetryReason::Transport)),
                "{all:?}"
            );
            if coalesce {
                let intervals = (elapsed.as_secs() / 10) as usize + 1;
                assert!(received <= N + intervals, "{received} requests");
                let gaps: Vec<_> = failed.windows(2).map(|w| w[1] - w[0]).collect();
                assert!(
                    gaps.iter().all(|g| *g < Duration::from_secs(30)),
                    "{gaps:?}"
                );
                assert!(*failed.last().unwrap() + Duration::from_secs(30) > start + SCALE_OUT_TIME);
                // Ready at most one interval after the copy is.
                assert!(
                    elapsed < SCALE_OUT_TIME + Duration::from_secs(30),
                    "{elapsed:?}"
                );
            } else {
                assert!(received >= 5 * N, "{received} requests");
            }
        }
    }

    /// With coalescing, a prober that is dropped hands its role over: the
    /// waiting call probes at once and keeps probing, paced, until the
    /// component serves.
    #[tokio::test(start_paused = true)]
    async fn a_dropped_prober_hands_over() {
        let (fake, url) = component(Some(Duration::from_secs(120)), NO_CAPACITY_MESSAGE).await;
        let retries = LegacyRetries::new()
            .scale_from_zero()
            .coalesce_cold_starts(ColdStarts::new());
        let client = client_at(&url, MultiModelEndpoint::new().retries(retries));
        let prober = tokio::spawn({
            let client = client.clone();
            async move { call(&client).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        let waiter = tokio::spawn({
            let client = client.clone();
            async move { call(&client).await.map(|_| ()) }
        });
        tokio::time::sleep(Duration::from_secs(40)).await;
        // The prober's first attempt and its retries; the waiter waits.
        let before = fake.requests().len();
        assert!((2..=4).contains(&before), "{before} requests");
        prober.abort();
        let dropped_at = TokioInstant::now();
        waiter.await.unwrap().expect("the waiter rides it through");
        let after: Vec<_> = fake.requests()[before..].iter().map(|(t, _)| *t).collect();
        // At once, then 10 to 30 s apart.
        assert!(
            after[0] - dropped_at < Duration::from_millis(100),
            "{:?}",
            after[0] - dropped_at
        );
        for w in after.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_secs(10) && gap < Duration::from_secs(30),
                "{gap:?}"
            );
        }
    }

    /// With coalescing, two components of one endpoint scale out at once:
    /// each has its own probe (the calls are keyed by endpoint and
    /// component), so neither waits for the other and each gets a failed
    /// call at least every 30 s until it serves.
    #[tokio::test(start_paused = true)]
    async fn two_components_at_once_each_have_their_own_probe() {
        const N: usize = 5;
        let fake = Arc::new(Fake {
            ready_at: Some(TokioInstant::now() + Duration::from_secs(60)),
            second_ready_at: Some(TokioInstant::now() + Duration::from_secs(150)),
            message: NO_CAPACITY_MESSAGE,
            then: 200,
            requests: Mutex::default(),
        });
        let url = serve(fake.clone()).await;
        let retries = LegacyRetries::new()
            .scale_from_zero()
            .coalesce_cold_starts(ColdStarts::new());
        let client = client_at(&url, MultiModelEndpoint::new().retries(retries));
        let start = TokioInstant::now();
        let calls: Vec<_> = (0..2 * N)
            .map(|i| {
                let client = client.clone();
                let component = if i % 2 == 0 { COMPONENT } else { SECOND };
                tokio::spawn(async move {
                    client
                        .invoke_endpoint()
                        .endpoint_name("demo")
                        .inference_component_name(component)
                        .content_type("text/csv")
                        .body(Blob::new("1.0,2.0,5.0"))
                        .send()
                        .await
                        .map(|_| start.elapsed())
                })
            })
            .collect();
        let mut done = Vec::new();
        for c in calls {
            done.push(c.await.unwrap().expect("every caller succeeds"));
        }
        for (component, ready, served) in [
            (
                COMPONENT,
                Duration::from_secs(60),
                &done[0..].iter().step_by(2).collect::<Vec<_>>(),
            ),
            (
                SECOND,
                Duration::from_secs(150),
                &done[1..].iter().step_by(2).collect::<Vec<_>>(),
            ),
        ] {
            let times: Vec<_> = fake
                .requests()
                .into_iter()
                .filter(|(_, c)| c.as_deref() == Some(component))
                .map(|(t, _)| t - start)
                .collect();
            let failed: Vec<_> = times.iter().copied().filter(|t| *t < ready).collect();
            assert_eq!(times.len() - failed.len(), N, "{component}: {times:?}");
            // One probe at a time: one first request (the other calls wait)
            // plus one per 10 s at most.
            assert!(
                failed.len() <= 1 + (ready.as_secs() / 10) as usize,
                "{component}: {times:?}"
            );
            // Its own probe from the start, not the other component's.
            assert!(failed[0] < Duration::from_secs(1), "{component}: {times:?}");
            for w in failed.windows(2) {
                assert!(
                    w[1] - w[0] < Duration::from_secs(30),
                    "{component}: {times:?}"
                );
            }
            assert!(*failed.last().unwrap() + Duration::from_secs(30) > ready);
            for t in served {
                assert!(
                    **t >= ready && **t < ready + Duration::from_secs(30),
                    "{component}: {t:?}"
                );
            }
        }
    }

    /// The scale-out pacing the SDK sleeps is the `LegacyRetries`' own.
    #[tokio::test(start_paused = true)]
    async fn the_scale_out_backoff_is_the_settings_one() {
        let (fake, url) = component(Some(Duration::from_secs(60)), NO_CAPACITY_MESSAGE).await;
        let pacing = LegacyBackoff::new()
            .base_delay(Duration::from_secs(5))
            .max_delay(Duration::from_secs(5))
            .min_delay(Duration::from_secs(4));
        let client = client_at(
            &url,
            MultiModelEndpoint::new().retries(
                LegacyRetries::new()
                    .scale_from_zero()
                    .scale_out_backoff(pacing),
            ),
        );
        call(&client).await.expect("ready after a minute");
        let times: Vec<_> = fake.requests().iter().map(|(t, _)| *t).collect();
        assert!(times.len() >= 12, "{}", times.len());
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_secs(4) && gap < Duration::from_secs(5),
                "{gap:?}"
            );
        }
    }
}

/// Credentials that never load: every attempt fails before it is sent.
#[derive(Debug)]
struct NoCredentials;

impl aws_credential_types::provider::ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded("none here"),
        ))
    }
}

/// An attempt that fails before it goes out (it cannot be signed) is an
/// attempt all the same: announced, then its outcome, numbered from 1, as
/// the retry layer reports a `SigV4Layer` failure beneath it.
#[tokio::test]
async fn events_of_an_attempt_that_fails_before_it_is_sent() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let retries = LegacyRetries::new().on_event(move |event| {
        let line = match event {
            RetryEvent::Attempt { attempt, remaining } => {
                format!("attempt {attempt}, budget {}", remaining.is_some())
            }
            RetryEvent::Outcome(o) => format!(
                "outcome {}: {:?}, error {}",
                o.attempt,
                o.decision,
                o.error.is_some()
            ),
            _ => return,
        };
        seen.lock().unwrap().push(line);
    });
    let config = aws_sdk_sagemakerruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(NoCredentials)
        .multi_model_endpoint_with(
            MultiModelEndpoint::new()
                .retries(retries)
                .target_model(model()),
        )
        .build();
    let client = Client::from_conf(config);
    let err = invoke(&client).await.unwrap_err();
    assert!(format!("{err:?}").contains("none here"), "{err:?}");
    assert_eq!(
        *events.lock().unwrap(),
        ["attempt 1, budget true", "outcome 1: Return, error true"]
    );
}

// ---------------------------------------------------------------------------
// Coalescing and botocore's budget: a call that waited through other calls'
// failed probes has spent those attempts, whatever ends its next one.
// Against a small fake endpoint on 127.0.0.1, on tokio's paused clock.
// ---------------------------------------------------------------------------

mod coalescing_budget {
    use super::*;

    use bytes::Bytes;
    use http_body_util::Full;

    /// How the fake answers after the model's two 429s.
    #[derive(Clone, Copy)]
    enum Then {
        /// 503 `ServiceUnavailable`, which the SDK's own classifier retries too.
        ServiceUnavailable,
        /// The connection closed without an answer.
        Drop,
    }

    /// An endpoint whose first two requests get 429 `ModelNotReadyException`
    /// after a 300 ms hold; later ones `then`. Records each request's
    /// inference id (which caller sent it).
    async fn serve(then: Then, requests: Arc<Mutex<Vec<String>>>) -> String {
        support::loopback::serve(move |req: http::Request<hyper::body::Incoming>| {
            let requests = requests.clone();
            async move {
                let n = support::loopback::record_caller(req, &requests).await;
                let (status, code) = match (n, then) {
                    (1 | 2, _) => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        (429, "ModelNotReadyException")
                    }
                    (_, Then::ServiceUnavailable) => (503, "ServiceUnavailable"),
                    (_, Then::Drop) => return Err(std::io::Error::other("dropped")),
                };
                let body = serde_json::json!({ "message": code }).to_string();
                Ok(http::Response::builder()
                    .status(status)
                    .header("x-amzn-errortype", code)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap())
            }
        })
        .await
    }

    /// Caller A probes the loading model; caller B, 100 ms later, waits
    /// through A's two failed probes, which with `max_retries(2)` leaves
    /// it one attempt. B's attempt fails (503, or a dropped connection): B
    /// ends there, as with the crate's retry layer, while A, which made its
    /// own three attempts, ends after its third.
    #[tokio::test(start_paused = true)]
    async fn a_call_that_waited_through_the_probes_ends_after_its_last_attempt() {
        for then in [Then::ServiceUnavailable, Then::Drop] {
            let requests = Arc::new(Mutex::new(Vec::new()));
            let url = serve(then, requests.clone()).await;
            let finals = Arc::new(Mutex::new(Vec::new()));
            let seen = finals.clone();
            let retries = LegacyRetries::new()
                .max_retries(2)
                .base_delay(Duration::from_millis(20))
                .coalesce_cold_starts(ColdStarts::new())
                .on_event(move |event| {
                    if let RetryEvent::Outcome(o) = event {
                        if o.decision.is_final() {
                            seen.lock().unwrap().push(o.decision);
                        }
                    }
                });
            let client = client_at(
                &url,
                MultiModelEndpoint::new()
                    .retries(retries)
                    .target_model(model()),
            );
            let call = |id: &'static str| {
                let client = client.clone();
                async move {
                    client
                        .invoke_endpoint()
                        .endpoint_name("demo")
                        .inference_id(id)
                        .content_type("text/csv")
                        .body(Blob::new("1"))
                        .send()
                        .await
                }
            };
            let a = tokio::spawn(call("A"));
            tokio::time::sleep(Duration::from_millis(100)).await;
            let b = tokio::spawn(call("B"));
            assert!(a.await.unwrap().is_err());
            assert!(b.await.unwrap().is_err());
            let requests = requests.lock().unwrap().clone();
            let by = |id: &str| requests.iter().filter(|r| *r == id).count();
            assert_eq!((by("A"), by("B")), (3, 1), "{requests:?}");
            assert_eq!(
                *finals.lock().unwrap(),
                [Decision::RetriesExhausted, Decision::RetriesExhausted]
            );
        }
    }
}

/// The SDK's `operation_timeout` ends a call: the final event says whether
/// it cut an attempt in flight (an attempt ended there) or a backoff sleep
/// (the call ended between attempts), as the retry layer's events do.
#[tokio::test(start_paused = true)]
async fn the_operation_timeout_ends_an_attempt_or_a_sleep() {
    for hang in [true, false] {
        let url = support::loopback::serve(
            move |_req: http::Request<hyper::body::Incoming>| async move {
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let res = http::Response::builder()
                    .status(503)
                    .header("x-amzn-errortype", "ServiceUnavailable")
                    .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
                    .unwrap();
                Ok::<_, std::io::Error>(res)
            },
        )
        .await;
        let finals = Arc::new(Mutex::new(Vec::new()));
        let seen = finals.clone();
        let retries = LegacyRetries::new()
            .base_delay(Duration::from_secs(10_000))
            .on_event(move |event| {
                if let RetryEvent::Outcome(o) = event {
                    if o.decision.is_final() {
                        seen.lock()
                            .unwrap()
                            .push((o.attempt, o.decision, o.between_attempts));
                    }
                }
            });
        let client = client_at(
            &url,
            MultiModelEndpoint::new()
                .retries(retries)
                .target_model(model())
                .timeouts(Duration::from_secs(10), Duration::from_secs(3600)),
        );
        let err = invoke(&client).await.unwrap_err();
        assert!(matches!(err, SdkError::TimeoutError(_)), "{err:?}");
        let finals = finals.lock().unwrap().clone();
        if !hang && finals.first().is_some_and(|(attempt, _, _)| *attempt > 1) {
            // A backoff under 10 s (1 in 1,000): the call retried first.
            continue;
        }
        assert_eq!(
            finals,
            [(1, Decision::DeadlineExceeded, !hang)],
            "hang {hang}"
        );
    }
}
