//! The learning protocol: train, assign labels, evaluate ([`learning`]).

pub mod learning;
