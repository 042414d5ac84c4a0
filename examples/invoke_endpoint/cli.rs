//! The command line around the stack: arguments, where the call goes,
//! and what is printed at the end.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use bytes::Bytes;
use clap::Parser;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::Full;
use tower_sagemaker::deadline::DeadlineExceeded;
use tower_sagemaker::emulator::{Emulator, ModelSpec, Server};
use tower_sagemaker::retry::{AttemptTimedOut, Attempts};
use tower_sagemaker::sagemaker::{
    invocations_path, is_valid_endpoint_name, CLOSED_SESSION_ID_HEADER, CUSTOM_ATTRIBUTES_HEADER,
    INVOKED_PRODUCTION_VARIANT_HEADER, NEW_SESSION_ID_HEADER,
};
use tower_sagemaker::sigv4::{SigV4Layer, SigningError};
use tower_sagemaker::target_model::TargetModel;
use tower_sagemaker::ErrorCode;

use crate::progress::{secs, stamp, Progress};
use crate::values::parse_duration;

/// Invoke a SageMaker endpoint, riding through multi-model endpoint cold starts.
///
/// Mirrors `aws sagemaker-runtime invoke-endpoint`. Without --endpoint-url and
/// --region it runs against a local emulator with demo models
/// (model-1.tar.gz, model-2.tar.gz, model-3.tar.gz).
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    /// Name of the endpoint.
    #[arg(long)]
    pub endpoint_name: String,

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
    pub max_retries: u32,

    /// Timeout of each attempt: seconds (`70`, `1.5`) or with a unit (`500ms`, `2m`).
    #[arg(long, default_value = "70", value_parser = parse_duration)]
    pub read_timeout: Duration,

    /// Budget of the whole call, retries and waits included: seconds or with a unit.
    #[arg(long, default_value = "360", value_parser = parse_duration)]
    pub deadline: Duration,

    /// File the response body is written to.
    pub outfile: PathBuf,
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

/// Why the program failed: the AWS CLI's exit codes tell the two apart.
pub enum Failure {
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

/// A call ready to go: its request, where it goes and how it is signed.
pub struct Call {
    pub request: Request<Full<Bytes>>,
    pub target_model: Option<TargetModel>,
    pub signer: Option<SigV4Layer>,
    pub endpoint_url: String,
    /// The embedded emulator, when the call goes to it.
    pub emulator: Option<Server>,
}

/// Checks the arguments and builds the request; starts the emulator when
/// neither `--endpoint-url` nor `--region` is given.
pub async fn prepare(args: &Args) -> Result<Call, Failure> {
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
    let mut emulator = None;
    let (endpoint_url, signer) = match (&args.endpoint_url, &args.region) {
        (None, None) => {
            let (server, url) = start_emulator(&args.endpoint_name).await?;
            emulator = Some(server);
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
        (CONTENT_TYPE, &args.content_type, "--content-type"),
        (ACCEPT, &args.accept, "--accept"),
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
        .body(Full::new(payload))
        .map_err(|e| format!("invalid --endpoint-url `{endpoint_url}`: {e}"))?;
    Ok(Call {
        request,
        target_model,
        signer,
        endpoint_url,
        emulator,
    })
}

/// The line that says what is about to happen.
pub fn announce(args: &Args, call: &Call) {
    let attempts_max = args.max_retries.saturating_add(1);
    eprintln!(
        "Invoking endpoint `{}`{} at {}: up to {} attempt{}, {} each, {} in all{}",
        args.endpoint_name,
        call.target_model
            .as_ref()
            .map(|m| format!(" (target model `{m}`)"))
            .unwrap_or_default(),
        call.endpoint_url,
        attempts_max,
        if attempts_max == 1 { "" } else { "s" },
        secs(args.read_timeout),
        secs(args.deadline),
        match &call.signer {
            Some(s) => format!(
                ", signed for {} as {}",
                s.get_region(),
                s.get_access_key_id()
            ),
            None => String::new(),
        },
    );
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

async fn start_emulator(endpoint_name: &str) -> Result<(Server, String), Failure> {
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
pub fn finish(response: Response<Bytes>, outfile: &PathBuf, start: Instant) -> Result<(), Failure> {
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
        ("ContentType", CONTENT_TYPE),
        (
            "InvokedProductionVariant",
            INVOKED_PRODUCTION_VARIANT_HEADER,
        ),
        ("CustomAttributes", CUSTOM_ATTRIBUTES_HEADER),
        ("NewSessionId", NEW_SESSION_ID_HEADER),
        ("ClosedSessionId", CLOSED_SESSION_ID_HEADER),
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

pub fn json_field(body: &[u8], names: &[&str]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    names
        .iter()
        .find_map(|n| value.get(n)?.as_str().map(str::to_owned))
}

/// A failed call in words a person can act on.
pub fn explain_error(
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
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let _ = write!(text, ": {e}");
        source = e.source();
    }
    text
}
