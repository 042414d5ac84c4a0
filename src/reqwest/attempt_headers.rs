//! [`AttemptHeadersMiddleware`]: `amz-sdk-invocation-id` and
//! `amz-sdk-request` on every attempt of a reqwest-middleware call.

use http::{Extensions, HeaderValue};
use reqwest_middleware::{Middleware, Next};

use crate::retry::{invocation_id, sdk_request, LegacyRetries};
use crate::sagemaker::{INVOCATION_ID_HEADER, SDK_REQUEST_HEADER};

/// Sends what botocore and the AWS SDKs send on every attempt, as the
/// crate's retry layer does: `amz-sdk-invocation-id` (one version 4 UUID per
/// call; a request that has one of its own keeps it) and `amz-sdk-request:
/// attempt=N; max=M` (`N` counts from 1, `M` is `max_retries + 1`). The
/// service and AWS support use them to tie the attempts of one call
/// together. Each no-capacity answer that
/// [`ColdStartsMiddleware`](super::ColdStartsMiddleware) paces, outside
/// botocore's budget, adds one to `M`, as the retry layer does: no attempt
/// says it is past `max`. Off with [`LegacyRetries::attempt_headers(false)`](LegacyRetries::attempt_headers).
///
/// Put it **after** (inside) `reqwest_retry::RetryTransientMiddleware`,
/// which runs it once per attempt, and **before**
/// [`SigV4Middleware`](super::SigV4Middleware), so that both headers are
/// signed, as the SDKs sign them.
/// [`ClientBuilderExt::multi_model_endpoint`](super::ClientBuilderExt::multi_model_endpoint)
/// adds it there. The call's invocation id and attempt count live in its
/// middleware extensions, which reqwest-middleware hands every attempt of
/// the call.
///
/// ```
/// use std::time::Duration;
/// use reqwest_retry::RetryTransientMiddleware;
/// use tower_sagemaker::reqwest::{
///     AttemptHeadersMiddleware, LegacyBackoffPolicy, LegacyRetryableStrategy,
/// };
/// use tower_sagemaker::retry::LegacyRetries;
///
/// let retries = LegacyRetries::new().max_retries(2); // `amz-sdk-request: attempt=1; max=3`, ...
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryTransientMiddleware::new_with_policy_and_strategy(
///         LegacyBackoffPolicy::new(&retries),
///         LegacyRetryableStrategy::new(&retries),
///     ))
///     .with(AttemptHeadersMiddleware::new(&retries))
///     // .with(SigV4Middleware::new(credentials, "us-east-1"))
///     .build();
/// # let _ = client;
/// assert!(!AttemptHeadersMiddleware::new(&retries.attempt_headers(false)).is_on());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AttemptHeadersMiddleware {
    on: bool,
    max_attempts: u32,
}

impl AttemptHeadersMiddleware {
    /// Sends the headers when `retries` has them on (the default), with
    /// `max = max_retries + 1`.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            on: retries.get_attempt_headers(),
            max_attempts: retries.get_max_retries().saturating_add(1),
        }
    }

    /// Whether it sends the headers.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The `max` it sends: the call's attempts at most.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }
}

impl Default for AttemptHeadersMiddleware {
    /// botocore's legacy mode: 5 attempts.
    fn default() -> Self {
        Self::new(&LegacyRetries::new())
    }
}

/// In a call's middleware extensions: how many of its answers
/// [`ColdStartsMiddleware`](super::ColdStartsMiddleware) has paced (retried
/// outside botocore's budget).
#[derive(Debug, Clone, Copy)]
pub(super) struct PacedAnswers(pub(super) u32);

/// Takes a finished call's invocation id and counts out of its extensions
/// (see [`DeadlineMiddleware`](super::DeadlineMiddleware)).
pub(super) fn end_call(extensions: &mut Extensions) {
    extensions.remove::<CallAttempts>();
    extensions.remove::<PacedAnswers>();
}

/// One call's invocation id and attempts so far, in its extensions.
#[derive(Debug, Clone)]
struct CallAttempts {
    invocation_id: HeaderValue,
    attempts: u32,
}

#[async_trait::async_trait]
impl Middleware for AttemptHeadersMiddleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        if self.on {
            let paced = extensions.get::<PacedAnswers>().map_or(0, |p| p.0);
            let call = extensions.get_or_insert_with(|| CallAttempts {
                invocation_id: invocation_id(),
                attempts: 0,
            });
            call.attempts = call.attempts.saturating_add(1);
            let headers = req.headers_mut();
            if !headers.contains_key(INVOCATION_ID_HEADER) {
                headers.insert(INVOCATION_ID_HEADER, call.invocation_id.clone());
            }
            headers.insert(
                SDK_REQUEST_HEADER,
                sdk_request(call.attempts, self.max_attempts.saturating_add(paced)),
            );
        }
        next.run(req, extensions).await
    }
}
