//! Tabular benchmarks as a space sees them: which data sources are tables of measured
//! results rather than data to train on, which named hyperparameters make a table's key,
//! and the check (`E039`, beside the other space checks of `nasc check`) that a space's
//! hyperparameters can make one.
//!
//! A table knows nothing of graphs: NAS-Bench-201 measured every cell of its search space
//! once, and names each by the operations on the cell's six edges. A space that reads
//! such a table therefore declares those six operations as named hyperparameters, each a
//! `choice` among the table's operations (a subset is fine: the table then answers for
//! part of itself), and its graph is what it means by them (`examples/nas_bench_201.nas`
//! writes the benchmark's cell and skeleton). The key of an architecture is the index of
//! each hyperparameter's operation, one digit per edge, in the table's edge order.

use super::count::param_values;
use super::eval::Val;
use crate::check::{Checked, Domain, SpaceInfo};
use crate::diag::{Code, Diagnostic, Sink};
use crate::syntax::ast::{BuiltinKind, ExprKind, Item};

/// How the key of a table is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The data source that names the table (`nas_bench_201`).
    pub source: &'static str,
    /// The named hyperparameters the key is read from, in key order.
    pub params: &'static [&'static str],
    /// The values each may take: a value's index is its digit in the key.
    pub ops: &'static [&'static str],
    /// The sets the table has results for (the data source's `set`), one file each.
    pub sets: &'static [&'static str],
}

/// NAS-Bench-201: the cell's edges `j <- i` (node `j` reads node `i`) in the benchmark's
/// order, `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, each one of five operations.
pub const NAS_BENCH_201: Layout = Layout {
    source: "nas_bench_201",
    params: &[
        "edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2",
    ],
    ops: &[
        "none",
        "skip_connect",
        "nor_conv_1x1",
        "nor_conv_3x3",
        "avg_pool_3x3",
    ],
    sets: &["cifar10", "cifar100", "imagenet"],
};

/// Every table nasc reads.
pub const LAYOUTS: &[Layout] = &[NAS_BENCH_201];

/// The layout of the table a data source names, if it names one.
pub fn layout(source: &str) -> Option<&'static Layout> {
    LAYOUTS.iter().find(|l| l.source == source)
}

impl Layout {
    /// The number of keys: every combination of operations.
    pub fn keys(&self) -> usize {
        self.ops.len().pow(self.params.len() as u32)
    }

    /// The position of a key (`"421211"`) among all keys, in the order of base-`ops`
    /// numbers; `None` when it is not a key of this layout.
    pub fn index(&self, key: &str) -> Option<usize> {
        if key.len() != self.params.len() {
            return None;
        }
        key.bytes().try_fold(0usize, |acc, b| {
            let digit = usize::from(b.checked_sub(b'0')?);
            (digit < self.ops.len()).then(|| acc * self.ops.len() + digit)
        })
    }

    /// The key of an assignment of operations, given as each parameter's operation.
    pub fn key(
        &self,
        mut op_of: impl FnMut(&str) -> Result<String, String>,
    ) -> Result<String, String> {
        let mut key = String::with_capacity(self.params.len());
        for param in self.params {
            let op = op_of(param)?;
            let digit = self.ops.iter().position(|o| *o == op).ok_or_else(|| {
                format!(
                    "`{param}` is `{op}`, which is not an operation of `{}` ({})",
                    self.source,
                    self.ops.join(", ")
                )
            })?;
            key.push(char::from(b'0' + digit as u8));
        }
        Ok(key)
    }
}

/// The table layout a space's `data` names, when it names the builtin data source of one.
pub fn of_space(checked: &Checked, space: &SpaceInfo) -> Option<&'static Layout> {
    let data = space.data.as_ref()?;
    let ExprKind::Call(callee, _) = &data.kind else {
        return None;
    };
    let ExprKind::Name(id) = &callee.kind else {
        return None;
    };
    let layout = layout(&id.name)?;
    let r = checked.lookup(space.file, &id.name)?;
    matches!(checked.item(r), Item::Builtin(b) if b.kind == BuiltinKind::Dataset).then_some(layout)
}

