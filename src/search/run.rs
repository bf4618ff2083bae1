//! The runner: executes a [`Plan`] layer by layer against the results store, so that a
//! run survives a crash and can be shared by several processes.
//!
//! Every strategy is a deterministic function of the run's seed and of what it was told,
//! and trials are numbered in the order they are asked for. Resuming a run therefore
//! *replays* it from the start: each trial the store already holds finished is read back
//! instead of evaluated, and the strategies, told the same results, ask for the same
//! trials again. A trial is evaluated only after this process has claimed it in the
//! store; a trial claimed by another live process is waited for, one whose process died
//! is taken over. So no finished trial is lost or run twice, and with the same seed a
//! resumed run ends with the answer an uninterrupted one gives.
//!
//! An architecture asked for again at the same fidelity within a run reuses the first
//! trial's result (recorded as a trial of its own, with `reused_from` and no cost).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use super::filter::{self, Candidate, Keep, Metric};
use super::layer::{self, Cx, Evaluated, Goal, LayerError, Request};
use super::plan::{Plan, Stage};
use crate::check::SCORE;
use crate::interp::strategy;
use crate::interp::{assignment_json, Arch, Interp};
use crate::store::{self, Claim, LayerRow, Store, StoreError, TrialRow, TrialStatus};

/// What an evaluation measured.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    /// Whether it failed.
    pub failed: bool,
    /// Why it failed.
    pub reason: Option<String>,
    /// Its metrics, by name (non-finite values left out).
    pub metrics: BTreeMap<String, f64>,
    /// The full report, as JSON (the training curve included).
    pub report: Option<serde_json::Value>,
    /// Seconds it took.
    pub wall_s: f64,
}

/// What turns an architecture at a fidelity into measurements: training (the default), a
/// lookup in a tabular benchmark, a remote worker.
pub trait Evaluator {
    /// The training seed an evaluation of `arch` uses, recorded with its trial.
    fn seed(&self, arch: &Arch) -> u64;
    /// Evaluates `arch` for `steps`; a failure is part of the result, never a panic.
    /// `progress(step, loss)` is called as training goes.
    fn evaluate(
        &mut self,
        arch: &Arch,
        steps: usize,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Evaluation;
}

/// Where a trial's result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Evaluated by this process just now.
    Evaluated,
    /// The same architecture at the same fidelity was evaluated earlier in the run.
    Reused,
    /// Read back from the store (a resumed run).
    Stored,
    /// Evaluated by another process sharing the run.
    Elsewhere,
}

/// Sees a run as it goes (progress bars, a log).
pub trait Watcher {
    /// A layer starts, with `input` survivors and `planned` evaluations when known.
    fn layer_start(
        &mut self,
        _index: usize,
        _stage: &Stage,
        _planned: Option<usize>,
        _input: usize,
    ) {
    }
    /// The layer asked for `n` more evaluations.
    fn asked(&mut self, _n: usize) {}
    /// This process starts evaluating trial `seq`.
    fn trial_start(&mut self, _seq: i64, _arch: &Arch, _steps: usize) {}
    /// A training step of the trial being evaluated.
    fn step(&mut self, _step: usize, _steps: usize, _loss: f64) {}
    /// A trial's result is known.
    fn trial_done(&mut self, _trial: &Evaluated, _how: How) {}
    /// A layer has filtered its population.
    fn layer_done(&mut self, _index: usize, _row: &LayerRow, _kept: &[Evaluated]) {}
}

/// Why a run stopped before its end.
#[derive(Debug)]
pub enum RunError {
    /// A layer could not go on.
    Layer(usize, LayerError),
    /// A layer's filter kept nothing; why, in words.
    KeptNothing(usize, String),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for RunError {
    fn from(e: StoreError) -> Self {
        RunError::Store(e)
    }
}

/// The end of a run.
#[derive(Debug)]
pub struct Outcome {
    /// The survivors of the last layer, best first.
    pub best: Vec<Evaluated>,
    /// The metric they are ordered by.
    pub ranked_by: Metric,
    /// What each layer did.
    pub layers: Vec<LayerRow>,
    /// Every trial, in order.
    pub trials: Vec<Evaluated>,
}

impl Outcome {
    /// The run's result as the store keeps it: the metric the survivors are ranked by and
    /// their trial numbers, best first (what `nasc show` reads back).
    pub fn result_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ranked_by": self.ranked_by,
            "best": self.best.iter().map(|e| e.seq).collect::<Vec<_>>(),
        })
    }
}

