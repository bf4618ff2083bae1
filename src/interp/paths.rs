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
    /// Per path: its first few children, as `(step, child)`. The step is a segment's
    /// [`Name::id`] for `parent.segment`, or `index << 1 | 1` for `parent[index]` (a
    /// name's address is even, so the two never meet). A path has a handful of children
    /// (the calls of a block, the copies of a `repeat`), found by a short scan.
    near: Vec<smallvec::SmallVec<[(usize, PathId); NEAR]>>,
    /// `(parent, step) -> child` for the children past the first few.
    children: FxHashMap<(PathId, usize), PathId>,
    /// The children found last, by a hash of `(parent, step)`: most lookups end here
    /// with one comparison.
    recent: Vec<(PathId, usize, PathId)>,
}

/// How many entries [`Paths::recent`] has (a power of two).
const RECENT: usize = 1024;

/// How many children of a path are kept in [`Paths::near`].
const NEAR: usize = 6;

impl Default for Paths {
    fn default() -> Paths {
        let mut p = Paths {
            text: Vec::new(),
            ids: FxHashMap::default(),
            near: Vec::new(),
            children: FxHashMap::default(),
            recent: vec![(PathId::MAX, 0, ROOT); RECENT],
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
        self.near.push(smallvec::SmallVec::new());
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

    #[inline(always)]
    fn child(
        &mut self,
        parent: PathId,
        step: usize,
        write: impl FnOnce(&str, &mut String),
    ) -> PathId {
        let slot = (step ^ (parent as usize).wrapping_mul(0x9e37_79b9)).wrapping_mul(0x9e37_79b9)
            >> 7
            & (RECENT - 1);
        let (p, s, child) = self.recent[slot];
        if p == parent && s == step {
            return child;
        }
        let id = self.find_child(parent, step, write);
        self.recent[slot] = (parent, step, id);
        id
    }

    /// [`Paths::child`] past the recent ones (kept out of line, so that the lookup of a
    /// recent child is inlined where paths are made).
    #[inline(never)]
    fn find_child(
        &mut self,
        parent: PathId,
        step: usize,
        write: impl FnOnce(&str, &mut String),
    ) -> PathId {
        let near = &self.near[parent as usize];
        if let Some(&(_, id)) = near.iter().find(|(s, _)| *s == step) {
            return id;
        }
        if near.len() == NEAR {
            if let Some(&id) = self.children.get(&(parent, step)) {
                return id;
            }
        }
        let mut s = String::new();
        write(self.text(parent), &mut s);
        let id = self.intern(&s);
        let near = &mut self.near[parent as usize];
        if near.len() < NEAR {
            near.push((step, id));
        } else {
            self.children.insert((parent, step), id);
        }
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_children_than_the_recent_table_holds_are_found_again() {
        let mut p = Paths::default();
        let names: Vec<Name> = (0..8).map(|k| Name::new(&format!("m{k}"))).collect();
        let mut made = Vec::new();
        for i in 0..400 {
            let copy = p.index(ROOT, i);
            for n in &names {
                made.push((copy, *n, p.dot(copy, *n)));
            }
        }
        assert!(made.len() > 3 * RECENT);
        // Asked again, in another order, every child is the same number and string.
        for (parent, n, id) in made.iter().rev() {
            assert_eq!(p.dot(*parent, *n), *id);
            let i = (*parent as usize - 1) / (names.len() + 1);
            assert_eq!(&**p.text(*id), format!("[{i}].{}", &**n));
        }
    }

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
        // Past the first few children of a path, the rest are found as well.
        let many: Vec<PathId> = (0..40).map(|i| p.index(layers, i)).collect();
        for (i, id) in many.iter().enumerate() {
            assert_eq!(&**p.text(*id), format!("layers[{i}]"));
            assert_eq!(p.index(layers, i as i64), *id);
        }
    }
}
