//! Multi-head attention with the mechanisms of `attention_kind`: softmax, kernelised
//! linear attention, cosFormer, local (sliding-window) softmax and Performer (FAVOR+).
//!
//! Every mechanism shares the four projections (query, key, value, output, each with a
//! bias: `4·(d² + d)` parameters, the count `src/interp/metrics.rs` promises) and differs
//! only in how queries meet keys. Causal masking is exact for all of them: the softmax
//! kinds mask the scores, the linear kinds sum key-value products over the prefix only
//! (a cumulative sum), so no output depends on a later token.
//!
//! # Shapes
//! Input and output `[batch, seq, d_model]`; inside, `[batch, heads, seq, head_dim]`.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::{relu, softmax};
use burn::tensor::{Bool, Device, Tensor, TensorData};
use rand::RngExt;

use super::kernels;

/// How queries meet keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mechanism {
    /// Scaled dot-product softmax over every (allowed) key.
    Softmax,
    /// Linear attention with the feature map `elu(x) + 1` (Katharopoulos et al., 2020).
    Linear,
    /// cosFormer: `relu` features re-weighted by `cos` and `sin` of the position
    /// (Qin et al., 2022).
    CosFormer,
    /// Softmax over nearby keys: the `window` latest ones, itself included, when causal;
    /// those at most `window / 2` positions away otherwise.
    Local {
        /// The window.
        window: usize,
    },
    /// Performer's positive random features, FAVOR+ (Choromanski et al., 2021).
    Performer {
        /// Random features per head.
        features: usize,
    },
}

/// The settings of one attention block.
#[derive(Clone, Debug)]
pub struct AttentionConfig {
    /// Model width.
    pub d_model: usize,
    /// Heads; `d_model` splits evenly into them.
    pub heads: usize,
    /// The mechanism.
    pub mechanism: Mechanism,
    /// Whether a position sees only itself and earlier positions.
    pub causal: bool,
    /// Dropout on the attention weights (softmax kinds) or the mixed values (linear kinds).
    pub dropout: f64,
    /// Rotary position embedding of queries and keys, for sequences of this length.
    pub rotary: Option<usize>,
    /// Seed of the Performer's random features.
    pub seed: u64,
}

/// Multi-head attention.
#[derive(Module, Debug)]
pub struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    dropout: Dropout,
    /// Rotary tables `[seq, head_dim / 2]`: cosines, then sines (constants).
    rotary: Option<(Tensor<2>, Tensor<2>)>,
    /// Performer projection `[head_dim, features]` (a constant, redrawn never).
    features: Option<Tensor<2>>,
    #[module(skip)]
    heads: usize,
    #[module(skip)]
    mechanism: Mechanism,
    #[module(skip)]
    causal: bool,
}

impl AttentionConfig {
    /// Builds the block on `device`.
    pub fn init(&self, device: &Device) -> Attention {
        let d = self.d_model;
        let proj = || LinearConfig::new(d, d).init(device);
        let head_dim = d / self.heads;
        let rotary = self.rotary.map(|len| rotary_tables(len, head_dim, device));
        let features = match self.mechanism {
            Mechanism::Performer { features } => {
                Some(gaussian_matrix(head_dim, features, self.seed, device))
            }
            _ => None,
        };
        Attention {
            query: proj(),
            key: proj(),
            value: proj(),
            output: proj(),
            dropout: DropoutConfig::new(self.dropout).init(),
            rotary,
            features,
            heads: self.heads,
            mechanism: self.mechanism,
            causal: self.causal,
        }
    }
}

