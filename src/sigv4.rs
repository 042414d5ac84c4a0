//! AWS Signature Version 4 request signing: [`SigV4Layer`].
//!
//! ```
//! use std::time::Duration;
//! use aws_credential_types::Credentials;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::{
//!     DeadlineLayer, ModelNotReadyRetryLayer, SigV4Layer, TargetModel, TargetModelLayer,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! # let http_client = service_fn(|req: http::Request<Full<Bytes>>| async move {
//! #     let auth = req.headers()["authorization"].to_str()?.to_owned();
//! #     assert!(auth.contains("/us-east-1/sagemaker/aws4_request"));
//! #     assert!(auth.contains("x-amzn-sagemaker-target-model"));
//! #     Ok::<_, BoxError>(http::Response::new(Full::new(Bytes::from("8.0"))))
//! # });
//! let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
//!
//! // Outermost first. SigV4Layer comes last: below the retry layer, so every
//! // attempt is signed afresh, and below TargetModelLayer, so the
//! // X-Amzn-SageMaker-Target-Model header it adds is signed too.
//! let svc = ServiceBuilder::new()
//!     .layer(TargetModelLayer::new(TargetModel::new("model-3.tar.gz")?))
//!     .layer(DeadlineLayer::new(Duration::from_secs(360)))
//!     .layer(ModelNotReadyRetryLayer::legacy())
//!     .layer(SigV4Layer::new(credentials, "us-east-1"))
//!     .service(http_client);
//!
//! let req = http::Request::post(
//!     "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/demo/invocations",
//! )
//! .header("content-type", "text/csv")
//! .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
//! let res = svc.oneshot(req).await?;
//! assert_eq!(res.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! # Where the layer goes
//!
//! A SigV4 signature covers the method, the URI, every header present when
//! the request is signed, the body's SHA-256 and the time (`X-Amz-Date`);
//! the service rejects a signature older than five minutes or one that does
//! not match what it received. Hence:
//!
//! - **Inside [`ModelNotReadyRetryLayer`](crate::ModelNotReadyRetryLayer)**:
//!   a multi-model endpoint's cold start can take minutes of retries, so each
//!   attempt must carry its own, fresh signature. Above the retry layer, every
//!   attempt would resend the first attempt's signature.
//! - **Inside [`TargetModelLayer`](crate::TargetModelLayer)** and any other
//!   layer that adds or changes headers: a header added after signing is not
//!   in the signature and, if it replaces a signed one, makes it wrong; the
//!   service answers 403 `InvalidSignatureException`.
//! - **Outside the HTTP client**, which may still add `Host` (computed from the
//!   URI exactly as the signer does), `Content-Length` and `User-Agent`;
//!   those are not signed, as in the AWS SDKs.
//!
//! # Bodies
//!
//! The signature needs the body's hash, so the layer reads a clone of the body
//! (a reference-count increment for [`Full<Bytes>`](http_body_util::Full),
//! which is complete at once) and sends the original body on. The body type
//! must therefore be `Clone`, as the retry layer already requires.
//!
//! # Errors
//!
//! A request that cannot be signed fails with a [`SigningError`] inside a
//! [`tower::BoxError`] (reach it with `downcast_ref`), before anything is sent.
//! Errors of the inner service pass through unchanged.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderName, HeaderValue};
use http_body::Body;
use http_body_util::combinators::Collect;
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use tower::BoxError;
use tower_layer::Layer;
use tower_service::Service;

use crate::sagemaker::SIGNING_NAME;

const X_AMZ_DATE: HeaderName = HeaderName::from_static("x-amz-date");
const X_AMZ_SECURITY_TOKEN: HeaderName = HeaderName::from_static("x-amz-security-token");
const X_AMZ_CONTENT_SHA256: HeaderName = HeaderName::from_static("x-amz-content-sha256");

