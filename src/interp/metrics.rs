//! Shapes and static costs of the builtin modules.
//!
//! For every module: the shape it outputs, its trainable parameters (exactly what the
//! model stage allocates), the floating-point operations of its forward pass per example
//! (a multiply-add counts 2) and the bytes of activations it keeps for the backward pass
//! (f32). `N` below is the number of vectors of one example (the sequence length, or 1).
//!
//! | module | parameters |
//! |---|---|
//! | `embedding(vocab, dim)` | vocab·dim |
//! | `positions(learned)` | len·width (one row per position of the context) |
//! | `linear(out, bias)` | width·out (+ out) |
//! | `layer_norm` / `rms_norm` | 2·width / width |
//! | `attention(heads, kind)` | 4·(width² + width): q, k, v, output projections with bias |
//! | `ffn(hidden, activation)` | width·hidden + hidden + hidden·width + width; swiglu adds a gate width·hidden + hidden |
//! | `lm_head(vocab, tied)` | width·vocab + vocab; tied: vocab (the bias) |
//! | `classifier(classes)` | width·classes + classes |
//! | `conv2d(filters, kernel)` | channels·filters·kernel² + filters |
//! | `batch_norm` | 2·channels |

use super::ir::{Cost, Shape};
use super::{Name, Value};

/// The arguments of a module, every one resolved.
pub struct Args<'a>(pub &'a [(Name, Value)]);

/// The arguments the formulas read.
#[derive(Clone, Copy)]
enum A {
    Vocab,
    Dim,
    MaxLen,
    Kind,
    Out,
    Bias,
    Heads,
    Causal,
    Hidden,
    Activation,
    Tied,
    Classes,
    Filters,
    Kernel,
    Stride,
    Size,
}

/// Their names, in the order of [`A`].
const A_NAMES: [&str; 16] = [
    "vocab",
    "dim",
    "max_len",
    "kind",
    "out",
    "bias",
    "heads",
    "causal",
    "hidden",
    "activation",
    "tied",
    "classes",
    "filters",
    "kernel",
    "stride",
    "size",
];

/// The builtin modules the formulas cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Embedding,
    Positions,
    Linear,
    Dropout,
    Identity,
    Zero,
    Act,
    LayerNorm,
    RmsNorm,
    BatchNorm,
    Attention,
    Ffn,
    LmHead,
    Classifier,
    Conv2d,
    MaxPool2d,
    AvgPool2d,
    GlobalPool,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "embedding" => Kind::Embedding,
            "positions" => Kind::Positions,
            "linear" => Kind::Linear,
            "dropout" => Kind::Dropout,
            "identity" => Kind::Identity,
            "zero" => Kind::Zero,
            "act" => Kind::Act,
            "layer_norm" => Kind::LayerNorm,
            "rms_norm" => Kind::RmsNorm,
            "batch_norm" => Kind::BatchNorm,
            "attention" => Kind::Attention,
            "ffn" => Kind::Ffn,
            "lm_head" => Kind::LmHead,
            "classifier" => Kind::Classifier,
            "conv2d" => Kind::Conv2d,
            "max_pool2d" => Kind::MaxPool2d,
            "avg_pool2d" => Kind::AvgPool2d,
            "global_pool" => Kind::GlobalPool,
            _ => return None,
        })
    }
}

/// A builtin module resolved once for a call site: which formula gives its shape and
/// cost, and where among its arguments (in declaration order) each argument the formula
/// reads sits. [`module`] resolves one per call; a compiled space keeps one per call site.
#[derive(Clone, Debug)]
pub struct Plan {
    name: &'static str,
    kind: Option<Kind>,
    /// Per [`A`]: the argument's position, `u8::MAX` when the module has none of that
    /// name.
    at: [u8; A_NAMES.len()],
}

impl Plan {
    /// The plan of builtin module `name`, whose parameters are `params` in order.
    pub fn new(name: &str, params: &[Name]) -> Plan {
        Plan {
            name: Name::new(name).as_str(),
            kind: Kind::of(name),
            at: positions(params),
        }
    }

