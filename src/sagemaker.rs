//! SageMaker Runtime facts in one place: header names, limits, default
//! durations and botocore's legacy retry rules.
//!
//! Every module of the crate takes these values from here, so a change in the
//! service (a new limit, a new header) is made once. What a user of the crate
//! may need is public; the rest is crate-private but lives here too.

use std::time::Duration;

use http::HeaderName;

/// `X-Amzn-SageMaker-Target-Model`: the model a multi-model endpoint should run.
pub const TARGET_MODEL_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-target-model");

/// `X-Amzn-SageMaker-Custom-Attributes`: opaque caller data. Sensitive: never logged.
pub const CUSTOM_ATTRIBUTES_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-custom-attributes");

/// `X-Amzn-SageMaker-New-Session-Id`: the session a stateful call opened.
pub const NEW_SESSION_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-new-session-id");

/// `X-Amzn-SageMaker-Closed-Session-Id`: the session a stateful call closed.
pub const CLOSED_SESSION_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-closed-session-id");

/// `X-Amzn-SageMaker-Target-Variant`: the production variant to invoke.
pub const TARGET_VARIANT_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-target-variant");

/// `X-Amzn-SageMaker-Target-Container-Hostname`: the container of a multi-container endpoint.
pub const TARGET_CONTAINER_HOSTNAME_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-target-container-hostname");

/// `X-Amzn-SageMaker-Inference-Id`: an identifier of the call, for model monitoring.
pub const INFERENCE_ID_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-inference-id");

/// `X-Amzn-SageMaker-Enable-Explanations`: a JMESPath expression that filters explanations.
pub const ENABLE_EXPLANATIONS_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-enable-explanations");

/// `X-Amzn-SageMaker-Inference-Component`: the inference component to invoke.
pub const INFERENCE_COMPONENT_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-sagemaker-inference-component");

/// `X-Amzn-SageMaker-Session-Id`: a stateful session, or `NEW_SESSION` to open one.
pub const SESSION_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-sagemaker-session-id");

/// `X-Amzn-ErrorType`: the restJson1 header that carries an error response's code.
pub const ERROR_TYPE_HEADER: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// `x-Amzn-Invoked-Production-Variant`: the variant that served a successful call.
pub const INVOKED_PRODUCTION_VARIANT_HEADER: HeaderName =
    HeaderName::from_static("x-amzn-invoked-production-variant");

/// `X-Amzn-RequestId`: the request id AWS services return.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-amzn-requestid");

/// `amz-sdk-invocation-id`: one id (a UUID) for all the attempts of a call,
/// as botocore and the AWS SDKs send it.
pub const INVOCATION_ID_HEADER: HeaderName = HeaderName::from_static("amz-sdk-invocation-id");

/// `amz-sdk-request`: which attempt of how many, as `attempt=N; max=M`, as
/// botocore and the AWS SDKs send it on every attempt.
pub const SDK_REQUEST_HEADER: HeaderName = HeaderName::from_static("amz-sdk-request");

/// Longest target model name the service accepts, in bytes.
pub const MAX_TARGET_MODEL_LEN: usize = 1024;

/// Longest endpoint name the service accepts.
const MAX_ENDPOINT_NAME_LEN: usize = 63;

/// Largest `InvokeEndpoint` request (and response) payload: 6 MiB.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// How long an endpoint holds a call for a model that is still loading
/// before it answers `ModelNotReadyException`.
pub const COLD_START_HOLD: Duration = Duration::from_secs(60);

/// How long a multi-model endpoint keeps downloading and loading a model
/// before the load fails; also the default total budget of a call.
pub const MAX_LOAD_TIME: Duration = Duration::from_secs(360);

/// Per-attempt (socket read) timeout the developer guide recommends: a little
/// more than [`COLD_START_HOLD`].
pub const RECOMMENDED_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(70);

/// The message of the 400 `ValidationError` an endpoint answers for an
/// inference component that has no copy (scaled to zero, or scaling out).
/// Each such answer is what the `NoCapacityInvocationFailures` alarm counts.
pub const NO_CAPACITY_MESSAGE: &str = "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.";

/// How long a component scaling from zero takes to serve, as the emulator
/// plays it by default: the alarm on `NoCapacityInvocationFailures`, then an
/// instance and a copy provisioned ("several minutes" in the developer guide).
pub const SCALE_OUT_TIME: Duration = Duration::from_secs(240);

