//! The interpreter: a checked space plus an assignment of its hyperparameters gives a
//! concrete architecture.
//!
//! Hyperparameters come into existence lazily, as in DeepArchitect: the interpreter
//! expands the space and, each time it reaches a value nobody has assigned yet (a named
//! `param`, an inline `choice`, an `optional`, a `repeat` count), it asks a
//! [`Decider`] for it. Assigning a repeat count expands the body that many times and
//! brings the hyperparameters inside each copy into existence; a branch not taken never
//! asks for the ones inside it, so they are inactive. Search strategies only ever see
//! [`Hyper`]s (a path and a domain) and the values they chose ([`Assignment`]): never the
//! graph.
//!
//! What comes out is an [`ir::Arch`]: a graph of concrete modules with every value
//! resolved, shapes, static metrics and a stable hash.

pub mod build;
pub mod data;
pub mod ir;
pub mod metrics;
pub mod name;
mod paths;
pub mod strategy;

use std::fmt;

use serde::Serialize;

use crate::check::quantum;

pub use build::{Built, Frontier, Interp, Outcome, Rejection};
pub use ir::Arch;

pub use name::Name;

/// A concrete value of the language.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// An enum symbol with its payload: `softmax`, `local(window = 16)`.
    Sym(Name, Vec<(Name, Value)>),
}

impl Value {
    /// The number, for arithmetic.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(x) => Some(*x as f64),
            Value::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(x) => Some(*x),
            _ => None,
        }
    }

    /// The value as JSON: numbers and booleans as such, strings and bare symbols as
    /// strings, a symbol with a payload as `{"local": {"window": 16}}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(x) => serde_json::Value::from(*x),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Sym(n, p) if p.is_empty() => serde_json::Value::String(n.to_string()),
            Value::Sym(n, p) => {
                let mut inner = serde_json::Map::new();
                for (k, v) in p {
                    inner.insert(k.to_string(), v.to_json());
                }
                let mut outer = serde_json::Map::new();
                outer.insert(n.to_string(), serde_json::Value::Object(inner));
                serde_json::Value::Object(outer)
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Float(v) if v.fract() == 0.0 && v.abs() < 1e15 => write!(f, "{v:.1}"),
            Value::Float(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Sym(n, p) if p.is_empty() => write!(f, "{n}"),
            Value::Sym(n, p) => {
                write!(f, "{n}(")?;
                for (i, (k, v)) in p.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} = {v}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// One alternative of a choice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alt {
    /// How it reads: the value (`64`, `gelu`) or the source text of a sub-graph or of an
    /// alternative with choices inside (`local(window = choice(16, 32))`).
    pub label: String,
    /// Its value, when it is a constant.
    pub value: Option<Value>,
}

/// The domain of a hyperparameter, as strategies see it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Domain {
    /// One of some alternatives, picked by index.
    Choice {
        /// The alternatives.
        alts: Vec<Alt>,
    },
    /// An integer `lo, lo + step, ..., <= hi`.
    Int {
        /// First value.
        lo: i64,
        /// Largest value allowed.
        hi: i64,
        /// Distance between values.
        step: i64,
    },
    /// A float in `[lo, hi]`, on a log scale when `log`, a multiple of `q` when given.
    Float {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// Log scale.
        log: bool,
        /// Quantum.
        q: Option<f64>,
    },
    /// An `optional`: on or off.
    OnOff,
}

/// The step of an integer range as a `u64`: the checker and the interpreter make it at
/// least 1; a smaller one counts as 1 rather than dividing by zero.
pub(crate) fn int_step(step: i64) -> u64 {
    step.max(1).unsigned_abs()
}

impl Domain {
    /// The number of values, `None` when continuous.
    pub fn size(&self) -> Option<u64> {
        match self {
            Domain::Choice { alts } => Some(alts.len() as u64),
            // `hi - lo` overflows `i64` on a range as wide as `range(-2^63 + 1, 2^63 - 1)`;
            // the distance as `u64` does not (the one value past `u64::MAX` saturates).
            Domain::Int { lo, hi, step } => Some(if hi < lo {
                0
            } else {
                (hi.abs_diff(*lo) / int_step(*step)).saturating_add(1)
            }),
            Domain::Float {
                lo, hi, q: Some(q), ..
            } => Some(quantum::size(*lo, *hi, *q)),
            Domain::Float { .. } => None,
            Domain::OnOff => Some(2),
        }
    }

