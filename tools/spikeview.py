#!/usr/bin/env python3
"""spikeview: figures and a text summary of a spikesim output file.

    python3 tools/spikeview.py raster  RUN.h5 [--layers input hidden] [--start-ms A] [--stop-ms B]
    python3 tools/spikeview.py neuron  RUN.h5 --layer L [L2 ...] --node N
    python3 tools/spikeview.py rates   RUN.h5 [--layers ...] [--bin-ms B]
    python3 tools/spikeview.py weights RUN.h5 --projection P [--snapshot -1] [--shape 28x28]
    python3 tools/spikeview.py fields  RUN.h5 [--projection P]
    python3 tools/spikeview.py confusion RUN.h5
    python3 tools/spikeview.py summary RUN.h5
    python3 tools/spikeview.py sweep   SWEEP_DIR --x KEY [--y KEY] --value METRIC

Every plotting subcommand writes a PNG (``-o OUT.png``; by default
``<stem>-<subcommand>.png`` next to the run file) and prints its path. Figures
are drawn with matplotlib's Agg renderer and never shown unless ``--show`` is
given. A bad file, layer, projection, node or an unrecorded trace prints one
line ``error: ...`` and exits with status 2.

Each figure is also a function returning its ``matplotlib.figure.Figure``::

    import spikeview
    fig = spikeview.raster("runs/seed-demo.h5", layers=["input"], stop_ms=250)
    fig.savefig("input.png")

The artists carry a ``gid`` naming what they show (``spikes``, ``voltage``,
``threshold``, ``rate``, ``tile``, ``field``, ``confusion`` ...), so that tests
and scripts can find the plotted data again. File layout read here: README
"Output" and DESIGN §3; ``fields`` and ``confusion`` read a trained run's
``/state`` and ``/results`` (src/record/checkpoint.rs).
"""

from __future__ import annotations

import argparse
import math
import pathlib
import sys
import tomllib

import h5py
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["SpikeviewError", "raster", "neuron", "neurons", "rates", "weights", "fields", "confusion", "summary",
           "main"]


class SpikeviewError(Exception):
    """A problem with the user's request or file; the CLI prints it as one line and exits 2."""


# ---------------------------------------------------------------- reading


class Run:
    """Read access to one spikesim output file (an open h5py.File plus its parsed config)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        if not self.path.exists():
            raise SpikeviewError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise SpikeviewError(f"{self.path}: is a directory, not a spikesim output file")
        try:
            self.f = h5py.File(self.path, "r")
        except OSError as e:
            raise SpikeviewError(f"{self.path}: not a readable HDF5 file ({_first_line(e)})") from None
        if "schema_version" not in self.f.attrs:
            self.f.close()
            raise SpikeviewError(f"{self.path}: not a spikesim output file (no schema_version attribute)")
        try:
            self.config = tomllib.loads(_text(self.f.attrs.get("config_toml", "")))
        except tomllib.TOMLDecodeError:
            self.config = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    # -- root attributes

    def attr(self, name, default=None):
        value = self.f.attrs.get(name, default)
        return _text(value) if isinstance(value, (bytes, str)) else value

    @property
    def dt_ms(self) -> float:
        return float(self.f.attrs["dt_ms"])

    @property
    def complete(self) -> bool:
        return bool(self.f.attrs.get("complete", 0))

    @property
    def steps_done(self) -> int:
        """Steps actually simulated: the steps_done attribute when the file has it, else steps."""
        if "steps_done" in self.f.attrs:
            return int(self.f.attrs["steps_done"])
        return int(self.f.attrs["steps"])

    @property
    def duration_ms(self) -> float:
        return self.steps_done * self.dt_ms

    # -- spikes

    def spike_window(self):
        """(start, stop) in ms of the spike recording: the config's [record.spikes] window
        (when it has one) cut to the simulated time; by default the whole run."""
        rec = self.config.get("record", {}).get("spikes")
        start, stop = 0.0, self.duration_ms
        if isinstance(rec, dict):
            start = float(rec.get("start_ms", 0.0))
            if rec.get("stop_ms") is not None:
                stop = min(stop, float(rec["stop_ms"]))
        return start, max(start, stop)

    def spike_layers(self) -> list[str]:
        """Layers with a spike group, in the order the config declares them."""
        if "spikes" not in self.f:
            return []
        present = set(self.f["spikes"].keys())
        ordered = [name for name in self.config.get("layers", {}) if name in present]
        return ordered + sorted(present - set(ordered))

    def check_layers(self, layers, where="spikes") -> list[str]:
        known = self.spike_layers() if where == "spikes" else self.report_layers()
        if layers is None:
            if not known:
                raise SpikeviewError(f"{self.path}: no layers recorded under /{where}")
            return known
        for layer in layers:
            if layer not in known:
                raise SpikeviewError(
                    f"unknown layer {layer!r} in /{where} of {self.path.name} (has: {_names(known)})"
                )
        return list(layers)

    def n_nodes(self, layer: str) -> int:
        g = self.f[f"spikes/{layer}"]
        if "n_nodes" in g.attrs:
            return int(g.attrs["n_nodes"])
        size = self.config.get("layers", {}).get(layer, {}).get("size")
        if size is not None:
            return int(size)
        ids = g["node_ids"][:]
        return int(ids.max()) + 1 if len(ids) else 0

    def spikes(self, layer: str, start_ms=None, stop_ms=None):
        """(timestamps ms float64, node ids int64) of a layer, optionally within [start, stop)."""
        g = self.f[f"spikes/{layer}"]
        t = g["timestamps"][:]
        ids = g["node_ids"][:].astype(np.int64)
        keep = np.ones(len(t), bool)
        if start_ms is not None:
            keep &= t >= start_ms
        if stop_ms is not None:
            keep &= t < stop_ms
        return t[keep], ids[keep]

    # -- reports (traces)

    def report_layers(self) -> list[str]:
        return list(self.f["report"].keys()) if "report" in self.f else []

    def report_vars(self, layer: str) -> list[str]:
        return list(self.f[f"report/{layer}"].keys()) if f"report/{layer}" in self.f else []

    def trace(self, layer: str, var: str, node: int):
        """(times ms, values, units) of one neuron's trace; raises SpikeviewError if not recorded."""
        if f"report/{layer}/{var}" not in self.f:
            have = self.report_vars(layer)
            raise SpikeviewError(
                f"no {var} trace recorded for layer {layer!r} in {self.path.name} "
                f"(recorded: {_names(have) if have else 'none'})"
            )
        g = self.f[f"report/{layer}/{var}"]
        node_ids = g["mapping/node_ids"][:].astype(np.int64)
        (col,) = np.nonzero(node_ids == node)
        if len(col) == 0:
            raise SpikeviewError(
                f"node {node} of layer {layer!r} has no {var} trace (recorded nodes: {_id_list(node_ids)})"
            )
        k = int(col[0])
        values = g["data"][:, k]
        start, _stop, step = (float(x) for x in g["mapping/time"][:])
        times = start + np.arange(len(values)) * step
        return times, values, _text(g["data"].attrs.get("units", ""))

    def report_window(self, layer: str, var: str):
        """(start, stop) in ms of the frames actually stored in a report."""
        g = self.f[f"report/{layer}/{var}"]
        start, _stop, step = (float(x) for x in g["mapping/time"][:])
        return start, start + g["data"].shape[0] * step

    # -- rates, weights, samples (optional groups)

    def rate_layers(self) -> list[str]:
        return list(self.f["rates"].keys()) if "rates" in self.f else []

    def projections(self) -> list[str]:
        return list(self.f["weights"].keys()) if "weights" in self.f else []

    def samples(self):
        return self.f["samples"] if "samples" in self.f else None

    def sample_onsets(self):
        """Start times (ms) of the presented samples: /samples/start_ms, else derived from the config."""
        s = self.samples()
        if s is not None and "start_ms" in s:
            return s["start_ms"][:]
        stim = self.config.get("stimulus")
        if not stim or "steps_per_image" not in stim:
            return np.zeros(0)
        period = (int(stim["steps_per_image"]) + int(stim.get("rest_steps", 0))) * self.dt_ms
        return np.arange(0.0, self.duration_ms, period) if period > 0 else np.zeros(0)


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return str(value)


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _names(names) -> str:
    return ", ".join(names) if names else "none"


