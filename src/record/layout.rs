//! The recording contract between collection and the writer: the run's
//! [`RunHeader`] and the [`Layout`] of what it records, checked once by
//! [`validate`] before anything is opened.

use std::collections::HashSet;

use crate::config::Compression;
use crate::record::schema;

/// Facts about the run stored as root attributes of the output file.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHeader {
    /// Version of the spikesim build, e.g. `env!("CARGO_PKG_VERSION")`.
    pub spikesim_version: String,
    /// The run's master seed.
    pub seed: u64,
    /// Time step in ms; must be finite and positive.
    pub dt_ms: f64,
    /// Planned number of steps; [`Writer::finish`](super::writer::Writer::finish)
    /// replaces it with the number actually simulated
    /// ([`Writer::abort`](super::writer::Writer::abort) keeps it).
    pub steps: u64,
    /// Number of worker threads.
    pub threads: u64,
    /// The full, resolved configuration as TOML.
    pub config_toml: String,
}

/// A layer whose spikes are recorded (a SONATA population).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpikeLayer {
    /// Layer name; one HDF5 path component (non-empty, no '/').
    pub name: String,
    /// Number of neurons; node ids of its spikes must be below it.
    pub n_nodes: u64,
}

/// A recorded state variable of some neurons of one layer (a SONATA report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSpec {
    /// Layer name; one HDF5 path component.
    pub layer: String,
    /// Variable name, e.g. `voltage`; one HDF5 path component.
    pub var: String,
    /// Unit of the values, stored as the `units` attribute of `data`, e.g. `mV`.
    pub units: String,
    /// The recorded neurons, in column order; must not be empty.
    pub node_ids: Vec<u64>,
    /// Step of the first frame.
    pub start_step: u64,
    /// Steps between frames; at least 1.
    pub every: u64,
}

/// Binned population spike counts of one layer: bin `k` covers steps
/// `k·bin_steps .. (k+1)·bin_steps` (the last bin of a run may be cut short;
/// `steps_done` tells).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSpec {
    /// Layer name; one HDF5 path component, at most once among the rates.
    pub layer: String,
    /// Number of neurons of the layer; a bin's count can be at most
    /// `n_nodes · bin_steps`.
    pub n_nodes: u64,
    /// Steps per bin; at least 1.
    pub bin_steps: u64,
}

/// Snapshots of one projection's weights; synapses listed once, in storage
/// order: synapse `k` goes from `pre_ids[k]` to `post_ids[k]`, and column `k`
/// of every snapshot is its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightSpec {
    /// Projection name; one HDF5 path component, at most once among the weights.
    pub projection: String,
    /// Name of the presynaptic layer.
    pub pre: String,
    /// Name of the postsynaptic layer.
    pub post: String,
    /// Size of the presynaptic layer; every `pre_ids[k]` is below it.
    pub n_pre: u64,
    /// Size of the postsynaptic layer; every `post_ids[k]` is below it.
    pub n_post: u64,
    /// Presynaptic neuron of each synapse.
    pub pre_ids: Vec<u32>,
    /// Postsynaptic neuron of each synapse; as long as `pre_ids` (may be empty).
    pub post_ids: Vec<u32>,
}

/// Per-sample results of a stimulus protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSpec {
    /// Name of the dataset the samples come from, e.g. `mnist`; not empty.
    pub dataset: String,
    /// Image height in pixels; at least 1.
    pub rows: u64,
    /// Image width in pixels; at least 1.
    pub cols: u64,
    /// Steps each image is presented; at least 1.
    pub steps_per_image: u64,
    /// Silent steps after each image.
    pub rest_steps: u64,
    /// Layers whose per-neuron spike counts are kept for each sample, in the
    /// order of [`Batch::Samples`](super::batch::Batch::Samples)' `counts`;
    /// names unique, may be empty.
    pub layers: Vec<SpikeLayer>,
}

/// Everything a file will hold besides the header. Batch indices
/// (`layer`, `trace`, `rate`, `weights`) index these lists.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// Layers whose spikes are recorded (`/spikes`).
    pub spikes: Vec<SpikeLayer>,
    /// Recorded state variables (`/report`).
    pub traces: Vec<TraceSpec>,
    /// Binned population rates (`/rates`).
    pub rates: Vec<RateSpec>,
    /// Projections whose weights are snapshotted (`/weights`).
    pub weights: Vec<WeightSpec>,
    /// Per-sample results (`/samples`); `None` for runs without a protocol.
    pub samples: Option<SampleSpec>,
    /// Which datasets are compressed (`record.compress`); the large
    /// [`Batch::Dataset`](super::batch::Batch::Dataset)s count as datasets
    /// only spikesim reads.
    pub compress: Compression,
}

