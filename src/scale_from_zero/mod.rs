//! Inference components that scale to zero: [`NoCapacityLayer`] finds the
//! service's no-capacity answer, so that the retry layer can ride a
//! scale-out through.
//!
//! While an inference component has no copy (it scaled to zero when idle,
//! and a call has just set the scale-out going), every call to it fails
//! with HTTP 400 `ValidationError` and the message
//! [`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE), for the
//! several minutes it takes to provision an instance and a copy. No AWS SDK
//! retries it: a `ValidationError` is final everywhere. The only thing that
//! tells it from a bad request is the message, which is in the body.
//!
//! [`NoCapacityLayer`], placed beneath the retry layer, reads the body of a
//! 400 `ValidationError` response (and of no other), up to 1 KiB, and puts
//! the [`NoCapacity`](crate::retry::NoCapacity) mark in the response's
//! extensions when its `message` is the no-capacity one. With
//! [`LegacyRetries::scale_from_zero`](crate::retry::LegacyRetries::scale_from_zero),
//! the retry layer retries such responses as
//! [`RetryReason::NoCapacity`](crate::retry::RetryReason::NoCapacity): paced
//! 10 to 30 s apart and bounded by the call's deadline, with cold-start
//! coalescing shared so that one call at a time asks.
//!
//! What it costs: nothing on a response that is not a 400
//! `ValidationError` (one status compare; the body passes through
//! untouched). For one, the body is read inside the attempt (at most the
//! limit, one small buffer and one JSON parse) and handed on whole, the
//! frames read first: the caller sees the same body.
//! [`ServiceBuilderExt::inference_component`](crate::ServiceBuilderExt::inference_component)
//! stacks it with the rest.
//!
//! ```
//! # use tower::BoxError;
//! # #[cfg(feature = "deadline")]
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::deadline::DeadlineLayer;
//! use tower_sagemaker::retry::{Attempts, LegacyRetries, ModelNotReadyRetryLayer};
//! use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;
//! use tower_sagemaker::scale_from_zero::NoCapacityLayer;
//!
//! // A component that gets its copy four minutes after the first call.
//! let start = tokio::time::Instant::now();
//! let endpoint = service_fn(move |_req: http::Request<Full<Bytes>>| async move {
//!     let res = match start.elapsed() < Duration::from_secs(240) {
//!         true => http::Response::builder()
//!             .status(400)
//!             .header("x-amzn-errortype", "ValidationError")
//!             .body(Full::new(Bytes::from(format!(r#"{{"message":"{NO_CAPACITY_MESSAGE}"}}"#))))?,
//!         false => http::Response::new(Full::new(Bytes::from("8.0"))),
//!     };
//!     Ok::<_, BoxError>(res)
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(600)))
//!     .layer(ModelNotReadyRetryLayer::new(LegacyRetries::new().scale_from_zero()))
//!     .layer(NoCapacityLayer::new())
//!     .service(endpoint);
//!
//! let res = svc.oneshot(http::Request::new(Full::new(Bytes::from("1,2,3")))).await?;
//! assert_eq!(res.status(), 200);
//! assert!(res.extensions().get::<Attempts>().unwrap().count() > 5);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "deadline"))]
//! # fn main() {}
//! ```

use std::task::{Context, Poll};

use http_body::Body;
use tower_service::Service;

mod body;
mod future;
mod layer;

pub use self::body::PeekedBody;
#[cfg(feature = "reqwest")]
pub(crate) use self::future::may_be_no_capacity;
pub use self::future::ResponseFuture;
pub use self::layer::NoCapacityLayer;

/// The service of [`NoCapacityLayer`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct NoCapacityCheck<S> {
    inner: S,
    limit: usize,
}

impl<S> NoCapacityCheck<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &NoCapacityLayer) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    inner_service_accessors!();
}

impl<S, Req, B> Service<Req> for NoCapacityCheck<S>
where
    S: Service<Req, Response = http::Response<B>>,
    B: Body,
{
    type Response = http::Response<PeekedBody<B>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.limit)
    }
}
