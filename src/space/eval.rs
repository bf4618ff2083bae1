//! Evaluation of a space under a partial assignment of its named hyperparameters, for
//! counting: values where the structure needs them, and the number of assignments of every
//! inline choice (a [`Weight`]) everywhere else.
//!
//! Functions are expanded at each call site; a module argument is a template, so each use
//! brings its own copies of the choices inside it; a value argument or `let` is evaluated
//! once, so its choice is shared by all its uses.

use std::cell::{Cell, OnceCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::weight::Weight;
use crate::check::{Checked, SpaceInfo};
use crate::diag::{FileId, Span};
use crate::syntax::ast::{self, BinOp, BuiltinKind, ExprKind, Item, Stmt, UnOp};

/// A value of the language, as far as counting needs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// An enum value, with its payload.
    Sym(String, Vec<(String, Val)>),
    /// A value not known here: of the named hyperparameter with this index (whose value
    /// the counter can supply), or of data or a continuous hyperparameter (`None`).
    Opaque(Option<usize>),
}

/// Why evaluation stopped.
#[derive(Clone, Debug)]
pub enum Stop {
    /// The value of hyperparameter `usize` is needed.
    Need(usize),
    /// The structure depends on something that cannot be enumerated.
    Unavailable(String, Span),
}

/// A distribution: each value with the weight of the assignments that give it.
pub type Dist = Vec<(Val, Weight)>;

const MAX_DIST: usize = 100_000;
const MAX_DEPTH: usize = 192;

#[derive(Clone)]
pub(crate) enum Binding {
    Global(usize),
    SpaceLet(usize),
    Value(Val),
    Module(Template),
    /// A tensor, with the feature widths it may have (for shape checks).
    Tensor(Vec<Val>),
}

#[derive(Clone)]
pub(crate) struct Template {
    pub(crate) expr: Rc<ast::Expr>,
    pub(crate) env: Env,
}

/// A chain of scopes.
#[derive(Clone)]
pub struct Env {
    frame: Rc<Frame>,
}

struct Frame {
    vars: Vec<(String, Binding)>,
    /// Name to position in `vars`, for large frames (the space's params and lets).
    index: Option<HashMap<String, usize>>,
    parent: Option<Env>,
    file: FileId,
}

impl Env {
    pub(crate) fn new(file: FileId, vars: Vec<(String, Binding)>, parent: Option<Env>) -> Env {
        let index = (vars.len() > 8).then(|| {
            vars.iter()
                .enumerate()
                .map(|(i, (n, _))| (n.clone(), i))
                .collect()
        });
        Env {
            frame: Rc::new(Frame {
                vars,
                index,
                parent,
                file,
            }),
        }
    }

    pub(crate) fn with(&self, name: &str, b: Binding) -> Env {
        Env::new(
            self.frame.file,
            vec![(name.to_string(), b)],
            Some(self.clone()),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Binding> {
        let mut env = self;
        loop {
            let found = match &env.frame.index {
                Some(index) => index.get(name).map(|i| &env.frame.vars[*i].1),
                None => env
                    .frame
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, b)| b),
            };
            if let Some(b) = found {
                return Some(b);
            }
            env = env.frame.parent.as_ref()?;
        }
    }

    pub(crate) fn file(&self) -> FileId {
        self.frame.file
    }
}

/// What the evaluator knows about the named hyperparameters.
pub struct Globals {
    /// The discrete values of each param (`None` for continuous ones).
    pub values: Vec<Option<Vec<Val>>>,
    /// The activity bit of each param (0 when it is always active).
    pub bits: Vec<u64>,
    /// Whether each param is a variable of the elimination (its value may be asked for).
    pub is_var: Vec<bool>,
    /// Evaluation steps left before giving up (functions that call others twice, nested
    /// repeats: expansion can grow exponentially with the size of the program).
    budget: Cell<u64>,
    /// The space's environment, built once.
    env: OnceCell<Env>,
}

