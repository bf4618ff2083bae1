//! `synthetic(copy | reverse | sort, length, vocab)`: sequence-to-sequence tasks posed as
//! next-token prediction, so a causal language model learns them as it would text.
//!
//! Each example is the input symbols, a separator, then the answer; only the positions
//! that predict the answer are scored (the others are [`IGNORE`](super::IGNORE)d), so the
//! loss and accuracy measure the task, not the random input. Training draws fresh
//! examples every step (seeded by the training seed); the validation set is drawn with a
//! fixed seed, the same for every candidate.

use super::{Baseline, Batch, Call, DataError, Dataset, Task, Unit};
use crate::interp::strategy::{rng, Rng64};
use crate::train::generate::{seq_example, SeqTask};

/// The seed of the validation examples.
const VAL_SEED: u64 = 0x7a1_da7a;
/// The longest generated sequence: every batch holds `batch × length` tokens.
const MAX_LENGTH: usize = 1 << 14;
/// The seed of the examples the baseline counts.
const BASELINE_SEED: u64 = 0xba5e;

/// A generated sequence task.
#[derive(Clone, Debug)]
pub struct Generated {
    /// `copy`, `reverse` or `sort`.
    pub task: SeqTask,
    /// The task's name.
    pub name: String,
    /// Tokens per example.
    pub length: usize,
    /// Token ids run from 0 to `vocab - 1` (0 separates).
    pub vocab: usize,
}

impl Generated {
    /// Opens `synthetic(task, length, vocab)`.
    pub(crate) fn open(call: &Call) -> Result<Generated, DataError> {
        let name = call.symbol("task").unwrap_or("copy").to_string();
        let task = SeqTask::from_name(&name).ok_or_else(|| {
            DataError::new(
                format!("there is no generated task `{name}`"),
                "use `copy`, `reverse` or `sort`",
            )
        })?;
        let set = Generated {
            task,
            name,
            length: call.positive("length")?,
            vocab: call.positive("vocab")?,
        };
        if set.length > MAX_LENGTH {
            return Err(DataError::new(
                format!(
                    "a `length` of {} is longer than nasc generates ({MAX_LENGTH} at most)",
                    set.length
                ),
                format!("use a `length` of at most {MAX_LENGTH}"),
            ));
        }
        // One example tells whether the sizes work.
        seq_example(set.task, &mut rng(0), set.length, set.vocab).map_err(|e| {
            DataError::new(e, "use `length` of at least 4 and `vocab` of at least 3")
        })?;
        Ok(set)
    }

    fn batch(&self, rng: &mut Rng64, batch: usize) -> Batch {
        let mut inputs = Vec::with_capacity(batch * self.length);
        let mut targets = Vec::with_capacity(batch * self.length);
        for _ in 0..batch {
            let (i, t) = seq_example(self.task, rng, self.length, self.vocab)
                .expect("sizes were checked when the set was opened");
            inputs.extend(i.into_iter().map(i64::from));
            targets.extend(t);
        }
        Batch {
            inputs,
            targets,
            batch,
            len: self.length,
            keep: None,
        }
    }
}

impl Dataset for Generated {
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
        self.length
    }

    fn unit(&self) -> Unit {
        Unit::Label
    }

    fn train_batch(&self, rng: &mut Rng64, batch: usize) -> Batch {
        self.batch(rng, batch)
    }

    /// Drawn from the fixed seed: a longer set starts with the examples of a shorter one.
    fn val_batches(&self, batch: usize, count: usize) -> Vec<Batch> {
        let mut r = rng(VAL_SEED);
        (0..count.max(1))
            .map(|_| self.batch(&mut r, batch.max(1)))
            .collect()
    }

    /// The frequencies of answer tokens over 1,024 training-like examples, on 1,024
    /// validation examples.
    fn baseline(&self) -> Baseline {
        let train = self.batch(&mut rng(BASELINE_SEED), 1024);
        let val = self.batch(&mut rng(VAL_SEED), 1024);
        Baseline::of(self.vocab, train.targets, val.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::Value;

    fn open(task: &str, length: i64, vocab: i64) -> Result<Generated, DataError> {
        let args = vec![
            ("task".into(), Value::Sym(task.into(), Vec::new())),
            ("length".into(), Value::Int(length)),
            ("vocab".into(), Value::Int(vocab)),
        ];
        Generated::open(&Call {
            kind: "synthetic",
            args: &args,
        })
    }

    #[test]
    fn validation_is_fixed_and_training_follows_the_seed() {
        let set = open("reverse", 16, 8).unwrap();
        assert_eq!(set.val_batches(4, 2), set.val_batches(4, 2));
        assert_eq!(set.val_batches(4, 1)[0], set.val_batches(4, 2)[0]);
        let a = set.train_batch(&mut rng(1), 4);
        assert_eq!(a, set.train_batch(&mut rng(1), 4));
        assert_ne!(a, set.train_batch(&mut rng(2), 4));
        assert_eq!((a.inputs.len(), a.targets.len()), (64, 64));
        assert!(
            a.targets.contains(&super::super::IGNORE),
            "the question half is not scored"
        );
    }

    #[test]
    fn the_baseline_is_about_uniform_over_symbols() {
        // Symbols 1..7 drawn uniformly: ln 7 nats, 1/7 accuracy.
        let b = open("copy", 32, 8).unwrap().baseline();
        assert!((b.loss - 7f64.ln()).abs() < 0.02, "{b:?}");
        assert!((b.accuracy - 1.0 / 7.0).abs() < 0.03, "{b:?}");
    }

    #[test]
    fn bad_sizes_and_tasks_are_errors() {
        assert!(open("copy", 2, 8).is_err());
        assert!(open("copy", 16, 2).is_err());
        // This once overflowed `batch × length` (or aborted allocating one example).
        let Err(e) = open("copy", 1 << 62, 8) else {
            panic!("an error")
        };
        assert!(e.message.contains("at most"), "{}", e.message);
        let e = open("shuffle", 16, 8).unwrap_err();
        assert!(e.message.contains("shuffle"), "{}", e.message);
    }
}
