//! The layout of a spikesim output file, in one place.
//!
//! Every name, type and storage setting of the HDF5 file that
//! [`writer`](super::writer) produces and [`inspect`](super::inspect) reads is
//! defined here; neither of them spells a group, dataset or attribute name
//! itself. The layout (DESIGN §3):
//!
//! ```text
//! /                                   attrs: spikesim_version, schema_version, seed, dt_ms,
//!                                            steps, threads, config_toml, created_utc, complete
//! /spikes/<layer>/timestamps          float64 [n_spikes], attr units = "ms"
//! /spikes/<layer>/node_ids            uint64  [n_spikes]
//!     group attrs: sorting = by_time (SONATA enum, u8), n_nodes (u64, the layer size)
//! /report/<layer>/<var>/data          float32 [n_frames, n_recorded], attr units
//! /report/<layer>/<var>/mapping/node_ids        uint64  [n_recorded]
//! /report/<layer>/<var>/mapping/index_pointers  uint64  [n_recorded + 1] = 0..=n_recorded
//! /report/<layer>/<var>/mapping/element_ids     uint32  [n_recorded] (zeros)
//! /report/<layer>/<var>/mapping/time            float64 [3] = start, stop (exclusive), dt (ms),
//!                                               attr units = "ms"
//! ```
//!
//! Spikes follow the SONATA spike-file layout and traces SONATA's
//! frame-oriented report layout (with one extra `<var>` level, so one layer
//! can report several variables), so SONATA readers (libsonata, h5py scripts
//! written for SONATA) read them unchanged. `n_nodes` and `complete` are
//! spikesim extensions that SONATA readers ignore.
//!
//! Times are stored in milliseconds and always computed as `step as f64 * dt_ms`
//! (one multiplication, never an accumulated sum), so a timestamp divided by
//! `dt_ms` gives back its integer step exactly whenever the product is exact.

/// Version of this layout. Bump it whenever a name, type or meaning below
/// changes; [`inspect`](super::inspect) refuses files of another version.
pub const SCHEMA_VERSION: &str = "1";

// ---------------------------------------------------------------- root attributes

/// Root attribute (string): version of the spikesim build that wrote the file.
pub const ATTR_SPIKESIM_VERSION: &str = "spikesim_version";
/// Root attribute (string): [`SCHEMA_VERSION`] of the file. Its presence marks
/// a spikesim output file.
pub const ATTR_SCHEMA_VERSION: &str = "schema_version";
/// Root attribute (u64): the run's master seed.
pub const ATTR_SEED: &str = "seed";
/// Root attribute (f64): the time step, in ms.
pub const ATTR_DT_MS: &str = "dt_ms";
/// Root attribute (u64): the number of steps. Holds the planned number while
/// the run is being written and the number actually simulated once the writer
/// has finished.
pub const ATTR_STEPS: &str = "steps";
/// Root attribute (u64): the number of worker threads of the run.
pub const ATTR_THREADS: &str = "threads";
/// Root attribute (string): the full, resolved TOML configuration of the run.
pub const ATTR_CONFIG_TOML: &str = "config_toml";
/// Root attribute (string): when the file was created, ISO-8601 UTC
/// (`YYYY-MM-DDTHH:MM:SSZ`).
pub const ATTR_CREATED_UTC: &str = "created_utc";
/// Root attribute (u8, spikesim extension): 0 while the run is being written
/// or when it was interrupted, 1 once the writer has finished cleanly.
pub const ATTR_COMPLETE: &str = "complete";

/// The root attributes in the order `inspect` lists them (config_toml is left
/// out of that listing: it is long and has its own use).
pub const ROOT_ATTR_ORDER: [&str; 8] = [
    ATTR_SPIKESIM_VERSION,
    ATTR_SCHEMA_VERSION,
    ATTR_CREATED_UTC,
    ATTR_COMPLETE,
    ATTR_SEED,
    ATTR_DT_MS,
    ATTR_STEPS,
    ATTR_THREADS,
];

// ---------------------------------------------------------------- spikes

/// Group holding one subgroup per spiking layer (a SONATA population).
pub const SPIKES_GROUP: &str = "spikes";
/// Dataset (float64, ms) of spike times, in a layer's spike group.
pub const DS_TIMESTAMPS: &str = "timestamps";
/// Dataset (uint64) of spiking node ids, in a layer's spike group; also the
/// name of the node-id dataset in a report's mapping group.
pub const DS_NODE_IDS: &str = "node_ids";
/// Spike-group attribute: the [`Sorting`] of the spikes.
pub const ATTR_SORTING: &str = "sorting";
/// Spike-group attribute (u64, spikesim extension): the number of neurons of
/// the layer, so that rates can be computed from the file alone.
pub const ATTR_N_NODES: &str = "n_nodes";
/// Attribute (string) giving the unit of a dataset.
pub const ATTR_UNITS: &str = "units";
/// Unit of every time in the file.
pub const TIME_UNITS: &str = "ms";

