//! Layer entities and the components every neuron of a layer carries.

use bevy_ecs::prelude::*;

/// A layer entity's identity. Written once by the network builder.
#[derive(Component, Debug)]
pub struct Layer {
    /// Name from the config (`[layers.<name>]`).
    pub name: String,
    /// Position of the layer in the config (0-based); keys its random streams.
    pub index: usize,
    /// The neuron entities of the layer, by neuron index.
    pub members: Vec<Entity>,
}

/// Which layer a neuron (LIF or encoder) belongs to, and its index there.
/// Written once by the network builder.
#[derive(Component, Debug, Clone, Copy)]
pub struct InLayer {
    /// The layer entity.
    pub layer: Entity,
    /// Index of the neuron in its layer, `0..size`; the SONATA node id.
    pub index: u32,
}

/// Whether the neuron spiked this step. Written by `encode` (encoders) and
/// `fire` (LIF neurons).
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Spiked(pub bool);

/// A layer's spikes, double-buffered: `current` is this step's list (node
/// indices, ascending), `previous` last step's. Swapped by `begin_step`,
/// filled by `collect_spikes`, read by delivery (`previous`), threshold
/// adaptation and recording (`current`).
#[derive(Component, Debug, Default)]
pub struct LayerSpikes {
    /// Spikes emitted at step `n - 1`.
    pub previous: Vec<u32>,
    /// Spikes emitted at step `n`.
    pub current: Vec<u32>,
}

/// Start of a step: last step's spikes become `previous`.
pub fn swap_spike_buffers(mut layers: Query<&mut LayerSpikes>) {
    for mut s in &mut layers {
        let s = s.bypass_change_detection();
        std::mem::swap(&mut s.previous, &mut s.current);
        s.current.clear();
    }
}

/// Gathers the `Spiked` flags of every neuron into its layer's `current` list.
/// Neurons are iterated in spawn order, which is index order within a layer,
/// so each list comes out ascending.
pub fn collect_spikes(neurons: Query<(&InLayer, &Spiked)>, mut layers: Query<&mut LayerSpikes>) {
    for (at, spiked) in &neurons {
        if spiked.0 {
            let mut s = layers.get_mut(at.layer).expect("neuron's layer exists");
            s.bypass_change_detection().current.push(at.index);
        }
    }
}
