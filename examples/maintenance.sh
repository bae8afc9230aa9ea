#!/usr/bin/env bash
# The README's maintenance sessions ("Keeping pins current"), reproduced on a machine with no cloud
# access: serve examples/catalog.json with the bundled simulator, start from the committed
# examples/imagelock.lock, then change the catalog while the simulator runs (POST /__sim/catalog)
# the way upstream does over time:
#   1. a newer Ubuntu 22.04 build appears in cn-bj2    -> `imagelock outdated` exits 3
#   2. one pinned image is retired, another deleted     -> `imagelock verify` exits 4
#   3. `imagelock update` cannot move the Windows pin (no other Windows Server 2022 image in hk:
#      exit 4, nothing written); updating the other entries moves web, while the downgrade guard
#      keeps base-ipv6 (24.04 -> a fresh 22.04 build) and rocky (retired 9.3 -> 9.2) until asked
#      with --allow-downgrade; `verify` then names only the Windows pin
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=examples/with-sim.sh
source examples/with-sim.sh

# Changes the served catalog: a JSON list of {"op": "add" | "update" | "remove", ...}.
catalog_edit() {
  curl --silent --show-error --fail-with-body -X POST -H 'Content-Type: application/json' \
    --data "$1" "$endpoint/__sim/catalog" >/dev/null
}

# Runs imagelock in the project, printing the command, its output and a non-zero exit code.
run() {
  echo "\$ imagelock $*"
  local code=0
  (cd "$work" && "$OLDPWD/$bin/imagelock" "$@") || code=$?
  [ "$code" -eq 0 ] || echo "[exit $code]"
  echo
  return 0
}

exec 2>&1
cp examples/imagelock.yaml examples/imagelock.lock "$work/"

echo "# upstream publishes a newer Ubuntu 22.04 build in cn-bj2"
catalog_edit '[{"op": "add", "region": "cn-bj2", "image": {
  "ImageId": "uimage-q7x2m9ka", "ImageName": "Ubuntu 22.04 64位", "OsName": "Ubuntu 22.04 64位",
  "OsType": "Linux", "ImageType": "Base", "State": "Available", "Zone": "",
  "Features": ["NetEnhnced", "NetEnhanced_Ultra", "HotPlug", "CloudInit", "IPv6", "RssdAttachable"],
  "CreateTime": 1767225600, "ImageSize": 20, "MinimalCPU": ""}}]'
run outdated

echo "# upstream retires the pinned Rocky Linux image and deletes the pinned Windows image in hk"
catalog_edit '[{"op": "update", "image_id": "uimage-bkhn0zvc", "fields": {"State": "Unavailable"}},
               {"op": "remove", "image_id": "uimage-vc8gbv5f"}]'
run verify

run update
run update base-ipv6 web rocky
run update rocky --allow-downgrade
run verify
