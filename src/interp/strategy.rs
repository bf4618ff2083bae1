//! The search interface: strategies that pick values, and the drivers that turn their
//! picks into architectures.
//!
//! A [`Strategy`] is asked for one hyperparameter at a time, as the interpreter reaches
//! it ([`Strategy::decide`]): it sees the hyperparameter's path and domain and the values
//! already picked for this candidate, and it is told the results of finished trials
//! ([`Strategy::tell`]). It never sees the graph. Any strategy therefore works with any
//! space, and a candidate is complete when the interpreter stops asking.
//!
//! [`RandomSearch`] is uniform *per decision*: each choice picks an alternative with equal
//! probability, an `optional` is on half the time, a repeat count is uniform over its
//! range, a continuous value uniform (or log-uniform) over its interval; a quantised one
//! takes each point of its grid with equal probability on a linear scale, and on a log
//! scale the point nearest to a log-uniform draw. Architectures behind rarely taken
//! branches are therefore not equally likely: a `repeat n` with `n` in 1..4 gives the
//! single-layer networks as much weight as all the four-layer ones together. [`uniform_over_architectures`] samples every architecture of a finite space
//! with the same probability instead.

use rand::{Rng, RngExt, SeedableRng};

use super::build::{BuildError, Interp, Outcome, Rejection};
use super::ir::Arch;
use super::{Decider, Decision, Domain, Hyper, Partial, Pick};
use crate::check::quantum;

/// The random generator of every strategy: seeded, portable, passed explicitly.
pub type Rng64 = rand::rngs::Xoshiro256PlusPlus;

/// A generator from a seed.
pub fn rng(seed: u64) -> Rng64 {
    Rng64::seed_from_u64(seed)
}

/// A finished trial, as strategies are told about it.
#[derive(Clone, Debug)]
pub struct Trial {
    /// The decisions that made the candidate (those made before the rejection, for a
    /// candidate that broke a constraint).
    pub assignment: Vec<Decision>,
    /// Measured or static metrics, by name.
    pub metrics: Vec<(String, f64)>,
    /// The value the search minimises (the objective, negated when it is maximised);
    /// `None` when the candidate was rejected, failed, or did not measure it.
    pub loss: Option<f64>,
}

/// A search strategy: picks values one hyperparameter at a time.
pub trait Strategy {
    /// The value of `hyper` for the candidate being built; `made` holds this candidate's
    /// decisions so far.
    fn decide(&mut self, hyper: &Hyper, made: &[Decision], rng: &mut Rng64) -> Pick;

    /// A new candidate begins: its first decision comes next.
    fn start(&mut self, _rng: &mut Rng64) {}

    /// The result of a finished trial.
    fn tell(&mut self, _trial: &Trial) {}
}

/// Random search, uniform per decision.
#[derive(Clone, Debug, Default)]
pub struct RandomSearch;

/// A uniformly random value of `domain`.
pub fn random_pick(domain: &Domain, rng: &mut impl Rng) -> Pick {
    match domain {
        Domain::Choice { alts } => Pick::Index(rng.random_range(0..alts.len().max(1)) as u32),
        // A quantised log scale: a log-uniform draw, taken to its nearest point of the grid.
        Domain::Float {
            lo,
            hi,
            log: true,
            q: Some(q),
        } => {
            let Some(grid) = quantum::grid(*lo, *hi, *q) else {
                return Pick::Float(*lo);
            };
            let u: f64 = rng.random();
            let x = (lo.ln() + u * (hi.ln() - lo.ln())).exp();
            Pick::Float(quantum::value(quantum::nearest(x, *q, grid), *q))
        }
        Domain::Int { .. } | Domain::Float { q: Some(_), .. } => {
            let n = domain.size().unwrap_or(1).max(1);
            domain.nth(rng.random_range(0..n))
        }
        Domain::Float { lo, hi, log, .. } => {
            let u: f64 = rng.random();
            Pick::Float(if *log {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp().clamp(*lo, *hi)
            } else {
                lo + u * (hi - lo)
            })
        }
        Domain::OnOff => Pick::On(rng.random_bool(0.5)),
    }
}

