//! A local SageMaker Runtime multi-model endpoint: an in-process tower
//! service that can also serve HTTP/1.1, with real cold starts on tokio's clock.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use tower::ServiceExt;
//! use tower_sagemaker::emulator::{Emulator, ModelSpec};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let emulator = Emulator::builder()
//!     .model("model-1.tar.gz", ModelSpec::new(Duration::from_secs(5)))
//!     .build();
//!
//! let req = http::Request::post("/endpoints/demo/invocations")
//!     .header("x-amzn-sagemaker-target-model", "model-1.tar.gz")
//!     .header("content-type", "text/csv")
//!     .body(Full::new(Bytes::from("1.0,2.0,5.0")))?;
//! let start = tokio::time::Instant::now();
//! let res = emulator.clone().oneshot(req).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(res.into_body().collect().await?.to_bytes(), "8.0");
//! assert_eq!(start.elapsed(), Duration::from_secs(5)); // the cold start
//! assert_eq!(emulator.stats("model-1.tar.gz").unwrap().loads, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Behaviour
//!
//! **Requests.** `POST /endpoints/{EndpointName}/invocations` with
//! `X-Amzn-SageMaker-Target-Model`. Every configured endpoint (default
//! `demo`) serves the same models, as one container with one memory budget.
//! Checks run in this order, each answering a restJson1 error (status,
//! `X-Amzn-ErrorType: Code:http://internal.amazon.com/coral/com.amazon.sagemaker/`,
//! `Content-Type: application/json`, body `{"message": ...}`):
//!
//! | check | answer |
//! |---|---|
//! | `Content-Length` or body over 6 MiB ([`MAX_PAYLOAD_BYTES`]) | 413 `ValidationError` (the body is read through `http_body_util::Limited`) |
//! | SigV4, when [`EmulatorBuilder::credentials`] is set | 403 `MissingAuthenticationTokenException`, `UnrecognizedClientException`, `InvalidSignatureException` (also "Signature expired"), or 400 `IncompleteSignatureException` |
//! | path is not `/endpoints/{name}/invocations` | 404 `UnknownOperationException` |
//! | method is not `POST` | 405 `UnknownOperationException` with `Allow: POST` |
//! | endpoint name invalid | 400 `ValidationError` (the service's "1 validation error detected" form) |
//! | endpoint unknown | 400 `ValidationError` "Endpoint X of account 123456789012 not found." |
//! | target model header missing / invalid ([`TargetModel::new`]) | 400 `ValidationError` |
//! | injected fault ([`Emulator::inject`]) | the fault |
//! | model unknown | 400 `ValidationError` "Could not find model data at s3://...": the real endpoint fails to download it |
//!
//! **Cold starts.** The first call for an unloaded model starts its load
//! (a deadline on tokio's clock, so `tokio::time::pause` drives it) and is
//! held; calls for a loading model are held too, sharing the one load. A call
//! held for the hold timeout (default 60 s) gets 429 `ModelNotReadyException`
//! ("Model M is not ready yet, please retry after some time"); the load goes
//! on. A load that would take longer than the max load time (default 360 s)
//! fails when the max load time is up; a [`ModelSpec::fail_load`] model fails
//! at its load time. The calls held for that load then get 424 `ModelError`
//! (`OriginalStatusCode` 500); if none was held, the next call gets it. Once
//! the failure has been answered, the next call starts a fresh load.
//!
//! **Memory.** A load reserves its model's [`ModelSpec::size`] when it
//! starts. When the memory ([`EmulatorBuilder::memory`]) is short, loaded
//! models with no in-flight invocation are evicted, least recently used first.
//! If it still does not fit (everything is busy or loading, or the model is
//! larger than the memory), the call fails at once with 424 `ModelError`,
//! `OriginalStatusCode` 507 ("insufficient memory"), and no load is counted.
//!
//! **Inference** is deterministic: each input row's sum. The input format
//! follows `Content-Type` (`application/json` or anything containing `json`:
//! `{"instances": [[1, 2], [3]]}`; anything else, or none: CSV, one row per
//! non-empty line, comma-separated numbers). The output format follows
//! `Accept` when present and not `*/*`, else the input format: CSV output is one
//! line per row (joined by `\n`, no trailing newline), each sum printed with
//! [`format_number`] (Rust's `f64` `Display`, whole numbers with `.0`, so
//! `1.0,2.0,5.0` gives `8.0`); JSON output is `{"predictions":[3.0,3.0]}`.
//! The response `Content-Type` is the `Accept` value, else the request's
//! content type, else `text/csv`. Input that is not numbers gives
//! 424 `ModelError` with `OriginalStatusCode` 400.
//! Success also carries `x-Amzn-Invoked-Production-Variant: AllTraffic` and
//! `X-Amzn-RequestId`; every answer carries `X-Amzn-RequestId`.
//!
//! **Counters** ([`Emulator::stats`]): `invocations` counts calls that reached
//! the loaded model (whatever the inference result), `loads` started loads,
//! `evictions`, and `not_ready` the 429 answers.
//!
//! **Service errors.** The service's error type is [`std::io::Error`]:
//! [`Fault::DropConnection`] answers `ErrorKind::ConnectionReset` (served: the
//! connection is closed with no response) and an unreadable request body
//! answers `ErrorKind::InvalidData`. Every other outcome is a response.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tower::BoxError;

