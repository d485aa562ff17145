//! Summaries of files that the writer wrote (finished, aborted, dropped,
//! older) and of files that are not ours.

use hdf5::File;
use hdf5::types::VarLenUnicode;

use super::text::short_float;
use super::*;
use crate::record::fixtures::{TempPath, layout, sample_layout, send_sample, write_sample};
use crate::record::layout::{RunHeader, SpikeLayer};
use crate::record::writer::Writer;

#[test]
fn summary_of_the_sample_file() {
    // The sample (see `write_sample`): dt 0.1 ms, 17 steps simulated, so
    // duration = 17 * 0.1 = 1.7 ms = 0.0017 s. `input`: 4 neurons, 6 spikes,
    // rate 6 / (4 * 0.0017) = 882.35 Hz. `exc`: 3 neurons, 0 spikes, 0 Hz.
    // Trace input/voltage: 2 neurons, 5 frames, mV.
    let tmp = TempPath::new("summary");
    write_sample(&tmp.0);
    let summary = summarize(&tmp.0).unwrap();

    let duration_ms = 17.0 * 0.1;
    assert_eq!(summary.duration_ms, duration_ms);
    assert!(summary.complete);
    assert_eq!(
        (summary.steps, summary.steps_done, &summary.error),
        (17, Some(17), &None)
    );
    // A complete file has every root attribute but `error`.
    let keys: Vec<&str> = summary.attrs.iter().map(|(k, _)| k.as_str()).collect();
    let expected: Vec<&str> = schema::ROOT_ATTR_ORDER
        .into_iter()
        .filter(|k| *k != schema::ATTR_ERROR)
        .collect();
    assert_eq!(keys, expected);
    let attr = |k: &str| {
        summary
            .attrs
            .iter()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(attr("steps"), "17");
    assert_eq!(attr("steps_done"), "17");
    assert_eq!(attr("dt_ms"), "0.1");
    assert_eq!(attr("seed"), 0xDEAD_BEEF_1234u64.to_string());
    assert_eq!(attr("complete"), "yes");
    assert_eq!(attr("schema_version"), "1");

    assert_eq!(summary.layers.len(), 2);
    let input = &summary.layers[0];
    assert_eq!(
        (input.name.as_str(), input.n_nodes, input.n_spikes),
        ("input", 4, 6)
    );
    let expected_rate = 6.0 / (4.0 * 0.0017);
    assert!((input.mean_rate_hz - expected_rate).abs() < 1e-9 * expected_rate);
    let exc = &summary.layers[1];
    assert_eq!(
        (exc.name.as_str(), exc.n_nodes, exc.n_spikes),
        ("exc", 3, 0)
    );
    assert_eq!(exc.mean_rate_hz, 0.0);

    assert_eq!(
        summary.traces,
        vec![TraceSummary {
            layer: "input".to_owned(),
            var: "voltage".to_owned(),
            n_recorded: 2,
            n_frames: 5,
            units: "mV".to_owned(),
        }]
    );

    // Rates: input in 5-step bins (0.5 ms), 4 bins; exc in 10-step bins
    // (1.0 ms), none sent. Weights: input_exc 4 synapses × 3 snapshots,
    // exc_exc 0 × 2. Samples: 3 from synthetic, counts of exc and input.
    assert_eq!(
        summary.rates,
        vec![
            RateSummary {
                layer: "input".to_owned(),
                n_nodes: 4,
                bins: 4,
                bin_ms: 5.0 * 0.1,
            },
            RateSummary {
                layer: "exc".to_owned(),
                n_nodes: 3,
                bins: 0,
                bin_ms: 10.0 * 0.1,
            },
        ]
    );
    let weight = |projection: &str, pre: &str, synapses, snapshots| WeightSummary {
        projection: projection.to_owned(),
        pre: pre.to_owned(),
        post: "exc".to_owned(),
        synapses,
        snapshots,
    };
    assert_eq!(
        summary.weights,
        vec![
            weight("input_exc", "input", 4, 3),
            weight("exc_exc", "exc", 0, 2)
        ]
    );
    assert_eq!(
        summary.samples,
        Some(SampleSummary {
            dataset: "synthetic".to_owned(),
            count: 3,
            layers: vec!["exc".to_owned(), "input".to_owned()],
        })
    );

    let text = summary.to_string();
    assert!(text.starts_with("complete: yes\n"), "{text}");
    assert!(!text.contains("config_toml"), "{text}");
    assert!(!text.contains("steps_done"), "{text}");
    assert!(text.contains("duration_ms       1.7\n"), "{text}");
    assert!(
        text.contains("  layer  neurons  spikes  mean rate (Hz)\n"),
        "{text}"
    );
    assert!(
        text.contains("  input        4       6          882.35\n"),
        "{text}"
    );
    assert!(
        text.contains("  exc          3       0            0.00\n"),
        "{text}"
    );
    assert!(
        text.contains("  input  voltage         2       5  mV\n"),
        "{text}"
    );
    assert!(text.contains("rates (2 layers)\n"), "{text}");
    assert!(
        text.contains("  layer  neurons  bins  bin (ms)\n"),
        "{text}"
    );
    assert!(
        text.contains("  input        4     4       0.5\n"),
        "{text}"
    );
    assert!(
        text.contains("  exc          3     0         1\n"),
        "{text}"
    );
    assert!(text.contains("weights (2 projections)\n"), "{text}");
    assert!(
        text.contains("  input_exc   input -> exc         4          3\n"),
        "{text}"
    );
    assert!(
        text.contains("  exc_exc     exc -> exc           0          2\n"),
        "{text}"
    );
    assert!(
        text.ends_with("samples: 3 from synthetic (counts of exc, input)\n"),
        "{text}"
    );
}

#[test]
fn summary_of_an_aborted_file() {
    // The sample's blocks, aborted after 17 of 20 planned steps. steps keeps
    // the planned 20; the duration is the simulated 17 * 0.1 = 1.7 ms, so
    // input's rate is 6 / (4 * 0.0017) = 882.35 Hz as in the finished file.
    let tmp = TempPath::new("summary-aborted");
    let header = RunHeader {
        spikesim_version: "0.1.0-test".to_owned(),
        seed: 7,
        dt_ms: 0.1,
        steps: 20,
        threads: 1,
        config_toml: String::new(),
    };
    let writer = Writer::create(&tmp.0, &header, &sample_layout(), 4).unwrap();
    send_sample(&writer);
    writer.abort(17, "interrupted (SIGINT)").unwrap();

    let summary = summarize(&tmp.0).unwrap();
    assert!(!summary.complete);
    assert_eq!(summary.steps, 20);
    assert_eq!(summary.steps_done, Some(17));
    assert_eq!(summary.error.as_deref(), Some("interrupted (SIGINT)"));
    assert_eq!(summary.duration_ms, 17.0 * 0.1);
    assert_eq!(summary.layers[0].n_spikes, 6);
    let expected_rate = 6.0 / (4.0 * 0.0017);
    assert!((summary.layers[0].mean_rate_hz - expected_rate).abs() < 1e-9 * expected_rate);
    // Every block sent is counted.
    assert_eq!(summary.rates[0].bins, 4);
    assert_eq!(summary.weights[0].snapshots, 3);
    assert_eq!(summary.samples.as_ref().unwrap().count, 3);

    let text = summary.to_string();
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "complete: no (stopped after 17 of 20 steps: interrupted (SIGINT))"
    );
    assert!(text.contains("\nsteps             20\n"), "{text}");
    assert!(text.contains("\nduration_ms       1.7\n"), "{text}");
    let attr = |k: &str| {
        summary
            .attrs
            .iter()
            .find(|(n, _)| n == k)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(attr("complete"), "no");
    assert_eq!(attr("error"), "interrupted (SIGINT)");
}

#[test]
fn summary_of_a_file_whose_writer_never_ended() {
    // Dropped without finish or abort (as a killed process leaves it, once
    // flushed): no steps_done, so the duration is the planned 10 * 0.1 ms, and
    // no /samples group. It still reads, and says it is incomplete.
    let tmp = TempPath::new("summary-dropped");
    let header = RunHeader {
        spikesim_version: "0.1.0-test".to_owned(),
        seed: 7,
        dt_ms: 0.1,
        steps: 10,
        threads: 1,
        config_toml: String::new(),
    };
    let layers = [SpikeLayer {
        name: "l".to_owned(),
        n_nodes: 2,
    }];
    drop(Writer::create(&tmp.0, &header, &layout(&layers, &[]), 1).unwrap());
    let summary = summarize(&tmp.0).unwrap();
    assert!(!summary.complete);
    assert_eq!((summary.steps_done, summary.error.as_deref()), (None, None));
    assert_eq!(summary.duration_ms, 10.0 * 0.1);
    assert!(summary.rates.is_empty() && summary.weights.is_empty());
    assert_eq!(summary.samples, None);
    let text = summary.to_string();
    assert!(
        text.starts_with("complete: no (interrupted, or still being written)\n"),
        "{text}"
    );
    assert!(text.contains("rates: none recorded\n"), "{text}");
    assert!(text.contains("weights: none recorded\n"), "{text}");
    assert!(text.ends_with("samples: none recorded\n"), "{text}");
}

#[test]
fn files_from_before_rates_weights_and_samples_still_read() {
    // A schema-1 file written before /rates and /weights existed: delete them
    // from a fresh file; the summary has no rates or weights and no error.
    let tmp = TempPath::new("summary-old");
    write_sample(&tmp.0);
    {
        let file = File::open_rw(&tmp.0).unwrap();
        for group in ["rates", "weights", "samples"] {
            file.unlink(group).unwrap();
        }
        file.delete_attr("steps_done").unwrap();
    }
    let summary = summarize(&tmp.0).unwrap();
    assert!(summary.complete);
    assert!(summary.rates.is_empty() && summary.weights.is_empty());
    assert_eq!((summary.samples, summary.steps_done), (None, None));
    assert_eq!(summary.layers.len(), 2);
    assert_eq!(summary.duration_ms, 17.0 * 0.1);
}

#[test]
fn unreadable_files_give_one_line_errors() {
    let missing = TempPath::new("missing");
    let err = summarize(&missing.0).unwrap_err();
    assert!(matches!(err, ReadError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&missing.0.display().to_string()),
        "{err}"
    );

    let text = TempPath::new("text");
    std::fs::write(&text.0, "this is not HDF5\n").unwrap();
    let err = summarize(&text.0).unwrap_err();
    assert!(matches!(err, ReadError::NotHdf5 { .. }), "{err:?}");
    assert!(err.to_string().ends_with("not an HDF5 file"), "{err}");

    let empty = TempPath::new("empty");
    std::fs::write(&empty.0, "").unwrap();
    let err = summarize(&empty.0).unwrap_err();
    assert!(matches!(err, ReadError::NotHdf5 { .. }), "{err:?}");

    // A valid HDF5 file, but not ours: no schema_version.
    let foreign = TempPath::new("foreign");
    File::create(&foreign.0)
        .unwrap()
        .new_attr::<u64>()
        .shape(())
        .create("x")
        .unwrap();
    let err = summarize(&foreign.0).unwrap_err();
    assert!(matches!(err, ReadError::NotSpikesim { .. }), "{err:?}");
    assert!(
        err.to_string().contains("not a spikesim output file"),
        "{err}"
    );

    // Ours, from the future.
    let future = TempPath::new("future");
    {
        let file = File::create(&future.0).unwrap();
        let v: VarLenUnicode = "2".parse().unwrap();
        let attr = file
            .new_attr::<VarLenUnicode>()
            .shape(())
            .create("schema_version");
        attr.unwrap().write_scalar(&v).unwrap();
    }
    let err = summarize(&future.0).unwrap_err();
    assert!(
        matches!(err, ReadError::UnsupportedSchema { .. }),
        "{err:?}"
    );

    for err in [
        summarize(&missing.0),
        summarize(&text.0),
        summarize(&foreign.0),
    ] {
        assert!(!err.unwrap_err().to_string().contains('\n'));
    }
}

#[test]
fn summary_lists_results_and_state() {
    // The sample plus datasets: a scalar f64 accuracy, a scalar f32 and a
    // scalar u64, a 2-D u32 confusion matrix, θ (f32 [3]) and an i32 vector.
    use crate::record::batch::{Attr, Batch, Values};
    let tmp = TempPath::new("summary-datasets");
    let writer = Writer::create(&tmp.0, &header(), &sample_layout(), 4).unwrap();
    send_sample(&writer);
    let blocks = [
        (
            "results/evaluate/accuracy",
            vec![],
            Values::F64(vec![0.8312]),
        ),
        (
            "results/evaluate/confusion",
            vec![2, 2],
            Values::U32(vec![5, 1, 0, 4]),
        ),
        ("results/evaluate/rate", vec![], Values::F32(vec![0.8312])),
        ("results/evaluate/count", vec![], Values::U64(vec![10])),
        ("state/theta/exc", vec![3], Values::F32(vec![0.0; 3])),
        (
            "results/assignments/exc",
            vec![3],
            Values::I32(vec![1, -1, 0]),
        ),
    ];
    for (path, shape, values) in blocks {
        writer
            .send(Batch::Dataset {
                path: path.to_owned(),
                shape,
                values,
                attrs: vec![("units".to_owned(), Attr::Str("1".to_owned()))],
            })
            .unwrap();
    }
    writer.finish(17).unwrap();

    let summary = summarize(&tmp.0).unwrap();
    let d = |path: &str, dtype: &str, shape: Vec<u64>, value: Option<&str>| DatasetSummary {
        path: path.to_owned(),
        dtype: dtype.to_owned(),
        shape,
        value: value.map(str::to_owned),
    };
    // results/ first, depth first in the order written, then state/.
    assert_eq!(
        summary.datasets,
        vec![
            d(
                "results/evaluate/accuracy",
                "float64",
                vec![],
                Some("0.8312")
            ),
            d("results/evaluate/confusion", "uint32", vec![2, 2], None),
            d("results/evaluate/rate", "float32", vec![], Some("0.8312")),
            d("results/evaluate/count", "uint64", vec![], Some("10")),
            d("results/assignments/exc", "int32", vec![3], None),
            d("state/theta/exc", "float32", vec![3], None),
        ]
    );
    let text = summary.to_string();
    let expected = "samples: 3 from synthetic (counts of exc, input)\n\n\
                    results and state (6 datasets)\n\
                    \x20 results/evaluate/accuracy = 0.8312\n\
                    \x20 results/evaluate/confusion  uint32 [2, 2]\n\
                    \x20 results/evaluate/rate = 0.8312\n\
                    \x20 results/evaluate/count = 10\n\
                    \x20 results/assignments/exc  int32 [3]\n\
                    \x20 state/theta/exc  float32 [3]\n";
    assert!(text.ends_with(expected), "{text}");
}

fn header() -> RunHeader {
    RunHeader {
        spikesim_version: "0.1.0-test".to_owned(),
        seed: 7,
        dt_ms: 0.1,
        steps: 20,
        threads: 1,
        config_toml: String::new(),
    }
}

#[test]
fn short_float_trims() {
    assert_eq!(short_float(17.0 * 0.1), "1.7");
    assert_eq!(short_float(200.0), "200");
    assert_eq!(short_float(0.0), "0");
}
