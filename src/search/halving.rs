//! Multi-fidelity layers over training steps: successive halving (Jamieson and
//! Talwalkar, 2016) and Hyperband (Li et al., 2017).
//!
//! A bracket trains its candidates for a few steps, keeps the best `1/eta` of them
//! (at least one) and trains those again for `eta` times as many steps, up to the
//! layer's `max_steps`. Each rung trains from scratch (no weights are carried between
//! rungs), so a candidate's result at a rung is exactly what a trial of that many steps
//! gives, and a repeated architecture at the same steps is reused like any other trial.
//! The layer's filter compares only the candidates of the last rungs, all measured at
//! `max_steps`.
//!
//! `successive_halving` is one bracket over the input survivors (in a first layer,
//! `eta^k` random candidates, `k + 1` being the number of rungs). `hyperband` runs the
//! brackets from the most aggressive (many candidates, `min_steps` each) to plain
//! training at `max_steps`, with Hyperband's budget per bracket; its first bracket starts
//! with the input survivors, then random candidates.

use std::collections::HashSet;
use std::rc::Rc;

use super::layer::{draw, rejection_json, Cx, Evaluated, Goal, Layer, LayerError, Request};
use crate::interp::strategy::{RandomSearch, Rejections};
use crate::interp::Arch;

/// One bracket: how many candidates it starts with and the steps of its rungs.
#[derive(Clone, Debug, PartialEq)]
struct Bracket {
    /// Candidates at the first rung; `None`: the input survivors (or `eta^k` random).
    n: Option<usize>,
    /// Steps per rung, increasing, the last `max_steps`.
    rungs: Vec<usize>,
}

/// Successive halving or Hyperband.
pub struct Halving {
    brackets: Vec<Bracket>,
    eta: usize,
    goal: Goal,
    /// The bracket in progress and its rung.
    bracket: usize,
    rung: usize,
    started: bool,
    /// The results of the rung last asked for.
    last: Vec<Evaluated>,
    /// Trials of the last rungs: what the filter compares.
    finalists: HashSet<i64>,
    rejections: Rejections,
}

fn bad_arguments(name: &str, min: usize, max: usize, eta: usize) -> Result<(), LayerError> {
    if min >= 1 && max >= min && eta >= 2 {
        return Ok(());
    }
    Err(LayerError {
        message: format!(
            "`{name}` needs 1 <= min_steps <= max_steps and eta >= 2 (min_steps = {min}, max_steps = {max}, eta = {eta})"
        ),
        help: "e.g. `min_steps = 50, max_steps = 450, eta = 3`: rungs of 50, 150 and 450 steps".into(),
    })
}

/// The error of arguments whose first rung would hold more candidates than a `usize`
/// counts.
fn too_many(name: &str, min: usize, max: usize, eta: usize) -> LayerError {
    LayerError {
        message: format!(
            "`{name}` would start more candidates than can be counted (min_steps = {min}, max_steps = {max}, eta = {eta})"
        ),
        help: "use fewer rungs: a smaller eta or a smaller ratio of max_steps to min_steps".into(),
    }
}

/// The rungs from `first` steps, multiplied by `eta` while below `max`, ending at `max`.
fn rungs(first: usize, max: usize, eta: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut r = first.max(1);
    while r < max {
        out.push(r);
        r = r.saturating_mul(eta);
    }
    out.push(max);
    out
}

impl Halving {
    /// `successive_halving(min_steps, max_steps, eta)`.
    pub fn successive(
        min_steps: usize,
        max_steps: usize,
        eta: usize,
        goal: Goal,
    ) -> Result<Halving, LayerError> {
        bad_arguments("successive_halving", min_steps, max_steps, eta)?;
        let rungs = rungs(min_steps, max_steps, eta);
        // Without input the layer starts `eta^(rungs - 1)` candidates (`start`, `planned`).
        if eta.checked_pow(rungs.len() as u32 - 1).is_none() {
            return Err(too_many("successive_halving", min_steps, max_steps, eta));
        }
        Ok(Halving::with(vec![Bracket { n: None, rungs }], eta, goal))
    }

