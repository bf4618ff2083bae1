//! Filters: what a pipeline layer passes on to the next (`|> keep ...`).
//!
//! A filter sees the layer's evaluated candidates (one per architecture) and their
//! metrics, never the graphs. Failed trials and candidates that lack the metric a filter
//! reads never pass. Ranking filters (`top`, `%`, `best`) return the survivors best first;
//! `pareto` returns the first non-dominated front (NSGA-II's sorting), ordered by crowding
//! distance, most isolated first; `where` keeps the input order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::syntax::ast::{self, BinOp, Direction, ExprKind, UnOp};

/// A metric with the direction that makes it better.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Metric {
    /// Its name, as the report and the store spell it (`val_loss`).
    pub name: String,
    /// Whether smaller or larger is better.
    pub direction: Direction,
}

impl Metric {
    /// `name`, with the direction the objectives give it, else its natural one: accuracy
    /// and throughput are maximised, everything else (losses, perplexity, latency, size,
    /// cost) minimised.
    pub fn named(name: &str, objectives: &[Metric]) -> Metric {
        if let Some(m) = objectives.iter().find(|m| m.name == name) {
            return m.clone();
        }
        let direction = match name {
            "val_accuracy" | "baseline_accuracy" | "tokens_per_s" => Direction::Maximize,
            _ => Direction::Minimize,
        };
        Metric {
            name: name.to_string(),
            direction,
        }
    }

    /// Orders two values of this metric, better first.
    pub fn order(&self, a: f64, b: f64) -> Ordering {
        let o = a.total_cmp(&b);
        match self.direction {
            Direction::Minimize => o,
            Direction::Maximize => o.reverse(),
        }
    }

    /// `val_loss ↓` or `val_accuracy ↑`.
    pub fn arrow(&self) -> String {
        let a = match self.direction {
            Direction::Minimize => "↓",
            Direction::Maximize => "↑",
        };
        format!("{} {a}", self.name)
    }
}

/// What a filter keeps.
#[derive(Clone, Debug)]
pub enum Keep {
    /// Every candidate that did not fail (no filter written).
    All,
    /// The `k` best by a metric.
    Top(usize, Metric),
    /// The best `percent` % by a metric (at least one).
    Fraction(f64, Metric),
    /// The Pareto front under the objectives.
    Pareto(Vec<Metric>),
    /// Those for which the condition holds.
    Where(ast::Expr),
}

/// A filter as the pipeline applies it.
#[derive(Clone, Debug)]
pub struct Filter {
    /// What it keeps.
    pub keep: Keep,
    /// How it reads in the source (`keep top 3 by val_loss`), for reports.
    pub text: String,
    /// Where it is written.
    pub span: crate::diag::Span,
}

/// One evaluated candidate as a filter sees it.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    /// Whether its trial failed.
    pub failed: bool,
    /// Its metrics.
    pub metrics: &'a BTreeMap<String, f64>,
    /// The architecture's named values (`layers`, `width`), which a `where` may read.
    pub values: &'a BTreeMap<String, serde_json::Value>,
}

/// The indices of the candidates `keep` passes, in the order described in the module doc.
pub fn apply(keep: &Keep, cands: &[Candidate]) -> Vec<usize> {
    let alive = || (0..cands.len()).filter(|&i| !cands[i].failed);
    match keep {
        Keep::All => alive().collect(),
        Keep::Top(k, m) => ranked(cands, m, alive()).into_iter().take(*k).collect(),
        Keep::Fraction(p, m) => {
            let r = ranked(cands, m, alive());
            let k = ((r.len() as f64) * p / 100.0).ceil().max(1.0) as usize;
            r.into_iter().take(k).collect()
        }
        Keep::Pareto(objs) => {
            let idx: Vec<usize> = alive()
                .filter(|&i| objs.iter().all(|m| value(&cands[i], &m.name).is_some()))
                .collect();
            let points: Vec<Vec<f64>> = idx.iter().map(|&i| oriented(&cands[i], objs)).collect();
            let fronts = nondominated_fronts(&points);
            let Some(first) = fronts.first() else {
                return Vec::new();
            };
            let front: Vec<Vec<f64>> = first.iter().map(|&j| points[j].clone()).collect();
            let dist = crowding(&front);
            let mut order: Vec<usize> = (0..first.len()).collect();
            order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(first[a].cmp(&first[b])));
            order.into_iter().map(|j| idx[first[j]]).collect()
        }
        Keep::Where(cond) => alive()
            .filter(|&i| matches!(eval(cond, &cands[i]), Some(V::Bool(true))))
            .collect(),
    }
}

/// The candidates among `which` that have `m`, best first (ties keep their order).
fn ranked(cands: &[Candidate], m: &Metric, which: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut r: Vec<(usize, f64)> = which
        .filter_map(|i| value(&cands[i], &m.name).map(|v| (i, v)))
        .collect();
    r.sort_by(|a, b| m.order(a.1, b.1).then(a.0.cmp(&b.0)));
    r.into_iter().map(|(i, _)| i).collect()
}

fn value(c: &Candidate, name: &str) -> Option<f64> {
    c.metrics.get(name).copied().filter(|v| v.is_finite())
}

