//! Every way a call through the retry layer or the retry policy ends, on
//! tokio's paused clock: each reports exactly one final outcome, as its last
//! event, with the decision and error the caller sees.
#![cfg(all(feature = "retry-policy", feature = "deadline",))]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use tower::retry::RetryLayer;
use tower::util::Either;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::{Deadline, DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::retry::{
    ColdStarts, Decision, LegacyRetries, LegacyRetryPolicy, ModelNotReadyRetryLayer, RetryEvent,
};

/// An outcome event, owned.
#[derive(Debug, Clone, PartialEq)]
struct Ended {
    attempt: u32,
    status: Option<u16>,
    error: Option<String>,
    decision: Decision,
}

/// Records the outcome events (attempt starts are counted, not kept).
#[derive(Clone, Default)]
struct Log {
    outcomes: Arc<Mutex<Vec<Ended>>>,
    attempts: Arc<AtomicU32>,
}

impl Log {
    fn retries(&self) -> LegacyRetries {
        let log = self.clone();
        LegacyRetries::new()
            .base_delay(Duration::from_secs(1))
            .on_event(move |event| match event {
                RetryEvent::Attempt { .. } => {
                    log.attempts.fetch_add(1, Ordering::SeqCst);
                }
                RetryEvent::Outcome(o) => log.outcomes.lock().unwrap().push(Ended {
                    attempt: o.attempt,
                    status: o.status.map(|s| s.as_u16()),
                    error: o.error.map(|e| e.to_string()),
                    decision: o.decision,
                }),
                _ => {}
            })
    }

    /// The one final outcome, checked to be the last event.
    fn ending(&self) -> Ended {
        let outcomes = self.outcomes.lock().unwrap().clone();
        let finals: Vec<_> = outcomes.iter().filter(|o| o.decision.is_final()).collect();
        assert_eq!(finals.len(), 1, "one final outcome: {outcomes:#?}");
        assert!(
            outcomes.last().unwrap().decision.is_final(),
            "{outcomes:#?}"
        );
        finals[0].clone()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn layer(retries: LegacyRetries) -> ModelNotReadyRetryLayer {
    ModelNotReadyRetryLayer::new(retries).no_attempt_timeout()
}

/// A call through `DeadlineLayer` and the retry layer, or the retry policy.
async fn through(
    policy: bool,
    retries: LegacyRetries,
    budget: Duration,
    steps: Vec<Step>,
) -> Result<u16, BoxError> {
    let retry = match policy {
        false => Either::Left(layer(retries)),
        true => Either::Right(RetryLayer::new(LegacyRetryPolicy::new(retries))),
    };
    ServiceBuilder::new()
        .layer(DeadlineLayer::new(budget))
        .layer(retry)
        .service(Scripted::new(steps))
        .oneshot(request("1"))
        .await
        .map(|res| res.status().as_u16())
}

fn is_deadline(err: &BoxError) -> bool {
    err.downcast_ref::<DeadlineExceeded>().is_some()
}

#[tokio::test(start_paused = true)]
async fn a_response_ends_the_call_once() {
    for policy in [false, true] {
        let log = Log::default();
        let steps = vec![error_code(503, "ServiceUnavailable"), respond(200)];
        let res = through(policy, log.retries(), secs(60), steps).await;
        assert_eq!(res.unwrap(), 200);
        let end = log.ending();
        assert_eq!((end.attempt, end.status), (2, Some(200)), "policy {policy}");
        assert_eq!(end.decision, Decision::Return);
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_not_retried_ends_the_call_once() {
    for policy in [false, true] {
        let log = Log::default();
        let steps = vec![Step::Other("bad signature")];
        let err = through(policy, log.retries(), secs(60), steps)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "bad signature");
        let end = log.ending();
        assert_eq!(end.attempt, 1);
        assert_eq!(end.error.as_deref(), Some("bad signature"));
        assert_eq!(end.decision, Decision::Return);
    }
}

#[tokio::test(start_paused = true)]
async fn running_out_of_retries_ends_the_call_once() {
    for policy in [false, true] {
        let log = Log::default();
        let retries = log.retries().max_retries(2);
        let steps = vec![respond(500); 3];
        let res = through(policy, retries, secs(60), steps).await;
        assert_eq!(res.unwrap(), 500);
        let end = log.ending();
        assert_eq!((end.attempt, end.status), (3, Some(500)));
        assert_eq!(end.decision, Decision::RetriesExhausted);
    }
}

#[tokio::test(start_paused = true)]
async fn a_backoff_past_the_deadline_ends_the_call_once() {
    // A backoff drawn from [0, 10^6 s) ends after a 5 ms deadline (but
    // once in 200 million draws).
    for policy in [false, true] {
        let log = Log::default();
        let retries = log.retries().base_delay(secs(1_000_000));
        let steps = vec![respond(500), respond(500)];
        let res = through(policy, retries, Duration::from_millis(5), steps).await;
        assert_eq!(res.unwrap(), 500);
        let end = log.ending();
        assert_eq!(end.decision, Decision::DeadlineWouldPass, "{end:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_deadline_during_an_attempt_ends_the_call_once() {
    let log = Log::default();
    let err = through(false, log.retries(), secs(30), vec![Step::Hang])
        .await
        .unwrap_err();
    assert!(is_deadline(&err), "{err}");
    let end = log.ending();
    assert_eq!(end.attempt, 1);
    assert_eq!(end.decision, Decision::DeadlineExceeded);

    // The policy's attempt is cut by `DeadlineLayer` above: the call reports
    // its end as it is dropped.
    let log = Log::default();
    let err = through(
        true,
        log.retries(),
        secs(30),
        vec![respond(503), Step::Hang],
    )
    .await
    .unwrap_err();
    assert!(is_deadline(&err), "{err}");
    let end = log.ending();
    assert_eq!(end.attempt, 2);
    assert_eq!(end.decision, Decision::DeadlineExceeded);
    assert!(end.error.unwrap().contains("deadline"));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_while_waiting_for_a_probe_ends_the_call_once() {
    // Two calls on one cold model share the layer: the first probes and is
    // held 60 s; the second waits for it and reaches its 10 s deadline.
    let prober_log = Log::default();
    let waiter_log = Log::default();
    let cold = ColdStarts::new();
    let endpoint = Scripted::new([
        Step::After(
            secs(60),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        respond(200),
        respond(200),
    ]);
    let svc = |log: &Log| {
        ServiceBuilder::new()
            .layer(layer(log.retries().coalesce_cold_starts(cold.clone())))
            .service(endpoint.clone())
    };
    let with = |budget| {
        let mut req = request("1");
        req.headers_mut()
            .insert("x-amzn-sagemaker-target-model", "m".parse().unwrap());
        req.extensions_mut().insert(Deadline::after(budget));
        req
    };
    let prober = tokio::spawn(svc(&prober_log).oneshot(with(secs(120))));
    tokio::task::yield_now().await;
    let err = svc(&waiter_log).oneshot(with(secs(10))).await.unwrap_err();
    assert!(is_deadline(&err), "{err}");
    let end = waiter_log.ending();
    assert_eq!(end.attempt, 0, "it never sent: {end:?}");
    assert_eq!(waiter_log.attempts.load(Ordering::SeqCst), 0);
    assert_eq!(end.decision, Decision::DeadlineExceeded);
    assert!(prober.await.unwrap().is_ok());
    assert_eq!(prober_log.ending().decision, Decision::Return);
}

/// A service ready for its first call, then `after`: pending for ever, or failing.
#[derive(Clone)]
struct ReadyOnce {
    inner: Scripted,
    calls: Arc<AtomicU32>,
    fail_after: bool,
}

impl Service<Req> for ReadyOnce {
    type Response = Res;
    type Error = BoxError;
    type Future = <Scripted as Service<Req>>::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match (self.calls.load(Ordering::SeqCst), self.fail_after) {
            (0, _) => Poll::Ready(Ok(())),
            (_, true) => Poll::Ready(Err("the connection pool is closed".into())),
            (_, false) => Poll::Pending,
        }
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.call(req)
    }
}

#[tokio::test(start_paused = true)]
async fn readiness_that_never_comes_or_fails_ends_the_call_once() {
    for fail_after in [false, true] {
        let log = Log::default();
        let svc = ReadyOnce {
            inner: Scripted::new([respond(503)]),
            calls: Arc::default(),
            fail_after,
        };
        let mut req = request("1");
        req.extensions_mut().insert(Deadline::after(secs(30)));
        let err = ServiceBuilder::new()
            .layer(layer(log.retries()))
            .service(svc)
            .oneshot(req)
            .await
            .unwrap_err();
        let end = log.ending();
        assert_eq!(end.attempt, 1);
        if fail_after {
            assert_eq!(err.to_string(), "the connection pool is closed");
            assert_eq!(end.decision, Decision::Return);
            assert_eq!(end.error.as_deref(), Some("the connection pool is closed"));
        } else {
            assert!(is_deadline(&err), "{err}");
            assert_eq!(end.decision, Decision::DeadlineExceeded);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_in_its_backoff_ends_once_as_cancelled() {
    let log = Log::default();
    let svc = ServiceBuilder::new()
        .layer(layer(log.retries().base_delay(secs(1_000_000))))
        .service(Scripted::new([respond(503), respond(200)]));
    let call = svc.oneshot(request("1"));
    // Long enough for the first attempt, short of the backoff's end.
    let _ = tokio::time::timeout(secs(1), call).await;
    let end = log.ending();
    assert_eq!(end.attempt, 1);
    assert_eq!(end.error, None);
    assert_eq!(end.decision, Decision::Cancelled);
}
