//! `spikesim bench`: the scaling workloads of the benchmark peers
//! (`shared/peers/README.md`), timed the same way and reported in the same
//! `RESULT ...` line format, so one driver (`tools/bench/compare.py`) runs
//! spikesim and the peers side by side.
//!
//! - **W1**: `experiments/w1.toml` — 784 Bernoulli inputs on sparse random
//!   images → N LIF neurons, dense weights, 20 images × 250 steps of 1 ms.
//! - **W2**: `experiments/cuba.toml` — the CUBA network, 0.8 N excitatory and
//!   0.2 N inhibitory neurons, fixed in-degree 80, 10,000 steps of 0.1 ms.
//! - **W3**: `experiments/microcircuit.toml` — Potjans & Diesmann's
//!   microcircuit at N_scaling = K_scaling = `scale`, as
//!   `nest_microcircuit.py --scale`: 100 ms untimed, then 1 s (10,000 steps
//!   of 0.1 ms) timed.
//! - **W4**: `experiments/brunel-<state>.toml` — Brunel's model A, 12,500
//!   neurons, in one of its four states, as `nest_brunel.py --state`:
//!   100 ms untimed, then 1 s timed.
//!
//! Nothing is recorded. `setup_s` is the time to build the network (images,
//! connectivity, weights, entities); `presim_s` the untimed warm-up;
//! `wall_s` the timed stepping loop only, and the spike and event counts
//! are those of the timed steps.

use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::timings::StageTimes;
use crate::{Error, Simulation, os_memory, stimulus};

/// A benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    /// The seed's feed-forward network.
    W1,
    /// The CUBA recurrent network.
    W2,
    /// Potjans & Diesmann's cortical microcircuit.
    W3,
    /// Brunel's (2000) model A.
    W4,
}

/// A state of Brunel's model A (W4): its relative inhibition g and external
/// drive eta (in units of the threshold rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BrunelState {
    /// Synchronous regular: g = 3, eta = 2.
    #[value(name = "SR")]
    Sr,
    /// Asynchronous irregular: g = 5, eta = 2.
    #[value(name = "AI")]
    Ai,
    /// Synchronous irregular, fast oscillation: g = 6, eta = 4.
    #[value(name = "SI-fast")]
    SiFast,
    /// Synchronous irregular, slow oscillation: g = 4.5, eta = 0.9.
    #[value(name = "SI-slow")]
    SiSlow,
}

impl BrunelState {
    /// The name `nest_brunel.py --state` takes.
    pub fn name(self) -> &'static str {
        match self {
            BrunelState::Sr => "SR",
            BrunelState::Ai => "AI",
            BrunelState::SiFast => "SI-fast",
            BrunelState::SiSlow => "SI-slow",
        }
    }

    /// The state's config file.
    fn config(self) -> &'static str {
        match self {
            BrunelState::Sr => include_str!("../experiments/brunel-sr.toml"),
            BrunelState::Ai => include_str!("../experiments/brunel-ai.toml"),
            BrunelState::SiFast => include_str!("../experiments/brunel-si-fast.toml"),
            BrunelState::SiSlow => include_str!("../experiments/brunel-si-slow.toml"),
        }
    }
}

/// Untimed warm-up steps of W3 and W4 by default: the peers' 100 ms
/// (`--presim-ms`) at the 0.1 ms step of their configs.
pub const PRESIM_STEPS: u64 = 1000;
/// Timed steps of W3 and W4 by default: the peers' 1 s (`--sim-ms`) at
/// 0.1 ms.
pub const TIMED_STEPS: u64 = 10_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Workload.
    pub workload: Workload,
    /// LIF neurons (W1: the hidden layer; W2: the whole network; not read
    /// by W3 and W4).
    pub neurons: usize,
    /// W3: N_scaling = K_scaling (in (0, 1]; 1 is the full 77,169 neurons).
    pub scale: f64,
    /// W4: the state of the network.
    pub state: BrunelState,
    /// Worker threads.
    pub threads: usize,
    /// W1 images (default 20).
    pub images: Option<usize>,
    /// Timed steps (default: W1 images × 250, W2 to W4 10,000).
    pub steps: Option<u64>,
    /// Untimed steps before the timed ones (default: W3 and W4
    /// [`PRESIM_STEPS`], W1 and W2 none).
    pub presim_steps: Option<u64>,
    /// Seed.
    pub seed: u64,
    /// Time each stage of the step ([`crate::timings`]) over the timed steps.
    pub timings: bool,
}

