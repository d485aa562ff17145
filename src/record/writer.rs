//! The background HDF5 writer: one thread owns the output file for the whole
//! run and appends the blocks that the simulation sends it.
//!
//! Lifecycle (open, write, flush, close):
//!
//! 1. [`Writer::create`] validates the recording setup (a [`Layout`]), creates
//!    the file and every group and dataset of the layout in [`schema`] on the
//!    calling thread, so that a bad name or an unwritable path fails before the
//!    run starts and leaves no file behind. It then moves the file into a
//!    spawned thread fed by a bounded channel.
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
//!    writes the final attributes (`steps` and `steps_done` = steps actually
//!    simulated, each report's `time` stop, `complete = 1`) and closes the file.
//!    A run that stops early (interrupt, failure) calls [`Writer::abort`]
//!    instead: it drains the channel the same way but leaves `complete = 0`
//!    and `steps` = the planned steps, and records `steps_done` and the reason
//!    as `error`.
//!
//! Dropping a [`Writer`] without calling `finish` or `abort` (a panic in the
//! simulation) still drains the channel and closes the file cleanly, leaving
//! `complete = 0` without `steps_done` or `error`.
//!
//! When the writer thread stops on an error (a [`Block`] that contradicts the
//! layout, a failed write), the file keeps every block before it; `finish` and
//! `abort` then still record `steps_done` and `error` (as far as the file
//! allows) and return that error.
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
    /// actually simulated ([`Writer::abort`] keeps it).
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
    /// order of [`Block::Samples`]' `counts`; names unique, may be empty.
    pub layers: Vec<SpikeLayer>,
}

/// Everything a file will hold besides the header. Block indices
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
    /// Deflate-compress the growing datasets and the large [`Block::Dataset`]s
    /// (when the HDF5 library has the filter).
    pub compress: bool,
}

/// One unit of work for the writer thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// Spikes of one layer over a run of consecutive steps, time-sorted, within
    /// a step by node id. `steps[k]` and `node_ids[k]` describe spike `k`.
    Spikes {
        /// Index into [`Layout::spikes`].
        layer: usize,
        /// Step of each spike.
        steps: Vec<u64>,
        /// Node id of each spike.
        node_ids: Vec<u64>,
    },
    /// `frames` consecutive frames of one trace, row-major
    /// `frames × node_ids.len()`.
    Trace {
        /// Index into [`Layout::traces`].
        trace: usize,
        /// The values; the length must be a multiple of the trace's column count.
        data: Vec<f32>,
    },
    /// Consecutive bins of one rate: spike counts of the whole layer per bin,
    /// continuing where the previous block of the rate ended.
    Rates {
        /// Index into [`Layout::rates`].
        rate: usize,
        /// One count per bin; each at most `n_nodes · bin_steps`.
        counts: Vec<u64>,
    },
    /// One snapshot of one projection's weights.
    Weights {
        /// Index into [`Layout::weights`].
        weights: usize,
        /// Steps simulated before the snapshot (0 = the initial weights); not
        /// below the previous snapshot's.
        steps_done: u64,
        /// One weight per synapse, in the order of the spec's `pre_ids`;
        /// `data.len() == pre_ids.len()`.
        data: Vec<f32>,
    },
    /// Consecutive samples of the protocol; `index`, `label` and `start_step`
    /// have one entry per sample.
    Samples {
        /// Index of each sample in the dataset.
        index: Vec<u64>,
        /// Label of each sample.
        label: Vec<u8>,
        /// First step of each sample's presentation; strictly increasing
        /// across all blocks.
        start_step: Vec<u64>,
        /// `counts[k]` is row-major samples × `n_nodes` spike counts of
        /// [`SampleSpec::layers`]`[k]`; one entry per layer.
        counts: Vec<Vec<u32>>,
    },
    /// A whole dataset written once, at `path` below the root (groups created
    /// as needed), e.g. `results/accuracy` or `state/theta/exc`.
    ///
    /// Datasets of more than [`DATASET_CONTIGUOUS_MAX_BYTES`] are chunked
    /// (chunks of at most [`DATASET_CHUNK_BYTES`]) and deflate-compressed when
    /// [`Layout::compress`] is set and the library has the filter; others are
    /// contiguous. Shape `[]` is an HDF5 scalar dataspace.
    Dataset {
        /// Slash-separated path; must start with `results/` or `state/`
        /// ([`DATASET_ROOTS`]); every component a valid name (non-empty, no
        /// NUL, not `.` or `..`). Each path is written at most once, and no
        /// dataset may lie below another.
        path: String,
        /// Shape; the product equals the number of values; `[]` = scalar (one value).
        shape: Vec<u64>,
        /// The values, row-major.
        values: Values,
        /// Attributes of the dataset; names non-empty, without NUL, unique.
        attrs: Vec<(String, Attr)>,
    },
}

/// The values of a [`Block::Dataset`], row-major; the variant is the HDF5
/// element type (`float64`, `float32`, `uint32`, `int32`, `uint64`).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    F64(Vec<f64>),
    F32(Vec<f32>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::U32(v) => v.len(),
            Values::I32(v) => v.len(),
            Values::U64(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Size of one value in bytes.
    pub fn elem_bytes(&self) -> usize {
        match self {
            Values::F64(_) | Values::U64(_) => 8,
            Values::F32(_) | Values::U32(_) | Values::I32(_) => 4,
        }
    }
}

/// A scalar attribute of a [`Block::Dataset`]: stored as HDF5 `uint64`,
/// `float64` or a variable-length UTF-8 string (without NUL characters).
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    U64(u64),
    F64(f64),
    Str(String),
}

/// The top-level groups that [`Block::Dataset`] may write below.
pub const DATASET_ROOTS: [&str; 2] = ["results", "state"];
/// A [`Block::Dataset`] of at most this many bytes is stored contiguously.
pub const DATASET_CONTIGUOUS_MAX_BYTES: usize = 64 * 1024;
/// Upper bound in bytes of one chunk of a chunked [`Block::Dataset`].
pub const DATASET_CHUNK_BYTES: usize = 1024 * 1024;

/// Errors of the recording module. Each displays as one line naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be created (bad directory, permissions, HDF5).
    #[error("cannot create output file {}: {reason}", .path.display())]
    Create { path: PathBuf, reason: String },
    /// The recording setup is unusable (bad or duplicate name, empty trace, bad
    /// dt, synapse ids out of range, ...).
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
    /// Loading a checkpoint: the file's run did not complete (root attribute
    /// `complete` is 0 or missing), so its state is not a finished network.
    #[error("cannot load {}: the run did not complete (root attribute complete = 0)", .path.display())]
    Incomplete { path: PathBuf },
}

