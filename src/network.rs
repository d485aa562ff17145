//! Builds the ECS world of a run from its config: layer entities, their
//! neuron entities, projection entities, and the resources.

use bevy_ecs::prelude::*;

use crate::config::{Config, ConfigError, LayerConfig};
use crate::data::ImageSet;
use crate::encoder::{EncoderCount, EncoderParams, EncoderRng, Intensity};
use crate::layer::{InLayer, Layer, LayerSpikes, Spiked};
use crate::neuron::{Current, LifCount, LifParams, Refractory, Voltage};
use crate::protocol::Stimulus;
use crate::record::collect::{Recorder, TraceProbe};
use crate::record::writer::TraceSpec;
use crate::rng;
use crate::schedule::Clock;
use crate::synapse::{DeliveryStats, InputRing, Projection, Weights};
use crate::threshold::{LayerThreshold, Threshold, ThresholdParams};

/// Builds the world. `images` must be given when the config has a stimulus.
pub fn build(config: &Config, images: Option<ImageSet>) -> Result<World, ConfigError> {
    let dt = config.simulation.dt_ms;
    let seed = config.simulation.seed;
    let mut world = World::new();
    world.insert_resource(Clock { step: 0, dt_ms: dt });
    world.insert_resource(DeliveryStats::default());

    let mut layer_entities = Vec::new();
    let (mut n_lif, mut n_enc) = (0, 0);
    for (index, (name, lc)) in config.layers.iter().enumerate() {
        let size = lc.size();
        let layer = world.spawn(LayerSpikes::default()).id();
        let members: Vec<Entity> = match lc {
            LayerConfig::Encoder(e) => {
                n_enc += size;
                world.entity_mut(layer).insert(EncoderParams::new(e, dt));
                world
                    .spawn_batch((0..size as u32).map(|i| {
                        (
                            InLayer { layer, index: i },
                            Intensity::default(),
                            EncoderRng(rng::stream(seed, rng::ENCODER, index as u64, i as u64)),
                            Spiked::default(),
                        )
                    }))
                    .collect()
            }
            LayerConfig::Lif(l) => {
                n_lif += size;
                let max_delay = config
                    .projections
                    .values()
                    .filter(|p| &p.post == name)
                    .map(|p| p.delay)
                    .max()
                    .unwrap_or(1);
                let params = LifParams::new(l, dt);
                let v0 = params.v_rest;
                world.entity_mut(layer).insert((
                    params,
                    LayerThreshold {
                        sigma: l.sigma as f32,
                    },
                    ThresholdParams::new(&l.threshold, dt),
                    InputRing::new(size, max_delay),
                ));
                world
                    .spawn_batch((0..size as u32).map(|i| {
                        (
                            InLayer { layer, index: i },
                            Voltage(v0),
                            Current::default(),
                            Refractory::default(),
                            Threshold::default(),
                            Spiked::default(),
                        )
                    }))
                    .collect()
            }
        };
        world.entity_mut(layer).insert(Layer {
            name: name.clone(),
            index,
            members,
        });
        layer_entities.push(layer);
    }
    world.insert_resource(LifCount(n_lif));
    world.insert_resource(EncoderCount(n_enc));
    let entity_of = |name: &str| {
        layer_entities[config
            .layers
            .keys()
            .position(|k| k == name)
            .expect("validated")]
    };

    for (index, (name, p)) in config.projections.iter().enumerate() {
        let (n_pre, n_post) = (config.layers[&p.pre].size(), config.layers[&p.post].size());
        world.spawn((
            Projection {
                name: name.clone(),
                pre: entity_of(&p.pre),
                post: entity_of(&p.post),
                delay: p.delay,
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
        let max_pixel = images.pixels.iter().copied().max().unwrap_or(0).max(1) as f32;
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

    let mut probes = Vec::new();
    for t in &config.record.traces {
        let layer = entity_of(&t.layer);
        let node_ids = t.neurons.indices(config.layers[&t.layer].size());
        let members = &world.get::<Layer>(layer).expect("layer").members;
        let neurons: Vec<Entity> = node_ids.iter().map(|&i| members[i as usize]).collect();
        for &var in &t.vars {
            probes.push(TraceProbe {
                spec: TraceSpec {
                    layer: t.layer.clone(),
                    var: var.name().into(),
                    units: var.units().into(),
                    node_ids: node_ids.clone(),
                    start_step: 0,
                    every: t.every,
                },
                var,
                layer,
                neurons: neurons.clone(),
                data: Vec::new(),
            });
        }
    }
    let spike_layers = if config.record.spikes {
        layer_entities
    } else {
        Vec::new()
    };
    world.insert_resource(Recorder::new(
        config.record.block_steps,
        spike_layers,
        probes,
    ));
    Ok(world)
}
