//! Fused, multi-threaded CPU kernels for the `flex` backend, with their backward passes.
//!
//! burn's `flex` backend runs element-wise operations on one thread, and under autodiff
//! it composes GELU's backward, softmax and layer norm from separate element-wise passes
//! (layer norm: nine forward, more backward), each a full read and write of its tensor;
//! every matrix product also zeroes its output and then copies it once more (burn's
//! `Bytes` re-aligns a fresh vector). The kernels here do each operation in one pass
//! forward and one backward, over rows (or heads) split among rayon's threads:
//!
//! - [`linear`] (and [`dense`] for a `burn::nn::Linear`): `x · weight + bias` through
//!   `gemm` directly;
//! - [`attention`]: softmax attention with the heads joined, both products, the mask and
//!   the softmax, the heads read in place, over blocks of queries each with only the keys
//!   one of them may see (a causal mask halves the products, a sliding window shrinks
//!   them to the window, padding stops them at each sequence's last real key);
//!   with dropout on the weights ([`WeightDropout`]) drawn again in the backward pass
//!   rather than stored;
//! - [`layer_norm`]: `(x − mean) / sqrt(var + eps) · gamma + beta` over the last axis,
//!   and [`rms_norm`], `x / sqrt(mean(x²) + eps) · gamma`;
//! - [`gelu`]: `x · Φ(x)`, flex's formula with a branch-free `erf` within `1e-6` of
//!   libm's;
//! - [`silu`] and [`swiglu`] (`silu(gate) ⊙ up`), with a branch-free `exp`; [`tanh`]
//!   (not ReLU: burn's, which works in place, measured faster than a pass here);
//! - [`cross_entropy`]: the loss of rows of logits against their targets, each row's
//!   log-sum-exp forward, the softmax less the target backward.
//!
//! Each is used only where a tensor lives on flex in `f32` ([`fused`], [`fused_with`]);
//! on any other backend or dtype the caller's composition of burn operations runs
//! instead, so wgpu and CUDA are unaffected. The results do not depend on the number of
//! threads: rows and heads are independent, the products split only over their output,
//! and parameter gradients are summed over fixed blocks of rows, then over the blocks in
//! order. The tests below check values and every gradient against burn's own composition.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, NodeGuard, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::backend::{Autodiff, DispatchDevice, Flex};
use burn::tensor::{DType, Shape, Tensor, TensorData};
use rayon::prelude::*;

type Ad = Autodiff<Flex, NoCheckpointing>;

/// Elements one rayon task handles in the element-wise kernels.
const ELEMS_PER_TASK: usize = 1 << 14;

/// Rows of layer norm whose parameter gradients are summed together before the blocks
/// are summed in order: fixed, so the sums do not depend on the thread count.
const ROWS_PER_BLOCK: usize = 64;

/// Whether the kernels here run for `t`: an `f32` tensor on flex, with or without
/// autodiff (without gradient checkpointing).
pub fn fused<const D: usize>(t: &Tensor<D>) -> bool {
    route(t).is_some()
}

/// Whether the kernels run for `x` with the parameters `weight` and `others` (biases):
/// [`fused`], all on the same side of autodiff (a model's parameters can live on the
/// training device while an input does not).
pub fn fused_with<const D: usize, const E: usize>(
    x: &Tensor<D>,
    weight: &Tensor<E>,
    others: &[Tensor<1>],
) -> bool {
    let r = route(x);
    r.is_some() && route(weight) == r && others.iter().all(|p| route(p) == r)
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Route {
    Plain,
    Autodiff,
}

#[cfg(test)]
thread_local! {
    /// Set by [`without_kernels`]: every tensor takes burn's path.
    static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the kernels off on this thread, so tests can compare the two paths.
#[cfg(test)]
pub(crate) fn without_kernels<T>(f: impl FnOnce() -> T) -> T {
    DISABLED.with(|d| d.set(true));
    let out = f();
    DISABLED.with(|d| d.set(false));
    out
}

fn route<const D: usize>(t: &Tensor<D>) -> Option<Route> {
    #[cfg(test)]
    if DISABLED.with(|d| d.get()) {
        return None;
    }
    if t.dtype() != DType::F32 {
        return None;
    }
    let device = t.device();
    let autodiff = device.is_autodiff();
    if autodiff
        && device.gradient_checkpointing_strategy()
            != Some(burn::backend::GradientCheckpointingStrategy::Disabled)
    {
        return None;
    }
    #[allow(unreachable_patterns)]
    match device.inner().as_dispatch() {
        DispatchDevice::Flex(_) => Some(if autodiff {
            Route::Autodiff
        } else {
            Route::Plain
        }),
        _ => None,
    }
}

/// The tensor as an autodiff primitive over flex.
fn ad<const D: usize>(t: Tensor<D>) -> FloatTensor<Ad> {
    t.try_into_primitive::<Ad>()
        .expect("routed to autodiff over flex")
}

fn plain<const D: usize>(t: Tensor<D>) -> FlexTensor {
    t.try_into_primitive::<Flex>().expect("routed to flex")
}

/// The `f32` values of a contiguous copy (or view) of `t`.
fn values(t: &FlexTensor) -> (FlexTensor, Shape) {
    let c = t.to_contiguous();
    let shape = c.shape();
    (c, shape)
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

fn tensor(data: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// Records `op` in the autodiff graph as the operation that made `out` from the
/// `parents`, keeping `state` for its backward pass (dropped when no parent needs a
/// gradient).
fn record<const D: usize, const N: usize, O: Backward<Flex, N>>(
    op: O,
    parents: [NodeGuard; N],
    state: O::State,
    out: FlexTensor,
) -> Tensor<D> {
    let t = match op
        .prepare::<NoCheckpointing>(parents)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(state, out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    };
    Tensor::from_primitive::<Ad>(t)
}

// ---------------------------------------------------------------------------------------
// GELU

const SQRT_2: f32 = std::f32::consts::SQRT_2;

/// The error function in `f32`: the rational approximation of Eigen and XLA
/// (`generic_fast_erf_float`), odd degree 13 over even degree 8 on `[-4, 4]`, ±1 beyond
/// `|x| ≥ 3.8325` (where `erf` rounds to ±1 in `f32`). Within `1e-6` of libm's `erff`
/// everywhere (checked below); branch-free, so a loop over it vectorises, where libm's
/// is a call per element.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let c = x.clamp(-4.0, 4.0);
    let x2 = c * c;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024_1e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_1e-3;
    p = p * x2 - 1.609_603_3e-2;
    p *= c;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_5e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_2e-3;
    q = q * x2 - 1.426_473_9e-2;
    let r = p / q;
    if x.abs() >= 3.832_507 {
        1.0f32.copysign(x)
    } else {
        r
    }
}

/// `e^x` in `f32`, branch-free: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-6
/// Taylor polynomial for `e^r` and `2^n` built in the exponent bits. Within 3 units in the
/// last place of `f32::exp` (checked below); 0 below −87.3 (where `e^x` is subnormal),
/// `e^88` above 88. A loop over it vectorises, where `f32::exp` is a call per element.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5 · 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let c = x.clamp(-87.3, 88.0);
    let n = (c * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = c - n * LN2_HI - n * LN2_LO;
    let mut p = 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.3 {
        0.0
    } else {
        p * scale
    }
}

/// `f` of every element of `x` (and of `y`, the same length), over chunks in parallel,
/// each a plain loop the compiler can vectorise.
fn map_elems(x: &[f32], y: Option<&[f32]>, f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    // SAFETY: each chunk writes every element it is given.
    unsafe {
        filled(x.len(), ELEMS_PER_TASK, |i, out| {
            let start = i * ELEMS_PER_TASK;
            let xs = &x[start..(start + ELEMS_PER_TASK).min(x.len())];
            let out = std::slice::from_raw_parts_mut(out, xs.len());
            match y {
                Some(y) => {
                    let ys = &y[start..start + xs.len()];
                    for ((o, &a), &b) in out.iter_mut().zip(xs).zip(ys) {
                        *o = f(a, b);
                    }
                }
                None => {
                    for (o, &a) in out.iter_mut().zip(xs) {
                        *o = f(a, 0.0);
                    }
                }
            }
        })
    }
}

/// An element-wise function with its derivative, for [`pointwise`]: a type per
/// function, so each loop is compiled for its function and can be vectorised.
trait Pointwise: std::fmt::Debug + Send + Sync + 'static {
    fn value(x: f32) -> f32;
    /// The derivative, from the input.
    fn slope(x: f32) -> f32;
}

#[derive(Debug)]
struct PointwiseOp<P: Pointwise>(std::marker::PhantomData<P>);

impl<P: Pointwise> Backward<Flex, 1> for PointwiseOp<P> {
    /// The input.
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        if let [Some(parent)] = &ops.parents {
            let (x, shape) = values(&ops.state);
            let (g, _) = values(&grad);
            let dx = map_elems(slice(&x), Some(slice(&g)), |v, g| g * P::slope(v));
            grads.register::<Flex>(parent.id, tensor(dx, shape));
        }
    }
}

/// `P` of every element of `x`, in one pass each way over chunks in parallel; burn's
/// `fallback` on other backends.
fn pointwise<P: Pointwise, const D: usize>(
    x: Tensor<D>,
    fallback: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    let forward = |x: &FlexTensor| {
        let (x, shape) = values(x);
        tensor(map_elems(slice(&x), None, |v, _| P::value(v)), shape)
    };
    match route(&x) {
        None => fallback(x),
        Some(Route::Plain) => Tensor::from_primitive::<Flex>(forward(&plain(x))),
        Some(Route::Autodiff) => {
            let x = ad(x);
            let out = forward(x.primitive());
            let op = PointwiseOp::<P>(std::marker::PhantomData);
            record(op, [x.node()], x.primitive().clone(), out)
        }
    }
}

#[derive(Debug)]
struct Gelu;

impl Pointwise for Gelu {
    #[inline(always)]
    fn value(x: f32) -> f32 {
        0.5 * x * (1.0 + erf(x / SQRT_2))
    }
    /// `Φ(x) + x · φ(x)`.
    #[inline(always)]
    fn slope(x: f32) -> f32 {
        let inv_sqrt_2pi: f32 = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
        let cdf = 0.5 * (1.0 + erf(x / SQRT_2));
        let pdf = inv_sqrt_2pi * exp(-0.5 * x * x);
        cdf + x * pdf
    }
}

/// GELU (the exact, `erf` form). Falls back to burn's on other backends.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    pointwise::<Gelu, D>(x, burn::tensor::activation::gelu)
}

#[derive(Debug)]
struct EluPlusOne;

/// Both sides worked out and one picked, so that the loop stays branch-free.
impl Pointwise for EluPlusOne {
    #[inline(always)]
    fn value(x: f32) -> f32 {
        let below = exp(x.min(0.0));
        if x > 0.0 {
            x + 1.0
        } else {
            below
        }
    }
    #[inline(always)]
    fn slope(x: f32) -> f32 {
        let below = exp(x.min(0.0));
        if x > 0.0 {
            1.0
        } else {
            below
        }
    }
}

/// `elu(x) + 1`, linear attention's feature map (Katharopoulos et al., 2020): `x + 1`
/// above 0, `e^x` below. Falls back to burn's on other backends.
pub fn elu_plus_one<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    pointwise::<EluPlusOne, D>(x, |x| burn::tensor::activation::elu(x, 1.0) + 1.0)
}