/// The handle the simulation holds: a sender into the writer thread.
///
/// `Writer` is `Send + Sync`; [`send`](Writer::send) takes `&self`.
pub struct Writer {
    path: PathBuf,
    tx: Option<Sender<Block>>,
    handle: Option<JoinHandle<Ended>>,
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
    /// `path` ([`RecordError::Invalid`]: the header or layout is unusable, and
    /// nothing was touched; [`RecordError::Create`]: the file could not be
    /// created).
    pub fn create(
        path: &Path,
        header: &RunHeader,
        layout: &Layout,
        capacity: usize,
    ) -> Result<Writer, RecordError> {
        validate(header, layout).map_err(|reason| RecordError::Invalid {
            path: path.to_owned(),
            reason,
        })?;
        let create_error = |reason: String| RecordError::Create {
            path: path.to_owned(),
            reason,
        };

        let file = File::create(path).map_err(|e| create_error(create_failure_reason(path, &e)))?;
        let deflate = layout.compress && hdf5::filters::deflate_available();
        let sink = match build_file(file, path, header, layout, deflate) {
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
    /// (`steps` and `steps_done` = the steps actually simulated, each trace's
    /// `time` stop, `complete = 1`), flushes and closes the file.
    ///
    /// If the writer thread had stopped on an error, that error is returned and
    /// the file keeps what was written before it, with `complete = 0`,
    /// `steps_done` and `error` = the error's text (as far as the file can
    /// still be written).
    pub fn finish(mut self, steps_done: u64) -> Result<(), RecordError> {
        match self.join() {
            Ended {
                sink: Some(sink),
                error: None,
            } => sink.close(steps_done, None),
            Ended { sink, error } => {
                let error = error.unwrap_or_else(|| self.lost_thread());
                if let Some(sink) = sink {
                    // Best effort: the file already failed once.
                    let _ = sink.close(steps_done, Some(&error.to_string()));
                }
                Err(error)
            }
        }
    }

    /// Ends a run that stopped early (interrupt, failure): waits for the
    /// thread to write every block already sent, then writes the root
    /// attributes `complete = 0`, `steps_done` and `error = reason`, each
    /// trace's `time` stop, flushes and closes the file. `steps` keeps the
    /// planned number. The file stays readable, with every block sent.
    ///
    /// If the writer thread had itself stopped on an error, the blocks from
    /// that one on are missing: the file still gets `steps_done` and `error`
    /// (`reason`, followed by the writer's error where `reason` does not
    /// already contain it) as far as it can be written, and that error is
    /// returned.
    pub fn abort(mut self, steps_done: u64, reason: &str) -> Result<(), RecordError> {
        match self.join() {
            Ended {
                sink: Some(sink),
                error: None,
            } => sink.close(steps_done, Some(reason)),
            Ended { sink, error } => {
                let error = error.unwrap_or_else(|| self.lost_thread());
                if let Some(sink) = sink {
                    let text = error.to_string();
                    let combined = if reason.contains(&text) {
                        reason.to_owned()
                    } else {
                        format!("{reason}; {text}")
                    };
                    let _ = sink.close(steps_done, Some(&combined));
                }
                Err(error)
            }
        }
    }

    /// Closes the channel and waits for the thread to drain it and end.
    fn join(&mut self) -> Ended {
        drop(self.tx.take());
        let handle = self.handle.take().expect("the thread is joined only once");
        handle.join().unwrap_or_else(|payload| Ended {
            sink: None,
            error: Some(RecordError::Panicked {
                path: self.path.clone(),
                message: panic_message(payload.as_ref()),
            }),
        })
    }

    fn lost_thread(&self) -> RecordError {
        RecordError::Panicked {
            path: self.path.clone(),
            message: "the writer thread ended without its file".to_owned(),
        }
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
    /// Without `finish` or `abort`: let the thread drain the channel and close
    /// the file, which stays marked incomplete.
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

/// What the writer thread hands back: the file (unless a panic lost it) and
/// the error it stopped on, if any.
struct Ended {
    sink: Option<Sink>,
    error: Option<RecordError>,
}

/// Body of the writer thread. Records an error in `failed` before the receiver
/// is dropped, so a sender that finds the channel closed always finds the
/// reason. After an error the file stays open, holding every block before the
/// bad one, for `finish` or `abort` to mark.
fn writer_thread(
    sink: Sink,
    rx: Receiver<Block>,
    path: PathBuf,
    failed: Arc<Mutex<Option<RecordError>>>,
) -> Ended {
    let ended = catch_unwind(AssertUnwindSafe(|| sink.run(&rx))).unwrap_or_else(|payload| Ended {
        sink: None,
        error: Some(RecordError::Panicked {
            path,
            message: panic_message(payload.as_ref()),
        }),
    });
    if let Some(e) = &ended.error {
        *lock(&failed) = Some(e.clone());
    }
    drop(rx);
    ended
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
fn validate(header: &RunHeader, layout: &Layout) -> Result<(), String> {
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
    layout: &Layout,
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
    let mut spikes = Vec::with_capacity(layout.spikes.len());
    for layer in &layout.spikes {
        let group = ordered_group(&spikes_group, &layer.name)?;
        scalar_attr(&group, schema::ATTR_SORTING, &Sorting::ByTime)?;
        scalar_attr(&group, schema::ATTR_N_NODES, &layer.n_nodes)?;
        let chunk = schema::SPIKE_CHUNK_ELEMS;
        let timestamps = growing_1d::<f64>(&group, schema::DS_TIMESTAMPS, chunk, deflate)?;
        str_attr(&timestamps, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        let node_ids = growing_1d::<u64>(&group, schema::DS_NODE_IDS, chunk, deflate)?;
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
    let mut trace_sinks = Vec::with_capacity(layout.traces.len());
    for trace in &layout.traces {
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

    let series = schema::SERIES_CHUNK_ELEMS;
    let rates_group = ordered_group(&file, schema::RATES_GROUP)?;
    let mut rates = Vec::with_capacity(layout.rates.len());
    for rate in &layout.rates {
        let group = ordered_group(&rates_group, &rate.layer)?;
        scalar_attr(
            &group,
            schema::ATTR_BIN_MS,
            &(rate.bin_steps as f64 * header.dt_ms),
        )?;
        scalar_attr(&group, schema::ATTR_N_NODES, &rate.n_nodes)?;
        let counts = growing_1d::<u64>(&group, schema::DS_COUNTS, series, deflate)?;
        str_attr(&counts, schema::ATTR_UNITS, schema::RATE_UNITS)?;
        rates.push(RateSink {
            layer: rate.layer.clone(),
            max_count: rate.n_nodes.saturating_mul(rate.bin_steps),
            counts,
            bins: 0,
        });
    }

    let weights_group = ordered_group(&file, schema::WEIGHTS_GROUP)?;
    let mut weights = Vec::with_capacity(layout.weights.len());
    for w in &layout.weights {
        let group = ordered_group(&weights_group, &w.projection)?;
        str_attr(&group, schema::ATTR_PRE, &w.pre)?;
        str_attr(&group, schema::ATTR_POST, &w.post)?;
        scalar_attr(&group, schema::ATTR_N_PRE, &w.n_pre)?;
        scalar_attr(&group, schema::ATTR_N_POST, &w.n_post)?;
        fixed_1d(&group, schema::DS_PRE_IDS, &w.pre_ids, deflate)?;
        fixed_1d(&group, schema::DS_POST_IDS, &w.post_ids, deflate)?;
        let n = w.pre_ids.len();
        let chunk = schema::chunk_2d(n, size_of::<f32>(), schema::WEIGHT_CHUNK_BYTES);
        let data = growing_2d::<f32>(&group, schema::DS_DATA, n, chunk, deflate)?;
        str_attr(&data, schema::ATTR_UNITS, schema::WEIGHT_UNITS)?;
        let steps_done = growing_1d::<u64>(&group, schema::DS_STEPS_DONE, series, deflate)?;
        str_attr(&steps_done, schema::ATTR_UNITS, schema::STEP_UNITS)?;
        let time_ms = growing_1d::<f64>(&group, schema::DS_TIME_MS, series, deflate)?;
        str_attr(&time_ms, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        weights.push(WeightSink {
            projection: w.projection.clone(),
            n_synapses: n,
            data,
            steps_done,
            time_ms,
            snapshots: 0,
            last_step: None,
        });
    }

    let samples = match &layout.samples {
        None => None,
        Some(spec) => {
            let group = file.create_group(schema::SAMPLES_GROUP)?;
            str_attr(&group, schema::ATTR_DATASET, &spec.dataset)?;
            scalar_attr(&group, schema::ATTR_ROWS, &spec.rows)?;
            scalar_attr(&group, schema::ATTR_COLS, &spec.cols)?;
            scalar_attr(&group, schema::ATTR_STEPS_PER_IMAGE, &spec.steps_per_image)?;
            scalar_attr(&group, schema::ATTR_REST_STEPS, &spec.rest_steps)?;
            let index = growing_1d::<u64>(&group, schema::DS_INDEX, series, deflate)?;
            let label = growing_1d::<u8>(&group, schema::DS_LABEL, series, deflate)?;
            let start_ms = growing_1d::<f64>(&group, schema::DS_START_MS, series, deflate)?;
            str_attr(&start_ms, schema::ATTR_UNITS, schema::TIME_UNITS)?;
            let counts_group = ordered_group(&group, schema::SAMPLE_COUNTS_GROUP)?;
            let mut counts = Vec::with_capacity(spec.layers.len());
            for layer in &spec.layers {
                let n = usize::try_from(layer.n_nodes)
                    .map_err(|_| hdf5::Error::from("layer too large for this machine"))?;
                let chunk = schema::chunk_2d(n, size_of::<u32>(), schema::SAMPLE_CHUNK_BYTES);
                let ds = growing_2d::<u32>(&counts_group, &layer.name, n, chunk, deflate)?;
                str_attr(&ds, schema::ATTR_UNITS, schema::SAMPLE_COUNT_UNITS)?;
                counts.push((layer.name.clone(), n, ds));
            }
            Some(SampleSink {
                index,
                label,
                start_ms,
                counts,
                len: 0,
                last_start: None,
            })
        }
    };

    // The empty layout is on disk before the first step.
    file.flush()?;
    Ok(Sink {
        path: path.to_owned(),
        file,
        dt_ms: header.dt_ms,
        spikes,
        traces: trace_sinks,
        rates,
        weights,
        samples,
        deflate,
        datasets: HashSet::new(),
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

/// An empty, extendible, chunked 1-D dataset of `chunk` elements a chunk.
fn growing_1d<T: H5Type>(
    group: &Group,
    name: &str,
    chunk: usize,
    deflate: bool,
) -> hdf5::Result<Dataset> {
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

/// An empty 2-D dataset of `n_cols` columns, extendible along its rows and
/// chunked as `chunk` (from [`schema::chunk_2d`]). With no columns the column
/// dimension is extendible too, since a chunk cannot exceed a fixed size of 0.
fn growing_2d<T: H5Type>(
    group: &Group,
    name: &str,
    n_cols: usize,
    chunk: (usize, usize),
    deflate: bool,
) -> hdf5::Result<Dataset> {
    let builder = group.new_dataset::<T>();
    let builder = if n_cols == 0 {
        builder.shape((0.., 0..))
    } else {
        builder.shape((0.., n_cols))
    };
    let chunk_bytes = chunk.0 * chunk.1 * size_of::<T>();
    let mut builder = builder.chunk(chunk).chunk_cache(
        CHUNK_CACHE_SLOTS,
        cache_bytes(chunk_bytes),
        CHUNK_CACHE_W0,
    );
    if deflate {
        builder = builder.deflate(schema::DEFLATE_LEVEL);
    }
    builder.create(name)
}

/// A fixed-size 1-D dataset holding `data` (which may be empty); compressed
/// in chunks where the library has deflate.
fn fixed_1d<T: H5Type>(
    group: &Group,
    name: &str,
    data: &[T],
    deflate: bool,
) -> hdf5::Result<Dataset> {
    let builder = group.new_dataset_builder().with_data(data);
    if deflate && !data.is_empty() {
        builder
            .chunk(data.len().min(schema::SPIKE_CHUNK_ELEMS))
            .deflate(schema::DEFLATE_LEVEL)
            .create(name)
    } else {
        builder.create(name)
    }
}

/// Checks a [`Block::Dataset`] against its rules and the paths of the
/// datasets written before (`written`); returns its shape in elements.
fn check_dataset(
    path: &str,
    shape: &[u64],
    values: &Values,
    attrs: &[(String, Attr)],
    written: &HashSet<String>,
) -> Result<Vec<usize>, String> {
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
    let mut dims = Vec::with_capacity(shape.len());
    let mut size: usize = 1;
    for &d in shape {
        let d = usize::try_from(d).map_err(|_| too_large())?;
        size = size.checked_mul(d).ok_or_else(too_large)?;
        dims.push(d);
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
    Ok(dims)
}

/// The group `name` of `parent`, created (remembering creation order) where
/// it does not exist yet.
fn child_group(parent: &Group, name: &str) -> hdf5::Result<Group> {
    if parent.link_exists(name) {
        parent.group(name)
    } else {
        ordered_group(parent, name)
    }
}

/// A fixed-size dataset of shape `dims` holding `data` (row-major): a scalar
/// dataspace for `[]`, contiguous up to [`DATASET_CONTIGUOUS_MAX_BYTES`], and
/// above that chunked by [`chunk_nd`] and deflate-compressed where `deflate`.
fn whole_dataset<T: H5Type>(
    group: &Group,
    name: &str,
    dims: &[usize],
    data: &[T],
    deflate: bool,
) -> hdf5::Result<Dataset> {
    if dims.is_empty() {
        let ds = group.new_dataset::<T>().shape(()).create(name)?;
        ds.write_scalar(&data[0])?;
        return Ok(ds);
    }
    let mut builder = group.new_dataset::<T>().shape(dims.to_vec());
    let bytes = std::mem::size_of_val(data);
    if deflate && bytes > DATASET_CONTIGUOUS_MAX_BYTES {
        builder = builder
            .chunk(chunk_nd(dims, size_of::<T>(), DATASET_CHUNK_BYTES))
            .deflate(schema::DEFLATE_LEVEL);
    }
    let ds = builder.create(name)?;
    if !data.is_empty() {
        ds.write_raw(data)?;
    }
    Ok(ds)
}

/// Chunk shape of a fixed-size dataset of shape `dims` (no dimension 0) of
/// `elem_bytes`-byte elements, at most `max_bytes` a chunk: the trailing
/// dimensions whole as far as they fit, then as much of the next as fits.
fn chunk_nd(dims: &[usize], elem_bytes: usize, max_bytes: usize) -> Vec<usize> {
    let mut budget = (max_bytes / elem_bytes.max(1)).max(1);
    let mut chunk = vec![1; dims.len()];
    for (c, &d) in chunk.iter_mut().zip(dims).rev() {
        *c = budget.clamp(1, d.max(1));
        budget /= *c;
    }
    chunk
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
    rates: Vec<RateSink>,
    weights: Vec<WeightSink>,
    samples: Option<SampleSink>,
    /// Whether growing and large datasets are deflate-compressed.
    deflate: bool,
    /// Paths of the [`Block::Dataset`]s written so far.
    datasets: HashSet<String>,
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

struct RateSink {
    layer: String,
    /// `n_nodes · bin_steps`: no bin can hold more spikes.
    max_count: u64,
    counts: Dataset,
    /// Bins written so far.
    bins: usize,
}

struct WeightSink {
    projection: String,
    n_synapses: usize,
    data: Dataset,
    steps_done: Dataset,
    time_ms: Dataset,
    /// Snapshots written so far.
    snapshots: usize,
    /// `steps_done` of the last snapshot, to check the order.
    last_step: Option<u64>,
}

struct SampleSink {
    index: Dataset,
    label: Dataset,
    start_ms: Dataset,
    /// Per counted layer: name, number of neurons (columns), dataset.
    counts: Vec<(String, usize, Dataset)>,
    /// Samples written so far.
    len: usize,
    /// First step of the last sample written, to check the order.
    last_start: Option<u64>,
}

/// Appends `data` to the 1-D dataset `ds` that holds `start` elements.
fn append_1d<T: H5Type>(ds: &Dataset, start: usize, data: &[T]) -> hdf5::Result<()> {
    let end = start + data.len();
    ds.resize(end)?;
    ds.write_slice(data, start..end)
}

/// Appends `rows` rows of `n_cols` columns (row-major `data`, of length
/// `rows · n_cols`) to the 2-D dataset `ds` that holds `start` rows.
fn append_rows<T: H5Type>(
    ds: &Dataset,
    start: usize,
    rows: usize,
    n_cols: usize,
    data: &[T],
) -> hdf5::Result<()> {
    let end = start + rows;
    ds.resize((end, n_cols))?;
    if n_cols == 0 {
        return Ok(());
    }
    let view = ArrayView2::from_shape((rows, n_cols), data)
        .map_err(|e| hdf5::Error::from(format!("{}: {e}", ds.name())))?;
    ds.write_slice(view, s![start..end, ..])
}

/// Writes a scalar attribute, creating it where it does not exist yet.
fn set_attr<T: H5Type>(loc: &Location, name: &str, value: &T) -> hdf5::Result<()> {
    if loc.attr_names()?.iter().any(|n| n == name) {
        loc.attr(name)?.write_scalar(value)
    } else {
        scalar_attr(loc, name, value)
    }
}

/// `text` as an HDF5 string: NUL characters, which HDF5 strings cannot hold,
/// become U+FFFD.
fn h5_string(text: &str) -> VarLenUnicode {
    text.replace('\0', "\u{fffd}")
        .parse()
        .expect("a string without NUL characters")
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
    /// Appends blocks until every sender is gone or a block fails, flushing
    /// now and then; hands the file back either way.
    fn run(mut self, rx: &Receiver<Block>) -> Ended {
        let result = self.drain(rx);
        Ended {
            sink: Some(self),
            error: result.err(),
        }
    }

    fn drain(&mut self, rx: &Receiver<Block>) -> Result<(), RecordError> {
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
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
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
            Block::Rates { rate, counts } => self.append_rates(rate, &counts),
            Block::Weights {
                weights,
                steps_done,
                data,
            } => self.append_weights(weights, steps_done, &data),
            Block::Samples {
                index,
                label,
                start_step,
                counts,
            } => self.append_samples(&index, &label, &start_step, &counts),
            Block::Dataset {
                path,
                shape,
                values,
                attrs,
            } => self.write_dataset(path, &shape, &values, &attrs),
        }
    }

    /// Writes one [`Block::Dataset`] after checking it against the block's
    /// rules and the datasets written before; nothing is written for a bad block.
    fn write_dataset(
        &mut self,
        path: String,
        shape: &[u64],
        values: &Values,
        attrs: &[(String, Attr)],
    ) -> Result<(), RecordError> {
        let dims = check_dataset(&path, shape, values, attrs, &self.datasets)
            .map_err(|reason| self.bad_block(reason))?;
        let components: Vec<&str> = path.split('/').collect();
        let (leaf, parents) = components
            .split_last()
            .expect("checked: at least 2 components");
        let deflate = self.deflate;
        let written = (|| -> hdf5::Result<()> {
            let mut group = child_group(&self.file, parents[0])?;
            for name in &parents[1..] {
                group = child_group(&group, name)?;
            }
            let ds = match values {
                Values::F64(v) => whole_dataset(&group, leaf, &dims, v, deflate)?,
                Values::F32(v) => whole_dataset(&group, leaf, &dims, v, deflate)?,
                Values::U32(v) => whole_dataset(&group, leaf, &dims, v, deflate)?,
                Values::I32(v) => whole_dataset(&group, leaf, &dims, v, deflate)?,
                Values::U64(v) => whole_dataset(&group, leaf, &dims, v, deflate)?,
            };
            for (name, value) in attrs {
                match value {
                    Attr::U64(x) => scalar_attr(&ds, name, x)?,
                    Attr::F64(x) => scalar_attr(&ds, name, x)?,
                    Attr::Str(text) => str_attr(&ds, name, text)?,
                }
            }
            Ok(())
        })();
        written.map_err(|e| self.write_error(e))?;
        self.datasets.insert(path);
        Ok(())
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

    fn append_rates(&mut self, rate: usize, counts: &[u64]) -> Result<(), RecordError> {
        let Some(sink) = self.rates.get(rate) else {
            return Err(self.bad_block(format!(
                "rate block for rate index {rate}, but {} rates were declared",
                self.rates.len()
            )));
        };
        if let Some((k, &count)) = counts
            .iter()
            .enumerate()
            .find(|(_, c)| **c > sink.max_count)
        {
            return Err(self.bad_block(format!(
                "rate block for layer {}: bin {} holds {count} spikes, more than its \
                 neurons can fire in one bin ({})",
                sink.layer,
                sink.bins + k,
                sink.max_count
            )));
        }
        if counts.is_empty() {
            return Ok(());
        }
        append_1d(&sink.counts, sink.bins, counts).map_err(|e| self.write_error(e))?;
        self.rates[rate].bins += counts.len();
        Ok(())
    }

    fn append_weights(
        &mut self,
        weights: usize,
        steps_done: u64,
        data: &[f32],
    ) -> Result<(), RecordError> {
        let Some(sink) = self.weights.get(weights) else {
            return Err(self.bad_block(format!(
                "weight block for weights index {weights}, but {} projections were declared",
                self.weights.len()
            )));
        };
        if data.len() != sink.n_synapses {
            return Err(self.bad_block(format!(
                "weight block for projection {} holds {} weights, but it has {} synapses",
                sink.projection,
                data.len(),
                sink.n_synapses
            )));
        }
        if let Some(last) = sink.last_step
            && steps_done < last
        {
            return Err(self.bad_block(format!(
                "weight snapshot of projection {} after {steps_done} steps comes after one \
                 after {last} steps",
                sink.projection
            )));
        }
        let row = sink.snapshots;
        let time = steps_done as f64 * self.dt_ms;
        let written = append_rows(&sink.data, row, 1, sink.n_synapses, data)
            .and_then(|()| append_1d(&sink.steps_done, row, &[steps_done]))
            .and_then(|()| append_1d(&sink.time_ms, row, &[time]));
        written.map_err(|e| self.write_error(e))?;
        let sink = &mut self.weights[weights];
        sink.snapshots += 1;
        sink.last_step = Some(steps_done);
        Ok(())
    }

    fn append_samples(
        &mut self,
        index: &[u64],
        label: &[u8],
        start_step: &[u64],
        counts: &[Vec<u32>],
    ) -> Result<(), RecordError> {
        let Some(sink) = &self.samples else {
            return Err(
                self.bad_block("samples block, but the layout declares no samples".to_owned())
            );
        };
        let m = index.len();
        if label.len() != m || start_step.len() != m {
            return Err(self.bad_block(format!(
                "samples block has {m} indices, {} labels and {} start steps",
                label.len(),
                start_step.len()
            )));
        }
        if counts.len() != sink.counts.len() {
            return Err(self.bad_block(format!(
                "samples block has counts of {} layers, but {} layers were declared",
                counts.len(),
                sink.counts.len()
            )));
        }
        for ((name, n, _), c) in sink.counts.iter().zip(counts) {
            if m.checked_mul(*n) != Some(c.len()) {
                return Err(self.bad_block(format!(
                    "samples block: counts of layer {name} hold {} values, expected \
                     {m} samples × {n} neurons",
                    c.len()
                )));
            }
        }
        let mut last = sink.last_start;
        for &step in start_step {
            if let Some(prev) = last
                && step <= prev
            {
                return Err(self.bad_block(format!(
                    "samples out of order: a sample starting at step {step} after one \
                     starting at step {prev}"
                )));
            }
            last = Some(step);
        }
        if m == 0 {
            return Ok(());
        }
        let dt = self.dt_ms;
        let start_ms: Vec<f64> = start_step.iter().map(|&step| step as f64 * dt).collect();
        let row = sink.len;
        let written = append_1d(&sink.index, row, index)
            .and_then(|()| append_1d(&sink.label, row, label))
            .and_then(|()| append_1d(&sink.start_ms, row, &start_ms))
            .and_then(|()| {
                sink.counts
                    .iter()
                    .zip(counts)
                    .try_for_each(|((_, n, ds), c)| append_rows(ds, row, m, *n, c))
            });
        written.map_err(|e| self.write_error(e))?;
        let sink = self.samples.as_mut().expect("checked above");
        sink.len += m;
        sink.last_start = last;
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

    /// Writes the final attributes and closes the file. Without `error` the
    /// run is complete: `steps` and `steps_done` become `steps_done` and
    /// `complete` 1. With one, `steps` keeps the planned number, `complete`
    /// stays 0 and `error` records why the run stopped.
    fn close(self, steps_done: u64, error: Option<&str>) -> Result<(), RecordError> {
        let file = &self.file;
        let finished = self
            .write_times()
            .and_then(|()| set_attr(file, schema::ATTR_STEPS_DONE, &steps_done))
            .and_then(|()| match error {
                None => set_attr(file, schema::ATTR_STEPS, &steps_done)
                    .and_then(|()| set_attr(file, schema::ATTR_COMPLETE, &1u8)),
                Some(reason) => set_attr(file, schema::ATTR_COMPLETE, &0u8)
                    .and_then(|()| set_attr(file, schema::ATTR_ERROR, &h5_string(reason))),
            })
            .and_then(|()| file.flush());
        finished.map_err(|e| self.write_error(e))?;
        let Sink {
            path,
            file,
            spikes,
            traces,
            rates,
            weights,
            samples,
            ..
        } = self;
        // Close every dataset first, so that closing the file really closes it.
        drop((spikes, traces, rates, weights, samples));
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

    /// A layout of spikes and traces only.
    pub(crate) fn layout(spikes: &[SpikeLayer], traces: &[TraceSpec]) -> Layout {
        Layout {
            spikes: spikes.to_vec(),
            traces: traces.to_vec(),
            compress: true,
            ..Layout::default()
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
            compress: true,
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

    /// Sends every block of the round-trip sample (see `sample_layout`).
    pub(crate) fn send_sample(writer: &Writer) {
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
        // The spikes of `input` per 5-step bin: steps 0, 0, 3 | 7 | 10 | 16 = 3, 1, 1, 1;
        // in two blocks. `exc` gets no rate block.
        for counts in [vec![3, 1], vec![], vec![1, 1]] {
            writer.send(Block::Rates { rate: 0, counts }).unwrap();
        }
        for (steps_done, data) in SAMPLE_SNAPSHOTS {
            writer
                .send(Block::Weights {
                    weights: 0,
                    steps_done,
                    data: data.to_vec(),
                })
                .unwrap();
        }
        // The projection without synapses: two empty snapshots.
        for steps_done in [0, 17] {
            writer
                .send(Block::Weights {
                    weights: 1,
                    steps_done,
                    data: vec![],
                })
                .unwrap();
        }
        // Three samples (8 steps apart) in two blocks; counts of exc (3) then input (4).
        writer
            .send(Block::Samples {
                index: vec![7],
                label: vec![1],
                start_step: vec![0],
                counts: vec![vec![0, 1, 2], vec![1, 0, 0, 2]],
            })
            .unwrap();
        writer
            .send(Block::Samples {
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
        // finish also writes steps_done; a complete file has no error.
        assert_eq!(read_u64(&file, "steps_done"), 17);
        assert!(file.attr("error").is_err());
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
        let writer = Writer::create(&tmp.0, &header(n), &layout(&layers, &traces), 1).unwrap();
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
            let err = Writer::create(path, &header(1), &layout(&layers, &[]), 1).unwrap_err();
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
            let err = Writer::create(&tmp.0, &header(1), &layout(&layers, &traces), 1).unwrap_err();
            assert!(matches!(err, RecordError::Invalid { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{err}");
            assert!(!tmp.0.exists());
        }
        let mut bad_dt = header(1);
        bad_dt.dt_ms = 0.0;
        let err = Writer::create(&tmp.0, &bad_dt, &Layout::default(), 1).unwrap_err();
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
        let writer = Writer::create(&tmp.0, &header(10), &layout(&layers, &[]), 0).unwrap();
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
        let writer = Writer::create(&tmp.0, &header(10), &layout(&layers, &[]), 4).unwrap();
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
        let writer = Writer::create(&tmp.0, &header(10), &layout(&layers, &[]), 4).unwrap();
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
        // Nobody said how far the run got or why it stopped.
        assert!(file.attr("steps_done").is_err());
        assert!(file.attr("error").is_err());
    }

    #[test]
    fn round_trip_rates_weights_and_samples() {
        let tmp = TempPath::new("roundtrip-new");
        write_sample(&tmp.0);
        let file = File::open(&tmp.0).unwrap();
        let dt = 0.1;

        // Rates of `input`: bins of 5 steps = 5 * 0.1 = 0.5 ms; counts 3, 1, 1, 1
        // (steps 0, 0, 3 | 7 | 10 | 16) from blocks [3, 1], [], [1, 1].
        let input = file.group("rates/input").unwrap();
        assert_eq!(
            input.attr("bin_ms").unwrap().read_scalar::<f64>().unwrap(),
            5.0 * dt
        );
        assert_eq!(read_u64(&input, "n_nodes"), 4);
        let counts = input.dataset("counts").unwrap();
        assert_eq!(counts.read_raw::<u64>().unwrap(), vec![3, 1, 1, 1]);
        assert_eq!(read_str(&counts, "units"), "spikes/bin");
        assert!(counts.is_resizable());
        assert_eq!(counts.chunk(), Some(vec![schema::SERIES_CHUNK_ELEMS]));
        // `exc`: bins of 10 steps = 1.0 ms, n_nodes 3, no block: no bins.
        let exc = file.group("rates/exc").unwrap();
        assert_eq!(
            exc.attr("bin_ms").unwrap().read_scalar::<f64>().unwrap(),
            10.0 * dt
        );
        assert_eq!(read_u64(&exc, "n_nodes"), 3);
        assert_eq!(exc.dataset("counts").unwrap().shape(), vec![0]);

        // Weights of input_exc: ids as declared, 3 snapshots × 4 synapses in order,
        // steps 0, 10, 17 -> 0 * 0.1, 10 * 0.1, 17 * 0.1 ms (one product each).
        let w = file.group("weights/input_exc").unwrap();
        assert_eq!(read_str(&w, "pre"), "input");
        assert_eq!(read_str(&w, "post"), "exc");
        assert_eq!((read_u64(&w, "n_pre"), read_u64(&w, "n_post")), (4, 3));
        let ids = |name: &str| w.dataset(name).unwrap().read_raw::<u32>().unwrap();
        assert_eq!(ids("pre_ids"), vec![0, 0, 1, 3]);
        assert_eq!(ids("post_ids"), vec![0, 2, 1, 2]);
        let data = w.dataset("data").unwrap();
        let expected: Vec<f32> = SAMPLE_SNAPSHOTS.iter().flat_map(|(_, d)| *d).collect();
        assert_eq!(
            data.read_2d::<f32>().unwrap(),
            Array2::from_shape_vec((3, 4), expected).unwrap()
        );
        assert_eq!(read_str(&data, "units"), "nA");
        assert!(data.is_resizable());
        // 4 synapses of 4 bytes: 1 MiB / 16 = 65536 snapshots a chunk.
        assert_eq!(data.chunk(), Some(vec![65_536, 4]));
        let steps = w.dataset("steps_done").unwrap();
        assert_eq!(steps.read_raw::<u64>().unwrap(), vec![0, 10, 17]);
        assert_eq!(read_str(&steps, "units"), "steps");
        assert!(w.dataset("pre_ids").unwrap().attr("units").is_err());
        let time = w.dataset("time_ms").unwrap();
        assert_eq!(
            time.read_raw::<f64>().unwrap(),
            vec![0.0, 10.0 * dt, 17.0 * dt]
        );
        assert_eq!(read_str(&time, "units"), "ms");
        // exc_exc has no synapses: empty ids and 2 snapshots of 0 weights.
        let e = file.group("weights/exc_exc").unwrap();
        assert_eq!(e.dataset("pre_ids").unwrap().shape(), vec![0]);
        assert_eq!(e.dataset("post_ids").unwrap().shape(), vec![0]);
        assert_eq!(e.dataset("data").unwrap().shape(), vec![2, 0]);
        assert_eq!(
            e.dataset("steps_done").unwrap().read_raw::<u64>().unwrap(),
            vec![0, 17]
        );

        // Samples: 3 in two blocks; starts 0, 8, 16 -> 0, 0.8, 1.6 ms.
        let samples = file.group("samples").unwrap();
        assert_eq!(read_str(&samples, "dataset"), "synthetic");
        let shape =
            ["rows", "cols", "steps_per_image", "rest_steps"].map(|a| read_u64(&samples, a));
        assert_eq!(shape, [2, 3, 5, 3]);
        let ds = |name: &str| samples.dataset(name).unwrap();
        assert_eq!(ds("index").read_raw::<u64>().unwrap(), vec![7, 2, 5]);
        assert_eq!(ds("label").read_raw::<u8>().unwrap(), vec![1, 0, 9]);
        assert_eq!(
            ds("start_ms").read_raw::<f64>().unwrap(),
            vec![0.0, 8.0 * dt, 16.0 * dt]
        );
        assert_eq!(read_str(&ds("start_ms"), "units"), "ms");
        assert!(ds("index").attr("units").is_err());
        assert!(ds("label").attr("units").is_err());
        // exc: rows [0 1 2] from the first block, [3 0 0] [0 0 1] from the second.
        let exc = samples.dataset("counts/exc").unwrap();
        assert_eq!(
            exc.read_2d::<u32>().unwrap(),
            Array2::from_shape_vec((3, 3), vec![0, 1, 2, 3, 0, 0, 0, 0, 1]).unwrap()
        );
        assert_eq!(read_str(&exc, "units"), "spikes");
        // 3 columns of 4 bytes: 256 KiB / 12 = 21845 samples a chunk.
        assert_eq!(exc.chunk(), Some(vec![21_845, 3]));
        let input = samples.dataset("counts/input").unwrap();
        assert_eq!(
            input.read_2d::<u32>().unwrap(),
            Array2::from_shape_vec((3, 4), vec![1, 0, 0, 2, 0, 0, 1, 0, 1, 1, 1, 1]).unwrap()
        );
        if hdf5::filters::deflate_available() {
            assert_eq!(exc.filters(), vec![hdf5::filters::Filter::deflate(1)]);
            assert_eq!(data.filters(), vec![hdf5::filters::Filter::deflate(1)]);
        }
    }

    #[test]
    fn a_file_without_rates_weights_or_samples_has_empty_groups() {
        // The groups of /rates and /weights exist even when empty; /samples does
        // not exist without a sample spec.
        let tmp = TempPath::new("bare");
        let writer = Writer::create(&tmp.0, &header(3), &Layout::default(), 1).unwrap();
        writer.finish(3).unwrap();
        let file = File::open(&tmp.0).unwrap();
        assert!(
            file.group("rates")
                .unwrap()
                .member_names()
                .unwrap()
                .is_empty()
        );
        assert!(
            file.group("weights")
                .unwrap()
                .member_names()
                .unwrap()
                .is_empty()
        );
        assert!(!file.link_exists("samples"));
    }

    #[test]
    fn large_snapshot_spans_column_chunks() {
        // 784 * 400 = 313600 synapses (dense input -> exc of Diehl & Cook): one
        // snapshot is 1254400 bytes > 1 MiB, so a chunk is one snapshot's first
        // 262144 weights (1 MiB) and a snapshot spans 2 chunks. Weight k of
        // snapshot s is k + s / 2 (exact in f32 below 2^24).
        let tmp = TempPath::new("large");
        let (n_pre, n_post) = (784u32, 400u32);
        let pre_ids: Vec<u32> = (0..n_pre)
            .flat_map(|j| std::iter::repeat_n(j, 400))
            .collect();
        let post_ids: Vec<u32> = (0..n_pre).flat_map(|_| 0..n_post).collect();
        let n = pre_ids.len();
        assert_eq!(n, 313_600);
        let layout = Layout {
            weights: vec![WeightSpec {
                projection: "input_exc".to_owned(),
                pre: "input".to_owned(),
                post: "exc".to_owned(),
                n_pre: n_pre.into(),
                n_post: n_post.into(),
                pre_ids,
                post_ids,
            }],
            ..Layout::default()
        };
        let writer = Writer::create(&tmp.0, &header(100), &layout, 1).unwrap();
        let snapshot = |s: u64| -> Vec<f32> { (0..n).map(|k| k as f32 + s as f32 / 2.0).collect() };
        for s in 0..3 {
            writer
                .send(Block::Weights {
                    weights: 0,
                    steps_done: s * 50,
                    data: snapshot(s),
                })
                .unwrap();
        }
        writer.finish(100).unwrap();
        let file = File::open(&tmp.0).unwrap();
        let data = file.dataset("weights/input_exc/data").unwrap();
        assert_eq!(data.shape(), vec![3, n]);
        assert_eq!(data.chunk(), Some(vec![1, 262_144]));
        let all = data.read_raw::<f32>().unwrap();
        let expected: Vec<f32> = (0..3).flat_map(snapshot).collect();
        assert!(all == expected, "snapshots differ");
        let pre = file
            .dataset("weights/input_exc/pre_ids")
            .unwrap()
            .read_raw::<u32>()
            .unwrap();
        // Synapse 400 * 5 + 7 = 2007 goes from input 5 to exc 7.
        assert_eq!(pre[2007], 5);
    }

    #[test]
    fn abort_keeps_every_block_and_records_why() {
        // The sample's blocks, then abort after 17 of 20 planned steps: complete
        // stays 0, steps keeps the planned 20, steps_done = 17, error = the reason,
        // and every block sent is in the file (spot checks of each kind).
        let tmp = TempPath::new("abort");
        let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 2).unwrap();
        send_sample(&writer);
        writer.abort(17, "interrupted by the user").unwrap();

        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
        assert_eq!(read_u64(&file, "steps"), 20);
        assert_eq!(read_u64(&file, "steps_done"), 17);
        assert_eq!(read_str(&file, "error"), "interrupted by the user");
        let read_u64s = |p: &str| file.dataset(p).unwrap().read_raw::<u64>().unwrap();
        assert_eq!(read_u64s("spikes/input/node_ids"), vec![1, 2, 0, 3, 0, 0]);
        assert_eq!(read_u64s("rates/input/counts"), vec![3, 1, 1, 1]);
        assert_eq!(read_u64s("weights/input_exc/steps_done"), vec![0, 10, 17]);
        assert_eq!(read_u64s("samples/index"), vec![7, 2, 5]);
        assert_eq!(
            file.dataset("report/input/voltage/data").unwrap().shape(),
            vec![5, 2]
        );
        // time stop = (2 + 5 frames * 3) * 0.1 ms, as after finish.
        assert_eq!(
            file.dataset("report/input/voltage/mapping/time")
                .unwrap()
                .read_raw::<f64>()
                .unwrap()[1],
            17.0 * 0.1
        );
    }

    #[test]
    fn abort_after_a_bad_block_reports_both() {
        // Weight block of 3 values for 4 synapses: the writer stops there. abort
        // returns that error and records the caller's reason followed by it; the
        // snapshot before the bad one is kept. A reason that already quotes the
        // error (the usual case: the run stopped because send failed) is kept as is.
        for quote in [false, true] {
            let tmp = TempPath::new("abort-bad");
            let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 0).unwrap();
            let snapshot = |data: Vec<f32>| Block::Weights {
                weights: 0,
                steps_done: 0,
                data,
            };
            writer.send(snapshot(vec![1.0; 4])).unwrap();
            let sent = writer.send(snapshot(vec![1.0; 3]));
            let sent = sent.and_then(|()| writer.send(snapshot(vec![2.0; 4])));
            let reason = match (&sent, quote) {
                (Err(e), true) => format!("run failed: {e}"),
                _ => "stopped".to_owned(),
            };
            let err = writer.abort(4, &reason).unwrap_err();
            assert!(matches!(err, RecordError::BadBlock { .. }), "{err:?}");
            let file = File::open(&tmp.0).unwrap();
            assert_eq!(
                file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
                0
            );
            assert_eq!(read_u64(&file, "steps_done"), 4);
            let recorded = read_str(&file, "error");
            if quote && sent.is_err() {
                assert_eq!(recorded, reason);
            } else {
                assert_eq!(recorded, format!("{reason}; {err}"));
            }
            assert_eq!(
                file.dataset("weights/input_exc/data").unwrap().shape(),
                vec![1, 4]
            );
        }
    }

    #[test]
    fn finish_after_a_bad_block_records_the_error() {
        // The writer stops on a rate block for index 5 of 2 rates; finish returns the
        // error, leaves complete = 0 and records steps_done and the error's text.
        let tmp = TempPath::new("finish-bad");
        let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 0).unwrap();
        let _ = writer.send(Block::Rates {
            rate: 5,
            counts: vec![1],
        });
        let err = writer.finish(20).unwrap_err();
        assert!(err.to_string().contains("rate index 5"), "{err}");
        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
        assert_eq!(read_u64(&file, "steps"), 20);
        assert_eq!(read_u64(&file, "steps_done"), 20);
        assert_eq!(read_str(&file, "error"), err.to_string());
    }

    #[test]
    fn invalid_rates_weights_and_samples_fail_before_creating_the_file() {
        let tmp = TempPath::new("invalid-new");
        let rate = |layer: &str, bin_steps| RateSpec {
            layer: layer.to_owned(),
            n_nodes: 4,
            bin_steps,
        };
        // A projection 3 -> 2 with synapses (0, 1) and (2, 0).
        let weight = |projection: &str| WeightSpec {
            projection: projection.to_owned(),
            pre: "a".to_owned(),
            post: "b".to_owned(),
            n_pre: 3,
            n_post: 2,
            pre_ids: vec![0, 2],
            post_ids: vec![1, 0],
        };
        let layer = |name: &str| SpikeLayer {
            name: name.to_owned(),
            n_nodes: 2,
        };
        let samples = SampleSpec {
            dataset: "mnist".to_owned(),
            rows: 28,
            cols: 28,
            steps_per_image: 350,
            rest_steps: 150,
            layers: vec![layer("exc")],
        };
        let with_rates = |rates| Layout {
            rates,
            ..Layout::default()
        };
        let with_weights = |weights| Layout {
            weights,
            ..Layout::default()
        };
        let with_samples = |edit: &dyn Fn(&mut SampleSpec)| {
            let mut spec = samples.clone();
            edit(&mut spec);
            Layout {
                samples: Some(spec),
                ..Layout::default()
            }
        };
        let cases: Vec<(Layout, &str)> = vec![
            (
                with_rates(vec![rate("a/b", 1)]),
                "rate layer name \"a/b\" contains '/'",
            ),
            (with_rates(vec![rate("", 1)]), "rate layer name is empty"),
            (with_rates(vec![rate("x", 1), rate("x", 2)]), "listed twice"),
            (
                with_rates(vec![rate("x", 0)]),
                "bin_steps must be at least 1",
            ),
            (with_weights(vec![weight("..")]), "not allowed"),
            (with_weights(vec![weight("p"), weight("p")]), "listed twice"),
            (
                with_weights(vec![WeightSpec {
                    pre: String::new(),
                    ..weight("p")
                }]),
                "pre layer name is empty",
            ),
            (
                with_weights(vec![WeightSpec {
                    post_ids: vec![1],
                    ..weight("p")
                }]),
                "2 pre_ids but 1 post_ids",
            ),
            // pre id 3 of a layer of 3 neurons (ids 0..=2).
            (
                with_weights(vec![WeightSpec {
                    pre_ids: vec![0, 3],
                    ..weight("p")
                }]),
                "synapse 1 has pre id 3, out of range for layer a of 3 neurons",
            ),
            // post id 2 of a layer of 2 neurons.
            (
                with_weights(vec![WeightSpec {
                    post_ids: vec![2, 0],
                    ..weight("p")
                }]),
                "synapse 0 has post id 2, out of range for layer b of 2 neurons",
            ),
            (with_samples(&|s| s.dataset.clear()), "dataset name"),
            (with_samples(&|s| s.rows = 0), "rows must be at least 1"),
            (with_samples(&|s| s.cols = 0), "cols must be at least 1"),
            (
                with_samples(&|s| s.steps_per_image = 0),
                "steps_per_image must be at least 1",
            ),
            (
                with_samples(&|s| s.layers.push(layer("exc"))),
                "samples: layer \"exc\" is listed twice",
            ),
            (
                with_samples(&|s| s.layers.push(layer("a/b"))),
                "contains '/'",
            ),
        ];
        for (layout, needle) in cases {
            let err = Writer::create(&tmp.0, &header(1), &layout, 1).unwrap_err();
            assert!(matches!(err, RecordError::Invalid { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
            assert!(!err.to_string().contains('\n'), "{err}");
            assert!(!tmp.0.exists());
        }
        // The valid versions of the same specs are accepted.
        let layout = Layout {
            rates: vec![rate("x", 1)],
            weights: vec![weight("p")],
            samples: Some(samples),
            ..Layout::default()
        };
        Writer::create(&tmp.0, &header(1), &layout, 1)
            .unwrap()
            .finish(1)
            .unwrap();
    }

    #[test]
    fn blocks_inconsistent_with_the_layout_are_rejected() {
        // Each case on a fresh sample writer (see `sample_layout`: rates of input
        // (4 neurons, 5-step bins, so at most 20 spikes a bin) and exc, weights of
        // input_exc (4 synapses) and exc_exc (0), samples counting exc (3) and
        // input (4)); finish returns the BadBlock error naming the problem.
        let samples =
            |index: Vec<u64>, label: Vec<u8>, start_step: Vec<u64>, counts| Block::Samples {
                index,
                label,
                start_step,
                counts,
            };
        let weights = |weights, steps_done, n| Block::Weights {
            weights,
            steps_done,
            data: vec![0.5; n],
        };
        let one_sample =
            |start| samples(vec![0], vec![0], vec![start], vec![vec![0; 3], vec![0; 4]]);
        let cases: Vec<(Vec<Block>, &str)> = vec![
            (
                vec![Block::Rates {
                    rate: 2,
                    counts: vec![1],
                }],
                "rate index 2, but 2 rates were declared",
            ),
            // 21 spikes in a bin of 4 neurons × 5 steps = 20 possible.
            (
                vec![Block::Rates {
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
            let tmp = TempPath::new("badblocks");
            let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 4).unwrap();
            for block in blocks {
                let _ = writer.send(block);
            }
            let err = writer.finish(20).unwrap_err();
            assert!(matches!(err, RecordError::BadBlock { .. }), "{err:?}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }

        // Samples without a sample spec.
        let tmp = TempPath::new("badblocks");
        let writer = Writer::create(&tmp.0, &header(20), &Layout::default(), 4).unwrap();
        let _ = writer.send(samples(vec![], vec![], vec![], vec![]));
        let err = writer.finish(20).unwrap_err();
        assert!(err.to_string().contains("declares no samples"), "{err}");
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

    /// A `Block::Dataset`.
    fn dataset(path: &str, shape: &[u64], values: Values, attrs: Vec<(String, Attr)>) -> Block {
        Block::Dataset {
            path: path.to_owned(),
            shape: shape.to_vec(),
            values,
            attrs,
        }
    }

    #[test]
    fn dataset_blocks_round_trip() {
        // A scalar f64, a 2-D u32 matrix, an i32 vector with attributes and a
        // large f32 vector, below results/ and state/ (groups created as needed).
        let tmp = TempPath::new("datasets");
        let writer = Writer::create(&tmp.0, &header(10), &sample_layout(), 2).unwrap();
        send_sample(&writer);
        writer
            .send(dataset(
                "results/evaluate/accuracy",
                &[],
                Values::F64(vec![0.8312]),
                vec![("n_samples".to_owned(), Attr::U64(1000))],
            ))
            .unwrap();
        // 2 × 3, row-major: row r, column c holds 10 r + c.
        writer
            .send(dataset(
                "results/evaluate/confusion",
                &[2, 3],
                Values::U32(vec![0, 1, 2, 10, 11, 12]),
                vec![],
            ))
            .unwrap();
        let attrs = vec![
            ("layer".to_owned(), Attr::Str("exc".to_owned())),
            ("rate_hz".to_owned(), Attr::F64(2.5)),
        ];
        writer
            .send(dataset(
                "results/assignments/exc",
                &[4],
                Values::I32(vec![3, -1, 0, 9]),
                attrs,
            ))
            .unwrap();
        // 100000 f32 = 400 KB > 64 KiB: chunked (one chunk: 1 MiB holds it all)
        // and compressed where deflate is available.
        let big: Vec<f32> = (0..100_000).map(|k| k as f32 / 8.0).collect();
        writer
            .send(dataset(
                "state/theta/exc",
                &[100_000],
                Values::F32(big.clone()),
                vec![],
            ))
            .unwrap();
        // An empty vector and a u64 vector.
        writer
            .send(dataset("state/empty", &[0], Values::U64(vec![]), vec![]))
            .unwrap();
        writer
            .send(dataset(
                "state/counts",
                &[2],
                Values::U64(vec![u64::MAX, 7]),
                vec![],
            ))
            .unwrap();
        writer.finish(10).unwrap();

        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            1
        );
        let accuracy = file.dataset("results/evaluate/accuracy").unwrap();
        assert!(accuracy.is_scalar());
        assert_eq!(accuracy.shape(), Vec::<usize>::new());
        assert_eq!(accuracy.read_scalar::<f64>().unwrap(), 0.8312);
        assert_eq!(read_u64(&accuracy, "n_samples"), 1000);

        let confusion = file.dataset("results/evaluate/confusion").unwrap();
        assert_eq!(confusion.shape(), vec![2, 3]);
        assert_eq!(confusion.chunk(), None);
        assert_eq!(
            confusion.dtype().unwrap().to_descriptor().unwrap(),
            hdf5::types::TypeDescriptor::Unsigned(hdf5::types::IntSize::U4)
        );
        assert_eq!(
            confusion.read_2d::<u32>().unwrap(),
            Array2::from_shape_vec((2, 3), vec![0, 1, 2, 10, 11, 12]).unwrap()
        );

        let assignments = file.dataset("results/assignments/exc").unwrap();
        assert_eq!(
            assignments.dtype().unwrap().to_descriptor().unwrap(),
            hdf5::types::TypeDescriptor::Integer(hdf5::types::IntSize::U4)
        );
        assert_eq!(assignments.read_raw::<i32>().unwrap(), vec![3, -1, 0, 9]);
        assert_eq!(read_str(&assignments, "layer"), "exc");
        assert_eq!(
            assignments
                .attr("rate_hz")
                .unwrap()
                .read_scalar::<f64>()
                .unwrap(),
            2.5
        );

        let theta = file.dataset("state/theta/exc").unwrap();
        assert_eq!(theta.read_raw::<f32>().unwrap(), big);
        if hdf5::filters::deflate_available() {
            assert_eq!(theta.chunk(), Some(vec![100_000]));
            assert_eq!(theta.filters(), vec![hdf5::filters::Filter::deflate(1)]);
        }
        assert_eq!(file.dataset("state/empty").unwrap().shape(), vec![0]);
        assert_eq!(
            file.dataset("state/counts")
                .unwrap()
                .read_raw::<u64>()
                .unwrap(),
            vec![u64::MAX, 7]
        );
        // Members listed in the order written.
        let results = file.group("results").unwrap();
        assert_eq!(
            results
                .member_names_by(
                    hdf5::IndexType::CreationOrder,
                    hdf5::IterationOrder::Increasing
                )
                .unwrap(),
            vec!["evaluate", "assignments"]
        );
        // The rest of the file is as without the datasets.
        assert_eq!(
            file.dataset("spikes/input/node_ids")
                .unwrap()
                .read_raw::<u64>()
                .unwrap(),
            vec![1, 2, 0, 3, 0, 0]
        );
    }

    #[test]
    fn large_datasets_are_contiguous_without_compression() {
        // 3 × 100000 f32 = 1.2 MB > 64 KiB: chunked in 2 × 100000 (800 KB ≤ 1 MiB)
        // and compressed with compress = true (where deflate exists); with
        // compress = false it is contiguous.
        for compress in [false, true] {
            let tmp = TempPath::new("dataset-large");
            let layout = Layout {
                compress,
                ..Layout::default()
            };
            let writer = Writer::create(&tmp.0, &header(1), &layout, 1).unwrap();
            let values: Vec<f32> = (0..300_000).map(|k| (k % 1000) as f32).collect();
            writer
                .send(dataset(
                    "state/weights/big",
                    &[3, 100_000],
                    Values::F32(values.clone()),
                    vec![],
                ))
                .unwrap();
            writer.finish(1).unwrap();
            let file = File::open(&tmp.0).unwrap();
            let ds = file.dataset("state/weights/big").unwrap();
            assert_eq!(ds.read_raw::<f32>().unwrap(), values);
            if compress && hdf5::filters::deflate_available() {
                // 1 MiB / 4 bytes = 262144 elements: 2 rows of 100000 a chunk.
                assert_eq!(ds.chunk(), Some(vec![2, 100_000]));
            } else {
                assert_eq!(ds.chunk(), None);
            }
        }
    }

    #[test]
    fn chunk_nd_keeps_trailing_dimensions_whole() {
        assert_eq!(chunk_nd(&[3, 100_000], 4, 1 << 20), vec![2, 100_000]);
        assert_eq!(chunk_nd(&[1_000_000], 8, 1 << 20), vec![131_072]);
        // A last dimension larger than a chunk: split it, one row a chunk.
        assert_eq!(chunk_nd(&[5, 1_000_000], 4, 1 << 20), vec![1, 262_144]);
        assert_eq!(chunk_nd(&[10, 10, 10], 4, 1 << 20), vec![10, 10, 10]);
    }

    #[test]
    fn bad_dataset_blocks_are_rejected() {
        let ok = || dataset("results/x", &[2], Values::F64(vec![1.0, 2.0]), vec![]);
        let str_attr = |name: &str, value: &str| (name.to_owned(), Attr::Str(value.to_owned()));
        let cases: Vec<(Vec<Block>, &str)> = vec![
            (
                vec![dataset("other/x", &[], Values::F64(vec![1.0]), vec![])],
                "dataset path \"other/x\" must start with results/ or state/",
            ),
            (
                vec![dataset("/results/x", &[], Values::F64(vec![1.0]), vec![])],
                "must start with results/ or state/",
            ),
            (
                vec![dataset("results", &[], Values::F64(vec![1.0]), vec![])],
                "names a group",
            ),
            (
                vec![dataset("results/", &[], Values::F64(vec![1.0]), vec![])],
                "name is empty",
            ),
            (
                vec![dataset("state//x", &[], Values::F64(vec![1.0]), vec![])],
                "name is empty",
            ),
            (
                vec![dataset("state/../x", &[], Values::F64(vec![1.0]), vec![])],
                "not allowed",
            ),
            (
                vec![dataset(
                    "results/m",
                    &[2, 3],
                    Values::U32(vec![0; 5]),
                    vec![],
                )],
                "dataset results/m: shape [2, 3] holds 6 values, but the block has 5",
            ),
            (
                vec![dataset("results/s", &[], Values::F64(vec![]), vec![])],
                "shape [] (a scalar) holds 1 values, but the block has 0",
            ),
            (
                vec![dataset(
                    "results/s",
                    &[u64::MAX, 4],
                    Values::F64(vec![]),
                    vec![],
                )],
                "is too large",
            ),
            (vec![ok(), ok()], "dataset results/x is written twice"),
            (
                vec![
                    ok(),
                    dataset("results/x/y", &[], Values::F64(vec![1.0]), vec![]),
                ],
                "lies below results/x, which is a dataset",
            ),
            (
                vec![
                    dataset("results/x/y", &[], Values::F64(vec![1.0]), vec![]),
                    ok(),
                ],
                "would replace the group that holds dataset results/x/y",
            ),
            (
                vec![dataset(
                    "results/a",
                    &[],
                    Values::I32(vec![1]),
                    vec![str_attr("u", "a"), str_attr("u", "b")],
                )],
                "attribute u is listed twice",
            ),
            (
                vec![dataset(
                    "results/a",
                    &[],
                    Values::I32(vec![1]),
                    vec![str_attr("", "a")],
                )],
                "attribute name \"\" is empty",
            ),
            (
                vec![dataset(
                    "results/a",
                    &[],
                    Values::I32(vec![1]),
                    vec![str_attr("u", "a\0b")],
                )],
                "attribute u contains a NUL character",
            ),
        ];
        for (blocks, needle) in cases {
            let tmp = TempPath::new("baddataset");
            let writer = Writer::create(&tmp.0, &header(1), &Layout::default(), 4).unwrap();
            for block in blocks {
                let _ = writer.send(block);
            }
            let err = writer.finish(1).unwrap_err();
            assert!(matches!(err, RecordError::BadBlock { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(needle), "{needle}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
            // The good block before a bad one is kept; complete stays 0.
            let file = File::open(&tmp.0).unwrap();
            assert_eq!(
                file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
                0
            );
        }
    }
}
