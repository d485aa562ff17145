//! `[projections.<name>]`: synapse groups, their connectivity, weights and
//! STDP.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Config;
use crate::param::{
    ConfigError, Distribution, err, non_negative, number_or_distribution, positive, probability,
};

/// `[projections.<name>]`: a synapse group from `pre` to `post`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionConfig {
    /// Presynaptic layer name (any kind).
    pub pre: String,
    /// Postsynaptic layer name (a neuron layer of any model).
    pub post: String,
    /// Delay of every synapse in steps (default 1, >= 1; not with
    /// `delay_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
    /// Delay in ms instead of `delay`: a number, or a distribution drawn
    /// per synapse (sparse connectivity only); each delay is put on the
    /// time grid by [`delay_steps`].
    #[serde(
        default,
        deserialize_with = "number_or_distribution",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay_ms: Option<Distribution>,
    /// Which synaptic current of the post layer receives the input
    /// (required when it has several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Which pairs are connected (default `{ kind = "dense" }`).
    #[serde(default)]
    pub connectivity: Connectivity,
    /// Initial weights (required, except with `from_file`, whose weights
    /// this replaces). Negative weights are inhibitory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Distribution>,
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

/// Connectivity rule of a projection.
///
/// `multapses`: whether a pair may be connected more than once; `autapses`:
/// whether `j → j` is allowed, which only matters for a projection of a
/// layer onto itself (`pre == post`).
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
    /// Each postsynaptic neuron draws `k` presynaptic neurons.
    FixedIndegree {
        /// In-degree, >= 1 (without multapses at most the pre neurons it may draw).
        k: usize,
        /// Draws with replacement (default false: `k` distinct).
        #[serde(default, skip_serializing_if = "is_false")]
        multapses: bool,
        /// `j → j` allowed (default true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        autapses: bool,
    },
    /// Each presynaptic neuron draws `k` postsynaptic neurons.
    FixedOutdegree {
        /// Out-degree, >= 1 (without multapses at most the post neurons it may draw).
        k: usize,
        /// Draws with replacement (default false: `k` distinct).
        #[serde(default, skip_serializing_if = "is_false")]
        multapses: bool,
        /// `j → j` allowed (default true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        autapses: bool,
    },
    /// Exactly `n` synapses in the projection (NEST's
    /// `fixed_total_number`): with multapses each is an independent
    /// uniform (pre, post) pair of the allowed ones; without, the `n` are a
    /// uniform choice of distinct pairs. Exactly one of `n` and `p_pair`.
    FixedTotalNumber {
        /// Number of synapses.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<usize>,
        /// Instead of `n`: the probability in [0, 1) that a given pair is
        /// connected at least once (Potjans & Diesmann 2014), `n =
        /// round(ln(1 − p_pair) / ln(1 − 1/(N_pre·N_post)))`
        /// ([`pair_probability_total`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p_pair: Option<f64>,
        /// Pairs may repeat (default true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        multapses: bool,
        /// `j → j` allowed (default true).
        #[serde(default = "yes", skip_serializing_if = "is_true")]
        autapses: bool,
    },
    /// Each pair is connected with probability `p` in [0, 1].
    Bernoulli {
        /// Connection probability.
        p: f64,
    },
    /// An explicit list: a CSV file with the header `pre,post,weight` or
    /// `pre,post,weight,delay_ms` and one synapse per line (0-based
    /// indices), whose weights and delays are used unless the projection
    /// gives its own.
    FromFile {
        /// The file, relative to the working directory.
        path: PathBuf,
    },
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The number of synapses of `fixed_total_number` with `p_pair`: `n =
/// round(ln(1 − p_pair) / ln(1 − 1/(n_pre·n_post)))`, for which a given
/// pair is connected at least once with probability `1 − (1 − 1/(n_pre
/// n_post))^n = p_pair` (Potjans & Diesmann 2014, eq. 1); `p_pair` in [0, 1).
/// Rounded half to even, as NumPy (NEST's example) rounds.
pub fn pair_probability_total(p_pair: f64, n_pre: usize, n_post: usize) -> usize {
    pair_probability_count(p_pair, n_pre, n_post).round_ties_even() as usize
}

/// The unrounded `ln(1 − p_pair) / ln(1 − 1/(n_pre·n_post))` of
/// [`pair_probability_total`] (what [`super::ScaleConfig`] scales),
/// evaluated as NEST's example does (`np.log(1 - p) / np.log((N - 1) /
/// N)`, `N = n_pre·n_post`), not with the more accurate `ln_1p`: the
/// rounding of `(N − 1)/N` moves some counts by one, and this way every
/// count is NEST's.
pub fn pair_probability_count(p_pair: f64, n_pre: usize, n_post: usize) -> f64 {
    let pairs = n_pre as f64 * n_post as f64;
    (1.0 - p_pair).ln() / ((pairs - 1.0) / pairs).ln()
}

