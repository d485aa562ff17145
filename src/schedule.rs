//! The step: system sets and their one ordering.
//!
//! `Encode -> Deliver -> Update -> Adapt -> Learn -> Record`, run once per step by a
//! single-threaded executor; parallelism lives inside the per-neuron systems
//! (see [`crate::step::PARALLEL_MIN`]), which iterate component columns chunk by chunk,
//! and inside delivery (see [`crate::synapse::deliver`]).
//! DESIGN's `Integrate -> Fire -> Adapt` are fused into `Update` for the
//! per-neuron part (one pass over memory instead of three); the global
//! threshold, which needs the whole layer's spike count, stays in `Adapt`. Delivery reads only spikes of
//! earlier steps (every delay is at least one step), so no layer waits for
//! another within a step. `Learn` (STDP) sees every spike of the step.
//! A network gets only the systems it can use (see [`build`]); the sets
//! stay, possibly empty.

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;

use crate::generator::{self, Generators};
use crate::neuron::input::{self, InputRing};
use crate::neuron::lif::threshold::{self, ThresholdParams};
use crate::poisson_input::{self, PoissonInput};
use crate::record::collect::Recorder;
use crate::spike_file::{self, SpikeTrains};
use crate::step::StepSet;
use crate::stimulus::{self, Stimulus};
use crate::synapse::stdp::Stdp;
use crate::timings::{self, StageTimes};
use crate::{encoder, neuron, record, synapse};

/// Builds the schedule of one step for the network in `world` (with the
/// lap systems of [`timings`] when the world has [`StageTimes`]). A system
/// that could only ever return at once for this network is left out: STDP
/// without STDP projections, global adaptation without a layer that has it,
/// clearing kept input without a layer whose input is recorded, recording
/// when nothing is recorded step by step, a model's update without a layer
/// of the model, resets between images unless the stimulus asks for them,
/// replaying spike files without a spike-file layer, current generators
/// without a generator (even an idle system costs hundreds of
/// instructions a step).
pub fn build(world: &mut World) -> Schedule {
    let timed = world.contains_resource::<StageTimes>();
    let stdp = world.query::<&Stdp>().iter(world).next().is_some();
    let poisson_inputs = world.query::<&PoissonInput>().iter(world).next().is_some();
    let global = world
        .query::<&ThresholdParams>()
        .iter(world)
        .any(|p| p.global.is_some());
    let kept_input = world
        .query::<&InputRing>()
        .iter(world)
        .any(|r| r.keep_consumed);
    let idle_recorder = world.resource::<Recorder>().is_idle();
    let spike_files = world.query::<&SpikeTrains>().iter(world).next().is_some();
    let generators = world.contains_resource::<Generators>();
    let reset_between = world
        .get_resource::<Stimulus>()
        .is_some_and(|s| s.reset_between);
    let mut s = Schedule::default();
    s.set_executor(SingleThreadedExecutor::new());
    for pair in StepSet::ALL.windows(2) {
        s.configure_sets(pair[0].before(pair[1]));
    }
    s.add_systems(
        (stimulus::present, encoder::encode)
            .chain()
            .in_set(StepSet::Encode),
    );
    if spike_files {
        s.add_systems(
            spike_file::emit
                .after(encoder::encode)
                .in_set(StepSet::Encode),
        );
    }
    if reset_between {
        s.add_systems(
            stimulus::reset_between_images
                .after(stimulus::present)
                .before(encoder::encode)
                .in_set(StepSet::Encode),
        );
    }
    if kept_input {
        s.add_systems(
            input::clear_consumed_input
                .before(stimulus::present)
                .in_set(StepSet::Encode),
        );
    }
    s.add_systems(synapse::deliver.in_set(StepSet::Deliver));
    if poisson_inputs {
        s.add_systems(
            poisson_input::drive
                .after(synapse::deliver)
                .in_set(StepSet::Deliver),
        );
    }
    // Generators add after Poisson inputs, so each sum has one order.
    match (generators, poisson_inputs) {
        (true, true) => s.add_systems(
            generator::inject
                .after(poisson_input::drive)
                .in_set(StepSet::Deliver),
        ),
        (true, false) => s.add_systems(
            generator::inject
                .after(synapse::deliver)
                .in_set(StepSet::Deliver),
        ),
        (false, _) => &mut s,
    };
    neuron::add_systems(&mut s, world);
    if global {
        s.add_systems(threshold::adapt_global.in_set(StepSet::Adapt));
    }
    if stdp {
        s.add_systems(synapse::stdp::learn.in_set(StepSet::Learn));
    }
    if !idle_recorder {
        s.add_systems(record::collect::record.in_set(StepSet::Record));
    }
    if timed {
        timings::add_laps(&mut s);
    }
    s
}
