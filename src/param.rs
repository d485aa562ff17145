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

/// A distribution of initial values (weights, voltages, delays).
///
/// `normal` and `lognormal` take optional bounds `min`, `max` (inclusive):
/// a draw outside `[min, max]` is drawn again until it falls inside (NEST's
/// `redraw`), which is the distribution conditioned on the window. A
/// window holding less than [`MIN_WINDOW_MASS`] of the distribution is
/// refused, since redrawing would take too long.
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
    /// Normal with `mean` and standard deviation `std >= 0`, redrawn
    /// outside `[min, max]`.
    Normal {
        /// Mean (before truncation).
        mean: f64,
        /// Standard deviation (before truncation).
        std: f64,
        /// Smallest value kept (default none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest value kept (default none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `exp(X)` for `X` normal with mean `mu` and standard deviation
    /// `sigma >= 0` (of the logarithm): mean `exp(mu + sigma²/2)`, variance
    /// `(exp(sigma²) − 1)·exp(2 mu + sigma²)`, redrawn outside `[min, max]`.
    Lognormal {
        /// Mean of the logarithm.
        mu: f64,
        /// Standard deviation of the logarithm.
        sigma: f64,
        /// Smallest value kept (default none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest value kept (default none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
}

/// The least probability a truncation window `[min, max]` may hold: at
/// `10^-6` a draw takes a million tries on average.
pub const MIN_WINDOW_MASS: f64 = 1e-6;

/// Standard deviations past the mean where [`Distribution::reach`] puts the
/// end of an unbounded normal: a draw beyond has probability `7.6·10^-24`.
const REACH_STDS: f64 = 10.0;

impl Distribution {
    /// Checks the parameters; `key` names the table in messages.
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let k = |f: &str| format!("{key}.{f}");
        match *self {
            Distribution::Constant { value } => finite(&k("value"), value),
            Distribution::Uniform { low, high } => {
                finite(&k("low"), low)?;
                finite(&k("high"), high)?;
                if low > high {
                    return err(format!("{key}.high: must be >= low ({low}), got {high}"));
                }
                Ok(())
            }
            Distribution::Normal {
                mean,
                std,
                min,
                max,
            } => {
                finite(&k("mean"), mean)?;
                non_negative(&k("std"), std)?;
                self.validate_window(key, min, max)
            }
            Distribution::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => {
                finite(&k("mu"), mu)?;
                non_negative(&k("sigma"), sigma)?;
                self.validate_window(key, min, max)
            }
        }
    }

    /// Checks the bounds `min <= max` (finite) and that the window holds at
    /// least [`MIN_WINDOW_MASS`] of the distribution.
    fn validate_window(
        &self,
        key: &str,
        min: Option<f64>,
        max: Option<f64>,
    ) -> Result<(), ConfigError> {
        for (name, b) in [("min", min), ("max", max)] {
            if let Some(b) = b {
                finite(&format!("{key}.{name}"), b)?;
            }
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return err(format!("{key}.max: must be >= min ({lo}), got {hi}"));
        }
        let mass = self.window_mass();
        if mass < MIN_WINDOW_MASS {
            let name = if max.is_some() && min.is_none() {
                "max"
            } else {
                "min"
            };
            let show = |b: Option<f64>| b.map_or("none".to_owned(), |b| b.to_string());
            return err(format!(
                "{key}.{name}: the window [{}, {}] holds a probability of {mass:.1e} of the distribution, under {MIN_WINDOW_MASS:e}: drawing inside it would not end",
                show(min),
                show(max)
            ));
        }
        Ok(())
    }

    /// The probability that one draw before truncation falls in the window
    /// `[min, max]` (1 without bounds), to about 10^-7 of the tail it is
    /// computed from ([`normal_tail`]).
    pub fn window_mass(&self) -> f64 {
        match *self {
            Distribution::Constant { .. } | Distribution::Uniform { .. } => 1.0,
            Distribution::Normal {
                mean,
                std,
                min,
                max,
            } => standard_normal_mass(
                min.map_or(f64::NEG_INFINITY, |m| (m - mean) / std),
                max.map_or(f64::INFINITY, |m| (m - mean) / std),
                mean,
                min,
                max,
            ),
            Distribution::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => {
                // In the logarithm: a bound <= 0 is below every draw (min)
                // or above none (max).
                let ln = |b: f64| if b > 0.0 { b.ln() } else { f64::NEG_INFINITY };
                let (lo, hi) = (min.map(ln), max.map(ln));
                standard_normal_mass(
                    lo.map_or(f64::NEG_INFINITY, |m| (m - mu) / sigma),
                    hi.map_or(f64::INFINITY, |m| (m - mu) / sigma),
                    mu,
                    lo,
                    hi,
                )
            }
        }
    }

    /// The largest value a draw practically gives: `value`, `high`, or the
    /// bound `max`; without `max`, 10 standard deviations
    /// past the mean (of the logarithm for `lognormal`), which a draw
    /// exceeds with probability `7.6·10^-24`.
    pub fn reach(&self) -> f64 {
        match *self {
            Distribution::Constant { value } => value,
            Distribution::Uniform { high, .. } => high,
            Distribution::Normal { mean, std, max, .. } => {
                max.unwrap_or(f64::INFINITY).min(mean + REACH_STDS * std)
            }
            Distribution::Lognormal { mu, sigma, max, .. } => max
                .unwrap_or(f64::INFINITY)
                .min((mu + REACH_STDS * sigma).exp()),
        }
    }

    /// One draw from `rng`; normal numbers by the ziggurat
    /// ([`crate::rng::standard_normal`]).
    pub fn sample(&self, rng: &mut impl rand::Rng) -> f64 {
        let mut normal = || crate::rng::standard_normal(rng);
        match *self {
            Distribution::Constant { value } => value,
            Distribution::Uniform { low, high } => low + (high - low) * crate::rng::unit(rng),
            Distribution::Normal {
                mean,
                std,
                min,
                max,
            } => redraw(min, max, || mean + std * normal()),
            Distribution::Lognormal {
                mu,
                sigma,
                min,
                max,
            } => redraw(min, max, || (mu + sigma * normal()).exp()),
        }
    }
}

