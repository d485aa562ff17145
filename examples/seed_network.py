"""The seed network from Python: 784 Bernoulli inputs -> 100 LIF neurons with a global
adaptive threshold, on MNIST images, run in memory and drawn with matplotlib.

    .venv/bin/python examples/seed_network.py [-o DIR]

Draws the seed's two figures from in-memory results: a raster of the hidden layer with the
shared threshold σ over time, and the voltage, current and threshold of one neuron.
"""

import argparse
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import spikesim  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parent.parent

# The network of experiments/seed-demo.toml, written as a dict (the same keys as the TOML).
CONFIG = {
    "simulation": {"dt_ms": 1.0, "seed": 2026},
    "layers": {
        "input": {"kind": "encoder", "size": 784, "encoding": "bernoulli", "gain": 1.0},
        "hidden": {
            "kind": "lif", "size": 100, "current": "continuous",
            "tau_j_ms": 10.0, "tau_v_ms": 20.0, "r": 1.0, "sigma": 3.4,
            "threshold": {"global": {"eta": 0.02, "target": 1.0, "sigma_min": 0.5}},
        },
    },
    "projections": {
        "input_hidden": {
            "pre": "input", "post": "hidden", "connectivity": {"kind": "dense"},
            "weights": {"kind": "uniform", "low": 0.0, "high": 0.1},
        },
    },
    "stimulus": {"layer": "input", "dataset": "auto", "path": str(REPO / "datasets" / "mnist"),
                 "split": "train", "images": 8, "steps_per_image": 250},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--out", type=pathlib.Path, default=REPO / "runs")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    sim = spikesim.Simulation(CONFIG)
    sim.monitor_spikes("hidden")
    for var in ("voltage", "current", "threshold"):
        sim.monitor_trace("hidden", var)
    sigma = []
    # σ after every 10 steps, read by a callback.
    sim.run(callback=lambda s: sigma.append((s.t_ms, s.sigma("hidden"))), every=10)
    t, i = sim.spike_trains("hidden")
    print(f"{sim.steps_done} steps, {len(t)} spikes of 'hidden' "
          f"({len(t) / 100 / (sim.t_ms / 1000):.1f} Hz per neuron)")

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 5), sharex=True, height_ratios=[3, 1],
                                  layout="constrained")
    ax.scatter(t, i, s=1, c="k")
    for k in range(1, CONFIG["stimulus"]["images"]):
        ax.axvline(k * CONFIG["stimulus"]["steps_per_image"], c="0.8", lw=0.5)
    ax.set_ylabel("hidden neuron")
    ts, s = np.array(sigma).T
    ax2.plot(ts, s)
    ax2.set_xlabel("time (ms)")
    ax2.set_ylabel("σ (mV)")
    fig.savefig(args.out / "python-seed-raster.png", dpi=120)

    fig, axes = plt.subplots(3, 1, figsize=(9, 6), sharex=True, layout="constrained")
    for ax, (var, units) in zip(axes, [("voltage", "mV"), ("current", "nA"), ("threshold", "mV")]):
        times, frames = sim.trace("hidden", var)
        ax.plot(times, frames[:, 0], lw=0.8)
        ax.set_ylabel(f"{var} ({units})")
    spikes0 = t[i == 0]
    axes[0].plot(spikes0, np.full(len(spikes0), axes[0].get_ylim()[1]), "v", c="r", ms=3)
    axes[-1].set_xlabel("time (ms)")
    fig.savefig(args.out / "python-seed-neuron.png", dpi=120)
    print(f"wrote {args.out / 'python-seed-raster.png'} and {args.out / 'python-seed-neuron.png'}")


if __name__ == "__main__":
    main()
