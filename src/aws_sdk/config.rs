//! Retry and timeout settings sized for multi-model endpoints.

use std::time::Duration;

use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::retry::LegacyBackoff;
use crate::sagemaker::{MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT};

/// A standard-mode [`RetryConfig`] for botocore's legacy semantics with the
/// default [`LegacyBackoff`]: `max_retries` retries after the first attempt
/// (`max_attempts = max_retries + 1`, as botocore counts `max_attempts` in
/// legacy mode), initial backoff 1 s, and a `max_backoff` that does not cut
/// the delay of the last retry. See [`legacy_retry_config_with`].
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::legacy_retry_config;
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
/// `backoff.get_base_delay()`, `max_backoff` the ceiling of retry `max_retries` (at
/// least the base), so the SDK neither cuts [`ModelNotReadyClassifier`](super::ModelNotReadyClassifier)'s
/// explicit delays nor computes different ones when it uses its own formula.
///
/// `max_backoff` is at most [`MAX_LOAD_TIME`] (360 s; reached from the 10th
/// retry with the default base): a longer sleep would outlast the whole
/// multi-model budget, and the SDK's identity cache sums the worst-case
/// backoffs in floating point and panics when that sum does not fit a
/// `Duration` (an uncapped `max_backoff` with 100 retries does it).
///
/// The retry quota is the client's retry partition, not part of
/// [`RetryConfig`]; see the [module docs](super#the-retry-quota).
pub fn legacy_retry_config_with(max_retries: u32, backoff: LegacyBackoff) -> RetryConfig {
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
    timeout_config(MAX_LOAD_TIME, RECOMMENDED_ATTEMPT_TIMEOUT)
}

/// A [`TimeoutConfig`] with `operation_timeout` (the budget of the whole call,
/// final when it fires), and `operation_attempt_timeout` and `read_timeout`
/// (per attempt, retried when they fire) both `attempt`.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::aws_sdk::timeout_config;
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

#[cfg(test)]
mod tests {
    use super::*;

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
