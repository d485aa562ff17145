//! The HDF5 backend: one file per run in the layout of [`schema`].
//!
//! [`Hdf5Backend::create`] creates the file with every group and dataset of
//! the layout (empty) and the root attributes, `complete = 0`. Batches are
//! appended to chunked, extendible datasets, filtered as `datasets::Codecs`
//! chooses (losslessly, and only with filters every HDF5 build has on the
//! datasets SONATA tools read); a flush refreshes each report's `mapping/time`
//! and flushes the file, so a killed run leaves a readable file up to the last
//! flush. Closing writes the final root attributes (`steps`,
//! `steps_done`, `complete`, `error`) and each report's `time` stop.
//!
//! Disk space for each append is held before HDF5 writes it (`reserve.rs`):
//! a full disk refuses an append whole ([`StoreError::Full`]) and leaves
//! room to close the file readable.

mod create;
mod datasets;
mod reserve;
mod resume;

pub use resume::{ResumePoint, read_resume_point};
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use hdf5::{Dataset, File};
use ndarray::{ArrayView2, s};

pub(crate) use self::datasets::h5_string;
use self::datasets::{
    Codecs, append_1d, append_rows, child_group, chunk_bytes, scalar_attr, set_attr, str_attr,
    whole_dataset,
};
use self::reserve::Reserve;
use crate::record::backend::{Backend, End, StoreError};
use crate::record::batch::{Attr, Batch, Values};
use crate::record::check::dataset_dims;
use crate::record::layout::{Layout, RunHeader};
use crate::record::schema;

/// A run's HDF5 file and one handle per growing dataset; owned by the writer
/// thread.
pub struct Hdf5Backend {
    file: File,
    dt_ms: f64,
    spikes: Vec<SpikeSink>,
    traces: Vec<TraceSink>,
    rates: Vec<RateSink>,
    weights: Vec<WeightSink>,
    samples: Option<SampleSink>,
    /// The codecs of the file's datasets.
    codecs: Codecs,
    /// The file's path, to trim it after closing.
    path: PathBuf,
    /// Disk space held ahead of HDF5's writes.
    reserve: Reserve,
    /// The slot of the latest resume point written ([`resume`]), if any.
    resume_slot: Option<usize>,
    /// Paths of the whole datasets ([`Batch::Dataset`]) written, in order.
    written: Vec<String>,
}

/// Room kept for the metadata HDF5 writes on flushing and closing (object
/// headers, B-tree nodes, attributes): far more than a run's file needs.
const METADATA_MARGIN: u64 = 1 << 20;

/// Bytes a batch may grow by when its chunks are filtered: deflate's worst
/// case adds 5 bytes per 16 KiB block and a small header; scale-offset a
/// header of a few dozen bytes per chunk.
const FILTER_OVERHEAD: u64 = 4096;

struct SpikeSink {
    timestamps: Dataset,
    node_ids: Dataset,
    /// Spikes written so far.
    len: usize,
}

struct TraceSink {
    n_recorded: usize,
    start_step: u64,
    every: u64,
    /// Frames written so far.
    frames: usize,
    data: Dataset,
    time: Dataset,
}

struct RateSink {
    counts: Dataset,
    /// Bins written so far.
    bins: usize,
}

struct WeightSink {
    n_synapses: usize,
    data: Dataset,
    steps_done: Dataset,
    time_ms: Dataset,
    /// Snapshots written so far.
    snapshots: usize,
}

struct SampleSink {
    index: Dataset,
    label: Dataset,
    start_ms: Dataset,
    /// Per counted layer: number of neurons (columns) and dataset.
    counts: Vec<(usize, Dataset)>,
    /// Samples written so far.
    len: usize,
}

impl TraceSink {
    /// `mapping/time` = [start, stop (exclusive), interval] in ms for the
    /// frames written so far; each time is one product `step * dt`.
    fn write_time(&self, dt_ms: f64) -> hdf5::Result<()> {
        let stop_step = self.start_step + self.frames as u64 * self.every;
        let time = [
            self.start_step as f64 * dt_ms,
            stop_step as f64 * dt_ms,
            dt_ms * self.every as f64,
        ];
        self.time.write_raw(&time[..])
    }
}

impl Hdf5Backend {
    /// Creates the file at `path` (replacing one that exists) with the root
    /// attributes of `header` and every group and dataset of `layout`, and
    /// flushes it. `layout` must have passed
    /// [`validate`](crate::record::layout::validate) (as
    /// [`Writer::create`](crate::record::writer::Writer::create) ensures). On
    /// error no file is left at `path`; the error is a one-line reason.
    pub fn create(path: &Path, header: &RunHeader, layout: &Layout) -> Result<Self, String> {
        let file = File::create(path).map_err(|e| create::create_failure_reason(path, &e))?;
        let codecs = Codecs::new(layout.compress);
        create::build_file(file, path, header, layout, codecs).map_err(|e| {
            // `build_file` consumed and so closed the file; remove the half-built one.
            let _ = std::fs::remove_file(path);
            e.to_string()
        })
    }

