//! The emulator's shared state, and what it does with one request: read it,
//! authenticate it, route it to an endpoint and a model or an inference
//! component, and run it.

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
use super::components::{self, Components};
use super::config::Limits;
use super::faults::{Fault, Faults};
use super::headers::check_invoke_headers;
use super::inference::{self, Format};
use super::registry::{Acquire, InFlight, Registry};
use crate::error_code::ErrorCode;
use crate::sagemaker::internal::{DEFAULT_VARIANT_NAME, EMULATOR_ACCOUNT_ID};
use crate::sagemaker::{
    is_valid_endpoint_name, parse_invocations_path, INFERENCE_COMPONENT_HEADER,
    INVOKED_PRODUCTION_VARIANT_HEADER, TARGET_MODEL_HEADER,
};

/// What all clones of an emulator share.
pub(super) struct Shared {
    pub(super) endpoints: Vec<String>,
    pub(super) registry: Arc<Registry>,
    pub(super) components: Arc<Components>,
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
    target: Target<'a>,
}

/// What runs a request: a model of a multi-model endpoint, or an inference
/// component of an endpoint that hosts components.
#[derive(Clone, Copy)]
enum Target<'a> {
    Model(&'a str),
    Component(&'a str),
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
        let model = match route.target {
            Target::Model(model) => Some(model),
            Target::Component(_) => None,
        };
        if let Some(fault) = lock(&self.faults).take(model) {
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

    /// The endpoint and model, or inference component, a request names, or
    /// why it names none. An endpoint hosting components serves only them;
    /// one hosting none is a multi-model endpoint and refuses a component
    /// header before it looks for a target model.
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
        if self.components.hosts(endpoint) {
            check_invoke_headers(&parts.headers)?;
            let component = components::named(endpoint, &parts.headers)?;
            return Ok(Route {
                endpoint,
                target: Target::Component(component),
            });
        }
        if parts.headers.contains_key(INFERENCE_COMPONENT_HEADER) {
            check_invoke_headers(&parts.headers)?;
            return Err(components::not_allowed());
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
        Ok(Route {
            endpoint,
            target: Target::Model(model),
        })
    }

    /// Loads the model if needed (a cold start), or finds a copy of the
    /// component, and runs it on `body`.
    async fn invoke(&self, parts: &Parts, route: &Route<'_>, body: &[u8]) -> Outcome {
        let endpoint = route.endpoint;
        // Held until the answer is made: the model or copy is busy meanwhile.
        let (name, _busy): (&str, Box<dyn Send>) = match route.target {
            Target::Model(model) => match self.acquire_model(endpoint, model).await {
                Ok(in_flight) => (model, Box::new(in_flight)),
                Err(answer) => return answer.into(),
            },
            Target::Component(component) => {
                match self.components.acquire(endpoint, component).await {
                    Ok(copy) => (component, Box::new(copy)),
                    Err(answer) => return answer.into(),
                }
            }
        };
        self.infer(parts, endpoint, name, body)
    }

    /// The model, loaded (a cold start if needed) and busy for one call
    /// after its latency; or the answer when it cannot be.
    async fn acquire_model(&self, endpoint: &str, model: &str) -> Result<InFlight, ErrorAnswer> {
        let region = self.region.as_str();
        let unknown_model = || {
            ErrorAnswer::validation(format!(
                "Could not find model data at s3://sagemaker-emulator/models/{model}."
            ))
        };
        if !self.registry.contains(model) {
            return Err(unknown_model());
        }
        match self.registry.acquire(model).await {
            Acquire::Ready((in_flight, latency)) => {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                Ok(in_flight)
            }
            Acquire::NotReady => Err(ErrorAnswer::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::MODEL_NOT_READY,
                format!("Model {model} is not ready yet, please retry after some time"),
            )),
            Acquire::Failed(message) => Err(ErrorAnswer::model_error(
                region, endpoint, model, 500, &message,
            )),
            Acquire::InsufficientMemory => {
                let message = format!("Insufficient memory to load model {model}");
                Err(ErrorAnswer::model_error(
                    region, endpoint, model, 507, &message,
                ))
            }
            Acquire::Unknown => Err(unknown_model()),
        }
    }

    /// Runs the deterministic inference of model or component `name` on `body`.
    fn infer(&self, parts: &Parts, endpoint: &str, name: &str, body: &[u8]) -> Outcome {
        let region = self.region.as_str();
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
            Err(e) => return ErrorAnswer::model_error(region, endpoint, name, 400, &e.0).into(),
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
