//! `nasc lsp` end to end: the binary runs as a child process and these tests speak the
//! Language Server Protocol to it over its standard input and output, as an editor does
//! (initialize, didOpen, didChange, hover, definition, references, rename, completion,
//! outline, formatting, shutdown), and assert on its replies. Apart from the test of the
//! worker thread, they turn deferral off (`deferMs`), so every publication is complete
//! and the assertions do not depend on how fast the machine is.

#[path = "common/lsp_client.rs"]
mod client;

use std::path::{Path, PathBuf};

use client::{file_uri, position_of, Client};
use serde_json::{json, Value};

const EXE: &str = env!("CARGO_BIN_EXE_nasc");

/// A fresh directory for one test.
fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nasc-lsp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir.canonicalize().expect("canonical")
}

const DEMO: &str = r#"import std.transformer.{ attention }

space demo {
    param width = choice(64, 128)
    param lr = log_uniform(1e-4, 1e-2)
    graph {
        embedding(vocab = data.vocab, dim = width)
        attention(heads = 4, kind = softmax)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 64)
    train { steps = 10, batch = 4, optimizer = adamw(lr = lr) }
    objective { minimize val_loss }
    pipeline {
        random(samples = 4, steps = 10) |> keep top 2 by val_loss
        final(steps = 20)
    }
}
"#;

fn open(c: &mut Client, uri: &str, text: &str) {
    c.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "nas", "version": 1, "text": text } }),
    );
}

fn at(uri: &str, text: &str, needle: &str, skip: usize) -> Value {
    json!({ "textDocument": { "uri": uri }, "position": position_of(text, needle, skip) })
}

/// What `nasc check` reports for `text` in `dir`, as the server must publish it for the
/// root file: the code and the range of each diagnostic.
fn expected(text: &str, dir: &Path) -> Vec<(String, Value)> {
    let out = nasc::check_source("demo.nas", text.to_string(), Some(dir.to_path_buf()));
    out.diagnostics
        .iter()
        .filter(|d| d.primary.span.file == FileIdRoot::ROOT)
        .map(|d| {
            let s = d.primary.span;
            let pos = |o: usize| {
                let before = &text[..o];
                json!({
                    "line": before.matches('\n').count(),
                    "character": before.rsplit('\n').next().unwrap_or("").encode_utf16().count()
                })
            };
            (
                format!("nas::{}", d.code),
                json!({ "start": pos(s.start), "end": pos(s.end) }),
            )
        })
        .collect()
}

/// The root file's id: the loader adds the prelude first, then the root.
struct FileIdRoot;
impl FileIdRoot {
    const ROOT: nasc::diag::FileId = nasc::diag::FileId(1);
}

/// The labels of a completion reply.
fn completion_labels(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect()
}

fn published(diags: &[Value]) -> Vec<(String, Value)> {
    diags
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["range"].clone(),
            )
        })
        .collect()
}

