//! Riding an inference component's scale-out from zero through, on tokio's
//! paused clock: the no-capacity rule, its pacing, the deadline, sharing
//! among callers, and the body the caller gets back.
#![cfg(all(feature = "scale-from-zero", feature = "retry-policy"))]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::time::Instant;
use tower::retry::RetryLayer;
use tower::util::BoxCloneService;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::{DeadlineBody, DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::retry::{
    Attempts, ColdStarts, Decision, LegacyRetries, LegacyRetryPolicy, ModelNotReadyRetryLayer,
    NoCapacity, RetryEvent, RetryReason,
};
use tower_sagemaker::sagemaker::{
    INFERENCE_COMPONENT_HEADER, NO_CAPACITY_MESSAGE, SDK_REQUEST_HEADER,
};
use tower_sagemaker::scale_from_zero::{NoCapacityLayer, PeekedBody};

type Req = http::Request<Full<Bytes>>;
type Res = http::Response<Full<Bytes>>;
type Endpoint = BoxCloneService<Req, Res, BoxError>;
type Stack = BoxCloneService<Req, http::Response<DeadlineBody<PeekedBody<Full<Bytes>>>>, BoxError>;

const SCALE_OUT: Duration = Duration::from_secs(240);

/// What a fake endpoint saw of one component.
#[derive(Debug, Default)]
struct Seen {
    // When each request came, since the start.
    requests: Vec<Duration>,
    no_capacity: u32,
    ready_at: Option<Instant>,
}

/// A fake endpoint hosting components at zero copies: each gets its copy
/// `scale_out` after its first failed call, and answers 400 no-capacity
/// until then.
#[derive(Clone)]
struct Components {
    start: Instant,
    scale_out: Arc<dyn Fn(&str) -> Duration + Send + Sync>,
    seen: Arc<Mutex<std::collections::HashMap<String, Seen>>>,
}

impl Components {
    fn new(scale_out: Duration) -> Self {
        Self::each(move |_| scale_out)
    }

    fn each(scale_out: impl Fn(&str) -> Duration + Send + Sync + 'static) -> Self {
        Self {
            start: Instant::now(),
            scale_out: Arc::new(scale_out),
            seen: Default::default(),
        }
    }

    fn answer(&self, req: &Req) -> Res {
        let component = req
            .headers()
            .get(INFERENCE_COMPONENT_HEADER)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        let seen = seen.entry(component.clone()).or_default();
        seen.requests.push(now - self.start);
        let ready_at = *seen
            .ready_at
            .get_or_insert_with(|| now + (self.scale_out)(&component));
        if now >= ready_at {
            return http::Response::new(Full::new(Bytes::from("8.0")));
        }
        seen.no_capacity += 1;
        no_capacity()
    }

    fn service(&self) -> Endpoint {
        let this = self.clone();
        BoxCloneService::new(service_fn(move |req: Req| {
            let res = this.answer(&req);
            async move { Ok::<_, BoxError>(res) }
        }))
    }

    fn requests(&self, component: &str) -> Vec<Duration> {
        self.seen.lock().unwrap()[component].requests.clone()
    }

    fn ready_at(&self, component: &str) -> Duration {
        self.seen.lock().unwrap()[component].ready_at.unwrap() - self.start
    }
}

fn error_response(code: &str, message: &str) -> Res {
    let body = serde_json::json!({ "message": message }).to_string();
    http::Response::builder()
        .status(400)
        .header(
            "x-amzn-errortype",
            format!("{code}:http://internal.amazon.com/coral/com.amazon.sagemaker/"),
        )
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

fn no_capacity() -> Res {
    error_response("ValidationError", NO_CAPACITY_MESSAGE)
}

fn request(component: &str) -> Req {
    http::Request::post("http://ep.test/endpoints/demo/invocations")
        .header(INFERENCE_COMPONENT_HEADER, component)
        .body(Full::new(Bytes::from("1,2,3")))
        .unwrap()
}

/// The outcome events of every call, owned: (attempt, reason, decision,
/// time since the first no-capacity answer, component).
type Outcomes = Arc<
    Mutex<
        Vec<(
            u32,
            Option<RetryReason>,
            Decision,
            Option<Duration>,
            Option<String>,
        )>,
    >,
>;

fn recorded(retries: LegacyRetries) -> (LegacyRetries, Outcomes) {
    let log = Outcomes::default();
    let sink = log.clone();
    let retries = retries.on_event(move |event| {
        if let RetryEvent::Outcome(o) = event {
            sink.lock().unwrap().push((
                o.attempt,
                o.reason,
                o.decision,
                o.since_first_no_capacity,
                o.inference_component.map(str::to_owned),
            ));
        }
    });
    (retries, log)
}

/// The recommended stack's shape, with `budget` and `retries`.
fn stack(budget: Duration, retries: LegacyRetries, endpoint: Endpoint) -> Stack {
    BoxCloneService::new(
        ServiceBuilder::new()
            .layer(DeadlineLayer::new(budget))
            .layer(ModelNotReadyRetryLayer::new(retries))
            .layer(NoCapacityLayer::new())
            .service(endpoint),
    )
}

fn answering(message: &'static str) -> Endpoint {
    BoxCloneService::new(service_fn(move |_req: Req| async move {
        Ok::<_, BoxError>(error_response("ValidationError", message))
    }))
}

#[tokio::test(start_paused = true)]
async fn a_call_rides_a_scale_out_through_paced_10_to_30_s_apart() {
    let endpoint = Components::new(SCALE_OUT);
    let (retries, log) = recorded(LegacyRetries::new().scale_from_zero());
    let svc = stack(Duration::from_secs(600), retries, endpoint.service());

    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 200);
    let attempts = res.extensions().get::<Attempts>().unwrap().count();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "8.0");

    let requests = endpoint.requests("ic-a");
    assert_eq!(requests.len() as u32, attempts);
    // Far more than botocore's 5 attempts: the deadline, not max_retries, bounds them.
    assert!(attempts > 5, "{attempts} attempts");
    for gap in requests.windows(2).map(|w| w[1] - w[0]) {
        assert!(
            gap >= Duration::from_secs(10) && gap < Duration::from_secs(30),
            "{gap:?} between attempts"
        );
    }
    let ready = endpoint.ready_at("ic-a");
    let last = *requests.last().unwrap();
    assert!(last >= ready && last - ready < Duration::from_secs(30));

    let outcomes = log.lock().unwrap().clone();
    let (last_attempt, reason, decision, waited, component) = outcomes.last().unwrap().clone();
    assert_eq!(
        (last_attempt, reason, decision),
        (attempts, None, Decision::Return)
    );
    assert_eq!(
        waited,
        Some(last),
        "time since the first no-capacity answer"
    );
    assert_eq!(component.as_deref(), Some("ic-a"));
    for (_, reason, decision, _, _) in &outcomes[..outcomes.len() - 1] {
        assert_eq!(*reason, Some(RetryReason::NoCapacity));
        assert!(matches!(decision, Decision::Retry { .. }));
    }
}

