//! The builtin modules other than attention: positions, feed-forward, heads.
//!
//! Each allocates exactly the parameters `src/interp/metrics.rs` counts for it.
//!
//! # Shapes
//! Sequences are `[batch, seq, width]`; a classifier's output is `[batch, classes]`.

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};

use super::kernels;
use burn::tensor::{Device, Tensor, TensorData};

/// An element-wise activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// Gaussian error linear unit.
    Gelu,
    /// x·sigmoid(x).
    Silu,
    /// tanh.
    Tanh,
    /// A gated unit: silu(x W_gate) ⊙ (x W_up); only inside `ffn`.
    Swiglu,
}

impl Activation {
    /// The activation named `name`.
    pub fn parse(name: &str) -> Option<Activation> {
        Some(match name {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "silu" => Activation::Silu,
            "tanh" => Activation::Tanh,
            "swiglu" => Activation::Swiglu,
            _ => return None,
        })
    }

    /// Applies it (`Swiglu` applies its silu half).
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => burn::tensor::activation::relu(x),
            Activation::Gelu => kernels::gelu(x),
            Activation::Silu | Activation::Swiglu => kernels::silu(x),
            Activation::Tanh => kernels::tanh(x),
        }
    }
}

/// How positions enter the model.
#[derive(Module, Debug)]
pub enum Positions {
    /// A learned vector per position, added: `[seq, width]` parameters.
    Learned(Param<Tensor<2>>),
    /// Fixed sines and cosines (Vaswani et al., 2017), added: a constant `[seq, width]`.
    Sinusoidal(Tensor<2>),
}

impl Positions {
    /// Learned positions for `seq` × `width`, initialised N(0, 0.02²).
    pub fn learned(seq: usize, width: usize, device: &Device) -> Positions {
        let init = Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        };
        Positions::Learned(init.init([seq, width], device))
    }

    /// The sinusoidal table for `seq` × `width`.
    pub fn sinusoidal(seq: usize, width: usize, device: &Device) -> Positions {
        let vals: Vec<f32> = (0..seq * width)
            .map(|n| {
                let (p, i) = (n / width, n % width);
                let rate = 10000f64.powf(-((i - i % 2) as f64) / width as f64);
                let a = p as f64 * rate;
                (if i % 2 == 0 { a.sin() } else { a.cos() }) as f32
            })
            .collect();
        Positions::Sinusoidal(Tensor::from_data(
            TensorData::new(vals, [seq, width]),
            device,
        ))
    }

    /// Adds the positions.
    ///
    /// # Shapes
    /// `[batch, seq, width]` -> the same.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let seq = x.dims()[1];
        let table = match self {
            Positions::Learned(p) => p.val(),
            Positions::Sinusoidal(t) => t.clone(),
        };
        x + table.narrow(0, 0, seq).unsqueeze_dim::<3>(0)
    }
}

/// A position-wise feed-forward block: up, activation, dropout, down.
#[derive(Module, Debug)]
pub struct Ffn {
    up: Linear,
    /// The gate of a swiglu block.
    gate: Option<Linear>,
    down: Linear,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl Ffn {
    /// A block from `width` to `hidden` features and back.
    pub fn new(
        width: usize,
        hidden: usize,
        activation: Activation,
        dropout: f64,
        device: &Device,
    ) -> Ffn {
        let gate = (activation == Activation::Swiglu)
            .then(|| LinearConfig::new(width, hidden).init(device));
        Ffn {
            up: LinearConfig::new(width, hidden).init(device),
            gate,
            down: LinearConfig::new(hidden, width).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            activation,
        }
    }

    /// Applies the block.
    ///
    /// # Shapes
    /// `[batch, seq, width]` -> the same.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let h = match &self.gate {
            Some(gate) => {
                kernels::swiglu(kernels::dense(gate, x.clone()), kernels::dense(&self.up, x))
            }
            None => self.activation.apply(kernels::dense(&self.up, x)),
        };
        kernels::dense(&self.down, self.dropout.forward(h))
    }
}

/// The language-model head: features to logits over the vocabulary.
#[derive(Module, Debug)]
pub enum LmHead {
    /// Its own projection, `width·vocab + vocab` parameters.
    Own(Linear),
    /// Tied to the embedding (the embedding's weight, transposed); only a bias of its own.
    Tied(Param<Tensor<1>>),
}

