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

/// The allocator of the `nasc` binary, so the figures are what `nasc check` gets.
#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

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

#[path = "common/generate.rs"]
mod generate;
use generate::{generate, wide_space};