/// The whole-call budget of the recommended stack for inference components
/// that scale to zero: 10 minutes. A scale-out from zero is the alarm on
/// `NoCapacityInvocationFailures` (a minute or so), then an instance and a
/// copy provisioned ("several minutes"): the budget covers
/// [`SCALE_OUT_TIME`] with room to spare. Raise it for a model that takes
/// long to load.
pub const SCALE_FROM_ZERO_BUDGET: Duration = Duration::from_secs(600);

/// Statuses botocore's legacy mode retries whatever the error code.
pub const LEGACY_RETRYABLE_STATUSES: &[u16] = &[429, 500, 502, 503, 504, 509];

/// Error codes botocore's legacy mode retries when they come with HTTP 400.
pub const LEGACY_THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
];

/// The SigV4 signing name of SageMaker Runtime.
pub const SIGNING_NAME: &str = "sagemaker";

/// Why a value is not valid for one of `InvokeEndpoint`'s request headers,
/// from [`check_invoke_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidHeaderValue {
    header: &'static str,
    rule: &'static str,
}

impl InvalidHeaderValue {
    pub(crate) fn new(name: &HeaderName, rule: &'static str) -> Self {
        let header = SERVICE_MODEL_NAMES
            .iter()
            .find(|(n, _)| n == name)
            .map_or("header", |(_, shown)| *shown);
        Self { header, rule }
    }

    /// The header, as the service model names it (`X-Amzn-SageMaker-Target-Variant`).
    pub fn header(&self) -> &'static str {
        self.header
    }

    /// What the value must be, in words and the service model's pattern.
    #[cfg_attr(not(feature = "emulator"), allow(dead_code))]
    pub(crate) fn rule(&self) -> &'static str {
        self.rule
    }
}

impl std::fmt::Display for InvalidHeaderValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid {}: {}", self.header, self.rule)
    }
}

impl std::error::Error for InvalidHeaderValue {}

/// Checks `value` against the service model's constraints for one of
/// `InvokeEndpoint`'s request headers, as the service validates it (a bad
/// value is a 400 `ValidationError` there). Headers without constraints
/// here (`Content-Type`, `Accept`) accept printable ASCII; the target
/// model has its own type, [`TargetModel`](crate::target_model::TargetModel).
///
/// ```
/// use tower_sagemaker::sagemaker::{
///     check_invoke_header, INFERENCE_ID_HEADER, SESSION_ID_HEADER, TARGET_VARIANT_HEADER,
/// };
///
/// assert!(check_invoke_header(&TARGET_VARIANT_HEADER, "variant-1").is_ok());
/// assert!(check_invoke_header(&TARGET_VARIANT_HEADER, "-variant").is_err());
/// assert!(check_invoke_header(&SESSION_ID_HEADER, "NEW_SESSION").is_ok());
/// // HTTP would send `order-1`.
/// assert!(check_invoke_header(&INFERENCE_ID_HEADER, "order-1 ").is_err());
/// ```
pub fn check_invoke_header(name: &HeaderName, value: &str) -> Result<(), InvalidHeaderValue> {
    let len = value.len();
    let (valid, rule) = if *name == TARGET_VARIANT_HEADER
        || *name == TARGET_CONTAINER_HOSTNAME_HEADER
    {
        (
            is_hyphenated_name(value, 63),
            "1 to 63 letters and digits, with hyphens between them (^[a-zA-Z0-9](-*[a-zA-Z0-9])*)",
        )
    } else if *name == INFERENCE_COMPONENT_HEADER {
        // The same names, as the service model writes its pattern.
        (
            is_hyphenated_name(value, 63),
            "1 to 63 letters and digits, with hyphens between them (^[a-zA-Z0-9]([\\-a-zA-Z0-9]*[a-zA-Z0-9])?$)",
        )
    } else if *name == SESSION_ID_HEADER {
        (
            value == "NEW_SESSION" || is_hyphenated_name(value, 256),
            "NEW_SESSION, or 1 to 256 letters and digits with hyphens between them",
        )
    } else if *name == INFERENCE_ID_HEADER {
        (
            (1..=64).contains(&len) && is_printable(value) && !value.starts_with(' '),
            "1 to 64 printable characters, the first not a space",
        )
    } else if *name == ENABLE_EXPLANATIONS_HEADER {
        (
            (1..=64).contains(&len) && is_printable(value),
            "1 to 64 printable ASCII characters (a JMESPath expression such as `true`)",
        )
    } else if *name == CUSTOM_ATTRIBUTES_HEADER {
        // The service takes any ASCII; of the control characters, HTTP
        // carries a tab alone.
        (
            len <= 1024 && value.bytes().all(|b| b == b'\t' || is_printable_byte(b)),
            "at most 1024 printable ASCII characters or tabs",
        )
    } else {
        (
            len <= 1024 && is_printable(value),
            "at most 1024 printable ASCII characters",
        )
    };
    if !valid {
        return Err(InvalidHeaderValue::new(name, rule));
    }
    // HTTP removes spaces and tabs at either end of a header value: the
    // service would get another value than the one checked.
    let blank = [' ', '\t'];
    if value.starts_with(blank) || value.ends_with(blank) {
        return Err(InvalidHeaderValue::new(
            name,
            "no space or tab at either end (HTTP would remove it on the way)",
        ));
    }
    Ok(())
}

