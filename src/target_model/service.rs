use std::task::{Context, Poll};

use http::header::{Entry, HeaderMap, HeaderValue, OccupiedEntry};
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
        set_header(req.headers_mut(), model);
        self.inner.call(req)
    }
}

/// Sets `X-Amzn-SageMaker-Target-Model` to `model` where `headers` have
/// none, or only a value [`TargetModel::new`] would reject (with a warning
/// either way). The one rule for every client this crate serves.
pub(crate) fn set_header(headers: &mut HeaderMap, model: Option<HeaderValue>) {
    // One lookup: the common case, no header, inserts at once.
    match headers.entry(TARGET_MODEL_HEADER) {
        Entry::Vacant(slot) => {
            if let Some(value) = model {
                slot.insert(value);
            }
        }
        Entry::Occupied(mut slot) => {
            if let Err(why) = check_header(&slot) {
                match model {
                    Some(value) => {
                        tracing::warn!(
                            reason = %why,
                            "replacing the request's invalid X-Amzn-SageMaker-Target-Model header with its TargetModel"
                        );
                        slot.insert(value);
                    }
                    None => tracing::warn!(
                        reason = %why,
                        "sending an invalid X-Amzn-SageMaker-Target-Model header: the endpoint will reject it"
                    ),
                }
            }
        }
    }
}

/// Whether a header the request already has is one value that
/// [`TargetModel::new`] accepts; the reason when not.
fn check_header(slot: &OccupiedEntry<'_, HeaderValue>) -> Result<(), String> {
    if slot.iter().nth(1).is_some() {
        return Err("the header is present more than once".into());
    }
    let name = std::str::from_utf8(slot.get().as_bytes())
        .map_err(|_| "the header value is not UTF-8".to_owned())?;
    super::check(name).map_err(|e| e.to_string())
}
