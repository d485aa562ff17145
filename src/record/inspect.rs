//! The read side: a summary of a finished (or interrupted) output file, for
//! `spikesim inspect FILE`.
//!
//! Call it only when no [`Writer`](super::writer::Writer) of this process is
//! running: HDF5 calls are serialised process-wide, and a file still being
//! written may not be readable yet.

use std::fmt;
use std::path::Path;

use hdf5::types::{FloatSize, TypeDescriptor, VarLenAscii, VarLenUnicode};
use hdf5::{
    Attribute, Container, File, Group, IndexType, IterationOrder, Location, MinorErrorCode,
};

use crate::record::checkpoint::type_name;
use crate::record::schema;
use crate::record::writer::{DATASET_ROOTS, RecordError};

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
    /// [`Block::Dataset`](super::writer::Block::Dataset)), depth first in the
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
    pub name: String,
    /// Neurons in the layer (the group's `n_nodes` attribute).
    pub n_nodes: u64,
    pub n_spikes: u64,
    /// `n_spikes / (n_nodes · duration_s)`; 0 when the layer is empty or the
    /// run has no duration.
    pub mean_rate_hz: f64,
}

/// Shape of one binned population rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSummary {
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
    pub layer: String,
    pub var: String,
    /// Recorded neurons (columns of `data`).
    pub n_recorded: u64,
    /// Frames (rows of `data`).
    pub n_frames: u64,
    pub units: String,
}

/// Reads the summary of the spikesim output file at `path`.
///
/// Fails with a one-line error for a missing file ([`RecordError::NotFound`]),
/// a file that is not HDF5 ([`RecordError::NotHdf5`]), an HDF5 file without a
/// `schema_version` root attribute ([`RecordError::NotSpikesim`]), another
/// schema version ([`RecordError::UnsupportedSchema`]) or a spikesim file
/// missing part of the layout ([`RecordError::Read`]).
pub fn summarize(path: &Path) -> Result<Summary, RecordError> {
    let file = open_spikesim(path)?;
    read_summary(&file).map_err(|reason| RecordError::Read {
        path: path.to_owned(),
        reason,
    })
}

