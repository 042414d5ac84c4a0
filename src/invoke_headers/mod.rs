//! `InvokeEndpoint`'s other request headers, validated as the service
//! validates them: [`InvokeHeader`], a set of them per request
//! ([`InvokeHeaders`]), and [`InvokeHeadersLayer`], which sets them.
//!
//! One mechanism for every header: the target variant, the container
//! hostname, the inference id, explanations, the inference component, the
//! session id and custom attributes. The target model keeps its own named
//! layer, [`TargetModelLayer`](crate::target_model::TargetModelLayer).
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders, InvokeHeadersLayer};
//! use tower_sagemaker::sagemaker::{INFERENCE_ID_HEADER, TARGET_VARIANT_HEADER};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let echo = service_fn(|req: http::Request<Full<Bytes>>| async move {
//!     Ok::<_, BoxError>(http::Response::new(req.headers().clone()))
//! });
//! // Every call goes to variant `blue`...
//! let svc = ServiceBuilder::new()
//!     .layer(InvokeHeadersLayer::new(
//!         InvokeHeaders::new().with(InvokeHeader::target_variant("blue")?),
//!     ))
//!     .service(echo);
//!
//! // ...and this one also carries its own inference id.
//! let mut req = http::Request::new(Full::default());
//! req.extensions_mut()
//!     .insert(InvokeHeaders::new().with(InvokeHeader::inference_id("order-1234")?));
//! let headers = svc.oneshot(req).await?.into_body();
//! assert_eq!(headers[TARGET_VARIANT_HEADER], "blue");
//! assert_eq!(headers[INFERENCE_ID_HEADER], "order-1234");
//!
//! // Values are checked as the service checks them.
//! assert!(InvokeHeader::target_variant("-blue").is_err());
//! # Ok(())
//! # }
//! ```

mod layer;

pub use self::layer::{InvokeHeadersLayer, InvokeHeadersService};

use std::fmt;

use http::header::Entry;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::sagemaker::{
    check_invoke_header, InvalidHeaderValue, CUSTOM_ATTRIBUTES_HEADER, ENABLE_EXPLANATIONS_HEADER,
    INFERENCE_COMPONENT_HEADER, INFERENCE_ID_HEADER, SESSION_ID_HEADER,
    TARGET_CONTAINER_HOSTNAME_HEADER, TARGET_VARIANT_HEADER,
};

/// One of `InvokeEndpoint`'s request headers with a value the service
/// accepts. Custom attributes are marked sensitive: `Debug` and loggers
/// that honour `HeaderValue::is_sensitive` do not show them.
///
/// ```
/// use tower_sagemaker::invoke_headers::InvokeHeader;
/// use tower_sagemaker::sagemaker::SESSION_ID_HEADER;
///
/// let session = InvokeHeader::session_id("NEW_SESSION").unwrap();
/// assert_eq!(session.name(), SESSION_ID_HEADER);
/// assert_eq!(session.value(), "NEW_SESSION");
///
/// // Refused as the service would refuse it (400 `ValidationError`).
/// let err = InvokeHeader::inference_id(&"x".repeat(65)).unwrap_err();
/// assert_eq!(err.header(), "X-Amzn-SageMaker-Inference-Id");
/// assert!(err.to_string().contains("1 to 64"), "{err}");
///
/// // Custom attributes never show in Debug output.
/// let secret = InvokeHeader::custom_attributes("token=hunter2").unwrap();
/// assert!(secret.value().is_sensitive());
/// assert!(!format!("{secret:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct InvokeHeader {
    name: HeaderName,
    value: HeaderValue,
}

impl InvokeHeader {
    fn checked(name: HeaderName, value: &str) -> Result<Self, InvalidHeaderValue> {
        check_invoke_header(&name, value)?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            InvalidHeaderValue::new(&name, "the http crate refuses it as a header value")
        })?;
        value.set_sensitive(name == CUSTOM_ATTRIBUTES_HEADER);
        Ok(Self { name, value })
    }

    /// `X-Amzn-SageMaker-Target-Variant`: 1 to 63 letters and digits with
    /// hyphens between them.
    pub fn target_variant(variant: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(TARGET_VARIANT_HEADER, variant)
    }

    /// `X-Amzn-SageMaker-Target-Container-Hostname`: 1 to 63 letters and
    /// digits with hyphens between them.
    pub fn target_container_hostname(hostname: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(TARGET_CONTAINER_HOSTNAME_HEADER, hostname)
    }

    /// `X-Amzn-SageMaker-Inference-Id`: 1 to 64 printable characters, the first not a space.
    pub fn inference_id(id: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(INFERENCE_ID_HEADER, id)
    }

    /// `X-Amzn-SageMaker-Enable-Explanations`: a JMESPath expression of 1 to 64 printable ASCII characters.
    pub fn enable_explanations(expression: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(ENABLE_EXPLANATIONS_HEADER, expression)
    }

    /// `X-Amzn-SageMaker-Inference-Component`: 1 to 63 letters and digits
    /// with hyphens between them.
    pub fn inference_component(name: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(INFERENCE_COMPONENT_HEADER, name)
    }

    /// `X-Amzn-SageMaker-Session-Id`: `NEW_SESSION`, or an id of 1 to 256
    /// letters and digits with hyphens between them.
    pub fn session_id(id: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(SESSION_ID_HEADER, id)
    }

    /// `X-Amzn-SageMaker-Custom-Attributes`: up to 1024 printable ASCII
    /// characters, passed to the model container; sensitive.
    pub fn custom_attributes(attributes: &str) -> Result<Self, InvalidHeaderValue> {
        Self::checked(CUSTOM_ATTRIBUTES_HEADER, attributes)
    }

    /// The header's name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The header's value.
    pub fn value(&self) -> &HeaderValue {
        &self.value
    }
}