/// Evaluation steps one count (or one shape check) may take.
const BUDGET: u64 = 2_000_000;

impl Globals {
    /// Facts about `n` params, with the full evaluation budget.
    pub fn new(values: Vec<Option<Vec<Val>>>, bits: Vec<u64>, is_var: Vec<bool>) -> Globals {
        Globals {
            values,
            bits,
            is_var,
            budget: Cell::new(BUDGET),
            env: OnceCell::new(),
        }
    }

    /// Spends one evaluation step; `false` once the budget is gone.
    pub fn spend(&self) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(1));
        left > 0
    }
}

/// An evaluator for one space under one partial assignment `sigma` (an index into the
/// param's values; one past the end means "inactive").
pub struct Eval<'a> {
    /// The checked program.
    pub checked: &'a Checked,
    /// The space.
    pub space: &'a SpaceInfo,
    /// The params' facts.
    pub globals: &'a Globals,
    /// The assignment.
    pub sigma: &'a [Option<usize>],
    depth: usize,
    /// Weights of function bodies already expanded under this assignment, by function and
    /// bound arguments; the templates in a key are kept alive so their addresses stay
    /// unique.
    memo: HashMap<MemoKey, (Weight, Vec<Template>)>,
}

/// A function and its bound arguments, as a memo key.
#[derive(Hash, PartialEq, Eq)]
struct MemoKey {
    def: usize,
    parts: Vec<KeyPart>,
}

#[derive(Hash, PartialEq, Eq)]
enum KeyPart {
    Value(ValKey),
    /// A template: its expression and environment, by address (kept alive by the memo).
    Module(usize, usize),
    Tensor(Vec<ValKey>),
    Unbound,
}

/// A [`Val`] that can be hashed: floats by their bits.
#[derive(Hash, PartialEq, Eq)]
enum ValKey {
    Int(i64),
    Float(u64),
    Bool(bool),
    Str(String),
    Sym(String, Vec<(String, ValKey)>),
    Opaque(Option<usize>),
}

impl ValKey {
    fn of(v: &Val) -> ValKey {
        match v {
            Val::Int(x) => ValKey::Int(*x),
            Val::Float(x) => ValKey::Float(x.to_bits()),
            Val::Bool(b) => ValKey::Bool(*b),
            Val::Str(s) => ValKey::Str(s.clone()),
            Val::Sym(n, p) => ValKey::Sym(
                n.clone(),
                p.iter().map(|(k, x)| (k.clone(), ValKey::of(x))).collect(),
            ),
            Val::Opaque(o) => ValKey::Opaque(*o),
        }
    }
}

fn one(v: Val) -> Dist {
    vec![(v, Weight::one())]
}

impl<'a> Eval<'a> {
    /// An evaluator for `sigma`.
    pub fn new(
        checked: &'a Checked,
        space: &'a SpaceInfo,
        globals: &'a Globals,
        sigma: &'a [Option<usize>],
    ) -> Self {
        Eval {
            checked,
            space,
            globals,
            sigma,
            depth: 0,
            memo: HashMap::new(),
        }
    }

    /// The environment of the space: its params and lets.
    pub fn space_env(&self) -> Env {
        self.globals
            .env
            .get_or_init(|| {
                let mut vars: Vec<(String, Binding)> = Vec::new();
                for (i, p) in self.space.params.iter().enumerate() {
                    vars.push((p.name.clone(), Binding::Global(i)));
                }
                for (i, l) in self.space.lets.iter().enumerate() {
                    vars.push((l.name.clone(), Binding::SpaceLet(i)));
                }
                Env::new(self.space.file, vars, None)
            })
            .clone()
    }

