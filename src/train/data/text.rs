//! Language modelling on a token stream: byte-level text (`text_corpus`) and word-level
//! text (`word_corpus`).
//!
//! Byte-level text is tokenised as bytes (vocabulary 256), the contract the interpreter's
//! static facts promise (`src/interp/data.rs`), so a model's parameter count is known
//! before any text is read. The corpus is split once, by position: the first `split` of
//! the bytes train, the rest validate.
//!
//! Word-level text is split on whitespace with an end-of-sentence token `<eos>` closing
//! every line (the standard Penn Treebank set-up). The vocabulary is fixed at 10,000: the
//! most frequent training words (ties broken alphabetically, so it is the same on every
//! machine) and `<eos>`; when a text has more distinct words, the rarest become `<unk>`.
//! Penn Treebank has exactly 9,999 words and `<eos>`, so nothing is lost there. Its own
//! validation split validates.
//!
//! Training batches are windows at seeded random offsets of the training part; the
//! validation set is a fixed list of evenly spaced windows of the validation part, the
//! same for every architecture of a space, so their losses compare.

use std::collections::HashMap;
use std::path::Path;

use rand::RngExt;

use super::{
    by_frequency, read_file, spread, Baseline, Batch, Call, DataError, Dataset, Task, Unit,
};
use crate::interp::strategy::Rng64;

/// The character-level corpus shipped inside the binary (see `data/README.md`).
pub const TINY_SHAKESPEARE: &[u8] = include_bytes!("../../../data/tiny_shakespeare.txt");

/// The byte vocabulary of text sources.
pub const BYTE_VOCAB: usize = 256;

/// The vocabulary of word-level sources (the interpreter promises it).
pub const WORD_VOCAB: usize = 10_000;

/// A tokenised text split into training and validation parts.
#[derive(Clone, Debug)]
pub struct TextCorpus {
    /// The name the space gave it.
    pub name: String,
    /// Token ids of the training part.
    pub train: Vec<u32>,
    /// Token ids of the validation part.
    pub val: Vec<u32>,
    /// Tokens per example (the model's context).
    pub context: usize,
    /// Token ids run from 0 to `vocab - 1`.
    pub vocab: usize,
    /// Bytes or words.
    pub unit: Unit,
}

impl TextCorpus {
    /// Opens `text_corpus(name, context, split)`: `name` is the shipped corpus
    /// (`tiny_shakespeare`) or the path of a text file, relative to `base`.
    pub(crate) fn open_bytes(call: &Call, base: Option<&Path>) -> Result<TextCorpus, DataError> {
        let name = call.string("name")?;
        let context = call.positive("context")?;
        let split = call.fraction("split", 0.9)?;
        let bytes = match name.as_str() {
            "tiny_shakespeare" => TINY_SHAKESPEARE.to_vec(),
            path => read_file(path, base, "the corpus")?,
        };
        TextCorpus::from_bytes(&name, bytes, context, split)
    }

    /// Opens `word_corpus(name, context)`: `ptb` (fetched by `nasc data fetch ptb`) or the
    /// path of a text file, whose last tenth of lines then validates.
    pub(crate) fn open_words(call: &Call, base: Option<&Path>) -> Result<TextCorpus, DataError> {
        let name = call.string("name")?;
        let context = call.positive("context")?;
        let (train, val) = match name.as_str() {
            "ptb" => {
                let files = crate::train::fetch::ptb_files()?;
                let read = |p: &Path| {
                    std::fs::read_to_string(p).map_err(|e| {
                        DataError::new(
                            format!("cannot read `{}`: {e}", p.display()),
                            "fetch the set again: `nasc data fetch ptb --force`",
                        )
                    })
                };
                (read(&files.train)?, read(&files.valid)?)
            }
            path => {
                let bytes = read_file(path, base, "the corpus")?;
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                let cut = lines.len() - lines.len() / 10;
                (lines[..cut].join("\n"), lines[cut..].join("\n"))
            }
        };
        TextCorpus::from_words(&name, &train, &val, context)
    }

