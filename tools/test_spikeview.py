"""tools/spikeview.py drawn from real spikesim runs: the figures hold the file's data.

Each test renders a figure from a run of the repo's experiments and reads the
plotted artists back (found by their gid), comparing them with what h5py
reads from the same file. The figures of a trained network (``fields``,
``confusion``) are drawn from small files built with h5py in that layout.
"""

import shutil
import subprocess
import sys
import tomllib

import h5py
import numpy as np
import pytest
from matplotlib.collections import EventCollection, LineCollection
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import StepPatch
from matplotlib.text import Text

from conftest import REPO

import spikeview

SPIKEVIEW = REPO / "tools" / "spikeview.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The seed demo on 4 synthetic images (1000 steps), with 5 ms population-rate
# bins of both layers; /samples is written for any run with a stimulus.
DEMO_FLAGS = (
    "--set", "stimulus.dataset=synthetic",
    "--set", "stimulus.images=4",
    "--set", 'record.rates.layers="all"',
    "--set", "record.rates.bin_ms=5",
)
# The same with a weight snapshot after every image (initial + 4 + final).
WEIGHT_FLAGS = DEMO_FLAGS + ("--set", 'record.weights=[{projection = "input_hidden", every_samples = 1}]')


@pytest.fixture(scope="module")
def demo(run_experiment):
    return run_experiment("seed-demo", *DEMO_FLAGS)[0]


@pytest.fixture(scope="module")
def single(run_experiment):
    return run_experiment("single-neuron")[0]


@pytest.fixture(scope="module")
def with_weights(run_experiment):
    return run_experiment("seed-demo", *WEIGHT_FLAGS)[0]


@pytest.fixture(scope="module")
def izh(run_experiment):
    return run_experiment("izhikevich")[0]


@pytest.fixture(scope="module")
def adex(run_experiment):
    return run_experiment("adex")[0]


# The eight layers of experiments/adex.toml (Naud et al. 2008's patterns), in config order.
ADEX_LAYERS = ["tonic", "adapting", "initial_burst", "regular_bursting", "delayed_accelerating",
               "delayed_regular_bursting", "transient", "irregular"]


def artists(ax, kind, gid):
    found = [a for a in ax.get_children() if isinstance(a, kind) and a.get_gid() == gid]
    return found


def one(ax, kind, gid):
    found = artists(ax, kind, gid)
    assert len(found) == 1, f"expected one {kind.__name__} with gid {gid!r}, found {len(found)}"
    return found[0]


def cli(*args):
    return subprocess.run([sys.executable, SPIKEVIEW, *map(str, args)], capture_output=True, text=True)


# ---------------------------------------------------------------- raster


@pytest.mark.parametrize("window", [(None, None), (100.0, 600.0), (0.0, 250.0)])
def test_raster_plots_every_spike_of_the_window(demo, window):
    start, stop = window
    fig = spikeview.raster(demo, start_ms=start, stop_ms=stop)
    axes = fig.axes
    with h5py.File(demo, "r") as f:
        # Default: every layer, in config order; window = the whole run.
        assert [ax.get_ylabel().split("\n")[0] for ax in axes] == ["input", "hidden"]
        lo = 0.0 if start is None else start
        hi = f.attrs["steps"] * f.attrs["dt_ms"] if stop is None else stop
        for ax, layer in zip(axes, ["input", "hidden"]):
            t = f[f"spikes/{layer}/timestamps"][:]
            ids = f[f"spikes/{layer}/node_ids"][:]
            keep = (t >= lo) & (t < hi)
            assert 0 < keep.sum() < len(t) or window == (None, None)
            line = one(ax, Line2D, "spikes")
            np.testing.assert_array_equal(line.get_xdata(), t[keep])
            np.testing.assert_array_equal(line.get_ydata(), ids[keep])
            assert ax.get_xlim() == (lo, hi)
            n = f[f"spikes/{layer}"].attrs["n_nodes"]
            assert ax.get_ylim() == (-0.5, n - 0.5)
        assert axes[-1].get_xlabel() == "time (ms)"


def test_raster_of_the_first_image_of_the_input_layer(demo):
    fig = spikeview.raster(demo, layers=["input"], stop_ms=250)
    (ax,) = fig.axes
    with h5py.File(demo, "r") as f:
        t = f["spikes/input/timestamps"][:]
        assert len(one(ax, Line2D, "spikes").get_xdata()) == np.count_nonzero(t < 250)
        # The 4 images start at 0, 250, 500, 750 ms: no onset line falls inside (0, 250).
        assert artists(ax, Line2D, "onset") == []
    assert ax.get_xlim() == (0.0, 250.0)


def test_raster_marks_sample_onsets(demo):
    fig = spikeview.raster(demo, layers=["hidden"])
    (ax,) = fig.axes
    onsets = [line.get_xdata()[0] for line in artists(ax, Line2D, "onset")]
    with h5py.File(demo, "r") as f:
        np.testing.assert_array_equal(onsets, f["samples/start_ms"][1:])


# ---------------------------------------------------------------- neuron


