//! Input encoders (DESIGN §1): each encoder neuron holds an intensity `x` in
//! [0, 1] and draws one Bernoulli trial per step with probability
//!
//! - `bernoulli`: `p = min(1, gain · x)`
//! - `poisson`:   `p = x · max_rate_hz · dt / 1000`
//!
//! Both are `p = min(1, c · x)` with a per-layer constant `c`.

use bevy_ecs::prelude::*;

use crate::config::{EncoderConfig, Encoding};

use crate::layer::{InLayer, LayerSpikes, Spiked, layer_runs, publish_spikes, swap_spike_buffers};
use crate::rng;
use crate::schedule::{Rows, for_rows};

/// Intensity `x` in [0, 1] (a normalized pixel). Written by `present`.
#[derive(Component, Debug, Clone, Copy, Default)]
#[repr(transparent)]
pub struct Intensity(pub f32);

/// The encoder's own random stream (xoshiro256++), keyed by (seed, layer,
/// index). Advanced by `encode`.
#[derive(Component, Debug, Clone)]
#[repr(transparent)]
pub struct EncoderRng(pub rng::Xoshiro256Words);

impl EncoderRng {
    /// The stream `(seed, domain, a, b)` of [`rng::stream`].
    pub fn keyed(seed: u64, domain: u64, a: u64, b: u64) -> Self {
        Self(rng::Xoshiro256Words::of(&rng::stream(seed, domain, a, b)))
    }
}

/// Per-layer encoder parameter. Written once by the network builder.
#[derive(Component, Debug, Clone, Copy)]
pub struct EncoderParams {
    /// `c` in `p = min(1, c · x)`: `gain`, or `max_rate_hz · dt / 1000`.
    pub scale: f64,
}

impl EncoderParams {
    /// From the layer's config at time step `dt_ms`.
    pub fn new(c: &EncoderConfig, dt_ms: f64) -> Self {
        let scale = match c.encoding {
            Encoding::Bernoulli => c.gain,
            Encoding::Poisson => c.max_rate_hz * dt_ms / 1000.0,
        };
        Self { scale }
    }

    /// The Bernoulli trial at intensity `x` with `u` uniform on [0, 1):
    /// spike iff `u < p = min(1, c·x)`. As `u < 1`, that holds exactly when
    /// `u < c·x`, so the clamp is not computed.
    #[inline]
    pub fn spikes(&self, u: f64, x: f32) -> bool {
        u < self.scale * x as f64
    }
}

/// The component columns of a run of encoder rows.
pub struct EncoderRows<'a> {
    at: &'a [InLayer],
    x: &'a [Intensity],
    rng: &'a mut [EncoderRng],
    s: &'a mut [Spiked],
}

impl Rows for EncoderRows<'_> {
    fn len(&self) -> usize {
        self.at.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (at0, at1) = self.at.split_at(mid);
        let (x0, x1) = self.x.split_at(mid);
        let (r0, r1) = self.rng.split_at_mut(mid);
        let (s0, s1) = self.s.split_at_mut(mid);
        (
            EncoderRows {
                at: at0,
                x: x0,
                rng: r0,
                s: s0,
            },
            EncoderRows {
                at: at1,
                x: x1,
                rng: r1,
                s: s1,
            },
        )
    }
}

/// One Bernoulli trial per encoder: spike iff `u < p`, `u` uniform on [0, 1)
/// ([`EncoderParams::spikes`]).
/// So `p = 0` never spikes and `p = 1` always does. An encoder at intensity
/// 0 (a black pixel, a rest) draws nothing: its stream advances only while
/// it can spike, which saves most of the draws on MNIST-like images (about
/// 80% black) without changing any spike probability. Spiking encoders are
/// appended to their layer's spike list, after every layer's list of the
/// last step has become its `previous` ([`swap_spike_buffers`]).
///
/// See [`encode_rows`] for how the rows are gone through.
pub fn encode(
    layers: Query<&EncoderParams>,
    mut encoders: Query<(&InLayer, &Intensity, &mut EncoderRng, &mut Spiked)>,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
) {
    swap_spike_buffers(&mut lists);
    let kernel = |out: &mut Vec<(Entity, u32)>, rows: EncoderRows| {
        let EncoderRows { at, x, rng, s } = rows;
        for run in layer_runs(at) {
            let layer = at[run.start].layer;
            let p = *layers.get(layer).expect("encoder layer");
            for start in run.clone().step_by(CHUNK) {
                let r = start..(start + CHUNK).min(run.end);
                let spikes = encode_chunk(p, &x[r.clone()], streams(&mut rng[r.clone()]));
                for (g, (s, &m)) in s[r].chunks_mut(64).zip(&spikes).enumerate() {
                    write_bits(s, m);
                    let first = start + 64 * g;
                    out.extend(bits(m).map(|b| (layer, at[first + b].index)));
                }
            }
        }
    };
    for (at, x, mut r, mut s) in encoders
        .contiguous_iter_mut()
        .expect("table-stored components")
    {
        let rows = EncoderRows {
            at,
            x,
            rng: r.bypass_change_detection(),
            s: s.bypass_change_detection(),
        };
        for_rows(rows, &mut fired, &kernel);
    }
    publish_spikes(&mut fired, &mut lists);
}

