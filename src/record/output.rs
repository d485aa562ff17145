//! What a run's output file may replace.
//!
//! - Never one of the run's own inputs ([`refuse_inputs`]): the config file,
//!   the checkpoint of `protocol.load`, an IDX file or a spike file
//!   (`kind = "spike_file"`) the run reads. Files
//!   are compared by identity (device and inode), so `./x.h5`, `d/../x.h5`
//!   and a symlink all count as `x.h5`.
//! - Never a file that another process has open for writing
//!   ([`remove_unless_written`]): HDF5 (1.10 and later) holds an exclusive
//!   `flock` on every file it has open for writing (and a shared one on a
//!   file open for reading), so a file on which a shared lock cannot be taken
//!   is being written, e.g. by another run. The check sees only HDF5's lock;
//!   a writer that turned locking off (`HDF5_USE_FILE_LOCKING=FALSE`) is not
//!   seen.
//! - A run notices when its file was removed or replaced while it ran: it
//!   notes the file's [`FileId`] after creating it and compares at the end.

use std::fs::{File, TryLockError};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::Config;
use crate::config::{DatasetKind, LayerConfig};
use crate::data::idx::split_files;

/// A file's identity: its device and inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity of the file at `path` (following symlinks), or `None`
    /// when nothing (readable) is there.
    pub fn of(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId {
            dev: m.dev(),
            ino: m.ino(),
        })
    }
}

/// A file a run reads, with its role in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// `"config"`, `"checkpoint"` (`protocol.load`), `"dataset"` or
    /// `"spike"` (a spike-file layer's file).
    pub role: &'static str,
    /// The path as the run names it.
    pub path: PathBuf,
}

/// The files a run of `config`, loaded from `config_path`, reads: the
/// config, the checkpoint of `protocol.load`, the IDX files (as far as
/// they exist) of `stimulus.path` for an `idx` or `auto` dataset and of
/// `protocol.path` for the split of each phase that shows images, and the
/// file of each spike-file layer.
pub fn inputs(config_path: &Path, config: &Config) -> Vec<Input> {
    let input = |role, path: &Path| Input {
        role,
        path: path.to_owned(),
    };
    let mut v = vec![input("config", config_path)];
    if let Some(p) = &config.protocol {
        v.extend(p.load.as_deref().map(|l| input("checkpoint", l)));
        for phase in [&p.train, &p.assign, &p.evaluate] {
            if phase.images > 0 {
                let files = split_files(&p.path, phase.split());
                v.extend(files.iter().map(|f| input("dataset", f)));
            }
        }
    }
    if let Some(s) = &config.stimulus
        && matches!(s.dataset, DatasetKind::Idx | DatasetKind::Auto)
    {
        let files = split_files(&s.path, &s.split);
        v.extend(files.iter().map(|f| input("dataset", f)));
    }
    for layer in config.layers.values() {
        if let LayerConfig::SpikeFile(f) = layer {
            v.push(input("spike", &f.path));
        }
    }
    v
}

/// Fails when `out` is the same file as one of `inputs`, with a one-line
/// message naming both, e.g. `output file ./x.toml is the run's config file
/// (x.toml); choose another --out`.
pub fn refuse_inputs(out: &Path, inputs: &[Input]) -> Result<(), String> {
    let Some(id) = FileId::of(out) else {
        return Ok(());
    };
    match inputs.iter().find(|i| FileId::of(&i.path) == Some(id)) {
        None => Ok(()),
        Some(i) => Err(format!(
            "output file {} is the run's {} file ({}); choose another --out",
            out.display(),
            i.role,
            i.path.display()
        )),
    }
}

/// Removes the existing file `out` so that a new one can be created in its
/// place, unless another process has it open for writing (HDF5's exclusive
/// lock is held on it): then nothing is touched and the message says so.
/// A reader (e.g. `h5py` or `spikesim inspect`) keeps reading the removed
/// file undisturbed. A symlink at `out` is removed, not its target.
pub fn remove_unless_written(out: &Path) -> Result<(), String> {
    let locked = refuse_written(out, "overwritten")?;
    // The lock is held until `locked` closes, after the removal, so no HDF5
    // writer can open the old file in between.
    std::fs::remove_file(out).map_err(|e| format!("cannot remove {}: {e}", out.display()))?;
    drop(locked);
    Ok(())
}

/// Fails, saying the file is not `what` (e.g. `overwritten`, `resumed`),
/// when another process has `path` open for writing; otherwise returns it
/// open with a shared lock held.
pub fn refuse_written(path: &Path, what: &str) -> Result<File, String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot open {} to check that no run writes it: {e}",
            path.display()
        )
    })?;
    match file.try_lock_shared() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(format!(
            "{} is open in another process (a run still writing it?); not {what}",
            path.display()
        )),
        Err(TryLockError::Error(e)) => Err(format!(
            "cannot check whether another process writes {}: {e}; not {what}",
            path.display()
        )),
    }
}
