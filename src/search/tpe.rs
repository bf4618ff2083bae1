//! The tree-structured Parzen estimator (Bergstra et al., 2011), as a
//! [`Strategy`]: it picks values one hyperparameter at a time, as the interpreter reaches
//! them, so conditional hyperparameters (the layers of a `repeat`, the inside of a chosen
//! branch) are modelled only from the trials in which they existed.
//!
//! Until `startup` trials have a loss, values are drawn at random. After that, before
//! each candidate the finished trials are split into the good ones (the best
//! `ceil(gamma * n)` with `gamma = 0.1`, at most 25, at least one) and the rest; failed and rejected
//! candidates count among the rest. For each hyperparameter reached, a density `l` is
//! estimated from its values in the good trials and `g` from the rest, both mixed with
//! the uniform prior; `candidates` values are drawn from `l` and the one with the largest
//! `l / g` is taken. Finite domains up to [`encode::MAX_CATEGORIES`] values are modelled
//! value by value (counts plus one for every value); numbers by Gaussian kernels in
//! their interval (log-scaled where the domain is), truncated to it, each as wide as the
//! larger gap to its neighbours (within `[1 / min(100, n + 1), 1]`).

use std::collections::HashMap;

use rand::RngExt;

use super::encode;
use super::normal;
use crate::interp::strategy::{random_pick, Rng64, Strategy, Trial};
use crate::interp::{Decision, Domain, Hyper, Pick};

/// TPE's settings.
#[derive(Clone, Debug)]
pub struct TpeSettings {
    /// Trials with a loss before the model is used.
    pub startup: usize,
    /// The fraction of trials that are good.
    pub gamma: f64,
    /// Values drawn from `l` per decision.
    pub candidates: usize,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings {
            startup: 10,
            gamma: 0.1,
            candidates: 24,
        }
    }
}

/// The TPE strategy.
pub struct Tpe {
    settings: TpeSettings,
    /// The loss of each told trial, in order; `INFINITY` for a failed or rejected one.
    losses: Vec<f64>,
    /// Per hyperparameter path, the told trials that had it and their values.
    by_path: HashMap<String, Vec<(usize, Pick)>>,
    /// Per observation, whether it is good, for the candidate being built (`None` while
    /// drawing at random).
    good: Option<Vec<bool>>,
}

impl Tpe {
    /// A TPE with no trials yet.
    pub fn new(settings: TpeSettings) -> Tpe {
        Tpe {
            settings,
            losses: Vec::new(),
            by_path: HashMap::new(),
            good: None,
        }
    }

    /// How many told trials have a loss.
    pub fn measured(&self) -> usize {
        self.losses.iter().filter(|l| l.is_finite()).count()
    }

    /// The good/bad split of the observations (best first, ties by age).
    fn split(&self) -> Vec<bool> {
        let n = self.measured();
        let n_good = ((self.settings.gamma * n as f64).ceil() as usize).clamp(1, 25);
        let mut order: Vec<usize> = (0..self.losses.len()).collect();
        order.sort_by(|&a, &b| self.losses[a].total_cmp(&self.losses[b]).then(a.cmp(&b)));
        let mut good = vec![false; self.losses.len()];
        for &i in order.iter().take(n_good) {
            if self.losses[i].is_finite() {
                good[i] = true;
            }
        }
        good
    }

    /// The values of `path` in the good and in the other trials.
    fn values(&self, path: &str, good: &[bool]) -> (Vec<Pick>, Vec<Pick>) {
        let (mut l, mut g) = (Vec::new(), Vec::new());
        for &(i, p) in self.by_path.get(path).map_or(&[][..], Vec::as_slice) {
            // Trials told after the split (rejections of this candidate) count as bad.
            if good.get(i).copied().unwrap_or(false) {
                l.push(p);
            } else {
                g.push(p);
            }
        }
        (l, g)
    }
}

impl Strategy for Tpe {
    fn start(&mut self, _rng: &mut Rng64) {
        self.good = (self.measured() >= self.settings.startup.max(1)).then(|| self.split());
    }

