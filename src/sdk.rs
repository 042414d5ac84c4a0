//! The AWS SDK for Rust integration: botocore's legacy retries of
//! `ModelNotReadyException` and the target-model header, for
//! `aws-sdk-sagemakerruntime`.
//!
//! The SDK does not retry `ModelNotReadyException` (HTTP 429): a call to a
//! cold model of a multi-model endpoint fails at once. This module adds
//! through the SDK's public configuration only:
//!
//! - [`TargetModelInterceptor`] sets `X-Amzn-SageMaker-Target-Model` before
//!   signing, unless the operation set one itself;
//! - [`ModelNotReadyClassifier`] retries what botocore's legacy mode retries
//!   ([`RetryClassifier::legacy`]), with [`LegacyBackoff`] delays;
//! - [`AttemptNumberInterceptor`] tells the classifier which attempt failed;
//! - [`legacy_retry_config`] and [`multi_model_timeout_config`] size the SDK's
//!   retry and timeout settings for a 360 s cold start;
//! - with feature `aws-sdk-sagemakerruntime`, `MultiModelEndpointExt` applies
//!   all of it to an `aws_sdk_sagemakerruntime::config::Builder`, and
//!   `config_override` does the same for one call.
//!
//! ```no_run
//! # #[cfg(feature = "aws-sdk-sagemakerruntime")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_sdk_sagemakerruntime::primitives::Blob;
//! use tower_sagemaker::sdk::MultiModelEndpointExt;
//! use tower_sagemaker::TargetModel;
//!
//! let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
//!     // Target model header, legacy retries (4 retries: 5 attempts), 360 s budget.
//!     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?, 4)
//!     .build();
//! let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
//!
//! let out = client
//!     .invoke_endpoint()
//!     .endpoint_name("demo")
//!     .content_type("text/csv")
//!     .body(Blob::new("1.0,2.0,5.0"))
//!     .send()
//!     .await?;
//! println!("{:?}", out.body());
//! # Ok(())
//! # }
//! ```
//!
//! # How the decisions combine with the SDK's own classifiers
//!
//! The SDK runs its retry classifiers in priority order; a later one overrides
//! an earlier one unless it indicates nothing. `InvokeEndpoint` has, in order:
//! the HTTP status classifier (500, 502, 503, 504: transient), the clock skew
//! classifier, the AWS error code classifier (the SDK's throttling codes, which
//! include codes legacy mode does not retry, such as `TooManyRequestsException`),
//! the modeled-as-retryable classifier (nothing for `InvokeEndpoint`) and the
//! transient error classifier (I/O errors, timeouts). [`ModelNotReadyClassifier`]
//! runs after all of them
//! (`RetryClassifierPriority::run_after(transient_error_classifier())`):
//!
//! - for everything legacy mode retries (429 whatever the code, so
//!   `ModelNotReadyException`; 500, 502, 503, 504, 509; 400 with a legacy
//!   throttling code; I/O errors and timeouts) it indicates a retry with an
//!   explicit legacy delay, so its delay wins over the SDK's, also for 5xx; the
//!   error kind is the earlier classifier's, if one decided, so token costs and
//!   connection poisoning stay the SDK's;
//! - for everything else it indicates nothing, so an earlier SDK decision
//!   stands (a 400 `TooManyRequestsException` is still retried with the SDK's
//!   delay) and 424 `ModelError`, 400 `ValidationError` and other errors are
//!   not retried.
//!
//! With the SDK's default retry behaviour (2.0) the standard strategy sleeps
//! `min(explicit delay, max_backoff)`, so [`legacy_retry_config`] sets
//! `max_backoff` to the last retry's ceiling. Under the opt-in Retry Behavior
//! 2.1 (`AWS_NEW_RETRIES_2026=true` with `aws-config`), the SDK bounds an
//! explicit delay to `[t, t + 5 s]` around its own backoff `t`, so delays are
//! then only approximately legacy.
//!
//! The classifier sees no `ConfigBag`, so it learns the attempt number from
//! [`AttemptNumberInterceptor`], which records it on each HTTP response. Without
//! that interceptor, and for failures without a response (I/O errors,
//! timeouts), it indicates a retry without a delay and the SDK computes
//! `rand * min(initial_backoff * 2^(k-1), max_backoff)`: the same full-jitter
//! formula, equal to [`LegacyBackoff`] when `initial_backoff` is its base, as
//! [`legacy_retry_config_with`] sets it.
//!
//! # The retry quota
//!
//! The standard strategy spends tokens from a client-wide bucket of 500 on each
//! retry (5, 10 for transient errors) and refunds them only on success. A burst
//! of cold-start retries (say 100 concurrent calls to cold models, 4 retries
//! each) empties it, after which the SDK stops retrying anything for that
//! client. botocore's legacy mode has no quota: the `aws-sdk-sagemakerruntime`
//! helpers give the client an unlimited bucket in its own retry partition
//! (`tower-sagemaker-legacy`) unless told to keep the SDK's
//! (`MultiModelEndpoint::retry_quota(true)`).

