"""spikesim from Python: the simulator's core, driven by the same config as ``spikesim run``.

    import spikesim
    sim = spikesim.Simulation("experiments/seed.toml", set=["simulation.seed=3"])
    sim.monitor_spikes("hidden")
    sim.run(ms=500)                      # GIL released; Ctrl-C raises KeyboardInterrupt
    t, i = sim.spike_trains("hidden")    # NumPy arrays
    v = sim.voltage("hidden")            # float32, mV
    sim.set_voltage("hidden", v * 0)     # state can be set as well as read
    print(sim.to_toml())                 # the resolved config, for provenance

A config is a dict with the TOML config's tables, TOML text, or a path to a TOML file; errors in
it raise :class:`ConfigError` with the command line's one-line message.
"""

import csv
import os
import shutil
import subprocess
from pathlib import Path

import tempfile

from ._spikesim import ConfigError, Simulation, __version__, resolve

__all__ = ["ConfigError", "Simulation", "__version__", "resolve", "run", "sweep", "read_index"]


def _binary(binary=None) -> str:
    """The ``spikesim`` command: ``binary``, $SPIKESIM_BIN, or ``spikesim`` on the PATH."""
    found = binary or os.environ.get("SPIKESIM_BIN") or shutil.which("spikesim")
    if not found:
        raise FileNotFoundError("the spikesim binary: pass binary=, set SPIKESIM_BIN or put it on the PATH")
    return str(found)


def run(config, out, set=(), force: bool = False, binary=None):
    """Runs ``config`` (a dict, TOML text or a path, with ``set`` overrides) to its end with
    ``spikesim run``, which writes the HDF5 file ``out``: the command line's file, dataset for
    dataset, with its safety (an existing ``out`` only replaced with ``force``, a run stopped
    early marked incomplete and resumable). The config is resolved here first, so a bad one
    raises :class:`ConfigError` before anything runs. Returns ``out`` as a Path."""
    text = resolve(config, list(set))
    with tempfile.TemporaryDirectory(prefix="spikesim-") as tmp:
        path = Path(tmp) / "config.toml"
        path.write_text(text)
        cmd = [_binary(binary), "run", str(path), "--out", str(out)] + (["--force"] if force else [])
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        message = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        if p.returncode == 2:
            raise ConfigError(message.removeprefix("error: "))
        raise RuntimeError(f"spikesim run exited {p.returncode}: {message}")
    return Path(out)


def read_index(out):
    """The ``index.csv`` of a sweep's folder ``out``: a list of dicts (numbers as int/float),
    or a pandas DataFrame where pandas is installed."""
    def value(x: str):
        for kind in (int, float):
            try:
                return kind(x)
            except ValueError:
                pass
        return x

    with open(Path(out) / "index.csv", newline="") as f:
        records = [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]
    try:
        import pandas
    except ImportError:
        return records
    return pandas.DataFrame.from_records(records)


def sweep(file, jobs: int = 1, out=None, checkpoint_every: float = 5.0, binary=None):
    """Runs the campaign of sweep file ``file`` with ``spikesim sweep`` (``jobs`` runs at a time,
    files and index in ``out``, default ``runs/<file name>``) and returns its index
    (:func:`read_index`). Complete runs are skipped and interrupted ones resumed, as on the
    command line; a bad sweep file raises :class:`ConfigError` with its one-line message."""
    out = Path(out) if out is not None else Path("runs") / Path(file).stem
    cmd = [_binary(binary), "sweep", str(file), "--jobs", str(jobs), "--out", str(out),
           "--checkpoint-every", str(checkpoint_every)]
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    message = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
    if p.returncode == 2:
        raise ConfigError(message.removeprefix("error: "))
    if p.returncode != 0:
        raise RuntimeError(f"spikesim sweep exited {p.returncode}: {message}")
    return read_index(out)