/// A delay in ms on the time grid: `max(1, round(ms / dt))` steps, halves
/// rounded away from zero (0.25 ms at dt 0.1: 3 steps; 0.05 ms: 1 step;
/// 0 or less: 1 step). The quotient is taken `10^-12` larger (relative),
/// so that a half written in decimals rounds up although floating point
/// puts it just below (`0.25 / 0.1 = 2.4999999999999996`). For a
/// quotient `q ≥ 0`, `round(q)` is `⌊q + 0.5⌋`: one truncating conversion
/// instead of a call to `round` (7% of building the microcircuit, with a
/// delay for each of its 3·10^8 synapses); NaN and negative quotients
/// convert to 0, so to 1 step.
#[inline]
pub fn delay_steps(ms: f64, dt_ms: f64) -> u64 {
    ((ms / dt_ms * (1.0 + 1e-12) + 0.5) as u64).max(1)
}

/// The most steps a delay may have: per-synapse delays are stored as u16.
pub const MAX_DELAY_STEPS: u64 = u16::MAX as u64;

/// The number of synapses of an explicit list: the lines of its file after
/// the header (blank ones left out); 0 if it cannot be read.
pub fn list_len(path: &std::path::Path) -> u64 {
    std::fs::read(path).map_or(0, |b| {
        b.split(|&c| c == b'\n')
            .skip(1)
            .filter(|l| !l.trim_ascii().is_empty())
            .count() as u64
    })
}

impl Connectivity {
    /// The rule's `kind` as written in a config.
    pub fn name(&self) -> &'static str {
        match self {
            Connectivity::Dense => "dense",
            Connectivity::OneToOne => "one_to_one",
            Connectivity::AllButSelf => "all_but_self",
            Connectivity::FixedIndegree { .. } => "fixed_indegree",
            Connectivity::FixedOutdegree { .. } => "fixed_outdegree",
            Connectivity::FixedTotalNumber { .. } => "fixed_total_number",
            Connectivity::Bernoulli { .. } => "bernoulli",
            Connectivity::FromFile { .. } => "from_file",
        }
    }

    /// The number of synapses of `fixed_total_number` (its `n`, or the `n`
    /// of its `p_pair`) between layers of `n_pre` and `n_post` neurons;
    /// `None` for other rules.
    pub fn total_number(&self, n_pre: usize, n_post: usize) -> Option<usize> {
        match *self {
            Connectivity::FixedTotalNumber { n: Some(n), .. } => Some(n),
            Connectivity::FixedTotalNumber {
                p_pair: Some(p), ..
            } => Some(pair_probability_total(p, n_pre, n_post)),
            _ => None,
        }
    }
}

impl ProjectionConfig {
    /// The delay in steps shared by every synapse, where there is one:
    /// `delay` (default 1), or a number `delay_ms` on the grid of `dt_ms`
    /// ([`delay_steps`]); `None` for a distribution of delays, or a list
    /// file's own delays.
    pub fn fixed_delay(&self, dt_ms: f64) -> Option<u32> {
        match (&self.delay, &self.delay_ms, &self.connectivity) {
            (Some(d), _, _) => Some(*d),
            (None, Some(Distribution::Constant { value }), _) => {
                Some(delay_steps(*value, dt_ms).min(MAX_DELAY_STEPS) as u32)
            }
            (None, Some(_), _) | (None, None, Connectivity::FromFile { .. }) => None,
            (None, None, _) => Some(1),
        }
    }

    /// The most steps a delay can have: `delay`, or `delay_ms` on the grid
    /// (of its [`Distribution::reach`] for a distribution); 1 for a list
    /// file's delays, unknown until it is read.
    pub fn delay_bound(&self, dt_ms: f64) -> u64 {
        match (self.delay, &self.delay_ms) {
            (Some(d), _) => u64::from(d),
            (None, Some(d)) => delay_steps(d.reach(), dt_ms),
            (None, None) => 1,
        }
    }

    /// Bytes per synapse of its own delay: 0 where all share one, 1 up to
    /// 255 steps, else 2 (a list file's delays, unknown until read: 2).
    pub fn delay_bytes(&self, dt_ms: f64) -> u64 {
        match self.fixed_delay(dt_ms) {
            Some(_) => 0,
            None if self.delay_ms.is_some() && self.delay_bound(dt_ms) <= 255 => 1,
            None => 2,
        }
    }

