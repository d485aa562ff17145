//! Input that used to slip past validation (issue 14): run lengths past
//! 2^64 steps, out-of-range seeds and thread counts, layer names that are
//! not HDF5 names, a stimulus layer of the wrong size, half an IDX dataset,
//! and a huge time step. Each is one `error:` line naming the key the user
//! wrote, exit code 2 and no output file; the library returns the same
//! message from `Config::from_toml`.

use std::path::Path;

use spikesim::Config;

mod common;

use common::{close, rejects_config, repo, run, sim, temp};

/// [`rejects_config`] with the seed demo (784 inputs shown 40 images of
/// 250 steps, 100 LIF neurons).
fn rejects(args: &[&str], needle: &str) {
    rejects_config(&repo("experiments/seed-demo.toml"), args, needle);
}

/// `spikesim validate` of the seed demo with `args` succeeds.
fn validates(args: &[&str]) {
    let cfg = repo("experiments/seed-demo.toml");
    let mut all = vec!["validate", cfg.to_str().unwrap()];
    all.extend(args);
    let o = run(&all);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The error of `text` with `sets` applied.
fn config_error(text: &str, sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    Config::from_toml(text, &sets)
        .expect_err("the config is rejected")
        .0
}

const ONE_LAYER: &str = r#"
    [simulation]
    steps = 10
    [layers.a]
    kind = "lif"
    size = 3
"#;

/// An input layer, a neuron layer and a projection, without a stimulus.
const TWO_LAYERS: &str = r#"
    [simulation]
    steps = 10
    [layers.input]
    kind = "encoder"
    size = 784
    [layers.hidden]
    kind = "lif"
    size = 10
    [projections.input_hidden]
    pre = "input"
    post = "hidden"
    weights = { kind = "constant", value = 0.1 }
"#;

/// [`TWO_LAYERS`] with a learning protocol instead of a fixed length.
fn protocol(train: &str) -> String {
    TWO_LAYERS
        .replace("steps = 10", "")
        .replace("size = 784", "size = 784\nencoding = \"poisson\"")
        + &format!("[protocol]\ninput = \"input\"\noutput = \"hidden\"\n{train}\n")
}

// ---------------------------------------------------------------- 1: run length past 2^64 steps

#[test]
fn a_run_length_past_2_64_steps_is_rejected() {
    // 4 images × (2^62 + 25) steps = 2^64 + 100: this used to wrap to a run
    // of 100 steps that reported success.
    rejects(
        &[
            "--set",
            "stimulus.images=4",
            "--set",
            "stimulus.steps_per_image=4611686018427387929",
        ],
        "stimulus.images: 4 images × 4611686018427387929 steps (steps_per_image + rest_steps) is more than 2^64 - 1",
    );
    rejects(
        &[
            "--set",
            "stimulus.images=1000000000000",
            "--set",
            "stimulus.steps_per_image=100000000",
        ],
        "stimulus.images: 1000000000000 images × 100000000 steps",
    );
    // With an explicit length the stimulus just repeats: nothing to multiply.
    let c = Config::load(
        &repo("experiments/seed-demo.toml"),
        &[
            "stimulus.images=4".into(),
            "stimulus.steps_per_image=4611686018427387929".into(),
            "simulation.steps=10".into(),
        ],
    )
    .unwrap();
    assert_eq!(c.steps(), 10);
}

#[test]
fn a_protocol_past_2_64_steps_or_presentations_is_rejected() {
    // 4 presentations × (2^62 + 25) steps wraps past 2^64.
    let text = protocol("steps_per_image = 4611686018427387929\n[protocol.train]\nimages = 4");
    let e = config_error(&text, &[]);
    assert!(
        e.starts_with("protocol.steps_per_image: 4 presentations")
            && e.contains("× 4611686018427387929 steps")
            && e.contains("more than 2^64 - 1"),
        "{e}"
    );
    // 2^62 images × 8 epochs = 2^65 presentations.
    let e = config_error(
        &protocol("[protocol.train]\nimages = 4611686018427387904\nepochs = 8"),
        &[],
    );
    assert!(
        e.starts_with("protocol.train.images: 4611686018427387904 images × 8 epochs"),
        "{e}"
    );
    // A protocol that fits is accepted, its length the product.
    let c = Config::from_toml(&protocol("[protocol.train]\nimages = 4\nepochs = 2"), &[]).unwrap();
    assert_eq!(c.steps(), 8 * 350);
}

#[test]
fn weight_snapshots_past_2_64_steps_are_rejected() {
    // every_samples × 250 steps: 2^62 × 250 is past 2^64.
    rejects(
        &[
            "--set",
            "record.weights=[{ projection = \"input_hidden\", every_samples = 4611686018427387904 }]",
        ],
        "record.weights[0].every_samples: 4611686018427387904 samples × 250 steps",
    );
}

#[test]
fn an_input_ring_past_the_address_space_is_rejected() {
    // 10^9 neurons × 4·10^9 steps of delay × 4 bytes = 1.6·10^19 bytes.
    let e = config_error(
        TWO_LAYERS,
        &[
            "layers.hidden.size=1000000000",
            "projections.input_hidden.delay=4000000000",
        ],
    );
    assert!(
        e.starts_with("projections.input_hidden.delay: 4000000000 steps"),
        "{e}"
    );
}

#[test]
fn a_layer_of_more_than_2_32_neurons_is_rejected() {
    // Neuron indices are u32: 10^10 neurons used to be cut to 1410065408.
    let e = config_error(ONE_LAYER, &["layers.a.size=10000000000"]);
    assert_eq!(
        e,
        "layers.a.size: at most 4294967295 neurons (neuron indices are 32-bit), got 10000000000"
    );
}

// ---------------------------------------------------------------- 2, 3: --seed and --threads

#[test]
fn seeds_past_2_63_are_out_of_range_for_the_flag_and_the_key() {
    // The flag's value becomes a TOML integer, which is signed 64-bit; it
    // used to be read as a string and blamed as the wrong type.
    let message = |seed: &str| {
        format!(
            "simulation.seed: {seed} is out of range; seeds are 0 to 9223372036854775807 (2^63 - 1)"
        )
    };
    for seed in ["9223372036854775808", "18446744073709551615"] {
        rejects(&["--seed", seed], &message(seed));
    }
    // The same seed in the file was the TOML parser's "line 9: u64 value
    // was too large", without the key or the range.
    let text = std::fs::read_to_string(repo("experiments/seed-demo.toml"))
        .unwrap()
        .replace("seed = 2026", "seed = 9223372036854775808");
    let file = temp("seed-2-63.toml");
    std::fs::write(&file, text).unwrap();
    let needle = format!("{}: {}", file.display(), message("9223372036854775808"));
    rejects_config(&file, &[], &needle);
    let o = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("error: {needle}\n")
    );
    rejects(
        &["--set", "simulation.seed=18446744073709551615"],
        "simulation.seed: 18446744073709551615 is out of range",
    );
    validates(&["--seed", "9223372036854775807"]);
}

