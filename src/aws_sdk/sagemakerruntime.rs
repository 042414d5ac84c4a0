//! The `aws-sdk-sagemakerruntime` config extension.

use std::time::Duration;

use aws_sdk_sagemakerruntime::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_sagemakerruntime::config::timeout::TimeoutConfig;
use aws_sdk_sagemakerruntime::config::{
    BehaviorVersion, Builder, SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_smithy_runtime::client::defaults::default_http_client_plugin_v2;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

use super::config::timeouts;
use super::{
    legacy_retry_config, multi_model_timeout_config, AttemptNumberInterceptor,
    ColdStartsHttpClient, LegacyRetriesInterceptor, ModelNotReadyClassifier,
    TargetModelInterceptor,
};
use crate::retry::LegacyRetries;
use crate::sagemaker::{RECOMMENDED_ATTEMPT_TIMEOUT, SCALE_FROM_ZERO_BUDGET};
use crate::target_model::TargetModel;

/// `builder` with the SDK's stalled-stream protection turned off for uploads:
/// a call waiting in [`ColdStartsHttpClient`] for another call's probe has
/// not started its upload, and the SDK would take that for a stalled upload
/// and fail the attempt (`ThroughputBelowMinimum`) once its grace period
/// passed. Downloads keep it, with the builder's grace period if it set one.
fn without_upload_stall_check(builder: Builder) -> Builder {
    let set = builder.clone().build().stalled_stream_protection().cloned();
    let protection = match set {
        Some(set) if !set.is_enabled() => return builder,
        Some(set) => StalledStreamProtectionConfig::enabled()
            .download_enabled(set.download_enabled())
            .grace_period(set.grace_period()),
        None => StalledStreamProtectionConfig::enabled(),
    };
    builder.stalled_stream_protection(protection.upload_enabled(false).build())
}

/// `timeouts` with the SDK's `operation_attempt_timeout` turned off (also
/// one the builder had).
fn without_attempt_timeout(timeouts: &TimeoutConfig) -> TimeoutConfig {
    // `set_*(None)` would turn a timeout off: unset ones stay unset, so
    // the builder's or the SDK's apply.
    let mut builder = TimeoutConfig::builder().disable_operation_attempt_timeout();
    if let Some(t) = timeouts.connect_timeout() {
        builder = builder.connect_timeout(t);
    }
    if let Some(t) = timeouts.read_timeout() {
        builder = builder.read_timeout(t);
    }
    if let Some(t) = timeouts.operation_timeout() {
        builder = builder.operation_timeout(t);
    }
    builder.build()
}

/// The HTTP client the SDK would use when none is set: its default for the
/// latest behavior version, when an SDK crate's `default-https-client`
/// feature is on.
fn default_http_client() -> Option<SharedHttpClient> {
    let plugin = default_http_client_plugin_v2(BehaviorVersion::latest())?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("tower_sagemaker"))
        .http_client()
}

/// The retry partition of clients without a retry quota.
const UNLIMITED_PARTITION: &str = "tower-sagemaker-legacy";

/// Settings for a SageMaker Runtime client (or a single call) on a
/// multi-model endpoint; apply them with [`MultiModelEndpointExt`] or
/// [`MultiModelEndpoint::config_override`].
///
/// Applied, they register [`TargetModelInterceptor`] (with a target
/// model), [`ModelNotReadyClassifier`] and [`AttemptNumberInterceptor`]
/// (built [`for_retries`](AttemptNumberInterceptor::for_retries)),
/// and set [`legacy_retry_config`], the timeouts (by default
/// [`multi_model_timeout_config`], or with
/// [`LegacyRetries::scale_from_zero`] a 600 s `operation_timeout`; merged
/// with the builder's other timeouts) and, unless
/// [`retry_quota(true)`](Self::retry_quota), an unlimited retry token bucket.
///
/// Without a target model they suit calls that name what they call
/// themselves: a target model, or an inference component
/// ([`inference_components`](Self::inference_components)).
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
/// use tower_sagemaker::retry::LegacyRetries;
/// use tower_sagemaker::target_model::TargetModel;
///
/// let settings = MultiModelEndpoint::new()
///     .target_model(TargetModel::new("model-3.tar.gz")?)
///     .retries(LegacyRetries::new().max_retries(4).max_delay(Duration::from_secs(5)))
///     .timeouts(Duration::from_secs(120), Duration::from_secs(65));
/// let config = aws_sdk_sagemakerruntime::Config::builder()
///     .multi_model_endpoint_with(settings)
///     .build();
/// assert_eq!(config.retry_config().unwrap().max_attempts(), 5);
/// # Ok::<(), tower_sagemaker::target_model::InvalidTargetModel>(())
/// ```
#[derive(Debug, Clone)]
pub struct MultiModelEndpoint {
    target_model: Option<TargetModel>,
    retries: LegacyRetries,
    // `None`: the default for the retries (see `get_timeout_config`).
    timeout_config: Option<TimeoutConfig>,
    retry_quota: bool,
}