use crate::sagemaker::{
    is_valid_endpoint_name, COLD_START_HOLD, ERROR_TYPE_HEADER, INVOKED_PRODUCTION_VARIANT_HEADER,
    MAX_LOAD_TIME, MAX_PAYLOAD_BYTES, REQUEST_ID_HEADER, TARGET_MODEL_HEADER,
};
use crate::{ErrorCode, TargetModel};

mod args;
mod inference;
mod model;
mod server;
mod sigv4;

pub use args::{parse_duration, parse_size, ModelArg, ParseArgError};
pub use inference::format_number;
pub use server::Server;

use inference::Format;
use model::{Acquire, Registry};

/// The account id in the emulator's messages.
pub const ACCOUNT_ID: &str = "123456789012";

/// The suffix the emulator puts after the code in `X-Amzn-ErrorType`.
pub const ERROR_TYPE_SUFFIX: &str = ":http://internal.amazon.com/coral/com.amazon.sagemaker/";

/// The production variant name of every emulated endpoint.
pub const PRODUCTION_VARIANT: &str = "AllTraffic";

/// A model the emulator can load: its load time, size, and whether the load fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    load_time: Duration,
    size: u64,
    fail_load: bool,
    latency: Duration,
}

impl ModelSpec {
    /// The default model size: 100 MiB.
    pub const DEFAULT_SIZE: u64 = 100 * 1024 * 1024;

    /// A model that takes `load_time` to download and load.
    pub fn new(load_time: Duration) -> Self {
        Self {
            load_time,
            size: Self::DEFAULT_SIZE,
            fail_load: false,
            latency: Duration::ZERO,
        }
    }

    /// Sets how long each inference takes once the model is loaded (default
    /// zero); the model is busy, so not evictable, meanwhile.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The inference latency.
    pub fn inference_latency(&self) -> Duration {
        self.latency
    }

    /// Sets the memory the model takes when loaded, in bytes.
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// Makes every load of this model fail after its load time.
    pub fn fail_load(mut self) -> Self {
        self.fail_load = true;
        self
    }

    /// The load time.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// The size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }

    /// Whether loads fail.
    pub fn fails_load(&self) -> bool {
        self.fail_load
    }
}

/// Counters of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// Calls that reached the loaded model (whatever the inference result).
    pub invocations: u64,
    /// Loads started (cold starts).
    pub loads: u64,
    /// Times the model was evicted to make room for another.
    pub evictions: u64,
    /// 429 `ModelNotReadyException` answers.
    pub not_ready: u64,
}

/// A fault to inject with [`Emulator::inject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this error (restJson1 form: `X-Amzn-ErrorType: code`, JSON `message`).
    Status {
        /// The HTTP status.
        status: StatusCode,
        /// The error code, e.g. `ServiceUnavailable`.
        code: String,
        /// The message.
        message: String,
    },
    /// Close the connection without a response (in-process: an
    /// [`io::Error`] of kind `ConnectionReset`).
    DropConnection,
    /// Never answer.
    Stall,
}

/// Which calls a [`Fault`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultScope {
    /// Any valid call.
    Any,
    /// Calls for this target model.
    Model(String),
}

#[derive(Debug)]
struct Injected {
    fault: Fault,
    scope: FaultScope,
    remaining: u32,
}

