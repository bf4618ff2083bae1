//! Static shape rules: every builtin module's `require`s (e.g. `width % heads == 0` for
//! attention, `rate < 1` for dropout), residual connections that keep the width, and
//! `add` joins of equal widths, decided for every combination of the hyperparameters
//! they depend on (honouring the space's constraints).
//!
//! The graph is walked with the set of feature widths the flow may have. Values the
//! rules need are supplied by enumerating only the hyperparameters they ask for (the
//! evaluator stops with `Need`), so a rule over `d_model` and `heads` costs
//! |d_model| x |heads| walks, whatever the size of the rest of the space.

use std::collections::BTreeSet;
use std::rc::Rc;

use super::count::{param_deps, param_values};
use super::eval::{Binding, Env, Eval, Globals, Stop, Template, Val};
use crate::check::{Checked, SpaceInfo};
use crate::diag::{Code, Diagnostic, Sink, Span};
use crate::syntax::ast::{self, BinOp, BuiltinKind, ExprKind, Item, Stmt};

const MAX_WALKS: usize = 20_000;
const MAX_COMBOS: usize = 10_000;

/// A broken shape rule with the values that break it.
#[derive(Clone, Debug)]
struct Violation {
    span: Span,
    rule: String,
    witness: Vec<(String, String)>,
    help: String,
}

/// Checks the shape rules of `space`, pushing `E018` for each rule some architecture breaks.
pub fn check_shapes(checked: &Checked, space: &SpaceInfo, sink: &mut Sink) -> bool {
    let Some(graph) = &space.graph else {
        return false;
    };
    let Ok(values) = param_values(checked, space) else {
        return false;
    };
    let n = space.params.len();
    let globals = Globals::new(values, vec![0; n], vec![false; n]);
    let constraints: Vec<(usize, BTreeSet<usize>)> = space
        .requires
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.uses_metrics)
        .map(|(k, r)| (k, param_deps(space, &r.cond)))
        .collect();
    let mut search = Search {
        checked,
        space,
        globals: &globals,
        constraints: &constraints,
        graph,
        found: Vec::new(),
        walks: 0,
    };
    let mut sigma = vec![None; n];
    if !search.explore(&mut sigma, &mut Vec::new()) {
        return false;
    }
    let found = search.found;
    let failed = !found.is_empty();
    for v in found {
        let witness: Vec<String> = v
            .witness
            .iter()
            .map(|(k, x)| format!("{k} = {x}"))
            .collect();
        let when = if witness.is_empty() {
            String::new()
        } else {
            format!(" when {}", witness.join(", "))
        };
        sink.push(
            Diagnostic::error(
                Code::ShapeRule,
                format!("shape rule `{}` fails{when}", v.rule),
                v.span,
                "for some architectures of the space",
            )
            .with_help(v.help),
        );
    }
    failed
}

/// A depth-first search over the hyperparameters the shape rules ask for: each walk of
/// the graph either finishes (and reports what broke) or names one hyperparameter whose
/// value it needs; the search then tries each of its values (together with the
/// hyperparameters constrained with it), so only what the rules read is enumerated.
struct Search<'a> {
    checked: &'a Checked,
    space: &'a SpaceInfo,
    globals: &'a Globals,
    constraints: &'a [(usize, BTreeSet<usize>)],
    graph: &'a ast::Expr,
    found: Vec<Violation>,
    walks: usize,
}

