//! A simulation: the world, its schedule, and the loop that runs it and
//! streams the recorder's batches to the writer.

use bevy_ecs::prelude::*;
use indicatif::ProgressBar;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::config::thread_count;
use crate::data::ImageSet;
use crate::encoder::{EncoderRng, Intensity};
use crate::layer::{Layer, LayerSpikes};
use crate::neuron::Voltage;
use crate::neuron::check::{CHECK_EVERY, NonFinite, first_non_finite};
use crate::neuron::lif::{LayerThreshold, Threshold};
use crate::neuron::model::LayerRecordables;
use crate::neuron::synaptic::{Current, synaptic_current};
use crate::record::checkpoint::LearnedState;
use crate::record::collect::{Recorder, weight_values};
use crate::record::{Batch, Layout, RecordError, Values, Writer};
use crate::resume;
use crate::resume::state::{self, Columns};
use crate::schedule;
use crate::step::{Clock, Plasticity};
use crate::synapse::stdp::{self, Stdp};
use crate::synapse::{DeliveryStats, Projection, Weights};
use crate::timings::StageTimes;
use crate::{ConfigError, Error, network, rng, stimulus};

/// Hands the recorder's sealed batches to `writer` (dropping them without
/// one), adding the time it took to the writer's share of the timings.
fn send_ready(world: &mut World, writer: Option<&Writer>) -> Result<(), RecordError> {
    let batches = world.resource_mut::<Recorder>().take_ready();
    let Some(w) = writer.filter(|_| !batches.is_empty()) else {
        return Ok(());
    };
    let started = world.contains_resource::<StageTimes>().then(Instant::now);
    let sent = batches.into_iter().try_for_each(|b| w.send(b));
    if let Some(t) = started {
        world.resource_mut::<StageTimes>().writer += t.elapsed();
    }
    sent
}

/// Seals what the recorder holds, sends it, then a resume point of the state
/// after it.
fn send_resume_point(
    world: &mut World,
    writer: &Writer,
    extra: Columns,
) -> Result<(), RecordError> {
    let steps_done = world.resource::<Clock>().step;
    world.resource_mut::<Recorder>().seal(steps_done);
    send_ready(world, Some(writer))?;
    let mut columns = state::capture(world);
    columns.extend(extra);
    columns.push((
        resume::BINARY_COLUMN.to_owned(),
        Values::U64(vec![resume::binary_digest()]),
    ));
    writer.send(Batch::ResumePoint { columns })
}

/// Runs one step's schedule and advances the clock.
fn step(world: &mut World, schedule: &mut Schedule) {
    schedule.run(world);
    world.resource_mut::<Clock>().step += 1;
}

/// A network ready to step.
pub struct Simulation {
    /// The validated config the network was built from.
    config: Config,
    world: World,
    schedule: Schedule,
    /// The run's own worker threads; steps run inside it, so the per-neuron
    /// systems split their work with cheap `rayon::join`s.
    pool: rayon::ThreadPool,
}