/// Builds an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    endpoints: Vec<String>,
    models: Vec<(String, ModelSpec)>,
    hold_timeout: Duration,
    max_load_time: Duration,
    memory: Option<u64>,
    credentials: Option<(String, String)>,
    region: String,
    shutdown_timeout: Duration,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            models: Vec::new(),
            hold_timeout: COLD_START_HOLD,
            max_load_time: MAX_LOAD_TIME,
            memory: None,
            credentials: None,
            region: "us-east-1".into(),
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

impl EmulatorBuilder {
    /// Adds an endpoint name (may be called several times; default `demo`).
    pub fn endpoint(mut self, name: impl Into<String>) -> Self {
        self.endpoints.push(name.into());
        self
    }

    /// Adds (or replaces) a model.
    pub fn model(mut self, name: impl Into<String>, spec: ModelSpec) -> Self {
        let name = name.into();
        self.models.retain(|(n, _)| *n != name);
        self.models.push((name, spec));
        self
    }

    /// How long a call for a loading model is held before 429 (default 60 s).
    pub fn hold_timeout(mut self, hold: Duration) -> Self {
        self.hold_timeout = hold;
        self
    }

    /// How long a load may take before it fails (default 360 s).
    pub fn max_load_time(mut self, max: Duration) -> Self {
        self.max_load_time = max;
        self
    }

    /// Memory for loaded (and loading) models, in bytes (default unlimited).
    pub fn memory(mut self, bytes: u64) -> Self {
        self.memory = Some(bytes);
        self
    }

    /// Turns SigV4 verification on for this key pair.
    pub fn credentials(
        mut self,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        self.credentials = Some((access_key.into(), secret_key.into()));
        self
    }

    /// The region requests must be signed for (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// How long [`Server::shutdown`] waits for in-flight requests (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Builds the emulator.
    pub fn build(self) -> Emulator {
        let endpoints = if self.endpoints.is_empty() {
            vec!["demo".to_owned()]
        } else {
            self.endpoints
        };
        let verifier = self
            .credentials
            .map(|(access_key, secret_key)| sigv4::Verifier {
                access_key,
                secret_key,
                region: self.region.clone(),
            });
        Emulator {
            inner: Arc::new(Inner {
                endpoints,
                registry: Arc::new(Registry::new(
                    self.models,
                    self.hold_timeout,
                    self.max_load_time,
                    self.memory,
                )),
                verifier,
                faults: Mutex::new(VecDeque::new()),
                request_seq: AtomicU64::new(0),
                shutdown_timeout: self.shutdown_timeout,
            }),
        }
    }
}

/// The emulated multi-model endpoint(s). Cheap to clone: all clones share state.
///
/// It is a `tower::Service<http::Request<B>>` answering
/// `http::Response<Full<Bytes>>`, with [`io::Error`] as error type (see the
/// [module docs](self)), and [`Emulator::serve`] serves it over HTTP/1.1.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Inner>,
}

struct Inner {
    endpoints: Vec<String>,
    registry: Arc<Registry>,
    verifier: Option<sigv4::Verifier>,
    faults: Mutex<VecDeque<Injected>>,
    request_seq: AtomicU64,
    shutdown_timeout: Duration,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoints", &self.inner.endpoints)
            .field("registry", &self.inner.registry)
            .field("verifier", &self.inner.verifier)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// A builder with the defaults.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The counters of `model`, `None` if it is not configured.
    pub fn stats(&self, model: &str) -> Option<ModelStats> {
        self.inner.registry.stats(model)
    }

    /// Whether `model` is loaded now.
    pub fn is_loaded(&self, model: &str) -> bool {
        self.inner.registry.is_loaded(model)
    }

    /// Bytes reserved by loaded and loading models.
    pub fn memory_used(&self) -> u64 {
        self.inner.registry.memory_used()
    }

    /// The configured endpoint names.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// Injects `fault` into the next `count` valid calls within `scope`
    /// (after the checks of endpoint, target model and signature). Faults are
    /// consumed in the order they were injected.
    pub fn inject(&self, fault: Fault, scope: FaultScope, count: u32) {
        if count == 0 {
            return;
        }
        lock(&self.inner.faults).push_back(Injected {
            fault,
            scope,
            remaining: count,
        });
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Serves the emulator over HTTP/1.1 on `addr` (port 0 picks a free port).
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<Server> {
        server::serve(self.clone(), addr).await
    }

    fn take_fault(&self, model: &str) -> Option<Fault> {
        let mut faults = lock(&self.inner.faults);
        let i = faults.iter().position(|f| match &f.scope {
            FaultScope::Any => true,
            FaultScope::Model(m) => m == model,
        })?;
        let entry = &mut faults[i];
        entry.remaining -= 1;
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            faults.remove(i);
        }
        Some(fault)
    }

