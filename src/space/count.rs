//! Exact counting of the architectures of a space.
//!
//! The count is a sum over the named hyperparameters of a product of factors: one per
//! constraint (1 when it holds, else 0) and one per top-level graph statement (the weight
//! of its inline choices). Only the hyperparameters a factor really needs (a repeat count,
//! an `if` condition, a constrained value) become its variables; they are summed out one
//! at a time (variable elimination), so independent hyperparameters multiply instead of
//! being enumerated, and spaces of 10^30 count in microseconds.
//!
//! A hyperparameter that a given assignment leaves inactive counts once, not once per
//! value: such parameters carry an activity bit (see [`Weight`]), and a variable gets an
//! extra "inactive" value that is only allowed where no active use sets its bit.

use std::collections::{BTreeSet, HashMap};

use num_bigint::BigUint;

use super::eval::{Dist, Eval, Globals, Stop, Val};
use super::weight::Weight;
use crate::check::{Checked, Domain, SpaceInfo};
use crate::diag::Span;
use crate::syntax::ast::{self, ExprKind, Stmt};

const MAX_TABLE: usize = 1 << 20;

/// A factor: a table over the values of its variables.
#[derive(Clone, Debug)]
struct Factor {
    vars: Vec<usize>,
    cells: Vec<Weight>,
}

/// Why a count is not available.
#[derive(Clone, Debug)]
pub struct Unavailable {
    /// What went wrong, in words.
    pub reason: String,
    /// Where.
    pub span: Span,
}

/// The discrete values of each param (`None` for continuous or not enumerable ones).
pub fn param_values(
    checked: &Checked,
    space: &SpaceInfo,
) -> Result<Vec<Option<Vec<Val>>>, Unavailable> {
    let mut out = Vec::new();
    for p in &space.params {
        let vals = match &p.domain {
            None => None,
            Some(Domain::IntRange { lo, hi, step }) => {
                let n = (i128::from(*hi) - i128::from(*lo)) / i128::from(*step) + 1;
                if n > 10_000_000 {
                    return Err(Unavailable {
                        reason: format!("`{}` has {n} values", p.name),
                        span: p.span,
                    });
                }
                Some((0..n as i64).map(|k| Val::Int(lo + k * step)).collect())
            }
            Some(Domain::Float {
                lo, hi, q: Some(q), ..
            }) => {
                let n = crate::check::quantum::size(*lo, *hi, *q);
                if n > 10_000_000 {
                    return Err(Unavailable {
                        reason: format!("`{}` has {n} quantised values", p.name),
                        span: p.span,
                    });
                }
                let grid = crate::check::quantum::grid(*lo, *hi, *q);
                Some(
                    grid.into_iter()
                        .flat_map(|(a, b)| a..=b)
                        .map(|k| Val::Float(crate::check::quantum::value(k, *q)))
                        .collect(),
                )
            }
            Some(Domain::Float { .. }) => None,
            Some(Domain::Choice(alts)) => Some(choice_values(checked, space, &p.name, alts)?),
        };
        out.push(vals);
    }
    Ok(out)
}

/// The values of a named param's `choice` alternatives, flattened (an alternative with a
/// choice inside gives one value per inner value).
pub(crate) fn choice_values(
    checked: &Checked,
    space: &SpaceInfo,
    name: &str,
    alts: &[ast::Expr],
) -> Result<Vec<Val>, Unavailable> {
    let n = space.params.len();
    let globals = Globals::new(vec![None; n], vec![0; n], vec![false; n]);
    let sigma = vec![None; n];
    let mut ev = Eval::new(checked, space, &globals, &sigma);
    let env = ev.space_env();
    let not_constant = |span| Unavailable {
        reason: format!("the alternatives of `{name}` are not constant"),
        span,
    };
    let mut vals = Vec::new();
    for a in alts {
        let d: Dist = ev.value(a, &env).map_err(|_| not_constant(a.span))?;
        for (v, _) in d {
            if matches!(v, Val::Opaque(_)) {
                return Err(not_constant(a.span));
            }
            vals.push(v);
        }
    }
    Ok(vals)
}

/// The params an expression depends on, through the space's lets.
pub fn param_deps(space: &SpaceInfo, e: &ast::Expr) -> BTreeSet<usize> {
    let names: BTreeSet<String> = e.names().into_iter().map(|id| id.name.clone()).collect();
    let mut seen_lets = BTreeSet::new();
    let mut out = BTreeSet::new();
    let mut work: Vec<String> = names.into_iter().collect();
    while let Some(n) = work.pop() {
        if let Some(i) = space.params.iter().position(|p| p.name == n) {
            out.insert(i);
        } else if let Some(l) = space.lets.iter().position(|l| l.name == n) {
            if seen_lets.insert(l) {
                work.extend(
                    space.lets[l]
                        .value
                        .names()
                        .into_iter()
                        .map(|id| id.name.clone()),
                );
            }
        }
    }
    out
}

