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
/// Domain of the per-synapse delay streams (keyed by projection and block).
pub const DELAYS: u64 = 7;
/// Domain of the per-trace neuron samples.
pub const TRACE_SAMPLE: u64 = 4;
/// Domain of the per-layer initial voltages.
pub const V_INIT: u64 = 5;
/// Encoder trials of one protocol presentation (keyed by presentation and neuron).
pub const PRESENTATION: u64 = 6;
/// Domain of the per-layer rates of a Poisson source layer drawn from a
/// distribution (keyed by layer).
pub const POISSON_RATE: u64 = 10;
/// Domain of the noise generators' draws (keyed by generator and neuron;
/// [`normal_at`] takes the redraw index).
pub const NOISE: u64 = 8;

/// Domain of per-neuron parameters drawn from a distribution (keyed by
/// layer and parameter, then by neuron: [`neuron_param`]).
pub const NEURON_PARAM: u64 = 9;

/// SplitMix64 finalizer: a bijective 64-bit mix.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Domain of the per-target counts of Poisson inputs ([`crate::poisson_input::drive`]).
pub const POISSON_INPUT: u64 = 20;

/// The 64-bit key of `(seed, domain, a, b)`: what [`stream`] seeds its
/// generator with, and what [`normal_at`] draws from.
pub fn key(seed: u64, domain: u64, a: u64, b: u64) -> u64 {
    mix(mix(mix(mix(seed) ^ domain) ^ a) ^ b)
}