/// Rows of a layer gone through by one [`encode_chunk`]: 16 blocks of 64.
const CHUNK: usize = 1024;

/// The spikes of a chunk of one layer's encoders (at most [`CHUNK`] rows),
/// as one bit mask per 64 rows: with AVX2 if the CPU has it
/// ([`encode_rows`]), else without.
fn encode_chunk(
    p: EncoderParams,
    x: &[Intensity],
    rng: &mut [rng::Xoshiro256Words],
) -> [u64; CHUNK / 64] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { encode_chunk_avx2(p, x, rng) };
    }
    // SAFETY: no AVX2 asked for.
    unsafe { encode_rows::<false>(p, x, rng) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn encode_chunk_avx2(
    p: EncoderParams,
    x: &[Intensity],
    rng: &mut [rng::Xoshiro256Words],
) -> [u64; CHUNK / 64] {
    // SAFETY: AVX2 is enabled here, so the CPU supports it.
    unsafe { encode_rows::<true>(p, x, rng) }
}

/// [`encode_chunk`]: rows go 64 at a time, a bit mask of the rows that can
/// spike (`x > 0`); their streams are drawn four at a time as the bits come
/// ([`rng::next_four`], or [`rng::next_four_avx2`] with `AVX2`), the last
/// one to three one by one; each draw sets its row's bit in the spike
/// masks. Which pixels are black and which draws spike are unpredictable,
/// so deciding them by bits rather than branches saves a mispredicted
/// branch per encoder.
///
/// # Safety
/// With `AVX2`, the CPU supports AVX2.
#[inline(always)]
unsafe fn encode_rows<const AVX2: bool>(
    p: EncoderParams,
    x: &[Intensity],
    rng: &mut [rng::Xoshiro256Words],
) -> [u64; CHUNK / 64] {
    assert!(x.len() <= CHUNK && rng.len() == x.len(), "a chunk of rows");
    let mut spikes = [0u64; CHUNK / 64];
    let mut trial = |row: usize, draw: u64| {
        spikes[row / 64] |= (p.spikes(rng::unit_of(draw), x[row].0) as u64) << (row % 64);
    };
    let mut pending = [0usize; 4];
    let mut n = 0;
    for (g, block) in x.chunks(64).enumerate() {
        for b in bits(positive(block)) {
            pending[n] = 64 * g + b;
            n += 1;
            if n == 4 {
                #[cfg(target_arch = "x86_64")]
                let draws = if AVX2 {
                    // SAFETY: AVX2 is there (the caller's promise); rows found
                    // by ascending bits are distinct.
                    unsafe { rng::next_four_avx2(rng, pending) }
                } else {
                    rng::next_four(rng, pending)
                };
                #[cfg(not(target_arch = "x86_64"))]
                let draws = rng::next_four(rng, pending);
                for (&row, d) in pending.iter().zip(draws) {
                    trial(row, d);
                }
                n = 0;
            }
        }
    }
    for &row in &pending[..n] {
        trial(row, rng[row].next_u64());
    }
    spikes
}

/// The generators of a run of encoder streams.
fn streams(r: &mut [EncoderRng]) -> &mut [rng::Xoshiro256Words] {
    // SAFETY: `EncoderRng` is `repr(transparent)` over `Xoshiro256Words`.
    unsafe { std::slice::from_raw_parts_mut(r.as_mut_ptr().cast(), r.len()) }
}

/// Bit `b` set iff `x[b] > 0` (`x.len() <= 64`): [`positive_fours`], then
/// one compare per remaining row.
fn positive(x: &[Intensity]) -> u64 {
    assert!(x.len() <= 64);
    let (mut m, done) = positive_fours(x);
    for (i, v) in x.iter().enumerate().skip(done) {
        m |= ((v.0 > 0.0) as u64) << i;
    }
    m
}

/// [`positive`] for the rows of `x` in whole groups of four, one SSE2
/// compare and sign-bit mask per group (SSE2 is part of x86-64); returns
/// the mask and the number of rows done.
#[cfg(target_arch = "x86_64")]
fn positive_fours(x: &[Intensity]) -> (u64, usize) {
    use std::arch::x86_64::{_mm_cmpgt_ps, _mm_loadu_ps, _mm_movemask_ps, _mm_setzero_ps};
    let mut m = 0;
    for (g, c) in x.chunks_exact(4).enumerate() {
        // SAFETY: `Intensity` is `repr(transparent)` over `f32`, so `c` is
        // four consecutive `f32`s; SSE2 is always there on x86-64.
        let bits = unsafe {
            _mm_movemask_ps(_mm_cmpgt_ps(
                _mm_loadu_ps(c.as_ptr().cast()),
                _mm_setzero_ps(),
            ))
        };
        m |= (bits as u64) << (4 * g);
    }
    (m, x.len() / 4 * 4)
}

/// Elsewhere [`positive`] compares every row itself.
#[cfg(not(target_arch = "x86_64"))]
fn positive_fours(_: &[Intensity]) -> (u64, usize) {
    (0, 0)
}

/// `s[b] = bit b of mask` (`s.len() <= 64`), eight rows per table look-up
/// and copy rather than a shift, mask and store per row.
fn write_bits(s: &mut [Spiked], mask: u64) {
    let byte = |g: usize| (mask >> (8 * g)) as u8 as usize;
    let whole = s.len() / 8;
    // Whole groups as fixed-size copies (one 8-byte store each, not a call).
    let mut groups = s.chunks_exact_mut(8);
    for (g, chunk) in groups.by_ref().enumerate() {
        let chunk: &mut [Spiked; 8] = chunk.try_into().expect("8 rows");
        *chunk = BYTE_BITS[byte(g)];
    }
    let tail = groups.into_remainder();
    let n = tail.len();
    if n > 0 {
        tail.copy_from_slice(&BYTE_BITS[byte(whole)][..n]);
    }
}

/// `BYTE_BITS[m][i]` = bit `i` of `m`.
const BYTE_BITS: [[Spiked; 8]; 256] = {
    let mut t = [[Spiked(false); 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut i = 0;
        while i < 8 {
            t[m][i] = Spiked(m >> i & 1 == 1);
            i += 1;
        }
        m += 1;
    }
    t
};

/// The positions of the set bits of `m`, ascending.
fn bits(mut m: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let b = m.trailing_zeros() as usize;
        m &= m.wrapping_sub(1);
        (b < 64).then_some(b)
    })
}

