//! The errors of recording ([`RecordError`]) and of reading a run's file
//! back ([`ReadError`]). Each displays as one line naming the file.

use std::path::PathBuf;

use crate::record::schema;

/// Errors of writing a run's record. Each displays as one line naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// The output file could not be created (bad directory, permissions, HDF5).
    #[error("cannot create output file {}: {reason}", .path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why, on one line.
        reason: String,
    },
    /// The recording setup is unusable (bad or duplicate name, empty trace, bad
    /// dt, synapse ids out of range, ...).
    #[error("cannot create output file {}: {reason}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why, on one line.
        reason: String,
    },
    /// Writing, flushing or closing the file failed during or after the run.
    #[error("cannot write output file {}: {reason}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why, on one line.
        reason: String,
    },
    /// The disk (or a file size limit, or a quota) had no room for more
    /// records: the file keeps the first `kept_steps` steps, readable and
    /// marked incomplete.
    #[error(
        "disk full: cannot write more to {} ({reason}); it keeps the first {kept_steps} steps, readable and marked incomplete",
        .path.display()
    )]
    DiskFull {
        /// The file.
        path: PathBuf,
        /// The operating system's words, e.g. `No space left on device`.
        reason: String,
        /// Steps whose records are all in the file.
        kept_steps: u64,
    },
    /// A [`Batch`](super::batch::Batch) contradicts the recording setup (a bug
    /// in the sender); the writer stopped at it.
    #[error("bad record block for {}: {reason}", .path.display())]
    BadBatch {
        /// The file.
        path: PathBuf,
        /// Why, on one line.
        reason: String,
    },
    /// The writer thread panicked.
    #[error("writer thread for {} panicked: {message}", .path.display())]
    Panicked {
        /// The file.
        path: PathBuf,
        /// The panic's message.
        message: String,
    },
}

/// Errors of reading a spikesim output file ([`inspect`](super::inspect),
/// [`checkpoint`](super::checkpoint)). Each displays as one line naming the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// There is no file at the path.
    #[error("cannot open {}: no such file", .path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// The file is not an HDF5 file.
    #[error("cannot open {}: not an HDF5 file", .path.display())]
    NotHdf5 {
        /// The file.
        path: PathBuf,
    },
    /// An HDF5 file without a `schema_version` root attribute.
    #[error("{} is not a spikesim output file (no schema_version attribute)", .path.display())]
    NotSpikesim {
        /// The file.
        path: PathBuf,
    },
    /// A spikesim file of a layout version this build does not read.
    #[error(
        "{} has schema_version {found}, this spikesim reads version {}",
        .path.display(),
        schema::SCHEMA_VERSION
    )]
    UnsupportedSchema {
        /// The file.
        path: PathBuf,
        /// The version the file has.
        found: String,
    },
    /// The file could not be read or lacks part of the layout.
    #[error("cannot read {}: {reason}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why, on one line.
        reason: String,
    },
    /// Loading a checkpoint: the file's run did not complete (root attribute
    /// `complete` is 0 or missing), so its state is not a finished network.
    #[error("cannot load {}: the run did not complete (root attribute complete = 0)", .path.display())]
    Incomplete {
        /// The file.
        path: PathBuf,
    },
}
