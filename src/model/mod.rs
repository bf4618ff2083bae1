//! The model stage: a concrete architecture (the IR of `src/interp/ir.rs`) becomes a burn
//! module that can be trained.
//!
//! The IR is a list of nodes in topological order; [`Net`] keeps one [`Block`] per node
//! (a `Vec` of a module enum, so burn sees every parameter) and the indices each node
//! reads. Every block allocates exactly the parameters the IR's static count promises; a
//! test checks the two agree on every example.
//!
//! Weights start as in GPT-2 for the embedding (N(0, 0.02²), so that a head tied to it
//! starts with small logits) and as burn's defaults elsewhere (Kaiming-uniform linear
//! layers, unit norms).
//!
//! `positions(kind = rotary)` has no tensor of its own: it makes every attention block
//! after it rotate its queries and keys.

pub mod attention;
pub mod blocks;
pub mod kernels;
#[cfg(test)]
pub(crate) mod tests;

use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, RmsNorm,
    RmsNormConfig,
};
use burn::tensor::{Device, Int, Tensor};

use crate::interp::ir::{Arch, Node, Shape};
use crate::interp::Value;
use attention::{Attention, AttentionConfig, Mechanism};
use blocks::{Activation, Classifier, Ffn, LayerNorm, LmHead, Positions};

/// Why an architecture cannot become a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelError {
    /// What is wrong.
    pub message: String,
    /// The path of the node in the space.
    pub path: String,
}

/// One node of the graph, as a burn module.
// A model holds a few dozen blocks for its whole life: boxing the large ones saves nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Block {
    /// The token ids.
    Input(Stateless),
    /// `embedding`.
    Embedding(Embedding),
    /// `positions` (learned or sinusoidal; rotary and none are [`Block::Identity`]).
    Positions(Positions),
    /// `linear`.
    Linear(Linear),
    /// `layer_norm`.
    LayerNorm(LayerNorm),
    /// `rms_norm`.
    RmsNorm(RmsNorm),
    /// `dropout`.
    Dropout(Dropout),
    /// `attention`.
    Attention(Attention),
    /// `ffn`.
    Ffn(Ffn),
    /// `lm_head`.
    LmHead(LmHead),
    /// `classifier`.
    Classifier(Classifier),
    /// `act`.
    Act(Act),
    /// `identity`, rotary or absent positions.
    Identity(Stateless),
    /// `add`: the sum of the inputs.
    Add(Stateless),
    /// `concat`: the inputs joined along the features.
    Concat(Stateless),
}

/// A block without state.
#[derive(Module, Debug, Default)]
pub struct Stateless {}

/// An element-wise activation block.
#[derive(Module, Debug)]
pub struct Act {
    #[module(skip)]
    activation: Activation,
}

/// A value flowing along an edge of the graph.
#[derive(Clone, Debug)]
pub enum Flow {
    /// Token ids `[batch, seq]`.
    Tokens(Tensor<2, Int>),
    /// A sequence `[batch, seq, width]`.
    Seq(Tensor<3>),
    /// One vector per example `[batch, width]`.
    Vector(Tensor<2>),
}

/// A concrete architecture as a trainable burn module.
#[derive(Module, Debug)]
pub struct Net {
    blocks: Vec<Block>,
    /// The nodes each block reads.
    #[module(skip)]
    inputs: Vec<Vec<usize>>,
    /// The embedding block a tied head reads its weight from.
    #[module(skip)]
    tied: Option<usize>,
}

