"""The `spikesim` Python module (py/, installed into .venv by tools/setup.sh --python)."""

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import tomllib

import h5py
import numpy as np
import pytest

import spikesim
REPO = pathlib.Path(__file__).resolve().parent.parent

# One LIF neuron at rest (v_rest = v_reset = 0, k_v = r = 1), no input, no
# adaptation: V(n+1) = V(n) + (dt/τ_v)·(−V(n)) in float32, a spike when the
# new V reaches σ = 1 mV, then V = 0.
ONE_NEURON = {
    "simulation": {"dt_ms": 1.0, "seed": 1, "steps": 100},
    "layers": {
        "neuron": {"kind": "lif", "size": 1, "current": "continuous", "tau_j_ms": 10.0,
                   "tau_v_ms": 20.0, "r": 1.0, "sigma": 1.0},
    },
}


def seed_demo_path():
    return REPO / "experiments" / "seed-demo.toml"


def test_a_python_run_equals_the_cli_run_bit_for_bit(spikesim_bin, tmp_path, monkeypatch):
    # The seed demo on 4 images (1000 steps, real MNIST), once by `spikesim run`, once from
    # Python with the same --set: the hidden layer's spikes (every one) and the traced
    # voltages, currents and thresholds of neurons 0-4 at every step are identical.
    monkeypatch.chdir(REPO)
    sets = ["stimulus.images=4", "simulation.threads=2"]
    out = tmp_path / "cli.h5"
    cmd = [spikesim_bin, "run", seed_demo_path(), "-o", out]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, capture_output=True)
    sim = spikesim.Simulation(seed_demo_path(), set=sets)
    sim.monitor_spikes("hidden")
    for var in ("voltage", "current", "threshold"):
        sim.monitor_trace("hidden", var)
    assert sim.run() == 1000
    t, i = sim.spike_trains("hidden")
    with h5py.File(out, "r") as f:
        assert len(t) > 100
        np.testing.assert_array_equal(t, f["spikes/hidden/timestamps"][:])
        np.testing.assert_array_equal(i, f["spikes/hidden/node_ids"][:])
        for var in ("voltage", "current", "threshold"):
            times, frames = sim.trace("hidden", var)
            assert frames.shape == (1000, 100) and frames.dtype == np.float32
            np.testing.assert_array_equal(frames[:, :5], f[f"report/hidden/{var}/data"][:])
        np.testing.assert_array_equal(times, np.arange(1000.0))
        # The resolved config is the file's, but for the thread count it records.
        mine = tomllib.loads(sim.to_toml())
        theirs = tomllib.loads(f.attrs["config_toml"])
        assert mine == theirs


def test_a_run_continues_where_the_last_one_stopped():
    # 37 + 63 steps from Python give the state of 100 steps at once.
    a = spikesim.Simulation(seed_demo_path(), set=["stimulus.images=1", "stimulus.dataset=synthetic"])
    b = spikesim.Simulation(seed_demo_path(), set=["stimulus.images=1", "stimulus.dataset=synthetic"])
    a.run(37)
    a.run(steps=63)
    b.run(100)
    assert a.steps_done == b.steps_done == 100
    np.testing.assert_array_equal(a.voltage("hidden"), b.voltage("hidden"))
    assert a.sigma("hidden") == b.sigma("hidden")
    # ms rounds to steps of dt = 1 ms.
    a.run(ms=10.4)
    assert a.steps_done == 110 and a.t_ms == 110.0


def test_a_voltage_set_from_python_decays_and_fires_as_the_equation_says():
    sim = spikesim.Simulation(ONE_NEURON)
    f = np.float32
    sim.set_voltage("neuron", np.array([0.8], np.float32))
    sim.step()
    # 0.8 + (1/20)·(−0.8) = 0.76, in float32 as spikesim computes it.
    expect = f(0.8) + f(1.0 / 20.0) * (-f(1.0) * (f(0.8) - f(0.0)) + f(1.0) * f(0.0))
    assert sim.voltage("neuron")[0] == expect
    assert len(sim.spikes("neuron")) == 0
    # Above σ: 1.5 − 0.075 = 1.425 >= 1, so it fires and is reset to 0.
    sim.set_voltage("neuron", np.array([1.5], np.float32))
    sim.step()
    assert list(sim.spikes("neuron")) == [0]
    assert sim.voltage("neuron")[0] == 0.0
    # A current set from Python: J = 2 nA, no input, V = 0 after the reset:
    # J' = 2 + (1/10)·(−2) = 1.8, V' = 0 + (1/20)·(−0 + 1.8) = 0.09 (float32).
    sim.set_current("neuron", np.array([2.0], np.float32))
    sim.step()
    j = f(2.0) + f(1.0 / 10.0) * (-f(1.0) * f(2.0) + f(0.0))
    assert sim.current("neuron")[0] == j
    assert sim.voltage("neuron")[0] == f(0.0) + f(1.0 / 20.0) * (-f(1.0) * (f(0.0) - f(0.0)) + f(1.0) * j)
    # A lower shared threshold is used by the next spike test.
    sim.set_sigma("neuron", 0.5)
    assert sim.sigma("neuron") == 0.5


