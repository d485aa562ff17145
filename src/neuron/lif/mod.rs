//! The leaky integrate-and-fire neuron (`kind = "lif"`), the seed's model
//! (DESIGN §1, steps 2–5).
//!
//! One step from `n-1` to `n`, for neuron `i` with synaptic input `I_c(n)`
//! into each of the layer's synaptic currents `c` ([`super::synaptic`]; the
//! external current enters the first one):
//!
//! - synaptic currents: `J_c(n)` by their model (`instantaneous`,
//!   `continuous`, `exponential`);
//! - voltage: `V(n) = V(n-1) + dt/τ_v · (−k_v (V(n-1) − v_rest) + r J(n))`
//!   with `J = Σ_c J_c`, using the currents just updated; a
//!   conductance-based synapse (`reversal_mv = E_c`) holds a conductance
//!   `g_c` (µS) and contributes `J_c = g_c (E_c − V(n-1))` instead;
//! - spike: `s(n) = [V(n) >= σ + θ_i]` (σ and θ_i are f64, rounded to f32
//!   for the test: [`threshold`]); a spiking neuron's voltage becomes
//!   `v_reset`, and for the next `ref_steps` steps it is held there (its
//!   currents keep integrating); it cannot spike for the next `lock_steps`
//!   (`t_ref_spike`, default `t_ref`);
//! - thresholds ([`threshold`]): individual `θ_i ← θ_i(1 − dt/τ_θ) + β s_i`
//!   in the same pass, global `σ` from the layer's spike count in `Adapt`.
//!
//! Parameters ([`LifConfig`], `[layers.<name>]` with `kind = "lif"`):
//!
//! | key | default | unit | meaning |
//! |---|---|---|---|
//! | `size` | required | neurons | ≥ 1 |
//! | `current` | `continuous` | | the one synaptic current's model |
//! | `tau_j_ms`, `k_j` | 10, 1 | ms, — | its time constant and leak factor |
//! | `synapses.<name>` | none | | up to two named synaptic currents instead |
//! | `tau_v_ms` †, `k_v` †, `r` † | 20, 1, 1 | ms, —, MΩ | membrane time constant, leak factor, resistance |
//! | `v_rest` †, `v_reset` †, `v_init` | 0, 0, `v_rest` | mV | rest, reset, initial voltage |
//! | `t_ref_ms` †, `t_ref_spike_ms` † | 0, `t_ref_ms` | ms | voltage hold and spike lockout |
//! | `sigma` | 1 | mV | threshold σ |
//! | `i_ext` †, `step_current` | 0, none | nA | external current |
//! | `threshold.global`, `threshold.individual` | none | | adaptation |
//!
//! † one number for the layer, a distribution drawn per neuron or a file of
//! one value per neuron ([`PerNeuron`]); each neuron's coefficients
//! ([`LifCoef`]: `dt/τ_v`, the refractory steps) are derived from its own
//! values. The other numeric keys are one number for the layer.
//!
//! Recordables: `voltage` (mV), `current` (`J`, nA: the conductance-based
//! terms `g_c (E_c − V(n-1))` as the voltage step used them),
//! `threshold` (σ + θ_i, mV), `theta` (θ_i, mV), `input` (nA), and
//! `g_<name>` (µS) of each conductance-based synapse `<name>`.

pub mod threshold;
mod update;

use crate::resume::state::StateColumn;
use std::borrow::Cow;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};
use serde::{Deserialize, Serialize};

use super::driver::{Coefs, neuron_key, reset_each, spawn_neurons};
use super::model::{LayerModel, NeuronModel, Recordable, Spawn, read_each};
use super::synaptic::{
    CurrentModel, EULER_CURRENTS, SynapseConfig, SynapticCurrent, current_model_in, currents_or,
    validate_external, validate_synapses,
};
use super::{Voltage, initial_voltages};
use crate::neuron::recordables;
use crate::param::{
    ConfigError, Distribution, Map, PerNeuron, StepCurrent, err, finite, layer_number,
    non_negative, positive, resolve_all, validate_all,
};
use crate::step::StepSet;
pub use threshold::{LayerThreshold, Threshold, ThresholdConfig, ThresholdParams};
pub use update::update;

/// The LIF model ([`NeuronModel`]).
pub struct Lif;

/// Marks a LIF neuron: the LIF update and reset see only entities with it.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct LifNeuron;

