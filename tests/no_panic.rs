//! The front end never panics: `nasc::check_source` (parse, check, count) must return
//! diagnostics for any text at all. Two property tests feed it (a) token soup drawn from
//! the language's own vocabulary and (b) mutations of every example and UI test program.
//! Inputs that once broke it are kept as plain tests at the end.
//!
//! The deeper, unbounded version of this test is the cargo-fuzz target in `fuzz/`.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;

/// Inputs are cut to this many bytes, to keep a case fast in a debug build.
const MAX_LEN: usize = 4096;

/// Runs the whole front end on `text`; a panic fails the test.
fn check(text: String) {
    let out = nasc::check_source("fuzz.nas", text, None);
    // Touch the results so nothing is optimised away, and render them: rendering reads
    // spans back out of the source, which is where byte offsets go wrong.
    for d in &out.diagnostics {
        let _ = nasc::render::human(d, &out.sources, 100, false);
        let _ = nasc::render::json(d, &out.sources);
    }
    for s in &out.summaries {
        let _ = nasc::render_summary(s, "fuzz.nas");
    }
}

// ---------------------------------------------------------------------------------------
// (a) Token soup.

const KEYWORDS: &[&str] = &[
    "space",
    "param",
    "let",
    "require",
    "graph",
    "repeat",
    "optional",
    "residual",
    "choice",
    "range",
    "uniform",
    "log_uniform",
    "fn",
    "builtin",
    "module",
    "enum",
    "import",
    "as",
    "data",
    "train",
    "objective",
    "pipeline",
    "minimize",
    "maximize",
    "keep",
    "top",
    "by",
    "pareto",
    "best",
    "where",
    "if",
    "else",
    "and",
    "or",
    "not",
    "true",
    "false",
    "int",
    "float",
    "bool",
    "string",
    "path",
    "static",
    "measured",
    "strategy",
    "metric",
    "optimizer",
    "dataset",
    "std",
    "transformer",
    "vision",
    "prelude",
    "params",
    "flops",
    "width",
];

const NAMES: &[&str] = &[
    "x",
    "y",
    "d_model",
    "heads",
    "layers",
    "attention",
    "ffn",
    "pre_norm",
    "post_norm",
    "block",
    "embedding",
    "positions",
    "lm_head",
    "layer_norm",
    "dropout",
    "linear",
    "act",
    "gelu",
    "relu",
    "softmax",
    "local",
    "window",
    "kind",
    "hidden",
    "vocab",
    "dim",
    "rate",
    "adamw",
    "lr",
    "random",
    "tpe",
    "final",
    "steps",
    "samples",
    "val_loss",
    "conv2d",
    "text_corpus",
    "_",
    "a1",
    "spaceship",
    "params_",
    "identity",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "16",
    "64",
    "1_000",
    "0.5",
    "0.0",
    "1e-4",
    "3e10",
    "5M",
    "2K",
    "1G",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999999",
    "1e400",
    "0.000001",
    "1e-400",
    "00",
    "1.",
    ".5",
];

const PUNCT: &[&str] = &[
    "{", "}", "(", ")", "[", "]", ",", ".", "=", ":", "+", "-", "*", "/", "%", "<", ">", "|", ">>",
    "|>", "->", "==", "!=", "<=", ">=", "\"", "\"abc\"", "\"\\\"", "\"é\"", ";", "!", "#", "//",
    "/*", "*/", "é", "∞", "\u{0}", "\\",
];

const SEPARATORS: &[&str] = &[" ", " ", " ", "", "\n", "\t", "\r\n", "  // c\n"];

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYWORDS).prop_map(str::to_string),
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "[a-z_][a-z0-9_]{0,6}",
        2 => prop::sample::select(NUMBERS).prop_map(str::to_string),
        1 => (0u64..100_000).prop_map(|n| n.to_string()),
        5 => prop::sample::select(PUNCT).prop_map(str::to_string),
    ]
}

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), prop::sample::select(SEPARATORS)), 0..300).prop_map(|toks| {
        let mut s = String::new();
        for (t, sep) in toks {
            s.push_str(&t);
            s.push_str(sep);
        }
        truncate(s.into_bytes())
    })
}

