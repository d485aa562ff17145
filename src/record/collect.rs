//! The recorder: copies what the config asks for into batches for the writer.
//!
//! It samples at the end of a step (the `Record` set runs last): voltages are
//! after reset, thresholds after this step's adaptation, spikes are those
//! emitted at this step, `input` is the input this step integrated. The
//! buffers are sealed into [`Batch`]s every `block_steps` steps or as soon as
//! they hold [`MAX_BATCH_BYTES`], and the run loop hands the batches to the
//! [`super::writer::Writer`]; so memory holds at most about one batch,
//! whatever the run's length.

use bevy_ecs::prelude::*;

use super::batch::{Batch, Values, column};
use super::layout::Layout;
use crate::layer::LayerSpikes;
use crate::neuron::model::ReadFn;
use crate::step::Clock;
use crate::stimulus::Stimulus;
use crate::synapse::Weights;

/// Bytes buffered before the recorder seals a batch early.
pub const MAX_BATCH_BYTES: usize = 4 << 20;

/// Spikes of one layer inside a window of steps.
#[derive(Debug)]
pub struct SpikeProbe {
    /// The layer entity.
    pub layer: Entity,
    /// Window of steps `[first, end)`.
    pub window: (u64, u64),
    steps: Vec<u64>,
    node_ids: Vec<u64>,
}

impl SpikeProbe {
    /// Records the spikes of `layer` at steps in `window`.
    pub fn new(layer: Entity, window: (u64, u64)) -> Self {
        Self {
            layer,
            window,
            steps: Vec::new(),
            node_ids: Vec::new(),
        }
    }
}

/// One variable of chosen neurons of one layer, at steps
/// `window.0 + k·every` below `window.1`.
#[derive(Debug)]
pub struct TraceProbe {
    /// How to read the variable (its model's [`crate::neuron::Recordable`]).
    pub read: ReadFn,
    /// The layer entity.
    pub layer: Entity,
    /// The recorded neurons (entity, index in the layer), in the order of
    /// the writer's node ids.
    pub neurons: Vec<(Entity, u32)>,
    /// Window of steps `[first, end)`.
    pub window: (u64, u64),
    /// Sampling period in steps.
    pub every: u64,
    data: Vec<f32>,
}

impl TraceProbe {
    /// A probe of `var` on `neurons` of `layer`.
    pub fn new(
        read: ReadFn,
        layer: Entity,
        neurons: Vec<(Entity, u32)>,
        window: (u64, u64),
        every: u64,
    ) -> Self {
        Self {
            read,
            layer,
            neurons,
            window,
            every,
            data: Vec::new(),
        }
    }
}

/// Spike counts of one layer per bin of `bin_steps` steps.
#[derive(Debug)]
pub struct RateProbe {
    /// The layer entity.
    pub layer: Entity,
    /// Bin width in steps.
    pub bin_steps: u64,
    bin: u64,
    counts: Vec<u64>,
}

impl RateProbe {
    /// Counts the spikes of `layer` in bins of `bin_steps`.
    pub fn new(layer: Entity, bin_steps: u64) -> Self {
        Self {
            layer,
            bin_steps,
            bin: 0,
            counts: Vec::new(),
        }
    }
}

/// Snapshots of one projection's weights.
#[derive(Debug)]
pub struct WeightProbe {
    /// The projection entity.
    pub projection: Entity,
    /// Snapshot period in steps (a whole number of samples), if periodic.
    pub every_steps: Option<u64>,
    last: Option<u64>,
}

impl WeightProbe {
    /// Snapshots of `projection`, also every `every_steps` steps if given.
    pub fn new(projection: Entity, every_steps: Option<u64>) -> Self {
        Self {
            projection,
            every_steps,
            last: None,
        }
    }
}

/// Per-sample results: which image, its label, when, and spike counts per neuron.
#[derive(Debug)]
pub struct SampleProbe {
    /// The counted layers and their sizes.
    pub layers: Vec<(Entity, usize)>,
    running: Vec<Vec<u32>>,
    index: Vec<u64>,
    label: Vec<u8>,
    start_step: Vec<u64>,
    counts: Vec<Vec<u32>>,
}

impl SampleProbe {
    /// Counts spikes of `layers` (entity, size) per sample.
    pub fn new(layers: Vec<(Entity, usize)>) -> Self {
        Self {
            running: layers.iter().map(|&(_, n)| vec![0; n]).collect(),
            counts: layers.iter().map(|_| Vec::new()).collect(),
            layers,
            index: Vec::new(),
            label: Vec::new(),
            start_step: Vec::new(),
        }
    }
}

