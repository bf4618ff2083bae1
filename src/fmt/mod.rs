//! The formatter behind `nasc fmt` (and, later, the language server's formatting): `.nas`
//! text in, the same program in the house style out, every comment kept.
//!
//! # Design
//!
//! The formatter re-prints the token stream; it does not print the AST. The parser drops
//! comments (the grammar treats them as whitespace), so a printer working from the AST
//! would have to guess where each comment belonged. Instead `lex` cuts the text into the
//! tokens pest sees plus the comments, and `print` lays those same tokens out again:
//! only the whitespace between tokens changes, so nothing can be lost or reordered.
//!
//! The author's line breaks are kept (runs of blank lines become one; blank lines right
//! inside brackets go), and breaks are added where the house style wants them: every
//! item and every space member starts a line, and a space's braces stand on lines of their
//! own. Long argument lists stay broken where the author broke them. Indentation is four
//! spaces per bracket level, plus one level for an expression continued on the next line.
//! Within a line, tokens get one space or none; the `:`/`=` after consecutive
//! `param`/`let` names and the `|>` of consecutive pipeline stages line up (at the
//! author's column if the author already lined them up further right); padding the author
//! put before any other `=` or a comment, to line it up with a neighbour, is kept.
//!
//! Three guarantees, each tested on every example, standard-library and UI file and on
//! mutated programs (`tests/fmt.rs`): formatting is idempotent, keeps every comment in
//! order, and never changes the program. The last is also checked on every call: the
//! output is parsed again and its syntax tree compared, spans aside, with the input's;
//! should they ever differ (a gap in the lexer), the input is returned unchanged rather
//! than a different program. A file that does not parse is refused with its first
//! syntax error, because the token stream of a broken file says too little about where
//! lines belong.

mod lex;
mod print;

use crate::diag::{Diagnostic, FileId, Sink};
use crate::syntax::parse_file;

/// Why a file could not be formatted: it does not parse.
#[derive(Clone, Debug, PartialEq)]
pub struct FormatError {
    /// The byte range of the first syntax error.
    pub span: std::ops::Range<usize>,
    /// What is wrong there, as `nasc check` would say it.
    pub message: String,
    /// The whole diagnostic (code, label, help), for rendering with the source; its file
    /// id is `FileId(0)`. Boxed to keep `Result<String, FormatError>` small.
    pub diagnostic: Box<Diagnostic>,
}

impl FormatError {
    /// The error with its offsets moved by `to` (from a text the formatter read to the
    /// text it was given).
    fn mapped(mut self, to: impl Fn(usize) -> usize) -> FormatError {
        self.span = to(self.span.start)..to(self.span.end);
        let d = &mut self.diagnostic;
        for label in std::iter::once(&mut d.primary).chain(d.secondary.iter_mut()) {
            label.span.start = to(label.span.start);
            label.span.end = to(label.span.end);
        }
        self
    }

    /// The error with its offsets `by` bytes later (behind a byte-order mark).
    fn shifted(self, by: usize) -> FormatError {
        self.mapped(|at| at + by)
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at bytes {}..{}",
            self.message, self.span.start, self.span.end
        )
    }
}

impl std::error::Error for FormatError {}

/// Formats `.nas` source text in the house style; `Err` with the first syntax error when
/// the text does not parse. Never panics.
pub fn format_source(text: &str) -> Result<String, FormatError> {
    // A byte-order mark is kept in front, where it was, and otherwise left out of the way.
    if let Some(rest) = text.strip_prefix(crate::source::BOM) {
        let bom = crate::source::BOM.len_utf8();
        return format_source(rest)
            .map(|out| format!("{}{out}", crate::source::BOM))
            .map_err(|e| e.shifted(bom));
    }
    // The formatter writes `\n`; a text whose first line ends in `\r\n` (or a lone `\r`,
    // as old Mac files do) gets that ending throughout. The replacements keep every
    // offset, so an error's span holds for the text as given.
    let first = text.find(['\n', '\r']).map(|i| &text[i..]);
    let ending = match first {
        Some(rest) if rest.starts_with("\r\n") => "\r\n",
        Some(rest) if rest.starts_with('\r') => "\r",
        _ => "\n",
    };
    if ending == "\n" && !text.contains('\r') {
        return format_inner(text).map(|(out, _)| out);
    }
    let unix = text.replace("\r\n", "\n").replace('\r', "\n");
    format_inner(&unix)
        .map(|(out, _)| match ending {
            "\n" => out,
            other => out.replace('\n', other),
        })
        .map_err(|e| e.mapped(|at| original_offset(text, at)))
}

