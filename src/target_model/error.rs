use std::fmt;

use crate::sagemaker::MAX_TARGET_MODEL_LEN;

/// Why a string is not a valid [`TargetModel`](super::TargetModel).
#[derive(Clone, Copy, PartialEq, Eq)]
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
    /// The `http` crate refused the name as a header value although it
    /// passed the rules above. Every printable ASCII string is a valid
    /// header value in `http` 1.x, so this is reported only if `http` changes
    /// its rules; it exists so that such a change is an error, not a panic.
    NotAHeaderValue,
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
            Self::NotAHeaderValue => f.write_str("the http crate refuses it as a header value"),
        }
    }
}

impl std::error::Error for InvalidTargetModel {}

impl fmt::Debug for InvalidTargetModel {
    /// The type and the same message as `Display`: `main() -> Result<(), BoxError>`
    /// prints errors with `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvalidTargetModel(\"{self}\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
