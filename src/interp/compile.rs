//! A space compiled once into a program the build runs without looking at the syntax
//! tree: every function call inlined at its call site, every name turned into a slot of
//! one flat frame (or a named param, a dependent value, an enum symbol), every call's
//! arguments matched to their parameters, defaults and the builtin modules' rules
//! prepared, and which expressions are tensors, modules or values decided.
//!
//! The program runs on the same [`Run`] as the tree walker and calls the same pieces for
//! everything an assignment decides (named params, dependent values, decisions and their
//! paths, constraints, nodes, shapes and costs), so it makes the same decisions in the
//! same order, with the same paths, and builds the same architecture; the test
//! `the_compiled_program_builds_what_the_tree_walker_builds` compares the two over every
//! example. It serves full builds only: a frontier probe, whose open hyperparameters
//! halt values half-way, walks the tree. A space the compiler does not cover (a construct
//! that can only be an error, a call nested too deep, a program deeper than a build may
//! nest) keeps the tree walker for every build.
//!
//! The program does not count its nesting as it runs, as the tree walker does on every
//! level: its recursion is as deep as the program, which the compiler bounds, and its
//! only loop, `repeat`, counts each copy's size against the build's limit.

use std::hash::Hasher;
use std::rc::Rc;

use rustc_hash::FxHasher;

use super::{
    arg_path_kind, arith, call_name, coerce_float, const_value, join, math, static_metric, ArgPath,
    Halt, Interp, PathId, Rejection, Rule, Run, Scalar, R, T,
};
use crate::check::types::ItemRef;
use crate::diag::{FileId, Span};
use crate::interp::ir::{Cost, Shape};
use crate::interp::paths::ROOT;
use crate::interp::{ir, metrics, Domain, Name, Pick, Value};
use crate::space::eval::is_module_item;
use crate::syntax::ast::{self, BinOp, BuiltinKind, Expr, ExprKind, Item, Stmt, UnOp};

/// How deep calls may nest in the compiled form (functions inlined into functions).
const MAX_INLINE: usize = 64;

/// How many expressions the compiled form may hold: inlining a function whose module
/// argument is applied twice, inside another such function, doubles the code each level.
const MAX_CODE: usize = 200_000;

/// The compiled space.
pub(super) struct Program<'a> {
    pub(super) graph: G<'a>,
    pub(super) data: Option<V<'a>>,
    /// Whether `data` is the same in every build (no hyperparameter reaches it).
    pub(super) data_constant: bool,
    /// The path of the data source.
    pub(super) data_path: PathId,
    /// Per `train` field: its name, its path, its value.
    pub(super) train: Vec<(Name, PathId, V<'a>)>,
    /// Per space constraint.
    pub(super) requires: Vec<V<'a>>,
    /// Per dependent value, and its path.
    pub(super) lets: Vec<V<'a>>,
    pub(super) let_paths: Vec<PathId>,
    /// Slots of the frame.
    pub(super) frame: usize,
    /// Call sites of builtins whose arguments are the same all through a build.
    pub(super) memo_sites: usize,
    /// Call sites of builtins.
    pub(super) sites: usize,
}

/// How many nodes [`Known`] keeps: a power of two.
pub(super) const KNOWN: usize = 1024;

/// The nodes known from earlier builds ([`Known`]), and per call site how well they
/// serve it. A site whose arguments rarely come back (a continuous value drawn at every
/// call) would pay for the lookup and the keeping at every call and gain nothing, so a
/// site that misses far more often than it hits looks only one call in
/// [`Table::PROBE`]; a hit brings it back.
#[derive(Default)]
pub(super) struct Table {
    entries: Vec<Known>,
    sites: Vec<Score>,
}

/// A call site's record with the table: `score` rises by [`Table::HIT`] on a hit, falls
/// by one on a miss, within `±Table::FLOOR`.
#[derive(Clone, Copy, Default)]
struct Score {
    score: i32,
    calls: u32,
}

impl Table {
    const HIT: i32 = 4;
    const FLOOR: i32 = 64;
    const PROBE: u32 = 32;

    /// Makes the table ready for a program of `sites` builtin call sites.
    pub(super) fn ready(&mut self, sites: usize) {
        if self.entries.is_empty() {
            self.entries = (0..KNOWN)
                .map(|_| Known {
                    site: u32::MAX,
                    ..Known::default()
                })
                .collect();
        }
        if self.sites.len() != sites {
            self.sites = vec![Score::default(); sites];
        }
    }

    /// Whether call site `site` looks its node up this time.
    #[inline]
    fn consult(&mut self, site: u32) -> bool {
        match self.sites.get_mut(site as usize) {
            Some(s) => {
                s.calls = s.calls.wrapping_add(1);
                s.score > -Self::FLOOR || s.calls % Self::PROBE == 0
            }
            None => false,
        }
    }

    /// Records a hit or a miss of `site`.
    #[inline]
    fn record(&mut self, site: u32, hit: bool) {
        if let Some(s) = self.sites.get_mut(site as usize) {
            s.score = match hit {
                true => (s.score + Self::HIT).min(Self::FLOOR),
                false => (s.score - 1).max(-Self::FLOOR),
            };
        }
    }
}

/// A node a builtin call site worked out in full, kept from one build to the next: a
/// site given the same arguments (bit for bit) on the same input shape passes the same
/// rules and gives the same shape, cost and hash bytes, since all three are functions of
/// the arguments and the input shape alone. The table is direct-mapped by a hash of site,
/// input shape and arguments; a node that comes out otherwise (a rule that rejects, an
/// error) is never kept.
#[derive(Default)]
pub(super) struct Known {
    /// The call site (`BuiltinCall::site`); `u32::MAX` in an empty entry.
    site: u32,
    input: Option<Shape>,
    args: Vec<(Name, Value)>,
    shape: Option<Shape>,
    cost: Cost,
    /// Its hash bytes without the input.
    bytes: Vec<u8>,
}

impl Known {
    /// Its shape and cost, when it is site `site`'s node for `input` and `args`.
    #[inline]
    fn hit(&self, site: u32, input: Shape, args: &[(Name, Value)]) -> Option<(Shape, Cost)> {
        if self.site != site || self.input != Some(input) || !same_args(&self.args, args) {
            return None;
        }
        Some((self.shape?, self.cost))
    }
}

/// Where site `site` keeps its node for `input` and `args` in the table of [`Known`]s.
fn known_slot(site: u32, input: &Shape, args: &[(Name, Value)]) -> usize {
    let mut h = FxHasher::default();
    h.write_u32(site);
    match *input {
        Shape::Tokens { len } => h.write_i64(len),
        Shape::Seq { len, width } => {
            h.write_i64(len);
            h.write_i64(width);
        }
        Shape::Image {
            channels,
            height,
            width,
        } => {
            h.write_i64(channels);
            h.write_i64(height);
            h.write_i64(width);
        }
        Shape::Vector { width } => h.write_i64(width),
    }
    for (_, v) in args {
        hash_value(&mut h, v);
    }
    h.finish() as usize & (KNOWN - 1)
}

/// Feeds `v` to `h` for [`known_slot`]: numbers and bare symbols inline, the rest out of
/// line (a string by its length: the comparison that follows reads it in full).
#[inline]
fn hash_value(h: &mut FxHasher, v: &Value) {
    match v {
        Value::Int(x) => h.write_i64(*x),
        Value::Float(x) => h.write_u64(x.to_bits() ^ 1),
        Value::Bool(x) => h.write_u64(u64::from(*x) ^ 2),
        Value::Sym(n, p) if p.is_empty() => h.write_usize(n.id()),
        _ => hash_rare(h, v),
    }
}

#[cold]
fn hash_rare(h: &mut FxHasher, v: &Value) {
    match v {
        Value::Str(s) => h.write_usize(s.len() ^ 3),
        Value::Sym(n, p) => {
            h.write_usize(n.id());
            for (_, x) in p {
                hash_value(h, x);
            }
        }
        _ => h.write_u64(4),
    }
}

/// Whether two argument lists hold the same values bit for bit (their names are the
/// call site's).
fn same_args(a: &[(Name, Value)], b: &[(Name, Value)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((_, x), (_, y))| same_value(x, y))
}

