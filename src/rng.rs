//! Seeded random streams.
//!
//! Every stream is keyed by `(seed, domain, a, b)` — for example
//! `(seed, ENCODER, layer, neuron)` — never by thread, so results do not
//! depend on how work is split across threads.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Domain of the per-encoder Bernoulli streams.
pub const ENCODER: u64 = 1;
/// Domain of the per-projection connectivity streams.
pub const CONNECTIVITY: u64 = 2;
/// Domain of the per-projection weight streams.
pub const WEIGHTS: u64 = 3;
/// Domain of the per-trace neuron samples.
pub const TRACE_SAMPLE: u64 = 4;
/// Domain of the per-layer initial voltages.
pub const V_INIT: u64 = 5;
/// Encoder trials of one protocol presentation (keyed by presentation and neuron).
pub const PRESENTATION: u64 = 6;

/// SplitMix64 finalizer: a bijective 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The random stream for `(seed, domain, a, b)`.
pub fn stream(seed: u64, domain: u64, a: u64, b: u64) -> Xoshiro256PlusPlus {
    let key = mix(mix(mix(mix(seed) ^ domain) ^ a) ^ b);
    Xoshiro256PlusPlus::seed_from_u64(key)
}

/// Uniform on [0, 1) with 53 random bits.
#[inline]
pub fn unit(rng: &mut impl Rng) -> f64 {
    // Below 2^53, so converting it as an i64 (one instruction on x86-64,
    // unlike u64) gives the same, exact value.
    ((rng.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normal by the Box–Muller transform (one draw from two uniforms).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    // u1 in (0, 1] so that ln(u1) is finite.
    let u1 = 1.0 - unit(rng);
    let u2 = unit(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `k` distinct values of `0..n` (`n < 2^32`), in the order drawn (Floyd's
/// algorithm: `k` draws; sort them where order matters); see
/// [`sample_distinct_into`].
pub fn sample_distinct(rng: &mut impl Rng, n: usize, k: usize) -> Vec<u32> {
    let mut chosen = vec![0; k];
    sample_distinct_into(rng, n, &mut chosen, &mut Vec::new());
    chosen
}

/// Fills `out` with `out.len()` distinct values of `0..n` (`n < 2^32`), in
/// the order drawn (Floyd's algorithm: one draw per value). Earlier picks
/// are kept in an open-addressing hash set (linear probing, at most half
/// full), so a check costs about one probe whatever the count; `set` is its
/// storage, kept by the caller so that many samples share one allocation.
pub fn sample_distinct_into(rng: &mut impl Rng, n: usize, out: &mut [u32], set: &mut Vec<u32>) {
    let k = out.len();
    assert!(k <= n && n < 1 << 32, "cannot draw {k} of {n} as u32");
    const EMPTY: u32 = u32::MAX;
    set.clear();
    set.resize((2 * k).next_power_of_two(), EMPTY);
    let mask = set.len() - 1;
    // Inserts v; false if it was there already.
    let mut insert = |v: u32| {
        // Fibonacci hashing: the top bits of v · 2^64/φ.
        let mut h = ((v as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask;
        while set[h] != EMPTY {
            if set[h] == v {
                return false;
            }
            h = (h + 1) & mask;
        }
        set[h] = v;
        true
    };
    for (slot, m) in out.iter_mut().zip(n - k..n) {
        let t = ((unit(rng) * (m + 1) as f64) as usize).min(m) as u32;
        // If t was chosen before, m cannot have been (earlier picks are < m).
        *slot = if insert(t) {
            t
        } else {
            insert(m as u32);
            m as u32
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_keyed() {
        let a = stream(1, ENCODER, 0, 0).next_u64();
        assert_eq!(a, stream(1, ENCODER, 0, 0).next_u64());
        assert_ne!(a, stream(2, ENCODER, 0, 0).next_u64());
        assert_ne!(a, stream(1, ENCODER, 0, 1).next_u64());
        assert_ne!(a, stream(1, WEIGHTS, 0, 0).next_u64());
    }

    #[test]
    fn sample_distinct_is_distinct_and_uniform() {
        // 20 000 samples of 3 from 0..10: each value is chosen with
        // probability 3/10, so about 6000 times (sd sqrt(20000·0.3·0.7) = 65);
        // 5 sd = 325.
        let mut rng = stream(9, 0, 0, 0);
        let mut counts = [0u32; 10];
        for _ in 0..20_000 {
            let mut s = sample_distinct(&mut rng, 10, 3);
            s.sort_unstable();
            assert!(s.len() == 3 && s.windows(2).all(|w| w[0] < w[1]));
            for v in s {
                counts[v as usize] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (c as i64 - 6000).abs() < 325),
            "{counts:?}"
        );
        let mut all = sample_distinct(&mut rng, 5, 5);
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn normal_moments() {
        // Mean 0 and variance 1: with n = 200_000 draws the standard error of
        // the mean is 1/sqrt(n) = 0.0022 and of the variance sqrt(2/n) = 0.0032;
        // the bounds below are 5 standard errors.
        let mut rng = stream(7, 0, 0, 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 5.0 * 0.0022, "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * 0.0032, "var {var}");
    }
}
