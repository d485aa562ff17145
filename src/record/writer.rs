//! The background HDF5 writer: one thread owns the output file for the whole
//! run and appends the blocks that the simulation sends it.
//!
//! Lifecycle (open, write, flush, close):
//!
//! 1. [`Writer::create`] validates the recording setup, creates the file and
//!    every group and dataset of the layout in [`schema`] on the calling
//!    thread, so that a bad name or an unwritable path fails before the run
//!    starts and leaves no file behind. It then moves the file into a spawned
//!    thread fed by a bounded channel.
//! 2. [`Writer::send`] hands over one [`Block`]; it blocks while the channel is
//!    full, so a slow disk slows the simulation down instead of filling memory.
//!    The writer thread appends each block to chunked, extendible (and, where
//!    the library has the filter, deflate-compressed) datasets and holds no
//!    more than that one block itself: memory stays below
//!    `(capacity + 2) × block size` however long the run.
//! 3. Every [`FLUSH_INTERVAL`] with new data the thread refreshes each
//!    report's `mapping/time` and flushes the file, so a run that is killed
//!    leaves a readable file holding everything up to the last flush. Its
//!    root `complete` attribute stays 0.
//! 4. [`Writer::finish`] closes the channel, waits for the thread to drain it,
//!    writes the final attributes (`steps` actually simulated, each report's
//!    `time` stop, `complete = 1`) and closes the file.
//!
//! Dropping a [`Writer`] without calling `finish` (an error or a panic in the
//! simulation) still drains the channel and closes the file cleanly, leaving
//! `complete = 0`.
//!
//! HDF5 calls are serialised process-wide by the `hdf5` crate; while a writer
//! is running nothing else in the process should touch HDF5 (it would only
//! contend for that lock).

use std::any::Any;
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hdf5::plist::group_create::LinkCreationOrder;
use hdf5::types::VarLenUnicode;
use hdf5::{Dataset, File, Group, H5Type, Location};
use ndarray::{ArrayView2, s};

use crate::record::schema::{self, Sorting};

/// How often, at most, the writer thread flushes the file while new data keeps
/// arriving (and how long it waits idle before flushing what it has).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// Facts about the run stored as root attributes of the output file.
#[derive(Debug, Clone, PartialEq)]
pub struct RunHeader {
    /// Version of the spikesim build, e.g. `env!("CARGO_PKG_VERSION")`.
    pub spikesim_version: String,
    /// The run's master seed.
    pub seed: u64,
    /// Time step in ms; must be finite and positive.
    pub dt_ms: f64,
    /// Planned number of steps; [`Writer::finish`] replaces it with the number
    /// actually simulated.
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

/// One unit of work for the writer thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Spikes of one layer over a run of consecutive steps, time-sorted, within
    /// a step by node id. `steps[k]` and `node_ids[k]` describe spike `k`.
    Spikes {
        /// Index into the [`SpikeLayer`] list given to [`Writer::create`].
        layer: usize,
        /// Step of each spike.
        steps: Vec<u64>,
        /// Node id of each spike.
        node_ids: Vec<u64>,
    },
    /// `frames` consecutive frames of one trace, row-major
    /// `frames × node_ids.len()`.
    Trace {
        /// Index into the [`TraceSpec`] list given to [`Writer::create`].
        trace: usize,
        /// The values; the length must be a multiple of the trace's column count.
        data: Vec<f32>,
    },
}

/// Errors of the recording module. Each displays as one line naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be created (bad directory, permissions, HDF5).
    #[error("cannot create output file {}: {reason}", .path.display())]
    Create { path: PathBuf, reason: String },
    /// The recording setup is unusable (bad or duplicate name, empty trace, bad dt).
    #[error("cannot create output file {}: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    /// Writing, flushing or closing the file failed during or after the run.
    #[error("cannot write output file {}: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
    /// A block contradicts the recording setup (a bug in the sender); the
    /// writer stopped at it.
    #[error("bad record block for {}: {reason}", .path.display())]
    BadBlock { path: PathBuf, reason: String },
    /// The writer thread panicked.
    #[error("writer thread for {} panicked: {message}", .path.display())]
    Panicked { path: PathBuf, message: String },
    /// `inspect`: there is no file at the path.
    #[error("cannot open {}: no such file", .path.display())]
    NotFound { path: PathBuf },
    /// `inspect`: the file is not an HDF5 file.
    #[error("cannot open {}: not an HDF5 file", .path.display())]
    NotHdf5 { path: PathBuf },
    /// `inspect`: an HDF5 file without a `schema_version` root attribute.
    #[error("{} is not a spikesim output file (no schema_version attribute)", .path.display())]
    NotSpikesim { path: PathBuf },
    /// `inspect`: a spikesim file of a layout version this build does not read.
    #[error(
        "{} has schema_version {found}, this spikesim reads version {}",
        .path.display(),
        schema::SCHEMA_VERSION
    )]
    UnsupportedSchema { path: PathBuf, found: String },
    /// `inspect`: the file could not be read or lacks part of the layout.
    #[error("cannot read {}: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
}

