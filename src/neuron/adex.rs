//! The adaptive exponential integrate-and-fire neuron (`kind = "adex"`;
//! Brette & Gerstner 2005, J Neurophysiol 94:3637).
//!
//! ```text
//! C dV/dt = −g_L (V − E_L) + g_L Δ_T exp((V − V_T)/Δ_T) − w + J
//! τ_w dw/dt = a (V − E_L) − w
//! V ≥ V_peak:  V ← V_r,  w ← w + b
//! ```
//!
//! Units: ms, mV, nA; C in nF and g_L, a in µS, so that `C dV/dt` is in nA.
//! `J = Σ_c J_c` is the layer's synaptic currents ([`super::synaptic`]): a
//! current-based one contributes `J_c` (nA), a conductance-based one
//! (`reversal_mv = E_c`) `g_c (E_c − V)` with `g_c` in µS. The external
//! current (`i_ext` plus `step_current`) enters the first synaptic current,
//! as for every model: with the default `exponential` current a constant
//! `i_ext` is summed every step like a spike's weight, so for a membrane
//! current of `i_ext` nA give the first current `current = "instantaneous"`
//! (`J = I`), as `experiments/adex.toml` does.
//!
//! **Scheme**: one step from `n−1` to `n` is forward Euler of both
//! equations from the state at `n−1`:
//!
//! 1. synaptic currents `J_c(n)` from this step's input (their own models);
//! 2. `x = min((V(n−1) − V_T)/Δ_T, x_max)`;
//! 3. `V' = V(n−1) + dt/C · (−g_L (V(n−1) − E_L) + g_L Δ_T e^x − w(n−1) + J)`,
//!    conductances driven by `V(n−1)`;
//! 4. `w' = w(n−1) + dt/τ_w · (a (V(n−1) − E_L) − w(n−1))`;
//! 5. spike test after the V update: `s(n) = [V' ≥ V_peak]` (not while
//!    refractory); on a spike first the reset `V(n) = V_r`, then
//!    `w(n) = w' + b`; otherwise `V(n) = V'`, `w(n) = w'`;
//! 6. refractory (`t_ref_ms > 0`): for the `round(t_ref/dt)` steps after a
//!    spike `V` is held at `V_r` and cannot spike, while `w` and the
//!    currents keep integrating (NEST's `aeif_*`).
//!
//! This is Brian2's `method = 'euler'` with `threshold = 'vm >= V_peak'`,
//! `reset = 'vm = V_r; w += b'` (state update, threshold, reset in that
//! order); the state is f32.
//!
//! **Overflow guard**: the exponent is capped at `x_max = min((V_peak −
//! V_T)/Δ_T, 80)`. Every step ends with `V < V_peak` (a crossing is reset),
//! so below the first bound the cap changes nothing; it matters only for an
//! initial `V` above `V_peak`, which spikes at step 0 anyway. The second
//! bound keeps `e^x ≤ e^80 ≈ 5.5·10^34` finite in f32; it binds only when
//! `V_peak > V_T + 80 Δ_T` (a small Δ_T), where `V > V_T + 80 Δ_T` already
//! gets at least `dt/C · g_L Δ_T · 5.5·10^34` mV in one step, past any
//! V_peak. A `V'` that overflows to +∞ (a huge input) spikes and is reset,
//! so the state stays finite.
//!
//! Parameters ([`AdexConfig`], `[layers.<name>]` with `kind = "adex"`);
//! defaults are Brette & Gerstner's (regular spiking, their Table 1):
//!
//! | key | default | unit | meaning |
//! |---|---|---|---|
//! | `size` | required | neurons | ≥ 1 |
//! | `c_nf` | 0.281 | nF | membrane capacitance C (> 0) |
//! | `g_l_us` | 0.030 | µS | leak conductance g_L (> 0) |
//! | `e_l_mv` | −70.6 | mV | leak reversal E_L |
//! | `v_t_mv` | −50.4 | mV | threshold V_T of the exponential |
//! | `delta_t_mv` | 2.0 | mV | slope factor Δ_T (> 0) |
//! | `tau_w_ms` | 144 | ms | adaptation time constant τ_w (> 0) |
//! | `a_us` | 0.004 | µS | subthreshold adaptation a |
//! | `b_na` | 0.0805 | nA | spike-triggered adaptation b |
//! | `v_r_mv` | −70.6 | mV | reset V_r (< V_peak) |
//! | `v_peak_mv` | `v_t_mv + 5·delta_t_mv` (−40.4) | mV | spike cut-off V_peak (> V_T) |
//! | `t_ref_ms` | 0 | ms | refractory hold of V at V_r |
//! | `v_init` | `e_l_mv` | mV | initial V (a distribution, per neuron) |
//! | `w_init` | 0 | nA | initial w |
//! | `synapses.<name>` | one `exponential` current (τ 5 ms) named `default` | | up to two synaptic currents, current- or conductance-based |
//! | `i_ext` †, `step_current` | 0, none | nA | external current, into the first synaptic current |
//!
//! † one number for the layer, a distribution drawn per neuron or a file
//! ([`PerNeuron`]); every other key is one number for the layer (a table
//! is refused naming the key).
//!
//! Recordables: `voltage` (mV), `w` (nA), `current` (`J`, nA, with
//! conductances driven by `V(n−1)` as in step 3), `input` (nA), and
//! `g_<name>` (µS) of each conductance-based synapse `<name>`.
//!
//! **Firing patterns** (`experiments/adex.toml`, `docs/adex.png`,
//! `tests/adex.rs`): Naud, Marcille, Clopath & Gerstner (2008, Biol Cybern
//! 99:335) list parameter sets for eight patterns in their Table 1. The
//! copies of that table found publicly (ANNarchy's notebook and another
//! repository, which agree number for number) are reported to leave
//! "delayed regular bursting" silent and to make "transient spiking" fire
//! throughout. We use instead the rows of Brian2's example
//! `examples/frompapers/Naud_et_al_2008_adex_firing_patterns.py`
//! (S. Schmitt and S. Billaudelle 2022, "parameters adapted by P. Müller to
//! match figures"), run as it runs them: `V_peak = 0 mV`, dt = 0.1 ms,
//! `V(0) = E_L`, `w(0) = 0`; they give all eight patterns (tonic,
//! adapting, initial burst, regular bursting, delayed accelerating,
//! delayed regular bursting, transient, irregular), each under a step
//! current from 50 to 550 ms.
//!
//! **Against Brian2** (`tools/crosscheck/adex_brian2.py`, numpy target,
//! `method = 'euler'`, the same dt): on `experiments/adex.toml` six of the
//! eight patterns spike at exactly the same steps as Brian2; delayed
//! regular bursting and irregular spiking part at their 8th spike by one
//! step (0.1 ms), exactly where the same scheme in f32 and in f64 part, and
//! drift apart from there (2.3 ms and, chaotic, 14 ms by 550 ms) with the
//! same spike counts. Brette & Gerstner's defaults under 1 nA give the
//! same 5 spikes at the same steps.