/// The first of `draw`'s values inside `[min, max]` (an absent bound does
/// not limit).
#[inline]
fn redraw(min: Option<f64>, max: Option<f64>, mut draw: impl FnMut() -> f64) -> f64 {
    loop {
        let x = draw();
        if min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m) {
            return x;
        }
    }
}

/// `P(a <= Z <= b)` for a standard normal `Z`, from the tail on the side
/// of the window so that far tails keep their relative precision; the
/// window of a zero standard deviation (`a`, `b` not numbers or infinite
/// of one sign) is `[lo, hi]` around the point `at`: 1 if it holds it, else 0.
fn standard_normal_mass(a: f64, b: f64, at: f64, lo: Option<f64>, hi: Option<f64>) -> f64 {
    if a.is_nan() || b.is_nan() || (a == b && a.is_infinite()) {
        let inside = lo.is_none_or(|l| at >= l) && hi.is_none_or(|h| at <= h);
        return if inside { 1.0 } else { 0.0 };
    }
    if a >= 0.0 {
        normal_tail(a) - normal_tail(b)
    } else if b <= 0.0 {
        normal_tail(-b) - normal_tail(-a)
    } else {
        1.0 - normal_tail(-a) - normal_tail(b)
    }
}

/// `Q(x) = P(Z > x) = erfc(x/√2)/2` for a standard normal `Z`, with a
/// relative error under `1.2·10^-7` everywhere (the Chebyshev fit of
/// `erfc` in Numerical Recipes, §6.2).
pub fn normal_tail(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = [
        -1.265_512_23,
        1.000_023_68,
        0.374_091_96,
        0.096_784_18,
        -0.186_288_06,
        0.278_868_07,
        -1.135_203_98,
        1.488_515_87,
        -0.822_152_23,
        0.170_872_77,
    ]
    .iter()
    .rev()
    .fold(0.0, |acc, c| c + t * acc);
    let erfc = t * (-z * z + poly).exp();
    if x >= 0.0 {
        erfc / 2.0
    } else {
        1.0 - erfc / 2.0
    }
}

