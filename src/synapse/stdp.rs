//! Trace STDP on a dense projection (DESIGN §1, plasticity), as in Diehl &
//! Cook (2015) and ngc-learn, and weight normalization.
//!
//! At the end of step `n` (the `Learn` set, after every layer has spiked),
//! with `s_j`, `s_i` the pre- and postsynaptic spikes of step `n`:
//!
//! 1. traces decay: `x_j ← x_j · exp(−dt/τ_pre)`, `y_i ← y_i · exp(−dt/τ_post)`;
//! 2. depression, for each presynaptic spike `j`:
//!    `W[j, i] ← W[j, i] − a_minus · y_i · (W[j, i] with soft bounds, else 1)`;
//! 3. potentiation, for each postsynaptic spike `i`:
//!    `W[j, i] ← W[j, i] + a_plus · x_j · (w_max − W[j, i] with soft bounds, else 1)
//!    · (z_i with tau_post2_ms, else 1)`;
//!    each change is clipped to `[0, w_max]`;
//! 4. traces count this step's spikes: `x_j ← x_j + s_j`, `y_i ← y_i + s_i`
//!    (`traces = "add"`, the default), or are set to 1 by them (`"set"`:
//!    only the nearest spike counts, as in Diehl & Cook's code).
//!
//! With `tau_post2_ms`, a second, slower postsynaptic trace
//! `z_i ← z_i · exp(−dt/τ_post2)` (+1 or set to 1 like the others, after
//! the potentiation) scales potentiation: a neuron's spike potentiates in
//! proportion to its own recent activity, the "triplet" form of Diehl &
//! Cook's code (Pfister & Gerstner 2006's minimal triplet rule).
//!
//! So a pre spike at step `m` and a post spike at step `n > m` change
//! `W[j, i]` by `+a_plus · exp(−(n−m) dt/τ_pre)`, a post spike at `m` and a pre
//! spike at `n > m` by `−a_minus · exp(−(n−m) dt/τ_post)`, and spikes of the
//! same step by nothing. The weight changes follow spikes (a row per
//! presynaptic spike, a column per postsynaptic spike); the trace decay
//! touches every neuron once per step, like the neuron update.
//!
//! Normalization ([`normalize`]): `W[j, i] ← W[j, i] · total / Σ_j W[j, i]`,
//! so the incoming weights of each postsynaptic neuron sum to `total` (to
//! f32 rounding); the protocol applies it before training and after each training sample.

use bevy_ecs::prelude::*;

use crate::config::{StdpConfig, TraceUpdate};
use crate::layer::LayerSpikes;
use crate::step::Plasticity;
use crate::synapse::{Projection, Weights};

/// STDP state and coefficients of a dense projection. Written by `learn`.
#[derive(Component, Debug, Clone)]
pub struct Stdp {
    /// Presynaptic traces `x_j` (dimensionless).
    pub pre: Vec<f32>,
    /// Postsynaptic traces `y_i` (dimensionless).
    pub post: Vec<f32>,
    /// Slow postsynaptic traces `z_i` (triplet rule; empty without it).
    pub post2: Vec<f32>,
    /// `exp(−dt/τ_post2)`.
    pub decay_post2: f32,
    /// Spikes set their traces to 1 instead of adding 1.
    pub set: bool,
    /// `exp(−dt/τ_pre)`.
    pub decay_pre: f32,
    /// `exp(−dt/τ_post)`.
    pub decay_post: f32,
    /// Potentiation rate.
    pub a_plus: f32,
    /// Depression rate.
    pub a_minus: f32,
    /// Upper weight bound (the lower is 0).
    pub w_max: f32,
    /// Weight-dependent (soft) bounds.
    pub soft: bool,
    /// Target sum of each postsynaptic neuron's incoming weights, if normalized.
    pub normalize: Option<f64>,
}

impl Stdp {
    /// Zero traces for `n_pre → n_post` neurons at time step `dt_ms`.
    pub fn new(c: &StdpConfig, n_pre: usize, n_post: usize, dt_ms: f64) -> Self {
        Self {
            pre: vec![0.0; n_pre],
            post: vec![0.0; n_post],
            post2: vec![0.0; if c.tau_post2_ms.is_some() { n_post } else { 0 }],
            decay_post2: c.tau_post2_ms.map_or(0.0, |t| (-dt_ms / t).exp() as f32),
            set: c.traces == TraceUpdate::Set,
            decay_pre: (-dt_ms / c.tau_pre_ms).exp() as f32,
            decay_post: (-dt_ms / c.tau_post_ms).exp() as f32,
            a_plus: c.a_plus as f32,
            a_minus: c.a_minus as f32,
            w_max: c.w_max as f32,
            soft: c.soft_bounds,
            normalize: c.normalize,
        }
    }

