//! One time budget for a whole call: [`Deadline`], [`DeadlineExceeded`] and
//! [`DeadlineLayer`].
//!
//! [`DeadlineLayer`] puts a [`Deadline`] into each request's extensions and
//! fails the call with [`DeadlineExceeded`] when it passes, dropping the inner
//! future so no work goes on behind the caller's back. Layers beneath it read
//! the deadline: [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer)
//! never sleeps past it and never starts an attempt after it.
//!
//! The deadline covers the response body too: the response of
//! [`DeadlineService`] carries a [`DeadlineBody`], and no read of it waits past
//! the deadline; one that would, or any read after it, fails with
//! [`DeadlineExceeded`].
//!
//! # Which setting bounds which wait
//!
//! For a stack of `DeadlineLayer`, `ModelNotReadyRetryLayer`,
//! `CollectBodyLayer` (optional) and `ReadTimeoutLayer` around an HTTP client,
//! against botocore's settings:
//!
//! | wait | bounded by | botocore |
//! |---|---|---|
//! | connecting | the HTTP client's connect timeout (hyper-util: `HttpConnector::set_connect_timeout`); also everything below that bounds the head | `connect_timeout`, 60 s |
//! | the response head (connect, send, the endpoint's hold) | `ReadTimeoutLayer` (each wait, retried), `ModelNotReadyRetryLayer::attempt_timeout` (each attempt, retried), `DeadlineLayer` (final) | `read_timeout`, 60 s, retried |
//! | each frame of the body | `ReadTimeoutLayer` (`ReadTimedOut`), `DeadlineLayer` (`DeadlineExceeded`) | `read_timeout`, not retried for a 200 |
//! | the whole body | `DeadlineLayer`; with `CollectBodyLayer` beneath the retry layer, also the attempt timeout and the read timeout, and a failure is retried | nothing (the caller reads the stream) |
//! | backoff sleeps | `DeadlineLayer`: a sleep that would end after the deadline is not taken | nothing |
//! | the whole call | `DeadlineLayer` | nothing (attempts times waits) |
//!
//! In [`ServiceBuilderExt::multi_model_endpoint`](crate::ServiceBuilderExt::multi_model_endpoint)'s
//! stack the retry layer's attempt timeout (70 s) alone bounds the head,
//! armed at the deadline when that comes first; `DeadlineLayer` and
//! `ReadTimeoutLayer` there time the body only.
//!
//! ```
//! # #[cfg(feature = "deadline")]
//! # mod example {
//! use std::time::Duration;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::deadline::{Deadline, DeadlineExceeded, DeadlineLayer};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # pub async fn main() {
//! let slow = service_fn(|req: http::Request<()>| async move {
//!     // Layers below can see how much time is left.
//!     let left = req.extensions().get::<Deadline>().unwrap().remaining();
//!     assert!(left <= Duration::from_secs(5));
//!     tokio::time::sleep(Duration::from_secs(3600)).await;
//!     Ok::<_, BoxError>(http::Response::new(()))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(DeadlineLayer::new(Duration::from_secs(5)))
//!     .service(slow);
//!
//! let err = svc.oneshot(http::Request::new(())).await.unwrap_err();
//! let exceeded = err.downcast_ref::<DeadlineExceeded>().unwrap();
//! assert_eq!(exceeded.budget(), Duration::from_secs(5));
//! # }
//! # }
//! # #[cfg(feature = "deadline")]
//! # fn main() { example::main() }
//! # #[cfg(not(feature = "deadline"))]
//! # fn main() {}
//! ```

// The `Deadline` value and its error are also there for the retry layer
// alone (feature `retry`); the layer that sets it needs feature `deadline`.
#[cfg(feature = "deadline")]
mod body;
mod error;
#[cfg(feature = "deadline")]
mod future;
#[cfg(feature = "deadline")]
mod layer;
#[cfg(feature = "deadline")]
mod service;

#[cfg(feature = "deadline")]
pub use self::body::DeadlineBody;
pub use self::error::DeadlineExceeded;
#[cfg(feature = "deadline")]
pub use self::future::ResponseFuture;
#[cfg(feature = "deadline")]
pub use self::layer::DeadlineLayer;
#[cfg(feature = "deadline")]
pub use self::service::DeadlineService;

use std::time::Duration;

use tokio::time::Instant;

use crate::timer::far_future;

