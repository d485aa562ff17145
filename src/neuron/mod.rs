//! Neuron models, one module each, and the registry that makes a model a
//! layer `kind`.
//!
//! A model ([`model::NeuronModel`]) owns its parameters, components, update
//! system, reset and recordable variables; what models share lives here
//! ([`Voltage`]) and in [`synaptic`] (synaptic currents, external current).
//! Adding a model is a module of its own plus one line in the `models!`
//! list at the end of this file: that line gives the layer `kind`, the
//! variant of [`NeuronConfig`], and the dispatch of validation, spawning,
//! scheduling and resetting.

pub mod adex;
pub mod check;
pub mod driver;
pub mod iaf;
pub mod input;
pub mod izhikevich;
pub mod lif;
pub mod model;
pub mod per_row;
pub mod recordables;
pub mod synaptic;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::Schedule;
use serde::{Deserialize, Serialize};

use crate::param::{ConfigError, Distribution, Values, deserialize_at};
use crate::rng;
pub use model::{LayerModel, NeuronModel, Recordable};

/// Membrane voltage V in mV. Written by the model's update.
#[derive(Component, Debug, Clone, Copy)]
pub struct Voltage(pub f32);

/// Each neuron's initial voltage: drawn from `v_init` in neuron order from
/// the stream `(seed, V_INIT, layer index)`, or its value of `default` (a
/// resting potential, one for the layer or per neuron) without one.
pub fn initial_voltages(
    v_init: Option<&Distribution>,
    default: &Values,
    seed: u64,
    layer_index: usize,
    size: usize,
) -> Vec<f32> {
    let mut vrng = rng::stream(seed, rng::V_INIT, layer_index as u64, 0);
    (0..size)
        .map(|i| match v_init {
            Some(d) => d.sample(&mut vrng) as f32,
            None => default.at(i) as f32,
        })
        .collect()
}

/// Derives the registry from the list of models.
macro_rules! models {
    ($($kind:literal => $variant:ident($model:ty)),* $(,)?) => {
        /// A neuron layer's parameters, by its `kind`.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(tag = "kind")]
        pub enum NeuronConfig {
            $(
                #[doc = concat!("`kind = \"", $kind, "\"`")]
                #[serde(rename = $kind)]
                $variant(<$model as NeuronModel>::Config),
            )*
        }

        impl NeuronConfig {
            /// Every registered `kind`.
            pub const KINDS: &[&str] = &[$($kind),*];

            /// The layer's parameters as the simulator sees them.
            pub fn layer(&self) -> &dyn LayerModel {
                match self {
                    $(NeuronConfig::$variant(c) => c,)*
                }
            }

            /// The layer's parameters, to change (a scaled network).
            pub fn layer_mut(&mut self) -> &mut dyn LayerModel {
                match self {
                    $(NeuronConfig::$variant(c) => c,)*
                }
            }

            /// The layer's `kind`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(NeuronConfig::$variant(_) => $kind,)*
                }
            }

            /// Reads the fields of a layer of `kind` (without `kind`), naming
            /// a bad key under `prefix`; `None` for an unknown kind.
            pub fn check_fields(
                kind: &str,
                fields: toml::Value,
                prefix: &str,
            ) -> Option<Result<(), ConfigError>> {
                match kind {
                    $($kind => Some(
                        deserialize_at::<<$model as NeuronModel>::Config>(fields, prefix).map(drop),
                    ),)*
                    _ => None,
                }
            }
        }

        /// Adds the systems of every model that has a layer in `world`.
        pub fn add_systems(schedule: &mut Schedule, world: &mut World) {
            $(
                if world
                    .query::<&<$model as NeuronModel>::Params>()
                    .iter(world)
                    .next()
                    .is_some()
                {
                    <$model as NeuronModel>::add_systems(schedule);
                }
            )*
        }

        /// The state columns of every model ([`NeuronModel::STATE`]), for
        /// resume points.
        pub const MODEL_STATE: &[&[crate::resume::state::StateColumn]] =
            &[$(<$model as NeuronModel>::STATE),*];

        /// Puts every neuron of every model back at rest, synaptic
        /// currents at 0.
        pub fn reset(world: &mut World) {
            $(<$model as NeuronModel>::reset(world);)*
            driver::reset_currents(world);
        }
    };
}

models! {
    "lif" => Lif(lif::Lif),
    "izhikevich" => Izhikevich(izhikevich::Izhikevich),
    "adex" => Adex(adex::Adex),
    "iaf" => Iaf(iaf::Iaf),
}
