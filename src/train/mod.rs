//! The training stage: a model of a concrete architecture is trained on its space's data
//! and measured.
//!
//! Training is real: cross-entropy on batches of the space's data (next-token for text
//! and generated sequence tasks, one label per example for classification), gradients by
//! burn's autodiff, AdamW (or Adam, SGD) with warm-up and a cosine or linear decay, the
//! global gradient norm clipped. Every `eval_every` steps the loss on the fixed validation
//! set is measured. A loss that turns NaN or explodes ends the trial as *failed*, with its
//! reason; it never ends the process.
//!
//! What comes out is a [`Report`]: the validation loss and accuracy (and perplexity, bits
//! per character where they mean something), the first validation loss (before any step), the parameter count of the
//! built model, training throughput, measured inference latency, peak memory and wall
//! time.

pub mod data;
pub mod device;
pub mod evaluator;
pub mod fetch;
pub mod generate;
pub mod settings;
pub mod tabular;
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
use data::{Batch, Dataset, Task, Unit, IGNORE};
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
    /// Validation loss (nats per scored target).
    pub val_loss: f64,
    /// The fraction of scored validation targets predicted right.
    pub val_accuracy: f64,
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
    /// Validation loss at the end (nats per scored target).
    pub val_loss: f64,
    /// The fraction of scored validation targets predicted right at the end: labels for
    /// classification, next tokens otherwise.
    pub val_accuracy: f64,
    /// `exp(val_loss)`, for next-token tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_perplexity: Option<f64>,
    /// `val_loss / ln 2`: bits per character, for byte-level text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_char: Option<f64>,
    /// Mean training loss over the last evaluation interval.
    pub train_loss: f64,
    /// The validation loss of predicting without looking at the input (the unigram model
    /// for text, the class prior for labels), on the same validation set.
    pub baseline_loss: f64,
    /// The validation accuracy of always predicting the most frequent training target.
    pub baseline_accuracy: f64,
    /// Trainable parameters of the built model.
    pub params: u64,
    /// Training tokens per second (evaluations excluded).
    pub tokens_per_s: f64,
    /// Milliseconds per training step (evaluations excluded).
    pub ms_per_step: f64,
    /// Median time of one inference forward pass of a batch, in milliseconds.
    pub latency_ms: f64,
    /// Peak memory of the device the model trained on, in bytes: on `wgpu` and `cuda` what
    /// the GPU allocator held ([`device::MemoryWatch`]); on the CPU the most heap the trial
    /// held at once beyond what the process held when it began ([`crate::alloc::HeapWatch`]),
    /// or, in a program whose allocator cannot watch, the process's peak resident memory
    /// (`None` where the system does not say).
    pub peak_mem_bytes: Option<u64>,
    /// Where `peak_mem_bytes` was measured: `"device"` (a GPU allocator), `"heap"` (this
    /// trial's heap) or `"process"` (the process's resident memory, earlier trials
    /// included).
    pub peak_mem_of: &'static str,
    /// The process's peak resident memory, in bytes, on every backend.
    pub peak_host_mem_bytes: Option<u64>,
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

/// Trains `arch` on `data` with `settings` on `device` (a plain device: the stage adds
/// autodiff itself). Returns the trained model, on the plain device, and its report.
pub fn train(
    arch: &Arch,
    data: &dyn Dataset,
    settings: &TrainSettings,
    device: &Device,
    observer: &mut dyn Observer,
) -> Result<(Net, Report), TrainError> {
    // On the CPU the model's memory is the heap's: all the trial allocates counts (the data
    // set it is given was there before).
    let heap = match device.memory_pool_usage() {
        Some(_) => None,
        None => crate::alloc::HeapWatch::start(),
    };
    let mut out = train_on(arch, data, settings, device, observer, heap.as_ref());
    if let (Some(h), Ok((_, report, model_bytes))) = (&heap, &mut out) {
        report.peak_mem_bytes = Some(own_peak(h, report, *model_bytes));
    }
    out.map(|(net, report, _)| (net, report))
}

