//! `[scale]`: run a network at a fraction of its size, with the
//! compensation of Potjans & Diesmann's microcircuit (NEST's
//! `helpers.adjust_weights_and_input_to_synapse_scaling`;
//! `../shared/peers/microcircuit.md` §9).
//!
//! The config is written at full scale. With `n` (N_scaling) and `k`
//! (K_scaling):
//!
//! - every layer's size becomes `round(size · n)`;
//! - in-degrees scale with `k`: `fixed_total_number` gets
//!   `n_syn = round(K_full · n · k)` with `K_full` its full-scale count
//!   (for `p_pair` the unrounded `ln(1 − p)/ln(1 − 1/(N_pre N_post))` of
//!   the full sizes), `fixed_indegree` and `fixed_outdegree`
//!   `round(k_deg · k)`, `bernoulli` `p · k`; a Poisson input's `inputs`
//!   becomes `round(inputs · k)`;
//! - every weight (projections and Poisson inputs) is multiplied by
//!   `1/√k`, which keeps the variance of each neuron's input;
//! - the mean input lost with the fewer, stronger synapses is given back
//!   as a DC current to each `iaf` layer `i`:
//!   `I_e,i += 10^−3 · τ_c (1 − √k) · (Σ_p w̄_p K_full,p / N_i ν_pre(p) + Σ_q w_q K_q ν_q)`
//!   over the projections `p` into it (mean weight `w̄_p` before scaling,
//!   pA; presynaptic full-scale rate `ν` from `rates_hz`, Hz) and its
//!   Poisson inputs `q` (`K_q` inputs of `ν_q`), `τ_c` the time constant
//!   (ms) of the exponential current each feeds — an exponential current
//!   of weight `w` at rate `ν` has mean `w τ_c ν`.
//!
//! Rounding is half to even, as NumPy's (`N = 5834 · 0.25 = 1458.5`
//! gives 1458, NEST's example's size). The resolved config, as stored in
//! the output file, holds the scaled network and the factors under
//! `scaled` (which nothing reads again), so resolving it again changes
//! nothing.

use serde::{Deserialize, Serialize};

use super::{Config, Connectivity, LayerConfig};
use crate::neuron::NeuronConfig;
use crate::neuron::synaptic::CurrentModel;
use crate::param::{ConfigError, Distribution, Map, err, positive};

/// `[scale]`: N and K scaling of a network written at full scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleConfig {
    /// N_scaling: factor of every layer's size (default 1, > 0).
    pub n: f64,
    /// K_scaling: factor of every in-degree (default 1, in (0, 1]).
    pub k: f64,
    /// Full-scale mean rate of each presynaptic layer in Hz, for the DC
    /// compensation (required for every layer that projects into an
    /// `iaf` layer when `k` < 1).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub rates_hz: Map<f64>,
}

impl Default for ScaleConfig {
    fn default() -> Self {
        Self {
            n: 1.0,
            k: 1.0,
            rates_hz: Map::new(),
        }
    }
}

/// `x · f` for a weight distribution: every parameter in weight units
/// multiplied by `f > 0` (a lognormal's `mu` shifted by `ln f`).
fn scaled(d: &Distribution, f: f64) -> Distribution {
    let bound = |b: Option<f64>| b.map(|b| b * f);
    match *d {
        Distribution::Constant { value } => Distribution::Constant { value: value * f },
        Distribution::Uniform { low, high } => Distribution::Uniform {
            low: low * f,
            high: high * f,
        },
        Distribution::Normal {
            mean,
            std,
            min,
            max,
        } => Distribution::Normal {
            mean: mean * f,
            std: std * f,
            min: bound(min),
            max: bound(max),
        },
        Distribution::Lognormal {
            mu,
            sigma,
            min,
            max,
        } => Distribution::Lognormal {
            mu: mu + f.ln(),
            sigma,
            min: bound(min),
            max: bound(max),
        },
    }
}

