use std::time::Duration;

use tower_layer::Layer;

use super::DeadlineService;
use crate::sagemaker::MAX_LOAD_TIME;

/// Gives every call one time budget, all attempts and backoff sleeps included.
///
/// Inserts a [`Deadline`](super::Deadline) into the request's extensions (an
/// earlier one already there stands) and fails the call with
/// [`DeadlineExceeded`](super::DeadlineExceeded) when it passes. The default
/// budget is 360 s, how long a multi-model endpoint may spend loading a model.
/// See the [module docs](super) for an example.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    budget: Duration,
    times_head: bool,
}

impl DeadlineLayer {
    /// A budget of `budget` per call.
    pub fn new(budget: Duration) -> Self {
        Self {
            budget,
            times_head: true,
        }
    }

    /// Leaves the wait for the response head to the layers beneath, which
    /// must each end their waits by the [`Deadline`](super::Deadline) they
    /// find in the request: the retry layer does (its attempt timeout is
    /// armed at the deadline when that comes first, and it never sleeps or
    /// waits past it). The body is still timed here. For the builder's
    /// stacks, which know what lies beneath: it saves a timer per call.
    #[cfg(any(
        all(feature = "target-model", feature = "retry", feature = "read-timeout"),
        all(
            feature = "invoke-headers",
            feature = "scale-from-zero",
            feature = "read-timeout"
        )
    ))]
    pub(crate) fn head_timed_beneath(self) -> Self {
        Self {
            times_head: false,
            ..self
        }
    }

    /// The budget of each call.
    pub fn get_budget(&self) -> Duration {
        self.budget
    }
}

impl Default for DeadlineLayer {
    /// 360 s: the longest a multi-model endpoint loads a model.
    fn default() -> Self {
        Self::new(MAX_LOAD_TIME)
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        let mut service = DeadlineService::new(inner, self.budget);
        service.times_head = self.times_head;
        service
    }
}
