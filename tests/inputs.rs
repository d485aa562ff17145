//! Inputs that are not images (issue 15): Poisson source layers, spike
//! trains replayed from a file, and current generators, each against its
//! closed form; 1 vs 2 threads, resume, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spikesim::config::Distribution;
use spikesim::{Config, Simulation, rng};

mod common;

use common::{close, datasets, repo, sim, temp};

/// The network of `toml` on `threads` threads.
fn sim_on(toml: &str, threads: usize) -> Simulation {
    let config = Config::from_toml(toml, &[format!("simulation.threads={threads}")]).unwrap();
    Simulation::new(&config, None).unwrap()
}

/// Runs the binary with `args`.
fn spikesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(args)
        .output()
        .expect("spikesim runs")
}

/// `spikesim run` of `toml` (written to `name.toml` in the test's temporary
/// directory) into `name.h5`; returns the output's path.
fn run_file(name: &str, toml: &str) -> PathBuf {
    let cfg = temp(&format!("{name}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    let out = temp(&format!("{name}.h5"));
    let o = spikesim(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

/// `path` as a TOML string.
fn quoted(path: &Path) -> String {
    toml::Value::String(path.display().to_string()).to_string()
}

/// The datasets of the file at `path` under `/spikes/<layer>`.
fn spikes_of(path: &Path, layer: &str) -> Vec<(String, String)> {
    let prefix = format!("/spikes/{layer}/");
    datasets(path)
        .into_iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, v)| (n[prefix.len()..].to_owned(), v))
        .collect()
}

/// A Poisson layer `p` of `size` neurons at `rate` (TOML) alone, dt 1 ms.
fn poisson_layer(size: usize, rate: &str, steps: u64) -> String {
    format!(
        r#"
        [simulation]
        steps = {steps}
        seed = 5
        [layers.p]
        kind = "poisson"
        size = {size}
        rate_hz = {rate}
        "#
    )
}

/// Sample mean and variance (n − 1) of `x`.
fn moments(x: &[f64]) -> (f64, f64) {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64;
    (m, v)
}

/// The correlation of `x` and `y`.
fn correlation(x: &[f64], y: &[f64]) -> f64 {
    let (mx, vx) = moments(x);
    let (my, vy) = moments(y);
    let c: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    c / (x.len() - 1) as f64 / (vx * vy).sqrt()
}

#[test]
fn poisson_counts_have_the_binomial_mean_and_variance() {
    // N = 1000 neurons, T = 2000 steps, p = 20 Hz · 1 ms / 1000 = 0.02, each
    // trial independent. The total count K is Binomial(N·T, p): mean
    // N·T·p = 40 000, variance N·T·p(1 − p) = 39 200 (sd 198). That
    // variance is the sum of the neurons' (or of the steps') own: each
    // neuron's count is Binomial(T, p), variance T·p(1 − p) = 39.2, and each
    // step's count Binomial(N, p), variance N·p(1 − p) = 19.6. Their sample
    // variances over N neurons and T steps have standard errors
    // σ²·sqrt(2/(N − 1)) = 1.75 and σ²·sqrt(2/(T − 1)) = 0.62 (the counts
    // are close to normal: means 40 and 20). Every bound is 5 standard
    // errors.
    let (n, t, p) = (1000usize, 2000usize, 0.02);
    let mut s = sim(&poisson_layer(n, "20.0", t as u64));
    let mut per_neuron = vec![0.0f64; n];
    let mut per_step = Vec::with_capacity(t);
    for _ in 0..t {
        s.step();
        let spikes = s.spikes("p");
        per_step.push(spikes.len() as f64);
        for i in spikes {
            per_neuron[i as usize] += 1.0;
        }
    }
    let total: f64 = per_neuron.iter().sum();
    let (mean, var) = ((n * t) as f64 * p, (n * t) as f64 * p * (1.0 - p));
    assert!((total - mean).abs() < 5.0 * var.sqrt(), "{total}");
    assert_eq!(total as u64, s.spike_count("p"));
    let v = t as f64 * p * (1.0 - p);
    let got = moments(&per_neuron).1;
    let se = v * (2.0 / (n - 1) as f64).sqrt();
    assert!((got - v).abs() < 5.0 * se, "per-neuron variance {got}, {v}");
    let v = n as f64 * p * (1.0 - p);
    let got = moments(&per_step).1;
    let se = v * (2.0 / (t - 1) as f64).sqrt();
    assert!((got - v).abs() < 5.0 * se, "per-step variance {got}, {v}");
}

#[test]
fn poisson_rates_per_neuron_are_respected() {
    // 100 neurons each at 0, 50, 200 and 1000 Hz (p = 0, 0.05, 0.2, 1 at dt
    // 1 ms) for 1000 steps: the first group never spikes, the last always
    // does (10^5 spikes); the middle two give Binomial(10^5, p) counts,
    // within 5 standard errors sqrt(10^5 p (1 − p)) = 69 and 126 of
    // 5000 and 20 000.
    let rates: Vec<String> = [0.0f64, 50.0, 200.0, 1000.0]
        .iter()
        .flat_map(|r| std::iter::repeat_n(format!("{r:?}"), 100))
        .collect();
    let mut s = sim(&poisson_layer(
        400,
        &format!("[{}]", rates.join(", ")),
        1000,
    ));
    let mut counts = [0u64; 4];
    for _ in 0..1000 {
        s.step();
        for i in s.spikes("p") {
            counts[i as usize / 100] += 1;
        }
    }
    assert_eq!(counts[0], 0);
    assert_eq!(counts[3], 100_000);
    for (c, p) in [(counts[1], 0.05f64), (counts[2], 0.2)] {
        let (mean, sd) = (1e5 * p, (1e5 * p * (1.0 - p)).sqrt());
        assert!((c as f64 - mean).abs() < 5.0 * sd, "{counts:?}");
    }
}

#[test]
fn drawn_rates_come_from_the_layer_stream() {
    // Rates drawn from a uniform on [5, 80) Hz are, neuron by neuron, the
    // draws of the stream (seed, POISSON_RATE, layer index 0): a layer given
    // them as a list spikes exactly as the drawn one, step for step.
    let d = Distribution::Uniform {
        low: 5.0,
        high: 80.0,
    };
    let mut g = rng::stream(5, rng::POISSON_RATE, 0, 0);
    let rates: Vec<String> = (0..300)
        .map(|_| format!("{:?}", d.sample(&mut g)))
        .collect();
    let table = "{ kind = \"uniform\", low = 5.0, high = 80.0 }";
    let mut drawn = sim(&poisson_layer(300, table, 300));
    let mut listed = sim(&poisson_layer(300, &format!("[{}]", rates.join(", ")), 300));
    let mut total = 0;
    for _ in 0..300 {
        drawn.step();
        listed.step();
        assert_eq!(drawn.spikes("p"), listed.spikes("p"));
        total += drawn.spikes("p").len();
    }
    // 300 · 300 trials at a mean rate of 42.5 Hz: about 3800 spikes.
    assert!(total > 3000, "{total}");
}

/// Inputs `src` → a LIF layer `n`, every spike recorded; `source` is the
/// definition of `src`.
fn replay_network(source: &str) -> String {
    format!(
        r#"
        [simulation]
        steps = 600
        dt_ms = 0.5
        seed = 9
        [layers.src]
        {source}
        [layers.n]
        kind = "lif"
        size = 20
        current = "exponential"
        tau_j_ms = 5.0
        sigma = 0.4
        [projections.p]
        pre = "src"
        post = "n"
        delay = 2
        weights = {{ kind = "uniform", low = 0.0, high = 0.05 }}
        "#
    )
}

#[test]
fn a_spike_file_replays_the_spikes_it_holds() {
    // A run's own output (SONATA, HDF5) and the same spikes as CSV, each
    // replayed by a spike-file layer in place of the Poisson layer that
    // made them, give the same spikes of that layer, and the same spikes
    // of the LIF layer it drives (spikes at t = n·dt come back at step n).
    let original = run_file(
        "replay-poisson",
        &replay_network("kind = \"poisson\"\nsize = 100\nrate_hz = 40.0"),
    );
    let replay = |name: &str, path: &Path, population: &str| {
        let source = format!(
            "kind = \"spike_file\"\nsize = 100\npath = {}\n{population}",
            quoted(path)
        );
        run_file(name, &replay_network(&source))
    };
    let hdf5 = replay("replay-h5", &original, "population = \"src\"");
    for layer in ["src", "n"] {
        assert_eq!(
            spikes_of(&original, layer),
            spikes_of(&hdf5, layer),
            "{layer}"
        );
    }
    let f = hdf5::File::open(&original).unwrap();
    let ids = f
        .dataset("spikes/src/node_ids")
        .unwrap()
        .read_raw::<u64>()
        .unwrap();
    let times = f
        .dataset("spikes/src/timestamps")
        .unwrap()
        .read_raw::<f64>()
        .unwrap();
    assert!(ids.len() > 1000, "{}", ids.len());
    // In reverse order, with a header: the order of a file does not matter.
    let mut csv = String::from("node_id,time_ms\n");
    for (id, t) in ids.iter().zip(&times).rev() {
        csv += &format!("{id},{t}\n");
    }
    let path = temp("replay.csv");
    std::fs::write(&path, csv).unwrap();
    let from_csv = replay("replay-csv", &path, "");
    for layer in ["src", "n"] {
        assert_eq!(
            spikes_of(&original, layer),
            spikes_of(&from_csv, layer),
            "{layer}"
        );
    }
}

#[test]
fn spike_times_fire_at_the_rounded_step() {
    // dt = 0.5 ms: t = 0.74 → step round(1.48) = 1, t = 0.75 → round(1.5) =
    // 2 (halves away from zero), t = 1.0 → 2, t = 4.9 → round(9.8) = 10,
    // past the 10 steps of the run: never.
    let path = temp("rounding.csv");
    std::fs::write(&path, "0,0.74\n1,0.75\n2,1.0\n3,4.9\n").unwrap();
    let mut s = sim(&format!(
        "[simulation]\nsteps = 10\ndt_ms = 0.5\n[layers.f]\nkind = \"spike_file\"\nsize = 4\npath = {}\n",
        quoted(&path)
    ));
    let spikes: Vec<Vec<u32>> = (0..10)
        .map(|_| {
            s.step();
            s.spikes("f")
        })
        .collect();
    let mut expected = vec![vec![]; 10];
    expected[1] = vec![0];
    expected[2] = vec![1, 2];
    assert_eq!(spikes, expected);
    assert_eq!(s.spike_count("f"), 3);
}

/// One LIF layer `n` of 4 neurons, instantaneous current, silent
/// (σ = 10^9 mV), τ_v = 10 ms, dt = 1 ms, k_v = r = 1, v_rest = 0, its
/// `input` recorded; `generators` appended.
fn driven_lif(generators: &str) -> String {
    format!(
        r#"
        [simulation]
        steps = 12
        [layers.n]
        kind = "lif"
        size = 4
        current = "instantaneous"
        tau_v_ms = 10.0
        sigma = 1e9
        [[record.traces]]
        layer = "n"
        vars = ["input"]
        {generators}
        "#
    )
}

#[test]
fn dc_and_step_generators_follow_the_voltage_recursion() {
    // dc 0.75 into every neuron, a step of 0.5 on [3, 5) ms into neurons 1
    // and 2. Each step's input slot is 0 + 0.75 (+ 0.5), exactly, and the
    // instantaneous current is J(n) = I(n) + i_ext = I(n): 0.75, or 1.25 for
    // neurons 1 and 2 at steps 3 and 4. The LIF step with k_v = r = 1 and
    // v_rest = 0 is V(n) = V(n−1) + a·(−1·(V(n−1) − 0) + 1·J(n)), a =
    // f32(dt/τ) = f32(0.1), in f32 as the model computes it: equal bit for
    // bit. The recorded input holds the generators' current too.
    let mut s = sim(&driven_lif(
        r#"
        [generators.dc]
        layer = "n"
        kind = "dc"
        amplitude = 0.75
        [generators.pulse]
        layer = "n"
        neurons = [1, 3]
        kind = "step"
        amplitude = 0.5
        start_ms = 3.0
        stop_ms = 5.0
        "#,
    ));
    let a = 0.1f32;
    let mut v = [0.0f32; 4];
    for n in 0..12 {
        s.step();
        let pulse = |i| (1..3).contains(&i) && (3..5).contains(&n);
        let j: Vec<f32> = (0..4)
            .map(|i| 0.75 + if pulse(i) { 0.5 } else { 0.0 })
            .collect();
        for (v, j) in v.iter_mut().zip(&j) {
            // −1·(V − 0) = −V and 1·J = J exactly.
            *v = *v + a * (-*v + j);
        }
        assert_eq!(s.currents("n"), j, "step {n}");
        assert_eq!(s.read("n", "input").unwrap(), j, "step {n}");
        assert_eq!(s.voltages("n"), v, "step {n}");
    }
}

#[test]
fn a_sine_generator_follows_its_closed_form() {
    // 250 Hz at dt 1 ms is ω = 2π·250·1/1000 = π/2 rad per step; with
    // phase 90° and offset 0.5, I(n) = 0.5 + 0.2·sin(nπ/2 + π/2) =
    // 0.5 + 0.2·cos(nπ/2): 0.7, 0.5, 0.3, 0.5, 0.7, ... (within the f32
    // rounding of the f64 sine). V follows V(n) = 0.9·V(n−1) + 0.1·I(n).
    let mut s = sim(&driven_lif(
        r#"
        [generators.ac]
        layer = "n"
        kind = "sin"
        amplitude = 0.2
        frequency_hz = 250.0
        phase_deg = 90.0
        offset = 0.5
        "#,
    ));
    let mut v = 0.0f64;
    for n in 0..12 {
        s.step();
        let i = [0.7, 0.5, 0.3, 0.5][n % 4];
        v = 0.9 * v + 0.1 * i;
        for (j, vm) in s.currents("n").iter().zip(s.voltages("n")) {
            assert!(close(*j, i, 1e-6), "step {n}: {j} vs {i}");
            assert!(close(vm, v, 1e-5), "step {n}: {vm} vs {v}");
        }
    }
}

#[test]
fn a_dc_generator_into_an_instantaneous_current_is_i_ext_for_every_model() {
    // The generator's current enters the input slot that i_ext is added
    // to: J = (0 + A) + 0 and J = 0 + A are the same number, so each model
    // runs bit for bit as with i_ext = A (spiking, over 300 steps).
    for (model, amplitude) in [
        (
            "kind = \"lif\"\ncurrent = \"instantaneous\"\ntau_v_ms = 10.0\nsigma = 1.0",
            "1.5",
        ),
        ("kind = \"izhikevich\"", "10.0"),
        (
            "kind = \"adex\"\nsynapses.m = { current = \"instantaneous\" }",
            "0.8",
        ),
    ] {
        let layer = format!("[simulation]\nsteps = 300\n[layers.n]\n{model}\nsize = 3\n");
        let mut by_i_ext = sim(&format!("{layer}i_ext = {amplitude}\n"));
        let mut by_generator = sim(&format!(
            "{layer}[generators.g]\nlayer = \"n\"\nkind = \"dc\"\namplitude = {amplitude}\n"
        ));
        for n in 0..300 {
            by_i_ext.step();
            by_generator.step();
            let v = by_i_ext.voltages("n");
            assert_eq!(v, by_generator.voltages("n"), "{model}: step {n}");
            assert!(v.iter().all(|v| v.is_finite()));
        }
        assert!(by_i_ext.spike_count("n") >= 3, "{model}");
        assert_eq!(by_i_ext.spike_count("n"), by_generator.spike_count("n"));
    }
}

#[test]
fn a_generator_drives_the_synaptic_current_it_targets() {
    // Currents a (instantaneous) and b; a dc of 2 into b and of 0.5 into
    // the default (the first, a). With b instantaneous J = J_a + J_b = 2.5;
    // with b exponential (τ = 5 ms, dt 1) J_b(n) = J_b(n−1)·e^(−0.2) + 2
    // builds up towards 2/(1 − e^(−0.2)).
    let base = r#"
        [simulation]
        steps = 5
        [layers.n]
        kind = "lif"
        size = 2
        sigma = 1e9
        synapses.a = { current = "instantaneous" }
        synapses.b = { current = "CURRENT" }
        [generators.into_b]
        layer = "n"
        target = "b"
        kind = "dc"
        amplitude = 2.0
        [generators.into_a]
        layer = "n"
        kind = "dc"
        amplitude = 0.5
    "#;
    let mut s = sim(&base.replace("CURRENT", "instantaneous"));
    s.step();
    assert_eq!(s.currents("n"), vec![2.5, 2.5]);
    let mut s = sim(&base.replace("CURRENT", "exponential"));
    let mut jb = 0.0f64;
    for _ in 0..5 {
        s.step();
        jb = jb * (-0.2f64).exp() + 2.0;
        assert!(close(s.currents("n")[0], jb + 0.5, 1e-6));
    }
}

/// `n` LIF neurons, instantaneous current, silent, driven by a noise
/// generator of mean 0.5 and std 2 redrawn every `dt_ms` (dt 1 ms).
fn noise_network(n: usize, dt_ms: f64) -> String {
    format!(
        r#"
        [simulation]
        steps = 100000
        seed = 21
        [layers.n]
        kind = "lif"
        size = {n}
        current = "instantaneous"
        sigma = 1e9
        [generators.noise]
        layer = "n"
        kind = "noise"
        mean = 0.5
        std = 2.0
        dt_ms = {dt_ms:?}
        "#
    )
}

#[test]
fn noise_has_its_mean_and_variance_and_is_independent() {
    // 100 neurons × 10 000 steps, redrawn every step: 10^6 independent
    // draws of mean 0.5, std 2. The sample mean's standard error is
    // std/sqrt(10^6) = 0.002, the sample variance's (normal draws)
    // std²·sqrt(2/(10^6 − 1)) = 0.0057. The correlation of two independent
    // series of T = 10^4 values has standard error 1/sqrt(T) = 0.01: each
    // pair of neighbours (i, i+1) and each neuron with itself one step
    // later stays within 5 of them (199 pairs: a chance of about 10^-4
    // that one does not). Bounds are 5 standard errors.
    let (n, t) = (100, 10_000);
    let mut s = sim(&noise_network(n, 1.0));
    let mut series = vec![Vec::with_capacity(t); n];
    for _ in 0..t {
        s.step();
        for (x, j) in series.iter_mut().zip(s.currents("n")) {
            x.push(j as f64);
        }
    }
    let all: Vec<f64> = series.concat();
    let (mean, var) = moments(&all);
    assert!((mean - 0.5).abs() < 5.0 * 0.002, "mean {mean}");
    let se = 4.0 * (2.0 / (all.len() - 1) as f64).sqrt();
    assert!((var - 4.0).abs() < 5.0 * se, "variance {var}");
    let bound = 5.0 / (t as f64).sqrt();
    for i in 0..n - 1 {
        let c = correlation(&series[i], &series[i + 1]);
        assert!(c.abs() < bound, "neurons {i}, {}: {c}", i + 1);
    }
    for (i, x) in series.iter().enumerate() {
        let c = correlation(&x[..t - 1], &x[1..]);
        assert!(c.abs() < bound, "neuron {i}, lag 1: {c}");
    }
}

#[test]
fn noise_is_redrawn_every_dt_ms() {
    // dt_ms = 3 at dt 1: the current holds for steps 3k, 3k+1, 3k+2 and
    // changes at 3k+3 (two continuous draws are never equal); the 1000
    // intervals × 20 neurons are draws of mean 0.5 and std 2 (standard
    // errors 2/sqrt(2·10^4) = 0.014 and 4·sqrt(2/(2·10^4)) = 0.04; bounds
    // of 5).
    let mut s = sim(&noise_network(20, 3.0));
    let mut last = Vec::new();
    let mut draws = Vec::new();
    for n in 0..3000 {
        s.step();
        let j = s.currents("n");
        if n % 3 == 0 {
            assert!(j.iter().zip(&last).all(|(a, b)| a != b), "step {n}");
            draws.extend(j.iter().map(|&x| x as f64));
        } else {
            assert_eq!(j, last, "step {n}");
        }
        last = j;
    }
    let (mean, var) = moments(&draws);
    assert!((mean - 0.5).abs() < 5.0 * 0.014, "mean {mean}");
    assert!((var - 4.0).abs() < 5.0 * 0.04, "variance {var}");
}

#[test]
fn noise_voltage_variance_grows_with_the_redraw_interval() {
    // A leaky membrane under noise held for m steps: with k_v = r = 1,
    // v_rest = 0, V(n) = (1 − a)V(n−1) + a·J(n), a = dt/τ. Over one interval
    // of constant J_k, V_(k+1) = ρV_k + (1 − ρ)J_k with ρ = (1 − a)^m, so at
    // interval ends (stationary) Var V = std²(1 − ρ)²/(1 − ρ²) =
    // std²(1 − ρ)/(1 + ρ) ≈ std²·h/(2τ) for h = m·dt ≪ τ: in proportion to
    // the redraw interval h. dt = 0.1 ms, τ = 20 ms (a = 0.005), std 1:
    // h = 0.1 ms (m = 1) gives 0.0025063 mV², h = 1 ms (m = 10) 0.025058.
    // Sampled at interval ends after 10τ, the AR(1) samples (correlation
    // ρ) give a sample variance of relative standard error
    // sqrt(2(1 + ρ²)/(n(1 − ρ²))) for n samples; bounds of 5 of them.
    for m in [1u64, 10] {
        let (neurons, steps, burn_in) = (200, 100_000u64, 2000u64);
        let mut s = sim(&format!(
            r#"
            [simulation]
            steps = {steps}
            dt_ms = 0.1
            seed = 4
            [layers.n]
            kind = "lif"
            size = {neurons}
            current = "instantaneous"
            tau_v_ms = 20.0
            sigma = 1e9
            [generators.noise]
            layer = "n"
            kind = "noise"
            std = 1.0
            dt_ms = {:?}
            "#,
            m as f64 * 0.1
        ));
        let mut v = Vec::new();
        for n in 0..steps {
            s.step();
            if n >= burn_in && (n + 1) % m == 0 {
                v.extend(s.voltages("n").iter().map(|&x| x as f64));
            }
        }
        let rho = (1.0f64 - 0.005).powi(m as i32);
        let expected = (1.0 - rho) / (1.0 + rho);
        let var = moments(&v).1;
        let rel_se = (2.0 * (1.0 + rho * rho) / (v.len() as f64 * (1.0 - rho * rho))).sqrt();
        assert!(
            (var / expected - 1.0).abs() < 5.0 * rel_se,
            "m = {m}: {var} vs {expected} (±{})",
            5.0 * rel_se * expected
        );
    }
}

/// Every new input at once: a Poisson layer of 9000 (split between two
/// threads: more than 2 · 4096 rows), the spike file `path` (50 neurons),
/// a LIF layer of 9000 driven by both, by a noise generator redrawn every
/// 3 steps and by a sine on part of it.
fn every_input(path: &Path) -> String {
    format!(
        r#"
        [simulation]
        steps = 2000
        seed = 3
        [layers.p]
        kind = "poisson"
        size = 9000
        rate_hz = {{ kind = "uniform", low = 0.0, high = 60.0 }}
        [layers.f]
        kind = "spike_file"
        size = 50
        path = {}
        [layers.n]
        kind = "lif"
        size = 9000
        current = "exponential"
        tau_j_ms = 5.0
        sigma = 0.6
        t_ref_ms = 2.0
        [projections.pn]
        pre = "p"
        post = "n"
        delay = 3
        connectivity = {{ kind = "fixed_indegree", k = 20 }}
        weights = {{ kind = "uniform", low = 0.0, high = 0.1 }}
        [projections.fn]
        pre = "f"
        post = "n"
        delay = 2
        connectivity = {{ kind = "fixed_indegree", k = 5 }}
        weights = {{ kind = "constant", value = 0.2 }}
        [generators.noise]
        layer = "n"
        kind = "noise"
        mean = 0.02
        std = 0.1
        dt_ms = 3.0
        [generators.ac]
        layer = "n"
        neurons = [100, 5000]
        kind = "sin"
        amplitude = 0.03
        frequency_hz = 7.0
        "#,
        quoted(path)
    )
}

/// A CSV spike file of 50 neurons: neuron i spikes every 7 + i mod 13 ms,
/// from i mod 5 ms on.
fn regular_spikes(name: &str) -> PathBuf {
    let path = temp(name);
    let mut csv = String::new();
    for i in 0..50u32 {
        let period = 7 + i % 13;
        for k in 0..2000 / period {
            csv += &format!("{i},{}\n", k * period + i % 5);
        }
    }
    std::fs::write(&path, csv).unwrap();
    path
}

/// What the tests compare: the LIF layer's voltages and currents, every
/// layer's spikes of the last step and since the start.
fn observe(s: &mut Simulation) -> Vec<Vec<f32>> {
    let mut out = vec![s.voltages("n"), s.currents("n")];
    for layer in ["p", "f", "n"] {
        out.push(s.spikes(layer).iter().map(|&i| i as f32).collect());
        out.push(vec![s.spike_count(layer) as f32]);
    }
    out
}

#[test]
fn every_new_input_gives_the_same_results_on_one_and_two_threads() {
    let toml = every_input(&regular_spikes("threads.csv"));
    let mut one = sim_on(&toml, 1);
    let mut two = sim_on(&toml, 2);
    for n in 0..150 {
        one.step();
        two.step();
        assert_eq!(observe(&mut one), observe(&mut two), "step {n}");
    }
    assert!(one.spike_count("n") > 0 && one.spike_count("f") > 0);
}

#[test]
fn a_resumed_run_with_every_new_input_equals_an_uninterrupted_one() {
    // Saved after 301 steps (inside a noise interval, spikes of both inputs
    // in flight on their delays), restored into a rebuilt network on 1 and
    // 2 threads and run on: the same as a run that was never stopped.
    let toml = every_input(&regular_spikes("resume.csv"));
    let mut original = sim_on(&toml, 1);
    for _ in 0..301 {
        original.step();
    }
    let saved = original.resume_state();
    let mut reference = sim_on(&toml, 1);
    for _ in 0..301 {
        reference.step();
    }
    let mut resumed: Vec<Simulation> = [1, 2]
        .into_iter()
        .map(|threads| {
            let mut s = sim_on(&toml, threads);
            s.restore_resume_state(&saved).unwrap();
            s
        })
        .collect();
    for n in 301..600 {
        reference.step();
        let expected = observe(&mut reference);
        for (k, s) in resumed.iter_mut().enumerate() {
            s.step();
            assert_eq!(observe(s), expected, "{} threads, step {n}", k + 1);
        }
    }
    assert!(reference.spike_count("n") > 0);
}

/// `spikesim run` of `toml` fails with exit code 2, one `error:` line
/// containing `needle`, and no output file.
fn rejected(toml: &str, needle: &str) {
    let name: String = needle
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect();
    let cfg = temp(&format!("bad-{name}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    let out = temp(&format!("bad-{name}.h5"));
    let o = spikesim(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "{needle}: {err}");
    assert!(!out.exists(), "no output file for {needle}");
}

#[test]
fn bad_spike_files_are_one_line_errors_with_exit_code_2() {
    let file = |name: &str, text: &str| {
        let p = temp(name);
        std::fs::write(&p, text).unwrap();
        quoted(&p)
    };
    let layer = |path: String| {
        format!(
            "[simulation]\nsteps = 10\n[layers.f]\nkind = \"spike_file\"\nsize = 5\npath = {path}\n"
        )
    };
    rejected(&layer(quoted(&temp("missing.h5"))), "No such file");
    let big = file("big-id.csv", "1,2.0\n7,3.0\n");
    rejected(&layer(big), "layers.f.path: ");
    let big = file("big-id2.csv", "7,3.0\n");
    rejected(
        &layer(big),
        "line 1: node id 7 is not below the layer's size (5)",
    );
    let negative = file("negative.csv", "1,-1.5\n");
    rejected(&layer(negative), "spike time -1.5 ms of node 1");
    let twice = file("twice.csv", "2,3.0\n2,3.2\n");
    rejected(&layer(twice), "node 2 spikes twice in step 3");
    let garbled = file("garbled.csv", "node_id,time_ms\n1;2\n");
    rejected(&layer(garbled), "line 2: '1;2' is not node_id,time_ms");
    let not_hdf5 = file("not-hdf5.h5", "hello");
    rejected(&layer(not_hdf5), "not a readable HDF5 file");
    let two = run_file(
        "two-populations",
        &replay_network("kind = \"poisson\"\nsize = 5\nrate_hz = 40.0"),
    );
    rejected(&layer(quoted(&two)), "2 populations under /spikes (src, n)");
    rejected(
        &format!("{}population = \"x\"\n", layer(quoted(&two))),
        "no population 'x' under /spikes; it has: src, n",
    );
    // Not even --force writes over a file the run reads.
    let cfg = temp("own-input.toml");
    let chosen = format!("{}population = \"src\"\n", layer(quoted(&two)));
    std::fs::write(&cfg, chosen).unwrap();
    let o = spikesim(&[
        "run",
        cfg.to_str().unwrap(),
        "--out",
        two.to_str().unwrap(),
        "--force",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is the run's spike file"), "{err}");
    assert!(two.exists());
    let csv = file("population.csv", "1,2.0\n");
    rejected(
        &format!("{}population = \"x\"\n", layer(csv)),
        "layers.f.population: a CSV file",
    );
}

#[test]
fn bad_poisson_layers_and_generators_are_one_line_errors_with_exit_code_2() {
    let poisson = |rate: &str| poisson_layer(4, rate, 10);
    rejected(
        &poisson("2000.0"),
        "layers.p.rate_hz: 2000 Hz at dt 1 ms gives a spike probability 2 > 1; allowed: rate_hz <= 1000",
    );
    rejected(&poisson("-1.0"), "layers.p.rate_hz: must be >= 0");
    rejected(
        &poisson("[1.0, 2.0, 3.0]"),
        "layers.p.rate_hz: 3 rates for 4 neurons",
    );
    rejected(
        &poisson("[1.0, 1e4, 3.0, 4.0]"),
        "layers.p.rate_hz[1]: 10000 Hz",
    );
    rejected(
        &poisson("{ kind = \"normal\", mean = 2000.0, std = 1.0 }"),
        "layers.p.rate_hz (neuron 0): ",
    );
    rejected(
        &poisson("\"fast\""),
        "layers.p.rate_hz: invalid type: string \"fast\", expected a rate in Hz",
    );
    let generator = |fields: &str| {
        format!(
            "{}[layers.n]\nkind = \"lif\"\nsize = 3\n[generators.g]\n{fields}\n",
            poisson("5.0")
        )
    };
    for (fields, needle) in [
        (
            "layer = \"n\"\nkind = \"pulse\"",
            "generators.g.kind: unknown kind 'pulse'; allowed: dc, step, noise, sin",
        ),
        (
            "layer = \"n\"\namplitude = 1.0",
            "generators.g.kind: required",
        ),
        (
            "kind = \"dc\"\namplitude = 1.0",
            "generators.g.layer: required",
        ),
        (
            "layer = \"n\"\nkind = \"dc\"\namplitud = 1.0",
            "generators.g.amplitud: unknown field `amplitud`, expected `amplitude`",
        ),
        (
            "layer = \"p\"\nkind = \"dc\"\namplitude = 1.0",
            "generators.g.layer: layer 'p' is a poisson layer; generators drive neuron layers",
        ),
        (
            "layer = \"m\"\nkind = \"dc\"\namplitude = 1.0",
            "generators.g.layer: unknown layer 'm'",
        ),
        (
            "layer = \"n\"\ntarget = \"exc\"\nkind = \"dc\"\namplitude = 1.0",
            "generators.g.target: layer 'n' has no synaptic current 'exc'; it has: default",
        ),
        (
            "layer = \"n\"\nneurons = [2, 4]\nkind = \"dc\"\namplitude = 1.0",
            "generators.g.neurons: [2, 4) is not a range",
        ),
        (
            "layer = \"n\"\nkind = \"noise\"\nstd = 1.0\ndt_ms = 1.5",
            "generators.g.dt_ms: 1.5 ms is not a whole number of time steps of 1 ms",
        ),
        (
            "layer = \"n\"\nkind = \"noise\"\nstd = -1.0",
            "generators.g.std: must be >= 0",
        ),
        (
            "layer = \"n\"\nkind = \"step\"\namplitude = 1.0\nstart_ms = 5.0\nstop_ms = 2.0",
            "generators.g.stop_ms: must be >= start_ms (5)",
        ),
        (
            "layer = \"n\"\nkind = \"sin\"\namplitude = 1.0",
            "generators.g: missing field `frequency_hz`",
        ),
    ] {
        rejected(&generator(fields), needle);
    }
}

#[test]
fn a_protocol_run_refuses_inputs_that_change_with_time() {
    // A protocol's images run on copies of the network with clocks of their
    // own: a Poisson or spike-file layer, or a generator that changes with
    // time, would make the results depend on the thread count. A dc
    // generator is allowed.
    let config = repo("experiments/digits-stdp.toml");
    let load = |set: &str| Config::load(&config, &[set.to_owned()]);
    let e = load("layers.extra={ kind = \"poisson\", size = 3, rate_hz = 5.0 }").unwrap_err();
    assert!(
        e.0.contains("layers.extra.kind: a poisson layer is not allowed in a [protocol] run"),
        "{e}"
    );
    let e = load(
        "generators.g={ layer = \"exc\", kind = \"sin\", amplitude = 1.0, frequency_hz = 5.0 }",
    )
    .unwrap_err();
    assert!(
        e.0.contains("generators.g.kind: a sin generator changes with time"),
        "{e}"
    );
    load("generators.g={ layer = \"exc\", kind = \"dc\", amplitude = 1.0 }").unwrap();
}

#[test]
fn the_new_keys_round_trip_through_the_resolved_config() {
    // The resolved config (what the output file stores and a resume
    // compares) reads back to itself, with every kind of rate and generator.
    let mut text = every_input(&regular_spikes("round-trip.csv"));
    text += r#"
        [layers.q]
        kind = "poisson"
        size = 2
        rate_hz = [1.0, 2.5]
        [layers.r]
        kind = "poisson"
        size = 2
        rate_hz = 7
        [generators.dc]
        layer = "n"
        target = "default"
        kind = "dc"
        amplitude = 0.1
        [generators.pulse]
        layer = "n"
        kind = "step"
        amplitude = 0.1
        start_ms = 1.0
        stop_ms = 2.0
    "#;
    let resolved = Config::from_toml(&text, &[]).unwrap().to_toml();
    assert!(resolved.contains("rate_hz = [1.0, 2.5]"), "{resolved}");
    assert!(resolved.contains("rate_hz = 7.0"), "{resolved}");
    assert_eq!(
        Config::from_toml(&resolved, &[]).unwrap().to_toml(),
        resolved
    );
}