/// The nominal mean of a weight distribution, as NEST's example uses it
/// (a normal's `mean`, before any truncation).
fn nominal_mean(d: &Distribution) -> f64 {
    match *d {
        Distribution::Constant { value } => value,
        Distribution::Uniform { low, high } => 0.5 * (low + high),
        Distribution::Normal { mean, .. } => mean,
        Distribution::Lognormal { mu, sigma, .. } => (mu + 0.5 * sigma * sigma).exp(),
    }
}

/// The expected number of synapses of `conn` between `n_pre` and `n_post`
/// neurons (unrounded for `p_pair`); `None` for a list file.
fn full_count(conn: &Connectivity, n_pre: usize, n_post: usize) -> Option<f64> {
    let (a, b) = (n_pre as f64, n_post as f64);
    Some(match *conn {
        Connectivity::Dense => a * b,
        Connectivity::OneToOne => a,
        Connectivity::AllButSelf => a * (a - 1.0),
        Connectivity::FixedIndegree { k, .. } => k as f64 * b,
        Connectivity::FixedOutdegree { k, .. } => k as f64 * a,
        Connectivity::FixedTotalNumber { n: Some(n), .. } => n as f64,
        Connectivity::FixedTotalNumber {
            p_pair: Some(p), ..
        } => super::pair_probability_count(p, n_pre, n_post),
        Connectivity::FixedTotalNumber { .. } => return None,
        Connectivity::Bernoulli { p } => p * a * b,
        Connectivity::FromFile { .. } => return None,
    })
}

/// Half to even, as NumPy rounds.
fn round(x: f64) -> usize {
    x.round_ties_even().max(0.0) as usize
}

impl ScaleConfig {
    /// Applies the scaling to `c` (written at full scale): sizes,
    /// connectivity, weights and the DC compensation of the module
    /// documentation; then moves the factors to `c.scaled`.
    pub(crate) fn apply(c: &mut Config) -> Result<(), ConfigError> {
        let Some(s) = c.scale.take() else {
            return Ok(());
        };
        positive("scale.n", s.n)?;
        if !(s.k > 0.0 && s.k <= 1.0) {
            return err(format!("scale.k: must be in (0, 1], got {}", s.k));
        }
        for name in s.rates_hz.keys() {
            c.layer(name, &format!("scale.rates_hz.{name}"))?;
        }
        let full: Map<usize> = c
            .layers
            .iter()
            .map(|(n, l)| (n.clone(), l.size()))
            .collect();
        let sqrt_k = s.k.sqrt();
        if s.k < 1.0 {
            s.compensate(c, &full, sqrt_k)?;
        }
        for (name, layer) in &mut c.layers {
            let size = round(full[name] as f64 * s.n);
            if size == 0 {
                return err(format!(
                    "scale.n: layer '{name}' of {} neurons becomes empty at {}",
                    full[name], s.n
                ));
            }
            layer.set_size(size);
        }
        for (name, p) in &mut c.projections {
            let key = format!("projections.{name}.connectivity");
            let (n_pre, n_post) = (full[&p.pre], full[&p.post]);
            p.connectivity = match p.connectivity.clone() {
                Connectivity::FixedTotalNumber {
                    multapses,
                    autapses,
                    ..
                } => {
                    let count =
                        full_count(&p.connectivity, n_pre, n_post).expect("validated: n or p_pair");
                    Connectivity::FixedTotalNumber {
                        n: Some(round(count * s.n * s.k)),
                        p_pair: None,
                        multapses,
                        autapses,
                    }
                }
                Connectivity::FixedIndegree {
                    k,
                    multapses,
                    autapses,
                } => Connectivity::FixedIndegree {
                    k: round(k as f64 * s.k).max(1),
                    multapses,
                    autapses,
                },
                Connectivity::FixedOutdegree {
                    k,
                    multapses,
                    autapses,
                } => Connectivity::FixedOutdegree {
                    k: round(k as f64 * s.k).max(1),
                    multapses,
                    autapses,
                },
                Connectivity::Bernoulli { p } => Connectivity::Bernoulli { p: p * s.k },
                other if s.k == 1.0 && s.n == 1.0 => other,
                other => {
                    return err(format!(
                        "{key}: {} cannot be scaled; scale needs fixed_total_number, fixed_indegree, fixed_outdegree or bernoulli",
                        other.name()
                    ));
                }
            };
            if let Some(w) = &p.weights {
                p.weights = Some(scaled(w, 1.0 / sqrt_k));
            }
        }
        for p in c.poisson_inputs.values_mut() {
            p.inputs = round(p.inputs as f64 * s.k) as u64;
            p.weight /= sqrt_k;
        }
        c.scaled = Some(s);
        Ok(())
    }