impl Attention {
    /// Mixes the sequence.
    ///
    /// # Shapes
    /// `x`: `[batch, seq, d_model]` -> `[batch, seq, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.forward_padded(x, None)
    }

    /// Mixes the sequence, giving no weight to the keys `keep` marks as padding
    /// (`[batch, seq]`, 1 real, 0 padding).
    ///
    /// # Shapes
    /// `x`: `[batch, seq, d_model]` -> `[batch, seq, d_model]`.
    pub fn forward_padded(&self, x: Tensor<3>, keep: Option<Tensor<2>>) -> Tensor<3> {
        let [batch, seq, d_model] = x.dims();
        // [batch, 1, seq, 1]: scales a key's features (linear kinds) or, as a mask over the
        // key axis, blocks its score (softmax kinds).
        let keep = keep.map(|k| k.reshape([batch, 1, seq, 1]));
        let head_dim = d_model / self.heads;
        let split = |t: Tensor<3>| {
            t.reshape([batch, seq, self.heads, head_dim])
                .swap_dims(1, 2) // [batch, heads, seq, head_dim]
        };
        let mut q = split(kernels::dense(&self.query, x.clone()));
        let mut k = split(kernels::dense(&self.key, x.clone()));
        let v = split(kernels::dense(&self.value, x));
        if let Some((cos, sin)) = &self.rotary {
            q = rotate(q, cos, sin);
            k = rotate(k, cos, sin);
        }
        let keys = |features: Tensor<4>| match &keep {
            Some(keep) => features * keep.clone(),
            None => features,
        };
        let join = |mixed: Tensor<4>| mixed.swap_dims(1, 2).reshape([batch, seq, d_model]);
        let joined = match self.mechanism {
            Mechanism::Softmax => self.softmax(q, k, v, None, keep),
            Mechanism::Local { window } => self.softmax(q, k, v, Some(window), keep),
            Mechanism::Linear => {
                let phi = kernels::elu_plus_one::<4>;
                join(
                    self.dropout
                        .forward(linear_mix(phi(q), keys(phi(k)), v, self.causal)),
                )
            }
            Mechanism::CosFormer => join(self.dropout.forward(self.cosformer(q, k, v, keys))),
            Mechanism::Performer { .. } => {
                join(self.dropout.forward(self.performer(q, k, v, keys)))
            }
        };
        kernels::dense(&self.output, joined)
    }

    fn softmax(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        window: Option<usize>,
        keep: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let [batch, heads, seq, head_dim] = q.dims();
        let scale = 1.0 / (head_dim as f64).sqrt();
        let causal = self.causal;
        let blocked = |i: usize, j: usize| {
            (causal && j > i)
                || window.is_some_and(|w| {
                    if causal {
                        i - j >= w
                    } else {
                        i.abs_diff(j) > w / 2
                    }
                })
        };
        let restricted = causal || window.is_some();
        let pattern = || {
            restricted.then(|| {
                (0..seq * seq)
                    .map(|n| blocked(n / seq, n % seq))
                    .collect::<kernels::Blocked>()
            })
        };
        // Dropout on the weights does nothing without a backward pass, or at rate 0.
        let dropout = self.dropout.prob > 0.0 && q.device().is_autodiff();
        if kernels::fused(&q) && batch * heads * seq * head_dim > 0 {
            // Padded keys: [batch, 1, seq, 1], 0 where padded.
            let padded = keep.map(|keep| {
                let keep = keep.into_data();
                keep.iter::<f32>().map(|k| k < 0.5).collect::<Vec<bool>>()
            });
            let dropout = dropout
                .then(|| kernels::WeightDropout::new(self.dropout.prob, dropout_seed(&q.device())));
            return kernels::attention(
                q,
                k,
                v,
                scale as f32,
                pattern(),
                padded.as_deref(),
                dropout,
            );
        }
        let scores = q.matmul(k.swap_dims(2, 3)); // [batch, heads, seq, seq], unscaled
                                                  // Padded keys get no weight: [batch, 1, seq, 1] -> [batch, 1, 1, seq] over the keys.
                                                  // A query still sees itself, so a padded query whose window holds only padding
                                                  // keeps a finite row (real queries are unaffected: they are real keys themselves).
        let scores = match keep {
            Some(keep) => {
                let eye = mask(seq, &scores.device(), |i, j| i == j)
                    .float()
                    .unsqueeze_dims::<4>(&[0, 1]);
                let padded = (keep.swap_dims(2, 3).neg() + 1.0) * (eye.neg() + 1.0);
                scores.mask_fill(padded.greater_elem(0.5), f32::NEG_INFINITY)
            }
            None => scores,
        };
        // Off the CPU kernels: burn's operations.
        let scores = scores * scale;
        let scores = if restricted {
            let mask = mask(seq, &scores.device(), blocked).unsqueeze_dims::<4>(&[0, 1]);
            scores.mask_fill(mask, f32::NEG_INFINITY)
        } else {
            scores
        };
        let weights = softmax(scores, 3);
        let weights = self.dropout.forward(weights);
        weights
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, seq, heads * head_dim])
    }

    fn cosformer(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        keys: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        let [_, _, seq, _] = q.dims();
        let device = q.device();
        let (q, k) = (relu(q), keys(relu(k)));
        // Position i is re-weighted by cos(π i / 2M) and sin(π i / 2M), M the length.
        let angle = |i: usize| std::f32::consts::FRAC_PI_2 * i as f32 / seq as f32;
        let column = |f: fn(f32) -> f32| {
            let vals: Vec<f32> = (0..seq).map(|i| f(angle(i))).collect();
            Tensor::<1>::from_data(TensorData::new(vals, [seq]), &device).reshape([1, 1, seq, 1])
        };
        let (cos, sin) = (column(f32::cos), column(f32::sin));
        let (num_c, den_c) = linear_parts(
            q.clone() * cos.clone(),
            k.clone() * cos,
            v.clone(),
            self.causal,
        );
        let (num_s, den_s) = linear_parts(q * sin.clone(), k * sin, v, self.causal);
        (num_c + num_s) / (den_c + den_s + 1e-6)
    }

    fn performer(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        keys: impl Fn(Tensor<4>) -> Tensor<4>,
    ) -> Tensor<4> {
        let w = self.features.clone().expect("a performer has its features"); // [head_dim, m]
        let [_, _, _, head_dim] = q.dims();
        let m = w.dims()[1];
        let scale = (head_dim as f64).powf(-0.25);
        let w = w.unsqueeze_dims::<4>(&[0, 1]);
        // φ(x) = exp(w·x − |x|²/2) / √m. A query's own shift cancels in its ratio; keys are
        // not shifted (x·w − |x|²/2 ≤ |w|²/2 bounds them), so no position sees another.
        let features = |x: Tensor<4>, shift_rows: bool| {
            let x = x * scale;
            let norm = x.clone().powf_scalar(2.0).sum_dim(3) / 2.0; // [.., seq, 1]
            let mut proj = x.matmul(w.clone()) - norm; // [.., seq, m]
            if shift_rows {
                proj = proj.clone() - proj.max_dim(3).detach();
            }
            proj.exp() / (m as f64).sqrt()
        };
        linear_mix(features(q, true), keys(features(k, false)), v, self.causal)
    }
}

