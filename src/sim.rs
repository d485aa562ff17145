//! A simulation: the world, its schedule, and the loop that runs it and
//! streams the recorder's blocks to the writer.

use bevy_ecs::prelude::*;
use bevy_tasks::{ComputeTaskPool, TaskPoolBuilder};
use indicatif::ProgressBar;

use crate::config::Config;
use crate::data::ImageSet;
use crate::layer::{Layer, LayerSpikes};
use crate::neuron::{Current, Voltage};
use crate::record::collect::Recorder;
use crate::record::writer::{Block, Layout, RecordError, Writer};
use crate::schedule::{self, Clock};
use crate::synapse::{DeliveryStats, Projection, Weights};
use crate::threshold::{LayerThreshold, Threshold};
use crate::{Error, network};

/// Starts the process-wide compute pool with `requested` threads (0 = all
/// cores) and returns the number it runs with. The pool can be started only
/// once per process; later calls return the first call's count.
pub fn init_threads(requested: usize) -> usize {
    let n = if requested == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        requested
    };
    ComputeTaskPool::get_or_init(|| TaskPoolBuilder::new().num_threads(n).build()).thread_num()
}

/// A network ready to step.
pub struct Simulation {
    world: World,
    schedule: Schedule,
    steps: u64,
}

impl Simulation {
    /// Builds the network of a validated config. `images` are required when
    /// the config has a stimulus (see [`crate::protocol::load_images`]).
    pub fn new(config: &Config, images: Option<ImageSet>) -> Result<Self, Error> {
        init_threads(config.simulation.threads);
        Ok(Self {
            world: network::build(config, images)?,
            schedule: schedule::build(),
            steps: config.steps(),
        })
    }

    /// Steps the run is configured for.
    pub fn total_steps(&self) -> u64 {
        self.steps
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> u64 {
        self.world.resource::<Clock>().step
    }

    /// Advances one step.
    pub fn step(&mut self) {
        self.schedule.run(&mut self.world);
        self.world.resource_mut::<Clock>().step += 1;
    }

    /// Runs the remaining steps, sending blocks to `writer` as they are
    /// sealed, until the end or until `stop()` says so (asked after every
    /// step). Whatever was recorded up to the last step done is sent, so
    /// the writer can close the file as complete or not. Returns whether the
    /// run reached its end.
    pub fn run(
        &mut self,
        writer: &Writer,
        progress: &ProgressBar,
        stop: impl Fn() -> bool,
    ) -> Result<bool, RecordError> {
        self.snapshot_weights();
        while self.steps_done() < self.steps && !stop() {
            self.step();
            for b in self.take_blocks() {
                writer.send(b)?;
            }
            if self.steps_done().is_multiple_of(64) {
                progress.set_position(self.steps_done());
            }
        }
        self.seal();
        self.snapshot_weights();
        for b in self.take_blocks() {
            writer.send(b)?;
        }
        progress.set_position(self.steps_done());
        Ok(self.steps_done() == self.steps)
    }

    /// Blocks sealed by the recorder and not yet taken.
    pub fn take_blocks(&mut self) -> Vec<Block> {
        self.world.resource_mut::<Recorder>().take_ready()
    }

    /// Seals whatever the recorder holds, so that `take_blocks` returns it.
    pub fn seal(&mut self) {
        self.world.resource_mut::<Recorder>().seal();
    }

    /// Queues a snapshot of every recorded projection's weights now
    /// (once per step count).
    pub fn snapshot_weights(&mut self) {
        let steps_done = self.steps_done();
        self.world.resource_scope(|world, mut rec: Mut<Recorder>| {
            rec.snapshot_weights(
                steps_done,
                |_| true,
                |e| {
                    world
                        .get::<Weights>(e)
                        .expect("projection")
                        .values()
                        .to_vec()
                },
            );
        });
    }

    /// What the output file will hold, in the recorder's order.
    pub fn layout(&self) -> &Layout {
        &self.world.resource::<Recorder>().layout
    }

    /// Synaptic events delivered so far (spikes × fan-out).
    pub fn synapse_events(&self) -> u64 {
        self.world.resource::<DeliveryStats>().synapse_events
    }

    /// The weights of a projection.
    pub fn weights(&mut self, projection: &str) -> Weights {
        let mut q = self.world.query::<(&Projection, &Weights)>();
        q.iter(&self.world)
            .find(|(p, _)| p.name == projection)
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| panic!("no projection '{projection}'"))
    }

    fn layer(&mut self, name: &str) -> Entity {
        let mut q = self.world.query::<(Entity, &Layer)>();
        q.iter(&self.world)
            .find(|(_, l)| l.name == name)
            .map(|(e, _)| e)
            .unwrap_or_else(|| panic!("no layer '{name}'"))
    }

    fn per_neuron(&mut self, name: &str, f: impl Fn(EntityRef) -> f32) -> Vec<f32> {
        let layer = self.layer(name);
        let members = &self.world.get::<Layer>(layer).expect("layer").members;
        members.iter().map(|&e| f(self.world.entity(e))).collect()
    }

    /// Indices of the neurons of `layer` that spiked at the last step.
    pub fn spikes(&mut self, layer: &str) -> Vec<u32> {
        let e = self.layer(layer);
        self.world
            .get::<LayerSpikes>(e)
            .expect("layer")
            .current
            .clone()
    }

    /// Voltages of a LIF layer after the last step.
    pub fn voltages(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, |e| e.get::<Voltage>().expect("LIF neuron").0)
    }

    /// Total currents `J = Σ_c J_c` of a LIF layer after the last step.
    pub fn currents(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, |e| e.get::<Current>().expect("LIF neuron").total())
    }

    /// Individual threshold offsets θ_i of a LIF layer.
    pub fn thetas(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, |e| e.get::<Threshold>().expect("LIF neuron").theta)
    }

    /// The shared threshold σ of a LIF layer.
    pub fn sigma(&mut self, layer: &str) -> f32 {
        let e = self.layer(layer);
        self.world
            .get::<LayerThreshold>(e)
            .expect("LIF layer")
            .sigma
    }
}
