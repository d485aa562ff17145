#!/usr/bin/env python3
"""compare: spikesim against peer simulators and the machine's limits, side by side.

    .venv/bin/python tools/bench/compare.py                      # full sweep (hours)
    .venv/bin/python tools/bench/compare.py --quick              # smoke test (minutes)
    .venv/bin/python tools/bench/compare.py --workloads w1 --w1-sizes 1600 --threads 1,2 \\
        --tools spikesim,numpy,brian2-standalone
    .venv/bin/python tools/bench/compare.py --report-only        # redo the outputs from runs.jsonl

One invocation runs, serially, for each workload, size N and thread count T:
``spikesim bench w1|w2`` and the peer scripts of shared/peers (numpy, Brian2 runtime and
standalone, ngclearn, NEST) with the flags of the peers README's sweep, then the ``limit``
kernels once per thread count. Every run prints ``RESULT key=value ...`` lines (format:
shared/peers/README.md). Outputs in ``--out`` (default target/bench):

* ``results.csv``: one row per RESULT line, with the output rate and the wall time per
  biological second derived from it;
* ``limits.csv``: one row per RESULT line of ``limit``;
* ``summary.md``: per workload, median and min–max per tool and thread count, the fastest
  peer, spikesim's best, their ratio, the limit estimate, and failed or missing runs;
* ``scaling.png``: wall time per biological second against N (log–log);
* ``runs.jsonl`` (one JSON record per process started, with its RESULT lines) and
  ``logs/`` (each process's output). ``--report-only`` rebuilds the first four from them.

The peers run with the peers venv's python (``--peers-venv``, $PEERS_VENV, default
.venv-peers; tools/bench/setup-peers.sh makes it); this script only needs numpy and
matplotlib.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Integration step of each workload (ms) and what one step means in biological time.
DT_MS = {"W1": 1.0, "W2": 0.1, "W3": 0.1, "W4": 0.1}
WORKLOAD_TITLE = {"W1": "W1 seed feed-forward (784 → N, dt 1 ms)",
                  "W2": "W2 CUBA (N, K = 80, dt 0.1 ms)",
                  "W3": "W3 microcircuit (Potjans & Diesmann, N = K scaling, dt 0.1 ms)",
                  "W4": "W4 Brunel model A (12,500 neurons, dt 0.1 ms)"}
EXPECTED_RATE = {"W1": "≈ 20 Hz", "W2": "≈ 5 Hz",
                 "W3": "≈ 3.2 Hz, the mean of NEST's full-scale population rates",
                 "W4": "spikesim and NEST alike for each state"}
# The axis each workload is swept along (the first column of its tables): N for W1 and W2,
# the N = K scaling for W3, the state for W4.
AXIS = {"W1": "N", "W2": "N", "W3": "scale (N)", "W4": "state"}
# The workload names the microcircuit and Brunel scripts print -> the driver's.
RESULT_WORKLOADS = {"MICROCIRCUIT": "W3", "BRUNEL": "W4"}
# nest_brunel.py --state / spikesim bench w4 --state.
W4_STATES = ["SR", "AI", "SI-fast", "SI-slow"]

# Command-line tool names -> the tool name each prints in its RESULT lines.
TOOL_NAMES = {
    "spikesim": "spikesim",
    "numpy": "numpy",
    "brian2-runtime": "brian2_runtime",
    "brian2-standalone": "brian2_standalone",
    "ngclearn": "ngclearn",
    "nest": "nest",
    "annarchy": "annarchy",
}
ALL_TOOLS = list(TOOL_NAMES)
# Which tools implement which workload (the peers have no numpy/ngclearn W2; ANNarchy runs
# W2 only, from tools/bench/annarchy_w2.py; the microcircuit and Brunel peers are NEST's).
WORKLOAD_TOOLS = {
    "W1": ["spikesim", "numpy", "brian2-runtime", "brian2-standalone", "ngclearn", "nest"],
    "W2": ["spikesim", "brian2-standalone", "brian2-runtime", "annarchy", "nest"],
    "W3": ["spikesim", "nest"],
    "W4": ["spikesim", "nest"],
}
# The ANNarchy W2 peer, which is this repo's (the others are in shared/peers).
ANNARCHY_W2 = Path(__file__).resolve().parent / "annarchy_w2.py"
# Single-threaded tools: run once (threads=1) whatever --threads says.
SINGLE_THREADED = {"brian2-runtime"}

DEFAULTS = dict(w1_sizes=[100, 400, 1600, 6400], w2_sizes=[4000, 16000, 64000, 256000],
                w3_scales=[0.1, 0.25, 0.5, 1.0], w4_states=["AI"],
                threads=[1, 2], reps=3, images=20, steps=10000)
QUICK = dict(w1_sizes=[100, 400], w2_sizes=[4000], w3_scales=[0.1], w4_states=["AI"],
             threads=[1], reps=1, images=2, steps=1000)
# As in the peers' sweep: NEST W2 at N >= 64000 simulates 0.2 s (2000 steps) per rep.
NEST_W2_LONG_N = 64000
NEST_W2_LONG_STEPS = 2000
# limit.c's row-add kernel assumes 75 input spikes per step and measures these N only.
LIMIT_SPIKES_PER_STEP = 75

CSV_FIELDS = ["tool", "workload", "neurons", "scale", "state", "threads", "rep", "wall_s", "setup_s", "build_s",
              "compile_s", "steps", "dt_ms", "bio_s", "spikes_in", "spikes_out", "syn_events",
              "rate_hz", "wall_per_bio_s", "syn_events_per_s", "version"]
LIMIT_FIELDS = ["kernel", "threads", "neurons", "targets", "events_per_s", "bytes_per_s",
                "GBps", "wall_s", "best_s", "steps", "spikes_per_step", "events", "elements"]

_RESULT_RE = re.compile(r"RESULT\s+(tool=\S+.*)$")


# ---------------------------------------------------------------- parsing


def _value(text: str):
    """'12' -> 12, '0.21' / '3.6e+06' -> float, anything else stays a string."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_result_line(line: str) -> dict | None:
    """One ``RESULT key=value ...`` line -> dict with numbers converted; None otherwise.

    Text before ``RESULT`` on the same line (a progress message without a newline)
    is ignored; tokens without ``=`` are skipped."""
    m = _RESULT_RE.search(line.strip())
    if not m:
        return None
    out = {}
    for tok in m.group(1).split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = _value(v)
    if "tool" not in out:
        return None
    out["tool"] = str(out["tool"])
    if "workload" in out:
        w = str(out["workload"]).upper()
        out["workload"] = RESULT_WORKLOADS.get(w, w)
    if "state" in out:
        out["state"] = str(out["state"])
    return out


