//! A local SageMaker Runtime multi-model endpoint: an in-process tower
//! service that can also serve HTTP/1.1, with real cold starts on tokio's
//! clock; and endpoints hosting inference components that scale to zero.
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
//! `demo`) serves the same models, as one container with one memory budget,
//! except the endpoints that host inference components, which serve only
//! their components (see below).
//! Checks run in this order, each answering a restJson1 error (status,
//! `X-Amzn-ErrorType: Code:http://internal.amazon.com/coral/com.amazon.sagemaker/`,
//! `Content-Type: application/json`, body `{"message": ...}`):
//!
//! | check | answer |
//! |---|---|
//! | `Content-Length` or body over 6 MiB ([`MAX_PAYLOAD_BYTES`](crate::sagemaker::MAX_PAYLOAD_BYTES)) | 413 `ValidationError` (the body is read through `http_body_util::Limited`) |
//! | SigV4, when [`EmulatorBuilder::credentials`] is set | 403 `MissingAuthenticationTokenException`, `UnrecognizedClientException`, `InvalidSignatureException` (also a time stamp more than 5 minutes off: "Signature expired", "Signature not yet current"), or 400 `IncompleteSignatureException` |
//! | path is not `/endpoints/{name}/invocations` | 404 `UnknownOperationException` |
//! | method is not `POST` | 405 `UnknownOperationException` with `Allow: POST` |
//! | endpoint name invalid | 400 `ValidationError` (the service's "1 validation error detected" form) |
//! | endpoint unknown | 400 `ValidationError` "Endpoint X of account 123456789012 not found." |
//! | endpoint hosting components: a header invalid; no `X-Amzn-SageMaker-Inference-Component`; a target model too | 400 `ValidationError` ("Inference Component Name header is required for endpoints to which you plan to deploy inference components. ..."; "Endpoint X is not a multi-model endpoint and does not support target model header.") |
//! | other endpoint: an `X-Amzn-SageMaker-Inference-Component` header | 400 `ValidationError` "Inference Component Name header is not allowed for endpoints to which you dont plan to deploy inference components. ..." |
//! | target model header missing / invalid ([`TargetModel::new`](crate::target_model::TargetModel::new)) | 400 `ValidationError` |
//! | injected fault ([`Emulator::inject`]) | the fault |
//! | model unknown | 400 `ValidationError` "Could not find model data at s3://...": the real endpoint fails to download it |
//! | component unknown on this endpoint | 400 `ValidationError` "Could not find inference component C on endpoint X of account 123456789012." |
//! | component with no copy | 400 `ValidationError` [`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE) |
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
//! So models that together need more memory than there is evict each other
//! while idle, and calls that find every other model busy get that 424.
//! What the developer guide says of a real endpoint: cached models are
//! unloaded only when the container runs out of memory or disk for a newly
//! targeted model (the MME caching page), and a container that cannot load
//! a model for want of memory answers its load request 507, upon which
//! SageMaker unloads unused models (the custom container contract). What a
//! caller then gets when every model is in use is not documented there; the
//! emulator's immediate 424 (507) is its own choice, made so that tests see
//! the over-commit at once rather than as a stall.
//!
//! **Inference components** ([`EmulatorBuilder::inference_component`],
//! [`ComponentSpec`]) live on an endpoint of their own choosing (by default
//! the first endpoint). A component with no copy (the default: scaled to
//! zero) answers every call 400 `ValidationError` with
//! [`NO_CAPACITY_MESSAGE`](crate::sagemaker::NO_CAPACITY_MESSAGE), and
//! neither botocore nor any AWS SDK retries that. The first such call starts
//! a scale-out, as the CloudWatch alarm on `NoCapacityInvocationFailures`
//! would; calls during it get the same 400; after the scale-out time
//! (default [`SCALE_OUT_TIME`](crate::sagemaker::SCALE_OUT_TIME), 4 min) the
//! component has one copy and serves, with the inference below and its
//! latency. After its idle time with no call (default 15 min, from the end
//! of the last call or from when the copy came up) it scales in to zero
//! again. All on tokio's clock. [`Emulator::component_stats`] counts
//! `invocations`, `no_capacity` answers, `scale_outs` (started) and
//! `scale_ins`. The start of a scale-out is logged at `DEBUG`, and so are
//! its end and a scale-in, when the emulator next looks at the component.
//!
//! ```
//! use std::time::Duration;
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use tower::ServiceExt;
//! use tower_sagemaker::emulator::{ComponentSpec, Emulator};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let emulator = Emulator::builder()
//!     .inference_component("llm", ComponentSpec::new().scale_out_time(Duration::from_secs(60)))?
//!     .build();
//! let call = || {
//!     http::Request::post("/endpoints/demo/invocations")
//!         .header("x-amzn-sagemaker-inference-component", "llm")
//!         .body(Full::new(Bytes::from("1,2")))
//! };
//! let res = emulator.clone().oneshot(call()?).await?;
//! assert_eq!(res.status(), 400); // no capacity: the scale-out starts
//! tokio::time::sleep(Duration::from_secs(60)).await;
//! let res = emulator.clone().oneshot(call()?).await?;
//! assert_eq!(res.status(), 200);
//! assert_eq!(emulator.component_stats("llm").unwrap().scale_outs, 1);
//! # Ok(())
//! # }
//! ```
//!
//! **Inference** is deterministic: each input row's sum. The input format
//! follows `Content-Type` (`application/json` or anything containing `json`:
//! `{"instances": [[1, 2], [3]]}`; anything else, or none: CSV, one row per
//! non-empty line, comma-separated numbers). The output format follows
//! `Accept` when present and not `*/*`, else the input format: CSV output is one
//! line per row (joined by `\n`, no trailing newline), each sum printed with
//! Rust's `f64` `Display`, whole numbers with `.0` (so
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
//! **Served** ([`Emulator::serve`]), it protects itself as a shared server:
//! a connection with no request in progress is closed after the idle
//! timeout (60 s), one slow to send a request head after the header read
//! timeout (10 s); a request body not complete within the body timeout (30 s)
//! gets 408 `RequestTimeoutException`; [`Server::shutdown`] ends within its
//! grace period (3 s) whatever clients do. [`EmulatorBuilder`] sets each.
//!
//! - *Connection cap* (512). Past it, new connections wait in the listen
//!   queue (4,096 deep, as the system allows), and the server closes the
//!   connection idle longest to make room, as soon as one has been idle for
//!   100 ms (connections that go idle later included): a caller past the cap
//!   waits for the first idle connection, not for the idle timeout. The
//!   100 ms spare connections a client has just opened or just got an answer
//!   on, which it may be about to use.
//! - *Request-body memory* (64 MiB), shared by the bodies of all requests in
//!   progress. A quarter is kept for the first 64 KiB of each body, so small
//!   requests are admitted while big uploads, stalled ones too, hold the rest;
//!   a request that cannot get its share within its body timeout gets 503
//!   `ServiceUnavailable`.
//! - *Bodies over 6 MiB* are read to their end (and dropped) within the body
//!   timeout before the 413 goes out, unless the client waits for
//!   `100 Continue`: closing a connection with unread bytes resets it, and the
//!   reset can reach the client before it has read the 413, so it would see a
//!   broken pipe and retry.
//!
//! Measured with the default settings over loopback on a 2-vCPU machine
//! (`cargo bench --all-features --bench served`, three runs each): 2,000
//! callers at once through one recommended stack on a model that loads in
//! 3 s all succeed, the last after 3.39 to 3.57 s; while 50 clients each
//! stall with 6 MiB less 64 KiB of a chunked body sent, a prober sending a
//! small call every 200 ms (3 s allowed each) gets 50 of 50 answered.
//!
//! **Service errors.** The service's error type is [`std::io::Error`]:
//! [`Fault::DropConnection`] answers `ErrorKind::ConnectionReset` (served: the
//! connection is closed with no response) and an unreadable request body
//! answers `ErrorKind::InvalidData`. Every other outcome is a response.

mod answer;
mod auth;
mod body;
mod component_spec;
mod components;
mod config;
mod connection;
mod faults;
mod headers;
mod inference;
mod registry;
mod request;
mod server;
mod service;

pub use self::component_spec::{ComponentSpec, InvalidComponentName};
pub use self::components::ComponentStats;
pub use self::config::{EmulatorBuilder, ModelSpec};
pub use self::faults::{Fault, FaultScope};
pub use self::registry::ModelStats;
pub use self::server::Server;
pub use self::service::Emulator;
