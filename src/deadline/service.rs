use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;
use tower::BoxError;
use tower_service::Service;

use super::{Deadline, DeadlineBody, ResponseFuture};

/// The service of [`DeadlineLayer`](super::DeadlineLayer): applies a
/// [`Deadline`] to every call of the inner service, the response body
/// included ([`DeadlineBody`]). See the [module docs](super).
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
    budget: Duration,
    // Whether this service's future times the wait for the head (see
    // `DeadlineLayer::head_timed_beneath`).
    pub(super) times_head: bool,
}

impl<S> DeadlineService<S> {
    /// Wraps `inner` with a budget per call.
    pub fn new(inner: S, budget: Duration) -> Self {
        Self {
            inner,
            budget,
            times_head: true,
        }
    }

    /// The budget of each call.
    pub fn get_budget(&self) -> Duration {
        self.budget
    }

    inner_service_accessors!();
}

impl<S, B, R> Service<http::Request<B>> for DeadlineService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Error: Into<BoxError>,
{
    type Response = http::Response<DeadlineBody<R>>;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let now = Instant::now();
        let mine = Deadline::starting_at(now, self.budget);
        // When this service's future times the head, the request's copy is
        // marked as enforced: the future fails the call at this deadline, so
        // the retry layer beneath need not time it too. The future's own
        // copy (which the body shows) is not.
        let deadline = match req.extensions_mut().get_mut::<Deadline>() {
            // An outer, earlier deadline stands; this layer enforces it too.
            Some(outer) if !mine.ends_before(outer) => {
                if self.times_head {
                    *outer = outer.enforced(true);
                }
                outer.enforced(false)
            }
            _ => {
                req.extensions_mut().insert(mine.enforced(self.times_head));
                mine
            }
        };
        if deadline.instant() <= now {
            return ResponseFuture::expired(deadline);
        }
        ResponseFuture::new(self.inner.call(req), deadline, self.times_head)
    }
}
