//! A read timeout with botocore's meaning: [`ReadTimeoutLayer`] bounds each
//! wait for bytes, for the response head and then for every frame of the
//! body, and fails the wait that runs over with [`ReadTimedOut`].
//!
//! botocore's `read_timeout` (60 s by default; 70 s is recommended for
//! multi-model endpoints, a little more than their 60 s hold) is a socket
//! timeout: it does not bound a whole call, only each silence. This layer is
//! the same for any tower HTTP client. Placed beneath
//! [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer), a head
//! that does not come in time is a retried attempt; a body that goes silent
//! fails the read with [`ReadTimedOut`] (and, with
//! [`CollectBodyLayer`](crate::collect_body::CollectBodyLayer) beneath the
//! retry layer too, is retried as well).
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, StreamBody};
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::read_timeout::{ReadTimedOut, ReadTimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
//! // A server that sends one frame of the body, then goes silent.
//! let stalls = service_fn(|_req: http::Request<()>| async {
//!     let frames = futures_util::stream::iter([Ok::<_, BoxError>(
//!         http_body::Frame::data(Bytes::from("8.")),
//!     )])
//!     .chain(futures_util::stream::pending());
//!     Ok::<_, BoxError>(http::Response::new(StreamBody::new(frames)))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(ReadTimeoutLayer::new(Duration::from_secs(70)))
//!     .service(stalls);
//!
//! let res = svc.oneshot(http::Request::new(())).await?;
//! let err = res.into_body().collect().await.unwrap_err();
//! let timed_out = err.downcast_ref::<ReadTimedOut>().unwrap();
//! assert!(timed_out.is_body());
//! assert_eq!(timed_out.timeout(), Duration::from_secs(70));
//! # Ok(())
//! # }
//! # use futures_util::StreamExt;
//! ```

mod body;
mod error;
mod future;
mod layer;

pub use self::body::ReadTimeoutBody;
pub use self::error::ReadTimedOut;
pub use self::future::ResponseFuture;
pub use self::layer::ReadTimeoutLayer;

use std::task::{Context, Poll};
use std::time::Duration;

use tower::BoxError;
use tower_service::Service;

/// The service of [`ReadTimeoutLayer`]; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct ReadTimeout<S> {
    inner: S,
    timeout: Duration,
    // False when a layer above bounds the head (see `ReadTimeoutLayer::body_only`).
    pub(super) times_head: bool,
}

impl<S> ReadTimeout<S> {
    /// Wraps `inner`, bounding each wait for the head and for each body frame by `timeout`.
    pub fn new(inner: S, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            times_head: true,
        }
    }

    /// The longest wait for the head or for one body frame.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    inner_service_accessors!();
}

impl<S, B, R> Service<http::Request<B>> for ReadTimeout<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<ReadTimeoutBody<R>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.timeout, self.times_head)
    }
}