use crate::resume::state::StateColumn;
use std::borrow::Cow;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};
use serde::{Deserialize, Serialize};

use super::driver::{
    self, Integrated, LayerInput, LayerStep, NeuronRows, Spare, column, reset_each, spawn_neurons,
};
use super::input::InputRing;
use super::model::{LayerModel, NeuronModel, Recordable, Spawn, read_each};
use super::recordables;
use super::synaptic::{
    self, Current, Current2, Drive, ExternalCurrent, MembraneCurrent, SynapseConfig,
    SynapticCurrent, currents_or, validate_external, validate_synapses,
};
use super::{Voltage, initial_voltages};
use crate::layer::{InLayer, LayerSpikes, Spiked};
use crate::param::{
    ConfigError, Distribution, Map, PerNeuron, StepCurrent, Values, err, finite, layer_number,
    layer_number_some, positive,
};
use crate::step::Clock;
use crate::step::StepSet;

/// The AdEx model ([`NeuronModel`]).
pub struct Adex;

/// Marks an AdEx neuron: the AdEx update and reset see only entities with it.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct AdexNeuron;

/// The adaptation current w in nA. Written by [`update`].
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Adaptation(pub f32);

/// Steps for which V is still held at V_r after a spike, counting down
/// from [`AdexParams::ref_steps`]. Written by [`update`].
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct AdexRefractory(pub u16);

