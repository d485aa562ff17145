//! Unsupervised learning and classification (`[protocol]`), after Diehl &
//! Cook (2015): train, assign labels, evaluate.
//!
//! Files: [`inputs`] (images and checkpoint, read once), [`present`]
//! (showing an image), [`readout`] (assignment and prediction), [`respond`]
//! (the phases without learning), [`results`] (what is written); this
//! module runs the phases and trains.
//!
//! - **Presentation** of an image: with `reset`, every neuron is put at
//!   rest, pending input and STDP traces are dropped; the input layer's
//!   encoders restart their random streams from a key of (phase, epoch,
//!   image, presentation), so a presentation draws the same spikes whatever
//!   ran before it; intensities are `pixel / max pixel`; the network runs
//!   `steps_per_image` steps (the output layer's spikes are counted per
//!   neuron), then `rest_steps` silent ones. An image that drives fewer than
//!   `min_spikes` output spikes is shown again with intensities scaled by
//!   `1 + k · boost_hz / max_rate_hz` at the `k`-th repeat (Diehl & Cook's
//!   +32 Hz), at most `max_presentations` times; only the last
//!   presentation's counts are kept. This rule applies in every phase.
//! - **Train**: STDP and threshold adaptation on; weights of projections
//!   with `stdp.normalize` are normalized before training and after every presentation, so the final weights are normalized too. Every
//!   `window` images, labels are assigned from that window's responses;
//!   they predict the next window's images, which gives a running accuracy.
//! - **Assign**: STDP and adaptation off (θ and σ frozen); each output neuron
//!   is assigned the class for which its mean spike count per image is
//!   highest (−1 if it never fired).
//! - **Evaluate**: as assign; each image is predicted as the class whose
//!   assigned neurons fire most on average (−1 if no output neuron fired:
//!   counted as wrong). Accuracy and the confusion matrix (rows: true class,
//!   columns: prediction) go to `/results/evaluate`.
//!
//! Assign and evaluate do not learn, so with `reset` their images are
//! independent: they run on one copy of the network per worker thread,
//! image `k` on copy `k mod threads`, with results identical to one thread.
//! The copies' spikes are not recorded in `/spikes`; their counts are in
//! `/results`.

mod inputs;
pub mod present;
pub mod readout;
mod respond;
mod results;

use indicatif::ProgressBar;

use crate::config::{Config, ConfigError, ProtocolConfig};
use crate::data::ImageSet;
use crate::record::{Values, Writer, schema};
use crate::step::Plasticity;
use crate::{Error, Simulation};
pub use inputs::{Inputs, Sets, load};
use present::{ASSIGN, EVALUATE, Presenter, TRAIN, key};
pub use readout::{assign, predict};
use respond::respond;
use results::{evaluate, labels, put, write_state};

/// What a finished protocol reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Training presentations of images (one per image and epoch).
    pub trained: usize,
    /// Evaluation accuracy (fraction of images), if evaluated.
    pub accuracy: Option<f64>,
    /// Images evaluated.
    pub evaluated: usize,
    /// Wall seconds of each phase that ran: train, assign, evaluate.
    pub seconds: Vec<(&'static str, f64)>,
}

/// What every phase of a run needs.
struct Context<'a> {
    /// The config of the simulation (a copy, so that the simulation can be
    /// stepped while it is read).
    config: &'a Config,
    p: &'a ProtocolConfig,
    writer: &'a Writer,
    progress: &'a ProgressBar,
    stop: &'a (dyn Fn() -> bool + Sync),
    /// Neurons of the output layer.
    neurons: usize,
    /// Classes: the largest label of any phase's images + 1.
    classes: usize,
}

