//! [`LegacyRetryPolicy`]: the retry layer's decisions as a `tower::retry::Policy`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::retry::Policy;
use tower::BoxError;

use super::cold_starts::{is_model_not_ready, Ticket, Turn, Watch};
use super::decide::decide;
use super::event::{AttemptOutcome, Decision, RetryEvent};
use super::{Attempts, LegacyBackoff, RetryClassifier, Settings};
use crate::deadline::Deadline;
use crate::sagemaker::internal::LEGACY_MAX_RETRIES;

/// botocore's legacy retries as a [`tower::retry::Policy`], for stacks that
/// already use `tower::retry::RetryLayer` (feature `retry-policy`).
///
/// It makes the decisions [`ModelNotReadyRetryLayer`](super::ModelNotReadyRetryLayer)
/// makes, with the same [`RetryClassifier`] and [`LegacyBackoff`]: what is
/// retried, how long to sleep, `max_retries` retries after the first attempt,
/// and no sleep that would end at or after the request's
/// [`Deadline`] (from [`DeadlineLayer`](crate::deadline::DeadlineLayer)
/// above). An error at or after the deadline becomes
/// [`DeadlineExceeded`](crate::deadline::DeadlineExceeded), and a response
/// gets the [`Attempts`] extension, as with the layer.
///
/// What only the layer does:
/// - **a per-attempt timeout**: put `tower::timeout::TimeoutLayer` *inside*
///   `RetryLayer` (below), so each attempt has its own; its `Elapsed` error is
///   not retried by [`RetryClassifier::legacy`], so add it with
///   [`RetryClassifier::retry_error_if`], as below;
/// - **no attempt after the deadline when the inner service is slow to be
///   ready**: `tower::retry::Retry` waits in `poll_ready` without a bound; keep
///   [`DeadlineLayer`](crate::deadline::DeadlineLayer) above it;
/// - the opt-in that reads a retried error's body, the `Deadline` kept from
///   services beneath, and the one-allocation request copies;
/// - with [cold-start coalescing](Self::coalesce_cold_starts), **holding back
///   first attempts**: a policy is asked only after an attempt, so every
///   call's first attempt goes out, and calls start coalescing from their
///   first 429 `ModelNotReadyException` on (about 2N requests for N callers
///   on a cold model, where the layer makes about N).
///
/// The error type of the stack beneath must be [`BoxError`] (as
/// `tower::timeout::Timeout` makes it).
///
/// ```
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use tower::retry::RetryLayer;
/// use tower::timeout::{error::Elapsed, TimeoutLayer};
/// use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
/// use tower_sagemaker::deadline::DeadlineLayer;
/// use tower_sagemaker::retry::{Attempts, LegacyRetryPolicy, RetryClassifier};
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
/// let policy = LegacyRetryPolicy::legacy()
///     .max_retries(4)
///     .classifier(RetryClassifier::legacy().retry_error_if(|e| e.is::<Elapsed>()));
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
    settings: Settings,
    // Attempts made so far for the call this clone of the policy serves.
    attempts: u32,
    // With observers: when this call first got a 429.
    first_429: Option<tokio::time::Instant>,
    // With cold-start coalescing: the call's registration for its model,
    // from its first `ModelNotReadyException` on.
    ticket: CallTicket,
}

/// A call's [`Ticket`]. `tower::retry::Retry` clones the service's policy
/// for each call: a clone starts a new call, unregistered.
#[derive(Debug, Default)]
struct CallTicket {
    ticket: Option<Box<Ticket>>,
    // Whether the call has just waited for another call's probe.
    waited: bool,
}

impl Clone for CallTicket {
    fn clone(&self) -> Self {
        Self::default()
    }
}

pin_project! {
    /// What [`LegacyRetryPolicy`] waits before a retry: the legacy backoff,
    /// or, with cold-start coalescing, another call's probe of the loading
    /// model (see [`ColdStarts`](super::ColdStarts)).
    #[derive(Debug)]
    pub struct RetryWait {
        #[pin]
        kind: WaitKind,
    }
}

pin_project! {
    #[project = WaitKindProj]
    #[derive(Debug)]
    enum WaitKind {
        Backoff { #[pin] sleep: Sleep },
        // No deadline of its own: `DeadlineLayer` above ends the call at its
        // deadline, and a retry that went out then would be an attempt after it.
        ForModel { watch: Box<Watch> },
    }
}

impl Future for RetryWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project().kind.project() {
            WaitKindProj::Backoff { sleep } => sleep.poll(cx),
            WaitKindProj::ForModel { watch } => watch.poll_turn(cx),
        }
    }
}

impl Default for LegacyRetryPolicy {
    fn default() -> Self {
        Self::legacy()
    }
}

impl LegacyRetryPolicy {
    shared_retry_settings!();

    /// botocore's legacy mode: 4 retries (5 attempts), full-jitter backoff
    /// with base 1 s and no cap, [`RetryClassifier::legacy`].
    pub fn legacy() -> Self {
        Self {
            settings: Settings {
                max_retries: LEGACY_MAX_RETRIES,
                attempt_timeout: None,
                backoff: LegacyBackoff::new(),
                classifier: RetryClassifier::legacy(),
                reset_connection_at_once: false,
                hooks: Default::default(),
                cold_starts: None,
            },
            attempts: 1,
            first_429: None,
            ticket: CallTicket::default(),
        }
    }

