//! One variable's training distribution as a model card records it (its range, bin edges
//! and the training share of each bin), and how a served or scanned sample compares with
//! it: the share outside the training range, and the population stability index (PSI).
//!
//! PSI = sum over bins of (a - e) * ln(a / e), with `e` the training share of a bin and `a`
//! the sample's. The usual reading: under 0.1 stable, 0.1 to 0.25 some shift, over 0.25 a
//! shift worth acting on. Empty bins are floored at [`EMPTY_BIN_SHARE`] so that the
//! logarithm stays finite, as is common practice.

use serde::{Deserialize, Serialize};

/// The share an empty bin counts as in the PSI.
pub const EMPTY_BIN_SHARE: f64 = 1e-4;

/// Relative slack on the training range (a few float32 ulps).
const RANGE_SLACK: f64 = 1e-6;

/// A variable's training distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The smallest and largest training values.
    pub min: f64,
    pub max: f64,
    /// Inner bin edges, strictly ascending: `k` edges make `k + 1` bins, the first below
    /// `edges[0]`, the last from `edges[k - 1]` up. A value equal to an edge falls in the
    /// bin above it.
    pub edges: Vec<f64>,
    /// The training share of each bin: `edges.len() + 1` values that sum to 1.
    pub shares: Vec<f64>,
}

impl Profile {
    /// Why this profile cannot be used, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if !(self.min.is_finite() && self.max.is_finite() && self.min <= self.max) {
            return Some(format!(
                "min {} and max {} must be finite with min <= max",
                self.min, self.max
            ));
        }
        if self.edges.iter().any(|e| !e.is_finite()) || self.edges.windows(2).any(|w| w[0] >= w[1])
        {
            return Some("edges must be finite and strictly ascending".into());
        }
        if self.shares.len() != self.edges.len() + 1 {
            return Some(format!(
                "{} edges make {} bins, but there are {} shares",
                self.edges.len(),
                self.edges.len() + 1,
                self.shares.len()
            ));
        }
        if self.shares.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
            return Some("shares must be finite and not negative".into());
        }
        let total: f64 = self.shares.iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            return Some(format!("shares sum to {total}, not 1"));
        }
        None
    }

    /// The bin `value` falls in.
    pub fn bin(&self, value: f64) -> usize {
        self.edges.partition_point(|edge| *edge <= value)
    }

    /// Whether `value` is within the training range, give or take float32 rounding: the
    /// runtime's sums may differ from the exporter's in the last bit.
    pub fn in_range(&self, value: f64) -> bool {
        let slack = RANGE_SLACK * self.min.abs().max(self.max.abs());
        (self.min - slack..=self.max + slack).contains(&value)
    }

    /// The sample's count per bin (NaN, a missing value, is counted nowhere).
    pub fn counts(&self, sample: impl IntoIterator<Item = f64>) -> Vec<u64> {
        let mut counts = vec![0; self.shares.len()];
        for value in sample.into_iter().filter(|v| !v.is_nan()) {
            counts[self.bin(value)] += 1;
        }
        counts
    }

    /// The PSI of a sample's bin counts against the training shares; `None` for an empty
    /// sample or counts of another length.
    pub fn psi(&self, counts: &[u64]) -> Option<f64> {
        psi(&self.shares, counts)
    }
}

/// The PSI of `counts` against the `expected` shares of the same bins; `None` for an
/// empty sample or lengths that differ.
pub fn psi(expected: &[f64], counts: &[u64]) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 || counts.len() != expected.len() {
        return None;
    }
    Some(
        counts
            .iter()
            .zip(expected)
            .map(|(&count, &expected)| {
                let actual = (count as f64 / total as f64).max(EMPTY_BIN_SHARE);
                let expected = expected.max(EMPTY_BIN_SHARE);
                (actual - expected) * (actual / expected).ln()
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deciles of the uniform distribution on [0, 10).
    fn uniform() -> Profile {
        Profile {
            min: 0.0,
            max: 10.0,
            edges: (1..10).map(f64::from).collect(),
            shares: vec![0.1; 10],
        }
    }

    /// `n` evenly spread values on [from, to).
    fn spread(n: usize, from: f64, to: f64) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| from + (to - from) * (i as f64 + 0.5) / n as f64)
    }

    #[test]
    fn values_fall_in_their_bins_an_edge_in_the_bin_above() {
        let p = uniform();
        assert_eq!(p.bin(-5.0), 0);
        assert_eq!(p.bin(0.5), 0);
        assert_eq!(p.bin(1.0), 1);
        assert_eq!(p.bin(9.99), 9);
        assert_eq!(p.bin(1e9), 9);
        assert!(p.in_range(0.0) && p.in_range(10.0) && !p.in_range(10.01) && !p.in_range(-0.1));
        assert_eq!(
            p.counts([0.5, 1.0, 1.5, f64::NAN, 42.0]),
            vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 1]
        );
    }

    #[test]
    fn the_training_distribution_does_not_drift_and_a_shifted_one_does() {
        let p = uniform();
        let same = p.psi(&p.counts(spread(10_000, 0.0, 10.0))).unwrap();
        assert!(same.abs() < 1e-9, "{same}");
        // A quarter of the way up: a moderate shift.
        let shifted = p.psi(&p.counts(spread(10_000, 2.5, 12.5))).unwrap();
        assert!(shifted > 0.25, "{shifted}");
        // A unit mistake (values ten times larger) is far past any threshold.
        let units = p.psi(&p.counts(spread(10_000, 0.0, 100.0))).unwrap();
        assert!(units > shifted, "{units} <= {shifted}");
        // A small shift stays under the usual 0.1.
        let nudged = p.psi(&p.counts(spread(10_000, 0.2, 10.2))).unwrap();
        assert!(nudged > 0.0 && nudged < 0.1, "{nudged}");
    }

    #[test]
    fn an_empty_sample_has_no_psi() {
        let p = uniform();
        assert_eq!(p.psi(&p.counts([])), None);
        assert_eq!(p.psi(&[1, 2]), None);
    }

    #[test]
    fn inconsistent_profiles_are_named() {
        let mut p = uniform();
        assert_eq!(p.problem(), None);
        p.shares.pop();
        assert!(p
            .problem()
            .unwrap()
            .contains("9 edges make 10 bins, but there are 9 shares"));
        let mut p = uniform();
        p.edges.swap(0, 1);
        assert!(p.problem().unwrap().contains("strictly ascending"));
        let mut p = uniform();
        p.shares[0] = 0.5;
        assert!(p.problem().unwrap().contains("not 1"));
        let mut p = uniform();
        p.max = f64::NAN;
        assert!(p.problem().unwrap().contains("finite"));
    }
}
