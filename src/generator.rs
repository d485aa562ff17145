//! Current generators (`[generators.<name>]`, [`crate::config::GeneratorConfig`]):
//! each adds, at step `n` (`t = n·dt` ms), its current `I(n)` for each of
//! its neurons into the input slot of step `n` of one synaptic current of
//! its layer ([`InputRing::slot_mut`]), after delivery has added this
//! step's spikes ([`inject`], set `Deliver`), generators in config order.
//! That slot is where the layer's `i_ext` is added too: the synaptic
//! current integrates `I_syn(n) + I_gen(n) + i_ext`, so into an
//! `instantaneous` current a generator is a membrane current exactly like
//! `i_ext` (`J(n) = I_syn(n) + I_gen(n) + i_ext`), and the recorded `input`
//! includes it. The currents:
//!
//! - `dc`: `I(n) = amplitude`;
//! - `step`: `I(n) = amplitude` for `start_ms ≤ n·dt < stop_ms`, else 0;
//! - `sin` (NEST's `ac_generator`): `I(n) = offset + amplitude·sin(ω n + φ)`
//!   with `ω = 2π·frequency_hz·dt/1000` (rad per step) and
//!   `φ = phase_deg·π/180`, in f64, rounded to f32;
//! - `noise` (NEST's `noise_generator`): `I(n) = mean + std·ξ_i(k)`, held
//!   for the `m = dt_ms/dt` steps of redraw interval `k = ⌊n/m⌋` and drawn
//!   anew at the next, independently for each neuron `i`: `ξ_i(k)` is the
//!   standard normal [`rng::normal_at`] of the key (seed,
//!   [`rng::NOISE`], generator, neuron) and counter `k`, a pure function
//!   of them, so a resumed run and any thread count draw the same.
//!
//! **Noise and the time step.** A piecewise-constant current does not have
//! the same effect at every `dt_ms`: on a leaky membrane `τ_m V' = −V + R I`
//! with `τ_m ≫ dt_ms`, each interval adds an independent kick of variance
//! `∝ std²·dt_ms²`, and `τ_m/dt_ms` of them add up within a membrane time
//! constant, so the variance of V grows `∝ std²·dt_ms` (stationary:
//! `Var V ≈ R² std² dt_ms / (2 τ_m)`). To keep the same voltage
//! fluctuations at another `dt_ms`, scale `std` by `1/√dt_ms` (as NEST's
//! `noise_generator` documentation says).

use std::ops::Range;

use bevy_ecs::prelude::*;
use rayon::prelude::*;

use crate::config::{Config, GeneratorKind};
use crate::neuron::input::InputRing;
use crate::neuron::synaptic::StepWindow;
use crate::rng;
use crate::step::{Clock, PARALLEL_MIN};

/// The network's generators, in config order. Written by the network
/// builder; a network without generators has none (and no [`inject`]).
#[derive(Resource, Debug)]
pub struct Generators(Vec<Generator>);

/// One generator.
#[derive(Debug)]
struct Generator {
    /// The layer entity.
    layer: Entity,
    /// Its synaptic current (index among the layer's).
    current: usize,
    /// The neurons driven.
    neurons: Range<usize>,
    /// The current.
    wave: Wave,
}

/// A generator's current.
#[derive(Debug)]
enum Wave {
    /// `amplitude`.
    Dc(f32),
    /// `amplitude` within a window of steps.
    Step(StepWindow),
    /// `offset + amplitude·sin(omega·n + phase)`.
    Sin {
        offset: f64,
        amplitude: f64,
        /// rad per step.
        omega: f64,
        /// rad.
        phase: f64,
    },
    /// Gaussian white noise, piecewise constant.
    Noise(Noise),
}

