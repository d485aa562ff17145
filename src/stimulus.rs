//! The stimulus: images "stretched in time", each held on the stimulus
//! encoder layer for `steps_per_image` steps, then `rest_steps` of silence.
//! Image `k` (0-based, wrapping around the set) starts at step
//! `k · (steps_per_image + rest_steps)`.

use bevy_ecs::prelude::*;

use crate::config::{DatasetKind, StimulusConfig};
use crate::data::{self, DataError, ImageSet};
use crate::encoder::Intensity;
use crate::layer::{Layer, LayerSpikes};
use crate::neuron::input::InputRing;
use crate::step::Clock;
use crate::synapse::stdp::Stdp;

/// The images and their schedule. Read by `present`.
#[derive(Resource, Debug)]
pub struct Stimulus {
    /// The image set (pixels 0..=255).
    pub images: ImageSet,
    /// The encoder layer entity that receives them.
    pub layer: Entity,
    /// Pixel value that maps to intensity 1: the set's largest pixel (255 for
    /// MNIST, 16 for digits8x8).
    pub max_pixel: f32,
    /// Images shown (the first `count` of the set).
    pub count: usize,
    /// Steps each image is held.
    pub steps_per_image: u64,
    /// Silent steps after each image.
    pub rest_steps: u64,
    /// Reset every neuron (its model's resting state) when a new image starts.
    pub reset_between: bool,
}

impl Stimulus {
    /// Steps from the start of one image to the start of the next.
    ///
    /// # Panics
    /// If `steps_per_image + rest_steps` is more than `u64::MAX` (a
    /// validated config's is not).
    pub fn period(&self) -> u64 {
        self.steps_per_image
            .checked_add(self.rest_steps)
            .expect("validated: steps_per_image + rest_steps fits in u64")
    }
}

/// Loads the images a stimulus config names. Returns the set and, when
/// `dataset = "auto"` fell back to the synthetic digits (neither IDX file
/// of the split is in `path`), a note saying so. With only one of the two
/// files there, `auto` fails like `idx` ([`DataError::Incomplete`]).
pub fn load_images(c: &StimulusConfig, seed: u64) -> Result<(ImageSet, Option<String>), DataError> {
    let synthetic = || data::synthetic_digits(c.images, seed);
    let set = match c.dataset {
        DatasetKind::Synthetic => (synthetic(), None),
        DatasetKind::SparseRandom => (data::sparse_random(c.images, seed), None),
        DatasetKind::Idx => (data::load_split(&c.path, &c.split)?, None),
        DatasetKind::Auto => match data::load_split(&c.path, &c.split) {
            Ok(set) => (set, None),
            Err(DataError::NotFound { .. }) => (
                synthetic(),
                Some(format!(
                    "note: no IDX dataset at {} (run datasets/fetch-mnist.sh for MNIST); using the built-in synthetic digits",
                    c.path.display()
                )),
            ),
            Err(e) => return Err(e),
        },
    };
    Ok(set)
}

/// Sets the stimulus layer's intensities when an image starts or its rest
/// begins.
pub fn present(
    clock: Res<Clock>,
    stimulus: Option<Res<Stimulus>>,
    layers: Query<&Layer>,
    mut encoders: Query<&mut Intensity>,
) {
    let Some(s) = stimulus else { return };
    let period = s.period();
    let (k, phase) = (clock.step / period, clock.step % period);
    let members = &layers.get(s.layer).expect("stimulus layer").members;
    if phase == 0 {
        let image = s.images.image(k as usize % s.count);
        for (&e, &px) in members.iter().zip(image) {
            encoders.get_mut(e).expect("encoder").0 = px as f32 / s.max_pixel;
        }
    } else if phase == s.steps_per_image {
        for &e in members {
            encoders.get_mut(e).expect("encoder").0 = 0.0;
        }
    }
}

/// Puts every neuron of every model back at rest and drops pending input;
/// thresholds are kept.
pub fn reset_neurons(world: &mut World) {
    crate::neuron::reset(world);
    for mut ring in world.query::<&mut InputRing>().iter_mut(world) {
        ring.clear();
    }
}

/// With `reset_between`: at the start of every image but the first, the
/// neurons are reset ([`reset_neurons`]). Scheduled only for such stimuli.
pub fn reset_between_images(world: &mut World) {
    let step = world.resource::<Clock>().step;
    let s = world.resource::<Stimulus>();
    if step > 0 && step.is_multiple_of(s.period()) {
        reset_neurons(world);
    }
}

/// Resets the neurons ([`reset_neurons`]), forgets the spikes of the last
/// step (which would otherwise be delivered at the next one) and sets STDP
/// traces back to 0: the state before a protocol's presentation.
pub fn reset_state(world: &mut World) {
    reset_neurons(world);
    for mut s in world.query::<&mut LayerSpikes>().iter_mut(world) {
        s.previous.clear();
        s.current.clear();
    }
    for mut s in world.query::<&mut Stdp>().iter_mut(world) {
        s.clear();
    }
}
