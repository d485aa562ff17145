//! The HDF5 backend through the writer: what lands in the file, dataset for
//! dataset. The failures are in [`errors`].

mod errors;

use hdf5::types::VarLenUnicode;
use hdf5::{File, Location};
use ndarray::Array2;

use super::datasets::chunk_nd;
use crate::config::Compression;
use crate::record::batch::{Attr, Batch, Values};
use crate::record::fixtures::{
    SAMPLE_SNAPSHOTS, TempPath, header, layout, sample_layout, send_sample, write_sample,
};
use crate::record::layout::{Layout, SpikeLayer, TraceSpec, WeightSpec};
use crate::record::schema::{self, Sorting};
use crate::record::writer::Writer;

pub(super) fn read_str(loc: &Location, name: &str) -> String {
    loc.attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .as_str()
        .to_owned()
}

pub(super) fn read_u64(loc: &Location, name: &str) -> u64 {
    loc.attr(name).unwrap().read_scalar::<u64>().unwrap()
}

/// A `Batch::Dataset`.
pub(super) fn dataset(
    path: &str,
    shape: &[u64],
    values: Values,
    attrs: Vec<(String, Attr)>,
) -> Batch {
    Batch::Dataset {
        path: path.to_owned(),
        shape: shape.to_vec(),
        values,
        attrs,
    }
}

#[test]
fn round_trip_layout_and_values() {
    let tmp = TempPath::new("roundtrip");
    write_sample(&tmp.0);
    let file = File::open(&tmp.0).unwrap();

    // Root attributes: as given, except steps = 17 simulated (not 20 planned).
    assert_eq!(read_str(&file, "spikesim_version"), "0.1.0-test");
    assert_eq!(read_str(&file, "schema_version"), schema::SCHEMA_VERSION);
    assert_eq!(read_u64(&file, "seed"), 0xDEAD_BEEF_1234);
    assert_eq!(
        file.attr("dt_ms").unwrap().read_scalar::<f64>().unwrap(),
        0.1
    );
    assert_eq!(read_u64(&file, "steps"), 17);
    // finish also writes steps_done; a complete file has no error.
    assert_eq!(read_u64(&file, "steps_done"), 17);
    assert!(file.attr("error").is_err());
    assert_eq!(read_u64(&file, "threads"), 2);
    assert_eq!(read_str(&file, "config_toml"), header(20).config_toml);
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        1
    );
    let created = read_str(&file, "created_utc");
    assert_eq!(created.len(), "2026-01-01T00:00:00Z".len(), "{created}");
    assert!(
        created.starts_with("20") && created.ends_with('Z'),
        "{created}"
    );

    // input: spikes (step, node) = (0,1) (0,2) (3,0) (7,3) (10,0) (16,0);
    // timestamps are step * 0.1 computed as one product each.
    let input = file.group("spikes/input").unwrap();
    let steps = [0u64, 0, 3, 7, 10, 16];
    let expected: Vec<f64> = steps.iter().map(|&s| s as f64 * 0.1).collect();
    let timestamps = input.dataset("timestamps").unwrap();
    assert_eq!(timestamps.read_raw::<f64>().unwrap(), expected);
    assert_eq!(expected[4], 1.0); // 10 * 0.1 rounds to exactly 1.0; 0.1 summed ten times does not
    assert_eq!(read_str(&timestamps, "units"), "ms");
    assert!(timestamps.is_chunked() && timestamps.is_resizable());
    assert_eq!(timestamps.chunk(), Some(vec![schema::SPIKE_CHUNK_ELEMS]));
    let node_ids = input.dataset("node_ids").unwrap();
    assert_eq!(node_ids.read_raw::<u64>().unwrap(), vec![1, 2, 0, 3, 0, 0]);
    assert_eq!(
        input
            .attr("sorting")
            .unwrap()
            .read_scalar::<Sorting>()
            .unwrap(),
        Sorting::ByTime
    );
    assert_eq!(read_u64(&input, "n_nodes"), 4);
    // The spike datasets are read by SONATA tools, whose HDF5 may lack
    // deflate (libsonata's wheels): the integer node_ids are packed by the
    // built-in, lossless integer scale-offset filter, the float timestamps
    // are stored raw.
    assert_eq!(
        node_ids.filters(),
        vec![hdf5::filters::Filter::scale_offset(
            hdf5::filters::ScaleOffset::Integer(0)
        )]
    );
    assert_eq!(timestamps.filters(), vec![]);

    // exc never spiked: its group, attributes and empty datasets still exist.
    let exc = file.group("spikes/exc").unwrap();
    assert_eq!(exc.dataset("timestamps").unwrap().shape(), vec![0]);
    assert_eq!(exc.dataset("node_ids").unwrap().shape(), vec![0]);
    assert_eq!(read_u64(&exc, "n_nodes"), 3);
    assert_eq!(
        exc.attr("sorting")
            .unwrap()
            .read_scalar::<Sorting>()
            .unwrap(),
        Sorting::ByTime
    );

    // The trace: 5 frames × 2 columns, in order.
    let report = file.group("report/input/voltage").unwrap();
    let data = report.dataset("data").unwrap();
    let expected = Array2::from_shape_vec(
        (5, 2),
        vec![0.0f32, 0.1, 1.0, 1.1, 2.0, 2.1, 3.0, 3.1, 4.0, 4.1],
    )
    .unwrap();
    assert_eq!(data.read_2d::<f32>().unwrap(), expected);
    assert_eq!(read_str(&data, "units"), "mV");
    // 2 columns: 262144 / 8 = 32768 rows a chunk.
    assert_eq!(data.chunk(), Some(vec![32_768, 2]));
    // A report's data is read by SONATA tools, whose HDF5 may lack deflate
    // (libsonata's wheels), and no built-in filter compresses floats
    // losslessly: it is stored raw.
    assert_eq!(data.filters(), vec![]);
    let mapping = report.group("mapping").unwrap();
    assert_eq!(
        mapping
            .dataset("node_ids")
            .unwrap()
            .read_raw::<u64>()
            .unwrap(),
        vec![3, 1]
    );
    assert_eq!(
        mapping
            .dataset("index_pointers")
            .unwrap()
            .read_raw::<u64>()
            .unwrap(),
        vec![0, 1, 2]
    );
    assert_eq!(
        mapping
            .dataset("element_ids")
            .unwrap()
            .read_raw::<u32>()
            .unwrap(),
        vec![0, 0]
    );
    // time = [2 * 0.1, (2 + 5 * 3) * 0.1, 0.1 * 3] = [0.2, 1.7, 0.3] (ms), each one product.
    let time = mapping.dataset("time").unwrap();
    assert_eq!(
        time.read_raw::<f64>().unwrap(),
        vec![2.0 * 0.1, 17.0 * 0.1, 0.1 * 3.0]
    );
    assert_eq!(read_str(&time, "units"), "ms");
}