def test_neuron_figure_holds_the_traces_and_spikes(single):
    fig = spikeview.neuron(single, "neuron", 0)
    ax_j, ax_v, ax_s = fig.axes
    with h5py.File(single, "r") as f:
        frames = f["report/neuron/voltage/data"].shape[0]
        times = np.arange(frames) * f.attrs["dt_ms"]
        for ax, var in [(ax_j, "current"), (ax_v, "voltage"), (ax_v, "threshold")]:
            line = one(ax, Line2D, var)
            np.testing.assert_array_equal(line.get_ydata(), f[f"report/neuron/{var}/data"][:, 0])
            np.testing.assert_array_equal(line.get_xdata(), times)
        spikes = f["spikes/neuron/timestamps"][:]
        assert len(spikes) >= 3
    ticks = one(ax_s, EventCollection, "spikes")
    np.testing.assert_array_equal(np.sort(ticks.get_positions()), spikes)
    assert ax_s.get_xlim() == (0.0, 200.0)
    # The three panels share the time axis.
    assert ax_j.get_shared_x_axes().joined(ax_j, ax_s) and ax_v.get_shared_x_axes().joined(ax_v, ax_s)
    assert ax_j.get_ylabel() == "current (nA)" and ax_v.get_ylabel() == "voltage (mV)"
    assert ax_s.get_xlabel() == "time (ms)"


def test_neuron_picks_the_column_of_the_node(demo):
    fig = spikeview.neuron(demo, "hidden", 3)
    _, ax_v, ax_s = fig.axes
    with h5py.File(demo, "r") as f:
        column = list(f["report/hidden/voltage/mapping/node_ids"][:]).index(3)
        np.testing.assert_array_equal(one(ax_v, Line2D, "voltage").get_ydata(),
                                      f["report/hidden/voltage/data"][:, column])
        np.testing.assert_array_equal(one(ax_v, Line2D, "threshold").get_ydata(),
                                      f["report/hidden/threshold/data"][:, column])
        t, ids = f["spikes/hidden/timestamps"][:], f["spikes/hidden/node_ids"][:]
    np.testing.assert_array_equal(np.sort(one(ax_s, EventCollection, "spikes").get_positions()), t[ids == 3])


def test_neuron_with_a_strided_windowed_trace(run_experiment):
    path, _ = run_experiment(
        "seed-demo", "--set", "stimulus.dataset=synthetic", "--set", "stimulus.images=2",
        "--set", 'record.traces=[{layer = "hidden", vars = ["voltage", "current", "input"], neurons = [7, 2], '
                 'every = 3, start_ms = 30.0, stop_ms = 300.0}]',
    )
    fig = spikeview.neuron(path, "hidden", 2)
    ax_j, ax_v, ax_s = fig.axes
    with h5py.File(path, "r") as f:
        start, stop, step = f["report/hidden/voltage/mapping/time"][:]
        assert (start, step) == (30.0, 3.0)
        times = start + np.arange(f["report/hidden/voltage/data"].shape[0]) * step
        for ax, var in [(ax_j, "current"), (ax_j, "input"), (ax_v, "voltage")]:
            line = one(ax, Line2D, var)
            np.testing.assert_array_equal(line.get_xdata(), times)
            np.testing.assert_array_equal(line.get_ydata(), f[f"report/hidden/{var}/data"][:, 1])
        # No threshold trace: the config's sigma, over the trace window.
        np.testing.assert_array_equal(one(ax_v, Line2D, "threshold").get_xdata(), [start, stop])
        t, ids = f["spikes/hidden/timestamps"][:], f["spikes/hidden/node_ids"][:]
    in_window = t[(ids == 2) & (t >= start) & (t < stop)]
    np.testing.assert_array_equal(np.sort(one(ax_s, EventCollection, "spikes").get_positions()), in_window)
    assert ax_s.get_xlim() == (start, stop)


def test_neuron_threshold_falls_back_to_sigma_of_the_config(run_experiment):
    path, _ = run_experiment(
        "single-neuron", "--set", 'record.traces=[{layer = "neuron", vars = ["voltage", "current"], neurons = [0]}]'
    )
    fig = spikeview.neuron(path, "neuron", 0)
    line = one(fig.axes[1], Line2D, "threshold")
    with h5py.File(path, "r") as f:
        assert "report/neuron/threshold" not in f
        sigma = tomllib.loads(f.attrs["config_toml"])["layers"]["neuron"]["sigma"]
    np.testing.assert_array_equal(line.get_ydata(), [sigma, sigma])
    np.testing.assert_array_equal(line.get_xdata(), [0.0, 200.0])


def test_neuron_of_an_izhikevich_layer_draws_u_and_v_peak(izh):
    # Only voltage and u are traced: u takes the top panel, the threshold is
    # the spike cutoff v_peak (default 30 mV), the spikes are the file's.
    fig = spikeview.neuron(izh, "fs", 0)
    ax_u, ax_v, ax_s = fig.axes
    with h5py.File(izh, "r") as f:
        for ax, var in [(ax_u, "u"), (ax_v, "voltage")]:
            np.testing.assert_array_equal(one(ax, Line2D, var).get_ydata(), f[f"report/fs/{var}/data"][:, 0])
        spikes = f["spikes/fs/timestamps"][:]
    np.testing.assert_array_equal(one(ax_v, Line2D, "v_peak").get_ydata(), [30.0, 30.0])
    np.testing.assert_array_equal(np.sort(one(ax_s, EventCollection, "spikes").get_positions()), spikes)
    assert ax_u.get_ylabel() == "u (mV)" and not [t for t in ax_u.texts if "not recorded" in t.get_text()]


