//! Retry and timeout settings sized for multi-model endpoints.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::retry::LegacyRetries;
use crate::sagemaker::{MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT};

/// A standard-mode [`RetryConfig`] for botocore's legacy semantics:
/// `retries.get_max_retries()` retries after the first attempt
/// (`max_attempts = max_retries + 1`, as botocore counts `max_attempts` in
/// legacy mode), initial backoff the backoff's base, and a `max_backoff`
/// that is the ceiling of the last retry (at least the base), so the SDK
/// neither cuts [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier)'s
/// explicit delays nor computes different ones when it uses its own formula.
///
/// `max_backoff` is at most [`MAX_LOAD_TIME`] (360 s; reached from the 10th
/// retry with the default base): a longer sleep would outlast the whole
/// multi-model budget, and the SDK's identity cache sums the worst-case
/// backoffs in floating point and panics when that sum does not fit a
/// `Duration` (an uncapped `max_backoff` with 100 retries does it).
///
/// With [`LegacyRetries::scale_from_zero`], the same: an inference
/// component's no-capacity answers do not count against `max_attempts`,
/// because [`AttemptNumberInterceptor::for_retries`](super::AttemptNumberInterceptor::for_retries)
/// raises it (and `max_backoff`) for each call as they come; see the
/// [module docs](super#inference-components-that-scale-to-zero).
///
/// The retry quota is the client's retry partition, not part of
/// [`RetryConfig`]; see the [module docs](super#the-retry-quota).
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::legacy_retry_config;
/// use tower_sagemaker::retry::LegacyRetries;
///
/// let config = legacy_retry_config(&LegacyRetries::new());
/// assert_eq!(config.max_attempts(), 5);
/// assert_eq!(config.initial_backoff(), Duration::from_secs(1));
/// assert_eq!(config.max_backoff(), Duration::from_secs(8));
/// ```
pub fn legacy_retry_config(retries: &LegacyRetries) -> RetryConfig {
    let max_retries = retries.get_max_retries();
    let backoff = retries.get_backoff();
    RetryConfig::standard()
        .with_max_attempts(max_retries.saturating_add(1))
        .with_initial_backoff(backoff.get_base_delay())
        .with_max_backoff(
            backoff
                .ceiling(max_retries)
                .max(backoff.get_base_delay())
                .min(MAX_BACKOFF_LIMIT),
        )
}

/// The largest `max_backoff` [`legacy_retry_config`] sets.
const MAX_BACKOFF_LIMIT: Duration = MAX_LOAD_TIME;

/// The [`TimeoutConfig`] for multi-model endpoints: the whole call (all
/// attempts and sleeps) within [`MAX_LOAD_TIME`] (360 s), each attempt within
/// [`RECOMMENDED_ATTEMPT_TIMEOUT`] (70 s, more than the endpoint's 60 s hold),
/// and a 70 s read timeout. The connect timeout is left unset, so the SDK's
/// default applies.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::multi_model_timeout_config;
///
/// let config = multi_model_timeout_config();
/// assert_eq!(config.operation_timeout(), Some(Duration::from_secs(360)));
/// assert_eq!(config.operation_attempt_timeout(), Some(Duration::from_secs(70)));
/// assert_eq!(config.read_timeout(), Some(Duration::from_secs(70)));
/// ```
pub fn multi_model_timeout_config() -> TimeoutConfig {
    timeouts(MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT)
}

/// A [`TimeoutConfig`] with `operation_timeout` (the budget of the whole call,
/// final when it fires), and `operation_attempt_timeout` and `read_timeout`
/// (per attempt, retried when they fire) both `attempt`.
pub(super) fn timeouts(operation: Duration, attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .operation_timeout(operation)
        .operation_attempt_timeout(attempt)
        .read_timeout(attempt)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs() {
        let c = |n| legacy_retry_config(&LegacyRetries::new().max_retries(n));
        assert_eq!(c(0).max_attempts(), 1);
        let short = LegacyRetries::new()
            .max_retries(3)
            .base_delay(Duration::from_millis(50));
        let c3 = legacy_retry_config(&short);
        assert_eq!(c3.max_attempts(), 4);
        assert_eq!(c3.initial_backoff(), Duration::from_millis(50));
        assert_eq!(c3.max_backoff(), Duration::from_millis(200));
        assert_eq!(c(u32::MAX).max_attempts(), u32::MAX);
        assert_eq!(c(u32::MAX).max_backoff(), MAX_LOAD_TIME);
        assert_eq!(c(9).max_backoff(), Duration::from_secs(256));
        assert_eq!(c(10).max_backoff(), MAX_LOAD_TIME);
        let t = multi_model_timeout_config();
        assert_eq!(t.operation_timeout(), Some(MAX_LOAD_TIME));
        assert_eq!(t.connect_timeout(), None);
        let t = timeouts(Duration::from_secs(30), Duration::from_secs(10));
        assert_eq!(t.operation_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(t.operation_attempt_timeout(), Some(Duration::from_secs(10)));
        assert_eq!(t.read_timeout(), Some(Duration::from_secs(10)));
    }
}
