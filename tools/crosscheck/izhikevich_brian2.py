#!/usr/bin/env python3
"""Cross-check of spikesim's Izhikevich neurons against Brian2 (not part of the test suite).

Runs the five neurons of experiments/izhikevich.toml (RS, IB, CH, FS, LTS of
Izhikevich 2003, Fig. 2; I = 10 from 10 ms, dt = 1 ms, 300 ms) in Brian2 with
the numpy code-generation target and the same scheme as spikesim, written out
as Brian2 code (no ODE solver is involved):

    when='groups'      I = 10·[t ≥ 10 ms]; v += dt/2·f(v); v += dt/2·f(v)   (old u)
    when='thresholds'  spike if v ≥ v_peak
    when='resets'      v = c; u += d
    when='end'         u += dt·a·(b·v − u)                                    (new v)

so the u step comes after the reset, as in spikesim (src/neuron/izhikevich.rs).
With ``--order paper`` the u step runs before the threshold instead (the order
of the paper's net.m and NEST's izhikevich), to show what that order gives.
Spike times (the step's t, as spikesim's timestamps) and voltage traces are
compared with a spikesim output file, in float64 and in float32 Brian2 runs.

    python3 -m venv /tmp/brian-venv
    /tmp/brian-venv/bin/pip install brian2 "numpy<2.4" h5py matplotlib   # brian2 2.9 uses ndarray.ptp
    spikesim run experiments/izhikevich.toml
    /tmp/brian-venv/bin/python tools/crosscheck/izhikevich_brian2.py runs/izhikevich.h5 \\
        [-o docs/izhikevich-brian2.png] [--order paper]
"""

import argparse
import sys
import tomllib

import h5py
import numpy as np

LAYERS = ["rs", "ib", "ch", "fs", "lts"]
DEFAULTS = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_peak": 30.0}


def spikesim_run(path):
    """Per layer: (params, spike times ms, voltage trace) from a spikesim file; and dt, steps."""
    with h5py.File(path, "r") as f:
        config = tomllib.loads(f.attrs["config_toml"])
        dt = float(f.attrs["dt_ms"])
        steps = int(f.attrs["steps"])
        out = {}
        for name in LAYERS:
            params = {k: float(config["layers"][name].get(k, v)) for k, v in DEFAULTS.items()}
            step = config["layers"][name]["step_current"]
            params.update(start_ms=step["start_ms"], stop_ms=step["stop_ms"], amp=step["amplitude"])
            t = f[f"spikes/{name}/timestamps"][:]
            v = f[f"report/{name}/voltage/data"][:, 0] if f"report/{name}/voltage" in f else None
            out[name] = (params, t, v)
    return out, dt, steps


def brian2_run(layers, dt_ms, steps, dtype, order):
    """Spike times (ms) and voltage traces (one per step, after the reset) of each layer in Brian2."""
    import brian2 as b2

    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.prefs.core.default_float_dtype = dtype
    b2.defaultclock.dt = dt_ms * b2.ms
    eqs = """
    v : 1
    u : 1
    I : 1
    a : 1 (constant)
    b : 1 (constant)
    c : 1 (constant)
    d : 1 (constant)
    v_peak : 1 (constant)
    i_amp : 1 (constant)
    t_on : second (constant)
    t_off : second (constant)
    """
    groups, monitors = {}, {}
    net = b2.Network()
    for name, (p, _, _) in layers.items():
        g = b2.NeuronGroup(1, eqs, threshold="v >= v_peak", reset="v = c\nu = u + d", method="euler",
                           name=f"n_{name}")
        g.a, g.b, g.c, g.d, g.v_peak, g.i_amp = p["a"], p["b"], p["c"], p["d"], p["v_peak"], p["amp"]
        g.t_on, g.t_off = p["start_ms"] * b2.ms, p["stop_ms"] * b2.ms
        g.v = -65.0
        g.u = p["b"] * -65.0
        # h = dt/2 in ms, dt·a with dt in ms: the equations are in ms.
        h, dtm = dt_ms / 2, dt_ms
        g.run_regularly(
            f"I = i_amp * int(t >= t_on and t < t_off)\n"
            f"v = v + {h!r} * (0.04 * (v * v) + 5 * v + 140 - u + I)\n"
            f"v = v + {h!r} * (0.04 * (v * v) + 5 * v + 140 - u + I)",
            when="groups", order=0, name=f"v_{name}")
        g.run_regularly(f"u = u + {dtm!r} * a * (b * v - u)",
                        when="groups" if order == "paper" else "end", order=1, name=f"u_{name}")
        sm = b2.SpikeMonitor(g, name=f"s_{name}")
        vm = b2.StateMonitor(g, "v", record=0, when="end", order=10, name=f"m_{name}")
        groups[name], monitors[name] = g, (sm, vm)
        net.add(g, g.contained_objects, sm, vm)
    net.run(steps * dt_ms * b2.ms)
    return {name: (np.asarray(sm.t / b2.ms), np.asarray(vm.v[0])) for name, (sm, vm) in monitors.items()}


