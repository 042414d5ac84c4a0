//! `LegacyRetryPolicy` under `tower::retry::RetryLayer` and
//! `ModelNotReadyRetryLayer` (with and without cold-start coalescing, for a
//! call alone on its model) make the same decisions: one table of
//! scenarios, run through each, on tokio's paused clock.
#![cfg(all(feature = "retry-policy", feature = "deadline",))]

mod common;

use std::time::Duration;

use common::*;
use tower::retry::RetryLayer;
use tower::util::Either;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::retry::{
    Attempts, ColdStarts, LegacyBackoff, LegacyRetries, LegacyRetryPolicy, ModelNotReadyRetryLayer,
};

/// How a call ended: the final status, or the kind of error.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Status(u16),
    Deadline,
    Transport,
    Other,
}

fn end<B>(result: &Result<http::Response<B>, BoxError>) -> End {
    match result {
        Ok(res) => End::Status(res.status().as_u16()),
        Err(e) if e.is::<DeadlineExceeded>() => End::Deadline,
        Err(e) if e.is::<std::io::Error>() => End::Transport,
        Err(_) => End::Other,
    }
}

struct Scenario {
    name: &'static str,
    steps: Vec<Step>,
    max_retries: u32,
    budget: Duration,
    calls: usize,
    end: End,
}

fn scenarios() -> Vec<Scenario> {
    use std::io::ErrorKind::{ConnectionRefused, ConnectionReset};
    let s = |name, steps: Vec<Step>, max_retries, calls, end| Scenario {
        name,
        steps,
        max_retries,
        budget: Duration::from_secs(360),
        calls,
        end,
    };
    vec![
        s(
            "cold start",
            vec![error_code(429, "ModelNotReadyException"); 2],
            4,
            3,
            End::Status(200),
        ),
        s(
            "5xx then reset",
            vec![respond(503), Step::Io(ConnectionReset)],
            4,
            3,
            End::Status(200),
        ),
        s(
            "model error",
            vec![error_code(424, "ModelError")],
            4,
            1,
            End::Status(424),
        ),
        s(
            "validation error",
            vec![error_code(400, "ValidationError")],
            4,
            1,
            End::Status(400),
        ),
        s(
            "throttling",
            vec![error_code(400, "ThrottlingException")],
            4,
            2,
            End::Status(200),
        ),
        s(
            "not throttling",
            vec![error_code(400, "TooManyRequestsException")],
            4,
            1,
            End::Status(400),
        ),
        s(
            "retries run out",
            vec![respond(429); 10],
            4,
            5,
            End::Status(429),
        ),
        s("no retries", vec![respond(429)], 0, 1, End::Status(429)),
        s(
            "refused twice",
            vec![Step::Io(ConnectionRefused); 2],
            4,
            3,
            End::Status(200),
        ),
        s(
            "last attempt errs",
            vec![Step::Io(ConnectionRefused); 3],
            2,
            3,
            End::Transport,
        ),
        s(
            "not a transport error",
            vec![Step::Other("bad signing")],
            4,
            1,
            End::Other,
        ),
        s(
            "530 not retried",
            vec![respond(530)],
            4,
            1,
            End::Status(530),
        ),
        Scenario {
            // The 503 comes as the budget ends: any backoff would cross it.
            name: "deadline stops retries",
            steps: vec![Step::After(Duration::from_secs(10), Box::new(respond(503)))],
            max_retries: 4,
            budget: Duration::from_secs(10) + Duration::from_millis(1),
            calls: 1,
            end: End::Status(503),
        },
    ]
}

/// The legacy backoff with a 1 ms floor. A legacy delay is drawn in
/// `[0, ceiling)` and cut to whole milliseconds, so 1 draw in 1,000 is 0 ms:
/// a retry at once, which the scenarios (a 503 with 1 ms left; a call polled
/// once, expected to be sleeping) do not expect.
fn never_at_once() -> LegacyBackoff {
    LegacyBackoff::new().min_delay(Duration::from_millis(1))
}

/// (calls made, how it ended, Attempts on the response)
type Run = (usize, End, Option<u32>);

/// What retries the scenario's calls.
#[derive(Debug, Clone, Copy)]
enum Retrier {
    Layer,
    /// The layer with cold-start coalescing on, for a call alone on its
    /// model: nobody to coalesce with, so the legacy decisions.
    CoalescingLayer,
    Policy,
}

async fn through(scenario: &Scenario, retrier: Retrier) -> Run {
    let endpoint = Scripted::new(scenario.steps.clone());
    let retries = LegacyRetries::new()
        .max_retries(scenario.max_retries)
        .backoff(never_at_once());
    let layer = |retries| ModelNotReadyRetryLayer::new(retries).no_attempt_timeout();
    let retry = match retrier {
        Retrier::Layer => Either::Left(layer(retries)),
        Retrier::CoalescingLayer => {
            Either::Left(layer(retries.coalesce_cold_starts(ColdStarts::new())))
        }
        Retrier::Policy => Either::Right(RetryLayer::new(LegacyRetryPolicy::new(retries))),
    };
    let mut req = request("1,2");
    req.headers_mut().insert(
        tower_sagemaker::sagemaker::TARGET_MODEL_HEADER,
        http::HeaderValue::from_static("m"),
    );
    let result = ServiceBuilder::new()
        .layer(DeadlineLayer::new(scenario.budget))
        .layer(retry)
        .service(endpoint.clone())
        .oneshot(req)
        .await;
    let attempts = result
        .as_ref()
        .ok()
        .and_then(|r| r.extensions().get::<Attempts>().map(Attempts::count));
    (endpoint.call_count(), end(&result), attempts)
}

