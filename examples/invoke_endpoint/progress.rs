//! Progress lines on stderr, from the retry layer's events: each attempt,
//! its outcome, the wait before the next and the time left.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use tower_sagemaker::retry::{Decision, RetryEvent, RetryReason};

use crate::cli::chain;

#[derive(Clone)]
pub struct Progress {
    /// When the program started (the origin of the timestamps).
    start: Instant,
    /// The number of the latest attempt.
    pub attempt: Arc<AtomicU32>,
    /// When the latest attempt was sent.
    sent: Arc<Mutex<Instant>>,
    attempts_max: u32,
    /// Whether an inference component answered "no capacity": its retries
    /// are bounded by the deadline, not by the number of attempts.
    scaling_out: Arc<AtomicBool>,
    /// Whether the call ended because no retries were left.
    retries_exhausted: Arc<AtomicBool>,
}

impl Progress {
    pub fn new(start: Instant, max_retries: u32) -> Self {
        Self {
            start,
            attempt: Arc::new(AtomicU32::new(0)),
            sent: Arc::new(Mutex::new(Instant::now())),
            attempts_max: max_retries.saturating_add(1),
            scaling_out: Arc::new(AtomicBool::new(false)),
            retries_exhausted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the call ended because no retries were left (botocore then
    /// says "reached max retries" in its error message).
    pub fn retries_exhausted(&self) -> bool {
        self.retries_exhausted.load(Ordering::SeqCst)
    }

    /// Whether the call met an inference component scaling out from zero.
    pub fn scaling_out(&self) -> bool {
        self.scaling_out.load(Ordering::SeqCst)
    }

    /// `N/MAX`, or `N` once the deadline alone bounds the attempts.
    fn numbered(&self, attempt: u32) -> String {
        match self.scaling_out() {
            true => attempt.to_string(),
            false => format!("{attempt}/{}", self.attempts_max),
        }
    }

    /// A callback for `ModelNotReadyRetryLayer::on_event` that prints each event.
    pub fn on_event(&self) -> impl Fn(&RetryEvent<'_>) + Send + Sync + 'static {
        let p = self.clone();
        move |event| p.print(event)
    }

    fn print(&self, event: &RetryEvent<'_>) {
        let at = stamp(self.start);
        let left = |remaining: Option<Duration>| {
            remaining
                .map(|r| format!(" ({} left)", secs(r)))
                .unwrap_or_default()
        };
        match event {
            RetryEvent::Attempt { attempt, remaining } => {
                self.attempt.store(*attempt, Ordering::SeqCst);
                *self.sent.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
                eprintln!(
                    "[{at}] attempt {}: sending{}",
                    self.numbered(*attempt),
                    left(*remaining)
                );
            }
            RetryEvent::Outcome(o) => {
                let took = secs(
                    self.sent
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .elapsed(),
                );
                let what = match (o.status, o.error_code, o.error) {
                    (Some(status), Some(code), _) if !status.is_success() => {
                        format!("{} {code}", status.as_u16())
                    }
                    (Some(status), _, _) => status_text(status),
                    (None, _, Some(error)) => format!("failed: {}", chain(error)),
                    (None, _, None) => "failed".to_owned(),
                };
                eprintln!(
                    "[{at}] attempt {}: {what} after {took}",
                    self.numbered(o.attempt)
                );
                if o.reason == Some(RetryReason::NoCapacity) {
                    self.scaling_out.store(true, Ordering::SeqCst);
                    eprintln!(
                        "[{at}]   inference component `{}` has no copy yet: it is scaling out from zero{}",
                        o.inference_component.unwrap_or("?"),
                        o.since_first_no_capacity
                            .filter(|d| *d >= Duration::from_secs(1))
                            .map(|d| format!(" (waiting {} so far)", secs(d)))
                            .unwrap_or_default()
                    );
                }
                match o.decision {
                    Decision::Retry { delay } => {
                        eprintln!("[{at}]   retrying in {}{}", secs(delay), left(o.remaining))
                    }
                    Decision::DeadlineWouldPass => eprintln!(
                        "[{at}]   not retrying: the next wait would end after the deadline{}",
                        left(o.remaining)
                    ),
                    Decision::RetriesExhausted => {
                        self.retries_exhausted.store(true, Ordering::SeqCst);
                        eprintln!("[{at}]   no retries left")
                    }
                    Decision::DeadlineExceeded => eprintln!("[{at}]   the deadline passed"),
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_owned()
}

/// `RUST_LOG`, or `--debug`, adds the usual formatted logs on stderr.
pub fn init_tracing(debug: bool) {
    let filter = if debug {
        Some(tracing_subscriber::EnvFilter::new("debug"))
    } else {
        std::env::var_os("RUST_LOG").map(|_| tracing_subscriber::EnvFilter::from_default_env())
    };
    if let Some(filter) = filter {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            // Colours for a terminal only: not in a log file or a pipe.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter)
            .try_init();
    }
}

pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s >= 10.0 && d.subsec_millis() == 0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

pub fn stamp(start: Instant) -> String {
    format!("{:6.2}s", start.elapsed().as_secs_f64())
}
