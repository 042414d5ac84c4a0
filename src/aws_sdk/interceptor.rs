//! Interceptors: the target-model header, and attempt numbers (and the
//! scale-out budget) for the classifier.

use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextMut, FinalizerInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Headers;
#[cfg(test)]
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use tokio::time::Instant;

use super::classifier::is_no_capacity;
use crate::retry::{LegacyBackoff, LegacyRetries};
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

/// What [`AttemptNumberInterceptor`] records on each HTTP response for the
/// classifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct AttemptNumber {
    /// The SDK's attempt number (1 for the first attempt).
    pub(super) attempt: u32,
    /// With scale-from-zero: the no-capacity answers of earlier attempts
    /// that were paced by the scale-out backoff (the call has an
    /// `operation_timeout`); they are not counted against `max_retries`.
    pub(super) paced: u32,
    /// With scale-from-zero and an `operation_timeout`: the time left of it
    /// when the response came.
    pub(super) remaining: Option<Duration>,
    /// The uniform draw in `[0, 1)` the retry delay after this attempt is
    /// made of, drawn once so that every run of the classifier on the
    /// attempt (the SDK's, the events') decides the same delay.
    pub(super) unit: f64,
}

impl AttemptNumber {
    /// The attempts under botocore's budget, this one included.
    pub(super) fn legacy(&self) -> u32 {
        self.attempt.saturating_sub(self.paced)
    }
}

/// One operation's scale-from-zero bookkeeping, in its `ConfigBag`.
#[derive(Debug, Clone)]
struct ScaleOutState {
    start: Instant,
    // No-capacity answers paced so far.
    paced: u32,
    // The last attempt counted (a client's interceptor and a per-call
    // override's may both run).
    counted: u32,
    // The operation's retry config before this interceptor raised it.
    base: Option<RetryConfig>,
}

impl Storable for ScaleOutState {
    type Storer = StoreReplace<Self>;
}

/// The attempts of an operation that waited for another call's probe and
/// were made again, signed anew (`ColdStartsHttpClient`): each raises the
/// operation's `max_attempts` by one, so that they do not count.
#[derive(Debug, Clone, Copy)]
struct Resends(u32);

impl Storable for Resends {
    type Storer = StoreReplace<Self>;
}

/// An attempt that waited is made again: the operation's `max_attempts`
/// rises by one, and `resends` (the operation's count of them so far) is
/// kept for [`AttemptNumberInterceptor`]'s own raises.
pub(in crate::aws_sdk) fn count_resend(cfg: &mut ConfigBag, resends: u32) {
    let raised = cfg.load::<RetryConfig>().map(|r| {
        r.clone()
            .with_max_attempts(r.max_attempts().saturating_add(1))
    });
    let layer = cfg.interceptor_state();
    layer.store_put(Resends(resends));
    if let Some(raised) = raised {
        layer.store_put(raised);
    }
}

/// An SDK interceptor that records the attempt number (the SDK's
/// `RequestAttempts`, 1 for the first attempt) on each HTTP response, where
/// [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier) reads it to choose the legacy delay.
///
/// Built with [`for_retries`](Self::for_retries) from settings with
/// [`LegacyRetries::scale_from_zero`], it also keeps each operation's
/// budget for an inference component scaling from zero: when the operation
/// has an `operation_timeout`, each no-capacity answer
/// ([`RetryReason::NoCapacity`](crate::retry::RetryReason::NoCapacity)) raises the
/// operation's `max_attempts` by one (so such answers do not spend
/// botocore's retries, and the `operation_timeout` bounds them) and, for
/// the retry that follows it, its `max_backoff` to the scale-out backoff's
/// ceiling (so the SDK does not cut the 10 to 30 s pacing to the legacy
/// cap). Every other retry keeps the operation's own `max_attempts` and
/// `max_backoff`.
///
/// Register it with the classifier (the `aws-sdk-sagemakerruntime` helpers do).
///
/// ```
/// use tower_sagemaker::aws_sdk::{AttemptNumberInterceptor, ModelNotReadyClassifier};
/// use tower_sagemaker::retry::LegacyRetries;
///
/// let retries = LegacyRetries::new().scale_from_zero();
/// let interceptor = AttemptNumberInterceptor::for_retries(&retries);
/// assert!(interceptor.get_scale_from_zero());
/// let classifier = ModelNotReadyClassifier::new(&retries);
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
/// //     .interceptor(interceptor)
/// //     .retry_classifier(classifier)
/// # let _ = classifier;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptNumberInterceptor {
    // With scale-from-zero: the pacing of no-capacity retries.
    scale_out: Option<LegacyBackoff>,
}

