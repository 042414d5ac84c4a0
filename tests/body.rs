//! `ReadTimeoutLayer`, `CollectBodyLayer` and the deadline's response body,
//! in memory on tokio's paused clock.
#![cfg(all(
    feature = "retry",
    feature = "deadline",
    feature = "read-timeout",
    feature = "collect-body",
))]

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::time::Instant;
use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
use tower_sagemaker::collect_body::{BodyReadFailed, BodyTooLarge, CollectBodyLayer};
use tower_sagemaker::deadline::{DeadlineExceeded, DeadlineLayer};
use tower_sagemaker::read_timeout::{ReadTimedOut, ReadTimeoutLayer};
use tower_sagemaker::retry::{RetryClassifier, RetryReason};

type Frames =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> + Send>>;

/// A body that yields `chunks`, each after its delay, then `end`.
fn timed_body(chunks: Vec<(Duration, &'static str)>, stall_at_end: bool) -> StreamBody<Frames> {
    let frames = futures_util::stream::iter(chunks).then(|(delay, text)| async move {
        tokio::time::sleep(delay).await;
        Ok::<_, BoxError>(Frame::data(Bytes::from_static(text.as_bytes())))
    });
    let frames: Frames = if stall_at_end {
        Box::pin(frames.chain(futures_util::stream::pending()))
    } else {
        Box::pin(frames)
    };
    StreamBody::new(frames)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test(start_paused = true)]
async fn the_read_timeout_bounds_the_wait_for_the_head() {
    let slow = service_fn(|_req: http::Request<()>| async {
        tokio::time::sleep(secs(100)).await;
        Ok::<_, BoxError>(http::Response::new(Full::<Bytes>::default()))
    });
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .layer(ReadTimeoutLayer::new(secs(70)))
        .service(slow)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    let timed_out = err.downcast_ref::<ReadTimedOut>().unwrap();
    assert!(timed_out.is_head() && !timed_out.is_body());
    assert_eq!(start.elapsed(), secs(70));
    assert!(err.to_string().contains("response head"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_slow_but_steady_body_never_times_out() {
    // Five frames, 60 s apart: 300 s in all, but no single wait reaches 70 s.
    let steady = service_fn(|_req: http::Request<()>| async {
        let chunks = vec![(secs(60), "a"); 5];
        Ok::<_, BoxError>(http::Response::new(timed_body(chunks, false)))
    });
    let res = ServiceBuilder::new()
        .layer(ReadTimeoutLayer::new(secs(70)))
        .service(steady)
        .oneshot(http::Request::new(()))
        .await
        .unwrap();
    let start = Instant::now();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "aaaaa");
    assert_eq!(start.elapsed(), secs(300));
}

#[tokio::test(start_paused = true)]
async fn a_body_that_goes_silent_fails_after_the_read_timeout_from_its_last_frame() {
    let silent = service_fn(|_req: http::Request<()>| async {
        let chunks = vec![(secs(50), "a"), (secs(50), "b")];
        Ok::<_, BoxError>(http::Response::new(timed_body(chunks, true)))
    });
    let res = ServiceBuilder::new()
        .layer(ReadTimeoutLayer::new(secs(70)))
        .service(silent)
        .oneshot(http::Request::new(()))
        .await
        .unwrap();
    let start = Instant::now();
    let err = res.into_body().collect().await.unwrap_err();
    assert!(err.downcast_ref::<ReadTimedOut>().unwrap().is_body());
    assert_eq!(start.elapsed(), secs(50 + 50 + 70));
}

/// A service whose head comes after `head`, its body `frames` frames each
/// `gap` after the one before, then silence.
fn spaced(
    head: Duration,
    frames: usize,
    gap: Duration,
) -> impl tower::Service<
    http::Request<()>,
    Response = http::Response<StreamBody<Frames>>,
    Error = BoxError,
    Future = impl Send,
> + Clone {
    service_fn(move |_req: http::Request<()>| async move {
        tokio::time::sleep(head).await;
        Ok::<_, BoxError>(http::Response::new(timed_body(
            vec![(gap, "a"); frames],
            true,
        )))
    })
}

#[tokio::test(start_paused = true)]
async fn frames_each_after_six_tenths_of_the_read_timeout_never_time_out() {
    // The head after 6 s, then 40 frames 6 s apart: 246 s, no wait near 10 s.
    let svc = ServiceBuilder::new()
        .layer(ReadTimeoutLayer::new(secs(10)))
        .service(spaced(secs(6), 40, secs(6)));
    let start = Instant::now();
    let mut body = svc
        .oneshot(http::Request::new(()))
        .await
        .unwrap()
        .into_body();
    for _ in 0..40 {
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "a");
    }
    assert_eq!(start.elapsed(), secs(6 * 41));
    // Then the body goes silent: the read timeout from the last frame.
    let err = body.frame().await.unwrap().unwrap_err();
    assert!(err.downcast_ref::<ReadTimedOut>().unwrap().is_body());
    assert_eq!(start.elapsed(), secs(6 * 41 + 10));
}

#[tokio::test(start_paused = true)]
async fn a_stall_of_the_read_timeout_after_quick_frames_times_out_at_that_instant() {
    // Frames quick, at 6/10 of the timeout and just under it: however the
    // timer was left by the waits before, the stall ends exactly 10 s after
    // the last frame.
    for gap in [ms(100), secs(6), ms(9_999)] {
        let svc = ServiceBuilder::new()
            .layer(ReadTimeoutLayer::new(secs(10)))
            .service(spaced(gap, 8, gap));
        let start = Instant::now();
        let res = svc.oneshot(http::Request::new(())).await.unwrap();
        let err = res.into_body().collect().await.unwrap_err();
        assert!(err.downcast_ref::<ReadTimedOut>().unwrap().is_body());
        assert_eq!(start.elapsed(), gap * 9 + secs(10), "frames {gap:?} apart");
    }
}

#[tokio::test(start_paused = true)]
async fn after_a_head_that_waited_the_deadline_bounds_the_body_at_its_instant() {
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(secs(10)))
        .service(spaced(secs(2), 5, ms(100)));
    let start = Instant::now();
    let res = svc.oneshot(http::Request::new(())).await.unwrap();
    let err = res.into_body().collect().await.unwrap_err();
    assert!(err.is::<DeadlineExceeded>(), "{err}");
    assert_eq!(start.elapsed(), secs(10));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_body_and_every_read_after_it() {
    let trickle = service_fn(|_req: http::Request<()>| async {
        let chunks = vec![(secs(1), "a"), (secs(1), "b"), (secs(100), "c")];
        Ok::<_, BoxError>(http::Response::new(timed_body(chunks, false)))
    });
    let svc = ServiceBuilder::new()
        .layer(DeadlineLayer::new(secs(10)))
        .service(trickle);

    // A read that would wait past the deadline fails at the deadline.
    let start = Instant::now();
    let res = svc.clone().oneshot(http::Request::new(())).await.unwrap();
    let err = res.into_body().collect().await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<DeadlineExceeded>().unwrap().budget(),
        secs(10)
    );
    assert_eq!(start.elapsed(), secs(10));

    // A frame that is ready but read after the deadline fails too.
    let ready = service_fn(|_req: http::Request<()>| async {
        Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from("8.0"))))
    });
    let res = ServiceBuilder::new()
        .layer(DeadlineLayer::new(secs(10)))
        .service(ready)
        .oneshot(http::Request::new(()))
        .await
        .unwrap();
    tokio::time::sleep(secs(11)).await;
    let err = res.into_body().collect().await.unwrap_err();
    assert!(err.is::<DeadlineExceeded>(), "{err}");
}

