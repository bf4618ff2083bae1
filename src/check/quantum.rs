//! The values of a quantised domain: `uniform(lo, hi, q = 0.1)` (or `log_uniform`) takes
//! the multiples `k · q` of its quantum that lie in `[lo, hi]`. The checker counts them,
//! the interpreter samples, enumerates and validates them, and the strategies encode them,
//! all through these functions, so that every part of `nasc` sees the same grid.
//!
//! Bounds and values are compared with a tolerance of a billionth of a step, so that
//! `uniform(0.0, 0.3, q = 0.1)` holds `0.3` although `0.3 / 0.1` is `2.9999999999999996`
//! in floating point. A value is written as the decimal it stands for when the quantum is
//! a decimal (`0.1`, `0.05`, `2.5e-4`): `3 · 0.1` is `0.3`, not `0.30000000000000004`, so
//! the same point of the grid always has the same value, and the same hash.

/// The first and last `k` whose multiple `k · q` lies in `[lo, hi]`; `None` when there is
/// none (or `q` is not a positive finite number, or the grid does not fit an `i64`).
pub fn grid(lo: f64, hi: f64, q: f64) -> Option<(i64, i64)> {
    if !(q > 0.0 && q.is_finite() && lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let (a, b) = (lo / q, hi / q);
    let first = (a - tolerance(a)).ceil();
    let last = (b + tolerance(b)).floor();
    // Past 2^62 the grid is no longer one of distinct floats anyway.
    let fits = |x: f64| x.abs() < (1u64 << 62) as f64;
    (first <= last && fits(first) && fits(last)).then_some((first as i64, last as i64))
}

/// Whether the grid of `[lo, hi]` by `q` has points but too many to number (past 2^62).
pub fn too_fine(lo: f64, hi: f64, q: f64) -> bool {
    q > 0.0 && grid(lo, hi, q).is_none() && (hi / q - lo / q) >= 1.0
}

/// The number of values of the grid of `[lo, hi]` by `q` (0 when it is empty).
pub fn size(lo: f64, hi: f64, q: f64) -> u64 {
    grid(lo, hi, q).map_or(0, |(a, b)| b.abs_diff(a) + 1)
}

/// The value `k · q`, as the decimal it stands for when `q` is a decimal.
pub fn value(k: i64, q: f64) -> f64 {
    if let Some((m, d)) = decimal(q) {
        if let Some(n) = i64::try_from(i128::from(k) * i128::from(m))
            .ok()
            .filter(|n| n.unsigned_abs() < 1 << 53)
        {
            // Both exact in an `f64`: the division rounds once, to the nearest value of
            // the decimal `n / 10^d`.
            return n as f64 / 10f64.powi(d);
        }
    }
    k as f64 * q
}

/// The `k` whose value `v` is (within a millionth of a step), if it is one.
pub fn index(v: f64, q: f64) -> Option<i64> {
    if !(q > 0.0 && q.is_finite() && v.is_finite()) {
        return None;
    }
    let x = v / q;
    let k = x.round();
    ((x - k).abs() < 1e-6 && k.abs() < (1u64 << 62) as f64).then_some(k as i64)
}

/// The nearest `k` of the grid `(first, last)` to the value `v`.
pub fn nearest(v: f64, q: f64, (first, last): (i64, i64)) -> i64 {
    let k = (v / q).round();
    if k.is_nan() {
        return first;
    }
    (k.clamp(first as f64, last as f64) as i64).clamp(first, last)
}

/// How far from an integer a quotient may be and still count as one.
fn tolerance(x: f64) -> f64 {
    1e-9 * x.abs().max(1.0)
}

/// `q` as `m / 10^d` with the fewest decimals `d` (at most 15), when it is a decimal of
/// at most nine significant digits (`m` up to 10^9: far above the rounding error of
/// `q · 10^d`, far below the distance to an integer of a quantum like a third).
fn decimal(q: f64) -> Option<(i64, i32)> {
    (0..=15).find_map(|d| {
        let m = q * 10f64.powi(d);
        let r = m.round();
        ((1.0..=1e9).contains(&r) && (m - r).abs() <= 1e-10 * r).then_some((r as i64, d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_that_is_a_multiple_up_to_rounding_is_on_the_grid() {
        assert_eq!(grid(0.0, 0.3, 0.1), Some((0, 3)));
        assert_eq!(grid(0.0, 0.7, 0.1), Some((0, 7)));
        assert_eq!(grid(0.05, 0.3, 0.1), Some((1, 3)));
        assert_eq!(grid(0.1, 0.3, 0.1), Some((1, 3)));
        // Bounds between multiples keep only the multiples inside.
        assert_eq!(grid(0.0, 0.25, 0.1), Some((0, 2)));
        assert_eq!(size(0.0, 0.6, 0.2), 4);
        assert_eq!(size(1e-4, 3e-3, 1e-4), 30);
    }

    #[test]
    fn a_grid_with_no_multiple_in_range_is_empty() {
        assert_eq!(grid(0.01, 0.02, 0.1), None);
        assert_eq!(size(0.01, 0.02, 0.1), 0);
        assert_eq!(grid(0.0, 1.0, 0.0), None);
        assert_eq!(grid(0.0, 1.0, f64::NAN), None);
        assert_eq!(grid(0.0, 1e300, 1e-300), None);
        assert!(too_fine(0.0, 1e300, 1e-300));
        assert!(!too_fine(0.01, 0.02, 0.1));
    }

    #[test]
    fn values_are_the_decimals_they_stand_for() {
        assert_eq!(value(3, 0.1), 0.3);
        assert_eq!(value(3, 0.05), 0.15);
        assert_eq!(value(6, 0.1), 0.6);
        assert_eq!(value(9, 0.1), 0.9);
        assert_eq!(value(-3, 0.1), -0.3);
        assert_eq!(value(7, 2.5e-4), 0.00175);
        assert_eq!(value(4, 0.5), 2.0);
        // A quantum that is no decimal keeps the product.
        let third = 1.0 / 3.0;
        assert_eq!(value(3, third), 3.0 * third);
    }

    #[test]
    fn every_value_is_found_again_and_near_misses_snap_to_it() {
        for q in [0.1, 0.05, 0.3, 2.5e-4, 1.0 / 3.0, 7.0] {
            for k in -50..50 {
                assert_eq!(index(value(k, q), q), Some(k), "k = {k}, q = {q}");
            }
        }
        assert_eq!(index(0.15000000000000002, 0.05), Some(3));
        assert_eq!(index(0.30000000000000004, 0.1), Some(3));
        assert_eq!(index(0.29999999999999993, 0.1), Some(3));
        assert_eq!(index(0.35, 0.1), None);
        assert_eq!(nearest(0.26, 0.1, (0, 2)), 2);
        assert_eq!(nearest(-5.0, 0.1, (0, 2)), 0);
    }
}
