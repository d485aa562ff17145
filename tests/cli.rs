//! The `spikesim` binary end to end: output files read back with the hdf5
//! crate, determinism across threads and seeds, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spikesim::{Config, Simulation};

mod common;

use common::{repo, temp};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spikesim"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spikesim runs")
}

fn run_ok(args: &[&str]) {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A layer's spikes: name, timestamps, node ids.
type LayerSpikes = (String, Vec<f64>, Vec<u64>);

/// The spike datasets of every layer and the trace data, as raw values.
fn read_all(path: &Path) -> (Vec<LayerSpikes>, Vec<Vec<f32>>) {
    let f = hdf5::File::open(path).unwrap();
    let spikes = f.group("spikes").unwrap();
    let mut layers = Vec::new();
    for name in spikes.member_names().unwrap() {
        let g = spikes.group(&name).unwrap();
        let t = g.dataset("timestamps").unwrap().read_raw::<f64>().unwrap();
        let n = g.dataset("node_ids").unwrap().read_raw::<u64>().unwrap();
        layers.push((name, t, n));
    }
    let mut traces = Vec::new();
    if let Ok(report) = f.group("report") {
        for layer in report.member_names().unwrap() {
            for var in report.group(&layer).unwrap().member_names().unwrap() {
                let d = f.dataset(&format!("report/{layer}/{var}/data")).unwrap();
                traces.push(d.read_raw::<f32>().unwrap());
            }
        }
    }
    (layers, traces)
}

#[test]
fn single_neuron_file_matches_the_simulation() {
    let out = temp("single.h5");
    let cfg = repo("experiments/single-neuron.toml");
    run_ok(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);

    // The same run in-process, step by step.
    let config = Config::load(&cfg, &[]).unwrap();
    let mut sim = Simulation::new(&config, None).unwrap();
    let (mut v, mut j, mut spikes) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..config.steps() {
        sim.step();
        v.push(sim.voltages("neuron")[0]);
        j.push(sim.currents("neuron")[0]);
        if !sim.spikes("neuron").is_empty() {
            spikes.push(n as f64 * config.simulation.dt_ms);
        }
    }

    let f = hdf5::File::open(&out).unwrap();
    let data = |var: &str| -> Vec<f32> {
        f.dataset(&format!("report/neuron/{var}/data"))
            .unwrap()
            .read_raw()
            .unwrap()
    };
    assert_eq!(data("voltage"), v);
    assert_eq!(data("current"), j);
    let shape = f.dataset("report/neuron/voltage/data").unwrap().shape();
    assert_eq!(shape, vec![200, 1]);
    let ts: Vec<f64> = f
        .dataset("spikes/neuron/timestamps")
        .unwrap()
        .read_raw()
        .unwrap();
    assert_eq!(ts, spikes);
    assert!(!spikes.is_empty());
    // mapping/time = [start, stop, dt] = [0, 200, 1] ms for 200 frames at dt 1.
    let time: Vec<f64> = f
        .dataset("report/neuron/voltage/mapping/time")
        .unwrap()
        .read_raw()
        .unwrap();
    assert_eq!(time, vec![0.0, 200.0, 1.0]);

    let attr_u64 = |name: &str| f.attr(name).unwrap().read_scalar::<u64>().unwrap();
    assert_eq!(attr_u64("seed"), 1);
    assert_eq!(attr_u64("steps"), 200);
    assert!(attr_u64("threads") >= 1);
    assert_eq!(f.attr("dt_ms").unwrap().read_scalar::<f64>().unwrap(), 1.0);
    let toml: hdf5::types::VarLenUnicode = f.attr("config_toml").unwrap().read_scalar().unwrap();
    // The stored config is the resolved one and loads back to the same run.
    let again = Config::from_toml(toml.as_str(), &[]).unwrap();
    assert_eq!(again.to_toml(), config.to_toml());
}

/// Runs `experiments/{experiment}` with `--threads threads` and the further
/// arguments `args` into the temporary file `name`; returns its path and
/// what the binary printed.
fn run_experiment_output(
    name: &str,
    experiment: &str,
    threads: &str,
    args: &[&str],
) -> (PathBuf, Output) {
    let out = temp(name);
    let cfg = repo(&format!("experiments/{experiment}"));
    let mut argv = vec![
        "run",
        cfg.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--threads",
        threads,
    ];
    argv.extend_from_slice(args);
    let o = run(&argv);
    assert!(
        o.status.success(),
        "{argv:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (out, o)
}

/// [`run_experiment_output`], the path only.
fn run_experiment(name: &str, experiment: &str, threads: &str, args: &[&str]) -> PathBuf {
    run_experiment_output(name, experiment, threads, args).0
}

/// A network large enough (10,000 LIF neurons >= 2 × PARALLEL_MIN) that the
/// neuron update runs in two parallel parts when given 2 threads.
fn determinism_run(name: &str, threads: &str, seed: &str) -> PathBuf {
    let args = [
        "--seed",
        seed,
        "--set",
        "stimulus.dataset=synthetic",
        "--set",
        "stimulus.images=3",
        "--set",
        "layers.hidden.size=10000",
    ];
    run_experiment(name, "seed-demo.toml", threads, &args)
}

/// CUBA with 8,000 excitatory and 2,000 inhibitory neurons in one table:
/// given 2 threads, the update splits it at row 5,000, so one part steps
/// the end of the excitatory layer and the whole inhibitory one.
#[test]
fn cuba_one_and_two_threads_give_identical_output() {
    let args = [
        "--set",
        "simulation.steps=2000",
        "--set",
        "layers.exc.size=8000",
        "--set",
        "layers.inh.size=2000",
    ];
    let a = read_all(&run_experiment("cuba1.h5", "cuba.toml", "1", &args));
    let b = read_all(&run_experiment("cuba2.h5", "cuba.toml", "2", &args));
    assert_eq!(a.0.len(), 2, "both layers recorded");
    assert!(
        a.0.iter().all(|(_, t, _)| !t.is_empty()),
        "both layers spike"
    );
    assert_eq!(a, b, "1 vs 2 threads");
}

#[test]
fn one_and_two_threads_give_identical_output() {
    let a = read_all(&determinism_run("t1.h5", "1", "7"));
    let b = read_all(&determinism_run("t2.h5", "2", "7"));
    let c = read_all(&determinism_run("t2b.h5", "2", "7"));
    let d = read_all(&determinism_run("s8.h5", "2", "8"));
    assert!(
        a.0.iter().all(|(_, t, _)| !t.is_empty()),
        "both layers spike"
    );
    assert_eq!(a, b, "1 vs 2 threads");
    assert_eq!(b, c, "repeated run");
    assert_ne!(a.0, d.0, "another seed changes the spikes");
}

#[test]
fn inspect_summarizes_a_run() {
    let out = temp("inspect.h5");
    let cfg = repo("experiments/single-neuron.toml");
    run_ok(&["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let o = run(&["inspect", out.to_str().unwrap()]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    let (spikes, _) = read_all(&out);
    let n = spikes[0].1.len();
    // Rate = spikes / (1 neuron × 0.2 s).
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("neuron "))
        .expect(&text);
    assert!(line.contains(&format!(" {n} ")), "{line}");
    assert!(line.contains(&format!("{:.2}", n as f64 / 0.2)), "{line}");
    assert!(
        text.contains("voltage") && text.contains("threshold"),
        "{text}"
    );
}

/// Runs the demo config with `args` and expects exit code 2, one line on
/// stderr containing `needle`, and no output file.
fn rejects(args: &[&str], needle: &str) {
    let out = temp(&format!("bad-{}.h5", needle.replace(['/', ' ', '.'], "_")));
    let cfg = repo("experiments/seed-demo.toml");
    let mut all = vec!["run", cfg.to_str().unwrap()];
    if !args.contains(&"--out") {
        all.extend(["--out", out.to_str().unwrap()]);
    }
    all.extend(args);
    let o = run(&all);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    // Other lines may be notes (e.g. that the synthetic digits stand in for MNIST).
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"));
    assert!(!out.exists(), "no output file for {args:?}");
}

#[test]
fn bad_input_gives_exit_2_a_message_and_no_file() {
    rejects(
        &["--set", "layers.hidden.tau_vv_ms=3"],
        "unknown field `tau_vv_ms`",
    );
    rejects(
        &["--set", "layers.hidden.size=\"big\""],
        "layers.hidden.size",
    );
    rejects(&["--set", "layers.hidden.size=-100"], "layers.hidden.size");
    rejects(
        &["--set", "simulation.dt_ms=0"],
        "simulation.dt_ms: must be > 0",
    );
    rejects(&["--set", "simulation.dt_ms=-1"], "simulation.dt_ms");
    rejects(
        &[
            "--set",
            "projections.input_hidden.connectivity={ kind = \"bernoulli\", p = 1.5 }",
        ],
        "projections.input_hidden.connectivity.p: a probability in [0, 1]",
    );
    rejects(&["--set", "layers.input.gain=-1"], "layers.input.gain");
    rejects(
        &["--set", "projections.input_hidden.pre=retina"],
        "unknown layer 'retina'",
    );
    rejects(
        &[
            "--set",
            "stimulus.dataset=idx",
            "--set",
            "stimulus.path=/nonexistent/mnist",
        ],
        "dataset file not found: /nonexistent/mnist",
    );
    rejects(&["--out", "/proc/spikesim/run.h5"], "/proc/spikesim");
    let file = temp("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("run.h5");
    rejects(&["--out", under_file.to_str().unwrap()], "not-a-dir");
}

#[test]
fn missing_config_and_bad_toml_are_reported() {
    let o = run(&["run", "/nonexistent.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read config /nonexistent.toml"));
    let bad = temp("bad.toml");
    std::fs::write(&bad, "[simulation\nsteps = 3\n").unwrap();
    let o = run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 1") && err.lines().count() == 1, "{err}");
}

#[test]
fn validate_accepts_the_experiments() {
    for cfg in [
        "experiments/seed-demo.toml",
        "experiments/single-neuron.toml",
    ] {
        let o = run(&["validate", repo(cfg).to_str().unwrap()]);
        assert!(
            o.status.success(),
            "{cfg}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok: "));
    }
}

#[test]
fn inspect_rejects_a_non_hdf5_file() {
    let f = temp("plain.txt");
    std::fs::write(&f, "hello").unwrap();
    let o = run(&["inspect", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an HDF5 file"));
}

/// `--timings` prints one line per stage and the writer, over every step,
/// and changes nothing in the output.
#[test]
fn timings_name_every_stage_and_change_nothing() {
    let args = [
        "--set",
        "stimulus.dataset=synthetic",
        "--set",
        "stimulus.images=2",
        "--set",
        "record.traces=[{layer = \"hidden\", vars = [\"voltage\"]}]",
    ];
    let plain = run_experiment("untimed.h5", "seed-demo.toml", "1", &args);
    let timed = [&args[..], &["--timings"]].concat();
    let (out, o) = run_experiment_output("timed.h5", "seed-demo.toml", "1", &timed);
    let err = String::from_utf8_lossy(&o.stderr);
    // Two images of 250 steps: 500 steps timed.
    assert!(err.contains("stage timings over 500 steps:"), "{err}");
    for stage in [
        "encode", "deliver", "update", "adapt", "learn", "record", "writer",
    ] {
        assert!(
            err.lines()
                .any(|l| l.starts_with(stage) && l.ends_with("µs/step")),
            "{stage} missing: {err}"
        );
    }
    assert_eq!(read_all(&plain), read_all(&out));
}

/// Runs `spikesim bench ARGS` and returns the `key=value` pairs of its one
/// `RESULT` line, after checking the line's fixed start.
fn bench_keys(args: &[&str]) -> std::collections::HashMap<String, String> {
    let o = run(&[&["bench"], args].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let workload = if args[0] == "w3" {
        "microcircuit"
    } else {
        "brunel"
    };
    let start = format!("RESULT tool=spikesim workload={workload} neurons=");
    assert!(lines[0].starts_with(&start), "{text}");
    lines[0]
        .split_whitespace()
        .skip(1)
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("{kv} in {text}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Checks `key=value` pairs of a `RESULT` line's keys.
fn assert_values(k: &std::collections::HashMap<String, String>, pairs: &[(&str, &str)]) {
    for (key, value) in pairs {
        assert_eq!(k[*key], *value, "{key}");
    }
}

/// `bench w3` and `bench w4` print the keys of the NEST peers' lines, with
/// the counts of the timed steps only.
#[test]
fn bench_w3_and_w4_print_the_peers_keys() {
    let k = bench_keys(&[
        "w3",
        "--scale",
        "0.02",
        "--steps",
        "50",
        "--presim-steps",
        "10",
        "--threads",
        "2",
    ]);
    assert_values(
        &k,
        &[
            ("neurons", "1544"),
            ("steps", "50"),
            ("spikes_in", "0"),
            ("threads", "2"),
            ("scale", "0.02"),
            ("k_scale", "0.02"),
            ("presim_ms", "1"),
        ],
    );
    let rates: Vec<f64> = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
        .iter()
        .map(|p| k[&format!("rate_{p}")].parse().unwrap())
        .collect();
    assert!(rates.iter().all(|r| *r >= 0.0));
    for key in [
        "wall_s",
        "setup_s",
        "presim_s",
        "wall_per_bio_s",
        "rate_hz",
        "syn_events",
        "n_synapses",
        "ext_events",
        "spikes_out",
    ] {
        assert!(k[key].parse::<f64>().is_ok(), "{key}={}", k[key]);
    }
    let k = bench_keys(&[
        "w4",
        "--state",
        "si-slow",
        "--steps",
        "20",
        "--presim-steps",
        "0",
    ]);
    assert_values(
        &k,
        &[
            ("neurons", "12500"),
            ("state", "SI-slow"),
            ("scale", "1"),
            ("n_synapses", "15625000"),
            ("presim_ms", "0"),
        ],
    );
    assert!(k.contains_key("rate_E") && k.contains_key("rate_I"));
}