/// Runs the protocol of `sim`'s config, from `inputs` (see [`load`]),
/// writing results and the learned state through `writer`. Returns `None`
/// if `stop()` said so (asked before every image).
pub fn run(
    sim: &mut Simulation,
    inputs: Inputs,
    writer: &Writer,
    progress: &ProgressBar,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Option<Summary>, Error> {
    let config = sim.config().clone();
    let p = config.protocol.as_ref().expect("a protocol run");
    let Inputs { sets, checkpoint } = inputs;
    let all = [&sets.train, &sets.assign, &sets.evaluate];
    let cx = Context {
        config: &config,
        p,
        writer,
        progress,
        stop,
        neurons: config.layers[&p.output].size(),
        classes: all
            .iter()
            .flat_map(|s| s.labels.iter())
            .max()
            .map_or(1, |&m| m as usize + 1),
    };
    let mut assignments = None;
    if let (Some(path), Some(c)) = (&p.load, checkpoint) {
        sim.set_state(&c.state)
            .map_err(|e| ConfigError(format!("protocol.load: {}: {e}", path.display())))?;
        assignments = c
            .assignments
            .into_iter()
            .find(|(layer, _)| layer == &p.output)
            .map(|(_, a)| a);
    }
    let mut summary = Summary {
        trained: 0,
        accuracy: None,
        evaluated: 0,
        seconds: Vec::new(),
    };
    let mut clock = std::time::Instant::now();
    let mut lap = |summary: &mut Summary, phase: &'static str| {
        summary.seconds.push((phase, clock.elapsed().as_secs_f64()));
        clock = std::time::Instant::now();
    };

    if p.load.is_none() && p.train.images > 0 {
        let Some(trained) = train(&cx, sim, &sets.train)? else {
            return Ok(None);
        };
        summary.trained = trained;
        lap(&mut summary, "train");
    }

    if p.assign.images > 0 {
        progress.set_message("assign");
        let Some(r) = respond(&cx, sim, &sets.assign, &p.assign, ASSIGN)? else {
            return Ok(None);
        };
        let labels8 = &sets.assign.labels[p.assign.offset..][..p.assign.images];
        assignments = Some(assign(&r.counts, labels8, cx.neurons, cx.classes));
        r.write(
            writer,
            schema::PHASE_ASSIGN,
            labels(&sets.assign, &p.assign),
            cx.neurons,
        )?;
        lap(&mut summary, "assign");
    }

    if p.evaluate.images > 0 {
        let a = assignments.as_deref().ok_or_else(|| {
            ConfigError(format!(
                "protocol.load: the checkpoint has no assignments for layer '{}'; set protocol.assign.images",
                p.output
            ))
        })?;
        progress.set_message("evaluate");
        let Some(r) = respond(&cx, sim, &sets.evaluate, &p.evaluate, EVALUATE)? else {
            return Ok(None);
        };
        let truth = labels(&sets.evaluate, &p.evaluate);
        summary.evaluated = truth.len();
        summary.accuracy = Some(evaluate(&cx, r, truth, a)?);
        lap(&mut summary, "evaluate");
    }

    // The learned state: a checkpoint for later runs.
    if let Some(a) = assignments {
        put(
            writer,
            schema::assignments_path(&p.output),
            vec![cx.neurons as u64],
            Values::I32(a),
        )?;
    }
    let shown = all
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| (s.rows as u64, s.cols as u64));
    write_state(sim, shown, writer)?;
    Ok(Some(summary))
}

/// Training: every image of every epoch with STDP and adaptation on, the
/// running accuracy in the progress message. Writes `results/train`;
/// returns the number of presentations of images, or `None` if stopped.
fn train(cx: &Context, sim: &mut Simulation, set: &ImageSet) -> Result<Option<usize>, Error> {
    let Context {
        config,
        p,
        writer,
        progress,
        stop,
        neurons,
        classes,
    } = *cx;
    sim.set_plasticity(Plasticity::default());
    // Normalized from the start, then after every presentation, so that
    // the final weights are normalized too.
    sim.normalize();
    let presenter = Presenter::new(config, set, true);
    let (mut window_counts, mut window_labels) = (Vec::new(), Vec::new());
    let mut running: Option<Vec<i32>> = None;
    let (mut train_labels, mut shown, mut predicted) = (Vec::new(), Vec::new(), Vec::new());
    let mut row = vec![0; neurons];
    let mut recent = std::collections::VecDeque::new();
    let epochs = p.train.epochs();
    for epoch in 0..epochs {
        progress.set_message(format!("train {}/{epochs}", epoch + 1));
        for k in 0..p.train.images {
            if stop() {
                return Ok(None);
            }
            let image = p.train.offset + k;
            let n = presenter.show(
                sim,
                set.image(image),
                |r| key(TRAIN, epoch, image, r),
                &mut row,
                Some(writer),
            )?;
            let label = set.labels[image];
            let guess = running.as_ref().map_or(-1, |a| predict(a, &row, classes));
            train_labels.push(label as u32);
            shown.push(n);
            predicted.push(guess);
            window_counts.extend_from_slice(&row);
            window_labels.push(label);
            if running.is_some() {
                recent.push_back(guess == label as i32);
                if recent.len() > p.window {
                    recent.pop_front();
                }
            }
            if window_labels.len() == p.window {
                running = Some(assign(&window_counts, &window_labels, neurons, classes));
                window_counts.clear();
                window_labels.clear();
            }
            progress.inc(1);
            if !recent.is_empty() && train_labels.len().is_multiple_of(50) {
                let acc = recent.iter().filter(|&&ok| ok).count() as f64 / recent.len() as f64;
                progress.set_message(format!(
                    "train {}/{epochs} acc {:.1}% (last {})",
                    epoch + 1,
                    100.0 * acc,
                    recent.len()
                ));
            }
        }
    }
    let n = train_labels.len();
    let path = |name: &str| schema::result_path(schema::PHASE_TRAIN, name);
    put(
        writer,
        path(schema::RESULT_LABELS),
        vec![n as u64],
        Values::U32(train_labels),
    )?;
    put(
        writer,
        path(schema::RESULT_PRESENTATIONS),
        vec![n as u64],
        Values::U32(shown),
    )?;
    put(
        writer,
        path(schema::RESULT_RUNNING_PREDICTIONS),
        vec![n as u64],
        Values::I32(predicted),
    )?;
    Ok(Some(n))
}
