//! Unsupervised learning and classification (`[protocol]`), after Diehl &
//! Cook (2015): train, assign labels, evaluate.
//!
//! - **Presentation** of an image: with `reset`, every LIF neuron is put at
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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::ProgressBar;

use crate::config::{Config, ConfigError, LayerConfig, PhaseConfig, ProtocolConfig};
use crate::data::{self, ImageSet};
use crate::record::{Attr, Batch, RecordError, Values, Writer};
use crate::record::{checkpoint, schema};
use crate::sim::LearnedState;
use crate::step::Plasticity;
use crate::{Error, Simulation};

/// The images of each phase (shared where phases use the same split).
#[derive(Debug, Clone)]
pub struct Sets {
    /// Training set.
    pub train: Arc<ImageSet>,
    /// Label assignment set.
    pub assign: Arc<ImageSet>,
    /// Evaluation set.
    pub evaluate: Arc<ImageSet>,
}

/// Loads each split the phases name once, and checks that each phase's
/// images exist.
pub fn load_sets(p: &ProtocolConfig) -> Result<Sets, Error> {
    let mut cache: HashMap<String, Arc<ImageSet>> = HashMap::new();
    let mut get = |name: &str, phase: &PhaseConfig| -> Result<Arc<ImageSet>, Error> {
        let set = match cache.get(phase.split()) {
            Some(s) => Arc::clone(s),
            None if phase.images == 0 => Arc::new(ImageSet::default()),
            None => {
                let s = Arc::new(data::load_split(&p.path, phase.split())?);
                cache.insert(phase.split().to_owned(), Arc::clone(&s));
                s
            }
        };
        if phase.images > 0 && phase.offset + phase.images > set.len() {
            return Err(ConfigError(format!(
                "protocol.{name}.images: offset {} + {} images is more than the {} images of {}",
                phase.offset,
                phase.images,
                set.len(),
                set.name
            ))
            .into());
        }
        Ok(set)
    };
    Ok(Sets {
        train: get("train", &p.train)?,
        assign: get("assign", &p.assign)?,
        evaluate: get("evaluate", &p.evaluate)?,
    })
}

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

/// Phase numbers in presentation keys.
const TRAIN: u64 = 1;
const ASSIGN: u64 = 2;
const EVALUATE: u64 = 3;

/// The key of a presentation's encoder streams.
fn key(phase: u64, epoch: usize, image: usize, presentation: u32) -> u64 {
    (phase << 60) | ((epoch as u64) << 44) | ((image as u64) << 8) | presentation as u64
}

/// How the images of one phase are shown.
struct Presenter<'a> {
    p: &'a ProtocolConfig,
    seed: u64,
    /// Intensity factor per re-presentation: `boost_hz / max_rate_hz`.
    boost: f32,
    /// The pixel value that maps to intensity 1.
    max_pixel: f32,
    /// Normalize weights after each presentation (training).
    normalize: bool,
}

