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
}

impl DeadlineLayer {
    /// A budget of `budget` per call.
    pub fn new(budget: Duration) -> Self {
        Self { budget }
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
        DeadlineService::new(inner, self.budget)
    }
}
