//! `[simulation]`: time step, seed, threads, length.

use serde::{Deserialize, Serialize};

use crate::param::{ConfigError, err, positive};

/// The largest time step, in ms (one second): larger ones are typos, and
/// the models' integration steps (and times in ms) are meaningless there.
pub const MAX_DT_MS: f64 = 1000.0;

/// The most worker threads a run may ask for. A fixed number, not one
/// derived from the machine, so a config valid on one machine is valid on
/// every other; results do not depend on it.
pub const MAX_THREADS: usize = 1024;

/// The largest seed: TOML integers are signed 64-bit, so the resolved
/// config (stored in every output file) can hold seeds up to 2^63 − 1.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// The seed's key, as errors name it.
pub(crate) const SEED_KEY: &str = "simulation.seed";

/// The error for a seed `raw` outside 0 to [`MAX_SEED`], whether written in
/// the file, given by `--seed` or `--set`, or set in code.
pub(crate) fn seed_out_of_range(raw: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!(
        "{SEED_KEY}: {raw} is out of range; seeds are 0 to {MAX_SEED} (2^63 - 1)"
    ))
}

/// `[simulation]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Time step in ms (default 1.0). Must be > 0 and at most
    /// [`MAX_DT_MS`] (1000).
    pub dt_ms: f64,
    /// Seed of every random stream (default 0): encoder trials and weight
    /// draws. From 0 to [`MAX_SEED`] (2^63 − 1).
    pub seed: u64,
    /// Worker threads for per-neuron systems (default 0 = all cores; at
    /// most [`MAX_THREADS`], 1024). Results do not depend on it.
    pub threads: usize,
    /// Number of steps to simulate (default: derived from the stimulus as
    /// `images * (steps_per_image + rest_steps)`; required without a stimulus).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        Self {
            dt_ms: 1.0,
            seed: 0,
            threads: 0,
            steps: None,
        }
    }
}

impl SimulationConfig {
    /// Checks the time step, seed and thread count.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let dt = self.dt_ms;
        positive("simulation.dt_ms", dt)?;
        if dt > MAX_DT_MS {
            return err(format!(
                "simulation.dt_ms: at most {MAX_DT_MS} ms (one second a step), got {dt:?}"
            ));
        }
        if self.seed > MAX_SEED {
            return Err(seed_out_of_range(self.seed));
        }
        if self.threads > MAX_THREADS {
            return err(format!(
                "simulation.threads: at most {MAX_THREADS} (0 = all cores), got {}",
                self.threads
            ));
        }
        Ok(())
    }
}

/// The number of worker threads for `requested` (0 = all cores).
pub fn thread_count(requested: usize) -> usize {
    if requested == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        requested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked_and_name_the_key() {
        let ok = SimulationConfig::default();
        let check = |c: SimulationConfig| c.validate().map_err(|e| e.0);
        assert_eq!(check(ok.clone()), Ok(()));
        for (c, expected) in [
            (
                SimulationConfig {
                    dt_ms: MAX_DT_MS,
                    seed: MAX_SEED,
                    threads: MAX_THREADS,
                    ..ok.clone()
                },
                Ok(()),
            ),
            (
                SimulationConfig {
                    dt_ms: 1000.5,
                    ..ok.clone()
                },
                Err("simulation.dt_ms: at most 1000 ms (one second a step), got 1000.5"),
            ),
            (
                SimulationConfig {
                    dt_ms: f64::INFINITY,
                    ..ok.clone()
                },
                Err("simulation.dt_ms: must be > 0, got inf"),
            ),
            (
                SimulationConfig {
                    seed: MAX_SEED + 1,
                    ..ok.clone()
                },
                Err(
                    "simulation.seed: 9223372036854775808 is out of range; seeds are 0 to 9223372036854775807 (2^63 - 1)",
                ),
            ),
            (
                SimulationConfig {
                    threads: MAX_THREADS + 1,
                    ..ok.clone()
                },
                Err("simulation.threads: at most 1024 (0 = all cores), got 1025"),
            ),
        ] {
            assert_eq!(check(c), expected.map_err(String::from));
        }
    }
}
