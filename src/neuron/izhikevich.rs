//! The Izhikevich neuron (`kind = "izhikevich"`; Izhikevich 2003, "Simple
//! model of spiking neurons", IEEE Trans. Neural Netw. 14:1569).
//!
//! ```text
//! v' = 0.04 v² + 5 v + 140 − u + I        (v in mV, t in ms)
//! u' = a (b v − u)
//! if v ≥ v_peak:  v ← c,  u ← u + d
//! ```
//!
//! `I` is the drive of the model as the paper writes it: the sum of the
//! layer's synaptic currents `J = Σ_c J_c` ([`super::synaptic`]; the
//! external current `i_ext` + `step_current` enters the first one, as for
//! LIF). It is dimensionless: the paper's units, where one unit of `I` adds
//! 1 mV/ms to `v'` (no capacitance or resistance is applied). A
//! conductance-based synapse (`reversal_mv = E_c`) contributes
//! `g_c (E_c − v(n−1))`. Projection weights into such a layer are in the
//! same units; the paper's network adds them to `I` directly, which is the
//! default single `instantaneous` synaptic current named `default`.
//!
//! ## Integration scheme
//!
//! The paper's half steps for `v` (its `net.m`: `v=v+0.5*(…)` twice per
//! 1 ms step), scaled to `dt`, then the spike test, the reset, and one
//! Euler step of `u` with the new `v`. One step from `n−1` to `n`, with
//! `h = dt/2` and `f(v) = 0.04 v² + 5 v + 140 − u + I`:
//!
//! ```text
//! I     = J(n)                       (the synaptic currents are updated first)
//! v'    = v + h f(v)                 (two half steps of v, both with the old u)
//! v''   = v' + h f(v')
//! s(n)  = [v'' ≥ v_peak]
//! v(n)  = c      if s(n), else v''   (reset …
//! ũ     = u + d  if s(n), else u      … before the u step)
//! u(n)  = ũ + dt · a (b v(n) − ũ)
//! ```
//!
//! The reset comes before the `u` step, so `u` is stepped from the state
//! after the spike. `net.m` does it the other way round: its `u` step uses
//! the overshooting `v''`, and the reset follows at the top of the next
//! iteration (NEST's `izhikevich` with `consistent_integration = false`,
//! its "published numerics", does the same; its default, `true`, is one
//! forward-Euler step of `v` and `u` from the old state). At 1 ms `v''` of
//! a spiking step is anywhere from 30 to over 1000 mV, depending on where
//! in the step `v` crossed, and `dt·a·b·v''` adds tens of mV to a
//! fast-spiking cell's `u`, at random: that order fires the paper's FS cell
//! at half its rate (20 spikes instead of 40 in the 290 ms of
//! `experiments/izhikevich.toml`) and its LTS cell irregularly (14 instead
//! of 25). With the reset first, dt = 1 ms gives RS 7, IB 11, CH 27, FS 36
//! and LTS 23 spikes against 7, 11, 27, 40 and 25 of a 0.005 ms reference
//! (and the same counts as the reference at dt = 0.1 ms), with regular
//! ISIs. As `dt → 0` both orders converge to the ODE. The same scheme
//! written as Brian2 code gives the same spike times
//! (`tools/crosscheck/izhikevich_brian2.py`). Spikes are reported
//! at the step whose update crossed `v_peak`; the recorded `voltage` of
//! that step is `c` (after the reset), as for LIF. Arithmetic is `f32` in
//! the written order (`0.04 (v v)` first), identical on any number of
//! threads.
//!
//! ## Parameters
//!
//! [`IzhikevichConfig`], `[layers.<name>]` with `kind = "izhikevich"`:
//!
//! | key | default | unit | meaning |
//! |---|---|---|---|
//! | `size` | required | neurons | ≥ 1 |
//! | `a` † | 0.02 | 1/ms | rate of the recovery variable `u` |
//! | `b` † | 0.2 | — | sensitivity of `u` to `v` |
//! | `c` † | −65 | mV | reset voltage |
//! | `d` † | 8 | mV | jump of `u` at a spike |
//! | `v_peak` † | 30 | mV | spike cutoff, > `c` |
//! | `v_init` | −65 | mV | initial voltage distribution, as LIF's |
//! | `u_init` | `b · v_init` | mV | initial recovery (per neuron, from its `v_init`) |
//! | `synapses.<name>` | `default`, instantaneous | | up to two named synaptic currents |
//! | `i_ext` †, `step_current` | 0, none | — | external drive (the units of `I`) |
//!
//! † one number for the layer, a distribution drawn per neuron or a file
//! ([`PerNeuron`]); every other key is one number for the layer (a table
//! is refused naming the key).
//!
//! The defaults are the paper's regular spiking cell; its Fig. 2 (a, b, c,
//! d): intrinsically bursting (0.02, 0.2, −55, 4), chattering (0.02, 0.2,
//! −50, 2), fast spiking (0.1, 0.2, −65, 2), low-threshold spiking (0.02,
//! 0.25, −65, 2); `experiments/izhikevich.toml` runs all five.
//!
//! A reset (between images, before a protocol's presentation) puts every
//! neuron back in the state the run started from, its own `v_init` and
//! `u_init`, and the synaptic currents at 0.
//!
//! Recordables: `voltage` (mV), `u` (mV), `current` (`I`, the
//! conductance-based terms `g_c (E_c − v(n−1))` as the step used them;
//! dimensionless, units `1`), `input` (this step's synaptic plus external
//! input; units `1`), and `g_<name>` of each conductance-based synapse
//! `<name>` (units `1/mV`, so that `g (E − v)` is in the units of `I`).

