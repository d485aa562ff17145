//! One step of W1, the seed network (784 Bernoulli inputs → N LIF neurons,
//! dense weights, fixed threshold σ 3.4), N = 100, 400, 1600, 6400, one thread.
//!   cargo bench --bench w1_step

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spikesim::bench::Workload;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("w1_step");
    for n in [100, 400, 1600, 6400] {
        let mut sim = common::simulation(Workload::W1, n, &[]);
        // Past the first image's transient.
        sim.run_silent(250);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            common::time_steps(b, &mut sim)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
