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
