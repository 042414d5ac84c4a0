//! The README's "Use it": its `[dependencies]` block and its program, taken
//! from README.md as they stand, built as a new binary crate (this crate by
//! path instead of by version), and run against the `mme_emulator` binary
//! over loopback, as the README tells a reader to. The README cannot rot.
#![cfg(all(feature = "emulator", feature = "sigv4"))]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

mod support;

use support::{manifest_dir, run, target_and_profile};

/// The first fenced block of `lang` after `after` in `text`.
fn block<'a>(text: &'a str, after: &str, lang: &str) -> &'a str {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("README has no {after:?}"));
    let text = &text[start..];
    let fence = format!("```{lang}\n");
    let open = text
        .find(&fence)
        .unwrap_or_else(|| panic!("no ```{lang} block after {after:?}"))
        + fence.len();
    let len = text[open..].find("\n```").expect("a closing fence");
    &text[open..open + len + 1]
}

#[test]
fn the_readme_example_builds_and_calls_the_emulator() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let dependencies = block(&readme, "## Use it", "toml");
    let program = block(&readme, "## Use it", "rust");
    assert!(
        dependencies.starts_with("[dependencies]\n"),
        "{dependencies}"
    );
    let ours = dependencies
        .lines()
        .find(|l| l.starts_with("tower-sagemaker = "))
        .expect("the README names this crate");
    let features = ours.find("features").map_or("", |i| &ours[i..]);
    let by_path = format!(
        "tower-sagemaker = {{ path = {:?}, {features}",
        manifest_dir().display().to_string()
    );
    let manifest = format!(
        "[package]\nname = \"readme-example\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[workspace]\n\n{}",
        dependencies.replace(ours, &by_path)
    );

    let (target, profile) = target_and_profile();
    let dir = target.join("readme-example");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src").join("main.rs"), program).unwrap();
    // This crate's lock file: the versions its own tests use.
    std::fs::copy(manifest_dir().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&dir)
        .args(["build", "--quiet"])
        .arg("--target-dir")
        .arg(&target);
    if profile == "release" {
        build.arg("--release");
    }
    run(&mut build, "building the README's example").unwrap_or_else(|e| panic!("{e}"));
    let example = target.join(&profile).join("readme-example");

    // The emulator as the README starts it, with a short cold start.
    let emulator = support::example("mme_emulator").unwrap_or_else(|e| panic!("{e}"));
    let mut served = Command::new(emulator)
        .args(["--addr", "127.0.0.1:0", "--hold-timeout", "200ms"])
        .args(["--model", "model-3.tar.gz=500ms"])
        .args(["--access-key", "AKIDEXAMPLE", "--secret-key", "SECRET"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(served.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let output = Command::new(example)
        .env("SAGEMAKER_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "SECRET")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .unwrap();
    let _ = served.kill();
    let _ = served.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // A cold start (500 ms against a 200 ms hold: 429s, then retries), then the answer.
    assert_eq!(stdout.trim(), "200 OK 8.0");
}
