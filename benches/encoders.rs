//! Encoders alone: a step of a network of only the 784 Bernoulli inputs of
//! W1 (the schedule runs, no LIF neuron, no synapse).
//!   cargo bench --bench encoders

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use spikesim::Config;

fn bench(c: &mut Criterion) {
    let config = Config::from_toml(
        r#"
        [layers.input]
        kind = "encoder"
        size = 784
        [stimulus]
        layer = "input"
        dataset = "sparse_random"
        images = 20
        [record]
        spikes.layers = []
        samples.layers = []
        "#,
        &[],
    )
    .expect("config");
    let mut sim = common::config_simulation(&config);
    c.bench_function("encoders_784", |b| common::time_steps(b, &mut sim));
}

criterion_group!(benches, bench);
criterion_main!(benches);