    fn decide(&mut self, hyper: &Hyper, _made: &[Decision], rng: &mut Rng64) -> Pick {
        let Some(good) = &self.good else {
            return random_pick(&hyper.domain, rng);
        };
        let (l, g) = self.values(&hyper.path, good);
        let domain = hyper.domain.as_ref();
        if encode::categorical(domain) {
            let Some(k) = domain.size().filter(|&k| k > 0) else {
                return random_pick(domain, rng);
            };
            let lw = Categorical::new(domain, k as usize, &l);
            let gw = Categorical::new(domain, k as usize, &g);
            let mut best = (f64::NEG_INFINITY, 0);
            for _ in 0..self.settings.candidates.max(1) {
                let i = lw.draw(rng);
                let score = lw.p[i].ln() - gw.p[i].ln();
                if score > best.0 {
                    best = (score, i);
                }
            }
            domain.nth(best.1 as u64)
        } else {
            let lp = Parzen::new(domain, &l);
            let gp = Parzen::new(domain, &g);
            let mut best = (f64::NEG_INFINITY, 0.5);
            for _ in 0..self.settings.candidates.max(1) {
                let u = lp.draw(rng);
                let score = lp.density(u).ln() - gp.density(u).ln();
                if score > best.0 {
                    best = (score, u);
                }
            }
            encode::from_unit(domain, best.1)
        }
    }

    fn tell(&mut self, trial: &Trial) {
        let index = self.losses.len();
        self.losses.push(
            trial
                .loss
                .filter(|l| l.is_finite())
                .unwrap_or(f64::INFINITY),
        );
        for d in &trial.assignment {
            match self.by_path.get_mut(&*d.hyper.path) {
                Some(v) => v.push((index, d.pick)),
                None => {
                    self.by_path
                        .insert(d.hyper.path.to_string(), vec![(index, d.pick)]);
                }
            }
        }
    }
}

/// Value probabilities: counts plus one for every value (Laplace smoothing), so a value
/// seen once among the bad trials is not ruled out for good.
struct Categorical {
    p: Vec<f64>,
}

impl Categorical {
    fn new(domain: &Domain, k: usize, values: &[Pick]) -> Categorical {
        let mut counts = vec![1.0; k];
        for v in values {
            if let Some(i) = encode::index_of(domain, v) {
                counts[i as usize] += 1.0;
            }
        }
        let total: f64 = counts.iter().sum();
        Categorical {
            p: counts.into_iter().map(|c| c / total).collect(),
        }
    }

    fn draw(&self, rng: &mut Rng64) -> usize {
        let mut u: f64 = rng.random();
        for (i, p) in self.p.iter().enumerate() {
            if u < *p {
                return i;
            }
            u -= p;
        }
        self.p.len() - 1
    }
}

/// A mixture of Gaussians truncated to `[0, 1]`: the prior (centred, width one) and one
/// kernel per value, all of equal weight.
struct Parzen {
    /// (centre, width, 1 / (width * mass inside [0, 1])) per component; the prior first.
    kernels: Vec<(f64, f64, f64)>,
}

impl Parzen {
    fn new(domain: &Domain, values: &[Pick]) -> Parzen {
        let mut us: Vec<f64> = values
            .iter()
            .filter_map(|v| encode::unit(domain, v))
            .collect();
        us.sort_by(f64::total_cmp);
        let n = us.len();
        let min_width = 1.0 / (n as f64 + 1.0).min(100.0);
        let kernel = |mu: f64, s: f64| {
            let mass = normal::cdf((1.0 - mu) / s) - normal::cdf(-mu / s);
            (mu, s, 1.0 / (s * mass.max(1e-12)))
        };
        let mut kernels = vec![kernel(0.5, 1.0)];
        for (i, &u) in us.iter().enumerate() {
            let left = if i == 0 { u } else { u - us[i - 1] };
            let right = if i + 1 == n { 1.0 - u } else { us[i + 1] - u };
            kernels.push(kernel(u, left.max(right).clamp(min_width, 1.0)));
        }
        Parzen { kernels }
    }

