//! Checks of items: spaces, functions, builtins, enums and configuration blocks.

use std::collections::{HashMap, HashSet};

use super::expr::{Const, Cx, Mode, VarKind};
use super::types::{ItemRef, Ty};
use super::{Checked, Domain, LetInfo, ParamInfo, RequireInfo, SpaceInfo};
use crate::diag::{Code, Diagnostic, FileId, Sink, Span};
use crate::syntax::ast::{self, BuiltinKind, Config, ExprKind, Item, Member};

/// Checks every item of every file; returns the root file's spaces.
pub(super) fn check_items(checked: &Checked, sink: &mut Sink) -> Vec<SpaceInfo> {
    let mut call_graph: HashMap<ItemRef, Vec<(ItemRef, Span)>> = HashMap::new();
    let mut spaces = Vec::new();
    for (f, file) in checked.program.files.iter().enumerate() {
        let fid = FileId(f as u32);
        let top_configs: Vec<&Config> = file
            .items
            .iter()
            .filter_map(|i| {
                if let Item::Config(c) = i {
                    Some(c)
                } else {
                    None
                }
            })
            .collect();
        let space_items: Vec<&ast::Space> = file
            .items
            .iter()
            .filter_map(|i| {
                if let Item::Space(s) = i {
                    Some(s)
                } else {
                    None
                }
            })
            .collect();
        if !top_configs.is_empty() && space_items.len() != 1 {
            let msg = if space_items.is_empty() {
                "configuration block outside any space"
            } else {
                "configuration block with several spaces in the file"
            };
            for c in &top_configs {
                sink.push(
                    Diagnostic::error(Code::ConfigBlock, format!("`{}` {msg}", c.keyword()), c.span(), "belongs to no single space")
                        .with_help("a top-level `data`, `train`, `objective` or `pipeline` applies to the one space of its file; move it inside a space"),
                );
            }
        }
        for (index, item) in file.items.iter().enumerate() {
            let me = ItemRef { file: fid, index };
            match item {
                Item::Fn(def) => {
                    let mut cx = Cx::new(checked, fid, sink);
                    duplicate_params(&mut cx, &def.params);
                    for p in &def.params {
                        let ty = cx.resolve_type(fid, &p.ty);
                        if let Some(d) = &p.default {
                            cx.expr(
                                d,
                                Some(&ty),
                                Mode {
                                    symbols: true,
                                    ..Mode::default()
                                },
                            );
                        }
                        cx.bind(&p.name, ty, VarKind::FnParam);
                    }
                    let ret = def
                        .ret
                        .as_ref()
                        .map(|t| cx.resolve_type(fid, t))
                        .unwrap_or(Ty::Module);
                    let graph = matches!(ret, Ty::Module);
                    let mode = Mode {
                        domains: true,
                        graph,
                        ..Mode::default()
                    };
                    cx.expr(&def.body, Some(&ret), mode);
                    call_graph.insert(me, std::mem::take(&mut cx.calls));
                }
                Item::Builtin(b) => check_builtin(checked, fid, b, sink),
                Item::Enum(e) => check_enum(checked, fid, e, sink),
                Item::Space(s) => {
                    let configs = if space_items.len() == 1 {
                        top_configs.clone()
                    } else {
                        Vec::new()
                    };
                    let info = check_space(checked, fid, s, &configs, sink, &mut call_graph, me);
                    if fid == checked.program.root {
                        spaces.push(info);
                    }
                }
                Item::Import(_) | Item::Config(_) => {}
            }
        }
    }
    report_recursion(checked, &call_graph, sink);
    let failed = sink.has_errors();
    for s in &mut spaces {
        s.has_errors |= failed;
    }
    spaces
}

/// Reports parameters declared twice in one signature.
fn duplicate_params(cx: &mut Cx, params: &[ast::FnParam]) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for p in params {
        if let Some(prev) = seen.insert(&p.name.name, p.name.span) {
            cx.err(
                Diagnostic::error(
                    Code::DuplicateDefinition,
                    format!("parameter `{}` is declared twice", p.name.name),
                    p.name.span,
                    "declared again here",
                )
                .with_label(prev, "first declared here")
                .with_help("rename or remove one of them"),
            );
        }
    }
}

fn check_builtin(checked: &Checked, fid: FileId, b: &ast::Builtin, sink: &mut Sink) {
    let mut cx = Cx::new(checked, fid, sink);
    duplicate_params(&mut cx, &b.params);
    for p in &b.params {
        let ty = cx.resolve_type(fid, &p.ty);
        if let Some(d) = &p.default {
            cx.expr(
                d,
                Some(&ty),
                Mode {
                    symbols: true,
                    ..Mode::default()
                },
            );
        }
        cx.bind(&p.name, ty, VarKind::FnParam);
    }
    if let Some(t) = &b.ty {
        cx.resolve_type(fid, t);
    }
    if b.kind == BuiltinKind::Module {
        cx.bind(
            &ast::Ident {
                name: "width".into(),
                span: b.name.span,
            },
            Ty::Int,
            VarKind::FnParam,
        );
    }
    if let Some(w) = &b.out_width {
        cx.expr(w, Some(&Ty::Int), Mode::default());
    }
    for r in &b.requires {
        cx.expr(&r.cond, Some(&Ty::Bool), Mode::default());
    }
}

