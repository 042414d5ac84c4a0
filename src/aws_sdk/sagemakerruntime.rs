//! The `aws-sdk-sagemakerruntime` config extension.

use aws_sdk_sagemakerruntime::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_sagemakerruntime::config::timeout::TimeoutConfig;
use aws_sdk_sagemakerruntime::config::Builder;

use super::{
    legacy_retry_config_with, multi_model_timeout_config, AttemptNumberInterceptor,
    ModelNotReadyClassifier, TargetModelInterceptor,
};
use crate::retry::{LegacyBackoff, RetryClassifier};
use crate::sagemaker::internal::LEGACY_MAX_RETRIES;
use crate::target_model::TargetModel;

/// The retry partition of clients without a retry quota.
const UNLIMITED_PARTITION: &str = "tower-sagemaker-legacy";

/// Settings for a SageMaker Runtime client (or a single call) on a
/// multi-model endpoint; apply them with [`MultiModelEndpointExt`] or
/// [`MultiModelEndpoint::config_override`].
///
/// Applied, they register [`TargetModelInterceptor`] (with a target
/// model), [`ModelNotReadyClassifier`] and [`AttemptNumberInterceptor`],
/// and set [`legacy_retry_config_with`], [`multi_model_timeout_config`]
/// (merged with the builder's other timeouts) and, unless
/// [`retry_quota(true)`](Self::retry_quota), an unlimited retry token
/// bucket.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::{timeout_config, MultiModelEndpoint, MultiModelEndpointExt};
/// use tower_sagemaker::retry::LegacyBackoff;
/// use tower_sagemaker::target_model::TargetModel;
///
/// let settings = MultiModelEndpoint::new()
///     .target_model(TargetModel::new("model-3.tar.gz")?)
///     .max_retries(4)
///     .backoff(LegacyBackoff::new().max_delay(Duration::from_secs(5)))
///     .timeout_config(timeout_config(Duration::from_secs(120), Duration::from_secs(65)));
/// let config = aws_sdk_sagemakerruntime::Config::builder()
///     .multi_model_endpoint_with(settings)
///     .build();
/// assert_eq!(config.retry_config().unwrap().max_attempts(), 5);
/// # Ok::<(), tower_sagemaker::target_model::InvalidTargetModel>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiModelEndpoint {
    target_model: Option<TargetModel>,
    max_retries: u32,
    backoff: LegacyBackoff,
    classifier: RetryClassifier,
    timeout_config: TimeoutConfig,
    retry_quota: bool,
}

impl MultiModelEndpoint {
    /// botocore's legacy mode (4 retries after the first attempt, its
    /// conditions and backoff), the multi-model timeouts, no target model,
    /// no retry quota.
    pub fn new() -> Self {
        Self {
            target_model: None,
            max_retries: LEGACY_MAX_RETRIES,
            backoff: LegacyBackoff::new(),
            classifier: RetryClassifier::legacy(),
            timeout_config: multi_model_timeout_config(),
            retry_quota: false,
        }
    }

    /// Sets the target model of requests that do not set one.
    pub fn target_model(mut self, model: TargetModel) -> Self {
        self.target_model = Some(model);
        self
    }

    /// Sets the number of retries after the first attempt, as botocore's
    /// `retries={'max_attempts': n}` (so `n + 1` attempts). 0 turns retries off.
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Sets the backoff (also the SDK's initial and maximum backoff).
    pub fn backoff(mut self, backoff: LegacyBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets which responses and errors are retried.
    pub fn classifier(mut self, classifier: RetryClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// Sets the timeouts (see [`timeout_config`](super::timeout_config)).
    pub fn timeout_config(mut self, timeout_config: TimeoutConfig) -> Self {
        self.timeout_config = timeout_config;
        self
    }

    /// Whether to keep the SDK's retry token bucket (`true`) or to give
    /// the client an unlimited one, as botocore's legacy mode has no
    /// quota (`false`, the default).
    pub fn retry_quota(mut self, keep: bool) -> Self {
        self.retry_quota = keep;
        self
    }

    /// Applies these settings to `builder`.
    pub fn apply(self, mut builder: Builder) -> Builder {
        if let Some(model) = self.target_model {
            builder = builder.interceptor(TargetModelInterceptor::new(model));
        }
        builder = builder
            .interceptor(AttemptNumberInterceptor::new())
            .retry_classifier(
                ModelNotReadyClassifier::new()
                    .backoff(self.backoff)
                    .classifier(self.classifier),
            )
            .retry_config(legacy_retry_config_with(self.max_retries, self.backoff))
            .timeout_config(self.timeout_config);
        if !self.retry_quota {
            builder = builder.retry_partition(
                RetryPartition::custom(UNLIMITED_PARTITION)
                    .token_bucket(TokenBucket::unlimited())
                    .build(),
            );
        }
        builder
    }

    /// These settings as a config override for one call:
    /// `client.invoke_endpoint()...customize().config_override(settings.config_override())`.
    ///
    /// The override's retry and timeout settings replace the client's for
    /// that call. On a client that already has these settings, its
    /// classifier and interceptors run too: the two classifiers have the
    /// same priority, so either may decide the delay (the SDK does not
    /// order equal priorities), and the override's [`TargetModelInterceptor`]
    /// runs last, so its model wins (the operation's own
    /// `.target_model(..)` still wins over both).
    pub fn config_override(self) -> Builder {
        self.apply(Builder::default())
    }
}

impl Default for MultiModelEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

/// Applies [`MultiModelEndpoint`] settings to an
/// `aws_sdk_sagemakerruntime::config::Builder`.
///
/// ```no_run
/// # async fn example(sdk_config: aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
/// use tower_sagemaker::aws_sdk::MultiModelEndpointExt;
/// use tower_sagemaker::target_model::TargetModel;
///
/// let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
///     .build();
/// let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
/// # let _ = client; Ok(())
/// # }
/// ```
pub trait MultiModelEndpointExt: Sized {
    /// The recommended setup for calls to `target_model` on a multi-model
    /// endpoint, as [`ServiceBuilderExt::multi_model_endpoint`](crate::ServiceBuilderExt::multi_model_endpoint)
    /// is for a tower stack: the target model on requests without one,
    /// botocore's legacy retries (4 retries, 5 attempts) and the multi-model
    /// timeouts (70 s per attempt, 360 s in all). Short for
    /// `multi_model_endpoint_with(MultiModelEndpoint::new().target_model(target_model))`.
    fn multi_model_endpoint(self, target_model: TargetModel) -> Self {
        self.multi_model_endpoint_with(MultiModelEndpoint::new().target_model(target_model))
    }

    /// Applies `settings`.
    fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self;
}

impl MultiModelEndpointExt for Builder {
    fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self {
        settings.apply(self)
    }
}

/// A config override for one call with `target_model` and the rest of
/// [`MultiModelEndpoint::new`]: for `.customize().config_override(..)`.
///
/// ```no_run
/// # async fn example(client: aws_sdk_sagemakerruntime::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use aws_sdk_sagemakerruntime::primitives::Blob;
/// use tower_sagemaker::aws_sdk;
/// use tower_sagemaker::target_model::TargetModel;
///
/// let out = client
///     .invoke_endpoint()
///     .endpoint_name("demo")
///     .body(Blob::new("1.0"))
///     .customize()
///     .config_override(aws_sdk::config_override(TargetModel::new("model-7.tar.gz")?))
///     .send()
///     .await?;
/// # let _ = out; Ok(())
/// # }
/// ```
pub fn config_override(target_model: TargetModel) -> Builder {
    MultiModelEndpoint::new()
        .target_model(target_model)
        .config_override()
}
