# Sourced by examples/quickstart.sh and examples/maintenance.sh: builds imagelock and the bundled
# UCloud simulator, serves examples/catalog.json on a free loopback port (port 0: the simulator
# says which on its first line), and points imagelock at it with the simulator's demo key pair.
# Sets $bin, $work (a scratch directory removed on exit) and $endpoint.

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
