use std::fmt;

use tower::BoxError;

/// A response body was longer than the limit of a
/// [`CollectBodyLayer`](super::CollectBodyLayer); nothing was truncated.
///
/// Not retried: the same call would get the same body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    limit: usize,
    declared: Option<u64>,
}

impl BodyTooLarge {
    pub(super) fn new(limit: usize, declared: Option<u64>) -> Self {
        Self { limit, declared }
    }

    /// The limit, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The body's `Content-Length`, when it declared one over the limit
    /// (then nothing was read).
    pub fn declared_length(&self) -> Option<u64> {
        self.declared
    }
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.declared {
            Some(len) => write!(
                f,
                "response body of {len} bytes is over the limit of {} bytes",
                self.limit
            ),
            None => write!(f, "response body is over the limit of {} bytes", self.limit),
        }
    }
}

impl std::error::Error for BodyTooLarge {}

/// Reading a response body failed (the connection broke, or a read timed
/// out) before it was complete.
///
/// Retried by [`RetryClassifier::legacy`](crate::retry::RetryClassifier::legacy)
/// like a transport error. The cause is its [`source`](std::error::Error::source).
pub struct BodyReadFailed {
    source: BoxError,
}

impl BodyReadFailed {
    pub(super) fn new(source: BoxError) -> Self {
        Self { source }
    }
}

impl fmt::Display for BodyReadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reading the response body failed")
    }
}

impl std::error::Error for BodyReadFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl fmt::Debug for BodyTooLarge {
    /// The type and the same message as `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyTooLarge(\"{self}\")")
    }
}

impl fmt::Debug for BodyReadFailed {
    /// The type, the message and its cause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyReadFailed(\"{self}: {}\")", self.source)
    }
}
