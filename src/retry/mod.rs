//! Retries of `ModelNotReadyException` and other transient failures, as
//! botocore's legacy retry mode (boto3's default) does them.
//!
//! [`ModelNotReadyRetryLayer`] wraps any `Service<http::Request<B>>` that
//! answers `http::Response<R>`. Its decisions are set by one value,
//! [`LegacyRetries`], which the `tower::retry::Policy` of this module
//! (`LegacyRetryPolicy`, feature `retry-policy`), the AWS SDK and the reqwest
//! integrations take too; one per-call controller makes them for all.
//!
//! - **Attempts**: the first, then up to [`max_retries`](LegacyRetries::max_retries)
//!   retries (default 4, so 5 attempts as in boto3).
//! - **Backoff**: before retry `k` it sleeps a uniform random time in
//!   `[0, 2^(k-1))` seconds, with no cap ([`LegacyBackoff`]).
//! - **What is retried**: decided by a [`RetryClassifier`] from the response's
//!   status and headers (never its body) or from the error: 429 whatever the
//!   code (this is how `ModelNotReadyException` is retried), 500, 502, 503,
//!   504, 509, 400 with a throttling code, transport errors and per-attempt
//!   timeouts. Each outcome is classified once, into a [`RetryReason`].
//! - **Per-attempt timeout**: 70 s by default; an attempt that takes longer
//!   fails with [`AttemptTimedOut`] and is retried. An attempt lasts until the
//!   response head, or, with [`CollectBodyLayer`](crate::collect_body::CollectBodyLayer)
//!   beneath this layer, until the whole body is read. To bound each wait
//!   for bytes rather than the attempt, as botocore's `read_timeout` does,
//!   put [`ReadTimeoutLayer`](crate::read_timeout::ReadTimeoutLayer) beneath
//!   it. The [`deadline`](crate::deadline#which-setting-bounds-which-wait)
//!   module has a table of which setting bounds which wait.
//! - **Deadline**: with a [`Deadline`](crate::deadline::Deadline) in the request's extensions (put there by
//!   [`DeadlineLayer`](crate::deadline::DeadlineLayer) above, or by the caller), it never sleeps past the
//!   deadline nor starts an attempt after it, also when the inner service is
//!   slow to become ready. When the chosen backoff would end
//!   after the deadline it stops at once and returns the last outcome; each
//!   attempt's timeout is `min(attempt_timeout, remaining)`; an attempt cut
//!   short by the deadline, or any error at or after it, ends the call with
//!   [`DeadlineExceeded`](crate::deadline::DeadlineExceeded). The response
//!   body is outside this layer's reach: [`DeadlineLayer`](crate::deadline::DeadlineLayer)
//!   bounds it. The layer takes the
//!   `Deadline` out of the request (services beneath it do not see it; every
//!   other extension goes through, on every attempt) and puts it back on the
//!   response.
//! - **Reset connections**: with
//!   [`reset_connection_at_once`](LegacyRetries::reset_connection_at_once),
//!   the first retry after a connection reset or closed before any response
//!   (a pooled keep-alive connection the server had just closed) goes out at
//!   once; off by default, as botocore.
//! - **Outcome**: when retries run out on a retryable response the caller
//!   gets that response (a 429 with its body, say), not a synthetic error; on
//!   a retryable error, the last error. Every response carries [`Attempts`]
//!   in its extensions, and the call's [`Deadline`](crate::deadline::Deadline) when it
//!   had one. The error type is [`tower::BoxError`]; reach the typed
//!   errors with `downcast_ref`.
//! - **Cold-start coalescing** (opt-in,
//!   [`coalesce_cold_starts`](LegacyRetries::coalesce_cold_starts)):
//!   while a model loads, one call at a time asks the endpoint about it and
//!   the calls that share the layer wait for that call's answer, then send
//!   at once: N callers on a cold model make about N requests rather than
//!   one per caller per 60 s hold. See [`ColdStarts`].
//! - **Events**: [`on_event`](LegacyRetries::on_event) callbacks get a
//!   typed [`RetryEvent`] as each attempt starts and ends, with the decision
//!   that follows, and exactly one final outcome however the call ends: the
//!   stable way to observe retries (feature `metrics` records them with
//!   `RetryMetrics`).
//! - **Logs**: each retry emits a `tracing` event at `INFO` with the attempt
//!   number, the status or error kind and the chosen delay; never a body nor
//!   a header value.
//!
//! # Request bodies must be `Clone`
//!
//! Every attempt sends a copy of the request, so the body type `B` must be
//! `Clone`: [`http_body_util::Full<Bytes>`] is the usual choice (a clone is a
//! reference-count increment). To retry a streaming body, buffer it first:
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//!
//! async fn buffered<B>(req: http::Request<B>) -> Result<http::Request<Full<Bytes>>, B::Error>
//! where
//!     B: http_body::Body,
//! {
//!     let (parts, body) = req.into_parts();
//!     let bytes = body.collect().await?.to_bytes();
//!     Ok(http::Request::from_parts(parts, Full::new(bytes)))
//! }
//! ```
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::retry::{Attempts, LegacyRetries, ModelNotReadyRetryLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! // An endpoint whose model becomes ready on the third call.
//! let calls = Arc::new(AtomicU32::new(0));
//! let endpoint = service_fn(move |_req: http::Request<Full<Bytes>>| {
//!     let n = calls.fetch_add(1, Ordering::SeqCst);
//!     async move {
//!         let status = if n < 2 { 429 } else { 200 };
//!         Ok::<_, BoxError>(http::Response::builder().status(status).body(())?)
//!     }
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(2)))
//!     .service(endpoint);
//!
//! let res = svc.oneshot(http::Request::new(Full::new(Bytes::from("1,2,3")))).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.extensions().get::<Attempts>().unwrap().count(), 3);
//! # Ok(())
//! # }
//! ```

