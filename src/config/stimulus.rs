//! `[stimulus]`: images shown to an encoder layer, one after another.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Config, LayerConfig};
use crate::data::synthetic;
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
    /// IDX files in `path` if present, else the synthetic digits (with a
    /// note). The images file without its labels file, or the labels without
    /// the images, is an error, as with `idx`.
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
    /// Number of images shown, from the first (required, >= 1, at most the
    /// set's size; generated images, `synthetic` or `sparse_random` or
    /// `auto` without IDX files, take 784 bytes each, which must fit in memory).
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
    ///
    /// # Panics
    /// If `steps_per_image + rest_steps` is more than `u64::MAX`, which
    /// [`Config::validate`] rejects.
    pub fn period(&self) -> u64 {
        self.checked_period()
            .expect("validated: steps_per_image + rest_steps fits in u64")
    }

    /// `steps_per_image + rest_steps`, or `None` past `u64::MAX`.
    pub fn checked_period(&self) -> Option<u64> {
        self.steps_per_image.checked_add(self.rest_steps)
    }

    /// The default run length, `images × (steps_per_image + rest_steps)`,
    /// or `None` past `u64::MAX`.
    pub fn checked_steps(&self) -> Option<u64> {
        u64::try_from(self.images)
            .ok()?
            .checked_mul(self.checked_period()?)
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
        if s.dataset != DatasetKind::Idx && synthetic::pixel_bytes(s.images).is_none() {
            return err(format!(
                "stimulus.images: {} images × {} pixels is more bytes than a process can hold (2^63 - 1)",
                s.images,
                synthetic::PIXELS
            ));
        }
        if s.steps_per_image == 0 {
            return err("stimulus.steps_per_image: must be >= 1");
        }
        let Some(period) = s.checked_period() else {
            return err(format!(
                "stimulus.rest_steps: steps_per_image ({}) + rest_steps ({}) is more than {} steps",
                s.steps_per_image,
                s.rest_steps,
                super::MAX_STEPS
            ));
        };
        if c.simulation.steps.is_none() && s.checked_steps().is_none() {
            return err(format!(
                "stimulus.images: {} images × {period} steps (steps_per_image + rest_steps) is more than {} steps; set fewer images or simulation.steps",
                s.images,
                super::MAX_STEPS
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_INPUT: &str = r#"
        [layers.input]
        kind = "encoder"
        size = 784
        [stimulus]
        layer = "input"
        images = 4
    "#;

    #[test]
    fn the_run_length_is_checked_arithmetic() {
        let mut c = Config::from_toml(ONE_INPUT, &[]).unwrap();
        let s = c.stimulus.as_mut().unwrap();
        // 4 × (2^62 + 25) = 2^64 + 100 wraps; 3 × it fits.
        s.steps_per_image = (1 << 62) + 25;
        assert_eq!(s.checked_steps(), None);
        s.images = 3;
        assert_eq!(s.checked_steps(), Some(3 * ((1 << 62) + 25)));
        // TOML cannot write these, but a config built in code can.
        s.steps_per_image = u64::MAX;
        s.rest_steps = 1;
        assert_eq!(s.checked_period(), None);
        assert_eq!(s.checked_steps(), None);
        assert_eq!(
            c.validate().unwrap_err().0,
            "stimulus.rest_steps: steps_per_image (18446744073709551615) + rest_steps (1) is more than 2^64 - 1 (18446744073709551615) steps"
        );
        assert_eq!(c.checked_steps(), None);
        c.simulation.steps = Some(7);
        assert_eq!(c.steps(), 7);
    }
}
