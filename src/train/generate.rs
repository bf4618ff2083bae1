//! Seeded generators of synthetic training data: pure functions of a random generator, no
//! tensors, no files.
//!
//! Synthetic tasks measure one thing a corpus cannot: whether an architecture can learn a
//! particular *kind* of computation at all, with the answer known exactly and unlimited
//! fresh data. Two families are generated here.
//!
//! * [`listops`]: ListOps (Nangia & Bowman 2018) as used by the Long Range Arena (Tay et
//!   al. 2020): a nested prefix expression of `MIN`, `MAX`, `MED` (median) and `SM` (sum
//!   modulo 10) over the digits 0 to 9, classified by its value. It needs hierarchical,
//!   long-range reasoning; LRA reports about 36% accuracy for a vanilla transformer at
//!   sequence length 2000, against 10% for chance, so the task separates architectures
//!   well.
//! * [`seq_example`]: copy, reverse and sort of a random symbol string, laid out as
//!   next-token prediction for causal language models, with only the answer positions
//!   scored.
//!
//! Determinism: the same generator state gives the same output on every machine. Only
//! integer draws are made (`random_range` over integers; `random_ratio`, whose threshold
//! is one correctly rounded IEEE division), nothing iterates a hash map, and no
//! platform-dependent float arithmetic decides anything.

use rand::{Rng, RngExt};

/// ListOps (Long Range Arena): nested list operations over digits, classified by value.
///
/// An example is a token sequence such as `[MAX 2 9 [MIN 4 7 ] 0 ]` (value 9) and its value
/// as the label. Token ids (a vocabulary of [`VOCAB`] = 16):
///
/// | id | token |
/// |----|-------|
/// | 0 | [`PAD`] |
/// | 1..=10 | the digits 0..=9 (digit `d` is `d + 1`, see [`digit`]) |
/// | 11 | [`MIN`] `[MIN` |
/// | 12 | [`MAX`] `[MAX` |
/// | 13 | [`MED`] `[MED` |
/// | 14 | [`SM`] `[SM` |
/// | 15 | [`CLOSE`] `]` |
///
/// As in LRA, an operator token is its opening bracket too.
pub mod listops {
    use rand::{Rng, RngExt};

    /// Padding; never inside an expression ([`evaluate`] ignores trailing padding).
    pub const PAD: u32 = 0;
    /// The token of digit 0; digit `d` is `DIGIT_0 + d`.
    pub const DIGIT_0: u32 = 1;
    /// `[MIN`: the smallest argument.
    pub const MIN: u32 = 11;
    /// `[MAX`: the largest argument.
    pub const MAX: u32 = 12;
    /// `[MED`: the median; for an even count, the floor of the mean of the two middle values
    /// (Python's `int(statistics.median(...))`, which LRA uses).
    pub const MED: u32 = 13;
    /// `[SM`: the sum modulo 10.
    pub const SM: u32 = 14;
    /// `]`: closes the innermost open operator.
    pub const CLOSE: u32 = 15;
    /// Number of token ids.
    pub const VOCAB: usize = 16;
    /// Number of labels (the values 0..=9).
    pub const CLASSES: usize = 10;

    /// Depth of the deepest node (the root is at depth 1); a node at this depth is a digit.
    /// LRA's value.
    pub const MAX_DEPTH: u32 = 10;
    /// Fewest arguments of a generated operator (LRA: `randint(2, max_args)`).
    pub const MIN_ARGS: u32 = 2;
    /// Most arguments of a generated operator (LRA's value).
    pub const MAX_ARGS: u32 = 10;
    /// Below the root and above [`MAX_DEPTH`], a node is an operator with probability
    /// `OPERATOR_CHANCE.0 / OPERATOR_CHANCE.1` and a digit otherwise.
    ///
    /// LRA's code names this 0.25 `VALUE_P`, but a node is a *value* when the draw exceeds
    /// it, so a digit has probability 0.75 there; that is what is reproduced. (A digit with
    /// probability 0.25 would make nearly every tree grow to depth 10 and millions of
    /// tokens, and rejection on length would almost never accept one.)
    pub const OPERATOR_CHANCE: (u32, u32) = (1, 4);
    /// Shortest operator expression: `[OP a b ]`.
    const SHORTEST_OPERATOR: usize = MIN_ARGS as usize + 2;
    /// Rejected trees after which [`generate`] stops sampling and grows a tree to length
    /// instead (see there).
    const ATTEMPTS: u32 = 10_000;

    /// The token of digit `d` (0..=9).
    pub const fn digit(d: u32) -> u32 {
        DIGIT_0 + d
    }

