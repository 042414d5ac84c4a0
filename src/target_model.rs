//! The validated target model and [`TargetModelLayer`], which sets
//! `X-Amzn-SageMaker-Target-Model` on requests.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::{TargetModel, TargetModelLayer, TARGET_MODEL_HEADER};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let echo = service_fn(|req: http::Request<Full<Bytes>>| async move {
//!     let model = req.headers()[TARGET_MODEL_HEADER].to_str()?.to_owned();
//!     Ok::<_, tower::BoxError>(http::Response::new(model))
//! });
//! let svc = ServiceBuilder::new()
//!     .layer(TargetModelLayer::new(TargetModel::new("model-3.tar.gz")?))
//!     .service(echo);
//!
//! // The layer's model by default...
//! let res = svc.clone().oneshot(http::Request::new(Full::default())).await?;
//! assert_eq!(res.body(), "model-3.tar.gz");
//!
//! // ...or the one a request carries in its extensions.
//! let mut req = http::Request::new(Full::default());
//! req.extensions_mut().insert(TargetModel::new("model-7.tar.gz")?);
//! assert_eq!(svc.oneshot(req).await?.body(), "model-7.tar.gz");
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;

use http::HeaderValue;

use crate::sagemaker::MAX_TARGET_MODEL_LEN;

/// A validated value for `X-Amzn-SageMaker-Target-Model`.
///
/// Valid: 1 to 1024 bytes of printable ASCII (`0x20..=0x7E`) whose first and
/// last characters are not spaces. The service allows a trailing space, but
/// HTTP strips leading and trailing whitespace from header values, so such a
/// name would reach the endpoint changed; it is rejected rather than silently
/// altered.
///
/// Cloning is cheap: the header value is built once and shared.
///
/// ```
/// use tower_sagemaker::{InvalidTargetModel, TargetModel};
///
/// let model: TargetModel = "models/resnet-18.tar.gz".parse()?;
/// assert_eq!(model.as_str(), "models/resnet-18.tar.gz");
///
/// assert_eq!(TargetModel::new(""), Err(InvalidTargetModel::Empty));
/// assert!(TargetModel::new(" leading-space").is_err());
/// assert!(TargetModel::new("caf\u{e9}.tar.gz").is_err());
/// # Ok::<(), InvalidTargetModel>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TargetModel {
    value: HeaderValue,
}

impl TargetModel {
    /// Validates `name` as a target model.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidTargetModel> {
        let name = name.into();
        validate(&name)?;
        Self::from_validated(bytes::Bytes::from(name))
    }

    /// Validates a `'static` name without copying it. Its clones then touch no
    /// reference count, which saves a little on every request.
    ///
    /// ```
    /// use tower_sagemaker::TargetModel;
    ///
    /// let model = TargetModel::from_static("model-3.tar.gz")?;
    /// assert_eq!(model, TargetModel::new("model-3.tar.gz")?);
    /// assert!(TargetModel::from_static("").is_err());
    /// # Ok::<(), tower_sagemaker::InvalidTargetModel>(())
    /// ```
    pub fn from_static(name: &'static str) -> Result<Self, InvalidTargetModel> {
        validate(name)?;
        Self::from_validated(bytes::Bytes::from_static(name.as_bytes()))
    }

    fn from_validated(name: bytes::Bytes) -> Result<Self, InvalidTargetModel> {
        // Validation admits only bytes a header value accepts; the error arm
        // is unreachable but keeps this free of panics.
        let value = HeaderValue::from_maybe_shared(name)
            .map_err(|_| InvalidTargetModel::NotPrintableAscii { index: 0, byte: 0 })?;
        Ok(Self { value })
    }

    /// The model name.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Validation admits only visible ASCII, which `to_str` always accepts.
        self.value.to_str().unwrap_or_default()
    }

    /// The name as a header value (a cheap, shared clone).
    #[inline]
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }
}