#[test]
fn back_pressure_keeps_every_block_in_order() {
    // Capacity 1: the sender waits on the writer almost every block. 2000 blocks
    // of one spike each (step k, node k % 5) and one trace frame each (value k)
    // must all arrive, in order.
    let tmp = TempPath::new("backpressure");
    let layers = [SpikeLayer {
        name: "l".to_owned(),
        n_nodes: 5,
    }];
    let traces = [TraceSpec {
        layer: "l".to_owned(),
        var: "v".to_owned(),
        units: "mV".to_owned(),
        node_ids: vec![0],
        start_step: 0,
        every: 1,
    }];
    let n = 2000u64;
    let writer = Writer::create(&tmp.0, &header(n), &layout(&layers, &traces), 1).unwrap();
    for k in 0..n {
        writer
            .send(Batch::Spikes {
                layer: 0,
                steps: vec![k],
                node_ids: vec![k % 5],
            })
            .unwrap();
        writer
            .send(Batch::Trace {
                trace: 0,
                data: vec![k as f32],
            })
            .unwrap();
    }
    writer.finish(n).unwrap();

    let file = File::open(&tmp.0).unwrap();
    let ts = file
        .dataset("spikes/l/timestamps")
        .unwrap()
        .read_raw::<f64>()
        .unwrap();
    let expected: Vec<f64> = (0..n).map(|k| k as f64 * 0.1).collect();
    assert_eq!(ts, expected);
    let ids = file
        .dataset("spikes/l/node_ids")
        .unwrap()
        .read_raw::<u64>()
        .unwrap();
    assert_eq!(ids, (0..n).map(|k| k % 5).collect::<Vec<_>>());
    let data = file
        .dataset("report/l/v/data")
        .unwrap()
        .read_raw::<f32>()
        .unwrap();
    assert_eq!(data, (0..n).map(|k| k as f32).collect::<Vec<_>>());
}