    /// The inclusive range of lengths [`generate`] produces for `max_len`.
    ///
    /// For `max_len >= 4`: `max(4, max_len / 4) ..= max_len`, like LRA's 500 to 2000 tokens
    /// for a maximum of 2000. The lower bound keeps examples from being mostly short and
    /// shallow when long ones are asked for. Below 4 no operator expression fits (each
    /// takes at least two arguments), so the range is `1..=1`: a single digit (also for
    /// `max_len` 0, which is treated as 1).
    pub fn length_bounds(max_len: usize) -> (usize, usize) {
        if max_len < SHORTEST_OPERATOR {
            (1, 1)
        } else {
            ((max_len / 4).max(SHORTEST_OPERATOR), max_len)
        }
    }

    /// One random expression (no padding) and its value 0..=9, the label.
    ///
    /// The tree is LRA's: the root is an operator; every other node above depth
    /// [`MAX_DEPTH`] is an operator with probability [`OPERATOR_CHANCE`] (1/4), else a
    /// uniform digit; nodes at depth [`MAX_DEPTH`] are digits; an operator is one of the
    /// four uniformly, with [`MIN_ARGS`]..=[`MAX_ARGS`] arguments uniformly. Trees are drawn
    /// until one's length falls in [`length_bounds`]: a tree is abandoned as soon as the
    /// tokens it has plus the fewest it still needs pass `max_len`, so no attempt costs more
    /// than about `max_len` steps. (LRA keeps a tree with a root digit only to reject it
    /// for length; here the root is drawn as an operator, which gives the same distribution
    /// since the shortest accepted length is 4.)
    ///
    /// Up to `max_len` of a few thousand, rejection accepts often (the mean unconstrained
    /// length is about 520 tokens). Far above that, long enough trees become too rare to
    /// wait for: after 10,000 rejected trees the generator instead grows one, starting from
    /// a root operator over digits and turning random digits above depth [`MAX_DEPTH`] into
    /// operators over new digits until the length reaches the lower bound. That tree is
    /// valid and in bounds but not LRA-distributed; it only happens for `max_len` far
    /// beyond LRA's (and can stop short of the lower bound only past about 10^9 tokens).
    /// Time and memory grow about in proportion to the length produced.
    pub fn generate(rng: &mut impl Rng, max_len: usize) -> (Vec<u32>, u32) {
        let (lo, hi) = length_bounds(max_len);
        if hi < SHORTEST_OPERATOR {
            let d = rng.random_range(0..10u32);
            return (vec![digit(d)], d);
        }
        let mut sampler = Sampler {
            rng: &mut *rng,
            tokens: Vec::with_capacity(hi.min(1 << 16)),
            pending: 0,
            max_len: hi,
        };
        for _ in 0..ATTEMPTS {
            sampler.tokens.clear();
            sampler.pending = 1;
            if let Some(value) = sampler.operator(1) {
                if sampler.tokens.len() >= lo {
                    return (sampler.tokens, u32::from(value));
                }
            }
        }
        grow(rng, lo, hi)
    }