fn validate(name: &str) -> Result<(), InvalidTargetModel> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(InvalidTargetModel::Empty);
    }
    if bytes.len() > MAX_TARGET_MODEL_LEN {
        return Err(InvalidTargetModel::TooLong { len: bytes.len() });
    }
    if let Some(index) = bytes.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        return Err(InvalidTargetModel::NotPrintableAscii {
            index,
            byte: bytes[index],
        });
    }
    if bytes[0] == b' ' {
        return Err(InvalidTargetModel::LeadingSpace);
    }
    if bytes[bytes.len() - 1] == b' ' {
        return Err(InvalidTargetModel::TrailingSpace);
    }
    Ok(())
}

impl fmt::Debug for TargetModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TargetModel").field(&self.as_str()).finish()
    }
}

impl fmt::Display for TargetModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for TargetModel {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for TargetModel {
    type Err = InvalidTargetModel;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for TargetModel {
    type Error = InvalidTargetModel;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for TargetModel {
    type Error = InvalidTargetModel;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

/// Why a string is not a valid [`TargetModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidTargetModel {
    /// The name is empty.
    Empty,
    /// The name is longer than 1024 bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// A byte is outside printable ASCII (`0x20..=0x7E`): a control character,
    /// DEL or non-ASCII text.
    NotPrintableAscii {
        /// Byte offset of the first such byte.
        index: usize,
        /// The byte.
        byte: u8,
    },
    /// The first character is a space.
    LeadingSpace,
    /// The last character is a space (HTTP would strip it).
    TrailingSpace,
}

impl fmt::Display for InvalidTargetModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid target model: ")?;
        match self {
            Self::Empty => f.write_str("it is empty (1 to 1024 bytes are required)"),
            Self::TooLong { len } => write!(
                f,
                "it is {len} bytes long, more than the {MAX_TARGET_MODEL_LEN} allowed"
            ),
            Self::NotPrintableAscii { index, byte } => write!(
                f,
                "byte {index} (0x{byte:02x}) is not printable ASCII (0x20..=0x7E)"
            ),
            Self::LeadingSpace => f.write_str("it starts with a space"),
            Self::TrailingSpace => {
                f.write_str("it ends with a space, which HTTP would strip from the header")
            }
        }
    }
}

impl std::error::Error for InvalidTargetModel {}

#[cfg(feature = "target-model")]
pub use self::layer::{SetTargetModel, TargetModelLayer};

#[cfg(feature = "target-model")]
mod layer {
    use std::task::{Context, Poll};

    use http::header::Entry;
    use tower_layer::Layer;
    use tower_service::Service;

    use super::TargetModel;
    use crate::sagemaker::TARGET_MODEL_HEADER;

    /// Sets `X-Amzn-SageMaker-Target-Model` on every request.
    ///
    /// Which model a request gets, first match wins:
    /// 1. the header it already has (kept as is);
    /// 2. a [`TargetModel`] in its extensions (per-request routing);
    /// 3. the layer's default, if it has one ([`TargetModelLayer::new`]).
    ///
    /// With [`TargetModelLayer::per_request`] there is no default, and requests
    /// without a header or extension pass unchanged. The layer adds no failure
    /// mode: its service's error and future are the inner service's.
    #[derive(Debug, Clone)]
    pub struct TargetModelLayer {
        default: Option<TargetModel>,
    }

    impl TargetModelLayer {
        /// Sets `model` on requests that carry neither the header nor a [`TargetModel`] extension.
        pub fn new(model: TargetModel) -> Self {
            Self {
                default: Some(model),
            }
        }

        /// Sets the header only from a request's [`TargetModel`] extension.
        pub fn per_request() -> Self {
            Self { default: None }
        }

        /// The default model, if any.
        pub fn default_model(&self) -> Option<&TargetModel> {
            self.default.as_ref()
        }
    }