use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    InterceptorContext,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason as SdkRetryReason,
};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Headers, Response};
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::retry::{ErrorKind, RetryConfig};
use aws_smithy_types::timeout::TimeoutConfig;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use crate::error_code::ErrorCode;
use crate::retry::{RetryClassifier, RetryReason};
use crate::sagemaker::{MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT, TARGET_MODEL_HEADER};
use crate::{LegacyBackoff, TargetModel};

#[cfg(feature = "aws-sdk-sagemakerruntime")]
pub use self::sagemakerruntime::{config_override, MultiModelEndpoint, MultiModelEndpointExt};

// ---------------------------------------------------------------------------
// Target model interceptor
// ---------------------------------------------------------------------------

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
/// use tower_sagemaker::sdk::TargetModelInterceptor;
/// use tower_sagemaker::TargetModel;
///
/// let interceptor = TargetModelInterceptor::new(TargetModel::new("model-3.tar.gz")?);
/// assert_eq!(interceptor.target_model().as_str(), "model-3.tar.gz");
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config).interceptor(interceptor)
/// # Ok::<(), tower_sagemaker::InvalidTargetModel>(())
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
    pub fn target_model(&self) -> &TargetModel {
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
struct AttemptNumber(u32);

/// An SDK interceptor that records the attempt number (the SDK's
/// `RequestAttempts`, 1 for the first attempt) on each HTTP response, where
/// [`ModelNotReadyClassifier`] reads it to choose the legacy delay.
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

fn record_attempt(response: &mut Response, attempt: u32) {
    response.add_extension(AttemptNumber(attempt));
}

// ---------------------------------------------------------------------------
// Retry classifier
// ---------------------------------------------------------------------------

/// An SDK retry classifier that retries what botocore's legacy mode retries,
/// `ModelNotReadyException` first, with [`LegacyBackoff`] delays.
///
/// It decides from the HTTP response's status and headers with a
/// [`RetryClassifier`] ([`RetryClassifier::legacy`] by default), and from
/// transport failures: a connector I/O error or timeout, or an attempt timeout
/// (`operation_attempt_timeout`). Retryable outcomes get
/// `RetryAction::retryable_error_with_explicit_delay(kind, backoff.delay(k))`,
/// `k` being the attempt that failed, when [`AttemptNumberInterceptor`] is
/// registered; everything else gets `RetryAction::NoActionIndicated`. See the
/// [module docs](self) for how this combines with the SDK's classifiers.
///
/// The number of attempts is the SDK's `RetryConfig::max_attempts`
/// ([`legacy_retry_config`]).
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::retry::RetryClassifier;
/// use tower_sagemaker::sdk::ModelNotReadyClassifier;
/// use tower_sagemaker::LegacyBackoff;
///
/// let classifier = ModelNotReadyClassifier::new()
///     .backoff(LegacyBackoff::new().max_delay(Duration::from_secs(10)))
///     .classifier(RetryClassifier::legacy().retry_error_code("ModelError"));
/// // aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
/// //     .retry_classifier(classifier)
/// //     .interceptor(tower_sagemaker::sdk::AttemptNumberInterceptor::new())
/// # let _ = classifier;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ModelNotReadyClassifier {
    classifier: RetryClassifier,
    backoff: LegacyBackoff,
}