#[test]
fn dropped_writer_leaves_a_readable_incomplete_file() {
    // No finish: drop closes the file; steps keeps the planned 10, complete = 0,
    // and the data sent is there.
    let tmp = TempPath::new("dropped");
    let layers = [SpikeLayer {
        name: "l".to_owned(),
        n_nodes: 2,
    }];
    let writer = Writer::create(&tmp.0, &header(10), &layout(&layers, &[]), 4).unwrap();
    writer
        .send(Batch::Spikes {
            layer: 0,
            steps: vec![4],
            node_ids: vec![1],
        })
        .unwrap();
    drop(writer);
    let file = File::open(&tmp.0).unwrap();
    assert_eq!(
        file.dataset("spikes/l/timestamps")
            .unwrap()
            .read_raw::<f64>()
            .unwrap(),
        vec![4.0 * 0.1]
    );
    assert_eq!(read_u64(&file, "steps"), 10);
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        0
    );
    // Nobody said how far the run got or why it stopped.
    assert!(file.attr("steps_done").is_err());
    assert!(file.attr("error").is_err());
}

#[test]
fn round_trip_rates_weights_and_samples() {
    let tmp = TempPath::new("roundtrip-new");
    write_sample(&tmp.0);
    let file = File::open(&tmp.0).unwrap();
    let dt = 0.1;

    // Rates of `input`: bins of 5 steps = 5 * 0.1 = 0.5 ms; counts 3, 1, 1, 1
    // (steps 0, 0, 3 | 7 | 10 | 16) from blocks [3, 1], [], [1, 1].
    let input = file.group("rates/input").unwrap();
    assert_eq!(
        input.attr("bin_ms").unwrap().read_scalar::<f64>().unwrap(),
        5.0 * dt
    );
    assert_eq!(read_u64(&input, "n_nodes"), 4);
    let counts = input.dataset("counts").unwrap();
    assert_eq!(counts.read_raw::<u64>().unwrap(), vec![3, 1, 1, 1]);
    assert_eq!(read_str(&counts, "units"), "spikes/bin");
    assert!(counts.is_resizable());
    assert_eq!(counts.chunk(), Some(vec![schema::SERIES_CHUNK_ELEMS]));
    // `exc`: bins of 10 steps = 1.0 ms, n_nodes 3, no block: no bins.
    let exc = file.group("rates/exc").unwrap();
    assert_eq!(
        exc.attr("bin_ms").unwrap().read_scalar::<f64>().unwrap(),
        10.0 * dt
    );
    assert_eq!(read_u64(&exc, "n_nodes"), 3);
    assert_eq!(exc.dataset("counts").unwrap().shape(), vec![0]);

    // Weights of input_exc: ids as declared, 3 snapshots × 4 synapses in order,
    // steps 0, 10, 17 -> 0 * 0.1, 10 * 0.1, 17 * 0.1 ms (one product each).
    let w = file.group("weights/input_exc").unwrap();
    assert_eq!(read_str(&w, "pre"), "input");
    assert_eq!(read_str(&w, "post"), "exc");
    assert_eq!((read_u64(&w, "n_pre"), read_u64(&w, "n_post")), (4, 3));
    let ids = |name: &str| w.dataset(name).unwrap().read_raw::<u32>().unwrap();
    assert_eq!(ids("pre_ids"), vec![0, 0, 1, 3]);
    assert_eq!(ids("post_ids"), vec![0, 2, 1, 2]);
    let data = w.dataset("data").unwrap();
    let expected: Vec<f32> = SAMPLE_SNAPSHOTS.iter().flat_map(|(_, d)| *d).collect();
    assert_eq!(
        data.read_2d::<f32>().unwrap(),
        Array2::from_shape_vec((3, 4), expected).unwrap()
    );
    assert_eq!(read_str(&data, "units"), "nA");
    assert!(data.is_resizable());
    // 4 synapses of 4 bytes: 1 MiB / 16 = 65536 snapshots a chunk.
    assert_eq!(data.chunk(), Some(vec![65_536, 4]));
    let steps = w.dataset("steps_done").unwrap();
    assert_eq!(steps.read_raw::<u64>().unwrap(), vec![0, 10, 17]);
    assert_eq!(read_str(&steps, "units"), "steps");
    assert!(w.dataset("pre_ids").unwrap().attr("units").is_err());
    let time = w.dataset("time_ms").unwrap();
    assert_eq!(
        time.read_raw::<f64>().unwrap(),
        vec![0.0, 10.0 * dt, 17.0 * dt]
    );
    assert_eq!(read_str(&time, "units"), "ms");
    // exc_exc has no synapses: empty ids and 2 snapshots of 0 weights.
    let e = file.group("weights/exc_exc").unwrap();
    assert_eq!(e.dataset("pre_ids").unwrap().shape(), vec![0]);
    assert_eq!(e.dataset("post_ids").unwrap().shape(), vec![0]);
    assert_eq!(e.dataset("data").unwrap().shape(), vec![2, 0]);
    assert_eq!(
        e.dataset("steps_done").unwrap().read_raw::<u64>().unwrap(),
        vec![0, 17]
    );

    // Samples: 3 in two blocks; starts 0, 8, 16 -> 0, 0.8, 1.6 ms.
    let samples = file.group("samples").unwrap();
    assert_eq!(read_str(&samples, "dataset"), "synthetic");
    let shape = ["rows", "cols", "steps_per_image", "rest_steps"].map(|a| read_u64(&samples, a));
    assert_eq!(shape, [2, 3, 5, 3]);
    let ds = |name: &str| samples.dataset(name).unwrap();
    assert_eq!(ds("index").read_raw::<u64>().unwrap(), vec![7, 2, 5]);
    assert_eq!(ds("label").read_raw::<u8>().unwrap(), vec![1, 0, 9]);
    assert_eq!(
        ds("start_ms").read_raw::<f64>().unwrap(),
        vec![0.0, 8.0 * dt, 16.0 * dt]
    );
    assert_eq!(read_str(&ds("start_ms"), "units"), "ms");
    assert!(ds("index").attr("units").is_err());
    assert!(ds("label").attr("units").is_err());
    // exc: rows [0 1 2] from the first block, [3 0 0] [0 0 1] from the second.
    let exc = samples.dataset("counts/exc").unwrap();
    assert_eq!(
        exc.read_2d::<u32>().unwrap(),
        Array2::from_shape_vec((3, 3), vec![0, 1, 2, 3, 0, 0, 0, 0, 1]).unwrap()
    );
    assert_eq!(read_str(&exc, "units"), "spikes");
    // 3 columns of 4 bytes: 256 KiB / 12 = 21845 samples a chunk.
    assert_eq!(exc.chunk(), Some(vec![21_845, 3]));
    let input = samples.dataset("counts/input").unwrap();
    assert_eq!(
        input.read_2d::<u32>().unwrap(),
        Array2::from_shape_vec((3, 4), vec![1, 0, 0, 2, 0, 0, 1, 0, 1, 1, 1, 1]).unwrap()
    );
    if hdf5::filters::deflate_available() {
        assert_eq!(exc.filters(), vec![hdf5::filters::Filter::deflate(1)]);
        assert_eq!(data.filters(), vec![hdf5::filters::Filter::deflate(1)]);
    }
}

