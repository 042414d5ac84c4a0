//! Interop with the real boto3/botocore and the real AWS CLI (v1) against the
//! `mme_emulator` example binary on 127.0.0.1, with SigV4 verification on.
//!
//! Set `TOWER_SAGEMAKER_SKIP_INTEROP=1` to skip them.
//!
//! The first run creates a virtualenv in `target/interop-venv` and installs the
//! pinned packages of `interop/requirements.txt` from PyPI; later runs reuse it.
//! If python3 or PyPI is unavailable the tests FAIL, saying so. The emulator
//! binary is built with `cargo build --example mme_emulator` and this test's
//! features (a no-op after `cargo test`, which builds the examples).
#![cfg(feature = "emulator")]

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
        let tools = tools();
        let log = fs::File::create(tools.logs.join(format!("{name}.stderr"))).expect("log file");
        let mut cmd = Command::new(&tools.emulator);
        cmd.args(["--addr", "127.0.0.1:0", "--hold-timeout", "1s"])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .args(["--region", REGION]);
        for model in models {
            cmd.args(["--model", model]);
        }
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
