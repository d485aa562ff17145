//! Synaptic currents: the machinery every neuron model shares for the input
//! of its projections, and the external current.
//!
//! A layer has one or two **synaptic currents** `c` (config:
//! `synapses.<name>`, chosen by a projection's `target`), each a variable
//! `J_c` per neuron integrated every step from the input `I_c(n)` that
//! delivery summed into the layer's [`super::input::InputRing`]:
//!
//! - `instantaneous`: `J_c(n) = I_c(n)`;
//! - `continuous`: `J_c(n) = J_c(n−1) + dt/τ_c · (−k_c J_c(n−1) + I_c(n))`;
//! - `exponential`: `J_c(n) = J_c(n−1) · exp(−dt/τ_c) + I_c(n)`.
//!
//! A current-based synapse drives the membrane with `J_c` (nA); a
//! conductance-based one (`reversal_mv = E_c`) holds a conductance `g_c`
//! (µS) and drives it with `g_c (E_c − V)`, `V` the voltage before the
//! step; the current that drove the step, `J = Σ_c J_c`, is what
//! `current` records ([`synaptic_current`]), and each conductance is
//! recordable as `g_<name>`. The external current (constant `i_ext` plus
//! an optional step) enters the first synaptic current.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

use super::per_row::PerRow;
use crate::param::{ConfigError, PerNeuron, StepCurrent, Values, finite, positive};

/// How a synaptic current integrates its input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentModel {
    /// `J(n) = I(n)`.
    Instantaneous,
    /// `J(n) = J(n-1) + dt/tau_j * (-k_j J(n-1) + I(n))` (the seed's Euler step).
    Continuous,
    /// `J(n) = J(n-1) · exp(-dt/tau) + I(n)`: exact decay, each spike adds its
    /// weight (NEST's `iaf_psc_exp`, Brian2's `on_pre: g += w`).
    Exponential,
    /// A delta synapse: a spike moves the voltage by its weight (mV) at
    /// arrival (NEST's `iaf_psc_delta`); `J(n) = I(n)` holds the jump. Only
    /// the `iaf` model ([`super::iaf`]) has it.
    Delta,
}

impl CurrentModel {
    /// The name as written in a config.
    pub fn name(self) -> &'static str {
        match self {
            CurrentModel::Instantaneous => "instantaneous",
            CurrentModel::Continuous => "continuous",
            CurrentModel::Exponential => "exponential",
            CurrentModel::Delta => "delta",
        }
    }
}

/// The synaptic current models of every model but `iaf`.
pub const EULER_CURRENTS: &[CurrentModel] = &[
    CurrentModel::Instantaneous,
    CurrentModel::Continuous,
    CurrentModel::Exponential,
];

/// Most synaptic currents a layer may have.
pub const MAX_SYNAPSES: usize = 2;

/// `[layers.<name>.synapses.<current>]`: one named synaptic current of a
/// layer (for example `exc` and `inh` with their own time constants).
/// Projections pick one with `target`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynapseConfig {
    /// `instantaneous`, `continuous` or `exponential` (default `exponential`).
    pub current: CurrentModel,
    /// Time constant in ms (default 5.0, > 0).
    pub tau_ms: f64,
    /// Leak factor of the `continuous` model (default 1.0).
    pub k: f64,
    /// Reversal potential in mV (default none: current-based). When set the
    /// synapse is conductance-based: its variable is a conductance `g` in µS,
    /// integrated by the same `current` model, and it drives the voltage with
    /// `J = g · (reversal_mv − V)` (nA), `V` the voltage of the previous step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal_mv: Option<f64>,
}

impl Default for SynapseConfig {
    fn default() -> Self {
        Self {
            current: CurrentModel::Exponential,
            tau_ms: 5.0,
            k: 1.0,
            reversal_mv: None,
        }
    }
}

/// The synaptic currents of a layer: the `synapses` table, or `single`
/// named `default` when the table is empty.
pub fn currents_or(
    synapses: &crate::param::Map<SynapseConfig>,
    single: SynapseConfig,
) -> Vec<(String, SynapseConfig)> {
    if synapses.is_empty() {
        vec![("default".to_string(), single)]
    } else {
        synapses
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect()
    }
}

/// Checks a `synapses` table (at most [`MAX_SYNAPSES`], each's ranges,
/// models among [`EULER_CURRENTS`]).
pub fn validate_synapses(
    key: &dyn Fn(&str) -> String,
    synapses: &crate::param::Map<SynapseConfig>,
) -> Result<(), ConfigError> {
    validate_synapses_of(key, synapses, EULER_CURRENTS)
}

