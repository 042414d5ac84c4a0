//! [`InvokeHeadersMiddleware`]: `InvokeEndpoint`'s other headers, validated,
//! for reqwest-middleware clients.

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use crate::invoke_headers::{check_headers, set_headers, InvokeHeaders};

/// Sets [`InvokeHeaders`] on requests, as
/// [`InvokeHeadersLayer`](crate::invoke_headers::InvokeHeadersLayer) does for
/// tower: those of a request's own `InvokeHeaders` in its middleware
/// extensions (`RequestBuilder::with_extension`) first, then the
/// middleware's defaults; a header the request already has is kept.
///
/// Values are validated as the service validates them: an
/// [`InvokeHeader`](crate::invoke_headers::InvokeHeader) cannot hold one it
/// would refuse, and a request that carries such a header of its own (set
/// with `RequestBuilder::header`, say) fails with
/// [`InvalidHeaderValue`](crate::sagemaker::InvalidHeaderValue) inside
/// `reqwest_middleware::Error::Middleware` before anything is sent, instead
/// of a 400 `ValidationError` from the service.
///
/// Put it before (outside) the retry middleware, as
/// [`TargetModelMiddleware`](super::TargetModelMiddleware), and in any case
/// before [`SigV4Middleware`](super::SigV4Middleware), so that the headers
/// are signed.
///
/// ```
/// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
/// use tower_sagemaker::reqwest::{ClientBuilderExt, InvokeHeadersMiddleware};
/// use tower_sagemaker::target_model::TargetModel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Every call goes to variant `blue`...
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(InvokeHeadersMiddleware::new(
///         InvokeHeaders::new().with(InvokeHeader::target_variant("blue")?),
///     ))
///     .multi_model_endpoint(TargetModel::new("model-3.tar.gz")?)
///     .build();
///
/// // ...and this one also carries its own inference id.
/// let req = client
///     .post("https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/demo/invocations")
///     .with_extension(InvokeHeaders::new().with(InvokeHeader::inference_id("order-1234")?))
///     .body("1.0,2.0");
///
/// // Values are checked as the service checks them.
/// assert!(InvokeHeader::target_variant("-blue").is_err());
/// # let _ = req; Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct InvokeHeadersMiddleware {
    defaults: InvokeHeaders,
}

impl InvokeHeadersMiddleware {
    /// Sets `defaults` on requests that lack them.
    pub fn new(defaults: InvokeHeaders) -> Self {
        Self { defaults }
    }

    /// Sets only the headers of each request's own [`InvokeHeaders`] extension.
    pub fn per_request() -> Self {
        Self::default()
    }

    /// The default headers.
    pub fn get_defaults(&self) -> &InvokeHeaders {
        &self.defaults
    }
}

#[async_trait::async_trait]
impl Middleware for InvokeHeadersMiddleware {
    async fn handle(
        &self,
        mut req: ::reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<::reqwest::Response> {
        check_headers(req.headers()).map_err(reqwest_middleware::Error::middleware)?;
        set_headers(
            req.headers_mut(),
            extensions.get::<InvokeHeaders>(),
            &self.defaults,
        );
        next.run(req, extensions).await
    }
}