/// Each paced answer raises the budget that `amz-sdk-request` states by one,
/// as the AWS SDK integration raises `max_attempts`: no attempt says it is
/// past its `max`.
#[tokio::test(start_paused = true)]
async fn the_attempt_headers_max_grows_with_each_paced_answer() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let endpoint = {
        let seen = seen.clone();
        BoxCloneService::new(service_fn(move |req: Req| {
            let mut seen = seen.lock().unwrap();
            let header = &req.headers()[SDK_REQUEST_HEADER];
            seen.push(header.to_str().unwrap().to_owned());
            let res = match seen.len() {
                1..=6 => no_capacity(),
                _ => http::Response::new(Full::new(Bytes::from("8.0"))),
            };
            async move { Ok::<_, BoxError>(res) }
        }))
    };
    let retries = LegacyRetries::new().scale_from_zero();
    let svc = stack(Duration::from_secs(600), retries, endpoint);
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 200);
    let expected: Vec<String> = (1..=7)
        .map(|n| format!("attempt={n}; max={}", 4 + n))
        .collect();
    assert_eq!(*seen.lock().unwrap(), expected);
}

#[tokio::test(start_paused = true)]
async fn without_the_rule_the_no_capacity_answer_is_final() {
    let endpoint = Components::new(SCALE_OUT);
    let svc = stack(
        Duration::from_secs(600),
        LegacyRetries::new(),
        endpoint.service(),
    );
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
    // The layer marked it; the classifier without the rule does not retry it.
    assert!(res.extensions().get::<NoCapacity>().is_some());
}

