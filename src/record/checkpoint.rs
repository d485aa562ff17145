//! Reading a trained network back from a run's output file.
//!
//! A run that trains a network saves its final state with
//! [`Batch::Dataset`](super::batch::Batch::Dataset) batches:
//!
//! ```text
//! /state/weights/<projection>     float32 [n_synapses]: the final weights in storage order,
//!                                 attrs pre, post (strings, layer names), n_pre, n_post (u64),
//!                                 connectivity (string, the rule); image-input projections
//!                                 also rows, cols (u64, the image shape)
//! /state/theta/<layer>            float64 [n_neurons]: individual threshold offsets θ (mV)
//! /state/sigma/<layer>            float64 [1]: the layer's shared threshold σ (mV);
//!                                 files of older versions hold float32, which load reads too
//! /results/assignments/<layer>    int32 [n_neurons]: each neuron's assigned class, -1 = none
//! /state/stopped                  uint64 scalar, only where a protocol run was stopped:
//!                                 attrs stopped_phase (string), stopped_epoch, stopped_image (u64)
//! ```
//!
//! The names are in [`schema`]. [`load`] reads whichever of these groups
//! exist, members in the order they were written.
//!
//! A run that completed is a checkpoint; so is one stopped by a signal that
//! wrote `/state/stopped`: a protocol run writes its state at the image
//! boundary where it stopped, then that dataset last, so a file that has it
//! holds the whole state (the writer writes batches in order). Like
//! [`inspect`](super::inspect), call it only when no
//! [`Writer`](super::writer::Writer) of this process is running.

use std::path::Path;

use hdf5::types::{FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataset, File, H5Type};

use crate::record::error::ReadError;
use crate::record::read::{check_fits, members, open_spikesim, type_name};
use crate::record::schema::{
    self, ASSIGNMENTS_GROUP, FINAL_WEIGHTS_GROUP, SIGMA_GROUP, THETA_GROUP,
};

/// The class of a neuron that was assigned none.
pub const UNASSIGNED: i32 = -1;

/// What learning changes: weights, thresholds θ (per neuron) and σ (per
/// layer), by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LearnedState {
    /// (projection, weights in storage order), as in `state/weights`.
    pub weights: Vec<(String, Vec<f32>)>,
    /// (layer, θ per neuron in mV), as in `state/theta`.
    pub theta: Vec<(String, Vec<f64>)>,
    /// (layer, σ in mV), as in `state/sigma`.
    pub sigma: Vec<(String, f64)>,
}

/// The saved state of a trained network; each list in the order written,
/// empty where the file has no such group.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checkpoint {
    /// Weights, θ and σ.
    pub state: LearnedState,
    /// (layer, class per neuron, -1 = none) from `results/assignments`.
    pub assignments: Vec<(String, Vec<i32>)>,
    /// Where the run that wrote the file was stopped, if it was.
    pub stopped: Option<Stopped>,
}

/// Where a stopped protocol run stopped (`/state/stopped`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The phase: `train`, `assign` or `evaluate`.
    pub phase: String,
    /// The training epoch (0-based; 0 in the other phases).
    pub epoch: u64,
    /// Index in the phase of the first image not shown.
    pub image: u64,
}

/// Reads the checkpoint of the spikesim output file at `path`.
///
/// Fails with a one-line error naming the file when there is no file
/// ([`ReadError::NotFound`]), it is not HDF5 ([`ReadError::NotHdf5`]) or
/// not a spikesim file ([`ReadError::NotSpikesim`],
/// [`ReadError::UnsupportedSchema`]), its run did not complete (root
/// attribute `complete` 0 or missing) and was not stopped with its state
/// saved (no `/state/stopped`: [`ReadError::Incomplete`]), or a
/// dataset of the checkpoint layout is not a 1-D dataset of its type
/// ([`ReadError::Read`]).
pub fn load(path: &Path) -> Result<Checkpoint, ReadError> {
    let file = open_spikesim(path)?;
    let complete = file
        .attr(schema::ATTR_COMPLETE)
        .and_then(|a| a.read_scalar::<u8>())
        .unwrap_or(0);
    if complete != 1 && !file.link_exists(schema::STOPPED_PATH) {
        return Err(ReadError::Incomplete {
            path: path.to_owned(),
        });
    }
    read_checkpoint(&file).map_err(|reason| ReadError::Read {
        path: path.to_owned(),
        reason,
    })
}