impl MultiModelEndpoint {
    /// botocore's legacy mode ([`LegacyRetries::new`]: 4 retries after the
    /// first attempt, its conditions and backoff), the multi-model timeouts,
    /// no target model, no retry quota.
    pub fn new() -> Self {
        Self {
            target_model: None,
            retries: LegacyRetries::new(),
            timeout_config: None,
            retry_quota: false,
        }
    }

    /// The recommended settings for calls to inference components that may
    /// scale to zero copies: [`LegacyRetries::new().scale_from_zero()`](LegacyRetries::scale_from_zero)
    /// (botocore's legacy retries, and the component's no-capacity answers
    /// retried 10 to 30 s apart until the `operation_timeout`), the
    /// `operation_timeout` [`SCALE_FROM_ZERO_BUDGET`] (10 minutes, to cover a
    /// scale-out) and 70 s per attempt, no target model, no retry quota.
    /// Each call names its component itself:
    /// `.inference_component_name(..)` on the operation.
    ///
    /// Short for `MultiModelEndpoint::new().retries(LegacyRetries::new().scale_from_zero())`;
    /// to change the retries, keep `scale_from_zero` in the ones you set.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
    ///
    /// let settings = MultiModelEndpoint::inference_components();
    /// assert_eq!(
    ///     settings.get_timeout_config().operation_timeout(),
    ///     Some(Duration::from_secs(600))
    /// );
    /// let config = aws_sdk_sagemakerruntime::Config::builder()
    ///     .multi_model_endpoint_with(settings)
    ///     .build();
    /// // botocore's 5 attempts; each no-capacity answer adds one for its call.
    /// assert_eq!(config.retry_config().unwrap().max_attempts(), 5);
    /// ```
    pub fn inference_components() -> Self {
        Self::new().retries(LegacyRetries::new().scale_from_zero())
    }

    /// Sets the target model of requests that do not set one.
    pub fn target_model(mut self, model: TargetModel) -> Self {
        self.target_model = Some(model);
        self
    }

    /// Sets the retries: their number, backoff (also the SDK's initial and
    /// maximum backoff), classifier and opt-ins. With
    /// [`scale_from_zero`](LegacyRetries::scale_from_zero), an inference
    /// component's no-capacity answers are retried paced by
    /// [`scale_out_backoff`](LegacyRetries::scale_out_backoff) until the
    /// `operation_timeout`, outside the SDK's `max_attempts` (see
    /// [`AttemptNumberInterceptor::for_retries`]), and the default
    /// `operation_timeout` is [`SCALE_FROM_ZERO_BUDGET`] rather than 360 s.
    /// The SDK makes the retries
    /// itself; the [`on_event`](LegacyRetries::on_event) callbacks get the
    /// same events as with the crate's retry layer (see
    /// [`LegacyRetriesInterceptor`] for what differs), and
    /// [`coalesce_cold_starts`](LegacyRetries::coalesce_cold_starts) wraps
    /// the client's HTTP client in a [`ColdStartsHttpClient`]. The SDK
    /// always sleeps its backoff, so
    /// [`reset_connection_at_once`](LegacyRetries::reset_connection_at_once)
    /// does not apply to SDK calls; applying settings that have it logs a
    /// warning.
    pub fn retries(mut self, retries: LegacyRetries) -> Self {
        self.retries = retries;
        self
    }

    /// Sets the budget of the whole call (`operation_timeout`, final when it
    /// fires) and of each attempt (`operation_attempt_timeout` and
    /// `read_timeout`, retried when they fire). Defaults: 360 s and 70 s;
    /// with [`LegacyRetries::scale_from_zero`], 600 s
    /// ([`SCALE_FROM_ZERO_BUDGET`]) and 70 s.
    pub fn timeouts(mut self, operation: Duration, attempt: Duration) -> Self {
        self.timeout_config = Some(timeouts(operation, attempt));
        self
    }

    /// Sets every timeout from `timeout_config` (for a connect timeout, say).
    /// Without an `operation_timeout`, no-capacity answers
    /// ([`LegacyRetries::scale_from_zero`]) count against the retries and
    /// take the legacy backoff, as with the crate's retry layer without a
    /// deadline.
    pub fn timeout_config(mut self, timeout_config: TimeoutConfig) -> Self {
        self.timeout_config = Some(timeout_config);
        self
    }

    /// The timeouts applied: those set, or the default for the retries
    /// ([`multi_model_timeout_config`], or with
    /// [`LegacyRetries::scale_from_zero`] the same with an
    /// `operation_timeout` of [`SCALE_FROM_ZERO_BUDGET`]).
    pub fn get_timeout_config(&self) -> TimeoutConfig {
        match &self.timeout_config {
            Some(config) => config.clone(),
            None if self.retries.get_classifier().get_scale_from_zero() => {
                timeouts(SCALE_FROM_ZERO_BUDGET, RECOMMENDED_ATTEMPT_TIMEOUT)
            }
            None => multi_model_timeout_config(),
        }
    }