/// `model`, the synaptic current model of the key `key`, is one of `allowed`.
pub fn current_model_in(
    key: &str,
    model: CurrentModel,
    allowed: &[CurrentModel],
) -> Result<(), ConfigError> {
    if allowed.contains(&model) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|m| m.name()).collect();
    crate::param::err(format!(
        "{key}: '{}' is not a synaptic current of this model; allowed: {}",
        model.name(),
        names.join(", ")
    ))
}

/// Checks a `synapses` table (at most [`MAX_SYNAPSES`], each's ranges),
/// whose current models must be among `allowed`.
pub fn validate_synapses_of(
    key: &dyn Fn(&str) -> String,
    synapses: &crate::param::Map<SynapseConfig>,
    allowed: &[CurrentModel],
) -> Result<(), ConfigError> {
    if synapses.len() > MAX_SYNAPSES {
        return crate::param::err(format!(
            "{}: at most {MAX_SYNAPSES} synaptic currents, got {}",
            key("synapses"),
            synapses.len()
        ));
    }
    for (c, sc) in synapses {
        current_model_in(&key(&format!("synapses.{c}.current")), sc.current, allowed)?;
        positive(&key(&format!("synapses.{c}.tau_ms")), sc.tau_ms)?;
        finite(&key(&format!("synapses.{c}.k")), sc.k)?;
        if let Some(e) = sc.reversal_mv {
            finite(&key(&format!("synapses.{c}.reversal_mv")), e)?;
        }
    }
    Ok(())
}

/// Checks the external current (its key `name`: `i_ext`, `i_e_pa`) and
/// `step_current`.
pub fn validate_external(
    key: &dyn Fn(&str) -> String,
    name: &str,
    i_ext: &PerNeuron,
    step: Option<&StepCurrent>,
) -> Result<(), ConfigError> {
    i_ext.validate(&key(name))?;
    match step {
        Some(s) => s.validate(&|f| key(&format!("step_current.{f}"))),
        None => Ok(()),
    }
}

/// `J_0`: the layer's first (or only) synaptic current, nA (its
/// conductance `g_0` in µS when conductance-based). Written by the model's
/// update.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Current(pub f32);

/// `J_1`: the second synaptic current, on neurons of layers that have two
/// (for example excitatory and inhibitory); nA, or µS as [`Current`].
/// Written by the model's update.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Current2(pub f32);

impl AsMut<f32> for Current {
    fn as_mut(&mut self) -> &mut f32 {
        &mut self.0
    }
}

impl AsMut<f32> for Current2 {
    fn as_mut(&mut self) -> &mut f32 {
        &mut self.0
    }
}

/// `J(n) = Σ_c J_c(n)` with `J_c = g_c(n) (E_c − V(n−1))` for a
/// conductance-based synapse and `J_c` itself for a current-based one, as
/// the model's update computes it: the synaptic current that drove this
/// step's voltage, nA (the units of `I` for Izhikevich). Only on the
/// neurons of layers with a conductance-based synapse, where the state
/// after the step cannot give it (`V(n−1)` is gone); elsewhere `J` is the
/// synaptic variables' sum ([`synaptic_current`]). Written by the model's
/// update.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct MembraneCurrent(pub f32);

/// Whether any of a layer's synaptic currents is conductance-based (its
/// neurons then have a [`MembraneCurrent`]).
pub fn any_conductance(currents: &[(String, SynapseConfig)]) -> bool {
    currents.iter().any(|(_, c)| c.reversal_mv.is_some())
}

/// The synaptic current `J(n)` that drove the last step of neuron `e`
/// (nA): its [`MembraneCurrent`] in a layer with a conductance-based
/// synapse, else `J_0 + J_1`.
pub fn synaptic_current(e: EntityRef) -> f32 {
    if let Some(j) = e.get::<MembraneCurrent>() {
        return j.0;
    }
    let j = e
        .get::<Current>()
        .expect("a neuron with a synaptic current");
    e.get::<Current2>().map_or(j.0, |j2| j.0 + j2.0)
}

/// How a synaptic current's variable `g` drives the membrane:
/// `J = g · (reversal − scale · V)`; `(reversal, scale) = (E_rev, 1)` for a
/// conductance and [`CURRENT_DRIVE`] `= (1, 0)` for a current (then `J` is
/// `g` itself, exactly).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drive {
    /// `E_rev` (mV), or 1 for a current.
    pub reversal: f32,
    /// 1 for a conductance, 0 for a current.
    pub scale: f32,
}

/// [`Drive`] of a current-based synapse: `J = g · (1 − 0 · V) = g`.
pub const CURRENT_DRIVE: Drive = Drive {
    reversal: 1.0,
    scale: 0.0,
};

/// The drives of a layer's (up to two) synaptic currents, a missing second
/// one as [`CURRENT_DRIVE`]; and whether any is conductance-based.
pub fn drives(currents: &[SynapticCurrent]) -> ([Drive; 2], bool) {
    let drive = |c: usize| currents.get(c).map_or(CURRENT_DRIVE, |r| r.drive);
    let d = [drive(0), drive(1)];
    (d, d != [CURRENT_DRIVE; 2])
}

