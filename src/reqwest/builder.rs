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
}
