//! A tiny deterministic PRNG (splitmix64). The demo data set must be identical on every
//! machine and every release of the toolchain, so it cannot depend on `rand`'s algorithm
//! choices or on hash-map iteration order.

#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

/// One splitmix64 step; also used on its own to derive independent streams from a seed.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// An independent stream for one part of the data set, so that changing how many
    /// numbers one part draws does not reshuffle every other part.
    pub(crate) fn stream(seed: u64, a: u64, b: u64) -> Self {
        Rng(mix(
            mix(seed ^ mix(a)) ^ b.wrapping_mul(0xA24B_AED4_963E_E407)
        ))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), without modulo bias worth mentioning.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    pub(crate) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo) as u64) as i64
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index into `weights`, chosen proportionally to them.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }

    /// A count with mean about `mean`: geometric, which gives the long tail real activity
    /// has (most items get a few touches, some get dozens).
    pub(crate) fn geometric(&mut self, mean: f64) -> u32 {
        let p = 1.0 / (1.0 + mean.max(0.0));
        let mut n = 0;
        while !self.chance(p) && n < 200 {
            n += 1;
        }
        n
    }

    /// Exponentially distributed with the given median, in the unit of `median`.
    pub(crate) fn exp_median(&mut self, median: f64) -> f64 {
        let u = 1.0 - self.unit();
        -u.ln() * median / std::f64::consts::LN_2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let a: Vec<u64> = (0..5).map(|_| Rng::new(7).next_u64()).collect();
        let mut r = Rng::new(7);
        let b: Vec<u64> = (0..5).map(|_| r.next_u64()).collect();
        assert!(a.iter().all(|&x| x == b[0]));
        assert_ne!(b[0], b[1]);
    }

    #[test]
    fn helpers_stay_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..10_000 {
            assert!(r.below(10) < 10);
            let x = r.range(-5, 5);
            assert!((-5..5).contains(&x));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
            assert!(r.weighted(&[0, 3, 0, 1]) % 2 == 1);
        }
    }
}