/// Deserializes a number as [`Distribution::Constant`], or a distribution
/// table, into `Some` (for optional keys such as `delay_ms = 1.5` or
/// `delay_ms = { kind = "normal", mean = 1.5, std = 0.75 }`).
pub fn number_or_distribution<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Distribution>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Distribution;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(
                "a number or a distribution such as { kind = \"normal\", mean = 1.5, std = 0.75 }",
            )
        }
        fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Distribution, E> {
            Ok(Distribution::Constant { value })
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Distribution, E> {
            self.visit_f64(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Distribution, E> {
            self.visit_f64(v as f64)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Distribution, A::Error> {
            Distribution::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(Visit).map(Some)
}

/// A numeric neuron parameter of a layer (`v_th_mv = -55.0`): one number
/// for every neuron, or one value per neuron, drawn from a distribution
/// (`v_th_mv = { kind = "normal", mean = -55.0, std = 1.0 }`) or read from
/// a file (`v_th_mv = { file = "v_th.csv" }`).
///
/// A drawn value of neuron `i` of the layer at position `layer` comes from
/// its own stream, `rng::stream(rng::neuron_param(seed, layer, name), 0, i, 0)`
/// ([`crate::rng::neuron_param`]; `name` is the key, e.g. `v_th_mv`), so it
/// depends on nothing but the seed, the layer's position, the key and `i`.
/// A file holds one value per neuron in index order: `.npy` (a 1-D array
/// of `<f8` or `<f4`), or text with one number per line (blank lines and
/// lines starting with `#` skipped), relative to the working directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PerNeuron {
    /// Every neuron has this value.
    Same(f64),
    /// Each neuron draws its own value.
    Drawn(Distribution),
    /// Each neuron's value, read from a file.
    File {
        /// The file, relative to the working directory.
        file: std::path::PathBuf,
    },
}

impl From<f64> for PerNeuron {
    fn from(v: f64) -> Self {
        PerNeuron::Same(v)
    }
}

/// `{ file = "..." }` (no other key).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTable {
    file: std::path::PathBuf,
}

impl<'de> Deserialize<'de> for PerNeuron {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = PerNeuron;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a number, a distribution such as { kind = \"normal\", mean = -55.0, std = 1.0 } or { file = \"values.csv\" }",
                )
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<PerNeuron, E> {
                Ok(PerNeuron::Same(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PerNeuron, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PerNeuron, E> {
                self.visit_f64(v as f64)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<PerNeuron, A::Error> {
                use serde::de::Error;
                let table =
                    toml::Table::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let value = toml::Value::Table(table);
                if value.get("file").is_some() {
                    FileTable::deserialize(value)
                        .map(|t| PerNeuron::File { file: t.file })
                        .map_err(A::Error::custom)
                } else {
                    Distribution::deserialize(value)
                        .map(PerNeuron::Drawn)
                        .map_err(A::Error::custom)
                }
            }
        }
        d.deserialize_any(Visit)
    }
}

/// A parameter's values over a layer's neurons ([`PerNeuron::resolve`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Every neuron has this value.
    Same(f64),
    /// Neuron `i` has element `i`.
    Each(Vec<f64>),
}

impl Values {
    /// Neuron `i`'s value.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match self {
            Values::Same(v) => *v,
            Values::Each(v) => v[i],
        }
    }

    /// The value of every neuron, if they are all alike.
    pub fn same(&self) -> Option<f64> {
        match self {
            Values::Same(v) => Some(*v),
            Values::Each(_) => None,
        }
    }
}

/// Where a layer's parameters are resolved: its keys, size, position in
/// the config, and the run's seed.
pub struct LayerDraw<'a> {
    /// `key(field)` is the dotted key of the layer's field.
    pub key: &'a dyn Fn(&str) -> String,
    /// Number of neurons.
    pub size: usize,
    /// Position of the layer in the config.
    pub layer: usize,
    /// The run's seed.
    pub seed: u64,
}

impl PerNeuron {
    /// The value of every neuron, when it is one number (a number or a
    /// `constant` distribution); `None` for values per neuron.
    pub fn same(&self) -> Option<f64> {
        match *self {
            PerNeuron::Same(v) | PerNeuron::Drawn(Distribution::Constant { value: v }) => Some(v),
            _ => None,
        }
    }

    /// Checks what can be checked without drawing or reading: a number is
    /// finite, a distribution's parameters are valid ([`Distribution::validate`]).
    pub fn validate(&self, key: &str) -> Result<(), ConfigError> {
        match self {
            PerNeuron::Same(v) => finite(key, *v),
            PerNeuron::Drawn(d) => d.validate(key),
            PerNeuron::File { .. } => Ok(()),
        }
    }

