//! The recording plan of a run: which probes the recorder keeps and the
//! file layout the writer creates, both from `[record]`.

use bevy_ecs::prelude::*;

use super::collect::{RateProbe, Recorder, SampleProbe, SpikeProbe, TraceProbe, WeightProbe};
use super::layout::{Layout, RateSpec, SampleSpec, SpikeLayer, TraceSpec, WeightSpec};
use crate::config::{Config, LayerSelection, window_steps};
use crate::layer::Layer;
use crate::rng;
use crate::stimulus::Stimulus;
use crate::synapse::Weights;

/// The recorder of `config.record`, with the layout the writer needs.
pub fn recorder(
    config: &Config,
    world: &World,
    layers: &[Entity],
    projections: &[Entity],
) -> Recorder {
    let r = &config.record;
    let dt = config.simulation.dt_ms;
    let seed = config.simulation.seed;
    let names: Vec<&String> = config.layers.keys().collect();
    let members = |e: Entity| &world.get::<Layer>(e).expect("layer").members;
    let spike_layer = |k: usize| SpikeLayer {
        name: names[k].clone(),
        n_nodes: members(layers[k]).len() as u64,
    };
    let selected = |sel: &LayerSelection| -> Vec<usize> {
        (0..names.len())
            .filter(|&k| sel.contains(names[k]))
            .collect()
    };
    let mut layout = Layout {
        compress: r.compress,
        ..Layout::default()
    };

    let window = window_steps(r.spikes.start_ms, r.spikes.stop_ms, dt);
    let mut spikes = Vec::new();
    for k in selected(&r.spikes.layers) {
        layout.spikes.push(spike_layer(k));
        spikes.push(SpikeProbe::new(layers[k], window));
    }

    let mut traces = Vec::new();
    for (t, tc) in r.traces.iter().enumerate() {
        let k = config.layers.get_index_of(&tc.layer).expect("validated");
        let size = members(layers[k]).len();
        let ids = tc.neurons.indices(size, |n| {
            let mut ids = rng::sample_distinct(
                &mut rng::stream(seed, rng::TRACE_SAMPLE, t as u64, 0),
                size,
                n,
            );
            ids.sort_unstable();
            ids
        });
        let neurons: Vec<(Entity, u32)> = ids
            .iter()
            .map(|&i| (members(layers[k])[i as usize], i as u32))
            .collect();
        let window = window_steps(tc.start_ms, tc.stop_ms, dt);
        let model = config.layers[k]
            .neuron()
            .expect("validated: a neuron layer");
        let recordables = model.recordables();
        for var in &tc.vars {
            let var = recordables
                .iter()
                .find(|r| r.name == var.as_str())
                .expect("validated: a recordable of the layer's model");
            layout.traces.push(TraceSpec {
                layer: tc.layer.clone(),
                var: var.name.to_string(),
                units: var.units.into(),
                node_ids: ids.clone(),
                start_step: window.0,
                every: tc.every,
            });
            traces.push(TraceProbe::new(
                var.read,
                layers[k],
                neurons.clone(),
                window,
                tc.every,
            ));
        }
    }

    let bin_steps = ((r.rates.bin_ms / dt).round() as u64).max(1);
    let mut rates = Vec::new();
    for k in selected(&r.rates.layers) {
        layout.rates.push(RateSpec {
            layer: names[k].clone(),
            n_nodes: members(layers[k]).len() as u64,
            bin_steps,
        });
        rates.push(RateProbe::new(layers[k], bin_steps));
    }

    let period = config.stimulus.as_ref().map(|s| s.period());
    let mut weights = Vec::new();
    for wr in &r.weights {
        let k = config
            .projections
            .get_index_of(&wr.projection)
            .expect("validated");
        let p = &config.projections[k];
        let w = world.get::<Weights>(projections[k]).expect("projection");
        let (pre_ids, post_ids) = w.synapses();
        layout.weights.push(WeightSpec {
            projection: wr.projection.clone(),
            pre: p.pre.clone(),
            post: p.post.clone(),
            n_pre: config.layers[&p.pre].size() as u64,
            n_post: config.layers[&p.post].size() as u64,
            pre_ids,
            post_ids,
        });
        let every = period.filter(|_| wr.every_samples > 0).map(|p| {
            p.checked_mul(wr.every_samples)
                .expect("validated: every_samples × period fits in u64")
        });
        weights.push(WeightProbe::new(projections[k], every));
    }

    let samples = match (
        world.get_resource::<Stimulus>(),
        selected(&r.samples.layers),
    ) {
        (Some(stim), counted) if !counted.is_empty() => {
            layout.samples = Some(SampleSpec {
                dataset: stim.images.name.clone(),
                rows: stim.images.rows as u64,
                cols: stim.images.cols as u64,
                steps_per_image: stim.steps_per_image,
                rest_steps: stim.rest_steps,
                layers: counted.iter().map(|&k| spike_layer(k)).collect(),
            });
            Some(SampleProbe::new(
                counted
                    .iter()
                    .map(|&k| (layers[k], members(layers[k]).len()))
                    .collect(),
            ))
        }
        _ => None,
    };

    Recorder::new(
        layout,
        r.block_steps,
        spikes,
        traces,
        rates,
        weights,
        samples,
    )
}