fn check_enum(checked: &Checked, fid: FileId, e: &ast::EnumDef, sink: &mut Sink) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut cx = Cx::new(checked, fid, sink);
    for v in &e.variants {
        if let Some(prev) = seen.insert(&v.name.name, v.name.span) {
            cx.err(
                Diagnostic::error(
                    Code::DuplicateDefinition,
                    format!("variant `{}` is defined twice", v.name.name),
                    v.name.span,
                    "defined again here",
                )
                .with_label(prev, "first defined here")
                .with_help("remove or rename one of them"),
            );
        }
        duplicate_params(&mut cx, &v.params);
        for p in &v.params {
            cx.resolve_type(fid, &p.ty);
        }
    }
}

enum Decl<'a> {
    Param(&'a ast::Param),
    Let(&'a ast::Let),
}

impl Decl<'_> {
    fn name(&self) -> &ast::Ident {
        match self {
            Decl::Param(p) => &p.name,
            Decl::Let(l) => &l.name,
        }
    }
    fn expr(&self) -> &ast::Expr {
        match self {
            Decl::Param(p) => &p.domain,
            Decl::Let(l) => &l.value,
        }
    }
}

fn check_space(
    checked: &Checked,
    fid: FileId,
    space: &ast::Space,
    top_configs: &[&Config],
    sink: &mut Sink,
    call_graph: &mut HashMap<ItemRef, Vec<(ItemRef, Span)>>,
    me: ItemRef,
) -> SpaceInfo {
    let errors_before = sink.diagnostics().iter().filter(|d| d.is_error()).count();
    let mut info = SpaceInfo {
        name: space.name.name.clone(),
        file: fid,
        span: space.span,
        params: Vec::new(),
        lets: Vec::new(),
        requires: Vec::new(),
        graph: None,
        data: None,
        train: Vec::new(),
        objectives: Vec::new(),
        stages: Vec::new(),
        has_errors: false,
    };
    // Declarations, with duplicates reported.
    let mut decls: Vec<Decl> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for m in &space.members {
        let d = match m {
            Member::Param(p) => Decl::Param(p),
            Member::Let(l) => Decl::Let(l),
            _ => continue,
        };
        if let Some(&prev) = by_name.get(&d.name().name) {
            let prev_span = decls[prev].name().span;
            sink.push(
                Diagnostic::error(
                    Code::DuplicateDefinition,
                    format!("`{}` is defined twice", d.name().name),
                    d.name().span,
                    "defined again here",
                )
                .with_label(prev_span, "first defined here")
                .with_help("rename one of them"),
            );
            continue;
        }
        by_name.insert(d.name().name.clone(), decls.len());
        decls.push(d);
    }
    // Order declarations by dependency; report cycles.
    let deps: Vec<Vec<(usize, Span)>> = decls
        .iter()
        .map(|d| {
            d.expr()
                .names()
                .into_iter()
                .filter_map(|id| by_name.get(&id.name).map(|&i| (i, id.span)))
                .collect()
        })
        .collect();
    let (order, cyclic) = topo_order(&deps);
    for &i in &cyclic {
        let d = &decls[i];
        let via: Vec<String> = deps[i]
            .iter()
            .filter(|(j, _)| cyclic.contains(j))
            .map(|(j, _)| format!("`{}`", decls[*j].name().name))
            .collect();
        let span = deps[i]
            .iter()
            .find(|(j, _)| cyclic.contains(j))
            .map_or(d.name().span, |(_, s)| *s);
        sink.push(
            Diagnostic::error(Code::DependencyCycle, format!("`{}` depends on itself", d.name().name), span, format!("`{}` uses {} here", d.name().name, via.join(", ")))
                .with_label(d.name().span, "defined here")
                .with_help("break the cycle: a dependent value must be computable from independent hyperparameters"),
        );
    }

    let mut cx = Cx::new(checked, fid, sink);
    let mut types: HashMap<usize, Ty> = HashMap::new();
    // Bind everything first (so later references resolve), with types filled in as known.
    for &i in order.iter().chain(cyclic.iter()) {
        let d = &decls[i];
        let ty = if cyclic.contains(&i) {
            Ty::Unknown
        } else {
            check_decl(&mut cx, d, &mut info, checked)
        };
        types.insert(i, ty.clone());
        let kind = if matches!(d, Decl::Param(_)) {
            VarKind::Param
        } else {
            VarKind::SpaceLet
        };
        // Bind in frame 0 without shadowing warnings among space names.
        cx.frames[0].push(super::expr::Var {
            name: d.name().name.clone(),
            ty,
            span: d.name().span,
            kind,
            used: false,
        });
    }
    // Names of members that failed to parse resolve quietly, so one syntax error does not
    // cascade into unknown-name errors.
    let broken = space.broken.is_some();
    for id in space.broken.iter().flatten() {
        if !by_name.contains_key(&id.name) {
            cx.frames[0].push(super::expr::Var {
                name: id.name.clone(),
                ty: Ty::Unknown,
                span: id.span,
                kind: VarKind::SpaceLet,
                used: true,
            });
        }
    }

    // Constraints.
    for m in &space.members {
        if let Member::Require(r) = m {
            cx.saw_metric = false;
            let mode = Mode {
                static_metrics: true,
                ..Mode::default()
            };
            cx.expr(&r.cond, Some(&Ty::Bool), mode);
            info.requires.push(RequireInfo {
                cond: r.cond.clone(),
                text: checked.program.sources.snippet(r.cond.span),
                uses_metrics: cx.saw_metric,
                span: r.span.to(r.cond.span).with_end(r.cond.span.end),
            });
        }
    }
    // The graph.
    let graphs: Vec<&ast::GraphDef> = space
        .members
        .iter()
        .filter_map(|m| {
            if let Member::Graph(g) = m {
                Some(g)
            } else {
                None
            }
        })
        .collect();
    match graphs.as_slice() {
        // A graph that failed to parse was already reported.
        [] if broken => {}
        [] => cx.err(
            Diagnostic::error(
                Code::GraphCount,
                format!("space `{}` has no graph", space.name.name),
                space.name.span,
                "no `graph { ... }`",
            )
            .with_help("add `graph { ... }` describing the network"),
        ),
        [g, rest @ ..] => {
            for extra in rest {
                cx.err(
                    Diagnostic::error(Code::GraphCount, format!("space `{}` has more than one graph", space.name.name), extra.span, "second graph")
                        .with_label(g.span, "first graph")
                        .with_help("a space has one graph; express alternatives with `choice` or `if` inside it"),
                );
            }
            cx.calls.clear();
            cx.expr(
                &g.body,
                Some(&Ty::Module),
                Mode {
                    domains: true,
                    graph: true,
                    ..Mode::default()
                },
            );
            call_graph.insert(me, std::mem::take(&mut cx.calls));
            info.graph = Some(g.body.clone());
        }
    }
    // Configuration blocks: inside the space and at top level.
    let mut seen: HashMap<&'static str, Span> = HashMap::new();
    let inner = space.members.iter().filter_map(|m| {
        if let Member::Config(c) = m {
            Some(c)
        } else {
            None
        }
    });
    for c in inner.chain(top_configs.iter().copied()) {
        if let Some(prev) = seen.insert(c.keyword(), c.span()) {
            cx.err(
                Diagnostic::error(
                    Code::ConfigBlock,
                    format!("`{}` is given twice", c.keyword()),
                    c.span(),
                    "second block",
                )
                .with_label(prev, "first block")
                .with_help("merge the two blocks"),
            );
            continue;
        }
        check_config(&mut cx, c, &mut info);
    }
    // A Pareto filter needs several objectives to trade off.
    if info.objectives.len() < 2 {
        for st in &info.stages {
            if let Some(ast::Filter::Pareto(span)) = &st.filter {
                cx.err(
                    Diagnostic::error(Code::ConfigBlock, "`keep pareto` needs at least two objectives", *span, "Pareto front of one objective or none")
                        .with_help("list two or more metrics in `objective { ... }`, or keep the best by one metric with `keep top k by m`"),
                );
            }
        }
    }
    check_weights(&mut cx, &info);
    // Unused hyperparameters.
    let unused: Vec<(String, Span)> = cx.frames[0]
        .iter()
        .filter(|v| v.kind == VarKind::Param && !v.used && !broken)
        .map(|v| (v.name.clone(), v.span))
        .collect();
    for (name, span) in unused {
        cx.err(
            Diagnostic::warning(Code::UnusedParam, format!("hyperparameter `{name}` is never used"), span, "declared here")
                .with_help("use it in the graph or in `train`, or remove it: it multiplies the size of the space for nothing"),
        );
    }
    drop(cx);
    info.has_errors = sink.diagnostics().iter().filter(|d| d.is_error()).count() > errors_before;
    info
}

