//! Helpers shared by the integration tests: one function per area, so tests do not
//! depend on internal APIs.

#![allow(dead_code)]

use std::path::Path;

/// Checks the file at `path` and renders what `nasc check` shows: every diagnostic (miette,
/// unicode, no colour, 100 columns) followed by the summary of each space.
pub fn check_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("test file is readable");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let out = nasc::check_source(&name, text, path.parent().map(Path::to_path_buf));
    let mut s = String::new();
    for d in &out.diagnostics {
        s.push_str(&nasc::render::human(d, &out.sources, 100, false));
        s.push('\n');
    }
    for summary in &out.summaries {
        s.push_str(&nasc::render_summary(summary, &name));
    }
    s
}

/// Checks source text given inline (imports resolve against the crate root).
pub fn check(src: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let out = nasc::check_source("test.nas", src.to_string(), Some(dir));
    let mut s = String::new();
    for d in &out.diagnostics {
        s.push_str(&format!(
            "{} {}: {}\n",
            if d.is_error() { "error" } else { "warning" },
            d.code,
            d.message
        ));
    }
    for summary in &out.summaries {
        s.push_str(&nasc::render_summary(summary, "test.nas"));
    }
    s
}

/// The codes of the diagnostics for `src`.
pub fn codes(src: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let out = nasc::check_source("test.nas", src.to_string(), Some(dir));
    out.diagnostics.iter().map(|d| d.code.to_string()).collect()
}

/// The exact architecture count of the only space in `src`, as a decimal string (the
/// discrete part for infinite spaces), or `None` when it has errors.
pub fn count(src: &str) -> Option<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let out = nasc::check_source("test.nas", src.to_string(), Some(dir));
    let s = out.summaries.first()?;
    match &s.size {
        nasc::space::summary::Size::Finite(n) => Some(n.to_string()),
        nasc::space::summary::Size::Infinite { discrete, .. } => Some(discrete.to_string()),
        nasc::space::summary::Size::Unavailable(_) => None,
    }
}

/// A request to the interpreter commands, for tests.
pub use nasc::cli::sample::Request;

/// Runs an interpreter command (`sample`, `enumerate`, `describe`) on source text and
/// returns its stdout and the codes of its diagnostics.
pub fn run(src: &str, request: &Request, json: bool) -> (String, Vec<String>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let out = nasc::cli::sample::run_source(
        "test.nas",
        src.to_string(),
        Some(dir),
        None,
        request,
        json,
        None,
    );
    let codes = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
    (out.stdout, codes)
}

/// Runs an interpreter command on a file and renders what the command shows: every
/// diagnostic (miette, unicode, no colour, 100 columns), then its standard output.
pub fn run_file(path: &Path, request: &Request, json: bool) -> String {
    let text = std::fs::read_to_string(path).expect("test file is readable");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let out = nasc::cli::sample::run_source(
        &name,
        text,
        path.parent().map(Path::to_path_buf),
        None,
        request,
        json,
        None,
    );
    let mut s = String::new();
    for d in &out.diagnostics {
        s.push_str(&nasc::render::human(d, &out.sources, 100, false));
        s.push('\n');
    }
    if let Some(f) = &out.failure {
        s.push_str(&f.render(false));
    }
    s.push_str(&out.stdout);
    s
}

/// A sampling request: `n` architectures with `seed`.
pub fn sample_request(n: usize, seed: u64) -> Request {
    Request::Sample {
        n,
        seed,
        uniform: false,
        limit: 1_000_000,
        max_attempts: 10_000,
    }
}

/// Runs `nasc train` (one step, a sampled architecture, no progress output) on a file and
/// renders its diagnostics and usage error; standard output (timings) is left out.
pub fn train_file(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("test file is readable");
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let (diagnostics, sources, usage) = train_text(&name, text, path.parent());
    let mut s = String::new();
    for d in &diagnostics {
        s.push_str(&nasc::render::human(d, &sources, 100, false));
        s.push('\n');
    }
    if let Some(f) = usage {
        s.push_str(&f.render(false));
    }
    s
}

/// The codes of the diagnostics `nasc train` (one step) reports for `src`.
pub fn train_codes(src: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (diagnostics, _, _) = train_text("test.nas", src.to_string(), Some(dir));
    diagnostics.iter().map(|d| d.code.to_string()).collect()
}

fn train_text(
    name: &str,
    text: String,
    dir: Option<&Path>,
) -> (
    Vec<nasc::diag::Diagnostic>,
    nasc::source::SourceMap,
    Option<nasc::cli::fail::Failure>,
) {
    let request = nasc::cli::train::TrainRequest {
        arch: nasc::cli::train::ArchSource::Sample { seed: 0 },
        steps: Some(1),
        batch: Some(2),
        train_seed: None,
        device: nasc::train::device::DeviceChoice::Cpu,
        save: None,
        progress: false,
    };
    let r =
        nasc::cli::train::run_source(name, text, dir.map(Path::to_path_buf), None, &request, true);
    (r.out.diagnostics, r.out.sources, r.out.failure)
}

/// Runs the real `nasc` binary in the crate root: exit code, stdout, stderr.
pub fn nasc(args: &[&str]) -> (i32, String, String) {
    nasc_env(&[], args)
}

/// Runs the `nasc` binary with extra environment variables (`NASC_DATA_DIR`, say).
pub fn nasc_env(env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("nasc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty folder under the system's temporary folder, unique to this call.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nasc-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary folder");
    dir
}

/// Runs `nasc run FILE` (quiet, no colour, a fresh store) with the real binary; its
/// standard error (the diagnostics), then `exit: N`.
pub fn run_pipeline_file(path: &Path) -> String {
    let name = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string();
    let dir = temp_dir("run");
    let store = dir.join("store.db");
    let (code, _, stderr) = nasc(&[
        "run",
        &name,
        "--store",
        &store.display().to_string(),
        "-q",
        "--color",
        "never",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    format!("{stderr}exit: {code}\n")
}

/// The codes `nasc run` (a fresh store, quiet) reports for the program `src`.
pub fn run_pipeline_codes(src: &str) -> Vec<String> {
    let dir = temp_dir("run-codes");
    let file = dir.join("test.nas");
    std::fs::write(&file, src).expect("temporary file");
    let (_, _, stderr) = nasc(&[
        "run",
        &file.display().to_string(),
        "--store",
        &dir.join("store.db").display().to_string(),
        "-q",
        "--color",
        "never",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    stderr
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("nas::"))
        .map(str::to_string)
        .collect()
}

/// The JSON object on the last line of a command's standard output (a `--format json`
/// summary).
pub fn last_json(stdout: &str) -> serde_json::Value {
    let line = stdout.lines().last().expect("a summary line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}
