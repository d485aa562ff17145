//! The background writer: one thread owns the run's [`Backend`] (by default
//! an HDF5 file) for the whole run and stores the batches that the simulation
//! sends it.
//!
//! Lifecycle (open, write, flush, close):
//!
//! 1. [`Writer::create`] (HDF5) or [`Writer::start`] (any backend) validates
//!    the recording setup (a [`Layout`]) and opens the backend on the calling
//!    thread, so that a bad name or an unwritable path fails before the run
//!    starts and leaves no file behind. The backend then moves into the
//!    writer thread, fed by a bounded channel.
//! 2. [`Writer::send`] hands over one [`Batch`]; it blocks while the channel
//!    is full, so a slow disk slows the simulation down instead of filling
//!    memory. The writer thread checks each batch against the layout
//!    ([`Checker`]) and appends it to the backend, holding no more than that
//!    one batch itself: memory stays below `(capacity + 2) × batch size`
//!    however long the run.
//! 3. Every [`FLUSH_INTERVAL`] with new data the thread flushes the backend,
//!    so a run that is killed leaves a readable file holding everything up to
//!    the last flush, marked incomplete.
//! 4. [`Writer::finish`] closes the channel, waits for the thread to drain it
//!    and closes the backend as complete with the steps actually simulated. A
//!    run that stops early (interrupt, failure) calls [`Writer::abort`]
//!    instead: it drains the channel the same way but closes the backend as
//!    incomplete, recording the steps done and the reason.
//!
//! Dropping a [`Writer`] without calling `finish` or `abort` (a panic in the
//! simulation) still drains the channel and drops the backend, which stays
//! marked incomplete without `steps_done` or `error`.
//!
//! When the writer thread stops on an error (a [`Batch`] that contradicts the
//! layout, a failed write), the backend keeps every batch before it; `finish`
//! and `abort` then still close it as incomplete with the error (as far as it
//! allows) and return that error.
//!
//! HDF5 calls are serialised process-wide by the `hdf5` crate; while a writer
//! is running nothing else in the process should touch HDF5 (it would only
//! contend for that lock).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::record::backend::{Backend, End, StoreError};
use crate::record::batch::Batch;
use crate::record::check::Checker;
use crate::record::error::RecordError;
use crate::record::hdf5::Hdf5Backend;
use crate::record::layout::{self, Layout, RunHeader};

/// How often, at most, the writer thread flushes the backend while new data
/// keeps arriving (and how long it waits idle before flushing what it has).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(2);

/// The handle the simulation holds: a sender into the writer thread.
///
/// `Writer` is `Send + Sync`; [`send`](Writer::send) takes `&self`.
pub struct Writer {
    /// What error messages name: the output file, or another backend's target.
    target: PathBuf,
    tx: Option<Sender<Batch>>,
    handle: Option<JoinHandle<Ended>>,
    /// Set by the writer thread, before it drops its receiver, when it stops on
    /// an error; read by `send` when the channel turns out closed.
    failed: Arc<Mutex<Option<RecordError>>>,
}

