//! The AdEx model (`kind = "adex"`, src/neuron/adex.rs): its Euler step
//! against numbers derived by hand, the reset order, the overflow guard,
//! the refractory hold, conductances, checks of the config, and the
//! firing patterns of Naud et al. (2008) in experiments/adex.toml.

use spikesim::{Config, Simulation};

mod common;

use common::{close, sim};

/// One neuron with round numbers: C = 1 nF, g_L = 0.1 µS, E_L = −70,
/// V_T = −50, Δ_T = 2, τ_w = 100 ms, a = 0.01 µS, b = 0.5 nA, V_r = −60,
/// V_peak = 0 mV, dt = 1 ms, an instantaneous current (J = I). The
/// exponent's cap is x_max = (0 − (−50))/2 = 25.
const ROUND: &str = r#"
    [simulation]
    steps = 100
    [layers.n]
    kind = "adex"
    size = 1
    c_nf = 1.0
    g_l_us = 0.1
    e_l_mv = -70.0
    v_t_mv = -50.0
    delta_t_mv = 2.0
    tau_w_ms = 100.0
    a_us = 0.01
    b_na = 0.5
    v_r_mv = -60.0
    v_peak_mv = 0.0
    synapses.default = { current = "instantaneous" }
"#;

/// Relative tolerance of a small w: it is driven by `V − E_L`, an f32
/// difference of two numbers near 70 whose ulp is 7.6·10^−6 mV, so a
/// `V − E_L` of 0.7 mV carries a relative error of about 10^−5.
const W_TOL: f64 = 1e-4;

/// Steps `n` times; neuron 0's (V, w) after each step and its spike steps.
fn trace(s: &mut Simulation, n: u64) -> (Vec<(f32, f32)>, Vec<u64>) {
    let mut vw = Vec::new();
    let mut spikes = Vec::new();
    for step in 0..n {
        s.step();
        vw.push((s.voltages("n")[0], s.read("n", "w").unwrap()[0]));
        if s.spikes("n").contains(&0) {
            spikes.push(step);
        }
    }
    (vw, spikes)
}

#[test]
fn euler_steps_follow_the_hand_derived_recursion() {
    // ROUND with I = 2 nA, from V = E_L = −70, w = 0. Forward Euler of both
    // equations from the state at n−1, dt/C = 1, dt/τ_w = 0.01:
    // n = 0: leak 0; exp term g_L Δ_T e^((−70+50)/2) = 0.2·e^−10
    //        = 0.2·4.539993e−5 = 9.079986e−6;
    //        V(0) = −70 + (9.079986e−6 − 0 + 2) = −67.99999092;
    //        w(0) = 0 + 0.01·(0.01·0 − 0) = 0.
    // n = 1: leak −0.1·2.00000908 = −0.200000908;
    //        x = (−67.99999092 + 50)/2 = −8.99999546, 0.2·e^x = 2.468207e−5;
    //        V(1) = −67.99999092 + (−0.200000908 + 2.468207e−5 + 2)
    //             = −66.19996715;
    //        w(1) = 0.01·(0.01·2.00000908) = 2.0000091e−4 (uses V(0)).
    // n = 2: leak −0.1·3.80003285 = −0.380003285;
    //        x = −8.09998357, 0.2·e^x = 6.070883e−5; −w(1) = −2.0000091e−4;
    //        V(2) = −66.19996715 + 1.61985742 = −64.58010973;
    //        w(2) = 2.0000091e−4 + 0.01·(0.01·3.80003285 − 2.0000091e−4)
    //             = 2.0000091e−4 + 3.7800328e−4 = 5.7800419e−4.
    let mut s = sim(&format!("{ROUND}\ni_ext = 2.0\n"));
    let (vw, spikes) = trace(&mut s, 3);
    let want = [
        (-67.999_990_92, 0.0),
        (-66.199_967_15, 2.000_009_1e-4),
        (-64.580_109_73, 5.780_041_9e-4),
    ];
    for (n, (&(v, w), (wv, ww))) in vw.iter().zip(want).enumerate() {
        assert!(close(v, wv, 1e-7), "V({n}) = {v}, want {wv}");
        assert!(
            (w as f64 - ww).abs() <= W_TOL * ww,
            "w({n}) = {w}, want {ww}"
        );
    }
    assert!(spikes.is_empty());
}

