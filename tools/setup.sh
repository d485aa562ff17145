#!/usr/bin/env bash
# Installs what spikesim needs on Debian/Ubuntu when it is missing:
# a C toolchain, pkg-config and the HDF5 library (libhdf5-dev).
# With --python, also hdf5-tools (h5ls, h5dump) and a Python virtual
# environment in .venv with tools/requirements.txt (h5py, numpy, matplotlib,
# libsonata, pytest, maturin) for the Python tools and tests, and the
# `spikesim` Python module (py/) built and installed into it.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        $sudo apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! command -v cc >/dev/null || ! command -v pkg-config >/dev/null || ! pkg-config --exists hdf5; then
    echo "setup: installing build-essential, pkg-config, libhdf5-dev" >&2
    apt_install build-essential pkg-config libhdf5-dev
fi

if [ "${1:-}" = "--python" ]; then
    if ! command -v h5dump >/dev/null || ! command -v h5ls >/dev/null; then
        echo "setup: installing hdf5-tools" >&2
        apt_install hdf5-tools
    fi
    if [ ! -x .venv/bin/python ]; then
        if ! python3 -m venv .venv 2>/dev/null; then
            echo "setup: installing python3-venv" >&2
            apt_install python3 python3-venv
            rm -rf .venv
            python3 -m venv .venv
        fi
    fi
    .venv/bin/python -m pip install -q --disable-pip-version-check -r tools/requirements.txt
    # The `spikesim` Python module (py/): a wheel built by maturin, installed into .venv.
    # `--auditwheel skip`: the wheel links this machine's libhdf5 (a wheel for other
    # machines needs a static HDF5; see py/README.md).
    echo "setup: building the spikesim Python module (py/)" >&2
    rm -rf target/wheels
    .venv/bin/maturin build --quiet --release --manifest-path py/Cargo.toml \
        --auditwheel skip --out target/wheels >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
        target/wheels/spikesim-*.whl
fi