#[test]
fn a_session_as_an_editor_speaks_it() {
    let dir = temp("session");
    let path = dir.join("demo.nas");
    std::fs::write(&path, DEMO).expect("write");
    let uri = file_uri(&path);
    let (mut c, init) = Client::start(EXE, json!({ "debounceMs": 0, "deferMs": 3_600_000 }));
    let caps = &init["capabilities"];
    assert_eq!(
        caps["signatureHelpProvider"]["triggerCharacters"],
        json!(["(", ","])
    );
    for cap in [
        "codeActionProvider",
        "hoverProvider",
        "definitionProvider",
        "referencesProvider",
        "renameProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
    ] {
        assert_eq!(caps[cap], json!(true), "{cap} in {caps}");
    }
    assert_eq!(init["serverInfo"]["name"], "nasc");

    // A typo: the diagnostics are those of `nasc check`, same codes, same places.
    let broken = DEMO.replace("dim = width", "dim = widht");
    open(&mut c, &uri, &broken);
    let diags = c.diagnostics_of(&uri, 1);
    assert!(!diags.is_empty(), "the typo is reported");
    assert_eq!(published(&diags), expected(&broken, &dir));
    let typo = diags
        .iter()
        .find(|d| d["message"].as_str().unwrap_or("").contains("widht"))
        .expect("the typo's diagnostic");
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("help: did you mean `width`?"),
        "{typo}"
    );
    assert_eq!(typo["source"], "nasc");

    // A quick fix offers the suggested name.
    let actions = c.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": typo["range"], "context": { "diagnostics": [typo] } }),
    );
    let fix = &actions[0];
    assert_eq!(fix["title"], "Replace `widht` with `width`");
    assert_eq!(fix["kind"], "quickfix");
    assert_eq!(fix["edit"]["changes"][uri.as_str()][0]["newText"], "width");
    assert_eq!(
        fix["edit"]["changes"][uri.as_str()][0]["range"],
        typo["range"]
    );

    // An incremental edit fixes it.
    let start = position_of(&broken, "widht", 0);
    let end = position_of(&broken, "widht", 5);
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "range": { "start": start, "end": end }, "text": "width" }] }),
    );
    let diags = c.diagnostics_of(&uri, 2);
    assert!(diags.is_empty(), "fixed: {diags:?}");
    let text = DEMO;

    // Hover: a hyperparameter's domain, size and uses; a space's size; a module's docs.
    let h = c.request("textDocument/hover", at(&uri, text, "param width", 6));
    let md = h["contents"]["value"].as_str().expect("markdown");
    assert!(md.contains("param width: int = choice(64, 128)"), "{md}");
    assert!(md.contains("2 values"), "{md}");
    assert!(md.contains("Used on line 7."), "{md}");
    let h = c.request("textDocument/hover", at(&uri, text, "space demo", 6));
    let md = h["contents"]["value"].as_str().expect("markdown");
    assert!(
        md.contains("infinite (continuous: lr); discrete part: 2"),
        "{md}"
    );
    let h = c.request("textDocument/hover", at(&uri, text, "attention(heads", 2));
    let md = h["contents"]["value"].as_str().expect("markdown");
    assert!(
        md.contains("attention(") && md.contains("heads: int"),
        "{md}"
    );
    let h = c.request("textDocument/hover", at(&uri, text, "heads = 4", 1));
    let md = h["contents"]["value"].as_str().expect("markdown");
    assert!(
        md.contains("heads: int\n") && md.contains("A parameter of `attention`."),
        "{md}"
    );
    let h = c.request("textDocument/hover", at(&uri, text, "by val_loss", 4));
    let md = h["contents"]["value"].as_str().expect("markdown");
    assert!(
        md.contains("builtin metric val_loss: float measured"),
        "{md}"
    );

    // Definition: a use of a hyperparameter, and a module of the standard library.
    let d = c.request(
        "textDocument/definition",
        at(&uri, text, "adamw(lr = lr", 11),
    );
    assert_eq!(d["uri"], uri.as_str());
    assert_eq!(d["range"]["start"], position_of(text, "param lr", 6));
    let d = c.request(
        "textDocument/definition",
        at(&uri, text, "attention(heads", 0),
    );
    let std_uri = d["uri"].as_str().expect("a location");
    assert!(std_uri.ends_with("std/transformer.nas"), "{std_uri}");
    let std_path = PathBuf::from(std_uri.trim_start_matches("file://"));
    let std_text = std::fs::read_to_string(&std_path).expect("the read-only copy exists");
    let line = d["range"]["start"]["line"].as_u64().unwrap() as usize;
    assert!(
        std_text.lines().nth(line).unwrap().contains("attention"),
        "lands on the definition"
    );

    // Highlights: the hyperparameter's definition and its use in this document.
    let marks = c.request(
        "textDocument/documentHighlight",
        at(&uri, text, "dim = width", 6),
    );
    let marks = marks.as_array().expect("highlights");
    assert_eq!(marks.len(), 2, "{marks:?}");
    assert_eq!(
        marks[0]["range"]["start"],
        position_of(text, "param width", 6)
    );
    assert_eq!(marks[0]["kind"], 3, "the definition is written there");
    assert_eq!(marks[1]["kind"], 2, "the use reads it");

    // References and rename.
    let refs = c.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": uri }, "position": position_of(text, "param width", 6), "context": { "includeDeclaration": true } }),
    );
    assert_eq!(refs.as_array().map(Vec::len), Some(2), "{refs}");
    let edit = c.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": position_of(text, "dim = width", 6), "newName": "d_model" }),
    );
    let edits = edit["changes"][uri.as_str()]
        .as_array()
        .expect("edits to the document");
    assert_eq!(edits.len(), 2);
    assert!(edits.iter().all(|e| e["newText"] == "d_model"));
    let refused = c.call("textDocument/rename", json!({ "textDocument": { "uri": uri }, "position": position_of(text, "attention(heads", 0), "newName": "att" }));
    assert!(refused.is_err(), "the standard library is not renamed");
    let refused = c.call("textDocument/rename", json!({ "textDocument": { "uri": uri }, "position": position_of(text, "param width", 6), "newName": "param" }));
    assert!(refused.is_err(), "a keyword is not a name");
    let refused = c.call("textDocument/rename", json!({ "textDocument": { "uri": uri }, "position": position_of(text, "param width", 6), "newName": "lr" }));
    assert!(
        refused.is_err_and(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("would break the program")),
        "a name already taken is refused"
    );

    // Completion: keyword arguments of the open call, strategies in the pipeline.
    let items = c.request(
        "textDocument/completion",
        at(&uri, text, "attention(heads = 4, ", 21),
    );
    let got = completion_labels(&items);
    assert!(
        got.contains(&"kind =") && !got.contains(&"heads ="),
        "{got:?}"
    );
    let items = c.request(
        "textDocument/completion",
        at(&uri, text, "        random(", 8),
    );
    let got = completion_labels(&items);
    assert!(
        got.contains(&"tpe") && got.contains(&"evolution"),
        "{got:?}"
    );

    // Signature help inside a call: the parameters, the one being written.
    let help = c.request(
        "textDocument/signatureHelp",
        at(&uri, text, "attention(heads = 4, kind = ", 28),
    );
    let sig = &help["signatures"][0];
    assert!(
        sig["label"]
            .as_str()
            .unwrap_or("")
            .starts_with("attention(heads: int"),
        "{help}"
    );
    assert_eq!(help["activeParameter"], 1, "`kind` is the second parameter");
    assert_eq!(
        sig["parameters"][1]["label"],
        "kind: attention_kind = softmax"
    );

    // The outline.
    let symbols = c.request(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": uri } }),
    );
    assert_eq!(symbols[0]["name"], "demo");
    let children: Vec<&str> = symbols[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        children,
        [
            "width",
            "lr",
            "graph",
            "data",
            "train",
            "objective",
            "pipeline"
        ]
    );

    // Formatting: a messy document gets one edit to what `nasc fmt` prints; a formatted
    // one none; one that does not parse an error.
    let options = json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } });
    let messy = text.replace(
        "    param width = choice(64, 128)",
        "  param   width=choice(64,128)",
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": messy }] }),
    );
    let edits = c.request("textDocument/formatting", options.clone());
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    let formatted = nasc::fmt::format_source(&messy).expect("formats");
    assert_eq!(edits[0]["newText"].as_str(), Some(formatted.as_str()));
    assert!(
        formatted.contains("    param width = choice(64, 128)"),
        "{formatted}"
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [{ "text": formatted }] }),
    );
    assert_eq!(
        c.request("textDocument/formatting", options.clone()),
        json!([]),
        "formatted already"
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 5 }, "contentChanges": [{ "text": "space {" }] }),
    );
    let failed = c.call("textDocument/formatting", options);
    assert!(failed.is_err_and(|e| e["message"]
        .as_str()
        .unwrap_or("")
        .starts_with("cannot format")));

    // Something the server does not do is an error, not a crash.
    let err = c
        .call(
            "textDocument/codeLens",
            json!({ "textDocument": { "uri": uri } }),
        )
        .expect_err("not supported");
    assert_eq!(err["code"], -32601);

    assert!(c.shutdown().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// A function with a typo (`dropot`), in `blocks.nas`.
const BLOCKS: &str = "/// A block with a typo in it.\nfn my_block(w: int) -> module {\n    layer_norm() >> dropot(rate = 0.1)\n}\n";

/// A space that imports [`BLOCKS`], in `main.nas`.
const MAIN: &str = "import blocks.{ my_block }\n\nspace s {\n    param width = choice(64, 128)\n    graph {\n        embedding(vocab = 100, dim = width)\n        my_block(w = width)\n        lm_head(vocab = 100)\n    }\n}\n";

/// A fresh folder holding [`BLOCKS`] and [`MAIN`]; it and the two files' URIs.
fn imports(tag: &str) -> (PathBuf, String, String) {
    let dir = temp(tag);
    std::fs::write(dir.join("blocks.nas"), BLOCKS).expect("write");
    std::fs::write(dir.join("main.nas"), MAIN).expect("write");
    let (main_uri, blocks_uri) = (
        file_uri(&dir.join("main.nas")),
        file_uri(&dir.join("blocks.nas")),
    );
    (dir, main_uri, blocks_uri)
}

#[test]
fn errors_in_imported_files_are_published_to_them_and_unsaved_text_is_read() {
    let (dir, main_uri, blocks_uri) = imports("imports");
    let (blocks, main) = (BLOCKS, MAIN);
    let (mut c, _) = Client::start(EXE, json!({ "debounceMs": 0, "deferMs": 3_600_000 }));
    open(&mut c, &main_uri, main);
    let diags = c.diagnostics(&blocks_uri);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["code"], "nas::E008");
    assert_eq!(diags[0]["range"]["start"], position_of(blocks, "dropot", 0));

    // Go to definition crosses into the imported file.
    let d = c.request(
        "textDocument/definition",
        at(&main_uri, main, "my_block(w", 0),
    );
    assert_eq!(d["uri"], blocks_uri.as_str());

    // The editor opens the imported file and fixes it without saving: the importing
    // file is checked against the unsaved text.
    let fixed = blocks.replace("dropot", "dropout");
    c.drain();
    open(&mut c, &blocks_uri, &fixed);
    assert!(c.diagnostics(&blocks_uri).is_empty());
    // References cross files: the definition in the imported file, the imported name
    // and the call in the importing one.
    let refs = c.request(
        "textDocument/references",
        json!({ "textDocument": { "uri": main_uri }, "position": position_of(main, "my_block(w", 0), "context": { "includeDeclaration": true } }),
    );
    let mut got: Vec<(String, Value)> = refs
        .as_array()
        .expect("locations")
        .iter()
        .map(|l| {
            (
                l["uri"].as_str().unwrap_or("").to_string(),
                l["range"]["start"].clone(),
            )
        })
        .collect();
    got.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.to_string().cmp(&y.1.to_string())));
    let mut want = vec![
        (blocks_uri.clone(), position_of(&fixed, "my_block", 0)),
        (main_uri.clone(), position_of(main, "my_block", 0)),
        (main_uri.clone(), position_of(main, "my_block(w", 0)),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0).then(x.1.to_string().cmp(&y.1.to_string())));
    assert_eq!(got, want);
    // A change that breaks the import's signature shows up in the importing file.
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": blocks_uri, "version": 2 }, "contentChanges": [{ "text": fixed.replace("my_block(w: int)", "my_block(width: int)") }] }),
    );
    let diags = loop {
        let d = c.diagnostics(&main_uri);
        if !d.is_empty() {
            break d;
        }
    };
    assert!(
        diags
            .iter()
            .any(|d| d["message"].as_str().unwrap_or("").contains('w')),
        "{diags:?}"
    );
    assert!(c.shutdown().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// A tiny deterministic generator, so the edits are the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The LSP position of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> Value {
    let before = &text[..offset];
    json!({ "line": before.matches('\n').count(), "character": before.rsplit('\n').next().unwrap_or("").encode_utf16().count() })
}

