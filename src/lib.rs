//! # spikesim
//!
//! A research simulator for spiking neural networks, after "Foundations of
//! Spiking Neural Networks". Neurons, encoders, layers and synapse groups are
//! `bevy_ecs` entities; one schedule of systems advances them one time step
//! at a time; spikes and state traces stream to one HDF5 file per run.
//!
//! ## The model (step `n`, time `t = n·dt`, ms)
//!
//! - **Encoders** ([`encoder`]): intensity `x ∈ [0, 1]` per neuron, one
//!   Bernoulli trial per step with `p = min(1, gain·x)` (`bernoulli`) or
//!   `p = x·max_rate_hz·dt/1000` (`poisson`). Images are held for
//!   `steps_per_image` steps, then `rest_steps` of silence ([`protocol`]).
//! - **Synaptic input** ([`synapse`]): `I_i(n) = Σ_p Σ_{j spiked at n−d_p} W_p[j, i]`,
//!   event-driven (only spikes cost work), delays `d_p ≥ 1` step.
//! - **Currents** ([`neuron`]): one synaptic current per layer, or two named
//!   ones (e.g. excitatory and inhibitory) that projections `target`:
//!   `J_c = I_c` (`instantaneous`), `J_c(n) = J_c(n−1) + dt/τ_c·(−k_c J_c(n−1) + I_c(n))`
//!   (`continuous`), or `J_c(n) = J_c(n−1)·exp(−dt/τ_c) + I_c(n)` (`exponential`).
//! - **Voltage**: `V(n) = V(n−1) + dt/τ_v·(−k_v (V(n−1) − v_rest) + r J(n))`,
//!   `J = Σ_c J_c`; a conductance-based synapse (`reversal_mv = E_c`)
//!   contributes `J_c = g_c (E_c − V(n−1))`.
//! - **Spike and reset**: `s = [V ≥ σ + θ_i]`, then `V = v_reset`, held
//!   there for `t_ref`; no new spike for `t_ref_spike` (default `t_ref`).
//! - **Thresholds** ([`threshold`]): global `σ ← max(σ_min, σ + η(Σ s − target))`,
//!   individual `θ_i ← θ_i(1 − dt/τ_θ) + β s_i`, either, both or neither.
//! - **Plasticity** ([`synapse::stdp`]): trace STDP, depression
//!   `W[j, :] −= a_minus·y` on presynaptic spikes, potentiation
//!   `W[:, i] += a_plus·x` on postsynaptic spikes, clipped to `[0, w_max]`
//!   (optionally soft bounds), normalization of each neuron's incoming weights.
//! - **Learning protocol** ([`protocol`]): train, assign labels,
//!   evaluate (Diehl & Cook 2015), with results and the learned state in
//!   the output file.
//!
//! ## The ECS
//!
//! Neuron entities carry [`neuron::Voltage`], [`neuron::Current`] (and
//! [`neuron::Current2`] in layers with two synaptic currents),
//! [`threshold::Threshold`], [`neuron::Refractory`], [`layer::Spiked`] and
//! [`layer::InLayer`]; encoder entities carry [`encoder::Intensity`] and
//! their own random stream. Layer entities hold parameters, the shared
//! threshold, the double-buffered spike lists and the input ring buffer;
//! projection entities hold the weights. The order of a step lives in
//! [`schedule`]: `Encode → Deliver → Update → Adapt → Learn → Record`;
//! projections with STDP carry [`synapse::stdp::Stdp`] (their traces).
//!
//! Results are a function of the config and seed only: random streams are
//! keyed by (seed, layer, neuron), and every floating-point sum has a fixed
//! order, so 1 and N threads give identical output.
//!
//! ## Departures from DESIGN.md
//!
//! - DESIGN's `Integrate → Fire → Adapt` per neuron are one fused system,
//!   [`neuron::update`] (set `Update`), over component column slices; the
//!   global threshold stays in `Adapt`.
//! - Parallelism: a rayon pool per [`Simulation`], rows split per thread
//!   above [`step::PARALLEL_MIN`] (all LIF layers of a table in one
//!   split), and a large projection's targets split per thread in delivery
//!   ([`synapse::Weights::worth_splitting`]); not bevy's task pool, whose
//!   parallel iteration cost more than the work (measured, see the README).
//! - At most two synaptic currents per LIF layer ([`config::MAX_SYNAPSES`]).
//! - STDP on dense projections only; its traces decay every step (weight
//!   changes follow spikes). Conductance-based synapses are an addition.
//! - The learning protocol resets the network before each image instead of
//!   letting it rest.
//! - A LIF layer's state is dimensioned as mV, nA and MΩ; the seed's
//!   dimensionless values are used as they are.
//!
//! The binary is `spikesim` (`run`, `validate`, `inspect`, `bench`); the config
//! format is documented in [`config`], the output layout in [`record`].

pub mod bench;
pub mod config;
pub mod data;
pub mod encoder;
pub mod layer;
pub mod network;
pub mod neuron;
pub mod param;
pub mod protocol;
pub mod record;
pub mod rng;
pub mod schedule;
pub mod sim;
pub mod step;
pub mod stimulus;
pub mod synapse;
pub mod timings;

pub use config::{Config, ConfigError};
pub use sim::Simulation;

/// Any error of a run. All of them are the user's to fix (a config, a
/// dataset, an output path) except a writer failure during the run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Missing or malformed dataset.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// Output file could not be created or written.
    #[error(transparent)]
    Record(#[from] record::RecordError),
    /// A run's output file (inspected or loaded as a checkpoint) could not be read.
    #[error(transparent)]
    Read(#[from] record::ReadError),
}