/// The trial's own peak: the most heap it held at once, less what it left allocated that
/// it does not hand back (work buffers that matrix products and autodiff keep and grow to
/// the largest shapes they have seen, and one-time set-up of the process). A later trial
/// of the same shapes finds those buffers ready and does not count them; without this,
/// the first trial of each new size would (measured: 0.5 to 1 MiB more on models of 7 to
/// 10 MiB).
fn own_peak(heap: &crate::alloc::HeapWatch, report: &Report, model_bytes: i64) -> u64 {
    // Everything the trial made is freed by now, but the trained model and the report.
    let report_bytes = report.curve.capacity() * std::mem::size_of::<EvalPoint>()
        + report.reason.as_ref().map_or(0, |r| r.capacity());
    let left = heap.net() - model_bytes - report_bytes as i64;
    heap.peak().saturating_sub(left.max(0) as u64)
}

/// [`train`], watched by `heap` when there is one; also what the trained model holds.
fn train_on(
    arch: &Arch,
    data: &dyn Dataset,
    settings: &TrainSettings,
    device: &Device,
    observer: &mut dyn Observer,
    heap: Option<&crate::alloc::HeapWatch>,
) -> Result<(Net, Report, i64), TrainError> {
    let started = Instant::now();
    check_fit(arch, data)?;
    device.seed(settings.seed);
    let ad = device.clone().autodiff();
    let mut model = Net::new(arch, &ad, settings.seed).map_err(|e| TrainError {
        message: format!("`{}` cannot be built as a model: {}", e.path, e.message),
        help: "change the architecture, or use modules the model stage implements".into(),
    })?;
    let params = model.num_params() as u64;
    let params_by_id = param_ids(&model);
    let val = data.val_batches(settings.batch, settings.eval_batches);
    let baseline = data.baseline();
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

    let first = evaluate(&model, &val, device);
    let first_val_loss = first.loss;
    let mut curve = vec![EvalPoint {
        step: 0,
        train_loss: None,
        val_loss: first.loss,
        val_accuracy: first.accuracy,
    }];
    observer.eval(&curve[0]);
    let mut rng = crate::interp::strategy::rng(settings.seed);
    let (mut train_secs, mut steps_done) = (0.0f64, 0usize);
    let (mut window_sum, mut window_n, mut last_train) = (0.0f64, 0usize, f64::NAN);
    let mut divergence = Divergence::default();
    let mut failure: Option<String> = None;
    let mut memory = device::MemoryWatch::start(device);
    for step in 0..settings.steps {
        if settings
            .max_seconds
            .is_some_and(|m| started.elapsed().as_secs_f64() >= m)
        {
            break;
        }
        let t = Instant::now();
        let batch = data.train_batch(&mut rng, settings.batch);
        let lr = settings.lr_at(step);
        let loss = batch_loss(&model, &batch, &ad);
        let value = f64::from(loss.clone().into_scalar::<f32>());
        memory.sample(device);
        if let Some(reason) = divergence.check(value, step) {
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
            let e = evaluate(&model, &val, device);
            let point = EvalPoint {
                step: steps_done,
                train_loss: Some(window_sum / window_n as f64),
                val_loss: e.loss,
                val_accuracy: e.accuracy,
            };
            last_train = window_sum / window_n as f64;
            (window_sum, window_n) = (0.0, 0);
            observer.eval(&point);
            curve.push(point);
        }
    }
    // A run stopped by its time limit between evaluations still ends measured.
    if failure.is_none() && curve.last().is_some_and(|p| p.step != steps_done) {
        let e = evaluate(&model, &val, device);
        let point = EvalPoint {
            step: steps_done,
            train_loss: (window_n > 0).then(|| window_sum / window_n as f64),
            val_loss: e.loss,
            val_accuracy: e.accuracy,
        };
        last_train = point.train_loss.unwrap_or(last_train);
        observer.eval(&point);
        curve.push(point);
    }
    let (val_loss, val_accuracy) = curve.last().map_or((first.loss, first.accuracy), |p| {
        (p.val_loss, p.val_accuracy)
    });
    // What the trained model holds, which the trial hands back: what `valid` makes, and
    // the weights it shares with the model trained (made by this trial too).
    let before = heap.map(|h| h.net());
    let trained = model.valid();
    let model_bytes = heap.zip(before).map_or(0, |(h, b)| h.net() - b) + tensor_bytes(&trained);
    let latency_ms = latency(&trained, &val[0], device);
    memory.sample(device);
    let host = device::peak_memory();
    let tokens = (steps_done * settings.batch * data.seq_len()) as f64;
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
        val_accuracy,
        val_perplexity: perplexity(data, val_loss),
        bits_per_char: bits_per_char(data, val_loss),
        train_loss: last_train,
        baseline_loss: baseline.loss,
        baseline_accuracy: baseline.accuracy,
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
        // `train` takes what the trial left allocated from a heap watch's peak.
        peak_mem_bytes: memory.peak().or(heap.map(|h| h.peak())).or(host),
        peak_mem_of: match (memory.peak(), heap) {
            (Some(_), _) => "device",
            (None, Some(_)) => "heap",
            (None, None) => "process",
        },
        peak_host_mem_bytes: host,
        wall_s: started.elapsed().as_secs_f64(),
        curve,
    };
    Ok((trained, report, model_bytes))
}

