//! Command-line values shared by the examples: durations, sizes, endpoint
//! URLs, regions and the emulator's `--model` argument. One grammar for
//! every binary.
#![allow(dead_code)] // Each example uses part of it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tower_sagemaker::emulator::ModelSpec;
use tower_sagemaker::target_model::TargetModel;

/// Why a duration, size, URL, region or model argument could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseArgError(String);

impl fmt::Display for ParseArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseArgError {}

fn error(message: impl Into<String>) -> ParseArgError {
    ParseArgError(message.into())
}

fn split_number(s: &str) -> (&str, &str) {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..end], s[end..].trim())
}

/// A duration: a non-negative number (decimals allowed), then an optional
/// unit, `ms`, `s`, `m` (or `min`) or `h`. A bare number is seconds, as in
/// the AWS CLI's `--cli-read-timeout 70`: `70`, `1.5s`, `500ms`, `2m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, ParseArgError> {
    let t = s.trim();
    let (num, unit) = split_number(t);
    if num.is_empty() {
        return Err(error(format!(
            "invalid duration '{s}': expected a number of seconds, or a number and a unit (ms, s, m, h), e.g. 70, 5s or 500ms"
        )));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| error(format!("invalid duration '{s}': bad number '{num}'")))?;
    let scale = match unit {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(error(format!(
                "invalid duration '{s}': unknown unit '{other}' (use ms, s, m or h)"
            )))
        }
    };
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| error(format!("invalid duration '{s}': out of range")))
}

/// A duration as [`parse_duration`] reads it, more than zero: a budget of
/// nothing would end every call before it starts.
pub fn parse_positive_duration(s: &str) -> Result<Duration, ParseArgError> {
    match parse_duration(s)? {
        Duration::ZERO => Err(error(format!(
            "invalid duration '{s}': it must be more than 0"
        ))),
        d => Ok(d),
    }
}

/// An endpoint name as SageMaker takes it: 1 to 63 letters and digits, with
/// hyphens between them.
pub fn parse_endpoint_name(s: &str) -> Result<String, ParseArgError> {
    if tower_sagemaker::sagemaker::is_valid_endpoint_name(s) {
        Ok(s.to_owned())
    } else {
        Err(error(format!(
            "invalid endpoint name '{s}': 1 to 63 letters and digits, with hyphens between them"
        )))
    }
}

/// A size: a number and a unit, `B`, decimal `KB`, `MB`, `GB`, `TB` (powers
/// of 1000) or binary `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024), such as
/// `200MiB` or `1.5GiB`. Units are case-insensitive. A bare number is
/// refused: `--memory 2` meant 2 bytes once, and every model then failed
/// to load.
pub fn parse_size(s: &str) -> Result<u64, ParseArgError> {
    let t = s.trim();
    let (num, unit) = split_number(t);
    if num.is_empty() {
        return Err(error(format!(
            "invalid size '{s}': expected a number of bytes with an optional unit, e.g. 200MiB or 1GB"
        )));
    }
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" => {
            return Err(error(format!(
                "invalid size '{s}': add a unit: B, KB, MB, GB, TB, KiB, MiB, GiB or TiB (e.g. {num}GiB, or {num}B for bytes)"
            )))
        }
        "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000u64.pow(2),
        "g" | "gb" => 1000u64.pow(3),
        "t" | "tb" => 1000u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(error(format!(
                "invalid size '{s}': unknown unit '{other}' (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            )))
        }
    };
    if let Ok(n) = num.parse::<u64>() {
        return n
            .checked_mul(scale)
            .ok_or_else(|| error(format!("invalid size '{s}': too large")));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| error(format!("invalid size '{s}': bad number '{num}'")))?;
    let bytes = (value * scale as f64).round();
    if bytes.is_finite() && bytes < u64::MAX as f64 {
        Ok(bytes as u64)
    } else {
        Err(error(format!("invalid size '{s}': too large")))
    }
}

/// A `--model NAME=LOAD_TIME[:SIZE]` argument, e.g. `model-1.tar.gz=5s:200MiB`.
///
/// The name is everything before the last `=` and must be a valid target
/// model; the load time uses [`parse_duration`], the size [`parse_size`]
/// (default: [`ModelSpec::DEFAULT_SIZE`]).
#[derive(Debug, Clone)]
pub struct ModelArg {
    /// The model name (the target model value).
    pub name: String,
    /// Its load time and size.
    pub spec: ModelSpec,
}

impl FromStr for ModelArg {
    type Err = ParseArgError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, rest) = s.rsplit_once('=').ok_or_else(|| {
            error(format!(
                "invalid model '{s}': expected NAME=LOAD_TIME[:SIZE], e.g. model-1.tar.gz=5s:200MiB"
            ))
        })?;
        TargetModel::new(name).map_err(|e| error(format!("invalid model name '{name}': {e}")))?;
        let (time, size) = match rest.split_once(':') {
            Some((t, z)) => (t, Some(z)),
            None => (rest, None),
        };
        let load_time = parse_duration(time).map_err(|e| error(format!("model '{name}': {e}")))?;
        let mut spec = ModelSpec::new(load_time);
        if let Some(size) = size {
            spec = spec.size(parse_size(size).map_err(|e| error(format!("model '{name}': {e}")))?);
        }
        Ok(Self {
            name: name.to_owned(),
            spec,
        })
    }
}

