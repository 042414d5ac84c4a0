use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderName, HeaderValue};
use tower_layer::Layer;

use super::error::{ErrorKind, SigningError};
use super::SigV4;
use crate::sagemaker::internal::{
    AMZ_CONTENT_SHA256_HEADER, AMZ_DATE_HEADER, AMZ_SECURITY_TOKEN_HEADER,
};
use crate::sagemaker::SIGNING_NAME;

/// Signs every request with AWS Signature Version 4 (`aws-sigv4`), for the
/// signing name `sagemaker` by default.
///
/// Place it **below** [`ModelNotReadyRetryLayer`](crate::retry::ModelNotReadyRetryLayer)
/// and [`TargetModelLayer`](crate::target_model::TargetModelLayer), right above the HTTP
/// client; the [module docs](super) show the stack and explain why.
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

pub(crate) struct Signer {
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
    pub fn get_access_key_id(&self) -> &str {
        self.signer.credentials.access_key_id()
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn signer(&self) -> &Arc<Signer> {
        &self.signer
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
        SigV4::from_signer(inner, self.signer.clone())
    }
}

impl Signer {
    /// Replaces any old signature on `req` with one made now over `body`.
    pub(super) fn sign<B>(
        &self,
        req: &mut http::Request<B>,
        body: &[u8],
    ) -> Result<(), SigningError> {
        let method = req.method().clone();
        let uri = req.uri().to_string();
        let uri_has_host = req.uri().host().is_some();
        self.sign_parts(&method, &uri, uri_has_host, req.headers_mut(), body)
    }

    /// Replaces any old signature in `headers` with one made now over the
    /// request `method uri`, those headers and `body`: the one signing code
    /// of the crate, shared by [`SigV4Layer`] and the reqwest middleware.
    pub(crate) fn sign_parts(
        &self,
        method: &http::Method,
        uri: &str,
        uri_has_host: bool,
        headers: &mut HeaderMap,
        body: &[u8],
    ) -> Result<(), SigningError> {
        for name in [
            AUTHORIZATION,
            AMZ_DATE_HEADER,
            AMZ_SECURITY_TOKEN_HEADER,
            AMZ_CONTENT_SHA256_HEADER,
        ] {
            headers.remove(name);
        }
        if !uri_has_host && !headers.contains_key(HOST) {
            return Err(SigningError::new(ErrorKind::NoHost));
        }
        let mut signable_headers = Vec::with_capacity(headers.len());
        for (name, value) in headers.iter() {
            let value = value
                .to_str()
                .map_err(|_| SigningError::new(ErrorKind::HeaderNotAscii(name.clone())))?;
            signable_headers.push((name.as_str(), value));
        }
        let signable = SignableRequest::new(
            method.as_str(),
            uri,
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
            headers.insert(name, value);
        }
        Ok(())
    }
}
