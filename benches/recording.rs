//! Recording overhead: a W1 step at N = 400 without recording, with the
//! spikes of both layers, and with the spikes plus voltage, current and
//! threshold traces of all 400 neurons (collection into blocks; the writer
//! thread's HDF5 work is not in the step).
//!   cargo bench --bench recording

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use spikesim::bench::Workload;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("recording");
    let cases: [(&str, &[&str]); 3] = [
        ("none", &[]),
        ("spikes", &["record.spikes.layers=\"all\""]),
        (
            "spikes+traces",
            &[
                "record.spikes.layers=\"all\"",
                "record.traces=[{ layer = \"hidden\", vars = [\"voltage\", \"current\", \"threshold\"] }]",
            ],
        ),
    ];
    for (name, sets) in cases {
        let mut sim = common::simulation(Workload::W1, 400, sets);
        sim.run_silent(250);
        group.bench_function(name, |b| common::time_steps(b, &mut sim));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