/// What a trained model measures without training: validation loss, accuracy and latency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    /// Mean validation loss over the settings' validation batches.
    pub val_loss: f64,
    /// The fraction of scored validation targets predicted right.
    pub val_accuracy: f64,
    /// `exp(val_loss)`, for next-token tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_perplexity: Option<f64>,
    /// Bits per character, for byte-level text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_char: Option<f64>,
    /// Median inference time of one batch, in milliseconds.
    pub latency_ms: f64,
}

/// Measures `net` (on the plain `device`) on the validation set `settings` describe.
pub fn measure(
    net: &Net,
    data: &dyn Dataset,
    settings: &TrainSettings,
    device: &Device,
) -> Measured {
    let val = data.val_batches(settings.batch, settings.eval_batches);
    let e = evaluate(net, &val, device);
    Measured {
        val_loss: e.loss,
        val_accuracy: e.accuracy,
        val_perplexity: perplexity(data, e.loss),
        bits_per_char: bits_per_char(data, e.loss),
        latency_ms: latency(net, &val[0], device),
    }
}

/// `exp(loss)`, where the task predicts tokens.
fn perplexity(data: &dyn Dataset, loss: f64) -> Option<f64> {
    matches!(data.task(), Task::NextToken { .. }).then(|| loss.exp())
}

/// Bits per character, where the tokens are bytes of text.
fn bits_per_char(data: &dyn Dataset, loss: f64) -> Option<f64> {
    (data.unit() == Unit::Byte).then(|| loss / std::f64::consts::LN_2)
}

/// Watches the training loss for divergence: a loss that is NaN or infinite, or whose
/// recent average (an exponential moving average over about five steps) has climbed
/// past three times the first step's loss, and at least two nats above it. A model that
/// diverges climbs far past where it began; averaging lets a single spike through, which
/// matters where losses are small (a binary classifier starts near 0.69).
#[derive(Default)]
struct Divergence {
    first: Option<f64>,
    average: f64,
}

impl Divergence {
    /// The reason to stop after the loss of step `step`, if there is one.
    fn check(&mut self, loss: f64, step: usize) -> Option<String> {
        if !loss.is_finite() {
            return Some(format!(
                "the training loss became {loss} at step {}",
                step + 1
            ));
        }
        let first = *self.first.get_or_insert(loss);
        self.average = if step == 0 {
            loss
        } else {
            0.8 * self.average + 0.2 * loss
        };
        let limit = (3.0 * first).max(first + 2.0);
        (self.average > limit).then(|| {
            format!(
                "the training loss exploded: its recent average reached {:.3} at step {} (it began at {first:.3}); try a lower learning rate",
                self.average,
                step + 1
            )
        })
    }
}

