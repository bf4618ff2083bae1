//! Cuts source text into items (and a space body into members) for error recovery.
//!
//! The scanner knows just enough of the lexical syntax (strings, comments, brackets) to
//! find the keywords that start an item at bracket depth zero. Each piece is then parsed on
//! its own, so a syntax error stays inside the item that holds it.

const ITEM_KEYWORDS: &[&str] = &[
    "import",
    "space",
    "fn",
    "builtin",
    "enum",
    "data",
    "train",
    "objective",
    "pipeline",
];
const MEMBER_KEYWORDS: &[&str] = &[
    "param",
    "let",
    "require",
    "graph",
    "data",
    "train",
    "objective",
    "pipeline",
];

/// Byte ranges of the items of `text`; stray text before the first item is its own range.
pub fn split_items(text: &str) -> Vec<(usize, usize)> {
    split(text, 0, text.len(), ITEM_KEYWORDS)
}

/// Byte ranges of the members of a space body `chunk[start..end]`.
pub fn split_members(chunk: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    split(chunk, start, end, MEMBER_KEYWORDS)
}

/// The bytes of `bytes[start..]` that are code, with their offsets: comments are left out,
/// and a string literal shows only as its opening `"`.
fn code_bytes(bytes: &[u8], start: usize) -> impl Iterator<Item = (usize, u8)> + '_ {
    let mut i = start;
    std::iter::from_fn(move || loop {
        let b = *bytes.get(i)?;
        let at = i;
        match b {
            b'"' => {
                i = skip_string(bytes, i);
                return Some((at, b));
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block(bytes, i),
            _ => {
                i += 1;
                return Some((at, b));
            }
        }
    })
}

/// The index of the bracket closing the one at `open`, if any. A closing bracket of
/// another kind closes the brackets left open inside it first (`{ f( }` closes the `{`),
/// so one unclosed parenthesis does not swallow the rest of the file.
pub fn matching_close(text: &str, open: usize) -> Option<usize> {
    let mut stack: Vec<u8> = Vec::new();
    for (i, c) in code_bytes(text.as_bytes(), open) {
        let opener = match c {
            b'{' | b'(' | b'[' => {
                stack.push(c);
                continue;
            }
            b'}' => b'{',
            b')' => b'(',
            b']' => b'[',
            _ => continue,
        };
        if let Some(pos) = stack.iter().rposition(|o| *o == opener) {
            stack.truncate(pos);
            if stack.is_empty() {
                return Some(i);
            }
        }
    }
    None
}

/// The offset of a block comment `/*` that no `*/` closes, if any.
pub fn unclosed_comment(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = skip_string(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let end = skip_block(bytes, i);
                if !bytes[..end].ends_with(b"*/") || end < i + 4 {
                    return Some(i);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    None
}

/// The offset of the first bracket nested more than `limit` deep, if any.
pub fn too_deep(text: &str, limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in code_bytes(text.as_bytes(), 0) {
        match c {
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth > limit {
                    return Some(i);
                }
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
        if bytes[i] == b'\\' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(bytes.len())
}

fn skip_line(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

fn skip_block(bytes: &[u8], mut i: usize) -> usize {
    i += 2;
    while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
        i += 1;
    }
    (i + 2).min(bytes.len())
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn split(text: &str, start: usize, end: usize, keywords: &[&str]) -> Vec<(usize, usize)> {
    let bytes = &text.as_bytes()[..end];
    let mut starts = Vec::new();
    let mut depth = 0i64;
    let mut saw_content = false;
    for (i, b) in code_bytes(bytes, start) {
        match b {
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth = (depth - 1).max(0),
            _ => {}
        }
        let word_start = is_ident(b) && (i == 0 || !is_ident(bytes[i - 1]));
        if depth == 0 && word_start {
            let word_end = (i..end).find(|&j| !is_ident(bytes[j])).unwrap_or(end);
            if keywords.contains(&&text[i..word_end]) {
                if starts.is_empty() && saw_content {
                    starts.push(start_of_content(text, start));
                }
                starts.push(i);
                continue;
            }
        }
        if starts.is_empty() && !b.is_ascii_whitespace() && b != b';' {
            saw_content = true;
        }
    }
    if starts.is_empty() && saw_content {
        starts.push(start_of_content(text, start));
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(end);
        ranges.push((s, e));
    }
    ranges
}

/// The first byte at or after `start` that is not whitespace or a comment.
fn start_of_content(text: &str, start: usize) -> usize {
    code_bytes(text.as_bytes(), start)
        .find(|(_, b)| !b.is_ascii_whitespace())
        .map_or(text.len(), |(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclosed_block_comment_is_found() {
        assert_eq!(unclosed_comment("space s { } /* open"), Some(12));
        assert_eq!(unclosed_comment("/*/"), Some(0));
        assert_eq!(unclosed_comment("/**/ x /* y */ \"/*\" // /*"), None);
    }

    #[test]
    fn splits_at_top_level_keywords_only() {
        let text = "import a.*\nspace s { param x = choice(1) data = d() }\nfn f() { }";
        let items = split_items(text);
        assert_eq!(items.len(), 3);
        assert!(text[items[1].0..items[1].1].starts_with("space s"));
        assert!(text[items[2].0..].starts_with("fn f"));
    }

    #[test]
    fn stray_text_is_its_own_item() {
        let text = "garbage here\nspace s { }";
        let items = split_items(text);
        assert_eq!(items.len(), 2);
        assert_eq!(&text[items[0].0..items[0].1], "garbage here\n");
    }

    #[test]
    fn keywords_in_strings_and_comments_do_not_split() {
        let text = "space s { } // fn x\n/* space */ data = d(\"fn\")";
        assert_eq!(split_items(text).len(), 2);
    }

    #[test]
    fn closing_bracket_is_found() {
        assert_eq!(matching_close("{ [ ] }", 0), Some(6));
        assert_eq!(matching_close("{ ( } ) }", 0), Some(4));
        assert_eq!(matching_close("{ \"}\" }", 0), Some(6));
    }
}
