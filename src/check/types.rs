//! The types of `.nas` expressions and the rules for mixing them.

use std::collections::BTreeSet;
use std::fmt;

use crate::diag::FileId;

/// A top-level item: its file and its index among that file's items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRef {
    /// The file that defines it.
    pub file: FileId,
    /// Its index in `ast::File::items`.
    pub index: usize,
}

/// The type of an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// A 64-bit integer.
    Int,
    /// A 64-bit float.
    Float,
    /// `true` or `false`.
    Bool,
    /// A string.
    Str,
    /// Bare symbols not yet tied to a declared enum (`choice(gelu, relu)`).
    Sym(BTreeSet<String>),
    /// A value of a declared enum.
    Enum(ItemRef, String),
    /// Any enum, as an annotation (`param act : enum = ...`).
    AnyEnum,
    /// A graph fragment: one input, one output.
    Module,
    /// A node of a graph: the output of a module applied to an input.
    Tensor,
    /// The `data` source of the space.
    Data,
    /// A dotted path naming a hyperparameter (`attention.kind`), for strategies.
    Path,
    /// The type of an expression already reported as wrong; mixes with everything.
    Unknown,
}

impl Ty {
    /// Whether this is `int` or `float`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float | Ty::Unknown)
    }

    /// Whether a graph statement of this type is allowed (module, tensor).
    pub fn is_graph(&self) -> bool {
        matches!(self, Ty::Module | Ty::Tensor | Ty::Unknown)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Bool => f.write_str("bool"),
            Ty::Str => f.write_str("string"),
            Ty::Sym(s) => {
                let names: Vec<&str> = s.iter().map(String::as_str).collect();
                write!(f, "enum {{{}}}", names.join(", "))
            }
            Ty::Enum(_, name) => write!(f, "{name}"),
            Ty::AnyEnum => f.write_str("enum"),
            Ty::Module => f.write_str("module"),
            Ty::Tensor => f.write_str("tensor"),
            Ty::Data => f.write_str("data"),
            Ty::Path => f.write_str("path"),
            Ty::Unknown => f.write_str("{unknown}"),
        }
    }
}

/// The type of `a` and `b` together (the alternatives of a choice, the branches of an
/// `if`), or `None` when they do not mix.
pub fn join(a: &Ty, b: &Ty) -> Option<Ty> {
    Some(match (a, b) {
        (Ty::Unknown, t) | (t, Ty::Unknown) => t.clone(),
        (x, y) if x == y => x.clone(),
        (Ty::Int, Ty::Float) | (Ty::Float, Ty::Int) => Ty::Float,
        (Ty::Sym(x), Ty::Sym(y)) => Ty::Sym(x.union(y).cloned().collect()),
        (Ty::Enum(e, n), Ty::Sym(_)) | (Ty::Sym(_), Ty::Enum(e, n)) => Ty::Enum(*e, n.clone()),
        _ => return None,
    })
}