fn read_checkpoint(file: &File) -> Result<Checkpoint, String> {
    let f32_1d = |ds: &Dataset| read_1d::<f32>(ds, &F32);
    let state = LearnedState {
        weights: read_group(file, FINAL_WEIGHTS_GROUP, f32_1d)?,
        theta: read_group(file, THETA_GROUP, |ds| read_1d::<f64>(ds, &F64))?,
        sigma: read_group(file, SIGMA_GROUP, read_sigma)?
            .into_iter()
            .map(|(layer, v)| match v[..] {
                [sigma] => Ok((layer, sigma)),
                _ => Err(format!(
                    "/{SIGMA_GROUP}/{layer} holds {} values, expected 1",
                    v.len()
                )),
            })
            .collect::<Result<_, _>>()?,
    };
    Ok(Checkpoint {
        state,
        assignments: read_group(file, ASSIGNMENTS_GROUP, |ds| {
            read_1d::<i32>(ds, &TypeDescriptor::Integer(IntSize::U4))
        })?,
        stopped: read_stopped(file)?,
    })
}

const F32: TypeDescriptor = TypeDescriptor::Float(FloatSize::U4);
const F64: TypeDescriptor = TypeDescriptor::Float(FloatSize::U8);

/// A `/state/sigma` dataset: float64, or float32 as versions before σ
/// became an f64 wrote it (each f32 is exactly an f64).
fn read_sigma(ds: &Dataset) -> Result<Vec<f64>, String> {
    match ds.dtype().and_then(|t| t.to_descriptor()) {
        Ok(t) if t == F32 => Ok(read_1d::<f32>(ds, &F32)?
            .into_iter()
            .map(f64::from)
            .collect()),
        _ => read_1d::<f64>(ds, &F64),
    }
}

/// The attributes of `/state/stopped`, if the file has it.
fn read_stopped(file: &File) -> Result<Option<Stopped>, String> {
    if !file.link_exists(schema::STOPPED_PATH) {
        return Ok(None);
    }
    let path = schema::STOPPED_PATH;
    let ds = file
        .dataset(path)
        .map_err(|_| format!("/{path} is not a dataset"))?;
    let attr = |name: &str| {
        ds.attr(name)
            .map_err(|_| format!("/{path} has no attribute {name}"))
    };
    let u64_attr = |name: &str| {
        attr(name)?
            .read_scalar::<u64>()
            .map_err(|e| format!("/{path} attribute {name}: {e}"))
    };
    let phase = attr(schema::ATTR_STOPPED_PHASE)?
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .map_err(|e| format!("/{path} attribute {}: {e}", schema::ATTR_STOPPED_PHASE))?;
    Ok(Some(Stopped {
        phase: phase.as_str().to_owned(),
        epoch: u64_attr(schema::ATTR_STOPPED_EPOCH)?,
        image: u64_attr(schema::ATTR_STOPPED_IMAGE)?,
    }))
}

/// Every member of the group at `path` (none where it does not exist), each
/// a dataset read by `read`.
fn read_group<T>(
    file: &File,
    path: &str,
    read: impl Fn(&Dataset) -> Result<Vec<T>, String>,
) -> Result<Vec<(String, Vec<T>)>, String> {
    // `link_exists` of `a/b` fails quietly (false) where `a` is missing.
    if !file.link_exists(path) {
        return Ok(Vec::new());
    }
    let group = file
        .group(path)
        .map_err(|_| format!("/{path} is not a group"))?;
    let mut out = Vec::new();
    for name in members(&group)? {
        let ds = group
            .dataset(&name)
            .map_err(|_| format!("/{path}/{name} is not a dataset"))?;
        out.push((name, read(&ds)?));
    }
    Ok(out)
}

