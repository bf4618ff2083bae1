//! Expanding a space into one concrete architecture, asking a [`Decider`] for each
//! hyperparameter as the expansion reaches it.
//!
//! The order of a build: the named hyperparameters that every architecture uses (those
//! the data source, the training settings or the pipeline read, and those the graph does
//! not use) are decided first, in declaration order; the data source is resolved; the
//! constraints on those alone are checked, so a violating assignment is rejected before
//! any graph is expanded. Then the graph is expanded: named hyperparameters used only in
//! the graph are decided when first needed, so one behind an `optional` that is off stays
//! inactive. Then the remaining constraints (a constraint that mentions an inactive
//! hyperparameter does not apply), the metrics and the constraints on them.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rustc_hash::FxHashMap;

#[path = "compile.rs"]
mod compile;

use super::data::DataFacts;
use super::ir::{self, Arch, Cost, Node, Shape};
use super::metrics;
use super::paths::{PathId, Paths, ROOT};
use super::{Alt, Decider, Decision, Domain, Hyper, Name, Partial, Path, Pick, Value};
use crate::check::types::ItemRef;
use crate::check::{self, Checked, SpaceInfo};
use crate::diag::{FileId, Span};
use crate::space::count;
use crate::space::eval::{is_module_item, Val};
use crate::syntax::ast::{self, BinOp, BuiltinKind, Expr, ExprKind, Item, Stmt, UnOp};

/// Why an architecture cannot be built at all (an error in the space, or a value the
/// decider could not give).
#[derive(Clone, Debug, PartialEq)]
pub struct BuildError {
    /// What went wrong.
    pub message: String,
    /// Where in the space.
    pub span: Span,
    /// The label under the span.
    pub label: String,
    /// The path of the hyperparameter or module being built, if any.
    pub path: String,
    /// The decisions made before the error (`w = 8, layers = 2`), empty when none were:
    /// which assignment cannot be built.
    pub decisions: String,
}

/// A constraint an assignment violates.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    /// The space constraint's index, or `None` for a rule of a builtin module.
    pub constraint: Option<usize>,
    /// The constraint as written.
    pub text: String,
    /// Where it is written.
    pub span: Span,
}

/// What one build gives.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// An architecture that satisfies every constraint.
    Built(Box<Built>),
    /// The assignment violates a constraint; the decisions made up to that point.
    Rejected(Rejection, Vec<Decision>),
}

/// A built architecture.
pub type Built = Arch;

/// Where a partial assignment stands: which of its values apply, which hyperparameters
/// exist under it but have no value yet, and whether it already breaks a constraint.
#[derive(Clone, Debug)]
pub struct Frontier {
    /// The given values that apply, in the order the expansion reaches them.
    pub assigned: Vec<Decision>,
    /// The hyperparameters that exist under the given values and have none, in the order
    /// the expansion reaches them. What lies behind an open one does not exist yet (the
    /// body of a `repeat` whose count is open, the alternatives of an open `choice`, the
    /// body of an open `optional`, the branches of an `if` on an open value): it appears
    /// once that one is assigned.
    pub open: Vec<Hyper>,
    /// A constraint the given values already violate (no completion can satisfy it).
    pub rejected: Option<Rejection>,
    /// The architecture, when nothing is open and no constraint is violated.
    pub arch: Option<Box<Arch>>,
}

/// Who answers for the hyperparameters during a build.
enum Source<'d> {
    Full(&'d mut dyn Decider),
    Partial(&'d mut dyn Partial),
}

/// The node of a tensor whose shape depends on an open hyperparameter (in a frontier
/// probe only).
const UNKNOWN: u32 = u32::MAX;

/// A space made executable: everything about it that does not depend on an assignment.
pub struct Interp<'a> {
    /// The checked program.
    pub checked: &'a Checked,
    /// The space.
    pub space: &'a SpaceInfo,
    /// Per named param: decided lazily, when the graph first needs it.
    conditional: Vec<bool>,
    /// Per named param: how strategies see it.
    hypers: Vec<Hyper>,
    /// Per named param with a `choice` domain: the values of its alternatives.
    choices: Vec<Vec<Value>>,
    /// Per named param: declared `float` (an integer value becomes a float).
    float: Vec<bool>,
    /// Constraints checked before the graph; after it; on metrics (with the conditional
    /// params each mentions).
    early: Vec<usize>,
    late: Vec<(usize, Vec<usize>)>,
    on_metrics: Vec<(usize, Vec<usize>)>,
    /// Per dependent value: the named params it depends on.
    let_deps: Vec<Vec<usize>>,
    params_by_name: FxHashMap<&'a str, usize>,
    lets_by_name: FxHashMap<&'a str, usize>,
    /// The most nodes and decisions one build has made so far: the next build reserves
    /// that much room up front.
    node_hint: Cell<usize>,
    decision_hint: Cell<usize>,
    /// Per builtin signature (by address): the shared names of its parameters.
    param_names: RefCell<FxHashMap<usize, Rc<[Name]>>>,
    /// Domains of inline `choice`s, by the address of the call.
    choice_domains: RefCell<Vec<(usize, Rc<Domain>)>>,
    /// What the syntax tree says the same way in every build, resolved the first time.
    sites: RefCell<Sites>,
    /// The space compiled for full builds (`None`: every build walks the tree).
    program: Option<compile::Program<'a>>,
    /// The compiled program's frame, hash bytes, copies and known nodes, kept from one
    /// build to the next.
    buffers: RefCell<Buffers>,
    /// The domain of every `optional`.
    on_off: Rc<Domain>,
    /// The name of the node a residual joins its body with.
    add: Name,
    /// The name of the graph's input node.
    input: Name,
    /// The names of the named params, then of the dependent values.
    value_names: Vec<Name>,
    /// The data source, once resolved, when no hyperparameter reaches it.
    data_cache: RefCell<Option<DataFacts>>,
    /// Every path a build has made (of a hyperparameter or a node), each stored once:
    /// the candidates share them, and two paths of a build are the same exactly when they
    /// are the same string.
    paths: RefCell<Paths>,
    /// The segments a build adds to paths itself.
    segs: Segs,
}

/// See [`Interp::segs`].
struct Segs {
    /// The path of the graph's input node.
    input: PathId,
    optional: Name,
    choice: Name,
    residual: Name,
    count: Name,
}

/// A call's parameter list and argument list, by address and length.
type SlotsKey = (usize, usize, usize, usize);

/// Facts about the syntax tree that no assignment changes, keyed by the address of the
/// node they are about and resolved the first time a build needs them: the item a name
/// refers to, the shared `Name` of an identifier, which argument fills which parameter of
/// a call, and the builtin modules' rules compiled over their parameters' positions.
#[derive(Default)]
struct Sites {
    lookups: FxHashMap<(u32, usize, usize), Option<ItemRef>>,
    names: FxHashMap<(usize, usize), Name>,
    slots: FxHashMap<SlotsKey, Rc<[Option<u32>]>>,
    rules: FxHashMap<usize, Rc<[Option<Rule>]>>,
    /// Per graph block: whether anything inside it names `input`.
    reads_input: FxHashMap<usize, bool>,
}

const MAX_DEPTH: usize = 256;
const MAX_STEPS: u64 = 5_000_000;
const MAX_NODES: usize = 1_000_000;

