//! nasc: a compiler and interpreter for `.nas` neural architecture search spaces.
//!
//! The stages, in the order data flows: [`syntax`] (text to AST), [`check`] (names, types,
//! domains), [`space`] (the meaning of a space: counting, constraints, shapes), and the
//! [`cli`] that drives them. See `ARCHITECTURE.md`.

pub mod check;
pub mod cli;
pub mod diag;
pub mod interp;
pub mod render;
pub mod source;
pub mod space;
pub mod stdlib;
pub mod syntax;

pub use cli::check::{check_source, render_summary, CheckOutput};
