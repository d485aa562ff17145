#!/usr/bin/env bash
# Scripted measurement (not a test): peak resident memory of a run that
# records the voltage of 10,000 neurons every step for 100,000 steps
# (10^9 float32 values, 4 GB before compression), which streams to disk.
#   tools/measure-memory.sh [STEPS]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-100000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/memory.toml" <<TOML
[simulation]
steps = $steps
[layers.cells]
kind = "lif"
size = 10000
current = "instantaneous"
tau_v_ms = 20.0
sigma = 1.0
i_ext = 1.2
t_ref_ms = 2.0
[[record.traces]]
layer = "cells"
vars = ["voltage"]
TOML
cargo build --release --quiet
/usr/bin/time -v ./target/release/spikesim run "$work/memory.toml" --out "$work/memory.h5" 2> "$work/time.txt"
grep -E "Maximum resident set size|Elapsed" "$work/time.txt"
grep -E "peak RSS" "$work/time.txt" || true
ls -l "$work/memory.h5" | awk '{printf "output file: %.1f MB\n", $5 / 1e6}'
./target/release/spikesim inspect "$work/memory.h5" | sed -n '/traces/,$p'