impl Strategy for RandomSearch {
    fn decide(&mut self, hyper: &Hyper, _made: &[Decision], rng: &mut Rng64) -> Pick {
        random_pick(&hyper.domain, rng)
    }
}

/// Adapts a strategy and its generator to the interpreter's [`Decider`].
struct Asking<'s, S: ?Sized> {
    strategy: &'s mut S,
    rng: &'s mut Rng64,
}

impl<S: Strategy + ?Sized> Decider for Asking<'_, S> {
    fn decide(&mut self, hyper: &Hyper, made: &[Decision]) -> Result<Pick, String> {
        Ok(self.strategy.decide(hyper, made, self.rng))
    }
}

/// Counts of rejections, by constraint.
#[derive(Clone, Debug, Default)]
pub struct Rejections {
    /// Attempts made.
    pub attempts: u64,
    /// Attempts rejected.
    pub rejected: u64,
    /// Each constraint that rejected, with how often (most first once sorted).
    pub by_constraint: Vec<(Rejection, u64)>,
}

impl Rejections {
    /// Counts one rejection by `r`.
    pub fn note(&mut self, r: Rejection) {
        self.add(r, 1);
    }

    fn add(&mut self, r: Rejection, count: u64) {
        self.rejected += count;
        match self
            .by_constraint
            .iter_mut()
            .find(|(x, _)| x.span == r.span && x.text == r.text)
        {
            Some((_, n)) => *n += count,
            None => self.by_constraint.push((r, count)),
        }
    }

    /// Adds the counts of `other`.
    pub fn absorb(&mut self, other: &Rejections) {
        self.attempts += other.attempts;
        for (r, n) in &other.by_constraint {
            self.add(r.clone(), *n);
        }
    }

    /// The constraint that rejected most often.
    pub fn worst(&self) -> Option<&(Rejection, u64)> {
        self.by_constraint.iter().max_by_key(|(_, n)| *n)
    }

    /// The fraction of attempts accepted.
    pub fn acceptance(&self) -> f64 {
        if self.attempts == 0 {
            1.0
        } else {
            (self.attempts - self.rejected) as f64 / self.attempts as f64
        }
    }
}

/// Why sampling stopped without the architectures asked for.
#[derive(Clone, Debug)]
pub enum SampleError {
    /// The space cannot be built.
    Build(BuildError),
    /// Every attempt in a row of `max_attempts` was rejected: the counts of that row of
    /// rejections (not of the attempts before it, some of which may have been accepted).
    AllRejected(Rejections),
}

/// Draws architectures with `strategy` until `n` satisfy every constraint. A candidate
/// that violates a constraint is rejected and drawn again; after `max_attempts` rejections
/// in a row sampling gives up, with the counts of which constraint rejected how often.
pub fn sample(
    interp: &Interp,
    strategy: &mut dyn Strategy,
    rng: &mut Rng64,
    n: usize,
    max_attempts: u64,
) -> Result<(Vec<Arch>, Rejections), SampleError> {
    // `n` comes from the user (`-n`, a layer's size): no more room up front than a
    // modest batch, so an absurd count runs out of patience, not of memory at once.
    let mut out = Vec::with_capacity(n.min(1024));
    let stats = sample_each(interp, strategy, rng, n, max_attempts, &mut |a| {
        out.push(a);
        true
    })?;
    Ok((out, stats))
}