/// The objectives of a candidate, each turned so that smaller is better.
fn oriented(c: &Candidate, objs: &[Metric]) -> Vec<f64> {
    objs.iter()
        .map(|m| {
            m.direction
                .as_loss(value(c, &m.name).unwrap_or(f64::INFINITY))
        })
        .collect()
}

/// Whether `a` dominates `b` (every objective at least as small, one smaller).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// NSGA-II's fast non-dominated sorting: the indices of `points` (to be minimised) by
/// front, the non-dominated ones first; each front in index order.
pub fn nondominated_fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominates_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            if i != j && dominates(&points[i], &points[j]) {
                dominates_of[i].push(j);
                dominated_by[j] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_of[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::take(&mut current));
        current = next;
    }
    fronts
}

/// NSGA-II's crowding distance of each point of one front: the sum over objectives of the
/// normalised gap between its neighbours; the extremes of each objective get infinity.
// Indexing by objective `k` reads more plainly here than iterating over columns.
#[allow(clippy::needless_range_loop)]
pub fn crowding(front: &[Vec<f64>]) -> Vec<f64> {
    let n = front.len();
    let mut d = vec![0.0; n];
    if n == 0 {
        return d;
    }
    for k in 0..front[0].len() {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| front[a][k].total_cmp(&front[b][k]).then(a.cmp(&b)));
        let (lo, hi) = (front[order[0]][k], front[order[n - 1]][k]);
        d[order[0]] = f64::INFINITY;
        d[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span > 0.0 && span.is_finite() {
            for w in 1..n.saturating_sub(1) {
                d[order[w]] += (front[order[w + 1]][k] - front[order[w - 1]][k]) / span;
            }
        }
    }
    d
}

/// A value inside a `where` condition.
#[derive(Clone, Debug, PartialEq)]
enum V {
    Num(f64),
    Bool(bool),
    Str(String),
}

/// Evaluates a `where` condition for one candidate; `None` when it reads a metric the
/// candidate lacks (the candidate is then not kept).
fn eval(e: &ast::Expr, c: &Candidate) -> Option<V> {
    Some(match &e.kind {
        ExprKind::Int(v) => V::Num(*v as f64),
        ExprKind::Float(v) => V::Num(*v),
        ExprKind::Bool(b) => V::Bool(*b),
        ExprKind::Str(s) => V::Str(s.clone()),
        ExprKind::Name(id) => named(&id.name, c)?,
        ExprKind::Call(f, args) if args.is_empty() => match &f.kind {
            ExprKind::Name(id) => named(&id.name, c)?,
            _ => return None,
        },
        ExprKind::Unary(UnOp::Neg, x) => match eval(x, c)? {
            V::Num(v) => V::Num(-v),
            _ => return None,
        },
        ExprKind::Unary(UnOp::Not, x) => match eval(x, c)? {
            V::Bool(b) => V::Bool(!b),
            _ => return None,
        },
        ExprKind::Binary(BinOp::And, a, b) => {
            // Short-circuit, so `ok and val_loss < 2` needs no loss when not ok.
            match eval(a, c)? {
                V::Bool(false) => V::Bool(false),
                V::Bool(true) => eval(b, c)?,
                _ => return None,
            }
        }
        ExprKind::Binary(BinOp::Or, a, b) => match eval(a, c)? {
            V::Bool(true) => V::Bool(true),
            V::Bool(false) => eval(b, c)?,
            _ => return None,
        },
        ExprKind::Binary(op, a, b) => binary(*op, eval(a, c)?, eval(b, c)?)?,
        _ => return None,
    })
}

fn named(name: &str, c: &Candidate) -> Option<V> {
    if let Some(v) = c.metrics.get(name) {
        return v.is_finite().then_some(V::Num(*v));
    }
    match c.values.get(name)? {
        serde_json::Value::Number(n) => n.as_f64().map(V::Num),
        serde_json::Value::Bool(b) => Some(V::Bool(*b)),
        serde_json::Value::String(s) => Some(V::Str(s.clone())),
        _ => None,
    }
}

