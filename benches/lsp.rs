//! How fast `nasc lsp` answers an edit of a large file.
//!
//! Starts the release binary as an editor would (stdio, debounce off, slow spaces left to
//! the server's worker thread as by default), opens a generated
//! 2,000-line `.nas` file (the same generator as `check_large`), then types into a comment
//! inside one of its spaces, one character an edit (every version a new text of that
//! space, so nothing of it can come from a cache), and times each edit from sending
//! `didChange` to receiving the `publishDiagnostics` of that version. For reference it
//! times, in the same run, the in-process check of the same text (`nasc::check_source`,
//! all `nasc check` does), so the ratio shows what the server adds on top of checking
//! (framing, JSON, position conversion, the index for hover and references).
//!
//! Run with `cargo bench --bench lsp`. The aim: an edit of a 2,000-line file answered
//! within 50 ms.

#[path = "../tests/common/lsp_client.rs"]
mod client;
#[path = "common/generate.rs"]
mod generate;

/// The allocator of the `nasc` binary, so the figures are what `nasc check` gets.
#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

use std::time::{Duration, Instant};

use serde_json::json;

const EDITS: usize = 40;

fn main() {
    let text = generate::generate(2_000);
    let lines = text.lines().count();
    let check = nasc::check_source("big.nas", text.clone(), None);
    assert!(
        !check.diagnostics.iter().any(|d| d.is_error()),
        "the generated file checks clean"
    );

    // The reference: checking in process.
    let mut reference = Vec::new();
    for _ in 0..EDITS {
        let t = Instant::now();
        let out = nasc::check_source("big.nas", text.clone(), None);
        reference.push(t.elapsed());
        std::hint::black_box(out);
    }

    let dir = std::env::temp_dir().join(format!("nasc-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let path = dir.join("big.nas");
    std::fs::write(&path, &text).expect("write");
    let uri = client::file_uri(&path);
    let (mut c, _) = client::Client::start(env!("CARGO_BIN_EXE_nasc"), json!({ "debounceMs": 0 }));
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "nas", "version": 1, "text": text } }),
    );
    let _ = c.diagnostics_of(&uri, 1);

    // Typing in one of the ordinary spaces (the usual case: the other spaces' analyses
    // are reused), then in the big space, whose shape rules are the slowest part of the
    // file (the server publishes the rest at once and the complete set when its worker
    // has finished that space).
    let (small, _) = edit_times(&mut c, &uri, &text, "space lm_3 ", 2, false);
    let (big, big_complete) = edit_times(&mut c, &uri, &text, "space big ", 2 + EDITS as i64, true);
    let t = Instant::now();
    let _ = c.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 0, "character": 0 } }),
    );
    let hover = t.elapsed();
    assert!(c.shutdown().success());
    let _ = std::fs::remove_dir_all(&dir);

    let (r50, r95) = percentiles(&mut reference);
    println!("nasc lsp on a {lines}-line file, {EDITS} edits each, debounce off\n");
    println!("in-process check of the whole file (reference): median {r50:>9.2?}  p95 {r95:>9.2?}");
    let aim = Duration::from_millis(50);
    for (what, mut times) in [
        ("an ordinary space", small),
        ("the big space", big),
        ("the big space, complete", big_complete),
    ] {
        let (s50, s95) = percentiles(&mut times);
        println!(
            "didChange -> diagnostics, edit in {what:<27}: median {s50:>9.2?}  p95 {s95:>9.2?}  ratio to the reference {:.2}  aim ({aim:?}): {}",
            s50.as_secs_f64() / r50.as_secs_f64(),
            if s95 < aim { "met" } else if s50 < aim { "met at the median, not at p95" } else { "NOT met" }
        );
    }
    println!("hover after the last edit: {hover:.2?}");
}

/// Types [`EDITS`] characters into a comment at the end of the line that opens the body
/// of the space after `anchor` (the first edit opens the comment), so every version is a
/// new text of that space, and times each from `didChange` to the first diagnostics of
/// its version and, when `deferred` (the server leaves the space's shape rules to its
/// worker thread after an edit), to the second, complete ones. Versions count from
/// `first`; the edits leave the comment in the text.
fn edit_times(
    c: &mut client::Client,
    uri: &str,
    text: &str,
    anchor: &str,
    first: i64,
    deferred: bool,
) -> (Vec<Duration>, Vec<Duration>) {
    let from = text.find(anchor).expect("the anchor");
    let end_of_line = from + text[from..].find('\n').expect("the line's end");
    let line = text[..end_of_line].matches('\n').count();
    let mut col = text[..end_of_line]
        .rsplit('\n')
        .next()
        .unwrap_or("")
        .encode_utf16()
        .count();
    let mut times = Vec::new();
    let mut complete = Vec::new();
    for i in 0..EDITS {
        let typed = if i == 0 { " //" } else { "x" };
        let version = first + i as i64;
        let at = json!({ "line": line, "character": col });
        let t = Instant::now();
        c.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri, "version": version },
                    "contentChanges": [{ "range": { "start": at, "end": at }, "text": typed }] }),
        );
        let _ = c.diagnostics_of(uri, version);
        times.push(t.elapsed());
        if deferred {
            let _ = c.diagnostics_of(uri, version);
            complete.push(t.elapsed());
        }
        col += typed.len();
    }
    (times, complete)
}

/// The median and the 95th percentile.
fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}
