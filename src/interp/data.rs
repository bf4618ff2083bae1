//! What the interpreter knows about a data source before any data is read: the shape of
//! one example and the sizes a graph may ask for through `data.vocab` and friends.
//!
//! These are the contract between a space and the data stage: text sources are tokenised
//! as bytes (vocabulary 256) unless a word-level set fixes its own vocabulary, so the
//! vocabulary, and with it the parameter count, is known without reading the corpus.

use super::ir::Shape;
use super::Value;

/// Static facts of a data source.
#[derive(Clone, Debug, PartialEq)]
pub struct DataFacts {
    /// The source as resolved (`text_corpus(name = "tiny_shakespeare", ...)`).
    pub source: Value,
    /// The shape of one input example.
    pub input: Shape,
    /// Token vocabulary, for token inputs.
    pub vocab: Option<i64>,
    /// Classes, for classification sets.
    pub classes: Option<i64>,
}

impl DataFacts {
    /// The facts of a resolved data source call; `Err` says why they are unknown.
    pub fn of(source: Value) -> Result<DataFacts, String> {
        let Value::Sym(name, args) = &source else {
            return Err("the data source is not a call".into());
        };
        let int = |k: &str| {
            args.iter()
                .find(|(n, _)| &**n == k)
                .and_then(|(_, v)| v.as_int())
        };
        let string = |k: &str| {
            args.iter()
                .find(|(n, _)| &**n == k)
                .and_then(|(_, v)| match v {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
        };
        let tokens =
            |len: Option<i64>, vocab: i64, classes: Option<i64>| -> Result<DataFacts, String> {
                let len = len
                    .filter(|l| *l > 0)
                    .ok_or("the sequence length must be positive")?;
                Ok(DataFacts {
                    source: source.clone(),
                    input: Shape::Tokens { len },
                    vocab: Some(vocab),
                    classes,
                })
            };
        match &**name {
            "text_corpus" => tokens(int("context"), 256, None),
            "word_corpus" => tokens(int("context"), 10_000, None),
            "text_classification" => {
                let classes = int("classes").unwrap_or(2);
                if classes < 2 {
                    return Err("a classification set needs at least 2 classes".into());
                }
                let words = args.iter().any(|(n, v)| {
                    &**n == "tokens" && matches!(v, Value::Sym(s, _) if &**s == "words")
                });
                tokens(
                    int("max_len"),
                    if words { 10_000 } else { 256 },
                    Some(classes),
                )
            }
            // Padding, ten digits, the four operators (each with its opening bracket) and
            // the closing bracket.
            "listops" => tokens(int("length"), 16, Some(10)),
            "synthetic" => tokens(int("length"), int("vocab").unwrap_or(32), None),
            "images" => {
                let set = string("name").unwrap_or_default();
                let (channels, side, classes) = match set.as_str() {
                    "cifar10" => (3, 32, 10),
                    "cifar100" => (3, 32, 100),
                    "mnist" | "fashion_mnist" => (1, 28, 10),
                    other => {
                        return Err(format!(
                            "unknown image set `{other}` (known: cifar10, cifar100, mnist, fashion_mnist)"
                        ))
                    }
                };
                Ok(DataFacts {
                    source: source.clone(),
                    input: Shape::Image {
                        channels,
                        height: side,
                        width: side,
                    },
                    vocab: None,
                    classes: Some(classes),
                })
            }
            // The images each table's networks were trained on: CIFAR-10 and CIFAR-100
            // at 32 × 32, ImageNet16-120 (120 classes of ImageNet downsampled to 16 × 16).
            "nas_bench_201" => {
                let set = string("set").unwrap_or_default();
                let (side, classes) = match set.as_str() {
                    "cifar10" => (32, 10),
                    "cifar100" => (32, 100),
                    "imagenet" => (16, 120),
                    other => {
                        let known = crate::space::table::NAS_BENCH_201.sets.join(", ");
                        return Err(format!("no NAS-Bench-201 set `{other}` (sets: {known})"));
                    }
                };
                Ok(DataFacts {
                    source: source.clone(),
                    input: Shape::Image {
                        channels: 3,
                        height: side,
                        width: side,
                    },
                    vocab: None,
                    classes: Some(classes),
                })
            }
            other => Err(format!("no facts known for the data source `{other}`")),
        }
    }

    /// `data.field`.
    pub fn field(&self, field: &str) -> Option<Value> {
        let v = match field {
            "vocab" => self.vocab?,
            "classes" => self.classes?,
            "context" | "length" | "max_len" => match self.input {
                Shape::Tokens { len } => len,
                _ => return None,
            },
            "channels" => match self.input {
                Shape::Image { channels, .. } => channels,
                _ => return None,
            },
            _ => return None,
        };
        Some(Value::Int(v))
    }

    /// The facts when a space has no `data` block: byte tokens, 128 long.
    pub fn default_text() -> DataFacts {
        DataFacts {
            source: Value::Sym("none".into(), Vec::new()),
            input: Shape::Tokens { len: 128 },
            vocab: Some(256),
            classes: None,
        }
    }
}