/// Checks the setup before anything is opened; returns why it is unusable.
pub fn validate(header: &RunHeader, layout: &Layout) -> Result<(), String> {
    let Layout {
        spikes: layers,
        traces,
        rates,
        weights,
        samples,
        compress: _,
    } = layout;
    if !(header.dt_ms.is_finite() && header.dt_ms > 0.0) {
        return Err(format!(
            "dt_ms must be finite and positive, got {}",
            header.dt_ms
        ));
    }
    let mut seen = HashSet::new();
    for layer in layers {
        schema::check_name(&layer.name).map_err(|e| format!("spike layer {e}"))?;
        if !seen.insert(layer.name.as_str()) {
            return Err(format!("spike layer {:?} is listed twice", layer.name));
        }
    }
    let mut seen = HashSet::new();
    for trace in traces {
        schema::check_name(&trace.layer).map_err(|e| format!("trace layer {e}"))?;
        schema::check_name(&trace.var).map_err(|e| format!("trace variable {e}"))?;
        let label = format!("{}/{}", trace.layer, trace.var);
        if !seen.insert((trace.layer.as_str(), trace.var.as_str())) {
            return Err(format!("trace {label} is listed twice"));
        }
        if trace.node_ids.is_empty() {
            return Err(format!(
                "trace {label} records no neurons (node_ids is empty)"
            ));
        }
        if trace.every == 0 {
            return Err(format!("trace {label}: every must be at least 1 step"));
        }
    }
    let mut seen = HashSet::new();
    for rate in rates {
        schema::check_name(&rate.layer).map_err(|e| format!("rate layer {e}"))?;
        if !seen.insert(rate.layer.as_str()) {
            return Err(format!("rate of layer {:?} is listed twice", rate.layer));
        }
        if rate.bin_steps == 0 {
            return Err(format!(
                "rate of layer {}: bin_steps must be at least 1 step",
                rate.layer
            ));
        }
    }
    let mut seen = HashSet::new();
    for w in weights {
        schema::check_name(&w.projection).map_err(|e| format!("weight projection {e}"))?;
        let name = &w.projection;
        if !seen.insert(name.as_str()) {
            return Err(format!("weights of projection {name:?} are listed twice"));
        }
        schema::check_name(&w.pre).map_err(|e| format!("weights of {name}: pre layer {e}"))?;
        schema::check_name(&w.post).map_err(|e| format!("weights of {name}: post layer {e}"))?;
        if w.pre_ids.len() != w.post_ids.len() {
            return Err(format!(
                "weights of {name}: {} pre_ids but {} post_ids",
                w.pre_ids.len(),
                w.post_ids.len()
            ));
        }
        let ids = w.pre_ids.iter().zip(&w.post_ids).enumerate();
        for (k, (&pre, &post)) in ids {
            if u64::from(pre) >= w.n_pre {
                return Err(format!(
                    "weights of {name}: synapse {k} has pre id {pre}, out of range for \
                     layer {} of {} neurons",
                    w.pre, w.n_pre
                ));
            }
            if u64::from(post) >= w.n_post {
                return Err(format!(
                    "weights of {name}: synapse {k} has post id {post}, out of range for \
                     layer {} of {} neurons",
                    w.post, w.n_post
                ));
            }
        }
    }
    if let Some(spec) = samples {
        if spec.dataset.is_empty() || spec.dataset.contains('\0') {
            return Err(format!(
                "samples: dataset name {:?} is empty or contains a NUL character",
                spec.dataset
            ));
        }
        for (what, value) in [
            ("rows", spec.rows),
            ("cols", spec.cols),
            ("steps_per_image", spec.steps_per_image),
        ] {
            if value == 0 {
                return Err(format!("samples: {what} must be at least 1"));
            }
        }
        let mut seen = HashSet::new();
        for layer in &spec.layers {
            schema::check_name(&layer.name).map_err(|e| format!("samples: layer {e}"))?;
            if !seen.insert(layer.name.as_str()) {
                return Err(format!("samples: layer {:?} is listed twice", layer.name));
            }
        }
    }
    Ok(())
}
