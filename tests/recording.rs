//! What `[record]` selects, read back from real output files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hdf5::types::VarLenUnicode;
use spikesim::{Config, Simulation, stimulus};

mod common;

use common::{CONDUCTANCE_NEURON, temp};

/// Writes `toml` to a config file and runs it; returns the output path.
fn run_config(name: &str, toml: &str, extra: &[&str]) -> (PathBuf, Output) {
    let cfg = temp(&format!("{name}.toml"));
    std::fs::write(&cfg, toml).unwrap();
    let out = temp(&format!("{name}.h5"));
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    (out, o)
}

fn run_ok(name: &str, toml: &str) -> hdf5::File {
    let (out, o) = run_config(name, toml, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    hdf5::File::open(out).unwrap()
}

fn read<T: hdf5::H5Type>(f: &hdf5::File, path: &str) -> Vec<T> {
    f.dataset(path).unwrap().read_raw().unwrap()
}

/// The `units` attribute of the dataset at `path`.
fn units(f: &hdf5::File, path: &str) -> String {
    let a = f.dataset(path).unwrap().attr("units").unwrap();
    a.read_scalar::<VarLenUnicode>().unwrap().to_string()
}

/// One neuron under constant drive (I = 2, τ_v = 10, σ = 1: spikes at steps
/// 6, 13, 20, 27, see tests/model.rs) with individual adaptation β = 0.5,
/// τ_θ = 10 ms.
const NEURON: &str = r#"
    [simulation]
    steps = 30
    [layers.n]
    kind = "lif"
    size = 1
    current = "instantaneous"
    tau_v_ms = 10.0
    sigma = 1.0
    i_ext = 2.0
    threshold.individual = { tau_theta_ms = 10.0, beta = 0.5 }
    [[record.traces]]
    layer = "n"
    vars = ["voltage", "threshold", "theta", "input", "current"]
"#;

#[test]
fn traces_sample_at_the_end_of_the_step() {
    // At the spike step 6 the recorded voltage is after reset (v_reset = 0,
    // not V = 1.0434), theta after this step's jump (0.5) and the threshold
    // σ + θ = 1.5. The input of every step is the external current 2, and
    // with an instantaneous current J = I = 2.
    let f = run_ok("end-of-step", NEURON);
    let v: Vec<f32> = read(&f, "report/n/voltage/data");
    assert_eq!(v[6], 0.0);
    assert!(
        (v[5] - 0.937_118).abs() < 1e-6,
        "V(5) = 2(1 - 0.9^6) = {}",
        v[5]
    );
    let theta: Vec<f32> = read(&f, "report/n/theta/data");
    assert_eq!(theta[6], 0.5);
    let th: Vec<f32> = read(&f, "report/n/threshold/data");
    assert_eq!(th[6], 1.5);
    assert_eq!(read::<f32>(&f, "report/n/input/data"), vec![2.0; 30]);
    assert_eq!(read::<f32>(&f, "report/n/current/data"), vec![2.0; 30]);
    let units = |var| units(&f, &format!("report/n/{var}/data"));
    assert_eq!(
        (units("theta").as_str(), units("input").as_str()),
        ("mV", "nA")
    );
}

#[test]
fn conductance_layers_write_current_in_na_and_conductances_in_us() {
    // CONDUCTANCE_NEURON, as tests/model.rs derives it:
    //   g_exc(0) = 0.5, J(0) = 0.5·(0 − (−65)) = 32.5 nA, V(0) = −61.75;
    //   g_exc(1) = 0.5·e^(−1/2) + 0.5 = 0.8032653, J(1) = g_exc(1)·61.75 = 49.60163 nA;
    // inh gets no input: g_inh = 0.
    let toml = format!(
        "{CONDUCTANCE_NEURON}\n[[record.traces]]\nlayer = \"n\"\nvars = [\"current\", \"g_exc\", \"g_inh\"]\n"
    );
    let f = run_ok("conductance-traces", &toml);
    let j: Vec<f32> = read(&f, "report/n/current/data");
    assert_eq!(j[0], 32.5);
    assert!((j[1] - 49.601_63).abs() < 1e-4, "J(1) = {}", j[1]);
    let g: Vec<f32> = read(&f, "report/n/g_exc/data");
    assert_eq!(g[0], 0.5);
    assert!((g[1] - 0.803_265_3).abs() < 1e-6, "g(1) = {}", g[1]);
    assert_eq!(read::<f32>(&f, "report/n/g_inh/data"), vec![0.0; 2]);
    let units = |var| units(&f, &format!("report/n/{var}/data"));
    assert_eq!(
        [units("current"), units("g_exc"), units("g_inh")],
        ["nA", "uS", "uS"]
    );
}

/// 784 Bernoulli inputs on synthetic digits into 50 LIF neurons.
const NET: &str = r#"
    [simulation]
    seed = 5
    [layers.input]
    kind = "encoder"
    size = 784
    [layers.hidden]
    kind = "lif"
    size = 50
    sigma = 2.0
    threshold.global = { eta = 0.01, target = 1.0 }
    [projections.in_hid]
    pre = "input"
    post = "hidden"
    weights = { kind = "uniform", low = 0.0, high = 0.1 }
    [stimulus]
    layer = "input"
    dataset = "synthetic"
    images = 4
    steps_per_image = 200
    rest_steps = 50
"#;

#[test]
fn neuron_selections_and_windows() {
    // Range 0..10 step 3 -> nodes 0, 3, 6, 9. Window [10, 50) ms sampled every
    // 5 steps -> frames at steps 10, 15, ..., 45: 8 frames; mapping/time =
    // [10, 50, 5]. A sample of 5 neurons is 5 distinct ascending ids, the
    // same for the same seed.
    let toml = format!(
        r#"{NET}
        [[record.traces]]
        layer = "hidden"
        vars = ["voltage"]
        neurons = {{ start = 0, stop = 10, step = 3 }}
        every = 5
        start_ms = 10.0
        stop_ms = 50.0
        [[record.traces]]
        layer = "hidden"
        vars = ["current"]
        neurons = {{ sample = 5 }}
        [record.spikes]
        layers = ["hidden"]
        start_ms = 100.0
        stop_ms = 300.0
    "#
    );
    let f = run_ok("selections", &toml);
    assert_eq!(
        read::<u64>(&f, "report/hidden/voltage/mapping/node_ids"),
        vec![0, 3, 6, 9]
    );
    assert_eq!(
        f.dataset("report/hidden/voltage/data").unwrap().shape(),
        vec![8, 4]
    );
    assert_eq!(
        read::<f64>(&f, "report/hidden/voltage/mapping/time"),
        vec![10.0, 50.0, 5.0]
    );
    let sample: Vec<u64> = read(&f, "report/hidden/current/mapping/node_ids");
    assert_eq!(sample.len(), 5);
    assert!(
        sample.windows(2).all(|w| w[0] < w[1]) && sample[4] < 50,
        "{sample:?}"
    );
    let again = run_ok("selections-again", &toml);
    assert_eq!(
        read::<u64>(&again, "report/hidden/current/mapping/node_ids"),
        sample
    );

    // The recorded voltages equal the in-process simulation at those steps.
    let config = Config::from_toml(&toml, &[]).unwrap();
    let (images, _) = stimulus::load_images(config.stimulus.as_ref().unwrap(), 5).unwrap();
    let mut sim = Simulation::new(&config, Some(images)).unwrap();
    let mut want = Vec::new();
    let mut spikes = Vec::new();
    for n in 0..config.steps() {
        sim.step();
        if (10..50).contains(&n) && n % 5 == 0 {
            let v = sim.voltages("hidden");
            want.extend([0, 3, 6, 9].map(|i| v[i]));
        }
        if (100..300).contains(&n) {
            spikes.extend(sim.spikes("hidden").iter().map(|_| n as f64));
        }
    }
    assert_eq!(read::<f32>(&f, "report/hidden/voltage/data"), want);
    // Spikes only inside [100, 300) ms, and only the chosen layer.
    assert_eq!(read::<f64>(&f, "spikes/hidden/timestamps"), spikes);
    assert!(f.group("spikes/input").is_err());
}

#[test]
fn rates_samples_and_weight_snapshots() {
    // 4 images of 250 steps (200 shown + 50 rest) = 1000 steps.
    // Rates in 10 ms bins: 100 bins, each the number of hidden spikes with
    // timestamp in [10b, 10b + 10). Samples: 4 rows; image k is synthetic
    // digit k (label k mod 10), starting at 250k ms; the per-neuron counts
    // of a sample are its spikes in [250k, 250k + 250). Weights every 2
    // samples: snapshots after 0 (initial), 500 and 1000 steps (the last
    // periodic one is also the final one, taken once).
    let toml = format!(
        r#"{NET}
        [record.rates]
        layers = ["hidden"]
        bin_ms = 10.0
        [[record.weights]]
        projection = "in_hid"
        every_samples = 2
    "#
    );
    let f = run_ok("rates", &toml);
    let t: Vec<f64> = read(&f, "spikes/hidden/timestamps");
    let ids: Vec<u64> = read(&f, "spikes/hidden/node_ids");
    let counts: Vec<u64> = read(&f, "rates/hidden/counts");
    assert_eq!(counts.len(), 100);
    for (b, &c) in counts.iter().enumerate() {
        let lo = 10.0 * b as f64;
        assert_eq!(
            c,
            t.iter().filter(|&&x| x >= lo && x < lo + 10.0).count() as u64,
            "bin {b}"
        );
    }
    assert_eq!(
        f.group("rates/hidden")
            .unwrap()
            .attr("bin_ms")
            .unwrap()
            .read_scalar::<f64>()
            .unwrap(),
        10.0
    );

    assert_eq!(read::<u64>(&f, "samples/index"), vec![0, 1, 2, 3]);
    assert_eq!(read::<u8>(&f, "samples/label"), vec![0, 1, 2, 3]);
    assert_eq!(
        read::<f64>(&f, "samples/start_ms"),
        vec![0.0, 250.0, 500.0, 750.0]
    );
    let per_sample: Vec<u32> = read(&f, "samples/counts/hidden");
    assert_eq!(per_sample.len(), 4 * 50);
    for k in 0..4 {
        for i in 0..50 {
            let lo = 250.0 * k as f64;
            let want = t
                .iter()
                .zip(&ids)
                .filter(|&(&x, &id)| x >= lo && x < lo + 250.0 && id == i as u64)
                .count();
            assert_eq!(
                per_sample[k * 50 + i] as usize,
                want,
                "sample {k} neuron {i}"
            );
        }
    }
    let input_counts: Vec<u32> = read(&f, "samples/counts/input");
    assert_eq!(input_counts.len(), 4 * 784);
    // The input layer is silent during rest, and pixel 0 of a synthetic digit is
    // background (intensity 0), so it never spikes.
    assert_eq!(input_counts[0], 0);

    assert_eq!(
        read::<u64>(&f, "weights/in_hid/steps_done"),
        vec![0, 500, 1000]
    );
    let data = f.dataset("weights/in_hid/data").unwrap();
    assert_eq!(data.shape(), vec![3, 784 * 50]);
    let config = Config::from_toml(&toml, &[]).unwrap();
    let (images, _) = stimulus::load_images(config.stimulus.as_ref().unwrap(), 5).unwrap();
    let mut sim = Simulation::new(&config, Some(images)).unwrap();
    let w = sim.weights("in_hid");
    let snap: Vec<f32> = data.read_raw().unwrap();
    assert_eq!(&snap[..784 * 50], w.values());
    let pre: Vec<u32> = read(&f, "weights/in_hid/pre_ids");
    let post: Vec<u32> = read(&f, "weights/in_hid/post_ids");
    // Dense storage is row-major: synapse 51 is pre 1 -> post 1.
    assert_eq!((pre[51], post[51]), (1, 1));
}

#[test]
fn output_is_not_overwritten_without_force() {
    let (out, o) = run_config("force", NEURON, &[]);
    assert!(o.status.success());
    let before = std::fs::read(&out).unwrap();
    let cfg = out.with_extension("toml");
    let again = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_spikesim"))
            .args([
                "run",
                cfg.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--seed",
                "9",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let o = again(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists; pass --force"));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    assert!(again(&["--force"]).status.success());
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(f.attr("seed").unwrap().read_scalar::<u64>().unwrap(), 9);
}

/// Sends `signal` to a long run once its file exists, and checks the file
/// keeps every step done, marked incomplete.
fn interrupted(signal: &str, code: i32) {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/seed-demo.toml");
    let out = temp(&format!("interrupted-{signal}.h5"));
    // 4000 images of 250 steps: far longer than the wait below.
    let child = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .args([
            "--set",
            "stimulus.dataset=synthetic",
            "--set",
            "stimulus.images=4000",
        ])
        .args(["--set", "record.block_steps=100"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while !out.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("interrupted by signal"));

    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(f.attr("complete").unwrap().read_scalar::<u8>().unwrap(), 0);
    let done = f.attr("steps_done").unwrap().read_scalar::<u64>().unwrap();
    assert!(done > 0 && done < 1_000_000, "{done}");
    let error: VarLenUnicode = f.attr("error").unwrap().read_scalar().unwrap();
    assert!(error.as_str().contains("interrupted"), "{error}");
    // Every step up to the last one done is in the file: the voltage trace
    // has one frame per step, and the last hidden spike is before steps_done.
    assert_eq!(
        f.dataset("report/hidden/voltage/data").unwrap().shape()[0] as u64,
        done
    );
    // The input layer spikes at every step (~100 of 784 encoders), so its
    // last spike marks the last step written: within a step or two of the end.
    let t: Vec<f64> = read(&f, "spikes/input/timestamps");
    let last = *t.last().unwrap();
    assert!(
        last < done as f64 && last >= done as f64 - 3.0,
        "last spike {last}, {done} steps done"
    );
}

#[test]
fn sigint_and_sigterm_keep_an_incomplete_file() {
    interrupted("-INT", 130);
    interrupted("-TERM", 143);
}

#[test]
fn sighup_keeps_an_incomplete_file() {
    interrupted("-HUP", 129);
}

/// `record.compress = "all"` deflates the datasets SONATA readers open too
/// (spike timestamps and node ids, trace data), which the default
/// `"sonata"` leaves readable without deflate: a smaller file with the same
/// values. The seed demo on 4 synthetic digits with every hidden voltage
/// traced: about 0.5 MB with "all", 1.6 MB with "sonata", 2.9 MB with "none".
#[test]
fn compress_all_deflates_every_dataset_with_the_same_values() {
    let run = |compress: &str| {
        let out = temp(&format!("compress-{compress}.h5"));
        let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
            .arg("run")
            .arg(common::repo("experiments/seed-demo.toml"))
            .arg("--out")
            .arg(&out)
            .args(["--set", "stimulus.dataset=synthetic"])
            .args(["--set", "stimulus.images=4"])
            .args([
                "--set",
                r#"record.traces=[{layer = "hidden", vars = ["voltage"]}]"#,
            ])
            .args(["--set", &format!("record.compress={compress}")])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let bytes = std::fs::metadata(&out).unwrap().len();
        (out, bytes)
    };
    let (all, all_bytes) = run("\"all\"");
    let (sonata, sonata_bytes) = run("true");
    let (none, none_bytes) = run("\"none\"");
    assert!(
        all_bytes < sonata_bytes / 2 && sonata_bytes < none_bytes,
        "all {all_bytes}, sonata {sonata_bytes}, none {none_bytes} bytes"
    );
    let values = common::datasets(&sonata);
    assert_eq!(common::datasets(&all), values);
    assert_eq!(common::datasets(&none), values);
    let f = hdf5::File::open(&all).unwrap();
    for path in [
        "spikes/hidden/timestamps",
        "spikes/input/node_ids",
        "report/hidden/voltage/data",
    ] {
        let filters = f.dataset(path).unwrap().filters();
        assert_eq!(filters, vec![hdf5::filters::Filter::deflate(1)], "{path}");
    }
}
