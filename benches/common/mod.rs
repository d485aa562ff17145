//! Shared by the benches: building a workload's simulation. Each bench
//! uses part of it.
#![allow(
    dead_code,
    reason = "each test or bench crate uses part of it; every item is used by one"
)]

use spikesim::bench::{self, Options, Workload};
use spikesim::{Config, Simulation, stimulus};

/// The workload's network (nothing recorded unless `sets` asks), single-threaded.
pub fn simulation(workload: Workload, neurons: usize, sets: &[&str]) -> Simulation {
    let o = Options {
        neurons,
        ..Options::new(workload)
    };
    let base = bench::config(&o).expect("workload config");
    let text = base.to_toml();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    config_simulation(&Config::from_toml(&text, &sets).expect("overrides"))
}

/// A simulation of `config`, with its images loaded.
pub fn config_simulation(config: &Config) -> Simulation {
    let images = config.stimulus.as_ref().map(|s| {
        stimulus::load_images(s, config.simulation.seed)
            .expect("images")
            .0
    });
    Simulation::new(config, images).expect("network")
}

/// Times steps of `sim`: criterion's `iters` steps run in one call, so the
/// cost of entering the worker pool is spread over them, as in a run.
pub fn time_steps(b: &mut criterion::Bencher, sim: &mut Simulation) {
    b.iter_custom(|iters| {
        let started = std::time::Instant::now();
        sim.run_silent(iters);
        started.elapsed()
    });
}
