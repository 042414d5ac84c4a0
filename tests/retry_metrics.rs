//! `RetryMetrics`: what a metrics recorder receives from a call.
#![cfg(feature = "metrics")]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tower::{ServiceBuilder, ServiceExt};
use tower_sagemaker::retry::{LegacyRetries, ModelNotReadyRetryLayer, RetryMetrics};

/// Runs `steps` through the layer with `metrics` recording; what was
/// recorded, as `name{label=value,...}` -> value (counters) or seconds
/// (histograms, summed).
fn recorded(steps: Vec<Step>, max_retries: u32, metrics: RetryMetrics) -> BTreeMap<String, f64> {
    let base = LegacyRetries::new().get_backoff().get_base_delay();
    recorded_until(steps, max_retries, metrics, base, Duration::MAX)
}

/// [`recorded`] with a backoff of base `base`, the call dropped after `cut`
/// if it has not ended.
fn recorded_until(
    steps: Vec<Step>,
    max_retries: u32,
    metrics: RetryMetrics,
    base: Duration,
    cut: Duration,
) -> BTreeMap<String, f64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut req = request("1,2");
            req.headers_mut()
                .insert("x-amzn-sagemaker-target-model", "m.tar.gz".parse().unwrap());
            let call = ServiceBuilder::new()
                .layer(ModelNotReadyRetryLayer::new(
                    LegacyRetries::new()
                        .max_retries(max_retries)
                        .base_delay(base)
                        .on_event(move |e| metrics.record(e)),
                ))
                .service(Scripted::new(steps))
                .oneshot(req);
            let _ = tokio::time::timeout(cut, call).await;
        });
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let value = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(h) => h.iter().map(|v| v.into_inner()).sum(),
            };
            (name, value)
        })
        .collect()
}

#[test]
fn a_cold_start_records_attempts_retries_and_its_wait() {
    let steps = vec![
        Step::After(
            Duration::from_secs(60),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        Step::After(
            Duration::from_secs(60),
            Box::new(error_code(429, "ModelNotReadyException")),
        ),
        Step::After(Duration::from_secs(30), Box::new(respond(200))),
    ];
    let m = recorded(steps, 4, RetryMetrics::new());
    assert_eq!(
        m["tower_sagemaker_attempts_total{outcome=error_status}"], 2.0,
        "{m:#?}"
    );
    assert_eq!(
        m["tower_sagemaker_attempts_total{outcome=success}"], 1.0,
        "{m:#?}"
    );
    assert_eq!(
        m["tower_sagemaker_retries_total{reason=model_not_ready}"], 2.0,
        "{m:#?}"
    );
    let waited = m["tower_sagemaker_cold_start_wait_seconds{}"];
    assert!((90.0..93.0).contains(&waited), "{m:#?}");
    assert!(
        !m.keys().any(|k| k.contains("model=")),
        "no model label unless asked: {m:#?}"
    );
}

#[test]
fn give_ups_and_the_model_label() {
    let m = recorded(
        vec![respond(503), respond(503)],
        1,
        RetryMetrics::new().model_label(true),
    );
    assert_eq!(
        m["tower_sagemaker_retries_total{model=m.tar.gz,reason=server_error}"], 1.0,
        "{m:#?}"
    );
    assert_eq!(
        m["tower_sagemaker_give_ups_total{model=m.tar.gz,why=retries_exhausted}"], 1.0,
        "{m:#?}"
    );
    assert!(!m.keys().any(|k| k.contains("cold_start")), "{m:#?}");
}

/// A call dropped while it sleeps its backoff made one attempt: one is
/// counted, not a second for its end.
#[test]
fn a_call_ended_between_attempts_counts_only_the_attempts_it_made() {
    let m = recorded_until(
        vec![respond(503), respond(200)],
        4,
        RetryMetrics::new(),
        Duration::from_secs(100),
        Duration::from_millis(1),
    );
    // A backoff drawn under 1 ms (1 in 100,000) would let the retry through.
    if m.contains_key("tower_sagemaker_attempts_total{outcome=success}") {
        return;
    }
    assert_eq!(
        m["tower_sagemaker_attempts_total{outcome=error_status}"], 1.0,
        "{m:#?}"
    );
    assert!(
        !m.contains_key("tower_sagemaker_attempts_total{outcome=error}"),
        "{m:#?}"
    );
}
