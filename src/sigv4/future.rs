use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::Body;
use http_body_util::combinators::Collect;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_service::Service;

use super::error::{ErrorKind, SigningError};
use super::layer::Signer;

/// What the call needs once the body is hashed.
pub(super) struct Pending<S, B> {
    pub(super) service: S,
    pub(super) request: http::Request<B>,
    pub(super) signer: Arc<Signer>,
}

pin_project! {
    /// Response future of [`SigV4`](super::SigV4): hashes the body, signs, then runs the inner call.
    pub struct ResponseFuture<S, B>
    where
        S: Service<http::Request<B>>,
        B: Body,
    {
        #[pin]
        state: State<Collect<B>, S::Future, Pending<S, B>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<C, F, P> {
        Signing { #[pin] collect: C, pending: Option<P> },
        Calling { #[pin] future: F },
        Done,
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<http::Request<B>>,
    B: Body,
{
    pub(super) fn new(collect: Collect<B>, pending: Pending<S, B>) -> Self {
        Self {
            state: State::Signing {
                collect,
                pending: Some(pending),
            },
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<http::Request<B>>,
    B: Body,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Signing { .. } => "signing",
            State::Calling { .. } => "calling",
            State::Done => "done",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish()
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Signing { collect, pending } => {
                    let collected = ready!(collect.poll(cx));
                    let Some(Pending {
                        mut service,
                        mut request,
                        signer,
                    }) = pending.take()
                    else {
                        this.state.set(State::Done);
                        continue;
                    };
                    let signed = collected
                        .map_err(|e| SigningError::new(ErrorKind::Body(e.into())))
                        .and_then(|body| signer.sign(&mut request, &body.to_bytes()));
                    if let Err(err) = signed {
                        this.state.set(State::Done);
                        return Poll::Ready(Err(err.into()));
                    }
                    let future = service.call(request);
                    this.state.set(State::Calling { future });
                }
                StateProj::Calling { future } => {
                    let result = ready!(future.poll(cx));
                    this.state.set(State::Done);
                    return Poll::Ready(result.map_err(Into::into));
                }
                StateProj::Done => {
                    return Poll::Ready(Err(SigningError::new(ErrorKind::Polled).into()))
                }
            }
        }
    }
}
