//! Showing an image: reset, reseeded input streams, intensities, and the
//! re-presentations of an image that drives too few output spikes.

use crate::config::{Config, LayerConfig, ProtocolConfig};
use crate::data::ImageSet;
use crate::record::Writer;
use crate::{Error, Simulation};

/// Phase numbers in presentation keys.
pub(super) const TRAIN: u64 = 1;
pub(super) const ASSIGN: u64 = 2;
pub(super) const EVALUATE: u64 = 3;

/// The key of a presentation's encoder streams.
pub(super) fn key(phase: u64, epoch: usize, image: usize, presentation: u32) -> u64 {
    (phase << 60) | ((epoch as u64) << 44) | ((image as u64) << 8) | presentation as u64
}

/// How the images of one phase are shown.
pub(super) struct Presenter<'a> {
    p: &'a ProtocolConfig,
    seed: u64,
    /// Intensity factor per re-presentation: `boost_hz / max_rate_hz`.
    boost: f32,
    /// The pixel value that maps to intensity 1.
    max_pixel: f32,
    /// Normalize weights after each presentation (training).
    normalize: bool,
}

impl Presenter<'_> {
    /// The presenter of `set` for the protocol `p` of `config`.
    pub(super) fn new<'a>(config: &'a Config, set: &ImageSet, normalize: bool) -> Presenter<'a> {
        let p = config.protocol.as_ref().expect("a protocol run");
        let LayerConfig::Encoder(e) = &config.layers[&p.input] else {
            unreachable!("validated: the input is an encoder")
        };
        let boost = (p.boost_hz / e.max_rate_hz) as f32;
        Presenter {
            p,
            seed: config.simulation.seed,
            boost,
            max_pixel: set.max_pixel() as f32,
            normalize,
        }
    }

    /// Shows `image` until it drives `min_spikes` output spikes (or
    /// `max_presentations` times), leaving the last presentation's counts
    /// in `counts`; returns the number of presentations. Presentation `k`
    /// draws its input from the stream keyed `key_of(k)`.
    pub(super) fn show(
        &self,
        sim: &mut Simulation,
        image: &[u8],
        key_of: impl Fn(u32) -> u64,
        counts: &mut [u32],
        writer: Option<&Writer>,
    ) -> Result<u32, Error> {
        let p = self.p;
        let mut x = vec![0.0; image.len()];
        for k in 0..p.max_presentations {
            if p.reset {
                sim.reset_state();
            }
            sim.reseed_encoders(&p.input, self.seed, key_of(k));
            let scale = 1.0 + k as f32 * self.boost;
            for (x, &px) in x.iter_mut().zip(image) {
                *x = px as f32 / self.max_pixel * scale;
            }
            sim.set_intensities(&p.input, &x);
            counts.fill(0);
            sim.run_counting(p.steps_per_image, &p.output, counts, writer)?;
            if p.rest_steps > 0 {
                x.fill(0.0);
                sim.set_intensities(&p.input, &x);
                sim.run_counting(p.rest_steps, &p.output, &mut vec![0; counts.len()], writer)?;
            }
            sim.check_finite()?;
            if self.normalize {
                sim.normalize();
            }
            let total: u32 = counts.iter().sum();
            if total >= p.min_spikes || k + 1 == p.max_presentations {
                return Ok(k + 1);
            }
        }
        unreachable!("max_presentations >= 1")
    }
}
