"""The naive baseline: resolve a spec the way teams do today, with UCloud's official Python SDK.

Like one Terraform `ucloud_images` data source per entry and region: entry after entry, region
after region, page after page (Limit=100, Offset += 100 until TotalCount), with the server-side
filters Terraform pushes down (Zone, ProjectId, ImageType, OsType, ImageId), then the rest of the
entry's filters applied locally. Prints the picks as JSON on stdout:
{"entry": {"region": "uimage-..."}}.

    python bench/naive_baseline.py --url http://127.0.0.1:PORT --entries spec.json
"""

import argparse
import datetime
import json
import logging
import os
import sys

from ucloud.client import Client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import specgen  # noqa: E402

PAGE = 100
QUIET = logging.getLogger("naive-baseline")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


def list_all(uhost, params):
    images, offset = [], 0
    while True:
        resp = uhost.describe_image(dict(params, Limit=PAGE, Offset=offset))
        page = resp.get("ImageSet") or []
        images.extend(page)
        offset += PAGE
        if not page or offset >= resp.get("TotalCount", 0):
            return images


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--entries", required=True, help="JSON written by specgen.py --json-out")
    ap.add_argument("--public-key", default="ucloud-sim-demo-public-key")
    ap.add_argument("--private-key", default="ucloud-sim-demo-private-key")
    args = ap.parse_args()
    with open(args.entries, encoding="utf-8") as f:
        entries = json.load(f)
    today = datetime.datetime.now(datetime.timezone.utc).date()
    picks = {}
    for entry in entries:
        for region in entry["regions"]:
            uhost = Client({"region": region, "base_url": args.url, "public_key": args.public_key,
                            "private_key": args.private_key, "timeout": 30}, logger=QUIET).uhost()
            params = {"Region": region}
            for key, param in (("zone", "Zone"), ("project_id", "ProjectId")):
                if entry.get(key):
                    params[param] = entry[key]
            for key, param in (("image_type", "ImageType"), ("os_type", "OsType"), ("image_id", "ImageId")):
                if key in entry["filters"]:
                    params[param] = entry["filters"][key]
            chosen = specgen.pick(entry, list_all(uhost, params), today)
            picks.setdefault(entry["name"], {})[region] = chosen["ImageId"] if chosen else None
    json.dump(picks, sys.stdout)


if __name__ == "__main__":
    main()
