#!/usr/bin/env python3
"""python_overhead: the cost of driving spikesim from Python, W1 (the seed network, N = 100).

    .venv/bin/python tools/bench/python_overhead.py [--reps 5] [--steps 5000]

Interleaves, `--reps` times: `spikesim bench w1 --neurons 100 --steps N` (the CLI's loop, its
RESULT wall_s), `sim.run(N)` and N calls of `sim.step()` on a fresh `spikesim.Simulation` of
experiments/w1.toml (1 thread, nothing monitored or recorded, as the bench; 20 images of 250 steps, so --steps up to 5000). Prints the medians and min–max of each, the
ratio run / CLI, and the per-call overhead of step(): (loop of step() − run) / N.
"""

import argparse
import os
import re
import statistics
import subprocess
import time
from pathlib import Path

import spikesim

REPO = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps", type=int, default=5000)
    a = p.parse_args()
    exe = os.environ.get("SPIKESIM_BIN", str(REPO / "target" / "release" / "spikesim"))
    config = REPO / "experiments" / "w1.toml"
    # What `spikesim bench` sets: nothing recorded.
    sets = ["simulation.threads=1", "record.spikes.layers=[]", "record.samples.layers=[]"]
    cli, run, step = [], [], []
    for _ in range(a.reps):
        out = subprocess.run([exe, "bench", "w1", "--neurons", "100", "--steps", str(a.steps)],
                             check=True, capture_output=True, text=True).stdout
        cli.append(float(re.search(r"wall_s=(\S+)", out).group(1)))
        sim = spikesim.Simulation(config, set=sets)
        t = time.perf_counter()
        sim.run(a.steps)
        run.append(time.perf_counter() - t)
        sim = spikesim.Simulation(config, set=sets)
        t = time.perf_counter()
        for _ in range(a.steps):
            sim.step()
        step.append(time.perf_counter() - t)

    def show(name, xs):
        print(f"{name}: median {statistics.median(xs):.4f} s (min {min(xs):.4f}, max {max(xs):.4f})")

    show(f"CLI loop, {a.steps} steps", cli)
    show(f"sim.run({a.steps})", run)
    show(f"{a.steps} x sim.step()", step)
    ratios = [r / c for r, c in zip(run, cli)]
    print(f"sim.run / CLI: median {statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")
    per = [(s - r) / a.steps * 1e6 for s, r in zip(step, run)]
    print(f"step() overhead per call: median {statistics.median(per):.2f} us (min {min(per):.2f}, max {max(per):.2f})")


if __name__ == "__main__":
    main()