/// `Σ_j φ(q_i)·φ(k_j) v_j / Σ_j φ(q_i)·φ(k_j)` over all keys, or over `j ≤ i` when causal.
fn linear_mix(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, causal: bool) -> Tensor<4> {
    let (num, den) = linear_parts(q, k, v, causal);
    num / (den + 1e-6)
}

/// The numerator `[batch, heads, seq, head_dim]` and denominator `[batch, heads, seq, 1]`
/// of linear attention on feature-mapped queries and keys `[batch, heads, seq, features]`.
fn linear_parts(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, causal: bool) -> (Tensor<4>, Tensor<4>) {
    if causal {
        chunked_parts(q, k, v, LINEAR_CHUNK)
    } else {
        let kv = k.clone().swap_dims(2, 3).matmul(v); // [batch, heads, f, head_dim]
        let num = q.clone().matmul(kv);
        let den = (q * k.sum_dim(2)).sum_dim(3);
        (num, den)
    }
}

/// Positions per chunk of causal linear attention.
const LINEAR_CHUNK: usize = 64;

/// Causal [`linear_parts`] by chunks of `chunk` positions: within a chunk, the queries'
/// products with its keys, masked to the earlier ones, times its values; across chunks,
/// each chunk's queries times the sum of the key-value products of the chunks before it.
/// Memory grows with `seq · chunk + seq / chunk · f · head_dim` per head, where prefix
/// sums of every position's `f × head_dim` product ([`prefix_parts`]) grow with
/// `seq · f · head_dim`. The sums are the same, added in another order.
fn chunked_parts(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, chunk: usize) -> (Tensor<4>, Tensor<4>) {
    let [batch, heads, seq, f] = k.dims();
    let head_dim = v.dims()[3];
    let device = q.device();
    if seq == 0 {
        let none = |w: usize| Tensor::zeros([batch, heads, 0, w], &device);
        return (none(head_dim), none(1));
    }
    let c = chunk.clamp(1, seq);
    let n = seq.div_ceil(c);
    // Zero keys and values at the end add nothing; the queries there are cut off below.
    let chunks = |t: Tensor<4>, w: usize| {
        let t = match n * c - seq {
            0 => t,
            extra => Tensor::cat(vec![t, Tensor::zeros([batch, heads, extra, w], &device)], 2),
        };
        t.reshape([batch, heads, n, c, w])
    };
    let (q, k, v) = (chunks(q, f), chunks(k, f), chunks(v, head_dim));
    // The sum over the chunks before each one: [0, x0, x0 + x1, ...].
    let before = |x: Tensor<5>| {
        let [b, h, _, r, w] = x.dims();
        let first = Tensor::zeros([b, h, 1, r, w], &device);
        match n {
            1 => first,
            _ => Tensor::cat(vec![first, x.cumsum(2).narrow(2, 0, n - 1)], 2),
        }
    };
    let later = mask(c, &device, |i, j| j > i).unsqueeze_dims::<5>(&[0, 1, 2]);
    let within = q
        .clone()
        .matmul(k.clone().swap_dims(3, 4))
        .mask_fill(later, 0.0); // [batch, heads, n, c, c]
    let num = within.clone().matmul(v.clone())
        + q.clone()
            .matmul(before(k.clone().swap_dims(3, 4).matmul(v)));
    let den = within.sum_dim(4) + (q * before(k.sum_dim(3))).sum_dim(4);
    let whole = |t: Tensor<5>, w: usize| t.reshape([batch, heads, n * c, w]).narrow(2, 0, seq);
    (whole(num, head_dim), whole(den, 1))
}