/// [`sample`], handing each architecture to `each` as soon as it is built instead of
/// keeping them all: memory stays flat however many are drawn. Stops early when `each`
/// returns `false` (its reader has gone). The counts of rejections.
pub fn sample_each(
    interp: &Interp,
    strategy: &mut dyn Strategy,
    rng: &mut Rng64,
    n: usize,
    max_attempts: u64,
    each: &mut dyn FnMut(Arch) -> bool,
) -> Result<Rejections, SampleError> {
    let mut stats = Rejections::default();
    // The rejections since the last accepted candidate.
    let mut row = Rejections::default();
    let mut built = 0;
    while built < n {
        stats.attempts += 1;
        row.attempts += 1;
        strategy.start(rng);
        let mut asking = Asking {
            strategy: &mut *strategy,
            rng: &mut *rng,
        };
        match interp.build(&mut asking).map_err(SampleError::Build)? {
            Outcome::Built(a) => {
                row = Rejections::default();
                built += 1;
                if !each(*a) {
                    break;
                }
            }
            Outcome::Rejected(r, made) => {
                stats.note(r.clone());
                row.note(r);
                strategy.tell(&Trial {
                    assignment: made,
                    metrics: Vec::new(),
                    loss: None,
                });
                if row.attempts >= max_attempts {
                    return Err(SampleError::AllRejected(row));
                }
            }
        }
    }
    Ok(stats)
}

/// Replays a given assignment: every hyperparameter the expansion reaches must be in it,
/// with a value of its domain.
pub struct Replay<'j> {
    values: &'j serde_json::Map<String, serde_json::Value>,
    /// The paths the build asked for.
    pub used: Vec<String>,
    /// Why the replay could not give a value, if it could not.
    pub failed: Option<String>,
}

impl<'j> Replay<'j> {
    /// Replays `values` (path to JSON value).
    pub fn new(values: &'j serde_json::Map<String, serde_json::Value>) -> Self {
        Replay {
            values,
            used: Vec::new(),
            failed: None,
        }
    }

    /// The paths given that the build never asked for.
    pub fn unused(&self) -> Vec<&str> {
        self.values
            .keys()
            .filter(|k| !self.used.contains(k))
            .map(String::as_str)
            .collect()
    }
}

impl Decider for Replay<'_> {
    fn decide(&mut self, hyper: &Hyper, _made: &[Decision]) -> Result<Pick, String> {
        let result = match self.values.get(&*hyper.path) {
            None => Err(format!(
                "the architecture gives no value for `{}` (domain {})",
                hyper.path, hyper.domain
            )),
            Some(j) => {
                self.used.push(hyper.path.to_string());
                hyper.domain.pick_from_json(j).ok_or_else(|| {
                    format!(
                        "`{}` = {j} is not in its domain {}",
                        hyper.path, hyper.domain
                    )
                })
            }
        };
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }
}

impl Partial for Replay<'_> {
    fn given(&mut self, hyper: &Hyper) -> Result<Option<Pick>, String> {
        match self.values.get(&*hyper.path) {
            None => Ok(None),
            Some(_) => self.decide(hyper, &[]).map(Some),
        }
    }
}

/// Why enumeration stopped.
#[derive(Clone, Debug)]
pub enum EnumError {
    /// The space cannot be built.
    Build(BuildError),
    /// A continuous hyperparameter: the space is infinite.
    Continuous(Hyper),
    /// More architectures than the limit.
    TooMany(u64),
    /// The walk visited [`max_visits`]`(limit)` assignments without finishing: the
    /// constraints reject nearly all of them. The counts so far.
    MostlyRejected(Rejections),
}

/// The most assignments an enumeration limited to `limit` architectures visits (rejected
/// ones included) before it gives up: four per architecture, and at least a million.
pub fn max_visits(limit: u64) -> u64 {
    limit.saturating_mul(4).max(1_000_000)
}

/// Walks the decision tree depth first: each build follows the picks of `trace` and, past
/// its end, takes the first value of each new hyperparameter and records it.
struct Odometer {
    /// Per decision: the value index taken and the domain's size.
    trace: Vec<(u64, u64)>,
    pos: usize,
    continuous: Option<Hyper>,
}

