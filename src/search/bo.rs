//! Bayesian optimisation with a Gaussian-process surrogate, as a pipeline layer.
//!
//! The input survivors are evaluated first (the model's warm start), then `trials`
//! candidates one at a time. The first [`STARTUP`] trials with a result are drawn at
//! random; after that each proposal fits a Gaussian process ([`super::gp`]: Matérn 5/2,
//! length scale and noise by marginal likelihood) to the losses of the layer's trials
//! (failed ones at the worst loss seen), scores
//! a pool of candidates by the acquisition, and proposes the best one not yet evaluated.
//! The pool is [`POOL_RANDOM`] random members of the space plus [`POOL_LOCAL`] mutations
//! of each of the [`POOL_PARENTS`] best trials, all built by the interpreter, so every
//! proposal is a member of the space.
//!
//! Assignments become vectors through [`encode`]: a choice between numbers, a range, an
//! interval (log-scaled where it is one) and an `optional` as one coordinate in `[0, 1]`;
//! a choice between modules or symbols one-hot; a hyperparameter a candidate lacks (an
//! inactive branch) at -0.5 or all zeros. The model keeps at most [`MAX_POINTS`] trials
//! (the best half and the most recent half), so a proposal costs the same after a
//! thousand trials as after a few hundred.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use super::encode;
use super::evolution::Breed;
use super::gp::Gp;
use super::layer::{
    draw, rejection_json, Cx, Evaluated, Goal, Layer, LayerError, OneByOne, Request,
};
use super::normal;
use crate::interp::strategy::{RandomSearch, Rejections};
use crate::interp::{Arch, Decision, Domain, Outcome, Pick};

/// Trials with a result before the model is used.
pub const STARTUP: usize = 5;
/// Random candidates scored per proposal.
pub const POOL_RANDOM: usize = 512;
/// Best trials whose mutations are scored too.
pub const POOL_PARENTS: usize = 5;
/// Mutations of each of those.
pub const POOL_LOCAL: usize = 20;
/// The most trials the Gaussian process is fitted to.
pub const MAX_POINTS: usize = 200;

/// How a candidate's predicted loss and uncertainty become a score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Acquisition {
    /// Expected improvement over the best loss.
    Ei,
    /// The lower confidence bound `mean - 2 sd` (an upper bound on the objective).
    Ucb,
}

impl Acquisition {
    /// By its name in the language.
    pub fn named(name: &str) -> Acquisition {
        match name {
            "ucb" => Acquisition::Ucb,
            _ => Acquisition::Ei,
        }
    }

    /// The score of a prediction (larger is better) given the best loss so far.
    fn score(self, mean: f64, var: f64, best: f64) -> f64 {
        let sd = var.max(1e-12).sqrt();
        match self {
            Acquisition::Ei => {
                let gain = best - mean - 0.01;
                let z = gain / sd;
                gain * normal::cdf(z) + sd * normal::pdf(z)
            }
            Acquisition::Ucb => -(mean - 2.0 * sd),
        }
    }
}

/// The BO layer.
pub struct Bo {
    schedule: OneByOne,
    acquisition: Acquisition,
    goal: Goal,
    seen: HashSet<u128>,
    /// The layer's trials: decisions and loss.
    observed: Vec<(Vec<Decision>, Option<f64>)>,
    rejections: Rejections,
    /// Proposals made by the model, and those that fell back to random (the model could
    /// not be fitted).
    modelled: usize,
    fallbacks: usize,
}

impl Bo {
    /// `trials` candidates at `steps` by `acquisition`.
    pub fn new(trials: usize, steps: usize, acquisition: Acquisition, goal: Goal) -> Bo {
        Bo {
            schedule: OneByOne::new(trials, steps),
            acquisition,
            goal,
            seen: HashSet::new(),
            observed: Vec::new(),
            rejections: Rejections::default(),
            modelled: 0,
            fallbacks: 0,
        }
    }

    fn measured(&self) -> usize {
        self.observed.iter().filter(|(_, l)| l.is_some()).count()
    }

    /// A random member of the space not evaluated yet (a repeat after many tries).
    fn random(&mut self, cx: &mut Cx) -> Result<Arch, LayerError> {
        let mut last = None;
        for _ in 0..64 {
            let a = draw(cx, &mut RandomSearch, 1, &mut self.rejections)?.remove(0);
            if !self.seen.contains(&a.hash) {
                return Ok(a);
            }
            last = Some(a);
        }
        Ok(last.expect("at least one sample"))
    }

