//! Loads a root file and everything it imports, with cycle detection.
//!
//! `import std.NAME.{...}` reads the embedded standard library; any other path
//! `a.b.{...}` reads `a/b.nas` next to the importing file. The prelude is loaded once and
//! is visible in every file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diag::{Code, Diagnostic, FileId, Sink, Span};
use crate::source::{SourceFile, SourceMap};
use crate::stdlib;
use crate::syntax::{ast, parse_file};

/// Every file of one check, parsed.
#[derive(Debug, Default)]
pub struct Program {
    /// The texts.
    pub sources: SourceMap,
    /// The syntax tree of each file, indexed by `FileId`.
    pub files: Vec<ast::File>,
    /// For each file, the file each of its imports resolved to (in item order; `None` when
    /// the import failed).
    pub imports: Vec<Vec<Option<FileId>>>,
    /// The file the user asked to check.
    pub root: FileId,
    /// The prelude.
    pub prelude: FileId,
}

impl Program {
    /// The syntax tree of `file`.
    pub fn file(&self, file: FileId) -> &ast::File {
        &self.files[file.0 as usize]
    }
}

/// Loads `text` (shown as `name`, imports resolved against `dir`) and its imports.
pub fn load(name: &str, text: String, dir: Option<PathBuf>, sink: &mut Sink) -> Program {
    load_with(name, text, dir, &HashMap::new(), sink)
}

/// [`load`], reading an imported file from `overlay` (by canonical path) when it is there
/// instead of from disk: the language server passes the unsaved texts of open files.
pub fn load_with(
    name: &str,
    text: String,
    dir: Option<PathBuf>,
    overlay: &HashMap<PathBuf, String>,
    sink: &mut Sink,
) -> Program {
    let mut loader = Loader {
        program: Program::default(),
        by_key: HashMap::new(),
        stack: Vec::new(),
        overlay,
    };
    let prelude = loader.add_std(stdlib::PRELUDE, sink).unwrap_or_default();
    loader.program.prelude = prelude;
    let base = Path::new(name)
        .file_name()
        .map(Path::new)
        .unwrap_or(Path::new(name));
    let path = dir
        .as_ref()
        .map(|d| d.join(base))
        .and_then(|p| p.canonicalize().ok());
    let root = loader.add_file(
        SourceFile {
            name: name.to_string(),
            text,
            dir,
            path: path.clone(),
        },
        path.map(Key::Path),
        sink,
    );
    loader.program.root = root;
    loader.program
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Std(String),
    Path(PathBuf),
}

struct Loader<'o> {
    overlay: &'o HashMap<PathBuf, String>,
    program: Program,
    by_key: HashMap<Key, FileId>,
    /// Files being loaded, outermost first, for cycle detection.
    stack: Vec<(Key, FileId)>,
}

