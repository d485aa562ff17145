//! A run's resume points in its HDF5 file, and reopening the file to
//! continue it.
//!
//! ```text
//! /resume/a, /resume/b     two slots, written in turn; each holds one 1-D dataset per
//!                          state column (crate::resume::state), contiguous and unfiltered
//!                          so that the next point overwrites it in place, and
//!   lengths                uint64: each growing dataset's length at the point, in layout
//!                          order (spikes, traces, rates, weights, samples)
//!   attr steps_done        uint64: the steps the point follows
//!   attr datasets          string: the whole datasets (/results, /state) written before
//!                          the point, one path a line; reopening removes the others
//!   tail_<k>               the values of filtered growing dataset k (lengths' order) past
//!                          its last whole chunk, flattened
//! ```
//!
//! Why the tails: a filtered chunk changes size as it fills, so HDF5 writes
//! it to new space at each flush and may reuse the old space; after a kill,
//! the file's metadata (of the last flush) can point a partly filled chunk
//! at space that now holds other data. Whole chunks are never rewritten. So
//! reopening cuts each filtered dataset back to its last whole chunk and
//! writes the tail again from the point, never reading a partly filled
//! chunk; unfiltered chunks are written in place and are read as they are.
//!
//! ```text
//! root attr resume_slot    "a" or "b": the slot that holds the latest whole point
//! ```
//!
//! A point goes to the slot that `resume_slot` does not name; the file is
//! flushed and synced to disk (`fsync`) before `resume_slot` names the new
//! slot, and again after. So a kill or a power loss at any moment leaves
//! `resume_slot` naming a whole point, and the datasets hold at least that
//! point's lengths.

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenUnicode};
use hdf5::{Dataset, File, Group, H5Type};

use super::datasets::{child_group, h5_string, set_attr};
use super::{Hdf5Backend, RateSink, SampleSink, SpikeSink, TraceSink, WeightSink};
use crate::record::batch::Values;
use crate::record::layout::Layout;
use crate::record::schema;
use crate::resume::state::Columns;

/// Group of the slots.
pub const RESUME_GROUP: &str = "resume";
/// Root attribute naming the slot of the latest whole point.
pub const ATTR_RESUME_SLOT: &str = "resume_slot";
/// The slots' names.
const SLOTS: [&str; 2] = ["a", "b"];
/// Dataset of the growing datasets' lengths in a slot.
const DS_LENGTHS: &str = "lengths";
/// Prefix of a slot's tail datasets (see the module documentation).
const TAIL: &str = "tail_";
/// Attribute of a slot listing the whole datasets written before its point.
const ATTR_DATASETS: &str = "datasets";

/// A resume point read back from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResumePoint {
    /// Steps done at the point.
    pub steps_done: u64,
    /// The state columns.
    pub columns: Columns,
    /// Each growing dataset's length at the point (spikes, traces, rates, weights, samples).
    pub lengths: Vec<u64>,
    /// The whole datasets written before the point.
    pub datasets: Vec<String>,
    /// (index in lengths' order, values) of each filtered dataset's tail.
    pub tails: Vec<(usize, Values)>,
}

impl Hdf5Backend {
    /// Each growing dataset's length (elements or rows appended), in layout
    /// order: spikes, traces, rates, weights, samples.
    fn lengths(&self) -> Vec<u64> {
        let spikes = self.spikes.iter().map(|s| s.len);
        let traces = self.traces.iter().map(|t| t.frames);
        let rates = self.rates.iter().map(|r| r.bins);
        let weights = self.weights.iter().map(|w| w.snapshots);
        let samples = self.samples.iter().map(|s| s.len);
        (spikes
            .chain(traces)
            .chain(rates)
            .chain(weights)
            .chain(samples))
        .map(|n| n as u64)
        .collect()
    }

