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
//! [`super::update`]; it computes the decay as `θ − θ·dt/τ_θ` rather
//! than `θ·(1 − dt/τ_θ)`, and θ is an f64: with dt = 0.5 ms and τ_θ = 10^7 ms
//! (Diehl & Cook) one step's decay is 5·10^-8 of θ, less than half an f32
//! ulp, so in f32 θ would never decay at all.
//!
//! σ is an f64 too, and so are η, the target and σ_min: in f32 each step's
//! `σ + η (Σ s − target)` rounds to the f32 grid (an ulp is 3.8·10^-6 mV
//! between 32 and 64 mV) and the roundings add up: with η = 0.001 mV σ
//! loses 262 ulps a step instead of 262.144, 5.5·10^-3 mV in 10^4 steps
//! (`tests/model.rs`).
//!
//! **Precision of the spike test.** The state V is f32 and the test is
//! done in f32: σ and θ_i are each rounded to the nearest f32 and summed
//! in f32, `V ≥ f32(σ) + f32(θ_i)` ([`spike_threshold`]). Rounding the
//! stored value costs at most half an ulp, once, and never accumulates.

use bevy_ecs::prelude::*;

use serde::{Deserialize, Serialize};

use crate::layer::LayerSpikes;
use crate::param::{ConfigError, err, finite, non_negative};
use crate::step::Plasticity;

/// A LIF layer's shared threshold σ in mV. Written by `adapt_global`
/// (constant without global adaptation).
#[derive(Component, Debug, Clone, Copy)]
pub struct LayerThreshold {
    /// σ (mV); f64 so that its adaptation does not drift (module
    /// documentation).
    pub sigma: f64,
}

/// The threshold `V` is compared with, `f32(σ) + f32(θ_i)` (mV): each
/// f64 rounded to f32, summed in f32 (module documentation).
#[inline(always)]
pub fn spike_threshold(sigma: f32, theta: f64) -> f32 {
    sigma + theta as f32
}

/// A neuron's own threshold offset θ_i in mV (0 without individual
/// adaptation). Written by `neuron::update`.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Threshold {
    /// θ_i (mV); f64 so that decays of 10^-8 per step are not lost.
    pub theta: f64,
}

/// `threshold = { global = {...}, individual = {...} }`; either, both or neither.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdConfig {
    /// One σ per layer: `σ <- max(sigma_min, σ + eta * (Σ s - target))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalThresholdConfig>,
    /// Per neuron: `θ_i <- θ_i (1 - dt/tau_theta_ms) + beta s_i`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual: Option<IndividualThresholdConfig>,
}

/// Global threshold adaptation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalThresholdConfig {
    /// Adaptation rate in mV per excess spike (default 0.01, >= 0).
    pub eta: f64,
    /// Target number of spikes per step in the layer (default 1.0, >= 0).
    pub target: f64,
    /// Lower bound of σ in mV (default 0.0).
    pub sigma_min: f64,
}

impl Default for GlobalThresholdConfig {
    fn default() -> Self {
        Self {
            eta: 0.01,
            target: 1.0,
            sigma_min: 0.0,
        }
    }
}

/// Individual threshold adaptation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndividualThresholdConfig {
    /// Decay time constant of θ_i in ms (default 1e7, as in Diehl & Cook; >= dt).
    pub tau_theta_ms: f64,
    /// Jump of θ_i per spike in mV (default 0.05, >= 0).
    pub beta: f64,
    /// θ_i at the start in mV (default 0). θ decays towards 0, so with
    /// `theta_init > 0` a neuron that stops firing slowly becomes easier to
    /// excite than at the start (Diehl & Cook: σ = −72 mV, θ from 20 mV).
    pub theta_init: f64,
}

impl Default for IndividualThresholdConfig {
    fn default() -> Self {
        Self {
            tau_theta_ms: 1e7,
            beta: 0.05,
            theta_init: 0.0,
        }
    }
}

impl ThresholdConfig {
    /// Checks ranges; `key(field)` is the layer's dotted key of a field.
    pub fn validate(&self, key: &dyn Fn(&str) -> String, dt: f64) -> Result<(), ConfigError> {
        if let Some(g) = &self.global {
            non_negative(&key("threshold.global.eta"), g.eta)?;
            non_negative(&key("threshold.global.target"), g.target)?;
            finite(&key("threshold.global.sigma_min"), g.sigma_min)?;
        }
        if let Some(i) = &self.individual {
            non_negative(&key("threshold.individual.beta"), i.beta)?;
            finite(&key("threshold.individual.theta_init"), i.theta_init)?;
            if i.tau_theta_ms.is_nan() || i.tau_theta_ms < dt {
                return err(format!(
                    "{}: must be >= dt_ms ({dt}), got {}",
                    key("threshold.individual.tau_theta_ms"),
                    i.tau_theta_ms
                ));
            }
        }
        Ok(())
    }
}

/// Per-layer adaptation parameters. Written once by the network builder.
#[derive(Component, Debug, Clone, Default)]
pub struct ThresholdParams {
    /// Global adaptation, when on.
    pub global: Option<GlobalAdaptation>,
    /// Individual adaptation, when on.
    pub individual: Option<IndividualAdaptation>,
}

/// Global adaptation's coefficients: `σ ← max(σ_min, σ + η (Σ s − target))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlobalAdaptation {
    /// η (mV per excess spike).
    pub eta: f64,
    /// Target spikes per step.
    pub target: f64,
    /// σ_min (mV).
    pub sigma_min: f64,
}

/// Individual adaptation's coefficients: `θ ← θ − θ·decay + β s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndividualAdaptation {
    /// `dt/τ_θ`.
    pub decay: f64,
    /// β (mV per spike).
    pub beta: f64,
}

impl ThresholdParams {
    /// From the layer's config at time step `dt_ms`.
    pub fn new(c: &ThresholdConfig, dt_ms: f64) -> Self {
        Self {
            global: c.global.as_ref().map(|g| GlobalAdaptation {
                eta: g.eta,
                target: g.target,
                sigma_min: g.sigma_min,
            }),
            individual: c.individual.as_ref().map(|i| IndividualAdaptation {
                decay: dt_ms / i.tau_theta_ms,
                beta: i.beta,
            }),
        }
    }
}

/// Global adaptation of each layer's σ from this step's spike count, in
/// f64. Nothing changes while [`Plasticity::thresholds`] is off.
pub fn adapt_global(
    plasticity: Res<Plasticity>,
    mut layers: Query<(&ThresholdParams, &LayerSpikes, &mut LayerThreshold)>,
) {
    if !plasticity.thresholds {
        return;
    }
    for (p, spikes, mut sigma) in &mut layers {
        if let Some(GlobalAdaptation {
            eta,
            target,
            sigma_min,
        }) = p.global
        {
            let count = spikes.current.len() as f64;
            let s = &mut sigma.bypass_change_detection().sigma;
            *s = (*s + eta * (count - target)).max(sigma_min);
        }
    }
}