#[tokio::test(start_paused = true)]
async fn a_plain_validation_error_is_never_retried_and_reaches_the_caller_whole() {
    let messages = [
        "Inference Component Name header is required for endpoints to which you plan to deploy inference components.",
        // The sentence, but not at the start.
        "Note: Inference Component has no capacity to process this request.",
        // Close, but another sentence.
        "Inference Component has no capacity to process this request today",
    ];
    for message in messages {
        let svc = stack(
            Duration::from_secs(600),
            LegacyRetries::new().scale_from_zero(),
            answering(message),
        );
        let res = svc.oneshot(request("ic-a")).await.unwrap();
        assert_eq!(res.status(), 400, "{message}");
        assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
        assert!(res.extensions().get::<NoCapacity>().is_none());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, serde_json::json!({ "message": message }).to_string());
    }
    // The message, with another code or status: not the answer either.
    for res in [error_response("ModelError", NO_CAPACITY_MESSAGE), {
        let mut res = no_capacity();
        *res.status_mut() = http::StatusCode::FAILED_DEPENDENCY;
        res
    }] {
        let status = res.status();
        let res = Arc::new(Mutex::new(Some(res)));
        let svc = stack(
            Duration::from_secs(600),
            LegacyRetries::new().scale_from_zero(),
            BoxCloneService::new(service_fn(move |_req: Req| {
                let res = res.lock().unwrap().take().expect("one attempt");
                async move { Ok::<_, BoxError>(res) }
            })),
        );
        let res = svc.oneshot(request("ic-a")).await.unwrap();
        assert_eq!(res.status(), status);
        assert!(res.extensions().get::<NoCapacity>().is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_the_ride() {
    let endpoint = Components::new(SCALE_OUT);
    let (retries, log) = recorded(LegacyRetries::new().scale_from_zero());
    let svc = stack(Duration::from_secs(90), retries, endpoint.service());
    let start = Instant::now();
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    // The last answer, when the next backoff would end past the deadline.
    assert_eq!(res.status(), 400);
    assert!(start.elapsed() < Duration::from_secs(90));
    let decision = log.lock().unwrap().last().unwrap().2;
    assert_eq!(decision, Decision::DeadlineWouldPass);
}

#[tokio::test(start_paused = true)]
async fn without_a_deadline_no_capacity_retries_keep_botocores_budget() {
    let endpoint = Components::new(SCALE_OUT);
    let svc = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().scale_from_zero(),
        ))
        .layer(NoCapacityLayer::new())
        .service(endpoint.service());
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 5);
}