fn answering(
    status: u16,
    body: &'static str,
    content_length: bool,
) -> impl tower::Service<
    http::Request<()>,
    Response = http::Response<Full<Bytes>>,
    Error = BoxError,
    Future = impl Send,
> + Clone {
    service_fn(move |_req: http::Request<()>| async move {
        let mut res = http::Response::builder().status(status);
        if content_length {
            res = res.header("content-length", body.len());
        }
        Ok::<_, BoxError>(res.body(Full::new(Bytes::from_static(body.as_bytes())))?)
    })
}

#[tokio::test]
async fn collected_bodies_are_complete_and_retried_ones_are_left_unread() {
    let svc = |status| {
        ServiceBuilder::new()
            .layer(CollectBodyLayer::new(1024))
            .service(answering(status, "{\"message\":\"x\"}", true))
    };
    for status in [200, 400, 424, 530] {
        let res = svc(status).oneshot(http::Request::new(())).await.unwrap();
        assert!(res.body().is_collected(), "{status}");
    }
    for status in [429, 500, 502, 503, 504, 509] {
        let res = svc(status).oneshot(http::Request::new(())).await.unwrap();
        assert!(!res.body().is_collected(), "{status}");
        // Unread, not lost: the caller can still read it.
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "{\"message\":\"x\"}", "{status}");
    }
}

