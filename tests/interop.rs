//! Interop with the real boto3/botocore and the real AWS CLI (v1) against the
//! `mme_emulator` example binary on 127.0.0.1, with SigV4 verification on.
//!
//! Also the legacy retry decisions against botocore's own registered handler
//! (`interop/legacy_differential.py`): generated responses fed to both, and
//! malformed responses and header whitespace over loopback TCP.
//!
//! Set `TOWER_SAGEMAKER_SKIP_INTEROP=1` to skip them.
//!
//! The first run creates a virtualenv in `target/interop-venv` and installs the
//! pinned packages of `interop/requirements.txt` from PyPI; later runs reuse it.
//! If python3 or PyPI is unavailable the tests FAIL, saying so. The emulator
//! binary is built with `cargo build --example mme_emulator` and this test's
//! features (a no-op after `cargo test`, which builds the examples).
#![cfg(all(feature = "emulator", feature = "retry"))]

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use support::{manifest_dir, run, target_and_profile};

mod support;
use std::time::Instant;

const ACCESS_KEY: &str = "AKIDINTEROPEXAMPLE";
const SECRET_KEY: &str = "interop-secret-key";
const REGION: &str = "us-east-1";

struct Tools {
    python: PathBuf,
    aws: PathBuf,
    emulator: PathBuf,
    /// An empty file for AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE.
    empty_config: PathBuf,
    logs: PathBuf,
}

fn setup() -> Result<Tools, String> {
    let (target, _) = target_and_profile();
    let venv = target.join("interop-venv");
    let python = venv.join("bin").join("python");
    let requirements = manifest_dir().join("interop").join("requirements.txt");
    let pins = fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;

    // Test output is captured: write to the process's stderr so the wait is explained.
    let say = |line: String| {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{line}");
    };
    if !python.exists() {
        say(format!(
            "interop: creating {} and installing boto3 and the AWS CLI from PyPI (once; about a minute and 230 MB)",
            venv.display()
        ));
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "creating the virtualenv (python3 -m venv; is python3 with venv installed?)",
        )?;
    }
    // Reinstall when the pins change.
    let marker = venv.join("installed-requirements.txt");
    if fs::read_to_string(&marker).ok().as_deref() != Some(pins.as_str()) {
        let start = Instant::now();
        run(
            Command::new(&python)
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(["--timeout", "30", "--retries", "2", "-r"])
                .arg(&requirements),
            "pip install of boto3/awscli from PyPI (is PyPI reachable?)",
        )?;
        fs::write(&marker, &pins).map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
        eprintln!(
            "interop: installed the pinned packages in {:?}",
            start.elapsed()
        );
    }

    let emulator = support::example("mme_emulator")?;

    let empty_config = venv.join("empty-aws-config");
    fs::write(&empty_config, "").map_err(|e| e.to_string())?;
    let logs = target.join("interop-logs");
    fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    Ok(Tools {
        aws: venv.join("bin").join("aws"),
        python,
        emulator,
        empty_config,
        logs,
    })
}

/// The environment variable that skips these tests (the Rust tests still run).
const SKIP: &str = "TOWER_SAGEMAKER_SKIP_INTEROP";

/// Whether `TOWER_SAGEMAKER_SKIP_INTEROP` is set (to anything but `0` or
/// empty); says so once on stderr.
fn skipped() -> bool {
    static SAID: OnceLock<bool> = OnceLock::new();
    *SAID.get_or_init(|| {
        let skip = std::env::var(SKIP).is_ok_and(|v| !v.is_empty() && v != "0");
        if skip {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "interop: skipped ({SKIP} is set): no Python virtualenv, no boto3 or AWS CLI checks"
            );
        }
        skip
    })
}

fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    match TOOLS.get_or_init(setup) {
        Ok(tools) => tools,
        Err(message) => panic!("interop setup failed: {message}"),
    }
}