impl<'a> Interp<'a> {
    /// Prepares `space` (which must have checked without errors).
    pub fn new(checked: &'a Checked, space: &'a SpaceInfo) -> Result<Interp<'a>, BuildError> {
        let n = space.params.len();
        let graph_uses = space
            .graph
            .as_ref()
            .map(|g| count::param_deps(space, g))
            .unwrap_or_default();
        let mut always = std::collections::BTreeSet::new();
        for e in count::config_exprs(space) {
            always.extend(count::param_deps(space, e));
        }
        let conditional: Vec<bool> = (0..n)
            .map(|i| graph_uses.contains(&i) && !always.contains(&i))
            .collect();
        let mut hypers = Vec::with_capacity(n);
        let mut choices = Vec::with_capacity(n);
        for p in &space.params {
            let err = |message: String| BuildError {
                message,
                span: p.span,
                label: "declared here".into(),
                path: p.name.clone(),
                decisions: String::new(),
            };
            let (domain, values) = match &p.domain {
                Some(check::Domain::Choice(alts)) => {
                    let vals = count::choice_values(checked, space, &p.name, alts)
                        .map_err(|u| err(u.reason))?;
                    let values: Vec<Value> = vals
                        .iter()
                        .map(from_val)
                        .collect::<Option<_>>()
                        .ok_or_else(|| {
                            err(format!("the alternatives of `{}` are not constant", p.name))
                        })?;
                    let alts = values
                        .iter()
                        .map(|v| Alt {
                            label: v.to_string(),
                            value: Some(v.clone()),
                        })
                        .collect();
                    (Domain::Choice { alts }, values)
                }
                Some(check::Domain::IntRange { lo, hi, step }) => (
                    Domain::Int {
                        lo: *lo,
                        hi: *hi,
                        step: *step,
                    },
                    Vec::new(),
                ),
                Some(check::Domain::Float { lo, hi, log, q }) => (
                    Domain::Float {
                        lo: *lo,
                        hi: *hi,
                        log: *log,
                        q: *q,
                    },
                    Vec::new(),
                ),
                None => return Err(err(format!("`{}` has no valid domain", p.name))),
            };
            hypers.push(Hyper {
                path: p.name.as_str().into(),
                named: true,
                domain: Rc::new(domain),
            });
            choices.push(values);
        }
        let mut paths = Paths::default();
        for h in &mut hypers {
            let id = paths.intern(&h.path);
            h.path = paths.text(id).clone();
        }
        let mut early = Vec::new();
        let mut late = Vec::new();
        let mut on_metrics = Vec::new();
        for (k, r) in space.requires.iter().enumerate() {
            let deps = count::param_deps(space, &r.cond);
            let cond: Vec<usize> = deps.iter().copied().filter(|d| conditional[*d]).collect();
            if r.uses_metrics {
                on_metrics.push((k, cond));
            } else if cond.is_empty() {
                early.push(k);
            } else {
                late.push((k, cond));
            }
        }
        let mut ip = Interp {
            checked,
            space,
            conditional,
            hypers,
            choices,
            float: space
                .params
                .iter()
                .map(|p| p.ty.to_string() == "float")
                .collect(),
            early,
            late,
            on_metrics,
            let_deps: space
                .lets
                .iter()
                .map(|l| count::param_deps(space, &l.value).into_iter().collect())
                .collect(),
            params_by_name: space
                .params
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.as_str(), i))
                .collect(),
            lets_by_name: space
                .lets
                .iter()
                .enumerate()
                .map(|(i, l)| (l.name.as_str(), i))
                .collect(),
            choice_domains: RefCell::new(Vec::new()),
            sites: RefCell::new(Sites::default()),
            node_hint: Cell::new(0),
            decision_hint: Cell::new(0),
            param_names: RefCell::new(FxHashMap::default()),
            program: None,
            buffers: RefCell::default(),
            on_off: Rc::new(Domain::OnOff),
            add: Name::new("add"),
            input: Name::new("input"),
            value_names: space
                .params
                .iter()
                .map(|p| Name::new(&p.name))
                .chain(space.lets.iter().map(|l| Name::new(&l.name)))
                .collect(),
            data_cache: RefCell::new(None),
            segs: Segs {
                input: paths.intern("input"),
                optional: Name::new("optional"),
                choice: Name::new("choice"),
                residual: Name::new("residual"),
                count: Name::new("count"),
            },
            paths: RefCell::new(paths),
        };
        ip.program = compile::compile(&ip);
        Ok(ip)
    }

    /// Whether full builds run the compiled program (see `compile.rs`), rather than
    /// walking the syntax tree.
    pub fn is_compiled(&self) -> bool {
        self.program.is_some()
    }

    /// The number of path `s` (see [`Interp::paths`]).
    fn path_id(&self, s: &str) -> PathId {
        self.paths.borrow_mut().intern(s)
    }

    /// The path numbered `id`.
    fn text(&self, id: PathId) -> Path {
        self.paths.borrow().text(id).clone()
    }

    /// `parent.seg`.
    fn dot(&self, parent: PathId, seg: Name) -> PathId {
        self.paths.borrow_mut().dot(parent, seg)
    }

    /// `parent[index]`.
    fn index(&self, parent: PathId, index: i64) -> PathId {
        self.paths.borrow_mut().index(parent, index)
    }

    /// The interned name for `s`.
    fn name(&self, s: &str) -> Name {
        Name::new(s)
    }

    /// The shared names of a signature's parameters.
    fn param_names(&self, params: &[ast::FnParam]) -> Rc<[Name]> {
        let key = params.as_ptr() as usize;
        if let Some(n) = self.param_names.borrow().get(&key) {
            return n.clone();
        }
        let names: Rc<[Name]> = params.iter().map(|p| self.name(&p.name.name)).collect();
        self.param_names.borrow_mut().insert(key, names.clone());
        names
    }

    /// The item `name` refers to as seen from `file` (`name` lives in the syntax tree, so
    /// its address identifies the place).
    fn lookup(&self, file: FileId, name: &'a str) -> Option<ItemRef> {
        let key = (file.0, name.as_ptr() as usize, name.len());
        if let Some(r) = self.sites.borrow().lookups.get(&key) {
            return *r;
        }
        let r = self.checked.lookup(file, name);
        self.sites.borrow_mut().lookups.insert(key, r);
        r
    }

    /// The shared name for `s`, a string of the syntax tree (or a static one), found by
    /// its address after the first time.
    fn name_of(&self, s: &'a str) -> Name {
        let key = (s.as_ptr() as usize, s.len());
        if let Some(n) = self.sites.borrow().names.get(&key) {
            return *n;
        }
        let n = self.name(s);
        self.sites.borrow_mut().names.insert(key, n);
        n
    }

    /// Which argument of `args` fills each of `params` (see [`ast::match_args`]), by its
    /// index in `args`.
    fn slots(&self, params: &'a [ast::FnParam], args: &[ast::Arg]) -> Rc<[Option<u32>]> {
        let key = (
            params.as_ptr() as usize,
            params.len(),
            args.as_ptr() as usize,
            args.len(),
        );
        if let Some(i) = self.sites.borrow().slots.get(&key) {
            return i.clone();
        }
        let i: Rc<[Option<u32>]> = ast::match_arg_indices(params, args)
            .into_iter()
            .map(|k| k.map(|k| k as u32))
            .collect();
        self.sites.borrow_mut().slots.insert(key, i.clone());
        i
    }

    /// Whether anything in `block` names `input` (a block that never does needs no
    /// binding for it: what it calls has scopes of its own).
    fn reads_input(&self, block: &Expr) -> bool {
        let key = block as *const Expr as usize;
        if let Some(r) = self.sites.borrow().reads_input.get(&key) {
            return *r;
        }
        let mut reads = false;
        block.visit(&mut |e| {
            if let ExprKind::Name(id) = &e.kind {
                reads |= id.name == "input";
            }
        });
        self.sites.borrow_mut().reads_input.insert(key, reads);
        reads
    }

    /// A builtin module's rules, compiled over the positions of its parameters (`None`
    /// for a rule the compiled form does not cover: the general evaluator decides it).
    fn rules(&self, b: &'a ast::Builtin) -> Rc<[Option<Rule>]> {
        let key = b as *const ast::Builtin as usize;
        if let Some(r) = self.sites.borrow().rules.get(&key) {
            return r.clone();
        }
        let r: Rc<[Option<Rule>]> = b
            .requires
            .iter()
            .map(|rule| Rule::compile(&rule.cond, &b.params))
            .collect();
        self.sites.borrow_mut().rules.insert(key, r.clone());
        r
    }

    /// The named hyperparameters as strategies see them.
    pub fn named(&self) -> &[Hyper] {
        &self.hypers
    }

    /// Builds one architecture, asking `decider` for every hyperparameter it reaches.
    pub fn build(&self, decider: &mut dyn Decider) -> Result<Outcome, BuildError> {
        self.build_with(decider, true)
    }

    /// [`Interp::build`] walking the syntax tree even where the space is compiled: the
    /// reference the compiled program is tested and measured against.
    #[doc(hidden)]
    pub fn build_walking(&self, decider: &mut dyn Decider) -> Result<Outcome, BuildError> {
        self.build_with(decider, false)
    }

    fn build_with(&self, decider: &mut dyn Decider, compiled: bool) -> Result<Outcome, BuildError> {
        let mut run = self.run(Source::Full(decider));
        if compiled {
            if let Some(p) = &self.program {
                run.program = Some(p);
                // The buffers of the last build are reused: the frame's slots are all
                // bound before they are read, and the hash bytes are started afresh.
                let (mut frame, mut bytes, mut memo, mut known) = self.buffers.take();
                frame.resize(p.frame, compile::Slot::Empty);
                run.frame = frame;
                bytes.clear();
                ir::start(&mut bytes);
                run.bytes = bytes;
                // Nothing is known at a call site before this build reaches it.
                memo.clear();
                memo.resize(p.memo_sites, None);
                run.memo = memo;
                // What earlier builds worked out in full holds in this one too.
                known.ready(p.sites);
                run.known = known;
            }
        }
        let result = run.go();
        if run.program.is_some() {
            self.buffers.replace((
                std::mem::take(&mut run.frame),
                std::mem::take(&mut run.bytes),
                std::mem::take(&mut run.memo),
                std::mem::take(&mut run.known),
            ));
        }
        self.node_hint.set(self.node_hint.get().max(run.nodes_made));
        self.decision_hint
            .set(self.decision_hint.get().max(run.made.len()));
        match result {
            Ok(Some(arch)) => Ok(Outcome::Built(Box::new(arch))),
            Ok(None) | Err(Halt::Open) => Err(BuildError {
                message: "a hyperparameter got no value".into(),
                span: self.space.span,
                label: "while building this space".into(),
                path: String::new(),
                decisions: String::new(),
            }),
            Err(Halt::Reject(r)) => Ok(Outcome::Rejected(*r, run.made)),
            Err(Halt::Error(mut e)) => {
                e.decisions = run
                    .made
                    .iter()
                    .map(|d| format!("{} = {}", d.hyper.path, d.hyper.domain.pick_json(&d.pick)))
                    .collect::<Vec<_>>()
                    .join(", ");
                Err(*e)
            }
        }
    }

    /// Where the partial assignment `given` stands: expands the space as far as the given
    /// values allow and lists the hyperparameters that exist but have no value yet. This
    /// is DeepArchitect's view of a partially specified architecture: assigning an open
    /// hyperparameter may bring new ones into existence (the copies of a `repeat` body, an
    /// alternative's own choices) or make given ones inactive.
    pub fn frontier(&self, given: &mut dyn Partial) -> Result<Frontier, BuildError> {
        let mut run = self.run(Source::Partial(given));
        let result = run.go();
        let (rejected, arch) = match result {
            Ok(arch) => (None, arch.map(Box::new)),
            Err(Halt::Reject(r)) => (Some(*r), None),
            Err(Halt::Open) => (None, None),
            Err(Halt::Error(e)) => return Err(*e),
        };
        Ok(Frontier {
            assigned: match &arch {
                Some(a) => a.assignment.clone(),
                None => run.made,
            },
            open: run.open,
            rejected,
            arch,
        })
    }

    fn run<'d>(&'d self, decider: Source<'d>) -> Run<'d, 'd> {
        Run {
            ip: self,
            decider,
            open: Vec::new(),
            open_named: vec![false; self.space.params.len()],
            open_lets: vec![false; self.space.lets.len()],
            named: vec![None; self.space.params.len()],
            lets: vec![None; self.space.lets.len()],
            nodes: Vec::with_capacity(self.node_hint.get()),
            claimed: Default::default(),
            made: Vec::with_capacity(self.decision_hint.get()),
            nodes_made: 0,
            facts: None,
            metrics: None,
            depth: 0,
            steps: 0,
            program: None,
            frame: Vec::new(),
            bytes: Vec::new(),
            memo: Vec::new(),
            known: compile::Table::default(),
        }
    }

    fn choice_domain(&self, call: &Expr, args: &[ast::Arg]) -> Rc<Domain> {
        let key = call as *const Expr as usize;
        if let Some((_, d)) = self.choice_domains.borrow().iter().find(|(k, _)| *k == key) {
            return d.clone();
        }
        let sources = &self.checked.program.sources;
        let alts = args
            .iter()
            .map(|a| {
                let value = const_value(&a.value);
                Alt {
                    label: value
                        .as_ref()
                        .map_or_else(|| sources.snippet(a.value.span), |v| v.to_string()),
                    value,
                }
            })
            .collect();
        let d = Rc::new(Domain::Choice { alts });
        self.choice_domains.borrow_mut().push((key, d.clone()));
        d
    }
}

/// A literal alternative's value: numbers, strings, booleans, bare symbols.
fn const_value(e: &Expr) -> Option<Value> {
    match &e.kind {
        ExprKind::Int(v) => Some(Value::Int(*v)),
        ExprKind::Float(v) => Some(Value::Float(*v)),
        ExprKind::Bool(v) => Some(Value::Bool(*v)),
        ExprKind::Str(s) => Some(Value::Str(s.clone())),
        ExprKind::Unary(UnOp::Neg, x) => match const_value(x)? {
            Value::Int(v) => v.checked_neg().map(Value::Int),
            Value::Float(v) => Some(Value::Float(-v)),
            _ => None,
        },
        _ => None,
    }
}

fn from_val(v: &Val) -> Option<Value> {
    Some(match v {
        Val::Int(x) => Value::Int(*x),
        Val::Float(x) => Value::Float(*x),
        Val::Bool(b) => Value::Bool(*b),
        Val::Str(s) => Value::Str(s.clone()),
        Val::Sym(n, p) => Value::Sym(
            n.as_str().into(),
            p.iter()
                .map(|(k, x)| Some((k.as_str().into(), from_val(x)?)))
                .collect::<Option<_>>()?,
        ),
        Val::Opaque(_) => return None,
    })
}

enum Halt {
    Reject(Box<Rejection>),
    Error(Box<BuildError>),
    /// The value depends on an open hyperparameter (in a frontier probe only).
    Open,
}

/// In a frontier probe, carries on past a value that depends on an open hyperparameter:
/// `None` for it, and `open` set, so the caller still visits the rest (and the
/// hyperparameters inside it) before giving up on its own value.
fn soft<X>(r: R<X>, open: &mut bool) -> R<Option<X>> {
    match r {
        Ok(x) => Ok(Some(x)),
        Err(Halt::Open) => {
            *open = true;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

type R<T> = Result<T, Halt>;

/// A tensor of the graph being built: the node that makes it (its shape is the node's),
/// or `UNKNOWN`. One number, so that results travel in registers.
#[derive(Clone, Copy)]
struct T {
    node: u32,
}

/// A graph that depends on an open hyperparameter is not built yet: its output is a
/// tensor of unknown shape (in a frontier probe only).
fn unbuilt_if_open(r: R<T>) -> R<T> {
    match r {
        Err(Halt::Open) => Ok(unknown()),
        r => r,
    }
}

/// A tensor that depends on an open hyperparameter.
fn unknown() -> T {
    T { node: UNKNOWN }
}

#[derive(Clone)]
struct Template<'a> {
    expr: &'a Expr,
    env: Env<'a>,
    path: Rc<str>,
}

#[derive(Clone)]
enum B<'a> {
    Value(Value),
    /// A value that depends on an open hyperparameter (in a frontier probe only).
    Unknown,
    Module(Template<'a>),
    Tensor(T),
}

/// A scope: bindings in a linked list, the file whose items are visible, and whether the
/// space's params and lets are (not inside a function body).
#[derive(Clone)]
struct Env<'a> {
    head: Option<Rc<Link<'a>>>,
    file: FileId,
    space: bool,
}

struct Link<'a> {
    name: &'a str,
    b: B<'a>,
    next: Option<Rc<Link<'a>>>,
}

