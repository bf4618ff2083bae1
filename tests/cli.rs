//! End-to-end tests of the `nasc` binary: exit codes, output formats, standard input.

use std::io::Write;
use std::process::{Command, Stdio};

fn nasc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("nasc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clean_file_exits_zero_and_prints_the_summary() {
    let (code, stdout, stderr) = nasc(&["check", "examples/deep_architect_poster.nas"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("architectures: 25,008"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn errors_exit_one_and_warnings_do_not() {
    let (code, _, stderr) = nasc(&["check", "tests/ui/unknown_name_typo.nas"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("nas::E007"), "{stderr}");
    let (code, _, stderr) = nasc(&["check", "tests/ui/unused_param.nas"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nas::W001"), "{stderr}");
}

#[test]
fn usage_and_io_errors_exit_two() {
    let (code, _, stderr) = nasc(&["check", "no/such/file.nas"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    let (code, _, _) = nasc(&["check", "examples/tiny_lm.nas", "--message-format", "xml"]);
    assert_eq!(code, 2);
    let (code, _, _) = nasc(&["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn json_format_prints_one_object_per_diagnostic() {
    let (code, stdout, _) = nasc(&[
        "check",
        "--message-format",
        "json",
        "tests/ui/multiple_errors.nas",
    ]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.len() >= 2,
        "expected several diagnostics, got {stdout}"
    );
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        for key in [
            "file", "severity", "code", "message", "span", "labels", "help",
        ] {
            assert!(v.get(key).is_some(), "missing `{key}` in {line}");
        }
        assert!(v["code"].as_str().is_some_and(|c| c.starts_with("nas::")));
        let span = &v["span"];
        for key in ["start", "end", "line", "column", "end_line", "end_column"] {
            assert!(span[key].is_u64(), "span.{key} missing in {line}");
        }
        assert_eq!(v["file"], "tests/ui/multiple_errors.nas");
    }
}

#[test]
fn json_span_points_at_the_offending_text() {
    let src = "space s {\n    param x = choice(1, 2)\n    graph { linear(out = y) }\n}\n";
    let mut child = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(["check", "--message-format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("nasc runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(src.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["code"] == "nas::E007")
        .expect("an unknown-name diagnostic");
    assert_eq!(first["code"], "nas::E007");
    let (start, end) = (
        first["span"]["start"].as_u64().unwrap() as usize,
        first["span"]["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&src[start..end], "y");
    assert_eq!(first["span"]["line"], 3);
    assert_eq!(first["span"]["column"], 26);
}
