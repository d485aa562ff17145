//! Failures: an unusable setup, an unwritable path, batches that contradict
//! the layout, and what the file keeps after each.

use std::path::Path;

use hdf5::File;

use super::{dataset, read_str, read_u64};
use crate::record::batch::{Attr, Batch, Values};
use crate::record::error::RecordError;
use crate::record::fixtures::{TempPath, header, layout, sample_layout};
use crate::record::layout::{Layout, RateSpec, SampleSpec, SpikeLayer, TraceSpec, WeightSpec};
use crate::record::writer::Writer;

#[test]
fn unwritable_path_fails_in_create_and_leaves_nothing() {
    let layers = [SpikeLayer {
        name: "l".to_owned(),
        n_nodes: 1,
    }];
    let missing_dir = TempPath::new("nodir");
    let in_missing_dir = missing_dir.0.join("run.h5");
    for path in [in_missing_dir.as_path(), Path::new("/proc/spikesim-x.h5")] {
        let err = Writer::create(path, &header(1), &layout(&layers, &[]), 1).unwrap_err();
        assert!(matches!(err, RecordError::Create { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(!path.exists());
    }
    assert!(!missing_dir.0.exists());
}

#[test]
fn invalid_setup_fails_before_creating_the_file() {
    let tmp = TempPath::new("invalid");
    let layer = |name: &str| SpikeLayer {
        name: name.to_owned(),
        n_nodes: 1,
    };
    let trace = |every, node_ids| TraceSpec {
        layer: "l".to_owned(),
        var: "v".to_owned(),
        units: "mV".to_owned(),
        node_ids,
        start_step: 0,
        every,
    };
    let cases: Vec<(Vec<SpikeLayer>, Vec<TraceSpec>, &str)> = vec![
        (vec![layer("a/b")], vec![], "contains '/'"),
        (vec![layer("")], vec![], "empty"),
        (vec![layer("x"), layer("x")], vec![], "listed twice"),
        (vec![], vec![trace(0, vec![1])], "every"),
        (vec![], vec![trace(1, vec![])], "no neurons"),
        (
            vec![],
            vec![trace(1, vec![1]), trace(1, vec![2])],
            "listed twice",
        ),
    ];
    for (layers, traces, needle) in cases {
        let err = Writer::create(&tmp.0, &header(1), &layout(&layers, &traces), 1).unwrap_err();
        assert!(matches!(err, RecordError::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(!tmp.0.exists());
    }
    let mut bad_dt = header(1);
    bad_dt.dt_ms = 0.0;
    let err = Writer::create(&tmp.0, &bad_dt, &Layout::default(), 1).unwrap_err();
    assert!(err.to_string().contains("dt_ms"), "{err}");
}

#[test]
fn bad_block_stops_the_writer_and_is_reported() {
    // Layer `l` has 2 neurons; node id 2 is out of range. The writer stops at
    // that block, so the following send fails (or, if the thread has not got
    // there yet, finish does) with the same error; the file keeps the first
    // block and stays marked incomplete.
    let tmp = TempPath::new("badblock");
    let layers = [SpikeLayer {
        name: "l".to_owned(),
        n_nodes: 2,
    }];
    let writer = Writer::create(&tmp.0, &header(10), &layout(&layers, &[]), 0).unwrap();
    writer
        .send(Batch::Spikes {
            layer: 0,
            steps: vec![1],
            node_ids: vec![1],
        })
        .unwrap();
    writer
        .send(Batch::Spikes {
            layer: 0,
            steps: vec![2],
            node_ids: vec![2],
        })
        .unwrap();
    let later = writer.send(Batch::Spikes {
        layer: 0,
        steps: vec![3],
        node_ids: vec![0],
    });
    let err = match later {
        Err(e) => {
            writer.finish(3).unwrap_err();
            e
        }
        Ok(()) => writer.finish(3).unwrap_err(),
    };
    assert!(matches!(err, RecordError::BadBatch { .. }), "{err:?}");
    assert!(err.to_string().contains("node id 2"), "{err}");

    let file = File::open(&tmp.0).unwrap();
    assert_eq!(
        file.dataset("spikes/l/node_ids")
            .unwrap()
            .read_raw::<u64>()
            .unwrap(),
        vec![1]
    );
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        0
    );
}

#[test]
fn abort_after_a_bad_block_reports_both() {
    // Weight block of 3 values for 4 synapses: the writer stops there. abort
    // returns that error and records the caller's reason followed by it; the
    // snapshot before the bad one is kept. A reason that already quotes the
    // error (the usual case: the run stopped because send failed) is kept as is.
    // steps_done is what the file holds whole: the 3 steps of the last mark
    // stored, not the 4 steps the caller did.
    for quote in [false, true] {
        let tmp = TempPath::new("abort-bad");
        let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 0).unwrap();
        let snapshot = |data: Vec<f32>| Batch::Weights {
            weights: 0,
            steps_done: 0,
            data,
        };
        writer.send(snapshot(vec![1.0; 4])).unwrap();
        writer.send(Batch::Through { steps_done: 3 }).unwrap();
        let sent = writer.send(snapshot(vec![1.0; 3]));
        let sent = sent.and_then(|()| writer.send(snapshot(vec![2.0; 4])));
        let reason = match (&sent, quote) {
            (Err(e), true) => format!("run failed: {e}"),
            _ => "stopped".to_owned(),
        };
        let err = writer.abort(4, &reason).unwrap_err();
        assert!(matches!(err, RecordError::BadBatch { .. }), "{err:?}");
        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
        assert_eq!(read_u64(&file, "steps_done"), 3);
        let recorded = read_str(&file, "error");
        if quote && sent.is_err() {
            assert_eq!(recorded, reason);
        } else {
            assert_eq!(recorded, format!("{reason}; {err}"));
        }
        assert_eq!(
            file.dataset("weights/input_exc/data").unwrap().shape(),
            vec![1, 4]
        );
    }
}

#[test]
fn finish_after_a_bad_block_records_the_error() {
    // The writer stops on a rate block for index 5 of 2 rates; finish returns the
    // error, leaves complete = 0 and records the error's text and steps_done =
    // 0: no mark of steps stored whole came before the bad block.
    let tmp = TempPath::new("finish-bad");
    let writer = Writer::create(&tmp.0, &header(20), &sample_layout(), 0).unwrap();
    let _ = writer.send(Batch::Rates {
        rate: 5,
        counts: vec![1],
    });
    let err = writer.finish(20).unwrap_err();
    assert!(err.to_string().contains("rate index 5"), "{err}");
    let file = File::open(&tmp.0).unwrap();
    assert_eq!(
        file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
        0
    );
    assert_eq!(read_u64(&file, "steps"), 20);
    assert_eq!(read_u64(&file, "steps_done"), 0);
    assert_eq!(read_str(&file, "error"), err.to_string());
}

#[test]
fn invalid_rates_weights_and_samples_fail_before_creating_the_file() {
    let tmp = TempPath::new("invalid-new");
    let rate = |layer: &str, bin_steps| RateSpec {
        layer: layer.to_owned(),
        n_nodes: 4,
        bin_steps,
    };
    // A projection 3 -> 2 with synapses (0, 1) and (2, 0).
    let weight = |projection: &str| WeightSpec {
        projection: projection.to_owned(),
        pre: "a".to_owned(),
        post: "b".to_owned(),
        n_pre: 3,
        n_post: 2,
        pre_ids: vec![0, 2],
        post_ids: vec![1, 0],
    };
    let layer = |name: &str| SpikeLayer {
        name: name.to_owned(),
        n_nodes: 2,
    };
    let samples = SampleSpec {
        dataset: "mnist".to_owned(),
        rows: 28,
        cols: 28,
        steps_per_image: 350,
        rest_steps: 150,
        layers: vec![layer("exc")],
    };
    let with_rates = |rates| Layout {
        rates,
        ..Layout::default()
    };
    let with_weights = |weights| Layout {
        weights,
        ..Layout::default()
    };
    let with_samples = |edit: &dyn Fn(&mut SampleSpec)| {
        let mut spec = samples.clone();
        edit(&mut spec);
        Layout {
            samples: Some(spec),
            ..Layout::default()
        }
    };
    let cases: Vec<(Layout, &str)> = vec![
        (
            with_rates(vec![rate("a/b", 1)]),
            "rate layer name \"a/b\" contains '/'",
        ),
        (with_rates(vec![rate("", 1)]), "rate layer name is empty"),
        (with_rates(vec![rate("x", 1), rate("x", 2)]), "listed twice"),
        (
            with_rates(vec![rate("x", 0)]),
            "bin_steps must be at least 1",
        ),
        (with_weights(vec![weight("..")]), "not allowed"),
        (with_weights(vec![weight("p"), weight("p")]), "listed twice"),
        (
            with_weights(vec![WeightSpec {
                pre: String::new(),
                ..weight("p")
            }]),
            "pre layer name is empty",
        ),
        (
            with_weights(vec![WeightSpec {
                post_ids: vec![1],
                ..weight("p")
            }]),
            "2 pre_ids but 1 post_ids",
        ),
        // pre id 3 of a layer of 3 neurons (ids 0..=2).
        (
            with_weights(vec![WeightSpec {
                pre_ids: vec![0, 3],
                ..weight("p")
            }]),
            "synapse 1 has pre id 3, out of range for layer a of 3 neurons",
        ),
        // post id 2 of a layer of 2 neurons.
        (
            with_weights(vec![WeightSpec {
                post_ids: vec![2, 0],
                ..weight("p")
            }]),
            "synapse 0 has post id 2, out of range for layer b of 2 neurons",
        ),
        (with_samples(&|s| s.dataset.clear()), "dataset name"),
        (with_samples(&|s| s.rows = 0), "rows must be at least 1"),
        (with_samples(&|s| s.cols = 0), "cols must be at least 1"),
        (
            with_samples(&|s| s.steps_per_image = 0),
            "steps_per_image must be at least 1",
        ),
        (
            with_samples(&|s| s.layers.push(layer("exc"))),
            "samples: layer \"exc\" is listed twice",
        ),
        (
            with_samples(&|s| s.layers.push(layer("a/b"))),
            "contains '/'",
        ),
    ];
    for (layout, needle) in cases {
        let err = Writer::create(&tmp.0, &header(1), &layout, 1).unwrap_err();
        assert!(matches!(err, RecordError::Invalid { .. }), "{err:?}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        assert!(!tmp.0.exists());
    }
    // The valid versions of the same specs are accepted.
    let layout = Layout {
        rates: vec![rate("x", 1)],
        weights: vec![weight("p")],
        samples: Some(samples),
        ..Layout::default()
    };
    Writer::create(&tmp.0, &header(1), &layout, 1)
        .unwrap()
        .finish(1)
        .unwrap();
}

#[test]
fn bad_dataset_blocks_are_rejected() {
    let ok = || dataset("results/x", &[2], Values::F64(vec![1.0, 2.0]), vec![]);
    let str_attr = |name: &str, value: &str| (name.to_owned(), Attr::Str(value.to_owned()));
    let cases: Vec<(Vec<Batch>, &str)> = vec![
        (
            vec![dataset("other/x", &[], Values::F64(vec![1.0]), vec![])],
            "dataset path \"other/x\" must start with results/ or state/",
        ),
        (
            vec![dataset("/results/x", &[], Values::F64(vec![1.0]), vec![])],
            "must start with results/ or state/",
        ),
        (
            vec![dataset("results", &[], Values::F64(vec![1.0]), vec![])],
            "names a group",
        ),
        (
            vec![dataset("results/", &[], Values::F64(vec![1.0]), vec![])],
            "name is empty",
        ),
        (
            vec![dataset("state//x", &[], Values::F64(vec![1.0]), vec![])],
            "name is empty",
        ),
        (
            vec![dataset("state/../x", &[], Values::F64(vec![1.0]), vec![])],
            "not allowed",
        ),
        (
            vec![dataset(
                "results/m",
                &[2, 3],
                Values::U32(vec![0; 5]),
                vec![],
            )],
            "dataset results/m: shape [2, 3] holds 6 values, but the block has 5",
        ),
        (
            vec![dataset("results/s", &[], Values::F64(vec![]), vec![])],
            "shape [] (a scalar) holds 1 values, but the block has 0",
        ),
        (
            vec![dataset(
                "results/s",
                &[u64::MAX, 4],
                Values::F64(vec![]),
                vec![],
            )],
            "is too large",
        ),
        (vec![ok(), ok()], "dataset results/x is written twice"),
        (
            vec![
                ok(),
                dataset("results/x/y", &[], Values::F64(vec![1.0]), vec![]),
            ],
            "lies below results/x, which is a dataset",
        ),
        (
            vec![
                dataset("results/x/y", &[], Values::F64(vec![1.0]), vec![]),
                ok(),
            ],
            "would replace the group that holds dataset results/x/y",
        ),
        (
            vec![dataset(
                "results/a",
                &[],
                Values::I32(vec![1]),
                vec![str_attr("u", "a"), str_attr("u", "b")],
            )],
            "attribute u is listed twice",
        ),
        (
            vec![dataset(
                "results/a",
                &[],
                Values::I32(vec![1]),
                vec![str_attr("", "a")],
            )],
            "attribute name \"\" is empty",
        ),
        (
            vec![dataset(
                "results/a",
                &[],
                Values::I32(vec![1]),
                vec![str_attr("u", "a\0b")],
            )],
            "attribute u contains a NUL character",
        ),
    ];
    for (blocks, needle) in cases {
        let tmp = TempPath::new("baddataset");
        let writer = Writer::create(&tmp.0, &header(1), &Layout::default(), 4).unwrap();
        for block in blocks {
            let _ = writer.send(block);
        }
        let err = writer.finish(1).unwrap_err();
        assert!(matches!(err, RecordError::BadBatch { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(needle), "{needle}: {msg}");
        assert!(!msg.contains('\n'), "{msg}");
        // The good block before a bad one is kept; complete stays 0.
        let file = File::open(&tmp.0).unwrap();
        assert_eq!(
            file.attr("complete").unwrap().read_scalar::<u8>().unwrap(),
            0
        );
    }
}
