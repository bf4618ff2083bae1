//! Fused, multi-threaded CPU kernels for the `flex` backend, with their backward passes.
//!
//! burn's `flex` backend runs element-wise operations on one thread, and under autodiff
//! it composes GELU's backward, softmax and layer norm from separate element-wise passes
//! (layer norm: nine forward, more backward), each a full read and write of its tensor.
//! On a training step of the reference model those passes are most of the time spent off
//! the matrix products. The kernels here do each of these operations in one pass forward
//! and one backward, over rows split among rayon's threads:
//!
//! - [`gelu`]: `x · Φ(x)`, the same formula and the same `erf` (libm's) as flex, so the
//!   numbers do not change;
//! - [`masked_softmax`]: softmax over the last axis of `scores · scale` with a fixed
//!   pattern of blocked keys (causal, sliding window), the attention weights;
//! - [`layer_norm`]: `(x − mean) / sqrt(var + eps) · gamma + beta` over the last axis.
//!
//! Each is used only where a tensor lives on flex in `f32` ([`fused`]); on any other
//! backend or dtype the caller's composition of burn operations runs instead, so wgpu and
//! CUDA are unaffected. The results do not depend on the number of threads: rows are
//! independent, and the parameter gradients of layer norm are summed over fixed blocks of
//! rows, then over the blocks in order. `tests.rs` checks values and gradients against
//! burn's own composition.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::ops::unary::erf_f32;
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

#[derive(Clone, Copy, PartialEq)]
enum Route {
    Plain,
    Autodiff,
}

fn route<const D: usize>(t: &Tensor<D>) -> Option<Route> {
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

// ---------------------------------------------------------------------------------------
// GELU

const SQRT_2: f32 = std::f32::consts::SQRT_2;

fn gelu_value(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x / SQRT_2))
}

fn gelu_slope(x: f32) -> f32 {
    let inv_sqrt_2pi: f32 = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
    let cdf = 0.5 * (1.0 + erf_f32(x / SQRT_2));
    let pdf = inv_sqrt_2pi * (-0.5 * x * x).exp();
    cdf + x * pdf
}

fn gelu_forward(x: &FlexTensor) -> FlexTensor {
    let (x, shape) = values(x);
    let out: Vec<f32> = slice(&x)
        .par_iter()
        .with_min_len(ELEMS_PER_TASK)
        .map(|&v| gelu_value(v))
        .collect();
    tensor(out, shape)
}

fn gelu_backward(x: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
    let (x, shape) = values(x);
    let (g, _) = values(grad);
    let out: Vec<f32> = slice(&x)
        .par_iter()
        .zip(slice(&g).par_iter())
        .with_min_len(ELEMS_PER_TASK)
        .map(|(&v, &g)| g * gelu_slope(v))
        .collect();
    tensor(out, shape)
}

#[derive(Debug)]
struct GeluOp;

impl Backward<Flex, 1> for GeluOp {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        if let [Some(parent)] = &ops.parents {
            grads.register::<Flex>(parent.id, gelu_backward(&ops.state, &grad));
        }
    }
}

