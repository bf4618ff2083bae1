//! The summary `nasc check` prints for a space: its hyperparameters with their domains and
//! where each comes from, its dependent values, constraints and exact size. Building it
//! also decides the checks that need counting: unsatisfiable constraints (`E017`) and
//! constraints that filter nothing (`W003`).

use std::collections::HashMap;
use std::fmt::Write as _;

use num_bigint::BigUint;
use num_traits::Zero;

use super::count::{self, param_values};
use crate::check::{Checked, Domain, SpaceInfo};
use crate::diag::{Code, Diagnostic, Sink, Span};
use crate::syntax::ast::{self, ExprKind, Item, Stmt};

/// One hyperparameter line of the summary.
#[derive(Debug, Clone)]
pub struct HyperLine {
    /// The name, or the path of an inline one (`layers[i].attention.kind`).
    pub path: String,
    /// The domain as written.
    pub domain: String,
    /// How many values: `3 values`, `continuous`, `on or off`.
    pub size: String,
    /// Whether the domain is continuous.
    pub continuous: bool,
}

/// The size of a space.
#[derive(Debug, Clone)]
pub enum Size {
    /// Exactly this many architectures.
    Finite(BigUint),
    /// Continuous dimensions, and the count of the discrete part.
    Infinite {
        /// The continuous hyperparameters.
        continuous: Vec<String>,
        /// The number of distinct assignments of the discrete ones.
        discrete: BigUint,
    },
    /// Counting was not possible; why.
    Unavailable(String),
}

/// The summary of one space.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The space's name.
    pub name: String,
    /// Named hyperparameters.
    pub params: Vec<HyperLine>,
    /// Inline hyperparameters, one per instance of the graph part that holds them.
    pub inline: Vec<HyperLine>,
    /// Dependent values: name and definition.
    pub lets: Vec<(String, String)>,
    /// Constraints: text and how they are used.
    pub constraints: Vec<(String, &'static str)>,
    /// The size.
    pub size: Size,
    /// How many constraints the count leaves out (on metrics, data or continuous values):
    /// with any, the count is an upper bound.
    pub uncounted: usize,
}

/// Summarises every space of the root file, pushing the counting checks into `sink`.
pub fn analyze(checked: &Checked, sink: &mut Sink) -> Vec<Summary> {
    checked
        .spaces
        .iter()
        .filter(|s| !s.has_errors)
        .filter_map(|space| analyze_one(checked, space, sink))
        .collect()
}

/// Summarises one space that checked cleanly (table keys, shape rules, counting),
/// pushing what it finds into `sink`; `None` when a shape rule is broken. What it
/// reports depends only on the program's text, so the language server can reuse it for
/// a space whose text did not change.
pub fn analyze_one(checked: &Checked, space: &SpaceInfo, sink: &mut Sink) -> Option<Summary> {
    super::table::check_keys(checked, space, sink);
    if super::shape::check_shapes(checked, space, sink) {
        return None;
    }
    Some(summarize(checked, space, sink))
}