/// A caller without a deadline (its no-capacity answers count against
/// botocore's budget) that shares coalescing with a caller whose deadline
/// paces its retries: the no-capacity probes it waits through count as its
/// attempts, so it ends within its budget, as without coalescing, rather
/// than when the paced prober gives up minutes later.
#[tokio::test(start_paused = true)]
async fn a_caller_without_a_deadline_waits_through_paced_probes_within_its_budget() {
    for coalesce in [false, true] {
        let endpoint = Components::new(Duration::from_secs(3600));
        let cold = ColdStarts::new();
        let retries = || {
            let retries = LegacyRetries::new().scale_from_zero();
            match coalesce {
                true => retries.coalesce_cold_starts(cold.clone()),
                false => retries,
            }
        };
        let prober = tokio::spawn(
            stack(Duration::from_secs(600), retries(), endpoint.service()).oneshot(request("ic-a")),
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        let start = Instant::now();
        let waiter = ServiceBuilder::new()
            .layer(ModelNotReadyRetryLayer::new(retries()))
            .layer(NoCapacityLayer::new())
            .service(endpoint.service());
        let res = waiter.oneshot(request("ic-a")).await.unwrap();
        assert_eq!(res.status(), 400, "coalesce {coalesce}");
        // botocore's five attempts take at most 1 + 2 + 4 + 8 s of backoff;
        // coalesced, the wait for the prober's paced probes (10 to 30 s
        // apart) ends after as many of them.
        let limit = match coalesce {
            false => Duration::from_secs(15),
            true => Duration::from_secs(5 * 30),
        };
        assert!(
            start.elapsed() <= limit,
            "coalesce {coalesce}: {:?}",
            start.elapsed()
        );
        prober.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn the_policy_rides_it_through_too() {
    let endpoint = Components::new(SCALE_OUT);
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(600)))
        .layer(RetryLayer::new(LegacyRetryPolicy::new(
            LegacyRetries::new().scale_from_zero(),
        )))
        .layer(NoCapacityLayer::new())
        .service(endpoint.service());
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(endpoint.requests("ic-a").len() > 5);
}

/// Runs `n` callers at once on `components` (round robin) through one
/// shared stack; returns each caller's status and end time.
async fn callers(svc: Stack, n: usize, components: &[&'static str]) -> Vec<(u16, Duration)> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..n {
        let svc = svc.clone();
        let component = components[i % components.len()];
        tasks.push(tokio::spawn(async move {
            let res = svc.oneshot(request(component)).await;
            let status = res.map_or(0, |r| r.status().as_u16());
            (status, start.elapsed())
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(start_paused = true)]
async fn shared_one_call_probes_and_the_others_send_once_ready() {
    let endpoint = Components::new(SCALE_OUT);
    let retries = LegacyRetries::new()
        .scale_from_zero()
        .coalesce_cold_starts(ColdStarts::new());
    let svc = stack(Duration::from_secs(600), retries, endpoint.service());
    let n = 50;
    let ends = callers(svc, n, &["ic-a"]).await;
    assert!(ends.iter().all(|(status, _)| *status == 200), "{ends:?}");

    let requests = endpoint.requests("ic-a");
    let ready = endpoint.ready_at("ic-a");
    let before: Vec<_> = requests.iter().filter(|t| **t < ready).collect();
    // One call probes: at most N + one request per probe interval (30 s).
    let probes = (SCALE_OUT.as_secs() / 10) as usize + 1;
    assert!(requests.len() <= n + probes, "{} requests", requests.len());
    assert!(
        before.len() <= probes,
        "{} requests before ready",
        before.len()
    );
    // The scale-out is not starved: a failed call reaches the endpoint at
    // least every 30 s until the copy is ready.
    for gap in before.windows(2).map(|w| *w[1] - *w[0]) {
        assert!(gap < Duration::from_secs(30), "{gap:?} without a probe");
    }
    // Every caller is served within one probe interval of the copy being ready.
    for (_, end) in &ends {
        assert!(
            *end >= ready && *end - ready < Duration::from_secs(30),
            "{end:?} vs {ready:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn two_components_are_two_keys() {
    let endpoint = Components::each(|c| match c {
        "ic-fast" => Duration::from_secs(60),
        _ => SCALE_OUT,
    });
    let retries = LegacyRetries::new()
        .scale_from_zero()
        .coalesce_cold_starts(ColdStarts::new());
    let svc = stack(Duration::from_secs(600), retries, endpoint.service());
    let ends = callers(svc, 20, &["ic-fast", "ic-slow"]).await;
    assert!(ends.iter().all(|(status, _)| *status == 200), "{ends:?}");
    for (i, (_, end)) in ends.iter().enumerate() {
        let component = ["ic-fast", "ic-slow"][i % 2];
        let ready = endpoint.ready_at(component);
        assert!(
            *end >= ready && *end - ready < Duration::from_secs(30),
            "{component} {end:?}"
        );
    }
    assert!(endpoint.ready_at("ic-fast") < Duration::from_secs(61));
}

#[tokio::test(start_paused = true)]
async fn a_dropped_prober_hands_over() {
    let endpoint = Components::new(SCALE_OUT);
    let retries = LegacyRetries::new()
        .scale_from_zero()
        .coalesce_cold_starts(ColdStarts::new());
    let svc = stack(Duration::from_secs(600), retries, endpoint.service());

    // The prober goes first and gets the first no-capacity answer.
    let prober = tokio::spawn(svc.clone().oneshot(request("ic-a")));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let waiter = tokio::spawn(svc.clone().oneshot(request("ic-a")));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(endpoint.requests("ic-a").len(), 1, "the waiter waits");
    prober.abort();
    tokio::time::sleep(Duration::from_millis(1)).await;
    // The waiter takes the role at once and probes on.
    let requests = endpoint.requests("ic-a");
    assert_eq!(requests.len(), 2);
    assert!(requests[1] < Duration::from_secs(6));
    let res = waiter.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_caller_ends_at_its_deadline() {
    let endpoint = Components::new(SCALE_OUT);
    let retries = LegacyRetries::new()
        .scale_from_zero()
        .coalesce_cold_starts(ColdStarts::new());
    let long = stack(
        Duration::from_secs(600),
        retries.clone(),
        endpoint.service(),
    );
    let short = stack(Duration::from_secs(60), retries, endpoint.service());
    let prober = tokio::spawn(long.oneshot(request("ic-a")));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let start = Instant::now();
    let err = short.oneshot(request("ic-a")).await.unwrap_err();
    assert!(err.downcast_ref::<DeadlineExceeded>().is_some(), "{err}");
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert_eq!(prober.await.unwrap().unwrap().status(), 200);
}

/// A 400 `ValidationError` whose body comes in frames, over the limit or
/// broken: the caller reads exactly what the endpoint sent.
#[tokio::test(start_paused = true)]
async fn the_body_read_is_handed_on_whole() {
    type Frames = Vec<Result<http_body::Frame<Bytes>, BoxError>>;
    let answer = |frames: Frames| {
        let frames = Arc::new(Mutex::new(Some(frames)));
        ServiceBuilder::new()
            .layer(NoCapacityLayer::new().limit(64))
            .service(service_fn(move |_req: Req| {
                let frames = frames.lock().unwrap().take().unwrap();
                async move {
                    let body = StreamBody::new(futures_util::stream::iter(frames));
                    Ok::<_, BoxError>(
                        http::Response::builder()
                            .status(400)
                            .header("x-amzn-errortype", "ValidationError")
                            .body(body)
                            .unwrap(),
                    )
                }
            }))
    };
    let data = |s: &str| Ok(http_body::Frame::data(Bytes::from(s.to_owned())));

    // Split in frames: still recognised, and replayed.
    let whole = format!(r#"{{"message":"{NO_CAPACITY_MESSAGE}"}}"#);
    let (a, b) = whole.split_at(20);
    let svc = ServiceBuilder::new()
        .layer(NoCapacityLayer::new())
        .service(answer(vec![data(a), data(b)]).into_inner());
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert!(res.extensions().get::<NoCapacity>().is_some());
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), whole);

    // Past the limit: not read further, handed on whole.
    let long = "x".repeat(100);
    let res = answer(vec![data(&long[..50]), data(&long[50..]), data("!")])
        .oneshot(request("ic-a"))
        .await
        .unwrap();
    assert!(res.extensions().get::<NoCapacity>().is_none());
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        format!("{long}!")
    );

    // Broken after a frame: the frame, then the error.
    let res = answer(vec![data("{\"mess"), Err("connection reset".into())])
        .oneshot(request("ic-a"))
        .await
        .unwrap();
    let mut body = res.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "{\"mess");
    let err = body.frame().await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "connection reset");
    // Nothing after the error.
    assert!(body.frame().await.is_none());

    // Read to its end: in memory, said so, and the inner body is not
    // polled again (a `futures` stream that has ended would panic).
    let whole = format!(r#"{{"message":"{NO_CAPACITY_MESSAGE}"}}"#);
    let text = whole.clone();
    let svc = ServiceBuilder::new()
        .layer(NoCapacityLayer::new())
        .service(service_fn(move |_req: Req| {
            let text = text.clone();
            let ended_once = futures_util::stream::unfold(Some(text), |left| async move {
                left.map(|s| {
                    (
                        Ok::<_, BoxError>(http_body::Frame::data(Bytes::from(s))),
                        None,
                    )
                })
            });
            let body = StreamBody::new(Box::pin(ended_once));
            async move {
                Ok::<_, BoxError>(
                    http::Response::builder()
                        .status(400)
                        .header("x-amzn-errortype", "ValidationError")
                        .body(body)
                        .unwrap(),
                )
            }
        }));
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert!(res.extensions().get::<NoCapacity>().is_some());
    let body = res.into_body();
    assert_eq!(body.size_hint().exact(), Some(whole.len() as u64));
    assert!(!body.is_end_stream());
    let mut body = body;
    assert_eq!(
        body.frame().await.unwrap().unwrap().into_data().unwrap(),
        whole
    );
    assert!(body.is_end_stream());
    assert!(body.frame().await.is_none());
}

/// A 400 `ValidationError` whose body breaks while it is read within the
/// attempt is retried, as botocore retries a failure reading an error body.
#[tokio::test(start_paused = true)]
async fn a_broken_error_body_is_retried() {
    type Frames = Vec<Result<http_body::Frame<Bytes>, BoxError>>;
    let calls = Arc::new(Mutex::new(0));
    let endpoint = {
        let calls = calls.clone();
        service_fn(move |_req: Req| {
            let n = {
                let mut calls = calls.lock().unwrap();
                *calls += 1;
                *calls
            };
            async move {
                let (status, frames): (u16, Frames) = match n {
                    1 => (
                        400,
                        vec![
                            Ok(http_body::Frame::data(Bytes::from_static(
                                b"{\"message\":\"Inf",
                            ))),
                            Err("connection reset".into()),
                        ],
                    ),
                    _ => (
                        200,
                        vec![Ok(http_body::Frame::data(Bytes::from_static(b"8.0")))],
                    ),
                };
                let mut res = http::Response::builder().status(status);
                if status == 400 {
                    res = res.header("x-amzn-errortype", "ValidationError");
                }
                Ok::<_, BoxError>(
                    res.body(StreamBody::new(futures_util::stream::iter(frames)))
                        .unwrap(),
                )
            }
        })
    };
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(600)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().scale_from_zero(),
        ))
        .layer(NoCapacityLayer::new())
        .service(endpoint);
    let res = svc.oneshot(request("ic-a")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 2);
    assert_eq!(*calls.lock().unwrap(), 2);
    // The reason the classifier gives it.
    let broken = http::Response::builder()
        .status(400)
        .header("x-amzn-errortype", "ValidationError")
        .extension(tower_sagemaker::retry::ErrorBodyReadFailed::new())
        .body(())
        .unwrap();
    let classifier = tower_sagemaker::retry::RetryClassifier::legacy();
    assert_eq!(
        classifier.classify_http_response(&broken),
        Some(RetryReason::BodyRead)
    );
}

/// With `component_label`, a ridden scale-out records its retries and its
/// wait under the component's name.
#[cfg(feature = "metrics")]
#[test]
fn metrics_record_the_scale_out_wait_per_component() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower_sagemaker::retry::RetryMetrics;

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let waited = metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let endpoint = Components::new(SCALE_OUT);
            let metrics = RetryMetrics::new().component_label(true);
            let retries = LegacyRetries::new()
                .scale_from_zero()
                .on_event(move |e| metrics.record(e));
            let svc = stack(Duration::from_secs(600), retries, endpoint.service());
            let res = svc.oneshot(request("ic-a")).await.unwrap();
            assert_eq!(res.status(), 200);
            (
                endpoint.requests("ic-a").len(),
                *endpoint.requests("ic-a").last().unwrap(),
            )
        })
    });
    let (requests, last) = waited;
    let mut seen = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let value = match value {
            DebugValue::Counter(n) => n as f64,
            DebugValue::Gauge(g) => g.into_inner(),
            DebugValue::Histogram(h) => h.iter().map(|v| v.into_inner()).sum(),
        };
        seen.insert(format!("{}{{{}}}", key.name(), labels.join(",")), value);
    }
    assert_eq!(
        seen["tower_sagemaker_retries_total{component=ic-a,reason=no_capacity}"],
        (requests - 1) as f64,
        "{seen:#?}"
    );
    assert_eq!(
        seen["tower_sagemaker_scale_out_wait_seconds{component=ic-a}"],
        last.as_secs_f64()
    );
    assert!(!seen
        .keys()
        .any(|k| k.starts_with("tower_sagemaker_cold_start_wait")));
}

