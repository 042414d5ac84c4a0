//! [`DeadlineMiddleware`] and [`AttemptDeadlineMiddleware`]: one budget for a
//! reqwest-middleware call.

use std::time::Duration;

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::deadline::Deadline;
use crate::sagemaker::MAX_LOAD_TIME;

/// Gives every call of a reqwest-middleware client one time budget: the
/// attempts in flight and the retry middleware's sleeps. Put it **before**
/// (outside) `reqwest_retry::RetryTransientMiddleware`, and
/// [`AttemptDeadlineMiddleware`] after it.
///
/// It puts a [`Deadline`] into the middleware extensions (an earlier one the
/// caller gave with `RequestBuilder::with_extension` stands), takes it out
/// again when the call ends, with what the crate's middleware after it keep
/// there for the call (so a map the caller passes to
/// `execute_with_extensions` can serve another call), and, when the
/// deadline passes before the middleware after it answer, drops their
/// future (the attempt in flight or the sleep) and fails the call with
/// [`DeadlineExceeded`](crate::deadline::DeadlineExceeded), inside
/// `reqwest_middleware::Error::Middleware` (reach it with
/// `err.downcast_ref::<DeadlineExceeded>()` on the `anyhow::Error`). An
/// error that comes at or after the deadline (reqwest's timeout set by
/// [`AttemptDeadlineMiddleware`], say) is reported as `DeadlineExceeded` too.
///
/// # The response body
///
/// A middleware returns a `reqwest::Response` whose body the caller reads
/// afterwards, outside every middleware: this one cannot bound that read.
/// [`AttemptDeadlineMiddleware`] does, through reqwest itself: it sets each
/// attempt's reqwest timeout (`Request::timeout_mut`) to end no later than the
/// deadline, and reqwest's timeout runs until the body is read. A body that
/// stalls then fails at the deadline with a reqwest timeout error
/// (`is_timeout()`), not with `DeadlineExceeded`. Without
/// `AttemptDeadlineMiddleware`, nothing bounds the body but the client's own
/// `timeout` and `read_timeout`.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::deadline::DeadlineExceeded;
/// use tower_sagemaker::reqwest::DeadlineMiddleware;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// # #[derive(Clone)]
/// # struct Stall;
/// # #[async_trait::async_trait]
/// # impl reqwest_middleware::Middleware for Stall {
/// #     async fn handle(&self, _: reqwest::Request, _: &mut http::Extensions, _: reqwest_middleware::Next<'_>)
/// #         -> reqwest_middleware::Result<reqwest::Response> {
/// #         std::future::pending().await
/// #     }
/// # }
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(DeadlineMiddleware::new(Duration::from_secs(5)))
///     // ... the retry middleware and the rest; here one that never answers.
/// #   .with(Stall)
///     .build();
/// let err = client.post("http://127.0.0.1:9/endpoints/demo/invocations").send().await.unwrap_err();
/// let reqwest_middleware::Error::Middleware(err) = err else { panic!("{err}") };
/// assert_eq!(err.downcast_ref::<DeadlineExceeded>().unwrap().budget(), Duration::from_secs(5));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct DeadlineMiddleware {
    budget: Duration,
}

impl DeadlineMiddleware {
    /// A budget of `budget` per call.
    pub fn new(budget: Duration) -> Self {
        Self { budget }
    }

    /// The budget of each call.
    pub fn get_budget(&self) -> Duration {
        self.budget
    }
}

impl Default for DeadlineMiddleware {
    /// 360 s: the longest a multi-model endpoint loads a model.
    fn default() -> Self {
        Self::new(MAX_LOAD_TIME)
    }
}

#[async_trait::async_trait]
impl Middleware for DeadlineMiddleware {
    async fn handle(
        &self,
        req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        let mut deadline = Deadline::after(self.budget);
        let outer = extensions.get::<Deadline>().copied();
        if let Some(outer) = outer {
            deadline = outer.min(deadline);
        }
        extensions.insert(deadline);
        let result =
            match tokio::time::timeout_at(deadline.instant(), next.run(req, extensions)).await {
                Ok(Ok(res)) => Ok(res),
                Ok(Err(_)) | Err(_) if deadline.is_expired() => {
                    Err(reqwest_middleware::Error::middleware(deadline.exceeded()))
                }
                Ok(Err(err)) => Err(err),
                Err(_) => Err(reqwest_middleware::Error::middleware(deadline.exceeded())),
            };
        end_call(extensions, outer);
        result
    }
}

