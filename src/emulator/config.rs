//! The emulator's configuration: [`ModelSpec`], [`EmulatorBuilder`] and the
//! server's limits. Plain settings that import nothing else of the emulator
//! but the components' own settings ([`ComponentSpec`], with the builder's
//! method that adds one); [`EmulatorBuilder::build`] is with the
//! [`Emulator`](super::Emulator), which it makes.

use std::time::Duration;

use super::component_spec::ComponentSpec;
use crate::sagemaker::internal::DEFAULT_REGION;
use crate::sagemaker::{COLD_START_HOLD, MAX_LOAD_TIME};

/// A model the emulator can load: its load time, size, inference latency and
/// whether its loads fail.
///
/// Settings follow the crate's rule: `foo(value)` sets, `get_foo()` reads.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::emulator::ModelSpec;
///
/// let spec = ModelSpec::new(Duration::from_secs(5)).size(200 << 20);
/// assert_eq!(spec.get_load_time(), Duration::from_secs(5));
/// assert_eq!(spec.get_size(), 200 << 20);
/// assert!(!spec.get_fail_load());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    pub(super) load_time: Duration,
    pub(super) size: u64,
    pub(super) fail_load: bool,
    pub(super) latency: Duration,
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

    /// Sets the memory the model takes when loaded, in bytes (default
    /// [`DEFAULT_SIZE`](Self::DEFAULT_SIZE)).
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// Sets whether every load of this model fails after its load time
    /// (default `false`).
    pub fn fail_load(mut self, fail: bool) -> Self {
        self.fail_load = fail;
        self
    }

    /// The load time.
    pub fn get_load_time(&self) -> Duration {
        self.load_time
    }

    /// The inference latency.
    pub fn get_latency(&self) -> Duration {
        self.latency
    }

    /// The size in bytes.
    pub fn get_size(&self) -> u64 {
        self.size
    }

    /// Whether loads fail.
    pub fn get_fail_load(&self) -> bool {
        self.fail_load
    }
}

/// Builds an [`Emulator`](super::Emulator).
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    pub(super) endpoints: Vec<String>,
    pub(super) models: Vec<(String, ModelSpec)>,
    pub(super) components: Vec<(String, ComponentSpec)>,
    pub(super) hold_timeout: Duration,
    pub(super) max_load_time: Duration,
    pub(super) memory: Option<u64>,
    pub(super) credentials: Option<(String, String)>,
    pub(super) region: String,
    pub(super) limits: Limits,
}

/// How the emulator protects itself as a server: timeouts, and caps on
/// connections and on the memory request bodies hold. Set through
/// [`EmulatorBuilder`]; the defaults are documented there.
#[derive(Debug, Clone)]
pub(super) struct Limits {
    pub(super) header_read_timeout: Duration,
    pub(super) idle_timeout: Duration,
    pub(super) request_body_timeout: Duration,
    pub(super) max_connections: usize,
    pub(super) request_body_memory: usize,
    pub(super) shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_body_timeout: Duration::from_secs(30),
            max_connections: 512,
            request_body_memory: 64 * 1024 * 1024,
            shutdown_timeout: Duration::from_secs(3),
        }
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            models: Vec::new(),
            components: Vec::new(),
            hold_timeout: COLD_START_HOLD,
            max_load_time: MAX_LOAD_TIME,
            memory: None,
            credentials: None,
            region: DEFAULT_REGION.into(),
            limits: Limits::default(),
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

    /// The region of the emulated endpoint: requests must be signed for it,
    /// and it appears in error messages and ARNs (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// How long [`Server::shutdown`](super::Server::shutdown) lets
    /// in-flight requests finish before it closes their connections
    /// (default 3 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.limits.shutdown_timeout = timeout;
        self
    }

    /// How long a served connection may take to send a request's head once
    /// its first byte has come (default 10 s); a slower client is cut off.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// How long a served connection may stay open with no request in
    /// progress and nothing sent (default 60 s); it is then closed.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout;
        self
    }

    /// How long reading one request's body may take (default 30 s); a
    /// request whose body is not complete by then gets 408
    /// `RequestTimeoutException` and its memory is freed.
    pub fn request_body_timeout(mut self, timeout: Duration) -> Self {
        self.limits.request_body_timeout = timeout;
        self
    }

    /// The most connections served at once (default 512). Past it, a new
    /// connection waits in the listen queue while the server closes the
    /// connection idle longest, as soon as one has been idle for 100 ms, so
    /// neither a flood of idle sockets nor clients keeping connections alive
    /// lock other clients out.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.limits.max_connections = max.max(1);
        self
    }

    /// The most memory, in bytes, that the bodies of all requests in
    /// progress may hold together (default 64 MiB); one body may hold up to
    /// [`MAX_PAYLOAD_BYTES`](crate::sagemaker::MAX_PAYLOAD_BYTES). A quarter
    /// is kept for the first 64 KiB of each body, so small requests get in
    /// while big uploads hold the rest. A request that cannot get memory
    /// within its body timeout gets 503 `ServiceUnavailable`.
    pub fn request_body_memory(mut self, bytes: usize) -> Self {
        self.limits.request_body_memory = bytes;
        self
    }
}