#[test]
fn a_file_without_rates_weights_or_samples_has_empty_groups() {
    // The groups of /rates and /weights exist even when empty; /samples does
    // not exist without a sample spec.
    let tmp = TempPath::new("bare");
    let writer = Writer::create(&tmp.0, &header(3), &Layout::default(), 1).unwrap();
    writer.finish(3).unwrap();
    let file = File::open(&tmp.0).unwrap();
    assert!(
        file.group("rates")
            .unwrap()
            .member_names()
            .unwrap()
            .is_empty()
    );
    assert!(
        file.group("weights")
            .unwrap()
            .member_names()
            .unwrap()
            .is_empty()
    );
    assert!(!file.link_exists("samples"));
}

#[test]
fn large_snapshot_spans_column_chunks() {
    // 784 * 400 = 313600 synapses (dense input -> exc of Diehl & Cook): one
    // snapshot is 1254400 bytes > 1 MiB, so a chunk is one snapshot's first
    // 262144 weights (1 MiB) and a snapshot spans 2 chunks. Weight k of
    // snapshot s is k + s / 2 (exact in f32 below 2^24).
    let tmp = TempPath::new("large");
    let (n_pre, n_post) = (784u32, 400u32);
    let pre_ids: Vec<u32> = (0..n_pre)
        .flat_map(|j| std::iter::repeat_n(j, 400))
        .collect();
    let post_ids: Vec<u32> = (0..n_pre).flat_map(|_| 0..n_post).collect();
    let n = pre_ids.len();
    assert_eq!(n, 313_600);
    let layout = Layout {
        weights: vec![WeightSpec {
            projection: "input_exc".to_owned(),
            pre: "input".to_owned(),
            post: "exc".to_owned(),
            n_pre: n_pre.into(),
            n_post: n_post.into(),
            pre_ids,
            post_ids,
        }],
        ..Layout::default()
    };
    let writer = Writer::create(&tmp.0, &header(100), &layout, 1).unwrap();
    let snapshot = |s: u64| -> Vec<f32> { (0..n).map(|k| k as f32 + s as f32 / 2.0).collect() };
    for s in 0..3 {
        writer
            .send(Batch::Weights {
                weights: 0,
                steps_done: s * 50,
                data: snapshot(s),
            })
            .unwrap();
    }
    writer.finish(100).unwrap();
    let file = File::open(&tmp.0).unwrap();
    let data = file.dataset("weights/input_exc/data").unwrap();
    assert_eq!(data.shape(), vec![3, n]);
    assert_eq!(data.chunk(), Some(vec![1, 262_144]));
    let all = data.read_raw::<f32>().unwrap();
    let expected: Vec<f32> = (0..3).flat_map(snapshot).collect();
    assert!(all == expected, "snapshots differ");
    let pre = file
        .dataset("weights/input_exc/pre_ids")
        .unwrap()
        .read_raw::<u32>()
        .unwrap();
    // Synapse 400 * 5 + 7 = 2007 goes from input 5 to exc 7.
    assert_eq!(pre[2007], 5);
}

