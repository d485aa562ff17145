//! `[record]`: what goes into the HDF5 file, and when.
//!
//! ```toml
//! [record.spikes]
//! layers = "all"              # or ["hidden"]; [] records no spikes
//! start_ms = 0.0              # optional window [start_ms, stop_ms)
//!
//! [[record.traces]]
//! layer = "hidden"
//! vars = ["voltage", "threshold"]
//! neurons = { sample = 10 }   # "all", [0, 5], { start = 0, stop = 100, step = 10 }
//! every = 5                   # sample every 5 steps
//!
//! [record.rates]
//! layers = ["hidden"]
//! bin_ms = 10.0
//!
//! [[record.weights]]
//! projection = "input_hidden"
//! every_samples = 10          # plus the initial and final weights
//!
//! [record.samples]
//! layers = "all"              # spike counts per neuron per image
//! ```

use serde::{Deserialize, Serialize};
use std::fmt;

use super::{Config, ConfigError};
use crate::param::{err, non_negative, positive};

/// `[record]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// Most steps buffered before a block goes to the writer thread (default
    /// 1000, >= 1); a block is also sent early once it holds 4 MiB.
    pub block_steps: u64,
    /// Which datasets are compressed, losslessly (default `"sonata"`; see
    /// [`Compression`]).
    pub compress: Compression,
    /// Which layers' spikes, and when.
    pub spikes: SpikeRecord,
    /// State traces, `[[record.traces]]`.
    pub traces: Vec<TraceConfig>,
    /// Binned population spike counts.
    pub rates: RateRecord,
    /// Weight snapshots, `[[record.weights]]`.
    pub weights: Vec<WeightRecord>,
    /// Per-sample results of the stimulus (ignored without a stimulus).
    pub samples: SampleRecord,
}

impl Default for RecordConfig {
    fn default() -> Self {
        Self {
            block_steps: 1000,
            compress: Compression::default(),
            spikes: SpikeRecord::default(),
            traces: Vec::new(),
            rates: RateRecord::default(),
            weights: Vec::new(),
            samples: SampleRecord::default(),
        }
    }
}

/// `record.compress`: which datasets are compressed. Every filter is
/// lossless and used only where the HDF5 library has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `"sonata"` (or `true`; the default): a file every SONATA reader
    /// opens, also one whose HDF5 lacks deflate (the libsonata wheel on
    /// PyPI). Spike `node_ids` are packed by HDF5's built-in integer
    /// scale-offset filter, the datasets only spikesim reads (rates,
    /// weights, samples, results, state) are deflated; spike `timestamps`
    /// and report `data` are raw.
    #[default]
    Sonata,
    /// `"all"`: deflate on every dataset, spike `timestamps` and `node_ids`
    /// and report `data` included: the smallest file, which readers whose
    /// HDF5 lacks deflate cannot read.
    All,
    /// `"none"` (or `false`): no dataset is filtered.
    None,
}

impl Compression {
    /// The names of the choices, as the config writes them.
    const NAMES: [(&str, Compression); 3] = [
        ("sonata", Compression::Sonata),
        ("all", Compression::All),
        ("none", Compression::None),
    ];

    /// The choice's name, as the config writes it.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(name, _)| *name)
            .expect("every choice is named")
    }
}

impl Serialize for Compression {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Compression;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"sonata\" (true), \"all\" or \"none\" (false)")
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(if b {
                    Compression::Sonata
                } else {
                    Compression::None
                })
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Compression::NAMES
                    .iter()
                    .find(|(name, _)| *name == s)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[record.spikes]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpikeRecord {
    /// `"all"` (default) or a list of layer names; `[]` records none.
    pub layers: LayerSelection,
    /// Start of the window in ms (default 0, inclusive).
    pub start_ms: f64,
    /// End of the window in ms (default: end of run, exclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<f64>,
}

impl Default for SpikeRecord {
    fn default() -> Self {
        Self {
            layers: LayerSelection::All,
            start_ms: 0.0,
            stop_ms: None,
        }
    }
}

/// `[[record.traces]]`: variables of chosen neurons of a layer, sampled
/// at the end of a step (after spike, reset and threshold adaptation) at
/// steps `start + k·every` inside the window.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// Neuron layer name.
    pub layer: String,
    /// Recordable variables of the layer's model (LIF: `voltage`,
    /// `current`, `threshold`, `theta`, `input`; Izhikevich: `voltage`, `u`,
    /// `current`, `input`; AdEx: `voltage`, `w`, `current`, `input`).
    pub vars: Vec<String>,
    /// Which neurons (default `"all"`).
    #[serde(default)]
    pub neurons: NeuronSelection,
    /// Sample every `every` steps (default 1, >= 1).
    #[serde(default = "one")]
    pub every: u64,
    /// Start of the window in ms (default 0, inclusive).
    #[serde(default)]
    pub start_ms: f64,
    /// End of the window in ms (default: end of run, exclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<f64>,
}

