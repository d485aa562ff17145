//! The leaky integrate-and-fire neuron with current-based synapses, integrated
//! exactly (`kind = "iaf"`): NEST's `iaf_psc_exp` (exponential synaptic
//! currents) and `iaf_psc_delta` (delta synapses) in one model, as used by
//! the Potjans–Diesmann microcircuit and Brunel's (2000) network.
//!
//! ```text
//! τ_m dV/dt = −(V − E_L) + τ_m/C_m · (I_e + Σ_c J_c)
//! τ_c dJ_c/dt = −J_c                  (exponential synapse c; a spike adds its weight, pA)
//! delta synapse: a spike moves V by its weight (mV) at arrival
//! V ≥ V_th:  V ← V_reset, held for t_ref
//! ```
//!
//! Units: ms, mV, pA, pF (NEST's), so projection weights are pA into an
//! `exponential` synapse and mV into a `delta` one.
//!
//! **Scheme** (exact integration, Rotter & Diesmann 1999; the order of
//! NEST's `iaf_psc_exp::update` and `iaf_psc_delta::update`). With
//! `y = V − E_L`, step `h = dt` and the propagators
//! `P22 = e^{−h/τ_m}`, `P20 = τ_m/C_m (1 − P22)`,
//! `P11_c = e^{−h/τ_c}` and
//! `P21_c = τ_c τ_m / (C_m (τ_m − τ_c)) · (P22 − P11_c)` (the limit
//! `h/C_m · P22` when `τ_c = τ_m`), one step from `n−1` to `n` with this
//! step's input `x_c(n)` of each synaptic current is:
//!
//! 1. if not refractory: `y ← y P22 + (I_e(n) + Σ_inst x_c) P20 + Σ_exp J_c P21_c + Σ_delta x_c`,
//!    using the exponential currents *before* this step's input (so a spike
//!    reaching an exponential synapse at step `n` moves `V` from step
//!    `n+1`, one reaching a delta synapse at step `n`);
//!    if refractory: the countdown drops by one, `V` stays at `V_reset`
//!    and delta input is lost (NEST's `refractory_input = false`);
//! 2. `J_c ← J_c P11_c + x_c` for an exponential current; an
//!    `instantaneous` current (`J_c = x_c`, a current constant over the
//!    step, pA) and a delta one (`J_c = x_c`, mV) keep this step's input;
//! 3. spike `s(n) = [V ≥ V_th]`; a spike sets `V ← V_reset` and the
//!    countdown to `round(t_ref/dt)` steps.
//!
//! The state is f32 (NEST's is f64); `V` is stored absolute.
//!
//! Parameters ([`IafConfig`], `[layers.<name>]` with `kind = "iaf"`);
//! defaults are NEST's `iaf_psc_exp`:
//!
//! | key | default | unit | meaning |
//! |---|---|---|---|
//! | `size` | required | neurons | ≥ 1 |
//! | `c_m_pf` † | 250 | pF | membrane capacitance C_m (> 0) |
//! | `tau_m_ms` † | 10 | ms | membrane time constant τ_m (> 0) |
//! | `e_l_mv` † | −70 | mV | resting potential E_L |
//! | `v_th_mv` † | −55 | mV | threshold V_th (> V_reset) |
//! | `v_reset_mv` † | −70 | mV | reset V_reset |
//! | `t_ref_ms` † | 2 | ms | refractory period (V held at V_reset) |
//! | `i_e_pa` † | 0 | pA | constant external current I_e |
//! | `step_current` | none | pA | a step current added to I_e |
//! | `v_init` | `e_l_mv` | mV | initial V (a distribution, per neuron) |
//! | `synapses.<name>` | one `exponential` current, τ 2 ms, named `default` | | up to two: `exponential` (pA), `instantaneous` (pA), `delta` (mV) |
//!
//! † one number for the layer, a distribution drawn per neuron or a file of
//! one value per neuron ([`PerNeuron`]): each neuron's propagators
//! ([`IafCoef`]) are derived from its own values.
//!
//! Recordables: `voltage` (mV), `current` (`Σ_c J_c` after the step, pA;
//! for a delta synapse its jump, mV), `input` (this step's input plus I_e,
//! pA).

