//! `[generators.<name>]`: current generators, each adding a current to
//! some neurons of one neuron layer every step (NEST's `dc_generator`,
//! `step_current_generator`, `noise_generator` and `ac_generator`); the
//! currents themselves are [`crate::generator`]'s.
//!
//! ```toml
//! [generators.drive]
//! layer = "exc"          # a neuron layer
//! target = "exc"         # one of its synaptic currents (default: the first)
//! neurons = [0, 50]      # neurons first..end (default: all)
//! kind = "noise"
//! mean = 0.5             # in the units of the layer's current (nA)
//! std = 0.2
//! dt_ms = 1.0            # redrawn every 1 ms (default: every step)
//! ```

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::{Config, LayerConfig};
use crate::param::{ConfigError, StepCurrent, deserialize_at, err, finite, non_negative};

/// Every generator `kind`.
pub const GENERATOR_KINDS: &[&str] = &["dc", "step", "noise", "sin"];

/// The keys every generator has, whatever its kind.
const PLACEMENT_KEYS: &[&str] = &["layer", "target", "neurons"];

/// `[generators.<name>]`: where a generator's current goes and what it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// The layer, synaptic current and neurons it drives.
    #[serde(flatten)]
    pub at: Placement,
    /// The current: `kind` and its parameters.
    #[serde(flatten)]
    pub kind: GeneratorKind,
}

/// Where a generator's current goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Placement {
    /// The neuron layer (required).
    pub layer: String,
    /// The layer's synaptic current that receives it, by name (default:
    /// the first, where `i_ext` enters too). Into an `instantaneous`
    /// current it is a membrane current, as `i_ext` is; into a
    /// conductance-based one (`reversal_mv`) it is a conductance increment
    /// in µS, as `i_ext` is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The neurons `[first, end)` it drives (default: all), `first < end <= size`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons: Option<[usize; 2]>,
}

/// A generator's current `I(n)` at step `n` (`t = n·dt` ms), in the units
/// of the layer's current (nA for `lif` and `adex`, dimensionless for
/// `izhikevich`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GeneratorKind {
    /// `I = amplitude` every step.
    Dc(DcConfig),
    /// `I = amplitude` while `start_ms <= t < stop_ms`, else 0.
    Step(StepCurrent),
    /// `I = mean + std·ξ`, ξ ~ N(0, 1) drawn per neuron every `dt_ms`.
    Noise(NoiseConfig),
    /// `I = offset + amplitude·sin(2π·frequency_hz·t/1000 + phase_deg·π/180)`.
    Sin(SinConfig),
}

/// `kind = "dc"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcConfig {
    /// The current (required).
    pub amplitude: f64,
}

/// `kind = "noise"` (NEST's `noise_generator`): a piecewise-constant
/// current, redrawn every `dt_ms` independently for each neuron.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// Mean (default 0.0).
    #[serde(default)]
    pub mean: f64,
    /// Standard deviation of each draw (required, >= 0).
    pub std: f64,
    /// Time between redraws in ms (default `simulation.dt_ms`): a whole
    /// number of time steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt_ms: Option<f64>,
}

/// `kind = "sin"` (NEST's `ac_generator`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinConfig {
    /// Amplitude (required).
    pub amplitude: f64,
    /// Frequency in Hz (required, >= 0).
    pub frequency_hz: f64,
    /// Phase at t = 0 in degrees (default 0).
    #[serde(default)]
    pub phase_deg: f64,
    /// Constant added (default 0).
    #[serde(default)]
    pub offset: f64,
}

impl NoiseConfig {
    /// Steps between redraws at time step `dt` (ms): `dt_ms / dt`, a whole
    /// number >= 1 in a validated config (1 without `dt_ms`).
    pub fn redraw_steps(&self, dt: f64) -> u64 {
        self.dt_ms.map_or(1, |ms| (ms / dt).round() as u64)
    }
}