/// Token soup wrapped in a space or a function body, so it reaches the checker and the
/// counter more often than bare soup does.
fn wrapped_soup() -> impl Strategy<Value = String> {
    (0usize..4, soup()).prop_map(|(k, body)| match k {
        0 => format!("space s {{\n{body}\n}}\n"),
        1 => format!("space s {{\n param x : int = choice(1, 2)\n graph {{\n{body}\n}}\n}}\n"),
        2 => format!("import std.transformer.{{ attention, ffn, pre_norm }}\nfn f(a: int) -> module {{\n{body}\n}}\nspace s {{ graph {{ f(a = 1) }} }}\n"),
        _ => format!("space s {{\n param x : int = range(1, 8)\n let y = {body}\n require x % 2 == 0\n graph {{ repeat x {{ linear(out = y) }} }}\n}}\n"),
    })
}

// ---------------------------------------------------------------------------------------
// (b) Mutations of real programs.

/// Every `examples/*.nas` and `tests/ui/*.nas`, read once; missing directories are fine.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["examples", "tests/ui"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "nas"))
                .collect();
            paths.sort();
            for p in paths {
                if let Ok(bytes) = std::fs::read(&p) {
                    out.push(bytes);
                }
            }
        }
        if out.is_empty() {
            // Nothing on disk: a small program of our own, so the property still means something.
            out.push(FALLBACK_SEED.as_bytes().to_vec());
        }
        out
    })
}

const FALLBACK_SEED: &str = r#"import std.transformer.{ attention, ffn, pre_norm }
space s {
    param d : int = choice(64, 128)
    param h : int = choice(2, 4)
    param n : int = range(1, 4)
    let f = 4 * d
    require d % h == 0
    graph {
        embedding(vocab = 100, dim = d)
        repeat n { pre_norm(attention(heads = h)) pre_norm(ffn(hidden = f)) optional dropout() }
        lm_head(vocab = 100)
    }
    train { steps = 10, optimizer = adamw(lr = 0.001) }
    pipeline { random(samples = 4) |> keep best by val_loss }
}
"#;

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove a byte range.
    Delete(Index, usize),
    /// Insert a copy of a byte range right after it.
    Duplicate(Index, usize),
    /// Insert a token (with a space on either side, or not).
    Insert(Index, String, bool),
    /// Swap two non-overlapping byte ranges.
    Swap(Index, Index, usize),
    /// Overwrite one byte with a random one (may break UTF-8: read back lossily).
    Flip(Index, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<Index>(), token(), any::<bool>()).prop_map(|(i, t, sp)| Mutation::Insert(i, t, sp)),
        (any::<Index>(), any::<Index>(), 1usize..48).prop_map(|(a, b, n)| Mutation::Swap(a, b, n)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
    ]
}

/// An index into `0..=len` (a cut point).
fn cut(i: &Index, len: usize) -> usize {
    i.index(len + 1)
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match m {
        Mutation::Delete(i, n) => {
            let a = cut(i, len);
            let b = (a + n).min(len);
            bytes.drain(a..b);
        }
        Mutation::Duplicate(i, n) => {
            let a = cut(i, len);
            let b = (a + n).min(len);
            let copy = bytes[a..b].to_vec();
            bytes.splice(b..b, copy);
        }
        Mutation::Insert(i, tok, spaced) => {
            let a = cut(i, len);
            let t = if *spaced {
                format!(" {tok} ")
            } else {
                tok.clone()
            };
            bytes.splice(a..a, t.into_bytes());
        }
        Mutation::Swap(i, j, n) => {
            let (mut a, mut b) = (cut(i, len), cut(j, len));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            // [a, a+k) and [b, b+k) with a+k <= b.
            let k = (*n).min(b - a).min(len - b);
            if k > 0 {
                let first = bytes[a..a + k].to_vec();
                let second = bytes[b..b + k].to_vec();
                bytes[a..a + k].copy_from_slice(&second);
                bytes[b..b + k].copy_from_slice(&first);
            }
        }
        Mutation::Flip(i, byte) => {
            if len > 0 {
                let a = i.index(len);
                bytes[a] = *byte;
            }
        }
    }
}