/// An endpoint URL: `http://` or `https://`, a host, and a port from 1 to
/// 65535 if any (`http://127.0.0.1:8080`, `https://runtime.example`).
/// Refused at once, as no request could reach it.
pub fn parse_endpoint_url(s: &str) -> Result<String, ParseArgError> {
    // clap names the flag and the value: the message says what is wrong.
    let bad = |why: &str| error(why);
    if s.is_empty() {
        return Err(bad(
            "it is empty; give http://HOST[:PORT] or https://HOST[:PORT]",
        ));
    }
    let uri: http::Uri = s
        .parse()
        .map_err(|_| bad("not a URL; give http://HOST[:PORT] or https://HOST[:PORT]"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("scheme {other:?} is not http or https"))),
        None => return Err(bad("no scheme; begin with http:// or https://")),
    }
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("user information in the URL is not supported"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    // The operation's path is appended to the URL's: a query or a fragment
    // would swallow it.
    if uri.query().is_some() || s.contains('#') {
        return Err(bad(
            "a query (?...) or fragment (#...) has no place in an endpoint URL",
        ));
    }
    // The port is what follows the last colon, unless that is inside an
    // IPv6 address's brackets.
    if let Some((_, port)) = authority.rsplit_once(':').filter(|(_, p)| !p.contains(']')) {
        if !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(bad(&format!(
                "port {port:?} is not a number from 1 to 65535"
            )));
        }
    }
    Ok(s.to_owned())
}

/// A region, as it goes into a host name (`runtime.sagemaker.REGION.amazonaws.com`)
/// and a signature: 1 to 63 ASCII letters, digits and inner hyphens.
pub fn parse_region(s: &str) -> Result<String, ParseArgError> {
    let label = s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if s.is_empty() || !label {
        // Escaped: a stray newline or space is invisible as it is.
        return Err(error(format!(
            "{s:?} is not 1 to 63 letters, digits and inner hyphens, such as us-east-1"
        )));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("70").unwrap(), Duration::from_secs(70));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_duration(" 1.5s ").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("0ms").unwrap(), Duration::ZERO);
        for bad in ["", "s", "5x", "-5s", "1.2.3s", "1e400s"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.to_string().contains("invalid duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0B").unwrap(), 0);
        assert_eq!(parse_size("10b").unwrap(), 10);
        let bare = parse_size("2").unwrap_err().to_string();
        assert!(
            bare.contains("add a unit") && bare.contains("MiB"),
            "{bare}"
        );
        assert_eq!(parse_size("2KiB").unwrap(), 2048);
        assert_eq!(parse_size("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("1tb").unwrap(), 1_000_000_000_000);
        assert!(parse_size("99999999999999999999B").is_err());
        assert!(parse_size("20000000TiB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("5 XB")
            .unwrap_err()
            .to_string()
            .contains("unknown unit"));
    }

    #[test]
    fn endpoint_urls() {
        for good in [
            "http://127.0.0.1:8080",
            "https://runtime.sagemaker.us-east-1.amazonaws.com",
            "http://localhost",
            "http://[::1]:9000/",
            "https://example.com:443/prefix",
        ] {
            assert_eq!(parse_endpoint_url(good).unwrap(), good);
        }
        for (bad, says) in [
            ("", "empty"),
            ("ftp://127.0.0.1:21", "\"ftp\" is not http or https"),
            ("http://127.0.0.1:99999", "port \"99999\""),
            ("http://127.0.0.1:0", "port \"0\""),
            ("127.0.0.1:8080", "scheme"),
            ("http://", "not a URL"),
            ("http://user:secret@host", "user information"),
            ("http://exa mple", "not a URL"),
            ("http://127.0.0.1:8080/?x=1", "query"),
            ("http://127.0.0.1:8080#frag", "fragment"),
            ("http://127.0.0.1:8080/p#", "fragment"),
        ] {
            let e = parse_endpoint_url(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn positive_durations_and_endpoint_names() {
        assert_eq!(
            parse_positive_duration("1.5s"),
            Ok(Duration::from_millis(1500))
        );
        for zero in ["0", "0s", "0.0ms"] {
            let e = parse_positive_duration(zero).unwrap_err().to_string();
            assert!(e.contains("more than 0"), "{zero}: {e}");
        }
        assert_eq!(parse_endpoint_name("demo-2").as_deref(), Ok("demo-2"));
        for bad in ["my_endpoint", "", "-demo", &"a".repeat(64)] {
            let e = parse_endpoint_name(bad).unwrap_err().to_string();
            assert!(e.contains("invalid endpoint name"), "{bad}: {e}");
        }
    }

    #[test]
    fn regions() {
        for good in ["us-east-1", "eu-central-2", "us-gov-west-1", "local"] {
            assert_eq!(parse_region(good).unwrap(), good);
        }
        for bad in [
            "",
            "us-east-1\n",
            " us-east-1",
            "-us",
            "us-",
            "us_east_1",
            "us.east",
        ] {
            let e = parse_region(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("{bad:?}")), "{bad:?}: {e}");
        }
        assert!(parse_region(&"a".repeat(64)).is_err());
    }

    #[test]
    fn model_args() {
        let a: ModelArg = "m=500ms".parse().unwrap();
        assert_eq!(a.name, "m");
        assert_eq!(a.spec.get_load_time(), Duration::from_millis(500));
        assert_eq!(a.spec.get_size(), ModelSpec::DEFAULT_SIZE);
        let a: ModelArg = "a=b=2m:1GB".parse().unwrap();
        assert_eq!(a.name, "a=b");
        assert_eq!(a.spec.get_size(), 1_000_000_000);
        assert!("=5s".parse::<ModelArg>().is_err());
        assert!("m=5s:lots".parse::<ModelArg>().is_err());
        assert!("m=fast".parse::<ModelArg>().is_err());
    }
}
