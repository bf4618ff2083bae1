//! Top-level name tables: what each file can see (its items, its imports, the prelude).

use std::collections::HashMap;

use super::load::Program;
use super::types::ItemRef;
use crate::diag::{Code, Diagnostic, FileId, Sink, Span};
use crate::syntax::ast::{self, Item};

/// The top-level names visible in one file.
#[derive(Debug, Default, Clone)]
pub struct FileScope {
    /// Name to item.
    pub names: rustc_hash::FxHashMap<String, ItemRef>,
}

/// The name an item defines, with its span, if it defines one.
pub fn item_name(item: &Item) -> Option<&ast::Ident> {
    match item {
        Item::Fn(f) => Some(&f.name),
        Item::Builtin(b) => Some(&b.name),
        Item::Enum(e) => Some(&e.name),
        Item::Space(s) => Some(&s.name),
        Item::Import(_) | Item::Config(_) => None,
    }
}

/// Builds the scope of every file, reporting duplicates and missing imported names.
pub fn build_scopes(program: &Program, sink: &mut Sink) -> Vec<FileScope> {
    let n = program.files.len();
    let own: Vec<FileScope> = (0..n)
        .map(|f| own_scope(program, FileId(f as u32), sink))
        .collect();
    (0..n)
        .map(|f| {
            let file = FileId(f as u32);
            let mut scope = own[f].clone();
            let mut imported: HashMap<String, Span> = HashMap::new();
            let imports = program.file(file).items.iter().filter_map(|i| match i {
                Item::Import(imp) => Some(imp),
                _ => None,
            });
            for (imp, target) in imports.zip(program.imports[f].iter()) {
                let Some(target) = target else { continue };
                let target_scope = &own[target.0 as usize];
                let entries: Vec<(String, Span, ItemRef)> = match &imp.names {
                    None => {
                        let mut all: Vec<_> = target_scope
                            .names
                            .iter()
                            .filter(|(_, r)| !matches!(program.file(r.file).items[r.index], Item::Space(_)))
                            .map(|(k, r)| (k.clone(), imp.span, *r))
                            .collect();
                        all.sort_by(|a, b| a.0.cmp(&b.0));
                        all
                    }
                    Some(list) => list
                        .iter()
                        .filter_map(|(name, alias)| match target_scope.names.get(&name.name) {
                            Some(r) => {
                                let local = alias.as_ref().unwrap_or(name);
                                Some((local.name.clone(), local.span, *r))
                            }
                            None => {
                                let mut known: Vec<&String> = target_scope.names.keys().collect();
                                known.sort();
                                let help = match crate::check::suggest(&name.name, known.iter().map(|s| s.as_str())) {
                                    Some(s) => format!("did you mean `{s}`?"),
                                    None => format!(
                                        "`{}` defines {}",
                                        program.sources.get(*target).name,
                                        known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                                    ),
                                };
                                sink.push(
                                    Diagnostic::error(Code::ImportNameMissing, format!("`{}` is not defined in the imported module", name.name), name.span, "not defined there")
                                        .with_help(help),
                                );
                                None
                            }
                        })
                        .collect(),
                };
                for (name, span, r) in entries {
                    if let Some(existing) = own[f].names.get(&name) {
                        if *existing != r && imp.names.is_some() {
                            let def_span = item_name(&program.file(existing.file).items[existing.index]).map(|i| i.span);
                            let mut d = Diagnostic::error(Code::DuplicateDefinition, format!("`{name}` is both imported and defined here"), span, "imported here")
                                .with_help("rename the local definition or import under another name with `as`");
                            if let Some(s) = def_span {
                                d = d.with_label(s, "defined here");
                            }
                            sink.push(d);
                        }
                        continue;
                    }
                    if let Some(prev) = imported.get(&name) {
                        if scope.names.get(&name) != Some(&r) {
                            sink.push(
                                Diagnostic::error(Code::DuplicateDefinition, format!("`{name}` is imported twice"), span, "imported again here")
                                    .with_label(*prev, "first imported here")
                                    .with_help("import one of them under another name with `as`"),
                            );
                        }
                        continue;
                    }
                    imported.insert(name.clone(), span);
                    scope.names.insert(name, r);
                }
            }
            if file != program.prelude {
                for (name, r) in &own[program.prelude.0 as usize].names {
                    scope.names.entry(name.clone()).or_insert(*r);
                }
            }
            scope
        })
        .collect()
}

fn own_scope(program: &Program, file: FileId, sink: &mut Sink) -> FileScope {
    let mut scope = FileScope::default();
    for (index, item) in program.file(file).items.iter().enumerate() {
        let Some(name) = item_name(item) else {
            continue;
        };
        if let Some(prev) = scope.names.get(&name.name) {
            let prev_span = item_name(&program.file(file).items[prev.index]).map(|i| i.span);
            let mut d = Diagnostic::error(
                Code::DuplicateDefinition,
                format!("`{}` is defined twice", name.name),
                name.span,
                "defined again here",
            )
            .with_help("rename one of the two definitions");
            if let Some(s) = prev_span {
                d = d.with_label(s, "first defined here");
            }
            sink.push(d);
            continue;
        }
        scope
            .names
            .insert(name.name.clone(), ItemRef { file, index });
    }
    scope
}