use crate::resume::state::StateColumn;
use std::borrow::Cow;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{IntoScheduleConfigs, Schedule};
use serde::{Deserialize, Serialize};

use super::driver::{
    self, BlockCoefs, Coefs, Integrated, LayerInput, LayerStep, NeuronRows, Spare, column,
    neuron_key, reset_each, spawn_neurons,
};
use super::input::InputRing;
use super::model::{LayerModel, NeuronModel, Recordable, Spawn, read_each};
use super::per_row::PerRow;
use super::recordables;
use super::synaptic::{
    self, CURRENT_DRIVE, Current, Current2, Drive, ExternalCurrent, MembraneCurrent, SynapseConfig,
    SynapticCurrent, currents_or, validate_external, validate_synapses,
};
use super::{Voltage, initial_voltages};
use crate::layer::{InLayer, LayerSpikes, Spiked};
use crate::param::{
    ConfigError, Distribution, Map, PerNeuron, StepCurrent, Values, err, finite, layer_number_some,
    resolve_all, validate_all,
};
use crate::step::Clock;
use crate::step::StepSet;

/// Initial voltage without `v_init` (mV): the paper's `v=-65*ones`.
pub const V_INIT: f32 = -65.0;

/// The Izhikevich model ([`NeuronModel`]).
pub struct Izhikevich;

/// Marks an Izhikevich neuron: its update and reset see only entities with it.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct IzhikevichNeuron;

/// The recovery variable `u` (mV). Written by [`update`].
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Recovery(pub f32);

/// An Izhikevich layer (module docs: equations, scheme, table).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IzhikevichConfig {
    /// Number of neurons (required, >= 1).
    pub size: usize,
    /// Recovery rate `a` in 1/ms (default 0.02); per neuron as [`PerNeuron`].
    pub a: PerNeuron,
    /// Recovery sensitivity `b` (default 0.2); per neuron as [`PerNeuron`].
    pub b: PerNeuron,
    /// Reset voltage `c` in mV (default −65); per neuron as [`PerNeuron`].
    pub c: PerNeuron,
    /// Recovery jump `d` at a spike in mV (default 8); per neuron as [`PerNeuron`].
    pub d: PerNeuron,
    /// Spike cutoff in mV (default 30, > `c`); per neuron as [`PerNeuron`].
    pub v_peak: PerNeuron,
    /// Initial voltage distribution in mV (default: −65 for every neuron,
    /// the paper's `v=-65*ones`), e.g. `{ kind = "constant", value = -70.0 }`
    /// or `{ kind = "uniform", low = -70.0, high = -60.0 }`, drawn per
    /// neuron from the `(seed, layer)` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v_init: Option<Distribution>,
    /// Initial recovery in mV (default `b · v_init` of each neuron, the
    /// paper's `u=b.*v`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "layer_number_some"
    )]
    pub u_init: Option<f64>,
    /// Named synaptic currents (at most [`synaptic::MAX_SYNAPSES`]);
    /// `I = Σ_c J_c`. Default: none, i.e. one `instantaneous` current named
    /// `default` (each step's input is `I`, as in the paper's network).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub synapses: Map<SynapseConfig>,
    /// Constant external drive added to the input of the first synaptic
    /// current every step (default 0; units of `I`).
    pub i_ext: PerNeuron,
    /// Optional step of external drive inside a time window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_current: Option<StepCurrent>,
}

