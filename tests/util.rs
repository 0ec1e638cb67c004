//! Shared helpers for the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The tiny.en model; the suite needs it (scripts/test fetches it first).
pub fn tiny_model() -> PathBuf {
    let p = root().join("models/ggml-tiny.en.bin");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test, which fetches it",
        p.display()
    );
    p
}

pub fn podcap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_podcap"))
        .args(args)
        .current_dir(root())
        .env("PODCAP_MODELS_DIR", root().join("models"))
        .output()
        .expect("podcap runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Names of the files in a folder.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs a command-line tool the fixtures need (sox, ffmpeg, espeak-ng).
pub fn tool(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program}: {e}; run scripts/setup"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// `scripts/make-sample` speaks `samples/<text>` into `dir` as `<name>.*`.
pub fn make_sample(text: &str, dir: &Path, name: &str, args: &[&str]) {
    let script = root().join("scripts/make-sample");
    let text = root().join("samples").join(text);
    let mut all = vec![
        script.to_str().unwrap(),
        text.to_str().unwrap(),
        dir.to_str().unwrap(),
        name,
    ];
    all.extend_from_slice(args);
    tool("python3", &all);
}

/// One captioned run of the sample with every output (VTT, SRT, JSON, review
/// page), shared by the tests that only read outputs.
pub fn sample_outputs() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tiny_model();
        let dir = tempfile::tempdir().unwrap().keep();
        let o = podcap(&[
            "caption",
            "samples/sample.mp3",
            "--transcript",
            "samples/sample.txt",
            "--review",
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        dir
    })
}
