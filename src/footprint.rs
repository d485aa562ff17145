//! How much memory a run will take, from its config alone: checked before
//! anything is allocated, so that a network that cannot fit is refused with
//! a message instead of aborting on a failed allocation.
//!
//! The estimate is of the peak resident memory, in bytes, from figures
//! measured on this implementation (the constants below): every neuron or
//! encoder entity with its components, bevy's bookkeeping and the growth of
//! its tables; the input rings (as long as the longest delay a
//! projection's `delay_ms` can draw, its
//! [`reach`](crate::param::Distribution::reach)); the synapses as they are
//! built (a sparse projection's build holds its rows' targets, weights
//! and, where each synapse has its own, delays, and for some rules lists
//! of the rows; a `fixed_total_number` has its `n`, or the `n` of its
//! `p_pair`; a list file one synapse per line, read whole first); STDP
//! traces; the recorder's and writer's bounded
//! buffers of traces; generated images (784 bytes each, for `synthetic`,
//! `sparse_random` and `auto`, which generates them without IDX files); the per-thread copies of the network that
//! assign and evaluate use; the spikes of spike-file layers (their files'
//! spike counts, read from the files: [`spike_file::resident_bytes`]);
//! noise generators' draws. IDX datasets are not counted (their size is
//! that of their files).

use crate::config::thread_count;
use crate::config::{Config, DatasetKind, GeneratorKind, LayerConfig, list_len};
use crate::data::synthetic;
use crate::neuron::NeuronConfig;
use crate::spike_file;

/// Resident memory of the process before any network (MiB measured: 16).
const BASELINE: u64 = 16 << 20;
/// Per neuron or encoder: components, entity and table growth (measured
/// 153–160 bytes for LIF layers of 10^6 and 4·10^6 neurons).
const PER_NEURON: u64 = 160;
/// Per synapse of a sparse projection while it is built: target (4) and
/// weight (4) bytes, and the row lists of `one_to_one`, `all_but_self` and
/// `bernoulli` (4; the `fixed_*` rules draw each row twice instead); a
/// delay per synapse adds 1 or 2
/// ([`crate::config::ProjectionConfig::delay_bytes`]).
const PER_SPARSE_SYNAPSE: u64 = 12;
/// Per synapse of a list file, besides [`PER_SPARSE_SYNAPSE`]: the list
/// read (pre, post and weight 4 bytes each, delay 8) and its sorting
/// order (8).
const PER_LISTED_SYNAPSE: u64 = 28;
/// Per presynaptic neuron of a sparse projection: row start and cursor.
const PER_SPARSE_ROW: u64 = 12;
/// The recorder's batch in the making and the writer's queue of 4 with the
/// one being written: at most 6 batches.
const BATCHES: u64 = 6;
/// Largest batch (bytes).
const MAX_BATCH: u64 = 4 << 20;
/// Per neuron driven by a noise generator: its key (8) and draw (4).
const PER_NOISE_NEURON: u64 = 12;

/// The estimate of a config's peak resident memory, in bytes (saturating:
/// a network too large to count is `u64::MAX`).
pub fn estimate(config: &Config) -> u64 {
    let network = network_bytes(config);
    let copies = match &config.protocol {
        // Assign and evaluate run on one copy of the network per thread.
        Some(p) if p.reset && (p.assign.images > 0 || p.evaluate.images > 0) => {
            thread_count(config.simulation.threads) as u64
        }
        _ => 0,
    };
    // Generated images (`auto` generates them where the IDX files are missing).
    let images = match &config.stimulus {
        Some(s) if s.dataset != DatasetKind::Idx => {
            (s.images as u64).saturating_mul(synthetic::PIXELS as u64)
        }
        _ => 0,
    };
    BASELINE
        .saturating_add(network.saturating_mul(1 + copies))
        .saturating_add(recording_bytes(config))
        .saturating_add(images)
}

/// The recording's buffers: the traces' frames of a batch (`block_steps`
/// steps, at most [`MAX_BATCH`]), [`BATCHES`] of them; spikes are left out
/// (a few bytes per spike).
fn recording_bytes(config: &Config) -> u64 {
    let r = &config.record;
    let per_step: u64 = r
        .traces
        .iter()
        .map(|t| {
            let n = config.layers.get(&t.layer).map_or(0, |l| l.size() as u64);
            n.saturating_mul(4 * t.vars.len() as u64) / t.every.max(1)
        })
        .fold(0, u64::saturating_add);
    per_step
        .saturating_mul(r.block_steps)
        .min(MAX_BATCH)
        .saturating_mul(BATCHES)
}