/// The expressions outside the graph that every architecture evaluates: pipeline stage
/// arguments, the data source and the training fields. A hyperparameter they use is
/// always active.
pub(crate) fn config_exprs(space: &SpaceInfo) -> Vec<&ast::Expr> {
    space
        .stages
        .iter()
        .flat_map(|s| s.args.iter().map(|a| &a.value))
        .chain(space.data.iter())
        .chain(space.train.iter().map(|f| &f.value))
        .collect()
}

fn mentions_data(e: &ast::Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| found |= matches!(x.kind, ExprKind::Data));
    found
}

/// Whether constraint `k` can be decided from the discrete hyperparameters alone (no
/// metric, no continuous hyperparameter, no data); only those enter the count.
pub fn countable(space: &SpaceInfo, values: &[Option<Vec<Val>>], k: usize) -> bool {
    let r = &space.requires[k];
    !r.uses_metrics
        && !mentions_data(&r.cond)
        && param_deps(space, &r.cond)
            .iter()
            .all(|d| values[*d].is_some())
}

/// Whether constraint `k` holds for every combination of the values of the
/// hyperparameters it mentions (so it filters nothing). `false` when that is more than
/// 100,000 combinations.
pub fn always_holds(
    checked: &Checked,
    space: &SpaceInfo,
    values: &[Option<Vec<Val>>],
    k: usize,
) -> bool {
    let deps: Vec<usize> = param_deps(space, &space.requires[k].cond)
        .into_iter()
        .collect();
    let sizes: Vec<usize> = deps
        .iter()
        .map(|d| values[*d].as_ref().map_or(0, |v| v.len()))
        .collect();
    let Some(total) = sizes
        .iter()
        .try_fold(1usize, |a, s| a.checked_mul(*s))
        .filter(|t| *t > 0 && *t <= 100_000)
    else {
        return false;
    };
    let globals = Globals::new(
        values.to_vec(),
        vec![0; values.len()],
        vec![false; values.len()],
    );
    for index in 0..total {
        let mut sigma = vec![None; values.len()];
        let mut rest = index;
        for (j, d) in deps.iter().enumerate().rev() {
            sigma[*d] = Some(rest % sizes[j]);
            rest /= sizes[j];
        }
        let mut ev = Eval::new(checked, space, &globals, &sigma);
        let env = ev.space_env();
        match ev.value(&space.requires[k].cond, &env) {
            Ok(d) if !d.is_empty() && d.iter().all(|(v, _)| *v == Val::Bool(true)) => {}
            _ => return false,
        }
    }
    true
}