impl<'a> Env<'a> {
    fn with(&self, name: &'a str, b: B<'a>) -> Env<'a> {
        Env {
            head: Some(Rc::new(Link {
                name,
                b,
                next: self.head.clone(),
            })),
            file: self.file,
            space: self.space,
        }
    }

    fn get(&self, name: &str) -> Option<&B<'a>> {
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

/// The static metric `name` of a built graph whose costs sum to `m` (saturated to the
/// language's integers); `None` for a metric only training measures.
fn static_metric(m: Cost, name: &str) -> Option<i64> {
    let v = match name {
        "params" => m.params,
        "flops" => m.flops,
        "activation_memory" => m.activation_memory,
        _ => return None,
    };
    Some(i64::try_from(v).unwrap_or(i64::MAX))
}

/// `join(path, seg)`, then `tail`, then `[index]` when given, in one allocation.
fn join_tail(path: &str, seg: &str, tail: &str, index: Option<i64>) -> String {
    let mut s = String::with_capacity(path.len() + seg.len() + tail.len() + 24);
    s.push_str(path);
    if !path.is_empty() {
        s.push('.');
    }
    s.push_str(seg);
    s.push_str(tail);
    if let Some(i) = index {
        use std::fmt::Write;
        s.push('[');
        let _ = write!(s, "{i}");
        s.push(']');
    }
    s
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        let mut s = String::with_capacity(path.len() + 1 + seg.len());
        s.push_str(path);
        s.push('.');
        s.push_str(seg);
        s
    }
}

/// The compiled program's frame, hash bytes, copyable call sites and the nodes known from
/// earlier builds.
type Buffers = (
    Vec<compile::Slot>,
    Vec<u8>,
    Vec<Option<compile::Memo>>,
    compile::Table,
);

/// Where a path's text is held: the same for every use of one path of a build.
fn address(p: &Path) -> usize {
    Rc::as_ptr(p) as *const u8 as usize
}

/// How many decisions a claim scans for a path already taken; past that, it looks the path
/// up in a set, so that a candidate of 80,000 inline choices is not quadratic.
const CLAIMS_SCANNED: usize = 64;

struct Run<'a, 'd> {
    ip: &'a Interp<'a>,
    decider: Source<'d>,
    /// Hyperparameters without a value, in a frontier probe; named params among them.
    open: Vec<Hyper>,
    open_named: Vec<bool>,
    open_lets: Vec<bool>,
    made: Vec<Decision>,
    named: Vec<Option<Value>>,
    lets: Vec<Option<Value>>,
    nodes: Vec<Node>,
    /// Past [`CLAIMS_SCANNED`] decisions: the addresses of the paths claimed, and how many
    /// of `made` and `open` they hold.
    claimed: (rustc_hash::FxHashSet<usize>, (usize, usize)),
    nodes_made: usize,
    facts: Option<DataFacts>,
    metrics: Option<Cost>,
    depth: usize,
    steps: u64,
    /// The compiled space, in a full build of a space that has one.
    program: Option<&'a compile::Program<'a>>,
    /// Its slots.
    frame: Vec<compile::Slot>,
    /// In the compiled program: what the architecture's hash writes for the nodes made
    /// so far, in order (the hash of a canonical graph that kept them all, in that order).
    bytes: Vec<u8>,
    /// In the compiled program: per call site whose arguments are the same all through a
    /// build, the node it last worked out in full in this build.
    memo: Vec<Option<compile::Memo>>,
    /// In the compiled program: the interpreter's table of nodes known from earlier builds.
    known: compile::Table,
}

