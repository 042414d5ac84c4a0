//! [`ServiceBuilderExt`]: this crate's layers as `ServiceBuilder` methods.

use tower::ServiceBuilder;

#[cfg(feature = "collect-body")]
use crate::collect_body::CollectBodyLayer;
#[cfg(feature = "deadline")]
use crate::deadline::DeadlineLayer;
#[cfg(feature = "read-timeout")]
use crate::read_timeout::ReadTimeoutLayer;
#[cfg(feature = "retry")]
use crate::retry::ModelNotReadyRetryLayer;
#[cfg(feature = "target-model")]
use crate::target_model::{TargetModel, TargetModelLayer};
#[cfg(all(
    feature = "invoke-headers",
    feature = "deadline",
    feature = "scale-from-zero",
    feature = "read-timeout"
))]
use crate::{
    invoke_headers::{InvokeHeaders, InvokeHeadersLayer},
    retry::LegacyRetries,
    sagemaker::SCALE_FROM_ZERO_BUDGET,
    scale_from_zero::NoCapacityLayer,
};

mod sealed {
    pub trait Sealed {}
    impl<L> Sealed for tower::ServiceBuilder<L> {}
}

/// The layers of [`ServiceBuilderExt::multi_model_endpoint`], outermost last
/// as `ServiceBuilder` nests them.
#[cfg(all(
    feature = "target-model",
    feature = "deadline",
    feature = "retry",
    feature = "read-timeout"
))]
pub type MultiModelEndpointLayers<L> = tower::layer::util::Stack<
    ReadTimeoutLayer,
    tower::layer::util::Stack<
        ModelNotReadyRetryLayer,
        tower::layer::util::Stack<DeadlineLayer, tower::layer::util::Stack<TargetModelLayer, L>>,
    >,
>;

/// The layers of [`ServiceBuilderExt::inference_component`], outermost last
/// as `ServiceBuilder` nests them.
#[cfg(all(
    feature = "invoke-headers",
    feature = "deadline",
    feature = "scale-from-zero",
    feature = "read-timeout"
))]
pub type InferenceComponentLayers<L> = tower::layer::util::Stack<
    ReadTimeoutLayer,
    tower::layer::util::Stack<
        NoCapacityLayer,
        tower::layer::util::Stack<
            ModelNotReadyRetryLayer,
            tower::layer::util::Stack<
                DeadlineLayer,
                tower::layer::util::Stack<InvokeHeadersLayer, L>,
            >,
        >,
    >,
>;

/// This crate's layers as methods of tower's `ServiceBuilder`.
///
/// As tower-http's `ServiceBuilderExt` does for its own layers, this trait
/// adds a method per layer to [`tower::ServiceBuilder`], and one for the
/// recommended stack.
///
/// ```
/// # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry", feature = "read-timeout"))]
/// # {
/// use std::time::Duration;
/// use tower::ServiceBuilder;
/// use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer};
/// use tower_sagemaker::sagemaker::MAX_PAYLOAD_BYTES;
/// use tower_sagemaker::target_model::TargetModel;
/// use tower_sagemaker::ServiceBuilderExt;
///
/// # fn wrap<S>(http_client: S) -> Result<(), tower_sagemaker::target_model::InvalidTargetModel> {
/// let model = TargetModel::new("model-3.tar.gz")?;
///
/// // Layer by layer...
/// let stack = ServiceBuilder::new()
///     .target_model(model.clone())
///     .deadline(Duration::from_secs(360))
///     .model_not_ready_retry(ModelNotReadyRetryLayer::new(LegacyRetries::new().max_retries(2)))
///     .collect_body(MAX_PAYLOAD_BYTES)
///     .read_timeout(Duration::from_secs(70));
///
/// // ...or the recommended stack in one call.
/// let stack = ServiceBuilder::new().multi_model_endpoint(model);
/// # let _ = stack; Ok(()) }
/// # }
/// ```
pub trait ServiceBuilderExt<L>: sealed::Sealed + Sized {
    /// Adds [`TargetModelLayer::new`] with `model`.
    #[cfg(feature = "target-model")]
    fn target_model(
        self,
        model: TargetModel,
    ) -> ServiceBuilder<tower::layer::util::Stack<TargetModelLayer, L>>;

