#!/usr/bin/env bash
# The main job end to end, on a machine with no cloud access: build imagelock and the bundled
# UCloud simulator, serve examples/catalog.json on a free loopback port, lock examples/imagelock.yaml
# through signed HTTP, show the lockfile, and check it equals the committed examples/imagelock.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "building imagelock and ucloud-sim (the first build takes a minute or two)..." >&2
cargo build --quiet --workspace --bins
bin=target/debug

work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the simulator picks a free port and says which on its first line.
"$bin/ucloud-sim" serve --catalog examples/catalog.json >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$work/sim.out" 2>/dev/null && break
  sleep 0.05
done
endpoint=$(sed -n 's/^listening on //p' "$work/sim.out" | head -n1)
[ -n "$endpoint" ] || { echo "the simulator did not start:" >&2; cat "$work/sim.err" >&2; exit 1; }

# The simulator's documented demo key pair (ucloud_sim::DEMO_PUBLIC_KEY / DEMO_PRIVATE_KEY).
export UCLOUD_PUBLIC_KEY=ucloud-sim-demo-public-key
export UCLOUD_PRIVATE_KEY=ucloud-sim-demo-private-key
export UCLOUD_BASE_URL=$endpoint

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