    /// `hyperband(max_steps, eta, min_steps)`: brackets `s = s_max, ..., 0`, where
    /// `s_max` is the largest `s` with `min_steps * eta^s <= max_steps`; bracket `s`
    /// starts `ceil((s_max + 1) / (s + 1) * eta^s)` candidates at `max_steps / eta^s`.
    pub fn hyperband(
        min_steps: usize,
        max_steps: usize,
        eta: usize,
        goal: Goal,
    ) -> Result<Halving, LayerError> {
        bad_arguments("hyperband", min_steps, max_steps, eta)?;
        let mut s_max = 0u32;
        while min_steps.saturating_mul(eta.saturating_pow(s_max + 1)) <= max_steps {
            s_max += 1;
        }
        let brackets = (0..=s_max)
            .rev()
            .map(|s| {
                // `min_steps * eta^s <= max_steps`, so `eta^s` fits; `(s_max + 1) * eta^s`
                // need not.
                let pow = eta.checked_pow(s)?;
                let n = ((s_max + 1) as usize)
                    .checked_mul(pow)?
                    .div_ceil(s as usize + 1);
                let first = (max_steps as f64 / pow as f64).round() as usize;
                Some(Bracket {
                    n: Some(n),
                    rungs: rungs(first, max_steps, eta),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| too_many("hyperband", min_steps, max_steps, eta))?;
        Ok(Halving::with(brackets, eta, goal))
    }

    fn with(brackets: Vec<Bracket>, eta: usize, goal: Goal) -> Halving {
        Halving {
            brackets,
            eta,
            goal,
            bracket: 0,
            rung: 0,
            started: false,
            last: Vec::new(),
            finalists: HashSet::new(),
            rejections: Rejections::default(),
        }
    }

    /// Why a rung passes nothing on: every trial failed, or none measured the goal.
    fn nothing_measured(&self, steps: usize) -> LayerError {
        match self.last.iter().find(|e| !e.failed) {
            None => LayerError {
                message: format!(
                    "every trial of the rung at {steps} steps failed; the first: {}",
                    self.last
                        .iter()
                        .find_map(|e| e.reason.clone())
                        .unwrap_or_else(|| "no reason recorded".into())
                ),
                help: "`nasc show RUN` lists the trials and their reasons".into(),
            },
            Some(_) => LayerError {
                message: format!(
                    "no trial of the rung at {steps} steps measured `{}`, which decides who goes on",
                    self.goal.metric.name
                ),
                help: "rank by a metric the trials measure: `|> keep top k by val_loss` after the layer, or an `objective` the data gives".into(),
            },
        }
    }

    /// How many a rung of `m` candidates passes on.
    fn kept(&self, m: usize) -> usize {
        (m / self.eta).max(1)
    }

    /// The candidates the current bracket starts with.
    fn start(&mut self, cx: &mut Cx) -> Result<Vec<Rc<Arch>>, LayerError> {
        let b = &self.brackets[self.bracket];
        let mut out: Vec<Rc<Arch>> = Vec::new();
        if self.bracket == 0 {
            out.extend(cx.input.iter().map(|e| e.arch.clone()));
        }
        let want = match b.n {
            Some(n) => n,
            None if out.is_empty() => self.eta.pow(b.rungs.len() as u32 - 1),
            None => out.len(),
        };
        let missing = want.saturating_sub(out.len());
        if missing > 0 {
            let archs = draw(cx, &mut RandomSearch, missing, &mut self.rejections)?;
            out.extend(archs.into_iter().map(Rc::new));
        }
        Ok(out)
    }
}

impl Layer for Halving {
    fn planned(&self, input: usize) -> Option<usize> {
        let mut total: usize = 0;
        for (i, b) in self.brackets.iter().enumerate() {
            let mut m = match b.n {
                Some(n) if i == 0 => n.max(input),
                Some(n) => n,
                None if input == 0 => self.eta.pow(b.rungs.len() as u32 - 1),
                None => input,
            };
            for _ in &b.rungs {
                total = total.saturating_add(m);
                m = self.kept(m);
            }
        }
        Some(total)
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        loop {
            let Some(b) = self.brackets.get(self.bracket) else {
                return Ok(Vec::new());
            };
            let rungs = b.rungs.clone();
            let alive: Vec<Rc<Arch>> = if !self.started {
                self.started = true;
                self.rung = 0;
                self.start(cx)?
            } else {
                self.rung += 1;
                let mut ranked: Vec<&Evaluated> = self
                    .last
                    .iter()
                    .filter(|e| self.goal.loss(e).is_some())
                    .collect();
                ranked.sort_by(|a, b| self.goal.order(a, b).then(a.seq.cmp(&b.seq)));
                if ranked.is_empty() && !self.last.is_empty() {
                    return Err(self.nothing_measured(rungs[self.rung - 1]));
                }
                let keep = self.kept(self.last.len());
                let mut seen = HashSet::new();
                ranked
                    .into_iter()
                    .filter(|e| seen.insert(e.arch.hash))
                    .take(keep)
                    .map(|e| e.arch.clone())
                    .collect()
            };
            if self.rung >= rungs.len() || alive.is_empty() {
                self.bracket += 1;
                self.started = false;
                continue;
            }
            let steps = rungs[self.rung];
            return Ok(alive
                .into_iter()
                .map(|arch| Request { arch, steps })
                .collect());
        }
    }

    fn tell(&mut self, results: &[Evaluated]) {
        self.last = results.to_vec();
        let last_rung = self
            .brackets
            .get(self.bracket)
            .is_some_and(|b| self.rung + 1 == b.rungs.len());
        if last_rung {
            self.finalists.extend(results.iter().map(|e| e.seq));
        }
    }

    fn finalists(&self, evaluated: &[Evaluated]) -> Vec<Evaluated> {
        evaluated
            .iter()
            .filter(|e| self.finalists.contains(&e.seq))
            .cloned()
            .collect()
    }

    fn stats(&self) -> serde_json::Value {
        let mut j = rejection_json(&self.rejections);
        j["brackets"] = self
            .brackets
            .iter()
            .map(|b| serde_json::json!({ "candidates": b.n, "rungs": b.rungs }))
            .collect();
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::filter::Metric;

    fn goal() -> Goal {
        Goal {
            metric: Metric::named("val_loss", &[]),
        }
    }

    #[test]
    fn successive_halving_rungs_end_at_max_steps() {
        let h = Halving::successive(300, 2400, 3, goal()).unwrap();
        assert_eq!(h.brackets[0].rungs, vec![300, 900, 2400]);
        // 9 random, 3, 1.
        assert_eq!(h.planned(0), Some(13));
        // 10 survivors in: 10, 3, 1.
        assert_eq!(h.planned(10), Some(14));
    }

    #[test]
    fn hyperband_brackets_follow_the_paper() {
        // max 810, min 10, eta 3: s_max = 4.
        let h = Halving::hyperband(10, 810, 3, goal()).unwrap();
        let starts: Vec<(Option<usize>, usize)> =
            h.brackets.iter().map(|b| (b.n, b.rungs[0])).collect();
        assert_eq!(
            starts,
            vec![
                (Some(81), 10),
                (Some(34), 30),
                (Some(15), 90),
                (Some(8), 270),
                (Some(5), 810)
            ]
        );
        assert!(h.brackets.iter().all(|b| b.rungs.last() == Some(&810)));
    }

    #[test]
    fn arguments_out_of_range_are_errors() {
        assert!(Halving::successive(0, 10, 3, goal()).is_err());
        assert!(Halving::successive(20, 10, 3, goal()).is_err());
        assert!(Halving::hyperband(10, 100, 1, goal()).is_err());
    }

    #[test]
    fn rungs_too_large_to_count_are_errors_not_overflows() {
        // Each of these once overflowed a `usize` product (a panic in a debug build, a
        // wrong count of candidates in a release build).
        let Err(e) = Halving::successive(1, 1 << 62, 1 << 40, goal()) else {
            panic!("an error")
        };
        assert!(
            e.message.contains("more candidates than can be counted"),
            "{}",
            e.message
        );
        let Err(e) = Halving::hyperband(1, 1 << 62, 2, goal()) else {
            panic!("an error")
        };
        assert!(e.message.contains("`hyperband`"), "{}", e.message);
        // The largest that fit still plan without overflowing the total.
        let h = Halving::successive(1, 1 << 63, 2, goal()).unwrap();
        assert_eq!(h.planned(0), Some(usize::MAX));
    }
}