#[test]
fn abort_keeps_every_block_and_records_why() {
    // The sample's blocks, then abort after 17 of 20 planned steps: complete
    // stays 0, steps keeps the planned 20, steps_done = 17, error = the reason,
    // and every block sent is in the file (spot checks of each kind).
    let tmp = TempPath::new("abort");
    let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 2).unwrap();
    send_sample(&writer);
    writer.abort(17, "interrupted by the user").unwrap();

    let file = File::open(&tmp.0).unwrap();
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        0
    );
    assert_eq!(read_u64(&file, "steps"), 20);
    assert_eq!(read_u64(&file, "steps_done"), 17);
    assert_eq!(read_str(&file, "error"), "interrupted by the user");
    let read_u64s = |p: &str| file.dataset(p).unwrap().read_raw::<u64>().unwrap();
    assert_eq!(read_u64s("spikes/input/node_ids"), vec![1, 2, 0, 3, 0, 0]);
    assert_eq!(read_u64s("rates/input/counts"), vec![3, 1, 1, 1]);
    assert_eq!(read_u64s("weights/input_exc/steps_done"), vec![0, 10, 17]);
    assert_eq!(read_u64s("samples/index"), vec![7, 2, 5]);
    assert_eq!(
        file.dataset("report/input/voltage/data").unwrap().shape(),
        vec![5, 2]
    );
    // time stop = (2 + 5 frames * 3) * 0.1 ms, as after finish.
    assert_eq!(
        file.dataset("report/input/voltage/mapping/time")
            .unwrap()
            .read_raw::<f64>()
            .unwrap()[1],
        17.0 * 0.1
    );
}

