"""Tests of tools/bench/compare.py on fixed RESULT lines.

The peer lines below were printed by the peer scripts of shared/peers (numpy, Brian2 2.9.0,
ngclearn 3.2.1, NEST 3.10.0) at tiny sizes (W1: N=100/400, 2 images = 500 steps; W2: N=4000,
200 steps), and the limit lines by `limit --threads 1 --quick`. The spikesim lines are made up
in the format of `spikesim bench`. Nothing here needs the peers venv or a real spikesim: the
end-to-end tests run compare.main() against small stand-in executables.
"""

import csv
import json
import math
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare  # noqa: E402

NUMPY_W1_100 = """\
RESULT tool=numpy workload=W1 neurons=100 wall_s=0.0201 steps=500 spikes_in=37631 spikes_out=914 syn_events=3763100 threads=1 rate_hz=18.28 rep=0
RESULT tool=numpy workload=W1 neurons=100 wall_s=0.0169 steps=500 spikes_in=37631 spikes_out=914 syn_events=3763100 threads=1 rate_hz=18.28 rep=1
RESULT tool=numpy workload=W1 neurons=100 wall_s=0.0225 steps=500 spikes_in=37631 spikes_out=914 syn_events=3763100 threads=1 rate_hz=18.28 rep=2
"""
NUMPY_W1_400 = """\
RESULT tool=numpy workload=W1 neurons=400 wall_s=0.0461 steps=500 spikes_in=37631 spikes_out=3645 syn_events=15052400 threads=1 rate_hz=18.23 rep=0
RESULT tool=numpy workload=W1 neurons=400 wall_s=0.0411 steps=500 spikes_in=37631 spikes_out=3645 syn_events=15052400 threads=1 rate_hz=18.23 rep=1
"""
B2RT_W1_100 = "RESULT tool=brian2_runtime workload=W1 neurons=100 wall_s=0.3739 steps=500 spikes_in=37699 spikes_out=919 syn_events=3769900 threads=1 rate_hz=18.38 setup_s=50.51 rep=0 version=2.9.0\n"
B2SA_W1_100 = "RESULT tool=brian2_standalone workload=W1 neurons=100 wall_s=0.0139 steps=500 spikes_in=37699 spikes_out=919 syn_events=3769900 threads=1 rate_hz=18.38 build_s=23.97 binary_s=0.04556 rep=0 version=2.9.0\n"
NGC_W1_100 = "RESULT tool=ngclearn workload=W1 neurons=100 wall_s=0.0160 steps=500 spikes_in=37797 spikes_out=940 syn_events=3779700 threads=1 rate_hz=18.8 compile_s=2.302 setup_s=4.133 rep=0 version=3.2.1 jax=0.10.2\n"
# nest_w1.py: one timed run per process, every process prints rep=0
NEST_W1_100_A = "RESULT tool=nest workload=W1 neurons=100 wall_s=0.1069 steps=500 spikes_in=37631 spikes_out=896 syn_events=3763100 threads=1 rate_hz=17.92 setup_s=0.286 rep=0 version=3.10.0 nthreads_kernel=1\n"
NEST_W1_100_B = "RESULT tool=nest workload=W1 neurons=100 wall_s=0.1112 steps=500 spikes_in=37631 spikes_out=896 syn_events=3763100 threads=1 rate_hz=17.92 setup_s=0.2317 rep=0 version=3.10.0 nthreads_kernel=1\n"
B2SA_W2 = "RESULT tool=brian2_standalone workload=W2 neurons=4000 wall_s=0.0144 steps=200 spikes_in=0 spikes_out=653 syn_events=52351 threads=1 rate_hz=8.162 wall_per_bio_s=0.7219 syn_ev_per_s=3.626e+06 rep=0 version=2.9.0 build_s=21.01 binary_s=0.07121\n"
B2RT_W2 = "RESULT tool=brian2_runtime workload=W2 neurons=4000 wall_s=0.2999 steps=200 spikes_in=0 spikes_out=653 syn_events=52351 threads=1 rate_hz=8.162 wall_per_bio_s=14.99 syn_ev_per_s=1.746e+05 rep=0 version=2.9.0 setup_s=45.57\n"
NEST_W2 = """\
/work/main/.venv-peers/lib/python3.11/site-packages/nest/lib/hl_api_helper.py:111: UserWarning:
Provided for backward compatibility only. Set `nest.verbosity = nest.VerbosityLevel.XYZ` instead.
RESULT tool=nest workload=W2 neurons=4000 wall_s=0.0235 steps=200 spikes_in=0 spikes_out=676 syn_events=54080 threads=1 rate_hz=8.45 wall_per_bio_s=1.176 syn_ev_per_s=2.299e+06 setup_s=0.4157 rep=0 version=3.10.0
"""
LIMIT_T1 = """\
RESULT tool=limit kernel=stream_triad threads=1 elements=8388608 best_s=0.010560 bytes_per_s=1.9065e+10 GBps=19.06 check=3.5
RESULT tool=limit kernel=rowadd neurons=100 threads=1 steps=13333 spikes_per_step=75 events=99997500 wall_s=0.016670 events_per_s=5.9987e+09 check=3382.804
RESULT tool=limit kernel=rowadd neurons=400 threads=1 steps=3333 spikes_per_step=75 events=99990000 wall_s=0.013947 events_per_s=7.1692e+09 check=13507.953
RESULT tool=limit kernel=rowadd neurons=1600 threads=1 steps=833 spikes_per_step=75 events=99960000 wall_s=0.012479 events_per_s=8.0105e+09 check=53997.019
RESULT tool=limit kernel=rowadd neurons=6400 threads=1 steps=208 spikes_per_step=75 events=99840000 wall_s=0.026270 events_per_s=3.8005e+09 check=215947.779
RESULT tool=limit kernel=scatter targets=262144 threads=1 events=16777216 best_s=0.033394 events_per_s=5.0240e+08 check=8387663.6
"""
# made up, in the format of `spikesim bench` (threads=1 and threads=2)
SPIKESIM_W1_100 = """\
RESULT tool=spikesim workload=W1 neurons=100 wall_s=0.0100 steps=500 spikes_in=37631 spikes_out=900 syn_events=3763100 threads=1 setup_s=0.05
RESULT tool=spikesim workload=W1 neurons=100 wall_s=0.0120 steps=500 spikes_in=37631 spikes_out=900 syn_events=3763100 threads=2 setup_s=0.05
"""