    /// Writes a resume point of `columns` after everything appended so far,
    /// as the [module documentation](self) says.
    pub(super) fn write_resume_point(&mut self, columns: &Columns) -> hdf5::Result<()> {
        let steps_done = match columns.iter().find(|(n, _)| n == "clock") {
            Some((_, Values::U64(v))) if v.len() == 1 => v[0],
            _ => return Err("a resume point without its clock".into()),
        };
        let slot = SLOTS[usize::from(self.resume_slot == Some(0))];
        let group = child_group(&self.file, RESUME_GROUP)?;
        let group = child_group(&group, slot)?;
        for (name, values) in columns {
            put_values(&group, name, values)?;
        }
        put(&group, DS_LENGTHS, &self.lengths())?;
        for (k, (ds, len)) in self.growing().into_iter().enumerate() {
            let name = format!("{TAIL}{k}");
            match read_tail(ds, len)? {
                Some(values) => put_values(&group, &name, &values)?,
                None if group.link_exists(&name) => group.unlink(&name)?,
                None => {}
            }
        }
        set_attr(&group, schema::ATTR_STEPS_DONE, &steps_done)?;
        set_attr(&group, ATTR_DATASETS, &h5_string(&self.written.join("\n")))?;
        let sync = |b: &Hdf5Backend| {
            b.file.flush()?;
            b.reserve
                .sync()
                .map_err(|e| hdf5::Error::from(format!("cannot sync to disk: {e}")))
        };
        self.write_times()?;
        sync(self)?;
        set_attr(&self.file, ATTR_RESUME_SLOT, &h5_string(slot))?;
        sync(self)?;
        self.resume_slot = Some(usize::from(slot == SLOTS[1]));
        self.reserve.flushed();
        Ok(())
    }

