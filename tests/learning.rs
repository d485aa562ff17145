//! Learning end to end on real data (the 8x8 digits of `../shared/datasets`):
//! STDP with adaptive thresholds learns to classify well above chance;
//! parallel evaluation and evaluation from a checkpoint reproduce a
//! single-threaded run exactly.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use common::{repo, temp};

/// Runs `experiments/digits-stdp.toml` from the repository root (where its
/// dataset path `../shared/datasets/digits8x8` points) with overrides.
fn run_digits(out: &Path, sets: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikesim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(repo("experiments/digits-stdp.toml"))
        .arg("-o")
        .arg(out);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let o = cmd.output().expect("spikesim runs");
    assert!(
        o.status.success(),
        "{sets:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// [`run_digits`] with `sets` on 1 and on 2 threads: the two files.
fn one_and_two_threads(name: &str, sets: &[&str]) -> (PathBuf, PathBuf) {
    let [one, two] = [1, 2].map(|threads| {
        let out = temp(&format!("{name}-{threads}.h5"));
        let threads = format!("simulation.threads={threads}");
        run_digits(&out, &[sets, &[threads.as_str()]].concat());
        out
    });
    (one, two)
}

fn read<T: hdf5::H5Type>(path: &Path, dataset: &str) -> Vec<T> {
    let f = hdf5::File::open(path).unwrap();
    f.dataset(dataset).unwrap().read_raw::<T>().unwrap()
}

#[test]
fn stdp_learns_digits_well_above_chance() {
    // Train on 1000 images, evaluate on the 797 held out. Chance is about
    // 10% (the classes are balanced); the 797-image estimate of an accuracy
    // near 0.6 has a standard error of sqrt(0.6·0.4/797) = 1.7%, and seeds
    // 1–4 give 62–70%, so 45% is more than 9 standard errors below what
    // the network reaches and 20 above chance.
    let out = temp("digits.h5");
    let stdout = run_digits(&out, &["simulation.threads=1"]);
    let accuracy = read::<f64>(&out, "results/evaluate/accuracy")[0];
    assert!(accuracy > 0.45, "accuracy {accuracy}");
    assert!(stdout.contains("accuracy"), "{stdout}");
    // Predictions and the confusion matrix agree with the accuracy.
    let labels = read::<u32>(&out, "results/evaluate/labels");
    let predictions = read::<i32>(&out, "results/evaluate/predictions");
    let confusion = read::<u32>(&out, "results/evaluate/confusion");
    let correct = labels
        .iter()
        .zip(&predictions)
        .filter(|(l, p)| **l as i32 == **p)
        .count();
    assert_eq!(labels.len(), 797);
    assert_eq!(correct as f64 / 797.0, accuracy);
    let diagonal: u32 = (0..10).map(|c| confusion[c * 10 + c]).sum();
    assert_eq!(diagonal as usize, correct);
    // Normalized after every training presentation: each neuron's 64
    // incoming weights sum to 32, to f32 rounding (64 values, each within
    // half an ulp of its exact product: |error| < 64 · 32 · 2^-24 = 1.2e-4).
    let w = read::<f32>(&out, "state/weights/input_exc");
    for i in 0..40 {
        let s: f64 = (0..64).map(|j| w[j * 40 + i] as f64).sum();
        assert!((s - 32.0).abs() < 1.2e-4, "neuron {i}: {s}");
    }
    // STDP clips to [0, w_max]; normalization scales columns, which keeps
    // weights non-negative (it may lift one above w_max, as in Diehl & Cook).
    assert!(w.iter().all(|&w| w >= 0.0 && w.is_finite()));
}

#[test]
fn parallel_and_checkpoint_evaluation_match_one_thread() {
    let small = [
        "protocol.train.images=200",
        "protocol.assign.images=200",
        "protocol.evaluate.images=120",
    ];
    let (one, two) = one_and_two_threads("parallel", &small);
    for d in [
        "results/assign/counts",
        "results/evaluate/counts",
        "results/evaluate/presentations",
        "results/assignments/exc",
    ] {
        assert!(read::<i64>(&one, d) == read::<i64>(&two, d), "{d} differs");
    }
    let w = |p: &Path| read::<f32>(p, "state/weights/input_exc");
    assert!(w(&one) == w(&two), "trained weights differ");
    // Evaluating later from the first run's file (weights, thresholds,
    // assignments; no training, no assignment) gives the same responses.
    let later = temp("later.h5");
    let load = format!("protocol.load=\"{}\"", one.display());
    run_digits(
        &later,
        &[
            &small[..],
            &[&load, "protocol.assign.images=0", "simulation.threads=2"],
        ]
        .concat(),
    );
    for d in ["results/evaluate/counts", "results/evaluate/predictions"] {
        assert!(
            read::<i64>(&one, d) == read::<i64>(&later, d),
            "{d} differs"
        );
    }
}

#[test]
fn a_protocol_runs_file_does_not_depend_on_the_thread_count() {
    // Spikes of every layer, a trace and a rate recorded. With 2 threads,
    // assign and evaluate run on copies of the network: their steps used to
    // be left out of `steps` and `steps_done` (7350 instead of 21700 here)
    // and their spikes out of `/spikes`, which one thread recorded; and the
    // last block of what training recorded was never written.
    let small = [
        "protocol.train.images=20",
        "protocol.assign.images=20",
        "protocol.evaluate.images=20",
        "record.spikes.layers=\"all\"",
        "record.traces=[{ layer = \"exc\", vars = [\"voltage\"], neurons = [0, 1] }]",
        "record.rates.layers=[\"exc\"]",
    ];
    let (one, two) = one_and_two_threads("threads", &small);
    let attrs = |path: &Path| {
        let mut attrs = spikesim::record::inspect::summarize(path).unwrap().attrs;
        attrs.retain(|(name, _)| {
            !["threads", "created_utc", "resume_slot"].contains(&name.as_str())
        });
        attrs
    };
    assert_eq!(attrs(&one), attrs(&two));
    assert_eq!(common::datasets(&one), common::datasets(&two));
    // The steps done are those of every presentation of every phase, 350
    // steps each (steps_per_image, no rest); what [record] asks for covers
    // training, all of it.
    let presentations = |phase: &str| -> u64 {
        read::<u32>(&one, &format!("results/{phase}/presentations"))
            .iter()
            .map(|&n| u64::from(n))
            .sum()
    };
    let train = presentations("train");
    let all = train + presentations("assign") + presentations("evaluate");
    let f = hdf5::File::open(&one).unwrap();
    let attr = |name: &str| f.attr(name).unwrap().read_scalar::<u64>().unwrap();
    assert_eq!((attr("steps"), attr("steps_done")), (all * 350, all * 350));
    let frames = f.dataset("report/exc/voltage/data").unwrap().shape()[0] as u64;
    assert_eq!(frames, train * 350);
    assert_eq!(
        read::<u64>(&one, "rates/exc/counts").len() as u64,
        train * 175
    );
}

#[test]
fn bad_protocol_and_plasticity_input_gives_one_line_and_no_file() {
    let cases = [
        ("protocol.trian.images=5", "unknown field `trian`"),
        (
            "projections.input_exc.connectivity={ kind = \"fixed_indegree\", k = 3 }",
            "projections.input_exc.stdp: STDP needs connectivity dense",
        ),
        (
            "projections.input_exc.stdp.w_max=0",
            "projections.input_exc.stdp.w_max",
        ),
        (
            "projections.input_exc.stdp.tau_pre_ms=-1",
            "stdp.tau_pre_ms",
        ),
        (
            "protocol.output=\"input\"",
            "protocol.output: 'input' is not a neuron layer",
        ),
        (
            "protocol.input=\"exc\"",
            "protocol.input: 'exc' is not an encoder layer",
        ),
        (
            "protocol.path=\"/nonexistent/digits\"",
            "dataset file not found",
        ),
        (
            "protocol.evaluate.images=5000",
            "protocol.evaluate.images: offset 1000 + 5000 images is more than the 1797",
        ),
        (
            "protocol.load=\"/nonexistent/run.h5\"",
            "/nonexistent/run.h5",
        ),
        (
            "simulation.steps=10",
            "simulation.steps: not allowed with a [protocol]",
        ),
        (
            "protocol.max_presentations=300",
            "protocol.max_presentations: must be between 1 and 255",
        ),
        (
            "layers.exc.synapses.exc.reversal_mv=nan",
            "synapses.exc.reversal_mv",
        ),
        (
            "layers.input.encoding=\"bernoulli\"",
            "protocol.boost_hz: needs a poisson input",
        ),
    ];
    for (set, needle) in cases {
        let out = temp("bad.h5");
        let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("run")
            .arg(repo("experiments/digits-stdp.toml"))
            .arg("-o")
            .arg(&out)
            .args(["--set", set])
            .output()
            .expect("spikesim runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{set}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{set}: one line: {err}");
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(needle),
            "{set}: {err}"
        );
        assert!(!out.exists(), "{set}: no output file");
    }
}

/// Starts `experiments/digits-stdp.toml` with overrides, sends SIGINT
/// `after` its output file appears, and checks it exits 130 with the file
/// marked incomplete; returns the stop's (phase, epoch, image).
fn interrupt_digits(out: &Path, sets: &[&str], after: std::time::Duration) -> (String, u64, u64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikesim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(repo("experiments/digits-stdp.toml"))
        .arg("-o")
        .arg(out)
        .stderr(std::process::Stdio::piped());
    for s in sets {
        cmd.args(["--set", s]);
    }
    let child = cmd.spawn().expect("spikesim runs");
    while !out.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(after);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted by signal 2"), "{err}");
    let f = hdf5::File::open(out).unwrap();
    assert_eq!(f.attr("complete").unwrap().read_scalar::<u8>().unwrap(), 0);
    let stopped = f.dataset("state/stopped").unwrap();
    let u = |name: &str| stopped.attr(name).unwrap().read_scalar::<u64>().unwrap();
    let phase: hdf5::types::VarLenUnicode = stopped
        .attr("stopped_phase")
        .unwrap()
        .read_scalar()
        .unwrap();
    (
        phase.as_str().to_owned(),
        u("stopped_epoch"),
        u("stopped_image"),
    )
}

fn shape(path: &Path, dataset: &str) -> Vec<usize> {
    let f = hdf5::File::open(path).unwrap();
    f.dataset(dataset).unwrap().shape()
}

#[test]
fn an_interrupted_training_keeps_its_state_and_can_be_evaluated() {
    // 10 epochs of 1797 images: about 10 s, far longer than the wait.
    let out = temp("stopped-train.h5");
    let (phase, epoch, image) = interrupt_digits(
        &out,
        &[
            "protocol.train.images=1797",
            "protocol.train.epochs=10",
            "simulation.threads=1",
        ],
        std::time::Duration::from_millis(500),
    );
    assert_eq!(phase, "train");
    let done = epoch * 1797 + image;
    assert!(done > 0 && done < 17_970, "epoch {epoch} image {image}");
    // The state at the stop, as a finished run writes it: 64 × 40 weights,
    // normalized after the last presentation; θ and σ of both layers.
    assert_eq!(shape(&out, "state/weights/input_exc"), [64 * 40]);
    assert_eq!(shape(&out, "state/weights/exc_inh"), [40]);
    assert_eq!(shape(&out, "state/theta/exc"), [40]);
    assert_eq!(shape(&out, "state/sigma/exc"), [1]);
    let w = read::<f32>(&out, "state/weights/input_exc");
    let s: f64 = (0..64).map(|j| w[j * 40] as f64).sum();
    assert!((s - 32.0).abs() < 1.2e-4, "{s}");
    // Training results of the images shown, no assignments yet.
    for d in ["labels", "presentations", "running_predictions"] {
        assert_eq!(shape(&out, &format!("results/train/{d}")), [done as usize]);
    }
    let f = hdf5::File::open(&out).unwrap();
    assert!(!f.link_exists("results/assignments"));
    drop(f);
    // The file is a checkpoint: assign and evaluate from it.
    let later = temp("from-stopped-train.h5");
    let load = format!("protocol.load=\"{}\"", out.display());
    let stdout = run_digits(
        &later,
        &[
            &load,
            "protocol.train.images=0",
            "protocol.assign.images=100",
            "protocol.evaluate.images=50",
        ],
    );
    assert!(stdout.contains("accuracy"), "{stdout}");
    assert!(read::<f32>(&later, "state/weights/input_exc") == w);
}

#[test]
fn an_interrupted_evaluation_keeps_its_assignments_and_results_so_far() {
    let trained = temp("to-evaluate.h5");
    run_digits(
        &trained,
        &[
            "protocol.train.images=100",
            "protocol.assign.images=0",
            "protocol.evaluate.images=0",
        ],
    );
    // Assign on 20 images, then evaluate 1797 images of 3500 steps on two
    // threads (about 10 s): the stop comes during the evaluation.
    let out = temp("stopped-evaluate.h5");
    let load = format!("protocol.load=\"{}\"", trained.display());
    let (phase, epoch, image) = interrupt_digits(
        &out,
        &[
            &load,
            "protocol.steps_per_image=3500",
            "protocol.assign.images=20",
            "protocol.evaluate.images=1797",
            "protocol.evaluate.offset=0",
            "simulation.threads=2",
        ],
        std::time::Duration::from_millis(2000),
    );
    assert_eq!((phase.as_str(), epoch), ("evaluate", 0));
    assert!(image > 0 && image < 1797, "image {image}");
    let n = image as usize;
    assert_eq!(shape(&out, "results/assignments/exc"), [40]);
    assert_eq!(shape(&out, "results/assign/counts"), [20, 40]);
    assert_eq!(shape(&out, "results/evaluate/counts"), [n, 40]);
    for d in ["labels", "predictions", "presentations"] {
        assert_eq!(shape(&out, &format!("results/evaluate/{d}")), [n]);
    }
    // The accuracy and confusion of the images evaluated.
    let confusion: u32 = read::<u32>(&out, "results/evaluate/confusion").iter().sum();
    assert!(confusion as usize <= n);
    assert!((0.0..=1.0).contains(&read::<f64>(&out, "results/evaluate/accuracy")[0]));
    // Every image before the stop was shown (each at least once).
    assert!(
        read::<u32>(&out, "results/evaluate/presentations")
            .iter()
            .all(|&p| p >= 1)
    );
    assert!(
        read::<f32>(&out, "state/weights/input_exc")
            == read::<f32>(&trained, "state/weights/input_exc")
    );
    // Evaluating from it uses its assignments.
    let later = temp("from-stopped-evaluate.h5");
    let load = format!("protocol.load=\"{}\"", out.display());
    run_digits(
        &later,
        &[
            &load,
            "protocol.assign.images=0",
            "protocol.evaluate.images=30",
        ],
    );
    assert!(
        read::<i32>(&later, "results/assignments/exc")
            == read::<i32>(&out, "results/assignments/exc")
    );
}

/// Runs digits with `sets`, expecting exit 2, one `error: ` line holding
/// each of `needles`, and no output file.
fn refused(sets: &[&str], needles: &[&str]) {
    let out = temp("refused.h5");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikesim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("run")
        .arg(repo("experiments/digits-stdp.toml"))
        .arg("-o")
        .arg(&out);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let o = cmd.output().expect("spikesim runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{sets:?}: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{sets:?}: one line: {err}");
    assert!(
        lines[0].starts_with("error: ") && needles.iter().all(|n| lines[0].contains(n)),
        "{sets:?}: {err}"
    );
    assert!(!out.exists(), "{sets:?}: no output file");
}

#[test]
fn an_input_layer_that_does_not_fit_the_images_is_refused_by_validate_and_run() {
    // 784 inputs for the 64 pixels of the 8x8 digits: `validate` said ok and
    // `run` panicked (exit 101) at the first presentation, its output file
    // already created.
    let size = "layers.input.size=784";
    let message = "protocol.input: layer 'input' has 784 neurons but the images of digits8x8/digits have 8x8 = 64 pixels";
    refused(&[size], &[message]);
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("validate")
        .arg(repo("experiments/digits-stdp.toml"))
        .args(["--set", size])
        .output()
        .expect("spikesim runs");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("error: {message}\n")
    );
}

