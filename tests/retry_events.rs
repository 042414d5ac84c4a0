//! The events `ModelNotReadyRetryLayer::on_event` and
//! `LegacyRetryPolicy::on_event` report, on tokio's paused clock.
#![cfg(all(feature = "retry-policy", feature = "deadline",))]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tower::retry::RetryLayer;
use tower::{ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::retry::{
    Decision, LegacyBackoff, LegacyRetries, LegacyRetryPolicy, ModelNotReadyRetryLayer, RetryEvent,
    RetryReason,
};
use tower_sagemaker::ErrorCode;

/// An event, owned, for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Attempt(u32),
    Outcome {
        attempt: u32,
        status: Option<u16>,
        code: Option<String>,
        error: bool,
        reason: Option<RetryReason>,
        decision: Decision,
        target_model: Option<String>,
        since_first_429: Option<Duration>,
    },
}

fn recorder() -> (
    Arc<Mutex<Vec<Seen>>>,
    impl Fn(&RetryEvent<'_>) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = seen.clone();
    let record = move |event: &RetryEvent<'_>| {
        let seen = match event {
            RetryEvent::Attempt { attempt, .. } => Seen::Attempt(*attempt),
            RetryEvent::Outcome(o) => Seen::Outcome {
                attempt: o.attempt,
                status: o.status.map(|s| s.as_u16()),
                code: o.error_code.map(|c| c.as_str().to_owned()),
                error: o.error.is_some(),
                reason: o.reason,
                decision: o.decision,
                target_model: o.target_model.map(str::to_owned),
                since_first_429: o.since_first_429,
            },
            _ => return,
        };
        into.lock().unwrap().push(seen);
    };
    (seen, record)
}

fn model_request() -> Req {
    let mut req = request("1,2");
    req.headers_mut()
        .insert("x-amzn-sagemaker-target-model", "m.tar.gz".parse().unwrap());
    req
}

/// The decisions without their random delays.
fn decisions(seen: &[Seen]) -> Vec<(u32, Option<u16>, Option<RetryReason>, &'static str)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Outcome {
                attempt,
                status,
                reason,
                decision,
                ..
            } => Some((
                *attempt,
                *status,
                *reason,
                match decision {
                    Decision::Retry { .. } => "retry",
                    Decision::Return => "return",
                    Decision::RetriesExhausted => "exhausted",
                    Decision::DeadlineWouldPass => "deadline would pass",
                    Decision::DeadlineExceeded => "deadline exceeded",
                    _ => "other",
                },
            )),
            Seen::Attempt(_) => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_cold_start_is_reported_attempt_by_attempt() {
    let (seen, record) = recorder();
    let endpoint = Scripted::new([
        Step::After(
            Duration::from_secs(60),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        Step::After(
            Duration::from_secs(60),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        Step::After(Duration::from_secs(30), Box::new(respond(200))),
    ]);
    let res = ServiceBuilder::new()
        .layer(
            ModelNotReadyRetryLayer::new(LegacyRetries::new().on_event(record))
                .no_attempt_timeout(),
        )
        .service(endpoint)
        .oneshot(model_request())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert_eq!(seen[0], Seen::Attempt(1));
    assert_eq!(seen[2], Seen::Attempt(2));
    assert_eq!(seen[4], Seen::Attempt(3));
    let Seen::Outcome {
        status,
        code,
        reason,
        decision,
        target_model,
        since_first_429,
        ..
    } = &seen[1]
    else {
        panic!("{seen:#?}")
    };
    assert_eq!(*status, Some(429));
    assert_eq!(code.as_deref(), Some(ErrorCode::MODEL_NOT_READY.as_str()));
    assert_eq!(*reason, Some(RetryReason::ModelNotReady));
    assert!(matches!(decision, Decision::Retry { delay } if *delay < Duration::from_secs(1)));
    assert_eq!(target_model.as_deref(), Some("m.tar.gz"));
    assert_eq!(*since_first_429, Some(Duration::ZERO));
    // The success: the wait since the first 429 is the second attempt's 60 s,
    // two backoffs, and the third attempt's 30 s.
    let Seen::Outcome {
        status,
        decision,
        since_first_429,
        ..
    } = &seen[5]
    else {
        panic!("{seen:#?}")
    };
    assert_eq!((*status, *decision), (Some(200), Decision::Return));
    let waited = since_first_429.unwrap();
    assert!(
        waited >= Duration::from_secs(90) && waited < Duration::from_secs(93),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn giving_up_says_why() {
    // Retries run out.
    let (seen, record) = recorder();
    let _ = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().max_retries(1).on_event(record),
        ))
        .service(Scripted::new([respond(503), respond(503)]))
        .oneshot(request("1"))
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        decisions(&seen),
        [
            (
                1,
                Some(503),
                Some(RetryReason::ServerError(
                    http::StatusCode::SERVICE_UNAVAILABLE
                )),
                "retry"
            ),
            (
                2,
                Some(503),
                Some(RetryReason::ServerError(
                    http::StatusCode::SERVICE_UNAVAILABLE
                )),
                "exhausted"
            ),
        ]
    );

    // The backoff would cross the deadline (a 1 ms floor: a 0 ms draw, 1
    // in 1,000, would retry at once).
    let (seen, record) = recorder();
    let floor = LegacyBackoff::new().min_delay(Duration::from_millis(1));
    let _ = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(10)))
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().backoff(floor).on_event(record),
        ))
        .service(Scripted::new([Step::After(
            Duration::from_secs(10) - Duration::from_millis(1),
            Box::new(respond(503)),
        )]))
        .oneshot(request("1"))
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        decisions(&seen).last().unwrap().3,
        "deadline would pass",
        "{seen:#?}"
    );

    // An error past the deadline.
    let (seen, record) = recorder();
    let _ = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().on_event(record),
        ))
        .service(Scripted::new([Step::Hang]))
        .oneshot({
            let mut req = request("1");
            req.extensions_mut()
                .insert(tower_sagemaker::deadline::Deadline::after(
                    Duration::from_secs(5),
                ));
            req
        })
        .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(decisions(&seen), [(1, None, None, "deadline exceeded")]);
}

#[tokio::test(start_paused = true)]
async fn the_policy_reports_the_same_outcomes() {
    let steps = || {
        [
            error_code(429, "ModelNotReadyException"),
            Step::Io(std::io::ErrorKind::ConnectionReset),
            error_code(424, "ModelError"),
        ]
    };
    let (by_layer, record) = recorder();
    let _ = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().on_event(record),
        ))
        .service(Scripted::new(steps()))
        .oneshot(model_request())
        .await;
    let (by_policy, record) = recorder();
    let _ = ServiceBuilder::new()
        .layer(RetryLayer::new(LegacyRetryPolicy::new(
            LegacyRetries::new().on_event(record),
        )))
        .service(Scripted::new(steps()))
        .oneshot(model_request())
        .await;
    let by_layer = by_layer.lock().unwrap().clone();
    let by_policy = by_policy.lock().unwrap().clone();
    assert_eq!(decisions(&by_layer), decisions(&by_policy));
    assert_eq!(
        decisions(&by_layer),
        [
            (1, Some(429), Some(RetryReason::ModelNotReady), "retry"),
            (2, None, Some(RetryReason::Transport), "retry"),
            (3, Some(424), None, "return"),
        ]
    );
    // The policy sees outcomes, not attempt starts.
    assert!(by_policy.iter().all(|s| matches!(s, Seen::Outcome { .. })));
    assert!(by_policy.iter().all(
        |s| matches!(s, Seen::Outcome { target_model, .. } if target_model.as_deref() == Some("m.tar.gz"))
    ));
}