    /// Reopens the file of an interrupted run at `path` to continue it from
    /// `point`: every growing dataset is cut back to its length at the point
    /// and appends continue from there. `layout` is the run's (rebuilt from
    /// its config); `threads` replaces the root attribute. The file stays
    /// `complete = 0` until the resumed run closes it.
    pub fn reopen(
        path: &Path,
        layout: &Layout,
        point: &ResumePoint,
        threads: u64,
    ) -> Result<Self, String> {
        let file = File::open_rw(path).map_err(|e| e.to_string())?;
        let dt_ms = file
            .attr(schema::ATTR_DT_MS)
            .and_then(|a| a.read_scalar::<f64>())
            .map_err(|e| e.to_string())?;
        let mut lengths = point.lengths.iter().map(|&n| n as usize);
        let mut next = |what: &str| {
            lengths
                .next()
                .ok_or_else(|| format!("the resume point has no length for {what}"))
        };
        let open = |p: String| file.dataset(&p).map_err(|e| format!("{p}: {e}"));
        let cut_1d = |ds: &Dataset, n: usize| ds.resize(n).map_err(|e| e.to_string());
        let cut_2d = |ds: &Dataset, n: usize| {
            let cols = ds.shape().get(1).copied().unwrap_or(0);
            ds.resize((n, cols)).map_err(|e| e.to_string())
        };
        let mut spikes = Vec::new();
        for l in &layout.spikes {
            let base = format!("{}/{}", schema::SPIKES_GROUP, l.name);
            let len = next(&base)?;
            let timestamps = open(format!("{base}/{}", schema::DS_TIMESTAMPS))?;
            let node_ids = open(format!("{base}/{}", schema::DS_NODE_IDS))?;
            cut_1d(&timestamps, len)?;
            cut_1d(&node_ids, len)?;
            spikes.push(SpikeSink {
                timestamps,
                node_ids,
                len,
            });
        }
        let mut traces = Vec::new();
        for t in &layout.traces {
            let base = format!("{}/{}/{}", schema::REPORT_GROUP, t.layer, t.var);
            let frames = next(&base)?;
            let data = open(format!("{base}/{}", schema::DS_DATA))?;
            cut_2d(&data, frames)?;
            traces.push(TraceSink {
                n_recorded: t.node_ids.len(),
                start_step: t.start_step,
                every: t.every,
                frames,
                data,
                time: open(format!(
                    "{base}/{}/{}",
                    schema::MAPPING_GROUP,
                    schema::DS_TIME
                ))?,
            });
        }
        let mut rates = Vec::new();
        for r in &layout.rates {
            let base = format!("{}/{}", schema::RATES_GROUP, r.layer);
            let bins = next(&base)?;
            let counts = open(format!("{base}/{}", schema::DS_COUNTS))?;
            cut_1d(&counts, bins)?;
            rates.push(RateSink { counts, bins });
        }
        let mut weights = Vec::new();
        for w in &layout.weights {
            let base = format!("{}/{}", schema::WEIGHT_SNAPSHOTS_GROUP, w.projection);
            let snapshots = next(&base)?;
            let data = open(format!("{base}/{}", schema::DS_DATA))?;
            let steps_done = open(format!("{base}/{}", schema::DS_STEPS_DONE))?;
            let time_ms = open(format!("{base}/{}", schema::DS_TIME_MS))?;
            cut_2d(&data, snapshots)?;
            cut_1d(&steps_done, snapshots)?;
            cut_1d(&time_ms, snapshots)?;
            weights.push(WeightSink {
                n_synapses: w.pre_ids.len(),
                data,
                steps_done,
                time_ms,
                snapshots,
            });
        }
        let samples = match &layout.samples {
            None => None,
            Some(spec) => {
                let base = schema::SAMPLES_GROUP;
                let len = next(base)?;
                let index = open(format!("{base}/{}", schema::DS_INDEX))?;
                let label = open(format!("{base}/{}", schema::DS_LABEL))?;
                let start_ms = open(format!("{base}/{}", schema::DS_START_MS))?;
                for ds in [&index, &label, &start_ms] {
                    cut_1d(ds, len)?;
                }
                let mut counts = Vec::new();
                for l in &spec.layers {
                    let ds = open(format!("{base}/{}/{}", schema::SAMPLE_COUNTS_GROUP, l.name))?;
                    cut_2d(&ds, len)?;
                    counts.push((l.n_nodes as usize, ds));
                }
                Some(SampleSink {
                    index,
                    label,
                    start_ms,
                    counts,
                    len,
                })
            }
        };
        if lengths.next().is_some() {
            return Err("the resume point has more datasets than this run records".into());
        }
        for root in schema::DATASET_ROOTS {
            if file.link_exists(root) {
                let group = file.group(root).map_err(|e| e.to_string())?;
                remove_unlisted(&group, root, &point.datasets).map_err(|e| e.to_string())?;
            }
        }
        for name in [schema::ATTR_STEPS_DONE, schema::ATTR_ERROR] {
            if file
                .attr_names()
                .map_err(|e| e.to_string())?
                .iter()
                .any(|n| n == name)
            {
                file.delete_attr(name).map_err(|e| e.to_string())?;
            }
        }
        set_attr(&file, schema::ATTR_COMPLETE, &0u8).map_err(|e| e.to_string())?;
        set_attr(&file, schema::ATTR_THREADS, &threads).map_err(|e| e.to_string())?;
        let slot = file
            .attr(ATTR_RESUME_SLOT)
            .and_then(|a| a.read_scalar::<VarLenUnicode>())
            .map_err(|e| e.to_string())?;
        let reserve = super::reserve::Reserve::new(path, 0).map_err(|e| e.to_string())?;
        let mut backend = Hdf5Backend {
            file,
            dt_ms,
            spikes,
            traces,
            rates,
            weights,
            samples,
            codecs: super::datasets::Codecs::new(layout.compress),
            path: path.to_owned(),
            reserve,
            resume_slot: Some(usize::from(slot.as_str() == SLOTS[1])),
            written: point.datasets.clone(),
        };
        backend.reserve.margin = backend.margin();
        for (k, values) in &point.tails {
            let (ds, len) = *(backend.growing().get(*k))
                .ok_or_else(|| format!("the resume point has a tail for dataset {k} of fewer"))?;
            write_tail(ds, len, values).map_err(|e| format!("{}: {e}", ds.name()))?;
        }
        backend.write_times().map_err(|e| e.to_string())?;
        backend.file.flush().map_err(|e| e.to_string())?;
        Ok(backend)
    }
}