use std::borrow::Cow;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};
use serde::{Deserialize, Serialize};

use super::driver::{
    self, Block, BlockCoefs, Coefs, LayerInput, LayerStep, NeuronRows, Offset, PerRow, Same, Spare,
    column, neuron_key, reset_each, spawn_neurons,
};
use super::input::InputRing;
use super::model::{LayerModel, NeuronModel, Recordable, Spawn};
use super::recordables;
use super::synaptic::{
    Current, Current2, CurrentModel, ExternalCurrent, SynapseConfig, currents_or,
    validate_external, validate_synapses_of,
};
use super::{Voltage, initial_voltages};
use crate::layer::{InLayer, LayerSpikes, Spiked};
use crate::param::{
    ConfigError, Distribution, Map, PerNeuron, StepCurrent, err, finite, positive, resolve_all,
    validate_all,
};
use crate::resume::state::StateColumn;
use crate::step::{Clock, StepSet};

/// The iaf model ([`NeuronModel`]).
pub struct Iaf;

/// Marks an iaf neuron: the iaf update and reset see only entities with it.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct IafNeuron;

/// Steps for which V is still held at V_reset after a spike, counting down
/// from the neuron's [`IafCoef::ref_steps`]. Written by [`update`].
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct IafRefractory(pub u16);

/// An iaf layer (see the module documentation for the table of keys).
/// Every parameter but `size`, `step_current`, `v_init` and `synapses` is
/// a [`PerNeuron`]: one number for the layer, or each neuron's own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IafConfig {
    /// Number of neurons (required, >= 1).
    pub size: usize,
    /// Membrane capacitance C_m in pF (default 250, > 0).
    pub c_m_pf: PerNeuron,
    /// Membrane time constant τ_m in ms (default 10, > 0).
    pub tau_m_ms: PerNeuron,
    /// Resting potential E_L in mV (default −70).
    pub e_l_mv: PerNeuron,
    /// Threshold V_th in mV (default −55, > v_reset_mv).
    pub v_th_mv: PerNeuron,
    /// Reset potential V_reset in mV (default −70).
    pub v_reset_mv: PerNeuron,
    /// Refractory period in ms (default 2, >= 0): V is held at V_reset for
    /// `round(t_ref_ms / dt_ms)` steps after a spike (halves away from zero).
    pub t_ref_ms: PerNeuron,
    /// Constant external current I_e in pA (default 0).
    pub i_e_pa: PerNeuron,
    /// Optional step current in pA, added to I_e inside its window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_current: Option<StepCurrent>,
    /// Initial voltage distribution in mV (default: `e_l_mv`), drawn per
    /// neuron from the `(seed, layer)` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v_init: Option<Distribution>,
    /// Named synaptic currents (at most two): `exponential` (weights in pA,
    /// decaying with `tau_ms`), `instantaneous` (pA for one step) or `delta`
    /// (weights in mV). Default: one `exponential` current (τ 2 ms) named
    /// `default`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub synapses: Map<SynapseConfig>,
}

impl Default for IafConfig {
    fn default() -> Self {
        Self {
            size: 0,
            c_m_pf: 250.0.into(),
            tau_m_ms: 10.0.into(),
            e_l_mv: (-70.0).into(),
            v_th_mv: (-55.0).into(),
            v_reset_mv: (-70.0).into(),
            t_ref_ms: 2.0.into(),
            i_e_pa: 0.0.into(),
            step_current: None,
            v_init: None,
            synapses: Map::new(),
        }
    }
}

