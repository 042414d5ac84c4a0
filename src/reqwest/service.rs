//! [`ReqwestService`]: a `reqwest::Client` as the transport beneath the tower stack.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use tower::BoxError;
use tower_service::Service;

/// A [`reqwest::Client`] as a `tower::Service<http::Request<B>>`, the HTTP
/// client beneath this crate's tower layers: a reqwest user keeps reqwest's
/// connection pool, TLS, proxies and timeouts, and gets every layer of the
/// crate above them ([`multi_model_endpoint`](crate::ServiceBuilderExt::multi_model_endpoint),
/// [`SigV4Layer`](crate::sigv4::SigV4Layer), cold-start coalescing, retry events).
///
/// - **Requests**: any `http::Request<B>` whose body is an
///   [`http_body::Body`] (`Full<Bytes>` as the retry layer wants, or a
///   stream), converted with reqwest's own conversions
///   ([`reqwest::Body::wrap`], `TryFrom<http::Request>`). The URI must be
///   absolute (`https://runtime.sagemaker.us-east-1.amazonaws.com/...`).
/// - **Responses**: `http::Response<reqwest::Body>`; the body streams, and
///   the crate's layers above (`DeadlineLayer`, `ReadTimeoutLayer`,
///   `CollectBodyLayer`) bound and read it as any other.
/// - **Errors**: a [`tower::BoxError`] holding the [`reqwest::Error`]
///   (`downcast_ref::<reqwest::Error>()`), whose sources keep the hyper and
///   I/O errors beneath: the [`RetryClassifier`](crate::retry::RetryClassifier)
///   retries a connection refused, reset or closed as
///   [`RetryReason::Transport`](crate::retry::RetryReason::Transport), and a
///   timeout of reqwest's own (the client's `timeout`, `read_timeout` or
///   `connect_timeout`) as botocore retries its read and connect timeouts.
///
/// `poll_ready` is always ready (reqwest queues in its pool); cloning is
/// cheap (a `reqwest::Client` is a reference-counted handle).
///
/// ```no_run
/// # // The recommended stack needs features `deadline` and `read-timeout` too.
/// # #[cfg(all(feature = "deadline", feature = "read-timeout"))]
/// # mod example {
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http_body_util::{BodyExt, Full};
/// use tower::{BoxError, ServiceBuilder, ServiceExt};
/// use tower_sagemaker::reqwest::ReqwestService;
/// use tower_sagemaker::target_model::TargetModel;
/// use tower_sagemaker::ServiceBuilderExt;
///
/// # pub async fn example() -> Result<(), BoxError> {
/// // reqwest's pool, TLS and proxies beneath; the crate's stack above
/// // (target model, 360 s deadline, legacy retries, 70 s read timeout). For
/// // AWS, add `sigv4::SigV4Layer` right above the transport (feature `sigv4`).
/// let client = reqwest::Client::builder()
///     .connect_timeout(Duration::from_secs(60))
///     .build()?;
/// let svc = ServiceBuilder::new()
///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
///     .service(ReqwestService::new(client));
///
/// let req = http::Request::post("http://127.0.0.1:8080/endpoints/demo/invocations")
///     .header("content-type", "text/csv")
///     .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
/// let res = svc.oneshot(req).await?;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.into_body().collect().await?.to_bytes(), "8.0");
/// # Ok(())
/// # }
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ReqwestService {
    client: ::reqwest::Client,
}

impl ReqwestService {
    /// Sends requests with `client`.
    pub fn new(client: ::reqwest::Client) -> Self {
        Self { client }
    }

    /// The client.
    pub fn get_ref(&self) -> &::reqwest::Client {
        &self.client
    }

    /// The client, by value.
    pub fn into_inner(self) -> ::reqwest::Client {
        self.client
    }
}

impl From<::reqwest::Client> for ReqwestService {
    fn from(client: ::reqwest::Client) -> Self {
        Self::new(client)
    }
}

impl<B> Service<http::Request<B>> for ReqwestService
where
    B: Body + Send + Sync + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<::reqwest::Body>;
    type Error = BoxError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        match ::reqwest::Request::try_from(request.map(::reqwest::Body::wrap)) {
            Ok(request) => {
                let pending = self.client.execute(request);
                ResponseFuture {
                    inner: Inner::Pending(Box::pin(pending)),
                }
            }
            Err(err) => ResponseFuture {
                inner: Inner::Failed(Some(err)),
            },
        }
    }
}

type Pending = Pin<Box<dyn Future<Output = Result<::reqwest::Response, ::reqwest::Error>> + Send>>;

/// Response future of [`ReqwestService`].
pub struct ResponseFuture {
    inner: Inner,
}

enum Inner {
    Pending(Pending),
    Failed(Option<::reqwest::Error>),
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.inner {
            Inner::Pending(_) => "pending",
            Inner::Failed(Some(_)) => "failed",
            Inner::Failed(None) => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<::reqwest::Body>, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.inner {
            Inner::Pending(pending) => pending
                .as_mut()
                .poll(cx)
                .map(|res| res.map(http::Response::from).map_err(BoxError::from)),
            Inner::Failed(err) => Poll::Ready(Err(match err.take() {
                Some(err) => err.into(),
                None => "ReqwestService's response future polled after completion".into(),
            })),
        }
    }
}
