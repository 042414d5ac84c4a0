//! `ModelNotReadyRetryLayer` on tokio's paused clock: what is retried, the backoff, timeouts.
#![cfg(all(feature = "retry", feature = "deadline",))]

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::DeadlineLayer;
use tower_sagemaker::retry::{AttemptTimedOut, Attempts, LegacyRetries, ModelNotReadyRetryLayer};
use tower_sagemaker::retry::{RetryClassifier, RetryReason};

fn attempts<B>(res: &http::Response<B>) -> u32 {
    res.extensions()
        .get::<Attempts>()
        .expect("Attempts extension")
        .count()
}

async fn run(layer: ModelNotReadyRetryLayer, endpoint: &Scripted) -> Result<Res, BoxError> {
    ServiceBuilder::new()
        .layer(layer)
        .service(endpoint.clone())
        .oneshot(request("1,2,3"))
        .await
}

#[tokio::test(start_paused = true)]
async fn retried_statuses_and_codes_then_success() {
    let retried = [
        error_code(429, "ModelNotReadyException"),
        error_code(429, "SomethingElse"),
        respond(429),
        respond(500),
        error_code(502, "BadGateway"),
        error_code(503, "ServiceUnavailable"),
        respond(504),
        respond(509),
        error_code(400, "Throttling"),
        error_code(400, "ThrottlingException"),
        error_code(400, "ThrottledException"),
        error_code(400, "RequestThrottledException"),
        error_code(400, "ProvisionedThroughputExceededException"),
        error_code(
            400,
            "ThrottlingException:http://internal.amazon.com/coral/x/",
        ),
        error_code(400, "com.amazonaws#ThrottlingException"),
    ];
    for step in retried {
        let endpoint = Scripted::new([step.clone()]);
        let res = run(ModelNotReadyRetryLayer::legacy(), &endpoint)
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{step:?}");
        assert_eq!(attempts(&res), 2, "{step:?}");
        assert_eq!(endpoint.call_count(), 2, "{step:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn not_retried_statuses_and_codes() {
    let not_retried = [
        error_code(424, "ModelError"),
        error_code(400, "ValidationError"),
        error_code(530, "InternalDependencyException"),
        respond(400),
        respond(401),
        error_code(403, "ThrottlingException"),
        // Codes compare exactly and untrimmed, as botocore compares them.
        error_code(400, "throttlingexception"),
        error_code(
            400,
            "ThrottlingException :http://internal.amazon.com/coral/x/",
        ),
        respond(404),
        respond(413),
        respond(501),
        respond(505),
    ];
    for step in not_retried {
        let endpoint = Scripted::new([step.clone(), respond(200)]);
        let res = run(ModelNotReadyRetryLayer::legacy(), &endpoint)
            .await
            .unwrap();
        assert_ne!(res.status(), 200, "{step:?}");
        assert_eq!(attempts(&res), 1, "{step:?}");
        assert_eq!(endpoint.call_count(), 1, "{step:?}");
        // The caller gets the endpoint's own response, body included.
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert!(body.starts_with(b"body of "), "{step:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_retried_other_errors_are_not() {
    use std::io::ErrorKind::*;
    for kind in [
        ConnectionRefused,
        ConnectionReset,
        ConnectionAborted,
        BrokenPipe,
        UnexpectedEof,
    ] {
        let endpoint = Scripted::new([Step::Io(kind)]);
        let res = run(ModelNotReadyRetryLayer::legacy(), &endpoint)
            .await
            .unwrap();
        assert_eq!(attempts(&res), 2, "{kind:?}");
    }
    let endpoint = Scripted::new([Step::Other("invalid request signing setup")]);
    let err = run(ModelNotReadyRetryLayer::legacy(), &endpoint)
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "invalid request signing setup");
    assert_eq!(endpoint.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn per_attempt_timeout_is_retried() {
    let endpoint = Scripted::new([
        Step::Hang,
        Step::After(Duration::from_secs(69), Box::new(respond(200))),
    ]);
    let start = Instant::now();
    let res = run(ModelNotReadyRetryLayer::legacy(), &endpoint)
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(attempts(&res), 2);
    let calls = endpoint.calls();
    // The first attempt was cut at 70 s, then a backoff below 1 s.
    let second = calls[1].at - start;
    assert!(
        second >= Duration::from_secs(70) && second < Duration::from_secs(71),
        "{second:?}"
    );
    // The hung attempt's future was dropped, not left running.
    assert_eq!(
        endpoint.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn last_attempt_timing_out_returns_attempt_timed_out() {
    let endpoint = Scripted::new([Step::Hang, Step::Hang, Step::Hang]);
    let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(2))
        .attempt_timeout(Duration::from_secs(5));
    let err = run(layer, &endpoint).await.unwrap_err();
    let timed_out = err
        .downcast_ref::<AttemptTimedOut>()
        .expect("AttemptTimedOut");
    assert_eq!(timed_out.attempt(), 3);
    assert_eq!(timed_out.timeout(), Duration::from_secs(5));
    assert_eq!(endpoint.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn exhaustion_returns_the_last_response_with_its_body() {
    let endpoint = Scripted::new(std::iter::repeat_n(
        error_code(429, "ModelNotReadyException"),
        10,
    ));
    let res = run(
        ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(2)),
        &endpoint,
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["x-amzn-errortype"], "ModelNotReadyException");
    assert_eq!(attempts(&res), 3);
    assert_eq!(endpoint.call_count(), 3);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"body of 429");
}

#[tokio::test(start_paused = true)]
async fn exhaustion_on_errors_returns_the_last_error() {
    let endpoint = Scripted::new(std::iter::repeat_n(
        Step::Io(std::io::ErrorKind::ConnectionRefused),
        10,
    ));
    let err = run(
        ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(3)),
        &endpoint,
    )
    .await
    .unwrap_err();
    let io = err.downcast_ref::<std::io::Error>().expect("the io error");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(endpoint.call_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn default_is_five_attempts_and_zero_retries_is_one() {
    let endpoint = Scripted::new(std::iter::repeat_n(respond(503), 10));
    let res = run(ModelNotReadyRetryLayer::default(), &endpoint)
        .await
        .unwrap();
    assert_eq!(attempts(&res), 5);
    let endpoint = Scripted::new(std::iter::repeat_n(respond(503), 10));
    let res = run(
        ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(0)),
        &endpoint,
    )
    .await
    .unwrap();
    assert_eq!(
        (res.status().as_u16(), attempts(&res), endpoint.call_count()),
        (503, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn every_attempt_sends_the_same_request() {
    let endpoint = Scripted::new([respond(429), respond(500)]);
    let svc = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(endpoint.clone());
    let mut req = request("1.0,2.0,5.0");
    req.headers_mut()
        .insert("content-type", "text/csv".parse().unwrap());
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(attempts(&res), 3);
    for call in endpoint.calls() {
        assert_eq!(&call.body[..], b"1.0,2.0,5.0");
        assert_eq!(call.headers["content-type"], "text/csv");
    }
}

/// Sleeps between attempts, measured on the paused clock.
async fn sleeps(layer: ModelNotReadyRetryLayer, failures: usize) -> Vec<Duration> {
    let endpoint = Scripted::new(std::iter::repeat_n(respond(429), failures));
    run(layer, &endpoint).await.unwrap();
    let calls = endpoint.calls();
    calls.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(start_paused = true)]
async fn backoff_is_full_jitter_within_bounds_and_spread() {
    const RUNS: usize = 400;
    let mut by_retry: Vec<Vec<Duration>> = vec![Vec::new(); 4];
    for _ in 0..RUNS {
        let s = sleeps(ModelNotReadyRetryLayer::legacy(), 4).await;
        assert_eq!(s.len(), 4);
        for (k, d) in s.into_iter().enumerate() {
            by_retry[k].push(d);
        }
    }
    for (k, samples) in by_retry.iter().enumerate() {
        let ceiling = Duration::from_secs(1 << k);
        assert!(
            samples.iter().all(|d| *d < ceiling),
            "retry {}: a sleep reached {ceiling:?}",
            k + 1
        );
        let below_half = samples.iter().filter(|d| **d < ceiling / 2).count();
        assert!(
            (120..280).contains(&below_half),
            "retry {}: {below_half}/{RUNS} below half",
            k + 1
        );
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(
            distinct.len() > RUNS / 2,
            "retry {}: sleeps not spread",
            k + 1
        );
        assert!(
            samples.iter().any(|d| *d > ceiling * 3 / 4),
            "retry {}: never near the top",
            k + 1
        );
    }
}

#[tokio::test(start_paused = true)]
async fn base_and_max_delay_are_configurable() {
    let layer = ModelNotReadyRetryLayer::new(
        LegacyRetries::new()
            .max_retries(6)
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(300)),
    );
    for _ in 0..50 {
        let s = sleeps(layer.clone(), 6).await;
        assert_eq!(s.len(), 6, "six retries, six sleeps");
        let ceilings = [100, 200, 300, 300, 300, 300].map(Duration::from_millis);
        for (d, c) in s.iter().zip(ceilings) {
            assert!(*d < c, "{d:?} >= {c:?}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn classifier_can_add_statuses_codes_and_predicates() {
    let classifier = RetryClassifier::legacy()
        .retry_status(http::StatusCode::from_u16(530).unwrap())
        .retry_error_code("ModelError")
        .retry_error_if(|e| e.to_string().contains("flaky"));
    let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().classifier(classifier));
    let endpoint = Scripted::new([
        error_code(530, "InternalDependencyException"),
        error_code(424, "ModelError"),
        Step::Other("flaky upstream"),
    ]);
    let res = run(layer, &endpoint).await.unwrap();
    assert_eq!(attempts(&res), 4);
    assert_eq!(
        RetryClassifier::legacy()
            .classify_response(http::StatusCode::TOO_MANY_REQUESTS, &Default::default()),
        Some(RetryReason::TooManyRequests)
    );
}

/// The developer guide's scenario: the endpoint holds each call until the
/// model is loaded or 60 s have passed, then answers 429; the model is loaded
/// 150 s after the first call. With 2 retries the third attempt succeeds at
/// about 150 s.
#[tokio::test(start_paused = true)]
async fn developer_guide_cold_start_scenario() {
    for _ in 0..50 {
        let start = Instant::now();
        let loaded_at = start + Duration::from_secs(150);
        let endpoint = tower::service_fn(move |_req: Req| async move {
            let hold_until = (Instant::now() + Duration::from_secs(60)).min(loaded_at);
            tokio::time::sleep_until(hold_until).await;
            let status = if Instant::now() >= loaded_at {
                200
            } else {
                429
            };
            let mut res = http::Response::builder().status(status);
            if status == 429 {
                res = res.header("x-amzn-errortype", "ModelNotReadyException");
            }
            Ok::<_, BoxError>(res.body(http_body_util::Full::new(bytes::Bytes::new()))?)
        });
        let svc = ServiceBuilder::new()
            .layer(DeadlineLayer::default())
            .layer(ModelNotReadyRetryLayer::new(
                LegacyRetries::new().max_retries(2),
            ))
            .service(endpoint);
        let res = svc.oneshot(request("1,2")).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(attempts(&res), 3);
        let elapsed = start.elapsed();
        // Attempts 1 and 2 are held 60 s each with sleeps below 1 s and 2 s
        // between; attempt 3 is held until the model loads at 150 s.
        assert_eq!(elapsed, Duration::from_secs(150), "elapsed {elapsed:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_mid_backoff_makes_no_further_attempt() {
    let endpoint = Scripted::new([respond(429), respond(429)]);
    let svc = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().base_delay(Duration::from_secs(100)),
        ))
        .service(endpoint.clone());
    let fut = svc.oneshot(request("x"));
    // The first attempt answers at once; the backoff then lasts up to 100 s.
    let out = tokio::time::timeout(Duration::from_millis(1), fut).await;
    // Either it is mid-backoff (timeout fired) or the draw was below 1 ms.
    if out.is_err() {
        assert_eq!(endpoint.call_count(), 1);
        tokio::time::sleep(Duration::from_secs(1000)).await;
        assert_eq!(
            endpoint.call_count(),
            1,
            "an attempt started after the future was dropped"
        );
    } else {
        // A draw below 1 ms of 100 s (about 1 in 100,000): the retry ran and
        // the third call was answered 200 within the millisecond.
        assert_eq!(endpoint.call_count(), 3);
    }
}

/// Gaps between attempts for `steps` then success, with the opt-in on or off.
async fn gaps(steps: Vec<Step>, at_once: bool) -> Vec<Duration> {
    let endpoint = Scripted::new(steps);
    let layer =
        ModelNotReadyRetryLayer::new(LegacyRetries::new().reset_connection_at_once(at_once));
    run(layer, &endpoint).await.unwrap();
    let calls = endpoint.calls();
    calls.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_reset_connection_is_retried_at_once_when_asked_and_only_the_first_time() {
    use std::io::ErrorKind::{ConnectionRefused, ConnectionReset};
    let (mut first_gaps, mut second_gaps, mut refused_gaps, mut default_gaps) =
        (vec![], vec![], vec![], vec![]);
    for _ in 0..50 {
        let g = gaps(
            vec![Step::Io(ConnectionReset), Step::Io(ConnectionReset)],
            true,
        )
        .await;
        assert_eq!(g.len(), 2);
        first_gaps.push(g[0]);
        second_gaps.push(g[1]);
        refused_gaps.extend(gaps(vec![Step::Io(ConnectionRefused)], true).await);
        default_gaps.extend(gaps(vec![Step::Io(ConnectionReset)], false).await);
    }
    // The first retry after a reset goes out at once...
    assert!(first_gaps.iter().all(Duration::is_zero), "{first_gaps:?}");
    // ...the second sleeps the legacy backoff, as does a refused connection
    // (a server that is down), and a reset without the opt-in.
    for (what, g) in [
        ("second retry", &second_gaps),
        ("refused", &refused_gaps),
        ("default", &default_gaps),
    ] {
        let slept = g.iter().filter(|d| !d.is_zero()).count();
        assert!(slept >= 45, "{what}: only {slept} of 50 slept: {g:?}");
    }
    assert!(second_gaps.iter().all(|d| *d < Duration::from_secs(2)));
}
