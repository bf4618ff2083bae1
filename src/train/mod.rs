//! The training stage: a model of a concrete architecture is trained on its space's data
//! and measured.
//!
//! Training is real: next-token cross-entropy on batches of the corpus, gradients by
//! burn's autodiff, AdamW (or Adam, SGD) with warm-up and a cosine or linear decay, the
//! global gradient norm clipped. Every `eval_every` steps the loss on the fixed validation
//! set is measured. A loss that turns NaN or explodes ends the trial as *failed*, with its
//! reason; it never ends the process.
//!
//! What comes out is a [`Report`]: the validation loss (and perplexity, bits per
//! character), the first validation loss (before any step), the parameter count of the
//! built model, training throughput, measured inference latency, peak memory and wall
//! time.

pub mod data;
pub mod device;
pub mod settings;
#[cfg(test)]
mod tests;

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::{momentum::MomentumConfig, AdamConfig, AdamWConfig, GradientsParams, SgdConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use crate::interp::Arch;
use crate::model::{Flow, Net};
use data::{Batch, TextCorpus, BYTE_VOCAB};
use settings::{OptimizerKind, TrainSettings};

/// How a trial ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every step ran (or the time limit stopped it) with a finite loss.
    Ok,
    /// Training diverged; the reason says how.
    Failed,
}

/// One evaluation during training.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvalPoint {
    /// Steps done when it was taken.
    pub step: usize,
    /// Mean training loss of the steps since the previous evaluation (`None` before any).
    pub train_loss: Option<f64>,
    /// Validation loss (nats per token).
    pub val_loss: f64,
}

/// What a trial measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// How it ended.
    pub status: Status,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Optimizer steps done.
    pub steps: usize,
    /// Validation loss of the untrained model.
    pub first_val_loss: f64,
    /// Validation loss at the end (nats per token).
    pub val_loss: f64,
    /// `exp(val_loss)`.
    pub val_perplexity: f64,
    /// `val_loss / ln 2`: bits per character of byte-level text.
    pub bits_per_char: f64,
    /// Mean training loss over the last evaluation interval.
    pub train_loss: f64,
    /// The unigram baseline's validation loss on the same corpus.
    pub unigram_loss: f64,
    /// Trainable parameters of the built model.
    pub params: u64,
    /// Training tokens per second (evaluations excluded).
    pub tokens_per_s: f64,
    /// Milliseconds per training step (evaluations excluded).
    pub ms_per_step: f64,
    /// Median time of one inference forward pass of a batch, in milliseconds.
    pub latency_ms: f64,
    /// Peak resident memory of the process, in bytes (`None` where the system does not say).
    pub peak_mem_bytes: Option<u64>,
    /// Wall time of the trial, evaluations included.
    pub wall_s: f64,
    /// The evaluations, in order.
    pub curve: Vec<EvalPoint>,
}

/// Why training could not start.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

