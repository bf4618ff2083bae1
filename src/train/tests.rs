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
    let corpus = TextCorpus::open(&arch.data, None).unwrap();
    let (_, report) = train(
        &arch,
        &corpus,
        &settings(200, 16, "adamw", 3e-3),
        &device,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(report.status, Status::Ok);
    // The unigram baseline of this corpus is about 3.3 nats (perplexity ~27).
    assert!(
        report.val_loss < 0.8 * report.unigram_loss,
        "val loss {} vs unigram {}",
        report.val_loss,
        report.unigram_loss
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
