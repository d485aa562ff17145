//! `[layers.<name>]`: the layers without a neuron model here (encoders,
//! Poisson sources, spike files), neuron layers by their model
//! ([`crate::neuron`]).

use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::neuron::{LayerModel, NeuronConfig};
use crate::param::{ConfigError, Distribution, err, non_negative};
use crate::rng;

/// The `kind`s of the layers without a neuron model, as a config writes them.
pub const SOURCE_KINDS: &[&str] = &["encoder", "poisson", "spike_file"];

/// `[layers.<name>]`: `kind = "encoder"`, `"poisson"`, `"spike_file"`
/// or a neuron model's kind ([`NeuronConfig::KINDS`]).
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
    /// A Poisson source: a spike with a fixed probability per neuron per step.
    #[serde(rename = "poisson")]
    Poisson(PoissonConfig),
    /// Spike trains replayed from a file.
    #[serde(rename = "spike_file")]
    SpikeFile(SpikeFileConfig),
    /// A layer of neurons of one model.
    #[serde(untagged)]
    Neuron(NeuronConfig),
}

impl LayerConfig {
    /// Number of neurons.
    pub fn size(&self) -> usize {
        match self {
            LayerConfig::Encoder(e) => e.size,
            LayerConfig::Poisson(p) => p.size,
            LayerConfig::SpikeFile(f) => f.size,
            LayerConfig::Neuron(n) => n.layer().size(),
        }
    }

    /// Sets the number of neurons (a scaled network).
    pub fn set_size(&mut self, size: usize) {
        match self {
            LayerConfig::Encoder(e) => e.size = size,
            LayerConfig::Poisson(p) => p.size = size,
            LayerConfig::SpikeFile(f) => f.size = size,
            LayerConfig::Neuron(n) => n.layer_mut().set_size(size),
        }
    }

    /// The neuron model's view of the layer; `None` for a layer without a
    /// neuron model (encoder, Poisson source, spike file).
    pub fn neuron(&self) -> Option<&dyn LayerModel> {
        match self {
            LayerConfig::Neuron(n) => Some(n.layer()),
            _ => None,
        }
    }

    /// The layer's `kind` as written in a config.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerConfig::Encoder(_) => "encoder",
            LayerConfig::Poisson(_) => "poisson",
            LayerConfig::SpikeFile(_) => "spike_file",
            LayerConfig::Neuron(n) => n.kind(),
        }
    }
}

/// `{key}` is at most one spike per step: `rate·dt/1000 <= 1` for `rate`
/// Hz at time step `dt` ms, or an error naming `key` and the bound of
/// `field`.
fn probability_at_most_one(key: &str, field: &str, rate: f64, dt: f64) -> Result<(), ConfigError> {
    if rate * dt / 1000.0 > 1.0 {
        return err(format!(
            "{key}: {rate} Hz at dt {dt} ms gives a spike probability {} > 1; allowed: {field} <= {}",
            rate * dt / 1000.0,
            1000.0 / dt
        ));
    }
    Ok(())
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
        if self.encoding == Encoding::Poisson {
            let rate = self.max_rate_hz;
            probability_at_most_one(&key("max_rate_hz"), "max_rate_hz", rate, dt)?;
        }
        Ok(())
    }
}

/// A Poisson source layer (`kind = "poisson"`): neuron `i` spikes at each
/// step with probability `p_i = rate_i·dt/1000`, from its own random
/// stream keyed by (seed, layer, neuron), independent of the other neurons
/// and of the image stimulus. It runs on the encoder machinery
/// ([`crate::encoder`]) with fixed intensities.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoissonConfig {
    /// Number of neurons (required, >= 1).
    #[serde(default)]
    pub size: usize,
    /// The rate of each neuron in Hz (required): `rate_i·dt/1000 <= 1`.
    pub rate_hz: Rates,
}

/// `rate_hz` of a Poisson source layer, Hz.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rates {
    /// One rate for every neuron: `rate_hz = 20.0`.
    Same(f64),
    /// One rate per neuron, in neuron order: `rate_hz = [5.0, 10.0, 20.0]`.
    PerNeuron(Vec<f64>),
    /// Drawn per neuron, in neuron order, from the stream (seed,
    /// `POISSON_RATE`, layer): `rate_hz = { kind = "uniform", low = 5.0,
    /// high = 20.0 }`. A negative draw is 0 Hz.
    Drawn(Distribution),
}

