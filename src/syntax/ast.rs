//! The owned syntax tree of a `.nas` file, with a span on every node.
//!
//! The parser builds it from pest's pairs; the checker and the interpreter read it. It
//! holds exactly what the user wrote: names are not resolved and nothing is desugared,
//! so that diagnostics and the formatter can point at the text as written.

use crate::diag::Span;

/// A name as written, with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// One parsed file.
#[derive(Clone, Debug, Default)]
pub struct File {
    /// The items, in source order (items that failed to parse are left out).
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug)]
pub enum Item {
    /// `import std.transformer.{ attention }`.
    Import(Import),
    /// `space name { ... }`.
    Space(Space),
    /// `fn name(...) -> module { ... }`.
    Fn(FnDef),
    /// `builtin module name(...)`.
    Builtin(Builtin),
    /// `enum name { a, b(x: int) }`.
    Enum(EnumDef),
    /// `data = ...`, `train { ... }`, `objective { ... }` or `pipeline { ... }`.
    Config(Config),
}

/// `import a.b.{ x, y as z }` or `import a.b.*`.
#[derive(Clone, Debug)]
pub struct Import {
    /// The dotted path of the imported file (`std.transformer`).
    pub path: Vec<Ident>,
    /// The imported names with their local aliases; `None` imports every name.
    pub names: Option<Vec<(Ident, Option<Ident>)>>,
    /// The whole item.
    pub span: Span,
}

/// `space name { members }`.
#[derive(Clone, Debug)]
pub struct Space {
    /// The space's name.
    pub name: Ident,
    /// Its members, in source order.
    pub members: Vec<Member>,
    /// When some members failed to parse: the names those members would have defined.
    pub broken: Option<Vec<Ident>>,
    /// The whole item.
    pub span: Span,
}

/// A member of a space.
#[derive(Clone, Debug)]
pub enum Member {
    /// `param x : int = choice(...)`.
    Param(Param),
    /// `let x = ...`.
    Let(Let),
    /// `require ...`.
    Require(Require),
    /// `graph { ... }`.
    Graph(GraphDef),
    /// A configuration block inside the space.
    Config(Config),
}

/// An independent hyperparameter.
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name.
    pub name: Ident,
    /// The declared type, if any.
    pub ty: Option<TypeExpr>,
    /// Its domain (`choice`, `range`, `uniform`, `log_uniform`).
    pub domain: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// A dependent value: `let name = expr`.
#[derive(Clone, Debug)]
pub struct Let {
    /// Its name.
    pub name: Ident,
    /// The declared type, if any.
    pub ty: Option<TypeExpr>,
    /// The defining expression.
    pub value: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// A constraint: `require cond [else "message"]`.
#[derive(Clone, Debug)]
pub struct Require {
    /// The condition every architecture must satisfy.
    pub cond: Expr,
    /// A message to print when it fails.
    pub message: Option<String>,
    /// The whole constraint.
    pub span: Span,
}

/// `graph { ... }`.
#[derive(Clone, Debug)]
pub struct GraphDef {
    /// The body, a block expression.
    pub body: Expr,
    /// The whole declaration.
    pub span: Span,
}

/// A configuration block.
#[derive(Clone, Debug)]
pub enum Config {
    /// `data = source(...)`.
    Data(Expr, Span),
    /// `train { field = value, ... }`.
    Train(Vec<Field>, Span),
    /// `objective { minimize m ... }`.
    Objective(Vec<Goal>, Span),
    /// `pipeline { stage |> filter ... }`.
    Pipeline(Vec<Stage>, Span),
}

impl Config {
    /// The keyword that opens the block.
    pub fn keyword(&self) -> &'static str {
        match self {
            Config::Data(..) => "data",
            Config::Train(..) => "train",
            Config::Objective(..) => "objective",
            Config::Pipeline(..) => "pipeline",
        }
    }

    /// The whole block.
    pub fn span(&self) -> Span {
        match self {
            Config::Data(_, s)
            | Config::Train(_, s)
            | Config::Objective(_, s)
            | Config::Pipeline(_, s) => *s,
        }
    }
}

/// `name = value` in a record.
#[derive(Clone, Debug)]
pub struct Field {
    /// The field name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// Whether an objective is minimised or maximised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Smaller is better.
    Minimize,
    /// Larger is better.
    Maximize,
}

impl Direction {
    /// The keyword that writes it.
    pub fn keyword(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }

    /// `v` as a loss: itself when minimised, negated when maximised.
    pub fn as_loss(self, v: f64) -> f64 {
        match self {
            Direction::Minimize => v,
            Direction::Maximize => -v,
        }
    }
}

