//! Inference components: copies, the scale-out from zero that the first call
//! finding no copy starts, the scale-in after an idle time, counters; and
//! how an endpoint that hosts components routes a request.
//!
//! Like the model registry, state moves on tokio's clock and lazily: each
//! look at it first applies the scale-outs and scale-ins whose time has come,
//! at the instant they were due, so a paused clock drives it exactly and no
//! task runs in the background.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use http::HeaderMap;
use tokio::time::Instant;

use super::answer::ErrorAnswer;
use super::component_spec::ComponentSpec;
use crate::sagemaker::internal::EMULATOR_ACCOUNT_ID;
use crate::sagemaker::{INFERENCE_COMPONENT_HEADER, NO_CAPACITY_MESSAGE, TARGET_MODEL_HEADER};

/// Counters of one inference component, from
/// [`Emulator::component_stats`](super::Emulator::component_stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComponentStats {
    /// Calls that reached a copy (whatever the inference result).
    pub invocations: u64,
    /// 400 `ValidationError` answers for want of a copy (what the
    /// `NoCapacityInvocationFailures` metric counts).
    pub no_capacity: u64,
    /// Scale-outs started: one per call that found no copy and no
    /// scale-out under way.
    pub scale_outs: u64,
    /// Scale-ins to zero copies after the idle time.
    pub scale_ins: u64,
}

/// Shared state of the inference components of an emulator.
#[derive(Debug)]
pub(crate) struct Components {
    state: Mutex<HashMap<String, Entry>>,
    /// The endpoints that host at least one component.
    endpoints: HashSet<String>,
}

#[derive(Debug)]
struct Entry {
    endpoint: String,
    spec: ComponentSpec,
    stats: ComponentStats,
    status: Status,
    in_flight: u32,
    /// Since when no call has been in progress (the idle time runs from here).
    idle_since: Instant,
}

#[derive(Debug, Clone, Copy)]
enum Status {
    /// This many copies (at least one) serve calls.
    Up(u32),
    /// No copy, and no scale-out under way.
    Zero,
    /// No copy; one comes up at this instant (`None`: never, the scale-out
    /// time is past what the clock can count).
    ScalingOut(Option<Instant>),
}

/// One call in progress on a copy: the component does not scale in meanwhile.
#[derive(Debug)]
pub(crate) struct InFlightCopy {
    components: Arc<Components>,
    name: String,
}

impl Drop for InFlightCopy {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut state = self.components.lock();
        if let Some(e) = state.get_mut(&self.name) {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.idle_since = now;
        }
    }
}

