//! nasc: a compiler and interpreter for `.nas` neural architecture search spaces.
//!
//! The stages, in the order data flows: [`syntax`] (text to AST), [`check`] (names, types,
//! domains), [`space`] (the meaning of a space: counting, constraints, shapes),
//! [`interp`] (assignments to concrete architectures), [`model`] (architectures to burn
//! modules), [`train`] (data, training, measurement), [`search`] and [`store`] (pipelines
//! and their results), [`report`] (a stored run as an HTML page), and the [`cli`] that
//! drives them. See `ARCHITECTURE.md`.

// First, so that its printing macros are the ones every module below uses.
#[macro_use]
mod print;

pub mod alloc;
pub mod check;
pub mod cli;
pub mod diag;
pub mod fmt;
pub mod interp;
pub mod lsp;
pub mod model;
pub mod render;
pub mod report;
pub mod search;
pub mod source;
pub mod space;
pub mod stdlib;
pub mod store;
pub mod syntax;
pub mod train;

pub use cli::check::{check_source, render_summary, CheckOutput};