    /// The pool of candidates the acquisition scores.
    fn pool(&mut self, cx: &mut Cx) -> Result<Vec<Arch>, LayerError> {
        let mut pool = draw(cx, &mut RandomSearch, POOL_RANDOM, &mut self.rejections)?;
        let mut ranked: Vec<&(Vec<Decision>, Option<f64>)> =
            self.observed.iter().filter(|(_, l)| l.is_some()).collect();
        ranked.sort_by(|a, b| {
            a.1.unwrap_or(f64::INFINITY)
                .total_cmp(&b.1.unwrap_or(f64::INFINITY))
        });
        let parents: Vec<HashMap<String, Pick>> = ranked
            .iter()
            .take(POOL_PARENTS)
            .map(|(d, _)| {
                d.iter()
                    .map(|d| (d.hyper.path.to_string(), d.pick))
                    .collect()
            })
            .collect();
        for p in &parents {
            for _ in 0..POOL_LOCAL {
                let mut breed = Breed::new(p, None, 0.2, cx.rng);
                if let Ok(Outcome::Built(a)) = cx.interp.build(&mut breed) {
                    pool.push(*a);
                }
            }
        }
        let seen = &self.seen;
        let mut fresh = HashSet::new();
        pool.retain(|a| !seen.contains(&a.hash) && fresh.insert(a.hash));
        Ok(pool)
    }

    /// The trials the model is fitted to: the best half and the most recent half of at
    /// most [`MAX_POINTS`].
    fn points(&self) -> Vec<&(Vec<Decision>, Option<f64>)> {
        if self.observed.len() <= MAX_POINTS {
            return self.observed.iter().collect();
        }
        let mut idx: Vec<usize> = (0..self.observed.len()).collect();
        idx.sort_by(|&a, &b| {
            let l = |i: usize| self.observed[i].1.unwrap_or(f64::INFINITY);
            l(a).total_cmp(&l(b)).then(a.cmp(&b))
        });
        let mut keep: Vec<usize> = idx[..MAX_POINTS / 2].to_vec();
        let recent = self.observed.len() - MAX_POINTS / 2;
        keep.extend(recent..self.observed.len());
        keep.sort_unstable();
        keep.dedup();
        keep.iter().map(|&i| &self.observed[i]).collect()
    }

    /// The pool candidate with the best acquisition, or `None` when the model cannot be
    /// fitted.
    fn propose(&self, pool: &[Arch]) -> Option<usize> {
        let points = self.points();
        let finite: Vec<f64> = points.iter().filter_map(|(_, l)| *l).collect();
        if finite.len() < 2 || pool.is_empty() {
            return None;
        }
        let worst = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let ys: Vec<f64> = points.iter().map(|(_, l)| l.unwrap_or(worst)).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let sd = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64)
            .sqrt()
            .max(1e-9);
        let ys: Vec<f64> = ys.iter().map(|y| (y - mean) / sd).collect();
        let best = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let schema = Schema::new(
            points
                .iter()
                .flat_map(|(d, _)| d.iter())
                .chain(pool.iter().flat_map(|a| a.assignment.iter())),
        );
        let xs: Vec<Vec<f64>> = points.iter().map(|(d, _)| schema.encode(d)).collect();
        let candidates: Vec<Vec<f64>> = pool.iter().map(|a| schema.encode(&a.assignment)).collect();
        if xs
            .iter()
            .chain(&candidates)
            .flatten()
            .any(|v| !v.is_finite())
        {
            return None;
        }
        let gp = Gp::fit(xs, &ys)?;
        let (means, vars): (Vec<f64>, Vec<f64>) = candidates.iter().map(|c| gp.predict(c)).unzip();
        let mut best_i = None;
        let mut best_score = f64::NEG_INFINITY;
        for (i, (m, v)) in means.iter().zip(&vars).enumerate() {
            let s = self.acquisition.score(*m, *v, best);
            if s.is_finite() && s > best_score {
                best_score = s;
                best_i = Some(i);
            }
        }
        best_i
    }
}

