#!/usr/bin/env python3
"""adex_patterns: one figure of the AdEx firing patterns of a run of
experiments/adex.toml (or any run with `voltage` and `w` traces of
one-neuron AdEx layers).

    spikesim run experiments/adex.toml --out adex.h5
    .venv/bin/python tools/adex_patterns.py adex.h5 docs/adex.png

For each traced layer (in file order of the config): V of node 0 (mV), each
spike drawn as a line up to the layer's V_peak, and w below it (nA); the
grey band is the layer's step current.
"""

from __future__ import annotations

import sys
import tomllib

import h5py
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def trace(f, layer, var):
    g = f[f"report/{layer}/{var}"]
    start, _stop, step = (float(x) for x in g["mapping/time"][:])
    values = g["data"][:, 0]
    return start + np.arange(len(values)) * step, values


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src, out = argv
    with h5py.File(src, "r") as f:
        raw = f.attrs["config_toml"]
        config = tomllib.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        layers = [name for name in config["layers"] if f"report/{name}/voltage" in f]
        cols = 2
        rows = (len(layers) + cols - 1) // cols
        fig = Figure(figsize=(12, 2.6 * rows), layout="constrained")
        FigureCanvasAgg(fig)
        outer = fig.add_gridspec(rows, cols)
        for k, name in enumerate(layers):
            p = config["layers"][name]
            inner = outer[k // cols, k % cols].subgridspec(2, 1, height_ratios=[3, 1.4], hspace=0.05)
            ax_v = fig.add_subplot(inner[0])
            ax_w = fig.add_subplot(inner[1], sharex=ax_v)
            t, v = trace(f, name, "voltage")
            _, w = trace(f, name, "w")
            v_peak = p.get("v_peak_mv", p.get("v_t_mv", -50.4) + 5 * p.get("delta_t_mv", 2.0))
            spikes = f[f"spikes/{name}/timestamps"][:] if f"spikes/{name}" in f else np.zeros(0)
            # V(n) is recorded after the reset: put V_peak at each spike step.
            v = v.copy()
            at = np.searchsorted(t, spikes)
            v[at[at < len(v)]] = v_peak
            step = p.get("step_current")
            for ax in (ax_v, ax_w):
                if step:
                    ax.axvspan(step["start_ms"], step["stop_ms"], color="0.93", zorder=0)
            ax_v.plot(t, v, color="tab:blue", linewidth=0.8)
            ax_w.plot(t, w, color="tab:red", linewidth=0.8)
            amp = f", I = {step['amplitude'] * 1000:g} pA" if step else ""
            ax_v.set_title(f"{name.replace('_', ' ')}: {len(spikes)} spike{'' if len(spikes) == 1 else 's'}{amp}", loc="left",
                           fontsize="medium")
            ax_v.set_ylabel("V (mV)")
            ax_w.set_ylabel("w (nA)")
            ax_v.tick_params(labelbottom=False)
            ax_w.set_xlabel("time (ms)")
            ax_w.set_xlim(t[0], t[-1])
        fig.suptitle("AdEx firing patterns (Naud et al. 2008; parameter rows of Brian2's example)")
        fig.savefig(out, dpi=110)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