#[test]
fn a_spike_resets_v_then_adds_b_to_the_updated_w() {
    // V(−1) = v_init = 1000 mV, far above V_peak: the exponent
    // (1000 + 50)/2 = 525 (e^525 overflows f32 and f64) is capped at
    // x_max = 25, and V' = 1000 + (−0.1·1070 + 0.2·e^25 + 0) ≈ 1.4·10^10
    // >= 0: a spike at step 0. w' = 0 + 0.01·(0.01·(1000 + 70) − 0) = 0.107
    // from the state at n−1, then the reset V(0) = V_r = −60 and
    // w(0) = w' + b = 0.607.
    let toml = format!("{ROUND}\nv_init = {{ kind = \"constant\", value = 1000.0 }}\n");
    let mut s = sim(&toml);
    let (vw, spikes) = trace(&mut s, 1);
    assert_eq!(spikes, vec![0]);
    assert_eq!(vw[0].0, -60.0);
    assert!(close(vw[0].1, 0.607, 1e-6), "w(0) = {}", vw[0].1);
}

#[test]
fn refractory_holds_v_while_w_integrates() {
    // As above with t_ref = 2 ms (2 steps) and a huge input I = 10^30 nA,
    // which would cross V_peak at every free step: spike at 0, V held at
    // V_r = −60 at steps 1 and 2 (no spike), free again at 3: spike, and so
    // on every third step. Meanwhile w integrates from V(n−1) = −60:
    // w(1) = 0.607 + 0.01·(0.01·10 − 0.607) = 0.60193,
    // w(2) = 0.60193 + 0.01·(0.1 − 0.60193) = 0.5969107.
    let toml = format!(
        "{ROUND}\nv_init = {{ kind = \"constant\", value = 1000.0 }}\nt_ref_ms = 2.0\ni_ext = 1e30\n"
    );
    let mut s = sim(&toml);
    let (vw, spikes) = trace(&mut s, 10);
    assert_eq!(spikes, vec![0, 3, 6, 9]);
    assert_eq!((vw[1].0, vw[2].0), (-60.0, -60.0));
    assert!(close(vw[1].1, 0.60193, 1e-6), "w(1) = {}", vw[1].1);
    assert!(close(vw[2].1, 0.596_910_7, 1e-6), "w(2) = {}", vw[2].1);
}

#[test]
fn huge_input_spikes_and_leaves_the_state_finite() {
    // I = 10^30 nA: V' = −70 + 10^30 crosses V_peak at every step, and the
    // reset keeps V = V_r = −60; w gets b = 0.5 a spike and relaxes
    // towards a(V_r − E_L) = 0.1 with dt/τ_w = 0.01, so it stays below
    // 0.5/0.01 + 0.1 = 50.1. With C = 0.001 nF and I = 3·10^38 (near f32's
    // largest) dt/C·I overflows to +∞: that spikes as well, and the reset
    // again leaves V = V_r. Never ∞ or NaN in V, w or the recorded input.
    for extra in ["i_ext = 1e30", "i_ext = 3e38\nc_nf = 0.001"] {
        let round = if extra.contains("c_nf") {
            ROUND.replace("c_nf = 1.0", "")
        } else {
            ROUND.to_string()
        };
        let toml = format!("{round}\n{extra}\n");
        let mut s = sim(&toml);
        let (vw, spikes) = trace(&mut s, 100);
        assert_eq!(spikes, (0..100).collect::<Vec<_>>(), "{extra}");
        for (n, &(v, w)) in vw.iter().enumerate() {
            assert_eq!(v, -60.0, "V({n}) with {extra}");
            assert!(
                w.is_finite() && w > 0.0 && w < 50.1,
                "w({n}) = {w} with {extra}"
            );
        }
        assert!(s.read("n", "current").unwrap()[0].is_finite());
    }
    // V(−1) = 10^30 mV: the exponent is capped, V' is finite or +∞ and
    // spikes, V(0) = V_r, and w(0) = 0.01·0.01·(10^30 + 70) + 0.5 = 10^26,
    // large but finite, as the equations say.
    let mut s = sim(&format!(
        "{ROUND}\nv_init = {{ kind = \"constant\", value = 1e30 }}\n"
    ));
    let (vw, spikes) = trace(&mut s, 1);
    assert_eq!((spikes, vw[0].0), (vec![0], -60.0));
    assert!((vw[0].1 as f64 / 1e26 - 1.0).abs() < 1e-6, "{}", vw[0].1);
}

