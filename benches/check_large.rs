//! How long `nasc check` takes on a large file.
//!
//! Generates, in memory, a realistic `.nas` file of about 10,000 lines: a few hundred
//! `fn` blocks built from `std.transformer` (`attention`, `ffn`, `pre_norm`), functions
//! that compose them, one big space with 200 hyperparameters (choices, ranges, uniform and
//! quantised domains), dependent values, constraints such as `a % b == 0`, and a graph of
//! repeats, optionals, choices and calls, then more ordinary spaces up to the line count.
//! The file must check without errors; the bench asserts it.
//!
//! It times `nasc::check_source` (load, parse, check, count, shape rules) on it, on a file
//! ten times smaller built the same way (the ratio shows whether the cost per line grows
//! with the size), and on a small space of 10^40 architectures (counting alone).
//!
//! Run with `cargo bench --bench check_large`. The aim is 10,000 lines in under 100 ms.
//! `NASC_BENCH_DUMP=DIR` also writes the generated files into `DIR`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use nasc::space::summary::Size;

/// Timed runs per measurement, after one warm-up; fewer (at least 3) when a run takes so
/// long that ten would pass `BUDGET`.
const RUNS: usize = 10;
const BUDGET: Duration = Duration::from_secs(30);

fn main() {
    let big = generate(10_000);
    let small = generate(1_000);
    let huge = wide_space(40, 10);

    println!("nasc check, {RUNS} runs after 1 warm-up (fewer when slow), one thread\n");
    let b = measure("large file", &big);
    stages(&big);
    let s = measure("10x smaller file", &small);
    let h = measure("10^40 architectures", &huge);
    stages(&huge);

    let per_line_big = b.median.as_secs_f64() / b.lines as f64;
    let per_line_small = s.median.as_secs_f64() / s.lines as f64;
    println!("scaling: {:.1}x the lines take {:.1}x the time (median); per line {:.2} us vs {:.2} us, ratio {:.2}",
        b.lines as f64 / s.lines as f64,
        b.median.as_secs_f64() / s.median.as_secs_f64(),
        per_line_big * 1e6,
        per_line_small * 1e6,
        per_line_big / per_line_small,
    );
    assert_eq!(
        h.digits.first().copied(),
        Some(41),
        "the wide space has exactly 10^40 architectures"
    );
    let aim = Duration::from_millis(100);
    println!(
        "aim: {} lines under {aim:?}: {}",
        b.lines,
        if b.median < aim { "met" } else { "NOT met" }
    );
}

/// Where the time of one `check_source` goes: the same three calls it makes, timed apart
/// (median of up to five runs, fewer when slow).
fn stages(text: &str) {
    let mut load = Vec::new();
    let mut check = Vec::new();
    let mut analyze = Vec::new();
    let start = Instant::now();
    while load.len() < 5 && (load.is_empty() || start.elapsed() < BUDGET / 2) {
        let mut sink = nasc::diag::Sink::default();
        let t0 = Instant::now();
        let program = nasc::check::load("bench.nas", text.to_string(), None, &mut sink);
        let t1 = Instant::now();
        let checked = nasc::check::check(program, &mut sink);
        let t2 = Instant::now();
        let summaries = nasc::space::summary::analyze(&checked, &mut sink);
        let t3 = Instant::now();
        std::hint::black_box(summaries);
        load.push(t1 - t0);
        check.push(t2 - t1);
        analyze.push(t3 - t2);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "  stages (median of {}): load and parse {:.2?}, check {:.2?}, count and shape rules {:.2?}\n",
        load.len(),
        median(&mut load),
        median(&mut check),
        median(&mut analyze)
    );
}

struct Measured {
    lines: usize,
    median: Duration,
    digits: Vec<usize>,
}