impl<'a> Run<'a, '_> {
    fn err<X>(&self, message: impl Into<String>, span: Span, label: &str, path: &str) -> R<X> {
        Err(Halt::Error(Box::new(BuildError {
            message: message.into(),
            span,
            label: label.into(),
            path: path.into(),
            decisions: String::new(),
        })))
    }

    fn space_env(&self) -> Env<'a> {
        Env {
            head: None,
            file: self.ip.space.file,
            space: true,
        }
    }

    /// The build; `None` in a frontier probe that leaves something open.
    fn go(&mut self) -> R<Option<Arch>> {
        let ip = self.ip;
        let space = ip.space;
        let mut open = false;
        for i in 0..space.params.len() {
            if !ip.conditional[i] {
                soft(self.param(i), &mut open)?;
            }
        }
        let program = self.program;
        // A data source that no hyperparameter reaches is the same in every build: it
        // is resolved once and kept.
        let constant_data = program.is_some_and(|p| p.data_constant);
        let cached = match constant_data {
            true => ip.data_cache.borrow().clone(),
            false => None,
        };
        let facts = match (&space.data, cached) {
            (_, Some(f)) => Some(f),
            (Some(e), None) => match soft(
                match program.and_then(|p| Some((p.data.as_ref()?, p.data_path))) {
                    Some((code, at)) => self.v(code, at),
                    None => self.value(e, &self.space_env(), "data"),
                },
                &mut open,
            )? {
                Some(v) => match DataFacts::of(v) {
                    Ok(f) => {
                        if constant_data {
                            *ip.data_cache.borrow_mut() = Some(f.clone());
                        }
                        Some(f)
                    }
                    Err(m) => return self.err(m, e.span, "data source", "data"),
                },
                None => None,
            },
            (None, None) => Some(DataFacts::default_text()),
        };
        self.facts = facts;
        for &k in &ip.early {
            self.require(k)?;
        }
        let Some(graph) = &space.graph else {
            return self.err("the space has no graph", space.span, "no graph", "");
        };
        let input = match self.facts.as_ref().map(|f| f.input) {
            Some(shape) => {
                if program.is_some() {
                    ir::write_node(&mut self.bytes, ip.input, &[], &[]);
                }
                self.node(
                    ip.input,
                    Vec::new(),
                    ir::Inputs::new(),
                    shape,
                    Cost::default(),
                    self.ip.text(ip.segs.input),
                )
            }
            None => unknown(),
        };
        let out = match program {
            Some(p) => self.g(&p.graph, input, ROOT)?,
            None => self.apply(graph, &self.space_env(), input, "")?,
        };
        let mut train = Vec::new();
        match program {
            Some(p) => {
                for (name, here, code) in &p.train {
                    let v = self.v(code, *here)?;
                    train.push((*name, v));
                }
            }
            None => {
                for f in &space.train {
                    let here = join("train", &f.name.name);
                    let v = self.value(&f.value, &self.space_env(), &here);
                    if let Some(v) = soft(v, &mut open)? {
                        train.push((ip.name_of(&f.name.name), v));
                    }
                }
            }
        }
        let Some(facts) = self.facts.take() else {
            return Ok(None);
        };
        if open || out.node == UNKNOWN || !self.open.is_empty() {
            return Ok(None);
        }
        self.nodes_made = self.nodes.len();
        let nodes = ir::canonical(std::mem::take(&mut self.nodes), out.node);
        let metrics = nodes.iter().fold(Cost::default(), |a, n| a.plus(n.cost));
        self.metrics = Some(metrics);
        for (k, cond) in &ip.on_metrics {
            if cond.iter().all(|d| self.named[*d].is_some()) {
                self.require(*k)?;
            }
        }
        // Dependent values whose hyperparameters are all active.
        let mut values: Vec<(Name, Value)> = Vec::with_capacity(ip.value_names.len());
        for (i, v) in self.named.iter().enumerate() {
            if let Some(v) = v {
                values.push((ip.value_names[i], v.clone()));
            }
        }
        for (i, l) in space.lets.iter().enumerate() {
            if ip.let_deps[i].iter().all(|d| self.named[*d].is_some()) {
                let v = self.let_value(i, l.value.span)?;
                values.push((ip.value_names[space.params.len() + i], v));
            }
        }
        // The compiled program wrote the nodes as it made them; that is the canonical
        // graph's when canonical kept every node where it was.
        let kept = nodes.len() == self.nodes_made && out.node as usize + 1 == self.nodes_made;
        let hash = match program {
            Some(_) if kept => ir::finish(&mut self.bytes, &facts.source, &train),
            _ => ir::hash(&nodes, &facts.source, &train),
        };
        Ok(Some(Arch {
            space: space.name.clone(),
            assignment: std::mem::take(&mut self.made),
            values,
            data: facts.source,
            train,
            nodes,
            metrics,
            hash,
        }))
    }

    fn require(&mut self, k: usize) -> R<()> {
        let r = &self.ip.space.requires[k];
        let env = self.space_env();
        let mut open = false;
        let v = match self.program {
            Some(p) => match self.v_scalar(&p.requires[k]) {
                Some(s) => Ok(s.value()),
                None => self.v(&p.requires[k], ROOT),
            },
            None => self.value(&r.cond, &env, ""),
        };
        let Some(v) = soft(v, &mut open)? else {
            // Over an open hyperparameter: it applies once that has a value.
            return Ok(());
        };
        match v {
            Value::Bool(true) => Ok(()),
            Value::Bool(false) => Err(Halt::Reject(Box::new(Rejection {
                constraint: Some(k),
                text: r.text.clone(),
                span: r.span,
            }))),
            other => self.err(
                format!("the constraint gives `{other}`, not a boolean"),
                r.span,
                "not a boolean",
                "",
            ),
        }
    }

    /// Claims path `path` for a hyperparameter of this candidate; a second one at the same
    /// place (two `optional`s in one block) gets `#2`. The path claimed, and its number.
    fn claim(&mut self, path: PathId) -> (Path, PathId) {
        // Every path a build makes is one of `Interp::paths`, so one that is taken is the
        // very string already held: its address tells it.
        let first = self.ip.text(path);
        let many = self.made.len() + self.open.len() > CLAIMS_SCANNED;
        if many {
            // A candidate of many decisions looks them up in a set, kept up to date with
            // the decisions made since the last claim.
            let (made, open) = self.claimed.1;
            let new = self.made[made..].iter().map(|d| &d.hyper.path);
            let new = new.chain(self.open[open..].iter().map(|h| &h.path));
            self.claimed.0.extend(new.map(address));
            self.claimed.1 = (self.made.len(), self.open.len());
        }
        let taken = |run: &Self, p: &Path| match many {
            true => run.claimed.0.contains(&address(p)),
            false => {
                run.made.iter().any(|d| Rc::ptr_eq(&d.hyper.path, p))
                    || run.open.iter().any(|h| Rc::ptr_eq(&h.path, p))
            }
        };
        if !taken(self, &first) {
            return (first, path);
        }
        (2u64..)
            .map(|k| self.ip.path_id(&format!("{first}#{k}")))
            .map(|id| (self.ip.text(id), id))
            .find(|(p, _)| !taken(self, p))
            .unwrap_or((first, path))
    }

    /// Claims `path` for an inline hyperparameter (a choice, a distribution, an
    /// `optional`) of `domain` and decides it; the pick and the path claimed.
    fn decide_at(&mut self, path: PathId, domain: Rc<Domain>, span: Span) -> R<(Pick, PathId)> {
        let (path, id) = self.claim(path);
        let hyper = Hyper {
            path,
            named: false,
            domain,
        };
        Ok((self.decide(hyper, span)?, id))
    }

    /// Decides `hyper`.
    fn decide(&mut self, hyper: Hyper, span: Span) -> R<Pick> {
        let answer = match &mut self.decider {
            Source::Full(d) => d.decide(&hyper, &self.made),
            Source::Partial(g) => match g.given(&hyper) {
                Ok(Some(pick)) => Ok(pick),
                Ok(None) => {
                    self.open.push(hyper);
                    return Err(Halt::Open);
                }
                Err(m) => Err(m),
            },
        };
        match answer {
            Ok(pick) if hyper.domain.contains(&pick) => {
                self.made.push(Decision { hyper, pick });
                Ok(pick)
            }
            Ok(pick) => self.err(
                format!(
                    "the value {} for `{}` is outside its domain {}",
                    pick.to_json(),
                    hyper.path,
                    hyper.domain
                ),
                span,
                "this hyperparameter",
                &hyper.path,
            ),
            Err(m) => self.err(m, span, "this hyperparameter", &hyper.path),
        }
    }

    fn param(&mut self, i: usize) -> R<Value> {
        if let Some(v) = &self.named[i] {
            return Ok(v.clone());
        }
        if self.open_named[i] {
            return Err(Halt::Open);
        }
        let ip = self.ip;
        let p = &ip.space.params[i];
        let pick = match self.decide(ip.hypers[i].clone(), p.span) {
            Err(Halt::Open) => {
                self.open_named[i] = true;
                return Err(Halt::Open);
            }
            r => r?,
        };
        let float = ip.float[i];
        let v = match pick {
            Pick::Index(k) => ip.choices[i][k as usize].clone(),
            Pick::Int(v) if float => Value::Float(v as f64),
            Pick::Int(v) => Value::Int(v),
            Pick::Float(v) => Value::Float(v),
            Pick::On(b) => Value::Bool(b),
        };
        let v = match (float, v) {
            (true, Value::Int(x)) => Value::Float(x as f64),
            (_, v) => v,
        };
        self.named[i] = Some(v.clone());
        // A constraint is checked as soon as its hyperparameters are all decided.
        for (k, cond) in &ip.late {
            if cond.contains(&i) && cond.iter().all(|d| self.named[*d].is_some()) {
                self.require(*k)?;
            }
        }
        Ok(v)
    }

    fn let_value(&mut self, i: usize, span: Span) -> R<Value> {
        if let Some(v) = &self.lets[i] {
            return Ok(v.clone());
        }
        if self.open_lets[i] {
            return Err(Halt::Open);
        }
        let l = &self.ip.space.lets[i];
        let v = match self.nested(span, |run| match run.program {
            Some(p) => run.v(&p.lets[i], p.let_paths[i]),
            None => run.value(&l.value, &run.space_env(), &l.name),
        }) {
            Err(Halt::Open) => {
                // Evaluated once, as in a build: its open choices are listed once.
                self.open_lets[i] = true;
                return Err(Halt::Open);
            }
            r => r?,
        };
        self.lets[i] = Some(v.clone());
        Ok(v)
    }

    /// The static metric `name` of the graph just built, as a value of the language.
    fn metric_value(&self, name: &str, span: Span, path: &str) -> R<Value> {
        let Some(m) = self.metrics else {
            return self.err(
                "metrics are known only once the graph is built",
                span,
                "here",
                path,
            );
        };
        match static_metric(m, name) {
            Some(v) => Ok(Value::Int(v)),
            None => self.err(
                format!("`{name}` is measured by training"),
                span,
                "not static",
                path,
            ),
        }
    }

    /// A builtin's rule `cond` by the general evaluator, over the arguments `vals` of its
    /// parameters `params` and the input's `width`: what a compiled rule does not decide.
    fn rule_value(
        &mut self,
        cond: &'a Expr,
        file: FileId,
        params: &'a [ast::FnParam],
        vals: &[(Name, Value)],
        width: Option<i64>,
        path: &str,
    ) -> R<Value> {
        let mut renv = Env {
            head: None,
            file,
            space: false,
        };
        if let Some(w) = width {
            renv = renv.with("width", B::Value(Value::Int(w)));
        }
        for (p, (_, v)) in params.iter().zip(vals) {
            renv = renv.with(&p.name.name, B::Value(v.clone()));
        }
        self.value(cond, &renv, path)
    }

    fn probing(&self) -> bool {
        matches!(self.decider, Source::Partial(_))
    }

    /// The build is past its nesting or size limit at `span`.
    fn too_big<X>(&self, span: Span) -> R<X> {
        self.err(
            "the architecture expands too much to build (nesting or size)",
            span,
            "while expanding this",
            "",
        )
    }

    fn nested<X>(&mut self, span: Span, f: impl FnOnce(&mut Self) -> R<X>) -> R<X> {
        self.steps += 1;
        if self.depth >= MAX_DEPTH || self.steps > MAX_STEPS {
            return self.too_big(span);
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // ---- values -------------------------------------------------------------------

    fn value(&mut self, e: &'a Expr, env: &Env<'a>, path: &str) -> R<Value> {
        // Literals need no scope, no path and no nesting.
        if let Some(v) = const_value(e) {
            return Ok(v);
        }
        self.nested(e.span, |run| run.value_inner(e, env, path))
    }

    fn value_inner(&mut self, e: &'a Expr, env: &Env<'a>, path: &str) -> R<Value> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Value::Int(*v)),
            ExprKind::Float(v) => Ok(Value::Float(*v)),
            ExprKind::Bool(v) => Ok(Value::Bool(*v)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Data => self.err(
                "`data` alone is not a value",
                e.span,
                "use `data.vocab`",
                path,
            ),
            ExprKind::Member(base, field) => {
                if !matches!(base.kind, ExprKind::Data) {
                    return self.err("only `data.field` can be read", e.span, "not data", path);
                }
                if self.facts.is_none() && self.probing() {
                    return Err(Halt::Open);
                }
                match self.facts.as_ref().and_then(|f| f.field(&field.name)) {
                    Some(v) => Ok(v),
                    None => self.err(
                        format!("the data source has no `{}`", field.name),
                        field.span,
                        "unknown here",
                        path,
                    ),
                }
            }
            ExprKind::Name(id) => self.name_value(id, env, e.span, path),
            ExprKind::Unary(op, x) => {
                let v = self.value(x, env, path)?;
                match (op, v) {
                    (UnOp::Neg, Value::Int(x)) => match x.checked_neg() {
                        Some(v) => Ok(Value::Int(v)),
                        None => self.err("arithmetic overflow", e.span, "here", path),
                    },
                    (UnOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
                    (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
                    (_, v) => self.err(
                        format!("cannot apply `{op:?}` to `{v}`"),
                        e.span,
                        "here",
                        path,
                    ),
                }
            }
            ExprKind::Binary(op, l, r) => {
                let mut open = false;
                let a = soft(self.value(l, env, path), &mut open)?;
                if let (BinOp::And | BinOp::Or, Some(Value::Bool(x))) = (op, &a) {
                    if (*op == BinOp::And) != *x {
                        return Ok(Value::Bool(*x));
                    }
                }
                let b = soft(self.value(r, env, path), &mut open)?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Err(Halt::Open);
                };
                match arith(*op, &a, &b) {
                    Ok(v) => Ok(v),
                    Err(m) => self.err(m, e.span, "here", path),
                }
            }
            ExprKind::If(c, t, o) => match self.value(c, env, path)? {
                Value::Bool(true) => self.value(t, env, path),
                Value::Bool(false) => match o {
                    Some(o) => self.value(o, env, path),
                    None => self.err("an `if` without `else` has no value", e.span, "here", path),
                },
                other => self.err(
                    format!("the condition is `{other}`"),
                    c.span,
                    "not a boolean",
                    path,
                ),
            },
            ExprKind::Block(stmts) => {
                let mut env = env.clone();
                let mut result = None;
                for s in stmts {
                    match s {
                        Stmt::Let(l) => {
                            let here = join(path, &l.name.name);
                            let mut open = false;
                            let b = match soft(self.value(&l.value, &env, &here), &mut open)? {
                                Some(v) => B::Value(v),
                                None => B::Unknown,
                            };
                            env = env.with(&l.name.name, b);
                        }
                        Stmt::Expr(x) => result = Some(self.value(x, &env, path)?),
                        Stmt::Require(_) => {}
                    }
                }
                match result {
                    Some(v) => Ok(v),
                    None => self.err("the block has no value", e.span, "here", path),
                }
            }
            ExprKind::Call(callee, args) => self.call_value(e, callee, args, env, path),
            ExprKind::Repeat(..) | ExprKind::Optional(_) | ExprKind::Residual(_) => self.err(
                "a graph where a value is expected",
                e.span,
                "not a value",
                path,
            ),
        }
    }

    fn name_value(
        &mut self,
        id: &'a ast::Ident,
        env: &Env<'a>,
        span: Span,
        path: &str,
    ) -> R<Value> {
        match env.get(&id.name) {
            Some(B::Value(v)) => return Ok(v.clone()),
            Some(B::Unknown) => return Err(Halt::Open),
            Some(_) => {
                return self.err(
                    format!("`{}` is not a value", id.name),
                    span,
                    "a module or tensor",
                    path,
                )
            }
            None => {}
        }
        if env.space {
            if let Some(&i) = self.ip.params_by_name.get(id.name.as_str()) {
                return self.param(i);
            }
            if let Some(&i) = self.ip.lets_by_name.get(id.name.as_str()) {
                return self.let_value(i, span);
            }
        }
        // An enum symbol, with the defaults of its payload.
        self.symbol(&id.name, &[], env, span, path)
    }

    /// An enum symbol `name(args)`: the payload named after the variant's parameters,
    /// defaults filled in.
    fn symbol(
        &mut self,
        name: &'a str,
        args: &'a [ast::Arg],
        env: &Env<'a>,
        span: Span,
        path: &str,
    ) -> R<Value> {
        let checked = self.ip.checked;
        let variant = self
            .ip
            .lookup(env.file, name)
            .and_then(|r| match checked.item(r) {
                Item::Enum(def) => def
                    .variants
                    .iter()
                    .find(|v| v.name.name == name)
                    .map(|v| (v, r.file)),
                _ => None,
            });
        let Some((variant, file)) = variant else {
            // A symbol the checker accepted without an enum (a bare `enum` domain).
            let mut payload = Vec::new();
            let mut open = false;
            for (k, a) in args.iter().enumerate() {
                let key = a
                    .name
                    .as_ref()
                    .map_or_else(|| k.to_string(), |n| n.name.clone());
                let here = join(path, &join(name, &key));
                if let Some(v) = soft(self.value(&a.value, env, &here), &mut open)? {
                    payload.push((key.into(), v));
                }
            }
            if open {
                return Err(Halt::Open);
            }
            return Ok(Value::Sym(self.ip.name_of(name), payload));
        };
        let payload =
            self.bind_values(&variant.params, args, env, file, span, &join(path, name))?;
        Ok(Value::Sym(self.ip.name_of(name), payload))
    }

    /// Binds call arguments to declared value parameters, evaluating each once (a
    /// missing one takes its default).
    fn bind_values(
        &mut self,
        params: &'a [ast::FnParam],
        args: &'a [ast::Arg],
        env: &Env<'a>,
        decl_file: FileId,
        span: Span,
        here: &str,
    ) -> R<Vec<(Name, Value)>> {
        let slots = self.ip.slots(params, args);
        let names = self.ip.param_names(params);
        let mut out = Vec::with_capacity(params.len());
        let mut open = false;
        for ((p, slot), name) in params.iter().zip(slots.iter()).zip(names.iter()) {
            let v = match slot.map(|k| &args[k as usize]) {
                Some(a) => {
                    let seg = arg_path(a, here, &p.name.name);
                    match soft(self.value(&a.value, env, &seg), &mut open)? {
                        Some(v) => v,
                        None => continue,
                    }
                }
                None => match &p.default {
                    Some(d) => {
                        let denv = Env {
                            head: None,
                            file: decl_file,
                            space: false,
                        };
                        self.value(d, &denv, here)?
                    }
                    None => {
                        return self.err(
                            format!("no value for `{}`", p.name.name),
                            span,
                            "missing argument",
                            here,
                        )
                    }
                },
            };
            out.push((*name, coerce(&p.ty.name, v)));
        }
        if open {
            return Err(Halt::Open);
        }
        Ok(out)
    }

    fn call_value(
        &mut self,
        e: &'a Expr,
        callee: &'a Expr,
        args: &'a [ast::Arg],
        env: &Env<'a>,
        path: &str,
    ) -> R<Value> {
        let ExprKind::Name(id) = &callee.kind else {
            return self.err("only names can be called", callee.span, "not a name", path);
        };
        let name = id.name.as_str();
        match name {
            "choice" => {
                let domain = self.ip.choice_domain(e, args);
                let (p, _) = self.claim(self.ip.path_id(path));
                let hyper = Hyper {
                    path: p.clone(),
                    named: false,
                    domain,
                };
                let Pick::Index(k) = self.decide(hyper, e.span)? else {
                    return self.err("a choice needs an index", e.span, "here", path);
                };
                return self.value(&args[k as usize].value, env, &p);
            }
            "range" | "uniform" | "log_uniform" => {
                let mut nums = Vec::new();
                let mut q = None;
                let mut open = false;
                for a in args {
                    let Some(v) = soft(self.value(&a.value, env, path), &mut open)? else {
                        continue;
                    };
                    if a.name.as_ref().is_some_and(|n| n.name == "q") {
                        q = v.as_f64();
                    } else {
                        nums.push(v);
                    }
                }
                if open {
                    return Err(Halt::Open);
                }
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
                    _ => return self.err(format!("invalid `{name}` bounds"), e.span, "here", path),
                };
                return Ok(
                    match self
                        .decide_at(self.ip.path_id(path), Rc::new(domain), e.span)?
                        .0
                    {
                        Pick::Int(v) => Value::Int(v),
                        Pick::Float(v) => Value::Float(v),
                        Pick::Index(k) => Value::Int(i64::from(k)),
                        Pick::On(b) => Value::Bool(b),
                    },
                );
            }
            "min" | "max" | "abs" | "int" | "float" | "log2" | "sqrt" => {
                let mut vals = Vec::new();
                let mut open = false;
                for a in args {
                    vals.extend(soft(self.value(&a.value, env, path), &mut open)?);
                }
                if open {
                    return Err(Halt::Open);
                }
                return match math(name, &vals) {
                    Some(v) => Ok(v),
                    None => self.err(
                        format!("`{name}` of these values is undefined"),
                        e.span,
                        "here",
                        path,
                    ),
                };
            }
            _ => {}
        }
        let checked = self.ip.checked;
        match self.ip.lookup(env.file, name).map(|r| (r, checked.item(r))) {
            Some((_, Item::Builtin(b))) if b.kind == BuiltinKind::Metric => {
                self.metric_value(name, e.span, path)
            }
            Some((r, Item::Builtin(b)))
                if matches!(b.kind, BuiltinKind::Dataset | BuiltinKind::Optimizer) =>
            {
                let payload =
                    self.bind_values(&b.params, args, env, r.file, e.span, &join(path, name))?;
                Ok(Value::Sym(self.ip.name_of(name), payload))
            }
            Some((r, Item::Fn(def))) => {
                let fenv = self.bind_fn(def, r.file, args, env, None, path)?;
                self.value(&def.body, &fenv, &join(path, name))
            }
            _ => self.symbol(name, args, env, e.span, path),
        }
    }

    // ---- graphs -------------------------------------------------------------------

    /// The shape of `t`: its node's (an unknown tensor's is never read).
    fn shape(&self, t: T) -> Shape {
        match self.nodes.get(t.node as usize) {
            Some(n) => n.shape,
            None => Shape::Vector { width: 0 },
        }
    }

    fn node(
        &mut self,
        op: Name,
        args: Vec<(Name, Value)>,
        inputs: ir::Inputs,
        shape: Shape,
        cost: Cost,
        path: Path,
    ) -> T {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            op,
            args,
            inputs,
            shape,
            cost,
            path,
        });
        T { node: id }
    }

    fn is_tensor(&self, e: &Expr, env: &Env<'a>) -> bool {
        match &e.kind {
            ExprKind::Name(id) => matches!(env.get(&id.name), Some(B::Tensor(_))),
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_tensor(l, env),
            ExprKind::Call(c, _) => {
                matches!(&c.kind, ExprKind::Name(id) if id.name == "concat" || id.name == "add")
            }
            _ => false,
        }
    }

    fn is_module(&self, e: &'a Expr, env: &Env<'a>) -> bool {
        let item_is_module = |name: &'a str| {
            self.ip
                .lookup(env.file, name)
                .is_some_and(|r| is_module_item(self.ip.checked.item(r)))
        };
        match &e.kind {
            ExprKind::Repeat(..)
            | ExprKind::Optional(..)
            | ExprKind::Residual(..)
            | ExprKind::Block(_) => true,
            ExprKind::Binary(BinOp::Seq, l, _) => self.is_module(l, env),
            ExprKind::If(_, t, _) => self.is_module(t, env) || self.is_tensor(t, env),
            ExprKind::Name(id) => match env.get(&id.name) {
                Some(B::Module(_)) => true,
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

    /// A tensor expression: a named tensor, `x >> f`, `concat(...)`, `add(...)`.
    fn tensor(&mut self, e: &'a Expr, env: &Env<'a>, flow: T, path: &str) -> R<T> {
        match &e.kind {
            ExprKind::Name(id) => match env.get(&id.name) {
                Some(B::Tensor(t)) => Ok(*t),
                _ => self.err(
                    format!("`{}` is not a tensor", id.name),
                    e.span,
                    "here",
                    path,
                ),
            },
            ExprKind::Binary(BinOp::Seq, l, r) => {
                let t = self.tensor(l, env, flow, path)?;
                self.apply(r, env, t, path)
            }
            ExprKind::Call(c, args) => {
                let ExprKind::Name(id) = &c.kind else {
                    return self.err("not a tensor", e.span, "here", path);
                };
                let mut parts = Vec::with_capacity(args.len());
                for a in args {
                    let t = if self.is_tensor(&a.value, env) {
                        self.tensor(&a.value, env, flow, path)?
                    } else {
                        self.apply(&a.value, env, flow, path)?
                    };
                    parts.push(t);
                }
                if parts.iter().any(|t| t.node == UNKNOWN) {
                    return Ok(unknown());
                }
                let shapes: Vec<Shape> = parts.iter().map(|t| self.shape(*t)).collect();
                match metrics::join(&id.name, &shapes) {
                    Ok((shape, cost)) => {
                        let inputs = parts.iter().map(|t| t.node).collect();
                        Ok(self.node(
                            self.ip.name_of(&id.name),
                            Vec::new(),
                            inputs,
                            shape,
                            cost,
                            self.ip.text(self.ip.path_id(&join(path, &id.name))),
                        ))
                    }
                    Err(m) => self.err(m, e.span, "cannot join these", path),
                }
            }
            _ => self.err("not a tensor", e.span, "here", path),
        }
    }

    /// Applies a module expression to `input`.
    fn apply(&mut self, e: &'a Expr, env: &Env<'a>, input: T, path: &str) -> R<T> {
        unbuilt_if_open(self.nested(e.span, |run| run.apply_inner(e, env, input, path)))
    }

    fn apply_inner(&mut self, e: &'a Expr, env: &Env<'a>, input: T, path: &str) -> R<T> {
        if self.nodes.len() > MAX_NODES {
            return self.err(
                "the architecture has more than a million nodes",
                e.span,
                "while expanding this",
                path,
            );
        }
        match &e.kind {
            ExprKind::Binary(BinOp::Seq, l, r) => {
                let t = if self.is_tensor(l, env) {
                    self.tensor(l, env, input, path)?
                } else {
                    self.apply(l, env, input, path)?
                };
                self.apply(r, env, t, path)
            }
            ExprKind::Block(stmts) => {
                let env = if self.ip.reads_input(e) {
                    env.with("input", B::Tensor(input))
                } else {
                    env.clone()
                };
                self.block(stmts, env, input, path)
            }
            ExprKind::Repeat(count, body) => {
                let seg = match &count.kind {
                    ExprKind::Name(id) => id.name.as_str(),
                    _ => "repeat",
                };
                let n = match self.value(count, env, &join_tail(path, seg, ".count", None))? {
                    Value::Int(n) if n >= 0 => n,
                    other => {
                        return self.err(
                            format!("a repeat count of `{other}`"),
                            count.span,
                            "not a non-negative integer",
                            path,
                        )
                    }
                };
                let mut t = input;
                for i in 0..n {
                    t = self.apply(body, env, t, &join_tail(path, seg, "", Some(i)))?;
                }
                Ok(t)
            }
            ExprKind::Optional(body) => {
                let on_off = self.ip.on_off.clone();
                let at = self.ip.path_id(&join(path, "optional"));
                match self.decide_at(at, on_off, e.span)?.0 {
                    Pick::On(true) => self.apply(body, env, input, path),
                    _ => Ok(input),
                }
            }
            ExprKind::Residual(body) => {
                let out = self.apply(body, env, input, path)?;
                if out.node == UNKNOWN || input.node == UNKNOWN {
                    return Ok(unknown());
                }
                match metrics::add(self.shape(input), self.shape(out)) {
                    Ok((shape, cost)) => Ok(self.node(
                        self.ip.add,
                        Vec::new(),
                        smallvec::smallvec![input.node, out.node],
                        shape,
                        cost,
                        self.ip.text(self.ip.path_id(&join(path, "residual"))),
                    )),
                    Err(m) => self.err(m, e.span, "the body changes the shape", path),
                }
            }
            ExprKind::If(c, t, o) => match self.value(c, env, path)? {
                Value::Bool(true) => self.graph_or_tensor(t, env, input, path),
                Value::Bool(false) => match o {
                    Some(o) => self.graph_or_tensor(o, env, input, path),
                    None => Ok(input),
                },
                other => self.err(
                    format!("the condition is `{other}`"),
                    c.span,
                    "not a boolean",
                    path,
                ),
            },
            ExprKind::Name(id) => match env.get(&id.name).cloned() {
                Some(B::Module(t)) => self.apply(t.expr, &t.env, input, &t.path),
                Some(B::Tensor(t)) => Ok(t),
                Some(B::Unknown) => Err(Halt::Open),
                Some(B::Value(v)) => self.err(
                    format!("`{}` is the value `{v}`, not a module", id.name),
                    e.span,
                    "not a module",
                    path,
                ),
                None => self.call_module(e, id, &[], env, input, path),
            },
            ExprKind::Call(callee, args) => {
                let ExprKind::Name(id) = &callee.kind else {
                    return self.err("only names can be called", callee.span, "not a name", path);
                };
                match id.name.as_str() {
                    "choice" => {
                        let domain = self.ip.choice_domain(e, args);
                        let (p, _) = self.claim(self.ip.path_id(&join(path, "choice")));
                        let hyper = Hyper {
                            path: p.clone(),
                            named: false,
                            domain,
                        };
                        let Pick::Index(k) = self.decide(hyper, e.span)? else {
                            return self.err("a choice needs an index", e.span, "here", path);
                        };
                        let alt = join_tail("", &p, "", Some(i64::from(k)));
                        self.apply(&args[k as usize].value, env, input, &alt)
                    }
                    "concat" | "add" => self.tensor(e, env, input, path),
                    _ => self.call_module(e, id, args, env, input, path),
                }
            }
            _ => self.err(
                "a value where a module is expected",
                e.span,
                "not a module",
                path,
            ),
        }
    }

    fn graph_or_tensor(&mut self, e: &'a Expr, env: &Env<'a>, input: T, path: &str) -> R<T> {
        if self.is_tensor(e, env) {
            self.tensor(e, env, input, path)
        } else {
            self.apply(e, env, input, path)
        }
    }

    fn block(&mut self, stmts: &'a [Stmt], mut env: Env<'a>, input: T, path: &str) -> R<T> {
        let mut cur = input;
        let mut seen: Vec<(&str, usize)> = Vec::new();
        for s in stmts {
            match s {
                Stmt::Let(l) => {
                    let here = join(path, &l.name.name);
                    let b = if self.is_tensor(&l.value, &env) {
                        B::Tensor(self.tensor(&l.value, &env, cur, &here)?)
                    } else if self.is_module(&l.value, &env) {
                        B::Module(Template {
                            expr: &l.value,
                            env: env.clone(),
                            path: here.into(),
                        })
                    } else {
                        let mut open = false;
                        match soft(self.value(&l.value, &env, &here), &mut open)? {
                            Some(v) => B::Value(v),
                            None => B::Unknown,
                        }
                    };
                    env = env.with(&l.name.name, b);
                }
                Stmt::Expr(x) => {
                    // The second call of `f` in one block is `f#2`, as `nasc check` lists it.
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
                    let alias = (n > 1 && !seg.is_empty()).then(|| format!("{seg}#{n}"));
                    cur = if self.is_tensor(x, &env) {
                        self.tensor(x, &env, cur, path)?
                    } else {
                        match alias {
                            Some(a) => self.apply_as(x, &env, cur, path, &a)?,
                            None => self.apply(x, &env, cur, path)?,
                        }
                    };
                }
                Stmt::Require(r) => match soft(self.value(&r.cond, &env, path), &mut false)? {
                    Some(Value::Bool(true)) | None => {}
                    _ => {
                        let text = self.ip.checked.program.sources.snippet(r.cond.span);
                        return Err(Halt::Reject(Box::new(Rejection {
                            constraint: None,
                            text,
                            span: r.span,
                        })));
                    }
                },
            }
        }
        Ok(cur)
    }

    /// Applies a call statement under another name (`f#2`).
    fn apply_as(&mut self, e: &'a Expr, env: &Env<'a>, input: T, path: &str, alias: &str) -> R<T> {
        match &e.kind {
            ExprKind::Call(callee, args) => match &callee.kind {
                ExprKind::Name(id) if !matches!(id.name.as_str(), "choice" | "concat" | "add") => {
                    unbuilt_if_open(self.nested(e.span, |run| {
                        run.call_module_named(e, id, args, env, input, path, alias)
                    }))
                }
                _ => self.apply(e, env, input, path),
            },
            _ => self.apply(e, env, input, path),
        }
    }

    fn call_module(
        &mut self,
        e: &'a Expr,
        id: &'a ast::Ident,
        args: &'a [ast::Arg],
        env: &Env<'a>,
        input: T,
        path: &str,
    ) -> R<T> {
        self.call_module_named(e, id, args, env, input, path, &id.name)
    }

    #[allow(clippy::too_many_arguments)]
    fn call_module_named(
        &mut self,
        e: &'a Expr,
        id: &'a ast::Ident,
        args: &'a [ast::Arg],
        env: &Env<'a>,
        input: T,
        path: &str,
        shown: &str,
    ) -> R<T> {
        let checked = self.ip.checked;
        let here = join(path, shown);
        match self
            .ip
            .lookup(env.file, &id.name)
            .map(|r| (r, checked.item(r)))
        {
            Some((r, Item::Fn(def))) => {
                let fenv = self.bind_fn(def, r.file, args, env, Some(input), &here)?;
                self.apply(&def.body, &fenv, input, &here)
            }
            Some((r, Item::Builtin(b))) if b.kind == BuiltinKind::Module => {
                let vals = self.bind_values(&b.params, args, env, r.file, e.span, &here)?;
                if input.node == UNKNOWN {
                    return Ok(unknown());
                }
                // The module's own rules, with `width` the input's features.
                let width = self.shape(input).features();
                let compiled = self.ip.rules(b);
                for (rule, fast) in b.requires.iter().zip(compiled.iter()) {
                    if width.is_none() && rule.cond.names().iter().any(|n| n.name == "width") {
                        continue;
                    }
                    let holds = match fast.as_ref().and_then(|f| f.eval(&vals, width)) {
                        Some(v) => Value::Bool(v),
                        None => {
                            self.rule_value(&rule.cond, r.file, &b.params, &vals, width, &here)?
                        }
                    };
                    if let Value::Bool(false) = holds {
                        let text = rule
                            .message
                            .clone()
                            .unwrap_or_else(|| checked.program.sources.snippet(rule.cond.span));
                        return Err(Halt::Reject(Box::new(Rejection {
                            constraint: None,
                            text: format!("{}: {text}", id.name),
                            span: e.span,
                        })));
                    }
                }
                match metrics::module(&id.name, &metrics::Args(&vals), &self.shape(input)) {
                    Ok((shape, cost)) => Ok(self.node(
                        self.ip.name_of(&id.name),
                        vals,
                        smallvec::smallvec![input.node],
                        shape,
                        cost,
                        self.ip.text(self.ip.path_id(&here)),
                    )),
                    Err(m) => self.err(m, e.span, "cannot be built here", &here),
                }
            }
            _ => self.err(
                format!("`{}` is not a module", id.name),
                e.span,
                "not a module",
                path,
            ),
        }
    }

    /// The environment of a function body: its parameters bound to the call's arguments
    /// (module arguments as templates, tensor arguments built, values evaluated once).
    fn bind_fn(
        &mut self,
        def: &'a ast::FnDef,
        file: FileId,
        args: &'a [ast::Arg],
        env: &Env<'a>,
        flow: Option<T>,
        here: &str,
    ) -> R<Env<'a>> {
        let slots = self.ip.slots(&def.params, args);
        let mut fenv = Env {
            head: None,
            file,
            space: false,
        };
        for (p, slot) in def.params.iter().zip(slots.iter()) {
            let (expr, eenv, seg) = match slot.map(|k| &args[k as usize]) {
                Some(a) => (&a.value, env.clone(), arg_path(a, here, &p.name.name)),
                None => match &p.default {
                    Some(d) => (
                        d,
                        Env {
                            head: None,
                            file,
                            space: false,
                        },
                        here.to_string(),
                    ),
                    None => {
                        return self.err(
                            format!("no value for `{}`", p.name.name),
                            def.span,
                            "missing argument",
                            here,
                        )
                    }
                },
            };
            let b = match p.ty.name.as_str() {
                "module" => B::Module(Template {
                    expr,
                    env: eenv,
                    path: here.into(),
                }),
                "tensor" => {
                    let Some(flow) = flow else {
                        return self.err(
                            "a tensor argument outside a graph",
                            expr.span,
                            "here",
                            here,
                        );
                    };
                    B::Tensor(self.graph_or_tensor(expr, &eenv, flow, here)?)
                }
                ty => {
                    let mut open = false;
                    match soft(self.value(expr, &eenv, &seg), &mut open)? {
                        Some(v) => B::Value(coerce(ty, v)),
                        None => B::Unknown,
                    }
                }
            };
            fenv = fenv.with(&p.name.name, b);
        }
        Ok(fenv)
    }
}

