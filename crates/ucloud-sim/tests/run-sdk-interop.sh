#!/usr/bin/env bash
# Runs the Python SDK interoperability test: creates .venv (gitignored) with the pinned
# ucloud-sdk-python3 if needed, builds the ucloud-sim binary, runs sdk_interop.py against it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
cd "$ROOT"

PY="$(crates/ucloud-sim/tests/sdk-venv.sh)"

cargo build --quiet -p ucloud-sim --bin ucloud-sim
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$PY" crates/ucloud-sim/tests/sdk_interop.py --sim "$TARGET_DIR/debug/ucloud-sim" "$@"
