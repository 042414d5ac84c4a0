//! Tower middleware for Amazon SageMaker multi-model endpoints.
//!
//! A multi-model endpoint loads a model on its first call: it holds the call
//! for up to 60 s, then answers 429 `ModelNotReadyException` while the load
//! goes on for up to 360 s. boto3 and the Java SDK retry that error; the AWS
//! SDK for Rust does not. This crate gives any tower HTTP client (and the AWS
//! SDK for Rust, feature `aws-sdk`) the same behaviour:
//!
//! - [`TargetModelLayer`] sets and validates `X-Amzn-SageMaker-Target-Model`;
//! - [`ModelNotReadyRetryLayer`] retries as botocore's legacy mode does, with a
//!   per-attempt timeout;
//! - [`DeadlineLayer`] gives the whole call one budget (360 s by default).
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::{DeadlineLayer, ModelNotReadyRetryLayer, TargetModel, TargetModelLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), BoxError> {
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
//! ```
//!
//! # Cargo features
//!
//! | feature | what it adds | default |
//! |---|---|---|
//! | `target-model` | [`TargetModelLayer`] | yes |
//! | `deadline` | [`DeadlineLayer`] | yes |
//! | `retry` | [`ModelNotReadyRetryLayer`] | yes |
//! | `emulator` | a local multi-model endpoint (`emulator` module) | no |
//! | `sigv4` | `SigV4Layer`, request signing with `aws-sigv4` | no |
//! | `aws-sdk` | the `sdk` module: interceptor and retry classifier for the AWS SDK for Rust | no |
//! | `aws-sdk-sagemakerruntime` | a config extension trait for `aws-sdk-sagemakerruntime` | no |
//! | `full` | all of the above | no |
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

#[cfg(feature = "retry")]
mod backoff;
mod builder;
pub mod deadline;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error_code;
#[cfg(feature = "retry")]
pub mod retry;
pub mod sagemaker;
#[cfg(feature = "aws-sdk")]
pub mod sdk;
#[cfg(feature = "sigv4")]
pub mod sigv4;
pub mod target_model;
#[cfg(any(feature = "deadline", feature = "retry"))]
mod timer;

#[cfg(feature = "retry")]
pub use crate::backoff::LegacyBackoff;
pub use crate::builder::ServiceBuilderExt;
#[cfg(feature = "deadline")]
pub use crate::deadline::DeadlineLayer;
pub use crate::deadline::{Deadline, DeadlineExceeded};
pub use crate::error_code::ErrorCode;
#[cfg(feature = "retry")]
pub use crate::retry::{AttemptTimedOut, Attempts, ModelNotReadyRetryLayer, RetryClassifier};
pub use crate::sagemaker::TARGET_MODEL_HEADER;
#[cfg(feature = "sigv4")]
pub use crate::sigv4::SigV4Layer;
#[cfg(feature = "target-model")]
pub use crate::target_model::TargetModelLayer;
pub use crate::target_model::{InvalidTargetModel, TargetModel};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
