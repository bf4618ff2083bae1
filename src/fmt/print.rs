//! The formatter's printer: tokens to lines, lines to text.
//!
//! Three passes over the tokens of [`super::lex`]. Layout cuts them into lines where the
//! author broke lines, adds the breaks the house style requires (every item and every
//! space member on a line of its own, a space's braces on lines of their own) and decides
//! blank lines. Indentation gives each line four spaces per bracket opened on an earlier
//! line, plus one level for a line that continues an expression (`>> ...`). Spacing puts
//! one space or none between tokens on a line, and pads the tokens that line up: the `:` or
//! `=` after the names of consecutive `param` (or `let`) lines, the `|>` of consecutive
//! pipeline stages, and any `=` or comment the author aligned with padding.
//!
//! Every choice depends only on the tokens, the line breaks and (for kept padding) the
//! columns of the input, and the output reproduces each of those, which is why printing
//! the output again changes nothing.

use super::lex::{Kind, Token};

use crate::syntax::KEYWORDS;

/// Keywords that stand for a value; every other keyword expects an operand after it.
const VALUE_KEYWORDS: &[&str] = &["true", "false", "data"];

/// Keywords written like a function name, with no space before their `(`.
const CALL_LIKE: &[&str] = &["residual", "optional"];

/// A line ending in one of these continues on the next one.
const TRAILING_OPS: &[&str] = &[
    ">>", "|>", "->", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", ":", ".",
    "and", "or", "not", "if", "else", "repeat", "optional", "residual", "keep", "require", "param",
    "let", "import", "fn", "builtin", "enum", "space", "minimize", "maximize", "as",
];

/// A line starting with one of these continues the line before.
const LEADING_OPS: &[&str] = &[
    ">>", "|>", "->", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", ":", ".",
    "and", "or", "as",
];

/// Keywords that start an item at the top level, and those that start a member in a
/// space body, whatever follows them.
const ALWAYS_STARTS: &[&str] = &["import", "space", "fn", "builtin", "enum"];
const MEMBER_STARTS: &[&str] = &["param", "let", "require", "graph"];

fn is_opener(t: &Token<'_>) -> bool {
    t.kind == Kind::Punct && matches!(t.text, "(" | "{" | "[")
}

fn is_closer(t: &Token<'_>) -> bool {
    t.kind == Kind::Punct && matches!(t.text, ")" | "}" | "]")
}

fn is_keyword(t: &Token<'_>) -> bool {
    t.kind == Kind::Word && KEYWORDS.contains(&t.text)
}

/// One output line: the indices of its tokens and its layout.
struct Line {
    /// Indices into the token list.
    toks: Vec<usize>,
    /// Whether one blank line stands before it.
    blank_before: bool,
    /// Indentation in levels of four spaces.
    indent: usize,
}

/// What the printer knows about each token beyond its text.
struct Facts {
    /// Open brackets before the token.
    depth: Vec<usize>,
    /// The previous token that is not a comment.
    prev_code: Vec<Option<usize>>,
    /// The next token that is not a comment.
    next_code: Vec<Option<usize>>,
    /// Whether the token is the `{` or `}` of a space body.
    space_brace: Vec<bool>,
    /// Whether the token starts an item or a space member, so it starts a line.
    starts_line: Vec<bool>,
}

