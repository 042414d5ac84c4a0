use std::time::Duration;

use tower_layer::Layer;

use super::{LegacyRetries, ModelNotReadyRetry};
use crate::sagemaker::RECOMMENDED_ATTEMPT_TIMEOUT;

/// Retries `ModelNotReadyException` and other transient failures the way
/// botocore's legacy mode (boto3's default) does.
///
/// Defaults ([`ModelNotReadyRetryLayer::legacy`], also `default()`): the
/// decisions of [`LegacyRetries::new`] (4 retries, so 5 attempts; full-jitter
/// backoff `rand * 2^(k-1)` s before retry `k` with no cap;
/// [`RetryClassifier::legacy`](super::RetryClassifier::legacy)) and a 70 s
/// timeout per attempt. See the [module docs](super) for the full behaviour.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
///
/// let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(2))
///     .attempt_timeout(Duration::from_secs(65));
/// assert_eq!(layer.get_retries().get_max_retries(), 2);
/// assert_eq!(layer.get_attempt_timeout(), Some(Duration::from_secs(65)));
/// ```
#[derive(Debug, Clone)]
pub struct ModelNotReadyRetryLayer {
    pub(super) retries: LegacyRetries,
    pub(super) attempt_timeout: Option<Duration>,
}

impl ModelNotReadyRetryLayer {
    /// Retries with `retries`' decisions, and a 70 s per-attempt timeout.
    pub fn new(retries: LegacyRetries) -> Self {
        Self {
            retries,
            attempt_timeout: Some(RECOMMENDED_ATTEMPT_TIMEOUT),
        }
    }

    /// botocore's legacy retry mode ([`LegacyRetries::new`]), with a 70 s
    /// per-attempt timeout.
    pub fn legacy() -> Self {
        Self::new(LegacyRetries::new())
    }

    /// Timeout of each attempt (default 70 s). With a
    /// [`Deadline`](crate::deadline::Deadline) each attempt gets at most the time left.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// No per-attempt timeout (a [`Deadline`](crate::deadline::Deadline) still applies).
    pub fn no_attempt_timeout(mut self) -> Self {
        self.attempt_timeout = None;
        self
    }

    /// The retry settings.
    pub fn get_retries(&self) -> &LegacyRetries {
        &self.retries
    }

    /// The per-attempt timeout, if any.
    pub fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }
}

impl Default for ModelNotReadyRetryLayer {
    fn default() -> Self {
        Self::legacy()
    }
}

impl<S> Layer<S> for ModelNotReadyRetryLayer {
    type Service = ModelNotReadyRetry<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ModelNotReadyRetry {
            inner,
            layer: self.clone(),
        }
    }
}
