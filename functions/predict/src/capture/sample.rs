//! Which requests are captured: decided by the request id alone, so the same request id
//! is always in or always out at a given rate, on every sandbox and every build.

use aws_adapter::config::CaptureRate;

/// The rate as a threshold on the request id's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    Never,
    Always,
    /// Captured when the id's hash is below this (the rate's share of `u64::MAX`).
    Below(u64),
}

impl Sampler {
    pub fn new(rate: CaptureRate) -> Sampler {
        match rate.get() {
            r if r <= 0.0 => Sampler::Never,
            r if r >= 1.0 => Sampler::Always,
            // Exact enough: the share is off by at most one part in 2^53.
            r => Sampler::Below((r * u64::MAX as f64) as u64),
        }
    }

    pub fn sampled(self, request_id: &str) -> bool {
        match self {
            Sampler::Never => false,
            Sampler::Always => true,
            Sampler::Below(threshold) => hash(request_id.as_bytes()) < threshold,
        }
    }
}

/// FNV-1a, then MurmurHash3's 64-bit finalizer: stable (no per-process keys, unlike the
/// standard library's hasher) and well spread over the whole range even for ids that
/// differ in one character.
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(r: f64) -> Sampler {
        Sampler::new(CaptureRate::new(r).unwrap())
    }

    #[test]
    fn the_ends_need_no_hash_and_the_middle_is_stable() {
        assert_eq!(rate(0.0), Sampler::Never);
        assert_eq!(rate(1.0), Sampler::Always);
        assert!(!rate(0.0).sampled("any"));
        assert!(rate(1.0).sampled("any"));
        // Fixed values: a change to the hash would move which requests are captured.
        assert_eq!(hash(b""), 0xefd0_1f60_ba99_2926);
        assert_eq!(hash(b"Ab1cDEfGhIJkLMn="), 0xe35a_8fe0_1a54_f196);
        let half = rate(0.5);
        let ids: Vec<String> = (0..10_000).map(|i| format!("req-{i:05}")).collect();
        let first: Vec<bool> = ids.iter().map(|id| half.sampled(id)).collect();
        let again: Vec<bool> = ids.iter().map(|id| half.sampled(id)).collect();
        assert_eq!(first, again);
        let share = first.iter().filter(|s| **s).count() as f64 / ids.len() as f64;
        assert!((share - 0.5).abs() < 0.02, "{share}");
    }

    #[test]
    fn a_request_in_at_a_rate_is_in_at_every_higher_rate() {
        let ids: Vec<String> = (0..2_000).map(|i| format!("{i:x}-id")).collect();
        for pair in [0.01, 0.1, 0.3, 0.7, 0.99].windows(2) {
            let (low, high) = (rate(pair[0]), rate(pair[1]));
            for id in &ids {
                assert!(!low.sampled(id) || high.sampled(id), "{id} {pair:?}");
            }
        }
    }
}