    /// Byte-level text: `bytes` split at `split` into training and validation parts.
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
        let tokens = |b: &[u8]| b.iter().map(|&x| u32::from(x)).collect::<Vec<u32>>();
        TextCorpus {
            name: name.to_string(),
            train: tokens(&bytes[..cut]),
            val: tokens(&bytes[cut..]),
            context,
            vocab: BYTE_VOCAB,
            unit: Unit::Byte,
        }
        .checked("bytes")
    }

    /// Word-level text from its training and validation parts.
    pub fn from_words(
        name: &str,
        train: &str,
        val: &str,
        context: usize,
    ) -> Result<TextCorpus, DataError> {
        let words = |text: &str| -> Vec<String> {
            let mut out = Vec::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                out.extend(line.split_whitespace().map(str::to_string));
                out.push(EOS.to_string());
            }
            out
        };
        let (train, val) = (words(train), words(val));
        let ids = word_ids(&train);
        let unk = ids.get(UNK).copied();
        let encode = |ws: &[String]| -> Result<Vec<u32>, DataError> {
            ws.iter()
                .map(|w| {
                    ids.get(w.as_str()).copied().or(unk).ok_or_else(|| {
                        DataError::new(
                            format!("the validation text of `{name}` holds `{w}`, a word the training text never uses, and the vocabulary has no `<unk>`"),
                            "add `<unk>` to the training text, or use a validation text drawn from the same words",
                        )
                    })
                })
                .collect()
        };
        TextCorpus {
            name: name.to_string(),
            train: encode(&train)?,
            val: encode(&val)?,
            context,
            vocab: WORD_VOCAB,
            unit: Unit::Token,
        }
        .checked("words")
    }

    /// Each part needs at least one whole example: `context` inputs and one more target.
    fn checked(self, what: &str) -> Result<TextCorpus, DataError> {
        for (part, len) in [
            ("training", self.train.len()),
            ("validation", self.val.len()),
        ] {
            if len < self.context + 1 {
                return Err(DataError::new(
                    format!(
                        "the {part} part of `{}` holds {len} {what}, fewer than one example of {} (context {} and its next token)",
                        self.name,
                        self.context + 1,
                        self.context
                    ),
                    "use a larger text, a shorter `context`, or another `split`",
                ));
            }
        }
        Ok(self)
    }
}

/// Closes every line of word-level text.
pub const EOS: &str = "<eos>";
/// Stands for the words a full vocabulary leaves out.
pub const UNK: &str = "<unk>";

/// Word ids: by falling frequency, ties alphabetical; `<eos>` always in. When there are
/// more words than [`WORD_VOCAB`], the rarest share the id of `<unk>`.
fn word_ids(words: &[String]) -> HashMap<&str, u32> {
    let order = by_frequency(words.iter().map(String::as_str));
    let full = order.len() > WORD_VOCAB;
    // Room for `<unk>` when some words must share it.
    let room = if full { WORD_VOCAB - 1 } else { WORD_VOCAB };
    let mut ids: HashMap<&str, u32> = HashMap::new();
    for &w in order.iter().filter(|w| **w != EOS && **w != UNK) {
        if ids.len() + 1 >= room {
            break;
        }
        ids.insert(w, ids.len() as u32);
    }
    ids.insert(EOS, ids.len() as u32);
    if full || order.contains(&UNK) {
        ids.insert(UNK, ids.len() as u32);
    }
    ids
}

impl Dataset for TextCorpus {
    fn name(&self) -> &str {
        &self.name
    }

    fn task(&self) -> Task {
        Task::NextToken { vocab: self.vocab }
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn seq_len(&self) -> usize {
        self.context
    }

    fn unit(&self) -> Unit {
        self.unit
    }

    /// `batch` windows at random offsets of the training part.
    fn train_batch(&self, rng: &mut Rng64, batch: usize) -> Batch {
        let last = self.train.len() - self.context - 1;
        let starts: Vec<usize> = (0..batch).map(|_| rng.random_range(0..=last)).collect();
        window_batch(&self.train, &starts, self.context)
    }

    /// `count` batches of `batch` windows, evenly spaced over the validation part
    /// (overlapping when the part is short).
    fn val_batches(&self, batch: usize, count: usize) -> Vec<Batch> {
        let last = self.val.len() - self.context - 1;
        let starts = spread(last + 1, (batch * count).max(1));
        starts
            .chunks(batch.max(1))
            .map(|s| window_batch(&self.val, s, self.context))
            .collect()
    }

    /// The unigram model of the training part, on the whole validation part.
    fn baseline(&self) -> Baseline {
        Baseline::of(
            self.vocab,
            self.train.iter().map(|&t| i64::from(t)),
            self.val.iter().map(|&t| i64::from(t)),
        )
    }
}

fn window_batch(text: &[u32], starts: &[usize], len: usize) -> Batch {
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
        keep: None,
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
        let l = c.baseline().loss;
        assert!((l - 2f64.ln()).abs() < 0.01, "{l}");
    }
}
