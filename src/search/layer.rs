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

use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

use super::bo::{Acquisition, Bo};
use super::evolution::Evolution;
use super::filter::{Keep, Metric};
use super::halving::Halving;
use super::plan::{Plan, Stage};
use super::tpe::{Tpe, TpeSettings};
use crate::interp::strategy::{
    self, EnumError, RandomSearch, Rejections, Rng64, SampleError, Strategy, Trial,
};
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
    /// Of everything the layer evaluated, what its filter compares: all of it, unless the
    /// layer measured some candidates at a lower fidelity only to drop them (successive
    /// halving passes on its last rung).
    fn finalists(&self, evaluated: &[Evaluated]) -> Vec<Evaluated> {
        evaluated.to_vec()
    }
    /// What it wants recorded about itself (rejection counts, ...), as JSON.
    fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// What a strategy minimises: one metric, negated when it is maximised.
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    /// The metric.
    pub metric: Metric,
}

impl Goal {
    /// The goal of `stage`: the metric its filter ranks by (`keep top 4 by val_loss`), else
    /// the plan's rank: `score` when the objectives are weighted, else the first objective
    /// (`val_loss` when there is none).
    pub fn of(stage: &Stage, plan: &Plan) -> Goal {
        let metric = match stage.filter.as_ref().map(|f| &f.keep) {
            Some(Keep::Top(_, m) | Keep::Fraction(_, m)) => m.clone(),
            _ => plan.rank.clone(),
        };
        Goal { metric }
    }

    /// The loss of an evaluation: `None` when it failed or did not measure the metric.
    pub fn loss(&self, e: &Evaluated) -> Option<f64> {
        if e.failed {
            return None;
        }
        let v = *e.metrics.get(&self.metric.name)?;
        v.is_finite().then_some(self.metric.direction.as_loss(v))
    }

    /// Orders two evaluations, better first; those without a loss last.
    pub fn order(&self, a: &Evaluated, b: &Evaluated) -> std::cmp::Ordering {
        match (self.loss(a), self.loss(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    }

    /// The trial as a strategy is told it.
    pub fn trial(&self, e: &Evaluated) -> Trial {
        Trial {
            assignment: e.arch.assignment.clone(),
            metrics: e.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            loss: self.loss(e),
        }
    }
}

/// The layer that runs `stage`, minimising `goal`, or why it cannot.
pub fn layer(stage: &Stage, goal: Goal) -> Result<Box<dyn Layer>, LayerError> {
    if let Some(s) = stage.int("steps").filter(|s| *s < 1) {
        return Err(LayerError {
            message: format!("a layer trains each candidate for at least one step, not {s}"),
            help: "give `steps` a count of 1 or more".into(),
        });
    }
    // A layer holds its candidates in memory, and each is trained: past this many, a
    // count is a slip, not a plan.
    let proposed = ["samples", "trials", "population", "generations", "limit"]
        .iter()
        .map(|n| stage.int(n).unwrap_or(0).max(0) as u128)
        .fold(1u128, |a, n| a.saturating_mul(n.max(1)));
    if proposed > MAX_LAYER_TRIALS as u128 {
        return Err(LayerError {
            message: format!(
                "`{}` would propose {proposed} candidates, more than a layer holds ({MAX_LAYER_TRIALS} at most)",
                stage.strategy
            ),
            help: "every candidate is trained: ask for fewer".into(),
        });
    }
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
        "tpe" => Box::new(Sequential::new(
            Box::new(Tpe::new(TpeSettings {
                startup: count("startup"),
                ..TpeSettings::default()
            })),
            count("trials"),
            steps,
            goal,
        )),
        "evolution" => Box::new(Evolution::new(
            count("population"),
            count("generations"),
            steps,
            stage.float("mutation").unwrap_or(0.1),
            goal,
        )),
        "successive_halving" | "hyperband" => {
            let (min, max, eta) = (count("min_steps"), count("max_steps"), count("eta"));
            let h = match stage.strategy.as_str() {
                "hyperband" => Halving::hyperband(min, max, eta, goal)?,
                _ => Halving::successive(min, max, eta, goal)?,
            };
            // The trials its rungs plan when it starts the first layer: `eta^k` candidates
            // for `k + 1` rungs grow past any budget long before they overflow.
            let planned = h.planned(0).unwrap_or(usize::MAX);
            if planned > MAX_LAYER_TRIALS {
                return Err(LayerError {
                    message: format!(
                        "`{}` would plan {} trials over its rungs (min_steps = {min}, max_steps = {max}, eta = {eta}), more than a layer holds ({MAX_LAYER_TRIALS} at most)",
                        stage.strategy,
                        if planned == usize::MAX { "more".to_string() } else { planned.to_string() }
                    ),
                    help: "use fewer rungs: a larger min_steps, a smaller max_steps or a smaller eta".into(),
                });
            }
            Box::new(h)
        }
        "bo" => Box::new(Bo::new(
            count("trials"),
            steps,
            Acquisition::named(stage.text_arg("acquisition").unwrap_or("ei")),
            goal,
        )),
        other => {
            return Err(LayerError {
                message: format!("the strategy `{other}` is not implemented yet"),
                help: "`darts` needs weight sharing between candidates, which is not built yet; every other strategy runs (see the README's status)".into(),
            })
        }
    })
}