/// Refuses architectures that cannot learn `data`'s task: an embedding too small for its
/// tokens, an output that is not the task's logits, or, for next-token tasks, attention
/// that sees the tokens it is asked to predict.
fn check_fit(arch: &Arch, data: &dyn Dataset) -> Result<(), TrainError> {
    use crate::interp::ir::Shape;
    use crate::interp::Value;
    let arg = |node: &crate::interp::ir::Node, k: &str| {
        node.args
            .iter()
            .find(|(n, _)| &**n == k)
            .map(|(_, v)| v.clone())
    };
    // Every token must have a row in an embedding that reads the token ids.
    for node in arch.nodes.iter().filter(|n| &*n.op == "embedding") {
        let vocab = arg(node, "vocab").and_then(|v| v.as_int()).unwrap_or(0);
        if vocab < data.vocab() as i64 {
            return Err(TrainError {
                message: format!(
                    "`{}` embeds {vocab} tokens, and `{}` holds tokens 0 to {}",
                    node.path,
                    data.name(),
                    data.vocab() - 1
                ),
                help: "give the embedding `vocab = data.vocab`".into(),
            });
        }
    }
    let out = arch.nodes.last().map(|n| n.shape);
    let len = data.seq_len() as i64;
    match data.task() {
        Task::NextToken { vocab } => {
            if let Some(node) = arch.nodes.iter().find(|n| {
                &*n.op == "attention" && matches!(arg(n, "causal"), Some(Value::Bool(false)))
            }) {
                return Err(TrainError {
                    message: format!(
                        "`{}` attends to later tokens, so a model predicting the next token of `{}` could read it from its input",
                        node.path,
                        data.name()
                    ),
                    help: "keep attention causal (`causal = true`, the default) for next-token tasks".into(),
                });
            }
            match out {
                Some(Shape::Seq { len: l, width }) if l == len && width == vocab as i64 => Ok(()),
                other => Err(TrainError {
                    message: format!(
                        "a language model on `{}` must output logits of [{len}, {vocab}], and this architecture outputs {}",
                        data.name(),
                        other.map_or("nothing".into(), |s| s.to_string())
                    ),
                    help: "end the graph with `lm_head(vocab = data.vocab)` on the sequence".into(),
                }),
            }
        }
        Task::Classify { classes } => match out {
            Some(Shape::Vector { width }) if width == classes as i64 => Ok(()),
            other => Err(TrainError {
                message: format!(
                    "a classifier of `{}` must output logits of [{classes}], and this architecture outputs {}",
                    data.name(),
                    other.map_or("nothing".into(), |s| s.to_string())
                ),
                help: "end the graph with `classifier(classes = data.classes)`".into(),
            }),
        },
    }
}

/// The logits of `batch` as rows to score (`[rows, options]`) and the target of each row.
fn logits_and_targets(model: &Net, batch: &Batch, device: &Device) -> (Tensor<2>, Vec<i64>) {
    let (b, t) = (batch.batch, batch.len);
    let inputs = Tensor::<2, Int>::from_data(TensorData::new(batch.inputs.clone(), [b, t]), device);
    match model.forward_padded(inputs, keep_mask(batch, device)) {
        Flow::Seq(logits) => {
            let vocab = logits.dims()[2];
            (logits.reshape([b * t, vocab]), batch.targets.clone())
        }
        Flow::Vector(logits) => (logits, batch.targets.clone()),
        Flow::Tokens(_) => unreachable!("check_fit admits logits outputs only"),
    }
}

/// The padding weights of `batch` as a `[batch, len]` tensor, if it is padded.
fn keep_mask(batch: &Batch, device: &Device) -> Option<Tensor<2>> {
    batch.keep.as_ref().map(|k| {
        Tensor::<2>::from_data(TensorData::new(k.clone(), [batch.batch, batch.len]), device)
    })
}

/// Mean cross-entropy of `batch` over its scored targets, on `device`.
fn batch_loss(model: &Net, batch: &Batch, device: &Device) -> Tensor<1> {
    let (logits, targets) = logits_and_targets(model, batch, device);
    loss_of(logits, &targets, device)
}

