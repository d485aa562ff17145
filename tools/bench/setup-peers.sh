#!/usr/bin/env bash
# Installs the peer simulators used by tools/bench/compare.py, as listed in
# shared/peers/README.md, into their own virtual environment, and compiles the
# machine-limit kernels (shared/peers/limit/limit.c).
#
#   tools/bench/setup-peers.sh            # venv in .venv-peers, limit in target/peers-limit/limit
#   PEERS_VENV=/tmp/pv tools/bench/setup-peers.sh
#   PEERS_DIR=/path/to/peers tools/bench/setup-peers.sh   (default: ../shared/peers beside the repo)
#
# Idempotent: a package that is already installed is not installed again, and
# limit is only recompiled when limit.c is newer than the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
VENV=${PEERS_VENV:-.venv-peers}
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/peers}
LIMIT_OUT=${LIMIT_OUT:-target/peers-limit/limit}

if [ ! -f "$PEERS_DIR/common.py" ]; then
    echo "setup-peers: peer scripts not found in $PEERS_DIR (set PEERS_DIR)" >&2
    exit 1
fi

PY=$VENV/bin/python
if [ ! -x "$PY" ]; then
    echo "setup-peers: creating $VENV" >&2
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip wheel setuptools
fi

pip_install() { "$PY" -m pip install -q --disable-pip-version-check "$@"; }

# Prints the distributions (of those given) that are not installed.
missing() {
    "$PY" - "$@" <<'PYEOF'
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        print(name)
PYEOF
}

# Same order as the peers README: brian2 + cython + numpy, then ngclearn, then NEST; then ANNarchy.
m=$(missing brian2 cython numpy)
if [ -n "$m" ]; then echo "setup-peers: installing brian2 cython numpy" >&2; pip_install brian2 cython numpy; fi
m=$(missing ngclearn)
if [ -n "$m" ]; then echo "setup-peers: installing ngclearn" >&2; pip_install ngclearn; fi
m=$(missing nest-simulator)
if [ -n "$m" ]; then echo "setup-peers: installing nest-simulator" >&2; pip_install nest-simulator; fi
# ANNarchy, for tools/bench/annarchy_w2.py (written against its 5.0 API), which builds each
# network with CMake: PyPI's cmake brings the binary.
m=$(missing annarchy cmake)
if [ -n "$m" ]; then echo "setup-peers: installing annarchy==5.0.4.1 cmake" >&2; pip_install "annarchy==5.0.4.1" cmake; fi
# brian2 2.9.0 fails on numpy 2.4 (ndarray.ptp removed): keep numpy below 2.4.
if ! "$PY" -c 'import sys; from importlib.metadata import version; v = tuple(int(x) for x in version("numpy").split(".")[:2]); sys.exit(0 if v < (2, 4) else 1)'; then
    echo "setup-peers: installing numpy<2.4" >&2
    pip_install "numpy<2.4"
fi
"$PY" - <<'PYEOF'
from importlib.metadata import version
print("setup-peers: " + ", ".join(f"{d} {version(d)}" for d in
      ("brian2", "cython", "numpy", "ngclearn", "jax", "nest-simulator", "annarchy", "cmake")))
PYEOF

SRC=$PEERS_DIR/limit/limit.c
if [ ! -x "$LIMIT_OUT" ] || [ "$SRC" -nt "$LIMIT_OUT" ]; then
    echo "setup-peers: compiling $LIMIT_OUT" >&2
    mkdir -p "$(dirname "$LIMIT_OUT")"
    gcc -O3 -march=native -fopenmp -o "$LIMIT_OUT" "$SRC"
fi
echo "setup-peers: ok ($PY, $LIMIT_OUT)"
