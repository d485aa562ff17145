//! Holding each [`Batch`] to the [`Layout`] before a backend stores it: index
//! bounds, lengths, node ids in range, spikes and samples in order, dataset
//! paths. The writer thread runs every batch through one [`Checker`], so every
//! backend receives only batches consistent with the layout and with the
//! batches before them.

use std::collections::HashSet;

use crate::record::batch::{Attr, Batch, Values};
use crate::record::layout::Layout;
use crate::record::schema::{self, DATASET_ROOTS};

/// What the checks remember of the batches accepted so far.
#[derive(Debug)]
pub struct Checker {
    spikes: Vec<SpikeState>,
    traces: Vec<TraceState>,
    rates: Vec<RateState>,
    weights: Vec<WeightState>,
    samples: Option<SampleState>,
    /// Paths of the [`Batch::Dataset`]s accepted so far.
    datasets: HashSet<String>,
    /// `steps_done` of the last [`Batch::Through`] accepted.
    through: u64,
}

#[derive(Debug)]
struct SpikeState {
    name: String,
    n_nodes: u64,
    /// (step, node id) of the last spike accepted.
    last: Option<(u64, u64)>,
}

#[derive(Debug)]
struct TraceState {
    label: String,
    n_recorded: usize,
}

#[derive(Debug)]
struct RateState {
    layer: String,
    /// `n_nodes · bin_steps`: no bin can hold more spikes.
    max_count: u64,
    /// Bins accepted so far.
    bins: usize,
}

#[derive(Debug)]
struct WeightState {
    projection: String,
    n_synapses: usize,
    /// `steps_done` of the last snapshot accepted.
    last_step: Option<u64>,
}

#[derive(Debug)]
struct SampleState {
    /// Per counted layer: name and number of neurons.
    layers: Vec<(String, usize)>,
    /// First step of the last sample accepted.
    last_start: Option<u64>,
}

impl Checker {
    /// A checker of the batches of `layout` (already [`validate`d](super::layout::validate)).
    pub fn new(layout: &Layout) -> Checker {
        Checker {
            spikes: (layout.spikes.iter())
                .map(|l| SpikeState {
                    name: l.name.clone(),
                    n_nodes: l.n_nodes,
                    last: None,
                })
                .collect(),
            traces: (layout.traces.iter())
                .map(|t| TraceState {
                    label: format!("{}/{}", t.layer, t.var),
                    n_recorded: t.node_ids.len(),
                })
                .collect(),
            rates: (layout.rates.iter())
                .map(|r| RateState {
                    layer: r.layer.clone(),
                    max_count: r.n_nodes.saturating_mul(r.bin_steps),
                    bins: 0,
                })
                .collect(),
            weights: (layout.weights.iter())
                .map(|w| WeightState {
                    projection: w.projection.clone(),
                    n_synapses: w.pre_ids.len(),
                    last_step: None,
                })
                .collect(),
            samples: layout.samples.as_ref().map(|s| SampleState {
                layers: (s.layers.iter())
                    .map(|l| (l.name.clone(), l.n_nodes as usize))
                    .collect(),
                last_start: None,
            }),
            datasets: HashSet::new(),
            through: 0,
        }
    }

    /// Checks `batch` against the layout and the batches accepted before;
    /// accepts it (remembering what later checks need) or returns why not.
    pub fn check(&mut self, batch: &Batch) -> Result<(), String> {
        match batch {
            Batch::Spikes {
                layer,
                steps,
                node_ids,
            } => self.spikes(*layer, steps, node_ids),
            Batch::Trace { trace, data } => self.trace(*trace, data),
            Batch::Rates { rate, counts } => self.rates(*rate, counts),
            Batch::Weights {
                weights,
                steps_done,
                data,
            } => self.weights(*weights, *steps_done, data),
            Batch::Samples {
                index,
                label,
                start_step,
                counts,
            } => self.samples(index, label, start_step, counts),
            Batch::Dataset {
                path,
                shape,
                values,
                attrs,
            } => {
                check_dataset(path, shape, values, attrs, &self.datasets)?;
                self.datasets.insert(path.clone());
                Ok(())
            }
            Batch::Through { steps_done } if *steps_done < self.through => Err(format!(
                "records through step {steps_done} after records through step {}",
                self.through
            )),
            Batch::Through { steps_done } => {
                self.through = *steps_done;
                Ok(())
            }
            Batch::ResumePoint { .. } => Ok(()),
        }
    }

