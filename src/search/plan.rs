//! The pipeline as the runner executes it: each `pipeline { ... }` stage of a checked
//! space with its arguments evaluated (defaults filled in from the prelude) and its
//! filter resolved to metrics with directions.
//!
//! Stage arguments must be constants: a pipeline is one plan for the whole run, not a
//! function of the architecture being built. Anything else is reported here, before any
//! training starts.

use serde_json::{Map, Value};

use super::filter::{Filter, Keep, Metric};
use crate::check::{Checked, SpaceInfo, SCORE};
use crate::diag::{Code, Diagnostic, Sink, Span};
use crate::syntax::ast::{self, BinOp, ExprKind, Item, UnOp};

/// One layer of the plan.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The strategy (`random`, `grid`, `final`, ...).
    pub strategy: String,
    /// Every argument of the strategy, by name, defaults included.
    pub args: Map<String, Value>,
    /// The filter after it.
    pub filter: Option<Filter>,
    /// The stage as written, without its filter (`random(samples = 8, steps = 40)`).
    pub text: String,
    /// Where the strategy call is written.
    pub span: Span,
}

impl Stage {
    /// An integer argument (the checker has made sure of its type).
    pub fn int(&self, name: &str) -> Option<i64> {
        self.args.get(name).and_then(Value::as_i64)
    }

    /// A numeric argument, as a float.
    pub fn float(&self, name: &str) -> Option<f64> {
        self.args.get(name).and_then(Value::as_f64)
    }

    /// A string or enum-symbol argument.
    pub fn text_arg(&self, name: &str) -> Option<&str> {
        self.args.get(name).and_then(Value::as_str)
    }

    /// The training steps of the stage's trials: its `steps` argument.
    pub fn steps(&self) -> Option<usize> {
        self.int("steps").map(|s| s.max(1) as usize)
    }
}

/// The whole pipeline of a space.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The layers, in order.
    pub stages: Vec<Stage>,
    /// The objectives, in order.
    pub objectives: Vec<Metric>,
    /// Their weights, in the same order, when the objectives are weighted; else empty.
    pub weights: Vec<f64>,
    /// The metric the final table is ordered by and strategies minimise unless their filter
    /// names another: `score` when the objectives are weighted, else the first objective,
    /// else `val_loss`.
    pub rank: Metric,
}

impl Plan {
    /// The weighted sum of the objectives in `metrics`, each as a loss: `None` when the
    /// objectives are not weighted or one of them was not measured.
    pub fn score(&self, metrics: &std::collections::BTreeMap<String, f64>) -> Option<f64> {
        if self.weights.is_empty() {
            return None;
        }
        let mut sum = 0.0;
        for (m, w) in self.objectives.iter().zip(&self.weights) {
            let v = *metrics.get(&m.name)?;
            if !v.is_finite() {
                return None;
            }
            sum += w * m.direction.as_loss(v);
        }
        Some(sum)
    }

