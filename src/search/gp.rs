//! Exact Gaussian-process regression for BO's surrogate, on nalgebra's Cholesky
//! factorisation: a Matérn 5/2 kernel `s2 * (C(r / ls) + g * I)` over standardised
//! outputs, with its length scale `ls` and noise ratio `g` chosen on a grid by the
//! marginal likelihood, the amplitude `s2` at its closed-form maximum for each. A grid is
//! deterministic and cannot diverge: the fit either finds the best of the grid or, when
//! no covariance matrix factors, reports that it cannot.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// Length scales tried (inputs live in `[0, 1]` per coordinate).
const LENGTH_SCALES: [f64; 10] = [0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0];
/// Noise ratios tried.
const NOISES: [f64; 4] = [1e-4, 1e-2, 0.1, 0.3];

/// A fitted Gaussian process.
pub struct Gp {
    xs: Vec<Vec<f64>>,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
    /// Chosen length scale.
    pub ls: f64,
    /// Chosen noise ratio.
    pub noise: f64,
    /// Fitted amplitude.
    pub s2: f64,
    /// The outputs' mean and spread (predictions are in the original units).
    mean: f64,
    sd: f64,
}

/// The Matérn 5/2 correlation at distance `r` for length scale `ls`.
fn matern52(r: f64, ls: f64) -> f64 {
    let z = 5f64.sqrt() * r / ls;
    (1.0 + z + z * z / 3.0) * (-z).exp()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

impl Gp {
    /// Fits `ys` at `xs` (at least two points, all finite); `None` when no covariance
    /// matrix of the grid factors.
    pub fn fit(xs: Vec<Vec<f64>>, ys: &[f64]) -> Option<Gp> {
        let n = xs.len();
        if n < 2 || ys.len() != n || ys.iter().any(|y| !y.is_finite()) {
            return None;
        }
        let mean = ys.iter().sum::<f64>() / n as f64;
        let sd = (ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n as f64)
            .sqrt()
            .max(1e-12);
        let y = DVector::from_iterator(n, ys.iter().map(|v| (v - mean) / sd));
        let dist = DMatrix::from_fn(n, n, |i, j| distance(&xs[i], &xs[j]));
        let mut best: Option<(f64, Gp)> = None;
        for &ls in &LENGTH_SCALES {
            for &noise in &NOISES {
                let k = DMatrix::from_fn(n, n, |i, j| {
                    matern52(dist[(i, j)], ls) + if i == j { noise } else { 0.0 }
                });
                let Some(chol) = k.cholesky() else { continue };
                let alpha = chol.solve(&y);
                let quad = y.dot(&alpha).max(1e-300);
                let s2 = quad / n as f64;
                let log_det: f64 = chol.l_dirty().diagonal().iter().map(|d| d.ln()).sum();
                // Profile log-likelihood (constants dropped): -n/2 log s2 - log|C|/2.
                let ll = -0.5 * n as f64 * s2.ln() - log_det;
                if ll.is_finite() && best.as_ref().is_none_or(|(b, _)| ll > *b) {
                    best = Some((
                        ll,
                        Gp {
                            xs: Vec::new(),
                            chol,
                            alpha,
                            ls,
                            noise,
                            s2,
                            mean,
                            sd,
                        },
                    ));
                }
            }
        }
        let (_, mut gp) = best?;
        gp.xs = xs;
        Some(gp)
    }

    /// The predicted mean and variance of the latent function at `x`.
    pub fn predict(&self, x: &[f64]) -> (f64, f64) {
        let n = self.xs.len();
        let k = DVector::from_iterator(
            n,
            self.xs.iter().map(|xi| matern52(distance(xi, x), self.ls)),
        );
        let mean = k.dot(&self.alpha);
        let v = self
            .chol
            .l_dirty()
            .solve_lower_triangular(&k)
            .unwrap_or_else(|| DVector::zeros(n));
        let var = (self.s2 * (1.0 - v.dot(&v))).max(0.0);
        (self.mean + self.sd * mean, var * self.sd * self.sd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn learns_a_smooth_function() {
        let mut rng = crate::interp::strategy::rng(1);
        let f = |x: &[f64]| (x[0] - 0.3).powi(2) + (x[1] - 0.7).powi(2) + 0.5 * x[2];
        let point = |rng: &mut crate::interp::strategy::Rng64| -> Vec<f64> {
            (0..3).map(|_| rng.random::<f64>()).collect()
        };
        let xs: Vec<Vec<f64>> = (0..40).map(|_| point(&mut rng)).collect();
        let ys: Vec<f64> = xs.iter().map(|x| f(x)).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let var = ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64;
        let gp = Gp::fit(xs.clone(), &ys).expect("fits");
        let tests: Vec<Vec<f64>> = (0..200).map(|_| point(&mut rng)).collect();
        let mse = tests
            .iter()
            .map(|x| (gp.predict(x).0 - f(x)).powi(2))
            .sum::<f64>()
            / tests.len() as f64;
        // Predicting the mean would leave the whole variance.
        assert!(mse < 0.05 * var, "mse {mse}, variance {var}, ls {}", gp.ls);
        // Near a training point, the uncertainty is small; far from all, large.
        let (_, near) = gp.predict(&xs[0]);
        let (_, far) = gp.predict(&[5.0, 5.0, 5.0]);
        assert!(
            near < far,
            "variance {near} at a training point, {far} far away"
        );
    }
}
