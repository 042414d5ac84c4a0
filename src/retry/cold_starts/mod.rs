//! [`ColdStarts`]: what the calls of one client learn about models that are
//! loading, so that one call at a time asks the endpoint about each. A
//! call's part is in [`ticket`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderName, HeaderValue, Uri};
use tokio::time::Instant;

/// Cold-start coalescing: the calls that share one `ColdStarts` share what
/// they learn about each model's readiness, so that while a model loads one
/// call at a time asks the endpoint about it and the others wait.
///
/// Opt in with [`LegacyRetries::coalesce_cold_starts`](super::LegacyRetries::coalesce_cold_starts),
/// for the retry layer, the retry policy (feature `retry-policy`), an AWS
/// SDK client (`aws_sdk::MultiModelEndpoint`, feature `aws-sdk-sagemakerruntime`,
/// through `aws_sdk::ColdStartsHttpClient`) or a reqwest-middleware client
/// (`reqwest::ClientBuilderExt::multi_model_endpoint_with`, feature `reqwest`,
/// through `reqwest::ColdStartsMiddleware`).
/// Clones share one state: a layer and every service it builds share it.
///
/// # What changes
///
/// Calls are grouped by *key*: the request's host, endpoint name,
/// `X-Amzn-SageMaker-Target-Model` and `X-Amzn-SageMaker-Inference-Component`
/// (what the endpoint loads). A request with neither header is retried as
/// without coalescing.
///
/// - **One probe at a time.** While a model is loading, one call (the
///   *prober*) sends its retries as botocore's legacy mode does; the other
///   calls for the key, and new ones, wait for the prober's outcome instead
///   of sending.
/// - **Unknown keys.** The first call for a key that no running call knows
///   about goes out at once and is the prober; calls for the same key that
///   arrive while its attempt is out wait for it (with the layer; a
///   `tower::retry::Policy` is not asked before first attempts, so with the
///   policy they go out). This is what keeps a burst of calls on a cold model
///   from all being held by the endpoint; its cost is on warm models: calls
///   that arrive together on a key no call is running for wait for the first
///   one's answer. [`ColdStarts::with_ready_marks`] keeps keys known to be
///   ready for a while after their last call, so that bursts after a quiet
///   spell go out at once.
/// - **Ready.** When a probe gets anything but 429 `ModelNotReadyException`
///   or, with [`scale_from_zero`](super::LegacyRetries::scale_from_zero), an
///   inference component's no-capacity answer (a success, another error, a
///   timeout), the key is ready: every waiting
///   call sends its own request at once, without sleeping a backoff.
///   Responses are never shared.
/// - **Bounds.** A waiting call ends at its own [`Deadline`](crate::deadline::Deadline)
///   (with [`DeadlineExceeded`](crate::deadline::DeadlineExceeded)) and when
///   dropped. Each failed probe it waits through counts as one of its
///   attempts (a no-capacity answer counts only for a call without a
///   deadline: with one, no-capacity retries are bounded by the deadline,
///   not by `max_retries`); when it has one attempt left it stops waiting and sends it,
///   so a call never makes more attempts, nor waits longer in attempts, than
///   without coalescing. [`Attempts`](super::Attempts) counts the requests
///   the call itself sent.
/// - **Probers come and go.** A prober that is dropped, runs out of retries
///   or reaches its deadline hands the role to a waiting call, which sends
///   at once.
/// - **Futures that stall.** A call joins its key when its future is first
///   polled. A prober's future that is polled once and then neither polled
///   nor dropped (left behind in a `select!`, say) holds up the calls
///   waiting for it, up to their deadlines: drop futures you stop polling.
/// - **State.** A key is held while a call for it is running, sleeping or
///   waiting (and, with [`with_ready_marks`](ColdStarts::with_ready_marks),
///   while its ready mark lasts); then it is removed. A client talking to
///   10,000 models holds nothing for the models it is not calling.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::retry::{ColdStarts, LegacyRetries, ModelNotReadyRetryLayer};
///
/// let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().coalesce_cold_starts(ColdStarts::new()));
/// // Calls for one model that arrive within a minute of each other's end go out at once.
/// let warm = ColdStarts::with_ready_marks(Duration::from_secs(60));
/// assert_eq!(warm.get_ready_marks(), Duration::from_secs(60));
/// # let _ = layer;
/// ```
#[derive(Clone)]
pub struct ColdStarts(Arc<Shared>);

mod state;
mod ticket;
mod watch;

pub(crate) use self::state::Turn;
use self::state::{take_turn, Entry, Key, Keys, Readiness, Shared};
pub(crate) use self::ticket::Ticket;
pub(crate) use self::watch::Watch;

impl ColdStarts {
    /// Coalescing state that keeps a key only while calls for it run.
    pub fn new() -> Self {
        Self::with_ready_marks(Duration::ZERO)
    }

    /// Coalescing state that also remembers a key is ready for `ttl` after
    /// its last call ended: calls that arrive together within that time go
    /// out at once instead of waiting for the first one's answer.
    /// `Duration::MAX` keeps the marks for ever (a key is held for each
    /// model called since).
    pub fn with_ready_marks(ttl: Duration) -> Self {
        Self(Arc::new(Shared {
            keys: Mutex::new(Keys::default()),
            ready_marks: ttl,
        }))
    }

    /// How long a key is remembered as ready after its last call.
    pub fn get_ready_marks(&self) -> Duration {
        self.0.ready_marks
    }

    /// The keys held now: one per model with calls running, sleeping or
    /// waiting, plus unexpired ready marks.
    pub fn len(&self) -> usize {
        let mut keys = self.0.lock();
        keys.sweep(Instant::now(), true);
        keys.map.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers a call for the key of a request to `uri` with headers
    /// `header`, and says whether it may send its first attempt; `None` when
    /// the request names neither a target model nor an inference component.
    /// `counts_no_capacity`: the call's no-capacity retries count against
    /// `max_retries` (it has no deadline to pace them), so the no-capacity
    /// probes it waits through count as its attempts too.
    pub(crate) fn join<'a>(
        &self,
        uri: &Uri,
        header: impl Fn(&HeaderName) -> Option<&'a HeaderValue>,
        counts_no_capacity: bool,
    ) -> Option<(Box<Ticket>, Turn)> {
        let key = Key::of(uri, header)?;
        let now = Instant::now();
        let mut keys = self.0.lock();
        keys.next_id += 1;
        let id = keys.next_id;
        keys.sweep(now, false);
        let (turn, seen) = match keys.map.get_mut(&key) {
            Some(entry) if entry.calls > 0 || entry.is_marked_ready(now) => {
                entry.calls += 1;
                (take_turn(entry, id), entry.failures(counts_no_capacity))
            }
            _ => {
                keys.map.insert(key.clone(), Entry::new(id));
                (Turn::Send, 0)
            }
        };
        drop(keys);
        let ticket = Ticket::new(self.clone(), key, id, seen, counts_no_capacity);
        Some((Box::new(ticket), turn))
    }
}

impl Default for ColdStarts {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ColdStarts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColdStarts")
            .field("keys", &self.len())
            .field("ready_marks", &self.0.ready_marks)
            .finish()
    }
}