impl LmHead {
    /// A head of its own.
    pub fn own(width: usize, vocab: usize, device: &Device) -> LmHead {
        LmHead::Own(LinearConfig::new(width, vocab).init(device))
    }

    /// A tied head: a zero bias of `vocab`.
    pub fn tied(vocab: usize, device: &Device) -> LmHead {
        LmHead::Tied(Initializer::Zeros.init([vocab], device))
    }

    /// Logits. `embedding` is the tied embedding's weight `[vocab, width]`.
    ///
    /// # Shapes
    /// `[batch, seq, width]` -> `[batch, seq, vocab]`.
    pub fn forward(&self, x: Tensor<3>, embedding: Option<Tensor<2>>) -> Tensor<3> {
        match self {
            LmHead::Own(linear) => kernels::dense(linear, x),
            LmHead::Tied(bias) => {
                let w = embedding
                    .expect("a tied head has its embedding")
                    .transpose(); // [width, vocab]
                x.matmul(w.unsqueeze_dim::<3>(0)) + bias.val().unsqueeze_dims::<3>(&[0, 1])
            }
        }
    }
}

/// Pools a sequence into one vector, then a linear layer to the classes.
#[derive(Module, Debug)]
pub struct Classifier {
    linear: Linear,
    #[module(skip)]
    first: bool,
}

impl Classifier {
    /// A classifier from `width` features to `classes`, pooling by mean or first token.
    pub fn new(width: usize, classes: usize, first: bool, device: &Device) -> Classifier {
        Classifier {
            linear: LinearConfig::new(width, classes).init(device),
            first,
        }
    }

    /// Logits of a sequence; mean pooling averages the positions `keep` marks (all when
    /// `None`).
    ///
    /// # Shapes
    /// `x`: `[batch, seq, width]`, `keep`: `[batch, seq]` -> `[batch, classes]`.
    pub fn forward_seq(&self, x: Tensor<3>, keep: Option<Tensor<2>>) -> Tensor<2> {
        let [batch, _, width] = x.dims();
        let pooled = if self.first {
            x.narrow(1, 0, 1)
        } else if let Some(keep) = keep {
            let keep = keep.unsqueeze_dim::<3>(2); // [batch, seq, 1]
            (x * keep.clone()).sum_dim(1) / keep.sum_dim(1).clamp_min(1.0)
        } else {
            x.mean_dim(1)
        };
        kernels::dense(&self.linear, pooled.reshape([batch, width]))
    }

    /// Logits of one vector per example.
    ///
    /// # Shapes
    /// `[batch, width]` -> `[batch, classes]`.
    pub fn forward_vector(&self, x: Tensor<2>) -> Tensor<2> {
        kernels::dense(&self.linear, x)
    }
}

/// Layer norm over the features: `(x − mean) / sqrt(var + eps) · gamma + beta`.
///
/// The same parameters, under the same names, as burn's `LayerNorm` (so saved weights
/// keep their layout), computed by the fused kernel of [`kernels::layer_norm`] where it
/// applies and by burn's `layer_norm` elsewhere.
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// The scale, ones at first.
    pub gamma: Param<Tensor<1>>,
    /// The shift, zeros at first.
    pub beta: Option<Param<Tensor<1>>>,
    epsilon: f64,
}

impl LayerNorm {
    /// A norm over `width` features.
    pub fn new(width: usize, epsilon: f64, device: &Device) -> LayerNorm {
        LayerNorm {
            gamma: Initializer::Ones.init([width], device),
            beta: Some(Initializer::Zeros.init([width], device)),
            epsilon,
        }
    }

    /// Normalises the last axis.
    ///
    /// # Shapes
    /// `x`: `[..., width]`, and the same out.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let gamma = self.gamma.val();
        let beta = self.beta.as_ref().map(|b| b.val());
        if kernels::fused_with(&x, &gamma, beta.as_slice()) {
            kernels::layer_norm(x, gamma, beta, self.epsilon)
        } else {
            burn::tensor::module::layer_norm(x, gamma, beta, self.epsilon)
        }
    }
}
