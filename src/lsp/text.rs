//! Positions and addresses as the protocol speaks them.
//!
//! nasc's spans are byte offsets into UTF-8 text; LSP positions are a line and a column
//! counted in UTF-16 code units (the protocol's default, and the only encoding every
//! client supports). Documents are named by URIs; only `file:` URIs have a place on disk
//! that relative imports can resolve against.

use std::path::{Path, PathBuf};

use lsp_types::{Position, Range, Uri};

/// The byte offset where each line of a text starts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// The index of `text`. A line ends at `\n`, `\r\n` or a lone `\r`, as the protocol
    /// counts lines.
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        LineIndex { starts }
    }

    /// The position of byte `offset` of `text` (clamped to the text, and back to the start
    /// of a character it falls inside).
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let character: usize = text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    /// The byte offset of `pos` in `text`: a line past the end gives the end of the text,
    /// a column past the end of its line gives the end of the line.
    pub fn offset(&self, text: &str, pos: Position) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return text.len();
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map_or(text.len(), |&next| next - 1);
        let mut units = 0usize;
        for (i, c) in text[start..end].char_indices() {
            if units >= pos.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        end
    }

    /// The range of bytes `start..end` of `text`.
    pub fn range(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(self.position(text, start), self.position(text, end))
    }
}

/// The file a `file:` URI names, percent-decoded; `None` for any other scheme.
pub fn path_of(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    // `file:///x` has an empty authority; `file://localhost/x` names this machine too.
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(PathBuf::from)
}

/// The `file:` URI of an absolute path, with everything but unreserved characters and
/// `/` percent-encoded.
pub fn uri_of(path: &Path) -> Option<Uri> {
    let text = path.to_str()?;
    let mut uri = String::from("file://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units_and_round_trip() {
        let text = "ab\n\u{e9}x\u{1F600}y\n\nlast";
        let idx = LineIndex::new(text);
        // `é` is one UTF-16 unit (two bytes), the emoji two units (four bytes).
        let y = text.find('y').unwrap();
        assert_eq!(idx.position(text, y), Position::new(1, 4));
        assert_eq!(idx.offset(text, Position::new(1, 4)), y);
        for offset in (0..=text.len()).filter(|o| text.is_char_boundary(*o)) {
            assert_eq!(
                idx.offset(text, idx.position(text, offset)),
                offset,
                "offset {offset}"
            );
        }
        // Inside the emoji: back to its start.
        let emoji = text.find('\u{1F600}').unwrap();
        assert_eq!(idx.position(text, emoji + 2), idx.position(text, emoji));
        // Past the end of a line and of the text.
        assert_eq!(idx.offset(text, Position::new(0, 99)), 2);
        assert_eq!(idx.offset(text, Position::new(99, 0)), text.len());
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_and_a_crlf_one() {
        let text = "a\rbc\r\nd\ne";
        let idx = LineIndex::new(text);
        for (c, line, col) in [('b', 1, 0), ('c', 1, 1), ('d', 2, 0), ('e', 3, 0)] {
            let at = text.find(c).unwrap();
            assert_eq!(idx.position(text, at), Position::new(line, col), "{c}");
            assert_eq!(idx.offset(text, Position::new(line, col)), at, "{c}");
        }
    }

    #[test]
    fn file_uris_round_trip_with_percent_encoding() {
        let path = Path::new("/tmp/my spaces/größe#1.nas");
        let uri = uri_of(path).expect("a URI");
        assert_eq!(
            uri.as_str(),
            "file:///tmp/my%20spaces/gr%C3%B6%C3%9Fe%231.nas"
        );
        assert_eq!(path_of(&uri).as_deref(), Some(path));
        let other: Uri = "untitled:Untitled-1".parse().unwrap();
        assert_eq!(path_of(&other), None);
    }
}