    fn request_id(&self) -> String {
        let n = self.inner.request_seq.fetch_add(1, Ordering::Relaxed) + 1;
        let p = Arc::as_ptr(&self.inner) as usize as u64;
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            (p >> 4) as u32,
            (n >> 48) & 0xffff,
            (n >> 36) & 0xfff,
            (n >> 24) & 0xfff,
            n & 0xffff_ffff_ffff
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An answer before it becomes a response.
struct ErrorAnswer {
    status: StatusCode,
    code: String,
    body: serde_json::Value,
}

impl ErrorAnswer {
    fn new(status: StatusCode, code: ErrorCode<'_>, message: impl Into<String>) -> Self {
        Self::raw(status, code.as_str(), message)
    }

    fn raw(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            body: serde_json::json!({ "message": message.into() }),
        }
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::VALIDATION_ERROR,
            message,
        )
    }

    fn model_error(
        endpoint: &str,
        model: &str,
        original_status: u16,
        original_message: &str,
    ) -> Self {
        let message = format!(
            "Received client error ({original_status}) from model with message \"{original_message}\". See https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logEventViewer:group=/aws/sagemaker/Endpoints/{endpoint} in account {ACCOUNT_ID} for more information."
        );
        let message = if original_status >= 500 {
            message.replacen("client error", "server error", 1)
        } else {
            message
        };
        Self {
            status: StatusCode::FAILED_DEPENDENCY,
            code: ErrorCode::MODEL_ERROR.as_str().to_owned(),
            body: serde_json::json!({
                "message": message,
                "OriginalStatusCode": original_status,
                "OriginalMessage": original_message,
                "LogStreamArn": format!(
                    "arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/aws/sagemaker/Endpoints/{endpoint}:log-stream:AllTraffic/{model}"
                ),
            }),
        }
    }

    fn into_response(self, request_id: &str) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(Bytes::from(self.body.to_string())));
        *res.status_mut() = self.status;
        let h = res.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("{}{ERROR_TYPE_SUFFIX}", self.code)) {
            h.insert(ERROR_TYPE_HEADER, v);
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert(REQUEST_ID_HEADER, v);
        }
        res
    }
}

enum Outcome {
    Response(Response<Full<Bytes>>),
    Error(ErrorAnswer),
    Drop,
    Stall,
}

impl<B> tower_service::Service<Request<B>> for Emulator
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let request_id = this.request_id();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            let outcome = this.handle(req).await;
            match &outcome {
                Ok(Outcome::Response(r)) => {
                    tracing::debug!(%method, %path, status = r.status().as_u16(), %request_id, "emulator answered")
                }
                Ok(Outcome::Error(e)) => {
                    tracing::debug!(%method, %path, status = e.status.as_u16(), code = %e.code, %request_id, "emulator answered an error")
                }
                Ok(Outcome::Drop) => {
                    tracing::debug!(%method, %path, "emulator fault: dropping the connection")
                }
                Ok(Outcome::Stall) => tracing::debug!(%method, %path, "emulator fault: stalling"),
                Err(e) => {
                    tracing::debug!(%method, %path, error = %e, "emulator could not read the request")
                }
            }
            match outcome {
                Ok(Outcome::Response(mut res)) => {
                    if let Ok(v) = HeaderValue::from_str(&request_id) {
                        res.headers_mut().insert(REQUEST_ID_HEADER, v);
                    }
                    Ok(res)
                }
                Ok(Outcome::Error(e)) => Ok(e.into_response(&request_id)),
                Ok(Outcome::Drop) => Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "emulator fault: connection dropped",
                )),
                Ok(Outcome::Stall) => std::future::pending().await,
                Err(e) => Err(e),
            }
        })
    }
}

fn parse_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/endpoints/")?;
    let (name, tail) = rest.split_once('/')?;
    (tail == "invocations").then_some(name)
}

