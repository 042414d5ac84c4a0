//! [`ColdStartsMiddleware`]: cold-start coalescing for reqwest-middleware
//! clients, with the crate's [`ColdStarts`](crate::retry::ColdStarts).

use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard};

use http::{Extensions, StatusCode, Uri};
use reqwest_middleware::{Middleware, Next};

use crate::retry::{LegacyRetries, RetryReason, Ticket, Turn, Watch};

/// Cold-start coalescing for a reqwest-middleware client set up with
/// [`LegacyRetries::coalesce_cold_starts`]: while a model loads, one call
/// at a time asks the endpoint about it and the others wait for its answer,
/// as with the crate's retry layer (see [`ColdStarts`](crate::retry::ColdStarts)).
/// Without coalescing in its settings it passes requests through.
///
/// Put it **after** (inside) `reqwest_retry::RetryTransientMiddleware`,
/// which runs it once per attempt, and before
/// [`AttemptDeadlineMiddleware`](super::AttemptDeadlineMiddleware) (so that
/// an attempt's timeout counts from when it is sent, not from the start of
/// its wait). [`ClientBuilderExt::multi_model_endpoint_with`](super::ClientBuilderExt::multi_model_endpoint_with)
/// adds it there when the settings ask for coalescing.
///
/// reqwest-middleware hands every attempt of one call the same extensions:
/// the call's place among the calls for its model (its ticket) lives there,
/// from its first attempt to the end of the call. For each attempt it
///
/// - joins the model's key (host, endpoint and
///   `X-Amzn-SageMaker-Target-Model`) on the call's first attempt and, when
///   another call is probing the model, waits for that probe's answer; on
///   later attempts, waits when the last answer said so; then it sends;
/// - reports the response to the key (429 `ModelNotReadyException` or not;
///   an error without a response counts as "not loading", as with the tower
///   layer) and, when the model is loading and another call probes it,
///   arranges for the call's next attempt to wait for that probe.
///
/// # Attempts and the retry middleware
///
/// reqwest-retry keeps a call's retry count to itself: its policy sees the
/// number of retries the call made, its strategy sees each response, and
/// neither can be told of the probes a call waited through. So:
///
/// - A call never sends more requests than without coalescing: the
///   retry middleware still allows `max_retries + 1` of them.
/// - The failed probes a call waited through count as its attempts where
///   the strategy can see them: each response carries the call's count
///   (its own attempts plus the failed probes it waited through), and
///   [`LegacyRetryableStrategy`](super::LegacyRetryableStrategy) stops
///   retrying once that count reaches `max_retries + 1`, as the tower layer
///   does. A waiting call also stops waiting when it has one attempt left,
///   and makes it.
/// - The backoff sleep is [`LegacyBackoffPolicy`](super::LegacyBackoffPolicy)'s,
///   drawn from the call's own retries: after a 429 the retry middleware
///   sleeps it even when the call is to wait for another call's probe; the
///   wait runs from the 429 on, so the call sends at the later of the sleep's
///   end and its turn.
///
/// A waiting call ends at the call's deadline
/// ([`DeadlineMiddleware`](super::DeadlineMiddleware) drops it) or when its
/// future is dropped; either way its ticket goes with the call's
/// extensions, and a prober hands its role to a waiting call.
///
/// ```
/// use std::time::Duration;
/// use reqwest_retry::RetryTransientMiddleware;
/// use tower_sagemaker::reqwest::{
///     AttemptDeadlineMiddleware, ColdStartsMiddleware, DeadlineMiddleware, LegacyBackoffPolicy,
///     LegacyRetryableStrategy,
/// };
/// use tower_sagemaker::retry::{ColdStarts, LegacyRetries};
///
/// let retries = LegacyRetries::new().coalesce_cold_starts(ColdStarts::new());
/// // What `ClientBuilderExt::multi_model_endpoint_with` builds for these settings.
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(DeadlineMiddleware::new(Duration::from_secs(360)))
///     .with(RetryTransientMiddleware::new_with_policy_and_strategy(
///         LegacyBackoffPolicy::new(&retries),
///         LegacyRetryableStrategy::new(&retries),
///     ))
///     .with(ColdStartsMiddleware::new(&retries))
///     .with(AttemptDeadlineMiddleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct ColdStartsMiddleware {
    retries: LegacyRetries,
}

