//! The step: system sets and their one ordering.
//!
//! `Encode -> Deliver -> Integrate -> Fire -> Adapt -> Record`, run once per
//! step by a single-threaded executor; parallelism lives inside the
//! per-neuron systems (see [`PARALLEL_MIN`]). Delivery reads only spikes of
//! earlier steps (every delay is at least one step), so no layer waits for
//! another within a step. A `Learn` set (plasticity) will sit between
//! `Adapt` and `Record` once plasticity exists.

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;

use crate::{encoder, layer, neuron, protocol, record, synapse, threshold};

/// The simulation clock: step `n` of the run; `t = n * dt_ms`.
/// Written by the runner between steps.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Clock {
    /// Index of the step being computed (0-based).
    pub step: u64,
    /// Time step in ms.
    pub dt_ms: f64,
}

/// Layers with fewer neurons than this are updated serially: below it, the
/// cost of spawning parallel tasks (several µs per system per step, DESIGN §2)
/// exceeds the work. Results are identical either way.
pub const PARALLEL_MIN: usize = 4096;

/// Runs `f` over every item of a mutable query: in parallel batches when the
/// query holds at least [`PARALLEL_MIN`] entities, serially otherwise.
macro_rules! for_each_neuron {
    ($query:expr, $count:expr, $f:expr) => {{
        let f = $f;
        if $count < $crate::schedule::PARALLEL_MIN {
            $query.iter_mut().for_each(f)
        } else {
            $query.par_iter_mut().for_each(f)
        }
    }};
}
pub(crate) use for_each_neuron;

/// The phases of a step, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepSet {
    /// Swap spike buffers, present the stimulus, draw encoder spikes.
    Encode,
    /// Add the weight rows of earlier spikes into the input ring buffers.
    Deliver,
    /// Current and voltage Euler steps of LIF neurons.
    Integrate,
    /// Threshold crossing, reset, refractory; collect the spike lists.
    Fire,
    /// Global and individual threshold adaptation.
    Adapt,
    /// Copy spikes and traces into the recorder's blocks.
    Record,
}

/// Builds the schedule of one step.
pub fn build() -> Schedule {
    let mut s = Schedule::default();
    s.set_executor(SingleThreadedExecutor::new());
    s.configure_sets(
        (
            StepSet::Encode,
            StepSet::Deliver,
            StepSet::Integrate,
            StepSet::Fire,
            StepSet::Adapt,
            StepSet::Record,
        )
            .chain(),
    );
    s.add_systems(
        (
            layer::swap_spike_buffers,
            synapse::clear_consumed_input,
            protocol::present,
            encoder::encode,
        )
            .chain()
            .in_set(StepSet::Encode),
    );
    s.add_systems(synapse::deliver.in_set(StepSet::Deliver));
    s.add_systems(neuron::integrate.in_set(StepSet::Integrate));
    s.add_systems(
        (neuron::fire, layer::collect_spikes)
            .chain()
            .in_set(StepSet::Fire),
    );
    s.add_systems((threshold::adapt_global, threshold::adapt_individual).in_set(StepSet::Adapt));
    s.add_systems(record::collect::record.in_set(StepSet::Record));
    s
}