impl Default for IzhikevichConfig {
    fn default() -> Self {
        Self {
            size: 0,
            a: 0.02.into(),
            b: 0.2.into(),
            c: (-65.0).into(),
            d: 8.0.into(),
            v_peak: 30.0.into(),
            v_init: None,
            u_init: None,
            synapses: Map::new(),
            i_ext: 0.0.into(),
            step_current: None,
        }
    }
}

/// Per-layer parameters and each neuron's initial state. Written once by
/// the network builder.
#[derive(Component, Debug, Clone)]
pub struct IzhikevichParams {
    /// The synaptic currents, in the order of [`LayerModel::synaptic_currents`].
    pub currents: Vec<SynapticCurrent>,
    /// `dt/2`, the half step of `v` (ms).
    pub half_dt: f32,
    /// `(dt · a, b, c, d, v_peak)` of every neuron, or of each ([`Coefs`]).
    pub coefs: Coefs<IzhCoef>,
    /// `(v, u)` of each neuron at the start of the run, by index: where a
    /// reset puts it back.
    pub initial: Vec<[f32; 2]>,
}

/// One neuron's constants of the step: `dt · a`, `b`, `c` (mV), `d` (mV).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IzhCoef {
    /// `dt · a`.
    pub dt_a: f32,
    /// `b`.
    pub b: f32,
    /// `c` (mV).
    pub c: f32,
    /// `d` (mV).
    pub d: f32,
    /// `v_peak` (mV).
    pub v_peak: f32,
}

/// The keys of [`IzhikevichConfig`] that may differ between neurons, besides `i_ext`.
const PARAMS: [&str; 5] = ["a", "b", "c", "d", "v_peak"];

impl IzhikevichConfig {
    /// The parameters named by `PARAMS`, with their keys.
    fn params(&self) -> [(&'static str, &PerNeuron); 5] {
        let p = [&self.a, &self.b, &self.c, &self.d, &self.v_peak];
        std::array::from_fn(|k| (PARAMS[k], p[k]))
    }

    /// Checks one neuron's `[a, b, c, d, v_peak]` (`neuron` named in
    /// messages) and gives its constants for time step `dt_ms`.
    fn coef(
        &self,
        [a, b, c, d, v_peak]: [f64; 5],
        dt_ms: f64,
        key: &dyn Fn(&str) -> String,
        neuron: Option<usize>,
    ) -> Result<IzhCoef, ConfigError> {
        let k = |f: &str| neuron_key(key, neuron, f);
        for (f, v) in [("a", a), ("b", b), ("c", c), ("d", d), ("v_peak", v_peak)] {
            finite(&k(f), v)?;
        }
        if v_peak <= c {
            return err(format!("{}: must be > c ({c}), got {v_peak}", k("v_peak")));
        }
        Ok(IzhCoef {
            dt_a: (dt_ms * a) as f32,
            b: b as f32,
            c: c as f32,
            d: d as f32,
            v_peak: v_peak as f32,
        })
    }
}

impl NeuronModel for Izhikevich {
    type Config = IzhikevichConfig;
    type Params = IzhikevichParams;
    const STATE: &'static [StateColumn] = &[crate::state_column!(
        "recovery",
        Recovery,
        F32,
        f32s,
        |c| c.0,
        |c, v| c.0 = *v
    )];

    fn add_systems(schedule: &mut Schedule) {
        schedule.add_systems(update.in_set(StepSet::Update));
    }

    fn reset(world: &mut World) {
        type Params = IzhikevichParams;
        reset_each::<IzhikevichNeuron, Params, _>(world, |p, i| Voltage(p.initial[i as usize][0]));
        reset_each::<IzhikevichNeuron, Params, _>(world, |p, i| Recovery(p.initial[i as usize][1]));
    }
}

