//! The model's equations against numbers derived by hand or in closed form.

use spikesim::data::ImageSet;
use spikesim::step::Plasticity;
use spikesim::{Config, Simulation};

mod common;

use common::{CONDUCTANCE_NEURON, close, sim, sim_with_image};

/// Steps `n` times and returns the steps at which neuron 0 of `layer` spiked.
fn spike_steps(s: &mut Simulation, layer: &str, n: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for step in 0..n {
        s.step();
        if s.spikes(layer).contains(&0) {
            out.push(step);
        }
    }
    out
}

/// One neuron, instantaneous current, constant external current I = 2,
/// dt = 1, τ_v = 10, k_v = r = 1, v_rest = 0, σ = 1.
const CONSTANT_DRIVE: &str = r#"
    [simulation]
    steps = 30
    [layers.n]
    kind = "lif"
    size = 1
    current = "instantaneous"
    tau_v_ms = 10.0
    sigma = 1.0
    i_ext = 2.0
"#;

#[test]
fn lif_constant_current_spikes_at_the_derived_steps() {
    // J = 2 every step; V(n) = V(n-1) + 0.1·(−V(n-1) + 2) = 0.9·V(n-1) + 0.2.
    // From V(-1) = 0: V(n) = 2·(1 − 0.9^(n+1)).
    //   V(0) = 0.2, V(1) = 0.38, V(5) = 2·(1 − 0.9^6) = 0.9371 < 1,
    //   V(6) = 2·(1 − 0.9^7) = 1.0434 >= 1  -> first spike at step 6.
    // The reset puts V back to 0, so the same 7-step cycle repeats:
    // spikes at 6, 13, 20, 27 within 30 steps.
    let mut s = sim(CONSTANT_DRIVE);
    s.step();
    assert!(close(s.voltages("n")[0], 0.2, 1e-6));
    s.step();
    assert!(close(s.voltages("n")[0], 0.38, 1e-6));
    let mut s = sim(CONSTANT_DRIVE);
    assert_eq!(spike_steps(&mut s, "n", 30), vec![6, 13, 20, 27]);
}

#[test]
fn lif_reset_and_refractory_hold_exactly() {
    // As above with t_ref = 2 ms: after the spike at 6, V is held at v_reset
    // at steps 7 and 8, then integration restarts from v_reset at step 9 as
    // it started from 0 at step 0: the cycle is 7 + 2 = 9 steps, spikes at
    // 6, 15, 24.
    let toml = format!("{CONSTANT_DRIVE}\nt_ref_ms = 2.0\n");
    let mut s = sim(&toml);
    assert_eq!(spike_steps(&mut s, "n", 30), vec![6, 15, 24]);
    // With v_reset = −0.5: V(6) = v_reset right after the spike, V(7) = V(8) = −0.5
    // (held), V(9) = −0.5 + 0.1·(0.5 + 2) = −0.25.
    let mut s = sim(&format!("{toml}\nv_reset = -0.5\n"));
    let mut v = Vec::new();
    for _ in 0..10 {
        s.step();
        v.push(s.voltages("n")[0]);
    }
    assert_eq!(&v[6..9], &[-0.5, -0.5, -0.5]);
    assert!(close(v[9], -0.25, 1e-6), "{}", v[9]);
}

/// Steps `n` times; neuron 0's voltage after each step and the steps at
/// which it spiked.
fn voltages_and_spikes(s: &mut Simulation, n: u64) -> (Vec<f32>, Vec<u64>) {
    let mut v = Vec::new();
    let mut spikes = Vec::new();
    for step in 0..n {
        s.step();
        v.push(s.voltages("n")[0]);
        if s.spikes("n").contains(&0) {
            spikes.push(step);
        }
    }
    (v, spikes)
}

#[test]
fn spike_lockout_outlasts_the_voltage_hold() {
    // As above with t_ref_spike = 10 ms (t_ref 0): after the spike at 6 the
    // voltage integrates from 0 at once, V(6 + m) = 2·(1 − 0.9^m), and is
    // above 1 from m = 7 (step 13), but the neuron cannot spike at steps
    // 7..=16 (10 steps); at 17 (m = 11) V = 2·(1 − 0.9^11) = 1.3724 → spike.
    // The cycle is 11 steps: spikes at 6, 17, 28.
    let toml = format!("{CONSTANT_DRIVE}\nt_ref_spike_ms = 10.0\n");
    let (v, spikes) = voltages_and_spikes(&mut sim(&toml), 30);
    assert_eq!(spikes, vec![6, 17, 28]);
    let after_reset = |m: i32| 2.0 * (1.0 - 0.9f64.powi(m));
    assert!(close(v[13], after_reset(7), 1e-5), "{}", v[13]);
    assert!(close(v[16], after_reset(10), 1e-5), "{}", v[16]);
    // With t_ref = 2 ms as well, V is held at 0 at steps 7 and 8 and
    // restarts at 9: V(13) = 2·(1 − 0.9^5) = 0.8190; the lock still ends
    // after step 16, and V(17) = 2·(1 − 0.9^9) = 1.2252 → spike at 17.
    let (v, spikes) = voltages_and_spikes(&mut sim(&format!("{toml}\nt_ref_ms = 2.0\n")), 18);
    assert_eq!(spikes, vec![6, 17]);
    assert_eq!(&v[7..9], &[0.0, 0.0]);
    assert!(close(v[13], after_reset(5), 1e-5), "{}", v[13]);
    assert!(
        close(v[17], 0.0, 1e-6),
        "reset after the spike at 17: {}",
        v[17]
    );
}