    /// Calls `callback` with a [`RetryEvent::Outcome`] as each attempt ends
    /// (a policy does not see attempts start), as
    /// [`ModelNotReadyRetryLayer::on_event`](super::ModelNotReadyRetryLayer::on_event).
    ///
    /// ```
    /// use tower_sagemaker::retry::{Decision, LegacyRetryPolicy, RetryEvent};
    ///
    /// let policy = LegacyRetryPolicy::legacy().on_event(|event| {
    ///     if let RetryEvent::Outcome(outcome) = event {
    ///         if outcome.decision == Decision::RetriesExhausted {
    ///             eprintln!("gave up after {} attempts: {:?}", outcome.attempt, outcome.reason);
    ///         }
    ///     }
    /// });
    /// # let _ = tower::retry::RetryLayer::new(policy);
    /// ```
    pub fn on_event<F>(mut self, callback: F) -> Self
    where
        F: Fn(&RetryEvent<'_>) + Send + Sync + 'static,
    {
        self.settings.hooks.add(std::sync::Arc::new(callback));
        self
    }
}

impl LegacyRetryPolicy {
    /// Tells the observers how an attempt ended and what follows.
    fn observe<B, R>(
        &mut self,
        req: &http::Request<B>,
        result: &Result<http::Response<R>, BoxError>,
        reason: Option<super::RetryReason>,
        decision: Decision,
        deadline: Option<Deadline>,
    ) {
        if self.settings.hooks.is_empty() {
            return;
        }
        if matches!(result, Ok(res) if res.status() == http::StatusCode::TOO_MANY_REQUESTS) {
            self.first_429.get_or_insert_with(tokio::time::Instant::now);
        }
        let target_model = req
            .headers()
            .get(crate::sagemaker::TARGET_MODEL_HEADER)
            .and_then(|v| v.to_str().ok());
        self.settings
            .hooks
            .emit(&RetryEvent::Outcome(AttemptOutcome::new(
                self.attempts,
                result,
                reason,
                decision,
                deadline,
                target_model,
                self.first_429.map(|t| t.elapsed()),
            )));
    }
}

impl LegacyRetryPolicy {
    /// With cold-start coalescing: registers the call for its model from its
    /// first `ModelNotReadyException` on and reports the outcome; the wait
    /// for another call's probe when the call should wait for it.
    fn coalesce<B, R>(
        &mut self,
        req: &http::Request<B>,
        result: &Result<http::Response<R>, BoxError>,
        counted: u32,
        retries: bool,
    ) -> Option<Watch> {
        let cold = self.settings.cold_starts.as_ref()?;
        let not_ready = is_model_not_ready(result);
        if self.ticket.ticket.is_none() && not_ready {
            let joined = cold.join(req.uri(), |name| req.headers().get(name));
            self.ticket.ticket = joined.map(|(ticket, _)| ticket);
        }
        let ticket = self.ticket.ticket.as_mut()?;
        let may_wait = retries && counted < self.settings.max_retries;
        (ticket.report(not_ready, may_wait) == Turn::Wait)
            .then(|| ticket.watch(self.settings.max_retries - counted))
    }
}

impl<B: Clone, R> Policy<http::Request<B>, http::Response<R>, BoxError> for LegacyRetryPolicy {
    type Future = RetryWait;

    fn retry(
        &mut self,
        req: &mut http::Request<B>,
        result: &mut Result<http::Response<R>, BoxError>,
    ) -> Option<RetryWait> {
        if std::mem::take(&mut self.ticket.waited) {
            if let Some(ticket) = self.ticket.ticket.as_mut() {
                ticket.catch_up();
            }
        }
        let deadline = req.extensions().get::<Deadline>().copied();
        let reason = match result {
            Ok(res) => self
                .settings
                .classifier
                .classify_response(res.status(), res.headers()),
            Err(err) => {
                if let Some(d) = deadline.filter(Deadline::is_expired) {
                    *result = Err(d.exceeded().into());
                    self.observe(req, result, None, Decision::DeadlineExceeded, deadline);
                    self.ticket.ticket = None;
                    return None;
                }
                self.settings.classifier.classify_error(&**err)
            }
        };
        let witnessed = self.ticket.ticket.as_deref().map_or(0, Ticket::witnessed);
        let counted = self.attempts.saturating_add(witnessed);
        let (mut decision, wake) = decide(&self.settings, deadline, counted, result, reason);
        let retries = matches!(decision, Decision::Retry { .. });
        let watch = self.coalesce(req, result, counted, retries);
        if watch.is_some() {
            decision = Decision::WaitForModel;
        }
        self.observe(req, result, reason, decision, deadline);
        let kind = match (watch, wake) {
            (Some(watch), _) => {
                self.ticket.waited = true;
                WaitKind::ForModel {
                    watch: Box::new(watch),
                }
            }
            (None, Some(wake)) => WaitKind::Backoff {
                sleep: tokio::time::sleep_until(wake),
            },
            (None, None) => {
                if let Ok(res) = result {
                    res.extensions_mut().insert(Attempts(self.attempts));
                }
                // The call is over: a prober hands its role on now.
                self.ticket.ticket = None;
                return None;
            }
        };
        self.attempts += 1;
        Some(RetryWait { kind })
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