impl ModelNotReadyClassifier {
    /// botocore's legacy conditions and backoff (base 1 s, no cap).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the backoff the delays are drawn from.
    pub fn backoff(mut self, backoff: LegacyBackoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Sets which responses and errors are retried.
    pub fn classifier(mut self, classifier: RetryClassifier) -> Self {
        self.classifier = classifier;
        self
    }

    /// The backoff the delays are drawn from.
    pub fn legacy_backoff(&self) -> &LegacyBackoff {
        &self.backoff
    }

    /// Which responses and errors are retried.
    pub fn retry_classifier(&self) -> &RetryClassifier {
        &self.classifier
    }

    /// Why the attempt in `ctx` should be retried, in this crate's terms, or
    /// `None` (success, or not retryable).
    pub fn reason(&self, ctx: &InterceptorContext) -> Option<RetryReason> {
        let Some(Err(error)) = ctx.output_or_error() else {
            return None;
        };
        if let Some(response) = ctx.response() {
            let status = StatusCode::from_u16(response.status().as_u16()).ok();
            if let Some(status) = status {
                let headers = to_header_map(response.headers());
                if let Some(reason) = self.classifier.classify_response(status, &headers) {
                    return Some(reason);
                }
            }
        }
        self.error_reason(error)
    }

    fn error_reason(
        &self,
        error: &OrchestratorError<impl std::error::Error + 'static>,
    ) -> Option<RetryReason> {
        if error.is_timeout_error() {
            // `operation_attempt_timeout` fired: legacy mode retries timeouts.
            return Some(RetryReason::AttemptTimeout);
        }
        if let Some(connector) = error.as_connector_error() {
            if connector.is_io() || connector.is_timeout() {
                return Some(RetryReason::Transport);
            }
            if connector.is_user() {
                return None;
            }
            return self.classifier.classify_error(connector);
        }
        if error.is_response_error() {
            // The response could not be read (for example the connection broke
            // mid-body): retried if the cause is a transport error.
            return self.classifier.classify_error(error);
        }
        None
    }

    fn action(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let Some(reason) = self.reason(ctx) else {
            return RetryAction::NoActionIndicated;
        };
        let kind = match previous {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { kind, .. }) => *kind,
            _ => error_kind(reason, ctx),
        };
        let attempt = ctx
            .response()
            .and_then(|r| r.extension::<AttemptNumber>())
            .map(|a| a.0);
        match attempt {
            Some(k) => {
                RetryAction::retryable_error_with_explicit_delay(kind, self.backoff.delay(k))
            }
            // No attempt number: the SDK's own full-jitter backoff applies.
            None => RetryAction::retryable_error(kind),
        }
    }
}

/// The SDK error kind of a retry this crate decided alone. The kind sets the
/// token cost and whether the connection is dropped (transient errors).
fn error_kind(reason: RetryReason, ctx: &InterceptorContext) -> ErrorKind {
    match reason {
        RetryReason::TooManyRequests => {
            let code = ctx
                .response()
                .and_then(|r| {
                    r.headers()
                        .get(crate::sagemaker::ERROR_TYPE_HEADER.as_str())
                })
                .and_then(ErrorCode::parse);
            if code == Some(ErrorCode::MODEL_NOT_READY) {
                // The endpoint is loading the model: not a rate limit on the caller.
                ErrorKind::ServerError
            } else {
                ErrorKind::ThrottlingError
            }
        }
        RetryReason::Throttling => ErrorKind::ThrottlingError,
        RetryReason::Transport | RetryReason::AttemptTimeout => ErrorKind::TransientError,
        _ if ctx.response().is_none() => ErrorKind::TransientError,
        _ => ErrorKind::ServerError,
    }
}

