//! A simulation: the world, its schedule, and the loop that runs it and
//! streams the recorder's blocks to the writer.

use bevy_ecs::prelude::*;
use indicatif::ProgressBar;

use crate::config::Config;
use crate::data::ImageSet;
use crate::layer::{Layer, LayerSpikes};
use crate::neuron::{Current, Current2, Voltage, total_current};
use crate::record::collect::Recorder;
use crate::record::writer::{Block, Layout, RecordError, Writer};
use crate::schedule::{self, Clock};
use crate::synapse::{DeliveryStats, Projection, Weights};
use crate::threshold::{LayerThreshold, Threshold};
use crate::{ConfigError, Error, network};

/// Runs one step's schedule and advances the clock.
fn step(world: &mut World, schedule: &mut Schedule) {
    schedule.run(world);
    world.resource_mut::<Clock>().step += 1;
}

/// The number of worker threads for `requested` (0 = all cores).
pub fn thread_count(requested: usize) -> usize {
    if requested == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        requested
    }
}

/// A network ready to step.
pub struct Simulation {
    world: World,
    schedule: Schedule,
    steps: u64,
    /// The run's own worker threads; steps run inside it, so the per-neuron
    /// systems split their work with cheap `rayon::join`s.
    pool: rayon::ThreadPool,
}

impl Simulation {
    /// Builds the network of a validated config. `images` are required when
    /// the config has a stimulus (see [`crate::protocol::load_images`]).
    pub fn new(config: &Config, images: Option<ImageSet>) -> Result<Self, Error> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(thread_count(config.simulation.threads))
            .thread_name(|i| format!("spikesim-worker-{i}"))
            .build()
            .map_err(|e| {
                ConfigError(format!(
                    "simulation.threads: cannot start the worker threads: {e}"
                ))
            })?;
        Ok(Self {
            world: pool.install(|| network::build(config, images))?,
            schedule: schedule::build(),
            steps: config.steps(),
            pool,
        })
    }

    /// Worker threads of the run.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Steps the run is configured for.
    pub fn total_steps(&self) -> u64 {
        self.steps
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> u64 {
        self.world.resource::<Clock>().step
    }

    /// Runs `f` on the world and schedule inside the run's worker pool.
    fn in_pool<R: Send>(&mut self, f: impl FnOnce(&mut World, &mut Schedule) -> R + Send) -> R {
        let Self {
            world,
            schedule,
            pool,
            ..
        } = self;
        pool.install(|| f(world, schedule))
    }

    /// Advances one step.
    pub fn step(&mut self) {
        self.in_pool(step);
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
        stop: impl Fn() -> bool + Sync,
    ) -> Result<bool, RecordError> {
        self.snapshot_weights();
        let steps = self.steps;
        self.in_pool(|world, schedule| {
            while world.resource::<Clock>().step < steps && !stop() {
                step(world, schedule);
                for b in world.resource_mut::<Recorder>().take_ready() {
                    writer.send(b)?;
                }
                let done = world.resource::<Clock>().step;
                if done.is_multiple_of(64) {
                    progress.set_position(done);
                }
            }
            Ok::<_, RecordError>(())
        })?;
        self.seal();
        self.snapshot_weights();
        for b in self.take_blocks() {
            writer.send(b)?;
        }
        progress.set_position(self.steps_done());
        Ok(self.steps_done() == self.steps)
    }

    /// Runs `steps` steps inside the worker pool, discarding what the
    /// recorder collects (for benchmarks).
    pub fn run_silent(&mut self, steps: u64) {
        self.in_pool(|world, schedule| {
            for _ in 0..steps {
                step(world, schedule);
                world.resource_mut::<Recorder>().take_ready();
            }
        });
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

    /// Spikes `layer` emitted since the start of the run.
    pub fn spike_count(&mut self, layer: &str) -> u64 {
        let e = self.layer(layer);
        self.world.get::<LayerSpikes>(e).expect("layer").emitted
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
        self.per_neuron(layer, |e| {
            total_current(e.get::<Current>().expect("LIF neuron"), e.get::<Current2>())
        })
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
