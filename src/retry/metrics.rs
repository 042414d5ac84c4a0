//! [`RetryMetrics`]: the retry layer's events, recorded with the `metrics` facade.

use super::{Decision, RetryEvent};

/// Records what the retry layer (or [`LegacyRetryPolicy`](super::LegacyRetryPolicy))
/// does with the [`metrics`](https://docs.rs/metrics) facade (feature
/// `metrics`): whatever recorder the application installed (Prometheus,
/// StatsD, ...) receives them. Give it to
/// [`on_event`](super::LegacyRetries::on_event):
///
/// ```
/// use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer, RetryMetrics};
///
/// let metrics = RetryMetrics::new();
/// let layer = ModelNotReadyRetryLayer::new(LegacyRetries::new().on_event(move |event| metrics.record(event)));
/// # let _ = layer;
/// ```
///
/// | name | kind | labels | what |
/// |---|---|---|---|
/// | `tower_sagemaker_attempts_total` | counter | `outcome`: `success` (2xx), `error_status` (any other status), `error` (no response) | every attempt that ended |
/// | `tower_sagemaker_retries_total` | counter | `reason`: [`RetryReason::as_str`](super::RetryReason::as_str) (`too_many_requests`, `server_error`, `transport`, ...) | every retry decided (waits for another call's probe included) |
/// | `tower_sagemaker_give_ups_total` | counter | `why`: `retries_exhausted`, `deadline_would_pass`, `deadline_exceeded` | calls that ended on a retryable failure |
/// | `tower_sagemaker_cold_start_wait_seconds` | histogram | | for a call that got a 429 and then succeeded: the time from its first 429 to the success |
/// | `tower_sagemaker_scale_out_wait_seconds` | histogram | | for a call that got a no-capacity answer (`reason` `no_capacity`: an inference component scaling from zero) and then succeeded: the time from the first such answer to the success |
///
/// With [`model_label(true)`](Self::model_label) every metric also has a
/// `model` label, the request's target model; with
/// [`component_label(true)`](Self::component_label), a `component` label,
/// its inference component. Off by default: a client that talks to
/// thousands of models would create thousands of series.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryMetrics {
    model_label: bool,
    component_label: bool,
}

impl RetryMetrics {
    /// Records without a model label.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to label every metric with the target model (default `false`).
    pub fn model_label(mut self, on: bool) -> Self {
        self.model_label = on;
        self
    }

    /// Whether metrics carry the target model as a label.
    pub fn get_model_label(&self) -> bool {
        self.model_label
    }

    /// Whether to label every metric with the inference component (default `false`).
    pub fn component_label(mut self, on: bool) -> Self {
        self.component_label = on;
        self
    }

    /// Whether metrics carry the inference component as a label.
    pub fn get_component_label(&self) -> bool {
        self.component_label
    }

    /// Records `event`.
    pub fn record(&self, event: &RetryEvent<'_>) {
        let RetryEvent::Outcome(outcome) = event else {
            return;
        };
        let mut labels: Vec<(&'static str, String)> = Vec::with_capacity(3);
        if self.model_label {
            if let Some(model) = outcome.target_model {
                labels.push(("model", model.to_owned()));
            }
        }
        if self.component_label {
            if let Some(component) = outcome.inference_component {
                labels.push(("component", component.to_owned()));
            }
        }
        let with = |name: &'static str, value: &'static str| {
            let mut all = labels.clone();
            all.push((name, value.to_owned()));
            all
        };
        let kind = match (outcome.status, outcome.error) {
            (Some(status), _) if status.is_success() => "success",
            (Some(_), _) => "error_status",
            (None, _) => "error",
        };
        if !outcome.between_attempts {
            metrics::counter!("tower_sagemaker_attempts_total", &with("outcome", kind))
                .increment(1);
        }
        match outcome.decision {
            Decision::Retry { .. } | Decision::WaitForModel => {
                let reason = outcome.reason.map_or("unknown", |r| r.as_str());
                metrics::counter!("tower_sagemaker_retries_total", &with("reason", reason))
                    .increment(1);
            }
            Decision::RetriesExhausted => give_up(&with("why", "retries_exhausted")),
            Decision::DeadlineWouldPass => give_up(&with("why", "deadline_would_pass")),
            Decision::DeadlineExceeded => give_up(&with("why", "deadline_exceeded")),
            // A dropped call is neither a success nor a give-up.
            Decision::Cancelled => {}
            Decision::Return if outcome.status.is_some_and(|s| s.is_success()) => {
                if let Some(waited) = outcome.since_first_429 {
                    metrics::histogram!("tower_sagemaker_cold_start_wait_seconds", &labels)
                        .record(waited.as_secs_f64());
                }
                if let Some(waited) = outcome.since_first_no_capacity {
                    metrics::histogram!("tower_sagemaker_scale_out_wait_seconds", &labels)
                        .record(waited.as_secs_f64());
                }
            }
            Decision::Return => {}
        }
    }
}

fn give_up(labels: &[(&'static str, String)]) {
    metrics::counter!("tower_sagemaker_give_ups_total", labels).increment(1);
}