/// Counts the architectures of `space` over its discrete part; continuous hyperparameters
/// count once. Constraints that call metrics are left out (they need a built model).
pub fn count(
    checked: &Checked,
    space: &SpaceInfo,
    extra_config: &[&ast::Expr],
    skip_require: Option<usize>,
    only_require: Option<usize>,
) -> Result<BigUint, Unavailable> {
    let values = param_values(checked, space)?;
    let n = space.params.len();
    // Which params are used in the graph and nowhere else that makes them always active.
    let graph_uses = space
        .graph
        .as_ref()
        .map(|g| param_deps(space, g))
        .unwrap_or_default();
    let mut always: BTreeSet<usize> = BTreeSet::new();
    for e in extra_config.iter().copied().chain(config_exprs(space)) {
        always.extend(param_deps(space, e));
    }
    let mut bits = vec![0u64; n];
    let mut next_bit = 0;
    for i in 0..n {
        if values[i].is_some() && graph_uses.contains(&i) && !always.contains(&i) {
            if next_bit >= 64 {
                return Err(Unavailable {
                    reason: "more than 64 hyperparameters are used in the graph (the count \
                             follows which of them each architecture uses, for at most 64)"
                        .into(),
                    span: space.span,
                });
            }
            bits[i] = 1 << next_bit;
            next_bit += 1;
        }
    }
    let mut globals = Globals::new(values, bits, vec![false; n]);
    // Constraint factors, over their params.
    let requires: Vec<(usize, BTreeSet<usize>)> = (0..space.requires.len())
        .filter(|k| {
            countable(space, &globals.values, *k)
                && Some(*k) != skip_require
                && only_require.is_none_or(|o| o == *k)
        })
        .map(|k| (k, param_deps(space, &space.requires[k].cond)))
        .collect();
    for (_, deps) in &requires {
        for d in deps {
            globals.is_var[*d] = true;
        }
    }
    let statements: Vec<&ast::Expr> = match space.graph.as_ref().map(|g| &g.kind) {
        Some(ExprKind::Block(stmts)) if stmts.iter().all(|s| !matches!(s, Stmt::Let(_))) => stmts
            .iter()
            .filter_map(|s| if let Stmt::Expr(e) = s { Some(e) } else { None })
            .collect(),
        _ => space.graph.iter().collect(),
    };
    // Graph factors: discover their variables until no new one appears.
    let mut graph_factors: Vec<Factor>;
    loop {
        let before = globals.is_var.clone();
        graph_factors = Vec::new();
        for stmt in &statements {
            graph_factors.push(graph_factor(checked, space, &mut globals, stmt)?);
        }
        if globals.is_var == before {
            break;
        }
    }
    let mut factors: Vec<Factor> = graph_factors;
    for (k, deps) in &requires {
        factors.push(require_factor(checked, space, &globals, *k, deps)?);
    }
    // Resolve activity bits of non-variables that only one factor emits.
    let mut emitters: HashMap<u64, usize> = HashMap::new();
    for f in &factors {
        let mask = f
            .cells
            .iter()
            .flat_map(|c| c.terms.iter().map(|t| t.0))
            .fold(0, |a, m| a | m);
        for i in 0..n {
            if globals.bits[i] & mask != 0 {
                *emitters.entry(globals.bits[i]).or_default() += 1;
            }
        }
    }
    for f in &mut factors {
        for i in 0..n {
            let bit = globals.bits[i];
            if bit != 0 && !globals.is_var[i] && emitters.get(&bit) == Some(&1) {
                let size = BigUint::from(globals.values[i].as_ref().map_or(1, |v| v.len()));
                for c in &mut f.cells {
                    *c = c.resolve(bit, &size);
                }
            }
        }
    }
    // Variable elimination.
    let mut remaining: BTreeSet<usize> = (0..n).filter(|i| globals.is_var[*i]).collect();
    while let Some(&v) = remaining.iter().min_by_key(|v| {
        let mut scope = BTreeSet::new();
        for f in factors.iter().filter(|f| f.vars.contains(v)) {
            scope.extend(f.vars.iter().copied());
        }
        scope
            .iter()
            .map(|x| domain_size(&globals, *x))
            .product::<usize>()
    }) {
        remaining.remove(&v);
        let (with, without): (Vec<Factor>, Vec<Factor>) =
            factors.into_iter().partition(|f| f.vars.contains(&v));
        factors = without;
        let product = multiply(&globals, &with, space.span)?;
        factors.push(sum_out(&globals, &product, v));
    }
    let mut total = Weight::one();
    for f in &factors {
        total = total.mul(&f.cells[0]);
    }
    for i in 0..n {
        if globals.bits[i] != 0 && !globals.is_var[i] {
            let size = BigUint::from(globals.values[i].as_ref().map_or(1, |v| v.len()));
            total = total.resolve(globals.bits[i], &size);
        }
    }
    let mut result = total.total();
    for i in 0..n {
        if globals.bits[i] == 0 && !globals.is_var[i] {
            if let Some(v) = &globals.values[i] {
                result *= BigUint::from(v.len());
            }
        }
    }
    Ok(result)
}

fn domain_size(globals: &Globals, v: usize) -> usize {
    globals.values[v].as_ref().map_or(1, |x| x.len()) + usize::from(globals.bits[v] != 0)
}

/// Mixed-radix decoding of cell `index` over `vars`.
fn decode(globals: &Globals, vars: &[usize], mut index: usize, sigma: &mut [Option<usize>]) {
    for &v in vars.iter().rev() {
        let d = domain_size(globals, v);
        sigma[v] = Some(index % d);
        index /= d;
    }
}

fn table_size(globals: &Globals, vars: &[usize], span: Span) -> Result<usize, Unavailable> {
    let mut size: usize = 1;
    for &v in vars {
        size = size
            .checked_mul(domain_size(globals, v))
            .filter(|s| *s <= MAX_TABLE)
            .ok_or_else(|| Unavailable {
                reason: "too many combinations of hyperparameters that decide the structure".into(),
                span,
            })?;
    }
    Ok(size)
}

