//! What every system of a step shares: the step's sets, the clock, the
//! learning switches, and the splitting of component rows between worker
//! threads. The order of the systems is [`crate::schedule`]'s alone.

use bevy_ecs::prelude::*;

/// The phases of a step, in order.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepSet {
    /// Present the stimulus; swap spike buffers and draw encoder spikes.
    Encode,
    /// Add the weight rows of earlier spikes into the input ring buffers.
    Deliver,
    /// Per neuron, each model's update: synaptic currents, state
    /// variables, threshold crossing and reset (for LIF also refractory and
    /// individual threshold adaptation, in one fused pass).
    Update,
    /// Global threshold adaptation from the layer's spike count.
    Adapt,
    /// Plasticity (STDP) from this step's spikes.
    Learn,
    /// Copy spikes and traces into the recorder's blocks.
    Record,
}

impl StepSet {
    /// Every set, in step order.
    pub const ALL: [StepSet; 6] = [
        StepSet::Encode,
        StepSet::Deliver,
        StepSet::Update,
        StepSet::Adapt,
        StepSet::Learn,
        StepSet::Record,
    ];
}

/// The simulation clock: step `n` of the run; `t = n·dt`. Written by the
/// runner between steps.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Clock {
    /// Index of the step being computed (0-based).
    pub step: u64,
}

/// Whether plasticity and threshold adaptation run (both by default). The
/// protocol switches them off to assign labels and to evaluate. Read by
/// STDP's `learn`, the LIF update and `threshold::adapt_global`.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Plasticity {
    /// STDP on the projections that have it.
    pub stdp: bool,
    /// Global and individual threshold adaptation; when off, σ and θ keep
    /// their values (and still apply).
    pub thresholds: bool,
}

impl Default for Plasticity {
    fn default() -> Self {
        Self {
            stdp: true,
            thresholds: true,
        }
    }
}

/// Tables with fewer rows than twice this are stepped by one thread: a
/// hand-off to another thread costs a few µs, about as much as stepping
/// this many neurons. From `2 · PARALLEL_MIN` rows on, a table is split
/// into `min(threads, rows / PARALLEL_MIN)` parts. Results are identical
/// either way.
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

/// Runs `kernel(spikes, rows)`: directly below `2 ·` [`PARALLEL_MIN`] rows,
/// else split into parts (at most one per worker thread of the current
/// rayon pool) run in parallel. Spikes the kernel pushes gather in
/// `spikes`, in an order that depends on the split;
/// [`crate::layer::publish_spikes`] sorts them. Results do not depend on
/// the number of threads: each row is computed on its own.
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