def test_neurons_one_row_per_layer(izh):
    # Five rows, each with its voltage, u on its own axis, and a stroke per
    # spike from the recorded voltage at that step (c, after the reset) up to v_peak.
    layers = ["rs", "ib", "ch", "fs", "lts"]
    fig = spikeview.neurons(izh, layers, 0)
    rows = [ax for ax in fig.axes if artists(ax, Line2D, "voltage")]
    twins = [ax for ax in fig.axes if artists(ax, Line2D, "u")]
    assert len(rows) == len(twins) == 5
    with h5py.File(izh, "r") as f:
        config = tomllib.loads(f.attrs["config_toml"])
        for ax, twin, layer in zip(rows, twins, layers):
            v = f[f"report/{layer}/voltage/data"][:, 0]
            np.testing.assert_array_equal(one(ax, Line2D, "voltage").get_ydata(), v)
            np.testing.assert_array_equal(one(twin, Line2D, "u").get_ydata(), f[f"report/{layer}/u/data"][:, 0])
            t = f[f"spikes/{layer}/timestamps"][:]
            segments = one(ax, LineCollection, "spikes").get_segments()
            np.testing.assert_array_equal([s[0, 0] for s in segments], t)
            c = config["layers"][layer]["c"]
            assert all(s[0, 1] == c and s[1, 1] == 30.0 for s in segments)
            assert ax.get_title(loc="left").startswith(f"{layer}, node 0: {len(t)} spikes")
    assert rows[0].get_shared_x_axes().joined(rows[0], rows[-1])


def test_neuron_of_an_adex_layer_draws_w_v_peak_and_v_t(adex):
    # Voltage and w are traced: w (nA) takes the top panel, the voltage panel
    # has the config's spike cutoff v_peak_mv (0 mV) and V_T (v_t_mv) dashed.
    fig = spikeview.neuron(adex, "adapting", 0)
    ax_w, ax_v, ax_s = fig.axes
    with h5py.File(adex, "r") as f:
        frames = f["report/adapting/voltage/data"].shape[0]
        times = np.arange(frames) * f.attrs["dt_ms"]
        for ax, var in [(ax_w, "w"), (ax_v, "voltage")]:
            line = one(ax, Line2D, var)
            np.testing.assert_array_equal(line.get_ydata(), f[f"report/adapting/{var}/data"][:, 0])
            np.testing.assert_array_equal(line.get_xdata(), times)
        params = tomllib.loads(f.attrs["config_toml"])["layers"]["adapting"]
        spikes = f["spikes/adapting/timestamps"][:]
    assert len(spikes) == 10  # adaptation: ten spikes, ever further apart
    for gid, key in [("v_peak", "v_peak_mv"), ("v_t", "v_t_mv")]:
        line = one(ax_v, Line2D, gid)
        np.testing.assert_array_equal(line.get_ydata(), [params[key]] * 2)
        np.testing.assert_array_equal(line.get_xdata(), [0.0, frames * 0.1])
        assert line.get_linestyle() == "--"
    assert not artists(ax_v, Line2D, "threshold")
    np.testing.assert_array_equal(np.sort(one(ax_s, EventCollection, "spikes").get_positions()), spikes)
    assert ax_w.get_ylabel() == "w (nA)" and not [t for t in ax_w.texts if "not recorded" in t.get_text()]
    assert not artists(ax_w, Line2D, "u")


def test_neurons_one_row_per_adex_layer(adex):
    # Eight rows, each with its voltage, V_T dashed, w on its own axis, and a
    # stroke per spike from the recorded voltage at that step (V_r, after the
    # reset) up to v_peak.
    fig = spikeview.neurons(adex, ADEX_LAYERS, 0)
    rows = [ax for ax in fig.axes if artists(ax, Line2D, "voltage")]
    twins = [ax for ax in fig.axes if artists(ax, Line2D, "w")]
    assert len(rows) == len(twins) == 8
    with h5py.File(adex, "r") as f:
        config = tomllib.loads(f.attrs["config_toml"])
        for ax, twin, layer in zip(rows, twins, ADEX_LAYERS):
            params = config["layers"][layer]
            np.testing.assert_array_equal(one(ax, Line2D, "voltage").get_ydata(),
                                          f[f"report/{layer}/voltage/data"][:, 0])
            np.testing.assert_array_equal(one(twin, Line2D, "w").get_ydata(), f[f"report/{layer}/w/data"][:, 0])
            assert twin.get_ylabel() == "w (nA)"
            np.testing.assert_array_equal(one(ax, Line2D, "v_t").get_ydata(), [params["v_t_mv"]] * 2)
            t = f[f"spikes/{layer}/timestamps"][:]
            assert len(t) >= 1
            segments = one(ax, LineCollection, "spikes").get_segments()
            np.testing.assert_array_equal([s[0, 0] for s in segments], t)
            assert all(np.isclose(s[0, 1], params["v_r_mv"]) and s[1, 1] == params["v_peak_mv"] for s in segments)
            # The step current's window is shaded.
            (band,) = [a for a in ax.patches if a.get_gid() == "step_current"]
            assert (band.get_x(), band.get_x() + band.get_width()) == (params["step_current"]["start_ms"],
                                                                       params["step_current"]["stop_ms"])
            spikes = "spike" if len(t) == 1 else "spikes"
            assert ax.get_title(loc="left").startswith(f"{layer}, node 0: {len(t)} {spikes}  a = ")
    assert rows[0].get_shared_x_axes().joined(rows[0], rows[-1])