    /// The four operators.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        Min,
        Max,
        Med,
        Sm,
    }

    impl Op {
        const ALL: [Op; 4] = [Op::Min, Op::Max, Op::Med, Op::Sm];

        fn token(self) -> u32 {
            match self {
                Op::Min => MIN,
                Op::Max => MAX,
                Op::Med => MED,
                Op::Sm => SM,
            }
        }

        fn from_token(token: u32) -> Option<Op> {
            match token {
                MIN => Some(Op::Min),
                MAX => Some(Op::Max),
                MED => Some(Op::Med),
                SM => Some(Op::Sm),
                _ => None,
            }
        }

        /// The value over `args` (digits, at least one). Sorts `args` for the median.
        fn apply(self, args: &mut [u8]) -> u8 {
            debug_assert!(!args.is_empty());
            match self {
                Op::Min => args.iter().copied().min().unwrap_or(0),
                Op::Max => args.iter().copied().max().unwrap_or(0),
                Op::Med => {
                    args.sort_unstable();
                    let n = args.len();
                    if n % 2 == 1 {
                        args[n / 2]
                    } else {
                        // Both at most 9: no overflow in u8.
                        (args[n / 2 - 1] + args[n / 2]) / 2
                    }
                }
                Op::Sm => (args.iter().map(|&a| u32::from(a)).sum::<u32>() % 10) as u8,
            }
        }
    }

    /// One rejection-sampling attempt at a time, into a reused token buffer.
    struct Sampler<'r, R: ?Sized> {
        rng: &'r mut R,
        tokens: Vec<u32>,
        /// The fewest tokens still to come: one per argument not yet begun, one per
        /// unclosed operator. `tokens.len() + pending` bounds the final length from below.
        pending: usize,
        max_len: usize,
    }

    impl<R: Rng + ?Sized> Sampler<'_, R> {
        /// A node at `depth`, whose one-token slot is counted in `pending`.
        fn node(&mut self, depth: u32) -> Option<u8> {
            let (num, den) = OPERATOR_CHANCE;
            if depth < MAX_DEPTH && self.rng.random_ratio(num, den) {
                self.operator(depth)
            } else {
                let d = self.rng.random_range(0..10u32);
                self.pending -= 1;
                self.tokens.push(digit(d));
                Some(d as u8)
            }
        }

        /// An operator node at `depth`; None as soon as the tree cannot fit `max_len`.
        fn operator(&mut self, depth: u32) -> Option<u8> {
            let op = Op::ALL[self.rng.random_range(0..4u32) as usize];
            let k = self.rng.random_range(MIN_ARGS..=MAX_ARGS) as usize;
            self.pending -= 1;
            self.tokens.push(op.token());
            self.pending += k + 1;
            if self.tokens.len() + self.pending > self.max_len {
                return None;
            }
            let mut args = [0u8; MAX_ARGS as usize];
            for arg in &mut args[..k] {
                *arg = self.node(depth + 1)?;
            }
            self.pending -= 1;
            self.tokens.push(CLOSE);
            Some(op.apply(&mut args[..k]))
        }
    }

    /// A tree for [`generate`] when sampling gives up: see there.
    enum Tree {
        Digit(u8),
        Op(Op, Vec<Tree>),
    }

    fn grow(rng: &mut impl Rng, lo: usize, hi: usize) -> (Vec<u32>, u32) {
        fn digits(rng: &mut impl Rng, k: usize) -> Vec<Tree> {
            (0..k)
                .map(|_| Tree::Digit(rng.random_range(0..10u32) as u8))
                .collect()
        }
        /// An operator over `k` digits, and `k`: what a digit becomes when it grows by
        /// `k + 1` tokens, at most `room` (at least 3).
        fn operator(rng: &mut impl Rng, room: usize) -> (Tree, usize) {
            let most = room
                .saturating_sub(1)
                .clamp(MIN_ARGS as usize, MAX_ARGS as usize) as u32;
            let k = rng.random_range(MIN_ARGS..=most) as usize;
            let op = Op::ALL[rng.random_range(0..4u32) as usize];
            (Tree::Op(op, digits(rng, k)), k)
        }
        /// One walk of [`expand`]: which expandable digits to grow and what came of it.
        struct Walk<'p> {
            /// Positions among the expandable digits (those above `MAX_DEPTH`, in prefix
            /// order, before this walk), ascending and distinct.
            picks: &'p [usize],
            /// Picks done.
            done: usize,
            /// Expandable digits passed.
            seen: usize,
            /// Tokens added, and expandable digits the new operators brought.
            added_len: usize,
            added_expandable: usize,
            /// Most tokens one expansion may add.
            room: usize,
        }
        fn expand(tree: &mut Tree, depth: u32, walk: &mut Walk, rng: &mut impl Rng) {
            match tree {
                Tree::Digit(_) if depth < MAX_DEPTH => {
                    if walk.picks.get(walk.done) == Some(&walk.seen) {
                        let (grown, k) = operator(rng, walk.room);
                        *tree = grown;
                        walk.done += 1;
                        walk.added_len += k + 1;
                        if depth + 1 < MAX_DEPTH {
                            walk.added_expandable += k;
                        }
                    }
                    walk.seen += 1;
                }
                Tree::Digit(_) => {}
                Tree::Op(_, args) => {
                    for arg in args {
                        if walk.done == walk.picks.len() {
                            break;
                        }
                        expand(arg, depth + 1, walk, rng);
                    }
                }
            }
        }
        fn write(tree: &Tree, out: &mut Vec<u32>) -> u8 {
            match tree {
                Tree::Digit(d) => {
                    out.push(digit(u32::from(*d)));
                    *d
                }
                Tree::Op(op, args) => {
                    out.push(op.token());
                    let mut values: Vec<u8> = args.iter().map(|a| write(a, out)).collect();
                    out.push(CLOSE);
                    op.apply(&mut values)
                }
            }
        }
        fn length(tree: &Tree) -> usize {
            match tree {
                Tree::Digit(_) => 1,
                Tree::Op(_, args) => 2 + args.iter().map(length).sum::<usize>(),
            }
        }

        // The root, as if grown from a single digit.
        let (mut tree, k) = operator(rng, hi - 1);
        let mut len = k + 2;
        // Digits above MAX_DEPTH: the root's, at depth 2.
        let mut expandable = k;
        // While far from `lo`, grow many random digits per walk (each adds 3 to 11 tokens,
        // so `deficit / 11` of them cannot overshoot), so that the deficit shrinks
        // geometrically; near `lo`, one at a time with whatever room is left below `hi`.
        const MOST_ADDED: usize = MAX_ARGS as usize + 1;
        while len < lo && expandable > 0 {
            let deficit = lo - len;
            let (wanted, room) = if deficit >= MOST_ADDED {
                (deficit / MOST_ADDED, MOST_ADDED)
            } else {
                (1, hi - len)
            };
            let mut picks: Vec<usize> = (0..wanted)
                .map(|_| rng.random_range(0..expandable as u64) as usize)
                .collect();
            picks.sort_unstable();
            picks.dedup();
            let mut walk = Walk {
                picks: &picks,
                done: 0,
                seen: 0,
                added_len: 0,
                added_expandable: 0,
                room,
            };
            expand(&mut tree, 1, &mut walk, rng);
            debug_assert_eq!(walk.done, picks.len());
            len += walk.added_len;
            expandable = expandable - picks.len() + walk.added_expandable;
        }
        debug_assert_eq!(len, length(&tree));
        let mut tokens = Vec::with_capacity(len);
        let value = write(&tree, &mut tokens);
        (tokens, u32::from(value))
    }

    /// The value of an expression, or None if `tokens` (after trailing [`PAD`]s are dropped)
    /// is not exactly one well-formed expression: a digit, or an operator, one or more
    /// expressions and [`CLOSE`].
    pub fn evaluate(tokens: &[u32]) -> Option<u32> {
        let end = tokens
            .iter()
            .rposition(|&t| t != PAD)
            .map_or(0, |last| last + 1);
        let tokens = &tokens[..end];
        // An explicit stack, so that deeply nested input cannot overflow the call stack.
        let mut open: Vec<(Op, Vec<u8>)> = Vec::new();
        let mut result = None;
        for (i, &t) in tokens.iter().enumerate() {
            let value = if let Some(op) = Op::from_token(t) {
                open.push((op, Vec::new()));
                continue;
            } else if (DIGIT_0..DIGIT_0 + 10).contains(&t) {
                (t - DIGIT_0) as u8
            } else if t == CLOSE {
                let (op, mut args) = open.pop()?;
                if args.is_empty() {
                    return None;
                }
                op.apply(&mut args)
            } else {
                return None;
            };
            match open.last_mut() {
                Some((_, args)) => args.push(value),
                // A complete expression: it must be the last token.
                None => {
                    if i + 1 != tokens.len() {
                        return None;
                    }
                    result = Some(u32::from(value));
                }
            }
        }
        result
    }

    /// Tokens as text, separated by spaces: `[MAX 2 9 [MIN 4 7 ] 0 ]`. Padding shows as
    /// `_`, an id outside the vocabulary as `<id>`.
    pub fn render(tokens: &[u32]) -> String {
        let words: Vec<String> = tokens
            .iter()
            .map(|&t| match t {
                PAD => "_".to_string(),
                MIN => "[MIN".to_string(),
                MAX => "[MAX".to_string(),
                MED => "[MED".to_string(),
                SM => "[SM".to_string(),
                CLOSE => "]".to_string(),
                d if (DIGIT_0..DIGIT_0 + 10).contains(&d) => (d - DIGIT_0).to_string(),
                other => format!("<{other}>"),
            })
            .collect();
        words.join(" ")
    }
}