    /// Adds [`DeadlineLayer::new`] with `budget`.
    #[cfg(feature = "deadline")]
    fn deadline(
        self,
        budget: std::time::Duration,
    ) -> ServiceBuilder<tower::layer::util::Stack<DeadlineLayer, L>>;

    /// Adds `layer`, a configured [`ModelNotReadyRetryLayer`].
    #[cfg(feature = "retry")]
    fn model_not_ready_retry(
        self,
        layer: ModelNotReadyRetryLayer,
    ) -> ServiceBuilder<tower::layer::util::Stack<ModelNotReadyRetryLayer, L>>;

    /// Adds [`ReadTimeoutLayer::new`] with `timeout`.
    #[cfg(feature = "read-timeout")]
    fn read_timeout(
        self,
        timeout: std::time::Duration,
    ) -> ServiceBuilder<tower::layer::util::Stack<ReadTimeoutLayer, L>>;

    /// Adds [`CollectBodyLayer::new`] with `limit`.
    #[cfg(feature = "collect-body")]
    fn collect_body(
        self,
        limit: usize,
    ) -> ServiceBuilder<tower::layer::util::Stack<CollectBodyLayer, L>>;

    /// The recommended stack for calls to `model` on a multi-model endpoint,
    /// outermost first (the AWS SDK's
    /// `MultiModelEndpointExt::multi_model_endpoint` sets up the same for an
    /// SDK client):
    /// [`TargetModelLayer::new(model)`](TargetModelLayer::new),
    /// [`DeadlineLayer::default()`] (360 s, the body included),
    /// [`ModelNotReadyRetryLayer::legacy()`] (4 retries, 70 s per attempt) and
    /// [`ReadTimeoutLayer::default()`] (70 s for each body frame).
    ///
    /// The retry layer bounds each attempt's head: one timer, armed when the
    /// head does not come at once, ends the attempt after 70 s
    /// ([`AttemptTimedOut`](crate::retry::AttemptTimedOut), retried as
    /// botocore retries a read timeout) or at the deadline, whichever comes
    /// first. `DeadlineLayer` therefore times only the body here, and the
    /// read timeout only the body's frames: a call that waits for its head
    /// arms one timer, not three. Stacked by hand, each of these layers
    /// times the head itself.
    #[cfg(all(
        feature = "target-model",
        feature = "deadline",
        feature = "retry",
        feature = "read-timeout"
    ))]
    fn multi_model_endpoint(
        self,
        model: TargetModel,
    ) -> ServiceBuilder<MultiModelEndpointLayers<L>>;

    /// The recommended stack for calls to an inference component that may
    /// scale to zero, outermost first:
    /// [`InvokeHeadersLayer::new(headers)`](InvokeHeadersLayer::new) (the
    /// component's `X-Amzn-SageMaker-Inference-Component` among them),
    /// [`DeadlineLayer`] with [`SCALE_FROM_ZERO_BUDGET`] (10 minutes, to
    /// cover a scale-out),
    /// [`ModelNotReadyRetryLayer`] with [`LegacyRetries::scale_from_zero`]
    /// (botocore's legacy retries, and no-capacity answers retried 10 to 30 s
    /// apart until the deadline; 70 s per attempt),
    /// [`NoCapacityLayer::new()`] and [`ReadTimeoutLayer::default()`] (70 s
    /// for each body frame). As in
    /// [`multi_model_endpoint`](Self::multi_model_endpoint), the retry layer
    /// alone bounds each head, by 70 s or the deadline.
    /// For cold-start coalescing, build the retry layer with
    /// [`LegacyRetries::coalesce_cold_starts`] and stack the layers yourself.
    ///
    /// ```
    /// # #[cfg(all(feature = "invoke-headers", feature = "deadline", feature = "scale-from-zero", feature = "read-timeout"))]
    /// # fn wrap() -> Result<(), tower_sagemaker::sagemaker::InvalidHeaderValue> {
    /// use tower::ServiceBuilder;
    /// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
    /// use tower_sagemaker::ServiceBuilderExt;
    ///
    /// let component = InvokeHeaders::new().with(InvokeHeader::inference_component("ic-llama")?);
    /// let stack = ServiceBuilder::new().inference_component(component);
    /// # let _ = stack; Ok(()) }
    /// ```
    #[cfg(all(
        feature = "invoke-headers",
        feature = "deadline",
        feature = "scale-from-zero",
        feature = "read-timeout"
    ))]
    fn inference_component(
        self,
        headers: InvokeHeaders,
    ) -> ServiceBuilder<InferenceComponentLayers<L>>;
}

