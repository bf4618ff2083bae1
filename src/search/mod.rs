//! Search: the layered pipeline of a space, run against the results store.
//!
//! [`plan`] turns a checked space's `pipeline { ... }` into stages with constant
//! arguments and resolved filters; [`layer`] holds the strategies, each an ask/tell
//! [`layer::Layer`] that reaches the space only through the interpreter; [`filter`] narrows
//! a layer's population to its survivors; [`run`] drives the layers, claims and records
//! every trial in the [`crate::store`], and replays a run to resume it. Evaluation
//! (training) comes in through [`run::Evaluator`], so this stage never imports burn.

pub mod filter;
pub mod layer;
pub mod plan;
pub mod run;
