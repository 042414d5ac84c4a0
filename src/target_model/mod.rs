//! The validated target model ([`TargetModel`]) and [`TargetModelLayer`],
//! which sets `X-Amzn-SageMaker-Target-Model` on requests.
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//! use tower_sagemaker::sagemaker::TARGET_MODEL_HEADER;
//! use tower_sagemaker::target_model::{TargetModel, TargetModelLayer};
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

mod error;
mod layer;
mod service;

pub use self::error::InvalidTargetModel;
pub use self::layer::TargetModelLayer;
#[cfg(feature = "reqwest")]
pub(crate) use self::service::set_header;
pub use self::service::TargetModelService;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
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
/// Cloning is cheap: the name and its header value are built once and shared.
///
/// ```
/// use tower_sagemaker::target_model::{InvalidTargetModel, TargetModel};
///
/// let model: TargetModel = "models/resnet-18.tar.gz".parse()?;
/// assert_eq!(model.as_str(), "models/resnet-18.tar.gz");
///
/// assert_eq!(TargetModel::new(""), Err(InvalidTargetModel::Empty));
/// assert!(TargetModel::new(" leading-space").is_err());
/// assert!(TargetModel::new("caf\u{e9}.tar.gz").is_err());
/// # Ok::<(), InvalidTargetModel>(())
/// ```
#[derive(Clone)]
pub struct TargetModel {
    name: Name,
    value: HeaderValue,
}

#[derive(Clone)]
enum Name {
    Static(&'static str),
    Shared(Arc<str>),
}

impl TargetModel {
    /// Validates `name` as a target model.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidTargetModel> {
        let name = name.into();
        check(&name)?;
        let value = HeaderValue::from_maybe_shared(Bytes::from(name.clone().into_bytes()))
            .map_err(|_| InvalidTargetModel::NotAHeaderValue)?;
        Ok(Self {
            name: Name::Shared(name.into()),
            value,
        })
    }

    /// Validates a `'static` name without copying it. The header value then
    /// borrows the name, and its clones touch no reference count, which saves
    /// a little on every request.
    ///
    /// ```
    /// use tower_sagemaker::target_model::TargetModel;
    ///
    /// let model = TargetModel::from_static("model-3.tar.gz")?;
    /// assert_eq!(model, TargetModel::new("model-3.tar.gz")?);
    /// assert!(TargetModel::from_static("").is_err());
    /// # Ok::<(), tower_sagemaker::target_model::InvalidTargetModel>(())
    /// ```
    pub fn from_static(name: &'static str) -> Result<Self, InvalidTargetModel> {
        check(name)?;
        let value = HeaderValue::from_maybe_shared(Bytes::from_static(name.as_bytes()))
            .map_err(|_| InvalidTargetModel::NotAHeaderValue)?;
        Ok(Self {
            name: Name::Static(name),
            value,
        })
    }

    /// The model name.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.name {
            Name::Static(name) => name,
            Name::Shared(name) => name,
        }
    }

    /// The name as a header value (a cheap, shared clone).
    #[inline]
    pub fn header_value(&self) -> &HeaderValue {
        &self.value
    }
}

/// The service's rules for a target model, in the order they are reported.
pub(crate) fn check(name: &str) -> Result<(), InvalidTargetModel> {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return Err(InvalidTargetModel::Empty);
    };
    if bytes.len() > MAX_TARGET_MODEL_LEN {
        return Err(InvalidTargetModel::TooLong { len: bytes.len() });
    }
    if let Some((index, &byte)) = bytes
        .iter()
        .enumerate()
        .find(|(_, b)| !(0x20..=0x7e).contains(*b))
    {
        return Err(InvalidTargetModel::NotPrintableAscii { index, byte });
    }
    if *first == b' ' {
        return Err(InvalidTargetModel::LeadingSpace);
    }
    if *last == b' ' {
        return Err(InvalidTargetModel::TrailingSpace);
    }
    Ok(())
}

impl PartialEq for TargetModel {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TargetModel {}

impl Hash for TargetModel {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
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
        assert_eq!(a, TargetModel::from_static("model.tar.gz").unwrap());
        assert_eq!(a.to_string(), "model.tar.gz");
        assert_eq!(format!("{a:?}"), "TargetModel(\"model.tar.gz\")");
        assert_eq!(a.header_value(), "model.tar.gz");
    }

    #[test]
    fn static_and_shared_names_hash_alike() {
        use std::collections::HashSet;
        let set: HashSet<_> = [
            TargetModel::new("m.tar.gz").unwrap(),
            TargetModel::from_static("m.tar.gz").unwrap(),
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 1);
    }
}