impl Net {
    /// Builds the model of `arch` on `device`; `seed` fixes the random features of
    /// Performer attention (weights are drawn from the device's generator: seed it first).
    pub fn new(arch: &Arch, device: &Device, seed: u64) -> Result<Net, ModelError> {
        let mut blocks = Vec::with_capacity(arch.nodes.len());
        let mut rotary = false;
        let mut embedding: Option<usize> = None;
        let mut tied = None;
        for (index, node) in arch.nodes.iter().enumerate() {
            let err = |message: String| ModelError {
                message,
                path: node.path.to_string(),
            };
            let input = node.inputs.first().map(|&i| arch.nodes[i as usize].shape);
            let a = NodeArgs(node);
            let block = match &*node.op {
                "input" => Block::Input(Stateless {}),
                "add" => Block::Add(Stateless {}),
                "concat" => Block::Concat(Stateless {}),
                "identity" => Block::Identity(Stateless {}),
                "embedding" => {
                    embedding = Some(index);
                    Block::Embedding(EmbeddingConfig::new(a.size("vocab").map_err(err)?, a.size("dim").map_err(err)?).with_initializer(Initializer::Normal { mean: 0.0, std: 0.02 }).init(device))
                }
                "positions" => {
                    let (seq, width) = seq_shape(input).map_err(err)?;
                    match a.sym("kind") {
                        "learned" => Block::Positions(Positions::learned(seq, width, device)),
                        "sinusoidal" => Block::Positions(Positions::sinusoidal(seq, width, device)),
                        "rotary" => {
                            rotary = true;
                            Block::Identity(Stateless {})
                        }
                        _ => Block::Identity(Stateless {}),
                    }
                }
                "linear" => {
                    let width = features(input).map_err(err)?;
                    let out = a.size("out").map_err(err)?;
                    Block::Linear(LinearConfig::new(width, out).with_bias(a.bool("bias")).init(device))
                }
                "layer_norm" => Block::LayerNorm(LayerNorm::new(features(input).map_err(err)?, a.eps(1e-5).map_err(err)?, device)),
                "rms_norm" => Block::RmsNorm(RmsNormConfig::new(features(input).map_err(err)?).with_epsilon(a.eps(1e-6).map_err(err)?).init(device)),
                "dropout" => Block::Dropout(DropoutConfig::new(a.rate("rate").map_err(err)?).init()),
                "act" => {
                    let activation = Activation::parse(a.sym("kind")).filter(|a| *a != Activation::Swiglu).ok_or_else(|| err(format!("no element-wise activation `{}`", a.sym("kind"))))?;
                    Block::Act(Act { activation })
                }
                "attention" => {
                    let (seq, width) = seq_shape(input).map_err(err)?;
                    let heads = a.size("heads").map_err(err)?;
                    if heads == 0 || width % heads != 0 {
                        return Err(err(format!("the width {width} does not split into {heads} heads")));
                    }
                    let head_dim = width / heads;
                    if rotary && head_dim % 2 == 1 {
                        return Err(err(format!("rotary positions turn pairs of features, and a head has {head_dim}, an odd number")));
                    }
                    let (kind, payload) = a.sym_payload("kind");
                    let payload_size = |k: &str| match payload.iter().find(|(n, _)| &**n == k) {
                        Some((_, Value::Int(v))) if *v > 0 => Ok(*v as usize),
                        _ => Err(err(format!("`{kind}` needs a positive `{k}`"))),
                    };
                    let mechanism = match kind {
                        "softmax" => Mechanism::Softmax,
                        "linear" => Mechanism::Linear,
                        "cosformer" => Mechanism::CosFormer,
                        "local" => Mechanism::Local { window: payload_size("window")? },
                        "performer" => Mechanism::Performer { features: payload_size("features")? },
                        other => return Err(err(format!("no attention mechanism `{other}`"))),
                    };
                    let config = AttentionConfig {
                        d_model: width,
                        heads,
                        mechanism,
                        causal: a.bool("causal"),
                        dropout: a.rate("dropout").map_err(err)?,
                        rotary: rotary.then_some(seq),
                        seed: seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    };
                    Block::Attention(config.init(device))
                }
                "ffn" => {
                    let width = features(input).map_err(err)?;
                    let activation = Activation::parse(a.sym("activation")).ok_or_else(|| err(format!("no activation `{}`", a.sym("activation"))))?;
                    Block::Ffn(Ffn::new(width, a.size("hidden").map_err(err)?, activation, a.rate("dropout").map_err(err)?, device))
                }
                "lm_head" => {
                    let (_, width) = seq_shape(input).map_err(err)?;
                    let vocab = a.size("vocab").map_err(err)?;
                    if a.bool("tied") {
                        let e = embedding.ok_or_else(|| err("a tied `lm_head` needs an `embedding` before it".into()))?;
                        let Some(Block::Embedding(emb)) = blocks.get(e) else {
                            return Err(err("a tied `lm_head` needs an `embedding` before it".into()));
                        };
                        let [e_vocab, e_dim] = emb.weight.dims();
                        if (e_vocab, e_dim) != (vocab, width) {
                            return Err(err(format!("a tied `lm_head` of {width} × {vocab} cannot share the embedding of {e_vocab} × {e_dim}")));
                        }
                        tied = Some(e);
                        Block::LmHead(LmHead::tied(vocab, device))
                    } else {
                        Block::LmHead(LmHead::own(width, vocab, device))
                    }
                }
                "classifier" => {
                    let width = features(input).map_err(err)?;
                    let first = a.sym("pool") == "first";
                    Block::Classifier(Classifier::new(width, a.size("classes").map_err(err)?, first, device))
                }
                other => return Err(err(format!("the model stage has no implementation of `{other}` yet (text models only: vision modules are not built)"))),
            };
            blocks.push(block);
        }
        match arch.nodes.first() {
            Some(n) if &*n.op == "input" && matches!(n.shape, Shape::Tokens { .. }) => {}
            _ => {
                return Err(ModelError {
                    message: "the model stage reads token ids; this architecture's input is not a token sequence".into(),
                    path: String::new(),
                })
            }
        }
        Ok(Net {
            blocks,
            inputs: arch
                .nodes
                .iter()
                .map(|n| n.inputs.iter().map(|&i| i as usize).collect())
                .collect(),
            tied,
        })
    }