fn graph_factor(
    checked: &Checked,
    space: &SpaceInfo,
    globals: &mut Globals,
    stmt: &ast::Expr,
) -> Result<Factor, Unavailable> {
    let mut vars: Vec<usize> = Vec::new();
    'restart: loop {
        let size = table_size(globals, &vars, stmt.span)?;
        let mut cells = Vec::with_capacity(size);
        for index in 0..size {
            let mut sigma = vec![None; space.params.len()];
            decode(globals, &vars, index, &mut sigma);
            let mut ev = Eval::new(checked, space, globals, &sigma);
            let env = ev.space_env();
            match ev.graph(stmt, &env) {
                Ok(w) => cells.push(w),
                Err(Stop::Need(i)) if !vars.contains(&i) => {
                    vars.push(i);
                    globals.is_var[i] = true;
                    continue 'restart;
                }
                Err(Stop::Need(i)) => {
                    return Err(Unavailable {
                        reason: format!("`{}` could not be enumerated", space.params[i].name),
                        span: stmt.span,
                    });
                }
                Err(Stop::Unavailable(reason, span)) => return Err(Unavailable { reason, span }),
            }
        }
        return Ok(Factor { vars, cells });
    }
}

fn require_factor(
    checked: &Checked,
    space: &SpaceInfo,
    globals: &Globals,
    k: usize,
    deps: &BTreeSet<usize>,
) -> Result<Factor, Unavailable> {
    let vars: Vec<usize> = deps.iter().copied().collect();
    let r = &space.requires[k];
    let size = table_size(globals, &vars, r.span)?;
    let mut cells = Vec::with_capacity(size);
    let plain = Globals::new(
        globals.values.clone(),
        vec![0; globals.bits.len()],
        globals.is_var.clone(),
    );
    for index in 0..size {
        let mut sigma = vec![None; space.params.len()];
        decode(globals, &vars, index, &mut sigma);
        let inactive = vars
            .iter()
            .any(|v| globals.bits[*v] != 0 && sigma[*v] == Some(domain_size(globals, *v) - 1));
        if inactive {
            cells.push(Weight::one());
            continue;
        }
        let mut ev = Eval::new(checked, space, &plain, &sigma);
        let env = ev.space_env();
        let d = ev.value(&r.cond, &env).map_err(|_| Unavailable {
            reason: "a constraint could not be evaluated".into(),
            span: r.span,
        })?;
        let holds = !d.is_empty() && d.iter().all(|(v, _)| *v == Val::Bool(true));
        let opaque = d.iter().any(|(v, _)| matches!(v, Val::Opaque(_)));
        if opaque {
            return Err(Unavailable {
                reason: "a constraint depends on data or a continuous hyperparameter".into(),
                span: r.span,
            });
        }
        cells.push(if holds { Weight::one() } else { Weight::zero() });
    }
    Ok(Factor { vars, cells })
}

fn multiply(globals: &Globals, factors: &[Factor], span: Span) -> Result<Factor, Unavailable> {
    let mut vars: Vec<usize> = Vec::new();
    for f in factors {
        for v in &f.vars {
            if !vars.contains(v) {
                vars.push(*v);
            }
        }
    }
    let size = table_size(globals, &vars, span)?;
    let mut cells = Vec::with_capacity(size);
    let mut sigma = vec![None; globals.values.len()];
    for index in 0..size {
        decode(globals, &vars, index, &mut sigma);
        let mut w = Weight::one();
        for f in factors {
            let mut idx = 0;
            for v in &f.vars {
                idx = idx * domain_size(globals, *v) + sigma[*v].unwrap_or(0);
            }
            w = w.mul(&f.cells[idx]);
            if w.is_zero() {
                break;
            }
        }
        cells.push(w);
    }
    Ok(Factor { vars, cells })
}

fn sum_out(globals: &Globals, f: &Factor, v: usize) -> Factor {
    let pos = f.vars.iter().position(|x| *x == v).unwrap_or(0);
    let d = domain_size(globals, v);
    let bit = globals.bits[v];
    let rest: Vec<usize> = f.vars.iter().copied().filter(|x| *x != v).collect();
    let inner: usize = f.vars[pos + 1..]
        .iter()
        .map(|x| domain_size(globals, *x))
        .product();
    let outer = f.cells.len() / (d * inner);
    let mut cells = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut acc = Weight::zero();
            for k in 0..d {
                let c = &f.cells[(o * d + k) * inner + i];
                let part = if bit == 0 {
                    c.clone()
                } else if k + 1 == d {
                    c.select(bit, false)
                } else {
                    c.select(bit, true)
                };
                acc = acc.add(&part);
            }
            cells.push(acc);
        }
    }
    Factor { vars: rest, cells }
}