/// The default synaptic current of an iaf layer: `exponential`, τ = 2 ms
/// (NEST's `tau_syn_ex`).
fn default_synapse() -> SynapseConfig {
    SynapseConfig {
        current: CurrentModel::Exponential,
        tau_ms: 2.0,
        ..SynapseConfig::default()
    }
}

/// How one synaptic current enters the voltage step:
/// `y += J_old·p21 + x·(p20 + jump·[not refractory])`, then `J ← J·p11 + x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IafSynapse {
    /// `P21_c` for an exponential current, else 0 (mV per pA).
    pub p21: f32,
    /// `P11_c` for an exponential current, else 0.
    pub p11: f32,
    /// `P20` for an instantaneous current, else 0 (mV per pA).
    pub p20: f32,
    /// 1 for a delta synapse, else 0.
    pub jump: f32,
}

/// One iaf neuron's constants in f32: the propagators of the module
/// documentation, from its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IafCoef {
    /// The synaptic currents, in the order of [`LayerModel::synaptic_currents`]
    /// (a layer with one has it twice).
    pub synapses: [IafSynapse; 2],
    /// `P22 = e^{−dt/τ_m}`.
    pub p22: f32,
    /// `P20 = τ_m/C_m (1 − P22)` (mV per pA).
    pub p20: f32,
    /// E_L (mV).
    pub e_l: f32,
    /// V_th (mV).
    pub v_th: f32,
    /// V_reset (mV).
    pub v_reset: f32,
    /// Steps V is held after a spike, `round(t_ref / dt)`.
    pub ref_steps: u16,
}

/// An iaf layer's constants: its neurons' [`IafCoef`], one for all or each
/// neuron's. Written once by the network builder.
#[derive(Component, Debug, Clone)]
pub struct IafParams(pub Coefs<IafCoef>);

/// `P21 = τ_s τ_m / (C_m (τ_m − τ_s)) · (e^{−h/τ_m} − e^{−h/τ_s})` in mV per
/// pA: the voltage after `h` ms of a synaptic current of 1 pA at the start,
/// decaying with `τ_s`, from `y = 0` (in f64; at `τ_s = τ_m` its limit
/// `h/C_m · e^{−h/τ_m}`).
pub fn p21(tau_s: f64, tau_m: f64, c_m: f64, h: f64) -> f64 {
    if (tau_m - tau_s).abs() < 1e-12 * tau_m {
        return h / c_m * (-h / tau_m).exp();
    }
    tau_s * tau_m / (c_m * (tau_m - tau_s)) * ((-h / tau_m).exp() - (-h / tau_s).exp())
}

/// The keys of the parameters of one iaf neuron, in the order of
/// [`IafCoef::new`]'s values (`i_e_pa` is the layer's external current,
/// [`LayerModel::external`]).
const PARAMS: [&str; 6] = [
    "c_m_pf",
    "tau_m_ms",
    "e_l_mv",
    "v_th_mv",
    "v_reset_mv",
    "t_ref_ms",
];