fn facts(toks: &[Token<'_>]) -> Facts {
    let n = toks.len();
    let mut prev_code = vec![None; n];
    let mut next_code = vec![None; n];
    let mut last = None;
    for (i, t) in toks.iter().enumerate() {
        prev_code[i] = last;
        if !t.is_comment() {
            last = Some(i);
        }
    }
    last = None;
    for (i, t) in toks.iter().enumerate().rev() {
        next_code[i] = last;
        if !t.is_comment() {
            last = Some(i);
        }
    }
    let mut depth = vec![0; n];
    let mut space_brace = vec![false; n];
    let mut starts_line = vec![false; n];
    // Open brackets: the index of each opener.
    let mut stack: Vec<usize> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        depth[i] = stack.len();
        if t.is_comment() {
            continue;
        }
        let at_items = stack.is_empty();
        let at_members = stack.last().is_some_and(|&o| space_brace[o]);
        if (at_items || at_members) && t.kind == Kind::Word {
            let next = next_code[i].map(|j| toks[j].text);
            // `enum` is also a type (`param act : enum = ...`, `-> enum`).
            let is_type = prev_code[i].is_some_and(|j| toks[j].is(":") || toks[j].is("->"));
            starts_line[i] = (at_items && !is_type && ALWAYS_STARTS.contains(&t.text))
                || (at_members && MEMBER_STARTS.contains(&t.text))
                || match t.text {
                    "data" => next == Some("="),
                    "train" => matches!(next, Some("=" | "{")),
                    "objective" | "pipeline" => next == Some("{"),
                    _ => false,
                };
        }
        if is_opener(t) {
            let p1 = prev_code[i];
            let p2 = p1.and_then(|j| prev_code[j]);
            space_brace[i] = t.text == "{"
                && p1.is_some_and(|j| toks[j].kind == Kind::Word)
                && p2.is_some_and(|j| toks[j].is("space"));
            stack.push(i);
        } else if is_closer(t) {
            if let Some(o) = stack.pop() {
                space_brace[i] = space_brace[o];
            }
        }
    }
    Facts {
        depth,
        prev_code,
        next_code,
        space_brace,
        starts_line,
    }
}