/// Steps until the neuron may spike again, counting down from
/// `lock_steps` at a spike; the voltage is held at `v_reset` while more than
/// `lock_steps − ref_steps` remain. Written by `update`.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Refractory(pub u16);

/// A leaky integrate-and-fire layer.
///
/// Units: time in ms, voltage in mV, current in nA, `r` in MΩ (so `r * J` is mV).
/// The seed's network uses dimensionless values of the same size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifConfig {
    /// Number of neurons (required, >= 1).
    pub size: usize,
    /// Model of the layer's one synaptic current when `synapses` is empty:
    /// `instantaneous`, `continuous` (default) or `exponential`.
    pub current: CurrentModel,
    /// Its time constant τ_j in ms (default 10.0, > 0).
    #[serde(deserialize_with = "layer_number")]
    pub tau_j_ms: f64,
    /// Its leak factor k_j (default 1.0).
    #[serde(deserialize_with = "layer_number")]
    pub k_j: f64,
    /// Several named synaptic currents instead (at most [`MAX_SYNAPSES`](crate::neuron::synaptic::MAX_SYNAPSES));
    /// `J = Σ_c J_c` drives the voltage. Default: none, i.e. the single
    /// current above, named `default`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub synapses: Map<SynapseConfig>,
    /// Membrane time constant τ_v in ms (default 20.0, > 0).
    pub tau_v_ms: PerNeuron,
    /// Voltage leak factor k_v (default 1.0).
    pub k_v: PerNeuron,
    /// Membrane resistance r in MΩ (default 1.0).
    pub r: PerNeuron,
    /// Resting voltage in mV (default 0.0).
    pub v_rest: PerNeuron,
    /// Initial voltage distribution in mV (default: `v_rest`), e.g.
    /// `{ kind = "uniform", low = -60.0, high = -50.0 }`; drawn per neuron
    /// from the `(seed, layer)` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v_init: Option<Distribution>,
    /// Voltage after a spike in mV (default 0.0).
    pub v_reset: PerNeuron,
    /// Refractory period in ms (default 0.0, >= 0): the voltage is held at
    /// `v_reset` for `round(t_ref_ms / dt_ms)` steps after a spike, with
    /// Rust's rounding: halves away from zero, so 2.5 ms at dt 1 ms holds 3
    /// steps (Python's `round`, halves to even, gives 2).
    pub t_ref_ms: PerNeuron,
    /// Time after a spike in which the neuron cannot spike again, in ms
    /// (default `t_ref_ms`, >= `t_ref_ms`): past `t_ref_ms` the voltage
    /// integrates again but crossing the threshold does nothing until
    /// `round(t_ref_spike_ms / dt_ms)` steps have passed (halves rounded
    /// up, as for `t_ref_ms`). Diehl & Cook's
    /// code has 5 ms and 50 ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_ref_spike_ms: Option<PerNeuron>,
    /// Base threshold σ in mV (default 1.0); the starting value when adaptive.
    #[serde(deserialize_with = "layer_number")]
    pub sigma: f64,
    /// Constant external current in nA added to the input of the first
    /// synaptic current every step (default 0.0).
    pub i_ext: PerNeuron,
    /// Optional step current added to the synaptic input inside a time window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_current: Option<StepCurrent>,
    /// Threshold adaptation (default: fixed threshold).
    pub threshold: ThresholdConfig,
}

impl Default for LifConfig {
    fn default() -> Self {
        Self {
            size: 0,
            current: CurrentModel::Continuous,
            tau_j_ms: 10.0,
            k_j: 1.0,
            synapses: Map::new(),
            tau_v_ms: 20.0.into(),
            k_v: 1.0.into(),
            r: 1.0.into(),
            v_rest: 0.0.into(),
            v_init: None,
            v_reset: 0.0.into(),
            t_ref_ms: 0.0.into(),
            t_ref_spike_ms: None,
            sigma: 1.0,
            i_ext: 0.0.into(),
            step_current: None,
            threshold: ThresholdConfig::default(),
        }
    }
}

/// One LIF neuron's constants in f32, the Euler coefficients precomputed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifCoef {
    /// `dt/τ_v`.
    pub a_v: f32,
    /// Voltage leak factor `k_v`.
    pub k_v: f32,
    /// Membrane resistance `r` (MΩ).
    pub r: f32,
    /// Resting voltage (mV).
    pub v_rest: f32,
    /// Reset voltage (mV).
    pub v_reset: f32,
    /// Steps after a spike without another, `round(t_ref_spike / dt)`
    /// (>= `round(t_ref / dt)`).
    pub lock_steps: u16,
    /// The voltage is free to move once the countdown is at most this:
    /// `lock_steps − round(t_ref / dt)`.
    pub free_at: u16,
}