/// How long a claimed trial may go without a heartbeat before another host takes it.
pub const STALE_S: f64 = 120.0;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(500);

/// Runs (or resumes) run `run` of `store`.
pub struct Runner<'a, 'i> {
    /// The store.
    pub store: &'a Store,
    /// The run's id in it.
    pub run: i64,
    /// The run's seed.
    pub seed: u64,
    /// The space.
    pub interp: &'a Interp<'i>,
    /// The pipeline.
    pub plan: &'a Plan,
    /// What evaluates trials.
    pub evaluator: &'a mut dyn Evaluator,
    /// Who watches.
    pub watcher: &'a mut dyn Watcher,
    /// This process, as an owner of claims.
    pub owner: String,
    /// When this process began (or resumed) the run, in unix seconds: a trial another
    /// owner finished since was evaluated beside it, one finished before was read back.
    pub started: f64,
}

/// The generator of layer `index` of a run seeded `seed`.
pub fn layer_rng(seed: u64, index: usize) -> strategy::Rng64 {
    strategy::rng(seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Runner<'_, '_> {
    /// Runs every layer; the survivors of the last, best first.
    pub fn run(&mut self) -> Result<Outcome, RunError> {
        let mut next_seq = 0i64;
        let mut history: Vec<Evaluated> = Vec::new();
        let mut survivors: Vec<Evaluated> = Vec::new();
        let mut layers = Vec::new();
        for (index, stage) in self.plan.stages.iter().enumerate() {
            let goal = Goal::of(stage, self.plan);
            let mut l = layer::layer(stage, goal).map_err(|e| RunError::Layer(index, e))?;
            let mut rng = layer_rng(self.seed, index);
            self.watcher
                .layer_start(index, stage, l.planned(survivors.len()), survivors.len());
            let mut population: Vec<Evaluated> = Vec::new();
            loop {
                let asks = {
                    let mut cx = Cx {
                        interp: self.interp,
                        rng: &mut rng,
                        input: &survivors,
                        history: &history,
                    };
                    l.ask(&mut cx).map_err(|e| RunError::Layer(index, e))?
                };
                if asks.is_empty() {
                    break;
                }
                self.watcher.asked(asks.len());
                let results = self.evaluate_all(index, &mut next_seq, &asks)?;
                l.tell(&results);
                history.extend(results.iter().cloned());
                population.extend(results);
            }
            let finalists = l.finalists(&population);
            let (kept, row) =
                self.filter(index, stage, &survivors, &population, &finalists, l.stats())?;
            self.store.record_layer(&row)?;
            self.watcher.layer_done(index, &row, &kept);
            layers.push(row);
            survivors = kept;
        }
        let ranked_by = match self.plan.stages.last().and_then(|s| s.filter.as_ref()) {
            Some(f) => match &f.keep {
                Keep::Top(_, m) | Keep::Fraction(_, m) => m.clone(),
                _ => self.plan.rank.clone(),
            },
            None => self.plan.rank.clone(),
        };
        let mut best = survivors;
        best.sort_by(|a, b| {
            let (x, y) = (
                a.metrics.get(&ranked_by.name),
                b.metrics.get(&ranked_by.name),
            );
            match (x, y) {
                (Some(x), Some(y)) => ranked_by.order(*x, *y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then(a.seq.cmp(&b.seq))
        });
        Ok(Outcome {
            best,
            ranked_by,
            layers,
            trials: history,
        })
    }

    /// Applies the stage's filter to the population (one candidate per architecture).
    fn filter(
        &self,
        index: usize,
        stage: &Stage,
        input: &[Evaluated],
        population: &[Evaluated],
        finalists: &[Evaluated],
        strategy_stats: serde_json::Value,
    ) -> Result<(Vec<Evaluated>, LayerRow), RunError> {
        let mut seen = HashSet::new();
        let unique: Vec<&Evaluated> = finalists
            .iter()
            .filter(|e| seen.insert(e.arch.hash))
            .collect();
        let values: Vec<BTreeMap<String, serde_json::Value>> = unique
            .iter()
            .map(|e| {
                e.arch
                    .values
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect()
            })
            .collect();
        let cands: Vec<Candidate> = unique
            .iter()
            .zip(&values)
            .map(|(e, v)| Candidate {
                failed: e.failed,
                metrics: &e.metrics,
                values: v,
            })
            .collect();
        let keep = stage.filter.as_ref().map_or(Keep::All, |f| f.keep.clone());
        let kept: Vec<Evaluated> = filter::apply(&keep, &cands)
            .into_iter()
            .map(|i| unique[i].clone())
            .collect();
        if kept.is_empty() {
            return Err(RunError::KeptNothing(
                index,
                why_nothing(&keep, &unique, population.len()),
            ));
        }
        let count = |f: &dyn Fn(&&Evaluated) -> bool| population.iter().filter(|e| f(e)).count();
        let stats = serde_json::json!({
            "evaluated": population.len(),
            "distinct": unique.len(),
            "trained": count(&|e| e.reused_from.is_none()),
            "reused": count(&|e| e.reused_from.is_some()),
            "failed": count(&|e| e.failed),
            "strategy": strategy_stats,
        });
        let row = LayerRow {
            run: self.run,
            index: index as i64,
            strategy: stage.strategy.clone(),
            args: serde_json::Value::Object(stage.args.clone()),
            filter: stage
                .filter
                .as_ref()
                .map(|f| f.text.clone())
                .unwrap_or_default(),
            input: input.iter().map(|e| e.arch.hash_hex()).collect(),
            output: kept.iter().map(|e| e.arch.hash_hex()).collect(),
            stats,
            cost_s: population.iter().map(|e| e.wall_s).sum(),
            finished: store::now(),
        };
        Ok((kept, row))
    }

    /// Evaluates a batch of requests as trials `next_seq..`, claiming each in the store.
    fn evaluate_all(
        &mut self,
        layer: usize,
        next_seq: &mut i64,
        asks: &[Request],
    ) -> Result<Vec<Evaluated>, RunError> {
        let base = *next_seq;
        *next_seq += asks.len() as i64;
        let mut done: Vec<Option<Evaluated>> = vec![None; asks.len()];
        // Trials seen held by another process, whose results are then theirs.
        let mut elsewhere = vec![false; asks.len()];
        let mut last_beat = Instant::now();
        loop {
            let mut waiting = 0;
            for (j, req) in asks.iter().enumerate() {
                if done[j].is_some() {
                    continue;
                }
                let seq = base + j as i64;
                let row = self.skeleton(layer, seq, req);
                let is_dead = |owner: &str, beat: f64| store::is_dead(owner, beat, STALE_S);
                match self.store.claim(&row, &self.owner, &is_dead)? {
                    Claim::Finished(r) => {
                        let e = from_row(&r, req, layer);
                        // Finished by another process since this one began, even if it
                        // was never seen running.
                        let beside = r.owner.as_deref().is_some_and(|o| o != self.owner)
                            && r.finished.is_some_and(|f| f >= self.started);
                        let how = if elsewhere[j] || beside {
                            How::Elsewhere
                        } else {
                            How::Stored
                        };
                        self.watcher.trial_done(&e, how);
                        done[j] = Some(e);
                    }
                    Claim::Taken { .. } => {
                        elsewhere[j] = true;
                        waiting += 1;
                    }
                    Claim::Mine => match self.evaluate_claimed(layer, row, req)? {
                        Some(e) => done[j] = Some(e),
                        None => waiting += 1,
                    },
                }
            }
            if waiting == 0 {
                break;
            }
            // Others hold some trials (or the first of a repeated architecture is still
            // running): wait for them, keeping our own claims alive.
            std::thread::sleep(POLL);
            if last_beat.elapsed() >= HEARTBEAT_EVERY {
                for (j, d) in done.iter().enumerate() {
                    if d.is_none() {
                        self.store
                            .heartbeat(self.run, base + j as i64, &self.owner)?;
                    }
                }
                last_beat = Instant::now();
            }
        }
        Ok(done.into_iter().flatten().collect())
    }

    /// The store row of a trial before it is evaluated.
    fn skeleton(&self, layer: usize, seq: i64, req: &Request) -> TrialRow {
        TrialRow {
            run: self.run,
            seq,
            layer: layer as i64,
            hash: req.arch.hash_hex(),
            steps: req.steps as i64,
            seed: self.evaluator.seed(&req.arch),
            assignment: assignment_json(&req.arch.assignment),
            arch: req.arch.to_json(),
            status: TrialStatus::Running,
            reason: None,
            metrics: BTreeMap::new(),
            report: None,
            reused_from: None,
            owner: None,
            started: None,
            heartbeat: None,
            finished: None,
            wall_s: 0.0,
        }
    }

    /// Evaluates a trial this process has claimed; `None` when it repeats an earlier
    /// trial that is not finished yet (it is then waited for).
    fn evaluate_claimed(
        &mut self,
        layer: usize,
        mut row: TrialRow,
        req: &Request,
    ) -> Result<Option<Evaluated>, RunError> {
        let first = self
            .store
            .first_with_key(self.run, &row.hash, row.steps, row.seq)?;
        let how = if let Some(first) = first {
            match self.store.trial(self.run, first)? {
                Some(src) if src.status != TrialStatus::Running => {
                    row.status = src.status;
                    row.reason = src.reason.clone();
                    row.metrics = src.metrics.clone();
                    row.report = src.report.clone();
                    row.reused_from = Some(first);
                    row.wall_s = 0.0;
                    How::Reused
                }
                _ => return Ok(None),
            }
        } else {
            self.watcher.trial_start(row.seq, &req.arch, req.steps);
            let (store, run, seq, owner) = (self.store, self.run, row.seq, self.owner.clone());
            let watcher = &mut *self.watcher;
            let mut beat = Instant::now();
            let steps = req.steps;
            let mut progress = |step: usize, loss: f64| {
                watcher.step(step, steps, loss);
                if beat.elapsed() >= HEARTBEAT_EVERY {
                    // A failed heartbeat only risks another process taking the trial over.
                    let _ = store.heartbeat(run, seq, &owner);
                    beat = Instant::now();
                }
            };
            let ev = self.evaluator.evaluate(&req.arch, req.steps, &mut progress);
            row.status = if ev.failed {
                TrialStatus::Failed
            } else {
                TrialStatus::Ok
            };
            row.reason = ev.reason;
            row.metrics = ev.metrics;
            if let Some(score) = self.plan.score(&row.metrics) {
                row.metrics.insert(SCORE.to_string(), score);
            }
            row.report = ev.report;
            row.wall_s = ev.wall_s;
            How::Evaluated
        };
        if !self.store.finish_trial(&row, &self.owner)? {
            // Another process took the trial over (ours looked dead): use its result.
            return Ok(None);
        }
        let e = from_row(&row, req, layer);
        self.watcher.trial_done(&e, how);
        Ok(Some(e))
    }
}

/// A finished store row as an evaluation of `req`.
fn from_row(r: &TrialRow, req: &Request, layer: usize) -> Evaluated {
    Evaluated {
        seq: r.seq,
        layer,
        arch: req.arch.clone(),
        steps: req.steps,
        failed: r.status == TrialStatus::Failed,
        reason: r.reason.clone(),
        metrics: r.metrics.clone(),
        reused_from: r.reused_from,
        wall_s: r.wall_s,
    }
}

/// Why a filter kept nothing, in words.
fn why_nothing(keep: &Keep, pop: &[&Evaluated], trials: usize) -> String {
    let failed = pop.iter().filter(|e| e.failed).count();
    if pop.is_empty() {
        return "the layer evaluated no candidate".into();
    }
    if failed == pop.len() {
        let reason = pop
            .iter()
            .find_map(|e| e.reason.clone())
            .unwrap_or_else(|| "no reason recorded".into());
        return format!("all {} trials failed; the first: {reason}", pop.len());
    }
    let metrics: Vec<&str> = match keep {
        Keep::Top(_, m) | Keep::Fraction(_, m) => vec![&m.name],
        Keep::Pareto(ms) => ms.iter().map(|m| m.name.as_str()).collect(),
        _ => Vec::new(),
    };
    for m in metrics {
        if !pop.iter().any(|e| !e.failed && e.metrics.contains_key(m)) {
            return format!("no trial measured `{m}`");
        }
    }
    let distinct = match pop.len() {
        1 => "1 distinct architecture".to_string(),
        n => format!("{n} distinct architectures"),
    };
    format!("no candidate satisfied the filter ({trials} trials, {distinct}, {failed} failed)")
}