    /// The disk space to keep beyond the end of the file and the pending
    /// appends: each growing dataset's partly filled chunk and the metadata.
    fn margin(&self) -> u64 {
        METADATA_MARGIN
            + (self.growing().iter())
                .map(|(ds, _)| chunk_bytes(ds))
                .sum::<u64>()
    }

    /// Every growing dataset with its length (elements or rows), in layout
    /// order: spikes, traces, rates, weights, samples.
    fn growing(&self) -> Vec<(&Dataset, usize)> {
        let mut v = Vec::new();
        for s in &self.spikes {
            v.extend([(&s.timestamps, s.len), (&s.node_ids, s.len)]);
        }
        v.extend(self.traces.iter().map(|t| (&t.data, t.frames)));
        v.extend(self.rates.iter().map(|r| (&r.counts, r.bins)));
        for w in &self.weights {
            v.extend([
                (&w.data, w.snapshots),
                (&w.steps_done, w.snapshots),
                (&w.time_ms, w.snapshots),
            ]);
        }
        if let Some(s) = &self.samples {
            v.extend([(&s.index, s.len), (&s.label, s.len), (&s.start_ms, s.len)]);
            v.extend(s.counts.iter().map(|(_, ds)| (ds, s.len)));
        }
        v
    }

    /// Holds the disk space for a write of up to `extra` bytes (see
    /// [`reserve`]).
    fn hold(&mut self, extra: u64) -> Result<(), StoreError> {
        self.reserve
            .hold(self.file.size(), extra)
            .map_err(|e| StoreError::Full(e.to_string()))
    }

    fn append_spikes(&mut self, layer: usize, steps: &[u64], node_ids: &[u64]) -> hdf5::Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        let dt = self.dt_ms;
        let sink = &mut self.spikes[layer];
        let times: Vec<f64> = steps.iter().map(|&step| step as f64 * dt).collect();
        let (start, end) = (sink.len, sink.len + steps.len());
        sink.timestamps.resize(end)?;
        sink.timestamps.write_slice(&times[..], start..end)?;
        sink.node_ids.resize(end)?;
        sink.node_ids.write_slice(node_ids, start..end)?;
        sink.len = end;
        Ok(())
    }

    fn append_trace(&mut self, trace: usize, data: &[f32]) -> hdf5::Result<()> {
        let sink = &mut self.traces[trace];
        let n = sink.n_recorded;
        let frames = data.len() / n;
        if frames == 0 {
            return Ok(());
        }
        let view = ArrayView2::from_shape((frames, n), data)
            .map_err(|e| hdf5::Error::from(format!("{}: {e}", sink.data.name())))?;
        let (start, end) = (sink.frames, sink.frames + frames);
        sink.data.resize((end, n))?;
        sink.data.write_slice(view, s![start..end, ..])?;
        sink.frames = end;
        Ok(())
    }

    fn append_rates(&mut self, rate: usize, counts: &[u64]) -> hdf5::Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let sink = &mut self.rates[rate];
        append_1d(&sink.counts, sink.bins, counts)?;
        sink.bins += counts.len();
        Ok(())
    }

    fn append_weights(
        &mut self,
        weights: usize,
        steps_done: u64,
        data: &[f32],
    ) -> hdf5::Result<()> {
        let time = steps_done as f64 * self.dt_ms;
        let sink = &mut self.weights[weights];
        let row = sink.snapshots;
        append_rows(&sink.data, row, 1, sink.n_synapses, data)?;
        append_1d(&sink.steps_done, row, &[steps_done])?;
        append_1d(&sink.time_ms, row, &[time])?;
        sink.snapshots += 1;
        Ok(())
    }

    fn append_samples(
        &mut self,
        index: &[u64],
        label: &[u8],
        start_step: &[u64],
        counts: &[Vec<u32>],
    ) -> hdf5::Result<()> {
        let m = index.len();
        if m == 0 {
            return Ok(());
        }
        let dt = self.dt_ms;
        let sink = self
            .samples
            .as_mut()
            .expect("checked: the layout has samples");
        let start_ms: Vec<f64> = start_step.iter().map(|&step| step as f64 * dt).collect();
        let row = sink.len;
        append_1d(&sink.index, row, index)?;
        append_1d(&sink.label, row, label)?;
        append_1d(&sink.start_ms, row, &start_ms)?;
        for ((n, ds), c) in sink.counts.iter().zip(counts) {
            append_rows(ds, row, m, *n, c)?;
        }
        sink.len += m;
        Ok(())
    }

    /// Writes one [`Batch::Dataset`], creating its parent groups as needed.
    fn write_dataset(
        &mut self,
        path: &str,
        shape: &[u64],
        values: &Values,
        attrs: &[(String, Attr)],
    ) -> hdf5::Result<()> {
        let dims = dataset_dims(shape);
        let components: Vec<&str> = path.split('/').collect();
        let (leaf, parents) = components
            .split_last()
            .expect("checked: at least 2 components");
        let private = self.codecs.private;
        let mut group = child_group(&self.file, parents[0])?;
        for name in &parents[1..] {
            group = child_group(&group, name)?;
        }
        let ds = match values {
            Values::F64(v) => whole_dataset(&group, leaf, &dims, v, private)?,
            Values::F32(v) => whole_dataset(&group, leaf, &dims, v, private)?,
            Values::U32(v) => whole_dataset(&group, leaf, &dims, v, private)?,
            Values::I32(v) => whole_dataset(&group, leaf, &dims, v, private)?,
            Values::U64(v) => whole_dataset(&group, leaf, &dims, v, private)?,
        };
        for (name, value) in attrs {
            match value {
                Attr::U64(x) => scalar_attr(&ds, name, x)?,
                Attr::F64(x) => scalar_attr(&ds, name, x)?,
                Attr::Str(text) => str_attr(&ds, name, text)?,
            }
        }
        self.written.push(path.to_owned());
        Ok(())
    }

    fn write_times(&self) -> hdf5::Result<()> {
        self.traces
            .iter()
            .try_for_each(|t| t.write_time(self.dt_ms))
    }
}

