//! The settings of an inference component: [`ComponentSpec`], and
//! [`EmulatorBuilder::inference_component`], which adds one. Plain settings,
//! like [`config`](super::config); the behaviour is in `components.rs`.

use std::fmt;
use std::time::Duration;

use super::config::EmulatorBuilder;
use crate::sagemaker::{check_invoke_header, INFERENCE_COMPONENT_HEADER, SCALE_OUT_TIME};

/// An inference component an endpoint hosts: its copies, how long it takes
/// to scale out from zero, how long it stays idle before it scales in to
/// zero, and its inference latency.
///
/// Settings follow the crate's rule: `foo(value)` sets, `get_foo()` reads.
///
/// ```
/// use std::time::Duration;
/// use tower_sagemaker::emulator::ComponentSpec;
/// use tower_sagemaker::sagemaker::SCALE_OUT_TIME;
///
/// // Scaled to zero: the first call starts a scale-out of 4 minutes.
/// let spec = ComponentSpec::new();
/// assert_eq!(spec.get_copies(), 0);
/// assert_eq!(spec.get_scale_out_time(), SCALE_OUT_TIME);
/// assert_eq!(spec.get_idle_time(), ComponentSpec::DEFAULT_IDLE_TIME);
///
/// // One copy up at once, on endpoint `ics`, back to zero after 5 idle minutes.
/// let spec = ComponentSpec::new()
///     .copies(1)
///     .idle_time(Duration::from_secs(300))
///     .latency(Duration::from_millis(20))
///     .endpoint("ics");
/// assert_eq!(spec.get_copies(), 1);
/// assert_eq!(spec.get_endpoint(), Some("ics"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    pub(super) copies: u32,
    pub(super) scale_out_time: Duration,
    pub(super) idle_time: Duration,
    pub(super) latency: Duration,
    pub(super) endpoint: Option<String>,
}

impl Default for ComponentSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl ComponentSpec {
    /// The default idle time before a component scales in to zero copies:
    /// 15 minutes. The emulator's choice: a scale-in policy acts after a
    /// quiet spell whose length each deployment sets for itself.
    pub const DEFAULT_IDLE_TIME: Duration = Duration::from_secs(15 * 60);

    /// A component scaled to zero (no copy), with the default scale-out time
    /// ([`SCALE_OUT_TIME`]) and idle time
    /// ([`DEFAULT_IDLE_TIME`](Self::DEFAULT_IDLE_TIME)), and no latency.
    pub fn new() -> Self {
        Self {
            copies: 0,
            scale_out_time: SCALE_OUT_TIME,
            idle_time: Self::DEFAULT_IDLE_TIME,
            latency: Duration::ZERO,
            endpoint: None,
        }
    }

    /// Sets the copies the component has when the emulator is built
    /// (default 0: scaled to zero). Any number from 1 serves calls; a
    /// scale-out brings one copy, a scale-in takes all of them away.
    pub fn copies(mut self, copies: u32) -> Self {
        self.copies = copies;
        self
    }

    /// Sets how long a scale-out takes, from the first call that finds no
    /// copy to the copy that serves (default [`SCALE_OUT_TIME`], 4 min: the
    /// alarm on `NoCapacityInvocationFailures`, then an instance and a copy).
    pub fn scale_out_time(mut self, time: Duration) -> Self {
        self.scale_out_time = time;
        self
    }

    /// Sets how long the component may go without a call before it scales
    /// in to zero copies (default [`DEFAULT_IDLE_TIME`](Self::DEFAULT_IDLE_TIME));
    /// the time runs from the end of the last call, or from when the copy
    /// came up. `Duration::MAX` never scales in.
    pub fn idle_time(mut self, time: Duration) -> Self {
        self.idle_time = time;
        self
    }

    /// Sets how long each inference takes on a copy (default zero); the copy
    /// is busy, so it does not scale in, meanwhile.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the endpoint that hosts the component (default: the first
    /// endpoint of the [`EmulatorBuilder`], `demo` if it has none). The
    /// endpoint is added if the builder does not name it. An endpoint that
    /// hosts components serves only them: it is not a multi-model endpoint.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The copies at start.
    pub fn get_copies(&self) -> u32 {
        self.copies
    }

    /// The scale-out time.
    pub fn get_scale_out_time(&self) -> Duration {
        self.scale_out_time
    }

    /// The idle time before a scale-in.
    pub fn get_idle_time(&self) -> Duration {
        self.idle_time
    }

    /// The inference latency.
    pub fn get_latency(&self) -> Duration {
        self.latency
    }

    /// The endpoint, if set.
    pub fn get_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }
}

/// An inference component name the service would refuse, from
/// [`EmulatorBuilder::inference_component`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidComponentName {
    name: String,
    rule: &'static str,
}

impl InvalidComponentName {
    /// The name refused.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for InvalidComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid inference component name {:?}: {}",
            self.name, self.rule
        )
    }
}

impl std::error::Error for InvalidComponentName {}

impl EmulatorBuilder {
    /// Adds (or replaces) an inference component. Its name must be one the
    /// service accepts: 1 to 63 letters and digits, with hyphens between
    /// them (`^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$`). Names are unique
    /// across the emulator, as in an account and region.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tower_sagemaker::emulator::{ComponentSpec, Emulator};
    ///
    /// # fn main() -> Result<(), tower_sagemaker::emulator::InvalidComponentName> {
    /// let emulator = Emulator::builder()
    ///     .inference_component("llm", ComponentSpec::new().scale_out_time(Duration::from_secs(60)))?
    ///     .build();
    /// assert_eq!(emulator.component_copies("llm"), Some(0));
    ///
    /// let err = Emulator::builder()
    ///     .inference_component("no_underscores", ComponentSpec::new())
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("1 to 63 letters and digits"), "{err}");
    /// # Ok(())
    /// # }
    /// ```
    pub fn inference_component(
        mut self,
        name: impl Into<String>,
        spec: ComponentSpec,
    ) -> Result<Self, InvalidComponentName> {
        let name = name.into();
        if let Err(e) = check_invoke_header(&INFERENCE_COMPONENT_HEADER, &name) {
            return Err(InvalidComponentName {
                name,
                rule: e.rule(),
            });
        }
        self.components.retain(|(n, _)| *n != name);
        self.components.push((name, spec));
        Ok(self)
    }
}