/// The values of the filtered dataset `ds` of `len` rows past its last
/// whole chunk, flattened; `None` when it is unfiltered or ends on a chunk.
fn read_tail(ds: &Dataset, len: usize) -> hdf5::Result<Option<Values>> {
    let rows = ds
        .chunk()
        .and_then(|c| c.first().copied())
        .unwrap_or(1)
        .max(1);
    let start = len - len % rows;
    if ds.filters().is_empty() || start == len {
        return Ok(None);
    }
    let t = ds.dtype()?.to_descriptor()?;
    macro_rules! read {
        ($t:ty) => {
            if ds.ndim() == 1 {
                ds.read_slice_1d::<$t, _>(start..len)?.to_vec()
            } else {
                ds.read_slice_2d::<$t, _>(ndarray::s![start..len, ..])?
                    .iter()
                    .copied()
                    .collect()
            }
        };
    }
    Ok(Some(match t {
        TypeDescriptor::Float(FloatSize::U8) => Values::F64(read!(f64)),
        TypeDescriptor::Float(FloatSize::U4) => Values::F32(read!(f32)),
        TypeDescriptor::Unsigned(IntSize::U8) => Values::U64(read!(u64)),
        TypeDescriptor::Unsigned(IntSize::U4) => Values::U32(read!(u32)),
        TypeDescriptor::Unsigned(IntSize::U1) => {
            Values::U32(read!(u8).into_iter().map(u32::from).collect())
        }
        other => return Err(format!("{}: a growing {other} dataset", ds.name()).into()),
    }))
}

/// Cuts the filtered dataset `ds` of `len` rows back to its last whole
/// chunk and writes `tail` ([`read_tail`]'s) after it, so that its partly
/// filled chunk is written anew, never read.
fn write_tail(ds: &Dataset, len: usize, tail: &Values) -> hdf5::Result<()> {
    let rows = ds
        .chunk()
        .and_then(|c| c.first().copied())
        .unwrap_or(1)
        .max(1);
    let start = len - len % rows;
    let cols = if ds.ndim() == 2 { ds.shape()[1] } else { 1 };
    if tail.len() != (len - start) * cols {
        return Err(format!("{}: the tail does not fit its length", ds.name()).into());
    }
    let resize = |n: usize| {
        if ds.ndim() == 1 {
            ds.resize(n)
        } else {
            ds.resize((n, cols))
        }
    };
    resize(start)?;
    resize(len)?;
    macro_rules! write {
        ($v:expr) => {
            if ds.ndim() == 1 {
                ds.write_slice($v, start..len)
            } else {
                let view = ndarray::ArrayView2::from_shape((len - start, cols), $v)
                    .map_err(|e| hdf5::Error::from(e.to_string()))?;
                ds.write_slice(view, ndarray::s![start..len, ..])
            }
        };
    }
    match (tail, ds.dtype()?.to_descriptor()?) {
        (Values::U32(v), TypeDescriptor::Unsigned(IntSize::U1)) => {
            let bytes: Vec<u8> = v.iter().map(|&x| x as u8).collect();
            write!(&bytes[..])
        }
        (Values::F64(v), _) => write!(&v[..]),
        (Values::F32(v), _) => write!(&v[..]),
        (Values::U64(v), _) => write!(&v[..]),
        (Values::U32(v), _) => write!(&v[..]),
        (Values::I32(v), _) => write!(&v[..]),
    }
}

/// Writes `values` as the 1-D dataset `name` of `group` ([`put`]).
fn put_values(group: &Group, name: &str, values: &Values) -> hdf5::Result<()> {
    match values {
        Values::F64(v) => put(group, name, v),
        Values::F32(v) => put(group, name, v),
        Values::U32(v) => put(group, name, v),
        Values::I32(v) => put(group, name, v),
        Values::U64(v) => put(group, name, v),
    }
}