/// Mean cross-entropy of `logits` (`[rows, options]`) against `targets` ([`IGNORE`]d
/// rows weighted out).
fn loss_of(logits: Tensor<2>, targets: &[i64], device: &Device) -> Tensor<1> {
    let rows = targets.len();
    if crate::model::kernels::fused(&logits) {
        // In one pass each way, on every thread, on the CPU.
        let scored = targets.iter().filter(|&&t| t != IGNORE).count().max(1);
        let weight = |t: i64| match t {
            IGNORE => 0.0,
            _ => 1.0 / scored as f32,
        };
        let picks: Vec<usize> = targets.iter().map(|&t| t.max(0) as usize).collect();
        let weights: Vec<f32> = targets.iter().map(|&t| weight(t)).collect();
        return crate::model::kernels::cross_entropy(logits, &picks, &weights);
    }
    let logp = log_softmax(logits, 1);
    if !targets.contains(&IGNORE) {
        let targets =
            Tensor::<2, Int>::from_data(TensorData::new(targets.to_vec(), [rows, 1]), device);
        return logp.gather(1, targets).mean().neg();
    }
    // Ignored targets pick option 0 and are weighted out.
    let scored = targets.iter().filter(|&&t| t != IGNORE).count().max(1);
    let weights: Vec<f32> = targets
        .iter()
        .map(|&t| {
            if t == IGNORE {
                0.0
            } else {
                1.0 / scored as f32
            }
        })
        .collect();
    let picks: Vec<i64> = targets.iter().map(|&t| t.max(0)).collect();
    let picks = Tensor::<2, Int>::from_data(TensorData::new(picks, [rows, 1]), device);
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [rows, 1]), device);
    (logp.gather(1, picks) * weights).sum().neg()
}

/// A validation measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Eval {
    loss: f64,
    accuracy: f64,
}

/// The validation loss and accuracy of `model` (with autodiff or not) over `batches`: the
/// loss averaged over batches, the accuracy over every scored target.
fn evaluate(model: &Net, batches: &[Batch], device: &Device) -> Eval {
    let plain = model.valid();
    let (mut loss, mut right, mut scored) = (0.0f64, 0usize, 0usize);
    for b in batches {
        let (logits, targets) = logits_and_targets(&plain, b, device);
        let guesses: Vec<i64> = logits.clone().argmax(1).into_data().iter::<i64>().collect();
        loss += f64::from(loss_of(logits, &targets, device).into_scalar::<f32>());
        for (g, t) in guesses.iter().zip(&targets).filter(|(_, &t)| t != IGNORE) {
            right += usize::from(g == t);
            scored += 1;
        }
    }
    Eval {
        loss: loss / batches.len().max(1) as f64,
        accuracy: right as f64 / scored.max(1) as f64,
    }
}

/// The median time of an inference forward pass over `batch`, in milliseconds.
fn latency(model: &Net, batch: &Batch, device: &Device) -> f64 {
    let input = || {
        Tensor::<2, Int>::from_data(
            TensorData::new(batch.inputs.clone(), [batch.batch, batch.len]),
            device,
        )
    };
    let run = || match model.forward_padded(input(), keep_mask(batch, device)) {
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

/// The bytes of the data of every tensor of `model`.
fn tensor_bytes(model: &Net) -> i64 {
    struct Bytes(usize);
    impl Bytes {
        fn add(&mut self, shape: burn::tensor::Shape, dtype: burn::tensor::DType) {
            self.0 += shape.num_elements() * dtype.size();
        }
    }
    impl ModuleVisitor for Bytes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            self.add(t.shape(), t.dtype());
        }
        fn visit_int<const D: usize>(&mut self, param: &Param<Tensor<D, Int>>) {
            let t = param.val();
            self.add(t.shape(), t.dtype());
        }
        fn visit_bool<const D: usize>(&mut self, param: &Param<Tensor<D, burn::tensor::Bool>>) {
            let t = param.val();
            self.add(t.shape(), t.dtype());
        }
    }
    let mut bytes = Bytes(0);
    model.visit(&mut bytes);
    bytes.0 as i64
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