    fn global(&self, i: usize) -> Result<Dist, Stop> {
        let bit = self.globals.bits[i];
        let w = if bit == 0 {
            Weight::one()
        } else {
            Weight::tag(bit)
        };
        match (self.sigma[i], &self.globals.values[i]) {
            (Some(k), Some(vals)) if k < vals.len() => Ok(vec![(vals[k].clone(), w)]),
            (Some(_), _) => Ok(Vec::new()),
            (None, Some(_)) if bit != 0 && self.globals.is_var[i] => Err(Stop::Need(i)),
            (None, Some(_)) => Ok(vec![(Val::Opaque(Some(i)), w)]),
            (None, None) => Ok(vec![(Val::Opaque(None), w)]),
        }
    }

    /// Forces a value the structure depends on.
    pub(crate) fn force(&self, v: &Val, span: Span) -> Result<Val, Stop> {
        match v {
            Val::Opaque(Some(i)) => Err(Stop::Need(*i)),
            Val::Opaque(None) => Err(Stop::Unavailable(
                "the structure depends on data or on a continuous hyperparameter".into(),
                span,
            )),
            other => Ok(other.clone()),
        }
    }

    /// The distribution of values of `e`.
    pub fn value(&mut self, e: &ast::Expr, env: &Env) -> Result<Dist, Stop> {
        if !self.globals.spend() {
            return Err(Stop::Unavailable(
                "the graph expands too much to count".into(),
                e.span,
            ));
        }
        let d = match &e.kind {
            ExprKind::Int(v) => one(Val::Int(*v)),
            ExprKind::Float(v) => one(Val::Float(*v)),
            ExprKind::Bool(v) => one(Val::Bool(*v)),
            ExprKind::Str(s) => one(Val::Str(s.clone())),
            ExprKind::Data | ExprKind::Member(..) => one(Val::Opaque(None)),
            ExprKind::Name(id) => match env.get(&id.name).cloned() {
                Some(Binding::Global(i)) => self.global(i)?,
                Some(Binding::SpaceLet(i)) => {
                    let l = &self.space.lets[i];
                    let space_env = self.space_env();
                    self.nested(|ev| ev.value(&l.value, &space_env), e.span)?
                }
                Some(Binding::Value(v)) => one(v),
                Some(Binding::Module(_)) | Some(Binding::Tensor(_)) => one(Val::Opaque(None)),
                None => one(Val::Sym(id.name.clone(), Vec::new())),
            },
            ExprKind::Unary(op, inner) => {
                let d = self.value(inner, env)?;
                d.into_iter().map(|(v, w)| (unary(*op, v), w)).collect()
            }
            ExprKind::Binary(op, l, r) => {
                let dl = self.value(l, env)?;
                let dr = self.value(r, env)?;
                let mut out = Vec::with_capacity(dl.len() * dr.len());
                for (a, wa) in &dl {
                    for (b, wb) in &dr {
                        out.push((binary(*op, a, b), wa.mul(wb)));
                    }
                }
                out
            }
            ExprKind::If(c, t, o) => {
                let mut out = Vec::new();
                for (cv, cw) in self.value(c, env)? {
                    let branch = match self.force(&cv, c.span)? {
                        Val::Bool(true) => Some(t),
                        _ => o.as_ref(),
                    };
                    if let Some(b) = branch {
                        for (v, w) in self.value(b, env)? {
                            out.push((v, cw.mul(&w)));
                        }
                    }
                }
                out
            }
            ExprKind::Block(stmts) => {
                let mut env = env.clone();
                let mut result = one(Val::Opaque(None));
                for s in stmts {
                    match s {
                        Stmt::Let(l) => {
                            let d = self.value(&l.value, &env)?;
                            if d.len() != 1 {
                                return Err(Stop::Unavailable(
                                    "a choice inside a value block".into(),
                                    l.span,
                                ));
                            }
                            env = env.with(&l.name.name, Binding::Value(d[0].0.clone()));
                        }
                        Stmt::Expr(x) => result = self.value(x, &env)?,
                        Stmt::Require(_) => {}
                    }
                }
                result
            }
            ExprKind::Call(callee, args) => self.call_value(callee, args, env, e.span)?,
            ExprKind::Repeat(..) | ExprKind::Optional(..) | ExprKind::Residual(..) => {
                one(Val::Opaque(None))
            }
        };
        if d.len() > MAX_DIST {
            return Err(Stop::Unavailable(
                "too many combinations of inline choices in one expression".into(),
                e.span,
            ));
        }
        Ok(d)
    }

