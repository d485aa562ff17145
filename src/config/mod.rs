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
use std::path::{Path, PathBuf};

mod protocol;
mod record;
pub use protocol::*;
pub use record::*;

pub use crate::neuron::NeuronConfig;
pub use crate::param::{ConfigError, Distribution, Map, StepCurrent};
use crate::param::{deserialize_at, err, non_negative, one_line, positive, probability};

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
    /// Images presented to an encoder layer; absent for runs without input images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stimulus: Option<StimulusConfig>,
    /// Train, assign labels, evaluate; absent for runs without learning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolConfig>,
    /// What goes into the output file.
    #[serde(default)]
    pub record: RecordConfig,
}

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

    /// The neuron model's view of the layer; `None` for an encoder layer.
    pub fn neuron(&self) -> Option<&dyn crate::neuron::LayerModel> {
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

///
/// `[projections.<name>]`: a synapse group from `pre` to `post`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Presynaptic layer name (any kind).
    pub pre: String,
    /// Postsynaptic layer name (a LIF layer).
    pub post: String,
    /// Delay in steps (default 1, >= 1).
    #[serde(default = "default_delay")]
    pub delay: u32,
    /// Which synaptic current of the post layer receives the input
    /// (required when it has several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Which pairs are connected (default `{ kind = "dense" }`).
    #[serde(default)]
    pub connectivity: Connectivity,
    /// Initial weights (required). Negative weights are inhibitory.
    pub weights: Distribution,
    /// Trace STDP on this projection (default none: fixed weights); dense
    /// connectivity only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdp: Option<StdpConfig>,
}

/// `[projections.<name>.stdp]`: trace STDP (see [`crate::synapse::stdp`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdpConfig {
    /// Presynaptic trace time constant in ms (default 20.0, > 0).
    pub tau_pre_ms: f64,
    /// Postsynaptic trace time constant in ms (default 20.0, > 0).
    pub tau_post_ms: f64,
    /// Potentiation rate on postsynaptic spikes (default 0.01, >= 0).
    pub a_plus: f64,
    /// Depression rate on presynaptic spikes (default 0.0001, >= 0).
    pub a_minus: f64,
    /// Upper weight bound (default 1.0, > 0); the lower bound is 0.
    pub w_max: f64,
    /// Weight-dependent bounds: changes scaled by `w_max − W` (potentiation)
    /// and `W` (depression) (default false).
    pub soft_bounds: bool,
    /// Sum of each postsynaptic neuron's incoming weights, restored before
    /// training and after every training sample (default none: no
    /// normalization; > 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<f64>,
    /// Time constant of a second, slow postsynaptic trace that scales
    /// potentiation (the triplet form; default none: pairwise; > 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tau_post2_ms: Option<f64>,
    /// How a spike updates its traces: `add` 1 (default) or `set` to 1.
    pub traces: TraceUpdate,
}

/// How a spike updates its STDP traces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceUpdate {
    /// `x ← x + 1`: every spike counts.
    #[default]
    Add,
    /// `x ← 1`: only the nearest spike counts.
    Set,
}

impl Default for StdpConfig {
    fn default() -> Self {
        Self {
            tau_pre_ms: 20.0,
            tau_post_ms: 20.0,
            a_plus: 0.01,
            a_minus: 0.0001,
            w_max: 1.0,
            soft_bounds: false,
            normalize: None,
            tau_post2_ms: None,
            traces: TraceUpdate::Add,
        }
    }
}

fn default_delay() -> u32 {
    1
}

/// Connectivity rule of a projection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Connectivity {
    /// Every presynaptic neuron to every postsynaptic neuron.
    #[default]
    Dense,
    /// `j -> j`; pre and post must have the same size.
    OneToOne,
    /// `j -> i` for all `i != j`; pre and post must have the same size.
    AllButSelf,
    /// Each postsynaptic neuron draws `k` distinct presynaptic neurons.
    FixedIndegree {
        /// In-degree, `1 <= k <= pre size`.
        k: usize,
    },
    /// Each pair is connected with probability `p` in [0, 1].
    Bernoulli {
        /// Connection probability.
        p: f64,
    },
}

