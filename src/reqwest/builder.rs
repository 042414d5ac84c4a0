//! [`ClientBuilderExt`]: the recommended reqwest-middleware stack in one call.

use reqwest_middleware::ClientBuilder;
use reqwest_retry::RetryTransientMiddleware;

use super::{
    AttemptDeadlineMiddleware, AttemptHeadersMiddleware, ColdStartsMiddleware, DeadlineMiddleware,
    LegacyBackoffPolicy, LegacyRetryableStrategy, TargetModelMiddleware,
};
use crate::retry::LegacyRetries;
use crate::sagemaker::{MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT};
use crate::target_model::TargetModel;
#[cfg(feature = "scale-from-zero")]
use crate::{
    invoke_headers::InvokeHeaders,
    reqwest::{InvokeHeadersMiddleware, NoCapacityMiddleware},
    sagemaker::SCALE_FROM_ZERO_BUDGET,
};

mod sealed {
    pub trait Sealed {}
    impl Sealed for reqwest_middleware::ClientBuilder {}
}

/// This crate's recommended stack as methods of
/// `reqwest_middleware::ClientBuilder`, as
/// [`ServiceBuilderExt`](crate::ServiceBuilderExt) is for tower.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::reqwest::ClientBuilderExt;
/// use tower_sagemaker::retry::LegacyRetries;
/// use tower_sagemaker::target_model::TargetModel;
///
/// # fn main() -> Result<(), tower_sagemaker::target_model::InvalidTargetModel> {
/// // The recommended stack...
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
///     .build();
///
/// // ...or with settings of your own: 3 retries, 120 s for the whole call.
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .multi_model_endpoint_with(
///         TargetModel::new("model-3.tar.gz")?,
///         &LegacyRetries::new().max_retries(3),
///         Duration::from_secs(120),
///     )
///     .build();
/// # let _ = client; Ok(()) }
/// ```
pub trait ClientBuilderExt: sealed::Sealed + Sized {
    /// Adds the recommended stack for calls to `model` on a multi-model
    /// endpoint, in this order (outermost first):
    /// [`TargetModelMiddleware::new(model)`](TargetModelMiddleware::new),
    /// [`DeadlineMiddleware::default()`] (360 s for the whole call),
    /// `RetryTransientMiddleware` with [`LegacyBackoffPolicy::legacy()`] and
    /// [`LegacyRetryableStrategy::legacy()`] (botocore's legacy retries, 4
    /// retries), [`AttemptDeadlineMiddleware`] with a 70 s attempt timeout
    /// (each attempt and its body end by the deadline), and
    /// [`AttemptHeadersMiddleware`] (`amz-sdk-invocation-id` and
    /// `amz-sdk-request` on each attempt).
    ///
    /// Add [`SigV4Middleware`](super::SigV4Middleware) (feature `sigv4`)
    /// **after** it, and any middleware that sets headers before it.
    fn multi_model_endpoint(self, model: TargetModel) -> ClientBuilder {
        self.multi_model_endpoint_with(model, &LegacyRetries::new(), MAX_LOAD_TIME)
    }

    /// [`multi_model_endpoint`](Self::multi_model_endpoint) with the
    /// retries of `retries` (number, backoff and classifier) and a budget of
    /// `budget` for each call. The backoff policy stops retrying when a sleep
    /// would end after `budget`. With
    /// [`coalesce_cold_starts`](LegacyRetries::coalesce_cold_starts), a
    /// [`ColdStartsMiddleware`] goes right after the retry middleware; with
    /// [`attempt_headers(false)`](LegacyRetries::attempt_headers), no
    /// [`AttemptHeadersMiddleware`].
    fn multi_model_endpoint_with(
        self,
        model: TargetModel,
        retries: &LegacyRetries,
        budget: std::time::Duration,
    ) -> ClientBuilder;

    /// Adds the recommended stack for calls to an inference component that
    /// may scale to zero (feature `scale-from-zero`), in this order
    /// (outermost first):
    /// [`InvokeHeadersMiddleware::new(headers)`](InvokeHeadersMiddleware::new)
    /// (the component's `X-Amzn-SageMaker-Inference-Component` among them),
    /// [`DeadlineMiddleware`] with
    /// [`SCALE_FROM_ZERO_BUDGET`](crate::sagemaker::SCALE_FROM_ZERO_BUDGET)
    /// (10 minutes for the whole call, to cover a scale-out),
    /// `RetryTransientMiddleware` with botocore's legacy retries (4 retries),
    /// [`ColdStartsMiddleware`] (the no-capacity answers of a component
    /// scaling out, retried 10 to 30 s apart until the deadline, outside the
    /// 4 retries), [`NoCapacityMiddleware`] (reads at most 1 KiB of a 400
    /// `ValidationError` body to find them), [`AttemptDeadlineMiddleware`]
    /// with a 70 s attempt timeout and [`AttemptHeadersMiddleware`]. This is
    /// the rule of [`LegacyRetries::scale_from_zero`], as the tower stack
    /// [`ServiceBuilderExt::inference_component`](crate::ServiceBuilderExt::inference_component)
    /// applies it.
    ///
    /// Add [`SigV4Middleware`](super::SigV4Middleware) (feature `sigv4`)
    /// **after** it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
    /// use tower_sagemaker::reqwest::ClientBuilderExt;
    /// use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let component = InvokeHeaders::new().with(InvokeHeader::inference_component("ic-llama")?);
    ///
    /// // The recommended stack...
    /// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .inference_component(component.clone())
    ///     .build();
    ///
    /// // ...or with many callers sharing one probe of the component while it
    /// // scales out, and 15 minutes for the whole call.
    /// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .inference_component_with(
    ///         component,
    ///         &LegacyRetries::new().coalesce_cold_starts(ColdStarts::new()),
    ///         Duration::from_secs(900),
    ///     )
    ///     .build();
    /// # let _ = client; Ok(()) }
    /// ```
    #[cfg(feature = "scale-from-zero")]
    fn inference_component(self, headers: InvokeHeaders) -> ClientBuilder {
        self.inference_component_with(headers, &LegacyRetries::new(), SCALE_FROM_ZERO_BUDGET)
    }

    /// [`inference_component`](Self::inference_component) with the retries
    /// of `retries` (number, backoffs, classifier, coalescing, attempt
    /// headers), [`scale_from_zero`](LegacyRetries::scale_from_zero) turned
    /// on, and a budget of `budget` for each call: no-capacity retries go on
    /// while a retry 10 to 30 s later
    /// ([`scale_out_backoff`](LegacyRetries::scale_out_backoff)) would still
    /// start before `budget` is out.
    #[cfg(feature = "scale-from-zero")]
    fn inference_component_with(
        self,
        headers: InvokeHeaders,
        retries: &LegacyRetries,
        budget: std::time::Duration,
    ) -> ClientBuilder;
}

impl ClientBuilderExt for ClientBuilder {
    fn multi_model_endpoint_with(
        self,
        model: TargetModel,
        retries: &LegacyRetries,
        budget: std::time::Duration,
    ) -> ClientBuilder {
        let mut builder = self
            .with(TargetModelMiddleware::new(model))
            .with(DeadlineMiddleware::new(budget))
            .with(RetryTransientMiddleware::new_with_policy_and_strategy(
                LegacyBackoffPolicy::new(retries).total_budget(budget),
                LegacyRetryableStrategy::new(retries),
            ));
        if retries.get_cold_starts().is_some() {
            builder = builder.with(ColdStartsMiddleware::new(retries));
        }
        builder = builder
            .with(AttemptDeadlineMiddleware::new().attempt_timeout(RECOMMENDED_ATTEMPT_TIMEOUT));
        if retries.get_attempt_headers() {
            builder = builder.with(AttemptHeadersMiddleware::new(retries));
        }
        builder
    }

    #[cfg(feature = "scale-from-zero")]
    fn inference_component_with(
        self,
        headers: InvokeHeaders,
        retries: &LegacyRetries,
        budget: std::time::Duration,
    ) -> ClientBuilder {
        let retries = retries.clone().scale_from_zero();
        let mut builder = self
            .with(InvokeHeadersMiddleware::new(headers))
            .with(DeadlineMiddleware::new(budget))
            .with(RetryTransientMiddleware::new_with_policy_and_strategy(
                LegacyBackoffPolicy::new(&retries).total_budget(budget),
                LegacyRetryableStrategy::new(&retries),
            ))
            .with(ColdStartsMiddleware::new(&retries))
            .with(NoCapacityMiddleware::new())
            .with(AttemptDeadlineMiddleware::new().attempt_timeout(RECOMMENDED_ATTEMPT_TIMEOUT));
        if retries.get_attempt_headers() {
            builder = builder.with(AttemptHeadersMiddleware::new(&retries));
        }
        builder
    }
}
