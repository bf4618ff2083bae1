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

use rustc_hash::FxHashMap;

/// An interned name.
#[derive(Clone, Copy)]
pub struct Name(&'static Interned);

/// What the table stores once per distinct string.
struct Interned {
    text: &'static str,
    /// The string as the architecture hash writes it: its length (8 bytes, little
    /// endian), then its bytes.
    encoded: &'static [u8],
    /// `encoded` padded with zeros to a fixed size, when it fits: written with one
    /// fixed-size copy.
    padded: Option<[u8; PADDED]>,
}

/// The size of [`Interned::padded`].
const PADDED: usize = 32;

fn table() -> &'static Mutex<FxHashMap<&'static str, &'static Interned>> {
    static TABLE: OnceLock<Mutex<FxHashMap<&'static str, &'static Interned>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Name {
    /// The name for `s`, stored the first time it is asked for.
    pub fn new(s: &str) -> Name {
        // A poisoned lock still holds a valid table: the insert below cannot leave it
        // half-made.
        let mut t = table().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&n) = t.get(s) {
            return Name(n);
        }
        let text: &'static str = Box::leak(s.to_owned().into_boxed_str());
        let mut encoded = Vec::with_capacity(8 + s.len());
        encoded.extend_from_slice(&(s.len() as u64).to_le_bytes());
        encoded.extend_from_slice(s.as_bytes());
        let padded = (encoded.len() <= PADDED).then(|| {
            let mut p = [0u8; PADDED];
            p[..encoded.len()].copy_from_slice(&encoded);
            p
        });
        let n: &'static Interned = Box::leak(Box::new(Interned {
            text,
            encoded: Box::leak(encoded.into_boxed_slice()),
            padded,
        }));
        t.insert(text, n);
        Name(n)
    }

    /// A number that identifies the name for the life of the process: the address of
    /// its entry (even: entries are aligned).
    #[inline]
    pub fn id(&self) -> usize {
        self.0 as *const Interned as usize
    }

    /// The string.
    pub fn as_str(&self) -> &'static str {
        self.0.text
    }

    /// The string's length (8 bytes, little endian) followed by its bytes: how the
    /// architecture hash writes a string, prepared once per name.
    pub fn encoded(&self) -> &'static [u8] {
        self.0.encoded
    }

    /// Appends [`Name::encoded`] to `b`: for a short name, a copy of fixed size (no call
    /// to `memcpy`) that is then cut to length.
    #[inline]
    pub fn write_encoded(&self, b: &mut Vec<u8>) {
        match &self.0.padded {
            Some(p) => {
                let end = b.len() + self.0.encoded.len();
                b.extend_from_slice(p);
                b.truncate(end);
            }
            None => b.extend_from_slice(self.0.encoded),
        }
    }
}

/// Two names are equal when they are the same entry of the table: each string has one.
impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Name {}

/// Hashed as its string, as [`Borrow<str>`] requires.
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.text.hash(state);
    }
}

impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Ordered by the strings.
impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.0.text.cmp(other.0.text)
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.text
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0.text
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0.text
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
        self.0.text == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0.text == *other
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.text)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.text, f)
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.text)
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
        assert_eq!(a.encoded(), b"\x09\0\0\0\0\0\0\0attention");
        let long = Name::new(&"x".repeat(40));
        let mut written = b"head".to_vec();
        a.write_encoded(&mut written);
        long.write_encoded(&mut written);
        assert_eq!(
            written,
            [&b"head"[..], a.encoded(), long.encoded()].concat()
        );
        assert!(Name::new("a") < Name::new("b"));
        let from_threads: Vec<Name> = (0..4)
            .map(|_| std::thread::spawn(|| Name::new("shared across threads")))
            .map(|h| h.join().unwrap())
            .collect();
        assert!(from_threads
            .iter()
            .all(|n| std::ptr::eq(n.as_str(), from_threads[0].as_str())));
    }
}
