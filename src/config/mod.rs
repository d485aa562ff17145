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

pub use crate::param::{ConfigError, Distribution, StepCurrent};
use crate::param::{err, finite, non_negative, positive, probability};

/// Insertion-ordered map by name (layers and projections keep file order).
pub type Map<V> = indexmap::IndexMap<String, V>;

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

/// `[layers.<name>]`: `kind = "encoder"` or `kind = "lif"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "a config holds a handful of layers; boxing would only add noise"
)]
pub enum LayerConfig {
    /// Input layer: one Bernoulli trial per neuron per step.
    Encoder(EncoderConfig),
    /// Leaky integrate-and-fire neurons.
    Lif(LifConfig),
}

impl LayerConfig {
    /// Number of neurons.
    pub fn size(&self) -> usize {
        match self {
            LayerConfig::Encoder(e) => e.size,
            LayerConfig::Lif(l) => l.size,
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

/// Synaptic current model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurrentModel {
    /// `J(n) = I(n)`.
    Instantaneous,
    /// `J(n) = J(n-1) + dt/tau_j * (-k_j J(n-1) + I(n))` (the seed's Euler step).
    Continuous,
    /// `J(n) = J(n-1) · exp(-dt/tau) + I(n)`: exact decay, each spike adds its
    /// weight (NEST's `iaf_psc_exp`, Brian2's `on_pre: g += w`).
    Exponential,
}

/// Most synaptic currents a LIF layer may have.
pub const MAX_SYNAPSES: usize = 2;

/// `[layers.<name>.synapses.<current>]`: one named synaptic current of a LIF
/// layer (for example `exc` and `inh` with their own time constants).
/// Projections pick one with `target`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynapseConfig {
    /// `instantaneous`, `continuous` or `exponential` (default `exponential`).
    pub current: CurrentModel,
    /// Time constant in ms (default 5.0, > 0).
    pub tau_ms: f64,
    /// Leak factor of the `continuous` model (default 1.0).
    pub k: f64,
    /// Reversal potential in mV (default none: current-based). When set the
    /// synapse is conductance-based: its variable is a conductance `g` in µS,
    /// integrated by the same `current` model, and it drives the voltage with
    /// `J = g · (reversal_mv − V)` (nA), `V` the voltage of the previous step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversal_mv: Option<f64>,
}

impl Default for SynapseConfig {
    fn default() -> Self {
        Self {
            current: CurrentModel::Exponential,
            tau_ms: 5.0,
            k: 1.0,
            reversal_mv: None,
        }
    }
}

/// A leaky integrate-and-fire layer.
///
/// Units: time in ms, voltage in mV, current in nA, `r` in MΩ (so `r * J` is mV).
/// The seed's network uses dimensionless values of the same size.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LifConfig {
    /// Number of neurons (required, >= 1).
    pub size: usize,
    /// Model of the layer's one synaptic current when `synapses` is empty:
    /// `instantaneous`, `continuous` (default) or `exponential`.
    pub current: CurrentModel,
    /// Its time constant τ_j in ms (default 10.0, > 0).
    pub tau_j_ms: f64,
    /// Its leak factor k_j (default 1.0).
    pub k_j: f64,
    /// Several named synaptic currents instead (at most [`MAX_SYNAPSES`]);
    /// `J = Σ_c J_c` drives the voltage. Default: none, i.e. the single
    /// current above, named `default`.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub synapses: Map<SynapseConfig>,
    /// Membrane time constant τ_v in ms (default 20.0, > 0).
    pub tau_v_ms: f64,
    /// Voltage leak factor k_v (default 1.0).
    pub k_v: f64,
    /// Membrane resistance r in MΩ (default 1.0).
    pub r: f64,
    /// Resting voltage in mV (default 0.0).
    pub v_rest: f64,
    /// Initial voltage distribution in mV (default: `v_rest`), e.g.
    /// `{ kind = "uniform", low = -60.0, high = -50.0 }`; drawn per neuron
    /// from the `(seed, layer)` stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v_init: Option<Distribution>,
    /// Voltage after a spike in mV (default 0.0).
    pub v_reset: f64,
    /// Refractory period in ms (default 0.0, >= 0): the voltage is held at
    /// `v_reset` for `round(t_ref_ms / dt_ms)` steps after a spike.
    pub t_ref_ms: f64,
    /// Time after a spike in which the neuron cannot spike again, in ms
    /// (default `t_ref_ms`, >= `t_ref_ms`): past `t_ref_ms` the voltage
    /// integrates again but crossing the threshold does nothing until
    /// `round(t_ref_spike_ms / dt_ms)` steps have passed. Diehl & Cook's
    /// code has 5 ms and 50 ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t_ref_spike_ms: Option<f64>,
    /// Base threshold σ in mV (default 1.0); the starting value when adaptive.
    pub sigma: f64,
    /// Constant external current in nA added to the input of the first
    /// synaptic current every step (default 0.0).
    pub i_ext: f64,
    /// Optional step current added to the synaptic input inside a time window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_current: Option<StepCurrent>,
    /// Threshold adaptation (default: fixed threshold).
    pub threshold: ThresholdConfig,
}