    /// The `k`-th value of a finite domain, in order (off before on).
    pub fn nth(&self, k: u64) -> Pick {
        match self {
            Domain::Choice { .. } => Pick::Index(k as u32),
            // Two's complement: the wrapping sum is exact whenever the value lies in the
            // range, even when `k * step` alone does not fit in an `i64`.
            Domain::Int { lo, step, .. } => {
                Pick::Int(lo.wrapping_add(k.wrapping_mul(int_step(*step)) as i64))
            }
            Domain::Float { lo, hi, q, .. } => {
                let q = q.unwrap_or(1.0);
                let first = quantum::grid(*lo, *hi, q).map_or(0, |g| g.0);
                Pick::Float(quantum::value(first.saturating_add(k as i64), q))
            }
            Domain::OnOff => Pick::On(k == 1),
        }
    }

    /// Whether `pick` lies in this domain.
    pub fn contains(&self, pick: &Pick) -> bool {
        match (self, pick) {
            (Domain::Choice { alts }, Pick::Index(k)) => (*k as usize) < alts.len(),
            (Domain::Int { lo, hi, step }, Pick::Int(v)) => {
                v >= lo && v <= hi && v.abs_diff(*lo) % int_step(*step) == 0
            }
            (
                Domain::Float {
                    lo, hi, q: Some(q), ..
                },
                Pick::Float(v),
            ) => match (quantum::grid(*lo, *hi, *q), quantum::index(*v, *q)) {
                (Some((a, b)), Some(k)) => a <= k && k <= b,
                _ => false,
            },
            (
                Domain::Float {
                    lo, hi, q: None, ..
                },
                Pick::Float(v),
            ) => {
                let tol = 1e-9 * (hi - lo).abs().max(1.0);
                *v >= lo - tol && *v <= hi + tol
            }
            (Domain::OnOff, Pick::On(_)) => true,
            _ => false,
        }
    }

    /// The JSON form of `pick` in this domain: a choice by its alternative's value (or
    /// label), numbers as numbers, on/off as a boolean.
    pub fn pick_json(&self, pick: &Pick) -> serde_json::Value {
        match (self, pick) {
            (Domain::Choice { alts }, Pick::Index(k)) => match alts.get(*k as usize) {
                Some(Alt { value: Some(v), .. }) => v.to_json(),
                Some(a) => serde_json::Value::String(a.label.clone()),
                None => serde_json::Value::Null,
            },
            (_, p) => p.to_json(),
        }
    }

    /// Reads the JSON form of a value of this domain back.
    pub fn pick_from_json(&self, j: &serde_json::Value) -> Option<Pick> {
        let pick = match self {
            Domain::Choice { alts } => {
                let k = alts
                    .iter()
                    .position(|a| a.value.as_ref().is_some_and(|v| json_eq(&v.to_json(), j)))
                    .or_else(|| {
                        // By its label: an alternative that is no number or truth
                        // value (a module, an enum), so that `"64"` is not `64`.
                        alts.iter().position(|a| {
                            j.as_str() == Some(a.label.as_str())
                                && !a.value.as_ref().is_some_and(|v| {
                                    matches!(
                                        v.to_json(),
                                        serde_json::Value::Number(_) | serde_json::Value::Bool(_)
                                    )
                                })
                        })
                    })?;
                Pick::Index(k as u32)
            }
            Domain::Int { .. } => Pick::Int(j.as_i64()?),
            // A point of a grid is taken as the value the grid writes for it, so that
            // `0.15000000000000002` and `0.15` are one architecture.
            Domain::Float { q: Some(q), .. } => {
                Pick::Float(quantum::value(quantum::index(j.as_f64()?, *q)?, *q))
            }
            Domain::Float { q: None, .. } => Pick::Float(j.as_f64()?),
            Domain::OnOff => Pick::On(j.as_bool()?),
        };
        self.contains(&pick).then_some(pick)
    }
}