#[inline]
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => same_rare(a, b),
    }
}

/// [`same_value`] of strings and symbols.
#[cold]
fn same_rare(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Sym(n, p), Value::Sym(m, q)) => {
            n == m
                && p.len() == q.len()
                && p.iter()
                    .zip(q)
                    .all(|((k, x), (j, y))| k == j && same_value(x, y))
        }
        _ => false,
    }
}

/// What a builtin call site whose arguments are the same all through a build (see
/// `V::is_fixed_in_build`) last worked out in full in this build: on the same input shape, the
/// same arguments pass the same rules and give the same shape, cost and hash bytes, so
/// the node is copied rather than worked out again.
#[derive(Clone, Copy)]
pub(super) struct Memo {
    input: Shape,
    /// The node made, whose arguments are copied.
    node: u32,
    shape: Shape,
    cost: Cost,
    /// Where its hash bytes start in the build's bytes, and their length without the input.
    at: u32,
    len: u32,
}

/// What a slot of the frame holds while a build runs.
#[derive(Clone, Default)]
pub(super) enum Slot {
    #[default]
    Empty,
    Val(Value),
    Ten(T),
    /// The path a module argument was bound at.
    Path(PathId),
}

/// A value expression.
pub(super) struct V<'a> {
    e: &'a Expr,
    k: VK<'a>,
}