impl Presenter<'_> {
    fn new<'a>(
        config: &'a Config,
        p: &'a ProtocolConfig,
        set: &ImageSet,
        normalize: bool,
    ) -> Presenter<'a> {
        let LayerConfig::Encoder(e) = &config.layers[&p.input] else {
            unreachable!("validated: the input is an encoder")
        };
        let boost = (p.boost_hz / e.max_rate_hz) as f32;
        Presenter {
            p,
            seed: config.simulation.seed,
            boost,
            max_pixel: set.max_pixel() as f32,
            normalize,
        }
    }

    /// Shows `image` until it drives `min_spikes` output spikes (or
    /// `max_presentations` times), leaving the last presentation's counts
    /// in `counts`; returns the number of presentations. Presentation `k`
    /// draws its input from the stream keyed `key_of(k)`.
    fn show(
        &self,
        sim: &mut Simulation,
        image: &[u8],
        key_of: impl Fn(u32) -> u64,
        counts: &mut [u32],
        writer: Option<&Writer>,
    ) -> Result<u32, RecordError> {
        let p = self.p;
        let mut x = vec![0.0; image.len()];
        for k in 0..p.max_presentations {
            if p.reset {
                sim.reset_state();
            }
            sim.reseed_encoders(&p.input, self.seed, key_of(k));
            let scale = 1.0 + k as f32 * self.boost;
            for (x, &px) in x.iter_mut().zip(image) {
                *x = px as f32 / self.max_pixel * scale;
            }
            sim.set_intensities(&p.input, &x);
            counts.fill(0);
            sim.run_counting(p.steps_per_image, &p.output, counts, writer)?;
            if p.rest_steps > 0 {
                x.fill(0.0);
                sim.set_intensities(&p.input, &x);
                sim.run_counting(p.rest_steps, &p.output, &mut vec![0; counts.len()], writer)?;
            }
            if self.normalize {
                sim.normalize();
            }
            let total: u32 = counts.iter().sum();
            if total >= p.min_spikes || k + 1 == p.max_presentations {
                return Ok(k + 1);
            }
        }
        unreachable!("max_presentations >= 1")
    }
}

/// Each neuron's class: the one with the highest mean spike count per
/// image of that class; −1 for a neuron that never fired. `counts` is
/// row-major images × neurons.
pub fn assign(counts: &[u32], labels: &[u8], neurons: usize, classes: usize) -> Vec<i32> {
    let mut sums = vec![0u64; classes * neurons];
    let mut images = vec![0u64; classes];
    for (row, &c) in counts.chunks_exact(neurons).zip(labels) {
        images[c as usize] += 1;
        for (s, &n) in sums[c as usize * neurons..][..neurons].iter_mut().zip(row) {
            *s += n as u64;
        }
    }
    (0..neurons)
        .map(|i| {
            let mut best = (-1, 0.0);
            for c in 0..classes {
                if images[c] > 0 {
                    let mean = sums[c * neurons + i] as f64 / images[c] as f64;
                    if mean > best.1 {
                        best = (c as i32, mean);
                    }
                }
            }
            best.0
        })
        .collect()
}

/// The class whose assigned neurons fire most on average for one image's
/// counts (the lowest such class on ties); −1 if none of them fired.
pub fn predict(assignments: &[i32], counts: &[u32], classes: usize) -> i32 {
    let mut sums = vec![0u64; classes];
    let mut members = vec![0u64; classes];
    for (&a, &n) in assignments.iter().zip(counts) {
        if a >= 0 {
            sums[a as usize] += n as u64;
            members[a as usize] += 1;
        }
    }
    let mut best = (-1, 0.0);
    for c in 0..classes {
        if members[c] > 0 {
            let mean = sums[c] as f64 / members[c] as f64;
            if mean > best.1 {
                best = (c as i32, mean);
            }
        }
    }
    best.0
}

/// One image's response: (index in the phase, presentations, counts).
type Response = (usize, u32, Vec<u32>);

/// Responses of a phase without learning.
struct Responses {
    counts: Vec<u32>,
    presentations: Vec<u32>,
}

