#!/usr/bin/env python3
"""Cross-check spikesim's AdEx (`kind = "adex"`) against Brian2.

Not part of the test suite. Needs Brian2 in its own virtual environment:

    python3 -m venv /tmp/brian-venv-adex
    /tmp/brian-venv-adex/bin/pip install brian2 "numpy<2.3" h5py
    spikesim run experiments/adex.toml --out adex.h5
    /tmp/brian-venv-adex/bin/python tools/crosscheck/adex_brian2.py adex.h5

For every one-neuron AdEx layer of the run's config (read from the file's
`config_toml`), builds the same neuron in Brian2 (numpy target,
`method='euler'`, the run's dt, threshold `vm >= V_peak`, reset
`vm = V_r; w += b`, the external current `i_ext` plus `step_current`
applied to the membrane, in force at the steps n with
ceil(start/dt) <= n < ceil(stop/dt) as in spikesim), runs it as long as
the spikesim run, and compares the spike trains: counts, and for the spikes
paired in order the largest time difference. spikesim steps in f32, Brian2
in f64. The layer's first synaptic current must be `instantaneous` (then
spikesim's membrane current is the external current as it is) and there
must be no refractory period.
"""

from __future__ import annotations

import math
import sys
import tomllib

import h5py
import numpy as np


def adex_layers(config):
    """(name, parameters) of the one-neuron AdEx layers, with spikesim's defaults."""
    defaults = dict(c_nf=0.281, g_l_us=0.030, e_l_mv=-70.6, v_t_mv=-50.4, delta_t_mv=2.0,
                    tau_w_ms=144.0, a_us=0.004, b_na=0.0805, v_r_mv=-70.6, t_ref_ms=0.0,
                    w_init=0.0, i_ext=0.0)
    out = []
    for name, layer in config["layers"].items():
        if layer.get("kind") != "adex" or layer.get("size") != 1:
            continue
        p = {**defaults, **layer}
        p.setdefault("v_peak_mv", p["v_t_mv"] + 5 * p["delta_t_mv"])
        first = next(iter(p.get("synapses", {}).values()), {"current": "exponential"})
        if first.get("current", "exponential") != "instantaneous" or p["t_ref_ms"] != 0.0:
            print(f"skipping {name}: needs an instantaneous first current and t_ref_ms = 0")
            continue
        v_init = p.get("v_init", {"kind": "constant", "value": p["e_l_mv"]})
        if v_init["kind"] != "constant":
            print(f"skipping {name}: v_init must be constant")
            continue
        p["v0"] = v_init["value"]
        out.append((name, p))
    return out


def current(p, steps, dt):
    """The external current (nA) at each step, as spikesim's ExternalCurrent."""
    i = np.full(steps, p["i_ext"])
    s = p.get("step_current")
    if s:
        first, end = math.ceil(s["start_ms"] / dt), math.ceil(s["stop_ms"] / dt)
        i[first:end] += s["amplitude"]
    return i


def scheme_spikes(layers, steps, dt, dtype):
    """Spike times (ms) of spikesim's scheme (src/neuron/adex.rs) redone in
    numpy at `dtype`: forward Euler of V and w from the state at n-1, the
    exponent capped at min((V_peak - V_T)/Delta_T, 80), spike test after
    the V update, reset then w += b."""
    col = lambda key: np.array([p[key] for _, p in layers], dtype=np.float64)
    c = lambda x: np.asarray(x, dtype=dtype)
    dt_over_c, g_l, e_l, v_t, d_t = c(dt / col("c_nf")), c(col("g_l_us")), c(col("e_l_mv")), \
        c(col("v_t_mv")), c(col("delta_t_mv"))
    g_l_d_t = c(col("g_l_us") * col("delta_t_mv"))
    x_max = np.minimum(c((col("v_peak_mv") - col("v_t_mv")) / col("delta_t_mv")), c(80.0))
    dt_over_tau_w, a, b = c(dt / col("tau_w_ms")), c(col("a_us")), c(col("b_na"))
    v_r, v_peak = c(col("v_r_mv")), c(col("v_peak_mv"))
    stim = np.stack([current(p, steps, dt) for _, p in layers], axis=1).astype(dtype)
    v, w = c(col("v0")), c(col("w_init"))
    spikes = [[] for _ in layers]
    with np.errstate(over="ignore"):
        for n in range(steps):
            x = np.minimum((v - v_t) / d_t, x_max)
            vn = v + dt_over_c * (-g_l * (v - e_l) + g_l_d_t * np.exp(x) - w + stim[n])
            wn = w + dt_over_tau_w * (a * (v - e_l) - w)
            s = vn >= v_peak
            v, w = np.where(s, v_r, vn), np.where(s, wn + b, wn)
            for k in np.nonzero(s)[0]:
                spikes[k].append(n * dt)
    return [np.array(t) for t in spikes]