/// SONATA's `sorting` enum for spike populations.
///
/// Stored as an HDF5 ENUM attribute with base type u8 and members named
/// exactly as SONATA names them, which is how libsonata reads it (HDF5
/// converts enums member by name). spikesim always writes
/// [`Sorting::ByTime`]: spikes in step order, within a step by node id.
#[derive(hdf5::H5Type, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Sorting {
    /// No particular order.
    #[hdf5(rename = "none")]
    None = 0,
    /// Sorted by node id.
    #[hdf5(rename = "by_id")]
    ById = 1,
    /// Sorted by time.
    #[hdf5(rename = "by_time")]
    ByTime = 2,
}

// ---------------------------------------------------------------- reports (traces)

/// Group holding `<layer>/<var>` report groups.
pub const REPORT_GROUP: &str = "report";
/// Dataset (float32, `[n_frames, n_recorded]`) of a report; has attr [`ATTR_UNITS`].
pub const DS_DATA: &str = "data";
/// Subgroup of a report describing its columns and frames.
pub const MAPPING_GROUP: &str = "mapping";
/// Mapping dataset (uint64, `[n_recorded + 1]`): column `k` covers elements
/// `index_pointers[k]..index_pointers[k + 1]`; one element per node, so 0..=n.
pub const DS_INDEX_POINTERS: &str = "index_pointers";
/// Mapping dataset (uint32, `[n_recorded]`): compartment of each column; always 0
/// (point neurons).
pub const DS_ELEMENT_IDS: &str = "element_ids";
/// Mapping dataset (float64, `[3]`): start, stop (exclusive) and interval of the
/// frames, in ms. `stop` is rewritten as frames arrive and at finish.
pub const DS_TIME: &str = "time";

// ---------------------------------------------------------------- storage

/// Chunk length, in elements, of the growing spike datasets (512 KiB of
/// float64 or uint64).
pub const SPIKE_CHUNK_ELEMS: usize = 65_536;
/// Target size in bytes of one chunk of a report's `data`: a chunk spans all
/// recorded columns and as many frames as fit in this size (at least one).
pub const TRACE_CHUNK_BYTES: usize = 256 * 1024;
/// Deflate (gzip) level of growing datasets, used only where the HDF5 library
/// has the deflate filter.
pub const DEFLATE_LEVEL: u8 = 1;

/// Path of a layer's spike group, e.g. `spikes/exc`.
pub fn spikes_path(layer: &str) -> String {
    format!("{SPIKES_GROUP}/{layer}")
}

/// Path of a report group, e.g. `report/exc/voltage`.
pub fn report_path(layer: &str, var: &str) -> String {
    format!("{REPORT_GROUP}/{layer}/{var}")
}

/// Number of frames per chunk of a report `data` dataset with `n_recorded`
/// float32 columns: as many as fit in [`TRACE_CHUNK_BYTES`], at least one.
pub fn trace_chunk_rows(n_recorded: usize) -> usize {
    let row_bytes = n_recorded.max(1) * std::mem::size_of::<f32>();
    (TRACE_CHUNK_BYTES / row_bytes).max(1)
}

/// Checks that `name` can be one HDF5 path component of a layer or variable
/// name; returns why not otherwise.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("name is empty".to_owned())
    } else if name.contains('/') {
        Err(format!("name {name:?} contains '/'"))
    } else if name == "." || name == ".." {
        Err(format!("name {name:?} is not allowed"))
    } else if name.contains('\0') {
        Err(format!("name {name:?} contains a NUL character"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_chunk_rows_fill_256_kib() {
        // 10 columns of 4 bytes = 40 bytes a row; 262144 / 40 = 6553.6 -> 6553 rows.
        assert_eq!(trace_chunk_rows(10), 6553);
        // A row of 1 Mi columns (4 MiB) is larger than the target: one row.
        assert_eq!(trace_chunk_rows(1 << 20), 1);
        // 65536 columns = 256 KiB exactly: one row.
        assert_eq!(trace_chunk_rows(65_536), 1);
    }

    #[test]
    fn names_are_single_path_components() {
        assert!(check_name("exc").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("..").is_err());
        assert_eq!(spikes_path("exc"), "spikes/exc");
        assert_eq!(report_path("exc", "voltage"), "report/exc/voltage");
    }
}
