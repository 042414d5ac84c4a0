//! Building and finding this crate's example binaries from a test.
#![allow(dead_code)] // Each test file uses part of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod loopback;
#[cfg(feature = "aws-sdk-sagemakerruntime")]
pub mod sdk;

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The target directory and profile this test binary was built in
/// (`<target>/<profile>/deps/<test>-<hash>`).
pub fn target_and_profile() -> (PathBuf, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary under <target>/<profile>/deps");
    let profile = profile_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "debug".into());
    let target = profile_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir().join("target"));
    (target, profile)
}

/// The features this test was built with, so that building the examples
/// reuses the library `cargo test` has just built.
pub fn features() -> String {
    [
        ("target-model", cfg!(feature = "target-model")),
        ("deadline", cfg!(feature = "deadline")),
        ("read-timeout", cfg!(feature = "read-timeout")),
        ("collect-body", cfg!(feature = "collect-body")),
        ("retry", cfg!(feature = "retry")),
        ("hyper", cfg!(feature = "hyper")),
        ("sigv4", cfg!(feature = "sigv4")),
        ("emulator", cfg!(feature = "emulator")),
        ("aws-sdk", cfg!(feature = "aws-sdk")),
        (
            "aws-sdk-sagemakerruntime",
            cfg!(feature = "aws-sdk-sagemakerruntime"),
        ),
        ("full", cfg!(feature = "full")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect::<Vec<_>>()
    .join(",")
}

/// Runs `cmd`; its output when it succeeds, else an error saying `what` failed.
pub fn run(cmd: &mut Command, what: &str) -> Result<Output, String> {
    let output = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run {cmd:?}: {e}"))?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Builds the example `name` with this test's features; the binary's path.
pub fn example(name: &str) -> Result<PathBuf, String> {
    let (target, profile) = target_and_profile();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(manifest_dir())
        .args(["build", "--example", name, "--no-default-features"])
        .args(["--features", &features()])
        .arg("--target-dir")
        .arg(&target);
    if profile == "release" {
        build.arg("--release");
    }
    run(&mut build, &format!("building the {name} example"))?;
    let path = target.join(&profile).join("examples").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!("no {name} binary at {}", path.display()))
    }
}

/// Log lines written while the returned guard lives, on this thread (the
/// test's current-thread runtime included).
pub fn capture_logs(level: tracing::Level) -> (tracing::subscriber::DefaultGuard, Logs) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(level)
        .with_ansi(false)
        .finish();
    (tracing::subscriber::set_default(subscriber), logs)
}

/// What [`capture_logs`] collected.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