#[test]
fn continuous_current_decays_geometrically() {
    // A 10 nA pulse during step 0 only (window [0, 1) ms), τ_j = 5, k_j = 1:
    // J(0) = 0 + (1/5)·(0 + 10) = 2, then with no input
    // J(n) = J(n-1)·(1 − k_j·dt/τ_j) = 2·0.8^n; J(10) = 2·0.8^10 = 0.2147483648.
    // Voltage (τ_v = 10): V(0) = 0.1·2 = 0.2, V(1) = 0.2 + 0.1·(−0.2 + 1.6) = 0.34.
    let mut s = sim(r#"
        [simulation]
        steps = 20
        [layers.n]
        kind = "lif"
        size = 1
        current = "continuous"
        tau_j_ms = 5.0
        tau_v_ms = 10.0
        sigma = 1e9
        step_current = { start_ms = 0.0, stop_ms = 1.0, amplitude = 10.0 }
    "#);
    let mut j = Vec::new();
    let mut v = Vec::new();
    for _ in 0..11 {
        s.step();
        j.push(s.currents("n")[0]);
        v.push(s.voltages("n")[0]);
    }
    for (n, &jn) in j.iter().enumerate() {
        assert!(
            close(jn, 2.0 * 0.8f64.powi(n as i32), 1e-5),
            "J({n}) = {jn}"
        );
    }
    assert!(close(j[10], 0.2147483648, 1e-5));
    assert!(close(v[0], 0.2, 1e-6) && close(v[1], 0.34, 1e-6), "{v:?}");
}

#[test]
fn instantaneous_current_is_this_steps_input() {
    // Step current of 1.5 on [3, 5) ms at dt = 1: J = 0 at steps 0–2,
    // 1.5 at 3 and 4, 0 from 5 on (no memory).
    let mut s = sim(r#"
        [simulation]
        steps = 8
        [layers.n]
        kind = "lif"
        size = 1
        current = "instantaneous"
        sigma = 1e9
        step_current = { start_ms = 3.0, stop_ms = 5.0, amplitude = 1.5 }
    "#);
    let j: Vec<f32> = (0..8)
        .map(|_| {
            s.step();
            s.currents("n")[0]
        })
        .collect();
    assert_eq!(j, vec![0.0, 0.0, 0.0, 1.5, 1.5, 0.0, 0.0, 0.0]);
}

/// Encoder layer `in` of 1000 neurons shown one image for 200 steps.
fn encoder_toml(encoding: &str) -> String {
    format!(
        r#"
        [layers.in]
        kind = "encoder"
        size = 1000
        {encoding}
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 200
    "#
    )
}

/// Spike counts of `in` per pixel group over 200 steps; the image has 250
/// pixels at 0, 250 at 255 and 500 at 64 (intensity 64/255).
fn encoder_counts(encoding: &str) -> [u64; 3] {
    let mut pixels = vec![0u8; 250];
    pixels.extend([255u8; 250]);
    pixels.extend([64u8; 500]);
    let mut s = sim_with_image(&encoder_toml(encoding), pixels);
    let mut counts = [0u64; 3];
    for _ in 0..200 {
        s.step();
        for i in s.spikes("in") {
            counts[match i {
                0..250 => 0,
                250..500 => 1,
                _ => 2,
            }] += 1;
        }
    }
    counts
}

/// |k/n − p| within 4 standard errors sqrt(p(1−p)/n).
fn within_4_se(k: u64, n: u64, p: f64) -> bool {
    let se = (p * (1.0 - p) / n as f64).sqrt();
    (k as f64 / n as f64 - p).abs() <= 4.0 * se
}

#[test]
fn bernoulli_encoder_spike_probability() {
    // gain 1: p = x. 500 neurons × 200 steps = 10^5 trials at x = 64/255.
    // Intensity 0 never spikes; intensity 1 always does (50 000 of 50 000).
    let [zero, one, mid] = encoder_counts("encoding = \"bernoulli\"");
    assert_eq!(zero, 0);
    assert_eq!(one, 250 * 200);
    assert!(within_4_se(mid, 100_000, 64.0 / 255.0), "{mid}");
    // gain 2: p = min(1, 2x) = 128/255 for the middle group.
    let [_, _, mid] = encoder_counts("encoding = \"bernoulli\"\ngain = 2.0");
    assert!(within_4_se(mid, 100_000, 128.0 / 255.0), "{mid}");
}

#[test]
fn encoders_follow_each_change_of_intensity_at_once() {
    // Two encoder layers of 70 (one table, rows of a then b), gain 1 and 2.
    // At x = 0.5, b's p = min(1, 2·0.5) = 1: all of b spikes every step, a
    // about half. Each change of the intensities, made between steps, holds
    // from the next step on: the encoders keep which rows can spike and
    // their thresholds only while the intensities stay.
    let mut s = sim(r#"
        [simulation]
        steps = 100
        [layers.a]
        kind = "encoder"
        size = 70
        [layers.b]
        kind = "encoder"
        size = 70
        gain = 2.0
    "#);
    let count = |s: &mut Simulation, layer: &str, steps: usize| -> usize {
        (0..steps)
            .map(|_| {
                s.step();
                s.spikes(layer).len()
            })
            .sum()
    };
    assert_eq!(count(&mut s, "a", 3) + count(&mut s, "b", 3), 0, "all dark");
    s.set_intensities("a", &[0.5; 70]);
    s.set_intensities("b", &[0.5; 70]);
    s.step();
    assert_eq!(s.spikes("b").len(), 70, "p = 1 from the first step");
    // a: 70 · 20 trials at p = 0.5, mean 700, sd sqrt(1400 · 0.25) = 18.7.
    let a = count(&mut s, "a", 20);
    assert!(a.abs_diff(700) < 4 * 19, "{a}");
    s.set_intensities("a", &[1.0; 70]);
    s.step();
    assert_eq!(s.spikes("a").len(), 70, "p = 1 at once");
    // Only the first ten of b lit, then everything dark.
    let mut x = vec![0.0; 70];
    x[..10].fill(1.0);
    s.set_intensities("b", &x);
    s.step();
    assert_eq!(s.spikes("b"), (0..10).collect::<Vec<u32>>());
    s.set_intensities("a", &[0.0; 70]);
    s.set_intensities("b", &[0.0; 70]);
    assert_eq!(
        count(&mut s, "a", 3) + count(&mut s, "b", 3),
        0,
        "dark again"
    );
}

#[test]
fn split_encoder_layer_gives_the_same_spikes_on_one_and_two_threads() {
    // 9000 encoders are over 2 × 4096 rows, so two threads split them in two
    // parts (the lit rows found by search in each); the image (a third of
    // the pixels lit, at different intensities) is shown for 15 steps, then
    // 5 of rest, then again (the presentations cycle through the set).
    // Every step's spikes must be the same.
    let pixels: Vec<u8> = (0..9000u32)
        .map(|i| if i % 3 == 0 { (i % 251) as u8 + 5 } else { 0 })
        .collect();
    let spikes = |threads: usize| -> Vec<Vec<u32>> {
        let toml = format!(
            r#"
            [simulation]
            threads = {threads}
            [layers.in]
            kind = "encoder"
            size = 9000
            [stimulus]
            layer = "in"
            images = 1
            steps_per_image = 15
            rest_steps = 5
        "#
        );
        let mut s = sim_with_image(&toml, pixels.clone());
        (0..40)
            .map(|_| {
                s.step();
                s.spikes("in")
            })
            .collect()
    };
    let one = spikes(1);
    assert!(one[..15].iter().all(|v| !v.is_empty()) && one[15..20].iter().all(Vec::is_empty));
    assert_eq!(one, spikes(2));
}

#[test]
fn poisson_encoder_spike_probability() {
    // p = x·max_rate·dt/1000: 63.75 Hz at dt = 1 ms gives 0.06375 at x = 1
    // (50 000 trials) and 0.06375·64/255 = 0.016 at x = 64/255 (10^5 trials).
    let [zero, one, mid] = encoder_counts("encoding = \"poisson\"\nmax_rate_hz = 63.75");
    assert_eq!(zero, 0);
    assert!(within_4_se(one, 50_000, 0.06375), "{one}");
    assert!(within_4_se(mid, 100_000, 0.06375 * 64.0 / 255.0), "{mid}");
}

#[test]
fn global_threshold_update_follows_the_rule() {
    // 3 identical neurons driven to spike at step 6 (the constant-drive cycle).
    // σ(n) = max(σ_min, σ(n-1) + η (count − target)), η = 0.01, target = 1:
    // steps 0–5 are silent: σ = 1 − 6·0.01 = 0.94 after step 5, but σ_min = 0.95
    // stops it there from step 5 on (0.96 after step 4, then 0.95).
    // Step 5: V(5) = 0.9371 < 0.95, silent. Step 6: V(6) = 1.0434 >= 0.95,
    // 3 spikes: σ = 0.95 + 0.01·(3 − 1) = 0.97.
    let toml = CONSTANT_DRIVE.replace("size = 1", "size = 3")
        + "threshold.global = { eta = 0.01, target = 1.0, sigma_min = 0.95 }\n";
    let mut s = sim(&toml);
    let mut sigma = Vec::new();
    for _ in 0..7 {
        s.step();
        sigma.push(s.sigma("n"));
    }
    let expect = [0.99, 0.98, 0.97, 0.96, 0.95, 0.95, 0.97];
    // σ is an f64: a few steps of f64 rounding (≤ 1.1·10^-16 each) from the
    // decimal values.
    for (n, (&got, want)) in sigma.iter().zip(expect).enumerate() {
        assert!((got - want).abs() < 1e-12, "σ({n}) = {got}, want {want}");
    }
    assert_eq!(s.spikes("n"), vec![0, 1, 2]);
}

#[test]
fn global_threshold_accumulates_in_f64_without_drift() {
    // A silent layer (no input: V = v_rest = 0 < σ throughout) with
    // target = 1 loses η = 0.001 mV of σ every step:
    //   σ(n) = σ(n−1) + η·(0 − 1),  so  σ(N) = σ0 − N·η = 50 − 10^4·0.001 = 40 mV.
    // In f64 each step rounds by at most half an ulp of σ ∈ [40, 50]
    // (ulp 2^-47 ≈ 7.1·10^-15), so after N = 10^4 steps |σ − 40| ≤ 10^4·3.6·10^-15
    // = 3.6·10^-11 mV; 10^-10 leaves room.
    // In f32 (what σ was) an ulp in [32, 64) is 2^-18 mV and η = 262.144 ulps,
    // so every step's sum rounds to exactly 262 ulps:
    //   σ_f32(N) = 50 − 10^4·262·2^-18 = 50 − 9.9945068359375 = 40.0054931640625,
    // 5.5·10^-3 mV off after 10^4 steps.
    let toml = r#"
        [simulation]
        steps = 10000
        [layers.n]
        kind = "lif"
        size = 2
        sigma = 50.0
        threshold.global = { eta = 0.001, target = 1.0, sigma_min = 0.0 }
    "#;
    let mut s = sim(toml);
    for _ in 0..10_000 {
        s.step();
    }
    assert_eq!(s.spike_count("n"), 0, "the layer must stay silent");
    let sigma = s.sigma("n");
    assert!((sigma - 40.0).abs() < 1e-10, "σ(10^4) = {sigma}, want 40");
    // The same recurrence in f32 gives the derived drift.
    let mut sigma32 = 50.0f32;
    for _ in 0..10_000 {
        sigma32 += 0.001f32 * (0.0 - 1.0);
    }
    assert_eq!(f64::from(sigma32), 40.005_493_164_062_5);
    // The threshold recordable rounds σ to f32 (θ = 0): 40 exactly.
    assert_eq!(s.read("n", "threshold").unwrap(), vec![40.0; 2]);
}

#[test]
fn global_threshold_brings_a_driven_layer_to_target() {
    // 200 Bernoulli inputs at p ≈ 0.5 into 100 neurons through random weights
    // U[0, 0.1]: each neuron gets ≈ 100·0.05 = 5 nA, far above σ = 1, so
    // without adaptation most neurons fire every few steps (tens of spikes
    // per step). The update telescopes: σ(T1) − σ(T0) = η Σ_{n in (T0,T1]} (count(n) − target),
    // so over a window of T steps the mean count misses the target by exactly
    // Δσ/(ηT). Once σ has settled, Δσ over the window is a few η·count, so
    // over T = 3000 steps the error is a few hundredths; 0.1 spikes per step
    // (10% of the target) leaves room for that.
    let toml = r#"
        [layers.in]
        kind = "encoder"
        size = 200
        [layers.h]
        kind = "lif"
        size = 100
        current = "continuous"
        sigma = 1.0
        threshold.global = { eta = 0.01, target = 1.0 }
        [projections.p]
        pre = "in"
        post = "h"
        weights = { kind = "uniform", low = 0.0, high = 0.1 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 5000
    "#;
    let pixels: Vec<u8> = (0..200).map(|i| if i % 2 == 0 { 255 } else { 0 }).collect();
    let mut s = sim_with_image(toml, pixels);
    for _ in 0..2000 {
        s.step();
    }
    let sigma0 = s.sigma("h");
    let mut total = 0usize;
    for _ in 0..3000 {
        s.step();
        total += s.spikes("h").len();
    }
    let mean = total as f64 / 3000.0;
    let identity = (s.sigma("h") - sigma0) / (0.01 * 3000.0);
    // σ is an f64: the identity holds to f64 rounding (3000 steps of ≤ 2^-52
    // relative on σ of order 1, divided by ηT = 30).
    assert!(
        (mean - 1.0 - identity).abs() < 1e-9,
        "mean {mean}, Δσ/(ηT) {identity}"
    );
    assert!((mean - 1.0).abs() < 0.1, "mean spikes per step {mean}");
    assert!(s.sigma("h") > 1.0, "σ rose from 1.0 to {}", s.sigma("h"));
}

#[test]
fn individual_threshold_jumps_and_decays() {
    // Constant drive (first spike at step 6) with β = 0.5, τ_θ = 10 ms:
    // θ(6) = 0.5; then θ(n) = θ(n-1)·(1 − 0.1): θ(7) = 0.45, θ(8) = 0.405.
    let toml =
        format!("{CONSTANT_DRIVE}\nthreshold.individual = {{ tau_theta_ms = 10.0, beta = 0.5 }}\n");
    let mut s = sim(&toml);
    let mut theta = Vec::new();
    for _ in 0..9 {
        s.step();
        theta.push(s.thetas("n")[0]);
    }
    assert_eq!(&theta[..6], &[0.0; 6]);
    assert!(
        close(theta[6], 0.5, 1e-6) && close(theta[7], 0.45, 1e-6) && close(theta[8], 0.405, 1e-6),
        "{theta:?}"
    );
}

#[test]
fn threshold_offset_starts_at_theta_init() {
    // Constant drive (V(n) = 2·(1 − 0.9^(n+1))) against σ = 1 and θ(0) = 0.3
    // decaying with τ_θ = 10^7 ms (3·10^-8 per step, negligible): the first
    // n with V(n) >= 1.3 is n = 9 (V(8) = 1.2252, V(9) = 1.3026), instead
    // of 6 without the offset.
    let toml = format!(
        "{CONSTANT_DRIVE}\nthreshold.individual = {{ tau_theta_ms = 1e7, beta = 0.0, theta_init = 0.3 }}\n"
    );
    let mut s = sim(&toml);
    assert_eq!(spike_steps(&mut s, "n", 10), vec![9]);
}

#[test]
fn slow_threshold_decay_is_not_lost_to_rounding() {
    // dt = 0.5 ms, τ_θ = 10^7 ms (Diehl & Cook): each step takes 5·10^-8 of θ,
    // less than half an f32 ulp of θ. One spike at step 0 (a 40 nA pulse:
    // V(0) = 0.05·40 = 2 >= σ = 1) sets θ = β = 10, then nothing drives the
    // neuron; after 100,000 more steps θ = 10·(1 − 5·10^-8)^100000
    // = 10·e^(−0.005) = 9.950125 (an f32 θ would still read 10).
    let toml = r#"
        [simulation]
        dt_ms = 0.5
        steps = 100001
        [layers.n]
        kind = "lif"
        size = 1
        current = "instantaneous"
        tau_v_ms = 10.0
        sigma = 1.0
        step_current = { start_ms = 0.0, stop_ms = 0.5, amplitude = 40.0 }
        threshold.individual = { tau_theta_ms = 1e7, beta = 10.0 }
    "#;
    let mut s = sim(toml);
    s.step();
    assert_eq!(s.spikes("n"), vec![0]);
    assert_eq!(s.thetas("n")[0], 10.0);
    s.run_silent(100_000);
    let theta = s.thetas("n")[0];
    assert!(close(theta, 9.950_125, 1e-6), "{theta}");
}

#[test]
fn frozen_thresholds_keep_their_values_and_still_apply() {
    // As above (θ(6) = 0.5, θ(7) = 0.45), then thresholds frozen from step 8
    // on: θ stays 0.45 exactly while the neuron keeps spiking against σ + θ.
    // Restarting from V = 0 after the spike at 6 (the 7-step cycle), the
    // next crossing of σ + θ = 1.45 needs V(n) = 2·(1 − 0.9^(k+1)) >= 1.45,
    // 0.9^(k+1) <= 0.275, k + 1 >= 12.25: the 13th step after the reset,
    // step 7 + 12 = 19. (Unfrozen, θ would decay by 0.9 a step and the
    // first n with 2·(1 − 0.9^(n−6)) >= 1 + 0.45·0.9^(n−7) is n = 15.)
    let toml =
        format!("{CONSTANT_DRIVE}\nthreshold.individual = {{ tau_theta_ms = 10.0, beta = 0.5 }}\n");
    let mut s = sim(&toml);
    for _ in 0..8 {
        s.step();
    }
    assert!(close(s.thetas("n")[0], 0.45, 1e-6));
    s.set_plasticity(Plasticity {
        stdp: true,
        thresholds: false,
    });
    let frozen = s.thetas("n")[0];
    let mut spikes = Vec::new();
    for n in 8..21 {
        s.step();
        assert_eq!(s.thetas("n")[0], frozen, "step {n}");
        if s.spikes("n").contains(&0) {
            spikes.push(n);
        }
    }
    assert_eq!(spikes, vec![19]);
}

#[test]
fn individual_threshold_rises_most_for_the_busiest_neuron() {
    // Two inputs, always (pixel 255) and rarely (pixel 25, p ≈ 0.1), one-to-one
    // into two neurons with weight 1: neuron 0 fires far more often, so its θ ends higher.
    let toml = r#"
        [layers.in]
        kind = "encoder"
        size = 2
        [layers.h]
        kind = "lif"
        size = 2
        current = "instantaneous"
        tau_v_ms = 2.0
        sigma = 0.4
        threshold.individual = { tau_theta_ms = 1000.0, beta = 0.05 }
        [projections.p]
        pre = "in"
        post = "h"
        connectivity = { kind = "one_to_one" }
        weights = { kind = "constant", value = 1.0 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 500
    "#;
    let mut s = sim_with_image(toml, vec![255, 25]);
    let mut counts = [0; 2];
    for _ in 0..500 {
        s.step();
        for i in s.spikes("h") {
            counts[i as usize] += 1;
        }
    }
    let theta = s.thetas("h");
    assert!(counts[0] > counts[1] && counts[1] > 0, "{counts:?}");
    assert!(theta[0] > theta[1] && theta[1] > 0.0, "{theta:?}");
}

/// Encoders 0 and 2 spike every step (pixel 255), 1 and 3 never; `a` projects
/// densely into `out` with random weights and delay 2; `b` adds a constant
/// −0.25 with delay 1 (negative: inhibitory).
const DELIVERY: &str = r#"
    [layers.in]
    kind = "encoder"
    size = 4
    [layers.out]
    kind = "lif"
    size = 3
    current = "instantaneous"
    sigma = 1e9
    [projections.a]
    pre = "in"
    post = "out"
    delay = 2
    weights = { kind = "normal", mean = 1.0, std = 0.5 }
    [projections.b]
    pre = "in"
    post = "out"
    connectivity = { kind = "fixed_indegree", k = 4 }
    weights = { kind = "constant", value = -0.25 }
    [stimulus]
    layer = "in"
    images = 1
    steps_per_image = 10
"#;

#[test]
fn delivery_sums_weights_of_exactly_the_spikes_delay_steps_earlier() {
    // I_i(n) = Σ_p Σ_{j spiked at n − d_p} W_p[j, i], with spikes {0, 2} at every step:
    //   n = 0: nothing has arrived: I = 0.
    //   n = 1: only b (delay 1): I = 2·(−0.25) = −0.5.
    //   n >= 2: a and b: I_i = W_a[0, i] + W_a[2, i] − 0.5.
    // With instantaneous current J = I, so the currents show the input.
    // The update zeroes each input slot as it reads it, unless the layer's
    // `input` is recorded (then the slot is zeroed a step later): both ways
    // must give these numbers.
    let recorded = format!("{DELIVERY}\n[[record.traces]]\nlayer = \"out\"\nvars = [\"input\"]");
    for toml in [DELIVERY, recorded.as_str()] {
        check_delivery_sums(sim_with_image(toml, vec![255, 0, 255, 0]));
    }
}

fn check_delivery_sums(mut s: Simulation) {
    let w = s.weights("a");
    let mut j = Vec::new();
    for _ in 0..4 {
        s.step();
        j.push(s.currents("out"));
    }
    assert_eq!(j[0], vec![0.0; 3]);
    assert_eq!(j[1], vec![-0.5; 3]);
    for (i, &got) in j[2].iter().enumerate() {
        // Slot 2 received a's row 0 and row 2 at step 1 (spikes of step 0,
        // delay 2), then b's two −0.25 at step 2 (spikes of step 1, delay 1):
        // the f32 sum in exactly that order.
        let want = 0.0 + w.get(0, i).unwrap() + w.get(2, i).unwrap() - 0.25 - 0.25;
        assert_eq!(got, want, "i={i}");
        assert_eq!(j[3][i], j[2][i]);
    }
}

#[test]
fn delivery_work_follows_spikes() {
    // Silent inputs: no synaptic event at all.
    let mut s = sim_with_image(DELIVERY, vec![0, 0, 0, 0]);
    for _ in 0..10 {
        s.step();
    }
    assert_eq!(s.synapse_events(), 0);
    // Two inputs spiking every step: step n delivers the spikes of n − 1, so
    // 10 steps deliver 9 steps × 2 spikes × (3 targets in a + 3 in b) = 108 events.
    let mut s = sim_with_image(DELIVERY, vec![255, 0, 255, 0]);
    for _ in 0..10 {
        s.step();
    }
    assert_eq!(s.synapse_events(), 108);
}

#[test]
fn rest_and_reset_between_images() {
    // steps_per_image 3, rest 2: the encoder spikes (pixel 255) at steps 0–2,
    // 5–7, and is silent at 3, 4, 8, 9.
    let toml = DELIVERY
        .replace(
            "steps_per_image = 10",
            "steps_per_image = 3\nrest_steps = 2\nreset_between = true",
        )
        .replace("images = 1", "images = 2");
    let config = Config::from_toml(&toml, &[]).unwrap();
    let images = ImageSet {
        name: "t".into(),
        rows: 1,
        cols: 4,
        pixels: vec![255, 0, 255, 0, 255, 0, 255, 0],
        labels: vec![0, 1],
    };
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let mut active = Vec::new();
    let mut currents = Vec::new();
    for _ in 0..10 {
        s.step();
        active.push(!s.spikes("in").is_empty());
        currents.push(s.currents("out")[0]);
    }
    assert_eq!(
        active,
        [
            true, true, true, false, false, true, true, true, false, false
        ]
    );
    // At step 5 the reset clears pending input (spikes of step 4: none anyway,
    // and a's delay-2 spikes of step 3: none) and J: J(5) = 0 since nothing
    // of steps 3–4 was emitted; without the reset J(5) would be 0 too for an
    // instantaneous current, so check the state was zeroed: J(4) = input of
    // step 4 = a's spikes from step 2 (W_a[0,0] + W_a[2,0]) and b's from step 3 (none).
    let w = s.weights("a");
    assert!(close(
        currents[4],
        (w.get(0, 0).unwrap() + w.get(2, 0).unwrap()) as f64,
        1e-6
    ));
    assert_eq!(currents[5], 0.0);
}

#[test]
fn exponential_current_jumps_by_the_weight_and_decays_exactly() {
    // Encoder 0 spikes every step into one neuron with weight 0.5 (delay 1),
    // current "exponential", τ = 5 ms, dt = 1: d = exp(−1/5) = 0.818730753.
    // J(0) = 0 (nothing arrived), J(n) = J(n−1)·d + 0.5 for n >= 1, so
    // J(n) = 0.5·(1 − d^n)/(1 − d): J(1) = 0.5, J(2) = 0.909365, and
    // J(∞) = 0.5/(1 − d) = 2.758327.
    let toml = r#"
        [layers.in]
        kind = "encoder"
        size = 1
        [layers.n]
        kind = "lif"
        size = 1
        current = "exponential"
        tau_j_ms = 5.0
        sigma = 1e9
        [projections.p]
        pre = "in"
        post = "n"
        weights = { kind = "constant", value = 0.5 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 100
    "#;
    let mut s = sim_with_image(toml, vec![255]);
    let d = (-0.2f64).exp();
    for n in 0..100 {
        s.step();
        let want = 0.5 * (1.0 - d.powi(n)) / (1.0 - d);
        assert!(
            close(s.currents("n")[0], want, 1e-5),
            "J({n}) = {}, want {want}",
            s.currents("n")[0]
        );
    }
    assert!(close(s.currents("n")[0], 2.758327, 1e-4));
}

/// Two inputs, both spiking at step 0 only (pixels 255 shown for one step,
/// then rest), into one neuron with two named currents: `exc` (τ 5 ms) gets
/// both inputs with weight 0.5 each, `inh` (τ 10 ms) one input (k = 1) with −2.0.
const TWO_CURRENTS: &str = r#"
    [layers.in]
    kind = "encoder"
    size = 2
    [layers.n]
    kind = "lif"
    size = 1
    sigma = 1e9
    synapses.exc = { current = "exponential", tau_ms = 5.0 }
    synapses.inh = { current = "exponential", tau_ms = 10.0 }
    [projections.e]
    pre = "in"
    post = "n"
    target = "exc"
    weights = { kind = "constant", value = 0.5 }
    [projections.i]
    pre = "in"
    post = "n"
    connectivity = { kind = "fixed_indegree", k = 1 }
    target = "inh"
    weights = { kind = "constant", value = -2.0 }
    [stimulus]
    layer = "in"
    images = 1
    steps_per_image = 1
    rest_steps = 30
"#;

#[test]
fn several_synaptic_currents_decay_with_their_own_time_constants() {
    // Both arrive at step 1: J_exc(1) = 0.5 + 0.5 = 1.0, J_inh(1) = −2.0; then
    // J_exc(n) = exp(−(n−1)/5), J_inh(n) = −2·exp(−(n−1)/10) for n >= 1, and
    // the recorded current is their sum: at n = 11,
    // e^−2 − 2e^−1 = 0.135335 − 0.735759 = −0.600424.
    let mut s = sim_with_image(TWO_CURRENTS, vec![255, 255]);
    let mut j = Vec::new();
    for _ in 0..12 {
        s.step();
        j.push(s.currents("n")[0] as f64);
    }
    assert_eq!(j[0], 0.0);
    for (n, &got) in j.iter().enumerate().skip(1) {
        let t = (n - 1) as f64;
        let want = (-t / 5.0).exp() - 2.0 * (-t / 10.0).exp();
        assert!((got - want).abs() < 1e-5, "J({n}) = {got}, want {want}");
    }
    assert!((j[11] + 0.600424).abs() < 1e-5);
}

#[test]
fn projection_targets_are_checked() {
    let toml = TWO_CURRENTS;
    let e = Config::from_toml(&toml.replace("target = \"exc\"", ""), &[]).unwrap_err();
    assert!(
        e.0.contains("projections.e.target: required") && e.0.contains("exc, inh"),
        "{e}"
    );
    let e =
        Config::from_toml(&toml.replace("target = \"exc\"", "target = \"gaba\""), &[]).unwrap_err();
    assert!(e.0.contains("no synaptic current 'gaba'"), "{e}");
}

#[test]
fn initial_voltages_follow_v_init() {
    // v_init uniform on [−60, −50]: every value inside, mean of 10 000 draws
    // within 4 standard errors (sd 10/sqrt(12) = 2.887, se = 0.0289) of −55.
    let toml = r#"
        [simulation]
        steps = 1
        [layers.n]
        kind = "lif"
        size = 10000
        v_rest = -49.0
        sigma = 1e9
        v_init = { kind = "uniform", low = -60.0, high = -50.0 }
    "#;
    let config = Config::from_toml(toml, &[]).unwrap();
    let mut sim = Simulation::new(&config, None).unwrap();
    let v0 = sim.voltages("n");
    assert!(v0.iter().all(|&v| (-60.0..-50.0).contains(&v)));
    let mean = v0.iter().map(|&v| v as f64).sum::<f64>() / 1e4;
    assert!((mean + 55.0).abs() < 4.0 * 0.0289, "{mean}");
    let again = Simulation::new(&config, None).unwrap().voltages("n");
    assert_eq!(v0, again);
}

#[test]
fn conductance_synapse_drives_towards_its_reversal_potential() {
    // CONDUCTANCE_NEURON: V(−1) = −65, τ_v = 10, dt = 1, g_exc (τ = 2 ms,
    // E = 0 mV) fed i_ext = 0.5 µS per step, g_inh = 0 (it adds
    // 0·(−80 − V) = 0):
    //   g(0) = 0.5;                J = 0.5·(0 − (−65)) = 32.5
    //   V(0) = −65 + 0.1·(0 + 32.5) = −61.75
    //   g(1) = 0.5·e^(−1/2) + 0.5 = 0.803265
    //   J = 0.803265·61.75 = 49.6016 (uses V(0))
    //   V(1) = −61.75 + 0.1·(−(−61.75 + 65) + 49.6016) = −57.11484
    // `current` is J (nA), `g_exc` the conductance (µS).
    let mut s = sim(CONDUCTANCE_NEURON);
    s.step();
    assert!(close(s.voltages("n")[0], -61.75, 1e-6));
    assert_eq!(s.read("n", "g_exc").unwrap(), vec![0.5]);
    assert_eq!(s.currents("n"), vec![32.5]);
    s.step();
    assert!(close(s.read("n", "g_exc").unwrap()[0], 0.803_265_3, 1e-6));
    assert!(close(s.currents("n")[0], 49.601_63, 1e-6));
    assert_eq!(s.read("n", "current").unwrap(), s.currents("n"));
    assert!(
        close(s.voltages("n")[0], -57.114_84, 1e-6),
        "{}",
        s.voltages("n")[0]
    );
}

#[test]
fn conductance_layers_record_the_current_that_drove_the_step() {
    // TWO_CURRENTS made conductance-based (E_exc = 0, E_inh = −80 mV, inh
    // weight 0.2 µS) with v_rest = −65 (V(−1) = −65), τ_v = 20, dt = 1:
    // step 0 has no input, g = 0, J = 0, V(0) = −65. Both inputs' spikes of
    // step 0 arrive at step 1: g_exc(1) = 0.5 + 0.5 = 1.0, g_inh(1) = 0.2
    // (one input, fixed_indegree 1), and with V(0) = −65
    //   J(1) = 1.0·(0 − (−65)) + 0.2·(−80 − (−65)) = 65 − 3 = 62 nA,
    //   V(1) = −65 + (1/20)·(0 + 62) = −61.9 mV.
    // With V(1) instead, g·(E − V) would be 61.9 − 3.62 = 58.28: the trace
    // is the current that drove V, not one recomputed after the step.
    let toml = TWO_CURRENTS
        .replace(
            "sigma = 1e9",
            "sigma = 1e9
v_rest = -65.0",
        )
        .replace("tau_ms = 5.0 }", "tau_ms = 5.0, reversal_mv = 0.0 }")
        .replace("tau_ms = 10.0 }", "tau_ms = 10.0, reversal_mv = -80.0 }")
        .replace("value = -2.0", "value = 0.2");
    let mut s = sim_with_image(&toml, vec![255, 255]);
    s.step();
    assert_eq!(s.currents("n"), vec![0.0]);
    assert_eq!(s.voltages("n"), vec![-65.0]);
    s.step();
    assert_eq!(s.read("n", "g_exc").unwrap(), vec![1.0]);
    assert!(close(s.read("n", "g_inh").unwrap()[0], 0.2, 1e-6));
    assert!(close(s.read("n", "current").unwrap()[0], 62.0, 1e-6));
    assert_eq!(s.currents("n"), s.read("n", "current").unwrap());
    assert!(close(s.voltages("n")[0], -61.9, 1e-6));
    // A current-based layer has no conductances to record.
    let e = sim_with_image(TWO_CURRENTS, vec![255, 255])
        .read("n", "g_exc")
        .unwrap_err();
    assert!(e.contains("not 'g_exc'"), "{e}");
}

#[test]
fn read_gives_each_recordable_and_names_the_allowed_ones() {
    // CONSTANT_DRIVE after two steps: J = 2, V(0) = 0.2, V(1) = 0.38
    // (derived above); σ + θ = 1 (no adaptation), θ = 0.
    let mut s = sim(CONSTANT_DRIVE);
    s.step();
    s.step();
    assert_eq!(s.read("n", "voltage").unwrap(), s.voltages("n"));
    assert!(close(s.read("n", "voltage").unwrap()[0], 0.38, 1e-6));
    assert_eq!(s.read("n", "current").unwrap(), vec![2.0]);
    assert_eq!(s.read("n", "threshold").unwrap(), vec![1.0]);
    assert_eq!(s.read("n", "theta").unwrap(), vec![0.0]);
    let e = s.read("n", "u").unwrap_err();
    assert_eq!(
        e,
        "layer 'n' records voltage, current, threshold, theta, input; not 'u'"
    );
}
