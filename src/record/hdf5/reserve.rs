//! Disk space held ahead of HDF5's writes, so that a full disk is met
//! between two appends, never inside one.
//!
//! The HDF5 library does not survive a failed write: after `ENOSPC` (or
//! `EFBIG` under a file size limit) its cached metadata no longer matches the
//! file, and closing it leaves a file that nothing opens ("addr overflow"),
//! losing even the blocks flushed long before. So the backend keeps the file
//! allocated (`posix_fallocate`) past HDF5's end of file by what the
//! appends since the last flush may still write (their data waits in the
//! chunk caches until a flush writes it) plus a [`margin`](Reserve::new)
//! that covers the partly filled chunks and the metadata of flushing and
//! closing. Before each append the space for it is held; when it cannot be
//! had, the append is refused before HDF5 has written any of it, and the
//! space already held is enough to write the final attributes and close the
//! file cleanly, readable, with every block before.
//!
//! The file is longer than HDF5's end of address space while it runs (HDF5
//! readers accept that); [`trim`] cuts it back after the file is closed.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Grow the held space in steps of at least this many bytes, so that a run
/// calls `posix_fallocate` rarely.
const MIN_GROWTH: u64 = 8 << 20;

/// The space held for one HDF5 file: a second descriptor of the file, the
/// length allocated so far and the margin kept beyond HDF5's end of file.
pub(super) struct Reserve {
    file: File,
    /// Bytes of the file allocated.
    held: u64,
    /// Bytes held for the appends since the last flush.
    pending: u64,
    /// Bytes kept allocated beyond HDF5's end of file and `pending`.
    pub(super) margin: u64,
}

impl Reserve {
    /// Holds space for the file at `path` (already created by HDF5): from the
    /// next [`hold`](Reserve::hold) on, `margin` bytes beyond its end
    /// are kept allocated.
    pub(super) fn new(path: &Path, margin: u64) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).open(path)?;
        let held = file.metadata()?.len();
        Ok(Self {
            file,
            held,
            pending: 0,
            margin,
        })
    }

    /// Holds the space of a write of up to `extra` bytes: makes sure that
    /// `used + pending + extra + margin` bytes of the file are allocated,
    /// where `used` is HDF5's end of file, then counts `extra` as pending.
    /// Grows by at least [`MIN_GROWTH`] and a sixteenth of the file where the
    /// disk allows, else by exactly what is needed. Fails with the operating
    /// system's error (`ENOSPC`, `EFBIG`, `EDQUOT`) when even that cannot be
    /// had; the write must then not be made.
    pub(super) fn hold(&mut self, used: u64, extra: u64) -> io::Result<()> {
        let need = (used.saturating_add(self.pending))
            .saturating_add(extra)
            .saturating_add(self.margin);
        if need > self.held {
            let generous = need.saturating_add(MIN_GROWTH.max(need / 16));
            if self.allocate(generous).is_err() {
                self.allocate(need)?;
            }
        }
        self.pending += extra;
        Ok(())
    }

    /// Makes everything written to the file durable (`fdatasync`).
    pub(super) fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// After a flush: the pending appends are written, within HDF5's end of
    /// file.
    pub(super) fn flushed(&mut self) {
        self.pending = 0;
    }

    /// Allocates the file up to `len` bytes (extending its length).
    fn allocate(&mut self, len: u64) -> io::Result<()> {
        let offset =
            i64::try_from(self.held).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        let more = i64::try_from(len - self.held)
            .map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        loop {
            // SAFETY: `posix_fallocate` only reads its integer arguments; the
            // descriptor is open for writing and owned by `self.file`.
            let rc = unsafe { libc::posix_fallocate(self.file.as_raw_fd(), offset, more) };
            match rc {
                0 => {
                    self.held = len;
                    return Ok(());
                }
                libc::EINTR => continue,
                errno => return Err(io::Error::from_raw_os_error(errno)),
            }
        }
    }
}

unsafe extern "C" {
    /// `herr_t H5Fget_eoa(hid_t file_id, haddr_t *eoa)` (HDF5 1.10.2 and
    /// later; `hid_t` is 64-bit since 1.10): the file's end of address space.
    fn H5Fget_eoa(file_id: i64, eoa: *mut u64) -> i32;
}

/// Cuts the closed HDF5 file at `path` back to its end of address space,
/// dropping the space [`Reserve`] held beyond it. Best effort: a file left
/// longer is still read by every HDF5 reader.
pub(super) fn trim(path: &Path) -> Result<(), String> {
    let eoa = {
        let file = hdf5::File::open(path).map_err(|e| e.to_string())?;
        let mut eoa = 0u64;
        // SAFETY: the file id is valid while `file` lives; HDF5 writes one
        // u64 through the pointer. The crate's lock serialises HDF5 calls.
        let rc = hdf5::sync::sync(|| unsafe { H5Fget_eoa(file.id(), &mut eoa) });
        if rc < 0 {
            return Err(format!("cannot read the end of {}", path.display()));
        }
        eoa
    };
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| e.to_string())?;
    if file.metadata().map_err(|e| e.to_string())?.len() > eoa {
        file.set_len(eoa).map_err(|e| e.to_string())?;
    }
    Ok(())
}
