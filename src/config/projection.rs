//! `[projections.<name>]`: synapse groups, their connectivity, weights and
//! STDP.

use serde::{Deserialize, Serialize};

use super::Config;
use crate::param::{ConfigError, Distribution, err, non_negative, positive, probability};

/// `[projections.<name>]`: a synapse group from `pre` to `post`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Presynaptic layer name (any kind).
    pub pre: String,
    /// Postsynaptic layer name (a neuron layer of any model).
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

impl ProjectionConfig {
    /// Checks ranges and references to the layers of `c`; `key(field)` is
    /// the field's dotted key.
    pub(crate) fn validate(
        &self,
        c: &Config,
        key: &dyn Fn(&str) -> String,
    ) -> Result<(), ConfigError> {
        let p = self;
        let pre = c.layer(&p.pre, &key("pre"))?;
        let post = c.layer(&p.post, &key("post"))?;
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
        // The post layer's input ring holds `delay` slots of one value per
        // neuron for each synaptic current.
        let currents = post_model.synaptic_currents().len();
        let ring_bytes = (n_post as u128)
            * u128::from(p.delay)
            * (currents as u128)
            * (std::mem::size_of::<f32>() as u128);
        if ring_bytes > isize::MAX as u128 {
            return err(format!(
                "{}: {} steps of input for layer '{}' ({n_post} neurons × {currents} currents) is {ring_bytes} bytes, more than can be allocated",
                key("delay"),
                p.delay,
                p.post
            ));
        }
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
        check_target(
            &key("target"),
            &p.post,
            &post_model.synaptic_currents(),
            p.target.as_deref(),
        )?;
        Ok(())
    }
}

/// `target` (at `key`) names one of `currents`, the synaptic currents of
/// layer `layer`; it may be left out only where there is one.
pub(crate) fn check_target(
    key: &str,
    layer: &str,
    currents: &[(String, crate::neuron::synaptic::SynapseConfig)],
    target: Option<&str>,
) -> Result<(), ConfigError> {
    let names: Vec<&str> = currents.iter().map(|(n, _)| n.as_str()).collect();
    match target {
        Some(t) if !names.contains(&t) => err(format!(
            "{key}: layer '{layer}' has no synaptic current '{t}'; it has: {}",
            names.join(", ")
        )),
        None if names.len() > 1 => err(format!(
            "{key}: required, layer '{layer}' has several synaptic currents: {}",
            names.join(", ")
        )),
        _ => Ok(()),
    }
}
