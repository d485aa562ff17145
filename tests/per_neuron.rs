//! Per-neuron parameters (issue 15): a neuron parameter of a layer given as
//! a distribution or a file instead of one number. The drawn values have
//! their distribution's moments and depend only on (seed, layer, key,
//! neuron); file values are read back exactly; each neuron follows the
//! model's equation with its own values (iaf: the closed-form first
//! spike; LIF: the closed form of its Euler step); values that are all
//! equal run bit for bit as the constant; one and two threads agree; bad
//! input is one error line naming the key, exit 2.

use std::path::{Path, PathBuf};

use spikesim::param::normal_tail;

mod common;

use common::{rejects_config, sim, temp};

/// Writes `values`, one per line, to a fresh temporary file `name`.
fn csv(name: &str, values: &[f64]) -> PathBuf {
    let p = temp(name);
    let text: String = values.iter().map(|v| format!("{v}\n")).collect();
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes `values` as a 1-D `<f8` `.npy` file (NumPy's format 1.0: magic,
/// version, header length, a header padded with spaces to a multiple of 64
/// bytes and ended by a newline, then the data).
fn npy(name: &str, values: &[f64]) -> PathBuf {
    let p = temp(name);
    let mut header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({},), }}",
        values.len()
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in values {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `{ file = "<path>" }`.
fn file(p: &Path) -> String {
    format!("{{ file = \"{}\" }}", p.display())
}

/// Mean and (population) variance of `xs`.
fn moments(xs: &[f32]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = xs
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var)
}

/// The standard normal density.
fn phi(x: f64) -> f64 {
    (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// `size` neurons of `kind` with `extra` keys: without `v_init` a neuron
/// starts at its own resting potential (iaf `e_l_mv`, LIF `v_rest`), so
/// the voltages before the first step are those values.
fn start(kind: &str, size: usize, extra: &str) -> Vec<f32> {
    let toml = format!(
        "[simulation]\nsteps = 1\nseed = 5\n[layers.n]\nkind = \"{kind}\"\nsize = {size}\n{extra}\n"
    );
    sim(&toml).voltages("n")
}

#[test]
fn drawn_values_have_the_moments_of_their_distribution() {
    // 20 000 neurons each. Standard errors: of the mean sd/√n = sd/141, of
    // the variance var·√((2 + excess kurtosis)/n); every bound is 5 of
    // them, so a correct draw fails with probability under 10^-6.
    let n = 20_000;
    // Normal (mean −65, sd 2) truncated to [−68, −61] by redraw:
    // standardized α = −1.5, β = 2, mass Z = Φ(β) − Φ(α); mean
    // m + s(φ(α) − φ(β))/Z, variance s²(1 + (αφ(α) − βφ(β))/Z −
    // ((φ(α) − φ(β))/Z)²) (the closed form of a truncated normal). Its
    // excess kurtosis is under 1, so the variance's se is under var/81.
    let e_l = start(
        "iaf",
        n,
        r#"e_l_mv = { kind = "normal", mean = -65.0, std = 2.0, min = -68.0, max = -61.0 }"#,
    );
    let (a, b) = (-1.5, 2.0);
    let z = normal_tail(a) - normal_tail(b);
    let lambda = (phi(a) - phi(b)) / z;
    let mean = -65.0 + 2.0 * lambda;
    let var = 4.0 * (1.0 + (a * phi(a) - b * phi(b)) / z - lambda * lambda);
    let (m, v) = moments(&e_l);
    assert!((m - mean).abs() < 5.0 * var.sqrt() / 141.0, "{m} vs {mean}");
    assert!((v - var).abs() < 5.0 * var / 81.0, "{v} vs {var}");
    assert!(e_l.iter().all(|&x| (-68.0..=-61.0).contains(&x)));
    // Uniform on [−70, −60): mean −65, variance 10²/12, excess kurtosis
    // −1.2 (se of the variance var·√(0.8/n) = var/158).
    let v_rest = start(
        "lif",
        n,
        r#"v_rest = { kind = "uniform", low = -70.0, high = -60.0 }"#,
    );
    let (m, v) = moments(&v_rest);
    let var = 100.0f64 / 12.0;
    assert!((m + 65.0).abs() < 5.0 * var.sqrt() / 141.0, "{m}");
    assert!((v - var).abs() < 5.0 * var / 158.0, "{v}");
    assert!(v_rest.iter().all(|&x| (-70.0..=-60.0).contains(&x)));
    // Lognormal μ = 0.5, σ = 0.4: mean e^{μ+σ²/2} = 1.786, variance
    // (e^{σ²} − 1)e^{2μ+σ²} = 0.5535, excess kurtosis 3.26 (se of the
    // variance var·√(5.26/n) = var/62); every value > 0.
    let r = start(
        "lif",
        n,
        r#"v_rest = { kind = "lognormal", mu = 0.5, sigma = 0.4 }"#,
    );
    let (mu, sigma) = (0.5f64, 0.4f64);
    let mean = (mu + sigma * sigma / 2.0).exp();
    let var = ((sigma * sigma).exp() - 1.0) * (2.0 * mu + sigma * sigma).exp();
    let (m, v) = moments(&r);
    assert!((m - mean).abs() < 5.0 * var.sqrt() / 141.0, "{m} vs {mean}");
    assert!((v - var).abs() < 5.0 * var / 62.0, "{v} vs {var}");
    assert!(r.iter().all(|&x| x > 0.0));
}

#[test]
fn a_drawn_value_depends_on_the_seed_the_layer_and_the_neuron_only() {
    // Neuron i's value is drawn from its own stream, keyed by (seed, the
    // layer's position, the key, i): the first 10 neurons of a layer of
    // 10 and of 1000 have the same values; another seed, or the same
    // layer at another position, draws others.
    let d = r#"e_l_mv = { kind = "normal", mean = -65.0, std = 3.0 }"#;
    let small = start("iaf", 10, d);
    let big = start("iaf", 1000, d);
    assert_eq!(small, big[..10]);
    assert!(small.windows(2).all(|w| w[0] != w[1]), "{small:?}");
    let layers = |seed: u64, first: &str| {
        let toml = format!(
            "[simulation]\nsteps = 1\nseed = {seed}\n{first}[layers.n]\nkind = \"iaf\"\nsize = 10\n{d}\n"
        );
        sim(&toml).voltages("n")
    };
    assert_eq!(layers(5, ""), small);
    assert_ne!(layers(6, ""), small);
    assert_ne!(
        layers(5, "[layers.before]\nkind = \"iaf\"\nsize = 3\n"),
        small
    );
}

#[test]
fn file_values_are_read_back_exactly() {
    // Values exact in f32, so the state (f32) holds them unchanged: text
    // and .npy for iaf's E_L, text with a comment and a blank line for
    // LIF's v_rest.
    let values = [-65.125, -70.0, -58.5, -61.0, -66.0078125];
    let want: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let text = csv("e_l.csv", &values);
    assert_eq!(start("iaf", 5, &format!("e_l_mv = {}", file(&text))), want);
    let bin = npy("e_l.npy", &values);
    assert_eq!(start("iaf", 5, &format!("e_l_mv = {}", file(&bin))), want);
    let commented = temp("v_rest.txt");
    std::fs::write(
        &commented,
        "# v_rest (mV)\n-65.125\n-70\n\n-58.5\n-61.0\n-66.0078125\n",
    )
    .unwrap();
    assert_eq!(
        start("lif", 5, &format!("v_rest = {}", file(&commented))),
        want
    );
}

/// The step (0-based) at whose end an iaf neuron at rest under a constant
/// current first reaches V_th: V(t) = E_L + R I (1 − e^{−t/τ_m}) with
/// R = τ_m/C_m, crossing at t* = −τ_m ln(1 − (V_th − E_L)/(R I)); exact
/// integration gives V(t) at t = (k + 1) dt after step k, so the spike is
/// at step ⌈t*/dt⌉ − 1. `None` when R I ≤ V_th − E_L (it never gets there).
fn first_spike_step(v_th: f64, e_l: f64, tau: f64, c_m: f64, i_e: f64, dt: f64) -> Option<u64> {
    let ratio = (v_th - e_l) / (tau / c_m * i_e);
    if ratio >= 1.0 {
        return None;
    }
    let t = -tau * (1.0 - ratio).ln();
    // Far enough from a step's end that f32 rounding cannot move it.
    let frac = t / dt - (t / dt).floor();
    assert!(
        frac > 0.05 && frac < 0.95,
        "t* = {t} is too close to a step"
    );
    Some((t / dt).ceil() as u64 - 1)
}

#[test]
fn iaf_neurons_spike_at_the_steps_of_their_own_parameters() {
    // Five neurons at E_L = V_reset = −65 mV, dt = 0.1 ms, each with its own
    // V_th, τ_m, C_m (an .npy file), I_e and t_ref (text files). After a
    // spike at step k, V is held for round(t_ref/dt) steps and then starts
    // from rest again, so the spikes come every round(t_ref/dt) + k + 1
    // steps. Neuron 4 (R I = 0.02 GΩ · 500 pA = 10 mV < 15 mV) never fires.
    let v_th = [-60.0, -55.0, -50.0, -50.0, -50.0];
    let tau = [10.0, 10.0, 20.0, 10.0, 5.0];
    let c_m = [250.0, 250.0, 500.0, 250.0, 250.0];
    let i_e = [500.0, 500.0, 500.0, 800.0, 500.0];
    let t_ref = [2.0, 1.0, 2.0, 0.5, 2.0];
    let toml = format!(
        "[simulation]\nsteps = 1000\ndt_ms = 0.1\n[layers.n]\nkind = \"iaf\"\nsize = 5\ne_l_mv = -65.0\nv_reset_mv = -65.0\nv_th_mv = {}\ntau_m_ms = {}\nc_m_pf = {}\ni_e_pa = {}\nt_ref_ms = {}\n",
        file(&csv("v_th.csv", &v_th)),
        file(&csv("tau_m.csv", &tau)),
        file(&npy("c_m.npy", &c_m)),
        file(&csv("i_e.csv", &i_e)),
        file(&csv("t_ref.csv", &t_ref)),
    );
    let mut s = sim(&toml);
    let mut got = vec![Vec::new(); 5];
    for step in 0..1000 {
        s.step();
        for i in s.spikes("n") {
            got[i as usize].push(step);
        }
    }
    for i in 0..5 {
        let want: Vec<u64> = match first_spike_step(v_th[i], -65.0, tau[i], c_m[i], i_e[i], 0.1) {
            Some(k) => {
                let period = (t_ref[i] / 0.1f64).round() as u64 + k + 1;
                (0..)
                    .map(|m| k + m * period)
                    .take_while(|&n| n < 1000)
                    .collect()
            }
            None => Vec::new(),
        };
        assert_eq!(got[i], want, "neuron {i}");
    }
    assert!(got[4].is_empty() && got[2].len() >= 3, "{got:?}");
}

#[test]
fn lif_neurons_follow_the_euler_step_with_their_own_parameters() {
    // An instantaneous current holds J = i_ext every step (no synaptic
    // input), so from V(0) = v_rest the Euler step V ← V + a(−(V − v_rest)
    // + r J), a = dt/τ_v, gives V(n) = v_rest + r i_ext (1 − (1 − a)^n).
    // τ_v, r and i_ext from files, v_rest drawn; σ = 1000 mV keeps every
    // neuron silent. After 40 steps (dt 1 ms) each V is within 10^-4 mV of
    // its closed form (40 f32 roundings of values under 100 mV). The
    // `input` recordable shows each neuron's own i_ext.
    let tau = [5.0, 10.0, 20.0, 40.0];
    let i_ext = [1.0, 2.5, -3.0, 10.0];
    let r = [0.5, 1.0, 2.0, 1.5];
    let toml = format!(
        "[simulation]\nsteps = 40\n[layers.n]\nkind = \"lif\"\nsize = 4\ncurrent = \"instantaneous\"\nsigma = 1000.0\ntau_v_ms = {}\ni_ext = {}\nr = {}\nv_rest = {{ kind = \"normal\", mean = -65.0, std = 5.0 }}\n",
        file(&csv("tau_v.csv", &tau)),
        file(&csv("i_ext.csv", &i_ext)),
        file(&csv("r.csv", &r)),
    );
    let mut s = sim(&toml);
    let v_rest = s.voltages("n");
    s.run_silent(39);
    s.step();
    let v = s.voltages("n");
    assert_eq!(
        s.read("n", "input").unwrap(),
        i_ext.map(|x| x as f32).to_vec()
    );
    for i in 0..4 {
        let a = 1.0 / tau[i];
        let rest = f64::from(v_rest[i]);
        let want = rest + r[i] * i_ext[i] * (1.0 - (1.0 - a).powi(40));
        assert!(
            (f64::from(v[i]) - want).abs() < 1e-4,
            "neuron {i}: {} vs {want}",
            v[i]
        );
    }
}

#[test]
fn values_that_are_all_equal_run_as_the_constant() {
    // The per-neuron path (a file of 300 equal values) computes what the
    // constant does, bit for bit: iaf and LIF neurons with random initial
    // voltages, a DC drive and recurrent input, 500 steps.
    let n = 300;
    let run = |iaf_th: &str, lif_tau: &str| {
        let toml = format!(
            r#"
            [simulation]
            steps = 500
            dt_ms = 0.1
            [layers.a]
            kind = "iaf"
            size = {n}
            i_e_pa = 400.0
            v_th_mv = {iaf_th}
            v_init = {{ kind = "uniform", low = -70.0, high = -55.0 }}
            [layers.b]
            kind = "lif"
            size = {n}
            v_rest = -65.0
            sigma = -50.0
            i_ext = 20.0
            tau_v_ms = {lif_tau}
            v_init = {{ kind = "uniform", low = -70.0, high = -50.0 }}
            [projections.ab]
            pre = "a"
            post = "b"
            connectivity = {{ kind = "fixed_indegree", k = 20 }}
            weights = {{ kind = "constant", value = 2.0 }}
            [projections.ba]
            pre = "b"
            post = "a"
            connectivity = {{ kind = "fixed_indegree", k = 20 }}
            weights = {{ kind = "constant", value = 30.0 }}
            "#
        );
        let mut s = sim(&toml);
        let mut out = Vec::new();
        for _ in 0..500 {
            s.step();
            for l in ["a", "b"] {
                let bits: Vec<u32> = s.voltages(l).into_iter().map(f32::to_bits).collect();
                out.push((s.spikes(l), bits));
            }
        }
        out
    };
    let constant = run("-55.0", "20.0");
    let th = file(&csv("th_equal.csv", &vec![-55.0; n]));
    let tau = file(&csv("tau_equal.csv", &vec![20.0; n]));
    let each = run(&th, &tau);
    assert!(constant.iter().any(|(s, _)| !s.is_empty()), "some spikes");
    assert!(constant == each, "the per-neuron run differs");
}

#[test]
fn one_and_two_threads_give_the_same_heterogeneous_run() {
    // 9000 neurons per layer (over 2 × 4096 rows, so two threads step each
    // in two parts), every parameter of iaf and most of LIF drawn per
    // neuron, recurrent input: every step's spikes and voltages are
    // bit-identical on 1 and 2 threads.
    let run = |threads: usize| {
        let toml = format!(
            r#"
            [simulation]
            steps = 200
            dt_ms = 0.1
            threads = {threads}
            [layers.a]
            kind = "iaf"
            size = 9000
            c_m_pf = {{ kind = "normal", mean = 250.0, std = 20.0, min = 150.0 }}
            tau_m_ms = {{ kind = "lognormal", mu = 2.3, sigma = 0.2 }}
            e_l_mv = {{ kind = "uniform", low = -66.0, high = -64.0 }}
            v_th_mv = {{ kind = "normal", mean = -50.0, std = 1.0, min = -55.0 }}
            v_reset_mv = -65.0
            t_ref_ms = {{ kind = "uniform", low = 1.0, high = 3.0 }}
            i_e_pa = {{ kind = "normal", mean = 380.0, std = 30.0 }}
            v_init = {{ kind = "uniform", low = -65.0, high = -50.0 }}
            [layers.b]
            kind = "lif"
            size = 9000
            tau_v_ms = {{ kind = "uniform", low = 10.0, high = 30.0 }}
            v_rest = {{ kind = "normal", mean = -65.0, std = 1.0 }}
            v_reset = {{ kind = "uniform", low = -70.0, high = -65.0 }}
            r = {{ kind = "uniform", low = 0.8, high = 1.2 }}
            t_ref_ms = {{ kind = "uniform", low = 0.0, high = 2.0 }}
            i_ext = {{ kind = "normal", mean = 17.0, std = 2.0 }}
            sigma = -50.0
            v_init = {{ kind = "uniform", low = -65.0, high = -50.0 }}
            [projections.ab]
            pre = "a"
            post = "b"
            connectivity = {{ kind = "fixed_indegree", k = 10 }}
            weights = {{ kind = "uniform", low = 0.0, high = 2.0 }}
            [projections.ba]
            pre = "b"
            post = "a"
            connectivity = {{ kind = "fixed_indegree", k = 10 }}
            weights = {{ kind = "uniform", low = -40.0, high = 60.0 }}
            "#
        );
        let mut s = sim(&toml);
        assert_eq!(s.threads(), threads);
        let mut out = Vec::new();
        for _ in 0..200 {
            s.step();
            for l in ["a", "b"] {
                let bits: Vec<u32> = s.voltages(l).into_iter().map(f32::to_bits).collect();
                out.push((s.spikes(l), bits));
            }
        }
        out
    };
    let one = run(1);
    assert!(one.iter().filter(|(s, _)| !s.is_empty()).count() > 100);
    assert!(one == run(2), "1 and 2 threads differ");
}

/// A one-layer config (`kind`, 4 neurons, `keys`) written to a file, that
/// `spikesim run` must refuse with one error line containing `needle`.
fn rejects(name: &str, kind: &str, keys: &str, needle: &str) {
    let config = temp(name);
    std::fs::write(
        &config,
        format!("[simulation]\nsteps = 10\n[layers.n]\nkind = \"{kind}\"\nsize = 4\n{keys}\n"),
    )
    .unwrap();
    rejects_config(&config, &[], needle);
}

#[test]
fn bad_per_neuron_values_are_one_error_naming_the_key() {
    let short = csv("short.csv", &[-50.0, -51.0, -52.0]);
    rejects(
        "short.toml",
        "iaf",
        &format!("v_th_mv = {}", file(&short)),
        &format!(
            "layers.n.v_th_mv: {}: 3 values for a layer of 4 neurons",
            short.display()
        ),
    );
    let missing = temp("missing.csv");
    rejects(
        "missing.toml",
        "lif",
        &format!("tau_v_ms = {}", file(&missing)),
        &format!("layers.n.tau_v_ms: {}: No such file", missing.display()),
    );
    let text = temp("text.csv");
    std::fs::write(&text, "1.0\nabc\n2.0\n3.0\n").unwrap();
    rejects(
        "text.toml",
        "lif",
        &format!("r = {}", file(&text)),
        "text.csv: line 2: 'abc' is not a number",
    );
    rejects(
        "std.toml",
        "iaf",
        r#"tau_m_ms = { kind = "normal", mean = 10.0, std = -1.0 }"#,
        "layers.n.tau_m_ms.std: must be >= 0, got -1",
    );
    rejects(
        "kind.toml",
        "iaf",
        r#"tau_m_ms = { kind = "gamma", k = 2.0 }"#,
        "layers.n.tau_m_ms: unknown variant `gamma`",
    );
    rejects(
        "extra.toml",
        "iaf",
        &format!(
            "tau_m_ms = {{ file = \"{}\", scale = 2.0 }}",
            short.display()
        ),
        "layers.n.tau_m_ms: unknown field `scale`",
    );
    // A value out of range names its neuron: neuron 2's V_reset is above
    // the layer's V_th; a drawn τ_m may be ≤ 0 without a `min`.
    let reset = csv("reset.csv", &[-70.0, -70.0, -50.0, -70.0]);
    rejects(
        "reset.toml",
        "iaf",
        &format!("v_reset_mv = {}", file(&reset)),
        "layers.n.v_reset_mv (neuron 2): must be < v_th_mv (-55), got -50",
    );
    rejects(
        "tau.toml",
        "iaf",
        r#"tau_m_ms = { kind = "uniform", low = -1.0, high = 1.0 }"#,
        "layers.n.tau_m_ms (neuron ",
    );
    // Keys of one value per layer say so.
    let c = csv("izh-c.csv", &[-65.0, -65.0, 40.0, -65.0]);
    rejects(
        "izh-c.toml",
        "izhikevich",
        &format!("c = {}", file(&c)),
        "layers.n.v_peak (neuron 2): must be > c (40), got 30",
    );
    for (kind, key) in [
        ("izhikevich", "u_init"),
        ("adex", "tau_w_ms"),
        ("lif", "sigma"),
    ] {
        rejects(
            &format!("{kind}-{key}.toml"),
            kind,
            &format!("{key} = {{ kind = \"uniform\", low = 0.01, high = 0.02 }}"),
            &format!(
                "layers.n.{key}: invalid type: map, expected a number (this key is one value for the whole layer"
            ),
        );
    }
}

#[test]
fn izhikevich_neurons_with_their_own_a_b_c_d_fire_as_alone() {
    // The paper's five cells (Fig. 2: RS, IB, CH, FS, LTS) as five neurons
    // of one layer, a, b, c, d from files: each neuron's voltage is, bit
    // for bit at every step, that of a one-neuron layer with its numbers as
    // constants, and u starts at b·v_init of its own b.
    let cells = [
        (0.02, 0.2, -65.0, 8.0),
        (0.02, 0.2, -55.0, 4.0),
        (0.02, 0.2, -50.0, 2.0),
        (0.1, 0.2, -65.0, 2.0),
        (0.02, 0.25, -65.0, 2.0),
    ];
    let column = |k: usize, name: &str| {
        let values: Vec<f64> = cells.iter().map(|c| [c.0, c.1, c.2, c.3][k]).collect();
        file(&csv(name, &values))
    };
    let head =
        "[simulation]\nsteps = 300\ndt_ms = 0.5\n[layers.n]\nkind = \"izhikevich\"\ni_ext = 10.0\n";
    let mut all = sim(&format!(
        "{head}size = 5\na = {}\nb = {}\nc = {}\nd = {}\n",
        column(0, "izh-a.csv"),
        column(1, "izh-b.csv"),
        column(2, "izh-c5.csv"),
        column(3, "izh-d.csv")
    ));
    let mut alone: Vec<_> = cells
        .iter()
        .map(|(a, b, c, d)| {
            sim(&format!(
                "{head}size = 1\na = {a}\nb = {b}\nc = {c}\nd = {d}\n"
            ))
        })
        .collect();
    let u0 = all.read("n", "u").unwrap();
    for (k, (_, b, _, _)) in cells.iter().enumerate() {
        assert_eq!(u0[k], (b * -65.0f64) as f32, "u_init of neuron {k}");
    }
    let mut spikes = [0usize; 5];
    for _ in 0..300 {
        all.step();
        let v = all.voltages("n");
        let fired = all.spikes("n");
        for (k, one) in alone.iter_mut().enumerate() {
            one.step();
            assert_eq!(v[k].to_bits(), one.voltages("n")[0].to_bits(), "neuron {k}");
            assert_eq!(fired.contains(&(k as u32)), !one.spikes("n").is_empty());
            spikes[k] += one.spikes("n").len();
        }
    }
    // Every cell fires, and the fast-spiking one (a = 0.1) most.
    assert!(spikes.iter().all(|&s| s > 0), "{spikes:?}");
    assert!(spikes[3] > spikes[0], "{spikes:?}");
}