    /// The output shape and cost of the module with arguments `vals` (in declaration
    /// order) on `input`; `Err` says why the module cannot take that input.
    pub fn apply(&self, vals: &[(Name, Value)], input: &Shape) -> Result<(Shape, Cost), String> {
        shape_cost(self.name, self.kind, &Read { vals, at: &self.at }, *input)
    }
}

/// Per [`A`]: its position among `params`, `u8::MAX` when none has its name.
fn positions(params: &[Name]) -> [u8; A_NAMES.len()] {
    let mut at = [u8::MAX; A_NAMES.len()];
    for (slot, a) in at.iter_mut().zip(A_NAMES) {
        if let Some(k) = params.iter().position(|p| &**p == a) {
            *slot = u8::try_from(k).unwrap_or(u8::MAX);
        }
    }
    at
}

/// The arguments of one application, read by [`A`].
struct Read<'a> {
    vals: &'a [(Name, Value)],
    at: &'a [u8; A_NAMES.len()],
}

impl Read<'_> {
    #[inline(always)]
    fn get(&self, a: A) -> Option<&Value> {
        self.vals.get(self.at[a as usize] as usize).map(|(_, v)| v)
    }

    #[inline(always)]
    fn int(&self, a: A) -> Result<i64, String> {
        match self.get(a) {
            Some(Value::Int(v)) => Ok(*v),
            _ => Err(format!("`{}` is not an integer", A_NAMES[a as usize])),
        }
    }

    #[inline(always)]
    fn bool(&self, a: A) -> bool {
        matches!(self.get(a), Some(Value::Bool(true)))
    }

    #[inline(always)]
    fn sym(&self, a: A) -> (&str, &[(Name, Value)]) {
        match self.get(a) {
            Some(Value::Sym(n, p)) => (&**n, p.as_slice()),
            _ => ("", &[]),
        }
    }
}

/// The integer `name` of a symbol's payload (`local(window = 16)`).
fn payload_int(payload: &[(Name, Value)], name: &str) -> Result<i64, String> {
    match payload.iter().find(|(n, _)| &**n == name) {
        Some((_, Value::Int(v))) => Ok(*v),
        _ => Err(format!("`{name}` is not an integer")),
    }
}

/// Checked arithmetic for costs: products of sizes that overflow are an error.
#[inline(always)]
fn m(factors: &[i64]) -> Result<u64, String> {
    let mut acc: u64 = 1;
    for &f in factors {
        let f = u64::try_from(f).map_err(|_| "a negative size".to_string())?;
        acc = acc
            .checked_mul(f)
            .ok_or("a size too large to count (over 2^64)")?;
    }
    Ok(acc)
}

#[inline(always)]
fn sum(parts: &[u64]) -> u64 {
    parts.iter().fold(0u64, |a, b| a.saturating_add(*b))
}

/// Rows and width of a shape that holds vectors (a sequence or one vector).
#[inline]
fn rows(shape: &Shape, module: &str) -> Result<(i64, i64), String> {
    match *shape {
        Shape::Seq { len, width } => Ok((len, width)),
        Shape::Vector { width } => Ok((1, width)),
        other => Err(format!(
            "`{module}` needs a sequence or a vector, and gets {}",
            describe(&other)
        )),
    }
}

/// A shape in words, for errors.
pub fn describe(s: &Shape) -> String {
    match s {
        Shape::Tokens { len } => format!("token ids (length {len}): embed them first"),
        Shape::Seq { len, width } => format!("a sequence of {len} × {width}"),
        Shape::Image {
            channels,
            height,
            width,
        } => format!("an image of {channels} × {height} × {width}"),
        Shape::Vector { width } => format!("a vector of {width}"),
    }
}

#[inline(always)]
fn same(shape: Shape, per_element_flops: i64) -> Result<(Shape, Cost), String> {
    let n = shape.elements() as i64;
    Ok((
        shape,
        Cost {
            params: 0,
            flops: m(&[n, per_element_flops])?,
            activation_memory: m(&[n, 4])?,
        },
    ))
}