impl IafConfig {
    /// The parameters named by [`PARAMS`], with their keys.
    fn params(&self) -> [(&'static str, &PerNeuron); 6] {
        let c = self;
        let p = [
            &c.c_m_pf,
            &c.tau_m_ms,
            &c.e_l_mv,
            &c.v_th_mv,
            &c.v_reset_mv,
            &c.t_ref_ms,
        ];
        std::array::from_fn(|k| (PARAMS[k], p[k]))
    }
}

impl IafCoef {
    /// Checks one neuron's parameters `[C_m, τ_m, E_L, V_th, V_reset,
    /// t_ref]` (`PARAMS`; `neuron` is named in messages) and derives its
    /// propagators for time step `dt_ms` and the layer's `currents`.
    pub fn new(
        values: [f64; 6],
        currents: &[(String, SynapseConfig)],
        dt_ms: f64,
        key: &dyn Fn(&str) -> String,
        neuron: Option<usize>,
    ) -> Result<Self, ConfigError> {
        let [c_m, tau_m, e_l, v_th, v_reset, t_ref] = values;
        let k = |f: &str| neuron_key(key, neuron, f);
        positive(&k("c_m_pf"), c_m)?;
        positive(&k("tau_m_ms"), tau_m)?;
        for (f, v) in [("e_l_mv", e_l), ("v_th_mv", v_th), ("v_reset_mv", v_reset)] {
            finite(&k(f), v)?;
        }
        if v_reset >= v_th {
            return err(format!(
                "{}: must be < v_th_mv ({v_th}), got {v_reset}",
                k("v_reset_mv")
            ));
        }
        if !(t_ref >= 0.0 && (t_ref / dt_ms).round() <= f64::from(u16::MAX)) {
            return err(format!(
                "{}: must be from 0 to {} ms (65535 steps of {dt_ms} ms), got {t_ref}",
                k("t_ref_ms"),
                f64::from(u16::MAX) * dt_ms,
            ));
        }
        let p22 = (-dt_ms / tau_m).exp();
        let p20 = tau_m / c_m * (1.0 - p22);
        let synapse = |s: &SynapseConfig| match s.current {
            CurrentModel::Exponential => IafSynapse {
                p21: p21(s.tau_ms, tau_m, c_m, dt_ms) as f32,
                p11: (-dt_ms / s.tau_ms).exp() as f32,
                p20: 0.0,
                jump: 0.0,
            },
            CurrentModel::Instantaneous => IafSynapse {
                p21: 0.0,
                p11: 0.0,
                p20: p20 as f32,
                jump: 0.0,
            },
            CurrentModel::Delta => IafSynapse {
                p21: 0.0,
                p11: 0.0,
                p20: 0.0,
                jump: 1.0,
            },
            CurrentModel::Continuous => unreachable!("validated: no continuous current"),
        };
        let first = synapse(&currents[0].1);
        Ok(Self {
            synapses: [first, currents.get(1).map_or(first, |(_, s)| synapse(s))],
            p22: p22 as f32,
            p20: p20 as f32,
            e_l: e_l as f32,
            v_th: v_th as f32,
            v_reset: v_reset as f32,
            // Checked to fit in u16.
            ref_steps: (t_ref / dt_ms).round() as u16,
        })
    }
}

impl NeuronModel for Iaf {
    type Config = IafConfig;
    type Params = IafParams;
    const STATE: &'static [StateColumn] = &[crate::state_column!(
        "iaf_refractory",
        IafRefractory,
        U32,
        u32s,
        |c| c.0.into(),
        |c, v| c.0 = u16::try_from(*v).unwrap_or(u16::MAX)
    )];

    fn add_systems(schedule: &mut Schedule) {
        schedule.add_systems(update.in_set(StepSet::Update));
    }

    /// Rest: `V = E_L`, currents 0, not refractory.
    fn reset(world: &mut World) {
        reset_each::<IafNeuron, IafParams, _>(world, |p, i| Voltage(p.0.at(i as usize).e_l));
        reset_each::<IafNeuron, IafParams, _>(world, |_, _| IafRefractory(0));
    }
}

/// Units of the iaf model's currents.
const PICOAMPERE: &str = "pA";

const RECORDABLES: [Recordable; 3] = [
    recordables::VOLTAGE,
    Recordable {
        name: Cow::Borrowed("current"),
        units: PICOAMPERE,
        read: recordables::CURRENT.read,
    },
    Recordable {
        name: Cow::Borrowed("input"),
        units: PICOAMPERE,
        read: recordables::INPUT.read,
    },
];

impl LayerModel for IafConfig {
    fn size(&self) -> usize {
        self.size
    }

    fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    fn synaptic_currents(&self) -> Vec<(String, SynapseConfig)> {
        currents_or(&self.synapses, default_synapse())
    }