/// A sequence-to-sequence task posed as next-token prediction; see [`seq_example`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SeqTask {
    /// The answer is the input string itself.
    Copy,
    /// The answer is the input string backwards.
    Reverse,
    /// The answer is the input's symbols in ascending order.
    Sort,
}

impl SeqTask {
    /// Every task, in a fixed order.
    pub const ALL: [SeqTask; 3] = [SeqTask::Copy, SeqTask::Reverse, SeqTask::Sort];

    /// The task named `copy`, `reverse` or `sort`; None for any other name.
    pub fn from_name(name: &str) -> Option<SeqTask> {
        match name {
            "copy" => Some(SeqTask::Copy),
            "reverse" => Some(SeqTask::Reverse),
            "sort" => Some(SeqTask::Sort),
            _ => None,
        }
    }

    /// The task's name, as [`SeqTask::from_name`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            SeqTask::Copy => "copy",
            SeqTask::Reverse => "reverse",
            SeqTask::Sort => "sort",
        }
    }

    /// The answer for input string `x`.
    fn answer(self, x: &[u32]) -> Vec<u32> {
        let mut y = x.to_vec();
        match self {
            SeqTask::Copy => {}
            SeqTask::Reverse => y.reverse(),
            SeqTask::Sort => y.sort_unstable(),
        }
        y
    }
}

