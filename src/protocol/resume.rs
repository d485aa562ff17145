//! What a protocol run has gathered at an image boundary, as the columns a
//! resume point adds to the network's state ([`crate::resume`]): where it
//! is (phase, epoch, next image), training's results and running window so
//! far, the responses of the phase without learning under way, and the
//! assignments once made.
//!
//! Resume points are taken between images: in training after any image, in
//! assign and evaluate at the start of the phase, after any image when one
//! thread runs them, and when a signal stops the run. The running accuracy
//! shown in the progress bar restarts on resume (it is not in the file).

use super::present::{ASSIGN, EVALUATE, TRAIN};
use super::results::Responses;
use crate::record::Values;
use crate::record::batch::column;
use crate::resume::state::{Columns, u32s, u64s};

/// Training's results and window so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Trained {
    /// Label of each image shown.
    pub(super) labels: Vec<u32>,
    /// Presentations of each image shown.
    pub(super) shown: Vec<u32>,
    /// Running prediction of each image shown (−1: none yet).
    pub(super) predicted: Vec<i32>,
    /// Counts of the current window's images, row-major.
    pub(super) window_counts: Vec<u32>,
    /// Labels of the current window's images.
    pub(super) window_labels: Vec<u8>,
    /// The assignments of the last full window, if any.
    pub(super) running: Option<Vec<i32>>,
}

/// Where a protocol run is and what it has gathered.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Gathered {
    /// The phase under way ([`TRAIN`], [`ASSIGN`], [`EVALUATE`]).
    pub(super) phase: u64,
    /// The training epoch (0 in the other phases).
    pub(super) epoch: usize,
    /// Index in the phase of the next image to show.
    pub(super) image: usize,
    /// Training's results (all of them once training is over).
    pub(super) trained: Trained,
    /// The responses so far of the phase without learning under way.
    pub(super) responses: Option<Responses>,
    /// The assignments, once made (or loaded).
    pub(super) assignments: Option<Vec<i32>>,
}

/// An `Option<Vec<i32>>` as a flag column and a values column.
fn optional(c: &mut Columns, name: &str, v: &Option<Vec<i32>>) {
    c.push((
        format!("{name}_present"),
        Values::U32(vec![v.is_some().into()]),
    ));
    c.push((name.to_owned(), Values::I32(v.clone().unwrap_or_default())));
}

impl Gathered {
    /// The columns of a resume point.
    pub(super) fn columns(&self) -> Columns {
        let t = &self.trained;
        let mut c: Columns = vec![
            (
                "protocol_at".into(),
                Values::U64(vec![self.phase, self.epoch as u64, self.image as u64]),
            ),
            ("train_labels".into(), Values::U32(t.labels.clone())),
            ("train_shown".into(), Values::U32(t.shown.clone())),
            ("train_predicted".into(), Values::I32(t.predicted.clone())),
            (
                "train_window_counts".into(),
                Values::U32(t.window_counts.clone()),
            ),
            (
                "train_window_labels".into(),
                Values::U32(t.window_labels.iter().map(|&l| l.into()).collect()),
            ),
        ];
        optional(&mut c, "train_running", &t.running);
        optional(&mut c, "assignments", &self.assignments);
        let r = self.responses.as_ref();
        c.push((
            "responses_counts".into(),
            Values::U32(r.map(|r| r.counts.clone()).unwrap_or_default()),
        ));
        c.push((
            "responses_presentations".into(),
            Values::U32(r.map(|r| r.presentations.clone()).unwrap_or_default()),
        ));
        c
    }

    /// Reads [`columns`](Gathered::columns) back; an error names what is
    /// missing or wrong.
    pub(super) fn from_columns(c: &Columns) -> Result<Self, String> {
        let get = |name: &str| column(c, name);
        let i32s = |name: &str| match get(name)? {
            Values::I32(v) => Ok(v.clone()),
            _ => Err(format!("column '{name}' is not int32")),
        };
        let u32v = |name: &str| get(name).and_then(|v| u32s(v, name)).map(<[u32]>::to_vec);
        let optional = |name: &str| -> Result<Option<Vec<i32>>, String> {
            let present = u32v(&format!("{name}_present"))?;
            (present == [1]).then(|| i32s(name)).transpose()
        };
        let [phase, epoch, image] = u64s(get("protocol_at")?, "protocol_at")?[..] else {
            return Err("column 'protocol_at' holds other than 3 values".into());
        };
        if ![TRAIN, ASSIGN, EVALUATE].contains(&phase) {
            return Err(format!("column 'protocol_at' names phase {phase}"));
        }
        let presentations = u32v("responses_presentations")?;
        let responses = (phase != TRAIN).then(|| Responses {
            done: presentations.len(),
            counts: u32v("responses_counts").unwrap_or_default(),
            presentations,
        });
        Ok(Gathered {
            phase,
            epoch: epoch as usize,
            image: image as usize,
            trained: Trained {
                labels: u32v("train_labels")?,
                shown: u32v("train_shown")?,
                predicted: i32s("train_predicted")?,
                window_counts: u32v("train_window_counts")?,
                window_labels: (u32v("train_window_labels")?.into_iter())
                    .map(|l| u8::try_from(l).unwrap_or(u8::MAX))
                    .collect(),
                running: optional("train_running")?,
            },
            responses,
            assignments: optional("assignments")?,
        })
    }
}