/// The 64-bit FNV-1a hash of `name`: a stable number for a name in a key.
pub fn name_key(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The key of the streams of parameter `name` of layer `layer`:
/// `key(seed, NEURON_PARAM, layer, name_key(name))`; neuron `i` draws its
/// value from `stream(that key, 0, i, 0)`, so that a neuron's value depends
/// on nothing but the seed, its layer's position, the parameter and its
/// own index (not on threads, nor on how neurons are partitioned).
pub fn neuron_param(seed: u64, layer: u64, name: &str) -> u64 {
    key(seed, NEURON_PARAM, layer, name_key(name))
}

/// The random stream for `(seed, domain, a, b)`.
pub fn stream(seed: u64, domain: u64, a: u64, b: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(key(seed, domain, a, b))
}

/// Draw number `counter` of the counter-based stream `key` ([`key`]),
/// uniform on [0, 1) with 53 bits, from the word `mix(key ^ mix(counter))`
/// of [`normal_at`]: no state, and the same whatever order draws are made in.
#[inline]
pub fn counter_unit(key: u64, counter: u64) -> f64 {
    unit_of(mix(key ^ mix(counter)))
}

/// A standard normal that is a pure function of `(key, counter)`: a
/// counter-based draw, so that the `counter`-th value of a stream needs no
/// state (a resumed run or another thread count draws the same). Its two
/// 64-bit words are `w1 = mix(key ^ mix(counter))` and `w2 = mix(w1)`,
/// turned into a normal by the Box–Muller transform (`normal_of`). The
/// counter is mixed before it meets the key: with `mix(key ^ counter)`,
/// two keys that differ only in low bits `d` would draw the same values,
/// counter `c` of one at counter `c ^ d` of the other. `mix` is a
/// bijection, so distinct counters of one key give distinct `w1`.
pub fn normal_at(key: u64, counter: u64) -> f64 {
    let w1 = mix(key ^ mix(counter));
    normal_of(w1, mix(w1))
}

/// Uniform on [0, 1) with 53 random bits.
#[inline]
pub fn unit(rng: &mut impl Rng) -> f64 {
    unit_of(rng.next_u64())
}

/// [`unit()`] of the 64-bit draw `r`: its top 53 bits over 2^53.
#[inline]
pub fn unit_of(r: u64) -> f64 {
    // Below 2^53, so converting it as an i64 (one instruction on x86-64,
    // unlike u64) gives the same, exact value.
    ((r >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A xoshiro256++ generator as its four state words, so that several
/// streams can be advanced side by side ([`next_four_avx2`]). It draws
/// exactly what [`Xoshiro256PlusPlus`] draws from the same state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub struct Xoshiro256Words(pub [u64; 4]);

impl Xoshiro256Words {
    /// The state of `r`.
    pub fn of(r: &Xoshiro256PlusPlus) -> Self {
        let bytes = r.state();
        Self(std::array::from_fn(|k| {
            u64::from_le_bytes(bytes[8 * k..8 * k + 8].try_into().expect("8 bytes"))
        }))
    }

    /// The next 64-bit draw (xoshiro256++: output `rotl(s0 + s3, 23) + s0`,
    /// then the xorshift of the state).
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }
}

/// The next draws of the four streams `states[rows[k]]`.
#[inline(always)]
pub fn next_four(states: &mut [Xoshiro256Words], rows: [usize; 4]) -> [u64; 4] {
    rows.map(|r| states[r].next_u64())
}

/// [`next_four`] in the four 64-bit lanes of AVX2 vectors (xoshiro256++
/// needs no multiplication): the four states are loaded as the rows of a
/// 4×4 matrix, transposed so that each vector holds one state word of all
/// four streams, advanced, transposed back and stored. Same results.
///
/// # Safety
/// The CPU supports AVX2, and the four rows are distinct.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub unsafe fn next_four_avx2(states: &mut [Xoshiro256Words], rows: [usize; 4]) -> [u64; 4] {
    use std::arch::x86_64::*;
    assert!(
        rows.iter().all(|&r| r < states.len()),
        "rows within the states"
    );
    debug_assert!((0..4).all(|a| (a + 1..4).all(|b| rows[a] != rows[b])));
    // SAFETY: AVX2 is there (the caller's promise); the rows are distinct
    // and within `states`, so the four 32-byte loads and stores touch four
    // separate states.
    unsafe {
        let base = states.as_mut_ptr();
        let p: [*mut __m256i; 4] = rows.map(|r| base.add(r).cast());
        let [s0, s1, s2, s3] = transpose_avx2(
            _mm256_loadu_si256(p[0]),
            _mm256_loadu_si256(p[1]),
            _mm256_loadu_si256(p[2]),
            _mm256_loadu_si256(p[3]),
        );
        let sum = _mm256_add_epi64(s0, s3);
        let rotl23 = _mm256_or_si256(_mm256_slli_epi64::<23>(sum), _mm256_srli_epi64::<41>(sum));
        let draws = _mm256_add_epi64(rotl23, s0);
        let t = _mm256_slli_epi64::<17>(s1);
        let s2 = _mm256_xor_si256(s2, s0);
        let s3 = _mm256_xor_si256(s3, s1);
        let s1 = _mm256_xor_si256(s1, s2);
        let s0 = _mm256_xor_si256(s0, s3);
        let s2 = _mm256_xor_si256(s2, t);
        let s3 = _mm256_or_si256(_mm256_slli_epi64::<45>(s3), _mm256_srli_epi64::<19>(s3));
        let back = transpose_avx2(s0, s1, s2, s3);
        for k in 0..4 {
            _mm256_storeu_si256(p[k], back[k]);
        }
        let mut out = [0u64; 4];
        _mm256_storeu_si256(out.as_mut_ptr().cast(), draws);
        out
    }
}

/// The transpose of the 4×4 matrix of u64 with rows `a, b, c, d` (its own
/// inverse).
///
/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn transpose_avx2(
    a: std::arch::x86_64::__m256i,
    b: std::arch::x86_64::__m256i,
    c: std::arch::x86_64::__m256i,
    d: std::arch::x86_64::__m256i,
) -> [std::arch::x86_64::__m256i; 4] {
    use std::arch::x86_64::*;
    // SAFETY: AVX2 is there (the caller's promise).
    unsafe {
        let (ab0, ab1) = (_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
        let (cd0, cd1) = (_mm256_unpacklo_epi64(c, d), _mm256_unpackhi_epi64(c, d));
        [
            _mm256_permute2x128_si256::<0x20>(ab0, cd0),
            _mm256_permute2x128_si256::<0x20>(ab1, cd1),
            _mm256_permute2x128_si256::<0x31>(ab0, cd0),
            _mm256_permute2x128_si256::<0x31>(ab1, cd1),
        ]
    }
}

/// `⌊r·n / 2^64⌋`: the 64-bit draw `r` mapped onto `0..n` (`n <= 2^32`),
/// each value with probability `1/n` to within `n/2^64` (one multiplication).
#[inline]
pub fn below(r: u64, n: usize) -> u32 {
    ((u128::from(r) * n as u128) >> 64) as u32
}

/// A hypergeometric draw: how many of `good` marked items are among `draws`
/// taken without replacement from `total` (`good, draws <= total`), with
/// `P(x) = C(good, x)·C(total − good, draws − x) / C(total, draws)`.
///
/// One uniform `u`, inverted over the probabilities relative to the mode
/// (`p(mode) = 1`, neighbours by the ratio `p(x+1)/p(x) =
/// (good − x)(draws − x) / ((x + 1)(total − good − draws + x + 1))`), which
/// are kept out to where they fall under `10^-18` of their sum (the law is
/// log-concave, so they only fall from the mode outwards); their sum
/// normalizes them, so no factorial is computed. `weights` is scratch
/// space, kept by the caller across draws. Costs about 20 standard
/// deviations of steps.
pub fn hypergeometric(
    rng: &mut impl Rng,
    total: u64,
    good: u64,
    draws: u64,
    weights: &mut Vec<f64>,
) -> u64 {
    assert!(good <= total && draws <= total, "hypergeometric parameters");
    let lo = draws.saturating_sub(total - good);
    let hi = good.min(draws);
    if lo == hi {
        return lo;
    }
    let (n, k, m) = (total as f64, good as f64, draws as f64);
    let mode = (((m + 1.0) * (k + 1.0) / (n + 2.0)).floor() as u64).clamp(lo, hi);
    // p(x+1)/p(x) and p(x−1)/p(x).
    let up = |x: f64| (k - x) * (m - x) / ((x + 1.0) * (n - k - m + x + 1.0));
    let down = |x: f64| x * (n - k - m + x) / ((k - x + 1.0) * (m - x + 1.0));
    const NEGLIGIBLE: f64 = 1e-18;
    // weights: mode, then mode−1, mode−2, ... down to `first`, reversed below.
    weights.clear();
    let (mut p, mut x, mut sum) = (1.0, mode, 1.0);
    weights.push(1.0);
    while x > lo && p > NEGLIGIBLE * sum {
        p *= down(x as f64);
        x -= 1;
        sum += p;
        weights.push(p);
    }
    let first = x;
    weights.reverse();
    let (mut p, mut x) = (1.0, mode);
    while x < hi && p > NEGLIGIBLE * sum {
        p *= up(x as f64);
        x += 1;
        sum += p;
        weights.push(p);
    }
    let target = unit(rng) * sum;
    let mut acc = 0.0;
    for (offset, w) in weights.iter().enumerate() {
        acc += w;
        if target < acc {
            return first + offset as u64;
        }
    }
    // Rounding left `target` at the sum: the last value kept.
    first + weights.len() as u64 - 1
}

/// Standard normal by Marsaglia and Tsang's (2000) ziggurat of 256
/// layers: one 64-bit draw for 98.8% of values (layer index from bits
/// 0–7, sign from bit 8, a 53-bit uniform from bits 11–63), more only
/// in a wedge or the tail. In building the full-scale microcircuit
/// (6·10^8 normals) it took 4.5 ns a normal (`perf`), against 19 ns for
/// Box–Muller with both values of each transform used.
///
/// The half density `f(x) = exp(−x²/2)` is covered by 256 layers of
/// equal area `v`: layer 0 is the rectangle `[0, r] × [0, f(r)]` with
/// the tail beyond `r` (`v = r·f(r) + √(2π)·Q(r)`); layer `i ≥ 1` spans
/// `[0, X[i]] × [f(X[i]), f(X[i+1])]`, `X` decreasing from `X[1] = r` to
/// `X[256] = 0`. A point `x = U·X[i]` left of `X[i+1]` lies under `f` in
/// every layer; else it is accepted under `f` by a second uniform (a
/// wedge), or, in layer 0, replaced by a draw from the tail (Marsaglia
/// 1964: `r + a` with `a = −ln(U1)/r`, accepted when `−2 ln(U2) > a²`).
pub fn standard_normal(rng: &mut impl Rng) -> f64 {
    let z = ziggurat();
    loop {
        let u = rng.next_u64();
        let i = (u & 0xff) as usize;
        let sign = if u & 0x100 == 0 { 1.0 } else { -1.0 };
        let x = unit_of(u) * z.x[i];
        if x < z.x[i + 1] {
            return sign * x;
        }
        if i == 0 {
            loop {
                let a = -(1.0 - unit(rng)).ln() / ZIGGURAT_R;
                let b = -(1.0 - unit(rng)).ln();
                if 2.0 * b > a * a {
                    return sign * (ZIGGURAT_R + a);
                }
            }
        }
        let y = z.f[i] + unit(rng) * (z.f[i + 1] - z.f[i]);
        if y < (-0.5 * x * x).exp() {
            return sign * x;
        }
    }
}

/// Right edge `r` of the ziggurat's base rectangle for 256 layers
/// (Marsaglia & Tsang 2000).
const ZIGGURAT_R: f64 = 3.654_152_885_361_009;
/// Area `v` of each of its layers, `r·f(r) + √(2π)·Q(r)`: with it the
/// recursion `f(X[i+1]) = f(X[i]) + v/X[i]` closes at `f(X[256]) = 1` to
/// `7·10^-16` of `v`.
const ZIGGURAT_V: f64 = 4.928_673_233_974_658e-3;

/// The ziggurat's layer edges `x` (`X[0] = v/f(r)`, the base layer's
/// width with its tail folded in) and heights `f = exp(−x²/2)`.
struct Ziggurat {
    x: [f64; 257],
    f: [f64; 257],
}

fn ziggurat() -> &'static Ziggurat {
    static TABLE: std::sync::LazyLock<Ziggurat> = std::sync::LazyLock::new(|| {
        let f = |x: f64| (-0.5 * x * x).exp();
        let mut x = [0.0; 257];
        x[0] = ZIGGURAT_V / f(ZIGGURAT_R);
        x[1] = ZIGGURAT_R;
        for i in 1..255 {
            x[i + 1] = (-2.0 * (ZIGGURAT_V / x[i] + f(x[i])).ln()).sqrt();
        }
        Ziggurat { x, f: x.map(f) }
    });
    &TABLE
}

/// The Box–Muller normal `sqrt(−2 ln u1)·cos(2π u2)` of the 64-bit draws
/// `a` and `b`: `u1 = 1 − unit_of(a)` in (0, 1], so that `ln(u1)` is
/// finite, and `u2 = unit_of(b)`.
fn normal_of(a: u64, b: u64) -> f64 {
    let u1 = 1.0 - unit_of(a);
    let u2 = unit_of(b);
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
    fn words_draw_what_the_crate_draws() {
        // The same state gives the same 1000 draws as rand_xoshiro's
        // generator.
        let mut crate_rng = stream(3, ENCODER, 1, 2);
        let mut words = Xoshiro256Words::of(&crate_rng);
        assert!((0..1000).all(|_| words.next_u64() == crate_rng.next_u64()));
        // Four streams at a time give each stream its own sequence (rows out
        // of order and far apart; rounds with a repeated row skipped).
        let mut reference: Vec<_> = (0..40).map(|i| stream(5, ENCODER, 0, i)).collect();
        let mut states: Vec<_> = reference.iter().map(Xoshiro256Words::of).collect();
        for round in 0..50 {
            let rows = [
                round % 40,
                (round * 7 + 3) % 40,
                39 - round % 13,
                (round + 20) % 40,
            ];
            if (0..4).any(|a| (a + 1..4).any(|b| rows[a] == rows[b])) {
                continue;
            }
            // Alternate the scalar and (where the CPU has it) AVX2 paths on
            // the same streams.
            #[cfg(target_arch = "x86_64")]
            let four = if round % 2 == 1 && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 checked just before; the rows are distinct.
                unsafe { next_four_avx2(&mut states, rows) }
            } else {
                next_four(&mut states, rows)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let four = next_four(&mut states, rows);
            let expect = rows.map(|r| reference[r].next_u64());
            assert_eq!(four, expect, "round {round}");
        }
        assert!(
            states
                .iter()
                .zip(&reference)
                .all(|(s, r)| *s == Xoshiro256Words::of(r))
        );
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
    fn below_is_uniform() {
        // 700 000 draws onto 0..7: each value 100 000 times, sd
        // sqrt(700000·(1/7)(6/7)) = 293; 5 sd = 1464.
        let mut rng = stream(11, 0, 0, 0);
        let mut counts = [0i64; 7];
        for _ in 0..700_000 {
            counts[below(rng.next_u64(), 7) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (c - 100_000).abs() < 1464),
            "{counts:?}"
        );
        assert_eq!(below(u64::MAX, 7), 6);
        assert_eq!(below(0, 7), 0);
    }

    #[test]
    fn hypergeometric_moments() {
        // Draws of (total, good, draws): mean draws·good/total, variance
        // draws·(good/total)(1 − good/total)(total − draws)/(total − 1).
        // With 40 000 draws the standard error of the mean is sd/200 and of
        // the variance about var·sqrt(2/40000) = var/141 (the law is close
        // to normal); the bounds are 5 standard errors (variance: 6).
        let mut rng = stream(13, 0, 0, 0);
        let mut scratch = Vec::new();
        for (total, good, draws) in [(400u64, 20u64, 300u64), (10_000, 3_000, 50), (60, 59, 30)] {
            let count = 40_000;
            let xs: Vec<f64> = (0..count)
                .map(|_| hypergeometric(&mut rng, total, good, draws, &mut scratch) as f64)
                .collect();
            assert!(
                xs.iter()
                    .all(|&x| x >= (draws + good).saturating_sub(total) as f64
                        && x <= good.min(draws) as f64)
            );
            let (n, k, m) = (total as f64, good as f64, draws as f64);
            let mean = m * k / n;
            let var = m * (k / n) * (1.0 - k / n) * (n - m) / (n - 1.0);
            let got_mean = xs.iter().sum::<f64>() / count as f64;
            let got_var = xs.iter().map(|x| (x - got_mean).powi(2)).sum::<f64>() / count as f64;
            assert!(
                (got_mean - mean).abs() < 5.0 * var.sqrt() / 200.0,
                "{total} {good} {draws}: mean {got_mean} vs {mean}"
            );
            assert!(
                (got_var - var).abs() < 6.0 * var / 141.0,
                "{total} {good} {draws}: var {got_var} vs {var}"
            );
        }
        // Degenerate: all items good, or none drawn.
        assert_eq!(hypergeometric(&mut rng, 10, 10, 4, &mut scratch), 4);
        assert_eq!(hypergeometric(&mut rng, 10, 3, 0, &mut scratch), 0);
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

    #[test]
    fn ziggurat_layers_have_equal_areas_and_close_at_the_top() {
        // Layer i >= 1 has area X[i]·(f(X[i+1]) − f(X[i])) = v by the
        // recursion; the top one (255) must close at f(0) = 1 with the
        // same area, and the base layer's width times f(r) is v.
        let z = ziggurat();
        for i in 1..256 {
            let area = z.x[i] * (z.f[i + 1] - z.f[i]);
            assert!((area - ZIGGURAT_V).abs() < 1e-15, "layer {i}: {area}");
        }
        assert_eq!((z.x[1], z.x[256], z.f[256]), (ZIGGURAT_R, 0.0, 1.0));
        assert!((z.x[0] * z.f[1] - ZIGGURAT_V).abs() < 1e-18);
        // v = r·f(r) + √(2π)·Q(r), Q(r) = 1.2904·10^-4 (tail beyond r).
        let tail = (2.0 * std::f64::consts::PI).sqrt() * crate::param::normal_tail(ZIGGURAT_R);
        assert!((ZIGGURAT_R * z.f[1] + tail - ZIGGURAT_V).abs() < 1e-9);
    }

    #[test]
    fn ziggurat_normals_follow_the_normal_law_into_the_tail() {
        // n = 4·10^6 draws. The fraction at or below x estimates Φ(x) with
        // standard error sqrt(Φ(1 − Φ)/n) (at most 2.5·10^-4); bounds of
        // 5 se. The points cover the body, the wedges and the tail beyond
        // r = 3.654 (1 − Φ(r) = 1.29·10^-4: 516 draws expected above,
        // se 22.7). E[Z^4] = 3 with se sqrt((105 − 9)/n) = 0.0049.
        let mut rng = stream(17, 0, 0, 0);
        let n = 4_000_000;
        let xs: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        for x in [
            -4.0,
            -ZIGGURAT_R,
            -2.5,
            -1.0,
            -0.3,
            0.0,
            0.2,
            0.9,
            1.7,
            3.0,
            ZIGGURAT_R,
            4.2,
        ] {
            let p = 1.0 - crate::param::normal_tail(x);
            let got = xs.iter().filter(|&&v| v <= x).count() as f64 / n as f64;
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!(
                (got - p).abs() < 5.0 * se + 1e-7,
                "P(Z <= {x}) = {got}, Φ = {p}"
            );
        }
        let fourth = xs.iter().map(|x| x.powi(4)).sum::<f64>() / n as f64;
        assert!((fourth - 3.0).abs() < 5.0 * 0.0049, "E[Z^4] = {fourth}");
    }

    #[test]
    fn counter_based_normals_have_unit_moments_and_no_lag_correlation() {
        // 200_000 counters of one key, bounds of 5 standard errors as in
        // `normal_moments`; the lag-1 correlation of independent draws has
        // standard error 1/sqrt(n) = 0.0022, and so has the correlation
        // between the same counters of two keys that differ in one bit.
        let n = 200_000u64;
        let k = key(7, NOISE, 0, 0);
        let xs: Vec<f64> = (0..n).map(|c| normal_at(k, c)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 5.0 * 0.0022, "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * 0.0032, "var {var}");
        let lag: f64 = xs.windows(2).map(|w| w[0] * w[1]).sum::<f64>() / n as f64;
        assert!(lag.abs() < 5.0 * 0.0022, "lag-1 correlation {lag}");
        let other: f64 = (0..n)
            .map(|c| xs[c as usize] * normal_at(k ^ 1, c))
            .sum::<f64>();
        assert!((other / n as f64).abs() < 5.0 * 0.0022, "{other}");
        assert_eq!(normal_at(k, 12), normal_at(k, 12));
    }
}
