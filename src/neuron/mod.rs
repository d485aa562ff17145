//! Leaky integrate-and-fire neurons: components, parameters, and the
//! `integrate` and `fire` systems (DESIGN §1, steps 2–4).
//!
//! One step from `n-1` to `n`, for neuron `i` with synaptic input `I_c(n)`
//! into each of the layer's synaptic currents `c` (see [`crate::synapse`];
//! the external current enters the first one):
//!
//! - current, `instantaneous`: `J_c(n) = I_c(n)`;
//!   `continuous`: `J_c(n) = J_c(n-1) + dt/τ_c · (−k_c J_c(n-1) + I_c(n))`;
//!   `exponential`: `J_c(n) = J_c(n-1) · exp(−dt/τ_c) + I_c(n)`
//! - voltage: `V(n) = V(n-1) + dt/τ_v · (−k_v (V(n-1) − v_rest) + r J(n))`
//!   with `J = Σ_c J_c`, using the currents just updated
//! - spike: `s(n) = [V(n) >= σ + θ_i]`; a spiking neuron's voltage becomes
//!   `v_reset`, and for the next `ref_steps` steps it is held there (its
//!   current keeps integrating) and cannot spike.

use bevy_ecs::prelude::*;

use crate::config::{CurrentModel, LifConfig, MAX_SYNAPSES};
use crate::layer::{InLayer, Spiked};
use crate::schedule::{Clock, for_each_neuron};
use crate::synapse::InputRing;
use crate::threshold::{LayerThreshold, Threshold};

/// Membrane voltage V in mV. Written by `integrate` and `fire`.
#[derive(Component, Debug, Clone, Copy)]
pub struct Voltage(pub f32);

/// Synaptic currents `J_c` in nA, one per synaptic current of the layer
/// (entries past the layer's count stay 0). Written by `integrate`.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Current(pub [f32; MAX_SYNAPSES]);

impl Current {
    /// `J = Σ_c J_c`, summed in order.
    #[inline]
    pub fn total(&self) -> f32 {
        self.0.iter().sum()
    }
}

/// One synaptic current's update coefficients.
#[derive(Debug, Clone, Copy)]
pub struct Receptor {
    /// Its model.
    pub model: CurrentModel,
    /// `dt/τ` (`continuous`) or `exp(−dt/τ)` (`exponential`).
    pub a: f32,
    /// Leak factor `k` (`continuous`).
    pub k: f32,
}

/// Refractory state. Written by `fire` (start) and `integrate` (count-down).
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Refractory {
    /// Steps the voltage is still to be held at `v_reset`.
    pub remaining: u32,
    /// Whether the voltage was held this step (such a neuron cannot spike).
    pub held: bool,
}

/// Number of LIF neurons in the network (decides serial or parallel iteration).
#[derive(Resource, Debug, Clone, Copy)]
pub struct LifCount(pub usize);

/// Per-layer LIF parameters, with the Euler coefficients precomputed.
/// Written once by the network builder.
#[derive(Component, Debug, Clone)]
pub struct LifParams {
    /// The synaptic currents, in the order of [`LifConfig::receptors`].
    pub receptors: Vec<Receptor>,
    /// `dt/τ_v`.
    pub dt_over_tau_v: f32,
    /// Voltage leak factor `k_v`.
    pub k_v: f32,
    /// Membrane resistance `r` (MΩ).
    pub r: f32,
    /// Resting voltage (mV).
    pub v_rest: f32,
    /// Reset voltage (mV).
    pub v_reset: f32,
    /// Refractory steps after a spike, `round(t_ref / dt)`.
    pub ref_steps: u32,
    /// Constant external current (nA).
    pub i_ext: f32,
    /// Step current: `(first step, end step exclusive, amplitude nA)`.
    pub step_current: Option<(u64, u64, f32)>,
}

