//! The recording backend seam: collection decides what is recorded, a
//! [`Backend`] decides where it goes.
//!
//! A backend is opened on the calling thread with the run's
//! [`RunHeader`](super::layout::RunHeader) and
//! [`Layout`](super::layout::Layout) (each backend has its own constructor:
//! [`Hdf5Backend::create`](super::hdf5::Hdf5Backend::create),
//! [`MemoryBackend::open`](super::memory::MemoryBackend::open)), handed to
//! [`Writer::start`](super::writer::Writer::start), and from then on driven by
//! the writer thread alone: [`append`](Backend::append) for every batch,
//! [`flush`](Backend::flush) now and then, [`close`](Backend::close) once at
//! the end of the run. A backend dropped without `close` (a panic in the
//! simulation) must leave what it holds marked incomplete.
//!
//! The writer checks every batch against the layout before `append`
//! ([`check`](super::check)), so a backend receives only consistent batches.
//! Errors are one-line reasons ([`StoreError`]); the writer wraps them in
//! [`RecordError::Write`](super::error::RecordError::Write) or
//! [`RecordError::DiskFull`](super::error::RecordError::DiskFull) naming the
//! target.

use crate::record::batch::Batch;

/// Where a run's record goes; see the [module documentation](self).
pub trait Backend: Send {
    /// Stores one batch, already checked against the layout.
    fn append(&mut self, batch: Batch) -> Result<(), StoreError>;

    /// Makes everything appended so far durable (readable by another process
    /// where that applies).
    fn flush(&mut self) -> Result<(), StoreError>;

    /// Records how the run ended and closes the backend.
    fn close(self: Box<Self>, end: &End<'_>) -> Result<(), String>;
}

/// How a run ended, as [`Backend::close`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End<'a> {
    /// Steps actually simulated.
    pub steps_done: u64,
    /// `None`: the run completed. `Some(reason)`: it stopped early or the
    /// writer failed, and why.
    pub error: Option<&'a str>,
}

/// Why a backend could not store or flush, on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No room for more (a full disk, a file size limit, a quota): nothing of
    /// the refused write was stored, and everything stored before stays
    /// readable and can still be closed.
    #[error("{0}")]
    Full(String),
    /// Any other failure.
    #[error("{0}")]
    Failed(String),
}
