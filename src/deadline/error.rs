use std::fmt;
use std::time::Duration;

/// A call ran out of its [`Deadline`](super::Deadline).
///
/// Returned (inside a [`tower::BoxError`]) by
/// [`DeadlineLayer`](super::DeadlineLayer) and by
/// [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer) when the
/// deadline cuts an attempt short; reach it with
/// `err.downcast_ref::<DeadlineExceeded>()`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DeadlineExceeded {
    budget: Duration,
    elapsed: Duration,
}

impl DeadlineExceeded {
    /// A deadline of `budget` was exceeded after `elapsed`.
    pub fn new(budget: Duration, elapsed: Duration) -> Self {
        Self { budget, elapsed }
    }

    /// The budget of the deadline that passed.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time from the deadline's start to the moment the call was failed.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadline of {:?} exceeded after {:?}",
            self.budget, self.elapsed
        )
    }
}

impl std::error::Error for DeadlineExceeded {}

impl fmt::Debug for DeadlineExceeded {
    /// The type and the same message as `Display`: `main() -> Result<(), BoxError>`
    /// prints errors with `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeadlineExceeded(\"{self}\")")
    }
}