    fn external(&self) -> (&'static str, &PerNeuron, Option<&StepCurrent>) {
        ("i_e_pa", &self.i_e_pa, self.step_current.as_ref())
    }

    fn recordables(&self) -> Vec<Recordable> {
        RECORDABLES.to_vec()
    }

    fn validate(&self, key: &dyn Fn(&str) -> String, dt: f64) -> Result<(), ConfigError> {
        let l = self;
        if let Some(d) = &l.v_init {
            d.validate(&key("v_init"))?;
        }
        validate_synapses_of(
            key,
            &l.synapses,
            &[
                CurrentModel::Exponential,
                CurrentModel::Instantaneous,
                CurrentModel::Delta,
            ],
        )?;
        for (c, s) in &l.synapses {
            if s.reversal_mv.is_some() {
                return err(format!(
                    "{}: iaf synapses are current-based; remove reversal_mv",
                    key(&format!("synapses.{c}.reversal_mv"))
                ));
            }
        }
        // After the synapses: the propagators need valid ones.
        if let Some(values) = validate_all(l.params(), key)? {
            IafCoef::new(values, &l.synaptic_currents(), dt, key, None)?;
        }
        validate_external(key, "i_e_pa", &l.i_e_pa, l.step_current.as_ref())
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
        let currents = self.synaptic_currents();
        let coefs = Coefs::new(&values, self.size, |i, v| {
            IafCoef::new(v, &currents, dt_ms, key, i)
        })?;
        let v0 = initial_voltages(self.v_init.as_ref(), &values[2], seed, index, self.size);
        world.entity_mut(layer).insert(IafParams(coefs));
        Ok(spawn_neurons(world, layer, self.size, &currents, |i| {
            (IafNeuron, Voltage(v0[i as usize]), IafRefractory::default())
        }))
    }
}

/// The iaf columns of a run of rows: voltage, refractory countdown.
type Own<'a> = (&'a mut [Voltage], &'a mut [IafRefractory]);

/// Every iaf neuron's step (the scheme of the module documentation), in
/// one pass over the component columns, split between threads by rows
/// ([`for_rows`](crate::step::for_rows)); spiking neurons are appended to
/// their layer's spike list.
#[allow(clippy::type_complexity)]
pub fn update(
    clock: Res<Clock>,
    mut layers: Query<(Entity, &IafParams, &ExternalCurrent, &mut InputRing)>,
    mut neurons: Query<
        (
            &InLayer,
            &mut Current,
            Option<&mut Current2>,
            &mut Voltage,
            &mut IafRefractory,
            &mut Spiked,
        ),
        With<IafNeuron>,
    >,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut spare: Local<Spare<LayerStep<'static, &'static IafParams>>>,
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
        .map(|(at, j, j2, v, refr, s)| NeuronRows {
            at,
            j: column(j),
            j2: j2.map(column),
            jm: None,
            s: column(s),
            own: (column(v), column(refr)),
        });
    let run =
        |step: &LayerStep<&IafParams>, out: &mut Vec<(Entity, u32)>, rows: NeuronRows<Own>| {
            let (p, li) = (step.model, &step.input);
            li.run_blocks(out, rows, |b| {
                let (ext, zero) = (li.ext, li.zero);
                let coefs = p.0.block(b.first, b.s.len());
                let each = b.ext_each;
                if each.is_empty() {
                    block(coefs, Same(ext), zero, b)
                } else {
                    block(coefs, Offset { base: ext, each }, zero, b)
                }
            });
        };
    driver::step_tables(tables, &steps, run, &mut fired, &mut lists);
    spare.0 = driver::recycle(&mut steps);
}