/// The output shape and cost of builtin module `name` on `input`; `Err` says why the
/// module cannot take that input.
///
/// [`Plan`] resolves the same once for a call site; this resolves it for one application.
pub fn module(name: &str, args: &Args, input: &Shape) -> Result<(Shape, Cost), String> {
    let names: smallvec::SmallVec<[Name; 8]> = args.0.iter().map(|(n, _)| *n).collect();
    let at = positions(&names);
    shape_cost(
        name,
        Kind::of(name),
        &Read {
            vals: args.0,
            at: &at,
        },
        *input,
    )
}

fn shape_cost(
    name: &str,
    kind: Option<Kind>,
    args: &Read,
    input: Shape,
) -> Result<(Shape, Cost), String> {
    let Some(kind) = kind else {
        return Err(format!("the builtin module `{name}` has no implementation"));
    };
    match kind {
        Kind::Embedding => {
            let Shape::Tokens { len } = input else {
                return Err(format!(
                    "`embedding` reads token ids, and gets {}",
                    describe(&input)
                ));
            };
            let (vocab, dim) = (args.int(A::Vocab)?, args.int(A::Dim)?);
            let out = Shape::Seq { len, width: dim };
            Ok((
                out,
                Cost {
                    params: m(&[vocab, dim])?,
                    flops: 0,
                    activation_memory: m(&[len, dim, 4])?,
                },
            ))
        }
        Kind::Positions => {
            let Shape::Seq { len, width } = input else {
                return Err(format!(
                    "`positions` needs a sequence, and gets {}",
                    describe(&input)
                ));
            };
            let max_len = args.int(A::MaxLen)?;
            if len > max_len {
                return Err(format!(
                    "the sequence is {len} long, more than `max_len = {max_len}`"
                ));
            }
            let (params, per) = match args.sym(A::Kind).0 {
                "learned" => (m(&[len, width])?, 1),
                "sinusoidal" => (0, 1),
                "rotary" => (0, 3),
                _ => (0, 0),
            };
            Ok((
                input,
                Cost {
                    params,
                    flops: m(&[len, width, per])?,
                    activation_memory: m(&[len, width, 4])?,
                },
            ))
        }
        Kind::Linear => {
            let (n, w) = rows(&input, name)?;
            let out = args.int(A::Out)?;
            let bias = if args.bool(A::Bias) { out } else { 0 };
            let shape = match input {
                Shape::Seq { len, .. } => Shape::Seq { len, width: out },
                _ => Shape::Vector { width: out },
            };
            Ok((
                shape,
                Cost {
                    params: sum(&[m(&[w, out])?, m(&[bias])?]),
                    flops: m(&[2, n, w, out])?,
                    activation_memory: m(&[n, out, 4])?,
                },
            ))
        }
        Kind::Dropout | Kind::Identity => same(input, i64::from(kind == Kind::Dropout)),
        // Zeros of the input's shape: nothing to compute, nothing kept for the backward pass.
        Kind::Zero => Ok((input, Cost::default())),
        Kind::Act => {
            if args.sym(A::Kind).0 == "swiglu" {
                return Err(
                    "`swiglu` is a gated activation: use it as `ffn(activation = swiglu)`".into(),
                );
            }
            rows(&input, name).or_else(|e| match input {
                Shape::Image { .. } => Ok((0, 0)),
                _ => Err(e),
            })?;
            same(input, 1)
        }
        Kind::LayerNorm | Kind::RmsNorm | Kind::BatchNorm => {
            let w = input
                .features()
                .ok_or_else(|| format!("`{name}` needs features, and gets {}", describe(&input)))?;
            let (params, per) = match kind {
                Kind::LayerNorm => (m(&[2, w])?, 5),
                Kind::RmsNorm => (m(&[w])?, 4),
                _ => (m(&[2, w])?, 4),
            };
            let (shape, mut cost) = same(input, per)?;
            cost.params = params;
            Ok((shape, cost))
        }
        Kind::Attention => attention(args, input),
        Kind::Ffn => {
            let (n, w) = rows(&input, name)?;
            let h = args.int(A::Hidden)?;
            let gated = args.sym(A::Activation).0 == "swiglu";
            let mats = if gated { 3 } else { 2 };
            let up = sum(&[m(&[w, h])?, m(&[h])?]);
            let params = sum(&[m(&[mats - 1])?.saturating_mul(up), m(&[h, w])?, m(&[w])?]);
            Ok((
                input,
                Cost {
                    params,
                    flops: sum(&[m(&[2, n, w, h, mats])?, m(&[n, h, mats - 1])?]),
                    activation_memory: m(&[n, sum(&[m(&[h, mats])?, m(&[w])?]) as i64, 4])?,
                },
            ))
        }
        Kind::LmHead => {
            let Shape::Seq { len, width } = input else {
                return Err(format!(
                    "`lm_head` needs a sequence, and gets {}",
                    describe(&input)
                ));
            };
            let vocab = args.int(A::Vocab)?;
            let params = if args.bool(A::Tied) {
                m(&[vocab])?
            } else {
                sum(&[m(&[width, vocab])?, m(&[vocab])?])
            };
            Ok((
                Shape::Seq { len, width: vocab },
                Cost {
                    params,
                    flops: m(&[2, len, width, vocab])?,
                    activation_memory: m(&[len, vocab, 4])?,
                },
            ))
        }
        Kind::Classifier => {
            let classes = args.int(A::Classes)?;
            let (pool_flops, width) = match input {
                Shape::Seq { len, width } => (m(&[len, width])?, width),
                Shape::Image {
                    channels,
                    height,
                    width,
                } => (m(&[channels, height, width])?, channels),
                Shape::Vector { width } => (0, width),
                Shape::Tokens { .. } => {
                    return Err(format!(
                        "`classifier` needs features, and gets {}",
                        describe(&input)
                    ))
                }
            };
            Ok((
                Shape::Vector { width: classes },
                Cost {
                    params: sum(&[m(&[width, classes])?, m(&[classes])?]),
                    flops: sum(&[pool_flops, m(&[2, width, classes])?]),
                    activation_memory: m(&[sum(&[m(&[width])?, m(&[classes])?]) as i64, 4])?,
                },
            ))
        }
        Kind::Conv2d => {
            let (c, h, w) = image(&input, name)?;
            let (f, k, s) = (
                args.int(A::Filters)?,
                args.int(A::Kernel)?,
                args.int(A::Stride)?,
            );
            // The stdlib's `require stride > 0` holds this back, but a space may declare
            // its own `conv2d` without it.
            if s <= 0 {
                return Err(format!("a convolution stride of {s}"));
            }
            let (h2, w2) = (ceil_div(h, s), ceil_div(w, s));
            Ok((
                Shape::Image {
                    channels: f,
                    height: h2,
                    width: w2,
                },
                Cost {
                    params: sum(&[m(&[c, f, k, k])?, m(&[f])?]),
                    flops: m(&[2, h2, w2, c, k, k, f])?,
                    activation_memory: m(&[f, h2, w2, 4])?,
                },
            ))
        }
        Kind::MaxPool2d | Kind::AvgPool2d => {
            let (c, h, w) = image(&input, name)?;
            let p = args.int(A::Size)?;
            // A stride of 0 (the default) moves by the window: no padding, the image
            // shrinks `size` times. Another stride pads like `conv2d` (`ceil(h / s)`).
            let stride = args.get(A::Stride).and_then(Value::as_int).unwrap_or(0);
            if stride < 0 {
                return Err(format!("a pooling stride of {stride}"));
            }
            let (h2, w2) = if stride == 0 {
                if p <= 0 || h / p == 0 || w / p == 0 {
                    return Err(format!(
                        "pooling by {p} leaves nothing of an image of {h} × {w}"
                    ));
                }
                (h / p, w / p)
            } else {
                if p <= 0 {
                    return Err(format!("a pooling window of {p}"));
                }
                (ceil_div(h, stride), ceil_div(w, stride))
            };
            let out = Shape::Image {
                channels: c,
                height: h2,
                width: w2,
            };
            Ok((
                out,
                Cost {
                    params: 0,
                    flops: m(&[c, h2, w2, p, p])?,
                    activation_memory: m(&[out.elements() as i64, 4])?,
                },
            ))
        }
        Kind::GlobalPool => {
            let width = match input {
                Shape::Image { channels, .. } => channels,
                Shape::Seq { width, .. } => width,
                _ => {
                    return Err(format!(
                        "`global_pool` needs an image or a sequence, and gets {}",
                        describe(&input)
                    ))
                }
            };
            Ok((
                Shape::Vector { width },
                Cost {
                    params: 0,
                    flops: m(&[input.elements() as i64])?,
                    activation_memory: m(&[width, 4])?,
                },
            ))
        }
    }
}