/// An AdEx layer (see the module documentation for the table of keys).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdexConfig {
    /// Number of neurons (required, >= 1).
    pub size: usize,
    /// Membrane capacitance C in nF (default 0.281, > 0).
    #[serde(deserialize_with = "layer_number")]
    pub c_nf: f64,
    /// Leak conductance g_L in µS (default 0.030, > 0).
    #[serde(deserialize_with = "layer_number")]
    pub g_l_us: f64,
    /// Leak reversal potential E_L in mV (default −70.6).
    #[serde(deserialize_with = "layer_number")]
    pub e_l_mv: f64,
    /// Threshold V_T of the exponential in mV (default −50.4).
    #[serde(deserialize_with = "layer_number")]
    pub v_t_mv: f64,
    /// Slope factor Δ_T in mV (default 2.0, > 0).
    #[serde(deserialize_with = "layer_number")]
    pub delta_t_mv: f64,
    /// Adaptation time constant τ_w in ms (default 144, > 0).
    #[serde(deserialize_with = "layer_number")]
    pub tau_w_ms: f64,
    /// Subthreshold adaptation a in µS (default 0.004).
    #[serde(deserialize_with = "layer_number")]
    pub a_us: f64,
    /// Spike-triggered adaptation b in nA (default 0.0805).
    #[serde(deserialize_with = "layer_number")]
    pub b_na: f64,
    /// Reset voltage V_r in mV (default −70.6, < V_peak).
    #[serde(deserialize_with = "layer_number")]
    pub v_r_mv: f64,
    /// Spike cut-off V_peak in mV (default `v_t_mv + 5·delta_t_mv`, > V_T).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "layer_number_some"
    )]
    pub v_peak_mv: Option<f64>,
    /// Refractory period in ms (default 0, >= 0): V is held at V_r for
    /// `round(t_ref_ms / dt_ms)` steps after a spike (halves rounded away
    /// from zero: 2.5 ms at dt 1 ms is 3 steps).
    #[serde(deserialize_with = "layer_number")]
    pub t_ref_ms: f64,
    /// Initial voltage distribution in mV (default: `e_l_mv`), drawn per
    /// neuron from the `(seed, layer)` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v_init: Option<Distribution>,
    /// Initial adaptation current w in nA (default 0).
    #[serde(deserialize_with = "layer_number")]
    pub w_init: f64,
    /// Named synaptic currents (at most [`synaptic::MAX_SYNAPSES`]).
    /// Default: one `exponential` current (τ = 5 ms) named `default`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub synapses: Map<SynapseConfig>,
    /// Constant external current in nA into the first synaptic current
    /// (default 0).
    pub i_ext: PerNeuron,
    /// Optional step current, added like `i_ext` inside its window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_current: Option<StepCurrent>,
}

impl Default for AdexConfig {
    fn default() -> Self {
        Self {
            size: 0,
            c_nf: 0.281,
            g_l_us: 0.030,
            e_l_mv: -70.6,
            v_t_mv: -50.4,
            delta_t_mv: 2.0,
            tau_w_ms: 144.0,
            a_us: 0.004,
            b_na: 0.0805,
            v_r_mv: -70.6,
            v_peak_mv: None,
            t_ref_ms: 0.0,
            v_init: None,
            w_init: 0.0,
            synapses: Map::new(),
            i_ext: 0.0.into(),
            step_current: None,
        }
    }
}