#[test]
fn a_checkpoint_without_this_networks_state_is_refused_before_any_output() {
    // A stimulus run's file: complete, but no /state.
    let stim = temp("stimulus.h5");
    let o = Command::new(env!("CARGO_BIN_EXE_spikesim"))
        .arg("run")
        .arg(repo("experiments/seed-demo.toml"))
        .arg("-o")
        .arg(&stim)
        .args([
            "--set",
            "stimulus.dataset=synthetic",
            "--set",
            "stimulus.images=2",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let load = |p: &Path| format!("protocol.load=\"{}\"", p.display());
    refused(
        &[&load(&stim)],
        &[&format!(
            "protocol.load: {} holds no trained state for projection 'input_exc'",
            stim.display()
        )],
    );

    // A trained 40-neuron network (no assignment phase) does not fit 20
    // neurons, and cannot be evaluated without assigning labels.
    let trained = temp("small.h5");
    run_digits(
        &trained,
        &[
            "protocol.train.images=20",
            "protocol.assign.images=0",
            "protocol.evaluate.images=0",
        ],
    );
    refused(
        &[&load(&trained), "protocol.assign.images=0"],
        &[&format!(
            "protocol.load: {} holds no assignments for layer 'exc'; set protocol.assign.images",
            trained.display()
        )],
    );
    let prefix = format!("protocol.load: {}: ", trained.display());
    refused(
        &[&load(&trained), "layers.exc.size=20", "layers.inh.size=20"],
        &[&prefix, "synapses here, 40 saved"],
    );
    // θ of another length (the weights fit).
    let theta = temp("theta.h5");
    std::fs::copy(&trained, &theta).unwrap();
    {
        let f = hdf5::File::open_rw(&theta).unwrap();
        f.unlink("state/theta/exc").unwrap();
        f.new_dataset_builder()
            .with_data(&[0.0f64; 39])
            .create("state/theta/exc")
            .unwrap();
    }
    refused(
        &[&load(&theta)],
        &[&format!(
            "protocol.load: {}: layer 'exc' has 40 neurons here, 39 saved",
            theta.display()
        )],
    );
    // An unfinished run without a state saved at a stop.
    let unfinished = temp("unfinished.h5");
    std::fs::copy(&trained, &unfinished).unwrap();
    {
        let f = hdf5::File::open_rw(&unfinished).unwrap();
        f.attr("complete").unwrap().write_scalar(&0u8).unwrap();
    }
    refused(
        &[&load(&unfinished)],
        &[&format!(
            "cannot load {}: the run did not complete",
            unfinished.display()
        )],
    );
}
