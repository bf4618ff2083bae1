//! One document as the checker sees it, and the answers the editor asks of it.
//!
//! An [`Analysis`] runs exactly what `nasc check` runs (load with imports, check, count)
//! on a document's current text, so the diagnostics are the same, and keeps the checked
//! program with an [`Index`] of its names for hover, definitions and references. Offsets
//! here are bytes in a file's text; the server converts them to and from positions.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use super::index::{DefKind, Index};
use crate::check::{self, Checked};
use crate::diag::{Diagnostic, FileId, Sink, Span};
use crate::space::summary::{self, Summary};
use crate::syntax::ast::{self, Item, Member};

/// A checked document.
pub struct Analysis {
    /// The program: the document, everything it imports, the standard library.
    pub checked: Checked,
    /// The summaries of its spaces that checked cleanly.
    pub summaries: Vec<Summary>,
    /// Every diagnostic, in every file, sorted as `nasc check` prints them.
    pub diagnostics: Vec<Diagnostic>,
    /// Its names.
    pub index: Index,
}

/// Where a definition is, and the text shown on hover.
pub struct Hover {
    /// The name under the cursor.
    pub span: Span,
    /// Markdown.
    pub markdown: String,
}

impl Analysis {
    /// Checks `text`, named `name`, with imports resolved against `dir` (read from
    /// `overlay` first: the unsaved texts of open files, by canonical path).
    pub fn new(
        name: &str,
        text: String,
        dir: Option<PathBuf>,
        overlay: &HashMap<PathBuf, String>,
    ) -> Analysis {
        let mut sink = Sink::default();
        let program = check::load_with(name, text, dir, overlay, &mut sink);
        let checked = check::check(program, &mut sink);
        let summaries = summary::analyze(&checked, &mut sink);
        let index = Index::build(&checked);
        Analysis {
            checked,
            summaries,
            diagnostics: sink.into_sorted(),
            index,
        }
    }

    /// The document's own file.
    pub fn root(&self) -> FileId {
        self.checked.program.root
    }

    /// The text of `file`.
    pub fn text(&self, file: FileId) -> &str {
        &self.checked.program.sources.get(file).text
    }

    /// The definition of the name at `offset` of the document.
    pub fn definition(&self, offset: usize) -> Option<Span> {
        let (_, d) = self.index.at(self.root(), offset)?;
        Some(self.index.defs[d].span)
    }

    /// The definition of the name at `offset` and every use of it, the definition first
    /// when `declaration` asks for it.
    pub fn references(&self, offset: usize, declaration: bool) -> Vec<Span> {
        let Some((_, d)) = self.index.at(self.root(), offset) else {
            return Vec::new();
        };
        let def = declaration.then_some(self.index.defs[d].span);
        def.into_iter().chain(self.index.uses_of(d)).collect()
    }

    /// What to show for the name at `offset`.
    pub fn hover(&self, offset: usize) -> Option<Hover> {
        let (span, d) = self.index.at(self.root(), offset)?;
        let def = &self.index.defs[d];
        let item = self.checked.item(def.item);
        let mut md = String::new();
        match (def.kind, item) {
            (DefKind::Param, Item::Space(space)) => self.hover_param(&mut md, space, &def.name),
            (DefKind::Space, Item::Space(space)) => self.hover_space(&mut md, space),
            (DefKind::Fn, Item::Fn(f)) => {
                code(
                    &mut md,
                    &self.signature("fn", &f.name.name, &f.params, f.ret.as_ref()),
                );
                doc(&mut md, f.doc.as_deref());
            }
            (DefKind::Builtin(kind), Item::Builtin(b)) => {
                let head = format!("builtin {}", kind.as_str());
                let mut sig = self.signature(&head, &b.name.name, &b.params, None);
                if let Some(ty) = &b.ty {
                    let _ = write!(sig, ": {}", ty.name);
                    if kind == ast::BuiltinKind::Metric {
                        sig.push_str(if b.is_static { " static" } else { " measured" });
                    }
                }
                code(&mut md, &sig);
                doc(&mut md, b.doc.as_deref());
            }
            (DefKind::Enum, Item::Enum(e)) => {
                let names: Vec<&str> = e.variants.iter().map(|v| v.name.name.as_str()).collect();
                code(
                    &mut md,
                    &format!("enum {} {{ {} }}", e.name.name, names.join(", ")),
                );
                doc(&mut md, e.doc.as_deref());
            }
            (DefKind::Variant, Item::Enum(e)) => {
                code(&mut md, self.line_of(def.span).trim().trim_end_matches(','));
                let _ = writeln!(md, "A symbol of `enum {}`.", e.name.name);
                doc(&mut md, e.doc.as_deref());
            }
            (DefKind::Arg, _) => {
                code(&mut md, self.line_of(def.span).trim().trim_end_matches(','));
                if let Some(name) = crate::check::item_name(item) {
                    let _ = writeln!(md, "A parameter of `{}`.", name.name);
                }
            }
            _ => code(&mut md, self.line_of(def.span).trim()),
        }
        let uses: Vec<Span> = self
            .index
            .uses_of(d)
            .filter(|s| s.file == def.span.file)
            .collect();
        if matches!(def.kind, DefKind::Param | DefKind::Let) {
            if uses.is_empty() {
                md.push_str("\nNot used.\n");
            } else {
                let sources = &self.checked.program.sources;
                let lines: Vec<String> = uses
                    .iter()
                    .map(|s| sources.line_col(s.file, s.start).0.to_string())
                    .collect();
                let _ = writeln!(
                    md,
                    "\nUsed on line{} {}.",
                    if lines.len() == 1 { "" } else { "s" },
                    lines.join(", ")
                );
            }
        }
        Some(Hover { span, markdown: md })
    }

