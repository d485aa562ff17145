#!/usr/bin/env bash
# The seed demo: installs libhdf5 and the Python tools if missing, builds
# spikesim, runs experiments/seed-demo.toml (784 Bernoulli inputs -> 100 LIF
# neurons with a global adaptive threshold, 40 images of 250 ms) and the
# single-neuron experiment, draws the seed's two figures (spike raster,
# neuron dynamics), and prints where the output is.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --python
cargo build --release --quiet
mkdir -p runs
./target/release/spikesim run experiments/seed-demo.toml --out runs/seed-demo.h5 --force
./target/release/spikesim run experiments/single-neuron.toml --out runs/single-neuron.h5 --force
./target/release/spikesim inspect runs/seed-demo.h5
.venv/bin/python tools/spikeview.py raster runs/seed-demo.h5 --stop-ms 1000 -o runs/seed-demo-raster.png
.venv/bin/python tools/spikeview.py neuron runs/single-neuron.h5 --layer neuron --node 0 -o runs/single-neuron-neuron.png
echo
echo "output: $(pwd)/runs/seed-demo.h5, $(pwd)/runs/single-neuron.h5 and their figures in $(pwd)/runs/"
