//! Input encoders (DESIGN §1): each encoder neuron holds an intensity `x` in
//! [0, 1] and draws one Bernoulli trial per step with probability
//!
//! - `bernoulli`: `p = min(1, gain · x)`
//! - `poisson`:   `p = x · max_rate_hz · dt / 1000`
//!
//! Both are `p = min(1, c · x)` with a per-layer constant `c`. A Poisson
//! source layer (`kind = "poisson"`) is a layer of encoders whose
//! intensities are fixed when it is built
//! ([`EncoderParams::poisson_source`]): `p_i = rate_i · dt / 1000`.

use bevy_ecs::change_detection::ContiguousRef;
use bevy_ecs::prelude::*;

use crate::config::{EncoderConfig, Encoding};

use crate::layer::{InLayer, LayerSpikes, Spiked, layer_runs, publish_spikes, swap_spike_buffers};
use crate::rng;
use crate::step::{Rows, for_rows};

/// Intensity `x` in [0, 1] (a normalized pixel). Written by `present`.
///
/// `encode` keeps what it derives from a table's intensities (which rows
/// can spike, and their thresholds) until the column changes, as told by
/// its summary tick: write intensities through change detection (`Mut`,
/// `get_mut`), never with `bypass_change_detection`.
#[derive(Component, Debug, Clone, Copy, Default)]
#[component(summary_tick)]
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

    /// The trials of a Poisson source layer of neurons spiking at
    /// `rates_hz` (Hz, >= 0) at time step `dt_ms`: the layer's
    /// `c = r_max·dt/1000` for its largest rate `r_max`, and each neuron's
    /// intensity `x_i = r_i/r_max` (0 for all when `r_max = 0`), so that
    /// `p_i = c·x_i = r_i·dt/1000` up to the rounding of `x_i` to f32
    /// (relative 6·10^-8). A layer of one rate has `x_i = 1`, and
    /// `p = rate·dt/1000` exactly as a Poisson encoder's `max_rate_hz`.
    pub fn poisson_source(rates_hz: &[f64], dt_ms: f64) -> (Self, Vec<f32>) {
        let max = rates_hz.iter().copied().fold(0.0, f64::max);
        let x = rates_hz
            .iter()
            .map(|&r| if max > 0.0 { (r / max) as f32 } else { 0.0 })
            .collect();
        (
            Self {
                scale: max * dt_ms / 1000.0,
            },
            x,
        )
    }

    /// The Bernoulli trial at intensity `x` as a threshold on a 64-bit
    /// draw `r`: spike iff `r >> 11 < threshold(x)`, which holds exactly
    /// when `u < p = min(1, c·x)` for `u = k·2^-53`, `k = r >> 11`
    /// ([`rng::unit_of`]):
    ///
    /// - as `u < 1`, `u < p` exactly when `u < c·x` (the clamp is not needed);
    /// - `k·2^-53 < c·x` iff `k < c·x·2^53` (scaling by a power of two is
    ///   exact), iff `k < ⌈c·x·2^53⌉` (`k` is an integer);
    /// - `k < 2^53`, so a threshold of `2^53` (`p ≥ 1`) always spikes and `0`
    ///   (`p ≤ 0`) never does.
    ///
    /// `c·x` is the same f64 product as `p` in the equation above.
    pub fn threshold(&self, x: f32) -> u64 {
        const TWO_53: f64 = (1u64 << 53) as f64;
        let q = self.scale * x as f64 * TWO_53;
        if q >= TWO_53 {
            1 << 53
        } else if q > 0.0 {
            q.ceil() as u64
        } else {
            0
        }
    }
}

/// The rows of one table of encoders that can spike (`x > 0`), ascending.
/// Kept by `encode` from step to step, and built again when the table's
/// intensities changed.
#[derive(Default)]
pub struct LitRows {
    /// Address and length of the table's intensity column when built: a
    /// table is known again by them (tables are never freed).
    table: (usize, usize),
    /// The lit rows.
    lit: Vec<Lit>,
}

/// A row of a table that can spike.
#[derive(Debug, Clone, Copy)]
struct Lit {
    /// Its entry in a list of spikes: (layer, index in the layer).
    id: (Entity, u32),
    /// Its [`EncoderParams::threshold`].
    threshold: u64,
    /// Its row in the table.
    row: u32,
}