/// Checks that every architecture of `space` has a key in the table its `data` names (if
/// it names one): pushes an `E039` for the key's hyperparameters that are missing, and for
/// each one whose domain is not a `choice` of the table's operations.
pub fn check_keys(checked: &Checked, space: &SpaceInfo, sink: &mut Sink) {
    let Some(layout) = of_space(checked, space) else {
        return;
    };
    let Some(data) = space.data.as_ref() else {
        return;
    };
    let ops = layout.ops.join(", ");
    let missing: Vec<&str> = layout
        .params
        .iter()
        .copied()
        .filter(|p| !space.params.iter().any(|q| q.name == *p))
        .collect();
    if !missing.is_empty() {
        let quoted: Vec<String> = missing.iter().map(|p| format!("`{p}`")).collect();
        let names = match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => quoted.join(""),
        };
        let (noun, pronoun) = if missing.len() == 1 {
            ("hyperparameter", "it")
        } else {
            ("hyperparameters", "them")
        };
        sink.push(
            Diagnostic::error(
                Code::TableKey,
                format!(
                    "`{}` looks architectures up by {}, and the space has no {noun} {names}",
                    layout.source,
                    layout.params.join(", ")
                ),
                data.span,
                format!("this table needs {pronoun}"),
            )
            .with_help(format!(
                "declare each as a named param of the table's operations, `param {} = \
                 choice({ops})`, and build the graph from it (examples/nas_bench_201.nas \
                 writes the benchmark's cell)",
                missing[0]
            )),
        );
    }
    let values = param_values(checked, space).ok();
    for (k, p) in space.params.iter().enumerate() {
        if !layout.params.contains(&p.name.as_str()) {
            continue;
        }
        let problem = match &p.domain {
            None => continue,
            Some(Domain::Choice(_)) => {
                let Some(vals) = values.as_ref().and_then(|v| v[k].as_ref()) else {
                    continue;
                };
                vals.iter().find_map(|v| match v {
                    Val::Sym(name, payload)
                        if payload.is_empty() && layout.ops.contains(&name.as_str()) =>
                    {
                        None
                    }
                    Val::Sym(name, payload) if payload.is_empty() => Some(format!(
                        "`{}` can be `{name}`, which is not an operation of `{}`",
                        p.name, layout.source
                    )),
                    other => Some(format!(
                        "`{}` can be {}, which is not an operation of `{}`",
                        p.name,
                        describe(other),
                        layout.source
                    )),
                })
            }
            Some(_) => Some(format!(
                "`{}` is `{}`, not a choice of `{}`'s operations",
                p.name, p.domain_text, layout.source
            )),
        };
        if let Some(message) = problem {
            sink.push(
                Diagnostic::error(Code::TableKey, message, p.span, "this hyperparameter")
                    .with_help(format!(
                        "the table measured these operations only: choose among {ops}"
                    )),
            );
        }
    }
}

/// A value for a message: `64`, `"x"`, `local(...)`.
fn describe(v: &Val) -> String {
    match v {
        Val::Int(x) => format!("`{x}`"),
        Val::Float(x) => format!("`{x}`"),
        Val::Bool(x) => format!("`{x}`"),
        Val::Str(s) => format!("`{s:?}`"),
        Val::Sym(name, _) => format!("`{name}(...)`"),
        Val::Opaque(_) => "a value known only when an architecture is built".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_digits_in_edge_order() {
        let l = NAS_BENCH_201;
        assert_eq!(l.keys(), 15_625);
        let ops = [
            ("edge_1_0", "avg_pool_3x3"),
            ("edge_2_0", "nor_conv_1x1"),
            ("edge_2_1", "skip_connect"),
            ("edge_3_0", "nor_conv_1x1"),
            ("edge_3_1", "skip_connect"),
            ("edge_3_2", "skip_connect"),
        ];
        let op_of = |p: &str| {
            ops.iter()
                .find(|(q, _)| *q == p)
                .map(|(_, o)| o.to_string())
                .ok_or_else(|| format!("no {p}"))
        };
        assert_eq!(l.key(op_of).as_deref(), Ok("421211"));
        assert_eq!(l.index("000000"), Some(0));
        assert_eq!(l.index("000010"), Some(5));
        assert_eq!(l.index("444444"), Some(15_624));
        for bad in ["", "00000", "0000000", "000005", "00000a"] {
            assert_eq!(l.index(bad), None, "{bad}");
        }
        let e = l
            .key(|p| Ok(if p == "edge_3_2" { "conv" } else { "none" }.to_string()))
            .expect_err("not an op");
        assert!(e.contains("`edge_3_2` is `conv`"), "{e}");
        assert_eq!(layout("nas_bench_201"), Some(&NAS_BENCH_201));
        assert_eq!(layout("images"), None);
    }
}