/// A builtin module's rule over its arguments and `width`, compiled once: literals,
/// parameters by position, `width`, and operators. Evaluating it builds no scope; `None`
/// from [`Rule::eval`] (an error, a missing value) leaves the rule to the general
/// evaluator, which reports it.
#[derive(Debug)]
enum Rule {
    Const(Scalar),
    Arg(usize),
    Width,
    Unary(UnOp, Box<Rule>),
    Binary(BinOp, Box<Rule>, Box<Rule>),
}

impl Rule {
    /// The compiled form of `e`, or `None` when it uses anything else (calls, `if`, ...).
    fn compile(e: &Expr, params: &[ast::FnParam]) -> Option<Rule> {
        Some(match &e.kind {
            ExprKind::Int(v) => Rule::Const(Scalar::Int(*v)),
            ExprKind::Float(v) => Rule::Const(Scalar::Float(*v)),
            ExprKind::Bool(v) => Rule::Const(Scalar::Bool(*v)),
            ExprKind::Name(id) => match params.iter().position(|p| p.name.name == id.name) {
                Some(k) => Rule::Arg(k),
                None if id.name == "width" => Rule::Width,
                None => return None,
            },
            ExprKind::Unary(op, x) => Rule::Unary(*op, Box::new(Rule::compile(x, params)?)),
            ExprKind::Binary(op, l, r) => Rule::Binary(
                *op,
                Box::new(Rule::compile(l, params)?),
                Box::new(Rule::compile(r, params)?),
            ),
            _ => return None,
        })
    }