/// [`membrane`] for the block's number of synaptic currents and its
/// constants, one for all rows or each row's.
#[inline(always)]
fn block(coefs: BlockCoefs<IafCoef>, ext: impl PerRow<f32>, zero: bool, b: Block<Own>) -> usize {
    match (coefs, b.j2.is_some()) {
        (BlockCoefs::Same(c), false) => membrane::<false, _, _>(c, ext, zero, b),
        (BlockCoefs::Same(c), true) => membrane::<true, _, _>(c, ext, zero, b),
        (BlockCoefs::Each(c), false) => membrane::<false, _, _>(c, ext, zero, b),
        (BlockCoefs::Each(c), true) => membrane::<true, _, _>(c, ext, zero, b),
    }
}

/// Steps 1–3 of the module documentation for a block, with row `k`'s
/// constants `coefs.at(k)` and external current `ext.at(k)` (pA); the
/// input read is set back to 0 if `zero`. Returns the number of spikes.
/// What is alike for all rows is read before the loop.
#[inline(always)]
fn membrane<const TWO: bool, P: PerRow<IafCoef>, E: PerRow<f32>>(
    coefs: P,
    ext: E,
    zero: bool,
    b: Block<Own>,
) -> usize {
    let Block {
        input0,
        input1,
        j,
        j2,
        own: (v, refr),
        s,
        ..
    } = b;
    let n = v.len();
    let j2 = j2.unwrap_or(&mut []);
    assert!(j.len() == n && input0.len() == n && refr.len() == n && s.len() == n);
    assert!(!TWO || (j2.len() == n && input1.len() == n));
    assert!(n > 0 && coefs.covers(n) && ext.covers(n));
    let (p0, e0) = (coefs.at(0), ext.at(0));
    let drive0 = e0 * p0.p20;
    // u16: a block (`BLOCK` rows) cannot overflow it.
    let mut count = 0u16;
    for k in 0..n {
        let p = if P::ALIKE { p0 } else { coefs.at(k) };
        let s0 = p.synapses[0];
        let s1 = p.synapses[1];
        let ext_drive = if P::ALIKE && E::ALIKE {
            drive0
        } else {
            ext.at(k) * p.p20
        };
        let x0 = input0[k];
        let mut dy = j[k].0 * s0.p21 + x0 * s0.p20;
        let mut jump = x0 * s0.jump;
        j[k].0 = j[k].0 * s0.p11 + x0;
        if zero {
            input0[k] = 0.0;
        }
        if TWO {
            let x1 = input1[k];
            dy += j2[k].0 * s1.p21 + x1 * s1.p20;
            jump += x1 * s1.jump;
            j2[k].0 = j2[k].0 * s1.p11 + x1;
            if zero {
                input1[k] = 0.0;
            }
        }
        let held = refr[k].0 > 0;
        let y = (v[k].0 - p.e_l) * p.p22 + ext_drive + dy + jump;
        let vn = p.e_l + y;
        let spike = !held & (vn >= p.v_th);
        v[k].0 = if held | spike { p.v_reset } else { vn };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p21_is_the_voltage_of_a_decaying_current() {
        // Closed form at τ_s = 0.5, τ_m = 10 ms, C_m = 250 pF, h = 0.1 ms:
        // 0.5·10/(250·9.5) · (e^{−0.01} − e^{−0.2}) = 0.00210526… ·
        // (0.990049834 − 0.818730753) = 0.000360672 mV per pA; and the
        // small-h limit of the same expression is h/C_m = 0.0004 (the
        // charge of the first instant), which it approaches from below.
        let v = p21(0.5, 10.0, 250.0, 0.1);
        assert!((v - 3.606_72e-4).abs() < 1e-9, "{v}");
        // τ_s → τ_m: the limit h/C_m e^{−h/τ_m} = 0.1/250·e^{−0.01}.
        let lim = p21(10.0, 10.0, 250.0, 0.1);
        assert!((lim - 0.1 / 250.0 * (-0.01f64).exp()).abs() < 1e-15);
        let near = p21(10.0 - 1e-6, 10.0, 250.0, 0.1);
        assert!((near - lim).abs() < 1e-10, "{near} vs {lim}");
    }
}