impl AdexConfig {
    /// V_peak: `v_peak_mv`, or `v_t_mv + 5·delta_t_mv` without it.
    pub fn v_peak(&self) -> f64 {
        self.v_peak_mv
            .unwrap_or(self.v_t_mv + 5.0 * self.delta_t_mv)
    }
}

/// Largest exponent of the exponential term (see the module documentation).
pub const X_MAX: f32 = 80.0;

/// Per-layer AdEx parameters in f32, with the Euler coefficients. Written
/// once by the network builder.
#[derive(Component, Debug, Clone)]
pub struct AdexParams {
    /// The synaptic currents, in the order of [`LayerModel::synaptic_currents`].
    pub currents: Vec<SynapticCurrent>,
    /// `dt/C` (mV per nA).
    pub dt_over_c: f32,
    /// g_L (µS).
    pub g_l: f32,
    /// E_L (mV).
    pub e_l: f32,
    /// V_T (mV).
    pub v_t: f32,
    /// Δ_T (mV).
    pub delta_t: f32,
    /// `g_L Δ_T` (nA).
    pub g_l_delta_t: f32,
    /// `min((V_peak − V_T)/Δ_T, X_MAX)`.
    pub x_max: f32,
    /// `dt/τ_w`.
    pub dt_over_tau_w: f32,
    /// a (µS).
    pub a: f32,
    /// b (nA).
    pub b: f32,
    /// V_r (mV).
    pub v_r: f32,
    /// V_peak (mV).
    pub v_peak: f32,
    /// Steps V is held after a spike, `round(t_ref / dt)`.
    pub ref_steps: u16,
}

impl AdexParams {
    /// Derives the coefficients for time step `dt_ms`.
    pub fn new(c: &AdexConfig, dt_ms: f64) -> Self {
        Self {
            currents: c
                .synaptic_currents()
                .iter()
                .map(|(_, s)| SynapticCurrent::new(s, dt_ms))
                .collect(),
            dt_over_c: (dt_ms / c.c_nf) as f32,
            g_l: c.g_l_us as f32,
            e_l: c.e_l_mv as f32,
            v_t: c.v_t_mv as f32,
            delta_t: c.delta_t_mv as f32,
            g_l_delta_t: (c.g_l_us * c.delta_t_mv) as f32,
            x_max: (((c.v_peak() - c.v_t_mv) / c.delta_t_mv) as f32).min(X_MAX),
            dt_over_tau_w: (dt_ms / c.tau_w_ms) as f32,
            a: c.a_us as f32,
            b: c.b_na as f32,
            v_r: c.v_r_mv as f32,
            v_peak: c.v_peak() as f32,
            // Validated to fit in u16.
            ref_steps: (c.t_ref_ms / dt_ms).round() as u16,
        }
    }
}

impl NeuronModel for Adex {
    type Config = AdexConfig;
    type Params = AdexParams;
    const STATE: &'static [StateColumn] = &[
        crate::state_column!("adaptation", Adaptation, F32, f32s, |c| c.0, |c, v| c.0 =
            *v),
        crate::state_column!(
            "adex_refractory",
            AdexRefractory,
            U32,
            u32s,
            |c| c.0.into(),
            |c, v| c.0 = u16::try_from(*v).unwrap_or(u16::MAX)
        ),
    ];

    fn add_systems(schedule: &mut Schedule) {
        schedule.add_systems(update.in_set(StepSet::Update));
    }

    /// Rest: `V = E_L`, `w = 0`, currents 0, not refractory.
    fn reset(world: &mut World) {
        reset_each::<AdexNeuron, AdexParams, _>(world, |p, _| Voltage(p.e_l));
        reset_each::<AdexNeuron, AdexParams, _>(world, |_, _| Adaptation(0.0));
        reset_each::<AdexNeuron, AdexParams, _>(world, |_, _| AdexRefractory(0));
    }
}

