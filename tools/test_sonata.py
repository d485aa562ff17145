"""spikesim's output read by SONATA and HDF5 tools: libsonata, h5ls, h5dump.

libsonata 0.2.2's wheel links a static HDF5 built without zlib, so it cannot
inflate deflate-compressed chunks ("required filter 'deflate' is not
registered"). spikesim therefore filters the datasets SONATA readers open
(`/spikes/*`, `/report/*/*/data`) only with HDF5's built-in filters, which every
build decodes: the spike `node_ids` with the lossless integer scale-offset
filter, the float `timestamps` and report `data` not at all. Deflate is kept for
the datasets only spikesim reads (`/rates`, `/samples`, `/weights`). The
libsonata checks read both the default file and one made with
`record.compress = false`, and compare them with what h5py reads;
`record.compress = "all"` (deflate everywhere, for users without libsonata)
is checked with h5py.

libsonata's report readers list `/report/<layer>` as populations and expect
`mapping` right under it; spikesim has one more level (`/report/<layer>/<var>`),
so they open a report by the population path `<layer>/<var>`.
"""

import os
import re
import subprocess

import h5py
import libsonata
import numpy as np
import pytest

DEMO_FLAGS = (
    "--set", "stimulus.dataset=synthetic",
    "--set", "stimulus.images=2",
    "--set", 'record.rates.layers="all"',
    "--set", "record.rates.bin_ms=5",
    "--set", 'record.traces=[{layer = "hidden", vars = ["voltage", "current", "threshold", "input"], '
             'neurons = [3, 1, 4], every = 2, start_ms = 10.0}]',
)
WEIGHT_FLAGS = DEMO_FLAGS + ("--set", 'record.weights=[{projection = "input_hidden", every_samples = 1}]')

# Datasets that hold ids, indices, labels or step numbers: no physical unit.
UNITLESS = {"node_ids", "index_pointers", "element_ids", "pre_ids", "post_ids", "steps_done", "index", "label"}


@pytest.fixture(scope="module")
def runs(run_experiment):
    """The seed demo (rates, samples, strided traces of 3 hidden neurons) and the single neuron."""
    raw = ("--set", "record.compress=false")
    return {
        "demo": run_experiment("seed-demo", *DEMO_FLAGS)[0],
        "single": run_experiment("single-neuron")[0],
        "demo-raw": run_experiment("seed-demo", *DEMO_FLAGS, *raw)[0],
        "single-raw": run_experiment("single-neuron", *raw)[0],
        "demo-all": run_experiment("seed-demo", *DEMO_FLAGS, "--set", 'record.compress="all"')[0],
    }


@pytest.fixture(scope="module")
def weights_run(run_experiment):
    return run_experiment("seed-demo", *WEIGHT_FLAGS)[0]


def filters(path, name):
    """The HDF5 filter names of dataset `name` of the file at `path`, in pipeline order."""
    with h5py.File(path, "r") as f:
        dcpl = f[name].id.get_create_plist()
        return [dcpl.get_filter(k)[3].decode() for k in range(dcpl.get_nfilters())]


# ---------------------------------------------------------------- spikes


@pytest.mark.parametrize("name", ["demo", "single", "demo-raw", "single-raw"])
def test_libsonata_spikes_equal_h5py(runs, name):
    path = runs[name]
    reader = libsonata.SpikeReader(str(path))
    with h5py.File(path, "r") as f:
        layers = sorted(f["spikes"].keys())
        assert sorted(reader.get_population_names()) == layers
        for layer in layers:
            population = reader[layer]
            assert population.sorting == "by_time"
            t = f[f"spikes/{layer}/timestamps"][:]
            ids = f[f"spikes/{layer}/node_ids"][:]
            pairs = population.get()
            assert len(pairs) == len(t) > 0
            assert pairs == list(zip(ids.tolist(), t.tolist()))
            by_column = population.get_dict()
            np.testing.assert_array_equal(by_column["node_ids"], ids)
            np.testing.assert_array_equal(by_column["timestamps"], t)
            # A time window and a node selection, as SONATA readers ask for them.
            window = population.get(node_ids=[0, 1, 2], tstart=20.0, tstop=120.0)
            keep = np.isin(ids, [0, 1, 2]) & (t >= 20.0) & (t <= 120.0)
            assert sorted(window) == sorted(zip(ids[keep].tolist(), t[keep].tolist()))