impl fmt::Debug for InvokeHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HeaderValue's Debug prints `Sensitive` for custom attributes.
        f.debug_tuple("InvokeHeader")
            .field(&self.name)
            .field(&self.value)
            .finish()
    }
}

/// The [`InvokeHeader`]s of one request (as a request extension) or a
/// layer's defaults; at most one per header name.
///
/// ```
/// use tower_sagemaker::invoke_headers::{InvokeHeader, InvokeHeaders};
///
/// # fn main() -> Result<(), tower_sagemaker::sagemaker::InvalidHeaderValue> {
/// let headers: InvokeHeaders = [
///     InvokeHeader::target_variant("blue")?,
///     InvokeHeader::target_variant("green")?, // replaces `blue`
///     InvokeHeader::inference_id("order-1234")?,
/// ]
/// .into_iter()
/// .collect();
/// let values: Vec<_> = headers.iter().map(|h| h.value().to_str().unwrap()).collect();
/// assert_eq!(values, ["green", "order-1234"]);
///
/// // Per request: as an extension, read by `InvokeHeadersLayer`.
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(headers);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvokeHeaders(Vec<InvokeHeader>);

impl InvokeHeaders {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `header`, replacing one of the same name.
    pub fn with(mut self, header: InvokeHeader) -> Self {
        self.0.retain(|h| h.name != header.name);
        self.0.push(header);
        self
    }

    /// The headers.
    pub fn iter(&self) -> impl Iterator<Item = &InvokeHeader> {
        self.0.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sets the headers of `own` (a request's), then `defaults`, on `headers`;
/// a header `headers` already has is kept. What [`InvokeHeadersLayer`] and
/// the reqwest middleware both do.
pub(crate) fn set_headers(
    headers: &mut HeaderMap,
    own: Option<&InvokeHeaders>,
    defaults: &InvokeHeaders,
) {
    for header in own
        .into_iter()
        .flat_map(InvokeHeaders::iter)
        .chain(defaults.iter())
    {
        if let Entry::Vacant(slot) = headers.entry(header.name()) {
            slot.insert(header.value().clone());
        }
    }
}

/// Checks the `InvokeEndpoint` headers `headers` carries (the target model
/// aside) as [`InvokeHeader`]'s constructors check them.
#[cfg(feature = "reqwest")]
pub(crate) fn check_headers(headers: &HeaderMap) -> Result<(), InvalidHeaderValue> {
    const NAMES: [HeaderName; 7] = [
        TARGET_VARIANT_HEADER,
        TARGET_CONTAINER_HOSTNAME_HEADER,
        INFERENCE_ID_HEADER,
        ENABLE_EXPLANATIONS_HEADER,
        INFERENCE_COMPONENT_HEADER,
        SESSION_ID_HEADER,
        CUSTOM_ATTRIBUTES_HEADER,
    ];
    for name in &NAMES {
        for value in headers.get_all(name) {
            let value = value
                .to_str()
                .map_err(|_| InvalidHeaderValue::new(name, "printable ASCII characters"))?;
            check_invoke_header(name, value)?;
        }
    }
    Ok(())
}

impl FromIterator<InvokeHeader> for InvokeHeaders {
    fn from_iter<I: IntoIterator<Item = InvokeHeader>>(iter: I) -> Self {
        iter.into_iter().fold(Self::new(), Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_header_is_checked_as_the_service_checks_it() {
        assert!(InvokeHeader::target_variant("AllTraffic").is_ok());
        assert!(InvokeHeader::target_variant("").is_err());
        assert!(InvokeHeader::target_container_hostname("c-1").is_ok());
        assert!(InvokeHeader::target_container_hostname("c_1").is_err());
        assert!(InvokeHeader::inference_id(&"i".repeat(64)).is_ok());
        assert!(InvokeHeader::inference_id(&"i".repeat(65)).is_err());
        assert!(InvokeHeader::enable_explanations("`true`").is_ok());
        assert!(InvokeHeader::inference_component("ic").is_ok());
        assert!(InvokeHeader::inference_component("ic-").is_err());
        assert!(InvokeHeader::session_id("NEW_SESSION").is_ok());
        assert!(InvokeHeader::session_id("new session").is_err());
        assert!(InvokeHeader::custom_attributes("a=1").is_ok());
        assert!(InvokeHeader::custom_attributes("").is_ok());
        assert!(InvokeHeader::custom_attributes("a\u{7f}").is_err());
    }

    #[test]
    fn custom_attributes_stay_out_of_debug() {
        let header = InvokeHeader::custom_attributes("trace-secret-42").unwrap();
        assert!(header.value().is_sensitive());
        let debug = format!("{:?}", InvokeHeaders::new().with(header));
        assert!(!debug.contains("trace-secret-42"), "{debug}");
    }

    #[test]
    fn one_value_per_name() {
        let headers = InvokeHeaders::new()
            .with(InvokeHeader::target_variant("a").unwrap())
            .with(InvokeHeader::inference_id("x").unwrap())
            .with(InvokeHeader::target_variant("b").unwrap());
        let values: Vec<_> = headers.iter().map(|h| h.value().clone()).collect();
        assert_eq!(values, ["x", "b"]);
    }
}
