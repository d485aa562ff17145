//! Connectivity rules, per-synapse delays and connection lists (issue 15):
//! each rule's draws against closed-form statistics (tolerances derived
//! beside each check), exact counts and the pairs a rule must never make;
//! delays on the time grid and delivered into the slot of each synapse's
//! delay; the same synapses and spikes for 1 and 2 threads; list files
//! read back exactly; bad input refused with one error line.

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use spikesim::config::{Connectivity, Distribution, delay_steps, pair_probability_total};
use spikesim::param::normal_tail;
use spikesim::rng;
use spikesim::synapse::Pairs;
use spikesim::synapse::weights::{DelaySteps, Weights};
use spikesim::{Config, Simulation};

mod common;

use common::{sim, temp};

/// A fresh temporary path `<stem>-<k>.<ext>`, `k` counting up in this
/// process, so that tests running side by side never share a file.
fn fresh(stem: &str, ext: &str) -> std::path::PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    temp(&format!(
        "{stem}-{}.{ext}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ))
}

const ONE: Distribution = Distribution::Constant { value: 1.0 };

/// The synapses of `w` as (pre, post) pairs, in storage order.
fn pairs(w: &Weights) -> Vec<(u32, u32)> {
    let (pre, post) = w.synapses();
    pre.into_iter().zip(post).collect()
}

/// How many synapses each of `n` neurons has, by `side` of the pair.
fn degrees(w: &Weights, n: usize, side: impl Fn((u32, u32)) -> u32) -> Vec<f64> {
    let mut d = vec![0.0; n];
    for p in pairs(w) {
        d[side(p) as usize] += 1.0;
    }
    d
}

/// Mean and (population) variance.
fn moments(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (mean, x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n)
}

/// Whether some (pre, post) pair has two synapses.
fn has_multapse(w: &Weights) -> bool {
    let p = pairs(w);
    p.iter().collect::<HashSet<_>>().len() < p.len()
}

fn indegree(k: usize, multapses: bool, autapses: bool) -> Connectivity {
    Connectivity::FixedIndegree {
        k,
        multapses,
        autapses,
    }
}

fn outdegree(k: usize, multapses: bool, autapses: bool) -> Connectivity {
    Connectivity::FixedOutdegree {
        k,
        multapses,
        autapses,
    }
}

fn normal(mean: f64, std: f64, min: Option<f64>) -> Distribution {
    Distribution::Normal {
        mean,
        std,
        min,
        max: None,
    }
}

fn total(n: usize, multapses: bool, autapses: bool) -> Connectivity {
    Connectivity::FixedTotalNumber {
        n: Some(n),
        p_pair: None,
        multapses,
        autapses,
    }
}

/// `build` on a pool of `threads` threads.
fn on_threads(threads: usize, build: impl FnOnce() -> Weights + Send) -> Weights {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(build)
}

#[test]
fn fixed_total_number_with_multapses_is_n_independent_uniform_pairs() {
    // 100 → 5000 neurons, n = 500 000 synapses (M = 500 000 pairs).
    let (n_pre, n_post, n) = (100usize, 5000usize, 500_000usize);
    let w = Weights::build(
        &total(n, true, true),
        &ONE,
        Pairs::between(n_pre, n_post),
        3,
        0,
    );
    assert_eq!(w.len(), n);
    // In-degrees are multinomial: each Binomial(n, 1/N_post), mean n/N_post
    // = 100 (exactly, the total is fixed), variance n(1/N_post)(1 − 1/N_post)
    // = 99.98. Over 5000 targets the sample variance has a relative
    // standard error of about sqrt(2/5000) = 0.02; 5 se = 10%.
    let (mean, var) = moments(&degrees(&w, n_post, |(_, i)| i));
    assert_eq!(mean, 100.0);
    let expect = n as f64 / n_post as f64 * (1.0 - 1.0 / n_post as f64);
    assert!(
        (var - expect).abs() < 0.10 * expect,
        "in-degree variance {var} vs {expect}"
    );
    // Out-degrees: Binomial(n, 1/N_pre), variance 4950; over 100 sources
    // the relative se is sqrt(2/100) = 0.14; 4 se = 57%.
    let (_, var) = moments(&degrees(&w, n_pre, |(j, _)| j));
    let expect = n as f64 / n_pre as f64 * (1.0 - 1.0 / n_pre as f64);
    assert!(
        (var - expect).abs() < 0.57 * expect,
        "out-degree variance {var} vs {expect}"
    );
    // Distinct pairs (occupancy of M cells by n balls): mean
    // E = M(1 − q^n), q = 1 − 1/M, variance
    // M(M−1)(1 − 2/M)^n + M q^n − M² q^{2n} (of the empty cells); 5 sd.
    let m = (n_pre * n_post) as f64;
    let q = 1.0 - 1.0 / m;
    let e = m * (1.0 - q.powf(n as f64));
    let v = m * (m - 1.0) * (1.0 - 2.0 / m).powf(n as f64) + m * q.powf(n as f64)
        - m * m * q.powf(2.0 * n as f64);
    let distinct = pairs(&w).into_iter().collect::<HashSet<_>>().len() as f64;
    assert!(
        (distinct - e).abs() < 5.0 * v.sqrt(),
        "{distinct} distinct pairs vs {e} ± {}",
        v.sqrt()
    );
    // Rows ascend in post (a repeated pair is adjacent).
    assert!(pairs(&w).windows(2).all(|p| p[0] <= p[1]));
}

#[test]
fn p_pair_gives_potjans_diesmanns_number_of_synapses() {
    // n = round(ln(1 − p)/ln(1 − 1/M)): M = 500 000, p = 0.1:
    // ln 0.9 / ln(1 − 2·10^-6) = 0.1053605 / 2.000002·10^-6 = 52680.1.
    let conn = Connectivity::FixedTotalNumber {
        n: None,
        p_pair: Some(0.1),
        multapses: true,
        autapses: true,
    };
    assert_eq!(pair_probability_total(0.1, 100, 5000), 52680);
    assert_eq!(conn.total_number(100, 5000), Some(52680));
    let w = Weights::build(&conn, &ONE, Pairs::between(100, 5000), 4, 2);
    assert_eq!(w.len(), 52680);
    // The fraction of pairs connected is then p = 0.1, binomial-like with
    // sd under sqrt(p(1 − p)/M) = 4.2·10^-4; 5 sd.
    let distinct = pairs(&w).into_iter().collect::<HashSet<_>>().len() as f64;
    assert!(
        (distinct / 500_000.0 - 0.1).abs() < 5.0 * 4.2e-4,
        "{distinct}"
    );
    assert_eq!(pair_probability_total(0.0, 10, 10), 0);
}

#[test]
fn fixed_total_number_without_multapses_is_a_uniform_set_of_pairs() {
    // 20 → 2000 (M = 40 000 pairs), n = 30 000 distinct: exactly n, no pair
    // twice. In-degrees are multivariate hypergeometric, each H(M, 20, n):
    // mean 15, variance n(20/M)(1 − 20/M)(M − n)/(M − 1) = 3.749 (a
    // multinomial would give 14.99). Over 2000 targets the sample variance
    // has a relative se of about sqrt(2/2000) = 0.032; 5 se = 16%.
    let w = Weights::build(
        &total(30_000, false, true),
        &ONE,
        Pairs::between(20, 2000),
        5,
        1,
    );
    assert_eq!(w.len(), 30_000);
    assert!(!has_multapse(&w));
    let (mean, var) = moments(&degrees(&w, 2000, |(_, i)| i));
    assert_eq!(mean, 15.0);
    let (m, k, n) = (40_000.0, 20.0, 30_000.0);
    let expect = n * (k / m) * (1.0 - k / m) * (m - n) / (m - 1.0);
    assert!(
        (var - expect).abs() < 0.16 * expect,
        "in-degree variance {var} vs {expect}"
    );
    // Every pair but the self-pairs of a layer onto itself: 50·49 = 2450.
    let w = Weights::build(&total(2450, false, false), &ONE, Pairs::within(50), 5, 1);
    let all: HashSet<_> = pairs(&w).into_iter().collect();
    assert_eq!((w.len(), all.len()), (2450, 2450));
    assert!(all.iter().all(|(j, i)| j != i));
}

#[test]
fn autapses_false_makes_no_self_synapse_within_a_layer_only() {
    // 40 neurons onto themselves, 20 000 synapses (12.5 per pair on
    // average): with autapses every j → j would appear about 12 times.
    let within = Pairs::within(40);
    let rules = |autapses| {
        [
            total(20_000, true, autapses),
            indegree(39, false, autapses),
            indegree(500, true, autapses),
            outdegree(39, false, autapses),
            outdegree(500, true, autapses),
        ]
    };
    for conn in rules(false) {
        let w = Weights::build(&conn, &ONE, within, 6, 0);
        assert!(pairs(&w).iter().all(|(j, i)| j != i), "{conn:?}");
        // Between two layers of 40 the same rule may connect j to j.
        let w = Weights::build(&conn, &ONE, Pairs::between(40, 40), 6, 0);
        assert!(pairs(&w).iter().any(|(j, i)| j == i), "{conn:?}");
    }
    for conn in rules(true) {
        let w = Weights::build(&conn, &ONE, within, 6, 0);
        assert!(pairs(&w).iter().any(|(j, i)| j == i), "{conn:?}");
    }
    // k = 39 distinct of the 39 others: every pair but the diagonal, once.
    let w = Weights::build(&rules(false)[1], &ONE, within, 6, 0);
    assert_eq!(w.len(), 40 * 39);
    assert!(!has_multapse(&w));
}

#[test]
fn fixed_outdegree_gives_each_source_k_targets() {
    // 2000 → 2000, k = 100 distinct targets each: every out-degree is 100;
    // an in-degree is a sum of 2000 Bernoulli(k/N_post = 0.05): mean 100
    // (exactly, on average over targets), variance 2000·0.05·0.95 = 95;
    // relative se of the sample variance over 2000 targets sqrt(2/2000) =
    // 0.032, 5 se = 16%.
    let conn = outdegree(100, false, true);
    let w = Weights::build(&conn, &ONE, Pairs::between(2000, 2000), 7, 0);
    assert!(degrees(&w, 2000, |(j, _)| j).iter().all(|&d| d == 100.0));
    assert!(!has_multapse(&w));
    let (mean, var) = moments(&degrees(&w, 2000, |(_, i)| i));
    assert_eq!(mean, 100.0);
    assert!((var - 95.0).abs() < 0.16 * 95.0, "in-degree variance {var}");
    // With multapses, 100 of 200 with replacement: a row repeats a target
    // with probability 1 − Π(1 − m/200) ≈ 1 − e^{-100·99/400} ≈ 1.
    repeats_with_exact_degrees(outdegree(100, true, true), Pairs::between(50, 200), 100);
}

/// `conn` between `pairs` gives every source (fixed_outdegree) or target
/// (fixed_indegree) exactly `k` synapses, some pair twice.
fn repeats_with_exact_degrees(conn: Connectivity, pairs: Pairs, k: usize) {
    let w = Weights::build(&conn, &ONE, pairs, 7, 0);
    let d = match conn {
        Connectivity::FixedOutdegree { .. } => degrees(&w, pairs.n_pre, |(j, _)| j),
        _ => degrees(&w, pairs.n_post, |(_, i)| i),
    };
    assert!(d.iter().all(|&d| d == k as f64), "{conn:?}");
    assert!(has_multapse(&w), "{conn:?}");
}

#[test]
fn fixed_indegree_defaults_draw_what_they_always_drew() {
    // Post neuron i's k inputs are Floyd's k distinct of 0..n_pre from the
    // (seed, CONNECTIVITY, index, i) stream, as before multapses and
    // autapses existed; weights in storage order from (seed, WEIGHTS, index, 0).
    let conn = indegree(7, false, true);
    let init = normal(0.5, 0.1, None);
    let w = Weights::build(&conn, &init, Pairs::within(30), 8, 3);
    let mut expect = Vec::new();
    for i in 0..30u32 {
        let mut r = rng::stream(8, rng::CONNECTIVITY, 3, i as u64);
        for j in rng::sample_distinct(&mut r, 30, 7) {
            expect.push((j, i));
        }
    }
    expect.sort_unstable();
    assert_eq!(pairs(&w), expect);
    let mut r = rng::stream(8, rng::WEIGHTS, 3, 0);
    let values: Vec<f32> = (0..w.len()).map(|_| init.sample(&mut r) as f32).collect();
    assert_eq!(w.values(), &values[..]);
    // With multapses the k are drawn with replacement: 400 of 30 repeat.
    repeats_with_exact_degrees(indegree(400, true, true), Pairs::between(30, 5), 400);
}

#[test]
fn parallel_rules_build_the_same_synapses_on_any_thread_count() {
    // Blocks of targets, weights and delays are keyed by block, not by
    // thread: 1, 2 and 3 threads build identical weights and delays (with
    // over one block, 65 536, of synapses).
    let init = normal(87.8, 8.8, Some(0.0));
    let delays = normal(1.5, 0.75, Some(0.05));
    let rules = [
        total(300_000, true, false),
        total(100_000, false, true),
        outdegree(300, false, true),
        indegree(300, true, false),
    ];
    for conn in rules {
        let build = |threads| {
            on_threads(threads, || {
                let mut w = Weights::build(&conn, &init, Pairs::within(1000), 9, 4);
                w.draw_delays(&delays, 0.1, 9, 4);
                w
            })
        };
        let one = build(1);
        assert!(one.delays().is_some());
        assert_eq!(one, build(2), "{conn:?}");
        assert_eq!(one, build(3), "{conn:?}");
    }
}

#[test]
fn delays_round_to_the_time_grid() {
    // max(1, round(ms/dt)), halves away from zero, whatever floating point
    // makes of the quotient (0.25/0.1 = 2.4999999999999996).
    for (ms, dt, steps) in [
        (0.25, 0.1, 3),
        (0.35, 0.1, 4),
        (0.15, 0.1, 2),
        (0.149, 0.1, 1),
        (0.05, 0.1, 1),
        (0.0, 0.1, 1),
        (-2.0, 0.1, 1),
        (1.5, 0.1, 15),
        (1.0, 0.1, 10),
        (2.5, 1.0, 3),
        (2.49, 1.0, 2),
        (0.1, 0.1, 1),
        (6553.5, 0.1, 65535),
        (0.0499, 0.1, 1),
        (0.1449, 0.1, 1),
        (f64::NAN, 0.1, 1),
    ] {
        assert_eq!(delay_steps(ms, dt), steps, "{ms} ms at dt {dt}");
    }
    assert_eq!(delay_steps(f64::INFINITY, 0.1), u64::MAX);
}

#[test]
fn drawn_delays_follow_the_normal_law_on_the_grid() {
    // Normal(1.5, 0.75) ms kept at >= 0.05 ms, on the 0.1 ms grid: step s
    // takes the draws in [(s − ½)dt, (s + ½)dt) (s = 1 from 0.05), so
    // P(s) = (Φ(b_s) − Φ(a_s))/Z with Z = Q((0.05 − 1.5)/0.75). 200 000
    // synapses: each count within 5 binomial sd of 200 000·P(s).
    let (mu, sd, dt) = (1.5, 0.75, 0.1);
    let d = normal(mu, sd, Some(0.05));
    let mut w = Weights::build(
        &total(200_000, true, true),
        &ONE,
        Pairs::between(500, 500),
        10,
        0,
    );
    let max = w.draw_delays(&d, dt, 10, 0);
    let Some(delays) = w.delays() else {
        panic!("per-synapse delays")
    };
    let DelaySteps::U8(steps) = &delays.steps else {
        panic!("one byte per delay")
    };
    assert_eq!(delays.max, max);
    let mut counts = vec![0.0; max as usize + 1];
    for &s in steps {
        counts[s as usize] += 1.0;
    }
    let z = normal_tail((0.05 - mu) / sd);
    let cdf = |x: f64| 1.0 - normal_tail((x - mu) / sd);
    for (s, &count) in counts.iter().enumerate().skip(1) {
        let lo = if s == 1 { 0.05 } else { (s as f64 - 0.5) * dt };
        let p = (cdf((s as f64 + 0.5) * dt) - cdf(lo)) / z;
        let expect = 200_000.0 * p;
        let tol = 5.0 * (200_000.0 * p * (1.0 - p)).sqrt() + 1.0;
        assert!(
            (count - expect).abs() < tol,
            "step {s}: {count} vs {expect}"
        );
    }
    assert_eq!(counts[0], 0.0);
    // Equal delays keep no array: normal with sd 0 is one delay.
    let point = normal(1.5, 0.0, None);
    assert_eq!(w.draw_delays(&point, dt, 10, 0), 15);
    assert!(w.delays().is_none());
}

/// Two encoders shown one image for one step (both spike at step 0 only,
/// pixel 255), a list of synapses into three instantaneous-current LIF
/// neurons that never spike, at dt = 1 ms.
fn listed(list: &str, extra: &str) -> Simulation {
    let path = fresh("list", "csv");
    std::fs::write(&path, list).unwrap();
    let toml = format!(
        r#"
        [layers.in]
        kind = "encoder"
        size = 2
        [layers.out]
        kind = "lif"
        size = 3
        current = "instantaneous"
        sigma = 1e9
        [projections.p]
        pre = "in"
        post = "out"
        connectivity = {{ kind = "from_file", path = "{}" }}
        {extra}
        [stimulus]
        layer = "in"
        images = 1
        steps_per_image = 1
        rest_steps = 9
        "#,
        path.display()
    );
    common::sim_with_image(&toml, vec![255, 0])
}

/// The synaptic current of `out` at steps 0..steps.
fn inputs(mut s: Simulation, steps: usize) -> Vec<Vec<f32>> {
    (0..steps)
        .map(|_| {
            s.step();
            s.currents("out")
        })
        .collect()
}

#[test]
fn each_synapse_delivers_after_its_own_delay() {
    // Encoder 0 spikes at step 0: synapse k adds w_k at step 0 + d_k into
    // its target. Out 0: 1.0 after 1 step and 0.5 after 3 (a multapse with
    // another delay); out 1: 0.25 after 2 and −2 after 2 (summed in list
    // order: 0.25 − 2 = −1.75); out 2 only from the silent encoder 1.
    let list = "pre,post,weight,delay_ms\n0,0,1.0,1.0\n0,1,0.25,2.0\n1,2,9.0,1.0\n0,0,0.5,3.0\n0,1,-2.0,2.0\n";
    let j = inputs(listed(list, ""), 5);
    let expect = [
        [0.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, -1.75, 0.0],
        [0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0],
    ];
    for (n, want) in expect.iter().enumerate() {
        assert_eq!(j[n], want.to_vec(), "step {n}");
    }
    // The projection's `delay` replaces the file's: everything after 2 steps.
    let j = inputs(listed(list, "delay = 2"), 4);
    assert_eq!(j[2], vec![1.5, -1.75, 0.0]);
    assert_eq!(j[1], vec![0.0; 3]);
    assert_eq!(j[3], vec![0.0; 3]);
}

#[test]
fn a_list_file_reads_back_exactly() {
    // Synapses sorted by (pre, post), file order among equal pairs; the
    // weights as written (f32), the delays on the grid; `weights` given
    // replaces the file's.
    let list =
        "pre,post,weight,delay_ms\n1,2,0.125,4.0\n0,1,-3.5,1.0\n1,0,2.0,2.4\n0,1,7.0,1.6\n\n";
    let mut s = listed(list, "");
    let w = s.weights("p");
    assert_eq!(pairs(&w), vec![(0, 1), (0, 1), (1, 0), (1, 2)]);
    assert_eq!(w.values(), &[-3.5, 7.0, 2.0, 0.125]);
    let d = w.delays().expect("delays from the file");
    assert_eq!(d.steps, DelaySteps::U8(vec![1, 2, 2, 4]));
    assert_eq!(d.max, 4);
    let mut s = listed(list, "weights = { kind = \"constant\", value = 0.5 }");
    assert_eq!(s.weights("p").values(), &[0.5; 4]);
    // Without a delay column every synapse has the one delay (1 step).
    let mut s = listed("pre,post,weight\n0,2,1.5\n", "");
    let w = s.weights("p");
    assert!(w.delays().is_none());
    assert_eq!((pairs(&w), w.values()), (vec![(0, 2)], &[1.5f32][..]));
}

/// A network of 1000 LIF neurons driven above threshold from random
/// voltages (each spikes every 5 or 6 steps: V gains about 0.2 a step
/// towards σ = 1) onto 3000 through fixed_total_number with per-synapse
/// delays, on `threads` threads.
fn delayed_network(threads: usize) -> Simulation {
    sim(&format!(
        r#"
        [simulation]
        steps = 60
        dt_ms = 0.1
        threads = {threads}
        [layers.a]
        kind = "lif"
        size = 1000
        tau_v_ms = 10.0
        current = "instantaneous"
        i_ext = 20.0
        v_init = {{ kind = "uniform", low = 0.0, high = 1.0 }}
        [layers.b]
        kind = "lif"
        size = 3000
        tau_v_ms = 10.0
        current = "exponential"
        [projections.ab]
        pre = "a"
        post = "b"
        connectivity = {{ kind = "fixed_total_number", n = 300000 }}
        weights = {{ kind = "normal", mean = 0.3, std = 0.1 }}
        delay_ms = {{ kind = "normal", mean = 1.5, std = 0.75, min = 0.05 }}
        "#
    ))
}

#[test]
fn per_synapse_delays_give_the_same_run_on_one_and_two_threads() {
    // Each spike of a fans out to 300 synapses on average: with ~180 spikes
    // a step, 54 000 events, over the 2048 where two threads split b's
    // targets.
    let run = |threads| {
        let mut s = delayed_network(threads);
        let mut out = Vec::new();
        for _ in 0..60 {
            s.step();
            out.push((s.spikes("a"), s.spikes("b"), s.voltages("b")));
        }
        (out, s.synapse_events())
    };
    let (one, events) = run(1);
    assert!(events > 60 * 2048, "{events} events");
    assert!(one.iter().any(|(_, b, _)| !b.is_empty()), "b spikes");
    assert_eq!(run(2), (one, events));
}

/// `spikesim validate` of `toml` (written to a file) fails with exit code
/// 2 and one `error:` line containing `needle`.
fn refused(toml: &str, needle: &str) {
    let path = fresh("bad", "toml");
    std::fs::write(&path, toml).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(["validate", path.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "wanted '{needle}': {err}");
}

/// Layers `a` (3 neurons) and `b` (2) and projection `p` from a to b with `rest`.
fn projection(rest: &str) -> String {
    format!(
        "[simulation]\nsteps = 1\n[layers.a]\nkind = \"lif\"\nsize = 3\n[layers.b]\nkind = \"lif\"\nsize = 2\n[projections.p]\npre = \"a\"\npost = \"b\"\n{rest}\n"
    )
}

#[test]
fn bad_projections_are_refused_with_one_line() {
    let w = "weights = { kind = \"constant\", value = 1.0 }";
    refused(
        &projection(&format!(
            "connectivity = {{ kind = \"fixed_total_number\", n = 5, p_pair = 0.1 }}\n{w}"
        )),
        "projections.p.connectivity: give exactly one of n (synapses) and p_pair",
    );
    refused(
        &projection(&format!(
            "connectivity = {{ kind = \"fixed_total_number\", n = 7, multapses = false }}\n{w}"
        )),
        "projections.p.connectivity.n: 7 synapses without multapses, but there are only 6 pairs",
    );
    refused(
        &projection(&format!(
            "connectivity = {{ kind = \"fixed_total_number\", p_pair = 1.0 }}\n{w}"
        )),
        "projections.p.connectivity.p_pair: a probability in [0, 1), got 1",
    );
    refused(
        &projection(&format!(
            "connectivity = {{ kind = \"fixed_outdegree\", k = 3 }}\n{w}"
        )),
        "projections.p.connectivity.k: must be between 1 and the post layer size 2, got 3",
    );
    refused(
        &projection(&format!("delay = 2\ndelay_ms = 1.0\n{w}")),
        "projections.p.delay_ms: give delay (steps) or delay_ms, not both",
    );
    refused(
        &projection(&format!(
            "delay_ms = {{ kind = \"normal\", mean = 1.0, std = 0.5 }}\n{w}"
        )),
        "projections.p.delay_ms: a delay per synapse needs a sparse connectivity",
    );
    refused(
        &projection(&format!(
            "connectivity = {{ kind = \"one_to_one\" }}\ndelay_ms = {{ kind = \"normal\", mean = 1.0, std = 1e4 }}\n{w}"
        )),
        "projections.p.delay_ms: 100001 ms is 100001 steps of 1 ms, at most 65535 (draws reach it: give a max)",
    );
    refused(
        &projection("weights = { kind = \"normal\", mean = 87.8, std = 8.8, max = 0.0 }"),
        "projections.p.weights.max: the window [none, 0] holds a probability of 9.6e-24",
    );
    refused(&projection(""), "projections.p.weights: required");
    // List files: missing, malformed, out of range; errors name the file and line.
    let list = |text: &str| {
        let path = fresh("bad-list", "csv");
        std::fs::write(&path, text).unwrap();
        projection(&format!(
            "connectivity = {{ kind = \"from_file\", path = \"{}\" }}",
            path.display()
        ))
    };
    refused(
        &projection("connectivity = { kind = \"from_file\", path = \"/nonexistent/list.csv\" }"),
        "projections.p.connectivity.path: cannot read /nonexistent/list.csv",
    );
    refused(
        &list("pre,post\n0,1\n"),
        "line 1: the header must be pre,post,weight or pre,post,weight,delay_ms",
    );
    refused(
        &list("pre,post,weight\n0,1,0.5\n2,2,0.5\n"),
        "line 3: post 2 is out of range, the post layer has 2 neurons",
    );
    refused(
        &list("pre,post,weight\n0,1,x\n"),
        "line 2: weight must be a finite number, got 'x'",
    );
    refused(
        &list("pre,post,weight,delay_ms\n0,1,1.0\n"),
        "line 2: 3 fields, the header has 4",
    );
    refused(
        &list("pre,post,weight,delay_ms\n0,1,1.0,0\n"),
        "line 2: delay_ms must be > 0, got 0",
    );
}

#[test]
fn a_config_with_the_new_keys_round_trips() {
    // The resolved config (stored in the output file) reads back as the same.
    let text = projection(
        "connectivity = { kind = \"fixed_total_number\", p_pair = 0.5, autapses = false }\nweights = { kind = \"lognormal\", mu = 0.0, sigma = 0.5, max = 3.0 }\ndelay_ms = 1.5",
    );
    let c = Config::from_toml(&text, &[]).unwrap();
    let again = Config::from_toml(&c.to_toml(), &[]).unwrap();
    assert_eq!(c.to_toml(), again.to_toml());
    let p = &again.projections["p"];
    assert_eq!(p.fixed_delay(1.0), Some(2));
    assert!(matches!(
        p.connectivity,
        Connectivity::FixedTotalNumber {
            p_pair: Some(0.5),
            autapses: false,
            ..
        }
    ));
}
