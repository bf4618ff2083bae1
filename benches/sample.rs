//! How fast the interpreter turns random assignments into architectures, on one core.
//!
//! For `examples/tiny_lm.nas` and `examples/deep_architect_poster.nas` it prints:
//! - complete architectures per second: random decisions made, the graph expanded into
//!   the IR, shapes and static metrics computed, every constraint checked (rejected
//!   candidates are drawn again and their time counts), the canonical form hashed;
//! - hyperparameter assignments (single decisions) per second inside those builds;
//! - for reference, measured in the same run: the same number of bare random draws from
//!   the same generator, the floor any sampler pays; and the architecture record alone,
//!   built architectures copied (nodes with their arguments, decisions, values) and their
//!   hash bytes hashed, the floor any builder of this IR pays.
//!
//! The aims: 2,600,000 assignments/s and 260,000 complete architectures/s (100
//! and 10 times the ~26,000 configurations/s of ConfigSpace on a 6-parameter space). The
//! machines vary by a factor of two, so the bench also measures ConfigSpace in the same
//! run (`benches/sample_reference.py`, the six named hyperparameters of `tiny_lm`, with
//! the Python named by `NASC_CONFIGSPACE_PYTHON`, default `python3`, when it can import
//! ConfigSpace: `pip install ConfigSpace`) and prints the ratios against 10 and 100 times
//! its rate, drawn one configuration at a time and 1,000 per call.
//!
//! The load of a shared machine changes from one second to the next, so the measurements
//! are interleaved: in each of three rounds every space is measured, then ConfigSpace,
//! and each ratio is taken within its round. The bench prints every round's ratio and
//! their median.
//!
//! Run with `cargo bench --bench sample`.

/// The allocator of the `nasc` binary, so the figures are what `nasc sample` gets.
#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

use std::time::{Duration, Instant};

use nasc::interp::strategy::{self, RandomSearch};
use nasc::interp::Interp;
use rand::RngExt;
use xxhash_rust::xxh3::xxh3_128;

#[path = "common/python.rs"]
mod python;

/// The window of one measurement.
const WINDOW: Duration = Duration::from_secs(2);

/// How many rounds: each measures every space, then ConfigSpace.
const ROUNDS: usize = 3;

/// One round: per space, architectures/s, assignments/s and the record alone's
/// architectures/s; ConfigSpace's configurations/s one a call and 1,000 a call, when
/// measured.
type Round = (Vec<(f64, f64, f64)>, Option<(f64, f64)>);