/// Cuts to `MAX_LEN` bytes and reads back as text; invalid UTF-8 becomes U+FFFD, so the
/// byte-level mutations above can never hand the compiler a broken `str`.
fn truncate(mut bytes: Vec<u8>) -> String {
    bytes.truncate(MAX_LEN);
    String::from_utf8_lossy(&bytes).into_owned()
}

fn mutated() -> impl Strategy<Value = String> {
    (any::<Index>(), prop::collection::vec(mutation(), 1..8)).prop_map(|(seed, ms)| {
        let seeds = seeds();
        let mut bytes = seeds[seed.index(seeds.len())].clone();
        for m in &ms {
            apply(&mut bytes, m);
            if bytes.len() > 2 * MAX_LEN {
                bytes.truncate(2 * MAX_LEN);
            }
        }
        truncate(bytes)
    })
}

/// 256 cases per property (about a second each in a debug build); `PROPTEST_CASES` sets
/// another number, for a longer hunt.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failures are kept as plain tests below, not as files next to this one.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs the interpreter commands on `text`: a few samples, a short enumeration, and a
/// describe of an empty architecture; a panic fails the test.
fn interpret(text: String) {
    use nasc::cli::sample::{run_source, Request};
    let requests = [
        Request::Sample {
            n: 2,
            seed: 0,
            uniform: false,
            limit: 50,
            max_attempts: 20,
        },
        Request::Enumerate {
            limit: 50,
            count_only: false,
        },
        Request::Describe {
            file: "arch.json".into(),
            json: "{}".into(),
            partial: false,
        },
        Request::Describe {
            file: "arch.json".into(),
            json: "{}".into(),
            partial: true,
        },
    ];
    for r in &requests {
        let out = run_source("fuzz.nas", text.clone(), None, None, r, false, None);
        for d in &out.diagnostics {
            let _ = nasc::render::human(d, &out.sources, 100, false);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: config().cases / 4, ..config() })]

    #[test]
    fn mutated_programs_interpret_without_panics(text in mutated()) {
        interpret(text);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn token_soup_never_panics(text in soup()) {
        check(text);
    }

    #[test]
    fn wrapped_token_soup_never_panics(text in wrapped_soup()) {
        check(text);
    }

    #[test]
    fn mutated_programs_never_panic(text in mutated()) {
        check(text);
    }
}

// ---------------------------------------------------------------------------------------
// Fixed inputs: the seeds themselves, edge cases, and past failures.

#[test]
fn seeds_never_panic() {
    for s in seeds() {
        check(String::from_utf8_lossy(s).into_owned());
        interpret(String::from_utf8_lossy(s).into_owned());
    }
}

#[test]
fn edge_cases_never_panic() {
    for text in [
        "",
        " ",
        "\n",
        "\u{feff}",
        "\"",
        "\"\\",
        "/*",
        "//",
        "space",
        "space s {",
        "space s { param }",
        "space s { param x = }",
        "space s { param x : int = range(1, 0) }",
        "space s { param x : int = range(0, 10, 0) }",
        "space s { param x : int = range(-9223372036854775808, 9223372036854775807) }",
        "space s { param x : int = range(0, 9223372036854775807, 9223372036854775807) }",
        "space s { param x : float = uniform(1.0, 0.0) }",
        "space s { param x : float = uniform(0.0, 1e308, q = 1e-308) }",
        "space s { param x : float = log_uniform(0.0, 1.0) }",
        "space s { param x : int = choice() }",
        "space s { param x : int = choice(1, 2) require x / 0 == 1 }",
        "space s { param x : int = choice(1, 2) require x % 0 == 1 }",
        "space s { param x : int = choice(-9223372036854775808) require x / -1 == 1 require -x == 1 }",
        "space s { param x : int = choice(9223372036854775807) require x + 1 == 1 require x * 2 == 1 }",
        "space s { param x : int = choice(1, 2) graph { repeat x { repeat x { linear(out = x) } } } }",
        "space s { param x : int = choice(-1, 0) graph { repeat x { linear(out = 1) } } }",
        "space s { graph { repeat 9223372036854775807 { linear(out = 1) } } }",
        "space s { let a = b let b = a }",
        "fn f() -> module { f() } space s { graph { f() } }",
        "fn f(x: int) -> module { g(x = x) } fn g(x: int) -> module { f(x = x) } space s { graph { f(x = 1) } }",
        "import std.{ x }",
        "import std.nope.{ x }",
        "import std.prelude.*",
        "import a.b.c.{ d as e }",
        "space é { }",
        "space s { param é : int = choice(1) }",
        "space s { train { } data = 1 objective { } pipeline { } }",
        "enum e { } builtin module m",
        "builtin metric m: int static space s { require m() > 1 }",
    ] {
        check(text.to_string());
    }
}