/// Signs every request with AWS Signature Version 4 (`aws-sigv4`), for the
/// signing name `sagemaker` by default.
///
/// Place it **below** [`ModelNotReadyRetryLayer`](crate::ModelNotReadyRetryLayer)
/// and [`TargetModelLayer`](crate::TargetModelLayer), right above the HTTP
/// client; the [module docs](self) show the stack and explain why.
///
/// The signature is in the `Authorization` header, with `X-Amz-Date` (the
/// wall clock, [`SystemTime::now`], at the moment the attempt is signed) and,
/// for temporary credentials, `X-Amz-Security-Token`. Any such headers already
/// on the request are replaced.
///
/// The inner service must be `Clone` (HTTP clients are): the ready service
/// is kept for the call while the body is hashed, and a clone takes its place.
///
/// Cloning is cheap: the credentials and settings are shared.
#[derive(Clone)]
pub struct SigV4Layer {
    signer: Arc<Signer>,
}

struct Signer {
    credentials: Credentials,
    region: Cow<'static, str>,
    name: Cow<'static, str>,
}

impl SigV4Layer {
    /// Signs with `credentials` for `region` (such as `"us-east-1"`) and the
    /// signing name `sagemaker` ([`SIGNING_NAME`]).
    pub fn new(credentials: Credentials, region: impl Into<Cow<'static, str>>) -> Self {
        Self {
            signer: Arc::new(Signer {
                credentials,
                region: region.into(),
                name: Cow::Borrowed(SIGNING_NAME),
            }),
        }
    }

    /// Signs for another service's signing name instead of `sagemaker`.
    pub fn signing_name(self, name: impl Into<Cow<'static, str>>) -> Self {
        let signer = Signer {
            credentials: self.signer.credentials.clone(),
            region: self.signer.region.clone(),
            name: name.into(),
        };
        Self {
            signer: Arc::new(signer),
        }
    }

    /// The region requests are signed for.
    pub fn get_region(&self) -> &str {
        &self.signer.region
    }

    /// The signing name (service) requests are signed for.
    pub fn get_signing_name(&self) -> &str {
        &self.signer.name
    }

    /// The access key id of the credentials (never the secret).
    pub fn access_key_id(&self) -> &str {
        self.signer.credentials.access_key_id()
    }
}