fn summarize(checked: &Checked, space: &SpaceInfo, sink: &mut Sink) -> Summary {
    let values = param_values(checked, space).ok();
    let params: Vec<HyperLine> = space
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let n = values.as_ref().and_then(|v| v[i].as_ref().map(|x| x.len()));
            let continuous = matches!(p.domain, Some(Domain::Float { q: None, .. }));
            HyperLine {
                path: p.name.clone(),
                domain: format!("{:<6} {}", p.ty.to_string(), p.domain_text),
                size: if continuous {
                    "continuous".into()
                } else {
                    n.map_or("?".into(), |n| {
                        format!("{n} value{}", if n == 1 { "" } else { "s" })
                    })
                },
                continuous,
            }
        })
        .collect();
    let mut inline = Vec::new();
    if let Some(g) = &space.graph {
        let mut walker = Walker {
            checked,
            out: &mut inline,
            depth: 0,
            visits: 20_000,
            alias: None,
            text: &checked.program.sources,
        };
        walker.expr(g, "", space.file);
        if walker.visits == 0 {
            inline.push(HyperLine {
                path: "...".into(),
                domain: "(listing cut short: the graph expands too much)".into(),
                size: String::new(),
                continuous: false,
            });
        }
    }
    let mut continuous: Vec<String> = params
        .iter()
        .chain(inline.iter())
        .filter(|h| h.continuous)
        .map(|h| h.path.clone())
        .collect();
    continuous.dedup();
    let size = match count::count(checked, space, &[], None, None) {
        Ok(n) => {
            constraint_checks(checked, space, &n, sink);
            if continuous.is_empty() {
                Size::Finite(n)
            } else {
                Size::Infinite {
                    continuous,
                    discrete: n,
                }
            }
        }
        Err(u) => {
            sink.push(
                Diagnostic::warning(
                    Code::CountUnavailable,
                    format!(
                        "cannot count the architectures of `{}`: {}",
                        space.name, u.reason
                    ),
                    u.span,
                    "counting stops here",
                )
                .with_help("the space is still valid; its size is reported as unknown"),
            );
            Size::Unavailable(u.reason)
        }
    };
    Summary {
        uncounted: values.as_ref().map_or(space.requires.len(), |v| {
            (0..space.requires.len())
                .filter(|k| !count::countable(space, v, *k))
                .count()
        }),
        name: space.name.clone(),
        params,
        inline,
        lets: space
            .lets
            .iter()
            .map(|l| (l.name.clone(), l.text.clone()))
            .collect(),
        constraints: space
            .requires
            .iter()
            .enumerate()
            .map(|(k, r)| {
                let note = if r.uses_metrics {
                    "on architecture metrics: checked when sampling, not counted"
                } else if values
                    .as_ref()
                    .is_some_and(|v| count::countable(space, v, k))
                {
                    "on hyperparameters: counted exactly"
                } else {
                    "on continuous hyperparameters or data: checked when sampling, not counted"
                };
                (r.text.clone(), note)
            })
            .collect(),
        size,
    }
}

/// Decides, exactly, whether the constraints exclude everything (E017) and whether one of
/// them never excludes anything (W003).
fn constraint_checks(checked: &Checked, space: &SpaceInfo, total: &BigUint, sink: &mut Sink) {
    let Ok(values) = param_values(checked, space) else {
        return;
    };
    let hp_constraints: Vec<usize> = (0..space.requires.len())
        .filter(|k| count::countable(space, &values, *k))
        .collect();
    if hp_constraints.is_empty() {
        return;
    }
    if total.is_zero() {
        let Ok(unconstrained) =
            count::count(checked, space, &[], Some(usize::MAX), Some(usize::MAX))
        else {
            return;
        };
        if unconstrained.is_zero() {
            return;
        }
        let alone: Vec<usize> = hp_constraints
            .iter()
            .copied()
            .filter(|k| {
                count::count(checked, space, &[], None, Some(*k)).is_ok_and(|n| n.is_zero())
            })
            .collect();
        let culprits = if alone.is_empty() {
            hp_constraints.clone()
        } else {
            alone.clone()
        };
        let first = &space.requires[culprits[0]];
        let mut d = Diagnostic::error(
            Code::Unsatisfiable,
            if alone.is_empty() {
                "the constraints together exclude every architecture".to_string()
            } else {
                "this constraint excludes every architecture".to_string()
            },
            first.span,
            if alone.is_empty() {
                "one of the conflicting constraints"
            } else {
                "no assignment satisfies this"
            },
        )
        .with_help("widen the domains of the hyperparameters it mentions, or relax the constraint");
        for k in culprits.iter().skip(1) {
            d = d.with_label(space.requires[*k].span, "conflicts with the above");
        }
        sink.push(d);
        return;
    }
    for &k in &hp_constraints {
        if count::always_holds(checked, space, &values, k) {
            let r = &space.requires[k];
            sink.push(
                Diagnostic::warning(
                    Code::AlwaysTrue,
                    "constraint holds for every value of its hyperparameters",
                    r.span,
                    "filters nothing",
                )
                .with_help("remove it, or check that it says what you meant"),
            );
        }
    }
}

/// Walks a graph to list its inline hyperparameters with their paths.
struct Walker<'a> {
    checked: &'a Checked,
    out: &'a mut Vec<HyperLine>,
    depth: usize,
    /// Expressions left to visit: function bodies are expanded at every call, so the
    /// listing stops (and says so) past this many.
    visits: usize,
    /// The name the next call takes in paths (`linear#2`).
    alias: Option<String>,
    text: &'a crate::source::SourceMap,
}

