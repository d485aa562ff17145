//! AdEx layers wherever LIF layers go (src/neuron/adex.rs): every
//! projection kind with STDP, recording and inspect, 1 vs 2 threads, the
//! learning protocol. The model's own equations are in tests/adex.rs.

use spikesim::{Config, Simulation};

mod common;

use common::sim;

/// 784 Poisson inputs shown three synthetic digits (200 steps each, 50 of
/// rest, dt = 0.5 ms) into three AdEx layers (Brette & Gerstner's
/// defaults) through every projection kind: `a` (50) has two
/// conductance-based currents, excitatory input through a dense
/// projection with STDP and a sparse fixed-indegree one (delay 3), and
/// inhibition from `c` through all-but-self; `b` (30) has the default
/// exponential current, fed by a Bernoulli-sparse projection (delay 2) and
/// inhibited by itself (all-but-self); `c` (50) follows `a` one to one.
const NETWORK: &str = r#"
    [simulation]
    dt_ms = 0.5
    seed = 4
    [layers.input]
    kind = "encoder"
    size = 784
    encoding = "poisson"
    max_rate_hz = 63.75
    [layers.a]
    kind = "adex"
    size = 50
    synapses.exc = { current = "exponential", tau_ms = 5.0, reversal_mv = 0.0 }
    synapses.inh = { current = "exponential", tau_ms = 10.0, reversal_mv = -80.0 }
    [layers.b]
    kind = "adex"
    size = 30
    t_ref_ms = 2.0
    [layers.c]
    kind = "adex"
    size = 50
    v_init = { kind = "uniform", low = -70.0, high = -60.0 }
    [projections.in_a]
    pre = "input"
    post = "a"
    target = "exc"
    weights = { kind = "uniform", low = 0.0, high = 0.0016 }
    stdp = { a_plus = 0.05, a_minus = 0.001, w_max = 0.003 }
    [projections.in_a_sparse]
    pre = "input"
    post = "a"
    target = "exc"
    delay = 3
    connectivity = { kind = "fixed_indegree", k = 50 }
    weights = { kind = "constant", value = 0.0004 }
    [projections.c_a]
    pre = "c"
    post = "a"
    target = "inh"
    connectivity = { kind = "all_but_self" }
    weights = { kind = "constant", value = 0.0005 }
    [projections.in_b]
    pre = "input"
    post = "b"
    delay = 2
    connectivity = { kind = "bernoulli", p = 0.2 }
    weights = { kind = "constant", value = 0.15 }
    [projections.b_b]
    pre = "b"
    post = "b"
    connectivity = { kind = "all_but_self" }
    weights = { kind = "constant", value = -0.02 }
    [projections.a_c]
    pre = "a"
    post = "c"
    connectivity = { kind = "one_to_one" }
    weights = { kind = "constant", value = 1.5 }
    [stimulus]
    layer = "input"
    dataset = "synthetic"
    images = 3
    steps_per_image = 200
    rest_steps = 50
"#;

#[test]
fn adex_layers_take_every_projection_kind_and_stdp() {
    let config = Config::from_toml(NETWORK, &[]).unwrap();
    let (images, _) =
        spikesim::stimulus::load_images(config.stimulus.as_ref().unwrap(), 4).unwrap();
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let w0 = s.weights("in_a").values().to_vec();
    let mut counts = [0usize; 3];
    for _ in 0..s.total_steps() {
        s.step();
        for (k, l) in ["a", "b", "c"].iter().enumerate() {
            counts[k] += s.spikes(l).len();
        }
    }
    eprintln!("spikes a, b, c: {counts:?}");
    assert!(
        counts.iter().all(|&c| c > 50),
        "every AdEx layer fires: {counts:?}"
    );
    for l in ["a", "b", "c"] {
        let finite = |x: &Vec<f32>| x.iter().all(|v| v.is_finite());
        assert!(
            finite(&s.voltages(l)) && finite(&s.read(l, "w").unwrap()),
            "{l}"
        );
    }
    // STDP moved the weights into AdEx neurons, within [0, w_max].
    let w1 = s.weights("in_a").values().to_vec();
    let changed = w0.iter().zip(&w1).filter(|(a, b)| a != b).count();
    assert!(changed > 1000, "{changed} weights changed");
    assert!(w1.iter().all(|&w| (0.0..=0.003).contains(&w)));
}