mod backoff;
mod call;
pub(crate) mod classify;
mod cold_starts;
mod error;
mod event;
mod future;
mod layer;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "retry-policy")]
mod policy;
mod settings;
mod template;

pub use self::backoff::LegacyBackoff;
#[cfg(feature = "reqwest")]
pub(crate) use self::call::decide::decide;
#[cfg(any(feature = "aws-sdk", feature = "reqwest"))]
pub(crate) use self::call::decide::Counted;
#[cfg(any(feature = "aws-sdk", feature = "reqwest"))]
pub(crate) use self::call::observed::{Observed, Seen};
pub use self::classify::{ErrorBodyReadFailed, NoCapacity, RetryClassifier, RetryReason};
pub use self::cold_starts::ColdStarts;
#[cfg(any(feature = "aws-sdk", feature = "reqwest"))]
pub(crate) use self::cold_starts::{Ticket, Turn, Watch};
pub use self::error::AttemptTimedOut;
pub use self::event::{AttemptOutcome, Decision, RetryEvent};
pub use self::future::ResponseFuture;
pub use self::layer::ModelNotReadyRetryLayer;
#[cfg(feature = "metrics")]
pub use self::metrics::RetryMetrics;
#[cfg(feature = "retry-policy")]
pub use self::policy::{LegacyRetryPolicy, RetryWait};
pub use self::settings::LegacyRetries;
#[cfg(feature = "reqwest")]
pub(crate) use self::template::{invocation_id, sdk_request};

use std::task::{Context, Poll};

use tower::BoxError;
use tower_service::Service;

/// How many attempts a call took: in the extensions of every response
/// [`ModelNotReadyRetryLayer`] returns.
///
/// ```
/// use tower_sagemaker::retry::Attempts;
///
/// fn attempts<B>(response: &http::Response<B>) -> Option<u32> {
///     Some(response.extensions().get::<Attempts>()?.count())
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attempts(pub(crate) u32);

impl Attempts {
    /// The number of attempts made, 1 or more.
    pub fn count(&self) -> u32 {
        self.0
    }
}

/// The service of [`ModelNotReadyRetryLayer`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ModelNotReadyRetry<S> {
    inner: S,
    // Cheap to clone (no reference count without opt-ins): every call's
    // future carries a copy of the settings.
    layer: ModelNotReadyRetryLayer,
}

impl<S> ModelNotReadyRetry<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &ModelNotReadyRetryLayer) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    inner_service_accessors!();
}

impl<S, B, R> Service<http::Request<B>> for ModelNotReadyRetry<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone,
    S::Error: Into<BoxError>,
    B: Clone,
{
    type Response = http::Response<R>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // The ready service makes the first attempt; its clone, the retries
        // (tower's usual take-the-ready-one dance).
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        let retries = self.layer.retries.clone();
        ResponseFuture::start(service, req, retries, self.layer.attempt_timeout)
    }
}
