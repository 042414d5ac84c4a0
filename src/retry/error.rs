use std::fmt;
use std::time::Duration;

/// An attempt took longer than its per-attempt timeout.
///
/// Retried like a read timeout in botocore. It reaches the caller (inside a
/// [`tower::BoxError`]) only when the last attempt timed out; when the
/// call's [`Deadline`](crate::deadline::Deadline) cut the attempt short the caller gets
/// [`DeadlineExceeded`](crate::deadline::DeadlineExceeded) instead.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AttemptTimedOut {
    timeout: Duration,
    attempt: u32,
}

impl AttemptTimedOut {
    /// Attempt number `attempt` (1-based) timed out after `timeout`.
    pub fn new(timeout: Duration, attempt: u32) -> Self {
        Self { timeout, attempt }
    }

    /// The per-attempt timeout that passed.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Which attempt timed out (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

impl fmt::Display for AttemptTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt {} timed out after {:?}",
            self.attempt, self.timeout
        )
    }
}

impl std::error::Error for AttemptTimedOut {}

impl fmt::Debug for AttemptTimedOut {
    /// The type and the same message as `Display`: `main() -> Result<(), BoxError>`
    /// prints errors with `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AttemptTimedOut(\"{self}\")")
    }
}
