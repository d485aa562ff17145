//! `connectivity = { kind = "from_file", path }`: a projection's synapses
//! from a CSV file, one per line after the header `pre,post,weight` or
//! `pre,post,weight,delay_ms` (0-based neuron indices, weights in nA,
//! delays in ms).

use std::path::Path;

use super::weights::{DelaySteps, Delays, Weights};
use crate::config::{Distribution, MAX_DELAY_STEPS, delay_steps};
use crate::param::{ConfigError, err};
use crate::rng;

/// The synapses of a list file, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionList {
    /// Presynaptic indices.
    pub pre: Vec<u32>,
    /// Postsynaptic indices.
    pub post: Vec<u32>,
    /// Weights (nA).
    pub weight: Vec<f32>,
    /// Delays (ms), where the file has the column.
    pub delay_ms: Option<Vec<f64>>,
}

impl ConnectionList {
    /// Reads `path` for a projection from `n_pre` to `n_post` neurons at
    /// time step `dt_ms` (a delay must be at most 65535 steps); `key` (the
    /// config key of the path) and the file's line start each error.
    pub fn read(
        path: &Path,
        n_pre: usize,
        n_post: usize,
        dt_ms: f64,
        key: &str,
    ) -> Result<ConnectionList, ConfigError> {
        let at = |line: usize| format!("{key}: {} line {line}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("{key}: cannot read {}: {e}", path.display())))?;
        let mut lines = text.lines().enumerate().map(|(k, l)| (k + 1, l.trim()));
        let header: Vec<&str> = lines
            .next()
            .map_or(vec![], |(_, h)| h.split(',').map(str::trim).collect());
        let delays = match header[..] {
            ["pre", "post", "weight"] => false,
            ["pre", "post", "weight", "delay_ms"] => true,
            _ => {
                return err(format!(
                    "{}: the header must be pre,post,weight or pre,post,weight,delay_ms",
                    at(1)
                ));
            }
        };
        let mut list = ConnectionList {
            pre: Vec::new(),
            post: Vec::new(),
            weight: Vec::new(),
            delay_ms: delays.then(Vec::new),
        };
        for (line, text) in lines.filter(|(_, l)| !l.is_empty()) {
            let fields: Vec<&str> = text.split(',').map(str::trim).collect();
            if fields.len() != header.len() {
                return err(format!(
                    "{}: {} fields, the header has {}",
                    at(line),
                    fields.len(),
                    header.len()
                ));
            }
            let index = |k: usize, n: usize, layer: &str| -> Result<u32, ConfigError> {
                match fields[k].parse::<u32>() {
                    Ok(v) if (v as usize) < n => Ok(v),
                    Ok(v) => err(format!(
                        "{}: {} {v} is out of range, the {layer} layer has {n} neurons",
                        at(line),
                        header[k]
                    )),
                    Err(_) => err(format!(
                        "{}: {} must be a neuron index (an integer >= 0), got '{}'",
                        at(line),
                        header[k],
                        fields[k]
                    )),
                }
            };
            let number = |k: usize| -> Result<f64, ConfigError> {
                match fields[k].parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => err(format!(
                        "{}: {} must be a finite number, got '{}'",
                        at(line),
                        header[k],
                        fields[k]
                    )),
                }
            };
            list.pre.push(index(0, n_pre, "pre")?);
            list.post.push(index(1, n_post, "post")?);
            list.weight.push(number(2)? as f32);
            if let Some(d) = &mut list.delay_ms {
                let ms = number(3)?;
                if ms <= 0.0 {
                    return err(format!("{}: delay_ms must be > 0, got {ms}", at(line)));
                }
                let steps = delay_steps(ms, dt_ms);
                if steps > MAX_DELAY_STEPS {
                    return err(format!(
                        "{}: delay_ms {ms} is {steps} steps of {dt_ms} ms, at most {MAX_DELAY_STEPS}",
                        at(line)
                    ));
                }
                d.push(ms);
            }
        }
        Ok(list)
    }

    /// The sparse weights of the list: synapses ordered by (pre, post),
    /// file order among equal pairs; weights from the file, or drawn from
    /// `init` in storage order from the `(seed, WEIGHTS, index, 0)` stream;
    /// delays from the file where `file_delays` and it has them, put on the
    /// grid of `dt_ms` ([`delay_steps`]). Returns the weights and the
    /// largest delay in steps (1 without the file's delays).
    pub fn weights(
        &self,
        init: Option<&Distribution>,
        file_delays: bool,
        n_pre: usize,
        (dt_ms, seed, index): (f64, u64, u64),
    ) -> (Weights, u32) {
        let mut order: Vec<usize> = (0..self.pre.len()).collect();
        order.sort_by_key(|&k| (self.pre[k], self.post[k]));
        let mut row_start = vec![0usize; n_pre + 1];
        for &j in &self.pre {
            row_start[j as usize + 1] += 1;
        }
        for j in 0..n_pre {
            row_start[j + 1] += row_start[j];
        }
        let post = order.iter().map(|&k| self.post[k]).collect();
        let w = match init {
            Some(Distribution::Constant { value }) => vec![*value as f32; order.len()],
            Some(d) => {
                let mut r = rng::stream(seed, rng::WEIGHTS, index, 0);
                order.iter().map(|_| d.sample(&mut r) as f32).collect()
            }
            None => order.iter().map(|&k| self.weight[k]).collect(),
        };
        let mut weights = Weights::sparse(row_start, post, w);
        let Some(ms) = self.delay_ms.as_ref().filter(|_| file_delays) else {
            return (weights, 1);
        };
        // Checked on reading: at most 65535 steps.
        let steps: Vec<u16> = order
            .iter()
            .map(|&k| delay_steps(ms[k], dt_ms) as u16)
            .collect();
        let min = steps.iter().copied().min().unwrap_or(1);
        let max = steps.iter().copied().max().unwrap_or(1);
        if min != max {
            let steps = if max <= u16::from(u8::MAX) {
                DelaySteps::U8(steps.iter().map(|&d| d as u8).collect())
            } else {
                DelaySteps::U16(steps)
            };
            if let Weights::Sparse { delays, .. } = &mut weights {
                *delays = Some(Delays {
                    max: u32::from(max),
                    steps,
                });
            }
        }
        (weights, u32::from(max))
    }
}