fn one() -> u64 {
    1
}

/// `[record.rates]`: spike counts of whole layers per time bin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateRecord {
    /// `"all"` or a list of layer names (default `[]`: none).
    pub layers: LayerSelection,
    /// Bin width in ms (default 1.0, > 0; rounded to whole steps; >= dt
    /// when rates are recorded). A final partial bin is not written.
    pub bin_ms: f64,
}

impl Default for RateRecord {
    fn default() -> Self {
        Self {
            layers: LayerSelection::Names(Vec::new()),
            bin_ms: 1.0,
        }
    }
}

/// `[[record.weights]]`: snapshots of one projection's weights: before the
/// first step, after the last, and after every `every_samples` samples.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightRecord {
    /// Projection name.
    pub projection: String,
    /// Snapshot period in samples (default 0: initial and final only; needs a stimulus).
    #[serde(default)]
    pub every_samples: u64,
}

/// `[record.samples]`: for each image shown, its dataset index, label, start
/// time and the spike count of every neuron of the chosen layers while it
/// was shown (its steps and rest). Only complete samples are written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleRecord {
    /// `"all"` (default) or a list of layer names; `[]` turns it off.
    pub layers: LayerSelection,
}

impl Default for SampleRecord {
    fn default() -> Self {
        Self {
            layers: LayerSelection::All,
        }
    }
}

/// `"all"` or a list of layer names.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerSelection {
    /// Every layer, in config order.
    All,
    /// These layers.
    Names(Vec<String>),
}

impl LayerSelection {
    /// Whether the layer called `name` is selected.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            LayerSelection::All => true,
            LayerSelection::Names(v) => v.iter().any(|n| n == name),
        }
    }
}

/// Which neurons of a layer a trace records.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum NeuronSelection {
    /// `"all"`: every neuron.
    #[default]
    All,
    /// `[i, j, ...]`: these indices, in this order.
    List(Vec<u64>),
    /// `{ start = a, stop = b, step = k }`: `a, a+k, ... < b` (defaults 0, size, 1);
    /// `{ step = k }` is every k-th neuron.
    Range {
        /// First index.
        start: u64,
        /// End, exclusive (default: the layer size).
        stop: Option<u64>,
        /// Stride, >= 1.
        step: u64,
    },
    /// `{ sample = k }`: `k` distinct neurons drawn with the run's seed, ascending.
    Sample(u64),
}

impl NeuronSelection {
    /// The selected indices of a layer of `size` neurons; `draw(k)` picks
    /// `k` distinct indices for `Sample`.
    pub fn indices(&self, size: usize, draw: impl FnOnce(usize) -> Vec<u32>) -> Vec<u64> {
        match self {
            NeuronSelection::All => (0..size as u64).collect(),
            NeuronSelection::List(v) => v.clone(),
            NeuronSelection::Range { start, stop, step } => (*start..stop.unwrap_or(size as u64))
                .step_by(*step as usize)
                .collect(),
            NeuronSelection::Sample(k) => draw(*k as usize).into_iter().map(|i| i as u64).collect(),
        }
    }
}

impl Serialize for LayerSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            LayerSelection::All => s.serialize_str("all"),
            LayerSelection::Names(v) => v.serialize(s),
        }
    }
}

impl Serialize for NeuronSelection {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            NeuronSelection::All => s.serialize_str("all"),
            NeuronSelection::List(v) => v.serialize(s),
            NeuronSelection::Range { start, stop, step } => {
                let mut m = s.serialize_map(None)?;
                m.serialize_entry("start", start)?;
                if let Some(stop) = stop {
                    m.serialize_entry("stop", stop)?;
                }
                m.serialize_entry("step", step)?;
                m.end()
            }
            NeuronSelection::Sample(k) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("sample", k)?;
                m.end()
            }
        }
    }
}

/// The keyword `"all"`, or else an error saying what is allowed.
fn all_keyword<E: serde::de::Error>(s: &str, expected: &dyn serde::de::Expected) -> Result<(), E> {
    if s == "all" {
        Ok(())
    } else {
        Err(E::invalid_value(serde::de::Unexpected::Str(s), expected))
    }
}

impl<'de> Deserialize<'de> for LayerSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = LayerSelection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"all\" or a list of layer names")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                all_keyword(s, &self).map(|()| LayerSelection::All)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(LayerSelection::Names)
            }
        }
        d.deserialize_any(V)
    }
}