#[tokio::test]
async fn a_custom_rule_chooses_what_is_left_unread() {
    let classifier =
        RetryClassifier::legacy().retry_status(http::StatusCode::from_u16(530).unwrap());
    let res = ServiceBuilder::new()
        .layer(
            CollectBodyLayer::new(1024).leave_unread_if(move |status, headers| {
                classifier.classify_response(status, headers).is_some()
            }),
        )
        .service(answering(530, "x", false))
        .oneshot(http::Request::new(()))
        .await
        .unwrap();
    assert!(!res.body().is_collected());
}

#[tokio::test]
async fn bodies_over_the_limit_are_an_error_not_a_truncation() {
    let body = "0123456789";
    // Declared: refused before reading.
    let err = ServiceBuilder::new()
        .layer(CollectBodyLayer::new(9))
        .service(answering(200, body, true))
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    let too_large = err.downcast_ref::<BodyTooLarge>().unwrap();
    assert_eq!(
        (too_large.limit(), too_large.declared_length()),
        (9, Some(10))
    );
    // Not declared: found while reading.
    let err = ServiceBuilder::new()
        .layer(CollectBodyLayer::new(9))
        .service(answering(200, body, false))
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    let too_large = err.downcast_ref::<BodyTooLarge>().unwrap();
    assert_eq!((too_large.limit(), too_large.declared_length()), (9, None));
    // Exactly at the limit: read.
    let res = ServiceBuilder::new()
        .layer(CollectBodyLayer::new(10))
        .service(answering(200, body, false))
        .oneshot(http::Request::new(()))
        .await
        .unwrap();
    assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), body);
    // Not retried: a second call would get the same body.
    assert_eq!(RetryClassifier::legacy().classify_error(too_large), None);
}

#[tokio::test(start_paused = true)]
async fn a_failing_body_is_a_retryable_attempt_failure() {
    let breaks = service_fn(|_req: http::Request<()>| async {
        let frames: Frames = Box::pin(futures_util::stream::iter([
            Ok(Frame::data(Bytes::from_static(b"8."))),
            Err::<Frame<Bytes>, BoxError>(
                std::io::Error::from(std::io::ErrorKind::ConnectionReset).into(),
            ),
        ]));
        Ok::<_, BoxError>(http::Response::new(StreamBody::new(frames)))
    });
    let err = ServiceBuilder::new()
        .layer(CollectBodyLayer::new(1024))
        .service(breaks)
        .oneshot(http::Request::new(()))
        .await
        .unwrap_err();
    let failed = err.downcast_ref::<BodyReadFailed>().unwrap();
    assert_eq!(
        RetryClassifier::legacy().classify_error(failed),
        Some(RetryReason::BodyRead)
    );
    let timed_out: BoxError = ReadTimedOut::clone(
        ServiceBuilder::new()
            .layer(ReadTimeoutLayer::new(secs(1)))
            .service(service_fn(|_req: http::Request<()>| async {
                std::future::pending::<Result<http::Response<Full<Bytes>>, BoxError>>().await
            }))
            .oneshot(http::Request::new(()))
            .await
            .unwrap_err()
            .downcast_ref::<ReadTimedOut>()
            .unwrap(),
    )
    .into();
    assert_eq!(
        RetryClassifier::legacy().classify_error(&*timed_out),
        Some(RetryReason::ReadTimeout)
    );
}

