//! The in-memory backend: keeps what a run records, readable afterwards as
//! a [`Recording`] (for tests, and for tools that look at a run without a
//! file).
//!
//! ```no_run
//! # use spikesim::record::{Layout, RunHeader, memory::MemoryBackend};
//! # fn run(header: &RunHeader, layout: &Layout) -> Result<(), spikesim::record::RecordError> {
//! let memory = MemoryBackend::new();
//! let writer = memory.writer(header, layout, 4)?;
//! // ... writer.send(batch)? for each batch of the run ...
//! writer.finish(header.steps)?;
//! let recording = memory.recording();
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::record::backend::{Backend, End, StoreError};
use crate::record::batch::{Attr, Batch, Values};
use crate::record::error::RecordError;
use crate::record::layout::{Layout, RunHeader};
use crate::record::writer::Writer;

/// What a memory-backed run recorded; the lists index as the layout's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Recording {
    /// The run's header, once opened.
    pub header: Option<RunHeader>,
    /// The run's layout.
    pub layout: Layout,
    /// Per spike layer: (step, node id) of each spike, in order.
    pub spikes: Vec<Vec<(u64, u64)>>,
    /// Per trace: its frames, each one value per recorded neuron (in the
    /// trace's units).
    pub traces: Vec<Vec<Vec<f32>>>,
    /// Per rate: the spike count of each bin.
    pub rates: Vec<Vec<u64>>,
    /// Per projection: (steps done, one weight in nA per synapse) of each
    /// snapshot.
    pub weights: Vec<Vec<(u64, Vec<f32>)>>,
    /// The protocol's samples, in order.
    pub samples: Vec<Sample>,
    /// The whole datasets, in the order written.
    pub datasets: Vec<Dataset>,
    /// How many times the writer flushed.
    pub flushes: usize,
    /// How the run ended: `None` while it runs, or when the writer was
    /// dropped without `finish` or `abort`.
    pub end: Option<RunEnd>,
}

/// One sample of a protocol, as [`Batch::Samples`] sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// Index of the sample in its dataset.
    pub index: u64,
    /// Its label.
    pub label: u8,
    /// First step of its presentation.
    pub start_step: u64,
    /// Per counted layer, the spike count of each neuron.
    pub counts: Vec<Vec<u32>>,
}

/// One [`Batch::Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Path below the root, e.g. `results/evaluate/accuracy`.
    pub path: String,
    /// Shape; `[]` for a scalar.
    pub shape: Vec<u64>,
    /// The values, row-major.
    pub values: Values,
    /// Its attributes.
    pub attrs: Vec<(String, Attr)>,
}

/// How a run ended, as [`End`] tells the backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    /// Steps actually simulated.
    pub steps_done: u64,
    /// Why the run stopped early; `None` for a complete run.
    pub error: Option<String>,
}

/// A handle onto one shared [`Recording`]: [`open`](MemoryBackend::open)
/// gives the writer a backend that fills it, [`recording`](MemoryBackend::recording)
/// reads it back.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    shared: Arc<Mutex<Recording>>,
}

impl MemoryBackend {
    /// What errors of a memory-backed writer name as their target.
    pub const TARGET: &str = "memory";

    /// A handle onto a new, empty recording.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    /// Starts the recording afresh for a run of `header` and `layout` and
    /// returns the backend that fills it, for
    /// [`Writer::start`]: `Writer::start(target, header, layout, capacity,
    /// |h, l| memory.open(h, l))`.
    pub fn open(&self, header: &RunHeader, layout: &Layout) -> Result<Box<dyn Backend>, String> {
        *self.lock() = Recording {
            header: Some(header.clone()),
            layout: layout.clone(),
            spikes: vec![Vec::new(); layout.spikes.len()],
            traces: vec![Vec::new(); layout.traces.len()],
            rates: vec![Vec::new(); layout.rates.len()],
            weights: vec![Vec::new(); layout.weights.len()],
            ..Recording::default()
        };
        Ok(Box::new(self.clone()))
    }

    /// A writer on this recording ([`Writer::start`] with target
    /// [`TARGET`](Self::TARGET)).
    pub fn writer(
        &self,
        header: &RunHeader,
        layout: &Layout,
        capacity: usize,
    ) -> Result<Writer, RecordError> {
        Writer::start(Path::new(Self::TARGET), header, layout, capacity, |h, l| {
            self.open(h, l)
        })
    }

