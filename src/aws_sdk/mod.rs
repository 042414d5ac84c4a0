//! The AWS SDK for Rust integration: botocore's legacy retries of
//! `ModelNotReadyException` and the target-model header, and the ride
//! through an inference component's scale-out from zero, for
//! `aws-sdk-sagemakerruntime`.
//!
//! The SDK does not retry `ModelNotReadyException` (HTTP 429): a call to a
//! cold model of a multi-model endpoint fails at once. This module adds
//! through the SDK's public configuration only:
//!
//! - [`TargetModelInterceptor`] sets `X-Amzn-SageMaker-Target-Model` before
//!   signing, unless the operation set one itself;
//! - [`ModelNotReadyClassifier`] retries what botocore's legacy mode retries
//!   ([`RetryClassifier::legacy`](crate::retry::RetryClassifier::legacy)), with [`LegacyBackoff`](crate::retry::LegacyBackoff) delays;
//! - [`AttemptNumberInterceptor`] tells the classifier which attempt failed
//!   (and, for [`LegacyRetries::scale_from_zero`](crate::retry::LegacyRetries::scale_from_zero),
//!   keeps the scale-out budget);
//! - [`LegacyRetriesInterceptor`] reports the [`RetryEvent`](crate::retry::RetryEvent)s
//!   of [`LegacyRetries::on_event`](crate::retry::LegacyRetries::on_event) for
//!   SDK calls, and [`ColdStartsHttpClient`] coalesces cold starts
//!   ([`ColdStarts`](crate::retry::ColdStarts)) in the SDK's HTTP connector;
//! - [`legacy_retry_config`] and [`multi_model_timeout_config`] size the SDK's
//!   retry and timeout settings for a 360 s cold start;
//! - with feature `aws-sdk-sagemakerruntime`, `MultiModelEndpointExt` applies
//!   all of it to an `aws_sdk_sagemakerruntime::config::Builder`, and
//!   `MultiModelEndpoint::config_override` does the same for one call;
//!   `MultiModelEndpointExt::inference_components` is the setup for
//!   inference components that scale to zero (see [below](#inference-components-that-scale-to-zero)).
//!
//! ```no_run
//! # #[cfg(feature = "aws-sdk-sagemakerruntime")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_sdk_sagemakerruntime::primitives::Blob;
//! use tower_sagemaker::aws_sdk::MultiModelEndpointExt;
//! use tower_sagemaker::target_model::TargetModel;
//!
//! let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
//!     // Target model header, legacy retries (4 retries: 5 attempts), 360 s budget.
//!     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
//!     .build();
//! let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
//!
//! let out = client
//!     .invoke_endpoint()
//!     .endpoint_name("demo")
//!     .content_type("text/csv")
//!     .body(Blob::new("1.0,2.0,5.0"))
//!     .send()
//!     .await?;
//! println!("{:?}", out.body());
//! # Ok(())
//! # }
//! ```
//!
//! # How the decisions combine with the SDK's own classifiers
//!
//! The SDK runs its retry classifiers in priority order; a later one overrides
//! an earlier one unless it indicates nothing. `InvokeEndpoint` has, in order:
//! the HTTP status classifier (500, 502, 503, 504: transient), the clock skew
//! classifier, the AWS error code classifier (the SDK's throttling codes, which
//! include codes legacy mode does not retry, such as `TooManyRequestsException`),
//! the modeled-as-retryable classifier (nothing for `InvokeEndpoint`) and the
//! transient error classifier (I/O errors, timeouts). [`ModelNotReadyClassifier`]
//! runs after all of them
//! (`RetryClassifierPriority::run_after(transient_error_classifier())`):
//!
//! - for everything legacy mode retries (429 whatever the code, so
//!   `ModelNotReadyException`; 500, 502, 503, 504, 509; 400 with a legacy
//!   throttling code; I/O errors and timeouts) it indicates a retry with an
//!   explicit legacy delay, so its delay wins over the SDK's, also for 5xx; the
//!   error kind is the earlier classifier's, if one decided, so token costs and
//!   connection poisoning stay the SDK's;
//! - for everything else it indicates nothing, so an earlier SDK decision
//!   stands (a 400 `TooManyRequestsException` is still retried with the SDK's
//!   delay) and 424 `ModelError`, 400 `ValidationError` and other errors are
//!   not retried.
//!
//! With the SDK's default retry behaviour (2.0) the standard strategy sleeps
//! `min(explicit delay, max_backoff)`, so [`legacy_retry_config`] sets
//! `max_backoff` to the last retry's ceiling. Under the opt-in Retry Behavior
//! 2.1 (`AWS_NEW_RETRIES_2026=true` with `aws-config`), the SDK bounds an
//! explicit delay to `[t, t + 5 s]` around its own backoff `t`, so delays are
//! then only approximately legacy.
//!
//! The classifier sees no `ConfigBag`, so it learns the attempt number from
//! [`AttemptNumberInterceptor`], which records it on each HTTP response. Without
//! that interceptor, and for failures without a response (I/O errors,
//! timeouts), it indicates a retry without a delay and the SDK computes
//! `rand * min(initial_backoff * 2^(k-1), max_backoff)`: the same full-jitter
//! formula, equal to [`LegacyBackoff`](crate::retry::LegacyBackoff) when `initial_backoff` is its base, as
//! [`legacy_retry_config`] sets it, and `k` the SDK's attempt number. That
//! number also counts an inference component's paced no-capacity answers,
//! which botocore's count leaves out: after a scale-out, such a failure's
//! delay is drawn under a higher ceiling than the retry layer's.
//!
//! # Inference components that scale to zero
//!
//! While an inference component has no copy, every call to it fails with
//! HTTP 400 `ValidationError`, "Inference Component has no capacity to
//! process this request. ..." ([`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE)),
//! until the scale-out its failures trigger has provisioned a copy: several
//! minutes. The SDK never retries a `ValidationError`. With
//! [`LegacyRetries::scale_from_zero`](crate::retry::LegacyRetries::scale_from_zero)
//! (`MultiModelEndpoint::inference_components`, feature
//! `aws-sdk-sagemakerruntime`, sets it up), the same rule as the crate's
//! retry layer:
//!
//! - [`ModelNotReadyClassifier`] retries exactly that answer: status 400,
//!   code `ValidationError` and the no-capacity message, which it reads
//!   from the error the SDK has parsed (its `ErrorMetadata`; no body is read
//!   twice). Any other `ValidationError` is final.
//! - With an `operation_timeout` (the call's deadline), those retries are
//!   paced by [`LegacyRetries::scale_out_backoff`](crate::retry::LegacyRetries::scale_out_backoff)
//!   (10 to 30 s apart), and none is made whose backoff would end after the
//!   timeout: the call then ends with the no-capacity error. They do not
//!   spend botocore's retries: the SDK's `max_attempts` stays
//!   [`legacy_retry_config`]'s (5), and [`AttemptNumberInterceptor`] raises
//!   it by one for the call at each no-capacity answer (and its
//!   `max_backoff`, for that retry, to the pacing's ceiling), so 429s, 5xx
//!   and transport errors keep their 4 retries whatever the scale-out took.
//!   The `MultiModelEndpoint` default `operation_timeout` is then
//!   [`SCALE_FROM_ZERO_BUDGET`](crate::sagemaker::SCALE_FROM_ZERO_BUDGET)
//!   (10 minutes) unless you set timeouts.
//! - Without an `operation_timeout` they count against the retries and take
//!   the legacy backoff, so a call is never unbounded.
//! - With [`coalesce_cold_starts`](crate::retry::LegacyRetries::coalesce_cold_starts),
//!   the calls for one endpoint and component share one probe: its paced
//!   retries keep reaching the endpoint (each failure is what starts the
//!   scale-out), the other calls wait until the component serves or their
//!   `operation_timeout` ([`ColdStartsHttpClient`]).
//! - Events: reason [`RetryReason::NoCapacity`](crate::retry::RetryReason::NoCapacity),
//!   the component in `AttemptOutcome::inference_component`, and
//!   `since_first_no_capacity`, the wait the scale-out cost.
//!
//! A call names its component itself: no target model is needed.
//!
//! ```no_run
//! # #[cfg(feature = "aws-sdk-sagemakerruntime")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use aws_sdk_sagemakerruntime::primitives::Blob;
//! use tower_sagemaker::aws_sdk::{MultiModelEndpoint, MultiModelEndpointExt};
//! use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
//!
//! let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
//! let config = aws_sdk_sagemakerruntime::config::Builder::from(&sdk_config)
//!     // Legacy retries, no-capacity answers retried 10-30 s apart, 600 s budget,
//!     // one probe per component at a time.
//!     .multi_model_endpoint_with(MultiModelEndpoint::new().retries(
//!         LegacyRetries::new()
//!             .scale_from_zero()
//!             .coalesce_cold_starts(ColdStarts::new()),
//!     ))
//!     .build();
//! let client = aws_sdk_sagemakerruntime::Client::from_conf(config);
//!
//! let out = client
//!     .invoke_endpoint()
//!     .endpoint_name("demo")
//!     .inference_component_name("ic-llama")
//!     .content_type("application/json")
//!     .body(Blob::new(r#"{"inputs": "Hello"}"#))
//!     .send()
//!     .await?;
//! println!("{:?}", out.body());
//! # Ok(())
//! # }
//! ```
//!
//! Under the SDK's opt-in Retry Behavior 2.1 the explicit delays are bounded
//! around the SDK's own backoff (see above), so the pacing is then only
//! approximate.
//!
//! # The retry quota
//!
//! The standard strategy spends tokens from a client-wide bucket of 500 on each
//! retry (5, 10 for transient errors) and refunds them only on success. A burst
//! of cold-start retries (say 100 concurrent calls to cold models, 4 retries
//! each) empties it, after which the SDK stops retrying anything for that
//! client. botocore's legacy mode has no quota: the `aws-sdk-sagemakerruntime`
//! helpers give the client an unlimited bucket in its own retry partition
//! (`tower-sagemaker-legacy`) unless told to keep the SDK's
//! (`MultiModelEndpoint::retry_quota(true)`).

mod calls;
mod classifier;
mod config;
mod http_client;
mod interceptor;
#[cfg(feature = "aws-sdk-sagemakerruntime")]
mod sagemakerruntime;

pub use self::calls::LegacyRetriesInterceptor;
pub use self::classifier::ModelNotReadyClassifier;
pub use self::config::{legacy_retry_config, multi_model_timeout_config};
pub use self::http_client::ColdStartsHttpClient;
pub use self::interceptor::{AttemptNumberInterceptor, TargetModelInterceptor};
#[cfg(feature = "aws-sdk-sagemakerruntime")]
pub use self::sagemakerruntime::{MultiModelEndpoint, MultiModelEndpointExt};
