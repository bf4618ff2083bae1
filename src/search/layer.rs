//! Pipeline layers: the search strategies a `pipeline` runs, one per stage.
//!
//! A layer is an ask/tell loop. The runner asks it for evaluations ([`Layer::ask`]), has
//! them carried out (trained, or found in the store), and tells it the results
//! ([`Layer::tell`]); an empty ask ends the layer. What the layer evaluated is its
//! population, which the stage's filter then narrows to the survivors passed on.
//!
//! A layer sees the space only through the interpreter (assign values, get back an
//! architecture), the survivors of the layer before ([`Cx::input`]) and every trial of
//! the run so far ([`Cx::history`]): model-based strategies warm-start from the history,
//! and a joint evaluator (a supernet scored over many candidates) can ask for its
//! candidates in one batch. Every layer here re-evaluates its input at its own fidelity,
//! so that what its filter compares was measured alike; identical architectures at the
//! same fidelity are never trained twice (the runner reuses the earlier result).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::plan::Stage;
use crate::interp::strategy::{self, EnumError, RandomSearch, Rejections, Rng64, SampleError};
use crate::interp::{Arch, Interp};

/// One evaluation a layer asks for.
#[derive(Clone, Debug)]
pub struct Request {
    /// The architecture.
    pub arch: Rc<Arch>,
    /// Its fidelity: training steps.
    pub steps: usize,
}

/// A finished evaluation, as layers and filters see it.
#[derive(Clone, Debug)]
pub struct Evaluated {
    /// Its index in the run.
    pub seq: i64,
    /// The layer that asked for it.
    pub layer: usize,
    /// The architecture.
    pub arch: Rc<Arch>,
    /// Training steps.
    pub steps: usize,
    /// Whether it failed (diverged, could not be built or trained).
    pub failed: bool,
    /// Why it failed.
    pub reason: Option<String>,
    /// What it measured, plus the architecture's static metrics.
    pub metrics: BTreeMap<String, f64>,
    /// The earlier trial whose result it reuses (same architecture, same steps).
    pub reused_from: Option<i64>,
    /// Seconds the evaluation cost (0 when reused).
    pub wall_s: f64,
}

/// What a layer sees when asked.
pub struct Cx<'a, 'i> {
    /// The space's interpreter.
    pub interp: &'a Interp<'i>,
    /// The layer's own generator, seeded from the run's seed and the layer's index.
    pub rng: &'a mut Rng64,
    /// The survivors of the layer before (empty for the first).
    pub input: &'a [Evaluated],
    /// Every finished trial of the run so far, in order.
    pub history: &'a [Evaluated],
}

/// Why a layer cannot go on.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerError {
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

