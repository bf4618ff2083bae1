//! Snapshot tests: the `check` output of every example, and the diagnostics of every bad
//! program in `tests/ui/`. Each snapshot shows the source, then the output.

mod common;

use std::path::Path;

fn snapshot(path: &Path) -> String {
    let src = std::fs::read_to_string(path).expect("readable");
    format!(
        "--- source\n{src}\n--- output\n{}",
        common::check_file(path)
    )
}

#[test]
fn examples() {
    insta::glob!("../examples", "*.nas", |path| {
        let out = common::check_file(path);
        assert!(
            !out.contains("× "),
            "example {} has errors:\n{out}",
            path.display()
        );
        insta::assert_snapshot!(snapshot(path));
    });
}

#[test]
fn ui() {
    insta::glob!("ui", "*.nas", |path| {
        let src = std::fs::read_to_string(path).expect("readable");
        assert!(
            src.starts_with("//"),
            "{} must start with a comment saying what it tests",
            path.display()
        );
        let out = common::check_file(path);
        assert!(
            out.contains("nas::"),
            "{} reports no diagnostic",
            path.display()
        );
        insta::assert_snapshot!(snapshot(path));
    });
}

/// The request a `tests/ui_run` program's second line asks for: `// run: sample -n 2
/// --seed 1`, `// run: enumerate`, `// run: describe {json}` (`// run: train` trains one
/// step of a sampled architecture, through `common::train_file`; `// run: run` runs the
/// pipeline with the real binary, through `common::run_pipeline_file`).
fn run_line(src: &str) -> common::Request {
    let line = src
        .lines()
        .find_map(|l| l.strip_prefix("// run: "))
        .expect("a `// run:` line");
    let words: Vec<&str> = line.split_whitespace().collect();
    let flag = |name: &str| {
        words
            .iter()
            .position(|w| *w == name)
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    match words[0] {
        "sample" => common::Request::Sample {
            n: flag("-n").unwrap_or(1) as usize,
            seed: flag("--seed").unwrap_or(0),
            uniform: words.contains(&"--uniform"),
            limit: flag("--limit").unwrap_or(1_000_000),
            max_attempts: flag("--max-attempts").unwrap_or(10_000),
        },
        "enumerate" => common::Request::Enumerate {
            limit: flag("--limit").unwrap_or(100_000),
            count_only: line.contains("--count"),
        },
        "describe" => {
            let rest = line["describe".len()..].trim();
            let partial = rest.starts_with("--partial");
            common::Request::Describe {
                file: "arch.json".into(),
                json: rest.trim_start_matches("--partial").trim().to_string(),
                partial,
            }
        }
        other => panic!("unknown command `{other}`"),
    }
}

#[test]
fn ui_run() {
    insta::glob!("ui_run", "*.nas", |path| {
        let src = std::fs::read_to_string(path).expect("readable");
        assert!(
            src.starts_with("//"),
            "{} must start with a comment saying what it tests",
            path.display()
        );
        let checked = common::check_file(path);
        assert!(
            !checked.contains("nas::"),
            "{} must check clean:\n{checked}",
            path.display()
        );
        let trains = src.lines().any(|l| l.starts_with("// run: train"));
        let runs = src.lines().any(|l| l == "// run: run");
        let out = if trains {
            common::train_file(path)
        } else if runs {
            common::run_pipeline_file(path)
        } else {
            common::run_file(path, &run_line(&src), false)
        };
        // A program whose comment starts `// ok:` shows a command that succeeds; every
        // other one must report its diagnostic.
        let ok = src.starts_with("// ok:");
        assert_eq!(
            out.contains("nas::"),
            !ok,
            "{} {}:\n{out}",
            path.display(),
            if ok {
                "reports a diagnostic"
            } else {
                "reports nothing"
            }
        );
        insta::assert_snapshot!(format!("--- source\n{src}\n--- output\n{out}"));
    });
}

/// `nasc sample` of every example: three architectures, seed 7.
#[test]
fn samples() {
    insta::glob!("../examples", "*.nas", |path| {
        let out = common::run_file(path, &common::sample_request(3, 7), false);
        assert!(
            !out.contains("nas::"),
            "sampling {} fails:\n{out}",
            path.display()
        );
        insta::assert_snapshot!(out);
    });
}
