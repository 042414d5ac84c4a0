use tower_layer::Layer;

use super::NoCapacityCheck;

/// Reads the first bytes of a 400 `ValidationError` body and marks the
/// response [`NoCapacity`](crate::retry::NoCapacity) when it carries the
/// service's no-capacity message; see the [module docs](super).
#[derive(Debug, Clone, Copy)]
pub struct NoCapacityLayer {
    limit: usize,
}

impl NoCapacityLayer {
    /// The most bytes of an error body read by default: 1 KiB. The
    /// service's no-capacity answer is about 250 bytes.
    pub const DEFAULT_LIMIT: usize = 1024;

    /// Reads up to [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) bytes of a
    /// `ValidationError` body.
    pub fn new() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// Sets how many bytes of a `ValidationError` body are read at most; a
    /// longer body is not the no-capacity answer and is passed on whole.
    pub fn limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The most bytes of an error body read.
    pub fn get_limit(&self) -> usize {
        self.limit
    }
}

impl Default for NoCapacityLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for NoCapacityLayer {
    type Service = NoCapacityCheck<S>;

    fn layer(&self, inner: S) -> Self::Service {
        NoCapacityCheck {
            inner,
            limit: self.limit,
        }
    }
}