/// GELU (the exact, `erf` form). Falls back to burn's on other backends.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    match route(&x) {
        None => burn::tensor::activation::gelu(x),
        Some(Route::Plain) => Tensor::from_primitive::<Flex>(gelu_forward(&plain(x))),
        Some(Route::Autodiff) => {
            let x = ad(x);
            let out = gelu_forward(x.primitive());
            let t = match GeluOp
                .prepare::<NoCheckpointing>([x.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(x.primitive().clone(), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            };
            Tensor::from_primitive::<Ad>(t)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Masked softmax

/// Which keys each query may not see: `[queries, keys]`, row-major, `true` for blocked.
pub type Blocked = Arc<[bool]>;

fn softmax_forward(scores: &FlexTensor, scale: f32, blocked: Option<&Blocked>) -> FlexTensor {
    let (s, shape) = values(scores);
    let dims = shape.clone();
    let keys = dims[dims.num_dims() - 1];
    let queries = dims[dims.num_dims() - 2];
    let input = slice(&s);
    let mut out = vec![0f32; input.len()];
    if keys > 0 {
        let rows_per_task = (ELEMS_PER_TASK / keys).max(1);
        out.par_chunks_mut(rows_per_task * keys)
            .zip(input.par_chunks(rows_per_task * keys))
            .enumerate()
            .for_each(|(task, (o, x))| {
                for (r, (o, x)) in o.chunks_mut(keys).zip(x.chunks(keys)).enumerate() {
                    let query = (task * rows_per_task + r) % queries;
                    let mask = blocked.map(|b| &b[query * keys..(query + 1) * keys]);
                    softmax_row(x, o, scale, mask);
                }
            });
    }
    tensor(out, shape)
}

fn softmax_row(x: &[f32], out: &mut [f32], scale: f32, blocked: Option<&[bool]>) {
    let open = |j: usize| blocked.is_none_or(|b| !b[j]);
    let mut max = f32::NEG_INFINITY;
    for (j, &v) in x.iter().enumerate() {
        if open(j) {
            max = max.max(v * scale);
        }
    }
    if max == f32::NEG_INFINITY {
        // Every key is blocked (or -inf): no weight anywhere, rather than NaN.
        out.fill(0.0);
        return;
    }
    let mut sum = 0.0f32;
    for (j, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let e = if open(j) {
            (v * scale - max).exp()
        } else {
            0.0
        };
        *o = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

fn softmax_backward(y: &FlexTensor, grad: &FlexTensor, scale: f32) -> FlexTensor {
    let (y, shape) = values(y);
    let (g, _) = values(grad);
    let keys = shape[shape.num_dims() - 1];
    let (y, g) = (slice(&y), slice(&g));
    let mut out = vec![0f32; y.len()];
    if keys > 0 {
        let rows_per_task = (ELEMS_PER_TASK / keys).max(1) * keys;
        out.par_chunks_mut(rows_per_task)
            .zip(y.par_chunks(rows_per_task).zip(g.par_chunks(rows_per_task)))
            .for_each(|(o, (y, g))| {
                for ((o, y), g) in o.chunks_mut(keys).zip(y.chunks(keys)).zip(g.chunks(keys)) {
                    let dot: f32 = y.iter().zip(g).map(|(y, g)| y * g).sum();
                    for ((o, &y), &g) in o.iter_mut().zip(y).zip(g) {
                        *o = scale * y * (g - dot);
                    }
                }
            });
    }
    tensor(out, shape)
}

#[derive(Debug)]
struct SoftmaxOp {
    scale: f32,
}

impl Backward<Flex, 1> for SoftmaxOp {
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        if let [Some(parent)] = &ops.parents {
            grads.register::<Flex>(parent.id, softmax_backward(&ops.state, &grad, self.scale));
        }
    }
}

/// Softmax over the last axis of `scores · scale`, giving no weight to the keys `blocked`
/// marks (`[queries, keys]` for the last two axes; `None`: every key open). A row with
/// every key blocked is all zeros. Only for tensors [`fused`] accepts.
///
/// # Shapes
/// `scores`: `[batch, heads, queries, keys]`, and the same out.
pub fn masked_softmax(scores: Tensor<4>, scale: f32, blocked: Option<Blocked>) -> Tensor<4> {
    let [_, _, queries, keys] = scores.dims();
    if let Some(b) = &blocked {
        assert_eq!(b.len(), queries * keys, "the pattern covers queries × keys");
    }
    match route(&scores).expect("masked_softmax runs only where `fused` holds") {
        Route::Plain => {
            let out = softmax_forward(&plain(scores), scale, blocked.as_ref());
            Tensor::from_primitive::<Flex>(out)
        }
        Route::Autodiff => {
            let s = ad(scores);
            let out = softmax_forward(s.primitive(), scale, blocked.as_ref());
            let op = SoftmaxOp { scale };
            let t = match op
                .prepare::<NoCheckpointing>([s.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(out.clone(), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            };
            Tensor::from_primitive::<Ad>(t)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Layer norm

/// What the backward pass of layer norm keeps: the normalised input and, per row, the
/// reciprocal standard deviation.
#[derive(Clone, Debug)]
struct NormState {
    normed: FlexTensor,
    rstd: Arc<[f32]>,
    gamma: FlexTensor,
}

/// `(normed, rstd, out)` of a layer norm over rows of `width`.
fn norm_forward(
    x: &FlexTensor,
    gamma: &FlexTensor,
    beta: Option<&FlexTensor>,
    eps: f64,
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
    if width > 0 {
        let rows_per_task = (ELEMS_PER_TASK / width).max(1);
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
                    let mean = x.iter().sum::<f32>() / width as f32;
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
            let (_, _, out) = norm_forward(&plain(x), &plain(gamma), beta.as_ref(), eps);
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
            );
            let state = NormState {
                normed,
                rstd,
                gamma: gamma.primitive().clone(),
            };
            let t = match beta {
                Some(beta) => {
                    match NormOp
                        .prepare::<NoCheckpointing>([x.node(), gamma.node(), beta.node()])
                        .compute_bound()
                        .stateful()
                    {
                        OpsKind::Tracked(prep) => prep.finish(state, out),
                        OpsKind::UnTracked(prep) => prep.finish(out),
                    }
                }
                None => {
                    match NormOp
                        .prepare::<NoCheckpointing>([x.node(), gamma.node()])
                        .compute_bound()
                        .stateful()
                    {
                        OpsKind::Tracked(prep) => prep.finish(state, out),
                        OpsKind::UnTracked(prep) => prep.finish(out),
                    }
                }
            };
            Tensor::from_primitive::<Ad>(t)
        }
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
        let d = device();
        let x = random([3, 5, 1000], 1, &d);
        let r = random([3, 5, 1000], 2, &d);
        let (y, g) = value_and_grad(&x, &r, gelu);
        let (y0, g0) = value_and_grad(&x, &r, burn::tensor::activation::gelu);
        // The same formula and the same erf: equal, bit for bit.
        assert_eq!(y, y0);
        assert_eq!(g, g0);
        // Without autodiff too.
        let plain = Tensor::<3>::from_data(x.clone().into_data(), &Device::flex());
        assert_eq!(vals(gelu(plain)), y0);
    }

    /// burn's composition of what `masked_softmax` fuses.
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
    fn masked_softmax_matches_burn_in_value_and_gradient() {
        let d = device();
        // Rows that do not split evenly into tasks, more keys than queries.
        let (q, k) = (37, 45);
        let x = random([2, 3, q, k], 3, &d);
        let r = random([2, 3, q, k], 4, &d);
        let causal: Vec<bool> = (0..q * k).map(|n| n % k > n / k).collect();
        let window: Vec<bool> = (0..q * k).map(|n| (n / k).abs_diff(n % k) > 3).collect();
        for pattern in [None, Some(causal), Some(window)] {
            let blocked = pattern.clone().map(Blocked::from);
            let (y, g) = value_and_grad(&x, &r, |s| masked_softmax(s, 0.3, blocked.clone()));
            let (y0, g0) = value_and_grad(&x, &r, |s| composed(s, 0.3, pattern.as_deref()));
            assert_close(&y, &y0, 1e-5, "weights");
            assert_close(&g, &g0, 1e-5, "gradient");
            if let Some(p) = &pattern {
                // Blocked keys get no weight, exactly.
                for (n, &b) in p.iter().enumerate() {
                    if b {
                        assert_eq!(y[n], 0.0);
                    }
                }
            }
        }
    }

    #[test]
    fn a_row_with_every_key_blocked_gets_no_weight_instead_of_nan() {
        let d = Device::flex();
        let x = Tensor::<4>::ones([1, 1, 2, 2], &d);
        let blocked = Blocked::from(vec![true, true, false, true]);
        assert_eq!(
            vals(masked_softmax(x, 1.0, Some(blocked))),
            [0.0, 0.0, 1.0, 0.0]
        );
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
        for (what, (a, b)) in ["value", "dx", "dgamma", "dbeta"]
            .iter()
            .zip(fused_parts.iter().zip(&burn_parts))
        {
            assert_close(a, b, 2e-4, what);
        }
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
                let s = x.clone().reshape([5, 1, 70, 48]);
                let rs = r.clone().reshape([5, 1, 70, 48]);
                let (y, g) = value_and_grad(&s, &rs, |s| masked_softmax(s, 0.5, None));
                parts.extend([y, g]);
                parts
            })
        };
        assert_eq!(run(1), run(3));
    }
}
