use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::CONTENT_LENGTH;
use http::response::Parts;
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower::BoxError;

use super::{BodyReadFailed, BodyTooLarge, CollectedBody, LeaveUnread};

pin_project! {
    /// Response future of [`CollectBody`](super::CollectBody): the head, then
    /// the whole body.
    pub struct ResponseFuture<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        #[pin]
        state: State<F, B>,
        limit: usize,
        leave_unread: LeaveUnread,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        Head { #[pin] future: F },
        Body { parts: Parts, #[pin] collect: Collect<Limited<B>> },
    }
}

impl<F, B> ResponseFuture<F, B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    pub(super) fn new(future: F, limit: usize, leave_unread: LeaveUnread) -> Self {
        Self {
            state: State::Head { future },
            limit,
            leave_unread,
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Output = Result<http::Response<CollectedBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Head { future } => {
                    let res = ready!(future.poll(cx)).map_err(Into::into)?;
                    let (parts, body) = res.into_parts();
                    if this.leave_unread.applies(parts.status, &parts.headers) {
                        let body = CollectedBody::unread(body);
                        return Poll::Ready(Ok(http::Response::from_parts(parts, body)));
                    }
                    let declared = parts
                        .headers
                        .get(CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    if declared.is_some_and(|len| len > *this.limit as u64) {
                        return Poll::Ready(Err(BodyTooLarge::new(*this.limit, declared).into()));
                    }
                    let collect = Limited::new(body, *this.limit).collect();
                    this.state.set(State::Body { parts, collect });
                }
                StateProj::Body { parts, collect } => {
                    let collected = match ready!(collect.poll(cx)) {
                        Ok(collected) => collected,
                        Err(e) if e.is::<LengthLimitError>() => {
                            return Poll::Ready(Err(BodyTooLarge::new(*this.limit, None).into()))
                        }
                        Err(e) => return Poll::Ready(Err(BodyReadFailed::new(e).into())),
                    };
                    // An empty head takes its place: the future is done.
                    let parts = std::mem::replace(parts, http::Response::new(()).into_parts().0);
                    let body = CollectedBody::collected(collected);
                    return Poll::Ready(Ok(http::Response::from_parts(parts, body)));
                }
            }
        }
    }
}