/// Per-layer LIF parameters. Written once by the network builder.
#[derive(Component, Debug, Clone)]
pub struct LifParams {
    /// The synaptic currents, in the order of [`LayerModel::synaptic_currents`].
    pub currents: Vec<SynapticCurrent>,
    /// The neurons' constants, one for all or each neuron's.
    pub coefs: Coefs<LifCoef>,
}

impl LifConfig {
    /// The parameters of one neuron, with their keys, in the order of
    /// [`LifCoef::new`]'s values: `tau_v_ms`, `k_v`, `r`, `v_rest`,
    /// `v_reset`, `t_ref_ms`, `t_ref_spike_ms` (`t_ref_ms`, under its own
    /// key, without one: the same values).
    fn params(&self) -> [(&'static str, &PerNeuron); 7] {
        [
            ("tau_v_ms", &self.tau_v_ms),
            ("k_v", &self.k_v),
            ("r", &self.r),
            ("v_rest", &self.v_rest),
            ("v_reset", &self.v_reset),
            ("t_ref_ms", &self.t_ref_ms),
            match &self.t_ref_spike_ms {
                Some(t) => ("t_ref_spike_ms", t),
                None => ("t_ref_ms", &self.t_ref_ms),
            },
        ]
    }
}

impl LifCoef {
    /// Checks one neuron's parameters `[τ_v, k_v, r, v_rest, v_reset,
    /// t_ref, t_ref_spike]` (`LifConfig::params`; `neuron` is named in
    /// messages) and derives its coefficients for time step `dt_ms`.
    pub fn new(
        values: [f64; 7],
        dt_ms: f64,
        key: &dyn Fn(&str) -> String,
        neuron: Option<usize>,
    ) -> Result<Self, ConfigError> {
        let [tau_v, k_v, r, v_rest, v_reset, t_ref, t_ref_spike] = values;
        let k = |f: &str| neuron_key(key, neuron, f);
        positive(&k("tau_v_ms"), tau_v)?;
        non_negative(&k("t_ref_ms"), t_ref)?;
        if !(t_ref_spike >= t_ref && t_ref_spike.is_finite()) {
            return err(format!(
                "{}: must be a number >= t_ref_ms ({t_ref}), got {t_ref_spike}",
                k("t_ref_spike_ms"),
            ));
        }
        // Refractory countdowns are u16.
        let max_ms = f64::from(u16::MAX) * dt_ms;
        for (f, t) in [("t_ref_ms", t_ref), ("t_ref_spike_ms", t_ref_spike)] {
            if (t / dt_ms).round() > f64::from(u16::MAX) {
                return err(format!(
                    "{}: {t} ms is more than 65535 steps of {dt_ms} ms; allowed: up to {max_ms} ms",
                    k(f)
                ));
            }
        }
        for (f, v) in [
            ("k_v", k_v),
            ("r", r),
            ("v_rest", v_rest),
            ("v_reset", v_reset),
        ] {
            finite(&k(f), v)?;
        }
        // Checked to fit in u16.
        let ref_steps = (t_ref / dt_ms).round() as u16;
        let lock_steps = ((t_ref_spike / dt_ms).round() as u16).max(ref_steps);
        Ok(Self {
            a_v: (dt_ms / tau_v) as f32,
            k_v: k_v as f32,
            r: r as f32,
            v_rest: v_rest as f32,
            v_reset: v_reset as f32,
            lock_steps,
            free_at: lock_steps - ref_steps,
        })
    }
}

impl NeuronModel for Lif {
    type Config = LifConfig;
    type Params = LifParams;
    const STATE: &'static [StateColumn] = &[
        crate::state_column!(
            "refractory",
            Refractory,
            U32,
            u32s,
            |c| c.0.into(),
            |c, v| c.0 = u16::try_from(*v).unwrap_or(u16::MAX)
        ),
        crate::state_column!("theta", Threshold, F64, f64s, |c| c.theta, |c, v| c.theta =
            *v),
        crate::state_column!("sigma", LayerThreshold, F64, f64s, |c| c.sigma, |c, v| c
            .sigma =
            *v),
    ];