    /// The rule's value for the module's arguments `vals` (in declaration order) on an
    /// input of `width` features.
    fn eval(&self, vals: &[(Name, Value)], width: Option<i64>) -> Option<bool> {
        match self.scalar(vals, width)? {
            Scalar::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn scalar(&self, vals: &[(Name, Value)], width: Option<i64>) -> Option<Scalar> {
        match self {
            Rule::Const(v) => Some(*v),
            Rule::Arg(k) => Scalar::of(&vals.get(*k)?.1),
            Rule::Width => width.map(Scalar::Int),
            Rule::Unary(op, x) => x.operand(vals, width)?.unary(*op),
            Rule::Binary(op, l, r) => {
                let a = l.operand(vals, width)?;
                if let Some(x) = a.short_circuit(*op) {
                    return Some(x);
                }
                a.op(*op, r.operand(vals, width)?).ok()
            }
        }
    }

    /// [`Rule::scalar`] with the leaves read in place, without a call.
    #[inline(always)]
    fn operand(&self, vals: &[(Name, Value)], width: Option<i64>) -> Option<Scalar> {
        match self {
            Rule::Const(v) => Some(*v),
            Rule::Arg(k) => Scalar::of(&vals.get(*k)?.1),
            Rule::Width => width.map(Scalar::Int),
            _ => self.scalar(vals, width),
        }
    }
}

/// A number or boolean in a compiled rule: [`arith`] on values that need no allocation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Scalar {
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    #[inline(always)]
    fn num(self) -> Option<f64> {
        match self {
            Scalar::Int(x) => Some(x as f64),
            Scalar::Float(x) => Some(x),
            Scalar::Bool(_) => None,
        }
    }

    /// A value that is a number or a boolean.
    #[inline(always)]
    fn of(v: &Value) -> Option<Scalar> {
        match v {
            Value::Int(x) => Some(Scalar::Int(*x)),
            Value::Float(x) => Some(Scalar::Float(*x)),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            _ => None,
        }
    }

    fn value(self) -> Value {
        match self {
            Scalar::Int(x) => Value::Int(x),
            Scalar::Float(x) => Value::Float(x),
            Scalar::Bool(b) => Value::Bool(b),
        }
    }

    /// `op self`; `None` for an operator that does not apply (or an overflow).
    fn unary(self, op: UnOp) -> Option<Scalar> {
        match (op, self) {
            (UnOp::Neg, Scalar::Int(x)) => x.checked_neg().map(Scalar::Int),
            (UnOp::Neg, Scalar::Float(x)) => Some(Scalar::Float(-x)),
            (UnOp::Not, Scalar::Bool(b)) => Some(Scalar::Bool(!b)),
            _ => None,
        }
    }

    /// The value of `self op ...` when the left operand alone decides it: `false and`,
    /// `true or`.
    #[inline(always)]
    fn short_circuit(self, op: BinOp) -> Option<Scalar> {
        match (op, self) {
            (BinOp::And, Scalar::Bool(false)) | (BinOp::Or, Scalar::Bool(true)) => Some(self),
            _ => None,
        }
    }

    /// `self op other`: the language's arithmetic, comparisons and logic on numbers and
    /// booleans.
    #[inline]
    fn op(self, op: BinOp, other: Scalar) -> Result<Scalar, ArithError> {
        use Scalar::{Bool, Float, Int};
        // Integers on both sides, the common case of rules and constraints: compared as
        // below (as floats, as the space's counting compares them), without the detour.
        if let (Int(x), Int(y)) = (self, other) {
            let (x, y) = (x as f64, y as f64);
            match op {
                BinOp::Eq => return Ok(Bool(x == y)),
                BinOp::Ne => return Ok(Bool(x != y)),
                BinOp::Lt => return Ok(Bool(x < y)),
                BinOp::Le => return Ok(Bool(x <= y)),
                BinOp::Gt => return Ok(Bool(x > y)),
                BinOp::Ge => return Ok(Bool(x >= y)),
                _ => {}
            }
        }
        Ok(match op {
            BinOp::And | BinOp::Or => match (self, other) {
                (Bool(x), Bool(y)) => Bool(if op == BinOp::And { x && y } else { x || y }),
                _ => return Err(ArithError::for_op(op)),
            },
            BinOp::Eq | BinOp::Ne => {
                let eq = match (self.num(), other.num()) {
                    (Some(x), Some(y)) => x == y,
                    _ => self == other,
                };
                Bool(eq == (op == BinOp::Eq))
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let (Some(x), Some(y)) = (self.num(), other.num()) else {
                    return Err(ArithError::for_op(op));
                };
                Bool(match op {
                    BinOp::Lt => x < y,
                    BinOp::Le => x <= y,
                    BinOp::Gt => x > y,
                    _ => x >= y,
                })
            }
            BinOp::Seq => return Err(ArithError::Seq),
            _ => match (self, other) {
                (Int(x), Int(y)) => {
                    if matches!(op, BinOp::Div | BinOp::Rem) && y == 0 {
                        return Err(ArithError::DivisionByZero);
                    }
                    let r = match op {
                        BinOp::Add => x.checked_add(y),
                        BinOp::Sub => x.checked_sub(y),
                        BinOp::Mul => x.checked_mul(y),
                        BinOp::Div => x.checked_div(y),
                        _ => x.checked_rem(y),
                    };
                    Int(r.ok_or(ArithError::Overflow)?)
                }
                _ => {
                    let (Some(x), Some(y)) = (self.num(), other.num()) else {
                        return Err(ArithError::for_op(op));
                    };
                    Float(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                        _ => x % y,
                    })
                }
            },
        })
    }
}