impl Options {
    /// `workload` with the command line's defaults: 400 neurons, scale 0.1,
    /// state AI, one thread, the workload's own length, seed 1, no timings.
    pub fn new(workload: Workload) -> Options {
        Options {
            workload,
            neurons: 400,
            scale: 0.1,
            state: BrunelState::Ai,
            threads: 1,
            images: None,
            steps: None,
            presim_steps: None,
            seed: 1,
            timings: false,
        }
    }

    /// Untimed steps before the timed ones.
    pub fn presim(&self) -> u64 {
        self.presim_steps.unwrap_or(match self.workload {
            Workload::W1 | Workload::W2 => 0,
            Workload::W3 | Workload::W4 => PRESIM_STEPS,
        })
    }
}

/// The spikes of one layer in the timed steps.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerCount {
    /// Layer name.
    pub name: String,
    /// Neurons of the layer.
    pub size: usize,
    /// Spikes in the timed steps.
    pub spikes: u64,
}

/// One timed run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Seconds to build the network.
    pub setup_s: f64,
    /// Seconds of the untimed warm-up steps.
    pub presim_s: f64,
    /// Untimed warm-up steps.
    pub presim_steps: u64,
    /// Seconds of the timed stepping loop.
    pub wall_s: f64,
    /// Timed steps.
    pub steps: u64,
    /// Step (ms).
    pub dt_ms: f64,
    /// Neurons whose spikes are `spikes_out` (W1: the hidden layer; else
    /// every layer).
    pub neurons: usize,
    /// Input spikes (W1 encoders; 0 for the others).
    pub spikes_in: u64,
    /// Spikes of the `neurons`.
    pub spikes_out: u64,
    /// The spikes of each layer counted in `spikes_out`.
    pub layers: Vec<LayerCount>,
    /// Synaptic events delivered (spikes × fan-out; external Poisson drive
    /// not included).
    pub syn_events: u64,
    /// Synapses of all projections.
    pub synapses: u64,
    /// Expected external Poisson input spikes over the timed steps:
    /// Σ over `[poisson_inputs]` of neurons × inputs × rate × time.
    pub ext_events: u64,
    /// Peak resident memory of the process so far (MiB), if known.
    pub rss_mib: Option<u64>,
    /// Stage timings of the loop, when asked for.
    pub timings: Option<StageTimes>,
    /// Worker threads used.
    pub threads: usize,
}

/// The config of a workload, with recording off and the length of the
/// warm-up and timed steps together.
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
        Workload::W3 => {
            // `{:?}` keeps a float a TOML float (1.0, not 1).
            sets.push(format!("scale.n={:?}", o.scale));
            sets.push(format!("scale.k={:?}", o.scale));
            include_str!("../experiments/microcircuit.toml")
        }
        Workload::W4 => o.state.config(),
    };
    let timed = match o.workload {
        Workload::W1 | Workload::W2 => o.steps,
        Workload::W3 | Workload::W4 => Some(o.steps.unwrap_or(TIMED_STEPS)),
    };
    let presim = o.presim();
    match timed {
        Some(s) => sets.push(format!("simulation.steps={}", s.saturating_add(presim))),
        None if presim > 0 => {
            let base = Config::from_toml(text, &sets)?;
            sets.push(format!("simulation.steps={}", base.steps() + presim));
        }
        None => {}
    }
    Config::from_toml(text, &sets)
}

