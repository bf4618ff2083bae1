//! Tests of the model stage: parameter counts against the IR, shapes, causal masking of
//! every attention mechanism.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{Flow, Net};
use crate::interp::strategy::{self, RandomSearch};
use crate::interp::{Arch, Interp};

/// Checks `src` (imports resolve against the crate root) and samples `n` architectures.
pub(crate) fn sample(src: &str, n: usize, seed: u64) -> Vec<Arch> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let mut sink = crate::diag::Sink::default();
    let program = crate::check::load("test.nas", src.to_string(), Some(dir), &mut sink);
    let checked = crate::check::check(program, &mut sink);
    assert!(!sink.has_errors(), "the test space checks clean:\n{src}");
    let interp = Interp::new(&checked, &checked.spaces[0]).expect("the space builds");
    let mut rng = strategy::rng(seed);
    strategy::sample(&interp, &mut RandomSearch, &mut rng, n, 10_000)
        .unwrap_or_else(|_| panic!("the space samples"))
        .0
}

/// A one-architecture space: embedding, `positions`, one pre-norm attention block with
/// `kind`, a feed-forward block, the head.
pub(crate) fn fixed(kind: &str, positions: &str, causal: bool, context: usize) -> Arch {
    let src = format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space s {{
    graph {{
        embedding(vocab = data.vocab, dim = 32)
        positions(kind = {positions})
        pre_norm(attention(heads = 4, kind = {kind}, causal = {causal}))
        pre_norm(ffn(hidden = 64, activation = gelu))
        layer_norm()
        lm_head(vocab = data.vocab)
    }}
    data = text_corpus(\"tiny_shakespeare\", context = {context})
}}"
    );
    sample(&src, 1, 0).remove(0)
}

/// Every mechanism of `attention_kind`, as written in `.nas`.
pub(crate) const KINDS: [&str; 5] = [
    "softmax",
    "linear",
    "cosformer",
    "local(window = 4)",
    "performer(features = 16)",
];

fn logits(net: &Net, tokens: &[i64], device: &Device) -> Vec<f32> {
    let t =
        Tensor::<2, Int>::from_data(TensorData::new(tokens.to_vec(), [1, tokens.len()]), device);
    match net.forward(t) {
        Flow::Seq(x) => x.into_data().try_to_vec::<f32>().expect("f32 logits"),
        _ => panic!("a language model outputs a sequence"),
    }
}