impl AttemptNumberInterceptor {
    /// A new interceptor: attempt numbers only.
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor for a [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier)
    /// built from `retries`: with [`LegacyRetries::scale_from_zero`], it also
    /// keeps the scale-out budget (see above) with
    /// [`LegacyRetries::get_scale_out_backoff`]; otherwise it is
    /// [`new`](Self::new).
    pub fn for_retries(retries: &LegacyRetries) -> Self {
        Self {
            scale_out: retries
                .get_classifier()
                .get_scale_from_zero()
                .then(|| retries.get_scale_out_backoff()),
        }
    }

    /// Whether it keeps the scale-out budget.
    pub fn get_scale_from_zero(&self) -> bool {
        self.scale_out.is_some()
    }
}

/// The operation's `operation_timeout`, if it has one.
pub(in crate::aws_sdk) fn operation_timeout(cfg: &ConfigBag) -> Option<Duration> {
    cfg.load::<TimeoutConfig>()
        .and_then(TimeoutConfig::operation_timeout)
}

impl Intercept for AttemptNumberInterceptor {
    fn name(&self) -> &'static str {
        "tower_sagemaker::AttemptNumberInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.scale_out.is_some() {
            cfg.interceptor_state().store_put(ScaleOutState {
                start: Instant::now(),
                paced: 0,
                counted: 0,
                base: None,
            });
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(attempts) = cfg.load::<RequestAttempts>() else {
            return Ok(());
        };
        let mut number = AttemptNumber {
            attempt: attempts.attempts(),
            paced: 0,
            remaining: None,
            unit: fastrand::f64(),
        };
        if let Some(state) = cfg.load::<ScaleOutState>() {
            number.paced = state.paced;
            number.remaining =
                operation_timeout(cfg).map(|t| t.saturating_sub(state.start.elapsed()));
        }
        context.response_mut().add_extension(number);
        Ok(())
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut FinalizerInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(scale_out) = self.scale_out else {
            return Ok(());
        };
        let Some(mut state) = cfg.load::<ScaleOutState>().cloned() else {
            return Ok(());
        };
        let attempt = cfg.load::<RequestAttempts>().map_or(0, |a| a.attempts());
        if attempt <= state.counted {
            return Ok(());
        }
        state.counted = attempt;
        let paced = operation_timeout(cfg).is_some() && is_no_capacity(context.inner());
        if !paced && state.paced == 0 {
            // Nothing raised yet: the operation's own settings stand.
            cfg.interceptor_state().store_put(state);
            return Ok(());
        }
        // Attempts made again after a wait raise `max_attempts` too.
        let resends = cfg.load::<Resends>().map_or(0, |r| r.0);
        let Some(base) = state.base.clone().or_else(|| {
            let own = cfg.load::<RetryConfig>()?;
            let max = own.max_attempts().saturating_sub(resends);
            Some(own.clone().with_max_attempts(max))
        }) else {
            return Ok(());
        };
        state.paced += u32::from(paced);
        let max_backoff = match paced {
            true => base.max_backoff().max(scale_out.ceiling(state.paced)),
            false => base.max_backoff(),
        };
        let raised = base
            .clone()
            .with_max_attempts(
                base.max_attempts()
                    .saturating_add(state.paced)
                    .saturating_add(resends),
            )
            .with_max_backoff(max_backoff);
        state.base = Some(base);
        let layer = cfg.interceptor_state();
        layer.store_put(raised);
        layer.store_put(state);
        Ok(())
    }
}

#[cfg(test)]
pub(super) fn record_attempt(response: &mut Response, attempt: u32) {
    response.add_extension(AttemptNumber {
        attempt,
        paced: 0,
        remaining: None,
        unit: fastrand::f64(),
    });
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