    /// Checks `delay` and `delay_ms` and returns [`ProjectionConfig::delay_bound`].
    fn validate_delay(&self, dt_ms: f64, key: &dyn Fn(&str) -> String) -> Result<u64, ConfigError> {
        match (self.delay, &self.delay_ms) {
            (Some(_), Some(_)) => err(format!(
                "{}: give delay (steps) or delay_ms, not both",
                key("delay_ms")
            )),
            (Some(0), None) => err(format!("{}: must be >= 1 step, got 0", key("delay"))),
            (Some(_), None) => Ok(self.delay_bound(dt_ms)),
            (None, Some(d)) => {
                let k = key("delay_ms");
                match d {
                    Distribution::Constant { value } => positive(&k, *value)?,
                    d => d.validate(&k)?,
                }
                let reach = d.reach();
                let steps = self.delay_bound(dt_ms);
                if steps > MAX_DELAY_STEPS {
                    let cap = if matches!(d, Distribution::Constant { .. }) {
                        ""
                    } else {
                        " (draws reach it: give a max)"
                    };
                    return err(format!(
                        "{k}: {reach} ms is {steps} steps of {dt_ms} ms, at most {MAX_DELAY_STEPS}{cap}"
                    ));
                }
                Ok(steps)
            }
            (None, None) => Ok(self.delay_bound(dt_ms)),
        }
    }

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
        let same_layer = p.pre == p.post;
        let (n_pre, n_post) = (pre.size(), post.size());
        let bound = p.validate_delay(c.simulation.dt_ms, key)?;
        // The post layer's input ring holds `delay` slots of one value per
        // neuron for each synaptic current.
        let currents = post_model.synaptic_currents().len();
        let ring_bytes = (n_post as u128)
            * u128::from(bound)
            * (currents as u128)
            * (std::mem::size_of::<f32>() as u128);
        if ring_bytes > isize::MAX as u128 {
            let k = if p.delay_ms.is_some() {
                "delay_ms"
            } else {
                "delay"
            };
            return err(format!(
                "{}: {bound} steps of input for layer '{}' ({n_post} neurons × {currents} currents) is {ring_bytes} bytes, more than can be allocated",
                key(k),
                p.post
            ));
        }
        // The pre (post) neurons one post (pre) neuron may draw.
        let choices = |n: usize, autapses: bool| n - usize::from(same_layer && !autapses);
        let most = u32::MAX as u128 - 1;
        let synapses = match p.connectivity {
            Connectivity::OneToOne | Connectivity::AllButSelf if n_pre != n_post => {
                return err(format!(
                    "{}: one_to_one and all_but_self need equal sizes, got {n_pre} -> {n_post}",
                    key("connectivity")
                ));
            }
            Connectivity::FixedIndegree {
                k,
                multapses,
                autapses,
            }
            | Connectivity::FixedOutdegree {
                k,
                multapses,
                autapses,
            } => {
                let (side, n, other) = match p.connectivity {
                    Connectivity::FixedIndegree { .. } => ("pre", n_pre, n_post),
                    _ => ("post", n_post, n_pre),
                };
                let m = choices(n, autapses);
                if k == 0 || (!multapses && k > m) || m == 0 {
                    let without = if same_layer && !autapses {
                        format!(" less itself ({m})")
                    } else {
                        String::new()
                    };
                    let most = if multapses {
                        String::new()
                    } else {
                        format!(" and the {side} layer size {n}{without}")
                    };
                    return err(format!(
                        "{}: must be between 1{most}, got {k}{}",
                        key("connectivity.k"),
                        if m == 0 { " (no neuron to draw)" } else { "" }
                    ));
                }
                k as u128 * other as u128
            }
            Connectivity::FixedTotalNumber {
                n,
                p_pair,
                multapses,
                autapses,
            } => {
                let n = match (n, p_pair) {
                    (Some(n), None) => n,
                    (None, Some(q)) => {
                        if !(0.0..1.0).contains(&q) {
                            return err(format!(
                                "{}: a probability in [0, 1), got {q}",
                                key("connectivity.p_pair")
                            ));
                        }
                        pair_probability_total(q, n_pre, n_post)
                    }
                    _ => {
                        return err(format!(
                            "{}: give exactly one of n (synapses) and p_pair (probability that a pair is connected)",
                            key("connectivity")
                        ));
                    }
                };
                let pairs = choices(n_pre, autapses) as u128 * n_post as u128;
                if n > 0 && pairs == 0 {
                    return err(format!(
                        "{}: {n} synapses, but a layer of one neuron without autapses has no pair to connect",
                        key("connectivity.n")
                    ));
                }
                if !multapses && n as u128 > pairs {
                    return err(format!(
                        "{}: {n} synapses without multapses, but there are only {pairs} pairs",
                        key("connectivity.n")
                    ));
                }
                n as u128
            }
            Connectivity::Bernoulli { p } => {
                probability(&key("connectivity.p"), p)?;
                0
            }
            _ => 0,
        };
        if synapses > most {
            return err(format!(
                "{}: {synapses} synapses, at most {most} per projection",
                key("connectivity")
            ));
        }
        if let Connectivity::FromFile { path } = &p.connectivity
            && let Err(e) = std::fs::metadata(path)
        {
            return err(format!(
                "{}: cannot read {}: {e}",
                key("connectivity.path"),
                path.display()
            ));
        }
        if let Some(d) = &p.delay_ms
            && !matches!(d, Distribution::Constant { .. })
            && p.connectivity == Connectivity::Dense
        {
            return err(format!(
                "{}: a delay per synapse needs a sparse connectivity, this projection is dense (give delay or a number of ms)",
                key("delay_ms")
            ));
        }
        match &p.weights {
            Some(w) => w.validate(&key("weights"))?,
            None if !matches!(p.connectivity, Connectivity::FromFile { .. }) => {
                return err(format!(
                    "{}: required (a distribution such as {{ kind = \"constant\", value = 1.0 }})",
                    key("weights")
                ));
            }
            None => {}
        }
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
