//! The standard normal distribution: density, distribution function (through an `erf`
//! accurate to about 1e-7) and draws, for TPE's Parzen estimators and BO's acquisitions.

use rand::RngExt;

use crate::interp::strategy::Rng64;

/// The density of the standard normal at `x`.
pub fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The distribution function of the standard normal at `x`.
pub fn cdf(x: f64) -> f64 {
    0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2))
}

/// The error function (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
pub fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    sign * (1.0 - poly * (-x * x).exp())
}

/// A standard normal draw (Box-Muller).
pub fn draw(rng: &mut Rng64) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // in (0, 1]
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_matches_known_values() {
        // Φ(0) = 0.5, Φ(1) = 0.841344746, Φ(-1.96) = 0.0249979
        assert!((cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((cdf(1.0) - 0.841_344_746).abs() < 2e-7);
        assert!((cdf(-1.96) - 0.024_997_9).abs() < 2e-7);
    }

    #[test]
    fn draws_have_unit_variance() {
        let mut rng = crate::interp::strategy::rng(3);
        let xs: Vec<f64> = (0..20_000).map(|_| draw(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }
}
