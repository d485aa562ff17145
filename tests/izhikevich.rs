//! The Izhikevich model (`kind = "izhikevich"`): the paper's firing
//! patterns, and the model everywhere a LIF layer goes (every projection
//! kind and delays, two synaptic currents, conductances, STDP, recording,
//! inspect, threads). The scheme step by step is checked by hand in
//! src/neuron/izhikevich.rs.

use std::process::Command;

use spikesim::{Config, Simulation};

mod common;

use common::{repo, sim, sim_with_image, temp};

/// The steps at which neuron 0 of each layer spiked in the first `steps`.
fn spike_trains(s: &mut Simulation, layers: &[&str], steps: u64) -> Vec<Vec<u64>> {
    let mut out = vec![Vec::new(); layers.len()];
    for n in 0..steps {
        s.step();
        for (l, train) in layers.iter().zip(&mut out) {
            if s.spikes(l).contains(&0) {
                train.push(n);
            }
        }
    }
    out
}

fn isis(train: &[u64]) -> Vec<u64> {
    train.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Whether every value is within `tol` (relative) of their median.
fn regular(x: &[u64], tol: f64) -> bool {
    let mut sorted = x.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2] as f64;
    x.iter().all(|&v| (v as f64 - median).abs() <= tol * median)
}

/// One Izhikevich neuron of the defaults (RS) with the given extra keys.
const ONE: &str = "[simulation]\nsteps = 100\n[layers.n]\nkind = \"izhikevich\"\nsize = 1\n";

#[test]
fn reset_returns_each_neuron_to_its_initial_state() {
    // After 50 steps of drive the state has moved; the reset puts back
    // v = v_init, u = u_init (given here) and J = 0.
    let mut s = sim(&format!(
        "{ONE}i_ext = 10.0\nv_init = {{ kind = \"constant\", value = -70.0 }}\nu_init = -14.5"
    ));
    for _ in 0..50 {
        s.step();
    }
    assert_ne!(s.voltages("n"), vec![-70.0]);
    s.reset_state();
    assert_eq!(s.voltages("n"), vec![-70.0]);
    assert_eq!(s.read("n", "u").unwrap(), vec![-14.5]);
    assert_eq!(s.currents("n"), vec![0.0]);
    // Drawn voltages: each neuron back to its own draw, u to b·v of it (in f64, then f32).
    let toml =
        format!("{ONE}i_ext = 10.0\nv_init = {{ kind = \"uniform\", low = -70.0, high = -60.0 }}")
            .replace("size = 1", "size = 5");
    let mut s = sim(&toml);
    let (v0, u0) = (s.voltages("n"), s.read("n", "u").unwrap());
    let b_v: Vec<f32> = v0.iter().map(|&v| (0.2 * f64::from(v)) as f32).collect();
    assert_eq!(u0, b_v);
    assert!(v0.windows(2).all(|w| w[0] != w[1]), "{v0:?}");
    for _ in 0..30 {
        s.step();
    }
    s.reset_state();
    assert_eq!((s.voltages("n"), s.read("n", "u").unwrap()), (v0, u0));
}

#[test]
fn validation_names_the_key() {
    let bad = |extra: &str| {
        let toml = format!("{ONE}{extra}\n");
        Config::from_toml(&toml, &[]).unwrap_err().0
    };
    let e = bad("v_peak = -70.0");
    assert!(e.starts_with("layers.n.v_peak: must be > c (-65)"), "{e}");
    let e = bad("a = nan");
    assert!(e.starts_with("layers.n.a: must be a finite number"), "{e}");
    let e = bad("v_init = { kind = \"uniform\", low = -60.0, high = -70.0 }");
    assert!(e.starts_with("layers.n.v_init.high"), "{e}");
    let e = bad("tau_v_ms = 10.0");
    assert!(e.contains("tau_v_ms"), "{e}");
    let e = bad("synapses.e = { tau_ms = -1.0 }");
    assert!(e.starts_with("layers.n.synapses.e.tau_ms"), "{e}");
    let e = bad("[[record.traces]]\nlayer = \"n\"\nvars = [\"theta\"]");
    assert!(
        e.contains("theta") && e.contains("voltage, u, current, input"),
        "{e}"
    );
}