/// A running `mme_emulator`; killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Served {
    fn start(name: &str, models: &[&str]) -> Self {
        Self::start_with(name, models, &[])
    }

    /// Started with `models` and more arguments.
    fn start_with(name: &str, models: &[&str], args: &[&str]) -> Self {
        let tools = tools();
        let log = fs::File::create(tools.logs.join(format!("{name}.stderr"))).expect("log file");
        let mut cmd = Command::new(&tools.emulator);
        cmd.args(["--addr", "127.0.0.1:0", "--hold-timeout", "1s"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .args(["--region", REGION]);
        for model in models {
            cmd.args(["--model", model]);
        }
        cmd.args(args);
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start mme_emulator");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the emulator's stdout");
        let url = match line.trim().strip_prefix("listening on ") {
            Some(url) => url.to_owned(),
            None => {
                let _ = child.kill();
                panic!("unexpected first line from mme_emulator: {line:?}");
            }
        };
        Self { child, url }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command with only the test's AWS settings: no profile, no real
/// credentials, no instance metadata, no proxy for loopback.
fn aws_command(program: &Path, secret: &str) -> Command {
    let tools = tools();
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key_str = key.to_string_lossy();
        if key_str.starts_with("AWS_") || key_str.to_ascii_lowercase().ends_with("_proxy") {
            cmd.env_remove(&key);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", &tools.empty_config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &tools.empty_config)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_PAGER", "")
        .env("NO_PROXY", "127.0.0.1,localhost");
    cmd
}

/// Runs one check of `interop/botocore_checks.py`; panics with its output on failure.
fn botocore_check(check: &str, served: &Served, model: &str) -> String {
    let tools = tools();
    let script = manifest_dir().join("interop").join("botocore_checks.py");
    let output = aws_command(&tools.python, SECRET_KEY)
        .arg(script)
        .arg(check)
        .args(["--endpoint-url", &served.url, "--model", model])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.starts_with("ok:"),
        "check {check} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn botocore_parses_the_429_as_model_not_ready_exception() {
    if skipped() {
        return;
    }
    let served = Served::start("not_ready", &["slow.tar.gz=60s"]);
    let out = botocore_check("not-ready", &served, "slow.tar.gz");
    assert!(out.contains("Model slow.tar.gz is not ready yet"), "{out}");
}

#[test]
fn boto3_legacy_mode_rides_through_a_cold_start() {
    if skipped() {
        return;
    }
    let served = Served::start("legacy_retries", &["cold.tar.gz=1500ms"]);
    let out = botocore_check("legacy-retries", &served, "cold.tar.gz");
    assert!(out.starts_with("ok: 8.0 after"), "{out}");
}

/// The `amz-sdk-invocation-id` and `amz-sdk-request` headers boto3 sends on
/// the attempts of a call that rides through a cold start are the ones the
/// retry layer sends for the same attempts.
#[test]
fn the_retry_layer_sends_the_attempt_headers_boto3_sends() {
    use tower::{ServiceBuilder, ServiceExt};
    use tower_sagemaker::retry::ModelNotReadyRetryLayer;
    use tower_sagemaker::sagemaker::{INVOCATION_ID_HEADER, SDK_REQUEST_HEADER};

    if skipped() {
        return;
    }
    let served = Served::start("attempt_headers", &["cold.tar.gz=1500ms"]);
    let out = botocore_check("attempt-headers", &served, "cold.tar.gz");
    let boto: Vec<(String, String)> =
        serde_json::from_str(out.trim().strip_prefix("ok: ").unwrap()).expect(&out);
    assert!(boto.len() >= 2, "{boto:?}");

    // The same attempts through the retry layer: 429s, then a success.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let n = boto.len();
    let endpoint = tower::service_fn(move |req: http::Request<String>| {
        let mut seen = record.lock().unwrap();
        let header = |name| req.headers()[name].to_str().unwrap().to_owned();
        seen.push((header(&INVOCATION_ID_HEADER), header(&SDK_REQUEST_HEADER)));
        let status = if seen.len() < n { 429 } else { 200 };
        std::future::ready(http::Response::builder().status(status).body(()))
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime
        .block_on(
            ServiceBuilder::new()
                .layer(ModelNotReadyRetryLayer::legacy())
                .service(endpoint)
                .oneshot(http::Request::new(String::from("1.0"))),
        )
        .unwrap();
    let ours = seen.lock().unwrap().clone();
    // `amz-sdk-request` as `key=value` pairs joined by "; ".
    let pairs = |value: &str| -> Vec<(String, String)> {
        value
            .split("; ")
            .map(|pair| {
                let (k, v) = pair.split_once('=').expect(value);
                (k.to_owned(), v.to_owned())
            })
            .collect()
    };
    assert_eq!(ours.len(), boto.len());
    for (n, ((_, mine), (_, theirs))) in ours.iter().zip(&boto).enumerate() {
        let attempt = (n + 1).to_string();
        assert_eq!(
            pairs(mine),
            [
                ("attempt".into(), attempt.clone()),
                ("max".into(), "5".into())
            ]
        );
        // Where botocore differs, and why we do not follow: it leaves out
        // `max` on a first attempt (its legacy handler has not run yet),
        // and adds on retries `ttl=`, when the attempt times out on the
        // server's clock (estimated from the last response's `Date`); the
        // AWS SDK for Rust sends `max` on every attempt, as the crate does.
        let theirs: Vec<_> = pairs(theirs)
            .into_iter()
            .filter(|(k, _)| k != "ttl")
            .collect();
        let expected: &[(String, String)] = if n == 0 {
            &[("attempt".into(), attempt)][..]
        } else {
            &[("attempt".into(), attempt), ("max".into(), "5".into())][..]
        };
        assert_eq!(theirs, expected, "{boto:?}");
    }
    writeln_stderr(format!(
        "interop: amz-sdk-request, boto3 {boto:?}, the retry layer {ours:?}"
    ))
    .ok();
    for calls in [&ours, &boto] {
        let id = &calls[0].0;
        assert!(calls.iter().all(|(other, _)| other == id), "{calls:?}");
        // A version 4 UUID, lower-case, hyphenated.
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert_eq!(id.as_bytes()[14], b'4', "{id}");
        assert!(!id.chars().any(|c| c.is_ascii_uppercase()), "{id}");
    }
}

/// boto3 on an inference component scaled to zero: `ClientError` with code
/// `ValidationError` and the service's message, not retried; once the
/// scale-out the first call started is done, the call succeeds.
#[test]
fn boto3_gets_no_capacity_from_a_component_at_zero_then_it_serves() {
    use tower_sagemaker::sagemaker::NO_CAPACITY_MESSAGE;

    if skipped() {
        return;
    }
    // On `demo`, which then hosts only the component.
    let served = Served::start_with(
        "no_capacity",
        &[],
        &["--inference-component", "llm=0:300ms"],
    );
    let out = botocore_check("no-capacity", &served, "llm");
    let got: serde_json::Value =
        serde_json::from_str(out.trim().strip_prefix("ok: ").unwrap()).expect(&out);
    assert_eq!(got["code"], "ValidationError", "{out}");
    assert_eq!(got["message"], NO_CAPACITY_MESSAGE, "{out}");
    assert_eq!(got["status"], 400, "{out}");
    assert_eq!(got["retries"], 0, "{out}");
    assert_eq!(got["body"], "8.0", "{out}");
}

#[test]
fn botocore_signatures_verify_and_a_wrong_secret_gets_403() {
    if skipped() {
        return;
    }
    let served = Served::start("wrong_secret", &["warm.tar.gz=100ms"]);
    let out = botocore_check("wrong-secret", &served, "warm.tar.gz");
    assert!(out.contains("403 InvalidSignatureException"), "{out}");
}

#[test]
fn aws_cli_invoke_endpoint_writes_the_output_file() {
    if skipped() {
        return;
    }
    let served = Served::start("aws_cli", &["model-1.tar.gz=200ms"]);
    let tools = tools();
    let dir = tools.logs.join("aws_cli");
    fs::create_dir_all(&dir).unwrap();
    let outfile = dir.join("out.txt");
    let _ = fs::remove_file(&outfile);
    let output = aws_command(&tools.aws, SECRET_KEY)
        .args(["sagemaker-runtime", "invoke-endpoint"])
        .args(["--endpoint-url", &served.url, "--endpoint-name", "demo"])
        .args(["--target-model", "model-1.tar.gz", "--body", "1.0,2.0,5.0"])
        .args(["--content-type", "text/csv"])
        .arg(&outfile)
        .output()
        .expect("run aws");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "aws failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(fs::read_to_string(&outfile).unwrap(), "8.0");
    let meta: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(meta["ContentType"], "text/csv", "{stdout}");
    assert_eq!(meta["InvokedProductionVariant"], "AllTraffic", "{stdout}");
}

#[test]
fn aws_cli_reports_a_wrong_secret() {
    if skipped() {
        return;
    }
    let served = Served::start("aws_cli_wrong_secret", &["model-1.tar.gz=200ms"]);
    let tools = tools();
    let dir = tools.logs.join("aws_cli_wrong_secret");
    fs::create_dir_all(&dir).unwrap();
    let output = aws_command(&tools.aws, "not-the-secret")
        .args(["sagemaker-runtime", "invoke-endpoint"])
        .args(["--endpoint-url", &served.url, "--endpoint-name", "demo"])
        .args(["--target-model", "model-1.tar.gz", "--body", "1"])
        .args(["--content-type", "text/csv"])
        .arg(dir.join("out.txt"))
        .output()
        .expect("run aws");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "the wrong secret was accepted");
    assert!(
        stderr.contains(
            "An error occurred (InvalidSignatureException) when calling the InvokeEndpoint operation"
        ),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------
// Differential test: the crate's legacy retry decisions against botocore's own.
// ---------------------------------------------------------------------------

/// One generated response: its head and body, as bytes.
struct Case {
    id: String,
    status: u16,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
}

const LEGACY_THROTTLING: [&str; 5] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
];

/// Codes that are not legacy throttling codes: SageMaker Runtime's own and
/// other services' throttling-like codes.
const OTHER_CODES: [&str; 10] = [
    "ModelNotReadyException",
    "ValidationError",
    "ModelError",
    "InternalFailure",
    "ServiceUnavailable",
    "InternalDependencyException",
    "TooManyRequestsException",
    "LimitExceededException",
    "SlowDown",
    "RequestLimitExceeded",
];

/// The ways a code is decorated (or mangled) in `X-Amzn-ErrorType`.
fn decorations(code: &str) -> Vec<Vec<u8>> {
    let c = code.as_bytes();
    let cat = |parts: &[&[u8]]| parts.concat();
    let mut swapped = code.to_owned();
    // Odd case: the first letter swapped, all lower, all upper.
    if let Some(first) = swapped.get(..1) {
        let flipped = if first == first.to_ascii_lowercase() {
            first.to_ascii_uppercase()
        } else {
            first.to_ascii_lowercase()
        };
        swapped.replace_range(..1, &flipped);
    }
    let mid = c.len() / 2;
    vec![
        c.to_vec(),
        cat(&[
            c,
            b":http://internal.amazon.com/coral/com.amazon.sagemaker/",
        ]),
        cat(&[b"com.amazon.coral.service#", c]),
        cat(&[b"a.b#", c]),
        cat(&[b"a#b#", c]),
        cat(&[b"a#b#", c, b":uri#x"]),
        cat(&[b"a.b#", c, b":http://x/y#z:w"]),
        cat(&[c, b"#"]),
        cat(&[b":", c]),
        code.to_ascii_lowercase().into_bytes(),
        code.to_ascii_uppercase().into_bytes(),
        swapped.into_bytes(),
        cat(&[b" ", c]),
        cat(&[c, b" "]),
        cat(&[b"\t", c]),
        cat(&[c, b"\t"]),
        cat(&[c, b" :http://internal.amazon.com/"]),
        cat(&[c, b"\t:uri"]),
        cat(&[b"ns# ", c]),
        cat(&[b"ns#", c, b" :uri"]),
        cat(&[b" ns#", c, b":uri "]),
        // Not UTF-8 before the `#`, after the `:`, inside the code.
        cat(&[b"\xff\xfe#", c]),
        cat(&[b"\xc3\x28.ns#", c, b":uri"]),
        cat(&[b"caf\xe9#", c]),
        cat(&[c, b":\xff\xfe"]),
        cat(&[c, b":uri\x80#\xff"]),
        cat(&[&c[..mid], b"\xff", &c[mid..]]),
        cat(&[c, b"\xe9"]),
        // UTF-8, not ASCII, inside the code.
        cat(&[c, "é".as_bytes()]),
        cat(&[c, b",", c]),
        cat(&[c, b", ", c]),
    ]
}

/// Header values that carry no code, or an odd one.
fn odd_values() -> Vec<Vec<u8>> {
    [
        &b""[..],
        b" ",
        b"\t",
        b"#",
        b":",
        b"#:",
        b":#",
        b"##",
        b"::",
        b"ns#",
        b"ns#:uri",
        b"\xff",
        b"\xff#",
        b"#\xff",
        b"Throttling#Exception",
        b"Throttling:Exception",
        b"ThrottlingExceptionX",
        b"XThrottlingException",
        b"Throttling Exception",
    ]
    .iter()
    .map(|v| v.to_vec())
    .collect()
}

const STATUSES: [u16; 30] = [
    200, 201, 204, 301, 307, 400, 401, 403, 404, 408, 409, 413, 418, 424, 429, 451, 499, 500, 501,
    502, 503, 504, 505, 507, 508, 509, 510, 511, 530, 599,
];

/// A few statuses for the body-only and duplicate-header cases.
const FEW_STATUSES: [u16; 8] = [200, 400, 403, 424, 429, 500, 503, 530];

const JSON_BODY: &[u8] = br#"{"message":"generated by tests/interop.rs"}"#;

fn differential_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |kind: &str, status: u16, headers: Vec<(&'static str, Vec<u8>)>, body: &[u8]| {
        let id = format!("{}-{kind}", cases.len());
        cases.push(Case {
            id,
            status,
            headers,
            body: body.to_vec(),
        });
    };
    let mut values: Vec<Vec<u8>> = LEGACY_THROTTLING
        .iter()
        .chain(OTHER_CODES.iter())
        .flat_map(|code| decorations(code))
        .collect();
    values.extend(odd_values());
    for status in STATUSES {
        push("no-header", status, vec![], JSON_BODY);
        push("no-header-empty-body", status, vec![], b"");
        for value in &values {
            push(
                "header",
                status,
                vec![("x-amzn-errortype", value.clone())],
                JSON_BODY,
            );
        }
        // The header name in another case, and an empty body.
        for code in LEGACY_THROTTLING.iter().chain(OTHER_CODES.iter()) {
            push(
                "header-name-case",
                status,
                vec![("X-Amzn-ErrorType", code.as_bytes().to_vec())],
                b"",
            );
        }
    }
    // Codes in the JSON body, the header absent (the crate reads the head
    // only) or present (botocore reads the header first).
    for status in FEW_STATUSES {
        for code in LEGACY_THROTTLING.iter().chain(OTHER_CODES.iter()) {
            for key in ["__type", "code", "Code"] {
                for value in [code.to_string(), format!("ns#{code}:uri")] {
                    let body = serde_json::json!({ key: value, "message": "m" }).to_string();
                    push("body-code", status, vec![], body.as_bytes());
                    push(
                        "body-code-and-header",
                        status,
                        vec![("x-amzn-errortype", b"ValidationError".to_vec())],
                        body.as_bytes(),
                    );
                }
            }
        }
        for body in [
            &b"not json"[..],
            b"<html><body>Service Unavailable</body></html>",
            b"\xff\xfe not UTF-8",
            b"[1, 2]",
            br#"{"OriginalStatusCode": "not a number"}"#,
        ] {
            push("odd-body", status, vec![], body);
            push(
                "odd-body-with-header",
                status,
                vec![("x-amzn-errortype", b"ThrottlingException".to_vec())],
                body,
            );
            push(
                "odd-body-with-header",
                status,
                vec![("x-amzn-errortype", b"ModelError".to_vec())],
                body,
            );
        }
        // The header twice: botocore joins the values with ", ".
        for (first, second) in [
            (&b"ThrottlingException"[..], &b"ThrottlingException"[..]),
            (b"ValidationError", b"ThrottlingException"),
            (b"ThrottlingException", b"ValidationError"),
            (b"ThrottlingException:uri", b"ValidationError"),
            (b"ns#ThrottlingException:uri", b"x"),
            (b"ns#", b"ThrottlingException"),
            (b"ns#ThrottlingException", b"ns#ThrottlingException:uri"),
            (b"a", b"ns#ThrottlingException"),
            (b"a:", b"ns#ThrottlingException"),
            (b"", b"ThrottlingException"),
        ] {
            push(
                "header-twice",
                status,
                vec![
                    ("x-amzn-errortype", first.to_vec()),
                    ("x-amzn-errortype", second.to_vec()),
                ],
                JSON_BODY,
            );
        }
    }
    cases
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Readable bytes for a failure message.
fn escaped(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// botocore's outcome for one case.
#[derive(Debug)]
struct Botocore {
    retry: Option<bool>,
    code: Option<String>,
    crash: Option<String>,
}

/// The disagreements this crate accepts, each with its reason. Anything else fails.
///
/// Not listed, because no decision differs: bytes that are not UTF-8 inside
/// the code itself. The crate reads such a code as no code; botocore decodes
/// header bytes as ISO-8859-1 (http.client), so it reads a code with non-ASCII
/// characters, which equals none of the (ASCII) legacy throttling codes. The
/// cases cover it (`Thrott\xffling`, `ThrottlingException\xe9`).
/// Whitespace around a header value is a matter of the HTTP parser, not of the
/// classifier: see `header_whitespace_over_the_wire`.
const ALLOWED: &[(&str, &str)] = &[
    (
        "code-in-body-only",
        "no X-Amzn-ErrorType header and the code only in the JSON body (`__type`, `code`, \
         `Code`): botocore reads the body, the crate decides on the response head alone (it \
         must, to leave retried bodies unread); SageMaker Runtime always sends the header",
    ),
    (
        "botocore-parser-raised",
        "botocore's parser raised on the body (not UTF-8, or a modeled field of the wrong \
         type) before any retry decision, so the exception reaches the caller unretried; the \
         crate decides on the head and never reads the body",
    ),
];

fn allowed_reason(case: &Case, boto: &Botocore) -> Option<&'static str> {
    if boto.crash.is_some() {
        return Some(ALLOWED[1].0);
    }
    let has_header = case
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("x-amzn-errortype"));
    if !has_header
        && boto
            .code
            .as_deref()
            .is_some_and(|c| c != case.status.to_string())
    {
        return Some(ALLOWED[0].0);
    }
    None
}

#[test]
fn legacy_decisions_match_botocore_on_generated_responses() {
    use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
    use std::collections::{BTreeMap, HashMap};
    use tower_sagemaker::retry::RetryClassifier;

    if skipped() {
        return;
    }
    let tools = tools();
    let cases = differential_cases();
    let json = serde_json::json!({
        "cases": cases.iter().map(|c| serde_json::json!({
            "id": c.id,
            "status": c.status,
            "headers": c.headers.iter().map(|(n, v)| serde_json::json!([n, hex(v)])).collect::<Vec<_>>(),
            "body_hex": hex(&c.body),
        })).collect::<Vec<_>>(),
    });
    let path = tools.logs.join("legacy_differential_cases.json");
    fs::write(&path, json.to_string()).expect("write the cases");

    let script = manifest_dir()
        .join("interop")
        .join("legacy_differential.py");
    let output = aws_command(&tools.python, SECRET_KEY)
        .arg(&script)
        .arg("responses")
        .arg(&path)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "legacy_differential.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON from legacy_differential.py");
    let results: HashMap<&str, Botocore> = answer["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["id"].as_str().expect("id"),
                Botocore {
                    retry: r["retry"].as_bool(),
                    code: r["code"].as_str().map(str::to_owned),
                    crash: r["crash"].as_str().map(str::to_owned),
                },
            )
        })
        .collect();
    assert_eq!(results.len(), cases.len(), "one answer per case");

    let classifier = RetryClassifier::legacy();
    let mut unexplained = Vec::new();
    let mut unexplained_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut allowed: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut retried, mut agreed) = (0, 0);
    for case in &cases {
        let boto = &results[case.id.as_str()];
        let mut headers = HeaderMap::new();
        for (name, value) in &case.headers {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(value).expect("header value"),
            );
        }
        let status = StatusCode::from_u16(case.status).expect("status");
        let ours = classifier.classify_response(status, &headers);
        if boto.crash.is_none() && boto.retry == Some(ours.is_some()) {
            agreed += 1;
            retried += usize::from(ours.is_some());
            continue;
        }
        if let Some(reason) = allowed_reason(case, boto) {
            *allowed.entry(reason).or_default() += 1;
            continue;
        }
        let kind = case.id.split_once('-').map_or("", |(_, kind)| kind);
        *unexplained_kinds.entry(kind).or_default() += 1;
        unexplained.push(format!(
            "{} status {} headers [{}] body \"{}\": botocore {} (code {:?}), crate {:?}",
            case.id,
            case.status,
            case.headers
                .iter()
                .map(|(n, v)| format!("{n}: {}", escaped(v)))
                .collect::<Vec<_>>()
                .join(", "),
            escaped(&case.body),
            match (boto.retry, &boto.crash) {
                (_, Some(crash)) => format!("raised {crash}"),
                (Some(true), None) => "retries".to_owned(),
                _ => "does not retry".to_owned(),
            },
            boto.code,
            ours,
        ));
    }
    let _ = writeln_stderr(format!(
        "interop: botocore {} (boto3 {}): {} responses, {agreed} agreed ({retried} retried), allowed disagreements {allowed:?}",
        answer["botocore"], answer["boto3"], cases.len()
    ));
    assert!(
        unexplained.is_empty(),
        "{} of {} responses decided differently from botocore's legacy handler \
         (by kind of case: {unexplained_kinds:?}):\n{}",
        unexplained.len(),
        cases.len(),
        unexplained.join("\n")
    );
    // Every allowance is exercised.
    for (reason, why) in ALLOWED {
        assert!(
            allowed.contains_key(reason),
            "allowance {reason} unused ({why})"
        );
    }
}