/// Random edits of every example (the same mutation vocabulary as the parser's fuzz
/// tests: tokens of the language, brackets, quotes, comment openers, non-ASCII), with
/// requests at random places in between, and malformed messages: the server answers
/// every request and is still running at the end.
#[test]
fn malformed_edits_and_messages_never_stop_the_server() {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "(",
        ")",
        ",",
        "=",
        "==",
        "param",
        "let",
        "space",
        "graph",
        "repeat",
        "choice(",
        "range(1, ",
        "|>",
        "keep top",
        " by ",
        "\"",
        "/*",
        "//",
        "\n",
        "1e999",
        "99999999999999999999",
        "é",
        "\u{1F600}",
        ">>",
        "import std.",
        "fn f(",
        "-> module",
        "",
        "   ",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Every example and every bad program of the UI tests, as the parser's fuzz tests.
    let mut files: Vec<PathBuf> = ["examples", "tests/ui"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("a test folder"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "nas"))
        .collect();
    files.sort();
    let (mut c, _) = Client::start(EXE, json!({ "debounceMs": 0, "deferMs": 3_600_000 }));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut answered = 0;
    for path in &files {
        let mut text = std::fs::read_to_string(path).expect("example");
        let uri = file_uri(path);
        open(&mut c, &uri, &text);
        // Examples get more edits than the (short) UI programs.
        let edits = if path.starts_with(root.join("examples")) {
            32
        } else {
            6
        };
        for version in 2..edits {
            let mut a = rng.below(text.len() + 1);
            let mut b = (a + rng.below(12)).min(text.len());
            while !text.is_char_boundary(a) {
                a -= 1;
            }
            while !text.is_char_boundary(b) {
                b += 1;
            }
            let insert = TOKENS[rng.below(TOKENS.len())];
            let range = json!({ "start": position(&text, a), "end": position(&text, b) });
            text.replace_range(a..b, insert);
            c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": version }, "contentChanges": [{ "range": range, "text": insert }] }));
            if version % 8 == 0 {
                let mut o = rng.below(text.len() + 1);
                while !text.is_char_boundary(o) {
                    o -= 1;
                }
                let p = json!({ "textDocument": { "uri": uri }, "position": position(&text, o) });
                for method in [
                    "textDocument/hover",
                    "textDocument/completion",
                    "textDocument/definition",
                    "textDocument/documentSymbol",
                ] {
                    let _ = c.call(method, p.clone());
                    answered += 1;
                }
            }
        }
        // The server's text is the client's: a full replacement checks the same.
        c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 100 }, "contentChanges": [{ "text": text }] }));
        let diags = c.diagnostics_of(&uri, 100);
        c.drain();
        // Named as the file itself, so a file that imports itself is found to, as by
        // the server.
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name");
        let own = nasc::check_source(name, text.clone(), path.parent().map(Path::to_path_buf));
        let root_errors = own
            .diagnostics
            .iter()
            .filter(|d| d.primary.span.file == FileIdRoot::ROOT)
            .count();
        assert_eq!(diags.len(), root_errors, "{}: {diags:?}", path.display());
    }
    // Malformed messages: a range past the end, parameters of the wrong shape, a
    // document that was never opened.
    let uri = file_uri(&files[0]);
    c.notify("textDocument/didChange", json!({ "textDocument": { "uri": uri, "version": 200 }, "contentChanges": [{ "range": { "start": { "line": 9999, "character": 5 }, "end": { "line": 0, "character": 0 } }, "text": "x" }] }));
    c.notify("textDocument/didChange", json!({ "nonsense": true }));
    assert!(c
        .call("textDocument/hover", json!({ "position": "here" }))
        .is_err());
    assert_eq!(c.request("textDocument/hover", json!({ "textDocument": { "uri": "file:///nowhere.nas" }, "position": { "line": 0, "character": 0 } })), Value::Null);
    assert!(c.call("textDocument/rename", json!([1, 2, 3])).is_err());
    assert!(
        c.alive(),
        "the server is still running after {answered} requests"
    );
    assert!(c.shutdown().success());
}

