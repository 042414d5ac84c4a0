use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::BoxError;

use super::{Deadline, DeadlineBody};
use crate::timer::Timer;

pin_project! {
    /// Response future of [`DeadlineService`](super::DeadlineService).
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
        deadline: Deadline,
        // False when the layers beneath end the head's waits by the deadline.
        times_head: bool,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Running { #[pin] inner: F, timer: Timer },
        Expired,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, deadline: Deadline, times_head: bool) -> Self {
        Self {
            kind: Kind::Running {
                inner,
                timer: Timer::default(),
            },
            deadline,
            times_head,
        }
    }

    /// The deadline had passed before the inner service was called: fail
    /// without calling it.
    pub(super) fn expired(deadline: Deadline) -> Self {
        Self {
            kind: Kind::Expired,
            deadline,
            times_head: true,
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
    E: Into<BoxError>,
{
    type Output = Result<http::Response<DeadlineBody<R>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let KindProj::Running { inner, timer } = this.kind.as_mut().project() {
            if let Poll::Ready(result) = inner.poll(cx) {
                let deadline = *this.deadline;
                // The head's timer, if it waited, is armed at the deadline:
                // the body's reads use it as it is.
                let timer = timer.take();
                return Poll::Ready(match result {
                    Ok(res) => Ok(res.map(|body| DeadlineBody::new(body, deadline, timer))),
                    Err(e) => Err(e.into()),
                });
            }
            if !*this.times_head || timer.poll_until(this.deadline.instant(), cx).is_pending() {
                return Poll::Pending;
            }
        }
        // Drop the inner future now: no work goes on once the caller has its error.
        this.kind.set(Kind::Expired);
        Poll::Ready(Err(this.deadline.exceeded().into()))
    }
}
