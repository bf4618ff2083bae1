//! Training throughput of the reference model (`benches/reference.nas`: 4 layers, width
//! 128, 32 × 128 tokens a step, AdamW, clipping) on the CPU backend, against PyTorch
//! training the same architecture in the same run.
//!
//! Prints nasc's tokens/s and ms/step (evaluations excluded, after warm-up steps), then
//! runs `benches/train_reference.py` with the Python named by `NASC_TORCH_PYTHON`
//! (default `python3`) when it can import torch, and prints the ratio. Both use every
//! core (`NASC_BENCH_THREADS` sets PyTorch's threads; rayon's follow `RAYON_NUM_THREADS`).
//!
//! Run with `cargo bench --bench train`.

#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

use nasc::interp::strategy::{self, RandomSearch};
use nasc::interp::Interp;
use nasc::train::data;
use nasc::train::settings::TrainSettings;
use nasc::train::{self as stage, Quiet};

#[path = "common/python.rs"]
mod python;

fn main() {
    nasc::cli::tune_allocator();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = dir.join("benches/reference.nas");
    let text = std::fs::read_to_string(&path).expect("reference space exists");
    let mut sink = nasc::diag::Sink::default();
    let program = nasc::check::load("reference.nas", text, Some(dir.join("benches")), &mut sink);
    let checked = nasc::check::check(program, &mut sink);
    assert!(!sink.has_errors(), "the reference space checks clean");
    let interp = Interp::new(&checked, &checked.spaces[0]).expect("space builds");
    let mut rng = strategy::rng(0);
    let arch = strategy::sample(&interp, &mut RandomSearch, &mut rng, 1, 10)
        .unwrap_or_else(|_| panic!("the reference space builds"))
        .0
        .remove(0);
    let corpus = data::open(&arch.data, None).expect("shipped corpus");
    let mut settings = TrainSettings::from_fields(&arch.train).expect("settings");
    let threads = std::env::var("NASC_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let device = nasc::train::device::open(nasc::train::device::DeviceChoice::Cpu).expect("cpu");

    // Warm-up: a few steps whose time is not counted.
    let measured_steps = settings.steps;
    settings.steps = 3;
    let _ = stage::train(&arch, corpus.as_ref(), &settings, &device, &mut Quiet).expect("trains");
    settings.steps = measured_steps;
    let (_, report) =
        stage::train(&arch, corpus.as_ref(), &settings, &device, &mut Quiet).expect("trains");

    println!("nasc train, reference model ({} parameters), {} steps of {} × {} tokens, CPU (flex), {threads} threads",
        report.params, report.steps, settings.batch, corpus.seq_len());
    println!(
        "  nasc:    {:>8.0} tokens/s  {:>8.1} ms/step  (final train loss {:.3})",
        report.tokens_per_s, report.ms_per_step, report.train_loss
    );

    let python = std::env::var("NASC_TORCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let steps = measured_steps.to_string();
    let threads_arg = threads.to_string();
    let found = python::reference(
        &python,
        "train_reference.py",
        &["--steps", &steps, "--threads", &threads_arg],
    );
    let Some(j) = found else {
        println!("  PyTorch: not measured: `{python}` cannot import torch (set NASC_TORCH_PYTHON to a Python that can)");
        return;
    };
    let torch_tps = j["tokens_per_s"].as_f64().unwrap_or(0.0);
    println!(
        "  PyTorch: {:>8.0} tokens/s  {:>8.1} ms/step  (torch {}, {} threads, {} parameters)",
        torch_tps,
        j["ms_per_step"].as_f64().unwrap_or(0.0),
        j["torch"].as_str().unwrap_or("?"),
        j["threads"],
        j["params"]
    );
    if j["params"].as_u64() != Some(report.params) {
        println!("  warning: the two models differ in size; the ratio compares different work");
    }
    println!(
        "  ratio:   nasc runs at {:.2}x PyTorch's throughput (aim: at least 0.70x)",
        report.tokens_per_s / torch_tps.max(1e-9)
    );
}
