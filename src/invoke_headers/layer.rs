use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::InvokeHeaders;

/// Sets [`InvokeHeaders`] on every request: those in the request's
/// extensions first, then the layer's defaults; a header the request
/// already has is kept. It adds no failure mode: its service's error and
/// future are the inner service's. See the [module docs](super).
///
/// Beneath [`SigV4Layer`](crate::sigv4) it would add headers after the
/// signature: place it above, as [`TargetModelLayer`](crate::target_model::TargetModelLayer).
///
/// ```
/// use bytes::Bytes;
/// use http_body_util::Full;
/// use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
/// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders, InvokeHeadersLayer};
/// use tower_sagemaker::sagemaker::TARGET_VARIANT_HEADER;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let echo = service_fn(|req: http::Request<Full<Bytes>>| async move {
///     Ok::<_, BoxError>(req.headers().get(TARGET_VARIANT_HEADER).cloned())
/// });
/// // No defaults: only what each request asks for.
/// let svc = ServiceBuilder::new()
///     .layer(InvokeHeadersLayer::per_request())
///     .service(echo);
///
/// let mut canary = http::Request::new(Full::default());
/// canary
///     .extensions_mut()
///     .insert(InvokeHeaders::new().with(InvokeHeader::target_variant("canary")?));
/// assert_eq!(svc.clone().oneshot(canary).await?.unwrap(), "canary");
///
/// // A header the request already has wins.
/// let mut pinned = http::Request::new(Full::default());
/// pinned.headers_mut().insert(TARGET_VARIANT_HEADER, "stable".parse()?);
/// pinned
///     .extensions_mut()
///     .insert(InvokeHeaders::new().with(InvokeHeader::target_variant("canary")?));
/// assert_eq!(svc.oneshot(pinned).await?.unwrap(), "stable");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InvokeHeadersLayer {
    defaults: InvokeHeaders,
}

impl InvokeHeadersLayer {
    /// Sets `defaults` on requests that lack them.
    pub fn new(defaults: InvokeHeaders) -> Self {
        Self { defaults }
    }

    /// Sets only the headers of each request's own [`InvokeHeaders`] extension.
    pub fn per_request() -> Self {
        Self::default()
    }

    /// The default headers.
    pub fn get_defaults(&self) -> &InvokeHeaders {
        &self.defaults
    }
}

impl<S> Layer<S> for InvokeHeadersLayer {
    type Service = InvokeHeadersService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvokeHeadersService {
            inner,
            defaults: self.defaults.clone(),
        }
    }
}

/// The service of [`InvokeHeadersLayer`].
///
/// ```
/// use tower::{service_fn, BoxError};
/// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders, InvokeHeadersService};
///
/// # fn main() -> Result<(), BoxError> {
/// let client = service_fn(|_req: http::Request<()>| async { Ok::<_, BoxError>(()) });
/// let svc = InvokeHeadersService::new(
///     client,
///     InvokeHeaders::new().with(InvokeHeader::target_variant("blue")?),
/// );
/// assert_eq!(svc.get_defaults().iter().count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct InvokeHeadersService<S> {
    inner: S,
    defaults: InvokeHeaders,
}

impl<S> InvokeHeadersService<S> {
    /// Wraps `inner` with `defaults`, as [`InvokeHeadersLayer::new`].
    pub fn new(inner: S, defaults: InvokeHeaders) -> Self {
        Self { inner, defaults }
    }

    /// The default headers.
    pub fn get_defaults(&self) -> &InvokeHeaders {
        &self.defaults
    }

    inner_service_accessors!();
}

impl<S, B> Service<http::Request<B>> for InvokeHeadersService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        // In parts, the extensions can be read while the headers are written.
        let (mut parts, body) = req.into_parts();
        let own = parts.extensions.get::<InvokeHeaders>();
        super::set_headers(&mut parts.headers, own, &self.defaults);
        self.inner.call(http::Request::from_parts(parts, body))
    }
}