    fn spikes(&mut self, layer: usize, steps: &[u64], node_ids: &[u64]) -> Result<(), String> {
        let declared = self.spikes.len();
        let Some(state) = self.spikes.get_mut(layer) else {
            return Err(format!(
                "spike block for layer index {layer}, but {declared} spike layers were declared"
            ));
        };
        if steps.len() != node_ids.len() {
            return Err(format!(
                "spike block for layer {} has {} steps but {} node ids",
                state.name,
                steps.len(),
                node_ids.len()
            ));
        }
        // The file promises sorting = by_time, ties by node id: hold the sender to it.
        let mut last = state.last;
        for (&step, &node) in steps.iter().zip(node_ids) {
            if node >= state.n_nodes {
                return Err(format!(
                    "node id {node} at step {step} is out of range for layer {} of {} neurons",
                    state.name, state.n_nodes
                ));
            }
            if let Some((last_step, last_node)) = last
                && (step, node) <= (last_step, last_node)
            {
                return Err(format!(
                    "spikes of layer {} out of order: (step {step}, node {node}) after \
                     (step {last_step}, node {last_node})",
                    state.name
                ));
            }
            last = Some((step, node));
        }
        state.last = last;
        Ok(())
    }

    fn trace(&mut self, trace: usize, data: &[f32]) -> Result<(), String> {
        let Some(state) = self.traces.get(trace) else {
            return Err(format!(
                "trace block for trace index {trace}, but {} traces were declared",
                self.traces.len()
            ));
        };
        let n = state.n_recorded;
        if !data.len().is_multiple_of(n) {
            return Err(format!(
                "trace block for {} holds {} values, not a multiple of its {n} columns",
                state.label,
                data.len()
            ));
        }
        Ok(())
    }

    fn rates(&mut self, rate: usize, counts: &[u64]) -> Result<(), String> {
        let declared = self.rates.len();
        let Some(state) = self.rates.get_mut(rate) else {
            return Err(format!(
                "rate block for rate index {rate}, but {declared} rates were declared"
            ));
        };
        if let Some((k, &count)) = (counts.iter().enumerate()).find(|(_, c)| **c > state.max_count)
        {
            return Err(format!(
                "rate block for layer {}: bin {} holds {count} spikes, more than its \
                 neurons can fire in one bin ({})",
                state.layer,
                state.bins + k,
                state.max_count
            ));
        }
        state.bins += counts.len();
        Ok(())
    }

    fn weights(&mut self, weights: usize, steps_done: u64, data: &[f32]) -> Result<(), String> {
        let declared = self.weights.len();
        let Some(state) = self.weights.get_mut(weights) else {
            return Err(format!(
                "weight block for weights index {weights}, but {declared} projections were declared"
            ));
        };
        if data.len() != state.n_synapses {
            return Err(format!(
                "weight block for projection {} holds {} weights, but it has {} synapses",
                state.projection,
                data.len(),
                state.n_synapses
            ));
        }
        if let Some(last) = state.last_step
            && steps_done < last
        {
            return Err(format!(
                "weight snapshot of projection {} after {steps_done} steps comes after one \
                 after {last} steps",
                state.projection
            ));
        }
        state.last_step = Some(steps_done);
        Ok(())
    }