impl GeneratorConfig {
    /// Checks the layer, target, neurons and parameters against `c`;
    /// `key(field)` is the field's dotted key.
    pub(crate) fn validate(
        &self,
        c: &Config,
        key: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let layer = c.layer(&self.at.layer, &key("layer"))?;
        let Some(model) = layer.neuron() else {
            return err(format!(
                "{}: layer '{}' is a {} layer; generators drive neuron layers",
                key("layer"),
                self.at.layer,
                layer.kind()
            ));
        };
        if let Some(t) = &self.at.target {
            let currents = model.synaptic_currents();
            if !currents.iter().any(|(n, _)| n == t) {
                let names: Vec<&str> = currents.iter().map(|(n, _)| n.as_str()).collect();
                return err(format!(
                    "{}: layer '{}' has no synaptic current '{t}'; it has: {}",
                    key("target"),
                    self.at.layer,
                    names.join(", ")
                ));
            }
        }
        if let Some([first, end]) = self.at.neurons
            && !(first < end && end <= layer.size())
        {
            return err(format!(
                "{}: [{first}, {end}) is not a range of neurons first..end of layer '{}' ({} neurons); allowed: first < end <= {}",
                key("neurons"),
                self.at.layer,
                layer.size(),
                layer.size()
            ));
        }
        if c.protocol.is_some() && !matches!(self.kind, GeneratorKind::Dc(_)) {
            return err(format!(
                "{}: a {} generator changes with time, which a [protocol] run does not keep (its images run on copies of the network, each with its own clock); use a dc generator or a [stimulus]",
                key("kind"),
                self.kind.name()
            ));
        }
        let dt = c.simulation.dt_ms;
        match &self.kind {
            GeneratorKind::Dc(d) => finite(&key("amplitude"), d.amplitude),
            GeneratorKind::Step(s) => s.validate(key),
            GeneratorKind::Noise(n) => {
                finite(&key("mean"), n.mean)?;
                non_negative(&key("std"), n.std)?;
                match n.dt_ms {
                    Some(ms) if !(ms.is_finite() && ms >= dt && whole_steps(ms, dt)) => {
                        err(format!(
                            "{}: {ms} ms is not a whole number of time steps of {dt} ms; allowed: a multiple of simulation.dt_ms",
                            key("dt_ms")
                        ))
                    }
                    _ => Ok(()),
                }
            }
            GeneratorKind::Sin(s) => {
                finite(&key("amplitude"), s.amplitude)?;
                non_negative(&key("frequency_hz"), s.frequency_hz)?;
                finite(&key("phase_deg"), s.phase_deg)?;
                finite(&key("offset"), s.offset)
            }
        }
    }

    /// The neurons it drives, of a layer of `size`.
    pub fn neurons(&self, size: usize) -> Range<usize> {
        self.at.neurons.map_or(0..size, |[first, end]| first..end)
    }

    /// The index of the synaptic current it drives among the layer's
    /// (validated: the layer is a neuron layer of `c`, the target one of
    /// its currents).
    pub fn current_index(&self, c: &Config) -> usize {
        let LayerConfig::Neuron(n) = &c.layers[&self.at.layer] else {
            unreachable!("validated: generators drive neuron layers")
        };
        self.at.target.as_ref().map_or(0, |t| {
            (n.layer().synaptic_currents().iter())
                .position(|(name, _)| name == t)
                .expect("validated target")
        })
    }
}

impl GeneratorKind {
    /// The `kind` as a config writes it.
    pub fn name(&self) -> &'static str {
        match self {
            GeneratorKind::Dc(_) => "dc",
            GeneratorKind::Step(_) => "step",
            GeneratorKind::Noise(_) => "noise",
            GeneratorKind::Sin(_) => "sin",
        }
    }
}

/// Whether `ms` is a whole number of steps of `dt` (within 10^-9 of a step).
fn whole_steps(ms: f64, dt: f64) -> bool {
    ((ms / dt).round() - ms / dt).abs() <= 1e-9
}

/// Reads each generator's fields against its kind before the whole config
/// is read, so that an error names its key (`generators.<name>.<field>`):
/// serde reads the flattened kind through a buffer that loses the path.
pub(crate) fn check_fields(table: &toml::Table) -> Result<(), ConfigError> {
    let Some(toml::Value::Table(generators)) = table.get("generators") else {
        return Ok(());
    };
    for (name, generator) in generators {
        let toml::Value::Table(fields) = generator else {
            continue;
        };
        let prefix = format!("generators.{name}");
        let (at, mut own): (toml::Table, toml::Table) = fields
            .clone()
            .into_iter()
            .partition(|(k, _)| PLACEMENT_KEYS.contains(&k.as_str()));
        if !at.contains_key("layer") {
            return err(format!("{prefix}.layer: required, a neuron layer"));
        }
        deserialize_at::<Placement>(toml::Value::Table(at), &prefix)?;
        let kind = own.remove("kind");
        let own = toml::Value::Table(own);
        let allowed = GENERATOR_KINDS.join(", ");
        match kind.as_ref().map(|k| (k, k.as_str())) {
            Some((_, Some("dc"))) => deserialize_at::<DcConfig>(own, &prefix).map(drop),
            Some((_, Some("step"))) => deserialize_at::<StepCurrent>(own, &prefix).map(drop),
            Some((_, Some("noise"))) => deserialize_at::<NoiseConfig>(own, &prefix).map(drop),
            Some((_, Some("sin"))) => deserialize_at::<SinConfig>(own, &prefix).map(drop),
            Some((_, Some(k))) => err(format!(
                "{prefix}.kind: unknown kind '{k}'; allowed: {allowed}"
            )),
            Some((k, None)) => err(format!(
                "{prefix}.kind: expected a string, got {k}; allowed: {allowed}"
            )),
            None => err(format!("{prefix}.kind: required; allowed: {allowed}")),
        }?;
    }
    Ok(())
}
