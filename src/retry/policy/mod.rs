//! [`LegacyRetryPolicy`]: the retry layer's decisions as a `tower::retry::Policy`.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use tower::retry::Policy;
use tower::BoxError;

use super::call::{Call, Next};
use super::{Attempts, LegacyRetries};
use crate::deadline::Deadline;

mod wait;

pub use self::wait::RetryWait;
use self::wait::WaitKind;

/// botocore's legacy retries as a [`tower::retry::Policy`], for stacks that
/// already use `tower::retry::RetryLayer` (feature `retry-policy`).
///
/// It makes the decisions [`ModelNotReadyRetryLayer`](super::ModelNotReadyRetryLayer)
/// makes, from the same [`LegacyRetries`] through the same per-call
/// controller: what is
/// retried, how long to sleep, `max_retries` retries after the first attempt,
/// and no sleep that would end at or after the request's
/// [`Deadline`] (from [`DeadlineLayer`](crate::deadline::DeadlineLayer)
/// above). An error at or after the deadline becomes
/// [`DeadlineExceeded`](crate::deadline::DeadlineExceeded), and a response
/// gets the [`Attempts`] extension, as with the layer. Events
/// ([`LegacyRetries::on_event`]) are the layer's but for
/// [`RetryEvent::Attempt`](super::RetryEvent::Attempt): a policy does not
/// see attempts start. A call that `DeadlineLayer` above cuts short reports
/// its final outcome (`DeadlineExceeded`) as it is dropped.
///
/// What only the layer does:
/// - **a per-attempt timeout**: put `tower::timeout::TimeoutLayer` *inside*
///   `RetryLayer` (below), so each attempt has its own; its `Elapsed` error is
///   not retried by [`RetryClassifier::legacy`](super::RetryClassifier::legacy), so add it with
///   [`RetryClassifier::retry_error_if`](super::RetryClassifier::retry_error_if), as below;
/// - **no attempt after the deadline when the inner service is slow to be
///   ready**: `tower::retry::Retry` waits in `poll_ready` without a bound; keep
///   [`DeadlineLayer`](crate::deadline::DeadlineLayer) above it;
/// - the opt-in that reads a retried error's body, the `Deadline` kept from
///   services beneath, and the one-allocation request copies;
/// - with [cold-start coalescing](LegacyRetries::coalesce_cold_starts), **holding back
///   first attempts**: a policy is asked only after an attempt, so every
///   call's first attempt goes out, and calls start coalescing from their
///   first 429 `ModelNotReadyException` on (about 2N requests for N callers
///   on a cold model, where the layer makes about N).
///
/// The error type of the stack beneath must be [`BoxError`] (as
/// `tower::timeout::Timeout` makes it). An error of the inner service's
/// `poll_ready`, which `Retry` returns without asking the policy, reaches
/// the caller as it is; the events then report the call
/// [`Cancelled`](super::Decision::Cancelled).
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use tower::retry::RetryLayer;
/// use tower::timeout::{error::Elapsed, TimeoutLayer};
/// use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
/// use tower_sagemaker::deadline::DeadlineLayer;
/// use tower_sagemaker::retry::{Attempts, LegacyRetries, LegacyRetryPolicy, RetryClassifier};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), BoxError> {
/// # let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
/// # let http_client = service_fn(move |_req: http::Request<Full<Bytes>>| {
/// #     let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
/// #     async move {
/// #         let status = if n == 0 { 429 } else { 200 };
/// #         Ok::<_, BoxError>(http::Response::builder().status(status).body(())?)
/// #     }
/// # });
/// let policy = LegacyRetryPolicy::new(
///     LegacyRetries::new()
///         .max_retries(4)
///         .classifier(RetryClassifier::legacy().retry_error_if(|e| e.is::<Elapsed>())),
/// );
/// let svc = ServiceBuilder::new()
///     .layer(DeadlineLayer::new(Duration::from_secs(360)))
///     .layer(RetryLayer::new(policy))
///     .layer(TimeoutLayer::new(Duration::from_secs(70))) // per attempt
///     .service(http_client);
///
/// let res = svc.oneshot(http::Request::new(Full::new(Bytes::from("1,2")))).await?;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct LegacyRetryPolicy {
    retries: LegacyRetries,
    // The controller of the call this clone of the policy serves, from its
    // first outcome on.
    call: CallSlot,
}

