//! Parameter values shared by the config's sections and the neuron models:
//! the one-line [`ConfigError`], range checks that name the key, value
//! distributions and the step current.

use serde::{Deserialize, Serialize};

/// Insertion-ordered map by name (layers and projections keep file order).
pub type Map<V> = indexmap::IndexMap<String, V>;

/// A configuration error: one line naming the key or file and what is allowed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// `Err` of a [`ConfigError`] with `msg`.
pub fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// `v` is a finite number, or an error naming `key`.
pub fn finite(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() {
        Ok(())
    } else {
        err(format!("{key}: must be a finite number, got {v}"))
    }
}

/// `v` is finite and > 0, or an error naming `key`.
pub fn positive(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        err(format!("{key}: must be > 0, got {v}"))
    }
}

/// `v` is finite and >= 0, or an error naming `key`.
pub fn non_negative(key: &str, v: f64) -> Result<(), ConfigError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        err(format!("{key}: must be >= 0, got {v}"))
    }
}

/// `v` is in [0, 1], or an error naming `key`.
pub fn probability(key: &str, v: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        err(format!("{key}: a probability in [0, 1], got {v}"))
    }
}

/// A distribution of initial values (weights, voltages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    /// Every weight equals `value`.
    Constant {
        /// The weight.
        value: f64,
    },
    /// Uniform on `[low, high)`, `low <= high`.
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Normal with `mean` and standard deviation `std >= 0`.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
}

impl Distribution {
    /// Checks the parameters; `key` names the table in messages.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match *self {
            Distribution::Constant { value } => finite(&format!("{key}.value"), value),
            Distribution::Uniform { low, high } => {
                finite(&format!("{key}.low"), low)?;
                finite(&format!("{key}.high"), high)?;
                if low > high {
                    return err(format!("{key}.high: must be >= low ({low}), got {high}"));
                }
                Ok(())
            }
            Distribution::Normal { mean, std } => {
                finite(&format!("{key}.mean"), mean)?;
                non_negative(&format!("{key}.std"), std)
            }
        }
    }

    /// One draw from `rng`.
    pub fn sample(&self, rng: &mut impl rand::Rng) -> f64 {
        match *self {
            Distribution::Constant { value } => value,
            Distribution::Uniform { low, high } => low + (high - low) * crate::rng::unit(rng),
            Distribution::Normal { mean, std } => mean + std * crate::rng::standard_normal(rng),
        }
    }
}

/// `step_current = { start_ms, stop_ms, amplitude }`: `amplitude` nA for
/// steps `n` with `start_ms <= n*dt < stop_ms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCurrent {
    /// Start of the window in ms (inclusive).
    pub start_ms: f64,
    /// End of the window in ms (exclusive).
    pub stop_ms: f64,
    /// Current in nA.
    pub amplitude: f64,
}

impl StepCurrent {
    /// Checks that the amplitude is finite and `0 <= start_ms <= stop_ms`;
    /// `key(field)` is the field's dotted key.
    pub fn validate(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        finite(&key("amplitude"), self.amplitude)?;
        non_negative(&key("start_ms"), self.start_ms)?;
        if self.stop_ms.partial_cmp(&self.start_ms) == Some(std::cmp::Ordering::Less)
            || self.stop_ms.is_nan()
        {
            return err(format!(
                "{}: must be >= start_ms ({})",
                key("stop_ms"),
                self.start_ms
            ));
        }
        Ok(())
    }
}

/// Deserializes `value`, naming the failing key as a dotted path under `prefix`.
pub fn deserialize_at<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    prefix: &str,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = one_line(&e.into_inner().to_string());
        match (prefix, path.as_str()) {
            ("", ".") => ConfigError(msg),
            ("", p) => ConfigError(format!("{p}: {msg}")),
            (pre, ".") => ConfigError(format!("{pre}: {msg}")),
            (pre, p) => ConfigError(format!("{pre}.{p}: {msg}")),
        }
    })
}

/// `s` on one line (whitespace runs become one space).
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
