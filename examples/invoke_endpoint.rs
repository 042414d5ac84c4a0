//! `aws sagemaker-runtime invoke-endpoint`, with boto3's patience for
//! multi-model endpoint cold starts, on a tower stack.
//!
//! ```text
//! cargo run --all-features --example invoke_endpoint -- \
//!     --endpoint-name demo --target-model model-3.tar.gz \
//!     --body "1.0,2.0,5.0" --content-type text/csv out.txt
//! ```
//!
//! - With neither `--endpoint-url` nor `--region` it starts this crate's
//!   multi-model endpoint emulator in-process on `127.0.0.1` with a few demo
//!   models, and calls it (signed; the emulator checks the signatures).
//! - With `--region` it calls `https://runtime.sagemaker.{region}.amazonaws.com`
//!   (or `--endpoint-url`), signing with SigV4 from `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
//!
//! The response body goes to the output file; the response metadata is printed
//! as JSON on stdout, as the AWS CLI does; progress (each attempt, its outcome,
//! the wait before the next, the time left) goes to stderr.
//!
//! The stack, outermost first:
//!
//! ```text
//! TargetModelLayer         sets X-Amzn-SageMaker-Target-Model
//! DeadlineLayer            one budget for the whole call (--deadline)
//! ModelNotReadyRetryLayer  botocore legacy retries (--max-retries, --read-timeout per attempt)
//! ReportAttempts           (this example) prints each attempt and reads the response body
//! SigV4Layer               signs each attempt afresh, target-model header included
//! hyper-util client        HTTP/1.1, rustls for https
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use bytes::Bytes;
use clap::Parser;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_sagemaker::emulator::{Emulator, ModelSpec};
use tower_sagemaker::sagemaker::{
    invocations_path, is_valid_endpoint_name, CUSTOM_ATTRIBUTES_HEADER,
    INVOKED_PRODUCTION_VARIANT_HEADER,
};
use tower_sagemaker::sigv4::SigningError;
use tower_sagemaker::{
    AttemptTimedOut, Attempts, DeadlineExceeded, DeadlineLayer, ErrorCode, ModelNotReadyRetryLayer,
    SigV4Layer, TargetModel, TargetModelLayer,
};

/// Invoke a SageMaker endpoint, riding through multi-model endpoint cold starts.
///
/// Mirrors `aws sagemaker-runtime invoke-endpoint`. Without --endpoint-url and
/// --region it runs against a local emulator with demo models
/// (model-1.tar.gz, model-2.tar.gz, model-3.tar.gz).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Name of the endpoint.
    #[arg(long)]
    endpoint_name: String,

    /// Request payload, as text; `fileb://PATH` or `file://PATH` reads a file.
    #[arg(long)]
    body: String,

    /// MIME type of the payload.
    #[arg(long)]
    content_type: Option<String>,

    /// Desired MIME type of the response.
    #[arg(long)]
    accept: Option<String>,

    /// Model of a multi-model endpoint to invoke (its path relative to the S3 prefix).
    #[arg(long)]
    target_model: Option<String>,

    /// Opaque data forwarded to the model container.
    #[arg(long)]
    custom_attributes: Option<String>,

    /// Endpoint URL (default: https://runtime.sagemaker.{region}.amazonaws.com).
    #[arg(long)]
    endpoint_url: Option<String>,

    /// AWS region to call and sign for.
    #[arg(long)]
    region: Option<String>,

    /// Retries after the first attempt, as botocore's `retries={'max_attempts': N}`.
    #[arg(long, default_value_t = 4)]
    max_retries: u32,

    /// Timeout of each attempt, in seconds (`70`, `1.5`, `500ms`).
    #[arg(long, default_value = "70", value_parser = parse_duration)]
    read_timeout: Duration,

    /// Budget of the whole call, retries and waits included, in seconds.
    #[arg(long, default_value = "360", value_parser = parse_duration)]
    deadline: Duration,

    /// File the response body is written to.
    outfile: PathBuf,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as 70, 1.5 or 500ms"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{s}`: {e}"))
}