/// Cuts the tokens into lines and decides blank lines.
fn layout(toks: &[Token<'_>], f: &Facts) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut break_next = false;
    for (i, t) in toks.iter().enumerate() {
        let cur_only_block_comments = lines
            .last()
            .is_some_and(|l| l.toks.iter().all(|&j| toks[j].kind == Kind::BlockComment));
        let forced = break_next && !(t.is_comment() && t.newlines_before == 0)
            || (f.starts_line[i] && !cur_only_block_comments)
            || (f.space_brace[i] && is_closer(t));
        if t.is_comment() && t.newlines_before == 0 && break_next {
            // A comment on the `{` line stays there; the break comes after it.
        } else {
            break_next = false;
        }
        if f.space_brace[i] && is_opener(t) {
            break_next = true;
        }
        let new_line = lines.is_empty() || t.newlines_before > 0 || forced;
        if new_line {
            let prev = i.checked_sub(1).map(|j| &toks[j]);
            let blank_before =
                t.newlines_before >= 2 && prev.is_some_and(|p| !is_opener(p)) && !is_closer(t);
            lines.push(Line {
                toks: vec![i],
                blank_before,
                indent: 0,
            });
        } else if let Some(l) = lines.last_mut() {
            l.toks.push(i);
        }
    }
    lines
}

/// Gives each line its indentation.
fn indent(toks: &[Token<'_>], f: &Facts, lines: &mut [Line]) {
    // The indentation of the line each open bracket was opened on.
    let mut stack: Vec<usize> = Vec::new();
    for line in lines.iter_mut() {
        let first = line.toks[0];
        let t = &toks[first];
        let level = if is_closer(t) {
            stack.last().copied().unwrap_or(0)
        } else {
            let base = stack.last().map_or(0, |l| l + 1);
            let first_code = if t.is_comment() {
                f.next_code[first]
            } else {
                Some(first)
            };
            let prev = f.prev_code[first].map(|j| &toks[j]);
            let after_break = prev.is_none_or(|p| is_opener(p) || p.is(",") || p.is(";"));
            let leading = first_code.is_some_and(|j| {
                let c = &toks[j];
                (matches!(c.kind, Kind::Punct | Kind::Word) && LEADING_OPS.contains(&c.text))
                    || (c.is("else") && !prev.is_some_and(|p| p.is("}")))
            });
            let trailing = prev.is_some_and(|p| {
                matches!(p.kind, Kind::Punct | Kind::Word) && TRAILING_OPS.contains(&p.text)
            });
            let starts = first_code.is_some_and(|j| f.starts_line[j]);
            base + usize::from(!after_break && !starts && (leading || trailing))
        };
        line.indent = level;
        for &i in &line.toks {
            if is_opener(&toks[i]) {
                stack.push(level);
            } else if is_closer(&toks[i]) {
                stack.pop();
            }
        }
    }
}

/// The number of spaces the house style puts between `toks[i - 1]` and `toks[i]` on a
/// line: one, or none around `.`, inside `()`, before `,` and so on.
fn gap(toks: &[Token<'_>], f: &Facts, i: usize) -> usize {
    let (p, c) = (&toks[i - 1], &toks[i]);
    if c.is(",") || c.is(";") || c.is(")") || c.is("]") || p.is("(") || p.is("[") {
        return 0;
    }
    if p.is(".") || c.is(".") {
        return 0;
    }
    if p.is("{") && c.is("}") {
        return 0;
    }
    if c.is("(") {
        let tight = match p.kind {
            Kind::Word => !is_keyword(p) || CALL_LIKE.contains(&p.text),
            Kind::Punct => p.is(")"),
            _ => false,
        };
        return usize::from(!tight);
    }
    if c.is(":") {
        // `param x : int` but `fn f(x: int)`.
        let decl = f.prev_code[i - 1].is_some_and(|j| toks[j].is("param") || toks[j].is("let"));
        return usize::from(decl);
    }
    if c.is("%") && p.kind == Kind::Number {
        // `keep 25% by val_loss`
        let keep = f.prev_code[i - 1].is_some_and(|j| toks[j].is("keep"));
        if keep {
            return 0;
        }
    }
    if p.is("-") && is_unary(toks, f, i - 1) {
        return 0;
    }
    1
}

/// Whether the `-` at `i` is a sign rather than a subtraction.
fn is_unary(toks: &[Token<'_>], f: &Facts, i: usize) -> bool {
    match f.prev_code[i].map(|j| &toks[j]) {
        None => true,
        Some(p) => match p.kind {
            Kind::Punct => !is_closer(p),
            Kind::Word => is_keyword(p) && !VALUE_KEYWORDS.contains(&p.text),
            _ => false,
        },
    }
}

/// Which token of a line lines up with its neighbours: the `:` or `=` after a `param` or
/// `let` name (and the keyword, to group like with like), or a stage's `|>`.
fn align_key(toks: &[Token<'_>], f: &Facts, line: &Line) -> Option<(usize, &'static str)> {
    let first = &toks[line.toks[0]];
    if (first.is("param") || first.is("let")) && line.toks.len() > 2 {
        let (name, sep) = (&toks[line.toks[1]], &toks[line.toks[2]]);
        if name.kind == Kind::Word && (sep.is(":") || sep.is("=")) {
            return Some((2, if first.is("param") { "param" } else { "let" }));
        }
    }
    if first.is("|>") {
        return None;
    }
    let base = f.depth[line.toks[0]];
    line.toks
        .iter()
        .position(|&i| toks[i].is("|>") && f.depth[i] == base)
        .map(|k| (k, "|>"))
}

/// The printer's state for one file.
struct Printer<'a, 't> {
    toks: &'a [Token<'t>],
    facts: Facts,
}

impl Printer<'_, '_> {
    /// Renders a line's tokens (no indentation), with the token at each position `k` of
    /// `align` placed at its column when that fits (column 0: no padding at all); also
    /// returns where each token ends.
    fn render(&self, line: &Line, align: &[(usize, usize)]) -> (String, Vec<usize>) {
        let toks = self.toks;
        let base = self.facts.depth[line.toks[0]];
        let mut out = String::new();
        let mut col = 0;
        let mut ends = Vec::with_capacity(line.toks.len());
        for (k, &i) in line.toks.iter().enumerate() {
            let t = &toks[i];
            if k > 0 {
                let canonical = gap(toks, &self.facts, i);
                let keep = t.newlines_before == 0
                    && t.gap_before > 1
                    && (t.is_comment()
                        || ((t.is("=") || t.is("|>")) && self.facts.depth[i] <= base));
                let want = match align.iter().find(|(a, _)| *a == k) {
                    Some((_, c)) => Some(*c),
                    None if keep => Some(t.rel_col),
                    None => None,
                };
                let pad = match want {
                    Some(c) if c > col + canonical => c - col,
                    _ => canonical,
                };
                out.extend(std::iter::repeat_n(' ', pad));
                col += pad;
            }
            let text = if t.kind == Kind::BlockComment {
                trim_lines(t.text)
            } else {
                t.text.to_string()
            };
            match text.rfind('\n') {
                Some(nl) => {
                    let last = &text[nl + 1..];
                    let lead = last.chars().take_while(|c| *c == ' ' || *c == '\t').count();
                    col = last.chars().count() - lead;
                }
                None => col += text.chars().count(),
            }
            out.push_str(&text);
            ends.push(col);
        }
        (out, ends)
    }

    /// Where each line's aligned tokens go: `(position in the line, column)`.
    fn alignments(&self, lines: &[Line]) -> Vec<Vec<(usize, usize)>> {
        let keys: Vec<_> = lines
            .iter()
            .map(|l| align_key(self.toks, &self.facts, l))
            .collect();
        let mut out = vec![Vec::new(); lines.len()];
        let mut start = 0;
        while start < lines.len() {
            let Some((_, kind)) = keys[start] else {
                start += 1;
                continue;
            };
            let mut end = start + 1;
            while end < lines.len()
                && keys[end].is_some_and(|(_, k)| k == kind)
                && !lines[end].blank_before
                && lines[end].indent == lines[start].indent
            {
                end += 1;
            }
            let group: Vec<usize> = (start..end).collect();
            let firsts: Vec<usize> = group
                .iter()
                .filter_map(|&j| keys[j].map(|(k, _)| k))
                .collect();
            self.align_group(lines, &group, &firsts, &mut out, false);
            if kind != "|>" {
                // `param x : int = ...`: the `=` after the type lines up too, where the
                // author lined it up.
                let typed: Vec<usize> = group
                    .iter()
                    .copied()
                    .filter(|&j| type_eq(self.toks, &lines[j]).is_some())
                    .collect();
                let eqs: Vec<usize> = typed
                    .iter()
                    .filter_map(|&j| type_eq(self.toks, &lines[j]))
                    .collect();
                self.align_group(lines, &typed, &eqs, &mut out, true);
            }
            start = end;
        }
        out
    }

    /// Lines up the token at position `at[n]` of each line `group[n]`: at the column the
    /// author gave all of them if they agree (and it is far enough right), else just right
    /// of the longest prefix. With `only_if_agreed`, tokens the author did not line up get
    /// one space instead.
    fn align_group(
        &self,
        lines: &[Line],
        group: &[usize],
        at: &[usize],
        out: &mut [Vec<(usize, usize)>],
        only_if_agreed: bool,
    ) {
        if group.is_empty() {
            return;
        }
        let mut minimal = 0;
        let mut author = Vec::new();
        for (&j, &k) in group.iter().zip(at) {
            let (_, ends) = self.render(&lines[j], &out[j]);
            minimal = minimal.max(ends[k - 1] + 1);
            let t = &self.toks[lines[j].toks[k]];
            author.push((t.newlines_before == 0).then_some(t.rel_col));
        }
        let agreed = author
            .first()
            .copied()
            .flatten()
            .filter(|c| author.len() > 1 && author.iter().all(|a| *a == Some(*c)));
        let col = match agreed {
            Some(c) => c.max(minimal),
            None if only_if_agreed => 0,
            None => minimal,
        };
        for (&j, &k) in group.iter().zip(at) {
            out[j].push((k, col));
        }
    }
}

/// The position of the `=` in a `param x : type = ...` line.
fn type_eq(toks: &[Token<'_>], line: &Line) -> Option<usize> {
    let t = |k: usize| line.toks.get(k).map(|&i| &toks[i]);
    let typed = t(2).is_some_and(|c| c.is(":"))
        && t(3).is_some_and(|w| w.kind == Kind::Word)
        && t(4).is_some_and(|e| e.is("="));
    typed.then_some(4)
}

/// Removes trailing spaces from each line of a block comment.
fn trim_lines(text: &str) -> String {
    text.split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints tokens in the house style.
pub(crate) fn print(toks: &[Token<'_>]) -> String {
    if toks.is_empty() {
        return String::new();
    }
    let facts = facts(toks);
    let mut lines = layout(toks, &facts);
    indent(toks, &facts, &mut lines);
    let printer = Printer { toks, facts };
    let aligns = printer.alignments(&lines);
    let mut out = String::new();
    for (line, align) in lines.iter().zip(aligns) {
        if line.blank_before {
            out.push('\n');
        }
        let (text, _) = printer.render(line, &align);
        out.extend(std::iter::repeat_n(' ', 4 * line.indent));
        out.push_str(&text);
        out.push('\n');
    }
    out
}