/// When a call must be done by: a start and a budget, on tokio's clock.
///
/// [`DeadlineLayer`] inserts one into each request's extensions; any layer or
/// service beneath can read it with `req.extensions().get::<Deadline>()`,
/// down to [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer),
/// which takes it out of the request, enforces it on every attempt and puts
/// it on the response, where a caller can read how much of the budget is left.
/// (Beneath a `DeadlineLayer`, which ends the whole call at the deadline, the
/// retry layer leaves cutting a running attempt there to it.)
/// Because it uses [`tokio::time::Instant`], a paused test clock drives it.
#[derive(Clone, Copy)]
pub struct Deadline {
    // Start and budget only (no cached end): every layer's response future
    // carries a copy, and the end is one addition away.
    start: Instant,
    budget: Duration,
    // Set on the deadline a `DeadlineService` puts in (or finds in) a request:
    // its future fails the call at this deadline and drops everything
    // beneath, so the retry layer beneath need not arm a timer of its own
    // for it. Not part of the value: equality, hashing and `Debug` ignore it.
    // The retry layer clears it and so does `DeadlineService` on its own
    // copy, so the copies a caller can take away (from the response or the
    // body) do not carry it. Only a copy taken from the request between
    // `DeadlineLayer` and the retry layer does; a call made with it runs
    // inside this one, under the same `DeadlineService` future, unless it is
    // spawned off on its own (then its attempts are cut by their own
    // timeouts, not at the deadline; it still starts none after it).
    #[cfg_attr(not(feature = "retry"), allow(dead_code))]
    enforced: bool,
}

impl PartialEq for Deadline {
    fn eq(&self, other: &Self) -> bool {
        (self.start, self.budget) == (other.start, other.budget)
    }
}

impl Eq for Deadline {}

impl std::hash::Hash for Deadline {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.start, self.budget).hash(state);
    }
}

impl std::fmt::Debug for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deadline")
            .field("start", &self.start)
            .field("budget", &self.budget)
            .finish()
    }
}

impl Deadline {
    /// A deadline `budget` from now.
    #[inline]
    pub fn after(budget: Duration) -> Self {
        Self::starting_at(Instant::now(), budget)
    }

    /// A deadline `budget` after `start`.
    #[inline]
    pub fn starting_at(start: Instant, budget: Duration) -> Self {
        Self {
            start,
            budget,
            enforced: false,
        }
    }

    /// Whether a [`DeadlineService`] above fails the call when this deadline
    /// passes (see the field).
    #[cfg(feature = "retry")]
    #[inline]
    pub(crate) fn is_enforced(&self) -> bool {
        self.enforced
    }

    /// The same deadline, marked as enforced (`true`) or not.
    #[inline]
    pub(crate) fn enforced(self, enforced: bool) -> Self {
        Self { enforced, ..self }
    }

    /// The instant the deadline passes (for a budget too large for the
    /// clock, a far future one).
    #[inline]
    pub fn instant(&self) -> Instant {
        self.end().unwrap_or_else(|| far_future(self.start))
    }

    /// The true end; `None` when it lies beyond what the clock can hold.
    #[inline]
    fn end(&self) -> Option<Instant> {
        self.start.checked_add(self.budget)
    }

    /// Whether `self` passes strictly before `other`. Compares the true
    /// ends, not [`instant`](Self::instant): two budgets too large for the
    /// clock both end "far in the future" there, yet one may be earlier.
    #[inline]
    pub(crate) fn ends_before(&self, other: &Self) -> bool {
        match (self.end(), other.end()) {
            (Some(mine), Some(theirs)) => mine < theirs,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            // Both beyond the clock: compare start + budget in nanoseconds
            // from the earlier start, where the sum cannot overflow.
            (None, None) => {
                let origin = self.start.min(other.start);
                let end =
                    |d: &Self| d.start.duration_since(origin).as_nanos() + d.budget.as_nanos();
                end(self) < end(other)
            }
        }
    }

    /// When the budget started.
    #[inline]
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The whole budget.
    #[inline]
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left; zero once the deadline has passed.
    #[inline]
    pub fn remaining(&self) -> Duration {
        self.instant().saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    #[inline]
    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.instant()
    }

    /// The error that reports this deadline as exceeded now.
    pub fn exceeded(&self) -> DeadlineExceeded {
        DeadlineExceeded::new(self.budget, self.start.elapsed())
    }

    /// The earlier of two deadlines (`self` on a tie).
    #[inline]
    pub fn min(self, other: Self) -> Self {
        if other.ends_before(&self) {
            other
        } else {
            self
        }
    }
}