/// `minimize metric`, optionally `weight w`.
#[derive(Clone, Debug)]
pub struct Goal {
    /// The direction.
    pub direction: Direction,
    /// The metric.
    pub metric: Ident,
    /// Its weight in the scalarised objective `score`, and where the number is written.
    pub weight: Option<(f64, Span)>,
}

/// One layer of a pipeline: a strategy call and the filter that passes survivors on.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The strategy's name.
    pub strategy: Ident,
    /// Its arguments.
    pub args: Vec<Arg>,
    /// The filter after it, if any.
    pub filter: Option<Filter>,
    /// The whole stage.
    pub span: Span,
}

/// `keep ...` after a stage.
#[derive(Clone, Debug)]
pub enum Filter {
    /// `keep top k by metric`.
    Top(Expr, Ident),
    /// `keep pareto`: the non-dominated set under the objective.
    Pareto(Span),
    /// `keep best [by metric]`.
    Best(Option<Ident>, Span),
    /// `keep 25% by metric`.
    Fraction(f64, Span, Ident),
    /// `keep where cond`.
    Where(Expr),
}

/// `fn name(params) -> type { body }`.
#[derive(Clone, Debug)]
pub struct FnDef {
    /// Its name.
    pub name: Ident,
    /// Its parameters.
    pub params: Vec<FnParam>,
    /// The declared result type.
    pub ret: Option<TypeExpr>,
    /// The body, a block expression.
    pub body: Expr,
    /// Doc comment lines (`///`) before it.
    pub doc: Option<String>,
    /// The whole item.
    pub span: Span,
}

/// A parameter of a function, builtin or enum variant.
#[derive(Clone, Debug)]
pub struct FnParam {
    /// Its name.
    pub name: Ident,
    /// Its type.
    pub ty: TypeExpr,
    /// Its default value, which makes it optional.
    pub default: Option<Expr>,
}

/// What a builtin declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinKind {
    /// A native network block.
    Module,
    /// A search strategy usable in a pipeline.
    Strategy,
    /// An optimizer usable in `train`.
    Optimizer,
    /// A data source usable in `data`.
    Dataset,
    /// A metric of an architecture.
    Metric,
}

impl BuiltinKind {
    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinKind::Module => "module",
            BuiltinKind::Strategy => "strategy",
            BuiltinKind::Optimizer => "optimizer",
            BuiltinKind::Dataset => "dataset",
            BuiltinKind::Metric => "metric",
        }
    }
}

/// `builtin module name(params) -> width { require ... }`.
#[derive(Clone, Debug)]
pub struct Builtin {
    /// What it declares.
    pub kind: BuiltinKind,
    /// Its name.
    pub name: Ident,
    /// Its parameters (empty when none are written).
    pub params: Vec<FnParam>,
    /// The value type, for metrics.
    pub ty: Option<TypeExpr>,
    /// Whether a metric is static (from the architecture) rather than measured.
    pub is_static: bool,
    /// The output width of a module, in terms of its parameters and `width`.
    pub out_width: Option<Expr>,
    /// Shape rules the arguments must satisfy.
    pub requires: Vec<Require>,
    /// Doc comment lines (`///`) before it.
    pub doc: Option<String>,
    /// The whole item.
    pub span: Span,
}

/// `enum name { variants }`.
#[derive(Clone, Debug)]
pub struct EnumDef {
    /// Its name.
    pub name: Ident,
    /// Its variants.
    pub variants: Vec<Variant>,
    /// Doc comment lines (`///`) before it.
    pub doc: Option<String>,
    /// The whole item.
    pub span: Span,
}

/// A variant of an enum, with its payload parameters.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Its name.
    pub name: Ident,
    /// Its payload parameters.
    pub params: Vec<FnParam>,
}

/// A type as written: `int`, `float`, `bool`, `string`, `enum`, `module`, `tensor` or an
/// enum's name.
#[derive(Clone, Debug)]
pub struct TypeExpr {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// An expression, value or graph fragment.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it is written.
    pub span: Span,
    /// How deeply it nests (1 for a leaf). The parser bounds it, so that every recursive
    /// walk over expressions has bounded depth.
    pub depth: u32,
}

impl Expr {
    /// A node; its depth is one more than that of its deepest child.
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        let depth = 1 + kind.child_depth();
        Expr { kind, span, depth }
    }
}

