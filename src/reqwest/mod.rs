//! For [reqwest](https://docs.rs/reqwest) users (feature `reqwest`): the
//! whole crate over reqwest, either as the transport beneath the tower
//! stack or as reqwest-middleware middleware.
//!
//! ```
//! # #[cfg(all(feature = "emulator", feature = "sigv4", feature = "read-timeout", feature = "deadline"))]
//! # mod example {
//! use aws_credential_types::Credentials;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use tower::{BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::emulator::{Emulator, ModelSpec};
//! use tower_sagemaker::reqwest::{ClientBuilderExt, ReqwestService, SigV4Middleware};
//! use tower_sagemaker::sigv4::SigV4Layer;
//! use tower_sagemaker::target_model::TargetModel;
//! use tower_sagemaker::ServiceBuilderExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # pub async fn main() -> Result<(), BoxError> {
//! // A local multi-model endpoint that checks signatures (feature `emulator`).
//! let emulator = Emulator::builder()
//!     .model("model-3.tar.gz", ModelSpec::new(std::time::Duration::ZERO))
//!     .credentials("AKIDEXAMPLE", "secret")
//!     .build();
//! let server = emulator.serve(([127, 0, 0, 1], 0).into()).await?;
//! let url = format!("{}/endpoints/demo/invocations", server.endpoint_url());
//! let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
//! let model = TargetModel::new("model-3.tar.gz")?;
//!
//! // 1. reqwest beneath the tower stack: every layer of the crate, reqwest's
//! //    pool, TLS and proxies beneath. SigV4Layer signs each attempt.
//! let svc = ServiceBuilder::new()
//!     .multi_model_endpoint(model.clone())
//!     .layer(SigV4Layer::new(credentials.clone(), "us-east-1"))
//!     .service(ReqwestService::new(reqwest::Client::new()));
//! let req = http::Request::post(&url)
//!     .header("content-type", "text/csv")
//!     .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
//! let res = svc.oneshot(req).await?;
//! assert_eq!(res.into_body().collect().await?.to_bytes(), "8.0");
//!
//! // 2. A reqwest-middleware client: target model, deadline, legacy
//! //    retries, then SigV4 last, so that every attempt is signed.
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .multi_model_endpoint(model)
//!     .with(SigV4Middleware::new(credentials, "us-east-1"))
//!     .build();
//! let res = client
//!     .post(&url)
//!     .header("content-type", "text/csv")
//!     .body("1.0,2.0,5.0")
//!     .send()
//!     .await?;
//! assert_eq!(res.text().await?, "8.0");
//! # server.shutdown().await;
//! # Ok(())
//! # }
//! # }
//! # #[cfg(all(feature = "emulator", feature = "sigv4", feature = "read-timeout", feature = "deadline"))]
//! # example::main().unwrap();
//! ```
//!
//! # reqwest beneath the tower stack
//!
//! [`ReqwestService`] makes a `reqwest::Client` a
//! `tower::Service<http::Request<B>>`: put it where the tower examples put
//! hyper-util's client, and every layer of the crate works over it
//! ([`multi_model_endpoint`](crate::ServiceBuilderExt::multi_model_endpoint),
//! `SigV4Layer`, cold-start coalescing, [`RetryEvent`](crate::retry::RetryEvent)s
//! and metrics). This is the path that keeps the whole promise of the crate.
//!
//! # reqwest-middleware stacks
//!
//! For code built on `reqwest_middleware::ClientWithMiddleware`, in the
//! order they go (outermost first), and all of them at once with
//! [`ClientBuilderExt::multi_model_endpoint`]:
//!
//! - [`InvokeHeadersMiddleware`] (yours to add, first): `InvokeEndpoint`'s
//!   other headers ([`InvokeHeaders`](crate::invoke_headers::InvokeHeaders)),
//!   validated;
//! - [`TargetModelMiddleware`]: sets `X-Amzn-SageMaker-Target-Model` from a
//!   validated [`TargetModel`];
//! - [`DeadlineMiddleware`]: one budget for the call, attempts in flight and
//!   sleeps between them (what it can bound of the body is in its docs);
//! - `reqwest_retry::RetryTransientMiddleware` with
//!   [`LegacyRetryableStrategy`] (classifies as botocore's legacy mode does,
//!   with the [`RetryClassifier`] of a [`LegacyRetries`], as the tower layer)
//!   and [`LegacyBackoffPolicy`] (the [`LegacyBackoff`] and `max_retries` of a
//!   [`LegacyRetries`], full jitter, an optional total budget);
//! - [`ColdStartsMiddleware`] (with
//!   [`coalesce_cold_starts`](LegacyRetries::coalesce_cold_starts)): while a
//!   model loads, one call at a time asks the endpoint about it; with
//!   [`scale_from_zero`](LegacyRetries::scale_from_zero), it also makes the
//!   retries of an inference component scaling out from zero, paced 10 to
//!   30 s apart and bounded by the call's deadline (see below);
//! - `NoCapacityMiddleware` (feature `scale-from-zero`): reads at most 1 KiB
//!   of a 400 `ValidationError` body to find the no-capacity answer of a
//!   component with no copy, and hands the body on whole;
//! - [`AttemptDeadlineMiddleware`]: each attempt, its response body included,
//!   ends by the deadline (and after a per-attempt timeout);
//! - [`AttemptHeadersMiddleware`]: `amz-sdk-invocation-id` and
//!   `amz-sdk-request` on each attempt;
//! - `SigV4Middleware` (feature `sigv4`): signs each attempt, last.
//!
//! The middleware after the retry middleware keep a call's state (its place
//! among the calls for its model, its invocation id and attempt count) in
//! the call's middleware extensions, which reqwest-middleware hands every
//! attempt of the call.
//!
//! # Inference components that scale to zero
//!
//! With feature `scale-from-zero`,
//! `ClientBuilderExt::inference_component` sets up the rule of
//! [`LegacyRetries::scale_from_zero`] on the middleware path: a 400
//! `ValidationError` whose message says the component has no copy is
//! retried 10 to 30 s apart ([`LegacyRetries::scale_out_backoff`]) until a
//! retry would start after the call's deadline (10 minutes by default),
//! and not counted against `max_retries`; a `ValidationError` for any other
//! reason is never retried. reqwest-retry's policy decides delays from the
//! number of retries alone and cannot see why a call is retried, so those
//! retries are not its: `NoCapacityMiddleware` marks the answer and
//! [`ColdStartsMiddleware`], inside the retry middleware, makes them itself
//! (with the retry layer's own decision), within one of reqwest-retry's
//! attempts; reqwest-retry sees the answer that follows (a success, or a
//! failure it retries under botocore's rules). Without a
//! [`DeadlineMiddleware`] nothing bounds them but `max_retries`: they are
//! then reqwest-retry's, with the legacy backoff, as with the tower layer.
//!
//! # What the middleware path lacks
//!
//! What the tower path has and the middleware path has not:
//! [`RetryEvent`](crate::retry::RetryEvent)s (reqwest-retry runs its own
//! loop and tells no one; the only events are those of the no-capacity
//! retries [`ColdStartsMiddleware`] makes and of the success that ends
//! them), `DeadlineExceeded` for a body read that outlives
//! the deadline (it fails with reqwest's timeout error instead), and, with
//! coalescing, a backoff that counts the probes a call waited through
//! (reqwest-retry's policy sees only the call's own retries; see
//! [`ColdStartsMiddleware`]), and the last answer when a caller's own earlier
//! [`Deadline`](crate::deadline::Deadline) would pass during the backoff:
//! reqwest-retry's policy does not see it, so the retry middleware sleeps
//! into it and the call ends at the deadline with `DeadlineExceeded` (the
//! policy's own [`total_budget`](LegacyBackoffPolicy::total_budget), which the
//! builders set to their budget, is seen: past it, the last answer is
//! returned).
//!
//! Built for reqwest 0.13, reqwest-middleware 0.5, reqwest-retry 0.9 and
//! retry-policies 0.5.