fn read<T: hdf5::H5Type>(f: &hdf5::File, path: &str) -> Vec<T> {
    f.dataset(path).unwrap().read_raw().unwrap()
}

#[test]
fn adex_layers_are_recorded_and_inspected() {
    // NETWORK run by the binary, recording spikes (all layers), every
    // step's voltage and w of a's neurons 0–2, 10 ms rates and per-sample
    // counts of the AdEx layers; the file holds what the same run in
    // process gives, step by step.
    let toml = format!(
        r#"{NETWORK}
        [[record.traces]]
        layer = "a"
        vars = ["voltage", "w", "current", "input"]
        neurons = [0, 1, 2]
        [record.rates]
        layers = ["a", "b", "c"]
        bin_ms = 10.0
        [record.samples]
        layers = ["a", "b", "c"]
    "#
    );
    let cfg = common::temp("adex-net.toml");
    std::fs::write(&cfg, &toml).unwrap();
    let out = common::temp("adex-net.h5");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikesim"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    run(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);

    let config = Config::from_toml(&toml, &[]).unwrap();
    let (images, _) =
        spikesim::stimulus::load_images(config.stimulus.as_ref().unwrap(), 4).unwrap();
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let steps = s.total_steps() as usize;
    let (mut v, mut w, mut spikes_a) = (Vec::new(), Vec::new(), Vec::new());
    let mut totals = [0u64; 3];
    for n in 0..steps {
        s.step();
        v.extend_from_slice(&s.voltages("a")[..3]);
        w.extend_from_slice(&s.read("a", "w").unwrap()[..3]);
        spikes_a.extend(s.spikes("a").iter().map(|&i| (n as f64 * 0.5, i as u64)));
        for (k, l) in ["a", "b", "c"].iter().enumerate() {
            totals[k] += s.spikes(l).len() as u64;
        }
    }

    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(read::<f32>(&f, "report/a/voltage/data"), v);
    assert_eq!(read::<f32>(&f, "report/a/w/data"), w);
    let units = |var: &str| -> String {
        let a = f.dataset(&format!("report/a/{var}/data")).unwrap();
        let u: hdf5::types::VarLenUnicode = a.attr("units").unwrap().read_scalar().unwrap();
        u.as_str().to_string()
    };
    assert_eq!((units("voltage"), units("w")), ("mV".into(), "nA".into()));
    let t: Vec<f64> = read(&f, "spikes/a/timestamps");
    let ids: Vec<u64> = read(&f, "spikes/a/node_ids");
    assert_eq!(t.into_iter().zip(ids).collect::<Vec<_>>(), spikes_a);
    for (k, l) in ["a", "b", "c"].iter().enumerate() {
        let rates: Vec<u64> = read(&f, &format!("rates/{l}/counts"));
        assert_eq!(rates.len(), steps / 20);
        assert_eq!(rates.iter().sum::<u64>(), totals[k], "rates of {l}");
        let per_sample: Vec<u32> = read(&f, &format!("samples/counts/{l}"));
        let sum: u64 = per_sample.iter().map(|&c| c as u64).sum();
        assert_eq!(sum, totals[k], "sample counts of {l}");
    }

    let text = run(&["inspect", out.to_str().unwrap()]);
    for (k, l) in ["a", "b", "c"].iter().enumerate() {
        let line = text
            .lines()
            .find(|x| x.trim_start().starts_with(&format!("{l} ")))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains(&format!(" {} ", totals[k])), "{line}");
    }
    assert!(
        text.lines().any(|x| x.contains(" w ") && x.contains("nA")),
        "{text}"
    );
}