/// Credentials the in-process emulator checks signatures against.
const DEMO_ACCESS_KEY: &str = "AKIDEMULATOR";
const DEMO_SECRET_KEY: &str = "emulator-secret-key";
const DEMO_REGION: &str = "us-east-1";
/// The demo models: name, load time.
const DEMO_MODELS: [(&str, Duration); 3] = [
    ("model-1.tar.gz", Duration::from_millis(200)),
    ("model-2.tar.gz", Duration::from_millis(1500)),
    ("model-3.tar.gz", Duration::from_secs(4)),
];
const DEMO_HOLD: Duration = Duration::from_millis(1500);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let start = Instant::now();
    init_tracing(start);
    match run(args, start).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Service(message)) => {
            eprintln!("\n{message}");
            ExitCode::from(254)
        }
        Err(Failure::Other(message)) => {
            eprintln!("\nerror: {message}");
            ExitCode::from(255)
        }
    }
}

enum Failure {
    /// The endpoint answered with an error response.
    Service(String),
    /// Anything else: bad arguments, no credentials, transport, deadline.
    Other(String),
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::Other(e.to_string())
    }
}

async fn run(args: Args, start: Instant) -> Result<(), Failure> {
    if !is_valid_endpoint_name(&args.endpoint_name) {
        return Err(Failure::Other(format!(
            "invalid --endpoint-name `{}`: 1 to 63 letters, digits and inner hyphens",
            args.endpoint_name
        )));
    }
    let target_model = args
        .target_model
        .as_deref()
        .map(TargetModel::new)
        .transpose()
        .map_err(|e| format!("--target-model: {e}"))?;
    let payload = read_body(&args.body)?;

    // Where to send the call, and how to sign it.
    let mut emulator_server = None;
    let (endpoint_url, signer) = match (&args.endpoint_url, &args.region) {
        (None, None) => {
            let (server, url) = start_emulator(&args.endpoint_name).await?;
            emulator_server = Some(server);
            let credentials =
                Credentials::new(DEMO_ACCESS_KEY, DEMO_SECRET_KEY, None, None, "demo");
            (url, Some(SigV4Layer::new(credentials, DEMO_REGION)))
        }
        (url, region) => {
            let region = region
                .clone()
                .or_else(|| std::env::var("AWS_REGION").ok())
                .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                .unwrap_or_else(|| DEMO_REGION.to_owned());
            let url = url
                .clone()
                .unwrap_or_else(|| format!("https://runtime.sagemaker.{region}.amazonaws.com"));
            let signer = match env_credentials() {
                Some(credentials) => Some(SigV4Layer::new(credentials, region)),
                None if args.region.is_some() => {
                    return Err(Failure::Other(
                        "--region needs credentials: set AWS_ACCESS_KEY_ID and \
                         AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)"
                            .into(),
                    ))
                }
                None => {
                    eprintln!(
                        "No AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY: sending unsigned requests"
                    );
                    None
                }
            };
            (url, signer)
        }
    };

    let uri = format!(
        "{}{}",
        endpoint_url.trim_end_matches('/'),
        invocations_path(&args.endpoint_name)
    );
    let mut request = Request::post(&uri);
    let optional_headers = [
        (
            http::header::CONTENT_TYPE,
            &args.content_type,
            "--content-type",
        ),
        (http::header::ACCEPT, &args.accept, "--accept"),
        (
            CUSTOM_ATTRIBUTES_HEADER,
            &args.custom_attributes,
            "--custom-attributes",
        ),
    ];
    for (name, value, flag) in optional_headers {
        if let Some(value) = value {
            let value = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("{flag}: not a valid header value (use visible ASCII)"))?;
            request = request.header(name, value);
        }
    }
    let request = request
        .body(Full::new(payload.clone()))
        .map_err(|e| format!("invalid --endpoint-url `{endpoint_url}`: {e}"))?;

    // The HTTP client: rustls with the Mozilla roots for https, plain http too.
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new())
        .build::<_, Full<Bytes>>(tls)
        .map_err(BoxError::from);

    let attempts_max = args.max_retries.saturating_add(1);
    // Built just before the call: `call_start` is when its deadline starts.
    let progress = Progress {
        start,
        call_start: Instant::now(),
        budget: args.deadline,
        attempt: Arc::new(AtomicU32::new(0)),
        attempts_max,
    };
    let target_layer = match target_model.clone() {
        Some(model) => TargetModelLayer::new(model),
        None => TargetModelLayer::per_request(),
    };
    let svc = ServiceBuilder::new()
        .layer(target_layer)
        .layer(DeadlineLayer::new(args.deadline))
        .layer(
            ModelNotReadyRetryLayer::legacy()
                .max_retries(args.max_retries)
                .attempt_timeout(args.read_timeout),
        )
        .layer_fn(|inner| ReportAttempts {
            inner,
            progress: progress.clone(),
        })
        .option_layer(signer.clone())
        .service(client);

    eprintln!(
        "Invoking endpoint `{}`{} at {}: up to {} attempt{}, {} each, {} in all{}",
        args.endpoint_name,
        target_model
            .as_ref()
            .map(|m| format!(" (target model `{m}`)"))
            .unwrap_or_default(),
        endpoint_url,
        attempts_max,
        if attempts_max == 1 { "" } else { "s" },
        secs(args.read_timeout),
        secs(args.deadline),
        match &signer {
            Some(s) => format!(", signed for {} as {}", s.get_region(), s.access_key_id()),
            None => String::new(),
        },
    );

    let outcome = svc.oneshot(request).await;
    if let Some(server) = emulator_server {
        server.shutdown().await;
    }
    let response = outcome.map_err(|e| explain_error(&*e, &progress, args.deadline))?;
    finish(response, &args.outfile, start)
}

