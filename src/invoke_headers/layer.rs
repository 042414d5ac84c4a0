use std::task::{Context, Poll};

use http::header::Entry;
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
        for header in own
            .into_iter()
            .flat_map(InvokeHeaders::iter)
            .chain(self.defaults.iter())
        {
            if let Entry::Vacant(slot) = parts.headers.entry(header.name()) {
                slot.insert(header.value().clone());
            }
        }
        self.inner.call(http::Request::from_parts(parts, body))
    }
}
