//! The standard library, written in `.nas` and embedded in the binary.
//!
//! `prelude` is imported into every file; the others are imported as `std.NAME`.

/// The prelude's module name.
pub const PRELUDE: &str = "prelude";

const FILES: &[(&str, &str)] = &[
    ("prelude", include_str!("../stdlib/prelude.nas")),
    ("transformer", include_str!("../stdlib/transformer.nas")),
    ("vision", include_str!("../stdlib/vision.nas")),
];

/// The text of standard-library module `name` (`transformer` for `std.transformer`).
pub fn get(name: &str) -> Option<&'static str> {
    FILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The names of all standard-library modules.
pub fn names() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(n, _)| *n)
}