impl Backend for Hdf5Backend {
    /// Holds the space for the batch's bytes and a few KiB of filter overhead (a
    /// partly filled chunk is covered by the margin), then stores it.
    fn append(&mut self, batch: Batch) -> Result<(), StoreError> {
        self.hold(batch.payload_bytes() + FILTER_OVERHEAD)?;
        let written = match batch {
            Batch::Spikes {
                layer,
                steps,
                node_ids,
            } => self.append_spikes(layer, &steps, &node_ids),
            Batch::Trace { trace, data } => self.append_trace(trace, &data),
            Batch::Rates { rate, counts } => self.append_rates(rate, &counts),
            Batch::Weights {
                weights,
                steps_done,
                data,
            } => self.append_weights(weights, steps_done, &data),
            Batch::Samples {
                index,
                label,
                start_step,
                counts,
            } => self.append_samples(&index, &label, &start_step, &counts),
            Batch::Dataset {
                path,
                shape,
                values,
                attrs,
            } => self.write_dataset(&path, &shape, &values, &attrs),
            Batch::Through { .. } => Ok(()),
            Batch::ResumePoint { columns } => self.write_resume_point(&columns),
        };
        written.map_err(|e| StoreError::Failed(e.to_string()))
    }

    /// Refreshes each report's `mapping/time` and flushes the file, so that
    /// everything appended so far is readable from the file on disk.
    fn flush(&mut self) -> Result<(), StoreError> {
        self.hold(0)?;
        self.write_times()
            .and_then(|()| self.file.flush())
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        self.reserve.flushed();
        Ok(())
    }

    /// Writes the final attributes and closes the file. Without an error the
    /// run is complete: `steps` and `steps_done` become `steps_done` and
    /// `complete` 1. With one, `steps` keeps the planned number, `complete`
    /// stays 0 and `error` records why the run stopped.
    fn close(self: Box<Self>, end: &End<'_>) -> Result<(), String> {
        let file = &self.file;
        let steps_done = end.steps_done;
        let finished = self
            .write_times()
            .and_then(|()| set_attr(file, schema::ATTR_STEPS_DONE, &steps_done))
            .and_then(|()| match end.error {
                None => set_attr(file, schema::ATTR_STEPS, &steps_done)
                    .and_then(|()| set_attr(file, schema::ATTR_COMPLETE, &1u8)),
                Some(reason) => set_attr(file, schema::ATTR_COMPLETE, &0u8)
                    .and_then(|()| set_attr(file, schema::ATTR_ERROR, &h5_string(reason))),
            })
            .and_then(|()| file.flush());
        finished.map_err(|e| e.to_string())?;
        let Hdf5Backend {
            file,
            spikes,
            traces,
            rates,
            weights,
            samples,
            path,
            reserve,
            ..
        } = *self;
        // Close every dataset first, so that closing the file really closes it.
        drop((spikes, traces, rates, weights, samples));
        file.close().map_err(|e| e.to_string())?;
        drop(reserve);
        // A file left longer than its data is still read by every reader.
        let _ = reserve::trim(&path);
        Ok(())
    }
}