impl Default for LifConfig {
    fn default() -> Self {
        Self {
            size: 0,
            current: CurrentModel::Continuous,
            tau_j_ms: 10.0,
            k_j: 1.0,
            synapses: Map::new(),
            tau_v_ms: 20.0,
            k_v: 1.0,
            r: 1.0,
            v_rest: 0.0,
            v_init: None,
            v_reset: 0.0,
            t_ref_ms: 0.0,
            t_ref_spike_ms: None,
            sigma: 1.0,
            i_ext: 0.0,
            step_current: None,
            threshold: ThresholdConfig::default(),
        }
    }
}

impl LifConfig {
    /// The layer's synaptic currents, in order: the `synapses` table, or the
    /// single current `default` of `current`, `tau_j_ms`, `k_j`.
    pub fn receptors(&self) -> Vec<(String, SynapseConfig)> {
        if self.synapses.is_empty() {
            let c = SynapseConfig {
                current: self.current,
                tau_ms: self.tau_j_ms,
                k: self.k_j,
                reversal_mv: None,
            };
            vec![("default".to_string(), c)]
        } else {
            self.synapses
                .iter()
                .map(|(n, c)| (n.clone(), c.clone()))
                .collect()
        }
    }
}

/// `threshold = { global = {...}, individual = {...} }`; either, both or neither.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdConfig {
    /// One σ per layer: `σ <- max(sigma_min, σ + eta * (Σ s - target))`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalThresholdConfig>,
    /// Per neuron: `θ_i <- θ_i (1 - dt/tau_theta_ms) + beta s_i`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub individual: Option<IndividualThresholdConfig>,
}

/// Global threshold adaptation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlobalThresholdConfig {
    /// Adaptation rate in mV per excess spike (default 0.01, >= 0).
    pub eta: f64,
    /// Target number of spikes per step in the layer (default 1.0, >= 0).
    pub target: f64,
    /// Lower bound of σ in mV (default 0.0).
    pub sigma_min: f64,
}

impl Default for GlobalThresholdConfig {
    fn default() -> Self {
        Self {
            eta: 0.01,
            target: 1.0,
            sigma_min: 0.0,
        }
    }
}

/// Individual threshold adaptation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndividualThresholdConfig {
    /// Decay time constant of θ_i in ms (default 1e7, as in Diehl & Cook; >= dt).
    pub tau_theta_ms: f64,
    /// Jump of θ_i per spike in mV (default 0.05, >= 0).
    pub beta: f64,
    /// θ_i at the start in mV (default 0). θ decays towards 0, so with
    /// `theta_init > 0` a neuron that stops firing slowly becomes easier to
    /// excite than at the start (Diehl & Cook: σ = −72 mV, θ from 20 mV).
    pub theta_init: f64,
}

