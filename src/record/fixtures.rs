//! Test fixtures shared by the recording tests: temporary paths and the
//! sample run that the writer, inspect and memory tests record.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::config::Compression;
use crate::record::batch::Batch;
use crate::record::layout::{
    Layout, RateSpec, RunHeader, SampleSpec, SpikeLayer, TraceSpec, WeightSpec,
};
use crate::record::writer::Writer;

/// A fresh path in the temp directory, removed when dropped.
pub(crate) struct TempPath(pub(crate) PathBuf);

impl TempPath {
    pub(crate) fn new(tag: &str) -> TempPath {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("spikesim-writer-{tag}-{}-{n}.h5", std::process::id());
        TempPath(std::env::temp_dir().join(name))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The sample header: dt 0.1 ms, `steps` planned, 2 threads.
pub(crate) fn header(steps: u64) -> RunHeader {
    RunHeader {
        spikesim_version: "0.1.0-test".to_owned(),
        seed: 0xDEAD_BEEF_1234,
        dt_ms: 0.1,
        steps,
        threads: 2,
        config_toml: "[simulation]\ndt_ms = 0.1\nsteps = 20\n".to_owned(),
    }
}

/// A layout of spikes and traces only.
pub(crate) fn layout(spikes: &[SpikeLayer], traces: &[TraceSpec]) -> Layout {
    Layout {
        spikes: spikes.to_vec(),
        traces: traces.to_vec(),
        compress: Compression::Sonata,
        ..Layout::default()
    }
}

/// The layout of the round-trip test, dt = 0.1 ms:
/// - spikes of `input` (4 neurons) and `exc` (3 neurons);
/// - trace `input/voltage` of nodes [3, 1] from step 2 every 3 steps;
/// - rates of `input` in bins of 5 steps and of `exc` in bins of 10;
/// - weights of `input_exc` (input -> exc, 4 synapses) and of `exc_exc`
///   (exc -> exc, no synapses);
/// - samples of `synthetic` 2×3 images, 5 + 3 steps each, counts of `exc`
///   and `input`.
pub(crate) fn sample_layout() -> Layout {
    let input = SpikeLayer {
        name: "input".to_owned(),
        n_nodes: 4,
    };
    let exc = SpikeLayer {
        name: "exc".to_owned(),
        n_nodes: 3,
    };
    Layout {
        compress: Compression::Sonata,
        spikes: vec![input.clone(), exc.clone()],
        traces: vec![TraceSpec {
            layer: "input".to_owned(),
            var: "voltage".to_owned(),
            units: "mV".to_owned(),
            node_ids: vec![3, 1],
            start_step: 2,
            every: 3,
        }],
        rates: vec![
            RateSpec {
                layer: "input".to_owned(),
                n_nodes: 4,
                bin_steps: 5,
            },
            RateSpec {
                layer: "exc".to_owned(),
                n_nodes: 3,
                bin_steps: 10,
            },
        ],
        weights: vec![
            WeightSpec {
                projection: "input_exc".to_owned(),
                pre: "input".to_owned(),
                post: "exc".to_owned(),
                n_pre: 4,
                n_post: 3,
                pre_ids: vec![0, 0, 1, 3],
                post_ids: vec![0, 2, 1, 2],
            },
            WeightSpec {
                projection: "exc_exc".to_owned(),
                pre: "exc".to_owned(),
                post: "exc".to_owned(),
                n_pre: 3,
                n_post: 3,
                pre_ids: vec![],
                post_ids: vec![],
            },
        ],
        samples: Some(SampleSpec {
            dataset: "synthetic".to_owned(),
            rows: 2,
            cols: 3,
            steps_per_image: 5,
            rest_steps: 3,
            layers: vec![exc, input],
        }),
    }
}

/// The snapshots of `input_exc` in the sample: (steps done, weights).
pub(crate) const SAMPLE_SNAPSHOTS: [(u64, [f32; 4]); 3] = [
    (0, [0.5, 0.25, 1.0, 0.0]),
    (10, [0.5, 0.3, 0.9, 0.1]),
    (17, [0.45, 0.3, 0.8, 0.2]),
];

/// Sends every batch of the round-trip sample (see `sample_layout`).
pub(crate) fn send_sample(writer: &Writer) {
    // 6 spikes of `input` in three batches; an empty batch changes nothing.
    let batches = [
        (vec![0, 0, 3], vec![1, 2, 0]),
        (vec![], vec![]),
        (vec![7], vec![3]),
        (vec![10, 16], vec![0, 0]),
    ];
    for (steps, node_ids) in batches {
        writer
            .send(Batch::Spikes {
                layer: 0,
                steps,
                node_ids,
            })
            .unwrap();
    }
    // 5 frames of 2 columns in two batches: value = frame + column / 10.
    writer
        .send(Batch::Trace {
            trace: 0,
            data: vec![0.0, 0.1, 1.0, 1.1],
        })
        .unwrap();
    let rest = vec![2.0, 2.1, 3.0, 3.1, 4.0, 4.1];
    writer
        .send(Batch::Trace {
            trace: 0,
            data: rest,
        })
        .unwrap();
    // The spikes of `input` per 5-step bin: steps 0, 0, 3 | 7 | 10 | 16 = 3, 1, 1, 1;
    // in two batches. `exc` gets no rate batch.
    for counts in [vec![3, 1], vec![], vec![1, 1]] {
        writer.send(Batch::Rates { rate: 0, counts }).unwrap();
    }
    for (steps_done, data) in SAMPLE_SNAPSHOTS {
        writer
            .send(Batch::Weights {
                weights: 0,
                steps_done,
                data: data.to_vec(),
            })
            .unwrap();
    }
    // The projection without synapses: two empty snapshots.
    for steps_done in [0, 17] {
        writer
            .send(Batch::Weights {
                weights: 1,
                steps_done,
                data: vec![],
            })
            .unwrap();
    }
    // Three samples (8 steps apart) in two batches; counts of exc (3) then input (4).
    writer
        .send(Batch::Samples {
            index: vec![7],
            label: vec![1],
            start_step: vec![0],
            counts: vec![vec![0, 1, 2], vec![1, 0, 0, 2]],
        })
        .unwrap();
    writer
        .send(Batch::Samples {
            index: vec![2, 5],
            label: vec![0, 9],
            start_step: vec![8, 16],
            counts: vec![vec![3, 0, 0, 0, 0, 1], vec![0, 0, 1, 0, 1, 1, 1, 1]],
        })
        .unwrap();
}

/// Writes the round-trip sample: 20 steps planned, 17 simulated, finished.
pub(crate) fn write_sample(path: &Path) {
    let writer = Writer::create(path, &header(20), &sample_layout(), 4).unwrap();
    send_sample(&writer);
    writer.finish(17).unwrap();
}