impl LitRows {
    /// Finds the lit rows of a table anew: `at` and `x` are its columns.
    fn build(&mut self, at: &[InLayer], x: &[Intensity], layers: &Query<&EncoderParams>) {
        self.table = (x.as_ptr() as usize, x.len());
        self.lit.clear();
        for run in layer_runs(at) {
            let p = layers.get(at[run.start].layer).expect("encoder layer");
            let lit = run.filter(|&r| x[r].0 > 0.0).map(|r| Lit {
                id: (at[r].layer, at[r].index),
                threshold: p.threshold(x[r].0),
                row: r as u32,
            });
            self.lit.extend(lit);
        }
    }
}

/// The component columns of a run of encoder rows, with the lit ones.
pub struct EncoderRows<'a> {
    rng: &'a mut [EncoderRng],
    s: &'a mut [Spiked],
    /// The table row of `rng[0]`.
    first: usize,
    /// The lit rows among these.
    lit: &'a [Lit],
}

impl Rows for EncoderRows<'_> {
    fn len(&self) -> usize {
        self.s.len()
    }

    fn split_at(self, mid: usize) -> (Self, Self) {
        let (r0, r1) = self.rng.split_at_mut(mid);
        let (s0, s1) = self.s.split_at_mut(mid);
        let k = self
            .lit
            .partition_point(|l| (l.row as usize) < self.first + mid);
        let (l0, l1) = self.lit.split_at(k);
        (
            EncoderRows {
                rng: r0,
                s: s0,
                first: self.first,
                lit: l0,
            },
            EncoderRows {
                rng: r1,
                s: s1,
                first: self.first + mid,
                lit: l1,
            },
        )
    }
}

/// One Bernoulli trial per encoder: spike iff `u < p`, `u` uniform on [0, 1)
/// ([`EncoderParams::threshold`]).
/// So `p = 0` never spikes and `p = 1` always does. An encoder at intensity
/// 0 (a black pixel, a rest) draws nothing: its stream advances only while
/// it can spike, which saves most of the draws on MNIST-like images (about
/// 80% black) without changing any spike probability. Spiking encoders are
/// appended to their layer's spike list, after every layer's list of the
/// last step has become its `previous` ([`swap_spike_buffers`]).
///
/// Which rows can spike and their thresholds change only with the
/// intensities (a new image, a rest), so they are kept per table
/// ([`LitRows`]) and found again only when the intensity column's summary
/// tick says it changed since the last step. Each step clears every
/// encoder's flag, then draws the lit encoders' streams four at a time
/// (`encode_rows`).
pub fn encode(
    layers: Query<&EncoderParams>,
    mut encoders: Query<(&InLayer, Ref<Intensity>, &mut EncoderRng, &mut Spiked)>,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut lit: Local<Vec<LitRows>>,
) {
    swap_spike_buffers(&mut lists);
    let kernel = |out: &mut Vec<(Entity, u32)>, rows: EncoderRows| {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { encode_rows_avx2(rows, out) };
        }
        // SAFETY: no AVX2 asked for.
        unsafe { encode_rows::<false>(rows, out) }
    };
    for (k, (at, x, mut r, mut s)) in encoders
        .contiguous_iter_mut()
        .expect("table-stored components")
        .enumerate()
    {
        let (x, ticks) = ContiguousRef::split(x);
        if lit.len() == k {
            lit.push(LitRows::default());
        }
        let table = &mut lit[k];
        if table.table != (x.as_ptr() as usize, x.len())
            || ticks.summary_tick_is_changed() != Some(false)
        {
            table.build(at, x, &layers);
        }
        let rows = EncoderRows {
            rng: r.bypass_change_detection(),
            s: s.bypass_change_detection(),
            first: 0,
            lit: &table.lit,
        };
        for_rows(rows, &mut fired, &kernel);
    }
    publish_spikes(&mut fired, &mut lists);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn encode_rows_avx2(rows: EncoderRows, out: &mut Vec<(Entity, u32)>) {
    // SAFETY: AVX2 is enabled here, so the CPU supports it.
    unsafe { encode_rows::<true>(rows, out) }
}

