//! The formatter's lexer: source text to tokens, comments included.
//!
//! The grammar treats comments (and `;`) as whitespace, so the parser forgets them; the
//! formatter must not. This lexer knows just enough of `grammar/nas.pest` to cut text into
//! the same tokens pest sees (words, numbers, strings, operators), keeps comments as
//! tokens of their own and records how many line breaks stood before each token. It never
//! fails: a character it does not know becomes a one-character token, so any text can be
//! lexed (the formatter only prints text that parsed, and re-parses what it prints).

/// What a token is, as far as spacing and layout care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An identifier or keyword.
    Word,
    /// A number literal, suffix included (`5M`, `1e-3`).
    Number,
    /// A string literal, quotes included.
    Str,
    /// `// ...` up to the end of its line (`///` doc comments included).
    LineComment,
    /// `/* ... */`, possibly over several lines.
    BlockComment,
    /// An operator or bracket, possibly two characters long (`>>`, `|>`, `==`).
    Punct,
}

/// One token with its place in the input.
#[derive(Clone, Debug)]
pub(crate) struct Token<'t> {
    /// The kind of token.
    pub kind: Kind,
    /// The token's text, exactly as written (a line comment without its trailing spaces).
    pub text: &'t str,
    /// How many line breaks the whitespace before the token holds.
    pub newlines_before: usize,
    /// How many spaces (or tabs) stand right before the token on its line; meaningful only
    /// when `newlines_before` is 0.
    pub gap_before: usize,
    /// The token's column in the input, in characters, counted from the first
    /// non-blank character of its line: the formatter keeps alignment the author chose.
    pub rel_col: usize,
}

impl Token<'_> {
    /// Whether the token is a comment.
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, Kind::LineComment | Kind::BlockComment)
    }

    /// Whether the token is the punctuation or word `s`.
    pub fn is(&self, s: &str) -> bool {
        matches!(self.kind, Kind::Punct | Kind::Word) && self.text == s
    }
}

const TWO_CHAR_OPS: &[&str] = &[">>", "|>", "->", "==", "!=", "<=", ">="];

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Cuts `text` into tokens. Never fails and never panics.
pub(crate) fn lex(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let mut newlines = 0;
    let mut gap = 0;
    // Byte offset where the current line's content (after its indentation) starts.
    let mut content_start: Option<usize> = None;
    let mut line_start = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\n' => {
                newlines += 1;
                gap = 0;
                i += 1;
                line_start = i;
                content_start = None;
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                gap += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        let kind = if c == b'/' && bytes.get(i + 1) == Some(&b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            Kind::LineComment
        } else if c == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                i += 1;
            }
            i = (i + 2).min(bytes.len());
            Kind::BlockComment
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                if bytes[i] == b'\\' {
                    // `\` takes the next character whatever it is, a line break included.
                    i += 1;
                    if i >= bytes.len() {
                        break;
                    }
                }
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
            if i < bytes.len() && bytes[i] == b'"' {
                i += 1;
            }
            Kind::Str
        } else if c.is_ascii_digit() {
            i = number_end(bytes, i);
            Kind::Number
        } else if is_ident_start(c) {
            while i < bytes.len() && is_ident_char(bytes[i]) {
                i += 1;
            }
            Kind::Word
        } else {
            let two = text.get(i..i + 2).unwrap_or("");
            if TWO_CHAR_OPS.contains(&two) {
                i += 2;
            } else {
                // One character, which may be more than one byte outside ASCII.
                i += text[i..].chars().next().map_or(1, char::len_utf8);
            }
            Kind::Punct
        };
        let mut tok = &text[start..i];
        if kind == Kind::LineComment {
            tok = tok.trim_end();
        }
        let content = *content_start.get_or_insert(start);
        let rel_col = if content >= line_start {
            text[content..start].chars().count()
        } else {
            0
        };
        tokens.push(Token {
            kind,
            text: tok,
            newlines_before: newlines,
            gap_before: gap,
            rel_col,
        });
        if matches!(kind, Kind::BlockComment | Kind::Str) {
            // A comment (or an escaped line break) over several lines: what follows it is
            // on its last line.
            if let Some(nl) = tok.rfind('\n') {
                line_start = start + nl + 1;
                let lead = text[line_start..]
                    .bytes()
                    .take_while(|b| *b == b' ' || *b == b'\t')
                    .count();
                content_start = Some(line_start + lead);
            }
        }
        newlines = 0;
        gap = 0;
    }
    tokens
}

/// The end of the number literal starting at `i`, as `grammar/nas.pest` reads it.
fn number_end(bytes: &[u8], mut i: usize) -> usize {
    let digit = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_digit);
    while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'_') {
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') && digit(i + 1) {
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        if digit(i + 1 + sign) {
            i += 1 + sign;
            while digit(i) {
                i += 1;
            }
        }
    }
    if matches!(bytes.get(i), Some(b'K' | b'M' | b'G'))
        && !bytes.get(i + 1).is_some_and(|b| is_ident_char(*b))
    {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        lex(src).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn numbers_follow_the_grammar() {
        assert_eq!(
            texts("1e-3 5M 2Gx 1.5 1. 1_000"),
            ["1e-3", "5M", "2", "Gx", "1.5", "1", ".", "1_000"]
        );
    }

    #[test]
    fn comments_and_strings_are_single_tokens() {
        let toks = lex("a // x \"y\"  \n/* b\n c */ \"// no\" >>|>");
        let kinds: Vec<_> = toks.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Word,
                Kind::LineComment,
                Kind::BlockComment,
                Kind::Str,
                Kind::Punct,
                Kind::Punct
            ]
        );
        assert_eq!(toks[1].text, "// x \"y\"");
        assert_eq!(toks[2].newlines_before, 1);
    }

    #[test]
    fn columns_are_relative_to_the_line_content() {
        let toks = lex("    param x   = 1");
        assert_eq!(toks[2].rel_col, 10);
        assert_eq!(toks[2].gap_before, 3);
    }

    #[test]
    fn odd_input_does_not_panic() {
        for src in ["\"", "/*", "é∞\u{0}", "\"\\", "1e", "1e+", "\"a\\\n"] {
            let _ = lex(src);
        }
    }
}