impl Loader<'_> {
    fn add_std(&mut self, name: &str, sink: &mut Sink) -> Option<FileId> {
        let key = Key::Std(name.to_string());
        if let Some(id) = self.by_key.get(&key) {
            return Some(*id);
        }
        let text = stdlib::get(name)?;
        let file = SourceFile {
            name: format!("std/{name}.nas"),
            text: text.to_string(),
            dir: None,
            path: None,
        };
        Some(self.add_file(file, Some(key), sink))
    }

    fn add_file(&mut self, mut file: SourceFile, key: Option<Key>, sink: &mut Sink) -> FileId {
        // A byte-order mark in front (some editors write one) is no part of the program.
        if file.text.starts_with(crate::source::BOM) {
            file.text.drain(..crate::source::BOM.len_utf8());
        }
        // Lines ended by a lone carriage return (old Mac files) end at a line feed: the
        // same byte count, so every span stays where it was, and a `//` comment ends with
        // its line instead of running to the end of the file.
        if file.text.contains('\r') {
            file.text = lone_returns_as_newlines(&file.text);
        }
        let dir = file.dir.clone();
        let text = file.text.clone();
        let id = self.program.sources.add(file);
        if let Some(key) = &key {
            self.by_key.insert(key.clone(), id);
        }
        let ast = parse_file(id, &text, sink);
        self.program.files.push(ast::File::default());
        self.program.imports.push(Vec::new());
        if let Some(key) = key.clone() {
            self.stack.push((key, id));
        }
        let mut resolved = Vec::new();
        for item in &ast.items {
            if let ast::Item::Import(imp) = item {
                resolved.push(self.resolve_import(imp, dir.as_deref(), sink));
            }
        }
        if key.is_some() {
            self.stack.pop();
        }
        self.program.files[id.0 as usize] = ast;
        self.program.imports[id.0 as usize] = resolved;
        id
    }

    fn resolve_import(
        &mut self,
        imp: &ast::Import,
        dir: Option<&Path>,
        sink: &mut Sink,
    ) -> Option<FileId> {
        let segments: Vec<&str> = imp.path.iter().map(|i| i.name.as_str()).collect();
        let path_span = imp.path.first().map(|f| f.span).unwrap_or(imp.span);
        let path_span = imp.path.last().map_or(path_span, |l| path_span.to(l.span));
        let dotted = segments.join(".");
        if segments.first() == Some(&"std") {
            let name = segments[1..].join("/");
            if let Some(id) = self.add_std(&name, sink) {
                return self.check_cycle(Key::Std(name), id, path_span, &dotted, sink);
            }
            let known: Vec<String> = stdlib::names()
                .filter(|n| *n != stdlib::PRELUDE)
                .map(|n| format!("std.{n}"))
                .collect();
            sink.push(
                Diagnostic::error(
                    Code::ImportNotFound,
                    format!("no standard-library module `{dotted}`"),
                    path_span,
                    "not in the standard library",
                )
                .with_help(format!("the standard library has {}", known.join(", "))),
            );
            return None;
        }
        let Some(dir) = dir else {
            sink.push(
                Diagnostic::error(
                    Code::ImportNotFound,
                    format!("cannot import `{dotted}` from here"),
                    path_span,
                    "relative import",
                )
                .with_help("the standard library can only import other `std` modules"),
            );
            return None;
        };
        let rel: PathBuf = segments.iter().collect::<PathBuf>().with_extension("nas");
        let full = dir.join(&rel);
        let canonical = match full.canonicalize() {
            Ok(p) => p,
            Err(_) => {
                sink.push(
                    Diagnostic::error(
                        Code::ImportNotFound,
                        format!("cannot find `{}` for `import {dotted}`", rel.display()),
                        path_span,
                        "no such file",
                    )
                    .with_help(format!(
                        "`import a.b` reads `a/b.nas` next to the importing file; there is no `{}` there",
                        rel.display()
                    )),
                );
                return None;
            }
        };
        let key = Key::Path(canonical.clone());
        if let Some(&id) = self.by_key.get(&key) {
            return self.check_cycle(key, id, path_span, &dotted, sink);
        }
        let read = match self.overlay.get(&canonical) {
            Some(text) => Ok(text.clone()),
            None => std::fs::read_to_string(&canonical),
        };
        let text = match read {
            Ok(t) => t,
            Err(e) => {
                sink.push(
                    Diagnostic::error(
                        Code::ImportNotFound,
                        format!("cannot read `{}`", rel.display()),
                        path_span,
                        e.to_string(),
                    )
                    .with_help("check the file's permissions and that it is UTF-8 text"),
                );
                return None;
            }
        };
        let name = relative_name(&canonical);
        let file = SourceFile {
            name,
            text,
            dir: canonical.parent().map(Path::to_path_buf),
            path: Some(canonical),
        };
        Some(self.add_file(file, Some(key), sink))
    }

    fn check_cycle(
        &self,
        key: Key,
        id: FileId,
        span: Span,
        dotted: &str,
        sink: &mut Sink,
    ) -> Option<FileId> {
        if let Some(pos) = self.stack.iter().position(|(k, _)| *k == key) {
            let chain: Vec<String> = self.stack[pos..]
                .iter()
                .map(|(_, f)| self.program.sources.get(*f).name.clone())
                .chain(std::iter::once(self.program.sources.get(id).name.clone()))
                .collect();
            sink.push(
                Diagnostic::error(
                    Code::ImportCycle,
                    format!("import cycle: {}", chain.join(" -> ")),
                    span,
                    format!("`{dotted}` is already being imported"),
                )
                .with_help("move the shared definitions into a third file that both import"),
            );
            return None;
        }
        Some(id)
    }
}

/// A path for display: relative to the working directory when it lies below it.
fn relative_name(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| cwd.canonicalize().ok())
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// `text` with each `\r` that no `\n` follows replaced by `\n`.
fn lone_returns_as_newlines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(if c == '\r' && chars.peek() != Some(&'\n') {
            '\n'
        } else {
            c
        });
    }
    out
}