def test_weights_set_from_python_change_the_input():
    # The seed network's dense input -> hidden weights as a 784 x 100 array; set to zero,
    # the hidden layer gets no input, so its current stays 0 and nothing fires.
    sim = spikesim.Simulation(seed_demo_path(), set=["stimulus.images=1", "stimulus.dataset=synthetic"])
    w = sim.weights("input_hidden")
    assert w.shape == (784, 100) and w.dtype == np.float32
    assert 0.0 <= w.min() and w.max() <= 0.1
    sim.set_weights("input_hidden", np.zeros_like(w))
    np.testing.assert_array_equal(sim.weights("input_hidden"), 0.0)
    sim.monitor_spikes("hidden")
    sim.run(100)
    assert len(sim.spike_trains("hidden")[0]) == 0
    np.testing.assert_array_equal(sim.get("hidden", "current"), 0.0)
    # Sparse weights come as (pre, post, w), one entry per synapse.
    cuba = spikesim.Simulation(REPO / "experiments" / "cuba.toml", set=["layers.exc.size=400", "layers.inh.size=100"])
    pre, post, w = cuba.weights(cuba.projections[0])
    assert len(pre) == len(post) == len(w) > 0
    assert np.all(np.diff(pre.astype(np.int64)) >= 0)


def test_a_callback_sees_the_state_and_can_stop_the_run():
    sim = spikesim.Simulation(ONE_NEURON)
    seen = []

    def callback(s):
        seen.append(s.steps_done)
        return s.steps_done < 30

    assert sim.run(100, callback=callback, every=10) == 30
    assert seen == [10, 20, 30]


def test_errors_are_exceptions_with_the_cli_message(spikesim_bin, tmp_path):
    # An unknown key: ConfigError with the same line as `spikesim validate` prints.
    bad = dict(ONE_NEURON, layers={"neuron": dict(ONE_NEURON["layers"]["neuron"], tau_v_msx=3.0)})
    with pytest.raises(spikesim.ConfigError) as e:
        spikesim.Simulation(bad)
    assert "tau_v_msx" in str(e.value)
    path = tmp_path / "bad.toml"
    path.write_text(open(seed_demo_path()).read().replace("tau_v_ms = 20.0", "tau_v_ms = -20.0"))
    cli = subprocess.run([spikesim_bin, "validate", path], capture_output=True, text=True)
    assert cli.returncode == 2
    with pytest.raises(spikesim.ConfigError) as e:
        spikesim.Simulation(path)
    assert cli.stderr.strip() == f"error: {e.value}"
    with pytest.raises(spikesim.ConfigError, match="simulation.seed"):
        spikesim.Simulation(ONE_NEURON, set=["simulation.seed=-1"])
    sim = spikesim.Simulation(ONE_NEURON)
    with pytest.raises(ValueError, match="no layer 'nope'"):
        sim.voltage("nope")
    with pytest.raises(ValueError, match="has 1 neurons; 2 values given"):
        sim.set_voltage("neuron", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="records"):
        sim.get("neuron", "recovery")
    with pytest.raises(ValueError, match="steps or ms"):
        sim.run(10, ms=10.0)
    with pytest.raises(TypeError):
        spikesim.Simulation(42)


def test_the_gil_is_released_while_running():
    # A second Python thread counts while the first runs 20,000 steps of the CUBA network:
    # with the GIL held by the run it could not count at all until the run returned.
    sim = spikesim.Simulation(REPO / "experiments" / "cuba.toml", set=["simulation.steps=20000"])
    started = threading.Event()

    def work():
        started.set()
        sim.run()

    t = threading.Thread(target=work)
    t.start()
    started.wait()
    count = 0
    while t.is_alive():
        count += 1
    t.join()
    assert sim.steps_done == 20000
    assert count > 10_000, count


