//! The run configuration: a TOML file, overridden by `--set key=value` flags.
//!
//! Every field documents its default, unit and meaning. Unknown keys are
//! rejected. Errors name the key (as a dotted path such as
//! `layers.hidden.tau_v_ms`) and what is allowed, on one line.
//!
//! ```toml
//! [simulation]
//! dt_ms = 1.0
//! seed = 42
//!
//! [layers.input]
//! kind = "encoder"
//! size = 784
//!
//! [layers.hidden]
//! kind = "lif"
//! size = 100
//! current = "continuous"
//! threshold.global = { eta = 0.01, target = 1.0 }
//!
//! [projections.input_hidden]
//! pre = "input"
//! post = "hidden"
//! weights = { kind = "uniform", low = 0.0, high = 0.1 }
//!
//! [stimulus]
//! layer = "input"
//! dataset = "auto"
//! images = 20
//! steps_per_image = 250
//! ```

use serde::{Deserialize, Serialize};
use std::path::Path;

mod generator;
mod layer;
mod matrix;
mod poisson_input;
mod projection;
mod protocol;
mod record;
mod scale;
mod simulation;
mod stimulus;
pub use generator::*;
pub use layer::*;
pub use poisson_input::*;
pub use projection::*;
pub use protocol::*;
pub use record::*;
pub use scale::*;
pub use simulation::*;
pub use stimulus::*;

pub use crate::neuron::NeuronConfig;
pub use crate::param::{ConfigError, Distribution, Map, StepCurrent};
use crate::param::{deserialize_at, err, one_line};
use crate::record::schema;

/// How the run-length errors spell `u64::MAX`, the most steps a run can have.
pub(crate) const MAX_STEPS: &str = "2^64 - 1 (18446744073709551615)";

/// The whole run description.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Time step, seed, threads, length.
    #[serde(default)]
    pub simulation: SimulationConfig,
    /// Layers by name, in file order.
    pub layers: Map<LayerConfig>,
    /// Projections (synapse groups) by name, in file order.
    #[serde(default)]
    pub projections: Map<ProjectionConfig>,
    /// External Poisson drive of neuron layers, by name, in file order.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub poisson_inputs: Map<PoissonInputConfig>,
    /// Current generators by name, in file order (the order their currents
    /// are added in).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub generators: Map<GeneratorConfig>,
    /// Images presented to an encoder layer; absent for runs without input images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stimulus: Option<StimulusConfig>,
    /// Train, assign labels, evaluate; absent for runs without learning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolConfig>,
    /// What goes into the output file.
    #[serde(default)]
    pub record: RecordConfig,
    /// Run at a fraction of the size written (applied when the config is
    /// read; see [`ScaleConfig`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleConfig>,
    /// The `scale` this config was resolved with; for the record only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaled: Option<ScaleConfig>,
}