/// A noise generator's draws: the values of the current interval, kept
/// for its steps (derived state only: they are drawn again from the
/// interval's index wherever they are missing, as after a resume).
#[derive(Debug)]
struct Noise {
    mean: f64,
    std: f64,
    /// Steps per interval, >= 1.
    every: u64,
    /// The key of each neuron driven, in order.
    keys: Vec<u64>,
    /// The interval whose values `values` holds.
    drawn: Option<u64>,
    /// `mean + std·ξ_i(k)` of each neuron driven, in order.
    values: Vec<f32>,
}

impl Generators {
    /// The generators of `config`, whose layers are the entities
    /// `layers` (in config order).
    pub fn new(config: &Config, layers: &[Entity]) -> Self {
        let dt = config.simulation.dt_ms;
        let seed = config.simulation.seed;
        let list = (config.generators.values().enumerate())
            .map(|(g, c)| {
                let k = config
                    .layers
                    .get_index_of(&c.at.layer)
                    .expect("validated layer");
                let neurons = c.neurons(config.layers[k].size());
                let wave = match &c.kind {
                    GeneratorKind::Dc(d) => Wave::Dc(d.amplitude as f32),
                    GeneratorKind::Step(s) => Wave::Step(StepWindow::new(s, dt)),
                    GeneratorKind::Sin(s) => Wave::Sin {
                        offset: s.offset,
                        amplitude: s.amplitude,
                        omega: std::f64::consts::TAU * s.frequency_hz * dt / 1000.0,
                        phase: s.phase_deg.to_radians(),
                    },
                    GeneratorKind::Noise(n) => Wave::Noise(Noise {
                        mean: n.mean,
                        std: n.std,
                        every: n.redraw_steps(dt),
                        keys: (neurons.clone())
                            .map(|i| rng::key(seed, rng::NOISE, g as u64, i as u64))
                            .collect(),
                        drawn: None,
                        values: vec![0.0; neurons.len()],
                    }),
                };
                Generator {
                    layer: layers[k],
                    current: c.current_index(config),
                    neurons,
                    wave,
                }
            })
            .collect();
        Self(list)
    }
}

impl Noise {
    /// The values of step `n`, drawn if its interval's are not held; the
    /// draws of many neurons are split between the worker threads (each
    /// value is a function of its neuron and interval alone).
    fn at(&mut self, n: u64) -> &[f32] {
        let k = n / self.every;
        if self.drawn != Some(k) {
            let (mean, std) = (self.mean, self.std);
            self.values
                .par_iter_mut()
                .zip(&self.keys)
                .with_min_len(PARALLEL_MIN)
                .for_each(|(v, &key)| *v = (mean + std * rng::normal_at(key, k)) as f32);
            self.drawn = Some(k);
        }
        &self.values
    }
}

/// Step `n` (set `Deliver`, after `synapse::deliver`): each generator adds
/// `I(n)` of each of its neurons into its synaptic current's input slot of
/// step `n`, in config order.
pub fn inject(
    clock: Res<Clock>,
    mut generators: ResMut<Generators>,
    mut rings: Query<&mut InputRing>,
) {
    let n = clock.step;
    for g in &mut generators.bypass_change_detection().0 {
        let mut ring = rings.get_mut(g.layer).expect("a neuron layer's input");
        let slot = &mut ring.bypass_change_detection().slot_mut(n, g.current)[g.neurons.clone()];
        let add = |slot: &mut [f32], i: f32| slot.iter_mut().for_each(|x| *x += i);
        match &mut g.wave {
            Wave::Dc(a) => add(slot, *a),
            Wave::Step(w) if (w.first..w.end).contains(&n) => add(slot, w.amplitude),
            Wave::Step(_) => {}
            Wave::Sin {
                offset,
                amplitude,
                omega,
                phase,
            } => add(
                slot,
                (*offset + *amplitude * (*omega * n as f64 + *phase).sin()) as f32,
            ),
            Wave::Noise(noise) => {
                for (x, i) in slot.iter_mut().zip(noise.at(n)) {
                    *x += i;
                }
            }
        }
    }
}