/// `w`: the adaptation current after this step's reset (nA).
const W: Recordable = Recordable {
    name: Cow::Borrowed("w"),
    units: "nA",
    read: |world, _, neurons, _, out| read_each(world, neurons, out, |w: &Adaptation| w.0),
};

const RECORDABLES: [Recordable; 4] = [
    recordables::VOLTAGE,
    W,
    recordables::CURRENT,
    recordables::INPUT,
];

impl LayerModel for AdexConfig {
    fn size(&self) -> usize {
        self.size
    }

    fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    fn synaptic_currents(&self) -> Vec<(String, SynapseConfig)> {
        currents_or(&self.synapses, SynapseConfig::default())
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
        for (k, v) in [
            ("c_nf", l.c_nf),
            ("g_l_us", l.g_l_us),
            ("delta_t_mv", l.delta_t_mv),
            ("tau_w_ms", l.tau_w_ms),
        ] {
            positive(&key(k), v)?;
        }
        for (k, v) in [
            ("e_l_mv", l.e_l_mv),
            ("v_t_mv", l.v_t_mv),
            ("a_us", l.a_us),
            ("b_na", l.b_na),
            ("v_r_mv", l.v_r_mv),
            ("w_init", l.w_init),
        ] {
            finite(&key(k), v)?;
        }
        let v_peak = l.v_peak();
        if !(v_peak.is_finite() && v_peak > l.v_t_mv) {
            return err(format!(
                "{}: must be a number > v_t_mv ({}), got {v_peak}",
                key("v_peak_mv"),
                l.v_t_mv
            ));
        }
        if l.v_r_mv >= v_peak {
            return err(format!(
                "{}: must be < v_peak_mv ({v_peak}), got {}",
                key("v_r_mv"),
                l.v_r_mv
            ));
        }
        if !(l.t_ref_ms >= 0.0 && (l.t_ref_ms / dt).round() <= f64::from(u16::MAX)) {
            return err(format!(
                "{}: must be from 0 to {} ms (65535 steps of {dt} ms), got {}",
                key("t_ref_ms"),
                f64::from(u16::MAX) * dt,
                l.t_ref_ms
            ));
        }
        if let Some(d) = &l.v_init {
            d.validate(&key("v_init"))?;
        }
        validate_synapses(key, &l.synapses)?;
        validate_external(key, "i_ext", &l.i_ext, l.step_current.as_ref())
    }

    fn spawn(&self, at: Spawn<'_>) -> Result<Vec<Entity>, ConfigError> {
        let Spawn {
            world,
            layer,
            index,
            seed,
            dt_ms,
            ..
        } = at;
        let params = AdexParams::new(self, dt_ms);
        let v0 = initial_voltages(
            self.v_init.as_ref(),
            &Values::Same(params.e_l.into()),
            seed,
            index,
            self.size,
        );
        world.entity_mut(layer).insert(params);
        let w0 = self.w_init as f32;
        Ok(spawn_neurons(
            world,
            layer,
            self.size,
            &self.synaptic_currents(),
            |i| {
                (
                    AdexNeuron,
                    Voltage(v0[i as usize]),
                    Adaptation(w0),
                    AdexRefractory::default(),
                )
            },
        ))
    }
}

/// The AdEx columns of a run of rows: voltage, adaptation, refractory
/// countdown.
type Own<'a> = (
    &'a mut [Voltage],
    &'a mut [Adaptation],
    &'a mut [AdexRefractory],
);

