//! The check stage: name resolution, types, domains and dependency cycles.
//!
//! It reads the AST of every loaded file, pushes every problem it finds into a [`Sink`]
//! (it never stops at the first), and hands the space stage a [`Checked`] program: the
//! name tables plus, for each space, its hyperparameters with their domains.

mod expr;
mod items;
pub mod load;
pub mod quantum;
mod scope;
pub mod types;

use crate::diag::{FileId, Sink, Span};
use crate::syntax::ast;
pub use items::SCORE;
pub use load::{load, load_with, Program};
pub use scope::{item_name, FileScope};
use types::{ItemRef, Ty};

/// A checked program, ready for the space stage.
#[derive(Debug)]
pub struct Checked {
    /// The files.
    pub program: Program,
    /// The top-level names each file sees.
    pub scopes: Vec<FileScope>,
    /// The spaces of the root file, in source order.
    pub spaces: Vec<SpaceInfo>,
}

impl Checked {
    /// The item `r` refers to.
    pub fn item(&self, r: ItemRef) -> &ast::Item {
        &self.program.file(r.file).items[r.index]
    }

    /// Looks up a top-level name as seen from `file`.
    pub fn lookup(&self, file: FileId, name: &str) -> Option<ItemRef> {
        self.scopes[file.0 as usize].names.get(name).copied()
    }
}

/// The domain of an independent hyperparameter.
#[derive(Debug, Clone)]
pub enum Domain {
    /// `choice(a, b, ...)`: the alternatives, evaluated by the space stage.
    Choice(Vec<ast::Expr>),
    /// `range(lo, hi, step)`: integers `lo, lo+step, ...` up to and including `hi`.
    IntRange {
        /// First value.
        lo: i64,
        /// Last value allowed.
        hi: i64,
        /// Distance between values.
        step: i64,
    },
    /// `uniform(lo, hi)` or `log_uniform(lo, hi)`, optionally quantised to multiples of `q`.
    Float {
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
        /// Whether the values are spread on a log scale.
        log: bool,
        /// The quantum, which makes the domain finite.
        q: Option<f64>,
    },
}

/// An independent hyperparameter of a space.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Its type.
    pub ty: Ty,
    /// Its domain; `None` when the declaration was wrong (already reported).
    pub domain: Option<Domain>,
    /// The domain as written.
    pub domain_text: String,
}

/// A dependent value of a space.
#[derive(Debug, Clone)]
pub struct LetInfo {
    /// Its name.
    pub name: String,
    /// Its definition.
    pub value: ast::Expr,
    /// The definition as written.
    pub text: String,
}

/// A constraint of a space.
#[derive(Debug, Clone)]
pub struct RequireInfo {
    /// The condition.
    pub cond: ast::Expr,
    /// The condition as written.
    pub text: String,
    /// Whether it calls a metric of the architecture (`params()`), so it can only be
    /// evaluated once an architecture is built.
    pub uses_metrics: bool,
    /// Where it is written.
    pub span: Span,
}

/// One checked space.
#[derive(Debug, Clone)]
pub struct SpaceInfo {
    /// Its name.
    pub name: String,
    /// The file that defines it.
    pub file: FileId,
    /// Where it is written.
    pub span: Span,
    /// Its independent hyperparameters.
    pub params: Vec<ParamInfo>,
    /// Its dependent values.
    pub lets: Vec<LetInfo>,
    /// Its constraints.
    pub requires: Vec<RequireInfo>,
    /// The graph body, if the space has exactly one graph.
    pub graph: Option<ast::Expr>,
    /// The `data` source call, if any.
    pub data: Option<ast::Expr>,
    /// The `train` fields.
    pub train: Vec<ast::Field>,
    /// Its objectives.
    pub objectives: Vec<ast::Goal>,
    /// Its pipeline stages.
    pub stages: Vec<ast::Stage>,
    /// Whether the checker found an error in this space (counting is then skipped).
    pub has_errors: bool,
}

/// Checks a loaded program; pushes diagnostics into `sink`.
pub fn check(program: Program, sink: &mut Sink) -> Checked {
    let scopes = scope::build_scopes(&program, sink);
    let mut checked = Checked {
        program,
        scopes,
        spaces: Vec::new(),
    };
    checked.spaces = items::check_items(&checked, sink);
    checked
}

/// The closest of `candidates` to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    // Optimal string alignment: insertions, deletions, substitutions and swaps of two
    // neighbouring characters (`widht` -> `width`) each cost one.
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["heads", "layers", "d_model"];
        assert_eq!(suggest("head", names.iter().copied()), Some("heads"));
        assert_eq!(suggest("zzz", names.iter().copied()), None);
        assert_eq!(suggest("layres", names.iter().copied()), Some("layers"));
    }
}