fn read_1d<T: H5Type>(ds: &Dataset, expected: &TypeDescriptor) -> Result<Vec<T>, String> {
    let name = ds.name();
    let found = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| format!("{name}: {e}"))?;
    let shape = ds.shape();
    if found != *expected || shape.len() != 1 {
        return Err(format!(
            "{name} is {} {shape:?}, expected a 1-D {} dataset",
            type_name(&found),
            type_name(expected)
        ));
    }
    check_fits(&name, &shape, size_of::<T>())?;
    ds.read_raw::<T>().map_err(|e| format!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::batch::{Attr, Batch, Values};
    use crate::record::fixtures::TempPath;
    use crate::record::layout::{Layout, RunHeader};
    use crate::record::writer::Writer;

    fn header() -> RunHeader {
        RunHeader {
            spikesim_version: "0.1.0-test".to_owned(),
            seed: 1,
            dt_ms: 0.5,
            steps: 4,
            threads: 1,
            config_toml: String::new(),
        }
    }

    fn dataset(path: &str, values: Values, attrs: Vec<(String, Attr)>) -> Batch {
        Batch::Dataset {
            path: path.to_owned(),
            shape: vec![values.len() as u64],
            values,
            attrs,
        }
    }

    /// Writes `batches` into a fresh file; finished (complete = 1) or dropped.
    fn write(path: &Path, batches: Vec<Batch>, finish: bool) {
        let writer = Writer::create(path, &header(), &Layout::default(), 2).unwrap();
        for batch in batches {
            writer.send(batch).unwrap();
        }
        if finish {
            writer.finish(4).unwrap();
        }
    }

    /// A 2×2-pixel input (4) -> exc (3) dense projection, exc -> inh (3 -> 3) one-to-one,
    /// theta of exc and inh, assignments of exc.
    fn trained() -> (Vec<Batch>, Checkpoint) {
        let input_exc: Vec<f32> = (0..12).map(|k| k as f32 / 16.0).collect();
        let exc_inh = vec![10.4, 10.4, 10.4];
        let theta_exc = vec![0.05, 0.0, 0.125];
        let theta_inh = vec![0.0; 3];
        let assignments = vec![7, UNASSIGNED, 0];
        let str_attr = |k: &str, v: &str| (k.to_owned(), Attr::Str(v.to_owned()));
        let u64_attr = |k: &str, v: u64| (k.to_owned(), Attr::U64(v));
        let batches = vec![
            dataset(
                &schema::final_weights_path("input_exc"),
                Values::F32(input_exc.clone()),
                vec![
                    str_attr("pre", "input"),
                    str_attr("post", "exc"),
                    u64_attr("n_pre", 4),
                    u64_attr("n_post", 3),
                    u64_attr(schema::ATTR_ROWS, 2),
                    u64_attr(schema::ATTR_COLS, 2),
                ],
            ),
            dataset(
                &schema::theta_path("exc"),
                Values::F64(theta_exc.clone()),
                vec![],
            ),
            dataset(
                &schema::sigma_path("exc"),
                Values::F64(vec![-52.000_000_000_1]),
                vec![],
            ),
            dataset(
                &schema::final_weights_path("exc_inh"),
                Values::F32(exc_inh.clone()),
                vec![
                    str_attr("pre", "exc"),
                    str_attr("post", "inh"),
                    u64_attr("n_pre", 3),
                    u64_attr("n_post", 3),
                ],
            ),
            dataset(
                &schema::theta_path("inh"),
                Values::F64(theta_inh.clone()),
                vec![],
            ),
            dataset(
                &schema::assignments_path("exc"),
                Values::I32(assignments.clone()),
                vec![],
            ),
            Batch::Dataset {
                path: "results/evaluate/accuracy".to_owned(),
                shape: vec![],
                values: Values::F64(vec![0.75]),
                attrs: vec![],
            },
        ];
        let expected = Checkpoint {
            state: LearnedState {
                weights: vec![
                    ("input_exc".to_owned(), input_exc),
                    ("exc_inh".to_owned(), exc_inh),
                ],
                theta: vec![("exc".to_owned(), theta_exc), ("inh".to_owned(), theta_inh)],
                sigma: vec![("exc".to_owned(), -52.000_000_000_1)],
            },
            assignments: vec![("exc".to_owned(), assignments)],
            stopped: None,
        };
        (batches, expected)
    }

    #[test]
    fn load_reads_what_the_writer_wrote() {
        let tmp = TempPath::new("checkpoint");
        let (batches, expected) = trained();
        write(&tmp.0, batches, true);
        assert_eq!(load(&tmp.0).unwrap(), expected);
    }

    /// Versions before σ became an f64 wrote `/state/sigma` as float32: it
    /// still loads, each value exactly (an f32 is an f64: −52.25 stays
    /// −52.25), beside a float64 one of another layer.
    #[test]
    fn a_float32_sigma_of_older_versions_loads() {
        let tmp = TempPath::new("checkpoint-sigma-f32");
        write(
            &tmp.0,
            vec![
                dataset(
                    &schema::sigma_path("old"),
                    Values::F32(vec![-52.25]),
                    vec![],
                ),
                dataset(&schema::sigma_path("new"), Values::F64(vec![0.1]), vec![]),
            ],
            true,
        );
        let sigma = load(&tmp.0).unwrap().state.sigma;
        assert_eq!(sigma, [("old".to_owned(), -52.25), ("new".to_owned(), 0.1)]);
    }

    #[test]
    fn missing_groups_give_empty_lists() {
        // Only theta: no weights, no assignments (and no /state at all in the
        // second file, which has no checkpoint datasets).
        let tmp = TempPath::new("checkpoint-part");
        write(
            &tmp.0,
            vec![dataset(
                &schema::theta_path("exc"),
                Values::F64(vec![1.5]),
                vec![],
            )],
            true,
        );
        let loaded = load(&tmp.0).unwrap();
        assert_eq!(
            loaded,
            Checkpoint {
                state: LearnedState {
                    theta: vec![("exc".to_owned(), vec![1.5])],
                    ..LearnedState::default()
                },
                ..Checkpoint::default()
            }
        );
        let bare = TempPath::new("checkpoint-bare");
        write(&bare.0, vec![], true);
        assert_eq!(load(&bare.0).unwrap(), Checkpoint::default());
    }

    #[test]
    fn an_incomplete_run_is_refused() {
        let tmp = TempPath::new("checkpoint-incomplete");
        let (batches, _) = trained();
        write(&tmp.0, batches, false);
        let err = load(&tmp.0).unwrap_err();
        assert!(matches!(err, ReadError::Incomplete { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&tmp.0.display().to_string()), "{msg}");
        assert!(msg.contains("did not complete"), "{msg}");
    }

    #[test]
    fn a_run_stopped_with_its_state_saved_loads() {
        // Not complete, but /state/stopped (written last) says the state is whole.
        let tmp = TempPath::new("checkpoint-stopped");
        let (mut batches, mut expected) = trained();
        batches.push(Batch::Dataset {
            path: schema::STOPPED_PATH.to_owned(),
            shape: vec![],
            values: Values::U64(vec![17]),
            attrs: vec![
                (
                    schema::ATTR_STOPPED_PHASE.to_owned(),
                    Attr::Str("train".to_owned()),
                ),
                (schema::ATTR_STOPPED_EPOCH.to_owned(), Attr::U64(2)),
                (schema::ATTR_STOPPED_IMAGE.to_owned(), Attr::U64(17)),
            ],
        });
        write(&tmp.0, batches, false);
        expected.stopped = Some(Stopped {
            phase: "train".to_owned(),
            epoch: 2,
            image: 17,
        });
        assert_eq!(load(&tmp.0).unwrap(), expected);
    }

    #[test]
    fn unreadable_files_and_wrong_types_give_one_line_errors() {
        let missing = TempPath::new("checkpoint-missing");
        let err = load(&missing.0).unwrap_err();
        assert!(matches!(err, ReadError::NotFound { .. }), "{err:?}");

        let text = TempPath::new("checkpoint-text");
        std::fs::write(&text.0, "not HDF5\n").unwrap();
        let err = load(&text.0).unwrap_err();
        assert!(matches!(err, ReadError::NotHdf5 { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&text.0.display().to_string()),
            "{err}"
        );

        // θ stored as float32, assignments as a 2-D array, σ as an integer.
        let cases = [
            (
                dataset(&schema::sigma_path("exc"), Values::I32(vec![1]), vec![]),
                "/state/sigma/exc is int32 [1], expected a 1-D float64 dataset",
            ),
            (
                dataset(
                    &schema::theta_path("exc"),
                    Values::F32(vec![0.0, 1.0]),
                    vec![],
                ),
                "/state/theta/exc is float32 [2], expected a 1-D float64 dataset",
            ),
            (
                Batch::Dataset {
                    path: schema::assignments_path("exc"),
                    shape: vec![1, 2],
                    values: Values::I32(vec![0, 1]),
                    attrs: vec![],
                },
                "/results/assignments/exc is int32 [1, 2], expected a 1-D int32 dataset",
            ),
            (
                dataset("state/weights/p/q", Values::F32(vec![0.0]), vec![]),
                "/state/weights/p is not a dataset",
            ),
        ];
        for (batch, needle) in cases {
            let tmp = TempPath::new("checkpoint-type");
            write(&tmp.0, vec![batch], true);
            let err = load(&tmp.0).unwrap_err();
            assert!(matches!(err, ReadError::Read { .. }), "{err:?}");
            let msg = err.to_string();
            assert!(msg.contains(needle), "{needle}: {msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        for err in [load(&missing.0), load(&text.0)] {
            assert!(!err.unwrap_err().to_string().contains('\n'));
        }
    }

    #[test]
    fn a_shape_larger_than_memory_is_an_error_not_an_abort() {
        // A chunked dataset of 10^17 float64 (8·10^17 bytes) without a chunk
        // written takes a few bytes of file; reading it used to allocate 8·10^17
        // bytes, which aborts. A corrupt dataspace claims such shapes too.
        let tmp = TempPath::new("checkpoint-huge");
        write(&tmp.0, trained().0, true);
        let file = File::open_rw(&tmp.0).unwrap();
        file.new_dataset::<f64>()
            .chunk(1024)
            .shape(100_000_000_000_000_000usize)
            .create(schema::theta_path("huge").as_str())
            .unwrap();
        drop(file);
        let err = load(&tmp.0).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "cannot read {}: /state/theta/huge has shape [100000000000000000], 745058059.7 GiB of values, more than the ",
                tmp.0.display()
            )) && err.ends_with("of memory available (a damaged file?)"),
            "{err}"
        );
    }
}