/// Removes every dataset below `group` (at `path`) that `kept` does not
/// list, and the groups that are left empty.
fn remove_unlisted(group: &Group, path: &str, kept: &[String]) -> hdf5::Result<()> {
    for name in group.member_names()? {
        let full = format!("{path}/{name}");
        if let Ok(child) = group.group(&name) {
            remove_unlisted(&child, &full, kept)?;
            if child.member_names()?.is_empty() {
                group.unlink(&name)?;
            }
        } else if !kept.contains(&full) {
            group.unlink(&name)?;
        }
    }
    Ok(())
}

/// Writes `data` as the 1-D dataset `name` of `group`: in place where one of
/// that type and length exists, else replacing it.
fn put<T: H5Type>(group: &Group, name: &str, data: &[T]) -> hdf5::Result<()> {
    if group.link_exists(name) {
        let ds = group.dataset(name)?;
        if ds.shape() == [data.len()] && ds.dtype()?.to_descriptor()? == T::type_descriptor() {
            return if data.is_empty() {
                Ok(())
            } else {
                ds.write_raw(data)
            };
        }
        drop(ds);
        group.unlink(name)?;
    }
    group
        .new_dataset::<T>()
        .shape(data.len())
        .create(name)
        .and_then(|ds| {
            if data.is_empty() {
                Ok(())
            } else {
                ds.write_raw(data)
            }
        })
}

/// Reads the latest resume point of the spikesim file at `path`, or says
/// why there is none.
pub fn read_resume_point(path: &Path) -> Result<ResumePoint, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let slot = file
        .attr(ATTR_RESUME_SLOT)
        .and_then(|a| a.read_scalar::<VarLenUnicode>())
        .map_err(|_| "it holds no resume point".to_owned())?;
    let group = file
        .group(&format!("{RESUME_GROUP}/{}", slot.as_str()))
        .map_err(|e| format!("resume slot {}: {e}", slot.as_str()))?;
    let steps_done = group
        .attr(schema::ATTR_STEPS_DONE)
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| e.to_string())?;
    let mut columns = Columns::new();
    let mut lengths = None;
    let mut tails = Vec::new();
    for name in group.member_names().map_err(|e| e.to_string())? {
        let ds = group.dataset(&name).map_err(|e| e.to_string())?;
        let values = read_values(&ds).map_err(|e| format!("{name}: {e}"))?;
        if name == DS_LENGTHS {
            lengths = Some(values);
        } else if let Some(k) = name.strip_prefix(TAIL) {
            let k = k
                .parse()
                .map_err(|_| format!("resume slot: bad tail name {name}"))?;
            tails.push((k, values));
        } else {
            columns.push((name, values));
        }
    }
    let Some(Values::U64(lengths)) = lengths else {
        return Err(format!("resume slot {} has no lengths", slot.as_str()));
    };
    let datasets = group
        .attr(ATTR_DATASETS)
        .and_then(|a| a.read_scalar::<VarLenUnicode>())
        .map_err(|e| e.to_string())?;
    let datasets = (datasets.as_str().lines())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(ResumePoint {
        steps_done,
        columns,
        lengths,
        datasets,
        tails,
    })
}

/// A 1-D dataset's values as the [`Values`] variant of its type.
fn read_values(ds: &Dataset) -> Result<Values, String> {
    let e = |e: hdf5::Error| e.to_string();
    let t = ds.dtype().and_then(|t| t.to_descriptor()).map_err(e)?;
    Ok(match t {
        TypeDescriptor::Float(FloatSize::U8) => Values::F64(ds.read_raw().map_err(e)?),
        TypeDescriptor::Float(FloatSize::U4) => Values::F32(ds.read_raw().map_err(e)?),
        TypeDescriptor::Unsigned(IntSize::U4) => Values::U32(ds.read_raw().map_err(e)?),
        TypeDescriptor::Integer(IntSize::U4) => Values::I32(ds.read_raw().map_err(e)?),
        TypeDescriptor::Unsigned(IntSize::U8) => Values::U64(ds.read_raw().map_err(e)?),
        other => return Err(format!("unexpected type {other:?}")),
    })
}
