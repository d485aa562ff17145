//! Recording: what is collected each step ([`collect`]) into [`Batch`]es,
//! checked against the run's [`Layout`] ([`check`]) and stored by the writer
//! thread ([`writer`]) through a [`Backend`]: an HDF5 file ([`hdf5`], the
//! layout in [`schema`]) or memory ([`memory`]). Reading a run's file back:
//! a summary ([`inspect`]) and a trained network's saved state
//! ([`checkpoint`]), both through `read`. What an output file may replace
//! (not the run's inputs, not a file another run writes): [`output`].
//!
//! One HDF5 file per run (DESIGN §3): spikes in the SONATA spike layout under
//! `/spikes/<layer>/{timestamps, node_ids}`, traces in the SONATA report
//! layout under `/report/<layer>/<var>/{data, mapping/...}`, and the run's
//! seed, dt, steps, threads and full resolved config as root attributes.
//! Results and final state are whole datasets written once below `/results`
//! and `/state` ([`Batch::Dataset`]); [`checkpoint`] documents the
//! `state/weights`, `state/theta` and `results/assignments` layout.

pub mod backend;
pub mod batch;
pub mod check;
pub mod checkpoint;
pub mod collect;
pub mod error;
pub mod hdf5;
pub mod inspect;
pub mod layout;
pub mod memory;
pub mod output;
pub mod plan;
pub(crate) mod read;
pub mod schema;
mod utc;
pub mod writer;

#[cfg(test)]
pub(crate) mod fixtures;

pub use backend::{Backend, End};
pub use batch::{Attr, Batch, Values};
pub use error::{ReadError, RecordError};
pub use layout::{Layout, RateSpec, RunHeader, SampleSpec, SpikeLayer, TraceSpec, WeightSpec};
pub use writer::Writer;
