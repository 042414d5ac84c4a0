use std::time::Duration;

use tower_layer::Layer;

use super::ReadTimeout;
use crate::sagemaker::RECOMMENDED_ATTEMPT_TIMEOUT;

/// Bounds each wait for the response head and for each body frame; see the
/// [module docs](super).
///
/// `default()` is 70 s, what the developer guide recommends for multi-model
/// endpoints ([`RECOMMENDED_ATTEMPT_TIMEOUT`]).
#[derive(Debug, Clone, Copy)]
pub struct ReadTimeoutLayer {
    timeout: Duration,
    times_head: bool,
}

impl ReadTimeoutLayer {
    /// Each wait for bytes may last up to `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            times_head: true,
        }
    }

    /// Bounds the body frames only, for the builder's stacks, where the
    /// retry layer's attempt timeout bounds the head (one timer, not two).
    #[cfg(any(
        all(feature = "target-model", feature = "deadline", feature = "retry"),
        all(
            feature = "invoke-headers",
            feature = "deadline",
            feature = "scale-from-zero"
        )
    ))]
    pub(crate) fn body_only(self) -> Self {
        Self {
            times_head: false,
            ..self
        }
    }

    /// The longest wait for the head or for one body frame.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for ReadTimeoutLayer {
    fn default() -> Self {
        Self::new(RECOMMENDED_ATTEMPT_TIMEOUT)
    }
}

impl<S> Layer<S> for ReadTimeoutLayer {
    type Service = ReadTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let mut service = ReadTimeout::new(inner, self.timeout);
        service.times_head = self.times_head;
        service
    }
}