/// `u`: the recovery variable after this step's reset (mV).
const RECOVERY: Recordable = Recordable {
    name: Cow::Borrowed("u"),
    units: "mV",
    read: |world, _, neurons, _, out| read_each(world, neurons, out, |u: &Recovery| u.0),
};

const RECORDABLES: [Recordable; 4] = [
    recordables::VOLTAGE,
    RECOVERY,
    Recordable {
        units: "1",
        ..recordables::CURRENT
    },
    Recordable {
        units: "1",
        ..recordables::INPUT
    },
];

impl LayerModel for IzhikevichConfig {
    fn size(&self) -> usize {
        self.size
    }

    fn set_size(&mut self, size: usize) {
        self.size = size;
    }

    fn synaptic_currents(&self) -> Vec<(String, SynapseConfig)> {
        let single = SynapseConfig {
            current: synaptic::CurrentModel::Instantaneous,
            ..SynapseConfig::default()
        };
        currents_or(&self.synapses, single)
    }

    fn external(&self) -> (&'static str, &PerNeuron, Option<&StepCurrent>) {
        ("i_ext", &self.i_ext, self.step_current.as_ref())
    }

    fn recordables(&self) -> Vec<Recordable> {
        recordables::with_conductances(&RECORDABLES, &self.synaptic_currents(), "1/mV")
    }

    fn validate(&self, key: &dyn Fn(&str) -> String, _dt: f64) -> Result<(), ConfigError> {
        if let Some(values) = validate_all(self.params(), key)? {
            self.coef(values, 1.0, key, None)?;
        }
        if let Some(d) = &self.v_init {
            d.validate(&key("v_init"))?;
        }
        if let Some(u) = self.u_init {
            finite(&key("u_init"), u)?;
        }
        validate_synapses(key, &self.synapses)?;
        validate_external(key, "i_ext", &self.i_ext, self.step_current.as_ref())
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
        let coefs = Coefs::new(&values, self.size, |i, v| self.coef(v, dt_ms, key, i))?;
        let v0 = initial_voltages(
            self.v_init.as_ref(),
            &Values::Same(V_INIT.into()),
            seed,
            index,
            self.size,
        );
        let initial: Vec<[f32; 2]> = v0
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                [
                    v,
                    self.u_init.unwrap_or(values[1].at(i) * f64::from(v)) as f32,
                ]
            })
            .collect();
        let members = spawn_neurons(world, layer, self.size, &self.synaptic_currents(), |i| {
            let [v, u] = initial[i as usize];
            (IzhikevichNeuron, Voltage(v), Recovery(u))
        });
        let params = IzhikevichParams {
            currents: self
                .synaptic_currents()
                .iter()
                .map(|(_, s)| SynapticCurrent::new(s, dt_ms))
                .collect(),
            half_dt: (dt_ms / 2.0) as f32,
            coefs,
            initial,
        };
        world.entity_mut(layer).insert(params);
        Ok(members)
    }
}

/// The Izhikevich columns of a run of rows: voltage and recovery.
type Own<'a> = (&'a mut [Voltage], &'a mut [Recovery]);

/// The constants of one layer's step.
pub struct Consts<'a> {
    p: &'a IzhikevichParams,
    /// [`SynapticCurrent::drive`] of the (up to two) synaptic currents.
    drive: [Drive; 2],
}

/// Every Izhikevich neuron's step (module docs), in one pass over the
/// component columns, split between threads by rows whatever layer they
/// belong to; spiking neurons are appended to their layer's spike list.
#[allow(clippy::type_complexity)]
pub fn update(
    clock: Res<Clock>,
    mut layers: Query<(Entity, &IzhikevichParams, &ExternalCurrent, &mut InputRing)>,
    mut neurons: Query<
        (
            &InLayer,
            &mut Current,
            Option<&mut Current2>,
            Option<&mut MembraneCurrent>,
            &mut Voltage,
            &mut Recovery,
            &mut Spiked,
        ),
        With<IzhikevichNeuron>,
    >,
    mut lists: Query<&mut LayerSpikes>,
    mut fired: Local<Vec<(Entity, u32)>>,
    mut spare: Local<Spare<LayerStep<'static, Consts<'static>>>>,
) {
    let n = clock.step;
    let mut steps = driver::recycle(&mut spare.0);
    steps.extend(layers.iter_mut().map(|(layer, p, ext, ring)| LayerStep {
        input: LayerInput::new(layer, ext, ring, n),
        model: Consts {
            p,
            drive: synaptic::drives(&p.currents).0,
        },
    }));
    let tables = neurons
        .contiguous_iter_mut()
        .expect("table-stored components")
        .map(|(at, j, j2, jm, v, u, s)| NeuronRows {
            at,
            j: column(j),
            j2: j2.map(column),
            jm: jm.map(column),
            s: column(s),
            own: (column(v), column(u)),
        });
    let run = |step: &LayerStep<Consts>, out: &mut Vec<(Entity, u32)>, rows: NeuronRows<Own>| {
        let (Consts { p, drive }, li) = (&step.model, &step.input);
        li.run_blocks(out, rows, |b| {
            let coefs = p.coefs.block(b.first, b.s.len());
            step_block(p, coefs, *drive, b.integrate(&p.currents, li.ext, li.zero))
        });
    };
    driver::step_tables(tables, &steps, run, &mut fired, &mut lists);
    spare.0 = driver::recycle(&mut steps);
}

