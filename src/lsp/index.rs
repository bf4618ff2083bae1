//! Which name is which: every definition in a checked program and every place a name
//! refers to one, for hover, go to definition, references and rename.
//!
//! Names resolve the way the checker resolves them: the innermost block's `let`s, then a
//! function's parameters or a space's hyperparameters and values (in any order, as the
//! checker allows), then the file's top-level names (its items, its imports, the prelude),
//! and last the enum symbols (`gelu`, `rotary`), which the checker resolves by the type it
//! expects. A keyword argument (`heads = 4`) refers to the parameter of the function,
//! module or variant it is passed to. Names that resolve to nothing (errors the checker
//! reports) are left out.

use std::collections::HashMap;

use crate::check::types::ItemRef;
use crate::check::Checked;
use crate::diag::{FileId, Span};
use crate::syntax::ast::{self, BuiltinKind, Expr, ExprKind, Filter, Item, Member, Stmt};

/// What a definition defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefKind {
    /// `space name { ... }`.
    Space,
    /// `fn name(...)`.
    Fn,
    /// `builtin kind name(...)`.
    Builtin(BuiltinKind),
    /// `enum name { ... }`.
    Enum,
    /// A variant of an enum: an enum symbol.
    Variant,
    /// `param name = domain` in a space: a hyperparameter.
    Param,
    /// `let name = value`, in a space or a block.
    Let,
    /// A parameter of a function, builtin or variant.
    Arg,
}

/// One definition.
#[derive(Clone, Debug)]
pub struct Def {
    /// What it defines.
    pub kind: DefKind,
    /// Its name.
    pub name: String,
    /// The name where it is defined.
    pub span: Span,
    /// The item it is (spaces, functions, builtins, enums) or belongs to (everything
    /// else: the space of a hyperparameter, the function of a parameter, the enum of a
    /// variant).
    pub item: ItemRef,
}

/// Every definition of a program and every use of one.
#[derive(Debug, Default)]
pub struct Index {
    /// The definitions.
    pub defs: Vec<Def>,
    /// Each use: where the name is written and the index of its definition.
    pub uses: Vec<(Span, usize)>,
}

impl Index {
    /// The index of `checked`: all of its files, the standard library included.
    pub fn build(checked: &Checked) -> Index {
        let mut w = Walker {
            checked,
            index: Index::default(),
            items: HashMap::new(),
            members: HashMap::new(),
            variants: HashMap::new(),
            frames: Vec::new(),
            file: FileId(0),
            current: ItemRef {
                file: FileId(0),
                index: 0,
            },
        };
        w.definitions();
        w.walk_files();
        w.index
    }

    /// The definition named at byte `offset` of `file`, by a use or by the definition
    /// itself, with the span of the name there.
    pub fn at(&self, file: FileId, offset: usize) -> Option<(Span, usize)> {
        let hit = |s: &Span| s.file == file && s.start <= offset && offset <= s.end;
        self.uses.iter().find(|(s, _)| hit(s)).copied().or_else(|| {
            self.defs
                .iter()
                .position(|d| hit(&d.span))
                .map(|i| (self.defs[i].span, i))
        })
    }

    /// Where definition `def` is used.
    pub fn uses_of(&self, def: usize) -> impl Iterator<Item = Span> + '_ {
        self.uses
            .iter()
            .filter(move |(_, d)| *d == def)
            .map(|(s, _)| *s)
    }
}

struct Walker<'a> {
    checked: &'a Checked,
    index: Index,
    /// The definition of each item.
    items: HashMap<ItemRef, usize>,
    /// The names an item's body sees first: a space's hyperparameters and values, the
    /// parameters of a function, builtin or variant (by the item, then by variant name).
    members: HashMap<(ItemRef, String), HashMap<String, usize>>,
    /// Enum symbols by name; the first enum that declares one wins.
    variants: HashMap<String, usize>,
    /// The scopes the walk is inside, innermost last.
    frames: Vec<HashMap<String, usize>>,
    /// The file being walked.
    file: FileId,
    /// The item being walked: the owner of the `let`s of its blocks.
    current: ItemRef,
}