    /// Forgets all spikes (traces to 0), e.g. between samples.
    pub fn clear(&mut self) {
        self.pre.fill(0.0);
        self.post.fill(0.0);
        self.post2.fill(0.0);
    }

    /// One step of the rule (steps 1–4 of the module docs) on a dense
    /// row-major `n_pre × n_post` matrix `w`, given this step's spikes
    /// (ascending indices).
    pub fn step(&mut self, w: &mut [f32], pre_spikes: &[u32], post_spikes: &[u32]) {
        let n_post = self.post.len();
        debug_assert_eq!(w.len(), self.pre.len() * n_post);
        self.pre.iter_mut().for_each(|x| *x *= self.decay_pre);
        self.post.iter_mut().for_each(|y| *y *= self.decay_post);
        self.post2.iter_mut().for_each(|z| *z *= self.decay_post2);
        let (w_max, soft) = (self.w_max, self.soft);
        for &j in pre_spikes {
            let row = &mut w[j as usize * n_post..][..n_post];
            let a = self.a_minus;
            for (w, &y) in row.iter_mut().zip(&self.post) {
                let scale = if soft { *w } else { 1.0 };
                *w = (*w - a * y * scale).clamp(0.0, w_max);
            }
        }
        for &i in post_spikes {
            let a = self.a_plus * self.post2.get(i as usize).copied().unwrap_or(1.0);
            for (row, &x) in w.chunks_exact_mut(n_post).zip(&self.pre) {
                let w = &mut row[i as usize];
                let scale = if soft { w_max - *w } else { 1.0 };
                *w = (*w + a * x * scale).clamp(0.0, w_max);
            }
        }
        let count = |t: &mut f32| *t = if self.set { 1.0 } else { *t + 1.0 };
        for &j in pre_spikes {
            count(&mut self.pre[j as usize]);
        }
        for &i in post_spikes {
            count(&mut self.post[i as usize]);
            if let Some(z) = self.post2.get_mut(i as usize) {
                count(z);
            }
        }
    }
}

/// Scales each column of a dense row-major matrix with `n_post` columns so
/// that it sums to `total` (a column of zeros stays zero). Sums are taken in
/// f64, row by row, in a fixed order.
pub fn normalize(w: &mut [f32], n_post: usize, total: f64) {
    let mut sums = vec![0.0f64; n_post];
    for row in w.chunks_exact(n_post) {
        sums.iter_mut().zip(row).for_each(|(s, &w)| *s += w as f64);
    }
    let factors: Vec<f32> = sums
        .iter()
        .map(|&s| if s > 0.0 { (total / s) as f32 } else { 0.0 })
        .collect();
    for row in w.chunks_exact_mut(n_post) {
        row.iter_mut().zip(&factors).for_each(|(w, &f)| *w *= f);
    }
}

