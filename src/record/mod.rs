//! Recording: what is collected each step ([`collect`]), the HDF5 writer
//! thread ([`writer`]), the file layout ([`schema`]), reading a run's file
//! back for a summary ([`inspect`]) and a trained network's saved state back
//! for a new run ([`checkpoint`]).
//!
//! One HDF5 file per run (DESIGN §3): spikes in the SONATA spike layout under
//! `/spikes/<layer>/{timestamps, node_ids}`, traces in the SONATA report
//! layout under `/report/<layer>/<var>/{data, mapping/...}`, and the run's
//! seed, dt, steps, threads and full resolved config as root attributes.
//! Results and final state are whole datasets written once below `/results`
//! and `/state` ([`writer::Block::Dataset`]); [`checkpoint`] documents the
//! `state/weights`, `state/theta` and `results/assignments` layout.

pub mod checkpoint;
pub mod collect;
pub mod inspect;
pub mod plan;
pub mod schema;
pub mod writer;
