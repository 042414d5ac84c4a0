//! What the emulator does with one request: read it, authenticate it, route
//! it to an endpoint and a model, and run the model.

use std::io;
use std::time::SystemTime;

use bytes::Bytes;
use bytes::BytesMut;
use http::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tower::BoxError;

use super::answer::{ErrorAnswer, Outcome};
use super::faults::Fault;
use super::inference::{self, Format};
use super::registry::Acquire;
use super::service::Emulator;
use crate::error_code::ErrorCode;
use crate::sagemaker::internal::{DEFAULT_VARIANT_NAME, EMULATOR_ACCOUNT_ID};
use crate::sagemaker::{
    check_invoke_header, is_valid_endpoint_name, parse_invocations_path, CUSTOM_ATTRIBUTES_HEADER,
    ENABLE_EXPLANATIONS_HEADER, INFERENCE_COMPONENT_HEADER, INFERENCE_ID_HEADER,
    INVOKED_PRODUCTION_VARIANT_HEADER, MAX_PAYLOAD_BYTES, SESSION_ID_HEADER,
    TARGET_CONTAINER_HOSTNAME_HEADER, TARGET_MODEL_HEADER, TARGET_VARIANT_HEADER,
};

/// A request that passed every check: where it goes.
struct Route<'a> {
    endpoint: &'a str,
    model: &'a str,
}

impl Emulator {
    /// Answers one request; checks run in the order the module docs list.
    pub(super) async fn handle<B>(&self, req: Request<B>) -> io::Result<Outcome>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        // The memory the body holds is given back when this call ends.
        let (body, _memory) = match self.read_body(&parts, body).await? {
            Ok(read) => read,
            Err(answer) => return Ok(answer.into()),
        };
        if let Err(answer) = self.authenticate(&parts, &body) {
            return Ok(answer.into());
        }
        let route = match self.route(&parts) {
            Ok(route) => route,
            Err(answer) => return Ok(answer.into()),
        };
        if let Some(fault) = self.take_fault(route.model) {
            return Ok(match fault {
                Fault::Status {
                    status,
                    code,
                    message,
                } => ErrorAnswer::raw(status, &code, message).into(),
                Fault::DropConnection => Outcome::Drop,
                Fault::Stall => Outcome::Stall,
            });
        }
        Ok(self.invoke(&parts, &route, &body).await)
    }

    /// Checks the SigV4 signature when verification is on.
    fn authenticate(&self, parts: &Parts, body: &[u8]) -> Result<(), ErrorAnswer> {
        let Some(verifier) = &self.inner.verifier else {
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
        if !self.inner.endpoints.iter().any(|e| e == endpoint) {
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
        let region = self.inner.region.as_str();
        let unknown_model = || {
            ErrorAnswer::validation(format!(
                "Could not find model data at s3://sagemaker-emulator/models/{model}."
            ))
        };
        if !self.inner.registry.contains(model) {
            return unknown_model().into();
        }
        let _in_flight = match self.inner.registry.acquire(model).await {
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

impl Emulator {
    /// Reads the whole body, up to the service's payload limit, within the
    /// request body timeout and the memory all bodies in progress share:
    /// the bytes and the memory they hold, or the error answer (413, 408,
    /// 503). An unreadable body is an I/O error (the connection is dropped).
    async fn read_body<B>(
        &self,
        parts: &Parts,
        body: B,
    ) -> io::Result<Result<(Bytes, Option<OwnedSemaphorePermit>), ErrorAnswer>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let too_large = || {
            ErrorAnswer::raw(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::VALIDATION_ERROR.as_str(),
                format!(
                    "Received payload of size greater than the maximum allowed payload size of {MAX_PAYLOAD_BYTES} bytes."
                ),
            )
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
            return Ok(Err(too_large()));
        }
        let limits = &self.inner.limits;
        let until = Instant::now() + limits.request_body_timeout;
        let timed_out = || {
            ErrorAnswer::raw(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeoutException",
                format!(
                    "The request body was not received within {} s.",
                    limits.request_body_timeout.as_secs_f64()
                ),
            )
        };
        let mut body = std::pin::pin!(body);
        let mut data = BytesMut::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        loop {
            let frame = match tokio::time::timeout_at(until, body.frame()).await {
                Err(_) => return Ok(Err(timed_out())),
                Ok(None) => break,
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("emulator could not read the request body: {}", e.into()),
                    ))
                }
            };
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if data.len() + chunk.len() > MAX_PAYLOAD_BYTES {
                return Ok(Err(too_large()));
            }
            if chunk.is_empty() {
                continue;
            }
            // At most MAX_PAYLOAD_BYTES, so it fits.
            let bytes = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let memory = self.inner.body_memory.clone().acquire_many_owned(bytes);
            let permit = match tokio::time::timeout_at(until, memory).await {
                Ok(Ok(permit)) => permit,
                Err(_) | Ok(Err(_)) => {
                    return Ok(Err(ErrorAnswer::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorCode::SERVICE_UNAVAILABLE,
                        "The emulator's memory for request bodies is in use by other requests; try again.",
                    )))
                }
            };
            match &mut held {
                Some(held) => held.merge(permit),
                None => held = Some(permit),
            }
            data.extend_from_slice(&chunk);
        }
        Ok(Ok((data.freeze(), held)))
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