impl Emulator {
    async fn handle<B>(&self, req: Request<B>) -> io::Result<Outcome>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = req.into_parts();
        let too_large = || {
            Outcome::Error(ErrorAnswer::raw(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::VALIDATION_ERROR.as_str(),
                format!(
                    "Received payload of size greater than the maximum allowed payload size of {MAX_PAYLOAD_BYTES} bytes."
                ),
            ))
        };
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_PAYLOAD_BYTES as u64) {
            return Ok(too_large());
        }
        let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    return Ok(too_large());
                }
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("emulator could not read the request body: {e}"),
                ));
            }
        };

        if let Some(verifier) = &self.inner.verifier {
            if let Err(e) = verifier.verify(&parts, &body, SystemTime::now()) {
                let (status, code, message) = e.parts();
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
                return Ok(Outcome::Error(ErrorAnswer::raw(status, code, message)));
            }
        }

        let Some(endpoint) = parse_path(parts.uri.path()) else {
            return Ok(Outcome::Error(ErrorAnswer::raw(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("No operation matches {} {}", parts.method, parts.uri.path()),
            )));
        };
        if parts.method != Method::POST {
            let mut answer = ErrorAnswer::raw(
                StatusCode::METHOD_NOT_ALLOWED,
                "UnknownOperationException",
                format!(
                    "Method {} is not allowed on {}: use POST",
                    parts.method,
                    parts.uri.path()
                ),
            );
            answer.status = StatusCode::METHOD_NOT_ALLOWED;
            let mut res = answer.into_response(&self.request_id());
            res.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("POST"));
            return Ok(Outcome::Response(res));
        }
        if !is_valid_endpoint_name(endpoint) {
            return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                "1 validation error detected: Value '{endpoint}' at 'endpointName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*"
            ))));
        }
        if !self.inner.endpoints.iter().any(|e| e == endpoint) {
            return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                "Endpoint {endpoint} of account {ACCOUNT_ID} not found."
            ))));
        }
        let Some(target) = parts.headers.get(TARGET_MODEL_HEADER) else {
            return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                "Endpoint {endpoint} is a multi-model endpoint: the request must specify a target model (X-Amzn-SageMaker-Target-Model)."
            ))));
        };
        let target = match std::str::from_utf8(target.as_bytes())
            .map_err(|_| None)
            .and_then(|s| TargetModel::new(s).map_err(Some))
        {
            Ok(t) => t,
            Err(e) => {
                let why = e.map_or_else(|| "it is not UTF-8".to_owned(), |e| e.to_string());
                return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                    "1 validation error detected: Value at 'targetModel' failed to satisfy constraint: Member must satisfy regular expression pattern: \\A\\S[\\p{{Print}}]*\\z ({why})"
                ))));
            }
        };
        let model = target.as_str();

        if let Some(fault) = self.take_fault(model) {
            return Ok(match fault {
                Fault::Status {
                    status,
                    code,
                    message,
                } => Outcome::Error(ErrorAnswer::raw(status, &code, message)),
                Fault::DropConnection => Outcome::Drop,
                Fault::Stall => Outcome::Stall,
            });
        }

        if !self.inner.registry.contains(model) {
            return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                "Could not find model data at s3://sagemaker-emulator/models/{model}."
            ))));
        }

        let _in_flight = match self.inner.registry.acquire(model).await {
            Acquire::Ready((g, latency)) => {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                g
            }
            Acquire::NotReady => {
                return Ok(Outcome::Error(ErrorAnswer::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::MODEL_NOT_READY,
                    format!("Model {model} is not ready yet, please retry after some time"),
                )))
            }
            Acquire::Failed(msg) => {
                return Ok(Outcome::Error(ErrorAnswer::model_error(
                    endpoint, model, 500, &msg,
                )))
            }
            Acquire::InsufficientMemory => {
                return Ok(Outcome::Error(ErrorAnswer::model_error(
                    endpoint,
                    model,
                    507,
                    &format!("Insufficient memory to load model {model}"),
                )))
            }
            Acquire::Unknown => {
                return Ok(Outcome::Error(ErrorAnswer::validation(format!(
                    "Could not find model data at s3://sagemaker-emulator/models/{model}."
                ))))
            }
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
        let sums = match inference::score(input, &body) {
            Ok(s) => s,
            Err(e) => {
                return Ok(Outcome::Error(ErrorAnswer::model_error(
                    endpoint, model, 400, &e.0,
                )))
            }
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
            HeaderValue::from_static(PRODUCTION_VARIANT),
        );
        Ok(Outcome::Response(res))
    }
}
