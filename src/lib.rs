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
//!   `steps_per_image` steps, then `rest_steps` of silence ([`stimulus`]).
//! - **Inputs that are not images**: Poisson source layers
//!   (`kind = "poisson"`, `p_i = rate_i·dt/1000` per step, on the encoder
//!   machinery), spike trains replayed from a SONATA or CSV file
//!   (`kind = "spike_file"`, [`spike_file`]: a spike at `t` fires at step
//!   `round(t/dt)`), and current generators ([`generator`]: `dc`, `step`,
//!   `noise`, `sin`, added into a synaptic current's input after delivery).
//! - **Synaptic input** ([`synapse`]): `I_i(n) = Σ_k [pre_k spiked at n−d_k, post_k = i] W_k`
//!   over the synapses `k`, event-driven (only spikes cost work), delays
//!   `d_k ≥ 1` step: one per projection, or per synapse
//!   ([`synapse::weights::Delays`], `delay_ms` on the grid:
//!   `max(1, round(delay_ms/dt))`). Connectivity rules (dense, one-to-one,
//!   Bernoulli, fixed in-/out-degree, fixed total number, a list file) and
//!   weight distributions (constant, uniform, normal and lognormal, the last
//!   two optionally truncated by redrawing) are in [`config::Connectivity`]
//!   and [`param::Distribution`].
//! - **Synaptic currents** ([`neuron::synaptic`], shared by every model):
//!   one per layer, or two named ones that projections `target`:
//!   `J_c = I_c` (`instantaneous`), `J_c(n) = J_c(n−1) + dt/τ_c·(−k_c J_c(n−1) + I_c(n))`
//!   (`continuous`), or `J_c(n) = J_c(n−1)·exp(−dt/τ_c) + I_c(n)`
//!   (`exponential`); conductance-based with `reversal_mv = E_c`
//!   (`J_c = g_c (E_c − V)`). The external current enters the first one.
//! - **Neuron models** ([`neuron`], one module each, a layer's `kind`):
//!   - `lif` ([`neuron::lif`]): `V(n) = V(n−1) + dt/τ_v·(−k_v (V(n−1) − v_rest) + r J(n))`;
//!     spike `s = [V ≥ σ + θ_i]`, then `V = v_reset`, held for `t_ref`;
//!     thresholds ([`neuron::lif::threshold`]) global
//!     `σ ← max(σ_min, σ + η(Σ s − target))` and individual
//!     `θ_i ← θ_i(1 − dt/τ_θ) + β s_i`.
//!   - `izhikevich` ([`neuron::izhikevich`]): `v' = 0.04v² + 5v + 140 − u + I`,
//!     `u' = a(bv − u)`, reset `v ← c, u ← u + d` at `v ≥ 30` mV.
//!   - `adex` ([`neuron::adex`]): `C V' = −g_L(V − E_L) + g_L Δ_T exp((V − V_T)/Δ_T) − w + I`,
//!     `τ_w w' = a(V − E_L) − w`, reset `V ← V_r, w ← w + b` at `V ≥ V_peak`.
//! - **Plasticity** ([`synapse::stdp`]): trace STDP, depression
//!   `W[j, :] −= a_minus·y` on presynaptic spikes, potentiation
//!   `W[:, i] += a_plus·x` on postsynaptic spikes, clipped to `[0, w_max]`
//!   (optionally soft bounds), normalization of each neuron's incoming weights.
//! - **Learning protocol** ([`protocol`]): train, assign labels, evaluate
//!   (Diehl & Cook 2015), with results and the learned state in the output
//!   file.
//!
//! Results are a function of the config and seed only: random streams are
//! keyed by (seed, layer, neuron), and every floating-point sum has a fixed
//! order, so 1 and N threads give identical output.
//!
//! ## The ECS
//!
//! Every neuron carries [`layer::InLayer`], [`layer::Spiked`],
//! [`neuron::Voltage`] and its synaptic currents
//! ([`neuron::synaptic::Current`], [`neuron::synaptic::Current2`]), plus
//! its model's own components behind the model's marker (LIF:
//! [`neuron::lif::LifNeuron`], [`neuron::lif::Refractory`],
//! [`neuron::lif::Threshold`]), so that no model's query sees another's
//! neurons. Encoder entities carry [`encoder::Intensity`] and their own
//! random stream. Layer entities hold the model's parameters, the external
//! current, the double-buffered spike lists and the input ring buffer;
//! projection entities hold the weights (and [`synapse::stdp::Stdp`]
//! traces). Spike-file layers hold their spikes ([`spike_file::SpikeTrains`]),
//! the network's current generators are a resource
//! ([`generator::Generators`]). The order of a step lives in [`schedule`]:
//! `Encode → Deliver → Update → Adapt → Learn → Record`.
//!
//! ## Module map
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | the TOML config: one file per section, each type beside its checks |
//! | [`param`] | what config and models share: [`ConfigError`], range checks, distributions, the step current |
//! | [`neuron`] | the model registry (`models!`), [`neuron::model`] (the traits), [`neuron::recordables`] (the shared recordables), [`neuron::synaptic`] (synaptic and external currents), [`neuron::input`] (the input ring), [`neuron::driver`] (the shared update walk), one module per model |
//! | [`encoder`] | Bernoulli/Poisson encoders, Poisson source layers |
//! | [`spike_file`] | spike trains replayed from a file |
//! | [`generator`] | current generators |
//! | [`layer`] | layer entities, spike lists, neuron membership |
//! | [`synapse`] | projections, weight storage ([`synapse::weights`]), delivery, STDP ([`synapse::stdp`]) |
//! | [`stimulus`] | images presented to the input layer, resets between them |
//! | [`protocol`] | train / assign / evaluate |
//! | [`network`] | builds the world from a config |
//! | [`step`] | what every system shares: the clock, the learning switches, row splitting |
//! | [`schedule`] | the system sets of a step and their one ordering |
//! | [`timings`] | per-stage wall time (`--timings`) |
//! | [`record`] | collection ([`record::collect`], [`record::plan`]), the batch contract ([`record::batch`], [`record::layout`]), the writer thread and its [`record::Backend`]s (HDF5, memory), the file's names ([`record::schema`]), reading files back ([`record::inspect`], [`record::checkpoint`]) |
//! | [`resume`] | resumable runs: the network's dynamic state as columns ([`resume::state`]), the checks before a resume |
//! | [`data`] | IDX loader, synthetic digits, sparse random images |
//! | [`rng`] | seeded random streams |
//! | [`sim`] | [`Simulation`]: the world, its schedule, its worker pool and read-outs |
//! | [`bench`](mod@bench) | the W1/W2 scaling workloads of `spikesim bench` |
//!
//! ## Departures from DESIGN.md
//!
//! - DESIGN's `Integrate → Fire → Adapt` per neuron are one fused system per
//!   model (LIF: [`neuron::lif::update`], set `Update`), over component
//!   column slices; the global threshold stays in `Adapt`.
//! - Parallelism: a rayon pool per [`Simulation`], rows split per thread
//!   from `2 ·` [`step::PARALLEL_MIN`] rows (all layers of a model in a
//!   table in one split), and a large projection's targets split per thread
//!   in delivery ([`synapse::Weights::worth_splitting`]); not bevy's task
//!   pool, whose parallel iteration cost more than the work.
//! - Neuron models besides LIF (Izhikevich, AdEx), and at most two synaptic
//!   currents per layer ([`neuron::synaptic::MAX_SYNAPSES`]).
//! - STDP on dense projections only; its traces decay every step (weight
//!   changes follow spikes). Conductance-based synapses are an addition.
//! - The learning protocol resets the network before each image instead of
//!   letting it rest.
//! - The recorder is an exclusive system that reads each traced variable
//!   through its model's [`neuron::Recordable`]; batches go to the writer
//!   from the run loop, not from a system.
//! - A LIF layer's state is dimensioned as mV, nA and MΩ; the seed's
//!   dimensionless values are used as they are.
//!
//! The binary is `spikesim` (`run`, `validate`, `inspect`, `bench`); the config
//! format is documented in [`config`], the output layout in [`record`].

pub mod bench;
pub mod config;
pub mod data;
pub mod encoder;
pub mod footprint;
pub mod generator;
pub mod layer;
pub mod network;
pub mod neuron;
pub mod os_memory;
pub mod param;
pub mod poisson_input;
pub mod protocol;
pub mod record;
pub mod resume;
pub mod rng;
pub mod schedule;
pub mod sim;
pub mod spike_file;
pub mod step;
pub mod stimulus;
pub mod sweep;
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
    /// The network's state stopped being finite during the run.
    #[error(transparent)]
    NonFinite(#[from] neuron::check::NonFinite),
}