/// Whether `j` is domain value `a` in JSON: numbers compared by value, so that a float
/// alternative `16.0` is given as `16` too; an integer alternative takes only an integer
/// (`2.0` is not `2`), compared exactly.
fn json_eq(a: &serde_json::Value, j: &serde_json::Value) -> bool {
    match (a, j) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => x == y,
                (Some(_), None) => false,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        _ => a == j,
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Domain::Choice { alts } => {
                f.write_str("choice(")?;
                for (i, a) in alts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&a.label)?;
                }
                f.write_str(")")
            }
            Domain::Int { lo, hi, step: 1 } => write!(f, "range({lo}, {hi})"),
            Domain::Int { lo, hi, step } => write!(f, "range({lo}, {hi}, {step})"),
            Domain::Float { lo, hi, log, q } => {
                let name = if *log { "log_uniform" } else { "uniform" };
                match q {
                    Some(q) => write!(f, "{name}({lo}, {hi}, q = {q})"),
                    None => write!(f, "{name}({lo}, {hi})"),
                }
            }
            Domain::OnOff => f.write_str("on or off"),
        }
    }
}

/// The value a strategy picks for a hyperparameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pick {
    /// The index of a choice's alternative.
    Index(u32),
    /// An integer of a range.
    Int(i64),
    /// A float of an interval.
    Float(f64),
    /// An `optional` on or off.
    On(bool),
}

impl Pick {
    fn to_json(self) -> serde_json::Value {
        match self {
            Pick::Index(k) => serde_json::Value::from(k),
            Pick::Int(v) => serde_json::Value::from(v),
            Pick::Float(v) => serde_json::Number::from_f64(v)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Pick::On(b) => serde_json::Value::Bool(b),
        }
    }
}

/// Where a hyperparameter or a node sits in its space: a named param's name, or a path
/// such as `layers[1].pre_norm.attention.kind`.
///
/// Shared rather than copied: a build interns every path it makes once per [`Interp`],
/// and the decisions and nodes of every candidate hold that one string. Two paths of one
/// `Interp` are equal exactly when they are the same string; paths of different origins
/// compare by their text, as any `str`.
pub type Path = std::rc::Rc<str>;

/// A hyperparameter as strategies see it: where it is and what it may be.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Hyper {
    /// Its name (a named `param`) or path (`layers[1].pre_norm.attention.kind`).
    pub path: Path,
    /// Whether it is a named `param` of the space (rather than an inline choice).
    pub named: bool,
    /// Its domain.
    #[serde(serialize_with = "ser_domain")]
    pub domain: std::rc::Rc<Domain>,
}

fn ser_domain<S: serde::Serializer>(d: &std::rc::Rc<Domain>, s: S) -> Result<S::Ok, S::Error> {
    d.as_ref().serialize(s)
}

/// One decision of a candidate.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The hyperparameter.
    pub hyper: Hyper,
    /// The value picked.
    pub pick: Pick,
}

/// The decisions that made a candidate, in the order they were made.
pub type Assignment = Vec<Decision>;

/// The assignment as a JSON object from path to value, in decision order.
pub fn assignment_json(a: &[Decision]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for d in a {
        m.insert(d.hyper.path.to_string(), d.hyper.domain.pick_json(&d.pick));
    }
    serde_json::Value::Object(m)
}

/// A partial assignment, as [`Interp::frontier`] reads it.
pub trait Partial {
    /// The value given for `hyper`, `Ok(None)` if it has none yet; `Err` when the value
    /// given is not in the domain (stops with that reason).
    fn given(&mut self, hyper: &Hyper) -> Result<Option<Pick>, String>;
}

/// Who picks the values while a candidate is built.
pub trait Decider {
    /// The value of `hyper`, which the expansion has just reached; `made` holds the
    /// decisions made so far for this candidate. `Err` stops the build with that reason.
    fn decide(&mut self, hyper: &Hyper, made: &[Decision]) -> Result<Pick, String>;
}