impl Layer for Bo {
    fn planned(&self, input: usize) -> Option<usize> {
        self.schedule.planned(input)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if let Some(r) = self.schedule.before_proposing(cx.input) {
            return Ok(r);
        }
        let arch = if self.measured() < STARTUP {
            self.random(cx)?
        } else {
            let mut pool = self.pool(cx)?;
            match self.propose(&pool) {
                Some(i) => {
                    self.modelled += 1;
                    pool.swap_remove(i)
                }
                None => {
                    self.fallbacks += 1;
                    self.random(cx)?
                }
            }
        };
        Ok(self.schedule.request(arch))
    }

    fn tell(&mut self, results: &[Evaluated]) {
        for e in results {
            self.seen.insert(e.arch.hash);
            self.observed
                .push((e.arch.assignment.clone(), self.goal.loss(e)));
        }
    }

    fn stats(&self) -> serde_json::Value {
        let mut j = rejection_json(&self.rejections);
        j["modelled"] = self.modelled.into();
        j["random_fallbacks"] = self.fallbacks.into();
        j
    }
}

/// The columns of the vectors: per hyperparameter path (in path order), its encoding.
struct Schema {
    columns: BTreeMap<String, (usize, Column)>,
    width: usize,
}

enum Column {
    /// One coordinate in `[0, 1]`; -0.5 when inactive.
    Scalar(Rc<Domain>),
    /// One coordinate per alternative; all zero when inactive.
    OneHot(usize),
}

impl Schema {
    fn new<'d>(decisions: impl Iterator<Item = &'d Decision>) -> Schema {
        let mut kinds: BTreeMap<String, Column> = BTreeMap::new();
        for d in decisions {
            kinds.entry(d.hyper.path.to_string()).or_insert_with(|| {
                let domain = d.hyper.domain.clone();
                match domain.as_ref() {
                    Domain::Choice { alts }
                        if !alts
                            .iter()
                            .all(|a| a.value.as_ref().and_then(|v| v.as_f64()).is_some()) =>
                    {
                        Column::OneHot(alts.len())
                    }
                    _ => Column::Scalar(domain),
                }
            });
        }
        let mut width = 0;
        let columns = kinds
            .into_iter()
            .map(|(path, c)| {
                let at = width;
                width += match &c {
                    Column::Scalar(_) => 1,
                    Column::OneHot(k) => *k,
                };
                (path, (at, c))
            })
            .collect();
        Schema { columns, width }
    }

    fn encode(&self, decisions: &[Decision]) -> Vec<f64> {
        let mut x = vec![0.0; self.width];
        for (at, c) in self.columns.values() {
            if let Column::Scalar(_) = c {
                x[*at] = -0.5;
            }
        }
        for d in decisions {
            let Some((at, c)) = self.columns.get(&*d.hyper.path) else {
                continue;
            };
            match c {
                Column::OneHot(k) => {
                    if let Pick::Index(i) = d.pick {
                        if (i as usize) < *k {
                            // Two different alternatives are at distance one, as
                            // the ends of a numeric interval are.
                            x[at + i as usize] = std::f64::consts::FRAC_1_SQRT_2;
                        }
                    }
                }
                Column::Scalar(domain) => {
                    x[*at] = scalar(domain, &d.pick);
                }
            }
        }
        x
    }
}

/// A value as one coordinate in `[0, 1]`: numbers by their place in the interval, a
/// choice between numbers by its place in value order, on/off as 1/0.
fn scalar(domain: &Domain, pick: &Pick) -> f64 {
    match (domain, pick) {
        (Domain::OnOff, Pick::On(b)) => f64::from(u8::from(*b)),
        (Domain::Choice { alts }, Pick::Index(i)) => {
            let values: Vec<f64> = alts
                .iter()
                .filter_map(|a| a.value.as_ref().and_then(|v| v.as_f64()))
                .collect();
            let Some(v) = values.get(*i as usize) else {
                return 0.0;
            };
            let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if hi > lo {
                (v - lo) / (hi - lo)
            } else {
                0.5
            }
        }
        _ => encode::unit(domain, pick).unwrap_or(0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_improvement_prefers_low_means_and_high_uncertainty() {
        let a = Acquisition::Ei;
        assert!(a.score(-1.0, 0.1, 0.0) > a.score(0.5, 0.1, 0.0));
        assert!(a.score(0.5, 1.0, 0.0) > a.score(0.5, 0.01, 0.0));
        let u = Acquisition::Ucb;
        assert!(u.score(0.0, 1.0, 0.0) > u.score(0.0, 0.1, 0.0));
    }
}
