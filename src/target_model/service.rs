use std::task::{Context, Poll};

use http::header::Entry;
use tower_service::Service;

use super::TargetModel;
use crate::sagemaker::TARGET_MODEL_HEADER;

/// The service of [`TargetModelLayer`](super::TargetModelLayer): sets the
/// target-model header, then calls the inner service.
#[derive(Debug, Clone)]
pub struct TargetModelService<S> {
    inner: S,
    model: Option<TargetModel>,
}

impl<S> TargetModelService<S> {
    /// Wraps `inner`; `model` is the default, as in
    /// [`TargetModelLayer::new`](super::TargetModelLayer::new) (`None`: as
    /// [`per_request`](super::TargetModelLayer::per_request)).
    pub fn new(inner: S, model: Option<TargetModel>) -> Self {
        Self { inner, model }
    }

    /// The default model, if any.
    pub fn get_model(&self) -> Option<&TargetModel> {
        self.model.as_ref()
    }

    inner_service_accessors!();
}

impl<S, B> Service<http::Request<B>> for TargetModelService<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let model = req
            .extensions()
            .get::<TargetModel>()
            .or(self.model.as_ref())
            .map(|model| model.header_value().clone());
        if let Some(value) = model {
            // One lookup: set the header only where the request has none.
            if let Entry::Vacant(slot) = req.headers_mut().entry(TARGET_MODEL_HEADER) {
                slot.insert(value);
            }
        }
        self.inner.call(req)
    }
}