impl Connectivity {
    /// The rule's `kind` as written in a config.
    pub fn name(&self) -> &'static str {
        match self {
            Connectivity::Dense => "dense",
            Connectivity::OneToOne => "one_to_one",
            Connectivity::AllButSelf => "all_but_self",
            Connectivity::FixedIndegree { .. } => "fixed_indegree",
            Connectivity::Bernoulli { .. } => "bernoulli",
        }
    }
}

/// Where stimulus images come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// MNIST-format IDX files in `path` (MNIST, Fashion-MNIST, digits8x8).
    Idx,
    /// The built-in synthetic digits (28x28, no download).
    Synthetic,
    /// Sparse random 28x28 images (19% of pixels lit, intensity U(0, 1]):
    /// the benchmark peers' W1 input.
    SparseRandom,
    /// IDX files in `path` if present, else the synthetic digits (with a note).
    Auto,
}

/// `[stimulus]`: images shown to an encoder layer, one after another.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StimulusConfig {
    /// Encoder layer that receives the images (its size must equal the pixels per image).
    pub layer: String,
    /// `idx`, `synthetic` or `auto` (default `auto`).
    #[serde(default = "default_dataset")]
    pub dataset: DatasetKind,
    /// Directory of the IDX files (default `datasets/mnist`, relative to the working directory).
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// File prefix of the split: `train` (default), `t10k`, or `digits` for digits8x8.
    #[serde(default = "default_split")]
    pub split: String,
    /// Number of images shown, from the first (required, >= 1, at most the set's size).
    pub images: usize,
    /// Steps each image is held (default 250, >= 1).
    #[serde(default = "default_steps_per_image")]
    pub steps_per_image: u64,
    /// Silent steps after each image (default 0).
    #[serde(default)]
    pub rest_steps: u64,
    /// Reset voltage, current, refractory state and pending input of every LIF
    /// neuron when a new image starts (default false). Thresholds are kept.
    #[serde(default)]
    pub reset_between: bool,
}

fn default_dataset() -> DatasetKind {
    DatasetKind::Auto
}
fn default_path() -> PathBuf {
    PathBuf::from("datasets/mnist")
}
fn default_split() -> String {
    "train".into()
}
fn default_steps_per_image() -> u64 {
    250
}