#[cfg(test)]
mod tests {
    use super::{Intensity, Spiked, bits, positive, write_bits};

    #[test]
    fn bit_masks_list_their_rows() {
        assert_eq!(bits(0).count(), 0);
        assert_eq!(bits(0b1011).collect::<Vec<_>>(), vec![0, 1, 3]);
        assert_eq!(bits(1 << 63 | 1).collect::<Vec<_>>(), vec![0, 63]);
        let x: Vec<Intensity> = (0..64)
            .map(|i| Intensity((i % 3 == 0) as u8 as f32))
            .collect();
        let m = positive(&x);
        assert!((0..64).all(|i| (m >> i & 1 == 1) == (i % 3 == 0)), "{m:b}");
        assert_eq!(positive(&x[..5]), 0b01001);
        // Not positive: 0, −0, a negative value, NaN (x86-64's compares and
        // the scalar tail agree on each).
        let odd = [0.5, 0.0, -0.0, -1.0, f32::NAN, 1e-30, 0.0, f32::NAN, 2.0];
        let x: Vec<Intensity> = odd.iter().map(|&v| Intensity(v)).collect();
        assert_eq!(positive(&x), 0b1_0010_0001);
        assert_eq!(positive(&x[4..]), 0b1_0010);
        // Every row of a 64-row mask, and a 13-row tail (one full byte and
        // five rows of the next), written from an alternating pattern.
        let m = 0xA5C3_0F0F_F00F_9669u64;
        for len in [64, 13] {
            let mut s = vec![Spiked(true); len];
            write_bits(&mut s, m);
            assert!((0..len).all(|i| s[i].0 == (m >> i & 1 == 1)), "{len}");
        }
    }
}
