//! The iaf model (`kind = "iaf"`, src/neuron/iaf.rs): its exact
//! integration against the closed-form solutions of the membrane equation
//! (DC current, one exponential PSC, one delta jump), the refractory hold,
//! the loss of delta input while refractory, and the config checks.

use spikesim::{Config, Simulation};

mod common;

use common::sim;

/// A microcircuit neuron (Potjans & Diesmann 2014): C_m = 250 pF,
/// τ_m = 10 ms, E_L = V_reset = −65 mV, V_th = −50 mV, t_ref = 2 ms,
/// dt = 0.1 ms; `extra` adds keys to the layer.
fn neuron(extra: &str, synapse: &str) -> String {
    format!(
        r#"
    [simulation]
    steps = 1000
    dt_ms = 0.1
    [layers.in]
    kind = "encoder"
    size = 1
    [layers.n]
    kind = "iaf"
    size = 1
    c_m_pf = 250.0
    tau_m_ms = 10.0
    e_l_mv = -65.0
    v_reset_mv = -65.0
    v_th_mv = -50.0
    t_ref_ms = 2.0
    synapses.default = {synapse}
    {extra}
    "#
    )
}

/// Runs `n` steps; neuron 0's V after each and its spike steps.
fn trace(s: &mut Simulation, n: u64) -> (Vec<f32>, Vec<u64>) {
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

/// One spike of the encoder at step 0 into projection `p` (weight `w`,
/// delay 1 step): it reaches the neuron's input at step 1.
fn one_input_spike(layer: &str, synapse: &str, w: f64) -> Simulation {
    let toml = format!(
        "{}\n[projections.p]\npre = \"in\"\npost = \"n\"\nweights = {{ kind = \"constant\", value = {w} }}\n",
        neuron(layer, synapse)
    );
    let mut s = sim(&toml);
    s.set_intensities("in", &[1.0]);
    s.step();
    s.set_intensities("in", &[0.0]);
    s
}

#[test]
fn a_dc_current_follows_the_closed_form_and_the_refractory_hold() {
    // I_e = 500 pA: V(t) = E_L + R I_e (1 − e^{−t/τ_m}) with
    // R = τ_m/C_m = 0.04 GΩ, R I_e = 20 mV. Exact integration gives it at
    // every step: after step k, t = (k+1)·0.1 ms. V reaches −50 mV (15 mV
    // above rest) at e^{−t/10} = 1/4, t = 10 ln 4 = 13.863 ms, so the
    // first step with V ≥ V_th is k + 1 = 139 (t = 13.9 ms, 15.018 mV;
    // 13.8 ms gives 14.968 mV). V is then held at V_reset for
    // round(2/0.1) = 20 steps and integrates again from rest at the 21st,
    // so every next spike comes 20 + 139 = 159 steps later.
    let mut s = sim(&neuron(
        "i_e_pa = 500.0",
        "{ current = \"exponential\", tau_ms = 0.5 }",
    ));
    let (v, spikes) = trace(&mut s, 480);
    for (k, &vk) in v.iter().enumerate().take(138) {
        let t = (k + 1) as f64 * 0.1;
        let want = -65.0 + 20.0 * (1.0 - (-t / 10.0f64).exp());
        assert!(
            (f64::from(vk) - want).abs() < 2e-5,
            "step {k}: {vk} vs {want}"
        );
    }
    assert_eq!(spikes, vec![138, 297, 456]);
    assert!(
        v[138..=158].iter().all(|&x| x == -65.0),
        "held: {:?}",
        &v[138..=158]
    );
    assert!(v[159] > -65.0);
}

#[test]
fn one_exponential_psc_gives_the_closed_form_psp() {
    // A spike of w = 87.81 pA reaches the exponential synapse (τ_s = 0.5 ms)
    // at step 1; V moves from step 2 on. From then on
    // V(t) − E_L = w τ_s τ_m / (C_m (τ_m − τ_s)) (e^{−t/τ_m} − e^{−t/τ_s}),
    // t = (k − 1)·0.1 ms after step k. Its peak at
    // t* = τ_m τ_s/(τ_m − τ_s) ln(τ_m/τ_s) = 1.5767 ms is 0.15 mV for this
    // w: the microcircuit's conversion of 585.39 pA per mV of PSP.
    let w = 87.81;
    let mut s = one_input_spike("", "{ current = \"exponential\", tau_ms = 0.5 }", w);
    let (v, _) = trace(&mut s, 300);
    let psp =
        |t: f64| w * 0.5 * 10.0 / (250.0 * 9.5) * ((-t / 10.0f64).exp() - (-t / 0.5f64).exp());
    // Trace index i is step i + 1.
    assert_eq!(v[0], -65.0, "the spike moves V only from the next step");
    let mut peak = 0.0f64;
    for (i, &vi) in v.iter().enumerate().skip(1) {
        let t = i as f64 * 0.1;
        let y = f64::from(vi) + 65.0;
        assert!(
            (y - psp(t)).abs() < 2e-5,
            "step {}: {y} vs {}",
            i + 1,
            psp(t)
        );
        peak = peak.max(y);
    }
    let t_star = 10.0 * 0.5 / 9.5 * (20.0f64).ln();
    assert!((psp(t_star) - 0.15).abs() < 1e-4, "{}", psp(t_star));
    // On the 0.1 ms grid the peak is at t = 1.6 ms, a hair below 0.15 mV.
    assert!((peak - psp(1.6)).abs() < 2e-5 && peak < 0.15 && peak > 0.1499);
}

#[test]
fn a_delta_synapse_jumps_at_arrival_and_is_lost_while_refractory() {
    // A 0.5 mV delta spike arrives at step 1: V(1) = E_L + 0.5, then it
    // decays, V(k) − E_L = 0.5 e^{−(k−1)·0.1/10}.
    let mut s = one_input_spike("", "{ current = \"delta\" }", 0.5);
    let (v, spikes) = trace(&mut s, 100);
    assert!(spikes.is_empty());
    // f32 holds V near −65 mV to an ulp of 7.6·10^−6 mV, and each step
    // rounds once: a few ulp after 100 steps.
    for (i, &vi) in v.iter().enumerate() {
        let want = 0.5 * (-(i as f64) * 0.01).exp();
        let got = f64::from(vi) + 65.0;
        assert!((got - want).abs() < 2e-5, "step {}: {got} vs {want}", i + 1);
    }
    // A 20 mV jump crosses V_th at once: the neuron spikes at step 1. A
    // second jump arriving during the 20 refractory steps is lost: V stays
    // at V_reset and the neuron does not spike again.
    let toml = format!(
        "{}\n[projections.p]\npre = \"in\"\npost = \"n\"\nweights = {{ kind = \"constant\", value = 20.0 }}\n",
        neuron("", "{ current = \"delta\" }")
    );
    let mut s = sim(&toml);
    s.set_intensities("in", &[1.0]);
    s.step(); // step 0: the encoder spikes
    s.step(); // step 1: the first jump arrives, the neuron spikes; the encoder spikes again
    assert_eq!(s.spikes("n"), vec![0]);
    s.set_intensities("in", &[0.0]);
    let (v, spikes) = trace(&mut s, 30);
    // Trace index i is step i + 2; the second jump arrives at step 2.
    assert!(spikes.is_empty(), "{spikes:?}");
    assert!(v[..20].iter().all(|&x| x == -65.0), "{v:?}");
}

#[test]
fn bad_iaf_parameters_are_named() {
    for (good, bad, key) in [
        (
            "v_reset_mv = -65.0",
            "v_reset_mv = -40.0",
            "layers.n.v_reset_mv",
        ),
        ("c_m_pf = 250.0", "c_m_pf = 0.0", "layers.n.c_m_pf"),
        ("t_ref_ms = 2.0", "t_ref_ms = -1.0", "layers.n.t_ref_ms"),
    ] {
        let toml = neuron("", "{ current = \"delta\" }").replace(good, bad);
        let e = Config::from_toml(&toml, &[]).unwrap_err().to_string();
        assert!(e.starts_with(key), "{bad}: {e}");
    }
    let toml = neuron("", "{ current = \"continuous\" }");
    let e = Config::from_toml(&toml, &[]).unwrap_err().to_string();
    assert!(
        e.contains("layers.n.synapses.default.current") && e.contains("delta"),
        "{e}"
    );
    let lif =
        "[simulation]\nsteps = 1\n[layers.n]\nkind = \"lif\"\nsize = 1\ncurrent = \"delta\"\n";
    let e = Config::from_toml(lif, &[]).unwrap_err().to_string();
    assert!(e.starts_with("layers.n.current"), "{e}");
}
