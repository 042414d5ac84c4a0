//! Tower middleware for Amazon SageMaker multi-model endpoints.
//!
//! A multi-model endpoint loads a model on its first call: it holds the call
//! for up to 60 s, then answers 429 `ModelNotReadyException` while the load
//! goes on for up to 360 s. boto3 and the Java SDK retry that error; the AWS
//! SDK for Rust does not. This crate gives any tower HTTP client (and the AWS
//! SDK for Rust, feature `aws-sdk`) the same behaviour:
//!
//! - [`TargetModelLayer`](target_model::TargetModelLayer) sets and validates
//!   `X-Amzn-SageMaker-Target-Model`;
//! - [`ModelNotReadyRetryLayer`](retry::ModelNotReadyRetryLayer) retries as
//!   botocore's legacy mode does, with a per-attempt timeout;
//! - [`DeadlineLayer`](deadline::DeadlineLayer) gives the whole call one
//!   budget (360 s by default).
//!
//! ```no_run
//! # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry", feature = "read-timeout"))]
//! # mod example {
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use tower::{BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::target_model::TargetModel;
//! use tower_sagemaker::ServiceBuilderExt;
//!
//! # #[tokio::main]
//! # pub async fn main() -> Result<(), BoxError> {
//! // Any tower HTTP client: here hyper-util's, plain HTTP to a local emulator
//! // (`cargo run --example mme_emulator --features emulator`). For AWS, give
//! // it TLS (hyper-rustls) and add `sigv4::SigV4Layer` last, as the README shows.
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//!
//! // Target-model header, 360 s for the whole call (body included), botocore's
//! // legacy retries (5 attempts), 70 s for each attempt's head and each read.
//! let svc = ServiceBuilder::new()
//!     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
//!     .service(client);
//!
//! let req = http::Request::post("http://127.0.0.1:8080/endpoints/demo/invocations")
//!     .header("content-type", "text/csv")
//!     .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
//! let res = svc.oneshot(req).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.into_body().collect().await?.to_bytes(), "8.0");
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! Each layer can also be used on its own, and with its own settings; the
//! modules below show how.
//!
//! # Architecture
//!
//! One module per middleware, as in tower-http; each is compiled only with
//! its cargo feature.
//!
//! | module | what it is for | feature |
//! |---|---|---|
//! | [`target_model`] | [`TargetModel`](target_model::TargetModel), a validated model name, and [`TargetModelLayer`](target_model::TargetModelLayer), which puts it in the header | `target-model` (default) |
//! | [`invoke_headers`] | [`InvokeHeadersLayer`](invoke_headers::InvokeHeadersLayer): `InvokeEndpoint`'s other headers (variant, inference id, session, ...), checked as the service checks them, per layer or per request | `invoke-headers` (default) |
//! | [`deadline`] | [`Deadline`](deadline::Deadline), one budget for a call, and [`DeadlineLayer`](deadline::DeadlineLayer), which enforces it | `deadline` (default) |
//! | [`read_timeout`] | [`ReadTimeoutLayer`](read_timeout::ReadTimeoutLayer): botocore's read timeout, each wait for the head and for each body frame | `read-timeout` (default) |
//! | [`collect_body`] | [`CollectBodyLayer`](collect_body::CollectBodyLayer): reads bodies inside the attempt, so a broken body is retried | `collect-body` (default) |
//! | [`retry`] | [`ModelNotReadyRetryLayer`](retry::ModelNotReadyRetryLayer): botocore's legacy retries; [`RetryClassifier`](retry::RetryClassifier) (what is retried) and [`LegacyBackoff`](retry::LegacyBackoff) (how long to wait), which the `aws_sdk` module shares | `retry` (default) |
//! | `retry::LegacyRetryPolicy` | the same decisions as a `tower::retry::Policy`, for stacks built on `tower::retry::RetryLayer` | `retry-policy` |
//! | `retry::RetryMetrics` | attempts, retries by reason, give-ups, cold-start and scale-out waits, recorded with the `metrics` facade from the retry events | `metrics` |
//! | [`scale_from_zero`] | [`NoCapacityLayer`](scale_from_zero::NoCapacityLayer): finds the no-capacity answer of an inference component scaled to zero, so the retry layer rides its scale-out through | `scale-from-zero` |
//! | [`reqwest`] | [`ReqwestService`](reqwest::ReqwestService), a `reqwest::Client` beneath the tower stack; for reqwest-middleware stacks, a retry strategy and a retry policy making botocore's legacy decisions, target-model, deadline and (with `sigv4`) signing middleware, and [`ClientBuilderExt`](reqwest::ClientBuilderExt) to add them in one call | `reqwest` |
//! | [`sigv4`] | [`SigV4Layer`](sigv4::SigV4Layer): signs every attempt with `aws-sigv4` | `sigv4` |
//! | [`aws_sdk`] | the AWS SDK for Rust: interceptors, a retry classifier, retry and timeout settings; with `aws-sdk-sagemakerruntime`, a config extension for its client | `aws-sdk`, `aws-sdk-sagemakerruntime` |
//! | [`emulator`] | a local multi-model endpoint (cold starts, 429s, LRU eviction, SigV4 checks), in-process or over HTTP/1.1 | `emulator` |
//! | [`sagemaker`] | the service's facts: header names, limits, default durations, legacy retry rules | always |
//! | crate root | [`ServiceBuilderExt`] (the layers as `ServiceBuilder` methods) and [`ErrorCode`] (the one error-code parser) | always |
//!
//! Feature `hyper` (default) makes the retry classifier recognise hyper's
//! connection-level errors (closed, incomplete message, canceled), which
//! hyper-based clients such as `hyper-util` and `reqwest` return without an
//! `std::io::Error` beneath; without it, only `std::io::Error`s in an error's
//! source chain count as transport errors. `full` turns every feature on.
//!
//! # Public API
//!
//! Every public item has one path:
//!
//! - crate root: `ServiceBuilderExt`, `MultiModelEndpointLayers` and `InferenceComponentLayers`
//!   (the types of its recommended stacks), `ErrorCode`;
//! - `sagemaker`: header names (`TARGET_MODEL_HEADER`, ...), `MAX_PAYLOAD_BYTES`,
//!   `MAX_TARGET_MODEL_LEN`, `COLD_START_HOLD`, `MAX_LOAD_TIME`,
//!   `RECOMMENDED_ATTEMPT_TIMEOUT`, `NO_CAPACITY_MESSAGE`, `SCALE_OUT_TIME`,
//!   `SCALE_FROM_ZERO_BUDGET`, `LEGACY_RETRYABLE_STATUSES`,
//!   `LEGACY_THROTTLING_CODES`, `SIGNING_NAME`, `invocations_path`, `parse_invocations_path`,
//!   `is_valid_endpoint_name`, `check_invoke_header`, `InvalidHeaderValue`;
//! - `target_model`: `TargetModel`, `InvalidTargetModel`, `TargetModelLayer`, `TargetModelService`;
//! - `invoke_headers`: `InvokeHeader`, `InvokeHeaders`, `InvokeHeadersLayer`, `InvokeHeadersService`;
//! - `deadline`: `Deadline`, `DeadlineExceeded`, `DeadlineLayer`, `DeadlineService`,
//!   `ResponseFuture`, `DeadlineBody`;
//! - `read_timeout`: `ReadTimeoutLayer`, `ReadTimeout`, `ReadTimedOut`, `ResponseFuture`, `ReadTimeoutBody`;
//! - `collect_body`: `CollectBodyLayer`, `CollectBody`, `BodyTooLarge`, `BodyReadFailed`,
//!   `ResponseFuture`, `CollectedBody`;
//! - `retry`: `LegacyRetries`, `ModelNotReadyRetryLayer`, `ModelNotReadyRetry`, `RetryClassifier`,
//!   `RetryReason`, `LegacyBackoff`, `Attempts`, `AttemptTimedOut`, `ResponseFuture`,
//!   `RetryEvent`, `AttemptOutcome`, `Decision`, `ColdStarts`, `NoCapacity`, `ErrorBodyReadFailed`,
//!   with `retry-policy`:
//!   `LegacyRetryPolicy`, `RetryWait`,
//!   with `metrics`: `RetryMetrics`;
//! - `scale_from_zero`: `NoCapacityLayer`, `NoCapacityCheck`, `ResponseFuture`, `PeekedBody`;
//! - `sigv4`: `SigV4Layer`, `SigV4`, `SigningError`, `ResponseFuture`;
//! - `reqwest`: `ReqwestService`, `ResponseFuture`, `LegacyRetryableStrategy`, `LegacyBackoffPolicy`,
//!   `NoRetriesLeft`, `TargetModelMiddleware`, `DeadlineMiddleware`, `AttemptDeadlineMiddleware`,
//!   `ColdStartsMiddleware`, `AttemptHeadersMiddleware`, `InvokeHeadersMiddleware`,
//!   `ClientBuilderExt`, with `sigv4`: `SigV4Middleware`, with `scale-from-zero`: `NoCapacityMiddleware`;
//! - `aws_sdk`: `TargetModelInterceptor`, `AttemptNumberInterceptor`, `LegacyRetriesInterceptor`,
//!   `ModelNotReadyClassifier`, `ColdStartsHttpClient`, `legacy_retry_config`,
//!   `multi_model_timeout_config`, and
//!   with `aws-sdk-sagemakerruntime`: `MultiModelEndpoint`, `MultiModelEndpointExt`;
//! - `emulator`: `Emulator`, `EmulatorBuilder`, `ModelSpec`, `ModelStats`, `ComponentSpec`,
//!   `ComponentStats`, `InvalidComponentName`, `Fault`, `FaultScope`, `Server`.
//!
//! Naming: a layer `FooLayer` builds the service `Foo`, as in tower; where
//! `Foo` already names the value the layer carries ([`TargetModel`](target_model::TargetModel),
//! [`Deadline`](deadline::Deadline)), the service is `FooService`. Settings
//! are set by builder methods named after them (`max_retries(4)`) and read by
//! `get_` and the same name (`get_max_retries()`); `get_ref`, `get_mut` and
//! `into_inner` reach the service a middleware wraps.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod macros;

mod builder;
mod error_code;
pub mod sagemaker;

#[cfg(feature = "aws-sdk")]
pub mod aws_sdk;
#[cfg(feature = "collect-body")]
pub mod collect_body;
// The retry layer honours a `Deadline` without the deadline layer.
#[cfg(any(feature = "deadline", feature = "retry"))]
pub mod deadline;
#[cfg(feature = "emulator")]
pub mod emulator;
#[cfg(feature = "invoke-headers")]
pub mod invoke_headers;
#[cfg(any(feature = "collect-body", feature = "retry"))]
mod legacy;
#[cfg(feature = "read-timeout")]
pub mod read_timeout;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "scale-from-zero")]
pub mod scale_from_zero;
#[cfg(feature = "sigv4")]
pub mod sigv4;
#[cfg(feature = "target-model")]
pub mod target_model;
#[cfg(any(
    feature = "deadline",
    feature = "read-timeout",
    feature = "retry",
    feature = "emulator"
))]
mod timer;

#[cfg(all(
    feature = "invoke-headers",
    feature = "deadline",
    feature = "scale-from-zero",
    feature = "read-timeout"
))]
pub use crate::builder::InferenceComponentLayers;
#[cfg(all(
    feature = "target-model",
    feature = "deadline",
    feature = "retry",
    feature = "read-timeout"
))]
pub use crate::builder::MultiModelEndpointLayers;
pub use crate::builder::ServiceBuilderExt;
pub use crate::error_code::ErrorCode;