/// Why [`arith`] has no value.
#[derive(Clone, Copy, Debug)]
enum ArithError {
    NotBooleans,
    Incomparable,
    NoArithmetic,
    Seq,
    DivisionByZero,
    Overflow,
}

impl ArithError {
    /// The error of `op` on operands it does not apply to.
    fn for_op(op: BinOp) -> ArithError {
        match op {
            BinOp::And | BinOp::Or => ArithError::NotBooleans,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => ArithError::Incomparable,
            BinOp::Seq => ArithError::Seq,
            _ => ArithError::NoArithmetic,
        }
    }

    fn message(self, a: &Value, b: &Value) -> String {
        match self {
            ArithError::NotBooleans => format!("`{a}` and `{b}` are not booleans"),
            ArithError::Incomparable => format!("cannot compare `{a}` and `{b}`"),
            ArithError::NoArithmetic => format!("no arithmetic on `{a}` and `{b}`"),
            ArithError::Seq => "`>>` between values".into(),
            ArithError::DivisionByZero => "division by zero".into(),
            ArithError::Overflow => "arithmetic overflow".into(),
        }
    }
}

/// The path of a call argument, for the hyperparameters inside it; a literal or a name
/// holds none, so it needs no path.
fn arg_path(a: &ast::Arg, here: &str, param: &str) -> String {
    arg_path_kind(a, param).path(here)
}

/// [`arg_path`] decided once: which path an argument's hyperparameters get.
#[derive(Clone, Copy)]
enum ArgPath<'a> {
    /// A literal or a name, which holds none.
    Empty,
    /// A named argument: the call's path and the parameter.
    Join(&'a str),
    /// A positional one: the call's path.
    Here,
}

impl ArgPath<'_> {
    fn path(self, here: &str) -> String {
        match self {
            ArgPath::Empty => String::new(),
            ArgPath::Join(param) => join(here, param),
            ArgPath::Here => here.to_string(),
        }
    }
}

fn arg_path_kind<'a>(a: &ast::Arg, param: &'a str) -> ArgPath<'a> {
    match (&a.value.kind, &a.name) {
        (
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Bool(_)
            | ExprKind::Str(_)
            | ExprKind::Name(_)
            | ExprKind::Member(..),
            _,
        ) => ArgPath::Empty,
        (_, Some(_)) => ArgPath::Join(param),
        (_, None) => ArgPath::Here,
    }
}

fn call_name(e: &Expr) -> &str {
    match &e.kind {
        ExprKind::Call(c, _) => match &c.kind {
            ExprKind::Name(id) => id.name.as_str(),
            _ => "",
        },
        _ => "",
    }
}

/// An integer given where a float is declared becomes a float (so `rate = 0` and
/// `rate = 0.0` are the same architecture).
fn coerce(ty: &str, v: Value) -> Value {
    match ty {
        "float" => coerce_float(v),
        _ => v,
    }
}

/// [`coerce`] to a declared `float`.
fn coerce_float(v: Value) -> Value {
    match v {
        Value::Int(x) => Value::Float(x as f64),
        v => v,
    }
}

/// `a op b` on the language's values: [`Scalar::op`] on numbers and booleans; on other
/// values only `==` and `!=` (symbols compare by name).
fn arith(op: BinOp, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Some(x), Some(y)) = (Scalar::of(a), Scalar::of(b)) {
        return x.op(op, y).map(Scalar::value).map_err(|e| e.message(a, b));
    }
    match op {
        BinOp::Eq | BinOp::Ne => {
            let eq = match (a, b) {
                (Value::Sym(x, _), Value::Sym(y, _)) => x == y,
                _ => a == b,
            };
            Ok(Value::Bool(eq == (op == BinOp::Eq)))
        }
        _ => Err(ArithError::for_op(op).message(a, b)),
    }
}

