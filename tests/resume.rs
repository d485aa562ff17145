//! Resumable runs in process: a network rebuilt from the same config and
//! set to another's state (`Simulation::resume_state`) continues exactly as
//! the original does, on any thread count; a state that does not fit the
//! network is refused. The file side (interrupt, kill, full disk, resume
//! with `spikesim run --resume`) is tested in `tools/test_resume.py`.

mod common;

use spikesim::data::synthetic_digits;
use spikesim::{Config, Simulation};

/// The network of `tests/data/resume.toml` on `threads` threads, with `sets`.
fn network(threads: usize, sets: &[&str]) -> Simulation {
    let mut overrides = vec![format!("simulation.threads={threads}")];
    overrides.extend(sets.iter().map(|s| s.to_string()));
    let config = Config::load(&common::repo("tests/data/resume.toml"), &overrides).unwrap();
    let images = synthetic_digits(40, config.simulation.seed);
    Simulation::new(&config, Some(images)).unwrap()
}

/// Everything the tests compare: voltages, thresholds and spike counts of
/// every layer, the plastic weights and the events delivered.
fn observe(sim: &mut Simulation) -> (Vec<Vec<f32>>, Vec<f32>, u64) {
    let mut v = Vec::new();
    for layer in ["exc", "inh", "izh", "adex"] {
        v.push(sim.voltages(layer));
        v.push(sim.currents(layer));
        v.push(vec![sim.spike_count(layer) as f32]);
    }
    v.push(sim.thetas("exc"));
    (
        v,
        sim.weights("input_exc").values().to_vec(),
        sim.synapse_events(),
    )
}

#[test]
fn a_rebuilt_network_set_to_a_saved_state_continues_bit_for_bit() {
    // 1,237 steps: inside an image (each 350 + 150 rest steps), with spikes in
    // flight on the 3- and 4-step delays and STDP traces nonzero.
    continues_bit_for_bit(&[]);
}

#[test]
fn per_synapse_delays_resume_bit_for_bit() {
    // inh → exc with a delay per synapse: normal, mean 4 ms (8 steps at
    // dt 0.5), sd 2 ms, at least 1 ms, so the exc ring is as long as the
    // longest drawn delay and spikes are in flight on many of its slots.
    let delays =
        "projections.inh_exc.delay_ms={ kind = \"normal\", mean = 4.0, std = 2.0, min = 1.0 }";
    let w = network(1, &[delays]).weights("inh_exc");
    let d = w.delays().expect("per-synapse delays");
    assert!(d.max > 8 && d.max <= 28, "max delay {}", d.max);
    continues_bit_for_bit(&[delays]);
}

/// A network with `sets` run 1,237 steps, its state saved and restored
/// into a fresh one on 1 and 2 threads, continues as the original does.
fn continues_bit_for_bit(sets: &[&str]) {
    let mut original = network(1, sets);
    for _ in 0..1237 {
        original.step();
    }
    let saved = original.resume_state();
    for threads in [1, 2] {
        let mut resumed = network(threads, sets);
        resumed.restore_resume_state(&saved).unwrap();
        assert_eq!(resumed.steps_done(), 1237);
        let mut reference = network(1, sets);
        for _ in 0..1237 {
            reference.step();
        }
        for _ in 0..2000 {
            resumed.step();
            reference.step();
        }
        assert_eq!(
            observe(&mut resumed),
            observe(&mut reference),
            "{threads} threads"
        );
        assert!(reference.spike_count("exc") > 0);
    }
}

#[test]
fn a_state_that_does_not_fit_the_network_is_refused() {
    let mut original = network(1, &[]);
    original.step();
    let saved = original.resume_state();
    let mut bigger = network(1, &["layers.exc.size=31", "layers.inh.size=31"]);
    let err = bigger.restore_resume_state(&saved).unwrap_err();
    assert!(err.contains("this network has"), "{err}");
    // Longer delays: rings of more slots.
    let mut later = network(1, &["projections.exc_inh.delay=5"]);
    let err = later.restore_resume_state(&saved).unwrap_err();
    assert!(err.contains("pending input values"), "{err}");
}

#[test]
fn a_restored_state_captures_back_column_for_column() {
    // Every column set by restore reads back unchanged: none is forgotten.
    let mut original = network(1, &[]);
    for _ in 0..1237 {
        original.step();
    }
    let saved = original.resume_state();
    let mut resumed = network(2, &[]);
    resumed.restore_resume_state(&saved).unwrap();
    let again = resumed.resume_state();
    let names = |c: &spikesim::resume::state::Columns| -> Vec<String> {
        c.iter().map(|(n, _)| n.clone()).collect()
    };
    assert_eq!(names(&saved), names(&again));
    for ((name, a), (_, b)) in saved.iter().zip(&again) {
        assert!(a == b, "column {name} differs after restore");
    }
}
