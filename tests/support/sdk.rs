//! The AWS SDK on tokio's paused clock: its clock, and an HTTP client that
//! answers in memory.
//!
//! On the paused clock a loopback request can be in flight when the runtime
//! finds nothing to do and moves the clock on (a loaded machine delivers
//! loopback data late), and the SDK reads the system's clock for some of
//! its checks (stalled streams, signing, clock skew). With both here, every
//! time the test sees is tokio's.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use tokio::time::Instant;

/// The SDK's clock, following tokio's paused clock from the system time at
/// its creation.
#[derive(Debug, Clone, Copy)]
pub struct PausedClock {
    base: SystemTime,
    start: Instant,
}

impl PausedClock {
    pub fn new() -> Self {
        Self {
            base: SystemTime::now(),
            start: Instant::now(),
        }
    }
}

impl aws_smithy_async::time::TimeSource for PausedClock {
    fn now(&self) -> SystemTime {
        self.base + self.start.elapsed()
    }
}

/// An SDK HTTP client whose every request is answered at once by `answer`.
pub struct InMemory(Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>);

impl InMemory {
    pub fn new(answer: impl Fn(&HttpRequest) -> HttpResponse + Send + Sync + 'static) -> Self {
        Self(Arc::new(answer))
    }
}

impl Clone for InMemory {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl fmt::Debug for InMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InMemory")
    }
}

impl HttpConnector for InMemory {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok((self.0)(&request)))
    }
}

impl HttpClient for InMemory {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}
