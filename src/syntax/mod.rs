//! The syntax stage: `.nas` text to an owned AST with spans.
//!
//! pest's `Pair` and `Rule` never leave this folder; everything downstream reads the AST.

pub mod ast;
mod parser;
mod split;

pub use parser::parse_file;