#[test]
fn the_five_firing_patterns_of_fig_2() {
    // experiments/izhikevich.toml: one neuron each, v = −65, u = b·v,
    // I = 10 from 10 ms (step 10) to the end (300 ms), dt = 1 ms. Properties
    // of each spike train, from its ISIs (ms), with the values this scheme
    // gives (they match a 0.1 ms run of the same scheme to a spike for RS,
    // IB, CH; see the module docs for counts):
    //   RS  7 spikes, ISIs 24, 46, 46, …          adaptation, low rate
    //   IB  11 spikes, ISIs 4, 6, 41, 33, 33, …   burst of 3, then tonic
    //   CH  27 spikes, bursts of 5–7 spikes with ISIs 3–6, 48–49 between
    //   FS  36 spikes, ISIs 6, 8, 9, 9, 8, 8, …   high rate, little adaptation
    //   LTS 23 spikes, ISIs 4, 5, 6, 8, 11, 14, 15, 14, …  high rate, adaptation
    let config = Config::load(&repo("experiments/izhikevich.toml"), &[]).unwrap();
    let mut s = Simulation::new(&config, None).unwrap();
    let layers = ["rs", "ib", "ch", "fs", "lts"];
    let trains = spike_trains(&mut s, &layers, config.steps());
    let t: Vec<&[u64]> = trains.iter().map(Vec::as_slice).collect();
    let i: Vec<Vec<u64>> = trains.iter().map(|x| isis(x)).collect();
    for (l, x) in layers.iter().zip(&t) {
        assert!(x[0] >= 10, "{l}: no spike before the current: {x:?}");
    }

    // RS: adaptation, the ISIs never shorten and the steady ISI is at least
    // 1.5× the first; low rate: under 30 Hz over the 290 ms of current
    // (< 9 spikes); tonic once adapted (last 4 ISIs within 10% of their median).
    let rs = &i[0];
    assert!(rs.windows(2).all(|w| w[1] >= w[0]), "RS {rs:?}");
    assert!(
        *rs.last().unwrap() as f64 >= 1.5 * rs[0] as f64,
        "RS {rs:?}"
    );
    assert!((3..9).contains(&t[0].len()), "RS {:?}", t[0]);
    assert!(regular(&rs[rs.len() - 4..], 0.1), "RS {rs:?}");

    // IB: an initial burst, at least 2 ISIs ≤ 10 ms, then only ISIs ≥ 25 ms,
    // regular from the second long one on (within 10% of their median).
    let ib = &i[1];
    let burst = ib.iter().take_while(|&&x| x <= 10).count();
    assert!(burst >= 2, "IB {ib:?}");
    assert!(ib[burst..].iter().all(|&x| x >= 25), "IB {ib:?}");
    assert!(ib.len() - burst >= 5, "IB tonic after the burst {ib:?}");
    assert!(regular(&ib[burst + 1..], 0.1), "IB {ib:?}");

    // CH: bimodal ISIs, each ≤ 10 ms (within a burst) or ≥ 40 ms (between),
    // none in between; at least 4 long ones (≥ 5 bursts), and every burst
    // of at least 3 spikes (≥ 2 short ISIs between long ones).
    let ch = &i[2];
    assert!(ch.iter().all(|&x| x <= 10 || x >= 40), "CH {ch:?}");
    let bursts: Vec<usize> = ch.split(|&x| x >= 40).map(|b| b.len() + 1).collect();
    assert!(bursts.len() >= 5, "CH {ch:?}");
    assert!(bursts.iter().all(|&n| n >= 3), "CH bursts {bursts:?}");

    // FS: high rate, ≥ 100 Hz over the 290 ms (≥ 29 spikes); little
    // adaptation: the last ISI at most 1.5× the first, and from the third
    // ISI on all within 15% of their median.
    let fs = &i[3];
    assert!(t[3].len() >= 29, "FS {:?}", t[3]);
    assert!(
        *fs.last().unwrap() as f64 <= 1.5 * fs[0] as f64,
        "FS {fs:?}"
    );
    assert!(regular(&fs[2..], 0.15), "FS {fs:?}");

    // LTS: high rate, the first ISI ≤ 5 ms (≥ 200 Hz) and ≥ 20 spikes
    // (≥ 69 Hz); adaptation: the first 7 ISIs never shorten and the steady
    // ISI (median of the last 10) is at least 2.5× the first.
    let lts = &i[4];
    assert!(lts[0] <= 5 && t[4].len() >= 20, "LTS {lts:?}");
    assert!(lts[..7].windows(2).all(|w| w[1] >= w[0]), "LTS {lts:?}");
    let mut tail = lts[lts.len() - 10..].to_vec();
    tail.sort_unstable();
    assert!(tail[5] as f64 >= 2.5 * lts[0] as f64, "LTS {lts:?}");

    // And the classes differ where the paper says they do: FS and LTS fire
    // far faster than RS; IB and CH burst, RS, FS and LTS do not start with
    // an ISI as short as CH's.
    assert!(t[3].len() > 4 * t[0].len() && t[4].len() > 3 * t[0].len());
    assert!(rs[0] > 10 && fs[0] > ch[0] && lts[0] > ch[0]);
}

