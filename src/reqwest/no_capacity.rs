//! [`NoCapacityMiddleware`]: finds an inference component's no-capacity
//! answer for reqwest-middleware clients (feature `scale-from-zero`).

use std::convert::Infallible;
use std::future::{ready, Ready};
use std::task::{Context, Poll};

use http::Extensions;
use reqwest::ResponseBuilderExt;
use reqwest_middleware::{Middleware, Next};
use tower_layer::Layer;
use tower_service::Service;

use crate::scale_from_zero::{may_be_no_capacity, NoCapacityLayer};

/// Reads the first bytes of a 400 `ValidationError` body and marks the
/// response with [`NoCapacity`](crate::retry::NoCapacity) when it carries
/// the service's no-capacity message (an inference component with no copy),
/// as [`NoCapacityLayer`] does for tower.
///
/// reqwest-retry's strategy sees a `&reqwest::Response` and cannot read its
/// body; this middleware, placed **after** (inside)
/// `reqwest_retry::RetryTransientMiddleware` and
/// [`ColdStartsMiddleware`](super::ColdStartsMiddleware), reads it for them
/// on each attempt. With
/// [`LegacyRetries::scale_from_zero`](crate::retry::LegacyRetries::scale_from_zero),
/// [`LegacyRetryableStrategy`](super::LegacyRetryableStrategy) and
/// `ColdStartsMiddleware` then retry such an answer as
/// [`RetryReason::NoCapacity`](crate::retry::RetryReason::NoCapacity).
/// [`ClientBuilderExt::inference_component`](super::ClientBuilderExt::inference_component)
/// puts it in place.
///
/// What it costs: nothing for a response that is not a 400 with
/// `X-Amzn-ErrorType: ValidationError` (a status compare; the response is
/// handed on untouched). For one, it reads at most
/// [`limit`](Self::limit) bytes of the body (1 KiB by default; nothing when
/// its `Content-Length` is larger) with [`NoCapacityLayer`]'s reader, and
/// hands on a `reqwest::Response` with the same status, headers, URL and
/// whole body: the bytes read, then the rest (or the error met reading it).
///
/// ```
/// use http::Extensions;
/// use reqwest_middleware::{Middleware, Next};
/// use tower_sagemaker::reqwest::NoCapacityMiddleware;
/// use tower_sagemaker::retry::NoCapacity;
/// use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;
///
/// /// An endpoint whose component has no copy.
/// struct AtZero;
///
/// #[async_trait::async_trait]
/// impl Middleware for AtZero {
///     async fn handle(&self, _: reqwest::Request, _: &mut Extensions, _: Next<'_>)
///         -> reqwest_middleware::Result<reqwest::Response> {
///         let body = format!(r#"{{"message":"{NO_CAPACITY_MESSAGE}"}}"#);
///         let res = http::Response::builder()
///             .status(400)
///             .header("x-amzn-errortype", "ValidationError")
///             .body(body)
///             .unwrap();
///         Ok(res.into())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(NoCapacityMiddleware::new())
///     .with(AtZero)
///     .build();
/// let res = client.post("http://127.0.0.1:9/endpoints/demo/invocations").send().await.unwrap();
/// assert!(res.extensions().get::<NoCapacity>().is_some());
/// // The caller reads the same body.
/// assert!(res.text().await.unwrap().contains(NO_CAPACITY_MESSAGE));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCapacityMiddleware {
    layer: NoCapacityLayer,
}

impl NoCapacityMiddleware {
    /// Reads up to [`NoCapacityLayer::DEFAULT_LIMIT`] bytes (1 KiB) of a
    /// `ValidationError` body.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many bytes of a `ValidationError` body are read at most; a
    /// longer body is not the no-capacity answer and is passed on whole.
    pub fn limit(mut self, bytes: usize) -> Self {
        self.layer = self.layer.limit(bytes);
        self
    }

    /// The most bytes of an error body read.
    pub fn get_limit(&self) -> usize {
        self.layer.get_limit()
    }
}

/// A service that has already answered: [`NoCapacityLayer`]'s reader over
/// a response reqwest got.
struct Answered(Option<http::Response<reqwest::Body>>);

impl Service<()> for Answered {
    type Response = http::Response<reqwest::Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, (): ()) -> Self::Future {
        ready(Ok(self.0.take().expect("answered once")))
    }
}

#[async_trait::async_trait]
impl Middleware for NoCapacityMiddleware {
    async fn handle(
        &self,
        req: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let res = next.run(req, extensions).await?;
        if !may_be_no_capacity(res.status(), res.headers()) {
            return Ok(res);
        }
        // `http::Response` does not keep reqwest's URL: it goes back in as
        // the extension `reqwest::Response::from` reads.
        let url = res.url().clone();
        let mut check = self.layer.layer(Answered(Some(res.into())));
        let Ok(peeked) = check.call(()).await;
        let (mut parts, body) = peeked.into_parts();
        let (with_url, ()) = http::Response::builder()
            .url(url)
            .body(())
            .expect("a response with only a URL")
            .into_parts();
        parts.extensions.extend(with_url.extensions);
        let body = reqwest::Body::wrap(body);
        Ok(reqwest::Response::from(http::Response::from_parts(
            parts, body,
        )))
    }
}