/// Opens the spikesim output file at `path` for reading, with the checks of
/// [`summarize`]: it exists, is HDF5, has a `schema_version` root attribute
/// and that version is [`schema::SCHEMA_VERSION`].
pub(crate) fn open_spikesim(path: &Path) -> Result<File, RecordError> {
    let read_error = |reason: String| RecordError::Read {
        path: path.to_owned(),
        reason,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RecordError::NotFound {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(read_error(e.to_string())),
        Ok(meta) if meta.is_dir() => return Err(read_error("it is a directory".to_owned())),
        Ok(_) => {}
    }
    let file = File::open(path).map_err(|e| {
        if e.contains_minor(MinorErrorCode::NotHdf5) {
            RecordError::NotHdf5 {
                path: path.to_owned(),
            }
        } else {
            read_error(e.to_string())
        }
    })?;

    let Ok(version_attr) = file.attr(schema::ATTR_SCHEMA_VERSION) else {
        return Err(RecordError::NotSpikesim {
            path: path.to_owned(),
        });
    };
    let version = render_attr(&version_attr)
        .map_err(|e| read_error(format!("attribute {}: {e}", schema::ATTR_SCHEMA_VERSION)))?;
    if version != schema::SCHEMA_VERSION {
        return Err(RecordError::UnsupportedSchema {
            path: path.to_owned(),
            found: version,
        });
    }
    Ok(file)
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
    if let Some(group) = optional_group(file, schema::WEIGHTS_GROUP)? {
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

/// The value of a scalar dataset or attribute as text, in its own type (an
/// f32 0.8312 prints as `0.8312`, not as its f64 widening).
fn render_scalar(c: &Container, dtype: &TypeDescriptor) -> hdf5::Result<String> {
    Ok(match dtype {
        TypeDescriptor::Float(FloatSize::U4) => c.read_scalar::<f32>()?.to_string(),
        TypeDescriptor::Float(_) => c.read_scalar::<f64>()?.to_string(),
        TypeDescriptor::Unsigned(_) => c.read_scalar::<u64>()?.to_string(),
        TypeDescriptor::Integer(_) => c.read_scalar::<i64>()?.to_string(),
        TypeDescriptor::Boolean => c.read_scalar::<bool>()?.to_string(),
        TypeDescriptor::VarLenUnicode => c.read_scalar::<VarLenUnicode>()?.as_str().to_owned(),
        TypeDescriptor::VarLenAscii => c.read_scalar::<VarLenAscii>()?.as_str().to_owned(),
        other => format!("<{other}>"),
    })
}

/// Root attributes as text: the known ones in schema order, then the rest by name.
fn root_attrs(file: &File) -> Result<Vec<(String, String)>, String> {
    let names = file
        .attr_names()
        .map_err(|e| format!("root attributes: {e}"))?;
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

/// A scalar attribute as text, whatever its numeric or string type.
fn render_attr(attr: &Attribute) -> hdf5::Result<String> {
    if !attr.is_scalar() {
        return Ok(format!("<array of shape {:?}>", attr.shape()));
    }
    render_scalar(attr, &attr.dtype()?.to_descriptor()?)
}

fn scalar<T: hdf5::H5Type>(loc: &Location, name: &str) -> Result<T, String> {
    loc.attr(name)
        .and_then(|a| a.read_scalar::<T>())
        .map_err(|e| format!("attribute {name} of {}: {e}", loc.name()))
}

/// The attribute `name` of `loc`, or `None` where it does not exist.
fn optional_attr(loc: &Location, name: &str) -> Result<Option<Attribute>, String> {
    let names = loc
        .attr_names()
        .map_err(|e| format!("attributes of {}: {e}", loc.name()))?;
    if !names.iter().any(|n| n == name) {
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

/// Member names in creation order where the group tracks it (spikesim's
/// groups do), by name otherwise.
pub(crate) fn members(group: &Group) -> Result<Vec<String>, String> {
    group
        .member_names_by(IndexType::CreationOrder, IterationOrder::Increasing)
        .or_else(|_| group.member_names())
        .map_err(|e| format!("listing {}: {e}", group.name()))
}

/// `x` with at most 6 decimals and no trailing zeros: 1.7000000000000002 -> "1.7".
fn short_float(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// One section after a blank line: `title: empty` without rows, else
/// `title (counted)` and the table. `columns` are (header, right-aligned).
fn write_section(
    f: &mut fmt::Formatter<'_>,
    (title, empty, counted): (&str, &str, String),
    columns: &[(&str, bool)],
    rows: Vec<Vec<String>>,
) -> fmt::Result {
    writeln!(f)?;
    if rows.is_empty() {
        return writeln!(f, "{title}: {empty}");
    }
    writeln!(f, "{title} ({counted})")?;
    let headers: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let right: Vec<bool> = columns.iter().map(|c| c.1).collect();
    write_table(f, &headers, &right, &rows)
}

/// Writes an indented table; `right[i]` right-aligns column `i` (numbers).
fn write_table(
    f: &mut fmt::Formatter<'_>,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) -> fmt::Result {
    let widths: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::from(" ");
        for (c, cell) in row.iter().enumerate() {
            let w = widths[c];
            if right[c] {
                line.push_str(&format!(" {cell:>w$}"));
            } else {
                line.push_str(&format!(" {cell:<w$}"));
            }
            line.push(' ');
        }
        writeln!(f, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `n thing` or `n things`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("{n} {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

impl Summary {
    /// The completion status as one line: `complete: yes`, `complete: no
    /// (stopped after N of M steps: reason)`, or, for a file whose writer never
    /// ended, `complete: no (interrupted, or still being written)`.
    pub fn status_line(&self) -> String {
        if self.complete {
            return "complete: yes".to_owned();
        }
        let Some(done) = self.steps_done else {
            return "complete: no (interrupted, or still being written)".to_owned();
        };
        let stopped = format!("stopped after {done} of {} steps", self.steps);
        match &self.error {
            Some(reason) => format!("complete: no ({stopped}: {})", reason.replace('\n', " ")),
            None => format!("complete: no ({stopped})"),
        }
    }
}

impl fmt::Display for Summary {
    /// A readable multi-line text: the completion status, header attributes,
    /// the duration, a table of spike layers (name, neurons, spikes, mean rate
    /// in Hz), then the traces, rates, weight snapshots and samples, and last
    /// (where the file has any) the datasets below `/results` and `/state`:
    /// scalars as `path = value`, arrays as `path  dtype [shape]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.status_line())?;
        writeln!(f)?;
        // The status line already says these.
        let shown = [
            schema::ATTR_COMPLETE,
            schema::ATTR_STEPS_DONE,
            schema::ATTR_ERROR,
        ];
        let duration = ("duration_ms".to_owned(), short_float(self.duration_ms));
        let lines: Vec<&(String, String)> = self
            .attrs
            .iter()
            .filter(|(k, _)| !shown.contains(&k.as_str()))
            .chain([&duration])
            .collect();
        let key_width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, value) in lines {
            writeln!(f, "{key:<key_width$}  {value}")?;
        }

        let layers = self.layers.iter().map(|l| {
            let rate = format!("{:.2}", l.mean_rate_hz);
            vec![
                l.name.clone(),
                l.n_nodes.to_string(),
                l.n_spikes.to_string(),
                rate,
            ]
        });
        write_section(
            f,
            (
                "spikes",
                "no layers recorded",
                count(self.layers.len(), "layer"),
            ),
            &[
                ("layer", false),
                ("neurons", true),
                ("spikes", true),
                ("mean rate (Hz)", true),
            ],
            layers.collect(),
        )?;
        let traces = self.traces.iter().map(|t| {
            let (n, frames) = (t.n_recorded.to_string(), t.n_frames.to_string());
            vec![t.layer.clone(), t.var.clone(), n, frames, t.units.clone()]
        });
        write_section(
            f,
            ("traces", "none recorded", self.traces.len().to_string()),
            &[
                ("layer", false),
                ("variable", false),
                ("neurons", true),
                ("frames", true),
                ("units", false),
            ],
            traces.collect(),
        )?;
        let rates = self.rates.iter().map(|r| {
            let (n, bins) = (r.n_nodes.to_string(), r.bins.to_string());
            vec![r.layer.clone(), n, bins, short_float(r.bin_ms)]
        });
        write_section(
            f,
            ("rates", "none recorded", count(self.rates.len(), "layer")),
            &[
                ("layer", false),
                ("neurons", true),
                ("bins", true),
                ("bin (ms)", true),
            ],
            rates.collect(),
        )?;
        let weights = self.weights.iter().map(|w| {
            let (n, snaps) = (w.synapses.to_string(), w.snapshots.to_string());
            vec![
                w.projection.clone(),
                format!("{} -> {}", w.pre, w.post),
                n,
                snaps,
            ]
        });
        write_section(
            f,
            (
                "weights",
                "none recorded",
                count(self.weights.len(), "projection"),
            ),
            &[
                ("projection", false),
                ("pre -> post", false),
                ("synapses", true),
                ("snapshots", true),
            ],
            weights.collect(),
        )?;

        writeln!(f)?;
        match &self.samples {
            None => writeln!(f, "samples: none recorded")?,
            Some(s) => {
                let layers = if s.layers.is_empty() {
                    "no per-neuron counts".to_owned()
                } else {
                    format!("counts of {}", s.layers.join(", "))
                };
                writeln!(f, "samples: {} from {} ({layers})", s.count, s.dataset)?;
            }
        }

        // Files without results or state (all but trained runs) end above.
        if !self.datasets.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "results and state ({})",
                count(self.datasets.len(), "dataset")
            )?;
            for d in &self.datasets {
                match &d.value {
                    Some(value) => writeln!(f, "  {} = {value}", d.path)?,
                    None => {
                        let dims: Vec<String> = d.shape.iter().map(u64::to_string).collect();
                        writeln!(f, "  {}  {} [{}]", d.path, d.dtype, dims.join(", "))?
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::writer::tests::{
        TempPath, layout, sample_layout, send_sample, write_sample,
    };
    use crate::record::writer::{RunHeader, SpikeLayer, Writer};

    #[test]
    fn summary_of_the_sample_file() {
        // The sample (see `write_sample`): dt 0.1 ms, 17 steps simulated, so
        // duration = 17 * 0.1 = 1.7 ms = 0.0017 s. `input`: 4 neurons, 6 spikes,
        // rate 6 / (4 * 0.0017) = 882.35 Hz. `exc`: 3 neurons, 0 spikes, 0 Hz.
        // Trace input/voltage: 2 neurons, 5 frames, mV.
        let tmp = TempPath::new("summary");
        write_sample(&tmp.0);
        let summary = summarize(&tmp.0).unwrap();

        let duration_ms = 17.0 * 0.1;
        assert_eq!(summary.duration_ms, duration_ms);
        assert!(summary.complete);
        assert_eq!(
            (summary.steps, summary.steps_done, &summary.error),
            (17, Some(17), &None)
        );
        // A complete file has every root attribute but `error`.
        let keys: Vec<&str> = summary.attrs.iter().map(|(k, _)| k.as_str()).collect();
        let expected: Vec<&str> = schema::ROOT_ATTR_ORDER
            .into_iter()
            .filter(|k| *k != schema::ATTR_ERROR)
            .collect();
        assert_eq!(keys, expected);
        let attr = |k: &str| {
            summary
                .attrs
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(attr("steps"), "17");
        assert_eq!(attr("steps_done"), "17");
        assert_eq!(attr("dt_ms"), "0.1");
        assert_eq!(attr("seed"), 0xDEAD_BEEF_1234u64.to_string());
        assert_eq!(attr("complete"), "yes");
        assert_eq!(attr("schema_version"), "1");

        assert_eq!(summary.layers.len(), 2);
        let input = &summary.layers[0];
        assert_eq!(
            (input.name.as_str(), input.n_nodes, input.n_spikes),
            ("input", 4, 6)
        );
        let expected_rate = 6.0 / (4.0 * 0.0017);
        assert!((input.mean_rate_hz - expected_rate).abs() < 1e-9 * expected_rate);
        let exc = &summary.layers[1];
        assert_eq!(
            (exc.name.as_str(), exc.n_nodes, exc.n_spikes),
            ("exc", 3, 0)
        );
        assert_eq!(exc.mean_rate_hz, 0.0);

        assert_eq!(
            summary.traces,
            vec![TraceSummary {
                layer: "input".to_owned(),
                var: "voltage".to_owned(),
                n_recorded: 2,
                n_frames: 5,
                units: "mV".to_owned(),
            }]
        );

        // Rates: input in 5-step bins (0.5 ms), 4 bins; exc in 10-step bins
        // (1.0 ms), none sent. Weights: input_exc 4 synapses × 3 snapshots,
        // exc_exc 0 × 2. Samples: 3 from synthetic, counts of exc and input.
        assert_eq!(
            summary.rates,
            vec![
                RateSummary {
                    layer: "input".to_owned(),
                    n_nodes: 4,
                    bins: 4,
                    bin_ms: 5.0 * 0.1,
                },
                RateSummary {
                    layer: "exc".to_owned(),
                    n_nodes: 3,
                    bins: 0,
                    bin_ms: 10.0 * 0.1,
                },
            ]
        );
        let weight = |projection: &str, pre: &str, synapses, snapshots| WeightSummary {
            projection: projection.to_owned(),
            pre: pre.to_owned(),
            post: "exc".to_owned(),
            synapses,
            snapshots,
        };
        assert_eq!(
            summary.weights,
            vec![
                weight("input_exc", "input", 4, 3),
                weight("exc_exc", "exc", 0, 2)
            ]
        );
        assert_eq!(
            summary.samples,
            Some(SampleSummary {
                dataset: "synthetic".to_owned(),
                count: 3,
                layers: vec!["exc".to_owned(), "input".to_owned()],
            })
        );

        let text = summary.to_string();
        assert!(text.starts_with("complete: yes\n"), "{text}");
        assert!(!text.contains("config_toml"), "{text}");
        assert!(!text.contains("steps_done"), "{text}");
        assert!(text.contains("duration_ms       1.7\n"), "{text}");
        assert!(
            text.contains("  layer  neurons  spikes  mean rate (Hz)\n"),
            "{text}"
        );
        assert!(
            text.contains("  input        4       6          882.35\n"),
            "{text}"
        );
        assert!(
            text.contains("  exc          3       0            0.00\n"),
            "{text}"
        );
        assert!(
            text.contains("  input  voltage         2       5  mV\n"),
            "{text}"
        );
        assert!(text.contains("rates (2 layers)\n"), "{text}");
        assert!(
            text.contains("  layer  neurons  bins  bin (ms)\n"),
            "{text}"
        );
        assert!(
            text.contains("  input        4     4       0.5\n"),
            "{text}"
        );
        assert!(
            text.contains("  exc          3     0         1\n"),
            "{text}"
        );
        assert!(text.contains("weights (2 projections)\n"), "{text}");
        assert!(
            text.contains("  input_exc   input -> exc         4          3\n"),
            "{text}"
        );
        assert!(
            text.contains("  exc_exc     exc -> exc           0          2\n"),
            "{text}"
        );
        assert!(
            text.ends_with("samples: 3 from synthetic (counts of exc, input)\n"),
            "{text}"
        );
    }

    #[test]
    fn summary_of_an_aborted_file() {
        // The sample's blocks, aborted after 17 of 20 planned steps. steps keeps
        // the planned 20; the duration is the simulated 17 * 0.1 = 1.7 ms, so
        // input's rate is 6 / (4 * 0.0017) = 882.35 Hz as in the finished file.
        let tmp = TempPath::new("summary-aborted");
        let header = RunHeader {
            spikesim_version: "0.1.0-test".to_owned(),
            seed: 7,
            dt_ms: 0.1,
            steps: 20,
            threads: 1,
            config_toml: String::new(),
        };
        let writer = Writer::create(&tmp.0, &header, &sample_layout(), 4).unwrap();
        send_sample(&writer);
        writer.abort(17, "interrupted (SIGINT)").unwrap();

        let summary = summarize(&tmp.0).unwrap();
        assert!(!summary.complete);
        assert_eq!(summary.steps, 20);
        assert_eq!(summary.steps_done, Some(17));
        assert_eq!(summary.error.as_deref(), Some("interrupted (SIGINT)"));
        assert_eq!(summary.duration_ms, 17.0 * 0.1);
        assert_eq!(summary.layers[0].n_spikes, 6);
        let expected_rate = 6.0 / (4.0 * 0.0017);
        assert!((summary.layers[0].mean_rate_hz - expected_rate).abs() < 1e-9 * expected_rate);
        // Every block sent is counted.
        assert_eq!(summary.rates[0].bins, 4);
        assert_eq!(summary.weights[0].snapshots, 3);
        assert_eq!(summary.samples.as_ref().unwrap().count, 3);

        let text = summary.to_string();
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "complete: no (stopped after 17 of 20 steps: interrupted (SIGINT))"
        );
        assert!(text.contains("\nsteps             20\n"), "{text}");
        assert!(text.contains("\nduration_ms       1.7\n"), "{text}");
        let attr = |k: &str| {
            summary
                .attrs
                .iter()
                .find(|(n, _)| n == k)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(attr("complete"), "no");
        assert_eq!(attr("error"), "interrupted (SIGINT)");
    }

    #[test]
    fn summary_of_a_file_whose_writer_never_ended() {
        // Dropped without finish or abort (as a killed process leaves it, once
        // flushed): no steps_done, so the duration is the planned 10 * 0.1 ms, and
        // no /samples group. It still reads, and says it is incomplete.
        let tmp = TempPath::new("summary-dropped");
        let header = RunHeader {
            spikesim_version: "0.1.0-test".to_owned(),
            seed: 7,
            dt_ms: 0.1,
            steps: 10,
            threads: 1,
            config_toml: String::new(),
        };
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 2,
        }];
        drop(Writer::create(&tmp.0, &header, &layout(&layers, &[]), 1).unwrap());
        let summary = summarize(&tmp.0).unwrap();
        assert!(!summary.complete);
        assert_eq!((summary.steps_done, summary.error.as_deref()), (None, None));
        assert_eq!(summary.duration_ms, 10.0 * 0.1);
        assert!(summary.rates.is_empty() && summary.weights.is_empty());
        assert_eq!(summary.samples, None);
        let text = summary.to_string();
        assert!(
            text.starts_with("complete: no (interrupted, or still being written)\n"),
            "{text}"
        );
        assert!(text.contains("rates: none recorded\n"), "{text}");
        assert!(text.contains("weights: none recorded\n"), "{text}");
        assert!(text.ends_with("samples: none recorded\n"), "{text}");
    }

    #[test]
    fn files_from_before_rates_weights_and_samples_still_read() {
        // A schema-1 file written before /rates and /weights existed: delete them
        // from a fresh file; the summary has no rates or weights and no error.
        let tmp = TempPath::new("summary-old");
        write_sample(&tmp.0);
        {
            let file = File::open_rw(&tmp.0).unwrap();
            for group in ["rates", "weights", "samples"] {
                file.unlink(group).unwrap();
            }
            file.delete_attr("steps_done").unwrap();
        }
        let summary = summarize(&tmp.0).unwrap();
        assert!(summary.complete);
        assert!(summary.rates.is_empty() && summary.weights.is_empty());
        assert_eq!((summary.samples, summary.steps_done), (None, None));
        assert_eq!(summary.layers.len(), 2);
        assert_eq!(summary.duration_ms, 17.0 * 0.1);
    }

    #[test]
    fn unreadable_files_give_one_line_errors() {
        let missing = TempPath::new("missing");
        let err = summarize(&missing.0).unwrap_err();
        assert!(matches!(err, RecordError::NotFound { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&missing.0.display().to_string()),
            "{err}"
        );

        let text = TempPath::new("text");
        std::fs::write(&text.0, "this is not HDF5\n").unwrap();
        let err = summarize(&text.0).unwrap_err();
        assert!(matches!(err, RecordError::NotHdf5 { .. }), "{err:?}");
        assert!(err.to_string().ends_with("not an HDF5 file"), "{err}");

        let empty = TempPath::new("empty");
        std::fs::write(&empty.0, "").unwrap();
        let err = summarize(&empty.0).unwrap_err();
        assert!(matches!(err, RecordError::NotHdf5 { .. }), "{err:?}");

        // A valid HDF5 file, but not ours: no schema_version.
        let foreign = TempPath::new("foreign");
        File::create(&foreign.0)
            .unwrap()
            .new_attr::<u64>()
            .shape(())
            .create("x")
            .unwrap();
        let err = summarize(&foreign.0).unwrap_err();
        assert!(matches!(err, RecordError::NotSpikesim { .. }), "{err:?}");
        assert!(
            err.to_string().contains("not a spikesim output file"),
            "{err}"
        );

        // Ours, from the future.
        let future = TempPath::new("future");
        {
            let file = File::create(&future.0).unwrap();
            let v: VarLenUnicode = "2".parse().unwrap();
            let attr = file
                .new_attr::<VarLenUnicode>()
                .shape(())
                .create("schema_version");
            attr.unwrap().write_scalar(&v).unwrap();
        }
        let err = summarize(&future.0).unwrap_err();
        assert!(
            matches!(err, RecordError::UnsupportedSchema { .. }),
            "{err:?}"
        );

        for err in [
            summarize(&missing.0),
            summarize(&text.0),
            summarize(&foreign.0),
        ] {
            assert!(!err.unwrap_err().to_string().contains('\n'));
        }
    }

    #[test]
    fn summary_lists_results_and_state() {
        // The sample plus datasets: a scalar f64 accuracy, a scalar f32 and a
        // scalar u64, a 2-D u32 confusion matrix, θ (f32 [3]) and an i32 vector.
        use crate::record::writer::{Attr, Block, Values};
        let tmp = TempPath::new("summary-datasets");
        let writer = Writer::create(&tmp.0, &header(), &sample_layout(), 4).unwrap();
        send_sample(&writer);
        let blocks = [
            (
                "results/evaluate/accuracy",
                vec![],
                Values::F64(vec![0.8312]),
            ),
            (
                "results/evaluate/confusion",
                vec![2, 2],
                Values::U32(vec![5, 1, 0, 4]),
            ),
            ("results/evaluate/rate", vec![], Values::F32(vec![0.8312])),
            ("results/evaluate/count", vec![], Values::U64(vec![10])),
            ("state/theta/exc", vec![3], Values::F32(vec![0.0; 3])),
            (
                "results/assignments/exc",
                vec![3],
                Values::I32(vec![1, -1, 0]),
            ),
        ];
        for (path, shape, values) in blocks {
            writer
                .send(Block::Dataset {
                    path: path.to_owned(),
                    shape,
                    values,
                    attrs: vec![("units".to_owned(), Attr::Str("1".to_owned()))],
                })
                .unwrap();
        }
        writer.finish(17).unwrap();

        let summary = summarize(&tmp.0).unwrap();
        let d = |path: &str, dtype: &str, shape: Vec<u64>, value: Option<&str>| DatasetSummary {
            path: path.to_owned(),
            dtype: dtype.to_owned(),
            shape,
            value: value.map(str::to_owned),
        };
        // results/ first, depth first in the order written, then state/.
        assert_eq!(
            summary.datasets,
            vec![
                d(
                    "results/evaluate/accuracy",
                    "float64",
                    vec![],
                    Some("0.8312")
                ),
                d("results/evaluate/confusion", "uint32", vec![2, 2], None),
                d("results/evaluate/rate", "float32", vec![], Some("0.8312")),
                d("results/evaluate/count", "uint64", vec![], Some("10")),
                d("results/assignments/exc", "int32", vec![3], None),
                d("state/theta/exc", "float32", vec![3], None),
            ]
        );
        let text = summary.to_string();
        let expected = "samples: 3 from synthetic (counts of exc, input)\n\n\
                        results and state (6 datasets)\n\
                        \x20 results/evaluate/accuracy = 0.8312\n\
                        \x20 results/evaluate/confusion  uint32 [2, 2]\n\
                        \x20 results/evaluate/rate = 0.8312\n\
                        \x20 results/evaluate/count = 10\n\
                        \x20 results/assignments/exc  int32 [3]\n\
                        \x20 state/theta/exc  float32 [3]\n";
        assert!(text.ends_with(expected), "{text}");
    }

    fn header() -> RunHeader {
        RunHeader {
            spikesim_version: "0.1.0-test".to_owned(),
            seed: 7,
            dt_ms: 0.1,
            steps: 20,
            threads: 1,
            config_toml: String::new(),
        }
    }

    #[test]
    fn short_float_trims() {
        assert_eq!(short_float(17.0 * 0.1), "1.7");
        assert_eq!(short_float(200.0), "200");
        assert_eq!(short_float(0.0), "0");
    }
}
