//! `[poisson_inputs.<name>]`: external Poisson drive of a neuron layer
//! ([`crate::poisson_input`]).

use serde::{Deserialize, Serialize};

use super::Config;
use crate::param::{ConfigError, err, finite, non_negative};

/// The law of the number of input spikes a target receives in one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CountLaw {
    /// Poisson with mean `inputs · rate_hz · dt/1000`: the sum of `inputs`
    /// independent Poisson processes (NEST's `poisson_generator`, exact
    /// for any rate).
    #[default]
    Poisson,
    /// Binomial(`inputs`, `rate_hz · dt/1000`): `inputs` independent
    /// sources that spike at most once per step (Brian2's `PoissonInput`,
    /// spikesim's encoders); needs `rate_hz · dt/1000 <= 1`.
    Binomial,
}

/// `[poisson_inputs.<name>]`: every neuron of `layer` receives `inputs`
/// independent spike trains of `rate_hz` each through a synapse of
/// `weight`, drawn as one count per neuron and step (no per-source work).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonInputConfig {
    /// The neuron layer driven (required).
    pub layer: String,
    /// Which synaptic current of the layer receives the input (required
    /// when it has several), as a projection's `target`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Number of independent inputs per neuron, K (required, >= 0).
    pub inputs: u64,
    /// Rate of each input in Hz (required, >= 0).
    pub rate_hz: f64,
    /// Weight of each input spike, in the units of the target's weights
    /// (required).
    pub weight: f64,
    /// `poisson` (default) or `binomial`: the law of each step's count.
    #[serde(default)]
    pub law: CountLaw,
}

/// The largest mean count per step: the table of the count's law
/// ([`crate::poisson_input::CountTable`]) holds about `λ + 40√λ` entries.
pub const MAX_MEAN_COUNT: f64 = 1e6;

impl PoissonInputConfig {
    /// The probability that one input spikes in one step of `dt` ms.
    pub fn step_probability(&self, dt_ms: f64) -> f64 {
        self.rate_hz * dt_ms / 1000.0
    }

    /// Checks ranges and the layer and target it names; `key(field)` is
    /// the field's dotted key.
    pub(crate) fn validate(
        &self,
        c: &Config,
        key: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let layer = c.layer(&self.layer, &key("layer"))?;
        let Some(model) = layer.neuron() else {
            return err(format!(
                "{}: layer '{}' is an encoder; Poisson inputs drive neuron layers",
                key("layer"),
                self.layer
            ));
        };
        super::projection::check_target(
            &key("target"),
            &self.layer,
            &model.synaptic_currents(),
            self.target.as_deref(),
        )?;
        non_negative(&key("rate_hz"), self.rate_hz)?;
        finite(&key("weight"), self.weight)?;
        let p = self.step_probability(c.simulation.dt_ms);
        if self.law == CountLaw::Binomial && p > 1.0 {
            return err(format!(
                "{}: {} Hz at dt {} ms is a spike probability {p} > 1 per step; allowed with law = \"binomial\": rate_hz <= {}",
                key("rate_hz"),
                self.rate_hz,
                c.simulation.dt_ms,
                1000.0 / c.simulation.dt_ms
            ));
        }
        let mean = self.inputs as f64 * p;
        if mean > MAX_MEAN_COUNT {
            return err(format!(
                "{}: {} inputs of {} Hz give {mean} spikes per neuron and step; allowed: at most {MAX_MEAN_COUNT}",
                key("inputs"),
                self.inputs,
                self.rate_hz
            ));
        }
        Ok(())
    }
}