fn writeln_stderr(line: String) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(std::io::stderr(), "{line}")
}

// ---------------------------------------------------------------------------
// Malformed responses over loopback TCP: hyper's parse errors against
// botocore's connection errors.
// ---------------------------------------------------------------------------

/// Serves `response` (raw bytes) to every connection on 127.0.0.1 after
/// reading the request head and body, then closes. Counts the connections.
fn serve_raw(
    response: Vec<u8>,
) -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::runtime::Runtime,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    rt.spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            tokio::spawn(async move {
                // Read the head, then as many body bytes as Content-Length
                // says, so closing does not reset the connection.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while buf.len() < head_end + length {
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = socket.write_all(&response).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, connections, rt)
}

#[test]
fn malformed_responses_are_connection_errors_to_botocore_and_the_crate() {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use std::sync::atomic::Ordering;
    use tower_sagemaker::retry::{RetryClassifier, RetryReason};

    if skipped() {
        return;
    }
    let tools = tools();
    let mut too_many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..150 {
        too_many_headers.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    too_many_headers.extend_from_slice(b"content-length: 0\r\n\r\n");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "status line not HTTP/1.x",
            b"HTTP/2.0 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ),
        (
            "not HTTP at all",
            b"ICY 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ),
        (
            "invalid status code",
            b"HTTP/1.1 2x0 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ),
        ("too many header fields", too_many_headers),
        ("closed without a response", Vec::new()),
    ];
    let script = manifest_dir()
        .join("interop")
        .join("legacy_differential.py");
    let classifier = RetryClassifier::legacy();
    for (what, response) in cases {
        let (url, connections, rt) = serve_raw(response);

        // The crate: hyper_util's legacy client, its error through the classifier.
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let request = http::Request::post(format!("{url}/endpoints/demo/invocations"))
            .header("content-type", "text/csv")
            .body(Full::new(bytes::Bytes::from_static(b"1.0")))
            .expect("request");
        let error = rt
            .block_on(client.request(request))
            .expect_err("a malformed response is an error");
        let ours = classifier.classify_error(&error);

        // botocore, legacy mode, two attempts, against the same server.
        let output = aws_command(&tools.python, SECRET_KEY)
            .arg(&script)
            .args(["connection", &url])
            .output()
            .expect("run python");
        assert!(
            output.status.success(),
            "{what}: legacy_differential.py failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON from legacy_differential.py");
        let first = &answer["decisions"][0];
        let _ = writeln_stderr(format!(
            "interop: {what}: hyper {error:?} -> {ours:?}; botocore {} -> retry {}, then {}; {} connections",
            first["exception"], first["retry"], answer["final"],
            connections.load(Ordering::SeqCst)
        ));
        assert_eq!(
            first["retry"], true,
            "{what}: botocore does not retry: {answer}"
        );
        assert_eq!(
            first["exception"], "ConnectionClosedError",
            "{what}: {answer}"
        );
        assert_eq!(
            ours,
            Some(RetryReason::Transport),
            "{what}: the crate does not retry hyper's {error:?}"
        );
        rt.shutdown_background();
    }
}

/// Whitespace around `X-Amzn-ErrorType` on the wire: hyper's parser (httparse)
/// strips it on both sides, http.client only before the value. The crate sees
/// the value hyper gives it.
#[test]
fn header_whitespace_over_the_wire() {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    use tower_sagemaker::retry::RetryClassifier;

    if skipped() {
        return;
    }
    let tools = tools();
    let script = manifest_dir()
        .join("interop")
        .join("legacy_differential.py");
    // (header line, the known disagreement and its reason, if any)
    let cases: [(&[u8], Option<&str>); 5] = [
        (b"X-Amzn-ErrorType:ThrottlingException", None),
        (b"X-Amzn-ErrorType: \t ThrottlingException", None),
        (b"X-Amzn-ErrorType: ThrottlingException :uri", None),
        (b"X-Amzn-ErrorType: ns#ThrottlingException\t:uri ", None),
        (
            b"X-Amzn-ErrorType: ThrottlingException \t",
            Some(
                "trailing whitespace: httparse strips it (RFC 9110 optional whitespace) before the \
                 crate sees the header, http.client keeps it, so botocore's code is \
                 `ThrottlingException \\t` and it does not retry; the crate cannot tell",
            ),
        ),
    ];
    let classifier = RetryClassifier::legacy();
    for (line, known) in cases {
        let response = [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            line,
            b"\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}",
        ]
        .concat();
        let (url, _connections, rt) = serve_raw(response);
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
        let request = http::Request::post(format!("{url}/endpoints/demo/invocations"))
            .body(Full::new(bytes::Bytes::from_static(b"1.0")))
            .expect("request");
        let response = rt.block_on(client.request(request)).expect("a response");
        let ours = classifier.classify_response(response.status(), response.headers());
        let output = aws_command(&tools.python, SECRET_KEY)
            .arg(&script)
            .args(["connection", &url])
            .output()
            .expect("run python");
        assert!(
            output.status.success(),
            "legacy_differential.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("JSON from legacy_differential.py");
        let first = &answer["decisions"][0];
        let boto_retries = first["retry"] == true;
        let what = line.escape_ascii().to_string();
        let _ = writeln_stderr(format!(
            "interop: over the wire {what}: hyper's value {:?} -> {ours:?}; botocore code {} -> retry {boto_retries}",
            response.headers().get("x-amzn-errortype"),
            first["code"],
        ));
        match known {
            None => assert_eq!(
                ours.is_some(),
                boto_retries,
                "{what}: the crate and botocore disagree: {answer}"
            ),
            Some(reason) if ours.is_some() != boto_retries => {
                let _ = writeln_stderr(format!("interop: known disagreement: {reason}"));
            }
            Some(_) => {}
        }
        rt.shutdown_background();
    }
}
