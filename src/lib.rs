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
//! ```
//! # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry"))]
//! # mod example {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::deadline::DeadlineLayer;
//! use tower_sagemaker::retry::ModelNotReadyRetryLayer;
//! use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # pub async fn main() -> Result<(), BoxError> {
//! # let http_client = service_fn(|_req: http::Request<Full<Bytes>>| async {
//! #     Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from("8.0"))))
//! # });
//! let svc = ServiceBuilder::new()
//!     .layer(TargetModelLayer::new(TargetModel::new("model-3.tar.gz")?))
//!     .layer(DeadlineLayer::new(Duration::from_secs(360)))
//!     .layer(
//!         ModelNotReadyRetryLayer::legacy()
//!             .max_retries(2)
//!             .attempt_timeout(Duration::from_secs(70)),
//!     )
//!     .service(http_client);
//!
//! let req = http::Request::post("http://localhost:8080/endpoints/demo/invocations")
//!     .header("content-type", "text/csv")
//!     .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
//! let res = svc.oneshot(req).await?;
//! assert_eq!(res.status(), 200);
//! # Ok(())
//! # }
//! # }
//! # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry"))]
//! # example::main().unwrap();
//! ```
//!
//! # Architecture
//!
//! One module per middleware, as in tower-http; each is compiled only with
//! its cargo feature.
//!
//! | module | what it is for | feature |
//! |---|---|---|
//! | [`target_model`] | [`TargetModel`](target_model::TargetModel), a validated model name, and [`TargetModelLayer`](target_model::TargetModelLayer), which puts it in the header | `target-model` (default) |
//! | [`deadline`] | [`Deadline`](deadline::Deadline), one budget for a call, and [`DeadlineLayer`](deadline::DeadlineLayer), which enforces it | `deadline` (default) |
//! | [`read_timeout`] | [`ReadTimeoutLayer`](read_timeout::ReadTimeoutLayer): botocore's read timeout, each wait for the head and for each body frame | `read-timeout` (default) |
//! | [`collect_body`] | [`CollectBodyLayer`](collect_body::CollectBodyLayer): reads bodies inside the attempt, so a broken body is retried | `collect-body` (default) |
//! | [`retry`] | [`ModelNotReadyRetryLayer`](retry::ModelNotReadyRetryLayer): botocore's legacy retries; [`RetryClassifier`](retry::RetryClassifier) (what is retried) and [`LegacyBackoff`](retry::LegacyBackoff) (how long to wait), which the `aws_sdk` module shares | `retry` (default; implies `deadline`, `read-timeout`, `collect-body`) |
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
//! - crate root: `ServiceBuilderExt`, `MultiModelEndpointLayers` (the type of its recommended stack), `ErrorCode`;
//! - `sagemaker`: header names (`TARGET_MODEL_HEADER`, ...), `MAX_PAYLOAD_BYTES`,
//!   `MAX_TARGET_MODEL_LEN`, `COLD_START_HOLD`, `MAX_LOAD_TIME`,
//!   `RECOMMENDED_ATTEMPT_TIMEOUT`, `LEGACY_RETRYABLE_STATUSES`,
//!   `LEGACY_THROTTLING_CODES`, `SIGNING_NAME`, `invocations_path`,
//!   `is_valid_endpoint_name`;
//! - `target_model`: `TargetModel`, `InvalidTargetModel`, `TargetModelLayer`, `TargetModelService`;
//! - `deadline`: `Deadline`, `DeadlineExceeded`, `DeadlineLayer`, `DeadlineService`,
//!   `ResponseFuture`, `ResponseBody`;
//! - `read_timeout`: `ReadTimeoutLayer`, `ReadTimeout`, `ReadTimedOut`, `ResponseFuture`, `ResponseBody`;
//! - `collect_body`: `CollectBodyLayer`, `CollectBody`, `BodyTooLarge`, `BodyReadFailed`,
//!   `ResponseFuture`, `ResponseBody`;
//! - `retry`: `ModelNotReadyRetryLayer`, `ModelNotReadyRetry`, `RetryClassifier`,
//!   `RetryReason`, `LegacyBackoff`, `Attempts`, `AttemptTimedOut`, `ResponseFuture`;
//! - `sigv4`: `SigV4Layer`, `SigV4`, `SigningError`, `ResponseFuture`;
//! - `aws_sdk`: `TargetModelInterceptor`, `AttemptNumberInterceptor`,
//!   `ModelNotReadyClassifier`, `legacy_retry_config`, `legacy_retry_config_with`,
//!   `multi_model_timeout_config`, `timeout_config`, and with
//!   `aws-sdk-sagemakerruntime`: `MultiModelEndpoint`, `MultiModelEndpointExt`,
//!   `config_override`;
//! - `emulator`: `Emulator`, `EmulatorBuilder`, `ModelSpec`, `ModelStats`,
//!   `Fault`, `FaultScope`, `Server`.
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
#[cfg(feature = "deadline")]
pub mod deadline;
#[cfg(feature = "emulator")]
pub mod emulator;
#[cfg(feature = "collect-body")]
mod legacy;
#[cfg(feature = "read-timeout")]
pub mod read_timeout;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "sigv4")]
pub mod sigv4;
#[cfg(feature = "target-model")]
pub mod target_model;
#[cfg(any(feature = "deadline", feature = "read-timeout"))]
mod timer;

#[cfg(all(feature = "target-model", feature = "retry"))]
pub use crate::builder::MultiModelEndpointLayers;
pub use crate::builder::ServiceBuilderExt;
pub use crate::error_code::ErrorCode;

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "full"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