/// Causal [`linear_parts`] by prefix sums of every position's key-value product: what
/// [`chunked_parts`] computes, kept to test it against.
#[cfg(test)]
fn prefix_parts(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
    {
        let [batch, heads, seq, _] = k.dims();
        let head_dim = v.dims()[3];
        // Prefix sums of the key-value outer products: [batch, heads, seq, f, head_dim].
        let kv = (k.clone().unsqueeze_dim::<5>(4) * v.unsqueeze_dim::<5>(3)).cumsum(2);
        let num = q
            .clone()
            .unsqueeze_dim::<5>(3) // [batch, heads, seq, 1, f]
            .matmul(kv)
            .reshape([batch, heads, seq, head_dim]);
        let den = (q * k.cumsum(2)).sum_dim(3);
        (num, den)
    }
}

/// A `[seq, seq]` mask, true where `blocked(query, key)`.
fn mask(seq: usize, device: &Device, blocked: impl Fn(usize, usize) -> bool) -> Tensor<2, Bool> {
    let vals: Vec<bool> = (0..seq * seq).map(|n| blocked(n / seq, n % seq)).collect();
    Tensor::<2, Bool>::from_data(TensorData::new(vals, [seq, seq]), device)
}

/// Cosine and sine tables of rotary embedding: position `p`, pair `i` turns by
/// `p / 10000^(2i / head_dim)`.
fn rotary_tables(seq: usize, head_dim: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let half = head_dim / 2;
    let angle = |n: usize| {
        let (p, i) = (n / half, n % half);
        p as f64 / 10000f64.powf(2.0 * i as f64 / head_dim as f64)
    };
    let table = |f: fn(f64) -> f64| {
        let vals: Vec<f32> = (0..seq * half).map(|n| f(angle(n)) as f32).collect();
        Tensor::<2>::from_data(TensorData::new(vals, [seq, half]), device)
    };
    (table(f64::cos), table(f64::sin))
}

