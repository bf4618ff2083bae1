//! `nasc fmt` and `nasc::fmt::format_source`: on every example, standard-library and UI
//! program, formatting is idempotent, keeps every comment in order and keeps the program
//! (its syntax tree, spans aside, and what `nasc check` says about it); the command line
//! checks and rewrites files; and on mutated programs the formatter never panics and is
//! idempotent whenever it accepts the input.

use std::path::{Path, PathBuf};
use std::process::Command;

use nasc::diag::{Code, FileId, Sink};
use nasc::fmt::format_source;
use proptest::prelude::*;
use proptest::sample::Index;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `.nas` files directly in `dir` (relative to the crate), sorted.
fn nas_files(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "nas"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn corpus() -> Vec<PathBuf> {
    ["examples", "stdlib", "tests/ui", "tests/ui/support"]
        .iter()
        .flat_map(|d| nas_files(d))
        .collect()
}

/// The comments of `text`, in order, each with its lines' trailing blanks removed (the
/// formatter trims those).
fn comments(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(text.len(), |e| i + e);
            out.push(text[i..end].trim_end().to_string());
            i = end;
        } else if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .map_or(text.len(), |e| i + 2 + e + 2);
            let c: Vec<&str> = text[i..end].split('\n').map(str::trim_end).collect();
            out.push(c.join("\n"));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The syntax tree of `text` without spans, or `None` if it does not parse.
fn tree(text: &str) -> Option<String> {
    let mut sink = Sink::default();
    let file = nasc::syntax::parse_file(FileId(0), text, &mut sink);
    if sink.has_errors() {
        return None;
    }
    let debug = format!("{file:?}");
    let mut out = String::new();
    let mut rest = debug.as_str();
    while let Some(at) = rest.find("Span { file: FileId(") {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = &rest[rest.find('}').map_or(rest.len(), |e| e + 1)..];
    }
    out.push_str(rest);
    Some(out)
}

/// What `nasc check` says about `text` (in `dir`): diagnostic codes, messages and
/// summaries, positions left out.
fn verdict(text: &str, dir: &Path) -> String {
    let out = nasc::check_source("f.nas", text.to_string(), Some(dir.to_path_buf()));
    let mut s = String::new();
    for d in &out.diagnostics {
        s.push_str(&format!("{} {}\n", d.code, d.message));
    }
    for sum in &out.summaries {
        s.push_str(&nasc::render_summary(sum, "f.nas"));
    }
    s
}

/// Whether `nasc check` reports a syntax error (or a malformed number) in the file
/// itself.
fn has_parse_error(text: &str, dir: &Path) -> bool {
    let out = nasc::check_source("f.nas", text.to_string(), Some(dir.to_path_buf()));
    out.diagnostics.iter().any(|d| {
        matches!(d.code, Code::Syntax | Code::BadNumber)
            && out.sources.get(d.primary.span.file).name == "f.nas"
    })
}

#[test]
fn every_program_formats_idempotently_keeping_comments_and_meaning() {
    let files = corpus();
    assert!(files.len() > 20, "the corpus is missing");
    let mut refused = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let dir = path.parent().unwrap();
        let name = path.display();
        let out = match format_source(&text) {
            Ok(out) => out,
            Err(e) => {
                assert!(
                    has_parse_error(&text, dir),
                    "{name}: refused ({e}) but `nasc check` sees no syntax error"
                );
                refused += 1;
                continue;
            }
        };
        assert_eq!(
            format_source(&out).as_ref(),
            Ok(&out),
            "{name}: not idempotent"
        );
        assert_eq!(comments(&out), comments(&text), "{name}: comments differ");
        assert_eq!(tree(&out), tree(&text), "{name}: the syntax tree changed");
        assert_eq!(
            verdict(&out, dir),
            verdict(&text, dir),
            "{name}: check differs"
        );
        assert!(
            out.ends_with('\n') && !out.ends_with("\n\n"),
            "{name}: ending"
        );
        assert!(!out.contains("\n\n\n"), "{name}: blank lines not collapsed");
        assert!(
            out.lines().all(|l| l == l.trim_end()),
            "{name}: trailing whitespace"
        );
    }
    assert!(
        refused > 0,
        "the UI tests include programs that do not parse"
    );
}