#[test]
fn conductance_synapse_is_driven_by_the_previous_voltage() {
    // ROUND with an exponential conductance (τ = 2 ms, E = 0 mV) fed by the
    // external input, 0.01 µS per step (it enters the first synapse):
    // n = 0: g(0) = 0.01, J = 0.01·(0 − (−70)) = 0.7 nA;
    //        V(0) = −70 + (9.079986e−6 + 0.7) = −69.29999092, w(0) = 0.
    // n = 1: g(1) = 0.01·e^(−1/2) + 0.01 = 0.016065307,
    //        J = 0.016065307·69.29999092 = 1.11332560 (V(0), not V(1));
    //        leak −0.1·0.70000908 = −0.070000908;
    //        x = (−69.29999092 + 50)/2 = −9.64999546, 0.2·e^x = 1.292781e−5;
    //        V(1) = −69.29999092 + 1.04333762 = −68.25665330;
    //        w(1) = 0.01·(0.01·0.70000908) = 7.0000908e−5.
    let toml = ROUND.replace(
        "synapses.default = { current = \"instantaneous\" }",
        "synapses.exc = { current = \"exponential\", tau_ms = 2.0, reversal_mv = 0.0 }\ni_ext = 0.01",
    );
    let mut s = sim(&toml);
    let (vw, _) = trace(&mut s, 2);
    assert!(close(vw[0].0, -69.299_990_92, 1e-7), "{}", vw[0].0);
    assert!(close(s.read("n", "g_exc").unwrap()[0], 0.016_065_307, 1e-6));
    assert!(close(s.currents("n")[0], 1.113_325_60, 1e-6));
    assert_eq!(s.read("n", "current").unwrap(), s.currents("n"));
    assert!(close(vw[1].0, -68.256_653_30, 1e-7), "{}", vw[1].0);
    assert!(
        (vw[1].1 as f64 / 7.000_090_8e-5 - 1.0).abs() < W_TOL,
        "{}",
        vw[1].1
    );
}

