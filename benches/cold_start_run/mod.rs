//! What the cold-start benchmarks (`cold_starts`, `cold_starts_sdk`) record
//! of one run, and the percentile they report.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

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

/// Runs `callers` at once, each the future `call()` makes (true when it
/// succeeded); returns the time from `ready` to each success, sorted, and how
/// many callers failed.
pub async fn callers<F>(
    callers: usize,
    call: impl Fn() -> F,
    ready: Instant,
) -> (Vec<Duration>, usize)
where
    F: Future<Output = bool> + Send + 'static,
{
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let call = call();
            tokio::spawn(async move { (call.await, Instant::now()) })
        })
        .collect();
    let mut after_ready = Vec::with_capacity(callers);
    let mut failed = 0;
    for task in tasks {
        match task.await.expect("caller task") {
            (true, done) => after_ready.push(done.saturating_duration_since(ready)),
            (false, _) => failed += 1,
        }
    }
    after_ready.sort();
    (after_ready, failed)
}