def _id_list(ids) -> str:
    ids = [int(i) for i in ids]
    if ids and ids == list(range(ids[0], ids[-1] + 1)) and len(ids) > 2:
        return f"{ids[0]}..{ids[-1]}"
    return ", ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")


# ---------------------------------------------------------------- figures


def raster(path, layers=None, start_ms=None, stop_ms=None) -> Figure:
    """Spike raster: one panel per layer (stacked, shared time axis), x = time (ms), y = node id.

    The window is [start_ms, stop_ms) and defaults to the whole run; the x-limits
    of every panel equal it. Dotted lines mark the onsets of presented samples.
    """
    with Run(path) as run:
        layers = run.check_layers(layers)
        w_start, w_stop = run.spike_window()
        start = w_start if start_ms is None else float(start_ms)
        stop = w_stop if stop_ms is None else float(stop_ms)
        if not stop > start:
            raise SpikeviewError(f"empty time window: start {start} ms is not before stop {stop} ms")
        sizes = {layer: max(run.n_nodes(layer), 1) for layer in layers}
        onsets = run.sample_onsets()
        onsets = onsets[(onsets > start) & (onsets < stop)]
        labels = _sample_labels(run, start, stop)

        heights = [max(1.0, min(4.0, math.log10(sizes[layer]) * 1.3)) for layer in layers]
        fig = Figure(figsize=(10, 1.2 + 1.1 * sum(heights)), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
        for ax, layer in zip(axes, layers):
            t, ids = run.spikes(layer, start, stop)
            n = sizes[layer]
            # Marker size shrinks with the number of rows so dense layers stay legible.
            size = float(np.clip(250.0 / n, 0.8, 4.0))
            ax.plot(t, ids, linestyle="none", marker="|" if n <= 200 else ".", markersize=size,
                    markeredgewidth=0.6, color="black", gid="spikes")
            for x in onsets:
                ax.axvline(x, color="tab:blue", linewidth=0.6, linestyle=":", gid="onset")
            ax.set_ylim(-0.5, n - 0.5)
            ax.set_ylabel(f"{layer}\nnode id")
            rate = len(t) / n / ((stop - start) / 1000.0)
            ax.set_title(f"{layer}: {n} neurons, {len(t)} spikes, {rate:.2f} Hz per neuron", loc="left",
                         fontsize="medium")
        axes[-1].set_xlim(start, stop)
        axes[-1].set_xlabel("time (ms)")
        for x, label in labels:
            axes[0].annotate(f"label {label}", (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3),
                             textcoords="offset points", fontsize="small", color="tab:blue", va="top",
                             bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))
        fig.suptitle(f"Spike raster — {run.path.name}, {start:g}–{stop:g} ms")
        return fig


def _sample_labels(run, start, stop):
    """(onset ms, label) of the samples presented inside [start, stop), when /samples has labels."""
    s = run.samples()
    if s is None or "start_ms" not in s or "label" not in s:
        return []
    t, lab = s["start_ms"][:], s["label"][:]
    keep = (t >= start) & (t < stop)
    if keep.sum() > 40:  # too many to read
        return []
    return list(zip(t[keep], lab[keep]))


