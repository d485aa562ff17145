//! One step of the seed network: 784 Bernoulli inputs (synthetic digits)
//! -> N LIF neurons, dense U[0, 0.1] weights, continuous current, global
//! adaptive threshold; N = 100, 400, 1600.
//!
//!   cargo bench --bench seed_step

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spikesim::{Config, Simulation, protocol};

fn seed_network(n: usize) -> Simulation {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/experiments/seed-demo.toml");
    let sets = [
        format!("layers.hidden.size={n}"),
        "stimulus.dataset=synthetic".to_string(),
        "record.traces=[]".to_string(),
    ];
    let config = Config::load(path.as_ref(), &sets).expect("demo config");
    let stimulus = config.stimulus.as_ref().expect("demo has a stimulus");
    let (images, _) = protocol::load_images(stimulus, config.simulation.seed).expect("synthetic");
    let mut sim = Simulation::new(&config, Some(images)).expect("network");
    // Let the adaptive threshold settle (one image).
    for _ in 0..250 {
        sim.step();
    }
    sim
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("seed_step");
    for n in [100, 400, 1600] {
        let mut sim = seed_network(n);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                sim.step();
                // Blocks are normally streamed to the writer; drop them here.
                drop(sim.take_blocks());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
