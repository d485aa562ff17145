//! Unsupervised learning and classification (`[protocol]`), after Diehl &
//! Cook (2015): train, assign labels, evaluate.
//!
//! Files: `inputs` (images and checkpoint, read once), [`present`]
//! (showing an image), [`readout`] (assignment and prediction), `respond`
//! (the phases without learning), `results` (what is written), `resume` (its progress in resume points); this
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
//! The steps done count their presentations as one thread runs them. What
//! `[record]` asks for (spikes, traces, rates) is recorded in training
//! only, so that the file does not depend on the thread count; the responses
//! of assign and evaluate are their counts in `/results`.
//!
//! A run stopped by a signal (asked before every image) writes the state
//! at that image boundary as a finished run does (weights, θ, σ, and the
//! assignments if there are any yet), each phase's results of the images
//! done, and `/state/stopped` with the phase, epoch and image reached; the
//! file is a checkpoint. A checkpoint is matched to the network by
//! [`restore`] before the output file is created.
//!
//! Resume points ([`crate::resume`]) carry the protocol's progress too
//! (`resume.rs` here): [`run`] continues a resumed run at the image where
//! its point was taken.

mod inputs;
pub mod present;
pub mod readout;
mod respond;
mod results;
mod resume;

use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use crate::config::{Config, ConfigError, PhaseConfig, ProtocolConfig};
use crate::data::ImageSet;
use crate::record::{Values, Writer, schema};
use crate::resume::state::Columns;
use crate::step::Plasticity;
use crate::{Error, Simulation};
pub use inputs::{Inputs, Sets, load};
use present::{ASSIGN, EVALUATE, Presenter, TRAIN, key};
pub use readout::{assign, predict};
use respond::respond;
use results::{Responses, Stop, evaluate, labels, put, write_state, write_stopped};
use resume::{Gathered, Trained};

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

/// Matches the checkpoint of `inputs` (if `protocol.load`) to `sim`'s
/// network and gives the network its weights, θ and σ. Fails (a
/// [`ConfigError`] naming the file) where the checkpoint holds no weights
/// for a projection with STDP (those are what training learns; fixed
/// projections are rebuilt from the seed), does not fit the network
/// (another projection or layer size, a name the config lacks), or holds
/// no assignments of the output layer for an evaluation without an
/// assignment phase. Call it before the output file is created; [`run`]
/// calls it again (it is idempotent).
pub fn restore(sim: &mut Simulation, inputs: &Inputs) -> Result<(), Error> {
    let Some(c) = &inputs.checkpoint else {
        return Ok(());
    };
    let config = sim.config();
    let Some((p, Some(path))) = config.protocol.as_ref().map(|p| (p, p.load.as_deref())) else {
        return Ok(());
    };
    let file = path.display().to_string();
    let untrained = config
        .projections
        .iter()
        .find(|(name, pc)| pc.stdp.is_some() && !c.state.weights.iter().any(|(w, _)| w == *name));
    if let Some((name, _)) = untrained {
        return Err(ConfigError(format!(
            "protocol.load: {file} holds no trained state for projection '{name}'"
        ))
        .into());
    }
    if p.evaluate.images > 0
        && p.assign.images == 0
        && !c.assignments.iter().any(|(layer, _)| layer == &p.output)
    {
        return Err(ConfigError(format!(
            "protocol.load: {file} holds no assignments for layer '{}'; set protocol.assign.images",
            p.output
        ))
        .into());
    }
    sim.set_state(&c.state)
        .map_err(|e| ConfigError(format!("protocol.load: {file}: {e}")).into())
}

/// `sim` after [`restore`] from `inputs` (if a protocol run's): for
/// building the network of a run before its output file is created.
pub fn restored(mut sim: Simulation, inputs: Option<&Inputs>) -> Result<Simulation, Error> {
    if let Some(inputs) = inputs {
        restore(&mut sim, inputs)?;
    }
    Ok(sim)
}

