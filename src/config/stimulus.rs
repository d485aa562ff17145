//! `[stimulus]`: images shown to an encoder layer, one after another.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, LayerConfig};
use crate::param::{ConfigError, err};

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
    /// Reset every neuron to its model's resting state (voltage, recovery
    /// variable, synaptic currents, refractory state) and drop pending
    /// input when a new image starts (default false). Thresholds are kept.
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

impl StimulusConfig {
    /// Checks ranges and that `layer` is an encoder layer of `c`.
    pub(crate) fn validate(&self, c: &Config) -> Result<(), ConfigError> {
        let s = self;
        let layer = c.layer(&s.layer, "stimulus.layer")?;
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
        Ok(())
    }
}
