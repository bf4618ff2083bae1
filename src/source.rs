//! The source files of one check: the root file, the files it imports, and the standard
//! library, each with an id that spans and diagnostics refer to.

use std::path::PathBuf;

use crate::diag::FileId;

/// The byte-order mark some editors put at the start of a UTF-8 file: no part of a
/// program (the loader drops it), kept in front by the formatter.
pub const BOM: char = '\u{feff}';

/// One source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The name shown in diagnostics (`examples/tiny_lm.nas`, `std/transformer.nas`).
    pub name: String,
    /// The text.
    pub text: String,
    /// The directory relative imports resolve against; `None` for the standard library.
    pub dir: Option<PathBuf>,
    /// The canonical path on disk, for cycle detection; `None` for the standard library.
    pub path: Option<PathBuf>,
}

/// All the files of one check.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    /// Adds a file and returns its id.
    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId(self.files.len() as u32 - 1)
    }

    /// The file with id `id`.
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0 as usize]
    }

    /// All files with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    /// The text of `span` on one line, runs of whitespace collapsed to one space.
    pub fn snippet(&self, span: crate::diag::Span) -> String {
        let text = &self.get(span.file).text;
        text.get(span.start..span.end)
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// 1-based line and column (in characters) of byte `offset` in file `id`.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        let text = &self.get(id).text;
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// `i` moved back to a character boundary of `text` (`text.len()` at most).
pub(crate) fn floor_char_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
