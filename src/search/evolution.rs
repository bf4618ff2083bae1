//! Regularised (aging) evolution (Real et al., 2019) as a pipeline layer.
//!
//! The first generation is the input survivors, then random candidates up to
//! `population`. Each later generation asks for `population` children at once (so they
//! can be evaluated in parallel): each child's parent wins a tournament among a quarter of
//! the population (at least two), and half the children cross their parent with a second
//! winner. Once told, the children join the population and the oldest members leave, so
//! the population keeps its size and no architecture lives for ever however good its
//! first measurement was.
//!
//! Children are built by the interpreter like any candidate ([`Breed`] is a [`Decider`]),
//! so a child is always a member of the space: each value it inherits is checked against
//! its domain, a hyperparameter the parents lacked (a layer added by a larger repeat
//! count) is drawn at random, and a child that breaks a constraint is bred again.

use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use rand::RngExt;

use super::encode;
use super::layer::{
    again, draw, rejection_json, Cx, Evaluated, Goal, LayerError, Request, MAX_REJECTED_IN_A_ROW,
};
use super::normal;
use crate::interp::strategy::{random_pick, RandomSearch, Rejections, Rng64};
use crate::interp::{Arch, Decider, Decision, Domain, Hyper, Outcome, Pick};

/// Attempts at breeding one child before the layer gives up (every child repeated an
/// architecture already seen or broke a constraint).
const MAX_BREEDS: usize = 200;

/// The evolution layer.
pub struct Evolution {
    population: usize,
    generations: usize,
    steps: usize,
    mutation: f64,
    goal: Goal,
    /// Generations asked for so far.
    generation: usize,
    /// The living members, oldest first: their decisions and loss.
    members: VecDeque<Member>,
    seen: HashSet<u128>,
    rejections: Rejections,
}

struct Member {
    picks: Rc<HashMap<String, Pick>>,
    loss: Option<f64>,
}

impl Evolution {
    /// `generations` generations of `population` at `steps`, each value of a child
    /// redrawn with probability `mutation`.
    pub fn new(
        population: usize,
        generations: usize,
        steps: usize,
        mutation: f64,
        goal: Goal,
    ) -> Evolution {
        Evolution {
            population: population.max(1),
            generations,
            steps,
            mutation: mutation.clamp(0.0, 1.0),
            goal,
            generation: 0,
            members: VecDeque::new(),
            seen: HashSet::new(),
            rejections: Rejections::default(),
        }
    }

    /// The best of a tournament among a quarter of the members (drawn with replacement).
    fn tournament(&self, rng: &mut Rng64) -> Rc<HashMap<String, Pick>> {
        let size = self.population.div_ceil(4).max(2);
        let mut best: Option<&Member> = None;
        for _ in 0..size {
            let m = &self.members[rng.random_range(0..self.members.len())];
            let better = match (best.and_then(|b| b.loss), m.loss) {
                (_, None) => best.is_none(),
                (None, Some(_)) => true,
                (Some(b), Some(x)) => x < b,
            };
            if better {
                best = Some(m);
            }
        }
        best.expect("a tournament has entrants").picks.clone()
    }

    /// One child, or `None` when every attempt repeated a seen architecture.
    fn child(&mut self, cx: &mut Cx) -> Result<Option<Arch>, LayerError> {
        let mut in_a_row = 0u64;
        for _ in 0..MAX_BREEDS {
            let a = self.tournament(cx.rng);
            let b = cx.rng.random_bool(0.5).then(|| self.tournament(cx.rng));
            let mut breed = Breed::new(&a, b.as_deref(), self.mutation, cx.rng);
            self.rejections.attempts += 1;
            match cx.interp.build(&mut breed).map_err(|b| LayerError {
                message: format!("the space cannot be built: {}", b.message),
                help: "`nasc sample` shows the same error with its source line".into(),
            })? {
                Outcome::Built(arch) => {
                    if self.seen.insert(arch.hash) {
                        return Ok(Some(*arch));
                    }
                }
                Outcome::Rejected(r, _) => {
                    self.rejections.note(r);
                    in_a_row += 1;
                    if in_a_row >= MAX_REJECTED_IN_A_ROW {
                        break;
                    }
                }
            }
        }
        Ok(None)
    }
}

impl super::layer::Layer for Evolution {
    fn planned(&self, input: usize) -> Option<usize> {
        Some(input.max(self.population) + self.population * self.generations.saturating_sub(1))
    }

