//! The layout of a spikesim output file, in one place.
//!
//! Every name, type and storage setting of the HDF5 file that the
//! [`hdf5`](super::hdf5) backend and the learning protocol write and
//! [`inspect`](super::inspect) and [`checkpoint`](super::checkpoint) read is
//! defined here; none of them spells a group, dataset or attribute name
//! itself. The layout (DESIGN §3):
//!
//! ```text
//! /                                   attrs: spikesim_version, schema_version, seed, dt_ms,
//!                                            steps, threads, config_toml, created_utc, complete,
//!                                            steps_done and error (once the writer has ended)
//! /spikes/<layer>/timestamps          float64 [n_spikes], attr units = "ms"
//! /spikes/<layer>/node_ids            uint64  [n_spikes]
//!     group attrs: sorting = by_time (SONATA enum, u8), n_nodes (u64, the layer size)
//! /report/<layer>/<var>/data          float32 [n_frames, n_recorded], attr units
//! /report/<layer>/<var>/mapping/node_ids        uint64  [n_recorded]
//! /report/<layer>/<var>/mapping/index_pointers  uint64  [n_recorded + 1] = 0..=n_recorded
//! /report/<layer>/<var>/mapping/element_ids     uint32  [n_recorded] (zeros)
//! /report/<layer>/<var>/mapping/time            float64 [3] = start, stop (exclusive), dt (ms),
//!                                               attr units = "ms"
//! /rates/<layer>/counts               uint64 [n_bins], attr units = "spikes/bin": spikes of
//!                                     the whole layer in bin k = steps [k·b, (k+1)·b)
//!     group attrs: bin_ms (f64 = b·dt_ms), n_nodes (u64)
//! /weights/<projection>/pre_ids       uint32 [n_synapses]  (storage order, fixed at creation)
//! /weights/<projection>/post_ids      uint32 [n_synapses]
//! /weights/<projection>/data          float32 [n_snapshots, n_synapses], attr units = "nA"
//! /weights/<projection>/steps_done    uint64 [n_snapshots] (0 = initial weights), attr units = "steps"
//! /weights/<projection>/time_ms       float64 [n_snapshots] = steps_done·dt_ms, attr units = "ms"
//!     group attrs: pre, post (strings, layer names), n_pre, n_post (u64)
//! /samples/index                      uint64  [n_samples]  (index into the dataset)
//! /samples/label                      uint8   [n_samples]
//! /samples/start_ms                   float64 [n_samples] = first step·dt_ms, attr units = "ms"
//! /samples/counts/<layer>             uint32  [n_samples, n_nodes], attr units = "spikes"
//!     /samples attrs: dataset (string), rows, cols, steps_per_image, rest_steps (u64)
//! /results/<phase>/<name>             whole datasets of a protocol's phase (train, assign,
//!                                     evaluate): labels, presentations, counts, ...
//! /results/assignments/<layer>        int32 [n_neurons]: each neuron's class, -1 = none
//! /state/weights/<projection>         float32 [n_synapses]: final weights, storage order
//! /state/theta/<layer>                float64 [n_neurons]: final threshold offsets θ (mV)
//! /state/sigma/<layer>                float64 [1]: the layer's shared threshold σ (mV)
//! /state/stopped                      uint64 scalar, only in a stopped protocol run:
//!                                     attrs stopped_phase (string), stopped_epoch,
//!                                     stopped_image (u64)
//! ```
//!
//! `/spikes`, `/report`, `/rates` and `/weights` always exist (possibly
//! empty); `/samples` only in runs with a stimulus protocol, `/results` and
//! `/state` only in runs that write them
//! ([`Batch::Dataset`](super::batch::Batch::Dataset)s; their attributes are
//! in [`checkpoint`](super::checkpoint)). Every dataset
//! with a unit carries a `units` attribute; ids, indices and labels have none.
//!
//! Spikes follow the SONATA spike-file layout and traces SONATA's
//! frame-oriented report layout (with one extra `<var>` level, so one layer
//! can report several variables), so SONATA readers (libsonata, h5py scripts
//! written for SONATA) read them unchanged. `n_nodes`, `complete`,
//! `steps_done`, `error` and the `/rates`, `/weights` and `/samples` groups
//! are spikesim extensions that SONATA readers ignore.
//!
//! Times are stored in milliseconds and always computed as `step as f64 * dt_ms`
//! (one multiplication, never an accumulated sum), so a timestamp divided by
//! `dt_ms` gives back its integer step exactly whenever the product is exact.

