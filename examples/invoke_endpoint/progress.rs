//! Progress lines on stderr: each attempt, its outcome, the wait before the
//! next and the time left.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{BoxError, Service};
use tower_sagemaker::ErrorCode;

use crate::cli::{chain, Args};

#[derive(Clone)]
pub struct Progress {
    /// When the program started (the origin of the timestamps).
    start: Instant,
    /// When the call, and so its deadline, started.
    call_start: Instant,
    budget: Duration,
    pub attempt: Arc<AtomicU32>,
    attempts_max: u32,
}

impl Progress {
    /// Progress of a call that starts now (and its deadline with it).
    pub fn new(start: Instant, args: &Args) -> Self {
        Self {
            start,
            call_start: Instant::now(),
            budget: args.deadline,
            attempt: Arc::new(AtomicU32::new(0)),
            attempts_max: args.max_retries.saturating_add(1),
        }
    }
}

/// Sits inside the retry layer, so it sees every attempt: prints when it
/// starts and how it ends.
#[derive(Clone)]
pub struct ReportAttempts<S> {
    inner: S,
    progress: Progress,
}

impl<S> ReportAttempts<S> {
    pub fn new(inner: S, progress: Progress) -> Self {
        Self { inner, progress }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> Service<Request<Full<Bytes>>> for ReportAttempts<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<R>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<R>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Full<Bytes>>) -> Self::Future {
        let p = self.progress.clone();
        let n = p.attempt.fetch_add(1, Ordering::SeqCst) + 1;
        // The retry layer keeps the `Deadline` to itself; the budget started
        // when the call did.
        let left = p.budget.saturating_sub(p.call_start.elapsed());
        let left = format!(", {} left", secs(left));
        eprintln!(
            "[{}] attempt {n}/{}: sending{left}",
            stamp(p.start),
            p.attempts_max
        );
        let future = self.inner.call(req);
        let guard = AttemptGuard {
            progress: p.clone(),
            attempt: n,
            sent: Instant::now(),
            finished: false,
        };
        Box::pin(async move {
            let mut guard = guard;
            // Beneath it, CollectBodyLayer has read the body (or left a
            // retried response's body unread).
            let result = future.await.map_err(Into::into);
            guard.finish();
            let took = secs(guard.sent.elapsed());
            let head = format!("[{}] attempt {n}/{}", stamp(p.start), p.attempts_max);
            match &result {
                Ok(res) if res.status().is_success() => {
                    eprintln!("{head}: {} after {took}", status_text(res.status()));
                }
                Ok(res) => {
                    // `429 ModelNotReadyException`, or `502 Bad Gateway` without a code.
                    let what = match ErrorCode::from_headers(res.headers()) {
                        Some(code) => format!("{} {code}", res.status().as_u16()),
                        None => status_text(res.status()),
                    };
                    eprintln!("{head}: {what} after {took}");
                }
                Err(e) => eprintln!("{head}: failed after {took}: {}", chain(&**e)),
            }
            result
        })
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

/// Reports an attempt the retry layer abandoned (per-attempt timeout or deadline).
struct AttemptGuard {
    progress: Progress,
    attempt: u32,
    sent: Instant,
    finished: bool,
}

impl AttemptGuard {
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        if !self.finished {
            eprintln!(
                "[{}] attempt {}/{}: no answer after {}, abandoned",
                stamp(self.progress.start),
                self.attempt,
                self.progress.attempts_max,
                secs(self.sent.elapsed())
            );
        }
    }
}

/// Prints the retry layer's `retrying SageMaker call` events (the wait before
/// the next attempt and the time left) as progress lines. `RUST_LOG` adds the
/// usual formatted logs.
pub fn init_tracing(start: Instant, debug: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer as _;

    let filter = if debug {
        Some(tracing_subscriber::EnvFilter::new("debug"))
    } else {
        std::env::var_os("RUST_LOG").map(|_| tracing_subscriber::EnvFilter::from_default_env())
    };
    let fmt = filter.map(|filter| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
    });
    let _ = tracing_subscriber::registry()
        .with(RetryEvents { start })
        .with(fmt)
        .try_init();
}

struct RetryEvents {
    start: Instant,
}

#[derive(Default)]
struct RetryFields {
    message: String,
    delay_ms: Option<u64>,
    remaining_ms: Option<u64>,
}

impl tracing::field::Visit for RetryFields {
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "delay_ms" => self.delay_ms = Some(value),
            "remaining_ms" => self.remaining_ms = Some(value),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RetryEvents {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if !event.metadata().target().starts_with("tower_sagemaker") {
            return;
        }
        let mut fields = RetryFields::default();
        event.record(&mut fields);
        let ms = |v: Option<u64>| v.map(|ms| secs(Duration::from_millis(ms)));
        let left = ms(fields.remaining_ms)
            .map(|s| format!(" ({s} left)"))
            .unwrap_or_default();
        let wait = ms(fields.delay_ms).unwrap_or_default();
        if fields.message == "retrying SageMaker call" {
            eprintln!("[{}]   retrying in {wait}{left}", stamp(self.start));
        } else if fields.message.starts_with("not retrying") {
            eprintln!(
                "[{}]   not retrying: the next wait ({wait}) would end after the deadline{left}",
                stamp(self.start)
            );
        }
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
