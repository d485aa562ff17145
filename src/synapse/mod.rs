//! Projections (synapse groups) and event-driven delivery (DESIGN §1, step 1).
//!
//! `I_i(n) = Σ_p Σ_{j spiked at n − d_p} W_p[j, i]`. A spike of step `n−1`
//! is delivered at step `n`: its weight row is added into the post layer's
//! input ring at slot `n − 1 + d_p`, so the work per step is the number of
//! spikes times their fan-out, and a silent network costs nothing here.

pub mod stdp;
pub mod weights;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use crate::layer::LayerSpikes;
use crate::neuron::input::{InputRing, SharedSlot};
use crate::step::Clock;
pub use weights::Weights;

/// A synapse group from layer `pre` to neuron layer `post`. Written once by the
/// network builder.
#[derive(Component, Debug, Clone)]
pub struct Projection {
    /// Name from the config (`[projections.<name>]`).
    pub name: String,
    /// Presynaptic layer entity.
    pub pre: Entity,
    /// Postsynaptic layer entity.
    pub post: Entity,
    /// Delay in steps, >= 1.
    pub delay: u32,
    /// Which synaptic current of the post layer it feeds (its `target`, as an index).
    pub current: usize,
}

/// Synaptic events (spike × target pairs) delivered since the start of the run.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct DeliveryStats {
    /// Number of weights added into input rings.
    pub synapse_events: u64,
}

/// Adds the weight row of every spike of step `n − 1` into slot
/// `n − 1 + delay` of its projection's post layer. Projections are visited
/// in creation order and spikes in ascending index, so every sum has a
/// fixed order. Where a projection's step is large enough
/// ([`Weights::worth_splitting`]), its targets are cut into one range per
/// worker thread, filled in parallel: each input still gets its weights in
/// that order, so the result does not depend on the number of threads.
pub fn deliver(
    clock: Res<Clock>,
    mut stats: ResMut<DeliveryStats>,
    projections: Query<(&Projection, &Weights)>,
    spikes: Query<&LayerSpikes>,
    mut rings: Query<&mut InputRing>,
) {
    for (p, w) in &projections {
        let pre = &spikes.get(p.pre).expect("pre layer").previous;
        if pre.is_empty() {
            continue;
        }
        let mut ring = rings.get_mut(p.post).expect("post layer has an input ring");
        let slot = ring
            .bypass_change_detection()
            .slot_mut(clock.step + p.delay as u64 - 1, p.current);
        let events = w.row_events(pre);
        let parts = rayon::current_num_threads().min(slot.len());
        if parts > 1 && w.worth_splitting(events) {
            let shared = SharedSlot::new(slot);
            (0..parts).into_par_iter().for_each(|t| {
                let r = shared.len() * t / parts..shared.len() * (t + 1) / parts;
                // SAFETY: the parts `r` of different `t` do not overlap.
                let input = unsafe { shared.block(r.clone()) };
                w.add_rows_to(pre, input, r.start);
            });
        } else {
            w.add_rows(pre, slot);
        }
        stats.synapse_events += events as u64;
    }
}
