//! End-to-end tests of the `nasc` binary: exit codes, output formats, standard input.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

use common::nasc;

#[test]
fn clean_file_exits_zero_and_prints_the_summary() {
    let (code, stdout, stderr) = nasc(&["check", "examples/deep_architect_poster.nas"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(stdout.contains("architectures: 25,008"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
    // A file of functions alone checks too, and says it has no space to summarise.
    let (code, stdout, stderr) = nasc(&["check", "stdlib/transformer.nas"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert!(
        stdout.contains("no space in this file; it checks clean"),
        "{stdout}"
    );
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

/// A file that cannot be read and arguments the command cannot take are coded diagnostics
/// with a help line, as people read them and as editors do (`--message-format json`);
/// `--help` and `--version` are no failures.
#[test]
fn usage_and_io_errors_are_coded_diagnostics() {
    let (code, stdout, stderr) = nasc(&["sample", "no/such/file.nas"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("nas::E040"), "{stderr}");
    assert!(
        stderr.contains("× cannot read `no/such/file.nas`"),
        "{stderr}"
    );
    assert!(stderr.contains("help: check the path"), "{stderr}");
    let (code, stdout, stderr) = nasc(&["check", "--message-format", "json", "no/such/file.nas"]);
    assert_eq!(code, 2);
    assert!(stderr.is_empty(), "{stderr}");
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(j["code"], "nas::E040");
    assert_eq!(j["severity"], "error");
    assert!(j["file"].is_null() && j["span"].is_null(), "{j}");
    assert!(j["help"].as_str().is_some_and(|h| !h.is_empty()), "{j}");

    let (code, _, stderr) = nasc(&["sample", "examples/tiny_lm.nas", "--sed", "3"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("nas::E041"), "{stderr}");
    assert!(
        stderr.contains("× unexpected argument '--sed' found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("a similar argument exists: '--seed'"),
        "{stderr}"
    );
    let (code, stdout, _) = nasc(&["check", "--message-format=json", "--bogus", "x.nas"]);
    assert_eq!(code, 2);
    let j: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(j["code"], "nas::E041");
    let (code, _, stderr) = nasc(&["sample", "examples/tiny_lm.nas", "--space", "nope"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("nas::E041") && stderr.contains("no space `nope`"),
        "{stderr}"
    );
    assert!(stderr.contains("help: the spaces are tiny_lm"), "{stderr}");
    let (code, stdout, stderr) = nasc(&["--version"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert!(stdout.starts_with("nasc "), "{stdout}");
    let (code, stdout, _) = nasc(&["sample", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Usage: nasc sample"), "{stdout}");
}

/// Options whose value would be changed behind the user's back (zero attempts taken as
/// one, a batch of none as one) or ignored (`--limit` without `--uniform`) are refused.
#[test]
fn options_that_would_be_changed_or_ignored_are_refused() {
    for args in [
        &["sample", "examples/tiny_lm.nas", "--max-attempts", "0"][..],
        &["sample", "examples/tiny_lm.nas", "--limit", "5"],
        &["train", "examples/tiny_lm.nas", "--sample", "--batch", "0"],
    ] {
        let (code, stdout, stderr) = nasc(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.starts_with("nas::E041"), "{args:?}: {stderr}");
    }
    let (_, _, stderr) = nasc(&["sample", "examples/tiny_lm.nas", "--max-attempts", "0"]);
    assert!(stderr.contains("give 1 or more"), "{stderr}");
    // A negative count is a value that is not a count, not an unknown option `-1`.
    let (code, _, stderr) = nasc(&["sample", "examples/tiny_lm.nas", "-n", "-1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value '-1'"), "{stderr}");
    let (code, stdout, _) = nasc(&[
        "sample",
        "examples/deep_architect_poster.nas",
        "--uniform",
        "--limit",
        "30000",
    ]);
    assert_eq!(code, 0, "`--limit` with `--uniform` is taken");
    assert!(stdout.starts_with("architecture 1 of 1"), "{stdout}");
}

/// `nasc run` on a file it cannot read leaves no store behind in a folder that had none.
#[test]
fn a_run_of_an_unreadable_file_leaves_no_store() {
    let dir = common::temp_dir("run-unreadable");
    let store = dir.join("sub").join("store.db");
    let (code, _, stderr) = nasc(&[
        "run",
        "no/such/file.nas",
        "--store",
        &store.display().to_string(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nas::E040"), "{stderr}");
    assert!(
        !store.exists() && !dir.join("sub").exists(),
        "a store was left behind"
    );
    let _ = std::fs::remove_dir_all(&dir);
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

/// Three architectures of `tiny_lm` (seed 5) as JSON lines: `nasc sample`'s exit code,
/// output and errors.
fn three_sampled() -> (i32, String, String) {
    nasc(&[
        "sample",
        "examples/tiny_lm.nas",
        "-n",
        "3",
        "--seed",
        "5",
        "--format",
        "json",
    ])
}

/// `nasc sample --format json | nasc describe FILE --arch -`: the architectures read from
/// standard input are the ones sampled; the `.nas` file cannot come from there as well.
#[test]
fn describe_reads_architectures_from_standard_input() {
    let (code, sampled, _) = three_sampled();
    assert_eq!(code, 0);
    let piped = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nasc"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nasc runs");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
        drop(stdin);
        child.wait_with_output().expect("wait")
    };
    let out = piped(
        &[
            "describe",
            "examples/tiny_lm.nas",
            "--arch",
            "-",
            "--format",
            "json",
        ],
        &sampled,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hashes = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("JSON")["hash"].to_string()
            })
            .collect()
    };
    let described = String::from_utf8_lossy(&out.stdout);
    assert_eq!(hashes(&described), hashes(&sampled));
    assert_eq!(hashes(&sampled).len(), 3);
    let out = piped(&["describe", "-", "--arch", "-"], "{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nas::E041"));
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

#[test]
fn sample_prints_json_lines_and_the_same_seed_repeats() {
    let args = [
        "sample",
        "examples/tiny_lm.nas",
        "-n",
        "5",
        "--seed",
        "7",
        "--format",
        "json",
    ];
    let (code, first, stderr) = nasc(&args);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(first.lines().count(), 5);
    for line in first.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("JSON");
        assert_eq!(v["space"], "tiny_lm");
        assert_eq!(v["hash"].as_str().map(str::len), Some(32));
        assert!(v["graph"].as_array().is_some_and(|g| g.len() > 5));
    }
    let (_, second, _) = nasc(&args);
    assert_eq!(first, second);
    let (code, text, _) = nasc(&["sample", "examples/tiny_lm.nas", "-n", "2", "--seed", "7"]);
    assert_eq!(code, 0);
    assert!(text.contains("architecture 2 of 2"), "{text}");
    assert!(text.contains("metrics: params"), "{text}");
}

#[test]
fn describe_reads_back_a_sampled_architecture() {
    let (_, json, _) = nasc(&[
        "sample",
        "examples/deep_architect_poster.nas",
        "--seed",
        "4",
        "--format",
        "json",
    ]);
    let dir = std::env::temp_dir().join(format!("nasc-describe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("arch.json");
    std::fs::write(&file, json.trim()).unwrap();
    let path = file.to_string_lossy().into_owned();
    let (code, out, stderr) = nasc(&[
        "describe",
        "examples/deep_architect_poster.nas",
        "--arch",
        &path,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out.trim(), json.trim());
    // A value outside its domain is an error with a code and exit status 1.
    std::fs::write(&file, r#"{"n": 3}"#).unwrap();
    let (code, _, stderr) = nasc(&[
        "describe",
        "examples/deep_architect_poster.nas",
        "--arch",
        &path,
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nas::E031"), "{stderr}");
    // Not JSON: a usage error.
    std::fs::write(&file, "not json").unwrap();
    let (code, _, stderr) = nasc(&[
        "describe",
        "examples/deep_architect_poster.nas",
        "--arch",
        &path,
    ]);
    assert_eq!(code, 2, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sample -n 3 --format json` writes three architectures, one per line: `describe` reads
/// them all back, reports a bad one by its line and still prints the others; `train`,
/// which trains one, says the file holds three.
#[test]
fn describe_reads_every_architecture_of_a_json_lines_file() {
    let (code, json, stderr) = three_sampled();
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(json.lines().count(), 3, "{json}");
    let dir = std::env::temp_dir().join(format!("nasc-describe-lines-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("archs.jsonl");
    std::fs::write(&file, &json).unwrap();
    let path = file.to_string_lossy().into_owned();
    let describe = |format: &str| {
        nasc(&[
            "describe",
            "examples/tiny_lm.nas",
            "--arch",
            &path,
            "--format",
            format,
        ])
    };
    let (code, out, stderr) = describe("json");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out, json);
    let (code, out, stderr) = describe("text");
    assert_eq!(code, 0, "{stderr}");
    for k in 1..=3 {
        assert!(out.contains(&format!("architecture {k} of 3")), "{out}");
    }
    // The second one out of its domain: an error that names its line; the other two print.
    let lines: Vec<&str> = json.lines().collect();
    let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    let bad = lines[1].replacen(
        &format!("\"d_model\":{}", v["assignment"]["d_model"]),
        "\"d_model\":100",
        1,
    );
    assert_ne!(bad, lines[1]);
    std::fs::write(&file, format!("{}\n{bad}\n\n{}\n", lines[0], lines[2])).unwrap();
    let (code, out, stderr) = describe("json");
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("nas::E031") && stderr.contains("archs.jsonl:2"),
        "{stderr}"
    );
    assert_eq!(out, format!("{}\n{}\n", lines[0], lines[2]));
    let (code, _, stderr) = nasc(&["train", "examples/tiny_lm.nas", "--arch", &path]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("holds 3 architectures"), "{stderr}");
    // Nothing in the file, or JSON that breaks off: usage errors.
    for text in ["\n", "{\"d_model\": 64}\n{\"d_mod"] {
        std::fs::write(&file, text).unwrap();
        let (code, _, stderr) = describe("text");
        assert_eq!(code, 2, "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `nasc sample` prints each architecture as soon as it is drawn: the first line of a
/// hundred million comes at once, and when its reader goes away (`| head -n 1`) the
/// command stops, quietly and successfully, instead of drawing (and keeping) the rest.
/// So does `nasc enumerate` of a space its count shows to be within the limit.
#[test]
fn sample_streams_and_stops_when_its_reader_goes() {
    let first = first_line_then_hang_up(&[
        "sample",
        "examples/tiny_lm.nas",
        "-n",
        "100000000",
        "--format",
        "json",
    ]);
    let arch: serde_json::Value = serde_json::from_str(&first).expect("a JSON architecture");
    assert_eq!(arch["space"], "tiny_lm");
    // 4^16 architectures: a walk through all of them would take hours.
    let dir = common::temp_dir("enumerate-stream");
    let file = dir.join("wide.nas");
    std::fs::write(
        &file,
        "space s {\n    graph {\n        embedding(vocab = 100, dim = 64)\n        \
         repeat 16 { linear(out = choice(16, 32, 48, 64)) }\n        \
         lm_head(vocab = 100)\n    }\n}\n",
    )
    .unwrap();
    let path = file.to_string_lossy().into_owned();
    let first = first_line_then_hang_up(&["enumerate", &path, "--limit", "10000000000"]);
    assert!(first.contains("repeat[15].linear.out=16"), "{first}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `nasc` with `args`, reads the first line of its output, closes the pipe, and
/// requires the command to stop soon after, with exit status 0 and no error.
fn first_line_then_hang_up(args: &[&str]) -> String {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nasc runs");
    // The first line is read on a thread, so that a command that printed nothing until
    // it was done would fail here rather than hang.
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let Ok(first) = rx.recv_timeout(std::time::Duration::from_secs(120)) else {
        let _ = child.kill();
        panic!("nasc {args:?} printed nothing while working");
    };
    // The reader is gone; the next write fails and the command stops.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("nasc {args:?} kept going after its reader went away");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    first
}

#[test]
fn enumerate_counts_and_refuses_past_its_limit() {
    let (code, out, stderr) = nasc(&["enumerate", "examples/deep_architect_poster.nas", "--count"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(out.trim(), "25,008 architectures");
    let (code, _, stderr) = nasc(&[
        "enumerate",
        "examples/deep_architect_poster.nas",
        "--limit",
        "100",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("nas::E032") && stderr.contains("--limit"),
        "{stderr}"
    );
    let (code, _, stderr) = nasc(&["sample", "examples/tiny_lm.nas", "--space", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no space `nope`"), "{stderr}");
}

/// `-n` far beyond the space once reserved room for every architecture up front and
/// aborted on the allocation; now a uniform sample of a two-architecture space gives two.
#[test]
fn a_huge_sample_count_does_not_abort() {
    let dir = common::temp_dir("huge-n");
    let file = dir.join("two.nas");
    std::fs::write(
        &file,
        "space s {\n    param d = choice(4, 8)\n    graph {\n        embedding(vocab = 4, dim = d)\n        lm_head(vocab = 4)\n    }\n}\n",
    )
    .unwrap();
    let (code, stdout, stderr) = nasc(&[
        "sample",
        "-n",
        "1000000000000000",
        "--uniform",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

/// Output that cannot be written (a full device) never panics (101): diagnostics and
/// summaries that cannot be written are dropped, as a closed pipe's are, and the command
/// ends with its own exit code; `sample` and `enumerate`, whose output is their result,
/// stop with an I/O error (2).
#[test]
fn a_full_output_does_not_panic() {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full");
    if full().is_err() {
        eprintln!("skipped: no /dev/full here");
        return;
    }
    for (args, code) in [
        (vec!["check", "examples/tiny_lm.nas"], 0),
        (vec!["check", "tests/ui/arity_missing.nas"], 1),
        (vec!["sample", "examples/tiny_lm.nas", "-n", "3"], 2),
        (
            vec!["enumerate", "examples/deep_architect_poster.nas", "--count"],
            2,
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_nasc"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::from(full().unwrap()))
            .stderr(Stdio::from(full().unwrap()))
            .status()
            .expect("nasc runs");
        assert_eq!(out.code(), Some(code), "{args:?}");
    }
}

/// `--batch` is held to the limits of the file's `batch`, instead of allocating until the
/// process aborts.
#[test]
fn a_batch_on_the_command_line_past_the_limit_is_refused() {
    let (code, _, stderr) = nasc(&[
        "train",
        "examples/quickstart.nas",
        "--sample",
        "--batch",
        "100000000",
        "--steps",
        "1",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("`--batch 100000000` is more than nasc trains with"),
        "{stderr}"
    );
}