/// `n / d` rounded up, for `d > 0`; `(n + d - 1) / d` overflows when `d` is large.
fn ceil_div(n: i64, d: i64) -> i64 {
    n / d + i64::from(n % d > 0)
}

fn image(s: &Shape, module: &str) -> Result<(i64, i64, i64), String> {
    match *s {
        Shape::Image {
            channels,
            height,
            width,
        } => Ok((channels, height, width)),
        other => Err(format!(
            "`{module}` needs an image, and gets {}",
            describe(&other)
        )),
    }
}

fn attention(args: &Read, input: Shape) -> Result<(Shape, Cost), String> {
    let Shape::Seq { len: t, width: d } = input else {
        return Err(format!(
            "`attention` needs a sequence, and gets {}",
            describe(&input)
        ));
    };
    let heads = args.int(A::Heads)?;
    if heads <= 0 || d % heads != 0 {
        return Err(format!("the width {d} does not split into {heads} heads"));
    }
    let dh = d / heads;
    let causal = args.bool(A::Causal);
    let (kind, payload) = args.sym(A::Kind);
    let projections = m(&[8, t, d, d])?;
    // The mechanism's own flops and the extra activations it keeps (numbers).
    let (mix_flops, mix_mem) = match kind {
        "softmax" => (m(&[4, t, t, d])?, m(&[heads, t, t])?),
        "local" => {
            let window = payload_int(payload, "window")?.clamp(1, t.max(1));
            (m(&[4, t, window, d])?, m(&[heads, t, window])?)
        }
        "linear" | "cosformer" => {
            // Feature maps of q and k; the key-value summary (a prefix sum when causal).
            let factor = if kind == "cosformer" { 2 } else { 1 };
            let states = if causal {
                m(&[t, d, dh])?
            } else {
                m(&[d, dh])?
            };
            (
                m(&[4, t, d, dh, factor])?,
                states.saturating_mul(factor as u64),
            )
        }
        "performer" => {
            let f = payload_int(payload, "features")?;
            let states = if causal {
                m(&[t, heads, f, dh])?
            } else {
                m(&[heads, f, dh])?
            };
            (m(&[8, t, f, d])?, sum(&[m(&[2, t, heads, f])?, states]))
        }
        other => return Err(format!("no attention mechanism `{other}`")),
    };
    Ok((
        input,
        Cost {
            params: m(&[4, sum(&[m(&[d, d])?, m(&[d])?]) as i64])?,
            flops: sum(&[projections, mix_flops]),
            activation_memory: sum(&[m(&[5, t, d])?, mix_mem]).saturating_mul(4),
        },
    ))
}