    /// The values of parameter `name` over the layer `at`: drawn per
    /// neuron (type documentation) or read from the file, which must hold
    /// one finite number per neuron; an error names the key and the file.
    pub fn resolve(&self, name: &str, at: &LayerDraw) -> Result<Values, ConfigError> {
        if let Some(v) = self.same() {
            return Ok(Values::Same(v));
        }
        match self {
            PerNeuron::Drawn(d) => {
                let base = crate::rng::neuron_param(at.seed, at.layer as u64, name);
                Ok(Values::Each(
                    (0..at.size as u64)
                        .map(|i| d.sample(&mut crate::rng::stream(base, 0, i, 0)))
                        .collect(),
                ))
            }
            PerNeuron::File { file } => {
                let fail = |why: String| {
                    ConfigError(format!("{}: {}: {why}", (at.key)(name), file.display()))
                };
                let values = read_values(file).map_err(fail)?;
                if values.len() != at.size {
                    return Err(fail(format!(
                        "{} values for a layer of {} neurons; one value per neuron is needed",
                        values.len(),
                        at.size
                    )));
                }
                if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(fail(format!("value {i} is {v}; allowed: finite numbers")));
                }
                Ok(Values::Each(values))
            }
            PerNeuron::Same(_) => unreachable!("handled by same()"),
        }
    }
}

/// [`layer_number`] of an optional key.
pub fn layer_number_some<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    layer_number(d).map(Some)
}

/// Checks each of a layer's parameters `(name, value)` ([`PerNeuron::validate`],
/// `key(name)` naming it) and returns their numbers when every one is the
/// same for all neurons, for the checks that compare them.
pub fn validate_all<const N: usize>(
    params: [(&str, &PerNeuron); N],
    key: &dyn Fn(&str) -> String,
) -> Result<Option<[f64; N]>, ConfigError> {
    for (name, p) in params {
        p.validate(&key(name))?;
    }
    let same = params.map(|(_, p)| p.same());
    Ok(same
        .iter()
        .all(Option::is_some)
        .then(|| same.map(|v| v.expect("all some"))))
}

/// [`PerNeuron::resolve`] of each of a layer's parameters `(name, value)`.
pub fn resolve_all<const N: usize>(
    params: [(&str, &PerNeuron); N],
    at: &LayerDraw,
) -> Result<[Values; N], ConfigError> {
    let mut out = Vec::with_capacity(N);
    for (name, p) in params {
        out.push(p.resolve(name, at)?);
    }
    Ok(out.try_into().expect("N values"))
}

/// The numbers of a file: a `.npy` array ([`read_npy`]), else text with
/// one number per line (blank lines and `#` comments skipped).
fn read_values(path: &std::path::Path) -> Result<Vec<f64>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if path.extension().is_some_and(|e| e == "npy") {
        return read_npy(&bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
    text.lines()
        .enumerate()
        .map(|(n, l)| (n, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(n, l)| {
            l.parse::<f64>()
                .map_err(|_| format!("line {}: '{l}' is not a number", n + 1))
        })
        .collect()
}

/// The elements of a `.npy` file (NumPy's format 1.0–3.0) holding a 1-D,
/// little-endian array of `<f8` or `<f4`.
fn read_npy(bytes: &[u8]) -> Result<Vec<f64>, String> {
    let bad = |why: &str| Err(format!("not a 1-D .npy array of <f8 or <f4: {why}"));
    let Some(rest) = bytes.strip_prefix(b"\x93NUMPY") else {
        return bad("no .npy magic");
    };
    let (len, start) = match rest.first() {
        Some(1) if rest.len() >= 4 => (usize::from(u16::from_le_bytes([rest[2], rest[3]])), 10),
        Some(2 | 3) if rest.len() >= 6 => (
            u32::from_le_bytes([rest[2], rest[3], rest[4], rest[5]]) as usize,
            12,
        ),
        _ => return bad("unknown version"),
    };
    let Some(header) = bytes.get(start..start + len) else {
        return bad("short header");
    };
    let header: String = String::from_utf8_lossy(header)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let width = if header.contains("'descr':'<f8'") {
        8
    } else if header.contains("'descr':'<f4'") {
        4
    } else {
        return bad("its dtype");
    };
    if !header.contains("'fortran_order':False") {
        return bad("Fortran order");
    }
    let count = header
        .split("'shape':(")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.strip_suffix(',').unwrap_or(s).parse::<usize>().ok());
    let Some(count) = count else {
        return bad("its shape");
    };
    let data = &bytes[start + len..];
    if data.len() != count * width {
        return bad("its length");
    }
    Ok(data
        .chunks_exact(width)
        .map(|c| match width {
            8 => f64::from_le_bytes(c.try_into().expect("8 bytes")),
            _ => f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))),
        })
        .collect())
}

