//! Delivery alone: 75 presynaptic spikes, each adding its dense row of
//! 784 × N weights into the input of N neurons (the machine-limit kernel
//! "row-add" of shared/peers/limit), N = 100, 400, 1600, 6400.
//!   cargo bench --bench delivery

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use spikesim::config::{Connectivity, Distribution};
use spikesim::synapse::{Pairs, Weights};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("delivery");
    let uniform = Distribution::Uniform {
        low: 0.0,
        high: 0.1,
    };
    for n in [100usize, 400, 1600, 6400] {
        let w = Weights::build(&Connectivity::Dense, &uniform, Pairs::between(784, n), 1, 0);
        let spikes: Vec<u32> = (0..75).map(|k| (k * 10_007) % 784).collect();
        let mut input = vec![0.0f32; n];
        group.throughput(Throughput::Elements((75 * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                w.add_rows(&spikes, &mut input);
                input[0]
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
