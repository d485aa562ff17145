"""Shared fixtures: the spikesim binary and runs of the repo's experiments."""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spikesim_bin():
    """The release binary (build it first: cargo build --release), or $SPIKESIM_BIN."""
    path = pathlib.Path(os.environ.get("SPIKESIM_BIN", REPO / "target" / "release" / "spikesim"))
    if not path.exists():
        pytest.fail(f"spikesim binary not found at {path}: run `cargo build --release` or set SPIKESIM_BIN")
    return path


@pytest.fixture(scope="session")
def run_experiment(spikesim_bin, tmp_path_factory):
    """Runs experiments/<name>.toml with extra flags; returns (output path, stdout of inspect)."""

    def run(name, *flags):
        out = tmp_path_factory.mktemp("runs") / f"{name}.h5"
        subprocess.run(
            [spikesim_bin, "run", REPO / "experiments" / f"{name}.toml", "--out", out, *flags],
            check=True,
            cwd=REPO,
            capture_output=True,
        )
        inspect = subprocess.run([spikesim_bin, "inspect", out], check=True, capture_output=True, text=True)
        return out, inspect.stdout

    return run