fn to_header_map(headers: &Headers) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    map
}

impl ClassifyRetry for ModelNotReadyClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        self.action(ctx, &RetryAction::NoActionIndicated)
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        self.action(ctx, previous)
    }

    fn name(&self) -> &'static str {
        "tower_sagemaker::ModelNotReadyClassifier"
    }

    /// After the SDK's transient error classifier, the last of its defaults.
    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

// ---------------------------------------------------------------------------
// Retry and timeout configuration
// ---------------------------------------------------------------------------

/// A standard-mode [`RetryConfig`] for botocore's legacy semantics with the
/// default [`LegacyBackoff`]: `max_retries` retries after the first attempt
/// (`max_attempts = max_retries + 1`, as botocore counts `max_attempts` in
/// legacy mode), initial backoff 1 s, and a `max_backoff` that does not cut
/// the delay of the last retry. See [`legacy_retry_config_with`].
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::sdk::legacy_retry_config;
///
/// let config = legacy_retry_config(4);
/// assert_eq!(config.max_attempts(), 5);
/// assert_eq!(config.initial_backoff(), Duration::from_secs(1));
/// assert_eq!(config.max_backoff(), Duration::from_secs(8));
/// ```
pub fn legacy_retry_config(max_retries: u32) -> RetryConfig {
    legacy_retry_config_with(max_retries, LegacyBackoff::new())
}

/// The largest `max_backoff` [`legacy_retry_config_with`] sets.
const MAX_BACKOFF_LIMIT: Duration = MAX_LOAD_TIME;

/// Like [`legacy_retry_config`] for a given backoff: initial backoff
/// `backoff.base()`, `max_backoff` the ceiling of retry `max_retries` (at
/// least the base), so the SDK neither cuts [`ModelNotReadyClassifier`]'s
/// explicit delays nor computes different ones when it uses its own formula.
///
/// `max_backoff` is at most [`MAX_LOAD_TIME`] (360 s; reached from the 10th
/// retry with the default base): a longer sleep would outlast the whole
/// multi-model budget, and the SDK's identity cache sums the worst-case
/// backoffs in floating point and panics when that sum does not fit a
/// `Duration` (an uncapped `max_backoff` with 100 retries does it).
///
/// The retry quota is the client's retry partition, not part of
/// [`RetryConfig`]; see the [module docs](self#the-retry-quota).
pub fn legacy_retry_config_with(max_retries: u32, backoff: LegacyBackoff) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_retries.saturating_add(1))
        .with_initial_backoff(backoff.base())
        .with_max_backoff(
            backoff
                .ceiling(max_retries)
                .max(backoff.base())
                .min(MAX_BACKOFF_LIMIT),
        )
}

/// The [`TimeoutConfig`] for multi-model endpoints: the whole call (all
/// attempts and sleeps) within [`MAX_LOAD_TIME`] (360 s), each attempt within
/// [`RECOMMENDED_ATTEMPT_TIMEOUT`] (70 s, more than the endpoint's 60 s hold),
/// and a 70 s read timeout. The connect timeout is left unset, so the SDK's
/// default applies.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::sdk::multi_model_timeout_config;
///
/// let config = multi_model_timeout_config();
/// assert_eq!(config.operation_timeout(), Some(Duration::from_secs(360)));
/// assert_eq!(config.operation_attempt_timeout(), Some(Duration::from_secs(70)));
/// assert_eq!(config.read_timeout(), Some(Duration::from_secs(70)));
/// ```
pub fn multi_model_timeout_config() -> TimeoutConfig {
    timeout_config(MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT)
}

