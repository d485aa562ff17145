//! The step: system sets and their one ordering.
//!
//! `Encode -> Deliver -> Update -> Adapt -> Learn -> Record`, run once per step by a
//! single-threaded executor; parallelism lives inside the per-neuron systems
//! (see [`PARALLEL_MIN`]), which iterate component columns chunk by chunk,
//! and inside delivery (see [`crate::synapse::deliver`]).
//! DESIGN's `Integrate -> Fire -> Adapt` are fused into `Update` for the
//! per-neuron part (one pass over memory instead of three); the global
//! threshold, which needs the whole layer's spike count, stays in `Adapt`. Delivery reads only spikes of
//! earlier steps (every delay is at least one step), so no layer waits for
//! another within a step. `Learn` (STDP) sees every spike of the step.
//! A network without STDP, global thresholds, recorded input or anything
//! recorded step by step gets no system for them (see [`build`]): the sets
//! stay, empty.

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::SingleThreadedExecutor;

use crate::record::collect::Recorder;
use crate::synapse::{InputRing, stdp::Stdp};
use crate::threshold::ThresholdParams;
use crate::{encoder, neuron, protocol, record, synapse, threshold};

/// The simulation clock: step `n` of the run; `t = n * dt_ms`.
/// Written by the runner between steps.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Clock {
    /// Index of the step being computed (0-based).
    pub step: u64,
    /// Time step in ms.
    pub dt_ms: f64,
}

/// Rows below this count are updated by one thread: below it, the cost of
/// handing work to another thread (a few µs) exceeds the work (about 1 ns a
/// neuron). Results are identical either way.
pub const PARALLEL_MIN: usize = 4096;

/// Rows of component column slices that can be cut in two, so that a
/// kernel can run on parts of a table in parallel.
pub trait Rows: Send + Sized {
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether there are no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The first `mid` rows and the rest.
    fn split_at(self, mid: usize) -> (Self, Self);
}

/// Runs `kernel(spikes, rows)`: directly below [`PARALLEL_MIN`] rows, else
/// split into one part per worker thread of the current rayon pool, run in
/// parallel. Spikes the kernel pushes gather in `spikes`, in an order that
/// depends on the split; [`crate::layer::publish_spikes`] sorts them.
/// Results do not depend on the number of threads: each row is computed on
/// its own.
pub fn for_rows<R: Rows>(
    rows: R,
    spikes: &mut Vec<(Entity, u32)>,
    kernel: &(impl Fn(&mut Vec<(Entity, u32)>, R) + Sync),
) {
    let parts = rayon::current_num_threads()
        .min(rows.len() / PARALLEL_MIN)
        .max(1);
    split_rows(rows, parts, spikes, kernel);
}

/// Runs `kernel` on `parts` nearly equal parts of `rows`, in parallel.
fn split_rows<R: Rows>(
    rows: R,
    parts: usize,
    spikes: &mut Vec<(Entity, u32)>,
    kernel: &(impl Fn(&mut Vec<(Entity, u32)>, R) + Sync),
) {
    if parts <= 1 {
        kernel(spikes, rows);
        return;
    }
    let left = parts / 2;
    let mid = rows.len() * left / parts;
    let (a, b) = rows.split_at(mid);
    let mut right = Vec::new();
    rayon::join(
        || split_rows(a, left, spikes, kernel),
        || split_rows(b, parts - left, &mut right, kernel),
    );
    spikes.append(&mut right);
}

/// The phases of a step, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepSet {
    /// Present the stimulus; swap spike buffers and draw encoder spikes.
    Encode,
    /// Add the weight rows of earlier spikes into the input ring buffers.
    Deliver,
    /// Per LIF neuron: currents, voltage, threshold crossing, reset,
    /// refractory, individual threshold adaptation (one fused pass).
    Update,
    /// Global threshold adaptation from the layer's spike count.
    Adapt,
    /// Plasticity (STDP) from this step's spikes.
    Learn,
    /// Copy spikes and traces into the recorder's blocks.
    Record,
}

/// Builds the schedule of one step for the network in `world`. A system
/// that could only ever return at once for this network is left out: STDP
/// without STDP projections, global adaptation without a layer that has it,
/// clearing kept input without a layer whose input is recorded, recording
/// when nothing is recorded step by step (each costs 460–800 instructions a
/// step: 2–4% of W1 at N = 100).
pub fn build(world: &mut World) -> Schedule {
    let stdp = world.query::<&Stdp>().iter(world).next().is_some();
    let global = world
        .query::<&ThresholdParams>()
        .iter(world)
        .any(|p| p.global.is_some());
    let kept_input = world
        .query::<&InputRing>()
        .iter(world)
        .any(|r| r.keep_consumed);
    let idle_recorder = world.resource::<Recorder>().is_idle();
    let mut s = Schedule::default();
    s.set_executor(SingleThreadedExecutor::new());
    s.configure_sets(
        (
            StepSet::Encode,
            StepSet::Deliver,
            StepSet::Update,
            StepSet::Adapt,
            StepSet::Learn,
            StepSet::Record,
        )
            .chain(),
    );
    s.add_systems(
        (protocol::present, encoder::encode)
            .chain()
            .in_set(StepSet::Encode),
    );
    if kept_input {
        s.add_systems(
            synapse::clear_consumed_input
                .before(protocol::present)
                .in_set(StepSet::Encode),
        );
    }
    s.add_systems(synapse::deliver.in_set(StepSet::Deliver));
    s.add_systems(neuron::update.in_set(StepSet::Update));
    if global {
        s.add_systems(threshold::adapt_global.in_set(StepSet::Adapt));
    }
    if stdp {
        s.add_systems(synapse::stdp::learn.in_set(StepSet::Learn));
    }
    if !idle_recorder {
        s.add_systems(record::collect::record.in_set(StepSet::Record));
    }
    s
}
