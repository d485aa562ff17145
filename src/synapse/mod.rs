//! Projections (synapse groups) and event-driven delivery (DESIGN §1, step 1).
//!
//! `I_i(n) = Σ_p Σ_k [pre_k spiked at n − d_k, post_k = i] W_k` over the
//! synapses `k` of every projection `p`, each with its delay `d_k >= 1`
//! steps: the projection's one delay `d_p`, or per synapse
//! ([`weights::Delays`]). A spike of step `n−1` is delivered at step `n`:
//! each synapse of its row adds its weight into the post layer's input
//! ring at slot `n − 1 + d_k`, so the work per step is the number of spikes
//! times their fan-out, and a silent network costs nothing here.

pub mod list;
pub mod stdp;
pub mod weights;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use crate::config::{Connectivity, ProjectionConfig};
use crate::layer::LayerSpikes;
use crate::neuron::input::{InputRing, SharedSlot};
use crate::param::ConfigError;
use crate::step::Clock;
use list::ConnectionList;
pub use weights::{Pairs, Weights};

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
    /// Delay of every synapse in steps, >= 1; where the weights hold a
    /// delay per synapse ([`Weights::delays`]), their largest.
    pub delay: u32,
    /// Which synaptic current of the post layer it feeds (its `target`, as an index).
    pub current: usize,
}

/// The weights of projection `index` (its position in the config),
/// `config` from `n_pre` to `n_post` neurons, and their delay in steps
/// ([`Projection::delay`]): drawn by [`Weights::build`] or read from the
/// list file ([`ConnectionList`]), with the delays of the config (`delay`,
/// or `delay_ms` drawn per synapse by [`Weights::draw_delays`]), else of
/// the file. `key` names the projection in errors (`projections.<name>`).
pub fn build_weights(
    config: &ProjectionConfig,
    (n_pre, n_post): (usize, usize),
    (dt_ms, seed, index): (f64, u64, u64),
    key: &str,
) -> Result<(Weights, u32), ConfigError> {
    let fixed = config.fixed_delay(dt_ms);
    let (mut w, delay) = match &config.connectivity {
        Connectivity::FromFile { path } => {
            let key = format!("{key}.connectivity.path");
            let list = ConnectionList::read(path, n_pre, n_post, dt_ms, &key)?;
            let file_delays = config.delay.is_none() && config.delay_ms.is_none();
            list.weights(
                config.weights.as_ref(),
                file_delays,
                n_pre,
                (dt_ms, seed, index),
            )
        }
        conn => {
            let pairs = Pairs {
                n_pre,
                n_post,
                same_layer: config.pre == config.post,
            };
            let init = config.weights.as_ref().expect("validated: weights given");
            (Weights::build(conn, init, pairs, seed, index), 1)
        }
    };
    let delay = match (fixed, &config.delay_ms) {
        (Some(d), _) => d,
        (None, Some(d)) => w.draw_delays(d, dt_ms, seed, index),
        (None, None) => delay,
    };
    Ok((w, delay))
}

/// Synaptic events (spike × target pairs) delivered since the start of the run.
#[derive(Resource, Debug, Default, Clone, Copy)]
pub struct DeliveryStats {
    /// Number of weights added into input rings.
    pub synapse_events: u64,
}

/// Adds the weight row of every spike of step `n − 1` into slot
/// `n − 1 + delay` of its projection's post layer (with per-synapse
/// delays, each synapse's weight into slot `n − 1 + d_k`). Projections are
/// visited in creation order and spikes in ascending index, so every sum
/// has a fixed order. Where a projection's step is large enough
/// ([`Weights::worth_splitting`]), its targets are cut into one range per
/// worker thread, filled in parallel (in every slot): each input still
/// gets its weights in that order, so the result does not depend on the
/// number of threads.
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
        let ring = ring.bypass_change_detection();
        let events = w.row_events(pre);
        let split = |len: usize| {
            let parts = rayon::current_num_threads().min(len);
            (parts > 1 && w.worth_splitting(events)).then_some(parts)
        };
        let range = |len: usize, parts: usize, t: usize| len * t / parts..len * (t + 1) / parts;
        if let Some(d) = w.delays() {
            // Slot k holds the input arriving k + 1 steps after the spike.
            let mut slots = ring.slots_mut(clock.step, p.current, d.max as usize);
            let len = slots[0].len();
            if let Some(parts) = split(len) {
                let shared: Vec<SharedSlot> = slots.into_iter().map(SharedSlot::new).collect();
                (0..parts).into_par_iter().for_each(|t| {
                    let r = range(len, parts, t);
                    let mut blocks: Vec<&mut [f32]> = shared
                        .iter()
                        // SAFETY: the parts `r` of different `t` do not overlap.
                        .map(|s| unsafe { s.block(r.clone()) })
                        .collect();
                    w.add_delayed_rows_to(pre, &mut blocks, r.start);
                });
            } else {
                w.add_delayed_rows_to(pre, &mut slots, 0);
            }
        } else {
            let slot = ring.slot_mut(clock.step + p.delay as u64 - 1, p.current);
            if let Some(parts) = split(slot.len()) {
                let shared = SharedSlot::new(slot);
                (0..parts).into_par_iter().for_each(|t| {
                    let r = range(shared.len(), parts, t);
                    // SAFETY: the parts `r` of different `t` do not overlap.
                    let input = unsafe { shared.block(r.clone()) };
                    w.add_rows_to(pre, input, r.start);
                });
            } else {
                w.add_rows(pre, slot);
            }
        }
        stats.synapse_events += events as u64;
    }
}
