//! Threshold adaptation (DESIGN §1, step 5): the effective threshold of
//! neuron `i` is `σ + θ_i`.
//!
//! - global: one `σ` per layer, `σ <- max(σ_min, σ + η (Σ_i s_i(n) − target))`,
//!   driving the layer towards `target` spikes per step;
//! - individual: `θ_i <- θ_i (1 − dt/τ_θ) + β s_i(n)`, so neurons that fire
//!   often fire less.
//!
//! Both apply after the spike test, so the spikes of step `n` are judged
//! against the thresholds of step `n−1`. The individual update is part of
//! [`crate::neuron::update`]; it computes the decay as `θ − θ·dt/τ_θ` rather
//! than `θ·(1 − dt/τ_θ)`, and θ is an f64: with dt = 0.5 ms and τ_θ = 10^7 ms
//! (Diehl & Cook) one step's decay is 5·10^-8 of θ, less than half an f32
//! ulp, so in f32 θ would never decay at all.

use bevy_ecs::prelude::*;

use crate::config::ThresholdConfig;
use crate::layer::LayerSpikes;
use crate::step::Plasticity;

/// A LIF layer's shared threshold σ in mV. Written by `adapt_global`
/// (constant without global adaptation).
#[derive(Component, Debug, Clone, Copy)]
pub struct LayerThreshold {
    /// σ (mV).
    pub sigma: f32,
}

/// A neuron's own threshold offset θ_i in mV (0 without individual
/// adaptation). Written by `neuron::update`.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Threshold {
    /// θ_i (mV); f64 so that decays of 10^-8 per step are not lost.
    pub theta: f64,
}

/// Per-layer adaptation parameters. Written once by the network builder.
#[derive(Component, Debug, Clone, Default)]
pub struct ThresholdParams {
    /// `(η, target, σ_min)` when global adaptation is on.
    pub global: Option<(f32, f32, f32)>,
    /// `(dt/τ_θ, β)` when individual adaptation is on.
    pub individual: Option<(f64, f64)>,
}

impl ThresholdParams {
    /// From the layer's config at time step `dt_ms`.
    pub fn new(c: &ThresholdConfig, dt_ms: f64) -> Self {
        Self {
            global: c
                .global
                .as_ref()
                .map(|g| (g.eta as f32, g.target as f32, g.sigma_min as f32)),
            individual: c
                .individual
                .as_ref()
                .map(|i| (dt_ms / i.tau_theta_ms, i.beta)),
        }
    }
}

/// Global adaptation of each layer's σ from this step's spike count.
/// Nothing changes while [`Plasticity::thresholds`] is off.
pub fn adapt_global(
    plasticity: Res<Plasticity>,
    mut layers: Query<(&ThresholdParams, &LayerSpikes, &mut LayerThreshold)>,
) {
    if !plasticity.thresholds {
        return;
    }
    for (p, spikes, mut sigma) in &mut layers {
        if let Some((eta, target, sigma_min)) = p.global {
            let count = spikes.current.len() as f32;
            let s = &mut sigma.bypass_change_detection().sigma;
            *s = (*s + eta * (count - target)).max(sigma_min);
        }
    }
}
