//! Search: the layered pipeline of a space, run against the results store.
//!
//! [`plan`] turns a checked space's `pipeline { ... }` into stages with constant
//! arguments and resolved filters; [`layer`] holds the layer interface, an ask/tell
//! [`layer::Layer`] that reaches the space only through the interpreter, with the simple
//! strategies (random, grid, final) and the adapter of a model-based
//! [`crate::interp::strategy::Strategy`] ([`tpe`]); [`evolution`], [`halving`]
//! (successive halving, Hyperband) and [`bo`] are layers of their own, reading
//! assignments through [`encode`]; [`filter`] narrows
//! a layer's population to its survivors; [`run`] drives the layers, claims and records
//! every trial in the [`crate::store`], and replays a run to resume it. Evaluation
//! (training) comes in through [`run::Evaluator`], so this stage never imports burn.

pub mod bo;
pub mod encode;
pub mod evolution;
pub mod filter;
pub mod gp;
pub mod halving;
pub mod harness;
pub mod layer;
pub mod normal;
pub mod plan;
pub mod run;
pub mod tpe;
