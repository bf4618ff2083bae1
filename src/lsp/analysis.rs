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
use super::text::LineIndex;
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
    /// The spaces whose counting and shape rules were left to a later, complete analysis
    /// because they took longer than [`SpaceCache::defer_over`] last time.
    pub pending: Vec<String>,
    /// The line starts of each file, built when a position in it is first asked for.
    lines: Vec<std::sync::OnceLock<LineIndex>>,
}

/// Where a definition is, and the text shown on hover.
pub struct Hover {
    /// The name under the cursor.
    pub span: Span,
    /// Markdown.
    pub markdown: String,
}

/// What counting and the shape rules found for spaces of earlier texts of a document,
/// by a fingerprint of everything they depend on: those are the slow part of a check
/// (the shape rules walk the graph for every combination of the values they read), and
/// an edit usually touches one space, so the others are not analysed again.
#[derive(Default, Clone)]
pub struct SpaceCache {
    entries: HashMap<u64, CachedSpace>,
    /// How long each space (by name) took to analyse the last time it was.
    cost: HashMap<String, std::time::Duration>,
    /// A space that is not in the cache and took longer than this last time is not
    /// analysed but listed in [`Analysis::pending`]; `None` analyses every space.
    pub defer_over: Option<std::time::Duration>,
}

impl SpaceCache {
    /// Takes in what another cache holds (a complete analysis made elsewhere).
    pub fn merge(&mut self, other: SpaceCache) {
        self.entries.extend(other.entries);
        self.cost.extend(other.cost);
    }
}