/// The body argument: text, or a file with `fileb://` / `file://`.
fn read_body(arg: &str) -> Result<Bytes, Failure> {
    match arg
        .strip_prefix("fileb://")
        .or_else(|| arg.strip_prefix("file://"))
    {
        Some(path) => std::fs::read(path)
            .map(Bytes::from)
            .map_err(|e| Failure::Other(format!("--body: cannot read {path}: {e}"))),
        None => Ok(Bytes::copy_from_slice(arg.as_bytes())),
    }
}

fn env_credentials() -> Option<Credentials> {
    let access_key = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    let secret_key = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
    let token = std::env::var("AWS_SESSION_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    Some(Credentials::new(
        access_key,
        secret_key,
        token,
        None,
        "environment",
    ))
}

async fn start_emulator(
    endpoint_name: &str,
) -> Result<(tower_sagemaker::emulator::Server, String), Failure> {
    let mut builder = Emulator::builder()
        .endpoint(endpoint_name)
        .hold_timeout(DEMO_HOLD)
        .credentials(DEMO_ACCESS_KEY, DEMO_SECRET_KEY)
        .region(DEMO_REGION);
    for (name, load_time) in DEMO_MODELS {
        builder = builder.model(name, ModelSpec::new(load_time));
    }
    let emulator = builder.build();
    let server = emulator
        .serve(([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    let url = server.endpoint_url().to_string();
    let models: Vec<String> = DEMO_MODELS
        .iter()
        .map(|(name, load)| format!("{name} (cold start {})", secs(*load)))
        .collect();
    eprintln!(
        "No --endpoint-url or --region: using the built-in multi-model endpoint emulator at {url}"
    );
    eprintln!(
        "  endpoint `{endpoint_name}`, models {}; it holds a call for a loading model {} before answering 429 ModelNotReadyException",
        models.join(", "),
        secs(DEMO_HOLD),
    );
    Ok((server, url))
}

/// Writes the body and prints the metadata, or turns an error response into
/// the AWS CLI's message.
fn finish(response: Response<Bytes>, outfile: &PathBuf, start: Instant) -> Result<(), Failure> {
    let attempts = response
        .extensions()
        .get::<Attempts>()
        .map_or(1, Attempts::count);
    let status = response.status();
    let headers = response.headers();
    if !status.is_success() {
        let code = ErrorCode::from_headers(headers)
            .map(|c| c.as_str().to_owned())
            .or_else(|| json_field(response.body(), &["code", "__type"]))
            .unwrap_or_else(|| status.as_u16().to_string());
        let message = json_field(response.body(), &["message", "Message"])
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        let retries = if attempts > 1 {
            format!(" (reached max retries: {})", attempts - 1)
        } else {
            String::new()
        };
        return Err(Failure::Service(format!(
            "An error occurred ({code}) when calling the InvokeEndpoint operation{retries}: {message}"
        )));
    }

    std::fs::write(outfile, response.body())
        .map_err(|e| format!("cannot write {}: {e}", outfile.display()))?;
    eprintln!(
        "[{}] done after {attempts} attempt{}: wrote {} bytes to {}",
        stamp(start),
        if attempts == 1 { "" } else { "s" },
        response.body().len(),
        outfile.display()
    );

    // Output members in the order of the service model, as the CLI prints them.
    let members: [(&str, HeaderName); 5] = [
        ("ContentType", http::header::CONTENT_TYPE),
        (
            "InvokedProductionVariant",
            INVOKED_PRODUCTION_VARIANT_HEADER,
        ),
        ("CustomAttributes", CUSTOM_ATTRIBUTES_HEADER),
        (
            "NewSessionId",
            HeaderName::from_static("x-amzn-sagemaker-new-session-id"),
        ),
        (
            "ClosedSessionId",
            HeaderName::from_static("x-amzn-sagemaker-closed-session-id"),
        ),
    ];
    let mut out = String::from("{");
    let mut first = true;
    for (member, header) in members {
        let Some(value) = headers.get(&header) else {
            continue;
        };
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = write!(
            out,
            "{}\n    {}: {}",
            if first { "" } else { "," },
            serde_json::Value::from(member),
            serde_json::Value::from(value.as_ref())
        );
        first = false;
    }
    out.push_str(if first { "}" } else { "\n}" });
    println!("{out}");
    Ok(())
}

fn json_field(body: &[u8], names: &[&str]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    names
        .iter()
        .find_map(|n| value.get(n)?.as_str().map(str::to_owned))
}

/// A failed call in words a person can act on.
fn explain_error(
    err: &(dyn std::error::Error + 'static),
    progress: &Progress,
    budget: Duration,
) -> Failure {
    let attempts = progress.attempt.load(Ordering::SeqCst);
    if let Some(exceeded) = err.downcast_ref::<DeadlineExceeded>() {
        return Failure::Other(format!(
            "gave up after {} ({attempts} attempt{}): the --deadline of {} passed. \
             A model that is still loading keeps loading; try again later or raise --deadline.",
            secs(exceeded.elapsed()),
            if attempts == 1 { "" } else { "s" },
            secs(budget),
        ));
    }
    if let Some(timed_out) = err.downcast_ref::<AttemptTimedOut>() {
        return Failure::Other(format!(
            "Read timeout on endpoint URL: attempt {} got no answer within --read-timeout {} and no retries are left",
            timed_out.attempt(),
            secs(timed_out.timeout())
        ));
    }
    if err.downcast_ref::<SigningError>().is_some() {
        return Failure::Other(chain(err));
    }
    Failure::Other(format!(
        "Could not connect to the endpoint URL after {attempts} attempt{}: {}",
        if attempts == 1 { "" } else { "s" },
        chain(err)
    ))
}

/// An error and its sources on one line.
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let _ = write!(text, ": {e}");
        source = e.source();
    }
    text
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{} ms", d.as_millis())
    } else if s >= 10.0 && d.subsec_millis() == 0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

fn stamp(start: Instant) -> String {
    format!("{:6.2}s", start.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------------------
// Progress reporting.
// ---------------------------------------------------------------------------

#[derive(Clone)]
struct Progress {
    /// When the program started (the origin of the timestamps).
    start: Instant,
    /// When the call, and so its deadline, started.
    call_start: Instant,
    budget: Duration,
    attempt: Arc<AtomicU32>,
    attempts_max: u32,
}

/// Sits inside the retry layer, so it sees every attempt: prints when it
/// starts and how it ends, and reads the response body (for the error
/// message, and so the per-attempt timeout covers the whole response).
#[derive(Clone)]
struct ReportAttempts<S> {
    inner: S,
    progress: Progress,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> Service<Request<Full<Bytes>>> for ReportAttempts<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<hyper::body::Incoming>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<Bytes>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<Bytes>, BoxError>>;

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
            let result = async {
                let response = future.await.map_err(Into::into)?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await?.to_bytes();
                Ok::<_, BoxError>(Response::from_parts(parts, body))
            }
            .await;
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
                    let message = json_field(res.body(), &["message", "Message"])
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    eprintln!("{head}: {what} after {took}{message}");
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
fn init_tracing(start: Instant) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer as _;

    let fmt = std::env::var_os("RUST_LOG").map(|_| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(tracing_subscriber::EnvFilter::from_default_env())
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
