use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use tower_layer::Layer;

use super::{CollectBody, LeaveUnread};

/// Reads each response's whole body, up to a limit, before the call returns;
/// see the [module docs](super).
#[derive(Debug, Clone)]
pub struct CollectBodyLayer {
    limit: usize,
    leave_unread: LeaveUnread,
}

impl CollectBodyLayer {
    /// Reads bodies of up to `limit` bytes (SageMaker's own limit is
    /// [`MAX_PAYLOAD_BYTES`](crate::sagemaker::MAX_PAYLOAD_BYTES), 6 MiB),
    /// leaving unread those of responses botocore's legacy mode retries.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            leave_unread: LeaveUnread::Legacy,
        }
    }

    /// Leaves unread the bodies of responses for which `predicate(status,
    /// headers)` is true, instead of those botocore's legacy mode retries:
    /// pass the rule of your retry classifier.
    ///
    /// ```
    /// # #[cfg(feature = "retry")]
    /// # {
    /// use http::StatusCode;
    /// use tower_sagemaker::collect_body::CollectBodyLayer;
    /// use tower_sagemaker::retry::RetryClassifier;
    ///
    /// let classifier = RetryClassifier::legacy().retry_status(StatusCode::from_u16(530).unwrap());
    /// let retried = classifier.clone();
    /// let layer = CollectBodyLayer::new(1 << 20)
    ///     .leave_unread_if(move |status, headers| retried.classify_response(status, headers).is_some());
    /// # let _ = layer;
    /// # }
    /// ```
    pub fn leave_unread_if<F>(mut self, predicate: F) -> Self
    where
        F: Fn(StatusCode, &HeaderMap) -> bool + Send + Sync + 'static,
    {
        self.leave_unread = LeaveUnread::If(Arc::new(predicate));
        self
    }

    /// The largest body read, in bytes.
    pub fn get_limit(&self) -> usize {
        self.limit
    }
}

impl<S> Layer<S> for CollectBodyLayer {
    type Service = CollectBody<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CollectBody {
            inner,
            limit: self.limit,
            leave_unread: self.leave_unread.clone(),
        }
    }
}
