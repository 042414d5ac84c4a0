//! The three stacks the benchmarks compare, around one in-memory endpoint
//! that answers 200 at once.
#![allow(dead_code)]

pub mod server;

use std::convert::Infallible;
use std::future::Ready;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body_util::Full;
use tower::retry::{Policy, RetryLayer};
use tower::timeout::TimeoutLayer;
use tower::{service_fn, BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::set_header::SetRequestHeaderLayer;
use tower_sagemaker::deadline::{DeadlineBody, DeadlineLayer};
use tower_sagemaker::retry::ModelNotReadyRetryLayer;
use tower_sagemaker::sagemaker::TARGET_MODEL_HEADER;
use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};

pub type Req = Request<Full<Bytes>>;
pub type Res = Response<Full<Bytes>>;
/// A response of a stack with `DeadlineLayer`: its body is read within the deadline.
pub type DeadlineRes = Response<DeadlineBody<Full<Bytes>>>;

/// (a) The bare endpoint: answers 200 with an empty body, no allocation.
pub fn bare(
) -> impl Service<Req, Response = Res, Error = Infallible, Future = Ready<Result<Res, Infallible>>> + Clone
{
    service_fn(|_req: Req| std::future::ready(Ok(Response::new(Full::new(Bytes::new())))))
}

/// A tower retry policy that retries 429 up to `remaining` times, as a user
/// would write it for (b).
#[derive(Clone)]
pub struct Retry429 {
    remaining: u32,
}

impl Retry429 {
    /// Retries up to `remaining` times.
    pub fn new(remaining: u32) -> Self {
        Self { remaining }
    }
}

/// A `tower::retry::Policy` that retries nothing and keeps no copy of the
/// request: the cheapest a tower `Retry` can be.
#[derive(Clone)]
pub struct NeverRetry;

impl<Res, E> Policy<Req, Res, E> for NeverRetry {
    type Future = std::future::Ready<()>;

    fn retry(&mut self, _req: &mut Req, _result: &mut Result<Res, E>) -> Option<Self::Future> {
        None
    }

    fn clone_request(&mut self, _req: &Req) -> Option<Req> {
        None
    }
}

impl<B, E> Policy<Req, Response<B>, E> for Retry429 {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Req,
        result: &mut Result<Response<B>, E>,
    ) -> Option<Self::Future> {
        match result {
            Ok(res) if res.status() == 429 && self.remaining > 0 => {
                self.remaining -= 1;
                Some(tokio::time::sleep(Duration::from_millis(fastrand::u64(
                    0..1000,
                ))))
            }
            _ => None,
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        let mut copy = Request::new(req.body().clone());
        *copy.method_mut() = req.method().clone();
        *copy.uri_mut() = req.uri().clone();
        *copy.version_mut() = req.version();
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

/// The model every stack targets.
pub const MODEL: &str = "model-3.tar.gz";

/// (b) The same job from tower and tower-http parts, the model name a
/// `'static` header value.
pub fn tower_parts<S, B>(
    inner: S,
) -> impl Service<Req, Response = Response<B>, Error = BoxError> + Clone
where
    S: Service<Req, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    tower_parts_with(HeaderValue::from_static(MODEL), inner)
}

/// (b) with the model name read at run time: a header value whose bytes are
/// shared (reference counted) between requests.
pub fn tower_parts_runtime_name<S>(
    inner: S,
) -> impl Service<Req, Response = Res, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    let name = std::hint::black_box(String::from(MODEL));
    tower_parts_with(HeaderValue::from_str(&name).unwrap(), inner)
}

fn tower_parts_with<S, B>(
    model: HeaderValue,
    inner: S,
) -> impl Service<Req, Response = Response<B>, Error = BoxError> + Clone
where
    S: Service<Req, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            TARGET_MODEL_HEADER,
            model,
        ))
        .service(retry_with_attempt_timeout(inner))
}

/// (b)'s retries of 429 around a 70 s per-attempt `Timeout`.
fn retry_with_attempt_timeout<S, B>(
    inner: S,
) -> impl Service<Req, Response = Response<B>, Error = BoxError> + Clone
where
    S: Service<Req, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    ServiceBuilder::new()
        .layer(RetryLayer::new(Retry429 { remaining: 4 }))
        .layer(TimeoutLayer::new(Duration::from_secs(70)))
        .service(inner)
}

/// (b) with an outer 360 s `Timeout` too: tower's nearest match for
/// `DeadlineLayer`'s total budget (it does not reach the retry layer's sleeps).
pub fn tower_parts_with_total_timeout<S>(
    inner: S,
) -> impl Service<Req, Response = Res, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
{
    ServiceBuilder::new()
        .layer(SetRequestHeaderLayer::if_not_present(
            TARGET_MODEL_HEADER,
            HeaderValue::from_static(MODEL),
        ))
        .layer(TimeoutLayer::new(Duration::from_secs(360)))
        .service(retry_with_attempt_timeout(inner))
}