/// The most candidates one layer may propose (`samples`, `trials`, `population` ×
/// `generations`, a grid's `limit`).
pub const MAX_LAYER_TRIALS: usize = 1_000_000;

/// How many proposals in a row may repeat an architecture the layer has already
/// evaluated before one is accepted anyway (a nearly exhausted space).
const MAX_REPEATS: usize = 64;

/// A model-based strategy ([`Strategy`]) as a layer: the input survivors are evaluated
/// first at the layer's fidelity and told to the strategy (its warm start), then `trials`
/// new candidates, one at a time, each told before the next is proposed. A proposal that
/// repeats an architecture the layer has evaluated is drawn again; after [`MAX_REPEATS`]
/// repeats in a row, a uniformly random architecture the layer has not evaluated takes
/// its place (a repeat only when [`MAX_REPEATS`] uniform draws find none either).
pub struct Sequential {
    strategy: Box<dyn Strategy>,
    schedule: OneByOne,
    goal: Goal,
    seen: HashSet<u128>,
    rejections: Rejections,
    /// Proposals replaced by a uniform draw because the strategy kept repeating.
    repeats_replaced: usize,
}

impl Sequential {
    /// `trials` candidates from `strategy` at `steps`.
    pub fn new(strategy: Box<dyn Strategy>, trials: usize, steps: usize, goal: Goal) -> Self {
        Sequential {
            strategy,
            schedule: OneByOne::new(trials, steps),
            goal,
            seen: HashSet::new(),
            rejections: Rejections::default(),
            repeats_replaced: 0,
        }
    }
}

impl Layer for Sequential {
    fn planned(&self, input: usize) -> Option<usize> {
        self.schedule.planned(input)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if let Some(r) = self.schedule.before_proposing(cx.input) {
            return Ok(r);
        }
        for _ in 0..MAX_REPEATS {
            let arch = draw(cx, self.strategy.as_mut(), 1, &mut self.rejections)?.remove(0);
            if !self.seen.contains(&arch.hash) {
                return Ok(self.schedule.request(arch));
            }
        }
        // The model keeps proposing what it has already seen (it has converged on a
        // region it has exhausted): a uniformly drawn new architecture goes in its place,
        // so no trial of the budget is spent on a repeat while the space has others.
        self.repeats_replaced += 1;
        let mut arch = draw(cx, &mut RandomSearch, 1, &mut self.rejections)?.remove(0);
        for _ in 1..MAX_REPEATS {
            if !self.seen.contains(&arch.hash) {
                break;
            }
            arch = draw(cx, &mut RandomSearch, 1, &mut self.rejections)?.remove(0);
        }
        Ok(self.schedule.request(arch))
    }

