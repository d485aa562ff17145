//! What a protocol run reads before it starts: images and checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{Config, ConfigError, PhaseConfig, ProtocolConfig};
use crate::data::{self, ImageSet};
use crate::record::checkpoint::{self, Checkpoint};
use crate::{Error, network};

/// The images of each phase (shared where phases use the same split).
#[derive(Debug, Clone)]
pub struct Sets {
    /// Training set.
    pub train: Arc<ImageSet>,
    /// Label assignment set.
    pub assign: Arc<ImageSet>,
    /// Evaluation set.
    pub evaluate: Arc<ImageSet>,
}

/// What a protocol run reads before it starts: each phase's images and the
/// checkpoint it starts from, each read once.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The images of each phase.
    pub sets: Sets,
    /// The trained network of `protocol.load`, if any.
    pub checkpoint: Option<Checkpoint>,
}

/// Reads the checkpoint (if `protocol.load`) and the images of the
/// protocol of `config`; `None` without a protocol. Fails where the images
/// of a phase are not there or do not have one pixel per neuron of the
/// input layer.
pub fn load(config: &Config) -> Result<Option<Inputs>, Error> {
    let Some(p) = &config.protocol else {
        return Ok(None);
    };
    let checkpoint = p.load.as_deref().map(checkpoint::load).transpose()?;
    Ok(Some(Inputs {
        sets: load_sets(config, p)?,
        checkpoint,
    }))
}

/// Loads each split the phases of `p` name once, and checks that each
/// phase's images exist and fit the input layer of `config`.
fn load_sets(config: &Config, p: &ProtocolConfig) -> Result<Sets, Error> {
    let mut cache: HashMap<String, Arc<ImageSet>> = HashMap::new();
    let mut get = |name: &str, phase: &PhaseConfig| -> Result<Arc<ImageSet>, Error> {
        let set = match cache.get(phase.split()) {
            Some(s) => Arc::clone(s),
            None if phase.images == 0 => Arc::new(ImageSet::default()),
            None => {
                let s = Arc::new(data::load_split(&p.path, phase.split())?);
                network::check_input_size(config, "protocol.input", &p.input, &s)?;
                cache.insert(phase.split().to_owned(), Arc::clone(&s));
                s
            }
        };
        if phase.images > 0 && phase.offset + phase.images > set.len() {
            return Err(ConfigError(format!(
                "protocol.{name}.images: offset {} + {} images is more than the {} images of {}",
                phase.offset,
                phase.images,
                set.len(),
                set.name
            ))
            .into());
        }
        Ok(set)
    };
    Ok(Sets {
        train: get("train", &p.train)?,
        assign: get("assign", &p.assign)?,
        evaluate: get("evaluate", &p.evaluate)?,
    })
}