/// The membrane step of a block; returns its number of spikes. Where the CPU has AVX2 (checked at run time) the same
/// code is compiled for it: the same IEEE operations in the same order (no
/// fused multiply-add), so the results are identical either way.
fn step_block(
    p: &IzhikevichParams,
    coefs: BlockCoefs<IzhCoef>,
    drive: [Drive; 2],
    cols: Integrated<Own>,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { step_block_avx2(p, coefs, drive, cols) };
    }
    step_block_portable(p, coefs, drive, cols)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn step_block_avx2(
    p: &IzhikevichParams,
    coefs: BlockCoefs<IzhCoef>,
    drive: [Drive; 2],
    cols: Integrated<Own>,
) -> usize {
    step_block_portable(p, coefs, drive, cols)
}

/// [`membrane`] for the block's synaptic currents and its constants, one
/// for all rows or each row's.
#[inline(always)]
fn step_block_portable(
    p: &IzhikevichParams,
    coefs: BlockCoefs<IzhCoef>,
    drive: [Drive; 2],
    cols: Integrated<Own>,
) -> usize {
    match coefs {
        BlockCoefs::Same(c) => by_currents(p, c, drive, cols),
        BlockCoefs::Each(c) => by_currents(p, c, drive, cols),
    }
}

#[inline(always)]
fn by_currents<P: PerRow<IzhCoef>>(
    p: &IzhikevichParams,
    coefs: P,
    drive: [Drive; 2],
    cols: Integrated<Own>,
) -> usize {
    let cond = drive != [CURRENT_DRIVE; 2];
    let two = cols.two();
    let Integrated {
        j,
        j2,
        jm,
        own: (v, u),
        s,
    } = cols;
    match (two, cond) {
        (false, false) => membrane::<false, false, _>(p, coefs, drive, j, j2, jm, v, u, s),
        (false, true) => membrane::<false, true, _>(p, coefs, drive, j, j2, jm, v, u, s),
        (true, false) => membrane::<true, false, _>(p, coefs, drive, j, j2, jm, v, u, s),
        (true, true) => membrane::<true, true, _>(p, coefs, drive, j, j2, jm, v, u, s),
    }
}