/// Version of this layout. Bump it whenever a name, type or meaning below
/// changes; [`inspect`](super::inspect) refuses files of another version.
/// Additions that readers of the version can ignore (new optional groups or
/// attributes) keep it: `inspect` reads version-1 files that predate
/// `/rates`, `/weights`, `/samples`, `steps_done` and `error`.
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

/// Root attribute (u64, spikesim extension): the number of steps simulated,
/// written when the writer ends through `finish` or `abort` (absent from a
/// file whose process was killed).
pub const ATTR_STEPS_DONE: &str = "steps_done";
/// Root attribute (string, spikesim extension): why the run stopped early,
/// written by `abort` or when the writer stopped on an error; absent from a
/// complete file.
pub const ATTR_ERROR: &str = "error";

/// The root attributes in the order `inspect` lists them (config_toml is left
/// out of that listing: it is long and has its own use). `steps_done` and
/// `error` are listed only where present.
pub const ROOT_ATTR_ORDER: [&str; 10] = [
    ATTR_SPIKESIM_VERSION,
    ATTR_SCHEMA_VERSION,
    ATTR_CREATED_UTC,
    ATTR_COMPLETE,
    ATTR_SEED,
    ATTR_DT_MS,
    ATTR_STEPS,
    ATTR_STEPS_DONE,
    ATTR_ERROR,
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
/// Unit of a time counted in simulation steps (`weights/<projection>/steps_done`).
pub const STEP_UNITS: &str = "steps";

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

// ---------------------------------------------------------------- rates

/// Group holding one subgroup per layer whose binned population rate is recorded.
pub const RATES_GROUP: &str = "rates";
/// Dataset (uint64, `[n_bins]`) of spikes of the whole layer per bin, in a
/// layer's rate group; has attr [`ATTR_UNITS`] = [`RATE_UNITS`].
pub const DS_COUNTS: &str = "counts";
/// Rate-group attribute (f64): width of a bin in ms, `bin_steps · dt_ms`.
pub const ATTR_BIN_MS: &str = "bin_ms";
/// Unit of a rate's `counts`.
pub const RATE_UNITS: &str = "spikes/bin";

// ---------------------------------------------------------------- weights

/// Group holding one subgroup per projection whose weights are snapshotted
/// during the run (the final weights are in [`FINAL_WEIGHTS_GROUP`]).
pub const WEIGHT_SNAPSHOTS_GROUP: &str = "weights";
/// Dataset (uint32, `[n_synapses]`): presynaptic neuron of each synapse, in
/// the projection's storage order.
pub const DS_PRE_IDS: &str = "pre_ids";
/// Dataset (uint32, `[n_synapses]`): postsynaptic neuron of each synapse.
pub const DS_POST_IDS: &str = "post_ids";
/// Dataset (uint64, `[n_snapshots]`): steps simulated before each snapshot
/// (0 = the initial weights); has attr [`ATTR_UNITS`] = [`STEP_UNITS`]. Same
/// name as the root attribute [`ATTR_STEPS_DONE`].
pub const DS_STEPS_DONE: &str = "steps_done";
/// Dataset (float64, `[n_snapshots]`, ms): time of each snapshot,
/// `steps_done · dt_ms`.
pub const DS_TIME_MS: &str = "time_ms";
/// Weight-group attribute (string): name of the presynaptic layer.
pub const ATTR_PRE: &str = "pre";
/// Weight-group attribute (string): name of the postsynaptic layer.
pub const ATTR_POST: &str = "post";
/// Weight-group attribute (u64): size of the presynaptic layer.
pub const ATTR_N_PRE: &str = "n_pre";
/// Weight-group attribute (u64): size of the postsynaptic layer.
pub const ATTR_N_POST: &str = "n_post";
/// Attribute (string) of a projection's final weights: its connectivity rule.
pub const ATTR_CONNECTIVITY: &str = "connectivity";
/// Unit of the weights (`data`): the current one spike adds.
pub const WEIGHT_UNITS: &str = "nA";

// ---------------------------------------------------------------- samples

/// Group of per-sample results of a stimulus protocol.
pub const SAMPLES_GROUP: &str = "samples";
/// Dataset (uint64, `[n_samples]`): index of each sample in its dataset.
pub const DS_INDEX: &str = "index";
/// Dataset (uint8, `[n_samples]`): label of each sample.
pub const DS_LABEL: &str = "label";
/// Dataset (float64, `[n_samples]`, ms): when each sample's presentation began.
pub const DS_START_MS: &str = "start_ms";
/// Subgroup of `/samples` with one uint32 `[n_samples, n_nodes]` dataset of
/// per-neuron spike counts per layer; each has attr [`ATTR_UNITS`] = [`SAMPLE_COUNT_UNITS`].
pub const SAMPLE_COUNTS_GROUP: &str = "counts";
/// `/samples` attribute (string): the dataset the samples come from.
pub const ATTR_DATASET: &str = "dataset";
/// `/samples` attribute (u64): image height in pixels.
pub const ATTR_ROWS: &str = "rows";
/// `/samples` attribute (u64): image width in pixels.
pub const ATTR_COLS: &str = "cols";
/// `/samples` attribute (u64): steps each image is presented.
pub const ATTR_STEPS_PER_IMAGE: &str = "steps_per_image";
/// `/samples` attribute (u64): silent steps after each image.
pub const ATTR_REST_STEPS: &str = "rest_steps";
/// Unit of the per-sample spike counts.
pub const SAMPLE_COUNT_UNITS: &str = "spikes";

// ---------------------------------------------------------------- results and state

/// Group of a run's results: whole datasets written once, e.g. `results/evaluate/accuracy`.
pub const RESULTS_GROUP: &str = "results";
/// Group of a run's final state: whole datasets written once, e.g. `state/theta/exc`.
pub const STATE_GROUP: &str = "state";
/// The top-level groups that [`Batch::Dataset`](super::batch::Batch::Dataset)
/// may write below.
pub const DATASET_ROOTS: [&str; 2] = [RESULTS_GROUP, STATE_GROUP];

/// `/results` subgroup of the protocol's training phase.
pub const PHASE_TRAIN: &str = "train";
/// `/results` subgroup of the protocol's assignment phase.
pub const PHASE_ASSIGN: &str = "assign";
/// `/results` subgroup of the protocol's evaluation phase.
pub const PHASE_EVALUATE: &str = "evaluate";
/// Phase dataset (uint32, `[n_images]`): the true label of each image.
pub const RESULT_LABELS: &str = "labels";
/// Phase dataset (uint32, `[n_images]`): how often each image was presented.
pub const RESULT_PRESENTATIONS: &str = "presentations";
/// Phase dataset (uint32, `[n_images, n_neurons]`): spikes of each output
/// neuron per image.
pub const RESULT_COUNTS: &str = "counts";
/// Training dataset (int32, `[n_images]`): the class predicted for each image
/// with the assignments of the moment, -1 = none.
pub const RESULT_RUNNING_PREDICTIONS: &str = "running_predictions";
/// Evaluation dataset (int32, `[n_images]`): the predicted class, -1 = none.
pub const RESULT_PREDICTIONS: &str = "predictions";
/// Evaluation dataset (uint32, `[n_classes, n_classes]`): rows true labels,
/// columns predictions.
pub const RESULT_CONFUSION: &str = "confusion";
/// Evaluation dataset (float64 scalar): the fraction of images predicted right.
pub const RESULT_ACCURACY: &str = "accuracy";

/// Group of the neurons' assigned classes, one int32 dataset per layer.
pub const ASSIGNMENTS_GROUP: &str = "results/assignments";
/// Group of the final weights, one float32 dataset per projection (the
/// snapshots during the run are in [`WEIGHT_SNAPSHOTS_GROUP`]).
pub const FINAL_WEIGHTS_GROUP: &str = "state/weights";
/// Group of the final individual threshold offsets θ, one float64 dataset per layer.
pub const THETA_GROUP: &str = "state/theta";
/// Group of the layers' shared thresholds σ, one float64 `[1]` dataset per
/// layer (float32 in files of older versions).
pub const SIGMA_GROUP: &str = "state/sigma";

/// Scalar uint64 dataset written last by a protocol run that was stopped
/// (SIGINT/SIGTERM): `/state` holds the network as it was at that image
/// boundary. Its value is [`ATTR_STOPPED_IMAGE`]; its attributes say where
/// the run stopped. A file whose run did not complete is a checkpoint only
/// if it has this dataset.
pub const STOPPED_PATH: &str = "state/stopped";
/// [`STOPPED_PATH`] attribute (string): the phase that was stopped,
/// [`PHASE_TRAIN`], [`PHASE_ASSIGN`] or [`PHASE_EVALUATE`].
pub const ATTR_STOPPED_PHASE: &str = "stopped_phase";
/// [`STOPPED_PATH`] attribute (u64): the training epoch that was stopped
/// (0-based; 0 in the other phases).
pub const ATTR_STOPPED_EPOCH: &str = "stopped_epoch";
/// [`STOPPED_PATH`] attribute (u64): the index within the phase (from its
/// `offset`) of the first image not shown; the images before it are done
/// and are those of the phase's `/results`.
pub const ATTR_STOPPED_IMAGE: &str = "stopped_image";

/// Path of dataset `name` of a protocol phase, e.g. `results/evaluate/accuracy`.
pub fn result_path(phase: &str, name: &str) -> String {
    format!("{RESULTS_GROUP}/{phase}/{name}")
}

/// Path of a layer's class assignments, e.g. `results/assignments/exc`.
pub fn assignments_path(layer: &str) -> String {
    format!("{ASSIGNMENTS_GROUP}/{layer}")
}

/// Path of a projection's final weights, e.g. `state/weights/input_exc`.
pub fn final_weights_path(projection: &str) -> String {
    format!("{FINAL_WEIGHTS_GROUP}/{projection}")
}

/// Path of a layer's final threshold offsets, e.g. `state/theta/exc`.
pub fn theta_path(layer: &str) -> String {
    format!("{THETA_GROUP}/{layer}")
}

/// Path of a layer's shared threshold, e.g. `state/sigma/exc`.
pub fn sigma_path(layer: &str) -> String {
    format!("{SIGMA_GROUP}/{layer}")
}

// ---------------------------------------------------------------- storage

/// Chunk length, in elements, of the growing spike datasets (64 KiB of
/// float64 or uint64). The timestamps are stored unfiltered, and HDF5 stores
/// an unfiltered chunk whole, so the partly filled last chunk of each
/// population costs up to one chunk on disk: the chunk is kept small.
pub const SPIKE_CHUNK_ELEMS: usize = 8_192;
/// Target size in bytes of one chunk of a report's `data`: a chunk spans all
/// recorded columns and as many frames as fit in this size (at least one).
pub const TRACE_CHUNK_BYTES: usize = 256 * 1024;
/// Chunk length, in elements, of the short growing 1-D series: rate counts,
/// snapshot steps and times, per-sample index, label and start.
pub const SERIES_CHUNK_ELEMS: usize = 4096;
/// Upper bound in bytes of one chunk of a weight `data` dataset: a chunk
/// holds as many whole snapshots as fit (at least one), and a snapshot larger
/// than this is split across chunks of this size.
pub const WEIGHT_CHUNK_BYTES: usize = 1024 * 1024;
/// Upper bound in bytes of one chunk of a `/samples/counts/<layer>` dataset,
/// split the same way.
pub const SAMPLE_CHUNK_BYTES: usize = 256 * 1024;
/// A [`Batch::Dataset`](super::batch::Batch::Dataset) of at most this many
/// bytes is stored contiguously.
pub const DATASET_CONTIGUOUS_MAX_BYTES: usize = 64 * 1024;
/// Upper bound in bytes of one chunk of a chunked
/// [`Batch::Dataset`](super::batch::Batch::Dataset).
pub const DATASET_CHUNK_BYTES: usize = 1024 * 1024;
/// Deflate (gzip) level of growing datasets, used only where the HDF5 library
/// has the deflate filter.
pub const DEFLATE_LEVEL: u8 = 1;

/// Chunk shape `(rows, cols)` of a growing 2-D dataset of `n_cols` columns of
/// `elem_bytes` bytes each, so that a chunk is at most `max_bytes`: all columns
/// and as many rows as fit, or, where one row alone is larger, one row split
/// into pieces of `max_bytes`. Never zero (a dataset of no columns gets `(1, 1)`).
pub fn chunk_2d(n_cols: usize, elem_bytes: usize, max_bytes: usize) -> (usize, usize) {
    if n_cols == 0 {
        return (1, 1);
    }
    let per_chunk = (max_bytes / elem_bytes.max(1)).max(1);
    let cols = n_cols.clamp(1, per_chunk);
    (per_chunk / cols, cols)
}

/// Number of frames per chunk of a report `data` dataset with `n_recorded`
/// float32 columns: as many as fit in [`TRACE_CHUNK_BYTES`], at least one.
pub fn trace_chunk_rows(n_recorded: usize) -> usize {
    let row_bytes = n_recorded.max(1) * std::mem::size_of::<f32>();
    (TRACE_CHUNK_BYTES / row_bytes).max(1)
}

/// What [`check_name`] allows, for messages.
pub const NAME_RULE: &str = "not empty, not '.' or '..', without '/' or NUL";

/// Checks that `name` can be one HDF5 path component of a layer,
/// projection or variable name ([`NAME_RULE`]); returns why not otherwise.
/// The config's validation and the file layout's both use it.
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
    fn chunk_2d_stays_within_the_bound() {
        // 10 float32 weights = 40 bytes a row; 1 MiB / 4 = 262144 elements a chunk,
        // / 10 columns = 26214 rows (26214 * 40 = 1048560 <= 1048576).
        assert_eq!(chunk_2d(10, 4, WEIGHT_CHUNK_BYTES), (26_214, 10));
        // 784 * 400 = 313600 weights (1.2 MiB) a row: more than one chunk holds, so
        // a chunk is one row of 262144 weights, exactly 1 MiB; two chunks per row.
        assert_eq!(chunk_2d(313_600, 4, WEIGHT_CHUNK_BYTES), (1, 262_144));
        // No columns (a projection without synapses): the smallest legal chunk.
        assert_eq!(chunk_2d(0, 4, WEIGHT_CHUNK_BYTES), (1, 1));
        // 100 uint32 counts = 400 bytes a row; 256 KiB / 4 = 65536 elements, / 100 = 655 rows.
        assert_eq!(chunk_2d(100, 4, SAMPLE_CHUNK_BYTES), (655, 100));
    }

    #[test]
    fn names_are_single_path_components() {
        assert!(check_name("exc").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("..").is_err());
    }
}