/// Recording state. Written by `record`; drained by the run loop.
#[derive(Resource, Debug)]
pub struct Recorder {
    /// What the file holds (handed to the writer); probe `k` of a kind is
    /// entry `k` of the layout's list of that kind.
    pub layout: Layout,
    block_steps: u64,
    steps_buffered: u64,
    bytes_buffered: usize,
    spikes: Vec<SpikeProbe>,
    traces: Vec<TraceProbe>,
    rates: Vec<RateProbe>,
    weights: Vec<WeightProbe>,
    samples: Option<SampleProbe>,
    ready: Vec<Batch>,
}

impl Recorder {
    /// A recorder of these probes; `layout` describes them in the same order.
    pub fn new(
        layout: Layout,
        block_steps: u64,
        spikes: Vec<SpikeProbe>,
        traces: Vec<TraceProbe>,
        rates: Vec<RateProbe>,
        weights: Vec<WeightProbe>,
        samples: Option<SampleProbe>,
    ) -> Self {
        Self {
            layout,
            block_steps,
            steps_buffered: 0,
            bytes_buffered: 0,
            spikes,
            traces,
            rates,
            weights,
            samples,
            ready: Vec::new(),
        }
    }

    /// Whether the step-by-step record has nothing to do: no spike, trace,
    /// rate or sample probe, and no weight probe with a period (weights at
    /// the end of a run are taken by the runner, not by [`record`]).
    pub fn is_idle(&self) -> bool {
        self.spikes.is_empty()
            && self.traces.is_empty()
            && self.rates.is_empty()
            && self.samples.is_none()
            && self.weights.iter().all(|p| p.every_steps.is_none())
    }

    /// Moves everything buffered, the records of the steps before
    /// `steps_done`, into sealed batches, followed by a
    /// [`Batch::Through`] mark.
    pub fn seal(&mut self, steps_done: u64) {
        for (layer, p) in self.spikes.iter_mut().enumerate() {
            if !p.steps.is_empty() {
                let (steps, node_ids) = (
                    std::mem::take(&mut p.steps),
                    std::mem::take(&mut p.node_ids),
                );
                self.ready.push(Batch::Spikes {
                    layer,
                    steps,
                    node_ids,
                });
            }
        }
        for (trace, p) in self.traces.iter_mut().enumerate() {
            if !p.data.is_empty() {
                self.ready.push(Batch::Trace {
                    trace,
                    data: std::mem::take(&mut p.data),
                });
            }
        }
        for (rate, p) in self.rates.iter_mut().enumerate() {
            if !p.counts.is_empty() {
                self.ready.push(Batch::Rates {
                    rate,
                    counts: std::mem::take(&mut p.counts),
                });
            }
        }
        if let Some(s) = &mut self.samples
            && !s.index.is_empty()
        {
            self.ready.push(Batch::Samples {
                index: std::mem::take(&mut s.index),
                label: std::mem::take(&mut s.label),
                start_step: std::mem::take(&mut s.start_step),
                counts: s.counts.iter_mut().map(std::mem::take).collect(),
            });
        }
        self.ready.push(Batch::Through { steps_done });
        self.steps_buffered = 0;
        self.bytes_buffered = 0;
    }

    /// What the recorder carries from one step to the next besides sealed
    /// data ([`crate::resume::state`]): each rate's partial bin, each sample
    /// layer's counts of the sample so far, each weight probe's last
    /// snapshot (`u64::MAX`: none). Call it after [`seal`](Recorder::seal).
    pub fn resume_state(&self) -> Vec<(String, Values)> {
        let running = self.samples.iter().flat_map(|s| s.running.iter().flatten());
        vec![
            (
                "recorder_rate_bins".to_owned(),
                Values::U64(self.rates.iter().map(|p| p.bin).collect()),
            ),
            (
                "recorder_sample_counts".to_owned(),
                Values::U32(running.copied().collect()),
            ),
            (
                "recorder_weight_last".to_owned(),
                Values::U64(
                    self.weights
                        .iter()
                        .map(|p| p.last.unwrap_or(u64::MAX))
                        .collect(),
                ),
            ),
        ]
    }