    pub(crate) fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Stop>,
        span: Span,
    ) -> Result<T, Stop> {
        if self.depth > MAX_DEPTH {
            return Err(Stop::Unavailable("expansion nests too deeply".into(), span));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn call_value(
        &mut self,
        callee: &ast::Expr,
        args: &[ast::Arg],
        env: &Env,
        span: Span,
    ) -> Result<Dist, Stop> {
        let ExprKind::Name(id) = &callee.kind else {
            return Ok(one(Val::Opaque(None)));
        };
        let name = id.name.as_str();
        match name {
            "choice" => {
                let mut out = Vec::new();
                for a in args {
                    out.extend(self.value(&a.value, env)?);
                }
                return Ok(out);
            }
            "range" => {
                let vals: Vec<i64> = args
                    .iter()
                    .filter_map(|a| match self.value(&a.value, env).ok()?.first()?.0 {
                        Val::Int(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                if let [lo, hi, rest @ ..] = vals.as_slice() {
                    let step = rest.first().copied().unwrap_or(1).max(1);
                    // Distances as unsigned: the widest ranges do not overflow.
                    let n = if hi >= lo {
                        usize::try_from(hi.abs_diff(*lo) / step.unsigned_abs())
                            .map_or(usize::MAX, |d| d.saturating_add(1))
                    } else {
                        0
                    };
                    if n > MAX_DIST {
                        return Err(Stop::Unavailable(
                            "an inline `range` with too many values".into(),
                            span,
                        ));
                    }
                    return Ok((0..n)
                        .map(|k| (Val::Int(lo + k as i64 * step), Weight::one()))
                        .collect());
                }
                return Ok(one(Val::Opaque(None)));
            }
            "uniform" | "log_uniform" => return Ok(one(Val::Opaque(None))),
            "min" | "max" | "abs" | "int" | "float" | "log2" | "sqrt" => {
                let mut acc: Dist = vec![(Val::Opaque(None), Weight::one())];
                let mut first = true;
                for a in args {
                    let d = self.value(&a.value, env)?;
                    let mut next = Vec::new();
                    for (x, wx) in &acc {
                        for (y, wy) in &d {
                            let v = if first {
                                math1(name, y)
                            } else {
                                math2(name, x, y)
                            };
                            next.push((v, wx.mul(wy)));
                        }
                    }
                    acc = next;
                    first = false;
                }
                return Ok(acc);
            }
            _ => {}
        }
        // A function or builtin called for its value (metrics, optimizers) is opaque; an
        // enum variant carries its payload.
        if let Some(r) = self.checked.lookup(env.file(), name) {
            if !matches!(self.checked.item(r), Item::Enum(_)) {
                return Ok(one(Val::Opaque(None)));
            }
        }
        let mut acc: Dist = vec![(Val::Sym(name.to_string(), Vec::new()), Weight::one())];
        for (k, a) in args.iter().enumerate() {
            let key = a
                .name
                .as_ref()
                .map_or_else(|| k.to_string(), |n| n.name.clone());
            let d = self.value(&a.value, env)?;
            let mut next = Vec::with_capacity(acc.len() * d.len());
            for (x, wx) in &acc {
                for (y, wy) in &d {
                    let mut x = x.clone();
                    if let Val::Sym(_, payload) = &mut x {
                        payload.push((key.clone(), y.clone()));
                    }
                    next.push((x, wx.mul(wy)));
                }
            }
            acc = next;
        }
        Ok(acc)
    }

    fn total(&mut self, e: &ast::Expr, env: &Env) -> Result<Weight, Stop> {
        let d = self.value(e, env)?;
        Ok(d.iter().fold(Weight::zero(), |acc, (_, w)| acc.add(w)))
    }

    pub(crate) fn is_module(&self, e: &ast::Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Repeat(..)
            | ExprKind::Optional(..)
            | ExprKind::Residual(..)
            | ExprKind::Block(_) => true,
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_module(l, env),
            ExprKind::If(_, t, _) => self.is_module(t, env) || self.is_tensor(t, env),
            ExprKind::Name(id) => match env.get(&id.name) {
                Some(Binding::Module(_)) => true,
                Some(_) => false,
                None => self
                    .checked
                    .lookup(env.file(), &id.name)
                    .is_some_and(|r| is_module_item(self.checked.item(r))),
            },
            ExprKind::Call(c, args) => match &c.kind {
                ExprKind::Name(id) if id.name == "choice" => {
                    args.first().is_some_and(|a| self.is_module(&a.value, env))
                }
                ExprKind::Name(id) => self
                    .checked
                    .lookup(env.file(), &id.name)
                    .is_some_and(|r| is_module_item(self.checked.item(r))),
                _ => false,
            },
            _ => false,
        }
    }

    pub(crate) fn is_tensor(&self, e: &ast::Expr, env: &Env) -> bool {
        match &e.kind {
            ExprKind::Name(id) => matches!(env.get(&id.name), Some(Binding::Tensor(_))),
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_tensor(l, env),
            ExprKind::Call(c, _) => {
                matches!(&c.kind, ExprKind::Name(id) if id.name == "concat" || id.name == "add")
            }
            _ => false,
        }
    }

    /// The weight of a graph expression (module or tensor): how many assignments of the
    /// inline choices inside it there are.
    pub fn graph(&mut self, e: &ast::Expr, env: &Env) -> Result<Weight, Stop> {
        self.nested(|ev| ev.graph_inner(e, env), e.span)
    }

    fn graph_inner(&mut self, e: &ast::Expr, env: &Env) -> Result<Weight, Stop> {
        if !self.globals.spend() {
            return Err(Stop::Unavailable(
                "the graph expands too much to count".into(),
                e.span,
            ));
        }
        match &e.kind {
            ExprKind::Binary(BinOp::Seq, l, r) => Ok(self.graph(l, env)?.mul(&self.graph(r, env)?)),
            ExprKind::Block(stmts) => {
                let env = env.with("input", Binding::Tensor(Vec::new()));
                self.block(stmts, 0, &env)
            }
            ExprKind::Repeat(count, body) => {
                let body_w = self.graph(body, env)?;
                let mut acc = Weight::zero();
                for (v, w) in self.value(count, env)? {
                    let n = match self.force(&v, count.span)? {
                        Val::Int(n) if n >= 0 => n as u64,
                        _ => {
                            return Err(Stop::Unavailable(
                                "a repeat count that is not a non-negative integer".into(),
                                count.span,
                            ))
                        }
                    };
                    if body_w.log2_bound().saturating_mul(n) > super::weight::MAX_COUNT_BITS {
                        return Err(Stop::Unavailable(
                            format!(
                                "more than 2^{} architectures",
                                super::weight::MAX_COUNT_BITS
                            ),
                            e.span,
                        ));
                    }
                    acc = acc.add(&w.mul(&body_w.pow(n)));
                    if acc.terms.len() > super::weight::MAX_TERMS {
                        return Err(Stop::Unavailable(
                            "too many conditionally active hyperparameters".into(),
                            e.span,
                        ));
                    }
                }
                Ok(acc)
            }
            ExprKind::Optional(body) => Ok(Weight::one().add(&self.graph(body, env)?)),
            ExprKind::Residual(body) => self.graph(body, env),
            ExprKind::If(c, t, o) => {
                let mut acc = Weight::zero();
                for (cv, cw) in self.value(c, env)? {
                    let w = match self.force(&cv, c.span)? {
                        Val::Bool(true) => self.graph(t, env)?,
                        _ => match o {
                            Some(o) => self.graph(o, env)?,
                            None => Weight::one(),
                        },
                    };
                    acc = acc.add(&cw.mul(&w));
                }
                Ok(acc)
            }
            ExprKind::Name(id) => match env.get(&id.name).cloned() {
                Some(Binding::Module(t)) => self.graph(&t.expr, &t.env),
                Some(_) => Ok(Weight::one()),
                None => match self
                    .checked
                    .lookup(env.file(), &id.name)
                    .map(|r| (r, self.checked.item(r)))
                {
                    Some((r, Item::Fn(def))) => self.call_fn(def, r.file, &[], env),
                    _ => Ok(Weight::one()),
                },
            },
            ExprKind::Call(callee, args) => {
                let ExprKind::Name(id) = &callee.kind else {
                    return Ok(Weight::one());
                };
                match id.name.as_str() {
                    "choice" => {
                        let mut acc = Weight::zero();
                        for a in args {
                            acc = acc.add(&self.graph(&a.value, env)?);
                        }
                        Ok(acc)
                    }
                    "concat" | "add" => Ok(Weight::one()),
                    name => match self
                        .checked
                        .lookup(env.file(), name)
                        .map(|r| (r, self.checked.item(r)))
                    {
                        Some((r, Item::Fn(def))) => self.call_fn(def, r.file, args, env),
                        _ => {
                            let mut acc = Weight::one();
                            for a in args {
                                acc = acc.mul(&self.total(&a.value, env)?);
                            }
                            Ok(acc)
                        }
                    },
                }
            }
            _ => Ok(Weight::one()),
        }
    }

    fn block(&mut self, stmts: &[Stmt], idx: usize, env: &Env) -> Result<Weight, Stop> {
        let Some(stmt) = stmts.get(idx) else {
            return Ok(Weight::one());
        };
        match stmt {
            Stmt::Require(_) => self.block(stmts, idx + 1, env),
            Stmt::Expr(e) => Ok(self.graph(e, env)?.mul(&self.block(stmts, idx + 1, env)?)),
            Stmt::Let(l) => {
                if self.is_tensor(&l.value, env) {
                    let w = self.graph(&l.value, env)?;
                    let env = env.with(&l.name.name, Binding::Tensor(Vec::new()));
                    Ok(w.mul(&self.block(stmts, idx + 1, &env)?))
                } else if self.is_module(&l.value, env) {
                    let t = Template {
                        expr: Rc::new(l.value.clone()),
                        env: env.clone(),
                    };
                    self.block(stmts, idx + 1, &env.with(&l.name.name, Binding::Module(t)))
                } else {
                    let mut acc = Weight::zero();
                    for (v, w) in self.value(&l.value, env)? {
                        let env = env.with(&l.name.name, Binding::Value(v));
                        acc = acc.add(&w.mul(&self.block(stmts, idx + 1, &env)?));
                    }
                    Ok(acc)
                }
            }
        }
    }

    fn call_fn(
        &mut self,
        def: &ast::FnDef,
        file: FileId,
        args: &[ast::Arg],
        env: &Env,
    ) -> Result<Weight, Stop> {
        let bound: Vec<Option<&ast::Expr>> = ast::match_args(&def.params, args)
            .into_iter()
            .map(|a| a.map(|a| &a.value))
            .collect();
        let fn_env = Env::new(file, Vec::new(), None);
        self.bind_params(def, &bound, 0, env, fn_env)
    }

    fn bind_params(
        &mut self,
        def: &ast::FnDef,
        bound: &[Option<&ast::Expr>],
        k: usize,
        caller: &Env,
        acc_env: Env,
    ) -> Result<Weight, Stop> {
        let Some(p) = def.params.get(k) else {
            return self.expand(def, &acc_env);
        };
        let (expr, expr_env) = match bound[k] {
            Some(e) => (e, caller.clone()),
            None => match &p.default {
                Some(d) => (d, Env::new(acc_env.file(), Vec::new(), None)),
                None => {
                    return self.bind_params(
                        def,
                        bound,
                        k + 1,
                        caller,
                        acc_env.with(&p.name.name, Binding::Value(Val::Opaque(None))),
                    )
                }
            },
        };
        if p.ty.name == "module" {
            let t = Template {
                expr: Rc::new(expr.clone()),
                env: expr_env,
            };
            return self.bind_params(
                def,
                bound,
                k + 1,
                caller,
                acc_env.with(&p.name.name, Binding::Module(t)),
            );
        }
        if p.ty.name == "tensor" {
            let w = self.graph(expr, &expr_env)?;
            return Ok(w.mul(&self.bind_params(
                def,
                bound,
                k + 1,
                caller,
                acc_env.with(&p.name.name, Binding::Tensor(Vec::new())),
            )?));
        }
        let mut acc = Weight::zero();
        for (v, w) in self.value(expr, &expr_env)? {
            let env = acc_env.with(&p.name.name, Binding::Value(v));
            acc = acc.add(&w.mul(&self.bind_params(def, bound, k + 1, caller, env)?));
        }
        Ok(acc)
    }
}

impl Eval<'_> {
    /// The weight of a function body with its parameters bound in `env`, computed once per
    /// distinct binding: a body sees nothing but its parameters, so equal bindings give
    /// equal weights (functions that call others several times stay linear).
    fn expand(&mut self, def: &ast::FnDef, env: &Env) -> Result<Weight, Stop> {
        let mut key = MemoKey {
            def: def as *const ast::FnDef as usize,
            parts: Vec::with_capacity(def.params.len()),
        };
        let mut keep = Vec::new();
        for p in &def.params {
            key.parts.push(match env.get(&p.name.name) {
                Some(Binding::Value(v)) => KeyPart::Value(ValKey::of(v)),
                Some(Binding::Module(t)) => {
                    keep.push(t.clone());
                    KeyPart::Module(
                        Rc::as_ptr(&t.expr) as usize,
                        Rc::as_ptr(&t.env.frame) as usize,
                    )
                }
                Some(Binding::Tensor(w)) => KeyPart::Tensor(w.iter().map(ValKey::of).collect()),
                _ => KeyPart::Unbound,
            });
        }
        if let Some((w, _)) = self.memo.get(&key) {
            return Ok(w.clone());
        }
        let w = self.graph(&def.body, env)?;
        self.memo.insert(key, (w.clone(), keep));
        Ok(w)
    }
}

/// Whether a top-level item is a module: a builtin module or a function returning one.
pub(crate) fn is_module_item(item: &Item) -> bool {
    match item {
        Item::Fn(f) => f.ret.as_ref().is_none_or(|t| t.name == "module"),
        Item::Builtin(b) => b.kind == BuiltinKind::Module,
        _ => false,
    }
}

fn unary(op: UnOp, v: Val) -> Val {
    match (op, v) {
        (UnOp::Neg, Val::Int(x)) => x.checked_neg().map_or(Val::Opaque(None), Val::Int),
        (UnOp::Neg, Val::Float(x)) => Val::Float(-x),
        (UnOp::Not, Val::Bool(b)) => Val::Bool(!b),
        (_, Val::Opaque(o)) => Val::Opaque(o),
        _ => Val::Opaque(None),
    }
}

fn as_f64(v: &Val) -> Option<f64> {
    match v {
        Val::Int(x) => Some(*x as f64),
        Val::Float(x) => Some(*x),
        _ => None,
    }
}

/// Applies a binary operator; unknown operands give an unknown result.
pub fn binary(op: BinOp, a: &Val, b: &Val) -> Val {
    if let Val::Opaque(o) = a {
        return Val::Opaque(*o);
    }
    if let Val::Opaque(o) = b {
        return Val::Opaque(*o);
    }
    match op {
        BinOp::And | BinOp::Or => match (a, b) {
            (Val::Bool(x), Val::Bool(y)) => {
                Val::Bool(if op == BinOp::And { *x && *y } else { *x || *y })
            }
            _ => Val::Opaque(None),
        },
        BinOp::Eq => Val::Bool(values_equal(a, b)),
        BinOp::Ne => Val::Bool(!values_equal(a, b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => Val::Bool(match op {
                BinOp::Lt => x < y,
                BinOp::Le => x <= y,
                BinOp::Gt => x > y,
                _ => x >= y,
            }),
            _ => Val::Opaque(None),
        },
        _ => match (a, b) {
            (Val::Int(x), Val::Int(y)) => {
                let r = match op {
                    BinOp::Add => x.checked_add(*y),
                    BinOp::Sub => x.checked_sub(*y),
                    BinOp::Mul => x.checked_mul(*y),
                    BinOp::Div => x.checked_div(*y),
                    BinOp::Rem => x.checked_rem(*y),
                    _ => None,
                };
                r.map_or(Val::Opaque(None), Val::Int)
            }
            _ => match (as_f64(a), as_f64(b)) {
                (Some(x), Some(y)) => Val::Float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                    _ => x % y,
                }),
                _ => Val::Opaque(None),
            },
        },
    }
}

fn values_equal(a: &Val, b: &Val) -> bool {
    match (as_f64(a), as_f64(b)) {
        (Some(x), Some(y)) => x == y,
        _ => match (a, b) {
            (Val::Sym(x, _), Val::Sym(y, _)) => x == y,
            _ => a == b,
        },
    }
}

fn math1(name: &str, v: &Val) -> Val {
    match (name, v) {
        (_, Val::Opaque(o)) => Val::Opaque(*o),
        ("abs", Val::Int(x)) => x.checked_abs().map_or(Val::Opaque(None), Val::Int),
        ("abs", Val::Float(x)) => Val::Float(x.abs()),
        ("int", _) => as_f64(v).map_or(Val::Opaque(None), |x| Val::Int(x as i64)),
        ("float", _) => as_f64(v).map_or(Val::Opaque(None), Val::Float),
        ("log2", _) => as_f64(v).map_or(Val::Opaque(None), |x| Val::Float(x.log2())),
        ("sqrt", _) => as_f64(v).map_or(Val::Opaque(None), |x| Val::Float(x.sqrt())),
        ("min" | "max", other) => other.clone(),
        _ => Val::Opaque(None),
    }
}

fn math2(name: &str, a: &Val, b: &Val) -> Val {
    match (a, b) {
        (Val::Opaque(o), _) | (_, Val::Opaque(o)) => Val::Opaque(*o),
        (Val::Int(x), Val::Int(y)) => Val::Int(if name == "min" { *x.min(y) } else { *x.max(y) }),
        _ => match (as_f64(a), as_f64(b)) {
            (Some(x), Some(y)) => Val::Float(if name == "min" { x.min(y) } else { x.max(y) }),
            _ => Val::Opaque(None),
        },
    }
}

impl std::fmt::Display for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Int(v) => write!(f, "{v}"),
            Val::Float(v) => write!(f, "{v}"),
            Val::Bool(v) => write!(f, "{v}"),
            Val::Str(s) => write!(f, "{s:?}"),
            Val::Sym(n, p) if p.is_empty() => write!(f, "{n}"),
            Val::Sym(n, p) => {
                let args: Vec<String> = p.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                write!(f, "{n}({})", args.join(", "))
            }
            Val::Opaque(_) => f.write_str("?"),
        }
    }
}