impl StimulusConfig {
    /// Steps from the start of one image to the start of the next.
    pub fn period(&self) -> u64 {
        self.steps_per_image + self.rest_steps
    }
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
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            ConfigError(format!("{at}{}", one_line(e.message())))
        })?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        check_layer_fields(&table)?;
        let config: Config = deserialize_at(toml::Value::Table(table), "")?;
        config.validate()?;
        Ok(config)
    }

    /// The resolved config as TOML (defaults filled in), as stored in the output file.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a validated config serializes")
    }

    /// Number of steps to simulate.
    pub fn steps(&self) -> u64 {
        match (&self.simulation.steps, &self.stimulus, &self.protocol) {
            (Some(n), _, _) => *n,
            (None, Some(s), _) => s.images as u64 * s.period(),
            (None, None, Some(p)) => p.planned_images() * p.period(),
            (None, None, None) => 0,
        }
    }

    /// Checks ranges and cross-references; the first problem found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sim = &self.simulation;
        let dt = sim.dt_ms;
        positive("simulation.dt_ms", dt)?;
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
            let key = |f: &str| format!("layers.{name}.{f}");
            if layer.size() == 0 {
                return err(format!("{}: required, an integer >= 1", key("size")));
            }
            match layer {
                LayerConfig::Encoder(e) => {
                    non_negative(&key("gain"), e.gain)?;
                    non_negative(&key("max_rate_hz"), e.max_rate_hz)?;
                    if e.encoding == Encoding::Poisson && e.max_rate_hz * dt / 1000.0 > 1.0 {
                        return err(format!(
                            "{}: {} Hz at dt {} ms gives a spike probability {} > 1; allowed: max_rate_hz <= {}",
                            key("max_rate_hz"),
                            e.max_rate_hz,
                            dt,
                            e.max_rate_hz * dt / 1000.0,
                            1000.0 / dt
                        ));
                    }
                }
                LayerConfig::Neuron(n) => n.layer().validate(&key, dt)?,
            }
        }
        for (name, p) in &self.projections {
            let key = |f: &str| format!("projections.{name}.{f}");
            let pre = self.layer(&p.pre, &key("pre"))?;
            let post = self.layer(&p.post, &key("post"))?;
            let Some(post_model) = post.neuron() else {
                return err(format!(
                    "{}: layer '{}' is an encoder; a projection must target a neuron layer",
                    key("post"),
                    p.post
                ));
            };
            if p.delay == 0 {
                return err(format!("{}: must be >= 1 step, got 0", key("delay")));
            }
            let (n_pre, n_post) = (pre.size(), post.size());
            match &p.connectivity {
                Connectivity::OneToOne | Connectivity::AllButSelf if n_pre != n_post => {
                    return err(format!(
                        "{}: one_to_one and all_but_self need equal sizes, got {n_pre} -> {n_post}",
                        key("connectivity")
                    ));
                }
                Connectivity::FixedIndegree { k } if *k == 0 || *k > n_pre => {
                    return err(format!(
                        "{}: must be between 1 and the pre layer size {n_pre}, got {k}",
                        key("connectivity.k")
                    ));
                }
                Connectivity::Bernoulli { p } => probability(&key("connectivity.p"), *p)?,
                _ => {}
            }
            p.weights.validate(&key("weights"))?;
            if let Some(c) = &p.stdp {
                if p.connectivity != Connectivity::Dense {
                    return err(format!(
                        "{}: STDP needs connectivity dense, this projection is {}",
                        key("stdp"),
                        p.connectivity.name()
                    ));
                }
                positive(&key("stdp.tau_pre_ms"), c.tau_pre_ms)?;
                positive(&key("stdp.tau_post_ms"), c.tau_post_ms)?;
                non_negative(&key("stdp.a_plus"), c.a_plus)?;
                non_negative(&key("stdp.a_minus"), c.a_minus)?;
                positive(&key("stdp.w_max"), c.w_max)?;
                if let Some(t) = c.normalize {
                    positive(&key("stdp.normalize"), t)?;
                }
                if let Some(t) = c.tau_post2_ms {
                    positive(&key("stdp.tau_post2_ms"), t)?;
                }
            }
            let currents = post_model.synaptic_currents();
            let names: Vec<&str> = currents.iter().map(|(n, _)| n.as_str()).collect();
            match &p.target {
                Some(t) if !names.contains(&t.as_str()) => {
                    return err(format!(
                        "{}: layer '{}' has no synaptic current '{t}'; it has: {}",
                        key("target"),
                        p.post,
                        names.join(", ")
                    ));
                }
                None if names.len() > 1 => {
                    return err(format!(
                        "{}: required, layer '{}' has several synaptic currents: {}",
                        key("target"),
                        p.post,
                        names.join(", ")
                    ));
                }
                _ => {}
            }
        }
        if let Some(s) = &self.stimulus {
            let layer = self.layer(&s.layer, "stimulus.layer")?;
            if !matches!(layer, LayerConfig::Encoder(_)) {
                return err(format!(
                    "stimulus.layer: layer '{}' is not an encoder layer",
                    s.layer
                ));
            }
            if s.images == 0 {
                return err("stimulus.images: required, an integer >= 1");
            }
            if s.steps_per_image == 0 {
                return err("stimulus.steps_per_image: must be >= 1");
            }
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
        let allowed = || format!("encoder, {}", NeuronConfig::KINDS.join(", "));
        match kind.as_ref().map(|k| (k, k.as_str())) {
            Some((_, Some("encoder"))) => {
                deserialize_at::<EncoderConfig>(fields, &prefix)?;
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
    let value = match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("v").expect("parsed key"),
        Err(_) => toml::Value::String(raw.to_string()),
    };
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return err(format!("--set {o}: malformed key '{key}'"));
    }
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
        assert_eq!(l.tau_v_ms, 20.0);
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
    fn resolved_config_round_trips() {
        let c = load(MINIMAL, &[]).unwrap();
        let again = load(&c.to_toml(), &[]).unwrap();
        assert_eq!(c.to_toml(), again.to_toml());
    }
}