def parse_output(text: str) -> list[dict]:
    return [d for d in (parse_result_line(ln) for ln in text.splitlines()) if d is not None]


def result_row(d: dict, rep: int | None = None, threads: int | None = None) -> dict:
    """A simulator RESULT dict -> one results.csv row (derived columns added).

    rate_hz = spikes_out / (neurons * steps * dt); wall_per_bio_s = wall_s / (steps * dt),
    with dt = 1 ms (W1) or 0.1 ms (W2 to W4). scale (W3) and state (W4) as printed."""
    w = d["workload"]
    dt_ms = DT_MS[w]
    steps = int(d["steps"])
    n = int(d["neurons"])
    wall = float(d["wall_s"])
    bio_s = steps * dt_ms / 1000.0
    row = {k: "" for k in CSV_FIELDS}
    row.update(
        tool=d["tool"], workload=w, neurons=n,
        threads=int(d["threads"]) if "threads" in d else (threads if threads is not None else 1),
        rep=rep if rep is not None else int(d.get("rep", 0)),
        wall_s=wall, steps=steps, dt_ms=dt_ms, bio_s=bio_s,
        spikes_in=int(d.get("spikes_in", 0)), spikes_out=int(d["spikes_out"]),
        syn_events=int(d["syn_events"]),
        rate_hz=int(d["spikes_out"]) / (n * bio_s) if n and bio_s else float("nan"),
        wall_per_bio_s=wall / bio_s if bio_s else float("nan"),
        syn_events_per_s=int(d["syn_events"]) / wall if wall > 0 else float("nan"),
        version=str(d.get("version", "")),
        scale=d.get("scale", "") if w == "W3" else "", state=d.get("state", "") if w == "W4" else "",
    )
    for k in ("setup_s", "build_s", "compile_s"):
        if k in d:
            row[k] = float(d[k])
    return row


def point_of(row: dict):
    """Where a results.csv row sits on its workload's axis (AXIS): N, the scale or the state."""
    if row["workload"] == "W3":
        return float(row["scale"])
    if row["workload"] == "W4":
        return str(row["state"])
    return int(row["neurons"])


def point_label(workload: str, point) -> str:
    """A point of a workload's axis for progress lines: 'N=400', 'scale=0.1', 'state=AI'."""
    return {"W3": "scale", "W4": "state"}.get(workload, "N") + f"={point}"


# ---------------------------------------------------------------- planning


@dataclass
class Run:
    """One process to start (or a placeholder for one that cannot start)."""
    tool: str              # command-line tool name, or "limit"
    workload: str          # "W1" to "W4", or "" for limit
    neurons: int | float | str  # the point on the workload's axis: N, W3 scale, W4 state; 0 for limit
    threads: int
    expected: int          # RESULT lines expected
    cmd: list
    env: dict = field(default_factory=dict)
    rep_base: int = 0      # rep number of this process's first line (NEST W1: one rep per process)
    reps_as_processes: bool = False
    unavailable: str = ""  # why it cannot run (then it is recorded, not started)


def _csv_ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _csv_floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _csv_states(text: str) -> list[str]:
    """W4 states, case-insensitive, spelled as nest_brunel.py takes them."""
    canon = {s.lower(): s for s in W4_STATES}
    return [canon[x] for x in _csv_names(text, list(canon), "W4 state")]


def _csv_names(text: str, allowed, what: str) -> list[str]:
    names = [x.strip().lower() for x in text.split(",") if x.strip()]
    bad = [x for x in names if x not in allowed]
    if bad:
        raise SystemExit(f"compare: unknown {what} {', '.join(bad)} (known: {', '.join(allowed)})")
    return names


