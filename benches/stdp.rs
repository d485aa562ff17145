//! STDP: one step of the Diehl & Cook network (`experiments/diehl-cook-100.toml`,
//! N = 100 and 400 excitatory neurons, one MNIST-like image held on the
//! Poisson inputs) with learning on and off, and the rule's kernel alone
//! (784 × 400 dense weights, 3 presynaptic and 1 postsynaptic spike per
//! step: the decay of 1184 traces, 3 rows and 1 column).
//!   cargo bench --bench stdp

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use spikesim::Config;
use spikesim::config::StdpConfig;
use spikesim::data;
use spikesim::step::Plasticity;
use spikesim::synapse::stdp::Stdp;

const DIEHL_COOK: &str = include_str!("../experiments/diehl-cook-100.toml");

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("stdp");
    // A bright digit-like image: the synthetic "0" of the built-in set.
    let image = &data::synthetic_digits(1, 1);
    let max = image.max_pixel() as f32;
    let x: Vec<f32> = image.image(0).iter().map(|&p| p as f32 / max).collect();
    for n in [100, 400] {
        for learn in [true, false] {
            let size = format!("layers.exc.size={n}");
            let inh = format!("layers.inh.size={n}");
            let config = Config::from_toml(DIEHL_COOK, &[size, inh]).expect("config");
            let mut sim = common::config_simulation(&config);
            sim.set_plasticity(Plasticity {
                stdp: learn,
                thresholds: learn,
            });
            sim.set_intensities("input", &x);
            sim.run_silent(100);
            let name = if learn { "learning" } else { "frozen" };
            group.bench_function(BenchmarkId::new(name, n), |b| {
                common::time_steps(b, &mut sim)
            });
        }
    }
    let mut stdp = Stdp::new(&StdpConfig::default(), 784, 400, 0.5);
    let mut w = vec![0.1f32; 784 * 400];
    let pre = [17u32, 300, 611];
    let post = [123u32];
    group.bench_function("kernel_784x400", |b| {
        b.iter(|| {
            stdp.step(&mut w, &pre, &post);
            w[0]
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
