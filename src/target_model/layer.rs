use tower_layer::Layer;

use super::{TargetModel, TargetModelService};

/// Sets `X-Amzn-SageMaker-Target-Model` on every request.
///
/// Which model a request gets, first match wins:
/// 1. the header it already has, if it is one valid target model (kept as is);
/// 2. a [`TargetModel`] in its extensions (per-request routing);
/// 3. the layer's default, if it has one ([`TargetModelLayer::new`]).
///
/// A header the request already has that [`TargetModel::new`] would reject
/// (not UTF-8, empty, too long, not printable, present twice) is replaced by
/// 2 or 3 when there is one; when there is none it is sent as it is. Either
/// way a `tracing` warning says so, with the rule it breaks (never the value).
///
/// With [`TargetModelLayer::per_request`] there is no default, and requests
/// without a header or extension pass unchanged. The layer adds no failure
/// mode: its service's error and future are the inner service's. See the
/// [module docs](super) for an example.
#[derive(Debug, Clone)]
pub struct TargetModelLayer {
    model: Option<TargetModel>,
}

impl TargetModelLayer {
    /// Sets `model` on requests that carry neither the header nor a [`TargetModel`] extension.
    pub fn new(model: TargetModel) -> Self {
        Self { model: Some(model) }
    }

    /// Sets the header only from a request's [`TargetModel`] extension.
    pub fn per_request() -> Self {
        Self { model: None }
    }

    /// The default model, if any.
    pub fn get_model(&self) -> Option<&TargetModel> {
        self.model.as_ref()
    }
}

impl<S> Layer<S> for TargetModelLayer {
    type Service = TargetModelService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TargetModelService::new(inner, self.model.clone())
    }
}