enum VK<'a> {
    /// A literal: no nesting, no path.
    Const(Value),
    Data(&'a ast::Ident),
    Slot(u32),
    Param(usize),
    Let(usize),
    Unary(UnOp, Box<V<'a>>),
    Binary(BinOp, Box<V<'a>>, Box<V<'a>>),
    If(Box<V<'a>>, Box<V<'a>>, Option<Box<V<'a>>>),
    Block(Vec<VStmt<'a>>),
    Choice(Rc<Domain>, Vec<V<'a>>),
    /// `range`, `uniform`, `log_uniform`: the arguments, `q` marked.
    Dist(&'a str, Vec<(bool, V<'a>)>),
    Math(&'a str, Vec<V<'a>>),
    Metric(&'a str),
    /// A symbol, dataset or optimizer with its payload bound to declared parameters
    /// (at the path `here.name`).
    Payload(Name, Binds<'a>),
    /// A symbol of a bare `enum` domain: the payload by position or keyword, each with
    /// the segment of its path.
    BareSym(Name, Vec<(Name, Name, V<'a>)>),
    /// A value function, inlined.
    CallFn(Vec<FnBind<'a>>, Box<V<'a>>, Name),
}

impl V<'_> {
    /// Whether the value is the same in every build: literals, and symbols, data
    /// sources and arithmetic over them, with no hyperparameter, dependent value, name or
    /// call of a function inside.
    fn is_constant(&self) -> bool {
        match &self.k {
            VK::Const(_) => true,
            VK::Unary(_, x) => x.is_constant(),
            VK::Binary(_, l, r) => l.is_constant() && r.is_constant(),
            VK::Payload(_, binds) => binds.args.iter().all(|b| b.code.is_constant()),
            VK::BareSym(_, args) => args.iter().all(|(_, _, v)| v.is_constant()),
            VK::Math(_, args) => args.iter().all(V::is_constant),
            _ => false,
        }
    }

    /// Whether the value is the same all through one build: literals, named params,
    /// dependent values and data fields, and symbols and arithmetic over them, with no
    /// choice, distribution, name or call of a function inside (each of those may differ
    /// from one place of the graph to the next).
    fn is_fixed_in_build(&self) -> bool {
        match &self.k {
            VK::Const(_) | VK::Param(_) | VK::Let(_) | VK::Data(_) => true,
            VK::Unary(_, x) => x.is_fixed_in_build(),
            VK::Binary(_, l, r) => l.is_fixed_in_build() && r.is_fixed_in_build(),
            VK::If(c, t, o) => {
                c.is_fixed_in_build()
                    && t.is_fixed_in_build()
                    && o.as_ref().is_none_or(|o| o.is_fixed_in_build())
            }
            VK::Payload(_, binds) => binds.args.iter().all(|b| b.code.is_fixed_in_build()),
            VK::BareSym(_, args) => args.iter().all(|(_, _, v)| v.is_fixed_in_build()),
            VK::Math(_, args) => args.iter().all(V::is_fixed_in_build),
            _ => false,
        }
    }
}

enum VStmt<'a> {
    Let(u32, Name, V<'a>),
    Expr(V<'a>),
}

/// Arguments bound to a builtin's or variant's declared value parameters.
struct Binds<'a> {
    names: Rc<[Name]>,
    args: Vec<Bind<'a>>,
}

struct Bind<'a> {
    code: V<'a>,
    /// Given: the argument's path; a default is evaluated at the call's path.
    path: Option<AP>,
    float: bool,
}

/// [`ArgPath`] with the parameter's segment as a name.
#[derive(Clone, Copy)]
enum AP {
    Empty,
    Join(Name),
    Here,
}

impl AP {
    fn of(p: ArgPath<'_>) -> AP {
        match p {
            ArgPath::Empty => AP::Empty,
            ArgPath::Join(param) => AP::Join(Name::new(param)),
            ArgPath::Here => AP::Here,
        }
    }
}

/// A function parameter bound at a call.
enum FnBind<'a> {
    /// Module arguments: the call's path, kept for when they are applied.
    Path(u32),
    Tensor(u32, GT<'a>),
    Value(u32, V<'a>, AP, bool),
}

/// A module expression applied to an input.
pub(super) struct G<'a> {
    e: &'a Expr,
    k: GK<'a>,
}

enum GK<'a> {
    Seq(Box<GT<'a>>, Box<G<'a>>),
    Block(Option<u32>, Vec<GStmt<'a>>),
    /// The count, the segment of its path, the body and the body's size in expressions.
    Repeat(Box<V<'a>>, Name, Box<G<'a>>, u64),
    Optional(Box<G<'a>>),
    Residual(Box<G<'a>>),
    If(Box<V<'a>>, Box<GT<'a>>, Option<Box<GT<'a>>>),
    /// A module argument or module `let`: its expression at the path it was bound at.
    Template(u32, Box<G<'a>>),
    TensorName(u32),
    Choice(Rc<Domain>, Vec<G<'a>>),
    Tensor(TC<'a>),
    Call(Box<Call<'a>>),
}

/// A call of a function or builtin module, shown as `shown` in paths (`f`, or `f#2` for
/// the second call of `f` in a block).
struct Call<'a> {
    shown: Name,
    k: CallK<'a>,
}

enum CallK<'a> {
    Fn(Vec<FnBind<'a>>, G<'a>),
    Builtin(BuiltinCall<'a>),
}

struct BuiltinCall<'a> {
    b: &'a ast::Builtin,
    file: FileId,
    name: Name,
    binds: Binds<'a>,
    /// Its shape and cost formula, with the arguments' positions.
    plan: metrics::Plan,
    /// What the hash writes for its nodes.
    bytes: ir::NodeBytes,
    /// Its memo slot, when its arguments are the same all through a build.
    memo: Option<u32>,
    /// Its number among the program's builtin call sites, for [`Known`].
    site: u32,
    rules: Rc<[Option<Rule>]>,
    /// Per rule: whether it mentions `width`; the rejection's text.
    mentions_width: Vec<bool>,
    texts: Vec<String>,
}

enum GStmt<'a> {
    LetTensor(u32, Name, TC<'a>),
    LetModule(u32, Name),
    LetValue(u32, Name, V<'a>),
    Expr(GT<'a>),
    /// `apply_as`: a second call of the same module in a block, nested once, without the
    /// node-count check of an ordinary application.
    ExprAs(&'a Expr, Box<Call<'a>>),
    Require(&'a ast::Require, V<'a>, String),
}

/// Either a tensor expression or a module applied to the current flow.
enum GT<'a> {
    G(G<'a>),
    T(TC<'a>),
}

/// A tensor expression: a named tensor, `x >> f`, `concat(...)`, `add(...)`.
enum TC<'a> {
    Name(u32),
    Seq(Box<TC<'a>>, Box<G<'a>>),
    Join(&'a Expr, Name, &'a str, Vec<GT<'a>>),
}

// ---- the compile-time scope ---------------------------------------------------------

#[derive(Clone)]
enum CB<'a> {
    Val(u32),
    Ten(u32),
    Module(Rc<CTemplate<'a>>),
}

struct CTemplate<'a> {
    expr: &'a Expr,
    env: CEnv<'a>,
    path: u32,
}

#[derive(Clone)]
struct CEnv<'a> {
    head: Option<Rc<CLink<'a>>>,
    file: FileId,
    space: bool,
}

struct CLink<'a> {
    name: &'a str,
    b: CB<'a>,
    next: Option<Rc<CLink<'a>>>,
}

impl<'a> CEnv<'a> {
    fn bare(file: FileId, space: bool) -> CEnv<'a> {
        CEnv {
            head: None,
            file,
            space,
        }
    }

    fn with(&self, name: &'a str, b: CB<'a>) -> CEnv<'a> {
        CEnv {
            head: Some(Rc::new(CLink {
                name,
                b,
                next: self.head.clone(),
            })),
            file: self.file,
            space: self.space,
        }
    }

    fn get(&self, name: &str) -> Option<&CB<'a>> {
        let mut cur = self.head.as_ref();
        while let Some(l) = cur {
            if l.name == name {
                return Some(&l.b);
            }
            cur = l.next.as_ref();
        }
        None
    }
}

struct Compiler<'i, 'a> {
    ip: &'i Interp<'a>,
    slots: u32,
    memo_sites: u32,
    /// Builtin call sites so far.
    sites: u32,
    depth: usize,
    /// Expressions compiled so far.
    size: usize,
    /// How deep the expression being compiled sits in the program, and the deepest so far:
    /// the program's recursion when it runs is as deep, so a program deeper than the
    /// build's nesting limit is not made (the tree walker, which counts its nesting,
    /// builds that space).
    level: usize,
    deepest: usize,
}

/// Compiles the space of `ip`; `None` when the compiled form does not cover it.
pub(super) fn compile<'a>(ip: &Interp<'a>) -> Option<Program<'a>> {
    let space = ip.space;
    let mut c = Compiler {
        ip,
        slots: 0,
        memo_sites: 0,
        sites: 0,
        depth: 0,
        size: 0,
        level: 0,
        deepest: 0,
    };
    let env = CEnv::bare(space.file, true);
    let graph = c.g(space.graph.as_ref()?, &env)?;
    let data = match &space.data {
        Some(e) => Some(c.v(e, &env)?),
        None => None,
    };
    let mut train = Vec::new();
    for f in &space.train {
        train.push((
            ip.name_of(&f.name.name),
            ip.path_id(&join("train", &f.name.name)),
            c.v(&f.value, &env)?,
        ));
    }
    let requires = space
        .requires
        .iter()
        .map(|r| c.v(&r.cond, &env))
        .collect::<Option<_>>()?;
    let lets = space
        .lets
        .iter()
        .map(|l| c.v(&l.value, &env))
        .collect::<Option<_>>()?;
    if c.deepest > super::MAX_DEPTH {
        return None;
    }
    Some(Program {
        graph,
        data_constant: data.as_ref().is_some_and(V::is_constant),
        data,
        data_path: ip.path_id("data"),
        train,
        requires,
        lets,
        let_paths: space.lets.iter().map(|l| ip.path_id(&l.name)).collect(),
        frame: c.slots as usize,
        memo_sites: c.memo_sites as usize,
        sites: c.sites as usize,
    })
}

impl<'a> Compiler<'_, 'a> {
    fn slot(&mut self) -> u32 {
        self.slots += 1;
        self.slots - 1
    }

    fn lookup(&self, file: FileId, name: &'a str) -> Option<(ItemRef, &'a Item)> {
        let checked: &'a crate::check::Checked = self.ip.checked;
        self.ip.lookup(file, name).map(|r| (r, checked.item(r)))
    }

    /// The call of a function one level deeper.
    fn deeper<X>(&mut self, f: impl FnOnce(&mut Self) -> Option<X>) -> Option<X> {
        if self.depth >= MAX_INLINE {
            return None;
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // ---- what an expression is (the tree walker's `is_tensor` and `is_module`) --------

    fn is_tensor(&self, e: &Expr, env: &CEnv<'a>) -> bool {
        match &e.kind {
            ExprKind::Name(id) => matches!(env.get(&id.name), Some(CB::Ten(_))),
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_tensor(l, env),
            ExprKind::Call(c, _) => {
                matches!(&c.kind, ExprKind::Name(id) if id.name == "concat" || id.name == "add")
            }
            _ => false,
        }
    }

    fn is_module(&self, e: &'a Expr, env: &CEnv<'a>) -> bool {
        let item_is_module = |name: &'a str| {
            self.lookup(env.file, name)
                .is_some_and(|(_, item)| is_module_item(item))
        };
        match &e.kind {
            ExprKind::Repeat(..)
            | ExprKind::Optional(..)
            | ExprKind::Residual(..)
            | ExprKind::Block(_) => true,
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_module(l, env),
            ExprKind::If(_, t, _) => self.is_module(t, env) || self.is_tensor(t, env),
            ExprKind::Name(id) => match env.get(&id.name) {
                Some(CB::Module(_)) => true,
                Some(_) => false,
                None => item_is_module(&id.name),
            },
            ExprKind::Call(c, args) => match &c.kind {
                ExprKind::Name(id) if id.name == "choice" => {
                    args.first().is_some_and(|a| self.is_module(&a.value, env))
                }
                ExprKind::Name(id) => item_is_module(&id.name),
                _ => false,
            },
            _ => false,
        }
    }

    // ---- values -----------------------------------------------------------------------

    /// One more expression; `None` past the limit.
    fn spend(&mut self) -> Option<()> {
        self.size += 1;
        (self.size <= MAX_CODE).then_some(())
    }

    /// Compiles `f` one level deeper in the program.
    fn level<X>(&mut self, f: impl FnOnce(&mut Self) -> Option<X>) -> Option<X> {
        self.level += 1;
        self.deepest = self.deepest.max(self.level);
        let r = f(self);
        self.level -= 1;
        r
    }

    fn v(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<V<'a>> {
        self.level(|c| c.v_at(e, env))
    }

    fn v_at(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<V<'a>> {
        self.spend()?;
        if let Some(v) = const_value(e) {
            return Some(V { e, k: VK::Const(v) });
        }
        let k = match &e.kind {
            ExprKind::Int(v) => VK::Const(Value::Int(*v)),
            ExprKind::Float(v) => VK::Const(Value::Float(*v)),
            ExprKind::Bool(v) => VK::Const(Value::Bool(*v)),
            ExprKind::Str(s) => VK::Const(Value::Str(s.clone())),
            ExprKind::Member(base, field) if matches!(base.kind, ExprKind::Data) => VK::Data(field),
            ExprKind::Name(id) => return self.name(e, id, env),
            ExprKind::Unary(op, x) => VK::Unary(*op, Box::new(self.v(x, env)?)),
            ExprKind::Binary(op, l, r) => {
                VK::Binary(*op, Box::new(self.v(l, env)?), Box::new(self.v(r, env)?))
            }
            ExprKind::If(c, t, o) => VK::If(
                Box::new(self.v(c, env)?),
                Box::new(self.v(t, env)?),
                match o {
                    Some(o) => Some(Box::new(self.v(o, env)?)),
                    None => None,
                },
            ),
            ExprKind::Block(stmts) => {
                let mut env = env.clone();
                let mut out = Vec::new();
                for s in stmts {
                    match s {
                        Stmt::Let(l) => {
                            let code = self.v(&l.value, &env)?;
                            let slot = self.slot();
                            out.push(VStmt::Let(slot, Name::new(&l.name.name), code));
                            env = env.with(&l.name.name, CB::Val(slot));
                        }
                        Stmt::Expr(x) => out.push(VStmt::Expr(self.v(x, &env)?)),
                        Stmt::Require(_) => {}
                    }
                }
                if !out.iter().any(|s| matches!(s, VStmt::Expr(_))) {
                    return None;
                }
                VK::Block(out)
            }
            ExprKind::Call(callee, args) => return self.call_value(e, callee, args, env),
            _ => return None,
        };
        Some(V { e, k })
    }

    fn name(&mut self, e: &'a Expr, id: &'a ast::Ident, env: &CEnv<'a>) -> Option<V<'a>> {
        match env.get(&id.name) {
            Some(CB::Val(s)) => return Some(V { e, k: VK::Slot(*s) }),
            Some(_) => return None,
            None => {}
        }
        if env.space {
            if let Some(&i) = self.ip.params_by_name.get(id.name.as_str()) {
                return Some(V { e, k: VK::Param(i) });
            }
            if let Some(&i) = self.ip.lets_by_name.get(id.name.as_str()) {
                return Some(V { e, k: VK::Let(i) });
            }
        }
        self.symbol(e, &id.name, &[], env)
    }

    fn symbol(
        &mut self,
        e: &'a Expr,
        name: &'a str,
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
    ) -> Option<V<'a>> {
        let variant = self
            .lookup(env.file, name)
            .and_then(|(r, item)| match item {
                Item::Enum(def) => def
                    .variants
                    .iter()
                    .find(|v| v.name.name == name)
                    .map(|v| (v, r.file)),
                _ => None,
            });
        let k = match variant {
            Some((variant, file)) => VK::Payload(
                self.ip.name_of(name),
                self.binds(&variant.params, args, env, file)?,
            ),
            None => {
                let mut payload = Vec::new();
                for (k, a) in args.iter().enumerate() {
                    let key = a
                        .name
                        .as_ref()
                        .map_or_else(|| k.to_string(), |n| n.name.clone());
                    let here = Name::new(&join(name, &key));
                    payload.push((Name::from(key.as_str()), here, self.v(&a.value, env)?));
                }
                VK::BareSym(self.ip.name_of(name), payload)
            }
        };
        Some(V { e, k })
    }

    /// Arguments bound to declared value parameters (the tree walker's `bind_values`).
    fn binds(
        &mut self,
        params: &'a [ast::FnParam],
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
        decl_file: FileId,
    ) -> Option<Binds<'a>> {
        let slots = self.ip.slots(params, args);
        let mut out = Vec::with_capacity(params.len());
        for (p, slot) in params.iter().zip(slots.iter()) {
            let float = p.ty.name == "float";
            let bind = match slot.map(|k| &args[k as usize]) {
                Some(a) => Bind {
                    code: self.v(&a.value, env)?,
                    path: Some(AP::of(arg_path_kind(a, &p.name.name))),
                    float,
                },
                None => Bind {
                    code: self.v(p.default.as_ref()?, &CEnv::bare(decl_file, false))?,
                    path: None,
                    float,
                },
            };
            out.push(bind);
        }
        Some(Binds {
            names: self.ip.param_names(params),
            args: out,
        })
    }

    fn call_value(
        &mut self,
        e: &'a Expr,
        callee: &'a Expr,
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
    ) -> Option<V<'a>> {
        let ExprKind::Name(id) = &callee.kind else {
            return None;
        };
        let name = id.name.as_str();
        let k = match name {
            "choice" => VK::Choice(
                self.ip.choice_domain(e, args),
                args.iter()
                    .map(|a| self.v(&a.value, env))
                    .collect::<Option<_>>()?,
            ),
            "range" | "uniform" | "log_uniform" => VK::Dist(
                name,
                args.iter()
                    .map(|a| {
                        let q = a.name.as_ref().is_some_and(|n| n.name == "q");
                        Some((q, self.v(&a.value, env)?))
                    })
                    .collect::<Option<_>>()?,
            ),
            "min" | "max" | "abs" | "int" | "float" | "log2" | "sqrt" => VK::Math(
                name,
                args.iter()
                    .map(|a| self.v(&a.value, env))
                    .collect::<Option<_>>()?,
            ),
            _ => match self.lookup(env.file, name) {
                Some((_, Item::Builtin(b))) if b.kind == BuiltinKind::Metric => VK::Metric(name),
                Some((r, Item::Builtin(b)))
                    if matches!(b.kind, BuiltinKind::Dataset | BuiltinKind::Optimizer) =>
                {
                    VK::Payload(
                        self.ip.name_of(name),
                        self.binds(&b.params, args, env, r.file)?,
                    )
                }
                Some((r, Item::Fn(def))) => self.deeper(|c| {
                    let (binds, fenv) = c.bind_fn(def, r.file, args, env, false)?;
                    Some(VK::CallFn(
                        binds,
                        Box::new(c.v(&def.body, &fenv)?),
                        Name::new(name),
                    ))
                })?,
                _ => return self.symbol(e, name, args, env),
            },
        };
        Some(V { e, k })
    }

    /// A function's parameters bound to a call's arguments, and the scope of its body.
    fn bind_fn(
        &mut self,
        def: &'a ast::FnDef,
        file: FileId,
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
        flow: bool,
    ) -> Option<(Vec<FnBind<'a>>, CEnv<'a>)> {
        let slots = self.ip.slots(&def.params, args);
        let mut fenv = CEnv::bare(file, false);
        let mut binds = Vec::new();
        let mut here = None;
        for (p, slot) in def.params.iter().zip(slots.iter()) {
            let (expr, eenv, seg) = match slot.map(|k| &args[k as usize]) {
                Some(a) => (&a.value, env.clone(), arg_path_kind(a, &p.name.name)),
                None => (p.default.as_ref()?, CEnv::bare(file, false), ArgPath::Here),
            };
            let b = match p.ty.name.as_str() {
                "module" => {
                    let path = *here.get_or_insert_with(|| {
                        let s = self.slot();
                        binds.push(FnBind::Path(s));
                        s
                    });
                    CB::Module(Rc::new(CTemplate {
                        expr,
                        env: eenv,
                        path,
                    }))
                }
                "tensor" => {
                    if !flow {
                        return None;
                    }
                    let code = self.gt(expr, &eenv)?;
                    let s = self.slot();
                    binds.push(FnBind::Tensor(s, code));
                    CB::Ten(s)
                }
                ty => {
                    let code = self.v(expr, &eenv)?;
                    let s = self.slot();
                    binds.push(FnBind::Value(s, code, AP::of(seg), ty == "float"));
                    CB::Val(s)
                }
            };
            fenv = fenv.with(&p.name.name, b);
        }
        Some((binds, fenv))
    }

    // ---- graphs -----------------------------------------------------------------------

    /// `graph_or_tensor`.
    fn gt(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<GT<'a>> {
        Some(if self.is_tensor(e, env) {
            GT::T(self.tc(e, env)?)
        } else {
            GT::G(self.g(e, env)?)
        })
    }

    fn tc(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<TC<'a>> {
        self.level(|c| c.tc_at(e, env))
    }

    fn tc_at(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<TC<'a>> {
        Some(match &e.kind {
            ExprKind::Name(id) => match env.get(&id.name) {
                Some(CB::Ten(s)) => TC::Name(*s),
                _ => return None,
            },
            ExprKind::Binary(BinOp::Seq, l, r) => {
                TC::Seq(Box::new(self.tc(l, env)?), Box::new(self.g(r, env)?))
            }
            ExprKind::Call(c, args) => {
                let ExprKind::Name(id) = &c.kind else {
                    return None;
                };
                let parts = args
                    .iter()
                    .map(|a| self.gt(&a.value, env))
                    .collect::<Option<_>>()?;
                TC::Join(e, self.ip.name_of(&id.name), &id.name, parts)
            }
            _ => return None,
        })
    }

    fn g(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<G<'a>> {
        self.level(|c| c.g_at(e, env))
    }

    fn g_at(&mut self, e: &'a Expr, env: &CEnv<'a>) -> Option<G<'a>> {
        self.spend()?;
        let k = match &e.kind {
            ExprKind::Binary(BinOp::Seq, l, r) => {
                GK::Seq(Box::new(self.gt(l, env)?), Box::new(self.g(r, env)?))
            }
            ExprKind::Block(stmts) => {
                let (input, env) = if self.ip.reads_input(e) {
                    let s = self.slot();
                    (Some(s), env.with("input", CB::Ten(s)))
                } else {
                    (None, env.clone())
                };
                let mut stmts = self.block(stmts, env)?;
                // A block of one module that does not name `input` is that module.
                if input.is_none() && matches!(stmts.as_slice(), [GStmt::Expr(GT::G(_))]) {
                    if let Some(GStmt::Expr(GT::G(g))) = stmts.pop() {
                        return Some(g);
                    }
                }
                GK::Block(input, stmts)
            }
            ExprKind::Repeat(count, body) => {
                let seg = Name::new(match &count.kind {
                    ExprKind::Name(id) => id.name.as_str(),
                    _ => "repeat",
                });
                let count = self.v(count, env)?;
                let before = self.size;
                let body = self.g(body, env)?;
                let size = (self.size - before).max(1) as u64;
                GK::Repeat(Box::new(count), seg, Box::new(body), size)
            }
            ExprKind::Optional(body) => GK::Optional(Box::new(self.g(body, env)?)),
            ExprKind::Residual(body) => GK::Residual(Box::new(self.g(body, env)?)),
            ExprKind::If(c, t, o) => GK::If(
                Box::new(self.v(c, env)?),
                Box::new(self.gt(t, env)?),
                match o {
                    Some(o) => Some(Box::new(self.gt(o, env)?)),
                    None => None,
                },
            ),
            ExprKind::Name(id) => match env.get(&id.name).cloned() {
                Some(CB::Module(t)) => {
                    let code = self.deeper(|c| c.g(t.expr, &t.env))?;
                    GK::Template(t.path, Box::new(code))
                }
                Some(CB::Ten(s)) => GK::TensorName(s),
                Some(CB::Val(_)) => return None,
                None => return self.call_g(e, id, &[], env),
            },
            ExprKind::Call(callee, args) => {
                let ExprKind::Name(id) = &callee.kind else {
                    return None;
                };
                match id.name.as_str() {
                    "choice" => GK::Choice(
                        self.ip.choice_domain(e, args),
                        args.iter()
                            .map(|a| self.g(&a.value, env))
                            .collect::<Option<_>>()?,
                    ),
                    "concat" | "add" => GK::Tensor(self.tc(e, env)?),
                    _ => return self.call_g(e, id, args, env),
                }
            }
            _ => return None,
        };
        Some(G { e, k })
    }

    fn block(&mut self, stmts: &'a [Stmt], mut env: CEnv<'a>) -> Option<Vec<GStmt<'a>>> {
        let mut out = Vec::with_capacity(stmts.len());
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    let name = l.name.name.as_str();
                    let slot = self.slot();
                    let (stmt, b) = if self.is_tensor(&l.value, &env) {
                        (
                            GStmt::LetTensor(slot, Name::new(name), self.tc(&l.value, &env)?),
                            CB::Ten(slot),
                        )
                    } else if self.is_module(&l.value, &env) {
                        let t = CTemplate {
                            expr: &l.value,
                            env: env.clone(),
                            path: slot,
                        };
                        (
                            GStmt::LetModule(slot, Name::new(name)),
                            CB::Module(Rc::new(t)),
                        )
                    } else {
                        (
                            GStmt::LetValue(slot, Name::new(name), self.v(&l.value, &env)?),
                            CB::Val(slot),
                        )
                    };
                    out.push(stmt);
                    env = env.with(name, b);
                }
                Stmt::Expr(x) => {
                    let seg = call_name(x);
                    let n = match seen.iter_mut().find(|(s, _)| *s == seg) {
                        Some((_, n)) => {
                            *n += 1;
                            *n
                        }
                        None => {
                            seen.push((seg, 1));
                            1
                        }
                    };
                    let stmt = if self.is_tensor(x, &env) {
                        GStmt::Expr(GT::T(self.tc(x, &env)?))
                    } else if n > 1 && !seg.is_empty() {
                        self.apply_as(x, &env, n)?
                    } else {
                        GStmt::Expr(GT::G(self.g(x, &env)?))
                    };
                    out.push(stmt);
                }
                Stmt::Require(r) => {
                    let text = self.ip.checked.program.sources.snippet(r.cond.span);
                    out.push(GStmt::Require(r, self.v(&r.cond, &env)?, text));
                }
            }
        }
        Some(out)
    }

    /// A second call of `f` in one block, shown as `f#n`.
    fn apply_as(&mut self, e: &'a Expr, env: &CEnv<'a>, n: usize) -> Option<GStmt<'a>> {
        if let ExprKind::Call(callee, args) = &e.kind {
            if let ExprKind::Name(id) = &callee.kind {
                if !matches!(id.name.as_str(), "choice" | "concat" | "add") {
                    let alias = Name::new(&format!("{}#{n}", id.name));
                    let call = self.call(id, args, env, alias)?;
                    return Some(GStmt::ExprAs(e, Box::new(call)));
                }
            }
        }
        Some(GStmt::Expr(GT::G(self.g(e, env)?)))
    }

    /// An applied call of `id` (a call statement, or a module name alone).
    fn call_g(
        &mut self,
        e: &'a Expr,
        id: &'a ast::Ident,
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
    ) -> Option<G<'a>> {
        let call = self.call(id, args, env, Name::new(&id.name))?;
        Some(G {
            e,
            k: GK::Call(Box::new(call)),
        })
    }

    fn call(
        &mut self,
        id: &'a ast::Ident,
        args: &'a [ast::Arg],
        env: &CEnv<'a>,
        shown: Name,
    ) -> Option<Call<'a>> {
        let k = match self.lookup(env.file, &id.name) {
            Some((r, Item::Fn(def))) => self.deeper(|c| {
                let (binds, fenv) = c.bind_fn(def, r.file, args, env, true)?;
                Some(CallK::Fn(binds, c.g(&def.body, &fenv)?))
            })?,
            Some((r, Item::Builtin(b))) if b.kind == BuiltinKind::Module => {
                let sources = &self.ip.checked.program.sources;
                let binds = self.binds(&b.params, args, env, r.file)?;
                let name = self.ip.name_of(&id.name);
                // The arguments that are literals (given or by default), as `bind` gives
                // them.
                let fixed: Vec<Option<Value>> = binds
                    .args
                    .iter()
                    .map(|b| match &b.code.k {
                        VK::Const(v) if b.float => Some(coerce_float(v.clone())),
                        VK::Const(v) => Some(v.clone()),
                        _ => None,
                    })
                    .collect();
                let same_all_build = binds.args.iter().all(|b| b.code.is_fixed_in_build());
                let memo = same_all_build.then(|| {
                    self.memo_sites += 1;
                    self.memo_sites - 1
                });
                self.sites += 1;
                CallK::Builtin(BuiltinCall {
                    b,
                    file: r.file,
                    name,
                    memo,
                    site: self.sites - 1,
                    plan: metrics::Plan::new(&id.name, &binds.names),
                    bytes: ir::NodeBytes::new(name, &binds.names, &fixed),
                    binds,
                    rules: self.ip.rules(b),
                    mentions_width: b
                        .requires
                        .iter()
                        .map(|rule| rule.cond.names().iter().any(|n| n.name == "width"))
                        .collect(),
                    texts: b
                        .requires
                        .iter()
                        .map(|rule| {
                            let text = rule
                                .message
                                .clone()
                                .unwrap_or_else(|| sources.snippet(rule.cond.span));
                            format!("{}: {text}", id.name)
                        })
                        .collect(),
                })
            }
            _ => return None,
        };
        Some(Call { shown, k })
    }
}

