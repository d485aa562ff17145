//! `[simulation]`: time step, seed, threads, length.

use serde::{Deserialize, Serialize};

/// `[simulation]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationConfig {
    /// Time step in ms (default 1.0). Must be > 0.
    pub dt_ms: f64,
    /// Seed of every random stream (default 0): encoder trials and weight draws.
    pub seed: u64,
    /// Worker threads for per-neuron systems (default 0 = all cores).
    /// Results do not depend on it.
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