/// The offset in `text` of offset `at` of `text` with each `\r\n` made `\n`.
fn original_offset(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let (mut i, mut unix) = (0, 0);
    while unix < at && i < bytes.len() {
        i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        unix += 1;
    }
    i
}

/// Formats `text`; the flag says whether the safety net had to return the input unchanged
/// (the tests require that it never does on real programs).
fn format_inner(text: &str) -> Result<(String, bool), FormatError> {
    let before = shape(text)?;
    let out = print::print(&lex::lex(text));
    if shape(&out).ok().as_ref() == Some(&before) {
        Ok((out, false))
    } else {
        Ok((text.to_string(), true))
    }
}

/// The syntax tree of `text` printed without spans, so two layouts of one program compare
/// equal; `Err` with the first syntax error.
fn shape(text: &str) -> Result<String, FormatError> {
    let mut sink = Sink::default();
    let file = parse_file(FileId(0), text, &mut sink);
    if let Some(d) = sink.into_sorted().into_iter().find(Diagnostic::is_error) {
        return Err(FormatError {
            span: d.primary.span.start..d.primary.span.end,
            message: d.message.clone(),
            diagnostic: Box::new(d),
        });
    }
    Ok(strip_spans(&format!("{file:?}")))
}

/// Removes every `Span { .. }` from a debug rendering.
fn strip_spans(debug: &str) -> String {
    const OPEN: &str = "Span { file: FileId(";
    let mut out = String::with_capacity(debug.len());
    let mut rest = debug;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // A span's fields are numbers, so its first `}` closes it.
        let end = rest.find('}').map_or(rest.len(), |e| e + 1);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn line_endings_follow_the_first_line() {
        let lf = "space s {\n  param w = choice(8, 16)\n}\n";
        let out = format_source(lf).unwrap();
        assert_eq!(
            format_source(&lf.replace('\n', "\r\n")).unwrap(),
            out.replace('\n', "\r\n")
        );
        assert_eq!(
            format_source(&lf.replace('\n', "\r")).unwrap(),
            out.replace('\n', "\r")
        );
        // A comment ends with its line under every ending.
        let commented = "// note\nspace s {\n  param w = choice(8, 16) // w\n}\n";
        let out = format_source(commented).unwrap();
        assert_eq!(
            format_source(&commented.replace('\n', "\r")).unwrap(),
            out.replace('\n', "\r")
        );
        // An error's span is in the text as given.
        let broken = "space s {\r\n  param w = \r\n";
        let e = format_source(broken).unwrap_err();
        assert!(e.span.start <= broken.len() && broken.is_char_boundary(e.span.start));
    }

    use super::*;

    /// Formats `text`, checking idempotence and that the safety net stayed unused.
    fn fmt(text: &str) -> String {
        let (out, fell_back) = format_inner(text).expect("parses");
        assert!(!fell_back, "the printer changed the program:\n{out}");
        let (again, _) = format_inner(&out).expect("output parses");
        assert_eq!(again, out, "not idempotent");
        out
    }

    #[test]
    fn members_go_on_lines_of_their_own() {
        assert_eq!(
            fmt("space s { param x = choice(1, 2) param long = range(1,3) graph { linear(out=x) } }"),
            "space s {\n    param x    = choice(1, 2)\n    param long = range(1, 3)\n    graph { linear(out = x) }\n}\n"
        );
    }

    #[test]
    fn comments_stay_where_they_are() {
        let src = "// head\nspace s { // brace\n  /* block */ param x = 1 // trailing\n\n\n\n  // own line\n  graph { a() }\n}\n";
        assert_eq!(
            fmt(src),
            "// head\nspace s { // brace\n    /* block */ param x = 1 // trailing\n\n    // own line\n    graph { a() }\n}\n"
        );
    }

    #[test]
    fn pipeline_filters_line_up() {
        let src = "space s {\npipeline {\nrandom(samples = 4) |> keep top 2 by val_loss\nbo(trials = 24, steps = 300) |> keep best\nfinal(steps = 10)\n}\n}\n";
        assert_eq!(
            fmt(src),
            "space s {\n    pipeline {\n        random(samples = 4)          |> keep top 2 by val_loss\n        bo(trials = 24, steps = 300) |> keep best\n        final(steps = 10)\n    }\n}\n"
        );
    }

    #[test]
    fn continuations_indent_one_level() {
        let src = "fn f() -> module {\nlet a = input >> b()\n>> c(x = -1, y = 25 % 4)\na\n}\n";
        assert_eq!(
            fmt(src),
            "fn f() -> module {\n    let a = input >> b()\n        >> c(x = -1, y = 25 % 4)\n    a\n}\n"
        );
    }

    #[test]
    fn author_alignment_is_kept() {
        let src = "space s {\n    param a : int    = choice(1)\n    param bb : float = choice(1.0)\n    data  = d()\n    train { steps = 1 }\n}\n";
        assert_eq!(
            fmt(src),
            "space s {\n    param a  : int   = choice(1)\n    param bb : float = choice(1.0)\n    data  = d()\n    train { steps = 1 }\n}\n"
        );
    }

    #[test]
    fn types_line_up_only_where_the_author_lined_them_up() {
        let src =
            "space s {\n    param a : int = choice(1)\n    param bb : float = choice(1.0)\n}\n";
        assert_eq!(
            fmt(src),
            "space s {\n    param a  : int = choice(1)\n    param bb : float = choice(1.0)\n}\n"
        );
    }

    #[test]
    fn semicolons_and_odd_spacing_keep_their_meaning() {
        let src = "space s{param x=choice( 1 ,2 );let y=x;graph{a() ;-1}\ntrain{steps=1;batch=2}}";
        let out = fmt(src);
        assert_eq!(
            out,
            "space s {\n    param x = choice(1, 2);\n    let y = x;\n    graph { a(); -1 }\n    train { steps = 1; batch = 2 }\n}\n"
        );
    }

    #[test]
    fn broken_files_are_refused() {
        let err = format_source("space s { param x = }").unwrap_err();
        assert_eq!(err.diagnostic.code, crate::diag::Code::Syntax);
        assert!(err.span.start >= 20, "{err}");
    }

    #[test]
    fn empty_and_comment_only_files() {
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("\n\n  \n"), "");
        assert_eq!(fmt("// only\n\n\n/* c */  "), "// only\n\n/* c */\n");
    }

    /// Every example, standard-library and UI program, its tokens joined again with each
    /// of several layouts (all on one line, every token on its own line, ...): the printer
    /// never needs the safety net and is idempotent.
    #[test]
    fn scrambled_layouts_never_need_the_safety_net() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let layouts: &[&[&str]] = &[
            &[" "],
            &["\n"],
            &["  ", "\n\n\n", "\t"],
            &[" /* c */ ", "\n", " "],
            &["\n", " // c\n", "  "],
        ];
        let mut checked = 0;
        for dir in ["examples", "stdlib", "tests/ui"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "nas") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                if shape(&text).is_err() {
                    continue;
                }
                for seps in layouts {
                    let mut scrambled = String::new();
                    for (k, t) in lex::lex(&text).iter().enumerate() {
                        scrambled.push_str(t.text);
                        let sep = seps[k % seps.len()];
                        let line = t.kind == lex::Kind::LineComment;
                        scrambled.push_str(if line && !sep.contains('\n') {
                            "\n"
                        } else {
                            sep
                        });
                    }
                    let (out, fell_back) = format_inner(&scrambled).unwrap();
                    assert!(!fell_back, "{}: {seps:?}\n{out}", path.display());
                    let (again, _) = format_inner(&out).unwrap();
                    assert_eq!(again, out, "{}: {seps:?}", path.display());
                    checked += 1;
                }
            }
        }
        assert!(checked > 100);
    }

    #[test]
    fn spans_are_stripped() {
        let a = shape("space s { param x = 1 }").unwrap();
        let b = shape("space   s {\n param x =\n 1 }").unwrap();
        assert_eq!(a, b);
        assert!(!a.contains("Span"));
    }
}