#[test]
fn two_synaptic_currents_each_get_their_projection() {
    // Encoder `in` spikes at step 0 only; `e` (target exc, τ 5 ms, weight
    // 0.5) and `i` (target inh, τ 10 ms, weight −0.3) arrive at step 1.
    // n = 0: no input: V(0) = −70 + 9.079986e−6 = −69.99999092.
    // n = 1: J = 0.5 − 0.3 = 0.2; leak −0.1·9.08e−6 = −9.08e−7,
    //        x = −9.99999546, 0.2·e^x = 9.080027e−6;
    //        V(1) = −69.99999092 + 0.20000817 = −69.79998275.
    // n = 2: J = 0.5·e^−0.2 − 0.3·e^−0.1 = 0.40936538 − 0.27145123
    //        = 0.13791415, the recorded `current`.
    let toml = format!(
        "{}{}",
        ROUND.replace(
            "synapses.default = { current = \"instantaneous\" }",
            "synapses.exc = { current = \"exponential\", tau_ms = 5.0 }\n\
             synapses.inh = { current = \"exponential\", tau_ms = 10.0 }"
        ),
        r#"
        [layers.in]
        kind = "encoder"
        size = 1
        [projections.e]
        pre = "in"
        post = "n"
        target = "exc"
        weights = { kind = "constant", value = 0.5 }
        [projections.i]
        pre = "in"
        post = "n"
        target = "inh"
        weights = { kind = "constant", value = -0.3 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 1
        rest_steps = 50
        "#
    );
    let config = Config::from_toml(&toml, &[]).unwrap();
    let images = spikesim::data::ImageSet {
        name: "t".into(),
        rows: 1,
        cols: 1,
        pixels: vec![255],
        labels: vec![0],
    };
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let (vw, _) = trace(&mut s, 3);
    assert!(close(vw[0].0, -69.999_990_92, 1e-7), "{}", vw[0].0);
    assert!(close(vw[1].0, -69.799_982_75, 1e-7), "{}", vw[1].0);
    assert!(close(s.currents("n")[0], 0.137_914_15, 1e-6));
}

#[test]
fn defaults_are_brette_and_gerstner_regular_spiking() {
    // Only `size`: C = 0.281 nF, g_L = 0.030 µS, E_L = −70.6, V_T = −50.4,
    // Δ_T = 2, τ_w = 144, a = 0.004, b = 0.0805, V_r = −70.6 and
    // V_peak = V_T + 5Δ_T = −40.4 mV; V starts at E_L, w at 0, and a
    // resting neuron stays within 10^-4 mV of E_L (the exponential term at
    // E_L is 0.06·e^−10.1 = 2.5·10^−6 nA). Under a step of 1 nA from 20 to
    // 120 ms (their Fig. 2 protocol, as Brian2's example runs it) with an
    // instantaneous current, it fires with ISIs that grow (adaptation).
    let mut s = sim(r#"
        [simulation]
        dt_ms = 0.1
        steps = 1400
        [layers.n]
        kind = "adex"
        size = 1
        synapses.default = { current = "instantaneous" }
        step_current = { start_ms = 20.0, stop_ms = 120.0, amplitude = 1.0 }
        [[record.traces]]
        layer = "n"
        vars = ["voltage", "w", "current", "input"]
        "#);
    let (vw, spikes) = trace(&mut s, 1400);
    assert!(
        vw[..200]
            .iter()
            .all(|&(v, w)| (v + 70.6).abs() < 1e-4 && w.abs() < 1e-6)
    );
    let isi: Vec<u64> = spikes.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(spikes.len() >= 4 && spikes[0] >= 200 && *spikes.last().unwrap() < 1210);
    assert!(isi.windows(2).all(|p| p[1] >= p[0]) && isi[isi.len() - 1] > isi[0]);
    // The spike step's voltage is V_r, never above V_peak.
    assert!(vw.iter().all(|&(v, _)| v < -40.4));
}

#[test]
fn read_names_the_adex_recordables_and_reset_returns_to_rest() {
    let mut s = sim(&format!("{ROUND}\ni_ext = 2.0\n"));
    s.step();
    assert_eq!(s.read("n", "input").unwrap(), vec![2.0]);
    assert_eq!(s.read("n", "current").unwrap(), vec![2.0]);
    let e = s.read("n", "theta").unwrap_err();
    assert_eq!(
        e,
        "layer 'n' records voltage, w, current, input; not 'theta'"
    );
    for _ in 0..30 {
        s.step();
    }
    assert!(s.read("n", "w").unwrap()[0] > 0.0);
    s.reset_state();
    assert_eq!(s.voltages("n"), vec![-70.0]);
    assert_eq!(s.read("n", "w").unwrap(), vec![0.0]);
    assert_eq!(s.currents("n"), vec![0.0]);
}

#[test]
fn bad_parameters_are_named() {
    let bad = |extra: &str| {
        let toml =
            format!("[simulation]\nsteps = 1\n[layers.n]\nkind = \"adex\"\nsize = 1\n{extra}\n");
        Config::from_toml(&toml, &[]).unwrap_err().0
    };
    for (extra, want) in [
        (
            "delta_t_mv = 0.0",
            "layers.n.delta_t_mv: must be > 0, got 0",
        ),
        ("c_nf = -1.0", "layers.n.c_nf: must be > 0, got -1"),
        ("tau_w_ms = 0.0", "layers.n.tau_w_ms: must be > 0"),
        ("g_l_us = 0.0", "layers.n.g_l_us: must be > 0"),
        ("a_us = nan", "layers.n.a_us: must be a finite number"),
        (
            "v_peak_mv = -60.0",
            "layers.n.v_peak_mv: must be a number > v_t_mv (-50.4)",
        ),
        (
            "v_r_mv = -30.0",
            "layers.n.v_r_mv: must be < v_peak_mv (-40.4)",
        ),
        ("t_ref_ms = -1.0", "layers.n.t_ref_ms: must be from 0"),
        ("tau_m_ms = 10.0", "tau_m_ms"),
        (
            "synapses.x = { tau_ms = 0.0 }",
            "layers.n.synapses.x.tau_ms: must be > 0",
        ),
    ] {
        let e = bad(extra);
        assert!(e.contains(want), "{extra}: {e}");
    }
}

// ---- Firing patterns (experiments/adex.toml) ----

/// Spike times (ms) of each layer of experiments/adex.toml, run in full.
fn pattern_trains() -> Vec<(String, Vec<f64>)> {
    let config = Config::load(&common::repo("experiments/adex.toml"), &[]).unwrap();
    let layers: Vec<String> = config.layers.keys().cloned().collect();
    let dt = config.simulation.dt_ms;
    let mut s = Simulation::new(&config, None).unwrap();
    let mut trains = vec![Vec::new(); layers.len()];
    for n in 0..s.total_steps() {
        s.step();
        for (l, name) in layers.iter().enumerate() {
            if !s.spikes(name).is_empty() {
                trains[l].push(n as f64 * dt);
            }
        }
    }
    layers.into_iter().zip(trains).collect()
}

fn isis(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|p| p[1] - p[0]).collect()
}

/// The step current is on from 50 to 550 ms.
const ONSET: f64 = 50.0;
const OFFSET: f64 = 550.0;

/// Bursts: every ISI is either short (< `short` ms, inside a burst) or long
/// (> `long` ms, between bursts), nothing in between, and every burst has
/// at least two spikes; returns the number of bursts.
fn bursts(isi: &[f64], short: f64, long: f64) -> usize {
    assert!(
        isi.iter().all(|&d| d < short || d > long),
        "not bimodal (< {short} or > {long} ms): {isi:?}"
    );
    let gaps: Vec<usize> = (0..isi.len()).filter(|&k| isi[k] > long).collect();
    assert!(
        isi.first().is_some_and(|&d| d < short) && gaps.windows(2).all(|g| g[1] > g[0] + 1),
        "a burst of one spike: {isi:?}"
    );
    gaps.len() + 1
}

#[test]
fn naud_firing_patterns() {
    let trains = pattern_trains();
    let get = |name: &str| -> &[f64] { &trains.iter().find(|(n, _)| n == name).expect(name).1 };
    for (name, t) in &trains {
        eprintln!(
            "{name}: {} spikes at {t:.1?}\n  ISIs {:.1?}",
            t.len(),
            isis(t)
        );
        // Nothing before the step; nothing later than 5 ms after it ends.
        assert!(
            t.first().is_some_and(|&t0| t0 >= ONSET) && t.iter().all(|&x| x < OFFSET + 5.0),
            "{name}: {t:?}"
        );
    }

    // Tonic: ≥ 40 spikes, all ISIs within 10% of each other (they go from
    // 9.3 to 9.9 ms over the first five, then stay), first spike within
    // 20 ms of the onset.
    let t = get("tonic");
    let isi = isis(t);
    let (lo, hi) = (
        isi.iter().cloned().fold(f64::MAX, f64::min),
        isi.iter().cloned().fold(0.0, f64::max),
    );
    assert!(
        t.len() >= 40 && hi / lo < 1.1 && t[0] - ONSET < 20.0,
        "tonic {lo} {hi}"
    );

    // Adapting: ISIs never shrink (by more than a step, 0.1 ms), grow more
    // than 4-fold from the first, and end on a plateau (the last two within 1%).
    let isi = isis(get("adapting"));
    let n = isi.len();
    assert!(
        n >= 5 && isi.windows(2).all(|p| p[1] >= p[0] - 0.1),
        "{isi:?}"
    );
    assert!(isi[n - 1] > 4.0 * isi[0] && (isi[n - 1] / isi[n - 2] - 1.0).abs() < 0.01);

    // Initial burst: the first two ISIs short (< 10 ms), every later one
    // long (> 50 ms), and from the fourth on regular (within 1%).
    let isi = isis(get("initial_burst"));
    assert!(isi.len() >= 6 && isi[0] < 10.0 && isi[1] < 10.0, "{isi:?}");
    assert!(isi[2..].iter().all(|&d| d > 50.0));
    let tail = &isi[3..];
    assert!(
        tail.iter().all(|&d| (d / tail[0] - 1.0).abs() < 0.01),
        "{isi:?}"
    );

    // Regular bursting: bimodal ISIs (< 10 ms in a burst, > 100 ms
    // between), at least 4 bursts of two or more spikes.
    assert!(bursts(&isis(get("regular_bursting")), 10.0, 100.0) >= 4);

    // Delayed accelerating: first spike more than 25 ms after the onset
    // (tonic's comes after 14 ms), ISIs never grow (by more than a step)
    // and the last is below 0.6 of the first.
    // Only the spikes while the current is on: the last comes 2.4 ms after
    // its end, late.
    let t = get("delayed_accelerating");
    let t = &t[..t.partition_point(|&x| x < OFFSET)];
    let isi = isis(t);
    assert!(t[0] - ONSET > 25.0 && isi.len() >= 10, "{t:?}");
    assert!(isi.windows(2).all(|p| p[1] <= p[0] + 0.1) && isi[isi.len() - 1] < 0.6 * isi[0]);

    // Delayed regular bursting: first spike more than 40 ms after the
    // onset, bimodal ISIs (< 10 ms or > 40 ms), at least 4 bursts.
    let t = get("delayed_regular_bursting");
    assert!(t[0] - ONSET > 40.0, "{t:?}");
    assert!(bursts(&isis(t), 10.0, 40.0) >= 4);

    // Transient: one to five spikes, all within 50 ms of the onset, then
    // silence for the remaining 450 ms of the step. (Brian2's row gives a
    // single spike at 180 pA.)
    let t = get("transient");
    assert!(
        (1..=5).contains(&t.len()) && t.iter().all(|&x| x < ONSET + 50.0),
        "{t:?}"
    );

    // Irregular: after the initial burst (first 4 ISIs) the ISIs vary (CV
    // > 0.3) and repeat with no period p = 1..8: for each p some ISI differs
    // by more than 20% from the one p later (regular bursting, period 2,
    // repeats within 5%).
    let isi = isis(get("irregular"));
    let rest = &isi[4..];
    let mean = rest.iter().sum::<f64>() / rest.len() as f64;
    let sd = (rest.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / rest.len() as f64).sqrt();
    assert!(rest.len() >= 15 && sd / mean > 0.3, "{isi:?}");
    for p in 1..=8 {
        assert!(
            (0..rest.len() - p).any(|k| (rest[k + p] / rest[k] - 1.0).abs() > 0.2),
            "period {p}: {rest:?}"
        );
    }
}

// ---- An AdEx layer wherever a LIF layer goes ----

#[test]
fn input_arrives_after_the_projection_delay() {
    // Encoder `in` spikes at step 0 only, into ROUND's instantaneous
    // current with weight 0.5 and delay 3: J = 0 at steps 0–2, 0.5 at 3,
    // 0 again from 4 on.
    let toml = format!(
        "{ROUND}{}",
        r#"
        [layers.in]
        kind = "encoder"
        size = 1
        [projections.p]
        pre = "in"
        post = "n"
        delay = 3
        weights = { kind = "constant", value = 0.5 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 1
        rest_steps = 50
        "#
    );
    let config = Config::from_toml(&toml, &[]).unwrap();
    let images = spikesim::data::ImageSet {
        name: "t".into(),
        rows: 1,
        cols: 1,
        pixels: vec![255],
        labels: vec![0],
    };
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let j: Vec<f32> = (0..6)
        .map(|_| {
            s.step();
            s.currents("n")[0]
        })
        .collect();
    assert_eq!(j, vec![0.0, 0.0, 0.0, 0.5, 0.0, 0.0]);
}