    /// Runs the graph on token ids `[batch, seq]`; the output node's value.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Flow {
        self.forward_padded(tokens, None)
    }

    /// Runs the graph on token ids `[batch, seq]` of which only the positions `keep` marks
    /// (`[batch, seq]`, 1 for a real token, 0 for padding) are real: attention gives padded
    /// keys no weight and mean pooling averages over real positions only, so what padding
    /// holds cannot change the output at real positions or the pooled vector.
    pub fn forward_padded(&self, tokens: Tensor<2, Int>, keep: Option<Tensor<2>>) -> Flow {
        let mut values: Vec<Option<Flow>> = Vec::with_capacity(self.blocks.len());
        for (index, block) in self.blocks.iter().enumerate() {
            let input = |k: usize| -> Flow {
                values[self.inputs[index][k]]
                    .clone()
                    .expect("inputs come before their readers")
            };
            let out = match block {
                Block::Input(_) => Flow::Tokens(tokens.clone()),
                Block::Embedding(e) => match input(0) {
                    Flow::Tokens(t) => Flow::Seq(e.forward(t)),
                    other => other,
                },
                Block::Positions(p) => map_seq(input(0), |x| p.forward(x)),
                Block::Linear(l) => {
                    map_float(input(0), |x| kernels::dense(l, x), |x| kernels::dense(l, x))
                }
                Block::LayerNorm(n) => map_float(input(0), |x| n.forward(x), |x| n.forward(x)),
                Block::RmsNorm(n) => {
                    map_float(input(0), |x| kernels::rms(n, x), |x| kernels::rms(n, x))
                }
                Block::Dropout(d) => map_float(input(0), |x| d.forward(x), |x| d.forward(x)),
                Block::Act(a) => map_float(
                    input(0),
                    |x| a.activation.apply(x),
                    |x| a.activation.apply(x),
                ),
                Block::Attention(att) => map_seq(input(0), |x| att.forward_padded(x, keep.clone())),
                Block::Ffn(f) => map_float(input(0), |x| f.forward(x), |x| f.forward(x)),
                Block::LmHead(h) => {
                    let weight = self.tied.and_then(|e| match &self.blocks[e] {
                        Block::Embedding(emb) => Some(emb.weight.val()),
                        _ => None,
                    });
                    map_seq(input(0), |x| h.forward(x, weight))
                }
                Block::Classifier(c) => match input(0) {
                    Flow::Seq(x) => Flow::Vector(c.forward_seq(x, keep.clone())),
                    Flow::Vector(x) => Flow::Vector(c.forward_vector(x)),
                    other => other,
                },
                Block::Identity(_) => input(0),
                Block::Add(_) => {
                    let mut acc = input(0);
                    for k in 1..self.inputs[index].len() {
                        acc = match (acc, input(k)) {
                            (Flow::Seq(a), Flow::Seq(b)) => Flow::Seq(a + b),
                            (Flow::Vector(a), Flow::Vector(b)) => Flow::Vector(a + b),
                            (a, _) => a,
                        };
                    }
                    acc
                }
                Block::Concat(_) => {
                    let parts: Vec<Flow> = (0..self.inputs[index].len()).map(input).collect();
                    concat(parts)
                }
            };
            values.push(Some(out));
        }
        values.pop().flatten().expect("a graph has an output")
    }
}