#[test]
fn threads_are_capped_at_1024() {
    // This used to spawn a million threads (33 s) before failing; the
    // message names the cap, which is checked before any thread starts.
    rejects(
        &["--threads", "1000000"],
        "simulation.threads: at most 1024 (0 = all cores), got 1000000",
    );
    rejects(
        &["--threads", "9223372036854775808"],
        "simulation.threads: 9223372036854775808 is out of range",
    );
    assert!(Config::from_toml(ONE_LAYER, &["simulation.threads=1024".into()]).is_ok());
    let e = config_error(ONE_LAYER, &["simulation.threads=1025"]);
    assert_eq!(
        e,
        "simulation.threads: at most 1024 (0 = all cores), got 1025"
    );
}

// ---------------------------------------------------------------- 4: names

#[test]
fn layer_and_projection_names_must_be_hdf5_names() {
    let file = temp("slash.toml");
    std::fs::write(
        &file,
        "[simulation]\nsteps = 10\n[layers.\"a/b\"]\nkind = \"lif\"\nsize = 3\n",
    )
    .unwrap();
    rejects_config(&file, &[], "layers.\"a/b\": name \"a/b\" contains '/'");
    for name in ["", ".", "..", "a\\u0000b", "x/"] {
        let text = ONE_LAYER.replace("[layers.a]", &format!("[layers.\"{name}\"]"));
        let e = config_error(&text, &[]);
        assert!(
            e.contains(
                "layer names are HDF5 group names (not empty, not '.' or '..', without '/' or NUL)"
            ),
            "{name:?}: {e}"
        );
    }
    let text = TWO_LAYERS.replace("[projections.input_hidden]", "[projections.\"in/hid\"]");
    let e = config_error(&text, &[]);
    assert!(
        e.starts_with("projections.\"in/hid\": name \"in/hid\" contains '/'; projection names are HDF5 group names"),
        "{e}"
    );
}

// ---------------------------------------------------------------- 5: stimulus layer size