fn math(name: &str, vals: &[Value]) -> Option<Value> {
    match (name, vals) {
        ("abs", [Value::Int(x)]) => x.checked_abs().map(Value::Int),
        ("abs", [Value::Float(x)]) => Some(Value::Float(x.abs())),
        ("int", [v]) => v.as_f64().map(|x| Value::Int(x as i64)),
        ("float", [v]) => v.as_f64().map(Value::Float),
        ("log2", [v]) => v.as_f64().map(|x| Value::Float(x.log2())),
        ("sqrt", [v]) => v.as_f64().map(|x| Value::Float(x.sqrt())),
        ("min" | "max", [first, rest @ ..]) => {
            let mut acc = first.clone();
            for v in rest {
                let pick_v = match (&acc, v) {
                    (Value::Int(a), Value::Int(b)) => (name == "min") == (b < a),
                    _ => {
                        let (a, b) = (acc.as_f64()?, v.as_f64()?);
                        (name == "min") == (b < a)
                    }
                };
                if pick_v {
                    acc = v.clone();
                }
            }
            if vals.iter().any(|v| matches!(v, Value::Float(_))) {
                acc = Value::Float(acc.as_f64()?);
            }
            Some(acc)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::interp::strategy::{self, random_pick, RandomSearch};

    fn checked(src: &str) -> Checked {
        let mut sink = crate::diag::Sink::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let program = check::load("test.nas", src.to_string(), Some(dir), &mut sink);
        let checked = check::check(program, &mut sink);
        assert!(!sink.has_errors(), "the test space checks clean");
        checked
    }

    /// A partial assignment: path to value.
    struct Given(HashMap<String, Pick>);

    impl Partial for Given {
        fn given(&mut self, hyper: &Hyper) -> Result<Option<Pick>, String> {
            Ok(self.0.get(&*hyper.path).copied())
        }
    }

    impl Decider for Given {
        fn decide(&mut self, hyper: &Hyper, _: &[Decision]) -> Result<Pick, String> {
            self.0
                .get(&*hyper.path)
                .copied()
                .ok_or_else(|| hyper.path.to_string())
        }
    }

    fn given(pairs: &[(&str, Pick)]) -> Given {
        Given(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    fn paths(hs: &[Hyper]) -> Vec<&str> {
        hs.iter().map(|h| &*h.path).collect()
    }

    const REPEAT: &str = "space s {
        param n : int = choice(1, 2)
        param w : int = choice(8, 16)
        graph {
            embedding(vocab = data.vocab, dim = w)
            repeat n { linear(out = choice(4, 8)) >> optional dropout() }
            linear(out = choice(2, 3))
        }
        data = synthetic(copy, vocab = 16, length = 4)
    }";

    #[test]
    fn an_open_repeat_count_hides_its_body() {
        let c = checked(REPEAT);
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        let f = ip.frontier(&mut given(&[])).unwrap();
        assert_eq!(paths(&f.open), ["w", "n", "linear.out"]);
        assert!(f.assigned.is_empty() && f.arch.is_none() && f.rejected.is_none());

        let f = ip
            .frontier(&mut given(&[("n", Pick::Index(1)), ("w", Pick::Index(0))]))
            .unwrap();
        assert_eq!(
            paths(&f.open),
            [
                "n[0].linear.out",
                "n[0].optional",
                "n[1].linear.out",
                "n[1].optional",
                "linear.out"
            ]
        );
        assert_eq!(
            paths(
                &f.assigned
                    .iter()
                    .map(|d| d.hyper.clone())
                    .collect::<Vec<_>>()
            ),
            ["w", "n"]
        );
    }

    /// A second call of the same module in a block (`linear#2`) whose argument is open
    /// does not hide the statements after it.
    #[test]
    fn an_open_argument_hides_nothing_after_it() {
        let src = "space s {
            param w : int = choice(8, 16)
            graph {
                embedding(vocab = data.vocab, dim = 4)
                linear(out = w)
                linear(out = w)
                linear(out = choice(2, 3))
            }
            data = synthetic(copy, vocab = 16, length = 4)
        }";
        let c = checked(src);
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        let f = ip.frontier(&mut given(&[])).unwrap();
        assert_eq!(paths(&f.open), ["w", "linear#3.out"]);
    }

    /// A space of three `optional`s in one block, after the statements `before`.
    fn three_optionals(before: &str) -> String {
        format!(
            "space s {{
            graph {{
                embedding(vocab = data.vocab, dim = 4)
                {before}
                optional dropout(rate = 0.1)
                optional dropout(rate = 0.2)
                optional dropout(rate = 0.3)
            }}
            data = synthetic(copy, vocab = 16, length = 4)
        }}"
        )
    }

    #[test]
    fn a_second_hyperparameter_at_one_place_is_numbered() {
        let src = three_optionals("");
        let c = checked(&src);
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        assert!(ip.is_compiled());
        let on = [
            ("optional", Pick::On(true)),
            ("optional#2", Pick::On(false)),
            ("optional#3", Pick::On(true)),
        ];
        for compiled in [true, false] {
            let built = match ip.build_with(&mut given(&on), compiled).unwrap() {
                Outcome::Built(a) => a,
                Outcome::Rejected(r, _) => panic!("rejected: {}", r.text),
            };
            let made: Vec<&str> = built.assignment.iter().map(|d| &*d.hyper.path).collect();
            assert_eq!(made, ["optional", "optional#2", "optional#3"]);
            let rates: Vec<String> = built.nodes[2..]
                .iter()
                .map(|n| n.args[0].1.to_string())
                .collect();
            assert_eq!(rates, ["0.1", "0.3"], "compiled: {compiled}");
        }
        // The frontier names the open ones the same way.
        let f = ip.frontier(&mut given(&on[..1])).unwrap();
        assert_eq!(paths(&f.open), ["optional#2", "optional#3"]);
    }

    /// Past [`CLAIMS_SCANNED`] decisions a claim looks paths up in a set: the numbering
    /// is the same.
    #[test]
    fn many_decisions_before_a_second_one_at_one_place() {
        let c = checked(&three_optionals("repeat 70 { linear(out = choice(4, 8)) }"));
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        let mut rng = super::super::strategy::rng(3);
        let (archs, _) = super::super::strategy::sample(
            &ip,
            &mut super::super::strategy::RandomSearch,
            &mut rng,
            5,
            10,
        )
        .unwrap();
        for a in &archs {
            let made: Vec<&str> = a.assignment.iter().map(|d| &*d.hyper.path).collect();
            assert_eq!(made.len(), 73);
            assert_eq!(made[70..], ["optional", "optional#2", "optional#3"]);
            let distinct: std::collections::HashSet<&str> = made.iter().copied().collect();
            assert_eq!(distinct.len(), 73);
        }
    }

    #[test]
    fn a_full_assignment_builds_and_a_violated_constraint_shows() {
        let src = "space s {
            param a : int = choice(1, 2, 3)
            param b : int = choice(1, 2, 3)
            require a < b
            graph { embedding(vocab = data.vocab, dim = 4) >> linear(out = a * b) }
            data = synthetic(copy, vocab = 16, length = 4)
        }";
        let c = checked(src);
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        let f = ip
            .frontier(&mut given(&[("a", Pick::Index(2)), ("b", Pick::Index(0))]))
            .unwrap();
        assert!(f.rejected.is_some(), "3 < 1 is violated");
        let f = ip
            .frontier(&mut given(&[("a", Pick::Index(0)), ("b", Pick::Index(2))]))
            .unwrap();
        assert!(f.open.is_empty() && f.rejected.is_none());
        let arch = f.arch.expect("complete");
        assert_eq!(
            arch.nodes.last().unwrap().shape,
            Shape::Seq { len: 4, width: 3 }
        );
    }

    fn example(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    /// Along a sampled architecture's decisions, the first open hyperparameter of every
    /// prefix is the next decision the sampler made; the whole assignment builds the
    /// same architecture.
    #[test]
    fn every_prefix_opens_the_next_decision() {
        for name in [
            "tiny_lm.nas",
            "deep_architect_poster.nas",
            "conditional.nas",
        ] {
            let c = checked(&example(name));
            let ip = Interp::new(&c, &c.spaces[0]).unwrap();
            let mut rng = strategy::rng(11);
            let (archs, _) = strategy::sample(&ip, &mut RandomSearch, &mut rng, 5, 10_000)
                .unwrap_or_else(|_| panic!("{name} samples"));
            for a in archs {
                for k in 0..=a.assignment.len() {
                    let mut g = Given(
                        a.assignment[..k]
                            .iter()
                            .map(|d| (d.hyper.path.to_string(), d.pick))
                            .collect(),
                    );
                    let f = ip.frontier(&mut g).unwrap();
                    assert_eq!(f.assigned, a.assignment[..k], "{name}, prefix {k}");
                    match a.assignment.get(k) {
                        Some(next) => {
                            assert_eq!(f.open.first(), Some(&next.hyper), "{name}, prefix {k}");
                            assert!(f.arch.is_none());
                        }
                        None => {
                            assert!(f.open.is_empty());
                            assert_eq!(f.arch.expect("complete").hash, a.hash);
                        }
                    }
                }
            }
        }
    }

    /// Assigning every open hyperparameter at random, frontier after frontier, ends in a
    /// member of the space: the same architecture a build with those values gives.
    #[test]
    fn completing_frontiers_gives_a_member_of_the_space() {
        for name in [
            "tiny_lm.nas",
            "deep_architect_poster.nas",
            "conditional.nas",
            "attention_search.nas",
        ] {
            let c = checked(&example(name));
            let ip = Interp::new(&c, &c.spaces[0]).unwrap();
            let mut rng = strategy::rng(5);
            let mut complete = 0;
            for _ in 0..20 {
                let mut g = Given(HashMap::new());
                let mut rounds = 0;
                let arch = loop {
                    let f = ip.frontier(&mut g).unwrap();
                    if f.rejected.is_some() {
                        break None;
                    }
                    if let Some(a) = f.arch {
                        break Some(a);
                    }
                    assert!(!f.open.is_empty(), "{name}: incomplete with nothing open");
                    for h in &f.open {
                        g.0.insert(h.path.to_string(), random_pick(&h.domain, &mut rng));
                    }
                    rounds += 1;
                    assert!(rounds < 100, "{name}: frontiers do not close");
                };
                let Some(arch) = arch else { continue };
                complete += 1;
                let Ok(Outcome::Built(b)) = ip.build(&mut g) else {
                    panic!("{name}: the completed assignment builds");
                };
                assert_eq!(b.hash, arch.hash);
                assert_eq!(b.assignment, arch.assignment);
            }
            assert!(
                complete > 0,
                "{name}: some completions satisfy the constraints"
            );
        }
    }

    /// Random picks from a seeded generator: the same seed makes the same picks.
    struct Rand(crate::interp::strategy::Rng64);

    impl Decider for Rand {
        fn decide(&mut self, hyper: &Hyper, _: &[Decision]) -> Result<Pick, String> {
            Ok(random_pick(&hyper.domain, &mut self.0))
        }
    }

    /// Spaces that use what the examples do not: value blocks and value functions,
    /// symbols of a bare `enum` domain, inline ranges and floats, math, tensors bound in
    /// blocks, module `let`s and module arguments applied twice, `f#2`, `if` in a graph,
    /// positional arguments, defaults, dependent values.
    const COVERAGE: &str = "
        fn twice(f: module) -> module {
            f
            f
        }
        fn scaled(x: int, by: int = 2) -> int {
            let y = x * by
            min(y, 256)
        }
        fn split(w: int) -> module {
            let a = input >> linear(out = w)
            let b = input >> linear(out = w) >> act(kind = choice(relu, gelu))
            let m = residual(linear(out = w))
            add(a, b) >> m >> m
        }
        fn damp(r: float) -> module {
            dropout(rate = r)
        }
        fn pair() -> module {
            concat(input >> linear(out = 4), input >> linear(out = choice(4, 8)))
        }
        space coverage {
            param w     : int   = choice(8, 16, 32)
            param deep  : bool  = choice(true, false)
            param n     : int   = range(0, 3)
            param scale : float = uniform(0.5, 2.0)
            param kind  : enum  = choice(relu, gelu)
            param lr    : float = log_uniform(1e-4, 1e-2)
            let wide = scaled(w)
            let half = { let h = w / 2  max(h, 4) }
            require wide >= 32 or w == 16
            graph {
                embedding(vocab = data.vocab, dim = w)
                linear(out = w)
                linear(out = w)
                twice(linear(out = w))
                if deep { split(w = w) } else { linear(out = w) }
                repeat n {
                    split(w)
                    optional dropout(rate = choice(0.1, 0.2))
                    linear(out = range(4, 12, 4) * 2) >> linear(out = w)
                }
                act(kind = kind)
                dropout(rate = 0)
                damp(r = 0)
                linear(out = int(float(w) * scale) + half - half)
                pair()
                lm_head(vocab = data.vocab)
            }
            data = synthetic(copy, vocab = 16, length = 8)
            train { steps = 10, batch = 4, optimizer = adamw(lr = lr) }
        }";

    /// The compiled program counts no nesting as it runs: a space whose program would
    /// recurse deeper than the build's limit is left to the tree walker, which stops it
    /// with an error, and a `repeat` that makes no nodes still ends, with an error, once
    /// its copies pass the build's size limit.
    #[test]
    fn the_compiled_program_stays_within_the_build_limits() {
        let mut src = String::from("fn f0() -> module { linear(out = 8) }\n");
        for k in 1..40 {
            let open = "residual(".repeat(8);
            let close = ")".repeat(8);
            src.push_str(&format!(
                "fn f{k}() -> module {{ {open}f{}(){close} }}\n",
                k - 1
            ));
        }
        src.push_str(
            "space deep {
                graph { embedding(vocab = data.vocab, dim = 8)  f39() }
                data = synthetic(copy, vocab = 16, length = 4)
            }",
        );
        let c = checked(&src);
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        assert!(!ip.is_compiled(), "too deep to compile");
        let e = ip.build(&mut Rand(strategy::rng(1))).unwrap_err();
        assert!(e.message.contains("expands too much"), "{}", e.message);

        let c = checked(
            "space long {
                graph {
                    embedding(vocab = data.vocab, dim = 8)
                    repeat 1000000000 { if false { linear(out = 8) } }
                }
                data = synthetic(copy, vocab = 16, length = 4)
            }",
        );
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        assert!(ip.is_compiled());
        let e = ip.build(&mut Rand(strategy::rng(1))).unwrap_err();
        assert!(e.message.contains("expands too much"), "{}", e.message);
        // The tree walker stops it the same way.
        let e = ip.build_walking(&mut Rand(strategy::rng(1))).unwrap_err();
        assert!(e.message.contains("expands too much"), "{}", e.message);
    }

    /// A builtin call site whose arguments are the same all through a build copies its
    /// node only onto the same input shape: on another width its rules are checked again
    /// and its shape and cost worked out again, as the tree walker does.
    #[test]
    fn a_copied_call_site_is_checked_again_on_a_new_width() {
        let c = checked(
            "import std.transformer.{ attention }
            space s {
                graph {
                    embedding(vocab = data.vocab, dim = 12)
                    repeat 3 { attention(heads = 3) >> linear(out = choice(12, 16)) }
                }
                data = synthetic(copy, vocab = 16, length = 4)
            }",
        );
        let ip = Interp::new(&c, &c.spaces[0]).unwrap();
        assert!(ip.is_compiled());
        let outs = |picks: [u32; 3]| {
            let pairs: Vec<(String, Pick)> = picks
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("repeat[{i}].linear.out"), Pick::Index(*k)))
                .collect();
            let pairs: Vec<(&str, Pick)> = pairs.iter().map(|(p, k)| (p.as_str(), *k)).collect();
            let fast = ip.build(&mut given(&pairs)).unwrap();
            let slow = ip.build_walking(&mut given(&pairs)).unwrap();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{picks:?}");
            fast
        };
        // Width 12 all through: the second and third attention are copies of the first.
        let Outcome::Built(a) = outs([0, 0, 1]) else {
            panic!("width 12 divides by 3 heads")
        };
        let attention: Vec<&Node> = a.nodes.iter().filter(|n| &*n.op == "attention").collect();
        assert_eq!(attention.len(), 3);
        assert!(attention.iter().all(|n| n.args == attention[0].args
            && n.cost == attention[0].cost
            && n.shape == attention[0].shape));
        // Width 16 reaches the second or the third attention: its rule rejects it.
        for picks in [[1, 0, 0], [0, 1, 0]] {
            match outs(picks) {
                Outcome::Rejected(r, _) => assert!(r.text.contains("divisible"), "{}", r.text),
                Outcome::Built(_) => panic!("{picks:?}: width 16 does not divide by 3 heads"),
            }
        }
    }

    /// The compiled program and the tree walker make the same decisions, with the same
    /// paths, and build the same architecture (or reject with the same constraint), for
    /// random assignments of every example and of a space written to cover the rest.
    #[test]
    fn the_compiled_program_builds_what_the_tree_walker_builds() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut sources: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "nas"))
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).unwrap())
            })
            .collect();
        sources.sort();
        assert!(sources.len() >= 10, "the examples are found");
        sources.push(("coverage".into(), COVERAGE.into()));
        for (name, src) in &sources {
            let c = checked(src);
            for space in &c.spaces {
                let ip = Interp::new(&c, space).unwrap();
                assert!(ip.is_compiled(), "{name}: `{}` compiles", space.name);
                let (mut built, mut rejected) = (0, 0);
                for seed in 0..150 {
                    let fast = ip.build(&mut Rand(strategy::rng(seed)));
                    let slow = ip.build_walking(&mut Rand(strategy::rng(seed)));
                    assert_eq!(
                        format!("{fast:?}"),
                        format!("{slow:?}"),
                        "{name}: `{}`, seed {seed}",
                        space.name
                    );
                    match fast {
                        Ok(Outcome::Built(_)) => built += 1,
                        Ok(Outcome::Rejected(..)) => rejected += 1,
                        Err(e) => panic!("{name}: {e:?}"),
                    }
                }
                assert!(built > 0, "{name}: some candidates build");
                if *name == "coverage" {
                    assert!(rejected > 0, "the coverage space rejects some candidates");
                }
            }
        }
    }
}