/// The recommended stack against the emulator's component, in-process on
/// the paused clock: a 4-minute scale-out ridden through.
#[cfg(all(
    feature = "emulator",
    feature = "invoke-headers",
    feature = "read-timeout"
))]
#[tokio::test(start_paused = true)]
async fn the_recommended_stack_rides_the_emulators_scale_out() {
    use tower_sagemaker::emulator::{ComponentSpec, Emulator};
    use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
    use tower_sagemaker::ServiceBuilderExt;

    let emulator = Emulator::builder()
        .inference_component("ic-a", ComponentSpec::new())
        .unwrap()
        .build();
    let component = InvokeHeaders::new().with(InvokeHeader::inference_component("ic-a").unwrap());
    let svc = ServiceBuilder::new()
        .inference_component(component)
        .service(emulator.clone());
    let start = Instant::now();
    let req = http::Request::post("http://ep.test/endpoints/demo/invocations")
        .header("content-type", "text/csv")
        .body(Full::new(Bytes::from("1.0,2.0,5.0")))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    let attempts = res.extensions().get::<Attempts>().unwrap().count();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(240) && took < Duration::from_secs(270),
        "{took:?}"
    );
    let stats = emulator.component_stats("ic-a").unwrap();
    // One scale-out; one call served; every attempt before it found no copy.
    assert_eq!((stats.scale_outs, stats.invocations), (1, 1));
    assert_eq!(stats.no_capacity, u64::from(attempts) - 1);
}

