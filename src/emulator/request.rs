//! The emulator's shared state, and what it does with one request: read it,
//! authenticate it, route it to an endpoint and a model, and run the model.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_TYPE};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use tower::BoxError;

use super::answer::{ErrorAnswer, Outcome};
use super::auth::Verifier;
use super::body::{self, BodyBudget};
use super::config::Limits;
use super::faults::{Fault, Faults};
use super::inference::{self, Format};
use super::registry::{Acquire, Registry};
use crate::error_code::ErrorCode;
use crate::sagemaker::internal::{DEFAULT_VARIANT_NAME, EMULATOR_ACCOUNT_ID};
use crate::sagemaker::{
    check_invoke_header, is_valid_endpoint_name, parse_invocations_path, CUSTOM_ATTRIBUTES_HEADER,
    ENABLE_EXPLANATIONS_HEADER, INFERENCE_COMPONENT_HEADER, INFERENCE_ID_HEADER,
    INVOKED_PRODUCTION_VARIANT_HEADER, SESSION_ID_HEADER, TARGET_CONTAINER_HOSTNAME_HEADER,
    TARGET_MODEL_HEADER, TARGET_VARIANT_HEADER,
};

/// What all clones of an emulator share.
pub(super) struct Shared {
    pub(super) endpoints: Vec<String>,
    pub(super) registry: Arc<Registry>,
    pub(super) verifier: Option<Verifier>,
    pub(super) region: String,
    pub(super) faults: Mutex<Faults>,
    pub(super) request_seq: AtomicU64,
    /// The memory request bodies in progress share.
    pub(super) body_budget: BodyBudget,
    pub(super) limits: Limits,
}

/// Locks `m`, also after a panic elsewhere: the emulator's state stays usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A request that passed every check: where it goes.
struct Route<'a> {
    endpoint: &'a str,
    model: &'a str,
}

impl Shared {
    /// Answers one request; checks run in the order the module docs list.
    pub(super) async fn handle<B>(&self, req: Request<B>) -> Outcome
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        // The memory the body holds is given back when this call ends.
        let timeout = self.limits.request_body_timeout;
        let body = match body::read(&parts, body, timeout, &self.body_budget).await {
            Ok(body) => body,
            Err(refused) => return refused.into(),
        };
        if let Err(answer) = self.authenticate(&parts, &body.bytes) {
            return answer.into();
        }
        let route = match self.route(&parts) {
            Ok(route) => route,
            Err(answer) => return answer.into(),
        };
        if let Some(fault) = lock(&self.faults).take(route.model) {
            return match fault {
                Fault::Status {
                    status,
                    code,
                    message,
                } => ErrorAnswer::raw(status, &code, message).into(),
                Fault::DropConnection => Outcome::Drop,
                Fault::Stall => Outcome::Stall,
            };
        }
        self.invoke(&parts, &route, &body.bytes).await
    }

    /// A fresh request id shaped like AWS's (a UUID).
    pub(super) fn request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let p = self as *const Self as usize as u64;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (p >> 4) as u32,
            (n >> 48) & 0xffff,
            (n >> 36) & 0xfff,
            (n >> 24) & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }

    /// Checks the SigV4 signature when verification is on.
    fn authenticate(&self, parts: &Parts, body: &[u8]) -> Result<(), ErrorAnswer> {
        let Some(verifier) = &self.verifier else {
            return Ok(());
        };
        verifier
            .verify(parts, body, SystemTime::now())
            .map_err(|e| {
                let (status, code, message) = e.parts();
                ErrorAnswer::raw(status, code, message)
            })
    }

    /// The endpoint and model a request names, or why it names none.
    fn route<'a>(&self, parts: &'a Parts) -> Result<Route<'a>, ErrorAnswer> {
        let path = parts.uri.path();
        let Some(endpoint) = parse_invocations_path(path) else {
            return Err(ErrorAnswer::raw(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("No operation matches {} {path}", parts.method),
            ));
        };
        if parts.method != Method::POST {
            return Err(ErrorAnswer::raw(
                StatusCode::METHOD_NOT_ALLOWED,
                "UnknownOperationException",
                format!("Method {} is not allowed on {path}: use POST", parts.method),
            )
            .with_header(ALLOW, HeaderValue::from_static("POST")));
        }
        if !is_valid_endpoint_name(endpoint) {
            return Err(ErrorAnswer::validation(format!(
                "1 validation error detected: Value '{endpoint}' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
            )));
        }
        if !self.endpoints.iter().any(|e| e == endpoint) {
            return Err(ErrorAnswer::validation(format!(
                "Endpoint {endpoint} of account {EMULATOR_ACCOUNT_ID} not found."
            )));
        }
        let Some(target) = parts.headers.get(TARGET_MODEL_HEADER) else {
            return Err(ErrorAnswer::validation(format!(
                "Endpoint {endpoint} is a multi-model endpoint: the request must specify a target model (X-Amzn-SageMaker-Target-Model)."
            )));
        };
        let model = std::str::from_utf8(target.as_bytes())
            .map_err(|_| "it is not UTF-8".to_owned())
            .and_then(|model| {
                crate::target_model::check(model)
                    .map(|()| model)
                    .map_err(|e| e.to_string())
            })
            .map_err(|why| {
                ErrorAnswer::validation(format!(
                    "1 validation error detected: Value at 'targetModel' failed to satisfy constraint: Member must satisfy regular expression pattern: \\A\\S[\\p{{Print}}]*\\z ({why})"
                ))
            })?;
        check_invoke_headers(&parts.headers)?;
        Ok(Route { endpoint, model })
    }

    /// Loads the model if needed (a cold start) and runs it on `body`.
    async fn invoke(&self, parts: &Parts, route: &Route<'_>, body: &[u8]) -> Outcome {
        let Route { endpoint, model } = *route;
        let region = self.region.as_str();
        let unknown_model = || {
            ErrorAnswer::validation(format!(
                "Could not find model data at s3://sagemaker-emulator/models/{model}."
            ))
        };
        if !self.registry.contains(model) {
            return unknown_model().into();
        }
        let _in_flight = match self.registry.acquire(model).await {
            Acquire::Ready((in_flight, latency)) => {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                in_flight
            }
            Acquire::NotReady => {
                return ErrorAnswer::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::MODEL_NOT_READY,
                    format!("Model {model} is not ready yet, please retry after some time"),
                )
                .into()
            }
            Acquire::Failed(message) => {
                return ErrorAnswer::model_error(region, endpoint, model, 500, &message).into()
            }
            Acquire::InsufficientMemory => {
                let message = format!("Insufficient memory to load model {model}");
                return ErrorAnswer::model_error(region, endpoint, model, 507, &message).into();
            }
            Acquire::Unknown => return unknown_model().into(),
        };

        let header = |name| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let content_type = header(CONTENT_TYPE);
        let accept = header(ACCEPT).filter(|a| *a != "*/*");
        let input = Format::from_content_type(content_type.unwrap_or("text/csv"));
        let output = accept.map_or(input, Format::from_content_type);
        let sums = match inference::score(input, body) {
            Ok(sums) => sums,
            Err(e) => return ErrorAnswer::model_error(region, endpoint, model, 400, &e.0).into(),
        };
        let out_type = accept.or(content_type).unwrap_or("text/csv");
        let mut res = Response::new(Full::new(inference::render(output, &sums)));
        let h = res.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(out_type).unwrap_or(HeaderValue::from_static("text/csv")),
        );
        h.insert(
            INVOKED_PRODUCTION_VARIANT_HEADER,
            HeaderValue::from_static(DEFAULT_VARIANT_NAME),
        );
        Outcome::Response(res)
    }
}