/// `v`, spike, reset and `u` of a block of rows driven by
/// `I = J_0 (+ J_1 with TWO)`; without `COND` every synaptic current is a
/// current and `J_c` is taken as it is, with `COND` the `I` that drove the
/// step is stored in `jm`. Branch-free, so that it vectorizes; the columns
/// are separate arguments so that the compiler knows they do not overlap
/// (as in the LIF step).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn membrane<const TWO: bool, const COND: bool, P: PerRow<IzhCoef>>(
    p: &IzhikevichParams,
    coefs: P,
    drive: [Drive; 2],
    j: &[Current],
    j2: &[Current2],
    jm: &mut [MembraneCurrent],
    v: &mut [Voltage],
    u: &mut [Recovery],
    s: &mut [Spiked],
) -> usize {
    let n = v.len();
    assert!(n <= driver::BLOCK && j.len() == n && u.len() == n && s.len() == n);
    assert!(!TWO || j2.len() == n);
    assert!(!COND || jm.len() == n);
    assert!(n > 0 && coefs.covers(n));
    // Read once into locals: loaded inside the loop they keep it scalar.
    let half_dt = p.half_dt;
    let alike = coefs.at(0);
    let [
        Drive {
            reversal: e0,
            scale: c0,
        },
        Drive {
            reversal: e1,
            scale: c1,
        },
    ] = drive;
    // u16: a block (`BLOCK` rows) cannot overflow it.
    let mut count = 0u16;
    for k in 0..n {
        let IzhCoef {
            dt_a,
            b,
            c,
            d,
            v_peak,
        } = if P::ALIKE { alike } else { coefs.at(k) };
        let (v0, u0) = (v[k].0, u[k].0);
        let (g0, g1) = (j[k].0, if TWO { j2[k].0 } else { 0.0 });
        let i0 = if COND { g0 * (e0 - c0 * v0) } else { g0 };
        let i = if TWO {
            i0 + if COND { g1 * (e1 - c1 * v0) } else { g1 }
        } else {
            i0
        };
        if COND {
            jm[k].0 = i;
        }
        let dv = |v: f32| 0.04 * (v * v) + 5.0 * v + 140.0 - u0 + i;
        let v1 = v0 + half_dt * dv(v0);
        let v2 = v1 + half_dt * dv(v1);
        let spike = v2 >= v_peak;
        let vn = if spike { c } else { v2 };
        let ur = if spike { u0 + d } else { u0 };
        v[k].0 = vn;
        u[k].0 = ur + dt_a * (b * vn - ur);
        s[k].0 = spike;
        count += spike as u16;
    }
    count as usize
}

#[cfg(test)]
mod tests {
    use crate::{Config, Simulation};

    const ONE: &str = "[simulation]\nsteps = 100\n[layers.n]\nkind = \"izhikevich\"\nsize = 1\n";

    /// One neuron of the defaults (RS) with the given extra keys.
    fn one(extra: &str) -> Simulation {
        let toml = format!("{ONE}{extra}\n");
        let config = Config::from_toml(&toml, &[]).expect("valid config");
        Simulation::new(&config, None).expect("network builds")
    }

    #[test]
    fn two_half_steps_of_v_then_u_by_hand() {
        // v = −65, u = b·v = −13, I = 10 (i_ext), a = 0.02, b = 0.2, dt = 1:
        //   f(v) = 0.04 v² + 5 v + 140 − u + I
        //   f(−65) = 169 − 325 + 140 + 13 + 10 = 7         → v' = −65 + 3.5 = −61.5
        //   f(−61.5) = 151.29 − 307.5 + 163 = 6.79         → v'' = −61.5 + 3.395 = −58.105
        //   u = −13 + 0.02·(0.2·(−58.105) + 13) = −13 + 0.02·1.379 = −12.97242
        // Step 2 (u = −12.97242):
        //   f(−58.105) = 135.047641 − 290.525 + 162.97242 = 7.495061 → v' = −54.3574695
        //   f(v') = 118.188… − 271.787… + 162.97242 = 9.374452 → v'' = −49.670243
        //   u = −12.97242 + 0.02·(0.2·(−49.670243) + 12.97242) = −12.911653
        let mut s = one("i_ext = 10.0");
        assert_eq!(s.read("n", "u").unwrap(), vec![-13.0]);
        let close = |got: f32, want: f64| (got as f64 - want).abs() < 1e-4;
        s.step();
        let (v, u) = (s.voltages("n")[0], s.read("n", "u").unwrap()[0]);
        assert!(close(v, -58.105) && close(u, -12.97242), "{v} {u}");
        s.step();
        let (v, u) = (s.voltages("n")[0], s.read("n", "u").unwrap()[0]);
        assert!(close(v, -49.670243) && close(u, -12.911653), "{v} {u}");
        assert!(s.spikes("n").is_empty());
    }

    #[test]
    fn a_spiking_step_resets_before_the_u_step() {
        // v = 25, u = −10, I = 10 (RS, c = −65, d = 8):
        //   f(25) = 25 + 125 + 140 + 10 + 10 = 310        → v' = 25 + 155 = 180
        //   f(180) = 1296 + 900 + 160 = 2356              → v'' = 180 + 1178 = 1358 ≥ 30
        //   spike at this step (0): v = c = −65, ũ = −10 + 8 = −2,
        //   u = −2 + 0.02·(0.2·(−65) + 2) = −2 − 0.22 = −2.22
        //   (the overshoot does not enter u: with it u would be
        //   −10 + 0.02·(0.2·1358 + 10) + 8 = 3.632).
        let mut s =
            one("i_ext = 10.0\nv_init = { kind = \"constant\", value = 25.0 }\nu_init = -10.0");
        s.step();
        assert_eq!(s.spikes("n"), vec![0]);
        assert_eq!(s.voltages("n"), vec![-65.0]);
        let u = s.read("n", "u").unwrap()[0];
        assert!((u + 2.22).abs() < 1e-5, "{u}");
    }