def sim_command(tool: str, workload: str, n, threads: int, reps: int, images: int, steps: int,
                paths: dict, seed: int = 1) -> tuple[list, int, bool]:
    """(argv, expected RESULT lines, one process per rep) for a simulator run; n is the point on
    the workload's axis (N, W3's scale, W4's state). W3 and W4 run the peers' default length
    (100 ms untimed, 1 s timed) whatever steps says."""
    py = str(paths["peers_python"])
    peers = Path(paths["peers_dir"])
    w = workload.lower()
    if workload in ("W3", "W4"):
        flag = "--scale" if workload == "W3" else "--state"
        tail = [flag, str(n), "--threads", str(threads), "--reps", str(reps), "--seed", str(seed)]
        if tool == "spikesim":
            return [str(paths["spikesim"]), "bench", w, *tail], reps, False
        if tool == "nest":
            script = "nest_microcircuit.py" if workload == "W3" else "nest_brunel.py"
            return [py, str(peers / script), *tail, "--quiet"], reps, False
        raise ValueError(f"no {workload} command for {tool}")
    wflags = ["--images", str(images)] if workload == "W1" else ["--steps", str(steps)]
    common = ["--neurons", str(n), "--seed", str(seed), *wflags]
    if tool == "spikesim":
        return ([str(paths["spikesim"]), "bench", w, "--neurons", str(n), "--threads", str(threads),
                 "--reps", str(reps), *wflags, "--seed", str(seed)], reps, False)
    if tool == "numpy":
        return [py, str(peers / "numpy_w1.py"), *common, "--threads", str(threads),
                "--reps", str(reps), "--quiet"], reps, False
    if tool in ("brian2-runtime", "brian2-standalone"):
        mode = tool.split("-")[1]
        argv = [py, str(peers / f"brian2_{w}.py"), "--mode", mode, *common, "--reps", str(reps), "--quiet"]
        if mode == "standalone":
            argv += ["--threads", str(threads)]
        return argv, reps, False
    if tool == "ngclearn":
        return [py, str(peers / "ngclearn_w1.py"), *common, "--threads", str(threads),
                "--reps", str(reps), "--quiet"], reps, False
    if tool == "annarchy" and workload == "W2":
        return [py, str(ANNARCHY_W2), *common, "--threads", str(threads),
                "--reps", str(reps), "--quiet"], reps, False
    if tool == "nest" and workload == "W1":
        # nest_w1.py does one timed run per process: the sweep starts it once per rep
        return [py, str(peers / "nest_w1.py"), *common, "--threads", str(threads), "--quiet"], 1, True
    if tool == "nest" and workload == "W2":
        if n >= NEST_W2_LONG_N and steps > NEST_W2_LONG_STEPS:
            common = ["--neurons", str(n), "--seed", str(seed), "--steps", str(NEST_W2_LONG_STEPS)]
        return [py, str(peers / "nest_w2.py"), *common, "--threads", str(threads),
                "--reps", str(reps), "--quiet"], reps, False
    raise ValueError(f"no {workload} command for {tool}")


def availability(paths: dict, tools: list[str], probe_spikesim=True) -> dict:
    """tool -> '' when it can run, else one line saying why not."""
    why = {}
    for tool in tools:
        if tool == "spikesim":
            b = Path(paths["spikesim"])
            if not b.exists():
                why[tool] = f"missing: {b} not found (cargo build --release, or --spikesim PATH)"
            elif probe_spikesim:
                try:
                    p = subprocess.run([str(b), "bench", "--help"], capture_output=True, text=True, timeout=30)
                    if p.returncode != 0:
                        msg = (p.stderr or p.stdout).strip().splitlines()
                        why[tool] = ("unavailable: `spikesim bench` failed"
                                     + (f" ({msg[0].strip()})" if msg else f" (exit {p.returncode})"))
                except (OSError, subprocess.TimeoutExpired) as e:
                    why[tool] = f"unavailable: `spikesim bench --help`: {e}"
        elif tool == "limit":
            if not Path(paths["limit"]).exists():
                why[tool] = f"missing: {paths['limit']} not found (tools/bench/setup-peers.sh compiles it)"
        else:
            if not Path(paths["peers_python"]).exists():
                why[tool] = (f"missing: peers venv {Path(paths['peers_python']).parent.parent} not found "
                             "(tools/bench/setup-peers.sh)")
            elif not (Path(paths["peers_dir"]) / "common.py").exists():
                why[tool] = f"missing: peer scripts not found in {paths['peers_dir']} (--peers-dir)"
            elif tool == "annarchy" and not any(
                    Path(paths["peers_python"]).parent.parent.glob("lib/python*/site-packages/ANNarchy")):
                why[tool] = "missing: ANNarchy is not installed in the peers venv (tools/bench/setup-peers.sh)"
        why.setdefault(tool, "")
    return why


def points(cfg: dict, workload: str) -> list:
    """The points of a workload's axis that cfg asks for: N (W1, W2), scales (W3), states (W4)."""
    key = {"W1": "w1_sizes", "W2": "w2_sizes", "W3": "w3_scales", "W4": "w4_states"}[workload]
    return list(cfg.get(key) or [])


def plan(cfg: dict, paths: dict, why: dict) -> list[Run]:
    """All runs of one invocation, in execution order: limit first, then per workload,
    N and thread count every tool, so that each size is measured side by side."""
    runs = []
    if cfg["limit"]:
        for t in cfg["threads"]:
            # 6 RESULT lines: stream_triad, rowadd at 4 N, scatter
            argv = [str(paths["limit"]), "--threads", str(t)] + (["--quick"] if cfg["quick"] else [])
            for r in range(cfg["limit_reps"]):
                runs.append(Run("limit", "", 0, t, 6, argv, {"OMP_NUM_THREADS": str(t)},
                                rep_base=r, unavailable=why.get("limit", "")))
    for w in cfg["workloads"]:
        for n in points(cfg, w):
            for ti, t in enumerate(cfg["threads"]):
                for tool in cfg["tools"]:
                    if tool not in WORKLOAD_TOOLS[w]:
                        continue
                    if tool in SINGLE_THREADED:
                        if ti > 0:
                            continue
                        t_run = 1
                    else:
                        t_run = t
                    argv, expected, per_process = sim_command(
                        tool, w, n, t_run, cfg["reps"], cfg["images"], cfg["steps"], paths, cfg["seed"])
                    # PEERS_DIR: where annarchy_w2.py finds the peers' common.py
                    env = {"OMP_NUM_THREADS": str(t_run), "PEERS_DIR": str(paths["peers_dir"])}
                    copies = cfg["reps"] if per_process else 1
                    for r in range(copies):
                        runs.append(Run(tool, w, n, t_run, expected, argv, env, rep_base=r,
                                        reps_as_processes=per_process, unavailable=why.get(tool, "")))
    return runs


