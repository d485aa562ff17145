#!/usr/bin/env bash
# The seed demo: installs libhdf5 and the Python tools if missing, builds
# spikesim, runs experiments/seed-demo.toml (784 Bernoulli inputs -> 100 LIF
# neurons with a global adaptive threshold, 40 images of 250 ms) and the
# single-neuron experiment and the Izhikevich and AdEx firing patterns, draws
# the seed's two figures (spike raster, neuron dynamics) and the patterns, trains the small STDP network of experiments/digits-stdp.toml
# on the 8x8 digits when ../shared/datasets has them (a few seconds) and draws
# its receptive fields, runs examples/seed_network.py (the seed network from
# Python), and prints where the output is.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --python
cargo build --release --quiet
mkdir -p runs
./target/release/spikesim run experiments/seed-demo.toml --out runs/seed-demo.h5 --force
./target/release/spikesim run experiments/single-neuron.toml --out runs/single-neuron.h5 --force
./target/release/spikesim run experiments/izhikevich.toml --out runs/izhikevich.h5 --force
./target/release/spikesim run experiments/adex.toml --out runs/adex.h5 --force
./target/release/spikesim run experiments/microcircuit.toml --set scale.n=0.1 --set scale.k=0.1 \
    --out runs/microcircuit-0.1.h5 --force
./target/release/spikesim inspect runs/seed-demo.h5
.venv/bin/python tools/spikeview.py raster runs/seed-demo.h5 --stop-ms 1000 -o runs/seed-demo-raster.png
.venv/bin/python tools/spikeview.py raster runs/microcircuit-0.1.h5 --start-ms 1000 --stop-ms 1100 \
    -o runs/microcircuit-0.1-raster.png
.venv/bin/python tools/validate.py boxplot runs/microcircuit-0.1.h5 --from-ms 500 -o runs/microcircuit-0.1-rates.png
.venv/bin/python tools/spikeview.py neuron runs/single-neuron.h5 --layer neuron --node 0 -o runs/single-neuron-neuron.png
.venv/bin/python tools/spikeview.py neuron runs/izhikevich.h5 --layer rs ib ch fs lts --node 0 -o runs/izhikevich-patterns.png
.venv/bin/python tools/spikeview.py neuron runs/adex.h5 --layer tonic adapting initial_burst regular_bursting \
    delayed_accelerating delayed_regular_bursting transient irregular --node 0 -o runs/adex-patterns.png
# The seed network again, from Python (import spikesim), drawn from in-memory results.
.venv/bin/python examples/seed_network.py -o runs
if [ -e ../shared/datasets/digits8x8/digits-images-idx3-ubyte.gz ]; then
    ./target/release/spikesim run experiments/digits-stdp.toml --out runs/digits-stdp.h5 --force
    .venv/bin/python tools/spikeview.py fields runs/digits-stdp.h5 -o runs/digits-stdp-fields.png
else
    echo "note: no ../shared/datasets/digits8x8 beside the clone; skipping the STDP demo (experiments/digits-stdp.toml)"
fi
echo
echo "output: $(pwd)/runs/seed-demo.h5, $(pwd)/runs/single-neuron.h5, $(pwd)/runs/izhikevich.h5, $(pwd)/runs/adex.h5, $(pwd)/runs/microcircuit-0.1.h5, $(pwd)/runs/digits-stdp.h5 and their figures (and python-seed-*.png from Python) in $(pwd)/runs/"