fn measure(what: &str, text: &str) -> Measured {
    let lines = text.lines().count();
    // Warm-up, and the correctness check: no errors at all.
    let start = Instant::now();
    let out = nasc::check_source("bench.nas", text.to_string(), None);
    let warm_up = start.elapsed();
    let runs = if warm_up * RUNS as u32 > BUDGET {
        (BUDGET.as_secs_f64() / warm_up.as_secs_f64()).max(3.0) as usize
    } else {
        RUNS
    }
    .min(RUNS);
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .take(5)
        .map(|d| nasc::render::human(d, &out.sources, 100, false))
        .collect();
    assert!(
        errors.is_empty(),
        "the generated {what} has errors:\n{}",
        errors.join("\n")
    );
    let warnings = out.diagnostics.len();
    if let Ok(dir) = std::env::var("NASC_BENCH_DUMP") {
        let name = what.replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{name}.nas")), text);
    }
    let digits: Vec<usize> = out
        .summaries
        .iter()
        .map(|s| match &s.size {
            Size::Finite(n) => n.to_string().len(),
            Size::Infinite { discrete, .. } => discrete.to_string().len(),
            Size::Unavailable(_) => 0,
        })
        .collect();
    let unavailable: Vec<&str> = out
        .summaries
        .iter()
        .filter_map(|s| {
            if let Size::Unavailable(why) = &s.size {
                Some(why.as_str())
            } else {
                None
            }
        })
        .collect();

    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let text = text.to_string();
            let start = Instant::now();
            let out = nasc::check_source("bench.nas", text, None);
            let t = start.elapsed();
            std::hint::black_box(out);
            t
        })
        .collect();
    times.sort();
    let best = times[0];
    let median = (times[(runs - 1) / 2] + times[runs / 2]) / 2;

    println!(
        "{what}: {lines} lines, {} bytes, {} spaces",
        text.len(),
        out.summaries.len()
    );
    println!(
        "  {runs} runs: best {best:.2?}, median {median:.2?}, worst {:.2?}",
        times[runs - 1]
    );
    println!("  diagnostics: {warnings} (no errors: asserted)");
    let mut by_code: Vec<(String, usize)> = Vec::new();
    for d in &out.diagnostics {
        let code = d.code.to_string();
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => by_code.push((code, 1)),
        }
    }
    if !by_code.is_empty() {
        println!(
            "    by code: {}",
            by_code
                .iter()
                .map(|(c, n)| format!("{c} x{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let shown: Vec<String> = digits.iter().take(8).map(|d| d.to_string()).collect();
    println!(
        "  architecture count digits per space: {}{}",
        shown.join(", "),
        if digits.len() > 8 {
            format!(", ... (max {})", digits.iter().max().unwrap_or(&0))
        } else {
            String::new()
        }
    );
    if !unavailable.is_empty() {
        println!(
            "  spaces not counted: {} ({})",
            unavailable.len(),
            unavailable[0]
        );
    }
    println!(
        "  per line: {:.2} us (median)\n",
        median.as_secs_f64() * 1e6 / lines as f64
    );
    Measured {
        lines,
        median,
        digits,
    }
}

// ---------------------------------------------------------------------------------------
// The generated programs.

const KINDS: &[&str] = &[
    "softmax",
    "linear",
    "cosformer",
    "local(window = 32)",
    "performer(features = 64)",
];
const ACTS: &[&str] = &["gelu", "relu", "silu", "swiglu"];

/// A program of about `target` lines: everything scales with it.
fn generate(target: usize) -> String {
    let mut out = String::new();
    let n_blocks = (target / 40).max(4);
    let n_stages = (target / 80).max(2);
    let n_sections = (target / 500).max(2);
    let n_params = (target / 50).max(20);

    writeln!(
        out,
        "// Generated by benches/check_large.rs: {target} lines or so."
    )
    .unwrap();
    writeln!(
        out,
        "import std.transformer.{{ attention, ffn, pre_norm, attention_kind }}\n"
    )
    .unwrap();

    // Blocks: attention and feed-forward in pre-norm residuals, with their own choices.
    for i in 0..n_blocks {
        let kind = KINDS[i % KINDS.len()];
        let act = ACTS[i % ACTS.len()];
        writeln!(
            out,
            "/// Decoder block {i}: attention, then a feed-forward of `hidden` features."
        )
        .unwrap();
        writeln!(
            out,
            "fn block_{i}(heads: int, hidden: int, kind: attention_kind = {kind}) -> module {{"
        )
        .unwrap();
        writeln!(
            out,
            "    pre_norm(attention(heads = heads, kind = kind, dropout = 0.1))"
        )
        .unwrap();
        match i % 4 {
            0 => writeln!(out, "    pre_norm(ffn(hidden = hidden, activation = choice(gelu, relu, silu)))").unwrap(),
            1 => writeln!(out, "    pre_norm(ffn(hidden = choice(hidden, 2 * hidden), activation = {act}))").unwrap(),
            2 => writeln!(out, "    residual {{\n        layer_norm()\n        ffn(hidden = hidden, activation = {act})\n    }}").unwrap(),
            _ => writeln!(out, "    pre_norm(ffn(hidden = hidden, activation = {act}, dropout = 0.1))").unwrap(),
        }
        if i % 3 == 0 {
            writeln!(out, "    optional dropout(rate = choice(0.1, 0.2))").unwrap();
        }
        writeln!(out, "}}\n").unwrap();
    }

    // Stages: each composes two blocks (never another stage, so nothing nests deeply).
    for j in 0..n_stages {
        let (a, b) = ((2 * j) % n_blocks, (2 * j + 1) % n_blocks);
        writeln!(out, "/// Stage {j}: blocks {a} and {b} at width `width`.").unwrap();
        writeln!(out, "fn stage_{j}(heads: int, width: int) -> module {{").unwrap();
        writeln!(out, "    let hidden = 4 * width").unwrap();
        writeln!(out, "    block_{a}(heads = heads, hidden = hidden)").unwrap();
        writeln!(
            out,
            "    block_{b}(heads = heads, hidden = hidden, kind = {})",
            KINDS[j % 3]
        )
        .unwrap();
        writeln!(out, "    optional layer_norm()").unwrap();
        writeln!(out, "}}\n").unwrap();
    }

    big_space(&mut out, n_params, n_sections, n_blocks, n_stages);

    // More ordinary spaces up to the line count.
    let mut k = 0;
    while out.lines().count() < target.saturating_sub(10) {
        small_space(&mut out, k, n_blocks, n_stages);
        k += 1;
    }
    out
}

/// One space with `n_params` hyperparameters and a graph of `sections` sections.
///
/// Counting gives each graph hyperparameter that might be inactive an activity bit (64 at
/// most), so the graph uses 3 per section plus a few shared ones; the rest feed dependent
/// values and constraints.
fn big_space(out: &mut String, n_params: usize, sections: usize, n_blocks: usize, n_stages: usize) {
    writeln!(out, "space big {{").unwrap();
    let mut declared = 0;
    // Graph hyperparameters.
    writeln!(
        out,
        "    // Per section: width, heads, depth, and a dropout rate."
    )
    .unwrap();
    for s in 0..sections {
        writeln!(out, "    param w_{s}  : int   = choice(256, 512, 768)").unwrap();
        writeln!(out, "    param h_{s}  : int   = choice(2, 4, 8)").unwrap();
        writeln!(out, "    param n_{s}  : int   = range(1, 4)").unwrap();
        writeln!(out, "    param p_{s}  : float = uniform(0.0, 0.3)").unwrap();
        declared += 4;
    }
    writeln!(
        out,
        "    param kind : enum = choice(softmax, linear, cosformer)"
    )
    .unwrap();
    writeln!(out, "    param act  : enum = choice(gelu, relu, swiglu)").unwrap();
    writeln!(out, "    param gate : bool = choice(true, false)").unwrap();
    writeln!(out, "    param lr   : float = log_uniform(1e-5, 1e-2)").unwrap();
    writeln!(out, "    param wd   : float = uniform(0.0, 0.1, q = 0.01)").unwrap();
    declared += 5;
    // Hyperparameters of constraints and dependent values only, in groups of four.
    writeln!(out, "\n    // Constrained hyperparameters.").unwrap();
    let mut groups = 0;
    while declared + 4 <= n_params {
        let g = groups;
        writeln!(out, "    param d_{g} : int = choice(96, 128, 192, 256)").unwrap();
        writeln!(out, "    param g_{g} : int = choice(3, 4, 8)").unwrap();
        writeln!(out, "    param r_{g} : int = range(1, 8)").unwrap();
        writeln!(out, "    param q_{g} : float = uniform(0.0, 1.0, q = 0.25)").unwrap();
        declared += 4;
        groups += 1;
    }
    while declared < n_params {
        writeln!(out, "    param extra_{declared} : int = range(0, 3)").unwrap();
        writeln!(out, "    require extra_{declared} != 1").unwrap();
        declared += 1;
    }

    writeln!(out, "\n    // Dependent values.").unwrap();
    for s in 0..sections {
        writeln!(out, "    let ff_{s} = 4 * w_{s}").unwrap();
    }
    for g in 0..groups {
        writeln!(out, "    let hd_{g} = d_{g} / g_{g}").unwrap();
        writeln!(out, "    let budget_{g} = r_{g} * d_{g} + 2 * hd_{g}").unwrap();
    }

    writeln!(out, "\n    // Constraints.").unwrap();
    for g in 0..groups {
        writeln!(out, "    require d_{g} % g_{g} == 0").unwrap();
        if g % 2 == 0 {
            writeln!(
                out,
                "    require budget_{g} <= 1500 else \"group {g} is over budget\""
            )
            .unwrap();
            writeln!(out, "    require q_{g} <= 0.75").unwrap();
        } else {
            writeln!(
                out,
                "    require r_{g} + r_{} <= 12 or q_{g} >= 0.5",
                (g + 1) % groups
            )
            .unwrap();
        }
    }
    writeln!(out, "    require n_0 + n_1 <= 6").unwrap();
    writeln!(out, "    require params() <= 500M").unwrap();

    writeln!(out, "\n    graph {{").unwrap();
    writeln!(out, "        embedding(vocab = data.vocab, dim = 512)").unwrap();
    writeln!(out, "        positions(kind = choice(learned, rotary))").unwrap();
    for s in 0..sections {
        let st = s % n_stages;
        let (a, b) = ((3 * s) % n_blocks, (3 * s + 1) % n_blocks);
        writeln!(out, "\n        // Section {s}.").unwrap();
        writeln!(out, "        linear(out = w_{s})").unwrap();
        writeln!(out, "        repeat n_{s} {{").unwrap();
        writeln!(out, "            stage_{st}(heads = h_{s}, width = w_{s})").unwrap();
        writeln!(out, "            choice(").unwrap();
        writeln!(
            out,
            "                block_{a}(heads = h_{s}, hidden = ff_{s}, kind = kind),"
        )
        .unwrap();
        writeln!(
            out,
            "                block_{b}(heads = h_{s}, hidden = 2 * w_{s}),"
        )
        .unwrap();
        writeln!(
            out,
            "                pre_norm(ffn(hidden = ff_{s}, activation = act)),"
        )
        .unwrap();
        writeln!(out, "            )").unwrap();
        writeln!(out, "            optional dropout(rate = p_{s})").unwrap();
        writeln!(out, "        }}").unwrap();
        writeln!(out, "        residual {{").unwrap();
        writeln!(out, "            layer_norm()").unwrap();
        writeln!(out, "            attention(heads = h_{s}, kind = choice(softmax, local(window = choice(16, 64))))").unwrap();
        writeln!(out, "        }}").unwrap();
        if s % 2 == 0 {
            writeln!(
                out,
                "        if gate {{ pre_norm(ffn(hidden = ff_{s}, activation = act)) }}"
            )
            .unwrap();
        } else {
            writeln!(out, "        optional {{").unwrap();
            writeln!(out, "            linear(out = 2 * w_{s})").unwrap();
            writeln!(out, "            act(kind = act)").unwrap();
            writeln!(out, "            linear(out = w_{s})").unwrap();
            writeln!(out, "        }}").unwrap();
        }
    }
    writeln!(out, "\n        layer_norm()").unwrap();
    writeln!(
        out,
        "        lm_head(vocab = data.vocab, tied = choice(true, false))"
    )
    .unwrap();
    writeln!(out, "    }}\n").unwrap();

    writeln!(
        out,
        "    data = text_corpus(\"tiny_shakespeare\", context = 256)"
    )
    .unwrap();
    writeln!(
        out,
        "    train {{ steps = 1000, batch = 32, optimizer = adamw(lr = lr, weight_decay = wd) }}"
    )
    .unwrap();
    writeln!(
        out,
        "    objective {{\n        minimize val_loss\n        minimize latency_ms\n    }}"
    )
    .unwrap();
    writeln!(out, "    pipeline {{").unwrap();
    writeln!(
        out,
        "        random(samples = 64, steps = 50)             |> keep top 16 by val_loss"
    )
    .unwrap();
    writeln!(
        out,
        "        evolution(population = 16, generations = 8) |> keep pareto"
    )
    .unwrap();
    writeln!(
        out,
        "        darts(over = kind, epochs = 3)              |> keep best"
    )
    .unwrap();
    writeln!(out, "        final(steps = 2000)").unwrap();
    writeln!(out, "    }}").unwrap();
    writeln!(out, "}}\n").unwrap();
}

/// An ordinary language-model space of about 45 lines.
fn small_space(out: &mut String, k: usize, n_blocks: usize, n_stages: usize) {
    let st = k % n_stages;
    let a = (5 * k) % n_blocks;
    writeln!(out, "/// Language model {k}.").unwrap();
    writeln!(out, "space lm_{k} {{").unwrap();
    writeln!(out, "    param d_model : int   = choice(128, 256, 512)").unwrap();
    writeln!(out, "    param heads   : int   = choice(2, 4, 6, 8)").unwrap();
    writeln!(out, "    param layers  : int   = range(2, 8, 2)").unwrap();
    writeln!(out, "    param dropout : float = uniform(0.0, 0.3)").unwrap();
    writeln!(out, "    param lr      : float = log_uniform(1e-4, 3e-3)").unwrap();
    writeln!(
        out,
        "    param act     : enum  = choice(gelu, relu, swiglu)"
    )
    .unwrap();
    writeln!(out).unwrap();
    writeln!(out, "    let head_dim = d_model / heads").unwrap();
    writeln!(out, "    let d_ff     = 4 * d_model").unwrap();
    writeln!(out).unwrap();
    writeln!(out, "    require d_model % heads == 0").unwrap();
    writeln!(out, "    require head_dim >= 32").unwrap();
    writeln!(out, "    require params() <= {}M", 5 + k % 20).unwrap();
    writeln!(out).unwrap();
    writeln!(out, "    graph {{").unwrap();
    writeln!(out, "        embedding(vocab = data.vocab, dim = d_model)").unwrap();
    writeln!(
        out,
        "        positions(kind = choice(learned, sinusoidal, rotary))"
    )
    .unwrap();
    writeln!(out, "        repeat layers {{").unwrap();
    writeln!(out, "            pre_norm(attention(heads = heads, kind = choice(softmax, linear, local(window = choice(16, 32)))))").unwrap();
    writeln!(
        out,
        "            pre_norm(ffn(hidden = d_ff, activation = act))"
    )
    .unwrap();
    writeln!(out, "            optional dropout(rate = dropout)").unwrap();
    writeln!(out, "        }}").unwrap();
    writeln!(
        out,
        "        optional stage_{st}(heads = heads, width = d_model)"
    )
    .unwrap();
    writeln!(out, "        block_{a}(heads = heads, hidden = d_ff)").unwrap();
    writeln!(out, "        layer_norm()").unwrap();
    writeln!(out, "        lm_head(vocab = data.vocab)").unwrap();
    writeln!(out, "    }}").unwrap();
    writeln!(out).unwrap();
    writeln!(
        out,
        "    data  = text_corpus(\"tiny_shakespeare\", context = 128, split = 0.9)"
    )
    .unwrap();
    writeln!(
        out,
        "    train {{ steps = 300, batch = 32, optimizer = adamw(lr = lr) }}"
    )
    .unwrap();
    writeln!(out).unwrap();
    writeln!(out, "    objective {{").unwrap();
    writeln!(out, "        minimize val_perplexity").unwrap();
    writeln!(out, "        minimize latency_ms").unwrap();
    writeln!(out, "    }}").unwrap();
    writeln!(out).unwrap();
    writeln!(out, "    pipeline {{").unwrap();
    writeln!(
        out,
        "        random(samples = 64, steps = 50)             |> keep top 16 by val_loss"
    )
    .unwrap();
    writeln!(
        out,
        "        tpe(trials = 32, steps = 200)                |> keep pareto"
    )
    .unwrap();
    writeln!(
        out,
        "        evolution(population = 16, generations = 8) |> keep top 4 by val_perplexity"
    )
    .unwrap();
    writeln!(out, "        final(steps = 2000)").unwrap();
    writeln!(out, "    }}").unwrap();
    writeln!(out, "}}\n").unwrap();
}

/// `n` independent hyperparameters of `values` values each, all used by the graph:
/// `values^n` architectures, which counting must multiply, not enumerate.
fn wide_space(n: usize, values: usize) -> String {
    let mut out = String::from("space wide {\n");
    let vals: Vec<String> = (1..=values).map(|v| (16 * v).to_string()).collect();
    for i in 0..n {
        writeln!(out, "    param x_{i} : int = choice({})", vals.join(", ")).unwrap();
    }
    out.push_str("    graph {\n        embedding(vocab = data.vocab, dim = 64)\n");
    for i in 0..n {
        writeln!(out, "        linear(out = x_{i})").unwrap();
    }
    out.push_str("        lm_head(vocab = data.vocab)\n    }\n    data = synthetic(copy)\n}\n");
    out
}
