//! The demo models the examples' embedded emulator serves by default.
#![allow(dead_code)] // Each example uses part of it.

use std::time::Duration;

use tower_sagemaker::emulator::{EmulatorBuilder, ModelSpec};

/// Name and load time of each demo model.
pub const DEMO_MODELS: [(&str, Duration); 3] = [
    ("model-1.tar.gz", Duration::from_millis(200)),
    ("model-2.tar.gz", Duration::from_millis(1500)),
    ("model-3.tar.gz", Duration::from_secs(4)),
];

/// `builder` with the demo models.
pub fn with_demo_models(mut builder: EmulatorBuilder) -> EmulatorBuilder {
    for (name, load_time) in DEMO_MODELS {
        builder = builder.model(name, ModelSpec::new(load_time));
    }
    builder
}

/// The demo models in words: `model-1.tar.gz (cold start 200 ms), ...`.
pub fn describe_demo_models() -> String {
    DEMO_MODELS
        .iter()
        .map(|(name, load)| format!("{name} (cold start {} ms)", load.as_millis()))
        .collect::<Vec<_>>()
        .join(", ")
}
