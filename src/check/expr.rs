//! Type checking of expressions: values, domains and graph fragments share one checker.

use std::collections::{BTreeSet, HashMap};

use super::types::{join, ItemRef, Ty};
use super::Checked;
use crate::diag::{Code, Diagnostic, FileId, Sink, Span};
use crate::syntax::ast::{self, BinOp, BuiltinKind, ExprKind, Item, Stmt, UnOp};

/// What a local name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum VarKind {
    /// A space `param`.
    Param,
    /// A space `let`.
    SpaceLet,
    /// A function parameter.
    FnParam,
    /// A `let` inside a block.
    Local,
    /// The input tensor of a graph block.
    Input,
}

/// A name in a local scope.
#[derive(Clone, Debug)]
pub(super) struct Var {
    pub name: String,
    pub ty: Ty,
    pub span: Span,
    pub kind: VarKind,
    pub used: bool,
}

/// Where an expression stands, which decides what it may contain.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Mode {
    /// `choice`, `range`, `uniform`, `log_uniform` may appear.
    pub domains: bool,
    /// Inside a graph: blocks are graphs, `input` is bound.
    pub graph: bool,
    /// Bare names may stand for enum symbols.
    pub symbols: bool,
    /// Static metric calls (`params()`) may appear.
    pub static_metrics: bool,
    /// Measured metric names may appear (pipeline filters).
    pub measured_metrics: bool,
    /// Which kind of builtin may be called besides modules and functions.
    pub config: Option<BuiltinKind>,
}

/// A constant value, for domain bounds and constant folding.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Const {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Sym(String),
}

impl Const {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Const::Int(v) => Some(*v as f64),
            Const::Float(v) => Some(*v),
            _ => None,
        }
    }
}

/// The expression checker of one file.
pub(super) struct Cx<'a> {
    pub checked: &'a Checked,
    pub file: FileId,
    pub sink: &'a mut Sink,
    pub frames: Vec<Vec<Var>>,
    /// Space-level names referenced since the last reset (for dependency cycles).
    pub deps: Vec<(String, Span)>,
    /// Functions called since the last reset (for recursion).
    pub calls: Vec<(ItemRef, Span)>,
    /// Whether a metric was called since the last reset.
    pub saw_metric: bool,
    /// Space-level `let`s whose values are constant.
    pub consts: HashMap<String, Const>,
}

const BUILTIN_FNS: &[&str] = &[
    "choice",
    "range",
    "uniform",
    "log_uniform",
    "min",
    "max",
    "abs",
    "concat",
    "add",
    "int",
    "float",
    "log2",
    "sqrt",
];

impl<'a> Cx<'a> {
    pub fn new(checked: &'a Checked, file: FileId, sink: &'a mut Sink) -> Self {
        Cx {
            checked,
            file,
            sink,
            frames: vec![Vec::new()],
            deps: Vec::new(),
            calls: Vec::new(),
            saw_metric: false,
            consts: HashMap::new(),
        }
    }

    pub fn err(&mut self, d: Diagnostic) {
        self.sink.push(d);
    }

    /// Pushes a local name, warning when it hides another local name.
    pub fn bind(&mut self, name: &ast::Ident, ty: Ty, kind: VarKind) {
        if name.name != "_" {
            if let Some(prev) = self.lookup_var(&name.name) {
                // A parameter declared twice is reported as a duplicate instead.
                if prev.kind != VarKind::Input
                    && !(prev.kind == VarKind::FnParam && kind == VarKind::FnParam)
                {
                    let prev_span = prev.span;
                    self.err(
                        Diagnostic::warning(
                            Code::Shadowing,
                            format!("`{}` shadows an earlier definition", name.name),
                            name.span,
                            "this definition hides the earlier one",
                        )
                        .with_label(prev_span, "first defined here")
                        .with_help(
                            "rename one of them; uses below this point see only the new one",
                        ),
                    );
                }
            }
        }
        let var = Var {
            name: name.name.clone(),
            ty,
            span: name.span,
            kind,
            used: false,
        };
        if let Some(frame) = self.frames.last_mut() {
            frame.push(var);
        }
    }

    fn lookup_var(&self, name: &str) -> Option<&Var> {
        self.frames
            .iter()
            .rev()
            .flat_map(|f| f.iter().rev())
            .find(|v| v.name == name)
    }

    fn use_var(&mut self, name: &str) -> Option<(Ty, VarKind)> {
        let var = self
            .frames
            .iter_mut()
            .rev()
            .flat_map(|f| f.iter_mut().rev())
            .find(|v| v.name == name)?;
        var.used = true;
        Some((var.ty.clone(), var.kind))
    }

    fn visible_var_names(&self) -> Vec<String> {
        self.frames
            .iter()
            .flat_map(|f| f.iter().map(|v| v.name.clone()))
            .collect()
    }

    /// Resolves a type annotation as seen from `file`.
    pub fn resolve_type(&mut self, file: FileId, t: &ast::TypeExpr) -> Ty {
        match t.name.as_str() {
            "int" => Ty::Int,
            "float" => Ty::Float,
            "bool" => Ty::Bool,
            "string" => Ty::Str,
            "enum" => Ty::AnyEnum,
            "module" => Ty::Module,
            "tensor" => Ty::Tensor,
            "path" => Ty::Path,
            name => match self.checked.lookup(file, name) {
                Some(r) if matches!(self.checked.item(r), Item::Enum(_)) => {
                    Ty::Enum(r, name.to_string())
                }
                _ => {
                    let builtins = [
                        "int", "float", "bool", "string", "enum", "module", "tensor", "path",
                    ];
                    let help = match super::suggest(name, builtins.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "types are int, float, bool, string, enum, module, tensor, path, or the name of an enum".to_string(),
                    };
                    self.err(
                        Diagnostic::error(
                            Code::UnknownType,
                            format!("unknown type `{name}`"),
                            t.span,
                            "not a type",
                        )
                        .with_help(help),
                    );
                    Ty::Unknown
                }
            },
        }
    }