// ---- running the program ------------------------------------------------------------
//
// Paths travel down as numbers of the interpreter's path table (`paths.rs`): a child path
// is one lookup, and its string exists once per space.

impl<'a> Run<'a, '_> {
    /// A slot read before it was bound: a defect of the compiler, reported as an error
    /// of the build rather than a crash.
    fn unbound<X>(&self, span: Span) -> R<X> {
        self.err(
            "internal error: the compiled space read a name before binding it",
            span,
            "while building this",
            "",
        )
    }

    /// [`Run::err`] at the path numbered `path`.
    fn err_at<X>(&self, message: impl Into<String>, span: Span, label: &str, path: PathId) -> R<X> {
        self.err(message, span, label, &self.ip.text(path))
    }

    fn slot_value(&self, s: u32, span: Span) -> R<Value> {
        match self.frame.get(s as usize) {
            Some(Slot::Val(v)) => Ok(v.clone()),
            _ => self.unbound(span),
        }
    }

    fn slot_tensor(&self, s: u32, span: Span) -> R<T> {
        match self.frame.get(s as usize) {
            Some(Slot::Ten(t)) => Ok(*t),
            _ => self.unbound(span),
        }
    }

    /// `path.seg`.
    #[inline]
    fn dot(&self, path: PathId, seg: Name) -> PathId {
        self.ip.dot(path, seg)
    }

    /// The path of an argument's hyperparameters.
    #[inline]
    fn arg_path(&self, p: AP, here: PathId) -> PathId {
        match p {
            AP::Empty => ROOT,
            AP::Join(param) => self.dot(here, param),
            AP::Here => here,
        }
    }

    /// `c` as a number or boolean, when it is arithmetic, comparisons and logic over
    /// literals and named params and dependent values that already have a value (a
    /// dependent value of that kind is computed here and kept, as `let_value` keeps it);
    /// `None` for anything else, and for an arithmetic error, which the general evaluator
    /// then reports. It decides nothing and builds no path, so a constraint over values
    /// already decided costs a few comparisons.
    pub(super) fn v_scalar(&mut self, c: &'a V<'a>) -> Option<Scalar> {
        match &c.k {
            VK::Const(v) => Scalar::of(v),
            VK::Param(i) => Scalar::of(self.named.get(*i)?.as_ref()?),
            VK::Let(i) => {
                if let Some(v) = self.lets.get(*i)? {
                    return Scalar::of(v);
                }
                if self.open_lets[*i] {
                    return None;
                }
                let code = &self.program?.lets[*i];
                let s = self.v_scalar(code)?;
                self.lets[*i] = Some(s.value());
                Some(s)
            }
            VK::Unary(op, x) => self.v_scalar(x)?.unary(*op),
            VK::Binary(op, l, r) => {
                let a = self.v_scalar(l)?;
                if let Some(x) = a.short_circuit(*op) {
                    return Some(x);
                }
                a.op(*op, self.v_scalar(r)?).ok()
            }
            VK::Metric(name) => static_metric(self.metrics?, name).map(Scalar::Int),
            _ => None,
        }
    }

    /// The tree walker's `value`.
    pub(super) fn v(&mut self, c: &'a V<'a>, path: PathId) -> R<Value> {
        if let VK::Const(v) = &c.k {
            return Ok(v.clone());
        }
        self.v_inner(c, path)
    }

    fn v_inner(&mut self, c: &'a V<'a>, path: PathId) -> R<Value> {
        let e = c.e;
        match &c.k {
            VK::Const(v) => Ok(v.clone()),
            VK::Data(field) => match self.facts.as_ref().and_then(|f| f.field(&field.name)) {
                Some(v) => Ok(v),
                None => self.err_at(
                    format!("the data source has no `{}`", field.name),
                    field.span,
                    "unknown here",
                    path,
                ),
            },
            VK::Slot(s) => self.slot_value(*s, e.span),
            VK::Param(i) => self.param(*i),
            VK::Let(i) => self.let_value(*i, e.span),
            VK::Unary(op, x) => {
                let v = self.v(x, path)?;
                match (op, v) {
                    (UnOp::Neg, Value::Int(x)) => match x.checked_neg() {
                        Some(v) => Ok(Value::Int(v)),
                        None => self.err_at("arithmetic overflow", e.span, "here", path),
                    },
                    (UnOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
                    (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (_, v) => self.err_at(
                        format!("cannot apply `{op:?}` to `{v}`"),
                        e.span,
                        "here",
                        path,
                    ),
                }
            }
            VK::Binary(op, l, r) => {
                let a = self.v(l, path)?;
                if let (BinOp::And | BinOp::Or, Value::Bool(x)) = (op, &a) {
                    if (*op == BinOp::And) != *x {
                        return Ok(Value::Bool(*x));
                    }
                }
                let b = self.v(r, path)?;
                match arith(*op, &a, &b) {
                    Ok(v) => Ok(v),
                    Err(m) => self.err_at(m, e.span, "here", path),
                }
            }
            VK::If(cond, t, o) => match self.v(cond, path)? {
                Value::Bool(true) => self.v(t, path),
                Value::Bool(false) => match o {
                    Some(o) => self.v(o, path),
                    None => {
                        self.err_at("an `if` without `else` has no value", e.span, "here", path)
                    }
                },
                other => self.err_at(
                    format!("the condition is `{other}`"),
                    cond.e.span,
                    "not a boolean",
                    path,
                ),
            },
            VK::Block(stmts) => {
                let mut result = None;
                for s in stmts {
                    match s {
                        VStmt::Let(slot, name, code) => {
                            let here = self.dot(path, *name);
                            let v = self.v(code, here)?;
                            self.frame[*slot as usize] = Slot::Val(v);
                        }
                        VStmt::Expr(code) => result = Some(self.v(code, path)?),
                    }
                }
                match result {
                    Some(v) => Ok(v),
                    None => self.err_at("the block has no value", e.span, "here", path),
                }
            }
            VK::Choice(domain, alts) => {
                let (Pick::Index(k), at) = self.decide_at(path, domain.clone(), e.span)? else {
                    return self.err_at("a choice needs an index", e.span, "here", path);
                };
                self.v(&alts[k as usize], at)
            }
            VK::Dist(name, args) => {
                let mut nums = Vec::new();
                let mut q = None;
                for (is_q, a) in args {
                    let v = self.v(a, path)?;
                    if *is_q {
                        q = v.as_f64();
                    } else {
                        nums.push(v);
                    }
                }
                let name = *name;
                let domain = match (name, nums.as_slice()) {
                    ("range", [Value::Int(lo), Value::Int(hi), rest @ ..]) => Domain::Int {
                        lo: *lo,
                        hi: *hi,
                        step: rest.first().and_then(|s| s.as_int()).unwrap_or(1).max(1),
                    },
                    (_, [lo, hi, rest @ ..]) if name != "range" => Domain::Float {
                        lo: lo.as_f64().unwrap_or(0.0),
                        hi: hi.as_f64().unwrap_or(0.0),
                        log: name == "log_uniform",
                        q: q.or_else(|| rest.first().and_then(|x| x.as_f64())),
                    },
                    _ => {
                        return self.err_at(
                            format!("invalid `{name}` bounds"),
                            e.span,
                            "here",
                            path,
                        )
                    }
                };
                Ok(match self.decide_at(path, Rc::new(domain), e.span)?.0 {
                    Pick::Int(v) => Value::Int(v),
                    Pick::Float(v) => Value::Float(v),
                    Pick::Index(k) => Value::Int(i64::from(k)),
                    Pick::On(b) => Value::Bool(b),
                })
            }
            VK::Math(name, args) => {
                let mut vals = Vec::with_capacity(args.len());
                for a in args {
                    vals.push(self.v(a, path)?);
                }
                match math(name, &vals) {
                    Some(v) => Ok(v),
                    None => self.err_at(
                        format!("`{name}` of these values is undefined"),
                        e.span,
                        "here",
                        path,
                    ),
                }
            }
            VK::Metric(name) => self.metric_value(name, e.span, &self.ip.text(path)),
            VK::Payload(name, binds) => {
                let here = self.dot(path, *name);
                let payload = self.bind(binds, here)?;
                Ok(Value::Sym(*name, payload))
            }
            VK::BareSym(name, args) => {
                let mut payload = Vec::with_capacity(args.len());
                for (key, seg, a) in args {
                    let here = self.dot(path, *seg);
                    payload.push((*key, self.v(a, here)?));
                }
                Ok(Value::Sym(*name, payload))
            }
            VK::CallFn(binds, body, name) => {
                self.bind_fn_args(binds, None, path)?;
                let here = self.dot(path, *name);
                self.v(body, here)
            }
        }
    }

    /// The tree walker's `bind_values`.
    fn bind(&mut self, binds: &'a Binds<'a>, here: PathId) -> R<Vec<(Name, Value)>> {
        let mut out = Vec::with_capacity(binds.args.len());
        for (b, name) in binds.args.iter().zip(binds.names.iter()) {
            // A literal, or a named param or dependent value that has its value, is read
            // in place.
            let v = match &b.code.k {
                VK::Const(v) => v.clone(),
                VK::Param(i) => match self.named[*i].clone() {
                    Some(v) => v,
                    None => self.bind_one(b, here)?,
                },
                VK::Let(i) => match self.lets[*i].clone() {
                    Some(v) => v,
                    None => self.bind_one(b, here)?,
                },
                _ => self.bind_one(b, here)?,
            };
            let v = match (b.float, v) {
                (true, v) => coerce_float(v),
                (false, v) => v,
            };
            out.push((*name, v));
        }
        Ok(out)
    }

    /// The value of one argument that is not read in place.
    fn bind_one(&mut self, b: &'a Bind<'a>, here: PathId) -> R<Value> {
        match b.path {
            // A named param, a dependent value or a slot never reads the path: none is
            // made for them.
            Some(_) if matches!(b.code.k, VK::Param(_) | VK::Let(_) | VK::Slot(_)) => {
                self.v(&b.code, here)
            }
            Some(p) => {
                let at = self.arg_path(p, here);
                self.v(&b.code, at)
            }
            None => self.v(&b.code, here),
        }
    }

    /// Binds a function call's parameters into their slots (`flow` inside a graph).
    fn bind_fn_args(&mut self, binds: &'a [FnBind<'a>], flow: Option<T>, here: PathId) -> R<()> {
        for b in binds {
            match b {
                FnBind::Path(s) => self.frame[*s as usize] = Slot::Path(here),
                FnBind::Tensor(s, code) => {
                    // Tensor arguments are compiled only inside graphs, which have a flow.
                    let Some(flow) = flow else {
                        return self.unbound(Span::default());
                    };
                    let t = self.gt(code, flow, here)?;
                    self.frame[*s as usize] = Slot::Ten(t);
                }
                FnBind::Value(s, code, seg, float) => {
                    let v = if matches!(
                        code.k,
                        VK::Const(_) | VK::Param(_) | VK::Let(_) | VK::Slot(_)
                    ) {
                        // These read no path.
                        self.v(code, here)?
                    } else {
                        let at = self.arg_path(*seg, here);
                        self.v(code, at)?
                    };
                    let v = if *float { coerce_float(v) } else { v };
                    self.frame[*s as usize] = Slot::Val(v);
                }
            }
        }
        Ok(())
    }

    fn gt(&mut self, c: &'a GT<'a>, input: T, path: PathId) -> R<T> {
        match c {
            GT::G(g) => self.g(g, input, path),
            GT::T(t) => self.tc(t, input, path),
        }
    }

    fn tc(&mut self, c: &'a TC<'a>, flow: T, path: PathId) -> R<T> {
        match c {
            TC::Name(s) => self.slot_tensor(*s, Span::default()),
            TC::Seq(l, r) => {
                let t = self.tc(l, flow, path)?;
                self.g(r, t, path)
            }
            TC::Join(e, name, id, parts) => {
                let mut ts = Vec::with_capacity(parts.len());
                for p in parts {
                    ts.push(self.gt(p, flow, path)?);
                }
                let shapes: Vec<_> = ts.iter().map(|t| self.shape(*t)).collect();
                match metrics::join(id, &shapes) {
                    Ok((shape, cost)) => {
                        let inputs: ir::Inputs = ts.iter().map(|t| t.node).collect();
                        let here = self.ip.text(self.dot(path, *name));
                        ir::write_node(&mut self.bytes, *name, &[], &inputs);
                        Ok(self.node(*name, Vec::new(), inputs, shape, cost, here))
                    }
                    Err(m) => self.err_at(m, e.span, "cannot join these", path),
                }
            }
        }
    }

    /// The tree walker's `apply`.
    ///
    /// The program's recursion is no deeper than the program (see `Compiler::deepest`),
    /// and its work is bounded where it loops, in `repeat`, so it does not count its
    /// nesting on every level as the tree walker does.
    pub(super) fn g(&mut self, c: &'a G<'a>, input: T, path: PathId) -> R<T> {
        self.g_inner(c, input, path)
    }

    fn g_inner(&mut self, c: &'a G<'a>, input: T, path: PathId) -> R<T> {
        let e = c.e;
        if self.nodes.len() > super::MAX_NODES {
            return self.err_at(
                "the architecture has more than a million nodes",
                e.span,
                "while expanding this",
                path,
            );
        }
        match &c.k {
            GK::Seq(l, r) => {
                let t = self.gt(l, input, path)?;
                self.g(r, t, path)
            }
            GK::Block(slot, stmts) => {
                if let Some(s) = slot {
                    self.frame[*s as usize] = Slot::Ten(input);
                }
                self.g_block(stmts, input, path)
            }
            GK::Repeat(count, seg, body, size) => {
                let at = self.dot(path, *seg);
                let n = self.v(count, self.dot(at, self.ip.segs.count))?;
                let n = match n {
                    Value::Int(n) if n >= 0 => n,
                    other => {
                        return self.err_at(
                            format!("a repeat count of `{other}`"),
                            count.e.span,
                            "not a non-negative integer",
                            path,
                        )
                    }
                };
                let mut t = input;
                for i in 0..n {
                    // Each copy of the body counts its size against the build's limit.
                    self.steps += size;
                    if self.steps > super::MAX_STEPS {
                        return self.too_big(e.span);
                    }
                    t = self.g(body, t, self.ip.index(at, i))?;
                }
                Ok(t)
            }
            GK::Optional(body) => {
                let on_off = self.ip.on_off.clone();
                match self
                    .decide_at(self.dot(path, self.ip.segs.optional), on_off, e.span)?
                    .0
                {
                    Pick::On(true) => self.g(body, input, path),
                    _ => Ok(input),
                }
            }
            GK::Residual(body) => {
                let out = self.g(body, input, path)?;
                match metrics::add(self.shape(input), self.shape(out)) {
                    Ok((shape, cost)) => {
                        let inputs = [input.node, out.node];
                        ir::write_node(&mut self.bytes, self.ip.add, &[], &inputs);
                        Ok(self.node(
                            self.ip.add,
                            Vec::new(),
                            inputs.into(),
                            shape,
                            cost,
                            self.ip.text(self.dot(path, self.ip.segs.residual)),
                        ))
                    }
                    Err(m) => self.err_at(m, e.span, "the body changes the shape", path),
                }
            }
            GK::If(cond, t, o) => match self.v(cond, path)? {
                Value::Bool(true) => self.gt(t, input, path),
                Value::Bool(false) => match o {
                    Some(o) => self.gt(o, input, path),
                    None => Ok(input),
                },
                other => self.err_at(
                    format!("the condition is `{other}`"),
                    cond.e.span,
                    "not a boolean",
                    path,
                ),
            },
            GK::Template(s, code) => {
                let Some(Slot::Path(p)) = self.frame.get(*s as usize) else {
                    return self.unbound(e.span);
                };
                match &code.k {
                    // A module argument that is a call is applied at once, one level up.
                    GK::Call(call) => self.g_call(code.e, call, input, *p),
                    _ => self.g(code, input, *p),
                }
            }
            GK::TensorName(s) => self.slot_tensor(*s, e.span),
            GK::Choice(domain, alts) => {
                let (Pick::Index(k), at) =
                    self.decide_at(self.dot(path, self.ip.segs.choice), domain.clone(), e.span)?
                else {
                    return self.err_at("a choice needs an index", e.span, "here", path);
                };
                let alt = self.ip.index(at, i64::from(k));
                self.g(&alts[k as usize], input, alt)
            }
            GK::Tensor(t) => self.tc(t, input, path),
            GK::Call(call) => self.g_call(e, call, input, path),
        }
    }

    fn g_block(&mut self, stmts: &'a [GStmt<'a>], input: T, path: PathId) -> R<T> {
        let mut cur = input;
        for s in stmts {
            match s {
                GStmt::LetTensor(slot, name, code) => {
                    let t = self.tc(code, cur, self.dot(path, *name))?;
                    self.frame[*slot as usize] = Slot::Ten(t);
                }
                GStmt::LetModule(slot, name) => {
                    self.frame[*slot as usize] = Slot::Path(self.dot(path, *name));
                }
                GStmt::LetValue(slot, name, code) => {
                    let v = self.v(code, self.dot(path, *name))?;
                    self.frame[*slot as usize] = Slot::Val(v);
                }
                GStmt::Expr(code) => cur = self.gt(code, cur, path)?,
                GStmt::ExprAs(e, call) => {
                    cur = self.g_call(e, call, cur, path)?;
                }
                GStmt::Require(r, code, text) => match self.v(code, path)? {
                    Value::Bool(true) => {}
                    _ => {
                        return Err(Halt::Reject(Box::new(Rejection {
                            constraint: None,
                            text: text.clone(),
                            span: r.span,
                        })))
                    }
                },
            }
        }
        Ok(cur)
    }

    fn g_call(&mut self, e: &'a Expr, call: &'a Call<'a>, input: T, path: PathId) -> R<T> {
        let here = self.dot(path, call.shown);
        match &call.k {
            CallK::Fn(binds, body) => {
                self.bind_fn_args(binds, Some(input), here)?;
                self.g(body, input, here)
            }
            CallK::Builtin(b) => self.g_builtin(e, b, input, here),
        }
    }

    /// Keeps the node about to be made at `at` in the build's bytes in memo slot `memo`.
    fn remember(&mut self, memo: Option<usize>, input: Shape, shape: Shape, cost: Cost, at: usize) {
        if let Some(slot) = memo.and_then(|m| self.memo.get_mut(m)) {
            *slot = Some(Memo {
                input,
                node: self.nodes.len() as u32,
                shape,
                cost,
                at: at as u32,
                len: (self.bytes.len() - at - ir::INPUT_BYTES) as u32,
            });
        }
    }

    /// A builtin module applied at `here`.
    fn g_builtin(&mut self, e: &'a Expr, b: &'a BuiltinCall<'a>, input: T, here: PathId) -> R<T> {
        let memo = b.memo.map(|m| m as usize);
        let input_shape = self.shape(input);
        if let Some(m) = memo.and_then(|m| self.memo.get(m).copied().flatten()) {
            if m.input == input_shape {
                let vals = self.nodes[m.node as usize].args.clone();
                let at = m.at as usize;
                self.bytes.extend_from_within(at..at + m.len as usize);
                ir::put_input(&mut self.bytes, input.node);
                let path = self.ip.text(here);
                return Ok(self.node(
                    b.name,
                    vals,
                    smallvec::smallvec![input.node],
                    m.shape,
                    m.cost,
                    path,
                ));
            }
        }
        let vals = self.bind(&b.binds, here)?;
        let slot = match self.known.consult(b.site) {
            true => Some(known_slot(b.site, &input_shape, &vals)),
            false => None,
        };
        if let Some(s) = slot {
            let kept = self.known.entries.get(s);
            if let Some((shape, cost)) = kept.and_then(|k| k.hit(b.site, input_shape, &vals)) {
                self.known.record(b.site, true);
                let at = self.bytes.len();
                self.bytes.extend_from_slice(&self.known.entries[s].bytes);
                ir::put_input(&mut self.bytes, input.node);
                self.remember(memo, input_shape, shape, cost, at);
                let path = self.ip.text(here);
                return Ok(self.node(
                    b.name,
                    vals,
                    smallvec::smallvec![input.node],
                    shape,
                    cost,
                    path,
                ));
            }
            self.known.record(b.site, false);
        }
        let width = input_shape.features();
        for (k, fast) in b.rules.iter().enumerate() {
            if width.is_none() && b.mentions_width[k] {
                continue;
            }
            let holds = match fast.as_ref().and_then(|f| f.eval(&vals, width)) {
                Some(v) => Value::Bool(v),
                // What the compiled rule does not decide, the general evaluator does, as
                // the tree walker would.
                None => self.rule_value(
                    &b.b.requires[k].cond,
                    b.file,
                    &b.b.params,
                    &vals,
                    width,
                    &self.ip.text(here),
                )?,
            };
            if let Value::Bool(false) = holds {
                return Err(Halt::Reject(Box::new(Rejection {
                    constraint: None,
                    text: b.texts[k].clone(),
                    span: e.span,
                })));
            }
        }
        match b.plan.apply(&vals, &input_shape) {
            Ok((shape, cost)) => Ok({
                let at = self.bytes.len();
                b.bytes.write(&mut self.bytes, &vals, input.node);
                self.remember(memo, input_shape, shape, cost, at);
                if let Some(k) = slot.and_then(|s| self.known.entries.get_mut(s)) {
                    k.site = b.site;
                    k.input = Some(input_shape);
                    k.args.clone_from(&vals);
                    k.shape = Some(shape);
                    k.cost = cost;
                    k.bytes.clear();
                    k.bytes
                        .extend_from_slice(&self.bytes[at..self.bytes.len() - ir::INPUT_BYTES]);
                }
                self.node(
                    b.name,
                    vals,
                    smallvec::smallvec![input.node],
                    shape,
                    cost,
                    self.ip.text(here),
                )
            }),
            Err(m) => self.err_at(m, e.span, "cannot be built here", here),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A known node is found again only for arguments the hash would write the same way
    /// and the rules and formulas would read the same way: the same kind of value, the
    /// same bits, the same symbol and payload.
    #[test]
    fn known_nodes_are_told_apart_by_every_bit_of_their_arguments() {
        let sym = |n: &str, w: i64| Value::Sym(n.into(), vec![("window".into(), Value::Int(w))]);
        let distinct = [
            Value::Int(1),
            Value::Float(1.0),
            Value::Float(-0.0),
            Value::Float(0.0),
            Value::Bool(true),
            Value::Str("a".into()),
            Value::Str("b".into()),
            sym("local", 16),
            sym("local", 32),
            sym("strided", 16),
            Value::Sym("local".into(), Vec::new()),
        ];
        for (i, a) in distinct.iter().enumerate() {
            for (j, b) in distinct.iter().enumerate() {
                assert_eq!(same_value(a, b), i == j, "{a:?} and {b:?}");
            }
        }
        let args = |v: Value| vec![(Name::new("x"), v)];
        let seq = Shape::Seq { len: 8, width: 16 };
        assert!(same_args(&args(Value::Int(3)), &args(Value::Int(3))));
        assert!(!same_args(&args(Value::Int(3)), &[]));
        // The same key has one slot; other sites, shapes and arguments mostly others.
        let slot = known_slot(0, &seq, &args(Value::Int(3)));
        assert_eq!(slot, known_slot(0, &seq, &args(Value::Int(3))));
        let others = [
            known_slot(1, &seq, &args(Value::Int(3))),
            known_slot(0, &Shape::Seq { len: 8, width: 32 }, &args(Value::Int(3))),
            known_slot(0, &seq, &args(Value::Int(4))),
            known_slot(0, &seq, &args(Value::Float(3.0))),
        ];
        assert!(others.iter().all(|s| *s < KNOWN));
        assert!(others.iter().filter(|s| **s != slot).count() >= 3);
    }

    /// A call site that keeps missing looks the table up only one call in `PROBE`; a site
    /// that hits keeps looking, and a hit on a probe brings a site back.
    #[test]
    fn a_site_that_keeps_missing_stops_looking_until_it_hits() {
        let mut t = Table::default();
        t.ready(2);
        assert_eq!(t.entries.len(), KNOWN);
        let looked = |t: &mut Table, site: u32, hit: bool, calls: u32| {
            let mut n = 0;
            for _ in 0..calls {
                if t.consult(site) {
                    n += 1;
                    t.record(site, hit);
                }
            }
            n
        };
        // Site 0 misses: it looks at every call until its score reaches the floor.
        let floor = Table::FLOOR as u32;
        assert_eq!(looked(&mut t, 0, false, floor), floor);
        let probes = looked(&mut t, 0, false, 10 * Table::PROBE);
        assert!((9..=11).contains(&probes), "{probes} probes");
        // Site 1 hits now and then, one call in four: it never stops looking.
        for k in 0..1000 {
            assert!(t.consult(1));
            t.record(1, k % 4 == 0);
        }
        // A hit on a probe lifts site 0 off the floor: it looks at the next call again.
        while !t.consult(0) {}
        t.record(0, true);
        assert!(t.consult(0));
        // A program of another size starts its scores afresh.
        t.ready(3);
        assert_eq!(t.sites.len(), 3);
    }
}