#[test]
fn built_models_have_exactly_the_static_parameter_count() {
    let device = Device::flex();
    let spaces = [
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tiny_lm.nas"))
            .unwrap(),
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/attention_search.nas"
        ))
        .unwrap(),
    ];
    let mut seen = 0;
    for src in &spaces {
        for arch in sample(src, 6, 11) {
            let net = Net::new(&arch, &device, 0).expect("text architectures build");
            assert_eq!(
                net.num_params() as u64,
                arch.metrics.params,
                "{}",
                arch.hash_hex()
            );
            seen += 1;
        }
    }
    for kind in KINDS {
        for positions in ["learned", "sinusoidal", "rotary", "none"] {
            let arch = fixed(kind, positions, true, 16);
            let net = Net::new(&arch, &device, 0).unwrap();
            assert_eq!(
                net.num_params() as u64,
                arch.metrics.params,
                "{kind} {positions}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 12 + 20);
}

#[test]
fn tied_heads_share_the_embedding_and_swiglu_has_a_gate() {
    let src = "import std.transformer.{ ffn }
space s {
    graph {
        embedding(vocab = data.vocab, dim = 24)
        ffn(hidden = 40, activation = swiglu)
        rms_norm()
        lm_head(vocab = data.vocab, tied = true)
    }
    data = text_corpus(\"tiny_shakespeare\", context = 8)
}";
    let arch = sample(src, 1, 0).remove(0);
    let net = Net::new(&arch, &Device::flex(), 0).unwrap();
    // embedding 256·24, swiglu 2·(24·40 + 40) + 40·24 + 24, rms 24, tied head bias 256.
    let expected = 256 * 24 + 2 * (24 * 40 + 40) + 40 * 24 + 24 + 24 + 256;
    assert_eq!(net.num_params(), expected);
    assert_eq!(arch.metrics.params, expected as u64);
    let out = logits(&net, &[1, 2, 3, 4, 5, 6, 7, 8], &Device::flex());
    assert_eq!(out.len(), 8 * 256);
    assert!(out.iter().all(|x| x.is_finite()));
}

#[test]
fn every_mechanism_outputs_the_sequence_shape() {
    let device = Device::flex();
    for kind in KINDS {
        for causal in [true, false] {
            let arch = fixed(kind, "rotary", causal, 12);
            let net = Net::new(&arch, &device, 0).unwrap();
            let tokens: Vec<i64> = (0..24).map(|i| (i * 7 % 256) as i64).collect();
            let t = Tensor::<2, Int>::from_data(TensorData::new(tokens, [2, 12]), &device);
            let Flow::Seq(out) = net.forward(t) else {
                panic!()
            };
            assert_eq!(out.dims(), [2, 12, 256], "{kind}");
            let vals = out.into_data().try_to_vec::<f32>().unwrap();
            assert!(vals.iter().all(|x| x.is_finite()), "{kind} causal={causal}");
        }
    }
}

#[test]
fn no_information_flows_from_future_tokens() {
    let device = Device::flex();
    let len = 12;
    let base: Vec<i64> = (0..len).map(|i| (i * 37 % 256) as i64).collect();
    for kind in KINDS {
        for positions in ["learned", "rotary"] {
            let arch = fixed(kind, positions, true, len);
            let net = Net::new(&arch, &device, 0).unwrap();
            let before = logits(&net, &base, &device);
            for p in [3usize, 7, len - 1] {
                let mut changed = base.clone();
                changed[p] = (changed[p] + 101) % 256;
                let after = logits(&net, &changed, &device);
                for pos in 0..len {
                    let row = pos * 256..(pos + 1) * 256;
                    let diff = before[row.clone()]
                        .iter()
                        .zip(&after[row])
                        .map(|(a, b)| (a - b).abs())
                        .fold(0f32, f32::max);
                    // One local block with window 4: token p reaches p..p+4 only.
                    let reach = if kind.starts_with("local") {
                        p + 4
                    } else {
                        len
                    };
                    if pos < p || pos >= reach {
                        assert!(
                            diff < 1e-5,
                            "{kind} {positions}: token {p} changed position {pos} by {diff}"
                        );
                    } else {
                        assert!(
                            diff > 1e-6,
                            "{kind} {positions}: token {p} did not reach position {pos}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn bidirectional_attention_sees_later_tokens() {
    let device = Device::flex();
    let len = 12;
    let base: Vec<i64> = (0..len).map(|i| (i * 37 % 256) as i64).collect();
    for kind in KINDS {
        let arch = fixed(kind, "learned", false, len);
        let net = Net::new(&arch, &device, 0).unwrap();
        let before = logits(&net, &base, &device);
        let mut changed = base.clone();
        // Within the local window (2 either side) of position 1.
        changed[3] = (changed[3] + 101) % 256;
        let after = logits(&net, &changed, &device);
        let diff = before[256..512]
            .iter()
            .zip(&after[256..512])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff > 1e-6, "{kind}: position 1 does not see position 3");
    }
}

#[test]
fn local_attention_sees_only_its_window() {
    let device = Device::flex();
    let len = 12;
    let base: Vec<i64> = (0..len).map(|i| (i * 37 % 256) as i64).collect();
    // One block, window 4: position 9 sees 6..=9, not 5. (Two blocks would widen it.)
    let arch = fixed("local(window = 4)", "none", true, len);
    let net = Net::new(&arch, &device, 0).unwrap();
    let before = logits(&net, &base, &device);
    let row = |v: &[f32]| v[9 * 256..10 * 256].to_vec();
    let delta = |p: usize| {
        let mut changed = base.clone();
        changed[p] = (changed[p] + 101) % 256;
        let after = logits(&net, &changed, &device);
        row(&before)
            .iter()
            .zip(row(&after))
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    };
    assert!(delta(5) < 1e-5, "position 5 is outside the window of 9");
    assert!(delta(6) > 1e-6, "position 6 is inside the window of 9");
}

#[test]
fn parallel_branches_join_by_concat_and_add() {
    let src = "import std.transformer.{ attention, ffn }
space s {
    graph {
        let x = input >> embedding(vocab = data.vocab, dim = 16)
        let a = x >> attention(heads = 2)
        let b = x >> linear(out = 8)
        let c = x >> ffn(hidden = 32)
        let joined = concat(a, b) >> linear(out = 16)
        add(joined, c)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus(\"tiny_shakespeare\", context = 8)
}";
    let arch = sample(src, 1, 0).remove(0);
    let device = Device::flex();
    let net = Net::new(&arch, &device, 0).unwrap();
    assert_eq!(net.num_params() as u64, arch.metrics.params);
    let out = logits(&net, &[10, 20, 30, 40, 50, 60, 70, 80], &device);
    assert_eq!(out.len(), 8 * 256);
    assert!(out.iter().all(|x| x.is_finite()));
}

#[test]
fn a_classifier_pools_the_sequence_into_class_logits() {
    for pool in ["mean", "first"] {
        let src = format!(
            "space s {{
    graph {{
        embedding(vocab = data.vocab, dim = 16)
        classifier(classes = 3, pool = {pool})
    }}
    data = text_corpus(\"tiny_shakespeare\", context = 6)
}}"
        );
        let arch = sample(&src, 1, 0).remove(0);
        let device = Device::flex();
        let net = Net::new(&arch, &device, 0).unwrap();
        assert_eq!(net.num_params(), 256 * 16 + 16 * 3 + 3);
        let t = Tensor::<2, Int>::from_data(
            TensorData::new(vec![1i64, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1], [2, 6]),
            &device,
        );
        let Flow::Vector(out) = net.forward(t) else {
            panic!("a classifier outputs one vector per example")
        };
        assert_eq!(out.dims(), [2, 3]);
        // First-token pooling sees only token 1 and token 6: the rows differ; mean pooling
        // sees the same multiset of tokens in both rows: the rows agree.
        let v = out.into_data().try_to_vec::<f32>().unwrap();
        let same = v[..3]
            .iter()
            .zip(&v[3..])
            .all(|(a, b)| (a - b).abs() < 1e-5);
        assert_eq!(same, pool == "mean", "{pool}: {v:?}");
    }
}

/// A one-layer classifier of `reviews.csv` (8 tokens) with attention of `kind`, which
/// reads a padding mask.
fn padded_classifier(kind: &str) -> Arch {
    let src = format!(
        "import std.transformer.{{ attention, ffn, pre_norm }}
space s {{
    graph {{
        embedding(vocab = data.vocab, dim = 32)
        positions(kind = learned)
        pre_norm(attention(heads = 4, kind = {kind}, causal = false))
        pre_norm(ffn(hidden = 64))
        classifier(classes = data.classes, pool = mean)
    }}
    data = text_classification(\"reviews.csv\", max_len = 8)
}}"
    );
    sample(&src, 1, 0).remove(0)
}

#[test]
fn padding_cannot_change_what_a_classifier_sees() {
    let device = Device::flex();
    for kind in KINDS {
        let arch = padded_classifier(kind);
        let net = Net::new(&arch, &device, 3).unwrap();
        let run = |tokens: Vec<i64>, keep: Option<Vec<f32>>| -> Vec<f32> {
            let t = Tensor::<2, Int>::from_data(TensorData::new(tokens, [1, 8]), &device);
            let k = keep.map(|k| Tensor::<2>::from_data(TensorData::new(k, [1, 8]), &device));
            match net.forward_padded(t, k) {
                Flow::Vector(x) => x.into_data().try_to_vec::<f32>().expect("f32 logits"),
                _ => panic!("a classifier outputs a vector"),
            }
        };
        let keep = vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let (a, b) = (
            vec![72, 101, 108, 108, 111, 0, 0, 0],
            vec![72, 101, 108, 108, 111, 33, 200, 7],
        );
        let (masked_a, masked_b) = (
            run(a.clone(), Some(keep.clone())),
            run(b.clone(), Some(keep)),
        );
        for (x, y) in masked_a.iter().zip(&masked_b) {
            assert!((x - y).abs() < 1e-5, "{kind}: padding changed the logits");
        }
        let (plain_a, plain_b) = (run(a, None), run(b, None));
        assert!(
            plain_a
                .iter()
                .zip(&plain_b)
                .any(|(x, y)| (x - y).abs() > 1e-4),
            "{kind}: without a mask the padded positions do count"
        );
    }
}

/// Logits of `tokens` (with `keep`, a padding mask) and the gradient of `sum(logits · w)`
/// with respect to the embedding, which every block's backward pass reaches.
fn logits_and_embedding_grad(
    net: &Net,
    tokens: &[i64],
    keep: Option<&[f32]>,
    device: &Device,
) -> (Vec<f32>, Vec<f32>) {
    let n = tokens.len();
    let t = Tensor::<2, Int>::from_data(TensorData::new(tokens.to_vec(), [1, n]), device);
    let k = keep.map(|k| Tensor::<2>::from_data(TensorData::new(k.to_vec(), [1, n]), device));
    let out = match net.forward_padded(t, k) {
        Flow::Seq(x) => x.flatten::<1>(0, 2),
        Flow::Vector(x) => x.flatten::<1>(0, 1),
        Flow::Tokens(_) => panic!("a model outputs floats"),
    };
    let len = out.dims()[0];
    let w: Vec<f32> = (0..len)
        .map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5)
        .collect();
    let w = Tensor::<1>::from_data(TensorData::new(w, [len]), device);
    let grads = (out.clone() * w).sum().backward();
    let embedding = net
        .blocks
        .iter()
        .find_map(|b| match b {
            super::Block::Embedding(e) => Some(e.weight.val()),
            _ => None,
        })
        .expect("an embedding");
    let g = embedding
        .grad(&grads)
        .expect("the embedding has a gradient");
    let vals = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32");
    (vals(out), vals(g.flatten::<1>(0, 1)))
}

#[test]
fn the_fused_kernels_train_the_same_model_as_burns_operations() {
    let device = Device::flex().autodiff();
    let close = |a: &[f32], b: &[f32], what: &str| {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * scale, "{what}: fused {x}, burn {y}");
        }
    };
    let tokens: Vec<i64> = (0..16).map(|i| (i * 37 + 11) % 256).collect();
    for kind in KINDS {
        for causal in [true, false] {
            let arch = fixed(kind, "rotary", causal, 16);
            let net = Net::new(&arch, &device, 0).unwrap();
            let fused = logits_and_embedding_grad(&net, &tokens, None, &device);
            let burn = super::kernels::without_kernels(|| {
                logits_and_embedding_grad(&net, &tokens, None, &device)
            });
            close(
                &fused.0,
                &burn.0,
                &format!("{kind} causal={causal}: logits"),
            );
            close(
                &fused.1,
                &burn.1,
                &format!("{kind} causal={causal}: gradient"),
            );
        }
    }
    // A classifier with padding: the masked softmax rather than the joined attention.
    let arch = padded_classifier("softmax");
    let net = Net::new(&arch, &device, 3).unwrap();
    let (tokens, keep) = (
        [72, 101, 108, 108, 111, 0, 0, 0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0],
    );
    let fused = logits_and_embedding_grad(&net, &tokens, Some(&keep), &device);
    let burn = super::kernels::without_kernels(|| {
        logits_and_embedding_grad(&net, &tokens, Some(&keep), &device)
    });
    close(&fused.0, &burn.0, "classifier logits");
    close(&fused.1, &burn.1, "classifier gradient");
}