#[test]
fn programs_that_check_clean_of_syntax_errors_are_accepted() {
    for path in corpus() {
        let text = std::fs::read_to_string(&path).unwrap();
        if !has_parse_error(&text, path.parent().unwrap()) {
            assert!(format_source(&text).is_ok(), "{}", path.display());
        }
    }
}

/// The examples and the standard library are the reference style: the formatter leaves
/// them as they are, except the two examples whose `|>` filters are not lined up.
#[test]
fn reference_programs_are_left_as_they_are() {
    let mut changed = Vec::new();
    let files: Vec<PathBuf> = nas_files("examples")
        .into_iter()
        .chain(nas_files("stdlib"))
        .collect();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        if format_source(&text).unwrap() != text {
            changed.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        changed.is_empty(),
        "examples and the standard library are kept in the house style; `nasc fmt` these: {changed:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The command line.

fn nasc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty folder under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fmt-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MESSY: &str =
    "space s {\n  param x = choice(1,2)   \n\n\n\n  graph { linear(out=x) } // end\n}";
const TIDY: &str =
    "space s {\n    param x = choice(1, 2)\n\n    graph { linear(out = x) } // end\n}\n";

#[test]
fn check_exits_zero_on_formatted_files_and_one_on_others() {
    let dir = scratch("check");
    let tidy = dir.join("tidy.nas");
    let messy = dir.join("messy.nas");
    std::fs::write(&tidy, TIDY).unwrap();
    let (code, stdout, _) = nasc(&["fmt", "--check", tidy.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    std::fs::write(&messy, MESSY).unwrap();
    let (code, stdout, _) = nasc(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("would reformat") && stdout.contains("messy.nas"));
    assert!(!stdout.contains("tidy.nas"), "{stdout}");
    assert!(stdout.contains("+    param x = choice(1, 2)"), "{stdout}");
    // --check writes nothing.
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), MESSY);
}

#[test]
fn rewrites_files_in_place_and_folders_recursively() {
    let dir = scratch("rewrite");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let a = dir.join("a.nas");
    let b = dir.join("sub/b.nas");
    let other = dir.join("sub/notes.txt");
    std::fs::write(&a, MESSY).unwrap();
    std::fs::write(&b, MESSY).unwrap();
    std::fs::write(&other, MESSY).unwrap();
    let (code, _, stderr) = nasc(&["fmt", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), TIDY);
    assert_eq!(std::fs::read_to_string(&b).unwrap(), TIDY);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), MESSY);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 2);
    let (code, _, _) = nasc(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
}

/// A file with `\r\n` line endings keeps them: a tidy one is left as it is, a messy one
/// is rewritten tidy with `\r\n`.
#[test]
fn windows_line_endings_are_kept() {
    let dir = scratch("crlf");
    let crlf = |t: &str| t.replace('\n', "\r\n");
    let tidy = dir.join("tidy.nas");
    let messy = dir.join("messy.nas");
    std::fs::write(&tidy, crlf(TIDY)).unwrap();
    std::fs::write(&messy, crlf(MESSY)).unwrap();
    let (code, stdout, _) = nasc(&["fmt", "--check", tidy.to_str().unwrap()]);
    assert_eq!(code, 0, "a tidy file with \\r\\n is formatted\n{stdout}");
    let (code, _, stderr) = nasc(&["fmt", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), crlf(TIDY));
    assert_eq!(std::fs::read_to_string(&tidy).unwrap(), crlf(TIDY));
}

/// A file its permissions make read-only is reported and left as it is (it was replaced
/// through its writable folder).
#[cfg(unix)]
#[test]
fn read_only_files_are_not_rewritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("read-only");
    let file = dir.join("ro.nas");
    std::fs::write(&file, MESSY).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let (code, _, stderr) = nasc(&["fmt", "--color", "never", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("nas::E040") && stderr.contains("cannot write"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), MESSY);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
}

