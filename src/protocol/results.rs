//! What a protocol run writes: `/results` of each phase and the learned
//! `/state` (the checkpoint a later run loads), also when it is stopped.

use super::Context;
use super::readout::predict;
use crate::Simulation;
use crate::config::PhaseConfig;
use crate::data::ImageSet;
use crate::record::{Attr, Batch, RecordError, Values, Writer, schema};

/// Sends one `/results` or `/state` dataset.
pub(super) fn put(
    writer: &Writer,
    path: String,
    shape: Vec<u64>,
    values: Values,
) -> Result<(), RecordError> {
    put_with(writer, path, shape, values, Vec::new())
}

fn put_with(
    writer: &Writer,
    path: String,
    shape: Vec<u64>,
    values: Values,
    attrs: Vec<(String, Attr)>,
) -> Result<(), RecordError> {
    writer.send(Batch::Dataset {
        path,
        shape,
        values,
        attrs,
    })
}

/// Labels of images `offset..offset + images` as u32.
pub(super) fn labels(set: &ImageSet, phase: &PhaseConfig) -> Vec<u32> {
    set.labels[phase.offset..][..phase.images]
        .iter()
        .map(|&l| l as u32)
        .collect()
}

/// Scores the evaluation's responses against the true labels with the
/// assignments; writes `results/evaluate`; returns the accuracy.
pub(super) fn evaluate(
    cx: &Context,
    r: Responses,
    truth: Vec<u32>,
    assignments: &[i32],
) -> Result<f64, RecordError> {
    let (writer, neurons, classes) = (cx.writer, cx.neurons, cx.classes);
    let predictions: Vec<i32> = r
        .counts
        .chunks_exact(neurons)
        .map(|row| predict(assignments, row, classes))
        .collect();
    let mut confusion = vec![0u32; classes * classes];
    let mut correct = 0;
    for (&t, &g) in truth.iter().zip(&predictions) {
        if g >= 0 {
            confusion[t as usize * classes + g as usize] += 1;
        }
        correct += (g == t as i32) as usize;
    }
    let accuracy = correct as f64 / truth.len() as f64;
    let (n, c) = (truth.len() as u64, classes as u64);
    put(
        writer,
        schema::result_path(schema::PHASE_EVALUATE, schema::RESULT_PREDICTIONS),
        vec![n],
        Values::I32(predictions),
    )?;
    r.write(writer, schema::PHASE_EVALUATE, truth, neurons)?;
    put(
        writer,
        schema::result_path(schema::PHASE_EVALUATE, schema::RESULT_CONFUSION),
        vec![c, c],
        Values::U32(confusion),
    )?;
    put(
        writer,
        schema::result_path(schema::PHASE_EVALUATE, schema::RESULT_ACCURACY),
        vec![],
        Values::F64(vec![accuracy]),
    )?;
    Ok(accuracy)
}

/// Writes `state/weights/<projection>`, `state/theta/<layer>` and
/// `state/sigma/<layer>`: what [`checkpoint::load`] reads back.
/// Projections from the input layer also get the images' `rows` and `cols`.
pub(super) fn write_state(
    sim: &mut Simulation,
    image: Option<(u64, u64)>,
    writer: &Writer,
) -> Result<(), RecordError> {
    let state = sim.state();
    let config = sim.config();
    let input = config.protocol.as_ref().map(|p| &p.input);
    for (name, w) in state.weights {
        let pc = &config.projections[&name];
        let mut attrs = vec![
            (schema::ATTR_PRE.to_owned(), Attr::Str(pc.pre.clone())),
            (schema::ATTR_POST.to_owned(), Attr::Str(pc.post.clone())),
            (
                schema::ATTR_N_PRE.to_owned(),
                Attr::U64(config.layers[&pc.pre].size() as u64),
            ),
            (
                schema::ATTR_N_POST.to_owned(),
                Attr::U64(config.layers[&pc.post].size() as u64),
            ),
            (
                schema::ATTR_CONNECTIVITY.to_owned(),
                Attr::Str(pc.connectivity.name().to_owned()),
            ),
        ];
        if let Some((rows, cols)) = image.filter(|_| input == Some(&pc.pre)) {
            attrs.push((schema::ATTR_ROWS.to_owned(), Attr::U64(rows)));
            attrs.push((schema::ATTR_COLS.to_owned(), Attr::U64(cols)));
        }
        let n = w.len() as u64;
        put_with(
            writer,
            schema::final_weights_path(&name),
            vec![n],
            Values::F32(w),
            attrs,
        )?;
    }
    for (layer, theta) in state.theta {
        if theta.is_empty() {
            continue;
        }
        let n = theta.len() as u64;
        put(
            writer,
            schema::theta_path(&layer),
            vec![n],
            Values::F64(theta),
        )?;
    }
    for (layer, sigma) in state.sigma {
        put(
            writer,
            schema::sigma_path(&layer),
            vec![1],
            Values::F64(vec![sigma]),
        )?;
    }
    Ok(())
}

/// Where a run was stopped: phase (a `/results` subgroup name), epoch, and
/// index in the phase of the first image not shown.
pub(super) type Stop = (&'static str, usize, usize);

/// Writes `/state/stopped` for a run stopped at `stop`; sent after the
/// rest of the state, so that a file that has it holds all of it.
pub(super) fn write_stopped(writer: &Writer, stop: Stop) -> Result<(), RecordError> {
    let (phase, epoch, image) = stop;
    put_with(
        writer,
        schema::STOPPED_PATH.to_owned(),
        vec![],
        Values::U64(vec![image as u64]),
        vec![
            (
                schema::ATTR_STOPPED_PHASE.to_owned(),
                Attr::Str(phase.to_owned()),
            ),
            (
                schema::ATTR_STOPPED_EPOCH.to_owned(),
                Attr::U64(epoch as u64),
            ),
            (
                schema::ATTR_STOPPED_IMAGE.to_owned(),
                Attr::U64(image as u64),
            ),
        ],
    )
}

/// Responses of a phase without learning: of its first `done` images,
/// fewer than the phase's if it was stopped.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Responses {
    /// Row-major `done` × neurons spike counts.
    pub(super) counts: Vec<u32>,
    /// Presentations of each image done.
    pub(super) presentations: Vec<u32>,
    /// Images done: all images before this index were shown, none after.
    pub(super) done: usize,
}

impl Responses {
    /// Writes `results/<phase>/{labels, presentations, counts}` (`labels`
    /// of the images done).
    pub(super) fn write(
        self,
        writer: &Writer,
        phase: &str,
        labels: Vec<u32>,
        neurons: usize,
    ) -> Result<(), RecordError> {
        let n = labels.len() as u64;
        let path = |name: &str| schema::result_path(phase, name);
        put(
            writer,
            path(schema::RESULT_LABELS),
            vec![n],
            Values::U32(labels),
        )?;
        put(
            writer,
            path(schema::RESULT_PRESENTATIONS),
            vec![n],
            Values::U32(self.presentations),
        )?;
        put(
            writer,
            path(schema::RESULT_COUNTS),
            vec![n, neurons as u64],
            Values::U32(self.counts),
        )
    }
}

impl Responses {
    /// Keeps the responses of the images done.
    pub(super) fn truncate(&mut self, neurons: usize) {
        self.counts.truncate(self.done * neurons);
        self.presentations.truncate(self.done);
    }
}