# W3 and W4, in the format of nest_microcircuit.py / nest_brunel.py and `spikesim bench w3|w4`
# (their per-population keys shortened); W2 in the format of annarchy_w2.py
NEST_W3 = ("RESULT tool=nest workload=microcircuit neurons=7717 wall_s=4.2000 steps=10000 spikes_in=0 "
           "spikes_out=24695 syn_events=74000000 ext_events=1300000 scale=0.1 k_scale=0.1 threads=1 "
           "n_neurons=7717 n_synapses=2988809 input=poisson wall_per_bio_s=4.2 setup_s=1.9 presim_s=0.42 "
           "presim_ms=100 rss_mb=900 rss_setup_mb=850 syn_models=1 record_frac=1 rep=0 seed=1 "
           "version=3.10.0 rate_hz=3.2 cv_isi=0.9 rate_L23E=0.97 sd_L23E=1.1 cv_L23E=0.9\n")
SPIKESIM_W3 = ("RESULT tool=spikesim workload=microcircuit neurons=7717 wall_s=2.1000 steps=10000 "
               "spikes_in=0 spikes_out=25467 syn_events=76000000 threads=2 setup_s=0.8 rss_mb=300 "
               "scale=0.1 k_scale=0.1 n_synapses=2988809 ext_events=1300000 wall_per_bio_s=2.1 "
               "presim_s=0.2 presim_ms=100 seed=1 rate_hz=3.3 rate_L23E=1.0\n")
NEST_W4_AI = ("RESULT tool=nest workload=brunel neurons=12500 wall_s=6.0000 steps=10000 spikes_in=0 "
              "spikes_out=450000 syn_events=562500000 state=AI g=5 eta=2 scale=1 threads=1 CE=1000 CI=250 "
              "n_synapses=15625000 ext_events=250000000 rate_hz=36 rate_E=36 rate_I=36 cv_isi=0.8 "
              "wall_per_bio_s=6 setup_s=1.2 connect_s=1 presim_s=0.6 presim_ms=100 rss_mb=700 rep=0 seed=1 "
              "version=3.10.0\n")
SPIKESIM_W4_SIFAST = ("RESULT tool=spikesim workload=brunel neurons=12500 wall_s=13.0000 steps=10000 "
                      "spikes_in=0 spikes_out=750000 syn_events=937500000 threads=1 setup_s=1.0 "
                      "rss_mb=135 state=SI-fast scale=1 n_synapses=15625000 ext_events=500000000 "
                      "wall_per_bio_s=13 presim_s=1.3 presim_ms=100 seed=1 rate_hz=60 rate_E=60 rate_I=61\n")
ANNARCHY_W2 = ("RESULT tool=annarchy workload=W2 neurons=4000 wall_s=0.0784 steps=2000 spikes_in=0 "
               "spikes_out=4114 syn_events=330287 threads=1 rate_hz=5.142 wall_per_bio_s=0.3918 "
               "syn_ev_per_s=4.215e+06 rep=0 version=5.0.4.1 setup_s=0.9056 build_s=75.71\n")


def rec(tool, workload, n, text, threads=1, rep_base=0, status="ok", message="", expected=None):
    """A runs.jsonl record as compare.execute() writes it."""
    results = compare.parse_output(text)
    return dict(tool=tool, workload=workload, neurons=n, threads=threads, rep_base=rep_base,
                expected=expected or max(len(results), 1), cmd="x", log="/tmp/x.log", results=results,
                rc=0 if status == "ok" else 1, seconds=1.0, status=status, message=message)


