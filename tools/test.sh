#!/usr/bin/env bash
# Every test: installs what is missing (libhdf5, a Python venv with h5py),
# runs the Rust tests in release mode, then the Python tool tests against
# the release binary those tests built.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh --python
cargo test --release
cargo build --release --quiet
SPIKESIM_BIN="$(pwd)/target/release/spikesim" .venv/bin/python -m pytest tools
