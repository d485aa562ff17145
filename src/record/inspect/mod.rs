//! The read side: a summary of a finished (or interrupted) output file, for
//! `spikesim inspect FILE`.
//!
//! Call it only when no [`Writer`](super::writer::Writer) of this process is
//! running: HDF5 calls are serialised process-wide, and a file still being
//! written may not be readable yet.

#[cfg(test)]
mod tests;
mod text;

use std::path::Path;

use hdf5::{Attribute, File, Group, Location};

use crate::record::error::ReadError;
use crate::record::read::{
    attr_names, members, open_spikesim, render_attr, render_scalar, type_name,
};
use crate::record::schema::{self, DATASET_ROOTS};

/// What `spikesim inspect` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Root attributes rendered as text, `config_toml` excluded: the ones of
    /// [`schema::ROOT_ATTR_ORDER`] in that order, then any others by name.
    /// `complete` reads `yes` or `no`.
    pub attrs: Vec<(String, String)>,
    /// Whether the writer finished cleanly (root attribute `complete` = 1).
    pub complete: bool,
    /// The root attribute `steps`: the steps simulated in a complete file, the
    /// planned steps in an incomplete one.
    pub steps: u64,
    /// Steps simulated, where the writer recorded it (`finish` and `abort`
    /// do; a killed process leaves none).
    pub steps_done: Option<u64>,
    /// Why the run stopped early, where recorded.
    pub error: Option<String>,
    /// `steps_done · dt_ms` (`steps · dt_ms` where `steps_done` is missing).
    pub duration_ms: f64,
    /// One entry per spike layer, in the order of the run's configuration.
    pub layers: Vec<LayerSummary>,
    /// One entry per recorded trace, in the order of the run's configuration.
    pub traces: Vec<TraceSummary>,
    /// One entry per recorded population rate, in configuration order.
    pub rates: Vec<RateSummary>,
    /// One entry per projection with weight snapshots, in configuration order.
    pub weights: Vec<WeightSummary>,
    /// The per-sample results, for runs with a stimulus protocol.
    pub samples: Option<SampleSummary>,
    /// Every dataset below `/results` and `/state` (written by
    /// [`Batch::Dataset`](super::batch::Batch::Dataset)), depth first in the
    /// order written.
    pub datasets: Vec<DatasetSummary>,
}

/// One dataset below `/results` or `/state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetSummary {
    /// Path below the root, e.g. `results/evaluate/accuracy`.
    pub path: String,
    /// Element type as numpy names it: `float64`, `float32`, `uint32`, `int32`, ...
    pub dtype: String,
    /// Shape; empty for a scalar.
    pub shape: Vec<u64>,
    /// A scalar's value as text (floats in their shortest exact form);
    /// `None` for arrays.
    pub value: Option<String>,
}

/// Spike counts of one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSummary {
    /// Layer name.
    pub name: String,
    /// Neurons in the layer (the group's `n_nodes` attribute).
    pub n_nodes: u64,
    /// Spikes recorded.
    pub n_spikes: u64,
    /// `n_spikes / (n_nodes · duration_s)`; 0 when the layer is empty or the
    /// run has no duration.
    pub mean_rate_hz: f64,
}

/// Shape of one binned population rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSummary {
    /// Layer name.
    pub layer: String,
    /// Neurons in the layer (the group's `n_nodes` attribute).
    pub n_nodes: u64,
    /// Bins written (length of `counts`).
    pub bins: u64,
    /// Width of a bin in ms.
    pub bin_ms: f64,
}

/// Shape of one projection's weight snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightSummary {
    /// Projection name.
    pub projection: String,
    /// Presynaptic layer.
    pub pre: String,
    /// Postsynaptic layer.
    pub post: String,
    /// Synapses (columns of `data`).
    pub synapses: u64,
    /// Snapshots (rows of `data`).
    pub snapshots: u64,
}

/// Extent of the per-sample results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSummary {
    /// The dataset the samples come from.
    pub dataset: String,
    /// Samples written.
    pub count: u64,
    /// Layers whose per-neuron counts are kept, in configuration order.
    pub layers: Vec<String>,
}

/// Shape of one recorded trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSummary {
    /// Layer name.
    pub layer: String,
    /// Recorded variable.
    pub var: String,
    /// Recorded neurons (columns of `data`).
    pub n_recorded: u64,
    /// Frames (rows of `data`).
    pub n_frames: u64,
    /// The data's `units` attribute.
    pub units: String,
}