impl Walker<'_> {
    fn def(&mut self, kind: DefKind, name: &ast::Ident, item: ItemRef) -> usize {
        self.index.defs.push(Def {
            kind,
            name: name.name.clone(),
            span: name.span,
            item,
        });
        self.index.defs.len() - 1
    }

    fn params(&mut self, params: &[ast::FnParam], item: ItemRef) -> HashMap<String, usize> {
        params
            .iter()
            .map(|p| (p.name.name.clone(), self.def(DefKind::Arg, &p.name, item)))
            .collect()
    }

    /// Every top-level definition and every member of one, before any use is resolved
    /// (a use may come before its definition).
    fn definitions(&mut self) {
        let checked = self.checked;
        for (f, file) in checked.program.files.iter().enumerate() {
            for (index, item) in file.items.iter().enumerate() {
                let r = ItemRef {
                    file: FileId(f as u32),
                    index,
                };
                let key = (r, String::new());
                match item {
                    Item::Space(s) => {
                        let d = self.def(DefKind::Space, &s.name, r);
                        self.items.insert(r, d);
                        let mut names = HashMap::new();
                        for m in &s.members {
                            let (kind, name) = match m {
                                Member::Param(p) => (DefKind::Param, &p.name),
                                Member::Let(l) => (DefKind::Let, &l.name),
                                _ => continue,
                            };
                            let d = self.def(kind, name, r);
                            names.entry(name.name.clone()).or_insert(d);
                        }
                        self.members.insert(key, names);
                    }
                    Item::Fn(f) => {
                        let d = self.def(DefKind::Fn, &f.name, r);
                        self.items.insert(r, d);
                        let names = self.params(&f.params, r);
                        self.members.insert(key, names);
                    }
                    Item::Builtin(b) => {
                        let d = self.def(DefKind::Builtin(b.kind), &b.name, r);
                        self.items.insert(r, d);
                        let names = self.params(&b.params, r);
                        self.members.insert(key, names);
                    }
                    Item::Enum(e) => {
                        let d = self.def(DefKind::Enum, &e.name, r);
                        self.items.insert(r, d);
                        for v in &e.variants {
                            let d = self.def(DefKind::Variant, &v.name, r);
                            self.variants.entry(v.name.name.clone()).or_insert(d);
                            let names = self.params(&v.params, r);
                            self.members.insert((r, v.name.name.clone()), names);
                        }
                    }
                    Item::Import(_) | Item::Config(_) => {}
                }
            }
        }
    }

    fn walk_files(&mut self) {
        let checked = self.checked;
        for (f, file) in checked.program.files.iter().enumerate() {
            self.file = FileId(f as u32);
            for (index, item) in file.items.iter().enumerate() {
                let r = ItemRef {
                    file: self.file,
                    index,
                };
                let own = self
                    .members
                    .get(&(r, String::new()))
                    .cloned()
                    .unwrap_or_default();
                self.frames = vec![own];
                self.current = r;
                self.item(item);
            }
        }
        self.frames.clear();
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import(imp) => {
                for (name, alias) in imp.names.iter().flatten() {
                    let local = alias.as_ref().unwrap_or(name);
                    if let Some(d) = self.top_level(&local.name) {
                        self.use_at(name.span, d);
                        if let Some(a) = alias {
                            self.use_at(a.span, d);
                        }
                    }
                }
            }
            Item::Space(s) => {
                for m in &s.members {
                    match m {
                        Member::Param(p) => {
                            self.type_name(p.ty.as_ref());
                            self.expr(&p.domain);
                        }
                        Member::Let(l) => {
                            self.type_name(l.ty.as_ref());
                            self.expr(&l.value);
                        }
                        Member::Require(r) => self.expr(&r.cond),
                        Member::Graph(g) => self.expr(&g.body),
                        Member::Config(c) => self.config(c),
                    }
                }
            }
            Item::Fn(f) => {
                self.fn_params(&f.params);
                self.type_name(f.ret.as_ref());
                self.expr(&f.body);
            }
            Item::Builtin(b) => {
                self.fn_params(&b.params);
                self.type_name(b.ty.as_ref());
                if let Some(w) = &b.out_width {
                    self.expr(w);
                }
                for r in &b.requires {
                    self.expr(&r.cond);
                }
            }
            Item::Enum(e) => {
                for v in &e.variants {
                    self.fn_params(&v.params);
                }
            }
            Item::Config(c) => self.config(c),
        }
    }

    fn fn_params(&mut self, params: &[ast::FnParam]) {
        for p in params {
            self.type_name(Some(&p.ty));
            if let Some(d) = &p.default {
                self.expr(d);
            }
        }
    }

    fn config(&mut self, c: &ast::Config) {
        match c {
            ast::Config::Data(e, _) => self.expr(e),
            ast::Config::Train(fields, _) => {
                for f in fields {
                    self.expr(&f.value);
                }
            }
            ast::Config::Objective(goals, _) => {
                for g in goals {
                    self.name(&g.metric);
                }
            }
            ast::Config::Pipeline(stages, _) => {
                for s in stages {
                    self.name(&s.strategy);
                    let callee = self.top_level(&s.strategy.name);
                    self.args(callee, &s.args);
                    match &s.filter {
                        Some(Filter::Top(n, m)) => {
                            self.expr(n);
                            self.name(m);
                        }
                        Some(Filter::Best(Some(m), _) | Filter::Fraction(_, _, m)) => self.name(m),
                        Some(Filter::Where(e)) => self.expr(e),
                        Some(Filter::Best(None, _) | Filter::Pareto(_)) | None => {}
                    }
                }
            }
        }
    }

    fn type_name(&mut self, ty: Option<&ast::TypeExpr>) {
        if let Some(ty) = ty {
            if let Some(d) = self.top_level(&ty.name) {
                self.use_at(ty.span, d);
            }
        }
    }

    fn use_at(&mut self, span: Span, def: usize) {
        if span != self.index.defs[def].span {
            self.index.uses.push((span, def));
        }
    }

    fn top_level(&self, name: &str) -> Option<usize> {
        self.checked
            .lookup(self.file, name)
            .and_then(|r| self.items.get(&r).copied())
    }

    fn resolve(&self, name: &str) -> Option<usize> {
        self.frames
            .iter()
            .rev()
            .find_map(|f| f.get(name).copied())
            .or_else(|| self.top_level(name))
            .or_else(|| self.variants.get(name).copied())
    }

    fn name(&mut self, id: &ast::Ident) {
        if let Some(d) = self.resolve(&id.name) {
            self.use_at(id.span, d);
        }
    }

    /// The arguments of a call to definition `callee`: keyword names refer to its
    /// parameters.
    fn args(&mut self, callee: Option<usize>, args: &[ast::Arg]) {
        let params = callee.and_then(|c| {
            let d = &self.index.defs[c];
            let variant = if d.kind == DefKind::Variant {
                d.name.clone()
            } else {
                String::new()
            };
            self.members.get(&(d.item, variant)).cloned()
        });
        let params = params.filter(|_| {
            callee.is_some_and(|c| {
                matches!(
                    self.index.defs[c].kind,
                    DefKind::Fn | DefKind::Builtin(_) | DefKind::Variant
                )
            })
        });
        for a in args {
            if let (Some(n), Some(params)) = (&a.name, &params) {
                if let Some(&d) = params.get(&n.name) {
                    self.use_at(n.span, d);
                }
            }
            self.expr(&a.value);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) | ExprKind::Bool(_) => {}
            ExprKind::Data => {}
            ExprKind::Name(id) => self.name(id),
            ExprKind::Unary(_, x) | ExprKind::Optional(x) | ExprKind::Residual(x) => self.expr(x),
            ExprKind::Member(x, _) => self.expr(x),
            ExprKind::Binary(_, a, b) | ExprKind::Repeat(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Call(callee, args) => {
                self.expr(callee);
                let target = match &callee.kind {
                    ExprKind::Name(id) => self.resolve(&id.name),
                    _ => None,
                };
                self.args(target, args);
            }
            ExprKind::If(c, a, b) => {
                self.expr(c);
                self.expr(a);
                if let Some(b) = b {
                    self.expr(b);
                }
            }
            ExprKind::Block(stmts) => {
                self.frames.push(HashMap::new());
                let owner = self.current;
                for s in stmts {
                    match s {
                        Stmt::Let(l) => {
                            self.type_name(l.ty.as_ref());
                            self.expr(&l.value);
                            let d = self.def(DefKind::Let, &l.name, owner);
                            if let Some(frame) = self.frames.last_mut() {
                                frame.insert(l.name.name.clone(), d);
                            }
                        }
                        Stmt::Require(r) => self.expr(&r.cond),
                        Stmt::Expr(x) => self.expr(x),
                    }
                }
                self.frames.pop();
            }
        }
    }
}