/// A policy's call. `tower::retry::Retry` clones the service's policy for
/// each call: a clone starts a new call.
#[derive(Default)]
struct CallSlot {
    call: Option<Box<Call>>,
    // Whether the call has just waited for another call's probe.
    waited: bool,
    // Set by the `RetryWait` of the last retry decided as it ends: the retry
    // goes out then, and counts from then on (a call that ends in the wait
    // made no such attempt). Made at the call's first retry.
    resent: Option<Arc<AtomicBool>>,
}

impl CallSlot {
    /// Counts the retry whose wait has ended, if any.
    fn count_resent(&mut self) {
        let resent = self.resent.as_ref().is_some_and(|r| r.swap(false, Relaxed));
        if let (true, Some(call)) = (resent, self.call.as_mut()) {
            call.sent();
        }
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        // Before the call reports how it ended.
        self.count_resent();
    }
}

impl Clone for CallSlot {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for CallSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let attempts = self.call.as_deref().map(Call::attempts);
        f.debug_struct("CallSlot")
            .field("attempts", &attempts)
            .finish()
    }
}

impl Default for LegacyRetryPolicy {
    fn default() -> Self {
        Self::legacy()
    }
}

impl LegacyRetryPolicy {
    /// A policy with `retries`' decisions.
    pub fn new(retries: LegacyRetries) -> Self {
        Self {
            retries,
            call: CallSlot::default(),
        }
    }

    /// botocore's legacy mode ([`LegacyRetries::new`]).
    pub fn legacy() -> Self {
        Self::new(LegacyRetries::new())
    }

    /// The retry settings.
    pub fn get_retries(&self) -> &LegacyRetries {
        &self.retries
    }
}

impl<B: Clone, R> Policy<http::Request<B>, http::Response<R>, BoxError> for LegacyRetryPolicy {
    type Future = RetryWait;

    fn retry(
        &mut self,
        req: &mut http::Request<B>,
        result: &mut Result<http::Response<R>, BoxError>,
    ) -> Option<RetryWait> {
        self.call.count_resent();
        let retries = &self.retries;
        let call = self.call.call.get_or_insert_with(|| {
            let deadline = req.extensions().get::<Deadline>().copied();
            let mut call = Call::new(retries.clone(), None, deadline, &*req);
            // The first attempt went out before the policy was asked.
            call.sent();
            Box::new(call)
        });
        if std::mem::take(&mut self.call.waited) {
            call.waited();
        }
        let kind = match call.after_attempt(&*req, result) {
            Next::Finish => {
                if let Ok(res) = result {
                    res.extensions_mut().insert(Attempts(call.attempts()));
                }
                return None;
            }
            Next::Send => WaitKind::Backoff {
                sleep: tokio::time::sleep_until(tokio::time::Instant::now()),
            },
            Next::SleepUntil(wake) => WaitKind::Backoff {
                sleep: tokio::time::sleep_until(wake),
            },
            Next::WaitForModel(watch) => {
                self.call.waited = true;
                WaitKind::ForModel { watch }
            }
        };
        // Only a deadline a `DeadlineLayer` above times: it fails the call
        // when the wait stays pending past it.
        let deadline = call.deadline().filter(Deadline::is_enforced);
        let resent = self
            .call
            .resent
            .get_or_insert_with(Default::default)
            .clone();
        Some(RetryWait {
            kind,
            deadline,
            resent,
        })
    }

    fn clone_request(&mut self, req: &http::Request<B>) -> Option<http::Request<B>> {
        // Called once per attempt: the retry's copy of the request.
        let mut copy = http::Request::new(req.body().clone());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}