impl Expr {
    /// Calls `f` on this expression and every expression inside it, parents first. The
    /// recursion is bounded by the parser's depth limit.
    pub fn visit<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Name(_)
            | ExprKind::Data => {}
            ExprKind::Unary(_, e)
            | ExprKind::Member(e, _)
            | ExprKind::Optional(e)
            | ExprKind::Residual(e) => e.visit(f),
            ExprKind::Binary(_, a, b) | ExprKind::Repeat(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Call(c, args) => {
                c.visit(f);
                args.iter().for_each(|a| a.value.visit(f));
            }
            ExprKind::If(c, t, o) => {
                c.visit(f);
                t.visit(f);
                if let Some(o) = o {
                    o.visit(f);
                }
            }
            ExprKind::Block(stmts) => stmts.iter().for_each(|s| match s {
                Stmt::Let(l) => l.value.visit(f),
                Stmt::Require(r) => r.cond.visit(f),
                Stmt::Expr(e) => e.visit(f),
            }),
        }
    }

    /// The names this expression mentions (callees excluded), with their spans.
    pub fn names(&self) -> Vec<&Ident> {
        let mut callees: Vec<*const Expr> = Vec::new();
        let mut out = Vec::new();
        self.visit(&mut |e| match &e.kind {
            ExprKind::Call(c, _) => callees.push(&**c as *const Expr),
            ExprKind::Name(id) if !callees.contains(&(e as *const Expr)) => out.push(id),
            _ => {}
        });
        out
    }
}

impl ExprKind {
    /// The depth of the deepest child expression (0 for a leaf).
    fn child_depth(&self) -> u32 {
        let stmt_depth = |s: &Stmt| match s {
            Stmt::Let(l) => l.value.depth,
            Stmt::Require(r) => r.cond.depth,
            Stmt::Expr(e) => e.depth,
        };
        match self {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Name(_)
            | ExprKind::Data => 0,
            ExprKind::Unary(_, e)
            | ExprKind::Member(e, _)
            | ExprKind::Optional(e)
            | ExprKind::Residual(e) => e.depth,
            ExprKind::Binary(_, a, b) | ExprKind::Repeat(a, b) => a.depth.max(b.depth),
            ExprKind::Call(c, args) => args.iter().map(|a| a.value.depth).fold(c.depth, u32::max),
            ExprKind::If(c, t, o) => c.depth.max(t.depth).max(o.as_ref().map_or(0, |o| o.depth)),
            ExprKind::Block(stmts) => stmts.iter().map(stmt_depth).max().unwrap_or(0),
        }
    }
}

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-x`.
    Neg,
    /// `not x`.
    Not,
}

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `a >> b`: sequence graph fragments.
    Seq,
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/` (integer division on two ints).
    Div,
    /// `%`.
    Rem,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Seq => ">>",
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// A call argument, positional or named.
#[derive(Clone, Debug)]
pub struct Arg {
    /// The keyword, for a named argument.
    pub name: Option<Ident>,
    /// The value.
    pub value: Expr,
}

/// A statement of a block.
#[derive(Clone, Debug)]
pub enum Stmt {
    /// `let name = expr`.
    Let(Let),
    /// `require cond`.
    Require(Require),
    /// An expression: a module applied to the flow, a tensor, or the block's value.
    Expr(Expr),
}

/// The kinds of expression.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// An integer literal (suffixes `K`, `M`, `G` already applied).
    Int(i64),
    /// A float literal.
    Float(f64),
    /// A string literal, unescaped.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// A name: a value, a module, or an enum symbol.
    Name(Ident),
    /// The `data` keyword, used as `data.vocab`.
    Data,
    /// `-x`, `not x`.
    Unary(UnOp, Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `callee(args)`.
    Call(Box<Expr>, Vec<Arg>),
    /// `base.name`.
    Member(Box<Expr>, Ident),
    /// `if cond { a } else { b }`.
    If(Box<Expr>, Box<Expr>, Option<Box<Expr>>),
    /// `repeat count { body }`.
    Repeat(Box<Expr>, Box<Expr>),
    /// `optional body`.
    Optional(Box<Expr>),
    /// `residual body`.
    Residual(Box<Expr>),
    /// `{ statements }`.
    Block(Vec<Stmt>),
}

/// Which argument fills each declared parameter: by keyword, else by position (`None`
/// where none does; arguments past the parameters are dropped, the checker reports them).
pub fn match_args<'x>(params: &[FnParam], args: &'x [Arg]) -> Vec<Option<&'x Arg>> {
    match_arg_indices(params, args)
        .into_iter()
        .map(|k| k.map(|k| &args[k]))
        .collect()
}

/// [`match_args`], giving each argument by its index in `args`.
pub fn match_arg_indices(params: &[FnParam], args: &[Arg]) -> Vec<Option<usize>> {
    let mut slots: Vec<Option<usize>> = vec![None; params.len()];
    let mut positional = 0;
    for (k, a) in args.iter().enumerate() {
        let slot = match &a.name {
            Some(n) => params.iter().position(|p| p.name.name == n.name),
            None => {
                positional += 1;
                Some(positional - 1)
            }
        };
        if let Some(s) = slot.filter(|s| *s < slots.len()) {
            slots[s] = Some(k);
        }
    }
    slots
}
