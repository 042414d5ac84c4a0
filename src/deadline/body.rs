use std::pin::Pin;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tower::BoxError;

use super::Deadline;
use crate::timer::Timer;

pin_project! {
    /// The body of a response from [`DeadlineService`](super::DeadlineService):
    /// reading it is part of the call, so no read goes past the call's
    /// [`Deadline`].
    ///
    /// A frame that has not arrived by the deadline, and any frame read after
    /// it, fails with [`DeadlineExceeded`](super::DeadlineExceeded) (inside a
    /// [`BoxError`]; reach it with `downcast_ref`). The end of the body is
    /// reported as usual, deadline or not. Errors of the inner body pass
    /// through, boxed.
    ///
    /// A frame that is ready at once costs one clock read (to fail it past
    /// the deadline) and no timer. A read that waits uses one timer, armed
    /// at the deadline (the one the response head waited on, if it did) and
    /// never reset.
    pub struct DeadlineBody<B> {
        #[pin]
        inner: B,
        deadline: Deadline,
        // Armed only when a read has to wait (or the head did), always at
        // the deadline: never reset.
        timer: Timer,
    }
}

impl<B> DeadlineBody<B> {
    /// A body read within `deadline`; `timer` is the one the response head
    /// waited on, if it did (armed at the deadline).
    pub(super) fn new(inner: B, deadline: Deadline, timer: Timer) -> Self {
        Self {
            inner,
            deadline,
            timer,
        }
    }

    /// The deadline the body is read within.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }

    /// Unwraps the body: reading it is then no longer bounded by the deadline.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B> std::fmt::Debug for DeadlineBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineBody")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(Some(Ok(frame))) => {
                if this.deadline.is_expired() {
                    return Poll::Ready(Some(Err(this.deadline.exceeded().into())));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                std::task::ready!(this.timer.poll_until(this.deadline.instant(), cx));
                Poll::Ready(Some(Err(this.deadline.exceeded().into())))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