/// The recommended stack leaves each attempt's head to the retry layer's
/// attempt timeout and the call to the deadline: every attempt of a head that
/// never comes ends after exactly 70 s and is retried, and the call ends by
/// 360 s.
#[cfg(feature = "target-model")]
#[tokio::test(start_paused = true)]
async fn the_recommended_stack_bounds_each_head_by_70_s_and_the_call_by_the_deadline() {
    use std::sync::{Arc, Mutex};
    use tower_sagemaker::retry::AttemptTimedOut;
    use tower_sagemaker::target_model::TargetModel;
    use tower_sagemaker::ServiceBuilderExt;

    let sent = Arc::new(Mutex::new(Vec::new()));
    let hangs = {
        let sent = sent.clone();
        service_fn(move |_req: http::Request<Full<Bytes>>| {
            sent.lock().unwrap().push(Instant::now());
            std::future::pending::<Result<http::Response<Full<Bytes>>, BoxError>>()
        })
    };
    let start = Instant::now();
    let err = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new("m.tar.gz").unwrap())
        .service(hangs)
        .oneshot(http::Request::new(Full::new(Bytes::from("1"))))
        .await
        .unwrap_err();
    let sent = sent.lock().unwrap().clone();
    // Each retry k went out 70 s after the attempt before it, plus a backoff
    // below 2^(k-1) s.
    for (k, pair) in (1u32..).zip(sent.windows(2)) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= secs(70) && gap < secs(70) + secs(1 << (k - 1)),
            "{sent:?}"
        );
    }
    match err.downcast_ref::<AttemptTimedOut>() {
        // Five attempts, the last cut by its timeout before the deadline.
        Some(timed_out) => {
            assert_eq!((timed_out.attempt(), timed_out.timeout()), (5, secs(70)));
            assert_eq!(sent.len(), 5);
            assert_eq!(start.elapsed(), *sent.last().unwrap() - start + secs(70));
            assert!(start.elapsed() <= secs(360));
        }
        None => {
            assert!(err.downcast_ref::<DeadlineExceeded>().is_some(), "{err}");
            assert_eq!(start.elapsed(), secs(360));
        }
    }
}

/// In the recommended stack the deadline layer and the read timeout leave the
/// head to the retry layer; an earlier deadline the request carries still
/// ends a head that never comes exactly on time, and the body is still timed
/// by both: its stalled frame ends at the read timeout, or at the deadline
/// when that comes first.
#[cfg(feature = "target-model")]
#[tokio::test(start_paused = true)]
async fn the_recommended_stack_ends_the_head_and_the_body_at_an_earlier_deadline() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    use tower_sagemaker::deadline::Deadline;
    use tower_sagemaker::target_model::TargetModel;
    use tower_sagemaker::ServiceBuilderExt;

    async fn call<S, B>(svc: S, deadline: Option<Deadline>) -> Result<Bytes, BoxError>
    where
        S: tower::Service<
            http::Request<Full<Bytes>>,
            Response = http::Response<B>,
            Error = BoxError,
        >,
        B: http_body::Body,
        B::Error: Into<BoxError>,
    {
        let mut req = http::Request::new(Full::new(Bytes::from("1")));
        if let Some(deadline) = deadline {
            req.extensions_mut().insert(deadline);
        }
        let res = svc.oneshot(req).await?;
        Ok(res
            .into_body()
            .collect()
            .await
            .map_err(Into::into)?
            .to_bytes())
    }

    // A head that never comes: one attempt, cut at 30 s.
    let sent = Arc::new(AtomicU32::new(0));
    let hangs = {
        let sent = sent.clone();
        service_fn(move |_req: http::Request<Full<Bytes>>| {
            sent.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<http::Response<Full<Bytes>>, BoxError>>()
        })
    };
    let stack = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new("m.tar.gz").unwrap())
        .service(hangs);
    let start = Instant::now();
    let err = call(stack, Some(Deadline::after(secs(30))))
        .await
        .unwrap_err();
    assert!(err.is::<DeadlineExceeded>(), "{err}");
    assert_eq!(start.elapsed(), secs(30));
    assert_eq!(sent.load(Ordering::SeqCst), 1);

    // A head at once, then a body that stalls after its first frame.
    let stalls = service_fn(|_req: http::Request<Full<Bytes>>| async {
        Ok::<_, BoxError>(http::Response::new(timed_body(
            vec![(Duration::ZERO, "8.0")],
            true,
        )))
    });
    let stack = ServiceBuilder::new()
        .multi_model_endpoint(TargetModel::new("m.tar.gz").unwrap())
        .service(stalls);
    let start = Instant::now();
    let err = call(stack.clone(), None).await.unwrap_err();
    let timed_out = err.downcast_ref::<ReadTimedOut>().expect("a read timeout");
    assert!(timed_out.is_body());
    assert_eq!(start.elapsed(), secs(70));

    let start = Instant::now();
    let err = call(stack, Some(Deadline::after(secs(30))))
        .await
        .unwrap_err();
    assert!(err.is::<DeadlineExceeded>(), "{err}");
    assert_eq!(start.elapsed(), secs(30));
}