/// Encoders `in` (4 neurons, pixels 0 and 2 lit: they spike every step)
/// into an Izhikevich layer `n` of 4 through `{connectivity}` with delay 3
/// and weight 0.5, into its default instantaneous current.
fn projection(connectivity: &str) -> String {
    format!(
        r#"
        [layers.in]
        kind = "encoder"
        size = 4
        [layers.n]
        kind = "izhikevich"
        size = 4
        [projections.p]
        pre = "in"
        post = "n"
        delay = 3
        connectivity = {connectivity}
        weights = {{ kind = "constant", value = 0.5 }}
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 10
    "#
    )
}

#[test]
fn every_projection_kind_and_delays_reach_the_drive() {
    // With the instantaneous current J(n) = I(n), and I_i(n) = Σ of the
    // weights W[j, i] of the lit inputs j ∈ {0, 2}, which spiked at n − 3:
    // J = 0 at steps 0–2, then
    //   dense            0.5 + 0.5 = 1.0 for every i
    //   one_to_one       [0.5, 0, 0.5, 0]
    //   all_but_self     i ∉ {0, 2} gets both, i ∈ {0, 2} one: [0.5, 1, 0.5, 1]
    //   fixed_indegree, bernoulli: Σ_{j ∈ {0,2}} W[j, i] over the drawn synapses.
    let kinds: [(&str, Option<[f32; 4]>); 5] = [
        (r#"{ kind = "dense" }"#, Some([1.0; 4])),
        (r#"{ kind = "one_to_one" }"#, Some([0.5, 0.0, 0.5, 0.0])),
        (r#"{ kind = "all_but_self" }"#, Some([0.5, 1.0, 0.5, 1.0])),
        (r#"{ kind = "fixed_indegree", k = 2 }"#, None),
        (r#"{ kind = "bernoulli", p = 0.5 }"#, None),
    ];
    for (c, want) in kinds {
        let mut s = sim_with_image(&projection(c), vec![255, 0, 255, 0]);
        let w = s.weights("p");
        let drawn: Vec<f32> = (0..4)
            .map(|i| [0, 2].iter().filter_map(|&j| w.get(j, i)).sum())
            .collect();
        if let Some(want) = want {
            assert_eq!(drawn, want, "{c}");
        }
        for n in 0..8 {
            s.step();
            let j = s.currents("n");
            let want = if n < 3 { vec![0.0; 4] } else { drawn.clone() };
            assert_eq!(j, want, "{c}, step {n}");
        }
    }
}

#[test]
fn two_synaptic_currents_by_target() {
    // Input 0 spikes at step 0 only (one step shown, then rest), input 1
    // never. `exc` (exponential, τ 5 ms) gets it through dense weights 0.5,
    // `inh` (τ 10 ms) through one_to_one weights −2 (so neuron 0 only);
    // delay 1, so from n = 1: J_exc(n) = 0.5·e^(−(n−1)/5) for both neurons,
    // J_inh(n) = −2·e^(−(n−1)/10) for neuron 0, and `current` is their sum:
    // neuron 0 at n = 11: 0.5e^−2 − 2e^−1 = 0.067668 − 0.735759 = −0.668091.
    let toml = r#"
        [layers.in]
        kind = "encoder"
        size = 2
        [layers.n]
        kind = "izhikevich"
        size = 2
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
        target = "inh"
        connectivity = { kind = "one_to_one" }
        weights = { kind = "constant", value = -2.0 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 1
        rest_steps = 30
    "#;
    let mut s = sim_with_image(toml, vec![255, 0]);
    let mut j = Vec::new();
    for _ in 0..12 {
        s.step();
        j.push(s.currents("n"));
    }
    assert_eq!(j[0], vec![0.0, 0.0]);
    for (n, got) in j.iter().enumerate().skip(1) {
        let t = (n - 1) as f64;
        let want = [
            0.5 * (-t / 5.0).exp() - 2.0 * (-t / 10.0).exp(),
            0.5 * (-t / 5.0).exp(),
        ];
        for i in 0..2 {
            assert!(
                (got[i] as f64 - want[i]).abs() < 1e-5,
                "J_{i}({n}) = {got:?}"
            );
        }
    }
    assert!((j[11][0] as f64 + 0.668091).abs() < 1e-5);
}

#[test]
fn a_conductance_drives_with_the_previous_voltage() {
    // g (exponential, τ 2 ms, E = 0 mV) fed i_ext = 0.1 per step: g(0) = 0.1,
    // I = g·(0 − v(−1)) = 0.1·65 = 6.5; from v = −65, u = −13:
    //   f(−65)    = 169 − 325 + 140 + 13 + 6.5 = 3.5         → v' = −63.25
    //   f(−63.25) = 160.0225 − 316.25 + 153 + 6.5 = 3.2725   → v'' = −61.61375
    let mut s = sim(r#"
        [simulation]
        steps = 1
        [layers.n]
        kind = "izhikevich"
        size = 1
        i_ext = 0.1
        synapses.ampa = { current = "exponential", tau_ms = 2.0, reversal_mv = 0.0 }
    "#);
    s.step();
    let v = s.voltages("n")[0];
    assert!((v + 61.61375).abs() < 1e-4, "{v}");
    // `current` is that I, `g_ampa` the conductance.
    assert_eq!(s.read("n", "current").unwrap(), vec![6.5]);
    assert_eq!(s.currents("n"), vec![6.5]);
    assert_eq!(s.read("n", "g_ampa").unwrap(), vec![0.1]);
}

#[test]
fn stdp_potentiates_on_izhikevich_spikes() {
    // Input 0 spikes every step, input 1 never; initial weights 0 (so the
    // input does not move the neuron), a_minus = 0. The neuron, RS under
    // i_ext = 10 from step 0 and v = −65, u = −13, follows the recursion of
    // src/neuron/izhikevich.rs: v = −58.105, −49.670, −32.148 after steps
    // 0–2, then f(−32.148) = 41.34 − 160.74 + 140 + 12.78 + 10 = 43.38 →
    // v' = −10.46, f(v') = 4.37 − 52.29 + 162.78 = 114.87 → v'' = 46.98 ≥ 30:
    // its first spike is at step 3. There W[0, 0] += a_plus·x_0 with
    // x_0 = Σ_{k=1..3} e^(−k/20) (the pre spikes of steps 0–2, decayed;
    // step 3's own spike counts only after the update):
    //   e^−0.05 + e^−0.1 + e^−0.15 = 0.951229 + 0.904837 + 0.860708 = 2.716774,
    // so W[0, 0] = 0.01·2.716774 = 0.02716774; W[1, 0] stays 0 (x_1 = 0).
    let toml = r#"
        [layers.in]
        kind = "encoder"
        size = 2
        [layers.n]
        kind = "izhikevich"
        size = 1
        i_ext = 10.0
        [projections.p]
        pre = "in"
        post = "n"
        weights = { kind = "constant", value = 0.0 }
        stdp = { tau_pre_ms = 20.0, a_plus = 0.01, a_minus = 0.0 }
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 10
    "#;
    let mut s = sim_with_image(toml, vec![255, 0]);
    let mut first = None;
    for n in 0..10 {
        s.step();
        if first.is_none() && s.spikes("n") == [0] {
            first = Some(n);
            let w = s.weights("p");
            assert!((w.get(0, 0).unwrap() - 0.027_167_74).abs() < 1e-6);
            assert_eq!(w.get(1, 0), Some(0.0));
        } else if first.is_none() {
            assert_eq!(s.weights("p").get(0, 0), Some(0.0), "no post spike yet");
        }
    }
    assert_eq!(first, Some(3));
}

#[test]
fn recorded_file_and_inspect() {
    // Synthetic digits (784 encoders, bernoulli) into 20 Izhikevich neurons;
    // 2 images of 100 steps. The file's u and voltage traces are what the
    // simulation reads step by step, its spikes the simulation's, its rates
    // and per-sample counts their sums; inspect names the layer and u.
    let toml = r#"
        [simulation]
        seed = 3
        [layers.in]
        kind = "encoder"
        size = 784
        gain = 0.2
        [layers.n]
        kind = "izhikevich"
        size = 20
        v_init = { kind = "uniform", low = -70.0, high = -60.0 }
        [projections.p]
        pre = "in"
        post = "n"
        connectivity = { kind = "fixed_indegree", k = 50 }
        weights = { kind = "uniform", low = 0.0, high = 3.0 }
        [stimulus]
        layer = "in"
        dataset = "synthetic"
        images = 2
        steps_per_image = 100
        [[record.traces]]
        layer = "n"
        vars = ["voltage", "u", "current"]
        neurons = [3, 7]
        [record.rates]
        layers = ["n"]
        bin_ms = 10.0
        [record.samples]
        layers = ["n"]
    "#;
    let cfg = temp("izh-rec.toml");
    std::fs::write(&cfg, toml).unwrap();
    let out = temp("izh-rec.h5");
    let bin = env!("CARGO_BIN_EXE_spikesim");
    let o = Command::new(bin)
        .args(["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let config = Config::from_toml(toml, &[]).unwrap();
    let stim = config.stimulus.as_ref().unwrap();
    let (images, _) = spikesim::stimulus::load_images(stim, 3).unwrap();
    let mut s = Simulation::new(&config, Some(images)).unwrap();
    let (mut v, mut u, mut times) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..200u64 {
        s.step();
        let (vn, un) = (s.voltages("n"), s.read("n", "u").unwrap());
        v.extend([vn[3], vn[7]]);
        u.extend([un[3], un[7]]);
        times.extend(s.spikes("n").iter().map(|&i| (n as f64, i as u64)));
    }
    let f = hdf5::File::open(&out).unwrap();
    let read = |p: &str| f.dataset(p).unwrap();
    assert_eq!(read("report/n/voltage/data").read_raw::<f32>().unwrap(), v);
    assert_eq!(read("report/n/u/data").read_raw::<f32>().unwrap(), u);
    let units = |p: &str| -> String {
        let a = read(p).attr("units").unwrap();
        a.read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap()
            .to_string()
    };
    assert_eq!(units("report/n/u/data"), "mV");
    assert_eq!(units("report/n/current/data"), "1");
    let t = read("spikes/n/timestamps").read_raw::<f64>().unwrap();
    let ids = read("spikes/n/node_ids").read_raw::<u64>().unwrap();
    let file: Vec<(f64, u64)> = t.iter().copied().zip(ids.iter().copied()).collect();
    assert!(!file.is_empty(), "the layer spikes");
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut file_sorted = file.clone();
    file_sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(file_sorted, sorted);
    let counts = read("rates/n/counts").read_raw::<u64>().unwrap();
    assert_eq!(counts.iter().sum::<u64>(), t.len() as u64);
    let per_sample = read("samples/counts/n").read_raw::<u32>().unwrap();
    assert_eq!(per_sample.len(), 2 * 20);
    assert_eq!(
        per_sample.iter().map(|&c| c as usize).sum::<usize>(),
        t.len()
    );

    let o = Command::new(bin)
        .args(["inspect", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let line = |start: &str, has: &str| {
        text.lines()
            .any(|l| l.trim_start().starts_with(start) && l.contains(has))
    };
    assert!(line("n ", &format!(" {} ", t.len())), "{text}");
    assert!(line("n ", " u ") && line("n ", "mV"), "{text}");
}

#[test]
fn a_split_layer_gives_the_same_spikes_and_state_on_one_and_two_threads() {
    // 9000 Izhikevich neurons (over 2 × 4096 rows, so two threads step them
    // in two parts), with initial voltages drawn, two synaptic currents (exc
    // from 300 encoders through random weights, inh recurrent with delay 2,
    // so that the parts' spikes feed each other), 150 steps. Every step's
    // spikes and the final v and u, bit for bit, must not depend on it.
    let pixels: Vec<u8> = (0..300u32).map(|i| (i * 37 % 256) as u8).collect();
    let run = |threads: usize| {
        let toml = format!(
            r#"
            [simulation]
            threads = {threads}
            seed = 11
            [layers.in]
            kind = "encoder"
            size = 300
            gain = 0.3
            [layers.n]
            kind = "izhikevich"
            size = 9000
            d = 2.0
            v_init = {{ kind = "uniform", low = -70.0, high = -55.0 }}
            i_ext = 2.0
            synapses.exc = {{ current = "exponential", tau_ms = 5.0 }}
            synapses.inh = {{ current = "exponential", tau_ms = 10.0 }}
            [projections.in_n]
            pre = "in"
            post = "n"
            target = "exc"
            connectivity = {{ kind = "fixed_indegree", k = 30 }}
            weights = {{ kind = "uniform", low = 0.0, high = 2.0 }}
            [projections.n_n]
            pre = "n"
            post = "n"
            target = "inh"
            delay = 2
            connectivity = {{ kind = "fixed_indegree", k = 10 }}
            weights = {{ kind = "uniform", low = -1.0, high = 0.0 }}
            [stimulus]
            layer = "in"
            images = 1
            steps_per_image = 150
        "#
        );
        let mut s = sim_with_image(&toml, pixels.clone());
        assert_eq!(s.threads(), threads);
        let spikes: Vec<Vec<u32>> = (0..150)
            .map(|_| {
                s.step();
                s.spikes("n")
            })
            .collect();
        let bits = |x: Vec<f32>| x.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        (
            spikes,
            bits(s.voltages("n")),
            bits(s.read("n", "u").unwrap()),
        )
    };
    let one = run(1);
    let total: usize = one.0.iter().map(Vec::len).sum();
    assert!(total > 9000, "the layer is active: {total} spikes");
    assert!(
        one.0
            .iter()
            .any(|s| s.iter().any(|&i| i < 4500) && s.iter().any(|&i| i >= 4500)),
        "both halves spike"
    );
    assert_eq!(one, run(2));
}