    impl<S> Layer<S> for TargetModelLayer {
        type Service = SetTargetModel<S>;
        fn layer(&self, inner: S) -> Self::Service {
            SetTargetModel {
                inner,
                default: self.default.clone(),
            }
        }
    }

    /// The service of [`TargetModelLayer`].
    #[derive(Debug, Clone)]
    pub struct SetTargetModel<S> {
        inner: S,
        default: Option<TargetModel>,
    }

    impl<S> SetTargetModel<S> {
        /// Wraps `inner`, with `default` as in [`TargetModelLayer`].
        pub fn new(inner: S, default: Option<TargetModel>) -> Self {
            Self { inner, default }
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

    impl<S, B> Service<http::Request<B>> for SetTargetModel<S>
    where
        S: Service<http::Request<B>>,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
            let model = req
                .extensions()
                .get::<TargetModel>()
                .or(self.default.as_ref())
                .map(|model| model.header_value().clone());
            if let Some(value) = model {
                // One lookup: set the header only where the request has none.
                if let Entry::Vacant(slot) = req.headers_mut().entry(TARGET_MODEL_HEADER) {
                    slot.insert(value);
                }
            }
            self.inner.call(req)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(TargetModel::new("a").is_ok());
        assert!(TargetModel::new("a b").is_ok());
        assert!(TargetModel::new("~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./").is_ok());
        assert_eq!(TargetModel::new(""), Err(InvalidTargetModel::Empty));
        assert_eq!(
            TargetModel::new(" a"),
            Err(InvalidTargetModel::LeadingSpace)
        );
        assert_eq!(
            TargetModel::new("a "),
            Err(InvalidTargetModel::TrailingSpace)
        );
        assert_eq!(TargetModel::new(" "), Err(InvalidTargetModel::LeadingSpace));
        assert_eq!(
            TargetModel::new("a\tb"),
            Err(InvalidTargetModel::NotPrintableAscii {
                index: 1,
                byte: b'\t'
            })
        );
        assert_eq!(
            TargetModel::new("ab\x7f"),
            Err(InvalidTargetModel::NotPrintableAscii {
                index: 2,
                byte: 0x7f
            })
        );
        assert_eq!(
            TargetModel::new("\u{e9}"),
            Err(InvalidTargetModel::NotPrintableAscii {
                index: 0,
                byte: 0xc3
            })
        );
        assert_eq!(
            TargetModel::new("a\r\nX-Injected: 1"),
            Err(InvalidTargetModel::NotPrintableAscii {
                index: 1,
                byte: b'\r'
            })
        );
        assert!(TargetModel::new("m".repeat(1024)).is_ok());
        assert_eq!(
            TargetModel::new("m".repeat(1025)),
            Err(InvalidTargetModel::TooLong { len: 1025 })
        );
    }

    #[test]
    fn conversions_agree() {
        let a = TargetModel::new("model.tar.gz").unwrap();
        assert_eq!(a, "model.tar.gz".parse().unwrap());
        assert_eq!(a, TargetModel::try_from("model.tar.gz").unwrap());
        assert_eq!(
            a,
            TargetModel::try_from(String::from("model.tar.gz")).unwrap()
        );
        assert_eq!(a.to_string(), "model.tar.gz");
        assert_eq!(format!("{a:?}"), "TargetModel(\"model.tar.gz\")");
        assert_eq!(a.header_value(), "model.tar.gz");
    }

    #[test]
    fn errors_name_the_rule() {
        assert!(InvalidTargetModel::Empty.to_string().contains("empty"));
        assert!(InvalidTargetModel::TooLong { len: 2000 }
            .to_string()
            .contains("2000 bytes"));
        assert!(InvalidTargetModel::LeadingSpace
            .to_string()
            .contains("starts with a space"));
        assert!(InvalidTargetModel::TrailingSpace
            .to_string()
            .contains("ends with a space"));
        assert!(InvalidTargetModel::NotPrintableAscii { index: 3, byte: 9 }
            .to_string()
            .contains("byte 3 (0x09)"));
    }
}