fn is_domain_call(e: &ast::Expr) -> Option<&str> {
    if let ExprKind::Call(c, _) = &e.kind {
        if let ExprKind::Name(id) = &c.kind {
            if matches!(
                id.name.as_str(),
                "choice" | "range" | "uniform" | "log_uniform"
            ) {
                return Some(id.name.as_str());
            }
        }
    }
    None
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}.{seg}")
    }
}

impl Walker<'_> {
    fn snippet(&self, span: Span) -> String {
        let s = self.text.snippet(span);
        if s.chars().count() > 60 {
            format!("{}...", s.chars().take(57).collect::<String>())
        } else {
            s
        }
    }

    fn record(&mut self, path: String, e: &ast::Expr, kind: &str) {
        let ExprKind::Call(_, args) = &e.kind else {
            return;
        };
        let (size, continuous) = match kind {
            "choice" => (format!("{} alternatives", args.len()), false),
            "range" => ("integer range".to_string(), false),
            _ => {
                let q = args
                    .iter()
                    .any(|a| a.name.as_ref().is_some_and(|n| n.name == "q"))
                    || args.len() > 2;
                if q {
                    ("quantised".to_string(), false)
                } else {
                    ("continuous".to_string(), true)
                }
            }
        };
        self.out.push(HyperLine {
            path: path.clone(),
            domain: self.snippet(e.span),
            size,
            continuous,
        });
        // Choices nested in the alternatives (`local(window = choice(16, 32))`).
        for a in args {
            self.value(&a.value, &path);
        }
    }

    /// Inline domains inside a value expression at `path`.
    fn value(&mut self, e: &ast::Expr, path: &str) {
        match &e.kind {
            ExprKind::Call(c, args) => {
                if let Some(kind) = is_domain_call(e) {
                    self.record(path.to_string(), e, kind);
                    return;
                }
                let name = if let ExprKind::Name(id) = &c.kind {
                    id.name.clone()
                } else {
                    String::new()
                };
                for a in args {
                    let seg = a
                        .name
                        .as_ref()
                        .map_or(name.clone(), |n| format!("{name}.{}", n.name));
                    if let Some(kind) = is_domain_call(&a.value) {
                        self.record(join(path, &seg), &a.value, kind);
                    } else {
                        self.value(&a.value, &join(path, &seg));
                    }
                }
            }
            ExprKind::Binary(_, l, r) => {
                self.value(l, path);
                self.value(r, path);
            }
            ExprKind::Unary(_, x) => self.value(x, path),
            _ => {}
        }
    }

    fn expr(&mut self, e: &ast::Expr, path: &str, file: crate::diag::FileId) {
        if self.depth > 32 || self.visits == 0 {
            return;
        }
        self.visits -= 1;
        self.depth += 1;
        self.expr_inner(e, path, file);
        self.depth -= 1;
    }

    fn expr_inner(&mut self, e: &ast::Expr, path: &str, file: crate::diag::FileId) {
        match &e.kind {
            ExprKind::Block(stmts) => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for s in stmts {
                    match s {
                        Stmt::Let(l) => {
                            if let Some(kind) = is_domain_call(&l.value) {
                                self.record(join(path, &l.name.name), &l.value, kind);
                            } else {
                                self.expr(&l.value, &join(path, &l.name.name), file);
                            }
                        }
                        Stmt::Expr(x) => {
                            // The second call of `f` in one block is `f#2`.
                            let seg = segment(x);
                            let n = seen.entry(seg.clone()).or_default();
                            *n += 1;
                            if *n > 1 && !seg.is_empty() {
                                self.alias = Some(format!("{seg}#{n}"));
                            }
                            self.expr(x, path, file);
                            self.alias = None;
                        }
                        Stmt::Require(_) => {}
                    }
                }
            }
            ExprKind::Binary(_, l, r) => {
                self.expr(l, path, file);
                self.expr(r, path, file);
            }
            ExprKind::Repeat(count, body) => {
                let seg = match &count.kind {
                    ExprKind::Name(id) => id.name.clone(),
                    _ => "repeat".to_string(),
                };
                if let Some(kind) = is_domain_call(count) {
                    self.record(join(path, &format!("{seg}.count")), count, kind);
                }
                self.expr(body, &join(path, &format!("{seg}[i]")), file);
            }
            ExprKind::Optional(body) => {
                let p = join(path, "optional");
                self.out.push(HyperLine {
                    path: p.clone(),
                    domain: self.snippet(e.span),
                    size: "on or off".into(),
                    continuous: false,
                });
                self.expr(body, path, file);
            }
            ExprKind::Residual(body) => self.expr(body, path, file),
            ExprKind::If(_, t, o) => {
                self.expr(t, path, file);
                if let Some(o) = o {
                    self.expr(o, path, file);
                }
            }
            ExprKind::Call(c, args) => {
                let ExprKind::Name(id) = &c.kind else { return };
                if id.name == "choice" {
                    self.out.push(HyperLine {
                        path: join(path, "choice"),
                        domain: self.snippet(e.span),
                        size: format!("{} alternatives", args.len()),
                        continuous: false,
                    });
                    for (k, a) in args.iter().enumerate() {
                        self.expr(&a.value, &join(path, &format!("choice[{k}]")), file);
                    }
                    return;
                }
                let name = self.alias.take().unwrap_or_else(|| id.name.clone());
                let here = join(path, &name);
                for a in args {
                    let seg = a
                        .name
                        .as_ref()
                        .map_or_else(|| here.clone(), |n| join(&here, &n.name));
                    if let Some(kind) = is_domain_call(&a.value) {
                        self.record(seg, &a.value, kind);
                    } else if matches!(
                        a.value.kind,
                        ExprKind::Call(..)
                            | ExprKind::Block(_)
                            | ExprKind::Repeat(..)
                            | ExprKind::Optional(_)
                            | ExprKind::Binary(..)
                    ) {
                        self.expr(&a.value, &here, file);
                    } else {
                        self.value(&a.value, &seg);
                    }
                }
                if let Some(r) = self.checked.lookup(file, &id.name) {
                    if let Item::Fn(def) = self.checked.item(r) {
                        self.expr(&def.body, &here, r.file);
                    }
                }
            }
            _ => {}
        }
    }
}