/// After an edit, a space whose counting and shape rules were slow last time (here: any
/// time at all, `deferMs: 0`) is left to the worker thread: the diagnostics of the rest
/// come at once, then the complete set, equal to `nasc check`'s, for the same version.
#[test]
fn slow_spaces_are_finished_by_the_worker_and_published_again() {
    let dir = temp("worker");
    let text = "import std.transformer.{ attention }\n\nspace broken {\n    param width = choice(64, 96)\n    graph {\n        embedding(vocab = 100, dim = width)\n        attention(heads = 3)\n        lm_head(vocab = 100)\n    }\n}\n";
    let path = dir.join("w.nas");
    std::fs::write(&path, text).expect("write");
    let uri = file_uri(&path);
    let (mut c, _) = Client::start(EXE, json!({ "debounceMs": 0, "deferMs": 0 }));
    open(&mut c, &uri, text);
    let first = c.diagnostics_of(&uri, 1);
    assert_eq!(
        published(&first),
        expected(text, &dir),
        "on open everything is analysed"
    );
    assert!(first.iter().any(|d| d["code"] == "nas::E018"));

    let edited = text.replace("choice(64, 96)", "choice(64, 96, 192)");
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": edited }] }),
    );
    let quick = c.diagnostics_of(&uri, 2);
    assert!(
        !quick.iter().any(|d| d["code"] == "nas::E018"),
        "the edited space's shape rules are pending at first: {quick:?}"
    );
    let complete = c.diagnostics_of(&uri, 2);
    assert_eq!(
        published(&complete),
        expected(&edited, &dir),
        "then the complete set"
    );
    assert!(c.shutdown().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// A file imported by an open document but not open itself changes on disk: the client
/// (asked at start-up to watch `.nas` files) reports it, and the importing document is
/// checked again against the new text.
#[test]
fn files_changed_on_disk_are_watched_and_read_again() {
    let (dir, main_uri, blocks_uri) = imports("watch");
    let (blocks, main) = (BLOCKS, MAIN);
    let caps = json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } });
    let (mut c, _) =
        Client::start_with(EXE, caps, json!({ "debounceMs": 0, "deferMs": 3_600_000 }));
    let register = c
        .wait(std::time::Duration::from_secs(10), |m| {
            m["method"] == "client/registerCapability"
        })
        .expect("the server asks to watch files");
    assert_eq!(
        register["params"]["registrations"][0]["method"],
        "workspace/didChangeWatchedFiles"
    );
    assert_eq!(
        register["params"]["registrations"][0]["registerOptions"]["watchers"][0]["globPattern"],
        "**/*.nas"
    );
    open(&mut c, &main_uri, main);
    assert_eq!(
        c.diagnostics(&blocks_uri).len(),
        1,
        "the typo in the imported file"
    );
    std::fs::write(dir.join("blocks.nas"), blocks.replace("dropot", "dropout")).expect("write");
    c.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": blocks_uri, "type": 2 }] }),
    );
    assert!(
        c.diagnostics(&blocks_uri).is_empty(),
        "read again from disk"
    );
    assert!(c.shutdown().success());
    let _ = std::fs::remove_dir_all(dir);
}