def test_libsonata_reads_the_compressed_file(runs):
    """The default (compressed) file opens in libsonata as it is, and holds the same values as the raw one."""
    path, raw = runs["demo"], runs["demo-raw"]
    # What is filtered, and how: built-in filters on what SONATA tools read, deflate elsewhere.
    assert filters(path, "spikes/hidden/node_ids") == ["scaleoffset"]
    assert filters(path, "spikes/hidden/timestamps") == []
    assert filters(path, "report/hidden/voltage/data") == []
    assert filters(path, "rates/hidden/counts") == ["deflate"]
    assert filters(path, "samples/counts/hidden") == ["deflate"]
    assert filters(raw, "spikes/hidden/node_ids") == filters(raw, "rates/hidden/counts") == []
    assert os.path.getsize(path) < os.path.getsize(raw)

    spikes = libsonata.SpikeReader(str(path))
    with h5py.File(path, "r") as f, h5py.File(raw, "r") as g:
        for layer in ("input", "hidden"):
            got = spikes[layer].get_dict()
            ids = g[f"spikes/{layer}/node_ids"][:]
            assert len(ids) > 0
            np.testing.assert_array_equal(got["node_ids"], ids)
            np.testing.assert_array_equal(got["timestamps"], g[f"spikes/{layer}/timestamps"][:])
            np.testing.assert_array_equal(f[f"spikes/{layer}/node_ids"][:], ids)
        # Lossless: the deflated datasets hold what the raw file holds, bit for bit.
        for name in ("rates/hidden/counts", "samples/counts/input", "samples/start_ms"):
            np.testing.assert_array_equal(f[name][:], g[name][:])
        population = libsonata.ElementReportReader(str(path))["hidden/voltage"]
        frame = population.get()
        data = g["report/hidden/voltage/data"][:]
        got = np.asarray(frame.data)
        assert got.shape == data.shape and data.size > 0
        ids = np.asarray(frame.ids)
        column_ids = ids[:, 0] if ids.ndim == 2 else ids
        for k, node in enumerate(g["report/hidden/voltage/mapping/node_ids"][:]):
            (j,) = np.nonzero(column_ids == node)
            assert np.array_equal(got[:, j[0]].view(np.uint32), data[:, k].view(np.uint32))


def test_compress_all_deflates_every_dataset_h5py_reads_the_same_values(runs):
    """`record.compress = "all"`, for users without libsonata: deflate on the spikes and traces too, same values."""
    path, raw = runs["demo-all"], runs["demo-raw"]
    for name in ("spikes/hidden/node_ids", "spikes/hidden/timestamps", "report/hidden/voltage/data",
                 "rates/hidden/counts"):
        assert filters(path, name) == ["deflate"], name
    assert os.path.getsize(path) < os.path.getsize(runs["demo"]) < os.path.getsize(raw)
    with h5py.File(path, "r") as f, h5py.File(raw, "r") as g:
        names = []
        g.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        assert len(names) > 10
        for name in names:
            np.testing.assert_array_equal(f[name][()], g[name][()], err_msg=name)


# ---------------------------------------------------------------- reports


def report_groups(f):
    return [f"report/{layer}/{var}" for layer in f["report"] for var in f[f"report/{layer}"]]


@pytest.mark.parametrize("name", ["demo", "single"])
def test_report_layout(runs, name):
    with h5py.File(runs[name], "r") as f:
        groups = report_groups(f)
        assert groups
        dt = float(f.attrs["dt_ms"])
        steps = int(f.attrs["steps"])
        for path in groups:
            g = f[path]
            data = g["data"]
            frames, n = data.shape
            assert data.dtype == np.float32 and frames > 0 and n > 0
            assert data.attrs["units"] in ("mV", "nA")
            node_ids = g["mapping/node_ids"][:]
            pointers = g["mapping/index_pointers"][:]
            elements = g["mapping/element_ids"][:]
            assert g["mapping/node_ids"].dtype == np.uint64 and len(node_ids) == n
            assert len(np.unique(node_ids)) == n
            assert g["mapping/index_pointers"].dtype == np.uint64 and len(pointers) == n + 1
            assert pointers[0] == 0 and np.all(np.diff(pointers.astype(np.int64)) == 1)  # one element per node
            assert g["mapping/element_ids"].dtype == np.uint32 and len(elements) == pointers[-1] == n
            assert not elements.any()
            time = g["mapping/time"]
            assert time.shape == (3,) and time.attrs["units"] == "ms"
            start, stop, step = time[:]
            assert step > 0 and step / dt == round(step / dt)
            assert (stop - start) / step == frames
            assert 0 <= start and stop <= steps * dt


