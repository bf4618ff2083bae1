//! `docs/diagnostics.md` stays true: every code of `src/diag.rs` has a section, each
//! section's **Wrong** example reports that code, and its **Fixed** example checks clean.

mod common;

use std::path::Path;

/// The `nas` code blocks of a section, in order.
fn blocks(section: &str) -> Vec<String> {
    fenced(section, "```nas")
}

/// The code blocks of a section that open with `fence`, in order.
fn fenced(section: &str, fence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with(fence) => current = Some(String::new()),
            (Some(_), "```") => out.push(current.take().unwrap_or_default()),
            (Some(buf), _) => {
                buf.push_str(line);
                buf.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[test]
fn every_code_is_documented_with_a_wrong_and_a_fixed_example() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
            .expect("docs exist");
    for code in nasc::diag::Code::ALL {
        let heading = format!("## {}: {}", code.as_str(), code.title());
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/diagnostics.md lacks `{heading}`"));
        let rest = &doc[start + heading.len()..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        let examples = blocks(section);
        assert!(
            examples.len() >= 2,
            "{code}: needs a wrong and a fixed example"
        );
        let (wrong, fixed) = (&examples[0], &examples[examples.len() - 1]);
        // Examples that import a second file of their own cannot be checked alone.
        if wrong.contains("import ") && !wrong.contains("import std.") {
            continue;
        }
        // Codes of the interpreter commands: the program checks clean, the command
        // reports the code on the wrong example and nothing on the fixed one.
        if section.contains("Reported by `nasc train`") {
            for (src, expect) in [(wrong, true), (fixed, false)] {
                assert!(
                    common::codes(src).is_empty(),
                    "{code}: the example must check clean\n{src}"
                );
                let codes = common::train_codes(src);
                assert_eq!(
                    codes.iter().any(|c| c == code.as_str()),
                    expect,
                    "{code}: `nasc train` reports {codes:?}\n{src}"
                );
                if !expect {
                    assert!(
                        codes.is_empty(),
                        "{code}: the fixed example reports {codes:?}"
                    );
                }
            }
            continue;
        }
        if section.contains("Reported by `nasc run`,")
            || section.contains("Reported by `nasc run`:")
        {
            for (src, expect) in [(wrong, true), (fixed, false)] {
                assert!(
                    common::codes(src).is_empty(),
                    "{code}: the example must check clean\n{src}"
                );
                let codes = common::run_pipeline_codes(src);
                assert_eq!(
                    codes.iter().any(|c| c == code.as_str()),
                    expect,
                    "{code}: `nasc run` reports {codes:?}\n{src}"
                );
                if !expect {
                    assert!(
                        codes.is_empty(),
                        "{code}: the fixed example reports {codes:?}"
                    );
                }
            }
            continue;
        }
        let command = ["sample", "enumerate", "describe"]
            .into_iter()
            .find(|c| section.contains(&format!("Reported by `nasc {c}`")));
        if let Some(command) = command {
            let json = fenced(section, "```json");
            let request = |k: usize| match command {
                "sample" => common::sample_request(3, 0),
                "enumerate" => common::Request::Enumerate {
                    limit: 100_000,
                    count_only: true,
                },
                _ => common::Request::Describe {
                    file: "arch.json".into(),
                    json: json.get(k).cloned().unwrap_or_default(),
                    partial: false,
                },
            };
            for (src, k, expect) in [(wrong, 0, true), (fixed, json.len().max(1) - 1, false)] {
                assert!(
                    common::codes(src).is_empty(),
                    "{code}: the example must check clean\n{src}"
                );
                let (_, codes) = common::run(src, &request(k), false);
                assert_eq!(
                    codes.iter().any(|c| c == code.as_str()),
                    expect,
                    "{code}: `nasc {command}` reports {codes:?}\n{src}"
                );
                if !expect {
                    assert!(
                        codes.is_empty(),
                        "{code}: the fixed example reports {codes:?}"
                    );
                }
            }
            continue;
        }
        let codes = common::codes(wrong);
        assert!(
            codes.iter().any(|c| c == code.as_str()),
            "{code}: the wrong example reports {codes:?}\n{wrong}"
        );
        let fixed_codes = common::codes(fixed);
        assert!(
            fixed_codes.is_empty(),
            "{code}: the fixed example reports {fixed_codes:?}\n{fixed}"
        );
    }
}

/// The codes of failures without a source line (`src/cli/fail.rs`) are documented too; the
/// console examples of `E040` and `E041` are run: the wrong command prints exactly the
/// text shown, with exit status 2, and the fixed one succeeds.
#[test]
fn every_failure_code_is_documented_and_its_examples_run() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/diagnostics.md"))
            .expect("docs exist");
    for (code, title) in nasc::cli::fail::CODES {
        let short = code.trim_start_matches("nas::");
        let heading = format!("## {short}: {title}");
        let start = doc
            .find(&heading)
            .unwrap_or_else(|| panic!("docs/diagnostics.md lacks `{heading}`"));
        let rest = &doc[start + heading.len()..];
        let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        let commands = fenced(section, "```console");
        let shown = fenced(section, "```text");
        assert!(
            commands.len() >= 2 && !shown.is_empty(),
            "{code}: needs a wrong and a fixed command and the wrong one's output"
        );
        assert!(
            shown[0].starts_with(code),
            "{code}: the output shows the code"
        );
        if !["nas::E040", "nas::E041"].contains(&code) {
            continue;
        }
        let args = |c: &str| -> Vec<String> {
            let line = c.trim().strip_prefix("$ nasc ").expect("a `nasc` command");
            line.split_whitespace().map(str::to_string).collect()
        };
        let wrong = args(&commands[0]);
        let wrong: Vec<&str> = wrong.iter().map(String::as_str).collect();
        let (status, _, stderr) = common::nasc(&wrong);
        assert_eq!(status, 2, "{code}: `{wrong:?}` exits with 2\n{stderr}");
        let trimmed = |t: &str| t.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
        assert_eq!(
            trimmed(&stderr),
            trimmed(&shown[0]),
            "{code}: the documented output is what `nasc` prints"
        );
        let fixed = args(&commands[commands.len() - 1]);
        let fixed: Vec<&str> = fixed.iter().map(String::as_str).collect();
        let (status, _, stderr) = common::nasc(&fixed);
        assert_eq!(status, 0, "{code}: `{fixed:?}` succeeds\n{stderr}");
    }
}

#[test]
fn every_code_has_a_ui_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("snapshots exist").flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("snapshots__ui")
        {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
    }
    let missing: Vec<&str> = nasc::diag::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !all.contains(&format!("nas::{c}")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a tests/ui program: {missing:?}"
    );
}

#[test]
fn the_readme_example_checks_clean() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README exists");
    let examples = blocks(&readme);
    assert!(!examples.is_empty(), "README has a `nas` example");
    for example in examples {
        let codes = common::codes(&example);
        assert!(
            codes.is_empty(),
            "README example reports {codes:?}\n{example}"
        );
    }
}