/// Runs the protocol of `sim`'s config, from `inputs` (see [`load`]),
/// writing results and the learned state through `writer`. Returns `None`
/// if `stop()` said so (asked before every image); the state is then
/// written as it is at that image boundary (with the assignments, if there
/// are any yet), with each phase's results of the images done and
/// `/state/stopped` saying where it stopped, so that the file is a
/// checkpoint too. With `resume_every`, resume points are written as
/// `resume.rs` says; `resumed` is the point a resumed run starts from
/// (its network already set to the point's state).
pub fn run(
    sim: &mut Simulation,
    inputs: Inputs,
    writer: &Writer,
    progress: &ProgressBar,
    stop: &(dyn Fn() -> bool + Sync),
    resume_every: Option<Duration>,
    resumed: Option<&Columns>,
) -> Result<Option<Summary>, Error> {
    let from = resumed
        .map(Gathered::from_columns)
        .transpose()
        .map_err(ConfigError)?;
    // A resumed network has its state (the checkpoint's, then learned) already.
    if from.is_none() {
        restore(sim, &inputs)?;
    }
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
    let mut points = Points {
        every: resume_every,
        last: Instant::now(),
    };
    let phase = from.as_ref().map_or(TRAIN, |g| g.phase);
    let mut assignments = match &from {
        Some(g) => g.assignments.clone(),
        None => checkpoint.and_then(|c| {
            c.assignments
                .into_iter()
                .find(|(layer, _)| layer == &p.output)
                .map(|(_, a)| a)
        }),
    };
    let mut trained = from.as_ref().map(|g| g.trained.clone()).unwrap_or_default();
    let mut summary = Summary {
        trained: trained.labels.len(),
        accuracy: None,
        evaluated: 0,
        seconds: Vec::new(),
    };
    let mut clock = Instant::now();
    let mut lap = |summary: &mut Summary, phase: &'static str| {
        summary.seconds.push((phase, clock.elapsed().as_secs_f64()));
        clock = Instant::now();
    };
    let shown = all
        .into_iter()
        .find(|s| !s.is_empty())
        .map(|s| (s.rows as u64, s.cols as u64));
    // The learned state: a checkpoint for later runs; `/state/stopped` last.
    let save = |sim: &mut Simulation, assignments: Option<Vec<i32>>, at: Option<Stop>| {
        if let Some(a) = assignments {
            put(
                writer,
                schema::assignments_path(&p.output),
                vec![cx.neurons as u64],
                Values::I32(a),
            )?;
        }
        write_state(sim, shown, writer)?;
        at.map_or(Ok(()), |at| write_stopped(writer, at))
    };
    // A resume point at an image boundary of a phase without learning.
    let gathered =
        |phase, image, trained: &Trained, r: Option<&Responses>, a: &Option<Vec<i32>>| Gathered {
            phase,
            epoch: 0,
            image,
            trained: trained.clone(),
            responses: r.cloned(),
            assignments: a.clone(),
        };

    if p.load.is_none() && p.train.images > 0 && phase == TRAIN {
        let at = from.as_ref().map(|g| (g.epoch, g.image));
        let result = train(&cx, sim, &sets.train, &mut trained, at, &mut points);
        // What training recorded goes to the file, also after an error.
        sim.send_recorded(writer)?;
        let at = result?;
        summary.trained = trained.labels.len();
        if let Some(at) = at {
            // The point first: a resumed run writes the results at its end.
            if points.every.is_some() {
                let (_, epoch, image) = at;
                let g = Gathered {
                    phase: TRAIN,
                    epoch,
                    image,
                    trained: trained.clone(),
                    responses: None,
                    assignments: None,
                };
                points.send(sim, writer, &g)?;
            }
            write_trained(writer, &trained)?;
            save(sim, assignments, Some(at))?;
            return Ok(None);
        }
        write_trained(writer, &trained)?;
        lap(&mut summary, "train");
    }

    if p.assign.images > 0 && phase <= ASSIGN {
        progress.set_message("assign");
        let r = respond_resumably(
            &cx,
            sim,
            (&sets.assign, &p.assign, ASSIGN),
            from.as_ref().filter(|_| phase == ASSIGN),
            &mut points,
            &|r| gathered(ASSIGN, r.map_or(0, |r| r.done), &trained, r, &assignments),
        )?;
        let done = r.done;
        let mut labels = labels(&sets.assign, &p.assign);
        labels.truncate(done);
        if done == p.assign.images {
            let labels8 = &sets.assign.labels[p.assign.offset..][..done];
            assignments = Some(assign(&r.counts, labels8, cx.neurons, cx.classes));
        }
        if done > 0 {
            r.write(writer, schema::PHASE_ASSIGN, labels, cx.neurons)?;
        }
        if done < p.assign.images {
            save(sim, assignments, Some((schema::PHASE_ASSIGN, 0, done)))?;
            return Ok(None);
        }
        lap(&mut summary, "assign");
    }

    if p.evaluate.images > 0 {
        let a = assignments.clone().ok_or_else(|| {
            ConfigError(format!(
                "protocol.load: the checkpoint has no assignments for layer '{}'; set protocol.assign.images",
                p.output
            ))
        })?;
        progress.set_message("evaluate");
        let r = respond_resumably(
            &cx,
            sim,
            (&sets.evaluate, &p.evaluate, EVALUATE),
            from.as_ref().filter(|_| phase == EVALUATE),
            &mut points,
            &|r| gathered(EVALUATE, r.map_or(0, |r| r.done), &trained, r, &assignments),
        )?;
        let done = r.done;
        let mut truth = labels(&sets.evaluate, &p.evaluate);
        truth.truncate(done);
        if done > 0 {
            summary.evaluated = done;
            summary.accuracy = Some(evaluate(&cx, r, truth, &a)?);
        }
        if done < p.evaluate.images {
            save(sim, assignments, Some((schema::PHASE_EVALUATE, 0, done)))?;
            return Ok(None);
        }
        lap(&mut summary, "evaluate");
    }

    save(sim, assignments, None)?;
    Ok(Some(summary))
}

/// When resume points are due: every `every` of wall time (never without).
struct Points {
    every: Option<Duration>,
    last: Instant,
}

