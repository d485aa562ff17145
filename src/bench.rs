//! `spikesim bench`: the scaling workloads of the benchmark peers
//! (`shared/peers/README.md`), timed the same way and reported in the same
//! `RESULT ...` line format, so one driver (`tools/bench/compare.py`) runs
//! spikesim and the peers side by side.
//!
//! - **W1**: `experiments/w1.toml` — 784 Bernoulli inputs on sparse random
//!   images → N LIF neurons, dense weights, 20 images × 250 steps of 1 ms.
//! - **W2**: `experiments/cuba.toml` — the CUBA network, 0.8 N excitatory and
//!   0.2 N inhibitory neurons, fixed in-degree 80, 10,000 steps of 0.1 ms.
//!
//! Nothing is recorded. `setup_s` is the time to build the network (images,
//! connectivity, weights, entities); `wall_s` is the stepping loop only.

use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::timings::StageTimes;
use crate::{Error, Simulation, stimulus};

/// A benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// The seed's feed-forward network.
    W1,
    /// The CUBA recurrent network.
    W2,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload.
    pub workload: Workload,
    /// LIF neurons (W1: the hidden layer; W2: the whole network).
    pub neurons: usize,
    /// Worker threads.
    pub threads: usize,
    /// W1 images (default 20).
    pub images: Option<usize>,
    /// Steps (default: W1 images × 250, W2 10,000).
    pub steps: Option<u64>,
    /// Seed.
    pub seed: u64,
    /// Time each stage of the step ([`crate::timings`]).
    pub timings: bool,
}

/// One timed run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Seconds to build the network.
    pub setup_s: f64,
    /// Seconds of the stepping loop.
    pub wall_s: f64,
    /// Steps simulated.
    pub steps: u64,
    /// Input spikes (W1 encoders; 0 for W2).
    pub spikes_in: u64,
    /// LIF spikes.
    pub spikes_out: u64,
    /// Synaptic events delivered (spikes × fan-out).
    pub syn_events: u64,
    /// Stage timings of the loop, when asked for.
    pub timings: Option<StageTimes>,
    /// Worker threads used.
    pub threads: usize,
}

/// The config of a workload, with recording off.
pub fn config(o: &Options) -> Result<Config, ConfigError> {
    let mut sets = vec![
        format!("simulation.seed={}", o.seed),
        format!("simulation.threads={}", o.threads),
        "record.spikes.layers=[]".to_string(),
        "record.samples.layers=[]".to_string(),
    ];
    let text = match o.workload {
        Workload::W1 => {
            sets.push(format!("layers.hidden.size={}", o.neurons));
            if let Some(i) = o.images {
                sets.push(format!("stimulus.images={i}"));
            }
            include_str!("../experiments/w1.toml")
        }
        Workload::W2 => {
            let exc = o.neurons * 4 / 5;
            sets.push(format!("layers.exc.size={exc}"));
            sets.push(format!("layers.inh.size={}", o.neurons - exc));
            include_str!("../experiments/cuba.toml")
        }
    };
    if let Some(s) = o.steps {
        sets.push(format!("simulation.steps={s}"));
    }
    Config::from_toml(text, &sets)
}

/// Builds and runs the workload once.
pub fn measure(o: &Options) -> Result<Measurement, Error> {
    let config = config(o)?;
    let started = Instant::now();
    let images = match &config.stimulus {
        Some(s) => Some(stimulus::load_images(s, config.simulation.seed)?.0),
        None => None,
    };
    let mut sim = Simulation::new(&config, images)?;
    if o.timings {
        sim.enable_timings();
    }
    let setup_s = started.elapsed().as_secs_f64();
    let steps = sim.total_steps();
    let started = Instant::now();
    sim.run_silent(steps);
    let wall_s = started.elapsed().as_secs_f64();
    let (spikes_in, spikes_out) = match o.workload {
        Workload::W1 => (sim.spike_count("input"), sim.spike_count("hidden")),
        Workload::W2 => (0, sim.spike_count("exc") + sim.spike_count("inh")),
    };
    Ok(Measurement {
        setup_s,
        wall_s,
        steps,
        spikes_in,
        spikes_out,
        syn_events: sim.synapse_events(),
        timings: sim.timings(),
        threads: sim.threads(),
    })
}

impl Measurement {
    /// The peers' `RESULT` line.
    pub fn result_line(&self, o: &Options) -> String {
        let workload = match o.workload {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
        };
        format!(
            "RESULT tool=spikesim workload={workload} neurons={} wall_s={:.4} steps={} spikes_in={} spikes_out={} syn_events={} threads={} setup_s={:.4}",
            o.neurons,
            self.wall_s,
            self.steps,
            self.spikes_in,
            self.spikes_out,
            self.syn_events,
            self.threads,
            self.setup_s
        )
    }
}