/// The table forms of a neuron selection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectionTable {
    start: Option<u64>,
    stop: Option<u64>,
    step: Option<u64>,
    sample: Option<u64>,
}

impl<'de> Deserialize<'de> for NeuronSelection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NeuronSelection;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "\"all\", a list of neuron indices, { start, stop, step } or { sample = k }",
                )
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                all_keyword(s, &self).map(|()| NeuronSelection::All)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(NeuronSelection::List)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                let t =
                    SelectionTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                match t {
                    SelectionTable {
                        sample: Some(k),
                        start: None,
                        stop: None,
                        step: None,
                    } => Ok(NeuronSelection::Sample(k)),
                    SelectionTable {
                        sample: None,
                        start,
                        stop,
                        step,
                    } => Ok(NeuronSelection::Range {
                        start: start.unwrap_or(0),
                        stop,
                        step: step.unwrap_or(1),
                    }),
                    _ => Err(serde::de::Error::custom(
                        "`sample` cannot be combined with start, stop or step",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A window `[start_ms, stop_ms)` as steps `[first, end)` at time step `dt`:
/// the steps `n` with `start_ms <= n·dt < stop_ms`.
pub fn window_steps(start_ms: f64, stop_ms: Option<f64>, dt_ms: f64) -> (u64, u64) {
    let step = |ms: f64| (ms / dt_ms).ceil() as u64;
    (step(start_ms), stop_ms.map_or(u64::MAX, step))
}

fn check_window(key: &str, start_ms: f64, stop_ms: Option<f64>) -> Result<(), ConfigError> {
    non_negative(&format!("{key}.start_ms"), start_ms)?;
    match stop_ms {
        Some(stop) if stop.is_nan() || stop <= start_ms => err(format!(
            "{key}.stop_ms: must be > start_ms ({start_ms}), got {stop}"
        )),
        _ => Ok(()),
    }
}

fn check_layers(c: &Config, key: &str, sel: &LayerSelection) -> Result<(), ConfigError> {
    if let LayerSelection::Names(names) = sel {
        for name in names {
            c.layer(name, key)?;
        }
    }
    Ok(())
}

impl RecordConfig {
    /// Checks ranges and names against the rest of the config.
    pub(crate) fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        if self.block_steps == 0 {
            return err("record.block_steps: must be >= 1");
        }
        check_layers(c, "record.spikes.layers", &self.spikes.layers)?;
        check_window("record.spikes", self.spikes.start_ms, self.spikes.stop_ms)?;
        for (t, tr) in self.traces.iter().enumerate() {
            let key = |f: &str| format!("record.traces[{t}].{f}");
            let layer = c.layer(&tr.layer, &key("layer"))?;
            let Some(model) = layer.neuron() else {
                return err(format!(
                    "{}: layer '{}' is an encoder; traces are recorded from neuron layers",
                    key("layer"),
                    tr.layer
                ));
            };
            let recordables = model.recordables();
            let names: Vec<&str> = recordables.iter().map(|r| &*r.name).collect();
            if tr.vars.is_empty() {
                return err(format!(
                    "{}: list at least one of {}",
                    key("vars"),
                    names.join(", ")
                ));
            }
            for (v, var) in tr.vars.iter().enumerate() {
                if !names.contains(&var.as_str()) {
                    return err(format!(
                        "{}: layer '{}' ({}) records {}; not '{var}'",
                        key(&format!("vars[{v}]")),
                        tr.layer,
                        layer.kind(),
                        names.join(", ")
                    ));
                }
                // One report per (layer, variable): `/report/<layer>/<var>`.
                let earlier = self.traces[..t]
                    .iter()
                    .position(|o| o.layer == tr.layer && o.vars.contains(var));
                if let Some(o) = earlier.or(tr.vars[..v].contains(var).then_some(t)) {
                    return err(format!(
                        "{}: '{var}' of layer '{}' is already recorded by record.traces[{o}]; one trace per layer and variable",
                        key(&format!("vars[{v}]")),
                        tr.layer
                    ));
                }
            }
            if tr.every == 0 {
                return err(format!("{}: must be >= 1", key("every")));
            }
            check_window(&format!("record.traces[{t}]"), tr.start_ms, tr.stop_ms)?;
            let size = layer.size() as u64;
            let bad = match &tr.neurons {
                NeuronSelection::All => None,
                NeuronSelection::List(ids) => ids
                    .iter()
                    .find(|&&i| i >= size)
                    .map(|i| format!("neuron {i} does not exist")),
                NeuronSelection::Range { start, stop, step } => {
                    let stop = stop.unwrap_or(size);
                    if *step == 0 {
                        Some("step must be >= 1".into())
                    } else if stop > size || *start >= stop {
                        Some(format!("range {start}..{stop} is empty or out of range"))
                    } else {
                        None
                    }
                }
                NeuronSelection::Sample(k) if *k == 0 || *k > size => {
                    Some(format!("sample of {k} neurons"))
                }
                NeuronSelection::Sample(_) => None,
            };
            if let Some(why) = bad {
                return err(format!(
                    "{}: {why}; layer '{}' has neurons 0..{size}",
                    key("neurons"),
                    tr.layer
                ));
            }
        }
        check_layers(c, "record.rates.layers", &self.rates.layers)?;
        positive("record.rates.bin_ms", self.rates.bin_ms)?;
        // Only recorded rates have bins: the default 1 ms bin of a run that
        // records none must not reject a longer time step.
        let rates_recorded = c.layers.keys().any(|name| self.rates.layers.contains(name));
        if rates_recorded && self.rates.bin_ms < c.simulation.dt_ms {
            return err(format!(
                "record.rates.bin_ms: must be >= dt_ms ({}), got {}",
                c.simulation.dt_ms, self.rates.bin_ms
            ));
        }
        for (w, wr) in self.weights.iter().enumerate() {
            if !c.projections.contains_key(&wr.projection) {
                let known: Vec<&str> = c.projections.keys().map(String::as_str).collect();
                return err(format!(
                    "record.weights[{w}].projection: unknown projection '{}'; projections are: {}",
                    wr.projection,
                    known.join(", ")
                ));
            }
            match &c.stimulus {
                None if wr.every_samples > 0 => {
                    return err(format!(
                        "record.weights[{w}].every_samples: needs a [stimulus]; use 0 for initial and final weights only"
                    ));
                }
                Some(s) if wr.every_samples.checked_mul(s.period()).is_none() => {
                    return err(format!(
                        "record.weights[{w}].every_samples: {} samples × {} steps (steps_per_image + rest_steps) is more than {} steps",
                        wr.every_samples,
                        s.period(),
                        super::MAX_STEPS
                    ));
                }
                _ => {}
            }
        }
        check_layers(c, "record.samples.layers", &self.samples.layers)
    }
}

#[cfg(test)]
mod tests {
    use super::Compression;
    use crate::config::Config;

    #[test]
    fn compress_takes_a_name_or_a_bool() {
        let base = "[simulation]\nsteps = 1\n[layers.a]\nkind = \"lif\"\nsize = 2\n";
        let compress = |set: &str| {
            Config::from_toml(base, &[format!("record.compress={set}")]).map(|c| c.record.compress)
        };
        assert_eq!(
            Config::from_toml(base, &[]).unwrap().record.compress,
            Compression::Sonata
        );
        for (set, expected) in [
            ("true", Compression::Sonata),
            ("false", Compression::None),
            ("sonata", Compression::Sonata),
            ("all", Compression::All),
            ("none", Compression::None),
        ] {
            assert_eq!(compress(set).unwrap(), expected, "{set}");
        }
        let e = compress("deflate").unwrap_err().0;
        assert!(
            e.starts_with("record.compress: invalid value: string \"deflate\", expected \"sonata\" (true), \"all\" or \"none\" (false)"),
            "{e}"
        );
        // The resolved config names the choice.
        let c = Config::from_toml(base, &["record.compress=false".into()]).unwrap();
        assert!(
            c.to_toml().contains("compress = \"none\""),
            "{}",
            c.to_toml()
        );
    }

    #[test]
    fn a_layer_and_variable_traced_twice_is_named() {
        // The same (layer, var) in two traces, or twice in one: `run` used to
        // find it only when creating the file, after `validate` said ok.
        let base = "[simulation]\nsteps = 1\n[layers.a]\nkind = \"lif\"\nsize = 2\n";
        let two = format!(
            "{base}[[record.traces]]\nlayer = \"a\"\nvars = [\"voltage\"]\n[[record.traces]]\nlayer = \"a\"\nvars = [\"current\", \"voltage\"]\nneurons = [1]\n"
        );
        let e = Config::from_toml(&two, &[]).unwrap_err();
        assert_eq!(
            e.0,
            "record.traces[1].vars[1]: 'voltage' of layer 'a' is already recorded by record.traces[0]; one trace per layer and variable"
        );
        let one =
            format!("{base}[[record.traces]]\nlayer = \"a\"\nvars = [\"voltage\", \"voltage\"]\n");
        let e = Config::from_toml(&one, &[]).unwrap_err();
        assert!(
            e.0.starts_with("record.traces[0].vars[1]: 'voltage'"),
            "{e}"
        );
    }
}
