"""spikesim's HDF5 output read back with h5py (DESIGN §3 layout)."""

import tomllib

import h5py
import numpy as np


def lif_reference(steps, dt, tau_j, tau_v, sigma, start_ms, stop_ms, amplitude, tau_theta, beta):
    """The Euler recursion of one LIF neuron (continuous current, k_j = k_v = r = 1,
    v_rest = v_reset = 0, individual threshold) in float32, operation for operation
    as spikesim computes it; θ and its decay in float64, rounded to float32 where
    it meets the voltage. Returns voltage, current, threshold per step and spike steps."""
    f = np.float32
    a_j, a_v, decay = f(dt / tau_j), f(dt / tau_v), np.float64(dt / tau_theta)
    j = v = f(0.0)
    theta = np.float64(0.0)
    vs, js, ths, spikes = [], [], [], []
    for n in range(steps):
        drive = f(amplitude) if start_ms <= n * dt < stop_ms else f(0.0)
        i_n = f(0.0) + (f(0.0) + drive)  # synaptic input (none) + external current
        j = j + a_j * (-f(1.0) * j + i_n)
        v = v + a_v * (-f(1.0) * (v - f(0.0)) + f(1.0) * j)
        spiked = v >= f(sigma) + f(theta)
        if spiked:
            v = f(0.0)
            spikes.append(n)
        theta = theta - theta * decay
        if spiked:
            theta = theta + np.float64(beta)
        vs.append(v)
        js.append(j)
        ths.append(f(sigma) + f(theta))
    return np.array(vs, np.float32), np.array(js, np.float32), np.array(ths, np.float32), spikes


def test_single_neuron_trace_equals_the_euler_recursion(run_experiment):
    path, _ = run_experiment("single-neuron")
    with h5py.File(path, "r") as f:
        config = tomllib.loads(f.attrs["config_toml"])
        n = config["layers"]["neuron"]
        step = n["step_current"]
        steps, dt = int(f.attrs["steps"]), float(f.attrs["dt_ms"])
        v, j, th, spikes = lif_reference(
            steps, dt, n["tau_j_ms"], n["tau_v_ms"], n["sigma"], step["start_ms"], step["stop_ms"],
            step["amplitude"], n["threshold"]["individual"]["tau_theta_ms"], n["threshold"]["individual"]["beta"],
        )
        assert np.array_equal(f["report/neuron/voltage/data"][:, 0], v)
        assert np.array_equal(f["report/neuron/current/data"][:, 0], j)
        assert np.array_equal(f["report/neuron/threshold/data"][:, 0], th)
        assert len(spikes) >= 3
        np.testing.assert_array_equal(f["spikes/neuron/timestamps"][:], np.array(spikes) * dt)
        np.testing.assert_array_equal(f["spikes/neuron/node_ids"][:], np.zeros(len(spikes)))


def test_report_layout_is_sonata(run_experiment):
    path, _ = run_experiment("single-neuron")
    with h5py.File(path, "r") as f:
        for var, units in [("voltage", "mV"), ("current", "nA"), ("threshold", "mV")]:
            g = f[f"report/neuron/{var}"]
            assert g["data"].shape == (200, 1)
            assert g["data"].dtype == np.float32
            assert g["data"].attrs["units"] == units
            np.testing.assert_array_equal(g["mapping/node_ids"][:], [0])
            np.testing.assert_array_equal(g["mapping/index_pointers"][:], [0, 1])
            np.testing.assert_array_equal(g["mapping/element_ids"][:], [0])
            # start 0 ms, stop 200 ms (exclusive), dt 1 ms.
            np.testing.assert_array_equal(g["mapping/time"][:], [0.0, 200.0, 1.0])


def test_demo_run_attributes_and_spikes(run_experiment):
    path, inspect = run_experiment(
        "seed-demo", "--seed", "11", "--set", "stimulus.dataset=synthetic", "--set", "stimulus.images=4"
    )
    with h5py.File(path, "r") as f:
        assert f.attrs["seed"] == 11
        assert f.attrs["dt_ms"] == 1.0
        assert f.attrs["steps"] == 4 * 250
        assert f.attrs["threads"] >= 1
        assert f.attrs["schema_version"] == "1"
        assert f.attrs["spikesim_version"]
        assert bool(f.attrs["complete"])
        config = tomllib.loads(f.attrs["config_toml"])
        assert config["simulation"]["seed"] == 11
        assert config["stimulus"]["images"] == 4
        sizes = {"input": 784, "hidden": 100}
        for layer, size in sizes.items():
            g = f[f"spikes/{layer}"]
            assert h5py.check_enum_dtype(g.attrs.get_id("sorting").dtype) == {"none": 0, "by_id": 1, "by_time": 2}
            assert g.attrs["sorting"] == 2  # by_time
            assert g.attrs["n_nodes"] == size
            t, ids = g["timestamps"][:], g["node_ids"][:]
            assert g["timestamps"].attrs["units"] == "ms"
            assert t.dtype == np.float64 and ids.dtype == np.uint64
            assert len(t) == len(ids) > 0
            # Sorted by time, within a step by node id; all ids in range; all times in the run.
            order = np.lexsort((ids, t))
            assert np.array_equal(order, np.arange(len(t)))
            assert ids.max() < size and t.min() >= 0 and t.max() < 1000
            # The inspect summary reports the same count.
            line = next(l for l in inspect.splitlines() if l.split()[:1] == [layer])
            assert line.split()[1:3] == [str(size), str(len(t))]
        assert f["report/hidden/voltage/data"].shape == (1000, 5)