/// Builds the workload, runs its warm-up steps, and times the rest once.
pub fn measure(o: &Options) -> Result<Measurement, Error> {
    let config = config(o)?;
    let started = Instant::now();
    let images = match &config.stimulus {
        Some(s) => Some(stimulus::load_images(s, config.simulation.seed)?.0),
        None => None,
    };
    let mut sim = Simulation::new(&config, images)?;
    let setup_s = started.elapsed().as_secs_f64();
    let presim_steps = o.presim();
    let started = Instant::now();
    sim.run_silent(presim_steps);
    let presim_s = started.elapsed().as_secs_f64();
    if o.timings {
        sim.enable_timings();
    }
    // W1 counts its input layer apart; every other layer is counted out.
    let input = (o.workload == Workload::W1).then_some("input");
    let out: Vec<(String, usize)> = config
        .layers
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != input)
        .map(|(name, l)| (name.clone(), l.size()))
        .collect();
    let counts = |sim: &mut Simulation| -> (u64, Vec<u64>, u64) {
        let spikes_in = input.map_or(0, |l| sim.spike_count(l));
        let out = out.iter().map(|(l, _)| sim.spike_count(l)).collect();
        (spikes_in, out, sim.synapse_events())
    };
    let before = counts(&mut sim);
    let steps = sim.total_steps() - presim_steps;
    let started = Instant::now();
    sim.run_silent(steps);
    let wall_s = started.elapsed().as_secs_f64();
    let after = counts(&mut sim);
    let layers: Vec<LayerCount> = out
        .iter()
        .zip(after.1.iter().zip(&before.1))
        .map(|((name, size), (a, b))| LayerCount {
            name: name.clone(),
            size: *size,
            spikes: a - b,
        })
        .collect();
    let dt_ms = config.simulation.dt_ms;
    let seconds = steps as f64 * dt_ms * 1e-3;
    let ext_rate: f64 = config
        .poisson_inputs
        .values()
        .map(|p| config.layers[&p.layer].size() as f64 * p.inputs as f64 * p.rate_hz)
        .sum();
    Ok(Measurement {
        setup_s,
        presim_s,
        presim_steps,
        wall_s,
        steps,
        dt_ms,
        neurons: out.iter().map(|(_, n)| n).sum(),
        spikes_in: after.0 - before.0,
        spikes_out: layers.iter().map(|l| l.spikes).sum(),
        layers,
        syn_events: after.2 - before.2,
        synapses: sim.synapse_count(),
        ext_events: (ext_rate * seconds) as u64,
        rss_mib: os_memory::peak_rss_mib(),
        timings: sim.timings(),
        threads: sim.threads(),
    })
}

impl Measurement {
    /// Biological seconds of the timed steps.
    pub fn bio_s(&self) -> f64 {
        self.steps as f64 * self.dt_ms * 1e-3
    }

