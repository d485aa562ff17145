//! The fixed cost of a step: one encoder into one LIF neuron, so the time is
//! the schedule and the systems' per-step overhead, not the neurons.
//!   cargo bench --bench fixed_cost

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use spikesim::Config;

fn bench(c: &mut Criterion) {
    let config = Config::from_toml(
        r#"
        [layers.input]
        kind = "encoder"
        size = 1
        [layers.hidden]
        kind = "lif"
        size = 1
        [projections.p]
        pre = "input"
        post = "hidden"
        weights = { kind = "constant", value = 0.5 }
        [stimulus]
        layer = "input"
        dataset = "sparse_random"
        images = 1
        steps_per_image = 1000000
        [record]
        spikes.layers = []
        samples.layers = []
        "#,
        &[],
    )
    .expect("config");
    // One encoder needs a one-pixel image.
    let images = spikesim::data::ImageSet {
        name: "one pixel".into(),
        rows: 1,
        cols: 1,
        pixels: vec![128],
        labels: vec![0],
    };
    let mut sim = spikesim::Simulation::new(&config, Some(images)).expect("network");
    c.bench_function("fixed_cost_step", |b| common::time_steps(b, &mut sim));
}

criterion_group!(benches, bench);
criterion_main!(benches);
