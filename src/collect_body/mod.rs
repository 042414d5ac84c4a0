//! Reads whole response bodies inside the call: [`CollectBodyLayer`].
//!
//! Beneath [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer)
//! it makes the body part of the attempt: a body that fails or stalls
//! mid-way is an attempt failure ([`BodyReadFailed`]) and is retried like a
//! transport error, within the attempt timeout, and the response handed back
//! is complete in memory. botocore does not do this (its 200 body is a stream
//! the caller reads); it suits the common case of small JSON or CSV answers.
//!
//! - The bodies of responses that botocore's legacy mode retries (429, 5xx
//!   it retries, 400 throttling) are **left unread**: the retry layer drops
//!   them unread, so a large error body on every attempt costs no memory.
//!   The last such response, when retries run out, reaches the caller with
//!   its body unread, to read as it likes. With a custom
//!   [`RetryClassifier`](crate::retry::RetryClassifier), say which with
//!   [`CollectBodyLayer::leave_unread_if`].
//! - Every other body is read up to a limit; a longer one fails with
//!   [`BodyTooLarge`] (not retried: it would be as long again), never
//!   truncated. `Content-Length` over the limit fails before reading.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::collect_body::CollectBodyLayer;
//! use tower_sagemaker::sagemaker::MAX_PAYLOAD_BYTES;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let endpoint = service_fn(|_req: http::Request<()>| async {
//!     Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from("8.0"))))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(CollectBodyLayer::new(MAX_PAYLOAD_BYTES))
//!     .service(endpoint);
//!
//! let res = svc.oneshot(http::Request::new(())).await?;
//! assert!(res.body().is_collected());
//! assert_eq!(res.into_body().collect().await?.to_bytes(), "8.0");
//! # Ok(())
//! # }
//! ```

mod body;
mod error;
mod future;
mod layer;

pub use self::body::CollectedBody;
pub use self::error::{BodyReadFailed, BodyTooLarge};
pub use self::future::ResponseFuture;
pub use self::layer::CollectBodyLayer;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderMap, StatusCode};
use http_body::Body;
use tower::BoxError;
use tower_service::Service;

use crate::legacy::LegacyRetry;

type ResponsePredicate = dyn Fn(StatusCode, &HeaderMap) -> bool + Send + Sync;

/// Which responses keep their body unread.
#[derive(Clone, Default)]
pub(crate) enum LeaveUnread {
    /// Those botocore's legacy mode retries.
    #[default]
    Legacy,
    /// Those a user's predicate picks.
    If(Arc<ResponsePredicate>),
}

impl LeaveUnread {
    fn applies(&self, status: StatusCode, headers: &HeaderMap) -> bool {
        match self {
            LeaveUnread::Legacy => {
                LegacyRetry::of(status, || crate::ErrorCode::from_headers(headers)).is_some()
            }
            LeaveUnread::If(predicate) => predicate(status, headers),
        }
    }
}

impl fmt::Debug for LeaveUnread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeaveUnread::Legacy => f.write_str("Legacy"),
            LeaveUnread::If(_) => f.write_str("If(..)"),
        }
    }
}

/// The service of [`CollectBodyLayer`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct CollectBody<S> {
    inner: S,
    limit: usize,
    leave_unread: LeaveUnread,
}

impl<S> CollectBody<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &CollectBodyLayer) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    /// The largest body read, in bytes.
    pub fn get_limit(&self) -> usize {
        self.limit
    }

    inner_service_accessors!();
}

impl<S, B, R> Service<http::Request<B>> for CollectBody<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
    R: Body,
    R::Error: Into<BoxError>,
{
    type Response = http::Response<CollectedBody<R>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.limit, self.leave_unread.clone())
    }
}