impl Search<'_> {
    /// Whether `sigma` satisfies the constraints whose hyperparameters are all assigned.
    fn admissible(&self, sigma: &[Option<usize>], assigned: &[usize]) -> bool {
        constraints_hold(
            self.checked,
            self.space,
            self.globals,
            sigma,
            self.constraints,
            assigned,
        )
    }

    /// Explores the assignments that extend `sigma`; `false` when it had to give up.
    fn explore(&mut self, sigma: &mut Vec<Option<usize>>, assigned: &mut Vec<usize>) -> bool {
        if self.walks >= MAX_WALKS {
            return false;
        }
        if !self.admissible(sigma, assigned) {
            return true;
        }
        let (result, out, needs) = self.walk(sigma);
        match result {
            Ok(()) => {
                for v in out {
                    self.record(v, sigma, assigned);
                }
                self.clusters(needs, sigma, assigned)
            }
            Err(Stop::Need(g)) if sigma[g].is_none() => {
                let group = self.group(&[g], sigma);
                self.branch(&group, 0, sigma, assigned)
            }
            Err(_) => false,
        }
    }

    /// Tries every value of `group[k..]` in turn.
    fn branch(
        &mut self,
        group: &[usize],
        k: usize,
        sigma: &mut Vec<Option<usize>>,
        assigned: &mut Vec<usize>,
    ) -> bool {
        let Some(&v) = group.get(k) else {
            return self.explore(sigma, assigned);
        };
        let size = self.globals.values[v].as_ref().map_or(0, |x| x.len());
        assigned.push(v);
        for value in 0..size {
            sigma[v] = Some(value);
            if !self.branch(group, k + 1, sigma, assigned) {
                return false;
            }
        }
        sigma[v] = None;
        assigned.pop();
        true
    }

    /// One walk of the graph under `sigma`: its outcome, the broken rules, and the rules
    /// that lack a value.
    fn walk(&mut self, sigma: &[Option<usize>]) -> WalkOutcome {
        self.walks += 1;
        let mut walker = Walker {
            ev: Eval::new(self.checked, self.space, self.globals, sigma),
            out: Vec::new(),
            depth: 0,
            needs: Vec::new(),
        };
        let env = walker.ev.space_env();
        let result = walker
            .walk(self.graph, &env, vec![Val::Opaque(None)])
            .map(|_| ());
        (result, walker.out, walker.needs)
    }

    /// Decides the rules that lacked values under `sigma`. The hyperparameters they lack
    /// fall into clusters (those read by the same rules, or constrained together); each
    /// cluster is enumerated on its own, so independent rules cost a sum, not a product.
    fn clusters(
        &mut self,
        base: Vec<(Site, usize)>,
        sigma: &mut [Option<usize>],
        assigned: &mut Vec<usize>,
    ) -> bool {
        let mut covered: Vec<usize> = Vec::new();
        for &(_, first) in &base {
            if covered.contains(&first) {
                continue;
            }
            let mut cluster = self.group(&[first], sigma);
            'grow: loop {
                let sizes: Vec<usize> = cluster
                    .iter()
                    .map(|v| self.globals.values[*v].as_ref().map_or(0, |x| x.len()))
                    .collect();
                let Some(total) = sizes
                    .iter()
                    .try_fold(1usize, |a, s| a.checked_mul(*s))
                    .filter(|t| self.walks + t <= MAX_WALKS)
                else {
                    return false;
                };
                for index in 0..total {
                    let mut rest = index;
                    for (k, v) in cluster.iter().enumerate().rev() {
                        sigma[*v] = Some(rest % sizes[k]);
                        rest /= sizes[k];
                    }
                    let before = assigned.len();
                    assigned.extend(cluster.iter().copied());
                    let mut more: Vec<usize> = Vec::new();
                    let mut ok = true;
                    if self.admissible(sigma, assigned) {
                        let (result, out, needs) = self.walk(sigma);
                        ok = result.is_ok();
                        for v in out {
                            self.record(v, sigma, assigned);
                        }
                        for (site, h) in needs {
                            // A rule this cluster started to decide now lacks `h` too.
                            let started =
                                base.iter().any(|(s, f)| *s == site && cluster.contains(f));
                            if started && !cluster.contains(&h) && !more.contains(&h) {
                                more.push(h);
                            }
                        }
                    }
                    assigned.truncate(before);
                    for v in &cluster {
                        sigma[*v] = None;
                    }
                    if !ok {
                        return false;
                    }
                    if !more.is_empty() {
                        let mut grown = cluster.clone();
                        grown.extend(more);
                        cluster = self.group(&grown, sigma);
                        continue 'grow;
                    }
                }
                break;
            }
            covered.extend(cluster);
        }
        true
    }

    /// `seeds` with every unassigned discrete hyperparameter linked to them through
    /// constraints.
    fn group(&self, seeds: &[usize], sigma: &[Option<usize>]) -> Vec<usize> {
        let mut group: Vec<usize> = seeds.to_vec();
        let mut k = 0;
        while k < group.len() {
            let x = group[k];
            for (_, deps) in self.constraints {
                if deps.contains(&x) {
                    for d in deps {
                        if !group.contains(d)
                            && sigma[*d].is_none()
                            && self.globals.values[*d].is_some()
                        {
                            group.push(*d);
                        }
                    }
                }
            }
            k += 1;
        }
        group
    }

    fn record(&mut self, mut v: Violation, sigma: &[Option<usize>], assigned: &[usize]) {
        if self
            .found
            .iter()
            .any(|f| f.span == v.span && f.rule == v.rule)
        {
            return;
        }
        let site = self.checked.program.sources.snippet(v.span);
        let mut named: Vec<(String, String)> = assigned
            .iter()
            .filter(|p| mentions(&site, &self.space.params[**p].name))
            .filter_map(|p| {
                let val = self.globals.values[*p].as_ref()?.get(sigma[*p]?)?;
                Some((self.space.params[*p].name.clone(), val.to_string()))
            })
            .collect();
        v.witness.retain(|(k, x)| {
            !named
                .iter()
                .any(|(n, y)| k.rsplit('.').next() == Some(n.as_str()) && x == y)
        });
        named.append(&mut v.witness);
        v.witness = named;
        self.found.push(v);
    }
}

