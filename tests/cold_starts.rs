//! Cold-start coalescing (`ModelNotReadyRetryLayer::coalesce_cold_starts`)
//! against the emulator: on tokio's paused clock for the cases of a loading
//! model, and once over loopback TCP with a real client.
#![cfg(all(feature = "retry", feature = "emulator", feature = "deadline",))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use tokio::time::Instant;
use tower::util::BoxCloneService;
use tower::{service_fn, BoxError, Layer, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::retry::{
    Attempts, ColdStarts, Decision, LegacyRetries, ModelNotReadyRetryLayer, RetryEvent,
};

type Req = http::Request<Full<Bytes>>;
// Bodies are dropped: these tests look at statuses, times and extensions.
type Res = http::Response<()>;
type Svc = BoxCloneService<Req, Res, BoxError>;
/// The endpoint beneath the retries.
type Inner = BoxCloneService<Req, Res, BoxError>;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The emulator, and a log of the requests it received: (time, model).
#[derive(Clone)]
struct Endpoint {
    emulator: Emulator,
    log: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Endpoint {
    fn new(models: &[(&str, ModelSpec)]) -> Self {
        let mut builder = Emulator::builder();
        for (name, spec) in models {
            builder = builder.model(*name, spec.clone());
        }
        Self {
            emulator: builder.build(),
            log: Default::default(),
        }
    }

    fn requests(&self, model: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m == model)
            .count()
    }

    fn request_times(&self) -> Vec<Duration> {
        let log = self.log.lock().unwrap();
        let start = log.first().map(|(t, _)| *t);
        log.iter().map(|(t, _)| *t - start.unwrap()).collect()
    }

    /// The emulator as a service that logs each request (bodies dropped).
    fn service(&self) -> Inner {
        let emulator = self.emulator.clone();
        let log = self.log.clone();
        BoxCloneService::new(service_fn(move |req: Req| {
            let model = req.headers()["x-amzn-sagemaker-target-model"]
                .to_str()
                .unwrap()
                .to_owned();
            log.lock().unwrap().push((Instant::now(), model));
            let call = emulator.clone().oneshot(req);
            async move { Ok::<_, BoxError>(call.await?.map(drop)) }
        }))
    }

    /// A client: `DeadlineLayer(budget)`, then `retry` (a retry layer, or
    /// tower's `RetryLayer` with a policy), around the emulator.
    fn client<L>(&self, retry: L, budget: Duration) -> Svc
    where
        L: Layer<Inner>,
        L::Service: Service<Req, Response = Res, Error = BoxError> + Clone + Send + 'static,
        <L::Service as Service<Req>>::Future: Send + 'static,
    {
        BoxCloneService::new(
            ServiceBuilder::new()
                .map_response(|res: http::Response<_>| res.map(drop))
                .layer(DeadlineLayer::new(budget))
                .layer(retry)
                .service(self.service()),
        )
    }
}

fn request(model: &str) -> Req {
    http::Request::post("/endpoints/demo/invocations")
        .header("x-amzn-sagemaker-target-model", model)
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from_static(b"1,2")))
        .unwrap()
}

/// How one caller ended: status (or error) and when, with its `Attempts`.
#[derive(Debug)]
struct End {
    status: Option<u16>,
    deadline_exceeded: bool,
    at: Duration,
    attempts: Option<u32>,
}

fn spawn_call(svc: &Svc, model: &str, start: Instant) -> tokio::task::JoinHandle<End> {
    let svc = svc.clone();
    let req = request(model);
    tokio::spawn(async move {
        let result = svc.oneshot(req).await;
        End {
            status: result.as_ref().ok().map(|r| r.status().as_u16()),
            deadline_exceeded: matches!(&result, Err(e) if e.is::<DeadlineExceeded>()),
            at: start.elapsed(),
            attempts: result
                .as_ref()
                .ok()
                .and_then(|r| r.extensions().get::<Attempts>().map(Attempts::count)),
        }
    })
}

async fn all(handles: Vec<tokio::task::JoinHandle<End>>) -> Vec<End> {
    let mut ends = Vec::with_capacity(handles.len());
    for h in handles {
        ends.push(h.await.unwrap());
    }
    ends
}