/// Reads the summary of the spikesim output file at `path`.
///
/// Fails with a one-line error for a missing file ([`ReadError::NotFound`]),
/// a file that is not HDF5 ([`ReadError::NotHdf5`]), an HDF5 file without a
/// `schema_version` root attribute ([`ReadError::NotSpikesim`]), another
/// schema version ([`ReadError::UnsupportedSchema`]) or a spikesim file
/// missing part of the layout ([`ReadError::Read`]).
pub fn summarize(path: &Path) -> Result<Summary, ReadError> {
    let file = open_spikesim(path)?;
    read_summary(&file).map_err(|reason| ReadError::Read {
        path: path.to_owned(),
        reason,
    })
}

/// Everything after the checks of `summarize`; errors are reasons.
fn read_summary(file: &File) -> Result<Summary, String> {
    let attrs = root_attrs(file)?;
    let dt_ms: f64 = scalar(file, schema::ATTR_DT_MS)?;
    let steps: u64 = scalar(file, schema::ATTR_STEPS)?;
    let complete = scalar::<u8>(file, schema::ATTR_COMPLETE)? == 1;
    let steps_done: Option<u64> = optional_scalar(file, schema::ATTR_STEPS_DONE)?;
    let error = match optional_attr(file, schema::ATTR_ERROR)? {
        None => None,
        Some(attr) => {
            Some(render_attr(&attr).map_err(|e| format!("attribute {}: {e}", schema::ATTR_ERROR))?)
        }
    };
    let duration_ms = steps_done.unwrap_or(steps) as f64 * dt_ms;
    let duration_s = duration_ms / 1000.0;

    let spikes = open_group(file, schema::SPIKES_GROUP)?;
    let mut layers = Vec::new();
    for name in members(&spikes)? {
        let group = open_group(&spikes, &name)?;
        let n_nodes: u64 = scalar(&group, schema::ATTR_N_NODES)?;
        let node_ids = group
            .dataset(schema::DS_NODE_IDS)
            .map_err(|e| format!("{}/{}: {e}", group.name(), schema::DS_NODE_IDS))?;
        let n_spikes = node_ids.size() as u64;
        let mean_rate_hz = if n_nodes == 0 || duration_s <= 0.0 {
            0.0
        } else {
            n_spikes as f64 / (n_nodes as f64 * duration_s)
        };
        layers.push(LayerSummary {
            name,
            n_nodes,
            n_spikes,
            mean_rate_hz,
        });
    }

    let report = open_group(file, schema::REPORT_GROUP)?;
    let mut traces = Vec::new();
    for layer in members(&report)? {
        let layer_group = open_group(&report, &layer)?;
        for var in members(&layer_group)? {
            let group = open_group(&layer_group, &var)?;
            let data = group
                .dataset(schema::DS_DATA)
                .map_err(|e| format!("{}/{}: {e}", group.name(), schema::DS_DATA))?;
            let shape = data.shape();
            let [n_frames, n_recorded] = shape[..] else {
                return Err(format!(
                    "{} has shape {shape:?}, expected 2 dimensions",
                    data.name()
                ));
            };
            let units = data
                .attr(schema::ATTR_UNITS)
                .and_then(|a| render_attr(&a))
                .map_err(|e| format!("{}: attribute {}: {e}", data.name(), schema::ATTR_UNITS))?;
            traces.push(TraceSummary {
                layer: layer.clone(),
                var,
                n_recorded: n_recorded as u64,
                n_frames: n_frames as u64,
                units,
            });
        }
    }

    // `/rates`, `/weights` and `/samples` are absent from files written
    // before they were added to schema version 1.
    let mut rates = Vec::new();
    if let Some(group) = optional_group(file, schema::RATES_GROUP)? {
        for layer in members(&group)? {
            let g = open_group(&group, &layer)?;
            rates.push(RateSummary {
                n_nodes: scalar(&g, schema::ATTR_N_NODES)?,
                bins: dataset_len(&g, schema::DS_COUNTS)?,
                bin_ms: scalar(&g, schema::ATTR_BIN_MS)?,
                layer,
            });
        }
    }

    let mut weights = Vec::new();
    if let Some(group) = optional_group(file, schema::WEIGHT_SNAPSHOTS_GROUP)? {
        for projection in members(&group)? {
            let g = open_group(&group, &projection)?;
            weights.push(WeightSummary {
                pre: string_attr(&g, schema::ATTR_PRE)?,
                post: string_attr(&g, schema::ATTR_POST)?,
                synapses: dataset_len(&g, schema::DS_PRE_IDS)?,
                snapshots: dataset_len(&g, schema::DS_STEPS_DONE)?,
                projection,
            });
        }
    }

    let samples = match optional_group(file, schema::SAMPLES_GROUP)? {
        None => None,
        Some(g) => Some(SampleSummary {
            dataset: string_attr(&g, schema::ATTR_DATASET)?,
            count: dataset_len(&g, schema::DS_INDEX)?,
            layers: members(&open_group(&g, schema::SAMPLE_COUNTS_GROUP)?)?,
        }),
    };

    let mut datasets = Vec::new();
    for root in DATASET_ROOTS {
        if let Some(group) = optional_group(file, root)? {
            list_datasets(&group, root, &mut datasets)?;
        }
    }

    Ok(Summary {
        attrs,
        complete,
        steps,
        steps_done,
        error,
        duration_ms,
        layers,
        traces,
        rates,
        weights,
        samples,
        datasets,
    })
}