#[test]
fn files_that_do_not_parse_are_reported_and_left_alone() {
    let dir = scratch("broken");
    let broken = dir.join("broken.nas");
    let text = "space s {\n  param x = choice(1,\n}\n";
    std::fs::write(&broken, text).unwrap();
    let (code, _, stderr) = nasc(&["fmt", "--color", "never", broken.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("nas::E001"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);
}

#[test]
fn standard_input_goes_to_standard_output() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(MESSY.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);
}

// ---------------------------------------------------------------------------------------
// Mutated programs.

/// What a mutation inserts: layout (which keeps a program valid when it falls between
/// tokens) and tokens (which mostly break it).
const INSERTS: &[&str] = &[
    " ",
    "\n",
    "\n\n\n",
    "\t",
    "  ",
    ";",
    " // c\n",
    "/* c */",
    "/* a\n  b */",
    "///d\n",
    "{",
    "}",
    "(",
    ")",
    ",",
    "=",
    "-",
    ">>",
    "|>",
    ":",
    "x",
    "1",
    "\"s\"",
    "param",
    "data",
    "enum",
    "%",
    ".",
    "keep",
];

/// What a space may become without changing the program (outside strings and comments).
const LAYOUTS: &[&str] = &["\n", "  ", "\t", " /* c */ ", "\n\n", "\n// c\n"];

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, usize),
    Duplicate(Index, usize),
    Insert(Index, usize),
    /// Replace every space with the layout at this index, which keeps most programs
    /// valid and scrambles their layout.
    Respace(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (any::<Index>(), 1usize..32).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        4 => (any::<Index>(), 0..INSERTS.len()).prop_map(|(i, k)| Mutation::Insert(i, k)),
        1 => (0..LAYOUTS.len()).prop_map(Mutation::Respace),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut b = text.as_bytes().to_vec();
    let len = b.len();
    match m {
        Mutation::Delete(i, n) => {
            let a = i.index(len + 1);
            b.drain(a..(a + n).min(len));
        }
        Mutation::Duplicate(i, n) => {
            let a = i.index(len + 1);
            let e = (a + n).min(len);
            let copy = b[a..e].to_vec();
            b.splice(e..e, copy);
        }
        Mutation::Insert(i, k) => {
            let a = i.index(len + 1);
            b.splice(a..a, INSERTS[*k].bytes());
        }
        Mutation::Respace(k) => return text.replace(' ', LAYOUTS[*k]),
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn mutated() -> impl Strategy<Value = String> {
    let seeds: Vec<String> = corpus()
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    (any::<Index>(), prop::collection::vec(mutation(), 1..5)).prop_map(move |(i, ms)| {
        let mut text = seeds[i.index(seeds.len())].clone();
        for m in &ms {
            text = apply(&text, m);
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_panics_and_is_idempotent(text in mutated()) {
        if let Ok(out) = format_source(&text) {
            prop_assert_eq!(format_source(&out), Ok(out.clone()));
            prop_assert_eq!(comments(&out), comments(&text));
            prop_assert_eq!(tree(&out), tree(&text));
        }
    }
}

#[test]
fn a_byte_order_mark_in_front_checks_and_stays_where_it_was() {
    let text = std::fs::read_to_string(root().join("examples/mlp_layers.nas")).unwrap();
    let marked = format!("\u{feff}{text}");
    let out = nasc::check_source("bom.nas", marked.clone(), Some(root().join("examples")));
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let formatted = format_source(&marked).expect("formats");
    assert_eq!(
        formatted,
        format!("\u{feff}{}", format_source(&text).unwrap())
    );
}

#[test]
fn lines_ended_by_a_lone_carriage_return_are_lines() {
    let text = std::fs::read_to_string(root().join("examples/mlp_layers.nas")).unwrap();
    let old_mac = text.replace('\n', "\r");
    let out = nasc::check_source("cr.nas", old_mac.clone(), Some(root().join("examples")));
    assert!(!out.diagnostics.iter().any(|d| d.is_error()));
    // An error is found on its own line (the `//` comments end with their lines).
    let broken = old_mac.replace("dim = 64", "dim = \"x\"");
    let out = nasc::check_source("cr.nas", broken, Some(root().join("examples")));
    let e = out
        .diagnostics
        .iter()
        .find(|d| d.is_error())
        .expect("the string is refused");
    let line = text.lines().position(|l| l.contains("dim = 64")).unwrap() + 1;
    let file = out
        .sources
        .iter()
        .find(|(_, f)| f.name == "cr.nas")
        .unwrap()
        .0;
    assert_eq!(out.sources.line_col(file, e.primary.span.start).0, line);
}
