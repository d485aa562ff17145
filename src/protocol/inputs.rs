//! What a protocol run reads before it starts: images and checkpoint.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Error;
use crate::config::{ConfigError, PhaseConfig, ProtocolConfig};
use crate::data::{self, ImageSet};
use crate::record::checkpoint::{self, Checkpoint};

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

/// Reads the checkpoint (if `protocol.load`) and the images of `p`.
pub fn load(p: &ProtocolConfig) -> Result<Inputs, Error> {
    let checkpoint = p.load.as_deref().map(checkpoint::load).transpose()?;
    Ok(Inputs {
        sets: load_sets(p)?,
        checkpoint,
    })
}

/// Loads each split the phases name once, and checks that each phase's
/// images exist.
fn load_sets(p: &ProtocolConfig) -> Result<Sets, Error> {
    let mut cache: HashMap<String, Arc<ImageSet>> = HashMap::new();
    let mut get = |name: &str, phase: &PhaseConfig| -> Result<Arc<ImageSet>, Error> {
        let set = match cache.get(phase.split()) {
            Some(s) => Arc::clone(s),
            None if phase.images == 0 => Arc::new(ImageSet::default()),
            None => {
                let s = Arc::new(data::load_split(&p.path, phase.split())?);
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