impl Decider for Odometer {
    fn decide(&mut self, hyper: &Hyper, _made: &[Decision]) -> Result<Pick, String> {
        let Some(size) = hyper.domain.size() else {
            self.continuous = Some(hyper.clone());
            return Err(format!("`{}` is continuous", hyper.path));
        };
        if size == 0 {
            return Err(format!("`{}` has an empty domain", hyper.path));
        }
        if self.pos == self.trace.len() {
            self.trace.push((0, size));
        }
        let (k, _) = self.trace[self.pos];
        self.pos += 1;
        Ok(hyper.domain.nth(k))
    }
}

impl Odometer {
    /// Moves to the next assignment; `false` when every one has been visited.
    fn advance(&mut self) -> bool {
        // A build that stopped early (a rejection) visited fewer decisions.
        self.trace.truncate(self.pos);
        self.pos = 0;
        while let Some((k, size)) = self.trace.pop() {
            if k + 1 < size {
                self.trace.push((k + 1, size));
                return true;
            }
        }
        false
    }
}

/// Calls `visit` with every architecture of a finite space that satisfies its constraints,
/// in a fixed order; stops with [`EnumError::TooMany`] past `limit` of them. Returns the
/// rejection counts.
pub fn enumerate(
    interp: &Interp,
    limit: u64,
    mut visit: impl FnMut(Arch),
) -> Result<Rejections, EnumError> {
    enumerate_until(interp, limit, |a| {
        visit(a);
        true
    })
}

/// [`enumerate`], stopping early (with the counts so far) once `visit` returns `false`
/// (its reader has gone).
pub fn enumerate_until(
    interp: &Interp,
    limit: u64,
    mut visit: impl FnMut(Arch) -> bool,
) -> Result<Rejections, EnumError> {
    let mut odo = Odometer {
        trace: Vec::new(),
        pos: 0,
        continuous: None,
    };
    let mut stats = Rejections::default();
    let mut found = 0u64;
    let visits = max_visits(limit);
    loop {
        if stats.attempts >= visits {
            return Err(EnumError::MostlyRejected(stats));
        }
        stats.attempts += 1;
        match interp.build(&mut odo) {
            Ok(Outcome::Built(a)) => {
                found += 1;
                if found > limit {
                    return Err(EnumError::TooMany(limit));
                }
                if !visit(*a) {
                    return Ok(stats);
                }
            }
            Ok(Outcome::Rejected(r, _)) => stats.note(r),
            Err(e) => {
                return Err(match odo.continuous.take() {
                    Some(h) => EnumError::Continuous(h),
                    None => EnumError::Build(e),
                })
            }
        }
        if !odo.advance() {
            return Ok(stats);
        }
    }
}

/// `n` distinct architectures of a finite space, each set of `n` equally likely (every
/// architecture has the same chance), in a random order; all of them, in a random order,
/// when the space has no more than `n`. By reservoir sampling over the enumeration, then
/// a shuffle: it visits every architecture, so it refuses spaces with more than `limit`.
/// With the architectures, the counts of the walk.
pub fn uniform_over_architectures(
    interp: &Interp,
    rng: &mut Rng64,
    n: usize,
    limit: u64,
) -> Result<(Vec<Arch>, Rejections), EnumError> {
    let mut reservoir: Vec<Arch> = Vec::with_capacity(n.min(1024));
    let mut seen: u64 = 0;
    let stats = enumerate(interp, limit, |a| {
        seen += 1;
        if reservoir.len() < n {
            reservoir.push(a);
        } else {
            let j = rng.random_range(0..seen);
            if (j as usize) < n {
                reservoir[j as usize] = a;
            }
        }
    })?;
    // The reservoir keeps the enumeration's order where it was not replaced.
    for i in (1..reservoir.len()).rev() {
        reservoir.swap(i, rng.random_range(0..=i));
    }
    Ok((reservoir, stats))
}
