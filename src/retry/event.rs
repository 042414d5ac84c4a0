//! What the retry layer tells observers about each attempt: [`RetryEvent`].

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::RetryReason;
use crate::error_code::ErrorCode;

/// One step of a call through
/// [`ModelNotReadyRetryLayer`](super::ModelNotReadyRetryLayer) or
/// [`LegacyRetryPolicy`](super::LegacyRetryPolicy)'s decisions (or of an
/// AWS SDK call, feature `aws-sdk`: see `aws_sdk::LegacyRetriesInterceptor`),
/// as given to the callbacks of [`on_event`](super::LegacyRetries::on_event).
///
/// A stable way to observe retries, where `tracing` lines are for people:
/// print progress, count, or feed metrics (feature `metrics` does, with
/// [`RetryMetrics`](super::RetryMetrics)).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
/// use tower_sagemaker::retry::{LegacyRetries, Decision, ModelNotReadyRetryLayer, RetryEvent};
/// use tower_sagemaker::sagemaker::ERROR_TYPE_HEADER;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), BoxError> {
/// // An endpoint still loading its model on the first call.
/// let calls = Arc::new(Mutex::new(0));
/// let endpoint = service_fn(move |_req: http::Request<Full<Bytes>>| {
///     let first = std::mem::replace(&mut *calls.lock().unwrap(), 1) == 0;
///     async move {
///         let res = if first {
///             http::Response::builder()
///                 .status(429)
///                 .header(ERROR_TYPE_HEADER, "ModelNotReadyException")
///         } else {
///             http::Response::builder().status(200)
///         };
///         Ok::<_, BoxError>(res.body(())?)
///     }
/// });
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let into = log.clone();
/// let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().on_event(move |event| {
///     let line = match event {
///         RetryEvent::Attempt { attempt, .. } => format!("attempt {attempt}"),
///         RetryEvent::Outcome(o) => format!(
///             "{:?} {:?} -> {}",
///             o.status.map(|s| s.as_u16()),
///             o.error_code.as_ref().map(|c| c.as_str()),
///             if matches!(o.decision, Decision::Retry { .. }) { "retry" } else { "return" },
///         ),
///         _ => String::from("(a newer kind of event)"),
///     };
///     into.lock().unwrap().push(line);
/// }));
/// let svc = ServiceBuilder::new().layer(layer).service(endpoint);
/// svc.oneshot(http::Request::new(Full::new(Bytes::from("1,2")))).await?;
///
/// assert_eq!(*log.lock().unwrap(), [
///     "attempt 1",
///     "Some(429) Some(\"ModelNotReadyException\") -> retry",
///     "attempt 2",
///     "Some(200) None -> return",
/// ]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RetryEvent<'a> {
    /// An attempt is being sent (the retry layer only).
    Attempt {
        /// Which attempt, 1 for the first.
        attempt: u32,
        /// Time left in the call's budget, with a [`Deadline`](crate::deadline::Deadline).
        remaining: Option<Duration>,
    },
    /// An attempt ended, and what comes next is decided; or the call ended
    /// between attempts.
    ///
    /// Every call reports exactly one outcome whose decision
    /// [`is_final`](Decision::is_final), and it is the call's last event.
    /// When the call ends between attempts (its deadline passes while it
    /// sleeps a backoff, waits for another call's probe or for the inner
    /// service to be ready; the inner service fails to become ready; the
    /// call is dropped), that outcome carries the error the call ends with
    /// (none when dropped) and the number of the last attempt made (0 when
    /// none was).
    Outcome(AttemptOutcome<'a>),
}

/// How an attempt (or the call) ended, and the decision that follows; see
/// [`RetryEvent`] for an example.
#[derive(Debug)]
#[non_exhaustive]
pub struct AttemptOutcome<'a> {
    /// Which attempt, 1 for the first (0 for a call that ended before any).
    pub attempt: u32,
    /// The response's status, when the attempt got a response.
    pub status: Option<StatusCode>,
    /// The response's error code (`X-Amzn-ErrorType`), when it has one.
    pub error_code: Option<ErrorCode<'a>>,
    /// The attempt's error, when it got none.
    pub error: Option<&'a (dyn StdError + 'static)>,
    /// Why the outcome is retryable, if it is.
    pub reason: Option<RetryReason>,
    /// What comes next.
    pub decision: Decision,
    /// Time left in the call's budget, with a [`Deadline`](crate::deadline::Deadline).
    pub remaining: Option<Duration>,
    /// No attempt ended here: the call ended between attempts (see
    /// [`RetryEvent::Outcome`]), and `attempt` is the last one made.
    pub between_attempts: bool,
    /// The request's `X-Amzn-SageMaker-Target-Model`, if it has one.
    pub target_model: Option<&'a str>,
    /// The request's `X-Amzn-SageMaker-Inference-Component`, if it has one.
    pub inference_component: Option<&'a str>,
    /// When this or an earlier attempt of the call got 429: the time since
    /// the first 429 (on a success, the wait a cold start cost).
    pub since_first_429: Option<Duration>,
    /// When this or an earlier attempt of the call got a no-capacity answer
    /// ([`RetryReason::NoCapacity`]): the time since the first (on a
    /// success, the wait a scale-out from zero cost).
    pub since_first_no_capacity: Option<Duration>,
}

/// What the retry layer does after an attempt; see [`RetryEvent`] and
/// [`LegacyRetries::on_event`](super::LegacyRetries::on_event)
/// for examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Sleeps `delay`, then retries.
    Retry {
        /// The backoff before the next attempt.
        delay: Duration,
    },
    /// Hands the outcome to the caller: a success, or a failure not retried.
    Return,
    /// Hands a retryable outcome to the caller: no retries are left.
    RetriesExhausted,
    /// Hands a retryable outcome to the caller: the backoff would end after
    /// the deadline.
    DeadlineWouldPass,
    /// Fails the call with [`DeadlineExceeded`](crate::deadline::DeadlineExceeded).
    DeadlineExceeded,
    /// The model is loading (or the inference component scaling out) and
    /// another call probes it: waits for that call's outcome, then retries
    /// at once when it is ready ([`ColdStarts`](super::ColdStarts)).
    WaitForModel,
    /// The call's future was dropped before the call ended (and before its
    /// deadline, if it had one): nothing reaches the caller.
    Cancelled,
}

impl Decision {
    /// Whether the call ends here: every call reports exactly one outcome
    /// with a final decision, its last event.
    pub fn is_final(&self) -> bool {
        !matches!(self, Self::Retry { .. } | Self::WaitForModel)
    }
}

type Callback = dyn Fn(&RetryEvent<'_>) + Send + Sync;

/// The callbacks of a layer or policy; cloning shares them.
#[derive(Clone, Default)]
pub(crate) struct Hooks(Option<Arc<Vec<Arc<Callback>>>>);

impl Hooks {
    pub(crate) fn add(&mut self, callback: Arc<Callback>) {
        let list = self.0.get_or_insert_with(Default::default);
        Arc::make_mut(list).push(callback);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn emit(&self, event: &RetryEvent<'_>) {
        for callback in self.0.iter().flat_map(|list| list.iter()) {
            callback(event);
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.as_ref().map_or(0, |list| list.len());
        write!(f, "{n} callback(s)")
    }
}
