//! AWS Signature Version 4 request signing: [`SigV4Layer`].
//!
//! ```
//! # // The whole stack needs the default features besides `sigv4`.
//! # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry"))]
//! # mod example {
//! use std::time::Duration;
//! use aws_credential_types::Credentials;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::deadline::DeadlineLayer;
//! use tower_sagemaker::retry::ModelNotReadyRetryLayer;
//! use tower_sagemaker::sigv4::SigV4Layer;
//! use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # pub async fn main() -> Result<(), BoxError> {
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
//! # }
//! # #[cfg(all(feature = "target-model", feature = "deadline", feature = "retry"))]
//! # example::main().unwrap();
//! ```
//!
//! # Where the layer goes
//!
//! A SigV4 signature covers the method, the URI, every header present when
//! the request is signed, the body's SHA-256 and the time (`X-Amz-Date`);
//! the service rejects a signature older than five minutes or one that does
//! not match what it received. Hence:
//!
//! - **Inside [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer)**:
//!   a multi-model endpoint's cold start can take minutes of retries, so each
//!   attempt must carry its own, fresh signature. Above the retry layer, every
//!   attempt would resend the first attempt's signature.
//! - **Inside [`TargetModelLayer`](crate::target_model::TargetModelLayer)** and any other
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

mod error;
mod future;
mod layer;

pub use self::error::SigningError;
pub use self::future::ResponseFuture;
pub use self::layer::SigV4Layer;

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt;
use tower::BoxError;
use tower_service::Service;

use self::future::Pending;
use self::layer::Signer;

/// The service of [`SigV4Layer`]: signs each request, then calls the inner service.
#[derive(Clone)]
pub struct SigV4<S> {
    inner: S,
    signer: Arc<Signer>,
}

impl<S> SigV4<S> {
    /// Wraps `inner` with the settings of `layer`.
    pub fn new(inner: S, layer: &SigV4Layer) -> Self {
        tower_layer::Layer::layer(layer, inner)
    }

    pub(crate) fn from_signer(inner: S, signer: Arc<Signer>) -> Self {
        Self { inner, signer }
    }

    inner_service_accessors!();
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
        ResponseFuture::new(
            collect,
            Pending {
                service,
                request,
                signer: self.signer.clone(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use http::header::{AUTHORIZATION, HOST};
    use http::{HeaderName, HeaderValue};
    use http_body_util::Full;
    use tower::{service_fn, ServiceExt};

    use crate::sagemaker::internal::{
        AMZ_DATE_HEADER as X_AMZ_DATE, AMZ_SECURITY_TOKEN_HEADER as X_AMZ_SECURITY_TOKEN,
    };

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