/// The network's own bytes: entities, input rings, spike files, synapses,
/// STDP traces, noise generators.
fn network_bytes(config: &Config) -> u64 {
    let mut total: u64 = 0;
    let mut add = |b: u64| total = total.saturating_add(b);
    for (name, layer) in &config.layers {
        let size = layer.size() as u64;
        add(size.saturating_mul(PER_NEURON));
        if let LayerConfig::Neuron(n) = layer {
            let delay = config
                .projections
                .values()
                .filter(|p| &p.post == name)
                .map(|p| p.delay_bound(config.simulation.dt_ms))
                .max()
                .unwrap_or(1);
            let currents = n.layer().synaptic_currents().len() as u64;
            add(size
                .saturating_mul(delay)
                .saturating_mul(currents)
                .saturating_mul(4));
            if let NeuronConfig::Izhikevich(_) = n {
                // Each neuron's initial (v, u), kept for resets.
                add(size.saturating_mul(8));
            }
        }
        if let LayerConfig::SpikeFile(f) = layer {
            add(spike_file::resident_bytes(f));
        }
    }
    for g in config.generators.values() {
        if let GeneratorKind::Noise(_) = g.kind {
            let size = config.layers.get(&g.at.layer).map_or(0, |l| l.size());
            add((g.neurons(size).len() as u64).saturating_mul(PER_NOISE_NEURON));
        }
    }
    for p in config.projections.values() {
        let size = |l: &str| config.layers.get(l).map_or(0, |l| l.size() as u64);
        let (n_pre, n_post) = (size(&p.pre), size(&p.post));
        let pairs = n_pre.saturating_mul(n_post);
        use crate::config::Connectivity as C;
        let per_synapse = PER_SPARSE_SYNAPSE + p.delay_bytes(config.simulation.dt_ms);
        let sparse = |synapses: u64| {
            synapses
                .saturating_mul(per_synapse)
                .saturating_add(n_pre.saturating_mul(PER_SPARSE_ROW))
        };
        add(match &p.connectivity {
            C::Dense => pairs.saturating_mul(4),
            C::OneToOne => sparse(n_pre),
            C::AllButSelf => sparse(pairs.saturating_sub(n_pre)),
            C::FixedIndegree { k, .. } => sparse(n_post.saturating_mul(*k as u64)),
            C::FixedOutdegree { k, .. } => sparse(n_pre.saturating_mul(*k as u64)),
            C::FixedTotalNumber { .. } => {
                let n = p.connectivity.total_number(n_pre as usize, n_post as usize);
                sparse(n.map_or(0, |n| n as u64))
            }
            C::Bernoulli { p } => sparse((pairs as f64 * p).ceil() as u64),
            C::FromFile { path } => {
                let n = list_len(path);
                sparse(n).saturating_add(n.saturating_mul(PER_LISTED_SYNAPSE))
            }
        });
        if p.stdp.is_some() {
            add(n_pre
                .saturating_add(n_post.saturating_mul(2))
                .saturating_mul(4));
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text, &[]).unwrap()
    }

    #[test]
    fn a_lif_layer_counts_its_neurons_and_ring() {
        // 1000 LIF neurons, one current, delay 1: 1000·160 + 1000·1·1·4
        // bytes, plus the baseline and the recording buffers.
        let c = config("[simulation]\nsteps = 1\n[layers.n]\nkind = \"lif\"\nsize = 1000\n");
        assert_eq!(estimate(&c), BASELINE + 164_000);
    }

    /// 100 encoders `e` and 10 LIF neurons `n`, one step.
    const ENCODER_TO_LIF: &str = "[simulation]\nsteps = 1\n[layers.e]\nkind = \"encoder\"\nsize = 100\n[layers.n]\nkind = \"lif\"\nsize = 10\n";

    /// `[projections.<name>]` from `e` to `n`, constant weights, with `rest`.
    fn projection(name: &str, rest: &str) -> String {
        format!(
            "[projections.{name}]\npre = \"e\"\npost = \"n\"\nweights = {{ kind = \"constant\", value = 1.0 }}\n{rest}\n"
        )
    }

    #[test]
    fn projections_count_their_synapses() {
        // 100 encoders -> 10 LIF, dense (100·10·4 = 4000 bytes) and fixed
        // in-degree 5 (50 synapses · 12 + 100 rows · 12 = 1800 bytes), delay
        // 3 for the ring (10·3·1·4 = 120 bytes).
        let c = config(
            &[
                ENCODER_TO_LIF,
                &projection("d", ""),
                &projection(
                    "s",
                    "delay = 3\nconnectivity = { kind = \"fixed_indegree\", k = 5 }",
                ),
            ]
            .concat(),
        );
        let neurons = 110 * PER_NEURON;
        assert_eq!(estimate(&c), BASELINE + neurons + 120 + 4000 + 1800);
    }

    #[test]
    fn fixed_total_numbers_and_delays_count() {
        // 100 encoders -> 10 LIF: n = 500 synapses with a delay each, drawn
        // from normal(2, 0.5) ms at dt 1 ms (reach 2 + 10·0.5 = 7 steps: one
        // byte), 500·(12 + 1) + 100 rows · 12 = 7700 bytes; p_pair = 0.5 of
        // 1000 pairs, n = round(ln 0.5 / ln(1 − 1/1000)) = 693 synapses
        // with one delay, 693·12 + 1200 = 9516 bytes; the ring 10 neurons ×
        // 7 steps × 4 bytes = 280.
        let c = config(
            &[
                ENCODER_TO_LIF,
                &projection(
                    "a",
                    "connectivity = { kind = \"fixed_total_number\", n = 500 }\ndelay_ms = { kind = \"normal\", mean = 2.0, std = 0.5 }",
                ),
                &projection(
                    "b",
                    "connectivity = { kind = \"fixed_total_number\", p_pair = 0.5 }",
                ),
            ]
            .concat(),
        );
        let neurons = 110 * PER_NEURON;
        assert_eq!(estimate(&c), BASELINE + neurons + 280 + 7700 + 9516);
    }

    #[test]
    fn traces_count_their_batches() {
        // 1000 neurons' voltage every step: 4000 bytes a step, 1000 steps a
        // batch = 4·10^6 bytes (under 4 MiB), 6 batches.
        let c = config(
            "[simulation]\nsteps = 1\n[layers.n]\nkind = \"lif\"\nsize = 1000\n[[record.traces]]\nlayer = \"n\"\nvars = [\"voltage\"]\n",
        );
        assert_eq!(estimate(&c), BASELINE + 164_000 + 6 * 4_000_000);
    }

    #[test]
    fn spike_files_and_noise_generators_count_their_values() {
        // A spike file of 3 lines (16 bytes a spike), 5 spike-file neurons;
        // a noise generator on neurons 2..10 of 10 LIF neurons (12 bytes
        // each); 15 entities and the LIF ring (10·4 bytes).
        let path = std::env::temp_dir().join(format!("footprint-{}.csv", std::process::id()));
        std::fs::write(&path, "0,1.0\n1,2.0\n4,3.5").unwrap();
        let c = config(&format!(
            "[simulation]\nsteps = 1\n[layers.f]\nkind = \"spike_file\"\nsize = 5\npath = {}\n[layers.n]\nkind = \"lif\"\nsize = 10\n[generators.g]\nlayer = \"n\"\nneurons = [2, 10]\nkind = \"noise\"\nstd = 1.0\n",
            toml::Value::String(path.display().to_string())
        ));
        let bytes = estimate(&c);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(
            bytes,
            BASELINE + 15 * PER_NEURON + 40 + 3 * 16 + 8 * PER_NOISE_NEURON
        );
    }

    #[test]
    fn sizes_too_large_to_count_saturate() {
        // 4·10^9 neurons (under the 2^32 cap): 6.4·10^11 bytes for the
        // entities and 1.6·10^10 for the ring; a dense projection of them onto
        // themselves, 4·(4·10^9)^2 = 6.4·10^19 bytes, saturates.
        let layer = "[simulation]\nsteps = 1\n[layers.n]\nkind = \"lif\"\nsize = 4000000000\n";
        assert_eq!(
            estimate(&config(layer)),
            BASELINE + 640 * 10u64.pow(9) + 16 * 10u64.pow(9)
        );
        let dense = "[projections.p]\npre = \"n\"\npost = \"n\"\nweights = { kind = \"constant\", value = 1.0 }\n";
        assert_eq!(estimate(&config(&format!("{layer}{dense}"))), u64::MAX);
    }
}
