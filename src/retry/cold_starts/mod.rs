//! [`ColdStarts`]: what the calls of one client learn about models that are
//! loading, so that one call at a time asks the endpoint about each. A
//! call's part is in [`ticket`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::header::HOST;
use http::{HeaderName, HeaderValue, Uri};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::sagemaker::{parse_invocations_path, INFERENCE_COMPONENT_HEADER, TARGET_MODEL_HEADER};

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
/// Calls are grouped by *key*: the request's host, endpoint name and
/// `X-Amzn-SageMaker-Target-Model` (what the endpoint loads). A request
/// without the header is retried as without coalescing.
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
///   (a success, another error, a timeout), the key is ready: every waiting
///   call sends its own request at once, without sleeping a backoff.
///   Responses are never shared.
/// - **Bounds.** A waiting call ends at its own [`Deadline`](crate::deadline::Deadline)
///   (with [`DeadlineExceeded`](crate::deadline::DeadlineExceeded)) and when
///   dropped. Each failed probe it waits through counts as one of its
///   attempts; when it has one attempt left it stops waiting and sends it,
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

mod ticket;

pub(crate) use self::ticket::{Ticket, Watch};

struct Shared {
    keys: Mutex<Keys>,
    ready_marks: Duration,
}

#[derive(Default)]
struct Keys {
    map: HashMap<Key, Entry>,
    next_id: u64,
    // Expired ready marks are swept when the map reaches this size.
    sweep_at: usize,
}

/// What the endpoint loads: host, endpoint, and the target model or
/// inference component (or both) the request names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    endpoint: String,
    model: Option<HeaderValue>,
    component: Option<HeaderValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readiness {
    // No call has had an answer yet.
    Unknown,
    // The last probe got `ModelNotReadyException`.
    Loading,
    Ready,
}

struct Entry {
    // Calls holding a ticket for the key.
    calls: usize,
    // The ticket of the call whose attempts ask the endpoint.
    prober: Option<u64>,
    readiness: Readiness,
    // `ModelNotReadyException` answers to probes so far.
    failed_probes: u64,
    // No-capacity answers to probes so far: attempts only of the calls
    // whose no-capacity retries are not paced (they have no deadline).
    no_capacity_probes: u64,
    // Kept after the last call until then (with ready marks).
    ready_until: Option<Instant>,
    // Wakes the waiting calls when the key changes.
    notify: Arc<Notify>,
}

impl Entry {
    fn new(prober: u64) -> Self {
        Self {
            calls: 1,
            prober: Some(prober),
            readiness: Readiness::Unknown,
            failed_probes: 0,
            no_capacity_probes: 0,
            ready_until: None,
            notify: Arc::new(Notify::new()),
        }
    }

    fn is_marked_ready(&self, now: Instant) -> bool {
        self.readiness == Readiness::Ready && self.ready_until.is_some_and(|t| t > now)
    }

    /// The failed probes that count as attempts of a call that waits through
    /// them: the model's 429s, and with `no_capacity` the no-capacity answers.
    fn failures(&self, no_capacity: bool) -> u64 {
        match no_capacity {
            true => self.failed_probes.saturating_add(self.no_capacity_probes),
            false => self.failed_probes,
        }
    }
}

/// What a call does next for its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Turn {
    /// Send an attempt now.
    Send,
    /// Wait: another call is probing.
    Wait,
}

impl ColdStarts {
    /// Coalescing state that keeps a key only while calls for it run.
    pub fn new() -> Self {
        Self::with_ready_marks(Duration::ZERO)
    }

    /// Coalescing state that also remembers a key is ready for `ttl` after
    /// its last call ended: calls that arrive together within that time go
    /// out at once instead of waiting for the first one's answer.
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Keys> {
        // The state stays consistent at every unlock: a panic elsewhere
        // cannot leave it half-written.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Keys {
    /// Removes expired ready marks: when the map has doubled since the last
    /// sweep (so sweeps cost O(1) per call over time), or `at_once`.
    fn sweep(&mut self, now: Instant, at_once: bool) {
        if self.map.len() < self.sweep_at && !at_once {
            return;
        }
        self.map
            .retain(|_, e| e.calls > 0 || e.is_marked_ready(now));
        self.sweep_at = (self.map.len() * 2).max(64);
    }
}

/// A call's turn for a key it is registered for: send when the key is
/// ready or nobody probes it (then the call probes it), wait otherwise.
fn take_turn(entry: &mut Entry, id: u64) -> Turn {
    match entry.prober {
        Some(prober) if prober != id => Turn::Wait,
        Some(_) => Turn::Send,
        None if entry.readiness == Readiness::Ready => Turn::Send,
        None => {
            entry.prober = Some(id);
            Turn::Send
        }
    }
}

impl Key {
    fn of<'a>(uri: &Uri, header: impl Fn(&HeaderName) -> Option<&'a HeaderValue>) -> Option<Self> {
        let model = header(&TARGET_MODEL_HEADER).cloned();
        let component = header(&INFERENCE_COMPONENT_HEADER).cloned();
        if model.is_none() && component.is_none() {
            return None;
        }
        let host = match uri.authority() {
            Some(authority) => authority.as_str(),
            None => header(&HOST).and_then(|h| h.to_str().ok()).unwrap_or(""),
        };
        let path = uri.path();
        let endpoint = parse_invocations_path(path).unwrap_or(path);
        Some(Self {
            endpoint: format!("{host}/{endpoint}"),
            model,
            component,
        })
    }
}
