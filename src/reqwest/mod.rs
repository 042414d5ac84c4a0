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
mod service;
#[cfg(feature = "sigv4")]
mod sigv4;

pub use self::attempt_headers::AttemptHeadersMiddleware;
pub use self::builder::ClientBuilderExt;
pub use self::cold_starts::ColdStartsMiddleware;
pub use self::deadline::{AttemptDeadlineMiddleware, DeadlineMiddleware};
pub use self::invoke_headers::InvokeHeadersMiddleware;
#[cfg(feature = "scale-from-zero")]
pub use self::no_capacity::NoCapacityMiddleware;
pub use self::service::{ReqwestService, ResponseFuture};
#[cfg(feature = "sigv4")]
pub use self::sigv4::SigV4Middleware;

use std::time::{Duration, SystemTime};

use http::Extensions;
use reqwest_middleware::{Middleware, Next};
use reqwest_retry::{Retryable, RetryableStrategy};
use retry_policies::{RetryDecision, RetryPolicy};

use self::cold_starts::ColdStartMark;
use crate::retry::{LegacyBackoff, LegacyRetries, RetryClassifier};
use crate::target_model::TargetModel;

/// Classifies responses and errors as botocore's legacy mode does, for
/// `reqwest_retry::RetryTransientMiddleware`: what the [`RetryClassifier`]
/// retries is `Transient`, any other failure `Fatal`, a success nothing.
///
/// With [`ColdStartsMiddleware`], a response whose call has used up its
/// attempts, counting the failed probes of other calls it waited through,
/// is `Fatal` (the call ends with it, as with the tower layer); so is such a
/// call's error, which that middleware gives as [`NoRetriesLeft`].
///
/// A 400 `ValidationError` marked [`NoCapacity`](crate::retry::NoCapacity) by
/// `NoCapacityMiddleware` (feature `scale-from-zero`) is `Transient` with
/// [`RetryClassifier::scale_from_zero`] (and `Fatal` when
/// [`ColdStartsMiddleware`] gave up pacing it at the deadline); one whose
/// body broke while `NoCapacityMiddleware` read it is `Transient`
/// ([`ErrorBodyReadFailed`](crate::retry::ErrorBodyReadFailed)).
///
/// Errors: those of reqwest itself are classified by the classifier (a
/// connection reset, closed or refused anywhere in their sources is a
/// transport error), and reqwest's timeouts are retried as botocore retries
/// read timeouts. Errors of other middleware are `Fatal`.
///
/// ```
/// use reqwest_retry::{Retryable, RetryableStrategy};
/// use tower_sagemaker::reqwest::LegacyRetryableStrategy;
///
/// let answer = |status: u16| {
///     let res = http::Response::builder().status(status).body("").unwrap();
///     Ok(reqwest::Response::from(res))
/// };
/// let strategy = LegacyRetryableStrategy::legacy();
/// assert!(strategy.handle(&answer(429)) == Some(Retryable::Transient)); // ModelNotReadyException
/// assert!(strategy.handle(&answer(424)) == Some(Retryable::Fatal)); // ModelError
/// assert!(strategy.handle(&answer(200)).is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct LegacyRetryableStrategy {
    classifier: RetryClassifier,
}

impl LegacyRetryableStrategy {
    /// Classifies with the classifier of `retries`.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            classifier: retries.get_classifier().clone(),
        }
    }

    /// botocore's legacy conditions ([`RetryClassifier::legacy`]).
    pub fn legacy() -> Self {
        Self::default()
    }

    /// The classifier.
    pub fn get_classifier(&self) -> &RetryClassifier {
        &self.classifier
    }
}

impl RetryableStrategy for LegacyRetryableStrategy {
    fn handle(
        &self,
        res: &Result<::reqwest::Response, reqwest_middleware::Error>,
    ) -> Option<Retryable> {
        match res {
            Ok(res) => {
                let status = res.status();
                let give_up = res
                    .extensions()
                    .get::<ColdStartMark>()
                    .is_some_and(|mark| mark.give_up);
                match self
                    .classifier
                    .classify_parts(status, res.headers(), res.extensions())
                    .reason
                {
                    // The call waited through other calls' failed probes
                    // (they used up its attempts), or ColdStartsMiddleware
                    // gave up pacing a scale-out at the deadline.
                    Some(_) if give_up => Some(Retryable::Fatal),
                    Some(_) => Some(Retryable::Transient),
                    None if status.is_success() => None,
                    None => Some(Retryable::Fatal),
                }
            }
            Err(err) => match is_transient(&self.classifier, err) {
                true => Some(Retryable::Transient),
                false => Some(Retryable::Fatal),
            },
        }
    }
}

/// Whether `classifier` retries an error of a reqwest-middleware call: one
/// of reqwest itself that it classifies as retried, or a reqwest timeout
/// (botocore retries read timeouts). Other middleware's errors are final.
fn is_transient(classifier: &RetryClassifier, err: &reqwest_middleware::Error) -> bool {
    match err {
        reqwest_middleware::Error::Reqwest(err) => {
            err.is_timeout() || classifier.classify_error(err).is_some()
        }
        reqwest_middleware::Error::Middleware(_) => false,
    }
}

