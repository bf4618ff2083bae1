//! Names shared between a space and the architectures built from it: module and
//! argument names, enum symbols, training fields.
//!
//! A [`Name`] is interned: each distinct string is stored once for the life of the
//! process, and a name is a reference to it. Copying one is copying a pointer, with no
//! reference count to touch (an architecture holds a few hundred names, and a sampler
//! builds hundreds of thousands of architectures a second), and names cross threads
//! freely. The strings are never freed: they are the identifiers of the programs a
//! process has read, a few bytes each.

use std::borrow::Borrow;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use rustc_hash::FxHashSet;

/// An interned name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(&'static str);

fn table() -> &'static Mutex<FxHashSet<&'static str>> {
    static TABLE: OnceLock<Mutex<FxHashSet<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Name {
    /// The name for `s`, stored the first time it is asked for.
    pub fn new(s: &str) -> Name {
        // A poisoned lock still holds a valid set: the insert below cannot leave it
        // half-made.
        let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&n) = t.get(s) {
            return Name(n);
        }
        let n: &'static str = Box::leak(s.to_owned().into_boxed_str());
        t.insert(n);
        Name(n)
    }

    /// The string.
    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name::new(s)
    }
}

impl From<&String> for Name {
    fn from(s: &String) -> Name {
        Name::new(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name::new(&s)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Name;

    #[test]
    fn equal_strings_share_one_name() {
        let a = Name::new("attention");
        let b: Name = String::from("attention").into();
        assert_eq!(a, b);
        assert!(std::ptr::eq(a.as_str(), b.as_str()), "stored once");
        assert_ne!(a, Name::new("ffn"));
        assert_eq!(a, "attention");
        assert_eq!(format!("{a} {a:?}"), "attention \"attention\"");
        let from_threads: Vec<Name> = (0..4)
            .map(|_| std::thread::spawn(|| Name::new("shared across threads")))
            .map(|h| h.join().unwrap())
            .collect();
        assert!(from_threads
            .iter()
            .all(|n| std::ptr::eq(n.as_str(), from_threads[0].as_str())));
    }
}