fn binary(op: BinOp, a: V, b: V) -> Option<V> {
    use V::*;
    Some(match (op, &a, &b) {
        (BinOp::Eq, _, _) => Bool(a == b),
        (BinOp::Ne, _, _) => Bool(a != b),
        (_, Num(x), Num(y)) => match op {
            BinOp::Lt => Bool(x < y),
            BinOp::Le => Bool(x <= y),
            BinOp::Gt => Bool(x > y),
            BinOp::Ge => Bool(x >= y),
            BinOp::Add => Num(x + y),
            BinOp::Sub => Num(x - y),
            BinOp::Mul => Num(x * y),
            BinOp::Div => Num(x / y),
            BinOp::Rem => Num(x % y),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn min(name: &str) -> Metric {
        Metric::named(name, &[])
    }

    #[test]
    fn top_ranks_by_direction_and_skips_failed_and_missing() {
        let ms = [
            metrics(&[("val_loss", 2.0), ("val_accuracy", 0.5)]),
            metrics(&[("val_loss", 1.0), ("val_accuracy", 0.4)]),
            metrics(&[("val_loss", 0.5)]),
            metrics(&[("val_accuracy", 0.9)]),
        ];
        let none = BTreeMap::new();
        let cands: Vec<Candidate> = ms
            .iter()
            .enumerate()
            .map(|(i, m)| Candidate {
                failed: i == 2,
                metrics: m,
                values: &none,
            })
            .collect();
        assert_eq!(apply(&Keep::Top(2, min("val_loss")), &cands), vec![1, 0]);
        assert_eq!(
            apply(&Keep::Top(9, min("val_accuracy")), &cands),
            vec![3, 0, 1]
        );
        assert_eq!(
            apply(&Keep::Fraction(50.0, min("val_accuracy")), &cands),
            vec![3, 0]
        );
        assert_eq!(
            apply(&Keep::Fraction(1.0, min("val_loss")), &cands),
            vec![1]
        );
        assert_eq!(apply(&Keep::All, &cands), vec![0, 1, 3]);
    }

    #[test]
    fn objectives_override_the_natural_direction() {
        let objs = [Metric {
            name: "params".into(),
            direction: Direction::Maximize,
        }];
        assert_eq!(
            Metric::named("params", &objs).direction,
            Direction::Maximize
        );
        assert_eq!(Metric::named("params", &[]).direction, Direction::Minimize);
        assert_eq!(
            Metric::named("val_accuracy", &[]).direction,
            Direction::Maximize
        );
    }

    #[test]
    fn fronts_and_crowding_match_a_hand_worked_case() {
        // (1,4) (2,2) (4,1) are non-dominated; (3,3) is dominated by (2,2); (4,4) by all.
        let pts = vec![
            vec![1.0, 4.0],
            vec![3.0, 3.0],
            vec![2.0, 2.0],
            vec![4.0, 1.0],
            vec![4.0, 4.0],
        ];
        assert_eq!(
            nondominated_fronts(&pts),
            vec![vec![0, 2, 3], vec![1], vec![4]]
        );
        let front = vec![vec![1.0, 4.0], vec![2.0, 2.0], vec![4.0, 1.0]];
        let d = crowding(&front);
        assert!(d[0].is_infinite() && d[2].is_infinite());
        // Objective 1: (4 - 1) / 3 = 1; objective 2: (4 - 1) / 3 = 1.
        assert!((d[1] - 2.0).abs() < 1e-12, "{d:?}");
        assert!(dominates(&[1.0, 1.0], &[1.0, 2.0]));
        assert!(!dominates(&[1.0, 2.0], &[1.0, 2.0]));
    }

    #[test]
    fn pareto_orients_maximised_objectives() {
        let ms = [
            metrics(&[("val_accuracy", 0.9), ("params", 100.0)]),
            metrics(&[("val_accuracy", 0.8), ("params", 50.0)]),
            metrics(&[("val_accuracy", 0.7), ("params", 80.0)]),
        ];
        let none = BTreeMap::new();
        let cands: Vec<Candidate> = ms
            .iter()
            .map(|m| Candidate {
                failed: false,
                metrics: m,
                values: &none,
            })
            .collect();
        let objs = vec![min("val_accuracy"), min("params")];
        let mut kept = apply(&Keep::Pareto(objs), &cands);
        kept.sort_unstable();
        assert_eq!(kept, vec![0, 1]);
    }

    #[test]
    fn where_reads_metrics_and_values() {
        let src = "space s { param w: int = choice(1, 2) graph { identity() } pipeline { random(samples = 1) |> keep where val_loss < 2.0 and w == 2 } }";
        let mut sink = crate::diag::Sink::default();
        let file = crate::syntax::parse_file(crate::diag::FileId(0), src, &mut sink);
        let cond = file
            .items
            .iter()
            .find_map(|i| match i {
                ast::Item::Space(s) => s.members.iter().find_map(|m| match m {
                    ast::Member::Config(ast::Config::Pipeline(st, _)) => {
                        match st[0].filter.clone() {
                            Some(ast::Filter::Where(e)) => Some(e),
                            _ => None,
                        }
                    }
                    _ => None,
                }),
                _ => None,
            })
            .expect("the test program has a where filter");
        let ms = [
            metrics(&[("val_loss", 1.5)]),
            metrics(&[("val_loss", 2.5)]),
            metrics(&[]),
        ];
        let w2: BTreeMap<String, serde_json::Value> = [("w".to_string(), serde_json::json!(2))]
            .into_iter()
            .collect();
        let w1: BTreeMap<String, serde_json::Value> = [("w".to_string(), serde_json::json!(1))]
            .into_iter()
            .collect();
        let cands = vec![
            Candidate {
                failed: false,
                metrics: &ms[0],
                values: &w2,
            },
            Candidate {
                failed: false,
                metrics: &ms[1],
                values: &w2,
            },
            Candidate {
                failed: false,
                metrics: &ms[2],
                values: &w2,
            },
            Candidate {
                failed: false,
                metrics: &ms[0],
                values: &w1,
            },
        ];
        assert_eq!(apply(&Keep::Where(cond), &cands), vec![0]);
    }
}
