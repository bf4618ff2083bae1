//! Completion: what may be written at the cursor.
//!
//! While the user types, the text around the cursor usually does not parse, so the
//! context is read from the raw text before the cursor (the call whose parentheses are
//! open, the word before, the block the cursor is in), and the names come from the last
//! analysis of the document: the keyword arguments of the callee, the metrics after
//! `minimize` or `by`, the strategies inside `pipeline { }`, the modules of `std.NAME`
//! after `import std.NAME.{`, and otherwise every name in scope plus the standard
//! library's modules that are not imported yet (completing one adds its import).

use lsp_types::{CompletionItem, CompletionItemKind as K, InsertTextFormat};

use super::analysis::Analysis;
use super::index::DefKind;
use crate::check::types::ItemRef;
use crate::diag::FileId;
use crate::stdlib;
use crate::syntax::ast::{BuiltinKind, FnParam, Item, Member};
use crate::syntax::KEYWORDS;

/// A completion, before the server turns it into the protocol's item.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// What is shown and, unless `insert` says otherwise, inserted.
    pub label: String,
    /// What kind of thing it is.
    pub kind: K,
    /// A one-line description.
    pub detail: Option<String>,
    /// A snippet to insert instead of the label.
    pub insert: Option<String>,
    /// An import line to add at the top of the file, for a module of `std` not yet
    /// imported: `(byte offset, text)`.
    pub import: Option<(usize, String)>,
}

impl Completion {
    fn new(label: impl Into<String>, kind: K, detail: impl Into<String>) -> Completion {
        Completion {
            label: label.into(),
            kind,
            detail: Some(detail.into()).filter(|d: &String| !d.is_empty()),
            insert: None,
            import: None,
        }
    }

    /// The protocol's item, with the import as an edit made by `edit`.
    pub fn into_item(self, edit: impl Fn(usize, String) -> lsp_types::TextEdit) -> CompletionItem {
        CompletionItem {
            insert_text_format: self.insert.as_ref().map(|_| InsertTextFormat::SNIPPET),
            insert_text: self.insert,
            additional_text_edits: self.import.map(|(at, text)| vec![edit(at, text)]),
            label: self.label,
            kind: Some(self.kind),
            detail: self.detail,
            ..CompletionItem::default()
        }
    }
}

/// Whether `word` is reserved by the grammar (and so cannot name anything).
pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.contains(&word)
}

/// Domains of hyperparameters, which the checker knows without declarations.
const DOMAINS: &[(&str, &str)] = &[
    ("choice", "choice(${1:a}, ${2:b})"),
    ("range", "range(${1:lo}, ${2:hi})"),
    ("uniform", "uniform(${1:lo}, ${2:hi})"),
    ("log_uniform", "log_uniform(${1:lo}, ${2:hi})"),
];

/// The completions at byte `offset` of `text`, the document's current text, using `a`,
/// its last analysis.
pub fn complete(a: &Analysis, text: &str, offset: usize) -> Vec<Completion> {
    let offset = floor(text, offset);
    let before = &text[..offset];
    let word_start = word_start(before);
    let head = before[..word_start].trim_end();
    if let Some(module) = head
        .strip_suffix('.')
        .and_then(|h| h.rsplit(|c: char| c.is_whitespace()).next())
    {
        if module == "std" && head.trim_end_matches("std.").trim_end().ends_with("import") {
            return stdlib::names()
                .filter(|n| *n != stdlib::PRELUDE)
                .map(|n| Completion::new(n, K::MODULE, "standard library module"))
                .collect();
        }
    }
    if let Some(module) = import_list(head) {
        return std_items(module)
            .into_iter()
            .map(|(name, c)| Completion { label: name, ..c })
            .collect();
    }
    let last_word = head
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if matches!(last_word, "minimize" | "maximize" | "by") {
        return builtins(a, BuiltinKind::Metric);
    }
    if let Some(call) = open_call(head) {
        let mut out = Vec::new();
        if call.at_argument_start {
            out.extend(keyword_arguments(a, &call));
        }
        if !out.is_empty() && !call.after_equals {
            return out;
        }
        out.extend(in_scope(a, offset));
        return out;
    }
    if enclosing_block(head) == Some("pipeline") {
        return builtins(a, BuiltinKind::Strategy);
    }
    if last_word == "data" && head.ends_with('=') {
        return builtins(a, BuiltinKind::Dataset);
    }
    let mut out = in_scope(a, offset);
    // Keywords that begin something where a name may go (not `as`, `else`, `and`, ...).
    let starts = KEYWORDS
        .iter()
        .filter(|k| !matches!(**k, "as" | "else" | "and" | "or" | "builtin"));
    out.extend(starts.map(|k| Completion::new(*k, K::KEYWORD, "")));
    out
}

