//! The real `aws-sdk-sagemakerruntime` client against the emulator served on
//! 127.0.0.1, with and without `tower_sagemaker::sdk`. Real clocks: load times
//! of about 1 s, holds of 200-300 ms and a 50 ms backoff base keep each test to
//! a few seconds.
#![cfg(all(feature = "aws-sdk-sagemakerruntime", feature = "emulator"))]

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
