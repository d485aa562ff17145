//! The phases without learning (assign, evaluate): each image's response,
//! on the network itself or on one copy of it per worker thread.

use std::sync::atomic::{AtomicBool, Ordering};

use super::present::{Presenter, key};
use super::results::Responses;
use super::resume::Gathered;
use super::{Context, Points};
use crate::config::PhaseConfig;
use crate::data::ImageSet;
use crate::step::Plasticity;
use crate::{Error, Simulation};

/// One image's response: (index in the phase, presentations, counts).
type Response = (usize, u32, Vec<u32>);

/// Shows the images of `phase` with learning off, on `sim` alone (one
/// thread, or without `reset`) or on one copy of the network per worker
/// thread, recording nothing; after the responses `before` of a resumed
/// run, if any. If stopped, the responses of the images before the first
/// one not shown (with several threads, images after it that were shown
/// are dropped). Either way `sim`'s steps done grow by the steps of the
/// presentations of those responses. On `sim` alone, a resume point of
/// `gathered(responses so far)` follows any image where `points` says one
/// is due.
#[allow(
    clippy::too_many_arguments,
    reason = "the phase's context, inputs and resume points"
)]
pub(super) fn respond(
    cx: &Context,
    sim: &mut Simulation,
    set: &ImageSet,
    phase: &PhaseConfig,
    phase_key: u64,
    before: Option<Responses>,
    points: &mut Points,
    gathered: &dyn Fn(&Responses) -> Gathered,
) -> Result<Responses, Error> {
    let Context {
        p,
        progress,
        stop,
        neurons,
        ..
    } = *cx;
    let presenter = Presenter::new(cx.config, set, false);
    let n = phase.images;
    let first = before.as_ref().map_or(0, |b| b.done);
    let mut out = Responses {
        counts: vec![0; n * neurons],
        presentations: vec![0; n],
        done: n,
    };
    if let Some(b) = &before {
        out.counts[..b.counts.len()].copy_from_slice(&b.counts);
        out.presentations[..first].copy_from_slice(&b.presentations);
    }
    let off = Plasticity {
        stdp: false,
        thresholds: false,
    };
    sim.set_plasticity(off);
    let workers = sim.threads().min((n - first).max(1));
    if workers == 1 || !p.reset {
        let mut row = vec![0; neurons];
        for k in first..n {
            if stop() {
                out.done = k;
                break;
            }
            let image = phase.offset + k;
            out.presentations[k] = presenter.show(
                sim,
                set.image(image),
                |r| key(phase_key, 0, image, r),
                &mut row,
                None,
            )?;
            out.counts[k * neurons..][..neurons].copy_from_slice(&row);
            progress.inc(1);
            if k + 1 < n {
                points.due(sim, cx.writer, || {
                    gathered(&Responses {
                        counts: out.counts[..(k + 1) * neurons].to_vec(),
                        presentations: out.presentations[..=k].to_vec(),
                        done: k + 1,
                    })
                })?;
            }
        }
        out.truncate(neurons);
        return Ok(out);
    }
    let copies: Vec<Simulation> = (0..workers)
        .map(|_| sim.replica())
        .collect::<Result<_, _>>()?;
    let stopped = AtomicBool::new(false);
    let parts: Vec<Result<Vec<Response>, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = copies
            .into_iter()
            .enumerate()
            .map(|(w, mut s)| {
                let (presenter, stopped) = (&presenter, &stopped);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for k in (first + w..n).step_by(workers) {
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
    let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
    // Worker `w` did images w, w + workers, ...: its next one is not done.
    out.done = parts
        .iter()
        .enumerate()
        .map(|(w, mine)| first + w + mine.len() * workers)
        .fold(n, usize::min);
    for (k, shown, row) in parts.into_iter().flatten() {
        if k < out.done {
            out.presentations[k] = shown;
            out.counts[k * neurons..][..neurons].copy_from_slice(&row);
        }
    }
    out.truncate(neurons);
    let presentations: u64 = (out.presentations[first..].iter())
        .map(|&n| u64::from(n))
        .sum();
    sim.add_steps_done(presentations.saturating_mul(p.period()));
    Ok(out)
}
