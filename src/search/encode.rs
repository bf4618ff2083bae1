//! Hyperparameter values as numbers a model can use: the index of a value of a finite
//! domain, and the position of a numeric value in its interval (on a log scale where the
//! domain is one). TPE and the Gaussian process read assignments only through these.

use crate::check::quantum;
use crate::interp::{int_step, Domain, Pick};

/// Finite domains with at most this many values are modelled value by value (as
/// categories); larger ones as numbers.
pub const MAX_CATEGORIES: u64 = 32;

/// Whether `domain` is modelled as categories (a choice, an `optional`, a short range).
pub fn categorical(domain: &Domain) -> bool {
    match domain {
        Domain::Choice { .. } | Domain::OnOff => true,
        Domain::Int { .. } | Domain::Float { q: Some(_), .. } => {
            domain.size().is_some_and(|n| n <= MAX_CATEGORIES)
        }
        Domain::Float { q: None, .. } => false,
    }
}

/// The index of `pick` among the values of a finite domain (the inverse of
/// [`Domain::nth`]).
pub fn index_of(domain: &Domain, pick: &Pick) -> Option<u64> {
    let k = match (domain, pick) {
        (Domain::Choice { .. }, Pick::Index(k)) => u64::from(*k),
        (Domain::OnOff, Pick::On(b)) => u64::from(*b),
        (Domain::Int { lo, step, .. }, Pick::Int(v)) => {
            if v < lo || *step <= 0 {
                return None;
            }
            v.abs_diff(*lo) / int_step(*step)
        }
        (
            Domain::Float {
                lo, hi, q: Some(q), ..
            },
            Pick::Float(v),
        ) => {
            let (first, _) = quantum::grid(*lo, *hi, *q)?;
            let k = quantum::index(*v, *q)?;
            if k < first {
                return None;
            }
            k.abs_diff(first)
        }
        _ => return None,
    };
    (k < domain.size()?).then_some(k)
}

/// The position of a numeric `pick` in its domain's interval, in `[0, 1]` (log scale for a
/// log domain); `None` for a choice or an `optional`.
pub fn unit(domain: &Domain, pick: &Pick) -> Option<f64> {
    let u = match (domain, pick) {
        (Domain::Int { lo, hi, .. }, Pick::Int(v)) => {
            if hi <= lo {
                0.5
            } else {
                // In `f64`: `hi - lo` overflows `i64` on the widest ranges.
                (*v as f64 - *lo as f64) / (*hi as f64 - *lo as f64)
            }
        }
        (Domain::Float { lo, hi, log, .. }, Pick::Float(v)) => {
            let (a, b, x) = if *log && *lo > 0.0 {
                (lo.ln(), hi.ln(), v.max(*lo).ln())
            } else {
                (*lo, *hi, *v)
            };
            if b <= a {
                0.5
            } else {
                (x - a) / (b - a)
            }
        }
        (Domain::Choice { .. } | Domain::OnOff, _) => return None,
        _ => return None,
    };
    Some(u.clamp(0.0, 1.0))
}

/// The value of a numeric domain at position `u` of its interval: the nearest integer
/// of a range (on its step), the nearest multiple of a quantum. A choice or an `optional`
/// gets its value nearest to that position in its order.
pub fn from_unit(domain: &Domain, u: f64) -> Pick {
    let u = u.clamp(0.0, 1.0);
    match domain {
        Domain::Int { lo, hi, step } => {
            if hi <= lo {
                return Pick::Int(*lo);
            }
            // `Domain::nth` adds the steps without overflowing `i64`.
            // (`f64` rounds the widest ranges up: clamp to the last step.)
            let steps = hi.abs_diff(*lo) / int_step(*step);
            domain.nth(((u * steps as f64).round() as u64).min(steps))
        }
        Domain::Float { lo, hi, log, q } => {
            let v = if *log && *lo > 0.0 {
                (lo.ln() + u * (hi.ln() - lo.ln())).exp()
            } else {
                lo + u * (hi - lo)
            };
            let v = v.clamp(*lo, *hi);
            match q {
                Some(q) => match quantum::grid(*lo, *hi, *q) {
                    Some(grid) => Pick::Float(quantum::value(quantum::nearest(v, *q, grid), *q)),
                    None => Pick::Float(v),
                },
                _ => Pick::Float(v),
            }
        }
        Domain::Choice { .. } | Domain::OnOff => {
            let n = domain.size().unwrap_or(1).max(1);
            domain.nth(((u * n as f64) as u64).min(n - 1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_of_inverts_nth_on_every_finite_kind() {
        let domains = [
            Domain::OnOff,
            Domain::Int {
                lo: 2,
                hi: 11,
                step: 3,
            },
            Domain::Float {
                lo: 0.1,
                hi: 0.55,
                log: false,
                q: Some(0.05),
            },
        ];
        for d in &domains {
            let n = d.size().unwrap();
            assert!(n > 1);
            for k in 0..n {
                assert_eq!(index_of(d, &d.nth(k)), Some(k), "{d} value {k}");
            }
        }
    }

    #[test]
    fn unit_and_from_unit_round_trip_numbers() {
        let log = Domain::Float {
            lo: 1e-4,
            hi: 1e-2,
            log: true,
            q: None,
        };
        assert!((unit(&log, &Pick::Float(1e-3)).unwrap() - 0.5).abs() < 1e-12);
        let Pick::Float(v) = from_unit(&log, 0.5) else {
            panic!("a float")
        };
        assert!((v - 1e-3).abs() < 1e-12);
        let int = Domain::Int {
            lo: 1,
            hi: 9,
            step: 2,
        };
        assert_eq!(from_unit(&int, 0.5), Pick::Int(5));
        assert_eq!(from_unit(&int, 0.6), Pick::Int(5));
        assert_eq!(from_unit(&int, 1.0), Pick::Int(9));
        assert_eq!(unit(&int, &Pick::Int(3)), Some(0.25));
    }

    #[test]
    fn the_widest_ranges_do_not_overflow() {
        // `range(-2^63 + 1, 2^63 - 1)` once overflowed `hi - lo` in `Domain::size`.
        let (lo, hi) = (i64::MIN + 1, i64::MAX);
        let wide = Domain::Int { lo, hi, step: 1 };
        assert_eq!(wide.size(), Some(u64::MAX));
        assert_eq!(wide.nth(0), Pick::Int(lo));
        assert_eq!(wide.nth(u64::MAX - 1), Pick::Int(hi));
        assert!(wide.contains(&Pick::Int(hi)) && wide.contains(&Pick::Int(0)));
        assert_eq!(index_of(&wide, &Pick::Int(hi)), Some(u64::MAX - 1));
        assert_eq!(unit(&wide, &Pick::Int(hi)), Some(1.0));
        assert_eq!(from_unit(&wide, 0.0), Pick::Int(lo));
        assert_eq!(from_unit(&wide, 1.0), Pick::Int(hi));
        let stepped = Domain::Int {
            lo: i64::MIN,
            hi: i64::MAX,
            step: 1 << 62,
        };
        assert_eq!(stepped.size(), Some(4));
        assert_eq!(stepped.nth(3), Pick::Int(1 << 62));
        assert!(stepped.contains(&Pick::Int(1 << 62)));
        assert!(!stepped.contains(&Pick::Int(1)));
        assert_eq!(from_unit(&stepped, 1.0), Pick::Int(1 << 62));
        let mut rng = crate::interp::strategy::rng(7);
        for _ in 0..100 {
            assert!(wide.contains(&crate::interp::strategy::random_pick(&wide, &mut rng)));
        }
    }
}