/// The separator token of [`seq_example`] (also its padding).
pub const SEQ_SEP: u32 = 0;

/// One example of `task` for a causal language model: `length` input tokens and, per input
/// position, the next token to predict or -1 where nothing is scored.
///
/// Token 0 ([`SEQ_SEP`]) separates; the symbols are `1..vocab`. With `n = length / 2`, a
/// string `x` of `n` symbols is drawn uniformly and `y` is its answer (`x`, `x` reversed, or
/// `x` sorted ascending). The full sequence is `x ++ [SEP] ++ y`, `2n + 1` tokens, with one
/// more SEP at the end when `length` is odd so that it has `length + 1` tokens. Then
/// `inputs = full[..length]` and `targets[i] = full[i + 1]` for the `n` positions
/// `i = n ..= 2n - 1`, the ones whose next token is `y[i - n]`; every other target is -1:
/// the string itself is random, and the separator and the padding are fixed, so only the
/// answer carries signal.
///
/// Worked example, `Reverse`, `length` 9 (so `n` = 4), `x` = `3 1 4 1`:
///
/// ```text
/// full     3  1  4  1  0  1  4  1  3  0
/// inputs   3  1  4  1  0  1  4  1  3
/// targets -1 -1 -1 -1  1  4  1  3 -1
/// ```
///
/// Errors: `vocab < 3` (the separator and at least two symbols are needed for the task to
/// mean anything; `vocab` must also fit `u32`), `length < 4` (at least two symbols).
pub fn seq_example(
    task: SeqTask,
    rng: &mut impl Rng,
    length: usize,
    vocab: usize,
) -> Result<(Vec<u32>, Vec<i64>), String> {
    if vocab < 3 {
        return Err(format!(
            "the {} task needs a vocabulary of at least 3 tokens (a separator and two symbols), \
             but the vocabulary has {vocab}",
            task.name()
        ));
    }
    let vocab = u32::try_from(vocab).map_err(|_| {
        format!(
            "the {} task's vocabulary of {vocab} tokens is larger than token ids can count ({})",
            task.name(),
            u32::MAX
        )
    })?;
    if length < 4 {
        return Err(format!(
            "the {} task needs a sequence length of at least 4 (two symbols, the separator and \
             an answer), but the length is {length}",
            task.name()
        ));
    }
    let n = length / 2;
    let x: Vec<u32> = (0..n).map(|_| rng.random_range(1..vocab)).collect();
    let y = task.answer(&x);
    let mut full = Vec::with_capacity(length + 1);
    full.extend_from_slice(&x);
    full.push(SEQ_SEP);
    full.extend_from_slice(&y);
    full.resize(length + 1, SEQ_SEP);
    let inputs = full[..length].to_vec();
    let targets = (0..length)
        .map(|i| {
            if (n..2 * n).contains(&i) {
                i64::from(full[i + 1])
            } else {
                -1
            }
        })
        .collect();
    Ok((inputs, targets))
}

#[cfg(test)]
mod tests {
    use super::listops::{self, CLOSE, MAX, MED, MIN, PAD, SM};
    use super::*;
    use crate::interp::strategy::rng;

    fn d(v: u32) -> u32 {
        listops::digit(v)
    }

    // ---- ListOps ----

    #[test]
    fn listops_labels_match_evaluate() {
        let mut r = rng(1);
        for i in 0..1000 {
            let max_len = [16, 64, 200, 500][i % 4];
            let (tokens, label) = listops::generate(&mut r, max_len);
            assert_eq!(
                listops::evaluate(&tokens),
                Some(label),
                "{}",
                listops::render(&tokens)
            );
            assert!(label < listops::CLASSES as u32);
            assert!(tokens
                .iter()
                .all(|&t| (t as usize) < listops::VOCAB && t != PAD));
        }
    }