/// Where the name that ends `text` starts (the end of `text` when none does): just past
/// the last character that cannot be part of a name, whatever its width in bytes.
fn word_start(text: &str) -> usize {
    text.char_indices()
        .rev()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

fn floor(text: &str, mut offset: usize) -> usize {
    offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// `import std.NAME.{ a, ` before the cursor: `NAME`.
fn import_list(head: &str) -> Option<&str> {
    let line = head.rsplit('\n').next()?;
    let rest = line.trim_start().strip_prefix("import")?.trim_start();
    let rest = rest.strip_prefix("std.")?;
    let (module, list) = rest.split_once(".{")?;
    (!list.contains('}')).then_some(module.trim())
}

/// A call whose parenthesis is open before the cursor.
struct OpenCall<'t> {
    /// The name before the parenthesis.
    callee: &'t str,
    /// The keyword arguments already written.
    named: Vec<&'t str>,
    /// Whether the cursor starts an argument (right after `(` or `,`).
    at_argument_start: bool,
    /// Whether the cursor is in an argument's value (after `name =`).
    after_equals: bool,
    /// How many arguments come before the one the cursor is in.
    index: usize,
    /// The keyword of the argument the cursor is in, when it has one (`kind = `).
    current_name: Option<&'t str>,
    /// The name being typed where the argument has no `=` yet (`ki`), if it is one.
    typing: Option<&'t str>,
}

/// The innermost call open before the end of `head`, if the cursor is inside its
/// parentheses and not inside a block nested in them.
fn open_call(head: &str) -> Option<OpenCall<'_>> {
    let mut depth = 0i32;
    let mut open = None;
    for (i, c) in head.char_indices().rev() {
        match c {
            ')' | '}' | ']' => depth += 1,
            '(' | '[' if depth > 0 => depth -= 1,
            '{' if depth > 0 => depth -= 1,
            '{' => return None,
            '(' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
    }
    let open = open?;
    let callee_end = head[..open].trim_end();
    let callee = &callee_end[word_start(callee_end)..];
    if callee.is_empty() {
        return None;
    }
    let inside = &head[open + 1..];
    // Split the arguments at top-level commas.
    let mut args = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in inside.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                args.push(&inside[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    let current = inside[start..].trim();
    let current_name = current
        .split_once('=')
        .map(|(n, rest)| (n.trim(), rest))
        .filter(|(n, rest)| {
            !rest.starts_with('=')
                && !n.is_empty()
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|(n, _)| n);
    let typing = Some(current)
        .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    let index = args.len();
    let named = args
        .iter()
        .filter_map(|a| a.split_once('=').map(|(n, _)| n.trim()))
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect();
    Some(OpenCall {
        callee,
        named,
        at_argument_start: current.is_empty(),
        after_equals: current.ends_with('=') && !current.ends_with("=="),
        index,
        current_name,
        typing,
    })
}

/// The keyword of the innermost block `{` open before the end of `head`
/// (`pipeline`, `graph`, a space's name after `space`, ...).
fn enclosing_block(head: &str) -> Option<&str> {
    let mut depth = 0i32;
    for (i, c) in head.char_indices().rev() {
        match c {
            '}' => depth += 1,
            '{' if depth > 0 => depth -= 1,
            '{' => {
                let word = head[..i].trim_end();
                return Some(&word[word_start(word)..]);
            }
            _ => {}
        }
    }
    None
}

/// What `callee` is, in words (`builtin module attention`), with its parameters and doc
/// comment: a function, a builtin, or a variant of an enum with a payload.
fn callee<'a>(a: &'a Analysis, callee: &str) -> Option<(String, &'a [FnParam], Option<&'a str>)> {
    match a
        .checked
        .lookup(a.root(), callee)
        .map(|r| a.checked.item(r))
    {
        Some(Item::Fn(f)) => Some((format!("fn {}", f.name.name), &f.params, f.doc.as_deref())),
        Some(Item::Builtin(b)) => Some((
            format!("{} {}", b.kind.as_str(), b.name.name),
            &b.params,
            b.doc.as_deref(),
        )),
        _ => a
            .checked
            .program
            .files
            .iter()
            .flat_map(|f| &f.items)
            .find_map(|i| match i {
                Item::Enum(e) => e.variants.iter().find(|v| v.name.name == callee).map(|v| {
                    (
                        format!("variant of enum {}", e.name.name),
                        v.params.as_slice(),
                        e.doc.as_deref(),
                    )
                }),
                _ => None,
            }),
    }
}

/// The signature of the call the cursor is in, for signature help.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// `attention(heads: int, kind: attention_kind = softmax, ...)`.
    pub label: String,
    /// Each parameter as it appears in the label.
    pub params: Vec<String>,
    /// What the callee is and its doc comment, as Markdown.
    pub doc: String,
    /// The parameter the argument under the cursor fills, if any.
    pub active: Option<usize>,
}

/// The signature of the call open at byte `offset` of `text`, if its callee is known.
pub fn signature_help(a: &Analysis, text: &str, offset: usize) -> Option<Signature> {
    let before = &text[..floor(text, offset)];
    let call = open_call(before)?;
    let (owner, params, doc) = callee(a, call.callee)?;
    let texts: Vec<String> = params.iter().map(|p| a.param_text(p)).collect();
    let active = match call.current_name {
        Some(name) => params.iter().position(|p| p.name.name == name),
        None if call.named.is_empty() => Some(call.index).filter(|i| *i < params.len()),
        // After a keyword argument only keywords follow: the one being typed, if a
        // parameter not given yet starts so; a positional one is an error.
        None => call.typing.and_then(|t| {
            params
                .iter()
                .position(|p| p.name.name.starts_with(t) && !call.named.contains(&&*p.name.name))
        }),
    };
    Some(Signature {
        label: format!("{}({})", call.callee, texts.join(", ")),
        params: texts,
        doc: format!("`{owner}`\n\n{}", doc.unwrap_or("").trim()),
        active,
    })
}

/// `name = ` for each parameter of the callee not given yet.
fn keyword_arguments(a: &Analysis, call: &OpenCall<'_>) -> Vec<Completion> {
    let Some((owner, params, _)) = callee(a, call.callee) else {
        return Vec::new();
    };
    params
        .iter()
        .filter(|p| !call.named.contains(&p.name.name.as_str()))
        .map(|p| Completion {
            insert: Some(format!("{} = $0", p.name.name)),
            ..Completion::new(
                format!("{} =", p.name.name),
                K::FIELD,
                format!("{} ({owner})", a.param_text(p)),
            )
        })
        .collect()
}

/// The builtins of one kind visible in the document.
fn builtins(a: &Analysis, kind: BuiltinKind) -> Vec<Completion> {
    let mut out: Vec<Completion> = a.checked.scopes[a.root().0 as usize]
        .names
        .iter()
        .filter_map(|(name, r)| match a.checked.item(*r) {
            Item::Builtin(b) if b.kind == kind => Some(Completion::new(
                name.clone(),
                if kind == BuiltinKind::Metric {
                    K::VALUE
                } else {
                    K::FUNCTION
                },
                b.doc
                    .as_deref()
                    .and_then(|d| d.lines().next())
                    .unwrap_or(""),
            )),
            _ => None,
        })
        .collect();
    out.sort_by(|x, y| x.label.cmp(&y.label));
    out
}

/// Every name the cursor's space or function sees, then the standard library's modules
/// not imported yet (with an import to add).
fn in_scope(a: &Analysis, offset: usize) -> Vec<Completion> {
    let root = a.root();
    let mut out = Vec::new();
    for (i, item) in a.checked.program.file(root).items.iter().enumerate() {
        let inside = |s: crate::diag::Span| s.start <= offset && offset <= s.end;
        match item {
            Item::Space(s) if inside(s.span) => {
                for m in &s.members {
                    match m {
                        Member::Param(p) => out.push(Completion::new(
                            p.name.name.clone(),
                            K::VARIABLE,
                            "hyperparameter",
                        )),
                        Member::Let(l) => {
                            out.push(Completion::new(l.name.name.clone(), K::VARIABLE, "let"))
                        }
                        _ => {}
                    }
                }
            }
            Item::Fn(f) if inside(f.span) => {
                for p in &f.params {
                    out.push(Completion::new(
                        p.name.name.clone(),
                        K::VARIABLE,
                        format!("parameter: {}", p.ty.name),
                    ));
                }
            }
            _ => {}
        }
        // Lets of blocks that enclose the cursor and come before it.
        let r = ItemRef {
            file: root,
            index: i,
        };
        for d in a
            .index
            .defs
            .iter()
            .filter(|d| d.item == r && d.kind == DefKind::Let && d.span.file == root)
        {
            if d.span.end <= offset && !out.iter().any(|c| c.label == d.name) {
                out.push(Completion::new(d.name.clone(), K::VARIABLE, "let"));
            }
        }
    }
    let scope = &a.checked.scopes[root.0 as usize];
    let mut names: Vec<Completion> = scope
        .names
        .iter()
        .filter_map(|(name, r)| {
            let (kind, detail) = match a.checked.item(*r) {
                Item::Fn(f) => (K::FUNCTION, f.doc.as_deref()),
                Item::Builtin(b) if b.kind == BuiltinKind::Module => {
                    (K::FUNCTION, b.doc.as_deref())
                }
                Item::Enum(e) => (K::ENUM, e.doc.as_deref()),
                _ => return None,
            };
            Some(Completion::new(
                name.clone(),
                kind,
                detail.and_then(|d| d.lines().next()).unwrap_or(""),
            ))
        })
        .collect();
    names.sort_by(|x, y| x.label.cmp(&y.label));
    out.extend(names);
    out.extend(DOMAINS.iter().map(|(name, snippet)| Completion {
        insert: Some((*snippet).to_string()),
        ..Completion::new(*name, K::FUNCTION, "hyperparameter domain")
    }));
    // Modules of the standard library not imported yet.
    let at = import_offset(a);
    for module in stdlib::names().filter(|n| *n != stdlib::PRELUDE) {
        for (name, c) in std_items(module) {
            if scope.names.contains_key(&name) || out.iter().any(|o| o.label == name) {
                continue;
            }
            out.push(Completion {
                detail: Some(format!("std.{module}: {}", c.detail.unwrap_or_default())),
                import: Some((at, format!("import std.{module}.{{ {name} }}\n"))),
                ..c
            });
        }
    }
    out
}

/// The modules, functions and enums `std.NAME` defines, by name, read from the embedded
/// text (the document may not load it, or may not parse while the import is typed).
fn std_items(module: &str) -> Vec<(String, Completion)> {
    // The embedded texts never change: each module is parsed once per process, not on
    // every keystroke.
    type Items = Vec<(String, Completion)>;
    static PARSED: std::sync::Mutex<Vec<(String, Items)>> = std::sync::Mutex::new(Vec::new());
    let mut parsed = PARSED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, items)) = parsed.iter().find(|(m, _)| m == module) {
        return items.clone();
    }
    let items = parse_std_items(module);
    parsed.push((module.to_string(), items.clone()));
    items
}

