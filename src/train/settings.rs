//! Training settings: the `train { ... }` block of a space, resolved into numbers, with the
//! defaults a user gets when a field is left out.

use crate::interp::{Name, Value};

/// Which optimizer updates the weights.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerKind {
    /// AdamW: Adam with decoupled weight decay.
    AdamW {
        /// Decoupled weight decay.
        weight_decay: f64,
    },
    /// Adam, no weight decay.
    Adam,
    /// Stochastic gradient descent.
    Sgd {
        /// Momentum (0 for none).
        momentum: f64,
    },
}

/// The optimizer and its settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerSettings {
    /// Which one.
    pub kind: OptimizerKind,
    /// Peak learning rate.
    pub lr: f64,
    /// First moment decay (Adam kinds).
    pub beta1: f64,
    /// Second moment decay (Adam kinds).
    pub beta2: f64,
}

/// How the learning rate moves after warm-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Half a cosine from the peak down to a tenth of it at the last step.
    Cosine,
    /// A straight line from the peak down to a tenth of it at the last step.
    Linear,
    /// The peak until the end.
    Constant,
}

/// A `train` field whose value training cannot use.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingError {
    /// The field (`optimizer` for the optimizer's own arguments).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The largest `batch` (examples per step).
pub const MAX_BATCH: usize = 1 << 16;

/// The largest validation set, `batch × eval_batches` examples.
pub const MAX_VAL_EXAMPLES: usize = 1 << 20;

/// Everything the training loop needs to know besides the model and the data.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainSettings {
    /// Optimizer steps.
    pub steps: usize,
    /// Examples per step.
    pub batch: usize,
    /// Steps of linear warm-up from zero to the peak learning rate.
    pub warmup: usize,
    /// The decay after warm-up.
    pub schedule: Schedule,
    /// Evaluate on the validation set every this many steps (and after the last).
    pub eval_every: usize,
    /// Validation batches per evaluation.
    pub eval_batches: usize,
    /// Seed of weights, batches and dropout.
    pub seed: u64,
    /// Clip the global gradient norm to this (0: no clipping).
    pub grad_clip: f64,
    /// Stop (successfully, with what was reached) after this much wall time.
    pub max_seconds: Option<f64>,
    /// The optimizer.
    pub optimizer: OptimizerSettings,
}

impl TrainSettings {
    /// The settings of a `train` block (as resolved in an architecture), defaults filled.
    pub fn from_fields(fields: &[(Name, Value)]) -> Result<TrainSettings, SettingError> {
        let get = |k: &str| fields.iter().find(|(n, _)| &**n == k).map(|(_, v)| v);
        let bad = |field: &str, message: String| SettingError {
            field: field.to_string(),
            message,
        };
        let count = |k: &str, default: usize| -> Result<usize, SettingError> {
            match get(k) {
                None => Ok(default),
                Some(Value::Int(v)) if *v >= 0 => Ok(*v as usize),
                Some(v) => Err(bad(k, format!("`{k}` must be a count, and is {v}"))),
            }
        };
        // A count that must be at least one: zero trains or evaluates nothing.
        let positive = |k: &str, default: usize| -> Result<usize, SettingError> {
            match count(k, default)? {
                0 => Err(bad(k, format!("`{k}` must be at least 1, and is 0"))),
                n => Ok(n),
            }
        };
        let steps = count("steps", 300)?;
        let batch = positive("batch", 32)?;
        let warmup = count("warmup", (steps / 10).min(100))?;
        let eval_every = positive("eval_every", (steps / 10).max(1))?;
        let eval_batches = positive("eval_batches", 8)?;
        // Batches and the validation set are allocated whole, their sizes multiplied by
        // the sequence length: past these bounds that overflows or exhausts memory.
        if batch > MAX_BATCH {
            return Err(bad(
                "batch",
                format!("`batch` of {batch} is more than nasc trains with ({MAX_BATCH} at most)"),
            ));
        }
        if batch.saturating_mul(eval_batches) > MAX_VAL_EXAMPLES {
            return Err(bad(
                "eval_batches",
                format!(
                    "`eval_batches` of {eval_batches} × `batch` of {batch} is a validation set larger than nasc holds ({MAX_VAL_EXAMPLES} examples at most)"
                ),
            ));
        }
        let seed = count("seed", 0)? as u64;
        let grad_clip = match get("grad_clip") {
            None => 1.0,
            Some(v) => v.as_f64().filter(|x| *x >= 0.0).ok_or_else(|| {
                bad(
                    "grad_clip",
                    format!("`grad_clip` must be a norm (0 for none), and is {v}"),
                )
            })?,
        };
        let max_seconds = match get("max_seconds") {
            None => None,
            Some(v) => Some(v.as_f64().filter(|x| *x > 0.0).ok_or_else(|| {
                bad(
                    "max_seconds",
                    format!("`max_seconds` must be positive, and is {v}"),
                )
            })?),
        };
        let schedule = match get("schedule") {
            None => Schedule::Cosine,
            Some(Value::Sym(s, _)) => match &**s {
                "cosine" => Schedule::Cosine,
                "linear" => Schedule::Linear,
                "constant" => Schedule::Constant,
                other => {
                    return Err(bad(
                        "schedule",
                        format!("no learning-rate schedule `{other}`"),
                    ))
                }
            },
            Some(v) => {
                return Err(bad(
                    "schedule",
                    format!("`schedule` must be a schedule, and is {v}"),
                ))
            }
        };
        let optimizer = match get("optimizer") {
            None => OptimizerSettings {
                kind: OptimizerKind::AdamW { weight_decay: 0.01 },
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
            },
            Some(Value::Sym(name, args)) => {
                optimizer(name, args).map_err(|m| bad("optimizer", m))?
            }
            Some(v) => {
                return Err(bad(
                    "optimizer",
                    format!("`optimizer` must be an optimizer, and is {v}"),
                ))
            }
        };
        Ok(TrainSettings {
            steps,
            batch,
            warmup,
            schedule,
            eval_every,
            eval_batches,
            seed,
            grad_clip,
            max_seconds,
            optimizer,
        })
    }

