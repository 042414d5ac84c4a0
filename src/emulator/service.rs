//! [`Emulator`]: the emulated endpoint as a tower service, made by
//! [`EmulatorBuilder::build`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use tower::BoxError;

use super::answer::Outcome;
use super::auth::Verifier;
use super::body::BodyBudget;
use super::components::{ComponentStats, Components};
use super::config::EmulatorBuilder;
use super::faults::{Fault, FaultScope, Faults};
use super::registry::{ModelStats, Registry};
use super::request::{lock, Shared};
use super::server::{self, Server};
use crate::sagemaker::{INVOCATION_ID_HEADER, REQUEST_ID_HEADER, SDK_REQUEST_HEADER};

/// The emulated multi-model endpoint(s), and endpoints hosting inference
/// components. Cheap to clone: all clones share state.
///
/// It is a `tower::Service<http::Request<B>>` answering
/// `http::Response<Full<Bytes>>`, with [`io::Error`] as error type (see the
/// [module docs](super)), and [`Emulator::serve`] serves it over HTTP/1.1.
#[derive(Clone)]
pub struct Emulator {
    inner: Arc<Shared>,
}

impl EmulatorBuilder {
    /// Builds the emulator.
    pub fn build(self) -> Emulator {
        let mut endpoints = if self.endpoints.is_empty() {
            vec!["demo".to_owned()]
        } else {
            self.endpoints
        };
        // Each component on its endpoint, by default the first one.
        let mut components = Vec::with_capacity(self.components.len());
        for (name, spec) in self.components {
            let endpoint = spec
                .get_endpoint()
                .unwrap_or(endpoints[0].as_str())
                .to_owned();
            if !endpoints.contains(&endpoint) {
                endpoints.push(endpoint.clone());
            }
            components.push((name, spec, endpoint));
        }
        let verifier = self.credentials.map(|(access_key, secret_key)| Verifier {
            access_key,
            secret_key,
            region: self.region.clone(),
        });
        Emulator {
            inner: Arc::new(Shared {
                endpoints,
                registry: Arc::new(Registry::new(
                    self.models,
                    self.hold_timeout,
                    self.max_load_time,
                    self.memory,
                )),
                components: Arc::new(Components::new(components, tokio::time::Instant::now())),
                verifier,
                region: self.region,
                faults: Mutex::new(Faults::default()),
                request_seq: AtomicU64::new(0),
                body_budget: BodyBudget::new(self.limits.request_body_memory),
                limits: self.limits,
            }),
        }
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("endpoints", &self.inner.endpoints)
            .field("region", &self.inner.region)
            .field("registry", &self.inner.registry)
            .field("components", &self.inner.components)
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

    /// The counters of inference component `name`, `None` if it is not
    /// configured.
    pub fn component_stats(&self, name: &str) -> Option<ComponentStats> {
        self.inner.components.stats(name)
    }

    /// The copies inference component `name` has now (0 while scaled to
    /// zero or scaling out), `None` if it is not configured.
    pub fn component_copies(&self, name: &str) -> Option<u32> {
        self.inner.components.copies(name)
    }

    /// Bytes reserved by loaded and loading models.
    pub fn memory_used(&self) -> u64 {
        self.inner.registry.memory_used()
    }

    /// The configured endpoint names, with those the inference components
    /// name.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// Injects `fault` into the next `count` valid calls within `scope`
    /// (after the checks of endpoint, target model or inference component,
    /// and signature; before a component's capacity is looked at). Faults
    /// are consumed in the order they were injected.
    pub fn inject(&self, fault: Fault, scope: FaultScope, count: u32) {
        lock(&self.inner.faults).push(fault, scope, count);
    }

    /// Removes every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.inner.faults).clear();
    }

    /// Serves the emulator over HTTP/1.1 on `addr` (port 0 picks a free port).
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<Server> {
        server::serve(self.clone(), self.inner.limits.clone(), addr).await
    }
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
            let request_id = this.inner.request_id();
            let method = req.method().clone();
            let path = req.uri().path().to_owned();
            // How a client ties its attempts together (botocore, the AWS
            // SDKs and this crate's retry layer send them).
            let (invocation_id, sdk_request) = {
                let sdk = |name| {
                    let value = req.headers().get(name).and_then(|v| v.to_str().ok());
                    value
                        .filter(|_| tracing::enabled!(tracing::Level::DEBUG))
                        .map(str::to_owned)
                };
                (sdk(INVOCATION_ID_HEADER), sdk(SDK_REQUEST_HEADER))
            };
            let outcome = this.inner.handle(req).await;
            match &outcome {
                Outcome::Response(r) => {
                    tracing::debug!(%method, %path, status = r.status().as_u16(), %request_id, ?invocation_id, ?sdk_request, "emulator answered")
                }
                Outcome::Error(e) => {
                    tracing::debug!(%method, %path, status = e.status.as_u16(), code = %e.code, %request_id, ?invocation_id, ?sdk_request, "emulator answered an error")
                }
                Outcome::Drop => {
                    tracing::debug!(%method, %path, "emulator fault: dropping the connection")
                }
                Outcome::Stall => tracing::debug!(%method, %path, "emulator fault: stalling"),
                Outcome::Unreadable(e) => {
                    tracing::debug!(%method, %path, error = %e, "emulator could not read the request")
                }
            }
            match outcome {
                Outcome::Response(mut res) => {
                    if let Ok(v) = HeaderValue::from_str(&request_id) {
                        res.headers_mut().insert(REQUEST_ID_HEADER, v);
                    }
                    Ok(res)
                }
                Outcome::Error(e) => Ok(e.into_response(&request_id)),
                Outcome::Drop => Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "emulator fault: connection dropped",
                )),
                Outcome::Stall => std::future::pending().await,
                Outcome::Unreadable(e) => Err(e),
            }
        })
    }
}