#[tokio::test(start_paused = true)]
async fn the_policy_and_the_layer_decide_alike() {
    for scenario in scenarios() {
        // Backoffs are random: each scenario runs several times.
        for _ in 0..5 {
            let layer = through(&scenario, Retrier::Layer).await;
            let policy = through(&scenario, Retrier::Policy).await;
            assert_eq!(layer, policy, "{}", scenario.name);
            let coalescing = through(&scenario, Retrier::CoalescingLayer).await;
            assert_eq!(layer, coalescing, "{}, coalescing", scenario.name);
            assert_eq!(
                (layer.0, &layer.1),
                (scenario.calls, &scenario.end),
                "{}",
                scenario.name
            );
            if let End::Status(_) = scenario.end {
                assert_eq!(layer.2, Some(scenario.calls as u32), "{}", scenario.name);
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_policy_sleeps_the_legacy_backoff() {
    // Sleeps between attempts stay below rand * 2^(k-1) s ceilings.
    for _ in 0..50 {
        let endpoint = Scripted::new(vec![respond(429); 3]);
        ServiceBuilder::new()
            .layer(RetryLayer::new(LegacyRetryPolicy::legacy()))
            .service(endpoint.clone())
            .oneshot(request("1"))
            .await
            .unwrap();
        let calls = endpoint.calls();
        assert_eq!(calls.len(), 4);
        for (k, w) in calls.windows(2).enumerate() {
            let ceiling = Duration::from_secs(1 << k);
            assert!(w[1].at - w[0].at < ceiling, "retry {}", k + 1);
        }
    }
}

/// Polled late (its task ran 15 s after the backoff ended, past a 10 s
/// deadline), the policy's wait does not let `Retry` send an attempt after
/// the deadline: `DeadlineLayer` fails the call, as with the layer.
#[tokio::test(start_paused = true)]
async fn no_attempt_goes_out_after_the_deadline_when_polled_late() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    for retrier in [Retrier::Layer, Retrier::Policy] {
        let endpoint = Scripted::new(vec![error_code(429, "ModelNotReadyException")]);
        let retries = LegacyRetries::new().backoff(never_at_once());
        let retry = match retrier {
            Retrier::Policy => Either::Right(RetryLayer::new(LegacyRetryPolicy::new(retries))),
            _ => Either::Left(ModelNotReadyRetryLayer::new(retries)),
        };
        let call = ServiceBuilder::new()
            .layer(DeadlineLayer::new(Duration::from_secs(10)))
            .layer(retry)
            .service(endpoint.clone())
            .oneshot(request("1"));
        let mut call = Box::pin(call);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(call.as_mut().poll(&mut cx).is_pending());
        tokio::time::sleep(Duration::from_secs(15)).await;
        let Poll::Ready(result) = call.as_mut().poll(&mut cx) else {
            panic!("{retrier:?}: still pending past the deadline");
        };
        assert_eq!(end(&result), End::Deadline, "{retrier:?}");
        assert_eq!(endpoint.call_count(), 1, "{retrier:?}");
    }
}

/// A call dropped while it sleeps its backoff reports the number of the
/// last attempt it made, as the layer does (the policy counted the retry it
/// had not sent yet).
#[tokio::test(start_paused = true)]
async fn a_call_dropped_in_its_backoff_reports_its_last_attempt() {
    use std::sync::{Arc, Mutex};
    use tower_sagemaker::retry::{Decision, RetryEvent};

    for retrier in [Retrier::Layer, Retrier::Policy] {
        let finals = Arc::new(Mutex::new(Vec::new()));
        let seen = finals.clone();
        let retries = LegacyRetries::new()
            .base_delay(Duration::from_secs(100))
            .on_event(move |event| {
                if let RetryEvent::Outcome(o) = event {
                    if o.decision.is_final() {
                        seen.lock().unwrap().push((o.attempt, o.decision));
                    }
                }
            });
        let retry = match retrier {
            Retrier::Policy => Either::Right(RetryLayer::new(LegacyRetryPolicy::new(retries))),
            _ => Either::Left(ModelNotReadyRetryLayer::new(retries)),
        };
        let endpoint = Scripted::new(vec![respond(503); 5]);
        let call = ServiceBuilder::new()
            .layer(retry)
            .service(endpoint.clone())
            .oneshot(request("1"));
        // Long enough for the first attempt, not for a 0 to 100 s backoff
        // (a draw under 1 ms would retry: run until one does not).
        let _ = tokio::time::timeout(Duration::from_millis(1), call).await;
        if endpoint.call_count() != 1 {
            continue;
        }
        assert_eq!(
            *finals.lock().unwrap(),
            [(1, Decision::Cancelled)],
            "{retrier:?}"
        );
    }
}