    fn samples(
        &mut self,
        index: &[u64],
        label: &[u8],
        start_step: &[u64],
        counts: &[Vec<u32>],
    ) -> Result<(), String> {
        let Some(state) = &mut self.samples else {
            return Err("samples block, but the layout declares no samples".to_owned());
        };
        let m = index.len();
        if label.len() != m || start_step.len() != m {
            return Err(format!(
                "samples block has {m} indices, {} labels and {} start steps",
                label.len(),
                start_step.len()
            ));
        }
        if counts.len() != state.layers.len() {
            return Err(format!(
                "samples block has counts of {} layers, but {} layers were declared",
                counts.len(),
                state.layers.len()
            ));
        }
        for ((name, n), c) in state.layers.iter().zip(counts) {
            if m.checked_mul(*n) != Some(c.len()) {
                return Err(format!(
                    "samples block: counts of layer {name} hold {} values, expected \
                     {m} samples × {n} neurons",
                    c.len()
                ));
            }
        }
        let mut last = state.last_start;
        for &step in start_step {
            if let Some(prev) = last
                && step <= prev
            {
                return Err(format!(
                    "samples out of order: a sample starting at step {step} after one \
                     starting at step {prev}"
                ));
            }
            last = Some(step);
        }
        state.last_start = last;
        Ok(())
    }
}

/// The shape of a checked [`Batch::Dataset`] in elements.
pub fn dataset_dims(shape: &[u64]) -> Vec<usize> {
    shape.iter().map(|&d| d as usize).collect()
}