impl Responses {
    /// Writes `results/<phase>/{labels, presentations, counts}`.
    fn write(
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

/// What every phase of a run needs.
struct Context<'a> {
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

/// Shows the images of `phase` with learning off, on `sim` alone (one
/// thread, or without `reset`) or on one copy of the network per worker
/// thread. `None` if stopped.
fn respond(
    cx: &Context,
    sim: &mut Simulation,
    set: &ImageSet,
    phase: &PhaseConfig,
    phase_key: u64,
) -> Result<Option<Responses>, Error> {
    let Context {
        config,
        p,
        writer,
        progress,
        stop,
        neurons,
        ..
    } = *cx;
    let presenter = Presenter::new(config, p, set, false);
    let n = phase.images;
    let mut out = Responses {
        counts: vec![0; n * neurons],
        presentations: vec![0; n],
    };
    let off = Plasticity {
        stdp: false,
        thresholds: false,
    };
    sim.set_plasticity(off);
    let workers = sim.threads().min(n.max(1));
    if workers == 1 || !p.reset {
        for (k, row) in out.counts.chunks_exact_mut(neurons).enumerate() {
            if stop() {
                return Ok(None);
            }
            let image = phase.offset + k;
            out.presentations[k] = presenter.show(
                sim,
                set.image(image),
                |r| key(phase_key, 0, image, r),
                row,
                Some(writer),
            )?;
            progress.inc(1);
        }
        return Ok(Some(out));
    }
    let state = sim.state();
    let mut one = config.clone();
    one.simulation.threads = 1;
    let copies: Vec<Simulation> = (0..workers)
        .map(|_| {
            let mut s = Simulation::new(&one, None)?;
            s.set_state(&state).map_err(ConfigError)?;
            s.set_plasticity(off);
            Ok::<_, Error>(s)
        })
        .collect::<Result<_, _>>()?;
    let stopped = AtomicBool::new(false);
    let parts: Vec<Result<Vec<Response>, RecordError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = copies
            .into_iter()
            .enumerate()
            .map(|(w, mut s)| {
                let (presenter, stopped) = (&presenter, &stopped);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for k in (w..n).step_by(workers) {
                        if stopped.load(Ordering::Relaxed) || stop() {
                            stopped.store(true, Ordering::Relaxed);
                            break;
                        }
                        let image = phase.offset + k;
                        let mut row = vec![0; neurons];
                        let shown = presenter.show(
                            &mut s,
                            set.image(image),
                            |r| key(phase_key, 0, image, r),
                            &mut row,
                            None,
                        )?;
                        mine.push((k, shown, row));
                        progress.inc(1);
                    }
                    Ok(mine)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("evaluation worker panicked"))
            .collect()
    });
    if stopped.load(Ordering::Relaxed) {
        return Ok(None);
    }
    for part in parts {
        for (k, shown, row) in part? {
            out.presentations[k] = shown;
            out.counts[k * neurons..][..neurons].copy_from_slice(&row);
        }
    }
    Ok(Some(out))
}

/// Sends one `/results` or `/state` dataset.
fn put(writer: &Writer, path: String, shape: Vec<u64>, values: Values) -> Result<(), RecordError> {
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
fn labels(set: &ImageSet, phase: &PhaseConfig) -> Vec<u32> {
    set.labels[phase.offset..][..phase.images]
        .iter()
        .map(|&l| l as u32)
        .collect()
}

/// Runs the config's protocol on `sim`, writing results and the learned
/// state through `writer`. Returns `None` if `stop()` said so (asked
/// before every image).
pub fn run(
    config: &Config,
    sim: &mut Simulation,
    sets: &Sets,
    writer: &Writer,
    progress: &ProgressBar,
    stop: &(dyn Fn() -> bool + Sync),
) -> Result<Option<Summary>, Error> {
    let p = config.protocol.as_ref().expect("a protocol run");
    let all = [&sets.train, &sets.assign, &sets.evaluate];
    let cx = Context {
        config,
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
    if let Some(path) = &p.load {
        let c = checkpoint::load(path)?;
        let state = LearnedState {
            weights: c.weights,
            theta: c.theta,
            sigma: c.sigma,
        };
        sim.set_state(&state)
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
    write_state(config, sim, shown, writer)?;
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
    let presenter = Presenter::new(config, p, set, true);
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

/// Scores the evaluation's responses against the true labels with the
/// assignments; writes `results/evaluate`; returns the accuracy.
fn evaluate(
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
fn write_state(
    config: &Config,
    sim: &mut Simulation,
    image: Option<(u64, u64)>,
    writer: &Writer,
) -> Result<(), RecordError> {
    let state = sim.state();
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
            Values::F32(vec![sigma]),
        )?;
    }
    Ok(())
}