def compare(ours, theirs, dt):
    """Text lines: per layer, spike counts and how the trains and voltages agree."""
    lines, same_all = [], True
    for name in LAYERS:
        _, t, v = ours[name]
        bt, bv = theirs[name]
        same = len(t) == len(bt) and np.allclose(t, bt, atol=1e-9)
        same_all &= same
        if len(t) == len(bt):
            d = np.max(np.abs(t - bt)) if len(t) else 0.0
            spikes = "identical" if same else f"max |Δt| {d:g} ms ({d / dt:g} steps)"
        else:
            n = min(len(t), len(bt))
            first = next((k for k in range(n) if abs(t[k] - bt[k]) > 1e-9), n)
            spikes = f"counts differ; first {first} spikes identical"
        dv = np.max(np.abs(v.astype(np.float64) - bv.astype(np.float64))) if v is not None else float("nan")
        lines.append(f"  {name:4s} spikesim {len(t):3d}  brian2 {len(bt):3d}  {spikes:28s}  max |ΔV| {dv:.3g} mV")
    return lines, same_all


def figure(ours, runs, out):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    rows = []
    for k, name in enumerate(LAYERS):
        y = len(LAYERS) - 1 - k
        ax.vlines(ours[name][1], y + 0.05, y + 0.35, color="tab:blue", linewidth=1.2,
                  label="spikesim (f32)" if k == 0 else None)
        for (label, theirs), (lo, hi), colour in zip(runs.items(), [(y + 0.38, y + 0.62), (y + 0.65, y + 0.95)],
                                                     ["tab:orange", "tab:green"]):
            ax.vlines(theirs[name][0], lo, hi, color=colour, linewidth=1.2, label=label if k == 0 else None)
        rows.append(name)
    ax.set_yticks([len(LAYERS) - 1 - k + 0.5 for k in range(len(LAYERS))], [r.upper() for r in rows])
    ax.set_xlabel("time (ms)")
    ax.set_title("Izhikevich (2003) Fig. 2 cells, I = 10 from 10 ms, dt = 1 ms: spike times", loc="left",
                 fontsize="medium")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize="small", frameon=False)
    fig.savefig(out, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="spikesim output of experiments/izhikevich.toml")
    ap.add_argument("-o", "--out", help="write a spike-time comparison figure (PNG)")
    ap.add_argument("--order", choices=["spikesim", "paper"], default="spikesim",
                    help="u step after the reset (spikesim, default) or before the threshold (net.m, NEST)")
    args = ap.parse_args(argv)
    ours, dt, steps = spikesim_run(args.file)
    runs, ok = {}, True
    for dtype in (np.float64, np.float32):
        theirs = brian2_run(ours, dt, steps, dtype, args.order)
        label = f"Brian2 {np.dtype(dtype).name}"
        runs[label] = theirs
        lines, same = compare(ours, theirs, dt)
        ok &= same
        print(f"{label}, u step {'after the reset' if args.order == 'spikesim' else 'before the threshold'}:")
        print("\n".join(lines))
    if args.out:
        figure(ours, runs, args.out)
        print(args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