    fn add_systems(schedule: &mut Schedule) {
        schedule.add_systems(update.in_set(StepSet::Update));
    }

    fn reset(world: &mut World) {
        reset_each::<LifNeuron, LifParams, _>(world, |p, i| Voltage(p.coefs.at(i as usize).v_rest));
        reset_each::<LifNeuron, LifParams, _>(world, |_, _| Refractory(0));
    }
}

/// `threshold`: the effective threshold σ + θ_i after this step's
/// adaptation (mV), as the next step's spike test uses it,
/// `f32(σ) + f32(θ_i)` ([`threshold::spike_threshold`]).
const THRESHOLD: Recordable = Recordable {
    name: Cow::Borrowed("threshold"),
    units: "mV",
    read: |world, layer, neurons, _, out| {
        let sigma = world.get::<LayerThreshold>(layer).expect("LIF layer").sigma as f32;
        read_each(world, neurons, out, |t: &Threshold| {
            threshold::spike_threshold(sigma, t.theta)
        })
    },
};

/// `theta`: the individual threshold offset θ_i after adaptation (mV).
const THETA: Recordable = Recordable {
    name: Cow::Borrowed("theta"),
    units: "mV",
    read: |world, _, neurons, _, out| {
        read_each(world, neurons, out, |t: &Threshold| t.theta as f32)
    },
};

const RECORDABLES: [Recordable; 5] = [
    recordables::VOLTAGE,
    recordables::CURRENT,
    THRESHOLD,
    THETA,
    recordables::INPUT,
];

impl LayerModel for LifConfig {
    fn size(&self) -> usize {
        self.size
    }

    fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    fn synaptic_currents(&self) -> Vec<(String, SynapseConfig)> {
        let single = SynapseConfig {
            current: self.current,
            tau_ms: self.tau_j_ms,
            k: self.k_j,
            reversal_mv: None,
        };
        currents_or(&self.synapses, single)
    }

    fn external(&self) -> (&'static str, &PerNeuron, Option<&StepCurrent>) {
        ("i_ext", &self.i_ext, self.step_current.as_ref())
    }

    fn recordables(&self) -> Vec<Recordable> {
        recordables::with_conductances(
            &RECORDABLES,
            &self.synaptic_currents(),
            recordables::MICROSIEMENS,
        )
    }

    fn validate(&self, key: &dyn Fn(&str) -> String, dt: f64) -> Result<(), ConfigError> {
        let l = self;
        positive(&key("tau_j_ms"), l.tau_j_ms)?;
        current_model_in(&key("current"), l.current, EULER_CURRENTS)?;
        validate_synapses(key, &l.synapses)?;
        if let Some(d) = &l.v_init {
            d.validate(&key("v_init"))?;
        }
        if let Some(values) = validate_all(l.params(), key)? {
            LifCoef::new(values, dt, key, None)?;
        }
        for (k, v) in [("k_j", l.k_j), ("sigma", l.sigma)] {
            finite(&key(k), v)?;
        }
        validate_external(key, "i_ext", &l.i_ext, l.step_current.as_ref())?;
        l.threshold.validate(key, dt)
    }

    fn spawn(&self, at: Spawn<'_>) -> Result<Vec<Entity>, ConfigError> {
        let values = resolve_all(self.params(), &at.draw(self.size))?;
        let Spawn {
            world,
            layer,
            index,
            seed,
            dt_ms,
            key,
        } = at;
        let params = LifParams {
            currents: self
                .synaptic_currents()
                .iter()
                .map(|(_, s)| SynapticCurrent::new(s, dt_ms))
                .collect(),
            coefs: Coefs::new(&values, self.size, |i, v| LifCoef::new(v, dt_ms, key, i))?,
        };
        let v0 = initial_voltages(self.v_init.as_ref(), &values[3], seed, index, self.size);
        world.entity_mut(layer).insert((
            params,
            LayerThreshold { sigma: self.sigma },
            ThresholdParams::new(&self.threshold, dt_ms),
        ));
        let theta0 = self
            .threshold
            .individual
            .as_ref()
            .map_or(0.0, |t| t.theta_init);
        Ok(spawn_neurons(
            world,
            layer,
            self.size,
            &self.synaptic_currents(),
            |i| {
                (
                    LifNeuron,
                    Voltage(v0[i as usize]),
                    Refractory::default(),
                    Threshold { theta: theta0 },
                )
            },
        ))
    }
}
