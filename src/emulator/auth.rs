//! The emulator's SigV4 verification: parse `Authorization`, then re-sign
//! with `aws-sigv4` and compare.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use http::request::Parts;
use http::StatusCode;

use crate::sagemaker::internal::{
    AMZ_CONTENT_SHA256_HEADER, AMZ_DATE_HEADER, SAGEMAKER_HEADER_PREFIX,
};
use crate::sagemaker::SIGNING_NAME;

/// How far `X-Amz-Date` may be from the emulator's clock: five minutes, as
/// AWS's JSON services allow ("Signature expired: ... (... - 5 min.)").
pub(crate) const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// A rejected signature: `(status, error code, message)` is derived from it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// No `Authorization` header: 403 `MissingAuthenticationTokenException`.
    Missing,
    /// Malformed `Authorization` or no `X-Amz-Date`: 400 `IncompleteSignatureException`.
    Incomplete(String),
    /// Unknown access key: 403 `UnrecognizedClientException`.
    UnknownKey,
    /// 403 `InvalidSignatureException` with this message.
    Invalid(String),
}

pub(crate) const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl AuthError {
    pub(crate) fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            AuthError::Missing => (
                StatusCode::FORBIDDEN,
                "MissingAuthenticationTokenException",
                "Missing Authentication Token".into(),
            ),
            AuthError::Incomplete(m) => (
                StatusCode::BAD_REQUEST,
                "IncompleteSignatureException",
                m.clone(),
            ),
            AuthError::UnknownKey => (
                StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".into(),
            ),
            AuthError::Invalid(m) => (
                StatusCode::FORBIDDEN,
                "InvalidSignatureException",
                m.clone(),
            ),
        }
    }
}

/// Verifies SigV4 `Authorization` headers for one key pair.
#[derive(Clone)]
pub(crate) struct Verifier {
    pub(crate) access_key: String,
    pub(crate) secret_key: String,
    pub(crate) region: String,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("access_key", &self.access_key)
            .field("secret_key", &"** redacted **")
            .field("region", &self.region)
            .finish()
    }
}

struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let incomplete = |what: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={value}"
        ))
    };
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256")
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Unsupported authorization scheme (expected AWS4-HMAC-SHA256): {value}"
            ))
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => {}
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| incomplete("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, terminator] = scope[..] else {
        return Err(AuthError::Incomplete(format!(
            "Credential should have 5 parts (AK/date/region/service/aws4_request): {credential}"
        )));
    };
    if terminator != "aws4_request" {
        return Err(AuthError::Invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    Ok(Authorization {
        access_key,
        date,
        region,
        service,
        signed_headers: signed.split(';').map(str::trim).collect(),
        signature,
    })
}

/// Parses `YYYYMMDDTHHMMSSZ`.
/// `time` as `X-Amz-Date` writes it: `YYYYMMDDTHHMMSSZ`.
fn amz_date_of(time: SystemTime) -> String {
    let iso = aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    // `2019-12-10T03:39:04Z` (or with fractional seconds) to `20191210T033904Z`.
    let whole = iso
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches('Z');
    let mut out: String = whole.chars().filter(|c| *c != '-' && *c != ':').collect();
    out.push('Z');
    out
}

pub(crate) fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (proleptic Gregorian), Howard Hinnant's algorithm.
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    u64::try_from(secs)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Verifier {
    /// Checks the request's signature at time `now`.
    pub(crate) fn verify(
        &self,
        parts: &Parts,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let Some(auth) = parts.headers.get(http::header::AUTHORIZATION) else {
            return Err(AuthError::Missing);
        };
        let auth = auth
            .to_str()
            .map_err(|_| AuthError::Incomplete("Authorization header is not ASCII".into()))?;
        let auth = parse_authorization(auth)?;
        if auth.access_key != self.access_key {
            return Err(AuthError::UnknownKey);
        }
        if auth.service != SIGNING_NAME {
            return Err(AuthError::Invalid(format!(
                "Credential should be scoped to correct service: '{SIGNING_NAME}'. "
            )));
        }
        if auth.region != self.region {
            return Err(AuthError::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                auth.region
            )));
        }
        let amz_date = parts
            .headers
            .get(AMZ_DATE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AuthError::Incomplete(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                        .into(),
                )
            })?;
        let time = parse_amz_date(amz_date).ok_or_else(|| {
            AuthError::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            ))
        })?;
        if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
            return Err(AuthError::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}'",
                auth.date,
                &amz_date[..8]
            )));
        }
        match now.duration_since(time) {
            Ok(age) if age > MAX_SKEW => {
                return Err(AuthError::Invalid(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - 5 min.)",
                    amz_date_of(now - MAX_SKEW),
                    amz_date_of(now),
                )));
            }
            Err(ahead) if ahead.duration() > MAX_SKEW => {
                return Err(AuthError::Invalid(format!(
                    "Signature not yet current: {amz_date} is still later than {} ({} + 5 min.)",
                    amz_date_of(now + MAX_SKEW),
                    amz_date_of(now),
                )));
            }
            _ => {}
        }

        // SageMaker's own headers choose the model and carry caller data: a
        // request that carries one unsigned is rejected, as S3 rejects
        // unsigned x-amz-* headers. Stricter than AWS documents for
        // SageMaker Runtime, on purpose: a client that signs before adding
        // the target model fails here instead of sending it unprotected.
        let unsigned: Vec<&str> = parts
            .headers
            .keys()
            .map(|name| name.as_str())
            .filter(|name| name.starts_with(SAGEMAKER_HEADER_PREFIX))
            .filter(|name| !auth.signed_headers.contains(name))
            .collect();
        if !unsigned.is_empty() {
            return Err(AuthError::Invalid(format!(
                "There were headers present in the request which were not signed: {}",
                unsigned.join(", ")
            )));
        }

        // Re-sign with exactly the signed headers.
        let mut headers: Vec<(&str, &str)> = Vec::new();
        for name in &auth.signed_headers {
            let name = *name;
            if name.is_empty() || name == AMZ_DATE_HEADER {
                continue;
            }
            if name != name.to_ascii_lowercase() {
                return Err(AuthError::Invalid(MISMATCH.into()));
            }
            let values = parts.headers.get_all(name);
            let mut any = false;
            for v in values {
                let v = v
                    .to_str()
                    .map_err(|_| AuthError::Invalid(MISMATCH.into()))?;
                headers.push((name, v));
                any = true;
            }
            let host_from_uri = name == "host" && parts.uri.authority().is_some();
            if !any && !host_from_uri {
                return Err(AuthError::Invalid(MISMATCH.into()));
            }
        }
        // A target without a path (`CONNECT host:443`) names no operation,
        // and the signer cannot build a canonical request from it.
        if parts.uri.path_and_query().is_none() {
            return Err(AuthError::Invalid(MISMATCH.into()));
        }
        let uri = match parts.uri.authority() {
            Some(_) => parts.uri.to_string(),
            None => format!(
                "http://localhost{}",
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/")
            ),
        };
        let content_sha = parts
            .headers
            .get(AMZ_CONTENT_SHA256_HEADER)
            .and_then(|v| v.to_str().ok());
        let mismatch = || AuthError::Invalid(MISMATCH.into());
        let identity = Credentials::new(
            self.access_key.clone(),
            self.secret_key.clone(),
            None,
            None,
            "tower-sagemaker-emulator",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.excluded_headers = None;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(time)
            .settings(settings)
            .build()
            .map_err(|_| mismatch())?
            .into();
        let signature_with = |payload: SignableBody<'_>| -> Result<bool, AuthError> {
            let request = SignableRequest::new(
                parts.method.as_str(),
                uri.as_str(),
                headers.iter().copied(),
                payload,
            )
            .map_err(|_| mismatch())?;
            let out = sign(request, &params).map_err(|_| mismatch())?;
            Ok(constant_time_eq(
                out.signature().as_bytes(),
                auth.signature.as_bytes(),
            ))
        };
        match content_sha {
            None => {
                if !signature_with(SignableBody::Bytes(body))? {
                    return Err(mismatch());
                }
            }
            Some(hash) => {
                // The client signed this payload hash: check the signature with
                // it, then that it is the body's hash (signing the body itself
                // gives the same signature only if it is).
                if !signature_with(SignableBody::Precomputed(hash.to_owned()))? {
                    return Err(mismatch());
                }
                let is_hash = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
                if is_hash && !signature_with(SignableBody::Bytes(body))? {
                    return Err(AuthError::Invalid(
                        "The provided 'x-amz-content-sha256' header does not match what was computed."
                            .into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates() {
        let t = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap().as_secs(),
            1_440_938_160
        );
        assert!(parse_amz_date("20150830123600Z").is_none());
        assert!(parse_amz_date("2015083xT123600Z").is_none());
        assert!(parse_amz_date("20151330T123600Z").is_none());
        assert_eq!(amz_date_of(t), "20150830T123600Z");
        let fraction = t + std::time::Duration::from_millis(250);
        assert_eq!(amz_date_of(fraction), "20150830T123600Z");
    }

    #[test]
    fn authorization() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .ok()
        .unwrap();
        assert_eq!(a.access_key, "AK");
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
        assert!(parse_authorization("Basic xyz").is_err());
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=a/b").is_err());
    }
}
