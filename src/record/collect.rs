//! The recorder: copies spikes and traces into blocks for the writer thread.
//!
//! It samples at the end of a step (the `Record` set runs last): voltages are
//! after reset, thresholds after this step's adaptation, spikes are those
//! emitted at this step. Every `block_steps` steps the buffers are sealed into
//! [`Block`]s, which the runner hands to the [`super::writer::Writer`]; so
//! memory holds at most one block per layer and trace, whatever the run's length.

use bevy_ecs::prelude::*;

use super::writer::{Block, TraceSpec};
use crate::config::TraceVar;
use crate::layer::LayerSpikes;
use crate::neuron::{Current, Voltage};
use crate::schedule::Clock;
use crate::threshold::{LayerThreshold, Threshold};

/// One recorded variable of chosen neurons of one layer.
#[derive(Debug)]
pub struct TraceProbe {
    /// What is recorded, where, how often (also the writer's description).
    pub spec: TraceSpec,
    /// Which variable.
    pub var: TraceVar,
    /// The layer entity.
    pub layer: Entity,
    /// The recorded neuron entities, in `spec.node_ids` order.
    pub neurons: Vec<Entity>,
    /// Frames since the last seal, row-major frames × neurons.
    pub data: Vec<f32>,
}

/// Spikes of one layer since the last seal.
#[derive(Debug, Default)]
struct SpikeBuffer {
    steps: Vec<u64>,
    node_ids: Vec<u64>,
}

/// Recording state. Written by `record`; drained by the runner.
#[derive(Resource, Debug)]
pub struct Recorder {
    block_steps: u64,
    /// Layer entities whose spikes are recorded (the writer's layer order).
    spike_layers: Vec<Entity>,
    spikes: Vec<SpikeBuffer>,
    /// The trace probes (the writer's trace order).
    pub traces: Vec<TraceProbe>,
    ready: Vec<Block>,
}

impl Recorder {
    /// A recorder of the spikes of `spike_layers` and of `traces`, sealing a
    /// block every `block_steps` steps.
    pub fn new(block_steps: u64, spike_layers: Vec<Entity>, traces: Vec<TraceProbe>) -> Self {
        Self {
            block_steps,
            spikes: spike_layers
                .iter()
                .map(|_| SpikeBuffer::default())
                .collect(),
            spike_layers,
            traces,
            ready: Vec::new(),
        }
    }

    /// Moves everything buffered into sealed blocks.
    pub fn seal(&mut self) {
        for (layer, buf) in self.spikes.iter_mut().enumerate() {
            if !buf.steps.is_empty() {
                let b = std::mem::take(buf);
                self.ready.push(Block::Spikes {
                    layer,
                    steps: b.steps,
                    node_ids: b.node_ids,
                });
            }
        }
        for (trace, t) in self.traces.iter_mut().enumerate() {
            if !t.data.is_empty() {
                self.ready.push(Block::Trace {
                    trace,
                    data: std::mem::take(&mut t.data),
                });
            }
        }
    }

    /// The sealed blocks, oldest first; the recorder keeps none.
    pub fn take_ready(&mut self) -> Vec<Block> {
        std::mem::take(&mut self.ready)
    }
}

/// End of step: append this step's spikes and due trace samples.
pub fn record(
    clock: Res<Clock>,
    mut rec: ResMut<Recorder>,
    spikes: Query<&LayerSpikes>,
    neurons: Query<(&Voltage, &Current, &Threshold)>,
    sigmas: Query<&LayerThreshold>,
) {
    let n = clock.step;
    let rec = rec.bypass_change_detection();
    for (&layer, buf) in rec.spike_layers.iter().zip(&mut rec.spikes) {
        let s = &spikes.get(layer).expect("recorded layer").current;
        buf.steps.extend(std::iter::repeat_n(n, s.len()));
        buf.node_ids.extend(s.iter().map(|&i| i as u64));
    }
    for t in &mut rec.traces {
        if !n.is_multiple_of(t.spec.every) {
            continue;
        }
        let sigma = sigmas.get(t.layer).expect("LIF layer").sigma;
        t.data.extend(t.neurons.iter().map(|&e| {
            let (v, j, th) = neurons.get(e).expect("LIF neuron");
            match t.var {
                TraceVar::Voltage => v.0,
                TraceVar::Current => j.0,
                TraceVar::Threshold => sigma + th.theta,
            }
        }));
    }
    if (n + 1).is_multiple_of(rec.block_steps) {
        rec.seal();
    }
}