#[test]
fn split_adex_layer_gives_the_same_run_on_one_and_two_threads() {
    // 9000 AdEx neurons (over 2 × 4096 rows, so two threads step them in
    // two parts) and a layer of 100 in the same table (the second part
    // steps the end of `big` and all of `small`), with random initial
    // voltages, an external drive (into the default exponential current,
    // about 0.08·10.5 = 0.84 nA at steady state) and sparse recurrent
    // excitation and inhibition: every step's spikes, voltages and w must
    // be bit-identical on 1 and 2 threads.
    let run = |threads: usize| {
        let toml = format!(
            r#"
            [simulation]
            dt_ms = 0.5
            steps = 300
            threads = {threads}
            [layers.big]
            kind = "adex"
            size = 9000
            i_ext = 0.08
            v_init = {{ kind = "uniform", low = -70.6, high = -45.0 }}
            [layers.small]
            kind = "adex"
            size = 100
            i_ext = 0.1
            a_us = -0.002
            v_init = {{ kind = "uniform", low = -70.6, high = -45.0 }}
            [projections.rec]
            pre = "big"
            post = "big"
            connectivity = {{ kind = "fixed_indegree", k = 10 }}
            weights = {{ kind = "uniform", low = -0.05, high = 0.1 }}
            [projections.big_small]
            pre = "big"
            post = "small"
            connectivity = {{ kind = "fixed_indegree", k = 20 }}
            weights = {{ kind = "constant", value = 0.05 }}
        "#
        );
        let mut s = sim(&toml);
        assert_eq!(s.threads(), threads);
        let bits = |x: Vec<f32>| x.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        let mut out = Vec::new();
        for _ in 0..300 {
            s.step();
            for l in ["big", "small"] {
                out.push((
                    s.spikes(l),
                    bits(s.voltages(l)),
                    bits(s.read(l, "w").unwrap()),
                ));
            }
        }
        out
    };
    let one = run(1);
    let fired = |k: usize| {
        one.iter()
            .skip(k)
            .step_by(2)
            .map(|x| x.0.len())
            .sum::<usize>()
    };
    let (big, small) = (fired(0), fired(1));
    eprintln!("spikes: big {big}, small {small}");
    // `big` spikes in both halves of the table.
    let halves = one
        .iter()
        .step_by(2)
        .flat_map(|x| &x.0)
        .fold([0, 0], |mut h, &i| {
            h[(i >= 4500) as usize] += 1;
            h
        });
    assert!(
        halves[0] > 100 && halves[1] > 100 && small > 10,
        "{halves:?} {small}"
    );
    assert!(one == run(2), "1 vs 2 threads");
}

#[test]
fn adex_output_layer_learns_digits_in_the_protocol() {
    // experiments/digits-stdp.toml with its excitatory layer made AdEx:
    // τ_m = C/g_L = 100 nF / 1 µS = 100 ms and E_L = V_r = −65 mV as the
    // LIF's τ_v, v_rest and v_reset; V_T = −52 mV (the LIF's σ) with a
    // sharp Δ_T = 0.5 mV; and in place of the LIF's adaptive threshold θ
    // (+0.05 mV a spike, τ_θ = 10^7 ms) a spike-triggered w with a = 0,
    // b = 0.05 nA (b/g_L = 0.05 mV a spike) and τ_w = 10^7 ms. The reset
    // before each presentation would zero w, so the protocol runs without
    // it (150 rest steps instead). Seeds 1–4 give 47–57% (chance 10%; the
    // 797-image estimate has a standard error of about 1.8%), so 30% is 9
    // standard errors below the worst seed and 11 above chance. The
    // inhibitory layer stays LIF: two models in one network.
    let lif = std::fs::read_to_string(common::repo("experiments/digits-stdp.toml")).unwrap();
    let (start, end) = (
        lif.find("[layers.exc]").unwrap(),
        lif.find("[layers.inh]").unwrap(),
    );
    let exc = r#"[layers.exc]
        kind = "adex"
        size = 40
        c_nf = 100.0
        g_l_us = 1.0
        e_l_mv = -65.0
        v_t_mv = -52.0
        delta_t_mv = 0.5
        v_peak_mv = -40.0
        v_r_mv = -65.0
        t_ref_ms = 5.0
        a_us = 0.0
        b_na = 0.05
        tau_w_ms = 1e7
        synapses.exc = { current = "exponential", tau_ms = 1.0, reversal_mv = 0.0 }
        synapses.inh = { current = "exponential", tau_ms = 2.0, reversal_mv = -100.0 }
    "#;
    let toml = format!("{}{exc}\n{}", &lif[..start], &lif[end..]);
    let cfg = common::temp("digits-adex.toml");
    std::fs::write(&cfg, toml).unwrap();
    let out = common::temp("digits-adex.h5");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", cfg.to_str().unwrap(), "-o", out.to_str().unwrap()])
        .args([
            "--set",
            "protocol.reset=false",
            "--set",
            "protocol.rest_steps=150",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = hdf5::File::open(&out).unwrap();
    let accuracy: f64 = f
        .dataset("results/evaluate/accuracy")
        .unwrap()
        .read_scalar()
        .unwrap();
    assert!(accuracy > 0.3, "accuracy {accuracy}");
}
