//! Finding a network that has blown up: non-finite voltages or synaptic
//! currents (an unstable `dt`, huge parameters). The run loop looks every
//! [`CHECK_EVERY`] steps and at the end, so the cost is one pass over the
//! state per that many steps.

use bevy_ecs::prelude::*;

use super::Voltage;
use super::synaptic::{Current, Current2};
use crate::layer::{InLayer, Layer};

/// Steps between two looks at the state.
pub const CHECK_EVERY: u64 = 1000;

/// Where the state first stopped being finite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the network blew up: layer '{layer}', neuron {neuron}: {var} is not finite after step {step} (an unstable dt_ms or extreme parameters?)"
)]
pub struct NonFinite {
    /// The layer's name.
    pub layer: String,
    /// The variable (`voltage`, `current`).
    pub var: &'static str,
    /// The neuron's index in its layer.
    pub neuron: u32,
    /// The last step done.
    pub step: u64,
}

/// The first neuron (in table order) whose voltage or synaptic current is
/// NaN or infinite, if any; `step` is the number of steps done.
pub fn first_non_finite(world: &mut World, step: u64) -> Option<NonFinite> {
    let mut q = world.query::<(&InLayer, &Voltage, &Current, Option<&Current2>)>();
    let (at, var) = q.iter(world).find_map(|(at, v, j, j2)| {
        let var = if !v.0.is_finite() {
            "voltage"
        } else if !j.0.is_finite() || j2.is_some_and(|j2| !j2.0.is_finite()) {
            "current"
        } else {
            return None;
        };
        Some((*at, var))
    })?;
    let layer = world.get::<Layer>(at.layer).expect("a neuron's layer");
    Some(NonFinite {
        layer: layer.name.clone(),
        var,
        neuron: at.index,
        step,
    })
}