    fn hover_param(&self, md: &mut String, space: &ast::Space, name: &str) {
        let info = self
            .checked
            .spaces
            .iter()
            .find(|s| s.name == space.name.name)
            .and_then(|s| s.params.iter().find(|p| p.name == name));
        let line = self
            .summaries
            .iter()
            .find(|s| s.name == space.name.name)
            .and_then(|s| s.params.iter().find(|h| h.path == name));
        match info {
            Some(p) => code(md, &format!("param {name}: {} = {}", p.ty, p.domain_text)),
            None => code(md, &format!("param {name}")),
        }
        let size = line.map_or_else(String::new, |h| format!("{}; ", h.size));
        let _ = writeln!(
            md,
            "A hyperparameter of space `{}`: {size}a search strategy chooses its value.",
            space.name.name
        );
    }

    fn hover_space(&self, md: &mut String, space: &ast::Space) {
        code(md, &format!("space {}", space.name.name));
        match self.summaries.iter().find(|s| s.name == space.name.name) {
            Some(s) => {
                let _ = writeln!(md, "Architectures: {}.", crate::cli::check::size_text(s));
                let _ = writeln!(
                    md,
                    "\n{} hyperparameters, {} inline choices.",
                    s.params.len(),
                    s.inline.len()
                );
            }
            None => md.push_str("Not counted: the space has errors.\n"),
        }
    }

    /// `head name(p: ty = default, ...) -> ret`, defaults as written.
    fn signature(
        &self,
        head: &str,
        name: &str,
        params: &[ast::FnParam],
        ret: Option<&ast::TypeExpr>,
    ) -> String {
        let sources = &self.checked.program.sources;
        let params: Vec<String> = params
            .iter()
            .map(|p| match &p.default {
                Some(d) => format!(
                    "{}: {} = {}",
                    p.name.name,
                    p.ty.name,
                    sources.snippet(d.span)
                ),
                None => format!("{}: {}", p.name.name, p.ty.name),
            })
            .collect();
        let mut s = format!("{head} {name}({})", params.join(", "));
        if let Some(r) = ret {
            let _ = write!(s, " -> {}", r.name);
        }
        s
    }

    /// The whole line `span` starts on.
    fn line_of(&self, span: Span) -> &str {
        let text = self.text(span.file);
        let start = text[..span.start.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        &text[start..end]
    }

    /// The top-level items of the document with their members, for the outline.
    pub fn outline(&self) -> Vec<Symbol> {
        let file = self.checked.program.file(self.root());
        file.items.iter().filter_map(item_symbol).collect()
    }
}

/// One entry of the outline.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// The name shown.
    pub name: String,
    /// What it is, in the protocol's terms.
    pub kind: lsp_types::SymbolKind,
    /// A short description.
    pub detail: Option<String>,
    /// The whole definition.
    pub span: Span,
    /// Its name.
    pub name_span: Span,
    /// What it contains.
    pub children: Vec<Symbol>,
}

fn item_symbol(item: &Item) -> Option<Symbol> {
    use lsp_types::SymbolKind as K;
    let sym = |name: &ast::Ident, kind, detail: Option<String>, span, children| Symbol {
        name: name.name.clone(),
        kind,
        detail,
        span,
        name_span: name.span,
        children,
    };
    Some(match item {
        Item::Space(s) => {
            let children = s
                .members
                .iter()
                .map(|m| match m {
                    Member::Param(p) => {
                        sym(&p.name, K::FIELD, Some("param".into()), p.span, vec![])
                    }
                    Member::Let(l) => sym(&l.name, K::VARIABLE, Some("let".into()), l.span, vec![]),
                    Member::Require(r) => Symbol {
                        name: "require".into(),
                        kind: K::BOOLEAN,
                        detail: None,
                        span: r.span,
                        name_span: r.span.with_end(r.span.start),
                        children: vec![],
                    },
                    Member::Graph(g) => Symbol {
                        name: "graph".into(),
                        kind: K::NAMESPACE,
                        detail: None,
                        span: g.span,
                        name_span: g.span.with_end(g.span.start),
                        children: vec![],
                    },
                    Member::Config(c) => Symbol {
                        name: c.keyword().into(),
                        kind: K::PROPERTY,
                        detail: None,
                        span: c.span(),
                        name_span: c.span().with_end(c.span().start),
                        children: vec![],
                    },
                })
                .collect();
            sym(&s.name, K::MODULE, Some("space".into()), s.span, children)
        }
        Item::Fn(f) => sym(&f.name, K::FUNCTION, Some("fn".into()), f.span, vec![]),
        Item::Builtin(b) => sym(
            &b.name,
            K::FUNCTION,
            Some(format!("builtin {}", b.kind.as_str())),
            b.span,
            vec![],
        ),
        Item::Enum(e) => {
            let children = e
                .variants
                .iter()
                .map(|v| sym(&v.name, K::ENUM_MEMBER, None, v.name.span, vec![]))
                .collect();
            sym(&e.name, K::ENUM, Some("enum".into()), e.span, children)
        }
        Item::Import(_) | Item::Config(_) => return None,
    })
}

fn code(md: &mut String, text: &str) {
    let _ = writeln!(md, "```nas\n{text}\n```");
}

fn doc(md: &mut String, doc: Option<&str>) {
    if let Some(d) = doc {
        let _ = writeln!(md, "\n{}", d.trim());
    }
}