impl Config {
    /// Reads a config file, applies `key=value` overrides, and validates it.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config {}: {e}", path.display())))?;
        Config::from_toml(&text, overrides)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses TOML text, applies `key=value` overrides, and validates.
    pub fn from_toml(text: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| parse_error(text, &e))?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        matrix::expand(&mut table)?;
        check_layer_fields(&table)?;
        generator::check_fields(&table)?;
        let mut config: Config = deserialize_at(toml::Value::Table(table), "")?;
        if config.scale.is_some() {
            // Checked at full scale first, so that scaling reads valid values.
            config.validate()?;
            ScaleConfig::apply(&mut config)?;
        }
        config.validate()?;
        Ok(config)
    }

    /// The resolved config as TOML (defaults filled in), as stored in the output file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a validated config serializes")
    }

    /// Number of steps to simulate.
    ///
    /// # Panics
    /// If the length derived from the stimulus or protocol is more than
    /// `u64::MAX` steps, which [`Config::validate`] rejects.
    pub fn steps(&self) -> u64 {
        self.checked_steps()
            .expect("validated: the run's length fits in u64")
    }

    /// Number of steps to simulate, or `None` where the length derived
    /// from the stimulus or protocol is more than `u64::MAX` steps.
    pub fn checked_steps(&self) -> Option<u64> {
        match (&self.simulation.steps, &self.stimulus, &self.protocol) {
            (Some(n), _, _) => Some(*n),
            (None, Some(s), _) => s.checked_steps(),
            (None, None, Some(p)) => p.checked_steps(),
            (None, None, None) => Some(0),
        }
    }

    /// Checks ranges and cross-references; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sim = &self.simulation;
        sim.validate()?;
        let dt = sim.dt_ms;
        if let Some(p) = &self.protocol {
            p.validate(self)?;
        }
        if self.simulation.steps.is_none() && self.stimulus.is_none() && self.protocol.is_none() {
            return err(
                "simulation.steps: required when there is no [stimulus] (a number of steps >= 1)",
            );
        }
        if self.layers.is_empty() {
            return err(
                "layers: at least one layer is required ([layers.<name>] with a kind: encoder or a neuron model)",
            );
        }
        for (name, layer) in &self.layers {
            check_name("layers", "layer", name)?;
            let key = |f: &str| format!("layers.{name}.{f}");
            if layer.size() == 0 {
                return err(format!("{}: required, an integer >= 1", key("size")));
            }
            if layer.size() > MAX_LAYER_SIZE {
                return err(format!(
                    "{}: at most {MAX_LAYER_SIZE} neurons (neuron indices are 32-bit), got {}",
                    key("size"),
                    layer.size()
                ));
            }
            match layer {
                LayerConfig::Encoder(e) => e.validate(&key, dt)?,
                LayerConfig::Poisson(p) => p.validate(&key, dt)?,
                LayerConfig::SpikeFile(f) => f.validate(&key)?,
                LayerConfig::Neuron(n) => n.layer().validate(&key, dt)?,
            }
            if self.protocol.is_some()
                && matches!(layer, LayerConfig::Poisson(_) | LayerConfig::SpikeFile(_))
            {
                return err(format!(
                    "{}: a {} layer is not allowed in a [protocol] run (its images run on copies of the network, each with its own clock and streams, so its spikes would depend on the thread count); use a [stimulus]",
                    key("kind"),
                    layer.kind()
                ));
            }
        }
        for (name, p) in &self.projections {
            check_name("projections", "projection", name)?;
            p.validate(self, &|f: &str| format!("projections.{name}.{f}"))?;
        }
        for (name, p) in &self.poisson_inputs {
            check_name("poisson_inputs", "Poisson input", name)?;
            p.validate(self, &|f: &str| format!("poisson_inputs.{name}.{f}"))?;
        }
        for (name, g) in &self.generators {
            g.validate(self, &|f: &str| format!("generators.{name}.{f}"))?;
        }
        if let Some(s) = &self.stimulus {
            s.validate(self)?;
        }
        self.record.validate(self)?;
        Ok(())
    }

    /// The layer called `name`, or an error naming `key` and the known layers.
    pub(crate) fn layer(&self, name: &str, key: &str) -> Result<&LayerConfig, ConfigError> {
        self.layers.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.layers.keys().map(String::as_str).collect();
            ConfigError(format!(
                "{key}: unknown layer '{name}'; layers are: {}",
                known.join(", ")
            ))
        })
    }
}

/// The most neurons a layer may have: neuron indices are `u32`.
pub const MAX_LAYER_SIZE: usize = u32::MAX as usize;

/// `name` (of a table under `section`) is one HDF5 path component, as the
/// output file and checkpoints need ([`schema::check_name`]); else an error
/// naming the key as TOML writes it, `section."name"`.
fn check_name(section: &str, what: &str, name: &str) -> Result<(), ConfigError> {
    schema::check_name(name).map_err(|why| {
        ConfigError(format!(
            "{section}.{}: {why}; {what} names are HDF5 group names ({})",
            toml::Value::String(name.to_owned()),
            schema::NAME_RULE
        ))
    })
}

