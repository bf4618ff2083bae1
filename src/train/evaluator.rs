//! Training as a pipeline's evaluator: each trial trains its architecture for the
//! layer's steps on the space's data and reports the measurements as metrics.
//!
//! Data sets are opened once per run and shared by every trial that reads the same source
//! (a CSV is parsed once, not once per trial). Every trial trains with the `train`
//! block's seed, so two architectures meet the same data order and the same stream of
//! initial values, and a trial gives the same numbers whenever (and in whichever process)
//! it runs.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

use burn::tensor::Device;

use super::data::{self, Dataset};
use super::settings::TrainSettings;
use super::{EvalPoint, Observer, Report, Status};
use crate::interp::Arch;
use crate::search::run::{Evaluation, Evaluator};

/// Trains trials on one device.
pub struct Trainer {
    /// The folder data paths are relative to (the `.nas` file's).
    pub base: Option<PathBuf>,
    /// Where to train.
    pub device: Device,
    /// Opened data sets, by their source.
    data: HashMap<String, Rc<dyn Dataset>>,
}

impl Trainer {
    /// A trainer on `device`, reading data relative to `base`.
    pub fn new(base: Option<PathBuf>, device: Device) -> Trainer {
        Trainer {
            base,
            device,
            data: HashMap::new(),
        }
    }

    /// Hands the trainer the data set already opened for `arch`.
    pub fn add_data(&mut self, arch: &Arch, data: Box<dyn Dataset>) {
        self.data
            .insert(arch.data.to_json().to_string(), Rc::from(data));
    }

    /// The data set of `arch`, opened once.
    fn dataset(&mut self, arch: &Arch) -> Result<Rc<dyn Dataset>, String> {
        let key = arch.data.to_json().to_string();
        if let Some(d) = self.data.get(&key) {
            return Ok(d.clone());
        }
        let d: Rc<dyn Dataset> = Rc::from(
            data::open(&arch.data, self.base.as_deref())
                .map_err(|e| format!("{} ({})", e.message, e.help))?,
        );
        self.data.insert(key, d.clone());
        Ok(d)
    }
}

/// The training settings of `arch` for a trial of `steps` steps: its `train` block, with
/// warm-up and the evaluation interval shortened to fit.
pub fn settings_for(arch: &Arch, steps: usize) -> Result<TrainSettings, String> {
    let mut s = TrainSettings::from_fields(&arch.train)
        .map_err(|e| format!("`{}`: {}", e.field, e.message))?;
    s.steps = steps;
    s.warmup = s.warmup.min(steps / 2);
    s.eval_every = s.eval_every.min(steps.max(1));
    Ok(s)
}

/// The metrics of a report, plus the architecture's static ones. Values that are not
/// finite are left out.
pub fn metrics(arch: &Arch, r: &Report) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            m.insert(k.to_string(), v);
        }
    };
    put("val_loss", Some(r.val_loss));
    put("val_accuracy", Some(r.val_accuracy));
    put("val_perplexity", r.val_perplexity);
    put("bits_per_char", r.bits_per_char);
    put("first_val_loss", Some(r.first_val_loss));
    put("train_loss", Some(r.train_loss));
    put("baseline_loss", Some(r.baseline_loss));
    put("baseline_accuracy", Some(r.baseline_accuracy));
    put("params", Some(r.params as f64));
    put("steps", Some(r.steps as f64));
    put("tokens_per_s", Some(r.tokens_per_s));
    put("ms_per_step", Some(r.ms_per_step));
    put("latency_ms", Some(r.latency_ms));
    put("peak_mem_bytes", r.peak_mem_bytes.map(|b| b as f64));
    put(
        "peak_host_mem_bytes",
        r.peak_host_mem_bytes.map(|b| b as f64),
    );
    put("wall_s", Some(r.wall_s));
    put("flops", Some(arch.metrics.flops as f64));
    put(
        "activation_memory",
        Some(arch.metrics.activation_memory as f64),
    );
    m
}

/// Passes training steps on to the runner's progress callback.
struct Forward<'a>(&'a mut dyn FnMut(usize, f64));

impl Observer for Forward<'_> {
    fn step(&mut self, step: usize, loss: f64, _lr: f64) {
        (self.0)(step, loss);
    }
    fn eval(&mut self, _point: &EvalPoint) {}
}

impl Evaluator for Trainer {
    fn seed(&self, arch: &Arch) -> u64 {
        TrainSettings::from_fields(&arch.train).map_or(0, |s| s.seed)
    }

    fn evaluate(
        &mut self,
        arch: &Arch,
        steps: usize,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Evaluation {
        let started = std::time::Instant::now();
        let failed = |reason: String| Evaluation {
            failed: true,
            reason: Some(reason),
            wall_s: started.elapsed().as_secs_f64(),
            ..Evaluation::default()
        };
        let data = match self.dataset(arch) {
            Ok(d) => d,
            Err(e) => return failed(format!("data: {e}")),
        };
        let settings = match settings_for(arch, steps) {
            Ok(s) => s,
            Err(e) => return failed(format!("train settings: {e}")),
        };
        let mut observer = Forward(progress);
        match super::train(arch, data.as_ref(), &settings, &self.device, &mut observer) {
            Ok((_, report)) => Evaluation {
                failed: report.status == Status::Failed,
                reason: report.reason.clone(),
                metrics: metrics(arch, &report),
                report: serde_json::to_value(&report).ok(),
                wall_s: report.wall_s,
            },
            Err(e) => failed(format!("{} ({})", e.message, e.help)),
        }
    }
}