#[derive(Debug)]
struct Tanh;

impl Pointwise for Tanh {
    #[inline(always)]
    fn value(x: f32) -> f32 {
        x.tanh()
    }
    #[inline(always)]
    fn slope(x: f32) -> f32 {
        let t = x.tanh();
        1.0 - t * t
    }
}

/// tanh (the standard library's, a call per element, on every thread). Falls back to
/// burn's on other backends.
pub fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    pointwise::<Tanh, D>(x, burn::tensor::activation::tanh)
}

// ---------------------------------------------------------------------------------------
// SiLU and SwiGLU

/// `1 / (1 + e^-x)` through the branch-free [`exp`]: 0 below about −88, 1 above 87.3.
#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn silu_value(x: f32) -> f32 {
    x * sigmoid(x)
}

/// Two outputs per element of `a`, `b` and `c` (the same length), over chunks in
/// parallel.
fn map_elems_2(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> (f32, f32) + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let n = a.len();
    let (mut x, mut y): (Vec<f32>, Vec<f32>) = (Vec::with_capacity(n), Vec::with_capacity(n));
    x.spare_capacity_mut()
        .par_chunks_mut(ELEMS_PER_TASK)
        .zip(y.spare_capacity_mut().par_chunks_mut(ELEMS_PER_TASK))
        .enumerate()
        .for_each(|(i, (xo, yo))| {
            let start = i * ELEMS_PER_TASK;
            let end = start + xo.len();
            let ins = a[start..end].iter().zip(&b[start..end]).zip(&c[start..end]);
            for ((xo, yo), ((&a, &b), &c)) in xo.iter_mut().zip(yo.iter_mut()).zip(ins) {
                let (p, q) = f(a, b, c);
                xo.write(p);
                yo.write(q);
            }
        });
    // SAFETY: the chunks cover both vectors, and every element of each was written.
    unsafe {
        x.set_len(n);
        y.set_len(n);
    }
    (x, y)
}

#[derive(Debug)]
struct Silu;

impl Pointwise for Silu {
    #[inline(always)]
    fn value(x: f32) -> f32 {
        silu_value(x)
    }
    /// `σ(x) · (1 + x · (1 − σ(x)))`.
    #[inline(always)]
    fn slope(x: f32) -> f32 {
        let s = sigmoid(x);
        s * (1.0 + x * (1.0 - s))
    }
}

/// SiLU, `x · σ(x)`, in one pass each way. Falls back to burn's on other backends.
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    pointwise::<Silu, D>(x, burn::tensor::activation::silu)
}

#[derive(Debug)]
struct SwigluOp;

impl Backward<Flex, 2> for SwigluOp {
    /// The gate's and the up projection's values.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (gate, shape) = values(&ops.state.0);
        let (up, _) = values(&ops.state.1);
        let (g, _) = values(&grad);
        // d gate = g · up · silu'(gate), d up = g · silu(gate): one pass for both.
        let (d_gate, d_up) = map_elems_2(slice(&g), slice(&gate), slice(&up), |g, a, b| {
            let s = sigmoid(a);
            (g * b * s * (1.0 + a * (1.0 - s)), g * a * s)
        });
        let [gate_parent, up_parent] = &ops.parents;
        if let Some(parent) = gate_parent {
            grads.register::<Flex>(parent.id, tensor(d_gate, shape.clone()));
        }
        if let Some(parent) = up_parent {
            grads.register::<Flex>(parent.id, tensor(d_up, shape));
        }
    }
}

/// The gated unit of a SwiGLU feed-forward block, `silu(gate) ⊙ up`, in one pass each
/// way (burn's composition takes five forward and more backward). Falls back to burn's
/// operations on other backends, or when the two are not on the same side of autodiff.
///
/// # Shapes
/// `gate` and `up` the same shape; out the same.
pub fn swiglu<const D: usize>(gate: Tensor<D>, up: Tensor<D>) -> Tensor<D> {
    let forward = |gate: &FlexTensor, up: &FlexTensor| {
        let (gate, shape) = values(gate);
        let (up, _) = values(up);
        let out = map_elems(slice(&gate), Some(slice(&up)), |a, b| silu_value(a) * b);
        tensor(out, shape)
    };
    let same_shape = gate.dims() == up.dims();
    match (route(&gate), route(&up)) {
        (Some(Route::Plain), Some(Route::Plain)) if same_shape => {
            Tensor::from_primitive::<Flex>(forward(&plain(gate), &plain(up)))
        }
        (Some(Route::Autodiff), Some(Route::Autodiff)) if same_shape => {
            let (gate, up) = (ad(gate), ad(up));
            let out = forward(gate.primitive(), up.primitive());
            let state = (gate.primitive().clone(), up.primitive().clone());
            record(SwigluOp, [gate.node(), up.node()], state, out)
        }
        _ => burn::tensor::activation::silu(gate) * up,
    }
}

// ---------------------------------------------------------------------------------------
// Attention masks

/// Which keys each query may not see: `[queries, keys]`, row-major, `true` for blocked.
pub type Blocked = Arc<[bool]>;

