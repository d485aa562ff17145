//! A network whose state stops being finite (an unstable step, extreme
//! parameters) ends the run with an error naming the layer and the step,
//! exit 1, and a file marked incomplete that keeps every step done.

use std::process::Command;

use hdf5::types::VarLenUnicode;
use spikesim::neuron::check::CHECK_EVERY;

mod common;

/// One LIF neuron whose `continuous` current has `dt/τ = 3`: with the
/// external current `x = 10^30` the recursion `J(n) = J(n−1) + 3(−J(n−1) + x)
/// = −2 J(n−1) + 3x` has its fixed point at `x` and doubles the distance
/// from it each step (`|J(n) − x| = 2x·2^n`), passing f32's largest value
/// (3.4·10^38) after about 28 steps; then `inf − inf` makes it NaN, and the
/// voltage with it.
const UNSTABLE: &str = r#"
    [simulation]
    steps = 5000
    [layers.n]
    kind = "lif"
    size = 1
    current = "continuous"
    tau_j_ms = 0.3333333333333333
    i_ext = 1e30
    [[record.traces]]
    layer = "n"
    vars = ["voltage"]
"#;

#[test]
fn a_blown_up_network_stops_at_the_next_check_with_an_incomplete_file() {
    let cfg = common::temp("unstable.toml");
    std::fs::write(&cfg, UNSTABLE).unwrap();
    let out = common::temp("unstable.h5");
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .args(["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("layer 'n', neuron 0") && err.contains("is not finite after step 1000"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(f.attr("complete").unwrap().read_scalar::<u8>().unwrap(), 0);
    // The first look is after CHECK_EVERY steps; every step up to it is kept.
    let done = f.attr("steps_done").unwrap().read_scalar::<u64>().unwrap();
    assert_eq!(done, CHECK_EVERY);
    let error: VarLenUnicode = f.attr("error").unwrap().read_scalar().unwrap();
    assert!(error.as_str().contains("blew up"), "{error}");
    let frames = f.dataset("report/n/voltage/data").unwrap().shape()[0] as u64;
    assert_eq!(frames, done);
}

#[test]
fn a_run_shorter_than_the_check_period_is_checked_at_its_end() {
    // 100 steps (< CHECK_EVERY): the look at the end finds the NaN.
    let mut s = common::sim(&UNSTABLE.replace("steps = 5000", "steps = 100"));
    let backend = spikesim::record::memory::MemoryBackend::new();
    let header = spikesim::record::RunHeader {
        spikesim_version: "test".into(),
        seed: 0,
        dt_ms: 1.0,
        steps: 100,
        threads: 1,
        config_toml: String::new(),
    };
    let w = backend.writer(&header, s.layout(), 4).unwrap();
    let e = s
        .run(&w, &indicatif::ProgressBar::hidden(), || false, None)
        .unwrap_err();
    assert!(
        e.to_string().contains("layer 'n', neuron 0") && e.to_string().contains("after step 100"),
        "{e}"
    );
}

/// The digits protocol with its excitatory conductance made unstable: a
/// `continuous` current with `dt/τ = 0.5/0.16 = 3.125` follows
/// `g(n) = −2.125 g(n−1) + 3.125 x(n)`, which diverges as soon as input
/// arrives, to inf and then NaN (`inf − inf`). The protocol looks after
/// every presentation, so the run stops during training.
#[test]
fn a_protocol_whose_network_blows_up_stops_with_an_error() {
    let out = common::temp("unstable-digits.h5");
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(common::repo("experiments/digits-stdp.toml"))
        .arg("--out")
        .arg(&out)
        .args([
            "--set",
            "layers.exc.synapses.exc={ current = \"continuous\", tau_ms = 0.16, reversal_mv = 0.0 }",
            "--set",
            "protocol.train.images=20",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("the network blew up: layer 'exc'"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let f = hdf5::File::open(&out).unwrap();
    assert_eq!(f.attr("complete").unwrap().read_scalar::<u8>().unwrap(), 0);
}