/// Every AdEx neuron's step (the scheme of the module documentation), in
/// one pass over the component columns, split between threads by rows
/// ([`for_rows`](crate::step::for_rows)); spiking neurons are appended to their layer's spike list.
#[allow(clippy::type_complexity)]
pub fn update(
    clock: Res<Clock>,
    mut layers: Query<(Entity, &AdexParams, &ExternalCurrent, &mut InputRing)>,
    mut neurons: Query<
        (
            &InLayer,
            &mut Current,
            Option<&mut Current2>,
            Option<&mut MembraneCurrent>,
            &mut Voltage,
            &mut Adaptation,
            &mut AdexRefractory,
            &mut Spiked,
        ),
        With<AdexNeuron>,
    >,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut spare: Local<Spare<LayerStep<'static, &'static AdexParams>>>,
) {
    let n = clock.step;
    let mut steps = driver::recycle(&mut spare.0);
    steps.extend(layers.iter_mut().map(|(layer, p, ext, ring)| LayerStep {
        input: LayerInput::new(layer, ext, ring, n),
        model: p,
    }));
    let tables = neurons
        .contiguous_iter_mut()
        .expect("table-stored components")
        .map(|(at, j, j2, jm, v, w, refr, s)| NeuronRows {
            at,
            j: column(j),
            j2: j2.map(column),
            jm: jm.map(column),
            s: column(s),
            own: (column(v), column(w), column(refr)),
        });
    let run =
        |step: &LayerStep<&AdexParams>, out: &mut Vec<(Entity, u32)>, rows: NeuronRows<Own>| {
            let (p, li) = (step.model, &step.input);
            let (drives, cond) = synaptic::drives(&p.currents);
            li.run_blocks(out, rows, |b| {
                let block = b.integrate(&p.currents, li.ext, li.zero);
                match (block.two(), cond) {
                    (false, false) => membrane::<false, false>(p, drives, block),
                    (false, true) => membrane::<false, true>(p, drives, block),
                    (true, false) => membrane::<true, false>(p, drives, block),
                    (true, true) => membrane::<true, true>(p, drives, block),
                }
            });
        };
    driver::step_tables(tables, &steps, run, &mut fired, &mut lists);
    spare.0 = driver::recycle(&mut steps);
}

/// Voltage, adaptation, spike, reset and refractory hold of a block, driven
/// by `J = J_0 (+ J_1 with TWO)`; without `COND` every synaptic current is
/// a current and `J_c = g_c` is taken as it is, with `COND` the `J` that
/// drove the step is stored in `jm`. Returns the number of spikes.
#[inline(always)]
fn membrane<const TWO: bool, const COND: bool>(
    p: &AdexParams,
    drive: [Drive; 2],
    b: Integrated<Own>,
) -> usize {
    let Integrated {
        j,
        j2,
        jm,
        own: (v, w, refr),
        s,
    } = b;
    let n = v.len();
    assert!(j.len() == n && w.len() == n && refr.len() == n && s.len() == n);
    assert!(!TWO || j2.len() == n);
    assert!(!COND || jm.len() == n);
    let [d0, d1] = drive;
    // u16: a block (`BLOCK` rows) cannot overflow it.
    let mut count = 0u16;
    for k in 0..n {
        let (v0, w0) = (v[k].0, w[k].0);
        let g0 = j[k].0;
        let mut total = if COND {
            g0 * (d0.reversal - d0.scale * v0)
        } else {
            g0
        };
        if TWO {
            let g1 = j2[k].0;
            total += if COND {
                g1 * (d1.reversal - d1.scale * v0)
            } else {
                g1
            };
        }
        if COND {
            jm[k].0 = total;
        }
        let x = ((v0 - p.v_t) / p.delta_t).min(p.x_max);
        let dv = -p.g_l * (v0 - p.e_l) + p.g_l_delta_t * x.exp() - w0 + total;
        let vn = v0 + p.dt_over_c * dv;
        let wn = w0 + p.dt_over_tau_w * (p.a * (v0 - p.e_l) - w0);
        let held = refr[k].0 > 0;
        let spike = !held & (vn >= p.v_peak);
        v[k].0 = if held | spike { p.v_r } else { vn };
        w[k].0 = if spike { wn + p.b } else { wn };
        refr[k].0 = if spike {
            p.ref_steps
        } else {
            refr[k].0 - held as u16
        };
        s[k].0 = spike;
        count += spike as u16;
    }
    count as usize
}
