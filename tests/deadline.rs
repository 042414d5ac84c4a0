//! `DeadlineLayer` and the deadline as the retry layer enforces it, on tokio's paused clock.
#![cfg(all(feature = "retry", feature = "deadline",))]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use tokio::time::Instant;
use tower::{BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::deadline::{Deadline, DeadlineBody, DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::retry::{Attempts, LegacyRetries, ModelNotReadyRetryLayer};

fn exceeded(err: &BoxError) -> DeadlineExceeded {
    *err.downcast_ref::<DeadlineExceeded>()
        .unwrap_or_else(|| panic!("expected DeadlineExceeded, got {err}"))
}

#[tokio::test(start_paused = true)]
async fn default_budget_is_360_seconds_and_visible_to_inner_layers() {
    assert_eq!(
        DeadlineLayer::default().get_budget(),
        Duration::from_secs(360)
    );
    let endpoint = Scripted::new([]);
    let start = Instant::now();
    ServiceBuilder::new()
        .layer(DeadlineLayer::default())
        .service(endpoint.clone())
        .oneshot(request("x"))
        .await
        .unwrap();
    let deadline = endpoint.calls()[0]
        .extensions_deadline
        .expect("Deadline extension");
    assert_eq!(deadline.instant(), start + Duration::from_secs(360));
    assert_eq!(deadline.budget(), Duration::from_secs(360));
}

#[tokio::test(start_paused = true)]
async fn a_hung_call_fails_at_the_budget_and_its_future_is_dropped() {
    let endpoint = Scripted::new([Step::Hang]);
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(10)))
        .service(endpoint.clone())
        .oneshot(request("x"))
        .await
        .unwrap_err();
    let e = exceeded(&err);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(
        (e.budget(), e.elapsed()),
        (Duration::from_secs(10), Duration::from_secs(10))
    );
    assert!(
        err.to_string().contains("deadline of 10s exceeded"),
        "{err}"
    );
    assert_eq!(
        endpoint.dropped.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn the_tighter_of_nested_deadlines_wins() {
    // Outer tighter: the inner layer keeps the outer deadline.
    let endpoint = Scripted::new([Step::Hang]);
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(5)))
        .layer(DeadlineLayer::new(Duration::from_secs(60)))
        .service(endpoint.clone())
        .oneshot(request("x"))
        .await
        .unwrap_err();
    assert_eq!(exceeded(&err).budget(), Duration::from_secs(5));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(
        endpoint.calls()[0].extensions_deadline.unwrap().budget(),
        Duration::from_secs(5)
    );

    // Inner tighter: the inner deadline replaces the outer one.
    let endpoint = Scripted::new([Step::Hang]);
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::from_secs(60)))
        .layer(DeadlineLayer::new(Duration::from_secs(7)))
        .service(endpoint.clone())
        .oneshot(request("x"))
        .await
        .unwrap_err();
    assert_eq!(exceeded(&err).budget(), Duration::from_secs(7));
    assert_eq!(start.elapsed(), Duration::from_secs(7));

    // A caller-supplied deadline in the extensions counts as outer.
    let endpoint = Scripted::new([Step::Hang]);
    let mut req = request("x");
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_secs(3)));
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::default())
        .service(endpoint)
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(exceeded(&err).budget(), Duration::from_secs(3));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn budgets_too_large_for_the_clock_still_compare_by_their_true_end() {
    const YEAR: u64 = 365 * 86_400;
    let now = Instant::now();
    let forty_years = Deadline::starting_at(now, Duration::from_secs(40 * YEAR));
    let endless = Deadline::starting_at(now, Duration::MAX);
    let endless_later = Deadline::starting_at(now + Duration::from_secs(1), Duration::MAX);
    let almost_endless = Deadline::starting_at(now, Duration::MAX - Duration::from_secs(1));

    assert_eq!(forty_years.min(endless), forty_years);
    assert_eq!(endless.min(forty_years), forty_years);
    assert_eq!(endless.min(endless_later), endless);
    assert_eq!(endless_later.min(endless), endless);
    assert_eq!(endless.min(almost_endless), almost_endless);
    assert_eq!(almost_endless.min(endless), almost_endless);
    // A tie keeps `self`.
    let twin = Deadline::starting_at(now, Duration::MAX);
    assert_eq!(endless.min(twin), endless);

    // The same order decides which of two nested layers stands.
    let endpoint = Scripted::new([Step::Respond(200, None)]);
    ServiceBuilder::new()
        .layer(DeadlineLayer::new(Duration::MAX))
        .layer(DeadlineLayer::new(Duration::from_secs(40 * YEAR)))
        .service(endpoint.clone())
        .oneshot(request("x"))
        .await
        .unwrap();
    assert_eq!(
        endpoint.calls()[0].extensions_deadline.unwrap().budget(),
        Duration::from_secs(40 * YEAR)
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_deadline_never_calls_the_inner_service() {
    let endpoint = Scripted::new([]);
    let mut req = request("x");
    req.extensions_mut().insert(Deadline::after(Duration::ZERO));
    let err = ServiceBuilder::new()
        .layer(DeadlineLayer::default())
        .service(endpoint.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    exceeded(&err);
    assert_eq!(endpoint.call_count(), 0);
}

fn stack(
    budget: Duration,
    retry: ModelNotReadyRetryLayer,
    endpoint: &Scripted,
) -> impl tower::Service<
    Req,
    Response = http::Response<DeadlineBody<Full<Bytes>>>,
    Error = BoxError,
    Future = impl Send,
> {
    ServiceBuilder::new()
        .layer(DeadlineLayer::new(budget))
        .layer(retry)
        .service(endpoint.clone())
}

#[tokio::test(start_paused = true)]
async fn total_time_never_exceeds_the_budget() {
    // Endless 429s, each held 60 s as a loading MME does; many retries allowed.
    for budget_s in [1u64, 30, 59, 60, 61, 100, 125, 200, 360] {
        for _ in 0..10 {
            let held = Step::After(
                Duration::from_secs(60),
                Box::new(error_code(429, "ModelNotReadyException")),
            );
            let endpoint = Scripted::new(std::iter::repeat_n(held, 100));
            let budget = Duration::from_secs(budget_s);
            let start = Instant::now();
            let out = stack(
                budget,
                ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(50)),
                &endpoint,
            )
            .oneshot(request("x"))
            .await;
            let elapsed = start.elapsed();
            assert!(elapsed <= budget, "budget {budget:?}, took {elapsed:?}");
            // No attempt started at or after the deadline.
            assert!(endpoint.calls().iter().all(|c| c.at - start < budget));
            match out {
                // Either the backoff would have crossed the deadline (the last 429 is returned)...
                Ok(res) => assert_eq!(res.status(), 429),
                // ...or an attempt was cut short by the deadline.
                Err(err) => {
                    exceeded(&err);
                    assert_eq!(elapsed, budget);
                }
            }
            // After the call, the endpoint sees no further call.
            let n = endpoint.call_count();
            tokio::time::sleep(Duration::from_secs(1000)).await;
            assert_eq!(endpoint.call_count(), n);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_is_capped_by_the_time_left_and_reported_as_deadline_exceeded() {
    let endpoint = Scripted::new([Step::Hang]);
    let start = Instant::now();
    let err = stack(
        Duration::from_secs(30),
        ModelNotReadyRetryLayer::legacy(),
        &endpoint,
    )
    .oneshot(request("x"))
    .await
    .unwrap_err();
    // Cut at 30 s by the deadline, not at 70 s by the attempt timeout, and not
    // reported as an attempt timeout.
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert!(err
        .downcast_ref::<tower_sagemaker::retry::AttemptTimedOut>()
        .is_none());
    exceeded(&err);
    assert_eq!(endpoint.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_layer_alone_honours_a_deadline_in_the_extensions() {
    // Without DeadlineLayer's own timer, the retry layer still ends the call at the deadline.
    let endpoint = Scripted::new([Step::Hang]);
    let mut req = request("x");
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_secs(12)));
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(endpoint.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    exceeded(&err);
    assert_eq!(start.elapsed(), Duration::from_secs(12));
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(endpoint.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_retry_layer_alone_starts_no_attempt_after_the_deadline() {
    // No DeadlineLayer above: the retry layer itself refuses to start.
    let endpoint = Scripted::new([]);
    let mut req = request("x");
    req.extensions_mut().insert(Deadline::after(Duration::ZERO));
    let err = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(endpoint.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(exceeded(&err).budget(), Duration::ZERO);
    assert_eq!(endpoint.call_count(), 0);
}

/// Ready for its first call, then busy for ever (a pool with no free
/// connection, say): a retry waits in `poll_ready`.
#[derive(Clone)]
struct BusyAfterFirstCall {
    inner: Scripted,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl tower::Service<Req> for BusyAfterFirstCall {
    type Response = Res;
    type Error = BoxError;
    type Future = <Scripted as tower::Service<Req>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        if self.calls.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return std::task::Poll::Pending;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.call(req)
    }
}

#[tokio::test(start_paused = true)]
async fn a_busy_service_cannot_hold_a_retry_past_the_deadline() {
    let endpoint = Scripted::new([respond(429)]);
    let busy = BusyAfterFirstCall {
        inner: endpoint.clone(),
        calls: Default::default(),
    };
    let mut req = request("x");
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_secs(10)));
    let start = Instant::now();
    let call = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::new(
            LegacyRetries::new().base_delay(Duration::from_millis(1)),
        ))
        .service(busy)
        .oneshot(req);
    let err = tokio::time::timeout(Duration::from_secs(3600), call)
        .await
        .expect("the call ends at its deadline, not when the service is ready")
        .unwrap_err();
    exceeded(&err);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(endpoint.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_backoff_that_would_end_after_the_deadline_stops_at_once_with_the_last_response() {
    // Budget 10 s; the first 429 arrives at 9.5 s; any backoff >= 0.5 s crosses the deadline.
    let endpoint = Scripted::new([
        Step::After(
            Duration::from_millis(9_500),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        respond(200),
    ]);
    let layer =
        ModelNotReadyRetryLayer::new(LegacyRetries::new().base_delay(Duration::from_secs(100)));
    let start = Instant::now();
    let res = stack(Duration::from_secs(10), layer, &endpoint)
        .oneshot(request("x"))
        .await
        .unwrap();
    // A draw below 0.5 s of 100 s is possible but rare; then the retry succeeds.
    if endpoint.call_count() == 1 {
        assert_eq!(res.status(), 429);
        assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 1);
        // Stopped at once: no sleep toward the deadline.
        assert_eq!(start.elapsed(), Duration::from_millis(9_500));
    } else {
        assert_eq!(res.status(), 200);
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_after_the_deadline_is_deadline_exceeded() {
    // A transport error arriving exactly at the deadline is not retried nor returned raw.
    let endpoint = Scripted::new([Step::After(
        Duration::from_secs(5),
        Box::new(Step::Io(std::io::ErrorKind::ConnectionReset)),
    )]);
    let mut req = request("x");
    req.extensions_mut()
        .insert(Deadline::after(Duration::from_secs(5)));
    let err = ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy().no_attempt_timeout())
        .service(endpoint.clone())
        .oneshot(req)
        .await
        .unwrap_err();
    exceeded(&err);
    assert_eq!(endpoint.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_mid_backoff_under_a_deadline_stops_everything() {
    let endpoint = Scripted::new(std::iter::repeat_n(respond(503), 10));
    let svc = stack(
        Duration::from_secs(360),
        ModelNotReadyRetryLayer::new(LegacyRetries::new().base_delay(Duration::from_secs(50))),
        &endpoint,
    );
    let handle = tokio::spawn(svc.oneshot(request("x")));
    // Let the first attempt finish and the backoff start.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let before = endpoint.call_count();
    handle.abort();
    tokio::time::sleep(Duration::from_secs(1000)).await;
    assert_eq!(endpoint.call_count(), before);
    assert!(before <= 2, "{before}");
}

/// A caller's own extension, to follow through the stack.
#[derive(Debug, Clone, Copy, PartialEq)]
struct RequestId(u32);

/// The inner response's own extension, which must survive next to ours.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ServerTag;

/// What each attempt's request carried: the caller's id, and whether a `Deadline` was visible.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(Option<RequestId>, bool)>>>;

fn recording_endpoint(
    statuses: &'static [u16],
    seen: Seen,
) -> impl tower::Service<Req, Response = Res, Error = BoxError, Future = impl Send> + Clone {
    tagging_endpoint(statuses, seen, true)
}

/// Like [`recording_endpoint`]; its responses carry [`ServerTag`] when `tag`.
fn tagging_endpoint(
    statuses: &'static [u16],
    seen: Seen,
    tag: bool,
) -> impl tower::Service<Req, Response = Res, Error = BoxError, Future = impl Send> + Clone {
    tower::service_fn(move |req: Req| {
        let mut seen = seen.lock().unwrap();
        seen.push((
            req.extensions().get::<RequestId>().copied(),
            req.extensions().get::<Deadline>().is_some(),
        ));
        let status = statuses.get(seen.len() - 1).copied().unwrap_or(200);
        let mut res = http::Response::new(Default::default());
        *res.status_mut() = http::StatusCode::from_u16(status).unwrap();
        if tag {
            res.extensions_mut().insert(ServerTag);
        }
        std::future::ready(Ok::<_, BoxError>(res))
    })
}

#[tokio::test(start_paused = true)]
async fn the_deadline_stops_at_the_retry_layer_and_comes_back_on_the_response() {
    // Responses with extensions of their own (an HTTP client's connection
    // info) and without any.
    let cases = [None, Some(RequestId(7))]
        .into_iter()
        .flat_map(|id| [(id, true), (id, false)]);
    for (caller_extension, tag) in cases {
        let seen = Seen::default();
        let start = Instant::now();
        let mut req = request("x");
        if let Some(id) = caller_extension {
            req.extensions_mut().insert(id);
        }
        let res = ServiceBuilder::new()
            .layer(DeadlineLayer::new(Duration::from_secs(30)))
            .layer(ModelNotReadyRetryLayer::new(
                LegacyRetries::new().max_retries(2),
            ))
            .service(tagging_endpoint(&[429, 503], seen.clone(), tag))
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        // Every attempt, the first and both retries, carries the caller's
        // extensions, and none sees the deadline the retry layer enforces.
        assert_eq!(*seen.lock().unwrap(), vec![(caller_extension, false); 3]);
        // The response carries the call's deadline and its attempt count.
        let deadline = res.extensions().get::<Deadline>().expect("Deadline");
        assert_eq!(deadline.start(), start);
        assert_eq!(deadline.budget(), Duration::from_secs(30));
        assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 3);
        assert_eq!(res.extensions().get::<RequestId>(), None);
        assert_eq!(res.extensions().get::<ServerTag>().is_some(), tag);
    }
}

#[tokio::test(start_paused = true)]
async fn a_deadline_passed_on_from_a_call_is_enforced_by_a_retry_layer_alone() {
    // Beneath `DeadlineLayer`, a retry layer without an attempt timeout leaves
    // the deadline of an attempt to it. A copy of the deadline taken from the
    // call's response (a map of its own or the request's, kept) or from its
    // body is not so marked: a retry layer alone still cuts an attempt there.
    for caller_extension in [None, Some(RequestId(7))] {
        for from_body in [false, true] {
            let start = Instant::now();
            let mut req = request("x");
            if let Some(id) = caller_extension {
                req.extensions_mut().insert(id);
            }
            let res = ServiceBuilder::new()
                .layer(DeadlineLayer::new(Duration::from_secs(30)))
                .layer(ModelNotReadyRetryLayer::legacy().no_attempt_timeout())
                .service(Scripted::new([]))
                .oneshot(req)
                .await
                .unwrap();
            let deadline = match from_body {
                false => *res.extensions().get::<Deadline>().unwrap(),
                true => res.body().deadline(),
            };
            let mut next = request("y");
            next.extensions_mut().insert(deadline);
            let call = ServiceBuilder::new()
                .layer(ModelNotReadyRetryLayer::legacy().no_attempt_timeout())
                .service(Scripted::new([Step::Hang]))
                .oneshot(next);
            let err = tokio::time::timeout(Duration::from_secs(3600), call)
                .await
                .expect("cut at the deadline, not left hanging")
                .unwrap_err();
            exceeded(&err);
            assert_eq!(start.elapsed(), Duration::from_secs(30));
        }
    }
}

#[tokio::test(start_paused = true)]
async fn extensions_in_every_combination() {
    for max_retries in [0, 2] {
        for with_deadline in [false, true] {
            for caller_extension in [None, Some(RequestId(9))] {
                for statuses in [&[][..], &[503, 503, 503][..]] {
                    let case = format!(
                        "max_retries {max_retries}, deadline {with_deadline}, \
                         caller extension {caller_extension:?}, statuses {statuses:?}"
                    );
                    let seen = Seen::default();
                    let endpoint = recording_endpoint(statuses, seen.clone());
                    let mut req = request("x");
                    if let Some(id) = caller_extension {
                        req.extensions_mut().insert(id);
                    }
                    let budget = Duration::from_secs(100);
                    if with_deadline {
                        req.extensions_mut().insert(Deadline::after(budget));
                    }
                    let res = ServiceBuilder::new()
                        .layer(ModelNotReadyRetryLayer::new(
                            LegacyRetries::new().max_retries(max_retries),
                        ))
                        .service(endpoint)
                        .oneshot(req)
                        .await
                        .unwrap();

                    let attempts = seen.lock().unwrap().len();
                    let expected_attempts = if statuses.is_empty() {
                        1
                    } else {
                        max_retries as usize + 1
                    };
                    assert_eq!(attempts, expected_attempts, "{case}");
                    assert_eq!(
                        *seen.lock().unwrap(),
                        vec![(caller_extension, false); attempts],
                        "{case}: what the attempts carried"
                    );
                    let ext = res.extensions();
                    assert_eq!(
                        ext.get::<Attempts>().unwrap().count() as usize,
                        attempts,
                        "{case}"
                    );
                    assert_eq!(ext.get::<ServerTag>(), Some(&ServerTag), "{case}");
                    assert_eq!(ext.get::<RequestId>(), None, "{case}");
                    assert_eq!(
                        ext.get::<Deadline>().map(Deadline::budget),
                        with_deadline.then_some(budget),
                        "{case}"
                    );
                }
            }
        }
    }
}