/// One synaptic current's update coefficients.
#[derive(Debug, Clone, Copy)]
pub struct SynapticCurrent {
    /// Its model.
    pub model: CurrentModel,
    /// `dt/τ` (`continuous`) or `exp(−dt/τ)` (`exponential`).
    pub a: f32,
    /// Leak factor `k` (`continuous`).
    pub k: f32,
    /// How it drives the membrane.
    pub drive: Drive,
}

impl SynapticCurrent {
    /// The coefficients of `c` at time step `dt_ms`.
    pub fn new(c: &SynapseConfig, dt_ms: f64) -> Self {
        Self {
            model: c.current,
            a: match c.current {
                CurrentModel::Exponential => (-dt_ms / c.tau_ms).exp() as f32,
                _ => (dt_ms / c.tau_ms) as f32,
            },
            k: c.k as f32,
            drive: c.reversal_mv.map_or(CURRENT_DRIVE, |e| Drive {
                reversal: e as f32,
                scale: 1.0,
            }),
        }
    }

    /// One step of a run of neurons: `J ← f(J, I + ext)`, with `I` the
    /// run's slice of this step's input, set to 0 as it is read if `zero`,
    /// and `ext.at(row)` each row's external current.
    #[inline(always)]
    pub fn integrate<J: AsMut<f32>>(
        &self,
        j: &mut [J],
        input: &mut [f32],
        ext: impl PerRow<f32>,
        zero: bool,
    ) {
        let (a, k) = (self.a, self.k);
        assert!(ext.covers(j.len()));
        let it = j.iter_mut().zip(input).enumerate().map(|(row, (j, x))| {
            let read = *x;
            *x = if zero { 0.0 } else { read };
            (j.as_mut(), read + ext.at(row))
        });
        match self.model {
            CurrentModel::Instantaneous | CurrentModel::Delta => it.for_each(|(j, x)| *j = x),
            CurrentModel::Continuous => it.for_each(|(j, x)| *j += a * (-k * *j + x)),
            CurrentModel::Exponential => it.for_each(|(j, x)| *j = *j * a + x),
        }
    }
}

/// A step current in steps: `amplitude` nA for `first ≤ n < end`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWindow {
    /// First step with the current.
    pub first: u64,
    /// First step without it again.
    pub end: u64,
    /// Amplitude (nA).
    pub amplitude: f32,
}

impl StepWindow {
    /// The steps of `s` at time step `dt_ms`: a window `[start, stop)` in
    /// ms covers the steps `n` with `start ≤ n·dt < stop`.
    pub fn new(s: &StepCurrent, dt_ms: f64) -> Self {
        let first_step = |ms: f64| (ms / dt_ms).ceil() as u64;
        Self {
            first: first_step(s.start_ms),
            end: first_step(s.stop_ms),
            amplitude: s.amplitude as f32,
        }
    }
}

/// A layer's external current: the constant `i_ext` (or each neuron's
/// own, `each`) plus an optional step current. Written once by the network
/// builder; read by the model's update (into the first synaptic current)
/// and by the recorder (`input`).
#[derive(Component, Debug, Clone)]
pub struct ExternalCurrent {
    /// Constant current (nA; 0 where the neurons have their own).
    pub i_ext: f32,
    /// Each neuron's constant current (nA), added to `i_ext`; empty where
    /// the layer has one for all.
    pub each: Vec<f32>,
    /// The step current, in steps.
    pub step: Option<StepWindow>,
}

impl ExternalCurrent {
    /// From the config's `i_ext` (its values over the layer's neurons) and
    /// `step_current` at time step `dt_ms` ([`StepWindow::new`]).
    pub fn new(i_ext: &Values, step: Option<&StepCurrent>, dt_ms: f64) -> Self {
        let (i_ext, each) = match i_ext {
            Values::Same(v) => (*v as f32, Vec::new()),
            Values::Each(v) => (0.0, v.iter().map(|&x| x as f32).collect()),
        };
        Self {
            i_ext,
            each,
            step: step.map(|s| StepWindow::new(s, dt_ms)),
        }
    }

    /// Neuron `i`'s external current at step `n` (nA): [`Self::at`] plus its own.
    #[inline]
    pub fn of(&self, n: u64, i: usize) -> f32 {
        match self.each.get(i) {
            Some(e) => self.at(n) + e,
            None => self.at(n),
        }
    }

    /// External current at step `n` (nA).
    #[inline]
    pub fn at(&self, n: u64) -> f32 {
        match self.step {
            Some(w) if (w.first..w.end).contains(&n) => self.i_ext + w.amplitude,
            _ => self.i_ext,
        }
    }
}
