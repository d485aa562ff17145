//! Layer entities and the components every neuron of a layer carries.

use bevy_ecs::prelude::*;

/// A layer entity's identity. Written once by the network builder.
#[derive(Component, Debug)]
pub struct Layer {
    /// Name from the config (`[layers.<name>]`).
    pub name: String,
    /// The neuron entities of the layer, by neuron index.
    pub members: Vec<Entity>,
}

/// Which layer a neuron (of any model, or an encoder) belongs to, and its index there.
/// Written once by the network builder.
#[derive(Component, Debug, Clone, Copy)]
pub struct InLayer {
    /// The layer entity.
    pub layer: Entity,
    /// Index of the neuron in its layer, `0..size`; the SONATA node id.
    pub index: u32,
}

/// Whether the neuron spiked this step. Written by `encode` (encoders) and
/// each model's update (neurons).
#[derive(Component, Debug, Default, Clone, Copy)]
pub struct Spiked(pub bool);

/// A layer's spikes, double-buffered: `current` is this step's list (node
/// indices, ascending), `previous` last step's. Swapped by
/// [`swap_spike_buffers`] at the start of `encode`, filled by `encode` and `update` (through
/// [`publish_spikes`]), read by delivery (`previous`), threshold adaptation
/// and recording (`current`).
#[derive(Component, Debug, Default)]
pub struct LayerSpikes {
    /// Spikes emitted at step `n - 1`.
    pub previous: Vec<u32>,
    /// Spikes emitted at step `n`.
    pub current: Vec<u32>,
    /// Spikes emitted since the start of the run.
    pub emitted: u64,
}

/// Start of a step: last step's spikes become `previous`. Called by
/// `encode`, the step's first writer of spikes (one system fewer a step).
pub fn swap_spike_buffers(layers: &mut Query<&mut LayerSpikes>) {
    for mut s in layers {
        let s = s.bypass_change_detection();
        std::mem::swap(&mut s.previous, &mut s.current);
        s.current.clear();
    }
}

/// The runs of consecutive rows of one layer in a column of [`InLayer`].
/// Neurons are spawned layer by layer and never despawned, so each layer's
/// rows are contiguous and a run's end is found by binary search, or at
/// once when the last row is of the same layer (a table of one layer).
pub fn layer_runs(at: &[InLayer]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    std::iter::from_fn(move || {
        let layer = at.get(start)?.layer;
        let rest = &at[start..];
        let len = if rest.last().is_some_and(|a| a.layer == layer) {
            rest.len()
        } else {
            rest.partition_point(|a| a.layer == layer)
        };
        let run = start..start + len;
        start += len;
        Some(run)
    })
}

/// Appends the spikes `(layer, index)` found by a system to their layers'
/// `current` lists, each list ascending whatever order the (possibly
/// parallel) system found them in; empties `fired`.
pub fn publish_spikes(fired: &mut Vec<(Entity, u32)>, lists: &mut Query<&mut LayerSpikes>) {
    // A layer's rows are consecutive and parts come in row order, so a
    // layer's spikes usually come as one ascending run: each run extends
    // its list, which is sorted only when it is not in order.
    let mut rest = &fired[..];
    while let Some(&(layer, _)) = rest.first() {
        let n = rest
            .iter()
            .position(|&(l, _)| l != layer)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let mut list = lists.get_mut(layer).expect("spiking neuron's layer");
        let list = list.bypass_change_detection();
        let start = list.current.len().saturating_sub(1);
        list.current.extend(group.iter().map(|&(_, i)| i));
        if !list.current[start..].is_sorted() {
            list.current.sort_unstable();
        }
        list.emitted += n as u64;
    }
    fired.clear();
}

#[cfg(test)]
mod tests {
    use bevy_ecs::prelude::*;
    use bevy_ecs::system::RunSystemOnce;

    use super::{InLayer, LayerSpikes, layer_runs, publish_spikes};

    #[test]
    fn runs_cover_each_layer_once() {
        // Layers a, b, c in rows 0..3, 3..5, 5..6; one layer alone is one
        // run; no rows, no runs.
        let mut world = World::new();
        let [a, b, c] = [(); 3].map(|_| world.spawn_empty().id());
        let rows = |layers: &[Entity]| -> Vec<InLayer> {
            layers
                .iter()
                .enumerate()
                .map(|(i, &layer)| InLayer {
                    layer,
                    index: i as u32,
                })
                .collect()
        };
        let runs = |at: &[InLayer]| layer_runs(at).collect::<Vec<_>>();
        assert_eq!(runs(&rows(&[a, a, a, b, b, c])), vec![0..3, 3..5, 5..6]);
        assert_eq!(runs(&rows(&[a, a, a, a])), vec![0..4]);
        assert_eq!(runs(&rows(&[a, b])), vec![0..1, 1..2]);
        assert_eq!(runs(&rows(&[])), vec![]);
    }

    #[test]
    fn published_lists_ascend_whatever_the_order_found() {
        // Layer a's spikes in two separate runs (as from two parts), one of
        // them descending; b's after a run already in its list.
        let mut world = World::new();
        let a = world.spawn(LayerSpikes::default()).id();
        let b = world
            .spawn(LayerSpikes {
                current: vec![4],
                ..Default::default()
            })
            .id();
        let fired = vec![(a, 3), (a, 7), (b, 9), (a, 5), (a, 1), (b, 2)];
        world
            .run_system_once(move |mut lists: Query<&mut LayerSpikes>| {
                let mut fired = fired.clone();
                publish_spikes(&mut fired, &mut lists);
                assert!(fired.is_empty());
            })
            .unwrap();
        let a = world.get::<LayerSpikes>(a).unwrap();
        assert_eq!((a.current.as_slice(), a.emitted), (&[1, 3, 5, 7][..], 4));
        let b = world.get::<LayerSpikes>(b).unwrap();
        assert_eq!((b.current.as_slice(), b.emitted), (&[2, 4, 9][..], 2));
    }
}