impl fmt::Debug for SigV4Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.signer.fmt(f)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Credentials`' own Debug redacts the secret and the session token.
        f.debug_struct("SigV4Layer")
            .field("credentials", &self.credentials)
            .field("region", &self.region)
            .field("signing_name", &self.name)
            .finish()
    }
}

impl<S> Layer<S> for SigV4Layer {
    type Service = SigV4<S>;
    fn layer(&self, inner: S) -> Self::Service {
        SigV4 {
            inner,
            signer: self.signer.clone(),
        }
    }
}

/// The service of [`SigV4Layer`]: signs each request, then calls the inner service.
#[derive(Clone)]
pub struct SigV4<S> {
    inner: S,
    signer: Arc<Signer>,
}

impl<S> SigV4<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &SigV4Layer) -> Self {
        layer.layer(inner)
    }
    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for SigV4<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4")
            .field("inner", &self.inner)
            .field("signer", &self.signer)
            .finish()
    }
}

impl<S, B> Service<http::Request<B>> for SigV4<S>
where
    S: Service<http::Request<B>> + Clone,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Clone,
    B::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready service is called once the body is hashed; its clone
        // stays here for the next call.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        let collect = request.body().clone().collect();
        ResponseFuture {
            state: State::Signing {
                collect,
                pending: Some(Pending {
                    service,
                    request,
                    signer: self.signer.clone(),
                }),
            },
        }
    }
}

struct Pending<S, B> {
    service: S,
    request: http::Request<B>,
    signer: Arc<Signer>,
}

pin_project! {
    /// Response future of [`SigV4`]: hashes the body, signs, then runs the inner call.
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

impl Signer {
    /// Replaces any old signature on `req` with one made now over `body`.
    fn sign<B>(&self, req: &mut http::Request<B>, body: &[u8]) -> Result<(), SigningError> {
        let headers = req.headers_mut();
        for name in [
            AUTHORIZATION,
            X_AMZ_DATE,
            X_AMZ_SECURITY_TOKEN,
            X_AMZ_CONTENT_SHA256,
        ] {
            headers.remove(name);
        }
        if req.uri().host().is_none() && !req.headers().contains_key(HOST) {
            return Err(SigningError::new(ErrorKind::NoHost));
        }
        let mut signable_headers = Vec::with_capacity(req.headers().len());
        for (name, value) in req.headers() {
            let value = value
                .to_str()
                .map_err(|_| SigningError::new(ErrorKind::HeaderNotAscii(name.clone())))?;
            signable_headers.push((name.as_str(), value));
        }
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.uri().to_string(),
            signable_headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| SigningError::new(ErrorKind::Sign(e.into())))?;

        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(&self.name)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| SigningError::new(ErrorKind::Sign(e.into())))?
            .into();
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| SigningError::new(ErrorKind::Sign(e.into())))?
            .into_parts();

        let (new_headers, new_params) = instructions.into_parts();
        if !new_params.is_empty() {
            // Only header signing is configured; query signing would be a bug.
            return Err(SigningError::new(ErrorKind::Sign(
                "the signer asked for query parameters".into(),
            )));
        }
        for header in new_headers {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|e| SigningError::new(ErrorKind::Sign(e.into())))?;
            let mut value = HeaderValue::try_from(header.value())
                .map_err(|e| SigningError::new(ErrorKind::Sign(e.into())))?;
            // Keep signatures and tokens out of logs that print headers.
            value.set_sensitive(header.sensitive() || name == AUTHORIZATION);
            req.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

/// A request could not be signed; nothing was sent.
///
/// Returned inside a [`tower::BoxError`] by [`SigV4Layer`]'s service.
#[derive(Debug)]
pub struct SigningError {
    kind: ErrorKind,
}

#[derive(Debug)]
enum ErrorKind {
    NoHost,
    HeaderNotAscii(HeaderName),
    Body(BoxError),
    Sign(BoxError),
    Polled,
}

impl SigningError {
    fn new(kind: ErrorKind) -> Self {
        Self { kind }
    }

    /// The request had neither an absolute URI nor a `Host` header.
    pub fn is_missing_host(&self) -> bool {
        matches!(self.kind, ErrorKind::NoHost)
    }

    /// The header whose value is not visible ASCII, when that is the cause.
    pub fn invalid_header(&self) -> Option<&HeaderName> {
        match &self.kind {
            ErrorKind::HeaderNotAscii(name) => Some(name),
            _ => None,
        }
    }

    /// Reading the request body failed.
    pub fn is_body(&self) -> bool {
        matches!(self.kind, ErrorKind::Body(_))
    }
}

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot sign the request with SigV4: ")?;
        match &self.kind {
            ErrorKind::NoHost => f.write_str("its URI has no host and it has no Host header"),
            // The value may be secret: name the header only.
            ErrorKind::HeaderNotAscii(name) => {
                write!(f, "the value of header `{name}` is not visible ASCII")
            }
            ErrorKind::Body(_) => f.write_str("reading its body failed"),
            ErrorKind::Sign(_) => f.write_str("the signer failed"),
            ErrorKind::Polled => f.write_str("the response future was polled after completion"),
        }
    }
}

impl std::error::Error for SigningError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Body(e) | ErrorKind::Sign(e) => Some(&**e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use tower::{service_fn, ServiceExt};

    fn layer(token: Option<&str>) -> SigV4Layer {
        let creds = Credentials::new("AKID", "SECRET", token.map(str::to_owned), None, "test");
        SigV4Layer::new(creds, "eu-west-1")
    }

    async fn signed(
        layer: SigV4Layer,
        req: http::Request<Full<Bytes>>,
    ) -> Result<http::Request<Full<Bytes>>, BoxError> {
        let echo =
            service_fn(|req: http::Request<Full<Bytes>>| async move { Ok::<_, BoxError>(req) });
        tower::ServiceBuilder::new()
            .layer(layer)
            .service(echo)
            .oneshot(req)
            .await
    }

    fn request() -> http::request::Builder {
        http::Request::post(
            "https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/demo/invocations",
        )
        .header("content-type", "text/csv")
        .header("x-amzn-sagemaker-target-model", "model-1.tar.gz")
    }

    #[tokio::test]
    async fn signs_headers_and_scope() {
        let req = request().body(Full::new(Bytes::from("1,2"))).unwrap();
        let req = signed(layer(None), req).await.unwrap();
        let auth = req.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"),
            "{auth}"
        );
        assert!(auth.contains("/eu-west-1/sagemaker/aws4_request"), "{auth}");
        assert!(
            auth.contains(
                "SignedHeaders=content-type;host;x-amz-date;x-amzn-sagemaker-target-model"
            ),
            "{auth}"
        );
        assert!(req.headers()[AUTHORIZATION].is_sensitive());
        assert!(req.headers().contains_key(X_AMZ_DATE));
        assert!(!req.headers().contains_key(X_AMZ_SECURITY_TOKEN));
        assert_eq!(
            req.body().clone().collect().await.unwrap().to_bytes(),
            "1,2"
        );
    }

    #[tokio::test]
    async fn session_token_and_resigning() {
        let mut req = request().body(Full::new(Bytes::from("1,2"))).unwrap();
        req.headers_mut()
            .insert(AUTHORIZATION, HeaderValue::from_static("stale"));
        let req = signed(layer(Some("TOKEN")), req).await.unwrap();
        assert_eq!(req.headers()[X_AMZ_SECURITY_TOKEN], "TOKEN");
        assert_eq!(req.headers().get_all(AUTHORIZATION).iter().count(), 1);
        assert_ne!(req.headers()[AUTHORIZATION], "stale");
    }

    #[tokio::test]
    async fn body_changes_signature() {
        let a = signed(
            layer(None),
            request().body(Full::new(Bytes::from("1"))).unwrap(),
        );
        let b = signed(
            layer(None),
            request().body(Full::new(Bytes::from("2"))).unwrap(),
        );
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        // Same second or not, the signatures differ (body hash and maybe date).
        assert_ne!(a.headers()[AUTHORIZATION], b.headers()[AUTHORIZATION]);
    }

    #[tokio::test]
    async fn errors_are_typed() {
        let req = http::Request::post("/endpoints/demo/invocations")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let err = signed(layer(None), req).await.unwrap_err();
        let err = err.downcast_ref::<SigningError>().unwrap();
        assert!(err.is_missing_host());

        // Origin-form URI with a Host header is fine.
        let req = http::Request::post("/endpoints/demo/invocations")
            .header(HOST, "localhost:8080")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert!(signed(layer(None), req).await.is_ok());

        let req = request()
            .header("x-amzn-sagemaker-custom-attributes", &b"caf\xc3\xa9"[..])
            .body(Full::new(Bytes::new()))
            .unwrap();
        let err = signed(layer(None), req).await.unwrap_err();
        let err = err.downcast_ref::<SigningError>().unwrap();
        assert_eq!(
            err.invalid_header().map(HeaderName::as_str),
            Some("x-amzn-sagemaker-custom-attributes")
        );
        assert!(!err.to_string().contains("caf"));
    }

    #[test]
    fn debug_redacts_secret() {
        let dbg = format!("{:?}", layer(Some("TOKEN")));
        assert!(!dbg.contains("SECRET") && !dbg.contains("TOKEN"), "{dbg}");
        assert!(dbg.contains("eu-west-1"));
    }
}
