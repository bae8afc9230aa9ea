#!/usr/bin/env bash
# imagelock's speed benchmark (see BENCHMARKS.md): builds the release binaries, makes the .venv
# with UCloud's official Python SDK for the naive baseline (as crates/ucloud-sim/tests/
# run-sdk-interop.sh does), then runs bench/bench.py, which prints a Markdown report on stdout.
#
#   bench/run.sh                      # all workloads
#   bench/run.sh --runs 3 --skip-scale
set -euo pipefail

SDK_VERSION=0.11.150
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${UCLOUD_SIM_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('ucloud-sdk-python3') != '$SDK_VERSION')" 2>/dev/null; then
    "$PY" -m pip install --quiet "ucloud-sdk-python3==$SDK_VERSION"
fi

if [ ! -x /usr/bin/time ]; then
    echo "note: /usr/bin/time not found (apt-get install time); peak memory comes from wait4 instead" >&2
fi

cargo build --quiet --release -p imagelock -p ucloud-sim
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$PY" bench/bench.py \
    --imagelock "$TARGET_DIR/release/imagelock" \
    --sim "$TARGET_DIR/release/ucloud-sim" \
    --python "$PY" "$@"