async fn callers(svc: &Svc, model: &str, n: usize) -> Vec<End> {
    let start = Instant::now();
    let handles = (0..n).map(|_| spawn_call(svc, model, start)).collect();
    all(handles).await
}

fn cold(load: u64) -> ModelSpec {
    ModelSpec::new(secs(load))
}

#[tokio::test(start_paused = true)]
async fn n_callers_on_a_cold_model_send_n_requests_and_a_probe_at_a_time() {
    let n = 50;
    let endpoint = Endpoint::new(&[("m", cold(150))]);
    let cold_starts = ColdStarts::new();
    let svc = endpoint.client(
        ModelNotReadyRetryLayer::new(
            LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
        ),
        secs(360),
    );
    let ends = callers(&svc, "m", n).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    // First attempt at 0 s (429 at 60 s), a probe (429 at about 120 s), a
    // probe answered at 150 s, then the other callers once each.
    assert_eq!(endpoint.requests("m"), n + 2);
    assert_eq!(endpoint.emulator.stats("m").unwrap().not_ready, 2);
    // The waiters sent at once when the probe came back: at 150 s.
    let times = endpoint.request_times();
    assert!(times[3..].iter().all(|t| *t == secs(150)), "{times:?}");
    assert!(ends.iter().all(|e| e.at == secs(150)), "{ends:?}");
    let waiters = ends.iter().filter(|e| e.attempts == Some(1)).count();
    assert_eq!(waiters, n - 1);
    assert!(cold_starts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_coalescing_every_caller_retries_on_its_own() {
    let n = 50;
    let endpoint = Endpoint::new(&[("m", cold(150))]);
    let svc = endpoint.client(ModelNotReadyRetryLayer::legacy(), secs(360));
    let ends = callers(&svc, "m", n).await;
    // botocore legacy: held 60 s, 429, retried, held, 429, retried, 200.
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    assert!(ends.iter().all(|e| e.attempts == Some(3)), "{ends:?}");
    assert_eq!(endpoint.requests("m"), 3 * n);
    assert_eq!(
        endpoint.emulator.stats("m").unwrap().not_ready,
        2 * n as u64
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_prober_hands_its_role_to_a_waiter_at_once() {
    let endpoint = Endpoint::new(&[("m", cold(150))]);
    let cold_starts = ColdStarts::new();
    let svc = endpoint.client(
        ModelNotReadyRetryLayer::new(
            LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
        ),
        secs(360),
    );
    let start = Instant::now();
    let prober = spawn_call(&svc, "m", start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let waiters: Vec<_> = (0..4).map(|_| spawn_call(&svc, "m", start)).collect();
    tokio::time::sleep(secs(30)).await;
    assert_eq!(endpoint.requests("m"), 1, "the waiters wait");
    prober.abort();
    let ends = all(waiters).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    let times = endpoint.request_times();
    // A waiter took over when the prober was dropped, without a backoff.
    assert_eq!(times[1], secs(30) + Duration::from_millis(1), "{times:?}");
    // Its attempt is held to 90 s (429), its probe to 150 s, then the other three.
    assert_eq!(endpoint.requests("m"), 1 + 2 + 3, "{times:?}");
    assert!(cold_starts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_waiter_whose_deadline_ends_before_the_load_fails_alone_and_sent_nothing() {
    let endpoint = Endpoint::new(&[("m", cold(150))]);
    let cold_starts = ColdStarts::new();
    let retry = ModelNotReadyRetryLayer::new(
        LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
    );
    let patient = endpoint.client(retry.clone(), secs(360));
    let hurried = endpoint.client(retry, secs(30));
    let start = Instant::now();
    let prober = spawn_call(&patient, "m", start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let short = spawn_call(&hurried, "m", start);
    let long = spawn_call(&patient, "m", start);

    let short = short.await.unwrap();
    assert!(short.deadline_exceeded, "{short:?}");
    assert_eq!(short.at, secs(30) + Duration::from_millis(1));
    assert_eq!(endpoint.requests("m"), 1, "the hurried waiter sent nothing");

    let (prober, long) = (prober.await.unwrap(), long.await.unwrap());
    assert_eq!((prober.status, long.status), (Some(200), Some(200)));
    assert_eq!((prober.at, long.at), (secs(150), secs(150)));
    assert_eq!(endpoint.requests("m"), 3 + 1);
    assert!(cold_starts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_model_that_fails_to_load_fails_every_caller_as_without_coalescing() {
    let n = 20;
    let spec = cold(150).fail_load(true);
    let mut runs = Vec::new();
    for coalesce in [false, true] {
        let endpoint = Endpoint::new(&[("m", spec.clone())]);
        let mut retries = LegacyRetries::new();
        if coalesce {
            retries = retries.coalesce_cold_starts(ColdStarts::new());
        }
        let svc = endpoint.client(ModelNotReadyRetryLayer::new(retries), secs(360));
        let ends = callers(&svc, "m", n).await;
        // 424 `ModelError` is not retried: each caller gets it.
        assert!(ends.iter().all(|e| e.status == Some(424)), "{ends:?}");
        runs.push(endpoint.requests("m"));
    }
    // The probe's 424 lets the waiters send: the endpoint starts a second
    // load for them, which fails too. Still fewer requests than without.
    assert!(runs[1] < runs[0], "{runs:?}");
}

#[tokio::test(start_paused = true)]
async fn two_models_loading_at_once_are_coalesced_apart() {
    let n = 20;
    let endpoint = Endpoint::new(&[("a", cold(150)), ("b", cold(90))]);
    let cold_starts = ColdStarts::new();
    let svc = endpoint.client(
        ModelNotReadyRetryLayer::new(
            LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
        ),
        secs(360),
    );
    let start = Instant::now();
    let handles: Vec<_> = (0..n)
        .flat_map(|_| [spawn_call(&svc, "a", start), spawn_call(&svc, "b", start)])
        .collect();
    let ends = all(handles).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    let (a, b): (Vec<_>, Vec<_>) = ends.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    // b's readiness does not release a's waiters.
    assert!(a.iter().all(|(_, e)| e.at == secs(150)), "{a:?}");
    assert!(b.iter().all(|(_, e)| e.at == secs(90)), "{b:?}");
    assert_eq!(endpoint.requests("a"), n + 2);
    assert_eq!(endpoint.requests("b"), n + 1);
    assert!(cold_starts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn waiting_counts_the_probes_against_the_callers_attempts() {
    // 3 attempts each; the load outlasts them: every caller ends with the
    // 429, as without coalescing, and none makes more than 3 attempts.
    let n = 10;
    for coalesce in [false, true] {
        let endpoint = Endpoint::new(&[("m", cold(300))]);
        let mut retries = LegacyRetries::new().max_retries(2);
        if coalesce {
            retries = retries.coalesce_cold_starts(ColdStarts::new());
        }
        let svc = endpoint.client(ModelNotReadyRetryLayer::new(retries), secs(360));
        let ends = callers(&svc, "m", n).await;
        assert!(ends.iter().all(|e| e.status == Some(429)), "{ends:?}");
        assert!(ends.iter().all(|e| e.attempts <= Some(3)), "{ends:?}");
        // Both end when the third attempt's hold ends: about 180 s.
        assert!(
            ends.iter().all(|e| e.at > secs(180) && e.at < secs(186)),
            "coalesce {coalesce}: {ends:?}"
        );
        if coalesce {
            // The prober's three attempts, then one each for the others,
            // sent when the second probe failed.
            assert_eq!(endpoint.requests("m"), 3 + (n - 1));
        } else {
            assert_eq!(endpoint.requests("m"), 3 * n);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn waiters_hold_no_capacity_of_the_service_beneath() {
    // A concurrency limit of 2 beneath the retry layer: waiters that kept
    // the permit their ready service reserved would starve the prober.
    let endpoint = Endpoint::new(&[("m", cold(150))]);
    let retry = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().coalesce_cold_starts(ColdStarts::new()),
        ))
        .concurrency_limit(2)
        .into_inner();
    let svc = endpoint.client(retry, secs(360));
    let ends = callers(&svc, "m", 6).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    assert!(ends.iter().all(|e| e.at == secs(150)), "{ends:?}");
}

#[tokio::test(start_paused = true)]
async fn calls_together_on_a_warm_model_wait_for_the_first_unless_marked_ready() {
    let spec = ModelSpec::new(Duration::ZERO).latency(Duration::from_millis(10));
    for (cold_starts, second_burst) in [
        (ColdStarts::new(), Duration::from_millis(20)),
        (
            ColdStarts::with_ready_marks(secs(60)),
            Duration::from_millis(10),
        ),
    ] {
        let endpoint = Endpoint::new(&[("m", spec.clone())]);
        let svc = endpoint.client(
            ModelNotReadyRetryLayer::new(
                LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
            ),
            secs(360),
        );
        // The first burst on a key nobody knows: the others wait for the first's answer.
        let ends = callers(&svc, "m", 5).await;
        let mut at: Vec<_> = ends.iter().map(|e| e.at).collect();
        at.sort();
        assert_eq!(at, [10, 20, 20, 20, 20].map(Duration::from_millis));
        tokio::time::sleep(secs(30)).await;
        let ends = callers(&svc, "m", 5).await;
        assert!(ends.iter().all(|e| e.at <= second_burst), "{ends:?}");
        assert!(ends.iter().any(|e| e.at == second_burst), "{ends:?}");
        assert_eq!(endpoint.requests("m"), 10);
    }
}

#[tokio::test(start_paused = true)]
async fn state_is_held_only_for_models_with_calls() {
    let models: Vec<String> = (0..1_000).map(|i| format!("m{i}")).collect();
    let specs: Vec<(&str, ModelSpec)> = models
        .iter()
        .map(|m| (m.as_str(), ModelSpec::new(Duration::ZERO).latency(secs(1))))
        .collect();
    let endpoint = Endpoint::new(&specs);
    for (cold_starts, held_after) in [
        (ColdStarts::new(), 0),
        (ColdStarts::with_ready_marks(secs(10)), 1_000),
    ] {
        let svc = endpoint.client(
            ModelNotReadyRetryLayer::new(
                LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
            ),
            secs(360),
        );
        let start = Instant::now();
        let handles: Vec<_> = models.iter().map(|m| spawn_call(&svc, m, start)).collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(cold_starts.len(), 1_000, "one key per model being called");
        let ends = all(handles).await;
        assert!(ends.iter().all(|e| e.status == Some(200)));
        assert_eq!(cold_starts.len(), held_after);
        // Ready marks expire.
        tokio::time::sleep(secs(11)).await;
        assert_eq!(cold_starts.len(), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn a_ready_model_evicted_under_running_calls_gets_one_prober_again() {
    // Memory for one model: loading b evicts a, whose ready mark lives on.
    let emulator = Emulator::builder()
        .model("a", cold(100))
        .model("b", cold(100))
        .memory(ModelSpec::DEFAULT_SIZE)
        .build();
    let endpoint = Endpoint {
        emulator,
        log: Default::default(),
    };
    let decisions = Arc::new(Mutex::new(Vec::new()));
    let seen = decisions.clone();
    let retry = ModelNotReadyRetryLayer::new(
        LegacyRetries::new()
            .coalesce_cold_starts(ColdStarts::with_ready_marks(secs(3_600)))
            .on_event(move |event| {
                if let RetryEvent::Outcome(o) = event {
                    seen.lock().unwrap().push(o.decision);
                }
            }),
    );
    let svc = endpoint.client(retry, secs(360));
    for model in ["a", "b"] {
        let ends = callers(&svc, model, 1).await;
        assert_eq!(ends[0].status, Some(200));
    }
    assert_eq!(endpoint.emulator.stats("a").unwrap().evictions, 1);
    decisions.lock().unwrap().clear();

    // Both go (a is marked ready), both are held and get 429: the first to
    // hear it probes, the other waits for the probe.
    let ends = callers(&svc, "a", 2).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    assert!(ends.iter().all(|e| e.at == secs(100)), "{ends:?}");
    let mut decisions = decisions.lock().unwrap().clone();
    decisions.sort_by_key(|d| format!("{d:?}"));
    assert!(
        matches!(
            decisions[..],
            [
                Decision::Retry { .. },
                Decision::Return,
                Decision::Return,
                Decision::WaitForModel
            ]
        ),
        "{decisions:?}"
    );
    assert_eq!(endpoint.requests("a"), 2 + 2 + 2);
}

#[tokio::test]
async fn over_loopback_tcp_the_served_emulator_gets_n_requests_and_the_probes() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    // Real time, short cold start: held 150 ms, loaded at 400 ms.
    let n = 20;
    let server = Emulator::builder()
        .model("m", ModelSpec::new(Duration::from_millis(400)))
        .hold_timeout(Duration::from_millis(150))
        .build();
    let stats = server.clone();
    let server = server.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(secs(5)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new()
                .base_delay(Duration::from_millis(10))
                .coalesce_cold_starts(ColdStarts::new()),
        ))
        .service(client);
    let url = format!("{}/endpoints/demo/invocations", server.endpoint_url());
    let calls = (0..n).map(|_| {
        let req = http::Request::post(&url)
            .header("x-amzn-sagemaker-target-model", "m")
            .header("content-type", "text/csv")
            .body(Full::new(Bytes::from_static(b"1,2")))
            .unwrap();
        svc.clone().oneshot(req)
    });
    let ends = tokio::time::timeout(secs(5), futures_util::future::join_all(calls))
        .await
        .expect("calls done within 5 s");
    for end in &ends {
        assert_eq!(
            end.as_ref().map(|r| r.status().as_u16()).ok(),
            Some(200),
            "{end:?}"
        );
    }
    let stats = stats.stats("m").unwrap();
    assert_eq!((stats.invocations, stats.loads), (n, 1));
    // Held 150 ms twice before the load ends, then answered.
    assert_eq!(stats.not_ready, 2);
    server.shutdown().await;
}

#[cfg(feature = "retry-policy")]
#[tokio::test(start_paused = true)]
async fn the_policy_coalesces_from_the_first_429_on() {
    use tower_sagemaker::retry::LegacyRetryPolicy;

    let n = 20;
    let mut requests = Vec::new();
    for coalesce in [false, true] {
        let endpoint = Endpoint::new(&[("m", cold(150))]);
        let cold_starts = ColdStarts::new();
        let mut retries = LegacyRetries::new();
        if coalesce {
            retries = retries.coalesce_cold_starts(cold_starts.clone());
        }
        let policy = LegacyRetryPolicy::new(retries);
        let svc = endpoint.client(tower::retry::RetryLayer::new(policy), secs(360));
        let ends = callers(&svc, "m", n).await;
        assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
        assert!(ends.iter().all(|e| e.at == secs(150)), "{ends:?}");
        assert!(cold_starts.is_empty());
        requests.push(endpoint.requests("m"));
    }
    // Every first attempt goes out (a policy is asked only after one); then
    // one probe at a time, and one request per waiter once it answers.
    assert_eq!(requests, [3 * n, n + 2 + (n - 1)]);
}

#[cfg(feature = "retry-policy")]
#[tokio::test(start_paused = true)]
async fn with_the_policy_a_dropped_prober_hands_its_role_on() {
    use tower_sagemaker::retry::LegacyRetryPolicy;

    let endpoint = Endpoint::new(&[("m", cold(300))]);
    let cold_starts = ColdStarts::new();
    let policy =
        LegacyRetryPolicy::new(LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()));
    let svc = endpoint.client(tower::retry::RetryLayer::new(policy), secs(360));
    let start = Instant::now();
    let first = spawn_call(&svc, "m", start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let others: Vec<_> = (0..4).map(|_| spawn_call(&svc, "m", start)).collect();
    // All five are held and get 429 at 60 s; the first probes, the others wait.
    tokio::time::sleep(secs(90)).await;
    assert_eq!(endpoint.requests("m"), 5 + 1);
    first.abort();
    tokio::task::yield_now().await;
    // A waiter took the role at once, at 90 s.
    assert_eq!(endpoint.requests("m"), 5 + 1 + 1);
    let ends = all(others).await;
    assert!(ends.iter().all(|e| e.status == Some(200)), "{ends:?}");
    assert!(cold_starts.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_call_created_first_but_polled_last_holds_up_nobody() {
    // As `while let Some(f) = futures.pop() { f.await }` does: the second
    // future runs first. Calls join their model when they run.
    let endpoint = Endpoint::new(&[("m", ModelSpec::new(Duration::ZERO))]);
    let mut svc = endpoint.client(
        ModelNotReadyRetryLayer::new(LegacyRetries::new().coalesce_cold_starts(ColdStarts::new())),
        secs(360),
    );
    let first = svc.ready().await.unwrap().call(request("m"));
    let second = svc.ready().await.unwrap().call(request("m"));
    let res = tokio::time::timeout(secs(1), second)
        .await
        .expect("the second call does not wait for the first, unpolled");
    assert_eq!(res.unwrap().status(), 200);
    assert_eq!(first.await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_ready_mark_lasts_from_the_last_call_on() {
    let spec = ModelSpec::new(Duration::ZERO).latency(Duration::from_millis(10));
    let endpoint = Endpoint::new(&[("m", spec)]);
    let svc = endpoint.client(
        ModelNotReadyRetryLayer::new(
            LegacyRetries::new().coalesce_cold_starts(ColdStarts::with_ready_marks(secs(60))),
        ),
        secs(360),
    );
    callers(&svc, "m", 1).await;
    tokio::time::sleep(secs(50)).await;
    callers(&svc, "m", 1).await;
    // 70 s after the first call, 20 s after the last: still marked ready.
    tokio::time::sleep(secs(20)).await;
    let ends = callers(&svc, "m", 5).await;
    assert!(
        ends.iter().all(|e| e.at == Duration::from_millis(10)),
        "{ends:?}"
    );
}

#[cfg(feature = "retry-policy")]
#[tokio::test(start_paused = true)]
async fn with_the_policy_a_waiter_makes_no_attempt_after_its_deadline() {
    use tower_sagemaker::deadline::Deadline;
    use tower_sagemaker::retry::LegacyRetryPolicy;

    let endpoint = Endpoint::new(&[("m", cold(300))]);
    let cold_starts = ColdStarts::new();
    let late = Arc::new(Mutex::new(Vec::new()));
    let client = |budget: Duration| -> Svc {
        let (emulator, late) = (endpoint.emulator.clone(), late.clone());
        let inner = service_fn(move |req: Req| {
            if req
                .extensions()
                .get::<Deadline>()
                .is_some_and(Deadline::is_expired)
            {
                late.lock().unwrap().push(Instant::now());
            }
            let call = emulator.clone().oneshot(req);
            async move { Ok::<_, BoxError>(call.await?.map(drop)) }
        });
        BoxCloneService::new(
            ServiceBuilder::new()
                .map_response(|res: http::Response<_>| res.map(drop))
                .layer(DeadlineLayer::new(budget))
                .layer(tower::retry::RetryLayer::new(LegacyRetryPolicy::new(
                    LegacyRetries::new().coalesce_cold_starts(cold_starts.clone()),
                )))
                .service(inner),
        )
    };
    let (patient, hurried) = (client(secs(360)), client(secs(100)));
    let start = Instant::now();
    let prober = spawn_call(&patient, "m", start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    // Held, 429 at 60 s, then waits for the prober's probe past its deadline.
    let waiter = spawn_call(&hurried, "m", start).await.unwrap();
    assert!(waiter.deadline_exceeded, "{waiter:?}");
    assert_eq!(waiter.at, secs(100) + Duration::from_millis(1));
    prober.abort();
    assert!(late.lock().unwrap().is_empty(), "attempts after a deadline");
}

/// Ready marks last their `ttl` after a key's last call; `Duration::MAX`
/// keeps them for ever (it was past the clock's range, and kept none).
#[tokio::test(start_paused = true)]
async fn ready_marks_of_duration_max_last_for_ever() {
    for (ttl, kept_after_ten_years) in [(secs(3_600), false), (Duration::MAX, true)] {
        let cold = ColdStarts::with_ready_marks(ttl);
        let svc = ServiceBuilder::new()
            .layer(ModelNotReadyRetryLayer::new(
                LegacyRetries::new().coalesce_cold_starts(cold.clone()),
            ))
            .service(service_fn(|_req: http::Request<Full<Bytes>>| async {
                Ok::<_, BoxError>(http::Response::new(()))
            }));
        let req = http::Request::post("http://h/endpoints/demo/invocations")
            .header("x-amzn-sagemaker-target-model", "m")
            .body(Full::new(Bytes::from_static(b"1,2")))
            .unwrap();
        assert_eq!(svc.oneshot(req).await.unwrap().status(), 200);
        assert_eq!(cold.len(), 1, "{ttl:?}: marked ready");
        tokio::time::advance(secs(86_400 * 365 * 10)).await;
        assert_eq!(cold.len(), usize::from(kept_after_ten_years), "{ttl:?}");
    }
}