/// Checks each layer's fields against its kind before the whole config is
/// read: serde reads a tagged enum through a buffer that loses the key path,
/// so without this pass an error would name only `layers.<name>`.
fn check_layer_fields(table: &toml::Table) -> Result<(), ConfigError> {
    let Some(toml::Value::Table(layers)) = table.get("layers") else {
        return Ok(());
    };
    for (name, layer) in layers {
        let toml::Value::Table(fields) = layer else {
            continue;
        };
        let mut fields = fields.clone();
        let kind = fields.remove("kind");
        let fields = toml::Value::Table(fields);
        let prefix = format!("layers.{name}");
        let allowed = || {
            let kinds = SOURCE_KINDS.iter().chain(NeuronConfig::KINDS);
            kinds.copied().collect::<Vec<_>>().join(", ")
        };
        match kind.as_ref().map(|k| (k, k.as_str())) {
            Some((_, Some("encoder"))) => {
                deserialize_at::<EncoderConfig>(fields, &prefix)?;
            }
            Some((_, Some("poisson"))) => {
                deserialize_at::<PoissonConfig>(fields, &prefix)?;
            }
            Some((_, Some("spike_file"))) => {
                deserialize_at::<SpikeFileConfig>(fields, &prefix)?;
            }
            Some((_, Some(k))) => match NeuronConfig::check_fields(k, fields, &prefix) {
                Some(checked) => checked?,
                None => {
                    return err(format!(
                        "{prefix}.kind: unknown kind '{k}'; allowed: {}",
                        allowed()
                    ));
                }
            },
            Some((k, None)) => {
                return err(format!(
                    "{prefix}.kind: expected a string, got {k}; allowed: {}",
                    allowed()
                ));
            }
            None => {
                return err(format!("{prefix}.kind: required; allowed: {}", allowed()));
            }
        }
    }
    Ok(())
}

/// Applies `a.b.c=value` to the table. The value is parsed as TOML
/// (`3`, `0.5`, `true`, `"x"`, `[1, 2]`, `{ kind = "dense" }`); anything that
/// does not parse is taken as a bare string, so `--set stimulus.dataset=synthetic` works.
fn apply_override(table: &mut toml::Table, o: &str) -> Result<(), ConfigError> {
    let Some((key, raw)) = o.split_once('=') else {
        return err(format!(
            "--set {o}: expected key=value, e.g. --set layers.hidden.size=400"
        ));
    };
    let key = key.trim();
    let raw = raw.trim();
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return err(format!("--set {o}: malformed key '{key}'"));
    }
    let value = match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) if out_of_range_integer(raw) => return Err(out_of_range(key, raw)),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let mut cur = table;
    for (i, part) in parts[..parts.len() - 1].iter().enumerate() {
        let entry = cur
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return err(format!(
                    "--set {o}: '{}' is not a table",
                    parts[..=i].join(".")
                ));
            }
        };
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// The error for the integer `raw` of `key` that TOML cannot hold (outside
/// the i64 range): the seed's own range for [`SEED_KEY`]
/// ([`seed_out_of_range`]), the range of config integers otherwise.
fn out_of_range(key: &str, raw: &str) -> ConfigError {
    if key == SEED_KEY {
        return seed_out_of_range(raw);
    }
    let allowed = if raw.starts_with('-') {
        format!("config integers are at least {}", i64::MIN)
    } else {
        format!("config integers are at most {} (2^63 - 1)", i64::MAX)
    };
    ConfigError(format!("{key}: {raw} is out of range; {allowed}"))
}

/// The error of a config file that is not valid TOML: for an integer past
/// the i64 range, the [`out_of_range`] error of its key ([`key_at`]);
/// otherwise the parser's message with its line.
fn parse_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let Some(span) = e.span() else {
        return ConfigError(one_line(e.message()));
    };
    let raw = text[span.clone()].trim();
    if out_of_range_integer(raw)
        && let Some(key) = key_at(text, span.clone())
    {
        return out_of_range(&key, raw);
    }
    let line = text[..span.start].matches('\n').count() + 1;
    ConfigError(format!("line {line}: {}", one_line(e.message())))
}

