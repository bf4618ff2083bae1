//! Tests of the training stage: models really learn (one batch memorised by every
//! mechanism, Shakespeare better than the unigram baseline), divergence ends a trial as
//! failed, and the same seed trains to the same numbers.

use burn::tensor::Device;

use super::data::TextCorpus;
use super::settings::TrainSettings;
use super::{train, Quiet, Status};
use crate::interp::{Name, Value};
use crate::model::tests::{fixed, sample, KINDS};

fn settings(steps: i64, batch: i64, optimizer: &str, lr: f64) -> TrainSettings {
    let fields: Vec<(Name, Value)> = vec![
        ("steps".into(), Value::Int(steps)),
        ("batch".into(), Value::Int(batch)),
        ("warmup".into(), Value::Int(steps / 10)),
        ("eval_every".into(), Value::Int(steps)),
        ("eval_batches".into(), Value::Int(2)),
        (
            "optimizer".into(),
            Value::Sym(optimizer.into(), vec![("lr".into(), Value::Float(lr))]),
        ),
    ];
    TrainSettings::from_fields(&fields).unwrap()
}

/// A corpus whose training part is one window: every batch is the same example.
fn one_example(context: usize) -> TextCorpus {
    let text = b"To be, or not to be, that is the question: whether 'tis nobler in the mind";
    let train_part = &text[..context + 1];
    let mut bytes = train_part.to_vec();
    bytes.extend_from_slice(&text[..context + 1]);
    TextCorpus::from_bytes("one", bytes, context, 0.5).unwrap()
}

#[test]
fn every_mechanism_memorises_one_batch() {
    let device = Device::flex();
    let corpus = one_example(16);
    for kind in KINDS {
        let arch = fixed(kind, "learned", true, 16);
        let (_, report) = train(
            &arch,
            &corpus,
            &settings(120, 4, "adam", 1e-2),
            &device,
            &mut Quiet,
        )
        .unwrap();
        assert_eq!(report.status, Status::Ok, "{kind}: {:?}", report.reason);
        assert!(
            report.first_val_loss > 5.0,
            "{kind}: an untrained model is near ln 256 = 5.55, not {}",
            report.first_val_loss
        );
        // The validation part is the same window: its loss is the memorised batch's.
        assert!(
            report.val_loss < 0.05,
            "{kind}: loss {} after memorising one batch",
            report.val_loss
        );
    }
}