/// A pipeline layer: an ask/tell search strategy or a joint evaluator.
pub trait Layer {
    /// How many evaluations it will ask for in all, given `input` survivors, when known.
    fn planned(&self, input: usize) -> Option<usize>;
    /// The next evaluations; none when the layer is done.
    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError>;
    /// The results of the last ask, in its order.
    fn tell(&mut self, _results: &[Evaluated]) {}
    /// What it wants recorded about itself (rejection counts, ...), as JSON.
    fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// The layer that runs `stage`, or why it cannot.
pub fn layer(stage: &Stage) -> Result<Box<dyn Layer>, LayerError> {
    let steps = stage.steps().unwrap_or(100);
    let count = |name: &str| stage.int(name).unwrap_or(0).max(0) as usize;
    Ok(match stage.strategy.as_str() {
        "random" => Box::new(Random {
            samples: count("samples"),
            steps,
            done: false,
            rejections: Rejections::default(),
        }),
        "grid" => Box::new(Grid {
            limit: count("limit") as u64,
            steps,
            done: false,
            rejections: Rejections::default(),
        }),
        "final" => Box::new(Final { steps, done: false }),
        other => {
            return Err(LayerError {
                message: format!("the strategy `{other}` is not implemented yet"),
                help: "`nasc run` runs `random`, `grid` and `final` so far; the others check and count but cannot run yet (see the README's status)".into(),
            })
        }
    })
}

/// The input survivors, asked again at `steps`.
fn again(input: &[Evaluated], steps: usize) -> Vec<Request> {
    input
        .iter()
        .map(|e| Request {
            arch: e.arch.clone(),
            steps,
        })
        .collect()
}

/// `random(samples, steps)`: the input plus `samples` architectures drawn uniformly per
/// decision (constraints enforced by drawing again), all in one batch.
struct Random {
    samples: usize,
    steps: usize,
    done: bool,
    rejections: Rejections,
}

/// How many rejections in a row make random sampling give up.
const MAX_REJECTED_IN_A_ROW: u64 = 10_000;

impl Layer for Random {
    fn planned(&self, input: usize) -> Option<usize> {
        Some(input + self.samples)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(Vec::new());
        }
        let mut out = again(cx.input, self.steps);
        let (archs, stats) = strategy::sample(
            cx.interp,
            &mut RandomSearch,
            cx.rng,
            self.samples,
            MAX_REJECTED_IN_A_ROW,
        )
        .map_err(|e| match e {
            SampleError::Build(b) => LayerError {
                message: format!("the space cannot be built: {}", b.message),
                help: "`nasc sample` shows the same error with its source line".into(),
            },
            SampleError::AllRejected(s) => LayerError {
                message: format!(
                    "the constraints rejected {MAX_REJECTED_IN_A_ROW} samples in a row{}",
                    s.worst()
                        .map(|(r, n)| format!(" (`{}` {n} times)", r.text))
                        .unwrap_or_default()
                ),
                help: "loosen the constraint, or narrow the domains so that more architectures satisfy it".into(),
            },
        })?;
        self.rejections = stats;
        out.extend(archs.into_iter().map(|a| Request {
            arch: Rc::new(a),
            steps: self.steps,
        }));
        Ok(out)
    }

    fn stats(&self) -> serde_json::Value {
        rejection_json(&self.rejections)
    }
}

/// `grid(steps, limit)`: the input plus every architecture of a finite space, in the
/// interpreter's fixed order; refuses a space with more than `limit`.
struct Grid {
    limit: u64,
    steps: usize,
    done: bool,
    rejections: Rejections,
}

impl Layer for Grid {
    fn planned(&self, _input: usize) -> Option<usize> {
        None
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(Vec::new());
        }
        let mut out = again(cx.input, self.steps);
        let steps = self.steps;
        self.rejections = strategy::enumerate(cx.interp, self.limit, |a| {
            out.push(Request {
                arch: Rc::new(a),
                steps,
            })
        })
        .map_err(|e| match e {
            EnumError::TooMany(n) => LayerError {
                message: format!("the space has more than {n} architectures, the grid's `limit`"),
                help: "raise `limit`, narrow the space, or search it with `random`".into(),
            },
            EnumError::Continuous(h) => LayerError {
                message: format!(
                    "a grid needs a finite space, and `{}` is continuous",
                    h.path
                ),
                help: "give it a `choice` or a `range`, or search the space with `random`".into(),
            },
            EnumError::Build(b) => LayerError {
                message: format!("the space cannot be built: {}", b.message),
                help: "`nasc enumerate` shows the same error with its source line".into(),
            },
        })?;
        Ok(out)
    }

    fn stats(&self) -> serde_json::Value {
        rejection_json(&self.rejections)
    }
}

/// `final(steps)`: the input survivors, trained once more for `steps`.
struct Final {
    steps: usize,
    done: bool,
}

impl Layer for Final {
    fn planned(&self, input: usize) -> Option<usize> {
        Some(input)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(Vec::new());
        }
        Ok(again(cx.input, self.steps))
    }
}

fn rejection_json(r: &Rejections) -> serde_json::Value {
    serde_json::json!({
        "drawn": r.attempts,
        "rejected": r.rejected,
        "by_constraint": r.by_constraint.iter().map(|(c, n)| serde_json::json!({"constraint": c.text, "count": n})).collect::<Vec<_>>(),
    })
}