@pytest.fixture
def records():
    return [
        rec("limit", "", 0, LIMIT_T1),
        rec("spikesim", "W1", 100, SPIKESIM_W1_100),
        rec("numpy", "W1", 100, NUMPY_W1_100),
        rec("numpy", "W1", 400, NUMPY_W1_400),
        rec("brian2-runtime", "W1", 100, B2RT_W1_100),
        rec("brian2-standalone", "W1", 100, B2SA_W1_100),
        rec("ngclearn", "W1", 100, NGC_W1_100),
        rec("nest", "W1", 100, NEST_W1_100_A, rep_base=0),
        rec("nest", "W1", 100, NEST_W1_100_B, rep_base=1),
        rec("nest", "W1", 100, "", rep_base=2, status="timeout", message="timed out after 60 s (0/1 RESULT lines)"),
        rec("nest", "W1", 400, "Traceback ...\nImportError: no nest", status="failed",
            message="exit 1: ImportError: no nest"),
        rec("brian2-standalone", "W2", 4000, B2SA_W2),
        rec("brian2-runtime", "W2", 4000, B2RT_W2),
        rec("nest", "W2", 4000, NEST_W2),
        rec("spikesim", "W2", 4000, "", status="missing",
            message="missing: target/release/spikesim not found (cargo build --release, or --spikesim PATH)"),
    ]


CFG = dict(workloads=["W1", "W2"], w1_sizes=[100, 400], w2_sizes=[4000], threads=[1, 2], reps=3)


# ---------------------------------------------------------------- parser


def test_parse_peer_line_types():
    d = compare.parse_result_line(B2SA_W2)
    assert d["tool"] == "brian2_standalone" and d["workload"] == "W2"
    assert d["neurons"] == 4000 and isinstance(d["neurons"], int)
    assert d["wall_s"] == 0.0144 and d["steps"] == 200 and d["spikes_out"] == 653
    assert d["syn_events"] == 52351 and d["build_s"] == 21.01
    assert d["syn_ev_per_s"] == pytest.approx(3.626e6)
    assert d["version"] == "2.9.0"  # not a number: stays text


def test_parse_skips_other_output_and_tolerates_prefix():
    lines = compare.parse_output(NEST_W2)
    assert len(lines) == 1 and lines[0]["tool"] == "nest"
    assert compare.parse_result_line("Provided for backward compatibility only.") is None
    assert compare.parse_result_line("RESULT but no keys") is None
    d = compare.parse_result_line("progress 99%RESULT tool=spikesim workload=w1 neurons=5 wall_s=1 "
                                  "steps=10 spikes_in=1 spikes_out=2 syn_events=3 threads=2 junk")
    assert d["tool"] == "spikesim" and d["workload"] == "W1" and d["threads"] == 2 and "junk" not in d


def test_parse_limit_lines():
    ds = compare.parse_output(LIMIT_T1)
    assert [d["kernel"] for d in ds] == ["stream_triad"] + ["rowadd"] * 4 + ["scatter"]
    assert ds[0]["bytes_per_s"] == pytest.approx(1.9065e10)
    assert ds[1]["neurons"] == 100 and ds[1]["events_per_s"] == pytest.approx(5.9987e9)


# ---------------------------------------------------------------- rows and derived columns


@pytest.mark.parametrize("text", [NUMPY_W1_100, NUMPY_W1_400, B2RT_W1_100, B2SA_W1_100, NGC_W1_100,
                                  NEST_W1_100_A, B2SA_W2, B2RT_W2, NEST_W2])
def test_derived_rate_matches_the_peers_own(text):
    """rate_hz = spikes_out / (N * steps * dt) with dt 1 ms (W1) / 0.1 ms (W2) reproduces
    the rate_hz each peer printed itself."""
    for d in compare.parse_output(text):
        row = compare.result_row(d)
        assert row["rate_hz"] == pytest.approx(d["rate_hz"], rel=2e-3)
        if "wall_per_bio_s" in d:  # the W2 peers print it too (from the unrounded wall time)
            assert row["wall_per_bio_s"] == pytest.approx(d["wall_per_bio_s"], rel=5e-3)


def test_result_row_values():
    row = compare.result_row(compare.parse_result_line(B2SA_W2))
    assert row["dt_ms"] == 0.1 and row["bio_s"] == pytest.approx(0.02)
    assert row["rate_hz"] == pytest.approx(653 / (4000 * 0.02))
    assert row["wall_per_bio_s"] == pytest.approx(0.0144 / 0.02)
    assert row["build_s"] == 21.01 and row["setup_s"] == "" and row["compile_s"] == ""
    # NEST W2 at N >= 64k runs 2000 steps: per biological second it is wall / 0.2 s
    d = compare.parse_result_line(NEST_W2.splitlines()[-1].replace("steps=200", "steps=2000")
                                  .replace("neurons=4000", "neurons=64000").replace("wall_s=0.0235", "wall_s=1.5000"))
    assert compare.result_row(d)["wall_per_bio_s"] == pytest.approx(7.5)