    /// The learning rate of step `step` (0-based): linear warm-up, then the schedule.
    pub fn lr_at(&self, step: usize) -> f64 {
        let peak = self.optimizer.lr;
        if step < self.warmup {
            return peak * (step + 1) as f64 / self.warmup as f64;
        }
        let span = self.steps.saturating_sub(self.warmup).max(1) as f64;
        let done = ((step - self.warmup) as f64 / span).min(1.0);
        let floor = peak / 10.0;
        match self.schedule {
            Schedule::Cosine => {
                floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * done).cos())
            }
            Schedule::Linear => peak - (peak - floor) * done,
            Schedule::Constant => peak,
        }
    }
}

fn optimizer(name: &str, args: &[(Name, Value)]) -> Result<OptimizerSettings, String> {
    let num = |k: &str, default: f64| -> Result<f64, String> {
        match args.iter().find(|(n, _)| &**n == k) {
            None => Ok(default),
            Some((_, v)) => v
                .as_f64()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    format!("`{name}`'s `{k}` must be a non-negative number, and is {v}")
                }),
        }
    };
    let lr = num("lr", 1e-3)?;
    if lr <= 0.0 {
        return Err(format!("`{name}`'s learning rate must be positive"));
    }
    let (beta1, beta2) = (num("beta1", 0.9)?, num("beta2", 0.999)?);
    if beta1 >= 1.0 || beta2 >= 1.0 {
        return Err(format!("`{name}`'s betas must be below 1"));
    }
    let kind = match name {
        "adamw" => OptimizerKind::AdamW {
            weight_decay: num("weight_decay", 0.01)?,
        },
        "adam" => OptimizerKind::Adam,
        "sgd" => OptimizerKind::Sgd {
            momentum: num("momentum", 0.0)?,
        },
        other => return Err(format!("no optimizer `{other}`")),
    };
    Ok(OptimizerSettings {
        kind,
        lr,
        beta1,
        beta2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(fields: Vec<(&str, Value)>) -> TrainSettings {
        let fields: Vec<(Name, Value)> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
        TrainSettings::from_fields(&fields).unwrap()
    }

    #[test]
    fn defaults_fill_what_the_block_leaves_out() {
        let s = settings(vec![("steps", Value::Int(200))]);
        assert_eq!(
            (s.steps, s.batch, s.warmup, s.eval_every),
            (200, 32, 20, 20)
        );
        assert_eq!(
            s.optimizer.kind,
            OptimizerKind::AdamW { weight_decay: 0.01 }
        );
        assert_eq!(s.grad_clip, 1.0);
    }

    #[test]
    fn the_schedule_warms_up_then_decays_to_a_tenth() {
        let mut s = settings(vec![
            ("steps", Value::Int(100)),
            ("warmup", Value::Int(10)),
            (
                "optimizer",
                Value::Sym("adamw".into(), vec![("lr".into(), Value::Float(1e-3))]),
            ),
        ]);
        assert!((s.lr_at(0) - 1e-4).abs() < 1e-12);
        assert!((s.lr_at(9) - 1e-3).abs() < 1e-12);
        assert!(
            (s.lr_at(10) - 1e-3).abs() < 1e-12,
            "the peak right after warm-up"
        );
        assert!((s.lr_at(100) - 1e-4).abs() < 1e-12, "a tenth at the end");
        let mid = s.lr_at(55);
        assert!(
            (mid - 5.5e-4).abs() < 1e-9,
            "half-way down the cosine: {mid}"
        );
        s.schedule = Schedule::Linear;
        assert!((s.lr_at(55) - 5.5e-4).abs() < 1e-9);
        assert!((s.lr_at(32) - (1e-3 - 9e-4 * 22.0 / 90.0)).abs() < 1e-12);
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        let bad = |fields: Vec<(&str, Value)>| {
            let fields: Vec<(Name, Value)> =
                fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
            TrainSettings::from_fields(&fields).unwrap_err().message
        };
        assert!(bad(vec![("steps", Value::Int(-1))]).contains("count"));
        // Zero examples a step, or a validation set of none, was once taken as one.
        for field in ["batch", "eval_every", "eval_batches"] {
            assert!(
                bad(vec![(field, Value::Int(0))]).contains("at least 1"),
                "{field}"
            );
        }
        let lr0 = Value::Sym("adam".into(), vec![("lr".into(), Value::Float(0.0))]);
        assert!(bad(vec![("optimizer", lr0)]).contains("positive"));
        let beta = Value::Sym(
            "adamw".into(),
            vec![
                ("lr".into(), Value::Float(1e-3)),
                ("beta1".into(), Value::Float(1.0)),
            ],
        );
        assert!(bad(vec![("optimizer", beta)]).contains("below 1"));
        // These once overflowed `batch × length` or the validation set's size.
        assert!(bad(vec![("batch", Value::Int(1 << 62))]).contains("at most"));
        assert!(bad(vec![("eval_batches", Value::Int(1 << 62))]).contains("at most"));
        let ok = |fields: Vec<(&str, Value)>| {
            let fields: Vec<(Name, Value)> =
                fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
            TrainSettings::from_fields(&fields).is_ok()
        };
        assert!(ok(vec![("batch", Value::Int(MAX_BATCH as i64))]));
    }
}
