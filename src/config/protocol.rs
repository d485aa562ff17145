//! `[protocol]`: unsupervised learning and classification in one run
//! (train, assign, evaluate), as in Diehl & Cook (2015). See
//! [`crate::protocol`] for what each phase does.
//!
//! ```toml
//! [protocol]
//! input = "input"            # Poisson encoder layer shown the images
//! output = "exc"             # neuron layer whose spikes classify
//! path = "../shared/datasets/mnist"
//! steps_per_image = 700      # 350 ms at dt = 0.5 ms
//! rest_steps = 0
//! [protocol.train]
//! split = "train"
//! images = 60000
//! [protocol.assign]
//! split = "train"
//! images = 10000
//! [protocol.evaluate]
//! split = "t10k"
//! images = 10000
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError, Encoding, LayerConfig};
use crate::param::{err, non_negative};

/// `[protocol]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolConfig {
    /// Encoder layer that is shown the images (required; its size must equal
    /// the pixels per image).
    pub input: String,
    /// Neuron layer whose per-neuron spike counts classify (required).
    pub output: String,
    /// Directory of the IDX files (default `datasets/mnist`, relative to the
    /// working directory).
    #[serde(default = "default_path")]
    pub path: PathBuf,
    /// Steps each image is shown (default 350, >= 1).
    #[serde(default = "default_steps_per_image")]
    pub steps_per_image: u64,
    /// Silent steps after each presentation (default 0).
    #[serde(default)]
    pub rest_steps: u64,
    /// Reset voltages, currents, refractory state, pending input and STDP
    /// traces before each presentation (default true; thresholds are kept).
    #[serde(default = "yes")]
    pub reset: bool,
    /// An image that drives fewer output spikes than this is shown again,
    /// with more input (default 5; 0 = never).
    #[serde(default = "default_min_spikes")]
    pub min_spikes: u32,
    /// Input rate added at each re-presentation, in Hz of a fully bright
    /// pixel (default 32.0, >= 0; the input layer must be `poisson`).
    #[serde(default = "default_boost_hz")]
    pub boost_hz: f64,
    /// Most presentations of one image (default 10, 1 to 255).
    #[serde(default = "default_max_presentations")]
    pub max_presentations: u32,
    /// Training images per refresh of the running accuracy estimate: labels
    /// are assigned from one window's responses and predict the next
    /// window's (default 1000, >= 1).
    #[serde(default = "default_window")]
    pub window: usize,
    /// A finished run's output file to start from: its weights and
    /// thresholds (`/state`) and assignments replace the initial ones, and
    /// training is skipped (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<PathBuf>,
    /// Training: learning and threshold adaptation on.
    #[serde(default)]
    pub train: PhaseConfig,
    /// Label assignment: learning and adaptation off.
    #[serde(default)]
    pub assign: PhaseConfig,
    /// Evaluation: learning and adaptation off; images run in parallel.
    #[serde(default)]
    pub evaluate: PhaseConfig,
}

/// `[protocol.train|assign|evaluate]`: which images a phase shows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PhaseConfig {
    /// File prefix of the split: `train`, `t10k`, or `digits` (default `train`).
    pub split: Option<String>,
    /// Images shown, from `offset` (default 0 = skip the phase).
    pub images: usize,
    /// Index of the first image (default 0).
    pub offset: usize,
    /// Passes over the images (training only; default 1).
    pub epochs: Option<usize>,
}

impl PhaseConfig {
    /// The split's file prefix.
    pub fn split(&self) -> &str {
        self.split.as_deref().unwrap_or("train")
    }

    /// Passes over the images.
    pub fn epochs(&self) -> usize {
        self.epochs.unwrap_or(1)
    }
}

fn default_path() -> PathBuf {
    PathBuf::from("datasets/mnist")
}
fn default_steps_per_image() -> u64 {
    350
}
fn yes() -> bool {
    true
}
fn default_min_spikes() -> u32 {
    5
}
fn default_boost_hz() -> f64 {
    32.0
}
fn default_max_presentations() -> u32 {
    10
}
fn default_window() -> usize {
    1000
}

impl ProtocolConfig {
    /// Steps from the start of one presentation to the start of the next.
    ///
    /// # Panics
    /// If `steps_per_image + rest_steps` is more than `u64::MAX`, which
    /// [`Config::validate`](super::Config::validate) rejects.
    pub fn period(&self) -> u64 {
        self.checked_period()
            .expect("validated: steps_per_image + rest_steps fits in u64")
    }