#[test]
fn a_small_model_beats_the_unigram_baseline_on_shakespeare() {
    let device = Device::flex();
    let src = "import std.transformer.{ attention, ffn, pre_norm }
space s {
    graph {
        embedding(vocab = data.vocab, dim = 64)
        positions(kind = learned)
        repeat 2 {
            pre_norm(attention(heads = 4))
            pre_norm(ffn(hidden = 128))
        }
        layer_norm()
        lm_head(vocab = data.vocab)
    }
    data = text_corpus(\"tiny_shakespeare\", context = 32)
}";
    let arch = sample(src, 1, 0).remove(0);
    let corpus = super::data::open(&arch.data, None).unwrap();
    let (_, report) = train(
        &arch,
        corpus.as_ref(),
        &settings(200, 16, "adamw", 3e-3),
        &device,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(report.status, Status::Ok);
    // The unigram baseline of this corpus is about 3.3 nats (perplexity ~27).
    assert!(
        report.val_loss < 0.8 * report.baseline_loss,
        "val loss {} vs unigram {}",
        report.val_loss,
        report.baseline_loss
    );
    assert!(report.val_loss < report.first_val_loss - 2.0);
    assert_eq!(report.params, arch.metrics.params);
    assert!(report.tokens_per_s > 0.0 && report.latency_ms > 0.0);
}

#[test]
fn a_diverging_run_fails_with_its_reason() {
    let device = Device::flex();
    let arch = fixed("softmax", "learned", true, 16);
    let corpus = one_example(16);
    let mut s = settings(60, 4, "sgd", 1e6);
    s.grad_clip = 0.0;
    let (_, report) = train(&arch, &corpus, &s, &device, &mut Quiet).unwrap();
    assert_eq!(report.status, Status::Failed);
    let reason = report.reason.unwrap();
    assert!(reason.contains("training loss"), "{reason}");
    assert!(report.steps < 60);
}

#[test]
fn an_architecture_that_does_not_fit_the_data_is_an_error() {
    let device = Device::flex();
    let arch = fixed("softmax", "learned", true, 16);
    let corpus = TextCorpus::from_bytes("t", vec![b'a'; 200], 32, 0.5).unwrap();
    let e = train(
        &arch,
        &corpus,
        &settings(1, 1, "adam", 1e-3),
        &device,
        &mut Quiet,
    )
    .unwrap_err();
    assert!(e.message.contains("[32, 256]"), "{}", e.message);
}

#[test]
fn a_small_vocabulary_or_a_zero_eps_is_an_error_not_a_panic() {
    let device = Device::flex();
    let corpus = one_example(8);
    let space = |graph: &str| {
        sample(
            &format!(
                "space s {{ graph {{ {graph} }} data = text_corpus(\"tiny_shakespeare\", context = 8) }}"
            ),
            1,
            0,
        )
        .remove(0)
    };
    let small = space("embedding(vocab = 100, dim = 16) lm_head(vocab = data.vocab)");
    let e = train(
        &small,
        &corpus,
        &settings(1, 1, "adam", 1e-3),
        &device,
        &mut Quiet,
    )
    .unwrap_err();
    assert!(e.message.contains("embeds 100 tokens"), "{}", e.message);
    let eps = space(
        "embedding(vocab = data.vocab, dim = 16) rms_norm(eps = 0.0) lm_head(vocab = data.vocab)",
    );
    let e = train(
        &eps,
        &corpus,
        &settings(1, 1, "adam", 1e-3),
        &device,
        &mut Quiet,
    )
    .unwrap_err();
    assert!(
        e.message.contains("`eps` must be positive"),
        "{}",
        e.message
    );
}

/// A classification set where the label is whether token 7 occurs anywhere: a model must
/// look at the whole sequence, and an input-blind guess scores about half.
fn contains_seven(n: usize, len: usize) -> super::data::labelled::Labelled {
    let mut r = crate::interp::strategy::rng(11);
    let examples = (0..n)
        .map(|_| {
            use rand::RngExt;
            let mut tokens: Vec<u32> = (0..len).map(|_| r.random_range(1..7u32)).collect();
            let label = r.random_range(0..2u32);
            if label == 1 {
                let at = r.random_range(0..len);
                tokens[at] = 7;
            }
            (tokens, label)
        })
        .collect();
    super::data::labelled::Labelled::split("sevens", examples, len, 8, 2, 0.2).unwrap()
}

#[test]
fn a_classifier_learns_a_labelled_set() {
    let device = Device::flex();
    let set = contains_seven(600, 12);
    let arch = sample(
        "import std.transformer.{ attention, pre_norm }
space s {
    graph {
        embedding(vocab = data.vocab, dim = 32)
        pre_norm(attention(heads = 4, causal = false))
        layer_norm()
        classifier(classes = data.classes, pool = mean)
    }
    data = text_classification(\"sevens.csv\", max_len = 12)
}",
        1,
        0,
    )
    .remove(0);
    let (_, report) = train(
        &arch,
        &set,
        &settings(150, 32, "adamw", 3e-3),
        &device,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(report.status, Status::Ok, "{:?}", report.reason);
    assert!(
        (0.35..0.65).contains(&report.baseline_accuracy),
        "the labels are balanced: {}",
        report.baseline_accuracy
    );
    assert!(
        report.val_accuracy > 0.9,
        "accuracy {} (baseline {})",
        report.val_accuracy,
        report.baseline_accuracy
    );
    assert!(report.val_loss < report.baseline_loss);
    assert_eq!(report.val_perplexity, None, "labels have no perplexity");
    assert_eq!(report.bits_per_char, None);
}

#[test]
fn a_causal_model_learns_to_copy_and_only_the_answer_is_scored() {
    let device = Device::flex();
    let arch = sample(
        "import std.transformer.{ attention, ffn, pre_norm }
space s {
    graph {
        embedding(vocab = data.vocab, dim = 32)
        positions(kind = learned)
        repeat 2 {
            pre_norm(attention(heads = 4))
            pre_norm(ffn(hidden = 64))
        }
        layer_norm()
        lm_head(vocab = data.vocab)
    }
    data = synthetic(copy, length = 12, vocab = 6)
}",
        1,
        0,
    )
    .remove(0);
    let set = super::data::open(&arch.data, None).unwrap();
    let (_, report) = train(
        &arch,
        set.as_ref(),
        &settings(300, 32, "adamw", 3e-3),
        &device,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(report.status, Status::Ok, "{:?}", report.reason);
    // Five symbols drawn uniformly: an input-blind model scores about 20% at ln 5 nats.
    assert!((report.baseline_loss - 5f64.ln()).abs() < 0.05);
    assert!(
        report.val_accuracy > 0.9,
        "accuracy {} (baseline {})",
        report.val_accuracy,
        report.baseline_accuracy
    );
    assert!(report.val_perplexity.is_some() && report.bits_per_char.is_none());
}

#[test]
fn the_loss_scores_only_targets_that_are_not_ignored() {
    use burn::tensor::{Tensor, TensorData};
    let device = Device::flex();
    // Two rows of logits over three options; the second row is ignored.
    let logits = || {
        Tensor::<2>::from_data(
            TensorData::new(vec![2.0f32, 0.0, 0.0, 0.0, 5.0, 0.0], [2, 3]),
            &device,
        )
    };
    let masked = super::loss_of(logits(), &[0, super::data::IGNORE], &device);
    let only_first = -(2f64.exp() / (2f64.exp() + 2.0)).ln();
    let got = f64::from(masked.into_scalar::<f32>());
    assert!((got - only_first).abs() < 1e-5, "{got} vs {only_first}");
    let both = f64::from(super::loss_of(logits(), &[0, 0], &device).into_scalar::<f32>());
    let second = -(1.0 / (5f64.exp() + 2.0)).ln();
    assert!((both - (only_first + second) / 2.0).abs() < 1e-5, "{both}");
}

#[test]
fn tasks_refuse_architectures_that_cannot_learn_them() {
    let device = Device::flex();
    let s = settings(1, 1, "adam", 1e-3);
    // Attention that sees later tokens would read the next token from its input.
    let peeking = fixed("softmax", "learned", false, 16);
    let e = train(&peeking, &one_example(16), &s, &device, &mut Quiet).unwrap_err();
    assert!(
        e.message.contains("attends to later tokens"),
        "{}",
        e.message
    );
    // A language model's head on a classification set, and a classifier on text.
    let lm = fixed("softmax", "learned", true, 12);
    let e = train(&lm, &contains_seven(20, 12), &s, &device, &mut Quiet).unwrap_err();
    assert!(
        e.message.contains("must output logits of [2]"),
        "{}",
        e.message
    );
    let classifier = sample(
        "space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        classifier(classes = 2, pool = mean)
    }
    data = text_corpus(\"tiny_shakespeare\", context = 16)
}",
        1,
        0,
    )
    .remove(0);
    let e = train(&classifier, &one_example(16), &s, &device, &mut Quiet).unwrap_err();
    assert!(e.message.contains("[16, 256]"), "{}", e.message);
}

#[test]
fn one_spike_is_not_divergence_but_a_sustained_climb_is() {
    // A binary classifier starts near ln 2; one step at 2.3 is a spike, not a divergence.
    let mut d = super::Divergence::default();
    let spiky = [0.74, 2.3, 0.9, 0.7, 0.69, 0.68];
    for (step, &loss) in spiky.iter().enumerate() {
        assert_eq!(d.check(loss, step), None, "step {step}");
    }
    let mut d = super::Divergence::default();
    let climbing = [5.5, 6.0, 9.0, 14.0, 20.0, 30.0, 40.0, 60.0];
    let stop = climbing
        .iter()
        .enumerate()
        .find_map(|(step, &loss)| d.check(loss, step).map(|r| (step, r)));
    let (step, reason) = stop.expect("a loss that climbs tenfold diverges");
    assert!((4..8).contains(&step), "stopped at step {step}");
    assert!(reason.contains("exploded"), "{reason}");
    assert!(super::Divergence::default()
        .check(f64::NAN, 0)
        .is_some_and(|r| r.contains("NaN")));
}
