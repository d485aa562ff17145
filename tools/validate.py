#!/usr/bin/env python3
"""validate: spikesim against NEST on the field's standard networks, seed by seed.

    .venv/bin/python tools/validate.py microcircuit --scale 0.1 --seeds 1,2,3,4,5
    .venv/bin/python tools/validate.py brunel --state AI --seeds 1,2,3
    .venv/bin/python tools/validate.py brunel --state all --seeds 1,2,3 --out docs/validation-brunel.md
    .venv/bin/python tools/validate.py boxplot runs/microcircuit.h5 --from-ms 500 -o docs/microcircuit-rates.png

For each seed it runs ``spikesim run`` on ``experiments/microcircuit.toml`` (with
``scale.n = scale.k = --scale``) or ``experiments/brunel-<state>.toml`` and the peer script
``nest_microcircuit.py`` / ``nest_brunel.py`` of ``../shared/peers`` (NEST 3.10 in the peers
venv, tools/bench/setup-peers.sh) with the same seed, warm-up and window, and computes from
each the same statistics with the peers' own code (``common.spike_stats``,
``common.population_fano``): per population the mean rate (silent neurons included) and the
mean CV of the ISIs (neurons with >= 5 spikes); for Brunel also the Fano factor of the
population count in 1 ms bins.

**Agreement.** Seeds give each simulator a spread of values. For each quantity the table gives
both means and seed-to-seed standard deviations, the difference of the means, and that
difference in units of the larger of the two seed-to-seed standard deviations (``Δ/sd``).
A quantity *agrees* when ``|Δ| <= 2 sd``: spikesim's mean lies within the range that about
95 % of single NEST runs fall in (for a normal spread), i.e. one cannot tell the two
simulators apart by one run. The two networks are chaotic, so runs of the same seed differ
between simulators exactly as runs of two seeds of one simulator do.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BRUNEL_STATES = ["AI", "SR", "SI-fast", "SI-slow"]
MC_POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]


def peers_common(peers_dir: Path):
    sys.path.insert(0, str(peers_dir))
    import common  # noqa: E402

    return common


def read_spikes(path: Path):
    """(senders, times, firsts, sizes, names): every population's spikes of a spikesim file,
    with node ids made global by putting the populations one after another in file order."""
    import h5py

    senders, times, firsts, sizes, names = [], [], [], [], []
    offset = 0
    with h5py.File(path, "r") as f:
        for name, g in f["spikes"].items():
            n = int(g.attrs["n_nodes"])
            senders.append(g["node_ids"][:].astype(np.int64) + offset)
            times.append(g["timestamps"][:].astype(float))
            firsts.append(offset)
            sizes.append(n)
            names.append(name)
            offset += n
    return np.concatenate(senders), np.concatenate(times), firsts, sizes, names


def run_spikesim(args, config: Path, sets: list[str], seed: int, steps: int) -> Path:
    out = Path(tempfile.mkdtemp(prefix="validate-")) / "run.h5"
    cmd = [args.spikesim, "run", str(config), "-o", str(out), "--threads", str(args.threads),
           "--set", f"simulation.seed={seed}", "--set", f"simulation.steps={steps}",
           "--checkpoint-every", "0"]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, cwd=REPO, stdout=subprocess.DEVNULL)
    return out


def run_nest(args, script: str, flags: list[str], seed: int) -> dict:
    py = Path(args.peers_venv) / "bin" / "python"
    cmd = [str(py), script, "--threads", str(args.threads), "--seed", str(seed), "--quiet", *flags]
    out = subprocess.run(cmd, check=True, cwd=args.peers_dir, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return {k: v for k, v in re.findall(r"(\S+)=(\S+)", line)}


def microcircuit(args, C) -> list[tuple[str, list[float], list[float]]]:
    """(quantity, NEST values, spikesim values) per population rate and CV."""
    presim, sim = args.presim_ms, args.sim_ms
    steps = int(round((presim + sim) / 0.1))
    rows = {f"{q} {p}": ([], []) for p in MC_POPS for q in ("rate", "cv")}
    for seed in args.seeds:
        nest = run_nest(args, "nest_microcircuit.py",
                        ["--scale", str(args.scale), "--presim-ms", str(presim), "--sim-ms", str(sim)], seed)
        path = run_spikesim(args, REPO / "experiments" / "microcircuit.toml",
                            [f"scale.n={args.scale}", f"scale.k={args.scale}"], seed, steps)
        s, t, firsts, sizes, names = read_spikes(path)
        # The peer counts spikes in [presim, presim + sim] (both ends, H firing_rates).
        st = C.spike_stats(s, t, firsts, sizes, presim, presim + sim + 1e-9)
        for name, d in zip(names, st):
            rows[f"rate {name}"][0].append(float(nest[f"rate_{name}"]))
            rows[f"rate {name}"][1].append(d["rate"])
            rows[f"cv {name}"][0].append(float(nest.get(f"cv_{name}", "nan")))
            rows[f"cv {name}"][1].append(d["cv"])
        path.unlink()
        print(f"# seed {seed}: " + " ".join(f"{k}={v[0][-1]:.6g}/{v[1][-1]:.6g}" for k, v in rows.items())
              + " (NEST/spikesim)", file=sys.stderr, flush=True)
    return [(k, *v) for k, v in rows.items()]


def brunel(args, C, state: str) -> list[tuple[str, list[float], list[float]]]:
    presim, sim = args.presim_ms, args.sim_ms
    steps = int(round((presim + sim) / 0.1))
    keys = ["rate_E", "rate_I", "cv_E", "cv_I", "fano_pop"]
    rows = {k: ([], []) for k in keys}
    for seed in args.seeds:
        nest = run_nest(args, "nest_brunel.py",
                        ["--state", state, "--presim-ms", str(presim), "--sim-ms", str(sim)], seed)
        path = run_spikesim(args, REPO / "experiments" / f"brunel-{state.lower()}.toml", [], seed, steps)
        s, t, firsts, sizes, _ = read_spikes(path)
        st = C.spike_stats(s, t, firsts, sizes, presim, presim + sim + 1e-9)
        fano, _ = C.population_fano(t, presim, presim + sim, 1.0)
        mine = {"rate_E": st[0]["rate"], "rate_I": st[1]["rate"], "cv_E": st[0]["cv"],
                "cv_I": st[1]["cv"], "fano_pop": fano}
        for k in keys:
            rows[k][0].append(float(nest[k]))
            rows[k][1].append(mine[k])
        path.unlink()
        print(f"# {state} seed {seed}: " + " ".join(f"{k}={rows[k][0][-1]:.6g}/{rows[k][1][-1]:.6g}" for k in keys)
              + " (NEST/spikesim)", file=sys.stderr, flush=True)
    return [(f"{state} {k}", *v) for k, v in rows.items()]


def stats(xs: list[float]) -> tuple[float, float]:
    a = np.array([x for x in xs if not math.isnan(x)])
    if len(a) == 0:
        return float("nan"), float("nan")
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else float("nan")


def table(rows) -> tuple[str, int, int]:
    out = ["| quantity | NEST mean ± sd | spikesim mean ± sd | Δ | Δ/sd | agrees |",
           "|---|---|---|---|---|---|"]
    agree = total = 0
    for name, nest, mine in rows:
        (mn, sn), (ms, ss) = stats(nest), stats(mine)
        sd = max(sn, ss)
        d = ms - mn
        z = d / sd if sd > 0 else float("nan")
        ok = abs(d) <= 2 * sd if not math.isnan(z) else False
        if not math.isnan(mn):
            total += 1
            agree += ok
        out.append(f"| {name} | {mn:.4g} ± {sn:.2g} | {ms:.4g} ± {ss:.2g} | {d:+.3g} | {z:+.2f} | "
                   f"{'yes' if ok else 'no'} |")
    return "\n".join(out), agree, total


def boxplot(path: Path, from_ms: float, out: Path) -> None:
    """Box plot of the per-neuron rates of each population of a run, from `from_ms` to its end
    (NEST's microcircuit example draws the same)."""
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s, t, firsts, sizes, names = read_spikes(path)
    with h5py.File(path, "r") as f:
        end_ms = float(f.attrs["steps_done"]) * float(f.attrs["dt_ms"])
    keep = t >= from_ms
    counts = np.bincount(s[keep], minlength=firsts[-1] + sizes[-1])
    rates = [counts[a:a + n] / ((end_ms - from_ms) * 1e-3) for a, n in zip(firsts, sizes)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.boxplot(rates[::-1], orientation="horizontal", showfliers=False)
    ax.set_yticks(range(1, len(names) + 1), names[::-1])
    ax.set_xlabel("firing rate (spikes/s)")
    ax.set_title(f"{path.name}: rates from {from_ms:g} to {end_ms:g} ms")
    fig.tight_layout()
    fig.savefig(out, dpi=150)


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["boxplot"]:
        b = argparse.ArgumentParser(prog="validate.py boxplot")
        b.add_argument("file", type=Path)
        b.add_argument("--from-ms", type=float, default=0.0)
        b.add_argument("-o", "--out", type=Path, required=True)
        a = b.parse_args(argv[1:])
        boxplot(a.file, a.from_ms, a.out)
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=["microcircuit", "brunel"])
    p.add_argument("--scale", type=float, default=0.1, help="microcircuit N = K scaling (default 0.1)")
    p.add_argument("--state", default="AI", help="Brunel state: AI, SR, SI-fast, SI-slow or all")
    p.add_argument("--seeds", default="1,2,3", help="comma list (default 1,2,3)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--presim-ms", type=float, help="warm-up (default 500 microcircuit, 100 Brunel)")
    p.add_argument("--sim-ms", type=float, default=1000.0)
    p.add_argument("--spikesim", default=os.environ.get("SPIKESIM_BIN", str(REPO / "target/release/spikesim")))
    p.add_argument("--peers-venv", default=os.environ.get("PEERS_VENV", str(REPO / ".venv-peers")))
    p.add_argument("--peers-dir", default=os.environ.get("PEERS_DIR", str(REPO.parent / "shared" / "peers")))
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if args.presim_ms is None:
        args.presim_ms = 500.0 if args.model == "microcircuit" else 100.0
    C = peers_common(Path(args.peers_dir))
    if args.model == "microcircuit":
        title = f"Microcircuit at scale {args.scale}"
        rows = microcircuit(args, C)
    else:
        states = BRUNEL_STATES if args.state == "all" else [args.state]
        title = f"Brunel (2000) model A, {', '.join(states)}"
        rows = [r for s in states for r in brunel(args, C, s)]
    body, agree, total = table(rows)
    text = (f"## {title}\n\nSeeds {','.join(map(str, args.seeds))}, {args.threads} threads, "
            f"warm-up {args.presim_ms:g} ms, window {args.sim_ms:g} ms; "
            f"`tools/validate.py {' '.join(argv)}`\n\n{body}\n\n"
            f"{agree} of {total} quantities agree (|Δ| <= 2 sd).\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