def test_rows_number_nest_w1_reps_by_process(records):
    rows, limits = compare.rows_and_limits(records)
    nest = [r for r in rows if r["tool"] == "nest" and r["workload"] == "W1"]
    assert [r["rep"] for r in nest] == [0, 1]
    assert len(limits) == 6
    numpy = [r["rep"] for r in rows if r["tool"] == "numpy" and r["neurons"] == 100]
    assert numpy == [0, 1, 2]
    # the spikesim lines carry their thread count
    assert sorted(r["threads"] for r in rows if r["tool"] == "spikesim") == [1, 2]


def test_aggregate_median_and_spread(records):
    rows, _ = compare.rows_and_limits(records)
    agg = compare.aggregate(rows)
    a = agg[("W1", 100, "numpy", 1)]
    assert a["n"] == 3
    assert (a["wall_med"], a["wall_min"], a["wall_max"]) == (0.0201, 0.0169, 0.0225)
    assert a["bio_med"] == pytest.approx(0.0402) and a["bio_min"] == pytest.approx(0.0338)
    assert a["bio_max"] == pytest.approx(0.045)
    nest = agg[("W1", 100, "nest", 1)]
    assert nest["n"] == 2 and nest["wall_med"] == pytest.approx((0.1069 + 0.1112) / 2)
    assert agg[("W1", 100, "ngclearn", 1)]["compile_s"] == 2.302
    assert agg[("W2", 4000, "nest", 1)]["rate_hz"] == pytest.approx(8.45)


# ---------------------------------------------------------------- comparison and limit


def test_limit_table_keeps_the_best_repeat():
    slower = LIMIT_T1.replace("events_per_s=5.9987e+09", "events_per_s=4.0e+09")
    lim = compare.limit_table([d for d in compare.parse_output(LIMIT_T1 + slower)])
    assert lim[("rowadd", 100, 1)] == pytest.approx(5.9987e9)
    assert lim[("stream_triad", 1)] == pytest.approx(1.9065e10)
    assert lim[("scatter", 1)] == pytest.approx(5.024e8)


def test_comparison_w1(records):
    rows, limits = compare.rows_and_limits(records)
    agg = compare.aggregate(rows)
    c = compare.comparison("W1", 100, agg, compare.limit_table(limits))
    # fastest peer: Brian2 standalone 0.0139 s for 0.5 s of biological time
    assert c["peer"] == ("brian2_standalone", 1) and c["peer_bio"] == pytest.approx(0.0278)
    assert c["spikesim"] == ("spikesim", 1) and c["spikesim_bio"] == pytest.approx(0.02)
    assert c["peer_over_spikesim"] == pytest.approx(0.0278 / 0.02)
    # limit: median synaptic events per bio-s over the seven (tool, threads) configurations
    # / the row-add rate at N=100
    syn = sorted([3763100 / 0.5] * 4 + [3769900 / 0.5] * 2 + [3779700 / 0.5])
    per_bio = syn[3] / 5.9987e9
    assert c["limit"]["per_bio_s"] == pytest.approx(per_bio)
    assert c["limit"]["kernel"] == "row-add" and c["limit"]["threads"] == 1
    assert c["spikesim_over_limit"] == pytest.approx(0.02 / per_bio)
    assert c["rates"]["numpy"] == pytest.approx(18.28) and c["rates"]["spikesim"] == pytest.approx(18.0)


def test_comparison_w2_without_spikesim(records):
    rows, limits = compare.rows_and_limits(records)
    agg = compare.aggregate(rows)
    c = compare.comparison("W2", 4000, agg, compare.limit_table(limits))
    assert c["peer"] == ("brian2_standalone", 1) and c["peer_bio"] == pytest.approx(0.72)
    assert c["spikesim"] is None and c["peer_over_spikesim"] is None and c["spikesim_over_limit"] is None
    # scatter limit: median of (52351, 52351, 54080) events per 0.02 s / 5.024e8 events/s
    assert c["limit"]["per_bio_s"] == pytest.approx(52351 / 0.02 / 5.024e8)
    assert c["limit"]["kernel"] == "scatter"


def test_limit_w1_without_runs_uses_75_spikes_per_step():
    lim = compare.limit_table(compare.parse_output(LIMIT_T1))
    est = compare.limit_estimate("W1", 1600, {}, lim)
    assert est["per_bio_s"] == pytest.approx(75 * 1600 * 1000 / 8.0105e9)
    assert compare.limit_estimate("W1", 3200, {}, lim) is None  # N not measured by limit.c
    assert compare.limit_estimate("W2", 4000, {}, lim) is None  # no runs: no event count


# ---------------------------------------------------------------- outputs