#[test]
fn dataset_blocks_round_trip() {
    // A scalar f64, a 2-D u32 matrix, an i32 vector with attributes and a
    // large f32 vector, below results/ and state/ (groups created as needed).
    let tmp = TempPath::new("datasets");
    let writer = Writer::create(&tmp.0, &header(10), &sample_layout(), 2).unwrap();
    send_sample(&writer);
    writer
        .send(dataset(
            "results/evaluate/accuracy",
            &[],
            Values::F64(vec![0.8312]),
            vec![("n_samples".to_owned(), Attr::U64(1000))],
        ))
        .unwrap();
    // 2 × 3, row-major: row r, column c holds 10 r + c.
    writer
        .send(dataset(
            "results/evaluate/confusion",
            &[2, 3],
            Values::U32(vec![0, 1, 2, 10, 11, 12]),
            vec![],
        ))
        .unwrap();
    let attrs = vec![
        ("layer".to_owned(), Attr::Str("exc".to_owned())),
        ("rate_hz".to_owned(), Attr::F64(2.5)),
    ];
    writer
        .send(dataset(
            "results/assignments/exc",
            &[4],
            Values::I32(vec![3, -1, 0, 9]),
            attrs,
        ))
        .unwrap();
    // 100000 f32 = 400 KB > 64 KiB: chunked (one chunk: 1 MiB holds it all)
    // and compressed where deflate is available.
    let big: Vec<f32> = (0..100_000).map(|k| k as f32 / 8.0).collect();
    writer
        .send(dataset(
            "state/theta/exc",
            &[100_000],
            Values::F32(big.clone()),
            vec![],
        ))
        .unwrap();
    // An empty vector and a u64 vector.
    writer
        .send(dataset("state/empty", &[0], Values::U64(vec![]), vec![]))
        .unwrap();
    writer
        .send(dataset(
            "state/counts",
            &[2],
            Values::U64(vec![u64::MAX, 7]),
            vec![],
        ))
        .unwrap();
    writer.finish(10).unwrap();

    let file = File::open(&tmp.0).unwrap();
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        1
    );
    let accuracy = file.dataset("results/evaluate/accuracy").unwrap();
    assert!(accuracy.is_scalar());
    assert_eq!(accuracy.shape(), Vec::<usize>::new());
    assert_eq!(accuracy.read_scalar::<f64>().unwrap(), 0.8312);
    assert_eq!(read_u64(&accuracy, "n_samples"), 1000);

    let confusion = file.dataset("results/evaluate/confusion").unwrap();
    assert_eq!(confusion.shape(), vec![2, 3]);
    assert_eq!(confusion.chunk(), None);
    assert_eq!(
        confusion.dtype().unwrap().to_descriptor().unwrap(),
        hdf5::types::TypeDescriptor::Unsigned(hdf5::types::IntSize::U4)
    );
    assert_eq!(
        confusion.read_2d::<u32>().unwrap(),
        Array2::from_shape_vec((2, 3), vec![0, 1, 2, 10, 11, 12]).unwrap()
    );

    let assignments = file.dataset("results/assignments/exc").unwrap();
    assert_eq!(
        assignments.dtype().unwrap().to_descriptor().unwrap(),
        hdf5::types::TypeDescriptor::Integer(hdf5::types::IntSize::U4)
    );
    assert_eq!(assignments.read_raw::<i32>().unwrap(), vec![3, -1, 0, 9]);
    assert_eq!(read_str(&assignments, "layer"), "exc");
    assert_eq!(
        assignments
            .attr("rate_hz")
            .unwrap()
            .read_scalar::<f64>()
            .unwrap(),
        2.5
    );

    let theta = file.dataset("state/theta/exc").unwrap();
    assert_eq!(theta.read_raw::<f32>().unwrap(), big);
    if hdf5::filters::deflate_available() {
        assert_eq!(theta.chunk(), Some(vec![100_000]));
        assert_eq!(theta.filters(), vec![hdf5::filters::Filter::deflate(1)]);
    }
    assert_eq!(file.dataset("state/empty").unwrap().shape(), vec![0]);
    assert_eq!(
        file.dataset("state/counts")
            .unwrap()
            .read_raw::<u64>()
            .unwrap(),
        vec![u64::MAX, 7]
    );
    // Members listed in the order written.
    let results = file.group("results").unwrap();
    assert_eq!(
        results
            .member_names_by(
                hdf5::IndexType::CreationOrder,
                hdf5::IterationOrder::Increasing
            )
            .unwrap(),
        vec!["evaluate", "assignments"]
    );
    // The rest of the file is as without the datasets.
    assert_eq!(
        file.dataset("spikes/input/node_ids")
            .unwrap()
            .read_raw::<u64>()
            .unwrap(),
        vec![1, 2, 0, 3, 0, 0]
    );
}