def test_ctrl_c_raises_keyboard_interrupt_and_keeps_the_state():
    # A child Python runs CUBA for 10^6 steps; SIGINT after it started: KeyboardInterrupt,
    # whole steps done, and the network still steps afterwards.
    # The child installs Python's own SIGINT handler: started from a background job, it
    # would inherit SIGINT ignored, and Python then leaves it so.
    code = f"""
import signal, sys, time, spikesim
signal.signal(signal.SIGINT, signal.default_int_handler)
sim = spikesim.Simulation({str(REPO / 'experiments' / 'cuba.toml')!r}, set=["simulation.steps=1000000"])
print("running", flush=True)
try:
    sim.run()
except KeyboardInterrupt:
    done = sim.steps_done
    print("interrupted", time.monotonic(), done, flush=True)
    sim.run(5)
    assert sim.steps_done == done + 5
    print("stepped", flush=True)
"""
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "running"
    time.sleep(0.5)
    sent = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=300)
    lines = out.split("\n")
    word, at, done = lines[0].split()
    assert word == "interrupted" and 0 < int(done) < 1_000_000
    assert lines[1] == "stepped"
    print(f"KeyboardInterrupt {float(at) - sent:.3f} s after SIGINT")
    assert p.returncode == 0


def test_help_is_useful():
    doc = spikesim.Simulation.__doc__
    assert "config" in doc and "set" in doc
    assert "KeyboardInterrupt" in spikesim.Simulation.run.__doc__
    assert os.path.exists(os.path.join(os.path.dirname(spikesim.__file__), "_spikesim.pyi"))


def test_the_example_draws_the_seed_figures(tmp_path):
    subprocess.run([sys.executable, REPO / "examples" / "seed_network.py", "-o", tmp_path],
                   check=True, capture_output=True)
    for name in ("python-seed-raster.png", "python-seed-neuron.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_returns_the_index_and_spikeview_draws_it(spikesim_bin, tmp_path):
    # The README's campaign: 4 targets × 2 etas × 5 seeds of the seed network on 4 images.
    out = tmp_path / "sweep"
    records = spikesim.sweep(REPO / "experiments" / "sweep-seed-threshold.toml", jobs=2, out=out,
                             binary=spikesim_bin)
    if not isinstance(records, list):  # a DataFrame where pandas is installed
        records = records.to_dict("records")
    assert len(records) == 40
    assert {r["status"] for r in records} == {"complete"}
    assert sorted({r["seed"] for r in records}) == [1, 2, 3, 4, 5]
    # The global threshold drives the layer's rate towards its target (spikes per step of
    # the layer, 100 neurons, dt = 1 ms: target 1 is 10 Hz a neuron): a higher target, a
    # higher rate, for each eta.
    key = "layers.hidden.threshold.global.target"
    for eta in (0.01, 0.04):
        mean = [np.mean([r["rate_hz.hidden"] for r in records
                         if r[key] == t and r["layers.hidden.threshold.global.eta"] == eta])
                for t in (0.5, 1.0, 2.0, 4.0)]
        assert mean == sorted(mean), mean
    # Again: every run is skipped.
    again = spikesim.sweep(REPO / "experiments" / "sweep-seed-threshold.toml", out=out, binary=spikesim_bin)
    if not isinstance(again, list):
        again = again.to_dict("records")
    assert {r["status"] for r in again} == {"skipped"}
    png = tmp_path / "heat.png"
    subprocess.run([sys.executable, REPO / "tools" / "spikeview.py", "sweep", out, "--x", key,
                    "--y", "layers.hidden.threshold.global.eta", "--value", "rate_hz.hidden", "-o", png],
                   check=True, capture_output=True)
    assert png.read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.toml"
    bad.write_text(f'base = "{seed_demo_path()}"\n[grid]\n"layers.hidden.nope" = [1.0]\n')
    with pytest.raises(spikesim.ConfigError, match="nope"):
        spikesim.sweep(bad, out=tmp_path / "bad", binary=spikesim_bin)


def test_run_writes_the_file_of_the_cli(spikesim_bin, tmp_path):
    # The one-neuron dict through spikesim.run, and its resolved TOML through `spikesim run`:
    # every dataset and every root attribute but the creation time are equal.
    config = dict(ONE_NEURON, record={"traces": [{"layer": "neuron", "vars": ["voltage"]}]})
    mine = spikesim.run(config, tmp_path / "py.h5", binary=spikesim_bin)
    toml_path = tmp_path / "c.toml"
    toml_path.write_text(spikesim.resolve(config))
    theirs = tmp_path / "cli.h5"
    subprocess.run([spikesim_bin, "run", toml_path, "-o", theirs], check=True, capture_output=True)

    def contents(path):
        out = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, x: out.__setitem__(name, x[()].tobytes())
                         if isinstance(x, h5py.Dataset) else None)
            attrs = {k: v for k, v in f.attrs.items() if k != "created_utc"}
        return out, attrs

    (d1, a1), (d2, a2) = contents(mine), contents(theirs)
    assert d1 == d2 and "report/neuron/voltage/data" in d1
    assert a1.keys() == a2.keys() and all(np.array_equal(a1[k], a2[k]) for k in a1)
    with pytest.raises(spikesim.ConfigError, match="exists; pass --force"):
        spikesim.run(config, mine, binary=spikesim_bin)