/// How the service model spells each header, for messages.
const SERVICE_MODEL_NAMES: [(HeaderName, &str); 10] = [
    (TARGET_MODEL_HEADER, "X-Amzn-SageMaker-Target-Model"),
    (TARGET_VARIANT_HEADER, "X-Amzn-SageMaker-Target-Variant"),
    (
        TARGET_CONTAINER_HOSTNAME_HEADER,
        "X-Amzn-SageMaker-Target-Container-Hostname",
    ),
    (INFERENCE_ID_HEADER, "X-Amzn-SageMaker-Inference-Id"),
    (
        ENABLE_EXPLANATIONS_HEADER,
        "X-Amzn-SageMaker-Enable-Explanations",
    ),
    (
        INFERENCE_COMPONENT_HEADER,
        "X-Amzn-SageMaker-Inference-Component",
    ),
    (SESSION_ID_HEADER, "X-Amzn-SageMaker-Session-Id"),
    (
        CUSTOM_ATTRIBUTES_HEADER,
        "X-Amzn-SageMaker-Custom-Attributes",
    ),
    (http::header::CONTENT_TYPE, "Content-Type"),
    (http::header::ACCEPT, "Accept"),
];

/// Printable ASCII, which is also what an HTTP header value carries unchanged.
fn is_printable(value: &str) -> bool {
    value.bytes().all(is_printable_byte)
}

fn is_printable_byte(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// 1 to `max` characters matching `^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`.
fn is_hyphenated_name(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            bytes.len() <= max
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && *first != b'-'
                && *last != b'-'
        }
        _ => false,
    }
}

/// The path of `InvokeEndpoint` for an endpoint name.
///
/// ```
/// use tower_sagemaker::sagemaker::invocations_path;
///
/// assert_eq!(invocations_path("demo"), "/endpoints/demo/invocations");
/// ```
pub fn invocations_path(endpoint_name: &str) -> String {
    format!("/endpoints/{endpoint_name}/invocations")
}

/// The endpoint name in an `InvokeEndpoint` path: the inverse of
/// [`invocations_path`]; `None` for any other path.
///
/// ```
/// use tower_sagemaker::sagemaker::parse_invocations_path;
///
/// assert_eq!(parse_invocations_path("/endpoints/demo/invocations"), Some("demo"));
/// assert_eq!(parse_invocations_path("/endpoints/demo"), None);
/// ```
pub fn parse_invocations_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/endpoints/")?;
    let (name, tail) = rest.split_once('/')?;
    (tail == "invocations").then_some(name)
}

/// Whether `name` is a valid endpoint name: 1 to 63 characters matching
/// `^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`.
///
/// ```
/// use tower_sagemaker::sagemaker::is_valid_endpoint_name;
///
/// assert!(is_valid_endpoint_name("my-endpoint-1"));
/// assert!(!is_valid_endpoint_name("-leading-hyphen"));
/// ```
pub fn is_valid_endpoint_name(name: &str) -> bool {
    is_hyphenated_name(name, MAX_ENDPOINT_NAME_LEN)
}

/// Facts only the crate itself uses. Each is read by some features' modules
/// only, so a build with fewer features leaves some unused.
#[cfg_attr(
    not(all(feature = "retry", feature = "sigv4", feature = "emulator")),
    allow(dead_code)
)]
pub(crate) mod internal {
    use http::HeaderName;