/// Over loopback TCP against the served emulator, with a short scale-out
/// and pacing (real time, under a second).
#[cfg(all(feature = "emulator", feature = "read-timeout"))]
#[tokio::test]
async fn over_loopback_the_served_emulators_scale_out_is_ridden_through() {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tower_sagemaker::emulator::{ComponentSpec, Emulator};
    use tower_sagemaker::read_timeout::ReadTimeoutLayer;
    use tower_sagemaker::retry::LegacyBackoff;

    let emulator = Emulator::builder()
        .inference_component(
            "ic-a",
            ComponentSpec::new().scale_out_time(Duration::from_millis(300)),
        )
        .unwrap()
        .build();
    let server = emulator.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let pacing = LegacyBackoff::new()
        .base_delay(Duration::from_millis(100))
        .max_delay(Duration::from_millis(150))
        .min_delay(Duration::from_millis(50));
    let (retries, log) = recorded(
        LegacyRetries::new()
            .scale_from_zero()
            .scale_out_backoff(pacing),
    );
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(5)))
        .layer(ModelNotReadyRetryLayer::new(retries))
        .layer(NoCapacityLayer::new())
        .layer(ReadTimeoutLayer::new(Duration::from_secs(5)))
        .service(client);
    let req = http::Request::post(format!(
        "{}/endpoints/demo/invocations",
        server.endpoint_url()
    ))
    .header(INFERENCE_COMPONENT_HEADER, "ic-a")
    .header("content-type", "text/csv")
    .body(Full::new(Bytes::from("1.0,2.0,5.0")))
    .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "8.0");
    let outcomes = log.lock().unwrap().clone();
    assert!(outcomes.len() >= 3, "{outcomes:?}");
    for (_, reason, _, _, component) in &outcomes[..outcomes.len() - 1] {
        assert_eq!(*reason, Some(RetryReason::NoCapacity));
        assert_eq!(component.as_deref(), Some("ic-a"));
    }
    let waited = outcomes.last().unwrap().3.unwrap();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    server.shutdown().await;
}
