//! What a neuron model is: the two traits every model implements, and the
//! description of its recordable variables.
//!
//! A model is one module (see [`super::lif`]): its parameters (the layer's
//! config table, with defaults, units and checks), its components (behind a
//! marker component, so that no other model's query sees its neurons), its
//! update system, its reset, and its recordable variables. It is registered
//! by one line in [`super`]'s `models!` list, which derives the layer
//! `kind`, the config variant and the dispatch of spawning, scheduling and
//! resetting from it.

use std::borrow::Cow;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::Schedule;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::synaptic::SynapseConfig;
use crate::param::{ConfigError, LayerDraw, PerNeuron, StepCurrent};

/// A neuron model: what the network builder, the schedule and the protocol
/// need from it as a whole.
pub trait NeuronModel: 'static {
    /// One layer's parameters: the `[layers.<name>]` table of this kind.
    type Config: LayerModel + Serialize + DeserializeOwned + Clone + std::fmt::Debug;
    /// The per-layer parameter component of the model; a world holds a
    /// layer of the model exactly when some entity has it.
    type Params: Component;
    /// Adds the model's systems to the step (its update in
    /// [`crate::step::StepSet::Update`]). Called only for a network
    /// that has a layer of the model.
    fn add_systems(schedule: &mut Schedule);
    /// The model's own per-neuron or per-layer state that the next step
    /// depends on, besides what every model has (voltage, synaptic
    /// variables, spikes): what a resume point saves
    /// ([`crate::resume::state`]); made with
    /// [`state_column!`](crate::state_column).
    const STATE: &'static [crate::resume::state::StateColumn];
    /// Puts every neuron of the model back in its resting state (voltage,
    /// recovery variables, refractory countdowns; the registry zeroes the
    /// synaptic currents of every model); learned state (thresholds) is
    /// kept.
    fn reset(world: &mut World);
}

/// One layer's parameters, as the rest of the simulator sees them.
pub trait LayerModel {
    /// Number of neurons.
    fn size(&self) -> usize;
    /// Sets the number of neurons (a scaled network).
    fn set_size(&mut self, size: usize);
    /// Checks ranges; `key(field)` is the field's dotted config key.
    fn validate(&self, key: &dyn Fn(&str) -> String, dt_ms: f64) -> Result<(), ConfigError>;
    /// The layer's synaptic currents `(name, parameters)` in order:
    /// projections choose one by name with `target`.
    fn synaptic_currents(&self) -> Vec<(String, SynapseConfig)>;
    /// The constant external current: its key (`i_ext`, `i_e_pa`) and
    /// value (one for the layer or per neuron, in the model's units), and
    /// the optional step current.
    fn external(&self) -> (&'static str, &PerNeuron, Option<&StepCurrent>);
    /// The variables `[[record.traces]]` may record from the layer (some,
    /// as the conductances, depend on its config).
    fn recordables(&self) -> Vec<Recordable>;
    /// Inserts the model's parameter components on the layer entity and
    /// spawns its neurons, in index order; returns them, or the error of a
    /// per-neuron parameter (a file that cannot be read, a value out of
    /// range), naming its key.
    fn spawn(&self, at: Spawn<'_>) -> Result<Vec<Entity>, ConfigError>;
}

/// Where a layer is being built.
pub struct Spawn<'w> {
    /// The world under construction.
    pub world: &'w mut World,
    /// The layer entity (it already has its spike lists, input ring and
    /// external current).
    pub layer: Entity,
    /// Position of the layer in the config; keys its random streams.
    pub index: usize,
    /// The run's seed.
    pub seed: u64,
    /// Time step (ms).
    pub dt_ms: f64,
    /// `key(field)` is the dotted key of the layer's field.
    pub key: &'w dyn Fn(&str) -> String,
}

impl Spawn<'_> {
    /// Where the layer's per-neuron parameters are drawn or read.
    pub fn draw(&self, size: usize) -> LayerDraw<'_> {
        LayerDraw {
            key: self.key,
            size,
            layer: self.index,
            seed: self.seed,
        }
    }
}

/// Reads one recorded variable at the end of step `step` for the neurons
/// `(entity, index in the layer)` of the layer entity `layer`, appending one
/// value per neuron to `out`.
pub type ReadFn =
    fn(world: &World, layer: Entity, neurons: &[(Entity, u32)], step: u64, out: &mut Vec<f32>);

/// A variable a model can record, as NEST's recordables: its name in the
/// config and the file, its unit, and how to read it.
#[derive(Clone)]
pub struct Recordable {
    /// Name in `[[record.traces]] vars` and in `/report/<layer>/<name>`.
    pub name: Cow<'static, str>,
    /// The `units` attribute of its data.
    pub units: &'static str,
    /// Reads it.
    pub read: ReadFn,
}

impl std::fmt::Debug for Recordable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.units)
    }
}

/// The recordable variables of a neuron layer, on its layer entity.
/// Written once by the network builder.
#[derive(Component, Debug, Clone)]
pub struct LayerRecordables(pub Vec<Recordable>);

/// Appends `f` of each neuron's component `C` (every recorded neuron has one).
pub fn read_each<C: Component>(
    world: &World,
    neurons: &[(Entity, u32)],
    out: &mut Vec<f32>,
    f: impl Fn(&C) -> f32,
) {
    out.extend(neurons.iter().map(|&(e, _)| {
        f(world
            .get::<C>(e)
            .expect("a recorded neuron has the component"))
    }));
}
