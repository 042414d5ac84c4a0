//! The emulator's deterministic "model": row sums.

use bytes::Bytes;

/// Why an input could not be scored (answered as a 424 `ModelError` whose
/// `OriginalStatusCode` is 400).
#[derive(Debug)]
pub(crate) struct BadInput(pub(crate) String);

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Json,
}

impl Format {
    pub(crate) fn from_content_type(ct: &str) -> Self {
        if ct.to_ascii_lowercase().contains("json") {
            Format::Json
        } else {
            Format::Csv
        }
    }
}

/// Formats a number like `8.0`: Rust's `f64` `Display`, plus `.0` for whole numbers.
pub(super) fn format_number(x: f64) -> String {
    let x = x + 0.0; // -0.0 -> 0.0
    let s = x.to_string();
    if x.is_finite() && !s.contains('.') {
        format!("{s}.0")
    } else {
        s
    }
}

fn sum(values: impl IntoIterator<Item = f64>) -> Result<f64, BadInput> {
    let s = values.into_iter().fold(0.0, |a, b| a + b);
    if s.is_finite() {
        Ok(s)
    } else {
        Err(BadInput("the sum of a row is not a finite number".into()))
    }
}

/// Parses the input in format `input` and returns the row sums.
pub(crate) fn score(input: Format, body: &[u8]) -> Result<Vec<f64>, BadInput> {
    match input {
        Format::Csv => {
            let text = std::str::from_utf8(body)
                .map_err(|_| BadInput("the CSV input is not valid UTF-8".into()))?;
            let mut sums = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let mut row = Vec::new();
                for field in line.split(',') {
                    let field = field.trim();
                    match field.parse::<f64>() {
                        Ok(v) if v.is_finite() => row.push(v),
                        _ => {
                            return Err(BadInput(format!(
                                "could not convert string to float: '{field}' (line {})",
                                n + 1
                            )))
                        }
                    }
                }
                sums.push(sum(row)?);
            }
            if sums.is_empty() {
                return Err(BadInput("empty input: no CSV rows".into()));
            }
            Ok(sums)
        }
        Format::Json => {
            let value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|e| BadInput(format!("invalid JSON input: {e}")))?;
            let instances = value
                .get("instances")
                .and_then(|v| v.as_array())
                .ok_or_else(|| {
                    BadInput("expected a JSON object {\"instances\": [[numbers], ...]}".into())
                })?;
            instances
                .iter()
                .enumerate()
                .map(|(i, row)| {
                    let row = row.as_array().ok_or_else(|| {
                        BadInput(format!("instance {i} is not an array of numbers"))
                    })?;
                    let values = row
                        .iter()
                        .map(|v| {
                            v.as_f64().ok_or_else(|| {
                                BadInput(format!(
                                    "instance {i} has a value that is not a number: {v}"
                                ))
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    sum(values)
                })
                .collect()
        }
    }
}

/// Renders the sums in format `output`.
pub(crate) fn render(output: Format, sums: &[f64]) -> Bytes {
    match output {
        Format::Csv => Bytes::from(
            sums.iter()
                .map(|s| format_number(*s))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        Format::Json => {
            let v = serde_json::json!({ "predictions": sums });
            Bytes::from(v.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_sums() {
        let s = score(Format::Csv, b"1.0,2.0,5.0\n\n1,2\r\n0.5, 0.25").unwrap();
        assert_eq!(render(Format::Csv, &s), "8.0\n3.0\n0.75");
        assert!(score(Format::Csv, b"1,a").is_err());
        assert!(score(Format::Csv, b"").is_err());
        assert!(score(Format::Csv, b"1,inf").is_err());
    }

    #[test]
    fn json_sums() {
        let s = score(Format::Json, br#"{"instances": [[1, 2.5], [3]]}"#).unwrap();
        assert_eq!(render(Format::Json, &s), r#"{"predictions":[3.5,3.0]}"#);
        assert!(score(Format::Json, br#"{"instances": [["x"]]}"#).is_err());
        assert!(score(Format::Json, br#"[1]"#).is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(format_number(8.0), "8.0");
        assert_eq!(format_number(-0.0), "0.0");
        assert_eq!(format_number(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_number(1e20), "100000000000000000000.0");
    }
}