/// A [`TimeoutConfig`] with `operation_timeout` (the budget of the whole call,
/// final when it fires), and `operation_attempt_timeout` and `read_timeout`
/// (per attempt, retried when they fire) both `attempt`.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::sdk::timeout_config;
///
/// let config = timeout_config(Duration::from_secs(30), Duration::from_secs(10));
/// assert_eq!(config.operation_timeout(), Some(Duration::from_secs(30)));
/// assert_eq!(config.read_timeout(), Some(Duration::from_secs(10)));
/// ```
pub fn timeout_config(operation: Duration, attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(operation)
        .operation_attempt_timeout(attempt)
        .read_timeout(attempt)
        .build()
}

// ---------------------------------------------------------------------------
// aws-sdk-sagemakerruntime
// ---------------------------------------------------------------------------

#[cfg(feature = "aws-sdk-sagemakerruntime")]
mod sagemakerruntime {
    use aws_sdk_sagemakerruntime::config::retry::{RetryPartition, TokenBucket};
    use aws_sdk_sagemakerruntime::config::timeout::TimeoutConfig;
    use aws_sdk_sagemakerruntime::config::Builder;

    use super::{
        legacy_retry_config_with, multi_model_timeout_config, AttemptNumberInterceptor,
        ModelNotReadyClassifier, TargetModelInterceptor,
    };
    use crate::retry::RetryClassifier;
    use crate::{LegacyBackoff, TargetModel};

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
    /// use tower_sagemaker::sdk::{timeout_config, MultiModelEndpoint, MultiModelEndpointExt};
    /// use tower_sagemaker::{LegacyBackoff, TargetModel};
    ///
    /// let settings = MultiModelEndpoint::new(4)
    ///     .target_model(TargetModel::new("model-3.tar.gz")?)
    ///     .backoff(LegacyBackoff::new().max_delay(Duration::from_secs(5)))
    ///     .timeout_config(timeout_config(Duration::from_secs(120), Duration::from_secs(65)));
    /// let config = aws_sdk_sagemakerruntime::Config::builder()
    ///     .multi_model_endpoint_with(settings)
    ///     .build();
    /// assert_eq!(config.retry_config().unwrap().max_attempts(), 5);
    /// # Ok::<(), tower_sagemaker::InvalidTargetModel>(())
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
        /// `max_retries` retries after the first attempt, botocore's legacy
        /// conditions and backoff, the multi-model timeouts, no target model,
        /// no retry quota.
        pub fn new(max_retries: u32) -> Self {
            Self {
                target_model: None,
                max_retries,
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

        /// Sets the timeouts (see [`super::timeout_config`]).
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

    /// Applies [`MultiModelEndpoint`] settings to an
    /// `aws_sdk_sagemakerruntime::config::Builder`.
    ///
    /// ```no_run
    /// # async fn example(sdk_config: aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_sagemaker::sdk::MultiModelEndpointExt;
    /// use tower_sagemaker::TargetModel;
    ///
    /// let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
    ///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?, 4)
    ///     .build();
    /// let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
    /// # let _ = client; Ok(())
    /// # }
    /// ```
    pub trait MultiModelEndpointExt: Sized {
        /// Sets `target_model` on requests without one, and retries as
        /// botocore's legacy mode does with `max_retries` retries, within the
        /// multi-model timeouts: `MultiModelEndpoint::new(max_retries).target_model(target_model)`.
        fn multi_model_endpoint(self, target_model: TargetModel, max_retries: u32) -> Self {
            self.multi_model_endpoint_with(
                MultiModelEndpoint::new(max_retries).target_model(target_model),
            )
        }

        /// Applies `settings`.
        fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self;
    }

    impl MultiModelEndpointExt for Builder {
        fn multi_model_endpoint_with(self, settings: MultiModelEndpoint) -> Self {
            settings.apply(self)
        }
    }

    /// A config override for one call with `target_model` and legacy retries
    /// (`max_retries`): for `.customize().config_override(..)`.
    ///
    /// ```no_run
    /// # async fn example(client: aws_sdk_sagemakerruntime::Client) -> Result<(), Box<dyn std::error::Error>> {
    /// use aws_sdk_sagemakerruntime::primitives::Blob;
    /// use tower_sagemaker::{sdk, TargetModel};
    ///
    /// let out = client
    ///     .invoke_endpoint()
    ///     .endpoint_name("demo")
    ///     .body(Blob::new("1.0"))
    ///     .customize()
    ///     .config_override(sdk::config_override(TargetModel::new("model-7.tar.gz")?, 4))
    ///     .send()
    ///     .await?;
    /// # let _ = out; Ok(())
    /// # }
    /// ```
    pub fn config_override(target_model: TargetModel, max_retries: u32) -> Builder {
        MultiModelEndpoint::new(max_retries)
            .target_model(target_model)
            .config_override()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::interceptors::context::{Error, Input};
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, code: Option<&'static str>) -> Response {
        let mut r = Response::new(status.try_into().unwrap(), SdkBody::empty());
        if let Some(code) = code {
            r.headers_mut().insert("x-amzn-errortype", code);
        }
        r
    }

    #[derive(Debug)]
    struct ServiceErr;
    impl std::fmt::Display for ServiceErr {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service error")
        }
    }
    impl std::error::Error for ServiceErr {}

    fn failed_with_response(
        status: u16,
        code: Option<&'static str>,
        attempt: Option<u32>,
    ) -> InterceptorContext {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        let mut res = response(status, code);
        if let Some(k) = attempt {
            record_attempt(&mut res, k);
        }
        ctx.set_response(res);
        ctx.set_output_or_error(Err(OrchestratorError::operation(Error::erase(ServiceErr))));
        ctx
    }

    fn failed_with(error: OrchestratorError<Error>) -> InterceptorContext {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        ctx.set_output_or_error(Err(error));
        ctx
    }

    fn delay_of(action: &RetryAction) -> Option<Duration> {
        match action {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { retry_after, .. }) => {
                *retry_after
            }
            _ => None,
        }
    }