#[test]
fn a_stimulus_layer_of_the_wrong_size_fails_before_it_is_spawned() {
    // 4·10^9 encoder neurons used to be spawned (an allocation of ~180 GB,
    // which aborts) before their count was compared with the 784 pixels.
    // The memory estimate refuses them first; past it (--ignore-memory) the
    // size check still comes before anything is spawned.
    rejects(
        &["--ignore-memory", "--set", "layers.input.size=4000000000"],
        "stimulus.layer: layer 'input' has 4000000000 neurons but the images of synthetic-digits have 28x28 = 784 pixels",
    );
    rejects(
        &["--set", "layers.input.size=785"],
        "stimulus.layer: layer 'input' has 785 neurons",
    );
}

// ---------------------------------------------------------------- 6: half an IDX dataset

/// A directory holding the IDX images of one 28x28 image, its label, or both.
fn idx_dir(name: &str, images: bool, labels: bool) -> std::path::PathBuf {
    let dir = temp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if images {
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
        bytes.extend(std::iter::repeat_n(7u8, 784));
        std::fs::write(dir.join("train-images-idx3-ubyte"), bytes).unwrap();
    }
    if labels {
        std::fs::write(
            dir.join("train-labels-idx1-ubyte"),
            [0, 0, 8, 1, 0, 0, 0, 1, 3],
        )
        .unwrap();
    }
    dir
}

#[test]
fn auto_dataset_with_one_of_the_two_files_is_an_error() {
    let path = |d: &Path| format!("stimulus.path={}", d.display());
    let one = ["--set", "stimulus.images=1"];
    let dir = idx_dir("images-only", true, false);
    rejects(
        &[&one[..], &["--set", &path(&dir)]].concat(),
        &format!(
            "dataset file not found: {}(.gz), though {} is there",
            dir.join("train-labels-idx1-ubyte").display(),
            dir.join("train-images-idx3-ubyte").display()
        ),
    );
    let dir = idx_dir("labels-only", false, true);
    rejects(
        &[&one[..], &["--set", &path(&dir)]].concat(),
        &format!(
            "dataset file not found: {}(.gz), though {} is there",
            dir.join("train-images-idx3-ubyte").display(),
            dir.join("train-labels-idx1-ubyte").display()
        ),
    );
    // Both files: the set is read; neither: the synthetic digits, with a note.
    validates(&[&one[..], &["--set", &path(&idx_dir("both", true, true))]].concat());
    let cfg = repo("experiments/seed-demo.toml");
    let none = idx_dir("neither", false, false);
    let o = run(&["validate", cfg.to_str().unwrap(), "--set", &path(&none)]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("using the built-in synthetic digits"));
}

// ---------------------------------------------------------------- 7: rounding of t_ref

#[test]
fn a_refractory_period_of_two_and_a_half_steps_holds_three() {
    // One neuron, instantaneous current, I = 2, dt = 1, τ_v = 10, σ = 1
    // (tests/model.rs): V(n) = 0.9·V(n−1) + 0.2 from 0 first crosses 1 at
    // step 6. t_ref = 2.5 ms at dt = 1 ms: round(2.5) = 3 (Rust rounds
    // halves away from zero; Python's round would give 2), so V is held at
    // v_reset = −0.5 at steps 7, 8 and 9 and integrates again at step 10:
    // V(10) = −0.5 + 0.1·(0.5 + 2) = −0.25.
    let toml = r#"
        [simulation]
        steps = 30
        [layers.n]
        kind = "lif"
        size = 1
        current = "instantaneous"
        tau_v_ms = 10.0
        sigma = 1.0
        i_ext = 2.0
        t_ref_ms = 2.5
        v_reset = -0.5
    "#;
    let mut s = sim(toml);
    let mut v = Vec::new();
    for _ in 0..11 {
        s.step();
        v.push(s.voltages("n")[0]);
    }
    assert!(v[5] < 1.0, "{v:?}");
    assert_eq!(&v[6..10], &[-0.5; 4], "{v:?}");
    assert!(close(v[10], -0.25, 1e-6), "{v:?}");
    // With v_reset = 0 the cycle is 7 + 3 = 10 steps: spikes at 6, 16, 26.
    let mut s = sim(&toml.replace("v_reset = -0.5", ""));
    let mut spikes = Vec::new();
    for step in 0..30 {
        s.step();
        if s.spikes("n").contains(&0) {
            spikes.push(step);
        }
    }
    assert_eq!(spikes, vec![6, 16, 26]);
}

// ---------------------------------------------------------------- 8: the time step

#[test]
fn a_huge_time_step_is_blamed_on_dt_ms() {
    // It used to be blamed on record.rates.bin_ms (its default 1 ms bin is
    // shorter), though the seed demo records no rates.
    rejects(
        &["--set", "simulation.dt_ms=1e300"],
        "simulation.dt_ms: at most 1000 ms (one second a step), got 1e300",
    );
    // A time step longer than the default bin is fine without rates...
    validates(&["--set", "simulation.dt_ms=2"]);
    // ...and still checked against the bins of recorded rates.
    rejects(
        &[
            "--set",
            "simulation.dt_ms=2",
            "--set",
            "record.rates.layers=[\"hidden\"]",
        ],
        "record.rates.bin_ms: must be >= dt_ms (2), got 1",
    );
}

