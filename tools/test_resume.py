"""Resumable runs, file side: a run interrupted by SIGINT, killed by SIGKILL at
a random moment, or stopped by a full disk, then continued with
`spikesim run --resume`, ends with the same datasets, value for value, as a
run that was never interrupted; on 1 and 2 threads. A resume that is not the
same run is refused (exit 2) and leaves the file as it was."""

import random
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import REPO

CONFIG = REPO / "tests" / "data" / "resume.toml"
# 1000 images of 250 ms: 500,000 steps, a few seconds.
SETS = [
    "--set", "stimulus.images=1000",
    "--set", 'record.traces=[{layer="exc", vars=["voltage", "current", "theta"], every=7}]',
    "--set", 'record.weights=[{projection="input_exc", every_samples=100}]',
]
# Root attributes that describe the invocation, not the run's data.
INVOCATION = {"created_utc", "threads", "config_toml", "resume_slot"}


def datasets(f):
    names = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return sorted(n for n in names if not n.startswith("resume/"))


def assert_same_run(path, reference):
    with h5py.File(path, "r") as f, h5py.File(reference, "r") as g:
        assert bool(f.attrs["complete"])
        assert datasets(f) == datasets(g)
        for name in datasets(g):
            a, b = f[name][()], g[name][()]
            assert a.dtype == b.dtype and a.shape == b.shape, name
            assert np.array_equal(a, b), name
        for key in set(g.attrs) - INVOCATION:
            assert np.array_equal(f.attrs[key], g.attrs[key]), key


@pytest.fixture(scope="module")
def reference(spikesim_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "reference.h5"
    subprocess.run([spikesim_bin, "run", CONFIG, "--out", out, *SETS], check=True, cwd=REPO, capture_output=True)
    return out


def start(spikesim_bin, out, *flags):
    return subprocess.Popen(
        [spikesim_bin, "run", CONFIG, "--out", out, *SETS, *flags],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )


def resume(spikesim_bin, path, *flags):
    return subprocess.run([spikesim_bin, "run", "--resume", path, *flags], cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize("threads", [1, 2])
def test_sigint_then_resume_gives_the_same_file(spikesim_bin, reference, tmp_path, threads):
    out = tmp_path / "interrupted.h5"
    proc = start(spikesim_bin, out, "--threads", str(threads))
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    with h5py.File(out, "r") as f:
        stopped = int(f.attrs["steps_done"])
        assert 0 < stopped < 500_000
    done = resume(spikesim_bin, out, "--threads", str(3 - threads))
    assert done.returncode == 0, done.stderr
    assert f"resuming {out} at step {stopped} of 500000" in done.stderr
    assert_same_run(out, reference)


def test_sigkill_at_a_random_moment_then_resume_gives_the_same_file(spikesim_bin, reference, tmp_path):
    seed = random.randrange(1 << 30)
    delay = random.Random(seed).uniform(0.4, 1.5)
    out = tmp_path / "killed.h5"
    proc = start(spikesim_bin, out, "--checkpoint-every", "0.05", "--threads", "2")
    time.sleep(delay)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill at {delay:.2f} s (seed {seed})"
    done = resume(spikesim_bin, out, "--threads", "1")
    assert done.returncode == 0, f"{done.stderr} (kill at {delay:.2f} s, seed {seed})"
    assert_same_run(out, reference)


def test_full_disk_then_resume_gives_the_same_file(spikesim_bin, reference, tmp_path):
    out = tmp_path / "full.h5"
    limit_kib = reference.stat().st_size // 2048
    proc = subprocess.run(
        ["bash", "-c", f'ulimit -f {limit_kib} && exec "$0" "$@"', spikesim_bin, "run", CONFIG, "--out", out,
         *SETS, "--checkpoint-every", "0.05"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert proc.returncode == 1 and "disk full" in proc.stderr, proc.stderr
    done = resume(spikesim_bin, out)
    assert done.returncode == 0, done.stderr
    assert_same_run(out, reference)


def test_a_resume_that_is_not_the_same_run_is_refused(spikesim_bin, reference, tmp_path):
    out = tmp_path / "stopped.h5"
    proc = start(spikesim_bin, out)
    time.sleep(0.5)
    # Not while the run still writes it.
    r = resume(spikesim_bin, out)
    assert r.returncode == 2 and "is open in another process" in r.stderr, r.stderr
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    assert proc.returncode == 130
    before = out.read_bytes()
    cases = [
        (["--set", "layers.exc.tau_v_ms=90"], "was written by another config: `[layers.exc] tau_v_ms = 100.0` in the file, `[layers.exc] tau_v_ms = 90.0` here"),
        ([CONFIG], "was written by another config"),  # the config without SETS
    ]
    for flags, message in cases:
        r = resume(spikesim_bin, out, *flags)
        errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
        assert r.returncode == 2 and len(errors) == 1 and message in errors[0], r.stderr
        assert out.read_bytes() == before
    r = resume(spikesim_bin, reference)
    assert r.returncode == 2 and "is complete; there is nothing to resume" in r.stderr, r.stderr
    none = tmp_path / "none.h5"
    proc = start(spikesim_bin, none, "--checkpoint-every", "0")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    assert proc.returncode == 130
    r = resume(spikesim_bin, none)
    assert r.returncode == 2 and "holds no resume point" in r.stderr, r.stderr


PROTOCOL = REPO / "experiments" / "digits-stdp.toml"
# Three times the default presentation, so that each phase lasts a second or two.
PROTOCOL_SETS = ["--set", "protocol.steps_per_image=1050"]
PHASES = {"train": 1, "assign": 2, "evaluate": 3}


@pytest.fixture(scope="module")
def protocol_reference(spikesim_bin, tmp_path_factory):
    if not (REPO.parent / "shared" / "datasets" / "digits8x8").is_dir():
        pytest.fail("../shared/datasets/digits8x8 is missing beside the clone")
    out = tmp_path_factory.mktemp("protocol") / "reference.h5"
    subprocess.run([spikesim_bin, "run", PROTOCOL, "--out", out, *PROTOCOL_SETS], check=True, cwd=REPO,
                   capture_output=True)
    return out


def point_at(path):
    """(phase, epoch, image) of the file's latest resume point, read without
    the writer's lock; None while there is none (or a flush is half done)."""
    try:
        with h5py.File(path, "r", locking=False) as f:
            return tuple(int(x) for x in f[f"resume/{f.attrs['resume_slot']}/protocol_at"][:])
    except (OSError, KeyError):
        return None


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("phase", ["train", "assign", "evaluate"])
def test_a_protocol_run_stopped_in_any_phase_resumes_to_the_same_file(
        spikesim_bin, protocol_reference, tmp_path, threads, phase):
    out = tmp_path / "stopped.h5"
    proc = subprocess.Popen(
        [spikesim_bin, "run", PROTOCOL, "--out", out, *PROTOCOL_SETS, "--threads", str(threads),
         "--checkpoint-every", "0.1"],
        cwd=REPO, stderr=subprocess.PIPE, text=True,
    )
    # Stop once the run is in the phase (in training: past its 100th image).
    while (at := point_at(out)) is None or at[0] < PHASES[phase] or (phase == "train" and at[2] < 100):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    assert proc.returncode == 130, err
    with h5py.File(out, "r") as f:
        assert f["state/stopped"].attrs["stopped_phase"] == phase
    done = resume(spikesim_bin, out, "--threads", str(3 - threads))
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout
    assert_same_run(out, protocol_reference)