    fn kind_of(action: &RetryAction) -> Option<ErrorKind> {
        match action {
            RetryAction::RetryIndicated(SdkRetryReason::RetryableError { kind, .. }) => Some(*kind),
            _ => None,
        }
    }

    #[test]
    fn model_not_ready_is_retried_with_the_legacy_delay() {
        let backoff = LegacyBackoff::new().base_delay(Duration::from_millis(100));
        let c = ModelNotReadyClassifier::new().backoff(backoff);
        for k in 1..=5 {
            let ctx = failed_with_response(429, Some("ModelNotReadyException"), Some(k));
            for _ in 0..50 {
                let action = c.classify_retry(&ctx);
                assert!(action.should_retry());
                assert_eq!(kind_of(&action), Some(ErrorKind::ServerError));
                assert!(
                    delay_of(&action).unwrap() < backoff.ceiling(k),
                    "attempt {k}"
                );
            }
        }
        // Other 429s are throttling.
        let ctx = failed_with_response(429, Some("TooManyRequests"), Some(1));
        assert_eq!(
            kind_of(&c.classify_retry(&ctx)),
            Some(ErrorKind::ThrottlingError)
        );
    }

    #[test]
    fn without_an_attempt_number_the_sdk_computes_the_delay() {
        let c = ModelNotReadyClassifier::new();
        let ctx = failed_with_response(429, Some("ModelNotReadyException"), None);
        let action = c.classify_retry(&ctx);
        assert!(action.should_retry());
        assert_eq!(delay_of(&action), None);
    }

    #[test]
    fn legacy_statuses_and_non_retryable_errors() {
        let c = ModelNotReadyClassifier::new();
        for s in [500, 502, 503, 504, 509] {
            assert!(
                c.classify_retry(&failed_with_response(s, None, Some(1)))
                    .should_retry(),
                "{s}"
            );
        }
        assert!(c
            .classify_retry(&failed_with_response(
                400,
                Some("ThrottlingException"),
                Some(1)
            ))
            .should_retry());
        for (s, code) in [
            (424, "ModelError"),
            (400, "ValidationError"),
            (530, "InternalDependencyException"),
            (400, "TooManyRequestsException"),
        ] {
            assert_eq!(
                c.classify_retry(&failed_with_response(s, Some(code), Some(1))),
                RetryAction::NoActionIndicated,
                "{s} {code}"
            );
        }
        // Success: nothing to say.
        let mut ok = InterceptorContext::new(Input::doesnt_matter());
        ok.set_response(response(200, None));
        ok.set_output_or_error(Ok(
            aws_smithy_runtime_api::client::interceptors::context::Output::doesnt_matter(),
        ));
        assert_eq!(c.classify_retry(&ok), RetryAction::NoActionIndicated);
    }