    /// Retries after the first attempt in botocore's legacy mode (5 attempts in all).
    pub(crate) const LEGACY_MAX_RETRIES: u32 = 4;

    /// The prefix of SageMaker's own request headers (`X-Amzn-SageMaker-*`).
    pub(crate) const SAGEMAKER_HEADER_PREFIX: &str = "x-amzn-sagemaker-";

    /// SigV4's `X-Amz-Date`: when the request was signed.
    pub(crate) const AMZ_DATE_HEADER: HeaderName = HeaderName::from_static("x-amz-date");

    /// SigV4's `X-Amz-Security-Token`: the session token of temporary credentials.
    pub(crate) const AMZ_SECURITY_TOKEN_HEADER: HeaderName =
        HeaderName::from_static("x-amz-security-token");

    /// SigV4's `X-Amz-Content-Sha256`: the signed payload hash.
    pub(crate) const AMZ_CONTENT_SHA256_HEADER: HeaderName =
        HeaderName::from_static("x-amz-content-sha256");

    /// The region the emulator expects signatures for when none is set.
    pub(crate) const DEFAULT_REGION: &str = "us-east-1";

    /// The name SageMaker gives an endpoint's single production variant by default.
    pub(crate) const DEFAULT_VARIANT_NAME: &str = "AllTraffic";

    /// The account id in the emulator's messages and ARNs.
    pub(crate) const EMULATOR_ACCOUNT_ID: &str = "123456789012";

    /// What SageMaker Runtime puts after the code in `X-Amzn-ErrorType`.
    pub(crate) const ERROR_TYPE_SUFFIX: &str =
        ":http://internal.amazon.com/coral/com.amazon.sagemaker/";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_headers() {
        let ok = |h: &HeaderName, v: &str| check_invoke_header(h, v).is_ok();
        assert!(ok(&TARGET_VARIANT_HEADER, "AllTraffic"));
        assert!(ok(&TARGET_VARIANT_HEADER, "v--1"));
        assert!(!ok(&TARGET_VARIANT_HEADER, ""));
        assert!(!ok(&TARGET_VARIANT_HEADER, "v_1"));
        assert!(!ok(&TARGET_VARIANT_HEADER, &"v".repeat(64)));
        assert!(ok(&TARGET_CONTAINER_HOSTNAME_HEADER, "container-1"));
        assert!(!ok(&TARGET_CONTAINER_HOSTNAME_HEADER, "container-"));
        assert!(ok(&INFERENCE_COMPONENT_HEADER, "ic-1"));
        assert!(!ok(&INFERENCE_COMPONENT_HEADER, "-ic"));
        assert!(ok(&SESSION_ID_HEADER, "NEW_SESSION"));
        assert!(ok(&SESSION_ID_HEADER, &"s".repeat(256)));
        assert!(!ok(&SESSION_ID_HEADER, &"s".repeat(257)));
        assert!(!ok(&SESSION_ID_HEADER, "new session"));
        assert!(ok(&INFERENCE_ID_HEADER, "id 1"));
        assert!(!ok(&INFERENCE_ID_HEADER, " id"));
        assert!(!ok(&INFERENCE_ID_HEADER, &"i".repeat(65)));
        assert!(ok(&ENABLE_EXPLANATIONS_HEADER, "`true`"));
        assert!(!ok(&ENABLE_EXPLANATIONS_HEADER, ""));
        assert!(ok(&CUSTOM_ATTRIBUTES_HEADER, ""));
        assert!(!ok(&CUSTOM_ATTRIBUTES_HEADER, "caf\u{e9}"));
        let err = check_invoke_header(&TARGET_VARIANT_HEADER, "-x").unwrap_err();
        assert_eq!(err.header(), "X-Amzn-SageMaker-Target-Variant");
        assert!(err.to_string().contains("63"), "{err}");
    }

    #[test]
    fn endpoint_names() {
        assert!(is_valid_endpoint_name("demo"));
        assert!(is_valid_endpoint_name("my--endpoint-1"));
        assert!(!is_valid_endpoint_name(""));
        assert!(!is_valid_endpoint_name("-a"));
        assert!(!is_valid_endpoint_name("a-"));
        assert!(!is_valid_endpoint_name("a_b"));
        assert!(is_valid_endpoint_name(&"a".repeat(63)));
        assert!(!is_valid_endpoint_name(&"a".repeat(64)));
    }
}