/// Checks one `param` or `let`, records it in `info`, and returns its type.
fn check_decl(cx: &mut Cx, d: &Decl, info: &mut SpaceInfo, checked: &Checked) -> Ty {
    match d {
        Decl::Param(p) => {
            let declared = p.ty.as_ref().map(|t| cx.resolve_type(cx.file, t));
            let call_name = match &p.domain.kind {
                ExprKind::Call(callee, _) => match &callee.kind {
                    ExprKind::Name(id) => Some(id.name.as_str()),
                    _ => None,
                },
                _ => None,
            };
            let is_domain = matches!(
                call_name,
                Some("choice" | "range" | "uniform" | "log_uniform")
            );
            if !is_domain {
                cx.err(
                    Diagnostic::error(Code::NotADomain, format!("`param {}` needs a domain", p.name.name), p.domain.span, "not a domain")
                        .with_help(format!("write `param {} = choice(...)`, `range(lo, hi)`, `uniform(lo, hi)` or `log_uniform(lo, hi)`; use `let` for a computed value", p.name.name)),
                );
            }
            let mode = Mode {
                domains: true,
                symbols: true,
                ..Mode::default()
            };
            let ty = cx.expr(&p.domain, declared.as_ref(), mode);
            let ty = match declared {
                Some(Ty::AnyEnum) => ty,
                Some(t) if t != Ty::Unknown => t,
                _ => ty,
            };
            let domain = if is_domain {
                domain_of(cx, &p.domain)
            } else {
                None
            };
            info.params.push(ParamInfo {
                name: p.name.name.clone(),
                span: p.name.span,
                ty: ty.clone(),
                domain,
                domain_text: checked.program.sources.snippet(p.domain.span),
            });
            ty
        }
        Decl::Let(l) => {
            let declared = l.ty.as_ref().map(|t| cx.resolve_type(cx.file, t));
            let ty = cx.expr(
                &l.value,
                declared.as_ref(),
                Mode {
                    symbols: declared.is_some(),
                    ..Mode::default()
                },
            );
            if let Some(c) = cx.const_eval(&l.value) {
                if !matches!(c, Const::Sym(_)) {
                    cx.consts.insert(l.name.name.clone(), c);
                }
            }
            info.lets.push(LetInfo {
                name: l.name.name.clone(),
                value: l.value.clone(),
                text: checked.program.sources.snippet(l.value.span),
            });
            declared.filter(|t| *t != Ty::Unknown).unwrap_or(ty)
        }
    }
}

