//! The data stage: a space's `data` source becomes token batches for training and a fixed
//! validation set.
//!
//! Text is tokenised as bytes (vocabulary 256), the contract the interpreter's static
//! facts already promise (`src/interp/data.rs`), so a model's parameter count is known
//! before any text is read. The corpus is split once, by position: the first `split` of
//! the bytes train, the rest validate. Training batches are windows at seeded random
//! offsets of the training part; the validation set is a fixed list of evenly spaced
//! windows of the validation part, the same for every architecture of a space, so their
//! losses compare.

use std::path::{Path, PathBuf};

use rand::RngExt;

use crate::interp::Value;

/// The character-level corpus shipped inside the binary (see `data/README.md`).
pub const TINY_SHAKESPEARE: &[u8] = include_bytes!("../../data/tiny_shakespeare.txt");

/// The byte vocabulary of text sources.
pub const BYTE_VOCAB: usize = 256;

/// Why a data source cannot be opened.
#[derive(Debug, Clone, PartialEq)]
pub struct DataError {
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl DataError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> DataError {
        DataError {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// One batch of next-token prediction: `inputs[b][t]` predicts `targets[b][t]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// Token ids, `batch × len`, row-major.
    pub inputs: Vec<i64>,
    /// The next token of each input position, `batch × len`.
    pub targets: Vec<i64>,
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub len: usize,
}

/// A tokenised text corpus split into training and validation parts.
#[derive(Clone, Debug)]
pub struct TextCorpus {
    /// The name the space gave it.
    pub name: String,
    /// Token ids of the training part.
    pub train: Vec<u8>,
    /// Token ids of the validation part.
    pub val: Vec<u8>,
    /// Tokens per example (the model's context).
    pub context: usize,
}

impl TextCorpus {
    /// Opens the corpus of a resolved `text_corpus(name, context, split)` call. `name` is
    /// a shipped corpus (`tiny_shakespeare`) or the path of a text file, relative to
    /// `base` (the directory of the `.nas` file).
    pub fn open(source: &Value, base: Option<&Path>) -> Result<TextCorpus, DataError> {
        let Value::Sym(kind, args) = source else {
            return Err(DataError::new(
                "the data source is not a call",
                "write `data = text_corpus(\"tiny_shakespeare\", context = 128)`",
            ));
        };
        if &**kind != "text_corpus" {
            return Err(DataError::new(
                format!("training on `{kind}` data is not implemented yet"),
                "train on `text_corpus(...)`: the shipped `tiny_shakespeare` or a text file of your own",
            ));
        }
        let arg = |k: &str| args.iter().find(|(n, _)| &**n == k).map(|(_, v)| v);
        let name = match arg("name") {
            Some(Value::Str(s)) => s.clone(),
            _ => {
                return Err(DataError::new(
                    "`text_corpus` needs a name",
                    "give the corpus name or a file path",
                ))
            }
        };
        let context = match arg("context").and_then(Value::as_int) {
            Some(c) if c > 0 => c as usize,
            _ => {
                return Err(DataError::new(
                    "the context must be a positive length",
                    "set `context = 128`",
                ))
            }
        };
        let split = arg("split").and_then(Value::as_f64).unwrap_or(0.9);
        let bytes = match name.as_str() {
            "tiny_shakespeare" => TINY_SHAKESPEARE.to_vec(),
            path => read_text(path, base)?,
        };
        TextCorpus::from_bytes(&name, bytes, context, split)
    }

    /// Splits `bytes` at `split` into training and validation parts.
    pub fn from_bytes(
        name: &str,
        bytes: Vec<u8>,
        context: usize,
        split: f64,
    ) -> Result<TextCorpus, DataError> {
        if !(split > 0.0 && split < 1.0) {
            return Err(DataError::new(
                format!("the split {split} leaves no training or no validation text"),
                "use a split strictly between 0 and 1, such as 0.9",
            ));
        }
        let cut = ((bytes.len() as f64) * split) as usize;
        let (train, val) = (bytes[..cut].to_vec(), bytes[cut..].to_vec());
        // Each part needs at least one whole example: `context` inputs and one more target.
        for (part, len) in [("training", train.len()), ("validation", val.len())] {
            if len < context + 1 {
                return Err(DataError::new(
                    format!(
                        "the {part} part of `{name}` holds {len} bytes, fewer than one example of {} (context {context} and its next token)",
                        context + 1
                    ),
                    "use a larger text, a shorter `context`, or another `split`",
                ));
            }
        }
        Ok(TextCorpus {
            name: name.to_string(),
            train,
            val,
            context,
        })
    }

    /// A training batch of `batch` windows at random offsets.
    pub fn train_batch(&self, rng: &mut impl rand::Rng, batch: usize) -> Batch {
        let last = self.train.len() - self.context - 1;
        let starts: Vec<usize> = (0..batch).map(|_| rng.random_range(0..=last)).collect();
        window_batch(&self.train, &starts, self.context)
    }

    /// The validation set: `count` batches of `batch` windows, evenly spaced over the
    /// validation part (overlapping when the part is short). The same on every call.
    pub fn val_batches(&self, batch: usize, count: usize) -> Vec<Batch> {
        let last = self.val.len() - self.context - 1;
        let total = (batch * count).max(1);
        let starts: Vec<usize> = (0..total)
            .map(|k| {
                if total == 1 {
                    0
                } else {
                    k * last / (total - 1)
                }
            })
            .collect();
        starts
            .chunks(batch.max(1))
            .map(|s| window_batch(&self.val, s, self.context))
            .collect()
    }

    /// The unigram baseline: the cross-entropy (nats per token) of the validation part
    /// under the byte frequencies of the training part, add-one smoothed. A model that
    /// learns anything about context beats it.
    pub fn unigram_loss(&self) -> f64 {
        let mut counts = [1.0f64; BYTE_VOCAB];
        for &b in &self.train {
            counts[b as usize] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        let nll: f64 = self
            .val
            .iter()
            .map(|&b| -(counts[b as usize] / total).ln())
            .sum();
        nll / self.val.len() as f64
    }
}

fn read_text(path: &str, base: Option<&Path>) -> Result<Vec<u8>, DataError> {
    let p = PathBuf::from(path);
    let full = match base {
        Some(b) if p.is_relative() => b.join(&p),
        _ => p,
    };
    std::fs::read(&full).map_err(|e| {
        DataError::new(
            format!("cannot read the corpus `{path}`: {e}"),
            "name the shipped corpus `tiny_shakespeare`, or the path of a text file (relative to the `.nas` file)",
        )
    })
}

fn window_batch(text: &[u8], starts: &[usize], len: usize) -> Batch {
    let mut inputs = Vec::with_capacity(starts.len() * len);
    let mut targets = Vec::with_capacity(starts.len() * len);
    for &s in starts {
        inputs.extend(text[s..s + len].iter().map(|&b| i64::from(b)));
        targets.extend(text[s + 1..s + len + 1].iter().map(|&b| i64::from(b)));
    }
    Batch {
        inputs,
        targets,
        batch: starts.len(),
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(text: &str, context: usize) -> TextCorpus {
        TextCorpus::from_bytes("t", text.as_bytes().to_vec(), context, 0.5).unwrap()
    }

    #[test]
    fn the_shipped_corpus_is_the_documented_one() {
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest(TINY_SHAKESPEARE)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "d6bea411fec6be222f292eb1aaea3a882d150c7938ce21481cabb4a189f8850b"
        );
        assert!(TINY_SHAKESPEARE.is_ascii());
    }

    #[test]
    fn targets_are_the_inputs_shifted_by_one() {
        let c = corpus("abcdefghijklmnopqrstuvwxyz0123456789", 4);
        let mut rng = crate::interp::strategy::rng(3);
        let b = c.train_batch(&mut rng, 5);
        assert_eq!((b.batch, b.len, b.inputs.len()), (5, 4, 20));
        for row in 0..5 {
            let i = &b.inputs[row * 4..row * 4 + 4];
            let t = &b.targets[row * 4..row * 4 + 4];
            assert_eq!(&i[1..], &t[..3]);
            assert_eq!(t[3], i[3] + 1, "the text is consecutive letters");
        }
    }

    #[test]
    fn training_windows_stay_in_the_training_part() {
        let text: String = "a".repeat(50) + &"b".repeat(50);
        let c = corpus(&text, 8);
        let mut rng = crate::interp::strategy::rng(1);
        for _ in 0..50 {
            let b = c.train_batch(&mut rng, 4);
            assert!(b
                .inputs
                .iter()
                .chain(&b.targets)
                .all(|&t| t == i64::from(b'a')));
        }
        let v = c.val_batches(4, 3);
        assert_eq!(v.len(), 3);
        assert!(v
            .iter()
            .all(|b| b.inputs.iter().all(|&t| t == i64::from(b'b'))));
        assert_eq!(v, c.val_batches(4, 3), "the validation set is fixed");
    }

    #[test]
    fn a_corpus_too_short_for_one_example_is_an_error() {
        let e = TextCorpus::from_bytes("t", b"abcdef".to_vec(), 4, 0.5).unwrap_err();
        assert!(
            e.message.contains("fewer than one example"),
            "{}",
            e.message
        );
        let e = TextCorpus::from_bytes("t", b"abcdef".to_vec(), 1, 1.0).unwrap_err();
        assert!(e.message.contains("split"), "{}", e.message);
    }

    #[test]
    fn unigram_loss_is_the_entropy_of_a_uniform_text() {
        // Two symbols, equally frequent in both parts: about ln 2 (smoothing shifts it a
        // little above).
        let text = "ab".repeat(50_000);
        let c = corpus(&text, 4);
        let l = c.unigram_loss();
        assert!((l - 2f64.ln()).abs() < 0.01, "{l}");
    }
}
