//! [`SigV4Middleware`]: signs each attempt of a reqwest-middleware call.

use std::borrow::Cow;
use std::sync::Arc;

use aws_credential_types::Credentials;
use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::sigv4::{SigV4Layer, SigningError};

/// Signs every request with AWS Signature Version 4, for the signing name
/// `sagemaker` by default: the same signer as [`SigV4Layer`], for
/// reqwest-middleware stacks.
///
/// Put it **last**, after `reqwest_retry::RetryTransientMiddleware` (so that
/// every attempt carries a fresh signature: the service rejects one older than
/// five minutes, and a cold start can take six) and after
/// [`TargetModelMiddleware`](super::TargetModelMiddleware) and any middleware
/// that sets headers (a header added after signing is not signed; the service
/// answers 403 `InvalidSignatureException`). reqwest still adds `Host`,
/// `Content-Length` and `User-Agent` afterwards, which are not signed, as in
/// the AWS SDKs.
///
/// The body must be in memory (`RequestBuilder::body` with bytes or a string,
/// as the retry middleware needs anyway): a streaming body cannot be hashed
/// before it is sent, and such a request fails with a [`SigningError`]
/// (`is_body()`) inside `reqwest_middleware::Error::Middleware`, before
/// anything is sent. Any `Authorization`, `X-Amz-Date` or
/// `X-Amz-Security-Token` header already on the request is replaced.
///
/// ```no_run
/// use aws_credential_types::Credentials;
/// use tower_sagemaker::reqwest::{ClientBuilderExt, SigV4Middleware};
/// use tower_sagemaker::target_model::TargetModel;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
///     .with(SigV4Middleware::new(credentials, "us-east-1"))
///     .build();
/// let res = client
///     .post("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/demo/invocations")
///     .header("content-type", "text/csv")
///     .body("1.0,2.0,5.0")
///     .send()
///     .await?;
/// # let _ = res; Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SigV4Middleware {
    layer: SigV4Layer,
}

impl SigV4Middleware {
    /// Signs with `credentials` for `region` (such as `"us-east-1"`) and the
    /// signing name `sagemaker`.
    pub fn new(credentials: Credentials, region: impl Into<Cow<'static, str>>) -> Self {
        Self {
            layer: SigV4Layer::new(credentials, region),
        }
    }

    /// Signs for another service's signing name instead of `sagemaker`.
    pub fn signing_name(self, name: impl Into<Cow<'static, str>>) -> Self {
        Self {
            layer: self.layer.signing_name(name),
        }
    }

    /// The region requests are signed for.
    pub fn get_region(&self) -> &str {
        self.layer.get_region()
    }

    /// The signing name (service) requests are signed for.
    pub fn get_signing_name(&self) -> &str {
        self.layer.get_signing_name()
    }

    /// The access key id of the credentials (never the secret).
    pub fn get_access_key_id(&self) -> &str {
        self.layer.get_access_key_id()
    }

    fn sign(&self, req: &mut ::reqwest::Request) -> Result<(), SigningError> {
        // The body's bytes are borrowed while the headers change: take them
        // out of the request for the time of signing (a reference-counted
        // handle, no copy).
        let body = req.body_mut().take();
        let bytes = match &body {
            None => Some(&[][..]),
            Some(body) => body.as_bytes(),
        };
        let signed = match bytes {
            Some(bytes) => {
                let method = req.method().clone();
                let url = req.url().clone();
                let signer: &Arc<_> = self.layer.signer();
                signer.sign_parts(
                    &method,
                    url.as_str(),
                    url.host_str().is_some(),
                    req.headers_mut(),
                    bytes,
                )
            }
            None => Err(SigningError::streaming_body()),
        };
        *req.body_mut() = body;
        signed
    }
}

impl From<SigV4Layer> for SigV4Middleware {
    /// The layer's credentials, region and signing name.
    fn from(layer: SigV4Layer) -> Self {
        Self { layer }
    }
}

#[async_trait::async_trait]
impl Middleware for SigV4Middleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        self.sign(&mut req)
            .map_err(reqwest_middleware::Error::middleware)?;
        next.run(req, extensions).await
    }
}
