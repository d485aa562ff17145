//! One step (0.1 ms) of W2, the CUBA network, N = 4000 and 64,000, one thread.
//!   cargo bench --bench w2_step

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spikesim::bench::Workload;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("w2_step");
    for n in [4000, 64000] {
        let mut sim = common::simulation(Workload::W2, n, &[]);
        // Past the initial transient (100 ms).
        sim.run_silent(1000);
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            common::time_steps(b, &mut sim)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