    #[test]
    fn listops_lengths_within_bounds() {
        let mut r = rng(2);
        for (max_len, n) in [
            (0, 50),
            (1, 50),
            (2, 50),
            (3, 50),
            (4, 200),
            (5, 200),
            (16, 500),
            (64, 500),
            (500, 300),
            (2000, 50),
        ] {
            let (lo, hi) = listops::length_bounds(max_len);
            assert!(lo <= hi && lo >= 1);
            assert_eq!(hi, if max_len < 4 { 1 } else { max_len });
            for _ in 0..n {
                let (tokens, label) = listops::generate(&mut r, max_len);
                assert!(
                    (lo..=hi).contains(&tokens.len()),
                    "max_len {max_len}: length {} not in {lo}..={hi}",
                    tokens.len()
                );
                assert_eq!(listops::evaluate(&tokens), Some(label));
            }
        }
        assert_eq!(listops::length_bounds(3), (1, 1));
        assert_eq!(listops::length_bounds(4), (4, 4));
        assert_eq!(listops::length_bounds(16), (4, 16));
        assert_eq!(listops::length_bounds(2000), (500, 2000));
    }

    #[test]
    fn listops_root_is_an_operator_when_one_fits() {
        let mut r = rng(3);
        for max_len in [4, 5, 16, 500] {
            for _ in 0..100 {
                let (tokens, _) = listops::generate(&mut r, max_len);
                assert!(
                    (MIN..=SM).contains(&tokens[0]),
                    "{}",
                    listops::render(&tokens)
                );
                assert_eq!(*tokens.last().expect("non-empty"), CLOSE);
            }
        }
        for max_len in [1, 2, 3] {
            let (tokens, label) = listops::generate(&mut r, max_len);
            assert_eq!(tokens, vec![d(label)]);
        }
    }

    /// Panics unless `tokens` nests at most `MAX_DEPTH` deep (digits included) and every
    /// operator has `MIN_ARGS..=MAX_ARGS` arguments.
    fn assert_shape(tokens: &[u32]) {
        // Arguments so far of each open operator.
        let mut args: Vec<u32> = Vec::new();
        for &t in tokens {
            if let Some(a) = args.last_mut() {
                if t != CLOSE {
                    *a += 1;
                }
            }
            if (MIN..=SM).contains(&t) {
                args.push(0);
                assert!(args.len() < listops::MAX_DEPTH as usize);
            } else if t == CLOSE {
                let k = args.pop().expect("balanced");
                assert!((listops::MIN_ARGS..=listops::MAX_ARGS).contains(&k), "{k}");
            } else {
                assert!(args.len() < listops::MAX_DEPTH as usize);
            }
        }
        assert!(args.is_empty());
    }

    #[test]
    fn listops_trees_respect_depth_and_arity() {
        let mut r = rng(4);
        for max_len in [4, 16, 500, 2000] {
            for _ in 0..100 {
                assert_shape(&listops::generate(&mut r, max_len).0);
            }
        }
        // The checker itself: depth 10 is allowed, 11 is not; one argument is too few.
        // [MAX 0 [MAX 0 ... [MAX 0 1 ] ... ] ]: nine operators, the last digits at depth 10.
        let mut deep: Vec<u32> = [MAX, d(0)].repeat(9);
        deep.push(d(1));
        deep.extend([CLOSE; 9]);
        assert_shape(&deep);
        deep.splice(0..0, [MIN, d(0)]);
        deep.push(CLOSE);
        assert!(std::panic::catch_unwind(|| assert_shape(&deep)).is_err());
        assert!(std::panic::catch_unwind(|| assert_shape(&[MAX, d(1), CLOSE])).is_err());
    }