/// Appends every dataset below `group` (at `prefix`), depth first.
fn list_datasets(group: &Group, prefix: &str, out: &mut Vec<DatasetSummary>) -> Result<(), String> {
    for name in members(group)? {
        let path = format!("{prefix}/{name}");
        if let Ok(ds) = group.dataset(&name) {
            let dtype = ds
                .dtype()
                .and_then(|t| t.to_descriptor())
                .map_err(|e| format!("{path}: {e}"))?;
            let value = if ds.is_scalar() {
                Some(render_scalar(&ds, &dtype).map_err(|e| format!("{path}: {e}"))?)
            } else {
                None
            };
            out.push(DatasetSummary {
                dtype: type_name(&dtype),
                shape: ds.shape().into_iter().map(|d| d as u64).collect(),
                value,
                path,
            });
        } else {
            list_datasets(&open_group(group, &name)?, &path, out)?;
        }
    }
    Ok(())
}

/// Root attributes as text: the known ones in schema order, then the rest by name.
fn root_attrs(file: &File) -> Result<Vec<(String, String)>, String> {
    let names = attr_names(file)?;
    let known = schema::ROOT_ATTR_ORDER
        .iter()
        .copied()
        .filter(|n| names.iter().any(|m| m == n));
    let mut others: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| *n != schema::ATTR_CONFIG_TOML && !schema::ROOT_ATTR_ORDER.contains(n))
        .collect();
    others.sort_unstable();
    known
        .chain(others)
        .map(|name| {
            let attr = file
                .attr(name)
                .map_err(|e| format!("attribute {name}: {e}"))?;
            let mut value = render_attr(&attr).map_err(|e| format!("attribute {name}: {e}"))?;
            if name == schema::ATTR_COMPLETE {
                value = match value.as_str() {
                    "1" => "yes".to_owned(),
                    "0" => "no".to_owned(),
                    _ => value,
                };
            }
            Ok((name.to_owned(), value))
        })
        .collect()
}

fn scalar<T: hdf5::H5Type>(loc: &Location, name: &str) -> Result<T, String> {
    loc.attr(name)
        .and_then(|a| a.read_scalar::<T>())
        .map_err(|e| format!("attribute {name} of {}: {e}", loc.name()))
}

/// The attribute `name` of `loc`, or `None` where it does not exist.
fn optional_attr(loc: &Location, name: &str) -> Result<Option<Attribute>, String> {
    if !attr_names(loc)?.iter().any(|n| n == name) {
        return Ok(None);
    }
    loc.attr(name)
        .map(Some)
        .map_err(|e| format!("attribute {name} of {}: {e}", loc.name()))
}

fn optional_scalar<T: hdf5::H5Type>(loc: &Location, name: &str) -> Result<Option<T>, String> {
    match optional_attr(loc, name)? {
        None => Ok(None),
        Some(attr) => attr
            .read_scalar::<T>()
            .map(Some)
            .map_err(|e| format!("attribute {name} of {}: {e}", loc.name())),
    }
}

fn string_attr(loc: &Location, name: &str) -> Result<String, String> {
    loc.attr(name)
        .and_then(|a| render_attr(&a))
        .map_err(|e| format!("attribute {name} of {}: {e}", loc.name()))
}

/// Number of elements along the first dimension of dataset `name` in `group`.
fn dataset_len(group: &Group, name: &str) -> Result<u64, String> {
    let ds = group
        .dataset(name)
        .map_err(|e| format!("{}/{name}: {e}", group.name()))?;
    Ok(ds.shape().first().copied().unwrap_or(0) as u64)
}

/// The group `name` of `parent`, or `None` where there is no such link.
fn optional_group(parent: &Group, name: &str) -> Result<Option<Group>, String> {
    if parent.link_exists(name) {
        open_group(parent, name).map(Some)
    } else {
        Ok(None)
    }
}

fn open_group(parent: &Group, name: &str) -> Result<Group, String> {
    parent.group(name).map_err(|_| {
        let parent = parent.name();
        let sep = if parent.ends_with('/') { "" } else { "/" };
        format!("missing group {parent}{sep}{name}")
    })
}
