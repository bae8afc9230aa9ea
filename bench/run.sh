#!/usr/bin/env bash
# imagelock's speed benchmark (see BENCHMARKS.md): builds the release binaries, makes the .venv
# with UCloud's official Python SDK for the naive baseline (crates/ucloud-sim/tests/sdk-venv.sh),
# then runs bench/bench.py, which prints a Markdown report on stdout.
#
#   bench/run.sh                      # all workloads
#   bench/run.sh --runs 3 --skip-scale
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="$(crates/ucloud-sim/tests/sdk-venv.sh)"

if [ ! -x /usr/bin/time ]; then
    echo "note: /usr/bin/time not found (apt-get install time); peak memory comes from wait4 instead" >&2
fi

cargo build --quiet --release -p imagelock -p ucloud-sim
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$PY" bench/bench.py \
    --imagelock "$TARGET_DIR/release/imagelock" \
    --sim "$TARGET_DIR/release/ucloud-sim" \
    --python "$PY" "$@"