impl Default for IndividualThresholdConfig {
    fn default() -> Self {
        Self {
            tau_theta_ms: 1e7,
            beta: 0.05,
            theta_init: 0.0,
        }
    }
}

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
                "layers: at least one layer is required ([layers.<name>] with kind = \"encoder\" or \"lif\")",
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
                LayerConfig::Lif(l) => {
                    positive(&key("tau_j_ms"), l.tau_j_ms)?;
                    if l.synapses.len() > MAX_SYNAPSES {
                        return err(format!(
                            "{}: at most {MAX_SYNAPSES} synaptic currents, got {}",
                            key("synapses"),
                            l.synapses.len()
                        ));
                    }
                    for (c, sc) in &l.synapses {
                        positive(&key(&format!("synapses.{c}.tau_ms")), sc.tau_ms)?;
                        finite(&key(&format!("synapses.{c}.k")), sc.k)?;
                        if let Some(e) = sc.reversal_mv {
                            finite(&key(&format!("synapses.{c}.reversal_mv")), e)?;
                        }
                    }
                    if let Some(d) = &l.v_init {
                        d.validate(&key("v_init"))?;
                    }
                    positive(&key("tau_v_ms"), l.tau_v_ms)?;
                    non_negative(&key("t_ref_ms"), l.t_ref_ms)?;
                    if let Some(t) = l.t_ref_spike_ms
                        && !(t >= l.t_ref_ms && t.is_finite())
                    {
                        return err(format!(
                            "{}: must be a number >= t_ref_ms ({}), got {t}",
                            key("t_ref_spike_ms"),
                            l.t_ref_ms
                        ));
                    }
                    // Refractory countdowns are u16.
                    let max_ms = f64::from(u16::MAX) * dt;
                    for (k, t) in [
                        ("t_ref_ms", Some(l.t_ref_ms)),
                        ("t_ref_spike_ms", l.t_ref_spike_ms),
                    ] {
                        if let Some(t) = t
                            && (t / dt).round() > f64::from(u16::MAX)
                        {
                            return err(format!(
                                "{}: {t} ms is more than 65535 steps of {dt} ms; allowed: up to {max_ms} ms",
                                key(k)
                            ));
                        }
                    }
                    for (k, v) in [
                        ("k_j", l.k_j),
                        ("k_v", l.k_v),
                        ("r", l.r),
                        ("v_rest", l.v_rest),
                        ("v_reset", l.v_reset),
                        ("sigma", l.sigma),
                        ("i_ext", l.i_ext),
                    ] {
                        finite(&key(k), v)?;
                    }
                    if let Some(s) = &l.step_current {
                        finite(&key("step_current.amplitude"), s.amplitude)?;
                        non_negative(&key("step_current.start_ms"), s.start_ms)?;
                        if s.stop_ms.partial_cmp(&s.start_ms) == Some(std::cmp::Ordering::Less)
                            || s.stop_ms.is_nan()
                        {
                            return err(format!(
                                "{}: must be >= start_ms ({})",
                                key("step_current.stop_ms"),
                                s.start_ms
                            ));
                        }
                    }
                    if let Some(g) = &l.threshold.global {
                        non_negative(&key("threshold.global.eta"), g.eta)?;
                        non_negative(&key("threshold.global.target"), g.target)?;
                        finite(&key("threshold.global.sigma_min"), g.sigma_min)?;
                    }
                    if let Some(i) = &l.threshold.individual {
                        non_negative(&key("threshold.individual.beta"), i.beta)?;
                        finite(&key("threshold.individual.theta_init"), i.theta_init)?;
                        if i.tau_theta_ms.is_nan() || i.tau_theta_ms < dt {
                            return err(format!(
                                "{}: must be >= dt_ms ({dt}), got {}",
                                key("threshold.individual.tau_theta_ms"),
                                i.tau_theta_ms
                            ));
                        }
                    }
                }
            }
        }
        for (name, p) in &self.projections {
            let key = |f: &str| format!("projections.{name}.{f}");
            let pre = self.layer(&p.pre, &key("pre"))?;
            let post = self.layer(&p.post, &key("post"))?;
            if !matches!(post, LayerConfig::Lif(_)) {
                return err(format!(
                    "{}: layer '{}' is an encoder; a projection must target a LIF layer",
                    key("post"),
                    p.post
                ));
            }
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
            let LayerConfig::Lif(post_lif) = post else {
                unreachable!("checked above")
            };
            let receptors = post_lif.receptors();
            let names: Vec<&str> = receptors.iter().map(|(n, _)| n.as_str()).collect();
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

/// Deserializes `value`, naming the failing key as a dotted path under `prefix`.
fn deserialize_at<T: serde::de::DeserializeOwned>(
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
        match kind.as_ref().and_then(toml::Value::as_str) {
            Some("encoder") => {
                deserialize_at::<EncoderConfig>(fields, &prefix)?;
            }
            Some("lif") => {
                deserialize_at::<LifConfig>(fields, &prefix)?;
            }
            // A missing or unknown kind is reported by the main pass.
            _ => {}
        }
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
        let LayerConfig::Lif(l) = &c.layers["a"] else {
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