impl Writer {
    /// Starts a writer on an HDF5 file at `path` ([`Hdf5Backend`]): creates
    /// the file and all groups/datasets synchronously on the calling thread
    /// (so an unwritable path fails here, before the run starts) and writes
    /// the root attributes; the writer thread is fed by a bounded channel of
    /// `capacity` batches (0 makes every `send` wait for the writer to take
    /// the batch).
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
        Writer::start(path, header, layout, capacity, |header, layout| {
            Ok(Box::new(Hdf5Backend::create(path, header, layout)?))
        })
    }

    /// Starts a writer that continues the interrupted run of the HDF5 file
    /// at `path` from its resume point `point`
    /// ([`Hdf5Backend::reopen`]): the file's growing datasets are cut back
    /// to the point and the batches sent append from there.
    pub fn resume(
        path: &Path,
        header: &RunHeader,
        layout: &Layout,
        point: &crate::record::hdf5::ResumePoint,
        capacity: usize,
    ) -> Result<Writer, RecordError> {
        Writer::start(path, header, layout, capacity, |header, layout| {
            let backend = Hdf5Backend::reopen(path, layout, point, header.threads)?;
            Ok(Box::new(backend))
        })
    }

    /// Starts a writer on the backend that `open` makes from the validated
    /// header and layout, on the calling thread; `target` names it in errors
    /// (a file path, or e.g. `memory`). `capacity` is as for
    /// [`create`](Writer::create).
    ///
    /// Fails with [`RecordError::Invalid`] (before `open` is called) when the
    /// header or layout is unusable, and with [`RecordError::Create`] carrying
    /// `open`'s reason when it fails.
    pub fn start(
        target: &Path,
        header: &RunHeader,
        layout: &Layout,
        capacity: usize,
        open: impl FnOnce(&RunHeader, &Layout) -> Result<Box<dyn Backend>, String>,
    ) -> Result<Writer, RecordError> {
        let target = target.to_owned();
        layout::validate(header, layout).map_err(|reason| RecordError::Invalid {
            path: target.clone(),
            reason,
        })?;
        let create_error = |target: &Path, reason: String| RecordError::Create {
            path: target.to_owned(),
            reason,
        };

        // The thread starts first and waits for the backend, so that a failed
        // spawn leaves nothing opened behind.
        let (handoff, backend_rx) = crossbeam_channel::bounded::<Box<dyn Backend>>(1);
        let (tx, rx) = crossbeam_channel::bounded(capacity);
        let failed = Arc::new(Mutex::new(None));
        let thread_failed = Arc::clone(&failed);
        let thread_target = target.clone();
        let checker = Checker::new(layout);
        let handle = std::thread::Builder::new()
            .name("spikesim-writer".to_owned())
            .spawn(move || writer_thread(backend_rx, rx, checker, thread_target, thread_failed))
            .map_err(|e| create_error(&target, format!("cannot start the writer thread: {e}")))?;
        let mut writer = Writer {
            target,
            tx: Some(tx),
            handle: Some(handle),
            failed,
        };
        match open(header, layout) {
            Ok(backend) => {
                handoff
                    .send(backend)
                    .expect("the writer thread waits for its backend");
                Ok(writer)
            }
            Err(reason) => {
                drop(handoff);
                writer.join();
                Err(create_error(&writer.target, reason))
            }
        }
    }

    /// Sends one batch; blocks while the channel is full (back-pressure).
    /// Returns the writer thread's error if it died.
    pub fn send(&self, batch: Batch) -> Result<(), RecordError> {
        let tx = self
            .tx
            .as_ref()
            .expect("the sender lives until finish or drop");
        tx.send(batch).map_err(|_| self.thread_error())
    }

    /// Closes the channel, joins the thread and closes the backend as
    /// complete after `steps_done` steps (for HDF5: `steps` and `steps_done`
    /// = the steps actually simulated, each trace's `time` stop,
    /// `complete = 1`).
    ///
    /// If the writer thread had stopped on an error, that error is returned and
    /// the backend keeps what was stored before it, closed as incomplete with
    /// `error` = the error's text and `steps_done` = the steps whose records
    /// it holds whole (the last [`Batch::Through`] stored), as far as it can
    /// still be written.
    pub fn finish(mut self, steps_done: u64) -> Result<(), RecordError> {
        match self.join() {
            Ended {
                backend: Some(backend),
                error: None,
                ..
            } => self.close(backend, steps_done, None),
            Ended {
                backend,
                error,
                kept_steps,
            } => {
                let error = error.unwrap_or_else(|| self.lost_thread());
                if let Some(backend) = backend {
                    // Best effort: the backend already failed once.
                    let _ = self.close(backend, kept_steps, Some(&error.to_string()));
                }
                Err(error)
            }
        }
    }

    /// Ends a run that stopped early (interrupt, failure): waits for the
    /// thread to store every batch already sent, then closes the backend as
    /// incomplete with `steps_done` and `error = reason` (for HDF5: root
    /// attributes `complete = 0`, `steps_done`, `error`, each trace's `time`
    /// stop; `steps` keeps the planned number). The file stays readable, with
    /// every batch sent.
    ///
    /// If the writer thread had itself stopped on an error, the batches from
    /// that one on are missing: the backend still gets `error` (`reason`,
    /// followed by the writer's error where `reason` does not already contain
    /// it) and `steps_done` = the steps whose records it holds whole, as far
    /// as they can be written, and that error is returned.
    pub fn abort(mut self, steps_done: u64, reason: &str) -> Result<(), RecordError> {
        match self.join() {
            Ended {
                backend: Some(backend),
                error: None,
                ..
            } => self.close(backend, steps_done, Some(reason)),
            Ended {
                backend,
                error,
                kept_steps,
            } => {
                let error = error.unwrap_or_else(|| self.lost_thread());
                if let Some(backend) = backend {
                    let text = error.to_string();
                    let combined = if reason.contains(&text) {
                        reason.to_owned()
                    } else {
                        format!("{reason}; {text}")
                    };
                    let _ = self.close(backend, kept_steps, Some(&combined));
                }
                Err(error)
            }
        }
    }

    fn close(
        &self,
        backend: Box<dyn Backend>,
        steps_done: u64,
        error: Option<&str>,
    ) -> Result<(), RecordError> {
        backend
            .close(&End { steps_done, error })
            .map_err(|reason| write_error(&self.target, reason))
    }

    /// Closes the channel and waits for the thread to drain it and end.
    fn join(&mut self) -> Ended {
        drop(self.tx.take());
        let handle = self.handle.take().expect("the thread is joined only once");
        handle.join().unwrap_or_else(|payload| Ended {
            backend: None,
            error: Some(RecordError::Panicked {
                path: self.target.clone(),
                message: panic_message(payload.as_ref()),
            }),
            kept_steps: 0,
        })
    }

    fn lost_thread(&self) -> RecordError {
        RecordError::Panicked {
            path: self.target.clone(),
            message: "the writer thread ended without its file".to_owned(),
        }
    }

    fn thread_error(&self) -> RecordError {
        lock(&self.failed)
            .clone()
            .unwrap_or_else(|| RecordError::Panicked {
                path: self.target.clone(),
                message: "the writer thread stopped unexpectedly".to_owned(),
            })
    }
}