impl Components {
    /// Components as `(name, spec, endpoint)`, their idle time running from `now`.
    pub(crate) fn new(components: Vec<(String, ComponentSpec, String)>, now: Instant) -> Self {
        let endpoints = components.iter().map(|(_, _, e)| e.clone()).collect();
        let state = components
            .into_iter()
            .map(|(name, spec, endpoint)| {
                let status = match spec.copies {
                    0 => Status::Zero,
                    n => Status::Up(n),
                };
                let entry = Entry {
                    endpoint,
                    spec,
                    stats: ComponentStats::default(),
                    status,
                    in_flight: 0,
                    idle_since: now,
                };
                (name, entry)
            })
            .collect();
        Self {
            state: Mutex::new(state),
            endpoints,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        for (name, e) in state.iter_mut() {
            e.refresh(name, now);
        }
        state
    }

    /// Whether `endpoint` hosts components (and so serves nothing else).
    pub(crate) fn hosts(&self, endpoint: &str) -> bool {
        self.endpoints.contains(endpoint)
    }

    pub(crate) fn stats(&self, name: &str) -> Option<ComponentStats> {
        self.lock().get(name).map(|e| e.stats)
    }

    pub(crate) fn copies(&self, name: &str) -> Option<u32> {
        self.lock().get(name).map(|e| match e.status {
            Status::Up(n) => n,
            Status::Zero | Status::ScalingOut(_) => 0,
        })
    }

    /// A copy of component `name` of `endpoint` for one call, after its
    /// latency; or the answer when there is none (starting a scale-out if
    /// none is under way), or no such component.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        endpoint: &str,
        name: &str,
    ) -> Result<InFlightCopy, ErrorAnswer> {
        let latency = {
            let mut state = self.lock();
            let now = Instant::now();
            let Some(e) = state.get_mut(name).filter(|e| e.endpoint == endpoint) else {
                return Err(unknown(endpoint, name));
            };
            match e.status {
                Status::Up(_) => {
                    e.in_flight += 1;
                    e.idle_since = now;
                    e.stats.invocations += 1;
                    e.spec.latency
                }
                Status::Zero | Status::ScalingOut(_) => {
                    e.stats.no_capacity += 1;
                    if let Status::Zero = e.status {
                        // As the CloudWatch alarm on NoCapacityInvocationFailures would.
                        e.status = Status::ScalingOut(now.checked_add(e.spec.scale_out_time));
                        e.stats.scale_outs += 1;
                        tracing::debug!(component = name, endpoint = %endpoint, scale_out_time = ?e.spec.scale_out_time, "emulator started scaling out inference component");
                    }
                    return Err(ErrorAnswer::validation(NO_CAPACITY_MESSAGE));
                }
            }
        };
        let copy = InFlightCopy {
            components: Arc::clone(self),
            name: name.to_owned(),
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        Ok(copy)
    }
}

impl Entry {
    /// Applies the scale-out and scale-in whose time has come, each at the
    /// instant it was due.
    fn refresh(&mut self, name: &str, now: Instant) {
        if let Status::ScalingOut(Some(ready_at)) = self.status {
            if now >= ready_at {
                self.status = Status::Up(1);
                self.idle_since = ready_at;
                tracing::debug!(component = name, endpoint = %self.endpoint, "emulator scaled out inference component to 1 copy");
            }
        }
        if let Status::Up(_) = self.status {
            let due = self.idle_since.checked_add(self.spec.idle_time);
            if self.in_flight == 0 && due.is_some_and(|due| now >= due) {
                self.status = Status::Zero;
                self.stats.scale_ins += 1;
                tracing::debug!(component = name, endpoint = %self.endpoint, idle_time = ?self.spec.idle_time, "emulator scaled in idle inference component to 0 copies");
            }
        }
    }
}

/// The component a request for `endpoint`, which hosts components, names;
/// the header values' forms are already checked.
pub(super) fn named<'a>(endpoint: &str, headers: &'a HeaderMap) -> Result<&'a str, ErrorAnswer> {
    let Some(component) = headers.get(INFERENCE_COMPONENT_HEADER) else {
        // The service's wording, as users quote it: GitHub issues
        // aws-samples/amazon-kendra-langchain-extensions#64,
        // garystafford/llm-langchain-sql-demo#1 and langchain-ai/langchain#14344
        // (found with the `search` tool, corpus `issues`).
        return Err(ErrorAnswer::validation(
            "Inference Component Name header is required for endpoints to which you plan to deploy inference components. Please include Inference Component Name header or consider using SageMaker models.",
        ));
    };
    if headers.contains_key(TARGET_MODEL_HEADER) {
        // No quote found of the answer to both headers. This is the service's
        // answer to a target model on an endpoint that is not a multi-model
        // endpoint, as quoted in GitHub issue aws/amazon-sagemaker-examples#1026
        // (found with the `search` tool, corpus `issues`); an endpoint that
        // hosts components is not one.
        return Err(ErrorAnswer::validation(format!(
            "Endpoint {endpoint} is not a multi-model endpoint and does not support target model header."
        )));
    }
    // Checked: 1 to 63 letters, digits and hyphens, so visible ASCII.
    Ok(component.to_str().unwrap_or_default())
}

/// The answer to a component header on an endpoint that hosts none.
pub(super) fn not_allowed() -> ErrorAnswer {
    // The service's wording as a test fixture of a SageMaker client quotes it
    // in full (found with `find_string` on "Inference Component Name header
    // is not allowed", `code` corpus, a LiteLLM SageMaker integration test);
    // its first words are also quoted by a user who met it on a JumpStart
    // endpoint ("Serverless AI Chatbot with AWS Lambda and SageMaker"
    // README). "dont" is as quoted.
    ErrorAnswer::validation(
        "Inference Component Name header is not allowed for endpoints to which you dont plan to deploy inference components. Please remove the Inference Component Name header and try again.",
    )
}

/// The answer to a component that `endpoint` does not host.
fn unknown(endpoint: &str, name: &str) -> ErrorAnswer {
    // No quote of the runtime's answer found (searched the `pages`, `docs`,
    // `issues` and `code` corpora). The control plane says "Could not find
    // inference component" (the SageMaker Python SDK's
    // `ModelBuilder._does_ic_exist` and hashicorp/terraform-provider-aws's
    // internal/service/sagemaker/inference_component.go match on it); the
    // runtime names the account as in "Endpoint X of account N not found.".
    ErrorAnswer::validation(format!(
        "Could not find inference component {name} on endpoint {endpoint} of account {EMULATOR_ACCOUNT_ID}."
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scale_out_then_in_on_the_paused_clock() {
        let spec = ComponentSpec::new()
            .scale_out_time(Duration::from_secs(10))
            .idle_time(Duration::from_secs(60));
        let c = Arc::new(Components::new(
            vec![("ic".into(), spec, "e".into())],
            Instant::now(),
        ));
        assert!(c.acquire("e", "ic").await.is_err());
        assert!(c.acquire("other", "ic").await.is_err());
        tokio::time::sleep(Duration::from_secs(10)).await;
        let copy = c.acquire("e", "ic").await;
        assert!(copy.is_ok(), "no copy after the scale-out");
        drop(copy);
        assert_eq!(c.copies("ic"), Some(1));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(c.copies("ic"), Some(0));
        let s = c.stats("ic").unwrap();
        assert_eq!(
            (s.invocations, s.no_capacity, s.scale_outs, s.scale_ins),
            (1, 1, 1, 1)
        );
    }
}
