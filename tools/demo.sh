#!/usr/bin/env bash
# The seed demo: installs libhdf5 if missing, builds spikesim, runs
# experiments/seed-demo.toml (784 Bernoulli inputs -> 100 LIF neurons with a
# global adaptive threshold, 40 images of 250 ms) and the single-neuron
# experiment, and prints where the output is.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cargo build --release --quiet
mkdir -p runs
./target/release/spikesim run experiments/seed-demo.toml --out runs/seed-demo.h5
./target/release/spikesim run experiments/single-neuron.toml --out runs/single-neuron.h5
./target/release/spikesim inspect runs/seed-demo.h5
echo
echo "output: $(pwd)/runs/seed-demo.h5 and $(pwd)/runs/single-neuron.h5"
