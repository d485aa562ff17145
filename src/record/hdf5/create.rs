//! Creating a run's HDF5 file: the root attributes and every group and
//! dataset of the layout, before the first step.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::SystemTime;

use hdf5::File;

use super::datasets::{
    Codecs, child_group, fixed_1d, growing_1d, growing_2d, ordered_group, scalar_attr, str_attr,
};
use super::reserve::Reserve;
use super::{Hdf5Backend, RateSink, SampleSink, SpikeSink, TraceSink, WeightSink};
use crate::record::layout::{Layout, RunHeader};
use crate::record::schema::{self, Sorting};
use crate::record::utc::utc_timestamp;

/// A short reason for a failed `H5Fcreate`: HDF5's own message is a long
/// stack summary, so ask the operating system about the usual causes first.
pub(super) fn create_failure_reason(path: &Path, err: &hdf5::Error) -> String {
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

/// Writes the root attributes and creates every group and dataset, and holds
/// the disk space the run's appends start from ([`Reserve`]). Consumes
/// the file so that on error every handle is closed when it returns. Each
/// dataset gets its codec from `codecs` (see [`Codecs`] for which).
pub(super) fn build_file(
    file: File,
    path: &Path,
    header: &RunHeader,
    layout: &Layout,
    codecs: Codecs,
) -> hdf5::Result<Hdf5Backend> {
    let private = codecs.private;
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
        // SONATA readers open these: no filter that an HDF5 build may lack.
        let timestamps =
            growing_1d::<f64>(&group, schema::DS_TIMESTAMPS, chunk, codecs.sonata_floats)?;
        str_attr(&timestamps, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        let node_ids = growing_1d::<u64>(&group, schema::DS_NODE_IDS, chunk, codecs.sonata_ints)?;
        spikes.push(SpikeSink {
            timestamps,
            node_ids,
            len: 0,
        });
    }

    let report_group = ordered_group(&file, schema::REPORT_GROUP)?;
    let mut trace_sinks = Vec::with_capacity(layout.traces.len());
    for trace in &layout.traces {
        let layer_group = child_group(&report_group, &trace.layer)?;
        let group = layer_group.create_group(&trace.var)?;
        let n = trace.node_ids.len();
        let chunk = (schema::trace_chunk_rows(n), n);
        // Read by SONATA report readers: float (see `Codecs`).
        let data = growing_2d::<f32>(&group, schema::DS_DATA, n, chunk, codecs.sonata_floats)?;
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
        let counts = growing_1d::<u64>(&group, schema::DS_COUNTS, series, private)?;
        str_attr(&counts, schema::ATTR_UNITS, schema::RATE_UNITS)?;
        rates.push(RateSink { counts, bins: 0 });
    }

    let weights_group = ordered_group(&file, schema::WEIGHT_SNAPSHOTS_GROUP)?;
    let mut weights = Vec::with_capacity(layout.weights.len());
    for w in &layout.weights {
        let group = ordered_group(&weights_group, &w.projection)?;
        str_attr(&group, schema::ATTR_PRE, &w.pre)?;
        str_attr(&group, schema::ATTR_POST, &w.post)?;
        scalar_attr(&group, schema::ATTR_N_PRE, &w.n_pre)?;
        scalar_attr(&group, schema::ATTR_N_POST, &w.n_post)?;
        fixed_1d(&group, schema::DS_PRE_IDS, &w.pre_ids, private)?;
        fixed_1d(&group, schema::DS_POST_IDS, &w.post_ids, private)?;
        let n = w.pre_ids.len();
        let chunk = schema::chunk_2d(n, size_of::<f32>(), schema::WEIGHT_CHUNK_BYTES);
        let data = growing_2d::<f32>(&group, schema::DS_DATA, n, chunk, private)?;
        str_attr(&data, schema::ATTR_UNITS, schema::WEIGHT_UNITS)?;
        let steps_done = growing_1d::<u64>(&group, schema::DS_STEPS_DONE, series, private)?;
        str_attr(&steps_done, schema::ATTR_UNITS, schema::STEP_UNITS)?;
        let time_ms = growing_1d::<f64>(&group, schema::DS_TIME_MS, series, private)?;
        str_attr(&time_ms, schema::ATTR_UNITS, schema::TIME_UNITS)?;
        weights.push(WeightSink {
            n_synapses: n,
            data,
            steps_done,
            time_ms,
            snapshots: 0,
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
            let index = growing_1d::<u64>(&group, schema::DS_INDEX, series, private)?;
            let label = growing_1d::<u8>(&group, schema::DS_LABEL, series, private)?;
            let start_ms = growing_1d::<f64>(&group, schema::DS_START_MS, series, private)?;
            str_attr(&start_ms, schema::ATTR_UNITS, schema::TIME_UNITS)?;
            let counts_group = ordered_group(&group, schema::SAMPLE_COUNTS_GROUP)?;
            let mut counts = Vec::with_capacity(spec.layers.len());
            for layer in &spec.layers {
                let n = usize::try_from(layer.n_nodes)
                    .map_err(|_| hdf5::Error::from("layer too large for this machine"))?;
                let chunk = schema::chunk_2d(n, size_of::<u32>(), schema::SAMPLE_CHUNK_BYTES);
                let ds = growing_2d::<u32>(&counts_group, &layer.name, n, chunk, private)?;
                str_attr(&ds, schema::ATTR_UNITS, schema::SAMPLE_COUNT_UNITS)?;
                counts.push((n, ds));
            }
            Some(SampleSink {
                index,
                label,
                start_ms,
                counts,
                len: 0,
            })
        }
    };

    // The empty layout is on disk before the first step.
    file.flush()?;
    let reserve = Reserve::new(path, 0)
        .map_err(|e| hdf5::Error::from(format!("cannot hold disk space: {e}")))?;
    let mut backend = Hdf5Backend {
        file,
        dt_ms: header.dt_ms,
        spikes,
        traces: trace_sinks,
        rates,
        weights,
        samples,
        codecs,
        path: path.to_owned(),
        reserve,
        resume_slot: None,
        written: Vec::new(),
    };
    backend.reserve.margin = backend.margin();
    backend
        .hold(0)
        .map_err(|e| hdf5::Error::from(format!("cannot hold disk space: {e}")))?;
    Ok(backend)
}
