use std::fmt;
use std::time::Duration;

/// A read waited longer than the read timeout of a
/// [`ReadTimeoutLayer`](super::ReadTimeoutLayer): for the response head
/// (the service's error) or for a frame of the body (the body's error).
///
/// Reach it with `err.downcast_ref::<ReadTimedOut>()`. Retried by
/// [`RetryClassifier::legacy`](crate::retry::RetryClassifier::legacy), as
/// botocore retries its read timeouts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReadTimedOut {
    timeout: Duration,
    body: bool,
}

impl ReadTimedOut {
    pub(super) fn head(timeout: Duration) -> Self {
        Self {
            timeout,
            body: false,
        }
    }

    pub(super) fn body(timeout: Duration) -> Self {
        Self {
            timeout,
            body: true,
        }
    }

    /// The read timeout that passed.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether the wait was for the response head (no response yet).
    pub fn is_head(&self) -> bool {
        !self.body
    }

    /// Whether the wait was for a frame of the response body.
    pub fn is_body(&self) -> bool {
        self.body
    }
}

impl fmt::Display for ReadTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.body {
            "the next frame of the response body"
        } else {
            "the response head"
        };
        write!(
            f,
            "read timeout: {what} did not arrive within {:?}",
            self.timeout
        )
    }
}

impl std::error::Error for ReadTimedOut {}

impl fmt::Debug for ReadTimedOut {
    /// The type and the same message as `Display`: `main() -> Result<(), BoxError>`
    /// prints errors with `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadTimedOut(\"{self}\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_says_what_did_not_arrive() {
        let timeout = Duration::from_secs(70);
        assert_eq!(
            ReadTimedOut::head(timeout).to_string(),
            "read timeout: the response head did not arrive within 70s"
        );
        assert_eq!(
            ReadTimedOut::body(timeout).to_string(),
            "read timeout: the next frame of the response body did not arrive within 70s"
        );
        assert_eq!(
            format!("{:?}", ReadTimedOut::head(Duration::from_millis(1500))),
            "ReadTimedOut(\"read timeout: the response head did not arrive within 1.5s\")"
        );
    }
}