    fn tell(&mut self, results: &[Evaluated]) {
        for e in results {
            self.seen.insert(e.arch.hash);
            self.strategy.tell(&self.goal.trial(e));
        }
    }

    fn stats(&self) -> serde_json::Value {
        let mut stats = rejection_json(&self.rejections);
        stats["repeats_replaced"] = self.repeats_replaced.into();
        stats
    }
}

/// `n` members of the space from `strategy`, constraints enforced by drawing again; the
/// rejections are added to `rejections`.
pub fn draw(
    cx: &mut Cx,
    strategy: &mut dyn Strategy,
    n: usize,
    rejections: &mut Rejections,
) -> Result<Vec<Arch>, LayerError> {
    let (archs, stats) = strategy::sample(cx.interp, strategy, cx.rng, n, MAX_REJECTED_IN_A_ROW)
        .map_err(sample_error)?;
    rejections.absorb(&stats);
    Ok(archs)
}

/// The schedule of the layers that propose one candidate at a time (TPE, BO): the input
/// survivors first, in one batch, then `trials` proposals, each told before the next.
#[derive(Clone, Debug)]
pub struct OneByOne {
    trials: usize,
    steps: usize,
    asked: usize,
    input_done: bool,
}

impl OneByOne {
    /// `trials` proposals at `steps`.
    pub fn new(trials: usize, steps: usize) -> OneByOne {
        OneByOne {
            trials,
            steps,
            asked: 0,
            input_done: false,
        }
    }

    /// Evaluations in all, given `input` survivors.
    pub fn planned(&self, input: usize) -> Option<usize> {
        Some(input + self.trials)
    }

    /// What the layer asks for without proposing: the input survivors first, then
    /// nothing once `trials` proposals were made; `None` when it is time to propose one.
    pub fn before_proposing(&mut self, input: &[Evaluated]) -> Option<Vec<Request>> {
        if !std::mem::replace(&mut self.input_done, true) && !input.is_empty() {
            return Some(again(input, self.steps));
        }
        if self.asked >= self.trials {
            return Some(Vec::new());
        }
        self.asked += 1;
        None
    }

    /// A proposal as the layer's request.
    pub fn request(&self, arch: Arch) -> Vec<Request> {
        vec![Request {
            arch: Rc::new(arch),
            steps: self.steps,
        }]
    }
}

/// The error of a sampling strategy as a layer's.
pub fn sample_error(e: SampleError) -> LayerError {
    match e {
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
            help:
                "loosen the constraint, or narrow the domains so that more architectures satisfy it"
                    .into(),
        },
    }
}

/// The input survivors, asked again at `steps`.
pub fn again(input: &[Evaluated], steps: usize) -> Vec<Request> {
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
pub const MAX_REJECTED_IN_A_ROW: u64 = 10_000;

impl Layer for Random {
    fn planned(&self, input: usize) -> Option<usize> {
        Some(input + self.samples)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(Vec::new());
        }
        let mut out = again(cx.input, self.steps);
        let archs = draw(cx, &mut RandomSearch, self.samples, &mut self.rejections)?;
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
            EnumError::MostlyRejected(r) => LayerError {
                message: format!(
                    "the grid visited {} assignments without reaching the end: the constraints rejected {} of them{}",
                    r.attempts,
                    r.rejected,
                    r.worst()
                        .map(|(c, n)| format!(" (`{}` {n} times)", c.text))
                        .unwrap_or_default()
                ),
                help: "narrow the domains to the region the constraints allow, or raise `limit` (it allows four assignments per architecture)".into(),
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

pub fn rejection_json(r: &Rejections) -> serde_json::Value {
    serde_json::json!({
        "drawn": r.attempts,
        "rejected": r.rejected,
        "by_constraint": r.by_constraint.iter().map(|(c, n)| serde_json::json!({"constraint": c.text, "count": n})).collect::<Vec<_>>(),
    })
}