    /// The plan as JSON, as the store keeps it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "objectives": self.objectives,
            "weights": self.weights,
            "rank": self.rank,
            "layers": self.stages.iter().map(|s| serde_json::json!({
                "strategy": s.strategy,
                "text": s.text,
                "args": s.args,
                "filter": s.filter.as_ref().map(|f| f.text.clone()),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The plan of `space`; `None` after reporting (as `E036`) why it cannot run.
pub fn plan(checked: &Checked, space: &SpaceInfo, sink: &mut Sink) -> Option<Plan> {
    let objectives: Vec<Metric> = space
        .objectives
        .iter()
        .map(|g| Metric {
            name: g.metric.name.clone(),
            direction: g.direction,
        })
        .collect();
    let weights: Vec<f64> = space
        .objectives
        .iter()
        .filter_map(|g| g.weight.map(|(w, _)| w))
        .collect();
    let weights = if weights.len() == objectives.len() {
        weights
    } else {
        Vec::new()
    };
    let rank = if weights.is_empty() {
        objectives
            .first()
            .cloned()
            .unwrap_or_else(|| Metric::named("val_loss", &[]))
    } else {
        Metric::named(SCORE, &[])
    };
    if space.stages.is_empty() {
        sink.push(
            Diagnostic::error(
                Code::PipelineCannotRun,
                format!("space `{}` has no pipeline to run", space.name),
                space.span,
                "no `pipeline { ... }` block",
            )
            .with_help("add one, e.g. `pipeline { random(samples = 16, steps = 100) |> keep top 4 by val_loss  final(steps = 500) }`"),
        );
        return None;
    }
    let sources = &checked.program.sources;
    let mut stages = Vec::new();
    let mut ok = true;
    for st in &space.stages {
        let mut args = Map::new();
        let params = match checked
            .lookup(space.file, &st.strategy.name)
            .map(|r| checked.item(r))
        {
            Some(Item::Builtin(b)) => b.params.clone(),
            _ => Vec::new(),
        };
        for (p, a) in params.iter().zip(ast::match_args(&params, &st.args)) {
            let expr = match (a, &p.default) {
                (Some(a), _) => &a.value,
                (None, Some(d)) => d,
                (None, None) => continue,
            };
            let numeric = matches!(p.ty.name.as_str(), "int" | "float");
            // A number may be a `let` of the space; a default is the strategy's, written
            // without the space's names, and a path (`over = width`) names what it is.
            let names = (numeric && a.is_some()).then_some(space);
            match constant_in(expr, names, 0).filter(|v| !numeric || v.is_number()) {
                Some(v) => {
                    args.insert(p.name.name.clone(), v);
                }
                None => {
                    ok = false;
                    sink.push(
                        Diagnostic::error(
                            Code::PipelineCannotRun,
                            format!("the argument `{}` of `{}` is not a constant", p.name.name, st.strategy.name),
                            expr.span,
                            "depends on the architecture",
                        )
                        .with_help("a pipeline is one plan for the whole run: give stage arguments constant values (numbers, or `let`s and arithmetic of numbers), not hyperparameters"),
                    );
                }
            }
        }
        let filter = st
            .filter
            .as_ref()
            .and_then(|f| filter(f, space, &objectives, &rank, sources, sink));
        if st.filter.is_some() && filter.is_none() {
            ok = false;
        }
        let end = st
            .args
            .last()
            .map_or(st.strategy.span.end, |a| a.value.span.end);
        let call = sources.snippet(st.strategy.span.with_end(end));
        let text = if st.args.is_empty() || call.ends_with(')') {
            call
        } else {
            format!("{call})")
        };
        stages.push(Stage {
            strategy: st.strategy.name.clone(),
            args,
            filter,
            text,
            span: st.strategy.span,
        });
    }
    ok.then_some(Plan {
        stages,
        objectives,
        weights,
        rank,
    })
}

fn filter(
    f: &ast::Filter,
    space: &SpaceInfo,
    objectives: &[Metric],
    rank: &Metric,
    sources: &crate::source::SourceMap,
    sink: &mut Sink,
) -> Option<Filter> {
    let metric = |m: &ast::Ident| Metric::named(&m.name, objectives);
    Some(match f {
        ast::Filter::Top(k, m) => {
            let Some(Value::Number(n)) = constant_in(k, Some(space), 0) else {
                sink.push(
                    Diagnostic::error(
                        Code::PipelineCannotRun,
                        "`keep top` needs a constant count",
                        k.span,
                        "not a constant",
                    )
                    .with_help("write the count as a number: `keep top 4 by val_loss`"),
                );
                return None;
            };
            let count = n.as_i64().unwrap_or(1).max(1) as usize;
            Filter {
                keep: Keep::Top(count, metric(m)),
                text: format!("keep top {count} by {}", m.name),
                span: k.span.to(m.span),
            }
        }
        ast::Filter::Best(m, span) => {
            let m = m.as_ref().map_or_else(|| rank.clone(), metric);
            Filter {
                text: format!("keep best by {}", m.name),
                keep: Keep::Top(1, m),
                span: *span,
            }
        }
        ast::Filter::Fraction(p, span, m) => Filter {
            keep: Keep::Fraction(*p, metric(m)),
            text: format!("keep {p}% by {}", m.name),
            span: span.to(m.span),
        },
        ast::Filter::Pareto(span) => Filter {
            keep: Keep::Pareto(objectives.to_vec()),
            text: format!(
                "keep pareto over {}",
                objectives
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            span: *span,
        },
        ast::Filter::Where(e) => Filter {
            keep: Keep::Where(e.clone()),
            text: format!("keep where {}", sources.snippet(e.span)),
            span: e.span,
        },
    })
}

/// The value of a constant argument: numbers, strings, booleans, enum symbols (as their
/// names) and paths (`attention.kind`, as written); `None` for anything that needs an
/// architecture.
pub fn constant(e: &ast::Expr) -> Option<Value> {
    constant_in(e, None, 0)
}

/// [`constant`], reading the names of `space` when given: a `let` stands for its value
/// (as the checker folds it), a hyperparameter for no constant. `depth` counts the `let`s
/// followed, so that no chain of them runs away.
fn constant_in(e: &ast::Expr, space: Option<&SpaceInfo>, depth: usize) -> Option<Value> {
    let c = |x: &ast::Expr| constant_in(x, space, depth);
    Some(match &e.kind {
        ExprKind::Int(v) => Value::from(*v),
        ExprKind::Float(v) => serde_json::Number::from_f64(*v).map(Value::Number)?,
        ExprKind::Str(s) => Value::from(s.clone()),
        ExprKind::Bool(b) => Value::from(*b),
        ExprKind::Name(id) => match space {
            Some(sp) if sp.params.iter().any(|p| p.name == id.name) => return None,
            Some(sp) => match sp.lets.iter().find(|l| l.name == id.name) {
                Some(l) if depth < 64 => constant_in(&l.value, space, depth + 1)?,
                Some(_) => return None,
                None => Value::from(id.name.clone()),
            },
            None => Value::from(id.name.clone()),
        },
        ExprKind::Member(base, field) => match c(base)? {
            Value::String(b) => Value::from(format!("{b}.{}", field.name)),
            _ => return None,
        },
        ExprKind::Unary(UnOp::Neg, x) => match c(x)? {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Value::from(i.checked_neg()?),
                None => serde_json::Number::from_f64(-n.as_f64()?).map(Value::Number)?,
            },
            _ => return None,
        },
        ExprKind::Binary(
            op @ (BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem),
            a,
            b,
        ) => {
            let (a, b) = (c(a)?, c(b)?);
            match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => Value::from(match op {
                    BinOp::Add => x.checked_add(y)?,
                    BinOp::Sub => x.checked_sub(y)?,
                    BinOp::Mul => x.checked_mul(y)?,
                    BinOp::Div => x.checked_div(y)?,
                    _ => x.checked_rem(y)?,
                }),
                _ => {
                    let (x, y) = (a.as_f64()?, b.as_f64()?);
                    let v = match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div if y != 0.0 => x / y,
                        _ => return None,
                    };
                    serde_json::Number::from_f64(v).map(Value::Number)?
                }
            }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::syntax::ast::Direction;

    fn plan_of(objective: &str) -> Plan {
        plan_of_space(&format!(
            "space s {{\n  param width = choice(64, 128)\n  graph {{ embedding(vocab = 100, dim = width)  lm_head(vocab = 100) }}\n  {objective}\n  pipeline {{ random(samples = 4, steps = 10) |> keep best }}\n}}\n"
        ))
    }

    fn plan_of_space(text: &str) -> Plan {
        let text = text.to_string();
        let mut sink = Sink::default();
        let program = crate::check::load("t.nas", text, None, &mut sink);
        let checked = crate::check::check(program, &mut sink);
        assert!(!sink.has_errors(), "{:?}", sink.diagnostics());
        plan(&checked, &checked.spaces[0], &mut sink).expect("a plan")
    }

    #[test]
    fn stage_arguments_read_the_spaces_constant_lets() {
        let p = plan_of_space(
            "space s {\n  param width = choice(64, 128)\n  let n = 2 * 12\n  let top = n / 5 + n % 5\n  let rate = n / 48.0\n  graph { embedding(vocab = 100, dim = width)  lm_head(vocab = 100) }\n  objective { minimize val_loss }\n  pipeline { evolution(population = n, generations = 2, mutation = rate) |> keep top top by val_loss }\n}\n",
        );
        let st = &p.stages[0];
        assert_eq!(st.int("population"), Some(24));
        assert_eq!(st.float("mutation"), Some(0.5));
        assert_eq!(
            st.filter.as_ref().expect("a filter").text,
            "keep top 8 by val_loss"
        );
    }

    #[test]
    fn weighted_objectives_rank_by_their_weighted_sum_as_a_loss() {
        let p =
            plan_of("objective { minimize val_loss weight 2  maximize val_accuracy weight 0.5 }");
        assert_eq!(p.weights, vec![2.0, 0.5]);
        assert_eq!(p.rank.name, SCORE);
        assert_eq!(p.rank.direction, Direction::Minimize);
        let metrics: BTreeMap<String, f64> = [
            ("val_loss".to_string(), 3.0),
            ("val_accuracy".to_string(), 0.4),
        ]
        .into();
        // A maximised metric counts negated: 2 * 3.0 - 0.5 * 0.4.
        assert_eq!(p.score(&metrics), Some(5.8));
        let missing: BTreeMap<String, f64> = [("val_loss".to_string(), 3.0)].into();
        assert_eq!(
            p.score(&missing),
            None,
            "an unmeasured objective gives no score"
        );
        let keep_best = p.stages[0].filter.as_ref().expect("a filter");
        assert_eq!(keep_best.text, "keep best by score");
    }

    #[test]
    fn unweighted_objectives_rank_by_the_first_and_score_nothing() {
        let p = plan_of("objective { maximize val_accuracy  minimize latency_ms }");
        assert!(p.weights.is_empty());
        assert_eq!(p.rank.name, "val_accuracy");
        let metrics: BTreeMap<String, f64> = [
            ("val_accuracy".to_string(), 0.4),
            ("latency_ms".to_string(), 2.0),
        ]
        .into();
        assert_eq!(p.score(&metrics), None);
    }
}