def same_steps(a, b, dt):
    """Whether two spike trains have the same spikes at the same steps."""
    return len(a) == len(b) and bool(np.all(np.abs(a - b) < dt / 2))


def first_difference(a, b, dt):
    """`#k` of the first spike of `a` not at the same step in `b`, or `none`."""
    k = min(len(a), len(b))
    diff = np.nonzero(np.abs(a[:k] - b[:k]) >= dt / 2)[0]
    if len(diff):
        return f"#{diff[0]}"
    return "none" if len(a) == len(b) else f"#{k}"


def brian2_spikes(layers, steps, dt_ms):
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = dt_ms * b2.ms
    n = len(layers)
    stim = np.stack([current(p, steps, dt_ms) for _, p in layers], axis=1)
    i_stim = b2.TimedArray(stim * b2.nA, dt=dt_ms * b2.ms)
    eqs = """
    dvm/dt = (-g_l*(vm - e_l) + g_l*d_t*exp((vm - v_t)/d_t) - w + i_stim(t, i))/c_m : volt
    dw/dt = (a*(vm - e_l) - w)/tau_w : amp
    c_m : farad (constant)
    g_l : siemens (constant)
    e_l : volt (constant)
    v_t : volt (constant)
    d_t : volt (constant)
    tau_w : second (constant)
    a : siemens (constant)
    b : amp (constant)
    v_r : volt (constant)
    v_peak : volt (constant)
    """
    g = b2.NeuronGroup(n, eqs, threshold="vm >= v_peak", reset="vm = v_r; w += b",
                       method="euler", namespace={"i_stim": i_stim})
    col = lambda key: np.array([p[key] for _, p in layers])
    g.c_m = col("c_nf") * b2.nF
    g.g_l = col("g_l_us") * b2.uS
    g.e_l = col("e_l_mv") * b2.mV
    g.v_t = col("v_t_mv") * b2.mV
    g.d_t = col("delta_t_mv") * b2.mV
    g.tau_w = col("tau_w_ms") * b2.ms
    g.a = col("a_us") * b2.uS
    g.b = col("b_na") * b2.nA
    g.v_r = col("v_r_mv") * b2.mV
    g.v_peak = col("v_peak_mv") * b2.mV
    g.vm = col("v0") * b2.mV
    g.w = col("w_init") * b2.nA
    mon = b2.SpikeMonitor(g)
    b2.run(steps * dt_ms * b2.ms)
    trains = mon.spike_trains()
    return [np.asarray(trains[k] / b2.ms) for k in range(n)]


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with h5py.File(argv[0], "r") as f:
        raw = f.attrs["config_toml"]
        config = tomllib.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        dt = float(f.attrs["dt_ms"])
        steps = int(f.attrs["steps"])
        layers = adex_layers(config)
        ours = [f[f"spikes/{name}/timestamps"][:] if f"spikes/{name}" in f else np.zeros(0)
                for name, _ in layers]
    theirs = brian2_spikes(layers, steps, dt)
    f32 = scheme_spikes(layers, steps, dt, np.float32)
    f64 = scheme_spikes(layers, steps, dt, np.float64)
    print(f"dt = {dt} ms, {steps} steps; spike times in ms. Last two columns: spikesim's scheme")
    print("redone in numpy, in f64 against Brian2 (= where every spike is at the same step),")
    print("and in f32 against f64 (the first spike where they part: rounding alone).")
    print(f"{'layer':26s} {'spikesim':>8s} {'brian2':>6s}  {'paired':>6s}  {'max |dt|':>8s}  "
          f"{'same step':>9s}  {'first differing spike':24s} {'f64':3s}  f32 vs f64")
    worst = 0.0
    for (name, _), a, b, a32, b64 in zip(layers, ours, theirs, f32, f64):
        k = min(len(a), len(b))
        d = np.abs(a[:k] - b[:k])
        same = int(np.sum(d < dt / 2))
        diff = np.nonzero(d >= dt / 2)[0]
        first = (f"#{diff[0]}: {a[diff[0]]:.1f} vs {b[diff[0]]:.1f}" if len(diff)
                 else ("none" if len(a) == len(b) else f"#{k}: one train ends"))
        worst = max(worst, float(d.max()) if k else 0.0)
        mark = " = " if same_steps(b, b64, dt) else " x "
        print(f"{name:26s} {len(a):8d} {len(b):6d}  {k:6d}  {d.max() if k else 0:8.2f}  "
              f"{same:4d}/{k:<4d}  {first:24s} {mark}  {first_difference(a32, b64, dt)}")
    print(f"largest difference of paired spike times: {worst:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