    /// `steps_per_image + rest_steps`, or `None` past `u64::MAX`.
    pub fn checked_period(&self) -> Option<u64> {
        self.steps_per_image.checked_add(self.rest_steps)
    }

    /// Presentations planned (one per image and epoch, before re-presentations).
    ///
    /// # Panics
    /// If there are more than `u64::MAX`, which
    /// [`Config::validate`](super::Config::validate) rejects.
    pub fn planned_images(&self) -> u64 {
        self.checked_planned_images()
            .expect("validated: the planned presentations fit in u64")
    }

    /// Presentations planned, or `None` past `u64::MAX`.
    pub fn checked_planned_images(&self) -> Option<u64> {
        let t = &self.train;
        let count = |n: usize| u64::try_from(n).ok();
        let train = if self.load.is_some() {
            0
        } else {
            count(t.images)?.checked_mul(count(t.epochs())?)?
        };
        train
            .checked_add(count(self.assign.images)?)?
            .checked_add(count(self.evaluate.images)?)
    }

    /// Steps of the planned presentations, `planned_images() × period()`
    /// (re-presentations add to it), or `None` past `u64::MAX`.
    pub fn checked_steps(&self) -> Option<u64> {
        self.checked_planned_images()?
            .checked_mul(self.checked_period()?)
    }

    pub(crate) fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        if c.stimulus.is_some() {
            return err("protocol: a run has either a [stimulus] or a [protocol], not both");
        }
        if c.simulation.steps.is_some() {
            return err(
                "simulation.steps: not allowed with a [protocol] (its phases set the length)",
            );
        }
        match c.layers.get(&self.input) {
            Some(LayerConfig::Encoder(e)) => {
                if e.encoding != Encoding::Poisson && self.boost_hz > 0.0 && self.min_spikes > 0 {
                    return err(format!(
                        "protocol.boost_hz: needs a poisson input layer ('{}' is bernoulli); set boost_hz = 0 or min_spikes = 0",
                        self.input
                    ));
                }
            }
            _ => {
                return err(format!(
                    "protocol.input: '{}' is not an encoder layer of this config",
                    self.input
                ));
            }
        }
        if c.layers
            .get(&self.output)
            .and_then(LayerConfig::neuron)
            .is_none()
        {
            return err(format!(
                "protocol.output: '{}' is not a neuron layer of this config",
                self.output
            ));
        }
        if self.steps_per_image == 0 {
            return err("protocol.steps_per_image: must be >= 1");
        }
        non_negative("protocol.boost_hz", self.boost_hz)?;
        if !(1..=255).contains(&self.max_presentations) {
            return err(format!(
                "protocol.max_presentations: must be between 1 and 255, got {}",
                self.max_presentations
            ));
        }
        if self.window == 0 {
            return err("protocol.window: must be >= 1");
        }
        if self.train.epochs() == 0 {
            return err("protocol.train.epochs: must be >= 1");
        }
        for (name, p) in [("assign", &self.assign), ("evaluate", &self.evaluate)] {
            if p.epochs.is_some() {
                return err(format!("protocol.{name}.epochs: only training has epochs"));
            }
        }
        if self.evaluate.images > 0 && self.assign.images == 0 && self.load.is_none() {
            return err(
                "protocol.assign.images: evaluation needs assigned labels: assign on >= 1 image or load a checkpoint",
            );
        }
        let t = &self.train;
        let Some(planned) = self.checked_planned_images() else {
            return err(format!(
                "protocol.train.images: {} images × {} epochs + {} + {} images (assign, evaluate) is more than {} presentations",
                t.images,
                t.epochs(),
                self.assign.images,
                self.evaluate.images,
                super::MAX_STEPS
            ));
        };
        let Some(period) = self.checked_period() else {
            return err(format!(
                "protocol.rest_steps: steps_per_image ({}) + rest_steps ({}) is more than {} steps",
                self.steps_per_image,
                self.rest_steps,
                super::MAX_STEPS
            ));
        };
        if self.checked_steps().is_none() {
            return err(format!(
                "protocol.steps_per_image: {planned} presentations (train.images × epochs + assign.images + evaluate.images) × {period} steps (steps_per_image + rest_steps) is more than {} steps",
                super::MAX_STEPS
            ));
        }
        if planned == 0 {
            return err(
                "protocol: no phase has images (set train.images, assign.images or evaluate.images)",
            );
        }
        Ok(())
    }
}