impl Simulation {
    /// Builds the network of a validated config. `images` are required when
    /// the config has a stimulus (see [`crate::stimulus::load_images`]).
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
        let mut world = pool.install(|| network::build(config, images))?;
        Ok(Self {
            config: config.clone(),
            schedule: schedule::build(&mut world),
            world,
            pool,
        })
    }

    /// The config the network was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A copy of this network on one worker thread, without images, with
    /// this one's learned state and learning switches.
    pub fn replica(&mut self) -> Result<Simulation, Error> {
        let mut one = self.config.clone();
        one.simulation.threads = 1;
        let mut copy = Simulation::new(&one, None)?;
        copy.set_state(&self.state()).map_err(ConfigError)?;
        copy.set_plasticity(*self.world.resource::<Plasticity>());
        Ok(copy)
    }

    /// Starts timing each stage of the step (and the waits on the writer)
    /// from now on; see [`Simulation::timings`].
    pub fn enable_timings(&mut self) {
        self.world.insert_resource(StageTimes::default());
        self.schedule = schedule::build(&mut self.world);
    }

    /// The stage timings since [`Simulation::enable_timings`], if enabled.
    pub fn timings(&self) -> Option<StageTimes> {
        self.world.get_resource::<StageTimes>().cloned()
    }

    /// Worker threads of the run.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Steps the run is configured for.
    pub fn total_steps(&self) -> u64 {
        self.config.steps()
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

    /// Runs the remaining steps, sending batches to `writer` as they are
    /// sealed, until the end or until `stop()` says so (asked after every
    /// step). Whatever was recorded up to the last step done is sent, so
    /// the writer can close the file as complete or not. With
    /// `resume_every`, a resume point ([`crate::resume`]) follows the
    /// records whenever that much wall time has passed since the last one,
    /// and when `stop()` ends the run early. Returns whether the run reached
    /// its end; an error if the writer failed or the state stopped being
    /// finite ([`crate::neuron::check`], looked at every [`CHECK_EVERY`]
    /// steps and at the end).
    pub fn run(
        &mut self,
        writer: &Writer,
        progress: &ProgressBar,
        stop: impl Fn() -> bool + Sync,
        resume_every: Option<Duration>,
    ) -> Result<bool, Error> {
        // The initial weights; a resumed run has them already.
        if self.steps_done() == 0 {
            self.snapshot_weights();
        }
        let steps = self.total_steps();
        let mut last_point = Instant::now();
        let looped = self.in_pool(|world, schedule| {
            while world.resource::<Clock>().step < steps && !stop() {
                step(world, schedule);
                send_ready(world, Some(writer))?;
                let done = world.resource::<Clock>().step;
                if done.is_multiple_of(64) {
                    progress.set_position(done);
                    if resume_every.is_some_and(|every| last_point.elapsed() >= every) {
                        send_resume_point(world, writer, Columns::new())?;
                        last_point = Instant::now();
                    }
                }
                if done.is_multiple_of(CHECK_EVERY)
                    && let Some(bad) = first_non_finite(world, done)
                {
                    return Err(Error::from(bad));
                }
            }
            Ok(())
        });
        // What was recorded up to the stop goes to the writer either way.
        self.seal();
        send_ready(&mut self.world, Some(writer))?;
        progress.set_position(self.steps_done());
        looped?;
        let done = self.steps_done();
        if let Some(bad) = first_non_finite(&mut self.world, done) {
            return Err(bad.into());
        }
        // A stopped run's point comes before its closing weight snapshot,
        // which a resumed run does not take there.
        if done < steps && resume_every.is_some() {
            send_resume_point(&mut self.world, writer, Columns::new())?;
        }
        self.snapshot_weights();
        send_ready(&mut self.world, Some(writer))?;
        Ok(done == steps)
    }

    /// Seals what the recorder holds and sends it (`records`) or drops it
    /// (a protocol's phases after training record nothing), then sends a
    /// resume point of the network's state with `extra` columns (a
    /// protocol's progress).
    pub fn send_resume_point(
        &mut self,
        writer: &Writer,
        extra: Columns,
        records: bool,
    ) -> Result<(), RecordError> {
        if !records {
            let steps_done = self.steps_done();
            let mut recorder = self.world.resource_mut::<Recorder>();
            recorder.seal(steps_done);
            recorder.take_ready();
        }
        send_resume_point(&mut self.world, writer, extra)
    }

    /// The network's whole state after the last step ([`crate::resume::state`]).
    pub fn resume_state(&mut self) -> Columns {
        state::capture(&mut self.world)
    }

    /// Sets the network's state to `columns` (from [`Simulation::resume_state`]
    /// of a network built from the same config), including the step count.
    pub fn restore_resume_state(&mut self, columns: &Columns) -> Result<(), String> {
        state::restore(&mut self.world, columns)
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

    /// Seals whatever the recorder holds, so that it is sent next.
    fn seal(&mut self) {
        let steps_done = self.steps_done();
        self.world.resource_mut::<Recorder>().seal(steps_done);
    }

    /// Sends everything the recorder holds to `writer`, the batch still
    /// being filled included (a protocol run's recording ends with training).
    pub fn send_recorded(&mut self, writer: &Writer) -> Result<(), RecordError> {
        self.seal();
        send_ready(&mut self.world, Some(writer))
    }

    /// Adds `steps` simulated on copies of this network
    /// ([`Simulation::replica`]) to [`Simulation::steps_done`], as if this
    /// network had simulated them (a protocol's parallel phases do).
    pub fn add_steps_done(&mut self, steps: u64) {
        let mut clock = self.world.resource_mut::<Clock>();
        clock.step = clock.step.saturating_add(steps);
    }

    /// Queues a snapshot of every recorded projection's weights now
    /// (once per step count).
    pub fn snapshot_weights(&mut self) {
        let steps_done = self.steps_done();
        self.world.resource_scope(|world, mut rec: Mut<Recorder>| {
            rec.snapshot_weights(steps_done, |_| true, |e| weight_values(world, e));
        });
    }

    /// Runs `steps` steps inside the worker pool, adding each spike of
    /// `layer` to `counts[neuron]` and sending sealed recorder batches to
    /// `writer` (or dropping them without one).
    pub fn run_counting(
        &mut self,
        steps: u64,
        layer: &str,
        counts: &mut [u32],
        writer: Option<&Writer>,
    ) -> Result<(), RecordError> {
        let layer = self.layer(layer);
        self.in_pool(|world, schedule| {
            for _ in 0..steps {
                step(world, schedule);
                let spikes = &world.get::<LayerSpikes>(layer).expect("layer").current;
                for &i in spikes {
                    counts[i as usize] += 1;
                }
                send_ready(world, writer)?;
            }
            Ok(())
        })
    }

    /// An error naming the first neuron whose voltage or synaptic current is
    /// not finite ([`crate::neuron::check`]).
    pub fn check_finite(&mut self) -> Result<(), NonFinite> {
        let done = self.steps_done();
        first_non_finite(&mut self.world, done).map_or(Ok(()), Err)
    }

    /// Sets the intensities of encoder layer `layer`, one per neuron.
    pub fn set_intensities(&mut self, layer: &str, x: &[f32]) {
        let e = self.layer(layer);
        let members = self.world.get::<Layer>(e).expect("layer").members.clone();
        assert_eq!(members.len(), x.len(), "one intensity per encoder");
        for (m, &x) in members.iter().zip(x) {
            self.world.get_mut::<Intensity>(*m).expect("encoder").0 = x;
        }
    }

    /// Restarts the random streams of encoder layer `layer` from
    /// `(seed, PRESENTATION, key, neuron)`, so that what a presentation
    /// draws depends on its key only, not on what ran before.
    pub fn reseed_encoders(&mut self, layer: &str, seed: u64, key: u64) {
        let e = self.layer(layer);
        let members = self.world.get::<Layer>(e).expect("layer").members.clone();
        for (i, m) in members.iter().enumerate() {
            *self.world.get_mut::<EncoderRng>(*m).expect("encoder") =
                EncoderRng::keyed(seed, rng::PRESENTATION, key, i as u64);
        }
    }

    /// Puts every neuron at rest, drops pending input and clears STDP
    /// traces ([`stimulus::reset_state`]); thresholds and weights are kept.
    pub fn reset_state(&mut self) {
        stimulus::reset_state(&mut self.world);
    }

    /// Switches STDP and threshold adaptation on or off.
    pub fn set_plasticity(&mut self, p: Plasticity) {
        *self.world.resource_mut::<Plasticity>() = p;
    }

    /// Restores the incoming weight sum of every postsynaptic neuron of each
    /// projection whose STDP asks for it ([`stdp::normalize`]).
    pub fn normalize(&mut self) {
        let mut q = self.world.query::<(&mut Weights, &Stdp)>();
        for (mut w, s) in q.iter_mut(&mut self.world) {
            if let (Some(total), Weights::Dense { n_post, w }) = (s.normalize, &mut *w) {
                stdp::normalize(w, *n_post, total);
            }
        }
    }

    /// The learned state: every projection's weights (storage order) and
    /// every θ and σ of the layers with adaptive thresholds (LIF).
    pub fn state(&mut self) -> LearnedState {
        let mut q = self.world.query::<(&Projection, &Weights)>();
        let weights = q
            .iter(&self.world)
            .map(|(p, w)| (p.name.clone(), w.values().to_vec()))
            .collect();
        let mut q = self.world.query::<(&Layer, &LayerThreshold)>();
        let names: Vec<(String, f64)> = q
            .iter(&self.world)
            .map(|(l, t)| (l.name.clone(), t.sigma))
            .collect();
        let theta = names
            .iter()
            .map(|(n, _)| {
                let theta =
                    self.per_neuron(n, |e| e.get::<Threshold>().expect("a layer with θ").theta);
                (n.clone(), theta)
            })
            .collect();
        LearnedState {
            weights,
            theta,
            sigma: names,
        }
    }

    /// Replaces weights, θ and σ with those of `state` (entries for unknown
    /// names are errors; missing names keep their values).
    pub fn set_state(&mut self, state: &LearnedState) -> Result<(), String> {
        for (name, values) in &state.weights {
            self.replace_weights(name, values, "saved")?;
        }
        for (name, theta) in &state.theta {
            let e = self
                .try_layer(name)
                .ok_or_else(|| format!("no layer '{name}' in this config"))?;
            let members = self.world.get::<Layer>(e).expect("layer").members.clone();
            if members.len() != theta.len() {
                return Err(format!(
                    "layer '{name}' has {} neurons here, {} saved",
                    members.len(),
                    theta.len()
                ));
            }
            for (m, &t) in members.iter().zip(theta) {
                if let Some(mut th) = self.world.get_mut::<Threshold>(*m) {
                    th.theta = t;
                }
            }
        }
        for (name, sigma) in &state.sigma {
            let e = self
                .try_layer(name)
                .ok_or_else(|| format!("no layer '{name}' in this config"))?;
            if let Some(mut s) = self.world.get_mut::<LayerThreshold>(e) {
                s.sigma = *sigma;
            }
        }
        Ok(())
    }

    /// What the output file will hold, in the recorder's order.
    pub fn layout(&self) -> &Layout {
        &self.world.resource::<Recorder>().layout
    }

    /// Synaptic events delivered so far (spikes × fan-out).
    pub fn synapse_events(&self) -> u64 {
        self.world.resource::<DeliveryStats>().synapse_events
    }

    /// Synapses of every projection together.
    pub fn synapse_count(&mut self) -> u64 {
        let mut q = self.world.query::<&Weights>();
        q.iter(&self.world).map(|w| w.len() as u64).sum()
    }

    /// The weights of a projection.
    pub fn weights(&mut self, projection: &str) -> Weights {
        let mut q = self.world.query::<(&Projection, &Weights)>();
        q.iter(&self.world)
            .find(|(p, _)| p.name == projection)
            .map(|(_, w)| w.clone())
            .unwrap_or_else(|| panic!("no projection '{projection}'"))
    }

    fn try_layer(&mut self, name: &str) -> Option<Entity> {
        let mut q = self.world.query::<(Entity, &Layer)>();
        q.iter(&self.world)
            .find(|(_, l)| l.name == name)
            .map(|(e, _)| e)
    }

    fn layer(&mut self, name: &str) -> Entity {
        self.try_layer(name)
            .unwrap_or_else(|| panic!("no layer '{name}'"))
    }

    fn per_neuron<T>(&mut self, name: &str, f: impl Fn(EntityRef) -> T) -> Vec<T> {
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

    /// Recordable variable `var` of every neuron of `layer` after the last
    /// step, as `[[record.traces]]` would record it (`input`: the input of
    /// the last step, which is still held only where `input` is recorded).
    /// An error names what the layer's model records.
    pub fn read(&mut self, layer: &str, var: &str) -> Result<Vec<f32>, String> {
        let e = self
            .try_layer(layer)
            .ok_or_else(|| format!("no layer '{layer}'"))?;
        let Some(LayerRecordables(all)) = self.world.get::<LayerRecordables>(e) else {
            return Err(format!("layer '{layer}' is an encoder layer"));
        };
        let r = all.iter().find(|r| r.name == var).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|r| &*r.name).collect();
            format!("layer '{layer}' records {}; not '{var}'", names.join(", "))
        })?;
        let members = &self.world.get::<Layer>(e).expect("layer").members;
        let neurons: Vec<(Entity, u32)> = (0..).zip(members).map(|(i, &m)| (m, i)).collect();
        let mut out = Vec::with_capacity(neurons.len());
        let step = self.steps_done().saturating_sub(1);
        (r.read)(&self.world, e, &neurons, step, &mut out);
        Ok(out)
    }

    /// Names of the layers, in config order.
    pub fn layer_names(&self) -> Vec<String> {
        self.config.layers.keys().cloned().collect()
    }

    /// Names of the projections, in config order.
    pub fn projection_names(&self) -> Vec<String> {
        self.config.projections.keys().cloned().collect()
    }

    /// The weights of `projection`, or an error naming the projections.
    pub fn try_weights(&mut self, projection: &str) -> Result<Weights, String> {
        let mut q = self.world.query::<(&Projection, &Weights)>();
        q.iter(&self.world)
            .find(|(p, _)| p.name == projection)
            .map(|(_, w)| w.clone())
            .ok_or_else(|| no_such("projection", projection, &self.projection_names()))
    }

    /// Replaces the weights of `projection` (storage order, as
    /// [`Weights::values`]); an error if the projection or the count
    /// differs.
    pub fn set_weights(&mut self, projection: &str, values: &[f32]) -> Result<(), String> {
        self.replace_weights(projection, values, "given")
    }

    /// [`Simulation::set_weights`], the values described as `what` in the
    /// error (`saved`, `given`).
    fn replace_weights(
        &mut self,
        projection: &str,
        values: &[f32],
        what: &str,
    ) -> Result<(), String> {
        let names = self.projection_names();
        let mut q = self.world.query::<(&Projection, &mut Weights)>();
        let (_, mut w) = q
            .iter_mut(&mut self.world)
            .find(|(p, _)| p.name == projection)
            .ok_or_else(|| no_such("projection", projection, &names))?;
        let dst = w.values_mut();
        if dst.len() != values.len() {
            return Err(format!(
                "projection '{projection}' has {} synapses here, {} {what}",
                dst.len(),
                values.len()
            ));
        }
        dst.copy_from_slice(values);
        Ok(())
    }

    /// Sets one value per neuron of neuron layer `layer` through `set`
    /// (which says whether the neuron has the component); an error names
    /// the layer, the count or the component (`what`) it lacks.
    fn set_per_neuron(
        &mut self,
        layer: &str,
        values: &[f32],
        what: &str,
        set: impl Fn(&mut EntityWorldMut, f32) -> bool,
    ) -> Result<(), String> {
        let e = self.find_layer(layer)?;
        let members = self.world.get::<Layer>(e).expect("layer").members.clone();
        if members.len() != values.len() {
            return Err(format!(
                "layer '{layer}' has {} neurons; {} values given",
                members.len(),
                values.len()
            ));
        }
        for (&m, &x) in members.iter().zip(values) {
            if !set(&mut self.world.entity_mut(m), x) {
                return Err(format!("layer '{layer}' has no {what}"));
            }
        }
        Ok(())
    }

    /// Sets the voltages of neuron layer `layer` (mV), as if the last step
    /// had ended there.
    pub fn set_voltages(&mut self, layer: &str, v: &[f32]) -> Result<(), String> {
        self.set_per_neuron(layer, v, "voltage (an input layer)", |e, x| {
            e.get_mut::<Voltage>().map(|mut v| v.0 = x).is_some()
        })
    }

    /// Sets the first synaptic current's state `J_0` of neuron layer
    /// `layer` (nA; the conductance `g_0` in µS where it is
    /// conductance-based), as if the last step had ended there.
    pub fn set_currents(&mut self, layer: &str, j: &[f32]) -> Result<(), String> {
        self.set_per_neuron(layer, j, "synaptic current (an input layer)", |e, x| {
            e.get_mut::<Current>().map(|mut c| c.0 = x).is_some()
        })
    }

    /// Sets the individual threshold offsets θ_i of layer `layer` (mV).
    pub fn set_thetas(&mut self, layer: &str, theta: &[f32]) -> Result<(), String> {
        self.set_per_neuron(layer, theta, "adaptive threshold θ", |e, x| {
            e.get_mut::<Threshold>()
                .map(|mut t| t.theta = f64::from(x))
                .is_some()
        })
    }

    /// Sets the intensities (in [0, 1]) of encoder layer `layer`.
    pub fn try_set_intensities(&mut self, layer: &str, x: &[f32]) -> Result<(), String> {
        self.set_per_neuron(layer, x, "intensities (not an encoder layer)", |e, x| {
            e.get_mut::<Intensity>().map(|mut i| i.0 = x).is_some()
        })
    }

    /// The intensities of encoder layer `layer`.
    pub fn intensities(&mut self, layer: &str) -> Result<Vec<f32>, String> {
        self.find_layer(layer)?;
        let x = self.per_neuron(layer, |e| e.get::<Intensity>().map(|i| i.0));
        x.into_iter()
            .collect::<Option<_>>()
            .ok_or_else(|| format!("layer '{layer}' is not an encoder layer"))
    }

    /// Sets the shared threshold σ of layer `layer` (mV).
    pub fn set_sigma(&mut self, layer: &str, sigma: f64) -> Result<(), String> {
        let e = self.find_layer(layer)?;
        let mut t = self
            .world
            .get_mut::<LayerThreshold>(e)
            .ok_or_else(|| format!("layer '{layer}' has no shared threshold σ"))?;
        t.sigma = sigma;
        Ok(())
    }

    /// The shared threshold σ of layer `layer` (mV), or an error.
    pub fn try_sigma(&mut self, layer: &str) -> Result<f64, String> {
        let e = self.find_layer(layer)?;
        self.world
            .get::<LayerThreshold>(e)
            .map(|t| t.sigma)
            .ok_or_else(|| format!("layer '{layer}' has no shared threshold σ"))
    }

    /// The spikes of the last step of layer `layer`, or an error.
    pub fn try_spikes(&mut self, layer: &str) -> Result<Vec<u32>, String> {
        self.find_layer(layer)?;
        Ok(self.spikes(layer))
    }

    /// The entity of layer `layer`, or an error naming the layers.
    fn find_layer(&mut self, layer: &str) -> Result<Entity, String> {
        self.try_layer(layer)
            .ok_or_else(|| no_such("layer", layer, &self.layer_names()))
    }

    /// Voltages of a neuron layer after the last step (mV).
    pub fn voltages(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, |e| e.get::<Voltage>().expect("a neuron layer").0)
    }

    /// The synaptic current `J = Σ_c J_c` that drove the last step of each
    /// neuron of a layer, a conductance-based synapse's `J_c = g_c (E_c −
    /// V)` with the voltage before the step (nA; the `current` recordable).
    pub fn currents(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, synaptic_current)
    }

    /// Individual threshold offsets θ_i of a layer with adaptive
    /// thresholds (LIF), mV.
    pub fn thetas(&mut self, layer: &str) -> Vec<f32> {
        self.per_neuron(layer, |e| {
            e.get::<Threshold>()
                .expect("a layer with thresholds θ")
                .theta as f32
        })
    }

    /// The shared threshold σ of a layer with one (LIF), mV, as stored
    /// (f64; the spike test rounds it to f32).
    pub fn sigma(&mut self, layer: &str) -> f64 {
        let e = self.layer(layer);
        self.world
            .get::<LayerThreshold>(e)
            .expect("a layer with a threshold σ")
            .sigma
    }
}

/// The error for an unknown `what` (layer, projection) `name`, listing `names`.
fn no_such(what: &str, name: &str, names: &[String]) -> String {
    format!(
        "no {what} '{name}' in this config; there are: {}",
        names.join(", ")
    )
}
