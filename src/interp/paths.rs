//! The paths of one space's builds, each stored once.
//!
//! A build names every hyperparameter and node by its path in the space
//! (`layers[1].pre_norm.attention.kind`). The same paths come back in candidate after
//! candidate, so an [`super::Interp`] keeps each distinct one once, as a [`Path`] that the
//! candidates share, and gives it a number. The compiled program passes the numbers down
//! the space and goes from a path to its child (`parent.seg`, `parent[i]`) with one lookup
//! of two integers: no string is built or hashed once the child has been seen. The table
//! holds the paths of the space's structure (calls, repeat indices, alternatives), never a
//! value, so it grows with the space, not with the number of candidates.

use rustc_hash::FxHashMap;

use super::{Name, Path};

/// The number of a path in its [`Paths`].
pub(crate) type PathId = u32;

/// The empty path, where a space's graph starts.
pub(crate) const ROOT: PathId = 0;

/// The paths of one space, each once.
pub(crate) struct Paths {
    text: Vec<Path>,
    ids: FxHashMap<Path, PathId>,
    /// `(parent, step) -> child`: the step is a segment's [`Name::id`] for
    /// `parent.segment`, or `index << 1 | 1` for `parent[index]` (a name's address is
    /// even, so the two never meet).
    children: FxHashMap<(PathId, usize), PathId>,
}

impl Default for Paths {
    fn default() -> Paths {
        let mut p = Paths {
            text: Vec::new(),
            ids: FxHashMap::default(),
            children: FxHashMap::default(),
        };
        p.intern("");
        p
    }
}

impl Paths {
    /// The number of `s`, stored the first time.
    pub(crate) fn intern(&mut self, s: &str) -> PathId {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.text.len() as PathId;
        let p: Path = s.into();
        self.text.push(p.clone());
        self.ids.insert(p, id);
        id
    }

    /// The path numbered `id`.
    #[inline]
    pub(crate) fn text(&self, id: PathId) -> &Path {
        &self.text[id as usize]
    }

    /// `parent.seg` (`seg` alone under the empty path), as `build::join` writes it.
    #[inline]
    pub(crate) fn dot(&mut self, parent: PathId, seg: Name) -> PathId {
        debug_assert!(seg.id() & 1 == 0);
        self.child(parent, seg.id(), |p, s| {
            s.push_str(p);
            if !p.is_empty() {
                s.push('.');
            }
            s.push_str(&seg);
        })
    }

    /// `parent[index]`.
    #[inline]
    pub(crate) fn index(&mut self, parent: PathId, index: i64) -> PathId {
        let write = |p: &str, s: &mut String| {
            use std::fmt::Write;
            let _ = write!(s, "{p}[{index}]");
        };
        match usize::try_from(index) {
            Ok(i) if i < usize::MAX >> 1 => self.child(parent, i << 1 | 1, write),
            // Never in a build (the step limit stops far earlier); kept correct anyway.
            _ => {
                let mut s = String::new();
                write(self.text(parent), &mut s);
                self.intern(&s)
            }
        }
    }

    fn child(
        &mut self,
        parent: PathId,
        step: usize,
        write: impl FnOnce(&str, &mut String),
    ) -> PathId {
        if let Some(&id) = self.children.get(&(parent, step)) {
            return id;
        }
        let mut s = String::new();
        write(self.text(parent), &mut s);
        let id = self.intern(&s);
        self.children.insert((parent, step), id);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_the_joined_strings_stored_once() {
        let mut p = Paths::default();
        let layers = p.dot(ROOT, Name::new("layers"));
        assert_eq!(&**p.text(layers), "layers");
        let first = p.index(layers, 0);
        let kind = p.dot(first, Name::new("kind"));
        assert_eq!(&**p.text(kind), "layers[0].kind");
        // The same steps give the same number and the very same string, and so does
        // the text itself.
        let again = p.index(layers, 0);
        assert_eq!(p.dot(again, Name::new("kind")), kind);
        assert_eq!(p.intern("layers[0].kind"), kind);
        let twice = p.text(kind).clone();
        let id = p.intern("layers[0].kind");
        assert!(std::rc::Rc::ptr_eq(&twice, p.text(id)));
        assert_ne!(p.index(layers, 1), first);
        let negative = p.index(layers, -1);
        assert_eq!(&**p.text(negative), "layers[-1]");
    }
}