    fn ask(&mut self, cx: &mut Cx) -> Result<Vec<Request>, LayerError> {
        if self.generation >= self.generations.max(1) {
            return Ok(Vec::new());
        }
        self.generation += 1;
        let steps = self.steps;
        let request = |a: Arch| Request {
            arch: Rc::new(a),
            steps,
        };
        if self.generation == 1 {
            let mut out = again(cx.input, self.steps);
            self.seen.extend(cx.input.iter().map(|e| e.arch.hash));
            let missing = self.population.saturating_sub(cx.input.len());
            let archs = draw(cx, &mut RandomSearch, missing, &mut self.rejections)?;
            self.seen.extend(archs.iter().map(|a| a.hash));
            out.extend(archs.into_iter().map(request));
            return Ok(out);
        }
        if self.members.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(self.population.min(1024));
        for _ in 0..self.population {
            match self.child(cx)? {
                Some(a) => out.push(request(a)),
                None => break,
            }
        }
        Ok(out)
    }

    fn tell(&mut self, results: &[Evaluated]) {
        for e in results {
            self.members.push_back(Member {
                picks: Rc::new(picks(&e.arch.assignment)),
                loss: self.goal.loss(e),
            });
        }
        while self.members.len() > self.population {
            self.members.pop_front();
        }
    }

    fn stats(&self) -> serde_json::Value {
        rejection_json(&self.rejections)
    }
}

fn picks(assignment: &[Decision]) -> HashMap<String, Pick> {
    assignment
        .iter()
        .map(|d| (d.hyper.path.to_string(), d.pick))
        .collect()
}

/// Builds a child: each value from a parent (from either, at random, when crossing two
/// that both have it), redrawn with probability `rate`; one value the first parent has,
/// chosen in advance, is always redrawn, so a child differs from its parents unless the
/// space leaves no other value. A value no parent has is drawn at random.
pub struct Breed<'a> {
    a: &'a HashMap<String, Pick>,
    b: Option<&'a HashMap<String, Pick>>,
    rate: f64,
    forced: Option<&'a str>,
    rng: &'a mut Rng64,
}

impl<'a> Breed<'a> {
    /// A child of `a` (crossed with `b`), each value redrawn with probability `rate`.
    pub fn new(
        a: &'a HashMap<String, Pick>,
        b: Option<&'a HashMap<String, Pick>>,
        rate: f64,
        rng: &'a mut Rng64,
    ) -> Breed<'a> {
        let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
        keys.sort_unstable();
        let forced = (!keys.is_empty()).then(|| keys[rng.random_range(0..keys.len())]);
        Breed {
            a,
            b,
            rate,
            forced,
            rng,
        }
    }
}

impl Decider for Breed<'_> {
    fn decide(&mut self, hyper: &Hyper, _made: &[Decision]) -> Result<Pick, String> {
        let domain = hyper.domain.as_ref();
        let from =
            |p: &HashMap<String, Pick>| p.get(&*hyper.path).copied().filter(|v| domain.contains(v));
        let inherited = match (from(self.a), self.b.and_then(from)) {
            (Some(x), Some(y)) => Some(if self.rng.random_bool(0.5) { x } else { y }),
            (x, y) => x.or(y),
        };
        let forced = self.forced == Some(&*hyper.path);
        Ok(match inherited {
            Some(v) if forced || self.rng.random_bool(self.rate) => mutate(domain, v, self.rng),
            Some(v) => v,
            None => random_pick(domain, self.rng),
        })
    }
}

/// A value of `domain` other than `v` when there is one: another value of a finite
/// domain at random, a step of a tenth of the interval (log-scaled where the domain is)
/// for a number.
pub fn mutate(domain: &Domain, v: Pick, rng: &mut Rng64) -> Pick {
    if encode::categorical(domain) {
        let n = domain.size().unwrap_or(1);
        let Some(k) = encode::index_of(domain, &v).filter(|_| n > 1) else {
            return v;
        };
        let other = rng.random_range(0..n - 1);
        return domain.nth(if other >= k { other + 1 } else { other });
    }
    let Some(u) = encode::unit(domain, &v) else {
        return random_pick(domain, rng);
    };
    for _ in 0..16 {
        let mut x = u + 0.1 * normal::draw(rng);
        // Reflect at the ends of the interval.
        if x < 0.0 {
            x = -x;
        }
        if x > 1.0 {
            x = 2.0 - x;
        }
        let w = encode::from_unit(domain, x);
        if w != v {
            return w;
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_changes_the_value_and_stays_in_the_domain() {
        let mut rng = crate::interp::strategy::rng(9);
        let domains = [
            Domain::OnOff,
            Domain::Int {
                lo: 1,
                hi: 6,
                step: 1,
            },
            Domain::Int {
                lo: 0,
                hi: 1000,
                step: 10,
            },
            Domain::Float {
                lo: 1e-4,
                hi: 1e-2,
                log: true,
                q: None,
            },
        ];
        for d in &domains {
            for _ in 0..200 {
                let v = random_pick(d, &mut rng);
                let w = mutate(d, v, &mut rng);
                assert_ne!(v, w, "{d}");
                assert!(d.contains(&w), "{w:?} not in {d}");
            }
        }
    }
}
