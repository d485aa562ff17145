//! [`Batch`]: one message from the simulation to the writer, holding the
//! recorded data of some steps of one kind (or one whole dataset).
//!
//! The indices in a batch (`layer`, `trace`, `rate`, `weights`) index the
//! lists of the run's [`Layout`](super::layout::Layout); the writer checks
//! each batch against it ([`check`](super::check)) before a backend stores it.

/// One unit of work for the writer thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Batch {
    /// Spikes of one layer over a run of consecutive steps, time-sorted, within
    /// a step by node id. `steps[k]` and `node_ids[k]` describe spike `k`.
    Spikes {
        /// Index into [`Layout::spikes`](super::layout::Layout::spikes).
        layer: usize,
        /// Step of each spike.
        steps: Vec<u64>,
        /// Node id of each spike.
        node_ids: Vec<u64>,
    },
    /// `frames` consecutive frames of one trace, row-major
    /// `frames × node_ids.len()`.
    Trace {
        /// Index into [`Layout::traces`](super::layout::Layout::traces).
        trace: usize,
        /// The values, in the trace's units; the length must be a multiple of
        /// the trace's column count.
        data: Vec<f32>,
    },
    /// Consecutive bins of one rate: spike counts of the whole layer per bin,
    /// continuing where the previous batch of the rate ended.
    Rates {
        /// Index into [`Layout::rates`](super::layout::Layout::rates).
        rate: usize,
        /// One count (spikes) per bin; each at most `n_nodes · bin_steps`.
        counts: Vec<u64>,
    },
    /// One snapshot of one projection's weights.
    Weights {
        /// Index into [`Layout::weights`](super::layout::Layout::weights).
        weights: usize,
        /// Steps simulated before the snapshot (0 = the initial weights); not
        /// below the previous snapshot's.
        steps_done: u64,
        /// One weight (nA) per synapse, in the order of the spec's `pre_ids`;
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
        /// across all batches.
        start_step: Vec<u64>,
        /// `counts[k]` is row-major samples × `n_nodes` spike counts of
        /// [`SampleSpec::layers`](super::layout::SampleSpec::layers)`[k]`;
        /// one entry per layer.
        counts: Vec<Vec<u32>>,
    },
    /// A whole dataset written once, at `path` below the root (groups created
    /// as needed), e.g. `results/evaluate/accuracy` or `state/theta/exc`.
    ///
    /// In an HDF5 file, datasets of more than
    /// [`DATASET_CONTIGUOUS_MAX_BYTES`](super::schema::DATASET_CONTIGUOUS_MAX_BYTES)
    /// are chunked (chunks of at most
    /// [`DATASET_CHUNK_BYTES`](super::schema::DATASET_CHUNK_BYTES)) and
    /// deflate-compressed unless
    /// [`Layout::compress`](super::layout::Layout::compress) is `none` or the
    /// library lacks the filter; others are contiguous. Shape `[]` is a scalar.
    Dataset {
        /// Slash-separated path; must start with `results/` or `state/`
        /// ([`DATASET_ROOTS`](super::schema::DATASET_ROOTS)); every component
        /// a valid name (non-empty, no NUL, not `.` or `..`). Each path is
        /// written at most once, and no dataset may lie below another.
        path: String,
        /// Shape; the product equals the number of values; `[]` = scalar (one value).
        shape: Vec<u64>,
        /// The values, row-major.
        values: Values,
        /// Attributes of the dataset; names non-empty, without NUL, unique.
        attrs: Vec<(String, Attr)>,
    },
    /// A mark, sent after the batches of each sealed block: every batch of
    /// the steps before `steps_done` has been sent. Stores nothing; it tells
    /// the writer how many steps a file that fails after it holds.
    Through {
        /// Steps whose records are all sent; not below the previous mark's.
        steps_done: u64,
    },
    /// The network's whole state after the batches before it
    /// ([`crate::resume::state`]), for a later run to resume from. A backend
    /// that cannot resume (memory) ignores it.
    ResumePoint {
        /// The state columns; `clock` holds the steps done.
        columns: crate::resume::state::Columns,
    },
}

/// The values of a [`Batch::Dataset`], row-major; the variant is the HDF5
/// element type (`float64`, `float32`, `uint32`, `int32`, `uint64`).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// `float64` values.
    F64(Vec<f64>),
    /// `float32` values.
    F32(Vec<f32>),
    /// `uint32` values.
    U32(Vec<u32>),
    /// `int32` values.
    I32(Vec<i32>),
    /// `uint64` values.
    U64(Vec<u64>),
}

/// The values of column `name` of named `columns` (a
/// [`Batch::ResumePoint`]'s), or an error naming it.
pub fn column<'a>(columns: &'a [(String, Values)], name: &str) -> Result<&'a Values, String> {
    columns
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("the resume point has no column '{name}'"))
}

impl Batch {
    /// Bytes of the values the batch carries (what storing it writes, before
    /// compression).
    pub fn payload_bytes(&self) -> u64 {
        let bytes = match self {
            Batch::Spikes { steps, .. } => steps.len() * 16,
            Batch::Trace { data, .. } => data.len() * 4,
            Batch::Rates { counts, .. } => counts.len() * 8,
            Batch::Weights { data, .. } => data.len() * 4 + 16,
            Batch::Samples { index, counts, .. } => {
                index.len() * 17 + counts.iter().map(|c| c.len() * 4).sum::<usize>()
            }
            Batch::Dataset { values, .. } => values.bytes(),
            Batch::Through { .. } => 0,
            Batch::ResumePoint { columns } => columns.iter().map(|(_, v)| v.bytes()).sum(),
        };
        bytes as u64
    }
}

impl Values {
    /// Bytes of the values.
    pub fn bytes(&self) -> usize {
        let each = match self {
            Values::F64(_) | Values::U64(_) => 8,
            Values::F32(_) | Values::U32(_) | Values::I32(_) => 4,
        };
        each * self.len()
    }

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
}

/// A scalar attribute of a [`Batch::Dataset`]: stored as HDF5 `uint64`,
/// `float64` or a variable-length UTF-8 string (without NUL characters).
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// A `uint64` attribute.
    U64(u64),
    /// A `float64` attribute.
    F64(f64),
    /// A string attribute.
    Str(String),
}
