//! Input encoders (DESIGN §1): each encoder neuron holds an intensity `x` in
//! [0, 1] and draws one Bernoulli trial per step with probability
//!
//! - `bernoulli`: `p = min(1, gain · x)`
//! - `poisson`:   `p = x · max_rate_hz · dt / 1000`
//!
//! Both are `p = min(1, c · x)` with a per-layer constant `c`.

use bevy_ecs::prelude::*;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::{EncoderConfig, Encoding};
use crate::layer::{InLayer, Spiked};
use crate::rng;
use crate::schedule::for_each_neuron;

/// Intensity `x` in [0, 1] (a normalized pixel). Written by `present`.
#[derive(Component, Debug, Clone, Copy, Default)]
pub struct Intensity(pub f32);

/// The encoder's own random stream, keyed by (seed, layer, index).
/// Advanced by `encode`.
#[derive(Component, Debug, Clone)]
pub struct EncoderRng(pub Xoshiro256PlusPlus);

/// Number of encoder neurons in the network (decides serial or parallel iteration).
#[derive(Resource, Debug, Clone, Copy)]
pub struct EncoderCount(pub usize);

/// Per-layer encoder parameter. Written once by the network builder.
#[derive(Component, Debug, Clone, Copy)]
pub struct EncoderParams {
    /// `c` in `p = min(1, c · x)`: `gain`, or `max_rate_hz · dt / 1000`.
    pub scale: f64,
}

impl EncoderParams {
    /// From the layer's config at time step `dt_ms`.
    pub fn new(c: &EncoderConfig, dt_ms: f64) -> Self {
        let scale = match c.encoding {
            Encoding::Bernoulli => c.gain,
            Encoding::Poisson => c.max_rate_hz * dt_ms / 1000.0,
        };
        Self { scale }
    }

    /// Spike probability per step for intensity `x`.
    #[inline]
    pub fn probability(&self, x: f32) -> f64 {
        (self.scale * x as f64).min(1.0)
    }
}

/// One Bernoulli trial per encoder: spike iff `u < p`, `u` uniform on [0, 1).
/// So `p = 0` never spikes and `p = 1` always does.
pub fn encode(
    count: Res<EncoderCount>,
    layers: Query<&EncoderParams>,
    mut encoders: Query<(&InLayer, &Intensity, &mut EncoderRng, &mut Spiked)>,
) {
    for_each_neuron!(encoders, count.0, |(at, x, mut r, mut s): (
        &InLayer,
        &Intensity,
        Mut<EncoderRng>,
        Mut<Spiked>
    )| {
        let p = layers
            .get(at.layer)
            .expect("encoder layer")
            .probability(x.0);
        s.bypass_change_detection().0 = rng::unit(&mut r.bypass_change_detection().0) < p;
    });
}