/// `InvokeEndpoint`'s other headers, each as the service checks it: the
/// value's form, then what this endpoint has (one variant, one container,
/// no inference components).
fn check_invoke_headers(headers: &http::HeaderMap) -> Result<(), ErrorAnswer> {
    // The header, the member the service names in messages, and whether the
    // value may be echoed (custom attributes are the caller's secrets).
    let members = [
        (&TARGET_VARIANT_HEADER, "targetVariant", true),
        (
            &TARGET_CONTAINER_HOSTNAME_HEADER,
            "targetContainerHostname",
            true,
        ),
        (&INFERENCE_ID_HEADER, "inferenceId", true),
        (&ENABLE_EXPLANATIONS_HEADER, "enableExplanations", true),
        (&INFERENCE_COMPONENT_HEADER, "inferenceComponentName", true),
        (&SESSION_ID_HEADER, "sessionId", true),
        (&CUSTOM_ATTRIBUTES_HEADER, "customAttributes", false),
    ];
    for (name, member, echo) in members {
        let Some(value) = headers.get(name) else {
            continue;
        };
        // Bytes that are not UTF-8 become U+FFFD, which no rule admits.
        let value = String::from_utf8_lossy(value.as_bytes());
        if let Err(e) = check_invoke_header(name, &value) {
            let shown = if echo {
                format!("Value '{value}' ")
            } else {
                "Value ".to_owned()
            };
            return Err(ErrorAnswer::validation(format!(
                "1 validation error detected: {shown}at '{member}' failed to satisfy constraint: {e}"
            )));
        }
        if *name == TARGET_VARIANT_HEADER && value != DEFAULT_VARIANT_NAME {
            return Err(ErrorAnswer::validation(format!(
                "The variant {value} is not one of the endpoint's production variants ({DEFAULT_VARIANT_NAME})."
            )));
        }
        if *name == TARGET_CONTAINER_HOSTNAME_HEADER {
            return Err(ErrorAnswer::validation(format!(
                "The endpoint is not a multi-container endpoint: it has no container {value}."
            )));
        }
        if *name == INFERENCE_COMPONENT_HEADER {
            return Err(ErrorAnswer::validation(format!(
                "The endpoint has no inference components: it has no component {value}."
            )));
        }
    }
    Ok(())
}