/// (c) This crate's three layers, the model name `'static` as in (b).
pub fn this_crate<S>(
    inner: S,
) -> impl Service<Req, Response = DeadlineRes, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Into<BoxError>,
{
    this_crate_with(TargetModel::from_static(MODEL).unwrap(), inner)
}

/// (c) with the model name read at run time, as (b) with its runtime name.
pub fn this_crate_runtime_name<S>(
    inner: S,
) -> impl Service<Req, Response = DeadlineRes, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Into<BoxError>,
{
    let name = std::hint::black_box(String::from(MODEL));
    this_crate_with(TargetModel::new(name).unwrap(), inner)
}

fn this_crate_with<S>(
    model: TargetModel,
    inner: S,
) -> impl Service<Req, Response = DeadlineRes, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Into<BoxError>,
{
    ServiceBuilder::new()
        .layer(TargetModelLayer::new(model))
        .layer(DeadlineLayer::default())
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(inner)
}

/// The layers of (c) one at a time, to attribute each allocation.
pub fn only_target_model<S: Service<Req, Response = Res> + Clone>(
    inner: S,
) -> impl Service<Req, Response = Res, Error = S::Error> + Clone {
    ServiceBuilder::new()
        .layer(TargetModelLayer::new(
            TargetModel::from_static(MODEL).unwrap(),
        ))
        .service(inner)
}

pub fn only_deadline<S>(
    inner: S,
) -> impl Service<Req, Response = DeadlineRes, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Into<BoxError>,
{
    ServiceBuilder::new()
        .layer(DeadlineLayer::default())
        .service(inner)
}

pub fn only_retry<S>(inner: S) -> impl Service<Req, Response = Res, Error = BoxError> + Clone
where
    S: Service<Req, Response = Res> + Clone,
    S::Error: Into<BoxError>,
{
    ServiceBuilder::new()
        .layer(ModelNotReadyRetryLayer::legacy())
        .service(inner)
}

/// (m) Only what the issue requires of (c) beyond (b)'s job, around the
/// bare endpoint: a `Deadline` carried in the request's extensions and an
/// attempt count in the response's, done as cheaply as http's `Extensions`
/// allows (the request's map moves to the response, as (c) does). It does
/// nothing with them, and reads no clock (the deadline's start is fixed):
/// (m) − (a) is the cost of carrying the two values alone.
pub fn required_extensions_only<S>(inner: S) -> RequiredExtensions<S> {
    RequiredExtensions {
        inner,
        deadline: tower_sagemaker::deadline::Deadline::after(Duration::from_secs(360)),
    }
}

/// The service of [`required_extensions_only`].
#[derive(Clone)]
pub struct RequiredExtensions<S> {
    inner: S,
    deadline: tower_sagemaker::deadline::Deadline,
}

/// Stands in for `tower_sagemaker::retry::Attempts` (same size; its constructor is
/// private to the crate).
#[derive(Clone, Copy)]
pub struct AttemptCount(pub u32);

impl<S> Service<Req> for RequiredExtensions<S>
where
    S: Service<Req, Response = Res>,
{
    type Response = Res;
    type Error = S::Error;
    type Future = WithExtensions<S::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Req) -> Self::Future {
        req.extensions_mut().insert(self.deadline);
        let kept = std::mem::take(req.extensions_mut());
        WithExtensions {
            inner: self.inner.call(req),
            kept,
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`RequiredExtensions`].
    pub struct WithExtensions<F> {
        #[pin]
        inner: F,
        kept: http::Extensions,
    }
}

impl<F, E> std::future::Future for WithExtensions<F>
where
    F: std::future::Future<Output = Result<Res, E>>,
{
    type Output = Result<Res, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        let mut extensions = std::mem::take(this.kept);
        extensions.insert(AttemptCount(1));
        res.extensions_mut().extend(extensions);
        std::task::Poll::Ready(Ok(res))
    }
}

/// The request every iteration sends: a CSV payload with a content type.
pub fn request() -> Req {
    let mut req = Request::new(Full::new(Bytes::from_static(b"1.0,2.0,5.0")));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::from_static("http://localhost:8080/endpoints/demo/invocations");
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv"),
    );
    req
}

/// One call: wait for readiness, call, check the answer.
pub async fn call<S, B>(svc: &mut S)
where
    S: Service<Req, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    let res = svc.ready().await.unwrap().call(request()).await.unwrap();
    assert_eq!(res.status(), 200);
}