/// Checks a [`Batch::Dataset`] against its rules and the paths of the
/// datasets accepted before (`written`).
fn check_dataset(
    path: &str,
    shape: &[u64],
    values: &Values,
    attrs: &[(String, Attr)],
    written: &HashSet<String>,
) -> Result<(), String> {
    let components: Vec<&str> = path.split('/').collect();
    if !DATASET_ROOTS.contains(&components[0]) {
        return Err(format!(
            "dataset path {path:?} must start with {}",
            DATASET_ROOTS.map(|r| format!("{r}/")).join(" or ")
        ));
    }
    if components.len() < 2 {
        return Err(format!(
            "dataset path {path:?} names a group, not a dataset below it"
        ));
    }
    for name in &components {
        schema::check_name(name).map_err(|e| format!("dataset path {path:?}: {e}"))?;
    }
    if written.contains(path) {
        return Err(format!("dataset {path} is written twice"));
    }
    for end in 2..components.len() {
        let prefix = components[..end].join("/");
        if written.contains(&prefix) {
            return Err(format!(
                "dataset {path} lies below {prefix}, which is a dataset, not a group"
            ));
        }
    }
    let below = format!("{path}/");
    if let Some(other) = written.iter().find(|p| p.starts_with(&below)) {
        return Err(format!(
            "dataset {path} would replace the group that holds dataset {other}"
        ));
    }
    let too_large = || format!("dataset {path}: shape {shape:?} is too large");
    let mut size: usize = 1;
    for &d in shape {
        let d = usize::try_from(d).map_err(|_| too_large())?;
        size = size.checked_mul(d).ok_or_else(too_large)?;
    }
    if size != values.len() {
        let kind = if shape.is_empty() { " (a scalar)" } else { "" };
        return Err(format!(
            "dataset {path}: shape {shape:?}{kind} holds {size} values, but the block has {}",
            values.len()
        ));
    }
    let mut seen = HashSet::new();
    for (name, value) in attrs {
        if name.is_empty() || name.contains('\0') {
            return Err(format!(
                "dataset {path}: attribute name {name:?} is empty or contains a NUL character"
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("dataset {path}: attribute {name} is listed twice"));
        }
        if let Attr::Str(text) = value
            && text.contains('\0')
        {
            return Err(format!(
                "dataset {path}: attribute {name} contains a NUL character"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::error::RecordError;
    use crate::record::fixtures::{header, layout, sample_layout};
    use crate::record::layout::SpikeLayer;
    use crate::record::memory::MemoryBackend;

    #[test]
    fn out_of_order_spikes_are_rejected() {
        // (step 5, node 0) after (step 5, node 1) breaks "within a step by node id".
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 2,
        }];
        let writer = MemoryBackend::new()
            .writer(&header(10), &layout(&layers, &[]), 4)
            .unwrap();
        writer
            .send(Batch::Spikes {
                layer: 0,
                steps: vec![5],
                node_ids: vec![1],
            })
            .unwrap();
        let _ = writer.send(Batch::Spikes {
            layer: 0,
            steps: vec![5],
            node_ids: vec![0],
        });
        let err = writer.finish(10).unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
    }

    #[test]
    fn blocks_inconsistent_with_the_layout_are_rejected() {
        // Each case on a fresh sample writer (see `sample_layout`: rates of input
        // (4 neurons, 5-step bins, so at most 20 spikes a bin) and exc, weights of
        // input_exc (4 synapses) and exc_exc (0), samples counting exc (3) and
        // input (4)); finish returns the BadBatch error naming the problem. The
        // checks hold for every backend; these run on memory.
        let samples =
            |index: Vec<u64>, label: Vec<u8>, start_step: Vec<u64>, counts| Batch::Samples {
                index,
                label,
                start_step,
                counts,
            };
        let weights = |weights, steps_done, n| Batch::Weights {
            weights,
            steps_done,
            data: vec![0.5; n],
        };
        let one_sample =
            |start| samples(vec![0], vec![0], vec![start], vec![vec![0; 3], vec![0; 4]]);
        let cases: Vec<(Vec<Batch>, &str)> = vec![
            (
                vec![Batch::Rates {
                    rate: 2,
                    counts: vec![1],
                }],
                "rate index 2, but 2 rates were declared",
            ),
            // 21 spikes in a bin of 4 neurons × 5 steps = 20 possible.
            (
                vec![Batch::Rates {
                    rate: 0,
                    counts: vec![20, 21],
                }],
                "bin 1 holds 21 spikes, more than its neurons can fire in one bin (20)",
            ),
            (vec![weights(2, 0, 4)], "weights index 2, but 2 projections"),
            (
                vec![weights(0, 0, 5)],
                "projection input_exc holds 5 weights, but it has 4 synapses",
            ),
            (
                vec![weights(1, 0, 1)],
                "projection exc_exc holds 1 weights, but it has 0 synapses",
            ),
            (
                vec![weights(0, 10, 4), weights(0, 9, 4)],
                "after 9 steps comes after one after 10 steps",
            ),
            (
                vec![samples(
                    vec![0, 1],
                    vec![0],
                    vec![0, 8],
                    vec![vec![0; 6], vec![0; 8]],
                )],
                "2 indices, 1 labels and 2 start steps",
            ),
            (
                vec![samples(vec![0], vec![0], vec![0], vec![vec![0; 3]])],
                "counts of 1 layers, but 2 layers were declared",
            ),
            (
                vec![samples(
                    vec![0],
                    vec![0],
                    vec![0],
                    vec![vec![0; 3], vec![0; 3]],
                )],
                "counts of layer input hold 3 values, expected 1 samples × 4 neurons",
            ),
            (
                vec![one_sample(8), one_sample(8)],
                "a sample starting at step 8 after one starting at step 8",
            ),
        ];
        for (blocks, needle) in cases {
            let writer = MemoryBackend::new()
                .writer(&header(20), &sample_layout(), 4)
                .unwrap();
            for block in blocks {
                let _ = writer.send(block);
            }
            let err = writer.finish(20).unwrap_err();
            assert!(matches!(err, RecordError::BadBatch { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }

        // Samples without a sample spec.
        let writer = MemoryBackend::new()
            .writer(&header(20), &Layout::default(), 4)
            .unwrap();
        let _ = writer.send(samples(vec![], vec![], vec![], vec![]));
        let err = writer.finish(20).unwrap_err();
        assert!(err.to_string().contains("declares no samples"), "{err}");
    }
}