    /// A copy of what was recorded so far.
    pub fn recording(&self) -> Recording {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn append(&mut self, batch: Batch) -> Result<(), StoreError> {
        let mut r = self.lock();
        match batch {
            Batch::Spikes {
                layer,
                steps,
                node_ids,
            } => r.spikes[layer].extend(steps.into_iter().zip(node_ids)),
            Batch::Trace { trace, data } => {
                let n = r.layout.traces[trace].node_ids.len();
                let frames = data.chunks_exact(n).map(<[f32]>::to_vec);
                r.traces[trace].extend(frames);
            }
            Batch::Rates { rate, counts } => r.rates[rate].extend(counts),
            Batch::Weights {
                weights,
                steps_done,
                data,
            } => r.weights[weights].push((steps_done, data)),
            Batch::Samples {
                index,
                label,
                start_step,
                counts,
            } => {
                let sizes: Vec<usize> = (r.layout.samples.iter())
                    .flat_map(|s| s.layers.iter().map(|l| l.n_nodes as usize))
                    .collect();
                for (k, ((index, label), start_step)) in
                    index.into_iter().zip(label).zip(start_step).enumerate()
                {
                    let counts = (counts.iter().zip(&sizes))
                        .map(|(c, &n)| c[k * n..(k + 1) * n].to_vec())
                        .collect();
                    r.samples.push(Sample {
                        index,
                        label,
                        start_step,
                        counts,
                    });
                }
            }
            Batch::Dataset {
                path,
                shape,
                values,
                attrs,
            } => r.datasets.push(Dataset {
                path,
                shape,
                values,
                attrs,
            }),
            Batch::Through { .. } | Batch::ResumePoint { .. } => {}
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.lock().flushes += 1;
        Ok(())
    }

    fn close(self: Box<Self>, end: &End<'_>) -> Result<(), String> {
        self.lock().end = Some(RunEnd {
            steps_done: end.steps_done,
            error: end.error.map(str::to_owned),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::fixtures::{SAMPLE_SNAPSHOTS, header, sample_layout, send_sample};

    #[test]
    fn the_sample_run_is_kept_as_sent() {
        let memory = MemoryBackend::new();
        let writer = memory.writer(&header(20), &sample_layout(), 4).unwrap();
        send_sample(&writer);
        let theta = Batch::Dataset {
            path: "state/theta/exc".to_owned(),
            shape: vec![3],
            values: Values::F64(vec![0.5, 0.0, 0.25]),
            attrs: vec![("units".to_owned(), Attr::Str("mV".to_owned()))],
        };
        writer.send(theta).unwrap();
        writer.finish(17).unwrap();

        let r = memory.recording();
        assert_eq!(r.header, Some(header(20)));
        assert_eq!(r.layout, sample_layout());
        // input: (step, node) = (0,1) (0,2) (3,0) (7,3) (10,0) (16,0); exc none.
        assert_eq!(
            r.spikes,
            vec![
                vec![(0, 1), (0, 2), (3, 0), (7, 3), (10, 0), (16, 0)],
                vec![]
            ]
        );
        // 5 frames of 2 columns: value = frame + column / 10.
        let frames = [[0.0, 0.1], [1.0, 1.1], [2.0, 2.1], [3.0, 3.1], [4.0, 4.1]];
        assert_eq!(
            r.traces,
            vec![frames.map(|f: [f32; 2]| f.to_vec()).to_vec()]
        );
        assert_eq!(r.rates, vec![vec![3, 1, 1, 1], vec![]]);
        let input_exc: Vec<(u64, Vec<f32>)> = (SAMPLE_SNAPSHOTS.iter())
            .map(|(s, w)| (*s, w.to_vec()))
            .collect();
        assert_eq!(r.weights, vec![input_exc, vec![(0, vec![]), (17, vec![])]]);
        // Three samples; counts of exc (3 neurons) then input (4).
        let sample = |index, label, start_step, exc: [u32; 3], input: [u32; 4]| Sample {
            index,
            label,
            start_step,
            counts: vec![exc.to_vec(), input.to_vec()],
        };
        assert_eq!(
            r.samples,
            vec![
                sample(7, 1, 0, [0, 1, 2], [1, 0, 0, 2]),
                sample(2, 0, 8, [3, 0, 0], [0, 0, 1, 0]),
                sample(5, 9, 16, [0, 0, 1], [1, 1, 1, 1]),
            ]
        );
        assert_eq!(r.datasets.len(), 1);
        assert_eq!(r.datasets[0].path, "state/theta/exc");
        assert_eq!(
            r.end,
            Some(RunEnd {
                steps_done: 17,
                error: None
            })
        );
    }

    #[test]
    fn a_bad_batch_stops_the_writer_and_abort_records_why() {
        // Node id 4 of the 4-neuron `input`: the writer stops there, keeps the
        // spike before it, and abort records the reason and the error, and as
        // steps done the 2 steps marked stored whole (not the caller's 5).
        let memory = MemoryBackend::new();
        let writer = memory.writer(&header(20), &sample_layout(), 0).unwrap();
        let spike = |step, node| Batch::Spikes {
            layer: 0,
            steps: vec![step],
            node_ids: vec![node],
        };
        writer.send(spike(1, 3)).unwrap();
        writer.send(Batch::Through { steps_done: 2 }).unwrap();
        let _ = writer.send(spike(2, 4));
        let err = writer.abort(5, "stopped").unwrap_err();
        assert!(matches!(err, RecordError::BadBatch { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("bad record block for memory: node id 4")
        );
        let r = memory.recording();
        assert_eq!(r.spikes[0], vec![(1, 3)]);
        assert_eq!(
            r.end,
            Some(RunEnd {
                steps_done: 2,
                error: Some(format!("stopped; {err}"))
            })
        );
    }

    #[test]
    fn a_dropped_writer_leaves_no_end() {
        let memory = MemoryBackend::new();
        drop(memory.writer(&header(3), &Layout::default(), 1).unwrap());
        let r = memory.recording();
        assert_eq!((r.header.is_some(), r.end), (true, None));
    }
}