impl<L> ServiceBuilderExt<L> for ServiceBuilder<L> {
    #[cfg(feature = "target-model")]
    fn target_model(
        self,
        model: TargetModel,
    ) -> ServiceBuilder<tower::layer::util::Stack<TargetModelLayer, L>> {
        self.layer(TargetModelLayer::new(model))
    }

    #[cfg(feature = "deadline")]
    fn deadline(
        self,
        budget: std::time::Duration,
    ) -> ServiceBuilder<tower::layer::util::Stack<DeadlineLayer, L>> {
        self.layer(DeadlineLayer::new(budget))
    }

    #[cfg(feature = "retry")]
    fn model_not_ready_retry(
        self,
        layer: ModelNotReadyRetryLayer,
    ) -> ServiceBuilder<tower::layer::util::Stack<ModelNotReadyRetryLayer, L>> {
        self.layer(layer)
    }

    #[cfg(feature = "read-timeout")]
    fn read_timeout(
        self,
        timeout: std::time::Duration,
    ) -> ServiceBuilder<tower::layer::util::Stack<ReadTimeoutLayer, L>> {
        self.layer(ReadTimeoutLayer::new(timeout))
    }

    #[cfg(feature = "collect-body")]
    fn collect_body(
        self,
        limit: usize,
    ) -> ServiceBuilder<tower::layer::util::Stack<CollectBodyLayer, L>> {
        self.layer(CollectBodyLayer::new(limit))
    }

    #[cfg(all(
        feature = "target-model",
        feature = "deadline",
        feature = "retry",
        feature = "read-timeout"
    ))]
    fn multi_model_endpoint(
        self,
        model: TargetModel,
    ) -> ServiceBuilder<MultiModelEndpointLayers<L>> {
        // The retry layer's attempt timer bounds each head, by 70 s or the
        // deadline: the layers around it leave the head to it.
        self.target_model(model)
            .layer(DeadlineLayer::default().head_timed_beneath())
            .layer(ModelNotReadyRetryLayer::legacy())
            .layer(ReadTimeoutLayer::default().body_only())
    }

    #[cfg(all(
        feature = "invoke-headers",
        feature = "deadline",
        feature = "scale-from-zero",
        feature = "read-timeout"
    ))]
    fn inference_component(
        self,
        headers: InvokeHeaders,
    ) -> ServiceBuilder<InferenceComponentLayers<L>> {
        // As in `multi_model_endpoint`: the retry layer bounds each head.
        self.layer(InvokeHeadersLayer::new(headers))
            .layer(DeadlineLayer::new(SCALE_FROM_ZERO_BUDGET).head_timed_beneath())
            .layer(ModelNotReadyRetryLayer::new(
                LegacyRetries::new().scale_from_zero(),
            ))
            .layer(NoCapacityLayer::new())
            .layer(ReadTimeoutLayer::default().body_only())
    }
}
