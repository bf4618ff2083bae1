//! Counting weights: numbers of assignments, split by which conditionally active
//! hyperparameters they activate.
//!
//! A named hyperparameter used only inside an `optional`, a branch or a repeat is active
//! in some architectures and not in others; an assignment counts it only when it is
//! active. A [`Weight`] keeps, for each set of such hyperparameters (a bit mask), how many
//! local assignments activate exactly that set. Sequencing multiplies weights (the sets
//! join), alternatives add them.

use num_bigint::BigUint;
use num_traits::{One, Zero};

/// Counts keyed by the set of activated hyperparameters.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Weight {
    /// `(mask, count)`, masks distinct and sorted, counts non-zero.
    pub terms: Vec<(u64, BigUint)>,
}

/// The most terms a weight may hold before counting gives up.
pub const MAX_TERMS: usize = 4096;

/// The most bits a count may take (a number of about 19,700 decimal digits): a repeat
/// whose count would pass it is not counted, rather than raising a number to a power
/// that fills the memory (`repeat n { repeat n { repeat n { ... } } }`).
pub const MAX_COUNT_BITS: u64 = 1 << 16;

impl Weight {
    /// No assignment at all.
    pub fn zero() -> Weight {
        Weight { terms: Vec::new() }
    }

    /// Exactly one assignment, activating nothing.
    pub fn one() -> Weight {
        Weight {
            terms: vec![(0, BigUint::one())],
        }
    }

    /// `n` assignments activating nothing.
    pub fn count(n: BigUint) -> Weight {
        let mut w = Weight {
            terms: vec![(0, n)],
        };
        w.normalize();
        w
    }

    /// One assignment that activates `mask`.
    pub fn tag(mask: u64) -> Weight {
        Weight {
            terms: vec![(mask, BigUint::one())],
        }
    }

    /// Whether there is no assignment.
    pub fn is_zero(&self) -> bool {
        self.terms.is_empty()
    }

    fn normalize(&mut self) {
        self.terms.sort_by_key(|t| t.0);
        let mut out: Vec<(u64, BigUint)> = Vec::with_capacity(self.terms.len());
        for (m, c) in self.terms.drain(..) {
            match out.last_mut() {
                Some((lm, lc)) if *lm == m => *lc += c,
                _ => out.push((m, c)),
            }
        }
        out.retain(|(_, c)| !c.is_zero());
        self.terms = out;
    }

    /// The sum: either these assignments or those.
    pub fn add(&self, other: &Weight) -> Weight {
        let mut w = Weight {
            terms: self
                .terms
                .iter()
                .chain(other.terms.iter())
                .cloned()
                .collect(),
        };
        w.normalize();
        w
    }

    /// The product: these assignments together with those.
    pub fn mul(&self, other: &Weight) -> Weight {
        if self.terms.len() == 1 && self.terms[0].0 == 0 && self.terms[0].1.is_one() {
            return other.clone();
        }
        let mut terms = Vec::with_capacity(self.terms.len() * other.terms.len());
        for (a, ca) in &self.terms {
            for (b, cb) in &other.terms {
                terms.push((a | b, ca * cb));
            }
        }
        let mut w = Weight { terms };
        w.normalize();
        w
    }

    /// An upper bound of the base-2 logarithm of the largest count (0 for counts of one).
    pub fn log2_bound(&self) -> u64 {
        self.terms
            .iter()
            .map(|(_, c)| if c.is_one() { 0 } else { c.bits() })
            .max()
            .unwrap_or(0)
    }

    /// `self` multiplied `n` times (a repeat of `n` independent copies).
    pub fn pow(&self, mut n: u64) -> Weight {
        let mut base = self.clone();
        let mut acc = Weight::one();
        while n > 0 {
            if n & 1 == 1 {
                acc = acc.mul(&base);
            }
            n >>= 1;
            if n > 0 {
                base = base.mul(&base);
            }
        }
        acc
    }

    /// Multiplies each count by a plain number.
    pub fn scale(&self, k: &BigUint) -> Weight {
        let mut w = Weight {
            terms: self.terms.iter().map(|(m, c)| (*m, c * k)).collect(),
        };
        w.normalize();
        w
    }

    /// Resolves bit `bit`, set in `mask` terms, into a factor `size` (the hyperparameter's
    /// number of values): each term that activates it is multiplied by `size`.
    pub fn resolve(&self, bit: u64, size: &BigUint) -> Weight {
        let mut w = Weight {
            terms: self
                .terms
                .iter()
                .map(|(m, c)| {
                    if m & bit != 0 {
                        (m & !bit, c * size)
                    } else {
                        (*m, c.clone())
                    }
                })
                .collect(),
        };
        w.normalize();
        w
    }

    /// Keeps the terms whose mask has `bit` set (`set`) or not set (`!set`), clearing it.
    pub fn select(&self, bit: u64, set: bool) -> Weight {
        let mut w = Weight {
            terms: self
                .terms
                .iter()
                .filter(|(m, _)| (m & bit != 0) == set)
                .map(|(m, c)| (m & !bit, c.clone()))
                .collect(),
        };
        w.normalize();
        w
    }

    /// The total over all masks.
    pub fn total(&self) -> BigUint {
        self.terms.iter().map(|(_, c)| c).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_use_of_a_shared_parameter_counts_once_per_value() {
        // optional dropout(rate = r) with r in {0.1, 0.2}: off (r inactive) or on with r.
        let body = Weight::tag(1);
        let optional = Weight::one().add(&body);
        let total = optional.resolve(1, &BigUint::from(2u32));
        assert_eq!(total.total(), BigUint::from(3u32));
    }

    #[test]
    fn repeat_is_a_power_and_tags_join() {
        let body = Weight::one().add(&Weight::tag(1)); // optional use of one parameter
        let three = body.pow(3);
        // 8 local assignments; 1 activates nothing, 7 activate the parameter.
        assert_eq!(three.select(1, false).total(), BigUint::from(1u32));
        assert_eq!(three.select(1, true).total(), BigUint::from(7u32));
    }
}
