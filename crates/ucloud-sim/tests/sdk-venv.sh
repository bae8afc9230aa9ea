#!/usr/bin/env bash
# Makes sure the virtual environment with UCloud's official Python SDK exists (`.venv` at the
# repository root, or $UCLOUD_SIM_VENV), installing the pinned SDK if needed, and prints the path
# of its python. Shared by the interop test and the benchmark's naive baseline.
set -euo pipefail

SDK_VERSION=0.11.150
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
VENV="${UCLOUD_SIM_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV" >&2
fi
if ! "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('ucloud-sdk-python3') != '$SDK_VERSION')" 2>/dev/null; then
    "$PY" -m pip install --quiet "ucloud-sdk-python3==$SDK_VERSION" >&2
fi
echo "$PY"