fn parse_std_items(module: &str) -> Vec<(String, Completion)> {
    let Some(text) = stdlib::get(module) else {
        return Vec::new();
    };
    let mut sink = crate::diag::Sink::default();
    let file = crate::syntax::parse_file(FileId(0), text, &mut sink);
    file.items
        .iter()
        .filter_map(|i| {
            let (name, kind, doc) = match i {
                Item::Fn(f) => (&f.name, K::FUNCTION, f.doc.as_deref()),
                Item::Builtin(b) => (&b.name, K::FUNCTION, b.doc.as_deref()),
                Item::Enum(e) => (&e.name, K::ENUM, e.doc.as_deref()),
                _ => return None,
            };
            let first = doc.and_then(|d| d.lines().next()).unwrap_or("");
            Some((
                name.name.clone(),
                Completion::new(name.name.clone(), kind, first),
            ))
        })
        .collect()
}

/// Where a new import goes: after the document's last import, else at its start.
fn import_offset(a: &Analysis) -> usize {
    let root = a.root();
    let text = a.text(root);
    a.checked
        .program
        .file(root)
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Import(imp) => Some(imp.span.end),
            _ => None,
        })
        .max()
        .map_or(0, |end| {
            text[end..].find('\n').map_or(text.len(), |i| end + i + 1)
        })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn labels(text: &str, marker: &str) -> Vec<String> {
        let offset = text.find(marker).expect("marker") + marker.len();
        let a = Analysis::new("t.nas", text.to_string(), None, &HashMap::new());
        complete(&a, text, offset)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    const SPACE: &str = "import std.transformer.{ attention }\n\nspace s {\n    param width = choice(64, 128)\n    graph {\n        embedding(vocab = 100, dim = width)\n        attention(heads = 4, )\n        lm_head(vocab = 100)\n    }\n    objective { minimize val_loss }\n    pipeline {\n        random(samples = 4) |> keep top 2 by val_loss\n    }\n}\n";

    #[test]
    fn keyword_arguments_of_the_open_call_leave_out_those_given() {
        let got = labels(SPACE, "attention(heads = 4, ");
        assert!(got.contains(&"kind =".to_string()), "{got:?}");
        assert!(!got.contains(&"heads =".to_string()), "{got:?}");
    }

    #[test]
    fn metrics_after_minimize_and_strategies_in_a_pipeline() {
        let got = labels(SPACE, "minimize ");
        assert!(
            got.contains(&"val_loss".to_string()) && got.contains(&"latency_ms".to_string()),
            "{got:?}"
        );
        assert!(!got.contains(&"random".to_string()));
        let got = labels(SPACE, "    pipeline {\n        ");
        assert!(
            got.contains(&"random".to_string()) && got.contains(&"tpe".to_string()),
            "{got:?}"
        );
    }

    #[test]
    fn names_in_scope_and_std_modules_with_their_import() {
        let text = SPACE.replace(
            "        lm_head(vocab = 100)\n",
            "        lm_head(vocab = 100)\n        \n",
        );
        let offset =
            text.find("lm_head(vocab = 100)\n").unwrap() + "lm_head(vocab = 100)\n        ".len();
        let a = Analysis::new("t.nas", text.clone(), None, &HashMap::new());
        let got = complete(&a, &text, offset);
        let has = |l: &str| got.iter().find(|c| c.label == l);
        assert!(has("width").is_some(), "the space's hyperparameter");
        assert!(has("embedding").is_some(), "a prelude module");
        assert!(has("choice").is_some(), "a domain");
        let ffn = has("ffn").expect("std.transformer's ffn, not imported yet");
        let (at, line) = ffn.import.clone().expect("an import to add");
        assert_eq!(line, "import std.transformer.{ ffn }\n");
        assert_eq!(
            at,
            text.find("\n\nspace").unwrap() + 1,
            "after the last import"
        );
        assert!(
            has("attention").is_some_and(|c| c.import.is_none()),
            "already imported"
        );
    }

    #[test]
    fn text_around_the_cursor_may_hold_any_character() {
        // Each cursor position of text with wide characters next to names and brackets.
        let text = "space s {\n    graph { \u{1F600}attention(\u{e9}x = 1, \u{1F600}) \u{1F600}}\n    pipeline {\u{1F600}ran\n}\n";
        let a = Analysis::new("t.nas", text.to_string(), None, &HashMap::new());
        for offset in (0..=text.len()).filter(|o| text.is_char_boundary(*o)) {
            let _ = complete(&a, text, offset);
        }
        assert_eq!(word_start("x \u{1F600}abc"), "x \u{1F600}".len());
        assert_eq!(word_start("abc"), 0);
    }

    #[test]
    fn signature_help_marks_the_argument_being_written() {
        let a = Analysis::new("t.nas", SPACE.to_string(), None, &HashMap::new());
        let at = |marker: &str| SPACE.find(marker).unwrap() + marker.len();
        let sig = signature_help(&a, SPACE, at("attention(")).expect("inside attention's call");
        assert!(
            sig.label
                .starts_with("attention(heads: int, kind: attention_kind = softmax"),
            "{}",
            sig.label
        );
        assert!(sig.params.iter().all(|p| sig.label.contains(p.as_str())));
        assert_eq!(sig.active, Some(0), "the first argument, by position");
        assert!(sig.doc.contains("module attention"), "{}", sig.doc);
        let sig = signature_help(&a, SPACE, at("attention(heads = 4, ")).expect("a call");
        assert_eq!(
            sig.active, None,
            "after a keyword argument nothing is positional"
        );
        // A keyword being typed after another marks its parameter.
        let typed = SPACE.replace("attention(heads = 4, )", "attention(heads = 4, ki)");
        let a = Analysis::new("t.nas", typed.clone(), None, &HashMap::new());
        let sig = signature_help(&a, &typed, typed.find(", ki").unwrap() + 4).expect("a call");
        assert_eq!(sig.active, Some(1), "typing `kind`");
        let text = SPACE.replace("attention(heads = 4, )", "attention(heads = 4, kind = )");
        let a = Analysis::new("t.nas", text.clone(), None, &HashMap::new());
        let sig = signature_help(&a, &text, text.find("kind = ").unwrap() + 7).expect("a call");
        assert_eq!(
            sig.params[sig.active.expect("kind")],
            "kind: attention_kind = softmax"
        );
        assert_eq!(
            signature_help(&a, &text, text.find("space s").unwrap()),
            None,
            "not in a call"
        );
    }

    #[test]
    fn std_modules_after_import_std() {
        assert!(labels("import std.", "import std.").contains(&"transformer".to_string()));
        let got = labels("import std.transformer.{ ", "{ ");
        assert!(got.contains(&"ffn".to_string()), "{got:?}");
    }
}