/// The trials of `rows`: every row is first marked silent; the lit rows'
/// streams are drawn four at a time ([`rng::next_four`], or
/// [`rng::next_four_avx2`] with `AVX2`), the last one to three one by one.
/// Whether a draw spikes is unpredictable, so its row's flag and its entry
/// in `out` are written without a branch: each candidate is written to a
/// four-entry buffer at the position of the next spike, which moves on only
/// if it spiked.
///
/// # Safety
/// With `AVX2`, the CPU supports AVX2.
#[inline(always)]
unsafe fn encode_rows<const AVX2: bool>(rows: EncoderRows, out: &mut Vec<(Entity, u32)>) {
    let EncoderRows { rng, s, first, lit } = rows;
    let rng = streams(rng);
    s.fill(Spiked(false));
    // Writes the flags of the trials of `lit` with `draws`, and their
    // entries to the front of `buffer`, each kept only if it spiked; returns
    // how many did.
    let mut trials = |lit: &[Lit], draws: &[u64], buffer: &mut [(Entity, u32); 4]| {
        let mut n = 0;
        for (l, &d) in lit.iter().zip(draws) {
            let spike = d >> 11 < l.threshold;
            s[l.row as usize - first] = Spiked(spike);
            // n < 4 here (at most three spikes before the fourth trial);
            // the mask only tells the compiler so.
            buffer[n & 3] = l.id;
            n += spike as usize;
        }
        n
    };
    let mut buffer = [(Entity::PLACEHOLDER, 0u32); 4];
    let (groups, tail) = lit.as_chunks::<4>();
    for group in groups {
        let rows = group.map(|l| l.row as usize - first);
        #[cfg(target_arch = "x86_64")]
        let draws = if AVX2 {
            // SAFETY: AVX2 is there (the caller's promise); lit rows ascend,
            // so the four are distinct.
            unsafe { rng::next_four_avx2(rng, rows) }
        } else {
            rng::next_four(rng, rows)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let draws = rng::next_four(rng, rows);
        let n = trials(group, &draws, &mut buffer);
        let len = out.len();
        out.extend_from_slice(&buffer);
        out.truncate(len + n);
    }
    let mut draws = [0u64; 4];
    for (d, l) in draws.iter_mut().zip(tail) {
        *d = rng[l.row as usize - first].next_u64();
    }
    let n = trials(tail, &draws, &mut buffer);
    out.extend_from_slice(&buffer[..n]);
}

/// The generators of a run of encoder streams.
fn streams(r: &mut [EncoderRng]) -> &mut [rng::Xoshiro256Words] {
    // SAFETY: `EncoderRng` is `repr(transparent)` over `Xoshiro256Words`.
    unsafe { std::slice::from_raw_parts_mut(r.as_mut_ptr().cast(), r.len()) }
}

#[cfg(test)]
mod tests {
    use super::EncoderParams;
    use crate::rng::{self, unit_of};
    use rand::Rng;

    #[test]
    fn thresholds_decide_as_the_uniform_does() {
        // r >> 11 < threshold(x) iff unit_of(r) < c·x, for random draws and
        // for the draws next to each threshold (k = T − 1, T, T + 1 with
        // random low bits), at scales with p < 1, p = 1 and p > 1, and at
        // x where c·x·2^53 is a whole number (c = 1, x = 0.5: T = 2^52).
        let mut g = rng::stream(11, 0, 0, 0);
        let xs = [0.0f32, 1e-30, 64.0 / 255.0, 0.5, 0.999, 1.0, -0.25];
        for scale in [1.0, 2.0, 0.06375, 0.3, 0.0] {
            let p = EncoderParams { scale };
            for &x in &xs {
                let t = p.threshold(x);
                let mut draws: Vec<u64> = (0..2000).map(|_| g.next_u64()).collect();
                for k in [t.saturating_sub(1), t, t + 1] {
                    if k < 1 << 53 {
                        draws.push(k << 11 | g.next_u64() >> 53);
                    }
                }
                for r in draws {
                    let exact = unit_of(r) < scale * x as f64;
                    assert_eq!(r >> 11 < t, exact, "scale {scale} x {x} r {r:#x}");
                }
            }
        }
        let half = EncoderParams { scale: 1.0 }.threshold(0.5);
        assert_eq!(half, 1 << 52);
        assert_eq!(EncoderParams { scale: 2.0 }.threshold(0.75), 1 << 53);
        assert_eq!(EncoderParams { scale: 1.0 }.threshold(0.0), 0);
    }
}
