//! Running a Python reference script in the same run as a benchmark, shared by the
//! benches that compare against a Python library (`train`: PyTorch, `sample`:
//! ConfigSpace).

/// Runs `script` (under `benches/`) with `python` and `args`, and reads the JSON object on
/// the last line of its output; `None` when it cannot run or prints no such line.
pub fn reference(python: &str, script: &str, args: &[&str]) -> Option<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(path)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last()?).ok()
}