    #[test]
    fn listops_every_label_occurs_and_none_dominates() {
        let mut r = rng(5);
        let mut counts = [0usize; listops::CLASSES];
        let n = 2000;
        for _ in 0..n {
            let (_, label) = listops::generate(&mut r, 500);
            counts[label as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
        assert!(counts.iter().all(|&c| c * 10 < n * 6), "{counts:?}");
    }

    #[test]
    fn listops_is_deterministic_per_seed() {
        let run = |seed| {
            let mut r = rng(seed);
            (0..50)
                .map(|_| listops::generate(&mut r, 300))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        // Fixed values, so that a change of generator, draw order or distribution (which
        // would change every data set made from a seed) is noticed.
        let (tokens, label) = listops::generate(&mut rng(7), 16);
        assert_eq!(listops::render(&tokens), "[MIN 4 4 3 ]");
        assert_eq!(label, 3);
        let example = seq_example(SeqTask::Sort, &mut rng(7), 9, 10).expect("valid");
        assert_eq!(
            example,
            (
                vec![1, 2, 7, 4, 0, 1, 2, 4, 7],
                vec![-1, -1, -1, -1, 1, 2, 4, 7, -1]
            )
        );
    }

    /// Tokens from text as [`listops::render`] writes it (`_` is padding, `<n>` id n).
    fn parse(text: &str) -> Vec<u32> {
        text.split_whitespace()
            .map(|w| match w {
                "_" => PAD,
                "[MIN" => MIN,
                "[MAX" => MAX,
                "[MED" => MED,
                "[SM" => SM,
                "]" => CLOSE,
                _ => match w.strip_prefix('<').and_then(|w| w.strip_suffix('>')) {
                    Some(id) => id.parse().expect("an id"),
                    None => d(w.parse().expect("a digit")),
                },
            })
            .collect()
    }

    #[test]
    fn listops_hand_written_expressions() {
        for (text, value) in [
            ("7", 7),
            ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
            ("[MIN 3 5 1 ]", 1),
            ("[MAX 0 0 ]", 0),
            ("[MED 1 2 3 4 ]", 2),
            ("[MED 8 9 ]", 8),
            ("[MED 9 1 5 ]", 5),
            ("[MED 7 0 9 1 ]", 4),
            ("[MED 4 ]", 4),
            ("[SM 7 8 ]", 5),
            ("[SM 0 0 ]", 0),
            ("[SM 9 9 9 9 9 9 9 9 9 9 ]", 0),
            // (8 + 5 + 0) % 10
            ("[SM [MAX 3 8 ] [MED 1 9 ] [MIN 6 [SM 5 5 ] ] ]", 3),
            ("[MIN [MAX [MED [SM 4 4 ] 2 ] 1 ] 9 ]", 5),
            ("7 _ _", 7),
            ("[MAX 1 2 ] _", 2),
        ] {
            let tokens = parse(text);
            assert_eq!(listops::render(&tokens), text);
            assert_eq!(listops::evaluate(&tokens), Some(value), "{text}");
        }
    }

    #[test]
    fn listops_malformed_input_is_none() {
        for text in [
            "",
            "_ _",
            "]",
            "[MAX",
            "[MAX ]",
            "[MAX 1 2",
            "[MAX 1 ] ]",
            "1 2",
            "[MAX 1 ] 2",
            "[MAX 1 _ 2 ]",
            "_ 3",
            "[MAX 1 <16> ]",
            "[MIN 1 <4294967295> ]",
            "[SM [MIN 1 2 ]",
        ] {
            let tokens = parse(text);
            assert_eq!(listops::evaluate(&tokens), None, "{text}");
        }
    }

    #[test]
    fn listops_deep_nesting_does_not_overflow() {
        let depth = 200_000;
        let mut tokens = vec![MAX; depth];
        tokens.push(d(4));
        tokens.extend(std::iter::repeat_n(CLOSE, depth));
        assert_eq!(listops::evaluate(&tokens), Some(4));
    }

    #[test]
    fn listops_render() {
        let tokens = vec![MAX, d(2), d(9), MIN, d(4), d(7), CLOSE, d(0), CLOSE, PAD];
        assert_eq!(listops::render(&tokens), "[MAX 2 9 [MIN 4 7 ] 0 ] _");
        let all: Vec<u32> = (0..listops::VOCAB as u32).collect();
        assert_eq!(
            listops::render(&all),
            "_ 0 1 2 3 4 5 6 7 8 9 [MIN [MAX [MED [SM ]"
        );
        assert_eq!(listops::render(&[MED, SM, 99]), "[MED [SM <99>");
        assert_eq!(listops::render(&[]), "");
    }

    #[test]
    fn listops_very_long_sequences_still_terminate() {
        // Far beyond LRA's lengths: sampling gives up and the tree is grown to length.
        let mut r = rng(6);
        for max_len in [20_000, 100_000] {
            let (tokens, label) = listops::generate(&mut r, max_len);
            let (lo, hi) = listops::length_bounds(max_len);
            assert!((lo..=hi).contains(&tokens.len()), "{}", tokens.len());
            assert_eq!(listops::evaluate(&tokens), Some(label));
            assert_shape(&tokens);
        }
    }

    /// Run with `cargo test --release --lib generate -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not correctness"]
    fn listops_timing() {
        for (max_len, n) in [(16, 10_000), (500, 10_000), (2000, 1_000), (8192, 100)] {
            let mut r = rng(0);
            let start = std::time::Instant::now();
            let mut total = 0;
            for _ in 0..n {
                total += listops::generate(&mut r, max_len).0.len();
            }
            println!(
                "listops: {n} examples at max_len {max_len} in {:.3} s (mean length {:.0})",
                start.elapsed().as_secs_f64(),
                total as f64 / n as f64
            );
        }
    }

    // ---- copy, reverse, sort ----

    /// The scored targets of an example, in order.
    fn scored(targets: &[i64]) -> Vec<u32> {
        targets
            .iter()
            .filter(|&&t| t != -1)
            .map(|&t| u32::try_from(t).expect("a token id"))
            .collect()
    }

    #[test]
    fn seq_targets_are_the_answer() {
        let mut r = rng(10);
        for task in SeqTask::ALL {
            for length in [4, 5, 6, 7, 16, 33, 128] {
                for vocab in [3, 4, 10, 300] {
                    let (inputs, targets) =
                        seq_example(task, &mut r, length, vocab).expect("valid settings");
                    let n = length / 2;
                    assert_eq!(inputs.len(), length);
                    assert_eq!(targets.len(), length);
                    assert!(inputs.iter().all(|&t| (t as usize) < vocab));
                    let x = &inputs[..n];
                    assert!(x.iter().all(|&t| t != SEQ_SEP));
                    assert_eq!(inputs[n], SEQ_SEP);
                    let mut y = x.to_vec();
                    match task {
                        SeqTask::Copy => {}
                        SeqTask::Reverse => y.reverse(),
                        SeqTask::Sort => y.sort(),
                    }
                    assert_eq!(scored(&targets), y, "{task:?} length {length}");
                    // The scored positions are n..2n, and each is the next input token
                    // (or, for the last answer token when length is even, beyond it).
                    for (i, &t) in targets.iter().enumerate() {
                        assert_eq!(t != -1, (n..2 * n).contains(&i), "position {i}");
                        if t != -1 && i + 1 < length {
                            assert_eq!(t, i64::from(inputs[i + 1]));
                        }
                    }
                    // The answer, except its last token, is in the inputs after SEP.
                    assert_eq!(&inputs[n + 1..2 * n], &y[..n - 1]);
                    if length % 2 == 1 {
                        assert_eq!(inputs[length - 1], y[n - 1]);
                    }
                }
            }
        }
    }

    #[test]
    fn seq_worked_example_layout() {
        // Find an example and check the documented layout literally.
        let mut r = rng(11);
        let (inputs, targets) = seq_example(SeqTask::Reverse, &mut r, 9, 10).expect("valid");
        let x = &inputs[..4];
        let mut y = x.to_vec();
        y.reverse();
        let mut expect_inputs = x.to_vec();
        expect_inputs.push(0);
        expect_inputs.extend_from_slice(&y);
        assert_eq!(inputs, expect_inputs);
        let mut expect_targets = vec![-1i64; 4];
        expect_targets.extend(y.iter().map(|&t| i64::from(t)));
        expect_targets.push(-1);
        assert_eq!(targets, expect_targets);
    }

    #[test]
    fn seq_sort_answer_is_sorted_copy_of_input() {
        let mut r = rng(12);
        let (inputs, targets) = seq_example(SeqTask::Sort, &mut r, 64, 5).expect("valid");
        let y = scored(&targets);
        assert!(y.windows(2).all(|w| w[0] <= w[1]));
        let mut x = inputs[..32].to_vec();
        x.sort();
        assert_eq!(x, y);
    }

    #[test]
    fn seq_errors() {
        let mut r = rng(13);
        for vocab in [0, 1, 2] {
            let e = seq_example(SeqTask::Copy, &mut r, 16, vocab).expect_err("tiny vocab");
            assert!(e.contains("vocabulary"), "{e}");
        }
        for length in [0, 1, 2, 3] {
            let e = seq_example(SeqTask::Sort, &mut r, length, 10).expect_err("tiny length");
            assert!(e.contains("length"), "{e}");
        }
        assert!(seq_example(SeqTask::Reverse, &mut r, 4, 3).is_ok());
        if usize::BITS > 32 {
            let huge = u32::MAX as usize + 1;
            assert!(seq_example(SeqTask::Copy, &mut r, 8, huge).is_err());
        }
    }

    #[test]
    fn seq_is_deterministic_per_seed() {
        let run = |seed| {
            let mut r = rng(seed);
            (0..20)
                .map(|_| seq_example(SeqTask::Copy, &mut r, 32, 50).expect("valid"))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn seq_task_names() {
        for task in SeqTask::ALL {
            assert_eq!(SeqTask::from_name(task.name()), Some(task));
        }
        assert_eq!(SeqTask::from_name("Copy"), None);
        assert_eq!(SeqTask::from_name(""), None);
    }
}