/// The error of a call's last attempt when the call has no retries left:
/// its attempts and the failed probes of other calls it waited through
/// ([`ColdStartsMiddleware`]) spent botocore's budget. Inside
/// `reqwest_middleware::Error::Middleware`, where
/// [`LegacyRetryableStrategy`] sees it as final; the attempt's own error is
/// its [`source`](std::error::Error::source) and
/// [`into_inner`](Self::into_inner). `RetryTransientMiddleware` hands it to
/// the caller inside its own error, `reqwest_retry::RetryError::Error`:
///
/// ```
/// use tower_sagemaker::reqwest::NoRetriesLeft;
///
/// fn no_retries_left(err: &reqwest_middleware::Error) -> Option<&NoRetriesLeft> {
///     let reqwest_middleware::Error::Middleware(err) = err else { return None };
///     match err.downcast_ref::<reqwest_retry::RetryError>()? {
///         reqwest_retry::RetryError::Error(reqwest_middleware::Error::Middleware(inner)) => {
///             inner.downcast_ref::<NoRetriesLeft>()
///         }
///         _ => None,
///     }
/// }
/// ```
#[derive(Debug)]
pub struct NoRetriesLeft(reqwest_middleware::Error);

impl NoRetriesLeft {
    /// The last attempt's error.
    pub fn get_ref(&self) -> &reqwest_middleware::Error {
        &self.0
    }

    /// The last attempt's error.
    pub fn into_inner(self) -> reqwest_middleware::Error {
        self.0
    }
}

impl std::fmt::Display for NoRetriesLeft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            "no retries left: the call's attempts and the failed probes it waited through used them up",
        )
    }
}

impl std::error::Error for NoRetriesLeft {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// botocore's legacy backoff for `reqwest_retry`: before retry `k`, a
/// uniform random delay in `[0, base * 2^(k-1))` ([`LegacyBackoff`]), at most
/// `max_retries` retries (both from a [`LegacyRetries`]), and, with a total
/// budget, no retry whose delay would end after the budget (counted from the
/// request's start).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use retry_policies::{RetryDecision, RetryPolicy};
/// use tower_sagemaker::reqwest::LegacyBackoffPolicy;
/// use tower_sagemaker::retry::LegacyRetries;
///
/// let policy = LegacyBackoffPolicy::new(&LegacyRetries::new().max_retries(2));
/// let started = SystemTime::now();
/// // The second retry waits less than 2 s; there is no third.
/// match policy.should_retry(started, 1) {
///     RetryDecision::Retry { execute_after } => {
///         assert!(execute_after < SystemTime::now() + Duration::from_secs(2))
///     }
///     RetryDecision::DoNotRetry => panic!("one retry is left"),
/// }
/// assert!(matches!(policy.should_retry(started, 2), RetryDecision::DoNotRetry));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct LegacyBackoffPolicy {
    max_retries: u32,
    backoff: LegacyBackoff,
    budget: Option<Duration>,
}

impl Default for LegacyBackoffPolicy {
    fn default() -> Self {
        Self::legacy()
    }
}

impl LegacyBackoffPolicy {
    /// The number of retries and the backoff of `retries`, no total budget.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            max_retries: retries.get_max_retries(),
            backoff: retries.get_backoff(),
            budget: None,
        }
    }

    /// 4 retries (5 attempts), base 1 s, no cap, no total budget.
    pub fn legacy() -> Self {
        Self::new(&LegacyRetries::new())
    }

    /// No retry whose delay would end more than `budget` after the request
    /// started (360 s for a multi-model endpoint's cold start).
    pub fn total_budget(mut self, budget: Duration) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The number of retries after the first attempt.
    pub fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The backoff.
    pub fn get_backoff(&self) -> LegacyBackoff {
        self.backoff
    }

    /// The total budget, if any.
    pub fn get_total_budget(&self) -> Option<Duration> {
        self.budget
    }
}

impl RetryPolicy for LegacyBackoffPolicy {
    fn should_retry(&self, request_start_time: SystemTime, n_past_retries: u32) -> RetryDecision {
        if n_past_retries >= self.max_retries {
            return RetryDecision::DoNotRetry;
        }
        let delay = self.backoff.delay(n_past_retries.saturating_add(1));
        let Some(execute_after) = SystemTime::now().checked_add(delay) else {
            return RetryDecision::DoNotRetry;
        };
        if let Some(budget) = self.budget {
            let end = request_start_time.checked_add(budget);
            if end.is_none_or(|end| execute_after >= end) {
                return RetryDecision::DoNotRetry;
            }
        }
        RetryDecision::Retry { execute_after }
    }
}

/// Sets `X-Amzn-SageMaker-Target-Model` on requests: from a [`TargetModel`]
/// in the request's middleware extensions (`RequestBuilder::with_extension`),
/// else the middleware's default. A header the request already has is kept
/// unless `TargetModel::new` would reject it, as
/// [`TargetModelLayer`](crate::target_model::TargetModelLayer) does.
///
/// ```no_run
/// use tower_sagemaker::reqwest::TargetModelMiddleware;
/// use tower_sagemaker::target_model::TargetModel;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// // No default model: each request names its own.
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TargetModelMiddleware::per_request())
///     .build();
/// let res = client
///     .post("http://127.0.0.1:8080/endpoints/demo/invocations")
///     .with_extension(TargetModel::new("model-7.tar.gz")?)
///     .header("content-type", "text/csv")
///     .body("1.0,2.0")
///     .send()
///     .await?;
/// # let _ = res; Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TargetModelMiddleware {
    model: Option<TargetModel>,
}

impl TargetModelMiddleware {
    /// Sets `model` on requests without one of their own.
    pub fn new(model: TargetModel) -> Self {
        Self { model: Some(model) }
    }

    /// Sets only the model a request carries in its extensions.
    pub fn per_request() -> Self {
        Self { model: None }
    }

    /// The default model, if any.
    pub fn get_model(&self) -> Option<&TargetModel> {
        self.model.as_ref()
    }
}

#[async_trait::async_trait]
impl Middleware for TargetModelMiddleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        let model = extensions
            .get::<TargetModel>()
            .or(self.model.as_ref())
            .map(|model| model.header_value().clone());
        crate::target_model::set_header(req.headers_mut(), model);
        next.run(req, extensions).await
    }
}
