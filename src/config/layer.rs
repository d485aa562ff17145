//! `[layers.<name>]`: encoder layers here, neuron layers by their model
//! ([`crate::neuron`]).

use serde::{Deserialize, Serialize};

use crate::neuron::{LayerModel, NeuronConfig};
use crate::param::{ConfigError, err, non_negative};

/// `[layers.<name>]`: `kind = "encoder"` or a neuron model's kind
/// ([`NeuronConfig::KINDS`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind")]
#[allow(
    clippy::large_enum_variant,
    reason = "a config holds a handful of layers; boxing would only add noise"
)]
pub enum LayerConfig {
    /// Input layer: one Bernoulli trial per neuron per step.
    #[serde(rename = "encoder")]
    Encoder(EncoderConfig),
    /// A layer of neurons of one model.
    #[serde(untagged)]
    Neuron(NeuronConfig),
}

impl LayerConfig {
    /// Number of neurons.
    pub fn size(&self) -> usize {
        match self {
            LayerConfig::Encoder(e) => e.size,
            LayerConfig::Neuron(n) => n.layer().size(),
        }
    }

    /// Sets the number of neurons (a scaled network).
    pub fn set_size(&mut self, size: usize) {
        match self {
            LayerConfig::Encoder(e) => e.size = size,
            LayerConfig::Neuron(n) => n.layer_mut().set_size(size),
        }
    }

    /// The neuron model's view of the layer; `None` for an encoder layer.
    pub fn neuron(&self) -> Option<&dyn LayerModel> {
        match self {
            LayerConfig::Encoder(_) => None,
            LayerConfig::Neuron(n) => Some(n.layer()),
        }
    }

    /// The layer's `kind` as written in a config.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerConfig::Encoder(_) => "encoder",
            LayerConfig::Neuron(n) => n.kind(),
        }
    }
}

/// How an encoder turns an intensity `x` in [0, 1] into a spike probability per step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// `p = min(1, gain * x)` (the seed's form).
    Bernoulli,
    /// `p = x * max_rate_hz * dt / 1000` (rate coding).
    Poisson,
}

/// An encoder layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncoderConfig {
    /// Number of encoder neurons (required, >= 1; must equal the pixels per image if this layer receives the stimulus).
    pub size: usize,
    /// `bernoulli` (default) or `poisson`.
    pub encoding: Encoding,
    /// Bernoulli gain (default 1.0, >= 0): `p = min(1, gain * x)`.
    pub gain: f64,
    /// Poisson rate of a fully bright pixel in Hz (default 63.75, as in Diehl & Cook);
    /// `max_rate_hz * dt_ms / 1000` must be <= 1.
    pub max_rate_hz: f64,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            size: 0,
            encoding: Encoding::Bernoulli,
            gain: 1.0,
            max_rate_hz: 63.75,
        }
    }
}

impl EncoderConfig {
    /// Checks ranges at time step `dt` (ms); `key(field)` is the field's
    /// dotted key.
    pub(crate) fn validate(
        &self,
        key: &dyn Fn(&str) -> String,
        dt: f64,
    ) -> Result<(), ConfigError> {
        non_negative(&key("gain"), self.gain)?;
        non_negative(&key("max_rate_hz"), self.max_rate_hz)?;
        if self.encoding == Encoding::Poisson && self.max_rate_hz * dt / 1000.0 > 1.0 {
            return err(format!(
                "{}: {} Hz at dt {} ms gives a spike probability {} > 1; allowed: max_rate_hz <= {}",
                key("max_rate_hz"),
                self.max_rate_hz,
                dt,
                self.max_rate_hz * dt / 1000.0,
                1000.0 / dt
            ));
        }
        Ok(())
    }
}