/// Sees training as it goes (a progress bar, a log).
pub trait Observer {
    /// After each optimizer step.
    fn step(&mut self, _step: usize, _loss: f64, _lr: f64) {}
    /// After each evaluation.
    fn eval(&mut self, _point: &EvalPoint) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// Trains `arch` on `corpus` with `settings` on `device` (a plain device: the stage adds
/// autodiff itself). Returns the trained model, on the plain device, and its report.
pub fn train(
    arch: &Arch,
    corpus: &TextCorpus,
    settings: &TrainSettings,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<(Net, Report), TrainError> {
    let started = Instant::now();
    check_fit(arch, corpus)?;
    device.seed(settings.seed);
    let ad = device.clone().autodiff();
    let mut model = Net::new(arch, &ad, settings.seed).map_err(|e| TrainError {
        message: format!("`{}` cannot be built as a model: {}", e.path, e.message),
        help: "change the architecture, or use modules the model stage implements".into(),
    })?;
    let params = model.num_params() as u64;
    let params_by_id = param_ids(&model);
    let val = corpus.val_batches(settings.batch, settings.eval_batches);
    let unigram_loss = corpus.unigram_loss();
    let mut optim = match &settings.optimizer.kind {
        OptimizerKind::AdamW { weight_decay } => AdamWConfig::new()
            .with_beta_1(settings.optimizer.beta1 as f32)
            .with_beta_2(settings.optimizer.beta2 as f32)
            .with_epsilon(1e-8)
            .with_weight_decay(*weight_decay as f32)
            .init(),
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(settings.optimizer.beta1 as f32)
            .with_beta_2(settings.optimizer.beta2 as f32)
            .with_epsilon(1e-8)
            .init(),
        OptimizerKind::Sgd { momentum } => {
            let config = SgdConfig::new();
            if *momentum > 0.0 {
                config
                    .with_momentum(Some(MomentumConfig::new().with_momentum(*momentum)))
                    .init()
            } else {
                config.init()
            }
        }
    };

    let first_val_loss = evaluate(&model, &val, device);
    let mut curve = vec![EvalPoint {
        step: 0,
        train_loss: None,
        val_loss: first_val_loss,
    }];
    observer.eval(&curve[0]);
    let mut rng = crate::interp::strategy::rng(settings.seed);
    let (mut train_secs, mut steps_done) = (0.0f64, 0usize);
    let (mut window_sum, mut window_n, mut last_train) = (0.0f64, 0usize, f64::NAN);
    let mut first_loss: Option<f64> = None;
    let mut failure: Option<String> = None;
    for step in 0..settings.steps {
        if settings
            .max_seconds
            .is_some_and(|m| started.elapsed().as_secs_f64() >= m)
        {
            break;
        }
        let t = Instant::now();
        let batch = corpus.train_batch(&mut rng, settings.batch);
        let lr = settings.lr_at(step);
        let loss = batch_loss(&model, &batch, &ad);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        if let Some(reason) = diverged(value, *first_loss.get_or_insert(value), step) {
            failure = Some(reason);
            break;
        }
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        if settings.grad_clip > 0.0 {
            clip_global_norm(&params_by_id, &mut grads, settings.grad_clip);
        }
        model = optim.step(lr, model, grads);
        train_secs += t.elapsed().as_secs_f64();
        steps_done = step + 1;
        window_sum += value;
        window_n += 1;
        observer.step(steps_done, value, lr);
        if steps_done % settings.eval_every == 0 || steps_done == settings.steps {
            let point = EvalPoint {
                step: steps_done,
                train_loss: Some(window_sum / window_n as f64),
                val_loss: evaluate(&model, &val, device),
            };
            last_train = window_sum / window_n as f64;
            (window_sum, window_n) = (0.0, 0);
            observer.eval(&point);
            curve.push(point);
        }
    }
    // A run stopped by its time limit between evaluations still ends measured.
    if failure.is_none() && curve.last().is_some_and(|p| p.step != steps_done) {
        let point = EvalPoint {
            step: steps_done,
            train_loss: (window_n > 0).then(|| window_sum / window_n as f64),
            val_loss: evaluate(&model, &val, device),
        };
        last_train = point.train_loss.unwrap_or(last_train);
        observer.eval(&point);
        curve.push(point);
    }
    let val_loss = curve.last().map_or(first_val_loss, |p| p.val_loss);
    let trained = model.valid();
    let latency_ms = latency(&trained, corpus, settings.batch, device);
    let tokens = (steps_done * settings.batch * corpus.context) as f64;
    let report = Report {
        status: if failure.is_some() {
            Status::Failed
        } else {
            Status::Ok
        },
        reason: failure,
        steps: steps_done,
        first_val_loss,
        val_loss,
        val_perplexity: val_loss.exp(),
        bits_per_char: val_loss / std::f64::consts::LN_2,
        train_loss: last_train,
        unigram_loss,
        params,
        tokens_per_s: if train_secs > 0.0 {
            tokens / train_secs
        } else {
            0.0
        },
        ms_per_step: if steps_done > 0 {
            1000.0 * train_secs / steps_done as f64
        } else {
            0.0
        },
        latency_ms,
        peak_mem_bytes: device::peak_memory(),
        wall_s: started.elapsed().as_secs_f64(),
        curve,
    };
    Ok((trained, report))
}

/// What a trained model measures without training: validation loss and latency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// Mean validation loss over the settings' validation batches.
    pub val_loss: f64,
    /// Median inference time of one batch, in milliseconds.
    pub latency_ms: f64,
}

/// Measures `net` (on the plain `device`) on the validation set `settings` describe.
pub fn measure(
    net: &Net,
    corpus: &TextCorpus,
    settings: &TrainSettings,
    device: &Device,
) -> Measured {
    let val = corpus.val_batches(settings.batch, settings.eval_batches);
    Measured {
        val_loss: evaluate(net, &val, device),
        latency_ms: latency(net, corpus, settings.batch, device),
    }
}

/// The reason to stop, when the loss of step `step` is NaN or has exploded: more than
/// three times the first step's loss (a model that diverges climbs far past where it began).
fn diverged(loss: f64, first: f64, step: usize) -> Option<String> {
    if !loss.is_finite() {
        return Some(format!(
            "the training loss became {loss} at step {}",
            step + 1
        ));
    }
    if step > 0 && loss > 3.0 * first.max(1e-3) {
        return Some(format!(
            "the training loss exploded to {loss:.3} at step {} (it began at {first:.3}); try a lower learning rate",
            step + 1
        ));
    }
    None
}

/// Refuses architectures whose output is not next-token logits over the corpus's bytes.
fn check_fit(arch: &Arch, corpus: &TextCorpus) -> Result<(), TrainError> {
    use crate::interp::ir::Shape;
    // Every byte must have a row in an embedding that reads the token ids.
    for node in arch.nodes.iter().filter(|n| &*n.op == "embedding") {
        let vocab = node
            .args
            .iter()
            .find(|(k, _)| &**k == "vocab")
            .and_then(|(_, v)| v.as_int());
        if vocab.is_some_and(|v| v < BYTE_VOCAB as i64) {
            return Err(TrainError {
                message: format!(
                    "`{}` embeds {} tokens, and `{}` holds byte tokens 0 to {}",
                    node.path,
                    vocab.unwrap_or(0),
                    corpus.name,
                    BYTE_VOCAB - 1
                ),
                help: "give the embedding `vocab = data.vocab`".into(),
            });
        }
    }
    let out = arch.nodes.last().map(|n| n.shape);
    match out {
        Some(Shape::Seq { len, width })
            if len as usize == corpus.context && width as usize == BYTE_VOCAB =>
        {
            Ok(())
        }
        other => Err(TrainError {
            message: format!(
                "a language model on `{}` must output logits of [{}, {}], and this architecture outputs {}",
                corpus.name,
                corpus.context,
                BYTE_VOCAB,
                other.map_or("nothing".into(), |s| s.to_string())
            ),
            help: "end the graph with `lm_head(vocab = data.vocab)` on the sequence".into(),
        }),
    }
}

/// Next-token cross-entropy of `batch` (mean over every position), on `device`.
fn batch_loss(model: &Net, batch: &Batch, device: &Device) -> Tensor<1> {
    let (b, t) = (batch.batch, batch.len);
    let inputs = Tensor::<2, Int>::from_data(TensorData::new(batch.inputs.clone(), [b, t]), device);
    let targets =
        Tensor::<2, Int>::from_data(TensorData::new(batch.targets.clone(), [b * t, 1]), device);
    let Flow::Seq(logits) = model.forward(inputs) else {
        unreachable!("check_fit admits sequence outputs only")
    };
    let vocab = logits.dims()[2];
    let logp = log_softmax(logits.reshape([b * t, vocab]), 1);
    logp.gather(1, targets).mean().neg()
}

/// The mean validation loss of `model` (with autodiff or not) over `batches`.
fn evaluate(model: &Net, batches: &[Batch], device: &Device) -> f64 {
    let plain = model.valid();
    let total: f64 = batches
        .iter()
        .map(|b| f64::from(batch_loss(&plain, b, device).into_scalar::<f32>()))
        .sum();
    total / batches.len().max(1) as f64
}

/// The median time of an inference forward pass over one batch, in milliseconds.
fn latency(model: &Net, corpus: &TextCorpus, batch: usize, device: &Device) -> f64 {
    let tokens = corpus.val_batches(batch, 1).remove(0);
    let input = || {
        Tensor::<2, Int>::from_data(
            TensorData::new(tokens.inputs.clone(), [tokens.batch, tokens.len]),
            device,
        )
    };
    let run = || match model.forward(input()) {
        Flow::Seq(t) => {
            let _ = t.into_data();
        }
        Flow::Vector(t) => {
            let _ = t.into_data();
        }
        Flow::Tokens(t) => {
            let _ = t.into_data();
        }
    };
    run();
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// Scales every gradient by `min(1, max_norm / ‖g‖)`, `‖g‖` the norm of all gradients
/// together (what PyTorch's `clip_grad_norm_` does; burn's own clipping is per tensor).
/// `params` are the model's float parameters with their ranks ([`param_ids`]).
fn clip_global_norm(params: &[(ParamId, usize)], grads: &mut GradientsParams, max_norm: f64) {
    let mut squares: Option<Tensor<1>> = None;
    for &(id, rank) in params {
        let s = match rank {
            1 => grads.get::<1>(id).map(|g| g.powf_scalar(2.0).sum()),
            2 => grads.get::<2>(id).map(|g| g.powf_scalar(2.0).sum()),
            3 => grads.get::<3>(id).map(|g| g.powf_scalar(2.0).sum()),
            _ => None,
        };
        if let Some(s) = s {
            squares = Some(match squares {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
    let Some(squares) = squares else { return };
    let norm = f64::from(squares.into_scalar::<f32>()).sqrt();
    if norm.is_nan() || norm <= max_norm {
        return;
    }
    let scale = max_norm / (norm + 1e-6);
    for &(id, rank) in params {
        match rank {
            1 => rescale::<1>(grads, id, scale),
            2 => rescale::<2>(grads, id, scale),
            3 => rescale::<3>(grads, id, scale),
            _ => {}
        }
    }
}

/// The ids and ranks of `model`'s float parameters (they stay the same across optimizer
/// steps, so this runs once per trial).
fn param_ids(model: &Net) -> Vec<(ParamId, usize)> {
    struct Ids(Vec<(ParamId, usize)>);
    impl ModuleVisitor for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push((param.id, D));
        }
    }
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    ids.0
}

fn rescale<const D: usize>(grads: &mut GradientsParams, id: ParamId, scale: f64) {
    if let Some(g) = grads.remove::<D>(id) {
        grads.register::<D>(id, g * scale);
    }
}