/// miette pads a label to its column with a formatting width, which panics past 65,535
/// columns: such a label is shown as its line and column under the message instead.
#[test]
fn a_label_far_right_on_its_line_is_rendered() {
    for (text, code, at) in [
        // A syntax error, and a warning, 70,000 columns in; and a tab-indented one.
        (
            format!("space s {{{}@@ }}", " ".repeat(70_000)),
            "E001",
            ":1:70010:",
        ),
        (
            format!(
                "space s {{{}param unused : int = choice(1, 2) }}",
                " ".repeat(70_000)
            ),
            "W001",
            ":1:70016:",
        ),
        (
            format!("space s {{{}@@ }}", "\t".repeat(20_000)),
            "E001",
            ":1:20010:",
        ),
    ] {
        let out = nasc::check_source("far.nas", text, None);
        let d = out
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == code)
            .unwrap_or_else(|| panic!("a {code}"));
        let shown = nasc::render::human(d, &out.sources, 100, false);
        assert!(shown.contains(&format!("nas::{code}")), "{shown}");
        assert!(shown.contains(&format!("far.nas{at}")), "{shown}");
    }
    // A label near the start of the line keeps its source line.
    let out = nasc::check_source("near.nas", "space s { @@ }".into(), None);
    let shown = nasc::render::human(&out.diagnostics[0], &out.sources, 100, false);
    assert!(
        shown.contains("space s { @@ }") && !shown.contains("  at near.nas"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------
// Deep nesting. A stack overflow aborts the whole process and an exponential blow-up never
// ends, so each of these inputs is checked in a child process (this test binary, run
// again with `NASC_NO_PANIC_CHILD` set) on an 8 MiB stack, as `nasc` gets from the command
// line, under a time limit.

/// The nested inputs: `(name, depth) -> text`.
fn nested(kind: &str, depth: usize) -> String {
    let d = depth;
    match kind {
        "parens" => format!("space s {{ let x = {}1{} }}", "(".repeat(d), ")".repeat(d)),
        "unclosed_parens" => format!("space s {{ let x = {}", "(".repeat(d)),
        "blocks" => format!("space s {{ graph {}{} }}", "{".repeat(d), "}".repeat(d)),
        "negations" => format!("space s {{ let x = {}1 }}", "-".repeat(d)),
        "nots" => format!("space s {{ require {}true }}", "not ".repeat(d)),
        "residuals" => format!(
            "space s {{ graph {{ {}linear(out = 1){} }} }}",
            "residual(".repeat(d),
            ")".repeat(d)
        ),
        "calls" => format!("space s {{ let x = {}1{} }}", "f(".repeat(d), ")".repeat(d)),
        "sequence" => format!(
            "space s {{ graph {{ {}linear(out = 1) }} }}",
            "linear(out = 1) >> ".repeat(d)
        ),
        "sums" => format!("space s {{ let x = {}1 }}", "1+".repeat(d)),
        "repeats" => format!(
            "space s {{ graph {{ {}linear(out = 1){} }} }}",
            "repeat 2 { ".repeat(d),
            " }".repeat(d)
        ),
        "optionals" => format!(
            "space s {{ graph {{ {}linear(out = 1){} }} }}",
            "optional { ".repeat(d),
            " }".repeat(d)
        ),
        "choices" => format!(
            "space s {{ graph {{ {}linear(out = 1){} }} }}",
            "choice(identity(), ".repeat(d),
            ")".repeat(d)
        ),
        "ifs" => format!(
            "space s {{ param p : bool = choice(true, false) graph {{ {}linear(out = 1){} }} }}",
            "if p { ".repeat(d),
            " }".repeat(d)
        ),
        "fn_chain" => {
            let mut s = String::new();
            for i in 0..d {
                s.push_str(&format!(
                    "fn f{i}() -> module {{ f{}() >> f{}() }}\n",
                    i + 1,
                    i + 1
                ));
            }
            s.push_str(&format!(
                "fn f{d}() -> module {{ linear(out = 1) }}\nspace s {{ graph {{ f0() }} }}\n"
            ));
            s
        }
        _ => unreachable!("unknown nesting {kind}"),
    }
}

/// Runs `check` on `nested(kind, depth)` in a child process; `Err` says how it failed.
fn check_in_child(kind: &str, depth: usize, limit: std::time::Duration) -> Result<(), String> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "nested_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("NASC_NO_PANIC_CHILD", format!("{kind}:{depth}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            if status.success() {
                return Ok(());
            }
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let last: Vec<&str> = err.lines().rev().take(3).collect();
            return Err(format!(
                "{kind} x{depth}: crashed ({status}): {}",
                last.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{kind} x{depth}: still running after {limit:?}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Not a test of its own: the body of the child process of [`check_in_child`].
#[test]
fn nested_child() {
    let Ok(spec) = std::env::var("NASC_NO_PANIC_CHILD") else {
        return;
    };
    let (kind, depth) = spec.split_once(':').expect("kind:depth");
    let text = nested(kind, depth.parse().expect("depth"));
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || check(text))
        .expect("spawn")
        .join()
        .expect("no panic");
}

fn check_nested(kinds: &[&str], depths: &[usize], limit_secs: u64) {
    let mut failures = Vec::new();
    for kind in kinds {
        for &depth in depths {
            if let Err(e) = check_in_child(kind, depth, std::time::Duration::from_secs(limit_secs))
            {
                failures.push(e);
                break; // deeper fails the same way
            }
        }
    }
    assert!(
        failures.is_empty(),
        "deeply nested input is not handled:\n  {}",
        failures.join("\n  ")
    );
}

/// Every nesting a small file can hold: a diagnostic at worst, never a crash.
#[test]
fn moderate_nesting_never_crashes() {
    check_nested(
        &[
            "parens",
            "unclosed_parens",
            "blocks",
            "negations",
            "nots",
            "residuals",
            "calls",
            "sequence",
            "sums",
            "optionals",
            "choices",
            "ifs",
        ],
        &[8, 32, 64],
        30,
    );
}

/// Nesting as deep as a 4 KB input allows must be a diagnostic (for instance "nests too
/// deeply"), not a stack overflow.
///
/// FAILS at the time of writing: the pairs-to-AST conversion in `src/syntax/parser.rs`
/// (`Ctx::expr`, `Ctx::block`) recurses once per nesting level with no limit, and
/// overflows the 8 MiB main-thread stack at about 500 nested parentheses, blocks or calls
/// in a release build (under 256 in a debug build); long left-nested chains (`1+1+...`,
/// `a >> a >> ...`) overflow in the checker (`check::expr::Cx::expr` and `Cx::binary`
/// recurse once per operator): at about 20,000 operators in release, under 2,000 in debug.
#[test]
fn deep_nesting_never_overflows_the_stack() {
    check_nested(
        &[
            "parens",
            "unclosed_parens",
            "blocks",
            "negations",
            "nots",
            "residuals",
            "calls",
            "sequence",
            "sums",
            "optionals",
            "choices",
            "ifs",
        ],
        &[256, 1000, 2000],
        60,
    );
}

/// Nested repeats, and functions that each call the next one twice, must not take time
/// exponential in their depth: a few lines must not hang the checker.
///
/// FAILS at the time of writing: `space::shape::Walker` walks a `repeat` body once, then
/// again once per repetition, at every level, and walks the body of a function at every
/// call, so both take time 2^depth: `repeat 2 {` nested 20 deep takes seconds, 40 deep
/// never ends; 30 functions `fn fI() -> module { fJ() >> fJ() }` never end either.
#[test]
fn nested_expansion_is_not_exponential() {
    check_nested(&["repeats", "fn_chain"], &[8, 20, 40], 10);
}