/// A hidden layer of 2·10^9 LIF neurons needs an estimated 300 GiB (160
/// bytes a neuron, `spikesim::footprint`): more than any machine this runs
/// on has available, so `run` and `validate` refuse it before building
/// anything (before: an allocation failure, exit 134).
#[test]
fn a_network_that_cannot_fit_is_refused_with_its_estimate() {
    let args = [
        "--set",
        "stimulus.dataset=synthetic",
        "--set",
        "layers.hidden.size=2000000000",
    ];
    rejects(&args, "the run needs an estimated");
    let cfg = repo("experiments/seed-demo.toml");
    let o = run(&[&["validate", cfg.to_str().unwrap()][..], &args[..]].concat());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("GiB of memory") && err.contains("--ignore-memory"),
        "{err}"
    );
}

/// Generated images take 784 bytes each. 10^12 of them (7.8·10^14 bytes)
/// with `dataset = "auto"` and no IDX files used to abort on the failed
/// allocation (exit 134), even in `validate`, because the estimate counted
/// `synthetic` and `sparse_random` images only; 10^17 of them overflowed
/// `images × 784` (past 2^64) before allocating.
#[test]
fn generated_images_are_counted_and_their_bytes_checked() {
    let nowhere = format!("stimulus.path={}", temp("no-idx-here").display());
    rejects(
        &["--set", &nowhere, "--set", "stimulus.images=1000000000000"],
        "the run needs an estimated 730156.9 GiB of memory",
    );
    let cfg = repo("experiments/seed-demo.toml");
    let o = run(&[
        "validate",
        cfg.to_str().unwrap(),
        "--set",
        &nowhere,
        "--set",
        "stimulus.images=1000000000000",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("730156.9 GiB"),
        "{o:?}"
    );
    for dataset in ["synthetic", "sparse_random", "auto"] {
        rejects(
            &[
                "--ignore-memory",
                "--set",
                &format!("stimulus.dataset={dataset}"),
                "--set",
                &nowhere,
                "--set",
                "stimulus.images=100000000000000000",
                "--set",
                "simulation.steps=10",
            ],
            "stimulus.images: 100000000000000000 images × 784 pixels is more bytes than a process can hold (2^63 - 1)",
        );
    }
}

/// The estimate `validate` prints is within 2× of the peak resident memory
/// the run reports, for networks from 900 to 64,000 neurons, with and
/// without traces and sparse projections.
#[test]
fn the_memory_estimate_is_within_2x_of_the_measured_peak() {
    let mib = |text: &str, after: &str| -> f64 {
        let rest = &text[text
            .find(after)
            .unwrap_or_else(|| panic!("{after}: {text}"))
            + after.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    let cases: [(&str, &[&str]); 4] = [
        (
            "seed-demo.toml",
            &[
                "--set",
                "stimulus.dataset=synthetic",
                "--set",
                "stimulus.images=4",
            ],
        ),
        ("cuba.toml", &["--set", "simulation.steps=200"]),
        (
            "cuba.toml",
            &[
                "--set",
                "simulation.steps=50",
                "--set",
                "layers.exc.size=51200",
                "--set",
                "layers.inh.size=12800",
            ],
        ),
        (
            "seed-demo.toml",
            &[
                "--set",
                "stimulus.dataset=synthetic",
                "--set",
                "stimulus.images=8",
                "--set",
                "layers.hidden.size=10000",
                "--set",
                "record.traces=[{layer = \"hidden\", vars = [\"voltage\"]}]",
            ],
        ),
    ];
    for (k, (experiment, args)) in cases.iter().enumerate() {
        let cfg = repo(&format!("experiments/{experiment}"));
        let v = run(&[&["validate", cfg.to_str().unwrap()][..], args].concat());
        let estimate = mib(&String::from_utf8_lossy(&v.stdout), "estimated memory");
        let out = temp(&format!("memory-{k}.h5"));
        let r = run(&[
            &["run", cfg.to_str().unwrap(), "--out", out.to_str().unwrap()][..],
            args,
        ]
        .concat());
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(r.status.success(), "{err}");
        let peak = mib(&err, "peak RSS");
        let ratio = estimate / peak;
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{experiment} {args:?}: estimate {estimate} MiB, peak {peak} MiB"
        );
    }
}