impl ColdStartsMiddleware {
    /// Coalesces with the [`ColdStarts`](crate::retry::ColdStarts) of
    /// `retries` (none: requests pass through), counting attempts against
    /// its `max_retries` and classifying with its classifier.
    pub fn new(retries: &LegacyRetries) -> Self {
        Self {
            retries: retries.clone(),
        }
    }

    /// Whether the settings coalesce.
    pub fn is_coalescing(&self) -> bool {
        self.retries.get_cold_starts().is_some()
    }
}

/// What [`ColdStartsMiddleware`] learnt of an attempt, on its response for
/// [`LegacyRetryableStrategy`](super::LegacyRetryableStrategy): whether the
/// attempts the call has made, counting the failed probes it waited through,
/// leave it none.
#[derive(Debug, Clone, Copy)]
pub(super) struct ColdStartMark {
    pub(super) exhausted: bool,
}

/// One call's coalescing state, in its middleware extensions.
#[derive(Clone)]
struct ReqwestCall(Arc<Mutex<CallState>>);

impl fmt::Debug for ReqwestCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReqwestCall")
    }
}

#[derive(Default)]
struct CallState {
    // The attempts this call sent, the one out included.
    attempts: u32,
    ticket: Option<Box<Ticket>>,
    watch: Option<Box<Watch>>,
}

impl ReqwestCall {
    fn lock(&self) -> MutexGuard<'_, CallState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl CallState {
    /// Before an attempt is sent: the wait for another call's probe, if
    /// the call must wait.
    fn before_send(
        &mut self,
        retries: &LegacyRetries,
        req: &::reqwest::Request,
    ) -> Option<Box<Watch>> {
        let cold = retries.get_cold_starts()?;
        if let Some(watch) = self.watch.take() {
            return Some(watch);
        }
        if self.ticket.is_some() {
            return None;
        }
        let uri: Uri = req.url().as_str().parse().ok()?;
        let (ticket, turn) = cold.join(&uri, |name| req.headers().get(name))?;
        let max = retries.get_max_retries();
        let ticket = self.ticket.insert(ticket);
        match turn == Turn::Wait && max > 0 {
            true => Some(Box::new(ticket.watch(max))),
            false => None,
        }
    }

    /// After a wait: each probe that failed meanwhile counts as one of the
    /// call's attempts.
    fn waited(&mut self) {
        if let Some(ticket) = self.ticket.as_mut() {
            ticket.catch_up();
        }
    }

    /// After an attempt: reports its outcome to the call's ticket; what the
    /// strategy needs to know of it (`None` without a ticket).
    fn after_attempt(
        &mut self,
        retries: &LegacyRetries,
        response: Option<(StatusCode, &http::HeaderMap)>,
    ) -> Option<ColdStartMark> {
        let ticket = self.ticket.as_mut()?;
        let counted = self.attempts.saturating_add(ticket.witnessed());
        let reason = response.and_then(|(status, headers)| {
            retries.get_classifier().classify_response(status, headers)
        });
        let not_ready = reason == Some(RetryReason::ModelNotReady);
        let max = retries.get_max_retries();
        let may_wait = reason.is_some() && counted < max;
        if ticket.report(not_ready, not_ready, may_wait) == Turn::Wait {
            self.watch = Some(Box::new(ticket.watch(max - counted)));
        }
        Some(ColdStartMark {
            exhausted: counted > max,
        })
    }
}

#[async_trait::async_trait]
impl Middleware for ColdStartsMiddleware {
    async fn handle(
        &self,
        req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        if !self.is_coalescing() {
            return next.run(req, extensions).await;
        }
        let call = extensions
            .get_or_insert_with(|| ReqwestCall(Arc::default()))
            .clone();
        let watch = call.lock().before_send(&self.retries, &req);
        if let Some(mut watch) = watch {
            poll_fn(|cx| watch.poll_turn(cx)).await;
            call.lock().waited();
        }
        call.lock().attempts += 1;
        let mut result = next.run(req, extensions).await;
        let mut state = call.lock();
        match &mut result {
            Ok(res) => {
                let mark = state.after_attempt(&self.retries, Some((res.status(), res.headers())));
                if let Some(mark) = mark {
                    res.extensions_mut().insert(mark);
                }
            }
            Err(_) => {
                state.after_attempt(&self.retries, None);
            }
        }
        drop(state);
        result
    }
}
