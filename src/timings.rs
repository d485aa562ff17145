//! Per-stage wall time, as rapier's stage counters: how long each system
//! set of the step took, summed over the run, and how long the run loop
//! waited on the writer. Off unless asked for (`spikesim run --timings`,
//! [`crate::Simulation::enable_timings`]): then a lap system between
//! consecutive sets reads the clock, and nothing else changes.

use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;

use crate::step::StepSet;

/// Wall time per stage since timings were enabled. Written by the lap
/// systems and by the run loop (writer waits).
#[derive(Resource, Debug, Clone)]
pub struct StageTimes {
    /// Time in each set of [`StepSet::ALL`], summed over the steps.
    pub sets: [Duration; 6],
    /// Time the run loop spent handing batches to the writer (blocked while
    /// its queue was full) and waiting for it to finish.
    pub writer: Duration,
    /// Steps timed.
    pub steps: u64,
    lap: Option<Instant>,
}

impl Default for StageTimes {
    fn default() -> Self {
        Self {
            sets: [Duration::ZERO; 6],
            writer: Duration::ZERO,
            steps: 0,
            lap: None,
        }
    }
}

impl StageTimes {
    /// Time of all sets together.
    pub fn step_total(&self) -> Duration {
        self.sets.iter().sum()
    }

    /// A table: one line per stage and the writer, with seconds, share of
    /// the timed total and µs per step.
    pub fn table(&self) -> String {
        let total = (self.step_total() + self.writer)
            .as_secs_f64()
            .max(f64::MIN_POSITIVE);
        let steps = self.steps.max(1) as f64;
        let line = |name: &str, d: Duration| {
            let s = d.as_secs_f64();
            format!(
                "{name:<8} {s:>10.4} s {:>6.1}% {:>10.3} µs/step\n",
                100.0 * s / total,
                1e6 * s / steps
            )
        };
        let mut out = String::new();
        for (set, d) in StepSet::ALL.iter().zip(self.sets) {
            out += &line(&format!("{set:?}").to_lowercase(), d);
        }
        out += &line("writer", self.writer);
        out
    }
}

/// Adds the lap systems to `schedule`: one before the first set, one after
/// each set.
pub fn add_laps(schedule: &mut Schedule) {
    schedule.add_systems(start.before(StepSet::Encode));
    for (k, set) in StepSet::ALL.into_iter().enumerate() {
        let lap = move |mut t: ResMut<StageTimes>| t.lap_into(k);
        match StepSet::ALL.get(k + 1) {
            Some(&next) => schedule.add_systems(lap.after(set).before(next)),
            None => schedule.add_systems(lap.after(set)),
        };
    }
}

impl StageTimes {
    fn lap_into(&mut self, k: usize) {
        let now = Instant::now();
        if let Some(t) = self.lap.replace(now) {
            self.sets[k] += now - t;
        }
        if k + 1 == StepSet::ALL.len() {
            self.steps += 1;
        }
    }
}

fn start(mut t: ResMut<StageTimes>) {
    t.lap = Some(Instant::now());
}