mod attempt_headers;
mod builder;
mod cold_starts;
mod deadline;
mod invoke_headers;
#[cfg(feature = "scale-from-zero")]
mod no_capacity;
mod retry;
mod service;
#[cfg(feature = "sigv4")]
mod sigv4;
mod target_model;

pub use self::attempt_headers::AttemptHeadersMiddleware;
pub use self::builder::ClientBuilderExt;
pub use self::cold_starts::ColdStartsMiddleware;
pub use self::deadline::{AttemptDeadlineMiddleware, DeadlineMiddleware};
pub use self::invoke_headers::InvokeHeadersMiddleware;
#[cfg(feature = "scale-from-zero")]
pub use self::no_capacity::NoCapacityMiddleware;
pub(crate) use self::retry::is_transient;
pub use self::retry::{LegacyBackoffPolicy, LegacyRetryableStrategy, NoRetriesLeft};
pub use self::service::{ReqwestService, ResponseFuture};
#[cfg(feature = "sigv4")]
pub use self::sigv4::SigV4Middleware;
pub use self::target_model::TargetModelMiddleware;

// What the module docs link to.
#[cfg(doc)]
use crate::retry::{LegacyBackoff, LegacyRetries, RetryClassifier};
#[cfg(doc)]
use crate::target_model::TargetModel;