fn main() {
    // `NASC_SAMPLE_SPACE=tiny_lm`: only the spaces whose file name contains it (for a
    // profile of one space).
    let only = std::env::var("NASC_SAMPLE_SPACE").unwrap_or_default();
    let files: Vec<&str> = ["examples/tiny_lm.nas", "examples/deep_architect_poster.nas"]
        .into_iter()
        .filter(|f| f.contains(only.as_str()))
        .collect();
    let checked: Vec<_> = files.iter().map(|f| load(f)).collect();
    let interps: Vec<Interp> = checked
        .iter()
        .map(|c| Interp::new(c, &c.spaces[0]).expect("space builds"))
        .collect();
    if let Some(n) = fixed_count() {
        for (file, interp) in files.iter().zip(&interps) {
            bench(file, interp, Some(n));
        }
        return;
    }
    println!(
        "nasc sample, one thread, {}s per measurement, {ROUNDS} rounds; each round measures every space, then ConfigSpace, so that a change in the machine's load between rounds reaches both\n",
        WINDOW.as_secs()
    );
    let python = std::env::var("NASC_CONFIGSPACE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut rounds: Vec<Round> = Vec::new();
    for round in 1..=ROUNDS {
        println!("round {round} of {ROUNDS}");
        let rates = files
            .iter()
            .zip(&interps)
            .map(|(file, interp)| bench(file, interp, None))
            .collect();
        let reference = configspace(&python);
        rounds.push((rates, reference));
    }
    summary(&files, &rounds, &python);
}

/// The space in `file`, checked.
fn load(file: &str) -> nasc::check::Checked {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("example exists");
    let mut sink = nasc::diag::Sink::default();
    let program = nasc::check::load(
        file,
        text,
        path.parent().map(|p| p.to_path_buf()),
        &mut sink,
    );
    let checked = nasc::check::check(program, &mut sink);
    assert!(!sink.has_errors(), "{file} checks clean");
    checked
}

/// ConfigSpace, measured now: configurations/s one a call and 1,000 a call; `None` when
/// the Python cannot import it.
fn configspace(python: &str) -> Option<(f64, f64)> {
    let seconds = WINDOW.as_secs().to_string();
    let j = python::reference(python, "sample_reference.py", &["--seconds", &seconds])?;
    let one = j["one_at_a_time_per_s"].as_f64().unwrap_or(0.0).max(1e-9);
    let batched = j["batched_per_s"].as_f64().unwrap_or(0.0).max(1e-9);
    println!(
        "ConfigSpace {} ({} hyperparameters of tiny_lm): {one:.0}/s one a call, {batched:.0}/s 1,000 a call\n",
        j["configspace"].as_str().unwrap_or("?"),
        j["params"]
    );
    Some((one, batched))
}

/// The median of `v` (not empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Per space: the ratios against the aims scaled from ConfigSpace, each round's and
/// their median.
fn summary(files: &[&str], rounds: &[Round], python: &str) {
    if rounds.iter().any(|(_, r)| r.is_none()) {
        println!("ConfigSpace: not measured: `{python}` cannot import ConfigSpace (set NASC_CONFIGSPACE_PYTHON to a Python that can)");
        return;
    }
    println!("ratios against ConfigSpace measured in the same round (median of {ROUNDS}, then each round):");
    for (k, file) in files.iter().enumerate() {
        println!("  {file}");
        let rows = [
            ("architectures vs 10x one a call", 0, 10.0, false),
            ("assignments vs 100x one a call", 1, 100.0, false),
            ("architectures vs 10x 1,000 a call", 0, 10.0, true),
            ("assignments vs 100x 1,000 a call", 1, 100.0, true),
        ];
        for (label, which, times, batched) in rows {
            let each: Vec<f64> = rounds
                .iter()
                .filter_map(|(rates, reference)| {
                    let (one, many) = (*reference)?;
                    let ours = if which == 0 { rates[k].0 } else { rates[k].1 };
                    Some(ours / (times * if batched { many } else { one }))
                })
                .collect();
            row(label, each);
        }
    }
    println!("the record alone (built architectures copied and hashed), each round:");
    for (k, file) in files.iter().enumerate() {
        println!("  {file}");
        let floors = rounds.iter().map(|(rates, _)| rates[k].2);
        row(
            "record alone vs 260,000/s",
            floors.clone().map(|f| f / 260_000.0).collect(),
        );
        row(
            "sampling vs the record alone",
            rounds
                .iter()
                .map(|(rates, _)| rates[k].0 / rates[k].2)
                .collect(),
        );
    }
}

/// One line of the summary: the median of `each`, then each.
fn row(label: &str, each: Vec<f64>) {
    let shown: Vec<String> = each.iter().map(|r| format!("{r:.3}")).collect();
    println!(
        "    {label:<36} {:.3}x  ({})",
        median(each.clone()),
        shown.join(", ")
    );
}

/// `NASC_SAMPLE_FIXED`: sample exactly this many architectures of each space.
fn fixed_count() -> Option<u64> {
    std::env::var("NASC_SAMPLE_FIXED")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// Samples `interp` for the window (or, with `fixed`, exactly that many architectures);
/// architectures/s, assignments/s and, without `fixed`, the record alone's
/// architectures/s (see [`floor`]; 0 with `fixed`).
fn bench(file: &str, interp: &Interp, fixed: Option<u64>) -> (f64, f64, f64) {
    let mut rng = strategy::rng(1);

    // Warm-up, then as many batches of 100 as fit the window (or, with
    // `NASC_SAMPLE_FIXED=N`, exactly N architectures: a fixed amount of work, for counting
    // instructions under `valgrind --tool=callgrind`, which the machine's load does not
    // change).
    let _ = strategy::sample(interp, &mut RandomSearch, &mut rng, 100, 10_000);
    let start = Instant::now();
    let (mut archs, mut decisions, mut attempts) = (0u64, 0u64, 0u64);
    let mut check = 0u128;
    while fixed.map_or(start.elapsed() < WINDOW, |n| archs < n) {
        let (batch, stats) = strategy::sample(interp, &mut RandomSearch, &mut rng, 100, 10_000)
            .unwrap_or_else(|_| panic!("{file} samples"));
        archs += batch.len() as u64;
        attempts += stats.attempts;
        for a in &batch {
            decisions += a.assignment.len() as u64;
            check ^= a.hash;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let arch_rate = archs as f64 / secs;
    let decision_rate = decisions as f64 / secs;

    // Reference: bare random draws from the same generator.
    let draws = decisions.max(1_000_000);
    let t = Instant::now();
    let mut acc = 0u64;
    for _ in 0..draws {
        acc = acc.wrapping_add(rng.random_range(0..4u64));
    }
    let draw_rate = draws as f64 / t.elapsed().as_secs_f64();

    // Reference: the architecture record alone, what any builder of this IR pays at the
    // least. Built architectures are copied (their nodes with every argument, decisions,
    // values and settings) and their hash bytes, written beforehand, hashed again; no
    // decision is made, no shape, cost or constraint worked out.
    let floor_rate = fixed.is_none().then(|| floor(file, interp, &mut rng));

    println!("{file}");
    println!(
        "  complete architectures: {:>12.0}/s  ({archs} in {secs:.2}s, {attempts} candidates, {:.1} decisions each)",
        arch_rate,
        decisions as f64 / archs.max(1) as f64
    );
    println!("  assignments (decisions): {:>10.0}/s", decision_rate);
    println!(
        "  bare random draws:       {:>10.0}/s  (reference, same run)",
        draw_rate
    );
    println!(
        "  ratios: architectures {:.3}x the 260,000/s aim, assignments {:.3}x the 2,600,000/s aim, {:.0} bare draws per decision",
        arch_rate / 260_000.0,
        decision_rate / 2_600_000.0,
        draw_rate / decision_rate.max(1.0)
    );
    if let Some(f) = floor_rate {
        println!(
            "  the record alone:       {f:>12.0}/s  (built architectures copied and hashed: the floor of building this IR; {:.3}x the 260,000/s aim; sampling reaches {:.0}% of it)",
            f / 260_000.0,
            100.0 * arch_rate / f
        );
    }
    println!("  (checksum {:x}, {})\n", check & 0xffff, acc & 1);
    (arch_rate, decision_rate, floor_rate.unwrap_or(0.0))
}

/// Architectures/s of copying 100 built architectures of `interp` in turn (as many as a
/// batch of the sampler holds) and hashing
/// each one's bytes (written beforehand), for the window.
fn floor(file: &str, interp: &Interp, rng: &mut strategy::Rng64) -> f64 {
    let (built, _) = strategy::sample(interp, &mut RandomSearch, rng, 100, 10_000)
        .unwrap_or_else(|_| panic!("{file} samples"));
    let bytes: Vec<Vec<u8>> = built
        .iter()
        .map(|a| {
            let mut b = Vec::new();
            nasc::interp::ir::encode(&mut b, &a.nodes, &a.data, &a.train);
            assert_eq!(xxh3_128(&b), a.hash, "the bytes are the hash's");
            b
        })
        .collect();
    let start = Instant::now();
    let (mut n, mut check) = (0u64, 0u128);
    while start.elapsed() < WINDOW {
        for (a, b) in built.iter().zip(&bytes) {
            let copy = std::hint::black_box(a.clone());
            check ^= xxh3_128(std::hint::black_box(b));
            drop(copy);
        }
        n += built.len() as u64;
    }
    std::hint::black_box(check);
    n as f64 / start.elapsed().as_secs_f64()
}
