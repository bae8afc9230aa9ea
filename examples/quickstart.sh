#!/usr/bin/env bash
# The main job end to end, on a machine with no cloud access: build imagelock and the bundled
# UCloud simulator, serve examples/catalog.json on a free loopback port, lock examples/imagelock.yaml
# through signed HTTP, show the lockfile, and check it equals the committed examples/imagelock.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=examples/with-sim.sh
source examples/with-sim.sh

# One stream, so the commands' human output (stderr) and data (stdout) read in order.
exec 2>&1
cp examples/imagelock.yaml "$work/imagelock.yaml"
echo "\$ imagelock lock    (against the simulator at $endpoint)"
"$bin/imagelock" -f "$work/imagelock.yaml" lock
echo
echo "\$ cat imagelock.lock"
cat "$work/imagelock.lock"
echo
echo "\$ imagelock check && imagelock get web --region hk"
"$bin/imagelock" -f "$work/imagelock.yaml" check
"$bin/imagelock" -f "$work/imagelock.yaml" get web --region hk
echo
if diff -u examples/imagelock.lock "$work/imagelock.lock"; then
  echo "The lockfile is byte for byte the committed examples/imagelock.lock."
else
  echo "The fresh lockfile differs from the committed examples/imagelock.lock (diff above)." >&2
  exit 1
fi