/// Deserializes a number (a key whose value is one number for the whole
/// layer), refusing a table with a message that says so.
pub fn layer_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    struct Visit;
    impl serde::de::Visitor<'_> for Visit {
        type Value = f64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a number (this key is one value for the whole layer: it takes no distribution or file)")
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
    d.deserialize_any(Visit)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and variance of `count` draws of `d` from one stream.
    fn moments(d: &Distribution, count: usize) -> (f64, f64) {
        let mut rng = crate::rng::stream(21, 0, 0, 0);
        let xs: Vec<f64> = (0..count).map(|_| d.sample(&mut rng)).collect();
        let mean = xs.iter().sum::<f64>() / count as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count as f64;
        (mean, var)
    }

    /// The standard normal density.
    fn phi(x: f64) -> f64 {
        (-x * x / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt()
    }

    /// A `.npy` file (format 1.0) with header dict `dict` and `data`.
    fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_owned();
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((header.len() as u16).to_le_bytes());
        b.extend(header.as_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn npy_arrays_of_f8_and_f4_are_read_and_others_refused() {
        let f8: Vec<u8> = [1.5f64, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f4: Vec<u8> = [1.5f32, -2.25]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let dict = |d: &str, shape: &str| {
            format!("{{'descr': '{d}', 'fortran_order': False, 'shape': {shape}, }}")
        };
        assert_eq!(
            read_npy(&npy(&dict("<f8", "(2,)"), &f8)),
            Ok(vec![1.5, -2.25])
        );
        assert_eq!(
            read_npy(&npy(&dict("<f4", "(2,)"), &f4)),
            Ok(vec![1.5, -2.25])
        );
        for (bytes, why) in [
            (npy(&dict("<i8", "(2,)"), &f8), "its dtype"),
            (npy(&dict("<f8", "(2, 1)"), &f8), "its shape"),
            (npy(&dict("<f8", "(3,)"), &f8), "its length"),
            (b"not numpy".to_vec(), "no .npy magic"),
        ] {
            assert_eq!(
                read_npy(&bytes),
                Err(format!("not a 1-D .npy array of <f8 or <f4: {why}"))
            );
        }
    }

    #[test]
    fn normal_tail_matches_tables() {
        // Q(x) to 7 digits from a table of the normal distribution.
        for (x, q) in [
            (0.0, 0.5),
            (1.0, 0.158_655_25),
            (-1.0, 0.841_344_75),
            (3.0, 0.001_349_898),
            (6.0, 9.865_876e-10),
        ] {
            assert!(
                (normal_tail(x) - q).abs() <= 2e-7 * q,
                "Q({x}) = {}",
                normal_tail(x)
            );
        }
    }

    #[test]
    fn truncated_normal_has_the_truncated_moments() {
        // A normal (mean m, sd s) kept on [a, b] (standardized α, β, mass
        // Z = Φ(β) − Φ(α)) has mean m + s·(φ(α) − φ(β))/Z and variance
        // s²·(1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²) (φ(±∞) = 0).
        // 200 000 draws: standard error of the mean sd/447, of the variance
        // var·sqrt((2 + excess kurtosis)/n) <= var·sqrt(5/n) = var/200
        // (a truncated normal's excess kurtosis is under 3); bounds 5 se.
        let n = 200_000;
        for (mean, std, min, max) in [
            (0.0, 1.0, Some(0.5), None),
            (1.0, 2.0, Some(-1.0), Some(2.0)),
            (87.81, 8.781, Some(0.0), None),
            (-3.0, 1.5, None, Some(-4.0)),
        ] {
            let d = Distribution::Normal {
                mean,
                std,
                min,
                max,
            };
            d.validate("w").unwrap();
            let alpha = min.map_or(f64::NEG_INFINITY, |a| (a - mean) / std);
            let beta = max.map_or(f64::INFINITY, |b| (b - mean) / std);
            let z = normal_tail(alpha) - normal_tail(beta);
            assert!((d.window_mass() - z).abs() < 1e-12, "{d:?}");
            let (pa, pb) = (phi(alpha), phi(beta));
            let xphi = |x: f64, p: f64| if x.is_finite() { x * p } else { 0.0 };
            let lambda = (pa - pb) / z;
            let expect_mean = mean + std * lambda;
            let expect_var =
                std * std * (1.0 + (xphi(alpha, pa) - xphi(beta, pb)) / z - lambda * lambda);
            let (got_mean, got_var) = moments(&d, n);
            let sd = expect_var.sqrt();
            assert!(
                (got_mean - expect_mean).abs() < 5.0 * sd / 447.0,
                "{d:?}: mean {got_mean} vs {expect_mean}"
            );
            assert!(
                (got_var - expect_var).abs() < 5.0 * expect_var / 200.0,
                "{d:?}: var {got_var} vs {expect_var}"
            );
        }
    }

    #[test]
    fn lognormal_has_its_moments() {
        // exp(N(μ, σ²)): mean exp(μ + σ²/2), variance (e^{σ²} − 1)e^{2μ+σ²}.
        // μ = 0.5, σ = 0.4: mean 1.786, variance 0.5535, excess kurtosis
        // e^{4σ²} + 2e^{3σ²} + 3e^{2σ²} − 6 = 3.26. 200 000 draws: se of the
        // mean sd/447, of the variance var·sqrt(5.26/n) = var/195; 5 se.
        let (mu, sigma) = (0.5f64, 0.4f64);
        let d = Distribution::Lognormal {
            mu,
            sigma,
            min: None,
            max: None,
        };
        let mean = (mu + sigma * sigma / 2.0).exp();
        let var = ((sigma * sigma).exp() - 1.0) * (2.0 * mu + sigma * sigma).exp();
        let (got_mean, got_var) = moments(&d, 200_000);
        assert!(
            (got_mean - mean).abs() < 5.0 * var.sqrt() / 447.0,
            "{got_mean} vs {mean}"
        );
        assert!(
            (got_var - var).abs() < 5.0 * var / 195.0,
            "{got_var} vs {var}"
        );
        // Bounded to [1, 2]: every draw inside; the window holds
        // Φ((ln 2 − μ)/σ) − Φ((0 − μ)/σ) = Φ(0.483) − Φ(−1.25) = 0.6854 − 0.1056 = 0.5798.
        let d = Distribution::Lognormal {
            mu,
            sigma,
            min: Some(1.0),
            max: Some(2.0),
        };
        let mut rng = crate::rng::stream(22, 0, 0, 0);
        assert!((0..10_000).all(|_| (1.0..=2.0).contains(&d.sample(&mut rng))));
        let z = normal_tail(-mu / sigma) - normal_tail((2f64.ln() - mu) / sigma);
        assert!(
            (d.window_mass() - z).abs() < 1e-12 && (z - 0.5798).abs() < 1e-3,
            "{z}"
        );
    }

    #[test]
    fn windows_too_small_to_draw_from_are_refused() {
        let normal = |min, max| Distribution::Normal {
            mean: 0.0,
            std: 1.0,
            min,
            max,
        };
        // Q(4) = 3.2·10^-5 is enough, Q(6) = 9.9·10^-10 is not.
        assert!(normal(Some(4.0), None).validate("w").is_ok());
        let e = normal(Some(6.0), None).validate("w").unwrap_err().0;
        assert!(
            e.starts_with("w.min: the window [6, none] holds a probability of 9.9e-10"),
            "{e}"
        );
        let e = normal(None, Some(-6.0)).validate("w").unwrap_err().0;
        assert!(e.starts_with("w.max: "), "{e}");
        // A window of width 10^-7 at the mode: φ(0)·10^-7 = 4·10^-8.
        assert!(normal(Some(0.0), Some(1e-7)).validate("w").is_err());
        let e = normal(Some(1.0), Some(0.0)).validate("w").unwrap_err().0;
        assert_eq!(e, "w.max: must be >= min (1), got 0");
        // Zero spread: the point is inside the window or not.
        let point = |min| Distribution::Normal {
            mean: 2.0,
            std: 0.0,
            min,
            max: None,
        };
        assert!(point(Some(2.0)).validate("w").is_ok());
        assert!(point(Some(2.5)).validate("w").is_err());
        // Lognormal draws are positive: max <= 0 holds nothing.
        let d = Distribution::Lognormal {
            mu: 0.0,
            sigma: 1.0,
            min: None,
            max: Some(0.0),
        };
        assert!(d.validate("w").unwrap_err().0.starts_with("w.max: "));
    }
}