impl Drop for Writer {
    /// Without `finish` or `abort`: let the thread drain the channel and drop
    /// the backend, which stays marked incomplete.
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
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// What the writer thread hands back: the backend (unless a panic lost it, or
/// it was never opened) and the error it stopped on, if any.
struct Ended {
    backend: Option<Box<dyn Backend>>,
    error: Option<RecordError>,
    /// Steps whose records are all stored: the last [`Batch::Through`]
    /// stored before the error, if there was one.
    kept_steps: u64,
}

/// Body of the writer thread. Waits for the backend (none: opening failed),
/// then stores batches until every sender is gone or one fails. Records an
/// error in `failed` before the receiver is dropped, so a sender that finds
/// the channel closed always finds the reason. After an error the backend
/// stays open, holding every batch before the bad one, for `finish` or
/// `abort` to close.
fn writer_thread(
    backend: Receiver<Box<dyn Backend>>,
    rx: Receiver<Batch>,
    checker: Checker,
    target: PathBuf,
    failed: Arc<Mutex<Option<RecordError>>>,
) -> Ended {
    let Ok(mut backend) = backend.recv() else {
        return Ended {
            backend: None,
            error: None,
            kept_steps: 0,
        };
    };
    let mut kept_steps = 0;
    let run = AssertUnwindSafe(|| {
        let error = drain(&mut *backend, checker, &rx, &target, &mut kept_steps).err();
        (backend, error)
    });
    let ended = match catch_unwind(run) {
        Ok((backend, error)) => Ended {
            backend: Some(backend),
            error,
            kept_steps,
        },
        Err(payload) => Ended {
            backend: None,
            error: Some(RecordError::Panicked {
                path: target,
                message: panic_message(payload.as_ref()),
            }),
            kept_steps,
        },
    };
    if let Some(e) = &ended.error {
        *lock(&failed) = Some(e.clone());
    }
    drop(rx);
    ended
}

/// Checks and appends batches until every sender is gone or a batch fails,
/// flushing at most every [`FLUSH_INTERVAL`] while data arrives and once
/// after it stops. `kept_steps` follows the [`Batch::Through`] marks stored.
fn drain(
    backend: &mut dyn Backend,
    mut checker: Checker,
    rx: &Receiver<Batch>,
    target: &Path,
    kept_steps: &mut u64,
) -> Result<(), RecordError> {
    let mut dirty = false;
    let mut last_flush = Instant::now();
    loop {
        let due = match rx.recv_timeout(FLUSH_INTERVAL) {
            Ok(batch) => {
                checker
                    .check(&batch)
                    .map_err(|reason| RecordError::BadBatch {
                        path: target.to_owned(),
                        reason,
                    })?;
                let through = match batch {
                    Batch::Through { steps_done } => Some(steps_done),
                    _ => None,
                };
                backend
                    .append(batch)
                    .map_err(|e| store_error(target, e, *kept_steps))?;
                if let Some(steps) = through {
                    *kept_steps = steps;
                }
                dirty = true;
                last_flush.elapsed() >= FLUSH_INTERVAL
            }
            Err(RecvTimeoutError::Timeout) => dirty,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        if due {
            backend
                .flush()
                .map_err(|e| store_error(target, e, *kept_steps))?;
            dirty = false;
            last_flush = Instant::now();
        }
    }
}

/// The error of a failed store, after `kept_steps` steps were stored whole.
fn store_error(target: &Path, e: StoreError, kept_steps: u64) -> RecordError {
    match e {
        StoreError::Full(reason) => RecordError::DiskFull {
            path: target.to_owned(),
            reason,
            kept_steps,
        },
        StoreError::Failed(reason) => write_error(target, reason),
    }
}

fn write_error(target: &Path, reason: String) -> RecordError {
    RecordError::Write {
        path: target.to_owned(),
        reason,
    }
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