fn constraints_hold(
    checked: &Checked,
    space: &SpaceInfo,
    globals: &Globals,
    sigma: &[Option<usize>],
    constraints: &[(usize, BTreeSet<usize>)],
    vars: &[usize],
) -> bool {
    for (k, deps) in constraints {
        if deps.is_empty() || !deps.iter().all(|d| vars.contains(d)) {
            continue;
        }
        let mut ev = Eval::new(checked, space, globals, sigma);
        let env = ev.space_env();
        if let Ok(d) = ev.value(&space.requires[*k].cond, &env) {
            if d.iter().any(|(v, _)| *v == Val::Bool(false)) {
                return false;
            }
        }
    }
    true
}

fn dedup(mut v: Vec<Val>) -> Vec<Val> {
    let mut out: Vec<Val> = Vec::new();
    for x in v.drain(..) {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn known(w: &[Val]) -> bool {
    !w.is_empty() && w.iter().all(|v| !matches!(v, Val::Opaque(_)))
}

struct Walker<'a> {
    ev: Eval<'a>,
    out: Vec<Violation>,
    depth: usize,
    /// Rules that could not be decided, by site (call, rule), with the first
    /// hyperparameter whose value they lack.
    needs: Vec<(Site, usize)>,
}

/// Where a rule is checked: the call and the rule.
type Site = (Span, Span);

/// What one walk found: whether it finished, the broken rules, and the rules that lack a
/// value (with the first hyperparameter they lack).
type WalkOutcome = (Result<(), Stop>, Vec<Violation>, Vec<(Site, usize)>);

impl Walker<'_> {
    fn values(&mut self, e: &ast::Expr, env: &Env) -> Result<Vec<Val>, Stop> {
        Ok(dedup(
            self.ev.value(e, env)?.into_iter().map(|(v, _)| v).collect(),
        ))
    }

    fn walk(&mut self, e: &ast::Expr, env: &Env, w: Vec<Val>) -> Result<Vec<Val>, Stop> {
        if !self.ev.globals.spend() {
            return Err(Stop::Unavailable(
                "the graph expands too much".into(),
                e.span,
            ));
        }
        self.depth += 1;
        if self.depth > 192 {
            self.depth -= 1;
            return Err(Stop::Unavailable(
                "expansion nests too deeply".into(),
                e.span,
            ));
        }
        let r = self.walk_inner(e, env, w);
        self.depth -= 1;
        r
    }

    fn walk_inner(&mut self, e: &ast::Expr, env: &Env, w: Vec<Val>) -> Result<Vec<Val>, Stop> {
        let span = e.span;
        match &e.kind {
            ExprKind::Binary(BinOp::Seq, l, r) => {
                let w1 = self.walk(l, env, w)?;
                self.walk(r, env, w1)
            }
            ExprKind::Block(stmts) => {
                let env = env.with("input", Binding::Tensor(w.clone()));
                self.block(stmts, 0, &env, w)
            }
            ExprKind::Repeat(count, body) => {
                let once = self.walk(body, env, w.clone())?;
                if dedup(once.clone()) == dedup(w.clone()) {
                    return Ok(w);
                }
                let mut counts = Vec::new();
                for v in self.values(count, env)? {
                    if let Val::Int(k) = self.ev.force(&v, count.span)? {
                        counts.push(k);
                    }
                }
                let max = counts.iter().copied().max().unwrap_or(0).clamp(0, 16);
                let mut acc = if counts.contains(&0) {
                    w.clone()
                } else {
                    Vec::new()
                };
                let mut cur = w;
                for i in 1..=max {
                    cur = self.walk(body, env, cur)?;
                    if counts.contains(&i) || i == 16 {
                        acc.extend(cur.iter().cloned());
                    }
                }
                Ok(dedup(acc))
            }
            ExprKind::Optional(body) => {
                let mut out = self.walk(body, env, w.clone())?;
                out.extend(w);
                Ok(dedup(out))
            }
            ExprKind::Residual(body) => {
                let after = self.walk(body, env, w.clone())?;
                if known(&w) && known(&after) && dedup(after.clone()) != dedup(w.clone()) {
                    self.out.push(Violation {
                        span,
                        rule: "residual keeps the width".into(),
                        witness: vec![("width in".into(), list(&w)), ("width out".into(), list(&after))],
                        help: "the body of a residual connection must end with the width it starts with".into(),
                    });
                }
                Ok(w)
            }
            ExprKind::If(c, t, o) => {
                let mut out = Vec::new();
                for v in self.values(c, env)? {
                    match self.ev.force(&v, c.span)? {
                        Val::Bool(true) => out.extend(self.walk(t, env, w.clone())?),
                        _ => match o {
                            Some(o) => out.extend(self.walk(o, env, w.clone())?),
                            None => out.extend(w.iter().cloned()),
                        },
                    }
                }
                Ok(dedup(out))
            }
            ExprKind::Name(id) => match env.get(&id.name).cloned() {
                Some(Binding::Module(t)) => self.walk(&t.expr, &t.env, w),
                Some(Binding::Tensor(tw)) => Ok(tw),
                Some(_) => Ok(w),
                None => self.call(id, &[], env, w, span),
            },
            ExprKind::Call(callee, args) => {
                let ExprKind::Name(id) = &callee.kind else {
                    return Ok(w);
                };
                match id.name.as_str() {
                    "choice" => {
                        let mut out = Vec::new();
                        for a in args {
                            out.extend(self.walk(&a.value, env, w.clone())?);
                        }
                        Ok(dedup(out))
                    }
                    "concat" | "add" => {
                        let mut parts = Vec::new();
                        for a in args {
                            parts.push(self.walk(&a.value, env, w.clone())?);
                        }
                        if parts.iter().any(|p| !known(p)) {
                            return Ok(vec![Val::Opaque(None)]);
                        }
                        if id.name == "add" {
                            let first = dedup(parts[0].clone());
                            if parts.iter().any(|p| dedup(p.clone()) != first) || first.len() > 1 {
                                let widths: Vec<String> = parts.iter().map(|p| list(p)).collect();
                                self.out.push(Violation {
                                    span,
                                    rule: "add joins tensors of equal width".into(),
                                    witness: vec![("widths".into(), widths.join(" and "))],
                                    help: "make the branches end with the same width, or join them with `concat`".into(),
                                });
                            }
                            return Ok(first);
                        }
                        let mut sums: Vec<Val> = vec![Val::Int(0)];
                        for p in &parts {
                            let mut next = Vec::new();
                            for a in &sums {
                                for b in p {
                                    next.push(super::eval::binary(BinOp::Add, a, b));
                                }
                            }
                            sums = dedup(next);
                            if sums.len() > MAX_COMBOS {
                                return Ok(vec![Val::Opaque(None)]);
                            }
                        }
                        Ok(sums)
                    }
                    _ => self.call(id, args, env, w, span),
                }
            }
            _ => Ok(w),
        }
    }

    fn block(
        &mut self,
        stmts: &[Stmt],
        idx: usize,
        env: &Env,
        flow: Vec<Val>,
    ) -> Result<Vec<Val>, Stop> {
        let Some(stmt) = stmts.get(idx) else {
            return Ok(flow);
        };
        match stmt {
            Stmt::Require(_) => self.block(stmts, idx + 1, env, flow),
            Stmt::Expr(e) => {
                let next = self.walk(e, env, flow)?;
                self.block(stmts, idx + 1, env, next)
            }
            Stmt::Let(l) => {
                if self.ev.is_tensor(&l.value, env) {
                    let tw = self.walk(&l.value, env, flow.clone())?;
                    self.block(
                        stmts,
                        idx + 1,
                        &env.with(&l.name.name, Binding::Tensor(tw)),
                        flow,
                    )
                } else if self.ev.is_module(&l.value, env) {
                    let t = Template {
                        expr: Rc::new(l.value.clone()),
                        env: env.clone(),
                    };
                    self.block(
                        stmts,
                        idx + 1,
                        &env.with(&l.name.name, Binding::Module(t)),
                        flow,
                    )
                } else {
                    let mut out = Vec::new();
                    for v in self.values(&l.value, env)? {
                        out.extend(self.block(
                            stmts,
                            idx + 1,
                            &env.with(&l.name.name, Binding::Value(v)),
                            flow.clone(),
                        )?);
                    }
                    Ok(dedup(out))
                }
            }
        }
    }

    fn call(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Arg],
        env: &Env,
        w: Vec<Val>,
        span: Span,
    ) -> Result<Vec<Val>, Stop> {
        let checked = self.ev.checked;
        let Some(r) = checked.lookup(env.file(), &id.name) else {
            return Ok(w);
        };
        let params: &[ast::FnParam] = match checked.item(r) {
            Item::Fn(def) => &def.params,
            Item::Builtin(b) if b.kind == BuiltinKind::Module => &b.params,
            _ => return Ok(w),
        };
        // The argument (or default) expression of each parameter, with its environment.
        let mut bound: Vec<Option<(&ast::Expr, Env)>> = params
            .iter()
            .map(|p| {
                p.default
                    .as_ref()
                    .map(|d| (d, Env::new(r.file, Vec::new(), None)))
            })
            .collect();
        for (slot, a) in bound.iter_mut().zip(ast::match_args(params, args)) {
            if let Some(a) = a {
                *slot = Some((&a.value, env.clone()));
            }
        }
        match checked.item(r) {
            Item::Fn(def) => {
                let mut fn_env = Env::new(r.file, Vec::new(), None);
                let mut combos: Vec<Env> = Vec::new();
                // Module and tensor parameters bind once; value parameters enumerate.
                let mut value_params: Vec<(String, Vec<Val>)> = Vec::new();
                for (p, b) in params.iter().zip(&bound) {
                    let Some((e, e_env)) = b else {
                        fn_env = fn_env.with(&p.name.name, Binding::Value(Val::Opaque(None)));
                        continue;
                    };
                    match p.ty.name.as_str() {
                        "module" => {
                            fn_env = fn_env.with(
                                &p.name.name,
                                Binding::Module(Template {
                                    expr: Rc::new((*e).clone()),
                                    env: e_env.clone(),
                                }),
                            )
                        }
                        "tensor" => {
                            let tw = self.walk(e, e_env, w.clone())?;
                            fn_env = fn_env.with(&p.name.name, Binding::Tensor(tw));
                        }
                        _ => value_params.push((p.name.name.clone(), self.values(e, e_env)?)),
                    }
                }
                combos.push(fn_env);
                for (name, vals) in value_params {
                    let mut next = Vec::new();
                    for c in &combos {
                        for v in &vals {
                            next.push(c.with(&name, Binding::Value(v.clone())));
                        }
                    }
                    combos = next;
                    if combos.len() > MAX_COMBOS {
                        return Ok(vec![Val::Opaque(None)]);
                    }
                }
                let mut out = Vec::new();
                for c in combos {
                    out.extend(self.walk(&def.body, &c, w.clone())?);
                }
                Ok(dedup(out))
            }
            Item::Builtin(b) => {
                let mut combos: Vec<Vec<(String, Val)>> = vec![Vec::new()];
                for (p, bd) in params.iter().zip(&bound) {
                    let vals = match bd {
                        Some((e, e_env)) => self.values(e, e_env)?,
                        None => vec![Val::Opaque(None)],
                    };
                    let mut next = Vec::new();
                    for c in &combos {
                        for v in &vals {
                            let mut c = c.clone();
                            c.push((p.name.name.clone(), v.clone()));
                            next.push(c);
                        }
                    }
                    combos = next;
                    if combos.len() * w.len().max(1) > MAX_COMBOS {
                        return Ok(vec![Val::Opaque(None)]);
                    }
                }
                let mut out = Vec::new();
                for c in &combos {
                    for width in &w {
                        let mut vars: Vec<(String, Binding)> = c
                            .iter()
                            .map(|(k, v)| (k.clone(), Binding::Value(v.clone())))
                            .collect();
                        vars.push(("width".into(), Binding::Value(width.clone())));
                        let b_env = Env::new(r.file, vars, None);
                        for req in &b.requires {
                            for v in self.values(&req.cond, &b_env)? {
                                match v {
                                    Val::Bool(false) => {
                                        let rule = checked.program.sources.snippet(req.cond.span);
                                        if !self
                                            .out
                                            .iter()
                                            .any(|x| x.span == span && x.rule == rule)
                                        {
                                            let mut witness: Vec<(String, String)> = c
                                                .iter()
                                                .filter(|(k, v)| {
                                                    !matches!(v, Val::Opaque(_))
                                                        && rule.contains(k.as_str())
                                                })
                                                .map(|(k, v)| {
                                                    (format!("{}.{k}", id.name), v.to_string())
                                                })
                                                .collect();
                                            if rule.contains("width")
                                                && !matches!(width, Val::Opaque(_))
                                            {
                                                witness.push(("width".into(), width.to_string()));
                                            }
                                            let help = req.message.clone().map_or_else(
                                                || format!("change the arguments of `{}`, or add a `require` to the space that excludes these values", id.name),
                                                |m| format!("{m}; add a `require` to the space that excludes these values"),
                                            );
                                            self.out.push(Violation {
                                                span,
                                                rule,
                                                witness,
                                                help,
                                            });
                                        }
                                    }
                                    Val::Opaque(Some(g)) => {
                                        let site = (span, req.cond.span);
                                        if !self.needs.iter().any(|(s, _)| *s == site) {
                                            self.needs.push((site, g));
                                        }
                                    }
                                    _ => {}
                                }
                            }
                        }
                        match &b.out_width {
                            Some(ow) => out.extend(self.values(ow, &b_env)?),
                            None => out.push(width.clone()),
                        }
                    }
                }
                Ok(dedup(out))
            }
            _ => Ok(w),
        }
    }
}

/// Whether `name` occurs in `text` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        !word(before) && !word(after)
    })
}

fn list(w: &[Val]) -> String {
    let s: Vec<String> = w.iter().map(|v| v.to_string()).collect();
    if s.len() == 1 {
        s[0].clone()
    } else {
        format!("{{{}}}", s.join(", "))
    }
}