impl LifParams {
    /// Derives the coefficients for time step `dt_ms`.
    pub fn new(c: &LifConfig, dt_ms: f64) -> Self {
        // A window [start, stop) in ms covers the steps n with start <= n*dt < stop.
        let first_step = |ms: f64| (ms / dt_ms).ceil() as u64;
        Self {
            receptors: c
                .receptors()
                .iter()
                .map(|(_, r)| Receptor {
                    model: r.current,
                    a: match r.current {
                        CurrentModel::Exponential => (-dt_ms / r.tau_ms).exp() as f32,
                        _ => (dt_ms / r.tau_ms) as f32,
                    },
                    k: r.k as f32,
                })
                .collect(),
            dt_over_tau_v: (dt_ms / c.tau_v_ms) as f32,
            k_v: c.k_v as f32,
            r: c.r as f32,
            v_rest: c.v_rest as f32,
            v_reset: c.v_reset as f32,
            ref_steps: (c.t_ref_ms / dt_ms).round() as u32,
            i_ext: c.i_ext as f32,
            step_current: c.step_current.as_ref().map(|s| {
                (
                    first_step(s.start_ms),
                    first_step(s.stop_ms),
                    s.amplitude as f32,
                )
            }),
        }
    }

    /// External current at step `n` (nA).
    #[inline]
    pub fn external(&self, n: u64) -> f32 {
        match self.step_current {
            Some((a, b, amp)) if (a..b).contains(&n) => self.i_ext + amp,
            _ => self.i_ext,
        }
    }
}

/// Current and voltage Euler steps of every LIF neuron.
pub fn integrate(
    clock: Res<Clock>,
    count: Res<LifCount>,
    layers: Query<(&LifParams, &InputRing)>,
    mut neurons: Query<(&InLayer, &mut Current, &mut Voltage, &mut Refractory)>,
) {
    let n = clock.step;
    for_each_neuron!(neurons, count.0, |(at, mut j, mut v, mut refr): (
        &InLayer,
        Mut<Current>,
        Mut<Voltage>,
        Mut<Refractory>
    )| {
        let (p, ring) = layers.get(at.layer).expect("LIF neuron's layer");
        let i = at.index as usize;
        let j = &mut j.bypass_change_detection().0;
        for (c, (rc, jc)) in p.receptors.iter().zip(j.iter_mut()).enumerate() {
            let mut input = ring.slot(n, c)[i];
            if c == 0 {
                input += p.external(n);
            }
            *jc = match rc.model {
                CurrentModel::Instantaneous => input,
                CurrentModel::Continuous => *jc + rc.a * (-rc.k * *jc + input),
                CurrentModel::Exponential => *jc * rc.a + input,
            };
        }
        let total: f32 = j.iter().sum();
        let refr = refr.bypass_change_detection();
        let v = &mut v.bypass_change_detection().0;
        refr.held = refr.remaining > 0;
        if refr.held {
            refr.remaining -= 1;
            *v = p.v_reset;
        } else {
            *v += p.dt_over_tau_v * (-p.k_v * (*v - p.v_rest) + p.r * total);
        }
    });
}

/// Threshold crossing, reset and start of the refractory period.
pub fn fire(
    count: Res<LifCount>,
    layers: Query<(&LifParams, &LayerThreshold)>,
    mut neurons: Query<(
        &InLayer,
        &Threshold,
        &mut Voltage,
        &mut Refractory,
        &mut Spiked,
    )>,
) {
    for_each_neuron!(neurons, count.0, |(at, theta, mut v, mut refr, mut s): (
        &InLayer,
        &Threshold,
        Mut<Voltage>,
        Mut<Refractory>,
        Mut<Spiked>
    )| {
        let (p, sigma) = layers.get(at.layer).expect("LIF neuron's layer");
        let spike = !refr.held && v.0 >= sigma.sigma + theta.theta;
        s.bypass_change_detection().0 = spike;
        if spike {
            v.bypass_change_detection().0 = p.v_reset;
            refr.bypass_change_detection().remaining = p.ref_steps;
        }
    });
}