    #[test]
    fn configured_classifier_is_used() {
        let c = ModelNotReadyClassifier::new()
            .classifier(RetryClassifier::legacy().retry_error_code("ModelError"));
        assert!(c
            .classify_retry(&failed_with_response(424, Some("ModelError"), Some(2)))
            .should_retry());
    }

    #[test]
    fn previous_kind_is_kept() {
        let c = ModelNotReadyClassifier::new();
        let ctx = failed_with_response(503, None, Some(1));
        let action = c.classify_retry_v2(&ctx, &RetryAction::transient_error());
        assert_eq!(kind_of(&action), Some(ErrorKind::TransientError));
        assert!(delay_of(&action).unwrap() < Duration::from_secs(1));
        let action = c.classify_retry(&ctx);
        assert_eq!(kind_of(&action), Some(ErrorKind::ServerError));
    }

    #[test]
    fn transport_errors() {
        let c = ModelNotReadyClassifier::new();
        let io = failed_with(OrchestratorError::connector(ConnectorError::io(
            "reset".into(),
        )));
        let action = c.classify_retry(&io);
        assert_eq!(kind_of(&action), Some(ErrorKind::TransientError));
        let timeout = failed_with(OrchestratorError::connector(ConnectorError::timeout(
            "slow".into(),
        )));
        assert!(c.classify_retry(&timeout).should_retry());
        let attempt_timeout = failed_with(OrchestratorError::timeout("attempt timeout".into()));
        assert_eq!(
            c.reason(&attempt_timeout),
            Some(RetryReason::AttemptTimeout)
        );
        let user = failed_with(OrchestratorError::connector(ConnectorError::user(
            "bad".into(),
        )));
        assert_eq!(c.classify_retry(&user), RetryAction::NoActionIndicated);
        let other = failed_with(OrchestratorError::other("signing failed"));
        assert_eq!(c.classify_retry(&other), RetryAction::NoActionIndicated);
    }

    #[test]
    fn runs_after_the_sdk_defaults() {
        let p = ModelNotReadyClassifier::new().priority();
        assert!(p > RetryClassifierPriority::transient_error_classifier());
        assert!(p > RetryClassifierPriority::modeled_as_retryable_classifier());
        assert!(p > RetryClassifierPriority::http_status_code_classifier());
    }

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

    #[test]
    fn configs() {
        let c = legacy_retry_config(0);
        assert_eq!(c.max_attempts(), 1);
        let c = legacy_retry_config_with(
            3,
            LegacyBackoff::new().base_delay(Duration::from_millis(50)),
        );
        assert_eq!(c.max_attempts(), 4);
        assert_eq!(c.initial_backoff(), Duration::from_millis(50));
        assert_eq!(c.max_backoff(), Duration::from_millis(200));
        let c = legacy_retry_config(u32::MAX);
        assert_eq!(c.max_attempts(), u32::MAX);
        assert_eq!(c.max_backoff(), MAX_LOAD_TIME);
        assert_eq!(
            legacy_retry_config(9).max_backoff(),
            Duration::from_secs(256)
        );
        assert_eq!(legacy_retry_config(10).max_backoff(), MAX_LOAD_TIME);
        let t = multi_model_timeout_config();
        assert_eq!(t.operation_timeout(), Some(MAX_LOAD_TIME));
        assert_eq!(t.connect_timeout(), None);
    }
}