    #[test]
    fn half_steps_scale_with_dt() {
        // dt = 0.5: h = 0.25, dt·a = 0.01; from v = −65, u = −13, I = 10:
        //   v' = −65 + 0.25·7 = −63.25
        //   f(−63.25) = 160.0225 − 316.25 + 163 = 6.7725  → v'' = −63.25 + 1.693125 = −61.556875
        //   u = −13 + 0.01·(0.2·(−61.556875) + 13) = −13 + 0.01·0.688625 = −12.99311375
        let toml = format!("{ONE}i_ext = 10.0\n").replace("steps", "dt_ms = 0.5\nsteps");
        let mut s = Simulation::new(&Config::from_toml(&toml, &[]).unwrap(), None).unwrap();
        s.step();
        let (v, u) = (s.voltages("n")[0], s.read("n", "u").unwrap()[0]);
        assert!(
            (v + 61.556875).abs() < 1e-4 && (u + 12.993114).abs() < 1e-4,
            "{v} {u}"
        );
    }

    /// The AVX2 build of the block step gives bit-identical results to the
    /// portable one (the claim of `step_block`): 203 neurons (no multiple of
    /// a vector width) of varied state, two currents, one a conductance,
    /// 100 steps, every column compared bit for bit.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_block_step_is_bit_identical() {
        use super::*;
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable build exists");
            return;
        }
        let n = 203;
        let p = IzhikevichParams {
            currents: Vec::new(),
            half_dt: 0.5,
            coefs: Coefs {
                same: IzhCoef {
                    dt_a: 0.02,
                    b: 0.2,
                    c: -55.0,
                    d: 4.0,
                    v_peak: 30.0,
                },
                each: Vec::new(),
            },
            initial: Vec::new(),
        };
        let coefs = || p.coefs.block(0, n);
        let drive = [
            CURRENT_DRIVE,
            Drive {
                reversal: 0.0,
                scale: 1.0,
            },
        ];
        let x = |k: usize| ((k as u32).wrapping_mul(2654435761) ^ 7) as f32 / u32::MAX as f32;
        let j: Vec<Current> = (0..n).map(|k| Current(12.0 * x(k))).collect();
        let j2: Vec<Current2> = (0..n).map(|k| Current2(0.05 * x(k + n))).collect();
        let run = |avx2: bool| {
            let mut v: Vec<Voltage> = (0..n)
                .map(|k| Voltage(-75.0 + 40.0 * x(k + 2 * n)))
                .collect();
            let mut u: Vec<Recovery> = (0..n)
                .map(|k| Recovery(-15.0 + 5.0 * x(k + 3 * n)))
                .collect();
            let mut jm = vec![MembraneCurrent(0.0); n];
            let mut s = vec![Spiked(false); n];
            let mut spikes = 0;
            for _ in 0..100 {
                let cols = Integrated {
                    j: &j,
                    j2: &j2,
                    jm: &mut jm,
                    own: (&mut v[..], &mut u[..]),
                    s: &mut s,
                };
                spikes += if avx2 {
                    // SAFETY: AVX2 was detected above.
                    unsafe { step_block_avx2(&p, coefs(), drive, cols) }
                } else {
                    step_block_portable(&p, coefs(), drive, cols)
                };
            }
            let bits = |x: f32| x.to_bits();
            let v: Vec<u32> = v.iter().map(|x| bits(x.0)).collect();
            let u: Vec<u32> = u.iter().map(|x| bits(x.0)).collect();
            let jm: Vec<u32> = jm.iter().map(|x| bits(x.0)).collect();
            (v, u, jm, spikes)
        };
        let portable = run(false);
        assert!(portable.3 > 100, "the neurons should spike: {}", portable.3);
        assert_eq!(portable, run(true));
    }
}