    fn enum_def(&self, r: ItemRef) -> Option<&'a ast::EnumDef> {
        match self.checked.item(r) {
            Item::Enum(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a value of type `found` may stand where `expected` is needed.
    pub fn assignable(&self, found: &Ty, expected: &Ty) -> bool {
        match (found, expected) {
            (Ty::Unknown, _) | (_, Ty::Unknown) => true,
            (a, b) if a == b => true,
            (Ty::Int, Ty::Float) => true,
            (Ty::Sym(_) | Ty::Enum(..), Ty::AnyEnum) => true,
            (Ty::Sym(syms), Ty::Enum(r, _)) => self.enum_def(*r).is_some_and(|e| {
                syms.iter().all(|s| {
                    e.variants
                        .iter()
                        .any(|v| v.name.name == *s && v.params.iter().all(|p| p.default.is_some()))
                })
            }),
            (Ty::Sym(a), Ty::Sym(b)) => a.is_subset(b) || b.is_subset(a),
            (Ty::Enum(a, _), Ty::Enum(b, _)) => a == b,
            _ => false,
        }
    }

    /// Reports a mismatch unless `found` may stand where `expected` is needed.
    pub fn require_type(&mut self, found: &Ty, expected: &Ty, span: Span, what: &str) {
        if self.assignable(found, expected) {
            return;
        }
        let mut help = format!("{what} must be {}", article(expected));
        if let (Ty::Sym(syms), Ty::Enum(r, name)) = (found, expected) {
            if let Some(e) = self.enum_def(*r) {
                let bad: Vec<&String> = syms
                    .iter()
                    .filter(|s| !e.variants.iter().any(|v| v.name.name == **s))
                    .collect();
                let variants: Vec<String> = e
                    .variants
                    .iter()
                    .map(|v| format!("`{}`", v.name.name))
                    .collect();
                help = format!(
                    "{} {} not a variant of `{name}`, whose variants are {}",
                    bad.iter()
                        .map(|b| format!("`{b}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    if bad.len() == 1 { "is" } else { "are" },
                    variants.join(", ")
                );
            }
        }
        self.err(
            Diagnostic::error(
                Code::TypeMismatch,
                format!("expected {expected}, found {found}"),
                span,
                format!("this is {}", article(found)),
            )
            .with_help(help),
        );
    }

    /// Checks `e` where a value of type `expected` (if any) is needed.
    pub fn expr(&mut self, e: &ast::Expr, expected: Option<&Ty>, mode: Mode) -> Ty {
        let ty = self.expr_inner(e, expected, mode);
        if let Some(exp) = expected {
            self.require_type(&ty, exp, e.span, "this value");
        }
        ty
    }

    fn expr_inner(&mut self, e: &ast::Expr, expected: Option<&Ty>, mode: Mode) -> Ty {
        match &e.kind {
            ExprKind::Int(_) => Ty::Int,
            ExprKind::Float(_) => Ty::Float,
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Bool(_) => Ty::Bool,
            ExprKind::Data => Ty::Data,
            ExprKind::Name(id) => self.name(id, expected, mode),
            ExprKind::Member(base, field) => self.member(base, field, e.span, expected, mode),
            ExprKind::Unary(op, inner) => {
                let sub = Mode {
                    symbols: false,
                    ..mode
                };
                match op {
                    UnOp::Neg => {
                        let t = self.expr(inner, None, sub);
                        if !t.is_numeric() {
                            self.require_type(&t, &Ty::Float, inner.span, "the operand of `-`");
                            return Ty::Unknown;
                        }
                        t
                    }
                    UnOp::Not => {
                        self.expr(inner, Some(&Ty::Bool), sub);
                        Ty::Bool
                    }
                }
            }
            ExprKind::Binary(op, lhs, rhs) => self.binary(*op, lhs, rhs, e.span, mode),
            ExprKind::Call(callee, args) => self.call(callee, args, e.span, expected, mode),
            ExprKind::If(cond, then, other) => {
                self.expr(
                    cond,
                    Some(&Ty::Bool),
                    Mode {
                        symbols: false,
                        ..mode
                    },
                );
                let t = self.expr(then, expected, mode);
                match other {
                    Some(o) => {
                        let f = self.expr(o, expected, mode);
                        match join(&t, &f) {
                            Some(j) => j,
                            None => {
                                self.err(
                                    Diagnostic::error(
                                        Code::TypeMismatch,
                                        format!("`if` branches differ: {t} and {f}"),
                                        o.span,
                                        format!("this is {}", article(&f)),
                                    )
                                    .with_label(then.span, format!("this is {}", article(&t)))
                                    .with_help("both branches of an `if` must have the same type"),
                                );
                                Ty::Unknown
                            }
                        }
                    }
                    None if t.is_graph() => Ty::Module,
                    None => {
                        self.err(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                "`if` without `else` has no value",
                                e.span,
                                format!("the branch is {}", article(&t)),
                            )
                            .with_help(
                                "add an `else` branch; only graph fragments may leave it out",
                            ),
                        );
                        Ty::Unknown
                    }
                }
            }
            ExprKind::Repeat(count, body) => {
                let t = self.expr(
                    count,
                    Some(&Ty::Int),
                    Mode {
                        graph: false,
                        symbols: false,
                        ..mode
                    },
                );
                if let Some(Const::Int(n)) = self.const_eval(count) {
                    if n < 0 {
                        self.err(
                            Diagnostic::error(
                                Code::BadRepeat,
                                format!("`repeat` count is negative ({n})"),
                                count.span,
                                "negative count",
                            )
                            .with_help("a repeat count must be zero or more"),
                        );
                    }
                }
                let _ = t;
                self.graph_body(body, mode);
                Ty::Module
            }
            ExprKind::Optional(body) | ExprKind::Residual(body) => {
                self.graph_body(body, mode);
                Ty::Module
            }
            ExprKind::Block(stmts) => {
                if mode.graph || expected == Some(&Ty::Module) {
                    self.graph_block(
                        stmts,
                        e.span,
                        Mode {
                            graph: true,
                            ..mode
                        },
                    )
                } else {
                    self.value_block(stmts, e.span, expected, mode)
                }
            }
        }
    }

    fn graph_body(&mut self, body: &ast::Expr, mode: Mode) {
        let m = Mode {
            graph: true,
            symbols: false,
            ..mode
        };
        let t = self.expr(body, None, m);
        if !matches!(t, Ty::Module | Ty::Unknown) {
            self.require_type(&t, &Ty::Module, body.span, "the body");
        }
    }

    /// A block in a graph: `let`s, modules applied in order, tensors that replace the flow.
    pub fn graph_block(&mut self, stmts: &[Stmt], span: Span, mode: Mode) -> Ty {
        self.frames.push(Vec::new());
        let input = ast::Ident {
            name: "input".to_string(),
            span,
        };
        self.bind(&input, Ty::Tensor, VarKind::Input);
        for stmt in stmts {
            match stmt {
                Stmt::Let(l) => {
                    let declared = l.ty.as_ref().map(|t| self.resolve_type(self.file, t));
                    let t = self.expr(
                        &l.value,
                        declared.as_ref(),
                        Mode {
                            symbols: declared.is_some(),
                            ..mode
                        },
                    );
                    self.bind(&l.name, declared.unwrap_or(t), VarKind::Local);
                }
                Stmt::Require(r) => self.err(
                    Diagnostic::error(
                        Code::DomainNotAllowed,
                        "`require` is not allowed inside a graph",
                        r.span,
                        "constraint inside a block",
                    )
                    .with_help(
                        "move the constraint to the space, next to the `param`s it constrains",
                    ),
                ),
                Stmt::Expr(e) => {
                    let t = self.expr(e, None, mode);
                    if !t.is_graph() {
                        self.err(
                            Diagnostic::error(Code::TypeMismatch, format!("expected a module or tensor, found {t}"), e.span, format!("this is {}", article(&t)))
                                .with_help("a graph statement must be a module (applied to the flow) or a tensor; bind values with `let`"),
                        );
                    }
                }
            }
        }
        self.pop_frame();
        Ty::Module
    }

    fn value_block(&mut self, stmts: &[Stmt], span: Span, expected: Option<&Ty>, mode: Mode) -> Ty {
        self.frames.push(Vec::new());
        let mut result = None;
        for (i, stmt) in stmts.iter().enumerate() {
            match stmt {
                Stmt::Let(l) => {
                    let t = self.expr(&l.value, None, mode);
                    self.bind(&l.name, t, VarKind::Local);
                }
                Stmt::Require(r) => self.err(
                    Diagnostic::error(
                        Code::DomainNotAllowed,
                        "`require` is not allowed inside a block",
                        r.span,
                        "constraint inside a block",
                    )
                    .with_help("move the constraint to the space"),
                ),
                Stmt::Expr(e) => {
                    let t = self.expr(e, if i + 1 == stmts.len() { expected } else { None }, mode);
                    if i + 1 == stmts.len() {
                        result = Some(t);
                    } else {
                        self.err(
                            Diagnostic::error(
                                Code::TypeMismatch,
                                "a value block holds one value",
                                e.span,
                                "this value is discarded",
                            )
                            .with_help("bind intermediate values with `let`"),
                        );
                    }
                }
            }
        }
        self.pop_frame();
        result.unwrap_or_else(|| {
            self.err(
                Diagnostic::error(
                    Code::TypeMismatch,
                    "empty block has no value",
                    span,
                    "empty block",
                )
                .with_help("write the value inside the braces"),
            );
            Ty::Unknown
        })
    }

    fn pop_frame(&mut self) {
        self.frames.pop();
    }

    fn name(&mut self, id: &ast::Ident, expected: Option<&Ty>, mode: Mode) -> Ty {
        if expected == Some(&Ty::Path) {
            return Ty::Path;
        }
        // An expected enum decides first: `kind = linear` is the variant even if a value
        // named `linear` exists elsewhere.
        if let Some(Ty::Enum(r, ename)) = expected {
            if let Some(e) = self.enum_def(*r) {
                if e.variants.iter().any(|v| v.name.name == id.name) {
                    return Ty::Enum(*r, ename.clone());
                }
            }
        }
        if let Some((ty, kind)) = self.use_var(&id.name) {
            if kind == VarKind::Input && !mode.graph {
                // `input` outside a graph is an ordinary unknown name.
            } else {
                if matches!(kind, VarKind::Param | VarKind::SpaceLet) {
                    self.deps.push((id.name.clone(), id.span));
                }
                return ty;
            }
        }
        if let Some(r) = self.checked.lookup(self.file, &id.name) {
            match self.checked.item(r) {
                Item::Fn(f) if f.params.iter().all(|p| p.default.is_some()) => {
                    self.calls.push((r, id.span));
                    return Ty::Module;
                }
                Item::Builtin(b)
                    if b.kind == BuiltinKind::Module
                        && b.params.iter().all(|p| p.default.is_some()) =>
                {
                    return Ty::Module
                }
                Item::Builtin(b) if b.kind == BuiltinKind::Metric && mode.measured_metrics => {
                    let ty = b.ty.clone();
                    return ty
                        .map(|t| self.resolve_type(r.file, &t))
                        .unwrap_or(Ty::Float);
                }
                _ => {}
            }
        }
        if let Some(ty) = self.variant_type(&id.name, expected) {
            return ty;
        }
        if mode.symbols || matches!(expected, Some(Ty::Sym(_) | Ty::AnyEnum)) {
            return Ty::Sym(BTreeSet::from([id.name.clone()]));
        }
        let vars = self.visible_var_names();
        let help = match super::suggest(&id.name, vars.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "declare it with `param` or `let`, or import it".to_string(),
        };
        self.err(
            Diagnostic::error(
                Code::UnknownName,
                format!("unknown name `{}`", id.name),
                id.span,
                "not defined",
            )
            .with_help(help),
        );
        Ty::Unknown
    }

    /// The type of variant `name`: of the expected enum, or of the one visible enum that has it.
    fn variant_type(&self, name: &str, expected: Option<&Ty>) -> Option<Ty> {
        if let Some(Ty::Enum(r, ename)) = expected {
            let e = self.enum_def(*r)?;
            return e
                .variants
                .iter()
                .any(|v| v.name.name == name)
                .then(|| Ty::Enum(*r, ename.clone()));
        }
        let mut found: Vec<(String, ItemRef)> = self.checked.scopes[self.file.0 as usize]
            .names
            .iter()
            .filter(|(_, r)| {
                self.enum_def(**r)
                    .is_some_and(|e| e.variants.iter().any(|v| v.name.name == name))
            })
            .map(|(n, r)| (n.clone(), *r))
            .collect();
        found.sort();
        if found.len() == 1 {
            let (n, r) = found.remove(0);
            return Some(Ty::Enum(r, n));
        }
        None
    }

    fn member(
        &mut self,
        base: &ast::Expr,
        field: &ast::Ident,
        span: Span,
        expected: Option<&Ty>,
        mode: Mode,
    ) -> Ty {
        if matches!(base.kind, ExprKind::Data) {
            const FIELDS: &[&str] = &["vocab", "context", "classes", "features", "length"];
            if FIELDS.contains(&field.name.as_str()) {
                return Ty::Int;
            }
            let help = match super::suggest(&field.name, FIELDS.iter().copied()) {
                Some(s) => format!("did you mean `data.{s}`?"),
                None => format!(
                    "the data source provides {}",
                    FIELDS
                        .iter()
                        .map(|f| format!("`data.{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            self.err(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("the data source has no field `{}`", field.name),
                    field.span,
                    "unknown field",
                )
                .with_help(help),
            );
            return Ty::Unknown;
        }
        if expected == Some(&Ty::Path) {
            return Ty::Path;
        }
        let _ = mode;
        self.err(
            Diagnostic::error(Code::UnknownName, format!("`.{}` is not defined here", field.name), span, "field access on a value")
                .with_help("only `data` has fields (`data.vocab`); paths like `attention.kind` are only allowed as strategy arguments"),
        );
        Ty::Unknown
    }

    fn binary(
        &mut self,
        op: BinOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        span: Span,
        mode: Mode,
    ) -> Ty {
        let sub = Mode {
            symbols: false,
            ..mode
        };
        match op {
            BinOp::Seq => {
                let l = self.expr(lhs, None, Mode { graph: true, ..sub });
                let r = self.expr(rhs, None, Mode { graph: true, ..sub });
                match (&l, &r) {
                    (Ty::Unknown, _) | (_, Ty::Unknown) => {
                        if matches!(l, Ty::Tensor) {
                            Ty::Tensor
                        } else {
                            Ty::Module
                        }
                    }
                    (Ty::Module, Ty::Module) => Ty::Module,
                    (Ty::Tensor, Ty::Module) => Ty::Tensor,
                    _ => {
                        let help = if r == Ty::Tensor {
                            "the right side of `>>` must be a module; join tensors with `concat(a, b)` or `add(a, b)`"
                        } else {
                            "`>>` sequences modules: `module >> module` or `tensor >> module`"
                        };
                        self.err(
                            Diagnostic::error(
                                Code::BadSequence,
                                format!("cannot sequence {l} >> {r}"),
                                span,
                                "invalid `>>`",
                            )
                            .with_label(rhs.span, format!("this is {}", article(&r)))
                            .with_help(help),
                        );
                        Ty::Unknown
                    }
                }
            }
            BinOp::And | BinOp::Or => {
                self.expr(lhs, Some(&Ty::Bool), sub);
                self.expr(rhs, Some(&Ty::Bool), sub);
                Ty::Bool
            }
            BinOp::Eq | BinOp::Ne => {
                let l = self.expr(
                    lhs,
                    None,
                    Mode {
                        symbols: true,
                        ..sub
                    },
                );
                let r = self.expr(
                    rhs,
                    Some(&l).filter(|t| matches!(t, Ty::Enum(..))),
                    Mode {
                        symbols: true,
                        ..sub
                    },
                );
                if join(&l, &r).is_none() {
                    self.err(
                        Diagnostic::error(
                            Code::TypeMismatch,
                            format!("cannot compare {l} with {r}"),
                            span,
                            "comparison of different types",
                        )
                        .with_help(format!(
                            "both sides of `{}` must have the same type",
                            op.as_str()
                        )),
                    );
                }
                Ty::Bool
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let l = self.expr(lhs, None, sub);
                let r = self.expr(rhs, None, sub);
                for (t, e) in [(&l, lhs), (&r, rhs)] {
                    if !t.is_numeric() {
                        self.require_type(t, &Ty::Float, e.span, "an ordered comparison's operand");
                    }
                }
                Ty::Bool
            }
            _ => {
                let l = self.expr(lhs, None, sub);
                let r = self.expr(rhs, None, sub);
                for (t, e) in [(&l, lhs), (&r, rhs)] {
                    if !t.is_numeric() {
                        self.require_type(
                            t,
                            &Ty::Float,
                            e.span,
                            format!("an operand of `{}`", op.as_str()).as_str(),
                        );
                        return Ty::Unknown;
                    }
                }
                if let (Some(Const::Int(a)), Some(Const::Int(b))) =
                    (self.const_eval(lhs), self.const_eval(rhs))
                {
                    let overflow = match op {
                        BinOp::Add => a.checked_add(b).is_none(),
                        BinOp::Sub => a.checked_sub(b).is_none(),
                        BinOp::Mul => a.checked_mul(b).is_none(),
                        _ => false,
                    };
                    if overflow {
                        self.err(
                            Diagnostic::error(Code::Overflow, format!("`{a} {} {b}` overflows a 64-bit integer", op.as_str()), span, "too large")
                                .with_help("integers lie within ±9.2e18; use a float (`5.0e9`) for larger values"),
                        );
                    }
                }
                if matches!(op, BinOp::Div | BinOp::Rem) {
                    if let Some(c) = self.const_eval(rhs) {
                        if c.as_f64() == Some(0.0) {
                            self.err(
                                Diagnostic::error(
                                    Code::DivisionByZero,
                                    "division by zero",
                                    rhs.span,
                                    "this is zero",
                                )
                                .with_label(lhs.span, "divided here")
                                .with_help("the divisor of `/` and `%` must not be zero"),
                            );
                        }
                    }
                }
                if l == Ty::Float || r == Ty::Float {
                    Ty::Float
                } else if l == Ty::Unknown || r == Ty::Unknown {
                    Ty::Unknown
                } else {
                    Ty::Int
                }
            }
        }
    }

    fn call(
        &mut self,
        callee: &ast::Expr,
        args: &[ast::Arg],
        span: Span,
        expected: Option<&Ty>,
        mode: Mode,
    ) -> Ty {
        let ExprKind::Name(id) = &callee.kind else {
            self.err(
                Diagnostic::error(
                    Code::UnknownFunction,
                    "only named functions and modules can be called",
                    callee.span,
                    "not a name",
                )
                .with_help("call a function, module or builtin by its name"),
            );
            return Ty::Unknown;
        };
        let name = id.name.as_str();
        if BUILTIN_FNS.contains(&name) {
            return self.builtin_fn(id, args, span, expected, mode);
        }
        if let Some(Ty::Enum(r, ename)) = expected {
            if let Some(v) = self
                .enum_def(*r)
                .and_then(|e| e.variants.iter().find(|v| v.name.name == name))
            {
                let params = self.param_types(r.file, &v.params);
                self.check_args(
                    &params,
                    args,
                    span,
                    &format!("variant `{name}`"),
                    Mode {
                        symbols: false,
                        ..mode
                    },
                );
                return Ty::Enum(*r, ename.clone());
            }
        }
        if let Some(r) = self.checked.lookup(self.file, name) {
            match self.checked.item(r) {
                Item::Fn(f) => {
                    self.calls.push((r, id.span));
                    let params = self.param_types(r.file, &f.params);
                    self.check_args(
                        &params,
                        args,
                        span,
                        &format!("`{name}`"),
                        Mode {
                            symbols: false,
                            ..mode
                        },
                    );
                    return f
                        .ret
                        .as_ref()
                        .map(|t| self.resolve_type(r.file, t))
                        .unwrap_or(Ty::Module);
                }
                Item::Builtin(b) => {
                    let params = self.param_types(r.file, &b.params);
                    let allowed = match b.kind {
                        BuiltinKind::Module => true,
                        BuiltinKind::Metric => mode.static_metrics || mode.measured_metrics,
                        k => mode.config == Some(k),
                    };
                    if !allowed {
                        let help = match b.kind {
                            BuiltinKind::Metric => "metrics can be used in `require` (static ones like `params()`) and in pipeline filters",
                            BuiltinKind::Strategy => "strategies belong in a `pipeline { ... }` block",
                            BuiltinKind::Optimizer => "optimizers belong in `train { optimizer = ... }`",
                            BuiltinKind::Dataset => "data sources belong in `data = ...`",
                            BuiltinKind::Module => "",
                        };
                        self.err(
                            Diagnostic::error(
                                Code::DomainNotAllowed,
                                format!("{} `{name}` is not allowed here", b.kind.as_str()),
                                id.span,
                                format!("a {}", b.kind.as_str()),
                            )
                            .with_help(help),
                        );
                    }
                    if b.kind == BuiltinKind::Metric {
                        self.saw_metric = true;
                        if !b.is_static && !mode.measured_metrics {
                            self.err(
                                Diagnostic::error(Code::MeasuredMetric, format!("`{name}` is measured by training, so it cannot constrain the space"), id.span, "measured metric")
                                    .with_help(format!("filter on it in the pipeline instead: `|> keep where {name} < ...`")),
                            );
                        }
                        self.check_args(
                            &params,
                            args,
                            span,
                            &format!("`{name}`"),
                            Mode {
                                symbols: false,
                                ..mode
                            },
                        );
                        return b
                            .ty
                            .clone()
                            .map(|t| self.resolve_type(r.file, &t))
                            .unwrap_or(Ty::Float);
                    }
                    self.check_args(
                        &params,
                        args,
                        span,
                        &format!("`{name}`"),
                        Mode {
                            symbols: false,
                            ..mode
                        },
                    );
                    return Ty::Module;
                }
                Item::Enum(_) | Item::Space(_) | Item::Import(_) | Item::Config(_) => {}
            }
        }
        if let Some(Ty::Enum(r, ename)) = self.variant_type(name, None) {
            if let Some(v) = self
                .enum_def(r)
                .and_then(|e| e.variants.iter().find(|v| v.name.name == name))
            {
                let params = self.param_types(r.file, &v.params);
                self.check_args(
                    &params,
                    args,
                    span,
                    &format!("variant `{name}`"),
                    Mode {
                        symbols: false,
                        ..mode
                    },
                );
                return Ty::Enum(r, ename);
            }
        }
        if let Some(Ty::Enum(r, ename)) = expected {
            let variants: Vec<String> = self
                .enum_def(*r)
                .map(|e| {
                    e.variants
                        .iter()
                        .map(|v| format!("`{}`", v.name.name))
                        .collect()
                })
                .unwrap_or_default();
            self.err(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("`{name}` is not a variant of `{ename}`"),
                    id.span,
                    "unknown variant",
                )
                .with_help(format!(
                    "the variants of `{ename}` are {}",
                    variants.join(", ")
                )),
            );
            for a in args {
                self.expr(&a.value, None, mode);
            }
            return Ty::Unknown;
        }
        let scope_names: Vec<String> = self.checked.scopes[self.file.0 as usize]
            .names
            .keys()
            .cloned()
            .chain(BUILTIN_FNS.iter().map(|s| s.to_string()))
            .collect();
        let is_space = self
            .checked
            .lookup(self.file, name)
            .is_some_and(|r| matches!(self.checked.item(r), ast::Item::Space(_)));
        let help = match super::suggest(name, scope_names.iter().map(String::as_str)) {
            _ if is_space => format!(
                "a space's name hides any function, module or data source of the same name in its file (the prelude's `{name}` too): rename the space, e.g. `{name}_search`"
            ),
            Some(s) => format!("did you mean `{s}`?"),
            None => "define it with `fn`, or import it (`import std.transformer.{ attention }`)"
                .to_string(),
        };
        self.err(
            Diagnostic::error(
                Code::UnknownFunction,
                if is_space {
                    format!("`{name}` names a space here, and a space cannot be called")
                } else {
                    format!("unknown function or module `{name}`")
                },
                id.span,
                if is_space {
                    "the space, not a function"
                } else {
                    "not defined"
                },
            )
            .with_help(help),
        );
        for a in args {
            self.expr(&a.value, None, mode);
        }
        Ty::Unknown
    }

    /// The parameters of a callee with resolved types: (name, type, has default).
    fn param_types(&mut self, file: FileId, params: &[ast::FnParam]) -> Vec<(String, Ty, bool)> {
        params
            .iter()
            .map(|p| {
                (
                    p.name.name.clone(),
                    self.resolve_type(file, &p.ty),
                    p.default.is_some(),
                )
            })
            .collect()
    }

    /// Checks call arguments against a signature: arity, keywords, duplicates and types.
    pub fn check_args(
        &mut self,
        params: &[(String, Ty, bool)],
        args: &[ast::Arg],
        span: Span,
        callee: &str,
        mode: Mode,
    ) {
        let mut given: Vec<Option<Span>> = vec![None; params.len()];
        // Parameters suggested for a misspelt keyword are not reported missing as well.
        let mut suggested: Vec<String> = Vec::new();
        let mut positional = 0;
        for arg in args {
            let slot = match &arg.name {
                None => {
                    let i = positional;
                    positional += 1;
                    if i >= params.len() {
                        self.err(
                            Diagnostic::error(
                                Code::Arity,
                                format!(
                                    "{callee} takes {} argument{}, but more were given",
                                    params.len(),
                                    plural(params.len())
                                ),
                                arg.value.span,
                                "extra argument",
                            )
                            .with_help(signature_help(callee, params)),
                        );
                        self.expr(&arg.value, None, mode);
                        continue;
                    }
                    i
                }
                Some(kw) => match params.iter().position(|p| p.0 == kw.name) {
                    Some(i) => i,
                    None => {
                        let guess = super::suggest(&kw.name, params.iter().map(|p| p.0.as_str()));
                        if let Some(g) = guess {
                            suggested.push(g.to_string());
                        }
                        let help = match guess {
                            Some(s) => {
                                format!("did you mean `{s}`? {}", signature_help(callee, params))
                            }
                            None => signature_help(callee, params),
                        };
                        self.err(
                            Diagnostic::error(
                                Code::UnknownArgument,
                                format!("{callee} has no argument `{}`", kw.name),
                                kw.span,
                                "unknown argument",
                            )
                            .with_help(help),
                        );
                        self.expr(&arg.value, None, mode);
                        continue;
                    }
                },
            };
            let arg_span = arg
                .name
                .as_ref()
                .map_or(arg.value.span, |n| n.span.to(arg.value.span));
            if let Some(prev) = given[slot] {
                self.err(
                    Diagnostic::error(
                        Code::DuplicateArgument,
                        format!("argument `{}` is given twice", params[slot].0),
                        arg_span,
                        "given again here",
                    )
                    .with_label(prev, "first given here")
                    .with_help("give each argument once"),
                );
            }
            given[slot] = Some(arg_span);
            let want = params[slot].1.clone();
            let symbols = matches!(want, Ty::Enum(..) | Ty::AnyEnum);
            let graph = matches!(want, Ty::Module | Ty::Tensor | Ty::Unknown) && mode.graph;
            self.expr(
                &arg.value,
                Some(&want),
                Mode {
                    symbols,
                    graph,
                    ..mode
                },
            );
        }
        let missing: Vec<&str> = params
            .iter()
            .zip(&given)
            .enumerate()
            .filter(|(i, (p, g))| {
                !p.2 && g.is_none()
                    && !suggested.contains(&p.0)
                    && !params[..*i].iter().any(|q| q.0 == p.0)
            })
            .map(|(_, pg)| pg)
            .map(|(p, _)| p.0.as_str())
            .collect();
        if !missing.is_empty() {
            self.err(
                Diagnostic::error(
                    Code::Arity,
                    format!(
                        "{callee} is missing argument{} {}",
                        plural(missing.len()),
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    span,
                    "missing arguments",
                )
                .with_help(signature_help(callee, params)),
            );
        }
    }

    fn builtin_fn(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        expected: Option<&Ty>,
        mode: Mode,
    ) -> Ty {
        let name = id.name.as_str();
        let is_domain = matches!(name, "choice" | "range" | "uniform" | "log_uniform");
        if is_domain && !mode.domains {
            self.err(
                Diagnostic::error(Code::DomainNotAllowed, format!("`{name}` is not allowed here"), span, "a search domain")
                    .with_help("search domains belong in `param` declarations and in graphs; refer to a `param` here instead"),
            );
        }
        match name {
            "choice" => {
                if args.is_empty() {
                    self.err(
                        Diagnostic::error(
                            Code::EmptyChoice,
                            "`choice` needs at least one alternative",
                            span,
                            "empty choice",
                        )
                        .with_help("list the alternatives: `choice(64, 128)`"),
                    );
                    return expected.cloned().unwrap_or(Ty::Unknown);
                }
                let mut ty: Option<Ty> = None;
                let mut seen: Vec<(Const, Span)> = Vec::new();
                for a in args {
                    if let Some(n) = &a.name {
                        self.err(
                            Diagnostic::error(
                                Code::UnknownArgument,
                                "`choice` takes no keyword arguments",
                                n.span,
                                "keyword argument",
                            )
                            .with_help("list the alternatives positionally"),
                        );
                    }
                    let t = self.expr(
                        &a.value,
                        expected,
                        Mode {
                            symbols: true,
                            ..mode
                        },
                    );
                    if let Some(c) = self.const_eval(&a.value) {
                        if let Some((_, prev)) = seen.iter().find(|(p, _)| *p == c) {
                            let prev = *prev;
                            self.err(
                                Diagnostic::error(
                                    Code::EmptyChoice,
                                    "`choice` lists the same alternative twice",
                                    a.value.span,
                                    "repeated alternative",
                                )
                                .with_label(prev, "first listed here")
                                .with_help("remove the repetition; each alternative counts once"),
                            );
                        }
                        seen.push((c, a.value.span));
                    }
                    ty = match ty {
                        None => Some(t),
                        Some(prev) => match join(&prev, &t) {
                            Some(j) => Some(j),
                            None => {
                                self.err(
                                    Diagnostic::error(
                                        Code::TypeMismatch,
                                        format!("`choice` mixes {prev} and {t}"),
                                        a.value.span,
                                        format!("this is {}", article(&t)),
                                    )
                                    .with_help("all alternatives of a choice must have one type"),
                                );
                                Some(Ty::Unknown)
                            }
                        },
                    };
                }
                ty.unwrap_or(Ty::Unknown)
            }
            "range" => {
                self.domain_bounds(id, args, span, &["lo", "hi", "step"], 2, Ty::Int);
                Ty::Int
            }
            "uniform" | "log_uniform" => {
                self.domain_bounds(id, args, span, &["lo", "hi", "q"], 2, Ty::Float);
                Ty::Float
            }
            "min" | "max" => {
                if args.len() < 2 {
                    self.err(
                        Diagnostic::error(
                            Code::Arity,
                            format!("`{name}` needs at least two arguments"),
                            span,
                            "too few arguments",
                        )
                        .with_help(format!("`{name}(a, b, ...)`")),
                    );
                }
                let mut ty = Ty::Int;
                for a in args {
                    let t = self.expr(
                        &a.value,
                        None,
                        Mode {
                            symbols: false,
                            ..mode
                        },
                    );
                    if !t.is_numeric() {
                        self.require_type(
                            &t,
                            &Ty::Float,
                            a.value.span,
                            "an argument of `min`/`max`",
                        );
                    }
                    if t == Ty::Float {
                        ty = Ty::Float;
                    }
                }
                ty
            }
            "abs" | "int" | "float" | "log2" | "sqrt" => {
                let params = vec![("x".to_string(), Ty::Float, false)];
                let mut arg_ty = Ty::Float;
                if args.len() == 1 && args[0].name.is_none() {
                    arg_ty = self.expr(
                        &args[0].value,
                        None,
                        Mode {
                            symbols: false,
                            ..mode
                        },
                    );
                    if !arg_ty.is_numeric() {
                        self.require_type(&arg_ty, &Ty::Float, args[0].value.span, "the argument");
                    }
                } else {
                    self.check_args(&params, args, span, &format!("`{name}`"), mode);
                }
                match name {
                    "abs" => arg_ty,
                    "int" => Ty::Int,
                    _ => Ty::Float,
                }
            }
            _ => {
                // `concat` and `add` join tensors of a graph.
                if !mode.graph {
                    self.err(
                        Diagnostic::error(
                            Code::DomainNotAllowed,
                            format!("`{name}` joins tensors and is only allowed in a graph"),
                            span,
                            "outside a graph",
                        )
                        .with_help("use it inside `graph { ... }`"),
                    );
                }
                if args.len() < 2 {
                    self.err(
                        Diagnostic::error(
                            Code::Arity,
                            format!("`{name}` joins at least two tensors"),
                            span,
                            "too few tensors",
                        )
                        .with_help(format!(
                            "`{name}(a, b)` where `a` and `b` are tensors bound with `let`"
                        )),
                    );
                }
                for a in args {
                    self.expr(
                        &a.value,
                        Some(&Ty::Tensor),
                        Mode {
                            symbols: false,
                            ..mode
                        },
                    );
                }
                Ty::Tensor
            }
        }
    }

    fn domain_bounds(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        names: &[&str],
        required: usize,
        ty: Ty,
    ) {
        let params: Vec<(String, Ty, bool)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), ty.clone(), i >= required))
            .collect();
        self.check_args(
            &params,
            args,
            span,
            &format!("`{}`", id.name),
            Mode {
                domains: false,
                symbols: false,
                ..Mode::default()
            },
        );
    }

    /// Evaluates a constant expression (literals, arithmetic, constant `let`s).
    pub fn const_eval(&self, e: &ast::Expr) -> Option<Const> {
        Some(match &e.kind {
            ExprKind::Int(v) => Const::Int(*v),
            ExprKind::Float(v) => Const::Float(*v),
            ExprKind::Bool(v) => Const::Bool(*v),
            ExprKind::Str(s) => Const::Str(s.clone()),
            ExprKind::Name(id) => {
                if let Some(c) = self.consts.get(&id.name) {
                    return Some(c.clone());
                }
                if self.lookup_var(&id.name).is_some()
                    || self.checked.lookup(self.file, &id.name).is_some()
                {
                    return None;
                }
                Const::Sym(id.name.clone())
            }
            ExprKind::Unary(UnOp::Neg, inner) => match self.const_eval(inner)? {
                Const::Int(v) => Const::Int(v.checked_neg()?),
                Const::Float(v) => Const::Float(-v),
                _ => return None,
            },
            ExprKind::Unary(UnOp::Not, inner) => match self.const_eval(inner)? {
                Const::Bool(b) => Const::Bool(!b),
                _ => return None,
            },
            ExprKind::Binary(op, l, r) => {
                let (l, r) = (self.const_eval(l)?, self.const_eval(r)?);
                match (l, r) {
                    (Const::Int(a), Const::Int(b)) => match op {
                        BinOp::Add => Const::Int(a.checked_add(b)?),
                        BinOp::Sub => Const::Int(a.checked_sub(b)?),
                        BinOp::Mul => Const::Int(a.checked_mul(b)?),
                        BinOp::Div => Const::Int(a.checked_div(b)?),
                        BinOp::Rem => Const::Int(a.checked_rem(b)?),
                        _ => return None,
                    },
                    (a, b) => {
                        let (a, b) = (a.as_f64()?, b.as_f64()?);
                        match op {
                            BinOp::Add => Const::Float(a + b),
                            BinOp::Sub => Const::Float(a - b),
                            BinOp::Mul => Const::Float(a * b),
                            BinOp::Div if b != 0.0 => Const::Float(a / b),
                            _ => return None,
                        }
                    }
                }
            }
            _ => return None,
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// "an int", "a module", ...
pub(super) fn article(t: &Ty) -> String {
    let s = t.to_string();
    match s.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {s}"),
        _ => format!("a {s}"),
    }
}

fn signature_help(callee: &str, params: &[(String, Ty, bool)]) -> String {
    let sig: Vec<String> = params
        .iter()
        .map(|(n, t, d)| {
            if *d {
                format!("{n}: {t} = ...")
            } else {
                format!("{n}: {t}")
            }
        })
        .collect();
    format!("{callee} takes ({})", sig.join(", "))
}