@pytest.mark.parametrize("reader_class", [libsonata.ElementReportReader, libsonata.SomaReportReader])
@pytest.mark.parametrize("name", ["demo", "single", "demo-raw", "single-raw"])
def test_libsonata_report_readers_equal_h5py(runs, name, reader_class):
    path = runs[name]
    reader = reader_class(str(path))
    with h5py.File(path, "r") as f:
        assert sorted(reader.get_population_names()) == sorted(f["report"].keys())
        for group in report_groups(f):
            population = reader[group.removeprefix("report/")]
            g = f[group]
            start, stop, step = g["mapping/time"][:]
            assert population.times == (start, stop, step)
            assert population.time_units == "ms"
            assert population.data_units == g["data"].attrs["units"]
            node_ids = g["mapping/node_ids"][:]
            assert population.get_node_ids() == node_ids.tolist()  # file order, as recorded
            frame = population.get()
            data = g["data"][:]
            np.testing.assert_array_equal(frame.times, start + np.arange(data.shape[0]) * step)
            got = np.asarray(frame.data)
            assert got.shape == data.shape
            # libsonata may order the columns by node id; compare column by column.
            ids = np.asarray(frame.ids)
            column_ids = ids[:, 0] if ids.ndim == 2 else ids
            for k, node in enumerate(node_ids):
                (j,) = np.nonzero(column_ids == node)
                np.testing.assert_array_equal(got[:, j[0]], data[:, k])
            # A node selection and a time window (libsonata's tstop is inclusive): frames 4..9.
            node = int(node_ids[-1])
            part = population.get(node_ids=[node], tstart=start + 4 * step, tstop=start + 9 * step)
            np.testing.assert_array_equal(part.times, start + np.arange(4, 10) * step)
            np.testing.assert_array_equal(np.asarray(part.data)[:, 0], data[4:10, len(node_ids) - 1])


def test_libsonata_needs_the_var_level_in_the_population_name(runs):
    """`reader['hidden']` fails: our mapping lives one level down, under <var>."""
    reader = libsonata.ElementReportReader(str(runs["demo"]))
    with pytest.raises(RuntimeError, match="mapping"):
        reader["hidden"]


# ---------------------------------------------------------------- HDF5 command-line tools and units


def h5tool(*args):
    done = subprocess.run(list(map(str, args)), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert not re.search(r"h5\w+ error|HDF5-DIAG|unable to|not found", done.stdout, re.I), done.stdout
    return done.stdout


def check_units(path):
    """Every dataset but ids, indices and labels has a units attribute; times are in ms."""
    with h5py.File(path, "r") as f:
        datasets = []
        f.visititems(lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None)
        for name in datasets:
            leaf = name.rsplit("/", 1)[-1]
            units = f[name].attrs.get("units")
            if leaf in UNITLESS:
                continue
            assert units, f"{name} has no units attribute"
            if leaf in ("timestamps", "time", "time_ms", "start_ms"):
                assert units == "ms", f"{name}: units {units!r}"
        return datasets


@pytest.mark.parametrize("name", ["demo", "single"])
def test_h5ls_h5dump_and_units(runs, name):
    path = runs[name]
    listing = h5tool("h5ls", "-r", path)
    header = h5tool("h5dump", "-H", path)
    datasets = check_units(path)
    for ds in datasets:
        assert re.search(rf"^/{re.escape(ds)}\s+Dataset", listing, re.M), ds
        assert f'DATASET "{ds.rsplit("/", 1)[-1]}"' in header
    expected = {"spikes/input/timestamps", "report/hidden/voltage/data", "rates/hidden/counts",
                "samples/start_ms", "samples/counts/hidden"} if name == "demo" else \
        {"spikes/neuron/timestamps", "report/neuron/voltage/data"}
    assert expected <= set(datasets)


def test_h5ls_h5dump_and_units_with_weights(weights_run):
    h5tool("h5ls", "-r", weights_run)
    h5tool("h5dump", "-H", weights_run)
    datasets = check_units(weights_run)
    assert {"weights/input_hidden/data", "weights/input_hidden/time_ms"} <= set(datasets)