impl<'de> Deserialize<'de> for Rates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RatesVisitor;
        impl<'de> Visitor<'de> for RatesVisitor {
            type Value = Rates;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate in Hz, a list of one rate per neuron, or a distribution table such as { kind = \"uniform\", low = 5.0, high = 20.0 }")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rates, E> {
                Ok(Rates::Same(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rates, E> {
                Ok(Rates::Same(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Rates, E> {
                Ok(Rates::Same(v as f64))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Rates, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Rates::PerNeuron)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Rates, A::Error> {
                Distribution::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Rates::Drawn)
            }
        }
        d.deserialize_any(RatesVisitor)
    }
}

impl PoissonConfig {
    /// Checks the rates that the config gives (a drawn rate is checked as
    /// it is drawn, by [`PoissonConfig::rates`]); `key(field)` is the
    /// field's dotted key.
    pub(crate) fn validate(
        &self,
        key: &dyn Fn(&str) -> String,
        dt: f64,
    ) -> Result<(), ConfigError> {
        let check = |key: &str, r: f64| {
            non_negative(key, r)?;
            probability_at_most_one(key, "rate_hz", r, dt)
        };
        match &self.rate_hz {
            Rates::Same(r) => check(&key("rate_hz"), *r),
            Rates::PerNeuron(rates) if rates.len() != self.size => err(format!(
                "{}: {} rates for {} neurons; give one per neuron, one number for all, or a distribution",
                key("rate_hz"),
                rates.len(),
                self.size
            )),
            Rates::PerNeuron(rates) => (rates.iter().enumerate())
                .try_for_each(|(i, &r)| check(&format!("{}[{i}]", key("rate_hz")), r)),
            Rates::Drawn(d) => d.validate(&key("rate_hz")),
        }
    }

    /// Each neuron's rate in Hz; a drawn one from the stream (seed,
    /// [`rng::POISSON_RATE`], `layer`), where a negative draw is 0 Hz and
    /// one above `1000/dt` Hz an error naming `key` (the dotted key of
    /// `rate_hz`) and the neuron.
    pub fn rates(
        &self,
        key: &str,
        seed: u64,
        layer: usize,
        dt: f64,
    ) -> Result<Vec<f64>, ConfigError> {
        match &self.rate_hz {
            Rates::Same(r) => Ok(vec![*r; self.size]),
            Rates::PerNeuron(rates) => Ok(rates.clone()),
            Rates::Drawn(d) => {
                let mut g = rng::stream(seed, rng::POISSON_RATE, layer as u64, 0);
                (0..self.size)
                    .map(|i| {
                        let r = d.sample(&mut g).max(0.0);
                        probability_at_most_one(&format!("{key} (neuron {i})"), "rate_hz", r, dt)
                            .map(|()| r)
                    })
                    .collect()
            }
        }
    }
}

/// Spike trains replayed from a file (`kind = "spike_file"`, NEST's
/// `spike_generator`, Brian2's `SpikeGeneratorGroup`): neuron `i` spikes
/// at step `round(t/dt)` (halves away from zero) for each of its spike
/// times `t` (ms) in the file; see [`crate::spike_file`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpikeFileConfig {
    /// Number of neurons (required, >= 1); every node id of the file is
    /// below it.
    #[serde(default)]
    pub size: usize,
    /// The file (required), relative to the working directory: a SONATA
    /// spike file (HDF5, `/spikes/<population>/node_ids` and `timestamps`
    /// in ms, as spikesim writes them), or, for a name ending in `.csv`,
    /// lines `node_id,time_ms` (an optional first line `node_id,time_ms`).
    pub path: PathBuf,
    /// The population of an HDF5 file (its group under `/spikes`); default
    /// the only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<String>,
}

impl SpikeFileConfig {
    /// Whether `path` names a CSV file (it ends in `.csv`, any case).
    pub fn is_csv(&self) -> bool {
        (self.path.extension()).is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    }

    /// Checks that `population` is given only for an HDF5 file; the file
    /// itself is read when the network is built
    /// ([`crate::spike_file::load`]).
    pub(crate) fn validate(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if self.population.is_some() && self.is_csv() {
            return err(format!(
                "{}: a CSV file ({}) has no populations; population is for SONATA (HDF5) files",
                key("population"),
                self.path.display()
            ));
        }
        Ok(())
    }
}