def test_summary_reports_numbers_failures_and_missing(records):
    md = compare.summary_markdown(records, CFG, dict(command="compare.py --quick"))
    lines = md.splitlines()
    # W1 N=100 comparison row: brian2_standalone is the fastest peer, ratio 1.39 over spikesim
    row = next(ln for ln in lines if ln.startswith("| 100 | brian2_standalone T=1 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[3] == "spikesim T=1" and cells[4] == "0.02"
    assert cells[5] == "1.39"
    assert cells[6] == "0.00125 (row-add, T=1)"
    assert cells[7] == "15.94"
    assert "numpy 18.3" in cells[8] and "nest 17.9" in cells[8]
    # per-configuration table: numpy median and spread
    numpy = next(ln for ln in lines if ln.startswith("| 100 | numpy | 1 | 3 |"))
    assert "| 0.0201 | 0.0169–0.0225 | 500 | 0.0402 | 0.0338–0.045 | 18.3 |" in numpy
    # the nest rep that timed out is flagged on its configuration's row
    nest = next(ln for ln in lines if ln.startswith("| 100 | nest | 1 | 2 |"))
    assert "timeout: timed out after 60 s" in nest
    # a configuration with no result at all still has a row
    assert any(ln.startswith("| 400 | nest | 1 | 0 |") and "**failed**: exit 1: ImportError" in ln for ln in lines)
    assert any(ln.startswith("| 4000 | spikesim | 1 | 0 |") and "**missing**" in ln for ln in lines)
    w2 = next(ln for ln in lines if ln.startswith("| 4000 | brian2_standalone T=1 |"))
    assert "— (missing)" in w2
    # limits and the failure list
    assert "| STREAM triad | — | 1 | 19.07 GB/s | — |" in md
    assert "| row-add | 100 | 1 | 6e+09 events/s | 1.25 µs |" in md
    failures = md.split("## Runs that failed")[1]
    assert failures.count("\n| nest |") == 2 and "| spikesim | W2 | 4000 | 1 | missing |" in failures


def test_csv_files(records, tmp_path):
    compare.write_outputs(tmp_path, records, CFG, {}, with_plot=False)
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert len(rows) == 3 + 2 + 1 + 1 + 1 + 2 + 2 + 3  # one per RESULT line of a simulator
    assert list(rows[0]) == compare.CSV_FIELDS
    b2 = next(r for r in rows if r["tool"] == "brian2_standalone" and r["workload"] == "W2")
    assert float(b2["rate_hz"]) == pytest.approx(8.1625)
    assert float(b2["wall_per_bio_s"]) == pytest.approx(0.72)
    assert b2["build_s"] == "21.01" and b2["setup_s"] == ""
    assert float(b2["syn_events_per_s"]) == pytest.approx(52351 / 0.0144, rel=1e-5)
    limits = list(csv.DictReader(open(tmp_path / "limits.csv")))
    assert [r["kernel"] for r in limits][:2] == ["stream_triad", "rowadd"]


def test_plot_data_and_png(records, tmp_path):
    rows, limits = compare.rows_and_limits(records)
    data = compare.plot_data(rows, limits)
    assert set(data) == {"W1", "W2"}
    np_series = data["W1"]["numpy T=1"]
    assert np_series["N"] == [100, 400]
    assert np_series["median"] == pytest.approx([0.0402, (0.0461 + 0.0411) / 2 / 0.5])
    assert np_series["lo"] == pytest.approx([0.0338, 0.0822])
    assert np_series["hi"] == pytest.approx([0.045, 0.0922])
    assert data["W1"]["spikesim T=2"]["median"] == pytest.approx([0.024])
    assert data["W1"]["limit"]["N"] == [100, 400]
    assert set(data["W2"]) == {"brian2_standalone T=1", "brian2_runtime T=1", "nest T=1", "limit"}
    fig = compare.plot(rows, limits, tmp_path / "scaling.png", ["W1", "W2"])
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    line = next(ln for ln in ax.get_lines() if ln.get_gid() == "numpy T=1")
    assert list(line.get_xdata()) == [100, 400]
    assert list(line.get_ydata()) == pytest.approx(np_series["median"])


# ---------------------------------------------------------------- planning


def test_commands_follow_the_peers_sweep(tmp_path):
    paths = dict(spikesim="/b/spikesim", peers_python="/v/bin/python", peers_dir="/p", limit="/l")
    argv, n, per_proc = compare.sim_command("nest", "W2", 64000, 2, 3, 20, 10000, paths)
    assert argv[argv.index("--steps") + 1] == "2000" and argv.count("--steps") == 1 and n == 3
    argv, _, _ = compare.sim_command("nest", "W2", 16000, 1, 3, 20, 10000, paths)
    assert argv[argv.index("--steps") + 1] == "10000"
    argv, n, per_proc = compare.sim_command("nest", "W1", 1600, 1, 3, 20, 10000, paths)
    assert per_proc and n == 1 and "--reps" not in argv
    argv, _, _ = compare.sim_command("spikesim", "W1", 1600, 2, 3, 20, 10000, paths)
    assert argv == ["/b/spikesim", "bench", "w1", "--neurons", "1600", "--threads", "2", "--reps", "3",
                    "--images", "20", "--seed", "1"]
    argv, _, _ = compare.sim_command("brian2-runtime", "W2", 4000, 1, 3, 20, 10000, paths)
    assert argv[:4] == ["/v/bin/python", "/p/brian2_w2.py", "--mode", "runtime"] and "--threads" not in argv
    cfg = dict(workloads=["W1", "W2"], tools=compare.ALL_TOOLS, w1_sizes=[100], w2_sizes=[4000],
               threads=[1, 2], reps=3, images=20, steps=10000, seed=1, quick=False, limit=True, limit_reps=1)
    runs = compare.plan(cfg, paths, {})
    key = [(r.tool, r.workload, r.threads) for r in runs]
    assert key.count(("brian2-runtime", "W1", 1)) == 1 and ("brian2-runtime", "W1", 2) not in key
    assert key.count(("nest", "W1", 2)) == 3  # one process per rep
    assert not any(r.tool in ("numpy", "ngclearn") and r.workload == "W2" for r in runs)
    assert [r.threads for r in runs if r.tool == "limit"] == [1, 2]


# ---------------------------------------------------------------- end to end with stand-ins


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_peers(tmp_path):
    """A peers folder and a 'venv' whose python prints canned RESULT lines per script."""
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "common.py").write_text("")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    _script(venv / "bin" / "python", f"""\
case "$(basename "$1")" in
  numpy_w1.py) d=$(mktemp -d); echo "made $d"; printf '%s' '{NUMPY_W1_100}' ;;
  nest_w1.py) echo 'NEST banner'; printf '%s' '{NEST_W1_100_A}' ;;
  brian2_w1.py) echo 'ModuleNotFoundError: No module named brian2' >&2; exit 1 ;;
  ngclearn_w1.py) sleep 30 ;;
esac
""")
    limit = _script(tmp_path / "limit", f"printf '%s' '{LIMIT_T1}'\n")
    return dict(peers=peers, venv=venv, limit=limit)


def _run_main(tmp_path, fake_peers, *extra):
    out = tmp_path / "out"
    argv = ["--workloads", "w1", "--w1-sizes", "100", "--threads", "1", "--reps", "3",
            "--out", str(out), "--peers-venv", str(fake_peers["venv"]), "--peers-dir", str(fake_peers["peers"]),
            "--limit", str(fake_peers["limit"]), "--limit-reps", "1", *extra]
    assert compare.main(argv) == 0
    return out


def test_main_end_to_end_with_missing_spikesim(tmp_path, fake_peers, capsys):
    out = _run_main(tmp_path, fake_peers, "--tools", "spikesim,numpy,brian2-standalone,nest,ngclearn",
                    "--timeout", "2", "--spikesim", str(tmp_path / "nope"))
    err = capsys.readouterr().err
    assert "spikesim: missing" in err
    md = (out / "summary.md").read_text()
    assert "| 100 | spikesim | 1 | 0 |" in md and "**missing**" in md
    assert "**failed**: exit 1: ModuleNotFoundError: No module named brian2" in md
    assert "**timeout**: timed out after 2 s" in md
    assert "| 100 | numpy | 1 | 3 |" in md and "| 100 | nest | 1 | 3 |" in md
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert [r["tool"] for r in rows] == ["numpy"] * 3 + ["nest"] * 3
    assert [r["rep"] for r in rows if r["tool"] == "nest"] == ["0", "1", "2"]
    assert (out / "scaling.png").exists()
    # each process had its own TMPDIR under OUT/work, removed after the run
    log = next((out / "logs").glob("*-numpy-*")).read_text()
    made = Path(log.split("made ")[1].split()[0])
    assert made.is_relative_to(out / "work") and not made.exists()
    recs = [json.loads(ln) for ln in (out / "runs.jsonl").read_text().splitlines()]
    assert recs[0]["kind"] == "header"
    status = [(r["tool"], r["status"]) for r in recs[1:]]
    assert status[0] == ("limit", "ok") and ("spikesim", "missing") in status
    assert ("ngclearn", "timeout") in status and ("brian2-standalone", "failed") in status
    # --report-only rebuilds the same summary from runs.jsonl
    before = md
    (out / "summary.md").unlink()
    assert compare.main(["--report-only", "--out", str(out)]) == 0
    assert (out / "summary.md").read_text() == before


def test_spikesim_without_bench_command(tmp_path, fake_peers):
    fake = _script(tmp_path / "spikesim", """\
if [ "$1" = bench ]; then echo "error: unrecognized subcommand 'bench'" >&2; exit 2; fi
""")
    out = _run_main(tmp_path, fake_peers, "--tools", "spikesim,numpy", "--no-limit", "--spikesim", str(fake))
    md = (out / "summary.md").read_text()
    assert "**unavailable**: unavailable: `spikesim bench` failed (error: unrecognized subcommand 'bench')" in md


def test_spikesim_lines_are_read(tmp_path, fake_peers):
    fake = _script(tmp_path / "spikesim", f"""\
if [ "$1" = bench ] && [ "$2" = --help ]; then echo usage; exit 0; fi
printf '%s' '{SPIKESIM_W1_100.splitlines()[0]}
{SPIKESIM_W1_100.splitlines()[0].replace("0.0100", "0.0110")}
{SPIKESIM_W1_100.splitlines()[0].replace("0.0100", "0.0090")}
'
""")
    out = _run_main(tmp_path, fake_peers, "--tools", "spikesim,numpy", "--spikesim", str(fake))
    md = (out / "summary.md").read_text()
    row = next(ln for ln in md.splitlines() if ln.startswith("| 100 | numpy T=1 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[3] == "spikesim T=1" and cells[4] == "0.02"
    assert cells[5] == f"{0.0402 / 0.02:.2f}"
    assert not math.isnan(float(cells[7]))


def test_spikesim_not_requested_is_still_reported(tmp_path, fake_peers):
    """The quick peer run (--tools without spikesim) says where spikesim stands."""
    fake = _script(tmp_path / "spikesim", """\
if [ "$1" = bench ]; then echo "error: unrecognized subcommand 'bench'" >&2; exit 2; fi
""")
    out = _run_main(tmp_path, fake_peers, "--tools", "numpy", "--spikesim", str(fake))
    md = (out / "summary.md").read_text()
    tools = next(ln for ln in md.splitlines() if ln.startswith("Tools: "))
    assert ("spikesim not requested (unavailable: `spikesim bench` failed "
            "(error: unrecognized subcommand 'bench'))") in tools
    assert "numpy ok" in tools and "limit ok" in tools and "nest not requested;" in tools
    row = next(ln for ln in md.splitlines() if ln.startswith("| 100 | numpy T=1 |"))
    assert "| — (not requested) |" in row


# ---------------------------------------------------------------- W3, W4 and ANNarchy


def test_parse_microcircuit_and_brunel_lines():
    d = compare.parse_result_line(NEST_W3)
    assert d["workload"] == "W3" and d["scale"] == 0.1 and d["rate_L23E"] == 0.97
    d = compare.parse_result_line(SPIKESIM_W4_SIFAST)
    assert d["workload"] == "W4" and d["state"] == "SI-fast" and d["threads"] == 1
    d = compare.parse_result_line(ANNARCHY_W2)
    assert d["tool"] == "annarchy" and d["build_s"] == 75.71 and d["version"] == "5.0.4.1"


@pytest.mark.parametrize("text", [NEST_W3, SPIKESIM_W3, NEST_W4_AI, SPIKESIM_W4_SIFAST, ANNARCHY_W2])
def test_w3_w4_rows_match_the_printed_rates(text):
    d = compare.parse_result_line(text)
    row = compare.result_row(d)
    assert row["dt_ms"] == 0.1 and row["bio_s"] == pytest.approx(d["steps"] * 1e-4)
    assert row["rate_hz"] == pytest.approx(d["rate_hz"], rel=2e-2)
    assert row["wall_per_bio_s"] == pytest.approx(d["wall_per_bio_s"], rel=5e-3)
    assert row["scale"] == (0.1 if d["workload"] == "W3" else "")
    assert row["state"] == (d["state"] if d["workload"] == "W4" else "")


@pytest.fixture
def mc_records():
    return [
        rec("nest", "W3", 0.1, NEST_W3),
        rec("spikesim", "W3", 0.1, SPIKESIM_W3, threads=2),
        rec("nest", "W3", 0.25, "", status="failed", message="exit 1: killed"),
        rec("nest", "W4", "AI", NEST_W4_AI),
        rec("spikesim", "W4", "SI-fast", SPIKESIM_W4_SIFAST),
        rec("annarchy", "W2", 4000, ANNARCHY_W2),
    ]


MC_CFG = dict(workloads=["W2", "W3", "W4"], w2_sizes=[4000], w3_scales=[0.1, 0.25], w4_states=["AI", "SI-fast"],
              threads=[1, 2], reps=1)


def test_w3_w4_aggregate_on_scale_and_state(mc_records):
    rows, _ = compare.rows_and_limits(mc_records)
    agg = compare.aggregate(rows)
    assert set(agg) == {("W3", 0.1, "nest", 1), ("W3", 0.1, "spikesim", 2), ("W4", "AI", "nest", 1),
                        ("W4", "SI-fast", "spikesim", 1), ("W2", 4000, "annarchy", 1)}
    assert agg[("W3", 0.1, "nest", 1)]["neurons"] == [7717]
    c = compare.comparison("W3", 0.1, agg, {})
    assert c["peer"] == ("nest", 1) and c["spikesim"] == ("spikesim", 2)
    assert c["peer_over_spikesim"] == pytest.approx(2.0)
    assert compare.comparison("W2", 4000, agg, {})["peer"] == ("annarchy", 1)


def test_w3_w4_summary_and_plot(mc_records, tmp_path):
    md = compare.summary_markdown(mc_records, MC_CFG, {})
    lines = md.splitlines()
    assert "## W3 microcircuit (Potjans & Diesmann, N = K scaling, dt 0.1 ms)" in md
    assert "| scale (N) | tool | threads |" in md and "| state | tool | threads |" in md
    assert any(ln.startswith("| 0.1 (7717) | spikesim | 2 | 1 | 2.1 |") for ln in lines)
    assert any(ln.startswith("| 0.25 | nest | 1 | 0 |") and "**failed**" in ln for ln in lines)
    row = next(ln for ln in lines if ln.startswith("| 0.1 (7717) | nest T=1 |"))
    assert "| spikesim T=2 | 2.1 | 2.00 |" in row
    assert any(ln.startswith("| AI | nest | 1 | 1 | 6 |") for ln in lines)
    # W4's states in nest_brunel.py's order, the requested one without runs included
    w4 = md.split("## W4")[1]
    assert w4.index("| AI | nest T=1 |") < w4.index("| SI-fast | — |")
    rows, limits = compare.rows_and_limits(mc_records)
    data = compare.plot_data(rows, limits)
    assert data["W3"]["nest T=1"]["N"] == [0.1] and data["W4"]["nest T=1"]["N"] == ["AI"]
    fig = compare.plot(rows, limits, tmp_path / "scaling.png", ["W2", "W3", "W4"])
    w3, w4 = fig.axes[1], fig.axes[2]
    assert w3.get_xscale() == "log" and w4.get_xscale() == "linear"
    assert [t.get_text() for t in w4.get_xticklabels()] == ["AI", "SI-fast"]
    line = next(ln for ln in w4.get_lines() if ln.get_gid() == "spikesim T=1")
    assert list(line.get_xdata()) == [1]


def test_w3_w4_and_annarchy_commands():
    paths = dict(spikesim="/b/spikesim", peers_python="/v/bin/python", peers_dir="/p", limit="/l")
    argv, n, per_proc = compare.sim_command("spikesim", "W3", 0.25, 2, 3, 20, 10000, paths)
    assert argv == ["/b/spikesim", "bench", "w3", "--scale", "0.25", "--threads", "2", "--reps", "3",
                    "--seed", "1"] and n == 3 and not per_proc
    argv, _, _ = compare.sim_command("nest", "W3", 0.1, 1, 1, 20, 10000, paths)
    assert argv == ["/v/bin/python", "/p/nest_microcircuit.py", "--scale", "0.1", "--threads", "1",
                    "--reps", "1", "--seed", "1", "--quiet"]
    argv, _, _ = compare.sim_command("spikesim", "W4", "SI-slow", 1, 1, 20, 10000, paths)
    assert argv[:5] == ["/b/spikesim", "bench", "w4", "--state", "SI-slow"]
    argv, _, _ = compare.sim_command("nest", "W4", "AI", 2, 1, 20, 10000, paths)
    assert argv[1] == "/p/nest_brunel.py" and argv[argv.index("--state") + 1] == "AI"
    argv, n, _ = compare.sim_command("annarchy", "W2", 64000, 2, 3, 20, 10000, paths)
    assert argv[:2] == ["/v/bin/python", str(compare.ANNARCHY_W2)] and n == 3
    assert argv[argv.index("--steps") + 1] == "10000" and argv[argv.index("--neurons") + 1] == "64000"
    cfg = dict(workloads=["W2", "W3", "W4"], tools=compare.ALL_TOOLS, w2_sizes=[4000], w3_scales=[0.1, 0.25],
               w4_states=["AI"], threads=[1, 2], reps=1, images=20, steps=10000, seed=1, quick=False,
               limit=False, limit_reps=1)
    runs = compare.plan(cfg, paths, {})
    key = [(r.tool, r.workload, r.neurons, r.threads) for r in runs]
    assert [k for k in key if k[1] == "W3"] == [(t, "W3", s, th) for s in (0.1, 0.25) for th in (1, 2)
                                                for t in ("spikesim", "nest")]
    assert [k for k in key if k[1] == "W4"] == [(t, "W4", "AI", th) for th in (1, 2) for t in ("spikesim", "nest")]
    assert ("annarchy", "W2", 4000, 2) in key and not any(k[0] == "annarchy" and k[1] != "W2" for k in key)
    assert all(r.env["PEERS_DIR"] == "/p" for r in runs)


def test_w3_w4_options():
    args = compare.build_parser().parse_args(["--quick", "--workloads", "w3,w4"])
    cfg = compare.config(args)
    assert cfg["workloads"] == ["W3", "W4"] and cfg["w3_scales"] == [0.1] and cfg["w4_states"] == ["AI"]
    cfg = compare.config(compare.build_parser().parse_args(["--w4-states", "si-fast,AI,sr"]))
    assert cfg["w4_states"] == ["SI-fast", "AI", "SR"] and cfg["w3_scales"] == [0.1, 0.25, 0.5, 1.0]
    with pytest.raises(SystemExit):
        compare.config(compare.build_parser().parse_args(["--w4-states", "XY"]))
    with pytest.raises(SystemExit):
        compare.config(compare.build_parser().parse_args(["--w3-scales", "0,0.5"]))


def test_annarchy_needs_its_package_in_the_venv(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    peers = tmp_path / "peers"
    peers.mkdir()
    (peers / "common.py").write_text("")
    paths = dict(spikesim="/b/spikesim", peers_python=venv / "bin" / "python", peers_dir=peers, limit="/l")
    why = compare.availability(paths, ["annarchy", "nest"], probe_spikesim=False)
    assert why["annarchy"].startswith("missing: ANNarchy is not installed") and why["nest"] == ""
    (venv / "lib" / "python3.11" / "site-packages" / "ANNarchy").mkdir(parents=True)
    assert compare.availability(paths, ["annarchy"], probe_spikesim=False)["annarchy"] == ""