    /// The retry settings.
    pub fn get_retries(&self) -> &LegacyRetries {
        &self.retries
    }

    /// Whether to keep the SDK's retry token bucket (`true`) or to give
    /// the client an unlimited one, as botocore's legacy mode has no
    /// quota (`false`, the default).
    pub fn retry_quota(mut self, keep: bool) -> Self {
        self.retry_quota = keep;
        self
    }

    /// Applies these settings to `builder`.
    ///
    /// With cold-start coalescing, the HTTP client the builder has (or, if
    /// it has none, the SDK's default client for the latest behavior
    /// version, when the SDK crate's `default-https-client` feature is on) is
    /// wrapped in a [`ColdStartsHttpClient`]: set your own HTTP client on
    /// the builder before applying these settings, not after.
    pub fn apply(self, builder: Builder) -> Builder {
        self.apply_to(builder, true)
    }

    fn apply_to(self, mut builder: Builder, client: bool) -> Builder {
        let timeout_config = self.get_timeout_config();
        if let Some(model) = self.target_model {
            builder = builder.interceptor(TargetModelInterceptor::new(model));
        }
        let retries = &self.retries;
        if retries.get_reset_connection_at_once() {
            tracing::warn!(
                "LegacyRetries for an AWS SDK client: reset_connection_at_once applies to the \
                 crate's tower retriers only (the SDK sleeps its backoff)"
            );
        }
        let coalescing = retries.get_cold_starts().is_some();
        let mut timeout_config = timeout_config;
        if coalescing || retries.has_event_callbacks() {
            let mut interceptor = LegacyRetriesInterceptor::new(retries);
            if coalescing {
                // The SDK's attempt timeout would count the wait for another
                // call's probe: the HTTP client times the request instead.
                if let Some(attempt) = timeout_config.operation_attempt_timeout() {
                    interceptor = interceptor.attempt_timeout(attempt);
                }
                timeout_config = without_attempt_timeout(&timeout_config);
            }
            builder = builder.interceptor(interceptor);
        }
        if coalescing && client {
            match builder
                .clone()
                .build()
                .http_client()
                .or_else(default_http_client)
            {
                Some(inner) => {
                    builder = builder.http_client(ColdStartsHttpClient::new(inner));
                    builder = without_upload_stall_check(builder);
                }
                None => tracing::warn!(
                    "cold-start coalescing for an AWS SDK client: no HTTP client to wrap (set one \
                     on the builder before the multi-model settings); calls are not coalesced"
                ),
            }
        }
        builder = builder
            .interceptor(AttemptNumberInterceptor::for_retries(retries))
            .retry_classifier(ModelNotReadyClassifier::new(retries))
            .retry_config(legacy_retry_config(retries))
            .timeout_config(timeout_config);
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
    ///
    /// With cold-start coalescing, the call coalesces only when the client's
    /// HTTP client is a [`ColdStartsHttpClient`] (the client was set up with
    /// coalescing too): an override does not replace the client's HTTP
    /// client. That HTTP client also keeps the per-attempt timeout (the
    /// SDK's would count the waits for other calls' probes); on a client
    /// without it, such a call has no per-attempt timeout, only the read
    /// timeout and the `operation_timeout`.
    pub fn config_override(self) -> Builder {
        self.apply_to(Builder::default(), false)
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

    /// The recommended setup for calls to inference components that may
    /// scale to zero copies ([`MultiModelEndpoint::inference_components`]):
    /// botocore's legacy retries, the components' no-capacity answers
    /// retried 10 to 30 s apart within a 10-minute `operation_timeout`, 70 s
    /// per attempt. No target model: each call names its component with
    /// `.inference_component_name(..)`. Short for
    /// `multi_model_endpoint_with(MultiModelEndpoint::inference_components())`.
    ///
    /// ```no_run
    /// # async fn example(sdk_config: aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
    /// use aws_sdk_sagemakerruntime::primitives::Blob;
    /// use tower_sagemaker::aws_sdk::MultiModelEndpointExt;
    ///
    /// let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
    ///     .inference_components()
    ///     .build();
    /// let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
    /// // Waits out a scale-out from zero (up to 10 minutes) instead of failing.
    /// let out = client
    ///     .invoke_endpoint()
    ///     .endpoint_name("demo")
    ///     .inference_component_name("ic-llama")
    ///     .content_type("application/json")
    ///     .body(Blob::new(r#"{"inputs": "Hello"}"#))
    ///     .send()
    ///     .await?;
    /// # let _ = out; Ok(())
    /// # }
    /// ```
    fn inference_components(self) -> Self {
        self.multi_model_endpoint_with(MultiModelEndpoint::inference_components())
    }

    /// Applies `settings`.
    fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self;
}

impl MultiModelEndpointExt for Builder {
    fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self {
        settings.apply(self)
    }
}