# ---------------------------------------------------------------- running


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def execute(run: Run, log_path: Path, timeout: float, cwd: Path) -> dict:
    """Starts one run (its own process group, killed whole on timeout); returns its record.

    The process gets a private TMPDIR under cwd, removed afterwards: Brian2 standalone
    builds its C++ project in a fresh temporary folder (tens to hundreds of MB) per run."""
    rec = dict(tool=run.tool, workload=run.workload, neurons=run.neurons, threads=run.threads,
               rep_base=run.rep_base, expected=run.expected, cmd=shlex.join(run.cmd),
               log=str(log_path), load_before=_loadavg(), results=[], rc=None, seconds=0.0)
    if run.unavailable:
        rec.update(status="missing" if run.unavailable.startswith("missing") else "unavailable",
                   message=run.unavailable)
        return rec
    env = dict(os.environ)
    env.update(run.env)
    tmp = cwd / f"tmp-{log_path.stem}"
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    timed_out = False
    with open(log_path, "w") as log:
        log.write(f"$ {rec['cmd']}\n")
        log.flush()
        try:
            p = subprocess.Popen(run.cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=cwd, env=env, start_new_session=True)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            rec.update(status="failed", message=f"could not start: {e}")
            return rec
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            rc = p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    rec["seconds"] = round(time.monotonic() - t0, 3)
    rec["rc"] = rc
    text = log_path.read_text(errors="replace")
    rec["results"] = parse_output(text)
    k = len(rec["results"])
    if timed_out:
        rec.update(status="timeout", message=f"timed out after {timeout:g} s ({k}/{run.expected} RESULT lines)")
    elif rc != 0:
        tail = [ln.strip() for ln in text.splitlines()[1:] if ln.strip()]
        rec.update(status="failed", message=f"exit {rc}" + (f": {tail[-1][:160]}" if tail else ""))
    elif k < run.expected:
        rec.update(status="partial" if k else "failed",
                   message=f"{k}/{run.expected} RESULT lines" + ("" if k else " (no RESULT line)"))
    else:
        rec.update(status="ok", message="")
    return rec


# ---------------------------------------------------------------- tables