    /// Restores [`resume_state`](Recorder::resume_state) from `columns`.
    pub fn restore_resume_state(&mut self, columns: &[(String, Values)]) -> Result<(), String> {
        let get = |name: &str| column(columns, name);
        let mismatch = |name: &str| format!("column '{name}' does not fit this recording");
        match get("recorder_rate_bins")? {
            Values::U64(bins) if bins.len() == self.rates.len() => {
                for (p, &b) in self.rates.iter_mut().zip(bins) {
                    p.bin = b;
                }
            }
            _ => return Err(mismatch("recorder_rate_bins")),
        }
        let expected: usize = (self.samples.iter())
            .flat_map(|s| s.running.iter().map(Vec::len))
            .sum();
        let running = self
            .samples
            .iter_mut()
            .flat_map(|s| s.running.iter_mut().flatten());
        match get("recorder_sample_counts")? {
            Values::U32(counts) if counts.len() == expected => {
                for (c, &v) in running.zip(counts) {
                    *c = v;
                }
            }
            _ => return Err(mismatch("recorder_sample_counts")),
        }
        match get("recorder_weight_last")? {
            Values::U64(last) if last.len() == self.weights.len() => {
                for (p, &l) in self.weights.iter_mut().zip(last) {
                    p.last = (l != u64::MAX).then_some(l);
                }
            }
            _ => return Err(mismatch("recorder_weight_last")),
        }
        Ok(())
    }

    /// The sealed batches, oldest first; the recorder keeps none.
    pub fn take_ready(&mut self) -> Vec<Batch> {
        std::mem::take(&mut self.ready)
    }

    /// Queues a snapshot, after `steps_done` steps, of every recorded
    /// projection for which `due` holds, unless one was already taken then.
    pub fn snapshot_weights(
        &mut self,
        steps_done: u64,
        due: impl Fn(&WeightProbe) -> bool,
        weights: impl Fn(Entity) -> Vec<f32>,
    ) {
        for (k, p) in self.weights.iter_mut().enumerate() {
            if due(p) && p.last != Some(steps_done) {
                p.last = Some(steps_done);
                self.ready.push(Batch::Weights {
                    weights: k,
                    steps_done,
                    data: weights(p.projection),
                });
            }
        }
    }
}

/// A copy of projection `e`'s weights, in storage order.
pub fn weight_values(world: &World, e: Entity) -> Vec<f32> {
    world
        .get::<Weights>(e)
        .expect("projection")
        .values()
        .to_vec()
}

/// End of step: append what is due. An exclusive system: each trace's
/// variable is read by its model's reader, from whatever components the
/// model has.
pub fn record(world: &mut World) {
    world.resource_scope(|world, mut rec: Mut<Recorder>| {
        collect(world, rec.bypass_change_detection());
    });
}

fn collect(world: &World, rec: &mut Recorder) {
    let n = world.resource::<Clock>().step;
    let spikes_of = |layer: Entity| &world.get::<LayerSpikes>(layer).expect("layer").current;
    let mut bytes = 0;
    for p in &mut rec.spikes {
        if (p.window.0..p.window.1).contains(&n) {
            let s = spikes_of(p.layer);
            p.steps.extend(std::iter::repeat_n(n, s.len()));
            p.node_ids.extend(s.iter().map(|&i| i as u64));
            bytes += 16 * s.len();
        }
    }
    for p in &mut rec.traces {
        if n < p.window.0 || n >= p.window.1 || !(n - p.window.0).is_multiple_of(p.every) {
            continue;
        }
        (p.read)(world, p.layer, &p.neurons, n, &mut p.data);
        bytes += 4 * p.neurons.len();
    }
    for p in &mut rec.rates {
        p.bin += spikes_of(p.layer).len() as u64;
        if (n + 1).is_multiple_of(p.bin_steps) {
            p.counts.push(std::mem::take(&mut p.bin));
            bytes += 8;
        }
    }
    if let (Some(s), Some(stim)) = (&mut rec.samples, world.get_resource::<Stimulus>()) {
        for ((layer, _), running) in s.layers.iter().zip(&mut s.running) {
            for &i in spikes_of(*layer) {
                running[i as usize] += 1;
            }
        }
        let period = stim.period();
        if (n + 1).is_multiple_of(period) {
            let k = n / period;
            let index = k % stim.count as u64;
            s.index.push(index);
            s.label.push(stim.images.labels[index as usize]);
            s.start_step.push(k * period);
            for (running, counts) in s.running.iter_mut().zip(&mut s.counts) {
                counts.extend_from_slice(running);
                bytes += 4 * running.len();
                running.fill(0);
            }
        }
    }
    rec.snapshot_weights(
        n + 1,
        |p| p.every_steps.is_some_and(|k| (n + 1).is_multiple_of(k)),
        |e| weight_values(world, e),
    );
    rec.steps_buffered += 1;
    rec.bytes_buffered += bytes;
    if rec.steps_buffered >= rec.block_steps || rec.bytes_buffered >= MAX_BATCH_BYTES {
        rec.seal(n + 1);
    }
}