def test_interrupted_run_opens_in_h5py(spikesim_bin, tmp_path):
    """SIGINT stops the run at the end of a step; the file holds every step
    done, marked incomplete with the reason."""
    import signal
    import subprocess
    import time

    from conftest import REPO

    out = tmp_path / "interrupted.h5"
    proc = subprocess.Popen(
        [spikesim_bin, "run", REPO / "experiments" / "seed-demo.toml", "--out", out,
         "--set", "stimulus.dataset=synthetic", "--set", "stimulus.images=4000", "--set", "record.block_steps=100"],
        stderr=subprocess.PIPE, text=True,
    )
    while not out.exists():
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    with h5py.File(out, "r") as f:
        assert not bool(f.attrs["complete"])
        done = int(f.attrs["steps_done"])
        assert 0 < done < int(f.attrs["steps"])
        assert "interrupted" in f.attrs["error"]
        assert f["report/hidden/voltage/data"].shape == (done, 5)
        assert f["spikes/hidden/timestamps"][-1] < done


def test_full_disk_keeps_a_readable_file(spikesim_bin, tmp_path):
    """A run whose file reaches the size limit (`ulimit -f`, which fails
    writes with EFBIG as a full disk fails them with ENOSPC) stops with one
    line saying so; the file opens in h5py, marked incomplete with steps_done
    and the error, and holds the same values as a run with room, up to
    steps_done."""
    import subprocess

    from conftest import REPO

    args = [REPO / "experiments" / "seed-demo.toml", "--set", "stimulus.dataset=synthetic"]
    full, out = tmp_path / "full.h5", tmp_path / "room.h5"
    limit_kib = 8192
    proc = subprocess.run(
        ["bash", "-c", f'ulimit -f {limit_kib} && exec "$0" "$@"', spikesim_bin, "run", *args, "--out", full],
        capture_output=True, text=True,
    )
    assert proc.returncode == 1, proc.stderr
    error = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert len(error) == 1 and "disk full" in error[0] and str(full) in error[0], proc.stderr
    subprocess.run([spikesim_bin, "run", *args, "--out", out], check=True, capture_output=True)
    assert full.stat().st_size <= limit_kib * 1024
    with h5py.File(full, "r") as f, h5py.File(out, "r") as g:
        assert not bool(f.attrs["complete"])
        done = int(f.attrs["steps_done"])
        assert 0 < done < int(f.attrs["steps"])
        assert f"keeps the first {done} steps" in error[0]
        assert "disk full" in f.attrs["error"]
        v = f["report/hidden/voltage/data"]
        assert v.shape[0] >= done
        np.testing.assert_array_equal(v[:done], g["report/hidden/voltage/data"][:done])
        t = f["spikes/hidden/timestamps"][:]
        kept = t < done * float(f.attrs["dt_ms"])
        np.testing.assert_array_equal(t[kept], g["spikes/hidden/timestamps"][: kept.sum()])


def test_a_run_in_progress_can_be_inspected(spikesim_bin, tmp_path):
    """`spikesim inspect` (and h5py with locking=False) reads a file a run is
    still writing, without HDF5's file lock: what the writer flushed last,
    consistent, growing from one look to the next."""
    import re
    import subprocess
    import time

    from conftest import REPO

    out = tmp_path / "live.h5"
    proc = subprocess.Popen(
        [spikesim_bin, "run", REPO / "tests" / "data" / "resume.toml", "--out", out,
         "--set", "stimulus.images=100000"],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        while not out.exists():
            time.sleep(0.05)
        frames = []
        for _ in range(12):
            time.sleep(0.5)
            r = subprocess.run([spikesim_bin, "inspect", out], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            assert "complete: no (interrupted, or still being written)" in r.stdout
            frames.append(int(re.search(r"exc\s+voltage\s+30\s+(\d+)", r.stdout).group(1)))
            with h5py.File(out, "r", locking=False) as f:
                assert f["report/exc/voltage/data"].shape[1] == 30
        assert proc.poll() is None, "the run ended before the last look"
        assert frames == sorted(frames) and frames[-1] > frames[0], frames
    finally:
        proc.kill()
        proc.communicate()