/// The handle the simulation holds: a sender into the writer thread.
///
/// `Writer` is `Send + Sync`; [`send`](Writer::send) takes `&self`.
pub struct Writer {
    path: PathBuf,
    tx: Option<Sender<Block>>,
    handle: Option<JoinHandle<Result<Sink, RecordError>>>,
    /// Set by the writer thread, before it drops its receiver, when it stops on
    /// an error; read by `send` when the channel turns out closed.
    failed: Arc<Mutex<Option<RecordError>>>,
}

impl Writer {
    /// Creates the file and all groups/datasets synchronously on the calling
    /// thread (so an unwritable path fails here, before the run starts), writes
    /// root attrs, then moves the file into a spawned writer thread fed by a
    /// bounded channel of `capacity` blocks (0 makes every `send` wait for the
    /// writer to take the block).
    ///
    /// An existing file at `path` is replaced. On error no file is left at
    /// `path`.
    pub fn create(
        path: &Path,
        header: &RunHeader,
        layers: &[SpikeLayer],
        traces: &[TraceSpec],
        capacity: usize,
    ) -> Result<Writer, RecordError> {
        validate(header, layers, traces).map_err(|reason| RecordError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        let create_error = |reason: String| RecordError::Create {
            path: path.to_owned(),
            reason,
        };

        let file = File::create(path).map_err(|e| create_error(create_failure_reason(path, &e)))?;
        let deflate = hdf5::filters::deflate_available();
        let sink = match build_file(file, path, header, layers, traces, deflate) {
            Ok(sink) => sink,
            Err(e) => {
                // `build_file` consumed and so closed the file; remove the half-built one.
                let _ = std::fs::remove_file(path);
                return Err(create_error(e.to_string()));
            }
        };

        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let failed = Arc::new(Mutex::new(None));
        let thread_failed = Arc::clone(&failed);
        let thread_path = path.to_owned();
        let spawned = std::thread::Builder::new()
            .name("spikesim-writer".to_owned())
            .spawn(move || writer_thread(sink, rx, thread_path, thread_failed));
        let handle = match spawned {
            Ok(handle) => handle,
            Err(e) => {
                // The closure, and with it the file, was dropped by the failed spawn.
                let _ = std::fs::remove_file(path);
                return Err(create_error(format!("cannot start the writer thread: {e}")));
            }
        };
        Ok(Writer {
            path: path.to_owned(),
            tx: Some(tx),
            handle: Some(handle),
            failed,
        })
    }

    /// The path of the output file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one block; blocks while the channel is full (back-pressure).
    /// Returns the writer thread's error if it died.
    pub fn send(&self, block: Block) -> Result<(), RecordError> {
        let tx = self
            .tx
            .as_ref()
            .expect("the sender lives until finish or drop");
        tx.send(block).map_err(|_| self.thread_error())
    }

    /// Closes the channel, joins the thread, writes the final attributes
    /// (steps actually simulated, each trace's `time` stop, `complete = 1`),
    /// flushes and closes the file.
    ///
    /// If the writer thread had stopped on an error, that error is returned and
    /// the file keeps what was written before it, with `complete = 0`.
    pub fn finish(mut self, steps_done: u64) -> Result<(), RecordError> {
        drop(self.tx.take());
        let handle = self.handle.take().expect("the thread is joined only once");
        let sink = match handle.join() {
            Ok(result) => result?,
            Err(payload) => {
                return Err(RecordError::Panicked {
                    path: self.path.clone(),
                    message: panic_message(payload.as_ref()),
                });
            }
        };
        sink.close(steps_done)
    }

    fn thread_error(&self) -> RecordError {
        lock(&self.failed)
            .clone()
            .unwrap_or_else(|| RecordError::Panicked {
                path: self.path.clone(),
                message: "the writer thread stopped unexpectedly".to_owned(),
            })
    }
}

impl Drop for Writer {
    /// Without `finish`: let the thread drain the channel and close the file,
    /// which stays marked incomplete.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Body of the writer thread. Records an error in `failed` before the receiver
/// is dropped, so a sender that finds the channel closed always finds the
/// reason.
fn writer_thread(
    sink: Sink,
    rx: Receiver<Block>,
    path: PathBuf,
    failed: Arc<Mutex<Option<RecordError>>>,
) -> Result<Sink, RecordError> {
    let result = catch_unwind(AssertUnwindSafe(|| sink.run(&rx))).unwrap_or_else(|payload| {
        Err(RecordError::Panicked {
            path,
            message: panic_message(payload.as_ref()),
        })
    });
    if let Err(e) = &result {
        *lock(&failed) = Some(e.clone());
    }
    drop(rx);
    result
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

// ---------------------------------------------------------------- file creation

/// Checks the setup before anything touches the disk.
fn validate(header: &RunHeader, layers: &[SpikeLayer], traces: &[TraceSpec]) -> Result<(), String> {
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
    Ok(())
}

/// A short reason for a failed `H5Fcreate`: HDF5's own message is a long
/// stack summary, so ask the operating system about the usual causes first.
fn create_failure_reason(path: &Path, err: &hdf5::Error) -> String {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        return format!("directory {} does not exist", parent.display());
    }
    if path.is_dir() {
        return "it is a directory".to_owned();
    }
    let existed = path.exists();
    match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Err(io) => io.to_string(),
        Ok(_) => {
            if !existed {
                let _ = std::fs::remove_file(path);
            }
            err.to_string()
        }
    }
}

/// Writes the root attributes and creates every group and dataset. Consumes
/// the file so that on error every handle is closed when it returns.
fn build_file(
    file: File,
    path: &Path,
    header: &RunHeader,
    layers: &[SpikeLayer],
    traces: &[TraceSpec],
    deflate: bool,
) -> hdf5::Result<Sink> {
    str_attr(
        &file,
        schema::ATTR_SPIKESIM_VERSION,
        &header.spikesim_version,
    )?;
    str_attr(&file, schema::ATTR_SCHEMA_VERSION, schema::SCHEMA_VERSION)?;
    scalar_attr(&file, schema::ATTR_SEED, &header.seed)?;
    scalar_attr(&file, schema::ATTR_DT_MS, &header.dt_ms)?;
    scalar_attr(&file, schema::ATTR_STEPS, &header.steps)?;
    scalar_attr(&file, schema::ATTR_THREADS, &header.threads)?;
    str_attr(&file, schema::ATTR_CONFIG_TOML, &header.config_toml)?;
    str_attr(
        &file,
        schema::ATTR_CREATED_UTC,
        &utc_timestamp(SystemTime::now()),
    )?;
    scalar_attr(&file, schema::ATTR_COMPLETE, &0u8)?;

    let spikes_group = ordered_group(&file, schema::SPIKES_GROUP)?;
    let mut spikes = Vec::with_capacity(layers.len());
    for layer in layers {
        let group = ordered_group(&spikes_group, &layer.name)?;
        scalar_attr(&group, schema::ATTR_SORTING, &Sorting::ByTime)?;
        scalar_attr(&group, schema::ATTR_N_NODES, &layer.n_nodes)?;
        let timestamps = growing_1d::<f64>(&group, schema::DS_TIMESTAMPS, deflate)?;
        str_attr(&timestamps, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        let node_ids = growing_1d::<u64>(&group, schema::DS_NODE_IDS, deflate)?;
        spikes.push(SpikeSink {
            name: layer.name.clone(),
            n_nodes: layer.n_nodes,
            timestamps,
            node_ids,
            len: 0,
            last: None,
        });
    }

    let report_group = ordered_group(&file, schema::REPORT_GROUP)?;
    let mut trace_sinks = Vec::with_capacity(traces.len());
    for trace in traces {
        let layer_group = if report_group.link_exists(&trace.layer) {
            report_group.group(&trace.layer)?
        } else {
            ordered_group(&report_group, &trace.layer)?
        };
        let group = layer_group.create_group(&trace.var)?;
        let n = trace.node_ids.len();
        let rows = schema::trace_chunk_rows(n);
        let mut builder = group
            .new_dataset::<f32>()
            .shape((0.., n))
            .chunk((rows, n))
            .chunk_cache(CHUNK_CACHE_SLOTS, cache_bytes(rows * n * 4), CHUNK_CACHE_W0);
        if deflate {
            builder = builder.deflate(schema::DEFLATE_LEVEL);
        }
        let data = builder.create(schema::DS_DATA)?;
        str_attr(&data, schema::ATTR_UNITS, &trace.units)?;

        let mapping = group.create_group(schema::MAPPING_GROUP)?;
        mapping
            .new_dataset_builder()
            .with_data(&trace.node_ids[..])
            .create(schema::DS_NODE_IDS)?;
        let pointers: Vec<u64> = (0..=n as u64).collect();
        mapping
            .new_dataset_builder()
            .with_data(&pointers[..])
            .create(schema::DS_INDEX_POINTERS)?;
        mapping
            .new_dataset_builder()
            .with_data(&vec![0u32; n][..])
            .create(schema::DS_ELEMENT_IDS)?;
        let sink = TraceSink {
            label: format!("{}/{}", trace.layer, trace.var),
            n_recorded: n,
            start_step: trace.start_step,
            every: trace.every,
            frames: 0,
            data,
            time: mapping
                .new_dataset::<f64>()
                .shape(3)
                .create(schema::DS_TIME)?,
        };
        str_attr(&sink.time, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        sink.write_time(header.dt_ms)?;
        trace_sinks.push(sink);
    }
    // The empty layout is on disk before the first step.
    file.flush()?;
    Ok(Sink {
        path: path.to_owned(),
        file,
        dt_ms: header.dt_ms,
        spikes,
        traces: trace_sinks,
        dirty: false,
        last_flush: Instant::now(),
    })
}

const CHUNK_CACHE_SLOTS: usize = 521;
const CHUNK_CACHE_W0: f64 = 0.75;

/// Chunk-cache size per growing dataset: the HDF5 default (1 MiB), or two
/// chunks where a chunk is larger, so the partly filled last chunk stays in
/// cache between appends and is compressed once.
fn cache_bytes(chunk_bytes: usize) -> usize {
    (2 * chunk_bytes).max(1 << 20)
}

/// A group that remembers the creation order of its members, so `inspect`
/// lists layers in the order of the configuration.
fn ordered_group(parent: &Group, name: &str) -> hdf5::Result<Group> {
    parent
        .create_group_builder()
        .with_gcpl(|p| p.link_creation_order(LinkCreationOrder::Indexed))
        .create(name)
}

/// An empty, extendible, chunked 1-D dataset.
fn growing_1d<T: H5Type>(group: &Group, name: &str, deflate: bool) -> hdf5::Result<Dataset> {
    let chunk = schema::SPIKE_CHUNK_ELEMS;
    let mut builder = group
        .new_dataset::<T>()
        .shape(0..)
        .chunk(chunk)
        .chunk_cache(
            CHUNK_CACHE_SLOTS,
            cache_bytes(chunk * size_of::<T>()),
            CHUNK_CACHE_W0,
        );
    if deflate {
        builder = builder.deflate(schema::DEFLATE_LEVEL);
    }
    builder.create(name)
}

fn scalar_attr<T: H5Type>(loc: &Location, name: &str, value: &T) -> hdf5::Result<()> {
    loc.new_attr::<T>()
        .shape(())
        .create(name)?
        .write_scalar(value)
}

fn str_attr(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    let value: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("attribute {name}: {e}")))?;
    scalar_attr(loc, name, &value)
}

/// `t` as ISO-8601 UTC, `YYYY-MM-DDTHH:MM:SSZ` (times before 1970 print as 1970).
fn utc_timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Proleptic Gregorian date of `days` days after 1970-01-01 (H. Hinnant's
/// `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------- the writer thread's state

/// Everything the writer thread owns: the file and one handle per growing dataset.
struct Sink {
    path: PathBuf,
    file: File,
    dt_ms: f64,
    spikes: Vec<SpikeSink>,
    traces: Vec<TraceSink>,
    /// Data appended since the last flush.
    dirty: bool,
    last_flush: Instant,
}

struct SpikeSink {
    name: String,
    n_nodes: u64,
    timestamps: Dataset,
    node_ids: Dataset,
    /// Spikes written so far.
    len: usize,
    /// (step, node id) of the last spike written, to check the order.
    last: Option<(u64, u64)>,
}

struct TraceSink {
    label: String,
    n_recorded: usize,
    start_step: u64,
    every: u64,
    /// Frames written so far.
    frames: usize,
    data: Dataset,
    time: Dataset,
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

impl Sink {
    /// Appends blocks until every sender is gone, flushing now and then.
    fn run(mut self, rx: &Receiver<Block>) -> Result<Sink, RecordError> {
        loop {
            match rx.recv_timeout(FLUSH_INTERVAL) {
                Ok(block) => {
                    self.append(block)?;
                    self.dirty = true;
                    if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.flush()?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.dirty {
                        self.flush()?;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(self),
            }
        }
    }

    fn write_error(&self, e: hdf5::Error) -> RecordError {
        RecordError::Write {
            path: self.path.clone(),
            reason: e.to_string(),
        }
    }

    fn bad_block(&self, reason: String) -> RecordError {
        RecordError::BadBlock {
            path: self.path.clone(),
            reason,
        }
    }

    fn append(&mut self, block: Block) -> Result<(), RecordError> {
        match block {
            Block::Spikes {
                layer,
                steps,
                node_ids,
            } => self.append_spikes(layer, &steps, &node_ids),
            Block::Trace { trace, data } => self.append_trace(trace, &data),
        }
    }

    fn append_spikes(
        &mut self,
        layer: usize,
        steps: &[u64],
        node_ids: &[u64],
    ) -> Result<(), RecordError> {
        let Some(sink) = self.spikes.get(layer) else {
            return Err(self.bad_block(format!(
                "spike block for layer index {layer}, but {} spike layers were declared",
                self.spikes.len()
            )));
        };
        if steps.len() != node_ids.len() {
            return Err(self.bad_block(format!(
                "spike block for layer {} has {} steps but {} node ids",
                sink.name,
                steps.len(),
                node_ids.len()
            )));
        }
        if steps.is_empty() {
            return Ok(());
        }
        // The file promises sorting = by_time, ties by node id: hold the sender to it.
        let mut last = sink.last;
        for (&step, &node) in steps.iter().zip(node_ids) {
            if node >= sink.n_nodes {
                return Err(self.bad_block(format!(
                    "node id {node} at step {step} is out of range for layer {} of {} neurons",
                    sink.name, sink.n_nodes
                )));
            }
            if let Some((last_step, last_node)) = last
                && (step, node) <= (last_step, last_node)
            {
                return Err(self.bad_block(format!(
                    "spikes of layer {} out of order: (step {step}, node {node}) after \
                     (step {last_step}, node {last_node})",
                    sink.name
                )));
            }
            last = Some((step, node));
        }

        let dt = self.dt_ms;
        let times: Vec<f64> = steps.iter().map(|&step| step as f64 * dt).collect();
        let (start, end) = (sink.len, sink.len + steps.len());
        let written = sink
            .timestamps
            .resize(end)
            .and_then(|()| sink.timestamps.write_slice(&times[..], start..end))
            .and_then(|()| sink.node_ids.resize(end))
            .and_then(|()| sink.node_ids.write_slice(node_ids, start..end));
        written.map_err(|e| self.write_error(e))?;
        let sink = &mut self.spikes[layer];
        sink.len = end;
        sink.last = last;
        Ok(())
    }

    fn append_trace(&mut self, trace: usize, data: &[f32]) -> Result<(), RecordError> {
        let Some(sink) = self.traces.get(trace) else {
            return Err(self.bad_block(format!(
                "trace block for trace index {trace}, but {} traces were declared",
                self.traces.len()
            )));
        };
        let n = sink.n_recorded;
        if !data.len().is_multiple_of(n) {
            return Err(self.bad_block(format!(
                "trace block for {} holds {} values, not a multiple of its {n} columns",
                sink.label,
                data.len()
            )));
        }
        let frames = data.len() / n;
        if frames == 0 {
            return Ok(());
        }
        let view = ArrayView2::from_shape((frames, n), data)
            .map_err(|e| self.bad_block(format!("trace block for {}: {e}", sink.label)))?;
        let (start, end) = (sink.frames, sink.frames + frames);
        let written = sink
            .data
            .resize((end, n))
            .and_then(|()| sink.data.write_slice(view, s![start..end, ..]));
        written.map_err(|e| self.write_error(e))?;
        self.traces[trace].frames = end;
        Ok(())
    }

    fn write_times(&self) -> hdf5::Result<()> {
        self.traces
            .iter()
            .try_for_each(|t| t.write_time(self.dt_ms))
    }

    /// Makes everything appended so far readable from the file on disk.
    fn flush(&mut self) -> Result<(), RecordError> {
        self.write_times()
            .and_then(|()| self.file.flush())
            .map_err(|e| self.write_error(e))?;
        self.dirty = false;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Writes the final attributes and closes the file.
    fn close(self, steps_done: u64) -> Result<(), RecordError> {
        let finished = self
            .write_times()
            .and_then(|()| {
                self.file
                    .attr(schema::ATTR_STEPS)?
                    .write_scalar(&steps_done)
            })
            .and_then(|()| self.file.attr(schema::ATTR_COMPLETE)?.write_scalar(&1u8))
            .and_then(|()| self.file.flush());
        finished.map_err(|e| self.write_error(e))?;
        let Sink {
            path,
            file,
            spikes,
            traces,
            ..
        } = self;
        // Close every dataset first, so that closing the file really closes it.
        drop(spikes);
        drop(traces);
        file.close().map_err(|e| RecordError::Write {
            path,
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ndarray::Array2;
    use std::sync::atomic::{AtomicUsize, Ordering};

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

    fn header(steps: u64) -> RunHeader {
        RunHeader {
            spikesim_version: "0.1.0-test".to_owned(),
            seed: 0xDEAD_BEEF_1234,
            dt_ms: 0.1,
            steps,
            threads: 2,
            config_toml: "[simulation]\ndt_ms = 0.1\nsteps = 20\n".to_owned(),
        }
    }

    fn read_str(loc: &Location, name: &str) -> String {
        loc.attr(name)
            .unwrap()
            .read_scalar::<VarLenUnicode>()
            .unwrap()
            .as_str()
            .to_owned()
    }

    fn read_u64(loc: &Location, name: &str) -> u64 {
        loc.attr(name).unwrap().read_scalar::<u64>().unwrap()
    }

    /// Writes the file of the round-trip test: layers `input` (4 neurons) and
    /// `exc` (3 neurons, no spikes), trace `input/voltage` of nodes [3, 1] from
    /// step 2 every 3 steps, dt = 0.1 ms, 20 steps planned, 17 simulated.
    pub(crate) fn write_sample(path: &Path) {
        let layers = [
            SpikeLayer {
                name: "input".to_owned(),
                n_nodes: 4,
            },
            SpikeLayer {
                name: "exc".to_owned(),
                n_nodes: 3,
            },
        ];
        let traces = [TraceSpec {
            layer: "input".to_owned(),
            var: "voltage".to_owned(),
            units: "mV".to_owned(),
            node_ids: vec![3, 1],
            start_step: 2,
            every: 3,
        }];
        let writer = Writer::create(path, &header(20), &layers, &traces, 4).unwrap();
        // 6 spikes of `input` in three blocks; an empty block changes nothing.
        let blocks = [
            (vec![0, 0, 3], vec![1, 2, 0]),
            (vec![], vec![]),
            (vec![7], vec![3]),
            (vec![10, 16], vec![0, 0]),
        ];
        for (steps, node_ids) in blocks {
            writer
                .send(Block::Spikes {
                    layer: 0,
                    steps,
                    node_ids,
                })
                .unwrap();
        }
        // 5 frames of 2 columns in two blocks: value = frame + column / 10.
        writer
            .send(Block::Trace {
                trace: 0,
                data: vec![0.0, 0.1, 1.0, 1.1],
            })
            .unwrap();
        let rest = vec![2.0, 2.1, 3.0, 3.1, 4.0, 4.1];
        writer
            .send(Block::Trace {
                trace: 0,
                data: rest,
            })
            .unwrap();
        writer.finish(17).unwrap();
    }

    #[test]
    fn round_trip_layout_and_values() {
        let tmp = TempPath::new("roundtrip");
        write_sample(&tmp.0);
        let file = File::open(&tmp.0).unwrap();

        // Root attributes: as given, except steps = 17 simulated (not 20 planned).
        assert_eq!(read_str(&file, "spikesim_version"), "0.1.0-test");
        assert_eq!(read_str(&file, "schema_version"), schema::SCHEMA_VERSION);
        assert_eq!(read_u64(&file, "seed"), 0xDEAD_BEEF_1234);
        assert_eq!(
            file.attr("dt_ms").unwrap().read_scalar::<f64>().unwrap(),
            0.1
        );
        assert_eq!(read_u64(&file, "steps"), 17);
        assert_eq!(read_u64(&file, "threads"), 2);
        assert_eq!(read_str(&file, "config_toml"), header(20).config_toml);
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            1
        );
        let created = read_str(&file, "created_utc");
        assert_eq!(created.len(), "2026-01-01T00:00:00Z".len(), "{created}");
        assert!(
            created.starts_with("20") && created.ends_with('Z'),
            "{created}"
        );

        // input: spikes (step, node) = (0,1) (0,2) (3,0) (7,3) (10,0) (16,0);
        // timestamps are step * 0.1 computed as one product each.
        let input = file.group("spikes/input").unwrap();
        let steps = [0u64, 0, 3, 7, 10, 16];
        let expected: Vec<f64> = steps.iter().map(|&s| s as f64 * 0.1).collect();
        let timestamps = input.dataset("timestamps").unwrap();
        assert_eq!(timestamps.read_raw::<f64>().unwrap(), expected);
        assert_eq!(expected[4], 1.0); // 10 * 0.1 rounds to exactly 1.0; 0.1 summed ten times does not
        assert_eq!(read_str(&timestamps, "units"), "ms");
        assert!(timestamps.is_chunked() && timestamps.is_resizable());
        assert_eq!(timestamps.chunk(), Some(vec![schema::SPIKE_CHUNK_ELEMS]));
        let node_ids = input.dataset("node_ids").unwrap();
        assert_eq!(node_ids.read_raw::<u64>().unwrap(), vec![1, 2, 0, 3, 0, 0]);
        assert_eq!(
            input
                .attr("sorting")
                .unwrap()
                .read_scalar::<Sorting>()
                .unwrap(),
            Sorting::ByTime
        );
        assert_eq!(read_u64(&input, "n_nodes"), 4);
        if hdf5::filters::deflate_available() {
            assert_eq!(node_ids.filters(), vec![hdf5::filters::Filter::deflate(1)]);
        }

        // exc never spiked: its group, attributes and empty datasets still exist.
        let exc = file.group("spikes/exc").unwrap();
        assert_eq!(exc.dataset("timestamps").unwrap().shape(), vec![0]);
        assert_eq!(exc.dataset("node_ids").unwrap().shape(), vec![0]);
        assert_eq!(read_u64(&exc, "n_nodes"), 3);
        assert_eq!(
            exc.attr("sorting")
                .unwrap()
                .read_scalar::<Sorting>()
                .unwrap(),
            Sorting::ByTime
        );

        // The trace: 5 frames × 2 columns, in order.
        let report = file.group("report/input/voltage").unwrap();
        let data = report.dataset("data").unwrap();
        let expected = Array2::from_shape_vec(
            (5, 2),
            vec![0.0f32, 0.1, 1.0, 1.1, 2.0, 2.1, 3.0, 3.1, 4.0, 4.1],
        )
        .unwrap();
        assert_eq!(data.read_2d::<f32>().unwrap(), expected);
        assert_eq!(read_str(&data, "units"), "mV");
        // 2 columns: 262144 / 8 = 32768 rows a chunk.
        assert_eq!(data.chunk(), Some(vec![32_768, 2]));
        let mapping = report.group("mapping").unwrap();
        assert_eq!(
            mapping
                .dataset("node_ids")
                .unwrap()
                .read_raw::<u64>()
                .unwrap(),
            vec![3, 1]
        );
        assert_eq!(
            mapping
                .dataset("index_pointers")
                .unwrap()
                .read_raw::<u64>()
                .unwrap(),
            vec![0, 1, 2]
        );
        assert_eq!(
            mapping
                .dataset("element_ids")
                .unwrap()
                .read_raw::<u32>()
                .unwrap(),
            vec![0, 0]
        );
        // time = [2 * 0.1, (2 + 5 * 3) * 0.1, 0.1 * 3] = [0.2, 1.7, 0.3] (ms), each one product.
        let time = mapping.dataset("time").unwrap();
        assert_eq!(
            time.read_raw::<f64>().unwrap(),
            vec![2.0 * 0.1, 17.0 * 0.1, 0.1 * 3.0]
        );
        assert_eq!(read_str(&time, "units"), "ms");
    }

    #[test]
    fn back_pressure_keeps_every_block_in_order() {
        // Capacity 1: the sender waits on the writer almost every block. 2000 blocks
        // of one spike each (step k, node k % 5) and one trace frame each (value k)
        // must all arrive, in order.
        let tmp = TempPath::new("backpressure");
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 5,
        }];
        let traces = [TraceSpec {
            layer: "l".to_owned(),
            var: "v".to_owned(),
            units: "mV".to_owned(),
            node_ids: vec![0],
            start_step: 0,
            every: 1,
        }];
        let n = 2000u64;
        let writer = Writer::create(&tmp.0, &header(n), &layers, &traces, 1).unwrap();
        for k in 0..n {
            writer
                .send(Block::Spikes {
                    layer: 0,
                    steps: vec![k],
                    node_ids: vec![k % 5],
                })
                .unwrap();
            writer
                .send(Block::Trace {
                    trace: 0,
                    data: vec![k as f32],
                })
                .unwrap();
        }
        writer.finish(n).unwrap();

        let file = File::open(&tmp.0).unwrap();
        let ts = file
            .dataset("spikes/l/timestamps")
            .unwrap()
            .read_raw::<f64>()
            .unwrap();
        let expected: Vec<f64> = (0..n).map(|k| k as f64 * 0.1).collect();
        assert_eq!(ts, expected);
        let ids = file
            .dataset("spikes/l/node_ids")
            .unwrap()
            .read_raw::<u64>()
            .unwrap();
        assert_eq!(ids, (0..n).map(|k| k % 5).collect::<Vec<_>>());
        let data = file
            .dataset("report/l/v/data")
            .unwrap()
            .read_raw::<f32>()
            .unwrap();
        assert_eq!(data, (0..n).map(|k| k as f32).collect::<Vec<_>>());
    }

    #[test]
    fn unwritable_path_fails_in_create_and_leaves_nothing() {
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 1,
        }];
        let missing_dir = TempPath::new("nodir");
        let in_missing_dir = missing_dir.0.join("run.h5");
        for path in [in_missing_dir.as_path(), Path::new("/proc/spikesim-x.h5")] {
            let err = Writer::create(path, &header(1), &layers, &[], 1).unwrap_err();
            assert!(matches!(err, RecordError::Create { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
            assert!(!path.exists());
        }
        assert!(!missing_dir.0.exists());
    }

    #[test]
    fn invalid_setup_fails_before_creating_the_file() {
        let tmp = TempPath::new("invalid");
        let layer = |name: &str| SpikeLayer {
            name: name.to_owned(),
            n_nodes: 1,
        };
        let trace = |every, node_ids| TraceSpec {
            layer: "l".to_owned(),
            var: "v".to_owned(),
            units: "mV".to_owned(),
            node_ids,
            start_step: 0,
            every,
        };
        let cases: Vec<(Vec<SpikeLayer>, Vec<TraceSpec>, &str)> = vec![
            (vec![layer("a/b")], vec![], "contains '/'"),
            (vec![layer("")], vec![], "empty"),
            (vec![layer("x"), layer("x")], vec![], "listed twice"),
            (vec![], vec![trace(0, vec![1])], "every"),
            (vec![], vec![trace(1, vec![])], "no neurons"),
            (
                vec![],
                vec![trace(1, vec![1]), trace(1, vec![2])],
                "listed twice",
            ),
        ];
        for (layers, traces, needle) in cases {
            let err = Writer::create(&tmp.0, &header(1), &layers, &traces, 1).unwrap_err();
            assert!(matches!(err, RecordError::Invalid { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
            assert!(!tmp.0.exists());
        }
        let mut bad_dt = header(1);
        bad_dt.dt_ms = 0.0;
        let err = Writer::create(&tmp.0, &bad_dt, &[], &[], 1).unwrap_err();
        assert!(err.to_string().contains("dt_ms"), "{err}");
    }

    #[test]
    fn bad_block_stops_the_writer_and_is_reported() {
        // Layer `l` has 2 neurons; node id 2 is out of range. The writer stops at
        // that block, so the following send fails (or, if the thread has not got
        // there yet, finish does) with the same error; the file keeps the first
        // block and stays marked incomplete.
        let tmp = TempPath::new("badblock");
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 2,
        }];
        let writer = Writer::create(&tmp.0, &header(10), &layers, &[], 0).unwrap();
        writer
            .send(Block::Spikes {
                layer: 0,
                steps: vec![1],
                node_ids: vec![1],
            })
            .unwrap();
        writer
            .send(Block::Spikes {
                layer: 0,
                steps: vec![2],
                node_ids: vec![2],
            })
            .unwrap();
        let later = writer.send(Block::Spikes {
            layer: 0,
            steps: vec![3],
            node_ids: vec![0],
        });
        let err = match later {
            Err(e) => {
                writer.finish(3).unwrap_err();
                e
            }
            Ok(()) => writer.finish(3).unwrap_err(),
        };
        assert!(matches!(err, RecordError::BadBlock { .. }), "{err:?}");
        assert!(err.to_string().contains("node id 2"), "{err}");

        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.dataset("spikes/l/node_ids")
                .unwrap()
                .read_raw::<u64>()
                .unwrap(),
            vec![1]
        );
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
    }

    #[test]
    fn out_of_order_spikes_are_rejected() {
        // (step 5, node 0) after (step 5, node 1) breaks "within a step by node id".
        let tmp = TempPath::new("order");
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 2,
        }];
        let writer = Writer::create(&tmp.0, &header(10), &layers, &[], 4).unwrap();
        writer
            .send(Block::Spikes {
                layer: 0,
                steps: vec![5],
                node_ids: vec![1],
            })
            .unwrap();
        let _ = writer.send(Block::Spikes {
            layer: 0,
            steps: vec![5],
            node_ids: vec![0],
        });
        let err = writer.finish(10).unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
    }

    #[test]
    fn dropped_writer_leaves_a_readable_incomplete_file() {
        // No finish: drop closes the file; steps keeps the planned 10, complete = 0,
        // and the data sent is there.
        let tmp = TempPath::new("dropped");
        let layers = [SpikeLayer {
            name: "l".to_owned(),
            n_nodes: 2,
        }];
        let writer = Writer::create(&tmp.0, &header(10), &layers, &[], 4).unwrap();
        writer
            .send(Block::Spikes {
                layer: 0,
                steps: vec![4],
                node_ids: vec![1],
            })
            .unwrap();
        drop(writer);
        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.dataset("spikes/l/timestamps")
                .unwrap()
                .read_raw::<f64>()
                .unwrap(),
            vec![4.0 * 0.1]
        );
        assert_eq!(read_u64(&file, "steps"), 10);
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
    }

    #[test]
    fn utc_timestamps_of_known_instants() {
        let at = |secs| utc_timestamp(UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        // 30 years with 7 leap days = 10957 days to 2000-01-01, + 31 + 28 = 11016 days
        // = 951782400 s -> the leap day 2000-02-29; one second earlier is Feb 28 23:59:59.
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(951_782_399), "2000-02-28T23:59:59Z");
        // 1700000000 s = 19675 days + 80000 s = 2023-11-14, 22:13:20.
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        // 2100 is not a leap year: 130 years with 32 leap days = 47482 days to
        // 2100-01-01; + 31 + 27 = 47540 days (4107456000 s) is Feb 28, the next day Mar 1.
        assert_eq!(at(4_107_456_000), "2100-02-28T00:00:00Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}