#[test]
fn large_datasets_are_contiguous_without_compression() {
    // 3 × 100000 f32 = 1.2 MB > 64 KiB: chunked in 2 × 100000 (800 KB ≤ 1 MiB)
    // and compressed with compress = "sonata" or "all" (where deflate
    // exists); with compress = "none" it is contiguous.
    for compress in [Compression::None, Compression::Sonata, Compression::All] {
        let tmp = TempPath::new("dataset-large");
        let layout = Layout {
            compress,
            ..Layout::default()
        };
        let writer = Writer::create(&tmp.0, &header(1), &layout, 1).unwrap();
        let values: Vec<f32> = (0..300_000).map(|k| (k % 1000) as f32).collect();
        writer
            .send(dataset(
                "state/weights/big",
                &[3, 100_000],
                Values::F32(values.clone()),
                vec![],
            ))
            .unwrap();
        writer.finish(1).unwrap();
        let file = File::open(&tmp.0).unwrap();
        let ds = file.dataset("state/weights/big").unwrap();
        assert_eq!(ds.read_raw::<f32>().unwrap(), values);
        if compress != Compression::None && hdf5::filters::deflate_available() {
            // 1 MiB / 4 bytes = 262144 elements: 2 rows of 100000 a chunk.
            assert_eq!(ds.chunk(), Some(vec![2, 100_000]));
        } else {
            assert_eq!(ds.chunk(), None);
        }
    }
}

#[test]
fn compress_all_deflates_the_datasets_sonata_readers_open_too() {
    // With "sonata" spike timestamps and report data are raw and node ids
    // scale-offset packed (round_trip_layout_and_values); "all" deflates
    // them, and every value reads back the same.
    if !hdf5::filters::deflate_available() {
        return;
    }
    let read = |compress: Compression| {
        let tmp = TempPath::new("compress-all");
        let layout = Layout {
            compress,
            ..sample_layout()
        };
        let writer = Writer::create(&tmp.0, &header(20), &layout, 4).unwrap();
        send_sample(&writer);
        writer.finish(17).unwrap();
        let file = File::open(&tmp.0).unwrap();
        let deflate = vec![hdf5::filters::Filter::deflate(schema::DEFLATE_LEVEL)];
        let mut values = Vec::new();
        for path in [
            "spikes/input/timestamps",
            "spikes/input/node_ids",
            "report/input/voltage/data",
        ] {
            let ds = file.dataset(path).unwrap();
            assert_eq!(
                ds.filters() == deflate,
                compress == Compression::All,
                "{path}"
            );
            values.push(format!("{:?}", ds.read_raw::<f64>().unwrap()));
        }
        values
    };
    assert_eq!(read(Compression::All), read(Compression::Sonata));
}

#[test]
fn chunk_nd_keeps_trailing_dimensions_whole() {
    assert_eq!(chunk_nd(&[3, 100_000], 4, 1 << 20), vec![2, 100_000]);
    assert_eq!(chunk_nd(&[1_000_000], 8, 1 << 20), vec![131_072]);
    // A last dimension larger than a chunk: split it, one row a chunk.
    assert_eq!(chunk_nd(&[5, 1_000_000], 4, 1 << 20), vec![1, 262_144]);
    assert_eq!(chunk_nd(&[10, 10, 10], 4, 1 << 20), vec![10, 10, 10]);
}