/// The dotted key (`a.b`, `a[0].b` for arrays) of the value at `span` of
/// `text`: `text` with a marker string in place of that value is parsed and
/// the marker looked for. `None` where that text does not parse either.
fn key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    const MARKER: &str = "\u{1}out of range\u{1}";
    let patched = format!(
        "{}{}{}",
        &text[..span.start],
        toml::Value::String(MARKER.to_owned()),
        &text[span.end..]
    );
    let table: toml::Table = patched.parse().ok()?;
    path_of(&toml::Value::Table(table), MARKER, String::new())
}

/// The path below `prefix` of the string `marker` in `value`, if it is there.
fn path_of(value: &toml::Value, marker: &str, prefix: String) -> Option<String> {
    match value {
        toml::Value::String(s) if s == marker => Some(prefix),
        toml::Value::Table(t) => t.iter().find_map(|(k, v)| {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            path_of(v, marker, key)
        }),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| path_of(v, marker, format!("{prefix}[{i}]"))),
        _ => None,
    }
}

/// Whether `raw` is a decimal integer that TOML cannot hold (outside the
/// i64 range), such as `--seed 9223372036854775808`: it would otherwise be
/// taken as a string and blamed as the wrong type.
fn out_of_range_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw).replace('_', "");
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && raw.replace('_', "").parse::<i64>().is_err()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::synaptic::CurrentModel;

    const MINIMAL: &str = r#"
        [simulation]
        steps = 10
        [layers.a]
        kind = "lif"
        size = 3
    "#;

    fn load(text: &str, sets: &[&str]) -> Result<Config, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Config::from_toml(text, &sets)
    }

    #[test]
    fn defaults_are_filled() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.simulation.dt_ms, 1.0);
        let LayerConfig::Neuron(NeuronConfig::Lif(l)) = &c.layers["a"] else {
            panic!("lif expected")
        };
        assert_eq!(l.tau_v_ms, 20.0.into());
        assert_eq!(l.current, CurrentModel::Continuous);
        assert_eq!(c.steps(), 10);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = load(&format!("{MINIMAL}\ntau_vv_ms = 3"), &[]).unwrap_err();
        assert!(e.0.contains("layers.a") && e.0.contains("tau_vv_ms"), "{e}");
        assert!(!e.0.contains('\n'));
    }

    #[test]
    fn unknown_or_missing_kind_lists_the_kinds() {
        let e = load(&MINIMAL.replace("\"lif\"", "\"lfi\""), &[]).unwrap_err();
        let kinds = NeuronConfig::KINDS.join(", ");
        assert_eq!(
            e.0,
            format!(
                "layers.a.kind: unknown kind 'lfi'; allowed: encoder, poisson, spike_file, {kinds}"
            )
        );
        let e = load(&MINIMAL.replace("kind = \"lif\"", ""), &[]).unwrap_err();
        assert_eq!(
            e.0,
            format!("layers.a.kind: required; allowed: encoder, poisson, spike_file, {kinds}")
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let e = load(MINIMAL, &["layers.a.size=\"big\""]).unwrap_err();
        assert!(e.0.starts_with("layers.a.size:"), "{e}");
    }

    #[test]
    fn negative_size_is_rejected() {
        let e = load(MINIMAL, &["layers.a.size=-5"]).unwrap_err();
        assert!(e.0.starts_with("layers.a.size:"), "{e}");
    }

    #[test]
    fn override_sets_nested_values() {
        let c = load(MINIMAL, &["layers.a.size=7", "simulation.dt_ms=0.5"]).unwrap();
        assert_eq!(c.layers["a"].size(), 7);
        assert_eq!(c.simulation.dt_ms, 0.5);
    }

    #[test]
    fn bad_ranges_are_rejected() {
        for (set, key) in [
            ("simulation.dt_ms=0", "simulation.dt_ms"),
            ("layers.a.tau_v_ms=-1", "layers.a.tau_v_ms"),
            // 70,000 steps of 1 ms: more than a u16 countdown holds.
            ("layers.a.t_ref_ms=70000", "layers.a.t_ref_ms"),
            (
                "layers.a.threshold.individual.tau_theta_ms=0.1",
                "tau_theta_ms",
            ),
        ] {
            let e = load(MINIMAL, &[set]).unwrap_err();
            assert!(e.0.contains(key), "{set}: {e}");
        }
        // A spike lockout shorter than the voltage hold.
        let e = load(
            MINIMAL,
            &["layers.a.t_ref_ms=2", "layers.a.t_ref_spike_ms=1"],
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("layers.a.t_ref_spike_ms:") && e.0.contains(">= t_ref_ms (2)"),
            "{e}"
        );
    }

    #[test]
    fn projection_to_unknown_layer_is_named() {
        let text = format!(
            "{MINIMAL}\n[projections.p]\npre = \"nowhere\"\npost = \"a\"\nweights = {{ kind = \"constant\", value = 1.0 }}\n"
        );
        let e = load(&text, &[]).unwrap_err();
        assert!(
            e.0.contains("projections.p.pre") && e.0.contains("nowhere"),
            "{e}"
        );
        let text = text.replace("nowhere", "a");
        let e = load(
            &text,
            &["projections.p.connectivity={ kind = \"bernoulli\", p = 1.5 }"],
        )
        .unwrap_err();
        assert!(e.0.contains("projections.p.connectivity.p"), "{e}");
    }

    #[test]
    fn integers_past_i64_are_out_of_range_not_strings() {
        assert!(out_of_range_integer("9223372036854775808"));
        assert!(out_of_range_integer("-9223372036854775809"));
        assert!(out_of_range_integer("18_446_744_073_709_551_615"));
        assert!(!out_of_range_integer("9223372036854775807"));
        assert!(!out_of_range_integer("007"));
        assert!(!out_of_range_integer("synthetic"));
        assert!(!out_of_range_integer("-"));
        let e = load(MINIMAL, &["layers.a.size=-9223372036854775809"]).unwrap_err();
        assert_eq!(
            e.0,
            "layers.a.size: -9223372036854775809 is out of range; config integers are at least -9223372036854775808"
        );
        let e = load(MINIMAL, &["simulation.seed=-9223372036854775809"]).unwrap_err();
        assert_eq!(
            e.0,
            "simulation.seed: -9223372036854775809 is out of range; seeds are 0 to 9223372036854775807 (2^63 - 1)"
        );
        // A bare word is still a string (and blamed as the wrong type here).
        let e = load(MINIMAL, &["simulation.seed=lots"]).unwrap_err();
        assert!(e.0.contains("invalid type: string \"lots\""), "{e}");
    }

    #[test]
    fn integers_past_i64_in_the_file_name_their_key() {
        // The TOML parser itself rejects them, with its own message and a
        // line number only; the key is found by parsing again without them.
        let e = load(
            &MINIMAL.replace("steps = 10", "seed = 9223372036854775808"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.0,
            "simulation.seed: 9223372036854775808 is out of range; seeds are 0 to 9223372036854775807 (2^63 - 1)"
        );
        let text = format!(
            "{MINIMAL}[[record.traces]]\nlayer = \"a\"\nvars = [\"voltage\"]\nevery = 18_446_744_073_709_551_616\n"
        );
        assert_eq!(
            load(&text, &[]).unwrap_err().0,
            "record.traces[0].every: 18_446_744_073_709_551_616 is out of range; config integers are at most 9223372036854775807 (2^63 - 1)"
        );
        // Other syntax errors keep the parser's message and its line.
        let e = load(&MINIMAL.replace("steps = 10", "steps = = 10"), &[]).unwrap_err();
        assert!(e.0.starts_with("line 3: "), "{e}");
    }

    #[test]
    fn names_are_checked_by_the_layout_rule() {
        let e = load(&MINIMAL.replace("[layers.a]", "[layers.\"..\"]"), &[]).unwrap_err();
        assert_eq!(
            e.0,
            format!(
                "layers.\"..\": name \"..\" is not allowed; layer names are HDF5 group names ({})",
                schema::NAME_RULE
            )
        );
    }

    #[test]
    fn resolved_config_round_trips() {
        let c = load(MINIMAL, &[]).unwrap();
        let again = load(&c.to_toml(), &[]).unwrap();
        assert_eq!(c.to_toml(), again.to_toml());
    }
}
