//! Presenting samples: images are "stretched in time", each held on the
//! stimulus encoder layer for `steps_per_image` steps, then `rest_steps` of
//! silence. Image `k` (0-based, wrapping around the set) starts at step
//! `k · (steps_per_image + rest_steps)`.

use bevy_ecs::prelude::*;

use crate::config::{DatasetKind, StimulusConfig};
use crate::data::{self, DataError, ImageSet};
use crate::encoder::Intensity;
use crate::layer::{InLayer, Layer, LayerSpikes};
use crate::neuron::{Current, Current2, LifParams, Refractory, Voltage};
use crate::step::Clock;
use crate::synapse::InputRing;
use crate::synapse::stdp::Stdp;

pub mod learning;

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
    /// Reset LIF state when a new image starts.
    pub reset_between: bool,
}

impl Stimulus {
    /// Steps from the start of one image to the start of the next.
    pub fn period(&self) -> u64 {
        self.steps_per_image + self.rest_steps
    }
}

/// Loads the images a stimulus config names. Returns the set and, when
/// `dataset = "auto"` fell back to the synthetic digits, a note saying so.
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
/// begins, and resets LIF state between images if asked.
/// A LIF neuron's state that a reset clears.
type NeuronState<'a> = (
    &'a InLayer,
    &'a mut Voltage,
    &'a mut Current,
    Option<&'a mut Current2>,
    &'a mut Refractory,
);

/// Puts every LIF neuron back at rest (voltage `v_rest`, currents 0, not
/// refractory) and drops pending input; thresholds are kept.
fn reset_neurons(
    params: &Query<&LifParams>,
    neurons: &mut Query<NeuronState>,
    rings: &mut Query<&mut InputRing>,
) {
    for (at, mut v, mut j, j2, mut r) in neurons {
        v.0 = params.get(at.layer).expect("LIF layer").v_rest;
        *j = Current::default();
        if let Some(mut j2) = j2 {
            *j2 = Current2::default();
        }
        *r = Refractory(0);
    }
    for mut ring in rings {
        ring.clear();
    }
}

/// Resets the neurons as `present` does between images, forgets the spikes of the last step (which would
/// otherwise be delivered at the next one) and sets STDP traces back to 0:
/// the state before a protocol's presentation.
pub fn reset_state(
    params: Query<&LifParams>,
    mut neurons: Query<NeuronState>,
    mut rings: Query<&mut InputRing>,
    mut spikes: Query<&mut LayerSpikes>,
    mut stdp: Query<&mut Stdp>,
) {
    reset_neurons(&params, &mut neurons, &mut rings);
    for mut s in &mut spikes {
        s.previous.clear();
        s.current.clear();
    }
    for mut s in &mut stdp {
        s.clear();
    }
}

#[allow(clippy::too_many_arguments)]
pub fn present(
    clock: Res<Clock>,
    stimulus: Option<Res<Stimulus>>,
    layers: Query<&Layer>,
    params: Query<&LifParams>,
    mut encoders: Query<&mut Intensity>,
    mut neurons: Query<NeuronState>,
    mut rings: Query<&mut InputRing>,
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
        if s.reset_between && clock.step > 0 {
            reset_neurons(&params, &mut neurons, &mut rings);
        }
    } else if phase == s.steps_per_image {
        for &e in members {
            encoders.get_mut(e).expect("encoder").0 = 0.0;
        }
    }
}
