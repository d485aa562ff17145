//! Input encoders (DESIGN §1): each encoder neuron holds an intensity `x` in
//! [0, 1] and draws one Bernoulli trial per step with probability
//!
//! - `bernoulli`: `p = min(1, gain · x)`
//! - `poisson`:   `p = x · max_rate_hz · dt / 1000`
//!
//! Both are `p = min(1, c · x)` with a per-layer constant `c`.

use bevy_ecs::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::{EncoderConfig, Encoding};

use crate::layer::{InLayer, LayerSpikes, Spiked, layer_runs, publish_spikes};
use crate::rng;
use crate::schedule::{Rows, for_rows};

/// Intensity `x` in [0, 1] (a normalized pixel). Written by `present`.
#[derive(Component, Debug, Clone, Copy, Default)]
#[repr(transparent)]
pub struct Intensity(pub f32);

/// The encoder's own random stream, keyed by (seed, layer, index).
/// Advanced by `encode`.
#[derive(Component, Debug, Clone)]
pub struct EncoderRng(pub Xoshiro256PlusPlus);

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
/// appended to their layer's spike list.
///
/// Rows go 64 at a time: a bit mask of the rows that can spike, one draw per
/// set bit, a bit mask of the spikes. Which pixels are black and which draws
/// spike are unpredictable, so deciding them by bits rather than branches
/// saves a mispredicted branch per encoder.
pub fn encode(
    layers: Query<&EncoderParams>,
    mut encoders: Query<(&InLayer, &Intensity, &mut EncoderRng, &mut Spiked)>,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
) {
    let kernel = |out: &mut Vec<(Entity, u32)>, rows: EncoderRows| {
        let EncoderRows { at, x, rng, s } = rows;
        for run in layer_runs(at) {
            let layer = at[run.start].layer;
            let p = *layers.get(layer).expect("encoder layer");
            for start in run.clone().step_by(64) {
                let end = (start + 64).min(run.end);
                let (x, rng) = (&x[start..end], &mut rng[start..end]);
                let live = positive(x);
                let mut spikes = 0u64;
                for b in bits(live) {
                    let u = rng::unit(&mut rng[b].0);
                    spikes |= (p.spikes(u, x[b].0) as u64) << b;
                }
                write_bits(&mut s[start..end], spikes);
                out.extend(bits(spikes).map(|b| (layer, at[start + b].index)));
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