/// [`join`] of `add` over two inputs (a residual connection), without the general
/// loop: the same shape and cost, or the same error.
pub fn add(a: Shape, b: Shape) -> Result<(Shape, Cost), String> {
    if a != b {
        return join("add", &[a, b]);
    }
    let n = a.elements() as i64;
    Ok((
        a,
        Cost {
            params: 0,
            flops: m(&[n, 1])?,
            activation_memory: m(&[n, 4])?,
        },
    ))
}

/// The output shape and cost of `concat` or `add` over `inputs`.
pub fn join(op: &str, inputs: &[Shape]) -> Result<(Shape, Cost), String> {
    let first = *inputs
        .first()
        .ok_or_else(|| format!("`{op}` needs at least one input"))?;
    let out = if op == "add" {
        if let Some(other) = inputs.iter().find(|s| **s != first) {
            return Err(format!(
                "`add` joins tensors of one shape, and gets {} and {}",
                describe(&first),
                describe(other)
            ));
        }
        first
    } else {
        let mut total: i64 = 0;
        for s in inputs {
            let compatible = match (first, *s) {
                (Shape::Seq { len: a, .. }, Shape::Seq { len: b, .. }) => a == b,
                (
                    Shape::Image {
                        height: h1,
                        width: w1,
                        ..
                    },
                    Shape::Image {
                        height: h2,
                        width: w2,
                        ..
                    },
                ) => h1 == h2 && w1 == w2,
                (Shape::Vector { .. }, Shape::Vector { .. }) => true,
                _ => false,
            };
            if !compatible {
                return Err(format!(
                    "`concat` joins features of equal-sized tensors, and gets {} and {}",
                    describe(&first),
                    describe(s)
                ));
            }
            total = total
                .checked_add(s.features().unwrap_or(0))
                .ok_or("a width too large")?;
        }
        match first {
            Shape::Seq { len, .. } => Shape::Seq { len, width: total },
            Shape::Image { height, width, .. } => Shape::Image {
                channels: total,
                height,
                width,
            },
            _ => Shape::Vector { width: total },
        }
    };
    let n = out.elements() as i64;
    let adds = if op == "add" {
        inputs.len() as i64 - 1
    } else {
        0
    };
    Ok((
        out,
        Cost {
            params: 0,
            flops: m(&[n, adds])?,
            activation_memory: m(&[n, 4])?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_of_two_is_the_join_of_two() {
        let shapes = [
            Shape::Seq {
                len: 128,
                width: 96,
            },
            Shape::Seq { len: 64, width: 96 },
            Shape::Vector { width: 10 },
            Shape::Image {
                channels: 3,
                height: 32,
                width: 32,
            },
            Shape::Seq {
                len: i64::MAX,
                width: 3,
            },
        ];
        for a in shapes {
            for b in shapes {
                assert_eq!(add(a, b), join("add", &[a, b]), "{a:?} + {b:?}");
            }
        }
    }

    fn args(v: &[(&str, Value)]) -> Vec<(Name, Value)> {
        v.iter().map(|(k, x)| ((*k).into(), x.clone())).collect()
    }

    #[test]
    fn attention_params_are_four_projections_with_bias() {
        let a = args(&[
            ("heads", Value::Int(4)),
            ("kind", Value::Sym("softmax".into(), vec![])),
            ("causal", Value::Bool(true)),
            ("dropout", Value::Float(0.0)),
        ]);
        let (out, cost) = module(
            "attention",
            &Args(&a),
            &Shape::Seq {
                len: 128,
                width: 64,
            },
        )
        .unwrap();
        assert_eq!(
            out,
            Shape::Seq {
                len: 128,
                width: 64
            }
        );
        assert_eq!(cost.params, 4 * (64 * 64 + 64));
        assert_eq!(cost.flops, 8 * 128 * 64 * 64 + 4 * 128 * 128 * 64);
    }

    #[test]
    fn ffn_swiglu_has_a_gate() {
        let plain = args(&[
            ("hidden", Value::Int(8)),
            ("activation", Value::Sym("gelu".into(), vec![])),
        ]);
        let gated = args(&[
            ("hidden", Value::Int(8)),
            ("activation", Value::Sym("swiglu".into(), vec![])),
        ]);
        let s = Shape::Seq { len: 2, width: 4 };
        let (_, p) = module("ffn", &Args(&plain), &s).unwrap();
        let (_, g) = module("ffn", &Args(&gated), &s).unwrap();
        assert_eq!(p.params, (4 * 8 + 8) + (8 * 4 + 4));
        assert_eq!(g.params, 2 * (4 * 8 + 8) + (8 * 4 + 4));
    }

    #[test]
    fn conv_pads_to_same_size_and_strides() {
        let a = args(&[
            ("filters", Value::Int(16)),
            ("kernel", Value::Int(3)),
            ("stride", Value::Int(2)),
        ]);
        let img = Shape::Image {
            channels: 3,
            height: 32,
            width: 31,
        };
        let (out, cost) = module("conv2d", &Args(&a), &img).unwrap();
        assert_eq!(
            out,
            Shape::Image {
                channels: 16,
                height: 16,
                width: 16
            }
        );
        assert_eq!(cost.params, 3 * 16 * 9 + 16);
    }

    #[test]
    fn pooling_moves_by_its_window_unless_given_a_stride_and_zero_costs_nothing() {
        let img = Shape::Image {
            channels: 8,
            height: 32,
            width: 30,
        };
        let pool = |size: i64, stride: i64| {
            let a = args(&[("size", Value::Int(size)), ("stride", Value::Int(stride))]);
            module("avg_pool2d", &Args(&a), &img).map(|(out, _)| out)
        };
        let image = |height, width| Shape::Image {
            channels: 8,
            height,
            width,
        };
        // The default (stride 0) shrinks `size` times, as before strides existed.
        assert_eq!(pool(2, 0), Ok(image(16, 15)));
        // NAS-Bench-201's 3 × 3 pool with stride 1 keeps the size; stride 2 halves it.
        assert_eq!(pool(3, 1), Ok(image(32, 30)));
        assert_eq!(pool(3, 2), Ok(image(16, 15)));
        assert!(pool(64, 0).is_err());
        assert!(pool(3, -1).is_err());
        let (out, cost) = module("zero", &Args(&[]), &img).unwrap();
        assert_eq!(out, img);
        assert_eq!(cost, Cost::default());
    }

    #[test]
    fn wrong_inputs_are_errors_not_panics() {
        let a = args(&[("heads", Value::Int(3))]);
        assert!(module("attention", &Args(&a), &Shape::Seq { len: 4, width: 8 }).is_err());
        assert!(module("attention", &Args(&a), &Shape::Vector { width: 9 }).is_err());
        assert!(join(
            "add",
            &[Shape::Vector { width: 2 }, Shape::Vector { width: 3 }]
        )
        .is_err());
        let (out, _) = join(
            "concat",
            &[Shape::Vector { width: 2 }, Shape::Vector { width: 3 }],
        )
        .unwrap();
        assert_eq!(out, Shape::Vector { width: 5 });
        let huge = args(&[
            ("vocab", Value::Int(i64::MAX)),
            ("dim", Value::Int(i64::MAX)),
        ]);
        assert!(module("embedding", &Args(&huge), &Shape::Tokens { len: 1 }).is_err());
    }

    #[test]
    fn strides_without_the_stdlib_require_are_errors_or_exact() {
        // A space may declare its own `conv2d` without `require stride > 0`.
        let img = Shape::Image {
            channels: 3,
            height: 32,
            width: 32,
        };
        let conv = |s: i64| {
            let a = args(&[
                ("filters", Value::Int(4)),
                ("kernel", Value::Int(3)),
                ("stride", Value::Int(s)),
            ]);
            module("conv2d", &Args(&a), &img)
        };
        assert!(conv(0).unwrap_err().contains("stride of 0"));
        assert!(conv(-2).is_err());
        // A stride near `i64::MAX` once overflowed `height + stride - 1`.
        let (out, _) = conv(i64::MAX).unwrap();
        assert_eq!(
            out,
            Shape::Image {
                channels: 4,
                height: 1,
                width: 1
            }
        );
        let a = args(&[("size", Value::Int(2)), ("stride", Value::Int(i64::MAX))]);
        let (out, _) = module("max_pool2d", &Args(&a), &img).unwrap();
        assert_eq!(
            out,
            Shape::Image {
                channels: 3,
                height: 1,
                width: 1
            }
        );
        assert_eq!((ceil_div(7, 2), ceil_div(8, 2), ceil_div(0, 3)), (4, 4, 0));
    }
}
