//! Builds the ECS world of a run from its config: layer entities, their
//! neuron entities, projection entities, and the resources (generators
//! among them).

use bevy_ecs::prelude::*;

use crate::config::{Config, ConfigError, LayerConfig};
use crate::data::ImageSet;
use crate::encoder::{EncoderParams, EncoderRng, Intensity};
use crate::generator::Generators;
use crate::layer::{InLayer, Layer, LayerSpikes, Spiked};
use crate::neuron::input::InputRing;
use crate::neuron::model::{LayerRecordables, Spawn};
use crate::neuron::recordables;
use crate::neuron::synaptic::ExternalCurrent;
use crate::param::LayerDraw;
use crate::poisson_input::PoissonInput;
use crate::record::plan;
use crate::rng;
use crate::spike_file;
use crate::step::{Clock, Plasticity};
use crate::stimulus::Stimulus;
use crate::synapse::stdp::Stdp;
use crate::synapse::{DeliveryStats, Projection, build_weights};

/// Builds the world. `images` must be given when the config has a stimulus;
/// they are checked against it ([`check_images`]) before anything is spawned.
pub fn build(config: &Config, images: Option<ImageSet>) -> Result<World, ConfigError> {
    check_images(config, images.as_ref())?;
    let dt = config.simulation.dt_ms;
    let seed = config.simulation.seed;
    let mut world = World::new();
    world.insert_resource(Clock { step: 0 });
    world.insert_resource(DeliveryStats::default());
    world.insert_resource(Plasticity::default());
    // The synapses first: a post layer's input ring is as long as its
    // projections' largest delay, which per-synapse delays only give once
    // drawn.
    let mut weights = Vec::new();
    for (index, (name, p)) in config.projections.iter().enumerate() {
        let sizes = (config.layers[&p.pre].size(), config.layers[&p.post].size());
        let key = format!("projections.{name}");
        weights.push(build_weights(p, sizes, (dt, seed, index as u64), &key)?);
    }

    let mut layer_entities = Vec::new();
    for (index, (name, lc)) in config.layers.iter().enumerate() {
        let size = lc.size();
        let key = |f: &str| format!("layers.{name}.{f}");
        let layer = world.spawn(LayerSpikes::default()).id();
        let mut encoders = |params: EncoderParams, x: &mut dyn Iterator<Item = f32>| {
            world.entity_mut(layer).insert(params);
            world
                .spawn_batch(x.zip(0..size as u32).map(|(x, i)| {
                    (
                        InLayer { layer, index: i },
                        Intensity(x),
                        EncoderRng::keyed(seed, rng::ENCODER, index as u64, i as u64),
                        Spiked::default(),
                    )
                }))
                .collect()
        };
        let members: Vec<Entity> = match lc {
            LayerConfig::Encoder(e) => encoders(
                EncoderParams::new(e, dt),
                &mut std::iter::repeat_n(0.0, size),
            ),
            LayerConfig::Poisson(p) => {
                let rates = p.rates(&key("rate_hz"), seed, index, dt)?;
                let (params, x) = EncoderParams::poisson_source(&rates, dt);
                encoders(params, &mut x.into_iter())
            }
            LayerConfig::SpikeFile(f) => {
                let trains = spike_file::load(f, &key, dt, config.steps())?;
                world.entity_mut(layer).insert(trains);
                world
                    .spawn_batch((0..size as u32).map(|index| InLayer { layer, index }))
                    .collect()
            }
            LayerConfig::Neuron(model) => {
                let model = model.layer();
                let max_delay = config
                    .projections
                    .values()
                    .zip(&weights)
                    .filter(|(p, _)| &p.post == name)
                    .map(|(_, (_, delay))| *delay)
                    .max()
                    .unwrap_or(1);
                let input_recorded = config.record.traces.iter().any(|t| {
                    &t.layer == name && t.vars.iter().any(|v| *v == recordables::INPUT.name)
                });
                let (i_name, i_ext, step_current) = model.external();
                let draw = LayerDraw {
                    key: &key,
                    size,
                    layer: index,
                    seed,
                };
                let i_ext = i_ext.resolve(i_name, &draw)?;
                world.entity_mut(layer).insert((
                    LayerRecordables(model.recordables()),
                    ExternalCurrent::new(&i_ext, step_current, dt),
                    InputRing::new(
                        size,
                        max_delay,
                        model.synaptic_currents().len(),
                        input_recorded,
                    ),
                ));
                model.spawn(Spawn {
                    world: &mut world,
                    layer,
                    index,
                    seed,
                    dt_ms: dt,
                    key: &key,
                })?
            }
        };
        world.entity_mut(layer).insert(Layer {
            name: name.clone(),
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
    for ((name, p), (w, delay)) in config.projections.iter().zip(weights) {
        let (n_pre, n_post) = (config.layers[&p.pre].size(), config.layers[&p.post].size());
        let mut e = world.spawn((
            Projection {
                name: name.clone(),
                pre: entity_of(&p.pre),
                post: entity_of(&p.post),
                delay,
                current: target_index(config, &p.post, p.target.as_deref()),
            },
            w,
        ));
        if let Some(c) = &p.stdp {
            e.insert(Stdp::new(c, n_pre, n_post, dt));
        }
        projection_entities.push(e.id());
    }

    for (index, (name, p)) in config.poisson_inputs.iter().enumerate() {
        let at = (
            entity_of(&p.layer),
            config.layers[&p.layer].size(),
            target_index(config, &p.layer, p.target.as_deref()),
        );
        world.spawn(PoissonInput::new(name, p, at, seed, index, dt));
    }

    if let Some(s) = &config.stimulus {
        let images = images.expect("checked: images are loaded for a stimulus");
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

    if !config.generators.is_empty() {
        world.insert_resource(Generators::new(config, &layer_entities));
    }

    let recorder = plan::recorder(config, &world, &layer_entities, &projection_entities);
    world.insert_resource(recorder);
    Ok(world)
}

/// Checks that the stimulus layer has one neuron per pixel of `images` and
/// that they hold the images the stimulus shows. Cheap, so it runs before
/// a layer of the wrong size is spawned (which could take all the memory).
///
/// # Panics
/// If the config has a stimulus and `images` is `None`.
pub fn check_images(config: &Config, images: Option<&ImageSet>) -> Result<(), ConfigError> {
    let Some(s) = &config.stimulus else {
        return Ok(());
    };
    let images = images.expect("images are loaded for a stimulus");
    check_input_size(config, "stimulus.layer", &s.layer, images)?;
    if s.images > images.len() {
        return Err(ConfigError(format!(
            "stimulus.images: {} requested but {} holds {} images",
            s.images,
            images.name,
            images.len()
        )));
    }
    Ok(())
}

/// Checks that `layer` of `config` (named by `key`, e.g. `stimulus.layer`)
/// has one neuron per pixel of `images`.
pub fn check_input_size(
    config: &Config,
    key: &str,
    layer: &str,
    images: &ImageSet,
) -> Result<(), ConfigError> {
    let size = config.layers[layer].size();
    if images.pixels_per_image() == size {
        return Ok(());
    }
    Err(ConfigError(format!(
        "{key}: layer '{layer}' has {size} neurons but the images of {} have {}x{} = {} pixels",
        images.name,
        images.rows,
        images.cols,
        images.pixels_per_image()
    )))
}

/// Index of the synaptic current `target` (the first without one) of
/// neuron layer `layer`, as validated.
fn target_index(config: &Config, layer: &str, target: Option<&str>) -> usize {
    let post = config.layers[layer]
        .neuron()
        .expect("validated: a target is a neuron layer");
    target.map_or(0, |t| {
        post.synaptic_currents()
            .iter()
            .position(|(n, _)| n == t)
            .expect("validated target")
    })
}
