//! Shared by the integration tests: paths in the repository, fresh
//! temporary paths, networks built from TOML. Each test file uses part of it.
#![allow(
    dead_code,
    reason = "each test or bench crate uses part of it; every item is used by one"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use spikesim::data::ImageSet;
use spikesim::{Config, Simulation};

/// The network of a config given as TOML text.
pub fn sim(toml: &str) -> Simulation {
    let config = Config::from_toml(toml, &[]).expect("valid config");
    Simulation::new(&config, None).expect("network builds")
}

/// A simulation whose stimulus layer is shown one image with these pixels.
pub fn sim_with_image(toml: &str, pixels: Vec<u8>) -> Simulation {
    let config = Config::from_toml(toml, &[]).expect("valid config");
    let images = ImageSet {
        name: "test".into(),
        rows: 1,
        cols: pixels.len(),
        pixels,
        labels: vec![0],
    };
    Simulation::new(&config, Some(images)).expect("network builds")
}

/// One LIF neuron for two steps, silent (σ = 100 mV), v_rest = v_init =
/// −65 mV, τ_v = 10 ms, dt = 1 ms, r = k_v = 1, with two conductances:
/// `exc` (exponential, τ 2 ms, E 0 mV), fed i_ext = 0.5 µS every step (the
/// external input enters the first synapse), and `inh` (τ 10 ms, E −80 mV),
/// fed nothing.
pub const CONDUCTANCE_NEURON: &str = r#"
    [simulation]
    steps = 2
    [layers.n]
    kind = "lif"
    size = 1
    tau_v_ms = 10.0
    v_rest = -65.0
    sigma = 100.0
    i_ext = 0.5
    synapses.exc = { current = "exponential", tau_ms = 2.0, reversal_mv = 0.0 }
    synapses.inh = { current = "exponential", tau_ms = 10.0, reversal_mv = -80.0 }
"#;

/// `a` equals `b` within `tol`, relative to `|b|` (absolute below 1).
pub fn close(a: f32, b: f64, tol: f64) -> bool {
    (a as f64 - b).abs() <= tol * b.abs().max(1.0)
}

/// A path inside the repository.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// A fresh path (nothing there) in this test process's temporary directory.
pub fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikesim-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// Every dataset of the HDF5 file at `path`, depth first: its path and its
/// shape and values as text (floats in their shortest exact form, so equal
/// text is equal values); not the resume points (`/resume`).
pub fn datasets(path: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let file = hdf5::File::open(path).unwrap();
    walk(&file, "", &mut out);
    // Resume points hold the invocation's own state (what a copy of the
    // network did for another thread is not in it), not the run's data.
    out.retain(|(name, _)| !name.starts_with("/resume/"));
    out
}

fn walk(group: &hdf5::Group, prefix: &str, out: &mut Vec<(String, String)>) {
    for name in group.member_names().unwrap() {
        let path = format!("{prefix}/{name}");
        match group.dataset(&name) {
            Ok(ds) => out.push((path, values(&ds))),
            Err(_) => walk(&group.group(&name).unwrap(), &path, out),
        }
    }
}

fn values(ds: &hdf5::Dataset) -> String {
    use hdf5::types::{FloatSize, TypeDescriptor as T};
    let shape = ds.shape();
    match ds.dtype().unwrap().to_descriptor().unwrap() {
        T::Float(FloatSize::U4) => format!("{shape:?} {:?}", ds.read_raw::<f32>().unwrap()),
        T::Float(_) => format!("{shape:?} {:?}", ds.read_raw::<f64>().unwrap()),
        T::Unsigned(_) => format!("{shape:?} {:?}", ds.read_raw::<u64>().unwrap()),
        T::Integer(_) => format!("{shape:?} {:?}", ds.read_raw::<i64>().unwrap()),
        other => panic!("{}: a {other} dataset", ds.name()),
    }
}

/// `spikesim args`, run to its end.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(args)
        .output()
        .expect("spikesim runs")
}

/// `spikesim run config args` fails with exit code 2, one `error:` line
/// (other lines may be notes) containing `needle`, and no output file.
pub fn rejects_config(config: &Path, args: &[&str], needle: &str) {
    let out = temp(&format!(
        "bad-{}.h5",
        needle.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ));
    let mut all = vec![
        "run",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend(args);
    let o = run(&all);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "no output file for {args:?}");
}
