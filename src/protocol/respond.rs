//! The phases without learning (assign, evaluate): each image's response,
//! on the network itself or on one copy of it per worker thread.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Context;
use super::present::{Presenter, key};
use super::results::Responses;
use crate::config::PhaseConfig;
use crate::data::ImageSet;
use crate::step::Plasticity;
use crate::{Error, Simulation};

/// One image's response: (index in the phase, presentations, counts).
type Response = (usize, u32, Vec<u32>);

/// Shows the images of `phase` with learning off, on `sim` alone (one
/// thread, or without `reset`) or on one copy of the network per worker
/// thread, recording nothing. If stopped, the responses of the images before
/// the first one not shown (with several threads, images after it that were
/// shown are dropped). Either way `sim`'s steps done grow by the steps of the
/// presentations of those responses.
pub(super) fn respond(
    cx: &Context,
    sim: &mut Simulation,
    set: &ImageSet,
    phase: &PhaseConfig,
    phase_key: u64,
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
    let mut out = Responses {
        counts: vec![0; n * neurons],
        presentations: vec![0; n],
        done: n,
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
                out.done = k;
                break;
            }
            let image = phase.offset + k;
            out.presentations[k] = presenter.show(
                sim,
                set.image(image),
                |r| key(phase_key, 0, image, r),
                row,
                None,
            )?;
            progress.inc(1);
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
    let parts = parts.into_iter().collect::<Result<Vec<_>, _>>()?;
    // Worker `w` did images w, w + workers, ...: its next one is not done.
    out.done = parts
        .iter()
        .enumerate()
        .map(|(w, mine)| w + mine.len() * workers)
        .fold(n, usize::min);
    for (k, shown, row) in parts.into_iter().flatten() {
        if k < out.done {
            out.presentations[k] = shown;
            out.counts[k * neurons..][..neurons].copy_from_slice(&row);
        }
    }
    out.truncate(neurons);
    let presentations: u64 = out.presentations.iter().map(|&n| u64::from(n)).sum();
    sim.add_steps_done(presentations.saturating_mul(p.period()));
    Ok(out)
}
