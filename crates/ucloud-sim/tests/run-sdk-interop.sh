#!/usr/bin/env bash
# Runs the Python SDK interoperability test: creates .venv (gitignored) with the pinned
# ucloud-sdk-python3 if needed, builds the ucloud-sim binary, runs sdk_interop.py against it.
set -euo pipefail

SDK_VERSION=0.11.150
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"

VENV="${UCLOUD_SIM_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
fi
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('ucloud-sdk-python3') != '$SDK_VERSION')" 2>/dev/null; then
    "$PY" -m pip install --quiet "ucloud-sdk-python3==$SDK_VERSION"
fi

cargo build --quiet -p ucloud-sim --bin ucloud-sim
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$PY" crates/ucloud-sim/tests/sdk_interop.py --sim "$TARGET_DIR/debug/ucloud-sim" "$@"