impl Points {
    /// Sends a resume point of `sim` and `g()` if one is due (`g` is made
    /// only then: it copies what the phase has gathered).
    fn due(
        &mut self,
        sim: &mut Simulation,
        writer: &Writer,
        g: impl FnOnce() -> Gathered,
    ) -> Result<(), Error> {
        match self.every {
            Some(every) if self.last.elapsed() >= every => self.send(sim, writer, &g()),
            _ => Ok(()),
        }
    }

    /// Sends a resume point of `sim` and `g` now (if points are taken at all).
    fn send(&mut self, sim: &mut Simulation, writer: &Writer, g: &Gathered) -> Result<(), Error> {
        if self.every.is_none() {
            return Ok(());
        }
        // Only training records ([record]); later phases drop what it collects.
        sim.send_resume_point(writer, g.columns(), g.phase == TRAIN)?;
        self.last = Instant::now();
        Ok(())
    }
}

/// A phase without learning (`phase`: its images, config and key) with
/// resume points: one at its start (unless `from`, a resumed run's point in
/// this phase, gives the responses before), those [`respond`] takes, and
/// one where it stops; `gathered` makes the protocol's part of a point from
/// the responses so far.
fn respond_resumably(
    cx: &Context,
    sim: &mut Simulation,
    (set, config, key): (&ImageSet, &PhaseConfig, u64),
    from: Option<&Gathered>,
    points: &mut Points,
    gathered: &dyn Fn(Option<&Responses>) -> Gathered,
) -> Result<Responses, Error> {
    let before = from.and_then(|g| g.responses.clone());
    if before.is_none() {
        points.send(sim, cx.writer, &gathered(None))?;
    }
    let r = respond(cx, sim, set, config, key, before, points, &|r| {
        gathered(Some(r))
    })?;
    if r.done < config.images {
        points.send(sim, cx.writer, &gathered(Some(&r)))?;
    }
    Ok(r)
}

/// Writes training's results (of the images shown, if any) to
/// `results/train`.
fn write_trained(writer: &Writer, t: &Trained) -> Result<(), Error> {
    let n = t.labels.len();
    if n == 0 {
        return Ok(());
    }
    let path = |name: &str| schema::result_path(schema::PHASE_TRAIN, name);
    let shape = vec![n as u64];
    put(
        writer,
        path(schema::RESULT_LABELS),
        shape.clone(),
        Values::U32(t.labels.clone()),
    )?;
    put(
        writer,
        path(schema::RESULT_PRESENTATIONS),
        shape.clone(),
        Values::U32(t.shown.clone()),
    )?;
    put(
        writer,
        path(schema::RESULT_RUNNING_PREDICTIONS),
        shape,
        Values::I32(t.predicted.clone()),
    )?;
    Ok(())
}

/// Training: every image of every epoch with STDP and adaptation on, the
/// running accuracy in the progress message, gathering into `t`. Starts at
/// `from` = (epoch, image) of a resumed run (whose weights are normalized
/// already), else at the beginning. Returns where it stopped, if it did.
fn train(
    cx: &Context,
    sim: &mut Simulation,
    set: &ImageSet,
    t: &mut Trained,
    from: Option<(usize, usize)>,
    points: &mut Points,
) -> Result<Option<Stop>, Error> {
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
    if from.is_none() {
        sim.normalize();
    }
    let (first_epoch, first_image) = from.unwrap_or((0, 0));
    let presenter = Presenter::new(config, set, true);
    let mut row = vec![0; neurons];
    let mut recent = std::collections::VecDeque::new();
    let epochs = p.train.epochs();
    for epoch in first_epoch..epochs {
        progress.set_message(format!("train {}/{epochs}", epoch + 1));
        let start = if epoch == first_epoch { first_image } else { 0 };
        for k in start..p.train.images {
            if stop() {
                return Ok(Some((schema::PHASE_TRAIN, epoch, k)));
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
            let guess = t.running.as_ref().map_or(-1, |a| predict(a, &row, classes));
            t.labels.push(label as u32);
            t.shown.push(n);
            t.predicted.push(guess);
            t.window_counts.extend_from_slice(&row);
            t.window_labels.push(label);
            if t.running.is_some() {
                recent.push_back(guess == label as i32);
                if recent.len() > p.window {
                    recent.pop_front();
                }
            }
            if t.window_labels.len() == p.window {
                t.running = Some(assign(&t.window_counts, &t.window_labels, neurons, classes));
                t.window_counts.clear();
                t.window_labels.clear();
            }
            progress.inc(1);
            if !recent.is_empty() && t.labels.len().is_multiple_of(50) {
                let acc = recent.iter().filter(|&&ok| ok).count() as f64 / recent.len() as f64;
                progress.set_message(format!(
                    "train {}/{epochs} acc {:.1}% (last {})",
                    epoch + 1,
                    100.0 * acc,
                    recent.len()
                ));
            }
            let (epoch, image) = if k + 1 == p.train.images {
                (epoch + 1, 0)
            } else {
                (epoch, k + 1)
            };
            points.due(sim, writer, || Gathered {
                phase: TRAIN,
                epoch,
                image,
                trained: t.clone(),
                responses: None,
                assignments: None,
            })?;
        }
    }
    Ok(None)
}