fn segment(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Call(c, _) => match &c.kind {
            ExprKind::Name(id) => id.name.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// The path of a decision as the summary lists it: each repetition index `[3]` as `[i]`
/// (`layers[3].attention.kind` is `layers[i].attention.kind`).
pub fn path_pattern(path: &str) -> String {
    index_pattern(path, |_| 'i')
}

/// `path` with each repetition index (a bracket holding digits only) replaced by
/// `letter(depth)`, depth counting from 0 at the outermost; other brackets stay as written.
pub fn index_pattern(path: &str, letter: impl Fn(usize) -> char) -> String {
    let mut pattern = String::with_capacity(path.len());
    let mut depth = 0;
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        pattern.push_str(&rest[..=open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 && after[..close].bytes().all(|b| b.is_ascii_digit()) => {
                pattern.push(letter(depth));
                depth += 1;
                rest = &after[close..];
            }
            _ => rest = after,
        }
    }
    pattern.push_str(rest);
    pattern
}

/// Formats a count exactly, with thousands separators, and an approximation when large.
pub fn format_count(n: &BigUint) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if digits.len() > 6 {
        let mantissa = format!("{}.{}", &digits[..1], &digits[1..3]);
        let _ = write!(grouped, " (about {mantissa}e{})", digits.len() - 1);
    }
    grouped
}

#[cfg(test)]
mod tests {
    use super::path_pattern;

    #[test]
    fn repetition_indices_become_i_and_nothing_else_changes() {
        assert_eq!(
            path_pattern("layers[3].attention.kind"),
            "layers[i].attention.kind"
        );
        assert_eq!(path_pattern("a[0].b[12].c"), "a[i].b[i].c");
        assert_eq!(path_pattern("width"), "width");
        assert_eq!(path_pattern("a[x].b[]"), "a[x].b[]");
        assert_eq!(path_pattern("a[1"), "a[1");
    }
}
