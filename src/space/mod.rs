//! The space stage: what a checked space means.
//!
//! It evaluates a space under assignments of its hyperparameters: today to count its
//! architectures exactly and to decide whether its constraints can be met; the interpreter
//! (sampling, architecture IR) builds on the same evaluator.

pub mod count;
pub mod eval;
pub mod shape;
pub mod summary;
pub mod table;
pub mod weight;