def rows_and_limits(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """runs.jsonl records -> (results.csv rows, limits.csv rows)."""
    rows, limits = [], []
    for rec in records:
        for i, d in enumerate(rec.get("results", [])):
            if d.get("tool") == "limit":
                lim = {k: d.get(k, "") for k in LIMIT_FIELDS}
                lim["rep"] = rec.get("rep_base", 0)
                limits.append(lim)
                continue
            if "workload" not in d or d["workload"] not in DT_MS:
                continue
            # NEST W1 prints rep=0 in every process: its rep is the process's index
            rep = rec.get("rep_base", 0) + int(d.get("rep", i))
            rows.append(result_row(d, rep=rep, threads=rec.get("threads")))
    return rows, limits


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


def aggregate(rows: list[dict]) -> dict:
    """(workload, point, tool, threads) -> statistics of wall_s and wall_per_bio_s over reps;
    the point is N, W3's scale or W4's state (point_of)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["workload"], point_of(r), r["tool"], int(r["threads"])), []).append(r)
    out = {}
    for key, rs in groups.items():
        walls = [float(r["wall_s"]) for r in rs]
        per_bio = [float(r["wall_per_bio_s"]) for r in rs]
        extra = {}
        for k in ("setup_s", "build_s", "compile_s"):
            vals = [float(r[k]) for r in rs if r.get(k) not in ("", None)]
            if vals:
                extra[k] = _median(vals)
        out[key] = dict(
            n=len(rs), wall_med=_median(walls), wall_min=min(walls), wall_max=max(walls),
            bio_med=_median(per_bio), bio_min=min(per_bio), bio_max=max(per_bio),
            rate_hz=_median([float(r["rate_hz"]) for r in rs]),
            steps=sorted({int(r["steps"]) for r in rs}),
            neurons=sorted({int(r["neurons"]) for r in rs}),
            syn_per_bio_s=_median([int(r["syn_events"]) / float(r["bio_s"]) for r in rs]),
            spikes_in_per_step=_median([int(r["spikes_in"]) / int(r["steps"]) for r in rs]),
            **extra)
    return out


def limit_table(limits: list[dict]) -> dict:
    """Best (max rate) of each limit kernel over its repeats:
    {('stream_triad', T): bytes/s, ('rowadd', N, T): events/s, ('scatter', T): events/s}."""
    best = {}
    for d in limits:
        k = d.get("kernel")
        t = int(d.get("threads") or 1)
        if k == "stream_triad":
            key, v = (k, t), d.get("bytes_per_s")
        elif k == "rowadd":
            key, v = (k, int(d["neurons"]), t), d.get("events_per_s")
        elif k == "scatter":
            key, v = (k, t), d.get("events_per_s")
        else:
            continue
        if v in ("", None):
            continue
        best[key] = max(best.get(key, 0.0), float(v))
    return best


def limit_estimate(workload: str, n, agg: dict, lim: dict) -> dict | None:
    """Lower bound on wall seconds per biological second for (workload, N) (W3, W4: the
    point on their axis, and the scatter-add kernel as for W2).

    W1: synaptic events per biological second / row-add events per second at this N
        (the dense row-add of limit.c: acc[0..N) += W[pre, :] per input spike).
    W2: synaptic events per biological second / random scatter-add events per second
        (limit.c's scatter into 262,144 targets); neuron updates are not counted.
    The events per biological second are the median over every tool's runs at this
    (workload, N); W1 falls back to limit.c's 75 input spikes per step without runs.
    The best thread count of the kernel is used. None when the kernel was not measured."""
    syn = [a["syn_per_bio_s"] for (w, nn, _, _), a in agg.items() if w == workload and nn == n]
    if workload == "W1":
        rates = {k[2]: v for k, v in lim.items() if k[0] == "rowadd" and k[1] == n}
        if not syn:
            syn = [LIMIT_SPIKES_PER_STEP * n * 1000.0 / DT_MS["W1"]]
        kernel = "row-add"
    else:
        rates = {k[1]: v for k, v in lim.items() if k[0] == "scatter"}
        kernel = "scatter"
    if not rates or not syn:
        return None
    t_best = max(rates, key=rates.get)
    syn_bio = _median(syn)
    return dict(per_bio_s=syn_bio / rates[t_best], threads=t_best, kernel=kernel,
                events_per_bio_s=syn_bio, events_per_s=rates[t_best])


def axis_key(workload: str, point):
    """Sort key of a point on a workload's axis (W4's states in W4_STATES order)."""
    if workload == "W4":
        return W4_STATES.index(point) if point in W4_STATES else len(W4_STATES)
    return point


def comparison(workload: str, n, agg: dict, lim: dict) -> dict:
    """Fastest peer, spikesim's best, ratios and the limit for one (workload, N),
    all on median wall seconds per biological second (runs of different lengths compare)."""
    here = {(tool, t): a for (w, nn, tool, t), a in agg.items() if w == workload and nn == n}
    peers = {k: a for k, a in here.items() if k[0] != "spikesim"}
    mine = {k: a for k, a in here.items() if k[0] == "spikesim"}
    out = dict(peer=None, peer_bio=None, spikesim=None, spikesim_bio=None, peer_over_spikesim=None,
               limit=limit_estimate(workload, n, agg, lim), spikesim_over_limit=None, rates={})
    if peers:
        k = min(peers, key=lambda k: peers[k]["bio_med"])
        out.update(peer=k, peer_bio=peers[k]["bio_med"])
    if mine:
        k = min(mine, key=lambda k: mine[k]["bio_med"])
        out.update(spikesim=k, spikesim_bio=mine[k]["bio_med"])
    if out["peer_bio"] is not None and out["spikesim_bio"]:
        out["peer_over_spikesim"] = out["peer_bio"] / out["spikesim_bio"]
    if out["limit"] and out["spikesim_bio"] is not None:
        out["spikesim_over_limit"] = out["spikesim_bio"] / out["limit"]["per_bio_s"]
    by_tool = {}
    for (tool, _t), a in here.items():
        by_tool.setdefault(tool, []).append(a["rate_hz"])
    out["rates"] = {tool: _median(v) for tool, v in sorted(by_tool.items())}
    return out


# ---------------------------------------------------------------- outputs


def g(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}g}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _label(tool: str, threads: int) -> str:
    return f"{tool} T={threads}"


def write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def not_ok(records: list[dict]) -> list[dict]:
    return [r for r in records if r.get("status") != "ok"]


def summary_markdown(records: list[dict], cfg: dict, meta: dict) -> str:
    rows, limits = rows_and_limits(records)
    agg = aggregate(rows)
    lim = limit_table(limits)
    bad = not_ok(records)
    out = ["# spikesim vs peer simulators", ""]
    out.append(f"Command: `{meta.get('command', '')}`  ")
    out.append(f"Date: {meta.get('date', '')} · machine: {meta.get('machine', '')} · "
               f"load average at start {meta.get('load_start', '')}, at end {meta.get('load_end', '')}")
    tools = meta.get("tools") or {}
    if tools:
        out.append("")
        out.append("Tools: " + "; ".join(f"{t} {_md(v)}" for t, v in tools.items()))
    out.append("")
    out.append("Times are wall seconds of the timed simulation loop (build, compile and network "
               "construction excluded; they are in results.csv). **s/bio-s** = wall seconds per "
               "second of biological time = wall_s / (steps · dt); all comparisons use its median "
               f"over reps (R = {cfg.get('reps')}), min–max shows the spread. The machine is small and "
               "shared (2 cores, noisy): differences under ~20 % are within the noise.")
    out.append("")
    workloads = cfg.get("workloads") or sorted({r["workload"] for r in rows})
    for w in workloads:
        sizes = sorted(set(points(cfg, w)) | {k[1] for k in agg if k[0] == w}, key=lambda p: axis_key(w, p))

        def cell(n, w=w):
            """The first column: N, or W3's scale with the N it gave, or W4's state."""
            if w != "W3":
                return str(n)
            ns = sorted({x for k, a in agg.items() if k[0] == w and k[1] == n for x in a["neurons"]})
            return f"{g(n)} ({'/'.join(map(str, ns))})" if ns else g(n)

        out.append(f"## {WORKLOAD_TITLE[w]}")
        out.append("")
        if w == "W2":
            out.append(f"NEST runs {NEST_W2_LONG_STEPS} steps (0.2 s) per rep at N ≥ {NEST_W2_LONG_N}; "
                       "compare s/bio-s, not wall_s.")
            out.append("")
        if w in ("W3", "W4"):
            out.append("Every tool runs 100 ms untimed, then 1 s timed. NEST's spike recorder stays "
                       "connected during the timed run (its rates come from it); spikesim only counts.")
            out.append("")
        out.append(f"| {AXIS[w]} | tool | threads | reps | wall_s median | wall_s min–max | steps | s/bio-s median "
                   "| s/bio-s min–max | rate Hz | setup / build / compile s | status |")
        out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            keys = sorted((k for k in agg if k[0] == w and k[1] == n), key=lambda k: (k[2] != "spikesim", k[2], k[3]))
            failed_here = [r for r in bad if r["workload"] == w and r["neurons"] == n]
            for k in keys:
                a = agg[k]
                setup = " / ".join(g(a.get(x)) for x in ("setup_s", "build_s", "compile_s"))
                status = "ok"
                for r in failed_here:
                    if TOOL_NAMES.get(r["tool"]) == k[2] and r["threads"] == k[3]:
                        status = f"{r['status']}: {_md(r['message'])}"
                out.append(f"| {cell(n)} | {k[2]} | {k[3]} | {a['n']} | {g(a['wall_med'])} | "
                           f"{g(a['wall_min'])}–{g(a['wall_max'])} | {'/'.join(map(str, a['steps']))} | "
                           f"{g(a['bio_med'])} | {g(a['bio_min'])}–{g(a['bio_max'])} | {g(a['rate_hz'])} | "
                           f"{setup} | {status} |")
            seen = set()
            for r in failed_here:
                name = TOOL_NAMES.get(r["tool"], r["tool"])
                if (name, r["threads"]) in {(k[2], k[3]) for k in keys} or (name, r["threads"]) in seen:
                    continue
                seen.add((name, r["threads"]))
                out.append(f"| {cell(n)} | {name} | {r['threads']} | 0 | — | — | — | — | — | — | — | "
                           f"**{r['status']}**: {_md(r['message'])} |")
        out.append("")
        out.append(f"Comparison (s/bio-s medians; ratio > 1 means spikesim is faster; expected rate {EXPECTED_RATE[w]}):")
        out.append("")
        out.append(f"| {AXIS[w]} | fastest peer | its s/bio-s | spikesim best | its s/bio-s | best peer / spikesim "
                   "| limit s/bio-s | spikesim / limit | mean output rate Hz per tool |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            c = comparison(w, n, agg, lim)
            peer = _label(*c["peer"]) if c["peer"] else "—"
            mine = _label(*c["spikesim"]) if c["spikesim"] else "—"
            if c["spikesim"] is None:
                why = next((r for r in bad if r["tool"] == "spikesim" and r["workload"] == w
                            and r["neurons"] == n), None)
                if why:
                    mine = f"— ({why['status']})"
                elif "spikesim" not in (cfg.get("tools") or ["spikesim"]):
                    mine = "— (not requested)"
            li = c["limit"]
            lim_txt = f"{g(li['per_bio_s'])} ({li['kernel']}, T={li['threads']})" if li else "—"
            ratio = f"{c['peer_over_spikesim']:.2f}" if c["peer_over_spikesim"] is not None else "—"
            ratio_l = f"{c['spikesim_over_limit']:.2f}" if c["spikesim_over_limit"] is not None else "—"
            rates = ", ".join(f"{t} {g(v)}" for t, v in c["rates"].items()) or "—"
            out.append(f"| {cell(n)} | {peer} | {g(c['peer_bio'])} | {mine} | {g(c['spikesim_bio'])} | "
                       f"{ratio} | {lim_txt} | {ratio_l} | {rates} |")
        out.append("")
    out.append("## Machine limits (limit.c, best of its repeats)")
    out.append("")
    if lim:
        out.append("| kernel | N | threads | rate | W1 time per step (75 input spikes) |")
        out.append("|---|---|---|---|---|")
        order = {"stream_triad": 0, "rowadd": 1, "scatter": 2}
        for key in sorted(lim, key=lambda k: (order[k[0]], k[1:])):
            v = lim[key]
            if key[0] == "stream_triad":
                out.append(f"| STREAM triad | — | {key[1]} | {v / 1e9:.2f} GB/s | — |")
            elif key[0] == "rowadd":
                step_us = LIMIT_SPIKES_PER_STEP * key[1] / v * 1e6
                out.append(f"| row-add | {key[1]} | {key[2]} | {g(v)} events/s | {step_us:.3g} µs |")
            else:
                out.append(f"| scatter-add (262,144 targets) | — | {key[1]} | {g(v)} events/s | — |")
        out.append("")
        out.append("Limit estimate in the comparison = the run's synaptic events per biological second "
                   "(median over tools) / the kernel's events per second, at its best thread count. "
                   "W1: dense row-add at the same N (input spikes × N events). W2 to W4: random scatter-add; "
                   "neuron updates are not counted, so it is a loose lower bound.")
    else:
        why = next((r for r in records if r["tool"] == "limit" and r.get("status") != "ok"), None)
        out.append(f"not measured{': ' + _md(why['message']) if why else ' (--no-limit)'}")
    out.append("")
    out.append("## Runs that failed, timed out or could not start")
    out.append("")
    if bad:
        out.append("| tool | workload | N | threads | status | message | log |")
        out.append("|---|---|---|---|---|---|---|")
        for r in bad:
            out.append(f"| {r['tool']} | {r['workload'] or '—'} | {r['neurons'] or '—'} | {r['threads']} | "
                       f"{r['status']} | {_md(r['message'])} | {Path(r['log']).name if r.get('rc') is not None else '—'} |")
    else:
        out.append("none")
    out.append("")
    return "\n".join(out)


def plot_data(rows: list[dict], limits: list[dict] | None = None) -> dict:
    """What scaling.png shows: {workload: {label: {'N', 'median', 'lo', 'hi'}}} of wall seconds
    per biological second (medians over reps, min and max for the error bars); 'N' holds the
    points of the workload's axis (N, W3's scale, W4's state). The limit estimate, where
    measured, is under the label 'limit'."""
    agg = aggregate(rows)
    lim = limit_table(limits or [])
    data = {}
    for (w, n, tool, t) in sorted(agg, key=lambda k: (k[0], k[2], k[3], axis_key(k[0], k[1]))):
        a = agg[(w, n, tool, t)]
        s = data.setdefault(w, {}).setdefault(_label(tool, t), {"N": [], "median": [], "lo": [], "hi": []})
        s["N"].append(n)
        s["median"].append(a["bio_med"])
        s["lo"].append(a["bio_min"])
        s["hi"].append(a["bio_max"])
    for w in list(data):
        for n in sorted({k[1] for k in agg if k[0] == w}, key=lambda p: axis_key(w, p)):
            est = limit_estimate(w, n, agg, lim)
            if est:
                s = data[w].setdefault("limit", {"N": [], "median": [], "lo": [], "hi": []})
                s["N"].append(n)
                for k in ("median", "lo", "hi"):
                    s[k].append(est["per_bio_s"])
    return data


def plot(rows: list[dict], limits: list[dict], path: Path, workloads: list[str]):
    """scaling.png: one panel per workload, log–log against N (W3: the scale); W4's states are
    categories on a linear axis. Returns the Figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = plot_data(rows, limits)
    panels = [w for w in workloads if w in DT_MS] or ["W1"]
    fig = Figure(figsize=(6.2 * len(panels), 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    colors = {"spikesim": "C3", "numpy": "C0", "brian2_runtime": "C1", "brian2_standalone": "C2",
              "ngclearn": "C4", "nest": "C5", "annarchy": "C6"}
    for ax, w in zip(axes, panels):
        series = data.get(w, {})
        ns = sorted({n for s in series.values() for n in s["N"]}, key=lambda p: axis_key(w, p))
        # W4's states sit at 0, 1, ... in W4_STATES order; the other axes are numbers
        x_of = {n: (ns.index(n) if w == "W4" else n) for n in ns}
        for label, s in series.items():
            xs = [x_of[n] for n in s["N"]]
            if label == "limit":
                ax.plot(xs, s["median"], "k:", marker="x", lw=1.2, label="limit estimate", gid="limit")
                continue
            tool, threads = label.rsplit(" T=", 1)
            med = s["median"]
            yerr = [[m - lo for m, lo in zip(med, s["lo"])], [hi - m for m, hi in zip(med, s["hi"])]]
            style = dict(lw=2.4, marker="o") if tool == "spikesim" else dict(lw=1.3, marker=".")
            ax.errorbar(xs, med, yerr=yerr, capsize=3, label=label, gid=label,
                        color=colors.get(tool), ls="-" if threads == "1" else "--", **style)
        if w != "W4":
            ax.set_xscale("log")
        ax.set_yscale("log")
        if ns:
            ax.set_xticks([x_of[n] for n in ns], [str(n) for n in ns])
            ax.minorticks_off()
        ax.set_xlabel({"W3": "scale (N = K scaling)", "W4": "state"}.get(w, "neurons N"))
        ax.set_ylabel("wall s per biological s (median, min–max)")
        ax.set_title(WORKLOAD_TITLE[w], fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        if series:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "no results", transform=ax.transAxes, ha="center", va="center")
    fig.savefig(path, dpi=120)
    return fig


def write_outputs(out_dir: Path, records: list[dict], cfg: dict, meta: dict, with_plot=True) -> None:
    rows, limits = rows_and_limits(records)
    write_csv(out_dir / "results.csv", rows, CSV_FIELDS)
    write_csv(out_dir / "limits.csv", limits, LIMIT_FIELDS + ["rep"])
    (out_dir / "summary.md").write_text(summary_markdown(records, cfg, meta))
    if with_plot:
        plot(rows, limits, out_dir / "scaling.png", cfg.get("workloads") or ["W1", "W2"])


def machine_line() -> str:
    model = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model or platform.processor() or platform.machine()}"


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="w1,w2", help="comma list of w1, w2, w3, w4 (default w1,w2)")
    p.add_argument("--w1-sizes", help="W1 neuron counts (default 100,400,1600,6400; --quick 100,400)")
    p.add_argument("--w2-sizes", help="W2 neuron counts (default 4000,16000,64000,256000; --quick 4000)")
    p.add_argument("--w3-scales", help="W3 N = K scalings of the microcircuit (default 0.1,0.25,0.5,1.0; --quick 0.1)")
    p.add_argument("--w4-states", help=f"W4 states of Brunel's network, of {', '.join(W4_STATES)} (default AI)")
    p.add_argument("--threads", help="thread counts (default 1,2; --quick 1)")
    p.add_argument("--reps", type=int, help="timed runs per configuration (default 3; --quick 1)")
    p.add_argument("--tools", default=",".join(ALL_TOOLS),
                   help=f"comma list of {', '.join(ALL_TOOLS)} (default all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: small sizes, 1 rep, 1 thread, W1 2 images, W2 1000 steps, limit --quick")
    p.add_argument("--images", type=int, help="W1 images of 250 steps (default 20 = 5000 steps; --quick 2)")
    p.add_argument("--steps", type=int, help="W2 steps of 0.1 ms (default 10000 = 1 s; --quick 1000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per process started (default 3600)")
    p.add_argument("--no-limit", action="store_true", help="skip the limit kernels")
    p.add_argument("--limit-reps", type=int, help="limit runs per thread count (default --reps)")
    p.add_argument("--out", default="target/bench", help="output folder (default target/bench)")
    p.add_argument("--spikesim", default=os.environ.get("SPIKESIM_BIN", "target/release/spikesim"),
                   help="spikesim binary (default $SPIKESIM_BIN or target/release/spikesim)")
    p.add_argument("--peers-venv", default=os.environ.get("PEERS_VENV", ".venv-peers"),
                   help="venv of the peers (default $PEERS_VENV or .venv-peers)")
    p.add_argument("--peers-dir", default=os.environ.get("PEERS_DIR", str(REPO.parent / "shared" / "peers")),
                   help="peer scripts (default $PEERS_DIR or ../shared/peers beside the repo)")
    p.add_argument("--limit", default="target/peers-limit/limit", help="limit binary")
    p.add_argument("--dry-run", action="store_true", help="print the commands and exit")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild results.csv, summary.md and scaling.png from OUT/runs.jsonl")
    return p


def config(args) -> dict:
    base = QUICK if args.quick else DEFAULTS
    workloads = [w.upper() for w in _csv_names(args.workloads, ["w1", "w2", "w3", "w4"], "workload")]
    tools = _csv_names(args.tools, ALL_TOOLS + ["limit"], "tool")
    reps = args.reps if args.reps is not None else base["reps"]
    cfg = dict(
        workloads=workloads,
        tools=[t for t in tools if t != "limit"],
        w1_sizes=_csv_ints(args.w1_sizes) if args.w1_sizes else base["w1_sizes"],
        w2_sizes=_csv_ints(args.w2_sizes) if args.w2_sizes else base["w2_sizes"],
        w3_scales=_csv_floats(args.w3_scales) if args.w3_scales else base["w3_scales"],
        w4_states=_csv_states(args.w4_states) if args.w4_states else base["w4_states"],
        threads=_csv_ints(args.threads) if args.threads else base["threads"],
        reps=reps,
        images=args.images if args.images is not None else base["images"],
        steps=args.steps if args.steps is not None else base["steps"],
        seed=args.seed, quick=args.quick, limit=not args.no_limit,
        limit_reps=args.limit_reps if args.limit_reps is not None else (1 if args.quick else reps),
    )
    if min(cfg["threads"] + [cfg["reps"]] + cfg["w1_sizes"] + cfg["w2_sizes"]) < 1:
        raise SystemExit("compare: sizes, threads and reps must be positive")
    if not all(0 < x <= 1 for x in cfg["w3_scales"]):
        raise SystemExit("compare: W3 scales must be in (0, 1]")
    return cfg


def tool_state(requested: bool, why: str) -> str:
    """'ok', the reason it cannot run, or 'not requested' (with that reason, if any)."""
    if requested:
        return why or "ok"
    return "not requested" + (f" ({why})" if why else "")


def _abs(p: str) -> Path:
    q = Path(p)
    return q if q.is_absolute() else REPO / q


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out_dir = _abs(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs_path = out_dir / "runs.jsonl"

    if args.report_only:
        if not runs_path.exists():
            print(f"compare: {runs_path} not found", file=sys.stderr)
            return 2
        lines = [json.loads(ln) for ln in runs_path.read_text().splitlines() if ln.strip()]
        head = lines[0] if lines and lines[0].get("kind") == "header" else {}
        records = [ln for ln in lines if ln.get("kind") != "header"]
        write_outputs(out_dir, records, head.get("cfg", {}), head.get("meta", {}))
        print(f"compare: wrote {out_dir}/results.csv, summary.md, scaling.png")
        return 0

    cfg = config(args)
    paths = dict(spikesim=_abs(args.spikesim), peers_python=_abs(args.peers_venv) / "bin" / "python",
                 peers_dir=_abs(args.peers_dir), limit=_abs(args.limit))
    needed = list(cfg["tools"]) + (["limit"] if cfg["limit"] else [])
    # every tool is checked (not only those asked for) so that summary.md tells where each stands
    why = availability(paths, ALL_TOOLS + ["limit"], probe_spikesim=not args.dry_run)
    runs = plan(cfg, paths, why)
    if args.dry_run:
        for r in runs:
            note = f"   # not run: {r.unavailable}" if r.unavailable else ""
            print(f"OMP_NUM_THREADS={r.threads} {shlex.join(r.cmd)}{note}")
        return 0
    for tool in needed:
        if why[tool]:
            print(f"compare: {tool}: {why[tool]}", file=sys.stderr)

    meta = dict(command="tools/bench/compare.py " + shlex.join(sys.argv[1:] if argv is None else argv),
                date=datetime.datetime.now().isoformat(timespec="seconds"),
                machine=machine_line(), load_start=_loadavg(),
                tools={t: tool_state(t in needed, why[t]) for t in ALL_TOOLS + ["limit"]})
    work = out_dir / "work"
    work.mkdir(exist_ok=True)
    records = []
    with open(runs_path, "w") as jf:
        jf.write(json.dumps(dict(kind="header", cfg=cfg, meta=meta)) + "\n")
    for i, run in enumerate(runs, 1):
        tag = (f"{run.tool} {run.workload} {point_label(run.workload, run.neurons)} T={run.threads}"
               if run.workload else f"limit T={run.threads}")
        if run.reps_as_processes or run.tool == "limit":
            tag += f" rep {run.rep_base + 1}"
        log = out_dir / "logs" / (f"{i:03d}-{run.tool}-{run.workload or 'limit'}-N{run.neurons}"
                                  f"-T{run.threads}-r{run.rep_base}.log")
        print(f"[{i}/{len(runs)}] {tag} ...", end="", flush=True)
        rec = execute(run, log, args.timeout, work)
        walls = [d["wall_s"] for d in rec["results"] if "wall_s" in d and d.get("tool") != "limit"]
        detail = f" wall_s {', '.join(g(x) for x in walls)}" if walls else ""
        print(f" {rec['status']} ({rec['seconds']:.1f} s){detail}"
              + (f" — {rec['message']}" if rec["message"] else ""), flush=True)
        records.append(rec)
        with open(runs_path, "a") as jf:
            jf.write(json.dumps(rec) + "\n")
        meta["load_end"] = _loadavg()
        write_outputs(out_dir, records, cfg, meta, with_plot=False)
    meta["load_end"] = _loadavg()
    # the header is rewritten with the final load average
    lines = runs_path.read_text().splitlines()
    lines[0] = json.dumps(dict(kind="header", cfg=cfg, meta=meta))
    runs_path.write_text("\n".join(lines) + "\n")
    write_outputs(out_dir, records, cfg, meta)
    bad = not_ok(records)
    print(f"compare: {len(records) - len(bad)}/{len(records)} runs ok; wrote {out_dir}/summary.md, "
          f"results.csv, limits.csv, scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