def test_adex_v_peak_defaults_to_v_t_plus_five_delta_t(spikesim_bin, tmp_path):
    # Without v_peak_mv the cutoff is v_t_mv + 5·delta_t_mv (here -50 + 5·2 = -40 mV).
    text = (REPO / "experiments" / "adex.toml").read_text()
    config = tmp_path / "adex.toml"
    config.write_text("\n".join(line for line in text.splitlines() if not line.startswith("v_peak_mv")))
    out = tmp_path / "adex.h5"
    subprocess.run([spikesim_bin, "run", config, "--out", out], check=True, cwd=REPO, capture_output=True)
    np.testing.assert_array_equal(one(spikeview.neuron(out, "tonic", 0).axes[1], Line2D, "v_peak").get_ydata(),
                                  [-40.0, -40.0])
    (ax,) = [ax for ax in spikeview.neurons(out, ["tonic"], 0).axes if artists(ax, Line2D, "voltage")]
    segments = one(ax, LineCollection, "spikes").get_segments()
    assert len(segments) > 0 and all(s[1, 1] == -40.0 for s in segments)


def test_cli_neuron_with_several_layers(izh, tmp_path):
    out = tmp_path / "five.png"
    done = cli("neuron", izh, "--layer", "rs", "ib", "ch", "fs", "lts", "--node", "0", "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    done = cli("neuron", izh, "--layer", "rs", "nope", "--node", "0", "-o", out)
    assert done.returncode == 2 and "no voltage trace recorded for layer 'nope'" in done.stderr


def test_cli_neuron_with_the_eight_adex_layers(adex, tmp_path):
    out = tmp_path / "adex.png"
    done = cli("neuron", adex, "--layer", *ADEX_LAYERS, "--node", "0", "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out) and out.read_bytes()[:8] == PNG_MAGIC


# ---------------------------------------------------------------- rates


def test_rates_from_the_files_bins_and_histogram_of_every_neuron(demo):
    fig = spikeview.rates(demo)
    with h5py.File(demo, "r") as f:
        layers = ["input", "hidden"]
        assert len(fig.axes) == 2 * len(layers)  # a time course and a histogram per layer
        seconds = f.attrs["steps"] * f.attrs["dt_ms"] / 1000.0
        for row, layer in enumerate(layers):
            ax_t, ax_h = fig.axes[2 * row], fig.axes[2 * row + 1]
            g = f[f"rates/{layer}"]
            counts, n, bin_ms = g["counts"][:], int(g.attrs["n_nodes"]), float(g.attrs["bin_ms"])
            values, edges, _ = one(ax_t, StepPatch, "rate").get_data()
            assert len(values) == len(counts) == 1000 / 5
            np.testing.assert_allclose(values, counts / n / (bin_ms / 1000.0), rtol=1e-12)
            np.testing.assert_allclose(edges, np.arange(len(counts) + 1) * bin_ms)
            # Histogram of per-neuron rates: one entry per neuron, rates in Hz from the spikes.
            bars = [p for p in ax_h.patches]
            assert sum(p.get_height() for p in bars) == n
            per_neuron = np.bincount(f[f"spikes/{layer}/node_ids"][:], minlength=n) / seconds
            assert bars[-1].get_x() + bars[-1].get_width() >= per_neuron.max()
            assert ax_h.get_xlabel() == ("firing rate (Hz)" if row == len(layers) - 1 else "")
            assert "Hz" in ax_t.get_ylabel()


def test_rates_binned_from_spikes_when_the_bin_differs(demo):
    fig = spikeview.rates(demo, layers=["hidden"], bin_ms=20)
    ax_t, _ = fig.axes
    values, edges, _ = one(ax_t, StepPatch, "rate").get_data()
    with h5py.File(demo, "r") as f:
        t = f["spikes/hidden/timestamps"][:]
    expected, _ = np.histogram(t, bins=np.arange(0, 1001, 20))
    assert len(values) == 50
    np.testing.assert_allclose(values, expected / 100 / 0.020, rtol=1e-12)
    np.testing.assert_array_equal(edges, np.arange(0, 1001, 20))


def test_rates_without_a_rates_group(single):
    fig = spikeview.rates(single, bin_ms=10)
    values, _, _ = one(fig.axes[0], StepPatch, "rate").get_data()
    with h5py.File(single, "r") as f:
        assert len(f.get("rates", {})) == 0
        n_spikes = len(f["spikes/neuron/timestamps"])
    assert len(values) == 20
    assert values.sum() * 0.010 == pytest.approx(n_spikes)  # one neuron: Hz · bin = spikes


def test_spike_window_and_rates_only_layer(run_experiment):
    """Spikes of `input` recorded in [200, 600) ms only; `hidden` has binned rates but no spikes."""
    path, _ = run_experiment(
        "seed-demo", "--set", "stimulus.dataset=synthetic", "--set", "stimulus.images=4",
        "--set", 'record.spikes.layers=["input"]', "--set", "record.spikes.start_ms=200",
        "--set", "record.spikes.stop_ms=600", "--set", 'record.rates.layers=["hidden"]',
        "--set", "record.rates.bin_ms=25",
    )
    with h5py.File(path, "r") as f:
        assert list(f["spikes"]) == ["input"] and list(f["rates"]) == ["hidden"]
        t, ids = f["spikes/input/timestamps"][:], f["spikes/input/node_ids"][:]
        assert t.min() >= 200 and t.max() < 600
        hidden = f["rates/hidden/counts"][:]
    (ax,) = spikeview.raster(path).axes
    assert ax.get_xlim() == (200.0, 600.0)
    fig = spikeview.rates(path)
    (ax_in, ax_in_h), (ax_hid, ax_hid_h) = fig.axes[:2], fig.axes[2:]
    values, edges, _ = one(ax_in, StepPatch, "rate").get_data()
    np.testing.assert_array_equal(edges, np.arange(200, 601, 10))
    assert values.sum() * 0.010 * 784 == pytest.approx(len(t))
    # Per-neuron rates over the 400 ms window.
    per_neuron = np.bincount(ids, minlength=784) / 0.4
    counts, _ = np.histogram(per_neuron, bins=len(ax_in_h.patches), range=(0, per_neuron.max() * 1.0001))
    np.testing.assert_array_equal([p.get_height() for p in ax_in_h.patches], counts)
    values, edges, _ = one(ax_hid, StepPatch, "rate").get_data()
    np.testing.assert_allclose(values, hidden / 100 / 0.025)
    assert len(ax_hid_h.patches) == 0 and ax_hid.get_xlabel() == "time (ms)"
    with pytest.raises(spikeview.SpikeviewError, match="no recorded spikes"):
        spikeview.rates(path, layers=["hidden"], bin_ms=10)


# ---------------------------------------------------------------- weights


def test_weights_tiles_are_the_incoming_weights(with_weights):
    with h5py.File(with_weights, "r") as f:
        g = f["weights/input_hidden"]
        n_pre, n_post = int(g.attrs["n_pre"]), int(g.attrs["n_post"])
        n_snap = g["data"].shape[0]
        assert (n_pre, n_post) == (784, 100) and n_snap >= 2
        assert g["steps_done"][0] == 0 and g["steps_done"][-1] == 1000
        w = np.full((n_pre, n_post), np.nan, np.float32)
        pre, post = g["pre_ids"][:], g["post_ids"][:]
        for snapshot in (0, -1):
            w[pre, post] = g["data"][snapshot]
            fig = spikeview.weights(with_weights, "input_hidden", snapshot=snapshot)
            tiles = {a.get_label(): a for ax in fig.axes for a in artists(ax, AxesImage, "tile")}
            assert len(tiles) == n_post
            for i in range(n_post):
                np.testing.assert_array_equal(tiles[f"post {i}"].get_array(), w[:, i].reshape(28, 28))


def test_weights_shape_option(with_weights):
    fig = spikeview.weights(with_weights, "input_hidden", shape="56x14")
    tile = [a for ax in fig.axes for a in artists(ax, AxesImage, "tile")][0]
    assert tile.get_array().shape == (56, 14)
    with pytest.raises(spikeview.SpikeviewError, match="784 presynaptic"):
        spikeview.weights(with_weights, "input_hidden", shape="10x10")
    for args, message in [(["--shape", "28by28"], "--shape must look like ROWSxCOLS"),
                          (["--snapshot", "99"], "snapshot 99 out of range")]:
        done = cli("weights", with_weights, "--projection", "input_hidden", *args)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [done.stderr.strip()] and message in done.stderr


# ---------------------------------------------------------------- summary


def test_summary_counts_equal_h5py(demo):
    text = spikeview.summary(demo)
    lines = text.splitlines()
    with h5py.File(demo, "r") as f:
        seconds = f.attrs["steps"] * f.attrs["dt_ms"] / 1000.0
        for layer in ["input", "hidden"]:
            g = f[f"spikes/{layer}"]
            n, count = int(g.attrs["n_nodes"]), len(g["node_ids"])
            row = next(l.split() for l in lines if l.split()[:1] == [layer])
            assert row[1:4] == [str(n), str(count), f"{count / n / seconds:.2f}"]
        for var in ["voltage", "current", "threshold"]:
            frames, cols = f[f"report/hidden/{var}/data"].shape
            row = next(l.split() for l in lines if l.split()[:2] == ["hidden", var])
            assert row[2:4] == [str(cols), str(frames)]
        i = lines.index("rates (2)")
        for layer, line in zip(["input", "hidden"], lines[i + 2 : i + 4]):
            counts = f[f"rates/{layer}/counts"][:]
            assert line.split()[:4] == [layer, "5", str(len(counts)), str(counts.sum())]
        assert f"samples ({len(f['samples/label'])})" in lines
        assert "complete      yes (1000 of 1000 steps)" in lines
        # The config section is the config TOML, indented.
        config = "\n".join(l[2:] for l in lines[lines.index("config") + 1 :])
        assert tomllib.loads(config) == tomllib.loads(f.attrs["config_toml"])


def test_summary_of_an_incomplete_file(demo, tmp_path):
    broken = tmp_path / "broken.h5"
    shutil.copy(demo, broken)
    with h5py.File(broken, "r+") as f:
        f.attrs["complete"] = np.uint8(0)
        f.attrs["steps_done"] = np.uint64(400)
        f.attrs["error"] = "interrupted (SIGINT)"
    text = spikeview.summary(broken)
    assert "complete      NO: 400 of 1000 steps written; error: interrupted (SIGINT)" in text
    assert "duration_ms   400" in text


# ---------------------------------------------------------------- command line


@pytest.mark.parametrize(
    "args",
    [
        ["raster"],
        ["raster", "--layers", "input", "--stop-ms", "250"],
        ["neuron", "--layer", "hidden", "--node", "0"],
        ["rates", "--bin-ms", "10"],
    ],
)
def test_cli_writes_a_png_and_prints_its_path(demo, tmp_path, args):
    out = tmp_path / "figure.png"
    done = cli(args[0], demo, *args[1:], "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_cli_weights_png(with_weights, tmp_path):
    out = tmp_path / "w.png"
    done = cli("weights", with_weights, "--projection", "input_hidden", "-o", out)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC


def test_cli_default_output_beside_the_input(single, tmp_path):
    run = tmp_path / "one.h5"
    shutil.copy(single, run)
    done = cli("neuron", run, "--layer", "neuron", "--node", "0")
    assert done.returncode == 0, done.stderr
    expected = tmp_path / "one-neuron.png"
    assert done.stdout.strip() == str(expected)
    assert expected.read_bytes()[:8] == PNG_MAGIC


def test_cli_summary_prints_text(demo):
    done = cli("summary", demo)
    assert done.returncode == 0, done.stderr
    assert done.stdout == spikeview.summary(demo)


@pytest.mark.parametrize(
    "args, message",
    [
        (["raster", "{missing}"], "no such file"),
        (["raster", "{text}"], "not a readable HDF5 file"),
        (["raster", "{demo}", "--layers", "output"], "unknown layer 'output'"),
        (["raster", "{demo}", "--start-ms", "500", "--stop-ms", "100"], "empty time window"),
        (["neuron", "{demo}", "--layer", "hidden", "--node", "42"], "node 42 of layer 'hidden' has no voltage trace"),
        (["neuron", "{demo}", "--layer", "hidden", "--node", "100"], "node 100 out of range"),
        (["neuron", "{demo}", "--layer", "input", "--node", "0"], "no voltage trace recorded for layer 'input'"),
        (["neuron", "{demo}", "--layer", "nope", "--node", "0"], "unknown layer 'nope'"),
        (["rates", "{demo}", "--bin-ms", "0"], "--bin-ms must be positive"),
        (["weights", "{demo}", "--projection", "nope"], "unknown projection 'nope'"),
        (["neuron", "{demo}", "--layer", "hidden"], "--node"),
        (["frobnicate", "{demo}"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(demo, tmp_path, args, message):
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5\n")
    args = [a.format(missing=tmp_path / "missing.h5", text=text, demo=demo) for a in args]
    done = cli(*args, "-o", tmp_path / "x.png") if args[0] != "frobnicate" else cli(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    if message:
        assert message in lines[0]
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------- a trained network (fields, confusion)
#
# Files built with h5py in the layout a trained run writes (src/record/checkpoint.rs):
# /state/weights/<projection> float32 [n_pre·n_post] (dense: pre j -> post i at j·n_post + i)
# with attrs pre, post, n_pre, n_post (+ rows, cols for image input), /state/theta/<layer>,
# /results/assignments/<layer> int32, /results/evaluate/{confusion uint32 [k, k], accuracy f64 scalar}.

ROWS, COLS, N_POST = 3, 4, 5
ASSIGNED = np.array([3, -1, 0, 9, 3], np.int32)
# 10 classes, 30 samples per class; row = true class, column = predicted.
CONFUSION = (np.diag(np.arange(20, 30)) + np.roll(np.diag(30 - np.arange(20, 30)), 1, axis=1)).astype(np.uint32)


def trained_run(path, *, assignments=True, image_projections=("input_exc",), confusion=CONFUSION,
                accuracy=True):
    """A complete spikesim file of 0.5 ms × 100 steps holding a trained network's state:
    input (3×4 image, 12 pixels) -> exc (5), exc -> inh (5, no image shape); weights
    w[j·n_post + i] = j + i / 10 so every (pre, post) pair is recognisable."""
    n_pre = ROWS * COLS
    with h5py.File(path, "w") as f:
        for key, value in {
            "spikesim_version": "0.1.0-test", "schema_version": "1", "seed": np.uint64(1),
            "dt_ms": 0.5, "steps": np.uint64(100), "steps_done": np.uint64(100), "threads": np.uint64(1),
            "config_toml": "", "created_utc": "2026-01-01T00:00:00Z", "complete": np.uint8(1),
        }.items():
            f.attrs[key] = value
        for group in ("spikes", "report", "rates", "weights"):
            f.create_group(group)
        j, i = np.meshgrid(np.arange(n_pre), np.arange(N_POST), indexing="ij")
        for name in image_projections:
            ds = f.create_dataset(f"state/weights/{name}", data=(j + i / 10).reshape(-1).astype(np.float32))
            ds.attrs.update(pre="input", post="exc", n_pre=np.uint64(n_pre), n_post=np.uint64(N_POST),
                            rows=np.uint64(ROWS), cols=np.uint64(COLS))
        ds = f.create_dataset("state/weights/exc_inh", data=np.full(N_POST * N_POST, 10.4, np.float32))
        ds.attrs.update(pre="exc", post="inh", n_pre=np.uint64(N_POST), n_post=np.uint64(N_POST))
        f.create_dataset("state/theta/exc", data=np.linspace(0, 1, N_POST, dtype=np.float32))
        if assignments:
            f.create_dataset("results/assignments/exc", data=ASSIGNED)
        if confusion is not None:
            f.create_dataset("results/evaluate/confusion", data=confusion)
            if accuracy:
                f.create_dataset("results/evaluate/accuracy",
                                 data=float(np.trace(confusion)) / float(confusion.sum()))
    return path


def texts(ax, gid):
    return [t for t in ax.texts if isinstance(t, Text) and t.get_gid() == gid]


def test_fields_are_the_dense_incoming_weights_titled_with_the_classes(tmp_path):
    path = trained_run(tmp_path / "trained.h5")
    fig = spikeview.fields(path)
    ax = fig.axes[0]
    tiles = {a.get_label(): a for a in artists(ax, AxesImage, "field")}
    assert len(tiles) == N_POST
    with h5py.File(path, "r") as f:
        w = f["state/weights/input_exc"][()]
    for i in range(N_POST):
        # Pixel (r, c) is pre j = r·COLS + c, whose weight to post i is w[j·N_POST + i] = j + i/10.
        expected = np.array([[w[(r * COLS + c) * N_POST + i] for c in range(COLS)] for r in range(ROWS)])
        np.testing.assert_array_equal(tiles[f"post {i}"].get_array(), expected)
        np.testing.assert_allclose(expected, np.arange(ROWS * COLS).reshape(ROWS, COLS) + i / 10, rtol=1e-6)
        assert tiles[f"post {i}"].get_cmap().name == "gray"
    titles = {t.get_label(): t.get_text() for t in texts(ax, "class")}
    assert titles == {f"post {i}": ("–" if c < 0 else str(c)) for i, c in enumerate(ASSIGNED)}
    # A near-square grid: 5 fields in 3 columns, 2 rows; each title sits above its image.
    x0 = sorted({tiles[f"post {i}"].get_extent()[0] for i in range(N_POST)})
    y0 = sorted({tiles[f"post {i}"].get_extent()[3] for i in range(N_POST)})
    assert (len(x0), len(y0)) == (3, 2)
    for i in range(N_POST):
        left, right, bottom, top = tiles[f"post {i}"].get_extent()
        tx, ty = next(t for t in texts(ax, "class") if t.get_label() == f"post {i}").get_position()
        assert left < tx < right and ty < top  # y grows downwards
    assert "input_exc (input → exc)" in fig._suptitle.get_text()


def test_fields_without_assignments_have_no_titles(tmp_path):
    path = trained_run(tmp_path / "trained.h5", assignments=False)
    fig = spikeview.fields(path, projection="input_exc")
    assert len(artists(fig.axes[0], AxesImage, "field")) == N_POST
    assert texts(fig.axes[0], "class") == []


@pytest.mark.parametrize(
    "images, projection, message",
    [
        ((), None, "none has rows/cols attributes; give --projection (has: exc_inh)"),
        (("a", "b"), None, "a, b have rows/cols attributes; give --projection"),
        (("input_exc",), "exc_inh", "/state/weights/exc_inh has no rows attribute (not an image-input"),
        (("input_exc",), "nope", "unknown projection 'nope' in /state/weights"),
    ],
)
def test_fields_projection_choice_errors(tmp_path, images, projection, message):
    path = trained_run(tmp_path / "trained.h5", image_projections=images)
    with pytest.raises(spikeview.SpikeviewError) as e:
        spikeview.fields(path, projection)
    assert message in str(e.value)


def test_fields_of_a_file_without_state_or_with_sparse_weights(tmp_path):
    path = trained_run(tmp_path / "bare.h5", image_projections=())
    with h5py.File(path, "r+") as f:
        del f["state"]
    with pytest.raises(spikeview.SpikeviewError, match="no final weights"):
        spikeview.fields(path)
    sparse = trained_run(tmp_path / "sparse.h5")
    with h5py.File(sparse, "r+") as f:
        attrs = dict(f["state/weights/input_exc"].attrs)
        del f["state/weights/input_exc"]
        f.create_dataset("state/weights/input_exc", data=np.zeros(7, np.float32)).attrs.update(attrs)
    with pytest.raises(spikeview.SpikeviewError, match="holds 7 weights, not the 12×5 of a dense projection"):
        spikeview.fields(sparse)


def test_confusion_heatmap_holds_the_matrix_and_its_counts(tmp_path):
    path = trained_run(tmp_path / "trained.h5")
    fig = spikeview.confusion(path)
    ax = fig.axes[0]
    image = one(ax, AxesImage, "confusion")
    np.testing.assert_array_equal(image.get_array(), CONFUSION)
    counts = {tuple(int(round(v)) for v in t.get_position()): t.get_text() for t in texts(ax, "count")}
    # Text at (x = predicted, y = true) shows m[true, predicted].
    assert counts == {(p, t): str(CONFUSION[t, p]) for t in range(10) for p in range(10)}
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    with h5py.File(path, "r") as f:
        accuracy = f["results/evaluate/accuracy"][()]
    assert isinstance(accuracy, np.floating)
    correct = int(np.trace(CONFUSION))
    assert ax.get_title() == f"accuracy {accuracy:.4f}: {correct} of 300 samples on the diagonal"
    assert accuracy == pytest.approx(245 / 300)


def test_confusion_of_k_classes_without_an_accuracy(tmp_path):
    m = np.array([[4, 1, 0], [0, 3, 2], [1, 0, 5]], np.uint32)
    path = trained_run(tmp_path / "three.h5", confusion=m, accuracy=False)
    ax = spikeview.confusion(path).axes[0]
    np.testing.assert_array_equal(one(ax, AxesImage, "confusion").get_array(), m)
    assert sorted(t.get_text() for t in texts(ax, "count")) == sorted(str(v) for v in m.ravel())
    assert ax.get_title() == f"accuracy {12 / 16:.4f} (from the matrix): 12 of 16 samples on the diagonal"
    assert list(ax.get_xticks()) == [0, 1, 2]


def test_cli_fields_and_confusion(tmp_path):
    path = trained_run(tmp_path / "trained.h5")
    for command in ("fields", "confusion"):
        done = cli(command, path)
        assert done.returncode == 0, done.stderr
        expected = tmp_path / f"trained-{command}.png"
        assert done.stdout.strip() == str(expected)
        assert expected.read_bytes()[:8] == PNG_MAGIC
    out = tmp_path / "f.png"
    done = cli("fields", path, "--projection", "input_exc", "--out", out)
    assert done.returncode == 0 and out.read_bytes()[:8] == PNG_MAGIC
    # Errors: one line, exit 2, no PNG.
    bare = trained_run(tmp_path / "bare.h5", confusion=None)
    for args, message in [(["confusion", bare], "has no /results/evaluate/confusion"),
                          (["fields", path, "--projection", "exc_inh"], "has no rows attribute")]:
        done = cli(*args, "-o", tmp_path / "x.png")
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.splitlines() == [done.stderr.strip()] and message in done.stderr
        assert not (tmp_path / "x.png").exists()


def test_fields_and_confusion_of_a_real_trained_run(run_experiment):
    """A real run of experiments/digits-stdp.toml (300 training images): the
    receptive fields are its final 64 -> 40 weights as 8×8 images, titled
    with its assignments; the confusion matrix and accuracy are its own."""
    path, inspect = run_experiment(
        "digits-stdp", "--set", "protocol.train.images=300", "--set", "protocol.assign.images=300",
        "--set", "protocol.evaluate.images=200")
    assert "results/evaluate/accuracy = " in inspect
    with h5py.File(path, "r") as f:
        w = f["state/weights/input_exc"][()].reshape(64, 40)
        assigned = f["results/assignments/exc"][()]
        confusion = f["results/evaluate/confusion"][()]
        labels = f["results/evaluate/labels"][()]
        predictions = f["results/evaluate/predictions"][()]
        accuracy = f["results/evaluate/accuracy"][()]
        assert f["state/weights/input_exc"].attrs["rows"] == 8
    # The file's results agree with each other.
    assert accuracy == np.mean(predictions == labels)
    assert np.trace(confusion) == np.sum(predictions == labels)
    fig = spikeview.fields(path)
    tiles = {a.get_label(): a for a in artists(fig.axes[0], AxesImage, "field")}
    assert len(tiles) == 40
    for i in (0, 17, 39):
        np.testing.assert_array_equal(tiles[f"post {i}"].get_array(), w[:, i].reshape(8, 8))
    titles = {t.get_label(): t.get_text() for t in texts(fig.axes[0], "class")}
    assert titles == {f"post {i}": ("–" if c < 0 else str(c)) for i, c in enumerate(assigned)}
    ax = spikeview.confusion(path).axes[0]
    np.testing.assert_array_equal(one(ax, AxesImage, "confusion").get_array(), confusion)
