//! The CPU kernels of `src/model/kernels.rs` against burn's composition of the same
//! operation, forward and backward, on the same inputs in the same run.
//!
//! For each operation it prints the best of `ROUNDS` timings of the kernel and of burn's
//! composition (`y = f(x)`, then the gradients of `sum(y · r)`), and their ratio. The
//! kernels have no speed aim of their own: the bench is there to show what each one
//! gains and to catch a kernel that has become slower than what it replaces (a formula
//! that stopped being inlined into its loop made GELU three times slower once).
//!
//! Run with `cargo bench --bench kernels`.

#[global_allocator]
static ALLOCATOR: nasc::alloc::Allocator = nasc::alloc::Allocator;

use std::time::Instant;

use burn::tensor::activation as burn_act;
use burn::tensor::{Bool, Device, Distribution, Tensor, TensorData};
use nasc::model::kernels;

/// Timings per operation and side: the best of this many.
const ROUNDS: usize = 7;

/// Sequences of a batch, positions, features (the element-wise and norm inputs are
/// `[BATCH, SEQ, WIDTH]`).
const BATCH: usize = 32;
const SEQ: usize = 128;
const WIDTH: usize = 512;

/// Attention: heads and their width, over `SEQ` positions, causal.
const HEADS: usize = 4;
const HEAD_DIM: usize = 32;

fn device() -> Device {
    Device::flex().autodiff()
}

fn random<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<D> {
    let d = device();
    d.seed(seed);
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &d)
}

/// The best time in ms of `f` over fresh leaves of `inputs`, forward and backward
/// through `sum(f(..) · r)`.
fn time<const D: usize, const E: usize>(
    inputs: &[Tensor<D>],
    r: &Tensor<E>,
    f: &dyn Fn(Vec<Tensor<D>>) -> Tensor<E>,
) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let leaves: Vec<Tensor<D>> = inputs
            .iter()
            .map(|t| t.clone().detach().require_grad())
            .collect();
        let start = Instant::now();
        let y = f(leaves.clone());
        let grads = (y * r.clone()).sum().backward();
        for leaf in &leaves {
            let _ = leaf.grad(&grads);
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn row(name: &str, kernel: f64, composed: f64) {
    println!(
        "{name:<34} kernel {kernel:>8.2} ms   burn {composed:>8.2} ms   {:>5.1}x",
        composed / kernel
    );
}

fn main() {
    nasc::cli::tune_allocator();
    println!(
        "forward and backward, best of {ROUNDS}; element-wise and norms over [{BATCH}, {SEQ}, {WIDTH}], attention over {BATCH} x {HEADS} heads x {SEQ} positions x {HEAD_DIM}\n"
    );
    let x = random([BATCH, SEQ, WIDTH], 1);
    let up = random([BATCH, SEQ, WIDTH], 2);
    let r = random([BATCH, SEQ, WIDTH], 3);
    let one = [x.clone()];

    type Unary = fn(Tensor<3>) -> Tensor<3>;
    let pointwise: [(&str, Unary, Unary); 4] = [
        ("gelu", kernels::gelu, burn_act::gelu),
        ("silu", kernels::silu, burn_act::silu),
        ("tanh", kernels::tanh, burn_act::tanh),
        (
            "elu + 1 (linear attention's features)",
            kernels::elu_plus_one,
            |x| burn_act::elu(x, 1.0) + 1.0,
        ),
    ];
    for (name, kernel, composed) in pointwise {
        let k = time(&one, &r, &|v| kernel(v[0].clone()));
        let c = time(&one, &r, &|v| composed(v[0].clone()));
        row(name, k, c);
    }

    let two = [x.clone(), up];
    let k = time(&two, &r, &|v| kernels::swiglu(v[0].clone(), v[1].clone()));
    let c = time(&two, &r, &|v| burn_act::silu(v[0].clone()) * v[1].clone());
    row("swiglu (silu(gate) * up)", k, c);

    let gamma = random([WIDTH], 4);
    let beta = random([WIDTH], 5);
    let k = time(&one, &r, &|v| {
        kernels::layer_norm(v[0].clone(), gamma.clone(), Some(beta.clone()), 1e-5)
    });
    let c = time(&one, &r, &|v| {
        burn::tensor::module::layer_norm(v[0].clone(), gamma.clone(), Some(beta.clone()), 1e-5)
    });
    row("layer norm", k, c);
    let rms = burn::nn::RmsNormConfig::new(WIDTH)
        .with_epsilon(1e-6)
        .init(&device());
    let k = time(&one, &r, &|v| kernels::rms(&rms, v[0].clone()));
    let c = time(&one, &r, &|v| rms.forward(v[0].clone()));
    row("rms norm", k, c);

    // Causal softmax attention, with and without dropout on the weights.
    let shape = [BATCH, HEADS, SEQ, HEAD_DIM];
    let qkv = [random(shape, 6), random(shape, 7), random(shape, 8)];
    let ra = random([BATCH, SEQ, HEADS * HEAD_DIM], 9);
    let scale = 1.0 / (HEAD_DIM as f32).sqrt();
    let blocked: Vec<bool> = (0..SEQ * SEQ).map(|n| n % SEQ > n / SEQ).collect();
    let pattern = kernels::Blocked::from(blocked.clone());
    let mask = Tensor::<2, Bool>::from_data(TensorData::new(blocked, [SEQ, SEQ]), &device())
        .unsqueeze_dims::<4>(&[0, 1]);
    let composed = |v: Vec<Tensor<4>>, dropout: Option<kernels::WeightDropout>| {
        let scores = v[0].clone().matmul(v[1].clone().swap_dims(2, 3)) * scale;
        let weights = burn_act::softmax(scores.mask_fill(mask.clone(), f32::NEG_INFINITY), 3);
        let weights = match dropout {
            // burn's dropout draws a mask of the same shape.
            Some(_) => {
                let keep = weights.random_like(Distribution::Bernoulli(0.9));
                weights * keep / 0.9
            }
            None => weights,
        };
        weights
            .matmul(v[2].clone())
            .swap_dims(1, 2)
            .reshape([BATCH, SEQ, HEADS * HEAD_DIM])
    };
    for dropout in [None, Some(kernels::WeightDropout::new(0.1, 1))] {
        let k = time(&qkv, &ra, &|v| {
            let [q, k, w] = [v[0].clone(), v[1].clone(), v[2].clone()];
            kernels::attention(q, k, w, scale, Some(pattern.clone()), None, dropout)
        });
        let c = time(&qkv, &ra, &|v| composed(v, dropout));
        let name = match dropout {
            Some(_) => "causal attention, dropout 0.1",
            None => "causal attention",
        };
        row(name, k, c);
    }
}
