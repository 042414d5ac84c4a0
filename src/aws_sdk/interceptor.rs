//! Interceptors: the target-model header, and attempt numbers for the classifier.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Headers, Response};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

use crate::sagemaker::TARGET_MODEL_HEADER;
use crate::target_model::TargetModel;

/// Marks, for one operation, that a [`TargetModelInterceptor`] (not the
/// operation's own input) set the header, so a later interceptor (a per-call
/// `config_override`) may replace it.
#[derive(Debug, Clone, Copy)]
struct TargetModelFromInterceptor;

impl Storable for TargetModelFromInterceptor {
    type Storer = StoreReplace<Self>;
}

/// An SDK interceptor that sets `X-Amzn-SageMaker-Target-Model` on every
/// attempt, in `modify_before_signing`, so the header is signed.
///
/// Which model a request gets, first match wins:
/// 1. the operation's own `.target_model(..)` (set when the input is
///    serialized, kept as is);
/// 2. the model of the last registered `TargetModelInterceptor`: one added
///    for a single call through `.customize().config_override(..)` replaces
///    the client's.
///
/// ```
/// use tower_sagemaker::aws_sdk::TargetModelInterceptor;
/// use tower_sagemaker::target_model::TargetModel;
///
/// let interceptor = TargetModelInterceptor::new(TargetModel::new("model-3.tar.gz")?);
/// assert_eq!(interceptor.get_model().as_str(), "model-3.tar.gz");
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config).interceptor(interceptor)
/// # Ok::<(), tower_sagemaker::target_model::InvalidTargetModel>(())
/// ```
#[derive(Debug, Clone)]
pub struct TargetModelInterceptor {
    model: TargetModel,
}

impl TargetModelInterceptor {
    /// An interceptor that sets `model` on requests that have no target model.
    pub fn new(model: TargetModel) -> Self {
        Self { model }
    }

    /// The model this interceptor sets.
    pub fn get_model(&self) -> &TargetModel {
        &self.model
    }

    fn apply(&self, headers: &mut Headers, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let set_by_interceptor = cfg.load::<TargetModelFromInterceptor>().is_some();
        if headers.contains_key(TARGET_MODEL_HEADER.as_str()) && !set_by_interceptor {
            // The operation's own target model wins.
            return Ok(());
        }
        headers.try_insert(TARGET_MODEL_HEADER, self.model.header_value().clone())?;
        cfg.interceptor_state()
            .store_put(TargetModelFromInterceptor);
        Ok(())
    }
}

impl Intercept for TargetModelInterceptor {
    fn name(&self) -> &'static str {
        "tower_sagemaker::TargetModelInterceptor"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.apply(context.request_mut().headers_mut(), cfg)
    }
}

// ---------------------------------------------------------------------------
// Attempt numbers
// ---------------------------------------------------------------------------

/// The attempt a response answers, recorded by [`AttemptNumberInterceptor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AttemptNumber(pub(super) u32);

/// An SDK interceptor that records the attempt number (the SDK's
/// `RequestAttempts`, 1 for the first attempt) on each HTTP response, where
/// [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier) reads it to choose the legacy delay.
///
/// Register it with the classifier (the `aws-sdk-sagemakerruntime` helpers do).
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptNumberInterceptor {
    _private: (),
}

impl AttemptNumberInterceptor {
    /// A new interceptor.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Intercept for AttemptNumberInterceptor {
    fn name(&self) -> &'static str {
        "tower_sagemaker::AttemptNumberInterceptor"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(attempts) = cfg.load::<RequestAttempts>() {
            record_attempt(context.response_mut(), attempts.attempts());
        }
        Ok(())
    }
}

pub(super) fn record_attempt(response: &mut Response, attempt: u32) {
    response.add_extension(AttemptNumber(attempt));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_model_header_rules() {
        let a = TargetModelInterceptor::new(TargetModel::new("a.tar.gz").unwrap());
        let b = TargetModelInterceptor::new(TargetModel::new("b.tar.gz").unwrap());

        // No header: set, and a later interceptor (a per-call override) replaces it.
        let mut cfg = ConfigBag::base();
        let mut headers = Headers::new();
        a.apply(&mut headers, &mut cfg).unwrap();
        assert_eq!(
            headers.get("x-amzn-sagemaker-target-model"),
            Some("a.tar.gz")
        );
        b.apply(&mut headers, &mut cfg).unwrap();
        assert_eq!(
            headers.get("x-amzn-sagemaker-target-model"),
            Some("b.tar.gz")
        );

        // The operation's own header is kept.
        let mut cfg = ConfigBag::base();
        let mut headers = Headers::new();
        headers.insert("x-amzn-sagemaker-target-model", "mine.tar.gz");
        a.apply(&mut headers, &mut cfg).unwrap();
        b.apply(&mut headers, &mut cfg).unwrap();
        assert_eq!(
            headers.get("x-amzn-sagemaker-target-model"),
            Some("mine.tar.gz")
        );
    }
}