/// The domain of a param whose declaration type-checked as a domain call.
fn domain_of(cx: &mut Cx, e: &ast::Expr) -> Option<Domain> {
    let ExprKind::Call(callee, args) = &e.kind else {
        return None;
    };
    let ExprKind::Name(id) = &callee.kind else {
        return None;
    };
    if id.name == "choice" {
        return (!args.is_empty())
            .then(|| Domain::Choice(args.iter().map(|a| a.value.clone()).collect()));
    }
    let names: &[&str] = if id.name == "range" {
        &["lo", "hi", "step"]
    } else {
        &["lo", "hi", "q"]
    };
    let mut vals: [Option<(f64, Span, bool)>; 3] = [None, None, None];
    // The integers exactly: past 2^53 an `f64` holds only some of them.
    let mut ints: [Option<i64>; 3] = [None, None, None];
    let mut positional = 0;
    for a in args {
        let slot = match &a.name {
            Some(n) => names.iter().position(|x| *x == n.name)?,
            None => {
                positional += 1;
                positional - 1
            }
        };
        if slot >= 3 {
            return None;
        }
        match cx.const_eval(&a.value) {
            Some(c @ (Const::Int(_) | Const::Float(_))) => {
                if let Const::Int(i) = c {
                    ints[slot] = Some(i);
                }
                vals[slot] = Some((c.as_f64()?, a.value.span, matches!(c, Const::Int(_))))
            }
            _ => {
                cx.err(
                    Diagnostic::error(
                        Code::DomainNotAllowed,
                        format!("the bounds of `{}` must be constant", id.name),
                        a.value.span,
                        "not a constant",
                    )
                    .with_help("write numbers, or `let` names bound to numbers"),
                );
                return None;
            }
        }
    }
    let (lo, lo_span, _) = vals[0]?;
    let (hi, hi_span, _) = vals[1]?;
    let bad = |cx: &mut Cx, msg: String, span: Span, label: &str, help: &str| {
        cx.err(Diagnostic::error(Code::BadDomain, msg, span, label).with_help(help.to_string()));
    };
    let below = match (ints[0], ints[1]) {
        (Some(l), Some(h)) => l > h,
        _ => lo > hi,
    };
    if below {
        bad(
            cx,
            format!("`{}` has its lower bound above its upper bound", id.name),
            lo_span.to(hi_span),
            "lo > hi",
            "swap the bounds: `lo` comes first",
        );
        return None;
    }
    if id.name == "range" {
        let step = vals[2].map_or(1.0, |v| v.0);
        if step <= 0.0 || ints[2].is_some_and(|s| s <= 0) {
            bad(
                cx,
                "`range` step must be positive".into(),
                vals[2].map_or(e.span, |v| v.1),
                "step <= 0",
                "use a step of 1 or more",
            );
            return None;
        }
        // A float bound was already reported as a type mismatch.
        if vals.iter().flatten().any(|(_, _, is_int)| !is_int) {
            return None;
        }
        return Some(Domain::IntRange {
            lo: ints[0]?,
            hi: ints[1]?,
            step: ints[2].unwrap_or(1),
        });
    }
    let log = id.name == "log_uniform";
    if log && lo <= 0.0 {
        bad(
            cx,
            "`log_uniform` needs a positive lower bound".into(),
            lo_span,
            "lo <= 0",
            "a log scale starts above zero: try `log_uniform(1e-5, ...)`",
        );
        return None;
    }
    if lo == hi {
        bad(
            cx,
            format!("`{}` has equal bounds", id.name),
            lo_span.to(hi_span),
            "empty interval",
            "use `choice(x)` for a fixed value, or widen the bounds",
        );
        return None;
    }
    let q = vals[2].map(|v| v.0);
    if let Some(qv) = q {
        if qv <= 0.0 {
            bad(
                cx,
                "the quantum `q` must be positive".into(),
                vals[2].map_or(e.span, |v| v.1),
                "q <= 0",
                "use a positive step such as `q = 0.05`",
            );
            return None;
        }
        if super::quantum::grid(lo, hi, qv).is_none() {
            let span = vals[2].map_or(e.span, |v| v.1);
            if super::quantum::too_fine(lo, hi, qv) {
                bad(
                    cx,
                    format!("`{}` has more than 2^62 multiples of its quantum", id.name),
                    span,
                    "too fine a grid",
                    "leave `q` out for a continuous value, or use a coarser `q`",
                );
            } else {
                bad(
                    cx,
                    format!(
                        "`{}` has no multiple of its quantum {qv} between {lo} and {hi}",
                        id.name
                    ),
                    span,
                    "no value on this grid",
                    "the values are the multiples of `q` inside the bounds: widen the bounds \
                     or use a smaller `q`",
                );
            }
            return None;
        }
    }
    Some(Domain::Float { lo, hi, log, q })
}