/// Applies one step of STDP to every projection that has it, from this
/// step's spikes of its pre and post layers, when [`Plasticity::stdp`] is on.
pub fn learn(
    plasticity: Res<Plasticity>,
    spikes: Query<&LayerSpikes>,
    mut projections: Query<(&Projection, &mut Weights, &mut Stdp)>,
) {
    if !plasticity.stdp {
        return;
    }
    for (p, mut w, mut stdp) in &mut projections {
        let pre = &spikes.get(p.pre).expect("pre layer").current;
        let post = &spikes.get(p.post).expect("post layer").current;
        let Weights::Dense { w, .. } = w.bypass_change_detection() else {
            unreachable!("the config allows STDP on dense projections only")
        };
        stdp.bypass_change_detection().step(w, pre, post);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(soft: bool) -> Stdp {
        let c = StdpConfig {
            tau_pre_ms: 20.0,
            tau_post_ms: 10.0,
            a_plus: 0.01,
            a_minus: 0.005,
            w_max: 1.0,
            soft_bounds: soft,
            normalize: None,
            tau_post2_ms: None,
            traces: TraceUpdate::Add,
        };
        Stdp::new(&c, 1, 1, 1.0)
    }

    /// Runs steps 0..=last with the given spike steps of one pre and one post neuron.
    fn pair(stdp: &mut Stdp, w0: f32, pre_at: &[u64], post_at: &[u64], last: u64) -> f32 {
        let mut w = [w0];
        for n in 0..=last {
            let pre: &[u32] = if pre_at.contains(&n) { &[0] } else { &[] };
            let post: &[u32] = if post_at.contains(&n) { &[0] } else { &[] };
            stdp.step(&mut w, pre, post);
        }
        w[0]
    }

    #[test]
    fn pre_before_post_potentiates_by_the_pre_trace() {
        // Pre at step 2, post at step 7, dt = 1 ms, τ_pre = 20 ms: x = 1 after
        // step 2, decayed 5 times by exp(−1/20) at step 7 = exp(−0.25) = 0.778801.
        // ΔW = a_plus · 0.778801 = 0.00778801. The post trace is 0 when the
        // pre neuron spikes, so there is no depression.
        let w = pair(&mut rule(false), 0.5, &[2], &[7], 10);
        assert!((w - (0.5 + 0.01 * 0.778_800_8)).abs() < 1e-7, "{w}");
    }

    #[test]
    fn post_before_pre_depresses_by_the_post_trace() {
        // Post at step 3, pre at step 6, τ_post = 10 ms: y = exp(−3/10) = 0.740818
        // at step 6; ΔW = −a_minus · 0.740818 = −0.00370409.
        let w = pair(&mut rule(false), 0.5, &[6], &[3], 8);
        assert!((w - (0.5 - 0.005 * 0.740_818_2)).abs() < 1e-7, "{w}");
        // Spikes in the same step change nothing: neither trace counts them yet.
        assert_eq!(pair(&mut rule(false), 0.5, &[4], &[4], 6), 0.5);
    }

    #[test]
    fn soft_bounds_scale_the_changes_by_the_room_left() {
        // Soft potentiation from W = 0.8: ΔW = a_plus · x · (1 − 0.8) = 0.01 · 0.778801 · 0.2.
        let w = pair(&mut rule(true), 0.8, &[2], &[7], 7);
        assert!((w - (0.8 + 0.01 * 0.778_800_8 * 0.2)).abs() < 1e-7, "{w}");
        // Soft depression from W = 0.8: ΔW = −a_minus · y · 0.8 = −0.005 · 0.740818 · 0.8.
        let w = pair(&mut rule(true), 0.8, &[6], &[3], 6);
        assert!((w - (0.8 - 0.005 * 0.740_818_2 * 0.8)).abs() < 1e-7, "{w}");
    }

    #[test]
    fn hard_bounds_clip_to_zero_and_w_max() {
        // Ten pre spikes (steps 0..9) then a post spike each step after: the
        // pre trace reaches ≈ 8 and each potentiation adds ≈ 0.08, so W = 0.99
        // would pass 1 without the clip.
        let mut s = rule(false);
        let pre: Vec<u64> = (0..10).collect();
        let post: Vec<u64> = (10..20).collect();
        assert_eq!(pair(&mut s, 0.99, &pre, &post, 20), 1.0);
        // And the reverse pushes W = 0.01 below 0 without the clip.
        let mut s = rule(false);
        assert_eq!(pair(&mut s, 0.01, &post, &pre, 20), 0.0);
    }

    #[test]
    fn triplet_factor_and_set_traces() {
        // τ_post2 = 40 ms, traces set to 1. Pre at steps 0 and 1, post at 5 and 10:
        // x = 1 after step 1 (set, not 2), so at step 5 x = e^(−4/20) and z = 0
        // (no earlier post spike): no potentiation. At step 10 x = e^(−9/20),
        // z = e^(−5/40) (set to 1 at step 5): ΔW = a_plus · e^(−0.45) · e^(−0.125)
        // = 0.01 · 0.637628 · 0.882497 = 0.00562705. Depression: none (the post
        // trace is 0 at both pre spikes).
        let c = StdpConfig {
            tau_post2_ms: Some(40.0),
            traces: TraceUpdate::Set,
            ..StdpConfig::default()
        };
        let mut s = Stdp::new(&c, 1, 1, 1.0);
        assert_eq!(pair(&mut s, 0.5, &[0, 1], &[5], 5), 0.5);
        let mut s = Stdp::new(&c, 1, 1, 1.0);
        let w = pair(&mut s, 0.5, &[0, 1], &[5, 10], 10);
        assert!(
            (w - (0.5 + 0.01 * 0.637_628_2 * 0.882_496_9)).abs() < 1e-7,
            "{w}"
        );
    }

    #[test]
    fn normalization_makes_every_column_sum_to_the_total() {
        // 3 × 2: column sums 6 and 0.6 before; 78 after, to f32 rounding
        // (a sum of 3 values each within half an ulp: |error| < 3 · 78 · 2^-24).
        let mut w = vec![1.0, 0.1, 2.0, 0.2, 3.0, 0.3];
        normalize(&mut w, 2, 78.0);
        for i in 0..2 {
            let s: f64 = (0..3).map(|j| w[j * 2 + i] as f64).sum();
            assert!((s - 78.0).abs() < 3.0 * 78.0 * f32::EPSILON as f64, "{s}");
        }
        // Proportions are kept: 1 : 2 : 3 → 13, 26, 39.
        assert_eq!(&w[0..1], &[13.0]);
        assert_eq!(w[4], 39.0);
    }
}