/// The call is over: what the crate's middleware kept in its extensions
/// for it goes (a cold-start ticket among them, whose prober role passes on
/// now), and the caller's own `Deadline`, if any, is back. A caller that
/// owns the map (`execute_with_extensions`) may reuse it for another call.
fn end_call(extensions: &mut Extensions, callers_deadline: Option<Deadline>) {
    super::cold_starts::end_call(extensions);
    super::attempt_headers::end_call(extensions);
    match callers_deadline {
        Some(deadline) => extensions.insert(deadline),
        None => extensions.remove::<Deadline>(),
    };
}

/// Ends each attempt, its response body included, by the call's
/// [`Deadline`] (set by [`DeadlineMiddleware`]) and, optionally, after a
/// per-attempt timeout. Put it **after** (inside)
/// `reqwest_retry::RetryTransientMiddleware`, which runs it once per attempt.
///
/// For each attempt it sets reqwest's own timeout on the request
/// (`Request::timeout_mut`) to the least of the request's timeout, the
/// [`attempt_timeout`](Self::attempt_timeout) and the time left before the
/// deadline. reqwest's timeout runs from the attempt's start until its
/// response body is read, so a stalled body of the final response ends at the
/// deadline too, with a reqwest timeout error (`is_timeout()`). An attempt
/// that times out before the deadline is retried
/// ([`LegacyRetryableStrategy`](super::LegacyRetryableStrategy) retries
/// reqwest's timeouts, as botocore retries read timeouts). No attempt starts
/// once the deadline has passed: the call fails with
/// [`DeadlineExceeded`](crate::deadline::DeadlineExceeded).
///
/// A per-request timeout replaces the `reqwest::Client`'s `timeout` in
/// reqwest: with this middleware, bound attempts with
/// [`attempt_timeout`](Self::attempt_timeout) (or `RequestBuilder::timeout`)
/// rather than `ClientBuilder::timeout`. The client's `read_timeout` and
/// `connect_timeout` still apply.
///
/// ```
/// use std::time::Duration;
/// use reqwest_retry::RetryTransientMiddleware;
/// use tower_sagemaker::reqwest::{
///     AttemptDeadlineMiddleware, DeadlineMiddleware, LegacyBackoffPolicy, LegacyRetryableStrategy,
/// };
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(DeadlineMiddleware::new(Duration::from_secs(360)))
///     .with(RetryTransientMiddleware::new_with_policy_and_strategy(
///         LegacyBackoffPolicy::legacy(),
///         LegacyRetryableStrategy::legacy(),
///     ))
///     .with(AttemptDeadlineMiddleware::new().attempt_timeout(Duration::from_secs(70)))
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AttemptDeadlineMiddleware {
    attempt_timeout: Option<Duration>,
}

impl AttemptDeadlineMiddleware {
    /// Ends attempts by the call's deadline only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also ends each attempt `timeout` after it starts, body included
    /// (70 s, [`RECOMMENDED_ATTEMPT_TIMEOUT`](crate::sagemaker::RECOMMENDED_ATTEMPT_TIMEOUT),
    /// rides a 60 s cold-start hold).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The per-attempt timeout, if any.
    pub fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }
}

#[async_trait::async_trait]
impl Middleware for AttemptDeadlineMiddleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        let mut timeout = req.timeout().copied();
        let mut lower = |limit: Duration| {
            timeout = Some(timeout.map_or(limit, |t| t.min(limit)));
        };
        if let Some(limit) = self.attempt_timeout {
            lower(limit);
        }
        if let Some(deadline) = extensions.get::<Deadline>() {
            if deadline.is_expired() {
                return Err(reqwest_middleware::Error::middleware(deadline.exceeded()));
            }
            lower(deadline.remaining());
        }
        *req.timeout_mut() = timeout;
        next.run(req, extensions).await
    }
}