    /// Adds the DC compensation to every `iaf` layer with input (at full
    /// scale, before the weights are scaled).
    fn compensate(
        &self,
        c: &mut Config,
        full: &Map<usize>,
        sqrt_k: f64,
    ) -> Result<(), ConfigError> {
        let mut dc: Map<f64> = Map::new();
        for (name, p) in &c.projections {
            let key = format!("projections.{name}");
            let tau = exponential_tau(c, &p.post, p.target.as_deref(), &key)?;
            let Some(count) = full_count(&p.connectivity, full[&p.pre], full[&p.post]) else {
                return err(format!(
                    "{key}.connectivity: a list file cannot be scaled (its count is unknown)"
                ));
            };
            let Some(rate) = self.rates_hz.get(&p.pre) else {
                return err(format!(
                    "scale.rates_hz.{}: required, the full-scale rate (Hz) of layer '{}' for the DC compensation of scale.k = {}",
                    p.pre, p.pre, self.k
                ));
            };
            let w = p.weights.as_ref().map_or(0.0, nominal_mean);
            *dc.entry(p.post.clone()).or_default() +=
                1e-3 * tau * (1.0 - sqrt_k) * w * count / full[&p.post] as f64 * rate;
        }
        for (name, q) in &c.poisson_inputs {
            let key = format!("poisson_inputs.{name}");
            let tau = exponential_tau(c, &q.layer, q.target.as_deref(), &key)?;
            *dc.entry(q.layer.clone()).or_default() +=
                1e-3 * tau * (1.0 - sqrt_k) * q.weight * q.inputs as f64 * q.rate_hz;
        }
        for (layer, i) in dc {
            if let Some(LayerConfig::Neuron(NeuronConfig::Iaf(l))) = c.layers.get_mut(&layer) {
                let Some(i_e) = l.i_e_pa.same() else {
                    return err(format!(
                        "layers.{layer}.i_e_pa: the DC compensation of scale.k adds {i} pA to it, so it must be one number for the layer, not per neuron"
                    ));
                };
                l.i_e_pa = (i_e + i).into();
            }
        }
        Ok(())
    }
}

/// The time constant (ms) of the exponential synaptic current `target` of
/// `iaf` layer `layer`, which input named `key` feeds; an error for any
/// other model or current (their compensation is not defined here).
fn exponential_tau(
    c: &Config,
    layer: &str,
    target: Option<&str>,
    key: &str,
) -> Result<f64, ConfigError> {
    let l = c.layer(layer, &format!("{key}.post"))?;
    let currents = match l {
        LayerConfig::Neuron(NeuronConfig::Iaf(m)) => {
            crate::neuron::LayerModel::synaptic_currents(m)
        }
        other => {
            return err(format!(
                "scale.k: the DC compensation is defined for iaf layers with exponential synapses; {key} feeds layer '{layer}' of kind {}",
                other.kind()
            ));
        }
    };
    let current = match target {
        Some(t) => currents.iter().find(|(n, _)| n == t),
        None => currents.first(),
    };
    match current {
        Some((_, s)) if s.current == CurrentModel::Exponential => Ok(s.tau_ms),
        Some((n, s)) => err(format!(
            "scale.k: the DC compensation needs exponential synapses; {key} feeds '{n}' of layer '{layer}', which is {}",
            s.current.name()
        )),
        None => err(format!(
            "{key}.target: layer '{layer}' has no such synaptic current"
        )),
    }
}