fn check_config(cx: &mut Cx, c: &Config, info: &mut SpaceInfo) {
    match c {
        Config::Data(e, _) => {
            info.data = Some(e.clone());
            let ok = matches!(&e.kind, ExprKind::Call(callee, _) if matches!(&callee.kind, ExprKind::Name(id)
                if cx.checked.lookup(cx.file, &id.name).is_some_and(|r| matches!(cx.checked.item(r), Item::Builtin(b) if b.kind == BuiltinKind::Dataset))));
            if !ok {
                cx.err(
                    Diagnostic::error(
                        Code::UnknownStrategy,
                        "`data` must call a data source",
                        e.span,
                        "not a data source",
                    )
                    .with_help(format!(
                        "data sources: {}",
                        builtin_names(cx, BuiltinKind::Dataset)
                    )),
                );
            }
            cx.expr(
                e,
                None,
                Mode {
                    config: Some(BuiltinKind::Dataset),
                    ..Mode::default()
                },
            );
        }
        Config::Train(fields, _) => {
            info.train = fields.clone();
            const FIELDS: &[(&str, Ty)] = &[
                ("steps", Ty::Int),
                ("batch", Ty::Int),
                ("warmup", Ty::Int),
                ("eval_every", Ty::Int),
                ("eval_batches", Ty::Int),
                ("seed", Ty::Int),
                ("grad_clip", Ty::Float),
                ("max_seconds", Ty::Float),
                ("schedule", Ty::Unknown),
                ("optimizer", Ty::Unknown),
            ];
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for f in fields {
                if let Some(prev) = seen.insert(&f.name.name, f.name.span) {
                    cx.err(
                        Diagnostic::error(
                            Code::DuplicateArgument,
                            format!("`{}` is given twice", f.name.name),
                            f.name.span,
                            "given again",
                        )
                        .with_label(prev, "first given here")
                        .with_help("give each field once"),
                    );
                }
                match FIELDS.iter().find(|(n, _)| *n == f.name.name) {
                    Some(("optimizer", _)) => {
                        let ok = matches!(&f.value.kind, ExprKind::Call(callee, _) if matches!(&callee.kind, ExprKind::Name(id)
                            if cx.checked.lookup(cx.file, &id.name).is_some_and(|r| matches!(cx.checked.item(r), Item::Builtin(b) if b.kind == BuiltinKind::Optimizer))));
                        if !ok {
                            cx.err(
                                Diagnostic::error(
                                    Code::UnknownStrategy,
                                    "`optimizer` must call an optimizer",
                                    f.value.span,
                                    "not an optimizer",
                                )
                                .with_help(format!(
                                    "optimizers: {}",
                                    builtin_names(cx, BuiltinKind::Optimizer)
                                )),
                            );
                        }
                        cx.expr(
                            &f.value,
                            None,
                            Mode {
                                config: Some(BuiltinKind::Optimizer),
                                ..Mode::default()
                            },
                        );
                    }
                    Some(("schedule", _)) => {
                        let ty = cx
                            .checked
                            .lookup(cx.file, "lr_schedule")
                            .map_or(Ty::Unknown, |r| Ty::Enum(r, "lr_schedule".into()));
                        let mode = Mode {
                            symbols: true,
                            ..Mode::default()
                        };
                        cx.expr(&f.value, Some(&ty), mode);
                    }
                    Some((_, ty)) => {
                        cx.expr(&f.value, Some(ty), Mode::default());
                    }
                    None => {
                        let names: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
                        let help = match super::suggest(&f.name.name, names.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "`train` takes {}",
                                names
                                    .iter()
                                    .map(|a| format!("`{a}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        cx.err(
                            Diagnostic::error(
                                Code::UnknownArgument,
                                format!("`train` has no field `{}`", f.name.name),
                                f.name.span,
                                "unknown field",
                            )
                            .with_help(help),
                        );
                        cx.expr(&f.value, None, Mode::default());
                    }
                }
            }
        }
        Config::Objective(goals, _) => {
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for g in goals {
                check_metric_name(cx, &g.metric);
                if let Some(prev) = seen.insert(&g.metric.name, g.metric.span) {
                    cx.err(
                        Diagnostic::error(
                            Code::DuplicateArgument,
                            format!("objective `{}` is listed twice", g.metric.name),
                            g.metric.span,
                            "listed again",
                        )
                        .with_label(prev, "first listed here")
                        .with_help("list each metric once"),
                    );
                }
            }
            info.objectives = goals.clone();
        }
        Config::Pipeline(stages, _) => {
            for s in stages {
                match cx
                    .checked
                    .lookup(cx.file, &s.strategy.name)
                    .map(|r| (r, cx.checked.item(r)))
                {
                    Some((r, Item::Builtin(b))) if b.kind == BuiltinKind::Strategy => {
                        let params: Vec<(String, Ty, bool)> = b
                            .params
                            .iter()
                            .map(|p| {
                                (
                                    p.name.name.clone(),
                                    cx.resolve_type(r.file, &p.ty),
                                    p.default.is_some(),
                                )
                            })
                            .collect();
                        cx.check_args(
                            &params,
                            &s.args,
                            s.span,
                            &format!("strategy `{}`", s.strategy.name),
                            Mode::default(),
                        );
                        check_stage_constants(cx, &params, s);
                        check_strategy_rules(cx, b, &params, s);
                        for a in &s.args {
                            let is_path = a
                                .name
                                .as_ref()
                                .and_then(|n| params.iter().find(|p| p.0 == n.name))
                                .is_some_and(|p| p.1 == Ty::Path);
                            if is_path {
                                check_path(cx, &a.value);
                            }
                        }
                    }
                    _ => {
                        let all = builtin_list(cx, BuiltinKind::Strategy);
                        let help = match super::suggest(
                            &s.strategy.name,
                            all.iter().map(String::as_str),
                        ) {
                            Some(x) => format!("did you mean `{x}`?"),
                            None => format!(
                                "strategies: {}",
                                all.iter()
                                    .map(|a| format!("`{a}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                        cx.err(
                            Diagnostic::error(
                                Code::UnknownStrategy,
                                format!("unknown strategy `{}`", s.strategy.name),
                                s.strategy.span,
                                "not a strategy",
                            )
                            .with_help(help),
                        );
                    }
                }
                match &s.filter {
                    Some(ast::Filter::Top(n, m)) => {
                        cx.expr(n, Some(&Ty::Int), Mode::default());
                        if let Some(Const::Int(k)) = cx.const_eval(n) {
                            if k <= 0 {
                                cx.err(
                                    Diagnostic::error(
                                        Code::BadDomain,
                                        "`keep top` needs a positive count",
                                        n.span,
                                        "keeps nothing",
                                    )
                                    .with_help("keep at least one candidate"),
                                );
                            }
                        }
                        check_metric_name(cx, m);
                    }
                    Some(ast::Filter::Best(Some(m), _)) => check_metric_name(cx, m),
                    Some(ast::Filter::Fraction(f, span, m)) => {
                        if !(*f > 0.0 && *f <= 100.0) {
                            cx.err(
                                Diagnostic::error(
                                    Code::BadDomain,
                                    format!("`keep {f}%` keeps nothing or more than everything"),
                                    *span,
                                    "not in (0, 100]",
                                )
                                .with_help("give a percentage above 0 and at most 100"),
                            );
                        }
                        check_metric_name(cx, m);
                    }
                    Some(ast::Filter::Where(e)) => {
                        cx.expr(
                            e,
                            Some(&Ty::Bool),
                            Mode {
                                measured_metrics: true,
                                static_metrics: true,
                                ..Mode::default()
                            },
                        );
                    }
                    Some(ast::Filter::Pareto(span)) => {
                        if info.objectives.len() < 2 && !matches!(c, Config::Objective(..)) {
                            // Checked once all blocks are read; see below.
                            let _ = span;
                        }
                    }
                    Some(ast::Filter::Best(None, _)) | None => {}
                }
            }
            info.stages = stages.clone();
        }
    }
}

/// A path argument (`attention.kind`, `kind`) must start with a hyperparameter of the
/// space or a module or function the graph can use.
fn check_path(cx: &mut Cx, e: &ast::Expr) {
    let mut head = e;
    while let ExprKind::Member(base, _) = &head.kind {
        head = base;
    }
    let ExprKind::Name(id) = &head.kind else {
        cx.err(
            Diagnostic::error(
                Code::TypeMismatch,
                "expected a path such as `attention.kind`",
                e.span,
                "not a path",
            )
            .with_help("name a hyperparameter, or a module followed by its argument"),
        );
        return;
    };
    let is_param = cx.frames[0].iter().any(|v| v.name == id.name);
    let is_module = cx
        .checked
        .lookup(cx.file, &id.name)
        .is_some_and(|r| matches!(cx.checked.item(r), Item::Fn(_) | Item::Builtin(_)));
    if !is_param && !is_module {
        let names: Vec<String> = cx.frames[0]
            .iter()
            .map(|v| v.name.clone())
            .chain(cx.checked.scopes[cx.file.0 as usize].names.keys().cloned())
            .collect();
        let help = match super::suggest(&id.name, names.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "a path starts with a hyperparameter of the space or a module of its graph"
                .to_string(),
        };
        cx.err(
            Diagnostic::error(
                Code::UnknownName,
                format!("unknown name `{}` in path", id.name),
                id.span,
                "not a hyperparameter or module",
            )
            .with_help(help),
        );
    } else if is_param {
        if let Some(v) = cx.frames[0].iter_mut().find(|v| v.name == id.name) {
            v.used = true;
        }
    }
}

/// Objective weights: all or none, positive, and `score` (their weighted sum) neither an
/// objective itself nor ranked by when nothing is weighted.
fn check_weights(cx: &mut Cx, info: &SpaceInfo) {
    let weighted = info.objectives.iter().find(|g| g.weight.is_some());
    for g in &info.objectives {
        match (g.weight, weighted) {
            (Some((w, span)), _) if w <= 0.0 => cx.err(
                Diagnostic::error(Code::BadDomain, format!("the weight of `{}` is not positive", g.metric.name), span, "must be above 0")
                    .with_help("`minimize` or `maximize` gives the direction; the weight says how much the metric counts, e.g. `minimize latency_ms weight 0.05`"),
            ),
            (None, Some(w)) => cx.err(
                Diagnostic::error(Code::ConfigBlock, format!("objective `{}` has no weight", g.metric.name), g.metric.span, "no weight")
                    .with_label(w.metric.span, "this one is weighted")
                    .with_help(format!("weight every objective or none, e.g. `{} {} weight 1`", g.direction.keyword(), g.metric.name)),
            ),
            _ => {}
        }
        if g.metric.name == SCORE {
            cx.err(
                Diagnostic::error(Code::ConfigBlock, "`score` cannot be an objective", g.metric.span, "the weighted sum of the objectives")
                    .with_help("list the metrics themselves with weights: `minimize val_loss weight 1  minimize latency_ms weight 0.05`"),
            );
        }
    }
    if weighted.is_some() {
        return;
    }
    for st in &info.stages {
        let by = match &st.filter {
            Some(
                ast::Filter::Top(_, m)
                | ast::Filter::Fraction(_, _, m)
                | ast::Filter::Best(Some(m), _),
            ) => m,
            _ => continue,
        };
        if by.name == SCORE {
            cx.err(
                Diagnostic::error(Code::ConfigBlock, "nothing measures `score`: the objectives have no weights", by.span, "ranked by `score`")
                    .with_help("`score` is the weighted sum of the objectives: weight them, e.g. `objective { minimize val_loss weight 1  minimize latency_ms weight 0.05 }`"),
            );
        }
    }
}

/// The metric a weighted objective defines.
pub const SCORE: &str = "score";

fn check_metric_name(cx: &mut Cx, m: &ast::Ident) {
    let ok = cx.checked.lookup(cx.file, &m.name).is_some_and(
        |r| matches!(cx.checked.item(r), Item::Builtin(b) if b.kind == BuiltinKind::Metric),
    );
    if !ok {
        let all = builtin_list(cx, BuiltinKind::Metric);
        let help = match super::suggest(&m.name, all.iter().map(String::as_str)) {
            Some(x) => format!("did you mean `{x}`?"),
            None => format!(
                "metrics: {}",
                all.iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        cx.err(
            Diagnostic::error(
                Code::UnknownStrategy,
                format!("unknown metric `{}`", m.name),
                m.span,
                "not a metric",
            )
            .with_help(help),
        );
    }
}

fn builtin_list(cx: &Cx, kind: BuiltinKind) -> Vec<String> {
    let mut v: Vec<String> = cx.checked.scopes[cx.file.0 as usize]
        .names
        .iter()
        .filter(|(_, r)| matches!(cx.checked.item(**r), Item::Builtin(b) if b.kind == kind))
        .map(|(n, _)| n.clone())
        .collect();
    v.sort();
    v
}

/// A numeric stage argument must be a constant: the pipeline is one plan for the whole
/// run, decided before any architecture exists. An argument that reads a hyperparameter
/// (or a `let` of one) is an error here rather than only when `nasc run` plans.
fn check_stage_constants(cx: &mut Cx, params: &[(String, Ty, bool)], s: &ast::Stage) {
    for (k, a) in s.args.iter().enumerate() {
        let param = match &a.name {
            Some(n) => params.iter().find(|p| p.0 == n.name),
            None => params.get(k),
        };
        let Some((name, Ty::Int | Ty::Float, _)) = param else {
            continue;
        };
        if cx.const_eval(&a.value).is_some() {
            continue;
        }
        cx.err(
            Diagnostic::error(
                Code::PipelineCannotRun,
                format!(
                    "the argument `{name}` of `{}` is not a constant",
                    s.strategy.name
                ),
                a.value.span,
                "depends on the architecture",
            )
            .with_help(
                "a pipeline is one plan for the whole run: give stage arguments constant values \
                 (numbers, or `let`s and arithmetic of numbers), not hyperparameters",
            ),
        );
    }
}

/// The rules of a strategy (the `require`s of its `builtin` declaration, such as
/// `population >= 1`) on the stage's arguments, defaults included: a rule that fails on
/// constant arguments is an error at the argument it reads (at the stage when that is a
/// default). Arguments that are not constants are `nasc run`'s to refuse (`E036`).
fn check_strategy_rules(
    cx: &mut Cx,
    b: &ast::Builtin,
    params: &[(String, Ty, bool)],
    s: &ast::Stage,
) {
    if b.requires.is_empty() {
        return;
    }
    // Each parameter's value, and where it is written.
    let mut values: Vec<(&str, Option<Const>, Option<Span>)> = Vec::new();
    for (k, p) in b.params.iter().enumerate() {
        let named = s
            .args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == p.name.name));
        let arg = named.or_else(|| s.args.get(k).filter(|a| a.name.is_none()));
        // A value of the wrong type is the type checker's to report (`E009`).
        let fits = |c: &Const| match params.get(k).map(|p| &p.1) {
            Some(Ty::Int) => matches!(c, Const::Int(_)),
            Some(Ty::Float) => matches!(c, Const::Int(_) | Const::Float(_)),
            _ => true,
        };
        values.push(match arg {
            Some(a) => (
                &p.name.name,
                cx.const_eval(&a.value).filter(fits),
                Some(a.value.span),
            ),
            None => (
                &p.name.name,
                p.default.as_ref().and_then(|d| cx.const_eval(d)),
                None,
            ),
        });
    }
    let outer = std::mem::take(&mut cx.consts);
    for (name, value, _) in &values {
        if let Some(v) = value {
            cx.consts.insert(name.to_string(), v.clone());
        }
    }
    let failed: Vec<&ast::Require> = b
        .requires
        .iter()
        .filter(|r| {
            let read = r.cond.names();
            // A rule over an argument that is not a constant is not decided here.
            let known = read
                .iter()
                .all(|n| values.iter().any(|v| v.0 == n.name && v.1.is_some()));
            known && rule_holds(cx, &r.cond) == Some(false)
        })
        .collect();
    cx.consts = outer;
    for r in failed {
        let read = r.cond.names();
        let given: Vec<String> = values
            .iter()
            .filter(|v| read.iter().any(|n| n.name == v.0))
            .filter_map(|(n, v, _)| Some(format!("{n} = {}", const_text(v.as_ref()?))))
            .collect();
        // The first argument the rule names that the stage writes.
        let at = read
            .iter()
            .find_map(|n| values.iter().find(|v| v.0 == n.name).and_then(|v| v.2));
        let rule = cx.checked.program.sources.snippet(r.cond.span);
        let help = r.message.clone().unwrap_or_else(|| {
            format!("give `{}` arguments for which `{rule}` holds", b.name.name)
        });
        cx.err(
            Diagnostic::error(
                Code::StrategyArgument,
                format!("`{}` needs `{rule}`, but {}", b.name.name, given.join(", ")),
                at.unwrap_or(s.span),
                match at {
                    Some(_) => "out of range",
                    None => "its default is out of range here",
                },
            )
            .with_help(help),
        );
    }
}

/// Whether the rule `e` holds over constants: comparisons of numbers (exact for two
/// ints), `and`, `or`, `not`; `None` when it cannot be decided that way.
fn rule_holds(cx: &Cx, e: &ast::Expr) -> Option<bool> {
    use std::cmp::Ordering;
    match &e.kind {
        ExprKind::Bool(b) => Some(*b),
        ExprKind::Unary(ast::UnOp::Not, x) => rule_holds(cx, x).map(|b| !b),
        ExprKind::Binary(ast::BinOp::And, l, r) => Some(rule_holds(cx, l)? && rule_holds(cx, r)?),
        ExprKind::Binary(ast::BinOp::Or, l, r) => Some(rule_holds(cx, l)? || rule_holds(cx, r)?),
        ExprKind::Binary(op, l, r) => {
            let order = match (cx.const_eval(l)?, cx.const_eval(r)?) {
                (Const::Int(a), Const::Int(b)) => a.cmp(&b),
                (a, b) => a.as_f64()?.partial_cmp(&b.as_f64()?)?,
            };
            Some(match op {
                ast::BinOp::Eq => order == Ordering::Equal,
                ast::BinOp::Ne => order != Ordering::Equal,
                ast::BinOp::Lt => order == Ordering::Less,
                ast::BinOp::Le => order != Ordering::Greater,
                ast::BinOp::Gt => order == Ordering::Greater,
                ast::BinOp::Ge => order != Ordering::Less,
                _ => return None,
            })
        }
        _ => None,
    }
}

/// A constant as the language writes it.
fn const_text(c: &Const) -> String {
    match c {
        Const::Int(v) => v.to_string(),
        Const::Float(v) => format!("{v:?}"),
        Const::Bool(v) => v.to_string(),
        Const::Str(v) => format!("{v:?}"),
        Const::Sym(v) => v.clone(),
    }
}

fn builtin_names(cx: &Cx, kind: BuiltinKind) -> String {
    builtin_list(cx, kind)
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Kahn's algorithm: declarations in an order where dependencies come first, and the ones
/// on or behind a cycle.
fn topo_order(deps: &[Vec<(usize, Span)>]) -> (Vec<usize>, Vec<usize>) {
    let n = deps.len();
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    loop {
        let mut progressed = false;
        for i in 0..n {
            if !done[i] && deps[i].iter().all(|(j, _)| done[*j] || *j == usize::MAX) {
                done[i] = true;
                order.push(i);
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    let cyclic = (0..n).filter(|i| !done[*i]).collect();
    (order, cyclic)
}

fn report_recursion(
    checked: &Checked,
    graph: &HashMap<ItemRef, Vec<(ItemRef, Span)>>,
    sink: &mut Sink,
) {
    // A function is recursive when it can reach itself.
    let mut fns: Vec<&ItemRef> = graph
        .keys()
        .filter(|r| matches!(checked.item(**r), Item::Fn(_)))
        .collect();
    fns.sort();
    for &start in &fns {
        let mut stack: Vec<ItemRef> = graph
            .get(start)
            .map(|c| c.iter().map(|(r, _)| *r).collect())
            .unwrap_or_default();
        let mut seen: HashSet<ItemRef> = HashSet::new();
        while let Some(r) = stack.pop() {
            if r == *start {
                let Item::Fn(def) = checked.item(*start) else {
                    break;
                };
                let span = graph[start].first().map_or(def.name.span, |(_, s)| *s);
                sink.push(
                    Diagnostic::error(Code::DependencyCycle, format!("function `{}` calls itself", def.name.name), span, "recursive call")
                        .with_label(def.name.span, "defined here")
                        .with_help("functions are expanded at every call site, so recursion never ends; use `repeat n { ... }` instead"),
                );
                break;
            }
            if seen.insert(r) {
                if let Some(next) = graph.get(&r) {
                    stack.extend(next.iter().map(|(x, _)| *x));
                }
            }
        }
    }
}