    fn density(&self, u: f64) -> f64 {
        let sum: f64 = self
            .kernels
            .iter()
            .map(|&(mu, s, norm)| {
                let z = (u - mu) / s;
                (-0.5 * z * z).exp() * norm
            })
            .sum();
        (sum / (self.kernels.len() as f64 * (2.0 * std::f64::consts::PI).sqrt())).max(1e-300)
    }

    fn draw(&self, rng: &mut Rng64) -> f64 {
        let (mu, s, _) = self.kernels[rng.random_range(0..self.kernels.len())];
        for _ in 0..64 {
            let u = mu + s * normal::draw(rng);
            if (0.0..=1.0).contains(&u) {
                return u;
            }
        }
        mu.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn hyper(domain: Domain) -> Hyper {
        Hyper {
            path: "x".into(),
            named: true,
            domain: Rc::new(domain),
        }
    }

    fn told(tpe: &mut Tpe, h: &Hyper, pick: Pick, loss: f64) {
        tpe.tell(&Trial {
            assignment: vec![Decision {
                hyper: h.clone(),
                pick,
            }],
            metrics: Vec::new(),
            loss: Some(loss),
        });
    }

    #[test]
    fn prefers_the_value_of_the_good_trials() {
        let h = hyper(Domain::Int {
            lo: 0,
            hi: 9,
            step: 1,
        });
        // The best tenth (three trials) are the three at 7.
        let mut tpe = Tpe::new(TpeSettings {
            gamma: 0.1,
            ..TpeSettings::default()
        });
        // loss = |x - 7|: the good trials sit at 7.
        for round in 0..3 {
            for x in 0..10 {
                told(
                    &mut tpe,
                    &h,
                    Pick::Int(x),
                    (x - 7).abs() as f64 + round as f64 * 0.01,
                );
            }
        }
        let mut rng = crate::interp::strategy::rng(1);
        let mut hits = 0;
        for _ in 0..100 {
            tpe.start(&mut rng);
            if tpe.decide(&h, &[], &mut rng) == Pick::Int(7) {
                hits += 1;
            }
        }
        // Uniform would give about 10.
        assert!(hits > 80, "7 picked {hits} times in 100");
    }

    #[test]
    fn concentrates_a_continuous_value_near_the_good_ones() {
        let h = hyper(Domain::Float {
            lo: 1e-4,
            hi: 1e-1,
            log: true,
            q: None,
        });
        let mut tpe = Tpe::new(TpeSettings::default());
        let mut rng = crate::interp::strategy::rng(5);
        // loss is smallest at 1e-2.
        for _ in 0..40 {
            let Pick::Float(v) = random_pick(&h.domain, &mut rng) else {
                unreachable!()
            };
            told(&mut tpe, &h, Pick::Float(v), (v.log10() + 2.0).abs());
        }
        let mut near = 0;
        for _ in 0..100 {
            tpe.start(&mut rng);
            let Pick::Float(v) = tpe.decide(&h, &[], &mut rng) else {
                panic!("a float")
            };
            assert!((1e-4..=1e-1).contains(&v), "{v} out of the domain");
            if (v.log10() + 2.0).abs() < 0.5 {
                near += 1;
            }
        }
        // A third of the log-interval lies within 0.5 decades of 1e-2.
        assert!(near > 60, "{near} of 100 within half a decade of the best");
    }

    #[test]
    fn draws_at_random_until_startup_trials_have_a_loss() {
        let h = hyper(Domain::OnOff);
        let mut tpe = Tpe::new(TpeSettings {
            startup: 3,
            ..TpeSettings::default()
        });
        told(&mut tpe, &h, Pick::On(true), 0.0);
        told(&mut tpe, &h, Pick::On(true), 0.1);
        let mut rng = crate::interp::strategy::rng(2);
        tpe.start(&mut rng);
        assert!(tpe.good.is_none());
        told(&mut tpe, &h, Pick::On(false), 5.0);
        tpe.start(&mut rng);
        assert!(tpe.good.is_some());
    }
}
