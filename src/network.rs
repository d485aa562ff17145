//! Builds the ECS world of a run from its config: layer entities, their
//! neuron entities, projection entities, and the resources.

use bevy_ecs::prelude::*;

use crate::config::{
    Config, ConfigError, LayerConfig, LayerSelection, ProjectionConfig, TraceVar, window_steps,
};
use crate::data::ImageSet;
use crate::encoder::{EncoderParams, EncoderRng, Intensity};
use crate::layer::{InLayer, Layer, LayerSpikes, Spiked};
use crate::neuron::{Current, Current2, LifParams, Refractory, Voltage};
use crate::protocol::Stimulus;
use crate::record::collect::{
    RateProbe, Recorder, SampleProbe, SpikeProbe, TraceProbe, WeightProbe,
};
use crate::record::{Layout, RateSpec, SampleSpec, SpikeLayer, TraceSpec, WeightSpec};
use crate::rng;
use crate::schedule::Clock;
use crate::synapse::stdp::{Plasticity, Stdp};
use crate::synapse::{DeliveryStats, InputRing, Projection, Weights};
use crate::threshold::{LayerThreshold, Threshold, ThresholdParams};

/// Builds the world. `images` must be given when the config has a stimulus.
pub fn build(config: &Config, images: Option<ImageSet>) -> Result<World, ConfigError> {
    let dt = config.simulation.dt_ms;
    let seed = config.simulation.seed;
    let mut world = World::new();
    world.insert_resource(Clock { step: 0, dt_ms: dt });
    world.insert_resource(DeliveryStats::default());
    world.insert_resource(Plasticity::default());

    let mut layer_entities = Vec::new();
    for (index, (name, lc)) in config.layers.iter().enumerate() {
        let size = lc.size();
        let layer = world.spawn(LayerSpikes::default()).id();
        let members: Vec<Entity> = match lc {
            LayerConfig::Encoder(e) => {
                world.entity_mut(layer).insert(EncoderParams::new(e, dt));
                world
                    .spawn_batch((0..size as u32).map(|i| {
                        (
                            InLayer { layer, index: i },
                            Intensity::default(),
                            EncoderRng::keyed(seed, rng::ENCODER, index as u64, i as u64),
                            Spiked::default(),
                        )
                    }))
                    .collect()
            }
            LayerConfig::Lif(l) => {
                let max_delay = config
                    .projections
                    .values()
                    .filter(|p| &p.post == name)
                    .map(|p| p.delay)
                    .max()
                    .unwrap_or(1);
                let params = LifParams::new(l, dt);
                let input_recorded = config
                    .record
                    .traces
                    .iter()
                    .any(|t| &t.layer == name && t.vars.contains(&TraceVar::Input));
                let mut vrng = rng::stream(seed, rng::V_INIT, index as u64, 0);
                let v0: Vec<f32> = (0..size)
                    .map(|_| match &l.v_init {
                        Some(d) => d.sample(&mut vrng) as f32,
                        None => params.v_rest,
                    })
                    .collect();
                world.entity_mut(layer).insert((
                    params,
                    LayerThreshold {
                        sigma: l.sigma as f32,
                    },
                    ThresholdParams::new(&l.threshold, dt),
                    InputRing::new(size, max_delay, l.receptors().len(), input_recorded),
                ));
                let theta0 = l
                    .threshold
                    .individual
                    .as_ref()
                    .map_or(0.0, |t| t.theta_init);
                let neuron = |i: u32| {
                    (
                        InLayer { layer, index: i },
                        Voltage(v0[i as usize]),
                        Current::default(),
                        Refractory::default(),
                        Threshold { theta: theta0 },
                        Spiked::default(),
                    )
                };
                if l.receptors().len() > 1 {
                    let with_second = (0..size as u32).map(|i| (neuron(i), Current2::default()));
                    world.spawn_batch(with_second).collect()
                } else {
                    world.spawn_batch((0..size as u32).map(neuron)).collect()
                }
            }
        };
        world.entity_mut(layer).insert(Layer {
            name: name.clone(),
            index,
            members,
        });
        layer_entities.push(layer);
    }
    let entity_of = |name: &str| {
        layer_entities[config
            .layers
            .keys()
            .position(|k| k == name)
            .expect("validated")]
    };

    let mut projection_entities = Vec::new();
    for (index, (name, p)) in config.projections.iter().enumerate() {
        let (n_pre, n_post) = (config.layers[&p.pre].size(), config.layers[&p.post].size());
        let mut e = world.spawn((
            Projection {
                name: name.clone(),
                pre: entity_of(&p.pre),
                post: entity_of(&p.post),
                delay: p.delay,
                receptor: receptor_index(config, p),
            },
            Weights::build(
                &p.connectivity,
                &p.weights,
                n_pre,
                n_post,
                seed,
                index as u64,
            ),
        ));
        if let Some(c) = &p.stdp {
            e.insert(Stdp::new(c, n_pre, n_post, dt));
        }
        projection_entities.push(e.id());
    }

    if let Some(s) = &config.stimulus {
        let images = images.expect("images are loaded for a stimulus");
        let size = config.layers[&s.layer].size();
        if images.pixels_per_image() != size {
            return Err(ConfigError(format!(
                "stimulus.layer: layer '{}' has {size} neurons but the images of {} have {}x{} = {} pixels",
                s.layer,
                images.name,
                images.rows,
                images.cols,
                images.pixels_per_image()
            )));
        }
        if s.images > images.len() {
            return Err(ConfigError(format!(
                "stimulus.images: {} requested but {} holds {} images",
                s.images,
                images.name,
                images.len()
            )));
        }
        let max_pixel = images.max_pixel() as f32;
        world.insert_resource(Stimulus {
            images,
            max_pixel,
            layer: entity_of(&s.layer),
            count: s.images,
            steps_per_image: s.steps_per_image,
            rest_steps: s.rest_steps,
            reset_between: s.reset_between,
        });
    }

    let recorder = recorder(config, &world, &layer_entities, &projection_entities);
    world.insert_resource(recorder);
    Ok(world)
}

/// Index of the synaptic current of the post layer that projection `p` feeds.
fn receptor_index(config: &Config, p: &ProjectionConfig) -> usize {
    let LayerConfig::Lif(post) = &config.layers[&p.post] else {
        unreachable!("validated: projections target LIF layers")
    };
    p.target.as_ref().map_or(0, |t| {
        post.receptors()
            .iter()
            .position(|(n, _)| n == t)
            .expect("validated target")
    })
}

/// The recorder of `config.record`, with the layout the writer needs.
fn recorder(config: &Config, world: &World, layers: &[Entity], projections: &[Entity]) -> Recorder {
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
        for &var in &tc.vars {
            layout.traces.push(TraceSpec {
                layer: tc.layer.clone(),
                var: var.name().into(),
                units: var.units().into(),
                node_ids: ids.clone(),
                start_step: window.0,
                every: tc.every,
            });
            traces.push(TraceProbe::new(
                var,
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
        let every = period
            .filter(|_| wr.every_samples > 0)
            .map(|p| p * wr.every_samples);
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