#[derive(Clone)]
struct CachedSpace {
    /// Whether the diagnostics' spans are as they are (some lies in the document outside
    /// the space, so they cannot move with it; such an entry is keyed on the whole text).
    absolute: bool,
    summary: Option<Summary>,
    /// The diagnostics, with spans in the document made relative to the space's start.
    diagnostics: Vec<Diagnostic>,
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
        Analysis::cached(name, text, dir, overlay, &mut SpaceCache::default())
    }

    /// [`Analysis::new`], reusing from `cache` what counting and the shape rules found
    /// for any space whose fingerprint is unchanged (the space's text, the rest of the
    /// document outside its spaces, every other file), and leaving in `cache` what this
    /// text's spaces give. The result is the same as without a cache.
    pub fn cached(
        name: &str,
        text: String,
        dir: Option<PathBuf>,
        overlay: &HashMap<PathBuf, String>,
        cache: &mut SpaceCache,
    ) -> Analysis {
        let mut sink = Sink::default();
        let program = check::load_with(name, text, dir, overlay, &mut sink);
        let checked = check::check(program, &mut sink);
        let (summaries, pending) = analyze_spaces(&checked, &mut sink, cache);
        let index = Index::build(&checked);
        let lines = (0..checked.program.files.len())
            .map(|_| std::sync::OnceLock::new())
            .collect();
        Analysis {
            checked,
            summaries,
            diagnostics: sink.into_sorted(),
            index,
            pending,
            lines,
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

    /// The line starts of `file`, built once.
    fn lines(&self, file: FileId) -> &LineIndex {
        self.lines[file.0 as usize].get_or_init(|| LineIndex::new(self.text(file)))
    }

    /// Where `span` lies, as the protocol counts positions.
    pub fn range(&self, span: Span) -> lsp_types::Range {
        self.lines(span.file)
            .range(self.text(span.file), span.start, span.end)
    }

    /// The byte offset of `pos` in the document's own text.
    pub fn offset(&self, pos: lsp_types::Position) -> usize {
        let root = self.root();
        self.lines(root).offset(self.text(root), pos)
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
                let mut sig = if b.params.is_empty() && kind == ast::BuiltinKind::Metric {
                    format!("{head} {}", b.name.name)
                } else {
                    self.signature(&head, &b.name.name, &b.params, None)
                };
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
                // The parameter as declared, found by where its name is written.
                let params: Vec<&ast::FnParam> = match item {
                    Item::Fn(f) => f.params.iter().collect(),
                    Item::Builtin(b) => b.params.iter().collect(),
                    Item::Enum(e) => e.variants.iter().flat_map(|v| &v.params).collect(),
                    _ => Vec::new(),
                };
                match params.iter().find(|p| p.name.span == def.span) {
                    Some(p) => code(&mut md, &self.param_text(p)),
                    None => code(&mut md, &def.name),
                }
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
            None if self.pending.contains(&space.name.name) => {
                md.push_str("Being counted: the size shows once the analysis of this edit ends.\n")
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
        let params: Vec<String> = params.iter().map(|p| self.param_text(p)).collect();
        let mut s = format!("{head} {name}({})", params.join(", "));
        if let Some(r) = ret {
            let _ = write!(s, " -> {}", r.name);
        }
        s
    }

    /// `name: type = default`, the default as written.
    pub fn param_text(&self, p: &ast::FnParam) -> String {
        let sources = &self.checked.program.sources;
        match &p.default {
            Some(d) => format!(
                "{}: {} = {}",
                p.name.name,
                p.ty.name,
                sources.snippet(d.span)
            ),
            None => format!("{}: {}", p.name.name, p.ty.name),
        }
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

/// `summary::analyze` through `cache`; also the spaces it left pending.
fn analyze_spaces(
    checked: &Checked,
    sink: &mut Sink,
    cache: &mut SpaceCache,
) -> (Vec<Summary>, Vec<String>) {
    use std::hash::{Hash, Hasher};
    let root = checked.program.root;
    let text = &checked.program.sources.get(root).text;
    // Spaces by name; a name given twice is an error the checker reports, and such
    // spaces are analysed afresh.
    let mut spans: HashMap<&str, Span> = HashMap::new();
    let mut twice = Vec::new();
    for i in &checked.program.file(root).items {
        if let Item::Space(s) = i {
            if spans.insert(s.name.name.as_str(), s.span).is_some() {
                twice.push(s.name.name.as_str());
            }
        }
    }
    // Everything a space's analysis may read besides its own text.
    let mut base = std::collections::hash_map::DefaultHasher::new();
    let mut at = 0;
    let mut ordered: Vec<Span> = checked
        .program
        .file(root)
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Space(s) => Some(s.span),
            _ => None,
        })
        .collect();
    ordered.sort_by_key(|s| s.start);
    for s in &ordered {
        text.get(at..s.start).hash(&mut base);
        at = s.end.max(at);
    }
    text.get(at..).hash(&mut base);
    for (id, f) in checked.program.sources.iter() {
        if id != root {
            (&f.name, &f.text).hash(&mut base);
        }
    }
    let base = base.finish();
    let mut fresh = HashMap::new();
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for space in checked.spaces.iter().filter(|s| !s.has_errors) {
        let Some(&span) = spans
            .get(space.name.as_str())
            .filter(|_| !twice.contains(&space.name.as_str()))
        else {
            out.extend(summary::analyze_one(checked, space, sink));
            continue;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (base, text.get(span.start..span.end)).hash(&mut h);
        let key = h.finish();
        let whole_text_key = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (key, text).hash(&mut h);
            h.finish()
        };
        let shift = |d: &Diagnostic, by: isize| {
            let mut d = d.clone();
            let move_span = |s: &mut Span| {
                if s.file == root {
                    s.start = s.start.saturating_add_signed(by);
                    s.end = s.end.saturating_add_signed(by);
                }
            };
            move_span(&mut d.primary.span);
            d.secondary.iter_mut().for_each(|l| move_span(&mut l.span));
            d
        };
        let found = cache.entries.remove(&key).map(|e| (key, e)).or_else(|| {
            cache
                .entries
                .remove(&whole_text_key)
                .map(|e| (whole_text_key, e))
        });
        let (key, entry) = match found {
            Some(found) => found,
            None => {
                let slow = cache.cost.get(&space.name).copied();
                if slow
                    .zip(cache.defer_over)
                    .is_some_and(|(took, limit)| took > limit)
                {
                    pending.push(space.name.clone());
                    continue;
                }
                let started = std::time::Instant::now();
                let mut own = Sink::default();
                let summary = summary::analyze_one(checked, space, &mut own);
                cache.cost.insert(space.name.clone(), started.elapsed());
                let diagnostics = own.into_sorted();
                // Spans in the document must lie in the space to move with it; one
                // outside (a rule broken in a function of the document) is not cached.
                let inside =
                    |s: &Span| s.file != root || (span.start <= s.start && s.end <= span.end);
                let movable = diagnostics.iter().all(|d| {
                    inside(&d.primary.span) && d.secondary.iter().all(|l| inside(&l.span))
                });
                if movable {
                    let diagnostics = diagnostics
                        .iter()
                        .map(|d| shift(d, -(span.start as isize)))
                        .collect();
                    let entry = CachedSpace {
                        absolute: false,
                        summary,
                        diagnostics,
                    };
                    (key, entry)
                } else {
                    let entry = CachedSpace {
                        absolute: true,
                        summary,
                        diagnostics,
                    };
                    (whole_text_key, entry)
                }
            }
        };
        let by = if entry.absolute {
            0
        } else {
            span.start as isize
        };
        for d in &entry.diagnostics {
            sink.push(shift(d, by));
        }
        out.extend(entry.summary.clone());
        fresh.insert(key, entry);
    }
    // Keep what this text did not use too (an edit is often undone, and while a space has
    // errors it is not analysed at all), up to a bound.
    let limit = 2 * checked.spaces.len() + 32;
    for (key, entry) in cache.entries.drain() {
        if fresh.len() >= limit {
            break;
        }
        fresh.entry(key).or_insert(entry);
    }
    cache.entries = fresh;
    (out, pending)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Two spaces; the second breaks a shape rule (3 heads do not divide a width of 64),
    /// so its diagnostic must move with it when the first one grows.
    const TWO: &str = "import std.transformer.{ attention }\n\nspace first {\n    param width = choice(64, 128)\n    graph {\n        embedding(vocab = 100, dim = width)\n        lm_head(vocab = 100)\n    }\n}\n\nspace second {\n    param width = choice(64, 96)\n    graph {\n        embedding(vocab = 100, dim = width)\n        attention(heads = 3)\n        lm_head(vocab = 100)\n    }\n}\n";

    fn same(a: &Analysis, b: &Analysis) {
        assert_eq!(a.diagnostics, b.diagnostics);
        assert_eq!(format!("{:?}", a.summaries), format!("{:?}", b.summaries));
    }

    #[test]
    fn the_space_cache_gives_what_a_fresh_check_gives() {
        let overlay = HashMap::new();
        let mut cache = SpaceCache::default();
        let edits = [
            TWO.to_string(),
            TWO.replace("choice(64, 128)", "choice(64, 128, 256)"),
            TWO.replace(
                "choice(64, 128)",
                "choice(64, 128, 256, 512)\n    param unused = choice(1, 2)",
            ),
            TWO.replace("choice(64, 96)", "choice(64, 96, 192)"),
            TWO.replace("heads = 3", "heads = 4"),
            TWO.replace("space first", "space renamed"),
            TWO.replace("attention }", "attention, ffn }"),
            "space {".to_string(),
            TWO.to_string(),
            // A rule broken inside a function of the document: the diagnostic lies
            // outside the space, so that space's entry is keyed on the whole text.
            format!("{TWO}\nfn bad() -> module {{ attention(heads = 3) }}\n\nspace third {{\n    param w = choice(64, 96)\n    graph {{ embedding(vocab = 100, dim = w)  bad()  lm_head(vocab = 100) }}\n}}\n"),
            format!("{}\nfn bad() -> module {{ attention(heads = 3) }}\n\nspace third {{\n    param w = choice(64, 96)\n    graph {{ embedding(vocab = 100, dim = w)  bad()  lm_head(vocab = 100) }}\n}}\n", TWO.replace("choice(64, 128)", "choice(64, 128, 512)")),
        ];
        for (i, text) in edits.iter().enumerate() {
            let cached = Analysis::cached("t.nas", text.clone(), None, &overlay, &mut cache);
            let fresh = Analysis::new("t.nas", text.clone(), None, &overlay);
            same(&cached, &fresh);
            if i == 1 {
                assert!(
                    cached
                        .diagnostics
                        .iter()
                        .any(|d| d.code == crate::diag::Code::ShapeRule),
                    "the second space's broken rule is reported: {:?}",
                    cached.diagnostics
                );
            }
        }
        assert!(!cache.entries.is_empty());
    }

    #[test]
    fn a_slow_space_is_left_pending_and_a_complete_analysis_fills_it_in() {
        let overlay = HashMap::new();
        let mut cache = SpaceCache {
            defer_over: Some(std::time::Duration::ZERO),
            ..SpaceCache::default()
        };
        // Nothing is known yet: everything is analysed.
        let first = Analysis::cached("t.nas", TWO.to_string(), None, &overlay, &mut cache);
        assert!(first.pending.is_empty());
        // Now every space "took longer" than zero: the edited one is left pending, the
        // other comes from the cache.
        let edited = TWO.replace("choice(64, 128)", "choice(64, 128, 256)");
        let quick = Analysis::cached("t.nas", edited.clone(), None, &overlay, &mut cache);
        assert_eq!(quick.pending, ["first"]);
        assert_eq!(
            quick.summaries.len(),
            0,
            "`second` breaks a rule; `first` is pending"
        );
        assert!(quick
            .diagnostics
            .iter()
            .any(|d| d.code == crate::diag::Code::ShapeRule));
        // A complete analysis elsewhere, merged in, completes the next one.
        let mut elsewhere = SpaceCache::default();
        let full = Analysis::cached("t.nas", edited.clone(), None, &overlay, &mut elsewhere);
        cache.merge(elsewhere);
        let again = Analysis::cached("t.nas", edited, None, &overlay, &mut cache);
        assert!(again.pending.is_empty());
        same(&again, &full);
    }
}