/// Turns each pair (first half, second half) of the features by its position's angle.
fn rotate(x: Tensor<4>, cos: &Tensor<2>, sin: &Tensor<2>) -> Tensor<4> {
    let [_, _, seq, head_dim] = x.dims();
    let half = head_dim / 2;
    let cos = cos.clone().narrow(0, 0, seq).unsqueeze_dims::<4>(&[0, 1]);
    let sin = sin.clone().narrow(0, 0, seq).unsqueeze_dims::<4>(&[0, 1]);
    let a = x.clone().narrow(3, 0, half);
    let b = x.narrow(3, half, half);
    Tensor::cat(
        vec![
            a.clone() * cos.clone() - b.clone() * sin.clone(),
            a * sin + b * cos,
        ],
        3,
    )
}

/// The seed of the attention kernel's dropout for one forward pass, drawn from the
/// device's generator: the training seed decides it, as it decides burn's dropout masks,
/// and every pass draws a new one.
fn dropout_seed(device: &Device) -> u64 {
    let draws = Tensor::<1>::random(
        [4],
        burn::tensor::Distribution::Uniform(0.0, 65536.0),
        device,
    );
    draws
        .into_data()
        .iter::<f32>()
        .fold(0u64, |seed, x| (seed << 16) | (x as u64 & 0xffff))
}

/// A `[rows, cols]` matrix of standard normal draws from a seeded generator (Box-Muller).
fn gaussian_matrix(rows: usize, cols: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = crate::interp::strategy::rng(seed);
    let vals: Vec<f32> = (0..rows * cols)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            let u2: f64 = rng.random_range(0.0..1.0);
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    Tensor::<2>::from_data(TensorData::new(vals, [rows, cols]), device)
}

#[cfg(test)]
mod tests {
    use burn::tensor::Distribution;

    use super::*;

    fn vals<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32")
    }

    /// Values of the two parts and the gradients of `q`, `k` and `v` (of the parts
    /// weighted by fixed random tensors).
    fn parts_and_grads(
        x: &[Tensor<4>; 3],
        parts: impl Fn(Tensor<4>, Tensor<4>, Tensor<4>) -> (Tensor<4>, Tensor<4>),
    ) -> Vec<Vec<f32>> {
        let leaves: Vec<Tensor<4>> = x
            .iter()
            .map(|t| t.clone().detach().require_grad())
            .collect();
        let (num, den) = parts(leaves[0].clone(), leaves[1].clone(), leaves[2].clone());
        let device = num.device();
        device.seed(9);
        let rn = Tensor::random(num.dims(), Distribution::Normal(0.0, 1.0), &device);
        let rd = Tensor::random(den.dims(), Distribution::Normal(0.0, 1.0), &device);
        let grads = ((num.clone() * rn).sum() + (den.clone() * rd).sum()).backward();
        let mut out = vec![vals(num), vals(den)];
        out.extend(
            leaves
                .iter()
                .map(|l| vals(l.grad(&grads).expect("a gradient"))),
        );
        out
    }

    /// Chunks of every size, over lengths that do and do not split into them, give
    /// what prefix sums give, in value and in every gradient.
    #[test]
    fn chunked_causal_linear_attention_is_the_prefix_sums_one() {
        let device = Device::flex().autodiff();
        for seq in [1, 7, 16, 37, 70] {
            device.seed(seq as u64);
            let t = |w: usize| {
                Tensor::<4>::random([2, 3, seq, w], Distribution::Normal(0.0, 1.0), &device)
            };
            let x = [t(5), t(5), t(4)];
            let want = parts_and_grads(&x, prefix_parts);
            for chunk in [1, 4, 16, 64] {
                let got = parts_and_grads(&x, |q, k, v| chunked_parts(q, k, v, chunk));
                for (what, (a, b)) in ["num", "den", "dq", "dk", "dv"]
                    .iter()
                    .zip(got.iter().zip(&want))
                {
                    assert_eq!(a.len(), b.len());
                    for (i, (a, b)) in a.iter().zip(b).enumerate() {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{what}[{i}] at length {seq}, chunk {chunk}: {a} against {b}"
                        );
                    }
                }
            }
        }
    }
}