fn map_seq(x: Flow, f: impl FnOnce(Tensor<3>) -> Tensor<3>) -> Flow {
    match x {
        Flow::Seq(t) => Flow::Seq(f(t)),
        other => other,
    }
}

fn map_float(
    x: Flow,
    seq: impl FnOnce(Tensor<3>) -> Tensor<3>,
    vector: impl FnOnce(Tensor<2>) -> Tensor<2>,
) -> Flow {
    match x {
        Flow::Seq(t) => Flow::Seq(seq(t)),
        Flow::Vector(t) => Flow::Vector(vector(t)),
        other => other,
    }
}

fn concat(parts: Vec<Flow>) -> Flow {
    if parts.iter().all(|p| matches!(p, Flow::Seq(_))) {
        let t = parts
            .into_iter()
            .filter_map(|p| if let Flow::Seq(t) = p { Some(t) } else { None })
            .collect();
        Flow::Seq(Tensor::cat(t, 2))
    } else {
        let t = parts
            .into_iter()
            .filter_map(|p| {
                if let Flow::Vector(t) = p {
                    Some(t)
                } else {
                    None
                }
            })
            .collect();
        Flow::Vector(Tensor::cat(t, 1))
    }
}

fn seq_shape(input: Option<Shape>) -> Result<(usize, usize), String> {
    match input {
        Some(Shape::Seq { len, width }) if len > 0 && width > 0 => {
            Ok((len as usize, width as usize))
        }
        other => Err(format!(
            "needs a sequence, and gets {}",
            other.map_or("nothing".into(), |s| s.to_string())
        )),
    }
}

fn features(input: Option<Shape>) -> Result<usize, String> {
    match input {
        Some(Shape::Seq { width, .. } | Shape::Vector { width }) if width > 0 => Ok(width as usize),
        other => Err(format!(
            "needs features, and gets {}",
            other.map_or("nothing".into(), |s| s.to_string())
        )),
    }
}

/// The arguments of a node, read with the types the checker guaranteed.
struct NodeArgs<'a>(&'a Node);

impl NodeArgs<'_> {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .args
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }

    fn size(&self, name: &str) -> Result<usize, String> {
        match self.get(name) {
            Some(Value::Int(v)) if *v > 0 => Ok(*v as usize),
            other => Err(format!(
                "`{name}` must be a positive integer, and is {}",
                other.map_or("missing".into(), |v| v.to_string())
            )),
        }
    }

    fn rate(&self, name: &str) -> Result<f64, String> {
        let r = self.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        if (0.0..1.0).contains(&r) {
            Ok(r)
        } else {
            Err(format!("`{name}` must be a rate in [0, 1), and is {r}"))
        }
    }

    /// A norm's `eps`: positive and finite (burn's norms refuse anything else).
    fn eps(&self, default: f64) -> Result<f64, String> {
        let e = self.get("eps").and_then(Value::as_f64).unwrap_or(default);
        if e > 0.0 && e.is_finite() {
            Ok(e)
        } else {
            Err(format!("`eps` must be positive, and is {e}"))
        }
    }

    fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    fn sym(&self, name: &str) -> &str {
        self.sym_payload(name).0
    }

    fn sym_payload(&self, name: &str) -> (&str, &[(crate::interp::Name, Value)]) {
        match self.get(name) {
            Some(Value::Sym(n, p)) => (n, p),
            _ => ("", &[]),
        }
    }
}
