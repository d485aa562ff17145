//! Resumable runs: a run's whole state saved in its own output file now and
//! then (a *resume point*), so that `spikesim run --resume x.h5` continues
//! an interrupted run and finishes with the same datasets, value for value,
//! as a run that was never interrupted.
//!
//! - [`state`]: the network's dynamic state as named columns.
//! - Where a point lives in the file, and how the file is reopened and its
//!   datasets cut back to the point: `record::hdf5` (`resume.rs`).
//! - [`open`] (here): what a file to resume holds, and the checks that the
//!   resumed run is the same run: the same resolved config (the thread count
//!   aside, which changes nothing), the same spikesim version and binary.

pub mod state;

use std::path::Path;
use std::sync::OnceLock;

use hdf5::types::VarLenUnicode;

use crate::record::batch::Values;
use crate::record::hdf5::{ResumePoint, read_resume_point};
use crate::record::output::refuse_written;
use crate::record::read::open_spikesim;
use crate::record::schema;

/// Column of a resume point holding [`binary_digest`] of the binary that
/// wrote it.
pub const BINARY_COLUMN: &str = "binary";

/// An interrupted run's file, ready to resume.
#[derive(Debug, Clone)]
pub struct Interrupted {
    /// The run's resolved config (root attribute `config_toml`).
    pub config_toml: String,
    /// Its latest resume point.
    pub point: ResumePoint,
}

/// Reads the file of an interrupted run at `path` and checks that this
/// binary can resume it: a spikesim file that no other process is writing,
/// not complete, written by this spikesim version and binary, with a resume
/// point. The error is one line
/// naming the file.
pub fn open(path: &Path) -> Result<Interrupted, String> {
    let name = path.display();
    if path.exists() {
        drop(refuse_written(path, "resumed")?);
    }
    let (config_toml, version, complete) = {
        let file = open_spikesim(path).map_err(|e| e.to_string())?;
        let text = |attr: &str| {
            file.attr(attr)
                .and_then(|a| a.read_scalar::<VarLenUnicode>())
                .map(|s| s.as_str().to_owned())
                .map_err(|_| format!("{name} has no {attr} attribute"))
        };
        let complete = file
            .attr(schema::ATTR_COMPLETE)
            .and_then(|a| a.read_scalar::<u8>())
            .unwrap_or(0);
        (
            text(schema::ATTR_CONFIG_TOML)?,
            text(schema::ATTR_SPIKESIM_VERSION)?,
            complete,
        )
    };
    if complete == 1 {
        return Err(format!("{name} is complete; there is nothing to resume"));
    }
    let this = env!("CARGO_PKG_VERSION");
    if version != this {
        return Err(format!(
            "{name} was written by spikesim {version}; this is {this}: resume it with that version"
        ));
    }
    let point = read_resume_point(path).map_err(|e| {
        format!("cannot resume {name}: {e} (it was written without resume points, or stopped before the first)")
    })?;
    let digest = point.columns.iter().find(|(n, _)| n == BINARY_COLUMN);
    if !matches!(digest, Some((_, Values::U64(d))) if d[..] == [binary_digest()]) {
        return Err(format!(
            "{name} was written by another spikesim binary (a different build of {this}); resume it with that binary"
        ));
    }
    Ok(Interrupted { config_toml, point })
}

/// Where the resolved config `now` differs from `saved` (both
/// [`Config::to_toml`](crate::Config::to_toml)), as
/// `` `[section] line` in the file, `[section] line` here ``, or `None`
/// when they are the same run. `simulation.threads` is ignored: results do
/// not depend on it.
pub fn config_difference(saved: &str, now: &str) -> Option<String> {
    let lines = |text: &str| -> Vec<String> {
        let mut section = String::new();
        let mut out = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if line.starts_with('[') {
                section = line.to_owned();
            } else if !(section == "[simulation]" && line.starts_with("threads =")) {
                out.push(format!("{section} {line}").trim().to_owned());
            }
        }
        out
    };
    let (a, b) = (lines(saved), lines(now));
    let missing = "(nothing)".to_owned();
    (0..a.len().max(b.len()))
        .find(|&k| a.get(k) != b.get(k))
        .map(|k| {
            format!(
                "`{}` in the file, `{}` here",
                a.get(k).unwrap_or(&missing),
                b.get(k).unwrap_or(&missing)
            )
        })
}

/// A digest (64-bit FNV-1a) of this process's executable, so that a run is
/// resumed only by the binary that started it; 0 where it cannot be read.
/// Computed once.
pub fn binary_digest() -> u64 {
    static DIGEST: OnceLock<u64> = OnceLock::new();
    *DIGEST.get_or_init(|| {
        std::fs::read("/proc/self/exe")
            .or_else(|_| std::env::current_exe().and_then(std::fs::read))
            .map_or(0, |bytes| fnv1a(&bytes))
    })
}

/// 64-bit FNV-1a of `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // The FNV authors' vectors: "" -> the offset basis, "a" -> 0xaf63dc4c8601ec8c,
        // "foobar" -> 0x85944171f73967e8.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn config_difference_names_the_first_differing_line_and_ignores_threads() {
        let saved = "[simulation]\nthreads = 1\nseed = 3\n\n[layers.h]\nsize = 100\n";
        let more_threads = "[simulation]\nthreads = 2\nseed = 3\n\n[layers.h]\nsize = 100\n";
        assert_eq!(config_difference(saved, more_threads), None);
        let bigger = "[simulation]\nthreads = 1\nseed = 3\n\n[layers.h]\nsize = 200\n";
        assert_eq!(
            config_difference(saved, bigger).unwrap(),
            "`[layers.h] size = 100` in the file, `[layers.h] size = 200` here"
        );
        let shorter = "[simulation]\nthreads = 1\nseed = 3\n";
        assert_eq!(
            config_difference(saved, shorter).unwrap(),
            "`[layers.h] size = 100` in the file, `(nothing)` here"
        );
    }
}