/// Softmax in place over `row · scale`, over the keys `open` lets through (the others
/// get no weight; a row with none open is all zeros).
#[inline(always)]
fn softmax_where(row: &mut [f32], scale: f32, open: impl Fn(usize) -> bool) {
    let mut max = f32::NEG_INFINITY;
    for (j, &v) in row.iter().enumerate() {
        if open(j) {
            max = max.max(v * scale);
        }
    }
    if max == f32::NEG_INFINITY {
        // Every key is blocked (or -inf): no weight anywhere, rather than NaN.
        row.fill(0.0);
        return;
    }
    let mut sum = 0.0f32;
    for (j, v) in row.iter_mut().enumerate() {
        *v = if open(j) { exp(*v * scale - max) } else { 0.0 };
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

// ---------------------------------------------------------------------------------------
// Cross-entropy

/// Rows of logits one rayon task handles in cross-entropy.
const CE_ROWS_PER_TASK: usize = 16;

/// What the backward pass of cross-entropy keeps: the logits, each row's log-sum-exp,
/// target and weight.
#[derive(Clone, Debug)]
struct CrossEntropyState {
    logits: FlexTensor,
    lse: Vec<f32>,
    targets: Vec<usize>,
    weights: Vec<f32>,
}

/// `ln Σ e^x` of a row, from its largest value.
fn log_sum_exp(row: &[f32]) -> f32 {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if !max.is_finite() {
        return max;
    }
    let sum: f32 = row.iter().map(|&v| exp(v - max)).sum();
    max + sum.ln()
}

/// Each row's log-sum-exp, and `Σ_r weights[r] · (lse[r] − logits[r, targets[r]])` summed
/// in order in `f64`, so the loss does not depend on the number of threads.
fn cross_entropy_forward(
    logits: &FlexTensor,
    targets: &[usize],
    weights: &[f32],
) -> (Vec<f32>, f32) {
    let (x, shape) = values(logits);
    let options = shape[1];
    let x = slice(&x);
    let mut lse = vec![0f32; targets.len()];
    if options > 0 {
        lse.par_chunks_mut(CE_ROWS_PER_TASK)
            .zip(x.par_chunks(CE_ROWS_PER_TASK * options))
            .for_each(|(l, rows)| {
                for (l, row) in l.iter_mut().zip(rows.chunks(options)) {
                    *l = log_sum_exp(row);
                }
            });
    }
    let loss: f64 = (0..targets.len())
        .filter(|&r| weights[r] != 0.0)
        .map(|r| f64::from(weights[r]) * f64::from(lse[r] - x[r * options + targets[r]]))
        .sum();
    (lse, loss as f32)
}

#[derive(Debug)]
struct CrossEntropyOp;

impl Backward<Flex, 1> for CrossEntropyOp {
    type State = CrossEntropyState;

    fn backward(self, ops: Ops<CrossEntropyState, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [Some(parent)] = &ops.parents else {
            return;
        };
        let (g, _) = values(&grad);
        let g = slice(&g)[0];
        let st = &ops.state;
        let (x, shape) = values(&st.logits);
        let options = shape[1];
        let x = slice(&x);
        // d loss / d logits[r, j] = g · weight[r] · (softmax[r, j] − [j = target[r]])
        let mut out = vec![0f32; x.len()];
        if options > 0 {
            out.par_chunks_mut(CE_ROWS_PER_TASK * options)
                .zip(x.par_chunks(CE_ROWS_PER_TASK * options))
                .enumerate()
                .for_each(|(task, (o, x))| {
                    for (i, (o, x)) in o.chunks_mut(options).zip(x.chunks(options)).enumerate() {
                        let r = task * CE_ROWS_PER_TASK + i;
                        let scale = g * st.weights[r];
                        if scale == 0.0 {
                            continue;
                        }
                        let lse = st.lse[r];
                        for (o, &x) in o.iter_mut().zip(x) {
                            *o = scale * exp(x - lse);
                        }
                        o[st.targets[r]] -= scale;
                    }
                });
        }
        grads.register::<Flex>(parent.id, tensor(out, shape));
    }
}

/// `Σ_r weights[r] · −log softmax(logits)[r, targets[r]]`, a one-element tensor: the
/// cross-entropy of `[rows, options]` logits, in one pass forward (each row's log-sum-exp,
/// over rows split among rayon's threads) and one backward (the softmax less the target,
/// scaled), where burn's composition of `log_softmax` and `gather` takes several
/// one-thread passes each way. Only for tensors [`fused`] accepts.
pub fn cross_entropy(logits: Tensor<2>, targets: &[usize], weights: &[f32]) -> Tensor<1> {
    let [rows, options] = logits.dims();
    assert_eq!(targets.len(), rows, "a target per row");
    assert_eq!(weights.len(), rows, "a weight per row");
    assert!(targets.iter().all(|&t| t < options), "targets are options");
    let scalar = |loss: f32| FlexTensor::from_data(TensorData::new(vec![loss], [1]));
    match route(&logits).expect("cross_entropy runs only where `fused` holds") {
        Route::Plain => {
            let (_, loss) = cross_entropy_forward(&plain(logits), targets, weights);
            Tensor::from_primitive::<Flex>(scalar(loss))
        }
        Route::Autodiff => {
            let x = ad(logits);
            let (lse, loss) = cross_entropy_forward(x.primitive(), targets, weights);
            let state = CrossEntropyState {
                logits: x.primitive().clone(),
                lse,
                targets: targets.to_vec(),
                weights: weights.to_vec(),
            };
            record(CrossEntropyOp, [x.node()], state, scalar(loss))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Layer norm

/// What the backward pass of layer norm keeps: the normalised input and, per row, the
/// reciprocal standard deviation (of RMS norm: the reciprocal root mean square).
#[derive(Clone, Debug)]
struct NormState {
    normed: FlexTensor,
    rstd: Arc<[f32]>,
    gamma: FlexTensor,
    /// Layer norm (the mean taken off); RMS norm otherwise.
    centered: bool,
}

/// `(normed, rstd, out)` of a layer norm over rows of `width` (`centered`), or of an RMS
/// norm (the mean left in: `x / sqrt(mean(x²) + eps) · gamma`).
fn norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: Option<&FlexTensor>,
    eps: f64,
    centered: bool,
) -> (FlexTensor, Arc<[f32]>, FlexTensor) {
    let (x, shape) = values(x);
    let (gamma, _) = values(gamma);
    let beta = beta.map(|b| values(b).0);
    let width = shape[shape.num_dims() - 1];
    let input = slice(&x);
    let gamma = slice(&gamma);
    let beta = beta.as_ref().map(slice);
    let rows = input.len().checked_div(width).unwrap_or(0);
    let mut normed = vec![0f32; input.len()];
    let mut out = vec![0f32; input.len()];
    let mut rstd = vec![0f32; rows];
    if let Some(rows_per_task) = ELEMS_PER_TASK.checked_div(width) {
        let rows_per_task = rows_per_task.max(1);
        normed
            .par_chunks_mut(rows_per_task * width)
            .zip(out.par_chunks_mut(rows_per_task * width))
            .zip(rstd.par_chunks_mut(rows_per_task))
            .zip(input.par_chunks(rows_per_task * width))
            .for_each(|(((n, o), r), x)| {
                for (((n, o), r), x) in n
                    .chunks_mut(width)
                    .zip(o.chunks_mut(width))
                    .zip(r.iter_mut())
                    .zip(x.chunks(width))
                {
                    let mean = match centered {
                        true => x.iter().sum::<f32>() / width as f32,
                        false => 0.0,
                    };
                    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
                    let inv = 1.0 / (var + eps as f32).sqrt();
                    *r = inv;
                    for (j, (n, o)) in n.iter_mut().zip(o.iter_mut()).enumerate() {
                        let h = (x[j] - mean) * inv;
                        *n = h;
                        *o = h * gamma[j] + beta.map_or(0.0, |b| b[j]);
                    }
                }
            });
    }
    (
        tensor(normed, shape.clone()),
        rstd.into(),
        tensor(out, shape),
    )
}

/// `(dx, dgamma, dbeta)` of a layer norm.
fn norm_backward(state: &NormState, grad: &FlexTensor) -> (FlexTensor, Vec<f32>, Vec<f32>) {
    let (g, shape) = values(grad);
    let (gamma, _) = values(&state.gamma);
    let (normed, _) = values(&state.normed);
    let width = shape[shape.num_dims() - 1];
    let (g, gamma, normed) = (slice(&g), slice(&gamma), slice(&normed));
    let mut dx = vec![0f32; g.len()];
    let block = ROWS_PER_BLOCK * width;
    // Per block of rows: the partial sums of dgamma and dbeta.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = if width == 0 {
        Vec::new()
    } else {
        dx.par_chunks_mut(block)
            .zip(g.par_chunks(block).zip(normed.par_chunks(block)))
            .zip(state.rstd.par_chunks(ROWS_PER_BLOCK))
            .map(|((dx, (g, h)), rstd)| {
                let mut dgamma = vec![0f32; width];
                let mut dbeta = vec![0f32; width];
                for (((dx, g), h), &r) in dx
                    .chunks_mut(width)
                    .zip(g.chunks(width))
                    .zip(h.chunks(width))
                    .zip(rstd)
                {
                    let mut sum_dh = 0.0f32;
                    let mut sum_dh_h = 0.0f32;
                    for j in 0..width {
                        let dh = g[j] * gamma[j];
                        sum_dh += dh;
                        sum_dh_h += dh * h[j];
                        dgamma[j] += g[j] * h[j];
                        dbeta[j] += g[j];
                    }
                    let (mean_dh, mean_dh_h) = (sum_dh / width as f32, sum_dh_h / width as f32);
                    // RMS norm does not take the mean off, so its gradient does not either.
                    let mean_dh = if state.centered { mean_dh } else { 0.0 };
                    for j in 0..width {
                        dx[j] = r * (g[j] * gamma[j] - mean_dh - h[j] * mean_dh_h);
                    }
                }
                (dgamma, dbeta)
            })
            .collect()
    };
    let mut dgamma = vec![0f32; width];
    let mut dbeta = vec![0f32; width];
    for (pg, pb) in &partials {
        for j in 0..width {
            dgamma[j] += pg[j];
            dbeta[j] += pb[j];
        }
    }
    (tensor(dx, shape), dgamma, dbeta)
}

#[derive(Debug)]
struct NormOp;

impl<const N: usize> Backward<Flex, N> for NormOp {
    type State = NormState;

    fn backward(self, ops: Ops<NormState, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (dx, dgamma, dbeta) = norm_backward(&ops.state, &grad);
        let width = dgamma.len();
        let param = |v: Vec<f32>| tensor(v, Shape::new([width]));
        let mut parts = [Some(dx), Some(param(dgamma)), Some(param(dbeta))].into_iter();
        for parent in &ops.parents {
            let part = parts.next().flatten();
            if let (Some(parent), Some(part)) = (parent, part) {
                grads.register::<Flex>(parent.id, part);
            }
        }
    }
}

/// Layer norm over the last axis: `(x − mean) / sqrt(var + eps) · gamma + beta`, with the
/// biased variance, as burn's. Only for tensors [`fused`] accepts.
///
/// # Shapes
/// `x`: `[..., width]`; `gamma`, `beta`: `[width]`.
pub fn layer_norm<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Option<Tensor<1>>,
    eps: f64,
) -> Tensor<D> {
    match route(&x).expect("layer_norm runs only where `fused` holds") {
        Route::Plain => {
            let beta = beta.map(plain);
            let (_, _, out) = norm_forward(&plain(x), &plain(gamma), beta.as_ref(), eps, true);
            Tensor::from_primitive::<Flex>(out)
        }
        Route::Autodiff => {
            let (x, gamma) = (ad(x), ad(gamma));
            let beta = beta.map(ad);
            let (normed, rstd, out) = norm_forward(
                x.primitive(),
                gamma.primitive(),
                beta.as_ref().map(|b| b.primitive()),
                eps,
                true,
            );
            let state = NormState {
                normed,
                rstd,
                gamma: gamma.primitive().clone(),
                centered: true,
            };
            match beta {
                Some(beta) => record(NormOp, [x.node(), gamma.node(), beta.node()], state, out),
                None => record(NormOp, [x.node(), gamma.node()], state, out),
            }
        }
    }
}

/// RMS norm over the last axis: `x / sqrt(mean(x²) + eps) · gamma`, as burn's `RmsNorm`.
/// Only for tensors [`fused`] accepts.
///
/// # Shapes
/// `x`: `[..., width]`; `gamma`: `[width]`.
pub fn rms_norm<const D: usize>(x: Tensor<D>, gamma: Tensor<1>, eps: f64) -> Tensor<D> {
    match route(&x).expect("rms_norm runs only where `fused` holds") {
        Route::Plain => {
            let (_, _, out) = norm_forward(&plain(x), &plain(gamma), None, eps, false);
            Tensor::from_primitive::<Flex>(out)
        }
        Route::Autodiff => {
            let (x, gamma) = (ad(x), ad(gamma));
            let (normed, rstd, out) =
                norm_forward(x.primitive(), gamma.primitive(), None, eps, false);
            let state = NormState {
                normed,
                rstd,
                gamma: gamma.primitive().clone(),
                centered: false,
            };
            record(NormOp, [x.node(), gamma.node()], state, out)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Linear

/// Products of at least this many multiply-adds split among the threads.
const PARALLEL_PRODUCT: usize = 1 << 20;

/// A matrix operand: where its first element is and its row and column strides.
#[derive(Clone, Copy)]
struct Operand {
    ptr: *const f32,
    rows: isize,
    cols: isize,
}

impl Operand {
    /// The operand from row `row` and column `col` on.
    ///
    /// # Safety
    /// That element lies inside the matrix.
    unsafe fn from(self, row: usize, col: usize) -> Operand {
        Operand {
            // SAFETY: the caller's.
            ptr: unsafe {
                self.ptr
                    .offset(row as isize * self.rows + col as isize * self.cols)
            },
            ..self
        }
    }
}

/// `dst = lhs · rhs` (`accumulate`: `dst += lhs · rhs`), `dst` a contiguous `[m, n]`.
///
/// # Safety
/// `dst` is valid for `m · n` writes (and reads, with `accumulate`); `lhs` and `rhs`
/// address `[m, k]` and `[k, n]` matrices of valid, initialised elements.
unsafe fn product(
    dst: *mut f32,
    m: usize,
    n: usize,
    k: usize,
    lhs: Operand,
    rhs: Operand,
    accumulate: bool,
) {
    // SAFETY: the caller's guarantees, for a dst of row stride n.
    unsafe { product_strided(dst, n as isize, m, n, k, lhs, rhs, accumulate, true) }
}

/// [`product`] into a `dst` of row stride `dst_rows` (column stride 1), one thread
/// unless `may_split`.
///
/// # Safety
/// As [`product`], with `dst` addressing an `[m, n]` matrix of row stride `dst_rows`.
#[allow(clippy::too_many_arguments)]
unsafe fn product_strided(
    dst: *mut f32,
    dst_rows: isize,
    m: usize,
    n: usize,
    k: usize,
    lhs: Operand,
    rhs: Operand,
    accumulate: bool,
    may_split: bool,
) {
    let parallelism = if may_split && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_PRODUCT {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller's guarantees, as gemm states its own: `dst` with column stride 1
    // and row stride `dst_rows`; alpha 1 keeps what `dst` holds when it is read, beta 1 scales
    // the product.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rows,
            accumulate,
            lhs.ptr,
            lhs.cols,
            lhs.rows,
            rhs.ptr,
            rhs.cols,
            rhs.rows,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

/// A contiguous `[m, n]` product `lhs · rhs`, with `bias` added to every row.
fn product_vec(
    m: usize,
    n: usize,
    k: usize,
    lhs: Operand,
    rhs: Operand,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let len = m * n;
    if k == 0 || len == 0 {
        let mut out = vec![0f32; len];
        if let Some(b) = bias {
            out.par_chunks_mut(n.max(1))
                .for_each(|row| row.copy_from_slice(b));
        }
        return out;
    }
    let mut out: Vec<f32> = Vec::with_capacity(len);
    if let Some(b) = bias {
        out.spare_capacity_mut().par_chunks_mut(n).for_each(|row| {
            for (o, &v) in row.iter_mut().zip(b) {
                o.write(v);
            }
        });
    }
    // SAFETY: `out` has room for `len` elements; with a bias every one is initialised
    // above and read back, without one the product writes every one without reading.
    // The operands are the caller's, valid for these shapes.
    unsafe {
        product(out.as_mut_ptr(), m, n, k, lhs, rhs, bias.is_some());
        out.set_len(len);
    }
    out
}

/// The column sums of a contiguous `[rows, width]` matrix, over fixed blocks of rows.
fn column_sums(g: &[f32], width: usize) -> Vec<f32> {
    let mut sums = vec![0f32; width];
    if width == 0 {
        return sums;
    }
    let partials: Vec<Vec<f32>> = g
        .par_chunks(ROWS_PER_BLOCK * width)
        .map(|block| {
            let mut part = vec![0f32; width];
            for row in block.chunks(width) {
                for (p, &v) in part.iter_mut().zip(row) {
                    *p += v;
                }
            }
            part
        })
        .collect();
    for part in &partials {
        for (s, p) in sums.iter_mut().zip(part) {
            *s += p;
        }
    }
    sums
}

fn row_major(t: &[f32], cols: usize) -> Operand {
    Operand {
        ptr: t.as_ptr(),
        rows: cols as isize,
        cols: 1,
    }
}

fn transposed(t: &[f32], cols: usize) -> Operand {
    Operand {
        ptr: t.as_ptr(),
        rows: 1,
        cols: cols as isize,
    }
}

fn linear_forward(x: &FlexTensor, weight: &FlexTensor, bias: Option<&FlexTensor>) -> FlexTensor {
    let (x, shape) = values(x);
    let (w, w_shape) = values(weight);
    let bias = bias.map(|b| values(b).0);
    let (k, n) = (w_shape[0], w_shape[1]);
    let xs = slice(&x);
    let m = xs.len().checked_div(k).unwrap_or(0);
    let out = product_vec(
        m,
        n,
        k,
        row_major(xs, k),
        row_major(slice(&w), n),
        bias.as_ref().map(slice),
    );
    let mut dims = shape.to_vec();
    *dims.last_mut().expect("an input with features") = n;
    tensor(out, Shape::from(dims))
}

#[derive(Clone, Debug)]
struct LinearState {
    x: FlexTensor,
    weight: FlexTensor,
}

#[derive(Debug)]
struct LinearOp;

impl<const N: usize> Backward<Flex, N> for LinearOp {
    type State = LinearState;

    fn backward(self, ops: Ops<LinearState, N>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (g, _) = values(&grad);
        let (x, x_shape) = values(&ops.state.x);
        let (w, w_shape) = values(&ops.state.weight);
        let (k, n) = (w_shape[0], w_shape[1]);
        let (g, xs, ws) = (slice(&g), slice(&x), slice(&w));
        let m = xs.len().checked_div(k).unwrap_or(0);
        let [x_parent, w_parent] = [&ops.parents[0], &ops.parents[1]];
        if let Some(parent) = x_parent {
            // dx = g · weightᵀ
            let dx = product_vec(m, k, n, row_major(g, n), transposed(ws, n), None);
            grads.register::<Flex>(parent.id, tensor(dx, x_shape));
        }
        if let Some(parent) = w_parent {
            // dweight = xᵀ · g
            let dw = product_vec(k, n, m, transposed(xs, k), row_major(g, n), None);
            grads.register::<Flex>(parent.id, tensor(dw, w_shape));
        }
        if let Some(Some(parent)) = ops.parents.get(2) {
            grads.register::<Flex>(parent.id, tensor(column_sums(g, n), Shape::new([n])));
        }
    }
}

/// `x · weight + bias` over the last axis of `x`, burn's `Linear` with the product,
/// the bias and their gradients computed in one pass each. Only for tensors [`fused`]
/// accepts.
///
/// # Shapes
/// `x`: `[..., d_in]`; `weight`: `[d_in, d_out]`; `bias`: `[d_out]`; out `[..., d_out]`.
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    assert_eq!(
        x.dims()[D - 1],
        weight.dims()[0],
        "the input's features are the weight's rows"
    );
    match route(&x).expect("linear runs only where `fused` holds") {
        Route::Plain => {
            let bias = bias.map(plain);
            let out = linear_forward(&plain(x), &plain(weight), bias.as_ref());
            Tensor::from_primitive::<Flex>(out)
        }
        Route::Autodiff => {
            let (x, weight) = (ad(x), ad(weight));
            let bias = bias.map(ad);
            let out = linear_forward(
                x.primitive(),
                weight.primitive(),
                bias.as_ref().map(|b| b.primitive()),
            );
            let state = LinearState {
                x: x.primitive().clone(),
                weight: weight.primitive().clone(),
            };
            match bias {
                Some(bias) => record(LinearOp, [x.node(), weight.node(), bias.node()], state, out),
                None => record(LinearOp, [x.node(), weight.node()], state, out),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Softmax attention

/// A `[batch, heads, seq, dim]` flex tensor read in place: its storage, first element and
/// strides, so the heads split from a `[batch, seq, heads · dim]` projection need no copy.
struct Heads<'a> {
    data: &'a [f32],
    offset: isize,
    strides: [isize; 4],
}

impl<'a> Heads<'a> {
    fn of(t: &'a FlexTensor) -> Heads<'a> {
        let s = t.layout().strides();
        Heads {
            data: t.storage::<f32>(),
            offset: t.layout().start_offset() as isize,
            strides: [s[0], s[1], s[2], s[3]],
        }
    }

    fn start(&self, b: usize, h: usize) -> *const f32 {
        let at = self.offset + b as isize * self.strides[0] + h as isize * self.strides[1];
        // SAFETY: the layout addresses elements of the storage; this is the first of the
        // head's matrix, inside it.
        unsafe { self.data.as_ptr().offset(at) }
    }

    /// Head `(b, h)` as a `[seq, dim]` matrix.
    fn matrix(&self, b: usize, h: usize) -> Operand {
        Operand {
            ptr: self.start(b, h),
            rows: self.strides[2],
            cols: self.strides[3],
        }
    }

    /// Head `(b, h)` as a `[dim, seq]` matrix.
    fn transposed(&self, b: usize, h: usize) -> Operand {
        Operand {
            ptr: self.start(b, h),
            rows: self.strides[3],
            cols: self.strides[2],
        }
    }
}

/// A pointer that tasks writing disjoint parts of one buffer share.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
impl Shared {
    /// The element `i` places on.
    ///
    /// # Safety
    /// `i` lies inside the buffer.
    unsafe fn at(&self, i: usize) -> *mut f32 {
        // SAFETY: the caller's.
        unsafe { self.0.add(i) }
    }
}

// SAFETY: every task writes only its own head's columns of the buffer.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

/// A vector of `len` elements that `fill` initialises in parallel chunks of `chunk`
/// (given the chunk's index and its memory).
///
/// # Safety
/// `fill` writes every element of its chunk.
unsafe fn filled(len: usize, chunk: usize, fill: impl Fn(usize, *mut f32) + Sync) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(len);
    out.spare_capacity_mut()
        .par_chunks_mut(chunk.max(1))
        .enumerate()
        .for_each(|(i, c)| fill(i, c.as_mut_ptr().cast()));
    // SAFETY: every chunk was written, by the caller's promise.
    unsafe { out.set_len(len) };
    out
}

/// Queries whose products are worked out together in [`attention`], over the keys that
/// one of them may see.
const QUERY_BLOCK: usize = 32;

/// A block of queries `rows` and the keys `keys` that one of them may see: every key
/// outside is blocked for every query of the block, so its weight is zero and the
/// products leave it out. An empty range of keys when every key is blocked.
#[derive(Clone, Debug, PartialEq)]
struct Band {
    rows: std::ops::Range<usize>,
    keys: std::ops::Range<usize>,
}

impl Band {
    /// The weights it holds: queries × keys.
    fn size(&self) -> usize {
        self.rows.len() * self.keys.len()
    }
}

/// The bands of `sq` queries over `sk` keys, `block` queries at a time, for the keys
/// `blocked(query, key)` blocks (none without it): with a causal pattern the products
/// shrink by about half, with a sliding window to the window, with padding to the real
/// keys.
fn bands(
    blocked: Option<&dyn Fn(usize, usize) -> bool>,
    sq: usize,
    sk: usize,
    block: usize,
) -> Vec<Band> {
    let Some(blocked) = blocked else {
        return vec![Band {
            rows: 0..sq,
            keys: 0..sk,
        }];
    };
    (0..sq)
        .step_by(block.max(1))
        .map(|r0| {
            let rows = r0..(r0 + block.max(1)).min(sq);
            let (mut lo, mut hi) = (sk, 0);
            for i in rows.clone() {
                if let Some(first) = (0..sk).find(|&j| !blocked(i, j)) {
                    let last = (first..sk).rev().find(|&j| !blocked(i, j)).unwrap_or(first);
                    lo = lo.min(first);
                    hi = hi.max(last + 1);
                }
            }
            Band {
                rows,
                keys: if lo < hi { lo..hi } else { 0..0 },
            }
        })
        .collect()
}

/// Which keys the queries of [`attention`] may not see: those of a pattern shared by the
/// batch (`[queries, keys]`), and the padded keys of each sequence (`[batch, keys]`),
/// which every query but the key's own position skips.
#[derive(Clone, Copy)]
struct Mask<'a> {
    pattern: Option<&'a [bool]>,
    padded: Option<&'a [bool]>,
    sk: usize,
}

impl Mask<'_> {
    fn blocked(&self, b: usize, i: usize, j: usize) -> bool {
        self.pattern.is_some_and(|p| p[i * self.sk + j])
            || self.padded.is_some_and(|p| p[b * self.sk + j] && i != j)
    }

    /// The bands: one list for every sequence without padding, else one per sequence.
    fn bands(&self, batch: usize, sq: usize, block: usize) -> Vec<Vec<Band>> {
        let of = |b: usize| {
            let blocked = |i: usize, j: usize| self.blocked(b, i, j);
            let any = self.pattern.is_some() || self.padded.is_some();
            bands(
                any.then_some(&blocked as &dyn Fn(usize, usize) -> bool),
                sq,
                self.sk,
                block,
            )
        };
        match (self.pattern, self.padded) {
            (_, None) => vec![of(0)],
            // Padding alone: a query sees its sequence's real keys and itself.
            (None, Some(p)) => (0..batch)
                .map(|b| {
                    let keys = &p[b * self.sk..(b + 1) * self.sk];
                    let real = keys.iter().position(|p| !p).map(|first| {
                        let last = keys.iter().rposition(|p| !p).unwrap_or(first);
                        (first, last + 1)
                    });
                    (0..sq)
                        .step_by(block.max(1))
                        .map(|r0| {
                            let rows = r0..(r0 + block.max(1)).min(sq);
                            // Each query's own key, where it has one.
                            let own = rows.start.min(self.sk)..rows.end.min(self.sk);
                            let keys = match (real, own.is_empty()) {
                                (Some((lo, hi)), true) => lo..hi,
                                (Some((lo, hi)), false) => lo.min(own.start)..hi.max(own.end),
                                (None, _) => own,
                            };
                            Band { rows, keys }
                        })
                        .collect()
                })
                .collect(),
            (Some(_), Some(_)) => (0..batch).map(of).collect(),
        }
    }

    /// [`softmax_where`] of query `i` of sequence `b`, over the keys from `first` on
    /// that `row` holds.
    fn softmax(&self, row: &mut [f32], scale: f32, b: usize, i: usize, first: usize) {
        match (self.pattern, self.padded) {
            (None, None) => softmax_where(row, scale, |_| true),
            (Some(p), None) => softmax_where(row, scale, |j| !p[i * self.sk + first + j]),
            (None, Some(p)) => {
                let p = &p[b * self.sk + first..];
                softmax_where(row, scale, |j| !p[j] || first + j == i)
            }
            (Some(_), Some(_)) => softmax_where(row, scale, |j| !self.blocked(b, i, first + j)),
        }
    }
}

/// The bands of sequence `b`, and where its head `h`'s weights start among the weights of
/// every head, band after band.
fn head_bands(bands: &[Vec<Band>], heads: usize, b: usize, h: usize) -> (&[Band], usize) {
    let size = |bs: &[Band]| bs.iter().map(Band::size).sum::<usize>();
    match bands {
        [one] => (one, (b * heads + h) * size(one)),
        many => {
            let before: usize = many[..b].iter().map(|bs| size(bs)).sum();
            (&many[b], before * heads + h * size(&many[b]))
        }
    }
}

/// Dropout on attention weights, as burn's `Dropout` does it (each weight kept with
/// probability `1 − rate`, the kept ones scaled by `1 / (1 − rate)`), with the choice
/// of each weight a hash of `seed` and the weight's place (sequence, head, query, key)
/// rather than a draw: the backward pass makes the same choices again instead of storing
/// them, and the choices do not depend on how the work is split among threads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightDropout {
    /// Below this (of 2^24), a weight is kept.
    threshold: u32,
    /// What a kept weight is multiplied by.
    scale: f32,
    seed: u64,
}

impl WeightDropout {
    /// Dropout at `rate` (in `[0, 1]`; at 1 every weight is dropped) with the choices of
    /// `seed`.
    pub fn new(rate: f64, seed: u64) -> WeightDropout {
        let rate = rate.clamp(0.0, 1.0);
        WeightDropout {
            threshold: ((1.0 - rate) * f64::from(1u32 << 24)).round() as u32,
            scale: if rate < 1.0 {
                (1.0 / (1.0 - rate)) as f32
            } else {
                0.0
            },
            seed,
        }
    }

    /// What the weight at place `at` (`((sequence · heads + head) · queries + query) ·
    /// keys + key`) is multiplied by: `scale` or 0. The hash is splitmix64's finaliser.
    #[inline(always)]
    pub fn factor(&self, at: u64) -> f32 {
        let mut z = self
            .seed
            .wrapping_add(at.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        if ((z >> 40) as u32) < self.threshold {
            self.scale
        } else {
            0.0
        }
    }

    /// The factors of a band's `m × n` weights (queries from `row`, keys from `key`) of
    /// head `task` (`sequence · heads + head`), into `out`.
    fn band(
        &self,
        out: &mut Vec<f32>,
        task: usize,
        (sq, sk): (usize, usize),
        row: usize,
        key: usize,
        (m, n): (usize, usize),
    ) {
        out.clear();
        for i in 0..m {
            let first = ((task * sq + row + i) * sk + key) as u64;
            out.extend((0..n as u64).map(|j| self.factor(first + j)));
        }
    }
}

/// `(weights, out)`: the softmax weights of every head, band after band, each band's
/// `[queries, keys]` block row-major ([`Band::size`] elements, [`Band`]s' keys only: the
/// others have no weight), and the mixed values `[batch, queries, heads · dim]`.
fn attention_forward(
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    scale: f32,
    mask: Mask,
    bands: &[Vec<Band>],
    dropout: Option<WeightDropout>,
) -> (Vec<f32>, FlexTensor) {
    let qd = q.shape();
    let (batch, heads, sq, hd) = (qd[0], qd[1], qd[2], qd[3]);
    let sk = k.shape()[2];
    let width = heads * hd;
    let (qh, kh, vh) = (Heads::of(q), Heads::of(k), Heads::of(v));
    let per_sequence = |bs: &Vec<Band>| bs.iter().map(Band::size).sum::<usize>();
    let total = heads
        * match bands {
            [one] => batch * per_sequence(one),
            many => many.iter().map(per_sequence).sum(),
        };
    let mut weights: Vec<f32> = Vec::with_capacity(total);
    let mut mixed: Vec<f32> = Vec::with_capacity(batch * sq * width);
    let (w_all, out) = (Shared(weights.as_mut_ptr()), Shared(mixed.as_mut_ptr()));
    (0..batch * heads).into_par_iter().for_each(|task| {
        let (b, h) = (task / heads, task % heads);
        let (bands, mut at) = head_bands(bands, heads, b, h);
        // With dropout: the band's factors, and its weights times them.
        let (mut factors, mut dropped) = (Vec::new(), Vec::new());
        for band in bands {
            let (rows, keys) = (band.rows.clone(), band.keys.clone());
            let (m, n) = (rows.len(), keys.len());
            // SAFETY: each task writes its head's blocks of `weights` (every element, by
            // the first product) and its head's columns of `mixed` at the band's queries
            // (by the second product, or zeros for a band without keys); the tasks'
            // heads cover both, the bands all queries. The operands are heads of live
            // tensors at the band's queries and keys.
            unsafe {
                let target = out.at(b * sq * width + rows.start * width + h * hd);
                if n == 0 {
                    for i in 0..m {
                        std::slice::from_raw_parts_mut(target.add(i * width), hd).fill(0.0);
                    }
                    continue;
                }
                let block = w_all.at(at);
                at += m * n;
                let (q, kt) = (
                    qh.matrix(b, h).from(rows.start, 0),
                    kh.transposed(b, h).from(0, keys.start),
                );
                product_strided(block, n as isize, m, n, hd, q, kt, false, false);
                for (i, row) in std::slice::from_raw_parts_mut(block, m * n)
                    .chunks_mut(n)
                    .enumerate()
                {
                    mask.softmax(row, scale, b, rows.start + i, keys.start);
                }
                let mut probs = Operand {
                    ptr: block,
                    rows: n as isize,
                    cols: 1,
                };
                if let Some(d) = dropout {
                    d.band(&mut factors, task, (sq, sk), rows.start, keys.start, (m, n));
                    let kept = std::slice::from_raw_parts(block, m * n);
                    dropped.clear();
                    dropped.extend(kept.iter().zip(&factors).map(|(p, f)| p * f));
                    probs.ptr = dropped.as_ptr();
                }
                let v = vh.matrix(b, h).from(keys.start, 0);
                product_strided(target, width as isize, m, hd, n, probs, v, false, false);
            }
        }
    });
    // SAFETY: the tasks above wrote every element of both.
    unsafe {
        weights.set_len(total);
        mixed.set_len(batch * sq * width);
    }
    (weights, tensor(mixed, Shape::new([batch, sq, width])))
}

#[derive(Clone, Debug)]
struct AttentionState {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    /// As [`attention_forward`] gives them.
    weights: Vec<f32>,
}

#[derive(Debug)]
struct AttentionOp {
    scale: f32,
    /// The forward pass's bands.
    bands: Vec<Vec<Band>>,
    /// The forward pass's dropout, whose choices the backward pass makes again.
    dropout: Option<WeightDropout>,
}

impl Backward<Flex, 3> for AttentionOp {
    type State = AttentionState;

    fn backward(self, ops: Ops<AttentionState, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (g, _) = values(&grad);
        let st = &ops.state;
        let qd = st.q.shape();
        let (batch, heads, sq, hd) = (qd[0], qd[1], qd[2], qd[3]);
        let sk = st.k.shape()[2];
        let width = heads * hd;
        let (qh, kh, vh) = (Heads::of(&st.q), Heads::of(&st.k), Heads::of(&st.v));
        let (g, w) = (slice(&g), st.weights.as_slice());
        let n = batch * heads;
        let mut dq: Vec<f32> = Vec::with_capacity(n * sq * hd);
        let mut dk: Vec<f32> = Vec::with_capacity(n * sk * hd);
        let mut dv: Vec<f32> = Vec::with_capacity(n * sk * hd);
        let scale = self.scale;
        let bands = &self.bands;
        let dropout = self.dropout;
        dq.spare_capacity_mut()
            .par_chunks_mut((sq * hd).max(1))
            .zip(dk.spare_capacity_mut().par_chunks_mut((sk * hd).max(1)))
            .zip(dv.spare_capacity_mut().par_chunks_mut((sk * hd).max(1)))
            .enumerate()
            .for_each(|(task, ((dq, dk), dv))| {
                let (b, h) = (task / heads, task % heads);
                let go = Operand {
                    ptr: g[b * sq * width + h * hd..].as_ptr(),
                    rows: width as isize,
                    cols: 1,
                };
                let (bands, mut at) = head_bands(bands, heads, b, h);
                // The bands' key ranges overlap: dk and dv add up over them.
                for d in [&mut *dk, &mut *dv] {
                    d.fill(std::mem::MaybeUninit::new(0.0));
                }
                let (dq, dk, dv): (*mut f32, *mut f32, *mut f32) = (
                    dq.as_mut_ptr().cast(),
                    dk.as_mut_ptr().cast(),
                    dv.as_mut_ptr().cast(),
                );
                let mut ds = Vec::new();
                let (mut factors, mut dropped) = (Vec::new(), Vec::new());
                for band in bands {
                    let (rows, keys) = (band.rows.clone(), band.keys.clone());
                    let (m, n) = (rows.len(), keys.len());
                    // SAFETY: every destination is this task's own chunk (or scratch), at
                    // the band's rows or keys; the operands are heads of live tensors and
                    // the band's part of this task's weights.
                    unsafe {
                        if n == 0 {
                            // No key: no weight, so no gradient for these queries.
                            std::slice::from_raw_parts_mut(dq.add(rows.start * hd), m * hd)
                                .fill(0.0);
                            continue;
                        }
                        let go = go.from(rows.start, 0);
                        let p = &w[at..at + m * n];
                        at += m * n;
                        // With dropout the values were mixed by p ⊙ factors.
                        if let Some(d) = dropout {
                            d.band(&mut factors, task, (sq, sk), rows.start, keys.start, (m, n));
                            dropped.clear();
                            dropped.extend(p.iter().zip(&factors).map(|(p, f)| p * f));
                        }
                        // dv += (p ⊙ factors)ᵀ · g
                        let pt = Operand {
                            ptr: if dropout.is_some() {
                                dropped.as_ptr()
                            } else {
                                p.as_ptr()
                            },
                            rows: 1,
                            cols: n as isize,
                        };
                        let dv = dv.add(keys.start * hd);
                        product_strided(dv, hd as isize, n, hd, m, pt, go, true, false);
                        // dp = g · vᵀ
                        ds.clear();
                        ds.resize(m * n, 0f32);
                        let vt = vh.transposed(b, h).from(0, keys.start);
                        product_strided(
                            ds.as_mut_ptr(),
                            n as isize,
                            m,
                            n,
                            hd,
                            go,
                            vt,
                            false,
                            false,
                        );
                        // Through the dropout: dp ⊙ factors.
                        if dropout.is_some() {
                            for (d, f) in ds.iter_mut().zip(&factors) {
                                *d *= f;
                            }
                        }
                        // ds = scale · p ⊙ (dp − Σ dp ⊙ p)
                        for (d, p) in ds.chunks_mut(n).zip(p.chunks(n)) {
                            let dot: f32 = d.iter().zip(p).map(|(d, p)| d * p).sum();
                            for (d, &p) in d.iter_mut().zip(p) {
                                *d = scale * p * (*d - dot);
                            }
                        }
                        let dsm = Operand {
                            ptr: ds.as_ptr(),
                            rows: n as isize,
                            cols: 1,
                        };
                        let dst = Operand {
                            ptr: ds.as_ptr(),
                            rows: 1,
                            cols: n as isize,
                        };
                        // dq = ds · k, dk += dsᵀ · q
                        let k = kh.matrix(b, h).from(keys.start, 0);
                        let dq = dq.add(rows.start * hd);
                        product_strided(dq, hd as isize, m, hd, n, dsm, k, false, false);
                        let q = qh.matrix(b, h).from(rows.start, 0);
                        let dk = dk.add(keys.start * hd);
                        product_strided(dk, hd as isize, n, hd, m, dst, q, true, false);
                    }
                }
            });
        // SAFETY: every chunk of the three was written by its task.
        unsafe {
            dq.set_len(n * sq * hd);
            dk.set_len(n * sk * hd);
            dv.set_len(n * sk * hd);
        }
        let shaped = |v: Vec<f32>, s: usize| tensor(v, Shape::new([batch, heads, s, hd]));
        for (parent, part) in
            ops.parents
                .iter()
                .zip([shaped(dq, sq), shaped(dk, sk), shaped(dv, sk)])
        {
            if let Some(parent) = parent {
                grads.register::<Flex>(parent.id, part);
            }
        }
    }
}

/// Softmax attention of `q` over `k` and `v` (the weights a softmax over `q · kᵀ ·
/// scale`), with the heads joined: the products, the softmax and their backward pass over the
/// heads in parallel, reading the heads where they are and writing the output in the
/// `[batch, queries, heads · dim]` layout the output projection reads. `blocked` keys
/// get no weight, and neither do `padded` ones, but from the query at their own
/// position. Only for tensors [`fused`] accepts, with every size positive.
///
/// # Shapes
/// `q`: `[batch, heads, queries, dim]`; `k`, `v`: `[batch, heads, keys, dim]`; out
/// `[batch, queries, heads · dim]`; `blocked`: `[queries, keys]`; `padded`: `[batch,
/// keys]`.
///
/// With `dropout`, the weights are dropped out ([`WeightDropout`]) before they mix the
/// values; the backward pass goes through the same choices.
pub fn attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    scale: f32,
    blocked: Option<Blocked>,
    padded: Option<&[bool]>,
    dropout: Option<WeightDropout>,
) -> Tensor<3> {
    let ([b, h, sq, hd], [_, _, sk, _]) = (q.dims(), k.dims());
    assert_eq!(k.dims(), [b, h, sk, hd], "keys match the queries");
    assert_eq!(v.dims(), [b, h, sk, hd], "values match the keys");
    assert!(b * h * sq * sk * hd > 0, "every size positive");
    if let Some(p) = &blocked {
        assert_eq!(p.len(), sq * sk, "the pattern covers queries × keys");
    }
    if let Some(p) = padded {
        assert_eq!(p.len(), b * sk, "the padding covers sequences × keys");
    }
    let mask = Mask {
        pattern: blocked.as_deref(),
        padded,
        sk,
    };
    let bands = mask.bands(b, sq, QUERY_BLOCK);
    match route(&q).expect("attention runs only where `fused` holds") {
        Route::Plain => {
            let (q, k, v) = (plain(q), plain(k), plain(v));
            let (_, out) = attention_forward(&q, &k, &v, scale, mask, &bands, dropout);
            Tensor::from_primitive::<Flex>(out)
        }
        Route::Autodiff => {
            let (q, k, v) = (ad(q), ad(k), ad(v));
            let (weights, out) = attention_forward(
                q.primitive(),
                k.primitive(),
                v.primitive(),
                scale,
                mask,
                &bands,
                dropout,
            );
            let state = AttentionState {
                q: q.primitive().clone(),
                k: k.primitive().clone(),
                v: v.primitive().clone(),
                weights,
            };
            let op = AttentionOp {
                scale,
                bands,
                dropout,
            };
            record(op, [q.node(), k.node(), v.node()], state, out)
        }
    }
}

/// `layer.forward(x)`, through [`linear`] where it applies.
pub fn dense<const D: usize>(layer: &burn::nn::Linear, x: Tensor<D>) -> Tensor<D> {
    let weight = layer.weight.val();
    let bias = layer.bias.as_ref().map(|b| b.val());
    if fused_with(&x, &weight, bias.as_slice()) {
        linear(x, weight, bias)
    } else {
        layer.forward(x)
    }
}

/// `layer.forward(x)` of burn's `RmsNorm`, through [`rms_norm`] where it applies.
pub fn rms<const D: usize>(layer: &burn::nn::RmsNorm, x: Tensor<D>) -> Tensor<D> {
    let gamma = layer.gamma.val();
    if fused_with(&x, &gamma, &[]) && x.dims().last() == gamma.dims().first() {
        rms_norm(x, gamma, layer.epsilon)
    } else {
        layer.forward(x)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::activation::softmax;
    use burn::tensor::{Bool, Device, Distribution, Tensor, TensorData};

    use super::*;

    fn device() -> Device {
        Device::flex().autodiff()
    }

    fn random<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
        device.seed(seed);
        Tensor::random(shape, Distribution::Normal(0.0, 1.5), device)
    }

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{i}]: fused {x}, burn {y}"
            );
        }
    }

    /// [`assert_close`] of each named part of the kernel's results and burn's.
    fn assert_parts_close(what: &[&str], fused: &[Vec<f32>], burn: &[Vec<f32>], tol: f32) {
        assert_eq!((what.len(), fused.len()), (burn.len(), burn.len()), "parts");
        for ((what, a), b) in what.iter().zip(fused).zip(burn) {
            assert_close(a, b, tol, what);
        }
    }

    /// Values and input gradients (of `sum(f(x) · r)`) of `f` at `x`.
    fn value_and_grad<const D: usize>(
        x: &Tensor<D>,
        r: &Tensor<D>,
        f: impl Fn(Tensor<D>) -> Tensor<D>,
    ) -> (Vec<f32>, Vec<f32>) {
        let x = x.clone().detach().require_grad();
        let y = f(x.clone());
        let grads = (y.clone() * r.clone()).sum().backward();
        let g = x.grad(&grads).expect("x has a gradient");
        (vals(y), vals(g))
    }

    /// Compares element-wise kernel `f` with burn's `reference` in value and gradient on
    /// a `[3, 5, 1000]` input drawn with `seeds` (input, then the gradient's weights),
    /// within `tol`; the kernel's values.
    fn pointwise_matches_burn(
        f: impl Fn(Tensor<3>) -> Tensor<3>,
        reference: impl Fn(Tensor<3>) -> Tensor<3>,
        seeds: (u64, u64),
        tol: f32,
    ) -> (Tensor<3>, Vec<f32>) {
        let d = device();
        let x = random([3, 5, 1000], seeds.0, &d);
        let r = random([3, 5, 1000], seeds.1, &d);
        let (y, g) = value_and_grad(&x, &r, f);
        let (y0, g0) = value_and_grad(&x, &r, reference);
        assert_close(&y, &y0, tol, "value");
        assert_close(&g, &g0, tol, "gradient");
        (x, y)
    }

    #[test]
    fn the_kernels_run_on_flex_in_f32_only() {
        let d = device();
        assert!(fused(&Tensor::<1>::zeros([4], &d)));
        assert!(fused(&Tensor::<1>::zeros([4], &Device::flex())));
        let wide = Tensor::<1>::zeros([4], &d).cast(DType::F64);
        assert!(!fused(&wide));
    }

    #[test]
    fn gelu_matches_burn_in_value_and_gradient() {
        let (x, y) = pointwise_matches_burn(gelu, burn::tensor::activation::gelu, (1, 2), 2e-6);
        // Without autodiff too.
        let plain = Tensor::<3>::from_data(x.clone().into_data(), &Device::flex());
        assert_eq!(vals(gelu(plain)), y);
    }

    #[test]
    fn elu_plus_one_matches_burn_in_value_and_gradient() {
        pointwise_matches_burn(
            elu_plus_one,
            |x| burn::tensor::activation::elu(x, 1.0) + 1.0,
            (11, 12),
            1e-6,
        );
    }

    #[test]
    fn tanh_matches_burn_in_value_and_gradient() {
        pointwise_matches_burn(tanh, burn::tensor::activation::tanh, (8, 10), 1e-6);
    }

    #[test]
    fn silu_matches_burn_in_value_and_gradient() {
        let (x, y) = pointwise_matches_burn(silu, burn::tensor::activation::silu, (3, 4), 2e-6);
        let plain = Tensor::<3>::from_data(x.clone().into_data(), &Device::flex());
        assert_eq!(vals(silu(plain)), y);
        // Far out on both sides: σ saturates to 0 and 1 without a NaN.
        let far = Tensor::<1>::from_data(
            TensorData::new(vec![-200.0f32, -90.0, 90.0, 200.0], [4]),
            &device(),
        );
        let (y, g) = value_and_grad(&far, &far.ones_like(), silu);
        assert!(y.iter().chain(&g).all(|v| v.is_finite()), "{y:?} {g:?}");
        assert_close(&y, &[0.0, 0.0, 90.0, 200.0], 1e-6, "far value");
        assert_close(&g, &[0.0, 0.0, 1.0, 1.0], 1e-6, "far gradient");
    }

    /// The gated unit against burn's composition `silu(gate) * up`: the value and the
    /// gradients of both inputs, with and without autodiff.
    #[test]
    fn swiglu_matches_burn_in_value_and_both_gradients() {
        let d = device();
        let gate = random([4, 7, 300], 5, &d);
        let up = random([4, 7, 300], 6, &d);
        let r = random([4, 7, 300], 7, &d);
        let run = |f: &dyn Fn(Tensor<3>, Tensor<3>) -> Tensor<3>| {
            let (g, u) = (
                gate.clone().detach().require_grad(),
                up.clone().detach().require_grad(),
            );
            let y = f(g.clone(), u.clone());
            let grads = (y.clone() * r.clone()).sum().backward();
            let dg = vals(g.grad(&grads).expect("gate has a gradient"));
            let du = vals(u.grad(&grads).expect("up has a gradient"));
            (vals(y), dg, du)
        };
        let (y, dg, du) = run(&|g, u| swiglu(g, u));
        let (y0, dg0, du0) = run(&|g, u| burn::tensor::activation::silu(g) * u);
        assert_close(&y, &y0, 2e-6, "value");
        assert_close(&dg, &dg0, 2e-6, "gate gradient");
        assert_close(&du, &du0, 2e-6, "up gradient");
        // Only one input tracked: the other gets no gradient, the tracked one the same.
        let u = up.clone().detach().require_grad();
        let one = swiglu(gate.clone().detach(), u.clone());
        let grads = (one * r.clone()).sum().backward();
        assert_eq!(vals(u.grad(&grads).expect("up has a gradient")), du);
        let flex = |t: &Tensor<3>| Tensor::<3>::from_data(t.clone().into_data(), &Device::flex());
        assert_eq!(vals(swiglu(flex(&gate), flex(&up))), y);
    }

    #[test]
    fn exp_is_within_three_ulps_of_the_standard_library() {
        let mut worst = 0u32;
        for i in -873_000..=880_000 {
            let x = i as f32 * 1e-4; // [-87.3, 88]
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(a.to_bits().abs_diff(b.to_bits()));
        }
        assert!(worst <= 3, "worst difference {worst} ulps");
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn erf_is_within_a_millionth_of_libm_everywhere() {
        let mut worst = 0.0f32;
        for i in -1_000_000..=1_000_000 {
            let x = i as f32 * 1e-5; // [-10, 10]
            worst = worst.max((erf(x) - burn::backend::flex::ops::unary::erf_f32(x)).abs());
        }
        for x in [f32::MAX, f32::MIN, 1e-30, -1e-30, 0.0, -0.0] {
            worst = worst.max((erf(x) - burn::backend::flex::ops::unary::erf_f32(x)).abs());
        }
        assert!(worst < 1e-6, "worst difference {worst}");
        assert!(erf(f32::INFINITY) == 1.0 && erf(f32::NEG_INFINITY) == -1.0);
    }

    /// burn's composition of the attention kernel's weights.
    fn composed(scores: Tensor<4>, scale: f32, pattern: Option<&[bool]>) -> Tensor<4> {
        let [_, _, q, k] = scores.dims();
        let device = scores.device();
        let scores = scores * scale;
        let scores = match pattern {
            Some(p) => {
                let mask =
                    Tensor::<2, Bool>::from_data(TensorData::new(p.to_vec(), [q, k]), &device);
                scores.mask_fill(mask.unsqueeze_dims::<4>(&[0, 1]), f32::NEG_INFINITY)
            }
            None => scores,
        };
        softmax(scores, 3)
    }

    #[test]
    fn a_row_with_every_key_blocked_gets_no_weight_instead_of_nan() {
        let mut row = [1.0f32, 1.0];
        softmax_where(&mut row, 1.0, |_| false);
        assert_eq!(row, [0.0, 0.0]);
        let mut row = [1.0f32, 1.0];
        softmax_where(&mut row, 1.0, |j| j == 1);
        assert_eq!(row, [0.0, 1.0]);
    }

    /// Values and the gradients of `x`, `gamma` and `beta` of layer norm.
    fn norm_grads(
        x: &Tensor<3>,
        gamma: &Tensor<1>,
        beta: &Tensor<1>,
        r: &Tensor<3>,
        fused_kernel: bool,
    ) -> [Vec<f32>; 4] {
        let x = x.clone().detach().require_grad();
        let gamma = gamma.clone().detach().require_grad();
        let beta = beta.clone().detach().require_grad();
        let y = if fused_kernel {
            layer_norm(x.clone(), gamma.clone(), Some(beta.clone()), 1e-5)
        } else {
            burn::tensor::module::layer_norm(x.clone(), gamma.clone(), Some(beta.clone()), 1e-5)
        };
        let grads = (y.clone() * r.clone()).sum().backward();
        [
            vals(y),
            vals(x.grad(&grads).expect("dx")),
            vals(gamma.grad(&grads).expect("dgamma")),
            vals(beta.grad(&grads).expect("dbeta")),
        ]
    }

    #[test]
    fn layer_norm_matches_burn_in_value_and_every_gradient() {
        let d = device();
        // 3 × 61 rows: more than two blocks of rows, the last one short.
        let x = random([3, 61, 33], 5, &d) + 0.7;
        let r = random([3, 61, 33], 6, &d);
        let gamma = random([33], 7, &d);
        let beta = random([33], 8, &d);
        let fused_parts = norm_grads(&x, &gamma, &beta, &r, true);
        let burn_parts = norm_grads(&x, &gamma, &beta, &r, false);
        assert_parts_close(
            &["value", "dx", "dgamma", "dbeta"],
            &fused_parts,
            &burn_parts,
            2e-4,
        );
    }

    /// RMS norm against burn's `RmsNorm`: the value and the gradients of `x` and `gamma`,
    /// over more than two blocks of rows, with and without autodiff.
    #[test]
    fn rms_norm_matches_burn_in_value_and_every_gradient() {
        let d = device();
        let x = random([3, 61, 33], 11, &d) + 0.7;
        let r = random([3, 61, 33], 12, &d);
        let mut layer = burn::nn::RmsNormConfig::new(33).with_epsilon(1e-6).init(&d);
        layer.gamma = burn::module::Param::from_tensor(random([33], 13, &d));
        let run = |fused_kernel: bool| {
            let x = x.clone().detach().require_grad();
            let layer = layer.clone();
            let y = match fused_kernel {
                true => rms(&layer, x.clone()),
                false => layer.forward(x.clone()),
            };
            let grads = (y.clone() * r.clone()).sum().backward();
            [
                vals(y),
                vals(x.grad(&grads).expect("dx")),
                vals(layer.gamma.grad(&grads).expect("dgamma")),
            ]
        };
        let (fused_parts, burn_parts) = (run(true), run(false));
        assert_parts_close(&["value", "dx", "dgamma"], &fused_parts, &burn_parts, 2e-4);
        let flex = Device::flex();
        let plain = Tensor::<3>::from_data(x.into_data(), &flex);
        let gamma = Tensor::<1>::from_data(layer.gamma.val().into_data(), &flex);
        assert_eq!(vals(rms_norm(plain, gamma, 1e-6)), fused_parts[0]);
    }

    #[test]
    fn layer_norm_without_beta_has_gradients_for_x_and_gamma() {
        let d = device();
        let x = random([4, 10], 9, &d).require_grad();
        let gamma = random([10], 10, &d).require_grad();
        let y = layer_norm(x.clone(), gamma.clone(), None, 1e-5);
        let y0 = burn::tensor::module::layer_norm(x.clone(), gamma.clone(), None, 1e-5);
        assert_close(&vals(y.clone()), &vals(y0.clone()), 1e-5, "value");
        let g = y.sum().backward();
        let g0 = y0.sum().backward();
        assert_close(
            &vals(gamma.grad(&g).unwrap()),
            &vals(gamma.grad(&g0).unwrap()),
            1e-4,
            "dgamma",
        );
    }

    /// Values and the gradients of `x`, `weight` and `bias` of a linear layer.
    fn linear_grads(
        x: &Tensor<3>,
        w: &Tensor<2>,
        b: &Tensor<1>,
        r: &Tensor<3>,
        fused_kernel: bool,
    ) -> [Vec<f32>; 4] {
        let x = x.clone().detach().require_grad();
        let w = w.clone().detach().require_grad();
        let b = b.clone().detach().require_grad();
        let y = if fused_kernel {
            linear(x.clone(), w.clone(), Some(b.clone()))
        } else {
            burn::tensor::module::linear(x.clone(), w.clone(), Some(b.clone()))
        };
        let grads = (y.clone() * r.clone()).sum().backward();
        [
            vals(y),
            vals(x.grad(&grads).expect("dx")),
            vals(w.grad(&grads).expect("dweight")),
            vals(b.grad(&grads).expect("dbias")),
        ]
    }

    #[test]
    fn linear_matches_burn_in_value_and_every_gradient() {
        let d = device();
        // Large enough to split among threads, with sizes that fit no tile.
        for (rows, d_in, d_out) in [(3 * 67, 45, 29), (4 * 129, 130, 257)] {
            let x = random([4, rows / 4 + 1, d_in], 15, &d);
            let r = random([4, rows / 4 + 1, d_out], 16, &d);
            let w = random([d_in, d_out], 17, &d);
            let b = random([d_out], 18, &d);
            let fused_parts = linear_grads(&x, &w, &b, &r, true);
            let burn_parts = linear_grads(&x, &w, &b, &r, false);
            assert_parts_close(
                &["value", "dx", "dweight", "dbias"],
                &fused_parts,
                &burn_parts,
                1e-4,
            );
        }
        // Without a bias, and without autodiff.
        let x = random([2, 5, 7], 19, &Device::flex());
        let w = random([7, 3], 20, &Device::flex());
        let y = linear(x.clone(), w.clone(), None);
        assert_close(&vals(y), &vals(x.matmul(w.unsqueeze_dim(0))), 1e-5, "plain");
    }

    /// Output and the gradients of `q`, `k`, `v` of attention, the heads split from
    /// `[batch, seq, heads · dim]` projections as the model does (strided views).
    fn attention_grads(
        x: [&Tensor<3>; 3],
        r: &Tensor<3>,
        heads: usize,
        pattern: Option<&[bool]>,
        padded: Option<&[bool]>,
        dropout: Option<WeightDropout>,
        fused_kernel: bool,
    ) -> [Vec<f32>; 4] {
        let [b, s, width] = x[0].dims();
        let leaves: Vec<Tensor<3>> = x
            .iter()
            .map(|t| (*t).clone().detach().require_grad())
            .collect();
        let split = |t: Tensor<3>| t.reshape([b, s, heads, width / heads]).swap_dims(1, 2);
        let (q, k, v) = (
            split(leaves[0].clone()),
            split(leaves[1].clone()),
            split(leaves[2].clone()),
        );
        let scale = 0.4;
        let y = if fused_kernel {
            let blocked = pattern.map(|p| Blocked::from(p.to_vec()));
            attention(q, k, v, scale, blocked, padded, dropout)
        } else {
            let scores = q.matmul(k.swap_dims(2, 3));
            // The model's slower path: a padded key is skipped by every query but its own.
            let scores = match padded {
                Some(p) => {
                    let hidden: Vec<bool> = (0..b * s * s)
                        .map(|n| p[n / (s * s) * s + n % s] && n / s % s != n % s)
                        .collect();
                    let hidden = Tensor::<3, Bool>::from_data(
                        TensorData::new(hidden, [b, s, s]),
                        &x[0].device(),
                    );
                    scores.mask_fill(hidden.unsqueeze_dim::<4>(1), f32::NEG_INFINITY)
                }
                None => scores,
            };
            // The kernel's dropout choices, as a tensor of factors.
            let weights = match dropout {
                Some(d) => {
                    let factors: Vec<f32> = (0..(b * heads * s * s) as u64)
                        .map(|at| d.factor(at))
                        .collect();
                    let factors = Tensor::<4>::from_data(
                        TensorData::new(factors, [b, heads, s, s]),
                        &x[0].device(),
                    );
                    composed(scores, scale, pattern) * factors
                }
                None => composed(scores, scale, pattern),
            };
            weights.matmul(v).swap_dims(1, 2).reshape([b, s, width])
        };
        let grads = (y.clone() * r.clone()).sum().backward();
        let g = |t: &Tensor<3>| vals(t.grad(&grads).expect("a gradient"));
        [vals(y), g(&leaves[0]), g(&leaves[1]), g(&leaves[2])]
    }

    /// Over several blocks of queries (the last one short), with every kind of pattern:
    /// none, causal, a causal sliding window, a window both ways, and holes inside the
    /// keys a block sees.
    #[test]
    fn attention_matches_burn_in_value_and_every_gradient() {
        let d = device();
        let (b, s, heads, width) = (2, 2 * QUERY_BLOCK + 11, 4, 36);
        let x: Vec<Tensor<3>> = (0..3).map(|i| random([b, s, width], 30 + i, &d)).collect();
        let r = random([b, s, width], 33, &d);
        let pattern = |f: &dyn Fn(usize, usize) -> bool| {
            Some((0..s * s).map(|n| f(n / s, n % s)).collect::<Vec<bool>>())
        };
        // The first sequence padded after 40 keys, the second at a few places inside.
        let padded: Vec<bool> = (0..b * s)
            .map(|n| if n < s { n >= 40 } else { n % 7 == 2 })
            .collect();
        let patterns = [
            None,
            pattern(&|i, j| j > i),
            pattern(&|i, j| j > i || i - j >= 9),
            pattern(&|i, j| i.abs_diff(j) > 5),
            pattern(&|i, j| (j > i || (i + j) % 3 == 0) && i != j),
        ];
        for (pattern, padded) in patterns
            .iter()
            .flat_map(|p| [(p, None), (p, Some(padded.as_slice()))])
        {
            let inputs = [&x[0], &x[1], &x[2]];
            let p = pattern.as_deref();
            let fused_parts = attention_grads(inputs, &r, heads, p, padded, None, true);
            let burn_parts = attention_grads(inputs, &r, heads, p, padded, None, false);
            assert_parts_close(
                &["value", "dq", "dk", "dv"],
                &fused_parts,
                &burn_parts,
                1e-4,
            );
        }
    }

    /// With dropout on the weights: the kernel against burn's composition multiplied by
    /// the same choices, in value and every gradient, with and without a causal window
    /// and padding; and the choices themselves drop about `rate` of the weights, scale
    /// the rest, and change with the seed.
    #[test]
    fn attention_with_dropout_matches_burn_given_the_same_choices() {
        let d = device();
        let (b, s, heads, width) = (2, 2 * QUERY_BLOCK + 5, 3, 24);
        let x: Vec<Tensor<3>> = (0..3).map(|i| random([b, s, width], 40 + i, &d)).collect();
        let r = random([b, s, width], 43, &d);
        let causal_window: Vec<bool> = (0..s * s)
            .map(|n| (n % s > n / s) || n / s - n % s >= 20)
            .collect();
        let padded: Vec<bool> = (0..b * s).map(|n| n >= s + 50).collect();
        let dropout = WeightDropout::new(0.3, 0x5eed);
        for (p, padded) in [
            (None, None),
            (Some(causal_window.as_slice()), None),
            (Some(causal_window.as_slice()), Some(padded.as_slice())),
        ] {
            let inputs = [&x[0], &x[1], &x[2]];
            let fused_parts = attention_grads(inputs, &r, heads, p, padded, Some(dropout), true);
            let burn_parts = attention_grads(inputs, &r, heads, p, padded, Some(dropout), false);
            assert_parts_close(
                &["value", "dq", "dk", "dv"],
                &fused_parts,
                &burn_parts,
                1e-4,
            );
            // Dropout changes the result.
            let plain = attention_grads(inputs, &r, heads, p, padded, None, true);
            assert!(plain[0] != fused_parts[0]);
        }
        let n = 200_000u64;
        let kept: Vec<f32> = (0..n).map(|at| dropout.factor(at)).collect();
        let share = kept.iter().filter(|f| **f > 0.0).count() as f64 / n as f64;
        assert!((share - 0.7).abs() < 0.005, "kept {share}");
        assert!(kept
            .iter()
            .all(|f| *f == 0.0 || (*f - 1.0 / 0.7).abs() < 1e-6));
        let other = WeightDropout::new(0.3, 0x5eee);
        let same = (0..n).filter(|&at| (other.factor(at) > 0.0) == (kept[at as usize] > 0.0));
        assert!(
            (same.count() as f64 / n as f64) < 0.62,
            "another seed, other choices"
        );
        assert!((0..1000).all(|at| WeightDropout::new(1.0, 7).factor(at) == 0.0));
        assert!((0..1000).all(|at| WeightDropout::new(0.0, 7).factor(at) == 1.0));
    }

    /// burn's composition of what `cross_entropy` fuses.
    fn composed_cross_entropy(logits: Tensor<2>, targets: &[usize], weights: &[f32]) -> Tensor<1> {
        let rows = targets.len();
        let device = logits.device();
        let picks: Vec<i64> = targets.iter().map(|&t| t as i64).collect();
        let picks =
            Tensor::<2, burn::tensor::Int>::from_data(TensorData::new(picks, [rows, 1]), &device);
        let w = Tensor::<2>::from_data(TensorData::new(weights.to_vec(), [rows, 1]), &device);
        (burn::tensor::activation::log_softmax(logits, 1).gather(1, picks) * w)
            .sum()
            .neg()
    }

    /// Rows that do not split evenly into tasks, some weighted out, logits far from zero.
    #[test]
    fn cross_entropy_matches_burn_in_value_and_gradient() {
        let d = device();
        let (rows, options) = (37, 300);
        let x = random([rows, options], 5, &d) * 20.0;
        let targets: Vec<usize> = (0..rows).map(|r| (r * 97) % options).collect();
        let weights: Vec<f32> = (0..rows)
            .map(|r| if r % 5 == 3 { 0.0 } else { 0.03 })
            .collect();
        let run = |fused_kernel: bool| {
            let x = x.clone().detach().require_grad();
            let loss = if fused_kernel {
                cross_entropy(x.clone(), &targets, &weights)
            } else {
                composed_cross_entropy(x.clone(), &targets, &weights)
            };
            let grads = (loss.clone() * 1.7).sum().backward();
            (vals(loss), vals(x.grad(&grads).expect("a gradient")))
        };
        let ((y, g), (y0, g0)) = (run(true), run(false));
        assert_close(&y, &y0, 1e-5, "loss");
        assert_close(&g, &g0, 1e-5, "gradient");
        // Rows weighted out pass no gradient.
        assert!(g[3 * options..4 * options].iter().all(|v| *v == 0.0));
        // Without autodiff: the same value.
        let plain = cross_entropy(x.clone().inner(), &targets, &weights);
        assert_eq!(vals(plain), y);
    }

    #[test]
    fn bands_hold_every_key_a_query_may_see_and_no_more() {
        let (sq, sk) = (7, 9);
        let p = |f: &dyn Fn(usize, usize) -> bool| {
            Blocked::from(
                (0..sq * sk)
                    .map(|n| f(n / sk, n % sk))
                    .collect::<Vec<bool>>(),
            )
        };
        let band = |rows, keys| Band { rows, keys };
        let of = |pattern: Option<&Blocked>, padded: Option<&[bool]>| {
            let mask = Mask {
                pattern: pattern.map(|p| &p[..]),
                padded,
                sk,
            };
            mask.bands(2, sq, 3)
        };
        assert_eq!(of(None, None), [[band(0..7, 0..9)]]);
        assert_eq!(
            of(Some(&p(&|i, j| j > i)), None),
            [[band(0..3, 0..3), band(3..6, 0..6), band(6..7, 0..7)]]
        );
        // A window of two: each block sees from its first query's last key on.
        assert_eq!(
            of(Some(&p(&|i, j| j > i || i - j >= 2)), None),
            [[band(0..3, 0..3), band(3..6, 2..6), band(6..7, 5..7)]]
        );
        // Queries that see nothing: a block of them has no keys; others do not widen.
        assert_eq!(
            of(Some(&p(&|i, j| i < 3 || j != 4)), None),
            [[band(0..3, 0..0), band(3..6, 4..5), band(6..7, 4..5)]]
        );
        // Padding, per sequence: the first has its last five keys padded (a query there
        // still sees itself), the second none.
        let padded: Vec<bool> = (0..2 * sk).map(|n| n < sk && n >= 4).collect();
        assert_eq!(
            of(None, Some(&padded)),
            [
                vec![band(0..3, 0..4), band(3..6, 0..6), band(6..7, 0..7)],
                vec![band(0..3, 0..9), band(3..6, 0..9), band(6..7, 0..9)]
            ]
        );
        // Padding alone takes a shortcut: the same bands as asking every key, whatever
        // is padded (here every pattern of padding over 9 keys, for 7 queries).
        for bits in 0..1u32 << sk {
            let padded: Vec<bool> = (0..sk).map(|j| bits >> j & 1 == 1).collect();
            let mask = Mask {
                pattern: None,
                padded: Some(&padded),
                sk,
            };
            let asked = bands(Some(&|i, j| mask.blocked(0, i, j)), sq, sk, 3);
            let same = |a: &Band, b: &Band| {
                a.rows == b.rows && (a.keys == b.keys || a.keys.is_empty() && b.keys.is_empty())
            };
            let short = mask.bands(1, sq, 3).remove(0);
            assert!(
                short.iter().zip(&asked).all(|(a, b)| same(a, b)) && short.len() == asked.len(),
                "{padded:?}: {short:?} against {asked:?}"
            );
        }
    }

    /// Queries that may see no key get no weight and pass no gradient, rather than NaN.
    #[test]
    fn attention_of_queries_that_see_no_key_is_zero() {
        let d = device();
        let (b, s, heads, width) = (1, QUERY_BLOCK + 5, 2, 8);
        let x: Vec<Tensor<3>> = (0..3).map(|i| random([b, s, width], 40 + i, &d)).collect();
        let r = random([b, s, width], 43, &d);
        // The first block sees nothing, the rest is causal.
        let pattern: Vec<bool> = (0..s * s)
            .map(|n| n / s < QUERY_BLOCK || n % s > n / s)
            .collect();
        let [y, dq, dk, dv] = attention_grads(
            [&x[0], &x[1], &x[2]],
            &r,
            heads,
            Some(&pattern),
            None,
            None,
            true,
        );
        for v in [&y, &dq, &dk, &dv] {
            assert!(v.iter().all(|v| v.is_finite()));
        }
        assert!(y[..QUERY_BLOCK * width].iter().all(|v| *v == 0.0));
        assert!(y[QUERY_BLOCK * width..].iter().any(|v| *v != 0.0));
        assert!(dq[..QUERY_BLOCK * width].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn results_do_not_depend_on_the_number_of_threads() {
        let d = device();
        let x = random([5, 70, 48], 11, &d);
        let r = random([5, 70, 48], 12, &d);
        let gamma = random([48], 13, &d);
        let beta = random([48], 14, &d);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut parts = norm_grads(&x, &gamma, &beta, &r, true).to_vec();
                // RMS norm sums its gamma gradient over the same blocks of rows.
                let xr = x.clone().detach().require_grad();
                let gr = gamma.clone().detach().require_grad();
                let grads = (rms_norm(xr.clone(), gr.clone(), 1e-6) * r.clone())
                    .sum()
                    .backward();
                parts.push(vals(xr.grad(&grads).expect("dx")));
                parts.push(vals(gr.grad(&grads).expect("dgamma")));
                let (y, g) = value_and_grad(&x, &r, |x| swiglu(x, r.clone()));
                parts.extend([y, g]);
                let w = random([48, 300], 21, &d);
                let b = random([300], 22, &d);
                let rl = random([5, 70, 300], 23, &d);
                parts.extend(linear_grads(&x, &w, &b, &rl, true));
                let inputs = [&x, &r, &(x.clone() * 0.5)];
                parts.extend(attention_grads(inputs, &r, 4, None, None, None, true));
                let causal: Vec<bool> = (0..70 * 70).map(|n| n % 70 > n / 70).collect();
                parts.extend(attention_grads(
                    inputs,
                    &r,
                    4,
                    Some(&causal),
                    None,
                    None,
                    true,
                ));
                let padded: Vec<bool> = (0..5 * 70).map(|n| n % 70 >= 50 + n / 70).collect();
                parts.extend(attention_grads(
                    inputs,
                    &r,
                    4,
                    None,
                    Some(&padded),
                    None,
                    true,
                ));
                let dropout = Some(WeightDropout::new(0.25, 3));
                parts.extend(attention_grads(
                    inputs,
                    &r,
                    4,
                    Some(&causal),
                    None,
                    dropout,
                    true,
                ));
                let logits = x.clone().reshape([350, 48]).detach().require_grad();
                let targets: Vec<usize> = (0..350).map(|r| r % 48).collect();
                let loss = cross_entropy(logits.clone(), &targets, &[0.01; 350]);
                let grads = loss.clone().sum().backward();
                parts.extend([vals(loss), vals(logits.grad(&grads).expect("a gradient"))]);
                parts
            })
        };
        assert_eq!(run(1), run(3));
    }
}