    /// The peers' `RESULT` line. W3 and W4 add the keys of
    /// `nest_microcircuit.py` and `nest_brunel.py` that spikesim measures:
    /// the scale (W3; W4 runs at 1) or state, synapses, expected external
    /// events, wall seconds per biological second, the warm-up's seconds
    /// and ms, the seed and the mean rate (Hz) of all neurons and of each
    /// layer (`rate_L23E`, `rate_E`, ...).
    pub fn result_line(&self, o: &Options) -> String {
        let workload = match o.workload {
            Workload::W1 => "W1",
            Workload::W2 => "W2",
            Workload::W3 => "microcircuit",
            Workload::W4 => "brunel",
        };
        let mut line = format!(
            "RESULT tool=spikesim workload={workload} neurons={} wall_s={:.4} steps={} spikes_in={} spikes_out={} syn_events={} threads={} setup_s={:.4}",
            self.neurons,
            self.wall_s,
            self.steps,
            self.spikes_in,
            self.spikes_out,
            self.syn_events,
            self.threads,
            self.setup_s
        );
        if let Some(mib) = self.rss_mib {
            line.push_str(&format!(" rss_mb={mib}"));
        }
        match o.workload {
            Workload::W1 | Workload::W2 => return line,
            Workload::W3 => line.push_str(&format!(" scale={} k_scale={}", o.scale, o.scale)),
            Workload::W4 => line.push_str(&format!(" state={} scale=1", o.state.name())),
        }
        let bio_s = self.bio_s();
        let rate = |spikes: u64, n: usize| spikes as f64 / (n as f64 * bio_s);
        line.push_str(&format!(
            " n_synapses={} ext_events={} wall_per_bio_s={:.4} presim_s={:.4} presim_ms={} seed={} rate_hz={:.4}",
            self.synapses,
            self.ext_events,
            self.wall_s / bio_s,
            self.presim_s,
            // In µs steps, so that 1000 × 0.1 prints as 100.
            (self.presim_steps as f64 * self.dt_ms * 1e3).round() / 1e3,
            o.seed,
            rate(self.spikes_out, self.neurons)
        ));
        for l in &self.layers {
            line.push_str(&format!(" rate_{}={:.4}", l.name, rate(l.spikes, l.size)));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LayerSelection;

    fn options(workload: Workload) -> Options {
        Options::new(workload)
    }

    #[test]
    fn w3_is_the_microcircuit_at_the_peers_scale_and_length() {
        let c = config(&options(Workload::W3)).unwrap();
        // nest_microcircuit.py --scale 0.1: 7,717 neurons (half to even).
        let n: usize = c.layers.values().map(|l| l.size()).sum();
        assert_eq!(n, 7717);
        assert_eq!(c.simulation.dt_ms, 0.1);
        assert_eq!(c.steps(), PRESIM_STEPS + TIMED_STEPS);
        assert_eq!(c.record.spikes.layers, LayerSelection::Names(vec![]));
        let full = config(&Options {
            scale: 1.0,
            steps: Some(5),
            presim_steps: Some(2),
            ..options(Workload::W3)
        })
        .unwrap();
        let n: usize = full.layers.values().map(|l| l.size()).sum();
        assert_eq!((n, full.steps()), (77_169, 7));
    }

    #[test]
    fn w4_reads_each_state_at_full_size() {
        for state in [
            BrunelState::Sr,
            BrunelState::Ai,
            BrunelState::SiFast,
            BrunelState::SiSlow,
        ] {
            let c = config(&Options {
                state,
                ..options(Workload::W4)
            })
            .unwrap();
            assert_eq!(c.layers["E"].size() + c.layers["I"].size(), 12_500);
            assert_eq!(c.simulation.dt_ms, 0.1);
            assert_eq!(c.steps(), PRESIM_STEPS + TIMED_STEPS);
        }
    }

    #[test]
    fn w1_and_w2_warm_up_only_when_asked() {
        let c = config(&options(Workload::W2)).unwrap();
        assert_eq!(c.steps(), 10_000);
        let c = config(&Options {
            presim_steps: Some(100),
            ..options(Workload::W2)
        })
        .unwrap();
        assert_eq!(c.steps(), 10_100);
        let c = config(&Options {
            presim_steps: Some(10),
            images: Some(2),
            ..options(Workload::W1)
        })
        .unwrap();
        assert_eq!(c.steps(), 510);
    }

    #[test]
    fn counts_are_those_of_the_timed_steps() {
        let o = Options {
            scale: 0.02,
            steps: Some(100),
            presim_steps: Some(200),
            ..options(Workload::W3)
        };
        let m = measure(&o).unwrap();
        let run = |steps| {
            measure(&Options {
                steps: Some(steps),
                presim_steps: Some(0),
                ..o.clone()
            })
            .unwrap()
        };
        let (first, whole) = (run(200), run(300));
        assert_eq!(
            (m.steps, m.presim_steps, m.neurons),
            (100, 200, whole.neurons)
        );
        assert_eq!(m.spikes_out, whole.spikes_out - first.spikes_out);
        assert_eq!(m.syn_events, whole.syn_events - first.syn_events);
        assert!(m.spikes_out > 0);
        assert_eq!(m.spikes_out, m.layers.iter().map(|l| l.spikes).sum::<u64>());
        assert_eq!(m.layers.len(), 8);
        assert_eq!(m.synapses, whole.synapses);
        let line = m.result_line(&o);
        assert!(line.starts_with(&format!(
            "RESULT tool=spikesim workload=microcircuit neurons={} ",
            m.neurons
        )));
        for key in [
            " scale=0.02 ",
            " presim_ms=20 ",
            " rate_L23E=",
            " rate_L6I=",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
    }
}