def neuron(path, layer, node) -> Figure:
    """One neuron's dynamics: input current, voltage with its threshold, and its spikes.

    Three stacked panels sharing the time axis (the recorded trace window).
    The threshold is the neuron's ``threshold`` trace when recorded, otherwise
    the layer's ``sigma`` from the run's config drawn as a constant line, or
    for a layer of a model in ``_MODELS`` (Izhikevich, AdEx) its spike cutoff
    ``v_peak`` (``gid`` ``v_peak``) and, for AdEx, the threshold V_T of the
    exponential dashed (``v_t``). That model's recovery variable (Izhikevich
    ``u``, AdEx ``w``), when recorded, goes on the top panel with its name as
    ``gid``, on its own axis beside the current when that is recorded too.
    A layer's ``step_current`` window is shaded (``step_current``).
    """
    node = int(node)
    with Run(path) as run:
        if layer not in run.report_layers() and layer not in run.spike_layers():
            known = sorted(set(run.report_layers()) | set(run.spike_layers()))
            raise SpikeviewError(f"unknown layer {layer!r} in {run.path.name} (has: {_names(known)})")
        size = run.n_nodes(layer) if layer in run.spike_layers() else None
        if node < 0 or (size is not None and node >= size):
            raise SpikeviewError(f"node {node} out of range: layer {layer!r} has nodes 0..{size - 1}")
        tv, v, v_units = run.trace(layer, "voltage", node)
        t0, t1 = run.report_window(layer, "voltage")
        vars_ = run.report_vars(layer)
        params = run.config.get("layers", {}).get(layer, {})
        model = _MODELS.get(params.get("kind"))
        recovery = model.recovery if model is not None and model.recovery in vars_ else None

        fig = Figure(figsize=(9, 6.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax_j, ax_v, ax_s = fig.subplots(3, 1, sharex=True, height_ratios=[2, 3, 1])
        for ax in (ax_j, ax_v, ax_s):
            _shade_step_current(ax, params)

        if "current" in vars_:
            tj, j, j_units = run.trace(layer, "current", node)
            ax_j.plot(tj, j, color="tab:orange", linewidth=1.2, label="current J", gid="current")
        elif recovery is None:
            j_units = "nA"
            ax_j.text(0.5, 0.5, "current not recorded", transform=ax_j.transAxes, ha="center", va="center",
                      color="gray")
        if recovery is not None:  # the model's recovery variable, on the top panel (its own axis beside J)
            ax_r = ax_j.twinx() if "current" in vars_ else ax_j
            tr, r, r_units = run.trace(layer, recovery, node)
            ax_r.plot(tr, r, color="tab:green", linewidth=1.2, label=model.label, gid=recovery)
            ax_r.set_ylabel(f"{recovery} ({r_units or model.units})")
        if "input" in vars_:
            ti, i_in, _ = run.trace(layer, "input", node)
            ax_j.plot(ti, i_in, color="tab:gray", linewidth=0.8, alpha=0.7, label="synaptic input I",
                      gid="input")
            ax_j.legend(loc="upper right", fontsize="small")
        if "current" in vars_ or recovery is None:
            ax_j.set_ylabel(f"current ({j_units or 'nA'})")

        ax_v.plot(tv, v, color="tab:blue", linewidth=1.2, label="voltage V", gid="voltage")
        if "threshold" in vars_:
            tt, th, _ = run.trace(layer, "threshold", node)
            ax_v.plot(tt, th, color="tab:red", linewidth=1.0, linestyle="--", label="threshold σ (recorded)",
                      gid="threshold")
        elif model is not None:
            v_peak = model.v_peak(params)
            ax_v.plot([t0, t1], [v_peak, v_peak], color="tab:red", linewidth=1.0, linestyle="--",
                      label=f"v_peak = {v_peak:g} (spike cutoff)", gid="v_peak")
            if model.v_t is not None:
                v_t = model.v_t(params)
                ax_v.plot([t0, t1], [v_t, v_t], color="tab:gray", linewidth=0.9, linestyle="--",
                          label=f"V_T = {v_t:g} (exponential threshold)", gid="v_t")
        elif "sigma" not in params:
            raise SpikeviewError(f"layer {layer!r} has no threshold trace and no sigma in its config")
        else:
            sigma = float(params["sigma"])
            adaptive = bool(params.get("threshold"))
            label = f"σ = {sigma:g} (config{', initial: adaptive' if adaptive else ''})"
            ax_v.plot([t0, t1], [sigma, sigma], color="tab:red", linewidth=1.0, linestyle="--", label=label,
                      gid="threshold")
        if "theta" in vars_:
            tth, theta, _ = run.trace(layer, "theta", node)
            ax_v.plot(tth, theta, color="tab:purple", linewidth=0.8, alpha=0.7, label="θ (own adaptation)",
                      gid="theta")
        ax_v.set_ylabel(f"voltage ({v_units or 'mV'})")
        ax_v.legend(loc="best", fontsize="small")

        t, ids = run.spikes(layer, t0, t1) if layer in run.spike_layers() else (np.zeros(0), np.zeros(0))
        ts = t[ids == node]
        ax_s.eventplot([ts], lineoffsets=0.5, linelengths=0.8, colors="black", linewidths=1.0)
        ax_s.collections[-1].set_gid("spikes")
        ax_s.set_ylim(0, 1)
        ax_s.set_yticks([])
        ax_s.set_ylabel("spikes")
        ax_s.set_xlim(t0, t1)
        ax_s.set_xlabel("time (ms)")
        title = f"layer {layer!r}, node {node}: {len(ts)} spikes in {t0:g}–{t1:g} ms"
        if model is not None:
            title += f"  {model.summary(params)}"
        ax_j.set_title(title, loc="left", fontsize="medium")
        fig.suptitle(f"Neuron dynamics — {run.path.name}")
        return fig


class _Model:
    """What the neuron figures draw for a layer of one neuron model (a ``kind`` of the config).

    ``recovery``: the trace of its recovery / adaptation variable, drawn beside
    the voltage, with its legend ``label`` and the ``units`` used when the trace
    has none; ``v_peak(params)``: the spike cutoff; ``v_t(params)``: a soft
    threshold drawn dashed, or None; ``summary(params)``: the parameters a row's
    title gives. ``params`` is the layer's table of the run's config.
    """

    def __init__(self, recovery, label, units, v_peak, v_t, summary):
        self.recovery, self.label, self.units = recovery, label, units
        self.v_peak, self.v_t, self.summary = v_peak, v_t, summary


# The defaults of each model's config keys read here: Izhikevich (2003) and
# Brette & Gerstner (2005) as src/neuron/izhikevich.rs and adex.rs have them.
_IZHIKEVICH_DEFAULTS = {"a": 0.02, "b": 0.2, "c": -65.0, "d": 8.0, "v_peak": 30.0}
_ADEX_DEFAULTS = {"v_t_mv": -50.4, "delta_t_mv": 2.0, "a_us": 0.004, "b_na": 0.0805, "tau_w_ms": 144.0,
                  "v_r_mv": -70.6}


def _param(params, defaults, key) -> float:
    return float(params.get(key, defaults[key]))


def _izhikevich_summary(p) -> str:
    a, b, c, d = (_param(p, _IZHIKEVICH_DEFAULTS, k) for k in "abcd")
    return f"(a, b, c, d) = ({a:g}, {b:g}, {c:g}, {d:g})"


def _adex_v_peak(p) -> float:
    """V_peak: ``v_peak_mv``, else ``v_t_mv + 5·delta_t_mv``."""
    if "v_peak_mv" in p:
        return float(p["v_peak_mv"])
    return _param(p, _ADEX_DEFAULTS, "v_t_mv") + 5.0 * _param(p, _ADEX_DEFAULTS, "delta_t_mv")


def _adex_summary(p) -> str:
    a, b, tau_w, v_r = (_param(p, _ADEX_DEFAULTS, k) for k in ("a_us", "b_na", "tau_w_ms", "v_r_mv"))
    text = f"a = {a * 1000:.4g} nS, b = {b * 1000:.4g} pA, τ_w = {tau_w:g} ms, V_r = {v_r:g} mV"
    step = p.get("step_current")
    if isinstance(step, dict) and "amplitude" in step:
        text += f", I = {float(step['amplitude']) * 1000:.4g} pA"
    return text


_MODELS = {
    "izhikevich": _Model("u", "recovery u", "mV", lambda p: _param(p, _IZHIKEVICH_DEFAULTS, "v_peak"), None,
                         _izhikevich_summary),
    "adex": _Model("w", "adaptation w", "nA", _adex_v_peak, lambda p: _param(p, _ADEX_DEFAULTS, "v_t_mv"),
                   _adex_summary),
}


def _shade_step_current(ax, params):
    """Shades the window of the layer's ``step_current`` (config), if it has one."""
    step = params.get("step_current")
    if isinstance(step, dict) and "start_ms" in step and "stop_ms" in step:
        ax.axvspan(float(step["start_ms"]), float(step["stop_ms"]), color="0.93", zorder=0, linewidth=0,
                   gid="step_current")


def neurons(path, layers, node=0) -> Figure:
    """One neuron (``node``) of each of several layers, one row each: voltage, spikes and its model's
    recovery variable if recorded.

    For comparing firing patterns (experiments/izhikevich.toml, experiments/adex.toml):
    each row holds the layer's voltage trace (``gid`` ``voltage``), its spikes
    as strokes from the voltage at their step up to ``v_peak`` (``spikes``, a
    LineCollection), for AdEx V_T dashed (``v_t``) and, on a second axis, the
    recovery variable (Izhikevich ``u``, AdEx ``w``) when recorded (``gid`` its
    name). Rows share the time axis; the step current's window is shaded, and
    the title of an Izhikevich or AdEx layer gives its parameters.
    """
    node = int(node)
    with Run(path) as run:
        for layer in layers:
            if layer not in run.report_layers():
                raise SpikeviewError(f"no voltage trace recorded for layer {layer!r} in {run.path.name} "
                                     f"(traced: {_names(run.report_layers())})")
        fig = Figure(figsize=(9, 1.0 + 1.7 * len(layers)), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(layers), 1, sharex=True, squeeze=False)[:, 0]
        for ax, layer in zip(axes, layers):
            tv, v, v_units = run.trace(layer, "voltage", node)
            t0, t1 = run.report_window(layer, "voltage")
            params = run.config.get("layers", {}).get(layer, {})
            model = _MODELS.get(params.get("kind"))
            _shade_step_current(ax, params)
            ax.plot(tv, v, color="tab:blue", linewidth=1.0, gid="voltage")
            t, ids = run.spikes(layer, t0, t1) if layer in run.spike_layers() else (np.zeros(0), np.zeros(0))
            ts = t[ids == node]
            # Each spike as a stroke up to the spike cutoff (v_peak, else the trace's top), from the
            # voltage recorded at its step (after the reset), as the papers draw them.
            top = model.v_peak(params) if model is not None else float(np.max(v, initial=0.0))
            at = np.interp(ts, tv, v) if len(tv) else np.zeros(len(ts))
            ax.vlines(ts, at, top, colors="tab:blue", linewidth=1.0, gid="spikes")
            if model is not None and model.v_t is not None:
                ax.axhline(model.v_t(params), color="tab:gray", linewidth=0.7, linestyle="--", gid="v_t")
            if model is not None and model.recovery in run.report_vars(layer):
                tr, r, r_units = run.trace(layer, model.recovery, node)
                ax_r = ax.twinx()
                ax_r.plot(tr, r, color="tab:green", linewidth=0.9, alpha=0.8, gid=model.recovery)
                ax_r.set_ylabel(f"{model.recovery} ({r_units or model.units})", color="tab:green")
            ax.set_ylabel(f"V ({v_units or 'mV'})")
            title = f"{layer}, node {node}: {len(ts)} spike{'' if len(ts) == 1 else 's'}"
            if model is not None:
                title += f"  {model.summary(params)}"
            ax.set_title(title, loc="left", fontsize="small")
            ax.set_xlim(t0, t1)
        axes[-1].set_xlabel("time (ms)")
        fig.suptitle(f"Neuron dynamics — {run.path.name}")
        return fig


def population_rate(run, layer, bin_ms=None):
    """(edges ms, rate Hz per neuron, source) of a layer's population rate.

    Uses /rates/<layer>/counts when the file has them and ``bin_ms`` is None or
    equals their bin (spikesim writes full bins only); otherwise bins the
    layer's recorded spikes, where a last bin cut short by the end of the
    recording has its rate computed over its real width.
    """
    duration = run.duration_ms
    stored = f"rates/{layer}" in run.f
    if stored:
        g = run.f[f"rates/{layer}"]
        stored_bin = float(g.attrs["bin_ms"])
        if bin_ms is None or math.isclose(float(bin_ms), stored_bin):
            counts = g["counts"][:].astype(np.float64)
            edges = _bin_edges(len(counts), stored_bin, duration)
            return edges, _per_neuron_hz(counts, edges, int(g.attrs["n_nodes"])), "/rates"
    if bin_ms is None:
        bin_ms = 10.0
    bin_ms = float(bin_ms)
    if not bin_ms > 0:
        raise SpikeviewError(f"--bin-ms must be positive, got {bin_ms:g}")
    if layer not in run.spike_layers():
        raise SpikeviewError(f"layer {layer!r} has /rates in {bin_ms:g} ms bins only and no recorded spikes "
                             f"to bin in {bin_ms:g} ms")
    start, stop = run.spike_window()
    n_bins = max(1, math.ceil((stop - start) / bin_ms - 1e-9))
    edges = start + _bin_edges(n_bins, bin_ms, stop - start)
    t, _ = run.spikes(layer, start, stop)
    # Bin k holds spikes with start + k·bin <= t < start + (k+1)·bin; the 1e-9 guards
    # against a time on an edge landing in the earlier bin by rounding.
    k = np.floor((t - start) / bin_ms + 1e-9).astype(np.int64).clip(0, n_bins - 1)
    counts = np.bincount(k, minlength=n_bins).astype(np.float64)
    return edges, _per_neuron_hz(counts, edges, run.n_nodes(layer)), "spikes"


def _bin_edges(n_bins, bin_ms, duration):
    """Edges of n_bins bins of bin_ms from 0; a last bin that the run's end cuts short ends there."""
    edges = np.arange(n_bins + 1) * float(bin_ms)
    if n_bins and edges[-2] < duration < edges[-1]:
        edges[-1] = duration
    return edges


def _per_neuron_hz(counts, edges, n):
    widths_s = np.diff(edges) / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(widths_s > 0, counts / max(n, 1) / widths_s, 0.0)


def neuron_rates(run, layer):
    """Firing rate (Hz) of every neuron of a layer over the spike recording window, from its spikes."""
    start, stop = run.spike_window()
    _, ids = run.spikes(layer, start, stop)
    n = run.n_nodes(layer)
    return np.bincount(ids, minlength=n)[:n] / max((stop - start) / 1000.0, 1e-300)


def rates(path, layers=None, bin_ms=None) -> Figure:
    """Per layer: population rate over time (Hz per neuron) and a histogram of per-neuron rates (Hz).

    One row per layer; left the rate over time (a step line, one step per bin),
    right the histogram of the neurons' mean firing rates over the spike recording window
    (a layer with rates but no recorded spikes gets no histogram).
    """
    with Run(path) as run:
        spiking = run.spike_layers()
        known = spiking + [layer for layer in run.rate_layers() if layer not in spiking]
        if layers is None:
            layers = known
        for layer in layers:
            if layer not in known:
                raise SpikeviewError(f"unknown layer {layer!r}: {run.path.name} has spikes or rates of "
                                     f"{_names(known)}")
        if not layers:
            raise SpikeviewError(f"{run.path.name}: no spikes or rates recorded")
        if run.duration_ms <= 0:
            raise SpikeviewError(f"{run.path.name}: the run has no simulated steps")
        fig = Figure(figsize=(11, 0.6 + 2.4 * len(layers)), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(layers), 2, squeeze=False, width_ratios=[3, 1])
        for row, layer in enumerate(layers):
            ax_t, ax_h = axes[row]
            edges, hz, source = population_rate(run, layer, bin_ms)
            ax_t.stairs(hz, edges, baseline=None, color="tab:blue", linewidth=1.0, gid="rate", label=layer)
            width = edges[1] - edges[0]
            ax_t.set_xlim(edges[0], edges[-1])
            ax_t.set_ylim(bottom=0)
            ax_t.set_ylabel(f"{layer}\nrate (Hz/neuron)")
            ax_t.set_title(f"{layer}: population rate, {width:g} ms bins (from {source})", loc="left",
                           fontsize="medium")
            if row == len(layers) - 1:
                ax_t.set_xlabel("time (ms)")
            if layer not in spiking:
                ax_h.text(0.5, 0.5, "spikes not recorded", transform=ax_h.transAxes, ha="center",
                          va="center", color="gray")
                ax_h.set_xticks([])
                ax_h.set_yticks([])
                continue
            per = neuron_rates(run, layer)
            hi = float(per.max()) if len(per) and per.max() > 0 else 1.0
            ax_h.hist(per, bins=min(30, max(5, len(per) // 4)), range=(0, hi * 1.0001), color="tab:gray",
                      edgecolor="black", linewidth=0.4, gid="histogram")
            ax_h.set_ylabel("neurons")
            ax_h.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax_h.set_title(f"{len(per)} neurons, mean {per.mean():.2f} Hz", loc="left", fontsize="small")
            if row == len(layers) - 1:
                ax_h.set_xlabel("firing rate (Hz)")
        fig.suptitle(f"Firing rates — {run.path.name}")
        return fig


def parse_shape(text):
    """'28x28' -> (28, 28)."""
    try:
        rows, cols = (int(x) for x in str(text).lower().split("x"))
    except ValueError:
        raise SpikeviewError(f"--shape must look like ROWSxCOLS (e.g. 28x28), got {text!r}") from None
    if rows <= 0 or cols <= 0:
        raise SpikeviewError(f"--shape must be positive, got {text!r}")
    return rows, cols


def weight_matrix(run, projection, snapshot=-1):
    """(W [n_pre, n_post] float32 with NaN where no synapse, snapshot index, group) of a projection."""
    if projection not in run.projections():
        raise SpikeviewError(
            f"unknown projection {projection!r} in /weights of {run.path.name} (has: {_names(run.projections())})"
        )
    g = run.f[f"weights/{projection}"]
    n_snap = g["data"].shape[0]
    if n_snap == 0:
        raise SpikeviewError(f"projection {projection!r} has no weight snapshots")
    if not -n_snap <= snapshot < n_snap:
        raise SpikeviewError(f"snapshot {snapshot} out of range: projection {projection!r} has {n_snap} "
                             f"snapshots (0..{n_snap - 1}, or -1 for the last)")
    index = snapshot % n_snap
    n_pre, n_post = int(g.attrs["n_pre"]), int(g.attrs["n_post"])
    w = np.full((n_pre, n_post), np.nan, np.float32)
    w[g["pre_ids"][:].astype(np.int64), g["post_ids"][:].astype(np.int64)] = g["data"][index, :]
    return w, index, g


def _colour_range(values):
    """One colour scale for a set of tiles: min(0, smallest finite value) to the largest."""
    finite = values[np.isfinite(values)]
    vmin = min(0.0, float(finite.min())) if finite.size else 0.0
    vmax = float(finite.max()) if finite.size else 1.0
    return vmin, (vmax if vmax > vmin else vmin + 1.0)


def _tile_grid(tiles, *, cmap, vmin, vmax, gid, facecolor, titles=None):
    """A figure of the images ``tiles[k]`` (n × rows × cols) in a near-square grid, in id order,
    row by row, on one axes (hundreds of axes lay out slowly), each placed with its extent and
    labelled ``post k`` with gid ``gid``; ``titles[k]`` (gid "class") above each when given.
    Returns the figure, the axes and the last image (for a colour bar)."""
    n, rows, cols = tiles.shape
    grid_cols = max(1, math.ceil(math.sqrt(n)))
    grid_rows = max(1, math.ceil(n / grid_cols))
    gap = max(1, round(0.12 * max(rows, cols)))  # blank pixels between tiles
    title_h = rows * 0.45 if titles is not None else 0.0  # room for each tile's title
    pitch_x, pitch_y = cols + gap, rows + gap + title_h
    width, height = grid_cols * pitch_x - gap, grid_rows * pitch_y - gap
    scale = 9.0 / max(width, height)  # inches per pixel: the grid fits in 9 inches
    fig = Figure(figsize=(width * scale + 1.6, height * scale + 0.9), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # Title text scales with the tiles: about a third of a tile's height.
    fontsize = float(np.clip(rows * scale * 72 * 0.3, 3.0, 10.0))
    image = None
    for k in range(n):
        x0, y0 = (k % grid_cols) * pitch_x, (k // grid_cols) * pitch_y + title_h
        image = ax.imshow(tiles[k], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest",
                          extent=(x0, x0 + cols, y0 + rows, y0))
        image.set_gid(gid)
        image.set_label(f"post {k}")
        if titles is not None:
            text = ax.text(x0 + cols / 2, y0 - title_h * 0.1, titles[k], ha="center", va="bottom",
                           fontsize=fontsize, gid="class")
            text.set_label(f"post {k}")
    ax.set_xlim(-gap / 2, width + gap / 2)
    ax.set_ylim(height + gap / 2, -gap / 2)
    ax.set_facecolor(facecolor)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig, ax, image


def weights(path, projection, snapshot=-1, shape=None) -> Figure:
    """Receptive fields: each postsynaptic neuron's incoming weights as an input-shaped tile.

    Tiles are laid out in a near-square grid (postsynaptic neurons in id
    order) with one shared colour scale. ``shape`` (rows, cols) or 'RxC'
    defaults to the /samples image size, else a square when n_pre is a perfect
    square. Missing synapses (sparse connectivity) are left blank.
    """
    with Run(path) as run:
        w, index, g = weight_matrix(run, projection, int(snapshot))
        n_pre, n_post = w.shape
        if shape is None:
            s = run.samples()
            if s is not None and "rows" in s.attrs and "cols" in s.attrs:
                shape = (int(s.attrs["rows"]), int(s.attrs["cols"]))
            elif math.isqrt(n_pre) ** 2 == n_pre:
                shape = (math.isqrt(n_pre),) * 2
            else:
                raise SpikeviewError(f"cannot guess a tile shape for {n_pre} presynaptic neurons: give --shape RxC")
        elif isinstance(shape, str):
            shape = parse_shape(shape)
        rows, cols = shape
        if rows * cols != n_pre:
            raise SpikeviewError(f"shape {rows}x{cols} has {rows * cols} pixels but projection {projection!r} "
                                 f"has {n_pre} presynaptic neurons")
        vmin, vmax = _colour_range(w)
        cmap = "RdBu_r" if vmin < 0 else "hot"
        tiles = w.T.reshape(n_post, rows, cols)
        fig, ax, image = _tile_grid(tiles, cmap=cmap, vmin=vmin, vmax=vmax, gid="tile", facecolor="lightgray")
        ax.set_xlabel(f"{post_name(g)} neurons 0..{n_post - 1}, row by row; each tile: weights from the "
                      f"{n_pre} {pre_name(g)} neurons as {rows}×{cols}")
        cbar = fig.colorbar(image, ax=ax, shrink=0.7, pad=0.01)
        cbar.set_label(f"weight ({_text(g['data'].attrs.get('units', 'nA'))})")
        t_ms = float(g["time_ms"][index]) if "time_ms" in g else float("nan")
        step = int(g["steps_done"][index]) if "steps_done" in g else -1
        pre, post = pre_name(g), post_name(g)
        fig.suptitle(f"{projection} ({pre} → {post}): {n_post} receptive fields of {rows}×{cols}, "
                     f"snapshot {index} at {t_ms:g} ms (step {step}) — {run.path.name}", fontsize="medium")
        return fig


# ---------------------------------------------------------------- a trained network


FIELDS_GROUP = "state/weights"
ASSIGNMENTS_GROUP = "results/assignments"
CONFUSION = "results/evaluate/confusion"
ACCURACY = "results/evaluate/accuracy"


def _image_projections(run):
    """Projections under /state/weights whose dataset has rows and cols attributes."""
    if FIELDS_GROUP not in run.f:
        return []
    g = run.f[FIELDS_GROUP]
    return [p for p in g if isinstance(g[p], h5py.Dataset) and "rows" in g[p].attrs and "cols" in g[p].attrs]


def final_fields(run, projection=None):
    """(fields [n_post, rows, cols] float32, assignments int [n_post] or None, dataset) of an
    image-input projection's final weights in /state/weights.

    The weights are stored densely: the weight of pre j to post i is at index j·n_post + i.
    ``projection`` defaults to the only projection there with rows/cols attributes.
    """
    have = list(run.f[FIELDS_GROUP]) if FIELDS_GROUP in run.f else []
    if projection is None:
        images = _image_projections(run)
        if len(images) != 1:
            if not have:
                raise SpikeviewError(f"{run.path.name} has no final weights (/{FIELDS_GROUP}): "
                                     "not a trained run")
            what = "none has" if not images else f"{_names(images)} have"
            raise SpikeviewError(f"cannot choose a projection in /{FIELDS_GROUP} of {run.path.name}: "
                                 f"{what} rows/cols attributes; give --projection (has: {_names(have)})")
        projection = images[0]
    if projection not in have:
        raise SpikeviewError(f"unknown projection {projection!r} in /{FIELDS_GROUP} of {run.path.name} "
                             f"(has: {_names(have)})")
    ds = run.f[f"{FIELDS_GROUP}/{projection}"]
    for name in ("n_pre", "n_post", "rows", "cols"):
        if name not in ds.attrs:
            raise SpikeviewError(f"/{FIELDS_GROUP}/{projection} has no {name} attribute"
                                 + (" (not an image-input projection)" if name in ("rows", "cols") else ""))
    n_pre, n_post = int(ds.attrs["n_pre"]), int(ds.attrs["n_post"])
    rows, cols = int(ds.attrs["rows"]), int(ds.attrs["cols"])
    w = ds[()]
    if w.ndim != 1 or w.size != n_pre * n_post:
        raise SpikeviewError(f"/{FIELDS_GROUP}/{projection} holds {w.size} weights, not the "
                             f"{n_pre}×{n_post} of a dense projection")
    if rows * cols != n_pre:
        raise SpikeviewError(f"/{FIELDS_GROUP}/{projection}: image {rows}x{cols} has {rows * cols} pixels "
                             f"but the projection has {n_pre} presynaptic neurons")
    # w[j·n_post + i] is pre j -> post i: row i of the transpose is post i's field.
    fields = w.reshape(n_pre, n_post).T.reshape(n_post, rows, cols)
    assignments = None
    post = _text(ds.attrs["post"]) if "post" in ds.attrs else None
    if post is not None and f"{ASSIGNMENTS_GROUP}/{post}" in run.f:
        assignments = run.f[f"{ASSIGNMENTS_GROUP}/{post}"][()].astype(np.int64)
        if assignments.shape != (n_post,):
            raise SpikeviewError(f"/{ASSIGNMENTS_GROUP}/{post} has shape {assignments.shape}, expected "
                                 f"({n_post},) for the {n_post} neurons of {post!r}")
    return fields, assignments, ds


def fields(path, projection=None) -> Figure:
    """Receptive fields of a trained network: each postsynaptic neuron's final incoming
    weights (from /state/weights) as a rows × cols grayscale image, in a near-square grid.

    Each image is titled with the neuron's assigned class from
    /results/assignments/<post> when the file has it ("–" = none). All images
    share one grey scale, from min(0, smallest weight) (black) to the largest (white).
    """
    with Run(path) as run:
        tiles, assignments, ds = final_fields(run, projection)
        projection = ds.name.rsplit("/", 1)[-1]
        n_post, rows, cols = tiles.shape
        vmin, vmax = _colour_range(tiles)
        titles = None
        if assignments is not None:
            titles = [str(int(a)) if a >= 0 else "–" for a in assignments]
        fig, ax, image = _tile_grid(tiles, cmap="gray", vmin=vmin, vmax=vmax, gid="field", facecolor="white",
                                    titles=titles)
        for spine in ax.spines.values():
            spine.set_visible(False)
        pre, post = pre_name(ds), post_name(ds)
        titled = (f"\ntitle: assigned class (– = none; {int((assignments >= 0).sum())} of {n_post} assigned)"
                  if assignments is not None else "")
        ax.set_xlabel(f"{post} neurons 0..{n_post - 1}, row by row; image: final weights from the "
                      f"{rows * cols} {pre} pixels{titled}", fontsize="small")
        if image is not None:
            cbar = fig.colorbar(image, ax=ax, shrink=0.7, pad=0.01)
            cbar.set_label("weight")
        fig.suptitle(f"{projection} ({pre} → {post}): {n_post} receptive fields of {rows}×{cols} — "
                     f"{run.path.name}", fontsize="medium")
        return fig


def confusion(path) -> Figure:
    """Confusion matrix of an evaluation, /results/evaluate/confusion ([k, k], row = true class,
    column = predicted class), as a heatmap annotated with the counts; the title gives
    /results/evaluate/accuracy (or the matrix's diagonal share where that is missing).
    """
    with Run(path) as run:
        if CONFUSION not in run.f:
            raise SpikeviewError(f"{run.path.name} has no /{CONFUSION}: the run did not evaluate a network")
        m = run.f[CONFUSION][()]
        if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
            raise SpikeviewError(f"/{CONFUSION} has shape {m.shape}, expected a square [k, k] matrix")
        k = m.shape[0]
        total = int(m.sum())
        correct = int(np.trace(m))
        if ACCURACY in run.f:
            accuracy = float(run.f[ACCURACY][()])
            source = ""
        else:
            accuracy = correct / total if total else float("nan")
            source = " (from the matrix)"
        side = float(np.clip(0.55 * k + 1.5, 4.0, 11.0))
        fig = Figure(figsize=(side + 1.2, side), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        image = ax.imshow(m, cmap="Blues", vmin=0, vmax=max(int(m.max()), 1), interpolation="nearest",
                          origin="upper")
        image.set_gid("confusion")
        if k <= 30:  # beyond that the numbers would not fit their cells
            dark = m > 0.6 * max(int(m.max()), 1)
            fontsize = float(np.clip(110.0 / k, 5.0, 10.0))
            for t in range(k):
                for p in range(k):
                    ax.text(p, t, str(int(m[t, p])), ha="center", va="center", fontsize=fontsize,
                            color="white" if dark[t, p] else "black", gid="count")
        ticks = np.arange(k) if k <= 30 else MaxNLocator(integer=True).tick_values(0, k - 1)
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        cbar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
        cbar.set_label("samples")
        ax.set_title(f"accuracy {accuracy:.4f}{source}: {correct} of {total} samples on the diagonal",
                     fontsize="medium")
        fig.suptitle(f"Confusion matrix — {run.path.name}")
        return fig


def pre_name(g):
    return _text(g.attrs.get("pre", "presynaptic"))


def post_name(g):
    return _text(g.attrs.get("post", "postsynaptic"))


# ---------------------------------------------------------------- summary


def summary(path) -> str:
    """A text summary: run attributes, layers, traces, rates, weights, samples and the config TOML."""
    with Run(path) as run:
        out = []
        a = run.attr
        out.append(f"file          {run.path}")
        out.append(f"spikesim      {a('spikesim_version', '?')} (schema {a('schema_version', '?')}), "
                   f"created {a('created_utc', '?')}")
        steps = int(a("steps", 0))
        if run.complete:
            out.append(f"complete      yes ({run.steps_done} of {steps} steps)")
        else:
            line = f"complete      NO: {run.steps_done} of {steps} steps written"
            if a("error") is not None:
                line += f"; error: {a('error')}"
            out.append(line)
        out.append(f"seed          {a('seed', '?')}")
        out.append(f"dt_ms         {run.dt_ms:g}")
        out.append(f"threads       {a('threads', '?')}")
        out.append(f"duration_ms   {run.duration_ms:g}")

        w_start, w_stop = run.spike_window()
        seconds = (w_stop - w_start) / 1000.0
        layers = run.spike_layers()
        out.append("")
        window = "" if (w_start, w_stop) == (0.0, run.duration_ms) else f", recorded {w_start:g}-{w_stop:g} ms"
        out.append(f"spikes ({len(layers)} layers{window})")
        rows = [("layer", "neurons", "spikes", "mean rate (Hz)")]
        for layer in layers:
            n = run.n_nodes(layer)
            count = run.f[f"spikes/{layer}/node_ids"].shape[0]
            rate = count / n / seconds if n and seconds > 0 else 0.0
            rows.append((layer, str(n), str(count), f"{rate:.2f}"))
        out += _table(rows)

        traces = [(layer, var) for layer in run.report_layers() for var in run.report_vars(layer)]
        out.append("")
        out.append(f"traces ({len(traces)})")
        rows = [("layer", "variable", "neurons", "frames", "every (ms)", "units")]
        for layer, var in traces:
            g = run.f[f"report/{layer}/{var}"]
            frames, n = g["data"].shape
            rows.append((layer, var, str(n), str(frames), f"{float(g['mapping/time'][2]):g}",
                         _text(g["data"].attrs.get("units", ""))))
        out += _table(rows) if traces else []

        rl = run.rate_layers()
        out.append("")
        out.append(f"rates ({len(rl)})")
        if rl:
            rows = [("layer", "bin (ms)", "bins", "spikes", "mean rate (Hz)")]
            for layer in rl:
                g = run.f[f"rates/{layer}"]
                counts = g["counts"][:]
                n = int(g.attrs["n_nodes"])
                binned_s = len(counts) * float(g.attrs["bin_ms"]) / 1000.0
                rate = counts.sum() / n / binned_s if n and binned_s > 0 else 0.0
                rows.append((layer, f"{float(g.attrs['bin_ms']):g}", str(len(counts)), str(int(counts.sum())),
                             f"{rate:.2f}"))
            out += _table(rows)

        projections = run.projections()
        out.append("")
        out.append(f"weights ({len(projections)})")
        if projections:
            rows = [("projection", "pre -> post", "synapses", "snapshots", "last at (ms)", "min", "mean", "max")]
            for p in projections:
                g = run.f[f"weights/{p}"]
                n_snap, n_syn = g["data"].shape
                last = g["data"][-1, :] if n_snap else np.zeros(0)
                stats = [f"{x:.4g}" for x in (last.min(), last.mean(), last.max())] if last.size else ["-"] * 3
                t_last = f"{float(g['time_ms'][-1]):g}" if n_snap and "time_ms" in g else "-"
                rows.append((p, f"{_text(g.attrs.get('pre', '?'))} -> {_text(g.attrs.get('post', '?'))}",
                             str(n_syn), str(n_snap), t_last, *stats))
            out += _table(rows)

        s = run.samples()
        out.append("")
        if s is None:
            out.append("samples (none)")
        else:
            n = s["label"].shape[0] if "label" in s else s["index"].shape[0]
            sa = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in s.attrs.items()}
            out.append(f"samples ({n})")
            out.append(f"  dataset {sa.get('dataset', '?')}, {sa.get('rows', '?')}x{sa.get('cols', '?')} pixels, "
                       f"{sa.get('steps_per_image', '?')} steps per image + {sa.get('rest_steps', 0)} rest steps")
            if "label" in s and n:
                labels, counts = np.unique(s["label"][:], return_counts=True)
                out.append("  labels  " + "  ".join(f"{int(lab)}:{c}" for lab, c in zip(labels, counts)))
            if "counts" in s:
                out.append("  counts  " + ", ".join(f"{k} {s['counts'][k].shape[0]}x{s['counts'][k].shape[1]}"
                                                    for k in s["counts"].keys()))

        out.append("")
        out.append("config")
        out += ["  " + line if line else "" for line in _text(run.f.attrs.get("config_toml", "")).splitlines()]
        return "\n".join(out) + "\n"


def _table(rows):
    """Rows of strings as aligned columns: numbers right-aligned, text left-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    numeric = [all(_is_number(r[i]) for r in rows[1:]) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric)]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return text == "-"


def sweep(folder, x, value, y=None) -> Figure:
    """A sweep's metric ``value`` (an ``index.csv`` column such as ``rate_hz.hidden``) over axis
    ``x``, and axis ``y`` if given: a line with the seed-to-seed sd as error bars for one axis,
    a heatmap of the mean over seeds (each cell labelled) for two. Only complete runs count."""
    import csv

    path = pathlib.Path(folder) / "index.csv"
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise SpikeviewError(f"cannot read {path}: {e.strerror}") from None
    columns = list(rows[0]) if rows else []
    for key in [x, value] + ([y] if y else []):
        if key not in columns:
            raise SpikeviewError(f"{path} has no column {key!r}; it has: {', '.join(columns)}")
    rows = [r for r in rows if r["status"] in ("complete", "resumed", "skipped") and r[value] != ""]
    if not rows:
        raise SpikeviewError(f"{path}: no complete run has {value!r}")

    def number(v):
        try:
            return float(v)
        except ValueError:
            return v

    def levels(key):
        return sorted({number(r[key]) for r in rows}, key=lambda v: (isinstance(v, str), v))

    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = levels(x)
    if y is None:
        vals = [[float(r[value]) for r in rows if number(r[x]) == v] for v in xs]
        means = [np.mean(v) for v in vals]
        sds = [np.std(v, ddof=1) if len(v) > 1 else 0.0 for v in vals]
        pos = xs if all(isinstance(v, float) for v in xs) else range(len(xs))
        ax.errorbar(pos, means, yerr=sds, marker="o", capsize=3, gid="sweep")
        ax.set_xlabel(x)
        ax.set_ylabel(f"{value} (mean ± sd over seeds)")
    else:
        ys = levels(y)
        grid = np.full((len(ys), len(xs)), np.nan)
        for j, yv in enumerate(ys):
            for i, xv in enumerate(xs):
                v = [float(r[value]) for r in rows if number(r[x]) == xv and number(r[y]) == yv]
                if v:
                    grid[j, i] = np.mean(v)
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", gid="sweep")
        for j in range(len(ys)):
            for i in range(len(xs)):
                if not np.isnan(grid[j, i]):
                    ax.text(i, j, f"{grid[j, i]:.3g}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(xs)), [str(v) for v in xs])
        ax.set_yticks(range(len(ys)), [str(v) for v in ys])
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        fig.colorbar(im, ax=ax, label=f"{value} (mean over seeds)")
    ax.set_title(f"{pathlib.Path(folder).name}: {value}")
    return fig


# ---------------------------------------------------------------- command line


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line `error: ...` and exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _ms(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of milliseconds: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"not a finite number of milliseconds: {text!r}")
    return value


def build_parser():
    parser = _Parser(prog="spikeview.py", description="Figures and a summary of a spikesim output file.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND", parser_class=_Parser)

    def plot_command(name, help_text):
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", metavar="FILE", help="spikesim output file (.h5)")
        p.add_argument("-o", "--out", metavar="OUT.png",
                       help=f"PNG to write (default: <FILE stem>-{name}.png next to FILE)")
        p.add_argument("--dpi", type=int, default=150, help="resolution of the PNG (default 150)")
        p.add_argument("--show", action="store_true", help="also show the figure in a window")
        return p

    p = plot_command("raster", "spike raster, one panel per layer")
    p.add_argument("--layers", nargs="+", metavar="LAYER", help="layers to draw (default: all)")
    p.add_argument("--start-ms", type=_ms, help="window start in ms (default 0)")
    p.add_argument("--stop-ms", type=_ms, help="window end in ms, exclusive (default: end of run)")

    p = plot_command("neuron", "one neuron's current, voltage with threshold, and spikes")
    p.add_argument("--layer", required=True, nargs="+", metavar="LAYER",
                   help="the neuron's layer; several: one row per layer (voltage, spikes, u or w)")
    p.add_argument("--node", type=int, required=True)

    p = plot_command("rates", "population rate over time and per-neuron rate histogram, per layer")
    p.add_argument("--layers", nargs="+", metavar="LAYER", help="layers to draw (default: all)")
    p.add_argument("--bin-ms", type=_ms, help="bin width in ms (default: the file's /rates bin, else 10)")

    p = plot_command("weights", "receptive fields: incoming weights of each postsynaptic neuron as tiles")
    p.add_argument("--projection", required=True)
    p.add_argument("--snapshot", type=int, default=-1, help="snapshot index (default -1, the last)")
    p.add_argument("--shape", help="tile shape ROWSxCOLS (default: /samples rows x cols, else square)")

    p = plot_command("fields", "receptive fields of a trained network: final weights as images, titled "
                               "with the assigned classes")
    p.add_argument("--projection", help="projection in /state/weights (default: the only one with "
                                        "rows/cols attributes)")

    plot_command("confusion", "confusion matrix of the evaluation, with its accuracy")

    p = plot_command("sweep", "a metric of a spikesim sweep over one axis (line) or two (heatmap)")
    p.add_argument("--x", required=True, metavar="KEY", help="axis on x (an index.csv column)")
    p.add_argument("--y", metavar="KEY", help="axis on y: a heatmap of the mean over seeds")
    p.add_argument("--value", required=True, metavar="METRIC", help="e.g. rate_hz.hidden or accuracy")

    p = sub.add_parser("summary", help="text summary of the run (like spikesim inspect, plus the config)")
    p.add_argument("file", metavar="FILE")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "summary":
            sys.stdout.write(summary(args.file))
            return 0
        if args.command == "raster":
            fig = raster(args.file, args.layers, args.start_ms, args.stop_ms)
        elif args.command == "neuron":
            if len(args.layer) == 1:
                fig = neuron(args.file, args.layer[0], args.node)
            else:
                fig = neurons(args.file, args.layer, args.node)
        elif args.command == "rates":
            fig = rates(args.file, args.layers, args.bin_ms)
        elif args.command == "fields":
            fig = fields(args.file, args.projection)
        elif args.command == "confusion":
            fig = confusion(args.file)
        elif args.command == "sweep":
            fig = sweep(args.file, args.x, args.value, args.y)
        else:
            fig = weights(args.file, args.projection, args.snapshot, args.shape)
        src = pathlib.Path(args.file)
        if args.command == "sweep":
            out = pathlib.Path(args.out) if args.out else src / "sweep.png"
        else:
            out = pathlib.Path(args.out) if args.out else src.with_name(f"{src.stem}-{args.command}.png")
        try:
            fig.savefig(out, dpi=args.dpi)
        except OSError as e:
            raise SpikeviewError(f"cannot write {out}: {e.strerror or _first_line(e)}") from None
        print(out)
        if args.show:
            import matplotlib.pyplot as plt

            plt.figure(fig)
            plt.show()
        return 0
    except SpikeviewError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
