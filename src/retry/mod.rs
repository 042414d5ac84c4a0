//! Retries of `ModelNotReadyException` and other transient failures, as
//! botocore's legacy retry mode (boto3's default) does them.
//!
//! ```
//! use std::sync::atomic::{AtomicU32, Ordering};
//! use std::sync::Arc;
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
//!
//! [`ModelNotReadyRetryLayer`] wraps any `Service<http::Request<B>>` that
//! answers `http::Response<R>`. Its decisions are set by one value,
//! [`LegacyRetries`], which the `tower::retry::Policy` of this module
//! (`LegacyRetryPolicy`, feature `retry-policy`), the AWS SDK and the reqwest
//! integrations take too; one per-call controller makes them for all.
//!
//! - **Attempts and backoff**: the first, then up to
//!   [`max_retries`](LegacyRetries::max_retries) retries (default 4); before
//!   retry `k` a uniform random sleep in `[0, 2^(k-1))` seconds, with no cap
//!   ([`LegacyBackoff`]).
//! - **What is retried**: decided by a [`RetryClassifier`] from the response's
//!   status and headers (never its body) or from the error, once per attempt,
//!   into a [`RetryReason`]: 429 whatever the code (so `ModelNotReadyException`),
//!   500, 502, 503, 504, 509, 400 with a throttling code, transport errors and
//!   timeouts.
//! - **Per-attempt timeout**: 70 s by default ([`AttemptTimedOut`], retried).
//!   An attempt lasts until the response head, or, with
//!   [`CollectBodyLayer`](crate::collect_body::CollectBodyLayer) beneath, the
//!   whole body; to bound each wait for bytes, as botocore's `read_timeout`
//!   does, put [`ReadTimeoutLayer`](crate::read_timeout::ReadTimeoutLayer)
//!   beneath. The [`deadline`](crate::deadline#which-setting-bounds-which-wait)
//!   module tells which setting bounds which wait.
//! - **Deadline**: with a [`Deadline`](crate::deadline::Deadline) in the
//!   request's extensions (from [`DeadlineLayer`](crate::deadline::DeadlineLayer)
//!   above, or the caller), no sleep ends past it and no attempt starts after
//!   it, also while the inner service is slow to become ready; a backoff that
//!   would end after it returns the last outcome at once; each attempt gets
//!   `min(attempt_timeout, remaining)`; an attempt cut short by it, or any
//!   error at or after it, ends the call with
//!   [`DeadlineExceeded`](crate::deadline::DeadlineExceeded). Services beneath
//!   do not see the `Deadline`; the response carries it. The body is
//!   `DeadlineLayer`'s to bound.
//! - **Outcome**: when retries run out on a retryable response the caller
//!   gets that response (a 429 with its body, say); on a retryable error,
//!   the last error. Every response carries [`Attempts`]. The error type is
//!   [`tower::BoxError`]; reach the typed errors with `downcast_ref`.
//! - **Opt-ins**: [cold-start coalescing](LegacyRetries::coalesce_cold_starts)
//!   (while a model loads, one call at a time asks the endpoint about it:
//!   see [`ColdStarts`]), an [immediate retry after a reset
//!   connection](LegacyRetries::reset_connection_at_once), and
//!   [`on_event`](LegacyRetries::on_event) callbacks with a typed
//!   [`RetryEvent`] for each attempt and exactly one final outcome per call
//!   (feature `metrics` records them with `RetryMetrics`).
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

mod backoff;
mod call;
pub(crate) mod classify;
mod cold_starts;
mod error;
mod event;
mod extensions;
mod future;
mod layer;
#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "retry-policy")]
mod policy;
mod request;
mod settings;

pub(crate) use self::backoff::whole_millis;
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
#[cfg(feature = "reqwest")]
pub(crate) use self::request::{invocation_id, sdk_request};
pub use self::settings::LegacyRetries;

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
