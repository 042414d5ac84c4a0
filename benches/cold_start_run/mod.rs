//! What the cold-start benchmarks (`cold_starts`, `cold_starts_sdk`) record
//! of one run, and the percentile they report.

use std::time::Duration;

/// One run of N callers on one cold model.
pub struct Run {
    /// Requests the endpoint received.
    pub requests: u64,
    /// 429 `ModelNotReadyException` answers.
    pub not_ready: u64,
    /// Time from "model loaded" to each successful caller's answer, sorted.
    pub after_load: Vec<Duration>,
    /// Callers that did not succeed.
    pub failed: usize,
}

/// The `p`th percentile (nearest rank) of `sorted`; zero when empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
